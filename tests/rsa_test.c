// rsa_test.c: RSA-4096 keys, OAEP and PSS, checked against pyca/cryptography.
#include "socp_test.h"

#include "socp/socp_b64.h"
#include "socp/socp_rsa.h"

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/decoder.h>
#include <openssl/encoder.h>
#include <openssl/evp.h>
#include <openssl/rsa.h>
#include <sodium.h>

// ---- helpers ---------------------------------------------------------------


static char *
s_tmp(const char *name)
{
    return socp_test_path(socp_test_tmpdir(), name);
}

// Reads a whole file (NUL-terminated for convenience); fails the test if absent.

static void
s_write(const char *path, const void *data, size_t len)
{
    FILE *f = fopen(path, "wb");
    CHECK(f != NULL);
    CHECK_EQ(fwrite(data, 1, len, f), len);
    CHECK(fclose(f) == 0);
}

static socp_rsa_key_t *
s_private(const char *name)
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

static socp_rsa_key_t *
s_public_file(const char *path)
{
    size_t len = 0;
    char *text = (char *) socp_test_read_file(path, &len);
    socp_rsa_key_t *key = NULL;
    int rc = socp_rsa_public_import(text, len, &key);
    CHECK_MSG(rc == 0, "importing %s: %s", path, socp_errname(rc));
    free(text);
    return key;
}

// Runs tests/py/crypto_rsa.py with up to 5 arguments; returns its exit code.
static int
s_py(const char *a, const char *b, const char *c, const char *d, const char *e)
{
    const char *args[] = {a, b, c, d, e, NULL};
    char out[4096];
    int rc = socp_test_python("crypto_rsa.py", args, out, sizeof out);
    CHECK_MSG(rc == 0 || rc == 1, "crypto_rsa.py %s could not run (status %d)", a, rc);
    return rc;
}

static const char *const s_keys[] = {"rsa4096_4p_a.pem", "rsa4096_2p_a.pem"};

// ---- generation ------------------------------------------------------------

typedef struct {
    int calls;
    int primes_done; // phase-3 events (a prime may be redrawn, so >= primes)
    int last_prime;  // highest prime index reported by phase 3
    int cancel_after;
} s_progress_t;

static bool
s_progress(int phase, int n, void *arg)
{
    s_progress_t *p = arg;
    p->calls++;
    if (phase == 3) {
        p->primes_done++;
        p->last_prime = n > p->last_prime ? n : p->last_prime;
    }
    return p->cancel_after == 0 || p->calls < p->cancel_after;
}

// Counts the prime factors of a PKCS#8 DER key through OpenSSL directly, so
// the check does not rely on socp_rsa_primes.
static unsigned
s_count_factors(const uint8_t *der, size_t len)
{
    EVP_PKEY *pkey = NULL;
    OSSL_DECODER_CTX *d = OSSL_DECODER_CTX_new_for_pkey(&pkey, "DER", "PrivateKeyInfo", "RSA",
                                                        EVP_PKEY_KEYPAIR, NULL, NULL);
    CHECK(d != NULL);
    CHECK(OSSL_DECODER_from_data(d, &der, &len) == 1);
    OSSL_DECODER_CTX_free(d);
    CHECK_EQ(EVP_PKEY_get_bits(pkey), 4096);
    static const char *const names[] = {OSSL_PKEY_PARAM_RSA_FACTOR1, OSSL_PKEY_PARAM_RSA_FACTOR2,
                                        OSSL_PKEY_PARAM_RSA_FACTOR3, OSSL_PKEY_PARAM_RSA_FACTOR4,
                                        OSSL_PKEY_PARAM_RSA_FACTOR5};
    unsigned count = 0;
    for (size_t i = 0; i < SOCP_ARRAY_LEN(names); i++) {
        BIGNUM *bn = NULL;
        if (EVP_PKEY_get_bn_param(pkey, names[i], &bn) == 1) {
            CHECK(BN_num_bits(bn) >= 1000); // each prime is about 4096 / primes bits
            count++;
        }
        BN_free(bn);
    }
    EVP_PKEY_free(pkey);
    return count;
}

static void
s_check_generated(socp_rsa_key_t *key, unsigned primes)
{
    CHECK(socp_rsa_is_private(key));
    CHECK_EQ(socp_rsa_bits(key), 4096);
    CHECK_EQ(socp_rsa_primes(key), primes);
    uint8_t *der = NULL;
    size_t der_len = 0;
    CHECK_OK(socp_rsa_private_export(key, SOCP_RSA_PRIV_DER, &der, &der_len));
    CHECK_EQ(s_count_factors(der, der_len), primes);
    sodium_free(der);
    // The exported public key is an ordinary (n, e) key that imports cleanly.
    char *pub_text = NULL;
    CHECK_OK(socp_rsa_public_export(key, SOCP_RSA_PUB_B64_DER, &pub_text));
    socp_rsa_key_t *pub = NULL;
    CHECK_OK(socp_rsa_public_import(pub_text, strlen(pub_text), &pub));
    uint8_t sig[SOCP_RSA_BYTES];
    CHECK_OK(socp_rsa_sign(key, SOCP_RSA_SALT_MAX, "hello", 5, sig));
    CHECK_OK(socp_rsa_verify(pub, "hello", 5, sig, sizeof sig));
    socp_rsa_destroy(&pub);
    free(pub_text);
}

SOCP_TEST_T(rsa_generate_four_primes_by_default_profile, 120)
{
    s_progress_t progress = {0};
    socp_rsa_key_t *key = NULL;
    CHECK_OK(socp_rsa_generate(4, s_progress, &progress, &key));
    s_check_generated(key, 4);
    CHECK(progress.calls > 0);
    // A progress bar can follow the primes found: indexes 0..3 are reported.
    CHECK(progress.primes_done >= 4);
    CHECK_EQ(progress.last_prime, 3);
    if (socp_test_verbose()) {
        printf("    4-prime keygen: %d progress calls\n", progress.calls);
    }
    socp_rsa_destroy(&key);
    CHECK(key == NULL);
    socp_rsa_destroy(&key); // idempotent
}

SOCP_TEST_T(rsa_generate_two_primes_on_request, 120)
{
    s_progress_t progress = {0};
    socp_rsa_key_t *key = NULL;
    CHECK_OK(socp_rsa_generate(2, s_progress, &progress, &key));
    s_check_generated(key, 2);
    CHECK(progress.calls > 0);
    socp_rsa_destroy(&key);
}

SOCP_TEST(rsa_generate_cancel_and_bad_prime_counts)
{
    socp_rsa_key_t *key = NULL;
    s_progress_t progress = {.cancel_after = 3};
    CHECK_RC(socp_rsa_generate(4, s_progress, &progress, &key), SOCP_ETERM);
    CHECK(key == NULL);
    CHECK_EQ(progress.calls, 3);
    CHECK_RC(socp_rsa_generate(1, NULL, NULL, &key), SOCP_EINVAL);
    CHECK_RC(socp_rsa_generate(5, NULL, NULL, &key), SOCP_EINVAL);
    CHECK(key == NULL);
}

// ---- import / export -------------------------------------------------------

SOCP_TEST(rsa_fixture_keys_import_with_their_prime_counts)
{
    static const struct {
        const char *name;
        unsigned primes;
    } cases[] = {{"rsa4096_4p_a.pem", 4},
                 {"rsa4096_4p_b.pem", 4},
                 {"rsa4096_2p_a.pem", 2},
                 {"rsa4096_2p_b.pem", 2}};
    for (size_t i = 0; i < SOCP_ARRAY_LEN(cases); i++) {
        socp_rsa_key_t *key = s_private(cases[i].name);
        CHECK_EQ(socp_rsa_primes(key), cases[i].primes);
        CHECK_EQ(socp_rsa_bits(key), 4096);
        CHECK(socp_rsa_is_private(key));
        // PKCS#8 DER and PEM exports re-import to the same key and prime count.
        for (int fmt = SOCP_RSA_PRIV_DER; fmt <= SOCP_RSA_PRIV_PEM; fmt++) {
            uint8_t *enc = NULL;
            size_t enc_len = 0;
            CHECK_OK(socp_rsa_private_export(key, (socp_rsa_priv_format_t) fmt, &enc, &enc_len));
            if (fmt == SOCP_RSA_PRIV_PEM) {
                CHECK(strncmp((char *) enc, "-----BEGIN PRIVATE KEY-----", 27) == 0);
                CHECK_EQ(strlen((char *) enc), enc_len);
            }
            socp_rsa_key_t *again = NULL;
            CHECK_OK(socp_rsa_private_import(enc, enc_len, &again));
            CHECK_EQ(socp_rsa_primes(again), cases[i].primes);
            CHECK(socp_rsa_public_equal(key, again));
            socp_rsa_destroy(&again);
            sodium_free(enc);
        }
        socp_rsa_destroy(&key);
    }
    socp_rsa_key_t *a = s_private("rsa4096_4p_a.pem");
    socp_rsa_key_t *b = s_private("rsa4096_4p_b.pem");
    CHECK(!socp_rsa_public_equal(a, b));
    socp_rsa_key_t *pub = NULL;
    CHECK_OK(socp_rsa_public_dup(a, &pub));
    CHECK(!socp_rsa_is_private(pub));
    CHECK_EQ(socp_rsa_primes(pub), 0);
    CHECK(socp_rsa_public_equal(a, pub));
    uint8_t *enc = NULL;
    size_t enc_len = 0;
    CHECK_RC(socp_rsa_private_export(pub, SOCP_RSA_PRIV_DER, &enc, &enc_len), SOCP_EINVAL);
    CHECK(enc == NULL);
    socp_rsa_destroy(&pub);
    socp_rsa_destroy(&a);
    socp_rsa_destroy(&b);
}

SOCP_TEST(rsa_public_export_forms_reimport)
{
    socp_rsa_key_t *key = s_private("rsa4096_4p_a.pem");
    char *der_b64 = NULL, *pem_b64 = NULL, *pem = NULL;
    CHECK_OK(socp_rsa_public_export(key, SOCP_RSA_PUB_B64_DER, &der_b64));
    CHECK_OK(socp_rsa_public_export(key, SOCP_RSA_PUB_B64_PEM, &pem_b64));
    CHECK_OK(socp_rsa_public_export(key, SOCP_RSA_PUB_PEM, &pem));
    CHECK_EQ(strlen(der_b64), 734); // 550 bytes of DER SPKI, as the profile says
    CHECK(strpbrk(der_b64, "+/=") == NULL);
    CHECK(strpbrk(pem_b64, "+/=") == NULL);
    CHECK(strncmp(pem, "-----BEGIN PUBLIC KEY-----\n", 27) == 0);
    const char *forms[] = {der_b64, pem_b64, pem};
    for (size_t i = 0; i < SOCP_ARRAY_LEN(forms); i++) {
        socp_rsa_key_t *pub = NULL;
        CHECK_OK(socp_rsa_public_import(forms[i], strlen(forms[i]), &pub));
        CHECK(socp_rsa_public_equal(key, pub));
        CHECK(!socp_rsa_is_private(pub));
        socp_rsa_destroy(&pub);
    }
    // Surrounding whitespace (a pasted key) is ignored.
    size_t n = strlen(der_b64) + 8;
    char *padded = socp_malloc(n);
    snprintf(padded, n, "  %s\r\n", der_b64);
    socp_rsa_key_t *pub = NULL;
    CHECK_OK(socp_rsa_public_import(padded, strlen(padded), &pub));
    CHECK(socp_rsa_public_equal(key, pub));
    socp_rsa_destroy(&pub);
    CHECK_RC(socp_rsa_public_export(key, (socp_rsa_pub_format_t) 9, &padded), SOCP_EINVAL);
    CHECK(padded == NULL);
    free(der_b64);
    free(pem_b64);
    free(pem);
    socp_rsa_destroy(&key);
}

SOCP_TEST(rsa_python_exports_import)
{
    char *priv = socp_test_fixture("rsa4096_4p_b.pem");
    CHECK_EQ(s_py("exportpub", priv, socp_test_tmpdir(), NULL, NULL), 0);
    socp_rsa_key_t *key = s_private("rsa4096_4p_b.pem");
    static const char *const files[] = {
        "spki_std_padded", "spki_url", "pkcs1_url",      "pkcs1_std_padded", "pem",
        "pkcs1_pem",       "pem_url",  "pem_std_padded", "pkcs1_pem_url"};
    for (size_t i = 0; i < SOCP_ARRAY_LEN(files); i++) {
        char *path = s_tmp(files[i]);
        socp_rsa_key_t *pub = s_public_file(path);
        CHECK_MSG(socp_rsa_public_equal(key, pub), "%s: different key", files[i]);
        socp_rsa_destroy(&pub);
        free(path);
    }
    socp_rsa_destroy(&key);
    free(priv);
}

SOCP_TEST(rsa_our_public_exports_load_in_python)
{
    static const struct {
        socp_rsa_pub_format_t fmt;
        const char *name;
    } forms[] = {{SOCP_RSA_PUB_B64_DER, "b64der"},
                 {SOCP_RSA_PUB_B64_PEM, "b64pem"},
                 {SOCP_RSA_PUB_PEM, "pem"}};
    for (size_t k = 0; k < SOCP_ARRAY_LEN(s_keys); k++) {
        socp_rsa_key_t *key = s_private(s_keys[k]);
        char *priv = socp_test_fixture(s_keys[k]);
        char *other = socp_test_fixture("rsa4096_2p_b.pem");
        for (size_t i = 0; i < SOCP_ARRAY_LEN(forms); i++) {
            char *text = NULL;
            CHECK_OK(socp_rsa_public_export(key, forms[i].fmt, &text));
            char *path = s_tmp(forms[i].name);
            s_write(path, text, strlen(text));
            CHECK_MSG(s_py("loadpub", path, forms[i].name, priv, NULL) == 0, "%s %s", s_keys[k],
                      forms[i].name);
            // The check itself can fail: a different key's numbers do not match.
            CHECK(s_py("loadpub", path, forms[i].name, other, NULL) == 1);
            free(path);
            free(text);
        }
        free(other);
        free(priv);
        socp_rsa_destroy(&key);
    }
}

// Imports `text` and expects SOCP_EBADKEY.
static void
s_reject(const char *what, const char *text, size_t len)
{
    socp_rsa_key_t *key = NULL;
    int rc = socp_rsa_public_import(text, len, &key);
    CHECK_MSG(rc == SOCP_EBADKEY, "%s: expected SOCP_EBADKEY, got %s", what, socp_errname(rc));
    CHECK(key == NULL);
}

// The base64url of the DER inside a PEM file's body.
static char *
s_pem_to_b64url(const char *pem)
{
    socp_buf_t body;
    socp_buf_init(&body);
    const char *p = strchr(pem, '\n') + 1;
    const char *end = strstr(p, "-----END");
    for (; p < end; p++) {
        if (*p != '\n') {
            char c = *p == '+' ? '-' : *p == '/' ? '_' : *p;
            if (c != '=') {
                socp_buf_append(&body, &c, 1);
            }
        }
    }
    socp_buf_append(&body, "", 1);
    return (char *) body.data;
}

SOCP_TEST(rsa_public_import_rejects_weak_and_malformed_keys)
{
    static const char *const weak[] = {"rsa1024_pub.pem", "rsa2048_pub.pem", "rsa8192_pub.pem",
                                       "rsa4096_e3_pub.pem"};
    for (size_t i = 0; i < SOCP_ARRAY_LEN(weak); i++) {
        char *path = socp_test_fixture(weak[i]);
        size_t len = 0;
        char *pem = (char *) socp_test_read_file(path, &len);
        s_reject(weak[i], pem, len);
        char *b64 = s_pem_to_b64url(pem);
        s_reject(weak[i], b64, strlen(b64));
        free(b64);
        free(pem);
        free(path);
    }
    // A good key to damage.
    socp_rsa_key_t *key = s_private("rsa4096_2p_a.pem");
    char *good = NULL;
    CHECK_OK(socp_rsa_public_export(key, SOCP_RSA_PUB_B64_DER, &good));
    socp_rsa_key_t *ok = NULL;
    CHECK_OK(socp_rsa_public_import(good, strlen(good), &ok)); // the control
    socp_rsa_destroy(&ok);
    size_t n = strlen(good);
    s_reject("empty", "", 0);
    s_reject("blank", "  \n", 3);
    s_reject("garbage", "hello, world!", 13);
    s_reject("truncated DER", good, n - 40);
    char *mixed = socp_strdup(good);
    mixed[10] = '-';
    mixed[20] = '+';
    s_reject("mixed base64 alphabets", mixed, n);
    mixed[20] = '*';
    s_reject("bad character", mixed, n);
    free(mixed);
    // Valid DER followed by trailing bytes.
    uint8_t *der = NULL;
    size_t der_len = 0;
    CHECK_OK(socp_b64_decode(good, n, 4096, &der, &der_len));
    uint8_t *longer = socp_malloc(der_len + 3);
    memcpy(longer, der, der_len);
    memcpy(longer + der_len, "\x00\x01\x02", 3);
    char *trail = NULL;
    CHECK_OK(socp_b64_encode(longer, der_len + 3, &trail));
    s_reject("DER with trailing bytes", trail, strlen(trail));
    // A flipped byte inside the modulus length field.
    der[6] ^= 0x40;
    char *bad = NULL;
    CHECK_OK(socp_b64_encode(der, der_len, &bad));
    s_reject("corrupted DER", bad, strlen(bad));
    // Random bytes, base64url-encoded.
    uint8_t noise[550];
    randombytes_buf(noise, sizeof noise);
    char *noise_b64 = NULL;
    CHECK_OK(socp_b64_encode(noise, sizeof noise, &noise_b64));
    s_reject("random bytes", noise_b64, strlen(noise_b64));
    // A private key is not a public key.
    char *priv_path = socp_test_fixture("rsa4096_2p_a.pem");
    size_t priv_len = 0;
    char *priv = (char *) socp_test_read_file(priv_path, &priv_len);
    s_reject("private key PEM", priv, priv_len);
    // An encrypted PKCS#8 key is refused by both importers (never a prompt).
    char *enc_path = socp_test_fixture("rsa4096_2p_a_encrypted.pem");
    size_t enc_len = 0;
    char *enc = (char *) socp_test_read_file(enc_path, &enc_len);
    s_reject("encrypted private key PEM", enc, enc_len);
    socp_rsa_key_t *enc_key = NULL;
    CHECK_RC(socp_rsa_private_import((const uint8_t *) enc, enc_len, &enc_key), SOCP_EBADKEY);
    CHECK(enc_key == NULL);
    free(enc);
    free(enc_path);
    // Oversized input.
    char *huge = socp_malloc(SOCP_RSA_IMPORT_MAX + 2);
    memset(huge, 'A', SOCP_RSA_IMPORT_MAX + 1);
    huge[SOCP_RSA_IMPORT_MAX + 1] = '\0';
    s_reject("oversized", huge, SOCP_RSA_IMPORT_MAX + 1);
    // Private import rejects garbage and weak keys too.
    socp_rsa_key_t *pk = NULL;
    CHECK_RC(socp_rsa_private_import((const uint8_t *) "junk", 4, &pk), SOCP_EBADKEY);
    CHECK_RC(socp_rsa_private_import(noise, sizeof noise, &pk), SOCP_EBADKEY);
    char *pub_pem_path = socp_test_fixture("rsa1024_pub.pem");
    size_t pub_pem_len = 0;
    uint8_t *pub_pem = socp_test_read_file(pub_pem_path, &pub_pem_len);
    CHECK_RC(socp_rsa_private_import(pub_pem, pub_pem_len, &pk), SOCP_EBADKEY);
    CHECK(pk == NULL);
    free(pub_pem);
    free(pub_pem_path);
    free(huge);
    free(priv);
    free(priv_path);
    free(noise_b64);
    free(bad);
    free(trail);
    free(longer);
    free(der);
    free(good);
    socp_rsa_destroy(&key);
}

SOCP_TEST(rsa_private_import_rejects_weak_generated_key)
{
    // A 2048-bit private key generated here must be refused by the importer.
    EVP_PKEY *pkey = EVP_RSA_gen(2048);
    CHECK(pkey != NULL);
    OSSL_ENCODER_CTX *e =
        OSSL_ENCODER_CTX_new_for_pkey(pkey, EVP_PKEY_KEYPAIR, "DER", "PrivateKeyInfo", NULL);
    unsigned char *der = NULL;
    size_t len = 0;
    CHECK(OSSL_ENCODER_to_data(e, &der, &len) == 1);
    socp_rsa_key_t *key = NULL;
    CHECK_RC(socp_rsa_private_import(der, len, &key), SOCP_EBADKEY);
    CHECK(key == NULL);
    OPENSSL_free(der);
    OSSL_ENCODER_CTX_free(e);
    EVP_PKEY_free(pkey);
}

// ---- PSS -------------------------------------------------------------------

SOCP_TEST(rsa_sign_verify_and_rejections)
{
    socp_rsa_key_t *a = s_private("rsa4096_4p_a.pem");
    socp_rsa_key_t *b = s_private("rsa4096_2p_a.pem");
    socp_rsa_key_t *a_pub = NULL;
    CHECK_OK(socp_rsa_public_dup(a, &a_pub));
    uint8_t msg[300];
    randombytes_buf(msg, sizeof msg);
    for (int salt = SOCP_RSA_SALT_MAX; salt <= SOCP_RSA_SALT_32; salt++) {
        uint8_t sig[SOCP_RSA_BYTES], sig2[SOCP_RSA_BYTES];
        CHECK_OK(socp_rsa_sign(a, (socp_rsa_salt_t) salt, msg, sizeof msg, sig));
        CHECK_OK(socp_rsa_sign(a, (socp_rsa_salt_t) salt, msg, sizeof msg, sig2));
        CHECK(memcmp(sig, sig2, sizeof sig) != 0); // PSS is randomised
        CHECK_OK(socp_rsa_verify(a_pub, msg, sizeof msg, sig, sizeof sig));
        CHECK_OK(socp_rsa_verify(a, msg, sizeof msg, sig2, sizeof sig2));
        // Signature by another key.
        CHECK_RC(socp_rsa_verify(b, msg, sizeof msg, sig, sizeof sig), SOCP_EBADSIG);
        // One byte of the message changed.
        msg[17] ^= 1;
        CHECK_RC(socp_rsa_verify(a_pub, msg, sizeof msg, sig, sizeof sig), SOCP_EBADSIG);
        msg[17] ^= 1;
        // One bit of the signature changed, truncated, too long.
        sig[100] ^= 0x10;
        CHECK_RC(socp_rsa_verify(a_pub, msg, sizeof msg, sig, sizeof sig), SOCP_EBADSIG);
        sig[100] ^= 0x10;
        CHECK_RC(socp_rsa_verify(a_pub, msg, sizeof msg, sig, sizeof sig - 1), SOCP_EBADSIG);
        CHECK_RC(socp_rsa_verify(a_pub, msg, sizeof msg, sig, 0), SOCP_EBADSIG);
        CHECK_OK(socp_rsa_verify(a_pub, msg, sizeof msg, sig, sizeof sig)); // still fine
    }
    // Empty message; public keys cannot sign.
    uint8_t sig[SOCP_RSA_BYTES];
    CHECK_OK(socp_rsa_sign(b, SOCP_RSA_SALT_MAX, NULL, 0, sig));
    CHECK_OK(socp_rsa_verify(b, "", 0, sig, sizeof sig));
    CHECK_RC(socp_rsa_sign(a_pub, SOCP_RSA_SALT_MAX, "x", 1, sig), SOCP_EINVAL);
    CHECK_RC(socp_rsa_sign(a, (socp_rsa_salt_t) 7, "x", 1, sig), SOCP_EINVAL);
    // An all-zero and an all-0xff "signature" never verify.
    memset(sig, 0, sizeof sig);
    CHECK_RC(socp_rsa_verify(a_pub, "x", 1, sig, sizeof sig), SOCP_EBADSIG);
    memset(sig, 0xff, sizeof sig);
    CHECK_RC(socp_rsa_verify(a_pub, "x", 1, sig, sizeof sig), SOCP_EBADSIG);
    socp_rsa_destroy(&a_pub);
    socp_rsa_destroy(&a);
    socp_rsa_destroy(&b);
}

SOCP_TEST(rsa_python_verifies_our_pss)
{
    char *msg_path = s_tmp("msg"), *sig_path = s_tmp("sig");
    uint8_t msg[123];
    randombytes_buf(msg, sizeof msg);
    s_write(msg_path, msg, sizeof msg);
    for (size_t k = 0; k < SOCP_ARRAY_LEN(s_keys); k++) {
        socp_rsa_key_t *key = s_private(s_keys[k]);
        char *pem = socp_test_fixture(s_keys[k]);
        uint8_t sig[SOCP_RSA_BYTES];
        // Default salt (max, 478): Python's MAX_LENGTH and AUTO both accept it.
        CHECK_OK(socp_rsa_sign(key, SOCP_RSA_SALT_MAX, msg, sizeof msg, sig));
        s_write(sig_path, sig, sizeof sig);
        CHECK_EQ(s_py("verify", pem, msg_path, sig_path, "max"), 0);
        CHECK_EQ(s_py("verify", pem, msg_path, sig_path, "auto"), 0);
        CHECK_EQ(s_py("verify", pem, msg_path, sig_path, "478"), 0);
        // Salt 32: accepted by AUTO and by an explicit 32, refused by MAX_LENGTH
        // (proving the setting really changes the salt length).
        CHECK_OK(socp_rsa_sign(key, SOCP_RSA_SALT_32, msg, sizeof msg, sig));
        s_write(sig_path, sig, sizeof sig);
        CHECK_EQ(s_py("verify", pem, msg_path, sig_path, "auto"), 0);
        CHECK_EQ(s_py("verify", pem, msg_path, sig_path, "32"), 0);
        CHECK_EQ(s_py("verify", pem, msg_path, sig_path, "max"), 1);
        // A tampered signature fails in Python too.
        sig[5] ^= 1;
        s_write(sig_path, sig, sizeof sig);
        CHECK_EQ(s_py("verify", pem, msg_path, sig_path, "auto"), 1);
        free(pem);
        socp_rsa_destroy(&key);
    }
    free(msg_path);
    free(sig_path);
}

SOCP_TEST(rsa_we_verify_python_pss)
{
    char *msg_path = s_tmp("msg"), *sig_path = s_tmp("sig");
    const char *text = "{\"ciphertext\":\"abc\",\"to\":\"bob\"}";
    s_write(msg_path, text, strlen(text));
    static const char *const salts[] = {"max", "32", "20"};
    for (size_t k = 0; k < SOCP_ARRAY_LEN(s_keys); k++) {
        socp_rsa_key_t *key = s_private(s_keys[k]);
        socp_rsa_key_t *other = s_private("rsa4096_4p_b.pem");
        char *pem = socp_test_fixture(s_keys[k]);
        for (size_t s = 0; s < SOCP_ARRAY_LEN(salts); s++) {
            CHECK_EQ(s_py("sign", pem, msg_path, sig_path, salts[s]), 0);
            size_t sig_len = 0;
            uint8_t *sig = socp_test_read_file(sig_path, &sig_len);
            CHECK_EQ(sig_len, SOCP_RSA_BYTES);
            CHECK_OK(socp_rsa_verify(key, text, strlen(text), sig, sig_len));
            CHECK_RC(socp_rsa_verify(other, text, strlen(text), sig, sig_len), SOCP_EBADSIG);
            CHECK_RC(socp_rsa_verify(key, text, strlen(text) - 1, sig, sig_len), SOCP_EBADSIG);
            free(sig);
        }
        free(pem);
        socp_rsa_destroy(&other);
        socp_rsa_destroy(&key);
    }
    free(msg_path);
    free(sig_path);
}

// ---- OAEP ------------------------------------------------------------------

SOCP_TEST(rsa_oaep_round_trip_and_rejections)
{
    socp_rsa_key_t *key = s_private("rsa4096_4p_a.pem");
    socp_rsa_key_t *other = s_private("rsa4096_4p_b.pem");
    socp_rsa_key_t *pub = NULL;
    CHECK_OK(socp_rsa_public_dup(key, &pub));
    uint8_t plain[SOCP_RSA_OAEP_MAX + 1];
    randombytes_buf(plain, sizeof plain);
    uint8_t ct[SOCP_RSA_BYTES], ct2[SOCP_RSA_BYTES], out[SOCP_RSA_OAEP_MAX];
    size_t out_len = 0;
    static const size_t sizes[] = {0, 1, 100, SOCP_RSA_OAEP_MAX};
    for (size_t i = 0; i < SOCP_ARRAY_LEN(sizes); i++) {
        CHECK_OK(socp_rsa_encrypt(pub, plain, sizes[i], ct));
        CHECK_OK(socp_rsa_decrypt(key, ct, sizeof ct, out, &out_len));
        CHECK_EQ(out_len, sizes[i]);
        CHECK_MEMEQ(out, plain, sizes[i]);
    }
    // 447 bytes do not fit in one block.
    CHECK_RC(socp_rsa_encrypt(pub, plain, SOCP_RSA_OAEP_MAX + 1, ct), SOCP_ETOOBIG);
    // Randomised: the same plaintext twice gives different ciphertexts.
    CHECK_OK(socp_rsa_encrypt(pub, plain, 10, ct));
    CHECK_OK(socp_rsa_encrypt(pub, plain, 10, ct2));
    CHECK(memcmp(ct, ct2, sizeof ct) != 0);
    // Tampered ciphertext, every region: never decrypts, never crashes.
    static const size_t spots[] = {0, 1, 255, 511};
    for (size_t i = 0; i < SOCP_ARRAY_LEN(spots); i++) {
        ct[spots[i]] ^= 0x01;
        CHECK_RC(socp_rsa_decrypt(key, ct, sizeof ct, out, &out_len), SOCP_ECRYPTO);
        CHECK_EQ(out_len, 0);
        ct[spots[i]] ^= 0x01;
    }
    // The cached context still works after failures.
    CHECK_OK(socp_rsa_decrypt(key, ct, sizeof ct, out, &out_len));
    CHECK_EQ(out_len, 10);
    // Wrong key, wrong lengths, public-only key.
    CHECK_RC(socp_rsa_decrypt(other, ct, sizeof ct, out, &out_len), SOCP_ECRYPTO);
    CHECK_RC(socp_rsa_decrypt(key, ct, sizeof ct - 1, out, &out_len), SOCP_ECRYPTO);
    CHECK_RC(socp_rsa_decrypt(key, ct, 0, out, &out_len), SOCP_ECRYPTO);
    CHECK_RC(socp_rsa_decrypt(pub, ct, sizeof ct, out, &out_len), SOCP_EINVAL);
    // A value >= n (all 0xff) is rejected cleanly too.
    memset(ct2, 0xff, sizeof ct2);
    CHECK_RC(socp_rsa_decrypt(key, ct2, sizeof ct2, out, &out_len), SOCP_ECRYPTO);
    socp_rsa_destroy(&pub);
    socp_rsa_destroy(&other);
    socp_rsa_destroy(&key);
}

SOCP_TEST(rsa_oaep_python_interop)
{
    char *msg_path = s_tmp("msg"), *ct_path = s_tmp("ct"), *pt_path = s_tmp("pt");
    char *pub_path = s_tmp("pub.pem");
    uint8_t plain[SOCP_RSA_OAEP_MAX];
    randombytes_buf(plain, sizeof plain);
    for (size_t k = 0; k < SOCP_ARRAY_LEN(s_keys); k++) {
        socp_rsa_key_t *key = s_private(s_keys[k]);
        char *pem = socp_test_fixture(s_keys[k]);
        // Python encrypts to the public key we exported; we decrypt.
        char *pub_pem = NULL;
        CHECK_OK(socp_rsa_public_export(key, SOCP_RSA_PUB_PEM, &pub_pem));
        s_write(pub_path, pub_pem, strlen(pub_pem));
        s_write(msg_path, plain, sizeof plain);
        CHECK_EQ(s_py("encrypt", pub_path, msg_path, ct_path, NULL), 0);
        size_t ct_len = 0;
        uint8_t *ct = socp_test_read_file(ct_path, &ct_len);
        uint8_t out[SOCP_RSA_OAEP_MAX];
        size_t out_len = 0;
        CHECK_OK(socp_rsa_decrypt(key, ct, ct_len, out, &out_len));
        CHECK_EQ(out_len, sizeof plain);
        CHECK_MEMEQ(out, plain, sizeof plain);
        free(ct);
        // We encrypt; Python decrypts with the PEM private key.
        uint8_t mine[SOCP_RSA_BYTES];
        CHECK_OK(socp_rsa_encrypt(key, plain, 77, mine));
        s_write(ct_path, mine, sizeof mine);
        CHECK_EQ(s_py("decrypt", pem, ct_path, pt_path, NULL), 0);
        size_t pt_len = 0;
        uint8_t *pt = socp_test_read_file(pt_path, &pt_len);
        CHECK_EQ(pt_len, 77);
        CHECK_MEMEQ(pt, plain, 77);
        free(pt);
        free(pub_pem);
        free(pem);
        socp_rsa_destroy(&key);
    }
    // Python decrypts with a 4-prime key in the PKCS#8 PEM *we* exported.
    socp_rsa_key_t *key = s_private("rsa4096_4p_b.pem");
    uint8_t *pem = NULL;
    size_t pem_len = 0;
    CHECK_OK(socp_rsa_private_export(key, SOCP_RSA_PRIV_PEM, &pem, &pem_len));
    char *priv_path = s_tmp("ours.pem");
    s_write(priv_path, pem, pem_len);
    sodium_free(pem);
    uint8_t mine[SOCP_RSA_BYTES];
    CHECK_OK(socp_rsa_encrypt(key, "multi-prime", 11, mine));
    s_write(ct_path, mine, sizeof mine);
    CHECK_EQ(s_py("decrypt", priv_path, ct_path, pt_path, NULL), 0);
    size_t pt_len = 0;
    uint8_t *pt = socp_test_read_file(pt_path, &pt_len);
    CHECK_EQ(pt_len, 11);
    CHECK_MEMEQ(pt, "multi-prime", 11);
    free(pt);
    free(priv_path);
    socp_rsa_destroy(&key);
    free(msg_path);
    free(ct_path);
    free(pt_path);
    free(pub_path);
}
