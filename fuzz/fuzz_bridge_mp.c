// fuzz_bridge_mp.c: libFuzzer target: the bridge's msgpack reader, a
// ZeroMQ request payload (socp_bridge_mp_check, msgpack-c, the msgpack to
// JSON conversion of actors/socp_bridge_mp.c, then the request checks of
// actors/socp_bridge_req.c). Part of socp, a SOCP v1.3 client and server.
//
// Properties checked (abort on violation):
//   - socp_bridge_req_msgpack never crashes or leaks, and a parse error
//     (-32700) carries no id and no value;
//   - socp_bridge_mp_check never accepts what msgpack-c would not unpack as
//     exactly one value (it may refuse more: nesting beyond msgpack-c's
//     stack), and never accepts a strict prefix of what it accepts;
//   - a value that converts to JSON packs back (socp_bridge_mp_pack) to bytes
//     that pass the check and convert to an equal value, and the request
//     reads the same from them.
#include "socp/socp_bridge.h"

#include <stdlib.h>
#include <string.h>

#include "fuzz_require.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    socp_bridge_req_t r;
    socp_bridge_req_msgpack(data, size, &r);
    S_REQUIRE((r.method == SOCP_BRIDGE_M_NONE) == (r.code != 0));
    S_REQUIRE(r.code != SOCP_BRIDGE_PARSE_ERROR || (!r.root && !r.id));
    S_REQUIRE(r.code == SOCP_BRIDGE_PARSE_ERROR || r.root);

    if (socp_bridge_mp_check(data, size)) {
        // Safe to hand to msgpack-c now: the check bounds its allocations.
        msgpack_unpacked u;
        msgpack_unpacked_init(&u);
        size_t off = 0;
        msgpack_unpack_return ur = msgpack_unpack_next(&u, (const char *) data, size, &off);
        S_REQUIRE((ur == MSGPACK_UNPACK_SUCCESS && off == size) ||
                  ur == MSGPACK_UNPACK_NOMEM_ERROR);
        msgpack_unpacked_destroy(&u);
        for (size_t k = 0; size <= 256 && k < size; k++) {
            S_REQUIRE(!socp_bridge_mp_check(data, k));
        }
    }

    if (r.root) {
        msgpack_sbuffer sb;
        msgpack_sbuffer_init(&sb);
        msgpack_packer pk;
        msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
        socp_bridge_mp_pack(&pk, r.root);
        S_REQUIRE(socp_bridge_mp_check(sb.data, sb.size));
        socp_bridge_req_t again;
        socp_bridge_req_msgpack(sb.data, sb.size, &again);
        S_REQUIRE(again.root && json_equal(again.root, r.root));
        S_REQUIRE(again.method == r.method && again.code == r.code);
        S_REQUIRE(strcmp(again.message, r.message) == 0);
        S_REQUIRE((!again.id && !r.id) || (again.id && r.id && json_equal(again.id, r.id)));
        socp_bridge_req_fini(&again);
        msgpack_sbuffer_destroy(&sb);
    }
    socp_bridge_req_fini(&r);
    return 0;
}
