// socpd_helper_test.c: the helpers declared in socpd_test.h (no test cases).
#include "socpd_test.h"
#include "socp/socp_b64.h"
#include "socp/socp_sig.h"

#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>

socp_rsa_key_t *
sd_fixture_key(const char *name)
{
    char path[2048];
    snprintf(path, sizeof path, "%s/tests/fixtures/%s", socp_test_srcdir(), name);
    FILE *f = fopen(path, "rb");
    CHECK_MSG(f, "cannot open %s", path);
    static uint8_t pem[16384];
    size_t len = fread(pem, 1, sizeof pem, f);
    fclose(f);
    socp_rsa_key_t *k = NULL;
    CHECK_OK(socp_rsa_private_import(pem, len, &k));
    return k;
}

void
sd_server_start(sd_server_t *s, const char *name, const char *fixture, const char *const extra[])
{
    memset(s, 0, sizeof *s);
    snprintf(s->dir, sizeof s->dir, "%s/%s", socp_test_tmpdir(), name);
    char keypath[2048];
    snprintf(keypath, sizeof keypath, "%s/tests/fixtures/%s", socp_test_srcdir(), fixture);
    // SOCPD_TEST_LOG=info|debug shows the servers' logs when debugging a case.
    const char *level = getenv("SOCPD_TEST_LOG") ? getenv("SOCPD_TEST_LOG") : "warn";
    const char *args[64] = {"--port",       "0",     "--data-dir",  s->dir, "--plain-key",
                            "--import-key", keypath, "--log-level", level};
    size_t n = 9;
    for (size_t i = 0; extra && extra[i] && n < 62; i++) {
        args[n++] = extra[i];
    }
    args[n] = NULL;
    s->pid = socp_test_spawn("socpd", args, &s->out_fd);
    CHECK(s->pid > 0);
    char line[512];
    int len = socp_test_read_line(s->out_fd, line, sizeof line, 20000);
    CHECK_MSG(len > 0, "socpd printed no listening line");
    unsigned port = 0;
    CHECK_MSG(sscanf(line, "listening ws://127.0.0.1:%u id=%159s", &port, s->id) == 2,
              "bad first line: %s", line);
    s->port = (uint16_t) port;
    socp_rsa_key_t *k = sd_fixture_key(fixture);
    char *pub = NULL;
    CHECK_OK(socp_rsa_public_export(k, SOCP_RSA_PUB_B64_DER, &pub));
    snprintf(s->pubkey, sizeof s->pubkey, "%s", pub);
    free(pub);
    socp_rsa_destroy(&k);
}

void
sd_server_stop(sd_server_t *s)
{
    if (s->pid > 0) {
        int st = socp_test_stop(s->pid, SIGTERM, 3000);
        CHECK_MSG(st == 0, "socpd exit status %d after SIGTERM", st);
        s->pid = 0;
    }
}

void
sd_server_kill9(sd_server_t *s)
{
    if (s->pid > 0) {
        (void) socp_test_stop(s->pid, SIGKILL, 3000);
        s->pid = 0;
    }
}

void
sd_client_open(sd_client_t *c, uint16_t port, const char *id, const char *fixture)
{
    memset(c, 0, sizeof *c);
    snprintf(c->id, sizeof c->id, "%s", id);
    c->key = sd_fixture_key(fixture);
    CHECK_OK(socp_rsa_public_export(c->key, SOCP_RSA_PUB_B64_DER, &c->pub));
    CHECK_OK(socp_tcp_ws_connect("127.0.0.1", port, NULL, 5000, &c->conn));
    const char *sid = socp_ws_server_id(socp_tcp_conn_ws(c->conn));
    snprintf(c->server_id, sizeof c->server_id, "%s", sid ? sid : "");
}

json_t *
sd_hello_payload(const sd_client_t *c, int64_t ts, bool bind)
{
    json_t *p = json_pack("{s:s, s:s, s:s, s:{s:s}}", "client", "socpd-test", "pubkey", c->pub,
                          "enc_pubkey", c->pub, "meta", "display_name", c->id);
    if (bind) {
        json_object_set_new(p, "ts", json_integer(ts));
        json_object_set_new(p, "user_id", json_string(c->id));
        if (c->server_id[0]) {
            json_object_set_new(p, "server_id", json_string(c->server_id));
        }
    }
    return p;
}

void
sd_client_hello_ex(sd_client_t *c,
                   uint16_t port,
                   const char *id,
                   const char *fixture,
                   socp_rsa_pub_format_t format,
                   bool sign)
{
    sd_client_open(c, port, id, fixture);
    free(c->pub);
    c->pub = NULL;
    CHECK_OK(socp_rsa_public_export(c->key, format, &c->pub));
    int64_t ts = socp_wall_ms();
    sd_send(c, "USER_HELLO", id, ts, sd_hello_payload(c, ts, sign), sign);
}

void
sd_client_hello(sd_client_t *c, uint16_t port, const char *id, const char *fixture)
{
    sd_client_hello_ex(c, port, id, fixture, SOCP_RSA_PUB_B64_DER, true);
}

void
sd_client_close(sd_client_t *c)
{
    socp_tcp_conn_destroy(&c->conn);
    socp_rsa_destroy(&c->key);
    free(c->pub);
    c->pub = NULL;
}

void
sd_send_raw(sd_client_t *c, const char *text, size_t len)
{
    CHECK_OK(socp_tcp_conn_send_text(c->conn, text, len));
    uint64_t deadline = socp_now_ms() + 5000;
    while (socp_tcp_conn_want_write(c->conn) && socp_now_ms() < deadline) {
        if (socp_tcp_conn_pump(c->conn, 20) != 0) {
            break;
        }
    }
}

char *
sd_frame(const sd_client_t *c,
         const char *type,
         const char *to,
         int64_t ts,
         json_t *payload,
         bool sign)
{
    socp_envelope_t env;
    CHECK_OK(socp_envelope_init(&env, type, c->id, to, ts, payload));
    json_decref(payload);
    if (sign) {
        char *sig = NULL;
        CHECK_OK(socp_sig_sign_payload(c->key, SOCP_RSA_SALT_32, env.payload, &sig));
        CHECK_OK(socp_envelope_set_sig(&env, sig));
        free(sig);
    }
    socp_buf_t b;
    socp_buf_init(&b);
    CHECK_OK(socp_envelope_emit(&env, &b));
    char *text = socp_malloc(b.len + 1);
    memcpy(text, b.data, b.len);
    text[b.len] = '\0';
    socp_buf_fini(&b);
    socp_envelope_fini(&env);
    return text;
}

char *
sd_reframe(const char *text, const char *to, int64_t ts)
{
    socp_envelope_t env;
    CHECK_OK(socp_envelope_parse(text, strlen(text), &env, NULL));
    if (to) {
        snprintf(env.to, sizeof env.to, "%s", to);
    }
    env.ts = ts;
    socp_buf_t b;
    socp_buf_init(&b);
    CHECK_OK(socp_envelope_emit(&env, &b));
    char *out = socp_malloc(b.len + 1);
    memcpy(out, b.data, b.len);
    out[b.len] = '\0';
    socp_buf_fini(&b);
    socp_envelope_fini(&env);
    return out;
}

void
sd_send(sd_client_t *c, const char *type, const char *to, int64_t ts, json_t *payload, bool sign)
{
    char *text = sd_frame(c, type, to, ts, payload, sign);
    sd_send_raw(c, text, strlen(text));
    free(text);
}

char *
sd_content_sig(sd_client_t *c, const char *to, int64_t ts, const char *ciphertext)
{
    socp_sig_content_t content = {.ciphertext = ciphertext, .from = c->id, .to = to, .ts = ts};
    char *csig = NULL;
    CHECK_OK(
        socp_sig_sign_content(c->key, SOCP_RSA_SALT_32, SOCP_SIG_EMIT_STRING, &content, &csig));
    return csig;
}

json_t *
sd_dm_payload(sd_client_t *c, const char *to, int64_t ts, const char *ciphertext)
{
    char *csig = sd_content_sig(c, to, ts, ciphertext);
    json_t *p = json_pack("{s:s, s:s, s:s}", "ciphertext", ciphertext, "sender_pub", c->pub,
                          "content_sig", csig);
    free(csig);
    return p;
}

int
sd_recv(sd_client_t *c, const char *type, int timeout_ms, socp_envelope_t *out)
{
    memset(out, 0, sizeof *out);
    uint64_t deadline = socp_now_ms() + (uint64_t) timeout_ms;
    for (;;) {
        socp_ws_msg_t m;
        while (socp_tcp_conn_next(c->conn, &m) == 0) {
            socp_envelope_t env;
            if (socp_envelope_parse((const char *) m.data, m.len, &env, NULL) != 0) {
                continue;
            }
            if (!type || strcmp(env.type, type) == 0) {
                *out = env;
                return 0;
            }
            if (socp_test_verbose()) {
                fprintf(stderr, "  [%s skips %s]\n", c->id, env.type);
            }
            socp_envelope_fini(&env);
        }
        uint64_t now = socp_now_ms();
        if (now >= deadline) {
            return SOCP_ETIMEDOUT;
        }
        int rc = socp_tcp_conn_pump(c->conn, (int) (deadline - now));
        if (rc != 0 && socp_tcp_conn_next(c->conn, &m) != 0) {
            // (the message taken by the check above is lost only at the end)
            return SOCP_ECLOSED;
        }
        if (rc != 0) {
            // A message was still queued: handle it on the next turn.
            socp_envelope_t env;
            if (socp_envelope_parse((const char *) m.data, m.len, &env, NULL) == 0) {
                if (!type || strcmp(env.type, type) == 0) {
                    *out = env;
                    return 0;
                }
                socp_envelope_fini(&env);
            }
        }
    }
}

void
sd_expect_error(sd_client_t *c, const char *code, int timeout_ms)
{
    socp_envelope_t e;
    CHECK_MSG(sd_recv(c, "ERROR", timeout_ms, &e) == 0, "%s: no ERROR %s", c->id, code);
    const char *got = json_string_value(json_object_get(e.payload, "code"));
    CHECK_MSG(got && strcmp(got, code) == 0, "%s: expected ERROR %s, got %s", c->id, code,
              got ? got : "(none)");
    socp_envelope_fini(&e);
}

bool
sd_closed_within(sd_client_t *c, int timeout_ms)
{
    uint64_t deadline = socp_now_ms() + (uint64_t) timeout_ms;
    while (socp_now_ms() < deadline) {
        int rc = socp_tcp_conn_pump(c->conn, 50);
        socp_ws_msg_t m;
        while (socp_tcp_conn_next(c->conn, &m) == 0) {
        }
        if (rc != 0 || socp_tcp_conn_done(c->conn)) {
            return true;
        }
    }
    return false;
}

int
sd_peer_listen(uint16_t *port)
{
    int lfd = -1;
    CHECK_OK(socp_tcp_listen("127.0.0.1", 0, 16, &lfd, port));
    return lfd;
}

int
sd_peer_accept(sd_client_t *c, int lfd, const char *id, const char *fixture, int timeout_ms)
{
    memset(c, 0, sizeof *c);
    snprintf(c->id, sizeof c->id, "%s", id);
    uint64_t deadline = socp_now_ms() + (uint64_t) timeout_ms;
    int fd = -1;
    for (;;) {
        int rc = socp_tcp_accept(lfd, &fd, NULL);
        if (rc == 0) {
            break;
        }
        if (rc != SOCP_EAGAIN || socp_now_ms() >= deadline) {
            return SOCP_ETIMEDOUT;
        }
        struct pollfd p = {.fd = lfd, .events = POLLIN};
        (void) poll(&p, 1, (int) (deadline - socp_now_ms()));
    }
    c->conn = socp_tcp_conn_new(fd, SOCP_WS_SERVER, NULL, NULL, 0);
    CHECK(c->conn != NULL);
    while (socp_ws_state(socp_tcp_conn_ws(c->conn)) == SOCP_WS_CONNECTING) {
        if (socp_now_ms() >= deadline || socp_tcp_conn_pump(c->conn, 50) != 0) {
            socp_tcp_conn_destroy(&c->conn);
            return SOCP_ETIMEDOUT;
        }
    }
    c->key = sd_fixture_key(fixture);
    CHECK_OK(socp_rsa_public_export(c->key, SOCP_RSA_PUB_B64_PEM, &c->pub));
    return 0;
}
