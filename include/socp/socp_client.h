// socp_client.h: the client's actors (store, crypto pool, net, ui) and the
// constants their messages share. Part of socp, a SOCP v1.3 client and server.
//
// Topology (messages in include/socp/socp_msg.def, ids 200-299):
//
//   ui --CLI_SEND--> cryptoN --CLI_FRAME--> store --(commit)--> CLI_ACCEPTED -> ui
//                                             \--CLI_WIRE--> net --ws--> server
//   net --CLI_SENT--> store (outbox entry marked sent)
//   server --ws--> net --CLI_INBOUND--> cryptoN --CLI_PLAIN--> store --CLI_SHOW--> ui
//   net --CLI_PRESENCE--> store (TOFU pinning) --CLI_PEER--> ui
//   store --CLI_PEER_SIG--> ui   (the content_sig form a contact signs in, ADR 0014)
//   ui --CLI_HOLD--> store (a DM for a user who is not online: kept, sealed)
//   store --CLI_RELEASE--> ui --CLI_SEND(pending)--> cryptoN   (they are online now)
//   net --CLI_CTRL--> crypto0 --CLI_WIRE(seq 0)--> net   (USER_HELLO, HEARTBEAT)
//   net --CLI_SETTING(pub_format)--> store (per server), cryptoN (sender_pub)
//
// RSA work is spread over every crypto worker, so even one conversation
// uses all cores: the ui numbers what it sends (CLI_SEND.order) and net
// numbers what it receives (CLI_INBOUND.order), and the store handles the
// workers' results in those orders (socp_reorder), so messages keep their
// order end to end. File frames the ui sends stay on their conversation's
// worker (socp_client_shard), and every hop is one FIFO PUSH/PULL pair.
//
// Each actor function is started by cmd/socp.c under the supervisor; the
// args structs are borrowed for the actor's lifetime (the crypto key blob is
// consumed: wiped and freed by the worker once imported).
#ifndef SOCP_CLIENT_H
#define SOCP_CLIENT_H

#include "socp/socp_actor.h"
#include "socp/socp_rsa.h"
#include "socp/socp_sig.h"
#include "socp/socp_uuid.h"

#define SOCP_CLIENT_CRYPTO_MAX 16 // crypto workers at most

// What an item is (CLI_SEND / CLI_FRAME / CLI_PLAIN / CLI_SHOW kind).
enum {
    SOCP_CLIENT_KIND_NONE = 0, // CLI_PLAIN of a refused frame: keeps the numbering whole
    SOCP_CLIENT_KIND_DM = 1,
    SOCP_CLIENT_KIND_PUBLIC = 2,
    SOCP_CLIENT_KIND_FILE_START = 3,
    SOCP_CLIENT_KIND_FILE_CHUNK = 4,
    SOCP_CLIENT_KIND_FILE_END = 5,
};

// How far a received item can be trusted (CLI_PLAIN / CLI_SHOW status).
enum {
    SOCP_CLIENT_TRUST_VERIFIED = 0,    // content_sig verified, decrypted with our key
    SOCP_CLIENT_TRUST_UNVERIFIED = 1,  // decrypted, but no form of content_sig verified
    SOCP_CLIENT_TRUST_PLAINTEXT = 2,   // not end-to-end encrypted (v1.2 / plaintext form)
    SOCP_CLIENT_TRUST_UNREADABLE = 3,  // could not be decrypted
    SOCP_CLIENT_TRUST_KEY_CHANGED = 4, // signed with a key other than the pinned one
};

// What became of a DM we sent (CLI_SHOW status of an outgoing item, history).
enum {
    SOCP_CLIENT_OUT_SENT = 0,    // in the outbox, handed to the server
    SOCP_CLIENT_OUT_PENDING = 5, // held: the recipient is not online (CLI_HOLD)
    SOCP_CLIENT_OUT_FAILED = 6,  // held too long, never sent
};

// The content_sig form a contact signs in, learned from their verified
// messages (contact record, CLI_PEER.sig, CLI_SEND.sig): we answer in it.
enum {
    SOCP_CLIENT_SIG_UNKNOWN = 0,
    SOCP_CLIENT_SIG_STRING = 1, // base64url ciphertext string (decisions.md default)
    SOCP_CLIENT_SIG_RAW = 2,    // raw ciphertext bytes (Impl14's client verifies only this)
};

// Wire settings chosen by flags/config (decisions.md, "Interop settings").
typedef struct {
    socp_rsa_pub_format_t pub_format; // how we publish our key (DER default)
    bool pub_auto;            // --pub-format auto: DER, or PEM for a server that presents PEM keys
    socp_sig_emit_t sig_emit; // content_sig form we emit when sig_auto is off
    bool sig_auto;            // --sig-form auto (default): per recipient (socp_client_sig_emit)
    socp_rsa_salt_t salt;     // PSS salt when signing (max default)
    bool payload_to; // --account (Impl14 routes on the payload): payload.to in MSG_DIRECT and
                     // FILE_*, payload.sender in MSG_DIRECT, besides the envelope's from / to
} socp_client_wire_t;

// The crypto worker's arguments.
typedef struct {
    uint8_t *key_der;        // PKCS#8 DER in sodium_malloc memory; the worker wipes and frees it
    size_t key_der_len;      // its length
    const char *user_id;     // our user id
    socp_client_wire_t wire; // interop settings
} socp_client_crypto_args_t;

// The store actor's arguments.
typedef struct {
    const char *data_dir; // the data directory (db/ and downloads/ inside)
    size_t map_size;      // LMDB map size in bytes (0: 1 GiB)
    // 32 bytes that seal the history at rest (socp_client_history_key), read
    // during start (the caller wipes them after); NULL: not sealed.
    const uint8_t *history_key;
    // The server ("host:port"): settings that belong to it (pub_format) are
    // kept per server. NULL: one for all.
    const char *server;
    uint64_t file_idle_ms; // an incoming file with no data this long is dropped (0: 60000)
    uint64_t hold_ms;      // a DM held for an offline user expires after this (0: 7 days)
} socp_client_store_args_t;

// The net actor's arguments.
typedef struct {
    const char *host;         // server host (from the configured URL)
    uint16_t port;            // server port
    const char *user_id;      // our id
    const char *pubkey;       // our public key as published
    const char *pubkey_pem;   // our key as b64url(PEM), for pub_auto (NULL: none)
    bool pub_auto;            // --pub-format auto: switch to pubkey_pem for a PEM server
    const char *display_name; // initial display name ("" for none)
    unsigned crypto_workers;  // number of crypto workers
    uint64_t heartbeat_ms;    // HEARTBEAT interval (15000)
    uint64_t dead_ms;         // silence after which the link is dead (45000)
    uint64_t backoff_max_ms;  // reconnect backoff ceiling (30000)
    // --account (socp_client_account.h): on every connection, USER_HELLO and
    // USER_LOGIN as Impl14 takes them; the link is up once USER_LOGGED_IN and
    // the user list are in. NULL: the ordinary signed USER_HELLO.
    const char *account;      // the account name (= user_id)
    const char *account_pass; // its password (sodium memory, borrowed)
    size_t account_pass_len;  // its length
} socp_client_net_args_t;

// The ui actor's arguments.
typedef struct {
    const char *user_id;      // our id
    const char *data_dir;     // for /whoami
    const char *server_url;   // for /whoami and the banner
    const char *fingerprint;  // our key fingerprint (hex) for /whoami
    const char *display_name; // --name: saved as the nick at start (NULL: keep)
    unsigned file_rate;       // file frames per second at most (0: unlimited)
    unsigned crypto_workers;  // number of crypto workers
    bool interactive;         // stdin is a terminal: raw-mode line editor
    int in_fd;                // input fd (stdin)
    int out_fd;               // output fd (stdout)
    const char *hold_text;    // how long a DM for an offline user is held ("7 days")
} socp_client_ui_args_t;

int socp_client_store_actor(socp_actor_ctx_t *ctx, void *args);
int socp_client_crypto_actor(socp_actor_ctx_t *ctx, void *args);
int socp_client_net_actor(socp_actor_ctx_t *ctx, void *args);
int socp_client_ui_actor(socp_actor_ctx_t *ctx, void *args);

// The crypto worker for a conversation: a stable hash of `conv` modulo
// `workers`. Writes its actor name ("crypto<N>") into name.
unsigned socp_client_shard(const char *conv, unsigned workers, char name[SOCP_ACTOR_NAME_MAX + 1]);

// How a front end (ui, bridge) spreads its CLI_SENDs over the crypto
// workers. DM and public pieces go to the worker with the fewest items in
// flight (ties rotate), so a worker on a slower or busier core gets less;
// file frames stay on their conversation's worker. The store restores the
// order by CLI_SEND.order. A worker answers every CLI_SEND with CLI_DONE
// (to "ui"), which the front end passes to socp_client_route_done.
typedef struct {
    uint64_t order;                            // last CLI_SEND.order issued
    uint64_t rr;                               // where the next tie-break starts
    uint32_t inflight[SOCP_CLIENT_CRYPTO_MAX]; // CLI_SENDs not yet answered, per worker
} socp_client_route_t;

// Numbers an outgoing item and picks its worker (name gets "crypto<N>");
// returns the number for CLI_SEND.order.
uint64_t socp_client_route(socp_client_route_t *self,
                           uint8_t kind,
                           const char *conv,
                           unsigned workers,
                           char name[SOCP_ACTOR_NAME_MAX + 1]);

// One piece of what the user sends (a DM or public piece, a file frame).
typedef struct {
    uint8_t kind;      // SOCP_CLIENT_KIND_*
    uint64_t local_id; // the front end's id (CLI_ACCEPTED answers it)
    const char *to;    // recipient user id
    const char *pub;   // their pinned key
    const void *data;  // plaintext (a piece of at most 446 bytes)
    size_t len;
    const char *meta; // FILE_*: file id or FILE_START's JSON; else NULL
    uint64_t index;   // FILE_CHUNK index
    int64_t ts;       // wall-clock ms, signed
    uint8_t sig;      // SOCP_CLIENT_SIG_* of the recipient (socp_client_peer_t.sig)
    uint64_t pending; // the held piece it sends (CLI_RELEASE.pending), else 0
} socp_client_piece_t;

// Numbers the piece (socp_client_route) and sends it as CLI_SEND to the
// crypto worker the route picks.
void socp_client_send_piece(socp_actor_ctx_t *ctx,
                            socp_client_route_t *route,
                            unsigned workers,
                            const socp_client_piece_t *p);

// Holds a DM piece for a user who is not online (CLI_HOLD to the store,
// answered by CLI_ACCEPTED like a sent piece).
void socp_client_hold_piece(socp_actor_ctx_t *ctx,
                            uint64_t local_id,
                            const char *to,
                            const void *data,
                            size_t len,
                            int64_t ts);

// A front end's output stream (stdout): writes that never block the actor.
// Bytes the fd cannot take yet wait in a buffer; the actor watches POLLOUT
// while socp_client_out_flush says some remain. At exit, whatever is left
// gets a bounded last try, and the fd's flags are restored.
typedef struct {
    int fd;
    int saved_flags; // -1: the fd was left blocking (writes go straight out)
    socp_buf_t buf;
    size_t off;  // bytes of buf already written
    bool broken; // the reader is gone: output is discarded
} socp_client_out_t;

// nonblock: make fd non-blocking. Never done for a terminal (the flag
// would be shared with stdin and with the shell afterwards).
void socp_client_out_init(socp_client_out_t *self, int fd, bool nonblock);

// Bytes waiting to be written.
size_t socp_client_out_pending(const socp_client_out_t *self);

// Queues bytes (a blocking fd: writes them now).
void socp_client_out_append(socp_client_out_t *self, const void *data, size_t len);

// Writes what the fd takes now; true while bytes remain (watch POLLOUT).
bool socp_client_out_flush(socp_client_out_t *self);

// A last flush for at most timeout_ms, the fd's flags back, the buffer freed.
void socp_client_out_fini(socp_client_out_t *self, int timeout_ms);

// Paces outgoing file frames under a server's rate limit (docs/client.md,
// "File rate"), for the ui and the bridge alike: start at the ceiling (or at
// the rate learned from a slow-down in the last minute), with a burst of 200
// frames when no file went out for 3 s (the server's bucket is full again);
// a rate-limit ERROR halves the rate (never below 20/s), which then grows
// back by 20 frames/s per quiet second up to the ceiling.
typedef struct {
    double ceiling;   // configured frames/s (0: unpaced until a slow-down)
    double rate;      // current frames/s (0: unpaced)
    double tokens;    // frames that may go out now
    double learned;   // the rate after the last slow-down
    uint64_t last_ms; // pacing clock
    uint64_t err_ms;  // the last rate-limit ERROR (0: none yet)
    uint64_t done_ms; // the last transfer finished (0: never)
    bool active;      // a transfer is running
} socp_client_pacer_t;

void socp_client_pacer_init(socp_client_pacer_t *self, double ceiling);

// A transfer starts at monotonic time now_ms.
void socp_client_pacer_start(socp_client_pacer_t *self, uint64_t now_ms);

// How many frames may go out now, at most `max`.
int socp_client_pacer_take(socp_client_pacer_t *self, uint64_t now_ms, int max);

// The server said we exceed its rate limit. Returns true for the first
// such error in 5 s (worth telling the user about). Halves the rate when a
// transfer is running or finished in the last 5 s (its last frames may be
// what the server is still working through).
bool socp_client_pacer_slow_down(socp_client_pacer_t *self, uint64_t now_ms);

// A transfer is running or finished in the last 5 s.
bool socp_client_pacer_recent(const socp_client_pacer_t *self, uint64_t now_ms);

// The transfer is over (sent or abandoned).
void socp_client_pacer_done(socp_client_pacer_t *self, uint64_t now_ms);

// The key that seals the history at rest, derived from the private key's
// PKCS#8 DER (BLAKE2b, then crypto_kdf subkey 1 of context "socphist"): whoever
// can open the key file can read the history, nobody else.
void socp_client_history_key(const uint8_t *der, size_t len, uint8_t out[32]);

// Worker `worker` finished one CLI_SEND.
void socp_client_route_done(socp_client_route_t *self, unsigned worker);

// Sends in flight per worker before a front end stops taking input. Each
// worker answers a turn of up to 8 items at once, so 16 keeps it fed; a
// burst is not dealt out in advance (it would split evenly however
// unequal the cores), but as the workers free up.
#define SOCP_CLIENT_SEND_WINDOW 16

// True when `workers` workers have SOCP_CLIENT_SEND_WINDOW sends each in
// flight: take no more input until a CLI_DONE.
bool socp_client_route_busy(const socp_client_route_t *self, unsigned workers);

// The directory a front end (ui, bridge) keeps of the users the store
// announces (CLI_PEER): an array the front end owns, filled here.
typedef struct {
    char *id, *name, *pub; // owned; name falls back to the id
    char *fp;              // owned: hex SHA-256 of the pinned key ("" unknown)
    char *server;          // owned: their server as last advertised ("" unknown)
    bool online;
    uint8_t status; // SOCP_CLIENT_TRUST_* of the pinned key (2: a changed key, refused)
    uint8_t sig;    // SOCP_CLIENT_SIG_*: the form they sign in
} socp_client_peer_t;

// The entry for `id`, or NULL.
socp_client_peer_t *socp_client_peer_find(socp_client_peer_t *peers, size_t n, const char *id);

// Applies a CLI_PEER (adds the user when new and *n < max). Returns the
// entry, or NULL when the directory is full; *was_online gets its previous
// online state (false for a new entry).
socp_client_peer_t *socp_client_peer_update(socp_client_peer_t *peers,
                                            size_t *n,
                                            size_t max,
                                            const socp_msg_cli_peer_t *p,
                                            bool *was_online);

// Names that cannot lie. True when e's display name could be taken for
// someone else: it equals (ignoring ASCII case and surrounding spaces)
// another known user's name or id, our own name or id, or a word the
// front ends print for people ("you", "me", "all", "public").
bool socp_client_peer_clash(const socp_client_peer_t *peers,
                            size_t n,
                            const socp_client_peer_t *e,
                            const char *my_id,
                            const char *my_name);

// How to show e: its name, followed by '#' and the first
// SOCP_CLIENT_FP_SHORT hex digits of its key fingerprint when the name
// clashes (socp_client_peer_clash), e.g. "bob#3fa2c1". Always NUL-terminates.
#define SOCP_CLIENT_FP_SHORT 6
void socp_client_peer_label(const socp_client_peer_t *peers,
                            size_t n,
                            const socp_client_peer_t *e,
                            const char *my_id,
                            const char *my_name,
                            char *out,
                            size_t size);

// Sends a piece the store released (CLI_RELEASE: its recipient is online),
// signed now, if the recipient is known with a usable key (else it stays
// held). Returns true when it went to a crypto worker.
bool socp_client_release(socp_actor_ctx_t *ctx,
                         socp_client_route_t *route,
                         unsigned workers,
                         socp_client_peer_t *peers,
                         size_t n,
                         const socp_msg_cli_release_t *r);

// Applies a CLI_PEER_SIG (the form a known user signs in).
void socp_client_peer_sig(socp_client_peer_t *peers, size_t n, const socp_msg_cli_peer_sig_t *p);

// A user by id, exact display name, a label "name#fingerprint-prefix"
// (socp_client_peer_label), or else a unique prefix of an id or a name. Returns the entry if
// exactly one matches, else NULL; *hits gets the number of matches.
socp_client_peer_t *
socp_client_peer_resolve(socp_client_peer_t *peers, size_t n, const char *who, int *hits);

// The content_sig form to sign a DM or public piece for `to` in
// (ADR 0014). A fixed form (--sig-form string|bytes, account mode) is used
// for everyone; in auto mode, the form the recipient was seen signing in
// (`learned`, SOCP_CLIENT_SIG_*), else raw bytes for a user id that is not a
// UUID (only Impl14's accounts have such ids, and its client verifies only
// that form), else the string form.
socp_sig_emit_t
socp_client_sig_emit(const socp_client_wire_t *wire, uint8_t learned, const char *to);

// What a verified content_sig form (socp_sig_form_name) says about how its
// sender signs: SOCP_CLIENT_SIG_STRING, _RAW, or _UNKNOWN (forms that say
// nothing about which of the two the sender verifies).
uint8_t socp_client_sig_learn(const char *form);

// Frees what the entries own.
void socp_client_peers_fini(socp_client_peer_t *peers, size_t n);

// Hex SHA-256 of a public key's DER SubjectPublicKeyInfo (65 bytes with NUL).
// @return 0 or SOCP_ECRYPTO.
SOCP_NODISCARD int socp_client_key_fp(const socp_rsa_key_t *key, char out[65]);

// Makes a received file name safe to create inside downloads/: keeps
// letters, digits and "._- +", replaces anything else (path separators,
// control characters, non-ASCII) with '_', strips leading dots and spaces,
// refuses "." and "..", caps the length at 128 bytes. An empty result
// becomes "file". Always NUL-terminates out (size >= 8).
void socp_client_sanitize_name(const char *name, char *out, size_t size);

// A file about to be sent (`/file`, the bridge's sendFile): open, hashed,
// rewound, with the name the receiver will see.
typedef struct {
    int fd;                      // O_RDONLY, at offset 0
    uint64_t size;               // bytes (what was hashed)
    char sha_hex[65];            // SHA-256, lowercase hex
    char name[160];              // the base name, sanitised
    char file_id[SOCP_UUID_BUF]; // a fresh UUID v4
    char meta[512];              // FILE_START's {file_id,name,size,sha256} as JSON
} socp_client_file_t;

// Opens `path` for sending: a regular file (never blocks on a FIFO or a
// device) of at most `max` bytes, hashed in one pass and rewound. Returns 0,
// or -1 with a one-line reason for a person in why (the path cut at 512
// bytes, so the reason always fits in 1 KiB; nothing left open).
int socp_client_file_open(const char *path,
                          uint64_t max,
                          socp_client_file_t *out,
                          char *why,
                          size_t why_size);

// A file going out, for the ui and the bridge alike. The front end sends
// FILE_START with local id `group`; chunk i goes as group + 1 + i, and
// FILE_END after the last chunk.
typedef struct {
    int fd; // -1: no file going out
    char file_id[SOCP_UUID_BUF];
    char to[129];
    char *to_pub;
    char name[160];
    uint64_t size, sent, index, group;
    int timer; // the front end's tick
} socp_client_outfile_t;

// Takes over file->fd for a transfer to user `to` (key `pub`).
void socp_client_outfile_start(socp_client_outfile_t *self,
                               const socp_client_file_t *file,
                               const char *to,
                               const char *pub,
                               uint64_t group);

// One tick: nothing while the conversation's crypto worker still has work
// queued (memory stays bounded); else as many chunks as the pacer allows
// (at most max). Once every chunk went, or a read failed (*read_error),
// sends FILE_END, closes the file and returns true: the group then has
// index + 2 items (a short read leaves ids unused).
bool socp_client_outfile_tick(socp_client_outfile_t *self,
                              socp_actor_ctx_t *ctx,
                              socp_client_route_t *route,
                              unsigned workers,
                              socp_client_pacer_t *pacer,
                              int max,
                              bool *read_error);

// Closes the file (if any) and frees what the transfer holds.
void socp_client_outfile_fini(socp_client_outfile_t *self);

#endif
