// socp_tty_test.c: the interactive UI in a pseudo-terminal (tmux): typing
// while messages arrive leaves the partial input line intact below them.
// Skipped (passes with a note on stderr) when tmux is not installed.
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "socp_cli_helpers.h"
#include "socp_test.h"

static char s_sock[4096];

// Runs tmux -S <sock> args...; returns its exit status. Output (if out) is
// captured up to size bytes.
static int
s_tmux(const char *const args[], char *out, size_t size)
{
    const char *argv[32] = {"tmux", "-S", s_sock};
    size_t n = 3;
    for (size_t i = 0; args[i] && n < 31; i++) {
        argv[n++] = args[i];
    }
    argv[n] = NULL;
    int fds[2];
    CHECK(pipe(fds) == 0);
    fflush(NULL);
    pid_t pid = fork();
    CHECK(pid >= 0);
    if (pid == 0) {
        dup2(fds[1], STDOUT_FILENO);
        close(fds[0]);
        close(fds[1]);
        setenv("TERM", "xterm", 1);
        execvp("tmux", (char *const *) argv);
        _exit(127);
    }
    close(fds[1]);
    size_t got = 0;
    char sink[4096];
    for (;;) {
        char *dst = out && got + 1 < size ? out + got : sink;
        size_t room = out && got + 1 < size ? size - 1 - got : sizeof sink;
        ssize_t r = read(fds[0], dst, room);
        if (r <= 0) {
            break;
        }
        if (dst != sink) {
            got += (size_t) r;
        }
    }
    if (out && size) {
        out[got] = '\0';
    }
    close(fds[0]);
    int st = 0;
    CHECK(waitpid(pid, &st, 0) == pid);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static void
s_kill_tmux(void)
{
    if (s_sock[0]) {
        pid_t pid = fork();
        if (pid == 0) {
            execlp("tmux", "tmux", "-S", s_sock, "kill-server", (char *) NULL);
            _exit(127);
        }
        if (pid > 0) {
            (void) waitpid(pid, NULL, 0);
        }
        s_sock[0] = '\0';
    }
}

// The tmux server daemonizes out of the runner's reach, so a guard process
// (its own session too) waits for this case's process to end, however it
// ends, and then stops the tmux server.
static void
s_guard(void)
{
    int fds[2];
    CHECK(pipe(fds) == 0);
    CHECK(fcntl(fds[1], F_SETFD, FD_CLOEXEC) == 0);
    fflush(NULL);
    pid_t pid = fork();
    CHECK(pid >= 0);
    if (pid == 0) {
        close(fds[1]);
        if (fork() != 0) {
            _exit(0); // the grandchild is re-parented: no zombie left here
        }
        (void) setsid();
        char c;
        while (read(fds[0], &c, 1) > 0 || errno == EINTR) {
        }
        execlp("tmux", "tmux", "-S", s_sock, "kill-server", (char *) NULL);
        _exit(127);
    }
    close(fds[0]);
    (void) waitpid(pid, NULL, 0);
}

static bool
s_have_tmux(void)
{
    const char *path = getenv("PATH") ? getenv("PATH") : "/usr/bin:/bin";
    char dir[4096];
    for (const char *p = path; *p;) {
        size_t n = strcspn(p, ":");
        snprintf(dir, sizeof dir, "%.*s/tmux", (int) n, p);
        if (access(dir, X_OK) == 0) {
            return true;
        }
        p += n + (p[n] == ':');
    }
    return false;
}

// Captures the pane until it contains `want`; returns the screen.
static void
s_screen_wait(const char *want, char *screen, size_t size, int timeout_ms)
{
    const char *args[] = {"capture-pane", "-p", "-t", "chat", NULL};
    uint64_t end = socp_now_ms() + (uint64_t) timeout_ms;
    for (;;) {
        CHECK_EQ(s_tmux(args, screen, size), 0);
        if (strstr(screen, want)) {
            return;
        }
        if (socp_now_ms() > end) {
            socp_test_fail(__FILE__, __LINE__, "screen never showed \"%s\"; it was:\n%s", want,
                           screen);
        }
        struct timespec ts = {0, 50 * 1000 * 1000};
        nanosleep(&ts, NULL); // polling interval of a deadline loop, not a sync
    }
}

static void
s_keys(const char *text, bool literal)
{
    const char *args[] = {"send-keys",           "-t", "chat", literal ? "-l" : text,
                          literal ? text : NULL, NULL};
    CHECK_EQ(s_tmux(args, NULL, 0), 0);
}

SOCP_TEST_T(socp_tty_type_while_messages_arrive, 60)
{
    if (!s_have_tmux()) {
        fprintf(stderr, "note: tmux is not installed; socp_tty_type_while_messages_arrive skipped "
                        "(scripts/install-deps.sh installs it)\n");
        return;
    }
    char port[16];
    socp_cli_server("srv", NULL, port, sizeof port);
    socp_cli_t bob = socp_cli_start(port, "bob", "rsa4096_4p_b.pem", NULL);
    socp_cli_expect(&bob, "connected to", 10000, NULL, 0);

    snprintf(s_sock, sizeof s_sock, "%s/tmux.sock", socp_test_tmpdir());
    s_guard();
    char cmd[16384];
    snprintf(cmd, sizeof cmd,
             "%s --server ws://127.0.0.1:%s --data-dir %s/alice --plain-key --import-key "
             "%s/tests/fixtures/rsa4096_4p_a.pem --name alice --heartbeat 1000",
             socp_test_program("socp"), port, socp_test_tmpdir(), socp_test_srcdir());
    const char *start[] = {"new-session", "-d", "-s", "chat", "-x", "120", "-y", "30", cmd, NULL};
    CHECK_EQ(s_tmux(start, NULL, 0), 0);
    static char screen[65536];
    s_screen_wait("connected to", screen, sizeof screen, 10000);
    socp_cli_expect(&bob, "alice is online", 10000, NULL, 0);
    s_screen_wait("bob is online", screen, sizeof screen, 10000);

    // Type half a command, then messages arrive.
    s_keys("/tell bob partial-inp", true);
    s_screen_wait("> /tell bob partial-inp", screen, sizeof screen, 5000);
    for (int i = 1; i <= 3; i++) {
        char line[64];
        snprintf(line, sizeof line, "/tell alice incoming-%d while you type", i);
        socp_cli_say(&bob, line);
    }
    s_screen_wait("bob -> you: incoming-3 while you type", screen, sizeof screen, 10000);
    // The screen: the three lines above, each whole and in order, and the
    // partial input on the last non-empty line, intact.
    const char *p1 = strstr(screen, "bob -> you: incoming-1 while you type\n");
    const char *p2 = strstr(screen, "bob -> you: incoming-2 while you type\n");
    const char *p3 = strstr(screen, "bob -> you: incoming-3 while you type\n");
    CHECK_MSG(p1 && p2 && p3 && p1 < p2 && p2 < p3, "arrived lines garbled:\n%s", screen);
    size_t n = strlen(screen);
    while (n > 0 && (screen[n - 1] == '\n' || screen[n - 1] == ' ')) {
        screen[--n] = '\0';
    }
    const char *last = strrchr(screen, '\n');
    last = last ? last + 1 : screen;
    CHECK_MSG(strcmp(last, "> /tell bob partial-inp") == 0, "input line is \"%s\"; screen:\n%s",
              last, screen);
    CHECK_MSG(strstr(screen, "partial-inp") == strstr(last, "partial-inp"),
              "input echoed elsewhere:\n%s", screen);

    // Finish the line: it is sent whole.
    s_keys("ut-done", true);
    s_keys("Enter", false);
    socp_cli_expect(&bob, "alice -> you: partial-input-done", 10000, NULL, 0);
    s_screen_wait("you -> bob: partial-input-done", screen, sizeof screen, 10000);

    // A line wider than the pane, with a typo fixed in the middle (Left,
    // Backspace): the input row scrolls instead of wrapping (a wrapped row
    // leaves copies of itself on the screen at every key), and the message
    // goes out as edited.
    char longtext[200];
    memset(longtext, 'a', 150);
    memcpy(longtext + 150, "ZEND", 5);
    snprintf(cmd, sizeof cmd, "/tell bob %s", longtext);
    s_keys(cmd, true);
    for (int i = 0; i < 3; i++) {
        s_keys("Left", false);
    }
    s_keys("BSpace", false);
    s_keys("[mid]", true);
    s_screen_wait("aaaa[mid]", screen, sizeof screen, 5000);
    n = strlen(screen);
    while (n > 0 && (screen[n - 1] == '\n' || screen[n - 1] == ' ')) {
        screen[--n] = '\0';
    }
    last = strrchr(screen, '\n');
    last = last ? last + 1 : screen;
    CHECK_MSG(strncmp(last, "> ", 2) == 0 && strlen(last) < 120 && strstr(last, "[mid]"),
              "input row is \"%s\"", last);
    CHECK_MSG(strstr(screen, "aaaaaaaaaa") == strstr(last, "aaaaaaaaaa"),
              "the long input left copies on the screen:\n%s", screen);
    s_keys("Enter", false);
    memcpy(longtext + 150, "[mid]END", 9);
    snprintf(cmd, sizeof cmd, "alice -> you: %s", longtext);
    socp_cli_expect(&bob, cmd, 10000, NULL, 0);
    // /quit closes the session (and the pane) promptly.
    s_keys("/quit", true);
    s_keys("Enter", false);
    const char *has[] = {"has-session", "-t", "chat", NULL};
    uint64_t end = socp_now_ms() + 3000;
    while (s_tmux(has, NULL, 0) == 0) {
        CHECK_MSG(socp_now_ms() < end, "socp did not exit after /quit");
        struct timespec ts = {0, 50 * 1000 * 1000};
        nanosleep(&ts, NULL); // polling interval of a deadline loop, not a sync
    }
    s_kill_tmux();
    CHECK_EQ(socp_test_stop(bob.pid, SIGTERM, 2000), 0);
}
