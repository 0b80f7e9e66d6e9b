/*
 * rate_limit: token buckets per method and per client key (rate_limits: in
 * the config), one limit across all workers with no lock on the request
 * path.
 *
 * Each limit's tokens live in a shared pool: a GCRA "theoretical arrival
 * time" (one atomic: the time the bucket is empty until, in ns; a full
 * bucket is any time in the past). A worker takes tokens from it in
 * batches (about 10 ms worth, at most its burst, one CAS a batch) and
 * spends them on its own; once the pool says no, the worker answers 429
 * without asking again until a batch can be there. So the shared line is
 * written at the refill rate, not per request, and what the workers admit
 * together never exceeds rate x time + burst; at saturation it falls short
 * by at most the batches workers hold (workers x 10 ms of tokens).
 *
 * Keyed limits (client address, a header such as an API key) keep a pool
 * per key in a shared open-addressing table of max_keys x 2 slots (a
 * seeded 64-bit hash of the key; a slot whose bucket is full again is free
 * for another key, as a full bucket is what a new key starts with), and
 * each worker a small cache of the keys it saw with its batch of each.
 * Keys that find no slot within 8 probes (more distinct clients than
 * max_keys, all active) share one overflow pool of the same rate: memory
 * stays bounded and the limit still holds. Batches of a keyed limit are
 * smaller (its rate is per client), so a slow client's pool may be
 * touched once per request it is admitted: at most its rate.
 *
 * The admin API changes a limit's rate, burst or on/off (worker 0); the
 * workers see it at their next request of it (a generation number tells
 * them to drop what they hold).
 */
#ifndef AG_RATE_LIMIT_H
#define AG_RATE_LIMIT_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "config/config.h"
#include "state/methods.h"

typedef struct rate_limits rate_limits_t;   /* the shared part: limits and pools */
typedef struct rate_limiter rate_limiter_t; /* one worker's part: its batches */

/* The limits of cfg (kept: it must outlive them), each on the methods it
 * names. NULL with err when a limit names a method the table lacks. */
rate_limits_t *rate_limits_new(const config_t *cfg, const method_table_t *methods, char *err, size_t errlen);
void rate_limits_free(rate_limits_t *rl);
size_t rate_limits_count(const rate_limits_t *rl);

/* What the admin API shows and changes, by index (0 .. count-1). */
typedef struct rate_limit_state {
    const config_rate_limit_t *cfg; /* name, method, key as configured */
    double rate;                    /* requests per second now */
    uint32_t burst;
    int enabled;
} rate_limit_state_t;
void rate_limits_get(const rate_limits_t *rl, size_t i, rate_limit_state_t *out);
/* -1 when i is not a limit; rate > 0, burst >= 1 (0: one second's worth). */
int rate_limits_find(const rate_limits_t *rl, const char *name, size_t len);
int rate_limits_set(rate_limits_t *rl, size_t i, double rate, uint32_t burst, int enabled);

rate_limiter_t *rate_limiter_new(rate_limits_t *rl);
void rate_limiter_free(rate_limiter_t *l);

/* The key of a keyed limit for the request being checked: the client's
 * address bytes (CONFIG_RATE_KEY_ADDRESS) or the value of `header`
 * (CONFIG_RATE_KEY_HEADER); NULL with *len 0 when it has none (every such
 * request shares one bucket). */
typedef const void *(*rate_limit_key_fn)(void *ctx, config_rate_key_t kind, const char *header, size_t *len);

typedef struct rate_limit_denial {
    size_t limit;           /* index of the limit that said no */
    uint64_t retry_after_ns; /* when its next token is due */
} rate_limit_denial_t;

/* One request of method-table row `method` at now_ns (CLOCK_MONOTONIC):
 * 1 when every limit on it admits it (each took a token), 0 when one does
 * not (*denied says which; tokens already taken from the limits before it
 * are spent: a denied request is rare where it matters, at saturation). */
int rate_limiter_admit(rate_limiter_t *l, size_t method, rate_limit_key_fn key, void *key_ctx, uint64_t now_ns,
                       rate_limit_denial_t *denied);

/* The bucket math on one pool, for tests: up to want tokens (and no fewer
 * than need) at now from a pool of interval_ns per token and burst tokens.
 * Returns how many were taken; when none, *next_ns is when need will be. */
uint32_t rate_limit_pool_take(_Atomic uint64_t *tat, uint64_t now, uint64_t interval_ns, uint64_t burst,
                              uint32_t want, uint32_t need, uint64_t *next_ns);

#endif
