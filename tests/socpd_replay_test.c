// socpd_replay_test.c: replays (issue #12, ADR 0015), against real socpd
// processes on loopback.
//
// A signed USER_HELLO binds its ts, the server and the user id; socpd takes
// each such hello once. A user frame is remembered by its signed payload, so
// a copy with another ts or recipient is refused; the content_sig of a DM
// authenticates from / to / ts. The memory survives kill -9. Every refusal is
// ERROR INVALID_SIG; the users the frames were captured from are unaffected.
#include "socpd_test.h"
#include "socp/socp_sig.h"
#include "socp_cli_helpers.h"

#include <signal.h>
#include <stdlib.h>
#include <string.h>

#define ALICE "a11ce000-0000-4000-8000-00000000000a"
#define BOB   "b0b00000-0000-4000-8000-00000000000b"
#define CAROL "ca201000-0000-4000-8000-00000000000c"

static void
s_accepted(sd_client_t *c)
{
    socp_envelope_t e;
    CHECK_MSG(sd_recv(c, "PUBLIC_CHANNEL_UPDATED", 10000, &e) == 0, "%s not accepted", c->id);
    socp_envelope_fini(&e);
}

static void
s_hello_ok(sd_client_t *c, uint16_t port, const char *id, const char *fixture)
{
    sd_client_hello(c, port, id, fixture);
    s_accepted(c);
}

// Sends `text` as the first frame of a new connection: it must be refused
// with INVALID_SIG and closed.
static void
s_hello_refused(uint16_t port, const char *text, const char *why)
{
    sd_client_t x;
    sd_client_open(&x, port, "attacker", "rsa4096_4p_b.pem");
    sd_send_raw(&x, text, strlen(text));
    socp_envelope_t e;
    CHECK_MSG(sd_recv(&x, "ERROR", 5000, &e) == 0, "%s: no ERROR", why);
    const char *code = json_string_value(json_object_get(e.payload, "code"));
    CHECK_MSG(code && strcmp(code, "INVALID_SIG") == 0, "%s: ERROR %s (%s)", why, code ? code : "?",
              json_string_value(json_object_get(e.payload, "detail")));
    socp_envelope_fini(&e);
    CHECK_MSG(sd_closed_within(&x, 3000), "%s: not closed", why);
    sd_client_close(&x);
}

// A bound, signed hello from a client opened on `port` as `id` (not sent).
static char *
s_hello_text(uint16_t port, const char *id, const char *fixture, int64_t ts)
{
    sd_client_t c;
    sd_client_open(&c, port, id, fixture);
    char *text = sd_frame(&c, "USER_HELLO", id, ts, sd_hello_payload(&c, ts, true), true);
    sd_client_close(&c);
    return text;
}

// The next frame of `type` that c receives is the one whose ciphertext is
// `marker`: anything of that type before it (a replay delivered) fails.
static void
s_next_is(sd_client_t *c, const char *type, const char *marker)
{
    socp_envelope_t e;
    CHECK_MSG(sd_recv(c, type, 5000, &e) == 0, "%s: no %s", c->id, type);
    const char *ct = json_string_value(json_object_get(e.payload, "ciphertext"));
    CHECK_MSG(ct && strcmp(ct, marker) == 0, "%s: got %s with ciphertext %s before %s", c->id, type,
              ct ? ct : "(none)", marker);
    socp_envelope_fini(&e);
}

// A DM from a to `to` with ciphertext `ct`, sent; waits until `rcpt` has it.
static char *
s_dm(sd_client_t *a, sd_client_t *rcpt, const char *to, const char *ct)
{
    int64_t ts = socp_wall_ms();
    char *text = sd_frame(a, "MSG_DIRECT", to, ts, sd_dm_payload(a, to, ts, ct), true);
    sd_send_raw(a, text, strlen(text));
    s_next_is(rcpt, "USER_DELIVER", ct);
    return text;
}

// A captured signed hello comes back with a new ts: while its owner is
// offline, while the owner is online, verbatim, and signed long ago. Every
// time INVALID_SIG; the owner then logs in and gets DMs as before.
SOCP_TEST_T(socpd_replay_hello_captured, 60)
{
    sd_server_t s;
    sd_server_start(&s, "s", "rsa4096_4p_a.pem", NULL);
    sd_client_t a, b;
    s_hello_ok(&b, s.port, BOB, "rsa4096_2p_b.pem");
    // Alice's hello, as an attacker on the path saw it.
    char *captured = s_hello_text(s.port, ALICE, "rsa4096_2p_a.pem", socp_wall_ms());
    sd_client_open(&a, s.port, ALICE, "rsa4096_2p_a.pem");
    sd_send_raw(&a, captured, strlen(captured));
    s_accepted(&a);

    // Owner online: a replay is refused as one (not NAME_IN_USE) ...
    char *again = sd_reframe(captured, NULL, socp_wall_ms());
    s_hello_refused(s.port, again, "replay, owner online");
    free(again);
    // ... and Alice's session goes on.
    free(s_dm(&b, &a, ALICE, "b25saW5l"));

    // Owner offline.
    sd_client_close(&a);
    socp_envelope_t e;
    CHECK_OK(sd_recv(&b, "USER_REMOVE", 5000, &e));
    socp_envelope_fini(&e);
    again = sd_reframe(captured, NULL, socp_wall_ms());
    s_hello_refused(s.port, again, "replay with a new ts, owner offline");
    free(again);
    s_hello_refused(s.port, captured, "verbatim replay");
    // A hello signed 10 minutes ago, which this server never saw.
    char *old = s_hello_text(s.port, ALICE, "rsa4096_2p_a.pem", socp_wall_ms() - 600000);
    s_hello_refused(s.port, old, "a hello signed 10 minutes ago");
    free(old);
    // An older client's hello (signed, no ts): a claim, and Alice's id is proven.
    sd_client_t x;
    sd_client_open(&x, s.port, ALICE, "rsa4096_2p_a.pem");
    char *legacy =
        sd_frame(&x, "USER_HELLO", ALICE, socp_wall_ms(), sd_hello_payload(&x, 0, false), true);
    sd_client_close(&x);
    s_hello_refused(s.port, legacy, "unbound signed hello for a proven id");
    free(legacy);
    free(captured);

    // The owner is unaffected: a fresh hello, and her DMs reach her.
    s_hello_ok(&a, s.port, ALICE, "rsa4096_2p_a.pem");
    free(s_dm(&b, &a, ALICE, "YmFjaw"));
    sd_client_close(&a);
    sd_client_close(&b);
    sd_server_stop(&s);
}

// A hello names the server and the user it is for: replayed to another
// server, or with another id, it is refused.
SOCP_TEST_T(socpd_replay_hello_other_server, 60)
{
    sd_server_t s1, s2;
    sd_server_start(&s1, "s1", "rsa4096_4p_a.pem", NULL);
    sd_server_start(&s2, "s2", "rsa4096_4p_b.pem", NULL);
    CHECK(strcmp(s1.id, s2.id) != 0);
    char *captured = s_hello_text(s1.port, ALICE, "rsa4096_2p_a.pem", socp_wall_ms());
    CHECK(strstr(captured, s1.id) != NULL); // payload.server_id, from the upgrade
    sd_client_t a;
    sd_client_open(&a, s1.port, ALICE, "rsa4096_2p_a.pem");
    sd_send_raw(&a, captured, strlen(captured));
    s_accepted(&a);
    // To a server that never saw Alice: refused (it is not the server signed for).
    char *there = sd_reframe(captured, NULL, socp_wall_ms());
    s_hello_refused(s2.port, there, "replay to another server");
    free(there);
    // With another user id (from is not signed, payload.user_id is): a hello
    // of Alice's that the server never saw (an attacker on the path can hold
    // one back), sent as Carol.
    char *held = s_hello_text(s1.port, ALICE, "rsa4096_2p_a.pem", socp_wall_ms());
    socp_envelope_t env;
    CHECK_OK(socp_envelope_parse(held, strlen(held), &env, NULL));
    free(held);
    snprintf(env.from, sizeof env.from, "%s", CAROL);
    socp_buf_t b;
    socp_buf_init(&b);
    CHECK_OK(socp_envelope_emit(&env, &b));
    socp_buf_append(&b, "", 1);
    s_hello_refused(s1.port, (const char *) b.data, "replay as another user id");
    socp_buf_fini(&b);
    socp_envelope_fini(&env);
    // s2 still takes Alice's own fresh hello, bound to it.
    sd_client_t a2;
    s_hello_ok(&a2, s2.port, ALICE, "rsa4096_2p_a.pem");
    sd_client_close(&a2);
    free(captured);
    sd_client_close(&a);
    sd_server_stop(&s1);
    sd_server_stop(&s2);
}

// kill -9, restart on the same data dir: a hello and a DM captured before
// are still refused.
SOCP_TEST_T(socpd_replay_survives_restart, 90)
{
    sd_server_t s;
    sd_server_start(&s, "s", "rsa4096_4p_a.pem", NULL);
    sd_client_t a, b;
    s_hello_ok(&b, s.port, BOB, "rsa4096_2p_b.pem");
    char *hello = s_hello_text(s.port, ALICE, "rsa4096_2p_a.pem", socp_wall_ms());
    sd_client_open(&a, s.port, ALICE, "rsa4096_2p_a.pem");
    sd_send_raw(&a, hello, strlen(hello));
    s_accepted(&a);
    char *dm = s_dm(&a, &b, BOB, "YmVmb3Jl");
    sd_server_kill9(&s);
    sd_client_close(&a);
    sd_client_close(&b);

    sd_server_start(&s, "s", "rsa4096_4p_a.pem", NULL);
    s_hello_refused(s.port, hello, "hello replayed after a restart");
    s_hello_ok(&b, s.port, BOB, "rsa4096_2p_b.pem");
    s_hello_ok(&a, s.port, ALICE, "rsa4096_2p_a.pem");
    sd_send_raw(&a, dm, strlen(dm));
    sd_expect_error(&a, "INVALID_SIG", 5000);
    free(s_dm(&a, &b, BOB, "YWZ0ZXI")); // Bob gets this one, not the replay
    free(dm);
    free(hello);
    sd_client_close(&a);
    sd_client_close(&b);
    sd_server_stop(&s);
}

// Captured user frames re-sent: the same, with ts + 1, to another user. A DM,
// a public message, file frames (whose payload signs neither ts nor
// recipient). Nothing is delivered twice or to anyone else.
SOCP_TEST_T(socpd_replay_frames, 60)
{
    sd_server_t s;
    sd_server_start(&s, "s", "rsa4096_4p_a.pem", NULL);
    sd_client_t a, b, c;
    s_hello_ok(&a, s.port, ALICE, "rsa4096_2p_a.pem");
    s_hello_ok(&b, s.port, BOB, "rsa4096_2p_b.pem");
    s_hello_ok(&c, s.port, CAROL, "rsa4096_4p_b.pem");

    char *dm = s_dm(&a, &b, BOB, "ZG0x");
    socp_envelope_t env;
    CHECK_OK(socp_envelope_parse(dm, strlen(dm), &env, NULL));
    int64_t ts = env.ts;
    socp_envelope_fini(&env);
    char *r[3] = {socp_strdup(dm), sd_reframe(dm, NULL, ts + 1), sd_reframe(dm, CAROL, ts)};
    for (size_t i = 0; i < 3; i++) {
        sd_send_raw(&a, r[i], strlen(r[i]));
        sd_expect_error(&a, "INVALID_SIG", 5000);
        free(r[i]);
    }
    free(dm);

    // Files: FILE_START and FILE_CHUNK, re-sent with ts + 1 and to Carol.
    const char *types[] = {"FILE_START", "FILE_CHUNK"};
    for (size_t t = 0; t < 2; t++) {
        ts = socp_wall_ms();
        json_t *p = t == 0 ? json_pack("{s:s, s:s, s:i, s:s, s:s}", "file_id", "f-1", "name",
                                       "a.txt", "size", 3, "sha256", "00", "mode", "dm")
                           : json_pack("{s:s, s:i, s:s}", "file_id", "f-1", "index", 0,
                                       "ciphertext", "ZmlsZQ");
        char *f = sd_frame(&a, types[t], BOB, ts, p, true);
        sd_send_raw(&a, f, strlen(f));
        CHECK_OK(sd_recv(&b, types[t], 5000, &env));
        socp_envelope_fini(&env);
        char *rf[2] = {sd_reframe(f, NULL, ts + 1), sd_reframe(f, CAROL, ts + 2)};
        for (size_t i = 0; i < 2; i++) {
            sd_send_raw(&a, rf[i], strlen(rf[i]));
            sd_expect_error(&a, "INVALID_SIG", 5000);
            free(rf[i]);
        }
        free(f);
    }

    // A public-channel message, replayed with ts + 1.
    ts = socp_wall_ms();
    char *csig = sd_content_sig(&a, NULL, ts, "cHVi");
    char *pub = sd_frame(&a, "MSG_PUBLIC_CHANNEL", "public", ts,
                         json_pack("{s:s, s:s, s:s}", "ciphertext", "cHVi", "sender_pub", a.pub,
                                   "content_sig", csig),
                         true);
    free(csig);
    sd_send_raw(&a, pub, strlen(pub));
    s_next_is(&b, "MSG_PUBLIC_CHANNEL", "cHVi");
    char *rp = sd_reframe(pub, NULL, ts + 1);
    sd_send_raw(&a, rp, strlen(rp));
    sd_expect_error(&a, "INVALID_SIG", 5000);
    free(rp);
    free(pub);

    // Fresh frames still go through, and are the first each one sees.
    free(s_dm(&a, &b, BOB, "ZnJlc2g"));
    free(s_dm(&a, &c, CAROL, "Y2Fyb2w"));
    ts = socp_wall_ms();
    sd_send(&a, "FILE_START", CAROL, ts,
            json_pack("{s:s, s:s, s:i, s:s, s:s}", "file_id", "f-2", "name", "b.txt", "size", 3,
                      "sha256", "00", "mode", "dm"),
            true);
    CHECK_OK(sd_recv(&c, "FILE_START", 5000, &env));
    CHECK_STREQ(json_string_value(json_object_get(env.payload, "file_id")), "f-2");
    socp_envelope_fini(&env);
    ts = socp_wall_ms();
    csig = sd_content_sig(&a, NULL, ts, "cHViMg");
    sd_send(&a, "MSG_PUBLIC_CHANNEL", "public", ts,
            json_pack("{s:s, s:s, s:s}", "ciphertext", "cHViMg", "sender_pub", a.pub, "content_sig",
                      csig),
            true);
    free(csig);
    s_next_is(&b, "MSG_PUBLIC_CHANNEL", "cHViMg");
    sd_client_close(&a);
    sd_client_close(&b);
    sd_client_close(&c);
    sd_server_stop(&s);
}

// The DM's content_sig covers from / to / ts: once the frame's own window
// (--max-skew-ms) is over and the server has forgotten its payload, a copy
// with a fresh envelope ts still fails that signature.
SOCP_TEST_T(socpd_replay_after_the_window, 60)
{
    const char *extra[] = {"--max-skew-ms", "1000", NULL};
    sd_server_t s;
    sd_server_start(&s, "s", "rsa4096_4p_a.pem", extra);
    sd_client_t a, b;
    s_hello_ok(&a, s.port, ALICE, "rsa4096_2p_a.pem");
    s_hello_ok(&b, s.port, BOB, "rsa4096_2p_b.pem");
    char *dm = s_dm(&a, &b, BOB, "b25jZQ");
    socp_envelope_t env;
    CHECK_OK(socp_envelope_parse(dm, strlen(dm), &env, NULL));
    int64_t ts = env.ts;
    socp_envelope_fini(&env);
    // Past the frame's window and its memory (skew + 1 s margin): keep the
    // connections served meanwhile (no sleep: wait on Bob's socket).
    while (socp_wall_ms() <= ts + 2500) {
        socp_envelope_t e;
        if (sd_recv(&b, "NONE", 100, &e) == 0) {
            socp_envelope_fini(&e);
        }
    }
    char *late = sd_reframe(dm, NULL, socp_wall_ms());
    sd_send_raw(&a, late, strlen(late));
    sd_expect_error(&a, "INVALID_SIG", 5000);
    free(late);
    free(dm);
    free(s_dm(&a, &b, BOB, "dHdpY2U")); // the next DM Bob gets is a new one
    sd_client_close(&a);
    sd_client_close(&b);
    sd_server_stop(&s);
}

// The socp client's hello proves its key: after it was online once, an
// unsigned hello with its id and key is refused.
SOCP_TEST_T(socpd_replay_client_hello_is_proof, 60)
{
    char port[16];
    int pid = socp_cli_server("s", NULL, port, sizeof port);
    uint16_t p = (uint16_t) atoi(port);
    socp_cli_t alice = socp_cli_start(port, "alice", "rsa4096_2p_a.pem", NULL);
    // Find Alice's id (the client made it) among the users the server lists.
    sd_client_t b;
    s_hello_ok(&b, p, BOB, "rsa4096_2p_b.pem");
    socp_rsa_key_t *k = sd_fixture_key("rsa4096_2p_a.pem");
    char *apub = NULL;
    CHECK_OK(socp_rsa_public_export(k, SOCP_RSA_PUB_B64_DER, &apub));
    socp_rsa_destroy(&k);
    char id[160] = "";
    uint64_t deadline = socp_now_ms() + 20000;
    while (!id[0] && socp_now_ms() < deadline) {
        socp_envelope_t e;
        if (sd_recv(&b, "USER_ADVERTISE", 500, &e) == 0) {
            const char *pk = json_string_value(json_object_get(e.payload, "pubkey"));
            const char *uid = json_string_value(json_object_get(e.payload, "user_id"));
            if (pk && uid && strcmp(pk, apub) == 0) {
                snprintf(id, sizeof id, "%s", uid);
            }
            socp_envelope_fini(&e);
        }
    }
    CHECK_MSG(id[0], "the socp client never came online");
    free(apub);
    // Alice's client leaves; her id is proven: an unsigned hello cannot take it.
    socp_cli_say(&alice, "/quit");
    socp_envelope_t e;
    CHECK_OK(sd_recv(&b, "USER_REMOVE", 10000, &e));
    socp_envelope_fini(&e);
    sd_client_t x;
    sd_client_hello_ex(&x, p, id, "rsa4096_2p_a.pem", SOCP_RSA_PUB_B64_DER, false);
    sd_expect_error(&x, "INVALID_SIG", 5000);
    sd_client_close(&x);
    sd_client_close(&b);
    CHECK_EQ(socp_test_stop(alice.pid, SIGTERM, 5000) >= 0, 1);
    CHECK_EQ(socp_test_stop(pid, SIGTERM, 5000), 0);
}
