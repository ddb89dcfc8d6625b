// socpd_test.h: helpers for the socpd integration tests (tests/socpd_*_test.c):
// start a real socpd process on a loopback port, and a small blocking SOCP
// client built from socp_tcp, socp_envelope and socp_sig with fixture keys.
#ifndef SOCPD_TEST_H
#define SOCPD_TEST_H

#include "socp_test.h"
#include "socp/socp_envelope.h"
#include "socp/socp_rsa.h"
#include "socp/socp_tcp.h"

typedef struct {
    int pid;
    int out_fd;
    uint16_t port;
    char id[160];
    char dir[1024];
    char pubkey[2048];
} sd_server_t;

typedef struct {
    socp_tcp_conn_t *conn;
    char id[160];
    socp_rsa_key_t *key;
    char *pub;
    char server_id[160]; // what the server named itself in the upgrade ("" if nothing)
} sd_client_t;

// Starts socpd with a fresh (or existing) data dir `name` under the case's
// temp dir, the fixture key `fixture` imported, and extra args (NULL-ended).
void
sd_server_start(sd_server_t *s, const char *name, const char *fixture, const char *const extra[]);
// SIGTERM, wait (must exit within 2 s with status 0).
void sd_server_stop(sd_server_t *s);
void sd_server_kill9(sd_server_t *s);

// Loads tests/fixtures/<name> as a private key.
socp_rsa_key_t *sd_fixture_key(const char *name);

// Connects and completes the WebSocket handshake (no SOCP frame yet).
void sd_client_open(sd_client_t *c, uint16_t port, const char *id, const char *fixture);
// Opens and sends a signed USER_HELLO bound to its ts, the server and the id
// (ADR 0015: payload.ts, payload.server_id, payload.user_id).
void sd_client_hello(sd_client_t *c, uint16_t port, const char *id, const char *fixture);
// The hello payload from c (key in c->pub); with `bind`, also ts, the server
// id c learnt in the upgrade, and c->id, which a signature then covers.
json_t *sd_hello_payload(const sd_client_t *c, int64_t ts, bool bind);
// Same, with the key published in `format`, the hello signed (and bound) or not.
void sd_client_hello_ex(sd_client_t *c,
                        uint16_t port,
                        const char *id,
                        const char *fixture,
                        socp_rsa_pub_format_t format,
                        bool sign);
void sd_client_close(sd_client_t *c);

// A fake peer server: a listening socket on 127.0.0.1 (returns its fd), and
// one accepted connection, WebSocket handshake done, wrapped as a client
// whose id is `id` and whose key is `fixture` (published as b64url(PEM) in
// c->pub, as peer A does). Returns 0 or SOCP_ETIMEDOUT.
int sd_peer_listen(uint16_t *port);
int sd_peer_accept(sd_client_t *c, int lfd, const char *id, const char *fixture, int timeout_ms);

// Sends a frame from c->id (signed with c's key when `sign`). Steals payload.
void
sd_send(sd_client_t *c, const char *type, const char *to, int64_t ts, json_t *payload, bool sign);
// The text of that frame, without sending it (e.g. to replay it later);
// free() it. Steals payload.
char *sd_frame(const sd_client_t *c,
               const char *type,
               const char *to,
               int64_t ts,
               json_t *payload,
               bool sign);
// The same frame text with its envelope `to` and `ts` replaced (the payload
// and sig untouched: what an attacker can change); free() it.
char *sd_reframe(const char *text, const char *to, int64_t ts);
void sd_send_raw(sd_client_t *c, const char *text, size_t len);
// Builds a MSG_DIRECT from c to `to` with an opaque "ciphertext" and a real content_sig.
json_t *sd_dm_payload(sd_client_t *c, const char *to, int64_t ts, const char *ciphertext);
// A real content_sig from c over ciphertext + c->id [+ to] + ts (to NULL: the
// public-channel form); free() it.
char *sd_content_sig(sd_client_t *c, const char *to, int64_t ts, const char *ciphertext);

// Receives frames until one of `type` (NULL: any) arrives within timeout_ms.
// Returns 0 with *out filled (caller finis), or SOCP_ETIMEDOUT, or
// SOCP_ECLOSED when the connection ended first.
int sd_recv(sd_client_t *c, const char *type, int timeout_ms, socp_envelope_t *out);
// Expects an ERROR with `code` within timeout_ms.
void sd_expect_error(sd_client_t *c, const char *code, int timeout_ms);
// True when the server closed the connection within timeout_ms.
bool sd_closed_within(sd_client_t *c, int timeout_ms);

#endif
