// socp_client_secret.c: the passphrase and the account password a client
// front end is given (see the header). Part of socp, a SOCP v1.3 client and
// server.
#include "socp/socp_client_secret.h"

#include <errno.h>
#include <fcntl.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "socp/socp_err.h"

// The two secrets, NUL-terminated in sodium memory, or NULL. Main thread only.
static char *s_passphrase;
static char *s_password;

void
socp_client_secret_wipe_env(const char *name)
{
    char *value = getenv(name);
    if (!value) {
        return;
    }
    // The environ entry is "NAME=value" with value pointing into it. The
    // value is wiped first, the entry removed, then its name wiped: glibc's
    // unsetenv only drops the pointer (an entry that came with exec lives on
    // the initial stack, one from setenv is never freed).
    size_t n = strlen(name);
    char *entry = value - n - 1;
    bool named = memcmp(entry, name, n) == 0 && entry[n] == '=';
    sodium_memzero(value, strlen(value));
    (void) unsetenv(name);
    if (named) {
        sodium_memzero(entry, n + 1);
    }
}

static void
s_free(char **p)
{
    if (*p) {
        sodium_free(*p); // wipes
        *p = NULL;
    }
}

void
socp_client_secret_forget(void)
{
    s_free(&s_passphrase);
    s_free(&s_password);
}

// A copy in sodium memory of the variable's value (NULL when unset or
// empty), or SOCP_ETOOBIG / SOCP_ENOMEM.
static int
s_from_env(const char *name, char **out)
{
    *out = NULL;
    const char *v = getenv(name);
    size_t n = v ? strlen(v) : 0;
    if (n == 0) {
        return 0;
    }
    if (n > SOCP_CLIENT_SECRET_MAX) {
        return SOCP_ETOOBIG;
    }
    if (!(*out = sodium_malloc(n + 1))) {
        return SOCP_ENOMEM;
    }
    memcpy(*out, v, n + 1);
    return 0;
}

// The first line of the file at path, in sodium memory. Read with read(2)
// straight into it: no stdio buffer keeps a copy.
static int
s_from_file(const char *path, char **out, const char **why)
{
    *out = NULL;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        *why = "cannot open the passphrase file";
        return SOCP_EIO;
    }
    struct stat st;
    if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && (st.st_mode & 077)) {
        fprintf(stderr, "warning: %s can be read by other users (chmod 600 it)\n", path);
    }
    char *buf = sodium_malloc(SOCP_CLIENT_SECRET_MAX + 2);
    if (!buf) {
        close(fd);
        *why = "out of secure memory";
        return SOCP_ENOMEM;
    }
    size_t n = 0;
    int rc = 0;
    while (n < SOCP_CLIENT_SECRET_MAX + 1 && !memchr(buf, '\n', n)) {
        ssize_t r = read(fd, buf + n, SOCP_CLIENT_SECRET_MAX + 1 - n);
        if (r < 0 && errno == EINTR) {
            continue;
        }
        if (r < 0) {
            rc = SOCP_EIO;
            *why = "cannot read the passphrase file";
        }
        if (r <= 0) {
            break;
        }
        n += (size_t) r;
    }
    close(fd);
    char *nl = memchr(buf, '\n', n);
    size_t len = nl ? (size_t) (nl - buf) : n;
    if (len > 0 && buf[len - 1] == '\r') {
        len--;
    }
    if (rc == 0 && len > SOCP_CLIENT_SECRET_MAX) {
        rc = SOCP_ETOOBIG;
        *why = "the passphrase file's first line is longer than 1024 bytes";
    } else if (rc == 0 && (len == 0 || memchr(buf, '\0', len))) {
        rc = SOCP_EINVAL;
        *why = "the passphrase file's first line is empty (or holds a NUL byte)";
    }
    if (rc != 0) {
        sodium_free(buf);
        return rc;
    }
    sodium_memzero(buf + len, SOCP_CLIENT_SECRET_MAX + 2 - len);
    *out = buf;
    return 0;
}

int
socp_client_secret_load(const char *path, bool account, const char **why)
{
    const char *dummy;
    why = why ? why : &dummy;
    *why = "ok";
    socp_client_secret_forget();
    int rc = sodium_init() < 0 ? SOCP_ENOMEM : 0;
    if (rc == 0 && path) {
        rc = s_from_file(path, account ? &s_password : &s_passphrase, why);
    }
    // Only the secret this mode uses is kept: the account's password with
    // --account (it encrypts the key file too), else the key's passphrase.
    if (rc == 0 && !account && !s_passphrase &&
        (rc = s_from_env(SOCP_CLIENT_PASSPHRASE_ENV, &s_passphrase))) {
        *why = rc == SOCP_ETOOBIG ? "SOCP_PASSPHRASE is longer than 1024 bytes"
                                  : "out of secure memory";
    }
    if (rc == 0 && account && !s_password &&
        (rc = s_from_env(SOCP_CLIENT_PASSWORD_ENV, &s_password))) {
        *why = rc == SOCP_ETOOBIG ? "SOCP_ACCOUNT_PASSWORD is longer than 1024 bytes"
                                  : "out of secure memory";
    }
    // Read or not, neither stays in the environment.
    socp_client_secret_wipe_env(SOCP_CLIENT_PASSPHRASE_ENV);
    socp_client_secret_wipe_env(SOCP_CLIENT_PASSWORD_ENV);
    if (rc != 0) {
        socp_client_secret_forget();
    }
    return rc;
}

const char *
socp_client_secret_passphrase(void)
{
    return s_passphrase;
}

const char *
socp_client_secret_password(void)
{
    return s_password;
}
