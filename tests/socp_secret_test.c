// socp_secret_test.c: the client's secrets in memory and at start (issue
// #12 item 7): the passphrase and account password read once from
// --passphrase-file or the environment and wiped from it, the process not
// dumpable, the private key's numbers in OpenSSL's secure heap.
#include "socp/socp_client_secret.h"

#include <fcntl.h>
#include <openssl/crypto.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "socp/socp_keyfile.h"
#include "socp/socp_platform.h"
#include "socp/socp_rsa.h"
#include "socp_cli_helpers.h"
#include "socp_test.h"

static char *
s_write(const char *name, const char *text, mode_t mode)
{
    char *path = socp_test_path(socp_test_tmpdir(), name);
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, mode);
    CHECK(fd >= 0);
    CHECK(write(fd, text, strlen(text)) == (ssize_t) strlen(text));
    close(fd);
    return path;
}

static bool
s_zero(const char *p, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (p[i]) {
            return false;
        }
    }
    return true;
}

// From the environment: the variable of the mode is kept (sodium memory),
// both variables are gone from the environment, and the bytes of the entry
// that held them are wiped (a copy left there is what /proc/PID/environ
// shows for a variable that came with exec).
SOCP_TEST(socp_secret_env_read_once_and_wiped)
{
    CHECK(setenv("SOCP_PASSPHRASE", "correct horse battery", 1) == 0);
    CHECK(setenv("SOCP_ACCOUNT_PASSWORD", "account-pw-1234", 1) == 0);
    char *entry_a = getenv("SOCP_PASSPHRASE"), *entry_b = getenv("SOCP_ACCOUNT_PASSWORD");
    size_t len_a = strlen(entry_a), len_b = strlen(entry_b);
    CHECK_OK(socp_client_secret_load(NULL, false, NULL));
    CHECK_STREQ(socp_client_secret_passphrase(), "correct horse battery");
    CHECK(socp_client_secret_password() == NULL); // not an account: not kept
    CHECK(getenv("SOCP_PASSPHRASE") == NULL);
    CHECK(getenv("SOCP_ACCOUNT_PASSWORD") == NULL);
    CHECK(s_zero(entry_a, len_a));
    CHECK(s_zero(entry_b, len_b));
    CHECK(s_zero(entry_a - strlen("SOCP_PASSPHRASE="), strlen("SOCP_PASSPHRASE=")));
    socp_client_secret_forget();
    CHECK(socp_client_secret_passphrase() == NULL);

    // --account: the password is kept, the passphrase not.
    CHECK(setenv("SOCP_PASSPHRASE", "unused", 1) == 0);
    CHECK(setenv("SOCP_ACCOUNT_PASSWORD", "account-pw-5678", 1) == 0);
    CHECK_OK(socp_client_secret_load(NULL, true, NULL));
    CHECK(socp_client_secret_passphrase() == NULL);
    CHECK_STREQ(socp_client_secret_password(), "account-pw-5678");
    CHECK(getenv("SOCP_PASSPHRASE") == NULL && getenv("SOCP_ACCOUNT_PASSWORD") == NULL);
    socp_client_secret_forget();

    // Too long: refused, and wiped all the same.
    char big[1100];
    memset(big, 'x', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    CHECK(setenv("SOCP_PASSPHRASE", big, 1) == 0);
    const char *why = NULL;
    CHECK_RC(socp_client_secret_load(NULL, false, &why), SOCP_ETOOBIG);
    CHECK(why && strstr(why, "SOCP_PASSPHRASE"));
    CHECK(getenv("SOCP_PASSPHRASE") == NULL);
    CHECK(socp_client_secret_passphrase() == NULL);
}

// --passphrase-file: its first line (CRLF too), over the environment; an
// empty, missing or too long one is refused with a sentence.
SOCP_TEST(socp_secret_passphrase_file)
{
    CHECK(setenv("SOCP_PASSPHRASE", "from-the-env", 1) == 0);
    char *path = s_write("pass", "from the file\r\nsecond line\n", 0600);
    CHECK_OK(socp_client_secret_load(path, false, NULL));
    CHECK_STREQ(socp_client_secret_passphrase(), "from the file");
    CHECK(getenv("SOCP_PASSPHRASE") == NULL);
    free(path);
    path = s_write("pw", "account password", 0600);
    CHECK_OK(socp_client_secret_load(path, true, NULL));
    CHECK_STREQ(socp_client_secret_password(), "account password");
    CHECK(socp_client_secret_passphrase() == NULL);
    free(path);

    const char *why = NULL;
    path = s_write("empty", "\n", 0600);
    CHECK_RC(socp_client_secret_load(path, false, &why), SOCP_EINVAL);
    CHECK(why && strstr(why, "empty"));
    free(path);
    char big[1200];
    memset(big, 'y', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    path = s_write("big", big, 0600);
    CHECK_RC(socp_client_secret_load(path, false, &why), SOCP_ETOOBIG);
    free(path);
    path = socp_test_path(socp_test_tmpdir(), "missing");
    CHECK_RC(socp_client_secret_load(path, false, &why), SOCP_EIO);
    CHECK(socp_client_secret_passphrase() == NULL && socp_client_secret_password() == NULL);
    free(path);
}

SOCP_TEST(socp_secret_not_dumpable)
{
    CHECK(socp_platform_dumpable()); // the test runner's child, as forked
    CHECK_OK(socp_platform_no_dump());
    CHECK(!socp_platform_dumpable());
}

// After socp_rsa_secure_heap, the numbers of a private key imported from
// DER live in OpenSSL's secure heap (locked, never in a core dump).
SOCP_TEST(socp_secret_rsa_key_in_secure_heap)
{
    int rc = socp_rsa_secure_heap(64u * 1024u);
    CHECK(rc == 0 || rc == 1);
    CHECK(CRYPTO_secure_malloc_initialized());
    size_t before = CRYPTO_secure_used();
    char *path = socp_test_fixture("rsa4096_4p_a.pem");
    size_t len = 0;
    uint8_t *pem = socp_test_read_file(path, &len);
    socp_rsa_key_t *k = NULL;
    CHECK_OK(socp_rsa_private_import(pem, len, &k));
    // d (512 bytes), four primes, their CRT exponents and coefficients.
    CHECK_MSG(CRYPTO_secure_used() >= before + 2048, "the key took %zu bytes of the secure heap",
              CRYPTO_secure_used() - before);
    uint8_t sig[SOCP_RSA_BYTES];
    CHECK_OK(socp_rsa_sign(k, SOCP_RSA_SALT_MAX, "x", 1, sig));
    socp_rsa_destroy(&k);
    free(pem);
    free(path);
}

// End to end: a new identity encrypted with the passphrase from a file, the
// running client carries neither variable, and the next start needs the same
// file (a wrong one exits 3 and changes nothing).
SOCP_TEST_T(socp_secret_passphrase_file_end_to_end, 90)
{
    char port[16], server_key[4096];
    snprintf(server_key, sizeof server_key, "%s/tests/fixtures/rsa4096_4p_b.pem",
             socp_test_srcdir());
    const char *const srv[] = {"--import-key", server_key, NULL};
    socp_cli_server("srv", srv, port, sizeof port);
    char url[64], dir[4096], key[4096];
    snprintf(url, sizeof url, "ws://127.0.0.1:%s", port);
    snprintf(dir, sizeof dir, "%s/dora", socp_test_tmpdir());
    snprintf(key, sizeof key, "%s/tests/fixtures/rsa4096_4p_a.pem", socp_test_srcdir());
    char *good = s_write("good", "a passphrase from a file\n", 0600);
    char *bad = s_write("bad", "not the passphrase\n", 0600);
    CHECK(setenv("SOCP_ACCOUNT_PASSWORD", "never-read-here", 1) == 0);
    CHECK(setenv("SOCP_PASSPHRASE", "not-used-either", 1) == 0);
    const char *argv[] = {"socp", "--server", url,    "--data-dir",        dir,  "--import-key",
                          key,    "--name",   "dora", "--passphrase-file", good, NULL};
    socp_cli_t c = socp_cli_spawn(socp_test_program("socp"), argv);
    CHECK(unsetenv("SOCP_ACCOUNT_PASSWORD") == 0 && unsetenv("SOCP_PASSPHRASE") == 0);
    socp_cli_expect(&c, "connected to", 30000, NULL, 0);
    char path[4200];
    snprintf(path, sizeof path, "/proc/%d/environ", c.pid);
    CHECK(!socp_test_file_has(path, "never-read-here"));
    CHECK(!socp_test_file_has(path, "SOCP_ACCOUNT_PASSWORD"));
    CHECK(!socp_test_file_has(path, "not-used-either"));
    CHECK_EQ(socp_test_stop(c.pid, SIGTERM, 5000), 0);
    close(c.in);
    close(c.out);
    snprintf(path, sizeof path, "%s/key", dir);
    bool encrypted = false;
    const char *why = NULL;
    CHECK_OK(socp_keyfile_is_encrypted(path, &encrypted, &why));
    CHECK(encrypted);

    const char *wrong[] = {"socp", "--server",          url, "--data-dir",
                           dir,    "--passphrase-file", bad, NULL};
    c = socp_cli_spawn(socp_test_program("socp"), wrong);
    CHECK_EQ(socp_test_stop(c.pid, 0, 30000), 3);
    close(c.in);
    close(c.out);
    const char *right[] = {"socp", "--server",          url,  "--data-dir",
                           dir,    "--passphrase-file", good, NULL};
    c = socp_cli_spawn(socp_test_program("socp"), right);
    socp_cli_expect(&c, "connected to", 30000, NULL, 0);
    CHECK_EQ(socp_test_stop(c.pid, SIGTERM, 5000), 0);
    free(good);
    free(bad);
}
