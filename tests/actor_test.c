// actor_test.c: actor lifecycle, overflow policy per class, timers,
// signals, stop deadlines and socket-leak reporting. Every wait has a
// deadline; nothing sleeps to synchronise.
#include "socp_test.h"
#include "socp/socp_actor.h"
#include "socp/socp_platform.h"
#include "socp/socp_sup.h"

#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <time.h>
#include <unistd.h>
#include <zmq.h>

// ---- test side: an inbox the test thread reads ---------------------------------

typedef struct {
    socp_bus_t *bus;
    void *inbox;           // PULL bound at inproc://socp.test
    socp_reader_t *reader; // splits batch frames
    void *out;             // PUSH for sending into actors (connected on demand)
} s_env_t;

static void
s_env_init(s_env_t *env)
{
    CHECK_OK(socp_bus_new(&env->bus));
    env->inbox = socp_sock_new(env->bus, ZMQ_PULL, 10000, "test");
    CHECK(zmq_bind(env->inbox, "inproc://socp.test") == 0);
    env->reader = socp_reader_new(env->inbox);
    env->out = NULL;
}

static void
s_env_fini(s_env_t *env)
{
    socp_reader_destroy(&env->reader);
    socp_sock_close(env->bus, &env->inbox);
    socp_sock_close(env->bus, &env->out);
    CHECK_OK(socp_bus_destroy(&env->bus));
}

// Receives one message within timeout_ms; fails the test otherwise.
static void
s_expect(s_env_t *env, socp_msg_type_t type, int timeout_ms, socp_msg_t *out)
{
    int rc = socp_reader_next(env->reader, timeout_ms, out);
    CHECK_MSG(rc == 0, "no %s within %d ms (%s)", socp_msg_name(type), timeout_ms,
              socp_strerror(rc));
    CHECK_MSG(out->type == type, "expected %s, got %s", socp_msg_name(type),
              socp_msg_name(out->type));
}

static void
s_send_to(s_env_t *env, const char *actor, socp_msg_t *m)
{
    socp_sock_close(env->bus, &env->out);
    env->out = socp_sock_new(env->bus, ZMQ_PUSH, 0, "test");
    char ep[64];
    socp_actor_endpoint(actor, ep, sizeof ep);
    CHECK(zmq_connect(env->out, ep) == 0);
    snprintf(m->from, sizeof m->from, "test");
    socp_buf_t buf;
    socp_buf_init(&buf);
    CHECK_OK(socp_msg_encode(m, &buf));
    CHECK(zmq_send(env->out, buf.data, buf.len, 0) == (int) buf.len);
    socp_buf_fini(&buf);
}

// ---- actors ----------------------------------------------------------------------

// echo: answers PING with PONG (same fields) to the sender.
static int
s_echo_on_msg(socp_actor_ctx_t *ctx, socp_msg_t *msg, void *arg)
{
    (void) arg;
    if (msg->type != SOCP_MSG_PING) {
        return 0;
    }
    socp_msg_t r = socp_msg_make(SOCP_MSG_PONG);
    r.body.pong.seq = msg->body.ping.seq;
    r.body.pong.sent_ns = msg->body.ping.sent_ns;
    r.body.pong.data = msg->body.ping.data;
    return socp_actor_reply(ctx, msg, &r) == 0 ? 0 : SOCP_EIO;
}

static int
s_echo(socp_actor_ctx_t *ctx, void *args)
{
    (void) args;
    socp_actor_ready(ctx, 0);
    return socp_actor_run(ctx, s_echo_on_msg, NULL);
}

// relay: forwards PING to the actor named in args, PONG back to "test".
static int
s_relay_on_msg(socp_actor_ctx_t *ctx, socp_msg_t *msg, void *arg)
{
    const char *next = arg;
    if (msg->type == SOCP_MSG_PING) {
        return socp_actor_send(ctx, next, msg);
    }
    if (msg->type == SOCP_MSG_PONG) {
        return socp_actor_send(ctx, "test", msg);
    }
    return 0;
}

static int
s_relay(socp_actor_ctx_t *ctx, void *args)
{
    socp_actor_ready(ctx, 0);
    return socp_actor_run(ctx, s_relay_on_msg, args);
}

static int
s_failing(socp_actor_ctx_t *ctx, void *args)
{
    (void) ctx;
    (void) args;
    return SOCP_ESTORE; // e.g. the database would not open
}

SOCP_TEST(actor_start_stop_and_round_trip)
{
    s_env_t env;
    s_env_init(&env);
    socp_actor_t *echo, *relay;
    CHECK_OK(socp_actor_start(env.bus, "echo", s_echo, NULL, NULL, &echo));
    CHECK_OK(socp_actor_start(env.bus, "relay", s_relay, (void *) "echo", NULL, &relay));
    socp_msg_t m = socp_msg_make(SOCP_MSG_PING);
    m.body.ping.seq = 42;
    m.body.ping.data = (socp_bin_t){(const uint8_t *) "hi", 2};
    s_send_to(&env, "relay", &m);
    socp_msg_t r;
    s_expect(&env, SOCP_MSG_PONG, 5000, &r);
    CHECK_EQ(r.body.pong.seq, 42);
    CHECK_EQ(r.body.pong.data.len, 2);
    CHECK_STREQ(r.from, "relay");
    socp_msg_fini(&r);
    socp_actor_stats_t st;
    CHECK_OK(socp_actor_query_stats(relay, 5000, &st));
    CHECK_EQ(st.received, 2);
    CHECK_EQ(st.sent, 2);
    CHECK_EQ(socp_actor_stop(&relay, 1000), 0);
    CHECK_EQ(socp_actor_stop(&echo, 1000), 0);
    CHECK(relay == NULL && echo == NULL);
    s_env_fini(&env);
}

SOCP_TEST(actor_init_failure_fails_start_with_its_status)
{
    s_env_t env;
    s_env_init(&env);
    socp_actor_t *a = (socp_actor_t *) 1;
    CHECK_RC(socp_actor_start(env.bus, "store", s_failing, NULL, NULL, &a), SOCP_ESTORE);
    CHECK(a == NULL);
    CHECK_EQ(socp_bus_open_sockets(env.bus), 1); // only the test inbox
    // Two actors cannot share a name (inbox endpoint).
    socp_actor_t *e1, *e2;
    CHECK_OK(socp_actor_start(env.bus, "echo", s_echo, NULL, NULL, &e1));
    CHECK_RC(socp_actor_start(env.bus, "echo", s_echo, NULL, NULL, &e2), SOCP_EEXIST);
    CHECK_RC(socp_actor_start(env.bus, "", s_echo, NULL, NULL, &e2), SOCP_EINVAL);
    CHECK_RC(socp_actor_start(env.bus, "a-name-that-is-far-too-long-for-the-bus", s_echo, NULL,
                              NULL, &e2),
             SOCP_EINVAL);
    CHECK_EQ(socp_actor_stop(&e1, 1000), 0);
    s_env_fini(&env);
}

static int
s_open_fds(void)
{
    DIR *d = opendir("/proc/self/fd");
    int n = 0;
    while (d && readdir(d)) {
        n++;
    }
    if (d) {
        closedir(d);
    }
    return n;
}

// libzmq frees a closed socket's descriptors later, in its reaper thread.
// Waits (polling, with a deadline) until the open fds are back to `limit`.
static int
s_wait_fds(int limit, int deadline_ms)
{
    uint64_t until = socp_now_ms() + (uint64_t) deadline_ms;
    int n;
    while ((n = s_open_fds()) > limit && socp_now_ms() < until) {
        nanosleep(&(struct timespec){0, 1000000}, NULL);
    }
    return n;
}

SOCP_TEST_T(actor_start_stop_1000_times_without_leak, 300)
{
    int baseline = s_open_fds();
    s_env_t env;
    s_env_init(&env);
    for (int i = 0; i < 1000; i++) {
        socp_sup_t *sup;
        CHECK_OK(socp_sup_new(env.bus, false, &sup));
        CHECK_OK(socp_sup_start(sup, "echo", s_echo, NULL, NULL));
        CHECK_OK(socp_sup_start(sup, "relay", s_relay, (void *) "echo", NULL));
        CHECK_OK(socp_sup_start(sup, "relay2", s_relay, (void *) "relay", NULL));
        if (i % 100 == 0) { // traffic through all three now and then
            socp_msg_t m = socp_msg_make(SOCP_MSG_PING);
            m.body.ping.seq = (uint64_t) i;
            s_send_to(&env, "relay2", &m);
            socp_msg_t r;
            s_expect(&env, SOCP_MSG_PONG, 5000, &r);
            CHECK_EQ(r.body.pong.seq, i);
            socp_msg_fini(&r);
        }
        CHECK_OK(socp_sup_stop(sup, 1000));
        socp_sup_destroy(&sup);
        CHECK_EQ(socp_bus_open_sockets(env.bus), env.out ? 2 : 1);
        if (i % 50 == 49) { // let the reaper keep pace with 9 sockets a cycle
            s_wait_fds(baseline + 100, 10000);
        }
    }
    s_env_fini(&env);
    int left = s_wait_fds(baseline, 10000);
    CHECK_MSG(left <= baseline, "%d file descriptors leaked", left - baseline);
}

// busy: on PING, reports to test, then computes for ~300 ms before returning.
static int
s_busy_on_msg(socp_actor_ctx_t *ctx, socp_msg_t *msg, void *arg)
{
    (void) arg;
    if (msg->type != SOCP_MSG_PING) {
        return 0;
    }
    socp_msg_t r = socp_msg_make(SOCP_MSG_PONG);
    socp_actor_send(ctx, "test", &r);
    uint64_t until = socp_now_ms() + 300;
    volatile uint64_t spin = 0;
    while (socp_now_ms() < until) {
        spin++;
    }
    return 0;
}

static int
s_busy(socp_actor_ctx_t *ctx, void *args)
{
    (void) args;
    socp_actor_ready(ctx, 0);
    return socp_actor_run(ctx, s_busy_on_msg, NULL);
}

SOCP_TEST(actor_busy_when_term_arrives_still_stops_cleanly)
{
    s_env_t env;
    s_env_init(&env);
    socp_actor_t *a;
    CHECK_OK(socp_actor_start(env.bus, "busy", s_busy, NULL, NULL, &a));
    socp_msg_t m = socp_msg_make(SOCP_MSG_PING);
    s_send_to(&env, "busy", &m);
    socp_msg_t r;
    s_expect(&env, SOCP_MSG_PONG, 5000, &r); // it is now inside the handler
    socp_msg_fini(&r);
    uint64_t t0 = socp_now_ms();
    CHECK_EQ(socp_actor_stop(&a, 5000), 0);
    uint64_t took = socp_now_ms() - t0;
    CHECK_MSG(took < 5000, "stop took %llu ms", (unsigned long long) took);
    CHECK(!socp_bus_is_shutdown(env.bus)); // no fallback was needed
    s_env_fini(&env);
}

// stuck: blocks in zmq_recv on a socket nobody sends to, ignoring TERM.
static int
s_stuck(socp_actor_ctx_t *ctx, void *args)
{
    (void) args;
    void *s = socp_sock_new(socp_actor_bus(ctx), ZMQ_PULL, 0, "stuck");
    zmq_bind(s, "inproc://socp.nobody");
    socp_actor_ready(ctx, 0);
    char b;
    int rc = zmq_recv(s, &b, 1, 0); // returns only with ETERM
    int status = rc < 0 && zmq_errno() == ETERM ? SOCP_ETERM : 0;
    socp_sock_close(socp_actor_bus(ctx), &s);
    return status;
}

SOCP_TEST(actor_missing_the_stop_deadline_falls_back_to_shutdown)
{
    socp_bus_t *bus;
    CHECK_OK(socp_bus_new(&bus));
    socp_actor_t *a;
    CHECK_OK(socp_actor_start(bus, "stuck", s_stuck, NULL, NULL, &a));
    uint64_t t0 = socp_now_ms();
    CHECK_RC(socp_actor_stop(&a, 200), SOCP_ETIMEDOUT);
    uint64_t took = socp_now_ms() - t0;
    CHECK_MSG(took < 1500, "stop took %llu ms", (unsigned long long) took);
    CHECK(socp_bus_is_shutdown(bus));
    // The actor closed its sockets on ETERM, so the context terminates.
    CHECK_OK(socp_bus_destroy(&bus));
}

SOCP_TEST(actor_leaked_socket_is_reported_not_hung_on)
{
    socp_bus_t *bus;
    CHECK_OK(socp_bus_new(&bus));
    void *s = socp_sock_new(bus, ZMQ_PUSH, 0, "careless");
    CHECK(zmq_connect(s, "inproc://socp.nowhere") == 0);
    zmq_send(s, "x", 1, ZMQ_DONTWAIT);
    CHECK_EQ(socp_bus_open_sockets(bus), 1);
    uint64_t t0 = socp_now_ms();
    CHECK_RC(socp_bus_destroy(&bus), SOCP_ELEAK);
    CHECK(socp_now_ms() - t0 < 1000);
    CHECK(bus == NULL);
    zmq_close(s); // the context itself is left to process exit
}

// ---- overflow policy -----------------------------------------------------------

typedef struct {
    int gate; // read end of a pipe: the sink starts reading after one byte
} s_sink_args_t;

// sink: waits for the gate, then reports each PING/NOTICE seq to test.
static int
s_sink_on_msg(socp_actor_ctx_t *ctx, socp_msg_t *msg, void *arg)
{
    (void) arg;
    socp_msg_t r = socp_msg_make(SOCP_MSG_PONG);
    r.body.pong.seq = msg->type == SOCP_MSG_PING ? msg->body.ping.seq : msg->body.notice.seq;
    return socp_actor_send(ctx, "test", &r) == 0 ? 0 : SOCP_EIO;
}

static int
s_sink(socp_actor_ctx_t *ctx, void *args)
{
    s_sink_args_t *a = args;
    socp_actor_ready(ctx, 0);
    char b;
    while (read(a->gate, &b, 1) < 0 && errno == EINTR) {
    }
    return socp_actor_run(ctx, s_sink_on_msg, NULL);
}

// flood: on PING{seq=n} from test, sends n messages of the class given by
// data ("must"/"drop") to sink and reports {accepted, refused} as PONG.
static int
s_flood_on_msg(socp_actor_ctx_t *ctx, socp_msg_t *msg, void *arg)
{
    (void) arg;
    if (msg->type != SOCP_MSG_PING) {
        return 0;
    }
    bool must = msg->body.ping.data.len == 4;
    uint64_t accepted = 0, refused = 0;
    for (uint64_t i = 0; i < msg->body.ping.seq; i++) {
        socp_msg_t m = socp_msg_make(must ? SOCP_MSG_PING : SOCP_MSG_NOTICE);
        if (must) {
            m.body.ping.seq = i;
        } else {
            m.body.notice.seq = i;
            m.body.notice.text = "presence";
        }
        int rc = socp_actor_send(ctx, "sink", &m);
        if (rc == 0) {
            accepted++;
        } else if (rc == (must ? SOCP_EOVERFLOW : SOCP_EDROPPED)) {
            refused++;
        } else {
            return rc;
        }
    }
    socp_msg_t r = socp_msg_make(SOCP_MSG_PONG);
    r.body.pong.seq = accepted;
    r.body.pong.sent_ns = refused;
    return socp_actor_send(ctx, "test", &r) == 0 ? 0 : SOCP_EIO;
}

static int
s_flood(socp_actor_ctx_t *ctx, void *args)
{
    (void) args;
    socp_actor_ready(ctx, 0);
    return socp_actor_run(ctx, s_flood_on_msg, NULL);
}

static void
s_overflow_case(bool must)
{
    s_env_t env;
    s_env_init(&env);
    int gate[2];
    CHECK(pipe(gate) == 0);
    s_sink_args_t sargs = {gate[0]};
    socp_actor_opts_t sink_opts = {.inbox_hwm = 10};
    socp_actor_opts_t flood_opts = {.peer_hwm = 10, .outbox_max = 100};
    socp_actor_t *sink, *flood;
    CHECK_OK(socp_actor_start(env.bus, "sink", s_sink, &sargs, &sink_opts, &sink));
    CHECK_OK(socp_actor_start(env.bus, "flood", s_flood, NULL, &flood_opts, &flood));
    // Must-deliver messages are batched into frames; the sink's queue holds
    // about sndhwm + rcvhwm = 20 frames, then the outbox 100 messages.
    uint64_t total = must ? 5000 : 500;
    socp_msg_t go = socp_msg_make(SOCP_MSG_PING);
    go.body.ping.seq = total;
    go.body.ping.data = (socp_bin_t){(const uint8_t *) (must ? "must" : "drop!"), must ? 4 : 5};
    s_send_to(&env, "flood", &go);
    socp_msg_t r;
    s_expect(&env, SOCP_MSG_PONG, 10000, &r);
    uint64_t accepted = r.body.pong.seq, refused = r.body.pong.sent_ns;
    socp_msg_fini(&r);
    CHECK_EQ(accepted + refused, total);
    CHECK_MSG(refused > 0, "a full peer refused nothing");
    socp_actor_stats_t st;
    CHECK_OK(socp_actor_query_stats(flood, 5000, &st));
    if (must) {
        CHECK_MSG(accepted >= 100 && accepted <= 2200, "accepted %llu",
                  (unsigned long long) accepted);
        CHECK_EQ(st.queued, 100); // the outbox is exactly full
        CHECK_EQ(st.dropped, 0);
        // The overflow reached the supervisor as a FAULT (the stats query
        // above kept it aside for us).
        CHECK(socp_actor_pipe_pending(flood));
        socp_msg_t f;
        CHECK_OK(socp_actor_pipe_recv(flood, &f));
        CHECK_EQ(f.type, SOCP_MSG_FAULT);
        CHECK_EQ(f.body.fault.code, SOCP_EOVERFLOW);
        CHECK_STREQ(f.body.fault.peer, "sink");
        socp_msg_fini(&f);
    } else {
        CHECK_MSG(accepted <= 30, "accepted %llu", (unsigned long long) accepted);
        CHECK_EQ(st.dropped, refused);
        CHECK_EQ(st.queued, 0);
    }
    // Open the gate: everything accepted arrives, in order, exactly once.
    CHECK(write(gate[1], "g", 1) == 1);
    for (uint64_t i = 0; i < accepted; i++) {
        s_expect(&env, SOCP_MSG_PONG, 10000, &r);
        if (must) {
            CHECK_EQ(r.body.pong.seq, i);
        }
        socp_msg_fini(&r);
    }
    socp_msg_t extra;
    CHECK_MSG(socp_reader_next(env.reader, 200, &extra) == SOCP_ETIMEDOUT,
              "more arrived than was accepted");
    CHECK_OK(socp_actor_query_stats(flood, 5000, &st));
    CHECK_EQ(st.queued, 0);
    CHECK_EQ(socp_actor_stop(&flood, 1000), 0);
    CHECK_EQ(socp_actor_stop(&sink, 1000), 0);
    close(gate[0]);
    close(gate[1]);
    s_env_fini(&env);
}

SOCP_TEST(actor_full_peer_must_deliver_queues_then_faults)
{
    s_overflow_case(true);
}

SOCP_TEST(actor_full_peer_droppable_counts_drops)
{
    s_overflow_case(false);
}

// ---- timers ----------------------------------------------------------------

static int
s_tick(socp_actor_ctx_t *ctx, int id, void *arg)
{
    (void) id;
    uint64_t *count = arg;
    socp_msg_t m = socp_msg_make(SOCP_MSG_PONG);
    m.body.pong.seq = ++*count;
    m.body.pong.sent_ns = socp_now_ns();
    socp_actor_send(ctx, "test", &m);
    return *count == 5 ? SOCP_ACTOR_STOP : 0;
}

static int
s_ticker(socp_actor_ctx_t *ctx, void *args)
{
    (void) args;
    uint64_t count = 0;
    socp_actor_timer_add(ctx, 50, 20, s_tick, &count);
    int never = socp_actor_timer_add(ctx, 10, 0, s_tick, &count);
    socp_actor_timer_cancel(ctx, never);
    socp_actor_ready(ctx, 0);
    return socp_actor_run(ctx, NULL, NULL);
}

SOCP_TEST(actor_timers_drive_the_poll_timeout)
{
    s_env_t env;
    s_env_init(&env);
    uint64_t t0 = socp_now_ns();
    socp_actor_t *a;
    CHECK_OK(socp_actor_start(env.bus, "ticker", s_ticker, NULL, NULL, &a));
    uint64_t last = t0;
    for (uint64_t i = 1; i <= 5; i++) {
        socp_msg_t r;
        s_expect(&env, SOCP_MSG_PONG, 5000, &r);
        CHECK_EQ(r.body.pong.seq, i); // the cancelled timer never fired
        uint64_t gap_ms = (r.body.pong.sent_ns - last) / 1000000;
        CHECK_MSG(gap_ms >= (i == 1 ? 50 : 20) - 1, "timer %llu fired after %llu ms",
                  (unsigned long long) i, (unsigned long long) gap_ms);
        last = r.body.pong.sent_ns;
        socp_msg_fini(&r);
    }
    // The actor ended its own loop: the supervisor side sees DONE.
    zmq_pollitem_t it = {socp_actor_pipe(a), 0, ZMQ_POLLIN, 0};
    CHECK(zmq_poll(&it, 1, 5000) == 1);
    socp_msg_t d;
    CHECK_OK(socp_actor_pipe_recv(a, &d));
    CHECK_EQ(d.type, SOCP_MSG_DONE);
    socp_msg_fini(&d);
    int status = -1;
    CHECK(socp_actor_exited(a, &status));
    CHECK_EQ(status, 0);
    CHECK_EQ(socp_actor_stop(&a, 1000), 0);
    s_env_fini(&env);
}

// ---- signals -------------------------------------------------------------------

// chatter: keeps PING traffic going to echo through a 1 ms timer.
static int
s_chat_tick(socp_actor_ctx_t *ctx, int id, void *arg)
{
    (void) id;
    uint64_t *seq = arg;
    for (int i = 0; i < 50; i++) {
        socp_msg_t m = socp_msg_make(SOCP_MSG_PING);
        m.body.ping.seq = (*seq)++;
        if (socp_actor_send(ctx, "echo", &m) == SOCP_EOVERFLOW) {
            break;
        }
    }
    return 0;
}

static int
s_chatter(socp_actor_ctx_t *ctx, void *args)
{
    (void) args;
    uint64_t seq = 0;
    socp_actor_timer_add(ctx, 0, 1, s_chat_tick, &seq);
    socp_actor_ready(ctx, 0);
    return socp_actor_run(ctx, NULL, NULL); // PONGs are read and discarded
}

SOCP_TEST(actor_sigterm_during_traffic_stops_within_a_second)
{
    socp_platform_block_signals();
    socp_bus_t *bus;
    CHECK_OK(socp_bus_new(&bus));
    socp_sup_t *sup;
    CHECK_OK(socp_sup_new(bus, true, &sup));
    CHECK_OK(socp_sup_start(sup, "echo", s_echo, NULL, NULL));
    CHECK_OK(socp_sup_start(sup, "chatter", s_chatter, NULL, NULL));
    CHECK_OK(socp_sup_start(sup, "chatter2", s_chatter, NULL, NULL));
    // Wait until traffic really flows.
    socp_actor_stats_t st = {0};
    uint64_t deadline = socp_now_ms() + 5000;
    while (st.received < 1000 && socp_now_ms() < deadline) {
        CHECK_OK(socp_actor_query_stats(socp_sup_actor(sup, "echo"), 1000, &st));
    }
    CHECK_MSG(st.received >= 1000, "echo received only %llu", (unsigned long long) st.received);
    CHECK(kill(getpid(), SIGTERM) == 0);
    socp_sup_event_t ev;
    CHECK_OK(socp_sup_wait(sup, 5000, &ev));
    CHECK_EQ(ev.kind, SOCP_SUP_SIGNAL);
    CHECK_EQ(ev.signo, SIGTERM);
    uint64_t t0 = socp_now_ms();
    CHECK_OK(socp_sup_stop(sup, 1000));
    uint64_t took = socp_now_ms() - t0;
    CHECK_MSG(took < 1000, "shutdown took %llu ms", (unsigned long long) took);
    socp_sup_destroy(&sup);
    CHECK_OK(socp_bus_destroy(&bus));
}

SOCP_TEST(actor_supervisor_reports_faults_and_exits)
{
    socp_bus_t *bus;
    CHECK_OK(socp_bus_new(&bus));
    socp_sup_t *sup;
    CHECK_OK(socp_sup_new(bus, false, &sup));
    CHECK_OK(socp_sup_start(sup, "ticker", s_ticker, NULL, NULL));
    // ticker sends to "test", which nobody reads here: its PONGs just queue.
    socp_sup_event_t ev;
    CHECK_OK(socp_sup_wait(sup, 5000, &ev));
    CHECK_EQ(ev.kind, SOCP_SUP_EXIT);
    CHECK_STREQ(ev.actor, "ticker");
    CHECK_EQ(ev.code, 0);
    CHECK_OK(socp_sup_wait(sup, 50, &ev));
    CHECK_EQ(ev.kind, SOCP_SUP_TIMEOUT);
    CHECK_OK(socp_sup_stop(sup, 1000));
    socp_sup_destroy(&sup);
    CHECK_OK(socp_bus_destroy(&bus));
}

// ---- zmq sockets in the actor's poll -------------------------------------------------

// side: owns a PULL socket of its own and reads ONE frame per wake-up. With
// level-triggered polling every frame is still read; with ZMQ_FD's edge-like
// signal the later ones would wait for a wake-up that never comes.
static int
s_side_on_sock(socp_actor_ctx_t *ctx, void *sock, short revents, void *arg)
{
    (void) revents;
    uint64_t *count = arg;
    char b[16];
    if (zmq_recv(sock, b, sizeof b, ZMQ_DONTWAIT) >= 0) {
        socp_msg_t m = socp_msg_make(SOCP_MSG_PONG);
        m.body.pong.seq = ++*count;
        return socp_actor_send(ctx, "test", &m);
    }
    return 0;
}

static int
s_side(socp_actor_ctx_t *ctx, void *args)
{
    (void) args;
    uint64_t count = 0;
    void *pull = socp_sock_new(socp_actor_bus(ctx), ZMQ_PULL, 0, "side");
    if (!pull || zmq_bind(pull, "inproc://side-channel") != 0) {
        socp_sock_close(socp_actor_bus(ctx), &pull);
        return SOCP_EINIT;
    }
    socp_actor_watch_sock(ctx, pull, ZMQ_POLLIN, s_side_on_sock, &count);
    socp_actor_ready(ctx, 0);
    int rc = socp_actor_run(ctx, NULL, NULL);
    socp_actor_unwatch_sock(ctx, pull);
    socp_sock_close(socp_actor_bus(ctx), &pull);
    return rc;
}

SOCP_TEST(actor_watched_zmq_socket_is_level_triggered)
{
    s_env_t env;
    s_env_init(&env);
    socp_actor_t *a;
    CHECK_OK(socp_actor_start(env.bus, "side", s_side, NULL, NULL, &a));
    void *push = socp_sock_new(env.bus, ZMQ_PUSH, 0, "test");
    CHECK(zmq_connect(push, "inproc://side-channel") == 0);
    for (int i = 0; i < 5; i++) { // all at once: one wake-up may cover several
        CHECK(zmq_send(push, "x", 1, 0) == 1);
    }
    for (uint64_t i = 1; i <= 5; i++) {
        socp_msg_t r;
        s_expect(&env, SOCP_MSG_PONG, 5000, &r);
        CHECK_EQ(r.body.pong.seq, i);
        socp_msg_fini(&r);
    }
    socp_sock_close(env.bus, &push);
    CHECK_EQ(socp_actor_stop(&a, 1000), 0);
    s_env_fini(&env);
}
