// socp_client_identity.c: load or create a client identity (user_id + key).
#include "socp/socp_client_identity.h"
#include "socp/socp_client_secret.h"
#include "socp/socp_err.h"
#include "socp/socp_keyfile.h"
#include "socp/socp_platform.h"

#include <errno.h>
#include <fcntl.h>
#include <sodium.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int s_fail(const socp_identity_opts_t *o, int code, const char *fmt, ...) SOCP_PRINTF(3, 4);

static int
s_fail(const socp_identity_opts_t *o, int code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "%s: ", o->who);
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, "\n");
    va_end(ap);
    return code;
}

static int
s_read_small(const char *path, char *buf, size_t size, size_t *len)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        return errno == ENOENT ? SOCP_ENOTFOUND : SOCP_EIO;
    }
    ssize_t n = read(fd, buf, size - 1);
    close(fd);
    if (n < 0) {
        return SOCP_EIO;
    }
    buf[n] = '\0';
    *len = (size_t) n;
    return 0;
}

// Creates `path` (which must not exist) with `data`, durably: the file and
// then its name (the directory) are synced.
static int
s_write_new(const char *path, const char *data)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0) {
        return SOCP_EIO;
    }
    size_t len = strlen(data);
    bool ok = write(fd, data, len) == (ssize_t) len && fsync(fd) == 0;
    ok = close(fd) == 0 && ok;
    return ok && socp_platform_sync_parent(path) == 0 ? 0 : SOCP_EIO;
}

#define S_PASS_MAX (SOCP_CLIENT_SECRET_MAX + 1) // a passphrase buffer, NUL included

// A passphrase buffer in sodium memory (aborts when there is none, as
// socp_malloc does); sodium_free wipes it.
static char *
s_pass_buf(void)
{
    char *p = sodium_malloc(S_PASS_MAX);
    if (!p) {
        abort();
    }
    p[0] = '\0';
    return p;
}

// The passphrase given at start (--passphrase-file or SOCP_PASSPHRASE,
// socp_client_secret), else the configured prompt; 0 and a NUL-terminated
// `out` (S_PASS_MAX bytes), or non-zero if none.
static int
s_pass(const socp_identity_opts_t *o, const char *prompt, char *out)
{
    const char *given = socp_client_secret_passphrase();
    if (given) {
        memcpy(out, given, strlen(given) + 1); // at most SOCP_CLIENT_SECRET_MAX bytes
        return 0;
    }
    return o->pass ? o->pass(prompt, out, S_PASS_MAX, o->pass_arg) : SOCP_EINVAL;
}

static int
s_load(const socp_identity_opts_t *o, const char *key_path, socp_rsa_key_t **key)
{
    bool enc = false;
    const char *why = "";
    if (socp_keyfile_is_encrypted(key_path, &enc, &why) != 0) {
        return s_fail(o, 3, "%s: %s", key_path, why);
    }
    char *pass = s_pass_buf();
    if (enc && s_pass(o, "passphrase for your key: ", pass) != 0) {
        sodium_free(pass);
        return s_fail(o, 3, "%s",
                      o->pass ? "the key is encrypted: type the passphrase, or give "
                                "--passphrase-file or SOCP_PASSPHRASE"
                              : "the key is encrypted: give --passphrase-file or SOCP_PASSPHRASE");
    }
    int rc = socp_keyfile_load(key_path, pass, strlen(pass), key, &why);
    sodium_free(pass); // wipes
    return rc == 0 ? 0 : s_fail(o, 3, "%s: %s", key_path, why);
}

static int
s_import(const socp_identity_opts_t *o, socp_rsa_key_t **key)
{
    char *pem = sodium_malloc(65536);
    size_t n = 0;
    if (!pem || s_read_small(o->import_key, pem, 65536, &n) != 0) {
        sodium_free(pem);
        return s_fail(o, 3, "cannot read the key to import: %s", o->import_key);
    }
    int rc = socp_rsa_private_import((const uint8_t *) pem, n, key);
    sodium_memzero(pem, 65536);
    sodium_free(pem);
    if (rc != 0) {
        return s_fail(o, 3, "%s is not an RSA-4096 private key with e=65537 (PKCS#8/PKCS#1 PEM)",
                      o->import_key);
    }
    return 0;
}

static int
s_save(const socp_identity_opts_t *o, const char *key_path, const socp_rsa_key_t *key)
{
    if (o->plain) {
        return socp_keyfile_save_plain(key_path, key) == 0
                   ? 0
                   : s_fail(o, 3, "cannot save the key to %s", key_path);
    }
    char *pass = s_pass_buf(), *again = s_pass_buf();
    int code = 0;
    if (s_pass(o, "choose a passphrase for your key: ", pass) != 0) {
        code = s_fail(o, 3, "%s",
                      "no passphrase: give --passphrase-file or SOCP_PASSPHRASE, or use "
                      "--plain-key for an unencrypted key");
    } else if (o->confirm && !socp_client_secret_passphrase() &&
               (s_pass(o, "again: ", again) != 0 || strcmp(pass, again) != 0)) {
        code = s_fail(o, 3, "%s", "the passphrases differ");
    } else {
        int rc = socp_keyfile_save(key_path, key, pass, strlen(pass), NULL);
        if (rc != 0) {
            code = s_fail(o, 3, "cannot save the key: %s", socp_strerror(rc));
        }
    }
    sodium_free(pass); // wipes
    sodium_free(again);
    return code;
}

int
socp_client_identity(const socp_identity_opts_t *o,
                     char user_id[SOCP_UUID_BUF],
                     socp_rsa_key_t **key)
{
    char id_path[4200], key_path[4200], buf[256];
    snprintf(id_path, sizeof id_path, "%s/user_id", o->data_dir);
    snprintf(key_path, sizeof key_path, "%s/key", o->data_dir);
    size_t len = 0;
    int rc = s_read_small(id_path, buf, sizeof buf, &len);
    if (rc == 0) {
        while (len && (buf[len - 1] == '\n' || buf[len - 1] == ' ')) {
            buf[--len] = '\0';
        }
        if (!socp_uuid_is_v4(buf, len)) {
            return s_fail(o, 3, "%s is damaged (not a UUID v4)", id_path);
        }
        memcpy(user_id, buf, SOCP_UUID_BUF);
        return s_load(o, key_path, key);
    }
    if (rc != SOCP_ENOTFOUND) {
        return s_fail(o, 3, "cannot read %s", id_path);
    }
    // First run: a key (imported or generated), saved, then the id.
    if (!o->plain && !o->pass && !socp_client_secret_passphrase()) {
        return s_fail(o, 3, "%s",
                      "no identity yet: give --passphrase-file or SOCP_PASSPHRASE, or use "
                      "--plain-key for an unencrypted key");
    }
    if (o->import_key) {
        if ((rc = s_import(o, key)) != 0) {
            return rc;
        }
    } else {
        rc = socp_rsa_generate(o->primes, o->progress, o->progress_arg, key);
        if (o->progress) {
            fprintf(stderr, "\n");
        }
        if (rc != 0) {
            return s_fail(o, 1, "key generation failed: %s", socp_strerror(rc));
        }
    }
    if ((rc = s_save(o, key_path, *key)) != 0) {
        socp_rsa_destroy(key);
        return rc;
    }
    socp_uuid_generate(user_id);
    char line[SOCP_UUID_BUF + 1];
    snprintf(line, sizeof line, "%s\n", user_id);
    if (s_write_new(id_path, line) != 0) {
        socp_rsa_destroy(key);
        return s_fail(o, 3, "cannot write %s", id_path);
    }
    fprintf(stderr, "%s: new identity %s in %s\n", o->who, user_id, o->data_dir);
    return 0;
}
