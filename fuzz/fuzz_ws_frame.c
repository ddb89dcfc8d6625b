// fuzz_ws_frame.c: libFuzzer target: arbitrary frame bytes fed to an open WebSocket session.
//
// Input: one control byte, then the bytes the peer "sent". Control bit 0
// picks the role (0 = server, fed what should be masked client frames; 1 =
// client, fed server frames), bit 1 small limits, bits 2-7 the feed size
// (0 = everything at once). The session must never crash, leak or break its
// contract: an error is sticky and leaves the state FAILED.
#include "socp/socp_ws.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "socp/socp_err.h"

#include "fuzz_require.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
s_drop_output(socp_ws_t *ws)
{
    size_t len = 0;
    socp_ws_output(ws, &len);
    socp_ws_output_consumed(ws, len);
}

// Brings a session of `role` to OPEN with a canned peer.
static socp_ws_t *
s_open(socp_ws_role_t role, const socp_ws_opts_t *opts)
{
    socp_ws_t *ws = socp_ws_new(role, opts);
    S_REQUIRE(ws);
    if (role == SOCP_WS_SERVER) {
        static const char req[] = "GET / HTTP/1.1\r\nHost: h\r\nUpgrade: websocket\r\n"
                                  "Connection: Upgrade\r\nSec-WebSocket-Version: 13\r\n"
                                  "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n";
        S_REQUIRE(socp_ws_feed(ws, req, sizeof(req) - 1) == 0);
    } else {
        S_REQUIRE(socp_ws_request(ws, "h", 8765, "/") == 0);
        size_t len = 0;
        const char *out = (const char *) socp_ws_output(ws, &len);
        const char *key = NULL;
        for (size_t i = 0; !key && i + 19 + SOCP_WS_KEY_LEN <= len; i++) {
            key = memcmp(out + i, "Sec-WebSocket-Key: ", 19) == 0 ? out + i : NULL;
        }
        S_REQUIRE(key);
        char accept[SOCP_WS_ACCEPT_LEN + 1];
        S_REQUIRE(socp_ws_handshake_accept(key + 19, SOCP_WS_KEY_LEN, accept) == 0);
        char answer[256];
        int n = snprintf(answer, sizeof(answer),
                         "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
                         "Connection: Upgrade\r\nSec-WebSocket-Accept: %s\r\n\r\n",
                         accept);
        S_REQUIRE(socp_ws_feed(ws, answer, (size_t) n) == 0);
    }
    S_REQUIRE(socp_ws_state(ws) == SOCP_WS_OPEN);
    s_drop_output(ws);
    return ws;
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
    socp_ws_opts_t small = {.max_message = 300, .max_send = 200, .max_output = 1000};
    socp_ws_t *ws = s_open(ctl & 1 ? SOCP_WS_CLIENT : SOCP_WS_SERVER, ctl & 2 ? &small : NULL);
    size_t chunk = ctl >> 2;
    int sticky = 0;
    for (size_t off = 0; off < size;) {
        size_t n = chunk == 0 || size - off < chunk ? size - off : chunk;
        int rc = socp_ws_feed(ws, data + off, n);
        off += n;
        if (sticky != 0) {
            S_REQUIRE(rc == sticky);
        } else if (rc != 0 && rc != SOCP_ECLOSED) {
            S_REQUIRE(socp_ws_state(ws) == SOCP_WS_FAILED && socp_ws_error(ws) == rc);
            sticky = rc;
        }
        socp_ws_msg_t msg;
        while (socp_ws_next_message(ws, &msg) == 0) {
            S_REQUIRE(msg.data[msg.len] == 0);
            // Echo it: exercises the send path in every state.
            int src = msg.kind == SOCP_WS_TEXT
                          ? socp_ws_send_text(ws, (const char *) msg.data, msg.len)
                          : socp_ws_send_binary(ws, msg.data, msg.len);
            S_REQUIRE(sticky == 0 || src == sticky);
        }
        // Write out about half of the output, to keep some pending.
        size_t len = 0;
        socp_ws_output(ws, &len);
        socp_ws_output_consumed(ws, len / 2);
    }
    if (sticky == 0 && socp_ws_state(ws) == SOCP_WS_OPEN) {
        S_REQUIRE(socp_ws_close(ws, 1000, "fuzz") == 0);
        S_REQUIRE(socp_ws_state(ws) == SOCP_WS_CLOSING);
    }
    socp_ws_destroy(&ws);
    return 0;
}
