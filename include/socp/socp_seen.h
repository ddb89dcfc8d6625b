// socp_seen.h: the seen-cache that stops loops and replays of forwarded frames.
// Part of socp, a SOCP v1.3 client and server.
//
// Keyed by (ts, from, to, SHA-256(canonical payload)) as the standard's
// seen_ids (decisions.md, "Loops, duplicates, replay"). Entries live for a
// TTL (default 5 minutes) and the cache holds at most `capacity` entries:
// when full, the oldest entry is evicted first. Insert and lookup are O(1):
// a chained hash table over a FIFO ring.
//
// Time is passed in by the caller (any millisecond clock that does not jump,
// e.g. socp_now_ms()), so behaviour is deterministic and testable. If the
// clock goes backwards the cache stays correct: expiry is checked per entry.
//
// Internally each key is condensed with keyed BLAKE2b-128 (a random key per
// cache), so a peer cannot aim many frames at one hash bucket.
//
// Not thread-safe: one cache belongs to one thread (the routing actor).
#ifndef SOCP_SEEN_H
#define SOCP_SEEN_H

#include "socp/socp_common.h"
#include "socp/socp_envelope.h"

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#define SOCP_SEEN_TTL_DEFAULT_MS (5 * 60 * 1000) // decisions.md: entries kept 5 minutes
#define SOCP_SEEN_CAPACITY_MAX   (1u << 24)      // 16 Mi entries, ~40 bytes each
#define SOCP_SEEN_HASH_BYTES     32u             // SHA-256 of the canonical payload

typedef struct socp_seen_t socp_seen_t;

// Creates a cache for up to `capacity` live entries, each kept `ttl_ms`.
// @return the cache, or NULL if capacity is 0 or > SOCP_SEEN_CAPACITY_MAX or
//         ttl_ms <= 0. Allocation failure aborts (socp_malloc).
// Ownership: release with socp_seen_destroy.
SOCP_NODISCARD socp_seen_t *socp_seen_new(size_t capacity, int64_t ttl_ms);

// Destroys the cache and sets *self_p to NULL. Accepts *self_p == NULL.
void socp_seen_destroy(socp_seen_t **self_p);

// Records the frame key and says whether it was already there.
// Expired entries are dropped first. An entry matches for ttl_ms after it
// was first recorded; seeing it again does not extend its life.
// @param from, to      NUL-terminated ids (any length)
// @param payload_hash  SOCP_SEEN_HASH_BYTES bytes, see socp_seen_payload_hash
// @return 0 if new (now recorded), SOCP_EREPLAY if already seen and not
//         expired, SOCP_EINVAL for NULL arguments.
SOCP_NODISCARD int socp_seen_check_and_add(socp_seen_t *self,
                                           int64_t ts,
                                           const char *from,
                                           const char *to,
                                           const uint8_t payload_hash[SOCP_SEEN_HASH_BYTES],
                                           int64_t now_ms);

// Same, taking ts/from/to from the envelope and hashing its payload.
// @return 0, SOCP_EREPLAY, or the error of socp_seen_payload_hash.
SOCP_NODISCARD int
socp_seen_check_envelope(socp_seen_t *self, const socp_envelope_t *env, int64_t now_ms);

// SHA-256 of data[0..len): for callers that already hold the canonical
// payload bytes (e.g. from checking the transport signature).
void socp_seen_hash_bytes(const void *data, size_t len, uint8_t out[SOCP_SEEN_HASH_BYTES]);

// SHA-256 of the canonical JSON (ASCII form) of payload.
// @return 0, or an error of socp_json_canonical (out then zeroed).
SOCP_NODISCARD int socp_seen_payload_hash(const json_t *payload, uint8_t out[SOCP_SEEN_HASH_BYTES]);

// Number of live (recorded, not yet evicted) entries; expired entries that
// have not been swept yet are counted until the next check_and_add.
size_t socp_seen_count(const socp_seen_t *self);

#endif
