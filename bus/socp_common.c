// socp_common.c: allocation wrappers, clocks, byte buffer, error strings.
#include "socp/socp_common.h"
#include "socp/socp_err.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static void
s_oom(size_t n, const char *file, int line)
{
    fprintf(stderr, "socp: out of memory allocating %zu bytes at %s:%d\n", n, file, line);
    abort();
}

void *
socp_malloc_at(size_t n, const char *file, int line)
{
    void *p = malloc(n ? n : 1);
    if (!p) {
        s_oom(n, file, line);
    }
    return p;
}

void *
socp_calloc_at(size_t n, size_t size, const char *file, int line)
{
    void *p = calloc(n ? n : 1, size ? size : 1);
    if (!p) {
        s_oom(n * size, file, line);
    }
    return p;
}

void *
socp_realloc_at(void *p, size_t n, const char *file, int line)
{
    void *q = realloc(p, n ? n : 1);
    if (!q) {
        s_oom(n, file, line);
    }
    return q;
}

char *
socp_strdup_at(const char *s, const char *file, int line)
{
    size_t n = strlen(s) + 1;
    char *p = socp_malloc_at(n, file, line);
    memcpy(p, s, n);
    return p;
}

void *
socp_memdup_at(const void *p, size_t n, const char *file, int line)
{
    void *q = socp_malloc_at(n, file, line);
    if (n) {
        memcpy(q, p, n);
    }
    return q;
}

uint64_t
socp_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t) ts.tv_sec * 1000000000u + (uint64_t) ts.tv_nsec;
}

uint64_t
socp_now_ms(void)
{
    return socp_now_ns() / 1000000u;
}

int64_t
socp_wall_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void
socp_buf_init(socp_buf_t *self)
{
    self->data = NULL;
    self->len = 0;
    self->cap = 0;
}

void
socp_buf_fini(socp_buf_t *self)
{
    free(self->data);
    socp_buf_init(self);
}

void
socp_buf_reserve(socp_buf_t *self, size_t extra)
{
    if (self->cap - self->len >= extra) {
        return;
    }
    size_t cap = self->cap ? self->cap : 64;
    while (cap - self->len < extra) {
        cap *= 2;
    }
    self->data = socp_realloc(self->data, cap);
    self->cap = cap;
}

void
socp_buf_append(socp_buf_t *self, const void *data, size_t len)
{
    if (len == 0) {
        return;
    }
    socp_buf_reserve(self, len);
    memcpy(self->data + self->len, data, len);
    self->len += len;
}

void
socp_buf_reset(socp_buf_t *self)
{
    self->len = 0;
}

const char *
socp_strerror(int code)
{
    switch (code) {
        case SOCP_OK:
            return "success";
#define SOCP_ERR_CASE(name, value, text) \
    case name:                           \
        return text;
            SOCP_ERRORS(SOCP_ERR_CASE)
#undef SOCP_ERR_CASE
        default:
            return "unknown error";
    }
}

const char *
socp_errname(int code)
{
    switch (code) {
        case SOCP_OK:
            return "SOCP_OK";
#define SOCP_ERR_NAME(name, value, text) \
    case name:                           \
        return #name;
            SOCP_ERRORS(SOCP_ERR_NAME)
#undef SOCP_ERR_NAME
        default:
            return "?";
    }
}
