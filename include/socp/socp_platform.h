// socp_platform.h: the only place with Linux-specific calls (signalfd,
// timed thread join). Everything else is portable POSIX.
#ifndef SOCP_PLATFORM_H
#define SOCP_PLATFORM_H

#include "socp/socp_common.h"

#include <pthread.h>

// Blocks SIGINT, SIGTERM, SIGHUP and SIGPIPE in the calling thread (and so in
// every thread it creates afterwards). main() calls it before any thread.
void socp_platform_block_signals(void);

// Returns a non-blocking fd that becomes readable when SIGINT, SIGTERM or
// SIGHUP is pending (they must be blocked), or a negative socp_err code.
int socp_platform_signal_fd(void);

// Reads one pending signal from that fd: returns its number, or 0 if none.
int socp_platform_signal_read(int fd);

// Joins `thread` waiting at most `timeout_ms`. Returns 0 (joined, *status
// set when non-NULL) or SOCP_ETIMEDOUT (the thread is still running).
int socp_platform_join(pthread_t thread, int timeout_ms, void **status);

// Names the calling thread for debuggers and `top -H` (truncated to 15 bytes).
void socp_platform_thread_name(const char *name);

#endif
