// socp_uuid.h: UUID v4 identifiers and peer-id validation.
// Part of socp, a SOCP v1.3 client and server.
//
// Identifiers we create (users, servers, files) are lowercase UUID v4
// (decisions.md, "Envelope"). From peers we accept any "peer id": a non-empty
// printable string of at most 128 bytes. User ids are case-sensitive, so an
// upper-case UUID is a different id and is not a valid v4 UUID here.
//
// Pure functions, safe from any thread.
#ifndef SOCP_UUID_H
#define SOCP_UUID_H

#include "socp/socp_common.h"

#include <stdbool.h>
#include <stddef.h>

#define SOCP_UUID_LEN    36u  // "xxxxxxxx-xxxx-4xxx-yxxx-xxxxxxxxxxxx"
#define SOCP_UUID_BUF    37u  // SOCP_UUID_LEN plus the NUL
#define SOCP_PEER_ID_MAX 128u // longest id accepted from a peer, in bytes

// Writes a new random lowercase UUID v4 (version nibble 4, variant 10xx) and
// a NUL into out. Randomness comes from libsodium's randombytes_buf, which
// works before sodium_init() but programs call sodium_init() first anyway.
// Thread-safe.
void socp_uuid_generate(char out[SOCP_UUID_BUF]);

// True when s[0..len) is exactly a lowercase RFC 4122 version-4 UUID:
// 8-4-4-4-12 lowercase hex digits, version nibble '4', variant nibble one of
// '8', '9', 'a', 'b'. Upper-case hex, braces, "urn:uuid:" and other versions
// are rejected. Use it for ids from our own configuration.
bool socp_uuid_is_v4(const char *s, size_t len);

// True when s[0..len) is acceptable as an id from a peer: 1..SOCP_PEER_ID_MAX
// bytes of valid UTF-8 with no control characters (C0, DEL, C1), no NUL,
// and no Unicode line/paragraph separators or bidirectional overrides (so an
// id cannot break or reorder a terminal line). Spaces are allowed.
bool socp_uuid_is_peer_id(const char *s, size_t len);

#endif
