// socp_bridge_int.h: what the two files of the bridge actor share
// (socp_bridge.c: the actor, output, requests over stdio and ZeroMQ, bus
// messages; socp_bridge_methods.c: the JSON-RPC methods and what they
// send). Private to them. Part of socp, a SOCP v1.3 client and server.
#ifndef SOCP_BRIDGE_INT_H
#define SOCP_BRIDGE_INT_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "socp/socp_bridge.h"
#include "socp/socp_client.h"
#include "socp/socp_common.h"
#include "socp/socp_uuid.h"

#define S_PEERS_MAX      4096
#define S_GROUPS_MAX     2048
#define S_HIST_Q_MAX     64
#define S_TEXT_MAX       65536
#define S_FILE_MAX       (256ull << 20)
#define S_OUT_EVENTS_CAP (16u << 20) // stdout: drop notifications beyond this
#define S_OUT_PAUSE      (32u << 20) // stdout: stop reading stdin beyond this
#define S_RBUF           65536       // stdin read size
#define S_DRAIN_MS       30000
#define S_ZMQ_TURN       512 // requests taken per turn
#define S_CHUNKS_TICK    64
#define S_RID_MAX        256

enum { S_SRC_STDIO = 0, S_SRC_ZMQ = 1 };
enum { S_G_SEND = 0, S_G_BROADCAST = 1, S_G_FILE = 2 };

typedef struct {
    uint8_t src;
    bool delim; // REQ peer: an empty delimiter frame precedes the payload
    size_t rid_len;
    uint8_t rid[S_RID_MAX];
    json_t *id; // owned; NULL: a notification (no reply)
} s_origin_t;

typedef socp_client_peer_t s_peer_t;

typedef struct {
    uint64_t first, count, done;
    int failed;
    s_origin_t origin;
    json_t *result; // owned
} s_group_t;

typedef socp_client_outfile_t s_outfile_t;

typedef struct {
    socp_bridge_args_t *args;
    socp_actor_ctx_t *ctx;
    s_peer_t peers[S_PEERS_MAX];
    size_t npeers;
    s_group_t groups[S_GROUPS_MAX];
    size_t ngroups;
    uint64_t next_local;
    socp_client_route_t route; // CLI_SEND numbering and spread over the workers
    uint64_t inflight;         // pieces not yet durable
    uint64_t pending;          // unsent outbox frames (UINT64_MAX: unknown)
    bool link_up;
    char nick[257];
    // history requests answered in order by the store
    s_origin_t hist_q[S_HIST_Q_MAX];
    size_t hist_n;
    json_t *hist_rows;
    // stdio
    char *in;
    size_t in_len;
    bool discarding, eof, in_watched;
    // Bytes read from stdin, not yet taken: lines wait here while the crypto
    // workers have a full window or stdout lags (stdin unread meanwhile).
    char *rbuf;
    size_t rlen, rpos;
    int take_timer; // a one-shot timer that resumes taking lines, or 0
    uint64_t eof_ms;
    int drain_timer;
    socp_client_out_t out; // stdout (non-blocking, buffered)
    bool out_watched;
    // zeromq
    void *router, *xpub;
    void *zap;              // REP at inproc://zeromq.zap.01 with --zmq-curve-clients, or NULL
    uint64_t zap_refused;   // CURVE clients refused: key not on the list
    uint64_t zap_logged_ms; // when a refusal was last logged
    bool json_wire;
    bool router_paused; // not polled while the crypto workers have a full window
    // counters
    uint64_t n_requests, n_errors, n_events, ev_dropped_zmq, ev_dropped_stdio, replies_dropped,
        n_busy;
    s_outfile_t file;
    socp_client_pacer_t pacer; // file frames under the server's rate limit
    uint64_t n_slowdowns;      // rate-limit ERRORs the server sent
} s_bridge_t;

// socp_bridge.c: replies, notifications, the directory.
void socp_bridge_ok(s_bridge_t *self, const s_origin_t *o, json_t *result);
void socp_bridge_fail(s_bridge_t *self, const s_origin_t *o, int code, const char *fmt, ...)
    SOCP_PRINTF(4, 5);
void socp_bridge_event(s_bridge_t *self, const char *method, json_t *params);
void socp_bridge_origin_fini(s_origin_t *o);
json_t *socp_bridge_jtext(const void *data, size_t len);
s_peer_t *socp_bridge_resolve(s_bridge_t *self, const char *who, int *hits_out);

// socp_bridge_methods.c: the methods, and the bus messages that answer them.
void socp_bridge_m_send(s_bridge_t *self, const s_origin_t *o, const char *to, const char *text);
void socp_bridge_m_broadcast(s_bridge_t *self, const s_origin_t *o, const char *text);
void
socp_bridge_m_send_file(s_bridge_t *self, const s_origin_t *o, const char *to, const char *path);
void
socp_bridge_m_history(s_bridge_t *self, const s_origin_t *o, const char *peer, json_int_t limit);
void socp_bridge_m_list(s_bridge_t *self, const s_origin_t *o);

// Adds "label", "fingerprint" and "server" of p to the user object u.
void socp_bridge_user_keys(s_bridge_t *self, const s_peer_t *p, json_t *u);
json_t *socp_bridge_stats_json(s_bridge_t *self);
void socp_bridge_on_accepted(s_bridge_t *self, const socp_msg_cli_accepted_t *a);
void socp_bridge_on_show(s_bridge_t *self, const socp_msg_cli_show_t *s);
void socp_bridge_on_file(s_bridge_t *self, const socp_msg_cli_file_t *f);
void socp_bridge_on_note(s_bridge_t *self, const socp_msg_cli_note_t *n);

#endif
