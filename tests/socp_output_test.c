// socp_output_test.c: a script driving socp that stops reading its output
// does not stop the client. Commands are still carried out; what stdout
// cannot take waits (past 8 MiB lines are dropped, then counted in one line
// where they were dropped); end of input waits until the output is taken;
// SIGTERM still ends it cleanly and at once.
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "socp/socp_common.h"
#include "socp_cli_helpers.h"
#include "socp_test.h"

#define S_HELP_LINE "/history [user] [n]" // once in every /help

// Reads fd in large pieces (megabytes of output: not a byte at a time)
// until `needle` has been seen, copying the line it is on into line; or,
// with needle NULL, until end of file, counting lines that hold `count`.
// Fails the case after timeout_ms. Returns the count.
static int
s_read_bulk(int fd, const char *needle, const char *count, char *line, size_t size, int timeout_ms)
{
    uint64_t end = socp_now_ms() + (uint64_t) timeout_ms;
    static char buf[1 << 16];
    char cur[8192];
    size_t clen = 0;
    int counted = 0;
    while (socp_now_ms() < end) {
        struct pollfd p = {fd, POLLIN, 0};
        if (poll(&p, 1, (int) (end - socp_now_ms())) <= 0) {
            break;
        }
        ssize_t r = read(fd, buf, sizeof buf);
        if (r <= 0) {
            CHECK_MSG(!needle, "end of output before \"%s\"", needle);
            return counted;
        }
        for (ssize_t i = 0; i < r; i++) {
            if (buf[i] != '\n') {
                if (clen < sizeof cur - 1) {
                    cur[clen++] = buf[i];
                }
                continue;
            }
            cur[clen] = '\0';
            clen = 0;
            if (count && strstr(cur, count)) {
                counted++;
            }
            if (needle && strstr(cur, needle)) {
                snprintf(line, size, "%s", cur);
                return counted;
            }
        }
    }
    socp_test_fail(__FILE__, __LINE__, "no \"%s\" within %d ms", needle ? needle : "end of output",
                   timeout_ms);
    return counted;
}

SOCP_TEST_T(socp_output_unread_stdout_does_not_block, 120)
{
    char port[16];
    socp_cli_server("srv", NULL, port, sizeof port);
    socp_cli_t bob, alice;
    socp_cli_start_pair(port, &bob, &alice);
    // Nobody reads alice's output now. 16000 /help commands print some 11 MB:
    // more than the pipe holds, and more than the 8 MiB alice keeps.
    for (int i = 0; i < 16000; i++) {
        socp_cli_say(&alice, "/help");
    }
    socp_cli_say(&alice, "/tell bob still-here-after-the-flood");
    socp_cli_expect(&bob, "alice -> you: still-here-after-the-flood", 30000, NULL, 0);

    // Reading again: the dropped lines are counted where they were dropped,
    // and what comes after is shown.
    char line[8192];
    (void) s_read_bulk(alice.out, "lines not shown: the output was not being read", NULL, line,
                       sizeof line, 60000);
    unsigned long long dropped = 0;
    CHECK(sscanf(line, "(%llu lines not shown", &dropped) == 1 && dropped > 1000);
    socp_cli_say(&alice, "/tell bob after-the-notice");
    socp_cli_expect(&alice, "you -> bob: after-the-notice", 30000, NULL, 0);

    // Unread again, then SIGTERM: a clean exit (0), within a second.
    for (int i = 0; i < 2000; i++) {
        socp_cli_say(&alice, "/help");
    }
    socp_cli_say(&alice, "/tell bob flood-two");
    socp_cli_expect(&bob, "alice -> you: flood-two", 30000, NULL, 0);
    uint64_t t0 = socp_now_ms();
    CHECK_EQ(socp_test_stop(alice.pid, SIGTERM, 5000), 0);
    uint64_t took = socp_now_ms() - t0;
    CHECK_MSG(took < 1000, "exit took %llu ms", (unsigned long long) took);
    socp_cli_say(&bob, "/quit");
    CHECK_EQ(socp_test_stop(bob.pid, 0, 10000), 0);
}

// End of input: the client waits until a slow reader has taken all of its
// output (every /help of the script), then exits 0.
SOCP_TEST_T(socp_output_end_of_input_waits_for_the_reader, 90)
{
    char port[16];
    socp_cli_server("srv", NULL, port, sizeof port);
    socp_cli_t alice = socp_cli_start(port, "alice", "rsa4096_4p_a.pem", NULL);
    socp_cli_expect(&alice, "connected to", 30000, NULL, 0);
    enum { N = 2000 }; // some 1.4 MB of output
    for (int i = 0; i < N; i++) {
        socp_cli_say(&alice, "/help");
    }
    close(alice.in);
    // Not reading yet: for a while, alice must still be there, waiting.
    uint64_t end = socp_now_ms() + 700;
    int status = 0;
    while (socp_now_ms() < end) {
        CHECK_MSG(waitpid(alice.pid, &status, WNOHANG) == 0, "alice exited with her output unread");
        (void) poll(NULL, 0, 20); // polling with a deadline
    }
    CHECK_EQ(s_read_bulk(alice.out, NULL, S_HELP_LINE, NULL, 0, 30000), N);
    CHECK_EQ(socp_test_stop(alice.pid, 0, 10000), 0);
}
