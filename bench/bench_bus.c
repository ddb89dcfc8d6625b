// bench_bus.c: bus throughput and round-trip latency between two actors,
// including msgpack encode and decode, next to a raw libzmq inproc
// PUSH/PULL baseline measured in the same run.
//
//   bench_bus [--quick]
//
// Prints messages per second for ~100 B and 4 KiB envelopes, the ratio to
// raw libzmq (target >= 0.5), and round-trip latency medians.
#include "socp/socp_actor.h"
#include "socp/socp_err.h"
#include "socp/socp_log.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zmq.h>

typedef struct {
    void *zmq;
    size_t size;
    uint64_t count;
} s_raw_t;

static void *
s_raw_receiver(void *arg)
{
    s_raw_t *r = arg;
    void *pull = zmq_socket(r->zmq, ZMQ_PULL);
    zmq_connect(pull, "inproc://raw");
    zmq_msg_t m;
    zmq_msg_init(&m);
    for (uint64_t i = 0; i < r->count; i++) {
        zmq_msg_recv(&m, pull, 0);
    }
    zmq_msg_close(&m);
    zmq_close(pull);
    return NULL;
}

// Raw libzmq: one thread sends `count` frames of `size` bytes, another
// receives them. Returns messages per second.
static double
s_raw_throughput(size_t size, uint64_t count)
{
    void *zmq = zmq_ctx_new();
    void *push = zmq_socket(zmq, ZMQ_PUSH);
    int hwm = SOCP_BUS_DEFAULT_HWM, linger = 0;
    zmq_setsockopt(push, ZMQ_SNDHWM, &hwm, sizeof hwm);
    zmq_setsockopt(push, ZMQ_LINGER, &linger, sizeof linger);
    zmq_bind(push, "inproc://raw");
    s_raw_t r = {zmq, size, count};
    pthread_t t;
    pthread_create(&t, NULL, s_raw_receiver, &r);
    uint8_t *buf = calloc(1, size);
    uint64_t t0 = socp_now_ns();
    for (uint64_t i = 0; i < count; i++) {
        zmq_send(push, buf, size, 0);
    }
    pthread_join(t, NULL);
    double secs = (double) (socp_now_ns() - t0) / 1e9;
    free(buf);
    zmq_close(push);
    zmq_ctx_term(zmq);
    return (double) count / secs;
}

static void *
s_raw_echo(void *arg)
{
    s_raw_t *r = arg;
    void *pair = zmq_socket(r->zmq, ZMQ_PAIR);
    zmq_connect(pair, "inproc://rawpair");
    zmq_msg_t m;
    zmq_msg_init(&m);
    for (uint64_t i = 0; i < r->count; i++) {
        zmq_msg_recv(&m, pair, 0);
        zmq_msg_send(&m, pair, 0);
    }
    zmq_msg_close(&m);
    zmq_close(pair);
    return NULL;
}

static int
s_cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *) a, y = *(const uint64_t *) b;
    return x < y ? -1 : x > y;
}

// Raw round trip over an inproc PAIR; returns the median in microseconds.
static double
s_raw_rtt(size_t size, uint64_t count)
{
    void *zmq = zmq_ctx_new();
    void *pair = zmq_socket(zmq, ZMQ_PAIR);
    zmq_bind(pair, "inproc://rawpair");
    s_raw_t r = {zmq, size, count};
    pthread_t t;
    pthread_create(&t, NULL, s_raw_echo, &r);
    uint8_t *buf = calloc(1, size);
    uint64_t *rtt = calloc(count, sizeof *rtt);
    for (uint64_t i = 0; i < count; i++) {
        uint64_t t0 = socp_now_ns();
        zmq_send(pair, buf, size, 0);
        zmq_recv(pair, buf, size, 0);
        rtt[i] = socp_now_ns() - t0;
    }
    pthread_join(t, NULL);
    qsort(rtt, count, sizeof *rtt, s_cmp_u64);
    double median = (double) rtt[count / 2] / 1000.0;
    free(rtt);
    free(buf);
    zmq_close(pair);
    zmq_ctx_term(zmq);
    return median;
}

// ---- the bus path: producer actor -> consumer actor -----------------------------

typedef struct {
    size_t size;       // payload bytes
    uint64_t count;    // messages to send
    uint64_t sent;     // producer progress
    uint8_t *payload;  // payload bytes
    uint64_t *rtt;     // round-trip samples (latency mode)
    bool latency;      // ping-pong instead of a stream
    uint64_t received; // consumer progress
} s_bench_t;

static int
s_report(socp_actor_ctx_t *ctx, uint64_t value)
{
    socp_msg_t m = socp_msg_make(SOCP_MSG_PONG);
    m.body.pong.seq = value;
    return socp_actor_send(ctx, "bench", &m);
}

static int
s_consumer_on_msg(socp_actor_ctx_t *ctx, socp_msg_t *msg, void *arg)
{
    s_bench_t *b = arg;
    if (msg->type != SOCP_MSG_PING) {
        return 0;
    }
    if (b->latency) { // echo back
        socp_msg_t r = socp_msg_make(SOCP_MSG_PONG);
        r.body.pong.seq = msg->body.ping.seq;
        r.body.pong.sent_ns = msg->body.ping.sent_ns;
        r.body.pong.data = msg->body.ping.data;
        return socp_actor_reply(ctx, msg, &r);
    }
    if (++b->received == b->count) {
        return s_report(ctx, b->received);
    }
    return 0;
}

static int
s_consumer(socp_actor_ctx_t *ctx, void *args)
{
    socp_actor_ready(ctx, 0);
    return socp_actor_run(ctx, s_consumer_on_msg, args);
}

static int
s_send_ping(socp_actor_ctx_t *ctx, s_bench_t *b)
{
    socp_msg_t m = socp_msg_make(SOCP_MSG_PING);
    m.body.ping.seq = b->sent++;
    m.body.ping.sent_ns =
        b->latency ? socp_now_ns() : b->sent; // no clock read per streamed message
    m.body.ping.data = (socp_bin_t){b->payload, b->size};
    return socp_actor_send(ctx, "consumer", &m);
}

// Streams while the consumer has room; the loop flushes and re-fires.
static int
s_producer_tick(socp_actor_ctx_t *ctx, int id, void *arg)
{
    s_bench_t *b = arg;
    while (b->sent < b->count && socp_actor_queued(ctx, "consumer") == 0) {
        int rc = s_send_ping(ctx, b);
        if (rc != 0) {
            return rc;
        }
    }
    (void) id;
    return 0;
}

static int
s_producer_drained(socp_actor_ctx_t *ctx, const char *peer, void *arg)
{
    (void) peer;
    return s_producer_tick(ctx, 0, arg);
}

static int
s_producer_on_msg(socp_actor_ctx_t *ctx, socp_msg_t *msg, void *arg)
{
    s_bench_t *b = arg;
    if (msg->type != SOCP_MSG_PONG) {
        return 0;
    }
    b->rtt[msg->body.pong.seq] = socp_now_ns() - msg->body.pong.sent_ns;
    if (b->sent == b->count) {
        return s_report(ctx, b->count);
    }
    return s_send_ping(ctx, b);
}

static int
s_start_tick(socp_actor_ctx_t *ctx, int id, void *arg)
{
    (void) id;
    return s_send_ping(ctx, arg);
}

static int
s_producer(socp_actor_ctx_t *ctx, void *args)
{
    s_bench_t *b = args;
    if (b->latency) {
        socp_actor_timer_add(ctx, 0, 0, s_start_tick, b);
    } else {
        socp_actor_timer_add(ctx, 0, 0, s_producer_tick, b); // starts the stream
        socp_actor_on_drain(ctx, s_producer_drained, b);     // resumes it
    }
    socp_actor_ready(ctx, 0);
    return socp_actor_run(ctx, s_producer_on_msg, b);
}

// Runs one bus scenario; returns msg/s (stream) or median RTT in µs.
static double
s_bus_run(size_t size, uint64_t count, bool latency)
{
    socp_bus_t *bus;
    if (socp_bus_new(&bus) != 0) {
        exit(1);
    }
    void *inbox = socp_sock_new(bus, ZMQ_PULL, 0, "bench");
    zmq_bind(inbox, "inproc://socp.bench");
    s_bench_t b = {.size = size, .count = count, .latency = latency};
    b.payload = calloc(1, size);
    b.rtt = latency ? calloc(count, sizeof *b.rtt) : NULL;
    socp_actor_t *consumer, *producer;
    if (socp_actor_start(bus, "consumer", s_consumer, &b, NULL, &consumer) != 0) {
        exit(1);
    }
    uint64_t t0 = socp_now_ns();
    if (socp_actor_start(bus, "producer", s_producer, &b, NULL, &producer) != 0) {
        exit(1);
    }
    char done[64];
    zmq_recv(inbox, done, sizeof done, 0);
    double secs = (double) (socp_now_ns() - t0) / 1e9;
    socp_actor_stop(&producer, 1000);
    socp_actor_stop(&consumer, 1000);
    socp_sock_close(bus, &inbox);
    socp_bus_destroy(&bus);
    double result = (double) count / secs;
    if (latency) {
        qsort(b.rtt, count, sizeof *b.rtt, s_cmp_u64);
        result = (double) b.rtt[count / 2] / 1000.0;
    }
    free(b.rtt);
    free(b.payload);
    return result;
}

int
main(int argc, char **argv)
{
    bool quick = argc > 1 && strcmp(argv[1], "--quick") == 0;
    socp_log_set_level(SOCP_LOG_WARN);
    const size_t sizes[] = {100, 4096};
    printf("bus benchmark: producer actor -> consumer actor (msgpack encode + inproc + decode)\n");
    printf(
        "baseline: raw libzmq inproc PUSH/PULL (throughput) and PAIR (round trip), same run\n\n");
    printf("%-8s %14s %14s %7s %14s %14s\n", "payload", "raw msg/s", "bus msg/s", "ratio",
           "raw rtt p50", "bus rtt p50");
    double worst = 1e9;
    for (size_t i = 0; i < SOCP_ARRAY_LEN(sizes); i++) {
        size_t size = sizes[i];
        uint64_t n = size <= 100 ? 2000000 : 400000;
        uint64_t nrtt = 50000;
        if (quick) {
            n /= 10;
            nrtt /= 10;
        }
        // Best of three alternating runs: the machine is shared and noisy,
        // and interleaving gives both sides the same conditions.
        double raw = 0, bus = 0;
        for (int round = 0; round < 3; round++) {
            fprintf(stderr, "\r[%zu/%zu] %zu B: round %d/3 raw...", i + 1, SOCP_ARRAY_LEN(sizes),
                    size, round + 1);
            double r = s_raw_throughput(size, n);
            fprintf(stderr, " bus...");
            double b = s_bus_run(size, n, false);
            raw = r > raw ? r : raw;
            bus = b > bus ? b : bus;
        }
        fprintf(stderr, " latency...\n");
        double raw_rtt = s_raw_rtt(size, nrtt);
        double bus_rtt = s_bus_run(size, nrtt, true);
        double ratio = bus / raw;
        if (ratio < worst) {
            worst = ratio;
        }
        printf("%-8zu %14.0f %14.0f %7.2f %12.1fus %12.1fus\n", size, raw, bus, ratio, raw_rtt,
               bus_rtt);
    }
    printf("\nworst throughput ratio bus/raw: %.2f (target >= 0.50): %s\n", worst,
           worst >= 0.5 ? "met" : "NOT met");
    return 0;
}
