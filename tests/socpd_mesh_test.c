// socpd_mesh_test.c: three real socpd processes meshed through an
// introducer; users on different servers exchange DMs, public messages and a
// file; presence converges; a killed server's users disappear elsewhere
// within the shortened timeout, and a restart re-links.
#include "socpd_test.h"

#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define ALICE "aaaaaaaa-1111-4111-8111-111111111111"
#define BOB   "bbbbbbbb-2222-4222-8222-222222222222"
#define CAROL "cccccccc-3333-4333-8333-333333333333"

// Waits until LIST_RESPONSE on c shows exactly n users.
static void
s_wait_users(sd_client_t *c, const char *server_id, size_t n, int timeout_ms)
{
    uint64_t deadline = socp_now_ms() + (uint64_t) timeout_ms;
    size_t got = 0;
    while (socp_now_ms() < deadline) {
        sd_send(c, "LIST_REQUEST", server_id, socp_wall_ms(), json_object(), true);
        socp_envelope_t e;
        if (sd_recv(c, "LIST_RESPONSE", 2000, &e) == 0) {
            got = json_array_size(json_object_get(e.payload, "users"));
            socp_envelope_fini(&e);
            if (got == n) {
                return;
            }
        }
        struct timespec ts = {0, 100 * 1000 * 1000};
        nanosleep(&ts, NULL); // polling interval of a deadline loop, not a sync
    }
    CHECK_MSG(false, "%s sees %zu users, expected %zu", c->id, got, n);
}

static void
s_hello_ok(sd_client_t *c, uint16_t port, const char *id, const char *fixture)
{
    sd_client_hello(c, port, id, fixture);
    socp_envelope_t e;
    CHECK_MSG(sd_recv(c, "PUBLIC_CHANNEL_UPDATED", 10000, &e) == 0, "%s not accepted", id);
    socp_envelope_fini(&e);
}

static void
s_dm(sd_client_t *from, sd_client_t *to, const char *ct)
{
    int64_t ts = socp_wall_ms();
    sd_send(from, "MSG_DIRECT", to->id, ts, sd_dm_payload(from, to->id, ts, ct), true);
    socp_envelope_t e;
    CHECK_MSG(sd_recv(to, "USER_DELIVER", 5000, &e) == 0, "DM %s -> %s lost", from->id, to->id);
    CHECK_EQ(e.ts, ts);
    CHECK_STREQ(json_string_value(json_object_get(e.payload, "sender")), from->id);
    CHECK_STREQ(json_string_value(json_object_get(e.payload, "ciphertext")), ct);
    CHECK_EQ(json_integer_value(json_object_get(e.payload, "ts")), ts);
    socp_envelope_fini(&e);
}

SOCP_TEST_T(socpd_mesh_three, 120)
{
    const char *timing[] = {"--heartbeat-ms", "200", "--dead-ms", "1000", NULL};
    sd_server_t s1, s2, s3;
    sd_server_start(&s1, "s1", "rsa4096_4p_a.pem", timing);
    char intro[2400];
    snprintf(intro, sizeof intro, "127.0.0.1:%u:%s", (unsigned) s1.port, s1.pubkey);
    const char *join[] = {"--heartbeat-ms", "200", "--dead-ms", "1000",
                          "--introducer",   intro, NULL};
    sd_server_start(&s2, "s2", "rsa4096_4p_b.pem", join);
    sd_server_start(&s3, "s3", "rsa4096_2p_a.pem", join);

    sd_client_t a, b, c;
    s_hello_ok(&a, s1.port, ALICE, "rsa4096_2p_a.pem");
    s_hello_ok(&b, s2.port, BOB, "rsa4096_2p_b.pem");
    s_hello_ok(&c, s3.port, CAROL, "rsa4096_4p_b.pem");
    s_wait_users(&a, s1.id, 3, 15000);
    s_wait_users(&b, s2.id, 3, 15000);
    s_wait_users(&c, s3.id, 3, 15000);

    // DMs across every pair of servers.
    s_dm(&a, &b, "YS1i");
    s_dm(&b, &c, "Yi1j");
    s_dm(&c, &a, "Yy1h");
    s_dm(&a, &c, "YS1j");

    // Public channel: one frame to "public" reaches members on every server.
    sd_send(&a, "MSG_PUBLIC_CHANNEL", "public", socp_wall_ms(),
            json_pack("{s:s, s:s}", "ciphertext", "cHVi", "group", "public"), true);
    socp_envelope_t e;
    CHECK_OK(sd_recv(&b, "MSG_PUBLIC_CHANNEL", 5000, &e));
    CHECK_STREQ(e.from, ALICE);
    socp_envelope_fini(&e);
    CHECK_OK(sd_recv(&c, "MSG_PUBLIC_CHANNEL", 5000, &e));
    socp_envelope_fini(&e);

    // A file across servers, in order.
    int64_t ts = socp_wall_ms();
    sd_send(&b, "FILE_START", CAROL, ts,
            json_pack("{s:s, s:s, s:i, s:s, s:s}", "file_id", "f1", "name", "a.txt", "size", 2,
                      "sha256", "00", "mode", "dm"),
            true);
    for (int i = 0; i < 3; i++) {
        sd_send(&b, "FILE_CHUNK", CAROL, ts + 1 + i,
                json_pack("{s:s, s:i, s:s}", "file_id", "f1", "index", i, "ciphertext", "eA"),
                true);
    }
    sd_send(&b, "FILE_END", CAROL, ts + 10, json_pack("{s:s}", "file_id", "f1"), true);
    CHECK_OK(sd_recv(&c, "FILE_START", 5000, &e));
    socp_envelope_fini(&e);
    for (int i = 0; i < 3; i++) {
        CHECK_OK(sd_recv(&c, "FILE_CHUNK", 5000, &e));
        CHECK_EQ(json_integer_value(json_object_get(e.payload, "index")), i);
        socp_envelope_fini(&e);
    }
    CHECK_OK(sd_recv(&c, "FILE_END", 5000, &e));
    socp_envelope_fini(&e);

    // Kill s3: carol disappears from s1 and s2 within the dead timeout.
    sd_server_kill9(&s3);
    sd_client_close(&c);
    s_wait_users(&a, s1.id, 2, 5000);
    s_wait_users(&b, s2.id, 2, 5000);

    // Restart s3 (same data dir, same id): it re-links and carol is back.
    sd_server_t s3b;
    sd_server_start(&s3b, "s3", "rsa4096_2p_a.pem", join);
    CHECK_STREQ(s3b.id, s3.id);
    s_hello_ok(&c, s3b.port, CAROL, "rsa4096_4p_b.pem");
    s_wait_users(&a, s1.id, 3, 15000);
    s_wait_users(&b, s2.id, 3, 15000);
    s_wait_users(&c, s3b.id, 3, 15000); // the restarted server knows bob again
    s_dm(&a, &c, "YWdhaW4");
    s_dm(&c, &b, "YWdhaW4y");

    sd_client_close(&a);
    sd_client_close(&b);
    sd_client_close(&c);
    sd_server_stop(&s3b);
    sd_server_stop(&s2);
    sd_server_stop(&s1);
}
