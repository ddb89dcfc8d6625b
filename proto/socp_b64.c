// socp_b64.c: base64url encoding and lenient base64 decoding over libsodium.
// Part of socp, a SOCP v1.3 client and server.
#include "socp/socp_b64.h"

#include <sodium.h>
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
