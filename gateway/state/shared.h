/*
 * shared: the state every worker and the control plane reach, created by
 * server.c before any thread starts. Read-only after start but for the
 * atomics (the drain, the start and stop flags) and what the modules that
 * own them change through their own functions (split weights, endpoint
 * health, rollouts). Data only: what acts on it lives with its owner.
 */
#ifndef AG_SHARED_H
#define AG_SHARED_H

#include <stdatomic.h>
#include <stdint.h>
#include <h2o.h>

#include "config/config.h"
#include "core/histogram.h"
#include "schema/schema.h"
#include "state/endpoints.h"
#include "state/methods.h"
#include "state/split.h"
#include "transcode/binding.h"
#include "transcode/options.h"

/* What the request path needs per binding beyond the binding itself. */
typedef struct route_info {
    uint32_t cluster;        /* index into the clusters */
    uint32_t method_row;     /* its method in the method table */
    uint32_t timeout_ms;     /* default deadline */
    int success_status;      /* the config's, else the .proto's, else 200 */
    uint8_t error_field;     /* its profile's error bodies carry "error" */
    transcode_options_t opt; /* its JSON profile over the config's limits */
} route_info_t;

struct rollout;
struct metrics;
struct rate_limits;
struct conn_limits;
struct tracer;

typedef struct shared {
    const config_t *cfg;
    const schema_t *schema;
    const binding_table_t *bindings;
    route_info_t *routes;           /* one per binding, same index */
    method_table_t methods;         /* every gRPC method, by path: what each door routes by */
    uint8_t error_field;            /* errors outside a route carry "error": some route's do */
    split_table_t split;            /* clusters, their versions, the weights */
    endpoint_health_t *endpoints;   /* one per target of every version: split.nendpoints */
    struct rollout *rollouts;       /* one per cluster; worker 0's to change */
    struct rate_limits *rate_limits; /* rate_limits: the pools (state/rate_limit.h); the admin API changes them */
    struct conn_limits *conn_limits; /* connections: the counts against the caps (server/conn_limit.h) */
    uint32_t connections_max;       /* the global cap in force (conn_limit sets it) */
    _Atomic uint64_t connections_refused; /* closed at once, over a cap (conn_limit counts) */
    unsigned nworkers;
    struct metrics **worker_metrics; /* one block per worker, summed at scrape */
    /* A version's totals over the workers: server/metrics' sum, reached
     * from below (the admin API) without reaching up to it. */
    void (*version_totals)(const struct shared *sh, size_t row, histogram_totals_t *out);
    h2o_globalconf_t h2o;
    int log_fd;                     /* -1: access log off */
    /* API docs, made at start (server/openapi.h, server/swagger_ui.h) */
    const struct openapi_doc *openapi;  /* GET /q/openapi's document */
    const struct swagger_ui *swagger_ui; /* the UI's files; NULL when not enabled */
    struct tracer *tracer;          /* traces' exporter and queues (server/trace_export.h); NULL = off */
    _Atomic int started;            /* every worker is serving */
    _Atomic int draining;
    _Atomic int stop_requested;     /* workers see it at their next tick */
    _Atomic unsigned workers_running;
    _Atomic unsigned uring_fallbacks; /* workers where io_uring could not start */
} shared_t;

/* Starts the drain (server.h: server_stop says what follows), from any
 * thread. 1 when this call started it, 0 when it was draining already. */
static inline int shared_drain(shared_t *sh)
{
    /* draining first: readiness turns 503 before any worker stops anything */
    int was = atomic_exchange(&sh->draining, 1);
    atomic_store(&sh->stop_requested, 1);
    return !was;
}

#endif
