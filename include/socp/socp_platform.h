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

// Makes the process not dumpable (prctl PR_SET_DUMPABLE 0: no core file, no
// ptrace or /proc/PID/mem by other processes of the same user) and sets the
// core file limit to 0. main() calls it first, before any secret is read.
// @return 0 or SOCP_EIO (the process stays as it was).
int socp_platform_no_dump(void);

// True while the process is dumpable (PR_GET_DUMPABLE).
bool socp_platform_dumpable(void);

// fsync of directory `dir`, so that names just created, linked or renamed
// in it survive a crash (the file's own fsync does not cover its name).
// @return 0 or SOCP_EIO.
int socp_platform_sync_dir(const char *dir);

// The same for the directory holding `path` ("." when it has no slash).
// @return 0, SOCP_EIO or SOCP_ENOMEM.
int socp_platform_sync_parent(const char *path);

#endif
