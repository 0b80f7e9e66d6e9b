/*
 * worker.c: one thread, one loop. Accepts on its own SO_REUSEPORT sockets,
 * owns its upstream clusters, and ticks every 100 ms for what is periodic:
 * flushing the access log, health probes (worker 0), and the drain.
 *
 * States: STARTING (loop, sockets, clusters) -> SERVING -> DRAINING (no
 * accept, connections asked to close, in-flight requests finishing) ->
 * STOPPED, when nothing is in flight or the drain timeout has passed.
 */
#include "server/worker.h"

#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "front/http1_uring.h"
#include "server/api.h"
#include "server/health.h"

#define WORKER_TICK_MS 100

static void on_accept(h2o_socket_t *listener, const char *err)
{
    if (err != NULL)
        return;
    worker_t *w = listener->data;
    /* accept a handful per wake-up: SO_REUSEPORT already spreads the load */
    for (int i = 0; i < 16; i++) {
        h2o_socket_t *sock = h2o_evloop_socket_accept(listener);
        if (sock == NULL)
            break;
        h2o_accept(&w->accept, sock);
    }
}

static void start_drain(worker_t *w)
{
    for (size_t i = 0; i < w->nlisten; i++) {
        if (w->listeners[i]) {
            h2o_socket_read_stop(w->listeners[i]);
            h2o_socket_close(w->listeners[i]);
            w->listeners[i] = NULL;
        }
    }
    if (w->uring)
        http1_uring_drain(w->uring);
    h2o_context_request_shutdown(&w->h2o);
    w->drain_deadline = h2o_now(w->h2o.loop) + w->shared->cfg->drain_timeout_ms;
}

static void on_tick(h2o_timeout_entry_t *entry)
{
    worker_t *w = (worker_t *)((char *)entry - offsetof(worker_t, tick_entry));
    shared_t *sh = w->shared;
    access_log_flush(&w->log);
    if (w->id == 0 && !atomic_load(&sh->stop_requested))
        health_tick(w);
    if (atomic_load(&sh->stop_requested)) {
        if (w->drain_deadline == 0)
            start_drain(w);
        if (w->in_flight == 0 || h2o_now(w->h2o.loop) >= w->drain_deadline)
            w->stop = 1;
    }
    if (!w->stop)
        h2o_timeout_link(w->h2o.loop, &w->tick, &w->tick_entry);
}

static int start(worker_t *w)
{
    shared_t *sh = w->shared;
    h2o_context_init(&w->h2o, h2o_evloop_create(), &sh->h2o);
    w->accept.ctx = &w->h2o;
    w->accept.hosts = sh->h2o.hosts;
    access_log_init(&w->log, sh->log_fd);

    w->clusters = calloc(sh->nclusters, sizeof(*w->clusters));
    if (w->clusters == NULL) {
        snprintf(w->start_error, sizeof(w->start_error), "out of memory");
        return -1;
    }
    for (size_t i = 0; i < sh->nclusters; i++) {
        const config_cluster_t *cc = sh->clusters[i].cfg;
        upstream_target_t targets[64];
        size_t n = cc->ntargets < 64 ? cc->ntargets : 64;
        for (size_t t = 0; t < n; t++)
            targets[t] = (upstream_target_t){cc->targets[t].host, cc->targets[t].port};
        upstream_cluster_config_t ucfg = {
            .name = cc->name,
            .targets = targets,
            .ntargets = n,
            .connect_timeout_ms = cc->connect_timeout_ms,
            .keepalive_interval_ms = cc->keepalive_ms,
            .resolve_interval_ms = cc->resolve_interval_ms,
        };
        char err[200];
        w->clusters[i] = upstream_cluster_new(w->h2o.loop, &ucfg, err, sizeof(err));
        if (w->clusters[i] == NULL) {
            snprintf(w->start_error, sizeof(w->start_error), "cluster %s: %s", cc->name, err);
            return -1;
        }
    }

    w->listeners = calloc(w->nlisten, sizeof(*w->listeners));
    if (w->listeners == NULL) {
        snprintf(w->start_error, sizeof(w->start_error), "out of memory");
        return -1;
    }
    if (sh->cfg->http1 == CONFIG_HTTP1_URING) {
        /* io_uring takes the listeners (h2c and prior knowledge go on to h2o
         * from there); where it cannot run, h2o serves, and says so once */
        char err[200];
        w->uring = http1_uring_new(w, err, sizeof(err));
        if (w->uring == NULL && atomic_fetch_add(&sh->uring_fallbacks, 1) == 0)
            fprintf(stderr, "aurigraph-gateway: io_uring unavailable (%s): HTTP/1.1 on h2o's epoll loop\n", err);
    }
    for (size_t i = 0; i < w->nlisten && w->uring == NULL; i++) {
        w->listeners[i] = h2o_evloop_socket_create(w->h2o.loop, w->listen_fds[i], H2O_SOCKET_FLAG_DONT_READ);
        w->listen_fds[i] = -1; /* the socket owns it now */
        w->listeners[i]->data = w;
        h2o_socket_read_start(w->listeners[i], on_accept);
    }
    h2o_timeout_init(w->h2o.loop, &w->tick, WORKER_TICK_MS);
    w->tick_entry = (h2o_timeout_entry_t){.cb = on_tick};
    h2o_timeout_link(w->h2o.loop, &w->tick, &w->tick_entry);
    if (w->id == 0)
        health_tick(w); /* the first probe now: readiness should not wait an interval */
    return 0;
}

static void stop(worker_t *w)
{
    shared_t *sh = w->shared;
    /* first: its requests' dispose hooks still cancel upstream calls */
    http1_uring_free(w->uring);
    w->uring = NULL;
    if (w->id == 0)
        health_dispose(w);
    if (w->tick_entry.cb && h2o_timeout_is_linked(&w->tick_entry))
        h2o_timeout_unlink(&w->tick_entry);
    for (size_t i = 0; w->listeners && i < w->nlisten; i++)
        if (w->listeners[i])
            h2o_socket_close(w->listeners[i]);
    for (size_t i = 0; w->clusters && i < sh->nclusters; i++)
        if (w->clusters[i])
            upstream_cluster_free(w->clusters[i]);
    /* let the closes above run their callbacks. The h2o context and loop
     * are not disposed: h2o 2.2 asserts on connections still open, and the
     * process is about to exit (tests/lsan.supp names what stays). */
    h2o_evloop_run(w->h2o.loop, 0);
    access_log_dispose(&w->log);
    api_worker_dispose(w);
    free(w->listeners);
    free(w->clusters);
    w->listeners = NULL;
    w->clusters = NULL;
}

void *worker_main(void *arg)
{
    worker_t *w = arg;
    shared_t *sh = w->shared;
    if (start(w) != 0) {
        w->start_failed = 1;
        atomic_store(&sh->stop_requested, 1);
    } else {
        if (atomic_fetch_add(&sh->workers_running, 1) + 1 == sh->nworkers)
            atomic_store(&sh->started, 1);
        while (!w->stop) {
            h2o_evloop_run(w->h2o.loop, INT32_MAX);
            if (w->uring)
                http1_uring_flush(w->uring); /* one submission per loop iteration */
        }
    }
    stop(w);
    return NULL;
}
