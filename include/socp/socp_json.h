// socp_json.h: canonical JSON (the bytes SOCP signs) and a strict JSON parser.
// Part of socp, a SOCP v1.3 client and server.
//
// Canonical form (docs/protocol.md, "Canonical JSON"): byte for byte what
// Python's json.dumps(v, sort_keys=True, separators=(",", ":")) writes.
//   - object keys sorted recursively by Unicode code point (UTF-8 byte order);
//   - no whitespace; integers in plain decimal; true/false/null;
//   - strings: \" \\ \n \r \t \b \f, other C0 controls as \u00XX; "/" is not
//     escaped; in the default ASCII form every non-ASCII character and DEL
//     (0x7f) is written as \uXXXX with lowercase hex, characters above
//     U+FFFF as a surrogate pair;
//   - reals as Python's repr(float): shortest round-trip digits, "1.0",
//     "1e+16", "1e-05", "-0.0". NaN and infinities (which jansson cannot
//     hold anyway) are rejected.
// The variants used by deployed peers: SOCP_JSON_CANON_UTF8 (ensure_ascii=False:
// raw UTF-8, DEL raw, only C0 controls, quote and backslash escaped) and
// SOCP_JSON_CANON_SPACED (", " and ": " separators); the two combine.
//
// Pure functions: no global state, safe from any thread on distinct values
// (jansson values themselves are not thread-safe).
#ifndef SOCP_JSON_H
#define SOCP_JSON_H

#include "socp/socp_common.h"

#include <jansson.h>
#include <stddef.h>

#define SOCP_JSON_CANON_ASCII  0u // default: non-ASCII as \uXXXX (Python ensure_ascii=True)
#define SOCP_JSON_CANON_UTF8   1u // raw UTF-8 (Python ensure_ascii=False)
#define SOCP_JSON_CANON_SPACED 2u // ", " and ": " separators (Python's default separators)

#define SOCP_JSON_MAX_DEPTH       1000u       // hard nesting ceiling, below jansson's 2048
#define SOCP_JSON_CANON_MAX_BYTES (64u << 20) // canonical output larger than this: SOCP_ETOOBIG

// Why socp_json_parse_ex rejected its input.
typedef enum {
    SOCP_JSON_ERROR_NONE = 0,  // parsed
    SOCP_JSON_ERROR_SYNTAX,    // not JSON (includes empty input)
    SOCP_JSON_ERROR_UTF8,      // bytes that are not well-formed UTF-8
    SOCP_JSON_ERROR_NUL,       // a raw NUL byte, or \u0000 in a string or key
    SOCP_JSON_ERROR_DEPTH,     // nested deeper than max_depth
    SOCP_JSON_ERROR_DUPLICATE, // an object with the same key twice
    SOCP_JSON_ERROR_TRAILING,  // a complete value followed by more than whitespace
    SOCP_JSON_ERROR_NUMBER,    // integer outside int64, or a real that overflows a double
    SOCP_JSON_ERROR_ARGUMENT,  // bad call (NULL text, max_depth 0)
} socp_json_error_t;

// Appends the canonical JSON text of `value` to `out` (no NUL terminator).
// @param flags  SOCP_JSON_CANON_ASCII, or SOCP_JSON_CANON_UTF8 and/or SOCP_JSON_CANON_SPACED
// @return 0; SOCP_EPROTO if value holds something with no canonical form
//         (a string or key that is not valid UTF-8, a non-finite real);
//         SOCP_ETOOBIG if nested deeper than SOCP_JSON_MAX_DEPTH or the output
//         would exceed SOCP_JSON_CANON_MAX_BYTES; SOCP_EINVAL for NULL value or
//         unknown flags. On error `out` is left exactly as it was.
// Ownership: value is borrowed and not modified; out keeps ownership of its bytes.
SOCP_NODISCARD int socp_json_canonical(const json_t *value, unsigned flags, socp_buf_t *out);

// Appends one JSON string literal (with the quotes) for s[0..len), escaped as
// in socp_json_canonical with the same flags.
// @return 0, SOCP_EPROTO (s is not valid UTF-8), SOCP_EINVAL (unknown flags).
// On error `out` is left as it was.
SOCP_NODISCARD int
socp_json_append_string(const char *s, size_t len, unsigned flags, socp_buf_t *out);

// Parses one JSON text from text[0..len) with the limits SOCP needs.
// Our own strict RFC 8259 parser building jansson values (jansson's parser
// is ~10x slower on SOCP frames); it accepts exactly what
// json_loadb(JSON_REJECT_DUPLICATES | JSON_DECODE_ANY) accepts, plus the
// depth limit, and builds equal values (checked by a differential test and
// the fuzz target). Checks, in this order: trailing JSON whitespace (space,
// tab, CR, LF) is stripped; a raw NUL byte anywhere; bytes that are not
// well-formed UTF-8 anywhere; then the grammar, where it rejects: \u0000
// in a string or key, lone surrogate escapes, arrays/objects nested deeper
// than max_depth (the top-level container is depth 1; scalars add nothing),
// duplicate object keys (rejected rather than "last wins": two parsers
// picking different values is how signature confusion starts), integers
// outside int64, reals that overflow a double, anything after the value.
// Any JSON value is accepted at top level. Reals are converted by jansson,
// independently of the C locale.
// @param max_depth  1..SOCP_JSON_MAX_DEPTH (larger values are clamped)
// @param out        set to a new reference on success, NULL on failure
// @return 0; SOCP_EPROTO (malformed); SOCP_ETOOBIG (too deep); SOCP_EINVAL
//         (NULL text, max_depth 0); SOCP_ENOMEM (jansson allocation failed).
// Ownership: the caller owns *out and releases it with json_decref.
// Stack: recursion is bounded by max_depth (a few hundred bytes a level).
SOCP_NODISCARD int socp_json_parse(const char *text, size_t len, size_t max_depth, json_t **out);

// socp_json_parse with the reason and a human-readable detail.
// @param why     if not NULL: the reason (SOCP_JSON_ERROR_NONE on success)
// @param detail  if not NULL: a NUL-terminated, printable-ASCII description of
//                the failure (empty on success), truncated to detail_size
SOCP_NODISCARD int socp_json_parse_ex(const char *text,
                                      size_t len,
                                      size_t max_depth,
                                      json_t **out,
                                      socp_json_error_t *why,
                                      char *detail,
                                      size_t detail_size);

// A static English name for a parse error ("duplicate key").
const char *socp_json_error_text(socp_json_error_t error);

#endif
