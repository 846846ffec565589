// Timing helpers shared by the benchmark programs (gemm_bench, libs_bench, fma_peak).
#ifndef DPT_BENCH_UTIL_H
#define DPT_BENCH_UTIL_H

#include <time.h>

// Seconds on the monotonic clock.
static inline double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

// qsort comparator for doubles, ascending (medians of rounds).
static inline int cmp_double(const void *a, const void *b)
{
    const double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

#endif
