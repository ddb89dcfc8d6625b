// socp_actor.c: actor threads, the READY/TERM/DONE handshake, the actor loop,
// non-blocking sends with per-class overflow policy.
//
// DESIGN
// - The supervisor binds the pipe (PAIR, inproc://socp.pipe.<id>) before it
//   creates the thread; the thread connects its own end, binds its inbox and
//   creates every other socket itself, so no socket crosses threads.
// - The start record (name, fn, args, options, endpoints) is written before
//   pthread_create and never changed: it is the only memory both threads see.
// - Every data-plane send is ZMQ_DONTWAIT. On EAGAIN: DROP-class messages are
//   counted and dropped; MUST-class messages go to the peer's FIFO outbox,
//   which the loop flushes on ZMQ_POLLOUT in order (while the outbox is not
//   empty, new MUST messages queue behind it to keep order).
// - The loop blocks only in zmq_poll, with a timeout from the nearest timer.
//   ETERM (bus shut down) ends it; EINTR loops.
#include "socp/socp_actor.h"
#include "socp/socp_err.h"
#include "socp/socp_log.h"
#include "socp/socp_platform.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zmq.h>

#define S_DEFAULT_OUTBOX 10000
#define S_DEFAULT_READY  30000
#define S_DEFAULT_BATCH  256

typedef struct {
    char name[SOCP_ACTOR_NAME_MAX + 1]; // actor name
    socp_actor_fn *fn;                  // actor body
    void *args;                         // its argument
    socp_actor_opts_t opts;             // resolved options
    char pipe_ep[64];                   // pipe endpoint
    socp_bus_t *bus;                    // the bus
} s_start_t;

struct socp_actor {
    s_start_t *start;   // shared, immutable while the thread runs
    pthread_t thread;   // the actor thread
    void *pipe;         // supervisor end of the pipe
    bool done;          // DONE received
    int status;         // status carried by DONE
    socp_msg_t held[8]; // FAULTs that arrived while waiting for a reply
    size_t nheld;
};

typedef struct {
    uint8_t *data; // one or more encoded messages (owned)
    size_t len;    // bytes
    size_t nmsgs;  // messages in it
} s_frame_t;

typedef struct {
    char name[SOCP_ACTOR_NAME_MAX + 1]; // peer actor
    void *sock;                         // PUSH connected to its inbox
    socp_buf_t batch;                   // MUST messages not yet handed to zmq
    size_t batch_msgs;                  // messages in batch
    s_frame_t *queue;                   // FIFO ring of frames the peer had no room for
    size_t head, nframes, cap;          // ring state
    size_t queued;                      // messages in the ring
    bool faulted;                       // FAULT sent for this overflow episode
} s_peer_t;

#define S_BATCH_BYTES (64 * 1024) // a batch is handed to zmq at this size

typedef struct {
    int fd;                        // watched fd, or -1 for a zmq socket
    void *sock;                    // watched zmq socket, or NULL for an fd
    short events;                  // ZMQ_POLLIN / ZMQ_POLLOUT
    socp_fd_handler_fn *fn;        // handler of an fd
    socp_sock_handler_fn *sock_fn; // handler of a socket
    void *arg;
} s_watch_t;

typedef struct {
    int id;            // > 0 while active
    uint64_t due_ms;   // next firing (monotonic)
    uint64_t interval; // 0 = once
    socp_timer_fn *fn;
    void *arg;
} s_timer_t;

struct socp_actor_ctx {
    s_start_t *start; // options, name, bus
    void *pipe;       // actor end of the pipe
    void *inbox;      // PULL bound at inproc://socp.<name>
    bool ready_sent;  // READY already reported
    s_peer_t *peers;  // one per actor we send to
    size_t npeers;
    s_watch_t *watches; // fds in the poll set
    size_t nwatches;
    s_timer_t *timers; // active timers
    size_t ntimers;
    int next_timer_id;
    zmq_pollitem_t *items; // poll set, rebuilt each turn
    size_t items_cap;
    socp_buf_t scratch;      // encode buffer, reused
    socp_drain_fn *on_drain; // called when a peer outbox empties
    void *drain_arg;
    socp_actor_stats_t stats;
};

void
socp_actor_endpoint(const char *name, char *buf, size_t size)
{
    snprintf(buf, size, "inproc://socp.%s", name);
}

// ---- pipe helpers (both sides) ---------------------------------------------

// Sends a control message. The supervisor's sends never block (a PAIR whose
// peer has already gone would block forever); the actor's may, bounded by
// the pipe's HWM and ZMQ_SNDTIMEO.
static int
s_pipe_send_flags(void *pipe, socp_msg_t *msg, const char *from, int flags)
{
    socp_buf_t buf;
    socp_buf_init(&buf);
    snprintf(msg->from, sizeof msg->from, "%s", from);
    int rc = socp_msg_encode(msg, &buf);
    if (rc == 0 && zmq_send(pipe, buf.data, buf.len, flags) < 0) {
        rc = zmq_errno() == ETERM ? SOCP_ETERM : zmq_errno() == EAGAIN ? SOCP_EAGAIN : SOCP_EIO;
    }
    socp_buf_fini(&buf);
    return rc;
}

static int
s_pipe_send(void *pipe, socp_msg_t *msg, const char *from)
{
    return s_pipe_send_flags(pipe, msg, from, 0);
}

// Receives one frame and decodes a private copy. flags: 0 or ZMQ_DONTWAIT.
static int
s_recv_msg(void *sock, int flags, socp_msg_t *out)
{
    zmq_msg_t frame;
    zmq_msg_init(&frame);
    if (zmq_msg_recv(&frame, sock, flags) < 0) {
        int e = zmq_errno();
        zmq_msg_close(&frame);
        memset(out, 0, sizeof *out);
        return e == EAGAIN ? SOCP_EAGAIN : e == ETERM ? SOCP_ETERM : SOCP_EIO;
    }
    int rc = socp_msg_decode(zmq_msg_data(&frame), zmq_msg_size(&frame), out);
    zmq_msg_close(&frame);
    return rc;
}

// ---- actor thread -------------------------------------------------------------

int
socp_actor_ready(socp_actor_ctx_t *ctx, int status)
{
    if (ctx->ready_sent) {
        return 0;
    }
    ctx->ready_sent = true;
    socp_msg_t m = socp_msg_make(SOCP_MSG_READY);
    m.body.ready.status = status;
    return s_pipe_send(ctx->pipe, &m, ctx->start->name);
}

const char *
socp_actor_name(const socp_actor_ctx_t *ctx)
{
    return ctx->start->name;
}

socp_bus_t *
socp_actor_bus(socp_actor_ctx_t *ctx)
{
    return ctx->start->bus;
}

void
socp_actor_get_stats(const socp_actor_ctx_t *ctx, socp_actor_stats_t *out)
{
    *out = ctx->stats;
    out->queued = 0;
    for (size_t i = 0; i < ctx->npeers; i++) {
        out->queued += ctx->peers[i].queued + ctx->peers[i].batch_msgs;
    }
}

void
socp_actor_fault(socp_actor_ctx_t *ctx, int code, const char *peer, const char *detail)
{
    socp_msg_t m = socp_msg_make(SOCP_MSG_FAULT);
    m.body.fault.code = code;
    m.body.fault.peer = peer ? peer : "";
    char d[257];
    snprintf(d, sizeof d, "%s", detail ? detail : "");
    m.body.fault.detail = d;
    socp_warn("fault: %s%s%s: %s", socp_strerror(code), peer ? " towards " : "", peer ? peer : "",
              d);
    (void) s_pipe_send(ctx->pipe, &m, ctx->start->name);
}

static void
s_peer_free(socp_actor_ctx_t *ctx, s_peer_t *p)
{
    if (p->queued || p->batch_msgs) {
        socp_warn("discarding %zu undelivered message(s) to %s at exit", p->queued + p->batch_msgs,
                  p->name);
    }
    for (size_t i = 0; i < p->nframes; i++) {
        free(p->queue[(p->head + i) % p->cap].data);
    }
    free(p->queue);
    socp_buf_fini(&p->batch);
    socp_sock_close(ctx->start->bus, &p->sock);
}

static s_peer_t *
s_peer(socp_actor_ctx_t *ctx, const char *name)
{
    for (size_t i = 0; i < ctx->npeers; i++) {
        if (strcmp(ctx->peers[i].name, name) == 0) {
            return &ctx->peers[i];
        }
    }
    if (strlen(name) == 0 || strlen(name) > SOCP_ACTOR_NAME_MAX) {
        return NULL;
    }
    void *sock =
        socp_sock_new(ctx->start->bus, ZMQ_PUSH, ctx->start->opts.peer_hwm, ctx->start->name);
    if (!sock) {
        return NULL;
    }
    char ep[64];
    socp_actor_endpoint(name, ep, sizeof ep);
    if (zmq_connect(sock, ep) != 0) {
        socp_sock_close(ctx->start->bus, &sock);
        return NULL;
    }
    ctx->peers = socp_realloc(ctx->peers, (ctx->npeers + 1) * sizeof *ctx->peers);
    s_peer_t *p = &ctx->peers[ctx->npeers++];
    memset(p, 0, sizeof *p);
    snprintf(p->name, sizeof p->name, "%s", name);
    p->sock = sock;
    return p;
}

// Appends the batch to the ring as one frame (ownership moves; no copy).
static void
s_batch_to_ring(s_peer_t *p)
{
    if (p->nframes == p->cap) {
        size_t cap = p->cap ? p->cap * 2 : 16;
        s_frame_t *q = socp_malloc(cap * sizeof *q);
        for (size_t i = 0; i < p->nframes; i++) {
            q[i] = p->queue[(p->head + i) % p->cap];
        }
        free(p->queue);
        p->queue = q;
        p->head = 0;
        p->cap = cap;
    }
    p->queue[(p->head + p->nframes) % p->cap] =
        (s_frame_t){p->batch.data, p->batch.len, p->batch_msgs};
    p->nframes++;
    p->queued += p->batch_msgs;
    socp_buf_init(&p->batch);
    p->batch_msgs = 0;
}

// Hands the batch to zmq as one frame, or to the ring when the peer is full
// or older frames still wait there. Returns 0 or SOCP_ETERM.
static int
s_flush_batch(socp_actor_ctx_t *ctx, s_peer_t *p)
{
    if (p->batch_msgs == 0) {
        return 0;
    }
    if (p->nframes == 0) {
        // zmq copies the batch: handing it the buffer itself measured no
        // faster here and would hide the hand-off from TSan (ADR 0002).
        if (zmq_send(p->sock, p->batch.data, p->batch.len, ZMQ_DONTWAIT) >= 0) {
            ctx->stats.sent += p->batch_msgs;
            p->batch_msgs = 0;
            socp_buf_reset(&p->batch);
            return 0;
        }
        if (zmq_errno() == ETERM) {
            return SOCP_ETERM;
        }
    }
    s_batch_to_ring(p);
    return 0;
}

static int
s_overflow(socp_actor_ctx_t *ctx, s_peer_t *p)
{
    if (!p->faulted) { // reported once per episode, not per message
        p->faulted = true;
        char detail[128];
        snprintf(detail, sizeof detail, "outbox full (%zu must-deliver messages waiting)",
                 p->queued);
        socp_actor_fault(ctx, SOCP_EOVERFLOW, p->name, detail);
    }
    return SOCP_EOVERFLOW;
}

// Sends ring frames until the peer is full again. Returns 0, SOCP_ETERM, or
// the drain callback's stop request.
static int
s_flush(socp_actor_ctx_t *ctx, s_peer_t *p)
{
    while (p->nframes) {
        s_frame_t *f = &p->queue[p->head];
        if (zmq_send(p->sock, f->data, f->len, ZMQ_DONTWAIT) < 0) {
            return zmq_errno() == ETERM ? SOCP_ETERM : 0;
        }
        free(f->data);
        ctx->stats.sent += f->nmsgs;
        p->queued -= f->nmsgs;
        p->head = (p->head + 1) % p->cap;
        p->nframes--;
    }
    p->faulted = false;
    if (ctx->on_drain) {
        int rc = ctx->on_drain(ctx, p->name, ctx->drain_arg);
        return rc == SOCP_ACTOR_STOP ? rc : rc < 0 ? rc : 0;
    }
    return 0;
}

// Hands every peer's batch to zmq: called before the loop blocks.
static int
s_flush_batches(socp_actor_ctx_t *ctx)
{
    for (size_t i = 0; i < ctx->npeers; i++) {
        int rc = s_flush_batch(ctx, &ctx->peers[i]);
        if (rc != 0) {
            return rc;
        }
    }
    return 0;
}

void
socp_actor_on_drain(socp_actor_ctx_t *ctx, socp_drain_fn *fn, void *arg)
{
    ctx->on_drain = fn;
    ctx->drain_arg = arg;
}

int
socp_actor_send(socp_actor_ctx_t *ctx, const char *to, socp_msg_t *msg)
{
    memcpy(msg->from, ctx->start->name, sizeof msg->from);
    s_peer_t *p = s_peer(ctx, to);
    if (!p) {
        return socp_bus_is_shutdown(ctx->start->bus) ? SOCP_ETERM : SOCP_EINVAL;
    }
    if (socp_msg_class(msg->type) == SOCP_CLASS_DROP) {
        // Droppable: straight to zmq (after what is batched, to keep order);
        // dropped when the peer has no room.
        int rc = s_flush_batch(ctx, p);
        if (rc == 0) {
            rc = socp_msg_encode(msg, &ctx->scratch);
        }
        if (rc != 0) {
            return rc;
        }
        if (p->nframes == 0 &&
            zmq_send(p->sock, ctx->scratch.data, ctx->scratch.len, ZMQ_DONTWAIT) >= 0) {
            ctx->stats.sent++;
            return 0;
        }
        if (zmq_errno() == ETERM) {
            return SOCP_ETERM;
        }
        ctx->stats.dropped++;
        return SOCP_EDROPPED;
    }
    // Must-deliver: batched per peer, handed to zmq as one frame when the
    // loop is about to block (or the batch is large). Messages not yet taken
    // by zmq never exceed outbox_max, so acceptance is decided here.
    size_t max = ctx->start->opts.outbox_max;
    if (p->queued + p->batch_msgs + 1 > max) {
        int rc = s_flush_batch(ctx, p);
        if (rc != 0) {
            return rc;
        }
        if (p->queued + 1 > max) {
            return s_overflow(ctx, p);
        }
    }
    size_t mark = p->batch.len;
    int rc = socp_msg_encode_append(msg, &p->batch);
    if (rc != 0) {
        p->batch.len = mark;
        socp_error("send %s to %s: %s (a bug: the message breaks the schema)",
                   socp_msg_name(msg->type), to, socp_strerror(rc));
        return rc;
    }
    p->batch_msgs++;
    if (p->batch.len >= S_BATCH_BYTES) {
        return s_flush_batch(ctx, p);
    }
    return 0;
}

size_t
socp_actor_queued(socp_actor_ctx_t *ctx, const char *peer)
{
    for (size_t i = 0; i < ctx->npeers; i++) {
        if (strcmp(ctx->peers[i].name, peer) == 0) {
            return ctx->peers[i].queued;
        }
    }
    return 0;
}

int
socp_actor_reply(socp_actor_ctx_t *ctx, const socp_msg_t *request, socp_msg_t *reply)
{
    reply->corr_id = request->corr_id;
    char to[SOCP_ACTOR_NAME_MAX + 1];
    memcpy(to, request->from, sizeof to);
    return socp_actor_send(ctx, to, reply);
}

int
socp_actor_watch_fd(socp_actor_ctx_t *ctx, int fd, short events, socp_fd_handler_fn *fn, void *arg)
{
    if (fd < 0 || !fn) {
        return SOCP_EINVAL;
    }
    s_watch_t w = {fd, NULL, events, fn, NULL, arg};
    for (size_t i = 0; i < ctx->nwatches; i++) {
        if (ctx->watches[i].fd == fd) {
            ctx->watches[i] = w;
            return 0;
        }
    }
    ctx->watches = socp_realloc(ctx->watches, (ctx->nwatches + 1) * sizeof *ctx->watches);
    ctx->watches[ctx->nwatches++] = w;
    return 0;
}

int
socp_actor_watch_sock(socp_actor_ctx_t *ctx,
                      void *sock,
                      short events,
                      socp_sock_handler_fn *fn,
                      void *arg)
{
    if (!sock || !fn) {
        return SOCP_EINVAL;
    }
    s_watch_t w = {-1, sock, events, NULL, fn, arg};
    for (size_t i = 0; i < ctx->nwatches; i++) {
        if (ctx->watches[i].sock == sock) {
            ctx->watches[i] = w;
            return 0;
        }
    }
    ctx->watches = socp_realloc(ctx->watches, (ctx->nwatches + 1) * sizeof *ctx->watches);
    ctx->watches[ctx->nwatches++] = w;
    return 0;
}

void
socp_actor_unwatch_sock(socp_actor_ctx_t *ctx, void *sock)
{
    for (size_t i = 0; i < ctx->nwatches; i++) {
        if (ctx->watches[i].sock == sock) {
            ctx->watches[i] = ctx->watches[--ctx->nwatches];
            return;
        }
    }
}

void
socp_actor_unwatch_fd(socp_actor_ctx_t *ctx, int fd)
{
    for (size_t i = 0; i < ctx->nwatches; i++) {
        if (ctx->watches[i].fd == fd && !ctx->watches[i].sock) {
            ctx->watches[i] = ctx->watches[--ctx->nwatches];
            return;
        }
    }
}

int
socp_actor_timer_add(socp_actor_ctx_t *ctx,
                     uint64_t delay_ms,
                     uint64_t interval_ms,
                     socp_timer_fn *fn,
                     void *arg)
{
    ctx->timers = socp_realloc(ctx->timers, (ctx->ntimers + 1) * sizeof *ctx->timers);
    int id = ++ctx->next_timer_id;
    ctx->timers[ctx->ntimers++] = (s_timer_t){id, socp_now_ms() + delay_ms, interval_ms, fn, arg};
    return id;
}

void
socp_actor_timer_cancel(socp_actor_ctx_t *ctx, int timer_id)
{
    for (size_t i = 0; i < ctx->ntimers; i++) {
        if (ctx->timers[i].id == timer_id) {
            ctx->timers[i] = ctx->timers[--ctx->ntimers];
            return;
        }
    }
}

static long
s_poll_timeout(const socp_actor_ctx_t *ctx)
{
    if (ctx->ntimers == 0) {
        return -1;
    }
    uint64_t now = socp_now_ms(), next = UINT64_MAX;
    for (size_t i = 0; i < ctx->ntimers; i++) {
        if (ctx->timers[i].due_ms < next) {
            next = ctx->timers[i].due_ms;
        }
    }
    return next <= now ? 0 : (long) (next - now);
}

static int
s_fire_timers(socp_actor_ctx_t *ctx)
{
    uint64_t now = socp_now_ms();
    // Collect due ids first: handlers may add or cancel timers.
    int due[64];
    size_t ndue = 0;
    for (size_t i = 0; i < ctx->ntimers && ndue < SOCP_ARRAY_LEN(due); i++) {
        if (ctx->timers[i].due_ms <= now) {
            due[ndue++] = ctx->timers[i].id;
        }
    }
    for (size_t k = 0; k < ndue; k++) {
        for (size_t i = 0; i < ctx->ntimers; i++) {
            s_timer_t *t = &ctx->timers[i];
            if (t->id != due[k]) {
                continue;
            }
            s_timer_t copy = *t;
            if (t->interval) {
                t->due_ms = now + t->interval;
            } else {
                ctx->timers[i] = ctx->timers[--ctx->ntimers];
            }
            int rc = copy.fn(ctx, copy.id, copy.arg);
            if (rc != 0) {
                return rc;
            }
            break;
        }
    }
    return 0;
}

// Handles one control message. Returns 0, or SOCP_ACTOR_STOP on TERM.
static int
s_on_pipe(socp_actor_ctx_t *ctx)
{
    socp_msg_t m;
    int rc = s_recv_msg(ctx->pipe, ZMQ_DONTWAIT, &m);
    if (rc == SOCP_EAGAIN) {
        return 0;
    }
    if (rc != 0) {
        return rc == SOCP_ETERM ? SOCP_ETERM : 0;
    }
    int result = 0;
    if (m.type == SOCP_MSG_TERM) {
        result = SOCP_ACTOR_STOP;
    } else if (m.type == SOCP_MSG_STATS_REQ) {
        socp_actor_stats_t s;
        socp_actor_get_stats(ctx, &s);
        socp_msg_t r = socp_msg_make(SOCP_MSG_STATS);
        r.corr_id = m.corr_id;
        r.body.stats.received = s.received;
        r.body.stats.sent = s.sent;
        r.body.stats.dropped = s.dropped;
        r.body.stats.queued = s.queued;
        r.body.stats.malformed = s.malformed;
        (void) s_pipe_send(ctx->pipe, &r, ctx->start->name);
    } else {
        socp_warn("unexpected %s on the control pipe", socp_msg_name(m.type));
    }
    socp_msg_fini(&m);
    return result;
}

// Drains up to `batch` inbox frames. Each is decoded in place (a view into
// the frame), handed to on_msg, then the frame is closed: the hot path makes
// no copy and no allocation.
static int
s_on_inbox(socp_actor_ctx_t *ctx, socp_msg_handler_fn *on_msg, void *arg)
{
    zmq_msg_t frame;
    zmq_msg_init(&frame);
    for (int i = 0; i < ctx->start->opts.batch; i++) {
        if (zmq_msg_recv(&frame, ctx->inbox, ZMQ_DONTWAIT) < 0) {
            int e = zmq_errno();
            zmq_msg_close(&frame);
            return e == EAGAIN ? 0 : e == ETERM ? SOCP_ETERM : SOCP_EIO;
        }
        const uint8_t *data = zmq_msg_data(&frame);
        size_t size = zmq_msg_size(&frame), used = 0;
        for (size_t off = 0; off < size; off += used) {
            socp_msg_t m;
            int rc = socp_msg_decode_view_next(data + off, size - off, &used, &m);
            if (rc != 0) {
                // Frames between our own actors: a decode failure is a bug
                // somewhere in-process. Count it, say so, skip the rest of
                // the frame, and keep serving.
                ctx->stats.malformed++;
                socp_error("malformed frame in inbox: %s", socp_strerror(rc));
                break;
            }
            ctx->stats.received++;
            rc = on_msg ? on_msg(ctx, &m, arg) : 0;
            socp_msg_fini(&m);
            if (rc != 0) {
                zmq_msg_close(&frame);
                return rc;
            }
        }
    }
    zmq_msg_close(&frame);
    return 0;
}

int
socp_actor_run(socp_actor_ctx_t *ctx, socp_msg_handler_fn *on_msg, void *arg)
{
    for (;;) {
        int rc = s_flush_batches(ctx); // nothing stays batched while we block
        if (rc != 0) {
            return rc;
        }
        size_t n = 2 + ctx->npeers + ctx->nwatches;
        if (n > ctx->items_cap) {
            ctx->items_cap = n * 2;
            ctx->items = socp_realloc(ctx->items, ctx->items_cap * sizeof *ctx->items);
        }
        zmq_pollitem_t *it = ctx->items;
        it[0] = (zmq_pollitem_t){ctx->pipe, 0, ZMQ_POLLIN, 0};
        it[1] = (zmq_pollitem_t){ctx->inbox, 0, ZMQ_POLLIN, 0};
        size_t k = 2;
        size_t first_peer = k;
        for (size_t i = 0; i < ctx->npeers; i++) {
            // Peers with nothing waiting get a null item: keeps indices simple.
            short ev = ctx->peers[i].nframes ? ZMQ_POLLOUT : 0;
            it[k++] = (zmq_pollitem_t){ev ? ctx->peers[i].sock : NULL, -1, ev, 0};
        }
        size_t first_fd = k;
        size_t nw = ctx->nwatches;
        for (size_t i = 0; i < nw; i++) {
            // zmq sockets are polled natively (level-triggered), never via ZMQ_FD.
            it[k++] = (zmq_pollitem_t){ctx->watches[i].sock, ctx->watches[i].fd,
                                       ctx->watches[i].events, 0};
        }
        rc = zmq_poll(it, (int) k, s_poll_timeout(ctx));
        if (rc < 0) {
            if (zmq_errno() == EINTR) {
                continue;
            }
            return zmq_errno() == ETERM ? SOCP_ETERM : SOCP_EIO;
        }
        if ((rc = s_fire_timers(ctx)) != 0) {
            return rc == SOCP_ACTOR_STOP ? 0 : rc;
        }
        if (it[0].revents & ZMQ_POLLIN) {
            if ((rc = s_on_pipe(ctx)) != 0) {
                return rc == SOCP_ACTOR_STOP ? 0 : rc;
            }
        }
        for (size_t i = 0; i < ctx->npeers && first_peer + i < first_fd; i++) {
            if (it[first_peer + i].revents & ZMQ_POLLOUT) {
                if ((rc = s_flush(ctx, &ctx->peers[i])) != 0) {
                    return rc == SOCP_ACTOR_STOP ? 0 : rc;
                }
            }
        }
        for (size_t i = 0; i < nw; i++) {
            zmq_pollitem_t *p = &it[first_fd + i];
            if (!p->revents) {
                continue;
            }
            // Look the watch up again: an earlier handler may have removed it.
            for (size_t w = 0; w < ctx->nwatches; w++) {
                s_watch_t watch = ctx->watches[w];
                if (p->socket ? watch.sock != p->socket : (watch.sock || watch.fd != p->fd)) {
                    continue;
                }
                rc = watch.sock ? watch.sock_fn(ctx, watch.sock, p->revents, watch.arg)
                                : watch.fn(ctx, watch.fd, p->revents, watch.arg);
                if (rc != 0) {
                    return rc == SOCP_ACTOR_STOP ? 0 : rc;
                }
                break;
            }
        }
        if (it[1].revents & ZMQ_POLLIN) {
            if ((rc = s_on_inbox(ctx, on_msg, arg)) != 0) {
                return rc == SOCP_ACTOR_STOP ? 0 : rc;
            }
        }
    }
}

static void *
s_actor_main(void *arg)
{
    s_start_t *start = arg;
    socp_platform_block_signals(); // signals belong to the supervisor
    socp_platform_thread_name(start->name);
    socp_log_set_thread_name(start->name);

    socp_actor_ctx_t *ctx = socp_calloc(1, sizeof *ctx);
    ctx->start = start;
    socp_buf_init(&ctx->scratch);
    int status = 0;
    ctx->pipe = socp_sock_new(start->bus, ZMQ_PAIR, 0, start->name);
    if (!ctx->pipe || zmq_connect(ctx->pipe, start->pipe_ep) != 0) {
        // Without a pipe the supervisor learns of the failure by timeout.
        socp_error("cannot connect the control pipe: %s", zmq_strerror(zmq_errno()));
        status = SOCP_EINIT;
        goto done;
    }
    ctx->inbox = socp_sock_new(start->bus, ZMQ_PULL, start->opts.inbox_hwm, start->name);
    char ep[64];
    socp_actor_endpoint(start->name, ep, sizeof ep);
    if (!ctx->inbox || zmq_bind(ctx->inbox, ep) != 0) {
        int e = zmq_errno();
        socp_error("cannot bind inbox %s: %s", ep, zmq_strerror(e));
        status = e == EADDRINUSE ? SOCP_EEXIST : SOCP_EINIT;
        (void) socp_actor_ready(ctx, status);
        goto done;
    }
    status = start->fn(ctx, start->args);
    if (!ctx->ready_sent) {
        (void) socp_actor_ready(ctx, status);
    }
done:
    (void) s_flush_batches(ctx); // what the last handler sent
    for (size_t i = 0; i < ctx->npeers; i++) {
        s_peer_free(ctx, &ctx->peers[i]);
    }
    if (ctx->inbox) {
        // Unbind first: closing alone releases the inproc name later, in
        // libzmq's reaper, and a restarted actor could not bind it.
        char inbox_ep[64];
        socp_actor_endpoint(start->name, inbox_ep, sizeof inbox_ep);
        zmq_unbind(ctx->inbox, inbox_ep);
    }
    socp_sock_close(start->bus, &ctx->inbox);
    if (ctx->pipe) {
        socp_msg_t m = socp_msg_make(SOCP_MSG_DONE);
        m.body.done.status = status;
        int timeout = 1000; // never wait long for a supervisor that is gone
        zmq_setsockopt(ctx->pipe, ZMQ_SNDTIMEO, &timeout, sizeof timeout);
        (void) s_pipe_send(ctx->pipe, &m, start->name);
        socp_sock_close(start->bus, &ctx->pipe);
    }
    free(ctx->peers);
    free(ctx->watches);
    free(ctx->timers);
    free(ctx->items);
    socp_buf_fini(&ctx->scratch);
    free(ctx);
    return (void *) (intptr_t) status;
}

// ---- supervisor side -----------------------------------------------------------

const char *
socp_actor_handle_name(const socp_actor_t *self)
{
    return self->start->name;
}

void *
socp_actor_pipe(socp_actor_t *self)
{
    return self->pipe;
}

bool
socp_actor_exited(const socp_actor_t *self, int *status)
{
    if (status) {
        *status = self->status;
    }
    return self->done;
}

bool
socp_actor_pipe_pending(const socp_actor_t *self)
{
    return self->nheld > 0;
}

int
socp_actor_pipe_recv(socp_actor_t *self, socp_msg_t *out)
{
    if (self->nheld) {
        *out = self->held[0];
        memmove(&self->held[0], &self->held[1], --self->nheld * sizeof self->held[0]);
        return 0;
    }
    int rc = s_recv_msg(self->pipe, ZMQ_DONTWAIT, out);
    if (rc == 0 && out->type == SOCP_MSG_DONE) {
        self->done = true;
        self->status = (int) out->body.done.status;
    }
    return rc;
}

// Waits up to timeout_ms for a message of `type` on the pipe, handling any
// DONE on the way. Returns 0 (*out filled), SOCP_ETIMEDOUT, or SOCP_ETERM.
static int
s_pipe_wait(socp_actor_t *self, socp_msg_type_t type, int timeout_ms, socp_msg_t *out)
{
    uint64_t deadline = socp_now_ms() + (uint64_t) timeout_ms;
    for (;;) {
        uint64_t now = socp_now_ms();
        if (now >= deadline) {
            return SOCP_ETIMEDOUT;
        }
        zmq_pollitem_t it = {self->pipe, 0, ZMQ_POLLIN, 0};
        int rc = zmq_poll(&it, 1, (long) (deadline - now));
        if (rc < 0) {
            if (zmq_errno() == EINTR) {
                continue;
            }
            return zmq_errno() == ETERM ? SOCP_ETERM : SOCP_EIO;
        }
        if (rc == 0) {
            continue;
        }
        rc = s_recv_msg(self->pipe, ZMQ_DONTWAIT, out);
        if (rc == SOCP_EAGAIN) {
            continue;
        }
        if (rc == 0 && out->type == SOCP_MSG_DONE) {
            self->done = true;
            self->status = (int) out->body.done.status;
        }
        if (rc != 0) {
            return rc;
        }
        if (out->type == type) {
            return 0;
        }
        if (out->type == SOCP_MSG_DONE) {
            // The actor ended while we waited for something else.
            return SOCP_ECLOSED;
        }
        if (out->type == SOCP_MSG_FAULT && self->nheld < SOCP_ARRAY_LEN(self->held)) {
            self->held[self->nheld++] = *out; // keep it for the supervisor
            memset(out, 0, sizeof *out);
            continue;
        }
        socp_msg_fini(out);
    }
}

static void
s_handle_free(socp_actor_t *self)
{
    for (size_t i = 0; i < self->nheld; i++) {
        socp_msg_fini(&self->held[i]);
    }
    free(self->start);
    free(self);
}

int
socp_actor_start(socp_bus_t *bus,
                 const char *name,
                 socp_actor_fn *fn,
                 void *args,
                 const socp_actor_opts_t *opts,
                 socp_actor_t **out)
{
    *out = NULL;
    if (!name || !*name || strlen(name) > SOCP_ACTOR_NAME_MAX || !fn) {
        return SOCP_EINVAL;
    }
    socp_actor_t *self = socp_calloc(1, sizeof *self);
    s_start_t *st = socp_calloc(1, sizeof *st);
    self->start = st;
    snprintf(st->name, sizeof st->name, "%s", name);
    st->fn = fn;
    st->args = args;
    st->bus = bus;
    if (opts) {
        st->opts = *opts;
    }
    if (st->opts.outbox_max == 0) {
        st->opts.outbox_max = S_DEFAULT_OUTBOX;
    }
    if (st->opts.ready_timeout_ms <= 0) {
        st->opts.ready_timeout_ms = S_DEFAULT_READY;
    }
    if (st->opts.batch <= 0) {
        st->opts.batch = S_DEFAULT_BATCH;
    }
    snprintf(st->pipe_ep, sizeof st->pipe_ep, "inproc://socp.pipe.%llu",
             (unsigned long long) socp_bus_next_id(bus));
    self->pipe = socp_sock_new(bus, ZMQ_PAIR, 0, "supervisor");
    if (!self->pipe || zmq_bind(self->pipe, st->pipe_ep) != 0) {
        socp_sock_close(bus, &self->pipe);
        s_handle_free(self);
        return SOCP_EINIT;
    }
    if (pthread_create(&self->thread, NULL, s_actor_main, st) != 0) {
        socp_error("cannot create the thread of actor %s", name);
        socp_sock_close(bus, &self->pipe);
        s_handle_free(self);
        return SOCP_EINIT;
    }
    socp_msg_t m;
    int rc = s_pipe_wait(self, SOCP_MSG_READY, st->opts.ready_timeout_ms, &m);
    int status = rc == 0 ? (int) m.body.ready.status : rc;
    socp_msg_fini(&m);
    if (status != 0) {
        if (rc == 0 || rc == SOCP_ECLOSED) {
            socp_error("actor %s failed to initialise: %s", name, socp_strerror(status));
        } else {
            socp_error("actor %s did not report READY: %s", name, socp_strerror(rc));
        }
        (void) socp_actor_stop(&self, 1000);
        return status;
    }
    *out = self;
    return 0;
}

int
socp_actor_query_stats(socp_actor_t *self, int timeout_ms, socp_actor_stats_t *out)
{
    memset(out, 0, sizeof *out);
    socp_msg_t req = socp_msg_make(SOCP_MSG_STATS_REQ);
    int rc = s_pipe_send_flags(self->pipe, &req, "supervisor", ZMQ_DONTWAIT);
    if (rc != 0) {
        return rc;
    }
    socp_msg_t m;
    rc = s_pipe_wait(self, SOCP_MSG_STATS, timeout_ms, &m);
    if (rc == 0) {
        *out = (socp_actor_stats_t){m.body.stats.received, m.body.stats.sent, m.body.stats.dropped,
                                    m.body.stats.queued, m.body.stats.malformed};
        socp_msg_fini(&m);
    }
    return rc;
}

int
socp_actor_stop(socp_actor_t **self_p, int deadline_ms)
{
    socp_actor_t *self = *self_p;
    if (!self) {
        return 0;
    }
    *self_p = NULL;
    socp_bus_t *bus = self->start->bus;
    const char *name = self->start->name;
    int status = self->status;
    bool timed_out = false;
    if (!self->done) {
        socp_msg_t term = socp_msg_make(SOCP_MSG_TERM);
        int rc = s_pipe_send_flags(self->pipe, &term, "supervisor", ZMQ_DONTWAIT);
        socp_msg_t m;
        if (rc == 0 || rc == SOCP_EAGAIN) { // EAGAIN: the actor already left
            rc = s_pipe_wait(self, SOCP_MSG_DONE, deadline_ms, &m);
        }
        if (rc == 0) {
            status = (int) m.body.done.status;
            socp_msg_fini(&m);
        } else if (rc != SOCP_ETERM) {
            socp_error("actor %s missed its stop deadline (%d ms): shutting the bus down", name,
                       deadline_ms);
            timed_out = true;
        }
    }
    socp_sock_close(bus, &self->pipe);
    if (timed_out || socp_bus_is_shutdown(bus)) {
        socp_bus_shutdown(bus); // every zmq call in every actor now returns ETERM
        if (socp_platform_join(self->thread, deadline_ms > 0 ? deadline_ms : 1000, NULL) != 0) {
            // Stuck outside zmq: nothing safe is left to do but let it go.
            socp_error("actor %s is stuck outside zmq; detaching it", name);
            pthread_detach(self->thread);
            return SOCP_ETIMEDOUT; // the start record stays for the thread
        }
    } else {
        pthread_join(self->thread, NULL);
    }
    s_handle_free(self);
    return timed_out ? SOCP_ETIMEDOUT : status;
}
