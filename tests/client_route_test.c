// client_route_test.c: how a front end spreads its sends over the crypto
// workers: the least busy worker gets the next DM, so a worker on a slower
// core is given less; file frames stay on their conversation's worker; the
// numbers the store orders by keep counting up.
// Part of socp, a SOCP v1.3 client and server.
#include "socp_test.h"

#include "socp/socp_client.h"

static unsigned
s_worker(const char *name)
{
    return (unsigned) strtoul(name + strlen("crypto"), NULL, 10);
}

SOCP_TEST(client_route_spreads_by_work_in_flight)
{
    socp_client_route_t r = {0};
    char name[SOCP_ACTOR_NAME_MAX + 1];
    unsigned count[2] = {0, 0};
    // Idle workers: ties rotate, so a burst lands on both.
    for (uint64_t i = 1; i <= 4; i++) {
        CHECK_EQ(socp_client_route(&r, SOCP_CLIENT_KIND_DM, "peer", 2, name), i);
        count[s_worker(name)]++;
    }
    CHECK_EQ(count[0], 2u);
    CHECK_EQ(count[1], 2u);
    // Worker 1 finishes its two, worker 0 none: the next two go to worker 1.
    socp_client_route_done(&r, 1);
    socp_client_route_done(&r, 1);
    for (int i = 0; i < 2; i++) {
        (void) socp_client_route(&r, SOCP_CLIENT_KIND_PUBLIC, "public", 2, name);
        CHECK_STREQ(name, "crypto1");
    }
    // A simulated slow worker 0 (finishes one item per three of worker 1's)
    // ends up with about a quarter of 400 DMs, not half.
    socp_client_route_t s = {0};
    unsigned got[2] = {0, 0};
    for (int step = 0; step < 400; step++) {
        (void) socp_client_route(&s, SOCP_CLIENT_KIND_DM, "peer", 2, name);
        got[s_worker(name)]++;
        socp_client_route_done(&s, 1);
        if (step % 3 == 0) {
            socp_client_route_done(&s, 0);
        }
    }
    CHECK_MSG(got[0] < 140 && got[1] > 260, "slow worker got %u, fast %u", got[0], got[1]);
    // Unknown workers and extra answers never underflow.
    socp_client_route_done(&s, 99);
    for (int i = 0; i < 1000; i++) {
        socp_client_route_done(&s, 0);
    }
    CHECK_EQ(s.inflight[0], 0u);
}

SOCP_TEST(client_route_keeps_file_frames_on_one_worker)
{
    socp_client_route_t r = {0};
    char first[SOCP_ACTOR_NAME_MAX + 1], name[SOCP_ACTOR_NAME_MAX + 1];
    (void) socp_client_route(&r, SOCP_CLIENT_KIND_FILE_CHUNK, "peer-a", 4, first);
    for (int i = 0; i < 20; i++) {
        (void) socp_client_route(&r, SOCP_CLIENT_KIND_FILE_CHUNK, "peer-a", 4, name);
        CHECK_STREQ(name, first);
    }
    CHECK_EQ(r.inflight[s_worker(first)], 21u);
    CHECK_EQ(r.order, 21u);
    // More workers asked for than exist: still a worker that exists.
    (void) socp_client_route(&r, SOCP_CLIENT_KIND_DM, "peer-a", 1000, name);
    CHECK(s_worker(name) < SOCP_CLIENT_CRYPTO_MAX);
}
