/*
 * grpc_health: grpc.health.v1.Health answered by the gateway itself on its
 * gRPC listener (a grpc_local service), never by a backend.
 *
 *   ""                   SERVING unless the gateway is draining or no
 *                        cluster has a healthy target (state/endpoints)
 *   a routed service     its cluster's health (state/methods: service ->
 *                        cluster), NOT_SERVING while draining
 *   the gateway's own    Health and both reflection services: SERVING
 *                        unless draining
 *   anything else        Check: status NOT_FOUND; Watch: SERVICE_UNKNOWN,
 *                        and the call stays open (the health spec's rules)
 *
 * Watch sends the status at once and again on every change, seen by the
 * worker's tick; it ends when the client cancels, or with UNAVAILABLE
 * (after a last NOT_SERVING) when the gateway drains, so a drain never
 * waits on a watcher. A worker holds at most grpc.max_local_streams
 * watches and reflection streams together (grpc_local_hold); a Watch past
 * that is RESOURCE_EXHAUSTED.
 */
#ifndef AG_GRPC_HEALTH_H
#define AG_GRPC_HEALTH_H

/* grpc_local.h's; not included, so grpc_local.c can include this */
struct grpc_local_service;
struct worker;

extern const struct grpc_local_service grpc_health_service;

/* The worker's 100 ms tick: its Watch calls hear of changes and drains. */
void grpc_health_tick(struct worker *w);

#endif
