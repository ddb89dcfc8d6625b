// fuzz_ws_handshake.c: libFuzzer target: the HTTP upgrade parsers and the URL parser.
//
// Input: one control byte, then the bytes. Control bits 0-1 pick the target:
// 0 = a server session fed a "request", 1 = a client session fed an
// "answer" (its key is random, so this mostly exercises rejection), 2 = the
// answer parser against the accept for the RFC 6455 example key, 3 = the
// request parser and socp_ws_parse_url. Bits 2-7 give the feed size for the
// sessions (0 = everything at once).
#include "socp/socp_ws.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "socp/socp_err.h"

#include "fuzz_require.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static bool
s_starts(const uint8_t *p, size_t len, const char *prefix)
{
    size_t n = strlen(prefix);
    return len >= n && memcmp(p, prefix, n) == 0;
}

static void
s_session(socp_ws_role_t role, const uint8_t *data, size_t size, size_t chunk)
{
    socp_ws_t *ws = socp_ws_new(role, NULL);
    S_REQUIRE(ws);
    if (role == SOCP_WS_CLIENT) {
        S_REQUIRE(socp_ws_request(ws, "example.org", 8765, "/") == 0);
        size_t len = 0;
        socp_ws_output(ws, &len);
        socp_ws_output_consumed(ws, len);
    }
    int rc = 0;
    for (size_t off = 0; off < size && rc == 0;) {
        size_t n = chunk == 0 || size - off < chunk ? size - off : chunk;
        rc = socp_ws_feed(ws, data + off, n);
        off += n;
    }
    size_t len = 0;
    const uint8_t *out = socp_ws_output(ws, &len);
    if (rc != 0 && rc != SOCP_ECLOSED) {
        S_REQUIRE(socp_ws_state(ws) == SOCP_WS_FAILED);
        S_REQUIRE(socp_ws_feed(ws, "x", 1) == rc);
        if (role == SOCP_WS_SERVER && socp_ws_path(ws) == NULL) {
            S_REQUIRE(s_starts(out, len, "HTTP/1.1 400 ") || s_starts(out, len, "HTTP/1.1 426 "));
        }
    } else if (socp_ws_state(ws) == SOCP_WS_OPEN && role == SOCP_WS_SERVER) {
        S_REQUIRE(s_starts(out, len, "HTTP/1.1 101 "));
        S_REQUIRE(socp_ws_path(ws) && socp_ws_path(ws)[0] == '/');
    }
    socp_ws_msg_t msg;
    while (socp_ws_next_message(ws, &msg) == 0) {
    }
    socp_ws_destroy(&ws);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1) {
        return 0;
    }
    uint8_t ctl = data[0];
    data++;
    size--;
    size_t chunk = ctl >> 2;
    switch (ctl & 3) {
        case 0:
            s_session(SOCP_WS_SERVER, data, size, chunk);
            break;
        case 1:
            s_session(SOCP_WS_CLIENT, data, size, chunk);
            break;
        case 2: {
            size_t end = 0;
            if (socp_ws_handshake_scan(data, size, 0, false, &end) == 0) {
                (void) socp_ws_handshake_parse_response(data, end, "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
            }
            (void) socp_ws_handshake_parse_response(data, size, "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
            break;
        }
        default: {
            socp_ws_request_t req;
            if (socp_ws_handshake_parse_request(data, size, &req) == 0) {
                S_REQUIRE(req.path[0] == '/' && req.host[0] != '\0');
                S_REQUIRE(strlen(req.accept) == SOCP_WS_ACCEPT_LEN);
            }
            char *url = malloc(size + 1);
            S_REQUIRE(url);
            memcpy(url, data, size);
            url[size] = '\0';
            char host[SOCP_WS_HOST_MAX], path[SOCP_WS_PATH_MAX];
            uint16_t port;
            if (socp_ws_parse_url(url, host, &port, path) == 0) {
                S_REQUIRE(host[0] != '\0' && port != 0 && path[0] == '/');
            }
            free(url);
            break;
        }
    }
    return 0;
}
