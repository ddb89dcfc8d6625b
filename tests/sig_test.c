// sig_test.c: transport sig and content_sig, every accepted form, against a
// test-local C peer and a Python peer.
#include "socp_test.h"

#include "socp/socp_b64.h"
#include "socp/socp_rsa.h"
#include "socp/socp_sig.h"

#include <inttypes.h>
#include <sodium.h>

// ---- helpers ---------------------------------------------------------------


static void
s_write(const char *path, const char *text)
{
    FILE *f = fopen(path, "wb");
    CHECK(f != NULL);
    CHECK_EQ(fwrite(text, 1, strlen(text), f), strlen(text));
    CHECK(fclose(f) == 0);
}

static socp_rsa_key_t *
s_key(const char *name)
{
    char *path = socp_test_fixture(name);
    char *pem = (char *) socp_test_read_file(path, NULL);
    socp_rsa_key_t *key = NULL;
    CHECK_OK(socp_rsa_private_import((const uint8_t *) pem, strlen(pem), &key));
    free(pem);
    free(path);
    return key;
}

// A public-only copy, as a receiver would hold it.
static socp_rsa_key_t *
s_pub(socp_rsa_key_t *key)
{
    socp_rsa_key_t *pub = NULL;
    CHECK_OK(socp_rsa_public_dup(key, &pub));
    return pub;
}

static int
s_py(const char *const args[])
{
    char out[4096];
    int rc = socp_test_python("crypto_sig.py", args, out, sizeof out);
    CHECK_MSG(rc == 0 || rc == 1, "crypto_sig.py %s could not run (status %d)", args[0], rc);
    return rc;
}

// A realistic ciphertext: 512 random bytes, base64url (683 characters).
static char *
s_ciphertext(void)
{
    uint8_t ct[SOCP_RSA_BYTES];
    randombytes_buf(ct, sizeof ct);
    char *text = NULL;
    CHECK_OK(socp_b64_encode(ct, sizeof ct, &text));
    return text;
}

// ---- a test-local peer: builds each form its own way -----------------------

static void
s_cat(socp_buf_t *b, const char *s)
{
    socp_buf_append(b, s, strlen(s));
}

// The byte string a peer using `form` signs for this message.
static void
s_peer_preimage(const socp_sig_content_t *c, socp_sig_form_t form, socp_buf_t *out)
{
    char ts[32];
    snprintf(ts, sizeof ts, "%" PRId64, c->ts);
    socp_buf_reset(out);
    bool raw = form == SOCP_SIG_FORM_RAW || form == SOCP_SIG_FORM_RAW_SHA256;
    switch (form) {
        case SOCP_SIG_FORM_STRING:
        case SOCP_SIG_FORM_RAW:
        case SOCP_SIG_FORM_STRING_SHA256:
        case SOCP_SIG_FORM_RAW_SHA256:
            if (raw) {
                // Decode with libsodium directly (not through socp_b64).
                uint8_t bytes[SOCP_RSA_BYTES];
                size_t n = 0;
                CHECK(sodium_base642bin(bytes, sizeof bytes, c->ciphertext, strlen(c->ciphertext),
                                        NULL, &n, NULL,
                                        sodium_base64_VARIANT_URLSAFE_NO_PADDING) == 0);
                socp_buf_append(out, bytes, n);
            } else {
                s_cat(out, c->ciphertext);
            }
            s_cat(out, c->from);
            if (c->to) {
                s_cat(out, c->to);
            }
            s_cat(out, ts);
            if (form == SOCP_SIG_FORM_STRING_SHA256 || form == SOCP_SIG_FORM_RAW_SHA256) {
                uint8_t digest[crypto_hash_sha256_BYTES];
                crypto_hash_sha256(digest, out->data, out->len);
                socp_buf_reset(out);
                socp_buf_append(out, digest, sizeof digest);
            }
            break;
        case SOCP_SIG_FORM_PIPES: {
            char head[2048];
            if (c->to) {
                snprintf(head, sizeof head, "|%s|%s|%s", c->from, c->to, ts);
            } else {
                snprintf(head, sizeof head, "|%s|%s", c->from, ts);
            }
            s_cat(out, c->ciphertext);
            s_cat(out, head);
            break;
        }
        case SOCP_SIG_FORM_FIELDS_JSON: {
            s_cat(out, "{\"ciphertext\":\"");
            s_cat(out, c->ciphertext);
            s_cat(out, "\",\"from\":\"");
            s_cat(out, c->from);
            if (c->to) {
                s_cat(out, "\",\"to\":\"");
                s_cat(out, c->to);
            }
            s_cat(out, "\",\"ts\":");
            s_cat(out, ts);
            s_cat(out, "}");
            break;
        }
        default:
            CHECK_MSG(false, "no peer for form %d", (int) form);
    }
}

static char *
s_peer_sign(socp_rsa_key_t *key, const socp_sig_content_t *c, socp_sig_form_t form)
{
    socp_buf_t pre;
    socp_buf_init(&pre);
    s_peer_preimage(c, form, &pre);
    uint8_t sig[SOCP_RSA_BYTES];
    // WebCrypto-style peers use salt 32, Python ones the maximum.
    socp_rsa_salt_t salt = form % 2 ? SOCP_RSA_SALT_32 : SOCP_RSA_SALT_MAX;
    CHECK_OK(socp_rsa_sign(key, salt, pre.data, pre.len, sig));
    socp_buf_fini(&pre);
    char *text = NULL;
    CHECK_OK(socp_b64_encode(sig, sizeof sig, &text));
    return text;
}

static const socp_sig_form_t s_content_forms[] = {
    SOCP_SIG_FORM_STRING,     SOCP_SIG_FORM_RAW,   SOCP_SIG_FORM_STRING_SHA256,
    SOCP_SIG_FORM_RAW_SHA256, SOCP_SIG_FORM_PIPES, SOCP_SIG_FORM_FIELDS_JSON,
};

// ---- cases -----------------------------------------------------------------

SOCP_TEST(sig_form_names)
{
    static const char *const want[] = {"none",           "string", "raw",         "string-sha256",
                                       "raw-sha256",     "pipes",  "fields-json", "canonical",
                                       "canonical-utf8", "spaced", "spaced-utf8"};
    for (int f = SOCP_SIG_FORM_NONE; f <= SOCP_SIG_FORM_SPACED_UTF8; f++) {
        CHECK_STREQ(socp_sig_form_name((socp_sig_form_t) f), want[f]);
    }
    CHECK_STREQ(socp_sig_form_name((socp_sig_form_t) 99), "?");
}

SOCP_TEST(sig_content_every_form_from_a_c_peer)
{
    socp_rsa_key_t *sender = s_key("rsa4096_4p_a.pem");
    socp_rsa_key_t *pub = s_pub(sender);
    socp_rsa_key_t *stranger = s_key("rsa4096_2p_a.pem");
    char *ct = s_ciphertext();
    socp_sig_content_t dm = {ct, "alice", "bob", 1700000000123};
    socp_sig_content_t pubmsg = {ct, "alice", NULL, 1700000000123};
    const socp_sig_content_t *msgs[] = {&dm, &pubmsg};
    for (size_t m = 0; m < SOCP_ARRAY_LEN(msgs); m++) {
        for (size_t i = 0; i < SOCP_ARRAY_LEN(s_content_forms); i++) {
            socp_sig_form_t form = s_content_forms[i];
            char *sig = s_peer_sign(sender, msgs[m], form);
            socp_sig_form_t got = SOCP_SIG_FORM_NONE;
            int rc = socp_sig_verify_content(pub, msgs[m], sig, &got);
            CHECK_MSG(rc == 0, "%s %s: %s", m ? "public" : "dm", socp_sig_form_name(form),
                      socp_errname(rc));
            CHECK_MSG(got == form, "signed as %s, reported %s", socp_sig_form_name(form),
                      socp_sig_form_name(got));
            // Another key, another ts, another sender, another recipient: no form verifies.
            got = SOCP_SIG_FORM_STRING;
            CHECK_RC(socp_sig_verify_content(stranger, msgs[m], sig, &got), SOCP_EBADSIG);
            CHECK_EQ(got, SOCP_SIG_FORM_NONE);
            socp_sig_content_t changed = *msgs[m];
            changed.ts += 1;
            CHECK_RC(socp_sig_verify_content(pub, &changed, sig, NULL), SOCP_EBADSIG);
            changed = *msgs[m];
            changed.from = "mallory";
            CHECK_RC(socp_sig_verify_content(pub, &changed, sig, NULL), SOCP_EBADSIG);
            changed = *msgs[m];
            changed.to = changed.to ? "carol" : "bob";
            CHECK_RC(socp_sig_verify_content(pub, &changed, sig, NULL), SOCP_EBADSIG);
            free(sig);
        }
    }
    free(ct);
    socp_rsa_destroy(&stranger);
    socp_rsa_destroy(&pub);
    socp_rsa_destroy(&sender);
}

SOCP_TEST(sig_content_every_form_from_a_python_peer)
{
    char *pem = socp_test_fixture("rsa4096_2p_b.pem");
    socp_rsa_key_t *sender = s_key("rsa4096_2p_b.pem");
    socp_rsa_key_t *pub = s_pub(sender);
    char *ct = s_ciphertext();
    static const char *const names[] = {"string",     "raw",   "string-sha256",
                                        "raw-sha256", "pipes", "fields-json"};
    for (int public_channel = 0; public_channel <= 1; public_channel++) {
        const char *to = public_channel ? "-" : "0b7e5c1e-2d4f-4b8a-9c3e-6f1a2b3c4d5e";
        const char *args[] = {"sign_content",
                              pem,
                              ct,
                              "2c9d1f7a-8e6b-4c3d-a1f2-9e8d7c6b5a43",
                              to,
                              "1700000000999",
                              socp_test_tmpdir(),
                              NULL};
        CHECK_EQ(s_py(args), 0);
        socp_sig_content_t c = {ct, args[3], public_channel ? NULL : to, 1700000000999};
        for (size_t i = 0; i < SOCP_ARRAY_LEN(names); i++) {
            char file[64];
            snprintf(file, sizeof file, "%s.sig", names[i]);
            char *path = socp_test_path(socp_test_tmpdir(), file);
            char *sig = (char *) socp_test_read_file(path, NULL);
            socp_sig_form_t got = SOCP_SIG_FORM_NONE;
            int rc = socp_sig_verify_content(pub, &c, sig, &got);
            CHECK_MSG(rc == 0, "python %s (%s): %s", names[i], public_channel ? "public" : "dm",
                      socp_errname(rc));
            CHECK_STREQ(socp_sig_form_name(got), names[i]);
            free(sig);
            free(path);
        }
    }
    free(ct);
    socp_rsa_destroy(&pub);
    socp_rsa_destroy(&sender);
    free(pem);
}

SOCP_TEST(sig_content_we_emit_string_or_raw)
{
    char *pem = socp_test_fixture("rsa4096_4p_b.pem");
    socp_rsa_key_t *key = s_key("rsa4096_4p_b.pem");
    socp_rsa_key_t *pub = s_pub(key);
    char *ct = s_ciphertext();
    socp_sig_content_t dm = {ct, "alice", "bob", 42};
    char *sig_path = socp_test_path(socp_test_tmpdir(), "sig");
    static const struct {
        socp_sig_emit_t emit;
        socp_sig_form_t form;
        const char *py_form;
        const char *other;
    } cases[] = {{SOCP_SIG_EMIT_STRING, SOCP_SIG_FORM_STRING, "string", "raw"},
                 {SOCP_SIG_EMIT_RAW, SOCP_SIG_FORM_RAW, "raw", "string"}};
    for (size_t i = 0; i < SOCP_ARRAY_LEN(cases); i++) {
        char *sig = NULL;
        CHECK_OK(socp_sig_sign_content(key, SOCP_RSA_SALT_MAX, cases[i].emit, &dm, &sig));
        CHECK_EQ(strlen(sig), 683);
        socp_sig_form_t got = SOCP_SIG_FORM_NONE;
        CHECK_OK(socp_sig_verify_content(pub, &dm, sig, &got));
        CHECK_EQ(got, cases[i].form);
        // A Python peer, building the form itself, agrees on what was signed
        // (and with MAX_LENGTH, that the salt is the maximum).
        s_write(sig_path, sig);
        const char *args[] = {"verify_content", pem,      ct,  "alice", "bob", "42",
                              cases[i].py_form, sig_path, NULL};
        CHECK_EQ(s_py(args), 0);
        args[6] = cases[i].other;
        CHECK_EQ(s_py(args), 1);
        free(sig);
    }
    // Salt 32 on request still verifies.
    char *sig = NULL;
    CHECK_OK(socp_sig_sign_content(key, SOCP_RSA_SALT_32, SOCP_SIG_EMIT_STRING, &dm, &sig));
    CHECK_OK(socp_sig_verify_content(pub, &dm, sig, NULL));
    free(sig);
    // The raw setting needs a ciphertext that decodes; the string form does not.
    socp_sig_content_t odd = {"not*base64", "alice", "bob", 42};
    CHECK_RC(socp_sig_sign_content(key, SOCP_RSA_SALT_MAX, SOCP_SIG_EMIT_RAW, &odd, &sig),
             SOCP_EPROTO);
    CHECK(sig == NULL);
    CHECK_OK(socp_sig_sign_content(key, SOCP_RSA_SALT_MAX, SOCP_SIG_EMIT_STRING, &odd, &sig));
    socp_sig_form_t got = SOCP_SIG_FORM_NONE;
    CHECK_OK(socp_sig_verify_content(pub, &odd, sig, &got));
    CHECK_EQ(got, SOCP_SIG_FORM_STRING);
    free(sig);
    // A public key cannot sign; NULL fields are refused.
    CHECK_RC(socp_sig_sign_content(pub, SOCP_RSA_SALT_MAX, SOCP_SIG_EMIT_STRING, &dm, &sig),
             SOCP_EINVAL);
    socp_sig_content_t missing = {NULL, "alice", "bob", 1};
    CHECK_RC(socp_sig_sign_content(key, SOCP_RSA_SALT_MAX, SOCP_SIG_EMIT_STRING, &missing, &sig),
             SOCP_EINVAL);
    CHECK_RC(socp_sig_verify_content(pub, &missing, "AAAA", NULL), SOCP_EINVAL);
    free(sig_path);
    free(ct);
    socp_rsa_destroy(&pub);
    socp_rsa_destroy(&key);
    free(pem);
}

SOCP_TEST(sig_content_malformed_signatures_rejected)
{
    socp_rsa_key_t *key = s_key("rsa4096_4p_a.pem");
    char *ct = s_ciphertext();
    socp_sig_content_t dm = {ct, "alice", "bob", 7};
    char *sig = NULL;
    CHECK_OK(socp_sig_sign_content(key, SOCP_RSA_SALT_MAX, SOCP_SIG_EMIT_STRING, &dm, &sig));
    socp_sig_form_t got = SOCP_SIG_FORM_NONE;
    // Decode and re-encode as padded standard base64: still the same signature.
    uint8_t bytes[SOCP_RSA_BYTES];
    size_t n = 0;
    CHECK_OK(socp_b64_decode_to(sig, strlen(sig), bytes, sizeof bytes, &n));
    char std[700];
    sodium_bin2base64(std, sizeof std, bytes, n, sodium_base64_VARIANT_ORIGINAL);
    CHECK_OK(socp_sig_verify_content(key, &dm, std, &got));
    // Truncated, empty, NULL, garbage, one flipped bit, 513 bytes.
    char *cut = socp_strdup(sig);
    cut[600] = '\0';
    CHECK_RC(socp_sig_verify_content(key, &dm, cut, &got), SOCP_EBADSIG);
    CHECK_RC(socp_sig_verify_content(key, &dm, "", &got), SOCP_EBADSIG);
    CHECK_RC(socp_sig_verify_content(key, &dm, NULL, &got), SOCP_EBADSIG);
    CHECK_RC(socp_sig_verify_content(key, &dm, "!!not a signature!!", &got), SOCP_EBADSIG);
    bytes[0] ^= 1;
    char *flipped = NULL;
    CHECK_OK(socp_b64_encode(bytes, sizeof bytes, &flipped));
    CHECK_RC(socp_sig_verify_content(key, &dm, flipped, &got), SOCP_EBADSIG);
    CHECK_EQ(got, SOCP_SIG_FORM_NONE);
    uint8_t longer[SOCP_RSA_BYTES + 1] = {0};
    char *long_sig = NULL;
    CHECK_OK(socp_b64_encode(longer, sizeof longer, &long_sig));
    CHECK_RC(socp_sig_verify_content(key, &dm, long_sig, &got), SOCP_EBADSIG);
    // One character of the ciphertext changed.
    ct[100] = ct[100] == 'A' ? 'B' : 'A';
    CHECK_RC(socp_sig_verify_content(key, &dm, sig, &got), SOCP_EBADSIG);
    free(long_sig);
    free(flipped);
    free(cut);
    free(sig);
    free(ct);
    socp_rsa_destroy(&key);
}

// ---- transport sig -----------------------------------------------------------

static json_t *
s_json(const char *text)
{
    json_error_t err;
    json_t *v = json_loads(text, 0, &err);
    CHECK_MSG(v != NULL, "bad test JSON: %s", err.text);
    return v;
}

SOCP_TEST(sig_payload_survives_key_reordering)
{
    socp_rsa_key_t *key = s_key("rsa4096_4p_a.pem");
    socp_rsa_key_t *pub = s_pub(key);
    json_t *payload = s_json("{\"ciphertext\":\"abc\",\"sender_pub\":\"xyz\","
                             "\"meta\":{\"z\":1,\"a\":[{\"y\":true,\"b\":null}]},\"ts\":17}");
    char *sig = NULL;
    CHECK_OK(socp_sig_sign_payload(key, SOCP_RSA_SALT_MAX, payload, &sig));
    // The same payload as another peer serialised it: keys in another order,
    // nested ones too, with whitespace.
    json_t *shuffled = s_json("{ \"ts\": 17, \"meta\": {\"a\": [{\"b\": null, \"y\": true}], "
                              "\"z\": 1}, \"sender_pub\": \"xyz\", \"ciphertext\": \"abc\" }");
    socp_sig_form_t got = SOCP_SIG_FORM_NONE;
    CHECK_OK(socp_sig_verify_payload(pub, shuffled, sig, &got));
    CHECK_EQ(got, SOCP_SIG_FORM_CANONICAL);
    // A changed value, an added key, a removed key, a type change: rejected.
    static const char *const tampered[] = {
        "{\"ciphertext\":\"abd\",\"sender_pub\":\"xyz\",\"meta\":{\"z\":1,\"a\":[{\"y\":true,"
        "\"b\":null}]},\"ts\":17}",
        "{\"ciphertext\":\"abc\",\"sender_pub\":\"xyz\",\"meta\":{\"z\":1,\"a\":[{\"y\":true,"
        "\"b\":null}]},\"ts\":17,\"extra\":0}",
        "{\"ciphertext\":\"abc\",\"sender_pub\":\"xyz\",\"meta\":{\"z\":1,\"a\":[{\"y\":true}]},"
        "\"ts\":17}",
        "{\"ciphertext\":\"abc\",\"sender_pub\":\"xyz\",\"meta\":{\"z\":1,\"a\":[{\"y\":true,"
        "\"b\":null}]},\"ts\":\"17\"}",
    };
    for (size_t i = 0; i < SOCP_ARRAY_LEN(tampered); i++) {
        json_t *t = s_json(tampered[i]);
        got = SOCP_SIG_FORM_CANONICAL;
        CHECK_RC(socp_sig_verify_payload(pub, t, sig, &got), SOCP_EBADSIG);
        CHECK_EQ(got, SOCP_SIG_FORM_NONE);
        json_decref(t);
    }
    socp_rsa_key_t *stranger = s_key("rsa4096_2p_a.pem");
    CHECK_RC(socp_sig_verify_payload(stranger, payload, sig, &got), SOCP_EBADSIG);
    CHECK_RC(socp_sig_verify_payload(pub, NULL, sig, &got), SOCP_EINVAL);
    CHECK_RC(socp_sig_sign_payload(key, SOCP_RSA_SALT_MAX, NULL, &sig), SOCP_EINVAL);
    socp_rsa_destroy(&stranger);
    json_decref(shuffled);
    json_decref(payload);
    free(sig);
    socp_rsa_destroy(&pub);
    socp_rsa_destroy(&key);
}

SOCP_TEST(sig_payload_python_forms_and_interop)
{
    char *pem = socp_test_fixture("rsa4096_2p_a.pem");
    socp_rsa_key_t *key = s_key("rsa4096_2p_a.pem");
    socp_rsa_key_t *pub = s_pub(key);
    char *json_path = socp_test_path(socp_test_tmpdir(), "payload.json");
    // Non-ASCII (Latin-1, BMP, astral) so every JSON variant differs.
    const char *text = "{\"to\":\"bob\",\"text\":\"h\xc3\xa9llo \xe2\x9c\x93 \xf0\x9f\x98\x80\","
                       "\"n\":[1,2,{\"k\":\"/path\"}]}";
    s_write(json_path, text);
    json_t *payload = s_json(text);
    const char *args[] = {"sign_json", pem, json_path, "-", socp_test_tmpdir(), NULL};
    CHECK_EQ(s_py(args), 0);
    static const struct {
        const char *file;
        socp_sig_form_t form;
    } forms[] = {{"canonical.sig", SOCP_SIG_FORM_CANONICAL},
                 {"canonical-utf8.sig", SOCP_SIG_FORM_CANONICAL_UTF8},
                 {"spaced.sig", SOCP_SIG_FORM_SPACED},
                 {"spaced-utf8.sig", SOCP_SIG_FORM_SPACED_UTF8}};
    for (size_t i = 0; i < SOCP_ARRAY_LEN(forms); i++) {
        char *path = socp_test_path(socp_test_tmpdir(), forms[i].file);
        char *sig = (char *) socp_test_read_file(path, NULL);
        socp_sig_form_t got = SOCP_SIG_FORM_NONE;
        int rc = socp_sig_verify_payload(pub, payload, sig, &got);
        CHECK_MSG(rc == 0, "python %s: %s", forms[i].file, socp_errname(rc));
        CHECK_MSG(got == forms[i].form, "%s reported as %s", forms[i].file,
                  socp_sig_form_name(got));
        free(sig);
        free(path);
    }
    // A transport sig over the pre-hashed canonical form is not accepted
    // (that variant exists only for content_sig).
    char *hashed_path = socp_test_path(socp_test_tmpdir(), "string-sha256.sig");
    char *hashed = (char *) socp_test_read_file(hashed_path, NULL);
    CHECK_RC(socp_sig_verify_payload(pub, payload, hashed, NULL), SOCP_EBADSIG);
    // Python verifies what we sign: our canonical bytes equal json.dumps(
    // sort_keys=True, separators=(",", ":")).
    char *sig = NULL;
    CHECK_OK(socp_sig_sign_payload(key, SOCP_RSA_SALT_MAX, payload, &sig));
    char *sig_path = socp_test_path(socp_test_tmpdir(), "ours.sig");
    s_write(sig_path, sig);
    const char *vargs[] = {"verify_json", pem, json_path, "-", sig_path, NULL};
    CHECK_EQ(s_py(vargs), 0);
    vargs[3] = "tampered-suffix"; // the check can fail
    CHECK_EQ(s_py(vargs), 1);
    free(sig_path);
    free(sig);
    free(hashed);
    free(hashed_path);
    json_decref(payload);
    free(json_path);
    socp_rsa_destroy(&pub);
    socp_rsa_destroy(&key);
    free(pem);
}

// ---- key share ---------------------------------------------------------------

SOCP_TEST(sig_key_share_forms)
{
    char *pem = socp_test_fixture("rsa4096_4p_b.pem");
    socp_rsa_key_t *key = s_key("rsa4096_4p_b.pem");
    socp_rsa_key_t *pub = s_pub(key);
    char *creator_pub = NULL;
    CHECK_OK(socp_rsa_public_export(key, SOCP_RSA_PUB_B64_DER, &creator_pub));
    const char *text = "[{\"member\":\"bob\",\"wrapped_public_channel_key\":\"QUJD\"},"
                       "{\"wrapped_public_channel_key\":\"REVG\",\"member\":\"car\xc3\xb6l\"}]";
    json_t *shares = s_json(text);
    // Ours: canonical + creator_pub.
    char *sig = NULL;
    CHECK_OK(socp_sig_sign_key_share(key, SOCP_RSA_SALT_MAX, shares, creator_pub, &sig));
    socp_sig_form_t got = SOCP_SIG_FORM_NONE;
    CHECK_OK(socp_sig_verify_key_share(pub, shares, creator_pub, sig, &got));
    CHECK_EQ(got, SOCP_SIG_FORM_STRING);
    // A different creator_pub, or a changed share: rejected.
    CHECK_RC(socp_sig_verify_key_share(pub, shares, "someone-else", sig, &got), SOCP_EBADSIG);
    json_t *changed =
        s_json("[{\"member\":\"bob\",\"wrapped_public_channel_key\":\"QUJE\"},"
               "{\"wrapped_public_channel_key\":\"REVG\",\"member\":\"car\xc3\xb6l\"}]");
    CHECK_RC(socp_sig_verify_key_share(pub, changed, creator_pub, sig, &got), SOCP_EBADSIG);
    json_decref(changed);
    free(sig);
    // A Python peer's variants.
    char *json_path = socp_test_path(socp_test_tmpdir(), "shares.json");
    s_write(json_path, text);
    const char *args[] = {"sign_json", pem, json_path, creator_pub, socp_test_tmpdir(), NULL};
    CHECK_EQ(s_py(args), 0);
    static const struct {
        const char *file;
        socp_sig_form_t form;
    } forms[] = {{"canonical.sig", SOCP_SIG_FORM_STRING},
                 {"string-sha256.sig", SOCP_SIG_FORM_STRING_SHA256},
                 {"canonical-utf8.sig", SOCP_SIG_FORM_CANONICAL_UTF8},
                 {"spaced.sig", SOCP_SIG_FORM_SPACED},
                 {"spaced-utf8.sig", SOCP_SIG_FORM_SPACED_UTF8}};
    for (size_t i = 0; i < SOCP_ARRAY_LEN(forms); i++) {
        char *path = socp_test_path(socp_test_tmpdir(), forms[i].file);
        char *psig = (char *) socp_test_read_file(path, NULL);
        got = SOCP_SIG_FORM_NONE;
        int rc = socp_sig_verify_key_share(pub, shares, creator_pub, psig, &got);
        CHECK_MSG(rc == 0, "python %s: %s", forms[i].file, socp_errname(rc));
        CHECK_MSG(got == forms[i].form, "%s reported as %s", forms[i].file,
                  socp_sig_form_name(got));
        free(psig);
        free(path);
    }
    CHECK_RC(socp_sig_verify_key_share(pub, shares, NULL, "x", &got), SOCP_EINVAL);
    free(json_path);
    json_decref(shares);
    free(creator_pub);
    socp_rsa_destroy(&pub);
    socp_rsa_destroy(&key);
    free(pem);
}
