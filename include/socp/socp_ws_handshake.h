// socp_ws_handshake.h: the RFC 6455 opening handshake (HTTP/1.1 upgrade), pure bytes in/out.
// Part of socp, a SOCP v1.3 client and server.
//
// Stateless helpers used by socp_ws (the session) and by the fuzzers: scan an
// incoming header block incrementally, parse a client's upgrade request,
// write the server's answer, build a client's request and check a server's
// 101 answer. Nothing here touches a socket. Every function is reentrant and
// may be called from any thread; none keeps a pointer to its arguments.
#ifndef SOCP_WS_HANDSHAKE_H
#define SOCP_WS_HANDSHAKE_H

#include "socp/socp_common.h"

#define SOCP_WS_HOST_MAX      256  // host name buffer, NUL included
#define SOCP_WS_PATH_MAX      1024 // request target buffer ("/path?query"), NUL included
#define SOCP_WS_KEY_LEN       24   // Sec-WebSocket-Key: base64 of 16 bytes
#define SOCP_WS_ACCEPT_LEN    28   // Sec-WebSocket-Accept: base64 of a SHA-1 digest
#define SOCP_WS_HEAD_MAX      8192 // largest header block accepted, either direction
#define SOCP_WS_SERVER_ID_MAX 129  // a SOCP-Server-Id value, NUL included

// The header a SOCP server names itself with in its 101 answer (ours:
// ADR 0015, a user binds its signed USER_HELLO to the server it is for).
#define SOCP_WS_SERVER_ID_HEADER "SOCP-Server-Id"

// What a valid upgrade request told the server.
typedef struct {
    char path[SOCP_WS_PATH_MAX];         // request target, starts with '/'
    char host[SOCP_WS_HOST_MAX];         // the Host header value, as sent
    char accept[SOCP_WS_ACCEPT_LEN + 1]; // Sec-WebSocket-Accept to answer with
} socp_ws_request_t;

// Computes Sec-WebSocket-Accept = base64(SHA-1(key + RFC 6455 GUID)) for the
// `key_len` bytes at `key` (taken as they are; the caller trims). Writes a
// NUL-terminated string to `accept` (zeroed on entry).
// Returns 0, SOCP_EINVAL (key NULL or longer than 256 bytes) or SOCP_ECRYPTO.
SOCP_NODISCARD int
socp_ws_handshake_accept(const char *key, size_t key_len, char accept[SOCP_WS_ACCEPT_LEN + 1]);

// Scans a header block as it accumulates. `data`/`len` is everything received
// so far; bytes before `from` were already scanned by an earlier call (pass 0
// the first time, then the previous `len`). `request` selects the expected
// start: "GET " for a request, "HTTP/1.1 " for a response.
// Returns 0 with *end = the block's length including its final CRLFCRLF;
// SOCP_EAGAIN if the block is incomplete but fine so far; SOCP_EPROTO if it
// cannot become valid: wrong start, a control or DEL byte, CR without LF, LF
// without CR, or no end within SOCP_WS_HEAD_MAX bytes. *end is zeroed on entry.
SOCP_NODISCARD int
socp_ws_handshake_scan(const uint8_t *data, size_t len, size_t from, bool request, size_t *end);

// Parses a complete upgrade request (`len` bytes ending in CRLFCRLF, as
// delimited by socp_ws_handshake_scan). Requires: "GET <target> HTTP/1.1"
// with a target starting with '/', exactly one non-empty Host, Upgrade
// containing the token "websocket" and Connection containing "Upgrade" (both
// case-insensitive, comma lists allowed), exactly one Sec-WebSocket-Version
// equal to 13 and exactly one Sec-WebSocket-Key that is base64 of 16 bytes.
// Other headers are ignored (no subprotocol, no extension is negotiated).
// Returns 0 with `out` filled; SOCP_EVERSION if only the version is wrong
// (answer 426); SOCP_EPROTO for anything else (answer 400). `out` is zeroed
// on entry.
SOCP_NODISCARD int
socp_ws_handshake_parse_request(const uint8_t *head, size_t len, socp_ws_request_t *out);

// Appends the server's answer to `out`: "101 Switching Protocols" with
// `accept` when `verdict` is 0, "426 Upgrade Required" with
// "Sec-WebSocket-Version: 13" when it is SOCP_EVERSION, "400 Bad Request"
// otherwise. `accept` is only read for 101.
void socp_ws_handshake_response(socp_buf_t *out, int verdict, const char *accept);

// As socp_ws_handshake_response; a 101 answer also carries
// "SOCP-Server-Id: <server_id>" when server_id is not NULL and is a valid
// value (socp_ws_handshake_server_id_ok); otherwise the header is left out.
void socp_ws_handshake_response_ex(socp_buf_t *out,
                                   int verdict,
                                   const char *accept,
                                   const char *server_id);

// True when the `len` bytes at `id` can be a SOCP-Server-Id value: 1 to 128
// printable ASCII characters, no space.
bool socp_ws_handshake_server_id_ok(const char *id, size_t len);

// Appends a client upgrade request for ws://host:port/path to `out`, with the
// given 24-character base64 key. The port is left out of the Host header when
// it is 80; an IPv6 literal is bracketed.
// Returns 0, or SOCP_EINVAL (empty or overlong host, host with characters
// other than letters, digits, '.', '-', '_', ':', a path that does not start
// with '/', is too long or holds a space or control byte, a bad key length).
// Nothing is appended on error.
SOCP_NODISCARD int socp_ws_handshake_request(socp_buf_t *out,
                                             const char *host,
                                             uint16_t port,
                                             const char *path,
                                             const char *key);

// Checks a complete server answer (`len` bytes ending in CRLFCRLF): status
// line "HTTP/1.1 101", Upgrade with token "websocket", Connection with token
// "Upgrade", exactly one Sec-WebSocket-Accept equal to `accept`, and no
// Sec-WebSocket-Extensions or Sec-WebSocket-Protocol (we asked for none).
// Returns 0 or SOCP_EPROTO.
SOCP_NODISCARD int
socp_ws_handshake_parse_response(const uint8_t *head, size_t len, const char *accept);

// As socp_ws_handshake_parse_response, and copies the value of the server's
// SOCP-Server-Id header to `server_id` (NUL-terminated; zeroed on entry). It
// stays empty when there is no such header, more than one, or one that is not
// a valid value: the header is a hint and never fails the upgrade.
SOCP_NODISCARD int socp_ws_handshake_parse_response_ex(const uint8_t *head,
                                                       size_t len,
                                                       const char *accept,
                                                       char server_id[SOCP_WS_SERVER_ID_MAX]);

#endif
