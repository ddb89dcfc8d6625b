// socp_client_net.c: the client's network actor.
// Part of socp, a SOCP v1.3 client and server.
//
// DESIGN
// Owns: the one TCP + WebSocket connection to the configured server (and no
// other: it never connects anywhere else), the presence directory used to
// attach a known key to inbound messages, reconnect and heartbeat timers.
// States: IDLE (waiting for the reconnect timer) -> CONNECTING (non-blocking
// connect) -> HANDSHAKE (WebSocket upgrade) -> HELLO (USER_HELLO asked of
// crypto0, signed) -> CONFIRM (USER_HELLO and LIST_REQUEST written) -> UP (the
// LIST_RESPONSE handled, or S_CONFIRM_MS: CLI_LINK up to the store, which
// replays the outbox and hands the link on to the ui) -> back to IDLE on any
// error, with exponential backoff (0.5 s doubling to backoff_max) and full
// jitter.
// In:  CLI_WIRE (a signed frame: written only if its link generation is the
//      current one, so a frame queued for a dead link is never sent twice),
//      CLI_DONE (a crypto worker finished a received frame: hand it another),
//      CLI_SETTING (nick: reconnect so USER_HELLO carries it; pub_format:
//      the form of our key the store remembers for this server).
// Out: CLI_CTRL (crypto0), CLI_INBOUND (numbered, round robin over the
//      workers: the store restores the order), CLI_PRESENCE,
//      CLI_SENT, CLI_LINK (store), CLI_NOTE (ui), CLI_SETTING (pub_format:
//      to the store, which remembers it for this server, and to every
//      crypto worker, which then publishes that form in sender_pub).
// Quiet: HEARTBEAT every heartbeat_ms once the link is up (a WebSocket ping
// with it), and a ping alone when the server has been silent for a third of
// dead_ms, so a quiet but live server is never taken for dead whatever the
// heartbeat; a server that answers HEARTBEAT or LIST_REQUEST (optional
// frames) with ERROR UNKNOWN_TYPE is not shown an error for it: the answer
// is logged at debug, ends the wait for the list, and stops the heartbeats.
// Tolerant: frames addressed "to": "" (a server that has not authenticated
// the socket yet) are ours; a DM or file frame addressed to another user we
// know is refused.
// --pub-format auto (pub_auto): the first advertisement of a user key as
// b64url(PEM) switches us to PEM for this server, once: remembered by the
// store, and the link restarts at once so the session is already PEM.
// Accounts (--account, args->account): HELLO is Impl14's USER_HELLO (from the
// account name, "to": "", unsigned) followed by USER_LOGIN with the password,
// both written here without crypto0; CONFIRM then waits for USER_LOGGED_IN
// (a LIST_RESPONSE is no proof: Impl14 answers LIST_REQUEST logged in or
// not), sends LIST_REQUEST, and goes UP on its answer (or S_CONFIRM_MS of
// silence). A login refused (wrong password, unknown account, another key)
// stops the actor with SOCP_EAUTH: retrying would not help. LIST_REQUEST
// replaces HEARTBEAT (Impl14 tells no one of local users who log in later:
// the list does), USER_ADDED is presence and USER_REMOVED a user leaving;
// USER_HELLO_ACK and PUBLIC_CHANNEL_SNAPSHOT are passed over.
// Edge validation: every frame is parsed with socp_envelope_parse_ex (1 MiB,
// UTF-8, depth, duplicates); refused frames produce one line for the user
// (rate-limited) and the session goes on; oversized frames close the link
// (1009) and it reconnects. File frames whose name carries a path are refused.
// Blocking calls: none (non-blocking socket in the actor's poll set; name
// resolution happens in socp_tcp_connect, for loopback/literal addresses).
// Shutdown: TERM: a CTRL_CLOSE is not awaited; the socket is closed at once.
#define _GNU_SOURCE
#include "socp/socp_client.h"

#include <jansson.h>
#include <sodium.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zmq.h>

#include "socp/socp_account.h"
#include "socp/socp_envelope.h"
#include "socp/socp_err.h"
#include "socp/socp_log.h"
#include "socp/socp_tcp.h"
#include "socp/socp_uuid.h"

#define S_DIR_MAX         4096
#define S_CONNECT_TIMEOUT 5000
#define S_NOTES_PER_10S   10
#define S_INFLIGHT_MAX    12          // received frames handed to one crypto worker at a time
#define S_PENDING_MAX     4096        // received frames waiting here: past this, stop reading
#define S_PENDING_BYTES   (16u << 20) // ... or past this many bytes of them

#define S_CONFIRM_MS 2000 // no answer to USER_HELLO: take silence as acceptance

// Frames we send that a server need not understand: an ERROR UNKNOWN_TYPE
// naming one of them is an answer, not a failure.
static const char *const s_optional[] = {"LIST_REQUEST", "HEARTBEAT"};

// S_CONFIRM: USER_HELLO is written; the link goes up (and the store replays
// the outbox) only once the server has shown it accepted the hello: the
// LIST_RESPONSE to the LIST_REQUEST sent with it (socpd answers at once, after
// the adverts it sends a newcomer), or S_CONFIRM_MS for servers that do not
// answer it. A hello refused (NAME_IN_USE: the server still holds our
// previous link) would otherwise take every frame written after it down with
// it, marked sent. Waiting for the list also means that at link-up every user
// online is known (a script's "/tell bob" finds bob).
typedef enum { S_IDLE, S_CONNECTING, S_HANDSHAKE, S_HELLO, S_CONFIRM, S_UP } s_state_t;

typedef struct {
    char *user_id;
    char *pub;
} s_dir_t;

typedef struct {
    char *frame;  // JSON text as received
    size_t len;   // its length
    char *sender; // whose key to attach
    uint64_t order;
} s_pending_t;

typedef struct {
    socp_client_net_args_t *args;
    s_state_t state;
    int fd;
    socp_tcp_conn_t *conn;
    uint64_t gen;
    uint64_t last_rx_ms, started_ms, pongs, up_ms;
    uint64_t in_order; // CLI_INBOUND.order of the last received item
    // Received frames wait here until a worker has room (CLI_DONE).
    s_pending_t *pending;
    size_t phead, pn, pcap;
    size_t pbytes;         // frame bytes in pending
    uint64_t last_done_ms; // last CLI_DONE: crypto is making progress
    unsigned inflight[SOCP_CLIENT_CRYPTO_MAX];
    unsigned attempts;
    int reconnect_timer, tick_timer, confirm_timer;
    int hb_timer;          // HEARTBEAT every heartbeat_ms while the link is up
    uint64_t last_ping_ms; // the last WebSocket ping we sent
    bool no_heartbeat;     // the server answered HEARTBEAT with UNKNOWN_TYPE: pings only
    bool pem;              // our key goes out as b64url(PEM) (pub_auto's choice)
    bool pem_switched;     // pub_auto switched to PEM in this process (once at most)
    uint64_t *sent_seqs;   // written into the session, awaiting a full flush
    size_t nsent, sent_cap;
    s_dir_t dir[S_DIR_MAX];
    size_t ndir;
    char nick[257];
    uint64_t notes_window_ms;
    unsigned notes_in_window;
    unsigned notes_dropped; // refused-frame lines not shown in the last window
    bool announced_down;
    bool told_resent; // "already reached the server" shown on this link
    bool logged_in;   // account mode: USER_LOGGED_IN on this connection
    int fatal;        // account mode: the login was refused (ends the actor)
} s_net_t;

static void s_fail(socp_actor_ctx_t *ctx, s_net_t *self, const char *why);

static void s_note(socp_actor_ctx_t *ctx, s_net_t *self, uint8_t level, const char *fmt, ...)
    SOCP_PRINTF(4, 5);

static void
s_note(socp_actor_ctx_t *ctx, s_net_t *self, uint8_t level, const char *fmt, ...)
{
    uint64_t now = socp_now_ms();
    char text[1024];
    if (self && level < 3) {
        if (now - self->notes_window_ms > 10000) {
            self->notes_window_ms = now;
            self->notes_in_window = 0;
            if (self->notes_dropped) {
                snprintf(text, sizeof text, "(%u more warnings about refused frames not shown)",
                         self->notes_dropped);
                self->notes_dropped = 0;
                socp_msg_t d = socp_msg_make(SOCP_MSG_CLI_NOTE);
                d.body.cli_note.level = 1;
                d.body.cli_note.text = text;
                (void) socp_actor_send(ctx, "ui", &d);
            }
        }
        if (++self->notes_in_window > S_NOTES_PER_10S) {
            self->notes_dropped++;
            return; // a flood of bad frames must not flood the screen
        }
    }
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(text, sizeof text, fmt, ap);
    va_end(ap);
    socp_msg_t m = socp_msg_make(SOCP_MSG_CLI_NOTE);
    m.body.cli_note.level = level;
    m.body.cli_note.text = text;
    (void) socp_actor_send(ctx, "ui", &m);
}

static void
s_link(socp_actor_ctx_t *ctx, s_net_t *self, bool up, const char *detail)
{
    socp_msg_t m = socp_msg_make(SOCP_MSG_CLI_LINK);
    m.body.cli_link.up = up;
    m.body.cli_link.gen = self->gen;
    m.body.cli_link.detail = detail;
    // Through the store, which hands it on to the ui: the ui then learns of
    // the link after the presence that came before it (same pipe, in order).
    (void) socp_actor_send(ctx, "store", &m);
}

// ---- directory ---------------------------------------------------------------------

static const char *
s_dir_get(s_net_t *self, const char *user_id)
{
    for (size_t i = 0; i < self->ndir; i++) {
        if (strcmp(self->dir[i].user_id, user_id) == 0) {
            return self->dir[i].pub;
        }
    }
    return NULL;
}

static void
s_dir_set(s_net_t *self, const char *user_id, const char *pub)
{
    for (size_t i = 0; i < self->ndir; i++) {
        if (strcmp(self->dir[i].user_id, user_id) == 0) {
            if (!pub) {
                free(self->dir[i].user_id);
                free(self->dir[i].pub);
                self->dir[i] = self->dir[--self->ndir];
            } else if (strcmp(self->dir[i].pub, pub) != 0) {
                free(self->dir[i].pub);
                self->dir[i].pub = socp_strdup(pub);
            }
            return;
        }
    }
    if (pub && self->ndir < S_DIR_MAX) {
        self->dir[self->ndir++] = (s_dir_t){socp_strdup(user_id), socp_strdup(pub)};
    }
}

// ---- connection ----------------------------------------------------------------------

static size_t
s_pending_count(const s_net_t *self)
{
    return self->pn - self->phead;
}

// Too much is waiting for the crypto workers: stop reading the socket.
static bool
s_pending_full(const s_net_t *self)
{
    return s_pending_count(self) >= S_PENDING_MAX || self->pbytes >= S_PENDING_BYTES;
}

static int s_on_fd(socp_actor_ctx_t *ctx, int fd, short revents, void *arg);

static void
s_watch(socp_actor_ctx_t *ctx, s_net_t *self)
{
    if (self->fd < 0) {
        return;
    }
    // A backlog for the crypto workers stops reading (TCP pushes back on the server).
    short ev = self->state == S_UP && s_pending_full(self) ? 0 : ZMQ_POLLIN;
    if (self->state == S_CONNECTING || (self->conn && socp_tcp_conn_want_write(self->conn))) {
        ev |= ZMQ_POLLOUT;
    }
    if (self->state == S_CONNECTING) {
        ev = ZMQ_POLLOUT;
    }
    socp_actor_watch_fd(ctx, self->fd, ev, s_on_fd, self);
}

static int s_on_reconnect(socp_actor_ctx_t *ctx, int timer_id, void *arg);

static void
s_schedule_reconnect(socp_actor_ctx_t *ctx, s_net_t *self)
{
    uint64_t base = 500ull << (self->attempts < 10 ? self->attempts : 10);
    if (base > self->args->backoff_max_ms) {
        base = self->args->backoff_max_ms;
    }
    // Full jitter over the upper half: base/2 .. base.
    uint64_t delay = base / 2 + randombytes_uniform((uint32_t) (base / 2 + 1));
    self->attempts++;
    self->reconnect_timer = socp_actor_timer_add(ctx, delay, 0, s_on_reconnect, self);
}

static void
s_close(socp_actor_ctx_t *ctx, s_net_t *self)
{
    if (self->hb_timer) {
        socp_actor_timer_cancel(ctx, self->hb_timer);
        self->hb_timer = 0;
    }
    if (self->fd >= 0) {
        socp_actor_unwatch_fd(ctx, self->fd);
    }
    if (self->conn) {
        socp_tcp_conn_destroy(&self->conn); // closes fd
    } else if (self->fd >= 0) {
        close(self->fd);
    }
    self->fd = -1;
    self->nsent = 0;
}

static void
s_fail(socp_actor_ctx_t *ctx, s_net_t *self, const char *why)
{
    bool was_up = self->state == S_UP;
    s_close(ctx, self);
    self->state = S_IDLE;
    if (was_up || !self->announced_down) {
        self->announced_down = true;
        self->gen++; // frames queued for the old link are void
        s_link(ctx, self, false, why);
    }
    s_schedule_reconnect(ctx, self);
}

static int
s_on_reconnect(socp_actor_ctx_t *ctx, int timer_id, void *arg)
{
    SOCP_UNUSED(timer_id);
    s_net_t *self = arg;
    self->reconnect_timer = 0;
    if (self->state != S_IDLE) {
        return 0;
    }
    int rc = socp_tcp_connect(self->args->host, self->args->port, &self->fd);
    if (rc != 0) {
        self->fd = -1;
        s_fail(ctx, self, "cannot connect");
        return 0;
    }
    self->state = S_CONNECTING;
    self->started_ms = socp_now_ms();
    s_watch(ctx, self);
    return 0;
}

// Drops the link and connects again at once (no backoff): our hello must
// change. Frames queued for the old link are void (a new generation).
static void
s_restart(socp_actor_ctx_t *ctx, s_net_t *self, const char *why)
{
    bool was_up = self->state == S_UP;
    s_close(ctx, self);
    self->state = S_IDLE;
    self->gen++;
    if (was_up) {
        self->announced_down = true;
        s_link(ctx, self, false, why);
    }
    if (self->reconnect_timer) {
        socp_actor_timer_cancel(ctx, self->reconnect_timer);
    }
    self->reconnect_timer = socp_actor_timer_add(ctx, 0, 0, s_on_reconnect, self);
}

static void
s_flush(socp_actor_ctx_t *ctx, s_net_t *self)
{
    if (!self->conn) {
        return;
    }
    if (socp_tcp_conn_flush(self->conn) != 0) {
        s_fail(ctx, self, "write failed");
        return;
    }
    if (!socp_tcp_conn_want_write(self->conn) && self->nsent > 0) {
        for (size_t i = 0; i < self->nsent; i++) {
            socp_msg_t m = socp_msg_make(SOCP_MSG_CLI_SENT);
            m.body.cli_sent.seq = self->sent_seqs[i];
            m.body.cli_sent.gen = self->gen;
            (void) socp_actor_send(ctx, "store", &m);
        }
        self->nsent = 0;
    }
    s_watch(ctx, self);
}

static void
s_request(socp_actor_ctx_t *ctx, s_net_t *self, const char *type, const char *to, json_t *payload)
{
    char *text = json_dumps(payload, JSON_COMPACT);
    json_decref(payload);
    if (!text) {
        return;
    }
    socp_msg_t m = socp_msg_make(SOCP_MSG_CLI_CTRL);
    m.body.cli_ctrl.type = type;
    m.body.cli_ctrl.to = to;
    m.body.cli_ctrl.payload = text;
    m.body.cli_ctrl.gen = self->gen;
    (void) socp_actor_send(ctx, "crypto0", &m);
    free(text);
}

static void
s_send_hello(socp_actor_ctx_t *ctx, s_net_t *self)
{
    json_t *meta = json_object();
    if (self->nick[0]) {
        json_object_set_new(meta, "display_name", json_string(self->nick));
    }
    const char *pub =
        self->pem && self->args->pubkey_pem ? self->args->pubkey_pem : self->args->pubkey;
    json_t *p = json_pack("{s:s, s:s, s:s, s:o, s:s}", "client", "socp-" SOCP_VERSION, "pubkey",
                          pub, "enc_pubkey", pub, "meta", meta, "user_id", self->args->user_id);
    // The signed hello names the user and the server it is for (crypto0
    // adds the ts it signs at), so it cannot be replayed elsewhere (ADR 0015).
    // socpd names itself in the WebSocket upgrade; other servers do not.
    const char *server_id = self->conn ? socp_ws_server_id(socp_tcp_conn_ws(self->conn)) : NULL;
    bool known = server_id && socp_uuid_is_v4(server_id, strlen(server_id));
    if (known) {
        json_object_set_new(p, "server_id", json_string(server_id));
    }
    self->state = S_HELLO;
    s_request(ctx, self, "USER_HELLO", known ? server_id : self->args->user_id, p);
}

// Account mode: Impl14's USER_HELLO (with our DER key) and USER_LOGIN, written
// at once (unsigned: Impl14 reads no user signature); CONFIRM waits for
// USER_LOGGED_IN. The login frame is built in sodium memory and wiped.
static void
s_send_login(socp_actor_ctx_t *ctx, s_net_t *self)
{
    char *hello = NULL, *login = NULL;
    size_t login_len = 0;
    int64_t ts = socp_wall_ms();
    int rc = socp_account_hello_frame(self->args->account, self->args->pubkey, "socp-" SOCP_VERSION,
                                      ts, &hello);
    if (rc == 0) {
        rc = socp_account_login_frame(self->args->account, self->args->account_pass,
                                      self->args->account_pass_len, ts, &login, &login_len);
    }
    if (rc == 0) {
        rc = socp_tcp_conn_send_text(self->conn, hello, strlen(hello));
    }
    if (rc == 0) {
        rc = socp_tcp_conn_send_text(self->conn, login, login_len);
    }
    free(hello);
    sodium_free(login);
    if (rc != 0) {
        s_fail(ctx, self, "cannot write the login");
        return;
    }
    self->logged_in = false;
    self->state = S_CONFIRM;
}

// Account mode: logged in; the link goes up once the user list is in (or
// after S_CONFIRM_MS of silence), as for a hello.
static int s_on_confirm_timeout(socp_actor_ctx_t *ctx, int timer_id, void *arg);

static void
s_logged_in(socp_actor_ctx_t *ctx, s_net_t *self)
{
    self->logged_in = true;
    if (self->confirm_timer) {
        socp_actor_timer_cancel(ctx, self->confirm_timer);
    }
    self->confirm_timer = socp_actor_timer_add(ctx, S_CONFIRM_MS, 0, s_on_confirm_timeout, self);
    s_request(ctx, self, "LIST_REQUEST", self->args->user_id, json_object());
}

// ---- inbound frames ------------------------------------------------------------------

static bool
s_has_path(const char *name)
{
    return strchr(name, '/') || strchr(name, '\\') || strstr(name, "..") || name[0] == '.';
}

// The crypto workers publish our key in sender_pub: tell them its form.
static void
s_tell_crypto(socp_actor_ctx_t *ctx, s_net_t *self)
{
    unsigned workers = self->args->crypto_workers ? self->args->crypto_workers : 1;
    workers = workers > SOCP_CLIENT_CRYPTO_MAX ? SOCP_CLIENT_CRYPTO_MAX : workers;
    socp_msg_t m = socp_msg_make(SOCP_MSG_CLI_SETTING);
    m.body.cli_setting.key = "pub_format";
    m.body.cli_setting.value = self->pem ? "pem" : "der";
    for (unsigned w = 0; w < workers; w++) {
        char worker[SOCP_ACTOR_NAME_MAX + 1];
        snprintf(worker, sizeof worker, "crypto%u", w);
        (void) socp_actor_send(ctx, worker, &m);
    }
}

// base64(url) of "-----BEGIN": the key text is b64url(PEM) (the same
// characters in both alphabets).
static bool
s_is_b64_pem(const char *pub)
{
    return strncmp(pub, "LS0tLS1CRUdJTi", 14) == 0;
}

// The server presents a user's key as b64url(PEM): some client there reads
// only that form. In auto mode, switch to it for this server, once.
static void
s_saw_pem(socp_actor_ctx_t *ctx, s_net_t *self, const char *uid)
{
    if (!self->args->pub_auto || !self->args->pubkey_pem || self->pem || self->pem_switched) {
        return;
    }
    self->pem = self->pem_switched = true;
    socp_info("net: ws://%s:%u presents the key of %s as PEM: our key goes as PEM to this server "
              "from now on (reconnecting once)",
              self->args->host, (unsigned) self->args->port, uid);
    socp_msg_t m = socp_msg_make(SOCP_MSG_CLI_SETTING);
    m.body.cli_setting.key = "pub_format";
    m.body.cli_setting.value = "pem";
    (void) socp_actor_send(ctx, "store", &m); // remembered for this server
    s_tell_crypto(ctx, self);
    s_restart(ctx, self, "presenting our key as PEM to this server");
}

static void
s_presence(socp_actor_ctx_t *ctx, s_net_t *self, json_t *entry, bool listed)
{
    const char *uid = json_string_value(json_object_get(entry, "user_id"));
    json_t *meta = json_object_get(entry, "meta");
    const char *pub = json_string_value(json_object_get(meta, "pubkey"));
    if (!pub || !*pub) {
        pub = json_string_value(json_object_get(entry, "pubkey"));
    }
    const char *name = json_string_value(json_object_get(meta, "display_name"));
    if (!uid || !socp_uuid_is_peer_id(uid, strlen(uid))) {
        s_note(ctx, self, 1, "ignored a user advertisement without a valid user id");
        return;
    }
    if (name && (!socp_uuid_is_peer_id(name, strlen(name)) || strlen(name) > 64)) {
        name = NULL; // control characters or too long: show the id instead
    }
    if (listed && (!pub || !*pub)) {
        // Impl14 lists the users of other servers with "pubkey": "": no
        // key to pin and nothing wrong; they are advertised with one.
        socp_debug("net: %s listed without a key", uid);
        return;
    }
    socp_rsa_key_t *key = NULL;
    char fp[65];
    char *norm = NULL;
    if (!pub || socp_rsa_public_import(pub, strlen(pub), &key) != 0 ||
        socp_client_key_fp(key, fp) != 0 ||
        socp_rsa_public_export(key, SOCP_RSA_PUB_B64_DER, &norm) != 0) {
        s_note(ctx, self, 1,
               "ignored the advertisement of %s: missing or unacceptable key (BAD_KEY)", uid);
        socp_rsa_destroy(&key);
        return;
    }
    socp_rsa_destroy(&key);
    bool pem = strcmp(uid, self->args->user_id) != 0 && s_is_b64_pem(pub);
    s_dir_set(self, uid, norm);
    socp_msg_t m = socp_msg_make(SOCP_MSG_CLI_PRESENCE);
    m.body.cli_presence.kind = 1;
    m.body.cli_presence.user_id = uid;
    m.body.cli_presence.pub = norm;
    m.body.cli_presence.fp = fp;
    m.body.cli_presence.name = name ? name : "";
    const char *server = json_string_value(json_object_get(entry, "server_id"));
    m.body.cli_presence.server =
        server && socp_uuid_is_peer_id(server, strlen(server)) && strlen(server) <= 128 ? server
                                                                                        : "";
    (void) socp_actor_send(ctx, "store", &m);
    free(norm);
    if (pem) {
        s_saw_pem(ctx, self, uid);
    }
}

// ---- received frames to the crypto workers -----------------------------------------
// Every worker takes a share, whatever the conversation (the store restores
// the order by CLI_INBOUND.order). Each worker holds at most S_INFLIGHT_MAX
// frames and the next goes to the one with the fewest, so a worker that gets
// less CPU gets less work and a backlog finishes on every core at once.

static void
s_dispatch(socp_actor_ctx_t *ctx, s_net_t *self)
{
    unsigned workers = self->args->crypto_workers ? self->args->crypto_workers : 1;
    workers = workers > SOCP_CLIENT_CRYPTO_MAX ? SOCP_CLIENT_CRYPTO_MAX : workers;
    while (self->phead < self->pn) {
        unsigned best = 0;
        for (unsigned w = 1; w < workers; w++) {
            if (self->inflight[w] < self->inflight[best]) {
                best = w;
            }
        }
        if (self->inflight[best] >= S_INFLIGHT_MAX) {
            break;
        }
        s_pending_t *p = &self->pending[self->phead++];
        const char *known = s_dir_get(self, p->sender);
        socp_msg_t m = socp_msg_make(SOCP_MSG_CLI_INBOUND);
        m.body.cli_inbound.order = p->order;
        m.body.cli_inbound.frame = p->frame;
        m.body.cli_inbound.known_pub = known ? known : "";
        m.body.cli_inbound.sender = p->sender;
        char worker[SOCP_ACTOR_NAME_MAX + 1];
        snprintf(worker, sizeof worker, "crypto%u", best);
        if (socp_actor_send(ctx, worker, &m) == 0) {
            self->inflight[best]++;
        }
        self->pbytes -= p->len;
        free(p->frame);
        free(p->sender);
    }
    if (self->phead == self->pn) {
        self->phead = self->pn = 0;
    }
}

static void
s_enqueue(socp_actor_ctx_t *ctx, s_net_t *self, const char *data, size_t len, const char *sender)
{
    if (self->pn == self->pcap) {
        if (self->phead > 0) { // reuse the consumed front
            memmove(self->pending, self->pending + self->phead,
                    s_pending_count(self) * sizeof *self->pending);
            self->pn -= self->phead;
            self->phead = 0;
        } else {
            self->pcap = self->pcap ? self->pcap * 2 : 64;
            self->pending = socp_realloc(self->pending, self->pcap * sizeof *self->pending);
        }
    }
    char *copy = socp_malloc(len + 1);
    memcpy(copy, data, len);
    copy[len] = '\0';
    self->pending[self->pn++] = (s_pending_t){copy, len, socp_strdup(sender), ++self->in_order};
    self->pbytes += len;
    s_dispatch(ctx, self);
}

static void
s_on_done(socp_actor_ctx_t *ctx, s_net_t *self, unsigned worker)
{
    if (worker < SOCP_CLIENT_CRYPTO_MAX && self->inflight[worker] > 0) {
        self->inflight[worker]--;
    }
    self->last_done_ms = socp_now_ms();
    bool was_full = s_pending_full(self);
    s_dispatch(ctx, self);
    if (was_full && !s_pending_full(self)) {
        s_watch(ctx, self); // read the socket again
    }
}

static int s_on_heartbeat(socp_actor_ctx_t *ctx, int timer_id, void *arg);

// The server accepted our USER_HELLO: the link is up.
static void
s_confirm(socp_actor_ctx_t *ctx, s_net_t *self)
{
    self->state = S_UP;
    self->up_ms = socp_now_ms();
    self->announced_down = false;
    self->told_resent = false;
    self->last_rx_ms = self->last_ping_ms = socp_now_ms();
    if (self->hb_timer) {
        socp_actor_timer_cancel(ctx, self->hb_timer);
    }
    self->hb_timer = socp_actor_timer_add(ctx, self->args->heartbeat_ms, self->args->heartbeat_ms,
                                          s_on_heartbeat, self);
    char url[300];
    snprintf(url, sizeof url, "ws://%s:%u", self->args->host, (unsigned) self->args->port);
    s_link(ctx, self, true, url);
}

static int
s_on_confirm_timeout(socp_actor_ctx_t *ctx, int timer_id, void *arg)
{
    SOCP_UNUSED(timer_id);
    s_net_t *self = arg;
    self->confirm_timer = 0;
    if (self->state == S_CONFIRM) {
        s_confirm(ctx, self);
    }
    return 0;
}

// The optional frame of ours (s_optional) an ERROR UNKNOWN_TYPE's detail
// names as a word ("Unknown message type: LIST_REQUEST", "HEARTBEAT"), or NULL.
static const char *
s_optional_named(const char *detail)
{
    for (size_t i = 0; detail && i < SOCP_ARRAY_LEN(s_optional); i++) {
        size_t n = strlen(s_optional[i]);
        for (const char *p = strstr(detail, s_optional[i]); p; p = strstr(p + 1, s_optional[i])) {
            char before = p == detail ? ' ' : p[-1], after = p[n];
            if (!strchr("ABCDEFGHIJKLMNOPQRSTUVWXYZ_0123456789", before) &&
                (!after || !strchr("ABCDEFGHIJKLMNOPQRSTUVWXYZ_0123456789", after))) {
                return s_optional[i];
            }
        }
    }
    return NULL;
}

// A DM or file frame addressed to a user we know who is not us: the server
// sent us someone else's frame. "" (a server that has not authenticated the
// socket) and ids we do not know as users (a server, "*") are ours.
static bool
s_for_another_user(s_net_t *self, const socp_envelope_t *env)
{
    return env->to[0] && strcmp(env->to, self->args->user_id) != 0 && s_dir_get(self, env->to);
}

static void
s_inbound(socp_actor_ctx_t *ctx, s_net_t *self, const char *data, size_t len)
{
    socp_envelope_t env = {0};
    socp_envelope_error_t err = {0};
    int rc = socp_envelope_parse_ex(data, len, SOCP_ENVELOPE_PARSE_EMPTY_TO, &env, &err);
    if (rc != 0) {
        s_note(ctx, self, 1, "refused a frame from the server: %s",
               err.detail[0] ? err.detail : socp_strerror(rc));
        return;
    }
    json_t *pay = env.payload;
    bool refused = false; // our hello was refused: shown below, then the link fails
    if (self->state == S_CONFIRM && env.kind == SOCP_ENVELOPE_TYPE_ERROR) {
        const char *code = json_string_value(json_object_get(pay, "code"));
        refused = code && (strcmp(code, "NAME_IN_USE") == 0 || strcmp(code, "BAD_KEY") == 0 ||
                           strcmp(code, "INVALID_SIG") == 0);
        if (self->args->account && !self->logged_in && code &&
            (strcmp(code, "BAD_KEY") == 0 || strcmp(code, "USER_NOT_FOUND") == 0)) {
            // The login was refused: a wrong password, an account gone, or
            // another key. Trying again would not change that.
            const char *detail = json_string_value(json_object_get(pay, "detail"));
            socp_error("net: the server refused the login of account %s: %.32s %s",
                       self->args->account, code,
                       detail && strstr(detail, "password") ? "(wrong password)" : "");
            self->fatal = SOCP_EAUTH;
        }
    }
    switch (env.kind) {
        case SOCP_ENVELOPE_TYPE_FILE_START:
        case SOCP_ENVELOPE_TYPE_FILE_CHUNK:
        case SOCP_ENVELOPE_TYPE_FILE_END: {
            if (s_for_another_user(self, &env)) {
                s_note(ctx, self, 1, "refused %s from %s: addressed to another user (%s)", env.type,
                       env.from, env.to);
                break;
            }
            const char *name = json_string_value(json_object_get(pay, "name"));
            if (name && s_has_path(name)) {
                s_note(ctx, self, 1, "refused %s from %s: the file name contains a path", env.type,
                       env.from);
                break;
            }
            if (env.kind == SOCP_ENVELOPE_TYPE_FILE_START && !name) {
                s_note(ctx, self, 1, "refused FILE_START from %s: no file name", env.from);
                break;
            }
            __attribute__((fallthrough));
        }
        case SOCP_ENVELOPE_TYPE_USER_DELIVER:
        case SOCP_ENVELOPE_TYPE_MSG_DIRECT:
        case SOCP_ENVELOPE_TYPE_MSG_PUBLIC_CHANNEL: {
            // Only a frame the server built may name another sender: a
            // USER_DELIVER, or a public message or file frame whose `from` is
            // not a user we know (Impl14's server sends those from its own
            // id, the user in payload.sender). A user's own frame is from
            // env.from, whatever "sender" it writes.
            bool built = env.kind == SOCP_ENVELOPE_TYPE_USER_DELIVER ||
                         (env.kind != SOCP_ENVELOPE_TYPE_MSG_DIRECT && !s_dir_get(self, env.from));
            const char *sender = built ? json_string_value(json_object_get(pay, "sender")) : NULL;
            if (!sender || !socp_uuid_is_peer_id(sender, strlen(sender))) {
                sender = env.from;
            }
            if (strcmp(sender, self->args->user_id) == 0 &&
                env.kind == SOCP_ENVELOPE_TYPE_MSG_PUBLIC_CHANNEL) {
                break; // our own public message echoed back
            }
            if (env.kind != SOCP_ENVELOPE_TYPE_FILE_START &&
                env.kind != SOCP_ENVELOPE_TYPE_FILE_CHUNK &&
                env.kind != SOCP_ENVELOPE_TYPE_FILE_END && s_for_another_user(self, &env)) {
                s_note(ctx, self, 1, "refused %s from %s: addressed to another user (%s)", env.type,
                       sender, env.to);
                break;
            }
            s_enqueue(ctx, self, data, len, sender);
            break;
        }
        case SOCP_ENVELOPE_TYPE_USER_ADVERTISE:
            s_presence(ctx, self, pay, false);
            break;
        case SOCP_ENVELOPE_TYPE_LIST_RESPONSE: {
            json_t *users = json_object_get(pay, "users");
            size_t i;
            json_t *u;
            json_array_foreach(users, i, u)
            {
                if (json_is_object(u)) {
                    s_presence(ctx, self, u, true);
                }
            }
            if (self->state == S_CONFIRM && (!self->args->account || self->logged_in)) {
                // The answer to the LIST_REQUEST sent with our hello: the
                // hello was accepted, and every user online is known now
                // (their presence reaches the store before the link-up).
                s_confirm(ctx, self);
            }
            break;
        }
        case SOCP_ENVELOPE_TYPE_USER_LOGGED_IN:
            if (self->args->account && self->state == S_CONFIRM && !self->logged_in) {
                s_logged_in(ctx, self);
            }
            break;
        case SOCP_ENVELOPE_TYPE_USER_ADDED:
            if (self->args->account) {
                s_presence(ctx, self, pay, true); // {user_id, pubkey (DER), online_local}
            }
            break;
        case SOCP_ENVELOPE_TYPE_USER_REMOVED:
            if (!self->args->account) {
                break;
            }
            __attribute__((fallthrough));
        case SOCP_ENVELOPE_TYPE_USER_REMOVE: {
            const char *uid = json_string_value(json_object_get(pay, "user_id"));
            if (uid && socp_uuid_is_peer_id(uid, strlen(uid))) {
                s_dir_set(self, uid, NULL);
                socp_msg_t m = socp_msg_make(SOCP_MSG_CLI_PRESENCE);
                m.body.cli_presence.kind = 2;
                m.body.cli_presence.user_id = uid;
                (void) socp_actor_send(ctx, "store", &m);
            }
            break;
        }
        case SOCP_ENVELOPE_TYPE_ERROR: {
            const char *code = json_string_value(json_object_get(pay, "code"));
            const char *detail = json_string_value(json_object_get(pay, "detail"));
            char clean[200] = {0};
            for (size_t i = 0, j = 0; detail && detail[i] && j < sizeof clean - 1; i++) {
                unsigned char c = (unsigned char) detail[i];
                clean[j++] = c >= 0x20 && c != 0x7f ? (char) c : ' ';
            }
            char ccode[40] = {0};
            for (size_t i = 0; code && code[i] && i < sizeof ccode - 1; i++) {
                unsigned char c = (unsigned char) code[i];
                ccode[i] =
                    (c >= 'A' && c <= 'Z') || c == '_' || (c >= '0' && c <= '9') ? (char) c : '?';
            }
            const char *optional =
                code && strcmp(code, "UNKNOWN_TYPE") == 0 ? s_optional_named(clean) : NULL;
            if (optional) {
                // The server does not implement a frame it need not: not
                // an error for the user. It will not answer it either.
                socp_debug("net: the server does not know %s: %s", optional, clean);
                if (strcmp(optional, "HEARTBEAT") == 0) {
                    self->no_heartbeat = true; // WebSocket pings keep the link checked
                } else if (strcmp(optional, "LIST_REQUEST") == 0 && self->state == S_CONFIRM) {
                    s_confirm(ctx, self); // no list is coming: the hello was taken
                }
                break;
            }
            if (strstr(clean, "already seen") || strstr(clean, "replayed frame")) {
                // Only the outbox re-sends a frame of ours: after a crash or a
                // lost link it cannot know which of its last frames got out.
                // The server has this one, so nothing is wrong: say so once.
                if (!self->told_resent) {
                    self->told_resent = true;
                    s_note(ctx, self, 0,
                           "messages re-sent after a restart or reconnect had already reached "
                           "the server (they are not delivered twice)");
                }
                socp_debug("net: server: %s %s", ccode, clean);
                break;
            }
            s_note(ctx, self, 2, "server error %s%s%s", ccode[0] ? ccode : "(no code)",
                   clean[0] ? ": " : "", clean);
            if (strstr(clean, "rate limit")) { // socpd: TIMEOUT "rate limit: ..."
                socp_msg_t m = socp_msg_make(SOCP_MSG_CLI_RATE);
                m.body.cli_rate.detail = clean;
                (void) socp_actor_send(ctx, "ui", &m);
            }
            break;
        }
        case SOCP_ENVELOPE_TYPE_CTRL_CLOSE:
            socp_envelope_fini(&env);
            s_fail(ctx, self, "the server closed the session");
            return;
        default:
            break; // HEARTBEAT, ACK, channel bookkeeping, unknown types
    }
    socp_envelope_fini(&env);
    if (refused && self->conn) {
        s_fail(ctx, self, "the server refused our hello"); // nothing else was written
    }
}

static int
s_on_fd(socp_actor_ctx_t *ctx, int fd, short revents, void *arg)
{
    SOCP_UNUSED(fd);
    s_net_t *self = arg;
    if (self->state == S_CONNECTING) {
        int rc = socp_tcp_connect_result(self->fd);
        if (rc == SOCP_EAGAIN) {
            return 0;
        }
        if (rc != 0) {
            s_fail(ctx, self, "connection refused");
            return 0;
        }
        self->conn =
            socp_tcp_conn_new(self->fd, SOCP_WS_CLIENT, NULL, self->args->host, self->args->port);
        if (!self->conn) {
            self->fd = -1; // closed by conn_new
            s_fail(ctx, self, "cannot start the WebSocket session");
            return 0;
        }
        self->state = S_HANDSHAKE;
        s_flush(ctx, self);
        return 0;
    }
    if (!self->conn) {
        return 0;
    }
    if (revents & ZMQ_POLLOUT) {
        s_flush(ctx, self);
        if (!self->conn) {
            return 0;
        }
    }
    if (revents & (ZMQ_POLLIN | ZMQ_POLLERR)) {
        int rc = socp_tcp_conn_read(self->conn, 0);
        self->last_rx_ms = socp_now_ms();
        socp_ws_msg_t msg;
        while (self->conn && socp_tcp_conn_next(self->conn, &msg) == 0) {
            if (msg.kind != SOCP_WS_TEXT) {
                s_note(ctx, self, 1, "refused a binary frame from the server");
                continue;
            }
            s_inbound(ctx, self, (const char *) msg.data, msg.len);
        }
        if (self->fatal) {
            return self->fatal; // the login was refused: the actor ends (socp exits 1)
        }
        if (!self->conn) {
            return 0;
        }
        if (rc == SOCP_ETOOBIG) {
            s_note(ctx, self, 1,
                   "refused a frame over 1 MiB from the server (connection closed, reconnecting)");
        } else if (rc == SOCP_EPROTO) {
            s_note(ctx, self, 1, "the server broke the WebSocket protocol (reconnecting)");
        }
        if (rc != 0) {
            if (socp_tcp_conn_flush(self->conn) != 0) {
                socp_debug("net: close frame not written");
            }
            s_fail(ctx, self,
                   rc == SOCP_ECLOSED ? "the server closed the connection" : socp_strerror(rc));
            return 0;
        }
        if (self->state == S_HANDSHAKE &&
            socp_ws_state(socp_tcp_conn_ws(self->conn)) == SOCP_WS_OPEN) {
            if (self->args->account) {
                s_send_login(ctx, self);
            } else {
                s_send_hello(ctx, self);
            }
        }
        if (self->conn) {
            s_flush(ctx, self);
        }
    }
    return self->fatal;
}

static void
s_ping(socp_actor_ctx_t *ctx, s_net_t *self, uint64_t now)
{
    self->last_ping_ms = now;
    if (socp_ws_send_ping(socp_tcp_conn_ws(self->conn), "hb", 2) == 0) {
        s_flush(ctx, self);
    }
}

static int
s_on_tick(socp_actor_ctx_t *ctx, int timer_id, void *arg)
{
    SOCP_UNUSED(timer_id);
    s_net_t *self = arg;
    uint64_t now = socp_now_ms();
    if (self->state == S_CONNECTING || self->state == S_HANDSHAKE || self->state == S_HELLO ||
        self->state == S_CONFIRM) {
        if (now - self->started_ms > S_CONNECT_TIMEOUT) {
            s_fail(ctx, self, "connection timed out");
        }
        return 0;
    }
    if (self->state != S_UP) {
        return 0;
    }
    if (self->attempts && now - self->up_ms > 5000) {
        self->attempts = 0; // the link held: the next failure retries quickly
    }
    uint64_t pongs = socp_ws_pongs_received(socp_tcp_conn_ws(self->conn));
    if (pongs != self->pongs) {
        self->pongs = pongs;
        self->last_rx_ms = now;
    }
    if (s_pending_full(self) && now - self->last_done_ms < self->args->dead_ms) {
        self->last_rx_ms = now; // not reading (crypto is behind) is not a silent server
    }
    if (now - self->last_rx_ms > self->args->dead_ms) {
        s_note(ctx, self, 1, "the server has been silent for %llu s: reconnecting",
               (unsigned long long) (self->args->dead_ms / 1000));
        s_fail(ctx, self, "link dead");
        return 0;
    }
    // Silent for a third of dead_ms: ask for a pong, whatever the heartbeat
    // interval, so a quiet but live server is not taken for dead.
    uint64_t probe = self->args->dead_ms / 3;
    if (now - self->last_rx_ms >= probe && now - self->last_ping_ms >= probe) {
        s_ping(ctx, self, now);
    }
    return 0;
}

static int
s_on_heartbeat(socp_actor_ctx_t *ctx, int timer_id, void *arg)
{
    SOCP_UNUSED(timer_id);
    s_net_t *self = arg;
    if (self->state != S_UP) {
        return 0;
    }
    if (self->args->account) {
        // Impl14 answers HEARTBEAT with UNKNOWN_TYPE and tells nobody of a
        // local user who logs in later: the list keeps presence current.
        s_request(ctx, self, "LIST_REQUEST", self->args->user_id, json_object());
    } else if (!self->no_heartbeat) {
        s_request(ctx, self, "HEARTBEAT", self->args->user_id, json_object());
    }
    s_ping(ctx, self, socp_now_ms());
    return 0;
}

static void
s_on_wire(socp_actor_ctx_t *ctx, s_net_t *self, const socp_msg_cli_wire_t *w)
{
    if (w->gen != self->gen || !self->conn ||
        (self->state != S_UP && self->state != S_HELLO && self->state != S_CONFIRM)) {
        return; // meant for a link that is gone: the store replays it on the next one
    }
    if ((self->state == S_HELLO || self->state == S_CONFIRM) && w->seq != 0) {
        return; // not before the server accepted our hello: replayed once it has
    }
    int rc = socp_tcp_conn_send_text(self->conn, w->frame, strlen(w->frame));
    if (rc == SOCP_ETOOBIG || rc == SOCP_EINVAL) {
        // Can never be sent: say so once, and count it as done so it
        // neither holds the link's room nor comes back at every replay.
        socp_error("net: frame refused by the session: %s", socp_strerror(rc));
        if (w->seq == 0) {
            return; // a control frame: nothing to count (and no hello to wait for)
        }
        s_note(ctx, NULL, 2, "a message could not be sent (%s) and was dropped", socp_strerror(rc));
    } else if (rc != 0) {
        s_fail(ctx, self, "write failed");
        return;
    }
    if (w->seq) {
        if (self->nsent == self->sent_cap) {
            self->sent_cap = self->sent_cap ? self->sent_cap * 2 : 256;
            self->sent_seqs =
                socp_realloc(self->sent_seqs, self->sent_cap * sizeof *self->sent_seqs);
        }
        self->sent_seqs[self->nsent++] = w->seq;
    }
    if (self->state == S_HELLO) {
        self->state = S_CONFIRM; // USER_HELLO is on its way: wait for the answer
        if (self->confirm_timer) {
            socp_actor_timer_cancel(ctx, self->confirm_timer);
        }
        self->confirm_timer =
            socp_actor_timer_add(ctx, S_CONFIRM_MS, 0, s_on_confirm_timeout, self);
        s_request(ctx, self, "LIST_REQUEST", self->args->user_id, json_object());
    }
    s_flush(ctx, self);
}

static int
s_on_msg(socp_actor_ctx_t *ctx, socp_msg_t *msg, void *arg)
{
    s_net_t *self = arg;
    switch (msg->type) {
        case SOCP_MSG_CLI_WIRE:
            s_on_wire(ctx, self, &msg->body.cli_wire);
            break;
        case SOCP_MSG_CLI_DONE:
            s_on_done(ctx, self, msg->body.cli_done.worker);
            break;
        case SOCP_MSG_CLI_SETTING:
            if (strcmp(msg->body.cli_setting.key, "nick") == 0 &&
                strcmp(self->nick, msg->body.cli_setting.value) != 0) {
                snprintf(self->nick, sizeof self->nick, "%s", msg->body.cli_setting.value);
                if (self->state == S_UP) {
                    s_fail(ctx, self, "reconnecting to announce the new name");
                }
            } else if (strcmp(msg->body.cli_setting.key, "pub_format") == 0 &&
                       strcmp(msg->body.cli_setting.value, "pem") == 0 && self->args->pub_auto &&
                       self->args->pubkey_pem && !self->pem) {
                // The store remembers that this server wants PEM (an earlier
                // run switched): from the first hello on. Never back to DER.
                self->pem = true;
                s_tell_crypto(ctx, self);
                if (self->state == S_HELLO || self->state == S_CONFIRM || self->state == S_UP) {
                    s_restart(ctx, self, "presenting our key as PEM to this server");
                }
            }
            break;
        default:
            socp_warn("net: unexpected %s", socp_msg_name(msg->type));
            break;
    }
    return 0;
}

int
socp_client_net_actor(socp_actor_ctx_t *ctx, void *args)
{
    s_net_t *self = socp_calloc(1, sizeof *self);
    self->args = args;
    self->fd = -1;
    snprintf(self->nick, sizeof self->nick, "%s",
             self->args->display_name ? self->args->display_name : "");
    if (!self->args->heartbeat_ms) {
        self->args->heartbeat_ms = 15000;
    }
    if (!self->args->dead_ms) {
        self->args->dead_ms = 45000;
    }
    if (!self->args->backoff_max_ms) {
        self->args->backoff_max_ms = 30000;
    }
    // The tick checks connect timeouts and silence (HEARTBEAT has its own timer).
    uint64_t tick = self->args->dead_ms / 6 < 1000 ? self->args->dead_ms / 6 : 1000;
    tick = tick < 50 ? 50 : tick;
    socp_actor_ready(ctx, 0);
    self->reconnect_timer = socp_actor_timer_add(ctx, 0, 0, s_on_reconnect, self);
    self->tick_timer = socp_actor_timer_add(ctx, tick, tick, s_on_tick, self);
    int rc = socp_actor_run(ctx, s_on_msg, self);
    s_close(ctx, self);
    for (size_t i = 0; i < self->ndir; i++) {
        free(self->dir[i].user_id);
        free(self->dir[i].pub);
    }
    for (size_t i = self->phead; i < self->pn; i++) {
        free(self->pending[i].frame);
        free(self->pending[i].sender);
    }
    free(self->pending);
    free(self->sent_seqs);
    free(self);
    return rc;
}
