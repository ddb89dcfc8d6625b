// socp_output_test.c: a script driving socp that stops reading its output
// does not stop the client: commands are still carried out, what stdout
// cannot take is held (then counted, past 8 MiB), and SIGTERM still ends it
// cleanly and at once.
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "socp/socp_common.h"
#include "socp_cli_helpers.h"
#include "socp_test.h"

SOCP_TEST_T(socp_output_unread_stdout_does_not_block, 90)
{
    char port[16];
    socp_cli_server("srv", NULL, port, sizeof port);
    socp_cli_t bob = socp_cli_start(port, "bob", "rsa4096_4p_b.pem", NULL);
    socp_cli_expect(&bob, "connected to", 30000, NULL, 0);
    socp_cli_t alice = socp_cli_start(port, "alice", "rsa4096_4p_a.pem", NULL);
    socp_cli_expect(&alice, "bob is online", 30000, NULL, 0);
    // From here on nobody reads alice's output. 3000 /help commands print
    // some 2 MB, thirty times what the pipe holds.
    for (int i = 0; i < 3000; i++) {
        socp_cli_say(&alice, "/help");
    }
    socp_cli_say(&alice, "/tell bob still-here-after-the-flood");
    socp_cli_expect(&bob, "alice -> you: still-here-after-the-flood", 30000, NULL, 0);
    // SIGTERM: a clean exit (0), well within a second, output unread.
    uint64_t t0 = socp_now_ms();
    CHECK_EQ(socp_test_stop(alice.pid, SIGTERM, 5000), 0);
    uint64_t took = socp_now_ms() - t0;
    CHECK_MSG(took < 1000, "exit took %llu ms", (unsigned long long) took);
    socp_cli_say(&bob, "/quit");
    CHECK_EQ(socp_test_stop(bob.pid, 0, 10000), 0);
}
