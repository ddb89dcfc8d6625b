// socp_quiet_test.c: a quiet, tolerant client (issue #11, item 5), against the
// scripted fake server (tests/py/fake_socp_server.py) playing the deployed
// peers: HEARTBEAT only every --heartbeat ms with dead links still found;
// ERROR UNKNOWN_TYPE answers to our optional frames (LIST_REQUEST,
// HEARTBEAT) swallowed, in the terminal and in the bridge; frames addressed
// "to": "" taken as ours, frames for another user refused; a public message
// sent as base64 of its text shown as [NOT ENCRYPTED]; --pub-format auto
// switching to PEM, once, for a server that presents PEM keys.
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "socp/socp_envelope.h"
#include "socp_cli_helpers.h"
#include "socp_test.h"

// Reads lines until one contains `want`; fails if that line or any before
// it contains `forbidden`. The line is copied to got when non-NULL.
static void
s_expect_without(socp_cli_t *c,
                 const char *want,
                 const char *forbidden,
                 int timeout_ms,
                 char *got,
                 size_t size)
{
    uint64_t end = socp_now_ms() + (uint64_t) timeout_ms;
    char line[8192];
    while (socp_now_ms() < end) {
        if (socp_test_read_line(c->out, line, sizeof line, (int) (end - socp_now_ms())) < 0) {
            break;
        }
        if (socp_test_verbose()) {
            fprintf(stderr, "  [%d] %s\n", c->pid, line);
        }
        CHECK_MSG(!strstr(line, forbidden), "a line with \"%s\" before \"%s\": %s", forbidden, want,
                  line);
        if (strstr(line, want)) {
            if (got) {
                snprintf(got, size, "%s", line);
            }
            return;
        }
    }
    socp_test_fail(__FILE__, __LINE__, "no line containing \"%s\" within %d ms", want, timeout_ms);
}

// socp_cli_expect_all, failing on any line that contains `forbidden`.
static void
s_expect_all_without(socp_cli_t *c,
                     const char *const wants[],
                     const char *forbidden,
                     int timeout_ms)
{
    bool seen[8] = {false};
    size_t n = 0, left;
    while (wants[n] && n < 8) {
        n++;
    }
    left = n;
    uint64_t end = socp_now_ms() + (uint64_t) timeout_ms;
    char line[8192];
    while (left > 0 && socp_now_ms() < end) {
        if (socp_test_read_line(c->out, line, sizeof line, (int) (end - socp_now_ms())) < 0) {
            break;
        }
        if (socp_test_verbose()) {
            fprintf(stderr, "  [%d] %s\n", c->pid, line);
        }
        CHECK_MSG(!strstr(line, forbidden), "a line with \"%s\": %s", forbidden, line);
        for (size_t i = 0; i < n; i++) {
            if (!seen[i] && strstr(line, wants[i])) {
                seen[i] = true;
                left--;
            }
        }
    }
    for (size_t i = 0; i < n; i++) {
        CHECK_MSG(seen[i], "no line containing \"%s\" within %d ms", wants[i], timeout_ms);
    }
}

// The fake server's answer to `cmd` as a number.
static unsigned long
s_fake_num(socp_cli_t *fake, const char *cmd)
{
    char out[64];
    socp_cli_fake(fake, cmd, out, sizeof out);
    return strtoul(out, NULL, 10);
}

static void
s_user(socp_cli_t *fake, const char *name, const char *key)
{
    char cmd[4096];
    snprintf(cmd, sizeof cmd, "user %s %s/tests/fixtures/%s", name, socp_test_srcdir(), key);
    socp_cli_fake(fake, cmd, NULL, 0);
}

// Starts `socp bridge --stdio` like socp_cli_start starts the client.
static socp_cli_t
s_bridge(const char *port, const char *name, const char *key, const char *const extra[])
{
    char url[64], dir[4096], keypath[4096];
    snprintf(url, sizeof url, "ws://127.0.0.1:%s", port);
    snprintf(dir, sizeof dir, "%s/%s", socp_test_tmpdir(), name);
    snprintf(keypath, sizeof keypath, "%s/tests/fixtures/%s", socp_test_srcdir(), key);
    const char *argv[48] = {
        "socp",        "bridge",       "--stdio", "--server", url,  "--data-dir",  dir,
        "--plain-key", "--import-key", keypath,   "--name",   name, "--file-rate", "0"};
    size_t n = 14;
    for (size_t i = 0; extra && extra[i] && n < 47; i++) {
        argv[n++] = extra[i];
    }
    argv[n] = NULL;
    return socp_cli_spawn(socp_test_program("socp"), argv);
}

SOCP_TEST(socp_quiet_envelope_empty_to)
{
    const char *frame = "{\"type\":\"ERROR\",\"from\":\"srv\",\"to\":\"\",\"ts\":1,"
                        "\"payload\":{\"code\":\"USER_NOT_FOUND\"}}";
    socp_envelope_t env;
    socp_envelope_error_t err;
    CHECK_RC(socp_envelope_parse(frame, strlen(frame), &env, &err), SOCP_EPROTO);
    CHECK_EQ(err.reason, SOCP_ENVELOPE_REASON_TO_BAD);
    CHECK_OK(
        socp_envelope_parse_ex(frame, strlen(frame), SOCP_ENVELOPE_PARSE_EMPTY_TO, &env, &err));
    CHECK_STREQ(env.to, "");
    CHECK_STREQ(env.from, "srv");
    socp_envelope_fini(&env);
    // Only "": a missing or non-string `to` is still refused.
    const char *missing = "{\"type\":\"ERROR\",\"from\":\"srv\",\"ts\":1,\"payload\":{}}";
    CHECK_RC(
        socp_envelope_parse_ex(missing, strlen(missing), SOCP_ENVELOPE_PARSE_EMPTY_TO, &env, &err),
        SOCP_EPROTO);
    CHECK_EQ(err.reason, SOCP_ENVELOPE_REASON_TO_MISSING);
    const char *number = "{\"type\":\"ERROR\",\"from\":\"srv\",\"to\":0,\"ts\":1,\"payload\":{}}";
    CHECK_RC(
        socp_envelope_parse_ex(number, strlen(number), SOCP_ENVELOPE_PARSE_EMPTY_TO, &env, &err),
        SOCP_EPROTO);
    CHECK_EQ(err.reason, SOCP_ENVELOPE_REASON_TO_BAD);
}

// HEARTBEAT goes every --heartbeat ms, not every second; a silent but live
// server (it answers pings) is not taken for dead whatever the heartbeat,
// and a dead one still is, within --dead.
SOCP_TEST_T(socp_quiet_heartbeat_interval, 60)
{
    char port[16];
    socp_cli_t fake = socp_cli_fake_start(port, sizeof port);
    // --heartbeat 300: about ten in 3 s.
    const char *small[] = {"--heartbeat", "300", NULL};
    socp_cli_t bob = socp_cli_start(port, "bob", "rsa4096_4p_b.pem", small);
    socp_cli_fake(&fake, "hello", NULL, 0);
    socp_cli_expect(&bob, "connected to", 10000, NULL, 0);
    unsigned long before = s_fake_num(&fake, "count_type HEARTBEAT");
    uint64_t end = socp_now_ms() + 3000;
    while (socp_now_ms() < end) {
        (void) poll(NULL, 0, (int) (end - socp_now_ms())); // the window itself
    }
    unsigned long n = s_fake_num(&fake, "count_type HEARTBEAT") - before;
    CHECK_MSG(n >= 6 && n <= 14, "%lu HEARTBEATs in 3 s at --heartbeat 300", n);
    CHECK_EQ(socp_test_stop(bob.pid, SIGTERM, 2000), 0);

    const char *large[] = {"--heartbeat", "60000", "--dead", "3000", NULL};
    socp_cli_t alice = socp_cli_start(port, "alice", "rsa4096_4p_a.pem", large);
    socp_cli_fake(&fake, "hello", NULL, 0);
    socp_cli_expect(&alice, "connected to", 10000, NULL, 0);
    // 4 s: longer than --dead, and four of the old 1 s heartbeats.
    end = socp_now_ms() + 4000;
    while (socp_now_ms() < end) {
        CHECK_EQ(s_fake_num(&fake, "count_type HEARTBEAT"), 0);
        CHECK_MSG(s_fake_num(&fake, "closed") == 0,
                  "a silent server that answers pings was taken for dead");
        (void) poll(NULL, 0, 200); // sampling the window
    }
    // A server that answers nothing at all is dead after --dead.
    socp_cli_fake(&fake, "mute", NULL, 0);
    socp_cli_expect(&alice, "the server has been silent for 3 s", 8000, NULL, 0);
    CHECK_EQ(socp_test_stop(alice.pid, SIGTERM, 2000), 0);
}

// Peer A answers LIST_REQUEST and HEARTBEAT with ERROR UNKNOWN_TYPE: nothing
// of it reaches the user, the link is up at once (no 2 s wait for a list
// that will not come), heartbeats stop, and a real error still shows.
SOCP_TEST_T(socp_quiet_unknown_type_swallowed, 60)
{
    char port[16];
    socp_cli_t fake = socp_cli_fake_start(port, sizeof port);
    socp_cli_fake(&fake, "answer LIST_REQUEST unknown_a", NULL, 0);
    socp_cli_fake(&fake, "answer HEARTBEAT unknown_a", NULL, 0);
    const char *hb[] = {"--heartbeat", "300", NULL};
    socp_cli_t alice = socp_cli_start(port, "alice", "rsa4096_4p_a.pem", hb);
    socp_cli_fake(&fake, "hello", NULL, 0);
    uint64_t t0 = socp_now_ms();
    s_expect_without(&alice, "connected to", "UNKNOWN_TYPE", 10000, NULL, 0);
    CHECK_MSG(socp_now_ms() - t0 < 1500, "the link came up after %llu ms",
              (unsigned long long) (socp_now_ms() - t0));
    // The first HEARTBEAT is answered UNKNOWN_TYPE: no more are sent.
    uint64_t end = socp_now_ms() + 5000;
    while (s_fake_num(&fake, "count_type HEARTBEAT") == 0 && socp_now_ms() < end) {
        (void) poll(NULL, 0, 50);
    }
    end = socp_now_ms() + 1500;
    while (socp_now_ms() < end) {
        (void) poll(NULL, 0, (int) (end - socp_now_ms())); // five heartbeat periods
    }
    CHECK_EQ(s_fake_num(&fake, "count_type HEARTBEAT"), 1);
    socp_cli_fake(&fake, "error me USER_NOT_FOUND Recipient nobody not connected", NULL, 0);
    s_expect_without(&alice, "server error USER_NOT_FOUND: Recipient nobody", "UNKNOWN_TYPE", 10000,
                     NULL, 0);
    CHECK_EQ(socp_test_stop(alice.pid, SIGTERM, 2000), 0);
}

// The same through the bridge: no "error" event for them, the link event at
// once, a real error still an event.
SOCP_TEST_T(socp_quiet_unknown_type_swallowed_bridge, 60)
{
    char port[16];
    socp_cli_t fake = socp_cli_fake_start(port, sizeof port);
    socp_cli_fake(&fake, "answer LIST_REQUEST unknown_b", NULL, 0);
    socp_cli_fake(&fake, "answer HEARTBEAT unknown_b", NULL, 0);
    const char *hb[] = {"--heartbeat", "300", NULL};
    socp_cli_t br = s_bridge(port, "alice", "rsa4096_4p_a.pem", hb);
    socp_cli_fake(&fake, "hello", NULL, 0);
    uint64_t t0 = socp_now_ms();
    s_expect_without(&br, "\"up\":true", "\"method\":\"error\"", 10000, NULL, 0);
    CHECK_MSG(socp_now_ms() - t0 < 1500, "the link came up after %llu ms",
              (unsigned long long) (socp_now_ms() - t0));
    uint64_t end = socp_now_ms() + 5000;
    while (s_fake_num(&fake, "count_type HEARTBEAT") == 0 && socp_now_ms() < end) {
        (void) poll(NULL, 0, 50);
    }
    socp_cli_fake(&fake, "error empty USER_NOT_FOUND unknown user", NULL, 0);
    char line[8192];
    s_expect_without(&br, "\"method\":\"error\"", "UNKNOWN_TYPE", 10000, line, sizeof line);
    CHECK_MSG(strstr(line, "USER_NOT_FOUND"), "not the real error: %s", line);
    CHECK_EQ(socp_test_stop(br.pid, SIGTERM, 3000), 0);
}

// Impl14 addresses a socket it has not authenticated with "to": "": its list,
// its errors and a DM so addressed are ours. A DM addressed to another user
// is still refused.
SOCP_TEST_T(socp_quiet_empty_to_is_us, 60)
{
    char port[16];
    socp_cli_t fake = socp_cli_fake_start(port, sizeof port);
    s_user(&fake, "carol", "rsa4096_2p_a.pem");
    s_user(&fake, "dave", "rsa4096_2p_b.pem");
    socp_cli_fake(&fake, "answer LIST_REQUEST list_empty_to", NULL, 0);
    socp_cli_t alice = socp_cli_start(port, "alice", "rsa4096_4p_a.pem", NULL);
    socp_cli_fake(&fake, "hello", NULL, 0);
    uint64_t t0 = socp_now_ms();
    // The list (to "") is what brings the link up, with carol and dave in it.
    const char *const up[] = {"connected to", "carol is online", "dave is online", NULL};
    s_expect_all_without(&alice, up, "warning", 10000);
    CHECK_MSG(socp_now_ms() - t0 < 1500, "the link came up after %llu ms",
              (unsigned long long) (socp_now_ms() - t0));
    // A DM to "" is to us: shown, and its content_sig (over our id) verified.
    // (Nothing was said about the listed user of another server without a key.)
    socp_cli_fake(&fake, "dm_to carol empty for-me-by-empty-to", NULL, 0);
    char line[8192];
    s_expect_without(&alice, "carol -> you: for-me-by-empty-to", "warning", 10000, line,
                     sizeof line);
    CHECK_MSG(!strstr(line, "] ["), "not shown as verified: %s", line);
    socp_cli_fake(&fake, "error empty USER_NOT_FOUND unknown user", NULL, 0);
    socp_cli_expect(&alice, "server error USER_NOT_FOUND: unknown user", 10000, NULL, 0);
    // Addressed to dave: refused, never shown.
    socp_cli_fake(&fake, "dm_to carol dave meant-for-dave", NULL, 0);
    s_expect_without(&alice, "addressed to another user", "meant-for-dave", 10000, NULL, 0);
    socp_cli_fake(&fake, "dm_to carol me after-the-misrouted-one", NULL, 0);
    s_expect_without(&alice, "carol -> you: after-the-misrouted-one", "meant-for-dave", 10000, NULL,
                     0);
    CHECK_EQ(socp_test_stop(alice.pid, SIGTERM, 2000), 0);
}

// Peer A's /all: MSG_PUBLIC_CHANNEL whose ciphertext is base64 of the text.
SOCP_TEST_T(socp_quiet_plaintext_public, 60)
{
    char port[16];
    socp_cli_t fake = socp_cli_fake_start(port, sizeof port);
    socp_cli_t alice = socp_cli_start(port, "alice", "rsa4096_4p_a.pem", NULL);
    socp_cli_fake(&fake, "hello", NULL, 0);
    socp_cli_expect(&alice, "connected to", 10000, NULL, 0);
    s_user(&fake, "carol", "rsa4096_2p_a.pem");
    socp_cli_fake(&fake, "advertise carol der", NULL, 0);
    socp_cli_expect(&alice, "carol is online", 10000, NULL, 0);

    char line[8192];
    socp_cli_fake(&fake, "public carol ok hello from peer A", NULL, 0);
    socp_cli_expect(&alice, "carol -> all: hello from peer A", 10000, line, sizeof line);
    CHECK_MSG(strstr(line, "[NOT ENCRYPTED] carol"), "not marked as sent in clear: %s", line);
    socp_cli_fake(&fake, "public carol std padded, standard base64?", NULL, 0);
    socp_cli_expect(&alice, "[NOT ENCRYPTED] carol -> all: padded, standard base64?", 10000, NULL,
                    0);
    // The signature still counts.
    socp_cli_fake(&fake, "public carol badsig forged words", NULL, 0);
    socp_cli_expect(&alice, "[NOT ENCRYPTED] [UNVERIFIED] carol -> all: forged words", 10000, NULL,
                    0);
    // 512 bytes is an RSA-4096 ciphertext that did not decrypt, whatever it
    // decodes to; control characters are no text.
    socp_cli_fake(&fake, "public carol blob512 abcd", NULL, 0);
    socp_cli_expect(&alice, "[UNREADABLE] carol -> all: (message could not be decrypted)", 10000,
                    NULL, 0);
    socp_cli_fake(&fake, "public carol ctrl ring", NULL, 0);
    socp_cli_expect(&alice, "[UNREADABLE] carol -> all: (message could not be decrypted)", 10000,
                    NULL, 0);
    socp_cli_fake(&fake, "public carol ok still-here", NULL, 0);
    s_expect_without(&alice, "[NOT ENCRYPTED] carol -> all: still-here", "ring", 10000, NULL, 0);
    // Impl14's server relays a public message from its own id, the author in
    // payload.sender: shown as carol's, and her signature verifies.
    socp_cli_fake(&fake, "public carol viaserver relayed by the server", NULL, 0);
    socp_cli_expect(&alice, "carol -> all: relayed by the server", 10000, line, sizeof line);
    CHECK_MSG(!strstr(line, "[UNVERIFIED]"), "not verified: %s", line);
    // A user's own frame cannot name another author: dave's frame claiming
    // to be carol's stays dave's (and her signature does not make it his).
    s_user(&fake, "dave", "rsa4096_2p_b.pem");
    socp_cli_fake(&fake, "advertise dave der", NULL, 0);
    socp_cli_expect(&alice, "dave is online", 10000, NULL, 0);
    socp_cli_fake(&fake, "public carol as:dave who wrote this", NULL, 0);
    socp_cli_expect(&alice, "-> all: who wrote this", 10000, line, sizeof line);
    CHECK_MSG(strstr(line, "[UNVERIFIED] dave -> all"), "not dave's, unverified: %s", line);
    CHECK_EQ(socp_test_stop(alice.pid, SIGTERM, 2000), 0);

    // The bridge: trust "plaintext", encrypted false, verified by signature.
    socp_cli_t br = s_bridge(port, "alice", "rsa4096_4p_a.pem", NULL);
    socp_cli_fake(&fake, "hello", NULL, 0);
    socp_cli_expect(&br, "\"up\":true", 10000, NULL, 0);
    socp_cli_fake(&fake, "public carol ok bridge-clear", NULL, 0);
    socp_cli_expect(&br, "bridge-clear", 10000, line, sizeof line);
    CHECK_MSG(strstr(line, "\"trust\":\"plaintext\"") && strstr(line, "\"encrypted\":false") &&
                  strstr(line, "\"verified\":true"),
              "%s", line);
    socp_cli_fake(&fake, "public carol badsig bridge-forged", NULL, 0);
    socp_cli_expect(&br, "bridge-forged", 10000, line, sizeof line);
    CHECK_MSG(strstr(line, "\"encrypted\":false") && strstr(line, "\"verified\":false"), "%s",
              line);
    CHECK_EQ(socp_test_stop(br.pid, SIGTERM, 3000), 0);
}

// Waits up to 10 s for the fake server to see the client connect again.
static void
s_rehello(socp_cli_t *fake, socp_cli_t *c, const char *want_form)
{
    socp_cli_fake(fake, "hello", NULL, 0);
    char form[32];
    socp_cli_fake(fake, "key_form", form, sizeof form);
    CHECK_STREQ(form, want_form);
    socp_cli_expect(c, "connected to", 10000, NULL, 0);
}

// The connection stays for `ms` (no switch, no reconnect).
static void
s_stays(socp_cli_t *fake, int ms)
{
    uint64_t end = socp_now_ms() + (uint64_t) ms;
    while (socp_now_ms() < end) {
        CHECK_MSG(s_fake_num(fake, "closed") == 0, "the client reconnected");
        (void) poll(NULL, 0, 100); // sampling the window
    }
}

// --pub-format auto (the default): DER until the server presents a user's key
// as b64url(PEM); then PEM for that server at once (one reconnect), in the
// hello and in sender_pub, remembered across restarts; once only; an
// explicit --pub-format wins.
SOCP_TEST_T(socp_quiet_pub_format_auto, 90)
{
    char port[16];
    socp_cli_t fake = socp_cli_fake_start(port, sizeof port);
    socp_cli_t alice = socp_cli_start(port, "alice", "rsa4096_4p_a.pem", NULL);
    s_rehello(&fake, &alice, "der");
    s_user(&fake, "carol", "rsa4096_2p_a.pem");
    s_user(&fake, "dave", "rsa4096_2p_b.pem");
    socp_cli_fake(&fake, "advertise dave der", NULL, 0);
    socp_cli_expect(&alice, "dave is online", 10000, NULL, 0);
    socp_cli_say(&alice, "/tell dave in-der");
    socp_cli_expect(&alice, "you -> dave: in-der", 10000, NULL, 0);
    uint64_t end = socp_now_ms() + 10000;
    while (s_fake_num(&fake, "count_to dave") == 0 && socp_now_ms() < end) {
        (void) poll(NULL, 0, 50);
    }
    char form[32];
    socp_cli_fake(&fake, "sender_pub_form dave", form, sizeof form);
    CHECK_STREQ(form, "der");

    // carol's key comes as b64url(PEM): the client switches and reconnects at once.
    socp_cli_fake(&fake, "advertise carol pem64", NULL, 0);
    uint64_t t0 = socp_now_ms();
    s_rehello(&fake, &alice, "pem64");
    CHECK_MSG(socp_now_ms() - t0 < 3000, "the switch took %llu ms",
              (unsigned long long) (socp_now_ms() - t0));
    socp_cli_fake(&fake, "advertise carol pem64", NULL, 0);
    socp_cli_fake(&fake, "advertise dave der", NULL, 0);
    socp_cli_expect(&alice, "dave is online", 10000, NULL, 0);
    socp_cli_say(&alice, "/tell dave in-pem");
    end = socp_now_ms() + 10000;
    while (s_fake_num(&fake, "count_to dave") == 0 && socp_now_ms() < end) {
        (void) poll(NULL, 0, 50);
    }
    socp_cli_fake(&fake, "sender_pub_form dave", form, sizeof form);
    CHECK_STREQ(form, "pem64");
    s_stays(&fake, 1500); // more PEM keys: no second switch
    CHECK_EQ(socp_test_stop(alice.pid, SIGTERM, 2000), 0);

    // Remembered: PEM from the first hello of the next run.
    alice = socp_cli_start(port, "alice", "rsa4096_4p_a.pem", NULL);
    s_rehello(&fake, &alice, "pem64");
    socp_cli_fake(&fake, "advertise carol pem64", NULL, 0);
    s_stays(&fake, 1500);
    CHECK_EQ(socp_test_stop(alice.pid, SIGTERM, 2000), 0);

    // An explicit form wins over what was learned, and over what is seen.
    const char *der[] = {"--pub-format", "der", NULL};
    alice = socp_cli_start(port, "alice", "rsa4096_4p_a.pem", der);
    s_rehello(&fake, &alice, "der");
    socp_cli_fake(&fake, "advertise carol pem64", NULL, 0);
    socp_cli_expect(&alice, "carol is online", 10000, NULL, 0);
    s_stays(&fake, 1500);
    CHECK_EQ(socp_test_stop(alice.pid, SIGTERM, 2000), 0);

    // Another server (another URL) starts from DER again.
    char port2[16];
    socp_cli_t fake2 = socp_cli_fake_start(port2, sizeof port2);
    socp_cli_t again = socp_cli_start(port2, "alice", "rsa4096_4p_a.pem", NULL);
    s_rehello(&fake2, &again, "der");
    CHECK_EQ(socp_test_stop(again.pid, SIGTERM, 2000), 0);
}
