// socp_log.h: one-line log records on stderr, with level and actor prefix.
// Thread-safe (one write(2) per record). Never log plaintext or keys.
#ifndef SOCP_LOG_H
#define SOCP_LOG_H

#include "socp/socp_common.h"

typedef enum {
    SOCP_LOG_ERROR = 0,
    SOCP_LOG_WARN = 1,
    SOCP_LOG_INFO = 2,
    SOCP_LOG_DEBUG = 3,
} socp_log_level_t;

// Sets the global threshold (records above it are discarded). The default is
// INFO, or the value of SOCP_LOG (error|warn|info|debug) at first use.
void socp_log_set_level(socp_log_level_t level);
socp_log_level_t socp_log_level(void);

// Names the calling thread in its records (an actor calls this at start).
// The string is copied (at most 31 bytes).
void socp_log_set_thread_name(const char *name);

void socp_log(socp_log_level_t level, const char *fmt, ...) SOCP_PRINTF(2, 3);

#define socp_error(...) socp_log(SOCP_LOG_ERROR, __VA_ARGS__)
#define socp_warn(...)  socp_log(SOCP_LOG_WARN, __VA_ARGS__)
#define socp_info(...)  socp_log(SOCP_LOG_INFO, __VA_ARGS__)
#define socp_debug(...) socp_log(SOCP_LOG_DEBUG, __VA_ARGS__)

#endif
