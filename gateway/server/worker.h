/*
 * worker: one thread's share of the server, and the state every request
 * handler on that thread reaches through its h2o context. Also the state
 * shared by all workers (read-only after start, but for the atomics).
 */
#ifndef AG_WORKER_H
#define AG_WORKER_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <h2o.h>

#include "config/config.h"
#include "control/rollout.h"
#include "control/split.h"
#include "schema/schema.h"
#include "server/access_log.h"
#include "server/metrics.h"
#include "transcode/binding.h"
#include "upstream/upstream.h"

/* What the router needs per binding beyond the binding itself. */
typedef struct route_info {
    uint32_t cluster;        /* index into the clusters */
    uint32_t timeout_ms;     /* default deadline */
    int success_status;      /* the config's, else the .proto's, else 200 */
    uint8_t error_field;     /* its profile's error bodies carry "error" */
    transcode_options_t opt; /* its JSON profile over the config's limits */
} route_info_t;

/* Health of one upstream target as its checks see it. */
typedef struct endpoint_health {
    const config_cluster_t *cfg;    /* thresholds */
    const config_target_t *target;
    _Atomic int up;                 /* 1 UP, 0 DOWN */
    _Atomic uint32_t successes;     /* consecutive */
    _Atomic uint32_t failures;      /* consecutive */
    _Atomic int last_code;          /* last grpc status of the probe; -1 none yet */
    _Atomic uint64_t checks;
} endpoint_health_t;

typedef struct shared {
    const config_t *cfg;
    const schema_t *schema;
    const binding_table_t *bindings;
    route_info_t *routes;           /* one per binding, same index */
    uint8_t error_field;            /* errors outside a route carry "error": some route's do */
    split_table_t split;            /* clusters, their versions, the weights */
    endpoint_health_t *endpoints;   /* one per target of every version: split.nendpoints */
    rollout_t *rollouts;            /* one per cluster; worker 0's to change */
    unsigned nworkers;
    metrics_t **worker_metrics;     /* one block per worker, summed at scrape */
    h2o_globalconf_t h2o;
    int log_fd;                     /* -1: access log off */
    int admin_fd;                   /* the admin listener, for worker 0; -1 none */
    int admin_waiting;              /* its port was taken at start: worker 0 retries */
    h2o_hostconf_t *api_hosts[2];   /* what each listener serves: apart, so no */
    h2o_hostconf_t *admin_hosts[2]; /* Host header reaches the admin API */
    _Atomic int started;            /* every worker is serving */
    _Atomic int draining;
    _Atomic int stop_requested;     /* server_stop(): workers see it at their next tick */
    _Atomic unsigned workers_running;
    _Atomic unsigned uring_fallbacks; /* workers where io_uring could not start */
} shared_t;

typedef struct api_request api_request_t;

typedef struct worker {
    h2o_context_t h2o;              /* first: handlers get here from req->conn->ctx */
    unsigned id;
    shared_t *shared;
    pthread_t thread;
    h2o_accept_ctx_t accept;
    int *listen_fds;
    size_t nlisten;
    h2o_socket_t **listeners;
    upstream_cluster_t **upstreams; /* one per split row (cluster version), this thread's */
    uint64_t rng;                   /* the version choice's own random state */
    h2o_socket_t *admin_listener;   /* worker 0 only */
    h2o_accept_ctx_t admin_accept;
    uint64_t admin_retry_at;        /* loop ms of the next try for a taken admin port */
    api_request_t *free_requests;   /* recycled request contexts */
    size_t nfree_requests;
    uint64_t in_flight;
    access_log_t log;
    metrics_t *metrics;             /* shared->worker_metrics[id]: written only here */
    h2o_timeout_t tick;             /* 100 ms: log flush, health probes, drain */
    h2o_timeout_entry_t tick_entry;
    uint64_t drain_deadline;        /* loop ms; 0 while serving */
    int refusing;                   /* the listeners drop new SYNs (drain) */
    struct probe *probes;           /* worker 0: one health probe per endpoint */
    struct http1_uring *uring;      /* HTTP/1.1 on io_uring (config http1: uring), or NULL */
    int stop;
    int start_failed;
    char start_error[256];
} worker_t;

static inline worker_t *worker_of(h2o_context_t *ctx)
{
    return (worker_t *)ctx;
}

/* The thread body: runs the loop until the server stops and drains. */
void *worker_main(void *arg);

#endif
