// socp_bench.h: `socp bench`, a SOCP load generator (issue #6), and its
// HDR-style latency histogram.
// Part of socp, a SOCP v1.3 client and server.
#ifndef SOCP_BENCH_H
#define SOCP_BENCH_H

#include "socp/socp_common.h"

// Log-linear histogram of non-negative integer values (microseconds here):
// values below 64 are exact; above, each power of two is split into 32
// linear sub-buckets, so a reported percentile is within ~3% of the truth.
// Values up to 2^40 are kept; larger ones are clamped.
#define SOCP_BENCH_HIST_SUB     32
#define SOCP_BENCH_HIST_BUCKETS (64 + (40 - 6) * SOCP_BENCH_HIST_SUB)

typedef struct {
    uint64_t counts[SOCP_BENCH_HIST_BUCKETS];
    uint64_t total;
    uint64_t max;
    uint64_t min;
    double sum;
} socp_bench_hist_t;

void socp_bench_hist_init(socp_bench_hist_t *self);
void socp_bench_hist_add(socp_bench_hist_t *self, uint64_t value);
void socp_bench_hist_merge(socp_bench_hist_t *self, const socp_bench_hist_t *other);

// The value at percentile p (0..100): the upper edge of the bucket holding
// it, capped at the largest value seen. 0 when empty.
uint64_t socp_bench_hist_pct(const socp_bench_hist_t *self, double p);

// `socp bench ...` (argv[0] is "bench"). Returns the process exit code:
// 0 ok, 1 runtime failure or messages lost, 2 usage.
int socp_bench_main(int argc, char **argv);

#endif
