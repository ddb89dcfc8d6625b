// fuzz_bridge_jsonrpc.c: libFuzzer target: the bridge's JSON-RPC request
// reader (actors/socp_bridge_req.c) as the stdio and ZeroMQ front ends use it.
// Part of socp, a SOCP v1.3 client and server.
//
// The input is read twice: as stdin (split into lines at '\n', each line
// through socp_bridge_req_line, as the actor does) and as one ZeroMQ JSON
// payload (socp_bridge_req_json). Properties checked (abort on violation):
//   - the reader never crashes or leaks, and its result is consistent: a
//     call has code 0 and exactly the params its method takes, each a
//     NUL-free string (history: a limit in 1..10000; setDisplayName: a name
//     of 1-64 printable characters); otherwise the code is one of -32700,
//     -32600, -32601, -32602 with a message; a parse error has no id;
//   - a line is blank (no answer) exactly when it holds only spaces, tabs
//     and CRs;
//   - whatever parses as JSON reads the same once packed as msgpack
//     (socp_bridge_req_msgpack): same call, params, id and error, as long as
//     the value fits what the msgpack reader takes (at most 32 nested
//     non-empty containers, map keys of at most 256 bytes).
#include "socp/socp_bridge.h"

#include <stdlib.h>
#include <string.h>

#include "socp/socp_uuid.h"

#include "fuzz_require.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static bool
s_nul_free(const char *s, const json_t *root, const char *name)
{
    const json_t *v = json_object_get(json_object_get(root, "params"), name);
    return s && v && json_is_string(v) && json_string_value(v) == s &&
           strlen(s) == json_string_length(v);
}

static void
s_check(const socp_bridge_req_t *r)
{
    S_REQUIRE(strlen(r->message) < sizeof r->message);
    S_REQUIRE(!r->id || json_is_string(r->id) || json_is_integer(r->id) || json_is_real(r->id) ||
              json_is_null(r->id));
    if (r->method == SOCP_BRIDGE_M_NONE) {
        S_REQUIRE(r->code == SOCP_BRIDGE_PARSE_ERROR || r->code == SOCP_BRIDGE_INVALID_REQUEST ||
                  r->code == SOCP_BRIDGE_METHOD_NOT_FOUND || r->code == SOCP_BRIDGE_INVALID_PARAMS);
        S_REQUIRE(r->message[0] != '\0');
        S_REQUIRE(r->code != SOCP_BRIDGE_PARSE_ERROR || (!r->root && !r->id));
        S_REQUIRE(r->code == SOCP_BRIDGE_PARSE_ERROR || r->root);
        return;
    }
    S_REQUIRE(r->code == 0 && r->root && json_is_object(r->root));
    const json_t *root = r->root;
    bool to = false, text = false, path = false, peer = false, name = false;
    switch (r->method) {
        case SOCP_BRIDGE_M_SEND:
            to = text = true;
            break;
        case SOCP_BRIDGE_M_BROADCAST:
            text = true;
            break;
        case SOCP_BRIDGE_M_SEND_FILE:
            to = path = true;
            break;
        case SOCP_BRIDGE_M_HISTORY:
            peer = true;
            S_REQUIRE(r->limit >= 1 && r->limit <= 10000);
            // "" when absent; else the string in params
            S_REQUIRE(r->peer && (r->peer[0] == '\0' || s_nul_free(r->peer, root, "peer")));
            break;
        case SOCP_BRIDGE_M_SET_DISPLAY_NAME:
            name = true;
            S_REQUIRE(s_nul_free(r->name, root, "name"));
            S_REQUIRE(strlen(r->name) >= 1 && strlen(r->name) <= 64 &&
                      socp_uuid_is_peer_id(r->name, strlen(r->name)));
            break;
        case SOCP_BRIDGE_M_LIST_USERS:
        case SOCP_BRIDGE_M_WHOAMI:
        case SOCP_BRIDGE_M_STATS:
            break;
        default:
            S_REQUIRE(!"a method the reader does not know");
    }
    S_REQUIRE(to ? s_nul_free(r->to, root, "to") : !r->to);
    S_REQUIRE(text ? s_nul_free(r->text, root, "text") : !r->text);
    S_REQUIRE(path ? s_nul_free(r->path, root, "path") : !r->path);
    S_REQUIRE(peer || !r->peer);
    S_REQUIRE(name || !r->name);
    S_REQUIRE(r->method == SOCP_BRIDGE_M_HISTORY || r->limit == 0);
}

static bool
s_same_str(const char *a, const char *b)
{
    return (!a && !b) || (a && b && strcmp(a, b) == 0);
}

// Whether the msgpack reader takes v: non-empty containers nested at most 32
// deep (msgpack-c's unpacker stack) and map keys of at most 256 bytes.
static bool
s_mp_fits(const json_t *v, int open)
{
    if (json_is_object(v)) {
        if (json_object_size(v) > 0 && open >= 32) {
            return false;
        }
        const char *k;
        json_t *x;
        json_object_foreach((json_t *) v, k, x)
        {
            if (strlen(k) > 256 || !s_mp_fits(x, open + 1)) {
                return false;
            }
        }
    } else if (json_is_array(v)) {
        if (json_array_size(v) > 0 && open >= 32) {
            return false;
        }
        size_t i;
        json_t *x;
        json_array_foreach(v, i, x)
        {
            if (!s_mp_fits(x, open + 1)) {
                return false;
            }
        }
    }
    return true;
}

// The same request packed as msgpack must read the same.
static void
s_cross_check(const socp_bridge_req_t *j)
{
    if (!j->root || !s_mp_fits(j->root, 0)) {
        return;
    }
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    msgpack_packer pk;
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    socp_bridge_mp_pack(&pk, j->root);
    socp_bridge_req_t m;
    socp_bridge_req_msgpack(sb.data, sb.size, &m);
    s_check(&m);
    S_REQUIRE(m.method == j->method && m.code == j->code);
    S_REQUIRE(strcmp(m.message, j->message) == 0);
    S_REQUIRE(json_equal(m.root, j->root));
    S_REQUIRE((!m.id && !j->id) || (m.id && j->id && json_equal(m.id, j->id)));
    S_REQUIRE(s_same_str(m.to, j->to) && s_same_str(m.text, j->text));
    S_REQUIRE(s_same_str(m.path, j->path) && s_same_str(m.peer, j->peer));
    S_REQUIRE(s_same_str(m.name, j->name) && m.limit == j->limit);
    socp_bridge_req_fini(&m);
    msgpack_sbuffer_destroy(&sb);
}

static bool
s_blank(const uint8_t *p, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (p[i] != ' ' && p[i] != '\t' && p[i] != '\r') {
            return false;
        }
    }
    return true;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    // stdin: line by line
    for (size_t pos = 0; pos <= size;) {
        const uint8_t *nl = memchr(data + pos, '\n', size - pos);
        size_t len = nl ? (size_t) (nl - (data + pos)) : size - pos;
        if (!nl && len == 0) {
            break; // input ended with a newline
        }
        socp_bridge_req_t r;
        bool answered = socp_bridge_req_line((const char *) data + pos, len, &r);
        S_REQUIRE(answered == !s_blank(data + pos, len));
        if (answered) {
            s_check(&r);
        } else {
            S_REQUIRE(r.method == SOCP_BRIDGE_M_NONE && r.code == 0 && !r.root && !r.id);
        }
        socp_bridge_req_fini(&r);
        socp_bridge_req_fini(&r); // idempotent
        pos += len + 1;
    }
    // ZeroMQ: the whole input is one JSON payload
    socp_bridge_req_t r;
    socp_bridge_req_json(data, size, &r);
    s_check(&r);
    s_cross_check(&r);
    socp_bridge_req_fini(&r);
    return 0;
}
