// socp_rsa.c: RSA-4096 keys, OAEP-SHA256 and PSS-SHA256 over OpenSSL 3 EVP.
// Part of socp, a SOCP v1.3 client and server.
#include "socp/socp_rsa.h"

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/decoder.h>
#include <openssl/encoder.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <openssl/sha.h>
#include <openssl/x509.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "socp/socp_b64.h"
#include "socp/socp_err.h"

struct socp_rsa_key {
    EVP_PKEY *pkey;           // the key (owned)
    unsigned primes;          // prime factors of a private key, 0 if public-only
    EVP_PKEY_CTX *sign_ctx;   // PSS signing context, created on first use
    int sign_salt;            // salt length currently set in sign_ctx
    EVP_PKEY_CTX *verify_ctx; // PSS verification context (salt auto)
    EVP_PKEY_CTX *enc_ctx;    // OAEP encryption context
    EVP_PKEY_CTX *dec_ctx;    // OAEP decryption context
};

// Names of the prime factors in OpenSSL's parameter set, in order.
static const char *const s_factor_names[] = {
    OSSL_PKEY_PARAM_RSA_FACTOR1,  OSSL_PKEY_PARAM_RSA_FACTOR2, OSSL_PKEY_PARAM_RSA_FACTOR3,
    OSSL_PKEY_PARAM_RSA_FACTOR4,  OSSL_PKEY_PARAM_RSA_FACTOR5, OSSL_PKEY_PARAM_RSA_FACTOR6,
    OSSL_PKEY_PARAM_RSA_FACTOR7,  OSSL_PKEY_PARAM_RSA_FACTOR8, OSSL_PKEY_PARAM_RSA_FACTOR9,
    OSSL_PKEY_PARAM_RSA_FACTOR10,
};

// True when the key carries the named big-number parameter.
static bool
s_has_param(const EVP_PKEY *pkey, const char *name)
{
    BIGNUM *bn = NULL;
    bool present = EVP_PKEY_get_bn_param(pkey, name, &bn) == 1;
    BN_clear_free(bn);
    return present;
}

// Checks a decoded key against the wire profile and counts its primes.
// want_private: 1 = must be private, 0 = must be public-only.
static int
s_check(const EVP_PKEY *pkey, bool want_private, unsigned *primes)
{
    *primes = 0;
    if (!EVP_PKEY_is_a(pkey, "RSA") || EVP_PKEY_get_bits(pkey) != SOCP_RSA_BITS) {
        return SOCP_EBADKEY;
    }
    BIGNUM *e = NULL, *n = NULL;
    bool ok = EVP_PKEY_get_bn_param(pkey, OSSL_PKEY_PARAM_RSA_E, &e) == 1 &&
              EVP_PKEY_get_bn_param(pkey, OSSL_PKEY_PARAM_RSA_N, &n) == 1 &&
              BN_is_word(e, SOCP_RSA_PUBLIC_E) && BN_is_odd(n) && BN_num_bits(n) == SOCP_RSA_BITS;
    BN_free(e);
    BN_free(n);
    if (!ok) {
        return SOCP_EBADKEY;
    }
    bool is_private = s_has_param(pkey, OSSL_PKEY_PARAM_RSA_D);
    if (is_private != want_private) {
        return SOCP_EBADKEY;
    }
    if (is_private) {
        unsigned count = 0;
        while (count < SOCP_ARRAY_LEN(s_factor_names) && s_has_param(pkey, s_factor_names[count])) {
            count++;
        }
        if (count < 2) {
            return SOCP_EBADKEY;
        }
        *primes = count;
    }
    return 0;
}

// Wraps a checked EVP_PKEY (consumed) in a new key object.
static socp_rsa_key_t *
s_wrap(EVP_PKEY *pkey, unsigned primes)
{
    socp_rsa_key_t *self = socp_calloc(1, sizeof *self);
    self->pkey = pkey;
    self->primes = primes;
    self->sign_salt = RSA_PSS_SALTLEN_MAX;
    return self;
}

// Passphrase source for the decoders: always fails, so an encrypted key is
// rejected and OpenSSL can never fall back to prompting on a terminal.
static int
s_no_passphrase(char *pass, size_t size, size_t *len, const OSSL_PARAM params[], void *arg)
{
    (void) pass;
    (void) size;
    (void) params;
    (void) arg;
    *len = 0;
    return 0;
}

// Decodes `len` bytes with OpenSSL's decoders. input_type is "DER" or "PEM".
// For DER the whole input must be consumed.
static EVP_PKEY *
s_decode(const uint8_t *data, size_t len, const char *input_type, int selection)
{
    EVP_PKEY *pkey = NULL;
    OSSL_DECODER_CTX *dctx =
        OSSL_DECODER_CTX_new_for_pkey(&pkey, input_type, NULL, "RSA", selection, NULL, NULL);
    if (!dctx || OSSL_DECODER_CTX_set_passphrase_cb(dctx, s_no_passphrase, NULL) != 1) {
        OSSL_DECODER_CTX_free(dctx);
        return NULL;
    }
    const unsigned char *p = data;
    size_t left = len;
    if (OSSL_DECODER_from_data(dctx, &p, &left) != 1 ||
        (strcmp(input_type, "DER") == 0 && left != 0)) {
        EVP_PKEY_free(pkey);
        pkey = NULL;
    }
    OSSL_DECODER_CTX_free(dctx);
    return pkey;
}

static bool
s_is_pem(const uint8_t *data, size_t len)
{
    static const char begin[] = "-----BEGIN ";
    return len >= sizeof begin - 1 && memcmp(data, begin, sizeof begin - 1) == 0;
}

static bool
s_is_space(char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

int
socp_rsa_secure_heap(size_t size)
{
    if (CRYPTO_secure_malloc_initialized()) {
        return 0;
    }
    int rc = CRYPTO_secure_malloc_init(size, 16);
    return rc == 1 ? 0 : rc == 2 ? 1 : SOCP_ENOMEM;
}

int
socp_rsa_public_import(const char *text, size_t len, socp_rsa_key_t **out)
{
    *out = NULL;
    while (len > 0 && s_is_space(text[0])) {
        text++;
        len--;
    }
    while (len > 0 && s_is_space(text[len - 1])) {
        len--;
    }
    if (len == 0 || len > SOCP_RSA_IMPORT_MAX) {
        return SOCP_EBADKEY;
    }
    EVP_PKEY *pkey = NULL;
    if (s_is_pem((const uint8_t *) text, len)) {
        pkey = s_decode((const uint8_t *) text, len, "PEM", EVP_PKEY_PUBLIC_KEY);
    } else {
        uint8_t *bytes = NULL;
        size_t n = 0;
        if (socp_b64_decode(text, len, SOCP_RSA_IMPORT_MAX, &bytes, &n) != 0) {
            return SOCP_EBADKEY;
        }
        if (s_is_pem(bytes, n)) {
            pkey = s_decode(bytes, n, "PEM", EVP_PKEY_PUBLIC_KEY);
        } else if (n > 0) {
            // The DER decoders try SubjectPublicKeyInfo and PKCS#1 in turn.
            pkey = s_decode(bytes, n, "DER", EVP_PKEY_PUBLIC_KEY);
        }
        free(bytes);
    }
    ERR_clear_error();
    unsigned primes = 0;
    if (!pkey || s_check(pkey, false, &primes) != 0) {
        EVP_PKEY_free(pkey);
        return SOCP_EBADKEY;
    }
    *out = s_wrap(pkey, 0);
    return 0;
}

int
socp_rsa_private_import(const uint8_t *data, size_t len, socp_rsa_key_t **out)
{
    *out = NULL;
    if (len == 0 || len > SOCP_RSA_IMPORT_MAX) {
        return SOCP_EBADKEY;
    }
    size_t skip = 0;
    while (skip < len && s_is_space((char) data[skip])) {
        skip++;
    }
    bool pem = s_is_pem(data + skip, len - skip);
    EVP_PKEY *pkey = s_decode(data, len, pem ? "PEM" : "DER", EVP_PKEY_KEYPAIR);
    ERR_clear_error();
    unsigned primes = 0;
    if (!pkey || s_check(pkey, true, &primes) != 0) {
        EVP_PKEY_free(pkey);
        return SOCP_EBADKEY;
    }
    *out = s_wrap(pkey, primes);
    return 0;
}

typedef struct {
    socp_rsa_progress_fn *fn; // user callback
    void *arg;                // its argument
    bool cancelled;           // the callback asked to stop
} s_progress_t;

static int
s_keygen_cb(EVP_PKEY_CTX *ctx)
{
    s_progress_t *progress = EVP_PKEY_CTX_get_app_data(ctx);
    if (!progress || !progress->fn) {
        return 1;
    }
    int phase = EVP_PKEY_CTX_get_keygen_info(ctx, 0);
    int n = EVP_PKEY_CTX_get_keygen_info(ctx, 1);
    if (!progress->fn(phase, n, progress->arg)) {
        progress->cancelled = true;
        return 0;
    }
    return 1;
}

int
socp_rsa_generate(unsigned primes, socp_rsa_progress_fn *progress, void *arg, socp_rsa_key_t **out)
{
    *out = NULL;
    if (primes < 2 || primes > 4) {
        return SOCP_EINVAL;
    }
    s_progress_t state = {progress, arg, false};
    EVP_PKEY *pkey = NULL;
    BIGNUM *e = BN_new();
    EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_name(NULL, "RSA", NULL);
    int rc = SOCP_ECRYPTO;
    if (!e || !ctx || BN_set_word(e, SOCP_RSA_PUBLIC_E) != 1 || EVP_PKEY_keygen_init(ctx) != 1 ||
        EVP_PKEY_CTX_set_rsa_keygen_bits(ctx, SOCP_RSA_BITS) != 1 ||
        EVP_PKEY_CTX_set_rsa_keygen_primes(ctx, (int) primes) != 1 ||
        EVP_PKEY_CTX_set1_rsa_keygen_pubexp(ctx, e) != 1) {
        goto done;
    }
    EVP_PKEY_CTX_set_app_data(ctx, &state);
    EVP_PKEY_CTX_set_cb(ctx, s_keygen_cb);
    if (EVP_PKEY_generate(ctx, &pkey) != 1) {
        rc = state.cancelled ? SOCP_ETERM : SOCP_ECRYPTO;
        goto done;
    }
    unsigned got = 0;
    if (s_check(pkey, true, &got) != 0 || got != primes) {
        goto done;
    }
    *out = s_wrap(pkey, got);
    pkey = NULL;
    rc = 0;
done:
    ERR_clear_error();
    EVP_PKEY_free(pkey);
    EVP_PKEY_CTX_free(ctx);
    BN_free(e);
    return rc;
}

void
socp_rsa_destroy(socp_rsa_key_t **self_p)
{
    if (!self_p || !*self_p) {
        return;
    }
    socp_rsa_key_t *self = *self_p;
    EVP_PKEY_CTX_free(self->sign_ctx);
    EVP_PKEY_CTX_free(self->verify_ctx);
    EVP_PKEY_CTX_free(self->enc_ctx);
    EVP_PKEY_CTX_free(self->dec_ctx);
    EVP_PKEY_free(self->pkey);
    free(self);
    *self_p = NULL;
}

bool
socp_rsa_is_private(const socp_rsa_key_t *self)
{
    return self->primes != 0;
}

unsigned
socp_rsa_primes(const socp_rsa_key_t *self)
{
    return self->primes;
}

unsigned
socp_rsa_bits(const socp_rsa_key_t *self)
{
    return (unsigned) EVP_PKEY_get_bits(self->pkey);
}

bool
socp_rsa_public_equal(const socp_rsa_key_t *a, const socp_rsa_key_t *b)
{
    bool same = EVP_PKEY_eq(a->pkey, b->pkey) == 1;
    ERR_clear_error();
    return same;
}

// Copies `len` bytes into a new NUL-terminated malloc string.
static char *
s_strndup(const void *data, size_t len)
{
    char *s = socp_malloc(len + 1);
    memcpy(s, data, len);
    s[len] = '\0';
    return s;
}

// PEM text of the public key (SubjectPublicKeyInfo) into a malloc string.
static int
s_public_pem(const socp_rsa_key_t *self, char **pem, size_t *pem_len)
{
    *pem = NULL;
    *pem_len = 0;
    BIO *bio = BIO_new(BIO_s_mem());
    if (!bio || PEM_write_bio_PUBKEY(bio, self->pkey) != 1) {
        BIO_free(bio);
        ERR_clear_error();
        return SOCP_ECRYPTO;
    }
    char *data = NULL;
    long n = BIO_get_mem_data(bio, &data);
    if (n <= 0) {
        BIO_free(bio);
        return SOCP_ECRYPTO;
    }
    *pem = s_strndup(data, (size_t) n);
    *pem_len = (size_t) n;
    BIO_free(bio);
    return 0;
}

int
socp_rsa_public_export(const socp_rsa_key_t *self, socp_rsa_pub_format_t format, char **out)
{
    *out = NULL;
    int rc;
    if (format == SOCP_RSA_PUB_B64_DER) {
        unsigned char *der = NULL;
        int n = i2d_PUBKEY(self->pkey, &der);
        if (n <= 0) {
            ERR_clear_error();
            return SOCP_ECRYPTO;
        }
        rc = socp_b64_encode(der, (size_t) n, out);
        OPENSSL_free(der);
        return rc;
    }
    if (format == SOCP_RSA_PUB_B64_PEM || format == SOCP_RSA_PUB_PEM) {
        char *pem = NULL;
        size_t pem_len = 0;
        rc = s_public_pem(self, &pem, &pem_len);
        if (rc == 0 && format == SOCP_RSA_PUB_B64_PEM) {
            rc = socp_b64_encode(pem, pem_len, out);
            free(pem);
        } else if (rc == 0) {
            *out = pem;
        }
        return rc;
    }
    return SOCP_EINVAL;
}

int
socp_rsa_public_dup(const socp_rsa_key_t *self, socp_rsa_key_t **out)
{
    *out = NULL;
    unsigned char *der = NULL;
    int n = i2d_PUBKEY(self->pkey, &der);
    if (n <= 0) {
        ERR_clear_error();
        return SOCP_ECRYPTO;
    }
    EVP_PKEY *pkey = s_decode(der, (size_t) n, "DER", EVP_PKEY_PUBLIC_KEY);
    OPENSSL_free(der);
    ERR_clear_error();
    unsigned primes = 0;
    if (!pkey || s_check(pkey, false, &primes) != 0) {
        EVP_PKEY_free(pkey);
        return SOCP_ECRYPTO;
    }
    *out = s_wrap(pkey, 0);
    return 0;
}

int
socp_rsa_private_export(const socp_rsa_key_t *self,
                        socp_rsa_priv_format_t format,
                        uint8_t **out,
                        size_t *out_len)
{
    *out = NULL;
    *out_len = 0;
    if (!socp_rsa_is_private(self) ||
        (format != SOCP_RSA_PRIV_DER && format != SOCP_RSA_PRIV_PEM)) {
        return SOCP_EINVAL;
    }
    if (sodium_init() < 0) {
        return SOCP_EINIT;
    }
    bool pem = format == SOCP_RSA_PRIV_PEM;
    OSSL_ENCODER_CTX *ectx = OSSL_ENCODER_CTX_new_for_pkey(
        self->pkey, EVP_PKEY_KEYPAIR, pem ? "PEM" : "DER", "PrivateKeyInfo", NULL);
    unsigned char *data = NULL;
    size_t len = 0;
    int rc = SOCP_ECRYPTO;
    if (ectx && OSSL_ENCODER_CTX_get_num_encoders(ectx) > 0 &&
        OSSL_ENCODER_to_data(ectx, &data, &len) == 1 && len > 0) {
        uint8_t *secret = sodium_malloc(len + 1);
        if (!secret) {
            abort(); // out of memory, as socp_malloc would
        }
        memcpy(secret, data, len);
        secret[len] = '\0';
        *out = secret;
        *out_len = len;
        rc = 0;
    }
    if (data) {
        OPENSSL_clear_free(data, len);
    }
    OSSL_ENCODER_CTX_free(ectx);
    ERR_clear_error();
    return rc;
}

// Lazily creates an operation context. kind: 's' sign, 'v' verify,
// 'e' encrypt, 'd' decrypt. Returns NULL on failure.
static EVP_PKEY_CTX *
s_ctx(socp_rsa_key_t *self, char kind)
{
    EVP_PKEY_CTX **slot = kind == 's'   ? &self->sign_ctx
                          : kind == 'v' ? &self->verify_ctx
                          : kind == 'e' ? &self->enc_ctx
                                        : &self->dec_ctx;
    if (*slot) {
        return *slot;
    }
    EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_pkey(NULL, self->pkey, NULL);
    if (!ctx) {
        return NULL;
    }
    int ok;
    if (kind == 's' || kind == 'v') {
        ok = (kind == 's' ? EVP_PKEY_sign_init(ctx) : EVP_PKEY_verify_init(ctx)) == 1 &&
             EVP_PKEY_CTX_set_rsa_padding(ctx, RSA_PKCS1_PSS_PADDING) == 1 &&
             EVP_PKEY_CTX_set_signature_md(ctx, EVP_sha256()) == 1 &&
             EVP_PKEY_CTX_set_rsa_mgf1_md(ctx, EVP_sha256()) == 1 &&
             EVP_PKEY_CTX_set_rsa_pss_saltlen(ctx, kind == 's' ? self->sign_salt
                                                               : RSA_PSS_SALTLEN_AUTO) == 1;
    } else {
        ok = (kind == 'e' ? EVP_PKEY_encrypt_init(ctx) : EVP_PKEY_decrypt_init(ctx)) == 1 &&
             EVP_PKEY_CTX_set_rsa_padding(ctx, RSA_PKCS1_OAEP_PADDING) == 1 &&
             EVP_PKEY_CTX_set_rsa_oaep_md(ctx, EVP_sha256()) == 1 &&
             EVP_PKEY_CTX_set_rsa_mgf1_md(ctx, EVP_sha256()) == 1;
    }
    if (!ok) {
        EVP_PKEY_CTX_free(ctx);
        return NULL;
    }
    *slot = ctx;
    return ctx;
}

int
socp_rsa_encrypt(socp_rsa_key_t *self, const void *plain, size_t len, uint8_t out[SOCP_RSA_BYTES])
{
    memset(out, 0, SOCP_RSA_BYTES);
    if (len > SOCP_RSA_OAEP_MAX) {
        return SOCP_ETOOBIG;
    }
    static const uint8_t empty[1] = {0};
    EVP_PKEY_CTX *ctx = s_ctx(self, 'e');
    size_t out_len = SOCP_RSA_BYTES;
    if (!ctx || EVP_PKEY_encrypt(ctx, out, &out_len, plain ? plain : empty, len) != 1 ||
        out_len != SOCP_RSA_BYTES) {
        ERR_clear_error();
        return SOCP_ECRYPTO;
    }
    return 0;
}

int
socp_rsa_decrypt(socp_rsa_key_t *self,
                 const uint8_t *cipher,
                 size_t cipher_len,
                 uint8_t out[SOCP_RSA_OAEP_MAX],
                 size_t *out_len)
{
    *out_len = 0;
    if (!socp_rsa_is_private(self)) {
        return SOCP_EINVAL;
    }
    if (cipher_len != SOCP_RSA_BYTES) {
        return SOCP_ECRYPTO;
    }
    // OpenSSL wants room for a full block; the plaintext passes through here.
    uint8_t block[SOCP_RSA_BYTES];
    size_t n = sizeof block;
    EVP_PKEY_CTX *ctx = s_ctx(self, 'd');
    int rc = SOCP_ECRYPTO;
    if (ctx && EVP_PKEY_decrypt(ctx, block, &n, cipher, cipher_len) == 1 &&
        n <= SOCP_RSA_OAEP_MAX) {
        memcpy(out, block, n);
        *out_len = n;
        rc = 0;
    }
    OPENSSL_cleanse(block, sizeof block);
    ERR_clear_error();
    return rc;
}

int
socp_rsa_sign(socp_rsa_key_t *self,
              socp_rsa_salt_t salt,
              const void *msg,
              size_t len,
              uint8_t out[SOCP_RSA_BYTES])
{
    memset(out, 0, SOCP_RSA_BYTES);
    if (!socp_rsa_is_private(self) || (salt != SOCP_RSA_SALT_MAX && salt != SOCP_RSA_SALT_32)) {
        return SOCP_EINVAL;
    }
    int salt_len = salt == SOCP_RSA_SALT_32 ? 32 : RSA_PSS_SALTLEN_MAX;
    EVP_PKEY_CTX *ctx = s_ctx(self, 's');
    if (ctx && salt_len != self->sign_salt) {
        if (EVP_PKEY_CTX_set_rsa_pss_saltlen(ctx, salt_len) != 1) {
            ctx = NULL;
        } else {
            self->sign_salt = salt_len;
        }
    }
    uint8_t digest[SHA256_DIGEST_LENGTH];
    SHA256(msg ? msg : (const void *) digest, len, digest);
    size_t sig_len = SOCP_RSA_BYTES;
    if (!ctx || EVP_PKEY_sign(ctx, out, &sig_len, digest, sizeof digest) != 1 ||
        sig_len != SOCP_RSA_BYTES) {
        ERR_clear_error();
        memset(out, 0, SOCP_RSA_BYTES);
        return SOCP_ECRYPTO;
    }
    return 0;
}

int
socp_rsa_verify(socp_rsa_key_t *self,
                const void *msg,
                size_t len,
                const uint8_t *sig,
                size_t sig_len)
{
    if (sig_len != SOCP_RSA_BYTES) {
        return SOCP_EBADSIG;
    }
    uint8_t digest[SHA256_DIGEST_LENGTH];
    SHA256(msg ? msg : (const void *) digest, len, digest);
    EVP_PKEY_CTX *ctx = s_ctx(self, 'v');
    if (!ctx || EVP_PKEY_verify(ctx, sig, sig_len, digest, sizeof digest) != 1) {
        ERR_clear_error();
        return SOCP_EBADSIG;
    }
    return 0;
}
