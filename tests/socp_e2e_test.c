// socp_e2e_test.c: the socp client end to end against real socpd processes
// on loopback, driven through stdin pipes (script mode).
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "socp/socp_common.h"
#include "socp_cli_helpers.h"
#include "socp_test.h"

SOCP_TEST_T(socp_e2e_dm_public_long_and_files, 120)
{
    char port[16];
    socp_cli_server("srv", NULL, port, sizeof port);
    socp_cli_t bob = socp_cli_start(port, "bob", "rsa4096_4p_b.pem", NULL);
    socp_cli_expect(&bob, "connected to", 10000, NULL, 0);
    socp_cli_t alice = socp_cli_start(port, "alice", "rsa4096_4p_a.pem", NULL);
    socp_cli_expect(&alice, "connected to", 10000, NULL, 0);
    socp_cli_expect(&bob, "alice is online", 10000, NULL, 0);
    socp_cli_expect(&alice, "bob is online", 10000, NULL, 0);
    socp_cli_say(&alice, "/list");
    socp_cli_expect(&alice, "2 users online", 5000, NULL, 0);
    char line[8192];
    socp_cli_expect(&alice, "  alice  ", 5000, line, sizeof line); // sorted by name: alice, bob
    socp_cli_expect(&alice, "  bob  ", 5000, NULL, 0);

    socp_cli_say(&alice, "/tell bob hello bob");
    socp_cli_expect(&bob, "alice -> you: hello bob", 10000, NULL, 0);
    // A message longer than one RSA block arrives whole: sent in pieces,
    // rejoined by the receiver into one line (docs/client.md, "Long messages").
    char longmsg[2001];
    for (size_t i = 0; i < 2000;) {
        if (i % 97 == 5 && i + 3 <= 2000) {
            memcpy(longmsg + i, "\xe2\x82\xac", 3); // a 3-byte character across piece edges
            i += 3;
        } else {
            longmsg[i] = (char) ('a' + i % 26);
            i++;
        }
    }
    longmsg[2000] = '\0';
    char cmd[8300];
    snprintf(cmd, sizeof cmd, "/tell bob %s", longmsg);
    socp_cli_say(&alice, cmd);
    socp_cli_expect(&bob, "alice -> you: ", 10000, line, sizeof line);
    CHECK_STREQ(strstr(line, "alice -> you: ") + strlen("alice -> you: "), longmsg);
    CHECK(!strstr(line, "] ["));
    socp_cli_say(&alice, "/all short after long");
    socp_cli_expect(&bob, "alice -> all: short after long", 10000, NULL, 0);
    snprintf(cmd, sizeof cmd, "/all %s", longmsg);
    socp_cli_say(&alice, cmd);
    socp_cli_expect(&bob, "alice -> all: ", 10000, line, sizeof line);
    CHECK_STREQ(strstr(line, "alice -> all: ") + strlen("alice -> all: "), longmsg);

    socp_cli_say(&alice, "/all hi everyone");
    socp_cli_expect(&bob, "alice -> all: hi everyone", 10000, NULL, 0);
    socp_cli_say(&bob, "/tell alice back at you");
    socp_cli_expect(&alice, "bob -> you: back at you", 10000, NULL, 0);

    // Not a regular file (a FIFO nobody writes to): refused at once, never a
    // hang; and the session goes on.
    char fifo[4096];
    snprintf(fifo, sizeof fifo, "%s/a-fifo", socp_test_tmpdir());
    CHECK(mkfifo(fifo, 0600) == 0);
    snprintf(cmd, sizeof cmd, "/file bob %s", fifo);
    socp_cli_say(&alice, cmd);
    socp_cli_expect(&alice, "not a regular file", 5000, NULL, 0);

    // Files: 0 bytes and 1 MiB, checked byte for byte.
    char empty[4096], big[4096], saved[4096];
    snprintf(empty, sizeof empty, "%s/empty.bin", socp_test_tmpdir());
    snprintf(big, sizeof big, "%s/big.bin", socp_test_tmpdir());
    socp_cli_write_file(empty, 0);
    socp_cli_write_file(big, 1024 * 1024);
    snprintf(cmd, sizeof cmd, "/file bob %s", empty);
    socp_cli_say(&alice, cmd);
    socp_cli_expect(&bob, "received file empty.bin (0 bytes", 10000, NULL, 0);
    snprintf(saved, sizeof saved, "%s/bob/downloads/empty.bin", socp_test_tmpdir());
    CHECK(socp_cli_same_file(saved, empty));
    snprintf(cmd, sizeof cmd, "/file bob %s", big);
    socp_cli_say(&alice, cmd);
    socp_cli_expect(&bob, "received file big.bin (1048576 bytes", 90000, NULL, 0);
    snprintf(saved, sizeof saved, "%s/bob/downloads/big.bin", socp_test_tmpdir());
    CHECK(socp_cli_same_file(saved, big));

    // History survives in the store; /quit exits promptly.
    socp_cli_say(&bob, "/history alice 3");
    socp_cli_expect(&bob, "end of history", 5000, NULL, 0);
    uint64_t t0 = socp_now_ms();
    socp_cli_say(&bob, "/quit");
    CHECK_EQ(socp_test_stop(bob.pid, 0, 2000), 0);
    CHECK(socp_now_ms() - t0 < 1500);
    socp_cli_expect(&alice, "bob left", 10000, NULL, 0);
    t0 = socp_now_ms();
    CHECK_EQ(socp_test_stop(alice.pid, SIGTERM, 2000), 0);
    CHECK(socp_now_ms() - t0 < 1000);
}

// kill -9 in the middle of a burst, restart: every accepted message is
// delivered exactly once.
SOCP_TEST_T(socp_e2e_kill9_burst_exactly_once, 90)
{
    char port[16];
    socp_cli_server("srv", NULL, port, sizeof port);
    socp_cli_t bob = socp_cli_start(port, "bob", "rsa4096_4p_b.pem", NULL);
    socp_cli_expect(&bob, "connected to", 10000, NULL, 0);
    socp_cli_t alice = socp_cli_start(port, "alice", "rsa4096_4p_a.pem", NULL);
    socp_cli_expect(&alice, "connected to", 10000, NULL, 0);
    socp_cli_expect(&alice, "bob is online", 10000, NULL, 0);
    enum { N = 40 };
    for (int i = 0; i < N; i++) {
        char cmd[64];
        snprintf(cmd, sizeof cmd, "/tell bob burst-%02d", i);
        socp_cli_say(&alice, cmd);
    }
    // Wait for a few acceptances, then kill -9 mid-burst.
    int accepted = 0;
    char line[8192];
    while (accepted < 5) {
        socp_cli_expect(&alice, "you -> bob: burst-", 20000, line, sizeof line);
        accepted++;
    }
    kill(alice.pid, SIGKILL);
    CHECK(socp_test_stop(alice.pid, 0, 2000) == 128 + SIGKILL);
    // Lines still in the pipe were printed before the kill: accepted too.
    int seen_accept[N] = {0};
    for (;;) {
        int n = socp_test_read_line(alice.out, line, sizeof line, 200);
        if (n < 0) {
            break;
        }
        const char *p = strstr(line, "you -> bob: burst-");
        if (p) {
            seen_accept[atoi(p + strlen("you -> bob: burst-"))] = 1;
        }
    }
    close(alice.in);
    // Restart with no input: it replays the outbox and quits once it is empty.
    socp_cli_t again = socp_cli_start(port, "alice", "rsa4096_4p_a.pem", NULL);
    close(again.in);
    CHECK_EQ(socp_test_stop(again.pid, 0, 30000), 0);
    // A re-sent frame the server had already seen is not an error to show.
    while (socp_test_read_line(again.out, line, sizeof line, 200) >= 0) {
        CHECK_MSG(!strstr(line, "server error"), "after restart: %s", line);
    }
    // Bob: each message at most once; every accepted one present. Live
    // lines until the link has been quiet for 2 s.
    int count[N] = {0};
    for (;;) {
        int n = socp_test_read_line(bob.out, line, sizeof line, 2000);
        if (n < 0) {
            break;
        }
        const char *p = strstr(line, "alice -> you: burst-");
        if (p) {
            count[atoi(p + strlen("alice -> you: burst-"))]++;
        }
    }
    int delivered = 0;
    for (int i = 0; i < N; i++) {
        CHECK_MSG(count[i] <= 1, "burst-%02d delivered %d times", i, count[i]);
        CHECK_MSG(!seen_accept[i] || count[i] == 1, "accepted burst-%02d was lost", i);
        delivered += count[i];
    }
    CHECK(delivered >= 5);
    if (socp_test_verbose()) {
        fprintf(stderr, "  delivered %d of %d after kill -9\n", delivered, N);
    }
}

// A known user id shows up with another key: refused, with a readable error.
SOCP_TEST_T(socp_e2e_key_change_refused, 60)
{
    char port[16];
    socp_cli_server("srv", NULL, port, sizeof port);
    socp_cli_t alice = socp_cli_start(port, "alice", "rsa4096_4p_a.pem", NULL);
    socp_cli_expect(&alice, "connected to", 10000, NULL, 0);
    socp_cli_t bob = socp_cli_start(port, "bob", "rsa4096_4p_b.pem", NULL);
    socp_cli_expect(&alice, "bob is online", 10000, NULL, 0);
    CHECK_EQ(socp_test_stop(bob.pid, SIGTERM, 2000), 0);
    socp_cli_expect(&alice, "bob left", 10000, NULL, 0);
    // Same user id, different key: create mallory, then give her bob's id.
    socp_cli_t m0 = socp_cli_start(port, "mallory", "rsa4096_2p_b.pem", NULL);
    socp_cli_expect(&m0, "connected to", 10000, NULL, 0);
    CHECK_EQ(socp_test_stop(m0.pid, SIGTERM, 2000), 0);
    char from[4096], to[4096];
    snprintf(from, sizeof from, "%s/bob/user_id", socp_test_tmpdir());
    snprintf(to, sizeof to, "%s/mallory/user_id", socp_test_tmpdir());
    FILE *f = fopen(from, "r");
    CHECK(f);
    char id[64];
    CHECK(fgets(id, sizeof id, f));
    fclose(f);
    CHECK(unlink(to) == 0);
    int fd = open(to, O_WRONLY | O_CREAT | O_EXCL, 0600);
    CHECK(fd >= 0 && write(fd, id, strlen(id)) == (ssize_t) strlen(id));
    close(fd);
    // socpd binds a user id to its first key: the impostor is refused, and
    // the client shows the server's error as one readable line. (Client-side
    // pinning of a changed key is covered by socp_store_key_change_refused.)
    socp_cli_t mallory = socp_cli_start(port, "mallory", "rsa4096_2p_b.pem", NULL);
    socp_cli_expect(&mallory, "server error BAD_KEY", 10000, NULL, 0);
    socp_cli_say(&alice, "/list");
    socp_cli_expect(&alice, "1 user online", 5000, NULL, 0);
}

// A burst from one sender uses every crypto worker on both sides (more
// workers than cores, so they finish out of step), and still arrives in the
// order it was typed, each message once.
SOCP_TEST_T(socp_e2e_burst_keeps_its_order_across_workers, 90)
{
    char port[16];
    socp_cli_server("srv", NULL, port, sizeof port);
    const char *const four[] = {"--workers", "4", NULL};
    socp_cli_t bob = socp_cli_start(port, "bob", "rsa4096_4p_b.pem", four);
    socp_cli_expect(&bob, "connected to", 10000, NULL, 0);
    socp_cli_t alice = socp_cli_start(port, "alice", "rsa4096_4p_a.pem", four);
    socp_cli_expect(&alice, "bob is online", 10000, NULL, 0);
    enum { N = 80 };
    for (int i = 0; i < N; i++) {
        char cmd[64];
        snprintf(cmd, sizeof cmd, "/tell bob seq-%03d", i);
        socp_cli_say(&alice, cmd);
    }
    char line[8192];
    for (int i = 0; i < N; i++) {
        char want[64];
        snprintf(want, sizeof want, "you -> bob: seq-%03d", i);
        socp_cli_expect(&alice, "you -> bob: seq-", 20000, line, sizeof line);
        CHECK_MSG(strstr(line, want), "alice accepted out of order: wanted %s, got %s", want, line);
    }
    for (int i = 0; i < N; i++) {
        char want[64];
        snprintf(want, sizeof want, "alice -> you: seq-%03d", i);
        socp_cli_expect(&bob, "alice -> you: seq-", 20000, line, sizeof line);
        CHECK_MSG(strstr(line, want), "bob got it out of order: wanted %s, got %s", want, line);
        CHECK_MSG(!strstr(line, "] ["), "not shown as verified: %s", line);
    }
    CHECK_EQ(socp_test_stop(alice.pid, SIGTERM, 2000), 0);
    CHECK_EQ(socp_test_stop(bob.pid, SIGTERM, 2000), 0);
}

// A second client with the same identity while the first is connected: the
// server refuses its hello (NAME_IN_USE). What it was asked to send meanwhile
// must not be written on the refused link (where it would be marked sent and
// lost), but wait in its outbox and arrive once the first one leaves.
SOCP_TEST_T(socp_e2e_refused_hello_loses_nothing, 90)
{
    char port[16];
    socp_cli_server("srv", NULL, port, sizeof port);
    socp_cli_t bob, alice;
    socp_cli_start_pair(port, &bob, &alice);
    socp_cli_say(&alice, "/quit");
    CHECK_EQ(socp_test_stop(alice.pid, 0, 10000), 0);
    // The twin: a copy of alice's data directory (identity, key, contacts).
    char cmd[8192];
    snprintf(cmd, sizeof cmd, "%s/alice", socp_test_tmpdir());
    char twin[4096];
    snprintf(twin, sizeof twin, "%s/twin", socp_test_tmpdir());
    CHECK(socp_test_copy_tree(cmd, twin) == 0);
    alice = socp_cli_start(port, "alice", "rsa4096_4p_a.pem", NULL);
    socp_cli_expect(&alice, "connected to", 30000, NULL, 0);
    socp_cli_t t = socp_cli_start(port, "twin", "rsa4096_4p_a.pem", NULL);
    socp_cli_expect(&t, "server error NAME_IN_USE", 30000, NULL, 0);
    for (int i = 0; i < 3; i++) {
        snprintf(cmd, sizeof cmd, "/tell bob from-the-twin-%d", i);
        socp_cli_say(&t, cmd);
        snprintf(cmd, sizeof cmd, "you -> bob: from-the-twin-%d", i); // durable in the outbox
        socp_cli_expect(&t, cmd, 30000, NULL, 0);
    }
    socp_cli_expect(&t, "server error NAME_IN_USE", 30000, NULL, 0); // refused again since
    socp_cli_say(&alice, "/quit");
    CHECK_EQ(socp_test_stop(alice.pid, 0, 10000), 0);
    for (int i = 0; i < 3; i++) {
        snprintf(cmd, sizeof cmd, "twin -> you: from-the-twin-%d", i); // its --name
        socp_cli_expect(&bob, cmd, 60000, NULL, 0);
    }
    CHECK_EQ(socp_test_stop(t.pid, SIGTERM, 5000), 0);
    CHECK_EQ(socp_test_stop(bob.pid, SIGTERM, 5000), 0);
}

// A script that pipes its commands in at once: they run once the link is
// up and the server's list of users is in, so "/tell bob" finds bob without
// the script having to wait for "bob is online" itself.
SOCP_TEST_T(socp_e2e_script_commands_wait_for_the_link, 60)
{
    char port[16];
    socp_cli_server("srv", NULL, port, sizeof port);
    socp_cli_t bob = socp_cli_start(port, "bob", "rsa4096_4p_b.pem", NULL);
    socp_cli_expect(&bob, "connected to", 10000, NULL, 0);
    socp_cli_t alice = socp_cli_start(port, "alice", "rsa4096_4p_a.pem", NULL);
    socp_cli_say(&alice, "/tell bob piped-before-the-link");
    socp_cli_expect(&bob, "alice -> you: piped-before-the-link", 10000, NULL, 0);
    CHECK_EQ(socp_test_stop(alice.pid, SIGTERM, 2000), 0);
    CHECK_EQ(socp_test_stop(bob.pid, SIGTERM, 2000), 0);
}

// Reads a client's own id and key fingerprint (the first 6 hex digits).
static void
s_whoami(socp_cli_t *c, char id[64], char fp6[8])
{
    char line[8192];
    socp_cli_say(c, "/whoami");
    socp_cli_expect(c, "user id:", 5000, line, sizeof line);
    CHECK(sscanf(strstr(line, "user id:") + 8, " %63s", id) == 1);
    socp_cli_expect(c, "fingerprint ", 5000, line, sizeof line);
    snprintf(fp6, 8, "%.6s", strstr(line, "fingerprint ") + strlen("fingerprint "));
}

// Names that cannot lie (issue #12): alice renames herself "bob" while bob
// is online. bob sees her as "bob#<her key>", never as plain "bob"; /whois
// tells them apart; the label addresses her; she sees the real bob labelled
// too (his name is now hers).
SOCP_TEST_T(socp_e2e_a_name_cannot_impersonate, 90)
{
    char port[16], line[8192], cmd[256];
    socp_cli_server("srv", NULL, port, sizeof port);
    socp_cli_t bob, alice;
    socp_cli_start_pair(port, &bob, &alice);
    socp_cli_expect(&bob, "alice is online", 10000, NULL, 0);
    char alice_id[64], alice_fp[8], bob_id[64], bob_fp[8];
    s_whoami(&alice, alice_id, alice_fp);
    s_whoami(&bob, bob_id, bob_fp);

    socp_cli_say(&alice, "/nick bob");
    socp_cli_expect(&alice, "note: another user has that name", 5000, NULL, 0);
    char bob_sees[64];
    snprintf(bob_sees, sizeof bob_sees, "bob#%s", alice_fp);
    socp_cli_expect(&bob, bob_sees, 15000, NULL, 0);
    snprintf(cmd, sizeof cmd, "/tell %.8s i am bob", bob_id);
    socp_cli_say(&alice, cmd);
    char want[128];
    snprintf(want, sizeof want, "%s -> you: i am bob", bob_sees);
    socp_cli_expect(&bob, "-> you: i am bob", 10000, line, sizeof line);
    CHECK_MSG(strstr(line, want), "shown as: %s", line);

    socp_cli_say(&bob, "/list");
    socp_cli_expect(&bob, alice_id, 5000, line, sizeof line);
    CHECK_MSG(strstr(line, bob_sees), "listed as: %s", line);
    snprintf(cmd, sizeof cmd, "/whois %s", bob_sees);
    socp_cli_say(&bob, cmd);
    socp_cli_expect(&bob, "user id:", 5000, line, sizeof line);
    CHECK_MSG(strstr(line, alice_id), "whois named: %s", line);
    socp_cli_expect(&bob, "fingerprint ", 5000, line, sizeof line);
    CHECK_MSG(strstr(line, alice_fp), "whois key: %s", line);

    // The label addresses her; the real bob is labelled on her side.
    snprintf(cmd, sizeof cmd, "/tell %s you are not bob", bob_sees);
    socp_cli_say(&bob, cmd);
    snprintf(want, sizeof want, "bob#%s -> you: you are not bob", bob_fp);
    socp_cli_expect(&alice, "-> you: you are not bob", 10000, line, sizeof line);
    CHECK_MSG(strstr(line, want), "shown as: %s", line);
    CHECK_EQ(socp_test_stop(alice.pid, SIGTERM, 2000), 0);
    CHECK_EQ(socp_test_stop(bob.pid, SIGTERM, 2000), 0);
}

// Messages around one RSA block (446 bytes of plaintext): 444 to 448 bytes,
// ASCII and with a 4-byte character across the edge, by /tell and /all,
// arrive whole and verified (the split into pieces is exact at the edge).
SOCP_TEST_T(socp_e2e_messages_at_the_rsa_block_edge, 90)
{
    char port[16], line[8192], text[512], cmd[600];
    socp_cli_server("srv", NULL, port, sizeof port);
    socp_cli_t bob, alice;
    socp_cli_start_pair(port, &bob, &alice);
    socp_cli_expect(&bob, "alice is online", 10000, NULL, 0);
    for (size_t len = 444; len <= 448; len++) {
        for (int wide = 0; wide < 2; wide++) {
            for (size_t i = 0; i < len; i++) {
                text[i] = (char) ('a' + (i + len) % 26);
            }
            if (wide) { // U+1F600 across byte 446, or ending the text
                memcpy(text + (len >= 447 ? 443 : len - 4), "\xf0\x9f\x98\x80", 4);
            }
            text[len] = '\0';
            const char *verb = (len + (size_t) wide) % 2 ? "/tell bob" : "/all";
            snprintf(cmd, sizeof cmd, "%s %s", verb, text);
            socp_cli_say(&alice, cmd);
            const char *head = verb[1] == 't' ? "alice -> you: " : "alice -> all: ";
            socp_cli_expect(&bob, head, 10000, line, sizeof line);
            CHECK_MSG(strcmp(strstr(line, head) + strlen(head), text) == 0, "%zu bytes%s: got %s",
                      len, wide ? " (wide)" : "", line);
            CHECK_MSG(!strstr(line, "] ["), "not verified: %s", line);
        }
    }
    CHECK_EQ(socp_test_stop(alice.pid, SIGTERM, 2000), 0);
    CHECK_EQ(socp_test_stop(bob.pid, SIGTERM, 2000), 0);
}

// No silent loss (issue #12): a DM to a user who is not online is held,
// sealed in the sender's database, shown as held (live and in /history),
// survives a restart of the sender, and goes out, whole and verified, when
// the recipient is next online; /history then shows it as sent.
SOCP_TEST_T(socp_e2e_dm_to_an_offline_user_is_held_then_sent, 120)
{
    char port[16], line[8192];
    socp_cli_server("srv", NULL, port, sizeof port);
    socp_cli_t bob, alice;
    socp_cli_start_pair(port, &bob, &alice);
    socp_cli_expect(&bob, "alice is online", 10000, NULL, 0);
    CHECK_EQ(socp_test_stop(bob.pid, SIGTERM, 2000), 0);
    socp_cli_expect(&alice, "bob left", 10000, NULL, 0);

    socp_cli_say(&alice, "/tell bob while you were away");
    socp_cli_expect(&alice, "you -> bob: while you were away", 10000, line, sizeof line);
    CHECK_MSG(strstr(line, "[HELD: not online; it is sent when bob is online"),
              "not shown as held: %s", line);
    char longmsg[1201];
    for (size_t i = 0; i < 1200; i++) {
        longmsg[i] = (char) ('a' + i % 26);
    }
    longmsg[1200] = '\0';
    char cmd[1300];
    snprintf(cmd, sizeof cmd, "/tell bob %s", longmsg);
    socp_cli_say(&alice, cmd);
    socp_cli_expect(&alice, "[HELD: not online", 10000, NULL, 0);
    socp_cli_say(&alice, "/history bob");
    socp_cli_expect(&alice, "you -> bob: while you were away", 5000, line, sizeof line);
    CHECK_MSG(strstr(line, "[HELD: not online yet]"), "history: %s", line);

    // The sender restarts before the recipient is back: nothing is lost.
    CHECK_EQ(socp_test_stop(alice.pid, SIGTERM, 2000), 0);
    alice = socp_cli_start(port, "alice", "rsa4096_4p_a.pem", NULL);
    socp_cli_expect(&alice, "connected to", 10000, NULL, 0);
    bob = socp_cli_start(port, "bob", "rsa4096_4p_b.pem", NULL);
    socp_cli_expect(&alice, "bob is online: sending 4 held message pieces", 15000, NULL, 0);
    socp_cli_expect(&bob, "alice -> you: while you were away", 15000, line, sizeof line);
    CHECK_MSG(!strstr(line, "] ["), "not verified: %s", line);
    socp_cli_expect(&bob, "alice -> you: ", 15000, line, sizeof line);
    CHECK_STREQ(strstr(line, "alice -> you: ") + strlen("alice -> you: "), longmsg);
    socp_cli_say(&alice, "/history bob");
    socp_cli_expect(&alice, "you -> bob: while you were away", 5000, line, sizeof line);
    CHECK_MSG(!strstr(line, "[HELD"), "still held in history: %s", line);
    // Sent once: nothing is released again at the next presence.
    CHECK_EQ(socp_test_stop(bob.pid, SIGTERM, 2000), 0);
    bob = socp_cli_start(port, "bob", "rsa4096_4p_b.pem", NULL);
    socp_cli_expect(&bob, "connected to", 10000, NULL, 0);
    socp_cli_say(&alice, "/tell bob after the return");
    socp_cli_expect(&bob, "-> you: ", 15000, line, sizeof line);
    CHECK_MSG(strstr(line, "alice -> you: after the return"), "released twice? %s", line);
    CHECK_EQ(socp_test_stop(alice.pid, SIGTERM, 2000), 0);
    CHECK_EQ(socp_test_stop(bob.pid, SIGTERM, 2000), 0);
}

// A held DM whose recipient stays away longer than --hold is given up, and
// the sender is told (a line, and /history marks it).
SOCP_TEST_T(socp_e2e_held_dm_expires_loudly, 60)
{
    char port[16], line[8192];
    socp_cli_server("srv", NULL, port, sizeof port);
    socp_cli_t bob = socp_cli_start(port, "bob", "rsa4096_4p_b.pem", NULL);
    socp_cli_expect(&bob, "connected to", 10000, NULL, 0);
    const char *hold[] = {"--hold", "2000", NULL};
    socp_cli_t alice = socp_cli_start(port, "alice", "rsa4096_4p_a.pem", hold);
    socp_cli_expect(&alice, "bob is online", 10000, NULL, 0);
    CHECK_EQ(socp_test_stop(bob.pid, SIGTERM, 2000), 0);
    socp_cli_expect(&alice, "bob left", 10000, NULL, 0);
    socp_cli_say(&alice, "/tell bob this will not wait");
    socp_cli_expect(&alice, "for up to 2 s]", 10000, NULL, 0);
    socp_cli_expect(&alice, "NOT DELIVERED: bob was not online for 2 s", 10000, NULL, 0);
    socp_cli_say(&alice, "/history bob");
    socp_cli_expect(&alice, "you -> bob: this will not wait", 5000, line, sizeof line);
    CHECK_MSG(strstr(line, "[NOT DELIVERED: given up]"), "history: %s", line);
    // bob comes back: the given-up message is not sent after all.
    bob = socp_cli_start(port, "bob", "rsa4096_4p_b.pem", NULL);
    socp_cli_expect(&alice, "bob is online", 10000, NULL, 0);
    socp_cli_say(&alice, "/tell bob fresh one");
    socp_cli_expect(&bob, "-> you: ", 15000, line, sizeof line);
    CHECK_MSG(strstr(line, "alice -> you: fresh one"), "given-up message sent: %s", line);
    CHECK_EQ(socp_test_stop(alice.pid, SIGTERM, 2000), 0);
    CHECK_EQ(socp_test_stop(bob.pid, SIGTERM, 2000), 0);
}

// A DM typed while the server is down is held (nobody is known to be
// online), not queued blindly: after the reconnect it goes out once its
// recipient is announced again.
SOCP_TEST_T(socp_e2e_dm_during_an_outage_is_held_then_sent, 120)
{
    char port[16], again[16], line[8192];
    int srv = socp_cli_server("srv", NULL, port, sizeof port);
    socp_cli_t bob, alice;
    socp_cli_start_pair(port, &bob, &alice);
    socp_cli_expect(&bob, "alice is online", 10000, NULL, 0);
    CHECK_EQ(socp_test_stop(srv, SIGTERM, 5000), 0);
    socp_cli_expect(&alice, "disconnected", 10000, NULL, 0);
    socp_cli_say(&alice, "/tell bob during the outage");
    socp_cli_expect(&alice, "you -> bob: during the outage", 10000, line, sizeof line);
    CHECK_MSG(strstr(line, "[HELD: not connected"), "not shown as held: %s", line);
    const char *same[] = {"--port", port, NULL};
    srv = socp_cli_server("srv", same, again, sizeof again);
    CHECK_STREQ(again, port);
    socp_cli_expect(&bob, "alice -> you: during the outage", 40000, line, sizeof line);
    CHECK_MSG(!strstr(line, "] ["), "not verified: %s", line);
    CHECK_EQ(socp_test_stop(alice.pid, SIGTERM, 2000), 0);
    CHECK_EQ(socp_test_stop(bob.pid, SIGTERM, 2000), 0);
    CHECK_EQ(socp_test_stop(srv, SIGTERM, 5000), 0);
}
