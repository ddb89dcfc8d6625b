// syncshim.c: an LD_PRELOAD library for the crash-consistency tests
// (tests/socp_sync_test.c). It logs, in the order the calls happen, what
// makes an LMDB data file durable and what the process tells the outside, so
// a test can check that every acknowledgement follows the sync of what it
// acknowledges. A kill -9 test cannot see a missing sync (the kernel keeps
// the pages); this can. Part of socp, a SOCP v1.3 client and server.
//
// Inactive unless SOCP_SYNCSHIM_LOG names the log file. One line per event,
// each written with one write(2) to an O_APPEND file (so lines from several
// threads never mix and their order is the order of the calls):
//   O <fd> <ino> <dsync>         a file named data.mdb was opened (dsync: O_DSYNC)
//   W <ino> <offset> <len> <dsync>  a write to it (logged after the call)
//   S <ino>                      fsync/fdatasync of it returned
//   M <sync>                     msync returned (sync: MS_SYNC was asked)
//   A <n>                        a write to stdout holding SOCP_SYNCSHIM_NEEDLE
//                                n times (logged before the call)
//   N <port>                     a write to a TCP socket whose peer has this
//                                port (logged before the call)
// Built by the Makefile as $(BUILD)/tests/libsocp_syncshim.so, without
// sanitizers (an ASan program needs ASAN_OPTIONS=verify_asan_link_order=0).
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/uio.h>
#include <unistd.h>

#define S_FDS 4096

typedef struct {
    bool tracked; // a data.mdb descriptor
    bool dsync;   // opened with O_DSYNC (each write is durable when it returns)
    unsigned long long ino;
} s_fd_t;

static s_fd_t s_fds[S_FDS];
static pthread_mutex_t s_lock = PTHREAD_MUTEX_INITIALIZER;
static int s_log = -2; // -2: not opened yet, -1: inactive
static const char *s_needle;

// The next definition of `name` (libc's, or a sanitizer's), resolved on
// first use (POSIX's way of storing dlsym's result in a function pointer).
#define S_REAL(ret, name, ...)                                   \
    static ret (*real_##name)(__VA_ARGS__);                      \
    static void s_resolve_##name(void)                           \
    {                                                            \
        if (!real_##name) {                                      \
            *(void **) (&real_##name) = dlsym(RTLD_NEXT, #name); \
        }                                                        \
    }

S_REAL(int, open, const char *, int, ...)
S_REAL(int, open64, const char *, int, ...)
S_REAL(int, openat, int, const char *, int, ...)
S_REAL(int, close, int)
S_REAL(ssize_t, write, int, const void *, size_t)
S_REAL(ssize_t, pwrite, int, const void *, size_t, off_t)
S_REAL(ssize_t, pwrite64, int, const void *, size_t, off_t)
S_REAL(ssize_t, writev, int, const struct iovec *, int)
S_REAL(ssize_t, send, int, const void *, size_t, int)
S_REAL(ssize_t, sendmsg, int, const struct msghdr *, int)
S_REAL(int, fsync, int)
S_REAL(int, fdatasync, int)
S_REAL(int, msync, void *, size_t, int)

// The log descriptor, opened on first use with the real open; -1 if inactive.
static int
s_logfd(void)
{
    if (s_log == -2) {
        const char *path = getenv("SOCP_SYNCSHIM_LOG");
        s_needle = getenv("SOCP_SYNCSHIM_NEEDLE");
        s_resolve_open();
        s_log =
            path && *path ? real_open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600) : -1;
        s_log = s_log < 0 ? -1 : s_log;
    }
    return s_log;
}

static void s_emit(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static void
s_emit(const char *fmt, ...)
{
    int fd = s_logfd();
    if (fd < 0) {
        return;
    }
    char line[160];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    s_resolve_write();
    if (n > 0 && (size_t) n < sizeof line) {
        (void) real_write(fd, line, (size_t) n);
    }
}

static bool
s_tracked(int fd)
{
    return fd >= 0 && fd < S_FDS && s_fds[fd].tracked;
}

static void
s_opened(int fd, const char *path, int flags)
{
    if (fd < 0 || fd >= S_FDS || s_logfd() < 0 || fd == s_log) {
        return;
    }
    size_t n = strlen(path);
    bool data = n >= 8 && strcmp(path + n - 8, "data.mdb") == 0;
    struct stat st;
    pthread_mutex_lock(&s_lock);
    s_fds[fd].tracked = data && fstat(fd, &st) == 0;
    if (s_fds[fd].tracked) {
        s_fds[fd].dsync = (flags & O_DSYNC) == O_DSYNC;
        s_fds[fd].ino = (unsigned long long) st.st_ino;
        s_emit("O %d %llu %d\n", fd, s_fds[fd].ino, s_fds[fd].dsync);
    }
    pthread_mutex_unlock(&s_lock);
}

static void
s_written(int fd, long long off, ssize_t len)
{
    if (len > 0 && s_tracked(fd)) {
        s_emit("W %llu %lld %zd %d\n", s_fds[fd].ino, off, len, s_fds[fd].dsync);
    }
}

// Before a write that is not to a data file: an acknowledgement to stdout,
// or a frame to a TCP peer.
static void
s_outgoing(int fd, const void *buf, size_t len)
{
    if (s_logfd() < 0 || fd == s_log || s_tracked(fd) || len == 0) {
        return;
    }
    if (fd == STDOUT_FILENO) {
        if (s_needle && *s_needle) {
            size_t nl = strlen(s_needle), count = 0;
            const char *p = buf, *end = (const char *) buf + len;
            while ((p = memmem(p, (size_t) (end - p), s_needle, nl))) {
                count++;
                p += nl;
            }
            if (count) {
                s_emit("A %zu\n", count);
            }
        }
        return;
    }
    struct sockaddr_storage ss;
    socklen_t sl = sizeof ss;
    if (getpeername(fd, (struct sockaddr *) &ss, &sl) == 0 && ss.ss_family == AF_INET) {
        s_emit("N %u\n", (unsigned) ntohs(((struct sockaddr_in *) &ss)->sin_port));
    }
}

static int
s_mode(int flags, va_list ap)
{
    return (flags & O_CREAT) || (flags & O_TMPFILE) == O_TMPFILE ? va_arg(ap, int) : 0;
}

int
open(const char *path, int flags, ...)
{
    va_list ap;
    va_start(ap, flags);
    int mode = s_mode(flags, ap);
    va_end(ap);
    s_resolve_open();
    int fd = real_open(path, flags, mode);
    s_opened(fd, path, flags);
    return fd;
}

int
open64(const char *path, int flags, ...)
{
    va_list ap;
    va_start(ap, flags);
    int mode = s_mode(flags, ap);
    va_end(ap);
    s_resolve_open64();
    int fd = real_open64(path, flags, mode);
    s_opened(fd, path, flags);
    return fd;
}

int
openat(int dirfd, const char *path, int flags, ...)
{
    va_list ap;
    va_start(ap, flags);
    int mode = s_mode(flags, ap);
    va_end(ap);
    s_resolve_openat();
    int fd = real_openat(dirfd, path, flags, mode);
    s_opened(fd, path, flags);
    return fd;
}

int
close(int fd)
{
    if (fd >= 0 && fd < S_FDS) {
        pthread_mutex_lock(&s_lock);
        s_fds[fd].tracked = false;
        pthread_mutex_unlock(&s_lock);
    }
    s_resolve_close();
    return real_close(fd);
}

ssize_t
write(int fd, const void *buf, size_t len)
{
    s_outgoing(fd, buf, len);
    long long off = s_tracked(fd) ? (long long) lseek(fd, 0, SEEK_CUR) : -1;
    s_resolve_write();
    ssize_t n = real_write(fd, buf, len);
    s_written(fd, off, n);
    return n;
}

ssize_t
pwrite(int fd, const void *buf, size_t len, off_t off)
{
    s_outgoing(fd, buf, len);
    s_resolve_pwrite();
    ssize_t n = real_pwrite(fd, buf, len, off);
    s_written(fd, (long long) off, n);
    return n;
}

ssize_t
pwrite64(int fd, const void *buf, size_t len, off_t off)
{
    s_outgoing(fd, buf, len);
    s_resolve_pwrite64();
    ssize_t n = real_pwrite64(fd, buf, len, off);
    s_written(fd, (long long) off, n);
    return n;
}

ssize_t
writev(int fd, const struct iovec *iov, int cnt)
{
    if (cnt > 0) {
        s_outgoing(fd, iov[0].iov_base, iov[0].iov_len);
    }
    long long off = s_tracked(fd) ? (long long) lseek(fd, 0, SEEK_CUR) : -1;
    s_resolve_writev();
    ssize_t n = real_writev(fd, iov, cnt);
    s_written(fd, off, n);
    return n;
}

ssize_t
send(int fd, const void *buf, size_t len, int flags)
{
    s_outgoing(fd, buf, len);
    s_resolve_send();
    return real_send(fd, buf, len, flags);
}

ssize_t
sendmsg(int fd, const struct msghdr *msg, int flags)
{
    if (msg->msg_iovlen > 0) {
        s_outgoing(fd, msg->msg_iov[0].iov_base, msg->msg_iov[0].iov_len);
    }
    s_resolve_sendmsg();
    return real_sendmsg(fd, msg, flags);
}

int
fsync(int fd)
{
    s_resolve_fsync();
    int rc = real_fsync(fd);
    if (rc == 0 && s_tracked(fd)) {
        s_emit("S %llu\n", s_fds[fd].ino);
    }
    return rc;
}

int
fdatasync(int fd)
{
    s_resolve_fdatasync();
    int rc = real_fdatasync(fd);
    if (rc == 0 && s_tracked(fd)) {
        s_emit("S %llu\n", s_fds[fd].ino);
    }
    return rc;
}

int
msync(void *addr, size_t len, int flags)
{
    s_resolve_msync();
    int rc = real_msync(addr, len, flags);
    if (rc == 0) {
        s_emit("M %d\n", (flags & MS_SYNC) != 0);
    }
    return rc;
}
