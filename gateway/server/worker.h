/*
 * worker: one thread's share of the server, and the state every request
 * handler on that thread reaches through its h2o context (the state shared
 * by all workers is state/shared.h). Data only: the thread that runs it is
 * worker_loop.
 */
#ifndef AG_WORKER_H
#define AG_WORKER_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <h2o.h>

#include "server/access_log.h"
#include "server/listener.h"
#include "state/shared.h"
#include "upstream/upstream.h"

typedef struct api_request api_request_t;
struct worker;

/* One listener as one worker accepts on it. */
typedef struct worker_listener {
    listener_t *l;           /* the server's; worker 0 alone writes its `waiting` */
    struct worker *w;
    int fd;                  /* its socket here until h2o or io_uring owns it; -1 */
    h2o_socket_t *sock;      /* h2o accepting on it; NULL when closed, not this worker's, or io_uring's */
    int uring_index;         /* the io_uring front end's listener number for it; -1 */
    h2o_accept_ctx_t accept; /* its own: its hosts (its TLS settings, later) */
    h2o_timeout_entry_t accept_retry; /* out of descriptors: accepting again 100 ms later */
} worker_listener_t;

typedef struct worker {
    h2o_context_t h2o;              /* first: handlers get here from req->conn->ctx */
    unsigned id;
    shared_t *shared;
    pthread_t thread;
    struct worker_listener *listeners; /* one per server listener, same order */
    size_t nlisteners;
    upstream_cluster_t **upstreams; /* one per split row (cluster version), this thread's */
    endpoints_passive_t *passive;   /* one per split row: this thread's failure counts (passive ejection) */
    uint32_t *passive_counts;       /* one per endpoint, what passive[] point into */
    uint64_t rng;                   /* the version choice's own random state */
    uint64_t id_rng;                /* request ids' random state, from the clock (rng.h) */
    uint64_t retry_at;              /* worker 0: loop ms of the next try for a taken port */
    struct conn_ticket *free_tickets; /* recycled connection tickets (conn_limit.h) */
    size_t nfree_tickets;
    api_request_t *free_requests;   /* recycled request contexts */
    size_t nfree_requests;
    struct grpc_web_call *free_grpc_web; /* recycled gRPC-Web call contexts */
    size_t nfree_grpc_web;
    uint64_t in_flight;
    access_log_t log;
    struct metrics *metrics;        /* shared->worker_metrics[id]: written only here */
    struct rate_limiter *limiter;   /* this thread's batches of the rate limits' tokens */
    h2o_timeout_t tick;             /* 100 ms: log flush, health probes, drain */
    h2o_timeout_entry_t tick_entry;
    uint64_t drain_deadline;        /* loop ms; 0 while serving */
    int refusing;                   /* the listeners drop new SYNs (drain) */
    struct probe *probes;           /* worker 0: one health probe per endpoint */
    struct http1_uring *uring;      /* HTTP/1.1 on io_uring (config http1: uring), or NULL */
    struct grpc_door *grpc;         /* the gRPC listener's calls (listen_grpc), or NULL */
    struct trace_ring *trace;       /* this worker's queue of finished spans (server/trace.h); NULL = off */
    int stop;
    int start_failed;
    char start_error[256];
} worker_t;

static inline worker_t *worker_of(h2o_context_t *ctx)
{
    return (worker_t *)ctx;
}

#endif
