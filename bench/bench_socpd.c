// bench_socpd.c: DM relay through one real socpd process, and many idle
// connected users.
//
//   bench_socpd [-n DMS] [-r RECEIVERS] [-u USERS] [--quick]
//
// 1. Measures the RSA-4096 signing rate of the server's key type (4-prime,
//    max salt, through socp_rsa) on one core in this run.
// 2. Starts socpd (the program next to this one) with that key type,
//    connects one sender and R receivers, pre-signs N distinct MSG_DIRECTs
//    (so the client's signing is not measured), sends them as fast as the
//    socket takes them and counts USER_DELIVERs. Each relayed DM costs the
//    server one signature. Prints DM/s, latency percentiles, losses, and the
//    ratio to cores x signs/s (target >= 0.8).
// 3. Connects U users (default 1000) that stay connected and send HEARTBEATs,
//    and reports the server's resident memory per connection.
#include "socp/socp_envelope.h"
#include "socp/socp_err.h"
#include "socp/socp_rsa.h"
#include "socp/socp_sig.h"
#include "socp/socp_tcp.h"
#include "socp/socp_uuid.h"

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#ifndef SOCP_SRCDIR
#define SOCP_SRCDIR "."
#endif

static socp_rsa_key_t *
s_load(const char *name)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/tests/fixtures/%s", SOCP_SRCDIR, name);
    FILE *f = fopen(path, "rb");
    if (!f) {
        fprintf(stderr, "bench_socpd: cannot open %s\n", path);
        exit(2);
    }
    static uint8_t pem[16384];
    size_t len = fread(pem, 1, sizeof pem, f);
    fclose(f);
    socp_rsa_key_t *k = NULL;
    if (socp_rsa_private_import(pem, len, &k) != 0) {
        exit(2);
    }
    return k;
}

static double
s_sign_rate(socp_rsa_key_t *k)
{
    uint8_t sig[SOCP_RSA_BYTES];
    const char msg[] = "{\"ciphertext\":\"x\",\"sender\":\"y\"}";
    uint64_t t0 = socp_now_ns();
    int n = 0;
    while (socp_now_ns() - t0 < 1000000000ull) {
        if (socp_rsa_sign(k, SOCP_RSA_SALT_MAX, msg, sizeof msg, sig) != 0) {
            exit(2);
        }
        n++;
    }
    return n / ((double) (socp_now_ns() - t0) / 1e9);
}

static int s_pid = -1;

// Network errors here show up as missing messages, which are counted.
static void
s_ignore(int rc)
{
    (void) rc;
}

static uint16_t
s_start_server(const char *self_path, const char *dir)
{
    char prog[4096];
    snprintf(prog, sizeof prog, "%s", self_path);
    char *slash = strrchr(prog, '/');
    snprintf(slash ? slash + 1 : prog, sizeof prog - (size_t) (slash ? slash + 1 - prog : 0),
             "socpd");
    char key[4096];
    snprintf(key, sizeof key, "%s/tests/fixtures/rsa4096_4p_a.pem", SOCP_SRCDIR);
    int fds[2];
    if (pipe(fds) != 0) {
        exit(2);
    }
    s_pid = fork();
    if (s_pid == 0) {
        dup2(fds[1], 1);
        close(fds[0]);
        execl(prog, "socpd", "--port", "0", "--data-dir", dir, "--plain-key", "--import-key", key,
              "--rate-limit", "0", "--log-level", "warn", "--max-output-kb", "65536",
              (char *) NULL);
        _exit(127);
    }
    close(fds[1]);
    char line[512] = "";
    size_t n = 0;
    while (n + 1 < sizeof line) {
        ssize_t r = read(fds[0], line + n, 1);
        if (r <= 0 || line[n] == '\n') {
            break;
        }
        n++;
    }
    line[n] = '\0';
    unsigned port = 0;
    if (sscanf(line, "listening ws://127.0.0.1:%u", &port) != 1) {
        fprintf(stderr, "bench_socpd: socpd did not start (%s)\n", line);
        exit(2);
    }
    return (uint16_t) port;
}

static long
s_rss_kb(int pid)
{
    char path[64], line[256];
    snprintf(path, sizeof path, "/proc/%d/status", pid);
    FILE *f = fopen(path, "r");
    long kb = -1;
    while (f && fgets(line, sizeof line, f)) {
        if (sscanf(line, "VmRSS: %ld", &kb) == 1) {
            break;
        }
    }
    if (f) {
        fclose(f);
    }
    return kb;
}

static char *
s_frame(socp_rsa_key_t *key,
        bool sign,
        const char *type,
        const char *from,
        const char *to,
        int64_t ts,
        json_t *payload)
{
    socp_envelope_t env;
    if (socp_envelope_init(&env, type, from, to, ts, payload) != 0) {
        exit(2);
    }
    json_decref(payload);
    if (sign) {
        char *sig = NULL;
        if (socp_sig_sign_payload(key, SOCP_RSA_SALT_32, env.payload, &sig) != 0 ||
            socp_envelope_set_sig(&env, sig) != 0) {
            exit(2);
        }
        free(sig);
    }
    socp_buf_t b;
    socp_buf_init(&b);
    if (socp_envelope_emit(&env, &b) != 0) {
        exit(2);
    }
    socp_envelope_fini(&env);
    socp_buf_append(&b, "", 1);
    return (char *) b.data;
}

typedef struct {
    socp_tcp_conn_t *conn;
    char id[SOCP_UUID_BUF];
} s_user_t;

// Drains presence traffic on every connected user but `except`: one poll()
// over all of them, reads only where there is something (the client side
// must not be what makes connecting N users cost N^2 system calls).
static void
s_drain_all(s_user_t *all, size_t nall, const s_user_t *except)
{
    static struct pollfd *pfd;
    static size_t cap;
    if (nall > cap) {
        cap = nall * 2;
        pfd = realloc(pfd, cap * sizeof *pfd);
        if (!pfd) {
            exit(2);
        }
    }
    size_t n = 0;
    for (size_t i = 0; i < nall; i++) {
        pfd[i].fd = all[i].conn && &all[i] != except ? socp_tcp_conn_fd(all[i].conn) : -1;
        pfd[i].events = POLLIN;
        pfd[i].revents = 0;
        n++;
    }
    if (n == 0 || poll(pfd, (nfds_t) n, 0) <= 0) {
        return;
    }
    for (size_t i = 0; i < n; i++) {
        if (pfd[i].revents) {
            socp_ws_msg_t m;
            s_ignore(socp_tcp_conn_read(all[i].conn, 0));
            while (socp_tcp_conn_next(all[i].conn, &m) == 0) {
            }
        }
    }
}

// Connects and says a signed hello (socpd requires proof of possession of
// the key); waits for PUBLIC_CHANNEL_UPDATED while draining the others.
static void
s_hello(s_user_t *u,
        uint16_t port,
        socp_rsa_key_t *key,
        const char *pub,
        s_user_t *all,
        size_t nall)
{
    socp_uuid_generate(u->id);
    if (socp_tcp_ws_connect("127.0.0.1", port, NULL, 10000, &u->conn) != 0) {
        fprintf(stderr, "bench_socpd: connect failed\n");
        exit(2);
    }
    char *f = s_frame(key, true, "USER_HELLO", u->id, u->id, socp_wall_ms(),
                      json_pack("{s:s, s:s}", "client", "bench", "pubkey", pub));
    if (socp_tcp_conn_send_text(u->conn, f, strlen(f)) != 0) {
        exit(2);
    }
    free(f);
    uint64_t deadline = socp_now_ms() + 20000;
    for (;;) {
        if (socp_tcp_conn_pump(u->conn, 5) != 0 || socp_now_ms() > deadline) {
            fprintf(stderr, "bench_socpd: hello failed\n");
            exit(2);
        }
        socp_ws_msg_t m;
        bool ok = false;
        while (socp_tcp_conn_next(u->conn, &m) == 0) {
            ok = ok || strstr((const char *) m.data, "PUBLIC_CHANNEL_UPDATED") != NULL;
        }
        s_drain_all(all, nall, u);
        if (ok) {
            return;
        }
    }
}

static int
s_cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *) a, y = *(const uint64_t *) b;
    return x < y ? -1 : x > y;
}

int
main(int argc, char **argv)
{
    size_t n_dms = 3000, n_recv = 4, n_users = 1000;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "-n") == 0 && i + 1 < argc) {
            n_dms = (size_t) atol(argv[++i]);
        } else if (strcmp(argv[i], "-r") == 0 && i + 1 < argc) {
            n_recv = (size_t) atol(argv[++i]);
        } else if (strcmp(argv[i], "-u") == 0 && i + 1 < argc) {
            n_users = (size_t) atol(argv[++i]);
        } else if (strcmp(argv[i], "--quick") == 0) {
            n_dms = 300;
            n_users = 100;
        }
    }
    if (n_recv < 1 || n_recv > 64 || n_dms < 1) {
        return 2;
    }
    signal(SIGPIPE, SIG_IGN);
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0) {
        rl.rlim_cur = rl.rlim_max;
        (void) setrlimit(RLIMIT_NOFILE, &rl);
    }
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    socp_rsa_key_t *skey = s_load("rsa4096_4p_a.pem");
    double sign_rate = s_sign_rate(skey);
    socp_rsa_destroy(&skey);
    printf("server key type: RSA-4096 4-prime, PSS max salt: %.0f signs/s/core, %ld cores\n",
           sign_rate, cores);

    // BENCH_TMPDIR=/dev/shm separates the cost of the database's synchronous
    // commits (one per first-time user binding) from the rest.
    char dir[1024];
    snprintf(dir, sizeof dir, "%s/bench_socpd.XXXXXX",
             getenv("BENCH_TMPDIR") ? getenv("BENCH_TMPDIR") : "/tmp");
    if (!mkdtemp(dir)) {
        return 2;
    }
    uint16_t port = s_start_server(argv[0], dir);

    socp_rsa_key_t *ukey = s_load("rsa4096_4p_b.pem");
    char *pub = NULL;
    if (socp_rsa_public_export(ukey, SOCP_RSA_PUB_B64_DER, &pub) != 0) {
        return 2;
    }
    s_user_t *users = calloc(n_recv + 1, sizeof *users);
    for (size_t i = 0; i <= n_recv; i++) {
        s_hello(&users[i], port, ukey, pub, users, n_recv + 1);
    }
    // Let presence settle, drain it.
    uint64_t settle = socp_now_ms() + 300;
    while (socp_now_ms() < settle) {
        for (size_t i = 0; i <= n_recv; i++) {
            socp_ws_msg_t m;
            s_ignore(socp_tcp_conn_pump(users[i].conn, 1));
            while (socp_tcp_conn_next(users[i].conn, &m) == 0) {
            }
        }
    }
    s_user_t *snd = &users[0];
    printf("pre-signing %zu DMs...\n", n_dms);
    fflush(stdout);
    char **frames = calloc(n_dms, sizeof *frames);
    int64_t base = socp_wall_ms();
    for (size_t i = 0; i < n_dms; i++) {
        const char *to = users[1 + i % n_recv].id;
        char ct[32];
        snprintf(ct, sizeof ct, "m%zu", i);
        // socpd checks that content_sig covers from / to / ts (ADR 0015).
        socp_sig_content_t content = {ct, snd->id, to, base + (int64_t) i};
        char *csig = NULL;
        if (socp_sig_sign_content(ukey, SOCP_RSA_SALT_MAX, SOCP_SIG_EMIT_STRING, &content, &csig) !=
            0) {
            exit(2);
        }
        frames[i] = s_frame(
            ukey, true, "MSG_DIRECT", snd->id, to, base + (int64_t) i,
            json_pack("{s:s, s:s, s:s}", "ciphertext", ct, "sender_pub", pub, "content_sig", csig));
        free(csig);
    }
    uint64_t *sent_ns = calloc(n_dms, sizeof *sent_ns);
    uint64_t *lat = calloc(n_dms, sizeof *lat);
    size_t next = 0, got = 0;
    uint64_t t0 = socp_now_ns(), last = t0;
    uint64_t deadline = socp_now_ms() + 120000;
    struct pollfd *pfd = calloc(n_recv + 1, sizeof *pfd);
    while (got < n_dms && socp_now_ms() < deadline) {
        // Send while the socket takes it (bounded in-flight window).
        while (next < n_dms && next - got < 2000) {
            sent_ns[next] = socp_now_ns();
            int rc = socp_tcp_conn_send_text(snd->conn, frames[next], strlen(frames[next]));
            if (rc == SOCP_EOVERFLOW) {
                break;
            }
            if (rc != 0) {
                fprintf(stderr, "bench_socpd: send failed: %s\n", socp_strerror(rc));
                return 1;
            }
            next++;
        }
        for (size_t i = 0; i <= n_recv; i++) {
            pfd[i].fd = socp_tcp_conn_fd(users[i].conn);
            pfd[i].events = POLLIN | (socp_tcp_conn_want_write(users[i].conn) ? POLLOUT : 0);
        }
        if (poll(pfd, n_recv + 1, 100) < 0 && errno != EINTR) {
            return 1;
        }
        for (size_t i = 0; i <= n_recv; i++) {
            if (pfd[i].revents & POLLOUT) {
                s_ignore(socp_tcp_conn_flush(users[i].conn));
            }
            if (pfd[i].revents & (POLLIN | POLLHUP | POLLERR)) {
                s_ignore(socp_tcp_conn_read(users[i].conn, 0));
            }
            socp_ws_msg_t m;
            while (socp_tcp_conn_next(users[i].conn, &m) == 0) {
                const char *p = strstr((const char *) m.data, "\"ciphertext\":\"m");
                if (i == 0 || !p || !strstr((const char *) m.data, "USER_DELIVER")) {
                    if (strstr((const char *) m.data, "\"ERROR\"")) {
                        fprintf(stderr, "server error: %.200s\n", (const char *) m.data);
                    }
                    continue;
                }
                size_t idx = (size_t) strtoul(p + 15, NULL, 10);
                if (idx < n_dms && lat[idx] == 0) {
                    last = socp_now_ns();
                    lat[idx] = last - sent_ns[idx] + 1;
                    got++;
                }
            }
        }
    }
    double secs = (double) (last - t0) / 1e9;
    double rate = (double) got / secs;
    size_t k = 0;
    for (size_t i = 0; i < n_dms; i++) {
        if (lat[i]) {
            lat[k++] = lat[i];
        }
    }
    qsort(lat, k, sizeof *lat, s_cmp_u64);
    double target = 0.8 * (double) cores * sign_rate;
    printf("DM relay: %zu sent, %zu delivered, %zu lost in %.2f s: %.0f DM/s\n", n_dms, got,
           n_dms - got, secs, rate);
    if (k) {
        printf("latency: p50 %.1f ms, p99 %.1f ms, max %.1f ms (with up to 2000 in flight)\n",
               (double) lat[k / 2] / 1e6, (double) lat[k * 99 / 100] / 1e6,
               (double) lat[k - 1] / 1e6);
    }
    printf("ratio to cores x signs/s (%ld x %.0f = %.0f): %.2f (target >= 0.80) %s\n", cores,
           sign_rate, (double) cores * sign_rate, rate / ((double) cores * sign_rate),
           rate >= target && got == n_dms ? "PASS" : "BELOW TARGET");
    fflush(stdout);
    for (size_t i = 0; i < n_dms; i++) {
        free(frames[i]);
    }
    free(frames);
    for (size_t i = 0; i <= n_recv; i++) {
        socp_tcp_conn_destroy(&users[i].conn);
    }

    // Many idle users.
    long rss0 = s_rss_kb(s_pid);
    s_user_t *many = calloc(n_users, sizeof *many);
    uint64_t c0 = socp_now_ms();
    for (size_t i = 0; i < n_users; i++) {
        s_hello(&many[i], port, ukey, pub, many, i);
    }
    uint64_t c1 = socp_now_ms();
    // Heartbeats from everyone for 2 s (every 500 ms), draining everything.
    uint64_t end = socp_now_ms() + 2000, next_hb = 0;
    size_t hb = 0;
    while (socp_now_ms() < end) {
        if (socp_now_ms() >= next_hb) {
            next_hb = socp_now_ms() + 500;
            for (size_t i = 0; i < n_users; i++) {
                char *f = s_frame(NULL, false, "HEARTBEAT", many[i].id, "x", socp_wall_ms(),
                                  json_object());
                if (socp_tcp_conn_send_text(many[i].conn, f, strlen(f)) == 0) {
                    hb++;
                }
                free(f);
            }
        }
        for (size_t i = 0; i < n_users; i++) {
            socp_ws_msg_t m;
            s_ignore(socp_tcp_conn_pump(many[i].conn, 0));
            while (socp_tcp_conn_next(many[i].conn, &m) == 0) {
            }
        }
    }
    long rss1 = s_rss_kb(s_pid);
    size_t alive = 0;
    for (size_t i = 0; i < n_users; i++) {
        alive += !socp_tcp_conn_done(many[i].conn);
    }
    printf("%zu users connected in %.1f s, %zu still connected after %zu heartbeats; "
           "socpd RSS %ld KiB -> %ld KiB: %.1f KiB per connection\n",
           n_users, (double) (c1 - c0) / 1000.0, alive, hb, rss0, rss1,
           n_users ? (double) (rss1 - rss0) / (double) n_users : 0.0);
    for (size_t i = 0; i < n_users; i++) {
        socp_tcp_conn_destroy(&many[i].conn);
    }
    kill(s_pid, SIGTERM);
    int st = 0;
    waitpid(s_pid, &st, 0);
    char cmd[1100];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    if (system(cmd) != 0) {
        fprintf(stderr, "bench_socpd: could not remove %s\n", dir);
    }
    free(many);
    free(users);
    free(sent_ns);
    free(lat);
    free(pfd);
    free(pub);
    socp_rsa_destroy(&ukey);
    return got == n_dms ? 0 : 1;
}
