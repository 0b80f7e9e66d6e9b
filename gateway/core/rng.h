/*
 * rng: xorshift64*, for choices that want spread, not secrecy (a version
 * pick, retry jitter, a request id). Each owner keeps its own state (a
 * worker, a cluster), so there is nothing shared and no lock.
 */
#ifndef AG_RNG_H
#define AG_RNG_H

#include <stddef.h>
#include <stdint.h>

static inline uint64_t rng_next(uint64_t *s)
{
    uint64_t x = *s ? *s : 0x9e3779b97f4a7c15ull; /* 0 is xorshift's fixed point */
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    *s = x;
    return x * 0x2545f4914f6cdd1dull;
}

/* A state from the wall clock and salt: different across restarts and
 * across the instances of a fleet, which a state from a constant is not. */
uint64_t rng_seed_clock(uint64_t salt);
/* n (<= 16) lower-case hex digits of the next value into out (no NUL). */
void rng_hex(uint64_t *s, char *out, size_t n);

#endif
