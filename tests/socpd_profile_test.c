// socpd_profile_test.c: socpd serves the SOCP network that exists with its
// default flags: unsigned USER_HELLOs (the standard's section 7.1) without
// losing what a signed one proved, and every user key relayed byte for byte
// as its owner presented it (DER or PEM), also after a restart.
#include "socpd_test.h"
#include "socp/socp_sig.h"

#include <stdlib.h>
#include <string.h>

#define ALICE "11111111-1111-4111-8111-111111111111"
#define BOB   "22222222-2222-4222-8222-222222222222"
#define CAROL "33333333-3333-4333-8333-333333333333"

static void
s_accepted(sd_client_t *c)
{
    socp_envelope_t e;
    CHECK_MSG(sd_recv(c, "PUBLIC_CHANNEL_UPDATED", 10000, &e) == 0, "%s not accepted", c->id);
    socp_envelope_fini(&e);
}

// The key an advert for `uid` carries in meta.pubkey (and payload.pubkey).
static void
s_expect_advert_key(sd_client_t *c, const char *uid, const char *want)
{
    socp_envelope_t e;
    for (;;) {
        CHECK_MSG(sd_recv(c, "USER_ADVERTISE", 5000, &e) == 0, "no advert for %s", uid);
        if (strcmp(json_string_value(json_object_get(e.payload, "user_id")), uid) == 0) {
            break;
        }
        socp_envelope_fini(&e);
    }
    CHECK_STREQ(json_string_value(json_object_get(json_object_get(e.payload, "meta"), "pubkey")),
                want);
    CHECK_STREQ(json_string_value(json_object_get(e.payload, "pubkey")), want);
    socp_envelope_fini(&e);
}

static const char *
s_listed_key(const socp_envelope_t *e, const char *uid)
{
    size_t i;
    json_t *u;
    json_array_foreach(json_object_get(e->payload, "users"), i, u)
    {
        if (strcmp(json_string_value(json_object_get(u, "user_id")), uid) == 0) {
            return json_string_value(json_object_get(u, "pubkey"));
        }
    }
    return NULL;
}

// A spec client that does not sign its hello and speaks PEM (what the most
// faithful deployed client does) is served with the default flags; its key
// reaches everybody exactly as it sent it, and so does a DER key.
SOCP_TEST_T(socpd_profile_unsigned_hello_and_keys_as_presented, 60)
{
    sd_server_t s;
    sd_server_start(&s, "s1", "rsa4096_4p_a.pem", NULL);
    sd_client_t a, b;
    sd_client_hello_ex(&a, s.port, ALICE, "rsa4096_2p_a.pem", SOCP_RSA_PUB_B64_DER, true);
    s_accepted(&a);
    sd_client_hello_ex(&b, s.port, BOB, "rsa4096_2p_b.pem", SOCP_RSA_PUB_B64_PEM, false);
    CHECK(strncmp(b.pub, "LS0tLS1CRUdJTi", 14) == 0); // b64url("-----BEGIN")
    // The newcomer learns who is there before its acceptance; the others
    // learn the newcomer.
    s_expect_advert_key(&b, ALICE, a.pub);
    s_accepted(&b);
    s_expect_advert_key(&a, BOB, b.pub);

    socp_envelope_t e;
    sd_send(&a, "LIST_REQUEST", s.id, socp_wall_ms(), json_object(), true);
    CHECK_OK(sd_recv(&a, "LIST_RESPONSE", 5000, &e));
    CHECK_STREQ(s_listed_key(&e, BOB), b.pub);
    CHECK_STREQ(s_listed_key(&e, ALICE), a.pub);
    socp_envelope_fini(&e);

    // The unsigned-hello user's DM (signed, as the standard requires) is
    // delivered with its sender_pub untouched.
    int64_t ts = socp_wall_ms();
    sd_send(&b, "MSG_DIRECT", ALICE, ts, sd_dm_payload(&b, ALICE, ts, "aGk"), true);
    CHECK_OK(sd_recv(&a, "USER_DELIVER", 5000, &e));
    CHECK_STREQ(json_string_value(json_object_get(e.payload, "sender")), BOB);
    CHECK_STREQ(json_string_value(json_object_get(e.payload, "sender_pub")), b.pub);
    socp_envelope_fini(&e);
    // Content frames still need a sig without --allow-unsigned.
    sd_send(&b, "MSG_DIRECT", ALICE, ts, json_pack("{s:s}", "ciphertext", "eA"), false);
    sd_expect_error(&b, "INVALID_SIG", 5000);

    // After a restart Bob, who never signed, is served again, and a newcomer
    // gets his key as he presented it.
    sd_client_close(&a);
    sd_client_close(&b);
    sd_server_stop(&s);
    sd_server_start(&s, "s1", "rsa4096_4p_a.pem", NULL);
    sd_client_hello_ex(&b, s.port, BOB, "rsa4096_2p_b.pem", SOCP_RSA_PUB_B64_PEM, false);
    s_accepted(&b);
    sd_client_hello(&a, s.port, ALICE, "rsa4096_2p_a.pem");
    s_expect_advert_key(&a, BOB, b.pub);
    s_accepted(&a);
    sd_client_close(&a);
    sd_client_close(&b);
    sd_server_stop(&s);
}

// An id whose key was proven by a signed hello cannot be taken by an
// unsigned one, even with the right public key (anyone has it), and the
// proof survives a restart. An id that never proved anything can upgrade.
SOCP_TEST_T(socpd_profile_proven_id_needs_proof, 60)
{
    sd_server_t s;
    sd_server_start(&s, "s1", "rsa4096_4p_a.pem", NULL);
    sd_client_t a, x;
    sd_client_hello(&a, s.port, ALICE, "rsa4096_2p_a.pem");
    s_accepted(&a);
    sd_client_close(&a);

    sd_client_hello_ex(&x, s.port, ALICE, "rsa4096_2p_a.pem", SOCP_RSA_PUB_B64_DER, false);
    sd_expect_error(&x, "INVALID_SIG", 5000);
    CHECK(sd_closed_within(&x, 3000));
    sd_client_close(&x);
    // The same in PEM form: still the same key, still needs proof.
    sd_client_hello_ex(&x, s.port, ALICE, "rsa4096_2p_a.pem", SOCP_RSA_PUB_B64_PEM, false);
    sd_expect_error(&x, "INVALID_SIG", 5000);
    sd_client_close(&x);

    // Carol never signs: unsigned hellos keep working for her id, and a
    // different key is still refused.
    sd_client_hello_ex(&x, s.port, CAROL, "rsa4096_2p_b.pem", SOCP_RSA_PUB_B64_PEM, false);
    s_accepted(&x);
    sd_client_close(&x);
    sd_client_hello_ex(&x, s.port, CAROL, "rsa4096_2p_b.pem", SOCP_RSA_PUB_B64_PEM, false);
    s_accepted(&x);
    sd_client_close(&x);
    sd_client_hello_ex(&x, s.port, CAROL, "rsa4096_4p_b.pem", SOCP_RSA_PUB_B64_PEM, false);
    sd_expect_error(&x, "BAD_KEY", 5000);
    sd_client_close(&x);
    // Once Carol signs a hello, her id is proven too.
    sd_client_hello_ex(&x, s.port, CAROL, "rsa4096_2p_b.pem", SOCP_RSA_PUB_B64_DER, true);
    s_accepted(&x);
    sd_client_close(&x);

    sd_server_stop(&s);
    sd_server_start(&s, "s1", "rsa4096_4p_a.pem", NULL);
    const char *ids[] = {ALICE, CAROL};
    const char *keys[] = {"rsa4096_2p_a.pem", "rsa4096_2p_b.pem"};
    for (size_t i = 0; i < 2; i++) {
        sd_client_hello_ex(&x, s.port, ids[i], keys[i], SOCP_RSA_PUB_B64_DER, false);
        sd_expect_error(&x, "INVALID_SIG", 5000);
        sd_client_close(&x);
    }
    sd_client_hello(&a, s.port, ALICE, "rsa4096_2p_a.pem");
    s_accepted(&a);
    sd_client_close(&a);
    sd_server_stop(&s);
}

// --pub-format pem: the server publishes its key as base64url(PEM), and what
// it signs verifies under that key.
SOCP_TEST_T(socpd_profile_server_key_as_pem, 60)
{
    const char *extra[] = {"--pub-format", "pem", NULL};
    sd_server_t s;
    sd_server_start(&s, "s1", "rsa4096_4p_a.pem", extra);
    sd_client_t a;
    sd_client_hello(&a, s.port, ALICE, "rsa4096_2p_a.pem");
    socp_envelope_t e;
    CHECK_OK(sd_recv(&a, "PUBLIC_CHANNEL_UPDATED", 10000, &e));
    socp_envelope_fini(&e);
    sd_send(&a, "LIST_REQUEST", s.id, socp_wall_ms(), json_object(), true);
    CHECK_OK(sd_recv(&a, "LIST_RESPONSE", 5000, &e));
    socp_envelope_fini(&e);
    sd_client_close(&a);
    sd_server_stop(&s);

    // What --print-pubkey prints in each format is the same key.
    char dir[1100];
    snprintf(dir, sizeof dir, "%s/s1", socp_test_tmpdir());
    char *out[2];
    const char *formats[] = {"der", "pem"};
    for (int i = 0; i < 2; i++) {
        const char *args[] = {"--data-dir",   dir,        "--plain-key", "--print-pubkey",
                              "--pub-format", formats[i], NULL};
        int fd = -1;
        int pid = socp_test_spawn("socpd", args, &fd);
        CHECK(pid > 0);
        char line[4096];
        CHECK(socp_test_read_line(fd, line, sizeof line, 10000) > 0);
        CHECK_EQ(socp_test_stop(pid, 0, 5000), 0);
        out[i] = strdup(line);
    }
    CHECK_STREQ(out[0], s.pubkey);
    CHECK(strncmp(out[1], "LS0tLS1CRUdJTi", 14) == 0);
    socp_rsa_key_t *k1 = NULL, *k2 = NULL;
    CHECK_OK(socp_rsa_public_import(out[0], strlen(out[0]), &k1));
    CHECK_OK(socp_rsa_public_import(out[1], strlen(out[1]), &k2));
    CHECK(socp_rsa_public_equal(k1, k2));
    socp_rsa_destroy(&k1);
    socp_rsa_destroy(&k2);
    free(out[0]);
    free(out[1]);
}
