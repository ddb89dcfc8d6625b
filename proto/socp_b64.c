// socp_b64.c: base64url encoding and lenient base64 decoding (libsodium, with
// a table-driven fast path for the common unpadded case).
// Part of socp, a SOCP v1.3 client and server.
#include "socp/socp_b64.h"

#include <sodium.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "socp/socp_err.h"

// Largest input we agree to encode: keeps every length computation in range.
#define S_MAX_ENCODE (SIZE_MAX / 4 - 4)

size_t
socp_b64_encoded_len(size_t len)
{
    size_t rem = len % 3;
    return len / 3 * 4 + (rem ? rem + 1 : 0);
}

size_t
socp_b64_decoded_len(const char *text, size_t text_len)
{
    size_t pads = 0;
    while (pads < 2 && text_len > pads && text[text_len - 1 - pads] == '=') {
        pads++;
    }
    size_t n = text_len - pads;
    size_t rem = n % 4;
    if (rem == 1) {
        return 0;
    }
    if (pads > 0 && (text_len % 4 != 0 || (rem == 2 && pads != 2) || (rem == 3 && pads != 1))) {
        return 0;
    }
    return n / 4 * 3 + (rem ? rem - 1 : 0);
}

int
socp_b64_encode_to(const void *data, size_t len, char *out, size_t cap)
{
    if (len > S_MAX_ENCODE || cap < socp_b64_encoded_len(len) + 1) {
        if (cap > 0) {
            out[0] = '\0';
        }
        return SOCP_ETOOBIG;
    }
    if (len == 0) {
        out[0] = '\0';
        return 0;
    }
    sodium_bin2base64(out, cap, data, len, sodium_base64_VARIANT_URLSAFE_NO_PADDING);
    return 0;
}

int
socp_b64_encode(const void *data, size_t len, char **out)
{
    *out = NULL;
    if (len > S_MAX_ENCODE) {
        return SOCP_ETOOBIG;
    }
    size_t cap = socp_b64_encoded_len(len) + 1;
    char *text = socp_malloc(cap);
    int rc = socp_b64_encode_to(data, len, text, cap);
    if (rc != 0) {
        free(text);
        return rc;
    }
    *out = text;
    return 0;
}

// Picks the libsodium variant for `text`: which alphabet its characters use
// and whether it ends in padding. Returns -1 if both alphabets appear or a
// character is outside both.
static int
s_variant(const char *text, size_t text_len)
{
    bool url = false, std = false, padded = false;
    for (size_t i = 0; i < text_len; i++) {
        char c = text[i];
        if (c == '-' || c == '_') {
            url = true;
        } else if (c == '+' || c == '/') {
            std = true;
        } else if (c == '=') {
            padded = true;
        } else if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'))) {
            return -1;
        }
    }
    if (url && std) {
        return -1;
    }
    if (std) {
        return padded ? sodium_base64_VARIANT_ORIGINAL : sodium_base64_VARIANT_ORIGINAL_NO_PADDING;
    }
    return padded ? sodium_base64_VARIANT_URLSAFE : sodium_base64_VARIANT_URLSAFE_NO_PADDING;
}

// Sextet of each byte in either alphabet ('-'/'+' = 62, '_'/'/' = 63), -1 if
// none. Ciphertexts, signatures and public keys are public, so a table
// (not constant time) is fine here; libsodium's decoder costs ~4x more.
static const int8_t s_sextet[256] = {
    -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
    -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, 62, -1, 62, -1, 63,
    52, 53, 54, 55, 56, 57, 58, 59, 60, 61, -1, -1, -1, -1, -1, -1, -1, 0,  1,  2,  3,  4,  5,  6,
    7,  8,  9,  10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, -1, -1, -1, -1, 63,
    -1, 26, 27, 28, 29, 30, 31, 32, 33, 34, 35, 36, 37, 38, 39, 40, 41, 42, 43, 44, 45, 46, 47, 48,
    49, 50, 51, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
    -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
    -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
    -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
    -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
    -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
};

// The common case, fast: unpadded text in one alphabet with zero trailing
// bits. Returns false for anything else (padding, a bad character, mixed
// alphabets, a stray bit), which the careful path below then judges.
static bool
s_fast_decode(const char *text, size_t text_len, uint8_t *out, size_t *got)
{
    if (text_len % 4 == 1) {
        return false;
    }
    const unsigned char *t = (const unsigned char *) text;
    bool url = false, std = false;
    size_t o = 0, i = 0;
    for (; i + 4 <= text_len; i += 4) {
        int a = s_sextet[t[i]], b = s_sextet[t[i + 1]], c = s_sextet[t[i + 2]],
            d = s_sextet[t[i + 3]];
        if ((a | b | c | d) < 0) {
            return false;
        }
        uint32_t v = (uint32_t) a << 18 | (uint32_t) b << 12 | (uint32_t) c << 6 | (uint32_t) d;
        out[o++] = (uint8_t) (v >> 16);
        out[o++] = (uint8_t) (v >> 8);
        out[o++] = (uint8_t) v;
    }
    size_t rest = text_len - i;
    if (rest) {
        int a = s_sextet[t[i]], b = s_sextet[t[i + 1]], c = rest == 3 ? s_sextet[t[i + 2]] : 0;
        if ((a | b | c) < 0 || (rest == 2 && (b & 0x0f)) || (rest == 3 && (c & 0x03))) {
            return false;
        }
        uint32_t v = (uint32_t) a << 18 | (uint32_t) b << 12 | (uint32_t) c << 6;
        out[o++] = (uint8_t) (v >> 16);
        if (rest == 3) {
            out[o++] = (uint8_t) (v >> 8);
        }
    }
    for (size_t k = 0; k < text_len; k++) { // one alphabet only
        url |= t[k] == '-' || t[k] == '_';
        std |= t[k] == '+' || t[k] == '/';
    }
    if (url && std) {
        return false;
    }
    *got = o;
    return true;
}

int
socp_b64_decode_to(const char *text, size_t text_len, uint8_t *out, size_t cap, size_t *out_len)
{
    *out_len = 0;
    if (text_len == 0) {
        return 0;
    }
    size_t want = socp_b64_decoded_len(text, text_len);
    if (want == 0) {
        return SOCP_EPROTO;
    }
    size_t fast = 0;
    if (want <= cap && s_fast_decode(text, text_len, out, &fast) && fast == want) {
        *out_len = fast;
        return 0;
    }
    int variant = s_variant(text, text_len);
    if (variant < 0) {
        return SOCP_EPROTO;
    }
    if (want > cap) {
        return SOCP_ETOOBIG;
    }
    size_t got = 0;
    // With b64_end == NULL libsodium fails unless the whole input is consumed;
    // it also rejects misplaced padding and non-zero trailing bits.
    if (sodium_base642bin(out, cap, text, text_len, NULL, &got, NULL, variant) != 0 ||
        got != want) {
        return SOCP_EPROTO;
    }
    *out_len = got;
    return 0;
}

int
socp_b64_decode(const char *text, size_t text_len, size_t max_len, uint8_t **out, size_t *out_len)
{
    *out = NULL;
    *out_len = 0;
    size_t want = socp_b64_decoded_len(text, text_len);
    if (want == 0 && text_len != 0) {
        return SOCP_EPROTO;
    }
    if (want > max_len) {
        return SOCP_ETOOBIG;
    }
    uint8_t *bytes = socp_malloc(want ? want : 1);
    size_t got = 0;
    int rc = socp_b64_decode_to(text, text_len, bytes, want, &got);
    if (rc != 0) {
        free(bytes);
        return rc;
    }
    *out = bytes;
    *out_len = got;
    return 0;
}
