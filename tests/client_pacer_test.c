// client_pacer_test.c: the file-frame pacer the terminal client and the
// bridge share: a burst when the server's bucket is full, the configured
// rate after it, halved on a rate-limit error and grown back, the learned
// rate carried to the next transfer, unpaced when asked.
// Part of socp, a SOCP v1.3 client and server.
#include "socp_test.h"

#include "socp/socp_client.h"

// Frames let out by ticks every 5 ms from `from` to `to` (ms).
static int
s_run(socp_client_pacer_t *p, uint64_t from, uint64_t to)
{
    int sent = 0;
    for (uint64_t t = from; t < to; t += 5) {
        sent += socp_client_pacer_take(p, t, 64);
    }
    return sent;
}

SOCP_TEST(client_pacer_bursts_then_keeps_the_rate)
{
    socp_client_pacer_t p;
    socp_client_pacer_init(&p, 190);
    socp_client_pacer_start(&p, 10000);
    // A fresh start: the server's bucket is full, 200 frames go at once (64 a tick).
    int burst = 0;
    for (int i = 0; i < 10; i++) {
        burst += socp_client_pacer_take(&p, 10000, 64);
    }
    CHECK_EQ(burst, 200);
    // Then 190 frames/s: two seconds give 380, give or take a tick.
    int sent = s_run(&p, 10005, 12005);
    CHECK_MSG(sent >= 375 && sent <= 382, "%d frames in 2 s at 190/s", sent);
    socp_client_pacer_done(&p, 12005);
    // Another file at once: no burst (the bucket is not full yet).
    socp_client_pacer_start(&p, 12010);
    CHECK_EQ(socp_client_pacer_take(&p, 12010, 64), 0);
}

SOCP_TEST(client_pacer_slows_down_and_recovers)
{
    socp_client_pacer_t p;
    socp_client_pacer_init(&p, 190);
    socp_client_pacer_start(&p, 1000);
    CHECK(socp_client_pacer_slow_down(&p, 1000));  // the first error in 5 s: tell the user
    CHECK(!socp_client_pacer_slow_down(&p, 1500)); // the next one: not again
    CHECK(p.rate > 47 && p.rate < 48);             // 190 / 2 / 2
    for (int i = 0; i < 10; i++) {
        (void) socp_client_pacer_slow_down(&p, 1600);
    }
    CHECK(p.rate >= 20 && p.rate < 21); // never below 20/s
    // Two quiet seconds keep the rate; then it grows by 20/s per second.
    // (Ticks come every 5 ms; the test's gap since the start is one tick.)
    (void) socp_client_pacer_take(&p, 1600, 64);
    int slow = s_run(&p, 1605, 3605);
    CHECK_MSG(slow >= 38 && slow <= 42, "%d frames in 2 s at 20/s", slow);
    (void) s_run(&p, 3605, 8605);
    CHECK_MSG(p.rate > 110 && p.rate < 125, "rate %.1f after 5 s of growth", p.rate);
    (void) s_run(&p, 8605, 20000);
    CHECK(p.rate == 190); // back to the ceiling, not past it
    socp_client_pacer_done(&p, 20000);

    // A slow-down in the last minute sets where the next file starts.
    socp_client_pacer_init(&p, 190);
    socp_client_pacer_start(&p, 30000);
    CHECK(p.rate == 190);
    (void) socp_client_pacer_slow_down(&p, 30000); // 190 -> 95
    socp_client_pacer_done(&p, 30100);
    socp_client_pacer_start(&p, 40000);
    CHECK(p.rate > 94 && p.rate < 96);
    socp_client_pacer_done(&p, 40000);
    socp_client_pacer_start(&p, 100000); // over a minute later: the ceiling again
    CHECK(p.rate == 190);
}

SOCP_TEST(client_pacer_unpaced_until_told)
{
    socp_client_pacer_t p;
    socp_client_pacer_init(&p, 0);
    socp_client_pacer_start(&p, 0);
    CHECK_EQ(s_run(&p, 0, 100), 20 * 64); // every tick its full share
    // An error while no file is going out changes nothing but the clock.
    socp_client_pacer_t idle;
    socp_client_pacer_init(&idle, 0);
    CHECK(socp_client_pacer_slow_down(&idle, 5000));
    CHECK(idle.rate == 0);
    // During a transfer it starts pacing at 100/s.
    CHECK(socp_client_pacer_slow_down(&p, 100000));
    CHECK(p.rate == 100);
}

// A file whose last chunk just left can still be what the server limits:
// the next one starts slower. Long after, an error is not about files.
SOCP_TEST(client_pacer_error_just_after_a_file_counts)
{
    socp_client_pacer_t p;
    socp_client_pacer_init(&p, 190);
    socp_client_pacer_start(&p, 1000);
    socp_client_pacer_done(&p, 1400);
    CHECK(socp_client_pacer_recent(&p, 2000));
    CHECK(socp_client_pacer_slow_down(&p, 2000));
    CHECK(p.rate == 95);
    socp_client_pacer_start(&p, 3000);
    CHECK(p.rate == 95);
    socp_client_pacer_done(&p, 3500);
    CHECK(!socp_client_pacer_recent(&p, 9000));
    (void) socp_client_pacer_slow_down(&p, 9000);
    CHECK(p.rate == 95);
}
