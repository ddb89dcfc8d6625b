// socp_mesh_test.c: three socp clients on two meshed socpd servers exchange
// DMs, public messages and a file; /list is right after joins and leaves.
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "socp_cli_helpers.h"
#include "socp_test.h"
#include "socpd_test.h"

// Sends /list until it reports `n` users (presence crosses the mesh a
// moment after a join or leave), then checks the names it printed.
static void
s_list_is(socp_cli_t *c, int n, const char *const names[])
{
    char want[64], line[8192];
    snprintf(want, sizeof want, "%d user%s online:", n, n == 1 ? "" : "s");
    uint64_t end = socp_now_ms() + 15000;
    for (;;) {
        socp_cli_say(c, "/list");
        socp_cli_expect(c, " online:", 5000, line, sizeof line);
        if (strstr(line, want)) {
            break;
        }
        CHECK_MSG(socp_now_ms() < end, "/list never showed \"%s\" (last: %s)", want, line);
        struct timespec ts = {0, 200 * 1000 * 1000};
        nanosleep(&ts, NULL); // polling interval of a deadline loop, not a sync
    }
    for (int i = 0; i < n; i++) { // sorted by display name
        socp_cli_expect(c, "  ", 2000, line, sizeof line);
        char head[80];
        snprintf(head, sizeof head, "  %s  ", names[i]);
        CHECK_MSG(strncmp(line, head, strlen(head)) == 0, "/list line %d: %s, expected %s", i, line,
                  names[i]);
    }
}

SOCP_TEST_T(socp_mesh_three_clients_two_servers, 120)
{
    const char *timing[] = {"--heartbeat-ms", "500", "--dead-ms", "3000", NULL};
    sd_server_t s1, s2;
    sd_server_start(&s1, "s1", "rsa4096_2p_a.pem", timing);
    char intro[2400];
    snprintf(intro, sizeof intro, "127.0.0.1:%u:%s", (unsigned) s1.port, s1.pubkey);
    const char *join[] = {"--heartbeat-ms", "500", "--dead-ms", "3000",
                          "--introducer",   intro, NULL};
    sd_server_start(&s2, "s2", "rsa4096_2p_b.pem", join);
    char p1[16], p2[16];
    snprintf(p1, sizeof p1, "%u", (unsigned) s1.port);
    snprintf(p2, sizeof p2, "%u", (unsigned) s2.port);

    socp_cli_t alice = socp_cli_start(p1, "alice", "rsa4096_4p_a.pem", NULL);
    socp_cli_expect(&alice, "connected to", 10000, NULL, 0);
    socp_cli_t bob = socp_cli_start(p2, "bob", "rsa4096_4p_b.pem", NULL);
    socp_cli_expect(&bob, "connected to", 10000, NULL, 0);
    socp_cli_expect(&alice, "bob is online", 15000, NULL, 0);
    socp_cli_expect(&bob, "alice is online", 15000, NULL, 0);
    socp_cli_t carol = socp_cli_start(p2, "carol", "rsa4096_2p_a.pem", NULL);
    socp_cli_expect(&carol, "connected to", 10000, NULL, 0);
    socp_cli_expect(&alice, "carol is online", 15000, NULL, 0);
    socp_cli_expect(&bob, "carol is online", 15000, NULL, 0);
    const char *both[] = {"alice is online", "bob is online", NULL};
    socp_cli_expect_all(&carol, both, 15000);
    const char *all3[] = {"alice", "bob", "carol"};
    s_list_is(&alice, 3, all3);
    s_list_is(&carol, 3, all3);

    // DMs across the mesh and on one server.
    socp_cli_say(&alice, "/tell bob across the mesh");
    socp_cli_expect(&bob, "alice -> you: across the mesh", 10000, NULL, 0);
    socp_cli_say(&bob, "/tell carol same server");
    socp_cli_expect(&carol, "bob -> you: same server", 10000, NULL, 0);
    socp_cli_say(&carol, "/tell alice back across");
    socp_cli_expect(&alice, "carol -> you: back across", 10000, NULL, 0);
    // Public channel: one line reaches both others.
    socp_cli_say(&carol, "/all hello everyone");
    socp_cli_expect(&alice, "carol -> all: hello everyone", 10000, NULL, 0);
    socp_cli_expect(&bob, "carol -> all: hello everyone", 10000, NULL, 0);
    // A file across the mesh, byte for byte.
    char src[4096], saved[4096], cmd[8192];
    snprintf(src, sizeof src, "%s/notes.bin", socp_test_tmpdir());
    socp_cli_write_file(src, 20000);
    snprintf(cmd, sizeof cmd, "/file bob %s", src);
    socp_cli_say(&alice, cmd);
    socp_cli_expect(&bob, "received file notes.bin (20000 bytes", 30000, NULL, 0);
    snprintf(saved, sizeof saved, "%s/bob/downloads/notes.bin", socp_test_tmpdir());
    CHECK(socp_cli_same_file(saved, src));

    // Leaves: carol quits, then alice; /list follows.
    socp_cli_say(&carol, "/quit");
    CHECK_EQ(socp_test_stop(carol.pid, 0, 2000), 0);
    socp_cli_expect(&alice, "carol left", 15000, NULL, 0);
    socp_cli_expect(&bob, "carol left", 15000, NULL, 0);
    const char *two[] = {"alice", "bob"};
    s_list_is(&alice, 2, two);
    s_list_is(&bob, 2, two);
    CHECK_EQ(socp_test_stop(alice.pid, SIGTERM, 2000), 0);
    socp_cli_expect(&bob, "alice left", 15000, NULL, 0);
    const char *one[] = {"bob"};
    s_list_is(&bob, 1, one);
    CHECK_EQ(socp_test_stop(bob.pid, SIGTERM, 2000), 0);
    sd_server_stop(&s2);
    sd_server_stop(&s1);
}
