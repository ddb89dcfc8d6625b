// socp_text.h: UTF-8 validation and splitting long text into RSA-sized pieces.
// Part of socp, a SOCP v1.3 client and server.
//
// One RSA-4096 OAEP-SHA256 block holds at most 446 plaintext bytes, so a
// longer message is sent as several pieces. Pieces end on character
// boundaries: a multi-byte UTF-8 character is never cut, so every piece is
// valid UTF-8 on its own and the pieces concatenate back to the original.
//
// Pure functions: no global state, safe from any thread.
#ifndef SOCP_TEXT_H
#define SOCP_TEXT_H

#include "socp/socp_common.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SOCP_TEXT_PIECE_MAX 446u // RSA-4096 OAEP-SHA256: 512 - 2*32 - 2 bytes

// One piece of a split text: a byte range of the caller's text.
typedef struct {
    size_t offset; // first byte of the piece in the original text
    size_t len;    // bytes in the piece (1..max_piece)
} socp_text_piece_t;

// The result of socp_text_split. Owns `items`; release with socp_text_pieces_fini.
typedef struct {
    socp_text_piece_t *items; // `count` pieces in order, NULL when count == 0
    size_t count;             // number of pieces
} socp_text_pieces_t;

// Checks that data[0..len) is well-formed UTF-8 (RFC 3629): no overlong forms,
// no surrogates (U+D800..U+DFFF), nothing above U+10FFFF, no truncated
// sequence. NUL bytes are valid UTF-8 here (callers that forbid them check
// separately).
// @param bad_offset  if not NULL: set to the offset of the first bad byte on
//                    failure, to len on success
// @return 0 if valid, SOCP_EPROTO otherwise.
SOCP_NODISCARD int socp_text_utf8_check(const void *data, size_t len, size_t *bad_offset);

// Convenience form of socp_text_utf8_check: true when data[0..len) is valid UTF-8.
bool socp_text_utf8_valid(const void *data, size_t len);

// Decodes one UTF-8 character at s[0..len).
// @param cp  set to the code point on success, 0 on failure
// @return the number of bytes consumed (1..4), or 0 if the bytes at s do not
//         start a well-formed character (or len == 0).
size_t socp_text_utf8_decode(const uint8_t *s, size_t len, uint32_t *cp);

// True for a code point that is safe to print on a terminal: not a C0 or C1
// control, DEL, a line/paragraph separator or a bidi override/isolate.
bool socp_text_printable(uint32_t cp);

// Terminal columns a printable code point takes: 0 (combining marks,
// zero-width characters), 2 (East Asian wide and fullwidth, most emoji) or
// 1. A compact table of the common ranges, not the whole of Unicode.
unsigned socp_text_columns(uint32_t cp);

// The length of the longest prefix of the valid UTF-8 text data[0..len) that
// is at most `max` bytes and ends on a character boundary. Returns len when
// len <= max. With max >= 4 the result is > 0 for any non-empty text.
size_t socp_text_boundary(const void *data, size_t len, size_t max);

// Splits the UTF-8 text data[0..len) into pieces of at most max_piece bytes,
// each ending on a character boundary. Empty text gives zero pieces.
// @param max_piece  4..SIZE_MAX; usually SOCP_TEXT_PIECE_MAX
// @param out        zeroed on entry; on success owns the piece array
// @return 0, SOCP_EPROTO (text is not valid UTF-8), SOCP_EINVAL (max_piece < 4).
// The pieces refer to byte ranges of `data`; nothing is copied.
SOCP_NODISCARD int
socp_text_split(const void *data, size_t len, size_t max_piece, socp_text_pieces_t *out);

// Releases the piece array and zeroes *self. Safe on a zeroed struct.
void socp_text_pieces_fini(socp_text_pieces_t *self);

#endif
