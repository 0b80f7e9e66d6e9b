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

struct worker;
typedef struct metrics metrics_t;

/* One block per worker, sized for the server's bindings. */
metrics_t *metrics_new(size_t nbindings);
void metrics_free(metrics_t *m);

/* binding: index of the matched binding, or SIZE_MAX when none matched. */
void metrics_record_http(metrics_t *m, size_t binding, const char *method, size_t method_len, int status,
                         uint64_t duration_us, size_t request_bytes, size_t response_bytes);
void metrics_record_grpc(metrics_t *m, size_t binding, int code, uint64_t duration_us);

/* 1 when req was /q/metrics and has been answered. */
int metrics_handle(h2o_req_t *req);

#endif
