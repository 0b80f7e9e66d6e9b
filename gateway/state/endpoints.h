/*
 * endpoints: the health of every upstream target, as the active checker
 * (server/health.c, on worker 0's loop) publishes it, and the answers the
 * rest of the gateway derives from it: readiness, the upstreams' choice of
 * targets, the rollout's health gate, the admin API.
 *
 * One endpoint per target of every version (split.h: a version's targets
 * are endpoints[first_endpoint .. first_endpoint + ntargets)). Written by
 * the checker only, read by any thread: atomics, no lock.
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
} endpoint_health_t;

/* A cluster is up when a version that takes traffic has a healthy target. */
int endpoints_cluster_up(const endpoint_health_t *e, const split_cluster_t *c);
size_t endpoints_version_healthy(const endpoint_health_t *e, const split_version_t *v);
/* The most consecutive failed checks among the version's targets. */
uint32_t endpoints_version_failures(const endpoint_health_t *e, const split_version_t *v);

#endif
