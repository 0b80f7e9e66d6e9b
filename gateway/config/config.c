/*
 * config: defaults, the YAML file, the command line, and the cross-checks
 * that make a loaded config safe to start from. This file holds the model
 * (defaults, copy, free, lookups); the rest is in parts, each with its own
 * opening comment: syntax.c (values, shared by the file and the flags),
 * yaml.c (the file), flags.c (the command line), validate.c (the
 * cross-checks) and help.c (--help, the key reference). config_int.h is
 * what they share.
 *
 * Every load works on a deep copy and swaps it in only once the whole file
 * was accepted, so a bad file (or a bad flag) leaves the caller's config as
 * it was. Strings are always heap-allocated, so config_free can free
 * uniformly whatever filled them.
 *
 * The schema (config_print_help prints the same as a reference, with the
 * defaults; it is itself a valid file):
 *
 *   listen: "0.0.0.0:9003"     string or list of strings
 *   listen_grpc: "0.0.0.0:9004" the same, or off / [] for no gRPC listener
 *   grpc: {max_message, max_concurrent_streams, max_header_list, max_local_streams}
 *   workers: 0                 0 = one per core, at most 1024
 *   descriptors: ~             FileDescriptorSet path; ~/null/empty = built one
 *   access_log: stdout         stdout | stderr | off | a file path
 *   swagger_ui_dir: ~          swagger-ui-dist's files for /q/swagger-ui; ~ = off
 *   drain_timeout_ms: 30000
 *   drain_grace_ms: 0          keep accepting this long after a drain starts
 *   http1: uring               uring | h2o: HTTP/1.1 front end (HTTP/2 is h2o's);
 *                              uring falls back to h2o where io_uring is unusable
 *   transcode: {emit_defaults, ignore_unknown_fields, use_proto_names,
 *               enums_as_ints}                      booleans, all false
 *   limits: {max_body, max_depth, max_string, max_repeated, max_output}
 *   clusters: [{name, targets, timeout_ms, connect_timeout_ms, keepalive_ms,
 *               resolve_interval_ms, health: {interval_ms, timeout_ms,
 *               healthy_threshold, unhealthy_threshold, passive_failures}}]
 *              (or versions: [{name, targets, weight}] instead of targets),
 *              sticky: {header, cookie, hash_header}, rollout: {steps, hold_ms,
 *              window_ms, interval_ms, min_requests, max_error_rate, max_p95_ms,
 *              max_p99_ms, max_health_failures}}]
 *   admin: off | {listen: "127.0.0.1:9005", token}
 *   services: {SERVICE: CLUSTER}
 *   json_profile: proto3      routes whose .proto names none (transcode/profile.h)
 *   routes: [{method, timeout_ms, success_status, json_profile}]
 *   grpc_web: {enabled: true, cors_origins: []}   origins: "*" or scheme://host[:port]
 *   tracing: {endpoint: ~, sample: 1.0, service_name: ~, queue_size, batch_size,
 *             export_timeout_ms, interval_ms, propagate_unsampled: false}
 *                                                   OTLP/HTTP traces; ~ = off
 *   (clusters take json_profile too: it wins over their routes' .proto)
 *
 * Merging: scalars override. A list or map section that is present
 * (listen, listen_grpc, clusters, services) replaces what was there before as a whole:
 * naming one cluster drops the built-in "default" unless it is listed too.
 * routes are the exception: they merge by method with what is there, and
 * within a route only the keys written change.
 *
 * Values: integers are decimal. Durations (keys ending in _ms) are
 * milliseconds, or a number with ms, s, m or h ("250ms", "5s"). Sizes
 * (max_body, max_string, max_output) are bytes, or a number with KiB/MiB/GiB
 * or k/m/g (powers of 1024, as nginx reads them) or KB/MB/GB (powers of
 * 1000); suffixes are case-insensitive. Booleans are true/false.
 *
 * Addresses: "HOST:PORT", "[IPV6]:PORT" (stored without brackets), and for
 * listeners "*:PORT" or ":PORT" for 0.0.0.0. A listener may use port 0 (the
 * kernel picks one: tests); a target needs 1..65535 and a host, which may be
 * a name (the upstream resolves it).
 *
 * Errors read "FILE:LINE: what", LINE being 1-based and the line of the
 * offending key or value. Out of memory aborts: a gateway that cannot
 * allocate its config cannot do anything useful either.
 */
#include "config/config.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "config/config_int.h"

/* ---- the parts of a config ------------------------------------------- */

void config_cluster_init(config_cluster_t *cl, const char *name)
{
    *cl = (config_cluster_t){
        .name = xstrdup(name),
        .timeout_ms = CLUSTER_DEFAULT_TIMEOUT_MS,
        .connect_timeout_ms = CLUSTER_DEFAULT_CONNECT_TIMEOUT_MS,
        .keepalive_ms = CLUSTER_DEFAULT_KEEPALIVE_MS,
        .resolve_interval_ms = CLUSTER_DEFAULT_RESOLVE_INTERVAL_MS,
        .health = {
            .interval_ms = HEALTH_DEFAULT_INTERVAL_MS,
            .timeout_ms = HEALTH_DEFAULT_TIMEOUT_MS,
            .healthy_threshold = HEALTH_DEFAULT_HEALTHY,
            .unhealthy_threshold = HEALTH_DEFAULT_UNHEALTHY,
            .passive_failures = HEALTH_DEFAULT_PASSIVE_FAILURES,
        },
        .sticky = {.header = xstrdup("x-canary")},
    };
    config_rollout_defaults(&cl->rollout);
}

void config_rollout_defaults(config_rollout_t *r)
{
    static const uint32_t steps[] = {10, 25, 50, 100};
    *r = (config_rollout_t){
        .nsteps = 4,
        .hold_ms = 4u * 3600 * 1000,
        .window_ms = 5u * 60 * 1000,
        .interval_ms = 10000,
        .min_requests = 100,
        .max_error_rate = 0.01,
        .max_p95_ms = 500,
        .max_p99_ms = 1000,
        .max_health_failures = 3,
    };
    memcpy(r->steps, steps, sizeof(steps));
}

static void targets_free(config_target_t *t, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(t[i].host);
    free(t);
}

static config_target_t *targets_copy(const config_target_t *t, size_t n)
{
    config_target_t *d = xcalloc(n ? n : 1, sizeof(*d));
    for (size_t i = 0; i < n; i++)
        d[i] = (config_target_t){xstrdup(t[i].host), t[i].port};
    return d;
}

static void versions_free(config_version_t *v, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(v[i].name);
        targets_free(v[i].targets, v[i].ntargets);
    }
    free(v);
}

config_version_t *config_version_get(config_cluster_t *cl, const char *name, size_t name_len)
{
    for (size_t i = 0; i < cl->nversions; i++)
        if (strlen(cl->versions[i].name) == name_len && memcmp(cl->versions[i].name, name, name_len) == 0)
            return &cl->versions[i];
    cl->versions = xrealloc(cl->versions, cl->nversions + 1, sizeof(*cl->versions));
    config_version_t *v = &cl->versions[cl->nversions];
    /* the first version takes all traffic unless told otherwise */
    *v = (config_version_t){.name = xstrndup(name, name_len), .weight = cl->nversions == 0 ? 100 : 0};
    cl->nversions++;
    return v;
}

void config_version_add_target(config_version_t *v, const char *host, uint16_t port)
{
    v->targets = xrealloc(v->targets, v->ntargets + 1, sizeof(*v->targets));
    v->targets[v->ntargets++] = (config_target_t){xstrdup(host), port};
}

static void sticky_free(config_sticky_t *s)
{
    free(s->header);
    free(s->cookie);
    free(s->hash_header);
    *s = (config_sticky_t){0};
}

void config_cluster_add_target(config_cluster_t *cl, const char *host, uint16_t port)
{
    cl->targets = xrealloc(cl->targets, cl->ntargets + 1, sizeof(*cl->targets));
    cl->targets[cl->ntargets++] = (config_target_t){xstrdup(host), port};
}

void config_cluster_clear_targets(config_cluster_t *cl)
{
    targets_free(cl->targets, cl->ntargets);
    cl->targets = NULL;
    cl->ntargets = 0;
}

void config_cluster_clear_versions(config_cluster_t *cl)
{
    versions_free(cl->versions, cl->nversions);
    cl->versions = NULL;
    cl->nversions = 0;
}

static void cluster_free(config_cluster_t *cl)
{
    config_cluster_clear_targets(cl);
    config_cluster_clear_versions(cl);
    sticky_free(&cl->sticky);
    free(cl->name);
    free(cl->json_profile);
    cl->name = NULL;
    cl->json_profile = NULL;
}

void config_listeners_free(config_listener_t *l, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(l[i].host);
    free(l);
}

void config_clusters_free(config_cluster_t *cl, size_t n)
{
    for (size_t i = 0; i < n; i++)
        cluster_free(&cl[i]);
    free(cl);
}

void config_services_free(config_service_t *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(s[i].service);
        free(s[i].cluster);
    }
    free(s);
}

static void routes_free(config_route_t *r, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(r[i].method);
        free(r[i].json_profile);
    }
    free(r);
}

void config_listener_append(config_listener_t **list, size_t *n, const char *host, uint16_t port)
{
    *list = xrealloc(*list, *n + 1, sizeof(**list));
    (*list)[(*n)++] = (config_listener_t){xstrdup(host), port};
}

void config_rate_limits_free(config_rate_limit_t *r, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(r[i].name);
        free(r[i].method);
        free(r[i].header);
    }
    free(r);
}

void config_add_listener(config_t *c, const char *host, uint16_t port)
{
    config_listener_append(&c->listeners, &c->nlisteners, host, port);
}

static config_listener_t *listeners_copy(const config_listener_t *src, size_t n)
{
    config_listener_t *l = xcalloc(n, sizeof(*l));
    for (size_t i = 0; i < n; i++)
        l[i] = (config_listener_t){xstrdup(src[i].host), src[i].port};
    return l;
}

static config_route_t *route_find(config_t *c, const char *method)
{
    for (size_t i = 0; i < c->nroutes; i++)
        if (strcmp(c->routes[i].method, method) == 0)
            return &c->routes[i];
    return NULL;
}

config_route_t *config_route_get(config_t *c, const char *method)
{
    config_route_t *r = route_find(c, method);
    if (r != NULL)
        return r;
    c->routes = xrealloc(c->routes, c->nroutes + 1, sizeof(*c->routes));
    r = &c->routes[c->nroutes++];
    *r = (config_route_t){.method = xstrdup(method)};
    return r;
}

config_cluster_t *config_cluster_find(config_t *c, const char *name)
{
    for (size_t i = 0; i < c->nclusters; i++)
        if (strcmp(c->clusters[i].name, name) == 0)
            return &c->clusters[i];
    return NULL;
}

void config_defaults(config_t *c)
{
    *c = (config_t){.drain_timeout_ms = CONFIG_DEFAULT_DRAIN_MS, .http1 = CONFIG_DEFAULT_HTTP1,
                    .grpc_web = {.enabled = 1}};
    c->connections.probe_reserve = CONFIG_DEFAULT_PROBE_RESERVE;
    c->tracing = (config_tracing_t){.sample = 1.0, .queue_size = CONFIG_DEFAULT_TRACE_QUEUE,
                                    .batch_size = CONFIG_DEFAULT_TRACE_BATCH,
                                    .export_timeout_ms = CONFIG_DEFAULT_TRACE_TIMEOUT_MS,
                                    .interval_ms = CONFIG_DEFAULT_TRACE_INTERVAL_MS};
    config_add_listener(c, CONFIG_DEFAULT_LISTEN_HOST, CONFIG_DEFAULT_LISTEN_PORT);
    config_listener_append(&c->grpc_listeners, &c->ngrpc_listeners, CONFIG_DEFAULT_GRPC_HOST, CONFIG_DEFAULT_GRPC_PORT);
    c->grpc = (config_grpc_t){CONFIG_DEFAULT_GRPC_MAX_MESSAGE, CONFIG_DEFAULT_GRPC_MAX_STREAMS,
                              CONFIG_DEFAULT_GRPC_MAX_HEADER_LIST, CONFIG_DEFAULT_GRPC_MAX_LOCAL_STREAMS};
    c->admin_host = xstrdup(CONFIG_DEFAULT_ADMIN_HOST);
    c->admin_port = CONFIG_DEFAULT_ADMIN_PORT;
    c->access_log = xstrdup("stdout");
    transcode_options_default(&c->transcode);
    c->clusters = xcalloc(1, sizeof(*c->clusters));
    c->nclusters = 1;
    config_cluster_init(&c->clusters[0], "default");
    config_cluster_add_target(&c->clusters[0], CONFIG_DEFAULT_UPSTREAM_HOST, CONFIG_DEFAULT_UPSTREAM_PORT);
}

void config_free(config_t *c)
{
    config_listeners_free(c->listeners, c->nlisteners);
    config_listeners_free(c->grpc_listeners, c->ngrpc_listeners);
    free(c->descriptors);
    free(c->access_log);
    free(c->swagger_ui_dir);
    free(c->admin_host);
    free(c->admin_token);
    config_clusters_free(c->clusters, c->nclusters);
    config_services_free(c->services, c->nservices);
    routes_free(c->routes, c->nroutes);
    config_rate_limits_free(c->rate_limits, c->nrate_limits);
    free(c->config_path);
    free(c->json_profile);
    config_strings_free(c->grpc_web.cors_origins, c->grpc_web.ncors_origins);
    free(c->tracing.endpoint);
    free(c->tracing.service_name);
    *c = (config_t){0};
}

void config_copy(config_t *dst, const config_t *src)
{
    *dst = *src;
    dst->listeners = listeners_copy(src->listeners, src->nlisteners);
    dst->grpc_listeners = listeners_copy(src->grpc_listeners, src->ngrpc_listeners);
    dst->descriptors = xstrdup(src->descriptors);
    dst->access_log = xstrdup(src->access_log);
    dst->swagger_ui_dir = xstrdup(src->swagger_ui_dir);
    dst->admin_host = xstrdup(src->admin_host);
    dst->admin_token = xstrdup(src->admin_token);
    dst->clusters = xcalloc(src->nclusters, sizeof(*dst->clusters));
    for (size_t i = 0; i < src->nclusters; i++) {
        const config_cluster_t *s = &src->clusters[i];
        config_cluster_t *d = &dst->clusters[i];
        *d = *s;
        d->name = xstrdup(s->name);
        d->json_profile = xstrdup(s->json_profile);
        d->targets = targets_copy(s->targets, s->ntargets);
        d->versions = xcalloc(s->nversions ? s->nversions : 1, sizeof(*d->versions));
        for (size_t j = 0; j < s->nversions; j++) {
            d->versions[j] = s->versions[j];
            d->versions[j].name = xstrdup(s->versions[j].name);
            d->versions[j].targets = targets_copy(s->versions[j].targets, s->versions[j].ntargets);
        }
        d->sticky = (config_sticky_t){xstrdup(s->sticky.header), xstrdup(s->sticky.cookie),
                                      xstrdup(s->sticky.hash_header)};
    }
    dst->services = xcalloc(src->nservices, sizeof(*dst->services));
    for (size_t i = 0; i < src->nservices; i++)
        dst->services[i] = (config_service_t){xstrdup(src->services[i].service),
                                              xstrdup(src->services[i].cluster)};
    dst->routes = xcalloc(src->nroutes, sizeof(*dst->routes));
    for (size_t i = 0; i < src->nroutes; i++) {
        dst->routes[i] = src->routes[i];
        dst->routes[i].method = xstrdup(src->routes[i].method);
        dst->routes[i].json_profile = xstrdup(src->routes[i].json_profile);
    }
    dst->rate_limits = xcalloc(src->nrate_limits, sizeof(*dst->rate_limits));
    for (size_t i = 0; i < src->nrate_limits; i++) {
        dst->rate_limits[i] = src->rate_limits[i];
        dst->rate_limits[i].name = xstrdup(src->rate_limits[i].name);
        dst->rate_limits[i].method = xstrdup(src->rate_limits[i].method);
        dst->rate_limits[i].header = xstrdup(src->rate_limits[i].header);
    }
    dst->config_path = xstrdup(src->config_path);
    dst->json_profile = xstrdup(src->json_profile);
    dst->grpc_web.cors_origins = xcalloc(src->grpc_web.ncors_origins, sizeof(char *));
    for (size_t i = 0; i < src->grpc_web.ncors_origins; i++)
        dst->grpc_web.cors_origins[i] = xstrdup(src->grpc_web.cors_origins[i]);
    dst->tracing.endpoint = xstrdup(src->tracing.endpoint);
    dst->tracing.service_name = xstrdup(src->tracing.service_name);
}

void config_strings_free(char **s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(s[i]);
    free(s);
}

/* ---- lookups ------------------------------------------------------------------ */

const char *config_json_profile(const config_t *c, const config_cluster_t *cluster, const config_route_t *route,
                                const char *proto_profile)
{
    if (route && route->json_profile)
        return route->json_profile;
    if (cluster && cluster->json_profile)
        return cluster->json_profile;
    if (proto_profile)
        return proto_profile;
    return c->json_profile ? c->json_profile : "proto3";
}

const config_cluster_t *config_cluster_for_service(const config_t *c, const char *service)
{
    const char *name = "default";
    for (size_t i = 0; i < c->nservices; i++) {
        if (strcmp(c->services[i].service, service) == 0) {
            name = c->services[i].cluster;
            break;
        }
    }
    for (size_t i = 0; i < c->nclusters; i++)
        if (strcmp(c->clusters[i].name, name) == 0)
            return &c->clusters[i];
    return NULL;
}

const config_route_t *config_route_for_method(const config_t *c, const char *method)
{
    for (size_t i = 0; i < c->nroutes; i++)
        if (strcmp(c->routes[i].method, method) == 0)
            return &c->routes[i];
    return NULL;
}

uint32_t config_rate_limit_burst(const config_rate_limit_t *r)
{
    if (r->burst)
        return r->burst;
    double b = r->rate < 1 ? 1 : r->rate + 0.5;
    return b > 1e9 ? 1000000000u : (uint32_t)b;
}
