// client_names_test.c: names that cannot lie (socp_client_peer_clash,
// socp_client_peer_label) and addressing a user by its label
// (socp_client_peer_resolve).
#include <string.h>

#include "socp/socp_client.h"
#include "socp_test.h"

#define FP_A "64e34a0fbafbab523831f6a41a379dbf89978f0850ee24e0075c1eef9bf25782"
#define FP_B "f9c8d9170a6bb7b21135ef57c7d28ff2bd52bf5f59e391d0377ca8da03a33985"
#define FP_C "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

static socp_client_peer_t
s_peer(const char *id, const char *name, const char *fp)
{
    return (socp_client_peer_t){.id = (char *) id, .name = (char *) name, .fp = (char *) fp};
}

static const char *
s_label(socp_client_peer_t *peers, size_t n, size_t i, const char *my_name)
{
    static char out[300];
    socp_client_peer_label(peers, n, &peers[i], "me-id", my_name, out, sizeof out);
    return out;
}

SOCP_TEST(client_names_clash_shows_the_key)
{
    socp_client_peer_t p[] = {s_peer("id-a", "bob", FP_A), s_peer("id-b", "Bob ", FP_B),
                              s_peer("id-c", "carol", FP_C)};
    // Two users called bob (case and spaces do not make a name different).
    CHECK_STREQ(s_label(p, 3, 0, "alice"), "bob#64e34a");
    CHECK_STREQ(s_label(p, 3, 1, "alice"), "Bob #f9c8d9");
    CHECK_STREQ(s_label(p, 3, 2, "alice"), "carol");
    // A name equal to ours.
    CHECK_STREQ(s_label(p, 3, 2, "CAROL"), "carol#012345");
    // A name equal to another user's id, or to a word the client prints.
    socp_client_peer_t q[] = {s_peer("id-a", "id-b", FP_A), s_peer("id-b", "id-b", FP_B),
                              s_peer("id-y", "You", FP_C)};
    CHECK_STREQ(s_label(q, 3, 0, NULL), "id-b#64e34a");
    CHECK_STREQ(s_label(q, 3, 2, NULL), "You#012345");
    // Our own advert (id = ours) does not clash with our own name.
    socp_client_peer_t r[] = {s_peer("me-id", "alice", FP_A), s_peer("id-b", "bob", FP_B)};
    CHECK_STREQ(s_label(r, 2, 0, "alice"), "alice");
    CHECK_STREQ(s_label(r, 2, 1, "alice"), "bob");
    // No fingerprint known: the name alone (nothing better to show).
    socp_client_peer_t s[] = {s_peer("id-a", "bob", ""), s_peer("id-b", "bob", FP_B)};
    CHECK_STREQ(s_label(s, 2, 0, NULL), "bob");
}

SOCP_TEST(client_names_resolve_by_label)
{
    socp_client_peer_t p[] = {s_peer("id-a", "bob", FP_A), s_peer("id-b", "bob", FP_B),
                              s_peer("id-c", "carol", FP_C)};
    int hits = 0;
    CHECK(!socp_client_peer_resolve(p, 3, "bob", &hits));
    CHECK_EQ(hits, 2);
    CHECK(socp_client_peer_resolve(p, 3, "bob#f9c8d9", &hits) == &p[1]);
    CHECK(socp_client_peer_resolve(p, 3, "bob#64E34A0F", &hits) == &p[0]);
    CHECK(socp_client_peer_resolve(p, 3, "carol", &hits) == &p[2]);
    // Too short a fingerprint, or one that names nobody: no match.
    CHECK(!socp_client_peer_resolve(p, 3, "bob#64e", &hits));
    CHECK(!socp_client_peer_resolve(p, 3, "bob#999999", &hits));
    CHECK(!socp_client_peer_resolve(p, 3, "carol#64e34a", &hits));
}
