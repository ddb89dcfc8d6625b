// socp_common.h: project-wide macros, version and memory helpers.
// Part of socp, a SOCP v1.3 client and server.
#ifndef SOCP_COMMON_H
#define SOCP_COMMON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SOCP_VERSION_MAJOR 0
#define SOCP_VERSION_MINOR 1
#define SOCP_VERSION_PATCH 0
#define SOCP_VERSION       "0.1.0"

#define SOCP_NODISCARD       __attribute__((warn_unused_result))
#define SOCP_NONNULL(...)    __attribute__((nonnull(__VA_ARGS__)))
#define SOCP_PRINTF(fmt, va) __attribute__((format(printf, fmt, va)))
#define SOCP_UNUSED(x)       ((void) (x))
#define SOCP_ARRAY_LEN(a)    (sizeof(a) / sizeof((a)[0]))

// Allocation wrappers: out of memory aborts with file and line (CZMQ zmalloc,
// Redis zmalloc). They never return NULL.
#define socp_malloc(n)     socp_malloc_at((n), __FILE__, __LINE__)
#define socp_calloc(n, s)  socp_calloc_at((n), (s), __FILE__, __LINE__)
#define socp_realloc(p, n) socp_realloc_at((p), (n), __FILE__, __LINE__)
#define socp_strdup(s)     socp_strdup_at((s), __FILE__, __LINE__)
#define socp_memdup(p, n)  socp_memdup_at((p), (n), __FILE__, __LINE__)

void *socp_malloc_at(size_t n, const char *file, int line);
void *socp_calloc_at(size_t n, size_t size, const char *file, int line);
void *socp_realloc_at(void *p, size_t n, const char *file, int line);
char *socp_strdup_at(const char *s, const char *file, int line);
void *socp_memdup_at(const void *p, size_t n, const char *file, int line);

// Monotonic and wall clocks.
uint64_t socp_now_ms(void); // monotonic milliseconds
uint64_t socp_now_ns(void); // monotonic nanoseconds
int64_t socp_wall_ms(void); // Unix time in milliseconds

// Growable byte buffer. Owns its memory; init/fini for embedded use.
typedef struct {
    uint8_t *data; // bytes, NULL when cap == 0
    size_t len;    // bytes in use
    size_t cap;    // bytes allocated
} socp_buf_t;

void socp_buf_init(socp_buf_t *self);
void socp_buf_fini(socp_buf_t *self);
void socp_buf_reserve(socp_buf_t *self, size_t extra);
void socp_buf_append(socp_buf_t *self, const void *data, size_t len);
void socp_buf_reset(socp_buf_t *self);

#endif
