// socp_sig.h: SOCP transport signatures (`sig`) and content signatures
// (`content_sig`), with every byte-string form deployed peers use.
// Part of socp, a SOCP v1.3 client and server.
//
// What we sign (decisions.md, "Signatures"), always RSASSA-PSS-SHA256:
//   transport sig  canonical JSON of the payload (sorted keys, "," ":",
//                  non-ASCII as \uXXXX);
//   DM             UTF-8 of ciphertext_b64url + from + to + decimal(ts);
//   public channel UTF-8 of ciphertext_b64url + from + decimal(ts);
//   key share      canonical_json(shares) + creator_pub.
// A setting (SOCP_SIG_EMIT_RAW) signs the DM/public forms with the raw
// ciphertext bytes in place of the base64url string.
//
// What we accept: every form in socp_sig_form_t, tried in the documented
// order; the first that verifies is reported so the caller can record it. A
// signature that verifies in no form is SOCP_EBADSIG: leniency never turns a
// failed check into a pass.
//
// Thread-safety: as for socp_rsa (a key object must not be shared between
// threads); jansson values are only read.
#ifndef SOCP_SIG_H
#define SOCP_SIG_H

#include "socp/socp_common.h"
#include "socp/socp_rsa.h"

#include <jansson.h>

// The byte string a signature was found to cover.
typedef enum {
    SOCP_SIG_FORM_NONE = 0,       // nothing verified
    SOCP_SIG_FORM_STRING,         // ct_b64 + from [+ to] + ts (key share: canonical(shares) + pub)
    SOCP_SIG_FORM_RAW,            // ct bytes + from [+ to] + ts
    SOCP_SIG_FORM_STRING_SHA256,  // SHA-256 of the STRING form, then PSS
    SOCP_SIG_FORM_RAW_SHA256,     // SHA-256 of the RAW form, then PSS
    SOCP_SIG_FORM_PIPES,          // ct_b64 | from [| to] | ts
    SOCP_SIG_FORM_FIELDS_JSON,    // canonical JSON {"ciphertext","from"[,"to"],"ts"}
    SOCP_SIG_FORM_CANONICAL,      // JSON: sorted, compact, \uXXXX escapes
    SOCP_SIG_FORM_CANONICAL_UTF8, // JSON: sorted, compact, raw UTF-8
    SOCP_SIG_FORM_SPACED,         // JSON: sorted, ", " and ": ", \uXXXX escapes
    SOCP_SIG_FORM_SPACED_UTF8,    // JSON: sorted, ", " and ": ", raw UTF-8
} socp_sig_form_t;

// A static lowercase name for a form ("string", "raw-sha256", ...); "?" for
// values outside the enum.
const char *socp_sig_form_name(socp_sig_form_t form);

// Which DM/public-channel form we emit.
typedef enum {
    SOCP_SIG_EMIT_STRING = 0, // base64url ciphertext string (default)
    SOCP_SIG_EMIT_RAW = 1,    // raw ciphertext bytes (one deployed client requires it)
} socp_sig_emit_t;

// The end-to-end fields a content_sig covers: the ORIGINAL sender's values.
typedef struct {
    const char *ciphertext; // base64url text exactly as carried in the payload
    const char *from;       // original sender id
    const char *to;         // recipient id for a DM; NULL for a public-channel message
    int64_t ts;             // original ts, Unix milliseconds
} socp_sig_content_t;

// Signs a DM (content->to set) or public-channel message (to == NULL).
// @param sig_out  receives base64url(signature), 683 characters; free() it
// @return 0; SOCP_EINVAL (NULL fields, public-only key, bad setting);
//         SOCP_EPROTO (SOCP_SIG_EMIT_RAW and the ciphertext is not base64);
//         SOCP_ECRYPTO.
SOCP_NODISCARD int socp_sig_sign_content(socp_rsa_key_t *key,
                                         socp_rsa_salt_t salt,
                                         socp_sig_emit_t emit,
                                         const socp_sig_content_t *content,
                                         char **sig_out);

// Verifies a content_sig, trying in order: STRING, RAW, STRING_SHA256,
// RAW_SHA256, PIPES, FIELDS_JSON (the RAW forms only when the ciphertext
// decodes as base64).
// @param key      the sender's public key (sender_pub)
// @param sig_b64  untrusted signature text (base64url or base64)
// @param matched  if not NULL, receives the form that verified (NONE on failure)
// @return 0 if some form verified; SOCP_EBADSIG otherwise (also for a
//         signature that is not 512 bytes of base64); SOCP_EINVAL (NULL fields).
SOCP_NODISCARD int socp_sig_verify_content(socp_rsa_key_t *key,
                                           const socp_sig_content_t *content,
                                           const char *sig_b64,
                                           socp_sig_form_t *matched);

// Signs a PUBLIC_CHANNEL_KEY_SHARE: canonical_json(shares) + creator_pub.
// @param shares       the `shares` value (any JSON); borrowed
// @param creator_pub  the creator's public key text as carried in the payload
// @param sig_out      receives base64url(signature); free() it
// @return 0; SOCP_EINVAL; SOCP_EPROTO/SOCP_ETOOBIG (shares cannot be
//         canonicalised); SOCP_ECRYPTO.
SOCP_NODISCARD int socp_sig_sign_key_share(socp_rsa_key_t *key,
                                           socp_rsa_salt_t salt,
                                           const json_t *shares,
                                           const char *creator_pub,
                                           char **sig_out);

// Verifies a key-share content_sig, trying in order: STRING (canonical JSON
// + creator_pub), STRING_SHA256, CANONICAL_UTF8, SPACED, SPACED_UTF8 (each the
// JSON variant followed by creator_pub).
// @return 0 or SOCP_EBADSIG; SOCP_EINVAL (NULL arguments).
SOCP_NODISCARD int socp_sig_verify_key_share(socp_rsa_key_t *key,
                                             const json_t *shares,
                                             const char *creator_pub,
                                             const char *sig_b64,
                                             socp_sig_form_t *matched);

// Signs an envelope payload: PSS over its canonical JSON.
// @param sig_out  receives base64url(signature); free() it
// @return 0; SOCP_EINVAL; SOCP_EPROTO/SOCP_ETOOBIG (not canonicalisable);
//         SOCP_ECRYPTO.
SOCP_NODISCARD int socp_sig_sign_payload(socp_rsa_key_t *key,
                                         socp_rsa_salt_t salt,
                                         const json_t *payload,
                                         char **sig_out);

// Verifies a transport sig, trying in order: CANONICAL, CANONICAL_UTF8,
// SPACED, SPACED_UTF8 (variants identical to an earlier one are skipped).
// Key order in `payload` does not matter: every form sorts keys.
// @return 0 or SOCP_EBADSIG; SOCP_EINVAL (NULL arguments).
SOCP_NODISCARD int socp_sig_verify_payload(socp_rsa_key_t *key,
                                           const json_t *payload,
                                           const char *sig_b64,
                                           socp_sig_form_t *matched);

#endif
