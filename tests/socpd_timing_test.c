// socpd_timing_test.c: the server's timers against real processes, with
// shortened periods.
//   - A server frozen with SIGSTOP keeps its sockets open but silent: its
//     peer closes the link after --dead-ms and removes its users; after
//     SIGCONT the link comes back and the users re-appear on both sides.
//   - An introducer list whose first entries are down (connection refused;
//     accepted but never answering) makes the server try the next one.
#include "socpd_test.h"
#include "socp/socp_tcp.h"

#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define ALICE "a1a1a1a1-7777-4000-8000-000000000001"
#define BOB   "b2b2b2b2-7777-4000-8000-000000000002"

static void
s_hello_ok(sd_client_t *c, uint16_t port, const char *id, const char *fixture)
{
    sd_client_hello(c, port, id, fixture);
    socp_envelope_t e;
    CHECK_MSG(sd_recv(c, "PUBLIC_CHANNEL_UPDATED", 10000, &e) == 0, "%s not accepted", id);
    socp_envelope_fini(&e);
}

// Polls LIST_REQUEST until c sees exactly n users; returns the elapsed ms.
static uint64_t
s_wait_users(sd_client_t *c, const char *server_id, size_t n, int timeout_ms)
{
    uint64_t t0 = socp_now_ms(), deadline = t0 + (uint64_t) timeout_ms;
    size_t got = 0;
    while (socp_now_ms() < deadline) {
        sd_send(c, "LIST_REQUEST", server_id, socp_wall_ms(), json_object(), true);
        socp_envelope_t e;
        if (sd_recv(c, "LIST_RESPONSE", 2000, &e) == 0) {
            got = json_array_size(json_object_get(e.payload, "users"));
            socp_envelope_fini(&e);
            if (got == n) {
                return socp_now_ms() - t0;
            }
        }
        struct timespec ts = {0, 50 * 1000 * 1000};
        nanosleep(&ts, NULL); // polling interval of a deadline loop
    }
    CHECK_MSG(false, "%s sees %zu users, expected %zu", c->id, got, n);
    return 0;
}

static void
s_dm(sd_client_t *from, sd_client_t *to, const char *ct)
{
    int64_t ts = socp_wall_ms();
    sd_send(from, "MSG_DIRECT", to->id, ts, sd_dm_payload(from, to->id, ts, ct), true);
    socp_envelope_t e;
    CHECK_MSG(sd_recv(to, "USER_DELIVER", 5000, &e) == 0, "DM %s -> %s lost", from->id, to->id);
    CHECK_STREQ(json_string_value(json_object_get(e.payload, "ciphertext")), ct);
    socp_envelope_fini(&e);
}

SOCP_TEST_T(socpd_timing_dead_link, 90)
{
    const char *timing[] = {"--heartbeat-ms",     "150", "--dead-ms", "800",
                            "--hello-timeout-ms", "500", NULL};
    sd_server_t s1, s2;
    sd_server_start(&s1, "s1", "rsa4096_4p_a.pem", timing);
    char intro[2400];
    snprintf(intro, sizeof intro, "127.0.0.1:%u:%s", (unsigned) s1.port, s1.pubkey);
    const char *join[] = {"--heartbeat-ms", "150", "--dead-ms", "800", "--hello-timeout-ms", "500",
                          "--introducer",   intro, NULL};
    sd_server_start(&s2, "s2", "rsa4096_4p_b.pem", join);
    sd_client_t a, b;
    s_hello_ok(&a, s1.port, ALICE, "rsa4096_2p_a.pem");
    s_hello_ok(&b, s2.port, BOB, "rsa4096_2p_b.pem");
    s_wait_users(&a, s1.id, 2, 15000);
    s_wait_users(&b, s2.id, 2, 15000);

    // Freeze s2: its sockets stay open, nothing is read or written.
    CHECK(kill(s2.pid, SIGSTOP) == 0);
    uint64_t gone_ms = s_wait_users(&a, s1.id, 1, 6000);
    // Not before the dead timeout (minus the heartbeat that was in flight).
    CHECK_MSG(gone_ms >= 500, "link closed after %llu ms, before --dead-ms",
              (unsigned long long) gone_ms);
    if (socp_test_verbose()) {
        fprintf(stderr, "  link declared dead after %llu ms (dead-ms 800)\n",
                (unsigned long long) gone_ms);
    }
    // Thaw: s2 notices its own silent link, both sides re-dial, and each
    // side's users are advertised again.
    CHECK(kill(s2.pid, SIGCONT) == 0);
    s_wait_users(&a, s1.id, 2, 20000);
    s_wait_users(&b, s2.id, 2, 20000);
    s_dm(&a, &b, "YWZ0ZXItc3RvcA");
    s_dm(&b, &a, "YmFjaw");
    sd_client_close(&a);
    sd_client_close(&b);
    sd_server_stop(&s2);
    sd_server_stop(&s1);
}

SOCP_TEST_T(socpd_timing_introducer_fallback, 90)
{
    sd_server_t s1;
    sd_server_start(&s1, "s1", "rsa4096_4p_a.pem", NULL);
    // Entry 1: a port nobody listens on (refused).
    int lfd = -1;
    uint16_t refused = 0;
    CHECK_OK(socp_tcp_listen("127.0.0.1", 0, 1, &lfd, &refused));
    close(lfd);
    // Entry 2: a socket that accepts (kernel backlog) but never answers.
    int hole = -1;
    uint16_t hole_port = 0;
    CHECK_OK(socp_tcp_listen("127.0.0.1", 0, 8, &hole, &hole_port));
    char i1[2400], i2[2400], i3[2400];
    snprintf(i1, sizeof i1, "127.0.0.1:%u:%s", (unsigned) refused, s1.pubkey);
    snprintf(i2, sizeof i2, "127.0.0.1:%u:%s", (unsigned) hole_port, s1.pubkey);
    snprintf(i3, sizeof i3, "127.0.0.1:%u:%s", (unsigned) s1.port, s1.pubkey);
    const char *join[] = {"--hello-timeout-ms",
                          "400",
                          "--introducer",
                          i1,
                          "--introducer",
                          i2,
                          "--introducer",
                          i3,
                          NULL};
    uint64_t t0 = socp_now_ms();
    sd_server_t s2;
    sd_server_start(&s2, "s2", "rsa4096_4p_b.pem", join);
    sd_client_t a, b;
    s_hello_ok(&a, s1.port, ALICE, "rsa4096_2p_a.pem");
    s_hello_ok(&b, s2.port, BOB, "rsa4096_2p_b.pem");
    s_wait_users(&a, s1.id, 2, 10000);
    s_wait_users(&b, s2.id, 2, 10000);
    uint64_t joined_ms = socp_now_ms() - t0;
    if (socp_test_verbose()) {
        fprintf(stderr, "  joined through the third introducer after %llu ms\n",
                (unsigned long long) joined_ms);
    }
    s_dm(&b, &a, "dGhpcmQ");
    close(hole);
    sd_client_close(&a);
    sd_client_close(&b);
    sd_server_stop(&s2);
    sd_server_stop(&s1);
}

// Frames to one connection keep the order the router decided them in, even
// when they take different paths: DMs are re-signed by the server (any of 4
// workers), public-channel frames are relayed unchanged. Bob alternates both
// kinds to Alice; she must see them exactly in his order.
SOCP_TEST_T(socpd_timing_order, 90)
{
    const char *extra[] = {"--crypto-workers", "4", "--rate-limit", "0", NULL};
    sd_server_t s;
    sd_server_start(&s, "s", "rsa4096_4p_a.pem", extra);
    sd_client_t a, b;
    s_hello_ok(&a, s.port, ALICE, "rsa4096_2p_a.pem");
    s_hello_ok(&b, s.port, BOB, "rsa4096_4p_b.pem");
    enum { N = 120 };
    int64_t ts0 = socp_wall_ms();
    for (int i = 0; i < N; i++) {
        char ct[32];
        snprintf(ct, sizeof ct, "bXNn%04d", i);
        int64_t ts = ts0 + i;
        if (i % 2 == 0) {
            sd_send(&b, "MSG_DIRECT", ALICE, ts, sd_dm_payload(&b, ALICE, ts, ct), true);
        } else {
            sd_send(&b, "MSG_PUBLIC_CHANNEL", "public", ts,
                    json_pack("{s:s, s:s}", "ciphertext", ct, "group", "public"), true);
        }
    }
    int next = 0;
    while (next < N) {
        socp_envelope_t e;
        CHECK_MSG(sd_recv(&a, NULL, 10000, &e) == 0, "only %d of %d frames arrived", next, N);
        bool content =
            strcmp(e.type, "USER_DELIVER") == 0 || strcmp(e.type, "MSG_PUBLIC_CHANNEL") == 0;
        if (content) {
            const char *ct = json_string_value(json_object_get(e.payload, "ciphertext"));
            int got = ct && strlen(ct) == 8 ? atoi(ct + 4) : -1;
            CHECK_MSG(got == next, "frame %d arrived where %d was expected (%s)", got, next,
                      e.type);
            CHECK_STREQ(e.type, next % 2 == 0 ? "USER_DELIVER" : "MSG_PUBLIC_CHANNEL");
            next++;
        }
        socp_envelope_fini(&e);
    }
    sd_client_close(&a);
    sd_client_close(&b);
    sd_server_stop(&s);
}
