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
//   (EAGAIN) and counted instead of vanishing. Both are bound as
//   socp_bridge_main resolved and allowed them (socp_bridge_sec.c: ipc
//   sockets 0600, CURVE servers with --zmq-curve); with a client list, a REP
//   socket at inproc://zeromq.zap.01, bound first, answers libzmq's ZAP
//   requests (listed CURVE keys only). Requests are read by the pure reader
//   socp_bridge_req.c; this file runs them. Also owns the directory of
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
// The methods themselves (send, history, ...) and the bus messages that
//   complete them live in socp_bridge_methods.c; shared state is in
//   socp_bridge_int.h.
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

#include "socp_bridge_int.h"


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

void
socp_bridge_ok(s_bridge_t *self, const s_origin_t *o, json_t *result)
{
    if (!o->id) {
        json_decref(result);
        return;
    }
    s_reply(self, o, result, false);
}

void
socp_bridge_fail(s_bridge_t *self, const s_origin_t *o, int code, const char *fmt, ...)
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

void
socp_bridge_origin_fini(s_origin_t *o)
{
    json_decref(o->id);
    o->id = NULL;
}

// Publishes a notification on every front end.
void
socp_bridge_event(s_bridge_t *self, const char *method, json_t *params)
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
json_t *
socp_bridge_jtext(const void *data, size_t len)
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
s_peer_t *
socp_bridge_resolve(s_bridge_t *self, const char *who, int *hits_out)
{
    return socp_client_peer_resolve(self->peers, self->npeers, who, hits_out);
}

static void
s_presence_event(s_bridge_t *self, const s_peer_t *e, bool online)
{
    json_t *ev =
        json_pack("{s:s,s:s,s:o,s:b}", "event", online ? "joined" : "left", "user", e->id, "name",
                  socp_bridge_jtext(e->name, strlen(e->name)), "keyRefused", e->status == 2);
    socp_bridge_user_keys(self, e, ev);
    socp_bridge_event(self, "presence", ev);
}

static void
s_on_peer(s_bridge_t *self, const socp_msg_cli_peer_t *p)
{
    bool was_online = false;
    s_peer_t *e = socp_client_peer_update(self->peers, &self->npeers, S_PEERS_MAX, p, &was_online);
    if (!e) {
        return;
    }
    // Before the link is up (the server's list arrives just before it), the
    // users online are announced with the link event instead.
    if (self->link_up && strcmp(p->user_id, self->args->user_id) != 0 && p->online != was_online) {
        s_presence_event(self, e, p->online);
    }
    if (p->status == 2) {
        socp_bridge_event(self, "error",
                          json_pack("{s:s,s:s,s:s}", "code", "KEY_CHANGED", "detail",
                                    "the server announced a new key for this user; refused (TOFU)",
                                    "user", e->id));
    }
}

// ---- request dispatch ----------------------------------------------------------------

// Runs one request the reader checked (socp_bridge_req.c), or answers its
// error. Consumes req.
static void
s_request(s_bridge_t *self, s_origin_t *o, socp_bridge_req_t *req)
{
    self->n_requests++;
    o->id = req->id ? json_incref(req->id) : NULL;
    switch (req->method) {
        case SOCP_BRIDGE_M_NONE:
            socp_bridge_fail(self, o, req->code, "%s", req->message);
            break;
        case SOCP_BRIDGE_M_SEND:
            socp_bridge_m_send(self, o, req->to, req->text);
            break;
        case SOCP_BRIDGE_M_BROADCAST:
            socp_bridge_m_broadcast(self, o, req->text);
            break;
        case SOCP_BRIDGE_M_SEND_FILE:
            socp_bridge_m_send_file(self, o, req->to, req->path);
            break;
        case SOCP_BRIDGE_M_LIST_USERS:
            socp_bridge_m_list(self, o);
            break;
        case SOCP_BRIDGE_M_HISTORY:
            socp_bridge_m_history(self, o, req->peer, req->limit);
            break;
        case SOCP_BRIDGE_M_WHOAMI:
            socp_bridge_ok(self, o,
                           json_pack("{s:s,s:o,s:s,s:s,s:b,s:s}", "id", self->args->user_id, "name",
                                     socp_bridge_jtext(self->nick, strlen(self->nick)),
                                     "fingerprint", self->args->fingerprint, "server",
                                     self->args->server_url, "connected", self->link_up, "dataDir",
                                     self->args->data_dir));
            break;
        case SOCP_BRIDGE_M_SET_DISPLAY_NAME: {
            snprintf(self->nick, sizeof self->nick, "%s", req->name);
            socp_msg_t m = socp_msg_make(SOCP_MSG_CLI_SETTING);
            m.body.cli_setting.key = "nick";
            m.body.cli_setting.value = self->nick;
            (void) socp_actor_send(self->ctx, "store", &m);
            socp_bridge_ok(self, o, json_pack("{s:s}", "name", self->nick));
            break;
        }
        case SOCP_BRIDGE_M_STATS:
            socp_bridge_ok(self, o, socp_bridge_stats_json(self));
            break;
    }
    socp_bridge_origin_fini(o);
    socp_bridge_req_fini(req);
}

// ---- stdio ---------------------------------------------------------------------------

static void
s_stdio_line(s_bridge_t *self, const char *line, size_t len)
{
    socp_bridge_req_t req;
    if (socp_bridge_req_line(line, len, &req)) {
        s_origin_t o = {.src = S_SRC_STDIO};
        s_request(self, &o, &req);
    }
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
                socp_bridge_fail(self, &o, SOCP_BRIDGE_INVALID_REQUEST,
                                 "request line longer than %u bytes; discarded",
                                 SOCP_BRIDGE_LINE_MAX);
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
        socp_bridge_fail(self, &o, SOCP_BRIDGE_INVALID_REQUEST,
                         "a request is one payload frame (after an empty delimiter for REQ)");
        return;
    }
    const char *data = zmq_msg_data(payload);
    size_t len = zmq_msg_size(payload);
    if (len > SOCP_BRIDGE_LINE_MAX) {
        self->n_requests++;
        socp_bridge_fail(self, &o, SOCP_BRIDGE_INVALID_REQUEST, "request larger than %u bytes",
                         SOCP_BRIDGE_LINE_MAX);
        return;
    }
    socp_bridge_req_t req;
    if (self->json_wire) {
        socp_bridge_req_json(data, len, &req);
    } else {
        socp_bridge_req_msgpack(data, len, &req);
    }
    s_request(self, &o, &req);
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

// ZAP requests (a CURVE client's key checked against --zmq-curve-clients).
static int
s_on_zap(socp_actor_ctx_t *ctx, void *sock, short revents, void *arg)
{
    SOCP_UNUSED(ctx);
    SOCP_UNUSED(revents);
    s_bridge_t *self = arg;
    uint64_t before = self->zap_refused;
    if (socp_bridge_zap_serve(sock, self->args->zmq_clients, &self->zap_refused) < 0) {
        socp_error("%s", "bridge: cannot answer a ZAP request");
        return SOCP_EIO;
    }
    // The first refusal, then at most one line a minute: a refused client
    // that keeps reconnecting must not flood the log.
    uint64_t now = socp_now_ms();
    if (self->zap_refused > before && (before == 0 || now - self->zap_logged_ms >= 60000)) {
        socp_warn(
            "bridge: refused a CURVE client whose key is not in the client list (%llu so far)",
            (unsigned long long) self->zap_refused);
        self->zap_logged_ms = now;
    }
    return 0;
}

// Binds one endpoint (resolved again: a no-op for the numeric endpoints
// socp_bridge_main passes) with the CURVE key, if any.
static int
s_zmq_bind(s_bridge_t *self, void *sock, const char *endpoint)
{
    socp_bridge_ep_t ep;
    char err[512];
    int rc = socp_bridge_ep_resolve(endpoint, &ep, err, sizeof err);
    if (rc == 0) {
        rc = socp_bridge_bind(sock, &ep, self->args->zmq_curve_secret, err, sizeof err);
    }
    if (rc != 0) {
        socp_error("bridge: %s", err);
    }
    return rc;
}

static int
s_zmq_open(s_bridge_t *self)
{
    socp_bus_t *bus = socp_actor_bus(self->ctx);
    char pub[SOCP_BRIDGE_EP_MAX];
    const char *pub_ep = self->args->zmq_pub;
    if (!pub_ep) {
        if (socp_bridge_pub_endpoint(self->args->zmq_bind, pub, sizeof pub) != 0) {
            socp_error("bridge: cannot derive the events endpoint from %s; use --zmq-pub",
                       self->args->zmq_bind);
            return SOCP_EINVAL;
        }
        pub_ep = pub;
    }
    if (self->args->zmq_clients) {
        // The ZAP handler is bound before the endpoints: a CURVE server
        // without one would take any client that knows its public key.
        self->zap = socp_sock_new(bus, ZMQ_REP, 1000, "ui");
        if (!self->zap || zmq_bind(self->zap, "inproc://zeromq.zap.01") != 0) {
            socp_error("bridge: cannot start the ZAP handler: %s", zmq_strerror(errno));
            return SOCP_EINIT;
        }
        socp_actor_watch_sock(self->ctx, self->zap, ZMQ_POLLIN, s_on_zap, self);
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
    int rc = s_zmq_bind(self, self->router, self->args->zmq_bind);
    if (rc == 0) {
        rc = s_zmq_bind(self, self->xpub, pub_ep);
    }
    if (rc != 0) {
        return rc;
    }
    socp_actor_watch_sock(self->ctx, self->router, ZMQ_POLLIN, s_on_zmq_sock, self);
    socp_actor_watch_sock(self->ctx, self->xpub, ZMQ_POLLIN, s_on_zmq_sock, self);
    socp_info("bridge: requests on %s, events on %s (%s%s)", self->args->zmq_bind, pub_ep,
              self->json_wire ? "json" : "msgpack",
              !self->args->zmq_curve_secret ? ""
              : self->args->zmq_clients     ? ", CURVE, listed clients only"
                                            : ", CURVE");
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
            socp_bridge_on_accepted(self, &msg->body.cli_accepted);
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
            socp_bridge_on_show(self, &msg->body.cli_show);
            break;
        case SOCP_MSG_CLI_PEER:
            s_on_peer(self, &msg->body.cli_peer);
            break;
        case SOCP_MSG_CLI_PEER_SIG:
            socp_client_peer_sig(self->peers, self->npeers, &msg->body.cli_peer_sig);
            break;
        case SOCP_MSG_CLI_RELEASE:
            (void) socp_client_release(self->ctx, &self->route, self->args->crypto_workers,
                                       self->peers, self->npeers, &msg->body.cli_release);
            break;
        case SOCP_MSG_CLI_NOTE:
            socp_bridge_on_note(self, &msg->body.cli_note);
            break;
        case SOCP_MSG_CLI_FILE:
            socp_bridge_on_file(self, &msg->body.cli_file);
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
                socp_bridge_event(self, "link",
                                  json_pack("{s:b,s:o}", "up", self->link_up, "detail",
                                            socp_bridge_jtext(msg->body.cli_link.detail,
                                                              strlen(msg->body.cli_link.detail))));
                for (size_t i = 0; self->link_up && i < self->npeers; i++) {
                    const s_peer_t *e = &self->peers[i];
                    if (e->online && strcmp(e->id, self->args->user_id) != 0) {
                        s_presence_event(self, e, true); // the list that came with the link
                    }
                }
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
    if (self->zap) { // after the endpoints it guards
        socp_actor_unwatch_sock(self->ctx, self->zap);
    }
    socp_sock_close(bus, &self->zap);
    socp_client_outfile_fini(&self->file);
    socp_client_peers_fini(self->peers, self->npeers);
    for (size_t i = 0; i < self->ngroups; i++) {
        json_decref(self->groups[i].result);
        socp_bridge_origin_fini(&self->groups[i].origin);
    }
    for (size_t i = 0; i < self->hist_n; i++) {
        socp_bridge_origin_fini(&self->hist_q[i]);
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
