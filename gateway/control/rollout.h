/*
 * rollout: a progressive release of one cluster's canary version, with
 * gates, and the automatic rollback when a gate breaks.
 *
 * States (HAProxy-style: the enum is the whole truth, transitions live in
 * rollout.c only):
 *   IDLE -> PROGRESSING (rollout_start) -> COMPLETED (last step, 100%)
 *                                       -> ROLLED_BACK (a gate, or by hand)
 * Any state may be left by a new rollout_start; promote and a manual
 * rollback work from any state.
 *
 * Everything here runs on one thread (worker 0: its tick and its admin
 * listener), so the state needs no lock; the few fields other threads read
 * (state, step percent, rollback counts) are atomics.
 */
#ifndef AG_ROLLOUT_H
#define AG_ROLLOUT_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "config/config.h"
#include "state/split.h"
#include "core/histogram.h"

typedef enum rollout_state {
    ROLLOUT_IDLE,
    ROLLOUT_PROGRESSING,
    ROLLOUT_COMPLETED,
    ROLLOUT_ROLLED_BACK,
    ROLLOUT_NSTATES
} rollout_state_t;

typedef enum rollout_reason {
    ROLLBACK_ERROR_RATE,
    ROLLBACK_LATENCY_P95,
    ROLLBACK_LATENCY_P99,
    ROLLBACK_HEALTH,
    ROLLBACK_MANUAL,
    ROLLBACK_NREASONS
} rollout_reason_t;

/* The gates' view of the canary over the window. */
typedef struct rollout_window {
    uint64_t requests, errors;
    uint64_t span_ms;        /* how much of the window the figures cover */
    double error_rate;
    double p95_s, p99_s;     /* upper bounds of the histogram buckets; INFINITY above the last */
    uint32_t health_failures;
    const char *verdict;     /* "pass", "inconclusive", "waiting", or the breach */
} rollout_window_t;

#define ROLLOUT_RING 32

typedef struct rollout_sample {
    uint64_t at_ms;
    histogram_totals_t totals;
} rollout_sample_t;

typedef struct rollout {
    split_cluster_t *cluster;
    config_rollout_t cfg;
    _Atomic int state;                /* rollout_state_t */
    _Atomic uint32_t step_percent;    /* the canary's weight of this step; 0 none */
    _Atomic uint64_t rollbacks[ROLLBACK_NREASONS];
    int from, to;                     /* version indexes */
    size_t step;
    uint64_t started_ms, step_started_ms, next_eval_ms, next_sample_ms;
    rollout_sample_t ring[ROLLOUT_RING];
    size_t ring_len, ring_head;       /* oldest at ring_head */
    rollout_window_t last;            /* the last evaluation */
    char reason[200];
} rollout_t;

void rollout_init(rollout_t *r, split_cluster_t *cluster);

/* Starts at steps[0] (canary `to` gets that percent, `from` the rest).
 * -1 with err when the arguments don't make sense. */
int rollout_start(rollout_t *r, const config_rollout_t *cfg, int from, int to, uint64_t now_ms, char *err,
                  size_t errlen);

/* What the tick feeds in: the canary's counters now, and its health. */
typedef struct rollout_input {
    histogram_totals_t totals;  /* cumulative, summed over workers */
    uint32_t health_failures;         /* the most consecutive failed checks among its targets */
} rollout_input_t;

/* Evaluates when due: breach -> rollback at once; a passing, full window
 * after the hold -> the next step. Returns 1 when the state changed. */
int rollout_tick(rollout_t *r, uint64_t now_ms, const rollout_input_t *in);

/* Canary weight 0 and its predecessor 100 at once. */
void rollout_rollback(rollout_t *r, rollout_reason_t reason, const char *why);
/* Version `to` gets 100% at once, the others 0 (blue-green switch). */
void rollout_promote(rollout_t *r, int to);
/* An operator set weights by hand: any rollout in progress stops. */
void rollout_cancel(rollout_t *r, const char *why);

const char *rollout_state_name(rollout_state_t s);
const char *rollout_reason_name(rollout_reason_t r);

#endif
