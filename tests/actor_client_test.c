// actor_client_test.c: a short session of two socp clients against socpd,
// named actor_ so the TSan stage of `make test` runs it: under TSan the
// spawned socp processes are TSan builds too (halt_on_error makes a race
// a non-zero exit), so this exercises the client's actors (ui, store,
// crypto pool, net) for data races: DMs both ways, a long (rejoined)
// message, the public channel, /list, /history, /quit.
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "socp_cli_helpers.h"
#include "socp_test.h"

SOCP_TEST_T(actor_client_session_race_free, 120)
{
    char port[16];
    socp_cli_server("srv", NULL, port, sizeof port);
    socp_cli_t bob = socp_cli_start(port, "bob", "rsa4096_4p_b.pem", NULL);
    socp_cli_expect(&bob, "connected to", 30000, NULL, 0);
    // Four crypto workers: outgoing DMs are signed in parallel and the store
    // restores their order, checked below.
    const char *workers[] = {"--workers", "4", NULL};
    socp_cli_t alice = socp_cli_start(port, "alice", "rsa4096_4p_a.pem", workers);
    socp_cli_expect(&alice, "bob is online", 30000, NULL, 0);
    socp_cli_expect(&bob, "alice is online", 30000, NULL, 0);
    for (int i = 0; i < 20; i++) {
        char cmd[64];
        snprintf(cmd, sizeof cmd, "/tell bob ping-%02d", i);
        socp_cli_say(&alice, cmd);
    }
    socp_cli_say(&bob, "/tell alice pong");
    char longmsg[1200], cmd[1300];
    memset(longmsg, 'x', sizeof longmsg - 1);
    longmsg[sizeof longmsg - 1] = '\0';
    snprintf(cmd, sizeof cmd, "/tell bob %s", longmsg);
    socp_cli_say(&alice, cmd);
    socp_cli_say(&alice, "/all to everyone");
    for (int i = 0; i < 20; i++) { // in order: a line out of order is skipped and missed
        char want[64];
        snprintf(want, sizeof want, "alice -> you: ping-%02d", i);
        socp_cli_expect(&bob, want, 30000, NULL, 0);
    }
    char line[8192];
    socp_cli_expect(&bob, "alice -> you: xxx", 30000, line, sizeof line);
    CHECK_STREQ(strstr(line, "alice -> you: ") + strlen("alice -> you: "), longmsg);
    socp_cli_expect(&bob, "alice -> all: to everyone", 30000, NULL, 0);
    socp_cli_expect(&alice, "bob -> you: pong", 30000, NULL, 0);
    socp_cli_say(&bob, "/list");
    socp_cli_expect(&bob, "2 users online", 10000, NULL, 0);
    socp_cli_say(&bob, "/history alice 3");
    socp_cli_expect(&bob, "end of history", 10000, NULL, 0);
    socp_cli_say(&bob, "/quit");
    CHECK_EQ(socp_test_stop(bob.pid, 0, 10000), 0);
    CHECK_EQ(socp_test_stop(alice.pid, SIGTERM, 10000), 0);
}
