// socp_uuid.c: UUID v4 identifiers and peer-id validation.
// Part of socp, a SOCP v1.3 client and server.
#include "socp/socp_uuid.h"

#include <sodium.h>
#include <stdint.h>

#include "socp/socp_text.h"

void
socp_uuid_generate(char out[SOCP_UUID_BUF])
{
    static const char hex[] = "0123456789abcdef";
    uint8_t raw[16];
    randombytes_buf(raw, sizeof raw);
    raw[6] = (uint8_t) ((raw[6] & 0x0Fu) | 0x40u); // version 4
    raw[8] = (uint8_t) ((raw[8] & 0x3Fu) | 0x80u); // variant 10xx (RFC 4122)
    size_t pos = 0;
    for (size_t i = 0; i < sizeof raw; i++) {
        if (i == 4 || i == 6 || i == 8 || i == 10) {
            out[pos++] = '-';
        }
        out[pos++] = hex[raw[i] >> 4];
        out[pos++] = hex[raw[i] & 0x0Fu];
    }
    out[pos] = '\0';
    sodium_memzero(raw, sizeof raw);
}

static bool
s_is_lower_hex(char c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
}

bool
socp_uuid_is_v4(const char *s, size_t len)
{
    if (!s || len != SOCP_UUID_LEN) {
        return false;
    }
    for (size_t i = 0; i < len; i++) {
        if (i == 8 || i == 13 || i == 18 || i == 23) {
            if (s[i] != '-') {
                return false;
            }
        } else if (!s_is_lower_hex(s[i])) {
            return false;
        }
    }
    if (s[14] != '4') {
        return false;
    }
    return s[19] == '8' || s[19] == '9' || s[19] == 'a' || s[19] == 'b';
}

// Code points that may not appear in a peer id.
static bool
s_is_forbidden(uint32_t cp)
{
    if (cp < 0x20 || (cp >= 0x7F && cp <= 0x9F)) {
        return true; // C0, DEL, C1 controls
    }
    if (cp == 0x2028 || cp == 0x2029) {
        return true; // line and paragraph separators
    }
    if ((cp >= 0x202A && cp <= 0x202E) || (cp >= 0x2066 && cp <= 0x2069) || cp == 0x200E ||
        cp == 0x200F || cp == 0x061C) {
        return true; // bidirectional marks, embeddings, overrides and isolates
    }
    return false;
}

bool
socp_uuid_is_peer_id(const char *s, size_t len)
{
    if (!s || len == 0 || len > SOCP_PEER_ID_MAX) {
        return false;
    }
    const uint8_t *p = (const uint8_t *) s;
    size_t i = 0;
    while (i < len) {
        uint32_t cp;
        size_t n = socp_text_utf8_decode(p + i, len - i, &cp);
        if (n == 0 || s_is_forbidden(cp)) {
            return false;
        }
        i += n;
    }
    return true;
}
