// socp_text.c: UTF-8 validation and splitting long text into RSA-sized pieces.
// Part of socp, a SOCP v1.3 client and server.
#include "socp/socp_text.h"

#include <stdlib.h>
#include <string.h>

#include "socp/socp_err.h"

bool
socp_text_printable(uint32_t cp)
{
    return !(cp < 0x20 || cp == 0x7f || (cp >= 0x80 && cp < 0xa0) || cp == 0x2028 || cp == 0x2029 ||
             (cp >= 0x202a && cp <= 0x202e) || (cp >= 0x2066 && cp <= 0x2069));
}

size_t
socp_text_utf8_decode(const uint8_t *s, size_t len, uint32_t *cp)
{
    *cp = 0;
    if (len == 0) {
        return 0;
    }
    uint8_t b0 = s[0];
    if (b0 < 0x80) {
        *cp = b0;
        return 1;
    }
    // RFC 3629 section 4: the allowed ranges of the second byte depend on the first.
    size_t need;
    uint8_t lo = 0x80, hi = 0xBF;
    uint32_t value;
    if (b0 >= 0xC2 && b0 <= 0xDF) {
        need = 2;
        value = b0 & 0x1Fu;
    } else if (b0 >= 0xE0 && b0 <= 0xEF) {
        need = 3;
        value = b0 & 0x0Fu;
        if (b0 == 0xE0) {
            lo = 0xA0; // no overlong 3-byte forms
        } else if (b0 == 0xED) {
            hi = 0x9F; // no surrogates
        }
    } else if (b0 >= 0xF0 && b0 <= 0xF4) {
        need = 4;
        value = b0 & 0x07u;
        if (b0 == 0xF0) {
            lo = 0x90; // no overlong 4-byte forms
        } else if (b0 == 0xF4) {
            hi = 0x8F; // nothing above U+10FFFF
        }
    } else {
        return 0; // continuation byte, C0/C1 overlong lead, or F5..FF
    }
    if (len < need) {
        return 0;
    }
    if (s[1] < lo || s[1] > hi) {
        return 0;
    }
    value = (value << 6) | (s[1] & 0x3Fu);
    for (size_t i = 2; i < need; i++) {
        if ((s[i] & 0xC0u) != 0x80u) {
            return 0;
        }
        value = (value << 6) | (s[i] & 0x3Fu);
    }
    *cp = value;
    return need;
}

int
socp_text_utf8_check(const void *data, size_t len, size_t *bad_offset)
{
    const uint8_t *s = data;
    size_t i = 0;
    while (i < len) {
        // ASCII fast path, eight bytes at a time.
        if (len - i >= 8) {
            uint64_t word;
            memcpy(&word, s + i, sizeof word);
            if ((word & UINT64_C(0x8080808080808080)) == 0) {
                i += 8;
                continue;
            }
        }
        if (s[i] < 0x80) {
            i++;
            continue;
        }
        uint32_t cp;
        size_t n = socp_text_utf8_decode(s + i, len - i, &cp);
        if (n == 0) {
            if (bad_offset) {
                *bad_offset = i;
            }
            return SOCP_EPROTO;
        }
        i += n;
    }
    if (bad_offset) {
        *bad_offset = len;
    }
    return 0;
}

bool
socp_text_utf8_valid(const void *data, size_t len)
{
    return socp_text_utf8_check(data, len, NULL) == 0;
}

size_t
socp_text_boundary(const void *data, size_t len, size_t max)
{
    const uint8_t *s = data;
    if (len <= max) {
        return len;
    }
    // s[max] exists; back up while it is a continuation byte (10xxxxxx), so
    // the cut falls just before the lead byte of the character it belongs to.
    size_t cut = max;
    while (cut > 0 && (s[cut] & 0xC0u) == 0x80u) {
        cut--;
    }
    return cut;
}

int
socp_text_split(const void *data, size_t len, size_t max_piece, socp_text_pieces_t *out)
{
    out->items = NULL;
    out->count = 0;
    if (max_piece < 4) {
        return SOCP_EINVAL; // a 4-byte character would never fit
    }
    if (socp_text_utf8_check(data, len, NULL) != 0) {
        return SOCP_EPROTO;
    }
    if (len == 0) {
        return 0;
    }
    // Every piece except the last holds at least max_piece - 3 bytes.
    size_t cap = len / (max_piece - 3) + 1;
    socp_text_piece_t *items = socp_calloc(cap, sizeof *items);
    size_t count = 0;
    const uint8_t *s = data;
    size_t offset = 0;
    while (offset < len) {
        size_t n = socp_text_boundary(s + offset, len - offset, max_piece);
        items[count].offset = offset;
        items[count].len = n;
        count++;
        offset += n;
    }
    out->items = items;
    out->count = count;
    return 0;
}

void
socp_text_pieces_fini(socp_text_pieces_t *self)
{
    free(self->items);
    self->items = NULL;
    self->count = 0;
}
