// socpd_router_int.h: what the two files of the router actor share
// (socpd_router.c: helpers, user connections, bus events;
// socpd_router_mesh.c: server links, introducers, gossip). Private to them.
// Part of socp, a SOCP v1.3 client and server.
#ifndef SOCPD_ROUTER_INT_H
#define SOCPD_ROUTER_INT_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "socp/socp_envelope.h"
#include "socp/socp_rsa.h"
#include "socp/socp_seen.h"
#include "socp/socpd_map.h"
#include "socp/socpd_router.h"
#include "socp/socpd_store.h"

#define S_ADVERT_TTL_MS     (4 * 60 * 1000) // reuse a cached signed advert this long
#define S_SIGN_LOST_MS      10000 // a frame asked of a signer and not back by then is lost
#define S_BACKOFF_MIN_MS    200
#define S_BACKOFF_MAX_MS    30000
#define S_LINK_STABLE_MS    10000  // a link up this long resets its reconnect backoff
#define S_SERVERS_MAX       256    // servers we keep (pinned keys, addresses)
#define S_WELCOME_MAX       64     // entries of one SERVER_WELCOME we look at
#define S_LOGIN_FAILS_ID    5      // failed logins per account name per window
#define S_LOGIN_WINDOW_MS   60000  // ... the window
#define S_LOGIN_FAILS_CONN  3      // failed logins before a connection is closed
#define S_LOGINS_MAX        4096   // names tracked at once (the table is cleared past it)
#define S_ACCOUNT_IDLE_MS   300000 // an account socket may wait this long for its login
#define S_SCRYPT_PER_S      10     // password checks per second, all connections
#define S_REGISTER_PER_MIN  60     // registrations per minute, all connections
#define S_REGISTER_PER_CONN 3      // USER_REGISTER frames one connection may send
#define S_IDLE_WAITING_MAX  64     // silent sockets given --idle-hello-ms at once
#define S_SEEN_CAPACITY     (1u << 18)
#define S_ADD_BATCH_MS      100                // PUBLIC_CHANNEL_ADD batching window
#define S_UNSIGNED_MAX      (1048576u - 2048u) // room for "sig" in a 1 MiB frame
#define S_HELLO_QUEUE_MAX   1024        // hellos waiting for a token, all addresses (ADR 0015)
#define S_HELLO_QUEUE_ADDR  64          // ... from one address
#define S_HELLO_WAIT_MS     10000       // a hello waits this long at most, then TIMEOUT
#define S_HELLO_BACKLOG     (64 * 1024) // bytes a waiting connection may send after its hello
#define S_HELLO_QUEUE_BYTES (32u << 20) // bytes of waiting hellos and backlogs, all together
#define S_HELLO_TICK_MS     20          // waiting hellos are served on this timer ...
#define S_HELLO_WORK_US     8000        // ... with at most this much router time per tick
#define S_ADDRS_MAX         16384       // addresses with a hello budget (idle ones are dropped)
#define S_REPLAY_SWEEP_MAX  4096        // replay records deleted per sweep tick
#define S_REPLAY_MARGIN_MS  1000        // a record outlives its frame's window by this
#define S_EXPIRE_EVERY_MS   3600000     // bindings expiry: a pass every hour
#define S_EXPIRE_SCAN_MAX   2000        // user records looked at per sweep tick

typedef enum { S_PENDING, S_USER, S_SERVER, S_JOINING, S_LINKING } s_kind_t;

#include "socp/socp_tcp.h"
#include "socp/socpd_replay.h"

typedef struct {
    uint64_t id;
    s_kind_t kind;
    char addr[SOCP_TCP_ADDR_MAX]; // peer address, no port (IPv6: its /64): hello budget
    bool hello_queued;            // its USER_HELLO waits for a token (s_self_t.hq)
    bool closing;                 // refused with an ERROR that closes it: ignore what follows
    char peer_id[SOCP_ENVELOPE_ID_MAX + 1]; // user id or server id once identified
    uint64_t opened_ms;
    uint64_t last_rx_ms;
    bool outbound;
    char link[129];
    // Impl14's account profile (socpd_router_account.c)
    bool account;                            // speaks it: frames to it in its shape
    char hello_id[SOCP_ENVELOPE_ID_MAX + 1]; // its USER_HELLO's id, before USER_LOGIN
    uint32_t login_failures;
    uint32_t registrations;
} s_conn_t;

typedef struct {
    char id[SOCP_ENVELOPE_ID_MAX + 1];
    char server_id[SOCP_ENVELOPE_ID_MAX + 1]; // hosting server ("" = us)
    char *pubkey;                             // as the user presented it (relayed as is)
    json_t *meta;                             // object
    uint64_t conn;                            // local users: their connection
    socp_rsa_key_t *key;                      // local users: parsed key (verification)
    char *advert;                             // cached signed USER_ADVERTISE
    uint64_t advert_ms;
    bool advert_pending;        // an advert of it is being signed (one at a time)
    uint64_t advert_pending_ms; // ... since
    socp_buf_t advert_waiters;  // connection ids that get it when it is back
} s_user_t;

typedef struct {
    char id[SOCP_ENVELOPE_ID_MAX + 1];
    char host[256];
    uint16_t port;
    char *pubkey;
    socp_rsa_key_t *key;
    uint64_t conn;        // 0 when not linked
    bool dialing;         // a dial is in flight
    uint64_t retry_at_ms; // next reconnect attempt (0: none planned)
    uint64_t backoff_ms;
    uint64_t up_at_ms; // when the current link came up
    bool link_by_join; // dial it with SERVER_HELLO_JOIN (Impl14 takes no HELLO_LINK)
    bool raw_relay;    // its hello was unsigned (peer A): user frames go to it as
                       // the user sent them, its own form (ADR 0013)
} s_server_t;

typedef struct {
    double tokens;
    uint64_t at_ms;
} s_bucket_t;

// One address's hello budget.
typedef struct {
    s_bucket_t bucket;
    uint32_t queued; // its hellos waiting in s_self_t.hq
} s_addr_t;

// A USER_HELLO waiting for a token, and what its connection sent after it.
typedef struct {
    uint64_t conn;
    uint64_t at_ms;     // when it arrived
    socp_buf_t text;    // the hello
    socp_buf_t backlog; // later frames: u32 length + bytes each
} s_hello_wait_t;

// Failed logins of one account name in the current window.
typedef struct {
    uint64_t window_ms;
    uint32_t failures;
} s_login_t;

typedef struct {
    socp_actor_ctx_t *ctx;
    socpd_router_args_t a;
    char server_id[SOCP_ENVELOPE_ID_MAX + 1];
    socpd_store_t *store;
    socp_seen_t *seen;
    socpd_map_t *conns;         // "conn id" -> s_conn_t
    socpd_map_t *users;         // user id -> s_user_t
    socpd_map_t *servers;       // server id -> s_server_t
    socpd_map_t *logins;        // account name -> s_login_t (failed logins, for the rate limit)
    s_bucket_t scrypt_budget;   // password checks, all connections
    s_bucket_t register_budget; // registrations, all connections
    socpd_replay_t *replay;     // digests of accepted hellos and user frames (ADR 0015)
    int64_t replay_floor_ms;    // the memory was lost: nothing signed before this is taken
    socpd_map_t *addrs;         // address -> s_addr_t (hello budgets)
    s_bucket_t hello_global;    // hello budget, all addresses
    s_hello_wait_t *hq;         // hellos waiting for a token, oldest first
    size_t hq_len;
    size_t hq_bytes;             // their texts and backlogs
    int hello_timer;             // one-shot: serve waiting hellos (0: none armed)
    uint64_t hello_tick_ms;      // start of the current hello work window
    uint64_t hello_spent_us;     // router time spent serving hellos in it
    bool updated_pending;        // a PUBLIC_CHANNEL_UPDATED for newcomers is being signed
    uint64_t updated_pending_ms; // ... since
    socp_buf_t updated_batch;    // ... for these connections
    socp_buf_t updated_next;     // newcomers since: the next one
    uint64_t expire_next_ms;     // next bindings expiry pass
    bool expire_running;         // a pass is under way, in steps
    char expire_cursor[SOCPD_STORE_CURSOR_MAX]; // the last user id it looked at
    uint64_t sweeps;                            // sweep ticks (the replay memory syncs every 4th)
    socp_buf_t buf;
    json_t *pending_adds; // user ids joined since the last PUBLIC_CHANNEL_ADD
    uint64_t seq;         // last SOCPD_SEND order number given (net writes in this order)
    uint64_t rr;          // round-robin worker choice
    size_t intro_next;    // next introducer to try
    bool joined;          // got a SERVER_WELCOME (or no introducer configured)
    uint64_t join_retry_at;
    uint64_t join_backoff;
    // counters
    uint64_t dropped_bad_server_sig;
    uint64_t dropped_replay;
    uint64_t dropped_too_big;
    uint64_t delivered;
    uint64_t hellos_delayed;  // waited for a token
    uint64_t hellos_refused;  // refused: the wait queue was full or too long
    uint64_t replays_refused; // hellos and frames refused by the replay memory
    uint64_t bindings_expired;
} s_self_t;

// Shared between the two files (defined in one, used in the other).
json_t *socpd_router_advert_payload(s_self_t *self, const s_user_t *u);
s_conn_t *socpd_router_conn(s_self_t *self, uint64_t id);
json_t *
socpd_router_deliver_payload(const json_t *orig, const char *sender, const char *to, int64_t ts);
json_t *socpd_router_forward_payload(const socp_envelope_t *env,
                                     const char *recipient,
                                     const char *text,
                                     size_t len);
void socpd_router_dial_server(s_self_t *self, s_server_t *s);
void socpd_router_emit(s_self_t *self,
                       const socp_buf_t *ids,
                       const char *type,
                       const char *to,
                       int64_t ts,
                       json_t *payload,
                       bool close,
                       const char *cache);
void socpd_router_emit_one(s_self_t *self,
                           uint64_t conn,
                           const char *type,
                           const char *to,
                           json_t *payload,
                           bool close);
void socpd_router_error(s_self_t *self,
                        s_conn_t *c,
                        socp_envelope_code_t code,
                        const char *detail,
                        bool close);
void socpd_router_join_backoff(s_self_t *self);
const char *socpd_router_our_key(const s_self_t *self, const char *peer_key);
int socpd_router_der_key(const char *text, char **out);
// The account profile (socpd_router_account.c).
void socpd_router_on_register(s_self_t *self, s_conn_t *c, const socp_envelope_t *env);
bool socpd_router_on_account_hello(s_self_t *self, s_conn_t *c, const socp_envelope_t *env);
void socpd_router_on_login(s_self_t *self, s_conn_t *c, const socp_envelope_t *env);
json_t *socpd_router_account_list(s_self_t *self);
void socpd_router_tell_accounts(s_self_t *self, const s_user_t *u, bool added);
json_t *socpd_router_account_deliver(const json_t *payload);
void socpd_router_join_next(s_self_t *self);
void socpd_router_kick(s_self_t *self, uint64_t conn, uint16_t code, const char *reason);
void socpd_router_link_up(s_self_t *self, s_server_t *s, s_conn_t *c);
void socpd_router_local_conns(s_self_t *self, const char *except_user, socp_buf_t *ids);
void socpd_router_on_server_frame(s_self_t *self,
                                  s_conn_t *c,
                                  const socp_envelope_t *env,
                                  const char *text,
                                  size_t len);
void socpd_router_on_server_hello(s_self_t *self, s_conn_t *c, const socp_envelope_t *env);
void socpd_router_on_server_user_frame(s_self_t *self,
                                       s_conn_t *c,
                                       const socp_envelope_t *env,
                                       const char *text,
                                       size_t len);
void socpd_router_put_conn_id(socp_buf_t *ids, uint64_t id);
void socpd_router_relay(s_self_t *self, const socp_buf_t *ids, const void *text, size_t len);
bool socpd_router_reserved_id(s_self_t *self, const char *id);
// Trust (socpd_router_trust.c, ADR 0015): hello budgets, hello proof, replay memory.
void socpd_router_addr_key(const char *peer, char out[SOCP_TCP_ADDR_MAX]);
bool socpd_router_hello_admit(s_self_t *self, s_conn_t *c, const char *text, size_t len);
void socpd_router_hello_serve(s_self_t *self, s_conn_t *c, const socp_envelope_t *env);
void socpd_router_hello_backlog(s_self_t *self, s_conn_t *c, const char *text, size_t len);
void socpd_router_hello_gone(s_self_t *self, s_conn_t *c);
int socpd_router_hello_proof(s_self_t *self,
                             s_conn_t *c,
                             const socp_envelope_t *env,
                             socp_rsa_key_t *key,
                             bool *proven);
bool socpd_router_frame_fresh(s_self_t *self,
                              s_conn_t *c,
                              const s_user_t *u,
                              const socp_envelope_t *env);
void socpd_router_trust_sweep(s_self_t *self);
void socpd_router_trust_fini(s_self_t *self);
// Defined in socpd_router.c, used by the trust file.
void socpd_router_on_hello(s_self_t *self, s_conn_t *c, const socp_envelope_t *env);
void socpd_router_on_frame(s_self_t *self, uint64_t id, const char *text, size_t len);
void socpd_router_send_advert(s_self_t *self, s_user_t *u, uint64_t conn);
void socpd_router_schedule_retry(s_self_t *self, s_server_t *s);
void socpd_router_server_conns(s_self_t *self, const char *except_server, socp_buf_t *ids);
void socpd_router_server_unlink_users(s_self_t *self, const char *server_id);
void socpd_router_user_free(s_user_t *u);
bool socpd_router_user_accept(s_self_t *self,
                              s_conn_t *c,
                              const char *id,
                              const char *pk,
                              socp_rsa_key_t *key,
                              json_t *meta,
                              bool proven);

#endif
