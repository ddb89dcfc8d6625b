// b64_test.c: base64url encoding and the lenient decoder.
#include "socp_test.h"

#include "socp/socp_b64.h"

#include <sodium.h>

// Decodes `text` and expects `code`.
static void
s_decode_rc(const char *text, int code)
{
    uint8_t *out = NULL;
    size_t len = 99;
    int rc = socp_b64_decode(text, strlen(text), 1024, &out, &len);
    CHECK_MSG(rc == code, "\"%s\": got %s, expected %s", text, socp_errname(rc),
              socp_errname(code));
    if (rc != 0) {
        CHECK(out == NULL);
        CHECK_EQ(len, 0);
    }
    free(out);
}

// Decodes `text` and expects exactly the bytes `want`.
static void
s_decode_eq(const char *text, const void *want, size_t want_len)
{
    uint8_t *out = NULL;
    size_t len = 0;
    int rc = socp_b64_decode(text, strlen(text), 1024, &out, &len);
    CHECK_MSG(rc == 0, "\"%s\": %s", text, socp_errname(rc));
    CHECK_MSG(len == want_len && memcmp(out, want, len) == 0, "\"%s\" decoded wrongly", text);
    free(out);
}

SOCP_TEST(b64_rfc4648_vectors)
{
    // RFC 4648 section 10, without padding.
    static const char *const plain[] = {"", "f", "fo", "foo", "foob", "fooba", "foobar"};
    static const char *const enc[] = {"", "Zg", "Zm8", "Zm9v", "Zm9vYg", "Zm9vYmE", "Zm9vYmFy"};
    static const char *const padded[] = {"",         "Zg==",     "Zm8=",    "Zm9v",
                                         "Zm9vYg==", "Zm9vYmE=", "Zm9vYmFy"};
    for (size_t i = 0; i < SOCP_ARRAY_LEN(plain); i++) {
        char *text = NULL;
        CHECK_OK(socp_b64_encode(plain[i], strlen(plain[i]), &text));
        CHECK_STREQ(text, enc[i]);
        CHECK_EQ(socp_b64_encoded_len(strlen(plain[i])), strlen(enc[i]));
        free(text);
        s_decode_eq(enc[i], plain[i], strlen(plain[i]));
        s_decode_eq(padded[i], plain[i], strlen(plain[i]));
        CHECK_EQ(socp_b64_decoded_len(padded[i], strlen(padded[i])), strlen(plain[i]));
    }
}

SOCP_TEST(b64_url_alphabet_emitted_both_accepted)
{
    static const uint8_t bytes[] = {0xfb, 0xff, 0xbf, 0xfe};
    char *text = NULL;
    CHECK_OK(socp_b64_encode(bytes, sizeof bytes, &text));
    CHECK_STREQ(text, "-_-__g"); // URL alphabet, no padding
    free(text);
    s_decode_eq("-_-__g", bytes, sizeof bytes);   // base64url
    s_decode_eq("-_-__g==", bytes, sizeof bytes); // base64url, padded
    s_decode_eq("+/+//g", bytes, sizeof bytes);   // standard
    s_decode_eq("+/+//g==", bytes, sizeof bytes); // standard, padded
}

SOCP_TEST(b64_decode_rejects_garbage)
{
    s_decode_rc("-_+/", SOCP_EPROTO);         // both alphabets at once
    s_decode_rc("Zm9v!", SOCP_EPROTO);        // a character in neither
    s_decode_rc("Zm9 v", SOCP_EPROTO);        // whitespace
    s_decode_rc("Zm9v\n", SOCP_EPROTO);       // trailing newline
    s_decode_rc("Zm9vY", SOCP_EPROTO);        // length 1 mod 4
    s_decode_rc("Zg=", SOCP_EPROTO);          // short padding
    s_decode_rc("Zg===", SOCP_EPROTO);        // too much padding
    s_decode_rc("Zm8==", SOCP_EPROTO);        // wrong padding for the length
    s_decode_rc("Z=g=", SOCP_EPROTO);         // padding in the middle
    s_decode_rc("=Zg=", SOCP_EPROTO);         // padding at the start
    s_decode_rc("Zh", SOCP_EPROTO);           // non-zero trailing bits (not canonical)
    s_decode_rc("Zm9=", SOCP_EPROTO);         // non-zero trailing bits, padded
    s_decode_rc("====", SOCP_EPROTO);         // padding only
    s_decode_rc("Zm9v\xc3\xa9", SOCP_EPROTO); // non-ASCII
    uint8_t *out = NULL;
    size_t len = 0;
    CHECK_RC(socp_b64_decode("Zm\0v", 4, 16, &out, &len), SOCP_EPROTO); // embedded NUL
    s_decode_eq("", "", 0);
}

SOCP_TEST(b64_decode_caps_size_before_allocating)
{
    uint8_t *out = NULL;
    size_t len = 0;
    // "Zm9vYmFy" is 6 bytes: a 5-byte limit refuses it, a 6-byte one accepts.
    CHECK_RC(socp_b64_decode("Zm9vYmFy", 8, 5, &out, &len), SOCP_ETOOBIG);
    CHECK(out == NULL);
    CHECK_OK(socp_b64_decode("Zm9vYmFy", 8, 6, &out, &len));
    CHECK_EQ(len, 6);
    free(out);
    // The size check happens before any decoding: a huge claimed length is
    // refused without reading it (the text here is 1 MiB of 'A').
    size_t big = 1 << 20;
    char *text = socp_malloc(big);
    memset(text, 'A', big);
    CHECK_RC(socp_b64_decode(text, big, 4096, &out, &len), SOCP_ETOOBIG);
    free(text);
    // Caller buffers: exact fit works, one byte short does not.
    uint8_t buf[6];
    CHECK_OK(socp_b64_decode_to("Zm9vYmFy", 8, buf, 6, &len));
    CHECK_MEMEQ(buf, "foobar", 6);
    CHECK_RC(socp_b64_decode_to("Zm9vYmFy", 8, buf, 5, &len), SOCP_ETOOBIG);
    CHECK_EQ(len, 0);
    char small[8];
    CHECK_RC(socp_b64_encode_to("foobar", 6, small, 8), SOCP_ETOOBIG); // needs 9
    char fits[9];
    CHECK_OK(socp_b64_encode_to("foobar", 6, fits, sizeof fits));
    CHECK_STREQ(fits, "Zm9vYmFy");
}

SOCP_TEST(b64_random_round_trips)
{
    uint8_t data[1100];
    for (size_t len = 0; len <= sizeof data; len += (len < 20 ? 1 : 37)) {
        randombytes_buf(data, len);
        char *text = NULL;
        CHECK_OK(socp_b64_encode(data, len, &text));
        CHECK_EQ(strlen(text), socp_b64_encoded_len(len));
        CHECK(strpbrk(text, "+/=") == NULL);
        CHECK_EQ(socp_b64_decoded_len(text, strlen(text)), len);
        uint8_t *back = NULL;
        size_t back_len = 0;
        CHECK_OK(socp_b64_decode(text, strlen(text), len, &back, &back_len));
        CHECK_EQ(back_len, len);
        CHECK_MEMEQ(back, data, len);
        free(back);
        free(text);
    }
    // 512 bytes (a signature or ciphertext) are 683 characters.
    CHECK_EQ(socp_b64_encoded_len(512), 683);
}

// The table-driven fast path and libsodium agree on every input: random
// strings over both alphabets, padding and a stray character, decoded by
// socp_b64_decode_to and by libsodium in each of its four variants (an
// input is good when exactly the variant its characters call for takes it
// whole, with no trailing bits).
SOCP_TEST(b64_fast_path_agrees_with_libsodium)
{
    static const char alphabet[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_+/=!";
    uint32_t seed = 12345;
    int accepted = 0;
    for (int round = 0; round < 200000; round++) {
        char text[80];
        seed = seed * 1103515245u + 12345u;
        size_t len = (seed >> 16) % 40;
        bool url_only = (seed >> 8) & 1, std_only = (seed >> 9) & 1;
        for (size_t i = 0; i < len; i++) {
            seed = seed * 1103515245u + 12345u;
            size_t n = (seed >> 16) % 200 == 0 ? sizeof alphabet - 1 : 62; // rarely exotic
            char c = alphabet[(seed >> 8) % n];
            if (n == 62 && (seed >> 20) % 8 == 0) {
                c = url_only   ? "-_"[(seed >> 4) & 1]
                    : std_only ? "+/"[(seed >> 4) & 1]
                               : "-_+/"[(seed >> 4) & 3];
            }
            text[i] = c;
        }
        if (len >= 2 && (seed >> 24) % 16 == 0) { // sometimes padded
            text[len - 1] = '=';
            if ((seed >> 28) & 1) {
                text[len - 2] = '=';
            }
        }
        text[len] = '\0';
        uint8_t a[64], b[64];
        size_t alen = 0;
        int rc = socp_b64_decode_to(text, len, a, sizeof a, &alen);
        // Reference: the variant the characters call for, then libsodium.
        bool url = strpbrk(text, "-_"), std = strpbrk(text, "+/"), pad = strchr(text, '=');
        int variant =
            std ? (pad ? sodium_base64_VARIANT_ORIGINAL : sodium_base64_VARIANT_ORIGINAL_NO_PADDING)
                : (pad ? sodium_base64_VARIANT_URLSAFE : sodium_base64_VARIANT_URLSAFE_NO_PADDING);
        size_t blen = 0;
        bool ref_ok = len == 0 ||
                      (!(url && std) && !strchr(text, '!') &&
                       sodium_base642bin(b, sizeof b, text, len, NULL, &blen, NULL, variant) == 0 &&
                       blen == socp_b64_decoded_len(text, len));
        CHECK_MSG((rc == 0) == ref_ok, "\"%s\": socp %s, libsodium %s", text, socp_errname(rc),
                  ref_ok ? "accepts" : "refuses");
        if (rc == 0 && len) {
            CHECK_MSG(alen == blen && memcmp(a, b, alen) == 0, "\"%s\" decoded differently", text);
            accepted++;
        }
    }
    CHECK(accepted > 20000); // the random inputs do reach the fast path
}
