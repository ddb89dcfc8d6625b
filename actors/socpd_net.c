// socpd_net.c: the server's network actor.
//
// DESIGN
//   Owns: the listening fd, every connection fd and its socp_ws session
//   (through socp_tcp), the per-connection rate limit and output bound.
//   In:  SOCPD_SEND {conns, text, close, seq} (crypto workers: signed frames;
//        router: frames relayed unchanged). Written in the router's seq order:
//        a frame that overtook an earlier one (another worker) waits, copied,
//        until the gap closes, so every connection sees frames in the order
//        the router decided them;
//        SOCPD_KICK {conn, code, reason}; SOCPD_DIAL {host, port, link};
//        SOCPD_TRUST {conn} (an authenticated server link: no rate limit).
//   Out: SOCPD_OPEN when a handshake completes, SOCPD_FRAME per admitted text
//        message, SOCPD_GONE when a connection is destroyed, SOCPD_DIAL_FAIL,
//        SOCPD_RATE when a user exceeds the rate limit (once per second;
//        dropped = 0 while its frames are only delayed).
//   Blocking: none. Sockets are non-blocking; each readable event reads at
//   most 256 KiB so one peer cannot starve the others; at most 64 accepts
//   per turn. A 100 ms sweep timer enforces the handshake deadline and the
//   close linger (1 s), and logs rate-limit drops once per second.
//   Bounds: frames over 1 MiB close with 1009 (socp_ws); output over
//   max_output drops the connection ("slow reader"). Rate limit (token
//   bucket per user): a frame that finds no token is held and the user's
//   socket is not read until the next token is due (a one-shot timer), so
//   TCP slows the client down and nothing is lost (frames already read when
//   the peer closes are handed on too); a backlog that is not gone (nothing
//   held or unread, FIONREAD) after S_SHAPE_MS, a client that ignored a
//   minute of ERRORs, has its excess frames dropped (counted) until the
//   bucket is full again. Either way the router sends one ERROR per second.
//   Authenticated server links (SOCPD_TRUST from the router) and links we
//   dialled are not limited.
//   Shutdown: TERM; every connection is closed (no close handshake wait).
#include "socp/socpd_net.h"
#include "socp/socp_err.h"
#include "socp/socp_log.h"
#include "socp/socp_tcp.h"
#include "socp/socpd_map.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>
#include <zmq.h>

#define S_CLOSE_LINGER_MS 1000
#define S_ACCEPT_BATCH    64
#define S_RATE_TELL_MS    1000  // at most one SOCPD_RATE (-> one ERROR) per connection per window
#define S_SHAPE_MS        60000 // a user's backlog is slowed this long before frames are dropped

typedef struct {
    uint64_t id;
    socp_tcp_conn_t *tcp; // NULL while an outgoing connect is in progress
    int fd;
    char peer[SOCP_TCP_ADDR_MAX];
    bool outbound;
    bool trusted; // an authenticated server link (SOCPD_TRUST): no user rate limit
    char link[129];
    bool connecting; // outgoing TCP connect in progress
    bool opened;     // SOCPD_OPEN sent
    bool closing;    // close started: linger until closed_at + S_CLOSE_LINGER_MS
    uint64_t created_ms;
    uint64_t closing_ms;
    double tokens;
    uint64_t refill_ms;
    uint64_t rate_dropped;       // since the last log line
    uint64_t rate_dropped_total; // for the final log
    uint64_t rate_log_ms;        // last rate-limit log line
    uint64_t rate_told_ms;       // last SOCPD_RATE to the router (one per window)
    // Over the limit, a user's next frame waits here and its socket is not
    // read (TCP pushes back): frames are delayed, not lost. A backlog that
    // lasts S_SHAPE_MS (a client that ignores the ERROR) has its excess
    // frames dropped until the bucket has refilled.
    socp_buf_t held;       // the frame waiting for a token
    bool has_held;         // held holds a frame
    uint64_t throttled_ms; // when the current backlog began (0: none)
    bool dropping;         // shaping gave up: drop until the bucket is full
    int resume_timer;      // one-shot timer that releases the held frame
    uint64_t rate_delayed; // frames delayed since the last tell
    char dial_host[256];
    uint16_t dial_port;
    void *owner; // the actor's s_self_t
} s_conn_t;

typedef struct {
    uint64_t seq; // 0: free slot
    uint8_t *conns;
    size_t conns_len;
    uint8_t *text;
    size_t text_len;
    bool close;
} s_pending_t;

typedef struct {
    socp_actor_ctx_t *ctx;
    socpd_net_args_t args;
    uint64_t next_seq;  // next SOCPD_SEND seq to write
    s_pending_t *pend;  // frames that arrived before next_seq, by seq % pend_cap
    size_t pend_cap;    // power of two
    size_t pend_count;  // frames waiting
    size_t pend_max;    // high-water mark, for the final log
    socpd_map_t *conns; // decimal id -> s_conn_t
    uint64_t next_id;
    socp_ws_opts_t ws_opts;
    uint64_t frames_in;
    uint64_t rate_dropped;
    uint64_t rate_delayed;
    uint64_t slow_dropped;
} s_self_t;

static void s_watch(s_self_t *self, s_conn_t *c);
static int s_on_fd(socp_actor_ctx_t *ctx, int fd, short revents, void *arg);

static s_conn_t *
s_find(s_self_t *self, uint64_t id)
{
    return socpd_map_get_id(self->conns, id);
}

static void
s_destroy(s_self_t *self, s_conn_t *c, const char *reason)
{
    socpd_map_remove_id(self->conns, c->id);
    socp_actor_unwatch_fd(self->ctx, c->fd);
    if (c->resume_timer > 0) {
        socp_actor_timer_cancel(self->ctx, c->resume_timer);
    }
    socp_buf_fini(&c->held);
    if (c->tcp) {
        if (socp_tcp_conn_flush(c->tcp) != 0) {
            socp_debug("conn %llu: final flush failed", (unsigned long long) c->id);
        }
        socp_tcp_conn_destroy(&c->tcp);
    } else if (c->fd >= 0) {
        close(c->fd);
    }
    if (c->rate_dropped_total) {
        socp_info("conn %llu: %llu frames refused by the rate limit in total",
                  (unsigned long long) c->id, (unsigned long long) c->rate_dropped_total);
    }
    if (c->connecting || (c->outbound && !c->opened)) {
        socp_msg_t m = socp_msg_make(SOCP_MSG_SOCPD_DIAL_FAIL);
        m.body.socpd_dial_fail.link = c->link;
        m.body.socpd_dial_fail.reason = reason;
        (void) socp_actor_send(self->ctx, "socpd_router", &m);
    } else if (c->opened) {
        socp_msg_t m = socp_msg_make(SOCP_MSG_SOCPD_GONE);
        m.body.socpd_gone.conn = c->id;
        m.body.socpd_gone.reason = reason;
        (void) socp_actor_send(self->ctx, "socpd_router", &m);
    }
    socp_debug("conn %llu (%s) closed: %s", (unsigned long long) c->id, c->peer, reason);
    free(c);
}

static s_conn_t *
s_add(s_self_t *self, int fd, const char *peer)
{
    s_conn_t *c = socp_calloc(1, sizeof *c);
    c->id = ++self->next_id;
    c->fd = fd;
    snprintf(c->peer, sizeof c->peer, "%s", peer ? peer : "?");
    c->owner = self;
    c->created_ms = socp_now_ms();
    c->tokens = self->args.burst;
    c->refill_ms = c->created_ms;
    socpd_map_put_id(self->conns, c->id, c);
    return c;
}

static void
s_watch(s_self_t *self, s_conn_t *c)
{
    short ev = c->has_held ? 0 : ZMQ_POLLIN; // a throttled user is not read
    if (c->connecting || (c->tcp && socp_tcp_conn_want_write(c->tcp))) {
        ev |= ZMQ_POLLOUT;
    }
    if (c->connecting) {
        ev = ZMQ_POLLOUT;
    }
    (void) socp_actor_watch_fd(self->ctx, c->fd, ev, s_on_fd, c);
}

static void
s_start_close(s_self_t *self, s_conn_t *c, uint16_t code, const char *reason)
{
    if (!c->tcp) {
        s_destroy(self, c, reason);
        return;
    }
    if (!c->closing) {
        c->closing = true;
        c->closing_ms = socp_now_ms();
        socp_tcp_conn_close(c->tcp, code, reason);
    }
    if (socp_tcp_conn_done(c->tcp) || !socp_tcp_conn_want_write(c->tcp)) {
        // Our close frame is out; a well-behaved peer answers, but we do not
        // need to wait for it to release the connection.
        s_destroy(self, c, reason);
        return;
    }
    s_watch(self, c);
}

typedef enum { S_RATE_PASS, S_RATE_WAIT, S_RATE_DROP } s_rate_t;

// Tells the router (one ERROR per window) that this user is over the limit.
static void
s_rate_tell(s_self_t *self, s_conn_t *c, uint64_t now)
{
    if (c->opened && (c->rate_told_ms == 0 || now - c->rate_told_ms >= S_RATE_TELL_MS)) {
        c->rate_told_ms = now;
        socp_msg_t m = socp_msg_make(SOCP_MSG_SOCPD_RATE);
        m.body.socpd_rate.conn = c->id;
        m.body.socpd_rate.dropped = c->rate_dropped;
        (void) socp_actor_send(self->ctx, "socpd_router", &m);
    }
}

// The token bucket: PASS (a token taken), WAIT (none: hold the frame and
// stop reading), DROP (none, and the user has been slowed for S_SHAPE_MS).
static s_rate_t
s_rate(s_self_t *self, s_conn_t *c)
{
    if (self->args.rate <= 0 || c->outbound || c->trusted) {
        return S_RATE_PASS;
    }
    uint64_t now = socp_now_ms();
    if (now > c->refill_ms) {
        c->tokens += (double) (now - c->refill_ms) * self->args.rate / 1000.0;
        if (c->tokens >= self->args.burst) {
            c->tokens = self->args.burst;
            c->dropping = false; // quiet long enough: shape again next time
            c->throttled_ms = 0;
        }
        c->refill_ms = now;
    }
    if (c->tokens >= 1.0) {
        c->tokens -= 1.0;
        return S_RATE_PASS;
    }
    if (!c->dropping) {
        if (c->throttled_ms == 0) {
            c->throttled_ms = now; // a backlog starts; s_caught_up ends it
        }
        if (now - c->throttled_ms <= S_SHAPE_MS) {
            s_rate_tell(self, c, now);
            return S_RATE_WAIT;
        }
        c->dropping = true;
        socp_info("conn %llu (%s): over the rate limit for %d s: dropping its excess frames",
                  (unsigned long long) c->id, c->peer, S_SHAPE_MS / 1000);
    }
    c->rate_dropped++;
    c->rate_dropped_total++;
    self->rate_dropped++;
    s_rate_tell(self, c, now);
    return S_RATE_DROP;
}

static void s_service(s_self_t *self, s_conn_t *c, short revents);

static int
s_on_resume(socp_actor_ctx_t *ctx, int timer_id, void *arg)
{
    (void) ctx;
    (void) timer_id;
    s_conn_t *c = arg;
    c->resume_timer = 0;
    s_service(c->owner, c, 0);
    return 0;
}

// Arms the timer that retries the held frame when the next token is due.
static void
s_arm_resume(s_self_t *self, s_conn_t *c)
{
    if (c->resume_timer > 0) {
        return;
    }
    double due_ms = (1.0 - c->tokens) * 1000.0 / self->args.rate;
    int delay = due_ms < 1 ? 1 : (int) due_ms + 1;
    c->resume_timer = socp_actor_timer_add(self->ctx, delay, 0, s_on_resume, c);
}

// Holds a frame that found no token.
static void
s_hold(s_self_t *self, s_conn_t *c, const void *data, size_t len)
{
    socp_buf_reset(&c->held);
    socp_buf_append(&c->held, data, len);
    c->has_held = true;
    c->rate_delayed++;
    self->rate_delayed++;
    s_arm_resume(self, c);
}

// A throttled user whose backlog is gone (nothing held, nothing unread in
// the session or the kernel) is back under the limit.
static void
s_caught_up(s_conn_t *c)
{
    int unread = 0;
    if (c->throttled_ms && !c->dropping && !c->has_held && ioctl(c->fd, FIONREAD, &unread) == 0 &&
        unread == 0) {
        c->throttled_ms = 0;
    }
}

// Hands a user frame to the router.
static void
s_admit(s_self_t *self, s_conn_t *c, const void *data, size_t len)
{
    self->frames_in++;
    socp_msg_t f = socp_msg_make(SOCP_MSG_SOCPD_FRAME);
    f.body.socpd_frame.conn = c->id;
    f.body.socpd_frame.text.data = data;
    f.body.socpd_frame.text.len = len;
    (void) socp_actor_send(self->ctx, "socpd_router", &f);
}

// The peer is gone or going: what it sent before the end is handed on, not
// lost to the rate limit (at most one read and the session's buffer).
static void
s_drain_closing(s_self_t *self, s_conn_t *c)
{
    bool wanted = c->opened && !c->closing && c->tcp;
    if (c->has_held) {
        c->has_held = false;
        if (wanted) {
            s_admit(self, c, c->held.data, c->held.len);
        }
    }
    socp_ws_msg_t m;
    while (wanted && socp_tcp_conn_next(c->tcp, &m) == 0) {
        if (m.kind == SOCP_WS_TEXT) {
            s_admit(self, c, m.data, m.len);
        }
    }
}

static void
s_report_open(s_self_t *self, s_conn_t *c)
{
    if (c->opened || !c->tcp || socp_ws_state(socp_tcp_conn_ws(c->tcp)) != SOCP_WS_OPEN) {
        return;
    }
    c->opened = true;
    socp_msg_t m = socp_msg_make(SOCP_MSG_SOCPD_OPEN);
    m.body.socpd_open.conn = c->id;
    m.body.socpd_open.peer = c->peer;
    m.body.socpd_open.outbound = c->outbound;
    m.body.socpd_open.link = c->link;
    (void) socp_actor_send(self->ctx, "socpd_router", &m);
}

// Handles a readable/writable connection. Returns after possibly destroying it.
static void
s_service(s_self_t *self, s_conn_t *c, short revents)
{
    if (c->connecting) {
        int rc = socp_tcp_connect_result(c->fd);
        if (rc == SOCP_EAGAIN) {
            return;
        }
        if (rc != 0) {
            s_destroy(self, c, "connect failed");
            return;
        }
        c->connecting = false;
        c->tcp =
            socp_tcp_conn_new(c->fd, SOCP_WS_CLIENT, &self->ws_opts, c->dial_host, c->dial_port);
        if (!c->tcp) {
            c->fd = -1;
            s_destroy(self, c, "cannot start a WebSocket session");
            return;
        }
    }
    if (revents & ZMQ_POLLOUT) {
        if (socp_tcp_conn_flush(c->tcp) != 0) {
            s_destroy(self, c, "write failed");
            return;
        }
    }
    int rrc = 0;
    if (revents & (ZMQ_POLLIN | ZMQ_POLLERR)) {
        rrc = socp_tcp_conn_read(c->tcp, 0);
    }
    s_report_open(self, c);
    if (c->has_held) { // a frame waiting for a token goes first
        s_rate_t r = c->closing ? S_RATE_DROP : s_rate(self, c);
        if (r != S_RATE_WAIT) {
            c->has_held = false;
            if (r == S_RATE_PASS) {
                s_admit(self, c, c->held.data, c->held.len);
            }
        } else {
            s_arm_resume(self, c);
        }
    }
    socp_ws_msg_t m;
    while (!c->has_held && socp_tcp_conn_next(c->tcp, &m) == 0) {
        if (c->closing || !c->opened) {
            continue;
        }
        if (m.kind != SOCP_WS_TEXT) {
            continue; // SOCP is text only; binary messages are ignored
        }
        switch (s_rate(self, c)) {
            case S_RATE_PASS:
                s_admit(self, c, m.data, m.len);
                break;
            case S_RATE_WAIT:
                s_hold(self, c, m.data, m.len);
                break;
            case S_RATE_DROP:
                break;
        }
    }
    s_caught_up(c);
    if (rrc != 0) {
        s_drain_closing(self, c);
        const char *why = rrc == SOCP_ECLOSED     ? "peer closed"
                          : rrc == SOCP_ETOOBIG   ? "frame over 1 MiB (1009)"
                          : rrc == SOCP_EPROTO    ? "WebSocket protocol error"
                          : rrc == SOCP_EOVERFLOW ? "peer does not read (output bound)"
                                                  : "read failed";
        if (rrc != SOCP_ECLOSED && rrc != SOCP_EIO) {
            socp_info("conn %llu (%s): %s", (unsigned long long) c->id, c->peer, why);
        }
        s_destroy(self, c, why);
        return;
    }
    if (socp_tcp_conn_flush(c->tcp) != 0 || socp_tcp_conn_done(c->tcp)) {
        s_drain_closing(self, c);
        s_destroy(self, c, "closed");
        return;
    }
    s_watch(self, c);
}

static int
s_on_fd(socp_actor_ctx_t *ctx, int fd, short revents, void *arg)
{
    (void) ctx;
    (void) fd;
    s_conn_t *c = arg;
    s_service(c->owner, c, revents);
    return 0;
}

static int
s_on_listen(socp_actor_ctx_t *ctx, int fd, short revents, void *arg)
{
    (void) ctx;
    (void) revents;
    s_self_t *self = arg;
    for (int i = 0; i < S_ACCEPT_BATCH; i++) {
        int cfd = -1;
        char peer[SOCP_TCP_ADDR_MAX];
        int rc = socp_tcp_accept(fd, &cfd, peer);
        if (rc == SOCP_EAGAIN) {
            break;
        }
        if (rc != 0) {
            socp_warn("accept failed: %s", strerror(errno));
            break;
        }
        socp_tcp_conn_t *tcp = socp_tcp_conn_new(cfd, SOCP_WS_SERVER, &self->ws_opts, NULL, 0);
        if (!tcp) {
            continue;
        }
        s_conn_t *c = s_add(self, cfd, peer);
        c->tcp = tcp;
        socp_debug("conn %llu accepted from %s", (unsigned long long) c->id, peer);
        s_watch(self, c);
    }
    return 0;
}

static int
s_on_sweep(socp_actor_ctx_t *ctx, int timer_id, void *arg)
{
    (void) ctx;
    (void) timer_id;
    s_self_t *self = arg;
    uint64_t now = socp_now_ms();
    // Collect first: destroying modifies the map.
    size_t n = socpd_map_size(self->conns), k = 0, pos = 0;
    s_conn_t **list = socp_calloc(n ? n : 1, sizeof *list);
    const char *key;
    void *val;
    while (k < n && socpd_map_next(self->conns, &pos, &key, &val)) {
        list[k++] = val;
    }
    for (size_t i = 0; i < k; i++) {
        s_conn_t *c = list[i];
        if (c->rate_dropped && now - c->rate_log_ms >= 1000) {
            c->rate_log_ms = now;
            socp_warn("conn %llu (%s): rate limit: %llu frames refused in the last second",
                      (unsigned long long) c->id, c->peer, (unsigned long long) c->rate_dropped);
            c->rate_dropped = 0;
        }
        if (c->closing && now - c->closing_ms > S_CLOSE_LINGER_MS) {
            s_destroy(self, c, "close linger expired");
        } else if (!c->opened && now - c->created_ms > (uint64_t) self->args.handshake_timeout_ms) {
            s_destroy(self, c, c->connecting ? "connect timed out" : "handshake timed out");
        }
    }
    free(list);
    return 0;
}

// Writes one frame to every listed connection (u64 little-endian ids).
static void
s_write(s_self_t *self,
        const uint8_t *conns,
        size_t conns_len,
        const uint8_t *text,
        size_t text_len,
        bool close)
{
    size_t n = conns_len / 8;
    for (size_t i = 0; i < n; i++) {
        uint64_t id = 0;
        for (int b = 7; b >= 0; b--) {
            id = (id << 8) | conns[i * 8 + (size_t) b];
        }
        s_conn_t *c = s_find(self, id);
        if (!c || !c->tcp || c->closing) {
            continue;
        }
        int rc = socp_tcp_conn_send_text(c->tcp, (const char *) text, text_len);
        if (rc == SOCP_EOVERFLOW) {
            self->slow_dropped++;
            socp_warn("conn %llu (%s): slow reader, output bound reached: disconnected",
                      (unsigned long long) c->id, c->peer);
            s_destroy(self, c, "slow reader");
            continue;
        }
        if (rc != 0) {
            s_destroy(self, c, "write failed");
            continue;
        }
        if (close) {
            s_start_close(self, c, 1000, "");
            continue;
        }
        s_watch(self, c);
    }
}

static uint8_t *
s_dup(const uint8_t *p, size_t n)
{
    uint8_t *d = socp_malloc(n ? n : 1);
    if (n) {
        memcpy(d, p, n);
    }
    return d;
}

// Frames arrive from several signing workers; the router numbered them (seq)
// in the order it decided them, so they are written in that order: a frame
// that overtook an earlier one waits here (a copy) until the gap is filled.
// Workers send every seq they were given, even when signing failed (an
// empty frame), so a gap always closes.
static void
s_on_send(s_self_t *self, const socp_msg_socpd_send_t *req)
{
    if (req->seq == 0 || req->seq < self->next_seq) {
        if (req->seq != 0) {
            socp_error("frame seq %llu arrived twice or late (expected %llu)",
                       (unsigned long long) req->seq, (unsigned long long) self->next_seq);
        }
        s_write(self, req->conns.data, req->conns.len, req->text.data, req->text.len, req->close);
        return;
    }
    if (req->seq != self->next_seq) {
        uint64_t ahead = req->seq - self->next_seq;
        if (ahead >= self->pend_cap) {
            size_t cap = self->pend_cap ? self->pend_cap : 64;
            while (cap <= ahead) {
                cap *= 2;
            }
            s_pending_t *grown = socp_calloc(cap, sizeof *grown);
            for (size_t i = 0; i < self->pend_cap; i++) {
                if (self->pend[i].seq) {
                    grown[self->pend[i].seq & (cap - 1)] = self->pend[i];
                }
            }
            free(self->pend);
            self->pend = grown;
            self->pend_cap = cap;
        }
        s_pending_t *p = &self->pend[req->seq & (self->pend_cap - 1)];
        p->seq = req->seq;
        p->conns = s_dup(req->conns.data, req->conns.len);
        p->conns_len = req->conns.len;
        p->text = s_dup(req->text.data, req->text.len);
        p->text_len = req->text.len;
        p->close = req->close;
        self->pend_count++;
        if (self->pend_count > self->pend_max) {
            self->pend_max = self->pend_count;
        }
        return;
    }
    s_write(self, req->conns.data, req->conns.len, req->text.data, req->text.len, req->close);
    self->next_seq++;
    while (self->pend_count &&
           self->pend[self->next_seq & (self->pend_cap - 1)].seq == self->next_seq) {
        s_pending_t *p = &self->pend[self->next_seq & (self->pend_cap - 1)];
        s_write(self, p->conns, p->conns_len, p->text, p->text_len, p->close);
        free(p->conns);
        free(p->text);
        memset(p, 0, sizeof *p);
        self->pend_count--;
        self->next_seq++;
    }
}

static void
s_on_dial(s_self_t *self, const socp_msg_socpd_dial_t *req)
{
    int fd = -1;
    int rc = socp_tcp_connect(req->host, req->port, &fd);
    if (rc != 0) {
        socp_msg_t m = socp_msg_make(SOCP_MSG_SOCPD_DIAL_FAIL);
        m.body.socpd_dial_fail.link = req->link;
        m.body.socpd_dial_fail.reason = "connect failed";
        (void) socp_actor_send(self->ctx, "socpd_router", &m);
        return;
    }
    char peer[SOCP_TCP_ADDR_MAX];
    snprintf(peer, sizeof peer, "%.40s:%u", req->host, (unsigned) req->port);
    s_conn_t *c = s_add(self, fd, peer);
    c->outbound = true;
    c->connecting = true;
    snprintf(c->link, sizeof c->link, "%s", req->link);
    snprintf(c->dial_host, sizeof c->dial_host, "%s", req->host);
    c->dial_port = req->port;
    s_watch(self, c);
}

static int
s_on_msg(socp_actor_ctx_t *ctx, socp_msg_t *msg, void *arg)
{
    (void) ctx;
    s_self_t *self = arg;
    switch (msg->type) {
        case SOCP_MSG_SOCPD_SEND:
            s_on_send(self, &msg->body.socpd_send);
            break;
        case SOCP_MSG_SOCPD_KICK: {
            s_conn_t *c = s_find(self, msg->body.socpd_kick.conn);
            if (c) {
                s_start_close(self, c, msg->body.socpd_kick.code, msg->body.socpd_kick.reason);
            }
            break;
        }
        case SOCP_MSG_SOCPD_DIAL:
            s_on_dial(self, &msg->body.socpd_dial);
            break;
        case SOCP_MSG_SOCPD_TRUST: {
            s_conn_t *c = s_find(self, msg->body.socpd_trust.conn);
            if (c) {
                c->trusted = true;
                c->dropping = false;
                c->throttled_ms = 0;
            }
            break;
        }
        default:
            break;
    }
    return 0;
}

int
socpd_net_actor(socp_actor_ctx_t *ctx, void *args)
{
    s_self_t self;
    memset(&self, 0, sizeof self);
    self.ctx = ctx;
    self.args = *(const socpd_net_args_t *) args;
    self.conns = socpd_map_new();
    self.next_seq = 1;
    self.ws_opts.max_output = self.args.max_output ? self.args.max_output : 0;
    self.ws_opts.server_id = self.args.server_id; // our users bind their hellos to it
    socp_log_set_thread_name(socp_actor_name(ctx));
    if (socp_actor_watch_fd(ctx, self.args.listen_fd, ZMQ_POLLIN, s_on_listen, &self) != 0 ||
        socp_actor_timer_add(ctx, 100, 100, s_on_sweep, &self) <= 0) {
        socpd_map_destroy(&self.conns);
        return SOCP_EINIT;
    }
    socp_actor_ready(ctx, 0);
    int rc = socp_actor_run(ctx, s_on_msg, &self);
    // Shutdown: close everything without waiting for close handshakes.
    size_t pos = 0;
    const char *key;
    void *val;
    while (socpd_map_next(self.conns, &pos, &key, &val)) {
        s_conn_t *c = val;
        if (c->tcp) {
            socp_tcp_conn_close(c->tcp, 1001, "server shutting down");
            socp_tcp_conn_destroy(&c->tcp);
        } else if (c->fd >= 0) {
            close(c->fd);
        }
        socp_buf_fini(&c->held);
        free(c);
    }
    socpd_map_destroy(&self.conns);
    for (size_t i = 0; i < self.pend_cap; i++) {
        free(self.pend[i].conns);
        free(self.pend[i].text);
    }
    free(self.pend);
    close(self.args.listen_fd);
    socp_info("net: %llu frames in, %llu delayed and %llu refused by the rate limit, %llu slow "
              "readers dropped, at most %zu frames waited for an earlier one",
              (unsigned long long) self.frames_in, (unsigned long long) self.rate_delayed,
              (unsigned long long) self.rate_dropped, (unsigned long long) self.slow_dropped,
              self.pend_max);
    return rc;
}
