// socp_client_crypto.c: one crypto worker of the client (there are as many
// as cores, named crypto0..cryptoN-1).
// Part of socp, a SOCP v1.3 client and server.
//
// DESIGN
// Owns: its own copy of the user's private key (imported from a PKCS#8 DER
// blob in sodium_malloc memory, which is wiped and freed at once; OpenSSL
// keeps and clears its own copy) and a small cache of peers' public keys.
// In:  CLI_SEND (ui: encrypt + content_sig + transport sig -> CLI_FRAME to
//      store), CLI_CTRL (net: sign a control frame -> CLI_WIRE to net),
//      CLI_INBOUND (net: verify content_sig in every accepted form, decrypt
//      -> CLI_PLAIN to store), CLI_SETTING (net: pub_format, the form of our
//      key in sender_pub from now on).
// A DM or public message whose ciphertext does not decrypt, is not 512 bytes
// (so it is no RSA-4096 ciphertext) and decodes to UTF-8 text without
// control characters (but \n and \t) is a plaintext one (a deployed client
// sends /all as base64 of the text): shown as not end-to-end encrypted, its
// content_sig checked as usual.
// Order: the ui spreads DMs and public pieces over all workers (one
// conversation uses every core) and numbers them (CLI_SEND.order, copied to
// CLI_FRAME); the store puts frames in the outbox in that order. File frames
// stay on their conversation's worker. Net spreads received frames the same
// way (CLI_INBOUND.order, copied to CLI_PLAIN) and every numbered frame gets
// a CLI_PLAIN, kind NONE when refused, so the store's order has no gaps,
// and a CLI_DONE to net, which hands each worker a few frames at a time (so
// a worker that gets less CPU is given less work, and no worker idles while
// another has a queue).
// Blocking calls: RSA operations only (a few ms each); the loop handles at
// most 8 messages per turn so TERM is seen within ~50 ms.
// Shutdown: TERM ends the loop; keys are destroyed (OpenSSL clears them).
#include "socp/socp_client.h"

#include <jansson.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "socp/socp_b64.h"
#include "socp/socp_envelope.h"
#include "socp/socp_err.h"
#include "socp/socp_json.h"
#include "socp/socp_log.h"
#include "socp/socp_text.h"
#include "socp/socp_uuid.h"

#define S_CACHE     16
#define S_CLEAR_MAX 65536 // largest base64 plaintext "ciphertext" looked at

typedef struct {
    char *text;          // the key text as received (cache key)
    socp_rsa_key_t *key; // public key
    char *norm;          // the key as base64url DER (what the store pins), or NULL
    char fp[65];         // fingerprint
} s_cached_t;

typedef struct {
    socp_client_crypto_args_t *args;
    socp_rsa_key_t *key; // our private key
    char *pub;           // our public key as published
    s_cached_t cache[S_CACHE];
    unsigned next_slot;
    uint8_t index; // N of our name, cryptoN
} s_crypto_t;

// Imports (or finds) a peer key; NULL if it is not acceptable.
static s_cached_t *
s_pub(s_crypto_t *self, const char *text)
{
    if (!text || !*text) {
        return NULL;
    }
    for (size_t i = 0; i < S_CACHE; i++) {
        if (self->cache[i].text && strcmp(self->cache[i].text, text) == 0) {
            return &self->cache[i];
        }
    }
    socp_rsa_key_t *key = NULL;
    if (socp_rsa_public_import(text, strlen(text), &key) != 0) {
        return NULL;
    }
    s_cached_t *c = &self->cache[self->next_slot++ % S_CACHE];
    free(c->text);
    free(c->norm);
    socp_rsa_destroy(&c->key);
    c->text = socp_strdup(text);
    c->key = key;
    // Exported once per key: OpenSSL's encoder costs ~5% of a DM's receive.
    if (socp_rsa_public_export(key, SOCP_RSA_PUB_B64_DER, &c->norm) != 0) {
        c->norm = NULL;
    }
    if (socp_client_key_fp(key, c->fp) != 0) {
        c->fp[0] = '\0';
    }
    return c;
}

static const char *
s_type_of(uint8_t kind)
{
    switch (kind) {
        case SOCP_CLIENT_KIND_DM:
            return "MSG_DIRECT";
        case SOCP_CLIENT_KIND_PUBLIC:
            return "MSG_PUBLIC_CHANNEL";
        case SOCP_CLIENT_KIND_FILE_START:
            return "FILE_START";
        case SOCP_CLIENT_KIND_FILE_CHUNK:
            return "FILE_CHUNK";
        default:
            return "FILE_END";
    }
}

// Builds, signs and emits one envelope into out (NUL-terminated).
static int
s_seal(s_crypto_t *self,
       const char *type,
       const char *to,
       int64_t ts,
       json_t *payload,
       socp_buf_t *out)
{
    socp_envelope_t env = {0};
    int rc = socp_envelope_init(&env, type, self->args->user_id, to, ts, payload);
    if (rc != 0) {
        return rc;
    }
    char *sig = NULL;
    if ((rc = socp_sig_sign_payload(self->key, self->args->wire.salt, payload, &sig)) == 0) {
        rc = socp_envelope_set_sig(&env, sig);
        free(sig);
    }
    if (rc == 0) {
        rc = socp_envelope_emit(&env, out);
    }
    socp_envelope_fini(&env);
    if (rc == 0) {
        socp_buf_append(out, "", 1);
    }
    return rc;
}

static int
s_encrypt(s_crypto_t *self, s_cached_t *to, const socp_bin_t *plain, char ct[700])
{
    SOCP_UNUSED(self);
    uint8_t c[SOCP_RSA_BYTES];
    int rc = socp_rsa_encrypt(to->key, plain->data, plain->len, c);
    if (rc == 0) {
        rc = socp_b64_encode_to(c, sizeof c, ct, 700);
    }
    return rc;
}

static void
s_on_send(socp_actor_ctx_t *ctx, s_crypto_t *self, const socp_msg_cli_send_t *s)
{
    socp_msg_t f = socp_msg_make(SOCP_MSG_CLI_FRAME);
    f.body.cli_frame.kind = s->kind;
    f.body.cli_frame.local_id = s->local_id;
    f.body.cli_frame.conv = s->conv;
    f.body.cli_frame.to = s->to;
    f.body.cli_frame.ts = s->ts;
    f.body.cli_frame.order = s->order;
    f.body.cli_frame.pending = s->pending;
    f.body.cli_frame.frame = "";
    socp_buf_t out;
    socp_buf_init(&out);
    json_t *payload = NULL;
    int rc = 0;
    s_cached_t *to = s_pub(self, s->to_pub);
    char ct[700];
    if (!to) {
        rc = SOCP_EBADKEY;
        goto done;
    }
    if (s->kind == SOCP_CLIENT_KIND_DM || s->kind == SOCP_CLIENT_KIND_PUBLIC) {
        if ((rc = s_encrypt(self, to, &s->data, ct)) != 0) {
            goto done;
        }
        socp_sig_content_t content = {ct, self->args->user_id,
                                      s->kind == SOCP_CLIENT_KIND_DM ? s->to : NULL, s->ts};
        char *csig = NULL;
        if ((rc = socp_sig_sign_content(self->key, self->args->wire.salt,
                                        socp_client_sig_emit(&self->args->wire, s->sig, s->to),
                                        &content, &csig)) != 0) {
            goto done;
        }
        payload = json_pack("{s:s, s:s, s:s}", "ciphertext", ct, "sender_pub", self->pub,
                            "content_sig", csig);
        free(csig);
        if (payload && s->kind == SOCP_CLIENT_KIND_PUBLIC) {
            json_object_set_new(payload, "group", json_string("public"));
        }
        f.body.cli_frame.text = s->data;
    } else if (s->kind == SOCP_CLIENT_KIND_FILE_START) {
        payload = json_loads(s->meta, JSON_REJECT_DUPLICATES, NULL);
        if (json_is_object(payload)) {
            json_object_set_new(payload, "mode", json_string("dm"));
        }
    } else if (s->kind == SOCP_CLIENT_KIND_FILE_CHUNK) {
        if ((rc = s_encrypt(self, to, &s->data, ct)) != 0) {
            goto done;
        }
        payload = json_pack("{s:s, s:I, s:s}", "file_id", s->meta, "index", (json_int_t) s->index,
                            "ciphertext", ct);
    } else {
        payload = json_pack("{s:s}", "file_id", s->meta);
    }
    if (!json_is_object(payload)) {
        rc = SOCP_EINVAL;
        goto done;
    }
    if (self->args->wire.payload_to && s->kind != SOCP_CLIENT_KIND_PUBLIC) {
        // Impl14 routes a DM and a file on the payload (its client's form).
        json_object_set_new(payload, "to", json_string(s->to));
        if (s->kind == SOCP_CLIENT_KIND_DM) {
            json_object_set_new(payload, "sender", json_string(self->args->user_id));
        }
    }
    rc = s_seal(self, s_type_of(s->kind), s->to, s->ts, payload, &out);
    if (rc == 0) {
        f.body.cli_frame.frame = (const char *) out.data;
    }
done:
    f.body.cli_frame.status = rc;
    (void) socp_actor_send(ctx, "store", &f);
    json_decref(payload);
    socp_buf_fini(&out);
    sodium_memzero((void *) s->data.data, s->data.len); // our received copy of the plaintext
}

static void
s_on_ctrl(socp_actor_ctx_t *ctx, s_crypto_t *self, const socp_msg_cli_ctrl_t *c)
{
    json_t *payload = NULL;
    if (socp_json_parse(c->payload, strlen(c->payload), 32, &payload) != 0 ||
        !json_is_object(payload)) {
        socp_error("crypto: bad control payload for %s", c->type);
        json_decref(payload);
        return;
    }
    socp_buf_t out;
    socp_buf_init(&out);
    int64_t ts = socp_wall_ms();
    if (strcmp(c->type, "USER_HELLO") == 0) {
        // The hello's sig covers its ts: a captured hello is stale in minutes (ADR 0015).
        json_object_set_new(payload, "ts", json_integer(ts));
    }
    int rc = s_seal(self, c->type, c->to, ts, payload, &out);
    json_decref(payload);
    if (rc == 0) {
        socp_msg_t w = socp_msg_make(SOCP_MSG_CLI_WIRE);
        w.body.cli_wire.gen = c->gen;
        w.body.cli_wire.frame = (const char *) out.data;
        (void) socp_actor_send(ctx, "net", &w);
    } else {
        socp_error("crypto: cannot sign %s: %s", c->type, socp_strerror(rc));
    }
    socp_buf_fini(&out);
}

static const char *
s_str(json_t *o, const char *key)
{
    json_t *v = json_object_get(o, key);
    return json_is_string(v) ? json_string_value(v) : NULL;
}

// payload.ts (integer or digit string) when present, else fallback.
static int64_t
s_payload_ts(json_t *payload, int64_t fallback)
{
    json_t *v = json_object_get(payload, "ts");
    if (json_is_integer(v) && json_integer_value(v) >= 0) {
        return json_integer_value(v);
    }
    const char *s = json_is_string(v) ? json_string_value(v) : NULL;
    if (s && *s && strlen(s) < 19 && strspn(s, "0123456789") == strlen(s)) {
        return strtoll(s, NULL, 10);
    }
    return fallback;
}

// True when a ciphertext field decoded to `blob` is plaintext: non-empty
// UTF-8 without control characters other than \n and \t (C0, DEL, C1).
static bool
s_clear_text(const uint8_t *blob, size_t len)
{
    if (!blob || len == 0 || !socp_text_utf8_valid(blob, len)) {
        return false;
    }
    for (size_t i = 0; i < len;) {
        uint32_t cp = 0;
        size_t k = socp_text_utf8_decode(blob + i, len - i, &cp);
        if (k == 0 || (cp < 0x20 && cp != '\n' && cp != '\t') || (cp >= 0x7f && cp < 0xa0)) {
            return false;
        }
        i += k;
    }
    return true;
}

// Copies plaintext into a CLI_PLAIN text buffer; longer text is cut on a
// character boundary and ends with "\u2026" (an ellipsis) to show it was.
static size_t
s_clear_copy(const uint8_t *blob, size_t len, uint8_t out[SOCP_RSA_OAEP_MAX])
{
    if (len <= SOCP_RSA_OAEP_MAX) {
        memcpy(out, blob, len);
        return len;
    }
    static const char ellipsis[] = "\xe2\x80\xa6";
    size_t n = socp_text_boundary(blob, len, SOCP_RSA_OAEP_MAX - (sizeof ellipsis - 1));
    memcpy(out, blob, n);
    memcpy(out + n, ellipsis, sizeof ellipsis - 1);
    return n + sizeof ellipsis - 1;
}

// Returns true when it sent the store a CLI_PLAIN.
static bool
s_inbound(socp_actor_ctx_t *ctx, s_crypto_t *self, const socp_msg_cli_inbound_t *in)
{
    socp_envelope_t env = {0};
    if (socp_envelope_parse_ex(in->frame, strlen(in->frame), SOCP_ENVELOPE_PARSE_EMPTY_TO, &env,
                               NULL) != 0) {
        return false; // net validated it already
    }
    bool sent = false;
    socp_msg_t p = socp_msg_make(SOCP_MSG_CLI_PLAIN);
    socp_msg_cli_plain_t *pl = &p.body.cli_plain;
    pl->order = in->order;
    json_t *pay = env.payload;
    switch (env.kind) {
        case SOCP_ENVELOPE_TYPE_USER_DELIVER:
        case SOCP_ENVELOPE_TYPE_MSG_DIRECT:
            pl->kind = SOCP_CLIENT_KIND_DM;
            break;
        case SOCP_ENVELOPE_TYPE_MSG_PUBLIC_CHANNEL:
            pl->kind = SOCP_CLIENT_KIND_PUBLIC;
            break;
        case SOCP_ENVELOPE_TYPE_FILE_START:
            pl->kind = SOCP_CLIENT_KIND_FILE_START;
            break;
        case SOCP_ENVELOPE_TYPE_FILE_CHUNK:
            pl->kind = SOCP_CLIENT_KIND_FILE_CHUNK;
            break;
        case SOCP_ENVELOPE_TYPE_FILE_END:
            pl->kind = SOCP_CLIENT_KIND_FILE_END;
            break;
        default:
            socp_envelope_fini(&env);
            return false;
    }
    // Who sent it is net's decision (it knows which ids are users): the
    // server's word (payload.sender) for a frame the server built, env.from
    // for a user's own frame, whatever "sender" that writes.
    const char *sender = in->sender;
    pl->from =
        sender && sender[0] && socp_uuid_is_peer_id(sender, strlen(sender)) ? sender : env.from;
    const char *pto = s_str(pay, "to");
    // "to": "" is a server that addressed the socket before authenticating it: us.
    pl->to = pto && socp_uuid_is_peer_id(pto, strlen(pto)) ? pto
             : env.to[0]                                   ? env.to
                                                           : self->args->user_id;
    pl->ts = s_payload_ts(pay, env.ts);
    pl->form = "";
    pl->detail = "";
    pl->sender_fp = "";
    pl->sender_pub = "";
    pl->meta = "";
    char *meta = NULL;
    uint8_t plain[SOCP_RSA_OAEP_MAX];
    size_t plain_len = 0;
    uint8_t dedupe[32];

    if (pl->kind >= SOCP_CLIENT_KIND_FILE_START) {
        const char *fid = s_str(pay, "file_id");
        if (!fid || !socp_uuid_is_peer_id(fid, strlen(fid))) {
            goto out;
        }
        pl->status = SOCP_CLIENT_TRUST_UNVERIFIED; // files carry no content_sig
        if (pl->kind == SOCP_CLIENT_KIND_FILE_START) {
            meta = json_dumps(pay, JSON_COMPACT);
            if (!meta || strlen(meta) > 2048) {
                goto out;
            }
            pl->meta = meta;
            sent = socp_actor_send(ctx, "store", &p) == 0;
            goto out;
        }
        pl->meta = fid;
        if (pl->kind == SOCP_CLIENT_KIND_FILE_CHUNK) {
            json_t *idx = json_object_get(pay, "index");
            if (!json_is_integer(idx) || json_integer_value(idx) < 0) {
                goto out;
            }
            pl->index = (uint64_t) json_integer_value(idx);
        } else {
            sent = socp_actor_send(ctx, "store", &p) == 0;
            goto out;
        }
    }

    const char *ct = s_str(pay, "ciphertext");
    if (!ct) {
        // A plaintext public form ({"text": ...} or {"message": ...}).
        const char *text = s_str(pay, "text") ? s_str(pay, "text") : s_str(pay, "message");
        if (pl->kind == SOCP_CLIENT_KIND_PUBLIC && text) {
            pl->status = SOCP_CLIENT_TRUST_PLAINTEXT;
            size_t n = strlen(text) > 446 ? 446 : strlen(text);
            pl->text = (socp_bin_t){(const uint8_t *) text, n};
            crypto_hash_sha256(dedupe, (const uint8_t *) text, strlen(text));
            pl->dedupe = (socp_bin_t){dedupe, 32};
            pl->detail = "not end-to-end encrypted";
            sent = socp_actor_send(ctx, "store", &p) == 0;
        }
        goto out;
    }
    crypto_hash_sha256(dedupe, (const uint8_t *) ct, strlen(ct));
    pl->dedupe = (socp_bin_t){dedupe, 32};
    if (json_object_get(pay, "iv") || json_object_get(pay, "wrapped_key")) {
        pl->status = SOCP_CLIENT_TRUST_UNREADABLE;
        pl->detail = "v1.2 AES-GCM message: no group key (not end-to-end decryptable here)";
        sent = socp_actor_send(ctx, "store", &p) == 0;
        goto out;
    }
    // Decrypt.
    uint8_t *blob = NULL;
    size_t blen = 0;
    int rc = socp_b64_decode(ct, strlen(ct), S_CLEAR_MAX, &blob, &blen);
    if (rc == 0) {
        rc = blen == SOCP_RSA_BYTES ? socp_rsa_decrypt(self->key, blob, blen, plain, &plain_len)
                                    : SOCP_ECRYPTO;
    }
    bool clear = rc != 0 && pl->kind != SOCP_CLIENT_KIND_FILE_CHUNK && blen != SOCP_RSA_BYTES &&
                 s_clear_text(blob, blen);
    if (clear) {
        plain_len = s_clear_copy(blob, blen, plain);
    }
    free(blob);
    if (rc != 0 && !clear) {
        pl->status = SOCP_CLIENT_TRUST_UNREADABLE;
        pl->detail = "cannot decrypt (not for our key, or damaged)";
        sent = socp_actor_send(ctx, "store", &p) == 0;
        goto out;
    }
    pl->text = (socp_bin_t){plain, plain_len};
    if (pl->kind == SOCP_CLIENT_KIND_FILE_CHUNK) {
        pl->status = SOCP_CLIENT_TRUST_UNVERIFIED;
        sent = socp_actor_send(ctx, "store", &p) == 0;
        goto out;
    }
    // Verify content_sig with sender_pub (or the key from presence).
    // The key we know the sender by (pinned / from presence) comes first:
    // a frame must not bring the key it is checked against. sender_pub is
    // used only for a sender we know no key for yet.
    const char *sender_pub = s_str(pay, "sender_pub");
    s_cached_t *key = s_pub(self, in->known_pub);
    if (!key) {
        key = s_pub(self, sender_pub);
    }
    const char *csig = s_str(pay, "content_sig");
    pl->status = SOCP_CLIENT_TRUST_UNVERIFIED;
    pl->detail = "content signature does not verify";
    if (!key) {
        pl->detail = "no usable sender key";
    } else if (csig) {
        pl->sender_fp = key->fp;
        pl->sender_pub = key->norm ? key->norm : "";
        const char *to = pl->kind == SOCP_CLIENT_KIND_DM ? pl->to : NULL;
        socp_sig_content_t content = {ct, pl->from, to, pl->ts};
        socp_sig_form_t form = SOCP_SIG_FORM_NONE;
        rc = socp_sig_verify_content(key->key, &content, csig, &form);
        if (rc != 0 && pl->ts != env.ts) {
            content.ts = env.ts; // servers that do not carry payload.ts
            rc = socp_sig_verify_content(key->key, &content, csig, &form);
        }
        if (rc != 0 && to && env.to[0] && strcmp(to, env.to) != 0) {
            content.to = env.to;
            content.ts = pl->ts;
            rc = socp_sig_verify_content(key->key, &content, csig, &form);
        }
        if (rc == 0) {
            pl->status = SOCP_CLIENT_TRUST_VERIFIED;
            pl->form = socp_sig_form_name(form);
            pl->detail = "";
        }
    } else {
        pl->detail = "no content signature";
    }
    if (clear) {
        // Sent in clear: never "verified" as an encrypted message is; the
        // form that verified (if any) says the signature held.
        pl->status = SOCP_CLIENT_TRUST_PLAINTEXT;
        pl->detail = pl->form[0] ? "not end-to-end encrypted"
                                 : "not end-to-end encrypted; content signature does not verify";
    }
    sent = socp_actor_send(ctx, "store", &p) == 0;
out:
    sodium_memzero(plain, sizeof plain);
    free(meta);
    socp_envelope_fini(&env);
    return sent;
}

// Every numbered frame is answered, so the store's order has no gaps.
static void
s_on_inbound(socp_actor_ctx_t *ctx, s_crypto_t *self, const socp_msg_cli_inbound_t *in)
{
    if (!s_inbound(ctx, self, in) && in->order) {
        socp_msg_t p = socp_msg_make(SOCP_MSG_CLI_PLAIN);
        p.body.cli_plain.kind = SOCP_CLIENT_KIND_NONE;
        p.body.cli_plain.order = in->order;
        p.body.cli_plain.from = p.body.cli_plain.to = p.body.cli_plain.form = "";
        p.body.cli_plain.sender_fp = p.body.cli_plain.sender_pub = "";
        p.body.cli_plain.meta = p.body.cli_plain.detail = "";
        (void) socp_actor_send(ctx, "store", &p);
    }
}

static int
s_on_msg(socp_actor_ctx_t *ctx, socp_msg_t *msg, void *arg)
{
    s_crypto_t *self = arg;
    switch (msg->type) {
        case SOCP_MSG_CLI_SEND: {
            s_on_send(ctx, self, &msg->body.cli_send);
            socp_msg_t done = socp_msg_make(SOCP_MSG_CLI_DONE);
            done.body.cli_done.worker = self->index;
            (void) socp_actor_send(ctx, "ui", &done);
            break;
        }
        case SOCP_MSG_CLI_CTRL:
            s_on_ctrl(ctx, self, &msg->body.cli_ctrl);
            break;
        case SOCP_MSG_CLI_SETTING:
            if (strcmp(msg->body.cli_setting.key, "pub_format") == 0) {
                // net chose the form of our key for this server (--pub-format auto).
                bool pem = strcmp(msg->body.cli_setting.value, "pem") == 0;
                char *pub = NULL;
                if (socp_rsa_public_export(
                        self->key, pem ? SOCP_RSA_PUB_B64_PEM : SOCP_RSA_PUB_B64_DER, &pub) == 0) {
                    free(self->pub);
                    self->pub = pub;
                }
            }
            break;
        case SOCP_MSG_CLI_INBOUND: {
            s_on_inbound(ctx, self, &msg->body.cli_inbound);
            socp_msg_t done = socp_msg_make(SOCP_MSG_CLI_DONE);
            done.body.cli_done.worker = self->index;
            (void) socp_actor_send(ctx, "net", &done);
            break;
        }
        default:
            socp_warn("crypto: unexpected %s", socp_msg_name(msg->type));
            break;
    }
    return 0;
}

int
socp_client_crypto_actor(socp_actor_ctx_t *ctx, void *args)
{
    s_crypto_t *self = socp_calloc(1, sizeof *self);
    self->args = args;
    unsigned index = 0;
    if (sscanf(socp_actor_name(ctx), "crypto%u", &index) == 1 && index < SOCP_CLIENT_CRYPTO_MAX) {
        self->index = (uint8_t) index;
    }
    int rc = socp_rsa_private_import(self->args->key_der, self->args->key_der_len, &self->key);
    sodium_memzero(self->args->key_der, self->args->key_der_len);
    sodium_free(self->args->key_der);
    self->args->key_der = NULL;
    if (rc == 0) {
        rc = socp_rsa_public_export(self->key, self->args->wire.pub_format, &self->pub);
    }
    if (rc != 0) {
        socp_rsa_destroy(&self->key);
        free(self);
        return rc;
    }
    socp_actor_ready(ctx, 0);
    rc = socp_actor_run(ctx, s_on_msg, self);
    for (size_t i = 0; i < S_CACHE; i++) {
        free(self->cache[i].text);
        free(self->cache[i].norm);
        socp_rsa_destroy(&self->cache[i].key);
    }
    socp_rsa_destroy(&self->key);
    free(self->pub);
    free(self);
    return rc;
}
