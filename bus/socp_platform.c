// socp_platform.c: Linux-specific pieces behind a small portable interface.
#include "socp/socp_platform.h"
#include "socp/socp_err.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <time.h>
#include <unistd.h>

static void
s_set(sigset_t *set)
{
    sigemptyset(set);
    sigaddset(set, SIGINT);
    sigaddset(set, SIGTERM);
    sigaddset(set, SIGHUP);
}

void
socp_platform_block_signals(void)
{
    sigset_t set;
    s_set(&set);
    sigaddset(&set, SIGPIPE);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
}

int
socp_platform_signal_fd(void)
{
    sigset_t set;
    s_set(&set);
    int fd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
    return fd >= 0 ? fd : SOCP_EIO;
}

int
socp_platform_signal_read(int fd)
{
    struct signalfd_siginfo info;
    ssize_t n = read(fd, &info, sizeof info);
    return n == (ssize_t) sizeof info ? (int) info.ssi_signo : 0;
}

int
socp_platform_join(pthread_t thread, int timeout_ms, void **status)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    ts.tv_sec += timeout_ms / 1000;
    ts.tv_nsec += (long) (timeout_ms % 1000) * 1000000L;
    if (ts.tv_nsec >= 1000000000L) {
        ts.tv_sec++;
        ts.tv_nsec -= 1000000000L;
    }
    int rc = pthread_timedjoin_np(thread, status, &ts);
    return rc == 0 ? 0 : SOCP_ETIMEDOUT;
}

void
socp_platform_thread_name(const char *name)
{
    char short_name[16];
    snprintf(short_name, sizeof short_name, "%s", name);
    pthread_setname_np(pthread_self(), short_name);
}

int
socp_platform_no_dump(void)
{
    // Not dumpable: no core file, no ptrace or /proc/PID/mem by other
    // processes of the same user. The core limit too, in case something
    // turns dumpable back on (setuid transitions, a later prctl).
    struct rlimit none = {0, 0};
    int a = prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
    int b = setrlimit(RLIMIT_CORE, &none);
    return a == 0 && b == 0 ? 0 : SOCP_EIO;
}

bool
socp_platform_dumpable(void)
{
    return prctl(PR_GET_DUMPABLE, 0, 0, 0, 0) != 0;
}

int
socp_platform_sync_dir(const char *dir)
{
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) {
        return SOCP_EIO;
    }
    int rc = fsync(fd) == 0 ? 0 : SOCP_EIO;
    close(fd);
    return rc;
}

int
socp_platform_sync_parent(const char *path)
{
    const char *slash = strrchr(path, '/');
    if (!slash) {
        return socp_platform_sync_dir(".");
    }
    if (slash == path) {
        return socp_platform_sync_dir("/");
    }
    size_t n = (size_t) (slash - path);
    char *dir = malloc(n + 1);
    if (!dir) {
        return SOCP_ENOMEM;
    }
    memcpy(dir, path, n);
    dir[n] = '\0';
    int rc = socp_platform_sync_dir(dir);
    free(dir);
    return rc;
}
