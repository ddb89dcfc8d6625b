// socpd_single_test.c: one real socpd process, users over loopback: hello,
// DMs, listing, presence, every user-side error code, and clean shutdown.
#include "socpd_test.h"
#include "socp/socp_sig.h"

#include <signal.h>
#include <stdlib.h>
#include <string.h>

#define ALICE "11111111-1111-4111-8111-111111111111"
#define BOB   "22222222-2222-4222-8222-222222222222"
#define CAROL "33333333-3333-4333-8333-333333333333"

static void
s_hello_ok(sd_client_t *c, uint16_t port, const char *id, const char *fixture)
{
    sd_client_hello(c, port, id, fixture);
    socp_envelope_t e;
    CHECK_MSG(sd_recv(c, "PUBLIC_CHANNEL_UPDATED", 10000, &e) == 0, "%s not accepted", id);
    socp_envelope_fini(&e);
}

static void
s_check_server_sig(const sd_server_t *s, const socp_envelope_t *e)
{
    socp_rsa_key_t *k = NULL;
    CHECK_OK(socp_rsa_public_import(s->pubkey, strlen(s->pubkey), &k));
    CHECK(e->sig != NULL);
    CHECK_OK(socp_sig_verify_payload(k, e->payload, e->sig, NULL));
    CHECK_STREQ(e->from, s->id);
    socp_rsa_destroy(&k);
}

SOCP_TEST_T(socpd_single_dm, 60)
{
    sd_server_t s;
    sd_server_start(&s, "s1", "rsa4096_4p_a.pem", NULL);
    sd_client_t a, b;
    s_hello_ok(&a, s.port, ALICE, "rsa4096_2p_a.pem");
    s_hello_ok(&b, s.port, BOB, "rsa4096_2p_b.pem");

    // Bob learnt about Alice (one advert per known user) and Alice about Bob.
    socp_envelope_t e;
    CHECK_OK(sd_recv(&a, "USER_ADVERTISE", 5000, &e));
    CHECK_STREQ(json_string_value(json_object_get(e.payload, "user_id")), BOB);
    CHECK_STREQ(json_string_value(json_object_get(json_object_get(e.payload, "meta"), "pubkey")),
                b.pub);
    s_check_server_sig(&s, &e);
    socp_envelope_fini(&e);

    // Alice -> Bob.
    int64_t ts = socp_wall_ms() - 1234;
    sd_send(&a, "MSG_DIRECT", BOB, ts, sd_dm_payload(&a, BOB, ts, "Y2lwaGVydGV4dA"), true);
    CHECK_OK(sd_recv(&b, "USER_DELIVER", 5000, &e));
    CHECK_EQ(e.ts, ts);
    CHECK_STREQ(e.to, BOB);
    CHECK_EQ(json_integer_value(json_object_get(e.payload, "ts")), ts);
    CHECK_STREQ(json_string_value(json_object_get(e.payload, "to")), BOB);
    CHECK_STREQ(json_string_value(json_object_get(e.payload, "sender")), ALICE);
    CHECK_STREQ(json_string_value(json_object_get(e.payload, "ciphertext")), "Y2lwaGVydGV4dA");
    s_check_server_sig(&s, &e);
    // The end-to-end signature still verifies with the delivered fields.
    socp_rsa_key_t *ak = NULL;
    const char *sp = json_string_value(json_object_get(e.payload, "sender_pub"));
    CHECK_OK(socp_rsa_public_import(sp, strlen(sp), &ak));
    socp_sig_content_t content = {.ciphertext = "Y2lwaGVydGV4dA",
                                  .from = ALICE,
                                  .to = BOB,
                                  .ts = json_integer_value(json_object_get(e.payload, "ts"))};
    CHECK_OK(socp_sig_verify_content(
        ak, &content, json_string_value(json_object_get(e.payload, "content_sig")), NULL));
    socp_rsa_destroy(&ak);
    socp_envelope_fini(&e);

    // Bob -> Alice.
    ts = socp_wall_ms();
    sd_send(&b, "MSG_DIRECT", ALICE, ts, sd_dm_payload(&b, ALICE, ts, "YW5zd2Vy"), true);
    CHECK_OK(sd_recv(&a, "USER_DELIVER", 5000, &e));
    CHECK_STREQ(json_string_value(json_object_get(e.payload, "sender")), BOB);
    socp_envelope_fini(&e);

    // LIST_REQUEST and its alias.
    sd_send(&a, "LIST_REQUEST", s.id, socp_wall_ms(), json_object(), true);
    CHECK_OK(sd_recv(&a, "LIST_RESPONSE", 5000, &e));
    json_t *users = json_object_get(e.payload, "users");
    CHECK_EQ(json_array_size(users), 2);
    CHECK_STREQ(json_string_value(json_object_get(json_array_get(users, 0), "user_id")), ALICE);
    CHECK_STREQ(json_string_value(json_object_get(json_array_get(users, 1), "user_id")), BOB);
    socp_envelope_fini(&e);
    sd_send(&a, "CMD_LIST", s.id, socp_wall_ms(), json_object(), false);
    CHECK_OK(sd_recv(&a, "LIST_RESPONSE", 5000, &e));
    socp_envelope_fini(&e);

    // A file and a public-channel message go through too (user-signed, unchanged).
    ts = socp_wall_ms();
    sd_send(&a, "FILE_START", BOB, ts,
            json_pack("{s:s, s:s, s:i, s:s, s:s}", "file_id", "f1", "name", "x.txt", "size", 3,
                      "sha256", "00", "mode", "dm"),
            true);
    CHECK_OK(sd_recv(&b, "FILE_START", 5000, &e));
    CHECK_STREQ(e.from, ALICE);
    socp_envelope_fini(&e);
    sd_send(&a, "MSG_PUBLIC_CHANNEL", "public", socp_wall_ms(),
            json_pack("{s:s, s:s}", "ciphertext", "cHVibGlj", "group", "public"), true);
    CHECK_OK(sd_recv(&b, "MSG_PUBLIC_CHANNEL", 5000, &e));
    socp_envelope_fini(&e);

    // Bob leaves: Alice sees USER_REMOVE.
    sd_send(&b, "CTRL_CLOSE", s.id, socp_wall_ms(), json_object(), true);
    CHECK_OK(sd_recv(&a, "USER_REMOVE", 5000, &e));
    CHECK_STREQ(json_string_value(json_object_get(e.payload, "user_id")), BOB);
    socp_envelope_fini(&e);
    CHECK(sd_closed_within(&b, 3000));

    sd_client_close(&a);
    sd_client_close(&b);
    uint64_t t0 = socp_now_ms();
    sd_server_stop(&s);
    CHECK_MSG(socp_now_ms() - t0 < 1500, "SIGTERM took %llu ms",
              (unsigned long long) (socp_now_ms() - t0));
}

SOCP_TEST_T(socpd_single_errors, 60)
{
    sd_server_t s;
    sd_server_start(&s, "s1", "rsa4096_4p_a.pem", NULL);
    sd_client_t a, b, x;
    s_hello_ok(&a, s.port, ALICE, "rsa4096_2p_a.pem");
    s_hello_ok(&b, s.port, BOB, "rsa4096_2p_b.pem");

    // Unknown recipient.
    int64_t ts = socp_wall_ms();
    sd_send(&a, "MSG_DIRECT", CAROL, ts, sd_dm_payload(&a, CAROL, ts, "eA"), true);
    sd_expect_error(&a, "USER_NOT_FOUND", 5000);
    // Bad signature (signed by another key).
    socp_rsa_key_t *mine = a.key;
    a.key = b.key;
    sd_send(&a, "MSG_DIRECT", BOB, ts, sd_dm_payload(&a, BOB, ts, "eA"), true);
    a.key = mine;
    sd_expect_error(&a, "INVALID_SIG", 5000);
    // Unsigned content frame.
    sd_send(&a, "MSG_DIRECT", BOB, ts, json_pack("{s:s}", "ciphertext", "eA"), false);
    sd_expect_error(&a, "INVALID_SIG", 5000);
    // Spoofed from.
    snprintf(a.id, sizeof a.id, "%s", BOB);
    sd_send(&a, "MSG_DIRECT", BOB, ts, sd_dm_payload(&a, BOB, ts, "eA"), true);
    snprintf(a.id, sizeof a.id, "%s", ALICE);
    sd_expect_error(&a, "INVALID_SIG", 5000);
    // Unknown type, and a server-only type from a user.
    sd_send(&a, "NOPE_TYPE", BOB, ts, json_object(), true);
    sd_expect_error(&a, "UNKNOWN_TYPE", 5000);
    sd_send(&a, "USER_ADVERTISE", "*", ts,
            json_pack("{s:s, s:s}", "user_id", CAROL, "server_id", s.id), true);
    sd_expect_error(&a, "UNKNOWN_TYPE", 5000);
    // Stale ts.
    int64_t old = socp_wall_ms() - 3600 * 1000;
    sd_send(&a, "MSG_DIRECT", BOB, old, sd_dm_payload(&a, BOB, old, "eA"), true);
    sd_expect_error(&a, "TIMEOUT", 5000);
    // Replay: the same signed frame twice is delivered once.
    ts = socp_wall_ms();
    json_t *p = sd_dm_payload(&a, BOB, ts, "cmVwbGF5");
    json_incref(p);
    sd_send(&a, "MSG_DIRECT", BOB, ts, p, true);
    sd_send(&a, "MSG_DIRECT", BOB, ts, p, true);
    socp_envelope_t e;
    CHECK_OK(sd_recv(&b, "USER_DELIVER", 5000, &e));
    socp_envelope_fini(&e);
    sd_expect_error(&a, "INVALID_SIG", 5000);
    // Malformed JSON and a non-envelope: errors, the connection stays usable.
    sd_send_raw(&a, "{not json", 9);
    sd_expect_error(&a, "UNKNOWN_TYPE", 5000);
    sd_send_raw(&a, "[1,2,3]", 7);
    sd_expect_error(&a, "UNKNOWN_TYPE", 5000);
    sd_send_raw(&a, "{\"type\":\"MSG_DIRECT\",\"from\":5}", 30);
    sd_expect_error(&a, "UNKNOWN_TYPE", 5000);
    sd_send(&a, "LIST_REQUEST", s.id, socp_wall_ms(), json_object(), true);
    CHECK_OK(sd_recv(&a, "LIST_RESPONSE", 5000, &e));
    socp_envelope_fini(&e);

    // Second connection with a connected id: NAME_IN_USE and closed.
    sd_client_hello(&x, s.port, ALICE, "rsa4096_2p_a.pem");
    sd_expect_error(&x, "NAME_IN_USE", 5000);
    CHECK(sd_closed_within(&x, 3000));
    sd_client_close(&x);
    // Bob's id bound to Bob's key: another key is refused after he leaves.
    sd_client_close(&b);
    CHECK_OK(sd_recv(&a, "USER_REMOVE", 5000, &e));
    socp_envelope_fini(&e);
    sd_client_hello(&x, s.port, BOB, "rsa4096_4p_b.pem");
    sd_expect_error(&x, "BAD_KEY", 5000);
    sd_client_close(&x);
    // A key that is not RSA-4096.
    sd_client_open(&x, s.port, CAROL, "rsa4096_2p_a.pem");
    sd_send(&x, "USER_HELLO", CAROL, socp_wall_ms(),
            json_pack("{s:s, s:s}", "client", "t", "pubkey", "bm90IGEga2V5"), false);
    sd_expect_error(&x, "BAD_KEY", 5000);
    sd_client_close(&x);
    // Hello whose sig does not verify under the presented key.
    sd_client_open(&x, s.port, CAROL, "rsa4096_2p_a.pem");
    char *other = NULL;
    CHECK_OK(socp_rsa_public_export(a.key, SOCP_RSA_PUB_B64_DER, &other));
    socp_rsa_destroy(&x.key);
    x.key = sd_fixture_key("rsa4096_4p_b.pem");
    sd_send(&x, "USER_HELLO", CAROL, socp_wall_ms(),
            json_pack("{s:s, s:s}", "client", "t", "pubkey", other), true);
    free(other);
    sd_expect_error(&x, "INVALID_SIG", 5000);
    sd_client_close(&x);
    // First frame that does not identify.
    sd_client_open(&x, s.port, CAROL, "rsa4096_2p_a.pem");
    sd_send(&x, "MSG_DIRECT", BOB, ts, json_object(), false);
    sd_expect_error(&x, "UNKNOWN_TYPE", 5000);
    CHECK(sd_closed_within(&x, 3000));
    sd_client_close(&x);
    // Bob may come back with his own key.
    s_hello_ok(&b, s.port, BOB, "rsa4096_2p_b.pem");
    sd_client_close(&b);
    sd_client_close(&a);
    sd_server_stop(&s);
}

SOCP_TEST_T(socpd_single_hello_timeout, 30)
{
    const char *extra[] = {"--hello-timeout-ms", "300", NULL};
    sd_server_t s;
    sd_server_start(&s, "s1", "rsa4096_4p_a.pem", extra);
    sd_client_t x;
    sd_client_open(&x, s.port, CAROL, "rsa4096_2p_a.pem");
    sd_expect_error(&x, "TIMEOUT", 5000);
    CHECK(sd_closed_within(&x, 3000));
    sd_client_close(&x);
    sd_server_stop(&s);
}

SOCP_TEST_T(socpd_single_cli, 30)
{
    // --print-pubkey prints the imported key; --help and bad flags.
    char dir[1024];
    snprintf(dir, sizeof dir, "%s/pk", socp_test_tmpdir());
    char keypath[2048];
    snprintf(keypath, sizeof keypath, "%s/tests/fixtures/rsa4096_4p_a.pem", socp_test_srcdir());
    const char *args[] = {"--data-dir",     dir, "--plain-key", "--import-key", keypath,
                          "--print-pubkey", NULL};
    int fd = -1;
    int pid = socp_test_spawn("socpd", args, &fd);
    char line[2048];
    CHECK(socp_test_read_line(fd, line, sizeof line, 10000) > 0);
    CHECK_EQ(socp_test_stop(pid, 0, 5000), 0);
    socp_rsa_key_t *k = sd_fixture_key("rsa4096_4p_a.pem");
    char *pub = NULL;
    CHECK_OK(socp_rsa_public_export(k, SOCP_RSA_PUB_B64_DER, &pub));
    CHECK_STREQ(line, pub);
    free(pub);
    socp_rsa_destroy(&k);
    // The same again from the stored key (no import).
    const char *args2[] = {"--data-dir", dir, "--print-pubkey", NULL};
    pid = socp_test_spawn("socpd", args2, &fd);
    char line2[2048];
    CHECK(socp_test_read_line(fd, line2, sizeof line2, 10000) > 0);
    CHECK_EQ(socp_test_stop(pid, 0, 5000), 0);
    CHECK_STREQ(line, line2);
    const char *bad[] = {"--port", "99999", NULL};
    pid = socp_test_spawn("socpd", bad, NULL);
    CHECK_EQ(socp_test_stop(pid, 0, 5000), 2);
    const char *help[] = {"--help", NULL};
    pid = socp_test_spawn("socpd", help, &fd);
    CHECK(socp_test_read_line(fd, line, sizeof line, 5000) > 0);
    CHECK(strncmp(line, "usage: socpd", 12) == 0);
    CHECK_EQ(socp_test_stop(pid, 0, 5000), 0);
}
