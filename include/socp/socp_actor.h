// socp_actor.h: actors (one thread each) and the supervisor side of them.
//
// An actor is a thread with a PAIR pipe to its supervisor (control plane)
// and one PULL inbox bound at inproc://socp.<name> (data plane). Peers send
// it single-frame msgpack messages (socp_msg.h), never pointers.
//
// Lifecycle:
//   socp_actor_start  binds the pipe, creates the thread, and returns only
//                     after the actor's READY handshake; an actor whose init
//                     fails makes start fail with its status.
//   socp_actor_stop   sends TERM, waits for DONE up to a deadline, joins. Past
//                     the deadline it shuts the whole bus down (every zmq call
//                     returns ETERM) so the process never hangs.
//
// Sending (socp_actor_send) never blocks. Must-deliver messages to one peer
// are batched and handed to zmq as one frame before the loop next blocks (or
// at 64 KiB): a frame may carry several messages (see socp_reader_t). When a peer's queue is full
// the message's schema class decides: DROP messages are counted and dropped; MUST messages wait in
// a bounded per-peer outbox that is flushed in order when the peer has room. An outbox overflow is
// reported to the supervisor as a FAULT and returned as SOCP_EOVERFLOW: never a silent loss, never
// a deadlock.
//
// Thread affinity: socp_actor_start/stop/pipe* belong to the supervisor's
// thread; every function taking a socp_actor_ctx_t belongs to that actor.
#ifndef SOCP_ACTOR_H
#define SOCP_ACTOR_H

#include "socp/socp_bus.h"
#include "socp/socp_msg.h"

typedef struct socp_actor socp_actor_t;         // supervisor-side handle
typedef struct socp_actor_ctx socp_actor_ctx_t; // actor-side context

// The actor's body. It initialises, calls socp_actor_ready(ctx, 0) (or
// returns an error before that, which fails socp_actor_start), runs its loop
// (usually socp_actor_run) and returns its exit status.
typedef int(socp_actor_fn)(socp_actor_ctx_t *ctx, void *args);

// A message handed to a handler is a view into the received frame: its
// strings and bytes are valid until the handler returns (copy what you keep).
// Handlers return 0 to continue, SOCP_ACTOR_STOP to end the loop normally, or
// a negative socp_err code to end it with that status.
#define SOCP_ACTOR_STOP 1
typedef int(socp_msg_handler_fn)(socp_actor_ctx_t *ctx, socp_msg_t *msg, void *arg);
typedef int(socp_fd_handler_fn)(socp_actor_ctx_t *ctx, int fd, short revents, void *arg);
typedef int(socp_sock_handler_fn)(socp_actor_ctx_t *ctx, void *sock, short revents, void *arg);
typedef int(socp_timer_fn)(socp_actor_ctx_t *ctx, int timer_id, void *arg);
typedef int(socp_drain_fn)(socp_actor_ctx_t *ctx, const char *peer, void *arg);

typedef struct {
    int inbox_hwm;        // inbox receive HWM (0: SOCP_BUS_DEFAULT_HWM)
    int peer_hwm;         // send HWM towards each peer (0: SOCP_BUS_DEFAULT_HWM)
    size_t outbox_max;    // must-deliver messages held per full peer (0: 10000)
    int ready_timeout_ms; // how long start waits for READY (0: 30000)
    int batch;            // inbox messages handled per loop turn (0: 256)
} socp_actor_opts_t;

typedef struct {
    uint64_t received;  // messages taken from the inbox
    uint64_t sent;      // messages handed to peers (including via outbox)
    uint64_t dropped;   // droppable messages dropped on a full peer
    uint64_t queued;    // must-deliver messages waiting in outboxes now
    uint64_t malformed; // inbox frames that failed to decode
} socp_actor_stats_t;

// ---- supervisor side ---------------------------------------------------------

// Starts actor `name` (≤ SOCP_ACTOR_NAME_MAX bytes, unique on the bus).
// Returns 0 and the handle, SOCP_EINVAL for a bad name, SOCP_EINIT if the
// thread or sockets could not be created, SOCP_ETIMEDOUT if READY did not
// come in time, or the actor's own negative init status.
SOCP_NODISCARD int socp_actor_start(socp_bus_t *bus,
                                    const char *name,
                                    socp_actor_fn *fn,
                                    void *args,
                                    const socp_actor_opts_t *opts,
                                    socp_actor_t **out);

// Stops and joins the actor, frees the handle, sets *self_p = NULL. Returns
// the actor's exit status, or SOCP_ETIMEDOUT if it missed the deadline (the
// bus was then shut down to unblock it). NULL-safe.
int socp_actor_stop(socp_actor_t **self_p, int deadline_ms);

const char *socp_actor_handle_name(const socp_actor_t *self);

// The supervisor's end of the pipe, for zmq_poll (POLLIN: a FAULT, STATS or
// an unrequested DONE is waiting).
void *socp_actor_pipe(socp_actor_t *self);

// Takes one message from the pipe without blocking: 0 and *out filled (the
// caller must socp_msg_fini it), SOCP_EAGAIN if none, SOCP_ETERM. A DONE is
// also recorded in the handle (see socp_actor_exited).
int socp_actor_pipe_recv(socp_actor_t *self, socp_msg_t *out);

// True when FAULTs that arrived during a query wait in the handle: read them
// with socp_actor_pipe_recv even though the pipe does not poll readable.
bool socp_actor_pipe_pending(const socp_actor_t *self);

// True once the actor has reported DONE (it ended its loop on its own).
bool socp_actor_exited(const socp_actor_t *self, int *status);

// Asks the actor for its counters over the pipe (waits up to timeout_ms).
int socp_actor_query_stats(socp_actor_t *self, int timeout_ms, socp_actor_stats_t *out);

// ---- actor side --------------------------------------------------------------

// Reports READY with `status` (0 = initialised). Called once; if the actor
// function returns without calling it, the runtime reports its return value.
int socp_actor_ready(socp_actor_ctx_t *ctx, int status);

const char *socp_actor_name(const socp_actor_ctx_t *ctx);
socp_bus_t *socp_actor_bus(socp_actor_ctx_t *ctx);

// Sends `msg` to actor `to` (msg->from is set to this actor). Never blocks.
// Returns 0 (sent or queued), SOCP_EDROPPED (droppable, peer full),
// SOCP_EOVERFLOW (must-deliver outbox full; FAULT sent to the supervisor),
// SOCP_ETOOBIG / SOCP_EINVAL (the message breaks the schema), SOCP_ETERM.
int socp_actor_send(socp_actor_ctx_t *ctx, const char *to, socp_msg_t *msg);

// Must-deliver messages waiting in the outbox towards `peer` (0 when the
// peer has room). A producer that wants flow control stops sending while
// this is non-zero; the loop flushes the outbox when the peer drains.
size_t socp_actor_queued(socp_actor_ctx_t *ctx, const char *peer);

// Calls fn whenever the outbox towards a peer has been flushed empty: the
// moment a producer that paused on socp_actor_queued() may resume.
void socp_actor_on_drain(socp_actor_ctx_t *ctx, socp_drain_fn *fn, void *arg);

// Sends `reply` to the actor named in request->from with request's corr_id.
int socp_actor_reply(socp_actor_ctx_t *ctx, const socp_msg_t *request, socp_msg_t *reply);

// Reports a FAULT to the supervisor.
void socp_actor_fault(socp_actor_ctx_t *ctx, int code, const char *peer, const char *detail);

// Watches a file descriptor in the loop (events: ZMQ_POLLIN / ZMQ_POLLOUT).
// Watching an fd again replaces its events and handler.
int
socp_actor_watch_fd(socp_actor_ctx_t *ctx, int fd, short events, socp_fd_handler_fn *fn, void *arg);
void socp_actor_unwatch_fd(socp_actor_ctx_t *ctx, int fd);

// Watches a zmq socket the actor owns (e.g. a bridge's ROUTER) in the same
// zmq_poll, level-triggered. Never hand a socket's ZMQ_FD to watch_fd: that
// fd is edge-like and misses messages after sends.
int socp_actor_watch_sock(socp_actor_ctx_t *ctx,
                          void *sock,
                          short events,
                          socp_sock_handler_fn *fn,
                          void *arg);
void socp_actor_unwatch_sock(socp_actor_ctx_t *ctx, void *sock);

// Adds a timer firing after delay_ms, then every interval_ms (0: once).
// Returns its id (> 0). The loop's poll timeout comes from the nearest timer.
int socp_actor_timer_add(socp_actor_ctx_t *ctx,
                         uint64_t delay_ms,
                         uint64_t interval_ms,
                         socp_timer_fn *fn,
                         void *arg);
void socp_actor_timer_cancel(socp_actor_ctx_t *ctx, int timer_id);

// Runs the loop: pipe (TERM, STATS_REQ), inbox (on_msg, which may be NULL),
// watched fds, timers and outbox flushing. Returns 0 on TERM or
// SOCP_ACTOR_STOP, SOCP_ETERM when the bus is shut down, or a handler's
// negative status.
int socp_actor_run(socp_actor_ctx_t *ctx, socp_msg_handler_fn *on_msg, void *arg);

void socp_actor_get_stats(const socp_actor_ctx_t *ctx, socp_actor_stats_t *out);

// ---- threads that are not actors ------------------------------------------

// Actors batch must-deliver messages: one zmq frame may carry several
// messages back to back (socp_msg_decode_view_next). A thread that is not an
// actor (main, a test) and binds a PULL inbox that actors send to reads it
// through a reader, which splits frames and hands out owning copies.
typedef struct socp_reader socp_reader_t;

// Borrows `sock` (a PULL socket the caller owns and closes after the reader).
socp_reader_t *socp_reader_new(void *sock);

// Next message (an owning copy: socp_msg_fini it) within timeout_ms (-1:
// forever). Returns 0, SOCP_ETIMEDOUT, SOCP_ETERM, or SOCP_EPROTO.
int socp_reader_next(socp_reader_t *self, int timeout_ms, socp_msg_t *out);

void socp_reader_destroy(socp_reader_t **self_p);

// Writes the inproc endpoint of actor `name` into buf.
void socp_actor_endpoint(const char *name, char *buf, size_t size);

#endif
