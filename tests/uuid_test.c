// uuid_test.c: UUID v4 generation and validation, peer-id validation.
// Part of socp, a SOCP v1.3 client and server.
#include "socp_test.h"

#include "socp/socp_uuid.h"

#include <sodium.h>

static int
s_strcmp(const void *a, const void *b)
{
    return strcmp(a, b);
}

SOCP_TEST(uuid_generate_gives_unique_lowercase_v4)
{
    CHECK(sodium_init() >= 0);
    enum { N = 20000 };
    char(*ids)[SOCP_UUID_BUF] = socp_calloc(N, sizeof *ids);
    unsigned variants[16] = {0};
    for (size_t i = 0; i < N; i++) {
        socp_uuid_generate(ids[i]);
        CHECK_EQ(strlen(ids[i]), SOCP_UUID_LEN);
        CHECK_MSG(socp_uuid_is_v4(ids[i], SOCP_UUID_LEN), "not a v4 UUID: %s", ids[i]);
        CHECK_EQ(ids[i][14], '4');
        const char *hex = "0123456789abcdef";
        variants[strchr(hex, ids[i][19]) - hex]++;
    }
    // Variant nibble is 10xx: only 8, 9, a, b, each about a quarter of the time.
    for (unsigned v = 0; v < 16; v++) {
        if (v >= 8 && v <= 11) {
            CHECK(variants[v] > N / 4 - N / 20 && variants[v] < N / 4 + N / 20);
        } else {
            CHECK_EQ(variants[v], 0);
        }
    }
    qsort(ids, N, sizeof *ids, s_strcmp);
    for (size_t i = 1; i < N; i++) {
        CHECK_MSG(strcmp(ids[i - 1], ids[i]) != 0, "duplicate UUID %s", ids[i]);
    }
    free(ids);
}

#define S_V4(lit) socp_uuid_is_v4((lit), sizeof(lit) - 1)

SOCP_TEST(uuid_is_v4_is_strict)
{
    CHECK(S_V4("4f1c2a9e-8d3b-4c7a-9e21-5b6d7f8a9c0d"));
    CHECK(S_V4("00000000-0000-4000-8000-000000000000"));
    CHECK(S_V4("ffffffff-ffff-4fff-bfff-ffffffffffff"));
    CHECK(!S_V4("4F1C2A9E-8D3B-4C7A-9E21-5B6D7F8A9C0D"));  // upper case: a different id
    CHECK(!S_V4("4f1c2a9e-8d3b-1c7a-9e21-5b6d7f8a9c0d"));  // version 1
    CHECK(!S_V4("4f1c2a9e-8d3b-4c7a-ce21-5b6d7f8a9c0d"));  // variant 110x
    CHECK(!S_V4("4f1c2a9e-8d3b-4c7a-7e21-5b6d7f8a9c0d"));  // variant 0xxx
    CHECK(!S_V4("4f1c2a9e8d3b4c7a9e215b6d7f8a9c0d"));      // no dashes
    CHECK(!S_V4("4f1c2a9e-8d3b-4c7a-9e21-5b6d7f8a9c0"));   // 35 characters
    CHECK(!S_V4("4f1c2a9e-8d3b-4c7a-9e21-5b6d7f8a9c0dd")); // 37 characters
    CHECK(!S_V4("{4f1c2a9e-8d3b-4c7a-9e21-5b6d7f8a9c0}"));
    CHECK(!S_V4("4f1c2a9e-8d3b-4c7a-9e21_5b6d7f8a9c0d"));
    CHECK(!S_V4("4f1c2a9g-8d3b-4c7a-9e21-5b6d7f8a9c0d")); // not hex
    CHECK(!S_V4(""));
    CHECK(!socp_uuid_is_v4(NULL, 36));
    // A valid id followed by more bytes is not valid when the length says so.
    CHECK(!socp_uuid_is_v4("4f1c2a9e-8d3b-4c7a-9e21-5b6d7f8a9c0d", 35));
}

#define S_PEER(lit) socp_uuid_is_peer_id((lit), sizeof(lit) - 1)

SOCP_TEST(uuid_is_peer_id_accepts_free_strings_not_controls)
{
    CHECK(S_PEER("alice"));
    CHECK(S_PEER("srv-a"));
    CHECK(S_PEER("*"));
    CHECK(S_PEER("192.0.1.2:12345"));
    CHECK(S_PEER("4f1c2a9e-8d3b-4c7a-9e21-5b6d7f8a9c0d"));
    CHECK(S_PEER("Zo\xc3\xab \xf0\x9f\xa6\x8a")); // non-ASCII and a space
    char id[SOCP_PEER_ID_MAX + 2];
    memset(id, 'x', sizeof id);
    CHECK(socp_uuid_is_peer_id(id, SOCP_PEER_ID_MAX));
    CHECK(!socp_uuid_is_peer_id(id, SOCP_PEER_ID_MAX + 1));
    CHECK(!S_PEER(""));
    CHECK(!socp_uuid_is_peer_id(NULL, 3));
    CHECK(!S_PEER("ali\x01"
                  "ce"));
    CHECK(!S_PEER("alice\n"));
    CHECK(!S_PEER("alice\x7f"));
    CHECK(!S_PEER("a\0b"));
    CHECK(!S_PEER("alice\xc2\x85")); // U+0085, a C1 control
    CHECK(!S_PEER("alice\xe2\x80\xae"
                  "gnp.exe")); // U+202E right-to-left override
    CHECK(!S_PEER("ali\xe2\x80\xa8"
                  "ce"));   // U+2028 line separator
    CHECK(!S_PEER("\xff")); // not UTF-8
    CHECK(!S_PEER("\xc3")); // truncated UTF-8
}
