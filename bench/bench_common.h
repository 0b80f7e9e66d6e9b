/*
 * bench_common.h: what both benchmarks share: inputs that must be the same
 * in both (the int32 array), the clock, and small helpers.
 */
#ifndef AG_BENCH_COMMON_H
#define AG_BENCH_COMMON_H

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static inline void *xmalloc(size_t n)
{
    void *p = malloc(n);
    if (p == NULL) {
        fprintf(stderr, "out of memory\n");
        exit(2);
    }
    return p;
}

/* {"rInt32":[...]} of deterministic full-range int32 values, as long as
 * possible without passing `target` bytes. Half are negative, and a negative
 * int32 is a 10-byte varint, so this is the hard end of int32 arrays. */
static inline char *make_int32_array(size_t target, size_t *len)
{
    char *p = xmalloc(target + 1);
    size_t n = (size_t)snprintf(p, target + 1, "{\"rInt32\":[");
    uint32_t x = 2463534242u; /* xorshift32 */
    int first = 1;
    for (;;) {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        char num[16];
        int w = snprintf(num, sizeof(num), "%s%d", first ? "" : ",", (int32_t)x);
        if (n + (size_t)w + 2 > target)
            break;
        memcpy(p + n, num, (size_t)w);
        n += (size_t)w;
        first = 0;
    }
    memcpy(p + n, "]}", 3);
    *len = n + 2;
    return p;
}

/* CPU time of this thread by default: on a shared machine a run that gets
 * descheduled would otherwise count the other process's time (--wall for
 * CLOCK_MONOTONIC). */
static clockid_t bench_clock = CLOCK_THREAD_CPUTIME_ID;

static inline double now_ns(void)
{
    struct timespec ts;
    clock_gettime(bench_clock, &ts);
    return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

static inline int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* A non-negative integer flag value, or exit 2 naming the flag. */
static inline long parse_long(const char *s, const char *what)
{
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || *end || v < 0) {
        fprintf(stderr, "bad %s: %s\n", what, s);
        exit(2);
    }
    return v;
}

/* Sorts per[0..n) and returns the median; per[0] is then the minimum. */
static inline double median_of(double *per, int n)
{
    qsort(per, (size_t)n, sizeof(double), cmp_double);
    return n % 2 ? per[n / 2] : (per[n / 2 - 1] + per[n / 2]) / 2;
}

/* Times `runs` runs of fn(ctx, iters) and leaves per-iteration ns in
 * per[0..runs) sorted (per[0] the fastest); returns the median. With
 * iters 0, iters first grows until one run lasts min_ms. runs <= 64. */
typedef double (*bench_run_fn)(void *ctx, uint64_t iters);
static inline double bench_measure(bench_run_fn fn, void *ctx, int runs, double min_ms, uint64_t iters, double *per)
{
    if (iters == 0) {
        iters = 1;
        for (;;) {
            double dt = fn(ctx, iters);
            if (dt >= min_ms * 1e6)
                break;
            double scale = dt > 1e5 ? min_ms * 1e6 / dt * 1.1 : 10.0;
            if (scale < 2.0)
                scale = 2.0;
            iters = (uint64_t)((double)iters * scale) + 1;
        }
    }
    for (int i = 0; i < runs; i++)
        per[i] = fn(ctx, iters) / (double)iters;
    return median_of(per, runs);
}

#endif
