// socp_keyfile.c: private key files sealed with Argon2id + XChaCha20-Poly1305.
// Part of socp, a SOCP v1.3 client and server.
#include "socp/socp_keyfile.h"

#include <errno.h>
#include <fcntl.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "socp/socp_err.h"

#define S_MAGIC        "SOCPKEY" // 7 characters + NUL = 8 bytes on disk
#define S_FLAG_ENCRYPT 0x01u
#define S_KEY_LEN      crypto_aead_xchacha20poly1305_ietf_KEYBYTES
#define S_TAG_LEN      crypto_aead_xchacha20poly1305_ietf_ABYTES
#define S_SALT_LEN     crypto_pwhash_argon2id_SALTBYTES
#define S_NONCE_LEN    crypto_aead_xchacha20poly1305_ietf_NPUBBYTES
#define S_SUM_LEN      32u
#define S_MAX_FILE     (SOCP_KEYFILE_HEADER_LEN + SOCP_KEYFILE_MAX_BODY + S_SUM_LEN)

// Field offsets in the header.
enum {
    S_OFF_MAGIC = 0,
    S_OFF_VERSION = 8,
    S_OFF_FLAGS = 9,
    S_OFF_RESERVED = 10,
    S_OFF_BODY_LEN = 12,
    S_OFF_OPS = 16,
    S_OFF_MEM = 24,
    S_OFF_SALT = 32,
    S_OFF_NONCE = 48,
};
_Static_assert(S_OFF_NONCE + S_NONCE_LEN == SOCP_KEYFILE_HEADER_LEN, "header layout");
_Static_assert(S_SALT_LEN == 16, "salt size");

typedef struct {
    bool encrypted;       // flag bit 0
    uint32_t body_len;    // bytes after the header (without the checksum)
    uint64_t opslimit;    // Argon2id passes
    uint64_t memlimit;    // Argon2id bytes
    const uint8_t *salt;  // S_SALT_LEN bytes inside the file image
    const uint8_t *nonce; // S_NONCE_LEN bytes inside the file image
} s_header_t;

socp_keyfile_cost_t
socp_keyfile_cost_default(void)
{
    return (socp_keyfile_cost_t){crypto_pwhash_argon2id_OPSLIMIT_INTERACTIVE,
                                 crypto_pwhash_argon2id_MEMLIMIT_INTERACTIVE};
}

socp_keyfile_cost_t
socp_keyfile_cost_test(void)
{
    return (socp_keyfile_cost_t){crypto_pwhash_argon2id_OPSLIMIT_MIN,
                                 crypto_pwhash_argon2id_MEMLIMIT_MIN};
}

static bool
s_cost_ok(uint64_t ops, uint64_t mem)
{
    return ops >= crypto_pwhash_argon2id_OPSLIMIT_MIN && ops <= SOCP_KEYFILE_MAX_OPS &&
           mem >= crypto_pwhash_argon2id_MEMLIMIT_MIN && mem <= SOCP_KEYFILE_MAX_MEM &&
           mem <= SIZE_MAX;
}

static void
s_put_be(uint8_t *p, uint64_t v, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        p[n - 1 - i] = (uint8_t) (v >> (8 * i));
    }
}

static uint64_t
s_get_be(const uint8_t *p, size_t n)
{
    uint64_t v = 0;
    for (size_t i = 0; i < n; i++) {
        v = (v << 8) | p[i];
    }
    return v;
}

static void *
s_secure_alloc(size_t n)
{
    void *p = sodium_malloc(n ? n : 1);
    if (!p) {
        abort(); // out of memory: same policy as socp_malloc
    }
    return p;
}

static int
s_fail(const char **why, const char *text, int code)
{
    if (why) {
        *why = text;
    }
    return code;
}

// ---- writing ---------------------------------------------------------------

// Writes all bytes, retrying on EINTR and short writes.
static bool
s_write_all(int fd, const uint8_t *data, size_t len)
{
    while (len > 0) {
        ssize_t n = write(fd, data, len);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n <= 0) {
            return false;
        }
        data += n;
        len -= (size_t) n;
    }
    return true;
}

// Makes the rename durable by syncing the directory holding `path`.
static bool
s_sync_dir(const char *path)
{
    const char *slash = strrchr(path, '/');
    char *dir = slash ? socp_strdup(path) : socp_strdup(".");
    if (slash) {
        dir[slash == path ? 1 : (size_t) (slash - path)] = '\0';
    }
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    free(dir);
    if (fd < 0) {
        return false;
    }
    bool ok = fsync(fd) == 0;
    close(fd);
    return ok;
}

// Atomically replaces `path` with `data`, mode 0600.
static int
s_write_atomic(const char *path, const uint8_t *data, size_t len)
{
    size_t n = strlen(path) + sizeof ".tmp-XXXXXX";
    char *tmp = socp_malloc(n);
    snprintf(tmp, n, "%s.tmp-XXXXXX", path);
    int fd = mkstemp(tmp);
    if (fd < 0) {
        free(tmp);
        return SOCP_EIO;
    }
    bool ok = fchmod(fd, S_IRUSR | S_IWUSR) == 0 && s_write_all(fd, data, len) && fsync(fd) == 0;
    if (close(fd) != 0) {
        ok = false;
    }
    if (ok && rename(tmp, path) != 0) {
        ok = false;
    }
    if (!ok) {
        unlink(tmp);
        free(tmp);
        return SOCP_EIO;
    }
    free(tmp);
    return s_sync_dir(path) ? 0 : SOCP_EIO;
}

// Builds the file image (in sodium memory) and writes it.
static int
s_save(const char *path,
       const socp_rsa_key_t *key,
       const char *pass,
       size_t pass_len,
       const socp_keyfile_cost_t *cost)
{
    if (sodium_init() < 0) {
        return SOCP_EINIT;
    }
    uint8_t *der = NULL;
    size_t der_len = 0;
    int rc = socp_rsa_private_export(key, SOCP_RSA_PRIV_DER, &der, &der_len);
    if (rc != 0) {
        return rc == SOCP_EINVAL ? SOCP_EINVAL : SOCP_ECRYPTO;
    }
    bool encrypt = cost != NULL;
    size_t body_len = encrypt ? der_len + S_TAG_LEN : der_len;
    if (body_len > SOCP_KEYFILE_MAX_BODY) {
        sodium_free(der);
        return SOCP_ECRYPTO;
    }
    size_t file_len = SOCP_KEYFILE_HEADER_LEN + body_len + (encrypt ? 0 : S_SUM_LEN);
    uint8_t *file = s_secure_alloc(file_len);
    memset(file, 0, SOCP_KEYFILE_HEADER_LEN);
    memcpy(file + S_OFF_MAGIC, S_MAGIC, sizeof S_MAGIC);
    file[S_OFF_VERSION] = SOCP_KEYFILE_VERSION;
    file[S_OFF_FLAGS] = encrypt ? S_FLAG_ENCRYPT : 0;
    s_put_be(file + S_OFF_BODY_LEN, body_len, 4);
    uint8_t *body = file + SOCP_KEYFILE_HEADER_LEN;
    rc = 0;
    if (encrypt) {
        s_put_be(file + S_OFF_OPS, cost->opslimit, 8);
        s_put_be(file + S_OFF_MEM, cost->memlimit, 8);
        randombytes_buf(file + S_OFF_SALT, S_SALT_LEN);
        randombytes_buf(file + S_OFF_NONCE, S_NONCE_LEN);
        uint8_t *k = s_secure_alloc(S_KEY_LEN);
        if (crypto_pwhash(k, S_KEY_LEN, pass, pass_len, file + S_OFF_SALT, cost->opslimit,
                          (size_t) cost->memlimit, crypto_pwhash_ALG_ARGON2ID13) != 0) {
            rc = SOCP_ECRYPTO;
        } else {
            unsigned long long clen = 0;
            crypto_aead_xchacha20poly1305_ietf_encrypt(body, &clen, der, der_len, file,
                                                       SOCP_KEYFILE_HEADER_LEN, NULL,
                                                       file + S_OFF_NONCE, k);
            rc = clen == body_len ? 0 : SOCP_ECRYPTO;
        }
        sodium_free(k);
    } else {
        memcpy(body, der, der_len);
        crypto_generichash(body + body_len, S_SUM_LEN, file, SOCP_KEYFILE_HEADER_LEN + body_len,
                           NULL, 0);
    }
    sodium_free(der);
    if (rc == 0) {
        rc = s_write_atomic(path, file, file_len);
    }
    sodium_free(file);
    return rc;
}

int
socp_keyfile_save(const char *path,
                  const socp_rsa_key_t *key,
                  const char *pass,
                  size_t pass_len,
                  const socp_keyfile_cost_t *cost)
{
    socp_keyfile_cost_t def = socp_keyfile_cost_default();
    if (!cost) {
        cost = &def;
    }
    if (!pass || pass_len == 0 || !s_cost_ok(cost->opslimit, cost->memlimit) ||
        !socp_rsa_is_private(key)) {
        return SOCP_EINVAL;
    }
    return s_save(path, key, pass, pass_len, cost);
}

int
socp_keyfile_save_plain(const char *path, const socp_rsa_key_t *key)
{
    if (!socp_rsa_is_private(key)) {
        return SOCP_EINVAL;
    }
    return s_save(path, key, NULL, 0, NULL);
}

// ---- reading ---------------------------------------------------------------

static bool
s_all_zero(const uint8_t *p, size_t n)
{
    uint8_t acc = 0;
    for (size_t i = 0; i < n; i++) {
        acc |= p[i];
    }
    return acc == 0;
}

// Parses and checks the header and the overall length.
static int
s_header(const uint8_t *data, size_t len, s_header_t *h, const char **why)
{
    memset(h, 0, sizeof *h);
    if (len < SOCP_KEYFILE_HEADER_LEN) {
        return s_fail(why, "key file truncated: shorter than its header", SOCP_EPROTO);
    }
    if (memcmp(data + S_OFF_MAGIC, S_MAGIC, sizeof S_MAGIC) != 0) {
        return s_fail(why, "not a socp key file (bad magic)", SOCP_EPROTO);
    }
    if (data[S_OFF_VERSION] != SOCP_KEYFILE_VERSION) {
        return s_fail(why, "unsupported key file version", SOCP_EVERSION);
    }
    if ((data[S_OFF_FLAGS] & ~S_FLAG_ENCRYPT) != 0 || data[S_OFF_RESERVED] != 0 ||
        data[S_OFF_RESERVED + 1] != 0) {
        return s_fail(why, "key file header has unknown flags", SOCP_EPROTO);
    }
    h->encrypted = (data[S_OFF_FLAGS] & S_FLAG_ENCRYPT) != 0;
    h->body_len = (uint32_t) s_get_be(data + S_OFF_BODY_LEN, 4);
    h->opslimit = s_get_be(data + S_OFF_OPS, 8);
    h->memlimit = s_get_be(data + S_OFF_MEM, 8);
    h->salt = data + S_OFF_SALT;
    h->nonce = data + S_OFF_NONCE;
    if (h->body_len > SOCP_KEYFILE_MAX_BODY || (h->encrypted && h->body_len <= S_TAG_LEN) ||
        h->body_len == 0) {
        return s_fail(why, "key file header has an impossible body length", SOCP_EPROTO);
    }
    size_t want = SOCP_KEYFILE_HEADER_LEN + h->body_len + (h->encrypted ? 0 : S_SUM_LEN);
    if (len < want) {
        return s_fail(why, "key file truncated", SOCP_EPROTO);
    }
    if (len > want) {
        return s_fail(why, "key file has trailing bytes", SOCP_EPROTO);
    }
    if (h->encrypted && !s_cost_ok(h->opslimit, h->memlimit)) {
        return s_fail(why, "key file asks for an Argon2id cost out of range", SOCP_EPROTO);
    }
    if (!h->encrypted && (h->opslimit != 0 || h->memlimit != 0 ||
                          !s_all_zero(data + S_OFF_SALT, S_SALT_LEN + S_NONCE_LEN))) {
        return s_fail(why, "unencrypted key file has encryption parameters", SOCP_EPROTO);
    }
    return 0;
}

int
socp_keyfile_decode(const uint8_t *data,
                    size_t len,
                    const char *pass,
                    size_t pass_len,
                    socp_rsa_key_t **out,
                    const char **why)
{
    *out = NULL;
    s_fail(why, "ok", 0);
    if (sodium_init() < 0) {
        return s_fail(why, "libsodium failed to initialise", SOCP_EINIT);
    }
    s_header_t h;
    int rc = s_header(data, len, &h, why);
    if (rc != 0) {
        return rc;
    }
    const uint8_t *body = data + SOCP_KEYFILE_HEADER_LEN;
    if (!h.encrypted) {
        uint8_t sum[S_SUM_LEN];
        crypto_generichash(sum, sizeof sum, data, SOCP_KEYFILE_HEADER_LEN + h.body_len, NULL, 0);
        if (sodium_memcmp(sum, body + h.body_len, S_SUM_LEN) != 0) {
            return s_fail(why, "key file corrupted: checksum mismatch", SOCP_EPROTO);
        }
        rc = socp_rsa_private_import(body, h.body_len, out);
        return rc == 0 ? 0 : s_fail(why, "key file does not hold a valid RSA-4096 key", rc);
    }
    if (!pass || pass_len == 0) {
        return s_fail(why, "key file is encrypted: a passphrase is required", SOCP_EAUTH);
    }
    uint8_t *k = s_secure_alloc(S_KEY_LEN);
    if (crypto_pwhash(k, S_KEY_LEN, pass, pass_len, h.salt, h.opslimit, (size_t) h.memlimit,
                      crypto_pwhash_ALG_ARGON2ID13) != 0) {
        sodium_free(k);
        return s_fail(why, "passphrase key derivation failed (out of memory?)", SOCP_ECRYPTO);
    }
    size_t der_cap = h.body_len - S_TAG_LEN;
    uint8_t *der = s_secure_alloc(der_cap);
    unsigned long long der_len = 0;
    if (crypto_aead_xchacha20poly1305_ietf_decrypt(der, &der_len, NULL, body, h.body_len, data,
                                                   SOCP_KEYFILE_HEADER_LEN, h.nonce, k) != 0) {
        rc = s_fail(why, "wrong passphrase, or the key file was tampered with", SOCP_EAUTH);
    } else {
        rc = socp_rsa_private_import(der, (size_t) der_len, out);
        if (rc != 0) {
            rc = s_fail(why, "key file does not hold a valid RSA-4096 key", rc);
        }
    }
    sodium_free(der);
    sodium_free(k);
    return rc;
}

// Reads the whole file into sodium memory after checking type and mode.
static int
s_read_file(const char *path, uint8_t **data, size_t *len, const char **why)
{
    *data = NULL;
    *len = 0;
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
    if (fd < 0) {
        return errno == ENOENT ? s_fail(why, "key file not found", SOCP_ENOTFOUND)
                               : s_fail(why, "cannot open key file", SOCP_EIO);
    }
    struct stat st;
    int rc = 0;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        rc = s_fail(why, "key file is not a regular file", SOCP_EIO);
    } else if ((st.st_mode & (S_IRWXG | S_IRWXO)) != 0) {
        rc = s_fail(why, "key file is accessible by group or others (chmod 600 it)", SOCP_EMODE);
    } else if (st.st_size > (off_t) S_MAX_FILE) {
        rc = s_fail(why, "key file too large", SOCP_EPROTO);
    }
    if (rc != 0) {
        close(fd);
        return rc;
    }
    size_t size = (size_t) st.st_size;
    uint8_t *buf = s_secure_alloc(size);
    size_t got = 0;
    while (got < size) {
        ssize_t n = read(fd, buf + got, size - got);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n <= 0) {
            break;
        }
        got += (size_t) n;
    }
    close(fd);
    if (got != size) {
        sodium_free(buf);
        return s_fail(why, "cannot read key file", SOCP_EIO);
    }
    *data = buf;
    *len = size;
    return 0;
}

int
socp_keyfile_load(const char *path,
                  const char *pass,
                  size_t pass_len,
                  socp_rsa_key_t **out,
                  const char **why)
{
    *out = NULL;
    s_fail(why, "ok", 0);
    if (sodium_init() < 0) {
        return s_fail(why, "libsodium failed to initialise", SOCP_EINIT);
    }
    uint8_t *data = NULL;
    size_t len = 0;
    int rc = s_read_file(path, &data, &len, why);
    if (rc == 0) {
        rc = socp_keyfile_decode(data, len, pass, pass_len, out, why);
        sodium_free(data);
    }
    return rc;
}

int
socp_keyfile_is_encrypted(const char *path, bool *encrypted, const char **why)
{
    *encrypted = false;
    s_fail(why, "ok", 0);
    if (sodium_init() < 0) {
        return s_fail(why, "libsodium failed to initialise", SOCP_EINIT);
    }
    uint8_t *data = NULL;
    size_t len = 0;
    int rc = s_read_file(path, &data, &len, why);
    if (rc != 0) {
        return rc;
    }
    s_header_t h;
    rc = s_header(data, len, &h, why);
    sodium_free(data);
    if (rc == 0) {
        *encrypted = h.encrypted;
    }
    return rc;
}
