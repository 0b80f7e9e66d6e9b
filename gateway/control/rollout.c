/*
 * rollout.c: the state machine, the sliding window, the gates.
 *
 * The window is kept as a ring of cumulative samples of the canary's own
 * counters, one every window/16 (at least the 100 ms tick): the figures
 * over the window are "now" minus the oldest sample no older than the
 * window. Only samples of the current step count, so a step is judged on
 * its own traffic, and a new step starts with an empty window.
 *
 * Percentiles come from the histogram buckets: p95 is the upper bound of
 * the bucket where 95% of the calls are reached. Gates on bucket bounds
 * (0.2 s, 0.5 s, 1 s) are therefore exact: "p95 > 500 ms" holds exactly
 * when more than 5% of the calls took longer than 0.5 s.
 */
#include "control/rollout.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

static const char *const state_names[] = {"idle", "progressing", "completed", "rolled_back"};
static const char *const reason_names[] = {"error_rate", "latency_p95", "latency_p99", "health", "manual"};

const char *rollout_state_name(rollout_state_t s)
{
    return s < ROLLOUT_NSTATES ? state_names[s] : "unknown";
}

const char *rollout_reason_name(rollout_reason_t r)
{
    return r < ROLLBACK_NREASONS ? reason_names[r] : "unknown";
}

void rollout_init(rollout_t *r, split_cluster_t *cluster)
{
    memset(r, 0, sizeof(*r));
    r->cluster = cluster;
    r->cfg = cluster->cfg->rollout;
    r->from = r->to = -1;
    r->last.verdict = "idle";
    atomic_store(&r->state, ROLLOUT_IDLE);
}

static void set_weights(rollout_t *r, uint32_t to_percent)
{
    split_cluster_t *c = r->cluster;
    for (size_t v = 0; v < c->nversions; v++) {
        uint32_t w = (int)v == r->to ? to_percent : (int)v == r->from ? 100 - to_percent : 0;
        atomic_store(&c->versions[v].weight, w);
    }
    atomic_store(&r->step_percent, to_percent);
}

static void log_event(const rollout_t *r, const char *what)
{
    fprintf(stderr, "aurigraph-gateway: rollout %s: %s\n", r->cluster->cfg->name, what);
    fflush(stderr);
}

static void begin_step(rollout_t *r, size_t step, uint64_t now_ms)
{
    r->step = step;
    r->step_started_ms = now_ms;
    r->next_eval_ms = now_ms + r->cfg.interval_ms;
    r->next_sample_ms = 0; /* sample at the next tick: the window's start */
    r->ring_len = r->ring_head = 0;
    set_weights(r, r->cfg.steps[step]);
    char msg[160];
    snprintf(msg, sizeof(msg), "step %zu of %zu: %s at %u%%, %s at %u%%", step + 1, r->cfg.nsteps,
             r->cluster->versions[r->to].name, r->cfg.steps[step], r->cluster->versions[r->from].name,
             100 - r->cfg.steps[step]);
    log_event(r, msg);
}

int rollout_start(rollout_t *r, const config_rollout_t *cfg, int from, int to, uint64_t now_ms, char *err,
                  size_t errlen)
{
    split_cluster_t *c = r->cluster;
    if (to < 0 || (size_t)to >= c->nversions || from < 0 || (size_t)from >= c->nversions) {
        snprintf(err, errlen, "unknown version");
        return -1;
    }
    if (from == to) {
        snprintf(err, errlen, "\"to\" is the version serving now (%s); nothing to roll out", c->versions[to].name);
        return -1;
    }
    if (cfg->nsteps == 0 || cfg->steps[cfg->nsteps - 1] != 100) {
        snprintf(err, errlen, "steps must end at 100");
        return -1;
    }
    if (cfg->window_ms == 0 || cfg->interval_ms == 0) {
        snprintf(err, errlen, "window and interval must be greater than 0");
        return -1;
    }
    r->cfg = *cfg;
    r->from = from;
    r->to = to;
    r->started_ms = now_ms;
    r->reason[0] = '\0';
    r->last = (rollout_window_t){.verdict = "waiting"};
    atomic_store(&c->canary, to);
    atomic_store(&c->canary_blocked, 0);
    atomic_store(&r->state, ROLLOUT_PROGRESSING);
    begin_step(r, 0, now_ms);
    return 0;
}

void rollout_rollback(rollout_t *r, rollout_reason_t reason, const char *why)
{
    split_cluster_t *c = r->cluster;
    int to = r->to >= 0 ? r->to : atomic_load(&c->canary);
    int from = r->from;
    if (from < 0) {
        /* no rollout ran: send everything to the first version that is not the canary */
        for (size_t v = 0; v < c->nversions && from < 0; v++)
            if ((int)v != to)
                from = (int)v;
    }
    if (to < 0 || from < 0)
        return;
    r->to = to;
    r->from = from;
    set_weights(r, 0);
    atomic_store(&r->step_percent, 0);
    atomic_store(&c->canary_blocked, 1);
    atomic_store(&r->state, ROLLOUT_ROLLED_BACK);
    atomic_fetch_add(&r->rollbacks[reason], 1);
    snprintf(r->reason, sizeof(r->reason), "%s: %s", rollout_reason_name(reason), why);
    char msg[300];
    snprintf(msg, sizeof(msg), "ROLLED BACK %s -> %s (%s)", c->versions[to].name, c->versions[from].name, r->reason);
    log_event(r, msg);
}

void rollout_promote(rollout_t *r, int to)
{
    split_cluster_t *c = r->cluster;
    for (size_t v = 0; v < c->nversions; v++)
        atomic_store(&c->versions[v].weight, (int)v == to ? 100 : 0);
    if (r->to != to && r->to >= 0)
        r->from = r->to;
    r->to = to;
    atomic_store(&c->canary_blocked, 0);
    atomic_store(&r->step_percent, 100);
    atomic_store(&r->state, ROLLOUT_COMPLETED);
    snprintf(r->reason, sizeof(r->reason), "promoted by hand");
    char msg[160];
    snprintf(msg, sizeof(msg), "%s promoted to 100%%", c->versions[to].name);
    log_event(r, msg);
}

void rollout_cancel(rollout_t *r, const char *why)
{
    if (atomic_load(&r->state) != ROLLOUT_PROGRESSING)
        return;
    atomic_store(&r->state, ROLLOUT_IDLE);
    atomic_store(&r->step_percent, 0);
    atomic_store(&r->cluster->canary_blocked, 0);
    snprintf(r->reason, sizeof(r->reason), "cancelled: %s", why);
    log_event(r, r->reason);
}

/* ---- the window ---------------------------------------------------------- */

static void sample(rollout_t *r, uint64_t now_ms, const histogram_totals_t *t)
{
    size_t slot;
    if (r->ring_len < ROLLOUT_RING) {
        slot = (r->ring_head + r->ring_len) % ROLLOUT_RING;
        r->ring_len++;
    } else {
        slot = r->ring_head;
        r->ring_head = (r->ring_head + 1) % ROLLOUT_RING;
    }
    r->ring[slot] = (rollout_sample_t){now_ms, *t};
}

/* The oldest sample that is still inside the window. */
static const rollout_sample_t *window_start(const rollout_t *r, uint64_t now_ms)
{
    for (size_t i = 0; i < r->ring_len; i++) {
        const rollout_sample_t *s = &r->ring[(r->ring_head + i) % ROLLOUT_RING];
        if (now_ms - s->at_ms <= r->cfg.window_ms)
            return s;
    }
    return r->ring_len ? &r->ring[(r->ring_head + r->ring_len - 1) % ROLLOUT_RING] : NULL;
}

static double quantile(const uint64_t *buckets, uint64_t total, double q)
{
    if (total == 0)
        return 0;
    uint64_t need = (uint64_t)ceil(q * (double)total), cum = 0;
    for (size_t i = 0; i < HISTOGRAM_NBUCKETS; i++) {
        cum += buckets[i];
        if (cum >= need)
            return histogram_le[i];
    }
    return INFINITY;
}

static void measure(const rollout_t *r, uint64_t now_ms, const rollout_input_t *in, rollout_window_t *w)
{
    const rollout_sample_t *s = window_start(r, now_ms);
    uint64_t b[HISTOGRAM_NBUCKETS + 1];
    *w = (rollout_window_t){.health_failures = in->health_failures};
    if (s == NULL)
        return;
    w->span_ms = now_ms - s->at_ms;
    w->requests = in->totals.requests - s->totals.requests;
    w->errors = in->totals.errors - s->totals.errors;
    for (size_t i = 0; i <= HISTOGRAM_NBUCKETS; i++)
        b[i] = in->totals.buckets[i] - s->totals.buckets[i];
    w->error_rate = w->requests ? (double)w->errors / (double)w->requests : 0;
    w->p95_s = quantile(b, w->requests, 0.95);
    w->p99_s = quantile(b, w->requests, 0.99);
}

static const char *bucket_text(double seconds, char *out, size_t len)
{
    if (isinf(seconds))
        snprintf(out, len, "+Inf");
    else
        snprintf(out, len, "%g ms", seconds * 1000);
    return out;
}

int rollout_tick(rollout_t *r, uint64_t now_ms, const rollout_input_t *in)
{
    if (atomic_load(&r->state) != ROLLOUT_PROGRESSING)
        return 0;
    if (now_ms >= r->next_sample_ms) {
        sample(r, now_ms, &in->totals);
        uint64_t every = r->cfg.window_ms / (ROLLOUT_RING / 2);
        r->next_sample_ms = now_ms + (every > 100 ? every : 100);
    }
    if (now_ms < r->next_eval_ms)
        return 0;
    r->next_eval_ms = now_ms + r->cfg.interval_ms;

    rollout_window_t w;
    measure(r, now_ms, in, &w);
    char why[200], bt[32];
    /* health needs no traffic: a canary that stops answering checks is out */
    if (w.health_failures > r->cfg.max_health_failures) {
        w.verdict = "breach: health";
        r->last = w;
        snprintf(why, sizeof(why), "%u consecutive failed health checks (gate: more than %u)", w.health_failures,
                 r->cfg.max_health_failures);
        rollout_rollback(r, ROLLBACK_HEALTH, why);
        return 1;
    }
    if (w.requests < r->cfg.min_requests) {
        w.verdict = "inconclusive";
        r->last = w;
        return 0;
    }
    rollout_reason_t reason = ROLLBACK_NREASONS;
    if (w.error_rate > r->cfg.max_error_rate) {
        reason = ROLLBACK_ERROR_RATE;
        snprintf(why, sizeof(why), "error rate %.2f%% over %llu requests (gate: %.2f%%)", w.error_rate * 100,
                 (unsigned long long)w.requests, r->cfg.max_error_rate * 100);
    } else if (r->cfg.max_p95_ms && w.p95_s * 1000 > r->cfg.max_p95_ms) {
        reason = ROLLBACK_LATENCY_P95;
        snprintf(why, sizeof(why), "p95 latency above the %u ms gate over %llu requests (its bucket: up to %s)",
                 r->cfg.max_p95_ms, (unsigned long long)w.requests, bucket_text(w.p95_s, bt, sizeof(bt)));
    } else if (r->cfg.max_p99_ms && w.p99_s * 1000 > r->cfg.max_p99_ms) {
        reason = ROLLBACK_LATENCY_P99;
        snprintf(why, sizeof(why), "p99 latency above the %u ms gate over %llu requests (its bucket: up to %s)",
                 r->cfg.max_p99_ms, (unsigned long long)w.requests, bucket_text(w.p99_s, bt, sizeof(bt)));
    }
    if (reason != ROLLBACK_NREASONS) {
        w.verdict = rollout_reason_name(reason);
        r->last = w;
        rollout_rollback(r, reason, why);
        return 1;
    }
    int window_full = now_ms - r->step_started_ms >= r->cfg.window_ms;
    w.verdict = window_full ? "pass" : "waiting";
    r->last = w;
    if (!window_full || now_ms - r->step_started_ms < r->cfg.hold_ms)
        return 0;
    if (r->step + 1 < r->cfg.nsteps) {
        begin_step(r, r->step + 1, now_ms);
        if (r->cfg.steps[r->step] == 100) {
            atomic_store(&r->state, ROLLOUT_COMPLETED);
            log_event(r, "completed: 100%");
        }
        return 1;
    }
    atomic_store(&r->state, ROLLOUT_COMPLETED);
    log_event(r, "completed: 100%");
    return 1;
}
