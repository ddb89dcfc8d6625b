// socp_account_test.c: `socp --account NAME` against a stand-in for Impl14's
// server (tests/py/fake_impl14_server.py): registration on first use, login
// on the next run, login from a new data directory with the key the server
// keeps (ours, or one sealed by Impl14's own client), wrong passwords, a key
// that is not the account's; then two account clients talking through it.
#include <jansson.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "socp/socp_keyfile.h"
#include "socp/socp_rsa.h"
#include "socp_cli_helpers.h"
#include "socp_test.h"

// ---- helpers ---------------------------------------------------------------

// The password of the client running: no line of its output may carry it.
static const char *s_secret = "";

static socp_cli_t
s_fake(char *port, size_t size)
{
    char script[4096];
    snprintf(script, sizeof script, "%s/tests/py/fake_impl14_server.py", socp_test_srcdir());
    const char *argv[] = {"python3", script, NULL};
    socp_cli_t f = socp_cli_spawn("/usr/bin/python3", argv);
    char line[256];
    socp_cli_expect(&f, "listening ", 20000, line, sizeof line);
    snprintf(port, size, "%.15s", line + strlen("listening "));
    return f;
}

// Starts `socp --account NAME` in script mode, password `pass` from the
// environment, data directory TMP/<dir>; stdout and stderr both on c.out.
// With `bridge`, `socp bridge --stdio` instead (JSON-RPC on stdin/stdout).
static socp_cli_t
s_client_ex(const char *port,
            const char *dir,
            const char *name,
            const char *pass,
            const char *key,
            bool bridge)
{
    char url[64], path[4096], keypath[4096];
    snprintf(url, sizeof url, "ws://127.0.0.1:%s", port);
    snprintf(path, sizeof path, "%s/%s", socp_test_tmpdir(), dir);
    const char *argv[24] = {"socp", "--server",    url,    "--data-dir",  path, "--account",
                            name,   "--heartbeat", "1000", "--file-rate", "0",  NULL};
    size_t n = 11;
    if (bridge) {
        memmove(argv + 3, argv + 1, n * sizeof *argv);
        argv[1] = "bridge";
        argv[2] = "--stdio";
        n += 2;
    }
    if (key) {
        snprintf(keypath, sizeof keypath, "%s/tests/fixtures/%s", socp_test_srcdir(), key);
        argv[n++] = "--import-key";
        argv[n++] = keypath;
    }
    argv[n] = NULL;
    s_secret = pass;
    CHECK(setenv("SOCP_ACCOUNT_PASSWORD", pass, 1) == 0);
    int in[2], out[2];
    CHECK(pipe(in) == 0 && pipe(out) == 0);
    fflush(NULL);
    pid_t pid = fork();
    CHECK(pid >= 0);
    if (pid == 0) {
        dup2(in[0], STDIN_FILENO);
        dup2(out[1], STDOUT_FILENO);
        dup2(out[1], STDERR_FILENO);
        close(in[0]);
        close(in[1]);
        close(out[0]);
        close(out[1]);
        execv(socp_test_program("socp"), (char *const *) argv);
        _exit(127);
    }
    close(in[0]);
    close(out[1]);
    CHECK(unsetenv("SOCP_ACCOUNT_PASSWORD") == 0);
    return (socp_cli_t){pid, in[1], out[0]};
}

static socp_cli_t
s_client(const char *port, const char *dir, const char *name, const char *pass, const char *key)
{
    return s_client_ex(port, dir, name, pass, key, false);
}

// Reads c's lines until one has `want`; fails on a line with the password.
static void
s_expect(socp_cli_t *c, const char *want)
{
    uint64_t end = socp_now_ms() + 30000;
    char line[8192];
    while (socp_now_ms() < end) {
        if (socp_test_read_line(c->out, line, sizeof line, (int) (end - socp_now_ms())) < 0) {
            break;
        }
        if (socp_test_verbose()) {
            fprintf(stderr, "  [%d] %s\n", c->pid, line);
        }
        CHECK_MSG(!*s_secret || !strstr(line, s_secret), "the password is in: %s", line);
        if (strstr(line, want)) {
            return;
        }
    }
    CHECK_MSG(false, "no line with \"%s\"", want);
}

// Reads the rest of c's output: false if `text` is in it.
static bool
s_never_says(socp_cli_t *c, const char *text)
{
    char line[8192];
    while (socp_test_read_line(c->out, line, sizeof line, 2000) >= 0) {
        if (socp_test_verbose()) {
            fprintf(stderr, "  [%d] %s\n", c->pid, line);
        }
        if (strstr(line, text) || (*s_secret && strstr(line, s_secret))) {
            return false;
        }
    }
    return true;
}

static void
s_done(socp_cli_t *c, int want_status)
{
    close(c->in);
    int st = socp_test_stop(c->pid, 0, 20000);
    CHECK_MSG(st == want_status, "socp exited with %d, expected %d", st, want_status);
    close(c->out);
}

static socp_rsa_key_t *
s_fixture_key(const char *name)
{
    char *path = socp_test_fixture(name);
    size_t len = 0;
    uint8_t *pem = socp_test_read_file(path, &len);
    socp_rsa_key_t *key = NULL;
    CHECK_OK(socp_rsa_private_import(pem, len, &key));
    free(pem);
    free(path);
    return key;
}

// The key file of TMP/<dir> opens with pass and holds the fixture's key.
static void
s_check_key(const char *dir, const char *pass, const char *fixture)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/%s/key", socp_test_tmpdir(), dir);
    socp_rsa_key_t *got = NULL, *want = s_fixture_key(fixture);
    const char *why = "";
    CHECK_MSG(socp_keyfile_load(path, pass, pass ? strlen(pass) : 0, &got, &why) == 0, "%s: %s",
              path, why);
    CHECK(socp_rsa_public_equal(got, want));
    socp_rsa_destroy(&got);
    socp_rsa_destroy(&want);
}

static int
s_fake_int(socp_cli_t *fake, const char *cmd)
{
    char out[64];
    socp_cli_fake(fake, cmd, out, sizeof out);
    return atoi(out);
}

static char *
s_tmp(const char *name)
{
    return socp_test_path(socp_test_tmpdir(), name);
}

static void
s_put(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    CHECK(f != NULL);
    CHECK(fputs(text, f) >= 0);
    CHECK(fclose(f) == 0);
}

// ---- cases -------------------------------------------------------------------

SOCP_TEST_T(socp_account_register_login_new_machine, 180)
{
    char port[16], cmd[4096];
    socp_cli_t fake = s_fake(port, sizeof port);

    // First use: the account is registered with our key, then logged in.
    socp_cli_t c = s_client(port, "a1", "alice", "pw alice \xc3\xa9", "rsa4096_4p_a.pem");
    s_expect(&c, "registered account alice on ws://127.0.0.1:");
    s_expect(&c, "connected to ws://127.0.0.1:");
    socp_cli_say(&c, "/quit");
    CHECK(s_never_says(&c, "refused"));
    s_done(&c, 0);
    CHECK_EQ(s_fake_int(&fake, "registers"), 1);
    s_check_key("a1", "pw alice \xc3\xa9", "rsa4096_4p_a.pem");

    // What the server keeps opens the way Impl14's client opens it, and is our key.
    char *store = s_tmp("store"), *pass = s_tmp("pass"), *pem = s_tmp("pem");
    snprintf(cmd, sizeof cmd, "store alice %s", store);
    socp_cli_fake(&fake, cmd, NULL, 0);
    s_put(pass, "pw alice \xc3\xa9");
    CHECK_EQ(socp_test_python("account_check.py",
                              (const char *[]){"store-open", pass, store, pem, NULL}, NULL, 0),
             0);
    size_t pem_len = 0;
    uint8_t *pem_data = socp_test_read_file(pem, &pem_len);
    socp_rsa_key_t *from_store = NULL, *want = s_fixture_key("rsa4096_4p_a.pem");
    CHECK_OK(socp_rsa_private_import(pem_data, pem_len, &from_store));
    CHECK(socp_rsa_public_equal(from_store, want));
    socp_rsa_destroy(&from_store);
    socp_rsa_destroy(&want);
    free(pem_data);

    // Next run, same directory: a login, no second registration.
    c = s_client(port, "a1", "alice", "pw alice \xc3\xa9", NULL);
    s_expect(&c, "connected to ws://127.0.0.1:");
    socp_cli_say(&c, "/quit");
    CHECK(s_never_says(&c, "registered"));
    s_done(&c, 0);
    CHECK_EQ(s_fake_int(&fake, "registers"), 1);

    // A new machine (a new data directory): the key comes from the server.
    c = s_client(port, "a2", "alice", "pw alice \xc3\xa9", NULL);
    s_expect(&c, "logged in as alice with the account's key from ws://127.0.0.1:");
    s_expect(&c, "connected to ws://127.0.0.1:");
    socp_cli_say(&c, "/quit");
    s_done(&c, 0);
    s_check_key("a2", "pw alice \xc3\xa9", "rsa4096_4p_a.pem");

    // Wrong password, new directory: one line, exit 3, nothing kept.
    c = s_client(port, "a3", "alice", "pw alice", NULL);
    s_expect(&c, "socp: wrong password for account alice on ws://127.0.0.1:");
    s_done(&c, 3);
    char path[4096];
    snprintf(path, sizeof path, "%s/a3/key", socp_test_tmpdir());
    CHECK(access(path, F_OK) != 0);
    snprintf(path, sizeof path, "%s/a3/account", socp_test_tmpdir());
    CHECK(access(path, F_OK) != 0);
    // Wrong password, known directory: the key file does not open either.
    c = s_client(port, "a1", "alice", "pw alice", NULL);
    s_expect(&c, "socp: wrong password for account alice");
    s_done(&c, 3);
    // A directory of another account is refused.
    c = s_client(port, "a1", "bob", "pw bob", NULL);
    s_expect(&c, "belongs to account alice, not bob");
    s_done(&c, 2);
    CHECK_EQ(s_fake_int(&fake, "registers"), 1);

    free(store);
    free(pass);
    free(pem);
    close(fake.in);
    socp_test_stop(fake.pid, SIGTERM, 5000);
}

// An account made by Impl14's own client (its privkey_store sealed by an
// independent implementation) opens here; a directory whose key is not the
// account's is refused before anything is sent under it.
SOCP_TEST_T(socp_account_made_by_impl14_client, 120)
{
    char port[16], cmd[8192];
    socp_cli_t fake = s_fake(port, sizeof port);
    char *pass = s_tmp("pass"), *store = s_tmp("store"), *pake = s_tmp("pake"), *pub = s_tmp("pub");
    s_put(pass, "bob's password");
    char *fixture = socp_test_fixture("rsa4096_2p_b.pem");
    CHECK_EQ(socp_test_python("account_check.py",
                              (const char *[]){"store-seal", pass, fixture, store, NULL}, NULL, 0),
             0);
    CHECK_EQ(socp_test_python("account_check.py",
                              (const char *[]){"pake-make", pass,
                                               "00112233445566778899aabbccddeeff", pake, NULL},
                              NULL, 0),
             0);
    socp_rsa_key_t *key = s_fixture_key("rsa4096_2p_b.pem");
    char *der = NULL;
    CHECK_OK(socp_rsa_public_export(key, SOCP_RSA_PUB_B64_DER, &der));
    s_put(pub, der);
    snprintf(cmd, sizeof cmd, "seed bob %s %s %s", pub, store, pake);
    socp_cli_fake(&fake, cmd, NULL, 0);

    socp_cli_t c = s_client(port, "b1", "bob", "bob's password", NULL);
    s_expect(&c, "logged in as bob with the account's key");
    s_expect(&c, "connected to ws://127.0.0.1:");
    socp_cli_say(&c, "/quit");
    s_done(&c, 0);
    s_check_key("b1", "bob's password", "rsa4096_2p_b.pem");
    CHECK_EQ(s_fake_int(&fake, "registers"), 0);

    // A data directory of account bob holding another key (plain, so the
    // password reaches the server): refused by the server, one clear line.
    char dir[4096], path[4200];
    snprintf(dir, sizeof dir, "%s/b2", socp_test_tmpdir());
    CHECK(mkdir(dir, 0700) == 0);
    snprintf(path, sizeof path, "%s/account", dir);
    s_put(path, "bob\n");
    snprintf(path, sizeof path, "%s/key", dir);
    socp_rsa_key_t *other = s_fixture_key("rsa4096_2p_a.pem");
    CHECK_OK(socp_keyfile_save_plain(path, other));
    c = s_client(port, "b2", "bob", "bob's password", NULL);
    s_expect(&c, "is not the key of account bob on ws://127.0.0.1:");
    s_done(&c, 3);

    socp_rsa_destroy(&other);
    socp_rsa_destroy(&key);
    free(der);
    free(fixture);
    free(pass);
    free(store);
    free(pake);
    free(pub);
    close(fake.in);
    socp_test_stop(fake.pid, SIGTERM, 5000);
}

// Two account clients through the stand-in: their net actors log in, a DM
// carries payload.to and payload.sender (Impl14 routes on them) and arrives
// verified, a file frame carries payload.to, USER_ADDED / USER_REMOVED are
// presence, and so is the user list asked for every heartbeat (a local user
// who logs in later); a login refused on a reconnect ends the client.
SOCP_TEST_T(socp_account_two_clients_talk, 180)
{
    char port[16], cmd[8192], out[8192];
    socp_cli_t fake = s_fake(port, sizeof port);
    socp_cli_t bob = s_client(port, "bob", "bob", "pw-bob", "rsa4096_4p_b.pem");
    s_expect(&bob, "connected to ws://127.0.0.1:");
    socp_cli_t alice = s_client(port, "alice", "alice", "pw-alice", "rsa4096_4p_a.pem");
    s_expect(&alice, "connected to ws://127.0.0.1:");
    CHECK_EQ(s_fake_int(&fake, "online alice"), 1);
    CHECK_EQ(s_fake_int(&fake, "online bob"), 1);
    // alice learnt of bob from the list (Impl14 announces no local user).
    socp_cli_say(&alice, "/list");
    s_secret = "pw-alice";
    s_expect(&alice, "  bob");

    socp_cli_say(&alice, "/tell bob hello through the payload");
    s_secret = "pw-bob";
    char line[8192];
    socp_cli_expect(&bob, "alice -> you: hello through the payload", 30000, line, sizeof line);
    CHECK_MSG(!strstr(line, "] ["), "not shown as verified: %s", line);
    socp_cli_fake(&fake, "last alice MSG_DIRECT", out, sizeof out);
    json_error_t jerr;
    json_t *dm = json_loads(out, 0, &jerr);
    CHECK_MSG(dm != NULL, "not JSON: %s", out);
    json_t *p = json_object_get(dm, "payload");
    CHECK_STREQ(json_string_value(json_object_get(p, "to")), "bob");
    CHECK_STREQ(json_string_value(json_object_get(p, "sender")), "alice");
    CHECK_STREQ(json_string_value(json_object_get(dm, "to")), "bob"); // the envelope's too
    CHECK_STREQ(json_string_value(json_object_get(dm, "from")), "alice");
    json_decref(dm);

    // A file: its frames carry payload.to.
    char file[4096];
    snprintf(file, sizeof file, "%s/small.txt", socp_test_tmpdir());
    socp_cli_write_file(file, 300);
    snprintf(cmd, sizeof cmd, "/file bob %s", file);
    socp_cli_say(&alice, cmd);
    uint64_t end = socp_now_ms() + 20000;
    while (s_fake_int(&fake, "count alice FILE_END") < 1 && socp_now_ms() < end) {
        socp_test_read_line(alice.out, line, sizeof line, 50); // polls, with a deadline
    }
    socp_cli_fake(&fake, "last alice FILE_START", out, sizeof out);
    json_t *fs = json_loads(out, 0, &jerr);
    CHECK_MSG(fs != NULL, "no FILE_START: %s", out);
    CHECK_STREQ(json_string_value(json_object_get(json_object_get(fs, "payload"), "to")), "bob");
    json_decref(fs);
    socp_cli_fake(&fake, "last alice FILE_END", out, sizeof out);
    fs = json_loads(out, 0, &jerr);
    CHECK_MSG(fs != NULL, "no FILE_END: %s", out);
    CHECK_STREQ(json_string_value(json_object_get(json_object_get(fs, "payload"), "to")), "bob");
    json_decref(fs);

    // A user of another server: USER_ADDED is presence, USER_REMOVED a leave.
    char *pub = s_tmp("carol.pub");
    socp_rsa_key_t *carol = s_fixture_key("rsa4096_2p_a.pem");
    char *der = NULL;
    CHECK_OK(socp_rsa_public_export(carol, SOCP_RSA_PUB_B64_DER, &der));
    s_put(pub, der);
    snprintf(cmd, sizeof cmd, "added carol %s unlisted", pub); // USER_ADDED alone
    socp_cli_fake(&fake, cmd, NULL, 0);
    s_secret = "pw-alice";
    s_expect(&alice, "carol is online");
    socp_cli_say(&alice, "/tell carol far away");
    end = socp_now_ms() + 20000;
    while (s_fake_int(&fake, "count alice MSG_DIRECT") < 2 && socp_now_ms() < end) {
        socp_test_read_line(alice.out, line, sizeof line, 50);
    }
    socp_cli_fake(&fake, "last alice MSG_DIRECT", out, sizeof out);
    dm = json_loads(out, 0, &jerr);
    CHECK_MSG(dm != NULL, "not JSON: %s", out);
    CHECK_STREQ(json_string_value(json_object_get(json_object_get(dm, "payload"), "to")), "carol");
    json_decref(dm);
    socp_cli_fake(&fake, "removed carol", NULL, 0);
    s_expect(&alice, "carol left");

    // A local user who logs in later: Impl14 tells nobody, the list does.
    socp_cli_t dave = s_client(port, "dave", "dave", "pw-dave", "rsa4096_2p_b.pem");
    s_expect(&dave, "connected to ws://127.0.0.1:");
    s_secret = "pw-alice";
    s_expect(&alice, "dave is online");
    s_secret = "pw-dave";
    socp_cli_say(&dave, "/quit");
    s_done(&dave, 0);
    s_secret = "pw-alice";

    // The password changed elsewhere: the next login (after a lost link) is
    // refused, and the client stops instead of retrying.
    socp_cli_fake(&fake, "refuse", NULL, 0);
    socp_cli_fake(&fake, "drop alice", NULL, 0);
    s_expect(&alice, "refused the login of account alice: BAD_KEY (wrong password)");
    close(alice.in);
    int st = socp_test_stop(alice.pid, 0, 20000);
    CHECK_MSG(st == 1, "socp exited with %d, expected 1", st);
    close(alice.out);

    s_secret = "pw-bob";
    socp_cli_say(&bob, "/quit");
    s_done(&bob, 0);
    socp_rsa_destroy(&carol);
    free(der);
    free(pub);
    close(fake.in);
    socp_test_stop(fake.pid, SIGTERM, 5000);
}

// The headless bridge takes --account too: it logs in, and its link event
// comes once the server accepted the login.
SOCP_TEST_T(socp_account_bridge, 120)
{
    char port[16];
    socp_cli_t fake = s_fake(port, sizeof port);
    socp_cli_t br = s_client_ex(port, "brian", "brian", "pw-brian", "rsa4096_4p_b.pem", true);
    s_expect(&br, "\"up\":true");
    CHECK_EQ(s_fake_int(&fake, "online brian"), 1);
    s_done(&br, 0);
    socp_test_stop(fake.pid, SIGTERM, 5000);
}
