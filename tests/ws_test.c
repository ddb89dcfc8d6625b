// ws_test.c: the WebSocket session (socp_ws) and its handshake, in memory and over loopback TCP.
#include "socp_test.h"

#include "socp/socp_ws.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

// ---- helpers ------------------------------------------------------------------

// Moves all of a's output into b, `chunk` bytes per feed (0 = all at once).
// Returns the first non-zero feed result, or 0.
static int
s_move(socp_ws_t *a, socp_ws_t *b, size_t chunk)
{
    size_t len = 0;
    const uint8_t *out = socp_ws_output(a, &len);
    if (len == 0) {
        return 0;
    }
    uint8_t *copy = socp_memdup(out, len);
    socp_ws_output_consumed(a, len);
    int rc = 0;
    for (size_t off = 0; off < len && rc == 0;) {
        size_t n = chunk == 0 || len - off < chunk ? len - off : chunk;
        rc = socp_ws_feed(b, copy + off, n);
        off += n;
    }
    free(copy);
    return rc;
}

// Pumps bytes both ways until neither side has output; every feed must pass.
static void
s_pump(socp_ws_t *client, socp_ws_t *server, size_t chunk)
{
    while (socp_ws_want_write(client) || socp_ws_want_write(server)) {
        CHECK_OK(s_move(client, server, chunk));
        CHECK_OK(s_move(server, client, chunk));
    }
}

// A client and a server with the handshake done over `path`.
static void
s_open_pair(socp_ws_t **client,
            socp_ws_t **server,
            const socp_ws_opts_t *copts,
            const socp_ws_opts_t *sopts,
            size_t chunk)
{
    *client = socp_ws_new(SOCP_WS_CLIENT, copts);
    *server = socp_ws_new(SOCP_WS_SERVER, sopts);
    CHECK(*client && *server);
    CHECK_OK(socp_ws_request(*client, "localhost", 8765, "/chat?room=1"));
    CHECK_EQ(socp_ws_state(*client), SOCP_WS_CONNECTING);
    s_pump(*client, *server, chunk);
    CHECK_EQ(socp_ws_state(*client), SOCP_WS_OPEN);
    CHECK_EQ(socp_ws_state(*server), SOCP_WS_OPEN);
    CHECK_STREQ(socp_ws_path(*server), "/chat?room=1");
}

// Takes one message and checks it is `kind` with exactly `len` bytes of `data`.
static void
s_expect_msg(socp_ws_t *ws, socp_ws_kind_t kind, const void *data, size_t len)
{
    socp_ws_msg_t msg;
    CHECK_OK(socp_ws_next_message(ws, &msg));
    CHECK_EQ(msg.kind, kind);
    CHECK_EQ(msg.len, len);
    CHECK_MEMEQ(msg.data, data, len);
    CHECK_EQ(msg.data[len], 0);
}

static void
s_expect_no_msg(socp_ws_t *ws)
{
    socp_ws_msg_t msg;
    CHECK_RC(socp_ws_next_message(ws, &msg), SOCP_EAGAIN);
    CHECK(msg.data == NULL);
}

// Writes one raw frame with first byte `first` (FIN, RSV, opcode) and the
// shortest length encoding; masked with key 11 22 33 44 when `mask`.
// Returns its length.
static size_t
s_frame(uint8_t *buf, uint8_t first, bool mask, const void *payload, size_t len)
{
    static const uint8_t key[4] = {0x11, 0x22, 0x33, 0x44};
    size_t n = 0;
    buf[n++] = first;
    uint8_t m = mask ? 0x80 : 0;
    if (len < 126) {
        buf[n++] = (uint8_t) (m | len);
    } else if (len < 65536) {
        buf[n++] = m | 126;
        buf[n++] = (uint8_t) (len >> 8);
        buf[n++] = (uint8_t) len;
    } else {
        buf[n++] = m | 127;
        for (int i = 7; i >= 0; i--) {
            buf[n++] = (uint8_t) ((uint64_t) len >> (8 * i));
        }
    }
    if (mask) {
        memcpy(buf + n, key, 4);
        n += 4;
    }
    const uint8_t *p = payload;
    for (size_t i = 0; i < len; i++) {
        buf[n++] = mask ? (uint8_t) (p[i] ^ key[i % 4]) : p[i];
    }
    return n;
}

// A server session that accepted a canned request; its 101 is consumed.
static socp_ws_t *
s_open_server(const socp_ws_opts_t *opts)
{
    static const char req[] = "GET /chat HTTP/1.1\r\n"
                              "Host: server.example.com\r\n"
                              "Upgrade: websocket\r\n"
                              "Connection: Upgrade\r\n"
                              "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                              "Sec-WebSocket-Version: 13\r\n\r\n";
    socp_ws_t *server = socp_ws_new(SOCP_WS_SERVER, opts);
    CHECK(server);
    CHECK_OK(socp_ws_feed(server, req, strlen(req)));
    CHECK_EQ(socp_ws_state(server), SOCP_WS_OPEN);
    size_t len = 0;
    socp_ws_output(server, &len);
    socp_ws_output_consumed(server, len);
    return server;
}

// The output as a NUL-terminated copy (for HTTP answers); caller frees.
static char *
s_output_text(socp_ws_t *ws)
{
    size_t len = 0;
    const uint8_t *out = socp_ws_output(ws, &len);
    char *text = socp_malloc(len + 1);
    if (len > 0) {
        memcpy(text, out, len);
    }
    text[len] = '\0';
    return text;
}

// Checks that the output is exactly one server close frame with `code`.
static void
s_expect_close_frame(socp_ws_t *ws, uint16_t code)
{
    size_t len = 0;
    const uint8_t *out = socp_ws_output(ws, &len);
    CHECK_EQ(len, 4);
    CHECK_EQ(out[0], 0x88);
    CHECK_EQ(out[1], 2);
    CHECK_EQ((out[2] << 8) | out[3], code);
    CHECK_EQ(socp_ws_close_code_sent(ws), code);
}

static uint8_t *
s_pattern(size_t len)
{
    uint8_t *p = socp_malloc(len + 1);
    for (size_t i = 0; i < len; i++) {
        p[i] = (uint8_t) ('a' + (i * 7 + i / 26) % 26);
    }
    return p;
}

// ---- handshake ----------------------------------------------------------------

SOCP_TEST(ws_accept_matches_rfc6455_example)
{
    char accept[SOCP_WS_ACCEPT_LEN + 1];
    const char *key = "dGhlIHNhbXBsZSBub25jZQ==";
    CHECK_OK(socp_ws_handshake_accept(key, strlen(key), accept));
    CHECK_STREQ(accept, "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
}

SOCP_TEST(ws_server_answers_rfc_request_with_101)
{
    socp_ws_t *server = socp_ws_new(SOCP_WS_SERVER, NULL);
    CHECK(server);
    CHECK(socp_ws_path(server) == NULL);
    const char *req = "GET /chat HTTP/1.1\r\n"
                      "Host: server.example.com\r\n"
                      "upgrade: WebSocket\r\n"
                      "Connection: keep-alive, upgrade\r\n"
                      "Sec-WebSocket-Key:   dGhlIHNhbXBsZSBub25jZQ==  \r\n"
                      "Origin: http://example.com\r\n"
                      "Sec-WebSocket-Protocol: chat, superchat\r\n"
                      "Sec-WebSocket-Version: 13\r\n\r\n";
    CHECK_OK(socp_ws_feed(server, req, strlen(req)));
    CHECK_EQ(socp_ws_state(server), SOCP_WS_OPEN);
    CHECK_STREQ(socp_ws_path(server), "/chat");
    char *answer = s_output_text(server);
    CHECK_STREQ(answer, "HTTP/1.1 101 Switching Protocols\r\n"
                        "Upgrade: websocket\r\n"
                        "Connection: Upgrade\r\n"
                        "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n");
    free(answer);
    socp_ws_destroy(&server);
    CHECK(server == NULL);
    socp_ws_destroy(&server); // idempotent
}

// Each bad request is refused with SOCP_EPROTO and the right HTTP answer.
SOCP_TEST(ws_server_rejects_bad_requests)
{
#define S_OK_HEAD "Host: h\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
#define S_OK_KEY  "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
#define S_OK_VER  "Sec-WebSocket-Version: 13\r\n"
    static const struct {
        const char *what;
        const char *request;
        int status;
    } cases[] = {
        {"key of 22 characters",
         "GET / HTTP/1.1\r\n" S_OK_HEAD S_OK_VER "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZ"
         "Q\r\n\r\n",
         400},
        {"key not base64",
         "GET / HTTP/1.1\r\n" S_OK_HEAD S_OK_VER
         "Sec-WebSocket-Key: !!!!!!!!!!!!!!!!!!!!!!==\r\n\r\n",
         400},
        {"key of 18 bytes",
         "GET / HTTP/1.1\r\n" S_OK_HEAD S_OK_VER
         "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQAA\r\n\r\n",
         400},
        {"two keys", "GET / HTTP/1.1\r\n" S_OK_HEAD S_OK_VER S_OK_KEY S_OK_KEY "\r\n", 400},
        {"no key", "GET / HTTP/1.1\r\n" S_OK_HEAD S_OK_VER "\r\n", 400},
        {"no Upgrade",
         "GET / HTTP/1.1\r\nHost: h\r\nConnection: Upgrade\r\n" S_OK_KEY S_OK_VER "\r\n", 400},
        {"Upgrade: h2c",
         "GET / HTTP/1.1\r\nHost: h\r\nUpgrade: h2c\r\nConnection: Upgrade\r\n" S_OK_KEY S_OK_VER
         "\r\n",
         400},
        {"Connection without upgrade",
         "GET / HTTP/1.1\r\nHost: h\r\nUpgrade: websocket\r\n"
         "Connection: keep-alive\r\n" S_OK_KEY S_OK_VER "\r\n",
         400},
        {"no Host",
         "GET / HTTP/1.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" S_OK_KEY S_OK_VER "\r\n",
         400},
        {"no version", "GET / HTTP/1.1\r\n" S_OK_HEAD S_OK_KEY "\r\n", 400},
        {"version 8", "GET / HTTP/1.1\r\n" S_OK_HEAD S_OK_KEY "Sec-WebSocket-Version: 8\r\n\r\n",
         426},
        {"POST", "POST / HTTP/1.1\r\n" S_OK_HEAD S_OK_KEY S_OK_VER "\r\n", 400},
        {"HTTP/1.0", "GET / HTTP/1.0\r\n" S_OK_HEAD S_OK_KEY S_OK_VER "\r\n", 400},
        {"target without /", "GET chat HTTP/1.1\r\n" S_OK_HEAD S_OK_KEY S_OK_VER "\r\n", 400},
        {"bare LF", "GET / HTTP/1.1\n" S_OK_HEAD S_OK_KEY S_OK_VER "\r\n", 400},
        {"folded header", "GET / HTTP/1.1\r\n" S_OK_HEAD " folded\r\n" S_OK_KEY S_OK_VER "\r\n",
         400},
        {"space before colon",
         "GET / HTTP/1.1\r\n" S_OK_HEAD "X-A : b\r\n" S_OK_KEY S_OK_VER "\r\n", 400},
        {"TLS hello", "\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03", 400},
        {"garbage text", "hello there\r\n\r\n", 400},
        {"NUL in header", "GET / HTTP/1.1\r\nHost: a\0b\r\n", 400},
    };
    for (size_t i = 0; i < SOCP_ARRAY_LEN(cases); i++) {
        socp_ws_t *server = socp_ws_new(SOCP_WS_SERVER, NULL);
        CHECK(server);
        size_t len = strlen(cases[i].request);
        if (strcmp(cases[i].what, "NUL in header") == 0) {
            len = 24;
        }
        int rc = socp_ws_feed(server, cases[i].request, len);
        CHECK_MSG(rc == SOCP_EPROTO, "%s: feed returned %d", cases[i].what, rc);
        CHECK_EQ(socp_ws_state(server), SOCP_WS_FAILED);
        char *answer = s_output_text(server);
        if (cases[i].status == 426) {
            CHECK_MSG(strncmp(answer, "HTTP/1.1 426 ", 13) == 0, "%s: %s", cases[i].what, answer);
            CHECK(strstr(answer, "\r\nSec-WebSocket-Version: 13\r\n") != NULL);
        } else {
            CHECK_MSG(strncmp(answer, "HTTP/1.1 400 ", 13) == 0, "%s: %s", cases[i].what, answer);
        }
        free(answer);
        // Sticky: the session refuses everything else with the same code.
        CHECK_RC(socp_ws_feed(server, "x", 1), SOCP_EPROTO);
        CHECK_RC(socp_ws_send_text(server, "x", 1), SOCP_EPROTO);
        CHECK(socp_ws_path(server) == NULL);
        socp_ws_destroy(&server);
    }
#undef S_OK_HEAD
#undef S_OK_KEY
#undef S_OK_VER
}

SOCP_TEST(ws_server_rejects_endless_header_block)
{
    socp_ws_t *server = socp_ws_new(SOCP_WS_SERVER, NULL);
    CHECK(server);
    const char *start = "GET / HTTP/1.1\r\n";
    CHECK_OK(socp_ws_feed(server, start, strlen(start)));
    const char *pad = "X-Pad: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\r\n";
    int rc = 0;
    size_t fed = strlen(start);
    while (rc == 0 && fed < 64 * 1024) {
        rc = socp_ws_feed(server, pad, strlen(pad));
        fed += strlen(pad);
    }
    CHECK_RC(rc, SOCP_EPROTO);
    CHECK(fed <= SOCP_WS_HEAD_MAX + strlen(pad)); // refused at the cap, not later
    char *answer = s_output_text(server);
    CHECK(strncmp(answer, "HTTP/1.1 400 ", 13) == 0);
    free(answer);
    socp_ws_destroy(&server);
}

SOCP_TEST(ws_handshake_in_one_byte_feeds)
{
    socp_ws_t *client, *server;
    s_open_pair(&client, &server, NULL, NULL, 1);
    CHECK_OK(socp_ws_send_text(client, "hello", 5));
    CHECK_OK(socp_ws_send_text(server, "world!", 6));
    s_pump(client, server, 1);
    s_expect_msg(server, SOCP_WS_TEXT, "hello", 5);
    s_expect_msg(client, SOCP_WS_TEXT, "world!", 6);
    socp_ws_destroy(&client);
    socp_ws_destroy(&server);
}

SOCP_TEST(ws_handshake_and_first_frame_in_one_feed)
{
    // Server side: the request and a masked frame arrive together.
    socp_ws_t *server = socp_ws_new(SOCP_WS_SERVER, NULL);
    CHECK(server);
    uint8_t buf[512];
    const char *req =
        "GET / HTTP/1.1\r\nHost: h\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n";
    size_t n = strlen(req);
    memcpy(buf, req, n);
    n += s_frame(buf + n, 0x81, true, "{\"type\":\"USER_HELLO\"}", 21);
    CHECK_OK(socp_ws_feed(server, buf, n));
    CHECK_EQ(socp_ws_state(server), SOCP_WS_OPEN);
    s_expect_msg(server, SOCP_WS_TEXT, "{\"type\":\"USER_HELLO\"}", 21);
    socp_ws_destroy(&server);

    // Client side: the 101 and the server's first frame arrive together.
    socp_ws_t *client = socp_ws_new(SOCP_WS_CLIENT, NULL);
    server = socp_ws_new(SOCP_WS_SERVER, NULL);
    CHECK(client && server);
    CHECK_OK(socp_ws_request(client, "127.0.0.1", 8765, "/"));
    CHECK_OK(s_move(client, server, 0));
    CHECK_OK(socp_ws_send_text(server, "welcome", 7));
    CHECK_EQ(socp_ws_state(client), SOCP_WS_CONNECTING);
    CHECK_OK(s_move(server, client, 0)); // 101 + frame in a single feed
    CHECK_EQ(socp_ws_state(client), SOCP_WS_OPEN);
    s_expect_msg(client, SOCP_WS_TEXT, "welcome", 7);
    socp_ws_destroy(&client);
    socp_ws_destroy(&server);
}

SOCP_TEST(ws_client_request_is_well_formed)
{
    socp_ws_t *client = socp_ws_new(SOCP_WS_CLIENT, NULL);
    CHECK(client);
    CHECK_RC(socp_ws_feed(client, "x", 1), SOCP_EINVAL); // no request yet
    CHECK_RC(socp_ws_request(client, "bad host", 8765, "/"), SOCP_EINVAL);
    CHECK_RC(socp_ws_request(client, "h", 8765, "no-slash"), SOCP_EINVAL);
    CHECK_RC(socp_ws_request(client, "h", 0, "/"), SOCP_EINVAL);
    CHECK(!socp_ws_want_write(client));
    CHECK_OK(socp_ws_request(client, "::1", 9000, "/x"));
    CHECK_RC(socp_ws_request(client, "::1", 9000, "/x"), SOCP_EINVAL); // only once
    char *req = s_output_text(client);
    CHECK(strncmp(req, "GET /x HTTP/1.1\r\n", 17) == 0);
    CHECK(strstr(req, "\r\nHost: [::1]:9000\r\n") != NULL);
    CHECK(strstr(req, "\r\nUpgrade: websocket\r\n") != NULL);
    CHECK(strstr(req, "\r\nSec-WebSocket-Version: 13\r\n") != NULL);
    // The key is fresh randomness: a second client uses another one.
    const char *key = strstr(req, "Sec-WebSocket-Key: ");
    CHECK(key != NULL);
    socp_ws_t *other = socp_ws_new(SOCP_WS_CLIENT, NULL);
    CHECK_OK(socp_ws_request(other, "::1", 9000, "/x"));
    char *req2 = s_output_text(other);
    CHECK(strstr(req2, "Sec-WebSocket-Key: ") != NULL);
    CHECK(strncmp(key, strstr(req2, "Sec-WebSocket-Key: "), 19 + SOCP_WS_KEY_LEN) != 0);
    // And the server accepts it.
    socp_ws_request_t parsed;
    CHECK_OK(socp_ws_handshake_parse_request((const uint8_t *) req, strlen(req), &parsed));
    CHECK_STREQ(parsed.path, "/x");
    CHECK_STREQ(parsed.host, "[::1]:9000");
    free(req);
    free(req2);
    socp_ws_destroy(&other);
    socp_ws_destroy(&client);
}

SOCP_TEST(ws_client_rejects_bad_answers)
{
    // A wrong Sec-WebSocket-Accept: the RFC example's, made for another key.
    static const char wrong_accept[] =
        "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n";
    static const char *answers[] = {
        wrong_accept,
        // not 101
        "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n",
        "HTTP/1.1 404 Not Found\r\n\r\n",
        // garbage
        "SSH-2.0-OpenSSH_9.2\r\n",
    };
    for (size_t i = 0; i < SOCP_ARRAY_LEN(answers); i++) {
        socp_ws_t *client = socp_ws_new(SOCP_WS_CLIENT, NULL);
        CHECK(client);
        CHECK_OK(socp_ws_request(client, "h", 80, "/"));
        char *req = s_output_text(client);
        CHECK(strstr(req, "\r\nHost: h\r\n") != NULL); // port 80 left out
        free(req);
        CHECK_RC(socp_ws_feed(client, answers[i], strlen(answers[i])), SOCP_EPROTO);
        CHECK_EQ(socp_ws_state(client), SOCP_WS_FAILED);
        CHECK_RC(socp_ws_send_text(client, "x", 1), SOCP_EPROTO);
        socp_ws_destroy(&client);
    }

    // A correct accept but a missing Upgrade, or an extension we never asked for.
    char accept[SOCP_WS_ACCEPT_LEN + 1];
    CHECK_OK(socp_ws_handshake_accept("dGhlIHNhbXBsZSBub25jZQ==", 24, accept));
    const char *ok =
        "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n";
    CHECK_OK(socp_ws_handshake_parse_response((const uint8_t *) ok, strlen(ok), accept));
    const char *no_upgrade = "HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\n"
                             "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n";
    CHECK_RC(
        socp_ws_handshake_parse_response((const uint8_t *) no_upgrade, strlen(no_upgrade), accept),
        SOCP_EPROTO);
    const char *ext =
        "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n"
        "Sec-WebSocket-Extensions: permessage-deflate\r\n\r\n";
    CHECK_RC(socp_ws_handshake_parse_response((const uint8_t *) ext, strlen(ext), accept),
             SOCP_EPROTO);
}

// ---- framing ------------------------------------------------------------------

SOCP_TEST(ws_text_round_trip_both_ways)
{
    socp_ws_t *client, *server;
    s_open_pair(&client, &server, NULL, NULL, 0);
    static const size_t sizes[] = {0, 1, 125, 126, 446, 65535, 65536, 200 * 1024, 256 * 1024};
    for (size_t i = 0; i < SOCP_ARRAY_LEN(sizes); i++) {
        uint8_t *p = s_pattern(sizes[i]);
        CHECK_OK(socp_ws_send_text(client, (const char *) p, sizes[i]));
        // Client frames are masked, server frames are not.
        size_t len = 0;
        const uint8_t *out = socp_ws_output(client, &len);
        CHECK(len >= 6 && (out[1] & 0x80) != 0);
        if (sizes[i] > 8) {
            CHECK(memcmp(out + len - 8, p + sizes[i] - 8, 8) != 0); // payload not in clear
        }
        CHECK_OK(socp_ws_send_text(server, (const char *) p, sizes[i]));
        out = socp_ws_output(server, &len);
        CHECK(len >= 2 && (out[1] & 0x80) == 0);
        s_pump(client, server, 0);
        s_expect_msg(server, SOCP_WS_TEXT, p, sizes[i]);
        s_expect_msg(client, SOCP_WS_TEXT, p, sizes[i]);
        s_expect_no_msg(server);
        s_expect_no_msg(client);
        free(p);
    }
    const uint8_t bin[] = {0, 0xff, 0xc3, 0x28, 0};
    CHECK_OK(socp_ws_send_binary(client, bin, sizeof(bin)));
    s_pump(client, server, 0);
    s_expect_msg(server, SOCP_WS_BINARY, bin, sizeof(bin));
    socp_ws_destroy(&client);
    socp_ws_destroy(&server);
}

SOCP_TEST(ws_messages_keep_their_order)
{
    socp_ws_t *client, *server;
    s_open_pair(&client, &server, NULL, NULL, 0);
    char text[32];
    for (int i = 0; i < 50; i++) {
        int n = snprintf(text, sizeof(text), "message %d", i);
        CHECK_OK(socp_ws_send_text(client, text, (size_t) n));
    }
    s_pump(client, server, 7);
    for (int i = 0; i < 50; i++) {
        int n = snprintf(text, sizeof(text), "message %d", i);
        s_expect_msg(server, SOCP_WS_TEXT, text, (size_t) n);
    }
    s_expect_no_msg(server);
    socp_ws_destroy(&client);
    socp_ws_destroy(&server);
}

SOCP_TEST(ws_fragmented_message_is_reassembled)
{
    socp_ws_t *server = s_open_server(NULL);
    uint8_t buf[256];
    size_t n = 0;
    n += s_frame(buf + n, 0x01, true, "Hel", 3);        // text, not final
    n += s_frame(buf + n, 0x89, true, "hb", 2);         // ping between fragments
    n += s_frame(buf + n, 0x00, true, "lo, \xc3", 5);   // continuation, splits "é"
    n += s_frame(buf + n, 0x80, true, "\xa9 world", 7); // final continuation
    n += s_frame(buf + n, 0x82, true, "\x01\x02", 2);   // then a whole binary message
    CHECK_OK(socp_ws_feed(server, buf, n));
    s_expect_msg(server, SOCP_WS_TEXT, "Hello, \xc3\xa9 world", 15);
    s_expect_msg(server, SOCP_WS_BINARY, "\x01\x02", 2);
    s_expect_no_msg(server);
    // The ping was answered with an unmasked pong carrying its data.
    size_t len = 0;
    const uint8_t *out = socp_ws_output(server, &len);
    CHECK_EQ(len, 4);
    CHECK_MEMEQ(out, "\x8a\x02hb", 4);
    socp_ws_destroy(&server);
}

SOCP_TEST(ws_unmasked_client_frame_closes_1002)
{
    socp_ws_t *server = s_open_server(NULL);
    uint8_t buf[64];
    size_t n = s_frame(buf, 0x81, false, "hi", 2);
    CHECK_RC(socp_ws_feed(server, buf, n), SOCP_EPROTO);
    s_expect_no_msg(server);
    s_expect_close_frame(server, 1002);
    CHECK_EQ(socp_ws_state(server), SOCP_WS_FAILED);
    CHECK_EQ(socp_ws_error(server), SOCP_EPROTO);
    socp_ws_destroy(&server);

    // And the other way round: a client refuses a masked server frame.
    socp_ws_t *client, *srv;
    s_open_pair(&client, &srv, NULL, NULL, 0);
    n = s_frame(buf, 0x81, true, "hi", 2);
    CHECK_RC(socp_ws_feed(client, buf, n), SOCP_EPROTO);
    s_expect_no_msg(client);
    CHECK_EQ(socp_ws_close_code_sent(client), 1002);
    socp_ws_destroy(&client);
    socp_ws_destroy(&srv);
}

// Header-level violations that wslay alone would answer with an empty close.
SOCP_TEST(ws_malformed_frames_close_1002)
{
    static const struct {
        const char *what;
        uint8_t bytes[16];
        size_t len;
    } cases[] = {
        {"ping of 126 bytes", {0x89, 0xfe, 0x00, 0x7e}, 4},
        {"fragmented ping", {0x09, 0x80, 1, 2, 3, 4}, 6},
        {"non-minimal 16-bit length", {0x81, 0xfe, 0x00, 0x05}, 4},
        {"non-minimal 64-bit length", {0x82, 0xff, 0, 0, 0, 0, 0, 0, 0x01, 0x00}, 10},
        {"63-bit length", {0x82, 0xff, 0x80, 0, 0, 0, 0, 0, 0, 0}, 10},
        {"reserved opcode 3", {0x83, 0x80, 1, 2, 3, 4}, 6},
        {"reserved control opcode 11", {0x8b, 0x80, 1, 2, 3, 4}, 6},
        {"RSV1 without extension", {0xc1, 0x80, 1, 2, 3, 4}, 6},
        {"continuation first", {0x80, 0x80, 1, 2, 3, 4}, 6},
        {"close with 1 byte", {0x88, 0x81, 0, 0, 0, 0, 3}, 7},
        {"close code 999", {0x88, 0x82, 0, 0, 0, 0, 0x03, 0xe7}, 8},
    };
    for (size_t i = 0; i < SOCP_ARRAY_LEN(cases); i++) {
        socp_ws_t *server = s_open_server(NULL);
        // A valid message first, in the same feed: it is still delivered.
        uint8_t buf[64];
        size_t n = s_frame(buf, 0x81, true, "ok", 2);
        memcpy(buf + n, cases[i].bytes, cases[i].len);
        n += cases[i].len;
        int rc = socp_ws_feed(server, buf, n);
        CHECK_MSG(rc == SOCP_EPROTO, "%s: feed returned %d", cases[i].what, rc);
        s_expect_msg(server, SOCP_WS_TEXT, "ok", 2);
        s_expect_no_msg(server);
        size_t len = 0;
        const uint8_t *out = socp_ws_output(server, &len);
        CHECK_MSG(len == 4 && out[0] == 0x88 && out[1] == 2 && out[2] == 0x03 && out[3] == 0xea,
                  "%s: no 1002 close (%zu bytes)", cases[i].what, len);
        socp_ws_destroy(&server);
    }

    // A new text frame inside a fragmented message.
    socp_ws_t *server = s_open_server(NULL);
    uint8_t buf[64];
    size_t n = s_frame(buf, 0x01, true, "a", 1);
    n += s_frame(buf + n, 0x81, true, "b", 1);
    CHECK_RC(socp_ws_feed(server, buf, n), SOCP_EPROTO);
    s_expect_no_msg(server);
    s_expect_close_frame(server, 1002);
    socp_ws_destroy(&server);
}

SOCP_TEST(ws_oversized_message_closes_1009_before_buffering)
{
    socp_ws_t *server = s_open_server(NULL);
    // Only the header of a 2 MiB frame: refused before any payload arrives.
    uint8_t hdr[14] = {0x81, 0xff, 0, 0, 0, 0, 0, 0x20, 0, 0, 0x11, 0x22, 0x33, 0x44};
    CHECK_RC(socp_ws_feed(server, hdr, 10), SOCP_ETOOBIG);
    s_expect_close_frame(server, 1009);
    CHECK_EQ(socp_ws_state(server), SOCP_WS_FAILED);
    // The payload that follows is not read, let alone buffered.
    uint8_t *chunk = socp_calloc(1, 64 * 1024);
    for (int i = 0; i < 32; i++) {
        CHECK_RC(socp_ws_feed(server, chunk, 64 * 1024), SOCP_ETOOBIG);
    }
    s_expect_no_msg(server);
    free(chunk);
    socp_ws_destroy(&server);

    // Fragments that add up past the cap are caught at the offending header.
    socp_ws_opts_t opts = {.max_message = 1000};
    server = s_open_server(&opts);
    uint8_t *p = s_pattern(1000);
    uint8_t *buf = socp_malloc(2100);
    size_t n = s_frame(buf, 0x01, true, p, 600);
    CHECK_OK(socp_ws_feed(server, buf, n));
    n = s_frame(buf, 0x80, true, p, 401);
    CHECK_RC(socp_ws_feed(server, buf, 4), SOCP_ETOOBIG); // 2 header bytes + 2 length bytes
    s_expect_close_frame(server, 1009);
    socp_ws_destroy(&server);

    // Exactly the cap is fine, fragmented or not.
    server = s_open_server(&opts);
    n = s_frame(buf, 0x81, true, p, 1000);
    CHECK_OK(socp_ws_feed(server, buf, n));
    s_expect_msg(server, SOCP_WS_TEXT, p, 1000);
    n = s_frame(buf, 0x01, true, p, 600);
    n += s_frame(buf + n, 0x80, true, p + 600, 400);
    CHECK_OK(socp_ws_feed(server, buf, n));
    s_expect_msg(server, SOCP_WS_TEXT, p, 1000);
    socp_ws_destroy(&server);
    free(buf);
    free(p);
}

SOCP_TEST(ws_default_cap_is_one_mib)
{
    socp_ws_opts_t big = {.max_send = 2 * 1024 * 1024};
    socp_ws_t *client, *server;
    s_open_pair(&client, &server, &big, NULL, 0);
    uint8_t *p = s_pattern(1024 * 1024 + 1);
    CHECK_OK(socp_ws_send_text(client, (const char *) p, 1024 * 1024));
    s_pump(client, server, 0);
    s_expect_msg(server, SOCP_WS_TEXT, p, 1024 * 1024);
    CHECK_OK(socp_ws_send_text(client, (const char *) p, 1024 * 1024 + 1));
    CHECK_RC(s_move(client, server, 0), SOCP_ETOOBIG);
    s_expect_no_msg(server);
    s_expect_close_frame(server, 1009);
    free(p);
    socp_ws_destroy(&client);
    socp_ws_destroy(&server);
}

SOCP_TEST(ws_invalid_utf8_text_closes_1007)
{
    socp_ws_t *server = s_open_server(NULL);
    uint8_t buf[64];
    size_t n = s_frame(buf, 0x81, true, "ab\xc3\x28", 4);
    CHECK_RC(socp_ws_feed(server, buf, n), SOCP_EPROTO);
    s_expect_no_msg(server);
    s_expect_close_frame(server, 1007);
    socp_ws_destroy(&server);

    // A sequence cut short at the end of the message is invalid too.
    server = s_open_server(NULL);
    n = s_frame(buf, 0x81, true, "ab\xe2\x82", 4);
    CHECK_RC(socp_ws_feed(server, buf, n), SOCP_EPROTO);
    s_expect_close_frame(server, 1007);
    socp_ws_destroy(&server);

    // We refuse to send invalid UTF-8 as text (surrogate, overlong, truncated).
    socp_ws_t *client, *srv;
    s_open_pair(&client, &srv, NULL, NULL, 0);
    CHECK_RC(socp_ws_send_text(client, "\xed\xa0\x80", 3), SOCP_EINVAL);
    CHECK_RC(socp_ws_send_text(client, "\xc0\xaf", 2), SOCP_EINVAL);
    CHECK_RC(socp_ws_send_text(client, "\xf0\x9f\x98", 3), SOCP_EINVAL);
    CHECK_OK(socp_ws_send_text(client, "\xf0\x9f\x98\x80", 4));
    CHECK_EQ(socp_ws_state(client), SOCP_WS_OPEN);
    s_pump(client, srv, 0);
    s_expect_msg(srv, SOCP_WS_TEXT, "\xf0\x9f\x98\x80", 4);
    socp_ws_destroy(&client);
    socp_ws_destroy(&srv);
}

SOCP_TEST(ws_ping_is_answered_with_pong)
{
    socp_ws_t *client, *server;
    s_open_pair(&client, &server, NULL, NULL, 0);
    CHECK_OK(socp_ws_send_ping(client, "hb", 2));
    CHECK_OK(s_move(client, server, 0));
    CHECK(socp_ws_want_write(server)); // the pong
    CHECK_OK(s_move(server, client, 0));
    CHECK_EQ(socp_ws_pongs_received(client), 1);
    CHECK_OK(socp_ws_send_ping(server, NULL, 0));
    s_pump(client, server, 0);
    CHECK_EQ(socp_ws_pongs_received(server), 1);
    uint8_t big[126] = {0};
    CHECK_RC(socp_ws_send_ping(client, big, sizeof(big)), SOCP_EINVAL);
    s_expect_no_msg(client);
    s_expect_no_msg(server);
    socp_ws_destroy(&client);
    socp_ws_destroy(&server);
}

SOCP_TEST(ws_close_handshake_1000)
{
    socp_ws_t *client, *server;
    s_open_pair(&client, &server, NULL, NULL, 0);
    CHECK_OK(socp_ws_send_text(client, "last", 4));
    CHECK_OK(socp_ws_close(client, 1000, "bye"));
    CHECK_EQ(socp_ws_state(client), SOCP_WS_CLOSING);
    CHECK_EQ(socp_ws_close_code_sent(client), 1000);
    CHECK_EQ(socp_ws_close_code_received(client), 0);
    CHECK(socp_ws_want_read(client));
    CHECK_RC(socp_ws_send_text(client, "more", 4), SOCP_ECLOSED);
    CHECK_RC(socp_ws_close(client, 1000, NULL), SOCP_ECLOSED);

    CHECK_OK(s_move(client, server, 0));
    s_expect_msg(server, SOCP_WS_TEXT, "last", 4);
    CHECK_EQ(socp_ws_state(server), SOCP_WS_CLOSED);
    CHECK_EQ(socp_ws_close_code_received(server), 1000);
    CHECK_STREQ(socp_ws_close_reason(server), "bye");
    CHECK_EQ(socp_ws_close_code_sent(server), 1000); // the echo
    CHECK_RC(socp_ws_send_text(server, "late", 4), SOCP_ECLOSED);

    CHECK_OK(s_move(server, client, 0));
    CHECK_EQ(socp_ws_state(client), SOCP_WS_CLOSED);
    CHECK_EQ(socp_ws_close_code_received(client), 1000);
    CHECK_RC(socp_ws_feed(client, "x", 1), SOCP_ECLOSED);
    CHECK(!socp_ws_want_read(client) && !socp_ws_want_write(client));
    CHECK(!socp_ws_want_read(server) && !socp_ws_want_write(server));
    CHECK_EQ(socp_ws_error(client), 0);
    socp_ws_destroy(&client);
    socp_ws_destroy(&server);
}

SOCP_TEST(ws_close_arguments_are_checked)
{
    socp_ws_t *client, *server;
    s_open_pair(&client, &server, NULL, NULL, 0);
    CHECK_RC(socp_ws_close(client, 1005, NULL), SOCP_EINVAL);
    CHECK_RC(socp_ws_close(client, 999, NULL), SOCP_EINVAL);
    char reason[125];
    memset(reason, 'r', 124);
    reason[124] = '\0';
    CHECK_RC(socp_ws_close(client, 1000, reason), SOCP_EINVAL);
    CHECK_RC(socp_ws_close(client, 1000, "\xff"), SOCP_EINVAL);
    CHECK_EQ(socp_ws_state(client), SOCP_WS_OPEN);
    reason[123] = '\0';
    CHECK_OK(socp_ws_close(client, 4000, reason));
    s_pump(client, server, 0);
    CHECK_EQ(socp_ws_close_code_received(server), 4000);
    CHECK_STREQ(socp_ws_close_reason(server), reason);
    socp_ws_destroy(&client);
    socp_ws_destroy(&server);
}

SOCP_TEST(ws_peer_close_then_garbage_is_ignored)
{
    socp_ws_t *server = s_open_server(NULL);
    uint8_t buf[64];
    size_t n = s_frame(buf, 0x88, true, "\x03\xe8", 2);
    memcpy(buf + n, "\xff\xff\xff\xff", 4); // junk after the close frame
    n += 4;
    CHECK_OK(socp_ws_feed(server, buf, n));
    CHECK_EQ(socp_ws_state(server), SOCP_WS_CLOSED);
    CHECK_EQ(socp_ws_close_code_received(server), 1000);
    s_expect_close_frame(server, 1000);
    CHECK_EQ(socp_ws_error(server), 0);
    socp_ws_destroy(&server);
}

SOCP_TEST(ws_calls_before_open)
{
    socp_ws_t *client = socp_ws_new(SOCP_WS_CLIENT, NULL);
    CHECK(client);
    CHECK_OK(socp_ws_request(client, "h", 1, "/"));
    CHECK_RC(socp_ws_send_text(client, "x", 1), SOCP_EAGAIN);
    CHECK_RC(socp_ws_send_ping(client, NULL, 0), SOCP_EAGAIN);
    CHECK_EQ(socp_ws_close_code_sent(client), 0);
    CHECK_OK(socp_ws_close(client, 1000, NULL)); // nothing to send at this stage
    CHECK_EQ(socp_ws_state(client), SOCP_WS_CLOSED);
    CHECK_RC(socp_ws_feed(client, "HTTP/1.1 ", 9), SOCP_ECLOSED);
    socp_ws_destroy(&client);
    socp_ws_opts_t bad = {.max_send = 1000, .max_output = 1000};
    CHECK(socp_ws_new(SOCP_WS_SERVER, &bad) == NULL);
}

SOCP_TEST(ws_send_over_256_kib_is_refused)
{
    socp_ws_t *client, *server;
    s_open_pair(&client, &server, NULL, NULL, 0);
    uint8_t *p = s_pattern(256 * 1024 + 1);
    CHECK_RC(socp_ws_send_text(server, (const char *) p, 256 * 1024 + 1), SOCP_ETOOBIG);
    CHECK_RC(socp_ws_send_binary(client, p, 256 * 1024 + 1), SOCP_ETOOBIG);
    CHECK(!socp_ws_want_write(client) && !socp_ws_want_write(server));
    CHECK_OK(socp_ws_send_text(server, (const char *) p, 256 * 1024));
    s_pump(client, server, 0);
    s_expect_msg(client, SOCP_WS_TEXT, p, 256 * 1024);
    free(p);
    socp_ws_destroy(&client);
    socp_ws_destroy(&server);
}

SOCP_TEST(ws_output_bound_reports_overflow)
{
    socp_ws_opts_t opts = {.max_send = 1000, .max_output = 4000};
    socp_ws_t *client, *server;
    s_open_pair(&client, &server, NULL, &opts, 0);
    uint8_t *p = s_pattern(1000);
    int sent = 0;
    int rc = 0;
    while ((rc = socp_ws_send_text(server, (const char *) p, 1000)) == 0) {
        sent++;
        CHECK(sent < 10);
    }
    CHECK_RC(rc, SOCP_EOVERFLOW);
    CHECK_EQ(sent, 3);
    CHECK_EQ(socp_ws_state(server), SOCP_WS_OPEN);               // a refusal, not a failure
    s_pump(client, server, 0);                                   // the peer reads...
    CHECK_OK(socp_ws_send_text(server, (const char *) p, 1000)); // ...and we can send again
    s_pump(client, server, 0);
    for (int i = 0; i <= sent; i++) {
        s_expect_msg(client, SOCP_WS_TEXT, p, 1000);
    }

    // A peer that floods pings but never reads our pongs fails the session.
    uint8_t frame[160];
    size_t n = s_frame(frame, 0x89, true, p, 125);
    rc = 0;
    for (int i = 0; i < 100 && rc == 0; i++) {
        rc = socp_ws_feed(server, frame, n);
    }
    CHECK_RC(rc, SOCP_EOVERFLOW);
    CHECK_EQ(socp_ws_state(server), SOCP_WS_FAILED);
    CHECK_RC(socp_ws_send_text(server, "x", 1), SOCP_EOVERFLOW);
    size_t len = 0;
    socp_ws_output(server, &len);
    CHECK(len > 4000 && len <= 4000 + 127);
    free(p);
    socp_ws_destroy(&client);
    socp_ws_destroy(&server);
}

SOCP_TEST(ws_output_consumed_in_pieces)
{
    socp_ws_t *client, *server;
    s_open_pair(&client, &server, NULL, NULL, 0);
    uint8_t *p = s_pattern(200 * 1024);
    CHECK_OK(socp_ws_send_text(server, (const char *) p, 200 * 1024));
    CHECK_OK(socp_ws_send_text(server, "tail", 4));
    // Write out in odd-sized pieces, interleaving a new send half way.
    size_t len = 0;
    bool sent_more = false;
    while (socp_ws_output(server, &len), len > 0) {
        const uint8_t *out = socp_ws_output(server, &len);
        size_t n = len < 7777 ? len : 7777;
        CHECK_OK(socp_ws_feed(client, out, n));
        socp_ws_output_consumed(server, n);
        if (!sent_more && len < 100 * 1024) {
            CHECK_OK(socp_ws_send_text(server, "extra", 5));
            sent_more = true;
        }
    }
    s_expect_msg(client, SOCP_WS_TEXT, p, 200 * 1024);
    s_expect_msg(client, SOCP_WS_TEXT, "tail", 4);
    s_expect_msg(client, SOCP_WS_TEXT, "extra", 5);
    free(p);
    socp_ws_destroy(&client);
    socp_ws_destroy(&server);
}

// ---- URL ----------------------------------------------------------------------

SOCP_TEST(ws_parse_url)
{
    char host[SOCP_WS_HOST_MAX], path[SOCP_WS_PATH_MAX];
    uint16_t port;
    CHECK_OK(socp_ws_parse_url("ws://example.org", host, &port, path));
    CHECK_STREQ(host, "example.org");
    CHECK_EQ(port, 8765);
    CHECK_STREQ(path, "/");
    CHECK_OK(socp_ws_parse_url("WS://10.0.0.2:1234/chat?x=1", host, &port, path));
    CHECK_STREQ(host, "10.0.0.2");
    CHECK_EQ(port, 1234);
    CHECK_STREQ(path, "/chat?x=1");
    CHECK_OK(socp_ws_parse_url("ws://[::1]:65535?q", host, &port, path));
    CHECK_STREQ(host, "::1");
    CHECK_EQ(port, 65535);
    CHECK_STREQ(path, "/?q");
    CHECK_OK(socp_ws_parse_url("ws://[fe80::1]/", host, &port, path));
    CHECK_STREQ(host, "fe80::1");
    CHECK_EQ(port, 8765);

    CHECK_RC(socp_ws_parse_url("wss://example.org/", host, &port, path), SOCP_EUNSUPPORTED);
    CHECK_EQ(port, 0);
    CHECK_STREQ(host, "");
    static const char *bad[] = {
        "http://example.org/",
        "ws:/example.org",
        "ws://",
        "ws://:8765/",
        "ws://h:0/",
        "ws://h:65536/",
        "ws://h:/",
        "ws://h:12a/",
        "ws://h:123456/",
        "ws://user@h/",
        "ws://h/a b",
        "ws://h/#frag",
        "ws://h h/",
        "ws://[::1/",
        "ws://[::1]x/",
        "ws://[zz]/",
        "example.org:8765",
        "",
    };
    for (size_t i = 0; i < SOCP_ARRAY_LEN(bad); i++) {
        int rc = socp_ws_parse_url(bad[i], host, &port, path);
        CHECK_MSG(rc == SOCP_EINVAL, "\"%s\" gave %d", bad[i], rc);
    }
    char url[600];
    memset(url, 'a', sizeof(url));
    memcpy(url, "ws://", 5);
    url[5 + 255] = '\0';
    CHECK_OK(socp_ws_parse_url(url, host, &port, path)); // 255-byte host
    CHECK_EQ(strlen(host), 255);
    url[5 + 255] = 'a';
    url[5 + 256] = '\0';
    CHECK_RC(socp_ws_parse_url(url, host, &port, path), SOCP_EINVAL);
    CHECK_RC(socp_ws_parse_url(NULL, host, &port, path), SOCP_EINVAL);
}

// ---- over a real socket ---------------------------------------------------------

static void
s_nonblock(int fd)
{
    int flags = fcntl(fd, F_GETFL);
    CHECK(flags >= 0);
    CHECK(fcntl(fd, F_SETFL, flags | O_NONBLOCK) == 0);
}

// Writes what the session has pending; stops at EAGAIN. Counts short writes.
static void
s_write_some(int fd, socp_ws_t *ws, int *short_writes)
{
    size_t len = 0;
    const uint8_t *out = socp_ws_output(ws, &len);
    while (len > 0) {
        ssize_t n = write(fd, out, len);
        if (n < 0) {
            CHECK(errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR);
            (*short_writes)++;
            return;
        }
        *short_writes += (size_t) n < len;
        socp_ws_output_consumed(ws, (size_t) n);
        out = socp_ws_output(ws, &len);
    }
}

// Reads what is available (in small, odd-sized reads) and feeds it.
// Returns false at end of stream.
static bool
s_read_some(int fd, socp_ws_t *ws)
{
    uint8_t buf[1531];
    for (;;) {
        ssize_t n = read(fd, buf, sizeof(buf));
        if (n == 0) {
            return false;
        }
        if (n < 0) {
            CHECK(errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR);
            return true;
        }
        CHECK_OK(socp_ws_feed(ws, buf, (size_t) n));
    }
}

SOCP_TEST_T(ws_loopback_tcp_session, 30)
{
    int lfd = socket(AF_INET, SOCK_STREAM, 0);
    CHECK(lfd >= 0);
    struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = 0};
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    CHECK(bind(lfd, (struct sockaddr *) &addr, sizeof(addr)) == 0);
    CHECK(listen(lfd, 1) == 0);
    socklen_t alen = sizeof(addr);
    CHECK(getsockname(lfd, (struct sockaddr *) &addr, &alen) == 0);
    int cfd = socket(AF_INET, SOCK_STREAM, 0);
    CHECK(cfd >= 0);
    CHECK(connect(cfd, (struct sockaddr *) &addr, sizeof(addr)) == 0);
    int sfd = accept(lfd, NULL, NULL);
    CHECK(sfd >= 0);
    close(lfd);
    int small = 4096; // small send buffers force partial writes
    CHECK(setsockopt(cfd, SOL_SOCKET, SO_SNDBUF, &small, sizeof(small)) == 0);
    CHECK(setsockopt(sfd, SOL_SOCKET, SO_SNDBUF, &small, sizeof(small)) == 0);
    int one = 1; // no Nagle/delayed-ACK stalls with such small windows
    CHECK(setsockopt(cfd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one)) == 0);
    CHECK(setsockopt(sfd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one)) == 0);
    s_nonblock(cfd);
    s_nonblock(sfd);

    socp_ws_t *client = socp_ws_new(SOCP_WS_CLIENT, NULL);
    socp_ws_t *server = socp_ws_new(SOCP_WS_SERVER, NULL);
    CHECK(client && server);
    char url[64];
    snprintf(url, sizeof(url), "ws://127.0.0.1:%u/socp", (unsigned) ntohs(addr.sin_port));
    char host[SOCP_WS_HOST_MAX], path[SOCP_WS_PATH_MAX];
    uint16_t port;
    CHECK_OK(socp_ws_parse_url(url, host, &port, path));
    CHECK_OK(socp_ws_request(client, host, port, path));

    enum { S_COUNT = 12 };
    static const size_t sizes[S_COUNT] = {0,     1,    446,   4095,  4096,       65536,
                                          70000, 1531, 99999, 12345, 256 * 1024, 3};
    uint8_t *p = s_pattern(256 * 1024);
    int to_server = 0, to_client = 0, got_server = 0, got_client = 0, short_writes = 0;
    bool closing = false;
    uint64_t deadline = socp_now_ms() + 20000;
    while (socp_ws_want_read(client) || socp_ws_want_write(client) || socp_ws_want_write(server)) {
        CHECK_MSG(socp_now_ms() < deadline, "no progress");
        if (socp_ws_state(client) == SOCP_WS_OPEN && to_server < S_COUNT) {
            CHECK_OK(socp_ws_send_text(client, (const char *) p, sizes[to_server++]));
        }
        if (socp_ws_state(server) == SOCP_WS_OPEN && to_client < S_COUNT) {
            CHECK_OK(socp_ws_send_binary(server, p, sizes[to_client++]));
        }
        struct pollfd fds[2] = {
            {cfd, (short) (POLLIN | (socp_ws_want_write(client) ? POLLOUT : 0)), 0},
            {sfd, (short) (POLLIN | (socp_ws_want_write(server) ? POLLOUT : 0)), 0},
        };
        CHECK(poll(fds, 2, 1000) >= 0);
        if (fds[0].revents & POLLOUT) {
            s_write_some(cfd, client, &short_writes);
        }
        if (fds[1].revents & POLLOUT) {
            s_write_some(sfd, server, &short_writes);
        }
        if (fds[0].revents & (POLLIN | POLLHUP)) {
            CHECK(s_read_some(cfd, client));
        }
        if (fds[1].revents & (POLLIN | POLLHUP)) {
            CHECK(s_read_some(sfd, server));
        }
        socp_ws_msg_t msg;
        while (socp_ws_next_message(server, &msg) == 0) {
            CHECK(got_server < S_COUNT);
            CHECK_EQ(msg.kind, SOCP_WS_TEXT);
            CHECK_EQ(msg.len, sizes[got_server]);
            CHECK_MEMEQ(msg.data, p, msg.len);
            got_server++;
        }
        while (socp_ws_next_message(client, &msg) == 0) {
            CHECK(got_client < S_COUNT);
            CHECK_EQ(msg.kind, SOCP_WS_BINARY);
            CHECK_EQ(msg.len, sizes[got_client]);
            CHECK_MEMEQ(msg.data, p, msg.len);
            got_client++;
        }
        if (!closing && got_server == S_COUNT && got_client == S_COUNT) {
            CHECK_OK(socp_ws_close(client, 1000, "done"));
            closing = true;
        }
    }
    CHECK_EQ(got_server, S_COUNT);
    CHECK_EQ(got_client, S_COUNT);
    CHECK(short_writes > 0); // the sessions really met partial writes
    CHECK_EQ(socp_ws_state(client), SOCP_WS_CLOSED);
    CHECK_EQ(socp_ws_state(server), SOCP_WS_CLOSED);
    CHECK_EQ(socp_ws_close_code_received(server), 1000);
    CHECK_STREQ(socp_ws_close_reason(server), "done");
    CHECK_STREQ(socp_ws_path(server), "/socp");
    free(p);
    close(cfd);
    close(sfd);
    socp_ws_destroy(&client);
    socp_ws_destroy(&server);
}
