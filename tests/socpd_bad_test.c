// socpd_bad_test.c: hostile input against a real socpd; after each, another
// user must still be served (a DM round trip through the same server).
#include "socpd_test.h"
#include "socp/socp_b64.h"
#include "socp/socp_sig.h"

#include <netinet/in.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define ALICE "a1a1a1a1-1111-4111-8111-111111111111"
#define BOB   "b2b2b2b2-2222-4222-8222-222222222222"
#define EVE   "e5e5e5e5-5555-4555-8555-555555555555"

static void
s_hello_ok(sd_client_t *c, uint16_t port, const char *id, const char *fixture)
{
    sd_client_hello(c, port, id, fixture);
    socp_envelope_t e;
    CHECK_MSG(sd_recv(c, "PUBLIC_CHANNEL_UPDATED", 10000, &e) == 0, "%s not accepted", id);
    socp_envelope_fini(&e);
}

// Alice -> Bob still works.
static void
s_still_served(sd_client_t *a, sd_client_t *b, const char *ct)
{
    int64_t ts = socp_wall_ms();
    sd_send(a, "MSG_DIRECT", b->id, ts, sd_dm_payload(a, b->id, ts, ct), true);
    socp_envelope_t e;
    CHECK_MSG(sd_recv(b, "USER_DELIVER", 5000, &e) == 0, "server stopped serving (%s)", ct);
    CHECK_STREQ(json_string_value(json_object_get(e.payload, "ciphertext")), ct);
    socp_envelope_fini(&e);
}

SOCP_TEST_T(socpd_bad_big_frame, 60)
{
    sd_server_t s;
    sd_server_start(&s, "s", "rsa4096_4p_a.pem", NULL);
    sd_client_t a, b, x;
    s_hello_ok(&a, s.port, ALICE, "rsa4096_2p_a.pem");
    s_hello_ok(&b, s.port, BOB, "rsa4096_2p_b.pem");
    s_hello_ok(&x, s.port, EVE, "rsa4096_4p_b.pem");
    // A 2 MiB frame: our client refuses to send > 256 KiB, so frame it by hand.
    size_t n = 2u << 20;
    uint8_t *frame = malloc(n + 14);
    frame[0] = 0x81; // FIN + text
    frame[1] = 0x80 | 127;
    for (int i = 0; i < 8; i++) {
        frame[2 + i] = (uint8_t) ((uint64_t) n >> (56 - 8 * i));
    }
    memset(frame + 10, 0, 4); // mask key 0
    memset(frame + 14, 'x', n);
    int fd = socp_tcp_conn_fd(x.conn);
    size_t off = 0;
    while (off < n + 14) {
        ssize_t w = send(fd, frame + off, n + 14 - off, MSG_NOSIGNAL);
        if (w <= 0) {
            break; // the server may close before reading it all
        }
        off += (size_t) w;
    }
    free(frame);
    CHECK(sd_closed_within(&x, 5000));
    CHECK_EQ(socp_ws_close_code_received(socp_tcp_conn_ws(x.conn)), 1009);
    sd_client_close(&x);
    s_still_served(&a, &b, "YmlnZnJhbWU");
    sd_client_close(&a);
    sd_client_close(&b);
    sd_server_stop(&s);
}

SOCP_TEST_T(socpd_bad_flood, 60)
{
    // 10,000 frames at 1,000/s: a 10 s backlog, slowed (not read), not dropped.
    const char *extra[] = {"--rate-limit", "1000", "--rate-burst", "100", NULL};
    sd_server_t s;
    sd_server_start(&s, "s", "rsa4096_4p_a.pem", extra);
    sd_client_t a, b, x;
    s_hello_ok(&a, s.port, ALICE, "rsa4096_2p_a.pem");
    s_hello_ok(&b, s.port, BOB, "rsa4096_2p_b.pem");
    s_hello_ok(&x, s.port, EVE, "rsa4096_4p_b.pem");
    // 10,000 frames as fast as possible (one pre-built unsigned heartbeat).
    const char *hb =
        "{\"type\":\"HEARTBEAT\",\"from\":\"" EVE "\",\"to\":\"x\",\"ts\":1,\"payload\":{}}";
    uint64_t t0 = socp_now_ms();
    for (int i = 0; i < 10000; i++) {
        int rc = socp_tcp_conn_send_text(x.conn, hb, strlen(hb));
        if (rc == SOCP_EOVERFLOW) {
            CHECK_OK(socp_tcp_conn_pump(x.conn, 50));
            i--;
            continue;
        }
        CHECK_OK(rc);
    }
    while (socp_tcp_conn_want_write(x.conn)) {
        CHECK_OK(socp_tcp_conn_pump(x.conn, 50));
    }
    // Meanwhile the others are served promptly.
    uint64_t t1 = socp_now_ms();
    s_still_served(&a, &b, "Zmxvb2Q");
    CHECK_MSG(socp_now_ms() - t1 < 2000, "DM took %llu ms during a flood",
              (unsigned long long) (socp_now_ms() - t1));
    (void) t0;
    // The flooder was told, once per one-second window, not once per frame:
    // ERROR TIMEOUT "rate limit ...", while its backlog was slowed (10 s:
    // its socket is not read) and then while the excess was dropped.
    int told = 0;
    uint64_t last_told = t0;
    socp_envelope_t e;
    while (sd_recv(&x, "ERROR", 1500, &e) == 0) {
        last_told = socp_now_ms();
        const char *code = json_string_value(json_object_get(e.payload, "code"));
        const char *detail = json_string_value(json_object_get(e.payload, "detail"));
        CHECK_STREQ(code, "TIMEOUT");
        CHECK_MSG(detail && strncmp(detail, "rate limit", 10) == 0, "detail: %s",
                  detail ? detail : "(none)");
        told++;
        socp_envelope_fini(&e);
    }
    uint64_t flood_ms = last_told - t0;
    CHECK_MSG(told >= 1 && (uint64_t) told <= flood_ms / 1000 + 2,
              "%d rate-limit ERRORs in %llu ms", told, (unsigned long long) flood_ms);
    // The flooder is still connected and can talk once the bucket refills.
    sd_send(&x, "LIST_REQUEST", s.id, socp_wall_ms(), json_object(), true);
    int rc = sd_recv(&x, "LIST_RESPONSE", 3000, &e);
    if (rc != 0) {
        // The request may have met an empty bucket: one more after refill.
        sd_send(&x, "LIST_REQUEST", s.id, socp_wall_ms(), json_object(), true);
        CHECK_OK(sd_recv(&x, "LIST_RESPONSE", 3000, &e));
    }
    socp_envelope_fini(&e);
    sd_client_close(&x);
    sd_client_close(&a);
    sd_client_close(&b);
    sd_server_stop(&s);
}

SOCP_TEST_T(socpd_bad_slow_reader, 90)
{
    const char *extra[] = {"--max-output-kb", "512", "--rate-limit", "0", NULL};
    sd_server_t s;
    sd_server_start(&s, "s", "rsa4096_4p_a.pem", extra);
    sd_client_t a, b, x;
    s_hello_ok(&a, s.port, ALICE, "rsa4096_2p_a.pem");
    s_hello_ok(&b, s.port, BOB, "rsa4096_2p_b.pem");
    s_hello_ok(&x, s.port, EVE, "rsa4096_4p_b.pem");
    // Eve never reads; Alice sends her big DMs (each its own payload: the
    // server refuses a payload it has seen, whatever the ts).
    int fd = socp_tcp_conn_fd(x.conn);
    int small = 4096;
    setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &small, sizeof small);
    char *ct = malloc(100001);
    memset(ct, 'A', 100000);
    ct[100000] = '\0';
    bool gone = false;
    for (int i = 0; i < 400 && !gone; i++) {
        int64_t ts = socp_wall_ms();
        snprintf(ct, 9, "%08d", i);
        ct[8] = 'A';
        sd_send(&a, "MSG_DIRECT", EVE, ts, sd_dm_payload(&a, EVE, ts, ct), true);
        if (i % 20 == 19) {
            // Alice learns Eve is gone when USER_REMOVE arrives.
            socp_envelope_t e;
            if (sd_recv(&a, "USER_REMOVE", 10, &e) == 0) {
                gone = true;
                socp_envelope_fini(&e);
            }
        }
    }
    free(ct);
    if (!gone) {
        socp_envelope_t e;
        CHECK_MSG(sd_recv(&a, "USER_REMOVE", 10000, &e) == 0, "slow reader not dropped");
        socp_envelope_fini(&e);
    }
    s_still_served(&a, &b, "c2xvdw");
    sd_client_close(&x);
    sd_client_close(&a);
    sd_client_close(&b);
    sd_server_stop(&s);
}

SOCP_TEST_T(socpd_bad_abrupt, 60)
{
    sd_server_t s;
    sd_server_start(&s, "s", "rsa4096_4p_a.pem", NULL);
    sd_client_t a, b;
    s_hello_ok(&a, s.port, ALICE, "rsa4096_2p_a.pem");
    s_hello_ok(&b, s.port, BOB, "rsa4096_2p_b.pem");
    // Half a frame header, half a payload, then close; a bare TCP connection
    // that never speaks; garbage instead of an HTTP upgrade.
    for (int round = 0; round < 3; round++) {
        int fd = -1;
        CHECK_OK(socp_tcp_connect("127.0.0.1", s.port, &fd));
        struct pollfd p = {.fd = fd, .events = POLLOUT};
        CHECK(poll(&p, 1, 2000) == 1);
        const char *msg = round == 0   ? "GET / HTTP/1.1\r\nHost: x\r\nUpg"
                          : round == 1 ? ""
                                       : "\x16\x03\x01garbage\r\n\r\n";
        if (*msg) {
            CHECK(send(fd, msg, strlen(msg), MSG_NOSIGNAL) > 0);
        }
        close(fd);
    }
    sd_client_t x;
    s_hello_ok(&x, s.port, EVE, "rsa4096_4p_b.pem");
    uint8_t half[] = {0x81, 0xfe, 0x01}; // a text frame header cut in its length
    CHECK(send(socp_tcp_conn_fd(x.conn), half, sizeof half, MSG_NOSIGNAL) == 3);
    socp_tcp_conn_destroy(&x.conn);
    socp_envelope_t e;
    CHECK_OK(sd_recv(&a, "USER_REMOVE", 5000, &e));
    CHECK_STREQ(json_string_value(json_object_get(e.payload, "user_id")), EVE);
    socp_envelope_fini(&e);
    sd_client_close(&x);
    // Half-open: connected, upgraded, silent: dropped at the hello deadline.
    s_still_served(&a, &b, "YWJydXB0");
    sd_client_close(&a);
    sd_client_close(&b);
    sd_server_stop(&s);
}

// Frames claiming to come from a server: unsigned, and signed by a key that is
// not the pinned one, on a link; both dropped, the link and users unaffected.
SOCP_TEST_T(socpd_bad_server_frames, 60)
{
    sd_server_t s;
    sd_server_start(&s, "s", "rsa4096_4p_a.pem", NULL);
    sd_client_t a, b, srv;
    s_hello_ok(&a, s.port, ALICE, "rsa4096_2p_a.pem");
    s_hello_ok(&b, s.port, BOB, "rsa4096_2p_b.pem");
    // A fake server joins with key 4p_b (s acts as introducer).
    const char *fake_id = "f00df00d-0000-4000-8000-000000000000";
    sd_client_open(&srv, s.port, fake_id, "rsa4096_4p_b.pem");
    sd_send(&srv, "SERVER_HELLO_JOIN", "127.0.0.1:1", socp_wall_ms(),
            json_pack("{s:s, s:i, s:s}", "host", "127.0.0.1", "port", 1, "pubkey", srv.pub), true);
    socp_envelope_t e;
    CHECK_OK(sd_recv(&srv, "SERVER_WELCOME", 5000, &e));
    CHECK_STREQ(json_string_value(json_object_get(e.payload, "assigned_id")), fake_id);
    socp_envelope_fini(&e);
    // Unsigned USER_ADVERTISE: dropped.
    const char *mallory = "dddddddd-0000-4000-8000-000000000000";
    sd_send(&srv, "USER_ADVERTISE", "*", socp_wall_ms(),
            json_pack("{s:s, s:s, s:s, s:{}}", "user_id", mallory, "server_id", fake_id, "pubkey",
                      srv.pub, "meta"),
            false);
    // Signed by the wrong key: dropped.
    socp_rsa_key_t *right = srv.key;
    srv.key = sd_fixture_key("rsa4096_2p_a.pem");
    sd_send(&srv, "USER_ADVERTISE", "*", socp_wall_ms(),
            json_pack("{s:s, s:s, s:s, s:{}}", "user_id", mallory, "server_id", fake_id, "pubkey",
                      srv.pub, "meta"),
            true);
    socp_rsa_destroy(&srv.key);
    srv.key = right;
    // Correctly signed: accepted, Alice sees the advert (relayed unchanged).
    const char *trent = "77777777-0000-4000-8000-000000000000";
    sd_send(&srv, "USER_ADVERTISE", "*", socp_wall_ms(),
            json_pack("{s:s, s:s, s:s, s:{}}", "user_id", trent, "server_id", fake_id, "pubkey",
                      srv.pub, "meta"),
            true);
    for (;;) {
        CHECK_OK(sd_recv(&a, "USER_ADVERTISE", 5000, &e));
        const char *uid = json_string_value(json_object_get(e.payload, "user_id"));
        CHECK_MSG(strcmp(uid, mallory) != 0, "a forged advert was relayed");
        bool done = strcmp(uid, trent) == 0;
        socp_envelope_fini(&e);
        if (done) {
            break;
        }
    }
    s_still_served(&a, &b, "c2VydmVy");
    sd_client_close(&srv);
    sd_client_close(&a);
    sd_client_close(&b);
    sd_server_stop(&s);
}

// A user over the rate limit who sends a burst and leaves at once: every
// frame it sent before closing is delivered (the one held for a token and
// those read with the end of the stream), none lost to the limit.
SOCP_TEST_T(socpd_bad_rate_close_delivers_all, 60)
{
    const char *extra[] = {"--rate-limit", "5", "--rate-burst", "5", NULL};
    sd_server_t s;
    sd_server_start(&s, "s", "rsa4096_4p_a.pem", extra);
    sd_client_t a, b;
    s_hello_ok(&a, s.port, ALICE, "rsa4096_2p_a.pem");
    s_hello_ok(&b, s.port, BOB, "rsa4096_2p_b.pem");
    enum { N = 20 };
    char ct[N][32];
    for (int i = 0; i < N; i++) {
        char raw[16];
        snprintf(raw, sizeof raw, "burst-%02d", i);
        CHECK_OK(socp_b64_encode_to(raw, strlen(raw), ct[i], sizeof ct[i]));
        int64_t ts = socp_wall_ms();
        sd_send(&a, "MSG_DIRECT", b.id, ts, sd_dm_payload(&a, b.id, ts, ct[i]), true);
    }
    sd_client_close(&a); // at 5 frames/s most of the burst is still unread
    for (int i = 0; i < N; i++) {
        socp_envelope_t e;
        CHECK_MSG(sd_recv(&b, "USER_DELIVER", 10000, &e) == 0, "only %d of %d delivered", i, N);
        CHECK_STREQ(json_string_value(json_object_get(e.payload, "ciphertext")), ct[i]);
        socp_envelope_fini(&e);
    }
    sd_client_close(&b);
    sd_server_stop(&s);
}
