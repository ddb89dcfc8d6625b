// seen_test.c: the seen-cache: replay detection, TTL, size bound, hashing.
// Part of socp, a SOCP v1.3 client and server.
#include "socp_test.h"

#include "socp/socp_envelope.h"
#include "socp/socp_seen.h"

#include <sodium.h>

// A payload hash that differs per n.
static void
s_hash(uint64_t n, uint8_t out[SOCP_SEEN_HASH_BYTES])
{
    memset(out, 0, SOCP_SEEN_HASH_BYTES);
    memcpy(out, &n, sizeof n);
}

SOCP_TEST(seen_detects_replay_and_distinguishes_every_key_field)
{
    socp_seen_t *seen = socp_seen_new(100, SOCP_SEEN_TTL_DEFAULT_MS);
    CHECK(seen);
    uint8_t h[SOCP_SEEN_HASH_BYTES], h2[SOCP_SEEN_HASH_BYTES];
    s_hash(1, h);
    s_hash(2, h2);
    CHECK_OK(socp_seen_check_and_add(seen, 1000, "alice", "bob", h, 0));
    CHECK_RC(socp_seen_check_and_add(seen, 1000, "alice", "bob", h, 1), SOCP_EREPLAY);
    CHECK_RC(socp_seen_check_and_add(seen, 1000, "alice", "bob", h, 2), SOCP_EREPLAY);
    // Any field different: a new frame.
    CHECK_OK(socp_seen_check_and_add(seen, 1001, "alice", "bob", h, 3));
    CHECK_OK(socp_seen_check_and_add(seen, 1000, "alicf", "bob", h, 3));
    CHECK_OK(socp_seen_check_and_add(seen, 1000, "alice", "boc", h, 3));
    CHECK_OK(socp_seen_check_and_add(seen, 1000, "alice", "bob", h2, 3));
    // The fields are not simply concatenated: ("ab","c") is not ("a","bc").
    CHECK_OK(socp_seen_check_and_add(seen, 5, "ab", "c", h, 4));
    CHECK_OK(socp_seen_check_and_add(seen, 5, "a", "bc", h, 4));
    CHECK_EQ(socp_seen_count(seen), 7);
    CHECK_RC(socp_seen_check_and_add(seen, 5, NULL, "bc", h, 4), SOCP_EINVAL);
    socp_seen_destroy(&seen);
    CHECK(seen == NULL);
    socp_seen_destroy(&seen); // idempotent
}

SOCP_TEST(seen_entries_expire_after_ttl_and_replays_do_not_extend_them)
{
    socp_seen_t *seen = socp_seen_new(10, 1000);
    uint8_t h[SOCP_SEEN_HASH_BYTES];
    s_hash(7, h);
    CHECK_OK(socp_seen_check_and_add(seen, 1, "s1", "*", h, 10000));
    CHECK_RC(socp_seen_check_and_add(seen, 1, "s1", "*", h, 10500), SOCP_EREPLAY);
    CHECK_RC(socp_seen_check_and_add(seen, 1, "s1", "*", h, 10999), SOCP_EREPLAY);
    // Exactly ttl after first sight: gone, so it is new (and recorded again).
    CHECK_OK(socp_seen_check_and_add(seen, 1, "s1", "*", h, 11000));
    CHECK_RC(socp_seen_check_and_add(seen, 1, "s1", "*", h, 11999), SOCP_EREPLAY);
    CHECK_EQ(socp_seen_count(seen), 1);
    // Expired entries are swept: ten old ones, then one check much later.
    for (uint64_t i = 0; i < 9; i++) {
        uint8_t k[SOCP_SEEN_HASH_BYTES];
        s_hash(100 + i, k);
        CHECK_OK(socp_seen_check_and_add(seen, 1, "s1", "*", k, 11500));
    }
    CHECK_EQ(socp_seen_count(seen), 10);
    uint8_t fresh[SOCP_SEEN_HASH_BYTES];
    s_hash(999, fresh);
    CHECK_OK(socp_seen_check_and_add(seen, 1, "s1", "*", fresh, 20000));
    CHECK_EQ(socp_seen_count(seen), 1);
    socp_seen_destroy(&seen);
}

SOCP_TEST(seen_clock_going_back_keeps_entries_and_stays_correct)
{
    socp_seen_t *seen = socp_seen_new(8, 1000);
    uint8_t a[SOCP_SEEN_HASH_BYTES], b[SOCP_SEEN_HASH_BYTES];
    s_hash(1, a);
    s_hash(2, b);
    CHECK_OK(socp_seen_check_and_add(seen, 0, "x", "y", a, 50000));
    // The caller's clock steps back: a is still seen, b is recorded at 40000.
    CHECK_RC(socp_seen_check_and_add(seen, 0, "x", "y", a, 40000), SOCP_EREPLAY);
    CHECK_OK(socp_seen_check_and_add(seen, 0, "x", "y", b, 40000));
    // At 41000 b has expired although it is not at the old end of the ring.
    CHECK_OK(socp_seen_check_and_add(seen, 0, "x", "y", b, 41000));
    CHECK_RC(socp_seen_check_and_add(seen, 0, "x", "y", b, 41001), SOCP_EREPLAY);
    CHECK_RC(socp_seen_check_and_add(seen, 0, "x", "y", a, 50999), SOCP_EREPLAY);
    CHECK_OK(socp_seen_check_and_add(seen, 0, "x", "y", a, 51000));
    // Extreme times do not overflow.
    CHECK_OK(socp_seen_check_and_add(seen, INT64_MAX, "x", "y", a, INT64_MAX - 10));
    CHECK_RC(socp_seen_check_and_add(seen, INT64_MAX, "x", "y", a, INT64_MAX), SOCP_EREPLAY);
    CHECK_RC(socp_seen_check_and_add(seen, INT64_MAX, "x", "y", a, INT64_MIN), SOCP_EREPLAY);
    socp_seen_destroy(&seen);
}

SOCP_TEST(seen_bound_holds_under_ten_times_capacity_and_evicts_oldest_first)
{
    enum { CAP = 1000, N = 10 * CAP };
    socp_seen_t *seen = socp_seen_new(CAP, SOCP_SEEN_TTL_DEFAULT_MS);
    uint8_t h[SOCP_SEEN_HASH_BYTES];
    for (uint64_t i = 0; i < N; i++) {
        s_hash(i, h);
        CHECK_OK(socp_seen_check_and_add(seen, (int64_t) i, "srv", "*", h, 1000));
        CHECK(socp_seen_count(seen) <= CAP);
    }
    CHECK_EQ(socp_seen_count(seen), CAP);
    // The newest CAP are all still there (a replay does not insert anything).
    for (uint64_t i = N - CAP; i < N; i++) {
        s_hash(i, h);
        CHECK_RC(socp_seen_check_and_add(seen, (int64_t) i, "srv", "*", h, 1001), SOCP_EREPLAY);
    }
    // The oldest went first: key N-CAP-1 was evicted; re-adding it evicts N-CAP.
    s_hash(N - CAP - 1, h);
    CHECK_OK(socp_seen_check_and_add(seen, (int64_t) (N - CAP - 1), "srv", "*", h, 1002));
    s_hash(N - CAP, h);
    CHECK_OK(socp_seen_check_and_add(seen, (int64_t) (N - CAP), "srv", "*", h, 1003));
    s_hash(N - 1, h);
    CHECK_RC(socp_seen_check_and_add(seen, (int64_t) (N - 1), "srv", "*", h, 1004), SOCP_EREPLAY);
    CHECK_EQ(socp_seen_count(seen), CAP);
    socp_seen_destroy(&seen);
}

SOCP_TEST(seen_new_rejects_bad_arguments)
{
    CHECK(socp_seen_new(0, 1000) == NULL);
    CHECK(socp_seen_new(10, 0) == NULL);
    CHECK(socp_seen_new(10, -5) == NULL);
    CHECK(socp_seen_new((size_t) SOCP_SEEN_CAPACITY_MAX + 1, 1000) == NULL);
    socp_seen_t *one = socp_seen_new(1, 1);
    CHECK(one);
    uint8_t a[SOCP_SEEN_HASH_BYTES], b[SOCP_SEEN_HASH_BYTES];
    s_hash(1, a);
    s_hash(2, b);
    CHECK_OK(socp_seen_check_and_add(one, 0, "x", "y", a, 0));
    CHECK_OK(socp_seen_check_and_add(one, 0, "x", "y", b, 0)); // evicts a
    CHECK_OK(socp_seen_check_and_add(one, 0, "x", "y", a, 0));
    CHECK_EQ(socp_seen_count(one), 1);
    socp_seen_destroy(&one);
}

SOCP_TEST(seen_payload_hash_is_sha256_of_canonical_payload)
{
    CHECK(sodium_init() >= 0);
    json_t *p = json_pack("{s:[b,n],s:s,s:i}", "z", 1, "\xc3\xa9", "caf\xc3\xa9", "a", 1);
    uint8_t got[SOCP_SEEN_HASH_BYTES], want[SOCP_SEEN_HASH_BYTES];
    CHECK_OK(socp_seen_payload_hash(p, got));
    const char *canonical = "{\"a\":1,\"z\":[true,null],\"\\u00e9\":\"caf\\u00e9\"}";
    crypto_hash_sha256(want, (const uint8_t *) canonical, strlen(canonical));
    CHECK_MEMEQ(got, want, sizeof want);
    json_decref(p);
}

SOCP_TEST(seen_check_envelope_catches_a_reformatted_replay)
{
    socp_seen_t *seen = socp_seen_new(16, SOCP_SEEN_TTL_DEFAULT_MS);
    const char *a = "{\"type\":\"SERVER_DELIVER\",\"from\":\"s1\",\"to\":\"s2\",\"ts\":5,"
                    "\"payload\":{\"user_id\":\"u\",\"ciphertext\":\"abc\"},\"sig\":\"x\"}";
    // Same frame re-serialised: key order, spacing, escapes and ts form differ.
    const char *b = "{ \"sig\": \"y\", \"payload\": {\"ciphertext\": \"a\\u0062c\", \"user_id\": "
                    "\"u\"}, \"ts\": \"5\", \"to\": \"s2\", \"from\": \"s1\", \"type\": "
                    "\"SERVER_DELIVER\"}\n";
    const char *c = "{\"type\":\"SERVER_DELIVER\",\"from\":\"s1\",\"to\":\"s2\",\"ts\":5,"
                    "\"payload\":{\"user_id\":\"u\",\"ciphertext\":\"abd\"}}";
    socp_envelope_t ea, eb, ec;
    CHECK_OK(socp_envelope_parse(a, strlen(a), &ea, NULL));
    CHECK_OK(socp_envelope_parse(b, strlen(b), &eb, NULL));
    CHECK_OK(socp_envelope_parse(c, strlen(c), &ec, NULL));
    CHECK_OK(socp_seen_check_envelope(seen, &ea, 100));
    CHECK_RC(socp_seen_check_envelope(seen, &eb, 101), SOCP_EREPLAY);
    CHECK_OK(socp_seen_check_envelope(seen, &ec, 102));
    socp_envelope_fini(&ea);
    socp_envelope_fini(&eb);
    socp_envelope_fini(&ec);
    socp_seen_destroy(&seen);
}
