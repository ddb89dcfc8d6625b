// selftest.c: the test runner. Every registered case runs in a forked child
// with a deadline and a private temp dir; prints " * name: OK|FAIL" and a
// final "N passed, N failed" line; exits non-zero on any failure.
//
//   socp_tests [-v] [--list] [-t PREFIX]... [--catalogue]
#define _GNU_SOURCE
#include "socp_test.h"

#include <errno.h>
#include <dirent.h>
#include <sys/stat.h>
#include <fcntl.h>
#include <poll.h>
#include <ftw.h>
#include <signal.h>
#include <stdarg.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

typedef struct {
    const char *name;
    socp_test_fn *fn;
    unsigned timeout_s;
} s_case_t;

static s_case_t *s_cases;
static size_t s_ncases;
static bool s_verbose;
static char s_tmpdir[4096];

void
socp_test_register(const char *name, socp_test_fn *fn, unsigned timeout_s)
{
    s_cases = socp_realloc(s_cases, (s_ncases + 1) * sizeof *s_cases);
    s_cases[s_ncases++] = (s_case_t){name, fn, timeout_s};
}

bool
socp_test_verbose(void)
{
    return s_verbose;
}

const char *
socp_test_tmpdir(void)
{
    return s_tmpdir;
}

const char *
socp_test_srcdir(void)
{
    const char *env = getenv("SOCP_SRCDIR");
    return env ? env : SOCP_SRCDIR;
}

void
socp_test_fail(const char *file, int line, const char *fmt, ...)
{
    fprintf(stderr, "    %s:%d: ", file, line);
    va_list ap;
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    fflush(stderr);
    _exit(1);
}

int
socp_test_python(const char *script, const char *const args[], char *out, size_t out_size)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/tests/py/%s", socp_test_srcdir(), script);
    const char *argv[64] = {"/usr/bin/python3", path};
    size_t n = 2;
    for (size_t i = 0; args && args[i] && n < SOCP_ARRAY_LEN(argv) - 1; i++) {
        argv[n++] = args[i];
    }
    argv[n] = NULL;
    int fds[2];
    if (pipe(fds) != 0) {
        return -1;
    }
    pid_t pid = fork();
    if (pid < 0) {
        return -1;
    }
    if (pid == 0) {
        dup2(fds[1], STDOUT_FILENO);
        close(fds[0]);
        close(fds[1]);
        execv(argv[0], (char *const *) argv);
        _exit(127);
    }
    close(fds[1]);
    size_t got = 0;
    char sink[4096];
    for (;;) {
        char *dst = sink;
        size_t room = sizeof sink;
        if (out && got + 1 < out_size) {
            dst = out + got;
            room = out_size - 1 - got;
        }
        ssize_t r = read(fds[0], dst, room);
        if (r < 0 && errno == EINTR) {
            continue;
        }
        if (r <= 0) {
            break;
        }
        if (dst != sink) {
            got += (size_t) r;
        }
    }
    if (out && out_size) {
        out[got] = '\0';
    }
    close(fds[0]);
    int status;
    while (waitpid(pid, &status, 0) < 0) {
        if (errno != EINTR) {
            return -1;
        }
    }
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

char *
socp_test_path(const char *dir, const char *name)
{
    size_t n = strlen(dir) + strlen(name) + 2;
    char *p = socp_malloc(n);
    snprintf(p, n, "%s/%s", dir, name);
    return p;
}

char *
socp_test_fixture(const char *name)
{
    char dir[4096];
    snprintf(dir, sizeof dir, "%s/tests/fixtures", socp_test_srcdir());
    return socp_test_path(dir, name);
}

uint8_t *
socp_test_read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    CHECK_MSG(f != NULL, "cannot open %s", path);
    socp_buf_t b;
    socp_buf_init(&b);
    uint8_t chunk[4096];
    size_t n;
    while ((n = fread(chunk, 1, sizeof chunk, f)) > 0) {
        socp_buf_append(&b, chunk, n);
    }
    fclose(f);
    socp_buf_append(&b, "", 1);
    if (len) {
        *len = b.len - 1;
    }
    return b.data;
}

int
socp_test_copy_tree(const char *from, const char *to)
{
    struct stat st;
    if (stat(from, &st) != 0 || mkdir(to, st.st_mode & 0777) != 0) {
        return -1;
    }
    DIR *d = opendir(from);
    if (!d) {
        return -1;
    }
    int rc = 0;
    struct dirent *e;
    while (rc == 0 && (e = readdir(d))) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0 ||
            strcmp(e->d_name, "lock.mdb") == 0) {
            continue;
        }
        char a[4096], b[4096];
        snprintf(a, sizeof a, "%s/%s", from, e->d_name);
        snprintf(b, sizeof b, "%s/%s", to, e->d_name);
        if (stat(a, &st) != 0) {
            rc = -1;
        } else if (S_ISDIR(st.st_mode)) {
            rc = socp_test_copy_tree(a, b);
        } else if (S_ISREG(st.st_mode)) {
            size_t len = 0;
            uint8_t *data = socp_test_read_file(a, &len);
            int fd = open(b, O_WRONLY | O_CREAT | O_EXCL, st.st_mode & 0777);
            rc = fd >= 0 && write(fd, data, len) == (ssize_t) len ? 0 : -1;
            if (fd >= 0) {
                close(fd);
            }
            free(data);
        }
    }
    closedir(d);
    return rc;
}

bool
socp_test_file_has(const char *path, const char *needle)
{
    size_t len = 0;
    uint8_t *data = socp_test_read_file(path, &len);
    CHECK_MSG(data, "cannot read %s", path);
    size_t n = strlen(needle);
    bool found = false;
    for (size_t i = 0; !found && i + n <= len; i++) {
        found = data[i] == (uint8_t) needle[0] && memcmp(data + i, needle, n) == 0;
    }
    free(data);
    return found;
}

const char *
socp_test_program(const char *prog)
{
    static char path[4096];
    const char *dir = getenv("SOCP_BUILDDIR") ? getenv("SOCP_BUILDDIR") : SOCP_BUILDDIR;
    snprintf(path, sizeof path, "%s/%s", dir, prog);
    return path;
}

int
socp_test_spawn(const char *prog, const char *const args[], int *out_fd)
{
    const char *argv[64];
    size_t n = 0;
    char path[4096];
    snprintf(path, sizeof path, "%s", socp_test_program(prog));
    argv[n++] = path;
    for (size_t i = 0; args && args[i] && n < SOCP_ARRAY_LEN(argv) - 1; i++) {
        argv[n++] = args[i];
    }
    argv[n] = NULL;
    int fds[2] = {-1, -1};
    if (out_fd && pipe(fds) != 0) {
        return -1;
    }
    fflush(NULL);
    pid_t pid = fork();
    if (pid < 0) {
        return -1;
    }
    if (pid == 0) {
        if (out_fd) {
            dup2(fds[1], STDOUT_FILENO);
            close(fds[0]);
            close(fds[1]);
        }
        int devnull = open("/dev/null", O_RDONLY);
        if (devnull >= 0) {
            dup2(devnull, STDIN_FILENO);
            close(devnull);
        }
        execv(argv[0], (char *const *) argv);
        _exit(127);
    }
    if (out_fd) {
        close(fds[1]);
        *out_fd = fds[0];
    }
    return pid;
}

int
socp_test_read_line(int fd, char *buf, size_t size, int timeout_ms)
{
    uint64_t deadline = socp_now_ms() + (uint64_t) timeout_ms;
    size_t len = 0;
    while (len + 1 < size) {
        uint64_t now = socp_now_ms();
        if (now >= deadline) {
            return -1;
        }
        struct pollfd p = {fd, POLLIN, 0};
        int rc = poll(&p, 1, (int) (deadline - now));
        if (rc < 0 && errno == EINTR) {
            continue;
        }
        if (rc <= 0) {
            return -1;
        }
        char c;
        ssize_t r = read(fd, &c, 1);
        if (r <= 0) {
            return -1;
        }
        if (c == '\n') {
            break;
        }
        buf[len++] = c;
    }
    buf[len] = '\0';
    return (int) len;
}

int
socp_test_stop(int pid, int sig, int timeout_ms)
{
    if (sig) {
        kill(pid, sig);
    }
    uint64_t deadline = socp_now_ms() + (uint64_t) timeout_ms;
    for (;;) {
        int status;
        pid_t r = waitpid(pid, &status, WNOHANG);
        if (r == pid) {
            return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
        }
        if (r < 0 || socp_now_ms() >= deadline) {
            return -1;
        }
        nanosleep(&(struct timespec){0, 2000000}, NULL); // polling with a deadline
    }
}

static int
s_rm(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void) sb;
    (void) flag;
    (void) ftw;
    return remove(path);
}

static bool
s_selected(const char *name, const char **filters, size_t nfilters)
{
    if (nfilters == 0) {
        return true;
    }
    for (size_t i = 0; i < nfilters; i++) {
        if (strncmp(name, filters[i], strlen(filters[i])) == 0) {
            return true;
        }
    }
    return false;
}

static int
s_cmp_case(const void *a, const void *b)
{
    return strcmp(((const s_case_t *) a)->name, ((const s_case_t *) b)->name);
}

// Runs one case in a child; returns true on pass.
static bool
s_run_case(const s_case_t *c)
{
    const char *base = getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";
    snprintf(s_tmpdir, sizeof s_tmpdir, "%s/socp-test-XXXXXX", base);
    if (!mkdtemp(s_tmpdir)) {
        fprintf(stderr, "    cannot create temp dir: %s\n", strerror(errno));
        return false;
    }
    uint64_t t0 = socp_now_ms();
    fflush(NULL);
    pid_t pid = fork();
    if (pid == 0) {
        setpgid(0, 0); // the whole case (and anything it forks) is one group
        alarm(c->timeout_s);
        c->fn();
        fflush(NULL);
        _exit(0);
    }
    int status = 0;
    while (pid > 0 && waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    if (pid > 0) {
        kill(-pid, SIGKILL); // reap stray grandchildren (servers a test forgot)
    }
    uint64_t ms = socp_now_ms() - t0;
    bool ok = pid > 0 && WIFEXITED(status) && WEXITSTATUS(status) == 0;
    if (!ok && pid > 0 && WIFSIGNALED(status)) {
        fprintf(stderr, "    killed by signal %d%s\n", WTERMSIG(status),
                WTERMSIG(status) == SIGALRM ? " (deadline passed)" : "");
    }
    printf(" * %s: %s (%llu ms)\n", c->name, ok ? "OK" : "FAIL", (unsigned long long) ms);
    fflush(stdout);
    nftw(s_tmpdir, s_rm, 16, FTW_DEPTH | FTW_PHYS);
    return ok;
}

// Provided by bus/socp_msg.c (weak so the runner links without the bus).
__attribute__((weak)) void socp_msg_print_catalogue(FILE *out);

int
main(int argc, char **argv)
{
    const char *filters[64];
    size_t nfilters = 0;
    bool list = false;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "-v") == 0) {
            s_verbose = true;
        } else if (strcmp(argv[i], "--list") == 0) {
            list = true;
        } else if (strcmp(argv[i], "--catalogue") == 0) {
            if (!socp_msg_print_catalogue) {
                return 1;
            }
            socp_msg_print_catalogue(stdout);
            return 0;
        } else if (strcmp(argv[i], "-t") == 0 && i + 1 < argc && nfilters < 64) {
            filters[nfilters++] = argv[++i];
        } else {
            fprintf(stderr, "usage: %s [-v] [--list] [--catalogue] [-t PREFIX]...\n", argv[0]);
            return 2;
        }
    }
    signal(SIGPIPE, SIG_IGN);
    qsort(s_cases, s_ncases, sizeof *s_cases, s_cmp_case);
    unsigned passed = 0, failed = 0;
    for (size_t i = 0; i < s_ncases; i++) {
        if (!s_selected(s_cases[i].name, filters, nfilters)) {
            continue;
        }
        if (list) {
            printf("%s\n", s_cases[i].name);
            continue;
        }
        if (s_run_case(&s_cases[i])) {
            passed++;
        } else {
            failed++;
        }
    }
    free(s_cases);
    if (!list) {
        printf("%u passed, %u failed\n", passed, failed);
    }
    return failed ? 1 : 0;
}
