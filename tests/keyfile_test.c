// keyfile_test.c: private keys at rest (Argon2id + XChaCha20-Poly1305 files).
#include "socp_test.h"

#include "socp/socp_keyfile.h"
#include "socp/socp_rsa.h"

#include <dirent.h>
#include <sodium.h>
#include <sys/stat.h>

static const char s_pass[] = "correct horse battery staple";

// ---- helpers ---------------------------------------------------------------


static void
s_write(const char *path, const void *data, size_t len, mode_t mode)
{
    FILE *f = fopen(path, "wb");
    CHECK(f != NULL);
    CHECK_EQ(fwrite(data, 1, len, f), len);
    CHECK(fclose(f) == 0);
    CHECK(chmod(path, mode) == 0);
}

static socp_rsa_key_t *
s_fixture_key(const char *name)
{
    char dir[4096];
    snprintf(dir, sizeof dir, "%s/tests/fixtures", socp_test_srcdir());
    char *path = socp_test_path(dir, name);
    size_t len = 0;
    uint8_t *pem = socp_test_read_file(path, &len);
    socp_rsa_key_t *key = NULL;
    CHECK_OK(socp_rsa_private_import(pem, len, &key));
    free(pem);
    free(path);
    return key;
}

static unsigned
s_mode(const char *path)
{
    struct stat st;
    CHECK(stat(path, &st) == 0);
    return (unsigned) (st.st_mode & 07777);
}

// Entries in the test's temp dir (to see that no temp file is left behind).
static int
s_dir_entries(void)
{
    DIR *d = opendir(socp_test_tmpdir());
    CHECK(d != NULL);
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0) {
            n++;
        }
    }
    closedir(d);
    return n;
}

static bool
s_contains(const uint8_t *hay, size_t hay_len, const uint8_t *needle, size_t n)
{
    for (size_t i = 0; i + n <= hay_len; i++) {
        if (memcmp(hay + i, needle, n) == 0) {
            return true;
        }
    }
    return false;
}

// The key loaded back is the same key: same public part, same prime count,
// and it signs what the original verifies.
static void
s_check_same(socp_rsa_key_t *orig, socp_rsa_key_t *loaded)
{
    CHECK(socp_rsa_is_private(loaded));
    CHECK(socp_rsa_public_equal(orig, loaded));
    CHECK_EQ(socp_rsa_primes(loaded), socp_rsa_primes(orig));
    uint8_t sig[SOCP_RSA_BYTES];
    CHECK_OK(socp_rsa_sign(loaded, SOCP_RSA_SALT_MAX, "at rest", 7, sig));
    CHECK_OK(socp_rsa_verify(orig, "at rest", 7, sig, sizeof sig));
}

// ---- cases -----------------------------------------------------------------

SOCP_TEST(keyfile_encrypted_round_trip)
{
    socp_rsa_key_t *key = s_fixture_key("rsa4096_4p_a.pem");
    char *path = socp_test_path(socp_test_tmpdir(), "user.key");
    socp_keyfile_cost_t cost = socp_keyfile_cost_test();
    CHECK_OK(socp_keyfile_save(path, key, s_pass, strlen(s_pass), &cost));
    CHECK_EQ(s_mode(path), 0600);
    CHECK_EQ(s_dir_entries(), 1); // the temp file was renamed, not left behind
    bool encrypted = false;
    CHECK_OK(socp_keyfile_is_encrypted(path, &encrypted, NULL));
    CHECK(encrypted);
    const char *why = NULL;
    socp_rsa_key_t *loaded = NULL;
    CHECK_OK(socp_keyfile_load(path, s_pass, strlen(s_pass), &loaded, &why));
    CHECK_STREQ(why, "ok");
    s_check_same(key, loaded);
    // The file does not contain the private key in clear: no 32-byte run of
    // the PKCS#8 DER appears in it.
    uint8_t *der = NULL;
    size_t der_len = 0;
    CHECK_OK(socp_rsa_private_export(key, SOCP_RSA_PRIV_DER, &der, &der_len));
    size_t file_len = 0;
    uint8_t *file = socp_test_read_file(path, &file_len);
    CHECK_MEMEQ(file, "SOCPKEY\0\x01\x01", 10);
    CHECK_EQ(file_len, SOCP_KEYFILE_HEADER_LEN + der_len + 16);
    for (size_t off = 0; off + 32 <= der_len; off += 32) {
        CHECK(!s_contains(file, file_len, der + off, 32));
    }
    // Saving again replaces the file (fresh salt and nonce).
    CHECK_OK(socp_keyfile_save(path, key, s_pass, strlen(s_pass), &cost));
    size_t again_len = 0;
    uint8_t *again = socp_test_read_file(path, &again_len);
    CHECK_EQ(again_len, file_len);
    CHECK(memcmp(again + 32, file + 32, 40) != 0);
    free(again);
    free(file);
    sodium_free(der);
    socp_rsa_destroy(&loaded);
    socp_rsa_destroy(&key);
    free(path);
}

SOCP_TEST(keyfile_default_cost_round_trip)
{
    // The real profile (Argon2id INTERACTIVE, 64 MiB) once, with a 2-prime key.
    socp_rsa_key_t *key = s_fixture_key("rsa4096_2p_a.pem");
    char *path = socp_test_path(socp_test_tmpdir(), "k");
    uint64_t t0 = socp_now_ms();
    CHECK_OK(socp_keyfile_save(path, key, s_pass, strlen(s_pass), NULL));
    socp_rsa_key_t *loaded = NULL;
    CHECK_OK(socp_keyfile_load(path, s_pass, strlen(s_pass), &loaded, NULL));
    if (socp_test_verbose()) {
        printf("    save + load at the default cost: %llu ms\n",
               (unsigned long long) (socp_now_ms() - t0));
    }
    s_check_same(key, loaded);
    size_t len = 0;
    uint8_t *file = socp_test_read_file(path, &len);
    CHECK_EQ(file[23], 2);                // opslimit 2
    CHECK_EQ(file[28] << 24, 0x04000000); // memlimit 64 MiB (0x04000000)
    free(file);
    socp_rsa_destroy(&loaded);
    socp_rsa_destroy(&key);
    free(path);
}

SOCP_TEST(keyfile_wrong_or_missing_passphrase)
{
    socp_rsa_key_t *key = s_fixture_key("rsa4096_4p_b.pem");
    char *path = socp_test_path(socp_test_tmpdir(), "k");
    socp_keyfile_cost_t cost = socp_keyfile_cost_test();
    CHECK_OK(socp_keyfile_save(path, key, s_pass, strlen(s_pass), &cost));
    socp_rsa_key_t *loaded = NULL;
    const char *why = NULL;
    CHECK_RC(socp_keyfile_load(path, "correct horse battery stapler", 29, &loaded, &why),
             SOCP_EAUTH);
    CHECK(loaded == NULL);
    CHECK(strstr(why, "passphrase") != NULL);
    // A prefix of the right passphrase is still wrong.
    CHECK_RC(socp_keyfile_load(path, s_pass, strlen(s_pass) - 1, &loaded, &why), SOCP_EAUTH);
    CHECK_RC(socp_keyfile_load(path, NULL, 0, &loaded, &why), SOCP_EAUTH);
    CHECK(strstr(why, "required") != NULL);
    CHECK_RC(socp_keyfile_load(path, "", 0, &loaded, &why), SOCP_EAUTH);
    CHECK_OK(socp_keyfile_load(path, s_pass, strlen(s_pass), &loaded, &why)); // control
    socp_rsa_destroy(&loaded);
    socp_rsa_destroy(&key);
    free(path);
}

// Saves `key` (encrypted when `encrypted`) and returns the file image.
static uint8_t *
s_image(socp_rsa_key_t *key, bool encrypted, size_t *len)
{
    char *path = socp_test_path(socp_test_tmpdir(), encrypted ? "enc.key" : "plain.key");
    socp_keyfile_cost_t cost = socp_keyfile_cost_test();
    if (encrypted) {
        CHECK_OK(socp_keyfile_save(path, key, s_pass, strlen(s_pass), &cost));
    } else {
        CHECK_OK(socp_keyfile_save_plain(path, key));
    }
    uint8_t *image = socp_test_read_file(path, len);
    free(path);
    return image;
}

SOCP_TEST(keyfile_truncated_or_extended_rejected)
{
    socp_rsa_key_t *key = s_fixture_key("rsa4096_2p_b.pem");
    for (int encrypted = 0; encrypted <= 1; encrypted++) {
        size_t len = 0;
        uint8_t *image = s_image(key, encrypted, &len);
        socp_rsa_key_t *loaded = NULL;
        const char *why = NULL;
        for (size_t cut = 0; cut < len; cut++) {
            int rc = socp_keyfile_decode(image, cut, s_pass, strlen(s_pass), &loaded, &why);
            CHECK_MSG(rc == SOCP_EPROTO, "cut at %zu: %s", cut, socp_errname(rc));
            CHECK(loaded == NULL);
            CHECK(strstr(why, "truncated") != NULL);
        }
        uint8_t *longer = socp_malloc(len + 1);
        memcpy(longer, image, len);
        longer[len] = 0;
        CHECK_RC(socp_keyfile_decode(longer, len + 1, s_pass, strlen(s_pass), &loaded, &why),
                 SOCP_EPROTO);
        CHECK(strstr(why, "trailing") != NULL);
        CHECK_OK(socp_keyfile_decode(image, len, s_pass, strlen(s_pass), &loaded, &why));
        s_check_same(key, loaded);
        socp_rsa_destroy(&loaded);
        // Through the file system too.
        char *path = socp_test_path(socp_test_tmpdir(), "cut.key");
        s_write(path, image, len - 1, 0600);
        CHECK_RC(socp_keyfile_load(path, s_pass, strlen(s_pass), &loaded, &why), SOCP_EPROTO);
        free(path);
        free(longer);
        free(image);
    }
    socp_rsa_destroy(&key);
}

SOCP_TEST(keyfile_every_flipped_byte_rejected)
{
    socp_rsa_key_t *key = s_fixture_key("rsa4096_4p_a.pem");
    static const uint8_t masks[] = {0x01, 0x80};
    for (int encrypted = 0; encrypted <= 1; encrypted++) {
        size_t len = 0;
        uint8_t *image = s_image(key, encrypted, &len);
        int auth = 0, proto = 0;
        for (size_t m = 0; m < SOCP_ARRAY_LEN(masks); m++) {
            // Every byte with the low bit; the header also with the high bit.
            size_t end = m == 0 ? len : SOCP_KEYFILE_HEADER_LEN;
            for (size_t i = 0; i < end; i++) {
                image[i] ^= masks[m];
                socp_rsa_key_t *loaded = NULL;
                const char *why = NULL;
                int rc = socp_keyfile_decode(image, len, s_pass, strlen(s_pass), &loaded, &why);
                image[i] ^= masks[m];
                CHECK_MSG(rc == SOCP_EAUTH || rc == SOCP_EPROTO || rc == SOCP_EVERSION,
                          "%s file, byte %zu ^ 0x%02x: %s (%s)", encrypted ? "encrypted" : "plain",
                          i, masks[m], socp_errname(rc), why);
                CHECK(loaded == NULL);
                // Salt, nonce and ciphertext are covered by the AEAD.
                if (encrypted && i >= 32) {
                    CHECK_MSG(rc == SOCP_EAUTH, "byte %zu: %s", i, socp_errname(rc));
                }
                auth += rc == SOCP_EAUTH;
                proto += rc == SOCP_EPROTO;
            }
        }
        if (socp_test_verbose()) {
            printf("    %s: %zu bytes, %d auth failures, %d format failures\n",
                   encrypted ? "encrypted" : "plain", len, auth, proto);
        }
        CHECK(encrypted ? auth > 0 : auth == 0);
        socp_rsa_key_t *loaded = NULL;
        CHECK_OK(socp_keyfile_decode(image, len, s_pass, strlen(s_pass), &loaded, NULL));
        socp_rsa_destroy(&loaded);
        free(image);
    }
    socp_rsa_destroy(&key);
}

SOCP_TEST(keyfile_group_or_world_access_refused)
{
    socp_rsa_key_t *key = s_fixture_key("rsa4096_2p_a.pem");
    char *path = socp_test_path(socp_test_tmpdir(), "k");
    socp_keyfile_cost_t cost = socp_keyfile_cost_test();
    CHECK_OK(socp_keyfile_save(path, key, s_pass, strlen(s_pass), &cost));
    static const mode_t bad[] = {0644, 0640, 0604, 0660, 0602, 0610};
    socp_rsa_key_t *loaded = NULL;
    const char *why = NULL;
    bool encrypted = false;
    for (size_t i = 0; i < SOCP_ARRAY_LEN(bad); i++) {
        CHECK(chmod(path, bad[i]) == 0);
        int rc = socp_keyfile_load(path, s_pass, strlen(s_pass), &loaded, &why);
        CHECK_MSG(rc == SOCP_EMODE, "mode %o: %s", (unsigned) bad[i], socp_errname(rc));
        CHECK(loaded == NULL);
        CHECK(strstr(why, "chmod 600") != NULL);
        CHECK_RC(socp_keyfile_is_encrypted(path, &encrypted, NULL), SOCP_EMODE);
    }
    CHECK(chmod(path, 0400) == 0); // owner-only read is fine
    CHECK_OK(socp_keyfile_load(path, s_pass, strlen(s_pass), &loaded, &why));
    socp_rsa_destroy(&loaded);
    socp_rsa_destroy(&key);
    free(path);
}

SOCP_TEST(keyfile_created_0600_whatever_the_umask)
{
    socp_rsa_key_t *key = s_fixture_key("rsa4096_4p_b.pem");
    char *path = socp_test_path(socp_test_tmpdir(), "k");
    // A permissive umask and an existing world-readable file at the path.
    umask(0);
    s_write(path, "old", 3, 0666);
    CHECK_OK(socp_keyfile_save_plain(path, key));
    CHECK_EQ(s_mode(path), 0600);
    socp_keyfile_cost_t cost = socp_keyfile_cost_test();
    CHECK_OK(socp_keyfile_save(path, key, "x", 1, &cost));
    CHECK_EQ(s_mode(path), 0600);
    CHECK_EQ(s_dir_entries(), 1);
    socp_rsa_destroy(&key);
    free(path);
}

SOCP_TEST(keyfile_unencrypted_variant)
{
    socp_rsa_key_t *key = s_fixture_key("rsa4096_2p_b.pem");
    char *path = socp_test_path(socp_test_tmpdir(), "plain.key");
    CHECK_OK(socp_keyfile_save_plain(path, key));
    CHECK_EQ(s_mode(path), 0600);
    bool encrypted = true;
    CHECK_OK(socp_keyfile_is_encrypted(path, &encrypted, NULL));
    CHECK(!encrypted);
    socp_rsa_key_t *loaded = NULL;
    CHECK_OK(socp_keyfile_load(path, NULL, 0, &loaded, NULL));
    s_check_same(key, loaded);
    socp_rsa_destroy(&loaded);
    CHECK_OK(socp_keyfile_load(path, "ignored", 7, &loaded, NULL));
    socp_rsa_destroy(&loaded);
    // It really is the plain PKCS#8 DER, flagged as not encrypted.
    uint8_t *der = NULL;
    size_t der_len = 0;
    CHECK_OK(socp_rsa_private_export(key, SOCP_RSA_PRIV_DER, &der, &der_len));
    size_t len = 0;
    uint8_t *file = socp_test_read_file(path, &len);
    CHECK_EQ(file[9], 0);
    CHECK_EQ(len, SOCP_KEYFILE_HEADER_LEN + der_len + 32);
    CHECK_MEMEQ(file + SOCP_KEYFILE_HEADER_LEN, der, der_len);
    free(file);
    sodium_free(der);
    socp_rsa_destroy(&key);
    free(path);
}

SOCP_TEST(keyfile_bad_arguments_and_foreign_files)
{
    socp_rsa_key_t *key = s_fixture_key("rsa4096_4p_a.pem");
    socp_rsa_key_t *pub = NULL;
    CHECK_OK(socp_rsa_public_dup(key, &pub));
    char *path = socp_test_path(socp_test_tmpdir(), "k");
    socp_keyfile_cost_t cost = socp_keyfile_cost_test();
    CHECK_RC(socp_keyfile_save(path, pub, "x", 1, &cost), SOCP_EINVAL);
    CHECK_RC(socp_keyfile_save_plain(path, pub), SOCP_EINVAL);
    CHECK_RC(socp_keyfile_save(path, key, "", 0, &cost), SOCP_EINVAL);
    socp_keyfile_cost_t silly = {0, 1 << 20};
    CHECK_RC(socp_keyfile_save(path, key, "x", 1, &silly), SOCP_EINVAL);
    silly = (socp_keyfile_cost_t){2, SOCP_KEYFILE_MAX_MEM * 2};
    CHECK_RC(socp_keyfile_save(path, key, "x", 1, &silly), SOCP_EINVAL);
    CHECK_EQ(s_dir_entries(), 0); // nothing written
    // Missing file, missing directory, a directory.
    socp_rsa_key_t *loaded = NULL;
    CHECK_RC(socp_keyfile_load(path, "x", 1, &loaded, NULL), SOCP_ENOTFOUND);
    char *nodir = socp_test_path(socp_test_tmpdir(), "no/such/dir/k");
    CHECK_RC(socp_keyfile_save(nodir, key, "x", 1, &cost), SOCP_EIO);
    CHECK_RC(socp_keyfile_load(socp_test_tmpdir(), "x", 1, &loaded, NULL), SOCP_EIO);
    // A PEM key file is not our format.
    char dir[4096];
    snprintf(dir, sizeof dir, "%s/tests/fixtures", socp_test_srcdir());
    char *pem_path = socp_test_path(dir, "rsa4096_4p_a.pem");
    size_t pem_len = 0;
    uint8_t *pem = socp_test_read_file(pem_path, &pem_len);
    const char *why = NULL;
    CHECK_RC(socp_keyfile_decode(pem, pem_len, NULL, 0, &loaded, &why), SOCP_EPROTO);
    CHECK(strstr(why, "magic") != NULL);
    // A future version is reported as such.
    size_t len = 0;
    uint8_t *image = s_image(key, true, &len);
    image[8] = 2;
    CHECK_RC(socp_keyfile_decode(image, len, s_pass, strlen(s_pass), &loaded, &why), SOCP_EVERSION);
    image[8] = 1;
    // A header asking for absurd Argon2id memory is refused before deriving.
    image[24] = 0x01; // memlimit >= 2^56
    CHECK_RC(socp_keyfile_decode(image, len, s_pass, strlen(s_pass), &loaded, &why), SOCP_EPROTO);
    CHECK(strstr(why, "cost") != NULL);
    // A file too large to be a key file.
    char *big = socp_test_path(socp_test_tmpdir(), "big");
    uint8_t *junk = socp_calloc(1, 1 << 20);
    s_write(big, junk, 1 << 20, 0600);
    CHECK_RC(socp_keyfile_load(big, "x", 1, &loaded, NULL), SOCP_EPROTO);
    CHECK(loaded == NULL);
    free(junk);
    free(big);
    free(image);
    free(pem);
    free(pem_path);
    free(nodir);
    free(path);
    socp_rsa_destroy(&pub);
    socp_rsa_destroy(&key);
}

SOCP_TEST(keyfile_committed_v1_files_still_load)
{
    // Format stability: files written by this version (committed fixtures)
    // must keep loading. Git does not keep the mode, so copy them to 0600.
    static const struct {
        const char *file;
        const char *pem;
        const char *pass;
    } cases[] = {{"keyfile_v1_4p_a.key", "rsa4096_4p_a.pem", s_pass},
                 {"keyfile_v1_plain_2p_a.key", "rsa4096_2p_a.pem", NULL}};
    char dir[4096];
    snprintf(dir, sizeof dir, "%s/tests/fixtures", socp_test_srcdir());
    for (size_t i = 0; i < SOCP_ARRAY_LEN(cases); i++) {
        char *src = socp_test_path(dir, cases[i].file);
        size_t len = 0;
        uint8_t *image = socp_test_read_file(src, &len);
        char *dst = socp_test_path(socp_test_tmpdir(), cases[i].file);
        s_write(dst, image, len, 0600);
        socp_rsa_key_t *want = s_fixture_key(cases[i].pem);
        socp_rsa_key_t *loaded = NULL;
        const char *pass = cases[i].pass;
        CHECK_OK(socp_keyfile_load(dst, pass, pass ? strlen(pass) : 0, &loaded, NULL));
        s_check_same(want, loaded);
        socp_rsa_destroy(&loaded);
        socp_rsa_destroy(&want);
        free(image);
        free(dst);
        free(src);
    }
}
