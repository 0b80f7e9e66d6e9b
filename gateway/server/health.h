/*
 * health: the Quarkus/SmallRye-style probes on the REST port
 * (/q/health, /q/health/live, /q/health/ready, /q/health/started) and the
 * active checker behind readiness: grpc.health.v1.Health/Check against each
 * upstream target (every target of every version), with
 * consecutive-success/-failure thresholds.
 *
 * The checker runs on worker 0's loop and publishes each target's state in
 * atomics (state/endpoints.h) that any worker reads: to answer probes, to
 * skip sick targets, and for the rollout's health gate.
 */
#ifndef AG_HEALTH_H
#define AG_HEALTH_H

#include <h2o.h>
#include "server/worker.h"

/* 1 when req was a health path and has been answered, 0 otherwise. */
int health_handle(h2o_req_t *req);
/* From worker 0's tick: starts the probes that are due. */
void health_tick(worker_t *w);
/* Worker 0 at exit: cancels probes still in flight. */
void health_dispose(worker_t *w);


#endif
