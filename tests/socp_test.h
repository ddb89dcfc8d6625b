// socp_test.h: the test registry and assertion macros (NUTS/acutest style).
//
// A test file declares cases with SOCP_TEST(name) { ... }; each registers
// itself at load time, so adding a test file needs no shared table. The
// runner (tests/selftest.c) runs every case in a forked child with an alarm,
// so a crash or a hang is one failure, and gives it a fresh temp dir that
// is removed afterwards. Names are "<area>_<what>": the prefix is the suite
// (`socp_tests -t bus_` runs the bus suite).
#ifndef SOCP_TEST_H
#define SOCP_TEST_H

#include "socp/socp_common.h"
#include "socp/socp_err.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef void(socp_test_fn)(void);

void socp_test_register(const char *name, socp_test_fn *fn, unsigned timeout_s);
_Noreturn void socp_test_fail(const char *file, int line, const char *fmt, ...) SOCP_PRINTF(3, 4);
bool socp_test_verbose(void);

// A temp dir private to the running case, removed by the runner afterwards.
const char *socp_test_tmpdir(void);
// The source tree (for fixtures, vectors and helper scripts).
const char *socp_test_srcdir(void);

// Runs /usr/bin/python3 with the given script (relative to tests/py/) and
// arguments; returns its exit status (0 = success), or -1 if it could not run.
// Stdout goes to `out` (NUL-terminated, may be NULL) up to `out_size` bytes.
int socp_test_python(const char *script, const char *const args[], char *out, size_t out_size);

// "dir/name" in a new string (free it).
char *socp_test_path(const char *dir, const char *name);

// The path of tests/fixtures/<name> in a new string (free it).
char *socp_test_fixture(const char *name);

// Reads a whole file into a new NUL-terminated buffer (free it); *len (if
// not NULL) gets its length without the NUL. Fails the test if it cannot.
uint8_t *socp_test_read_file(const char *path, size_t *len);

// True if the file at path holds the bytes of `needle` anywhere (fails the
// case if it cannot be read).
bool socp_test_file_has(const char *path, const char *needle);

// Copies directory `from` to `to` (created), files and subdirectories, modes
// kept; LMDB lock files are left out. Returns 0 or -1.
int socp_test_copy_tree(const char *from, const char *to);

// Starts program `prog` from the build directory (e.g. "socpd") with args
// (NULL-terminated, argv[0] excluded). Its stdout is readable on *out_fd
// when out_fd is non-NULL (else inherited); stderr is inherited. Returns the
// pid, or -1. The runner kills anything a case leaves running.
int socp_test_spawn(const char *prog, const char *const args[], int *out_fd);

// Reads one line (without the newline) from fd within timeout_ms. Returns
// its length, or -1 on timeout / end of file.
int socp_test_read_line(int fd, char *buf, size_t size, int timeout_ms);

// Sends `sig` to pid and waits for it up to timeout_ms. Returns the exit
// status (0-255), 128+signal if it was killed, or -1 on timeout.
int socp_test_stop(int pid, int sig, int timeout_ms);

// Path of a program in the build directory.
const char *socp_test_program(const char *prog);

#define SOCP_TEST_T(name, timeout_s)                               \
    static void name(void);                                        \
    __attribute__((constructor)) static void name##_register(void) \
    {                                                              \
        socp_test_register(#name, name, timeout_s);                \
    }                                                              \
    static void name(void)

#define SOCP_TEST(name) SOCP_TEST_T(name, 60)

#define CHECK(expr)                                                        \
    do {                                                                   \
        if (!(expr)) {                                                     \
            socp_test_fail(__FILE__, __LINE__, "CHECK(%s) failed", #expr); \
        }                                                                  \
    } while (0)

#define CHECK_MSG(expr, ...)                                 \
    do {                                                     \
        if (!(expr)) {                                       \
            socp_test_fail(__FILE__, __LINE__, __VA_ARGS__); \
        }                                                    \
    } while (0)

// The call must succeed (return 0); prints the error string otherwise.
#define CHECK_OK(expr)                                                                      \
    do {                                                                                    \
        int check_rc_ = (expr);                                                             \
        if (check_rc_ != 0) {                                                               \
            socp_test_fail(__FILE__, __LINE__, "%s returned %d (%s: %s)", #expr, check_rc_, \
                           socp_errname(check_rc_), socp_strerror(check_rc_));              \
        }                                                                                   \
    } while (0)

// The call must fail with exactly `code`.
#define CHECK_RC(expr, code)                                                              \
    do {                                                                                  \
        int check_rc_ = (expr);                                                           \
        if (check_rc_ != (code)) {                                                        \
            socp_test_fail(__FILE__, __LINE__, "%s returned %d (%s), expected %s", #expr, \
                           check_rc_, socp_errname(check_rc_), socp_errname(code));       \
        }                                                                                 \
    } while (0)

#define CHECK_EQ(a, b)                                                                            \
    do {                                                                                          \
        long long check_a_ = (long long) (a), check_b_ = (long long) (b);                         \
        if (check_a_ != check_b_) {                                                               \
            socp_test_fail(__FILE__, __LINE__, "%s == %s failed: %lld != %lld", #a, #b, check_a_, \
                           check_b_);                                                             \
        }                                                                                         \
    } while (0)

#define CHECK_STREQ(a, b)                                                                   \
    do {                                                                                    \
        const char *check_a_ = (a), *check_b_ = (b);                                        \
        if (!check_a_ || !check_b_ || strcmp(check_a_, check_b_) != 0) {                    \
            socp_test_fail(__FILE__, __LINE__, "%s == %s failed: \"%s\" != \"%s\"", #a, #b, \
                           check_a_ ? check_a_ : "(null)", check_b_ ? check_b_ : "(null)"); \
        }                                                                                   \
    } while (0)

#define CHECK_MEMEQ(a, b, n)                                                                  \
    do {                                                                                      \
        if (memcmp((a), (b), (n)) != 0) {                                                     \
            socp_test_fail(__FILE__, __LINE__, "%s and %s differ in their %zu bytes", #a, #b, \
                           (size_t) (n));                                                     \
        }                                                                                     \
    } while (0)

#endif
