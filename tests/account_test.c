// account_test.c: Impl14 accounts (proto/socp_account.c): scrypt password
// check, the private key sealed under the password, the account frames,
// cross-checked against pyca/cryptography (tests/py/account_check.py).
#include "socp_test.h"

#include "socp/socp_account.h"
#include "socp/socp_json.h"
#include "socp/socp_rsa.h"

#include <sodium.h>

static const char s_pass[] = "correct horse \"battery\" staple \xc3\xa9";

// ---- helpers ---------------------------------------------------------------

static char *
s_tmp(const char *name)
{
    return socp_test_path(socp_test_tmpdir(), name);
}

static void
s_write(const char *path, const void *data, size_t len)
{
    FILE *f = fopen(path, "wb");
    CHECK(f != NULL);
    CHECK_EQ(fwrite(data, 1, len, f), len);
    CHECK(fclose(f) == 0);
}

// Writes data to a temp file `name`; returns its path (free it).
static char *
s_put(const char *name, const void *data, size_t len)
{
    char *path = s_tmp(name);
    s_write(path, data, len);
    return path;
}

static int
s_py(const char *const args[])
{
    int rc = socp_test_python("account_check.py", args, NULL, 0);
    CHECK_MSG(rc == 0 || rc == 1, "account_check.py %s could not run (status %d)", args[0], rc);
    return rc;
}

static socp_rsa_key_t *
s_key(const char *name)
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

// The key as PKCS#8 PEM, in ordinary memory (test data).
static char *
s_pem(const socp_rsa_key_t *key, size_t *len)
{
    uint8_t *pem = NULL;
    CHECK_OK(socp_rsa_private_export(key, SOCP_RSA_PRIV_PEM, &pem, len));
    char *copy = socp_memdup(pem, *len + 1);
    sodium_free(pem);
    return copy;
}

static json_t *
s_parse(const char *text)
{
    json_t *v = NULL;
    CHECK_OK(socp_json_parse(text, strlen(text), 16, &v));
    return v;
}

static const char *
s_get(const json_t *obj, const char *path1, const char *path2)
{
    const json_t *v = json_object_get(obj, path1);
    if (path2) {
        v = json_object_get(v, path2);
    }
    return json_string_value(v);
}

static int
s_open(const char *store, const char *pass)
{
    uint8_t *plain = NULL;
    size_t n = 0;
    const char *why = NULL;
    int rc = socp_account_store_open(store, store ? strlen(store) : 0, pass,
                                     pass ? strlen(pass) : 0, &plain, &n, &why);
    CHECK(why != NULL);
    if (socp_test_verbose()) {
        printf("    open: %s (%s)\n", socp_errname(rc), why);
    }
    CHECK(rc == 0 ? plain != NULL : plain == NULL);
    sodium_free(plain);
    return rc;
}

// ---- scrypt and pake_password ----------------------------------------------

// RFC 7914 section 12, the N=16384 vector (its first 32 of 64 bytes: PBKDF2
// output blocks do not depend on the length asked).
SOCP_TEST(account_scrypt_rfc7914_vector)
{
    static const uint8_t want[32] = {0x70, 0x23, 0xbd, 0xcb, 0x3a, 0xfd, 0x73, 0x48,
                                     0x46, 0x1c, 0x06, 0xcd, 0x81, 0xfd, 0x38, 0xeb,
                                     0xfd, 0xa8, 0xfb, 0xba, 0x90, 0x4f, 0x8e, 0x3e,
                                     0xa9, 0xb5, 0x43, 0xf6, 0x54, 0x5d, 0xa1, 0xf2};
    uint8_t out[SOCP_ACCOUNT_KEY_LEN];
    CHECK_OK(socp_account_scrypt("pleaseletmein", 13, (const uint8_t *) "SodiumChloride", 14, out));
    CHECK_MEMEQ(out, want, sizeof want);
    CHECK_RC(socp_account_scrypt("", 0, (const uint8_t *) "s", 1, out), SOCP_EINVAL);
    CHECK_RC(socp_account_scrypt("a\0b", 3, (const uint8_t *) "s", 1, out), SOCP_EINVAL);
    CHECK_RC(socp_account_scrypt("a", 1, (const uint8_t *) "s", 0, out), SOCP_EINVAL);
}

SOCP_TEST(account_pake_matches_python)
{
    char *pass = s_put("pass", s_pass, strlen(s_pass));
    // Fixed salt: byte for byte what the reference writes.
    uint8_t salt[SOCP_ACCOUNT_SALT_LEN];
    for (size_t i = 0; i < sizeof salt; i++) {
        salt[i] = (uint8_t) (0xf0 + i);
    }
    char *ours = NULL;
    CHECK_OK(socp_account_pake_make(s_pass, strlen(s_pass), salt, &ours));
    char *theirs_path = s_tmp("pake_py");
    CHECK_EQ(s_py((const char *[]){"pake-make", pass, "f0f1f2f3f4f5f6f7f8f9fafbfcfdfeff",
                                   theirs_path, NULL}),
             0);
    char *theirs = (char *) socp_test_read_file(theirs_path, NULL);
    CHECK_STREQ(ours, theirs);
    CHECK(strchr(ours, '=') == NULL);
    CHECK_OK(socp_account_pake_verify(s_pass, strlen(s_pass), theirs, strlen(theirs)));
    free(ours);

    // Random salt: the reference accepts ours, and refuses another password.
    CHECK_OK(socp_account_pake_make(s_pass, strlen(s_pass), NULL, &ours));
    char *pake = s_put("pake", ours, strlen(ours));
    CHECK_EQ(s_py((const char *[]){"pake-verify", pass, pake, NULL}), 0);
    char *wrong = s_put("wrong", "correct horse", 13);
    CHECK_EQ(s_py((const char *[]){"pake-verify", wrong, pake, NULL}), 1);
    CHECK_RC(socp_account_pake_verify("correct horse", 13, ours, strlen(ours)), SOCP_EAUTH);
    CHECK_RC(socp_account_pake_verify(s_pass, strlen(s_pass) - 1, ours, strlen(ours)), SOCP_EAUTH);
    CHECK_OK(socp_account_pake_verify(s_pass, strlen(s_pass), ours, strlen(ours)));
    // Two makes of one password differ (fresh salt each time).
    char *again = NULL;
    CHECK_OK(socp_account_pake_make(s_pass, strlen(s_pass), NULL, &again));
    CHECK(strcmp(again, ours) != 0);
    free(again);
    free(ours);
    free(theirs);
    free(theirs_path);
    free(pake);
    free(wrong);
    free(pass);
}

SOCP_TEST(account_pake_bad_stored_values)
{
    static const char *const bad[] = {
        "",
        "nodot",
        ".",
        "AAAAAAAAAAAAAAAAAAAAAA.",                                              // no key
        ".AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",                         // no salt
        "AAAAAAAAAAAAAAAAAAAAAA.AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",    // key 31 bytes
        "AAAAAAAAAAAAAAAAAAAAAA.AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", // key 33
        "AAAAAAAAAAAAAAAAAAAAAA.AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA.A", // two dots
        "AAAA*AAAAAAAAAAAAAAAAA.AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",   // not base64
    };
    for (size_t i = 0; i < SOCP_ARRAY_LEN(bad); i++) {
        CHECK_MSG(socp_account_pake_verify("pw", 2, bad[i], strlen(bad[i])) == SOCP_EPROTO,
                  "accepted bad pake_password #%zu", i);
    }
    // A salt over 64 bytes, and a value over the length limit.
    char big[400];
    memset(big, 'A', sizeof big);
    memcpy(big + 88, ".AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", 44);
    CHECK_RC(socp_account_pake_verify("pw", 2, big, 88 + 44), SOCP_EPROTO);
    CHECK_RC(socp_account_pake_verify("pw", 2, big, sizeof big), SOCP_ETOOBIG);
    CHECK_RC(socp_account_pake_verify("pw", 2, NULL, 0), SOCP_EPROTO);
    // A good value with a bad password argument.
    char *ok = NULL;
    CHECK_OK(socp_account_pake_make("pw", 2, NULL, &ok));
    CHECK_RC(socp_account_pake_verify("", 0, ok, strlen(ok)), SOCP_EINVAL);
    free(ok);
    char *none = (char *) 1;
    CHECK_RC(socp_account_pake_make("", 0, NULL, &none), SOCP_EINVAL);
    CHECK(none == NULL);
}

// ---- privkey_store ---------------------------------------------------------

SOCP_TEST(account_store_golden_vector_and_python_opens_ours)
{
    socp_rsa_key_t *key = s_key("rsa4096_4p_a.pem");
    size_t pem_len = 0;
    char *pem = s_pem(key, &pem_len);
    char *pass = s_put("pass", s_pass, strlen(s_pass));
    char *plain = s_put("plain", pem, pem_len);

    // Fixed salt and nonce: the same bytes as the reference's json.dumps.
    uint8_t salt[16], nonce[12];
    for (size_t i = 0; i < 16; i++) {
        salt[i] = (uint8_t) i;
    }
    for (size_t i = 0; i < 12; i++) {
        nonce[i] = (uint8_t) (0xa0 + i);
    }
    char *ours = NULL;
    CHECK_OK(socp_account_store_seal((const uint8_t *) pem, pem_len, s_pass, strlen(s_pass), salt,
                                     nonce, &ours));
    char *ref_path = s_tmp("store_py");
    CHECK_EQ(s_py((const char *[]){"store-seal", pass, plain, ref_path,
                                   "000102030405060708090a0b0c0d0e0f", "a0a1a2a3a4a5a6a7a8a9aaab",
                                   NULL}),
             0);
    char *ref = (char *) socp_test_read_file(ref_path, NULL);
    CHECK_STREQ(ours, ref);
    free(ours);

    // Random salt and nonce: the reference opens ours and gets the PEM back.
    CHECK_OK(socp_account_store_seal_key(key, s_pass, strlen(s_pass), &ours));
    CHECK(strstr(ours, "BEGIN") == NULL && strchr(ours, '=') == NULL);
    char *store = s_put("store", ours, strlen(ours));
    char *out = s_tmp("opened");
    CHECK_EQ(s_py((const char *[]){"store-open", pass, store, out, NULL}), 0);
    size_t got_len = 0;
    uint8_t *got = socp_test_read_file(out, &got_len);
    CHECK_EQ(got_len, pem_len);
    CHECK_MEMEQ(got, pem, pem_len);
    // ... and refuses it under another password.
    char *wrong = s_put("wrong", "correct horse", 13);
    CHECK_EQ(s_py((const char *[]){"store-open", wrong, store, out, NULL}), 1);
    // Each seal draws a new salt and nonce.
    char *again = NULL;
    CHECK_OK(socp_account_store_seal_key(key, s_pass, strlen(s_pass), &again));
    CHECK(strcmp(again, ours) != 0);
    free(again);
    free(got);
    free(wrong);
    free(out);
    free(store);
    free(ours);
    free(ref);
    free(ref_path);
    free(plain);
    free(pass);
    free(pem);
    socp_rsa_destroy(&key);
}

// A store sealed the way Impl14's client seals it opens here, and gives the key.
SOCP_TEST(account_store_we_open_pythons)
{
    char *fixture = socp_test_fixture("rsa4096_2p_b.pem");
    char *pass = s_put("pass", s_pass, strlen(s_pass));
    char *store_path = s_tmp("store");
    CHECK_EQ(s_py((const char *[]){"store-seal", pass, fixture, store_path, NULL}), 0);
    char *store = (char *) socp_test_read_file(store_path, NULL);
    CHECK(strstr(store, "\"salt\": \"") != NULL); // Python's spaced separators
    socp_rsa_key_t *key = NULL, *want = s_key("rsa4096_2p_b.pem");
    const char *why = NULL;
    CHECK_OK(socp_account_store_open_key(store, strlen(store), s_pass, strlen(s_pass), &key, &why));
    CHECK(socp_rsa_is_private(key));
    CHECK(socp_rsa_public_equal(key, want));
    socp_rsa_destroy(&key);
    CHECK_RC(socp_account_store_open_key(store, strlen(store), "correct horse", 13, &key, &why),
             SOCP_EAUTH);
    CHECK(key == NULL);
    CHECK(strstr(why, "wrong password") != NULL);
    // A store whose plaintext is no key: EBADKEY, not a crash.
    CHECK_EQ(s_py((const char *[]){"store-seal", pass, pass, store_path, NULL}), 0);
    free(store);
    store = (char *) socp_test_read_file(store_path, NULL);
    CHECK_RC(socp_account_store_open_key(store, strlen(store), s_pass, strlen(s_pass), &key, &why),
             SOCP_EBADKEY);
    CHECK(key == NULL);
    socp_rsa_destroy(&want);
    free(store);
    free(store_path);
    free(pass);
    free(fixture);
}

// Replaces the value of member `name` in a store text with `value`.
static char *
s_with(const char *store, const char *name, const char *value)
{
    json_t *v = s_parse(store);
    CHECK(json_object_set_new(v, name, json_string(value)) == 0);
    char *text = json_dumps(v, JSON_COMPACT);
    json_decref(v);
    return text;
}

SOCP_TEST(account_store_bad_inputs)
{
    static const char pem[] =
        "-----BEGIN PRIVATE KEY-----\nnot really\n-----END PRIVATE KEY-----\n";
    char *good = NULL;
    CHECK_OK(
        socp_account_store_seal((const uint8_t *) pem, strlen(pem), "pw", 2, NULL, NULL, &good));
    CHECK_OK(s_open(good, "pw"));
    CHECK_RC(s_open(good, "pW"), SOCP_EAUTH);
    CHECK_RC(s_open(good, ""), SOCP_EINVAL);

    json_t *v = s_parse(good);
    char blob[4096], salt[64], nonce[64];
    snprintf(blob, sizeof blob, "%s", s_get(v, "blob", NULL));
    snprintf(salt, sizeof salt, "%s", s_get(v, "salt", NULL));
    snprintf(nonce, sizeof nonce, "%s", s_get(v, "nonce", NULL));
    json_decref(v);
    size_t bl = strlen(blob);

    // Altered: a ciphertext byte, the tag, the salt, the nonce: EAUTH.
    char alt[4096];
    snprintf(alt, sizeof alt, "%s", blob);
    alt[3] = alt[3] == 'A' ? 'B' : 'A';
    char *t = s_with(good, "blob", alt);
    CHECK_RC(s_open(t, "pw"), SOCP_EAUTH);
    free(t);
    snprintf(alt, sizeof alt, "%s", blob);
    alt[bl - 2] = alt[bl - 2] == 'A' ? 'B' : 'A';
    t = s_with(good, "blob", alt);
    CHECK_RC(s_open(t, "pw"), SOCP_EAUTH);
    free(t);
    snprintf(alt, sizeof alt, "%s", salt);
    alt[0] = alt[0] == 'A' ? 'B' : 'A';
    t = s_with(good, "salt", alt);
    CHECK_RC(s_open(t, "pw"), SOCP_EAUTH);
    free(t);
    snprintf(alt, sizeof alt, "%s", nonce);
    alt[0] = alt[0] == 'A' ? 'B' : 'A';
    t = s_with(good, "nonce", alt);
    CHECK_RC(s_open(t, "pw"), SOCP_EAUTH);
    free(t);
    // Truncated blob: shorter by a block (still base64), and down to the tag.
    snprintf(alt, sizeof alt, "%s", blob);
    alt[bl - 4] = '\0';
    t = s_with(good, "blob", alt);
    CHECK_RC(s_open(t, "pw"), SOCP_EAUTH);
    free(t);
    t = s_with(good, "blob", "AAAAAAAAAAAAAAAAAAAAAA"); // 16 bytes: the tag alone
    CHECK_RC(s_open(t, "pw"), SOCP_EPROTO);
    free(t);
    t = s_with(good, "blob", "");
    CHECK_RC(s_open(t, "pw"), SOCP_EPROTO);
    free(t);
    // Malformed fields.
    t = s_with(good, "nonce", "AAAAAAAAAAAAAA"); // 10 bytes
    CHECK_RC(s_open(t, "pw"), SOCP_EPROTO);
    free(t);
    t = s_with(good, "salt", "");
    CHECK_RC(s_open(t, "pw"), SOCP_EPROTO);
    free(t);
    t = s_with(good, "salt", "not base64!");
    CHECK_RC(s_open(t, "pw"), SOCP_EPROTO);
    free(t);
    char big_salt[100];
    memset(big_salt, 'A', 88); // 66 bytes
    big_salt[88] = '\0';
    t = s_with(good, "salt", big_salt);
    CHECK_RC(s_open(t, "pw"), SOCP_EPROTO);
    free(t);
    // A blob over the plaintext limit (decoded size checked before allocating).
    size_t huge_n = (SOCP_ACCOUNT_PLAIN_MAX + 64) / 3 * 4;
    char *huge = socp_malloc(huge_n + 1);
    memset(huge, 'A', huge_n);
    huge[huge_n] = '\0';
    t = s_with(good, "blob", huge);
    CHECK_RC(s_open(t, "pw"), SOCP_EPROTO);
    free(t);
    free(huge);
    // Over the text limit: refused before parsing.
    char *long_text = socp_malloc(SOCP_ACCOUNT_STORE_MAX + 2);
    memset(long_text, ' ', SOCP_ACCOUNT_STORE_MAX + 1);
    long_text[SOCP_ACCOUNT_STORE_MAX + 1] = '\0';
    CHECK_RC(s_open(long_text, "pw"), SOCP_ETOOBIG);
    free(long_text);
    // Not the right JSON.
    static const char *const not_store[] = {
        "",
        "not json",
        "[\"salt\",\"nonce\",\"blob\"]",
        "\"a string\"",
        "{}",
        "{\"salt\":\"AAAA\",\"nonce\":\"AAAAAAAAAAAAAAAA\"}",
        "{\"salt\":1,\"nonce\":\"AAAAAAAAAAAAAAAA\",\"blob\":\"AAAA\"}",
        "{\"salt\":\"AAAA\",\"nonce\":null,\"blob\":\"AAAA\"}",
        "{\"salt\":\"AAAA\",\"salt\":\"AAAA\",\"nonce\":\"AAAAAAAAAAAAAAAA\",\"blob\":\"AAAA\"}",
        "{\"salt\":\"AAAA\",\"nonce\":\"AAAAAAAAAAAAAAAA\",\"blob\":\"AAAA\"",
    };
    for (size_t i = 0; i < SOCP_ARRAY_LEN(not_store); i++) {
        CHECK_MSG(s_open(not_store[i], "pw") == SOCP_EPROTO, "accepted bad store #%zu", i);
    }
    CHECK_RC(s_open(NULL, "pw"), SOCP_EPROTO);
    // Sealing refuses what it cannot do.
    char *none = (char *) 1;
    CHECK_RC(socp_account_store_seal((const uint8_t *) pem, 0, "pw", 2, NULL, NULL, &none),
             SOCP_EINVAL);
    CHECK(none == NULL);
    CHECK_RC(socp_account_store_seal((const uint8_t *) pem, strlen(pem), "", 0, NULL, NULL, &none),
             SOCP_EINVAL);
    uint8_t *big = socp_calloc(1, SOCP_ACCOUNT_PLAIN_MAX + 1);
    CHECK_RC(socp_account_store_seal(big, SOCP_ACCOUNT_PLAIN_MAX + 1, "pw", 2, NULL, NULL, &none),
             SOCP_ETOOBIG);
    free(big);
    socp_rsa_key_t *key = s_key("rsa4096_2p_a.pem"), *pub = NULL;
    CHECK_OK(socp_rsa_public_dup(key, &pub));
    CHECK_RC(socp_account_store_seal_key(pub, "pw", 2, &none), SOCP_EINVAL);
    socp_rsa_destroy(&pub);
    socp_rsa_destroy(&key);
    free(good);
}

// ---- frames ------------------------------------------------------------------

SOCP_TEST(account_frames)
{
    char *f = NULL;
    CHECK_OK(socp_account_register_frame("alice", "PUB", "{\"salt\": \"x\"}", "s.k", 1234, &f));
    json_t *v = s_parse(f);
    CHECK_STREQ(s_get(v, "type", NULL), "USER_REGISTER");
    CHECK_EQ(json_integer_value(json_object_get(v, "ts")), 1234);
    CHECK(!json_object_get(v, "from") && !json_object_get(v, "to") && !json_object_get(v, "sig"));
    CHECK_STREQ(s_get(v, "payload", "user_id"), "alice");
    CHECK_STREQ(s_get(v, "payload", "pubkey"), "PUB");
    CHECK_STREQ(s_get(v, "payload", "privkey_store"), "{\"salt\": \"x\"}");
    CHECK_STREQ(s_get(v, "payload", "pake_password"), "s.k");
    json_decref(v);
    free(f);

    CHECK_OK(socp_account_hello_frame("alice", "PUB", "socp-0.1.0", 99, &f));
    v = s_parse(f);
    CHECK_STREQ(s_get(v, "type", NULL), "USER_HELLO");
    CHECK_STREQ(s_get(v, "from", NULL), "alice");
    CHECK_STREQ(s_get(v, "to", NULL), "");
    CHECK_EQ(json_integer_value(json_object_get(v, "ts")), 99);
    CHECK_STREQ(s_get(v, "payload", "client"), "socp-0.1.0");
    CHECK_STREQ(s_get(v, "payload", "pubkey"), "PUB");
    CHECK_STREQ(s_get(v, "payload", "enc_pubkey"), "PUB");
    CHECK(!json_object_get(v, "sig"));
    json_decref(v);
    free(f);
    CHECK_OK(socp_account_hello_frame("alice", NULL, "c", 1, &f));
    v = s_parse(f);
    CHECK_EQ(json_object_size(json_object_get(v, "payload")), 1);
    json_decref(v);
    free(f);

    // The password comes back exactly, whatever it holds.
    static const char pw[] = "q\"uo\\te\x01\n\t \xe2\x82\xac/";
    size_t n = 0;
    CHECK_OK(socp_account_login_frame("bob", pw, strlen(pw), -5, &f, &n));
    CHECK_EQ(n, strlen(f));
    v = s_parse(f);
    CHECK_STREQ(s_get(v, "type", NULL), "USER_LOGIN");
    CHECK_EQ(json_integer_value(json_object_get(v, "ts")), -5);
    CHECK_STREQ(s_get(v, "payload", "user_id"), "bob");
    CHECK_STREQ(s_get(v, "payload", "password"), pw);
    json_decref(v);
    sodium_free(f);

    // Refusals.
    f = (char *) 1;
    CHECK_RC(socp_account_login_frame("bob", "\xff", 1, 1, &f, &n), SOCP_EINVAL);
    CHECK(f == NULL);
    CHECK_RC(socp_account_login_frame("bob", "", 0, 1, &f, &n), SOCP_EINVAL);
    CHECK_RC(socp_account_login_frame("b b", "pw", 2, 1, &f, &n), SOCP_EINVAL);
    CHECK_RC(socp_account_register_frame("", "P", "S", "K", 1, &f), SOCP_EINVAL);
    CHECK_RC(socp_account_register_frame("a", "P", "", "K", 1, &f), SOCP_EINVAL);
    CHECK_RC(socp_account_register_frame("a\xff", "P", "S", "K", 1, &f), SOCP_EINVAL);
    CHECK_RC(socp_account_hello_frame("a\nb", "P", "c", 1, &f), SOCP_EINVAL);
    CHECK_RC(socp_account_hello_frame("a", "", "c", 1, &f), SOCP_EINVAL);
    CHECK(f == NULL);
    char name[SOCP_ACCOUNT_NAME_MAX + 2];
    memset(name, 'n', sizeof name - 1);
    name[sizeof name - 1] = '\0';
    CHECK(!socp_account_name_ok(name, strlen(name)));
    CHECK(socp_account_name_ok(name, strlen(name) - 1));
    CHECK(socp_account_name_ok("\xc3\xa9mile", 6));
    CHECK(!socp_account_name_ok("", 0));
}

SOCP_TEST(account_reply_kinds)
{
    static const struct {
        const char *frame;
        socp_account_reply_kind_t kind;
    } cases[] = {
        {"{\"type\":\"USER_HELLO_ACK\",\"to\":\"\",\"payload\":{\"status\":\"ok\"}}",
         SOCP_ACCOUNT_REPLY_HELLO_ACK},
        {"{\"type\":\"USER_REGISTERED\",\"payload\":{\"user_id\":\"al\"}}",
         SOCP_ACCOUNT_REPLY_REGISTERED},
        {"{\"type\":\"USER_LOGGED_IN\",\"payload\":{\"user_id\":\"al\",\"privkey_store\":\"S\"}}",
         SOCP_ACCOUNT_REPLY_LOGGED_IN},
        {"{\"type\":\"ERROR\",\"payload\":{\"code\":\"USER_NOT_FOUND\",\"detail\":\"d\"}}",
         SOCP_ACCOUNT_REPLY_ERROR},
        {"{\"type\":\"USER_ADDED\",\"payload\":{\"user_id\":\"al\",\"pubkey\":\"P\"}}",
         SOCP_ACCOUNT_REPLY_ADDED},
        {"{\"type\":\"USER_REMOVED\",\"payload\":{\"user_id\":\"al\"}}",
         SOCP_ACCOUNT_REPLY_REMOVED},
        {"{\"type\":\"PUBLIC_CHANNEL_SNAPSHOT\",\"payload\":{}}", SOCP_ACCOUNT_REPLY_SNAPSHOT},
        {"{\"type\":\"USER_ADDED\",\"payload\":{\"user_id\":7}}", SOCP_ACCOUNT_REPLY_OTHER},
        {"{\"type\":\"USER_REMOVED\",\"payload\":[]}", SOCP_ACCOUNT_REPLY_OTHER},
        {"{\"type\":\"USER_DELIVER\",\"payload\":{}}", SOCP_ACCOUNT_REPLY_OTHER},
        {"{\"type\":3}", SOCP_ACCOUNT_REPLY_OTHER},
        {"[1,2]", SOCP_ACCOUNT_REPLY_OTHER},
    };
    for (size_t i = 0; i < SOCP_ARRAY_LEN(cases); i++) {
        json_t *v = s_parse(cases[i].frame);
        socp_account_reply_t r;
        socp_account_reply(v, &r);
        CHECK_MSG(r.kind == cases[i].kind, "case %zu: %s, expected %s", i,
                  socp_account_reply_name(r.kind), socp_account_reply_name(cases[i].kind));
        if (r.kind == SOCP_ACCOUNT_REPLY_LOGGED_IN) {
            CHECK_STREQ(r.user_id, "al");
            CHECK_STREQ(r.privkey_store, "S");
        } else if (r.kind == SOCP_ACCOUNT_REPLY_ERROR) {
            CHECK_STREQ(r.code, "USER_NOT_FOUND");
            CHECK_STREQ(r.detail, "d");
        } else if (r.kind == SOCP_ACCOUNT_REPLY_ADDED) {
            CHECK_STREQ(r.pubkey, "P");
        } else if (r.kind == SOCP_ACCOUNT_REPLY_OTHER) {
            CHECK(!r.user_id && !r.code);
        }
        json_decref(v);
    }
    json_t *v = s_parse("{\"type\":\"ERROR\",\"payload\":{}}");
    socp_account_reply_t r;
    socp_account_reply(v, &r);
    CHECK_STREQ(r.code, "");
    CHECK_STREQ(r.detail, "");
    json_decref(v);
}
