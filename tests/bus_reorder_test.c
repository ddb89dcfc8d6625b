// bus_reorder_test.c: numbered replies from a worker pool come out in order,
// held copies survive, a lost number is skipped after the hold time.
// Part of socp, a SOCP v1.3 client and server.
#include "socp_test.h"

#include "socp/socp_reorder.h"

typedef struct {
    uint64_t got[64];
    char text[64][16];
    size_t n;
} s_log_t;

static void
s_collect(socp_msg_t *msg, void *arg)
{
    s_log_t *log = arg;
    if (log->n < 64) {
        log->got[log->n] = msg->body.cli_inbound.order;
        snprintf(log->text[log->n], sizeof log->text[0], "%s", msg->body.cli_inbound.frame);
        log->n++;
    }
}

// Pushes item `order` whose text is "m<order>", from a stack buffer that is
// overwritten afterwards (so a held item must be a copy).
static int
s_push(socp_reorder_t *r, uint64_t order, s_log_t *log)
{
    char text[16];
    snprintf(text, sizeof text, "m%llu", (unsigned long long) order);
    socp_msg_t m = socp_msg_make(SOCP_MSG_CLI_INBOUND);
    m.body.cli_inbound.frame = text;
    m.body.cli_inbound.known_pub = "";
    m.body.cli_inbound.order = order;
    int rc = socp_reorder_push(r, order, &m, s_collect, log);
    memset(text, 'X', sizeof text - 1);
    return rc;
}

SOCP_TEST(bus_reorder_hands_on_in_number_order_whatever_the_arrival)
{
    socp_reorder_t r;
    socp_reorder_init(&r);
    s_log_t log = {0};
    // Two workers finishing out of step: 2 4 1 3 6 5 8 7.
    const uint64_t arrival[] = {2, 4, 1, 3, 6, 5, 8, 7};
    for (size_t i = 0; i < 8; i++) {
        CHECK_OK(s_push(&r, arrival[i], &log));
    }
    CHECK_EQ(log.n, 8);
    for (size_t i = 0; i < 8; i++) {
        CHECK_EQ(log.got[i], i + 1);
        char want[16];
        snprintf(want, sizeof want, "m%zu", i + 1);
        CHECK_STREQ(log.text[i], want); // the held copies, not the caller's buffer
    }
    CHECK_EQ(socp_reorder_held(&r), 0);
    // An unnumbered item passes straight through.
    CHECK_OK(s_push(&r, 0, &log));
    CHECK_EQ(log.n, 9);
    socp_reorder_fini(&r);
}

SOCP_TEST(bus_reorder_skips_a_lost_number_only_after_the_hold_time)
{
    socp_reorder_t r;
    socp_reorder_init(&r);
    s_log_t log = {0};
    CHECK_OK(s_push(&r, 1, &log));
    CHECK_OK(s_push(&r, 3, &log)); // 2 is lost
    CHECK_OK(s_push(&r, 4, &log));
    CHECK_OK(s_push(&r, 6, &log)); // and 5
    CHECK_EQ(log.n, 1);
    CHECK_EQ(socp_reorder_held(&r), 3);
    uint64_t now = socp_now_ms();
    CHECK_EQ(socp_reorder_expire(&r, now, 5000, s_collect, &log), 0); // too early
    CHECK_EQ(log.n, 1);
    CHECK_EQ(socp_reorder_expire(&r, now + 6000, 5000, s_collect, &log), 1);
    CHECK_EQ(log.n, 3); // 3, 4; 6 waits for 5 with a fresh hold time
    CHECK_EQ(log.got[1], 3);
    CHECK_EQ(log.got[2], 4);
    CHECK_EQ(socp_reorder_held(&r), 1);
    // 2 turns up late: handed on at once rather than dropped.
    CHECK_OK(s_push(&r, 2, &log));
    CHECK_EQ(log.n, 4);
    CHECK_EQ(log.got[3], 2);
    CHECK_EQ(socp_reorder_expire(&r, UINT64_MAX, 0, s_collect, &log), 1);
    CHECK_EQ(log.n, 5);
    CHECK_EQ(log.got[4], 6);
    CHECK_EQ(r.skipped, 2);
    CHECK_EQ(socp_reorder_held(&r), 0);
    socp_reorder_fini(&r);
}

SOCP_TEST(bus_reorder_frees_what_is_held_at_the_end)
{
    socp_reorder_t r;
    socp_reorder_init(&r);
    s_log_t log = {0};
    for (uint64_t i = 2; i < 200; i++) {
        CHECK_OK(s_push(&r, i, &log));
    }
    CHECK_EQ(log.n, 0);
    CHECK_EQ(socp_reorder_held(&r), 198);
    socp_reorder_fini(&r); // ASan reports a leak if anything stays
    CHECK_EQ(socp_reorder_held(&r), 0);
}
