// text_test.c: UTF-8 validation and splitting text into RSA-sized pieces.
// Part of socp, a SOCP v1.3 client and server.
#include "socp_test.h"

#include "socp/socp_text.h"

// An independent reference: decode by the bit patterns, then apply RFC 3629's
// rules (shortest form, no surrogates, at most U+10FFFF).
static bool
s_reference_valid(const uint8_t *s, size_t len)
{
    size_t i = 0;
    while (i < len) {
        uint8_t b = s[i];
        size_t n;
        uint32_t cp;
        if (b < 0x80) {
            i++;
            continue;
        } else if ((b & 0xE0) == 0xC0) {
            n = 2;
            cp = b & 0x1F;
        } else if ((b & 0xF0) == 0xE0) {
            n = 3;
            cp = b & 0x0F;
        } else if ((b & 0xF8) == 0xF0) {
            n = 4;
            cp = b & 0x07;
        } else {
            return false;
        }
        if (i + n > len) {
            return false;
        }
        for (size_t k = 1; k < n; k++) {
            if ((s[i + k] & 0xC0) != 0x80) {
                return false;
            }
            cp = (cp << 6) | (s[i + k] & 0x3F);
        }
        size_t shortest = cp < 0x80 ? 1 : cp < 0x800 ? 2 : cp < 0x10000 ? 3 : 4;
        if (shortest != n || (cp >= 0xD800 && cp <= 0xDFFF) || cp > 0x10FFFF) {
            return false;
        }
        i += n;
    }
    return true;
}

SOCP_TEST(text_utf8_check_agrees_with_reference_exhaustively)
{
    // Every 1-, 2- and 3-byte sequence, and every 4-byte sequence whose lead
    // byte is F0..F7 with a sample of continuation bytes.
    uint8_t s[4];
    for (unsigned a = 0; a < 256; a++) {
        s[0] = (uint8_t) a;
        CHECK_EQ(socp_text_utf8_valid(s, 1), s_reference_valid(s, 1));
        for (unsigned b = 0; b < 256; b++) {
            s[1] = (uint8_t) b;
            CHECK_EQ(socp_text_utf8_valid(s, 2), s_reference_valid(s, 2));
            if (a < 0xC0) {
                continue; // a lead byte below C0 decides the 3-byte case alone
            }
            for (unsigned c = 0; c < 256; c++) {
                s[2] = (uint8_t) c;
                if (socp_text_utf8_valid(s, 3) != s_reference_valid(s, 3)) {
                    CHECK_MSG(0, "disagree on %02x %02x %02x", a, b, c);
                }
            }
        }
    }
    static const uint8_t cont[] = {0x00, 0x7f, 0x80, 0x8f, 0x90, 0x9f, 0xa0, 0xbf, 0xc0, 0xff};
    for (unsigned a = 0xF0; a <= 0xF7; a++) {
        for (size_t b = 0; b < sizeof cont; b++) {
            for (size_t c = 0; c < sizeof cont; c++) {
                for (size_t d = 0; d < sizeof cont; d++) {
                    uint8_t q[4] = {(uint8_t) a, cont[b], cont[c], cont[d]};
                    CHECK_EQ(socp_text_utf8_valid(q, 4), s_reference_valid(q, 4));
                }
            }
        }
    }
}

SOCP_TEST(text_utf8_check_reports_offset)
{
    size_t bad = 99;
    CHECK_OK(socp_text_utf8_check("plain ascii text", 16, &bad));
    CHECK_EQ(bad, 16);
    CHECK_OK(socp_text_utf8_check("", 0, &bad));
    CHECK_EQ(bad, 0);
    // Long ASCII run (fast path) then a bad byte at offset 37.
    char s[64];
    memset(s, 'a', sizeof s);
    s[37] = (char) 0xC0;
    CHECK_RC(socp_text_utf8_check(s, sizeof s, &bad), SOCP_EPROTO);
    CHECK_EQ(bad, 37);
    // Truncated 4-byte character at the very end.
    CHECK_RC(socp_text_utf8_check("ok\xf0\x9f\x98", 5, &bad), SOCP_EPROTO);
    CHECK_EQ(bad, 2);
    uint32_t cp;
    CHECK_EQ(socp_text_utf8_decode((const uint8_t *) "\xf0\x9f\x98\x80", 4, &cp), 4);
    CHECK_EQ(cp, 0x1F600);
    CHECK_EQ(socp_text_utf8_decode((const uint8_t *) "\xe2\x82", 2, &cp), 0);
    CHECK_EQ(cp, 0);
}

// Splits, then checks: every piece <= max, non-empty, valid UTF-8 on its own,
// maximal (the next character would not have fitted), contiguous, and the
// concatenation is the original.
static void
s_check_split(const uint8_t *text, size_t len, size_t max)
{
    socp_text_pieces_t p;
    CHECK_OK(socp_text_split(text, len, max, &p));
    size_t offset = 0;
    for (size_t i = 0; i < p.count; i++) {
        CHECK_EQ(p.items[i].offset, offset);
        CHECK(p.items[i].len > 0 && p.items[i].len <= max);
        CHECK(socp_text_utf8_valid(text + offset, p.items[i].len));
        size_t end = offset + p.items[i].len;
        if (end < len) {
            // The following character starts at `end` and did not fit.
            uint32_t cp;
            size_t n = socp_text_utf8_decode(text + end, len - end, &cp);
            CHECK(n > 0);
            CHECK(p.items[i].len + n > max);
        }
        offset = end;
    }
    CHECK_EQ(offset, len);
    socp_text_pieces_fini(&p);
    CHECK(p.items == NULL && p.count == 0);
}

SOCP_TEST(text_split_at_446_with_multibyte_characters_on_the_boundary)
{
    static const char *chars[] = {"\xc3\xa9", "\xe6\x97\xa5", "\xf0\x9f\x98\x80"};
    uint8_t buf[2048];
    for (size_t c = 0; c < 3; c++) {
        size_t clen = strlen(chars[c]);
        // Put the character at every offset that straddles or touches 446.
        for (size_t k = SOCP_TEXT_PIECE_MAX - 5; k <= SOCP_TEXT_PIECE_MAX; k++) {
            memset(buf, 'a', k);
            memcpy(buf + k, chars[c], clen);
            memset(buf + k + clen, 'b', 100);
            size_t len = k + clen + 100;
            socp_text_pieces_t p;
            CHECK_OK(socp_text_split(buf, len, SOCP_TEXT_PIECE_MAX, &p));
            CHECK_EQ(p.count, 2);
            // Either the character fits (the piece is then filled up to 446
            // with the 'b's after it), or the cut falls just before it.
            size_t want_first = (k + clen <= SOCP_TEXT_PIECE_MAX) ? SOCP_TEXT_PIECE_MAX : k;
            CHECK_EQ(p.items[0].len, want_first);
            CHECK(socp_text_utf8_valid(buf, p.items[0].len));
            CHECK(socp_text_utf8_valid(buf + p.items[0].len, len - p.items[0].len));
            socp_text_pieces_fini(&p);
            s_check_split(buf, len, SOCP_TEXT_PIECE_MAX);
        }
        // A text of only this character: pieces hold floor(446 / clen) of them.
        size_t count = sizeof buf / clen;
        for (size_t i = 0; i < count; i++) {
            memcpy(buf + i * clen, chars[c], clen);
        }
        socp_text_pieces_t p;
        CHECK_OK(socp_text_split(buf, count * clen, SOCP_TEXT_PIECE_MAX, &p));
        CHECK_EQ(p.items[0].len, (SOCP_TEXT_PIECE_MAX / clen) * clen);
        socp_text_pieces_fini(&p);
        s_check_split(buf, count * clen, SOCP_TEXT_PIECE_MAX);
    }
}

SOCP_TEST(text_split_reassembles_random_text)
{
    // Deterministic pseudo-random text mixing 1- to 4-byte characters.
    uint32_t state = 12345;
    uint8_t *buf = socp_malloc(20000);
    for (int round = 0; round < 200; round++) {
        size_t len = 0;
        size_t target = (size_t) (round * 97) % 5000;
        while (len + 4 <= target) {
            state = state * 1103515245u + 12345u;
            uint32_t pick = (state >> 16) % 4;
            uint32_t cp = pick == 0   ? 0x20 + (state >> 8) % 0x5F
                          : pick == 1 ? 0x80 + (state >> 8) % 0x780
                          : pick == 2 ? 0xE000 + (state >> 8) % 0x1000
                                      : 0x10000 + (state >> 4) % 0x100000;
            if (cp < 0x80) {
                buf[len++] = (uint8_t) cp;
            } else if (cp < 0x800) {
                buf[len++] = (uint8_t) (0xC0 | (cp >> 6));
                buf[len++] = (uint8_t) (0x80 | (cp & 0x3F));
            } else if (cp < 0x10000) {
                buf[len++] = (uint8_t) (0xE0 | (cp >> 12));
                buf[len++] = (uint8_t) (0x80 | ((cp >> 6) & 0x3F));
                buf[len++] = (uint8_t) (0x80 | (cp & 0x3F));
            } else {
                buf[len++] = (uint8_t) (0xF0 | (cp >> 18));
                buf[len++] = (uint8_t) (0x80 | ((cp >> 12) & 0x3F));
                buf[len++] = (uint8_t) (0x80 | ((cp >> 6) & 0x3F));
                buf[len++] = (uint8_t) (0x80 | (cp & 0x3F));
            }
        }
        CHECK(socp_text_utf8_valid(buf, len));
        s_check_split(buf, len, SOCP_TEXT_PIECE_MAX);
        s_check_split(buf, len, 4);
        s_check_split(buf, len, 5 + (size_t) round % 11);
    }
    free(buf);
}

SOCP_TEST(text_split_edge_cases)
{
    socp_text_pieces_t p;
    CHECK_OK(socp_text_split("", 0, SOCP_TEXT_PIECE_MAX, &p));
    CHECK_EQ(p.count, 0);
    CHECK(p.items == NULL);
    char ascii[892];
    memset(ascii, 'x', sizeof ascii);
    CHECK_OK(socp_text_split(ascii, sizeof ascii, SOCP_TEXT_PIECE_MAX, &p));
    CHECK_EQ(p.count, 2);
    CHECK_EQ(p.items[0].len, 446);
    CHECK_EQ(p.items[1].offset, 446);
    CHECK_EQ(p.items[1].len, 446);
    socp_text_pieces_fini(&p);
    CHECK_OK(socp_text_split(ascii, 446, SOCP_TEXT_PIECE_MAX, &p));
    CHECK_EQ(p.count, 1);
    socp_text_pieces_fini(&p);
    CHECK_RC(socp_text_split(ascii, 10, 3, &p), SOCP_EINVAL);
    CHECK_RC(socp_text_split("ab\xe2\x82", 4, SOCP_TEXT_PIECE_MAX, &p), SOCP_EPROTO);
    CHECK(p.items == NULL && p.count == 0);
    socp_text_pieces_fini(&p); // safe on the zeroed result
    CHECK_EQ(socp_text_boundary("a\xc3\xa9", 3, 2), 1);
    CHECK_EQ(socp_text_boundary("a\xc3\xa9", 3, 3), 3);
}
