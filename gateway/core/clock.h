/* clock: the monotonic clock in the units the gateway counts in. */
#ifndef AG_CLOCK_H
#define AG_CLOCK_H

#include <stdint.h>
#include <time.h>

/* Microseconds from t0 (CLOCK_MONOTONIC) to now. */
static inline uint64_t clock_us_since(const struct timespec *t0)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (uint64_t)(now.tv_sec - t0->tv_sec) * 1000000u + (uint64_t)((now.tv_nsec - t0->tv_nsec) / 1000);
}

#endif
