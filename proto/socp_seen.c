// socp_seen.c: the seen-cache that stops loops and replays of forwarded frames.
// Part of socp, a SOCP v1.3 client and server.
#include "socp/socp_seen.h"

#include <openssl/sha.h>
#include <sodium.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "socp/socp_err.h"
#include "socp/socp_json.h"

#define S_DIGEST_BYTES 16u // keyed BLAKE2b-128 of the whole key
#define S_NIL          0u  // end of a bucket chain (slots are stored + 1)

// One ring slot.
typedef struct {
    uint8_t digest[S_DIGEST_BYTES]; // condensed (ts, from, to, payload hash)
    int64_t added_ms;               // when first recorded
    uint32_t next;                  // next slot + 1 in the same bucket, or S_NIL
    uint32_t live;                  // 1 while linked in the table, 0 for a tombstone
} s_entry_t;

struct socp_seen_t {
    s_entry_t *ring;                          // capacity slots, FIFO in insertion order
    size_t capacity;                          // ring size
    size_t head;                              // oldest slot
    size_t used;                              // slots in use (live + tombstones)
    size_t live;                              // linked entries
    uint32_t *buckets;                        // mask + 1 chain heads (slot + 1, or S_NIL)
    size_t mask;                              // bucket count - 1 (a power of two minus one)
    int64_t ttl_ms;                           // entry lifetime
    uint8_t key[crypto_generichash_KEYBYTES]; // per-cache hash key
};

socp_seen_t *
socp_seen_new(size_t capacity, int64_t ttl_ms)
{
    if (capacity == 0 || capacity > SOCP_SEEN_CAPACITY_MAX || ttl_ms <= 0) {
        return NULL;
    }
    socp_seen_t *self = socp_calloc(1, sizeof *self);
    size_t buckets = 1;
    while (buckets < capacity) {
        buckets <<= 1;
    }
    self->ring = socp_calloc(capacity, sizeof *self->ring);
    self->buckets = socp_calloc(buckets, sizeof *self->buckets);
    self->capacity = capacity;
    self->mask = buckets - 1;
    self->ttl_ms = ttl_ms;
    randombytes_buf(self->key, sizeof self->key);
    return self;
}

void
socp_seen_destroy(socp_seen_t **self_p)
{
    if (!self_p || !*self_p) {
        return;
    }
    socp_seen_t *self = *self_p;
    free(self->ring);
    free(self->buckets);
    sodium_memzero(self, sizeof *self);
    free(self);
    *self_p = NULL;
}

size_t
socp_seen_count(const socp_seen_t *self)
{
    return self->live;
}

static bool
s_expired(const socp_seen_t *self, int64_t added_ms, int64_t now_ms)
{
    if (now_ms < added_ms) {
        return false; // the clock went back: keep it
    }
    return (uint64_t) now_ms - (uint64_t) added_ms >= (uint64_t) self->ttl_ms;
}

static size_t
s_bucket(const socp_seen_t *self, const uint8_t digest[S_DIGEST_BYTES])
{
    uint64_t h;
    memcpy(&h, digest, sizeof h);
    return (size_t) h & self->mask;
}

// Removes a live slot from its bucket chain and marks it a tombstone.
static void
s_unlink(socp_seen_t *self, size_t slot)
{
    s_entry_t *e = &self->ring[slot];
    uint32_t *link = &self->buckets[s_bucket(self, e->digest)];
    while (*link != S_NIL) {
        if (*link == slot + 1) {
            *link = e->next;
            break;
        }
        link = &self->ring[*link - 1].next;
    }
    e->next = S_NIL;
    e->live = 0;
    self->live--;
}

static void
s_pop_oldest(socp_seen_t *self)
{
    if (self->ring[self->head].live) {
        s_unlink(self, self->head);
    }
    self->head = (self->head + 1) % self->capacity;
    self->used--;
}

static void
s_digest(const socp_seen_t *self,
         int64_t ts,
         const char *from,
         const char *to,
         const uint8_t payload_hash[SOCP_SEEN_HASH_BYTES],
         uint8_t out[S_DIGEST_BYTES])
{
    // Unambiguous encoding: fixed-width ts and lengths, then the bytes.
    uint64_t from_len = strlen(from), to_len = strlen(to);
    uint8_t fixed[24];
    uint64_t words[3] = {(uint64_t) ts, from_len, to_len};
    for (size_t w = 0; w < 3; w++) {
        for (size_t b = 0; b < 8; b++) {
            fixed[w * 8 + b] = (uint8_t) (words[w] >> (8 * b));
        }
    }
    crypto_generichash_state st;
    crypto_generichash_init(&st, self->key, sizeof self->key, S_DIGEST_BYTES);
    crypto_generichash_update(&st, fixed, sizeof fixed);
    crypto_generichash_update(&st, (const uint8_t *) from, from_len);
    crypto_generichash_update(&st, (const uint8_t *) to, to_len);
    crypto_generichash_update(&st, payload_hash, SOCP_SEEN_HASH_BYTES);
    crypto_generichash_final(&st, out, S_DIGEST_BYTES);
}

int
socp_seen_check_and_add(socp_seen_t *self,
                        int64_t ts,
                        const char *from,
                        const char *to,
                        const uint8_t payload_hash[SOCP_SEEN_HASH_BYTES],
                        int64_t now_ms)
{
    if (!self || !from || !to || !payload_hash) {
        return SOCP_EINVAL;
    }
    // Sweep from the old end: expired entries and tombstones.
    while (self->used > 0 && (!self->ring[self->head].live ||
                              s_expired(self, self->ring[self->head].added_ms, now_ms))) {
        s_pop_oldest(self);
    }
    uint8_t digest[S_DIGEST_BYTES];
    s_digest(self, ts, from, to, payload_hash, digest);
    size_t bucket = s_bucket(self, digest);
    for (uint32_t link = self->buckets[bucket]; link != S_NIL; link = self->ring[link - 1].next) {
        s_entry_t *e = &self->ring[link - 1];
        if (memcmp(e->digest, digest, S_DIGEST_BYTES) != 0) {
            continue;
        }
        if (!s_expired(self, e->added_ms, now_ms)) {
            return SOCP_EREPLAY;
        }
        // Expired but not at the old end (the clock went back): drop and re-add.
        s_unlink(self, link - 1);
        break;
    }
    if (self->used == self->capacity) {
        s_pop_oldest(self); // full: the oldest goes first
    }
    size_t slot = (self->head + self->used) % self->capacity;
    s_entry_t *e = &self->ring[slot];
    memcpy(e->digest, digest, S_DIGEST_BYTES);
    e->added_ms = now_ms;
    e->live = 1;
    e->next = self->buckets[bucket];
    self->buckets[bucket] = (uint32_t) (slot + 1);
    self->used++;
    self->live++;
    return 0;
}

void
socp_seen_hash_bytes(const void *data, size_t len, uint8_t out[SOCP_SEEN_HASH_BYTES])
{
    // OpenSSL uses the CPU's SHA extensions; libsodium's portable SHA-256 is
    // about 3.5 times slower on a 2 KB payload (bench/bench_wire.c).
    SHA256(len ? data : (const void *) "", len, out);
}

int
socp_seen_payload_hash(const json_t *payload, uint8_t out[SOCP_SEEN_HASH_BYTES])
{
    memset(out, 0, SOCP_SEEN_HASH_BYTES);
    socp_buf_t canon;
    socp_buf_init(&canon);
    int rc = socp_json_canonical(payload, SOCP_JSON_CANON_ASCII, &canon);
    if (rc == 0) {
        socp_seen_hash_bytes(canon.data, canon.len, out);
    }
    socp_buf_fini(&canon);
    return rc;
}

int
socp_seen_check_envelope(socp_seen_t *self, const socp_envelope_t *env, int64_t now_ms)
{
    if (!self || !env) {
        return SOCP_EINVAL;
    }
    uint8_t hash[SOCP_SEEN_HASH_BYTES];
    int rc = socp_seen_payload_hash(env->payload, hash);
    if (rc != 0) {
        return rc;
    }
    return socp_seen_check_and_add(self, env->ts, env->from, env->to, hash, now_ms);
}
