// socp_b64.h: base64url (no padding) encoding and lenient base64 decoding.
// Part of socp, a SOCP v1.3 client and server.
//
// We emit base64url without padding everywhere (decisions.md, "Keys and
// crypto"). We accept base64url and standard base64, padded or not, but never
// a mix of both alphabets, whitespace, or non-zero trailing bits.
// Stateless and thread-safe.
#ifndef SOCP_B64_H
#define SOCP_B64_H

#include "socp/socp_common.h"

// Characters (excluding the NUL) that encoding `len` bytes produces.
size_t socp_b64_encoded_len(size_t len);

// Exact number of bytes that `text` decodes to if it is well formed, computed
// from its length and padding alone; 0 when the length cannot be valid.
// Used to bound allocations before decoding anything.
size_t socp_b64_decoded_len(const char *text, size_t text_len);

// Encodes `len` bytes as base64url without padding.
// @param data  bytes to encode (may be NULL when len == 0)
// @param out   receives a NUL-terminated string; the caller frees it with free()
// @return 0, or SOCP_ETOOBIG if len is absurdly large.
SOCP_NODISCARD int socp_b64_encode(const void *data, size_t len, char **out);

// Encodes into a caller buffer of `cap` bytes (NUL included).
// @return 0, or SOCP_ETOOBIG when cap < socp_b64_encoded_len(len) + 1.
SOCP_NODISCARD int socp_b64_encode_to(const void *data, size_t len, char *out, size_t cap);

// Decodes base64url or base64, padded or not.
// @param text      input characters (need not be NUL-terminated)
// @param text_len  number of characters
// @param max_len   largest decoded size accepted; checked before allocating
// @param out       receives a new buffer of *out_len bytes (never NULL on
//                  success, even when empty); the caller frees it with free()
// @return 0; SOCP_EPROTO for anything that is not valid base64 in one
//         alphabet; SOCP_ETOOBIG if the decoded size would exceed max_len.
SOCP_NODISCARD int
socp_b64_decode(const char *text, size_t text_len, size_t max_len, uint8_t **out, size_t *out_len);

// Decodes into a caller buffer of `cap` bytes, with the same rules.
// @return 0, SOCP_EPROTO, or SOCP_ETOOBIG if the result does not fit in cap.
SOCP_NODISCARD int
socp_b64_decode_to(const char *text, size_t text_len, uint8_t *out, size_t cap, size_t *out_len);

#endif
