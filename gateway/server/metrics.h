/*
 * metrics: Prometheus counters and histograms of the REST and gRPC sides.
 *
 * Each worker records into its own block (no lock, no shared cache line:
 * a relaxed load and store per counter), and /q/metrics sums the blocks of
 * every worker at scrape time. Labels are bounded by construction: the route
 * template of a binding (never the raw path), a fixed set of methods for
 * unmatched requests, and status codes.
 */
#ifndef AG_METRICS_H
#define AG_METRICS_H

#include <stddef.h>
#include <stdint.h>
#include <h2o.h>

#include "core/histogram.h"

struct worker;
struct shared;
typedef struct metrics metrics_t;

/* Which door a gRPC call came in by: the `source` label of grpc_*. */
typedef enum metrics_source {
    METRICS_SOURCE_REST = 0, /* transcoded from a /api/v11 request */
    METRICS_SOURCE_GRPC,     /* the gRPC listener's pass-through */
    METRICS_SOURCE_GRPC_WEB, /* gRPC-Web on the REST port */
    METRICS_NSOURCES
} metrics_source_t;

/* One block per worker, sized for the server's bindings, its gRPC methods
 * (state/methods.h rows) and the upstream versions (split rows). */
metrics_t *metrics_new(size_t nbindings, size_t nmethods, size_t nversions);
void metrics_free(metrics_t *m);
/* The worker's open client connections, after adding delta (+1, -1, 0 to
 * read); gateway_connections_active sums them at scrape. */
uint64_t metrics_connections_add(metrics_t *m, int delta);

/* binding: index of the matched binding, or SIZE_MAX when none matched. */
void metrics_record_http(metrics_t *m, size_t binding, const char *method, size_t method_len, int status,
                         uint64_t duration_us, size_t request_bytes, size_t response_bytes);
/* A gRPC-Web call of method-table row `method`, answered on the REST port:
 * counted in the http_* series as REST requests are, with its method's
 * path for route (method "POST"). Calls with no method (unknown, or a
 * preflight) go to metrics_record_http's unmatched rows. */
void metrics_record_http_grpc_web(metrics_t *m, size_t method, int status, uint64_t duration_us,
                                  size_t request_bytes, size_t response_bytes);
/* One gRPC call of method-table row `method` that came in by `source`,
 * ended with `code` (grpc_requests_total, grpc_request_duration_seconds). */
void metrics_record_grpc(metrics_t *m, size_t method, metrics_source_t source, int code, uint64_t duration_us);
/* n unknown JSON keys or query parameters that the binding's profile let pass. */
void metrics_record_unknown_fields(metrics_t *m, size_t binding, uint32_t n);
/* One upstream call answered by the version of split row `row`. */
void metrics_record_upstream(metrics_t *m, size_t row, int code, uint64_t duration_us);
/* One upstream call of split row `row` that the client cancelled (stream
 * reset, hang-up): counted under CANCELLED in gateway_upstream_requests_total
 * only, never in the version's window (requests, errors, latency) that the
 * rollout's gates read, so clients that give up cannot roll a canary back
 * or dilute its error rate. Every door calls this instead of
 * metrics_record_upstream for such calls. */
void metrics_record_upstream_cancelled(metrics_t *m, size_t row);
/* The worker's upstream of split row `row`: connections opened and GOAWAYs
 * received so far (its own totals, set at each tick). */
void metrics_set_upstream_connections(metrics_t *m, size_t row, uint64_t connects, uint64_t goaways);
/* Room for gateway_rate_limited_total{method,route,limit}: nlimits rate
 * limits (state/rate_limit.h) on each binding. -1 when out of memory. */
int metrics_enable_rate_limits(metrics_t *m, size_t nlimits);
/* A request of `binding` that rate limit `limit` answered 429. */
void metrics_record_rate_limited(metrics_t *m, size_t binding, size_t limit);
/* The same for a gRPC call (no REST binding) of method-table row `method`
 * that came in by `source`: gateway_grpc_rate_limited_total. */
void metrics_record_grpc_rate_limited(metrics_t *m, size_t method, metrics_source_t source, size_t limit);

/* A version's counters summed over the workers (for the rollout's gates and
 * the admin API, through shared_t's version_totals). */
void metrics_version_totals(const struct shared *sh, size_t row, histogram_totals_t *out);

/* 1 when req was /q/metrics and has been answered. */
int metrics_handle(h2o_req_t *req);

#endif
