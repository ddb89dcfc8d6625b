// socp_bench_profile.c: `socp bench` against servers that want other things
// of a user than socpd does: which profile a server speaks (asked of it at
// start, unless --server-profile says), and Impl14's account login of each
// virtual user, with the frames of proto/socp_account.c.
// Part of socp, a SOCP v1.3 client and server. Shared state: socp_bench_int.h.
#include <jansson.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "socp/socp_account.h"
#include "socp/socp_err.h"
#include "socp/socp_json.h"
#include "socp/socp_uuid.h"
#include "socp_bench_int.h"

#define S_DETECT_MS 5000
#define S_LOGIN_MS  10000

// The next text frame on c, parsed, before `end` (ms): 0; SOCP_ETIMEDOUT;
// SOCP_ECLOSED; or the connection's error.
static int
s_next(socp_tcp_conn_t *c, uint64_t end, json_t **out)
{
    *out = NULL;
    for (;;) {
        socp_ws_msg_t m;
        while (socp_tcp_conn_next(c, &m) == 0) {
            if (m.kind == SOCP_WS_TEXT &&
                socp_json_parse((const char *) m.data, m.len, 64, out) == 0) {
                return 0;
            }
        }
        uint64_t now = socp_now_ms();
        if (socp_tcp_conn_done(c)) {
            return SOCP_ECLOSED;
        }
        if (now >= end) {
            return SOCP_ETIMEDOUT;
        }
        int rc = socp_tcp_conn_pump(c, (int) (end - now));
        if (rc != 0 && rc != SOCP_ECLOSED) {
            return rc;
        }
    }
}

// A server's string, fit for one line of the terminal.
static const char *
s_clean(const char *s, char *buf, size_t size)
{
    size_t n = 0;
    for (; s && *s && n + 1 < size; s++) {
        buf[n++] = (unsigned char) *s >= 0x20 && *s != 0x7f ? *s : '?';
    }
    buf[n] = '\0';
    return buf;
}

static void
s_refused(const s_opts_t *o, const char *what, const char *code, const char *detail)
{
    char c[40], d[120];
    fprintf(stderr, "socp bench: %s refused %s: %s %s\n", o->server, what,
            s_clean(code, c, sizeof c), s_clean(detail, d, sizeof d));
}

// A standard USER_HELLO (from a throwaway id) and a LIST_REQUEST tell the
// profiles apart: Impl14 answers the hello with USER_HELLO_ACK (it
// acknowledges every hello); peer A answers the LIST_REQUEST with ERROR
// UNKNOWN_TYPE; a LIST_RESPONSE first is the standard profile, and so is
// silence (a server need not answer LIST_REQUEST).
int
socp_bench_detect(s_opts_t *o, const s_vu_t *model)
{
    s_vu_t p = {.key = model->key, .pub = model->pub};
    socp_uuid_generate(p.id);
    int rc = socp_bench_connect(o, &p);
    if (rc != 0) {
        socp_tcp_conn_destroy(&p.conn);
        return rc;
    }
    char *list = socp_bench_frame(p.key, "LIST_REQUEST", p.id, "*", socp_wall_ms(), json_object());
    rc = list ? socp_tcp_conn_send_text(p.conn, list, strlen(list)) : SOCP_ECRYPTO;
    free(list);
    s_profile_t found = S_AUTO;
    const char *why = "no answer in 5 s";
    uint64_t end = socp_now_ms() + S_DETECT_MS;
    json_t *v = NULL;
    while (rc == 0 && found == S_AUTO && (rc = s_next(p.conn, end, &v)) == 0) {
        const char *type = json_string_value(json_object_get(v, "type"));
        json_t *pl = json_object_get(v, "payload");
        const char *code = json_string_value(json_object_get(pl, "code"));
        const char *detail = json_string_value(json_object_get(pl, "detail"));
        if (type && strcmp(type, "USER_HELLO_ACK") == 0) {
            found = S_IMPL14;
            why = "USER_HELLO_ACK";
        } else if (type && strcmp(type, "LIST_RESPONSE") == 0) {
            found = S_SOCP;
            why = "LIST_RESPONSE";
        } else if (type && strcmp(type, "ERROR") == 0 && code &&
                   strcmp(code, "UNKNOWN_TYPE") == 0 && detail && strstr(detail, "LIST_REQUEST")) {
            found = S_PEER_A;
            why = "ERROR UNKNOWN_TYPE for LIST_REQUEST";
        } else if (type && strcmp(type, "ERROR") == 0) {
            s_refused(o, "a standard USER_HELLO (choose with --server-profile)", code, detail);
            rc = SOCP_EPROTO;
        }
        json_decref(v);
    }
    if (rc == SOCP_ETIMEDOUT) {
        found = S_SOCP;
        rc = 0;
    } else if (rc != 0 && rc != SOCP_EPROTO) {
        fprintf(stderr, "socp bench: lost %s after a standard USER_HELLO (%s)\n", o->server,
                socp_strerror(rc));
    }
    socp_tcp_conn_close(p.conn, 1000, "profile detected");
    if (socp_tcp_conn_pump(p.conn, 100) != 0) {
        // gone already: nothing more to flush
    }
    socp_tcp_conn_destroy(&p.conn);
    if (rc == 0) {
        o->profile = found;
        if (!o->quiet) {
            fprintf(stderr, "socp bench: server profile %s (%s)\n", s_profile_names[found], why);
        }
    }
    return rc;
}

// Sends `frame` and waits for `want` (other frames are passed over).
static int
s_exchange(const s_opts_t *o,
           s_vu_t *u,
           const char *frame,
           size_t len,
           socp_account_reply_kind_t want)
{
    const char *what = want == SOCP_ACCOUNT_REPLY_REGISTERED ? "USER_REGISTER" : "USER_LOGIN";
    int rc = socp_tcp_conn_send_text(u->conn, frame, len);
    uint64_t end = socp_now_ms() + S_LOGIN_MS;
    json_t *v = NULL;
    socp_account_reply_t r = {0};
    while (rc == 0 && r.kind != want && (rc = s_next(u->conn, end, &v)) == 0) {
        socp_account_reply(v, &r);
        if (r.kind == SOCP_ACCOUNT_REPLY_ERROR) {
            s_refused(o, what, r.code, r.detail);
            rc = SOCP_EPROTO;
        }
        json_decref(v);
    }
    if (rc != 0 && rc != SOCP_EPROTO) {
        fprintf(stderr, "socp bench: no answer to %s from %s (%s)\n", what, o->server,
                socp_strerror(rc));
    }
    return rc;
}

// Impl14: an account named after u's id, registered with u's key sealed
// under the run's password (as its client seals it), then USER_LOGIN (a
// USER_HELLO before it is optional there).
int
socp_bench_login(const s_opts_t *o, s_vu_t *u)
{
    size_t plen = strlen(o->password);
    int64_t ts = socp_wall_ms();
    char *store = NULL, *pake = NULL, *reg = NULL, *login = NULL;
    size_t login_len = 0;
    int rc = socp_account_store_seal_key(u->key, o->password, plen, &store);
    if (rc == 0) {
        rc = socp_account_pake_make(o->password, plen, NULL, &pake);
    }
    if (rc == 0) {
        rc = socp_account_register_frame(u->id, u->pub, store, pake, ts, &reg);
    }
    if (rc == 0) {
        rc = socp_account_login_frame(u->id, o->password, plen, ts, &login, &login_len);
    }
    if (rc != 0) {
        fprintf(stderr, "socp bench: cannot build the account frames: %s\n", socp_strerror(rc));
    }
    if (rc == 0) {
        rc = s_exchange(o, u, reg, strlen(reg), SOCP_ACCOUNT_REPLY_REGISTERED);
    }
    if (rc == 0) {
        rc = s_exchange(o, u, login, login_len, SOCP_ACCOUNT_REPLY_LOGGED_IN);
    }
    free(store);
    free(pake);
    free(reg);
    if (login) {
        sodium_free(login);
    }
    return rc;
}
