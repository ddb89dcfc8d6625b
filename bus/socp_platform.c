// socp_platform.c: Linux-specific pieces behind a small portable interface.
#include "socp/socp_platform.h"
#include "socp/socp_err.h"

#include <errno.h>
#include <stdio.h>
#include <signal.h>
#include <string.h>
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
