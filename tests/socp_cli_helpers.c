// socp_cli_helpers.c: see socp_cli_helpers.h.
#include "socp_cli_helpers.h"

#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "socp/socp_common.h"
#include "socp_test.h"

int
socp_cli_server(const char *dir, const char *const extra[], char *port, size_t size)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", socp_test_tmpdir(), dir);
    const char *args[32] = {"--port", "0", "--data-dir", path, "--plain-key", "--rate-limit", "0"};
    size_t n = 7;
    for (size_t i = 0; extra && extra[i] && n < 31; i++) {
        args[n++] = extra[i];
    }
    args[n] = NULL;
    int fd;
    int pid = socp_test_spawn("socpd", args, &fd);
    CHECK(pid > 0);
    char line[512];
    const char *p = NULL;
    uint64_t end = socp_now_ms() + 20000;
    while (!p && socp_now_ms() < end) {
        CHECK(socp_test_read_line(fd, line, sizeof line, 20000) > 0);
        p = strstr(line, "127.0.0.1:");
    }
    CHECK(p);
    p += strlen("127.0.0.1:");
    snprintf(port, size, "%.*s", (int) strspn(p, "0123456789"), p);
    return pid;
}

socp_cli_t
socp_cli_spawn(const char *path, const char *const argv[])
{
    int in[2], out[2];
    CHECK(pipe(in) == 0 && pipe(out) == 0);
    fflush(NULL);
    pid_t pid = fork();
    CHECK(pid >= 0);
    if (pid == 0) {
        dup2(in[0], STDIN_FILENO);
        dup2(out[1], STDOUT_FILENO);
        close(in[0]);
        close(in[1]);
        close(out[0]);
        close(out[1]);
        execv(path, (char *const *) argv);
        _exit(127);
    }
    close(in[0]);
    close(out[1]);
    return (socp_cli_t){pid, in[1], out[0]};
}

socp_cli_t
socp_cli_start(const char *port, const char *name, const char *key, const char *const extra[])
{
    char url[64], dir[4096], keypath[4096];
    snprintf(url, sizeof url, "ws://127.0.0.1:%s", port);
    snprintf(dir, sizeof dir, "%s/%s", socp_test_tmpdir(), name);
    snprintf(keypath, sizeof keypath, "%s/tests/fixtures/%s", socp_test_srcdir(), key);
    const char *argv[48] = {"socp",        "--server",     url,           "--data-dir", dir,
                            "--plain-key", "--import-key", keypath,       "--name",     name,
                            "--heartbeat", "1000",         "--file-rate", "0"};
    size_t n = 14;
    for (size_t i = 0; extra && extra[i] && n < 47; i++) {
        argv[n++] = extra[i];
    }
    argv[n] = NULL;
    return socp_cli_spawn(socp_test_program("socp"), argv);
}

void
socp_cli_start_pair(const char *port, socp_cli_t *bob, socp_cli_t *alice)
{
    *bob = socp_cli_start(port, "bob", "rsa4096_4p_b.pem", NULL);
    socp_cli_expect(bob, "connected to", 30000, NULL, 0);
    *alice = socp_cli_start(port, "alice", "rsa4096_4p_a.pem", NULL);
    socp_cli_expect(alice, "bob is online", 30000, NULL, 0);
}

void
socp_cli_say(socp_cli_t *c, const char *line)
{
    size_t n = strlen(line);
    CHECK(write(c->in, line, n) == (ssize_t) n && write(c->in, "\n", 1) == 1);
}

void
socp_cli_expect(socp_cli_t *c, const char *want, int timeout_ms, char *got, size_t size)
{
    uint64_t end = socp_now_ms() + (uint64_t) timeout_ms;
    char line[8192];
    while (socp_now_ms() < end) {
        int n = socp_test_read_line(c->out, line, sizeof line, (int) (end - socp_now_ms()));
        if (n < 0) {
            break;
        }
        if (socp_test_verbose()) {
            fprintf(stderr, "  [%d] %s\n", c->pid, line);
        }
        if (strstr(line, want)) {
            if (got) {
                snprintf(got, size, "%s", line);
            }
            return;
        }
    }
    socp_test_fail(__FILE__, __LINE__, "no line containing \"%s\" within %d ms", want, timeout_ms);
}

void
socp_cli_expect_all(socp_cli_t *c, const char *const wants[], int timeout_ms)
{
    bool seen[16] = {false};
    size_t n = 0, left = 0;
    while (wants[n] && n < 16) {
        n++;
    }
    left = n;
    uint64_t end = socp_now_ms() + (uint64_t) timeout_ms;
    char line[8192];
    while (left > 0 && socp_now_ms() < end) {
        if (socp_test_read_line(c->out, line, sizeof line, (int) (end - socp_now_ms())) < 0) {
            break;
        }
        if (socp_test_verbose()) {
            fprintf(stderr, "  [%d] %s\n", c->pid, line);
        }
        for (size_t i = 0; i < n; i++) {
            if (!seen[i] && strstr(line, wants[i])) {
                seen[i] = true;
                left--;
            }
        }
    }
    for (size_t i = 0; i < n; i++) {
        CHECK_MSG(seen[i], "no line containing \"%s\" within %d ms", wants[i], timeout_ms);
    }
}

socp_cli_t
socp_cli_fake_start(char *port, size_t size)
{
    char script[4096];
    snprintf(script, sizeof script, "%s/tests/py/fake_socp_server.py", socp_test_srcdir());
    const char *argv[] = {"python3", script, NULL};
    socp_cli_t f = socp_cli_spawn("/usr/bin/python3", argv);
    char line[256];
    socp_cli_expect(&f, "listening ", 20000, line, sizeof line);
    snprintf(port, size, "%s", line + strlen("listening "));
    return f;
}

void
socp_cli_fake(socp_cli_t *f, const char *cmd, char *out, size_t size)
{
    socp_cli_say(f, cmd);
    char want[64], line[8192];
    snprintf(want, sizeof want, "%.*s", (int) strcspn(cmd, " "), cmd);
    uint64_t end = socp_now_ms() + 30000;
    while (socp_now_ms() < end) {
        int n = socp_test_read_line(f->out, line, sizeof line, (int) (end - socp_now_ms()));
        if (n < 0) {
            break;
        }
        if (socp_test_verbose()) {
            fprintf(stderr, "  [fake] %s\n", line);
        }
        size_t w = strlen(want);
        if (strncmp(line, "fail ", 5) == 0) {
            socp_test_fail(__FILE__, __LINE__, "fake server: %s", line);
        }
        if (strncmp(line, "ok ", 3) == 0 && strncmp(line + 3, want, w) == 0) {
            if (out) {
                const char *r = line + 3 + w;
                snprintf(out, size, "%s", *r == ' ' ? r + 1 : r);
            }
            return;
        }
    }
    socp_test_fail(__FILE__, __LINE__, "fake server did not finish \"%s\"", cmd);
}

void
socp_cli_write_file(const char *path, size_t size)
{
    FILE *f = fopen(path, "wb");
    CHECK(f);
    for (size_t i = 0; i < size; i++) {
        fputc((int) ((i * 7919u) >> 3) & 0xff, f);
    }
    fclose(f);
}

bool
socp_cli_same_file(const char *a, const char *b)
{
    FILE *x = fopen(a, "rb"), *y = fopen(b, "rb");
    bool same = x && y;
    while (same) {
        int c1 = fgetc(x), c2 = fgetc(y);
        same = c1 == c2;
        if (c1 == EOF || c2 == EOF) {
            break;
        }
    }
    if (x) {
        fclose(x);
    }
    if (y) {
        fclose(y);
    }
    return same;
}
