// socp_account.c: Impl14 accounts: the scrypt password check, the private
// key sealed under the password (scrypt + AES-256-GCM), the account frames.
// Part of socp, a SOCP v1.3 client and server.
#include "socp/socp_account.h"

#include <openssl/evp.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "socp/socp_b64.h"
#include "socp/socp_err.h"
#include "socp/socp_json.h"
#include "socp/socp_text.h"
#include "socp/socp_uuid.h"

#define S_B64(n) (sodium_base64_ENCODED_LEN((n), sodium_base64_VARIANT_URLSAFE_NO_PADDING))

static void *
s_secure_alloc(size_t n)
{
    void *p = sodium_init() < 0 ? NULL : sodium_malloc(n ? n : 1);
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

static bool
s_pass_ok(const char *pass, size_t len)
{
    return pass && len >= 1 && len <= SOCP_ACCOUNT_PASSWORD_MAX && !memchr(pass, '\0', len);
}

// Base64url without padding into out (S_B64(len) bytes, NUL included).
static void
s_b64(char *out, const uint8_t *data, size_t len)
{
    sodium_bin2base64(out, S_B64(len), data, len, sodium_base64_VARIANT_URLSAFE_NO_PADDING);
}

// ---- scrypt and the password check -------------------------------------------

int
socp_account_scrypt(const char *pass,
                    size_t pass_len,
                    const uint8_t *salt,
                    size_t salt_len,
                    uint8_t out[SOCP_ACCOUNT_KEY_LEN])
{
    if (!s_pass_ok(pass, pass_len) || !salt || salt_len == 0 || salt_len > SOCP_ACCOUNT_SALT_MAX) {
        return SOCP_EINVAL;
    }
    if (sodium_init() < 0) {
        return SOCP_ECRYPTO;
    }
    if (crypto_pwhash_scryptsalsa208sha256_ll(
            (const uint8_t *) pass, pass_len, salt, salt_len, SOCP_ACCOUNT_SCRYPT_N,
            SOCP_ACCOUNT_SCRYPT_R, SOCP_ACCOUNT_SCRYPT_P, out, SOCP_ACCOUNT_KEY_LEN) != 0) {
        sodium_memzero(out, SOCP_ACCOUNT_KEY_LEN);
        return SOCP_ECRYPTO;
    }
    return 0;
}

int
socp_account_pake_make(const char *pass, size_t pass_len, const uint8_t *salt, char **out)
{
    *out = NULL;
    uint8_t s[SOCP_ACCOUNT_SALT_LEN];
    if (salt) {
        memcpy(s, salt, sizeof s);
    } else {
        if (sodium_init() < 0) {
            return SOCP_ECRYPTO;
        }
        randombytes_buf(s, sizeof s);
    }
    uint8_t *k = s_secure_alloc(SOCP_ACCOUNT_KEY_LEN);
    int rc = socp_account_scrypt(pass, pass_len, s, sizeof s, k);
    if (rc == 0) {
        size_t n = S_B64(sizeof s) + S_B64(SOCP_ACCOUNT_KEY_LEN);
        char *text = socp_malloc(n);
        s_b64(text, s, sizeof s);
        size_t at = strlen(text);
        text[at++] = '.';
        s_b64(text + at, k, SOCP_ACCOUNT_KEY_LEN);
        *out = text;
    }
    sodium_free(k);
    return rc;
}

// Decodes base64 text[0..len) into out (cap bytes); EPROTO on anything wrong.
static int
s_unb64(const char *text, size_t len, uint8_t *out, size_t cap, size_t *out_len)
{
    *out_len = 0;
    if (len == 0) {
        return SOCP_EPROTO;
    }
    return socp_b64_decode_to(text, len, out, cap, out_len) == 0 ? 0 : SOCP_EPROTO;
}

int
socp_account_pake_parse(const char *text,
                        size_t len,
                        uint8_t salt[SOCP_ACCOUNT_SALT_MAX],
                        size_t *salt_len,
                        uint8_t key[SOCP_ACCOUNT_KEY_LEN])
{
    *salt_len = 0;
    if (!text) {
        return SOCP_EPROTO;
    }
    if (len > SOCP_ACCOUNT_PAKE_MAX) {
        return SOCP_ETOOBIG;
    }
    const char *dot = memchr(text, '.', len);
    if (!dot) {
        return SOCP_EPROTO;
    }
    size_t head = (size_t) (dot - text), tail = len - head - 1;
    size_t klen = 0;
    if (s_unb64(text, head, salt, SOCP_ACCOUNT_SALT_MAX, salt_len) != 0 ||
        s_unb64(dot + 1, tail, key, SOCP_ACCOUNT_KEY_LEN, &klen) != 0 ||
        klen != SOCP_ACCOUNT_KEY_LEN) {
        *salt_len = 0;
        return SOCP_EPROTO;
    }
    return 0;
}

int
socp_account_pake_verify(const char *pass, size_t pass_len, const char *stored, size_t stored_len)
{
    uint8_t salt[SOCP_ACCOUNT_SALT_MAX], want[SOCP_ACCOUNT_KEY_LEN];
    size_t salt_len = 0;
    int rc = socp_account_pake_parse(stored, stored_len, salt, &salt_len, want);
    if (rc != 0) {
        return rc;
    }
    if (!s_pass_ok(pass, pass_len)) {
        return SOCP_EINVAL;
    }
    uint8_t *k = s_secure_alloc(SOCP_ACCOUNT_KEY_LEN);
    rc = socp_account_scrypt(pass, pass_len, salt, salt_len, k);
    if (rc == 0 && sodium_memcmp(k, want, SOCP_ACCOUNT_KEY_LEN) != 0) {
        rc = SOCP_EAUTH;
    }
    sodium_free(k);
    sodium_memzero(want, sizeof want);
    return rc;
}

// ---- AES-256-GCM (OpenSSL EVP) ----------------------------------------------------

// out receives len bytes of ciphertext and the 16-byte tag.
static int
s_gcm_seal(const uint8_t *key,
           const uint8_t nonce[SOCP_ACCOUNT_NONCE_LEN],
           const uint8_t *plain,
           size_t len,
           uint8_t *out)
{
    EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
    int n = 0, fin = 0;
    bool ok = ctx && EVP_EncryptInit_ex(ctx, EVP_aes_256_gcm(), NULL, NULL, NULL) == 1 &&
              EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_IVLEN, SOCP_ACCOUNT_NONCE_LEN, NULL) == 1 &&
              EVP_EncryptInit_ex(ctx, NULL, NULL, key, nonce) == 1 &&
              EVP_EncryptUpdate(ctx, out, &n, plain, (int) len) == 1 && (size_t) n == len &&
              EVP_EncryptFinal_ex(ctx, out + n, &fin) == 1 && fin == 0 &&
              EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_GET_TAG, SOCP_ACCOUNT_TAG_LEN, out + len) == 1;
    EVP_CIPHER_CTX_free(ctx); // OpenSSL clears its copy of the key
    return ok ? 0 : SOCP_ECRYPTO;
}

// in = ciphertext || tag (in_len > 16); out receives in_len - 16 bytes.
static int
s_gcm_open(const uint8_t *key,
           const uint8_t nonce[SOCP_ACCOUNT_NONCE_LEN],
           const uint8_t *in,
           size_t in_len,
           uint8_t *out)
{
    size_t len = in_len - SOCP_ACCOUNT_TAG_LEN;
    uint8_t tag[SOCP_ACCOUNT_TAG_LEN];
    memcpy(tag, in + len, sizeof tag);
    EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
    int n = 0, fin = 0;
    bool ready =
        ctx && EVP_DecryptInit_ex(ctx, EVP_aes_256_gcm(), NULL, NULL, NULL) == 1 &&
        EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_IVLEN, SOCP_ACCOUNT_NONCE_LEN, NULL) == 1 &&
        EVP_DecryptInit_ex(ctx, NULL, NULL, key, nonce) == 1 &&
        EVP_DecryptUpdate(ctx, out, &n, in, (int) len) == 1 && (size_t) n == len &&
        EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_TAG, sizeof tag, tag) == 1;
    int rc = !ready ? SOCP_ECRYPTO : EVP_DecryptFinal_ex(ctx, out + n, &fin) != 1 ? SOCP_EAUTH : 0;
    EVP_CIPHER_CTX_free(ctx);
    if (rc != 0) {
        sodium_memzero(out, len); // unauthenticated plaintext never leaves
    }
    return rc;
}

// ---- privkey_store ------------------------------------------------------------------

int
socp_account_store_seal(const uint8_t *plain,
                        size_t plain_len,
                        const char *pass,
                        size_t pass_len,
                        const uint8_t *salt,
                        const uint8_t *nonce,
                        char **out)
{
    *out = NULL;
    if (!plain || plain_len == 0 || !s_pass_ok(pass, pass_len)) {
        return SOCP_EINVAL;
    }
    if (plain_len > SOCP_ACCOUNT_PLAIN_MAX) {
        return SOCP_ETOOBIG;
    }
    if (sodium_init() < 0) {
        return SOCP_ECRYPTO;
    }
    uint8_t s[SOCP_ACCOUNT_SALT_LEN], iv[SOCP_ACCOUNT_NONCE_LEN];
    if (salt) {
        memcpy(s, salt, sizeof s);
    } else {
        randombytes_buf(s, sizeof s);
    }
    if (nonce) {
        memcpy(iv, nonce, sizeof iv);
    } else {
        randombytes_buf(iv, sizeof iv);
    }
    uint8_t *k = s_secure_alloc(SOCP_ACCOUNT_KEY_LEN);
    size_t blob_len = plain_len + SOCP_ACCOUNT_TAG_LEN;
    uint8_t *blob = socp_malloc(blob_len);
    int rc = socp_account_scrypt(pass, pass_len, s, sizeof s, k);
    if (rc == 0) {
        rc = s_gcm_seal(k, iv, plain, plain_len, blob);
    }
    sodium_free(k);
    if (rc == 0) {
        char salt_b[S_B64(sizeof s)], iv_b[S_B64(sizeof iv)];
        s_b64(salt_b, s, sizeof s);
        s_b64(iv_b, iv, sizeof iv);
        char *blob_b = socp_malloc(S_B64(blob_len));
        s_b64(blob_b, blob, blob_len);
        // As Python's json.dumps writes it (Impl14's own client does).
        static const char fmt[] = "{\"salt\": \"%s\", \"nonce\": \"%s\", \"blob\": \"%s\"}";
        size_t n = sizeof fmt + strlen(salt_b) + strlen(iv_b) + strlen(blob_b);
        char *text = socp_malloc(n);
        snprintf(text, n, fmt, salt_b, iv_b, blob_b);
        free(blob_b);
        *out = text;
    }
    free(blob);
    return rc;
}

int
socp_account_store_seal_key(const socp_rsa_key_t *key,
                            const char *pass,
                            size_t pass_len,
                            char **out)
{
    *out = NULL;
    if (!key || !socp_rsa_is_private(key)) {
        return SOCP_EINVAL;
    }
    uint8_t *pem = NULL;
    size_t pem_len = 0;
    int rc = socp_rsa_private_export(key, SOCP_RSA_PRIV_PEM, &pem, &pem_len);
    if (rc != 0) {
        return rc == SOCP_EINVAL ? SOCP_EINVAL : SOCP_ECRYPTO;
    }
    rc = socp_account_store_seal(pem, pem_len, pass, pass_len, NULL, NULL, out);
    sodium_memzero(pem, pem_len);
    sodium_free(pem);
    return rc;
}

// The string member `name` of obj, or NULL.
static const char *
s_member(const json_t *obj, const char *name, size_t *len)
{
    const json_t *v = json_object_get(obj, name);
    if (!json_is_string(v)) {
        return NULL;
    }
    *len = json_string_length(v);
    return json_string_value(v);
}

void
socp_account_store_fini(socp_account_store_t *self)
{
    if (self) {
        free(self->blob);
        memset(self, 0, sizeof *self);
    }
}

int
socp_account_store_parse(const char *text, size_t len, socp_account_store_t *out, const char **why)
{
    memset(out, 0, sizeof *out);
    s_fail(why, "ok", 0);
    if (!text) {
        return s_fail(why, "the stored key is missing", SOCP_EPROTO);
    }
    if (len > SOCP_ACCOUNT_STORE_MAX) {
        return s_fail(why, "the stored key is too long", SOCP_ETOOBIG);
    }
    json_t *v = NULL;
    if (socp_json_parse(text, len, 4, &v) != 0) {
        return s_fail(why, "the stored key is not JSON", SOCP_EPROTO);
    }
    int rc = 0;
    size_t salt_n = 0, nonce_n = 0, blob_n = 0, got = 0;
    const char *salt = s_member(v, "salt", &salt_n);
    const char *nonce = s_member(v, "nonce", &nonce_n);
    const char *blob = s_member(v, "blob", &blob_n);
    if (!json_is_object(v)) {
        rc = s_fail(why, "the stored key is not a JSON object", SOCP_EPROTO);
    } else if (!salt || !nonce || !blob) {
        rc = s_fail(why, "the stored key lacks a salt, nonce or blob string", SOCP_EPROTO);
    } else if (s_unb64(salt, salt_n, out->salt, sizeof out->salt, &out->salt_len) != 0) {
        rc = s_fail(why, "the stored key's salt is not base64 of 1-64 bytes", SOCP_EPROTO);
    } else if (s_unb64(nonce, nonce_n, out->nonce, sizeof out->nonce, &got) != 0 ||
               got != SOCP_ACCOUNT_NONCE_LEN) {
        rc = s_fail(why, "the stored key's nonce is not base64 of 12 bytes", SOCP_EPROTO);
    } else if (blob_n == 0 ||
               socp_b64_decode(blob, blob_n, SOCP_ACCOUNT_PLAIN_MAX + SOCP_ACCOUNT_TAG_LEN,
                               &out->blob, &out->blob_len) != 0) {
        rc = s_fail(why, "the stored key's blob is not base64 of at most 16 KiB", SOCP_EPROTO);
    } else if (out->blob_len <= SOCP_ACCOUNT_TAG_LEN) {
        rc = s_fail(why, "the stored key's blob is too short", SOCP_EPROTO);
    }
    json_decref(v);
    if (rc != 0) {
        socp_account_store_fini(out);
    }
    return rc;
}

int
socp_account_store_open(const char *text,
                        size_t len,
                        const char *pass,
                        size_t pass_len,
                        uint8_t **plain,
                        size_t *plain_len,
                        const char **why)
{
    *plain = NULL;
    *plain_len = 0;
    socp_account_store_t st;
    int rc = socp_account_store_parse(text, len, &st, why);
    if (rc != 0) {
        return rc;
    }
    if (!s_pass_ok(pass, pass_len)) {
        socp_account_store_fini(&st);
        return s_fail(why, "the password is empty or too long", SOCP_EINVAL);
    }
    uint8_t *k = s_secure_alloc(SOCP_ACCOUNT_KEY_LEN);
    size_t n = st.blob_len - SOCP_ACCOUNT_TAG_LEN;
    uint8_t *out = s_secure_alloc(n + 1);
    rc = socp_account_scrypt(pass, pass_len, st.salt, st.salt_len, k);
    if (rc != 0) {
        rc = s_fail(why, "scrypt failed (out of memory?)", rc);
    } else if ((rc = s_gcm_open(k, st.nonce, st.blob, st.blob_len, out)) != 0) {
        rc = rc == SOCP_EAUTH
                 ? s_fail(why, "wrong password, or the stored key was altered", SOCP_EAUTH)
                 : s_fail(why, "AES-GCM failed", SOCP_ECRYPTO);
    }
    sodium_free(k);
    socp_account_store_fini(&st);
    if (rc != 0) {
        sodium_free(out);
        return rc;
    }
    out[n] = '\0';
    *plain = out;
    *plain_len = n;
    return 0;
}

int
socp_account_store_open_key(const char *text,
                            size_t len,
                            const char *pass,
                            size_t pass_len,
                            socp_rsa_key_t **out,
                            const char **why)
{
    *out = NULL;
    uint8_t *pem = NULL;
    size_t pem_len = 0;
    int rc = socp_account_store_open(text, len, pass, pass_len, &pem, &pem_len, why);
    if (rc != 0) {
        return rc;
    }
    rc = socp_rsa_private_import(pem, pem_len, out);
    sodium_free(pem);
    return rc == 0 ? 0
                   : s_fail(why, "the stored key is not an RSA-4096 private key with e=65537",
                            SOCP_EBADKEY);
}

// ---- frames ---------------------------------------------------------------------------

bool
socp_account_name_ok(const char *name, size_t len)
{
    return name && len >= 1 && len <= SOCP_ACCOUNT_NAME_MAX && socp_uuid_is_peer_id(name, len) &&
           !memchr(name, ' ', len);
}

static bool
s_nonempty(const char *s)
{
    return s && *s;
}

// json_dumps of a new reference, which it releases.
static int
s_dump(json_t *v, char **out)
{
    if (!v) {
        return SOCP_EINVAL; // json_pack refused an argument (not UTF-8)
    }
    *out = json_dumps(v, JSON_COMPACT);
    json_decref(v);
    return *out ? 0 : SOCP_ENOMEM;
}

int
socp_account_register_frame(const char *name,
                            const char *pubkey,
                            const char *privkey_store,
                            const char *pake_password,
                            int64_t ts,
                            char **out)
{
    *out = NULL;
    if (!s_nonempty(name) || !socp_account_name_ok(name, strlen(name)) || !s_nonempty(pubkey) ||
        !s_nonempty(privkey_store) || !s_nonempty(pake_password)) {
        return SOCP_EINVAL;
    }
    return s_dump(json_pack("{s:s,s:I,s:{s:s,s:s,s:s,s:s}}", "type", "USER_REGISTER", "ts",
                            (json_int_t) ts, "payload", "user_id", name, "pubkey", pubkey,
                            "privkey_store", privkey_store, "pake_password", pake_password),
                  out);
}

int
socp_account_hello_frame(const char *name,
                         const char *pubkey,
                         const char *client,
                         int64_t ts,
                         char **out)
{
    *out = NULL;
    if (!s_nonempty(name) || !socp_account_name_ok(name, strlen(name)) || !s_nonempty(client) ||
        (pubkey && !*pubkey)) {
        return SOCP_EINVAL;
    }
    json_t *payload = pubkey ? json_pack("{s:s,s:s,s:s}", "client", client, "pubkey", pubkey,
                                         "enc_pubkey", pubkey)
                             : json_pack("{s:s}", "client", client);
    if (!payload) {
        return SOCP_EINVAL;
    }
    return s_dump(json_pack("{s:s,s:s,s:s,s:I,s:o}", "type", "USER_HELLO", "from", name, "to", "",
                            "ts", (json_int_t) ts, "payload", payload),
                  out);
}

// Appends s[0..len) as a JSON string (raw UTF-8; quote, backslash and C0
// controls escaped) at out + *at; the caller sized out for 6 bytes per input
// byte plus the quotes.
static void
s_put_string(char *out, size_t *at, const char *s, size_t len)
{
    static const char hex[] = "0123456789abcdef";
    size_t i = *at;
    out[i++] = '"';
    for (size_t k = 0; k < len; k++) {
        unsigned char c = (unsigned char) s[k];
        if (c == '"' || c == '\\') {
            out[i++] = '\\';
            out[i++] = (char) c;
        } else if (c < 0x20) {
            memcpy(out + i, "\\u00", 4);
            out[i + 4] = hex[c >> 4];
            out[i + 5] = hex[c & 15];
            i += 6;
        } else {
            out[i++] = (char) c;
        }
    }
    out[i++] = '"';
    *at = i;
}

static void
s_put(char *out, size_t *at, const char *s)
{
    size_t n = strlen(s);
    memcpy(out + *at, s, n);
    *at += n;
}

int
socp_account_login_frame(const char *name,
                         const char *pass,
                         size_t pass_len,
                         int64_t ts,
                         char **out,
                         size_t *out_len)
{
    *out = NULL;
    *out_len = 0;
    if (!s_nonempty(name) || !socp_account_name_ok(name, strlen(name)) ||
        !s_pass_ok(pass, pass_len) || !socp_text_utf8_valid(pass, pass_len)) {
        return SOCP_EINVAL;
    }
    size_t name_len = strlen(name);
    char ts_text[32];
    snprintf(ts_text, sizeof ts_text, "%lld", (long long) ts);
    size_t cap = 96 + strlen(ts_text) + 6 * (name_len + pass_len) + 4;
    char *f = s_secure_alloc(cap);
    size_t at = 0;
    s_put(f, &at, "{\"type\":\"USER_LOGIN\",\"ts\":");
    s_put(f, &at, ts_text);
    s_put(f, &at, ",\"payload\":{\"user_id\":");
    s_put_string(f, &at, name, name_len);
    s_put(f, &at, ",\"password\":");
    s_put_string(f, &at, pass, pass_len);
    s_put(f, &at, "}}");
    f[at] = '\0';
    *out = f;
    *out_len = at;
    return 0;
}

static const char *
s_str(const json_t *obj, const char *name)
{
    const json_t *v = json_object_get(obj, name);
    return json_is_string(v) ? json_string_value(v) : NULL;
}

void
socp_account_reply(const json_t *frame, socp_account_reply_t *out)
{
    memset(out, 0, sizeof *out);
    const char *type = s_str(frame, "type");
    const json_t *p = json_object_get(frame, "payload");
    if (!type) {
        return;
    }
    const char *uid = s_str(p, "user_id");
    if (strcmp(type, "USER_HELLO_ACK") == 0) {
        out->kind = SOCP_ACCOUNT_REPLY_HELLO_ACK;
    } else if (strcmp(type, "PUBLIC_CHANNEL_SNAPSHOT") == 0) {
        out->kind = SOCP_ACCOUNT_REPLY_SNAPSHOT;
    } else if (strcmp(type, "USER_REGISTERED") == 0) {
        out->kind = SOCP_ACCOUNT_REPLY_REGISTERED;
        out->user_id = uid;
    } else if (strcmp(type, "USER_LOGGED_IN") == 0) {
        out->kind = SOCP_ACCOUNT_REPLY_LOGGED_IN;
        out->user_id = uid;
        out->privkey_store = s_str(p, "privkey_store");
    } else if (strcmp(type, "ERROR") == 0) {
        out->kind = SOCP_ACCOUNT_REPLY_ERROR;
        const char *code = s_str(p, "code"), *detail = s_str(p, "detail");
        out->code = code ? code : "";
        out->detail = detail ? detail : "";
    } else if (strcmp(type, "USER_ADDED") == 0 && uid) {
        out->kind = SOCP_ACCOUNT_REPLY_ADDED;
        out->user_id = uid;
        out->pubkey = s_str(p, "pubkey");
    } else if (strcmp(type, "USER_REMOVED") == 0 && uid) {
        out->kind = SOCP_ACCOUNT_REPLY_REMOVED;
        out->user_id = uid;
    }
}

const char *
socp_account_reply_name(socp_account_reply_kind_t kind)
{
    switch (kind) {
        case SOCP_ACCOUNT_REPLY_HELLO_ACK:
            return "USER_HELLO_ACK";
        case SOCP_ACCOUNT_REPLY_REGISTERED:
            return "USER_REGISTERED";
        case SOCP_ACCOUNT_REPLY_LOGGED_IN:
            return "USER_LOGGED_IN";
        case SOCP_ACCOUNT_REPLY_ERROR:
            return "ERROR";
        case SOCP_ACCOUNT_REPLY_ADDED:
            return "USER_ADDED";
        case SOCP_ACCOUNT_REPLY_REMOVED:
            return "USER_REMOVED";
        case SOCP_ACCOUNT_REPLY_SNAPSHOT:
            return "PUBLIC_CHANNEL_SNAPSHOT";
        case SOCP_ACCOUNT_REPLY_OTHER:
            break;
    }
    return "other";
}
