// socp_bench.c: `socp bench`, a load generator for any SOCP v1.3 server.
// Part of socp, a SOCP v1.3 client and server.
//
// DESIGN
// Not an actor: a tool with T worker threads (default: the number of cores,
// at most users/2). Each thread owns a slice of the N virtual users (own
// identity, own WebSocket connection), polls their sockets, and sends within
// its slice only: user i sends MSG_DIRECTs to the next user of its slice, so
// a thread matches deliveries with its own send times without sharing state.
// Threads share nothing but: a stop pipe (read end polled by all; written by
// the main thread on Ctrl-C), and a mutex-protected progress snapshot.
// Identities: keys are cached as PKCS#8 PEM under DIR/keys/user-NNNNN.pem
// (generated once; tests seed them from fixtures); user ids are fresh each
// run. Modes: closed (window of W in flight per user, content_sig and
// transport sig signed at send time over a template ciphertext), open (fixed
// total --rate), presigned (all frames signed before the timed phase: the
// server's work is what is measured), e2e (sender encrypts and signs content
// and transport, receiver decrypts and verifies).
// Setup and the report: socp_bench_setup.c; shared state: socp_bench_int.h.
// Blocking calls: connect + handshake at setup (bounded, 10 s), poll() with
// a <= 10 ms timeout. Shutdown: the timed phase ends at --duration or Ctrl-C;
// then up to --drain ms for deliveries still on the way (skipped on Ctrl-C),
// and the report (partial when interrupted).
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <sodium.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "socp/socp_b64.h"
#include "socp/socp_bench.h"
#include "socp/socp_envelope.h"
#include "socp/socp_err.h"
#include "socp/socp_json.h"
#include "socp/socp_platform.h"
#include "socp/socp_rsa.h"
#include "socp/socp_sig.h"
#include "socp/socp_tcp.h"
#include "socp/socp_uuid.h"
#include "socp/socp_ws.h"

#include "socp_bench_int.h"


static int s_stop_pipe[2] = {-1, -1};

static void
s_on_sigint(int sig)
{
    SOCP_UNUSED(sig);
    char c = 1;
    if (write(s_stop_pipe[1], &c, 1) < 0) {
        // nothing else to do in a handler
    }
}

static int s_usage(const char *fmt, ...) SOCP_PRINTF(1, 2);

static int
s_usage(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "socp bench: ");
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, "\n");
    va_end(ap);
    return 2;
}

static const char s_help[] =
    "usage: socp bench --server ws://HOST:PORT --users N --duration S [options]\n"
    "  --rate R              offered load, messages/s in total (open loop; 0: closed loop)\n"
    "  --mode M              closed | open | presigned | e2e (default closed)\n"
    "  --window W            closed loop: messages in flight per user (default 4)\n"
    "  --presign N           presigned: frames per user to sign (default: enough for --rate,\n"
    "                        else 2000 in total)\n"
    "  --threads T           worker threads (default: cores, at most users/2)\n"
    "  --server-profile P    auto | socp | peer-a | impl14 (default auto: asked of the server)\n"
    "  --heartbeat MS        keep-alive period (default 15000)\n"
    "  --data-dir DIR        key cache (DIR/keys/user-NNNNN.pem; default ./.socp-bench)\n"
    "  --primes 2|4          primes of generated keys (default 4)\n"
    "  --drain MS            wait for in-flight deliveries after the run (default 3000)\n"
    "  --server-pid PID      also report the server's CPU seconds per message\n"
    "  --json | --csv        machine-readable report on stdout (default: a table)\n"
    "  --quiet               no progress line\n"
    "  --rsa-only            only measure the RSA private-op rate of the first cached key\n"
    "                        (one signing thread per core at once)\n";

static bool
s_num(const char *s, double min, double max, double *out)
{
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (!*s || *end || errno || !(v >= min && v <= max)) {
        return false;
    }
    *out = v;
    return true;
}

static int
s_parse(int argc, char **argv, s_opts_t *o)
{
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        double n;
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            fputs(s_help, stdout);
            exit(0);
        } else if (strcmp(a, "--rsa-only") == 0) {
            o->rsa_only = true;
            continue;
        } else if (strcmp(a, "--json") == 0 || strcmp(a, "--csv") == 0 ||
                   strcmp(a, "--quiet") == 0) {
            o->json |= a[2] == 'j';
            o->csv |= a[2] == 'c';
            o->quiet |= a[2] == 'q';
            continue;
        }
        if (!v) {
            return s_usage("unknown option or missing value: %s (see --help)", a);
        }
        i++;
        if (strcmp(a, "--server") == 0) {
            o->server = v;
        } else if (strcmp(a, "--data-dir") == 0) {
            o->data_dir = v;
        } else if (strcmp(a, "--users") == 0 && s_num(v, 2, S_USERS_MAX, &n)) {
            o->users = (size_t) n;
        } else if (strcmp(a, "--duration") == 0 && s_num(v, 0.1, 86400, &n)) {
            o->duration = n;
        } else if (strcmp(a, "--rate") == 0 && s_num(v, 0, 1e7, &n)) {
            o->rate = n;
        } else if (strcmp(a, "--window") == 0 && s_num(v, 1, 10000, &n)) {
            o->window = (size_t) n;
        } else if (strcmp(a, "--presign") == 0 && s_num(v, 1, 1e6, &n)) {
            o->presign = (size_t) n;
        } else if (strcmp(a, "--threads") == 0 && s_num(v, 1, 256, &n)) {
            o->threads = (size_t) n;
        } else if (strcmp(a, "--drain") == 0 && s_num(v, 0, 600000, &n)) {
            o->drain_ms = (unsigned) n;
        } else if (strcmp(a, "--server-pid") == 0 && s_num(v, 1, 1e9, &n)) {
            o->server_pid = (int) n;
        } else if (strcmp(a, "--primes") == 0 && (strcmp(v, "2") == 0 || strcmp(v, "4") == 0)) {
            o->primes = (unsigned) (v[0] - '0');
        } else if (strcmp(a, "--heartbeat") == 0 && s_num(v, 10, 3600000, &n)) {
            o->heartbeat_ms = (unsigned) n;
        } else if (strcmp(a, "--server-profile") == 0) {
            size_t k = 0;
            while (k < 4 && strcmp(v, s_profile_names[k]) != 0) {
                k++;
            }
            if (k == 4) {
                return s_usage("bad --server-profile %s (auto, socp, peer-a, impl14)", v);
            }
            o->profile = (s_profile_t) k;
        } else if (strcmp(a, "--mode") == 0) {
            size_t k = 0;
            while (k < 4 && strcmp(v, s_mode_names[k]) != 0) {
                k++;
            }
            if (k == 4) {
                return s_usage("bad --mode %s (closed, open, presigned, e2e)", v);
            }
            o->mode = (s_mode_t) k;
        } else {
            return s_usage("bad option or value: %s %s (see --help)", a, v);
        }
    }
    if (o->rsa_only) {
        return 0;
    }
    if (!o->server || !o->users || o->duration <= 0) {
        return s_usage("%s", "--server, --users and --duration are required (see --help)");
    }
    if (o->mode == S_OPEN && o->rate <= 0) {
        return s_usage("%s", "--mode open needs --rate R");
    }
    char path[SOCP_WS_PATH_MAX];
    int rc = socp_ws_parse_url(o->server, o->host, &o->port, path);
    if (rc != 0) {
        return s_usage(rc == SOCP_EUNSUPPORTED ? "wss:// is not supported: %s"
                                               : "bad server URL: %s",
                       o->server);
    }
    return 0;
}

// ---- identities ----------------------------------------------------------------------

static int
s_read_file(const char *path, uint8_t *buf, size_t size, size_t *len)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        return errno == ENOENT ? SOCP_ENOTFOUND : SOCP_EIO;
    }
    ssize_t n = read(fd, buf, size);
    close(fd);
    if (n < 0 || (size_t) n == size) {
        return SOCP_EIO;
    }
    *len = (size_t) n;
    return 0;
}

static int
s_key(const s_opts_t *o, size_t i, socp_rsa_key_t **out)
{
    char dir[4200], path[4300];
    snprintf(dir, sizeof dir, "%s/keys", o->data_dir);
    snprintf(path, sizeof path, "%s/user-%05zu.pem", dir, i);
    static uint8_t buf[65536];
    size_t len = 0;
    int rc = s_read_file(path, buf, sizeof buf, &len);
    if (rc == 0) {
        rc = socp_rsa_private_import(buf, len, out);
        if (rc != 0) {
            fprintf(stderr, "socp bench: %s is not a usable RSA-4096 private key\n", path);
        }
        return rc;
    }
    if (rc != SOCP_ENOTFOUND) {
        fprintf(stderr, "socp bench: cannot read %s\n", path);
        return rc;
    }
    (void) mkdir(o->data_dir, 0700);
    (void) mkdir(dir, 0700);
    if (!o->quiet) {
        fprintf(stderr, "\rsocp bench: generating RSA-4096 key %zu of %zu (cached in %s) ", i + 1,
                o->users, dir);
    }
    if ((rc = socp_rsa_generate(o->primes, NULL, NULL, out)) != 0) {
        return rc;
    }
    uint8_t *pem = NULL;
    size_t pem_len = 0;
    if ((rc = socp_rsa_private_export(*out, SOCP_RSA_PRIV_PEM, &pem, &pem_len)) != 0) {
        return rc;
    }
    char tmp[4400];
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    size_t n = strlen((const char *) pem);
    bool ok = fd >= 0 && write(fd, pem, n) == (ssize_t) n && fsync(fd) == 0;
    if (fd >= 0) {
        close(fd);
    }
    sodium_memzero(pem, pem_len);
    sodium_free(pem);
    if (!ok || rename(tmp, path) != 0 || socp_platform_sync_dir(dir) != 0) {
        fprintf(stderr, "socp bench: cannot write %s\n", path);
        return SOCP_EIO;
    }
    return 0;
}

// ---- frames --------------------------------------------------------------------------

char *
socp_bench_frame(socp_rsa_key_t *key,
                 const char *type,
                 const char *from,
                 const char *to,
                 int64_t ts,
                 json_t *payload)
{
    socp_envelope_t env;
    if (socp_envelope_init(&env, type, from, to, ts, payload) != 0) {
        json_decref(payload);
        return NULL;
    }
    json_decref(payload);
    char *sig = NULL;
    socp_buf_t b;
    socp_buf_init(&b);
    bool ok = socp_sig_sign_payload(key, SOCP_RSA_SALT_MAX, env.payload, &sig) == 0 &&
              socp_envelope_set_sig(&env, sig) == 0 && socp_envelope_emit(&env, &b) == 0;
    free(sig);
    socp_envelope_fini(&env);
    if (!ok) {
        socp_buf_fini(&b);
        return NULL;
    }
    socp_buf_append(&b, "", 1);
    return (char *) b.data;
}

// A ciphertext (base64url) of `text` for `to_key`, and its content_sig.
static int
s_seal(s_vu_t *u, s_vu_t *to, int64_t ts, const char *text, char **ct_out, char **csig_out)
{
    uint8_t c[SOCP_RSA_BYTES];
    int rc = socp_rsa_encrypt(to->key, text, strlen(text), c);
    if (rc != 0) {
        return rc;
    }
    char *ct = NULL;
    if ((rc = socp_b64_encode(c, sizeof c, &ct)) != 0) {
        return rc;
    }
    socp_sig_content_t content = {ct, u->id, to->id, ts};
    rc = socp_sig_sign_content(u->key, SOCP_RSA_SALT_MAX, SOCP_SIG_EMIT_STRING, &content, csig_out);
    if (rc != 0) {
        free(ct);
        return rc;
    }
    *ct_out = ct;
    return 0;
}

static char *
s_dm(const s_opts_t *o, s_vu_t *all, s_vu_t *u, uint64_t seq)
{
    s_vu_t *to = &all[u->to];
    int64_t ts = u->base_ts + (int64_t) seq;
    char *ct = NULL, *csig = NULL;
    if (o->mode == S_E2E) {
        char text[64];
        snprintf(text, sizeof text, "bench %llu", (unsigned long long) seq);
        if (s_seal(u, to, ts, text, &ct, &csig) != 0) {
            return NULL;
        }
    } else {
        // The template's ciphertext, but a content_sig of this message's own
        // from / to / ts: socpd takes each signed payload once and checks that
        // its content_sig covers the envelope (ADR 0015), so one content_sig
        // cannot serve every message.
        socp_sig_content_t content = {u->ct_once, u->id, to->id, ts};
        if (socp_sig_sign_content(u->key, SOCP_RSA_SALT_MAX, SOCP_SIG_EMIT_STRING, &content,
                                  &csig) != 0) {
            return NULL;
        }
    }
    json_t *p = json_pack("{s:s,s:s,s:s}", "ciphertext", ct ? ct : u->ct_once, "sender_pub", u->pub,
                          "content_sig", csig);
    free(ct);
    free(csig);
    if (o->profile == S_IMPL14) { // it routes on these, not on the envelope
        json_object_set_new(p, "to", json_string(to->id));
        json_object_set_new(p, "sender", json_string(u->id));
    }
    return socp_bench_frame(u->key, "MSG_DIRECT", u->id, to->id, ts, p);
}

// ---- the worker ----------------------------------------------------------------------

static void
s_count_error(s_stats_t *st, const char *code)
{
    for (size_t i = 0; i < st->nerrors; i++) {
        if (strcmp(st->errors[i].name, code) == 0) {
            st->errors[i].count++;
            return;
        }
    }
    if (st->nerrors < S_ERR_MAX) {
        snprintf(st->errors[st->nerrors].name, sizeof st->errors[0].name, "%s", code);
        st->errors[st->nerrors++].count = 1;
    }
}

static int64_t
s_ts_of(json_t *v)
{
    if (json_is_integer(v)) {
        return (int64_t) json_integer_value(v);
    }
    const char *s = json_string_value(v);
    return s && *s && strspn(s, "0123456789") == strlen(s) ? (int64_t) strtoll(s, NULL, 10) : -1;
}

static void
s_on_frame(s_worker_t *w, s_vu_t *r, const char *data, size_t len, uint64_t now_ns, bool in_run)
{
    json_t *v = NULL;
    if (socp_json_parse(data, len, 32, &v) != 0) {
        v = NULL; // counted as unexpected below
    }
    const char *type = json_string_value(json_object_get(v, "type"));
    json_t *pl = json_object_get(v, "payload");
    if (!type) {
        w->st.unexpected++;
    } else if (strcmp(type, "USER_DELIVER") == 0) {
        s_vu_t *s = &w->all[r->from];
        const char *sender = json_string_value(json_object_get(pl, "sender"));
        int64_t ts = s_ts_of(json_object_get(pl, "ts"));
        if (ts < 0) {
            ts = s_ts_of(json_object_get(v, "ts"));
        }
        if (!sender || strcmp(sender, s->id) != 0 || ts < s->base_ts ||
            (uint64_t) (ts - s->base_ts) >= s->seq) {
            w->st.unexpected++;
        } else {
            uint64_t seq = (uint64_t) (ts - s->base_ts);
            uint64_t *slot = &s->sent_ns[seq % S_RING];
            if (*slot == 0 || s->seq - seq > S_RING) {
                w->st.dups++;
            } else {
                if (w->o->mode == S_E2E) {
                    const char *ct = json_string_value(json_object_get(pl, "ciphertext"));
                    const char *csig = json_string_value(json_object_get(pl, "content_sig"));
                    uint8_t raw[SOCP_RSA_BYTES + 8], plain[SOCP_RSA_OAEP_MAX];
                    size_t rl = 0, pl_len = 0;
                    socp_sig_content_t content = {ct, s->id, r->id, ts};
                    if (!ct || !csig ||
                        socp_b64_decode_to(ct, strlen(ct), raw, sizeof raw, &rl) != 0 ||
                        socp_rsa_decrypt(r->key, raw, rl, plain, &pl_len) != 0 ||
                        socp_sig_verify_content(s->key, &content, csig, NULL) != 0) {
                        w->st.verify_fail++;
                    }
                }
                socp_bench_hist_add(&w->st.hist, (now_ns - *slot) / 1000);
                *slot = 0;
                s->outstanding--;
                w->st.delivered++;
                w->st.delivered_in_run += in_run;
            }
        }
    } else if (strcmp(type, "ERROR") == 0) {
        const char *code = json_string_value(json_object_get(pl, "code"));
        s_count_error(&w->st, code ? code : "ERROR");
    } else if (!r->ready && strstr(data, w->all[r->to].id)) {
        r->ready = true; // our recipient was announced
    }
    json_decref(v);
}

static void
s_pump(s_worker_t *w, struct pollfd *pfd, int timeout_ms, bool in_run)
{
    for (size_t i = 0; i < w->count; i++) {
        s_vu_t *u = &w->all[w->first + i];
        pfd[i].fd = socp_tcp_conn_fd(u->conn);
        pfd[i].events = (short) (POLLIN | (socp_tcp_conn_want_write(u->conn) ? POLLOUT : 0));
        pfd[i].revents = 0;
    }
    pfd[w->count].fd = w->stop_fd;
    pfd[w->count].events = POLLIN;
    pfd[w->count].revents = 0;
    if (poll(pfd, w->count + 1, timeout_ms) < 0) {
        return;
    }
    if (pfd[w->count].revents) {
        w->interrupted = true;
    }
    uint64_t now = socp_now_ns();
    for (size_t i = 0; i < w->count; i++) {
        s_vu_t *u = &w->all[w->first + i];
        if (pfd[i].revents & POLLOUT) {
            if (socp_tcp_conn_flush(u->conn) != 0) {
                s_count_error(&w->st, "CONNECTION_LOST");
            }
        }
        if (pfd[i].revents & (POLLIN | POLLHUP | POLLERR)) {
            int rc = socp_tcp_conn_read(u->conn, 0);
            if (rc != 0 && rc != SOCP_EAGAIN) {
                s_count_error(&w->st, "CONNECTION_LOST");
            }
        }
        socp_ws_msg_t m;
        while (socp_tcp_conn_next(u->conn, &m) == 0) {
            s_on_frame(w, u, (const char *) m.data, m.len, now, in_run);
        }
    }
}

// Sends one message from u if it can. Returns true if sent.
static bool
s_send_one(s_worker_t *w, s_vu_t *u)
{
    const s_opts_t *o = w->o;
    if (u->outstanding >= S_RING - 1) {
        w->st.backlog++;
        return false;
    }
    char *f = u->held;
    u->held = NULL;
    if (!f) {
        if (o->mode == S_PRESIGNED) {
            if (u->pre_next == u->npre) {
                w->st.exhausted++;
                return false;
            }
            f = u->pre[u->pre_next];
            u->pre[u->pre_next++] = NULL;
        } else {
            f = s_dm(o, w->all, u, u->seq);
            if (!f) {
                s_count_error(&w->st, "BENCH_SIGN_FAILED");
                return false;
            }
        }
    }
    uint64_t now = socp_now_ns();
    int rc = socp_tcp_conn_send_text(u->conn, f, strlen(f));
    if (rc == SOCP_EOVERFLOW || rc == SOCP_EAGAIN) {
        u->held = f; // the socket is full: retry the same frame later
        return false;
    }
    free(f);
    if (rc != 0) {
        w->st.send_fail++;
        return false;
    }
    u->sent_ns[u->seq % S_RING] = now ? now : 1;
    u->seq++;
    u->outstanding++;
    w->st.sent++;
    return true;
}

// A signed frame with an empty payload (HEARTBEAT, LIST_REQUEST) from u.
static int
s_send_empty(s_vu_t *u, const char *type)
{
    char *f = socp_bench_frame(u->key, type, u->id, "*", socp_wall_ms(), json_object());
    int rc = f ? socp_tcp_conn_send_text(u->conn, f, strlen(f)) : SOCP_ECRYPTO;
    free(f);
    return rc;
}

// The keep-alive: HEARTBEAT; Impl14 answers it with ERROR UNKNOWN_TYPE and
// answers LIST_REQUEST; peer A answers both with ERROR UNKNOWN_TYPE, so it
// gets none (the WebSocket pings it sends are answered).
static void
s_heartbeats(s_worker_t *w)
{
    const char *type = w->o->profile == S_IMPL14   ? "LIST_REQUEST"
                       : w->o->profile == S_PEER_A ? NULL
                                                   : "HEARTBEAT";
    uint64_t now = socp_now_ms();
    for (size_t i = 0; type && i < w->count; i++) {
        s_vu_t *u = &w->all[w->first + i];
        if (now - u->last_hb >= w->o->heartbeat_ms) {
            u->last_hb = now;
            if (s_send_empty(u, type) != 0) {
                s_count_error(&w->st, "HEARTBEAT_NOT_SENT");
            }
        }
    }
}

static void *
s_worker(void *arg)
{
    s_worker_t *w = arg;
    const s_opts_t *o = w->o;
    struct pollfd *pfd = calloc(w->count + 1, sizeof *pfd);
    double share = o->rate * (double) w->count / (double) o->users; // msgs/s for this thread
    double tokens = 0;
    uint64_t last = socp_now_ns(), last_snap = 0;
    size_t rr = 0;
    bool open_loop = o->rate > 0;
    // Timed phase.
    while (!w->interrupted && socp_now_ms() < w->run_end_ms) {
        if (open_loop) {
            uint64_t now = socp_now_ns();
            tokens += (double) (now - last) / 1e9 * share;
            last = now;
            if (tokens > share * 0.05 + 1) { // at most 50 ms of burst after a stall
                tokens = share * 0.05 + 1;
            }
            while (tokens >= 1) {
                s_vu_t *u = &w->all[w->first + rr];
                rr = (rr + 1) % w->count;
                s_send_one(w, u);
                tokens -= 1;
            }
        } else {
            for (size_t i = 0; i < w->count; i++) {
                s_vu_t *u = &w->all[w->first + i];
                while (u->outstanding < o->window && s_send_one(w, u)) {
                }
            }
        }
        int wait_ms = 5;
        if (open_loop) {
            // Sleep until the next token is due (1..100 ms): deliveries and
            // Ctrl-C wake the poll anyway, so at low rates the generator
            // wakes about once per message instead of 200 times a second.
            double due = share > 0 ? (1.0 - tokens) / share * 1000.0 : 100.0;
            wait_ms = due < 1 ? 1 : due > 100 ? 100 : (int) due;
        }
        s_pump(w, pfd, wait_ms, true);
        s_heartbeats(w);
        uint64_t now_ms = socp_now_ms();
        if (now_ms - last_snap >= 200) {
            last_snap = now_ms;
            pthread_mutex_lock(w->mu);
            w->snap = w->st;
            pthread_mutex_unlock(w->mu);
        }
    }
    // Drain: deliveries still on the way (not after Ctrl-C).
    uint64_t drain_end = socp_now_ms() + o->drain_ms;
    while (!w->interrupted && socp_now_ms() < drain_end) {
        uint64_t out = 0;
        for (size_t i = 0; i < w->count; i++) {
            out += w->all[w->first + i].outstanding;
        }
        if (out == 0) {
            break;
        }
        s_pump(w, pfd, 10, false);
    }
    pthread_mutex_lock(w->mu);
    w->snap = w->st;
    w->finished = true;
    pthread_mutex_unlock(w->mu);
    free(pfd);
    return NULL;
}

// ---- main ----------------------------------------------------------------------------

int
socp_bench_main(int argc, char **argv)
{
    s_opts_t o = {.window = 4,
                  .primes = 4,
                  .drain_ms = 3000,
                  .heartbeat_ms = S_HB_MS,
                  .data_dir = "./.socp-bench"};
    int rc = s_parse(argc, argv, &o);
    if (rc != 0) {
        return rc;
    }
    signal(SIGPIPE, SIG_IGN);
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0) {
        rl.rlim_cur = rl.rlim_max;
        (void) setrlimit(RLIMIT_NOFILE, &rl);
    }
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    if (o.rsa_only) {
        socp_rsa_key_t *k = NULL;
        o.users = 1;
        if (s_key(&o, 0, &k) != 0) {
            return 1;
        }
        // Signatures per second of CPU time: what a core would do if it were ours alone.
        double per_cpu = 0;
        double rate = socp_bench_sign_rate(k, cores, &per_cpu);
        printf("{\"rsa_private_ops_per_s_per_core\": %.1f, \"rsa_private_ops_per_cpu_s\": %.1f, "
               "\"cores\": %ld, \"primes\": %u}\n",
               rate, per_cpu, cores, socp_rsa_primes(k));
        socp_rsa_destroy(&k);
        return 0;
    }
    if (!o.threads) {
        o.threads = cores < 1 ? 1 : (size_t) cores;
    }
    if (o.threads > o.users / 2) {
        o.threads = o.users / 2;
    }
    if (pipe(s_stop_pipe) != 0) {
        return 1;
    }
    struct sigaction sa = {0};
    sa.sa_handler = s_on_sigint;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);

    s_vu_t *u = calloc(o.users, sizeof *u);
    s_worker_t *w = calloc(o.threads, sizeof *w);
    pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
    int exit_code = 1;
    // Identities.
    for (size_t i = 0; i < o.users; i++) {
        if (s_key(&o, i, &u[i].key) != 0 ||
            socp_rsa_public_export(u[i].key, SOCP_RSA_PUB_B64_DER, &u[i].pub) != 0) {
            goto out;
        }
        socp_uuid_generate(u[i].id);
        u[i].sent_ns = calloc(S_RING, sizeof *u[i].sent_ns);
    }
    // Pairing inside each thread's slice.
    size_t per = o.users / o.threads, extra = o.users % o.threads, at = 0;
    for (size_t t = 0; t < o.threads; t++) {
        w[t] = (s_worker_t){.o = &o,
                            .all = u,
                            .first = at,
                            .count = per + (t < extra),
                            .mu = &mu,
                            .stop_fd = s_stop_pipe[0]};
        for (size_t k = 0; k < w[t].count; k++) {
            size_t i = at + k;
            u[i].to = at + (k + 1) % w[t].count;
            u[u[i].to].from = i;
        }
        at += w[t].count;
    }
    // The RSA private-op bound of this machine, measured now.
    double sign_rate = socp_bench_sign_rate(u[0].key, cores, NULL);
    if (!o.quiet) {
        fprintf(stderr,
                "\rsocp bench: RSA-4096 (%u primes) private ops: %.0f/s per core, %ld cores\n",
                socp_rsa_primes(u[0].key), sign_rate, cores);
    }
    if (o.profile == S_AUTO && socp_bench_detect(&o, &u[0]) != 0) {
        goto out;
    }
    if (o.profile == S_IMPL14) { // fresh accounts, this run's password
        uint8_t pw[16];
        randombytes_buf(pw, sizeof pw);
        sodium_bin2hex(o.password, sizeof o.password, pw, sizeof pw);
    }
    // Connect everyone and wait until each sender's recipient is announced.
    for (size_t i = 0; i < o.users; i++) {
        if (o.profile == S_IMPL14 && !o.quiet) {
            fprintf(stderr, "\rsocp bench: registering and logging in account %zu of %zu ", i + 1,
                    o.users);
        }
        if (socp_bench_connect(&o, &u[i]) != 0) {
            goto out;
        }
    }
    if (o.profile == S_IMPL14 && !o.quiet) {
        fprintf(stderr, "\n");
    }
    // Impl14 tells nobody of a local user's login: its user list (every
    // account) is asked for once all are in.
    for (size_t i = 0; o.profile == S_IMPL14 && i < o.users; i++) {
        if (s_send_empty(&u[i], "LIST_REQUEST") != 0) {
            goto out;
        }
    }
    {
        uint64_t end = socp_now_ms() + 15000;
        struct pollfd *pfd = calloc(o.users + 1, sizeof *pfd);
        bool all_ready = false;
        while (!all_ready && socp_now_ms() < end) {
            all_ready = true;
            for (size_t t = 0; t < o.threads; t++) {
                s_pump(&w[t], pfd, 1, false);
                for (size_t k = 0; k < w[t].count; k++) {
                    all_ready &= u[w[t].first + k].ready;
                }
                if (w[t].interrupted) {
                    free(pfd);
                    goto out;
                }
            }
        }
        free(pfd);
        if (!all_ready) {
            fprintf(stderr, "socp bench: warning: not every user saw its peer announced in 15 s\n");
        }
        for (size_t t = 0; t < o.threads; t++) {
            memset(&w[t].st, 0, sizeof w[t].st); // setup traffic is not measured
            socp_bench_hist_init(&w[t].st.hist);
        }
    }
    // Per-user material built before the timed phase.
    int64_t base = socp_wall_ms();
    for (size_t i = 0; i < o.users; i++) {
        u[i].base_ts = base;
        if (o.mode != S_E2E &&
            s_seal(&u[i], &u[u[i].to], base, "bench", &u[i].ct_once, &u[i].csig_once) != 0) {
            fprintf(stderr, "socp bench: cannot build the message template\n");
            goto out;
        }
    }
    if (o.mode == S_PRESIGNED) {
        size_t n = o.presign;
        if (!n) {
            double want = o.rate > 0 ? o.rate * o.duration * 1.05 / (double) o.users + 1
                                     : 2000.0 / (double) o.users + 1;
            n = (size_t) want;
        }
        if (n > S_RING - 1) {
            n = S_RING - 1;
        }
        if (!o.quiet) {
            fprintf(stderr, "socp bench: pre-signing %zu frames (%zu per user) ...\n", n * o.users,
                    n);
        }
        for (size_t i = 0; i < o.users; i++) {
            u[i].pre = calloc(n, sizeof *u[i].pre);
            for (size_t k = 0; k < n; k++) {
                if (!(u[i].pre[k] = s_dm(&o, u, &u[i], k))) {
                    goto out;
                }
                u[i].npre++;
            }
        }
    }
    // Timed phase.
    double cpu0 = socp_bench_cpu_self(), scpu0 = socp_bench_cpu_pid(o.server_pid);
    uint64_t t0 = socp_now_ms();
    uint64_t t_end = t0 + (uint64_t) (o.duration * 1000.0);
    for (size_t t = 0; t < o.threads; t++) {
        w[t].run_start_ms = t0;
        w[t].run_end_ms = t_end;
        if (pthread_create(&w[t].tid, NULL, s_worker, &w[t]) != 0) {
            fprintf(stderr, "socp bench: cannot start a thread\n");
            for (size_t k = 0; k < t; k++) {
                pthread_join(w[k].tid, NULL);
            }
            goto out;
        }
    }
    bool interrupted = false;
    for (;;) {
        struct pollfd p = {.fd = s_stop_pipe[0], .events = POLLIN};
        int n = poll(&p, 1, 1000);
        if (n > 0) {
            interrupted = true;
            break; // the byte stays in the pipe: every worker sees it
        }
        uint64_t now = socp_now_ms();
        if (now >= t_end + o.drain_ms + 1000) {
            break;
        }
        if (!o.quiet) {
            uint64_t sent = 0, got = 0, lat = 0;
            pthread_mutex_lock(&mu);
            socp_bench_hist_t h;
            socp_bench_hist_init(&h);
            for (size_t t = 0; t < o.threads; t++) {
                sent += w[t].snap.sent;
                got += w[t].snap.delivered;
                socp_bench_hist_merge(&h, &w[t].snap.hist);
            }
            pthread_mutex_unlock(&mu);
            lat = socp_bench_hist_pct(&h, 99);
            double el = (double) (now - t0) / 1000.0;
            fprintf(stderr,
                    "\r[%6.1f/%.0f s] sent %llu  delivered %llu  %.0f msg/s  p99 %.1f ms   ", el,
                    o.duration, (unsigned long long) sent, (unsigned long long) got,
                    el > 0 ? (double) got / el : 0.0, (double) lat / 1000.0);
        }
        // Done early when every worker finished its drain.
        bool done = true;
        pthread_mutex_lock(&mu);
        for (size_t t = 0; t < o.threads; t++) {
            done &= w[t].finished;
        }
        pthread_mutex_unlock(&mu);
        if (done) {
            break;
        }
    }
    for (size_t t = 0; t < o.threads; t++) {
        pthread_join(w[t].tid, NULL);
        interrupted |= w[t].interrupted;
    }
    uint64_t t_stop = socp_now_ms();
    if (!o.quiet) {
        fprintf(stderr, "\n");
    }
    s_report_t r = {.cores = cores, .sign_rate = sign_rate, .interrupted = interrupted};
    r.cpu_s = socp_bench_cpu_self() - cpu0;
    r.server_cpu_s = scpu0 >= 0 ? socp_bench_cpu_pid(o.server_pid) - scpu0 : -1;
    uint64_t run_ms = (interrupted ? t_stop : t_end) - t0;
    if (run_ms > t_stop - t0) {
        run_ms = t_stop - t0;
    }
    r.run_s = (double) run_ms / 1000.0;
    socp_bench_hist_init(&r.t.hist);
    for (size_t t = 0; t < o.threads; t++) {
        s_stats_t *s = &w[t].st;
        r.t.sent += s->sent;
        r.t.delivered += s->delivered;
        r.t.delivered_in_run += s->delivered_in_run;
        r.t.dups += s->dups;
        r.t.verify_fail += s->verify_fail;
        r.t.backlog += s->backlog;
        r.t.exhausted += s->exhausted;
        r.t.send_fail += s->send_fail;
        for (size_t i = 0; i < s->nerrors; i++) {
            for (uint64_t k = 0; k < s->errors[i].count; k++) {
                s_count_error(&r.t, s->errors[i].name);
            }
        }
        socp_bench_hist_merge(&r.t.hist, &s->hist);
    }
    r.throughput = r.run_s > 0 ? (double) r.t.delivered_in_run / r.run_s : 0;
    r.offered = r.run_s > 0 ? (double) r.t.sent / r.run_s : 0;
    r.bound = (double) cores * sign_rate / s_private_ops[o.mode];
    if (r.t.exhausted && !o.quiet) {
        fprintf(stderr, "socp bench: the pre-signed frames ran out (raise --presign)\n");
    }
    socp_bench_print_report(&o, &r);
    exit_code = r.t.sent == r.t.delivered || interrupted ? 0 : 1;
out:
    for (size_t i = 0; i < o.users; i++) {
        socp_tcp_conn_destroy(&u[i].conn);
        socp_rsa_destroy(&u[i].key);
        free(u[i].pub);
        free(u[i].sent_ns);
        free(u[i].held);
        free(u[i].ct_once);
        free(u[i].csig_once);
        for (size_t k = 0; u[i].pre && k < u[i].npre; k++) {
            free(u[i].pre[k]);
        }
        free(u[i].pre);
    }
    free(u);
    free(w);
    close(s_stop_pipe[0]);
    close(s_stop_pipe[1]);
    return exit_code;
}
