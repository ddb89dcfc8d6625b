// socpd_durable_test.c: kill -9 durability of the server database.
//
// A user id is bound to the first key it presents, in a synchronous LMDB
// commit made before the server answers the hello. After SIGKILL and a
// restart on the same data dir the binding must hold (a hello with another
// key for the same id is refused with BAD_KEY) and the server id must be the
// same; SIGKILL in the middle of a burst of hellos must leave a database that
// opens, with every binding the server had acknowledged.
#include "socpd_test.h"

#include <signal.h>
#include <stdlib.h>
#include <string.h>

#define ALICE "a1a1a1a1-d0d0-4000-8000-000000000001"
#define BOB   "b2b2b2b2-d0d0-4000-8000-000000000002"

// Hello and wait for the acceptance (the binding is committed by then).
static void
s_hello_ok(sd_client_t *c, uint16_t port, const char *id, const char *fixture)
{
    sd_client_hello(c, port, id, fixture);
    socp_envelope_t e;
    CHECK_MSG(sd_recv(c, "PUBLIC_CHANNEL_UPDATED", 10000, &e) == 0, "%s not accepted", id);
    socp_envelope_fini(&e);
}

// A hello for `id` with the wrong key must be refused with BAD_KEY.
static void
s_hello_refused(uint16_t port, const char *id, const char *fixture)
{
    sd_client_t c;
    sd_client_hello(&c, port, id, fixture);
    sd_expect_error(&c, "BAD_KEY", 5000);
    CHECK(sd_closed_within(&c, 3000));
    sd_client_close(&c);
}

SOCP_TEST_T(socpd_durable_kill9_bindings, 90)
{
    sd_server_t s;
    sd_server_start(&s, "s", "rsa4096_4p_a.pem", NULL);
    char id[160];
    snprintf(id, sizeof id, "%s", s.id);
    sd_client_t a, b;
    s_hello_ok(&a, s.port, ALICE, "rsa4096_2p_a.pem");
    s_hello_ok(&b, s.port, BOB, "rsa4096_2p_b.pem");
    // Killed right after the acknowledgements: no clean shutdown, no sync.
    sd_server_kill9(&s);
    sd_client_close(&a);
    sd_client_close(&b);

    sd_server_start(&s, "s", "rsa4096_4p_a.pem", NULL);
    CHECK_STREQ(s.id, id);
    s_hello_refused(s.port, ALICE, "rsa4096_4p_b.pem");
    s_hello_refused(s.port, BOB, "rsa4096_2p_a.pem");
    // The right keys are still welcome.
    s_hello_ok(&a, s.port, ALICE, "rsa4096_2p_a.pem");
    s_hello_ok(&b, s.port, BOB, "rsa4096_2p_b.pem");
    sd_client_close(&a);
    sd_client_close(&b);
    sd_server_stop(&s);
}

// Three rounds: a burst of hellos from new ids, SIGKILL while they are being
// processed, restart. Every restart must open the database and keep the
// server id; every id acknowledged before the kill stays bound.
SOCP_TEST_T(socpd_durable_kill9_burst, 120)
{
    enum { ROUNDS = 3, BURST = 16 };
    char server_id[160] = "";
    char acked[ROUNDS * BURST][40];
    size_t n_acked = 0;
    for (int round = 0; round < ROUNDS; round++) {
        sd_server_t s;
        sd_server_start(&s, "s", "rsa4096_4p_a.pem", NULL);
        if (round == 0) {
            snprintf(server_id, sizeof server_id, "%s", s.id);
        }
        CHECK_STREQ(s.id, server_id);
        // Earlier acknowledged bindings survived every previous kill.
        if (n_acked) {
            s_hello_refused(s.port, acked[(size_t) round % n_acked], "rsa4096_2p_b.pem");
        }
        sd_client_t c[BURST];
        char ids[BURST][40];
        for (int i = 0; i < BURST; i++) {
            snprintf(ids[i], sizeof ids[i], "%08x-b0b0-4000-8000-%012x", (unsigned) round,
                     (unsigned) i);
            sd_client_hello(&c[i], s.port, ids[i], "rsa4096_2p_a.pem");
        }
        // Wait for about half of them to be acknowledged, then kill.
        for (int i = 0; i < BURST / 2; i++) {
            socp_envelope_t e;
            if (sd_recv(&c[i], "PUBLIC_CHANNEL_UPDATED", 10000, &e) == 0) {
                socp_envelope_fini(&e);
                memcpy(acked[n_acked++], ids[i], sizeof acked[0]);
            }
        }
        sd_server_kill9(&s);
        for (int i = 0; i < BURST; i++) {
            sd_client_close(&c[i]);
        }
    }
    CHECK(n_acked >= ROUNDS); // the test did exercise acknowledged bindings
    sd_server_t s;
    sd_server_start(&s, "s", "rsa4096_4p_a.pem", NULL);
    CHECK_STREQ(s.id, server_id);
    for (size_t i = 0; i < n_acked; i += 4) {
        s_hello_refused(s.port, acked[i], "rsa4096_4p_b.pem");
    }
    sd_client_t ok;
    s_hello_ok(&ok, s.port, acked[0], "rsa4096_2p_a.pem");
    sd_client_close(&ok);
    sd_server_stop(&s);
}
