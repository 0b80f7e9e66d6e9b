/*
 * histogram: the latency buckets every latency series uses, and a version's
 * counters as the release gates read them. One definition, so that what
 * Prometheus shows (server/metrics) and what the rollout judges
 * (control/rollout) are the same buckets.
 */
#ifndef AG_HISTOGRAM_H
#define AG_HISTOGRAM_H

#include <stddef.h>
#include <stdint.h>

#define HISTOGRAM_NBUCKETS 13
/* Upper bounds in seconds; the release gates' 200 ms and 500 ms are among them. */
extern const double histogram_le[HISTOGRAM_NBUCKETS];

/* The bucket of a latency: HISTOGRAM_NBUCKETS for the +Inf one. */
static inline size_t histogram_bucket(uint64_t us)
{
    double s = (double)us / 1e6;
    size_t i = 0;
    while (i < HISTOGRAM_NBUCKETS && s > histogram_le[i])
        i++;
    return i;
}

/* One version's calls so far, summed over the workers: the count, those
 * that count as errors (their code maps to 5xx), and the latencies per
 * bucket (not cumulative; the last is +Inf). */
typedef struct histogram_totals {
    uint64_t requests, errors;
    uint64_t buckets[HISTOGRAM_NBUCKETS + 1];
} histogram_totals_t;

#endif
