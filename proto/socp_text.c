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

typedef struct {
    uint32_t lo, hi;
} s_range_t;

static const s_range_t s_zero_width[] = {
    {0x0300, 0x036F}, {0x0483, 0x0489}, {0x0591, 0x05BD},   {0x05BF, 0x05BF},   {0x05C1, 0x05C2},
    {0x05C4, 0x05C5}, {0x05C7, 0x05C7}, {0x0610, 0x061A},   {0x064B, 0x065F},   {0x0670, 0x0670},
    {0x06D6, 0x06DC}, {0x06DF, 0x06E4}, {0x06E7, 0x06E8},   {0x06EA, 0x06ED},   {0x0900, 0x0902},
    {0x093A, 0x093A}, {0x093C, 0x093C}, {0x0941, 0x0948},   {0x094D, 0x094D},   {0x0951, 0x0957},
    {0x0962, 0x0963}, {0x0E31, 0x0E31}, {0x0E34, 0x0E3A},   {0x0E47, 0x0E4E},   {0x1AB0, 0x1AFF},
    {0x1DC0, 0x1DFF}, {0x200B, 0x200F}, {0x2060, 0x2064},   {0x20D0, 0x20FF},   {0xFE00, 0xFE0F},
    {0xFE20, 0xFE2F}, {0xFEFF, 0xFEFF}, {0x1F3FB, 0x1F3FF}, {0xE0000, 0xE007F}, {0xE0100, 0xE01EF},
};

static const s_range_t s_wide[] = {
    {0x1100, 0x115F},   {0x231A, 0x231B},   {0x2329, 0x232A},   {0x23E9, 0x23EC},
    {0x23F0, 0x23F0},   {0x23F3, 0x23F3},   {0x25FD, 0x25FE},   {0x2614, 0x2615},
    {0x2648, 0x2653},   {0x267F, 0x267F},   {0x2693, 0x2693},   {0x26A1, 0x26A1},
    {0x26AA, 0x26AB},   {0x26BD, 0x26BE},   {0x26C4, 0x26C5},   {0x26CE, 0x26CE},
    {0x26D4, 0x26D4},   {0x26EA, 0x26EA},   {0x26F2, 0x26F3},   {0x26F5, 0x26F5},
    {0x26FA, 0x26FA},   {0x26FD, 0x26FD},   {0x2705, 0x2705},   {0x270A, 0x270B},
    {0x2728, 0x2728},   {0x274C, 0x274C},   {0x274E, 0x274E},   {0x2753, 0x2755},
    {0x2757, 0x2757},   {0x2795, 0x2797},   {0x27B0, 0x27B0},   {0x27BF, 0x27BF},
    {0x2B1B, 0x2B1C},   {0x2B50, 0x2B50},   {0x2B55, 0x2B55},   {0x2E80, 0x303E},
    {0x3041, 0x33FF},   {0x3400, 0x4DBF},   {0x4E00, 0x9FFF},   {0xA000, 0xA4CF},
    {0xA960, 0xA97F},   {0xAC00, 0xD7A3},   {0xF900, 0xFAFF},   {0xFE10, 0xFE19},
    {0xFE30, 0xFE6F},   {0xFF00, 0xFF60},   {0xFFE0, 0xFFE6},   {0x16FE0, 0x16FE4},
    {0x17000, 0x18AFF}, {0x1B000, 0x1B2FF}, {0x1F004, 0x1F004}, {0x1F0CF, 0x1F0CF},
    {0x1F18E, 0x1F18E}, {0x1F191, 0x1F19A}, {0x1F200, 0x1F251}, {0x1F300, 0x1F320},
    {0x1F32D, 0x1F335}, {0x1F337, 0x1F37C}, {0x1F37E, 0x1F393}, {0x1F3A0, 0x1F3CA},
    {0x1F3CF, 0x1F3D3}, {0x1F3E0, 0x1F3F0}, {0x1F3F4, 0x1F3F4}, {0x1F3F8, 0x1F3FA},
    {0x1F400, 0x1F4FF}, {0x1F500, 0x1F53D}, {0x1F54B, 0x1F54E}, {0x1F550, 0x1F567},
    {0x1F57A, 0x1F57A}, {0x1F595, 0x1F596}, {0x1F5A4, 0x1F5A4}, {0x1F5FB, 0x1F64F},
    {0x1F680, 0x1F6C5}, {0x1F6CC, 0x1F6CC}, {0x1F6D0, 0x1F6D2}, {0x1F6D5, 0x1F6D7},
    {0x1F6DC, 0x1F6DF}, {0x1F6EB, 0x1F6EC}, {0x1F6F4, 0x1F6FC}, {0x1F7E0, 0x1F7EB},
    {0x1F7F0, 0x1F7F0}, {0x1F90C, 0x1F93A}, {0x1F93C, 0x1F945}, {0x1F947, 0x1F9FF},
    {0x1FA70, 0x1FAFF}, {0x20000, 0x2FFFD}, {0x30000, 0x3FFFD},
};

static bool
s_in(const s_range_t *r, size_t n, uint32_t cp)
{
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (cp < r[mid].lo) {
            hi = mid;
        } else if (cp > r[mid].hi) {
            lo = mid + 1;
        } else {
            return true;
        }
    }
    return false;
}

unsigned
socp_text_columns(uint32_t cp)
{
    if (cp < 0x300) {
        return 1;
    }
    if (s_in(s_zero_width, sizeof s_zero_width / sizeof *s_zero_width, cp)) {
        return 0;
    }
    return s_in(s_wide, sizeof s_wide / sizeof *s_wide, cp) ? 2 : 1;
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
