// sbench_test.c: `socp bench`: the histogram, and short runs against a real
// socpd whose own delivery counter must match what the bench counted, and
// against stand-ins for peer A's and Impl14's servers (tests/py/fake_*.py).
#include <fcntl.h>
#include <jansson.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "socp/socp_bench.h"
#include "socp/socp_common.h"
#include "socp_cli_helpers.h"
#include "socp_test.h"

SOCP_TEST(sbench_hist_percentiles)
{
    socp_bench_hist_t h;
    socp_bench_hist_init(&h);
    CHECK_EQ(socp_bench_hist_pct(&h, 50), 0u);
    for (uint64_t v = 1; v <= 100000; v++) {
        socp_bench_hist_add(&h, v);
    }
    CHECK_EQ(h.total, 100000u);
    CHECK_EQ(h.max, 100000u);
    static const double ps[] = {50, 90, 99, 99.9};
    for (size_t i = 0; i < SOCP_ARRAY_LEN(ps); i++) {
        double want = ps[i] * 1000.0;
        double got = (double) socp_bench_hist_pct(&h, ps[i]);
        CHECK_MSG(got >= want && got <= want * 1.032, "p%.1f = %.0f, want ~%.0f", ps[i], got, want);
    }
    CHECK_EQ(socp_bench_hist_pct(&h, 100), 100000u);
    // Small values are exact; huge values are clamped, not lost.
    socp_bench_hist_t s;
    socp_bench_hist_init(&s);
    for (uint64_t v = 0; v < 64; v++) {
        socp_bench_hist_add(&s, v);
    }
    CHECK_EQ(socp_bench_hist_pct(&s, 50), 31u);
    socp_bench_hist_add(&s, UINT64_MAX / 2);
    CHECK_EQ(s.total, 65u);
    socp_bench_hist_merge(&h, &s);
    CHECK_EQ(h.total, 100065u);
    CHECK_EQ(h.min, 0u);
}

typedef struct {
    int pid, out, err;
} s_proc_t;

// fork/exec with stdout and stderr on pipes.
static s_proc_t
s_run(const char *prog, const char *const args[])
{
    int o[2], e[2];
    CHECK(pipe(o) == 0 && pipe(e) == 0);
    fflush(NULL);
    pid_t pid = fork();
    CHECK(pid >= 0);
    if (pid == 0) {
        dup2(o[1], STDOUT_FILENO);
        dup2(e[1], STDERR_FILENO);
        close(o[0]);
        close(o[1]);
        close(e[0]);
        close(e[1]);
        const char *argv[40] = {prog};
        for (int i = 0; args[i] && i < 38; i++) {
            argv[i + 1] = args[i];
        }
        execv(socp_test_program(prog), (char *const *) argv);
        _exit(127);
    }
    close(o[1]);
    close(e[1]);
    return (s_proc_t){pid, o[0], e[0]};
}

// Reads fd to the end (or timeout) into a malloc'ed string.
static char *
s_slurp(int fd, int timeout_ms)
{
    size_t cap = 1 << 16, len = 0;
    char *buf = malloc(cap);
    uint64_t end = socp_now_ms() + (uint64_t) timeout_ms;
    while (socp_now_ms() < end) {
        struct pollfd p = {.fd = fd, .events = POLLIN};
        if (poll(&p, 1, (int) (end - socp_now_ms())) <= 0) {
            continue;
        }
        if (len + 4096 > cap) {
            cap *= 2;
            buf = realloc(buf, cap);
        }
        ssize_t n = read(fd, buf + len, cap - len - 1);
        if (n <= 0) {
            break;
        }
        len += (size_t) n;
    }
    buf[len] = '\0';
    return buf;
}

static s_proc_t
s_server(char *port, size_t size)
{
    char dir[4096];
    snprintf(dir, sizeof dir, "%s/srv", socp_test_tmpdir());
    const char *args[] = {"--port",       "0", "--data-dir", dir, "--plain-key",
                          "--rate-limit", "0", NULL};
    s_proc_t s = s_run("socpd", args);
    char line[512];
    CHECK(socp_test_read_line(s.out, line, sizeof line, 20000) > 0);
    const char *p = strstr(line, "127.0.0.1:");
    CHECK(p);
    p += strlen("127.0.0.1:");
    snprintf(port, size, "%.*s", (int) strspn(p, "0123456789"), p);
    return s;
}

// Seeds the bench key cache with the fixture keys (fast: no generation).
static void
s_seed(const char *dir, int users)
{
    static const char *const keys[] = {"rsa4096_4p_a.pem", "rsa4096_4p_b.pem", "rsa4096_2p_a.pem",
                                       "rsa4096_2p_b.pem"};
    char path[4200];
    snprintf(path, sizeof path, "%s/keys", dir);
    CHECK(mkdir(dir, 0700) == 0 && mkdir(path, 0700) == 0);
    for (int i = 0; i < users; i++) {
        char src[4200], dst[4300];
        snprintf(src, sizeof src, "%s/tests/fixtures/%s", socp_test_srcdir(), keys[i % 4]);
        snprintf(dst, sizeof dst, "%s/user-%05d.pem", path, i);
        CHECK(symlink(src, dst) == 0);
    }
}

// The server's own counter, from its shutdown log line.
static long long
s_server_delivered(s_proc_t *srv)
{
    kill(srv->pid, SIGTERM);
    char *log = s_slurp(srv->err, 10000);
    CHECK_EQ(socp_test_stop(srv->pid, 0, 5000), 0);
    const char *p = strstr(log, "router: ");
    CHECK_MSG(p, "socpd printed no router counters");
    long long n = atoll(p + strlen("router: "));
    free(log);
    return n;
}

static json_t *
s_bench(const char *port, const char *dir, const char *const extra[], int timeout_ms)
{
    char url[64];
    snprintf(url, sizeof url, "ws://127.0.0.1:%s", port);
    const char *args[40] = {"bench",  "--server", url,       "--data-dir", dir,
                            "--json", "--quiet",  "--drain", "5000"};
    int n = 9;
    for (int i = 0; extra[i]; i++) {
        args[n++] = extra[i];
    }
    args[n] = NULL;
    s_proc_t b = s_run("socp", args);
    char *out = s_slurp(b.out, timeout_ms);
    char *err = s_slurp(b.err, 1000);
    int st = socp_test_stop(b.pid, 0, 5000);
    if (socp_test_verbose()) {
        fprintf(stderr, "%s%s", out, err);
    }
    CHECK_MSG(st == 0, "socp bench exited %d: %s", st, err);
    CHECK_MSG(!strstr(err, "warning"), "socp bench warned: %s", err);
    json_t *r = json_loads(out, 0, NULL);
    CHECK_MSG(r, "socp bench printed no JSON report: %.300s", out);
    free(out);
    free(err);
    return r;
}

static json_int_t
s_int(json_t *r, const char *k)
{
    json_t *v = json_object_get(r, k);
    CHECK_MSG(json_is_integer(v), "report field %s missing", k);
    return json_integer_value(v);
}

static double
s_real(json_t *r, const char *k)
{
    json_t *v = json_object_get(r, k);
    CHECK_MSG(json_is_number(v), "report field %s missing", k);
    return json_number_value(v);
}

static void
s_check_sane(json_t *r)
{
    CHECK(s_int(r, "sent") > 0);
    CHECK_EQ(s_int(r, "lost"), 0);
    CHECK_EQ(s_int(r, "delivered"), s_int(r, "sent"));
    CHECK_EQ(s_int(r, "duplicates"), 0);
    CHECK_EQ(s_int(r, "verify_failures"), 0);
    CHECK_EQ(json_object_size(json_object_get(r, "errors")), 0u);
    json_t *l = json_object_get(r, "latency_ms");
    double p50 = s_real(l, "p50"), p99 = s_real(l, "p99"), mx = s_real(l, "max");
    CHECK(p50 > 0 && p50 <= p99 && p99 <= mx);
    CHECK(s_real(r, "throughput") > 0);
    CHECK(s_real(r, "rsa_private_ops_per_s_per_core") > 0);
    CHECK(s_real(r, "ratio_to_bound") > 0);
    CHECK(s_real(r, "cpu_s_per_msg") > 0);
}

SOCP_TEST_T(sbench_closed_matches_socpd, 60)
{
    char port[16], dir[4200];
    s_proc_t srv = s_server(port, sizeof port);
    snprintf(dir, sizeof dir, "%s/bench", socp_test_tmpdir());
    s_seed(dir, 4);
    const char *extra[] = {"--users", "4", "--duration", "1.5", NULL};
    json_t *r = s_bench(port, dir, extra, 30000);
    s_check_sane(r);
    CHECK_STREQ(json_string_value(json_object_get(r, "mode")), "closed");
    // The server counted exactly the DMs the receivers counted.
    CHECK_EQ(s_server_delivered(&srv), (long long) s_int(r, "delivered"));
    json_decref(r);
}

SOCP_TEST_T(sbench_presigned_and_e2e, 90)
{
    char port[16], dir[4200];
    s_proc_t srv = s_server(port, sizeof port);
    snprintf(dir, sizeof dir, "%s/bench", socp_test_tmpdir());
    s_seed(dir, 4);
    const char *pre[] = {"--users",   "4",      "--duration", "1", "--mode",
                         "presigned", "--rate", "200",        NULL};
    json_t *r = s_bench(port, dir, pre, 30000);
    s_check_sane(r);
    CHECK_EQ(s_int(r, "private_ops_per_msg"), 1);
    long long total = s_int(r, "delivered");
    // The offered rate is honoured within 20%.
    double sent_rate = s_real(r, "sent_rate");
    CHECK_MSG(sent_rate > 160 && sent_rate < 240, "sent %.0f msg/s for --rate 200", sent_rate);
    json_decref(r);
    const char *e2e[] = {"--users", "4", "--duration", "1", "--mode", "e2e", NULL};
    r = s_bench(port, dir, e2e, 30000);
    s_check_sane(r);
    CHECK_EQ(s_int(r, "private_ops_per_msg"), 4);
    total += s_int(r, "delivered");
    json_decref(r);
    CHECK_EQ(s_server_delivered(&srv), total);
}

// Ctrl-C: a partial report, promptly.
SOCP_TEST_T(sbench_sigint_partial_report, 60)
{
    char port[16], dir[4200], url[64];
    s_server(port, sizeof port);
    snprintf(dir, sizeof dir, "%s/bench", socp_test_tmpdir());
    snprintf(url, sizeof url, "ws://127.0.0.1:%s", port);
    s_seed(dir, 2);
    const char *args[] = {"bench", "--server",   url,   "--data-dir", dir, "--users",
                          "2",     "--duration", "120", "--csv",      NULL};
    s_proc_t b = s_run("socp", args);
    // Wait for the progress line (it shows once messages flow).
    uint64_t end = socp_now_ms() + 20000;
    char buf[4096];
    size_t len = 0;
    bool progress = false;
    while (!progress && socp_now_ms() < end) {
        struct pollfd p = {.fd = b.err, .events = POLLIN};
        if (poll(&p, 1, 200) > 0) {
            ssize_t n = read(b.err, buf + len, sizeof buf - 1 - len);
            CHECK(n > 0);
            len += (size_t) n;
            buf[len] = '\0';
            progress = strstr(buf, "delivered") != NULL;
            if (len > sizeof buf / 2) {
                len = 0;
            }
        }
    }
    CHECK(progress);
    uint64_t t0 = socp_now_ms();
    kill(b.pid, SIGINT);
    char *out = s_slurp(b.out, 10000);
    CHECK_EQ(socp_test_stop(b.pid, 0, 5000), 0);
    CHECK(socp_now_ms() - t0 < 5000);
    // CSV: a header and one row whose last column says "interrupted".
    char *row = strchr(out, '\n');
    CHECK(row && strncmp(out, "mode,users", 10) == 0);
    row++;
    CHECK(strncmp(row, "closed,2,", 9) == 0);
    size_t rl = strlen(row);
    while (rl && row[rl - 1] == '\n') {
        row[--rl] = '\0';
    }
    CHECK(rl > 2 && strcmp(row + rl - 2, ",1") == 0);
    free(out);
}

// A stand-in for a peer's server (tests/py/<script>); writes its port.
static socp_cli_t
s_fake(const char *script, char *port, size_t size)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/tests/py/%s", socp_test_srcdir(), script);
    const char *argv[] = {"python3", path, NULL};
    socp_cli_t f = socp_cli_spawn("/usr/bin/python3", argv);
    char line[256];
    socp_cli_expect(&f, "listening ", 20000, line, sizeof line);
    snprintf(port, size, "%.15s", line + strlen("listening "));
    return f;
}

// Keep-alives every 200 ms: one the server refuses shows as an error.
static const char *const s_fake_run[] = {"--users",     "4",   "--duration", "1.5",
                                         "--heartbeat", "200", NULL};

// Peer A's server: detected by its ERROR UNKNOWN_TYPE for LIST_REQUEST; it
// takes a hello only with enc_pubkey, and HEARTBEAT is not sent to it.
SOCP_TEST_T(sbench_peer_a_profile, 60)
{
    char port[16], dir[4200], n[32];
    socp_cli_t f = s_fake("fake_peer_a_server.py", port, sizeof port);
    snprintf(dir, sizeof dir, "%s/bench", socp_test_tmpdir());
    s_seed(dir, 4);
    json_t *r = s_bench(port, dir, s_fake_run, 30000);
    s_check_sane(r);
    CHECK_STREQ(json_string_value(json_object_get(r, "server_profile")), "peer-a");
    socp_cli_fake(&f, "delivered", n, sizeof n);
    CHECK_EQ(atoll(n), (long long) s_int(r, "delivered"));
    json_decref(r);
}

// Impl14's server: detected by its USER_HELLO_ACK; each user registers an
// account and logs in, DMs carry payload.to and payload.sender (without
// them it drops the connection), and LIST_REQUEST replaces HEARTBEAT.
SOCP_TEST_T(sbench_impl14_profile, 60)
{
    char port[16], dir[4200], n[32];
    socp_cli_t f = s_fake("fake_impl14_server.py", port, sizeof port);
    snprintf(dir, sizeof dir, "%s/bench", socp_test_tmpdir());
    s_seed(dir, 4);
    json_t *r = s_bench(port, dir, s_fake_run, 30000);
    s_check_sane(r);
    CHECK_STREQ(json_string_value(json_object_get(r, "server_profile")), "impl14");
    socp_cli_fake(&f, "registers", n, sizeof n);
    CHECK_STREQ(n, "4");
    socp_cli_fake(&f, "logins", n, sizeof n);
    CHECK_STREQ(n, "4");
    json_decref(r);
}
