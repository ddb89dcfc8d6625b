// socpd_account_test.c: socpd serves Impl14's account profile: a client
// that registers (USER_REGISTER, no envelope from), logs in (USER_HELLO +
// USER_LOGIN, password in clear), lists (its LIST_RESPONSE shape), talks with
// standard users both ways (its MSG_DIRECT names the recipient in the
// payload; what it receives carries DER keys and payload.sender). Failed
// logins are limited per connection and per name; accounts survive a restart.
#include "socpd_test.h"
#include "socp/socp_account.h"

#include <stdlib.h>
#include <string.h>

#define ALICE "11111111-1111-4111-8111-111111111111"

// Sends a frame the way Impl14's client writes it: no from / to / sig.
static void
s_send_bare(sd_client_t *c, const char *type, json_t *payload)
{
    json_t *f = json_pack("{s:s, s:I, s:o}", "type", type, "ts", (json_int_t) socp_wall_ms(),
                          "payload", payload);
    char *text = json_dumps(f, JSON_COMPACT);
    json_decref(f);
    sd_send_raw(c, text, strlen(text));
    free(text);
}

static void
s_login(sd_client_t *c, const char *name, const char *password)
{
    char hello[512];
    snprintf(hello, sizeof hello,
             "{\"type\":\"USER_HELLO\",\"from\":\"%s\",\"to\":\"\",\"ts\":%lld,"
             "\"payload\":{\"client\":\"cli-v1\"}}",
             name, (long long) socp_wall_ms());
    sd_send_raw(c, hello, strlen(hello));
    socp_envelope_t e;
    CHECK_OK(sd_recv(c, "USER_HELLO_ACK", 5000, &e));
    socp_envelope_fini(&e);
    s_send_bare(c, "USER_LOGIN", json_pack("{s:s, s:s}", "user_id", name, "password", password));
}

// Registers the account `name` (c's key) on connection c.
static void
s_register_on(sd_client_t *c, const char *name, const char *pw)
{
    char *pake = NULL;
    CHECK_OK(socp_account_pake_make(pw, strlen(pw), NULL, &pake));
    s_send_bare(c, "USER_REGISTER",
                json_pack("{s:s, s:s, s:s, s:s}", "user_id", name, "pubkey", c->pub,
                          "privkey_store",
                          "{\"salt\":\"c2FsdA\",\"nonce\":\"bm9uY2U\",\"blob\":\"eA\"}",
                          "pake_password", pake));
    free(pake);
    socp_envelope_t e;
    CHECK_OK(sd_recv(c, "USER_REGISTERED", 5000, &e));
    CHECK_STREQ(json_string_value(json_object_get(e.payload, "user_id")), name);
    socp_envelope_fini(&e);
}

// Opens a connection as `name` (key `fixture`), registering the account.
static void
s_register(sd_client_t *c, uint16_t port, const char *name, const char *fixture, const char *pw)
{
    sd_client_open(c, port, name, fixture);
    s_register_on(c, name, pw);
}

static const json_t *
s_listed(const socp_envelope_t *e, const char *uid)
{
    size_t i;
    json_t *u;
    json_array_foreach(json_object_get(e->payload, "users"), i, u)
    {
        if (strcmp(json_string_value(json_object_get(u, "user_id")), uid) == 0) {
            return u;
        }
    }
    return NULL;
}

SOCP_TEST_T(socpd_account_register_login_and_talk, 90)
{
    sd_server_t s;
    sd_server_start(&s, "s", "rsa4096_4p_a.pem", NULL);
    sd_client_t b, a;
    s_register(&b, s.port, "bob", "rsa4096_2p_b.pem", "hunter2");
    s_login(&b, "bob", "wrong");
    sd_expect_error(&b, "BAD_KEY", 5000);
    s_send_bare(&b, "USER_LOGIN", json_pack("{s:s, s:s}", "user_id", "bob", "password", "hunter2"));
    socp_envelope_t e;
    CHECK_OK(sd_recv(&b, "USER_LOGGED_IN", 5000, &e));
    CHECK_STREQ(json_string_value(json_object_get(e.payload, "user_id")), "bob");
    CHECK(strstr(json_string_value(json_object_get(e.payload, "privkey_store")), "bm9uY2U"));
    socp_envelope_fini(&e);

    // Alice, a standard user with a PEM key: bob hears of her with her key
    // as DER (the only form his client parses); she sees his advert.
    sd_client_hello_ex(&a, s.port, ALICE, "rsa4096_2p_a.pem", SOCP_RSA_PUB_B64_PEM, true);
    char *alice_der = NULL;
    CHECK_OK(socp_rsa_public_export(a.key, SOCP_RSA_PUB_B64_DER, &alice_der));
    CHECK_OK(sd_recv(&b, "USER_ADDED", 5000, &e));
    CHECK_STREQ(json_string_value(json_object_get(e.payload, "user_id")), ALICE);
    CHECK_STREQ(json_string_value(json_object_get(e.payload, "pubkey")), alice_der);
    socp_envelope_fini(&e);
    CHECK_OK(sd_recv(&a, "PUBLIC_CHANNEL_UPDATED", 5000, &e));
    socp_envelope_fini(&e);
    s_send_bare(&b, "LIST_REQUEST", json_object());
    CHECK_OK(sd_recv(&b, "LIST_RESPONSE", 5000, &e));
    const json_t *la = s_listed(&e, ALICE);
    CHECK(la != NULL);
    CHECK_STREQ(json_string_value(json_object_get(la, "pubkey")), alice_der);
    CHECK(json_is_true(json_object_get(la, "online_local")));
    CHECK(s_listed(&e, "bob") != NULL);
    socp_envelope_fini(&e);

    // Bob -> Alice, Impl14's MSG_DIRECT: recipient and sender in the payload.
    s_send_bare(&b, "MSG_DIRECT",
                json_pack("{s:s, s:s, s:s, s:s, s:s}", "to", ALICE, "sender", "bob", "ciphertext",
                          "ZnJvbS1ib2I", "sender_pub", b.pub, "content_sig", "eA"));
    CHECK_OK(sd_recv(&a, "USER_DELIVER", 5000, &e));
    CHECK_STREQ(json_string_value(json_object_get(e.payload, "sender")), "bob");
    CHECK_STREQ(json_string_value(json_object_get(e.payload, "ciphertext")), "ZnJvbS1ib2I");
    socp_envelope_fini(&e);
    // ... and he cannot send as somebody else.
    s_send_bare(&b, "MSG_DIRECT",
                json_pack("{s:s, s:s, s:s, s:s, s:s}", "to", ALICE, "sender", ALICE, "ciphertext",
                          "Zm9yZ2Vk", "sender_pub", b.pub, "content_sig", "eA"));
    sd_expect_error(&b, "INVALID_SIG", 5000);

    // Alice -> Bob: a DM and a public message, sender_pub as DER, sender named.
    int64_t ts = socp_wall_ms();
    sd_send(&a, "MSG_DIRECT", "bob", ts, sd_dm_payload(&a, "bob", ts, "dG8tYm9i"), true);
    CHECK_OK(sd_recv(&b, "USER_DELIVER", 5000, &e));
    CHECK_STREQ(json_string_value(json_object_get(e.payload, "sender")), ALICE);
    CHECK_STREQ(json_string_value(json_object_get(e.payload, "sender_pub")), alice_der);
    socp_envelope_fini(&e);
    ts = socp_wall_ms();
    char *csig = sd_content_sig(&a, NULL, ts, "cHVibGlj");
    sd_send(&a, "MSG_PUBLIC_CHANNEL", "bob", ts,
            json_pack("{s:s, s:s, s:s, s:s}", "ciphertext", "cHVibGlj", "sender_pub", a.pub,
                      "content_sig", csig, "group", "public"),
            true);
    free(csig);
    CHECK_OK(sd_recv(&b, "MSG_PUBLIC_CHANNEL", 5000, &e));
    CHECK_STREQ(json_string_value(json_object_get(e.payload, "sender")), ALICE);
    CHECK_STREQ(json_string_value(json_object_get(e.payload, "sender_pub")), alice_der);
    socp_envelope_fini(&e);

    // Alice leaves: bob hears USER_REMOVED.
    sd_client_close(&a);
    CHECK_OK(sd_recv(&b, "USER_REMOVED", 5000, &e));
    CHECK_STREQ(json_string_value(json_object_get(e.payload, "user_id")), ALICE);
    socp_envelope_fini(&e);
    free(alice_der);
    sd_client_close(&b);
    sd_server_stop(&s);
}

SOCP_TEST_T(socpd_account_bad_logins, 90)
{
    sd_server_t s;
    sd_server_start(&s, "s", "rsa4096_4p_a.pem", NULL);
    sd_client_t b, x;
    s_register(&b, s.port, "bob", "rsa4096_2p_b.pem", "hunter2");
    sd_client_close(&b);
    // The name is taken, for an account and for a standard hello with
    // another key; an unknown account is not found.
    s_register(&x, s.port, "carol", "rsa4096_2p_a.pem", "pw");
    s_send_bare(&x, "USER_REGISTER",
                json_pack("{s:s, s:s, s:s, s:s}", "user_id", "bob", "pubkey", x.pub,
                          "privkey_store", "{}", "pake_password", "c2FsdA.eA"));
    sd_expect_error(&x, "BAD_KEY", 5000); // a pake_password that is not one
    char *pake = NULL;
    CHECK_OK(socp_account_pake_make("pw", 2, NULL, &pake));
    s_send_bare(&x, "USER_REGISTER",
                json_pack("{s:s, s:s, s:s, s:s}", "user_id", "bob", "pubkey", x.pub,
                          "privkey_store", "{}", "pake_password", pake));
    free(pake);
    sd_expect_error(&x, "NAME_IN_USE", 5000);
    s_send_bare(&x, "USER_LOGIN", json_pack("{s:s, s:s}", "user_id", "nobody", "password", "pw"));
    sd_expect_error(&x, "USER_NOT_FOUND", 5000);
    sd_client_close(&x);

    // Three wrong passwords close the connection.
    sd_client_open(&x, s.port, "bob", "rsa4096_2p_b.pem");
    for (int i = 0; i < 3; i++) {
        s_send_bare(&x, "USER_LOGIN",
                    json_pack("{s:s, s:s}", "user_id", "bob", "password", "guess"));
        sd_expect_error(&x, "BAD_KEY", 5000);
    }
    CHECK(sd_closed_within(&x, 3000));
    sd_client_close(&x);
    // Two more on a new connection: five for the name in a minute. Now even
    // the right password waits.
    sd_client_open(&x, s.port, "bob", "rsa4096_2p_b.pem");
    for (int i = 0; i < 2; i++) {
        s_send_bare(&x, "USER_LOGIN",
                    json_pack("{s:s, s:s}", "user_id", "bob", "password", "guess"));
        sd_expect_error(&x, "BAD_KEY", 5000);
    }
    s_send_bare(&x, "USER_LOGIN", json_pack("{s:s, s:s}", "user_id", "bob", "password", "hunter2"));
    sd_expect_error(&x, "TIMEOUT", 5000);
    sd_client_close(&x);

    // After a restart (the limit is in memory) the account is still there.
    sd_server_stop(&s);
    sd_server_start(&s, "s", "rsa4096_4p_a.pem", NULL);
    sd_client_open(&x, s.port, "bob", "rsa4096_2p_b.pem");
    s_login(&x, "bob", "hunter2");
    socp_envelope_t e;
    CHECK_OK(sd_recv(&x, "USER_LOGGED_IN", 5000, &e));
    socp_envelope_fini(&e);
    // A hello for the account's id, even with its key, only leads to a
    // login: nothing is delivered before the password.
    sd_client_t y;
    sd_client_hello_ex(&y, s.port, "bob", "rsa4096_2p_b.pem", SOCP_RSA_PUB_B64_DER, false);
    CHECK_OK(sd_recv(&y, "USER_HELLO_ACK", 5000, &e));
    socp_envelope_fini(&e);
    int64_t ts = socp_wall_ms();
    sd_send(&y, "MSG_DIRECT", ALICE, ts, sd_dm_payload(&y, ALICE, ts, "eA"), true);
    sd_expect_error(&y, "UNKNOWN_TYPE", 5000);
    sd_client_close(&y);
    sd_client_close(&x);
    sd_server_stop(&s);
}

// A person at Impl14's prompt connects, then types /register: the silent
// socket waits --idle-hello-ms while few sockets are silent, and only
// --hello-timeout-ms once more than 64 are (a flood is shed fast).
SOCP_TEST_T(socpd_account_idle_socket_waits_for_a_person, 60)
{
    const char *extra[] = {"--hello-timeout-ms", "200", "--idle-hello-ms", "2500", NULL};
    sd_server_t s;
    sd_server_start(&s, "s", "rsa4096_4p_a.pem", extra);
    sd_client_t b;
    sd_client_open(&b, s.port, "bob", "rsa4096_2p_b.pem");
    CHECK_MSG(!sd_closed_within(&b, 1000), "a lone silent socket was closed within 1 s");
    s_register_on(&b, "bob", "pw"); // the person typed /register: still served
    sd_client_close(&b);

    enum { N = 70 };
    sd_client_t many[N];
    for (int i = 0; i < N; i++) {
        sd_client_open(&many[i], s.port, "x", "rsa4096_2p_b.pem");
    }
    uint64_t t0 = socp_now_ms();
    for (int i = 0; i < N; i++) {
        CHECK_MSG(sd_closed_within(&many[i], 2000), "silent socket %d of %d still open", i, N);
    }
    CHECK(socp_now_ms() - t0 < 2400);
    for (int i = 0; i < N; i++) {
        sd_client_close(&many[i]);
    }
    sd_server_stop(&s);
}

// Review findings: anybody has a user's public key, so an account may not be
// registered over an existing user id (its registrant could log in as that
// user and lock them out); and a failed account attempt does not lift the
// signature requirement from the connection's later standard hello.
SOCP_TEST_T(socpd_account_cannot_shadow_a_user, 60)
{
    sd_server_t s;
    sd_server_start(&s, "s", "rsa4096_4p_a.pem", NULL);
    sd_client_t a, x;
    sd_client_hello(&a, s.port, ALICE, "rsa4096_2p_a.pem");
    socp_envelope_t e;
    CHECK_OK(sd_recv(&a, "PUBLIC_CHANNEL_UPDATED", 5000, &e));
    socp_envelope_fini(&e);
    sd_client_close(&a);

    sd_client_open(&x, s.port, "mallory", "rsa4096_2p_a.pem"); // x.pub: alice's key
    char *pake = NULL;
    CHECK_OK(socp_account_pake_make("evil", 4, NULL, &pake));
    s_send_bare(&x, "USER_REGISTER",
                json_pack("{s:s, s:s, s:s, s:s}", "user_id", ALICE, "pubkey", x.pub,
                          "privkey_store", "{}", "pake_password", pake));
    free(pake);
    sd_expect_error(&x, "NAME_IN_USE", 5000);
    // A failed login, then an unsigned hello as an unproven user: its
    // content frames still need a signature.
    s_send_bare(&x, "USER_LOGIN", json_pack("{s:s, s:s}", "user_id", "nobody", "password", "x"));
    sd_expect_error(&x, "USER_NOT_FOUND", 5000);
    sd_client_t b;
    sd_client_hello_ex(&b, s.port, "33333333-3333-4333-8333-333333333333", "rsa4096_2p_b.pem",
                       SOCP_RSA_PUB_B64_DER, false);
    CHECK_OK(sd_recv(&b, "PUBLIC_CHANNEL_UPDATED", 5000, &e));
    socp_envelope_fini(&e);
    sd_client_close(&b);
    sd_client_close(&x);
    sd_client_open(&x, s.port, "33333333-3333-4333-8333-333333333333", "rsa4096_2p_b.pem");
    s_send_bare(&x, "USER_LOGIN", json_pack("{s:s, s:s}", "user_id", "nobody", "password", "x"));
    sd_expect_error(&x, "USER_NOT_FOUND", 5000);
    sd_send(&x, "USER_HELLO", x.id, socp_wall_ms(),
            json_pack("{s:s, s:s}", "client", "t", "pubkey", x.pub), false);
    CHECK_OK(sd_recv(&x, "PUBLIC_CHANNEL_UPDATED", 5000, &e));
    socp_envelope_fini(&e);
    sd_send(&x, "MSG_DIRECT", ALICE, socp_wall_ms(), json_pack("{s:s}", "ciphertext", "eA"), false);
    sd_expect_error(&x, "INVALID_SIG", 5000);
    sd_client_close(&x);

    // Alice, who proved her key, still gets in with a signed hello.
    sd_client_hello(&a, s.port, ALICE, "rsa4096_2p_a.pem");
    CHECK_OK(sd_recv(&a, "PUBLIC_CHANNEL_UPDATED", 5000, &e));
    socp_envelope_fini(&e);
    sd_client_close(&a);
    sd_server_stop(&s);
}
