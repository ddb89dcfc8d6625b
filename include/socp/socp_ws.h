// socp_ws.h: a WebSocket (RFC 6455) session, client or server side, as pure bytes in / bytes out.
// Part of socp, a SOCP v1.3 client and server.
//
// The session never touches a socket. The caller (a net actor) reads bytes
// from its socket and passes them to socp_ws_feed, takes whole messages with
// socp_ws_next_message, queues messages with socp_ws_send_*, and writes out
// what socp_ws_output returns, reporting what it wrote with
// socp_ws_output_consumed. Framing is done by wslay; the opening handshake by
// socp_ws_handshake.
//
// Wire profile (decisions.md, "Transport"): messages up to 1 MiB are
// accepted and a larger one closes the connection with 1009; we never send a
// message over 256 KiB; pings are answered with pongs; a normal close uses
// 1000. A server session rejects unmasked frames (1002), a client session
// masks every frame with fresh libsodium randomness. Invalid UTF-8 in a text
// message closes with 1007, any other protocol violation with 1002.
//
// Errors are sticky: once a call has failed with a session error, the state
// is SOCP_WS_FAILED and every later call returns the same code at once.
// Output queued before the failure (a 400/426 answer, a close frame) is still
// available through socp_ws_output so the caller can flush it before closing
// the socket. Handshake and idle timeouts are the caller's business.
//
// Thread-safety: a session is used by one thread at a time; distinct
// sessions are independent. The module has no global mutable state.
#ifndef SOCP_WS_H
#define SOCP_WS_H

#include "socp/socp_common.h"
#include "socp/socp_ws_handshake.h"

#define SOCP_WS_DEFAULT_PORT        8765                 // ws:// URL without a port
#define SOCP_WS_MAX_MESSAGE_DEFAULT (1024u * 1024u)      // largest message accepted
#define SOCP_WS_MAX_SEND_DEFAULT    (256u * 1024u)       // largest message we send
#define SOCP_WS_MAX_OUTPUT_DEFAULT  (4u * 1024u * 1024u) // bound on unwritten output
#define SOCP_WS_FRAME_OVERHEAD      14 // largest frame header (masked, 64-bit length)

typedef struct socp_ws socp_ws_t;

typedef enum {
    SOCP_WS_CLIENT, // masks its frames; sends the upgrade request
    SOCP_WS_SERVER, // requires masked frames; answers the upgrade request
} socp_ws_role_t;

typedef enum {
    SOCP_WS_CONNECTING, // opening handshake in progress
    SOCP_WS_OPEN,       // messages flow both ways
    SOCP_WS_CLOSING,    // we sent a close frame and wait for the peer's
    SOCP_WS_CLOSED,     // close frames sent and received (or closed before opening)
    SOCP_WS_FAILED,     // a session error; see socp_ws_error
} socp_ws_state_t;

typedef enum {
    SOCP_WS_TEXT = 1,   // UTF-8 text (validated)
    SOCP_WS_BINARY = 2, // arbitrary bytes
} socp_ws_kind_t;

// Limits; a zero field takes the default.
typedef struct {
    size_t max_message;    // largest message accepted, all fragments together (1 MiB)
    size_t max_send;       // largest message socp_ws_send_* accepts (256 KiB)
    size_t max_output;     // unwritten output allowed, >= max_send + 14 (4 MiB)
    const char *server_id; // server: named in the 101 answer (SOCP-Server-Id; copied), or NULL
} socp_ws_opts_t;

// A received message, borrowed from the session.
typedef struct {
    socp_ws_kind_t kind; // text or binary
    const uint8_t *data; // payload followed by a NUL (not counted in len)
    size_t len;          // payload length in bytes
} socp_ws_msg_t;

// Creates a session for `role` with `opts` (NULL for the defaults).
// Returns the session, or NULL if opts are inconsistent (max_output smaller
// than max_send + SOCP_WS_FRAME_OVERHEAD) or libsodium/wslay could not start.
// The caller owns it and frees it with socp_ws_destroy.
socp_ws_t *socp_ws_new(socp_ws_role_t role, const socp_ws_opts_t *opts);

// Frees the session and everything it holds, including any message or
// output pointer handed out; sets *self_p to NULL. Accepts *self_p == NULL.
void socp_ws_destroy(socp_ws_t **self_p);

// Client only, once, before any feed: queues the upgrade request for
// ws://host:port/path (path "/..." including any query) with a random key.
// Returns 0; SOCP_EINVAL for a server session, a second call, or a host or
// path that socp_ws_handshake_request rejects; the sticky error if failed.
SOCP_NODISCARD int
socp_ws_request(socp_ws_t *self, const char *host, uint16_t port, const char *path);

// Consumes `len` bytes received from the peer. During the handshake they are
// parsed as HTTP (a server session then queues its 101, 400 or 426 answer);
// bytes after the header block in the same call go on to the frame layer.
// Complete messages are queued for socp_ws_next_message (drain them after
// every feed); pings are answered; a received close is echoed.
// Returns 0, or a session error (sticky, state becomes SOCP_WS_FAILED):
//   SOCP_EPROTO    bad handshake (400/426 queued on a server; a client got a
//                  non-101 answer or a wrong Sec-WebSocket-Accept), or a
//                  protocol violation in a frame (close 1002 queued) or
//                  invalid UTF-8 in a text message (close 1007 queued);
//   SOCP_ETOOBIG   a message over max_message, caught at its frame header
//                  before any payload is buffered (close 1009 queued);
//   SOCP_EOVERFLOW unwritten output went over max_output (a peer that sends
//                  but does not read, e.g. a ping flood);
//   SOCP_EINVAL    data NULL with len > 0 (not sticky);
//   SOCP_ECLOSED   the session is closed (not sticky; nothing is read).
// Bytes after a peer's close frame are ignored. The data is not retained.
SOCP_NODISCARD int socp_ws_feed(socp_ws_t *self, const void *data, size_t len);

// Takes the oldest complete received message. Returns 0 with *out filled,
// or SOCP_EAGAIN when none is queued (*out is zeroed on entry). out->data
// stays valid until the next socp_ws_next_message or socp_ws_destroy.
// Messages already received are still handed out after a close or failure.
SOCP_NODISCARD int socp_ws_next_message(socp_ws_t *self, socp_ws_msg_t *out);

// Queues one unfragmented text message (copied; `data` need not be
// NUL-terminated) and frames it into the output at once.
// Returns 0; SOCP_EAGAIN before the handshake completed; SOCP_ETOOBIG over
// max_send; SOCP_EINVAL if `data` is not valid UTF-8 (or NULL with len > 0);
// SOCP_EOVERFLOW if the unwritten output would exceed max_output (nothing is
// queued and the session stays usable: a peer this slow is normally
// disconnected); SOCP_ECLOSED once a close was sent or received; the sticky
// error if failed.
SOCP_NODISCARD int socp_ws_send_text(socp_ws_t *self, const char *data, size_t len);

// As socp_ws_send_text for a binary message (no UTF-8 check).
SOCP_NODISCARD int socp_ws_send_binary(socp_ws_t *self, const void *data, size_t len);

// Queues a ping with up to 125 bytes of application data; the peer's pong is
// counted by socp_ws_pongs_received. Returns as socp_ws_send_binary, with
// SOCP_EINVAL for more than 125 bytes.
SOCP_NODISCARD int socp_ws_send_ping(socp_ws_t *self, const void *data, size_t len);

// Starts the closing handshake with `code` (1000-1003, 1007-1011 or
// 3000-4999) and an optional UTF-8 `reason` of at most 123 bytes (NULL for
// none). The state becomes SOCP_WS_CLOSING until the peer's close arrives
// (SOCP_WS_CLOSED); the caller flushes the output and, after the peer's
// close or its own timeout, closes the socket. Before the handshake
// completed there is nothing to send: the state becomes SOCP_WS_CLOSED.
// Returns 0; SOCP_EINVAL for a bad code or reason; SOCP_ECLOSED if a close
// was already sent; the sticky error if failed.
SOCP_NODISCARD int socp_ws_close(socp_ws_t *self, uint16_t code, const char *reason);

// The bytes waiting to be written to the peer, and their count in *len (0
// and possibly NULL when there are none). Borrowed: valid until the next call
// on the session other than socp_ws_output and the queries below.
// Works in every state, including after a failure.
const uint8_t *socp_ws_output(const socp_ws_t *self, size_t *len);

// Reports that the first `n` output bytes were written (n larger than the
// pending count is a programming error; it is clamped).
void socp_ws_output_consumed(socp_ws_t *self, size_t n);

// True when output is waiting (poll the socket for writing).
bool socp_ws_want_write(const socp_ws_t *self);

// True while the session expects bytes from the peer: connecting, open or
// waiting for the peer's close. When both want_read and want_write are false
// the caller closes the socket.
bool socp_ws_want_read(const socp_ws_t *self);

// The session's state.
socp_ws_state_t socp_ws_state(const socp_ws_t *self);

// The sticky error (0 unless the state is SOCP_WS_FAILED).
int socp_ws_error(const socp_ws_t *self);

// The close code we sent (0 if none yet; 1005 for a close without a code).
uint16_t socp_ws_close_code_sent(const socp_ws_t *self);

// The close code the peer sent (0 if none; 1005 for a close without a code).
uint16_t socp_ws_close_code_received(const socp_ws_t *self);

// The reason text of the peer's close frame ("" if none), NUL-terminated.
// Borrowed: valid until socp_ws_destroy.
const char *socp_ws_close_reason(const socp_ws_t *self);

// Server: the request target of the accepted upgrade ("/" or "/x?y");
// NULL before the handshake completed and on a client. Borrowed: valid until
// socp_ws_destroy.
const char *socp_ws_path(const socp_ws_t *self);

// Client: the server's id from its SOCP-Server-Id header ("" when it sent
// none or an invalid one); NULL before the handshake completed and on a
// server. Borrowed: valid until socp_ws_destroy.
const char *socp_ws_server_id(const socp_ws_t *self);

// The number of pongs received (answers to socp_ws_send_ping, or unsolicited).
uint64_t socp_ws_pongs_received(const socp_ws_t *self);

// Splits "ws://HOST[:PORT][/PATH]" (scheme case-insensitive; HOST a name,
// IPv4 address or [IPv6] literal of at most 255 bytes, returned without
// brackets; PORT 1-65535, default SOCP_WS_DEFAULT_PORT; PATH with query,
// default "/"). Writes NUL-terminated host and path (zeroed on entry).
// Returns 0; SOCP_EUNSUPPORTED for wss:// (no TLS); SOCP_EINVAL for anything
// else (other scheme, user info, fragment, empty or overlong host, bad port,
// spaces or control bytes). Reentrant.
SOCP_NODISCARD int socp_ws_parse_url(const char *url,
                                     char host[SOCP_WS_HOST_MAX],
                                     uint16_t *port,
                                     char path[SOCP_WS_PATH_MAX]);

#endif
