// socp_bridge_req.c: the bridge's JSON-RPC request reader. Bytes from a
// stdin line or a ZeroMQ payload (JSON or msgpack) become either one checked
// call (method and typed params) or the error to answer. Pure: no actor, no
// I/O, no globals, so it is fuzzed as it runs (fuzz/fuzz_bridge_jsonrpc.c,
// fuzz/fuzz_bridge_mp.c). The actor (socp_bridge.c) runs the call.
// Part of socp, a SOCP v1.3 client and server.
#include <assert.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "socp/socp_bridge.h"
#include "socp/socp_uuid.h"

static void s_fail(socp_bridge_req_t *req, int code, const char *fmt, ...) SOCP_PRINTF(3, 4);

static void
s_fail(socp_bridge_req_t *req, int code, const char *fmt, ...)
{
    req->method = SOCP_BRIDGE_M_NONE;
    req->code = code;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(req->message, sizeof req->message, fmt, ap);
    va_end(ap);
}

// A string param, or NULL (after s_fail) when absent and required, not a
// string, or holding a NUL. Absent and optional: "".
static const char *
s_pstr(socp_bridge_req_t *req, json_t *params, const char *name, bool required)
{
    json_t *v = params ? json_object_get(params, name) : NULL;
    if (!v && !required) {
        return "";
    }
    if (!v || !json_is_string(v)) {
        s_fail(req, SOCP_BRIDGE_INVALID_PARAMS, "param \"%s\" must be a string", name);
        return NULL;
    }
    if (strlen(json_string_value(v)) != json_string_length(v)) {
        s_fail(req, SOCP_BRIDGE_INVALID_PARAMS, "param \"%s\" contains a NUL", name);
        return NULL;
    }
    return json_string_value(v);
}

// The method and its params, checked in the order the methods read them.
static void
s_params(socp_bridge_req_t *req, const char *method, json_t *params)
{
    if (strcmp(method, "send") == 0) {
        req->method = SOCP_BRIDGE_M_SEND;
        (void) ((req->to = s_pstr(req, params, "to", true)) &&
                (req->text = s_pstr(req, params, "text", true)));
    } else if (strcmp(method, "broadcast") == 0) {
        req->method = SOCP_BRIDGE_M_BROADCAST;
        req->text = s_pstr(req, params, "text", true);
    } else if (strcmp(method, "sendFile") == 0) {
        req->method = SOCP_BRIDGE_M_SEND_FILE;
        (void) ((req->to = s_pstr(req, params, "to", true)) &&
                (req->path = s_pstr(req, params, "path", true)));
    } else if (strcmp(method, "listUsers") == 0) {
        req->method = SOCP_BRIDGE_M_LIST_USERS;
    } else if (strcmp(method, "history") == 0) {
        req->method = SOCP_BRIDGE_M_HISTORY;
        json_t *l = params ? json_object_get(params, "limit") : NULL;
        if (l &&
            (!json_is_integer(l) || json_integer_value(l) < 1 || json_integer_value(l) > 10000)) {
            s_fail(req, SOCP_BRIDGE_INVALID_PARAMS, "param \"limit\" must be an integer 1..10000");
            return;
        }
        req->limit = l ? json_integer_value(l) : 20;
        req->peer = s_pstr(req, params, "peer", false);
    } else if (strcmp(method, "whoami") == 0) {
        req->method = SOCP_BRIDGE_M_WHOAMI;
    } else if (strcmp(method, "setDisplayName") == 0) {
        req->method = SOCP_BRIDGE_M_SET_DISPLAY_NAME;
        const char *a = s_pstr(req, params, "name", true);
        if (a && (!*a || strlen(a) > 64 || !socp_uuid_is_peer_id(a, strlen(a)))) {
            s_fail(req, SOCP_BRIDGE_INVALID_PARAMS,
                   "param \"name\" must be 1-64 printable characters");
            return;
        }
        req->name = a;
    } else if (strcmp(method, "stats") == 0) {
        req->method = SOCP_BRIDGE_M_STATS;
    } else {
        s_fail(req, SOCP_BRIDGE_METHOD_NOT_FOUND, "unknown method \"%.64s\"", method);
    }
}

// Checks the request object (takes the reference to root).
static void
s_object(socp_bridge_req_t *req, json_t *root)
{
    req->root = root;
    if (!json_is_object(root)) {
        s_fail(req, SOCP_BRIDGE_INVALID_REQUEST, "%s",
               json_is_array(root) ? "batch requests are not supported" : "a request is an object");
        return;
    }
    json_t *id = json_object_get(root, "id");
    if (id && !json_is_string(id) && !json_is_integer(id) && !json_is_null(id) &&
        !json_is_real(id)) {
        s_fail(req, SOCP_BRIDGE_INVALID_REQUEST, "id must be a string, a number or null");
        return;
    }
    req->id = id ? json_incref(id) : NULL;
    json_t *ver = json_object_get(root, "jsonrpc");
    json_t *method = json_object_get(root, "method");
    json_t *params = json_object_get(root, "params");
    if (!ver || !json_is_string(ver) || strcmp(json_string_value(ver), "2.0") != 0) {
        s_fail(req, SOCP_BRIDGE_INVALID_REQUEST, "\"jsonrpc\" must be \"2.0\"");
    } else if (!method || !json_is_string(method)) {
        s_fail(req, SOCP_BRIDGE_INVALID_REQUEST, "\"method\" must be a string");
    } else if (params && !json_is_object(params) && !json_is_null(params)) {
        s_fail(req, SOCP_BRIDGE_INVALID_PARAMS, "params must be an object (by name)");
    } else {
        s_params(req, json_string_value(method), json_is_object(params) ? params : NULL);
    }
}

void
socp_bridge_req_json(const void *data, size_t len, socp_bridge_req_t *req)
{
    assert(req);
    memset(req, 0, sizeof *req);
    json_error_t err;
    json_t *root =
        json_loadb(data ? data : "", len, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, &err);
    if (!root) {
        s_fail(req, SOCP_BRIDGE_PARSE_ERROR, "parse error at byte %d: %s", err.position, err.text);
        return;
    }
    s_object(req, root);
}

void
socp_bridge_req_msgpack(const void *data, size_t len, socp_bridge_req_t *req)
{
    assert(req);
    memset(req, 0, sizeof *req);
    json_t *root = NULL;
    // The check comes first: it bounds what msgpack-c allocates by len.
    if (socp_bridge_mp_check(data, len)) {
        msgpack_unpacked u;
        msgpack_unpacked_init(&u);
        size_t off = 0;
        if (msgpack_unpack_next(&u, data, len, &off) == MSGPACK_UNPACK_SUCCESS && off == len) {
            root = socp_bridge_mp_to_json(&u.data);
        }
        msgpack_unpacked_destroy(&u);
    }
    if (!root) {
        s_fail(req, SOCP_BRIDGE_PARSE_ERROR,
               "payload is not one msgpack value convertible to JSON");
        return;
    }
    s_object(req, root);
}

bool
socp_bridge_req_line(const char *line, size_t len, socp_bridge_req_t *req)
{
    assert(req);
    memset(req, 0, sizeof *req);
    while (len > 0 && (line[len - 1] == '\r' || line[len - 1] == ' ' || line[len - 1] == '\t')) {
        len--;
    }
    size_t skip = 0;
    while (skip < len && (line[skip] == ' ' || line[skip] == '\t')) {
        skip++;
    }
    if (skip == len) {
        return false; // a blank line: nothing to answer
    }
    socp_bridge_req_json(line + skip, len - skip, req);
    return true;
}

void
socp_bridge_req_fini(socp_bridge_req_t *req)
{
    assert(req);
    json_decref(req->id);
    json_decref(req->root);
    memset(req, 0, sizeof *req);
}
