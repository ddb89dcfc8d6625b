// socp_identity_test.c: a client whose key is encrypted with a passphrase
// (SOCP_PASSPHRASE), end to end against socpd: the key file on disk is
// encrypted, the passphrase is gone from the running client's environment,
// the conversation never reaches the database file in clear, a wrong
// passphrase is refused with exit code 3, and the right one brings the
// history back.
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "socp/socp_common.h"
#include "socp/socp_keyfile.h"
#include "socp_cli_helpers.h"
#include "socp_test.h"

#define S_PASS "correct horse battery staple"

// Starts carol with an encrypted key (imported from the fixture on first run).
static socp_cli_t
s_carol(const char *port)
{
    char url[64], dir[4096], key[4096];
    snprintf(url, sizeof url, "ws://127.0.0.1:%s", port);
    snprintf(dir, sizeof dir, "%s/carol", socp_test_tmpdir());
    snprintf(key, sizeof key, "%s/tests/fixtures/rsa4096_4p_a.pem", socp_test_srcdir());
    const char *argv[] = {"socp",  "--server",     url, "--data-dir",  dir,    "--name",
                          "carol", "--import-key", key, "--heartbeat", "1000", NULL};
    return socp_cli_spawn(socp_test_program("socp"), argv);
}

SOCP_TEST_T(socp_identity_encrypted_key_and_sealed_history, 120)
{
    char port[16];
    socp_cli_server("srv", NULL, port, sizeof port);
    socp_cli_t bob = socp_cli_start(port, "bob", "rsa4096_4p_b.pem", NULL);
    socp_cli_expect(&bob, "connected to", 30000, NULL, 0);

    CHECK(setenv("SOCP_PASSPHRASE", S_PASS, 1) == 0);
    socp_cli_t carol = s_carol(port);
    socp_cli_expect(&carol, "connected to", 30000, NULL, 0);
    char path[4200];
    snprintf(path, sizeof path, "%s/carol/key", socp_test_tmpdir());
    bool encrypted = false;
    const char *why = NULL;
    CHECK_OK(socp_keyfile_is_encrypted(path, &encrypted, &why));
    CHECK_MSG(encrypted, "the key file is not encrypted");
    // The running client no longer carries the passphrase.
    snprintf(path, sizeof path, "/proc/%d/environ", carol.pid);
    CHECK(!socp_test_file_has(path, S_PASS));
    CHECK(!socp_test_file_has(path, "SOCP_PASSPHRASE="));

    socp_cli_expect(&bob, "carol is online", 30000, NULL, 0);
    socp_cli_say(&bob, "/tell carol meet-at-the-north-gate-4711");
    socp_cli_expect(&carol, "bob -> you: meet-at-the-north-gate-4711", 30000, NULL, 0);
    socp_cli_say(&carol, "/tell bob bring-the-blue-folder-0815");
    socp_cli_expect(&bob, "carol -> you: bring-the-blue-folder-0815", 30000, NULL, 0);
    socp_cli_say(&carol, "/quit");
    CHECK_EQ(socp_test_stop(carol.pid, 0, 10000), 0);
    close(carol.in);
    close(carol.out);

    // Neither line is in carol's database file, not even in a free page.
    snprintf(path, sizeof path, "%s/carol/db/data.mdb", socp_test_tmpdir());
    CHECK(!socp_test_file_has(path, "meet-at-the-north-gate"));
    CHECK(!socp_test_file_has(path, "bring-the-blue-folder"));

    // A wrong passphrase: refused, exit code 3, the data left as it was.
    CHECK(setenv("SOCP_PASSPHRASE", "wrong horse", 1) == 0);
    socp_cli_t wrong = s_carol(port);
    CHECK_EQ(socp_test_stop(wrong.pid, 0, 30000), 3);
    close(wrong.in);
    close(wrong.out);

    // The right one: the history is back.
    CHECK(setenv("SOCP_PASSPHRASE", S_PASS, 1) == 0);
    carol = s_carol(port);
    socp_cli_expect(&carol, "connected to", 30000, NULL, 0);
    socp_cli_say(&carol, "/history bob 5");
    socp_cli_expect(&carol, "meet-at-the-north-gate-4711", 10000, NULL, 0);
    socp_cli_expect(&carol, "bring-the-blue-folder-0815", 10000, NULL, 0);
    socp_cli_say(&carol, "/quit");
    CHECK_EQ(socp_test_stop(carol.pid, 0, 10000), 0);
    socp_cli_say(&bob, "/quit");
    CHECK_EQ(socp_test_stop(bob.pid, 0, 10000), 0);
}
