// socp_bench_hist.c: the log-linear (HDR-style) latency histogram.
// Part of socp, a SOCP v1.3 client and server.
#include <string.h>

#include "socp/socp_bench.h"

#define S_EXACT 64u // values below are their own bucket

static size_t
s_index(uint64_t v)
{
    if (v < S_EXACT) {
        return (size_t) v;
    }
    unsigned e = 63u - (unsigned) __builtin_clzll(v); // 2^e <= v < 2^(e+1), e >= 6
    if (e >= 40) {
        return SOCP_BENCH_HIST_BUCKETS - 1;
    }
    unsigned shift = e - 5u;                           // 32 sub-buckets per power of two
    uint64_t sub = (v >> shift) - SOCP_BENCH_HIST_SUB; // 0..31
    return S_EXACT + (size_t) (e - 6u) * SOCP_BENCH_HIST_SUB + (size_t) sub;
}

// The largest value that falls into bucket i.
static uint64_t
s_upper(size_t i)
{
    if (i < S_EXACT) {
        return i;
    }
    size_t k = i - S_EXACT;
    unsigned e = (unsigned) (k / SOCP_BENCH_HIST_SUB) + 6u;
    uint64_t sub = k % SOCP_BENCH_HIST_SUB;
    unsigned shift = e - 5u;
    return ((SOCP_BENCH_HIST_SUB + sub + 1) << shift) - 1;
}

void
socp_bench_hist_init(socp_bench_hist_t *self)
{
    memset(self, 0, sizeof *self);
    self->min = UINT64_MAX;
}

void
socp_bench_hist_add(socp_bench_hist_t *self, uint64_t value)
{
    self->counts[s_index(value)]++;
    self->total++;
    self->sum += (double) value;
    if (value > self->max) {
        self->max = value;
    }
    if (value < self->min) {
        self->min = value;
    }
}

void
socp_bench_hist_merge(socp_bench_hist_t *self, const socp_bench_hist_t *other)
{
    for (size_t i = 0; i < SOCP_BENCH_HIST_BUCKETS; i++) {
        self->counts[i] += other->counts[i];
    }
    self->total += other->total;
    self->sum += other->sum;
    if (other->max > self->max) {
        self->max = other->max;
    }
    if (other->min < self->min) {
        self->min = other->min;
    }
}

uint64_t
socp_bench_hist_pct(const socp_bench_hist_t *self, double p)
{
    if (self->total == 0) {
        return 0;
    }
    if (p < 0) {
        p = 0;
    }
    if (p > 100) {
        p = 100;
    }
    // Rank of the wanted sample, 1-based (nearest-rank method).
    uint64_t rank = (uint64_t) ((p / 100.0) * (double) self->total + 0.999999);
    if (rank < 1) {
        rank = 1;
    }
    uint64_t seen = 0;
    for (size_t i = 0; i < SOCP_BENCH_HIST_BUCKETS; i++) {
        seen += self->counts[i];
        if (seen >= rank) {
            uint64_t up = s_upper(i);
            return up < self->max ? up : self->max;
        }
    }
    return self->max;
}
