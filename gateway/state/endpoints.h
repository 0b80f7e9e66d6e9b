/*
 * endpoints: the health of every upstream target, as the active checker
 * (server/health.c, on worker 0's loop) publishes it, and the answers the
 * rest of the gateway derives from it: readiness, the upstreams' choice of
 * targets, the rollout's health gate, the admin API.
 *
 * One endpoint per target of every version (split.h: a version's targets
 * are endpoints[first_endpoint .. first_endpoint + ntargets)). Written by
 * the checker only, read by any thread: atomics, no lock.
 *
 * Passive outlier detection beside the checks (Envoy's consecutive 5xx):
 * each worker counts, on its own, the calls failing in a row on each
 * target (upstream.h's target_result says which failed); at
 * health.passive_failures it ejects the target (`ejected`, the one shared
 * write, once per ejection, never per request). An ejected target is out
 * of rotation and of readiness at once, on every worker, and comes back
 * only through the active checks: healthy_threshold successful checks in a
 * row after the ejection (the checker clears it).
 */
#ifndef AG_ENDPOINTS_H
#define AG_ENDPOINTS_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "config/config.h"
#include "state/split.h"

typedef struct endpoint_health {
    const config_cluster_t *cfg;    /* thresholds */
    const config_target_t *target;
    _Atomic int up;                 /* 1 UP, 0 DOWN */
    _Atomic uint32_t successes;     /* consecutive */
    _Atomic uint32_t failures;      /* consecutive */
    _Atomic int last_code;          /* last grpc status of the probe; -1 none yet */
    _Atomic uint64_t checks;
    _Atomic int ejected;            /* passive: out until the checks pass (the worker that saw it sets it) */
    _Atomic uint64_t ejections;     /* passive ejections so far */
} endpoint_health_t;

/* A target that takes calls: passing its checks (or not checked yet), not ejected. */
static inline int endpoints_target_ok(const endpoint_health_t *e)
{
    return (atomic_load_explicit(&e->up, memory_order_relaxed) ||
            atomic_load_explicit(&e->checks, memory_order_relaxed) == 0) &&
           !atomic_load_explicit(&e->ejected, memory_order_relaxed);
}

/* One worker's passive detection for one version: upstream.h's
 * target_result with this as its ctx. consecutive is the worker's own
 * (one per target of the version), so counting shares nothing. */
typedef struct endpoints_passive {
    endpoint_health_t *endpoints;   /* the version's first */
    uint32_t *consecutive;          /* failed calls in a row, per target, seen by this worker */
    uint32_t threshold;             /* health.passive_failures; 0 = off */
    const char *cluster, *version;  /* for the log line */
} endpoints_passive_t;
void endpoints_passive_result(void *ctx, size_t target, int failed);

/* A cluster is up when a version that takes traffic has a healthy target
 * (passing its checks and not ejected). */
int endpoints_cluster_up(const endpoint_health_t *e, const split_cluster_t *c);
size_t endpoints_version_healthy(const endpoint_health_t *e, const split_version_t *v);
/* The most consecutive failed checks among the version's targets. */
uint32_t endpoints_version_failures(const endpoint_health_t *e, const split_version_t *v);

#endif
