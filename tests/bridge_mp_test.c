// bridge_mp_test.c: the bridge's msgpack <-> JSON conversion and the
// pre-allocation check of untrusted msgpack.
#include <jansson.h>
#include <msgpack.h>
#include <string.h>

#include "socp/socp_bridge.h"
#include "socp_test.h"

static void
s_pack(const char *json_text, msgpack_sbuffer *sb)
{
    json_t *v = json_loads(json_text, JSON_DECODE_ANY, NULL);
    CHECK(v);
    msgpack_sbuffer_init(sb);
    msgpack_packer pk;
    msgpack_packer_init(&pk, sb, msgpack_sbuffer_write);
    socp_bridge_mp_pack(&pk, v);
    json_decref(v);
}

SOCP_TEST(bridge_mp_roundtrip)
{
    static const char *const docs[] = {
        ("{\"jsonrpc\":\"2.0\",\"id\":7,\"method\":\"send\",\"params\":{\"to\":\"bob\","
         "\"text\":\"h\\u00e9llo\"}}"),
        "[1,-2,3.5,true,false,null,\"\",[],{}]",
        ("{\"a\":[[[[{\"b\":[1,2,3]}]]]],\"big\":9007199254740993,"
         "\"neg\":-9007199254740993}"),
    };
    for (size_t i = 0; i < SOCP_ARRAY_LEN(docs); i++) {
        msgpack_sbuffer sb;
        s_pack(docs[i], &sb);
        CHECK(socp_bridge_mp_check(sb.data, sb.size));
        // Every strict prefix is refused; so is a trailing byte.
        for (size_t k = 0; k < sb.size; k++) {
            CHECK_MSG(!socp_bridge_mp_check(sb.data, k), "doc %zu prefix %zu accepted", i, k);
        }
        msgpack_unpacked u;
        msgpack_unpacked_init(&u);
        size_t off = 0;
        CHECK(msgpack_unpack_next(&u, sb.data, sb.size, &off) == MSGPACK_UNPACK_SUCCESS);
        json_t *back = socp_bridge_mp_to_json(&u.data);
        json_t *want = json_loads(docs[i], JSON_DECODE_ANY, NULL);
        CHECK(back && json_equal(back, want));
        json_decref(back);
        json_decref(want);
        msgpack_unpacked_destroy(&u);
        msgpack_sbuffer_destroy(&sb);
    }
}

SOCP_TEST(bridge_mp_check_hostile)
{
    static const struct {
        const char *data;
        size_t len;
    } bad[] = {
        {"\xdd\xff\xff\xff\xff", 5},     // array of 4 billion in 5 bytes
        {"\xdf\x00\x01\x00\x00\x01", 6}, // map of 65536 entries
        {"\xdb\xff\xff\xff\xff"
         "abc",
         8}, // str32 longer than the input
        {"\xc6\x00\x00\x00\x05"
         "ab",
         7},                 // bin32 short
        {"\xc1", 1},         // never-used type
        {"\x91\x91\x91", 3}, // nested arrays, missing the innermost value
        {"\x01\x02", 2},     // two values
        {"", 0},
    };
    for (size_t i = 0; i < SOCP_ARRAY_LEN(bad); i++) {
        CHECK_MSG(!socp_bridge_mp_check(bad[i].data, bad[i].len), "case %zu accepted", i);
    }
    CHECK(socp_bridge_mp_check("\x92\x01\x80", 3)); // [1, {}]
    CHECK(socp_bridge_mp_check("\xd8\x01"
                               "0123456789abcdef",
                               18)); // fixext16
    // Non-string map keys and invalid UTF-8 do not convert.
    msgpack_unpacked u;
    msgpack_unpacked_init(&u);
    size_t off = 0;
    CHECK(msgpack_unpack_next(&u, "\x81\x01\x02", 3, &off) == MSGPACK_UNPACK_SUCCESS);
    CHECK(socp_bridge_mp_to_json(&u.data) == NULL);
    off = 0;
    CHECK(msgpack_unpack_next(&u, "\xa2\xff\xfe", 3, &off) == MSGPACK_UNPACK_SUCCESS);
    CHECK(socp_bridge_mp_to_json(&u.data) == NULL);
    msgpack_unpacked_destroy(&u);
}

// msgpack-c gives an empty fixstr (0xa0, what every packer emits for "") a
// NULL pointer when no sized item came before it in the buffer: it must
// still read as "", as a map key and as a value. (Found by
// fuzz/fuzz_bridge_mp.c: a request whose first key was "" got -32700.)
SOCP_TEST(bridge_mp_empty_string)
{
    // {"": "", "jsonrpc": "2.0", "id": "", "method": "history", "params": {"peer": ""}}
    static const char req[] = "\x85\xa0\xa0"
                              "\xa7jsonrpc\xa3"
                              "2.0"
                              "\xa2id\xa0"
                              "\xa6method\xa7history"
                              "\xa6params\x81\xa4peer\xa0";
    socp_bridge_req_t r;
    socp_bridge_req_msgpack(req, sizeof req - 1, &r);
    CHECK_MSG(r.code == 0, "answered %d: %s", r.code, r.message);
    CHECK_EQ(r.method, SOCP_BRIDGE_M_HISTORY);
    CHECK_STREQ(json_string_value(r.id), "");
    CHECK_STREQ(r.peer, "");
    CHECK_EQ(r.limit, 20);
    CHECK_STREQ(json_string_value(json_object_get(r.root, "")), "");
    socp_bridge_req_fini(&r);
    // The same for a lone empty string: a value, not a request.
    socp_bridge_req_msgpack("\xa0", 1, &r);
    CHECK_EQ(r.code, SOCP_BRIDGE_INVALID_REQUEST);
    socp_bridge_req_fini(&r);
}
