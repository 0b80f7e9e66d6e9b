/*
 * worker_loop.c: one thread, one loop. Accepts on its own SO_REUSEPORT sockets,
 * owns its upstream clusters, and ticks every 100 ms for what is periodic:
 * flushing the access log, health probes (worker 0), and the drain.
 *
 * States: STARTING (loop, sockets, clusters) -> SERVING -> DRAINING ->
 * STOPPED, when nothing is in flight and no client connection is open, or
 * the drain timeout has passed.
 *
 * The drain, in loop time from its start (t0):
 *   t0       the listeners drop new SYNs (a socket filter), so a client
 *            retries its SYN and, once they are closed, reaches whichever
 *            process shares the port; h2o stops keep-alive on requests read
 *            from now on and sends HTTP/2's first GOAWAY; HTTP/1.1 requests
 *            whose response has not started get Connection: close too.
 *   +200 ms  what the listeners had already queued (handshakes under way
 *            before t0) is accepted, then they close: nothing sits in an
 *            accept queue to be reset.
 *   +900 ms  idle HTTP/1.1 connections (no request bytes) are closed, every
 *            tick from then on; until then a client that was between two
 *            requests at t0 may still send one, and hears Connection: close.
 *   +1 s     h2o sends HTTP/2's final GOAWAY (the last stream id); each
 *            connection closes when its streams are done. The gRPC
 *            listener's connections get the same two GOAWAYs (the notice at
 *            t0, the final one at +1 s after any drain_grace_ms, so a
 *            connection accepted in the grace is served).
 */
#include "server/worker_loop.h"

#include <errno.h>
#include <linux/filter.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "control/rollout.h"
#include "core/rng.h"
#include "front/http1_uring.h"
#include "server/api.h"
#include "server/conn_limit.h"
#include "server/grpc_door.h"
#include "server/grpc_health.h"
#include "server/grpc_web.h"
#include "server/health.h"
#include "server/listener.h"
#include "server/metrics.h"
#include "server/worker.h"

#define WORKER_TICK_MS 100
#define WORKER_ACCEPT_GRACE_MS 200
#define WORKER_IDLE_GRACE_MS 900
#define WORKER_FINAL_GOAWAY_MS 1000

static int shed_idle(worker_t *w);

/* The connection caps (conn_limit.h) on a socket h2o accepted: 0 when it
 * was refused (and is closed). Its ticket rides on the socket's on_close:
 * h2o 2.2 tells no one when a connection ends, whatever its protocol; the
 * socket does, and an accepted one has no other use for its on_close. */
static int admit(worker_listener_t *wl, h2o_socket_t *sock)
{
    struct sockaddr_storage ss;
    socklen_t len = h2o_socket_getpeername(sock, (struct sockaddr *)&ss);
    int probe_only;
    conn_ticket_t *t = conn_limit_open(wl->w, len ? (struct sockaddr *)&ss : NULL, shed_idle, &probe_only);
    if (t != NULL && probe_only && wl->l->kind != LISTENER_REST) {
        conn_limit_close(t); /* only the REST port answers probes */
        t = NULL;
    }
    if (t == NULL) {
        h2o_socket_close(sock);
        return 0;
    }
    sock->on_close.cb = conn_limit_close;
    sock->on_close.data = t;
    return 1;
}

static void on_accept(h2o_socket_t *listener, const char *err);

static void on_accept_retry(h2o_timeout_entry_t *e)
{
    worker_listener_t *wl = H2O_STRUCT_FROM_MEMBER(worker_listener_t, accept_retry, e);
    if (wl->sock)
        h2o_socket_read_start(wl->sock, on_accept);
}

/* Out of descriptors (or kernel memory): the listener stays readable, so
 * accepting again at once would spin; 100 ms later instead. */
static void accept_failed(worker_listener_t *wl)
{
    if (errno != EMFILE && errno != ENFILE && errno != ENOBUFS && errno != ENOMEM)
        return; /* EAGAIN: nothing more queued */
    h2o_socket_read_stop(wl->sock);
    wl->accept_retry.cb = on_accept_retry;
    if (!h2o_timeout_is_linked(&wl->accept_retry))
        h2o_timeout_link(wl->w->h2o.loop, &wl->w->h2o.hundred_ms_timeout, &wl->accept_retry);
}

/* Up to max connections from the listener's queue; the number taken. */
static int accept_some(worker_listener_t *wl, int max)
{
    int counted = listener_kinds[wl->l->kind].drains;
    int i = 0;
    for (; i < max; i++) {
        h2o_socket_t *sock = h2o_evloop_socket_accept(wl->sock);
        if (sock == NULL) {
            accept_failed(wl);
            break;
        }
        if (counted && !admit(wl, sock))
            continue;
        if (wl->l->kind == LISTENER_GRPC)
            grpc_door_accept(wl->w, sock); /* its own HTTP/2 server: h2o's has no trailers */
        else
            h2o_accept(&wl->accept, sock);
    }
    return i;
}

static void on_accept(h2o_socket_t *listener, const char *err)
{
    if (err != NULL)
        return;
    /* a handful per wake-up: SO_REUSEPORT already spreads the load */
    accept_some(listener->data, 16);
}

/* h2o accepts on wl's socket from now on (which it owns). */
static void listen_on(worker_listener_t *wl)
{
    worker_t *w = wl->w;
    wl->sock = h2o_evloop_socket_create(w->h2o.loop, wl->fd, H2O_SOCKET_FLAG_DONT_READ);
    wl->fd = -1;
    wl->sock->data = wl;
    h2o_socket_read_start(wl->sock, on_accept);
}

/* Drops segments that open a connection (SYN without ACK) and passes the
 * rest, so handshakes already under way complete. Sockets accepted from
 * here on inherit the filter; it passes everything they get. */
static void refuse_new_connections(int fd)
{
    static struct sock_filter code[] = {
        BPF_STMT(BPF_LD | BPF_B | BPF_ABS, 13), /* TCP flags: the data starts at the TCP header */
        BPF_STMT(BPF_ALU | BPF_AND | BPF_K, 0x12),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, 0x02, 0, 1),
        BPF_STMT(BPF_RET | BPF_K, 0),
        BPF_STMT(BPF_RET | BPF_K, 0xffffffff),
    };
    struct sock_fprog prog = {.len = sizeof(code) / sizeof(code[0]), .filter = code};
    if (setsockopt(fd, SOL_SOCKET, SO_ATTACH_FILTER, &prog, sizeof(prog)) != 0)
        fprintf(stderr, "aurigraph-gateway: drain: no SYN filter on fd %d (%m); connections queued at close are reset\n",
                fd);
}

static void close_listeners(worker_t *w)
{
    for (size_t i = 0; i < w->nlisteners; i++) {
        worker_listener_t *wl = &w->listeners[i];
        if (wl->sock && listener_kinds[wl->l->kind].drains) {
            /* what completed its handshake since the last wake-up */
            for (int round = 0; round < 64 && accept_some(wl, 16) == 16; round++)
                ;
            if (h2o_timeout_is_linked(&wl->accept_retry))
                h2o_timeout_unlink(&wl->accept_retry);
            h2o_socket_read_stop(wl->sock);
            h2o_socket_close(wl->sock);
            wl->sock = NULL;
        }
    }
}

/* HTTP/1.1: a response not started yet says Connection: close. (h2o does
 * that itself only for requests read after the drain began.) */
static int close_after_response(h2o_req_t *req, void *unused)
{
    (void)unused;
    if (req->version != 0 && req->timestamps.response_start_at.tv_sec == 0)
        req->http1_is_persistent = 0;
    return 0;
}

typedef struct idle_set {
    h2o_socket_t *socks[64];
    size_t n;
} idle_set_t;

/* An HTTP/1.1 connection waiting for a request that has sent no byte of it. */
static int collect_idle(h2o_req_t *req, void *data)
{
    idle_set_t *set = data;
    if (req->version != 0 || req->timestamps.request_begin_at.tv_sec != 0 || req->conn->callbacks->get_socket == NULL)
        return 0;
    h2o_socket_t *sock = req->conn->callbacks->get_socket(req->conn);
    if (sock == NULL || !h2o_socket_is_reading(sock) || sock->_cb.read == NULL || sock->input->size != 0)
        return 0;
    set->socks[set->n++] = sock;
    return set->n == sizeof(set->socks) / sizeof(set->socks[0]);
}

/* h2o 2.2 keeps idle keep-alive connections open through a shutdown until
 * their request timeout. Closing one the way a read error would (its read
 * callback with an error) lets the HTTP/1 layer free it as usual. */
static void close_idle_http1(worker_t *w)
{
    h2o_protocol_callbacks_t *cb = &w->shared->h2o.http1.callbacks;
    if (cb->foreach_request == NULL)
        return;
    for (int round = 0; round < 1000; round++) {
        idle_set_t set = {.n = 0};
        cb->foreach_request(&w->h2o, collect_idle, &set);
        for (size_t i = 0; i < set.n; i++)
            set.socks[i]->_cb.read(set.socks[i], "draining");
        if (set.n < sizeof(set.socks) / sizeof(set.socks[0]))
            break;
    }
}

/* At a connection cap (conn_limit.h): closes one idle HTTP/1.1 keep-alive
 * connection of w, io_uring's oldest, else one of h2o's; 1 when it did. */
static int shed_idle(worker_t *w)
{
    if (w->uring && http1_uring_shed_idle(w->uring))
        return 1;
    h2o_protocol_callbacks_t *cb = &w->shared->h2o.http1.callbacks;
    if (cb->foreach_request == NULL)
        return 0;
    idle_set_t set = {.n = 0};
    cb->foreach_request(&w->h2o, collect_idle, &set);
    for (size_t i = 0; i < set.n; i++) {
        h2o_socket_t *sock = set.socks[i];
        /* the probe reserve's are not the ones to make room in the cap */
        if (sock->on_close.cb == conn_limit_close && conn_limit_ticket_probe_only(sock->on_close.data))
            continue;
        sock->_cb.read(sock, "shed: at the connection limit");
        return 1;
    }
    return 0;
}

static void start_drain(worker_t *w)
{
    w->drain_deadline = h2o_now(w->h2o.loop) + w->shared->cfg->drain_timeout_ms;
    if (w->uring)
        http1_uring_drain(w->uring); /* its responses say Connection: close from now on */
    h2o_context_request_shutdown(&w->h2o);
    grpc_door_drain(w, 0); /* GOAWAY's notice, as h2o sends its HTTP/2 connections */
    if (w->shared->h2o.http1.callbacks.foreach_request)
        w->shared->h2o.http1.callbacks.foreach_request(&w->h2o, close_after_response, NULL);
}

static void drain_tick(worker_t *w)
{
    if (w->drain_deadline == 0)
        start_drain(w);
    uint64_t now = h2o_now(w->h2o.loop), since = now - (w->drain_deadline - w->shared->cfg->drain_timeout_ms);
    int listening = 0;
    for (size_t i = 0; i < w->nlisteners; i++)
        listening |= w->listeners[i].sock != NULL && listener_kinds[w->listeners[i].l->kind].drains;
    /* drain_grace_ms: still accepting (a load balancer's new probe hears
     * the 503 instead of a dropped SYN); the steps below start after it */
    uint64_t grace = w->shared->cfg->drain_grace_ms;
    if (since < grace)
        return;
    since -= grace;
    if (!w->refusing) {
        for (size_t i = 0; i < w->nlisteners; i++) {
            const worker_listener_t *wl = &w->listeners[i];
            if (!listener_kinds[wl->l->kind].drains)
                continue;
            if (wl->sock)
                refuse_new_connections(h2o_socket_get_fd(wl->sock));
            else if (w->uring && wl->uring_index >= 0 && http1_uring_listener_fd(w->uring, (size_t)wl->uring_index) >= 0)
                refuse_new_connections(http1_uring_listener_fd(w->uring, (size_t)wl->uring_index));
        }
        w->refusing = 1;
    }
    if (listening && since >= WORKER_ACCEPT_GRACE_MS) {
        close_listeners(w);
        listening = 0;
    }
    if (w->uring && since >= WORKER_ACCEPT_GRACE_MS)
        http1_uring_close_listeners(w->uring);
    if (w->uring && http1_uring_listening(w->uring))
        listening = 1; /* its accepts end asynchronously */
    if (since >= WORKER_FINAL_GOAWAY_MS)
        grpc_door_drain(w, 1); /* the last stream id: in-flight calls finish, idle connections close */
    if (since >= WORKER_IDLE_GRACE_MS) {
        close_idle_http1(w);
        if (w->uring)
            http1_uring_close_idle(w->uring);
    }
    if ((!listening && w->in_flight == 0 && metrics_connections_add(w->metrics, 0) == 0) || now >= w->drain_deadline)
        w->stop = 1;
}

/* Worker 0, while a listener's port is taken (the admin API's, held by
 * the gateway this one replaces): a try a second. */
static void retry_taken_ports(worker_t *w)
{
    uint64_t now = h2o_now(w->h2o.loop);
    if (now < w->retry_at)
        return;
    w->retry_at = now + 1000;
    for (size_t i = 0; i < w->nlisteners; i++) {
        worker_listener_t *wl = &w->listeners[i];
        listener_t *l = wl->l;
        if (!l->waiting)
            continue;
        uint16_t port = l->port;
        char err[200];
        if ((wl->fd = listener_open(l->host, &port, 0, err, sizeof(err))) < 0)
            continue;
        listen_on(wl);
        l->waiting = 0;
        fprintf(stderr, "aurigraph-gateway %s listening on %s:%u (the port came free)\n", listener_kinds[l->kind].name,
                l->host, (unsigned)port);
    }
}

static int ports_waiting(const worker_t *w)
{
    for (size_t i = 0; i < w->nlisteners; i++)
        if (w->listeners[i].l->waiting)
            return 1;
    return 0;
}

/* Upstream asks before it sends a call to a target: a target failing its
 * health checks, or ejected for failing calls, gets none while its
 * siblings pass theirs. */
static int target_ok(void *ctx, size_t target)
{
    const endpoint_health_t *e = ctx;
    return endpoints_target_ok(&e[target]);
}

static void rollouts_tick(worker_t *w)
{
    shared_t *sh = w->shared;
    uint64_t now = h2o_now(w->h2o.loop);
    for (size_t i = 0; i < sh->split.nclusters; i++) {
        rollout_t *r = &sh->rollouts[i];
        if (atomic_load(&r->state) != ROLLOUT_PROGRESSING)
            continue;
        const split_version_t *canary = &r->cluster->versions[r->to];
        rollout_input_t in;
        metrics_version_totals(sh, canary->row, &in.totals);
        in.health_failures = endpoints_version_failures(sh->endpoints, canary);
        rollout_tick(r, now, &in);
    }
}

static void on_tick(h2o_timeout_entry_t *entry)
{
    worker_t *w = (worker_t *)((char *)entry - offsetof(worker_t, tick_entry));
    shared_t *sh = w->shared;
    access_log_flush(&w->log);
    for (size_t row = 0; row < sh->split.nrows && w->upstreams; row++) {
        if (w->upstreams[row] == NULL)
            continue;
        upstream_stats_t st;
        upstream_cluster_stats(w->upstreams[row], &st);
        metrics_set_upstream_connections(w->metrics, row, st.connects, st.goaways_received);
    }
    if (w->id == 0 && !atomic_load(&sh->stop_requested)) {
        health_tick(w);
        rollouts_tick(w);
        if (ports_waiting(w))
            retry_taken_ports(w);
    }
    grpc_health_tick(w); /* Watch calls: a change, or the drain */
    if (atomic_load(&sh->stop_requested))
        drain_tick(w);
    if (!w->stop)
        h2o_timeout_link(w->h2o.loop, &w->tick, &w->tick_entry);
}

/* the io_uring front end's admission: the caps, as admit() for h2o */
static void *on_conn_open(void *data, const struct sockaddr *peer, int *limited)
{
    return conn_limit_open(data, peer, shed_idle, limited);
}


/* io_uring takes the listeners of the kinds it serves (h2c and prior
 * knowledge go on to h2o from there); where it cannot run, h2o serves,
 * and says so once. */
static void start_uring(worker_t *w)
{
    shared_t *sh = w->shared;
    int fds[64];
    worker_listener_t *taken[64];
    size_t n = 0;
    for (size_t i = 0; i < w->nlisteners && n < 64; i++) {
        worker_listener_t *wl = &w->listeners[i];
        if (wl->fd >= 0 && listener_kinds[wl->l->kind].uring) {
            taken[n] = wl;
            fds[n++] = wl->fd;
        }
    }
    if (n == 0)
        return;
    char err[200];
    http1_uring_config_t ucfg = {
        .ctx = &w->h2o,
        /* they serve the same hosts: their accept contexts differ only in
         * what h2o would need of each (TLS), which io_uring does not speak */
        .accept = &taken[0]->accept,
        .listen_fds = fds,
        .nlisten = n,
        .draining = &sh->draining,
        .conn_opened = on_conn_open,
        .conn_closed = conn_limit_close,
        .conn_data = w,
        .error_field = sh->error_field,
    };
    w->uring = http1_uring_new(&ucfg, err, sizeof(err));
    if (w->uring == NULL) {
        if (atomic_fetch_add(&sh->uring_fallbacks, 1) == 0)
            fprintf(stderr, "aurigraph-gateway: io_uring unavailable (%s): HTTP/1.1 on h2o's epoll loop\n", err);
        return;
    }
    for (size_t k = 0; k < n; k++) {
        taken[k]->fd = -1; /* io_uring's now */
        taken[k]->uring_index = (int)k;
    }
}

static int start(worker_t *w)
{
    shared_t *sh = w->shared;
    h2o_context_init(&w->h2o, h2o_evloop_create(), &sh->h2o);
    for (size_t i = 0; i < w->nlisteners; i++)
        w->listeners[i].accept = (h2o_accept_ctx_t){.ctx = &w->h2o, .hosts = w->listeners[i].l->hosts};
    w->rng = 0x9e3779b97f4a7c15ull * (w->id + 1);
    w->id_rng = rng_seed_clock(w->id + 1);
    access_log_init(&w->log, sh->log_fd);

    w->upstreams = calloc(sh->split.nrows ? sh->split.nrows : 1, sizeof(*w->upstreams));
    w->passive = calloc(sh->split.nrows ? sh->split.nrows : 1, sizeof(*w->passive));
    w->passive_counts = calloc(sh->split.nendpoints ? sh->split.nendpoints : 1, sizeof(*w->passive_counts));
    if (w->upstreams == NULL || w->passive == NULL || w->passive_counts == NULL) {
        snprintf(w->start_error, sizeof(w->start_error), "out of memory");
        return -1;
    }
    for (size_t row = 0; row < sh->split.nrows; row++) {
        const split_version_t *v = sh->split.rows[row];
        const config_cluster_t *cc = v->cluster->cfg;
        upstream_target_t targets[64];
        size_t n = v->ntargets < 64 ? v->ntargets : 64;
        for (size_t t = 0; t < n; t++)
            targets[t] = (upstream_target_t){v->targets[t].host, v->targets[t].port};
        upstream_cluster_config_t ucfg = {
            .name = cc->name,
            .targets = targets,
            .ntargets = n,
            .connect_timeout_ms = cc->connect_timeout_ms,
            .keepalive_interval_ms = cc->keepalive_ms,
            .resolve_interval_ms = cc->resolve_interval_ms,
            .target_ok = target_ok,
            .target_ok_ctx = &sh->endpoints[v->first_endpoint],
            .target_result = endpoints_passive_result,
            .target_result_ctx = &w->passive[row],
        };
        w->passive[row] = (endpoints_passive_t){&sh->endpoints[v->first_endpoint],
                                                &w->passive_counts[v->first_endpoint], cc->health.passive_failures,
                                                cc->name, v->name};
        char err[200];
        w->upstreams[row] = upstream_cluster_new(w->h2o.loop, &ucfg, err, sizeof(err));
        if (w->upstreams[row] == NULL) {
            snprintf(w->start_error, sizeof(w->start_error), "cluster %s, version %s: %s", cc->name, v->name, err);
            return -1;
        }
    }
    if (sh->cfg->ngrpc_listeners != 0 && grpc_door_start(w, w->start_error, sizeof(w->start_error)) != 0)
        return -1;
    if (sh->cfg->http1 == CONFIG_HTTP1_URING)
        start_uring(w);
    /* h2o accepts on the rest: every listener io_uring did not take */
    for (size_t i = 0; i < w->nlisteners; i++)
        if (w->listeners[i].fd >= 0)
            listen_on(&w->listeners[i]);
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
    if (w->id == 0)
        health_dispose(w);
    if (w->tick_entry.cb && h2o_timeout_is_linked(&w->tick_entry))
        h2o_timeout_unlink(&w->tick_entry);
    for (size_t i = 0; i < w->nlisteners; i++) {
        if (h2o_timeout_is_linked(&w->listeners[i].accept_retry))
            h2o_timeout_unlink(&w->listeners[i].accept_retry);
        if (w->listeners[i].sock)
            h2o_socket_close(w->listeners[i].sock);
        w->listeners[i].sock = NULL;
    }
    for (size_t i = 0; w->upstreams && i < sh->split.nrows; i++)
        if (w->upstreams[i])
            upstream_cluster_free(w->upstreams[i]);
    /* let the closes above run their callbacks. The h2o context and loop
     * are not disposed: h2o 2.2 asserts on connections still open, and the
     * process is about to exit (tests/lsan.supp names what stays). */
    h2o_evloop_run(w->h2o.loop, 0);
    /* after the upstreams: the calls they gave up on have answered (503),
     * and io_uring sends those answers before it closes its connections */
    http1_uring_free(w->uring);
    grpc_door_stop(w); /* likewise: UNAVAILABLE went out in trailers */
    w->uring = NULL;
    access_log_dispose(&w->log);
    api_worker_dispose(w);
    grpc_web_worker_dispose(w);
    conn_limit_worker_dispose(w);
    free(w->upstreams);
    w->upstreams = NULL;
    free(w->passive);
    free(w->passive_counts);
    w->passive = NULL;
    w->passive_counts = NULL;
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
