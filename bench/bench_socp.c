// bench_socp.c: the socp client's DM throughput against a real socpd, with
// the RSA private-operation rate of the client's key type measured in the
// same run.
//
//   build/<dir>/bench_socp [N [KEY_FIXTURE]]     (default 2000 DMs, rsa4096_4p_a.pem)
//   SOCP_BENCH_KEEP=1 keeps the temp dir (logs, databases, perf data);
//   SOCP_BENCH_NOPERF=1 skips the profiled run.
//
// Starts socpd (rate limit off) and two `socp` processes in script mode on
// loopback (alice sends, bob receives; programs from the bench's own build
// directory, keys from tests/fixtures). The limit P is the RSA-4096 sign
// (PSS, max salt) and OAEP decrypt rate of the key type with one thread per
// core at once, sampled for 1 s just before and just after each phase; the
// phase is compared with the mean of the two (the VM's speed drifts by
// 15-30% over tens of seconds). The ratios against the best sample of the
// whole run are printed too. Phases of N DMs each:
// 1. together: alice, socpd and bob share the cores. Bound P/4: alice signs
//    twice per DM (content_sig, transport sig), socpd signs USER_DELIVER,
//    bob decrypts once.
// 2. send alone: socpd and bob are paused (SIGSTOP), so alice has every
//    core; a DM counts when alice reports it accepted (encrypted, signed
//    twice, durable in the outbox). Bound P/2.
// 3. receive alone: socpd resumes and relays everything to bob's connection
//    while bob is still paused; then bob resumes and decrypts and verifies
//    the backlog with every core. Bound P (one decryption per DM).
// Rates are taken over the whole phase (start to last DM); the rate from the
// (N/10)th DM on is printed beside it. That one is not the measure: in the
// receive phase bob's net reads and checks the whole backlog early, so part
// of the work of the later DMs is done before the mark.
// Phases 2 and 3 run again under perf for the CPU outside libcrypto (perf
// samples alice, then bob, with DWARF call graphs; a sample counts as
// libcrypto's when libcrypto is anywhere on its stack, so the locks and copies
// libcrypto calls in libc are libcrypto's) and for system calls and context
// switches per DM. The rates never come from the profiled run: perf takes
// 5-10% of the cores. Without /usr/bin/perf that part is skipped.
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "socp/socp_common.h"
#include "socp/socp_rsa.h"

#ifndef SOCP_SRCDIR
#define SOCP_SRCDIR "."
#endif

static char s_bindir[4096];
static char s_tmp[4096];
static pid_t s_children[8]; // spawned socpd / socp, killed at exit
static int s_nchildren;
static const char *s_label = ""; // the phase the progress line names

// A progress line on stderr when it is a terminal (the bench runs for
// about 40 s): `done` of `goal`, or just the label when goal is 0.
static void
s_progress(unsigned long done, unsigned long goal)
{
    static int tty = -1;
    if (tty < 0) {
        tty = isatty(STDERR_FILENO);
    }
    if (!tty) {
        return;
    }
    if (goal) {
        int fill = (int) (done * 20 / goal);
        fprintf(stderr, "\r\x1b[K  %s [%-20.*s] %lu/%lu", s_label, fill, "####################",
                done, goal);
    } else if (*s_label) {
        fprintf(stderr, "\r\x1b[K  %s ...", s_label);
    } else {
        fprintf(stderr, "\r\x1b[K");
    }
}

static double
s_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double) ts.tv_sec + (double) ts.tv_nsec / 1e9;
}

static socp_rsa_key_t *
s_load(const char *fixture)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/tests/fixtures/%s", SOCP_SRCDIR, fixture);
    FILE *f = fopen(path, "rb");
    if (!f) {
        fprintf(stderr, "bench_socp: cannot read %s\n", path);
        exit(1);
    }
    uint8_t pem[16384];
    size_t len = fread(pem, 1, sizeof pem, f);
    fclose(f);
    socp_rsa_key_t *key = NULL;
    if (socp_rsa_private_import(pem, len, &key) != 0) {
        fprintf(stderr, "bench_socp: %s is not a usable private key\n", path);
        exit(1);
    }
    return key;
}

// ---- RSA rates -------------------------------------------------------------------------

typedef struct {
    const char *fixture;
    int op; // 0 sign, 1 decrypt, 2 encrypt, 3 verify
    double seconds;
    unsigned long done;
    double cpu; // thread CPU seconds spent
} s_rsa_job_t;

static void *
s_rsa_run(void *arg)
{
    s_rsa_job_t *j = arg;
    socp_rsa_key_t *key = s_load(j->fixture);
    uint8_t msg[446] = {1, 2, 3}, ct[SOCP_RSA_BYTES], sig[SOCP_RSA_BYTES], out[SOCP_RSA_OAEP_MAX];
    size_t out_len;
    if (socp_rsa_encrypt(key, msg, sizeof msg, ct) != 0 ||
        socp_rsa_sign(key, SOCP_RSA_SALT_MAX, msg, 200, sig) != 0) {
        fprintf(stderr, "bench_socp: RSA setup failed\n");
        exit(1);
    }
    struct timespec c0, c1;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &c0);
    double end = s_now() + j->seconds;
    while (s_now() < end) {
        for (int i = 0; i < 4; i++) {
            int rc = 0;
            switch (j->op) {
                case 0:
                    rc = socp_rsa_sign(key, SOCP_RSA_SALT_MAX, msg, 200, sig);
                    break;
                case 1:
                    rc = socp_rsa_decrypt(key, ct, sizeof ct, out, &out_len);
                    break;
                case 2:
                    rc = socp_rsa_encrypt(key, msg, sizeof msg, ct);
                    break;
                default:
                    rc = socp_rsa_verify(key, msg, 200, sig, sizeof sig);
                    break;
            }
            if (rc != 0) {
                fprintf(stderr, "bench_socp: RSA op %d failed\n", j->op);
                exit(1);
            }
            j->done++;
        }
    }
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &c1);
    j->cpu = (double) (c1.tv_sec - c0.tv_sec) + (double) (c1.tv_nsec - c0.tv_nsec) / 1e9;
    socp_rsa_destroy(&key);
    return NULL;
}

// Operations per second of `op` on `threads` threads (wall clock); the CPU
// seconds one operation takes go to *cpu_per_op when not NULL.
static double
s_rsa_rate(const char *fixture, int op, unsigned threads, double seconds, double *cpu_per_op)
{
    pthread_t t[64];
    s_rsa_job_t jobs[64];
    threads = threads > 64 ? 64 : threads;
    double t0 = s_now();
    for (unsigned i = 0; i < threads; i++) {
        jobs[i] = (s_rsa_job_t){fixture, op, seconds, 0, 0};
        if (pthread_create(&t[i], NULL, s_rsa_run, &jobs[i]) != 0) {
            exit(1);
        }
    }
    unsigned long total = 0;
    double cpu = 0;
    for (unsigned i = 0; i < threads; i++) {
        pthread_join(t[i], NULL);
        total += jobs[i].done;
        cpu += jobs[i].cpu;
    }
    if (cpu_per_op) {
        *cpu_per_op = total ? cpu / (double) total : 0;
    }
    return (double) total / (s_now() - t0);
}

// The limit: all-core sign and decrypt rates, sampled right before and right
// after each phase (the VM's speed drifts by 15-30% over tens of seconds, so
// a phase is compared with the cores' speed around it, not with a sample
// taken a minute earlier). `best` keeps the best sample of the run.
typedef struct {
    const char *fixture;
    unsigned cores;
    double sign, dec;           // the last sample
    double best_sign, best_dec; // the best of the run
} s_limit_t;

static void
s_limit_sample(s_limit_t *l, bool sign, bool dec)
{
    s_label = "measuring the RSA limit";
    s_progress(0, 0);
    if (sign) {
        l->sign = s_rsa_rate(l->fixture, 0, l->cores, 1.0, NULL);
        l->best_sign = l->sign > l->best_sign ? l->sign : l->best_sign;
    }
    if (dec) {
        l->dec = s_rsa_rate(l->fixture, 1, l->cores, 1.0, NULL);
        l->best_dec = l->dec > l->best_dec ? l->dec : l->best_dec;
    }
}

// ---- processes -------------------------------------------------------------------------

typedef struct {
    pid_t pid;
    int in, out;
    char buf[1 << 16];
    size_t len;
} s_proc_t;

static void
s_spawn(s_proc_t *p, const char *prog, const char *const argv[])
{
    int in[2], out[2];
    if (pipe(in) != 0 || pipe(out) != 0) {
        exit(1);
    }
    char path[8192], log[8192];
    snprintf(path, sizeof path, "%s/%s", s_bindir, prog);
    // stderr (logs) to TMP/<prog>.<n>.log, kept with SOCP_BENCH_KEEP=1.
    snprintf(log, sizeof log, "%s/%s.%d.log", s_tmp, prog, s_nchildren + 1);
    fflush(NULL);
    p->pid = fork();
    if (p->pid == 0) {
        dup2(in[0], STDIN_FILENO);
        dup2(out[1], STDOUT_FILENO);
        int logfd = open(log, O_WRONLY | O_CREAT | O_TRUNC, 0600);
        dup2(logfd >= 0 ? logfd : open("/dev/null", O_WRONLY), STDERR_FILENO);
        close(in[0]);
        close(in[1]);
        close(out[0]);
        close(out[1]);
        execv(path, (char *const *) argv);
        _exit(127);
    }
    close(in[0]);
    close(out[1]);
    p->in = in[1];
    p->out = out[0];
    p->len = 0;
    fcntl(p->in, F_SETFL, O_NONBLOCK);
    if (s_nchildren < (int) SOCP_ARRAY_LEN(s_children)) {
        s_children[s_nchildren++] = p->pid;
    }
}

// At exit, on every path (a failed phase included): no socpd or socp is
// left running.
static void
s_kill_children(void)
{
    for (int i = 0; i < s_nchildren; i++) {
        // Only a child of ours not reaped yet (never a recycled pid).
        if (s_children[i] > 0 && waitpid(s_children[i], NULL, WNOHANG) == 0) {
            kill(s_children[i], SIGKILL);
            waitpid(s_children[i], NULL, 0);
        }
    }
}

// Reads what is available; calls on_line for each complete line.
static int
s_pump(s_proc_t *p, void (*on_line)(const char *line, void *arg), void *arg)
{
    ssize_t r = read(p->out, p->buf + p->len, sizeof p->buf - 1 - p->len);
    if (r <= 0) {
        return r == 0 ? -1 : 0;
    }
    p->len += (size_t) r;
    char *start = p->buf;
    char *nl;
    while ((nl = memchr(start, '\n', p->len - (size_t) (start - p->buf)))) {
        *nl = '\0';
        on_line(start, arg);
        start = nl + 1;
    }
    p->len -= (size_t) (start - p->buf);
    memmove(p->buf, start, p->len);
    if (p->len == sizeof p->buf - 1) {
        p->len = 0; // an absurdly long line: drop it
    }
    return 0;
}

typedef struct {
    const char *want;
    bool seen;
} s_want_t;

static void
s_on_want(const char *line, void *arg)
{
    s_want_t *st = arg;
    if (strstr(line, st->want)) {
        st->seen = true;
    }
}

static bool
s_wait_line(s_proc_t *p, const char *want, double timeout)
{
    double end = s_now() + timeout;
    s_want_t st = {want, false};
    while (!st.seen && s_now() < end) {
        struct pollfd pfd = {p->out, POLLIN, 0};
        if (poll(&pfd, 1, 100) > 0 && s_pump(p, s_on_want, &st) < 0) {
            return false;
        }
    }
    return st.seen;
}

// Removes the bench's temp tree (a few levels deep).
static void
s_rmtree(const char *path)
{
    DIR *d = opendir(path);
    if (d) {
        struct dirent *e;
        while ((e = readdir(d))) {
            if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0) {
                char sub[8192];
                snprintf(sub, sizeof sub, "%s/%s", path, e->d_name);
                s_rmtree(sub);
            }
        }
        closedir(d);
        rmdir(path);
    } else {
        unlink(path);
    }
}

// utime + stime of a process in seconds.
static double
s_cpu(pid_t pid)
{
    char path[64], buf[2048];
    snprintf(path, sizeof path, "/proc/%d/stat", (int) pid);
    FILE *f = fopen(path, "r");
    if (!f) {
        return 0;
    }
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    const char *p = strrchr(buf, ')');
    unsigned long ut = 0, st = 0;
    if (!p || sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu", &ut, &st) != 2) {
        return 0;
    }
    return (double) (ut + st) / (double) sysconf(_SC_CLK_TCK);
}

// Counts alice's acceptances and bob's verified deliveries of one phase,
// with the time the count passed `mark` (a tenth of the phase).
typedef struct {
    char sent_tag[32], got_tag[32]; // "you -> bob: a-", "alice -> you: a-"
    unsigned long sent, got, mark;
    double t0, mark_sent, mark_got, last_got, last_sent;
} s_count_t;

static void
s_count_init(s_count_t *c, char phase, unsigned long n)
{
    memset(c, 0, sizeof *c);
    snprintf(c->sent_tag, sizeof c->sent_tag, "you -> bob: %c-", phase);
    snprintf(c->got_tag, sizeof c->got_tag, "alice -> you: %c-", phase);
    c->mark = n / 10 ? n / 10 : 1;
    c->t0 = s_now();
}

static void
s_on_alice(const char *line, void *arg)
{
    s_count_t *c = arg;
    if (strstr(line, c->sent_tag)) {
        c->sent++;
        c->last_sent = s_now();
        if (c->sent == c->mark) {
            c->mark_sent = c->last_sent;
        }
    }
}

static void
s_on_bob(const char *line, void *arg)
{
    s_count_t *c = arg;
    if (strstr(line, c->got_tag)) {
        if (strstr(line, "] [")) {
            fprintf(stderr, "bench_socp: not verified: %s\n", line);
            exit(1);
        }
        c->got++;
        c->last_got = s_now();
        if (c->got == c->mark) {
            c->mark_got = c->last_got;
        }
    }
}

// Sustained rate (from the mark to the last) and whole-phase rate.
typedef struct {
    double sustained, whole;
} s_rate_t;

static s_rate_t
s_rate(unsigned long count, unsigned long mark, double t0, double t_mark, double t_last)
{
    s_rate_t r = {0, 0};
    if (count > mark && t_last > t_mark) {
        r.sustained = (double) (count - mark) / (t_last - t_mark);
    }
    if (t_last > t0) {
        r.whole = (double) count / (t_last - t0);
    }
    return r;
}

// Feeds alice `n` "/tell bob <phase>-NNNNNN" lines as fast as she reads them
// and counts her acceptances and bob's verified deliveries until
// `sent_goal` and `got_goal` are reached (or the deadline passes). A stopped
// process's pipe is simply not read.
static void
s_drive(s_proc_t *alice,
        s_proc_t *bob,
        s_count_t *c,
        char phase,
        unsigned long n,
        unsigned long sent_goal,
        unsigned long got_goal,
        double deadline)
{
    unsigned long written = 0;
    char line[128];
    size_t off = 0, llen = 0;
    double shown = 0;
    while ((c->sent < sent_goal || c->got < got_goal) && s_now() < deadline) {
        if (s_now() - shown > 0.2) {
            shown = s_now();
            s_progress(c->sent + c->got, sent_goal + got_goal);
        }
        struct pollfd pfd[3] = {{alice->out, POLLIN, 0},
                                {bob->out, POLLIN, 0},
                                {alice->in, written < n ? POLLOUT : 0, 0}};
        if (poll(pfd, 3, 100) <= 0) {
            continue;
        }
        if (pfd[0].revents & (POLLIN | POLLHUP)) {
            (void) s_pump(alice, s_on_alice, c);
        }
        if (pfd[1].revents & (POLLIN | POLLHUP)) {
            (void) s_pump(bob, s_on_bob, c);
        }
        while ((pfd[2].revents & POLLOUT) && written < n) {
            if (off == llen) {
                llen = (size_t) snprintf(line, sizeof line, "/tell bob %c-%06lu\n", phase, written);
                off = 0;
            }
            ssize_t w = write(alice->in, line + off, llen - off);
            if (w <= 0) {
                break;
            }
            off += (size_t) w;
            if (off == llen) {
                written++;
            }
        }
    }
}

// ---- profile: the share of a process's CPU inside libcrypto -------------------------
// Sampled with perf (Debian's linux-perf) with DWARF call graphs, so time in
// libc called by libcrypto (locks, memcpy) counts as libcrypto's: the
// "children" share of libcrypto.so. The bench runs perf; the client never
// spawns anything.

// Attaches perf to `target` (every thread) writing to `out`: `stat` counts
// system calls and context switches (CSV), otherwise it records DWARF call
// graphs. Returns perf's pid, or -1 without perf (or with SOCP_BENCH_NOPERF).
static pid_t
s_perf_attach(pid_t target, const char *out, bool stat)
{
    if (getenv("SOCP_BENCH_NOPERF") || access("/usr/bin/perf", X_OK) != 0) {
        return -1;
    }
    char pidtxt[32];
    snprintf(pidtxt, sizeof pidtxt, "%d", (int) target);
    fflush(NULL);
    pid_t pid = fork();
    if (pid == 0) {
        int devnull = open("/dev/null", O_RDWR);
        dup2(devnull, STDIN_FILENO);
        dup2(devnull, STDOUT_FILENO);
        dup2(devnull, STDERR_FILENO);
        if (stat) {
            execl("/usr/bin/perf", "perf", "stat", "-x", ",", "-e",
                  "raw_syscalls:sys_enter,context-switches", "-o", out, "-p", pidtxt,
                  (char *) NULL);
        } else {
            execl("/usr/bin/perf", "perf", "record", "-q", "-F", "499", "--call-graph",
                  "dwarf,8192", "-o", out, "-p", pidtxt, (char *) NULL);
        }
        _exit(127);
    }
    // perf needs a moment to attach; the phase is seconds long, so the
    // first samples missed do not matter, but wait until the file exists.
    double end = s_now() + 5;
    while (access(out, F_OK) != 0 && s_now() < end) {
        poll(NULL, 0, 20);
    }
    return pid;
}

// Stops perf and returns the share of samples with libcrypto on the stack,
// or -1 when there is no profile.
static double
s_perf_stop(pid_t perf, const char *data)
{
    if (perf <= 0) {
        return -1;
    }
    kill(perf, SIGINT);
    int status = 0;
    waitpid(perf, &status, 0);
    char report[8400];
    snprintf(report, sizeof report, "%s.txt", data);
    fflush(NULL);
    pid_t pid = fork();
    if (pid == 0) {
        int fd = open(report, O_WRONLY | O_CREAT | O_TRUNC, 0600);
        int devnull = open("/dev/null", O_RDWR);
        dup2(devnull, STDIN_FILENO);
        dup2(fd, STDOUT_FILENO);
        dup2(devnull, STDERR_FILENO);
        execl("/usr/bin/perf", "perf", "report", "-i", data, "--children", "--sort", "dso",
              "--stdio", "-g", "none", (char *) NULL);
        _exit(127);
    }
    waitpid(pid, &status, 0);
    FILE *f = fopen(report, "r");
    if (!f) {
        return -1;
    }
    char line[512];
    double share = -1;
    while (fgets(line, sizeof line, f)) {
        double children;
        if (line[0] != '#' && strstr(line, "libcrypto") && sscanf(line, " %lf%%", &children) == 1) {
            share = children / 100.0;
        }
    }
    fclose(f);
    return share;
}

// Stops perf stat; *syscalls and *switches get the counts (or -1).
static void
s_stat_stop(pid_t perf, const char *out, double *syscalls, double *switches)
{
    *syscalls = *switches = -1;
    if (perf <= 0) {
        return;
    }
    kill(perf, SIGINT);
    waitpid(perf, NULL, 0);
    FILE *f = fopen(out, "r");
    if (!f) {
        return;
    }
    char line[512];
    while (fgets(line, sizeof line, f)) {
        double v;
        if (sscanf(line, "%lf,", &v) == 1) {
            if (strstr(line, "raw_syscalls:sys_enter")) {
                *syscalls = v;
            } else if (strstr(line, "context-switches")) {
                *switches = v;
            }
        }
    }
    fclose(f);
}

// Waits until `pid` has used no CPU for half a second (60 s at most).
static void
s_wait_idle(pid_t pid)
{
    double end = s_now() + 60, last = s_cpu(pid);
    int quiet = 0;
    while (quiet < 5 && s_now() < end) {
        poll(NULL, 0, 100);
        double now = s_cpu(pid);
        quiet = now == last ? quiet + 1 : 0;
        last = now;
    }
}

// One send-alone and one receive-alone phase of `n` DMs tagged `phase`.
typedef struct {
    s_rate_t send, recv;
    double alice_cpu, bob_cpu, alice_util, bob_util; // *_util: cores kept busy
    double alice_in, bob_in;                         // share in libcrypto (perf), -1 = none
    double alice_sys, alice_csw, bob_sys, bob_csw;   // syscalls, context switches (-1 = none)
    double sign_limit, dec_limit; // around the send phase, around the receive phase
} s_alone_t;

static bool
s_alone(s_proc_t *srv,
        s_proc_t *alice,
        s_proc_t *bob,
        char phase,
        unsigned long n,
        bool profile,
        char perf_data[2][4300],
        s_limit_t *limit,
        s_alone_t *out)
{
    s_limit_sample(limit, true, false);
    double before = limit->sign;
    // Send alone: socpd and bob are stopped, so alice has every core; her
    // frames wait in her durable outbox and the socket buffers.
    kill(srv->pid, SIGSTOP);
    kill(bob->pid, SIGSTOP);
    pid_t perf = profile ? s_perf_attach(alice->pid, perf_data[0], false) : -1;
    char stat_out[4400];
    snprintf(stat_out, sizeof stat_out, "%.4290s.stat", perf_data[0]);
    pid_t stat = profile ? s_perf_attach(alice->pid, stat_out, true) : -1;
    double cpu0 = s_cpu(alice->pid);
    s_count_t c;
    s_count_init(&c, phase, n);
    s_label = profile ? "send alone, under perf" : "send alone";
    s_drive(alice, bob, &c, phase, n, n, 0, c.t0 + 60.0 + (double) n / 20.0);
    out->send = s_rate(c.sent, c.mark, c.t0, c.mark_sent, c.last_sent);
    out->alice_cpu = s_cpu(alice->pid) - cpu0;
    out->alice_util = c.last_sent > c.t0 ? out->alice_cpu / (c.last_sent - c.t0) : 0;
    s_stat_stop(stat, stat_out, &out->alice_sys, &out->alice_csw);
    out->alice_in = profile ? s_perf_stop(perf, perf_data[0]) : -1;
    unsigned long sent = c.sent;
    s_limit_sample(limit, true, false);
    out->sign_limit = (before + limit->sign) / 2.0;

    // socpd relays it all to bob's connection (bob still stopped).
    kill(srv->pid, SIGCONT);
    s_label = "socpd relays the backlog to bob";
    s_progress(0, 0);
    s_wait_idle(srv->pid);
    s_limit_sample(limit, false, true);
    before = limit->dec;

    // Receive alone: bob decrypts and verifies with every core.
    perf = profile ? s_perf_attach(bob->pid, perf_data[1], false) : -1;
    snprintf(stat_out, sizeof stat_out, "%.4290s.stat", perf_data[1]);
    stat = profile ? s_perf_attach(bob->pid, stat_out, true) : -1;
    cpu0 = s_cpu(bob->pid);
    double t0 = s_now();
    unsigned long sent_tag = c.sent;
    s_count_init(&c, phase, n);
    c.sent = sent_tag;
    c.t0 = t0;
    kill(bob->pid, SIGCONT);
    s_label = profile ? "receive alone, under perf" : "receive alone";
    s_drive(alice, bob, &c, phase, 0, 0, n, t0 + 60.0 + (double) n / 20.0);
    out->recv = s_rate(c.got, c.mark, c.t0, c.mark_got, c.last_got);
    out->bob_cpu = s_cpu(bob->pid) - cpu0;
    out->bob_util = c.last_got > t0 ? out->bob_cpu / (c.last_got - t0) : 0;
    s_stat_stop(stat, stat_out, &out->bob_sys, &out->bob_csw);
    out->bob_in = profile ? s_perf_stop(perf, perf_data[1]) : -1;
    s_limit_sample(limit, false, true);
    out->dec_limit = (before + limit->dec) / 2.0;
    if (sent < n || c.got < n) {
        fprintf(stderr, "bench_socp: alone (%c): only %lu accepted, %lu received of %lu\n", phase,
                sent, c.got, n);
        return false;
    }
    return true;
}

int
main(int argc, char **argv)
{
    unsigned long n = argc > 1 ? strtoul(argv[1], NULL, 10) : 2000;
    const char *fixture = argc > 2 ? argv[2] : "rsa4096_4p_a.pem";
    const char *fixture_b = strstr(fixture, "_2p_") ? "rsa4096_2p_b.pem" : "rsa4096_4p_b.pem";
    if (n == 0 || n > 1000000) {
        fprintf(stderr, "usage: bench_socp [N [KEY_FIXTURE]]\n");
        return 2;
    }
    signal(SIGPIPE, SIG_IGN);
    atexit(s_kill_children);
    char self[4096];
    ssize_t sl = readlink("/proc/self/exe", self, sizeof self - 1);
    if (sl <= 0) {
        return 1;
    }
    self[sl] = '\0';
    snprintf(s_bindir, sizeof s_bindir, "%.*s", (int) (strrchr(self, '/') - self), self);
    snprintf(s_tmp, sizeof s_tmp, "/tmp/bench_socp.XXXXXX");
    if (!mkdtemp(s_tmp)) {
        return 1;
    }
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    cores = cores < 1 ? 1 : cores;

    // 1. RSA rates of the client's key type, in this run.
    double sign1 = s_rsa_rate(fixture, 0, 1, 1.0, NULL);
    double dec1 = s_rsa_rate(fixture, 1, 1, 1.0, NULL);
    double enc1 = s_rsa_rate(fixture, 2, 1, 0.5, NULL);
    double ver1 = s_rsa_rate(fixture, 3, 1, 0.5, NULL);
    s_limit_t limit = {.fixture = fixture, .cores = (unsigned) cores};

    // 2. socpd + two clients.
    char srvdir[4200], adir[4200], bdir[4200], akey[4200], bkey[4200];
    snprintf(srvdir, sizeof srvdir, "%s/srv", s_tmp);
    snprintf(adir, sizeof adir, "%s/alice", s_tmp);
    snprintf(bdir, sizeof bdir, "%s/bob", s_tmp);
    snprintf(akey, sizeof akey, "%s/tests/fixtures/%s", SOCP_SRCDIR, fixture);
    snprintf(bkey, sizeof bkey, "%s/tests/fixtures/%s", SOCP_SRCDIR, fixture_b);
    s_proc_t *srv = calloc(1, sizeof *srv), *alice = calloc(1, sizeof *alice),
             *bob = calloc(1, sizeof *bob);
    const char *sargs[] = {"socpd",           "--port",       "0", "--data-dir",  srvdir,
                           "--plain-key",     "--rate-limit", "0", "--log-level", "error",
                           "--max-output-kb", "1048576",      NULL};
    s_spawn(srv, "socpd", sargs);
    // socpd prints "listening ws://127.0.0.1:PORT id=..." first.
    char port[16] = "";
    {
        double end = s_now() + 20;
        while (!port[0] && s_now() < end) {
            struct pollfd pfd = {srv->out, POLLIN, 0};
            if (poll(&pfd, 1, 100) > 0) {
                ssize_t r = read(srv->out, srv->buf + srv->len, sizeof srv->buf - 1 - srv->len);
                if (r <= 0) {
                    break;
                }
                srv->len += (size_t) r;
                srv->buf[srv->len] = '\0';
                const char *p = strstr(srv->buf, "127.0.0.1:");
                if (p && strchr(p, '\n')) {
                    p += strlen("127.0.0.1:");
                    snprintf(port, sizeof port, "%.*s", (int) strspn(p, "0123456789"), p);
                }
            }
        }
    }
    if (!port[0]) {
        fprintf(stderr, "bench_socp: socpd did not start (is it built next to bench_socp?)\n");
        return 1;
    }
    char url[64];
    snprintf(url, sizeof url, "ws://127.0.0.1:%s", port);
    // SOCP_BENCH_WORKERS=N: crypto workers per client (default: one per core).
    char ncores[24];
    snprintf(ncores, sizeof ncores, "%ld", cores);
    const char *workers = getenv("SOCP_BENCH_WORKERS") ? getenv("SOCP_BENCH_WORKERS") : ncores;
    const char *bargs[] = {"socp",        "--server",     url,  "--data-dir", bdir,
                           "--plain-key", "--import-key", bkey, "--name",     "bob",
                           "--workers",   workers,        NULL};
    s_spawn(bob, "socp", bargs);
    if (!s_wait_line(bob, "connected to", 20)) {
        fprintf(stderr, "bench_socp: bob did not connect\n");
        return 1;
    }
    const char *aargs[] = {"socp",        "--server",     url,  "--data-dir", adir,
                           "--plain-key", "--import-key", akey, "--name",     "alice",
                           "--workers",   workers,        NULL};
    s_spawn(alice, "socp", aargs);
    if (!s_wait_line(alice, "bob is online", 20)) {
        fprintf(stderr, "bench_socp: alice never saw bob\n");
        return 1;
    }

    // 3. Together: alice, socpd and bob share the cores (the end-to-end rate).
    s_limit_sample(&limit, true, true);
    double sign_before = limit.sign, dec_before = limit.dec;
    s_count_t c;
    s_count_init(&c, 'a', n);
    s_label = "together";
    s_drive(alice, bob, &c, 'a', n, n, n, c.t0 + 60.0 + (double) n / 20.0);
    if (c.sent < n || c.got < n) {
        fprintf(stderr, "bench_socp: together: only %lu accepted, %lu received of %lu\n", c.sent,
                c.got, n);
        return 1;
    }
    s_rate_t e2e = s_rate(c.got, c.mark, c.t0, c.mark_got, c.last_got);
    s_limit_sample(&limit, true, true);
    double signall = (sign_before + limit.sign) / 2.0, decall = (dec_before + limit.dec) / 2.0;
    double e2e_bound = 2.0 / (1.0 / signall + 1.0 / decall) / 4.0; // mixed sign/decrypt

    // 4-5. Send alone, then receive alone: first for the rates, then again
    // under perf for the CPU outside libcrypto (a profiler with DWARF stacks
    // takes 5-10% of the cores itself, so the rates are never taken from a
    // profiled run).
    s_alone_t alone[2];
    char data[2][2][4300];
    for (int run = 0; run < 2; run++) {
        snprintf(data[run][0], sizeof data[run][0], "%s/alice.perf", s_tmp);
        snprintf(data[run][1], sizeof data[run][1], "%s/bob.perf", s_tmp);
        if (!s_alone(srv, alice, bob, run == 0 ? 'b' : 'c', n, run == 1, data[run], &limit,
                     &alone[run])) {
            return 1;
        }
        if (getenv("SOCP_BENCH_NOPERF") || access("/usr/bin/perf", X_OK) != 0) {
            alone[1] = alone[0];
            alone[1].alice_in = alone[1].bob_in = -1;
            break;
        }
    }

    kill(alice->pid, SIGTERM);
    kill(bob->pid, SIGTERM);
    kill(srv->pid, SIGTERM);
    waitpid(alice->pid, NULL, 0);
    waitpid(bob->pid, NULL, 0);
    waitpid(srv->pid, NULL, 0);
    s_label = "";
    s_progress(0, 0); // clears the line
    const s_alone_t *r = &alone[0], *prof = &alone[1];
    double send_bound = r->sign_limit / 2.0, recv_bound = r->dec_limit;
    printf("bench_socp: %lu DMs per phase, key %s, %ld cores\n", n, fixture, cores);
    printf("  RSA ops/s: sign %.0f (1 thread), decrypt %.0f (1 thread); public: encrypt %.0f, "
           "verify %.0f (1 thread); all cores, best of the run: sign %.0f, decrypt %.0f\n",
           sign1, dec1, enc1, ver1, limit.best_sign, limit.best_dec);
    printf("  P = the all-core rate sampled just before and just after each phase (mean); rates "
           "over the whole phase, in brackets from the %luth DM on\n",
           n / 10 ? n / 10 : 1);
    printf("  send alone (socpd, bob paused): %.0f DMs/s accepted (%.0f)   bound P/2 = %.0f   "
           "ratio %.2f (%.2f)   (2 signatures per DM; alice used %.0f%% of the cores)\n",
           r->send.whole, r->send.sustained, send_bound, r->send.whole / send_bound,
           r->send.sustained / send_bound, 100.0 * r->alice_util / (double) cores);
    printf("  receive alone (after socpd relayed): %.0f DMs/s verified (%.0f)   bound P = %.0f   "
           "ratio %.2f (%.2f)   (1 decryption per DM; bob used %.0f%% of the cores)\n",
           r->recv.whole, r->recv.sustained, recv_bound, r->recv.whole / recv_bound,
           r->recv.sustained / recv_bound, 100.0 * r->bob_util / (double) cores);
    printf("  together on one machine: %.0f DMs/s (%.0f)   bound P/4 = %.0f   ratio %.2f (%.2f)   "
           "(alice 2 + socpd 1 + bob 1 private ops per DM)\n",
           e2e.whole, e2e.sustained, e2e_bound, e2e.whole / e2e_bound, e2e.sustained / e2e_bound);
    printf("  against the best limit sample of the run instead: send %.2f, receive %.2f\n",
           r->send.whole / (limit.best_sign / 2.0), r->recv.whole / limit.best_dec);
    if (prof->alice_in >= 0 && prof->bob_in >= 0) {
        printf("  CPU outside libcrypto (second send/receive run under perf; libcrypto's callees "
               "count as libcrypto): alice %.1f%% of %.2f s, bob %.1f%% of %.2f s   "
               "(ratios under perf: send %.2f, receive %.2f)\n",
               100.0 * (1.0 - prof->alice_in), prof->alice_cpu, 100.0 * (1.0 - prof->bob_in),
               prof->bob_cpu, prof->send.whole / (prof->sign_limit / 2.0),
               prof->recv.whole / prof->dec_limit);
        if (prof->alice_sys >= 0 && prof->bob_sys >= 0) {
            printf("  per DM: alice %.1f system calls, %.1f context switches; bob %.1f system "
                   "calls, %.1f context switches\n",
                   prof->alice_sys / (double) n, prof->alice_csw / (double) n,
                   prof->bob_sys / (double) n, prof->bob_csw / (double) n);
        }
    } else {
        printf("  CPU outside libcrypto: not measured (/usr/bin/perf missing, unable to sample, "
               "or SOCP_BENCH_NOPERF set: apt-get install linux-perf)\n");
    }
    printf("{\"bench\":\"socp\",\"dms\":%lu,\"cores\":%ld,\"sign_1t\":%.0f,\"decrypt_1t\":%.0f,"
           "\"sign_limit_send\":%.0f,\"decrypt_limit_recv\":%.0f,\"e2e_limit\":%.0f,"
           "\"send_dms_s\":%.1f,\"recv_dms_s\":%.1f,\"e2e_dms_s\":%.1f,\"send_ratio\":%.3f,"
           "\"recv_ratio\":%.3f,\"e2e_ratio\":%.3f,\"send_ratio_sustained\":%.3f,"
           "\"recv_ratio_sustained\":%.3f,\"e2e_ratio_sustained\":%.3f,"
           "\"send_ratio_best_limit\":%.3f,\"recv_ratio_best_limit\":%.3f,"
           "\"alice_cpu_s\":%.3f,\"alice_outside_crypto\":%.3f,\"bob_cpu_s\":%.3f,"
           "\"bob_outside_crypto\":%.3f}\n",
           n, cores, sign1, dec1, r->sign_limit, r->dec_limit, e2e_bound * 4.0, r->send.whole,
           r->recv.whole, e2e.whole, r->send.whole / send_bound, r->recv.whole / recv_bound,
           e2e.whole / e2e_bound, r->send.sustained / send_bound, r->recv.sustained / recv_bound,
           e2e.sustained / e2e_bound, r->send.whole / (limit.best_sign / 2.0),
           r->recv.whole / limit.best_dec, prof->alice_cpu,
           prof->alice_in >= 0 ? 1.0 - prof->alice_in : -1.0, prof->bob_cpu,
           prof->bob_in >= 0 ? 1.0 - prof->bob_in : -1.0);
    if (getenv("SOCP_BENCH_KEEP")) {
        printf("  kept %s (perf data: alice.perf, bob.perf)\n", s_tmp);
    } else {
        s_rmtree(s_tmp);
    }
    free(srv);
    free(alice);
    free(bob);
    return 0;
}
