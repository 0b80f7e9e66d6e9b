/*
 * request_path: what every front door does with a call once it knows the
 * method: pick the version of the method's cluster that serves it (the
 * split's weights, the client's sticky header or cookie), and start the
 * gRPC call on this worker's upstream of that version. The REST handler
 * (api) uses it; a gRPC pass-through uses the same pick and the same
 * upstreams, so both kinds of traffic follow one release.
 *
 *   route (route_match) -> request_path_pick -> request_path_call -> upstream
 */
#ifndef AG_REQUEST_PATH_H
#define AG_REQUEST_PATH_H

#include <stddef.h>
#include <stdint.h>
#include <h2o.h>

#include "state/split.h"
#include "upstream/upstream.h"

struct worker;

/* The version of c that serves req. rng: the worker's own state. */
const split_version_t *request_path_pick(const split_cluster_t *c, const h2o_req_t *req, uint64_t *rng);
/* The same pick for a door without an h2o request (the gRPC listener):
 * header(ctx, name, &len) gives a request header's (metadata's) value by
 * its lower-case name, or NULL. */
typedef const char *(*request_path_header_fn)(void *ctx, const char *name, size_t *len);
const split_version_t *request_path_pick_by(const split_cluster_t *c, request_path_header_fn header, void *ctx,
                                            uint64_t *rng);
/* A gRPC call of one whole request message on w's upstream of version v
 * (upstream.h: handlers run on this thread; NULL when it ended at once). */
upstream_call_t *request_path_call(struct worker *w, const split_version_t *v, const char *grpc_path, const uint8_t *msg,
                                   size_t len, const upstream_header_t *md, size_t nmd, uint32_t timeout_ms,
                                   const upstream_handlers_t *handlers, void *ctx);
/* A streaming call (upstream_call_open) on w's upstream of version v. */
upstream_call_t *request_path_open(struct worker *w, const split_version_t *v, const char *grpc_path,
                                   const upstream_header_t *md, size_t nmd, uint32_t timeout_ms,
                                   const upstream_handlers_t *handlers, void (*on_writable)(void *ctx), void *ctx);
/* A grpc-timeout value ("100m", "5S": gRPC's TimeoutValue TimeoutUnit) in
 * ms, rounded up; 0 when absent or malformed. */
uint32_t request_path_grpc_timeout(const char *s, size_t len);

#endif
