// socp_bridge.c: the bridge actor, the front end of `socp bridge`.
// Part of socp, a SOCP v1.3 client and server.
//
// DESIGN
// Owns: the JSON-RPC front ends. stdio: requests are lines on in_fd (read
//   with a hard cap of SOCP_BRIDGE_LINE_MAX; the rest of a longer line is
//   discarded and answered with -32600), replies and notifications are lines
//   on out_fd (non-blocking, buffered). ZeroMQ: a ROUTER socket for requests
//   (DEALER or REQ peers; msgpack or JSON payloads) and an XPUB socket for
//   events (two frames: topic = notification method, payload), with
//   ZMQ_XPUB_NODROP so that an event a subscriber cannot take is seen here
//   (EAGAIN) and counted instead of vanishing. Also owns the directory of
//   users as the store reports it, the table of send groups waiting to be
//   durable (a reply leaves only when every piece of the request is committed
//   in the outbox), pending history requests and one outgoing file.
// Runs under the actor name "ui" so the client's store, crypto and net
//   actors work unchanged.
// In:  CLI_ACCEPTED, CLI_SHOW, CLI_PEER, CLI_NOTE, CLI_FILE, CLI_LINK,
//      CLI_SETTING. Out: CLI_SEND (cryptoN), CLI_HISTORY_REQ, CLI_SETTING.
// Backpressure: requests are taken (stdin lines, ROUTER messages) only
//   while the crypto workers have fewer than SOCP_CLIENT_SEND_WINDOW sends
//   each in flight; the rest wait unread (stdin) or queued (ROUTER), so a
//   burst is signed on every core as each frees up. At most max_inflight
//   pieces and 2048 requests wait to be durable; beyond that a send gets
//   -32002 (busy). stdout: while more than 32 MiB wait to be written, stdin
//   is not read; notifications beyond
//   16 MiB are dropped and counted. ROUTER replies that cannot be sent
//   (peer gone or full) and events refused by XPUB are counted (`stats`).
// Blocking calls: none (fds are non-blocking, zmq calls use ZMQ_DONTWAIT);
//   hashing a received file for its notification reads the saved file.
// Shutdown: stdio only: end of input waits until every accepted item was
//   written (at most 30 s) and returns SOCP_ACTOR_STOP; otherwise TERM.
#include "socp/socp_bridge.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <sodium.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zmq.h>

#include "socp/socp_client.h"
#include "socp/socp_err.h"
#include "socp/socp_log.h"
#include "socp/socp_text.h"
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

typedef struct {
    int fd;
    char file_id[SOCP_UUID_BUF];
    char to[129];
    char *to_pub;
    char name[160];
    uint64_t size, sent, index, group;
    int timer;
} s_outfile_t;

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
    bool json_wire;
    bool router_paused; // not polled while the crypto workers have a full window
    // counters
    uint64_t n_requests, n_errors, n_events, ev_dropped_zmq, ev_dropped_stdio, replies_dropped,
        n_busy;
    s_outfile_t file;
    socp_client_pacer_t pacer; // file frames under the server's rate limit
    uint64_t n_slowdowns;      // rate-limit ERRORs the server sent
} s_bridge_t;

// ---- output --------------------------------------------------------------------------

static void s_out_flush(s_bridge_t *self);
static void s_take_lines(s_bridge_t *self);

static int
s_on_out_ready(socp_actor_ctx_t *ctx, int fd, short revents, void *arg)
{
    SOCP_UNUSED(ctx);
    SOCP_UNUSED(fd);
    SOCP_UNUSED(revents);
    s_out_flush(arg);
    return 0;
}

static int s_on_stdin(socp_actor_ctx_t *ctx, int fd, short revents, void *arg);
static void s_in_update(s_bridge_t *self);

static void
s_out_flush(s_bridge_t *self)
{
    bool want = socp_client_out_flush(&self->out);
    if (want != self->out_watched) {
        if (want) {
            socp_actor_watch_fd(self->ctx, self->args->out_fd, ZMQ_POLLOUT, s_on_out_ready, self);
        } else {
            socp_actor_unwatch_fd(self->ctx, self->args->out_fd);
        }
        self->out_watched = want;
    }
    s_in_update(self);
}

// stdin is read only when every byte read before was taken and the reader
// of stdout keeps up (backpressure both ways).
static int
s_on_take(socp_actor_ctx_t *ctx, int timer_id, void *arg)
{
    SOCP_UNUSED(ctx);
    SOCP_UNUSED(timer_id);
    s_bridge_t *self = arg;
    self->take_timer = 0;
    s_take_lines(self);
    return 0;
}

static void
s_in_update(s_bridge_t *self)
{
    if (!self->args->use_stdio || self->eof) {
        return;
    }
    // Lines held while stdout lagged: take them again from the loop (a
    // flush can come from deep inside a request), not from here.
    if (self->rpos < self->rlen && socp_client_out_pending(&self->out) <= S_OUT_PAUSE &&
        !socp_client_route_busy(&self->route, self->args->crypto_workers) && !self->take_timer) {
        self->take_timer = socp_actor_timer_add(self->ctx, 0, 0, s_on_take, self);
    }
    bool want = self->rpos == self->rlen && socp_client_out_pending(&self->out) <= S_OUT_PAUSE;
    if (want != self->in_watched) {
        if (want) {
            socp_actor_watch_fd(self->ctx, self->args->in_fd, ZMQ_POLLIN, s_on_stdin, self);
        } else {
            socp_actor_unwatch_fd(self->ctx, self->args->in_fd);
        }
        self->in_watched = want;
    }
}

static void
s_out_line(s_bridge_t *self, const json_t *v)
{
    char *s = json_dumps(v, JSON_COMPACT);
    if (!s) {
        return;
    }
    socp_client_out_append(&self->out, s, strlen(s));
    socp_client_out_append(&self->out, "\n", 1);
    free(s);
    s_out_flush(self);
}

// Serialises v for ZeroMQ (msgpack or JSON). Caller frees *out.
static int
s_wire_encode(s_bridge_t *self, const json_t *v, char **out, size_t *len)
{
    if (self->json_wire) {
        *out = json_dumps(v, JSON_COMPACT);
        *len = *out ? strlen(*out) : 0;
        return *out ? 0 : SOCP_ENOMEM;
    }
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    msgpack_packer pk;
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    socp_bridge_mp_pack(&pk, v);
    *out = sb.data; // sbuffer memory is malloc'ed
    *len = sb.size;
    return 0;
}

static void
s_zmq_reply(s_bridge_t *self, const s_origin_t *o, const json_t *v)
{
    char *data = NULL;
    size_t len = 0;
    if (!self->router || s_wire_encode(self, v, &data, &len) != 0) {
        return;
    }
    bool ok = zmq_send(self->router, o->rid, o->rid_len, ZMQ_SNDMORE | ZMQ_DONTWAIT) >= 0;
    if (ok && o->delim) {
        ok = zmq_send(self->router, "", 0, ZMQ_SNDMORE | ZMQ_DONTWAIT) >= 0;
    }
    ok = ok && zmq_send(self->router, data, len, ZMQ_DONTWAIT) >= 0;
    if (!ok) {
        self->replies_dropped++; // the peer left or does not read its replies
    }
    free(data);
}

static void
s_reply(s_bridge_t *self, const s_origin_t *o, json_t *result_or_error, bool is_error)
{
    json_t *r = json_object();
    json_object_set_new(r, "jsonrpc", json_string("2.0"));
    json_object_set_new(r, is_error ? "error" : "result", result_or_error);
    json_object_set(r, "id", o->id ? o->id : json_null());
    if (o->src == S_SRC_STDIO) {
        s_out_line(self, r);
    } else {
        s_zmq_reply(self, o, r);
    }
    json_decref(r);
}

static void
s_ok(s_bridge_t *self, const s_origin_t *o, json_t *result)
{
    if (!o->id) {
        json_decref(result);
        return;
    }
    s_reply(self, o, result, false);
}

static void s_fail(s_bridge_t *self, const s_origin_t *o, int code, const char *fmt, ...)
    SOCP_PRINTF(4, 5);

static void
s_fail(s_bridge_t *self, const s_origin_t *o, int code, const char *fmt, ...)
{
    self->n_errors++;
    if (code == SOCP_BRIDGE_BUSY) {
        self->n_busy++;
    }
    // Parse errors and invalid requests are answered even without an id.
    if (!o->id && code != SOCP_BRIDGE_PARSE_ERROR && code != SOCP_BRIDGE_INVALID_REQUEST) {
        return;
    }
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    json_t *e = json_pack("{s:i,s:s}", "code", code, "message", msg);
    s_reply(self, o, e, true);
}

static void
s_origin_fini(s_origin_t *o)
{
    json_decref(o->id);
    o->id = NULL;
}

// Publishes a notification on every front end.
static void
s_event(s_bridge_t *self, const char *method, json_t *params)
{
    json_t *n = json_object();
    json_object_set_new(n, "jsonrpc", json_string("2.0"));
    json_object_set_new(n, "method", json_string(method));
    json_object_set_new(n, "params", params);
    self->n_events++;
    if (self->args->use_stdio) {
        if (socp_client_out_pending(&self->out) > S_OUT_EVENTS_CAP) {
            self->ev_dropped_stdio++;
        } else {
            s_out_line(self, n);
        }
    }
    if (self->xpub) {
        char *data = NULL;
        size_t len = 0;
        if (s_wire_encode(self, n, &data, &len) == 0) {
            if (zmq_send(self->xpub, method, strlen(method), ZMQ_SNDMORE | ZMQ_DONTWAIT) < 0 ||
                zmq_send(self->xpub, data, len, ZMQ_DONTWAIT) < 0) {
                self->ev_dropped_zmq++; // a subscriber is full (ZMQ_XPUB_NODROP)
            }
            free(data);
        }
    }
    json_decref(n);
}

// A JSON string from bytes that came from outside: invalid UTF-8 is replaced.
static json_t *
s_jtext(const void *data, size_t len)
{
    if (socp_text_utf8_valid(data, len)) {
        return json_stringn(data ? data : "", len);
    }
    socp_buf_t b;
    socp_buf_init(&b);
    const uint8_t *p = data;
    for (size_t i = 0; i < len;) {
        uint32_t cp;
        size_t k = socp_text_utf8_decode(p + i, len - i, &cp);
        if (k == 0) {
            socp_buf_append(&b, "\xef\xbf\xbd", 3);
            i++;
        } else {
            socp_buf_append(&b, p + i, k);
            i += k;
        }
    }
    json_t *s = json_stringn(b.data ? (const char *) b.data : "", b.len);
    socp_buf_fini(&b);
    return s;
}

// ---- directory -----------------------------------------------------------------------


// By exact id, exact display name, or unique prefix of either.
static s_peer_t *
s_resolve(s_bridge_t *self, const char *who, int *hits_out)
{
    return socp_client_peer_resolve(self->peers, self->npeers, who, hits_out);
}

static void
s_on_peer(s_bridge_t *self, const socp_msg_cli_peer_t *p)
{
    bool was_online = false;
    s_peer_t *e = socp_client_peer_update(self->peers, &self->npeers, S_PEERS_MAX, p, &was_online);
    if (!e) {
        return;
    }
    if (strcmp(p->user_id, self->args->user_id) != 0 && p->online != was_online) {
        s_event(self, "presence",
                json_pack("{s:s,s:s,s:o,s:b}", "event", p->online ? "joined" : "left", "user",
                          e->id, "name", s_jtext(e->name, strlen(e->name)), "keyRefused",
                          e->status == 2));
    }
    if (p->status == 2) {
        s_event(self, "error",
                json_pack("{s:s,s:s,s:s}", "code", "KEY_CHANGED", "detail",
                          "the server announced a new key for this user; refused (TOFU)", "user",
                          e->id));
    }
}

// ---- sending -------------------------------------------------------------------------

static s_group_t *
s_group_new(s_bridge_t *self, uint64_t count, const s_origin_t *o, json_t *result)
{
    s_group_t *g = &self->groups[self->ngroups++];
    *g = (s_group_t){.first = self->next_local, .count = count, .origin = *o, .result = result};
    g->origin.id = o->id ? json_incref(o->id) : NULL;
    self->next_local += count;
    self->inflight += count;
    return g;
}

static bool
s_room(s_bridge_t *self, const s_origin_t *o, uint64_t pieces)
{
    size_t cap = self->args->max_inflight ? self->args->max_inflight : 4096;
    if (self->ngroups == S_GROUPS_MAX || self->inflight + pieces > cap) {
        s_fail(self, o, SOCP_BRIDGE_BUSY,
               "busy: %llu items wait to be stored; retry after a reply arrives",
               (unsigned long long) self->inflight);
        return false;
    }
    return true;
}

static void
s_send_piece(s_bridge_t *self,
             uint8_t kind,
             uint64_t local_id,
             const char *to,
             const char *pub,
             const void *data,
             size_t len,
             const char *meta,
             uint64_t index,
             int64_t ts)
{
    // Every core signs, even for one recipient: the store restores the order.
    char worker[SOCP_ACTOR_NAME_MAX + 1];
    socp_msg_t m = socp_msg_make(SOCP_MSG_CLI_SEND);
    m.body.cli_send.order =
        socp_client_route(&self->route, kind, to, self->args->crypto_workers, worker);
    m.body.cli_send.kind = kind;
    m.body.cli_send.local_id = local_id;
    m.body.cli_send.to = to;
    m.body.cli_send.to_pub = pub;
    m.body.cli_send.data = (socp_bin_t){data, len};
    m.body.cli_send.meta = meta ? meta : "";
    m.body.cli_send.index = index;
    m.body.cli_send.ts = ts;
    m.body.cli_send.conv = kind == SOCP_CLIENT_KIND_PUBLIC ? "public" : to;
    (void) socp_actor_send(self->ctx, worker, &m);
}

// Looks a recipient up and checks its key; answers the error itself.
static s_peer_t *
s_recipient(s_bridge_t *self, const s_origin_t *o, const char *who)
{
    int hits = 0;
    s_peer_t *p = s_resolve(self, who, &hits);
    if (!p) {
        s_fail(self, o, SOCP_BRIDGE_UNKNOWN_USER,
               hits ? "\"%s\" matches %d users; use the user id" : "no user \"%s\" is known", who,
               hits);
        return NULL;
    }
    if (p->status == 2) {
        s_fail(self, o, SOCP_BRIDGE_NO_KEY, "%s's key changed and was refused; not sending", p->id);
        return NULL;
    }
    if (!p->pub || !*p->pub) {
        s_fail(self, o, SOCP_BRIDGE_NO_KEY, "no key known for %s", p->id);
        return NULL;
    }
    return p;
}

static bool
s_split(s_bridge_t *self, const s_origin_t *o, const char *text, socp_text_pieces_t *pieces)
{
    size_t len = strlen(text);
    if (len == 0 || len > S_TEXT_MAX) {
        s_fail(self, o, SOCP_BRIDGE_INVALID_PARAMS, "text must be 1..%u bytes", S_TEXT_MAX);
        return false;
    }
    if (socp_text_split(text, len, SOCP_TEXT_PIECE_MAX, pieces) != 0 || pieces->count == 0) {
        s_fail(self, o, SOCP_BRIDGE_INVALID_PARAMS, "text is not valid UTF-8");
        return false;
    }
    return true;
}

static void
s_m_send(s_bridge_t *self, const s_origin_t *o, const char *to, const char *text)
{
    s_peer_t *p = s_recipient(self, o, to);
    socp_text_pieces_t pieces = {0};
    if (!p || !s_split(self, o, text, &pieces)) {
        return;
    }
    if (s_room(self, o, pieces.count)) {
        s_group_t *g = s_group_new(self, pieces.count, o,
                                   json_pack("{s:b,s:s,s:I}", "accepted", 1, "to", p->id, "pieces",
                                             (json_int_t) pieces.count));
        int64_t ts = socp_wall_ms();
        for (size_t i = 0; i < pieces.count; i++) {
            s_send_piece(self, SOCP_CLIENT_KIND_DM, g->first + i, p->id, p->pub,
                         text + pieces.items[i].offset, pieces.items[i].len, NULL, 0,
                         ts + (int64_t) i);
        }
    }
    socp_text_pieces_fini(&pieces);
}

static bool
s_member(s_bridge_t *self, const s_peer_t *p)
{
    return p->online && p->status != 2 && strcmp(p->id, self->args->user_id) != 0 && p->pub &&
           *p->pub;
}

static void
s_m_broadcast(s_bridge_t *self, const s_origin_t *o, const char *text)
{
    socp_text_pieces_t pieces = {0};
    if (!s_split(self, o, text, &pieces)) {
        return;
    }
    size_t members = 0;
    for (size_t i = 0; i < self->npeers; i++) {
        members += s_member(self, &self->peers[i]);
    }
    if (members == 0) {
        s_ok(self, o, json_pack("{s:b,s:i}", "accepted", 1, "recipients", 0));
    } else if (s_room(self, o, members * pieces.count)) {
        s_group_t *g =
            s_group_new(self, members * pieces.count, o,
                        json_pack("{s:b,s:I}", "accepted", 1, "recipients", (json_int_t) members));
        int64_t ts = socp_wall_ms();
        uint64_t id = g->first;
        for (size_t i = 0; i < self->npeers; i++) {
            s_peer_t *p = &self->peers[i];
            if (!s_member(self, p)) {
                continue;
            }
            for (size_t k = 0; k < pieces.count; k++) {
                s_send_piece(self, SOCP_CLIENT_KIND_PUBLIC, id++, p->id, p->pub,
                             text + pieces.items[k].offset, pieces.items[k].len, NULL, 0,
                             ts + (int64_t) k);
            }
        }
    }
    socp_text_pieces_fini(&pieces);
}

static int s_on_file_tick(socp_actor_ctx_t *ctx, int timer_id, void *arg);

static void
s_m_send_file(s_bridge_t *self, const s_origin_t *o, const char *to, const char *path)
{
    if (self->file.fd >= 0) {
        s_fail(self, o, SOCP_BRIDGE_BUSY, "a file is already being sent; retry when it is done");
        return;
    }
    s_peer_t *p = s_recipient(self, o, to);
    if (!p) {
        return;
    }
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        s_fail(self, o, SOCP_BRIDGE_FILE, "cannot read %s: %s", path,
               fd < 0 ? strerror(errno) : "not a regular file");
        if (fd >= 0) {
            close(fd);
        }
        return;
    }
    uint64_t chunks = ((uint64_t) st.st_size + SOCP_TEXT_PIECE_MAX - 1) / SOCP_TEXT_PIECE_MAX;
    if ((uint64_t) st.st_size > S_FILE_MAX) {
        s_fail(self, o, SOCP_BRIDGE_FILE, "%s is larger than the 256 MiB limit", path);
        close(fd);
        return;
    }
    if (self->ngroups == S_GROUPS_MAX) {
        s_fail(self, o, SOCP_BRIDGE_BUSY, "busy: too many requests wait to be stored");
        close(fd);
        return;
    }
    crypto_hash_sha256_state sha;
    crypto_hash_sha256_init(&sha);
    uint8_t buf[65536];
    uint64_t total = 0;
    ssize_t n;
    while ((n = read(fd, buf, sizeof buf)) > 0) {
        crypto_hash_sha256_update(&sha, buf, (size_t) n);
        total += (uint64_t) n;
    }
    if (n < 0 || total != (uint64_t) st.st_size || lseek(fd, 0, SEEK_SET) != 0) {
        s_fail(self, o, SOCP_BRIDGE_FILE, "cannot read %s (changed while reading?)", path);
        close(fd);
        return;
    }
    uint8_t digest[32];
    char hex[65];
    crypto_hash_sha256_final(&sha, digest);
    sodium_bin2hex(hex, sizeof hex, digest, sizeof digest);
    s_outfile_t *f = &self->file;
    memset(f, 0, sizeof *f);
    f->fd = fd;
    socp_uuid_generate(f->file_id);
    snprintf(f->to, sizeof f->to, "%s", p->id);
    f->to_pub = socp_strdup(p->pub);
    const char *base = strrchr(path, '/') ? strrchr(path, '/') + 1 : path;
    socp_client_sanitize_name(base, f->name, sizeof f->name);
    f->size = total;
    // File pieces are paced, not counted against max_inflight up front.
    s_group_t *g = s_group_new(self, chunks + 2, o,
                               json_pack("{s:b,s:s,s:s,s:s,s:I,s:s}", "accepted", 1, "to", p->id,
                                         "fileId", f->file_id, "name", f->name, "size",
                                         (json_int_t) total, "sha256", hex));
    f->group = g->first;
    char meta[512];
    snprintf(meta, sizeof meta,
             "{\"file_id\":\"%s\",\"name\":\"%s\",\"size\":%llu,\"sha256\":\"%s\"}", f->file_id,
             f->name, (unsigned long long) total, hex);
    s_send_piece(self, SOCP_CLIENT_KIND_FILE_START, f->group, p->id, p->pub, NULL, 0, meta, 0,
                 socp_wall_ms());
    socp_client_pacer_start(&self->pacer, socp_now_ms());
    f->timer = socp_actor_timer_add(self->ctx, 0, 5, s_on_file_tick, self);
}

static int
s_on_file_tick(socp_actor_ctx_t *ctx, int timer_id, void *arg)
{
    SOCP_UNUSED(timer_id);
    s_bridge_t *self = arg;
    s_outfile_t *f = &self->file;
    if (f->fd < 0) {
        return 0;
    }
    char worker[SOCP_ACTOR_NAME_MAX + 1];
    socp_client_shard(f->to, self->args->crypto_workers, worker);
    if (socp_actor_queued(ctx, worker) > 0) {
        return 0;
    }
    int budget = socp_client_pacer_take(&self->pacer, socp_now_ms(), S_CHUNKS_TICK);
    for (int i = 0; i < budget && f->sent < f->size; i++) {
        uint8_t buf[SOCP_TEXT_PIECE_MAX];
        size_t want = f->size - f->sent < sizeof buf ? (size_t) (f->size - f->sent) : sizeof buf;
        ssize_t n = read(f->fd, buf, want);
        if (n <= 0) {
            socp_warn("bridge: reading %s failed; transfer cut short", f->name);
            f->sent = f->size;
            break;
        }
        s_send_piece(self, SOCP_CLIENT_KIND_FILE_CHUNK, f->group + 1 + f->index, f->to, f->to_pub,
                     buf, (size_t) n, f->file_id, f->index, socp_wall_ms());
        sodium_memzero(buf, sizeof buf);
        f->index++;
        f->sent += (uint64_t) n;
    }
    if (f->sent >= f->size) {
        s_send_piece(self, SOCP_CLIENT_KIND_FILE_END, f->group + 1 + f->index, f->to, f->to_pub,
                     NULL, 0, f->file_id, 0, socp_wall_ms());
        for (size_t i = 0; i < self->ngroups; i++) {
            s_group_t *g = &self->groups[i];
            if (g->first == f->group && g->count != f->index + 2) {
                self->inflight -= g->count - (f->index + 2); // a short read
                g->count = f->index + 2;
            }
        }
        socp_actor_timer_cancel(ctx, f->timer);
        close(f->fd);
        f->fd = -1;
        free(f->to_pub);
        f->to_pub = NULL;
        socp_client_pacer_done(&self->pacer, socp_now_ms());
    }
    return 0;
}

static void
s_on_accepted(s_bridge_t *self, const socp_msg_cli_accepted_t *a)
{
    if (a->local_id == 0 && a->seq == 0 && a->status == 0) {
        self->pending = a->pending;
        return;
    }
    if (a->status == 0) {
        self->pending = a->pending;
    }
    for (size_t i = 0; i < self->ngroups; i++) {
        s_group_t *g = &self->groups[i];
        if (a->local_id < g->first || a->local_id >= g->first + g->count) {
            continue;
        }
        g->done++;
        if (self->inflight) {
            self->inflight--;
        }
        if (a->status != 0 && !g->failed) {
            g->failed = (int) a->status;
        }
        bool file_running = self->file.fd >= 0 && self->file.group == g->first;
        if (g->done >= g->count && !file_running) {
            if (g->failed) {
                json_decref(g->result);
                s_fail(self, &g->origin, SOCP_BRIDGE_NOT_SENT, "not sent: %s",
                       g->failed == SOCP_EBADKEY ? "the recipient's key is unusable"
                                                 : socp_strerror(g->failed));
            } else {
                s_ok(self, &g->origin, g->result);
            }
            s_origin_fini(&g->origin);
            self->groups[i] = self->groups[--self->ngroups];
        }
        return;
    }
}

// ---- the other methods ---------------------------------------------------------------

static json_t *
s_user_json(s_bridge_t *self, const s_peer_t *p)
{
    return json_pack("{s:s,s:o,s:b,s:b,s:b}", "id", p->id, "name",
                     s_jtext(p->name, strlen(p->name)), "online", p->online, "self",
                     strcmp(p->id, self->args->user_id) == 0, "keyRefused", p->status == 2);
}

static void
s_m_list(s_bridge_t *self, const s_origin_t *o)
{
    json_t *a = json_array();
    for (size_t i = 0; i < self->npeers; i++) {
        if (self->peers[i].online) {
            json_array_append_new(a, s_user_json(self, &self->peers[i]));
        }
    }
    s_ok(self, o, a);
}

static void
s_m_history(s_bridge_t *self, const s_origin_t *o, const char *peer, json_int_t limit)
{
    char id[129] = "";
    if (peer && (strcmp(peer, "public") == 0 || strcmp(peer, "all") == 0)) {
        snprintf(id, sizeof id, "public");
    } else if (peer && *peer) {
        int hits = 0;
        s_peer_t *p = s_resolve(self, peer, &hits);
        if (p) {
            snprintf(id, sizeof id, "%s", p->id);
        } else if (strlen(peer) <= 128 && socp_uuid_is_peer_id(peer, strlen(peer))) {
            snprintf(id, sizeof id, "%s", peer); // not online now: history by id
        } else {
            s_fail(self, o, SOCP_BRIDGE_UNKNOWN_USER, "no user \"%s\" is known", peer);
            return;
        }
    }
    if (self->hist_n == S_HIST_Q_MAX) {
        s_fail(self, o, SOCP_BRIDGE_BUSY, "busy: too many history requests waiting");
        return;
    }
    s_origin_t *q = &self->hist_q[self->hist_n++];
    *q = *o;
    q->id = o->id ? json_incref(o->id) : NULL;
    socp_msg_t m = socp_msg_make(SOCP_MSG_CLI_HISTORY_REQ);
    m.body.cli_history_req.peer = id;
    m.body.cli_history_req.limit = (uint32_t) limit;
    (void) socp_actor_send(self->ctx, "store", &m);
}

static const char *
s_trust(uint8_t status)
{
    switch (status) {
        case SOCP_CLIENT_TRUST_VERIFIED:
            return "verified";
        case SOCP_CLIENT_TRUST_UNVERIFIED:
            return "unverified";
        case SOCP_CLIENT_TRUST_PLAINTEXT:
            return "plaintext";
        case SOCP_CLIENT_TRUST_UNREADABLE:
            return "unreadable";
        default:
            return "key-changed";
    }
}

static json_t *
s_show_json(s_bridge_t *self, const socp_msg_cli_show_t *s)
{
    bool pub = s->kind == SOCP_CLIENT_KIND_PUBLIC;
    const char *from = s->outgoing ? self->args->user_id : s->from;
    const char *to = pub ? "public" : s->outgoing ? s->peer : self->args->user_id;
    bool unreadable = s->status == SOCP_CLIENT_TRUST_UNREADABLE;
    return json_pack("{s:s,s:s,s:o,s:I,s:b,s:s,s:s,s:s}", "from", from, "to", to, "text",
                     unreadable ? json_string("") : s_jtext(s->text.data, s->text.len), "ts",
                     (json_int_t) s->ts, "verified", s->status == SOCP_CLIENT_TRUST_VERIFIED,
                     "channel", pub ? "public" : "dm", "trust", s_trust(s->status), "form",
                     s->form ? s->form : "");
}

static void
s_on_show(s_bridge_t *self, const socp_msg_cli_show_t *s)
{
    if (s->history) {
        if (self->hist_n) {
            if (!self->hist_rows) {
                self->hist_rows = json_array();
            }
            json_t *row = s_show_json(self, s);
            json_object_set_new(row, "outgoing", json_boolean(s->outgoing));
            json_array_append_new(self->hist_rows, row);
        }
        return;
    }
    if (s->outgoing) {
        return; // our own items are answered by the send reply
    }
    s_event(self, "message", s_show_json(self, s));
}

static void
s_on_note(s_bridge_t *self, const socp_msg_cli_note_t *n)
{
    if (strcmp(n->text, "-- end of history --") == 0 && self->hist_n) {
        s_origin_t o = self->hist_q[0];
        memmove(self->hist_q, self->hist_q + 1, (self->hist_n - 1) * sizeof *self->hist_q);
        self->hist_n--;
        s_ok(self, &o, self->hist_rows ? self->hist_rows : json_array());
        self->hist_rows = NULL;
        s_origin_fini(&o);
        return;
    }
    if (n->level == 0) {
        socp_info("bridge: %s", n->text);
        return;
    }
    // "server error USER_NOT_FOUND: ..." -> code USER_NOT_FOUND
    char code[64] = "CLIENT";
    const char *p = strstr(n->text, "server error ");
    if (p) {
        p += strlen("server error ");
        size_t k = strspn(p, "ABCDEFGHIJKLMNOPQRSTUVWXYZ_0123456789");
        if (k > 0 && k < sizeof code) {
            memcpy(code, p, k);
            code[k] = '\0';
        }
    } else if (n->level == 3) {
        snprintf(code, sizeof code, "ALARM");
    }
    s_event(self, "error",
            json_pack("{s:s,s:o,s:s}", "code", code, "detail", s_jtext(n->text, strlen(n->text)),
                      "level", n->level == 1 ? "warning" : "error"));
}

static void
s_on_file(s_bridge_t *self, const socp_msg_cli_file_t *f)
{
    if (f->status == 1) {
        char hex[65] = "";
        int fd = open(f->path, O_RDONLY | O_CLOEXEC);
        if (fd >= 0) {
            crypto_hash_sha256_state sha;
            crypto_hash_sha256_init(&sha);
            uint8_t buf[65536];
            ssize_t n;
            while ((n = read(fd, buf, sizeof buf)) > 0) {
                crypto_hash_sha256_update(&sha, buf, (size_t) n);
            }
            close(fd);
            uint8_t d[32];
            crypto_hash_sha256_final(&sha, d);
            sodium_bin2hex(hex, sizeof hex, d, sizeof d);
        }
        s_event(self, "file",
                json_pack("{s:s,s:s,s:s,s:o,s:o,s:I,s:s}", "event", "received", "from", f->peer,
                          "fileId", f->file_id, "name", s_jtext(f->name, strlen(f->name)), "path",
                          s_jtext(f->path, strlen(f->path)), "size", (json_int_t) f->total,
                          "sha256", hex));
    } else if (f->status < 0) {
        s_event(self, "file",
                json_pack("{s:s,s:s,s:s,s:o,s:o}", "event", "failed", "from", f->peer, "fileId",
                          f->file_id, "name", s_jtext(f->name, strlen(f->name)), "detail",
                          s_jtext(f->detail, strlen(f->detail))));
    } else if (f->done == 0) {
        s_event(self, "file",
                json_pack("{s:s,s:s,s:s,s:o,s:I}", "event", "receiving", "from", f->peer, "fileId",
                          f->file_id, "name", s_jtext(f->name, strlen(f->name)), "size",
                          (json_int_t) f->total));
    }
}

static json_t *
s_stats_json(s_bridge_t *self)
{
    return json_pack(
        "{s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:b,s:I,s:I}", "requests",
        (json_int_t) self->n_requests, "errors", (json_int_t) self->n_errors, "busy",
        (json_int_t) self->n_busy, "events", (json_int_t) self->n_events, "eventsDropped",
        (json_int_t) (self->ev_dropped_zmq + self->ev_dropped_stdio), "eventsDroppedZmq",
        (json_int_t) self->ev_dropped_zmq, "eventsDroppedStdio",
        (json_int_t) self->ev_dropped_stdio, "repliesDropped", (json_int_t) self->replies_dropped,
        "inflight", (json_int_t) self->inflight, "outboxPending",
        (json_int_t) (self->pending == UINT64_MAX ? 0 : self->pending), "connected", self->link_up,
        "rateLimited", (json_int_t) self->n_slowdowns, "fileRate", (json_int_t) self->pacer.rate);
}

// ---- request dispatch ----------------------------------------------------------------

// Fetches a string param; answers -32602 and returns NULL when absent/wrong.
static const char *
s_pstr(s_bridge_t *self, const s_origin_t *o, json_t *params, const char *name, bool required)
{
    json_t *v = params ? json_object_get(params, name) : NULL;
    if (!v && !required) {
        return "";
    }
    if (!v || !json_is_string(v)) {
        s_fail(self, o, SOCP_BRIDGE_INVALID_PARAMS, "param \"%s\" must be a string", name);
        return NULL;
    }
    if (strlen(json_string_value(v)) != json_string_length(v)) {
        s_fail(self, o, SOCP_BRIDGE_INVALID_PARAMS, "param \"%s\" contains a NUL", name);
        return NULL;
    }
    return json_string_value(v);
}

static void
s_dispatch(s_bridge_t *self, const s_origin_t *o, const char *method, json_t *params)
{
    const char *a, *b;
    if (strcmp(method, "send") == 0) {
        if ((a = s_pstr(self, o, params, "to", true)) &&
            (b = s_pstr(self, o, params, "text", true))) {
            s_m_send(self, o, a, b);
        }
    } else if (strcmp(method, "broadcast") == 0) {
        if ((a = s_pstr(self, o, params, "text", true))) {
            s_m_broadcast(self, o, a);
        }
    } else if (strcmp(method, "sendFile") == 0) {
        if ((a = s_pstr(self, o, params, "to", true)) &&
            (b = s_pstr(self, o, params, "path", true))) {
            s_m_send_file(self, o, a, b);
        }
    } else if (strcmp(method, "listUsers") == 0) {
        s_m_list(self, o);
    } else if (strcmp(method, "history") == 0) {
        json_t *l = params ? json_object_get(params, "limit") : NULL;
        if (l &&
            (!json_is_integer(l) || json_integer_value(l) < 1 || json_integer_value(l) > 10000)) {
            s_fail(self, o, SOCP_BRIDGE_INVALID_PARAMS,
                   "param \"limit\" must be an integer 1..10000");
        } else if ((a = s_pstr(self, o, params, "peer", false))) {
            s_m_history(self, o, a, l ? json_integer_value(l) : 20);
        }
    } else if (strcmp(method, "whoami") == 0) {
        s_ok(self, o,
             json_pack("{s:s,s:o,s:s,s:s,s:b,s:s}", "id", self->args->user_id, "name",
                       s_jtext(self->nick, strlen(self->nick)), "fingerprint",
                       self->args->fingerprint, "server", self->args->server_url, "connected",
                       self->link_up, "dataDir", self->args->data_dir));
    } else if (strcmp(method, "setDisplayName") == 0) {
        if ((a = s_pstr(self, o, params, "name", true))) {
            if (!*a || strlen(a) > 64 || !socp_uuid_is_peer_id(a, strlen(a))) {
                s_fail(self, o, SOCP_BRIDGE_INVALID_PARAMS,
                       "param \"name\" must be 1-64 printable characters");
                return;
            }
            snprintf(self->nick, sizeof self->nick, "%s", a);
            socp_msg_t m = socp_msg_make(SOCP_MSG_CLI_SETTING);
            m.body.cli_setting.key = "nick";
            m.body.cli_setting.value = self->nick;
            (void) socp_actor_send(self->ctx, "store", &m);
            s_ok(self, o, json_pack("{s:s}", "name", self->nick));
        }
    } else if (strcmp(method, "stats") == 0) {
        s_ok(self, o, s_stats_json(self));
    } else {
        s_fail(self, o, SOCP_BRIDGE_METHOD_NOT_FOUND, "unknown method \"%.64s\"", method);
    }
}

// Validates one request object and runs it. Takes a reference to req.
static void
s_request(s_bridge_t *self, s_origin_t *o, json_t *req)
{
    self->n_requests++;
    o->id = NULL;
    if (!json_is_object(req)) {
        s_fail(self, o, SOCP_BRIDGE_INVALID_REQUEST,
               json_is_array(req) ? "batch requests are not supported" : "a request is an object");
        return;
    }
    json_t *id = json_object_get(req, "id");
    if (id && !json_is_string(id) && !json_is_integer(id) && !json_is_null(id) &&
        !json_is_real(id)) {
        s_fail(self, o, SOCP_BRIDGE_INVALID_REQUEST, "id must be a string, a number or null");
        return;
    }
    o->id = id ? json_incref(id) : NULL;
    json_t *ver = json_object_get(req, "jsonrpc");
    json_t *method = json_object_get(req, "method");
    json_t *params = json_object_get(req, "params");
    if (!ver || !json_is_string(ver) || strcmp(json_string_value(ver), "2.0") != 0) {
        s_fail(self, o, SOCP_BRIDGE_INVALID_REQUEST, "\"jsonrpc\" must be \"2.0\"");
    } else if (!method || !json_is_string(method)) {
        s_fail(self, o, SOCP_BRIDGE_INVALID_REQUEST, "\"method\" must be a string");
    } else if (params && !json_is_object(params) && !json_is_null(params)) {
        s_fail(self, o, SOCP_BRIDGE_INVALID_PARAMS, "params must be an object (by name)");
    } else {
        s_dispatch(self, o, json_string_value(method), json_is_object(params) ? params : NULL);
    }
    s_origin_fini(o);
}

static void
s_request_text(s_bridge_t *self, s_origin_t *o, const char *data, size_t len)
{
    json_error_t err;
    json_t *req = json_loadb(data, len, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, &err);
    if (!req) {
        self->n_requests++;
        o->id = NULL;
        s_fail(self, o, SOCP_BRIDGE_PARSE_ERROR, "parse error at byte %d: %s", err.position,
               err.text);
        return;
    }
    s_request(self, o, req);
    json_decref(req);
}

// ---- stdio ---------------------------------------------------------------------------

static void
s_stdio_line(s_bridge_t *self, char *line, size_t len)
{
    while (len > 0 && (line[len - 1] == '\r' || line[len - 1] == ' ' || line[len - 1] == '\t')) {
        len--;
    }
    size_t skip = 0;
    while (skip < len && (line[skip] == ' ' || line[skip] == '\t')) {
        skip++;
    }
    if (skip == len) {
        return; // blank line
    }
    s_origin_t o = {.src = S_SRC_STDIO};
    s_request_text(self, &o, line + skip, len - skip);
}

static bool
s_idle(s_bridge_t *self)
{
    return self->ngroups == 0 && self->file.fd < 0 && self->pending == 0 && self->hist_n == 0 &&
           socp_client_out_pending(&self->out) == 0;
}

static int
s_on_drain(socp_actor_ctx_t *ctx, int timer_id, void *arg)
{
    SOCP_UNUSED(ctx);
    SOCP_UNUSED(timer_id);
    s_bridge_t *self = arg;
    if (s_idle(self)) {
        return SOCP_ACTOR_STOP;
    }
    if (socp_now_ms() - self->eof_ms > S_DRAIN_MS) {
        socp_warn("bridge: %llu item(s) not written yet; they stay in the outbox",
                  (unsigned long long) (self->pending == UINT64_MAX ? 0 : self->pending));
        return SOCP_ACTOR_STOP;
    }
    return 0;
}

static int
s_on_stdin(socp_actor_ctx_t *ctx, int fd, short revents, void *arg)
{
    SOCP_UNUSED(revents);
    s_bridge_t *self = arg;
    ssize_t n = read(fd, self->rbuf, S_RBUF);
    if (n < 0 && (errno == EINTR || errno == EAGAIN || errno == EWOULDBLOCK)) {
        return 0;
    }
    if (n <= 0) {
        socp_actor_unwatch_fd(ctx, fd);
        self->in_watched = false;
        self->eof = true;
        self->eof_ms = socp_now_ms();
        if (self->in_len > 0 && !self->discarding) {
            s_stdio_line(self, self->in, self->in_len);
        }
        self->in_len = 0;
        if (!self->router) {
            self->drain_timer = socp_actor_timer_add(ctx, 10, 10, s_on_drain, self);
        }
        return 0;
    }
    self->rlen = (size_t) n;
    self->rpos = 0;
    s_take_lines(self);
    return 0;
}

// Takes the lines read so far, one request at a time, until the crypto
// workers have a full window or stdout lags; then stdin waits unread.
static void
s_take_lines(s_bridge_t *self)
{
    const char *buf = self->rbuf;
    while (self->rpos < self->rlen &&
           !socp_client_route_busy(&self->route, self->args->crypto_workers) &&
           socp_client_out_pending(&self->out) <= S_OUT_PAUSE) {
        size_t i = self->rpos;
        const char *nl = memchr(buf + i, '\n', self->rlen - i);
        size_t chunk = nl ? (size_t) (nl - (buf + i)) : self->rlen - i;
        if (!self->discarding) {
            if (self->in_len + chunk > SOCP_BRIDGE_LINE_MAX) {
                self->discarding = true; // answered when the line ends
                self->in_len = 0;
            } else {
                memcpy(self->in + self->in_len, buf + i, chunk);
                self->in_len += chunk;
            }
        }
        self->rpos = i + chunk;
        if (nl) {
            self->rpos++;
            if (self->discarding) {
                self->discarding = false;
                s_origin_t o = {.src = S_SRC_STDIO};
                self->n_requests++;
                s_fail(self, &o, SOCP_BRIDGE_INVALID_REQUEST,
                       "request line longer than %u bytes; discarded", SOCP_BRIDGE_LINE_MAX);
            } else {
                s_stdio_line(self, self->in, self->in_len);
            }
            self->in_len = 0;
        }
    }
    s_in_update(self);
}

// ---- zeromq --------------------------------------------------------------------------

static void
s_zmq_request(s_bridge_t *self, zmq_msg_t *parts, int nparts)
{
    s_origin_t o = {.src = S_SRC_ZMQ};
    size_t rl = zmq_msg_size(&parts[0]);
    if (rl == 0 || rl > S_RID_MAX) {
        return; // ROUTER always gives a routing id; nothing to answer otherwise
    }
    memcpy(o.rid, zmq_msg_data(&parts[0]), rl);
    o.rid_len = rl;
    zmq_msg_t *payload = &parts[nparts - 1];
    if (nparts == 3) {
        o.delim = true;
    }
    if (nparts < 2 || nparts > 3 || (nparts == 3 && zmq_msg_size(&parts[1]) != 0)) {
        self->n_requests++;
        o.delim = nparts == 3;
        s_fail(self, &o, SOCP_BRIDGE_INVALID_REQUEST,
               "a request is one payload frame (after an empty delimiter for REQ)");
        return;
    }
    const char *data = zmq_msg_data(payload);
    size_t len = zmq_msg_size(payload);
    if (len > SOCP_BRIDGE_LINE_MAX) {
        self->n_requests++;
        s_fail(self, &o, SOCP_BRIDGE_INVALID_REQUEST, "request larger than %u bytes",
               SOCP_BRIDGE_LINE_MAX);
        return;
    }
    if (self->json_wire) {
        s_request_text(self, &o, data, len);
        return;
    }
    msgpack_unpacked u;
    msgpack_unpacked_init(&u);
    size_t off = 0;
    json_t *req = NULL;
    if (socp_bridge_mp_check(data, len) &&
        msgpack_unpack_next(&u, data, len, &off) == MSGPACK_UNPACK_SUCCESS && off == len) {
        req = socp_bridge_mp_to_json(&u.data);
    }
    msgpack_unpacked_destroy(&u);
    if (!req) {
        self->n_requests++;
        s_fail(self, &o, SOCP_BRIDGE_PARSE_ERROR,
               "payload is not one msgpack value convertible to JSON");
        return;
    }
    s_request(self, &o, req);
    json_decref(req);
}

static void
s_zmq_drain(s_bridge_t *self)
{
    for (int turn = 0; self->router && turn < S_ZMQ_TURN; turn++) {
        if (socp_client_route_busy(&self->route, self->args->crypto_workers)) {
            // Requests wait in the ROUTER's queue until a CLI_DONE.
            if (!self->router_paused) {
                socp_actor_unwatch_sock(self->ctx, self->router);
                self->router_paused = true;
            }
            break;
        }
        int ev = 0;
        size_t sz = sizeof ev;
        if (zmq_getsockopt(self->router, ZMQ_EVENTS, &ev, &sz) != 0 || !(ev & ZMQ_POLLIN)) {
            break;
        }
        zmq_msg_t parts[4];
        int n = 0;
        int more = 1;
        while (more) {
            zmq_msg_t m;
            zmq_msg_init(&m);
            if (zmq_msg_recv(&m, self->router, ZMQ_DONTWAIT) < 0) {
                zmq_msg_close(&m);
                break;
            }
            more = zmq_msg_more(&m);
            if (n < 4) {
                parts[n++] = m;
            } else {
                zmq_msg_close(&m);
                n = 5; // too many frames
                break;
            }
        }
        while (more) { // discard the rest of an over-long multipart
            zmq_msg_t m;
            zmq_msg_init(&m);
            if (zmq_msg_recv(&m, self->router, ZMQ_DONTWAIT) < 0) {
                zmq_msg_close(&m);
                break;
            }
            more = zmq_msg_more(&m);
            zmq_msg_close(&m);
        }
        int kept = n > 4 ? 4 : n;
        if (n > 0) {
            s_zmq_request(self, parts, n > 4 ? 4 : n);
        }
        for (int i = 0; i < kept; i++) {
            zmq_msg_close(&parts[i]);
        }
    }
    // Subscriptions arrive on XPUB as messages. Each new one is answered
    // with a "subscribed" event, so a subscriber knows from when on it
    // receives everything (no slow-joiner guesswork).
    for (int turn = 0; self->xpub && turn < S_ZMQ_TURN; turn++) {
        char sub[256];
        int n = zmq_recv(self->xpub, sub, sizeof sub, ZMQ_DONTWAIT);
        if (n < 0) {
            break;
        }
        if (n >= 1 && sub[0] == 1) {
            size_t tlen = (size_t) n - 1 < sizeof sub - 1 ? (size_t) n - 1 : sizeof sub - 1;
            json_t *ev = json_pack("{s:s, s:s, s:{s:s%}}", "jsonrpc", "2.0", "method", "subscribed",
                                   "params", "topic", sub + 1, tlen);
            char *data = NULL;
            size_t len = 0;
            if (ev && s_wire_encode(self, ev, &data, &len) == 0) {
                if (zmq_send(self->xpub, "subscribed", 10, ZMQ_SNDMORE | ZMQ_DONTWAIT) < 0 ||
                    zmq_send(self->xpub, data, len, ZMQ_DONTWAIT) < 0) {
                    self->ev_dropped_zmq++;
                }
                free(data);
            }
            json_decref(ev);
        }
    }
}

// The ROUTER and XPUB are polled by the actor loop itself (level-triggered).
static int
s_on_zmq_sock(socp_actor_ctx_t *ctx, void *sock, short revents, void *arg)
{
    SOCP_UNUSED(ctx);
    SOCP_UNUSED(sock);
    SOCP_UNUSED(revents);
    s_zmq_drain(arg);
    return 0;
}

int
socp_bridge_pub_endpoint(const char *bind, char *out, size_t size)
{
    if (strncmp(bind, "ipc://", 6) == 0) {
        int n = snprintf(out, size, "%s.pub", bind);
        return n > 0 && (size_t) n < size ? 0 : SOCP_EINVAL;
    }
    if (strncmp(bind, "tcp://", 6) == 0) {
        const char *colon = strrchr(bind, ':');
        char *end;
        errno = 0;
        unsigned long port = colon ? strtoul(colon + 1, &end, 10) : 0;
        if (!colon || colon < bind + 6 || errno || *end || port == 0 || port >= 65535) {
            return SOCP_EINVAL;
        }
        int n = snprintf(out, size, "%.*s:%lu", (int) (colon - bind), bind, port + 1);
        return n > 0 && (size_t) n < size ? 0 : SOCP_EINVAL;
    }
    return SOCP_EINVAL;
}

static int
s_zmq_open(s_bridge_t *self)
{
    socp_bus_t *bus = socp_actor_bus(self->ctx);
    char pub[1024];
    const char *pub_ep = self->args->zmq_pub;
    if (!pub_ep) {
        if (socp_bridge_pub_endpoint(self->args->zmq_bind, pub, sizeof pub) != 0) {
            socp_error("bridge: cannot derive the events endpoint from %s; use --zmq-pub",
                       self->args->zmq_bind);
            return SOCP_EINVAL;
        }
        pub_ep = pub;
    }
    self->router = socp_sock_new(bus, ZMQ_ROUTER, 10000, "ui");
    self->xpub =
        socp_sock_new(bus, ZMQ_XPUB, self->args->event_hwm ? self->args->event_hwm : 10000, "ui");
    if (!self->router || !self->xpub) {
        return SOCP_EINIT;
    }
    int one = 1;
    int64_t maxmsg = 64ll << 20; // hard memory bound per message; 1 MiB answered in-band
    (void) zmq_setsockopt(self->router, ZMQ_ROUTER_MANDATORY, &one, sizeof one);
    (void) zmq_setsockopt(self->router, ZMQ_MAXMSGSIZE, &maxmsg, sizeof maxmsg);
    (void) zmq_setsockopt(self->xpub, ZMQ_XPUB_NODROP, &one, sizeof one);
    int64_t small = 4096;
    (void) zmq_setsockopt(self->xpub, ZMQ_MAXMSGSIZE, &small, sizeof small);
    if (zmq_bind(self->router, self->args->zmq_bind) != 0) {
        socp_error("bridge: cannot bind %s: %s", self->args->zmq_bind, zmq_strerror(errno));
        return SOCP_EIO;
    }
    if (zmq_bind(self->xpub, pub_ep) != 0) {
        socp_error("bridge: cannot bind %s: %s", pub_ep, zmq_strerror(errno));
        return SOCP_EIO;
    }
    socp_actor_watch_sock(self->ctx, self->router, ZMQ_POLLIN, s_on_zmq_sock, self);
    socp_actor_watch_sock(self->ctx, self->xpub, ZMQ_POLLIN, s_on_zmq_sock, self);
    socp_info("bridge: requests on %s, events on %s (%s)", self->args->zmq_bind, pub_ep,
              self->json_wire ? "json" : "msgpack");
    return 0;
}

// ---- bus messages --------------------------------------------------------------------

static int
s_on_msg(socp_actor_ctx_t *ctx, socp_msg_t *msg, void *arg)
{
    SOCP_UNUSED(ctx);
    s_bridge_t *self = arg;
    switch (msg->type) {
        case SOCP_MSG_CLI_ACCEPTED:
            s_on_accepted(self, &msg->body.cli_accepted);
            break;
        case SOCP_MSG_CLI_DONE:
            socp_client_route_done(&self->route, msg->body.cli_done.worker);
            if (socp_client_route_busy(&self->route, self->args->crypto_workers)) {
                break;
            }
            if (self->rpos < self->rlen) {
                s_take_lines(self);
            }
            if (self->router_paused) {
                self->router_paused = false;
                socp_actor_watch_sock(self->ctx, self->router, ZMQ_POLLIN, s_on_zmq_sock, self);
                s_zmq_drain(self);
            }
            break;
        case SOCP_MSG_CLI_SHOW:
            s_on_show(self, &msg->body.cli_show);
            break;
        case SOCP_MSG_CLI_PEER:
            s_on_peer(self, &msg->body.cli_peer);
            break;
        case SOCP_MSG_CLI_NOTE:
            s_on_note(self, &msg->body.cli_note);
            break;
        case SOCP_MSG_CLI_FILE:
            s_on_file(self, &msg->body.cli_file);
            break;
        case SOCP_MSG_CLI_RATE:
            // The server's ERROR itself went out as an "error" event (CLI_NOTE).
            self->n_slowdowns++;
            if (socp_client_pacer_slow_down(&self->pacer, socp_now_ms()) && self->pacer.active) {
                socp_warn("bridge: the server is rate-limiting us: file frames at %u/s",
                          (unsigned) self->pacer.rate);
            }
            break;
        case SOCP_MSG_CLI_LINK:
            if (msg->body.cli_link.up != self->link_up) {
                self->link_up = msg->body.cli_link.up;
                if (!self->link_up) {
                    for (size_t i = 0; i < self->npeers; i++) {
                        self->peers[i].online = false;
                    }
                }
                s_event(self, "link",
                        json_pack(
                            "{s:b,s:o}", "up", self->link_up, "detail",
                            s_jtext(msg->body.cli_link.detail, strlen(msg->body.cli_link.detail))));
            }
            break;
        case SOCP_MSG_CLI_SETTING:
            if (strcmp(msg->body.cli_setting.key, "nick") == 0) {
                snprintf(self->nick, sizeof self->nick, "%s", msg->body.cli_setting.value);
            }
            break;
        default:
            break;
    }
    if (self->router) {
        s_zmq_drain(self); // take what waits now rather than after the next poll
    }
    return 0;
}

static void
s_destroy(s_bridge_t *self)
{
    socp_bus_t *bus = socp_actor_bus(self->ctx);
    if (self->router) {
        socp_actor_unwatch_sock(self->ctx, self->router);
    }
    if (self->xpub) {
        socp_actor_unwatch_sock(self->ctx, self->xpub);
    }
    socp_sock_close(bus, &self->router);
    socp_sock_close(bus, &self->xpub);
    if (self->file.fd >= 0) {
        close(self->file.fd);
        free(self->file.to_pub);
    }
    socp_client_peers_fini(self->peers, self->npeers);
    for (size_t i = 0; i < self->ngroups; i++) {
        json_decref(self->groups[i].result);
        s_origin_fini(&self->groups[i].origin);
    }
    for (size_t i = 0; i < self->hist_n; i++) {
        s_origin_fini(&self->hist_q[i]);
    }
    json_decref(self->hist_rows);
    socp_client_out_fini(&self->out, 0); // (a no-op after the one at the end of run)
    free(self->in);
    free(self->rbuf);
    free(self);
}

int
socp_bridge_actor(socp_actor_ctx_t *ctx, void *args)
{
    s_bridge_t *self = socp_calloc(1, sizeof *self);
    self->args = args;
    self->ctx = ctx;
    self->next_local = 1;
    self->pending = UINT64_MAX;
    self->file.fd = -1;
    socp_client_pacer_init(&self->pacer, (double) self->args->file_rate);
    self->json_wire = self->args->zmq_json;
    socp_client_out_init(&self->out, self->args->out_fd, self->args->use_stdio);
    self->in = socp_malloc(SOCP_BRIDGE_LINE_MAX + 1);
    self->rbuf = socp_malloc(S_RBUF);
    if (self->args->zmq_bind) {
        int rc = s_zmq_open(self);
        if (rc != 0) {
            s_destroy(self);
            return rc;
        }
    }
    if (self->args->use_stdio) {
        socp_actor_watch_fd(ctx, self->args->in_fd, ZMQ_POLLIN, s_on_stdin, self);
        self->in_watched = true;
    }
    socp_actor_ready(ctx, 0);
    if (self->args->display_name && *self->args->display_name) {
        snprintf(self->nick, sizeof self->nick, "%s", self->args->display_name);
        socp_msg_t m = socp_msg_make(SOCP_MSG_CLI_SETTING);
        m.body.cli_setting.key = "nick";
        m.body.cli_setting.value = self->nick;
        (void) socp_actor_send(ctx, "store", &m);
    }
    int rc = socp_actor_run(ctx, s_on_msg, self);
    // Best effort, for 200 ms at most (the supervisor waits 300 ms): what is
    // still buffered for stdout. A reader that stopped reading must not keep
    // us from exiting.
    socp_client_out_fini(&self->out, self->args->use_stdio ? 200 : 0);
    s_destroy(self);
    return rc;
}
