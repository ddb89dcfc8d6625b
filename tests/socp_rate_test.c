// socp_rate_test.c: sending against socpd's per-user rate limit: the
// default file pacing stays under socpd's default limit, and against a
// tighter server the client slows down when told while socpd delays (does
// not drop) what is over its limit.
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "socp_cli_helpers.h"
#include "socp_test.h"

static void
s_send_file(socp_cli_t *from, socp_cli_t *to, const char *name, size_t size, bool must_arrive)
{
    char src[4096], saved[4096], cmd[8192], want[256];
    snprintf(src, sizeof src, "%s/%s", socp_test_tmpdir(), name);
    socp_cli_write_file(src, size);
    snprintf(cmd, sizeof cmd, "/file bob %s", src);
    socp_cli_say(from, cmd);
    snprintf(want, sizeof want, "file %s (%zu bytes) sent to bob", name, size);
    socp_cli_expect(from, want, 30000, NULL, 0);
    if (must_arrive) {
        snprintf(want, sizeof want, "received file %s (%zu bytes, sha256 ok)", name, size);
        socp_cli_expect(to, want, 30000, NULL, 0);
        snprintf(saved, sizeof saved, "%s/bob/downloads/%s", socp_test_tmpdir(), name);
        CHECK(socp_cli_same_file(saved, src));
    }
}

// socpd defaults (200 frames/s, bucket 400) and the client's defaults
// (190 frames/s, a 200-frame burst when idle): 300 KiB arrives intact.
SOCP_TEST_T(socp_rate_default_pacing_no_drops, 60)
{
    char port[16];
    const char *srv[] = {"--rate-limit", "200", NULL};
    socp_cli_server("srv", srv, port, sizeof port);
    const char *paced[] = {"--file-rate", "190", NULL};
    socp_cli_t bob = socp_cli_start(port, "bob", "rsa4096_4p_b.pem", paced);
    socp_cli_expect(&bob, "connected to", 10000, NULL, 0);
    socp_cli_t alice = socp_cli_start(port, "alice", "rsa4096_4p_a.pem", paced);
    socp_cli_expect(&alice, "bob is online", 10000, NULL, 0);
    uint64_t t0 = socp_now_ms();
    s_send_file(&alice, &bob, "paced.bin", 300 * 1024, true);
    uint64_t ms = socp_now_ms() - t0;
    // 691 frames: 200 at once, the rest at 190/s = ~2.6 s.
    if (socp_test_verbose()) {
        fprintf(stderr, "  300 KiB in %llu ms (%.0f frames/s)\n", (unsigned long long) ms,
                691.0 * 1000.0 / (double) ms);
    }
    CHECK_MSG(ms < 30000, "300 KiB took %llu ms", (unsigned long long) ms);
    CHECK_EQ(socp_test_stop(alice.pid, SIGTERM, 2000), 0);
    CHECK_EQ(socp_test_stop(bob.pid, SIGTERM, 2000), 0);
}

// A server stricter than the client's ceiling: its rate-limit ERROR halves
// the file rate (shown as one line), and socpd delays the frames over its
// limit instead of dropping them (it stops reading the socket), so the
// file still arrives whole, and so does a burst of DMs typed far faster
// than the limit.
SOCP_TEST_T(socp_rate_adapts_to_a_stricter_server, 90)
{
    char port[16];
    const char *srv[] = {"--rate-limit", "60", "--rate-burst", "60", NULL};
    socp_cli_server("srv", srv, port, sizeof port);
    const char *paced[] = {"--file-rate", "190", NULL};
    socp_cli_t bob = socp_cli_start(port, "bob", "rsa4096_4p_b.pem", paced);
    socp_cli_expect(&bob, "connected to", 10000, NULL, 0);
    socp_cli_t alice = socp_cli_start(port, "alice", "rsa4096_4p_a.pem", paced);
    socp_cli_expect(&alice, "bob is online", 10000, NULL, 0);
    char src[4096], cmd[8192], line[8192], want[256], saved[4096];
    snprintf(src, sizeof src, "%s/first.bin", socp_test_tmpdir());
    socp_cli_write_file(src, 120 * 1024);
    snprintf(cmd, sizeof cmd, "/file bob %s", src);
    socp_cli_say(&alice, cmd);
    // While the file goes out, or (on a busy machine) just after the last
    // chunk left: either way the rate for files comes down.
    socp_cli_expect(&alice, "the server is rate-limiting us: ", 10000, line, sizeof line);
    unsigned rate = 0;
    const char *at = strstr(line, "first.bin");
    at = at ? strstr(at, " at ") : NULL;
    CHECK_MSG(at && sscanf(at, " at %u frames/s", &rate) == 1 && rate < 190 && rate >= 20,
              "not the line about first.bin at a lower rate: %s", line);
    socp_cli_expect(&alice, "file first.bin (122880 bytes) sent to bob", 30000, NULL, 0);
    snprintf(want, sizeof want, "received file first.bin (%d bytes, sha256 ok)", 120 * 1024);
    socp_cli_expect(&bob, want, 30000, NULL, 0);
    snprintf(saved, sizeof saved, "%s/bob/downloads/first.bin", socp_test_tmpdir());
    CHECK(socp_cli_same_file(saved, src));
    // 150 DMs at once: 2.5 s of the server's budget. Each arrives, in order.
    enum { N = 150 };
    for (int i = 0; i < N; i++) {
        snprintf(cmd, sizeof cmd, "/tell bob over-%03d", i);
        socp_cli_say(&alice, cmd);
    }
    for (int i = 0; i < N; i++) {
        snprintf(want, sizeof want, "alice -> you: over-%03d", i);
        socp_cli_expect(&bob, "alice -> you: over-", 30000, line, sizeof line);
        CHECK_MSG(strstr(line, want), "wanted %s, got %s", want, line);
    }
    CHECK_EQ(socp_test_stop(alice.pid, SIGTERM, 2000), 0);
    CHECK_EQ(socp_test_stop(bob.pid, SIGTERM, 2000), 0);
}
