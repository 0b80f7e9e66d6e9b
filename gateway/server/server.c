/*
 * server.c: from a validated config to running workers, and back.
 *
 * Listening sockets are opened here, before any thread starts, so that a
 * port in use is an error at start and not a half-started gateway. Each
 * worker gets its own socket per listener (SO_REUSEPORT): the kernel
 * spreads connections, and no accept lock is shared. Port 0 binds once to
 * learn the port the kernel picked, then the other workers bind that one.
 */
#include "server/server.h"

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "control/admin.h"
#include "front/http1_h2o.h"
#include "server/api.h"
#include "server/grpc_web.h"
#include "server/conn_limit.h"
#include "server/health.h"
#include "server/listener.h"
#include "server/metrics.h"
#include "server/openapi.h"
#include "server/swagger_ui.h"
#include "server/trace_export.h"
#include "server/worker.h"
#include "server/worker_loop.h"
#include "control/rollout.h"
#include "front/http1_uring.h"
#include "http/response.h"
#include "state/rate_limit.h"
#include "transcode/profile.h"

#define SERVER_MAX_WORKERS 1024

struct server {
    shared_t shared;
    worker_t *workers;
    unsigned nworkers;
    listener_t *listeners;      /* the REST ones, the gRPC ones, then the admin API's */
    size_t nlisteners;
    int log_fd_owned;
    int h2o_configured;
    openapi_doc_t openapi;
    swagger_ui_t *swagger_ui;
};

/* A connection past the cap, in the probe reserve (conn_limit.h): it gets
 * health answers and nothing else, and closes after its answer. */
static int probe_only(h2o_req_t *req)
{
    if (!http1_uring_conn_limited(req->conn) && !conn_limit_ticket_probe_only(conn_limit_ticket_of(req->conn)))
        return 0;
    req->http1_is_persistent = 0;
    return 1;
}

static int dispatch(h2o_handler_t *self, h2o_req_t *req)
{
    (void)self;
    int limited = probe_only(req);
    if (health_handle(req))
        return 0;
    if (limited) {
        worker_t *w = worker_of(req->conn->ctx);
        response_error(req, 503, GRPC_UNAVAILABLE,
                       H2O_STRLIT("the gateway is at its connection limit: this connection may only ask /q/health"),
                       NULL, 0, w->shared->error_field);
        return 0;
    }
    if (metrics_handle(req) || grpc_web_handle(req))
        return 0;
    if (openapi_handle(req) || swagger_ui_handle(req))
        return 0;
    return api_handle(req);
}

static int open_log(const char *dest, int *owned, char *err, size_t errlen)
{
    *owned = 0;
    if (dest == NULL || strcmp(dest, "stdout") == 0)
        return STDOUT_FILENO;
    if (strcmp(dest, "stderr") == 0)
        return STDERR_FILENO;
    if (strcmp(dest, "off") == 0)
        return -1;
    int fd = open(dest, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0) {
        snprintf(err, errlen, "access log %s: %s", dest, strerror(errno));
        return -2;
    }
    *owned = 1;
    return fd;
}

/* Per binding: which cluster serves it, its deadline and success status. */
static int resolve_routes(server_t *s, char *err, size_t errlen)
{
    shared_t *sh = &s->shared;
    const config_t *cfg = sh->cfg;
    size_t n = binding_count(sh->bindings);
    sh->routes = calloc(n ? n : 1, sizeof(*sh->routes));
    if (sh->routes == NULL) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    for (size_t i = 0; i < n; i++) {
        const binding_t *b = binding_at(sh->bindings, i);
        const char *full = b->method->full_name;
        const char *dot = strrchr(full, '.');
        char service[256];
        snprintf(service, sizeof(service), "%.*s", (int)(dot ? dot - full : 0), full);
        const config_cluster_t *cc = config_cluster_for_service(cfg, service);
        if (cc == NULL) {
            snprintf(err, errlen, "service %s has no cluster (map it under services:, or define \"default\")",
                     service);
            return -1;
        }
        route_info_t *ri = &sh->routes[i];
        ri->cluster = (uint32_t)(cc - cfg->clusters);
        size_t row = 0;
        method_table_find(&sh->methods, b->method->grpc_path, strlen(b->method->grpc_path), &row);
        ri->method_row = (uint32_t)row;
        ri->timeout_ms = cc->timeout_ms;
        ri->success_status = b->method->success_status ? b->method->success_status : 200;
        const config_route_t *over = config_route_for_method(cfg, full);
        if (over) {
            if (over->timeout_ms)
                ri->timeout_ms = over->timeout_ms;
            if (over->success_status)
                ri->success_status = over->success_status;
        }
        const char *name = config_json_profile(cfg, cc, over, b->method->json_profile);
        const json_profile_t *p = json_profile_find(name);
        if (p == NULL) {
            snprintf(err, errlen, "%s: unknown JSON profile \"%s\" (known: %s)", full, name, json_profile_names());
            return -1;
        }
        /* the config's transcode: flags add to the profile's */
        ri->opt = cfg->transcode;
        json_profile_apply(p, &ri->opt);
        ri->opt.emit_defaults |= cfg->transcode.emit_defaults;
        ri->opt.ignore_unknown_fields |= cfg->transcode.ignore_unknown_fields;
        ri->opt.use_proto_names |= cfg->transcode.use_proto_names;
        ri->opt.enums_as_ints |= cfg->transcode.enums_as_ints;
        ri->error_field = p->error_field;
        sh->error_field |= p->error_field;
    }
    return 0;
}

/* /q/openapi from the routes as resolved, and the Swagger UI's files when
 * the config names their directory: both once, before any worker starts. */
static int build_api_docs(server_t *s, char *err, size_t errlen)
{
    shared_t *sh = &s->shared;
    if (openapi_build(sh->schema, sh->bindings, sh->routes, &s->openapi) != 0) {
        snprintf(err, errlen, "out of memory generating the OpenAPI document");
        return -1;
    }
    sh->openapi = &s->openapi;
    if (sh->cfg->swagger_ui_dir != NULL) {
        s->swagger_ui = swagger_ui_load(sh->cfg->swagger_ui_dir, err, errlen);
        if (s->swagger_ui == NULL)
            return -1;
        sh->swagger_ui = s->swagger_ui;
        fprintf(stderr, "aurigraph-gateway: Swagger UI on /q/swagger-ui (%zu KiB from %s)\n",
                swagger_ui_bytes(s->swagger_ui) / 1024, sh->cfg->swagger_ui_dir);
    }
    return 0;
}

/* One listener per configured address: the REST ones, the gRPC ones
 * (served by grpc_door, not h2o: no hosts), then the admin API's; each
 * with the h2o hosts it serves, apart, so no Host header reaches another
 * listener's handlers. */
static int build_listeners(server_t *s, char *err, size_t errlen)
{
    shared_t *sh = &s->shared;
    const config_t *cfg = sh->cfg;
    h2o_hostconf_t *rest = h2o_config_register_host(&sh->h2o, h2o_iovec_init(H2O_STRLIT("default")), 65535);
    h2o_pathconf_t *rest_path = h2o_config_register_path(rest, "/", 0);
    http1_h2o_register(rest_path, sh->error_field); /* first: h2o's HTTP/1.1 framing, checked */
    h2o_handler_t *h = h2o_create_handler(rest_path, sizeof(*h));
    h->on_req = dispatch;
    h2o_hostconf_t *admin = NULL;
    if (cfg->admin_host != NULL) {
        admin = h2o_config_register_host(&sh->h2o, h2o_iovec_init(H2O_STRLIT("admin")), 65535);
        h2o_pathconf_t *admin_path = h2o_config_register_path(admin, "/", 0);
        http1_h2o_register(admin_path, 0);
        admin_register(admin_path, sh);
    }
    size_t n = cfg->nlisteners + cfg->ngrpc_listeners + (admin != NULL);
    s->listeners = calloc(n ? n : 1, sizeof(*s->listeners));
    if (s->listeners == NULL) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    for (size_t i = 0; i < n; i++) {
        listener_t *l = &s->listeners[i];
        size_t g = i - cfg->nlisteners;
        if (i < cfg->nlisteners)
            *l = (listener_t){.kind = LISTENER_REST, .host = cfg->listeners[i].host, .port = cfg->listeners[i].port,
                              .hosts = {rest, NULL}};
        else if (g < cfg->ngrpc_listeners)
            *l = (listener_t){.kind = LISTENER_GRPC, .host = cfg->grpc_listeners[g].host,
                              .port = cfg->grpc_listeners[g].port, .hosts = {NULL}};
        else
            *l = (listener_t){.kind = LISTENER_ADMIN, .host = cfg->admin_host, .port = cfg->admin_port,
                              .hosts = {admin, NULL}};
        s->nlisteners = i + 1;
    }
    return 0;
}

/* Binds a listener's sockets, each worker's or worker 0's, and says where
 * (the lines tests and scripts wait for carry the real port). */
static int open_listener(server_t *s, listener_t *l, char *err, size_t errlen)
{
    const listener_kind_info_t *kind = &listener_kinds[l->kind];
    if (kind->per_worker) {
        for (unsigned wi = 0; wi < s->nworkers; wi++) {
            int fd = listener_open(l->host, &l->port, 1, err, errlen);
            if (fd < 0)
                return -1;
            s->workers[wi].listeners[l - s->listeners].fd = fd;
        }
        /* "aurigraph-gateway listening on" is REST's: scripts and tests wait for it */
        fprintf(stderr, "aurigraph-gateway %s%slistening on %s:%u (%u workers)\n", l->kind == LISTENER_REST ? "" : kind->name,
                l->kind == LISTENER_REST ? "" : " ", l->host, (unsigned)l->port, s->nworkers);
        return 0;
    }
    /* the admin API: not shared, so two gateways never split its calls */
    int fd = listener_open(l->host, &l->port, 0, err, errlen);
    if (fd >= 0) {
        s->workers[0].listeners[l - s->listeners].fd = fd;
        fprintf(stderr, "aurigraph-gateway %s listening on %s:%u\n", kind->name, l->host, (unsigned)l->port);
    } else if (errno == EADDRINUSE) {
        /* another gateway holds it: the one this replaces, in a handover on
         * the same config. Worker 0 takes the port when it comes free. */
        l->waiting = 1;
        fprintf(stderr,
                "aurigraph-gateway: warning: %s %s:%u in use (another gateway here?); the %s API starts when the "
                "port comes free\n",
                kind->name, l->host, (unsigned)l->port, kind->name);
    } else if (s->shared.cfg->admin_explicit) {
        char why[300];
        snprintf(why, sizeof(why), "%s %s", kind->name, err);
        snprintf(err, errlen, "%s", why);
        return -1;
    } else {
        fprintf(stderr, "aurigraph-gateway: warning: %s %s; the %s API is off\n", kind->name, err, kind->name);
    }
    return 0;
}

server_t *server_new(const config_t *cfg, const schema_t *schema, const binding_table_t *bindings, char *err,
                     size_t errlen)
{
    server_t *s = calloc(1, sizeof(*s));
    if (s == NULL) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    shared_t *sh = &s->shared;
    sh->cfg = cfg;
    sh->schema = schema;
    sh->bindings = bindings;
    sh->log_fd = -1;
    sh->version_totals = metrics_version_totals;
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    s->nworkers = cfg->workers ? cfg->workers : (unsigned)(cores > 0 ? cores : 1);
    if (s->nworkers > SERVER_MAX_WORKERS)
        s->nworkers = SERVER_MAX_WORKERS;
    sh->nworkers = s->nworkers;

    s->workers = calloc(s->nworkers, sizeof(*s->workers));
    if (s->workers == NULL || split_table_init(&sh->split, cfg) != 0 ||
        (sh->endpoints = calloc(sh->split.nendpoints ? sh->split.nendpoints : 1, sizeof(*sh->endpoints))) == NULL ||
        (sh->rollouts = calloc(cfg->nclusters ? cfg->nclusters : 1, sizeof(*sh->rollouts))) == NULL) {
        snprintf(err, errlen, "out of memory");
        goto fail;
    }
    for (size_t i = 0; i < sh->split.nclusters; i++) {
        split_cluster_t *c = &sh->split.clusters[i];
        rollout_init(&sh->rollouts[i], c);
        for (size_t v = 0; v < c->nversions; v++) {
            for (size_t t = 0; t < c->versions[v].ntargets; t++) {
                endpoint_health_t *h = &sh->endpoints[c->versions[v].first_endpoint + t];
                h->cfg = c->cfg;
                h->target = &c->versions[v].targets[t];
                atomic_store(&h->last_code, -1);
            }
        }
    }
    if (method_table_init(&sh->methods, cfg, schema, err, errlen) != 0 || resolve_routes(s, err, errlen) != 0)
        goto fail;
    if ((sh->rate_limits = rate_limits_new(cfg, &sh->methods, err, errlen)) == NULL ||
        (sh->conn_limits = conn_limits_new(&cfg->connections, sh, err, errlen)) == NULL)
        goto fail;
    if (build_api_docs(s, err, errlen) != 0)
        goto fail;
    if (cfg->tracing.endpoint != NULL &&
        (sh->tracer = tracer_new(&cfg->tracing, s->nworkers, err, errlen)) == NULL)
        goto fail;
    sh->log_fd = open_log(cfg->access_log, &s->log_fd_owned, err, errlen);
    if (sh->log_fd == -2)
        goto fail;

    h2o_config_init(&sh->h2o);
    s->h2o_configured = 1;
    sh->h2o.server_name = h2o_iovec_init(H2O_STRLIT("aurigraph-gateway"));
    /* our own 413 (with the error JSON) needs bodies a little over the
     * limit to reach the handler; h2o refuses anything beyond that */
    sh->h2o.max_request_entity_size = cfg->transcode.max_body * 2 + 1024;
    if (build_listeners(s, err, errlen) != 0)
        goto fail;

    sh->worker_metrics = calloc(s->nworkers, sizeof(*sh->worker_metrics));
    if (sh->worker_metrics == NULL) {
        snprintf(err, errlen, "out of memory");
        goto fail;
    }
    for (unsigned wi = 0; wi < s->nworkers; wi++) {
        worker_t *w = &s->workers[wi];
        w->id = wi;
        w->metrics = sh->worker_metrics[wi] = metrics_new(binding_count(bindings), sh->methods.nrows, sh->split.nrows);
        w->listeners = calloc(s->nlisteners ? s->nlisteners : 1, sizeof(*w->listeners));
        w->limiter = rate_limiter_new(sh->rate_limits);
        if (w->metrics == NULL || w->listeners == NULL || w->limiter == NULL ||
            metrics_enable_rate_limits(w->metrics, rate_limits_count(sh->rate_limits)) != 0) {
            snprintf(err, errlen, "out of memory");
            goto fail;
        }
        w->shared = sh;
        w->trace = tracer_ring(sh->tracer, wi);
        w->nlisteners = s->nlisteners;
        for (size_t li = 0; li < s->nlisteners; li++)
            w->listeners[li] = (worker_listener_t){.l = &s->listeners[li], .w = w, .fd = -1, .uring_index = -1};
    }
    /* the gRPC listeners first: their lines are out before REST's "listening
     * on", which is what scripts and tests wait for */
    for (int pass = 0; pass < 2; pass++)
        for (size_t li = 0; li < s->nlisteners; li++)
            if ((s->listeners[li].kind == LISTENER_GRPC) == (pass == 0) &&
                open_listener(s, &s->listeners[li], err, errlen) != 0)
                goto fail;
    fflush(stderr);
    return s;
fail:
    server_free(s);
    return NULL;
}

int server_run(server_t *s)
{
    unsigned started = 0;
    char err[256];
    if (s->shared.tracer != NULL && tracer_start(s->shared.tracer, err, sizeof(err)) != 0) {
        fprintf(stderr, "aurigraph-gateway: %s\n", err);
        return 1;
    }
    for (; started < s->nworkers; started++)
        if (pthread_create(&s->workers[started].thread, NULL, worker_main, &s->workers[started]) != 0)
            break;
    if (started < s->nworkers)
        atomic_store(&s->shared.stop_requested, 1);
    int rc = started < s->nworkers;
    for (unsigned i = 0; i < started; i++) {
        pthread_join(s->workers[i].thread, NULL);
        if (s->workers[i].start_failed) {
            fprintf(stderr, "aurigraph-gateway: worker %u: %s\n", i, s->workers[i].start_error);
            rc = 1;
        }
    }
    /* the workers are gone: what they queued goes out in one last export */
    tracer_stop(s->shared.tracer);
    return rc;
}

void server_stop(server_t *s)
{
    shared_drain(&s->shared);
}

void server_free(server_t *s)
{
    if (s == NULL)
        return;
    for (unsigned i = 0; s->workers && i < s->nworkers; i++) {
        worker_t *w = &s->workers[i];
        for (size_t li = 0; w->listeners && li < w->nlisteners; li++)
            if (w->listeners[li].fd >= 0)
                close(w->listeners[li].fd); /* a worker that never started */
        free(w->listeners);
        rate_limiter_free(w->limiter);
    }
    free(s->listeners);
    if (s->h2o_configured)
        h2o_config_dispose(&s->shared.h2o);
    if (s->log_fd_owned && s->shared.log_fd >= 0)
        close(s->shared.log_fd);
    for (unsigned i = 0; s->shared.worker_metrics && i < s->nworkers; i++)
        metrics_free(s->shared.worker_metrics[i]);
    free(s->shared.worker_metrics);
    free(s->workers);
    split_table_free(&s->shared.split);
    free(s->shared.endpoints);
    free(s->shared.rollouts);
    rate_limits_free(s->shared.rate_limits);
    conn_limits_free(s->shared.conn_limits);
    free(s->shared.routes);
    openapi_doc_free(&s->openapi);
    swagger_ui_free(s->swagger_ui);
    tracer_free(s->shared.tracer);
    method_table_free(&s->shared.methods);
    free(s);
}
