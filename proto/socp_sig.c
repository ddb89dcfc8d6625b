// socp_sig.c: transport and content signatures in every accepted byte form.
// Part of socp, a SOCP v1.3 client and server.
#include "socp/socp_sig.h"

#include <inttypes.h>
#include <openssl/sha.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "socp/socp_b64.h"
#include "socp/socp_err.h"
#include "socp/socp_json.h"

const char *
socp_sig_form_name(socp_sig_form_t form)
{
    switch (form) {
        case SOCP_SIG_FORM_NONE:
            return "none";
        case SOCP_SIG_FORM_STRING:
            return "string";
        case SOCP_SIG_FORM_RAW:
            return "raw";
        case SOCP_SIG_FORM_STRING_SHA256:
            return "string-sha256";
        case SOCP_SIG_FORM_RAW_SHA256:
            return "raw-sha256";
        case SOCP_SIG_FORM_PIPES:
            return "pipes";
        case SOCP_SIG_FORM_FIELDS_JSON:
            return "fields-json";
        case SOCP_SIG_FORM_CANONICAL:
            return "canonical";
        case SOCP_SIG_FORM_CANONICAL_UTF8:
            return "canonical-utf8";
        case SOCP_SIG_FORM_SPACED:
            return "spaced";
        case SOCP_SIG_FORM_SPACED_UTF8:
            return "spaced-utf8";
    }
    return "?";
}

static void
s_append_str(socp_buf_t *b, const char *s)
{
    socp_buf_append(b, s, strlen(s));
}

static void
s_append_ts(socp_buf_t *b, int64_t ts)
{
    char text[24];
    int n = snprintf(text, sizeof text, "%" PRId64, ts);
    socp_buf_append(b, text, (size_t) n);
}

// Replaces the buffer's bytes with their SHA-256 digest.
static void
s_prehash(socp_buf_t *b)
{
    uint8_t digest[SHA256_DIGEST_LENGTH];
    SHA256(b->len ? b->data : digest, b->len, digest);
    socp_buf_reset(b);
    socp_buf_append(b, digest, sizeof digest);
}

static bool
s_content_ok(const socp_sig_content_t *c)
{
    return c && c->ciphertext && c->from;
}

// Builds the byte string of one DM/public form. `raw` holds the decoded
// ciphertext (NULL if it does not decode). Returns false if the form cannot
// be built for this message.
static bool
s_content_preimage(const socp_sig_content_t *c,
                   const uint8_t *raw,
                   size_t raw_len,
                   socp_sig_form_t form,
                   socp_buf_t *out)
{
    socp_buf_reset(out);
    switch (form) {
        case SOCP_SIG_FORM_STRING:
        case SOCP_SIG_FORM_STRING_SHA256:
        case SOCP_SIG_FORM_RAW:
        case SOCP_SIG_FORM_RAW_SHA256: {
            bool is_raw = form == SOCP_SIG_FORM_RAW || form == SOCP_SIG_FORM_RAW_SHA256;
            if (is_raw && !raw) {
                return false;
            }
            if (is_raw) {
                socp_buf_append(out, raw, raw_len);
            } else {
                s_append_str(out, c->ciphertext);
            }
            s_append_str(out, c->from);
            if (c->to) {
                s_append_str(out, c->to);
            }
            s_append_ts(out, c->ts);
            if (form == SOCP_SIG_FORM_STRING_SHA256 || form == SOCP_SIG_FORM_RAW_SHA256) {
                s_prehash(out);
            }
            return true;
        }
        case SOCP_SIG_FORM_PIPES:
            s_append_str(out, c->ciphertext);
            s_append_str(out, "|");
            s_append_str(out, c->from);
            if (c->to) {
                s_append_str(out, "|");
                s_append_str(out, c->to);
            }
            s_append_str(out, "|");
            s_append_ts(out, c->ts);
            return true;
        case SOCP_SIG_FORM_FIELDS_JSON: {
            json_t *obj = json_object();
            bool ok = json_object_set_new(obj, "ciphertext", json_string(c->ciphertext)) == 0 &&
                      json_object_set_new(obj, "from", json_string(c->from)) == 0 &&
                      (!c->to || json_object_set_new(obj, "to", json_string(c->to)) == 0) &&
                      json_object_set_new(obj, "ts", json_integer(c->ts)) == 0 &&
                      socp_json_canonical(obj, SOCP_JSON_CANON_ASCII, out) == 0;
            json_decref(obj);
            return ok;
        }
        default:
            return false;
    }
}

// Signs `msg` and base64url-encodes the signature.
static int
s_sign(socp_rsa_key_t *key, socp_rsa_salt_t salt, const socp_buf_t *msg, char **sig_out)
{
    uint8_t sig[SOCP_RSA_BYTES];
    int rc = socp_rsa_sign(key, salt, msg->data, msg->len, sig);
    if (rc == 0) {
        rc = socp_b64_encode(sig, sizeof sig, sig_out);
    }
    return rc;
}

// Decodes an untrusted signature text; false unless it is exactly 512 bytes.
static bool
s_sig_bytes(const char *sig_b64, uint8_t sig[SOCP_RSA_BYTES])
{
    size_t len = 0;
    return sig_b64 &&
           socp_b64_decode_to(sig_b64, strlen(sig_b64), sig, SOCP_RSA_BYTES, &len) == 0 &&
           len == SOCP_RSA_BYTES;
}

static void
s_set_matched(socp_sig_form_t *matched, socp_sig_form_t form)
{
    if (matched) {
        *matched = form;
    }
}

int
socp_sig_sign_content(socp_rsa_key_t *key,
                      socp_rsa_salt_t salt,
                      socp_sig_emit_t emit,
                      const socp_sig_content_t *content,
                      char **sig_out)
{
    *sig_out = NULL;
    if (!s_content_ok(content) || (emit != SOCP_SIG_EMIT_STRING && emit != SOCP_SIG_EMIT_RAW)) {
        return SOCP_EINVAL;
    }
    uint8_t *raw = NULL;
    size_t raw_len = 0;
    if (emit == SOCP_SIG_EMIT_RAW &&
        socp_b64_decode(content->ciphertext, strlen(content->ciphertext), SIZE_MAX, &raw,
                        &raw_len) != 0) {
        return SOCP_EPROTO;
    }
    socp_buf_t msg;
    socp_buf_init(&msg);
    socp_sig_form_t form = emit == SOCP_SIG_EMIT_RAW ? SOCP_SIG_FORM_RAW : SOCP_SIG_FORM_STRING;
    int rc = s_content_preimage(content, raw, raw_len, form, &msg)
                 ? s_sign(key, salt, &msg, sig_out)
                 : SOCP_EPROTO;
    socp_buf_fini(&msg);
    free(raw);
    return rc;
}

int
socp_sig_verify_content(socp_rsa_key_t *key,
                        const socp_sig_content_t *content,
                        const char *sig_b64,
                        socp_sig_form_t *matched)
{
    s_set_matched(matched, SOCP_SIG_FORM_NONE);
    if (!s_content_ok(content)) {
        return SOCP_EINVAL;
    }
    uint8_t sig[SOCP_RSA_BYTES];
    if (!s_sig_bytes(sig_b64, sig)) {
        return SOCP_EBADSIG;
    }
    // Ciphertexts are one RSA block in practice; allow a few for multi-block
    // peers. Decoded only when the STRING form (ours, tried first) fails; a
    // ciphertext that does not decode just skips the RAW forms.
    uint8_t *raw = NULL;
    size_t raw_len = 0;
    static const socp_sig_form_t order[] = {
        SOCP_SIG_FORM_STRING,     SOCP_SIG_FORM_RAW,   SOCP_SIG_FORM_STRING_SHA256,
        SOCP_SIG_FORM_RAW_SHA256, SOCP_SIG_FORM_PIPES, SOCP_SIG_FORM_FIELDS_JSON,
    };
    socp_buf_t msg;
    socp_buf_init(&msg);
    int rc = SOCP_EBADSIG;
    for (size_t i = 0; i < SOCP_ARRAY_LEN(order) && rc != 0; i++) {
        if (i == 1 && socp_b64_decode(content->ciphertext, strlen(content->ciphertext), 64 * 1024,
                                      &raw, &raw_len) != 0) {
            raw = NULL;
        }
        if (s_content_preimage(content, raw, raw_len, order[i], &msg) &&
            socp_rsa_verify(key, msg.data, msg.len, sig, sizeof sig) == 0) {
            s_set_matched(matched, order[i]);
            rc = 0;
        }
    }
    socp_buf_fini(&msg);
    free(raw);
    return rc;
}

// Canonical JSON of `value` with `flags`, optionally followed by `suffix`.
static int
s_json_preimage(const json_t *value, unsigned flags, const char *suffix, socp_buf_t *out)
{
    socp_buf_reset(out);
    int rc = socp_json_canonical(value, flags, out);
    if (rc == 0 && suffix) {
        s_append_str(out, suffix);
    }
    return rc;
}

int
socp_sig_sign_key_share(socp_rsa_key_t *key,
                        socp_rsa_salt_t salt,
                        const json_t *shares,
                        const char *creator_pub,
                        char **sig_out)
{
    *sig_out = NULL;
    if (!shares || !creator_pub) {
        return SOCP_EINVAL;
    }
    socp_buf_t msg;
    socp_buf_init(&msg);
    int rc = s_json_preimage(shares, SOCP_JSON_CANON_ASCII, creator_pub, &msg);
    if (rc == 0) {
        rc = s_sign(key, salt, &msg, sig_out);
    }
    socp_buf_fini(&msg);
    return rc;
}

// Tries the JSON forms of `value` (+ suffix) in order. `first_form` names
// the canonical ASCII form (STRING for key shares, CANONICAL for payloads);
// with_prehash adds its SHA-256 variant right after it.
static int
s_verify_json(socp_rsa_key_t *key,
              const json_t *value,
              const char *suffix,
              const char *sig_b64,
              socp_sig_form_t first_form,
              bool with_prehash,
              socp_sig_form_t *matched)
{
    s_set_matched(matched, SOCP_SIG_FORM_NONE);
    if (!key || !value) {
        return SOCP_EINVAL;
    }
    uint8_t sig[SOCP_RSA_BYTES];
    if (!s_sig_bytes(sig_b64, sig)) {
        return SOCP_EBADSIG;
    }
    static const struct {
        unsigned flags;
        socp_sig_form_t form;
    } variants[] = {
        {SOCP_JSON_CANON_ASCII, SOCP_SIG_FORM_CANONICAL},
        {SOCP_JSON_CANON_UTF8, SOCP_SIG_FORM_CANONICAL_UTF8},
        {SOCP_JSON_CANON_SPACED, SOCP_SIG_FORM_SPACED},
        {SOCP_JSON_CANON_SPACED | SOCP_JSON_CANON_UTF8, SOCP_SIG_FORM_SPACED_UTF8},
    };
    socp_buf_t msg, prev;
    socp_buf_init(&msg);
    socp_buf_init(&prev);
    int rc = SOCP_EBADSIG;
    for (size_t i = 0; i < SOCP_ARRAY_LEN(variants) && rc != 0; i++) {
        if (s_json_preimage(value, variants[i].flags, suffix, &msg) != 0) {
            continue;
        }
        // The UTF-8 variants equal the ASCII ones for ASCII-only data: skip
        // a second identical check (odd index = the UTF-8 twin of i - 1).
        bool same = i % 2 == 1 && prev.len == msg.len && memcmp(prev.data, msg.data, msg.len) == 0;
        socp_sig_form_t form = i == 0 ? first_form : variants[i].form;
        if (!same && socp_rsa_verify(key, msg.data, msg.len, sig, sizeof sig) == 0) {
            s_set_matched(matched, form);
            rc = 0;
        } else if (i == 0 && with_prehash) {
            socp_buf_t hashed;
            socp_buf_init(&hashed);
            socp_buf_append(&hashed, msg.data, msg.len);
            s_prehash(&hashed);
            if (socp_rsa_verify(key, hashed.data, hashed.len, sig, sizeof sig) == 0) {
                s_set_matched(matched, SOCP_SIG_FORM_STRING_SHA256);
                rc = 0;
            }
            socp_buf_fini(&hashed);
        }
        socp_buf_reset(&prev);
        socp_buf_append(&prev, msg.data, msg.len);
    }
    socp_buf_fini(&msg);
    socp_buf_fini(&prev);
    return rc;
}

int
socp_sig_verify_key_share(socp_rsa_key_t *key,
                          const json_t *shares,
                          const char *creator_pub,
                          const char *sig_b64,
                          socp_sig_form_t *matched)
{
    if (!creator_pub) {
        s_set_matched(matched, SOCP_SIG_FORM_NONE);
        return SOCP_EINVAL;
    }
    return s_verify_json(key, shares, creator_pub, sig_b64, SOCP_SIG_FORM_STRING, true, matched);
}

int
socp_sig_sign_payload(socp_rsa_key_t *key,
                      socp_rsa_salt_t salt,
                      const json_t *payload,
                      char **sig_out)
{
    *sig_out = NULL;
    if (!payload) {
        return SOCP_EINVAL;
    }
    socp_buf_t msg;
    socp_buf_init(&msg);
    int rc = s_json_preimage(payload, SOCP_JSON_CANON_ASCII, NULL, &msg);
    if (rc == 0) {
        rc = s_sign(key, salt, &msg, sig_out);
    }
    socp_buf_fini(&msg);
    return rc;
}

int
socp_sig_verify_payload(socp_rsa_key_t *key,
                        const json_t *payload,
                        const char *sig_b64,
                        socp_sig_form_t *matched)
{
    return s_verify_json(key, payload, NULL, sig_b64, SOCP_SIG_FORM_CANONICAL, false, matched);
}
