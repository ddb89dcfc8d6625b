// socp_bench_setup.c: `socp bench` before and after the timed phase:
// connecting and identifying the virtual users (bounded, with a progress
// line), and the report (throughput, latency percentiles, errors, CPU of the
// host and the server, and the ratio to the RSA bound measured in the same
// run; text and JSON).
// Part of socp, a SOCP v1.3 client and server. The load generator itself:
// socp_bench.c; shared state: socp_bench_int.h.
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <poll.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "socp/socp_envelope.h"
#include "socp/socp_err.h"
#include "socp/socp_json.h"
#include "socp/socp_log.h"
#include "socp/socp_sig.h"
#include "socp/socp_uuid.h"
#include "socp/socp_ws.h"
#include "socp_bench_int.h"

// ---- setup ---------------------------------------------------------------------------

typedef struct {
    const uint8_t *der; // the key, PKCS#8 DER (each thread imports its own copy)
    size_t der_len;
    uint64_t until_ns;
    unsigned long ops;
    double cpu_s;
    bool failed;
} s_rate_job_t;

static void *
s_rate_thread(void *arg)
{
    s_rate_job_t *j = arg;
    socp_rsa_key_t *k = NULL;
    if (socp_rsa_private_import(j->der, j->der_len, &k) != 0) {
        j->failed = true;
        return NULL;
    }
    uint8_t sig[SOCP_RSA_BYTES];
    const char msg[] = "{\"ciphertext\":\"x\",\"from\":\"y\"}";
    struct timespec c0, c1;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &c0);
    while (socp_now_ns() < j->until_ns) {
        if (socp_rsa_sign(k, SOCP_RSA_SALT_MAX, msg, sizeof msg, sig) != 0) {
            j->failed = true;
            break;
        }
        j->ops++;
    }
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &c1);
    j->cpu_s = (double) (c1.tv_sec - c0.tv_sec) + (double) (c1.tv_nsec - c0.tv_nsec) / 1e9;
    socp_rsa_destroy(&k);
    return NULL;
}

// Private-op rate of this machine: one signing thread per core at once
// (cores of a VM need not be equally fast, so one core times the count
// would be wrong), the better of two 0.6 s rounds. Returns signatures per
// second per core (the all-core rate / cores); *per_cpu_out gets signatures
// per CPU second. 0 on failure.
double
socp_bench_sign_rate(socp_rsa_key_t *k, long cores, double *per_cpu_out)
{
    uint8_t *der = NULL;
    size_t der_len = 0;
    if (socp_rsa_private_export(k, SOCP_RSA_PRIV_DER, &der, &der_len) != 0) {
        return 0;
    }
    size_t n = cores < 1 ? 1 : cores > 256 ? 256 : (size_t) cores;
    pthread_t *t = calloc(n, sizeof *t);
    s_rate_job_t *jobs = calloc(n, sizeof *jobs);
    double best = 0, per_cpu = 0;
    for (int round = 0; round < 2 && t && jobs; round++) {
        uint64_t t0 = socp_now_ns();
        size_t started = 0;
        for (size_t i = 0; i < n; i++) {
            jobs[i] = (s_rate_job_t){der, der_len, t0 + 600000000ull, 0, 0, false};
            if (pthread_create(&t[i], NULL, s_rate_thread, &jobs[i]) != 0) {
                break;
            }
            started++;
        }
        unsigned long ops = 0;
        double cpu = 0;
        bool failed = started < n;
        for (size_t i = 0; i < started; i++) {
            pthread_join(t[i], NULL);
            ops += jobs[i].ops;
            cpu += jobs[i].cpu_s;
            failed |= jobs[i].failed;
        }
        double wall = (double) (socp_now_ns() - t0) / 1e9;
        if (failed) {
            best = 0;
            break;
        }
        double rate = (double) ops / wall / (double) n;
        if (rate > best) {
            best = rate;
            per_cpu = cpu > 0 ? (double) ops / cpu : 0;
        }
    }
    free(t);
    free(jobs);
    sodium_memzero(der, der_len);
    sodium_free(der);
    if (per_cpu_out) {
        *per_cpu_out = per_cpu;
    }
    return best;
}

// Connects u and says hello: the standard USER_HELLO (signed, addressed to
// the user itself, with enc_pubkey too: peer A requires it), or Impl14's
// account login.
int
socp_bench_connect(const s_opts_t *o, s_vu_t *u)
{
    int rc = socp_tcp_ws_connect(o->host, o->port, NULL, 10000, &u->conn);
    if (rc != 0) {
        fprintf(stderr, "socp bench: cannot connect to %s: %s\n", o->server, socp_strerror(rc));
        return rc;
    }
    u->last_hb = socp_now_ms();
    if (o->profile == S_IMPL14) {
        return socp_bench_login(o, u);
    }
    char *f = socp_bench_frame(
        u->key, "USER_HELLO", u->id, u->id, socp_wall_ms(),
        json_pack("{s:s,s:s,s:s}", "client", "socp-bench", "pubkey", u->pub, "enc_pubkey", u->pub));
    rc = f ? socp_tcp_conn_send_text(u->conn, f, strlen(f)) : SOCP_ECRYPTO;
    free(f);
    return rc;
}

double
socp_bench_cpu_self(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double) ru.ru_utime.tv_sec + (double) ru.ru_utime.tv_usec / 1e6 +
           (double) ru.ru_stime.tv_sec + (double) ru.ru_stime.tv_usec / 1e6;
}

double
socp_bench_cpu_pid(int pid)
{
    if (pid <= 0) {
        return -1;
    }
    char path[64], buf[2048];
    snprintf(path, sizeof path, "/proc/%d/stat", pid);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        return -1;
    }
    ssize_t n = read(fd, buf, sizeof buf - 1);
    close(fd);
    if (n <= 0) {
        return -1;
    }
    buf[n] = '\0';
    const char *p = strrchr(buf, ')');
    unsigned long long ut = 0, stt = 0;
    if (!p ||
        sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &ut, &stt) != 2) {
        return -1;
    }
    return (double) (ut + stt) / (double) sysconf(_SC_CLK_TCK);
}

// ---- report --------------------------------------------------------------------------

void
socp_bench_print_report(const s_opts_t *o, const s_report_t *r)
{
    const socp_bench_hist_t *h = &r->t.hist;
    double ms[5] = {(double) socp_bench_hist_pct(h, 50) / 1000.0,
                    (double) socp_bench_hist_pct(h, 90) / 1000.0,
                    (double) socp_bench_hist_pct(h, 99) / 1000.0,
                    (double) socp_bench_hist_pct(h, 99.9) / 1000.0, (double) h->max / 1000.0};
    uint64_t lost = r->t.sent - r->t.delivered;
    double cpu_per_msg = r->t.sent ? r->cpu_s / (double) r->t.sent : 0;
    double core_pct_per_k = cpu_per_msg * 1000.0 * 100.0; // % of one core per 1000 msg/s
    double ratio = r->bound > 0 ? r->throughput / r->bound : 0;
    if (o->json) {
        json_t *errs = json_object();
        for (size_t i = 0; i < r->t.nerrors; i++) {
            json_object_set_new(errs, r->t.errors[i].name,
                                json_integer((json_int_t) r->t.errors[i].count));
        }
        json_t *j = json_pack(
            "{s:s,s:s,s:s,s:I,s:I,s:f,s:f,s:b,s:f,s:f,s:I,s:I,s:I,s:I,s:I,s:I,s:o,"
            "s:{s:f,s:f,s:f,s:f,s:f,s:f},s:f,s:f,s:f,s:f,s:I,s:f,s:i,s:f,s:f}",
            "server", o->server, "server_profile", s_profile_names[o->profile], "mode",
            s_mode_names[o->mode], "users", (json_int_t) o->users, "threads",
            (json_int_t) o->threads, "duration_s", r->run_s, "rate_offered", o->rate, "interrupted",
            r->interrupted, "throughput", r->throughput, "sent_rate", r->offered, "sent",
            (json_int_t) r->t.sent, "delivered", (json_int_t) r->t.delivered, "lost",
            (json_int_t) lost, "duplicates", (json_int_t) r->t.dups, "verify_failures",
            (json_int_t) r->t.verify_fail, "backlog_skipped", (json_int_t) r->t.backlog, "errors",
            errs, "latency_ms", "p50", ms[0], "p90", ms[1], "p99", ms[2], "p99_9", ms[3], "max",
            ms[4], "mean", h->total ? h->sum / (double) h->total / 1000.0 : 0.0, "cpu_s", r->cpu_s,
            "cpu_s_per_msg", cpu_per_msg, "core_pct_per_1000_msg_s", core_pct_per_k,
            "server_cpu_s_per_msg",
            r->server_cpu_s >= 0 && r->t.delivered ? r->server_cpu_s / (double) r->t.delivered
                                                   : -1.0,
            "cores", (json_int_t) r->cores, "rsa_private_ops_per_s_per_core", r->sign_rate,
            "private_ops_per_msg", s_private_ops[o->mode], "rsa_bound_msg_s", r->bound,
            "ratio_to_bound", ratio);
        char *s = json_dumps(j, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
        printf("%s\n", s);
        free(s);
        json_decref(j);
    } else if (o->csv) {
        printf("mode,users,rate_offered,duration_s,sent,delivered,lost,errors,throughput,p50_ms,"
               "p90_ms,p99_ms,p99_9_ms,max_ms,cpu_s_per_msg,core_pct_per_1000_msg_s,rsa_bound,"
               "ratio,interrupted\n");
        uint64_t nerr = 0;
        for (size_t i = 0; i < r->t.nerrors; i++) {
            nerr += r->t.errors[i].count;
        }
        printf(
            "%s,%zu,%.1f,%.3f,%llu,%llu,%llu,%llu,%.1f,%.3f,%.3f,%.3f,%.3f,%.3f,%.6f,%.2f,%.1f,%."
            "3f,%d\n",
            s_mode_names[o->mode], o->users, o->rate, r->run_s, (unsigned long long) r->t.sent,
            (unsigned long long) r->t.delivered, (unsigned long long) lost,
            (unsigned long long) nerr, r->throughput, ms[0], ms[1], ms[2], ms[3], ms[4],
            cpu_per_msg, core_pct_per_k, r->bound, ratio, r->interrupted);
    } else {
        printf("socp bench: %s (profile %s), mode %s, %zu users, %zu threads%s\n", o->server,
               s_profile_names[o->profile], s_mode_names[o->mode], o->users, o->threads,
               r->interrupted ? "  (INTERRUPTED: partial report)" : "");
        if (o->rate > 0) {
            printf("  offered load      %.0f msg/s\n", o->rate);
        }
        printf("  timed phase       %.2f s\n", r->run_s);
        printf("  sent              %llu (%.1f msg/s)\n", (unsigned long long) r->t.sent,
               r->offered);
        printf("  delivered         %llu  throughput %.1f msg/s\n",
               (unsigned long long) r->t.delivered, r->throughput);
        printf("  lost              %llu   duplicates %llu   e2e verify failures %llu\n",
               (unsigned long long) lost, (unsigned long long) r->t.dups,
               (unsigned long long) r->t.verify_fail);
        printf("  latency ms        p50 %.2f  p90 %.2f  p99 %.2f  p99.9 %.2f  max %.2f\n", ms[0],
               ms[1], ms[2], ms[3], ms[4]);
        printf("  errors            ");
        if (r->t.nerrors == 0) {
            printf("none");
        }
        for (size_t i = 0; i < r->t.nerrors; i++) {
            printf("%s=%llu ", r->t.errors[i].name, (unsigned long long) r->t.errors[i].count);
        }
        printf("\n  bench CPU         %.2f s = %.1f us/msg = %.1f%% of one core per 1000 msg/s\n",
               r->cpu_s, cpu_per_msg * 1e6, core_pct_per_k);
        if (r->server_cpu_s >= 0) {
            printf("  server CPU        %.2f s = %.1f us/msg\n", r->server_cpu_s,
                   r->t.delivered ? r->server_cpu_s * 1e6 / (double) r->t.delivered : 0.0);
        }
        printf("  RSA bound         %ld cores x %.0f private ops/s / %d ops per msg = %.0f msg/s;"
               " ratio %.2f\n",
               r->cores, r->sign_rate, s_private_ops[o->mode], r->bound, ratio);
    }
    fflush(stdout);
}
