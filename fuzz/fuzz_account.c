// fuzz_account.c: libFuzzer target for the Impl14 account parsers: the
// privkey_store text, the pake_password text, the reply classifier, and the
// USER_LOGIN builder's escaping of a password.
// Part of socp, a SOCP v1.3 client and server.
//
// Properties checked (abort on violation):
//   - socp_account_store_parse never crashes; success gives a salt of 1..64
//     bytes and a blob longer than the tag and within the limit; failure is
//     EPROTO or ETOOBIG with a reason and a zeroed result;
//   - socp_account_pake_parse: success gives a 1..64-byte salt, and the
//     value re-encoded parses back to the same salt and key;
//   - socp_account_reply on any JSON value fills only what its kind says;
//   - a password (the input, when it is one) comes back exactly from the
//     USER_LOGIN frame built around it.
#include "socp/socp_account.h"

#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "socp/socp_b64.h"
#include "socp/socp_err.h"
#include "socp/socp_json.h"
#include "socp/socp_text.h"

#include "fuzz_require.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
s_store(const char *text, size_t size)
{
    socp_account_store_t st;
    const char *why = NULL;
    int rc = socp_account_store_parse(text, size, &st, &why);
    S_REQUIRE(why != NULL);
    if (rc == 0) {
        S_REQUIRE(st.salt_len >= 1 && st.salt_len <= SOCP_ACCOUNT_SALT_MAX);
        S_REQUIRE(st.blob != NULL && st.blob_len > SOCP_ACCOUNT_TAG_LEN &&
                  st.blob_len <= SOCP_ACCOUNT_PLAIN_MAX + SOCP_ACCOUNT_TAG_LEN);
    } else {
        S_REQUIRE(rc == SOCP_EPROTO || rc == SOCP_ETOOBIG);
        S_REQUIRE(st.blob == NULL && st.salt_len == 0 && st.blob_len == 0);
    }
    socp_account_store_fini(&st);
}

static void
s_pake(const char *text, size_t size)
{
    uint8_t salt[SOCP_ACCOUNT_SALT_MAX], key[SOCP_ACCOUNT_KEY_LEN];
    size_t salt_len = 0;
    int rc = socp_account_pake_parse(text, size, salt, &salt_len, key);
    if (rc != 0) {
        S_REQUIRE(rc == SOCP_EPROTO || rc == SOCP_ETOOBIG);
        S_REQUIRE(salt_len == 0);
        return;
    }
    S_REQUIRE(salt_len >= 1 && salt_len <= SOCP_ACCOUNT_SALT_MAX);
    char a[128], b[64], again[200];
    S_REQUIRE(socp_b64_encode_to(salt, salt_len, a, sizeof a) == 0);
    S_REQUIRE(socp_b64_encode_to(key, sizeof key, b, sizeof b) == 0);
    size_t n = (size_t) snprintf(again, sizeof again, "%s.%s", a, b);
    uint8_t salt2[SOCP_ACCOUNT_SALT_MAX], key2[SOCP_ACCOUNT_KEY_LEN];
    size_t salt2_len = 0;
    S_REQUIRE(socp_account_pake_parse(again, n, salt2, &salt2_len, key2) == 0);
    S_REQUIRE(salt2_len == salt_len && memcmp(salt2, salt, salt_len) == 0);
    S_REQUIRE(memcmp(key2, key, sizeof key) == 0);
}

static void
s_reply(const char *text, size_t size)
{
    json_t *v = NULL;
    if (socp_json_parse(text, size, 64, &v) != 0) {
        return;
    }
    socp_account_reply_t r;
    socp_account_reply(v, &r);
    switch (r.kind) {
        case SOCP_ACCOUNT_REPLY_ERROR:
            S_REQUIRE(r.code && r.detail && !r.user_id);
            break;
        case SOCP_ACCOUNT_REPLY_ADDED:
        case SOCP_ACCOUNT_REPLY_REMOVED:
            S_REQUIRE(r.user_id && !r.code);
            break;
        case SOCP_ACCOUNT_REPLY_OTHER:
        case SOCP_ACCOUNT_REPLY_HELLO_ACK:
        case SOCP_ACCOUNT_REPLY_SNAPSHOT:
            S_REQUIRE(!r.user_id && !r.code && !r.privkey_store && !r.pubkey);
            break;
        default:
            S_REQUIRE(!r.code && !r.pubkey);
            break;
    }
    S_REQUIRE(strcmp(socp_account_reply_name(r.kind), "") != 0);
    json_decref(v);
}

static void
s_login(const char *pass, size_t size)
{
    char *f = NULL;
    size_t n = 0;
    int rc = socp_account_login_frame("fuzz", pass, size, 1, &f, &n);
    bool ok = size >= 1 && size <= SOCP_ACCOUNT_PASSWORD_MAX && !memchr(pass, '\0', size) &&
              socp_text_utf8_valid(pass, size);
    S_REQUIRE((rc == 0) == ok);
    if (rc != 0) {
        S_REQUIRE(f == NULL);
        return;
    }
    json_t *v = NULL;
    S_REQUIRE(socp_json_parse(f, n, 4, &v) == 0);
    const json_t *pw = json_object_get(json_object_get(v, "payload"), "password");
    S_REQUIRE(json_is_string(pw) && json_string_length(pw) == size &&
              memcmp(json_string_value(pw), pass, size) == 0);
    json_decref(v);
    sodium_free(f);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *text = (const char *) data;
    s_store(text, size);
    s_pake(text, size);
    s_reply(text, size);
    s_login(text, size);
    return 0;
}
