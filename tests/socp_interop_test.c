// socp_interop_test.c: the socp client against a scripted fake server
// (tests/py/fake_socp_server.py) that emits the other accepted wire variants
// (PEM keys, bytes-form content signatures, PSS salt 32, payload.ts differing
// from the envelope ts) and bad input (garbage, binary and 2 MiB frames, a
// forged signature, file names with paths, a changed key for a known user),
// and a server that stops reading.
#include <dirent.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "socp_cli_helpers.h"
#include "socp_test.h"

// A received message line that carries no trust mark ([UNVERIFIED] etc.).
static void
s_expect_verified(socp_cli_t *c, const char *want)
{
    char line[8192];
    socp_cli_expect(c, want, 10000, line, sizeof line);
    CHECK_MSG(!strstr(line, "] ["), "not shown as verified: %s", line);
}

static size_t
s_entries(const char *dir)
{
    DIR *d = opendir(dir);
    CHECK(d);
    size_t n = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        n += strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0;
    }
    closedir(d);
    return n;
}

// What we accept, so our key stays DER: with --pub-format auto, carol's
// b64url(PEM) key would switch us to PEM and restart the link (tested in
// socp_quiet_pub_format_auto).
static const char *const s_der[] = {"--pub-format", "der", NULL};

SOCP_TEST_T(socp_interop_variants_and_bad_input, 90)
{
    char port[16], cmd[4096], out[256];
    socp_cli_t fake = socp_cli_fake_start(port, sizeof port);
    socp_cli_t alice = socp_cli_start(port, "alice", "rsa4096_4p_a.pem", s_der);
    socp_cli_fake(&fake, "hello", out, sizeof out);
    socp_cli_expect(&alice, "connected to", 10000, NULL, 0);
    const char *fx = socp_test_srcdir();
    snprintf(cmd, sizeof cmd, "user carol %s/tests/fixtures/rsa4096_2p_a.pem", fx);
    socp_cli_fake(&fake, cmd, NULL, 0);
    snprintf(cmd, sizeof cmd, "user dave %s/tests/fixtures/rsa4096_2p_b.pem", fx);
    socp_cli_fake(&fake, cmd, NULL, 0);

    // Keys as base64url(PEM) (in meta.pubkey) and raw PEM (payload.pubkey).
    socp_cli_fake(&fake, "advertise carol pem64", NULL, 0);
    socp_cli_expect(&alice, "carol is online", 10000, NULL, 0);
    socp_cli_fake(&fake, "advertise dave pem", NULL, 0);
    socp_cli_expect(&alice, "dave is online", 10000, NULL, 0);

    // Every delivery carries payload.ts 5 s before the envelope ts (the
    // signature covers payload.ts) and sender_pub as base64url(PEM).
    socp_cli_fake(&fake, "dm carol bytes 32 variant-bytes-salt32", NULL, 0);
    s_expect_verified(&alice, "carol -> you: variant-bytes-salt32");
    socp_cli_fake(&fake, "dm dave string max variant-string-max", NULL, 0);
    s_expect_verified(&alice, "dave -> you: variant-string-max");
    socp_cli_fake(&fake, "dm dave bytes max variant-bytes-max", NULL, 0);
    s_expect_verified(&alice, "dave -> you: variant-bytes-max");
    socp_cli_fake(&fake, "dm carol string 32 variant-string-salt32", NULL, 0);
    s_expect_verified(&alice, "carol -> you: variant-string-salt32");

    // Garbage: each refused with one line, the session goes on.
    socp_cli_fake(&fake, "garbage", NULL, 0);
    socp_cli_expect(&alice, "refused a frame from the server: frame is not valid JSON", 5000, NULL,
                    0);
    socp_cli_expect(&alice, "refused a binary frame", 5000, NULL, 0);
    socp_cli_expect(&alice, "refused a frame from the server: frame is not valid JSON", 5000, NULL,
                    0);
    socp_cli_expect(&alice, "refused a frame from the server: missing", 5000, NULL, 0);
    socp_cli_fake(&fake, "deep", NULL, 0);
    socp_cli_expect(&alice, "refused a frame from the server: JSON nested too deep", 5000, NULL, 0);
    socp_cli_fake(&fake, "dm carol string max after-deep", NULL, 0);
    s_expect_verified(&alice, "carol -> you: after-deep");
    // A frame refused inside the client (after the edge) must not hold up
    // the next one: the store waits for every numbered item, for 5 s at most.
    socp_cli_fake(&fake, "badchunk carol", NULL, 0);
    socp_cli_fake(&fake, "dm carol string max after-badchunk", NULL, 0);
    uint64_t t_bad = socp_now_ms();
    s_expect_verified(&alice, "carol -> you: after-badchunk");
    CHECK_MSG(socp_now_ms() - t_bad < 4000, "a refused frame held up the next for %llu ms",
              (unsigned long long) (socp_now_ms() - t_bad));
    // A forged signature is never shown as verified.
    socp_cli_fake(&fake, "badsig carol forged-text", NULL, 0);
    socp_cli_expect(&alice, "[UNVERIFIED] carol -> you: forged-text", 10000, NULL, 0);
    // File names with paths: refused, nothing written.
    socp_cli_fake(&fake, "file carol ../../etc/passwd", NULL, 0);
    socp_cli_expect(&alice, "the file name contains a path", 5000, NULL, 0);
    socp_cli_fake(&fake, "file carol /abs", NULL, 0);
    socp_cli_expect(&alice, "the file name contains a path", 5000, NULL, 0);
    socp_cli_fake(&fake, "dm carol bytes max still-alive-1", NULL, 0);
    s_expect_verified(&alice, "carol -> you: still-alive-1");
    char dl[4096];
    snprintf(dl, sizeof dl, "%s/alice/downloads", socp_test_tmpdir());
    CHECK_EQ(s_entries(dl), 0);

    // A 2 MiB frame: the link is closed (1009) and re-established.
    socp_cli_fake(&fake, "big", NULL, 0);
    socp_cli_expect(&alice, "refused a frame over 1 MiB", 10000, NULL, 0);
    socp_cli_fake(&fake, "hello", NULL, 0);
    socp_cli_expect(&alice, "connected to", 10000, NULL, 0);
    socp_cli_fake(&fake, "dm dave string 32 still-alive-2", NULL, 0);
    s_expect_verified(&alice, "dave -> you: still-alive-2");

    // Not UTF-8 in a text frame: the WebSocket is failed (1007) and the
    // client reconnects.
    socp_cli_fake(&fake, "badutf8", NULL, 0);
    socp_cli_fake(&fake, "hello", NULL, 0);
    socp_cli_expect(&alice, "connected to", 10000, NULL, 0);
    socp_cli_fake(&fake, "dm carol bytes 32 still-alive-3", NULL, 0);
    s_expect_verified(&alice, "carol -> you: still-alive-3");

    uint64_t t0 = socp_now_ms();
    CHECK_EQ(socp_test_stop(alice.pid, SIGTERM, 2000), 0);
    CHECK(socp_now_ms() - t0 < 1000);
}

// The server announces a known user with another key: refused with a loud
// warning, messages signed with the new key refused, sends to that user
// blocked; the old pin survives a restart.
SOCP_TEST_T(socp_interop_key_change_refused, 60)
{
    char port[16], cmd[4096];
    socp_cli_t fake = socp_cli_fake_start(port, sizeof port);
    socp_cli_t alice = socp_cli_start(port, "alice", "rsa4096_4p_a.pem", s_der);
    socp_cli_fake(&fake, "hello", NULL, 0);
    socp_cli_expect(&alice, "connected to", 10000, NULL, 0);
    const char *fx = socp_test_srcdir();
    snprintf(cmd, sizeof cmd, "user carol %s/tests/fixtures/rsa4096_2p_a.pem", fx);
    socp_cli_fake(&fake, cmd, NULL, 0);
    socp_cli_fake(&fake, "advertise carol der", NULL, 0);
    socp_cli_expect(&alice, "carol is online", 10000, NULL, 0);
    socp_cli_fake(&fake, "dm carol string max before-the-change", NULL, 0);
    s_expect_verified(&alice, "carol -> you: before-the-change");

    snprintf(cmd, sizeof cmd, "rekey carol %s/tests/fixtures/rsa4096_2p_b.pem", fx);
    socp_cli_fake(&fake, cmd, NULL, 0);
    socp_cli_fake(&fake, "advertise carol pem64", NULL, 0);
    socp_cli_expect(&alice, "WARNING: the server announced a NEW KEY for carol", 10000, NULL, 0);
    socp_cli_fake(&fake, "dm carol string max after-the-change", NULL, 0);
    socp_cli_expect(&alice, "signed with a DIFFERENT key", 10000, NULL, 0);
    socp_cli_say(&alice, "/tell carol are you still you?");
    socp_cli_expect(&alice, "key changed and was refused; not sending", 5000, NULL, 0);
    socp_cli_say(&alice, "/list");
    socp_cli_expect(&alice, "[KEY CHANGED - BLOCKED]", 5000, NULL, 0);
    // Nothing was written to carol, and the session goes on.
    char n[64];
    socp_cli_fake(&fake, "count_to carol", n, sizeof n);
    CHECK_STREQ(n, "0");
    snprintf(cmd, sizeof cmd, "user dave %s/tests/fixtures/rsa4096_2p_a.pem", fx);
    socp_cli_fake(&fake, cmd, NULL, 0);
    socp_cli_fake(&fake, "advertise dave pem", NULL, 0);
    socp_cli_fake(&fake, "dm dave bytes 32 still-here", NULL, 0);
    s_expect_verified(&alice, "dave -> you: still-here");
    CHECK_EQ(socp_test_stop(alice.pid, SIGTERM, 2000), 0);
}

// Our client emitting the other variants (PEM key, bytes-form content_sig,
// salt 32) through a real socpd: the other client verifies them.
SOCP_TEST_T(socp_interop_emit_variants_through_socpd, 60)
{
    char port[16];
    socp_cli_server("srv", NULL, port, sizeof port);
    socp_cli_t bob = socp_cli_start(port, "bob", "rsa4096_4p_b.pem", NULL);
    socp_cli_expect(&bob, "connected to", 10000, NULL, 0);
    const char *variants[] = {"--pub-format", "pem", "--sig-form", "bytes",
                              "--pss-salt",   "32",  NULL};
    socp_cli_t alice = socp_cli_start(port, "alice", "rsa4096_4p_a.pem", variants);
    socp_cli_expect(&alice, "bob is online", 10000, NULL, 0);
    socp_cli_expect(&bob, "alice is online", 10000, NULL, 0);
    socp_cli_say(&alice, "/tell bob pem-bytes-salt32");
    s_expect_verified(&bob, "alice -> you: pem-bytes-salt32");
    socp_cli_say(&alice, "/all public-variant");
    s_expect_verified(&bob, "alice -> all: public-variant");
    socp_cli_say(&bob, "/tell alice default-form-back");
    s_expect_verified(&alice, "bob -> you: default-form-back");
    CHECK_EQ(socp_test_stop(alice.pid, SIGTERM, 2000), 0);
    CHECK_EQ(socp_test_stop(bob.pid, SIGTERM, 2000), 0);
}

// A server that stops reading: the client's messages wait in its outbox
// (not in memory, where they would overflow the session and drop the link),
// and all reach the server, once each, on the same connection when it reads
// again.
SOCP_TEST_T(socp_interop_server_that_stops_reading_gets_everything_once, 180)
{
    enum { N = 2500 }; // ~6 MB of frames: past the session's 4 MiB bound
    char port[16], cmd[4096], n[64];
    socp_cli_t fake = socp_cli_fake_start(port, sizeof port);
    socp_cli_fake(&fake, "rcvbuf 4096", NULL, 0);
    socp_cli_t alice = socp_cli_start(port, "alice", "rsa4096_4p_a.pem", NULL);
    socp_cli_fake(&fake, "hello", NULL, 0);
    socp_cli_expect(&alice, "connected to", 10000, NULL, 0);
    snprintf(cmd, sizeof cmd, "user carol %s/tests/fixtures/rsa4096_2p_a.pem", socp_test_srcdir());
    socp_cli_fake(&fake, cmd, NULL, 0);
    socp_cli_fake(&fake, "advertise carol der", NULL, 0);
    socp_cli_expect(&alice, "carol is online", 10000, NULL, 0);

    socp_cli_fake(&fake, "pause", NULL, 0);
    for (int i = 0; i < N; i++) {
        snprintf(cmd, sizeof cmd, "/tell carol backlog-%d", i);
        socp_cli_say(&alice, cmd);
    }
    // Every message is signed and stored before the server reads again.
    snprintf(cmd, sizeof cmd, "you -> carol: backlog-%d", N - 1);
    socp_cli_expect(&alice, cmd, 120000, NULL, 0);
    socp_cli_fake(&fake, "resume", NULL, 0);
    uint64_t deadline = socp_now_ms() + 120000;
    unsigned long got = 0;
    while (got < N && socp_now_ms() < deadline) {
        socp_cli_fake(&fake, "count_to carol", n, sizeof n);
        got = strtoul(n, NULL, 10);
        if (got < N) {
            (void) poll(NULL, 0, 100); // polling with a deadline
        }
    }
    CHECK_MSG(got == N, "the server got %lu of %d messages", got, N);
    CHECK_EQ(socp_test_stop(alice.pid, SIGTERM, 2000), 0);
}

// A script's commands wait for the server's answer to the LIST_REQUEST sent
// with the hello, not merely for its first frame: "/tell carol" finds carol
// even when another user's advertisement came first.
SOCP_TEST_T(socp_interop_script_waits_for_the_user_list, 60)
{
    char port[16], cmd[4096], n[64];
    socp_cli_t fake = socp_cli_fake_start(port, sizeof port);
    socp_cli_t alice = socp_cli_start(port, "alice", "rsa4096_4p_a.pem", NULL);
    socp_cli_say(&alice, "/tell carol hello-after-the-list");
    socp_cli_fake(&fake, "hello", NULL, 0);
    const char *fx = socp_test_srcdir();
    snprintf(cmd, sizeof cmd, "user carol %s/tests/fixtures/rsa4096_2p_a.pem", fx);
    socp_cli_fake(&fake, cmd, NULL, 0);
    snprintf(cmd, sizeof cmd, "user dave %s/tests/fixtures/rsa4096_2p_b.pem", fx);
    socp_cli_fake(&fake, cmd, NULL, 0);
    socp_cli_fake(&fake, "advertise dave der", NULL, 0); // the first frame after the hello
    socp_cli_fake(&fake, "list dave carol", NULL, 0);
    socp_cli_expect(&alice, "you -> carol: hello-after-the-list", 10000, NULL, 0);
    uint64_t deadline = socp_now_ms() + 10000;
    do {
        socp_cli_fake(&fake, "count_to carol", n, sizeof n);
    } while (strcmp(n, "1") != 0 && socp_now_ms() < deadline && poll(NULL, 0, 50) == 0);
    CHECK_STREQ(n, "1");
    CHECK_EQ(socp_test_stop(alice.pid, SIGTERM, 2000), 0);
}

// Waits until the fake has seen `want` MSG_DIRECT / MSG_PUBLIC_CHANNEL
// frames to `who`, then returns the form the last one's content_sig
// verifies in.
static void
s_sig_form(socp_cli_t *fake, const char *who, const char *want_count, char *form, size_t size)
{
    char cmd[64], n[64] = "";
    snprintf(cmd, sizeof cmd, "count_to %s", who);
    uint64_t deadline = socp_now_ms() + 10000;
    do {
        socp_cli_fake(fake, cmd, n, sizeof n);
    } while (strcmp(n, want_count) != 0 && socp_now_ms() < deadline && poll(NULL, 0, 50) == 0);
    CHECK_MSG(strcmp(n, want_count) == 0, "%s got %s frames, not %s", who, n, want_count);
    snprintf(cmd, sizeof cmd, "sig_form %s", who);
    socp_cli_fake(fake, cmd, form, size);
}

// With default flags the client answers each contact in the content_sig
// form that contact signs in (Impl14's client verifies only the raw-bytes
// form, peer A's only the string form): learned from their verified
// messages, kept across a restart; before any message, raw bytes for an id
// that is not a UUID (an Impl14 account), else the string form (ADR 0014).
SOCP_TEST_T(socp_interop_answers_in_the_form_each_contact_signs, 90)
{
    char port[16], cmd[4096], form[64];
    socp_cli_t fake = socp_cli_fake_start(port, sizeof port);
    socp_cli_t alice = socp_cli_start(port, "alice", "rsa4096_4p_a.pem", NULL);
    socp_cli_fake(&fake, "hello", NULL, 0);
    socp_cli_expect(&alice, "connected to", 10000, NULL, 0);
    const char *fx = socp_test_srcdir();
    snprintf(cmd, sizeof cmd, "user carol %s/tests/fixtures/rsa4096_2p_a.pem", fx);
    socp_cli_fake(&fake, cmd, NULL, 0);
    snprintf(cmd, sizeof cmd, "user zed %s/tests/fixtures/rsa4096_2p_b.pem zed", fx);
    socp_cli_fake(&fake, cmd, NULL, 0);
    snprintf(cmd, sizeof cmd, "user dave %s/tests/fixtures/rsa4096_4p_b.pem", fx);
    socp_cli_fake(&fake, cmd, NULL, 0);
    const char *names[] = {"carol", "zed", "dave"};
    for (int i = 0; i < 3; i++) {
        snprintf(cmd, sizeof cmd, "advertise %s der", names[i]);
        socp_cli_fake(&fake, cmd, NULL, 0);
        snprintf(cmd, sizeof cmd, "%s is online", names[i]);
        socp_cli_expect(&alice, cmd, 10000, NULL, 0);
    }

    // Before any message: by the shape of the id.
    socp_cli_say(&alice, "/tell carol first-to-carol");
    s_sig_form(&fake, "carol", "1", form, sizeof form);
    CHECK_STREQ(form, "string");
    socp_cli_say(&alice, "/tell zed first-to-zed");
    s_sig_form(&fake, "zed", "1", form, sizeof form);
    CHECK_STREQ(form, "bytes");

    // Learned: dave signs raw bytes, zed the string form.
    socp_cli_fake(&fake, "dm dave bytes max dave-signs-bytes", NULL, 0);
    s_expect_verified(&alice, "dave -> you: dave-signs-bytes");
    socp_cli_say(&alice, "/tell dave answer-in-bytes");
    s_sig_form(&fake, "dave", "1", form, sizeof form);
    CHECK_STREQ(form, "bytes");
    socp_cli_fake(&fake, "dm zed string max zed-signs-string", NULL, 0);
    s_expect_verified(&alice, "zed -> you: zed-signs-string");
    socp_cli_say(&alice, "/tell zed answer-in-string");
    s_sig_form(&fake, "zed", "2", form, sizeof form);
    CHECK_STREQ(form, "string");

    // Kept with the contact across a restart, and used for /all too.
    CHECK_EQ(socp_test_stop(alice.pid, SIGTERM, 2000), 0);
    alice = socp_cli_start(port, "alice", "rsa4096_4p_a.pem", NULL);
    socp_cli_fake(&fake, "hello", NULL, 0);
    socp_cli_expect(&alice, "connected to", 10000, NULL, 0);
    for (int i = 0; i < 3; i++) {
        snprintf(cmd, sizeof cmd, "advertise %s der", names[i]);
        socp_cli_fake(&fake, cmd, NULL, 0);
        snprintf(cmd, sizeof cmd, "%s is online", names[i]);
        socp_cli_expect(&alice, cmd, 10000, NULL, 0);
    }
    socp_cli_say(&alice, "/all one-for-everyone");
    s_sig_form(&fake, "dave", "1", form, sizeof form);
    CHECK_STREQ(form, "bytes");
    s_sig_form(&fake, "zed", "1", form, sizeof form);
    CHECK_STREQ(form, "string");
    s_sig_form(&fake, "carol", "1", form, sizeof form);
    CHECK_STREQ(form, "string");
    CHECK_EQ(socp_test_stop(alice.pid, SIGTERM, 2000), 0);
}

// Incoming files cannot hold the client's slots: at most 4 at once from one
// sender (others can still send), a transfer that stalls is dropped after
// --file-idle with its partial file, and partial files a killed run left
// behind are removed at start.
SOCP_TEST_T(socp_interop_stalled_files_are_dropped, 60)
{
    char port[16], cmd[4096], dir[4096];
    snprintf(dir, sizeof dir, "%s/alice/downloads", socp_test_tmpdir());
    char mk[4200];
    snprintf(mk, sizeof mk, "%s/alice", socp_test_tmpdir());
    CHECK(mkdir(mk, 0700) == 0 && mkdir(dir, 0700) == 0);
    snprintf(mk, sizeof mk, "%s/.part-0011223344556677", dir);
    int fd = open(mk, O_WRONLY | O_CREAT, 0600);
    CHECK(fd >= 0 && write(fd, "left over", 9) == 9 && close(fd) == 0);

    socp_cli_t fake = socp_cli_fake_start(port, sizeof port);
    const char *idle[] = {"--pub-format", "der", "--file-idle", "3000", NULL};
    socp_cli_t alice = socp_cli_start(port, "alice", "rsa4096_4p_a.pem", idle);
    socp_cli_fake(&fake, "hello", NULL, 0);
    socp_cli_expect(&alice, "connected to", 10000, NULL, 0);
    CHECK_EQ(s_entries(dir), 0);
    const char *fx = socp_test_srcdir();
    snprintf(cmd, sizeof cmd, "user carol %s/tests/fixtures/rsa4096_2p_a.pem", fx);
    socp_cli_fake(&fake, cmd, NULL, 0);
    snprintf(cmd, sizeof cmd, "user dave %s/tests/fixtures/rsa4096_2p_b.pem", fx);
    socp_cli_fake(&fake, cmd, NULL, 0);
    socp_cli_fake(&fake, "advertise carol der", NULL, 0);
    socp_cli_fake(&fake, "advertise dave der", NULL, 0);
    socp_cli_expect(&alice, "dave is online", 10000, NULL, 0);

    for (int i = 0; i < 5; i++) {
        snprintf(cmd, sizeof cmd, "file_start carol stall-%d.bin", i);
        socp_cli_fake(&fake, cmd, NULL, 0);
    }
    socp_cli_fake(&fake, "file_start dave from-dave.bin", NULL, 0);
    const char *offers[] = {"receiving file stall-0.bin", "receiving file stall-3.bin",
                            "refused a file from carol: 4 of their files are still coming in",
                            "receiving file from-dave.bin", NULL};
    socp_cli_expect_all(&alice, offers, 10000);
    CHECK_EQ(s_entries(dir), 5); // one .part per accepted transfer
    const char *stalled[] = {"file stall-0.bin from carol FAILED: stalled",
                             "file stall-3.bin from carol FAILED: stalled",
                             "file from-dave.bin from dave FAILED: stalled", NULL};
    socp_cli_expect_all(&alice, stalled, 10000);
    CHECK_EQ(s_entries(dir), 0);
    // The slots are free again.
    socp_cli_fake(&fake, "file carol after-the-stall.txt", NULL, 0);
    socp_cli_expect(&alice, "received file after-the-stall.txt", 10000, NULL, 0);
    CHECK_EQ(socp_test_stop(alice.pid, SIGTERM, 2000), 0);
}

// Reads alice's lines up to the one with `marker`; returns how many of them
// held `word` (fails the case if the marker does not come).
static int
s_count_until(socp_cli_t *c, const char *word, const char *marker)
{
    char line[8192];
    int seen = 0;
    uint64_t end = socp_now_ms() + 10000;
    while (socp_now_ms() < end) {
        if (socp_test_read_line(c->out, line, sizeof line, (int) (end - socp_now_ms())) < 0) {
            break;
        }
        if (socp_test_verbose()) {
            fprintf(stderr, "  [%d] %s\n", c->pid, line);
        }
        if (strstr(line, marker)) {
            return seen;
        }
        seen += strstr(line, word) != NULL;
    }
    socp_test_fail(__FILE__, __LINE__, "no line containing \"%s\" within 10 s", marker);
}

// A duplicate that got past the server (its replay cache missed it, or it
// restarted): the same USER_DELIVER twice more, and once more after the
// client restarted. The client's own record of what it received shows it
// once; socpd's cache hides this in every test against socpd.
SOCP_TEST_T(socp_interop_duplicate_past_the_server_shown_once, 90)
{
    char port[16], cmd[4096];
    socp_cli_t fake = socp_cli_fake_start(port, sizeof port);
    socp_cli_t alice = socp_cli_start(port, "alice", "rsa4096_4p_a.pem", s_der);
    socp_cli_fake(&fake, "hello", NULL, 0);
    socp_cli_expect(&alice, "connected to", 10000, NULL, 0);
    snprintf(cmd, sizeof cmd, "user carol %s/tests/fixtures/rsa4096_2p_a.pem", socp_test_srcdir());
    socp_cli_fake(&fake, cmd, NULL, 0);
    socp_cli_fake(&fake, "advertise carol der", NULL, 0);
    socp_cli_expect(&alice, "carol is online", 10000, NULL, 0);
    socp_cli_fake(&fake, "dm carol string max only-once-4242", NULL, 0);
    s_expect_verified(&alice, "carol -> you: only-once-4242");
    socp_cli_fake(&fake, "again", NULL, 0);
    socp_cli_fake(&fake, "again", NULL, 0);
    socp_cli_fake(&fake, "dm carol string max after-the-duplicates", NULL, 0);
    CHECK_EQ(s_count_until(&alice, "only-once-4242", "carol -> you: after-the-duplicates"), 0);

    CHECK_EQ(socp_test_stop(alice.pid, SIGTERM, 2000), 0);
    alice = socp_cli_start(port, "alice", "rsa4096_4p_a.pem", s_der);
    socp_cli_fake(&fake, "hello", NULL, 0);
    socp_cli_expect(&alice, "connected to", 10000, NULL, 0);
    socp_cli_fake(&fake, "advertise carol der", NULL, 0);
    socp_cli_expect(&alice, "carol is online", 10000, NULL, 0);
    socp_cli_fake(&fake, "again", NULL, 0);
    socp_cli_fake(&fake, "dm carol string max after-the-restart", NULL, 0);
    CHECK_EQ(s_count_until(&alice, "only-once-4242", "carol -> you: after-the-restart"), 0);
    CHECK_EQ(socp_test_stop(alice.pid, SIGTERM, 2000), 0);
}
