// socpd_trust_test.c: the rest of issue #12's server side: reserved ids
// compared without case and surrounding whitespace, SOCPD_PASSPHRASE gone
// from a running socpd's environment and --passphrase-file, the server id in
// the WebSocket upgrade, the replay memory module, and the expiry of ids
// nobody proved and nobody uses.
#include "socpd_test.h"
#include "socp/socp_account.h"
#include "socp/socp_json.h"
#include "socp/socp_ws.h"
#include "socp/socpd_replay.h"
#include "socp/socpd_store.h"

#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define ALICE "a11ce000-0000-4000-8000-00000000000a"

// A signed, bound hello from `id`: refused with NAME_IN_USE (reserved) and closed.
static void
s_reserved(uint16_t port, const char *id)
{
    sd_client_t x;
    sd_client_hello(&x, port, id, "rsa4096_2p_a.pem");
    socp_envelope_t e;
    CHECK_MSG(sd_recv(&x, "ERROR", 5000, &e) == 0, "'%s': no ERROR", id);
    const char *code = json_string_value(json_object_get(e.payload, "code"));
    CHECK_MSG(code && strcmp(code, "NAME_IN_USE") == 0, "'%s': ERROR %s, not NAME_IN_USE", id,
              code ? code : "?");
    socp_envelope_fini(&e);
    CHECK(sd_closed_within(&x, 3000));
    sd_client_close(&x);
}

SOCP_TEST_T(socpd_trust_reserved_ids, 60)
{
    sd_server_t s;
    sd_server_start(&s, "s", "rsa4096_4p_a.pem", NULL);
    char upper[170];
    snprintf(upper, sizeof upper, " %s", s.id);
    for (char *p = upper; *p; p++) {
        *p = (char) (*p >= 'a' && *p <= 'f' ? *p - 'a' + 'A' : *p);
    }
    const char *ids[] = {"public",
                         "PUBLIC",
                         " public",
                         "public  ",
                         "Public\xc2\xa0",     // NBSP
                         "\xe2\x80\x8bpublic", // zero-width space
                         "\xe3\x80\x80PuBlIc", // ideographic space
                         "*",
                         " * ",
                         "SYSTEM",
                         "Server",
                         s.id,
                         upper};
    for (size_t i = 0; i < SOCP_ARRAY_LEN(ids); i++) {
        s_reserved(s.port, ids[i]);
    }
    // Names that only contain one are ordinary ids.
    sd_client_t a;
    sd_client_hello(&a, s.port, "publicity", "rsa4096_2p_a.pem");
    socp_envelope_t e;
    CHECK_OK(sd_recv(&a, "PUBLIC_CHANNEL_UPDATED", 10000, &e));
    socp_envelope_fini(&e);
    sd_client_close(&a);
    sd_server_stop(&s);
}

// Sends `text` as Impl14's client does: no from / to / sig.
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

// A hello that has to wait for its address's budget waits with what its
// connection sends after it: a user's LIST_REQUEST, an account's USER_LOGIN.
SOCP_TEST_T(socpd_trust_hello_waits_with_its_frames, 60)
{
    const char *extra[] = {"--hello-rate", "1", "--hello-burst", "1", NULL};
    sd_server_t s;
    sd_server_start(&s, "s", "rsa4096_4p_a.pem", extra);
    sd_client_t a, b, c;
    sd_client_hello(&a, s.port, ALICE, "rsa4096_2p_a.pem"); // takes the one token
    socp_envelope_t e;
    CHECK_OK(sd_recv(&a, "PUBLIC_CHANNEL_UPDATED", 10000, &e));
    socp_envelope_fini(&e);
    uint64_t t0 = socp_now_ms();
    sd_client_hello(&b, s.port, "b0b00000-0000-4000-8000-00000000000b", "rsa4096_2p_b.pem");
    sd_send(&b, "LIST_REQUEST", s.id, socp_wall_ms(), json_object(), true);
    bool accepted = false, listed = false; // in either order
    while (!accepted || !listed) {
        CHECK_OK(sd_recv(&b, NULL, 10000, &e));
        accepted = accepted || strcmp(e.type, "PUBLIC_CHANNEL_UPDATED") == 0;
        if (strcmp(e.type, "LIST_RESPONSE") == 0) {
            CHECK_EQ(json_array_size(json_object_get(e.payload, "users")), 2);
            listed = true;
        }
        socp_envelope_fini(&e);
    }
    CHECK_MSG(socp_now_ms() - t0 >= 300, "the second hello did not wait for a token");
    // An account: registered (not a hello), then USER_HELLO and USER_LOGIN at once.
    sd_client_open(&c, s.port, "carol", "rsa4096_4p_b.pem");
    char *pake = NULL;
    CHECK_OK(socp_account_pake_make("pw", 2, NULL, &pake));
    s_send_bare(&c, "USER_REGISTER",
                json_pack("{s:s, s:s, s:s, s:s}", "user_id", "carol", "pubkey", c.pub,
                          "privkey_store", "{}", "pake_password", pake));
    free(pake);
    CHECK_OK(sd_recv(&c, "USER_REGISTERED", 5000, &e));
    socp_envelope_fini(&e);
    sd_client_close(&c);
    sd_client_open(&c, s.port, "carol", "rsa4096_4p_b.pem");
    char hello[256];
    snprintf(hello, sizeof hello,
             "{\"type\":\"USER_HELLO\",\"from\":\"carol\",\"to\":\"\",\"ts\":%lld,"
             "\"payload\":{\"client\":\"cli-v1\"}}",
             (long long) socp_wall_ms());
    sd_send_raw(&c, hello, strlen(hello));
    s_send_bare(&c, "USER_LOGIN", json_pack("{s:s, s:s}", "user_id", "carol", "password", "pw"));
    CHECK_OK(sd_recv(&c, "USER_HELLO_ACK", 10000, &e));
    socp_envelope_fini(&e);
    CHECK_OK(sd_recv(&c, "USER_LOGGED_IN", 10000, &e));
    socp_envelope_fini(&e);
    sd_client_close(&c);
    sd_client_close(&b);
    sd_client_close(&a);
    sd_server_stop(&s);
}

// Reads /proc/<pid>/environ (NUL-separated) into a string where NULs are '\n'.
static char *
s_environ(int pid)
{
    char path[64];
    snprintf(path, sizeof path, "/proc/%d/environ", pid);
    size_t len = 0;
    uint8_t *data = socp_test_read_file(path, &len);
    for (size_t i = 0; i < len; i++) {
        data[i] = data[i] ? data[i] : '\n';
    }
    return (char *) data;
}

static int
s_start(const char *dir, const char *const extra[], int *fd)
{
    char keypath[2048];
    snprintf(keypath, sizeof keypath, "%s/tests/fixtures/rsa4096_4p_a.pem", socp_test_srcdir());
    const char *args[16] = {"--port",       "0",     "--data-dir",  dir,
                            "--import-key", keypath, "--log-level", "error"};
    size_t n = 8;
    for (size_t i = 0; extra && extra[i]; i++) {
        args[n++] = extra[i];
    }
    args[n] = NULL;
    return socp_test_spawn("socpd", args, fd);
}

// SOCPD_PASSPHRASE is read, then gone from the environment of the running
// server (not just unset: /proc/PID/environ shows the original block); the
// same key opens from --passphrase-file; a wrong one does not.
SOCP_TEST_T(socpd_trust_passphrase_env_and_file, 90)
{
    char dir[2048], passfile[2048];
    snprintf(dir, sizeof dir, "%s/s", socp_test_tmpdir());
    snprintf(passfile, sizeof passfile, "%s/pass", socp_test_tmpdir());
    static const char secret[] = "tr0ub4dor-and-3-horses";
    CHECK(setenv("SOCPD_PASSPHRASE", secret, 1) == 0);
    CHECK(setenv("SOCPD_TEST_MARKER", "still-here", 1) == 0);
    int fd = -1;
    int pid = s_start(dir, NULL, &fd);
    CHECK(pid > 0);
    char line[512];
    CHECK_MSG(socp_test_read_line(fd, line, sizeof line, 30000) > 0, "socpd did not start");
    CHECK(strncmp(line, "listening ", 10) == 0);
    char *env = s_environ(pid);
    CHECK_MSG(strstr(env, "SOCPD_TEST_MARKER=still-here") != NULL, "environ not readable");
    CHECK_MSG(strstr(env, "SOCPD_PASSPHRASE") == NULL, "SOCPD_PASSPHRASE still in the environment");
    CHECK_MSG(strstr(env, secret) == NULL, "the passphrase is still in the environment");
    free(env);
    CHECK_EQ(socp_test_stop(pid, SIGTERM, 5000), 0);
    close(fd);
    CHECK(unsetenv("SOCPD_PASSPHRASE") == 0);

    // The key was stored encrypted with it: --passphrase-file opens it.
    int pf = open(passfile, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    CHECK(pf >= 0);
    CHECK(write(pf, secret, strlen(secret)) == (ssize_t) strlen(secret));
    CHECK(write(pf, "\n", 1) == 1);
    close(pf);
    const char *with_file[] = {"--passphrase-file", passfile, NULL};
    pid = s_start(dir, with_file, &fd);
    CHECK_MSG(socp_test_read_line(fd, line, sizeof line, 30000) > 0,
              "socpd did not start with --passphrase-file");
    CHECK(strncmp(line, "listening ", 10) == 0);
    CHECK_EQ(socp_test_stop(pid, SIGTERM, 5000), 0);
    close(fd);
    // A wrong passphrase: no start.
    pf = open(passfile, O_WRONLY | O_TRUNC);
    CHECK(pf >= 0);
    CHECK(write(pf, "wrong\n", 6) == 6);
    close(pf);
    pid = s_start(dir, with_file, &fd);
    CHECK(socp_test_read_line(fd, line, sizeof line, 30000) < 0);
    CHECK_EQ(socp_test_stop(pid, 0, 10000), 1);
    close(fd);
    // --help documents it.
    const char *help[] = {"--help", NULL};
    pid = socp_test_spawn("socpd", help, &fd);
    bool found = false;
    while (socp_test_read_line(fd, line, sizeof line, 5000) > 0) {
        found = found || strstr(line, "--passphrase-file") != NULL;
    }
    CHECK_EQ(socp_test_stop(pid, 0, 5000), 0);
    close(fd);
    CHECK(found);
}

// socpd names itself in the upgrade; a client keeps one valid SOCP-Server-Id.
SOCP_TEST_T(socpd_trust_server_id_header, 30)
{
    static const char accept[] = "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=";
    char id[SOCP_WS_SERVER_ID_MAX];
    socp_buf_t b;
    socp_buf_init(&b);
    socp_ws_handshake_response_ex(&b, 0, accept, "5e7e7e7e-0000-4000-8000-000000000001");
    CHECK_OK(socp_ws_handshake_parse_response_ex(b.data, b.len, accept, id));
    CHECK_STREQ(id, "5e7e7e7e-0000-4000-8000-000000000001");
    socp_buf_reset(&b);
    socp_ws_handshake_response_ex(&b, 0, accept, "two words"); // not a valid value: left out
    CHECK_OK(socp_ws_handshake_parse_response_ex(b.data, b.len, accept, id));
    CHECK_STREQ(id, "");
    socp_buf_fini(&b);
    const char *twice =
        "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
        "Connection: Upgrade\r\nSec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n"
        "SOCP-Server-Id: a\r\nsocp-server-id: b\r\n\r\n";
    CHECK_OK(
        socp_ws_handshake_parse_response_ex((const uint8_t *) twice, strlen(twice), accept, id));
    CHECK_STREQ(id, ""); // ambiguous: ignored, the upgrade still succeeds
    // A real socpd.
    sd_server_t s;
    sd_server_start(&s, "s", "rsa4096_4p_a.pem", NULL);
    sd_client_t c;
    sd_client_open(&c, s.port, ALICE, "rsa4096_2p_a.pem");
    CHECK_STREQ(c.server_id, s.id);
    sd_client_close(&c);
    sd_server_stop(&s);
}

// The replay memory: recorded until its expiry, a replay refused, expired
// records replaced and swept, kept across a close, a damaged one set aside.
SOCP_TEST_T(socpd_trust_replay_memory, 30)
{
    const char *dir = socp_test_tmpdir();
    socpd_replay_t *r = NULL;
    int64_t lost = -1;
    CHECK_OK(socpd_replay_open(dir, 16, &lost, &r));
    CHECK_EQ(lost, 0);
    uint8_t k1[SOCPD_REPLAY_KEY_BYTES], k2[SOCPD_REPLAY_KEY_BYTES];
    json_t *p = json_pack("{s:s, s:i}", "ciphertext", "eA", "ts", 5);
    CHECK_OK(socpd_replay_key("socp-frame", p, NULL, NULL, NULL, 0, k1));
    CHECK_OK(socpd_replay_key("socp-hello", p, NULL, NULL, NULL, 0, k2));
    CHECK(memcmp(k1, k2, sizeof k1) != 0); // tags keep hellos and frames apart
    // Key order and spacing do not change the digest.
    json_t *q = NULL;
    const char *spaced = "{ \"ts\": 5, \"ciphertext\": \"eA\" }";
    CHECK_OK(socp_json_parse(spaced, strlen(spaced), 32, &q));
    uint8_t k3[SOCPD_REPLAY_KEY_BYTES];
    CHECK_OK(socpd_replay_key("socp-frame", q, NULL, NULL, NULL, 0, k3));
    CHECK_MEMEQ(k1, k3, sizeof k1);
    json_decref(q);
    json_decref(p);
    CHECK_OK(socpd_replay_check_and_add(r, k1, 2000, 1000, false));
    CHECK_RC(socpd_replay_check_and_add(r, k1, 2000, 1500, false), SOCP_EREPLAY);
    CHECK_RC(socpd_replay_check_and_add(r, k1, 9000, 1999, true), SOCP_EREPLAY);
    CHECK_OK(socpd_replay_check_and_add(r, k2, 3000, 1000, true));
    CHECK_EQ(socpd_replay_count(r), 2);
    // Past its expiry a record no longer matches and is replaced.
    CHECK_OK(socpd_replay_check_and_add(r, k1, 5000, 2000, false));
    CHECK_RC(socpd_replay_check_and_add(r, k1, 5000, 4999, false), SOCP_EREPLAY);
    // The sweep deletes what expired, oldest first, and nothing else.
    CHECK_EQ(socpd_replay_sweep(r, 3000, 100), 1); // k2
    CHECK_EQ(socpd_replay_count(r), 1);
    socpd_replay_close(&r);
    CHECK_OK(socpd_replay_open(dir, 16, &lost, &r));
    CHECK_EQ(lost, 0);
    CHECK_RC(socpd_replay_check_and_add(r, k1, 5000, 4000, false), SOCP_EREPLAY);
    CHECK_EQ(socpd_replay_sweep(r, 6000, 100), 1);
    CHECK_EQ(socpd_replay_count(r), 0);
    socpd_replay_close(&r);
    // Damaged: set aside, and the caller is told since when nothing is known.
    char path[2048];
    snprintf(path, sizeof path, "%s/replay.lmdb/data.mdb", dir);
    int fd = open(path, O_WRONLY | O_TRUNC);
    CHECK(fd >= 0);
    CHECK(write(fd, "garbage, not an LMDB file", 25) == 25);
    close(fd);
    int64_t before = socp_wall_ms();
    CHECK_OK(socpd_replay_open(dir, 16, &lost, &r));
    CHECK(lost >= before);
    CHECK_OK(socpd_replay_check_and_add(r, k1, 5000, 4000, false));
    socpd_replay_close(&r);
}

// Ids only ever claimed (unsigned hellos) and unused past the TTL are
// forgotten, with their channel membership; proven ids are kept.
SOCP_TEST_T(socpd_trust_expire_unproven, 30)
{
    socpd_store_t *st = NULL;
    CHECK_OK(socpd_store_open(socp_test_tmpdir(), 16, &st));
    const char *key1 = "a2V5LW9uZQ", *key2 = "a2V5LXR3bw";
    CHECK_OK(socpd_store_user_bind(st, "claimed-1", key1, key1, "{}", false, NULL));
    CHECK_OK(socpd_store_user_bind(st, "proven", key1, key1, "{}", true, NULL));
    CHECK_OK(socpd_store_user_bind(st, "claimed-2", key1, key1, "{}", false, NULL));
    uint64_t version = socpd_store_public_version(st);
    char cursor[SOCPD_STORE_CURSOR_MAX] = "";
    size_t removed = 0, total = 0;
    bool done = false;
    // Used just now: a TTL ending yesterday forgets nothing.
    CHECK_OK(
        socpd_store_expire_unproven(st, socp_wall_ms() - 86400000, 10, cursor, &removed, &done));
    CHECK(done);
    CHECK_EQ(removed, 0);
    CHECK_EQ(socpd_store_user_count(st), 3);
    // A TTL ending after their last use: one record per step.
    cursor[0] = '\0';
    int steps = 0;
    do {
        CHECK_OK(
            socpd_store_expire_unproven(st, socp_wall_ms() + 1000, 1, cursor, &removed, &done));
        total += removed;
        steps++;
    } while (!done && steps < 10);
    CHECK(done);
    CHECK_EQ(total, 2);
    CHECK_EQ(socpd_store_user_count(st), 1);
    CHECK(socpd_store_public_version(st) > version);
    socpd_store_user_t u;
    CHECK_OK(socpd_store_user_get(st, "proven", &u));
    CHECK(u.proven);
    socpd_store_user_fini(&u);
    CHECK_RC(socpd_store_user_get(st, "claimed-1", &u), SOCP_ENOTFOUND);
    // A forgotten id may be bound again, to any key; the proven one may not.
    CHECK_OK(socpd_store_user_bind(st, "claimed-1", key2, key2, "{}", false, NULL));
    CHECK_RC(socpd_store_user_bind(st, "proven", key2, key2, "{}", false, NULL), SOCP_EEXIST);
    socpd_store_close(&st);
}
