// socp_log.c: leveled one-line logging to stderr.
#include "socp/socp_log.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

static int s_level = -1;
static _Thread_local char s_thread_name[32] = "main";

static socp_log_level_t
s_level_from_env(void)
{
    const char *v = getenv("SOCP_LOG");
    if (!v) {
        return SOCP_LOG_INFO;
    }
    if (strcasecmp(v, "error") == 0) {
        return SOCP_LOG_ERROR;
    }
    if (strcasecmp(v, "warn") == 0) {
        return SOCP_LOG_WARN;
    }
    if (strcasecmp(v, "debug") == 0) {
        return SOCP_LOG_DEBUG;
    }
    return SOCP_LOG_INFO;
}

socp_log_level_t
socp_log_level(void)
{
    int level = __atomic_load_n(&s_level, __ATOMIC_RELAXED);
    if (level < 0) {
        level = (int) s_level_from_env();
        __atomic_store_n(&s_level, level, __ATOMIC_RELAXED);
    }
    return (socp_log_level_t) level;
}

void
socp_log_set_level(socp_log_level_t level)
{
    __atomic_store_n(&s_level, (int) level, __ATOMIC_RELAXED);
}

void
socp_log_set_thread_name(const char *name)
{
    snprintf(s_thread_name, sizeof s_thread_name, "%s", name);
}

void
socp_log(socp_log_level_t level, const char *fmt, ...)
{
    static const char *const names[] = {"ERROR", "WARN", "INFO", "DEBUG"};
    if (level > socp_log_level()) {
        return;
    }
    char line[1024];
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    struct tm tm;
    gmtime_r(&ts.tv_sec, &tm);
    int n = snprintf(line, sizeof line, "%02d:%02d:%02d.%03ld %-5s [%s] ", tm.tm_hour, tm.tm_min,
                     tm.tm_sec, ts.tv_nsec / 1000000, names[level], s_thread_name);
    va_list ap;
    va_start(ap, fmt);
    int m = vsnprintf(line + n, sizeof line - (size_t) n - 1, fmt, ap);
    va_end(ap);
    size_t len = (size_t) n + (m < 0 ? 0 : (size_t) m);
    if (len > sizeof line - 2) {
        len = sizeof line - 2;
    }
    // Never let control characters from the message reach the terminal.
    for (size_t i = (size_t) n; i < len; i++) {
        unsigned char c = (unsigned char) line[i];
        if (c < 0x20 || c == 0x7f) {
            line[i] = '?';
        }
    }
    line[len++] = '\n';
    ssize_t w = write(STDERR_FILENO, line, len);
    (void) w;
}
