// socpd_tcp_test.c: the non-blocking TCP + WebSocket helper (socp_tcp) on
// loopback: handshake, messages both ways, partial writes towards a peer that
// does not read (bounded output), end of stream.
#include "socp_test.h"
#include "socp/socp_tcp.h"

#include <poll.h>
#include <unistd.h>

// Runs the server side until its session is open (handshake answered).
static void
s_accept_open(int lfd, socp_tcp_conn_t **server)
{
    uint64_t deadline = socp_now_ms() + 5000;
    int fd = -1;
    while (socp_tcp_accept(lfd, &fd, NULL) == SOCP_EAGAIN) {
        CHECK(socp_now_ms() < deadline);
        struct pollfd p = {.fd = lfd, .events = POLLIN};
        (void) poll(&p, 1, 100);
    }
    *server = socp_tcp_conn_new(fd, SOCP_WS_SERVER, NULL, NULL, 0);
    CHECK(*server);
}

SOCP_TEST_T(socpd_tcp_roundtrip, 20)
{
    int lfd = -1;
    uint16_t port = 0;
    CHECK_OK(socp_tcp_listen("127.0.0.1", 0, 16, &lfd, &port));
    CHECK(port > 0);

    // Client connect needs the server to answer the handshake: do it by hand.
    int cfd = -1;
    CHECK_OK(socp_tcp_connect("127.0.0.1", port, &cfd));
    socp_tcp_conn_t *server = NULL;
    s_accept_open(lfd, &server);
    socp_tcp_conn_t *client = socp_tcp_conn_new(cfd, SOCP_WS_CLIENT, NULL, "127.0.0.1", port);
    CHECK(client);
    uint64_t deadline = socp_now_ms() + 5000;
    while (socp_ws_state(socp_tcp_conn_ws(client)) != SOCP_WS_OPEN) {
        CHECK(socp_now_ms() < deadline);
        CHECK_OK(socp_tcp_conn_pump(client, 10));
        CHECK_OK(socp_tcp_conn_pump(server, 10));
    }
    CHECK_OK(socp_tcp_conn_send_text(client, "hello", 5));
    socp_ws_msg_t m;
    while (socp_tcp_conn_next(server, &m) != 0) {
        CHECK(socp_now_ms() < deadline);
        CHECK_OK(socp_tcp_conn_pump(server, 50));
    }
    CHECK_EQ(m.len, 5);
    CHECK_MEMEQ(m.data, "hello", 5);

    // A peer that never reads: output grows to the bound, then EOVERFLOW.
    static char big[200 * 1024];
    memset(big, 'x', sizeof big);
    int rc = 0;
    int sent = 0;
    for (int i = 0; i < 200 && rc == 0; i++) {
        rc = socp_tcp_conn_send_text(server, big, sizeof big);
        sent += rc == 0;
    }
    CHECK_RC(rc, SOCP_EOVERFLOW);
    CHECK(sent >= 4);

    // End of stream is reported.
    socp_tcp_conn_destroy(&server);
    deadline = socp_now_ms() + 5000;
    for (;;) {
        CHECK(socp_now_ms() < deadline);
        rc = socp_tcp_conn_pump(client, 50);
        if (rc != 0) {
            break;
        }
        while (socp_tcp_conn_next(client, &m) == 0) {
        }
    }
    CHECK(rc == SOCP_ECLOSED || rc == SOCP_EIO);
    CHECK(socp_tcp_conn_done(client));
    socp_tcp_conn_destroy(&client);
    close(lfd);
}

SOCP_TEST_T(socpd_tcp_connect_refused, 10)
{
    int lfd = -1;
    uint16_t port = 0;
    CHECK_OK(socp_tcp_listen("127.0.0.1", 0, 16, &lfd, &port));
    close(lfd); // nothing listens there any more
    socp_tcp_conn_t *c = NULL;
    int rc = socp_tcp_ws_connect("127.0.0.1", port, NULL, 2000, &c);
    CHECK(rc == SOCP_EIO || rc == SOCP_ETIMEDOUT);
    CHECK(c == NULL);
}
