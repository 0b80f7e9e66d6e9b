/*
 * config.c: defaults, the YAML file, the command line, and the cross-checks
 * that make a loaded config safe to start from.
 *
 * The file is read with libyaml's document API: the whole file becomes one
 * node tree first, so every value keeps its line for messages, and the walk
 * below is driven by the schema, never by the tree. That matters because an
 * alias may point back at its own ancestor (`a: &x [*x]` is a cycle): a walk
 * that only descends where the schema has a section can't loop on it.
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
 *   workers: 0                 0 = one per core, at most 1024
 *   descriptors: ~             FileDescriptorSet path; ~/null/empty = built one
 *   access_log: stdout         stdout | stderr | off | a file path
 *   drain_timeout_ms: 30000
 *   drain_grace_ms: 0          keep accepting this long after a drain starts
 *   http1: uring               uring | h2o: HTTP/1.1 front end (HTTP/2 is h2o's);
 *                              uring falls back to h2o where io_uring is unusable
 *   transcode: {emit_defaults, ignore_unknown_fields, use_proto_names,
 *               enums_as_ints}                      booleans, all false
 *   limits: {max_body, max_depth, max_string, max_repeated, max_output}
 *   clusters: [{name, targets, timeout_ms, connect_timeout_ms, keepalive_ms,
 *               resolve_interval_ms, health: {interval_ms, timeout_ms,
 *               healthy_threshold, unhealthy_threshold}}]
 *              (or versions: [{name, targets, weight}] instead of targets),
 *              sticky: {header, cookie, hash_header}, rollout: {steps, hold_ms,
 *              window_ms, interval_ms, min_requests, max_error_rate, max_p95_ms,
 *              max_p99_ms, max_health_failures}}]
 *   admin: off | {listen: "127.0.0.1:9005", token}
 *   services: {SERVICE: CLUSTER}
 *   json_profile: proto3      routes whose .proto names none (transcode/profile.h)
 *   routes: [{method, timeout_ms, success_status, json_profile}]
 *   (clusters take json_profile too: it wins over their routes' .proto)
 *
 * Merging: scalars override. A list or map section that is present
 * (listen, clusters, services) replaces what was there before as a whole:
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

#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <yaml.h>

#include "transcode/profile.h"

#define CLUSTER_DEFAULT_TIMEOUT_MS 30000
#define CLUSTER_DEFAULT_CONNECT_TIMEOUT_MS 1000
#define CLUSTER_DEFAULT_KEEPALIVE_MS 10000
#define CLUSTER_DEFAULT_RESOLVE_INTERVAL_MS 30000
#define HEALTH_DEFAULT_INTERVAL_MS 5000
#define HEALTH_DEFAULT_TIMEOUT_MS 1000
#define HEALTH_DEFAULT_HEALTHY 2
#define HEALTH_DEFAULT_UNHEALTHY 3
#define CONFIG_DEFAULT_DRAIN_MS 30000
#define CONFIG_MAX_WORKERS 1024
/* A config file is a few KiB; anything this big is a wrong path. */
#define CONFIG_MAX_FILE (16u << 20)

/* ---- memory ------------------------------------------------------------ */

static void oom(void)
{
    fputs("config: out of memory\n", stderr);
    abort();
}

static void *xcalloc(size_t n, size_t size)
{
    void *p = calloc(n ? n : 1, size);
    if (p == NULL)
        oom();
    return p;
}

static void *xrealloc(void *p, size_t n, size_t size)
{
    if (size != 0 && n > SIZE_MAX / size)
        oom();
    p = realloc(p, n * size != 0 ? n * size : 1);
    if (p == NULL)
        oom();
    return p;
}

static char *xstrndup(const char *s, size_t n)
{
    char *d = xcalloc(n + 1, 1);
    memcpy(d, s, n);
    return d;
}

static char *xstrdup(const char *s)
{
    return s ? xstrndup(s, strlen(s)) : NULL;
}

static void set_str(char **dst, const char *s)
{
    char *d = xstrdup(s);
    free(*dst);
    *dst = d;
}

static void errf(char *err, size_t errlen, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void errf(char *err, size_t errlen, const char *fmt, ...)
{
    if (err == NULL || errlen == 0)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
}

/* ---- the parts of a config ------------------------------------------- */

static void cluster_init(config_cluster_t *cl, const char *name)
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

static config_version_t *version_get(config_cluster_t *cl, const char *name, size_t name_len)
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

static void version_add_target(config_version_t *v, const char *host, uint16_t port)
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

static void cluster_add_target(config_cluster_t *cl, const char *host, uint16_t port)
{
    cl->targets = xrealloc(cl->targets, cl->ntargets + 1, sizeof(*cl->targets));
    cl->targets[cl->ntargets++] = (config_target_t){xstrdup(host), port};
}

static void cluster_clear_targets(config_cluster_t *cl)
{
    targets_free(cl->targets, cl->ntargets);
    cl->targets = NULL;
    cl->ntargets = 0;
}

static void cluster_clear_versions(config_cluster_t *cl)
{
    versions_free(cl->versions, cl->nversions);
    cl->versions = NULL;
    cl->nversions = 0;
}

static void cluster_free(config_cluster_t *cl)
{
    cluster_clear_targets(cl);
    cluster_clear_versions(cl);
    sticky_free(&cl->sticky);
    free(cl->name);
    free(cl->json_profile);
    cl->name = NULL;
    cl->json_profile = NULL;
}

static void listeners_free(config_listener_t *l, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(l[i].host);
    free(l);
}

static void clusters_free(config_cluster_t *cl, size_t n)
{
    for (size_t i = 0; i < n; i++)
        cluster_free(&cl[i]);
    free(cl);
}

static void services_free(config_service_t *s, size_t n)
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

static void add_listener(config_t *c, const char *host, uint16_t port)
{
    c->listeners = xrealloc(c->listeners, c->nlisteners + 1, sizeof(*c->listeners));
    c->listeners[c->nlisteners++] = (config_listener_t){xstrdup(host), port};
}

static config_route_t *route_find(config_t *c, const char *method)
{
    for (size_t i = 0; i < c->nroutes; i++)
        if (strcmp(c->routes[i].method, method) == 0)
            return &c->routes[i];
    return NULL;
}

static config_route_t *route_get(config_t *c, const char *method)
{
    config_route_t *r = route_find(c, method);
    if (r != NULL)
        return r;
    c->routes = xrealloc(c->routes, c->nroutes + 1, sizeof(*c->routes));
    r = &c->routes[c->nroutes++];
    *r = (config_route_t){.method = xstrdup(method)};
    return r;
}

static config_cluster_t *cluster_find(config_t *c, const char *name)
{
    for (size_t i = 0; i < c->nclusters; i++)
        if (strcmp(c->clusters[i].name, name) == 0)
            return &c->clusters[i];
    return NULL;
}

void config_defaults(config_t *c)
{
    *c = (config_t){.drain_timeout_ms = CONFIG_DEFAULT_DRAIN_MS, .http1 = CONFIG_DEFAULT_HTTP1};
    add_listener(c, CONFIG_DEFAULT_LISTEN_HOST, CONFIG_DEFAULT_LISTEN_PORT);
    c->admin_host = xstrdup(CONFIG_DEFAULT_ADMIN_HOST);
    c->admin_port = CONFIG_DEFAULT_ADMIN_PORT;
    c->access_log = xstrdup("stdout");
    transcode_options_default(&c->transcode);
    c->clusters = xcalloc(1, sizeof(*c->clusters));
    c->nclusters = 1;
    cluster_init(&c->clusters[0], "default");
    cluster_add_target(&c->clusters[0], CONFIG_DEFAULT_UPSTREAM_HOST, CONFIG_DEFAULT_UPSTREAM_PORT);
}

void config_free(config_t *c)
{
    listeners_free(c->listeners, c->nlisteners);
    free(c->descriptors);
    free(c->access_log);
    free(c->admin_host);
    free(c->admin_token);
    clusters_free(c->clusters, c->nclusters);
    services_free(c->services, c->nservices);
    routes_free(c->routes, c->nroutes);
    free(c->config_path);
    free(c->json_profile);
    *c = (config_t){0};
}

static void config_copy(config_t *dst, const config_t *src)
{
    *dst = *src;
    dst->listeners = xcalloc(src->nlisteners, sizeof(*dst->listeners));
    for (size_t i = 0; i < src->nlisteners; i++)
        dst->listeners[i] = (config_listener_t){xstrdup(src->listeners[i].host), src->listeners[i].port};
    dst->descriptors = xstrdup(src->descriptors);
    dst->access_log = xstrdup(src->access_log);
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
    dst->config_path = xstrdup(src->config_path);
    dst->json_profile = xstrdup(src->json_profile);
}

/* ---- value syntax, shared by the file and the flags --------------------- */

/* Plain decimal only: "0x10", "+1", "1e3" and "-1" are mistakes in a config. */
static bool parse_u64(const char *s, size_t n, uint64_t *out)
{
    uint64_t v = 0;
    if (n == 0)
        return false;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return false;
        unsigned d = (unsigned)(s[i] - '0');
        if (v > (UINT64_MAX - d) / 10)
            return false;
        v = v * 10 + d;
    }
    *out = v;
    return true;
}

typedef struct {
    const char *suffix;
    uint64_t mult;
} unit_t;

static bool parse_with_unit(const char *s, const unit_t *units, uint64_t *out)
{
    size_t digits = 0;
    while (s[digits] >= '0' && s[digits] <= '9')
        digits++;
    uint64_t v;
    if (!parse_u64(s, digits, &v))
        return false;
    const char *u = s + digits;
    while (*u == ' ')
        u++;
    for (; units->suffix != NULL; units++) {
        if (strcasecmp(u, units->suffix) == 0) {
            if (units->mult != 0 && v > UINT64_MAX / units->mult)
                return false;
            *out = v * units->mult;
            return true;
        }
    }
    return false;
}

static bool parse_size(const char *s, uint64_t *out)
{
    static const unit_t units[] = {
        {"", 1},           {"b", 1},          {"k", 1u << 10},      {"kib", 1u << 10},
        {"m", 1u << 20},   {"mib", 1u << 20}, {"g", 1u << 30},      {"gib", 1u << 30},
        {"kb", 1000},      {"mb", 1000000},   {"gb", 1000000000}, {NULL, 0},
    };
    return parse_with_unit(s, units, out);
}

static bool parse_duration(const char *s, uint64_t *out)
{
    static const unit_t units[] = {
        {"", 1}, {"ms", 1}, {"s", 1000}, {"m", 60000}, {"h", 3600000}, {NULL, 0},
    };
    return parse_with_unit(s, units, out);
}

static bool host_char_ok(char ch)
{
    return isalnum((unsigned char)ch) || ch == '-' || ch == '.' || ch == '_';
}

/*
 * HOST:PORT, [V6]:PORT, and for listeners *:PORT / :PORT. NULL on success,
 * else why not. The host is returned without brackets.
 */
static const char *parse_hostport(const char *s, bool listener, char **host, uint16_t *port)
{
    const char *h, *colon;
    size_t hlen;
    if (s[0] == '[') {
        const char *close = strchr(s, ']');
        if (close == NULL)
            return "missing ']' after an IPv6 address";
        h = s + 1;
        hlen = (size_t)(close - h);
        if (hlen == 0)
            return "empty IPv6 address";
        for (size_t i = 0; i < hlen; i++)
            if (!isxdigit((unsigned char)h[i]) && h[i] != ':' && h[i] != '.' && h[i] != '%' &&
                !host_char_ok(h[i]))
                return "bad character in IPv6 address";
        if (close[1] != ':')
            return "expected HOST:PORT";
        colon = close + 1;
    } else {
        colon = strrchr(s, ':');
        if (colon == NULL)
            return "expected HOST:PORT";
        h = s;
        hlen = (size_t)(colon - s);
        if (memchr(h, ':', hlen) != NULL)
            return "an IPv6 address needs brackets: [ADDR]:PORT";
        if (hlen == 0 || (hlen == 1 && h[0] == '*')) {
            if (!listener)
                return "a target needs a host";
            h = "0.0.0.0";
            hlen = 7;
        }
        for (size_t i = 0; i < hlen; i++)
            if (!host_char_ok(h[i]))
                return "bad character in host";
        if (hlen > 255)
            return "host name too long";
    }
    uint64_t p;
    const char *ps = colon + 1;
    if (!parse_u64(ps, strlen(ps), &p))
        return "port is not a number";
    if (p > 65535)
        return listener ? "port out of range 0..65535" : "port out of range 1..65535";
    if (p == 0 && !listener)
        return "port out of range 1..65535";
    *host = xstrndup(h, hlen);
    *port = (uint16_t)p;
    return NULL;
}

/* ---- the YAML walk -------------------------------------------------------- */

typedef struct loader {
    yaml_document_t doc;
    const char *file;
    char *err;
    size_t errlen;
} loader_t;

static yaml_node_t *node(loader_t *L, int index)
{
    return yaml_document_get_node(&L->doc, index);
}

static int fail(loader_t *L, const yaml_node_t *at, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int fail(loader_t *L, const yaml_node_t *at, const char *fmt, ...)
{
    char what[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof(what), fmt, ap);
    va_end(ap);
    errf(L->err, L->errlen, "%s:%zu: %s", L->file, at->start_mark.line + 1, what);
    return -1;
}

static const char *sval(const yaml_node_t *n)
{
    return (const char *)n->data.scalar.value;
}

static bool is_null(const yaml_node_t *n)
{
    if (n->type != YAML_SCALAR_NODE || n->data.scalar.style != YAML_PLAIN_SCALAR_STYLE)
        return false;
    const char *s = sval(n);
    return !*s || !strcmp(s, "~") || !strcmp(s, "null") || !strcmp(s, "Null") || !strcmp(s, "NULL");
}

/* "got ..." in messages: the value itself when short, else its kind. */
static const char *describe(const yaml_node_t *n, char *buf, size_t len)
{
    if (n->type == YAML_SEQUENCE_NODE)
        return "a list";
    if (n->type == YAML_MAPPING_NODE)
        return "a mapping";
    if (is_null(n))
        return "nothing";
    size_t vlen = n->data.scalar.length;
    if (vlen > 60)
        snprintf(buf, len, "\"%.57s...\"", sval(n));
    else
        snprintf(buf, len, "\"%s\"", sval(n));
    return buf;
}

static int expected(loader_t *L, const yaml_node_t *n, const char *what, const char *kind)
{
    char buf[80];
    return fail(L, n, "%s: expected %s, got %s", what, kind, describe(n, buf, sizeof(buf)));
}

/* A scalar the walk may treat as a C string: no embedded NUL ("\0" escapes). */
static int scalar(loader_t *L, const yaml_node_t *n, const char *what, const char *kind)
{
    if (n->type != YAML_SCALAR_NODE || is_null(n))
        return expected(L, n, what, kind);
    if (strlen(sval(n)) != n->data.scalar.length)
        return fail(L, n, "%s: contains a NUL byte", what);
    return 0;
}

/*
 * Every mapping goes through here: libyaml accepts duplicate keys and keeps
 * both, and silently honouring either one would hide a mistake.
 */
static int check_mapping(loader_t *L, const yaml_node_t *n, const char *what)
{
    if (n->type != YAML_MAPPING_NODE)
        return expected(L, n, what, "a mapping");
    for (yaml_node_pair_t *p = n->data.mapping.pairs.start; p < n->data.mapping.pairs.top; p++) {
        yaml_node_t *k = node(L, p->key);
        if (k->type != YAML_SCALAR_NODE || is_null(k) || strlen(sval(k)) != k->data.scalar.length)
            return fail(L, k, "%s: keys must be non-empty strings", what);
        for (yaml_node_pair_t *q = n->data.mapping.pairs.start; q < p; q++) {
            yaml_node_t *prev = node(L, q->key);
            if (strcmp(sval(prev), sval(k)) == 0)
                return fail(L, k, "%s: duplicate key \"%s\" (first at line %zu)", what, sval(k),
                            prev->start_mark.line + 1);
        }
    }
    return 0;
}

static int unknown_key(loader_t *L, const yaml_node_t *k, const char *section)
{
    if (section == NULL)
        return fail(L, k, "unknown key \"%s\" at top level", sval(k));
    return fail(L, k, "unknown key \"%s\" in %s", sval(k), section);
}

#define PAIRS(n, p) (yaml_node_pair_t *p = (n)->data.mapping.pairs.start; p < (n)->data.mapping.pairs.top; p++)
#define ITEMS(n, it) (yaml_node_item_t *it = (n)->data.sequence.items.start; it < (n)->data.sequence.items.top; it++)

static int parse_http1(const char *v, config_http1_t *out)
{
    if (strcmp(v, "uring") == 0)
        *out = CONFIG_HTTP1_URING;
    else if (strcmp(v, "h2o") == 0)
        *out = CONFIG_HTTP1_H2O;
    else
        return -1;
    return 0;
}

static int get_string(loader_t *L, const yaml_node_t *n, const char *what, char **out)
{
    if (scalar(L, n, what, "a string") < 0)
        return -1;
    if (n->data.scalar.length == 0)
        return fail(L, n, "%s: expected a non-empty string", what);
    set_str(out, sval(n));
    return 0;
}

/* A JSON profile's name (transcode/profile.h); ~ for none. */
static int get_profile(loader_t *L, const yaml_node_t *n, const char *what, char **out)
{
    if (is_null(n)) {
        free(*out);
        *out = NULL;
        return 0;
    }
    if (scalar(L, n, what, "a JSON profile name") < 0)
        return -1;
    if (json_profile_find(sval(n)) == NULL)
        return fail(L, n, "%s: expected one of %s, got \"%s\"", what, json_profile_names(), sval(n));
    set_str(out, sval(n));
    return 0;
}

static int get_bool(loader_t *L, const yaml_node_t *n, const char *what, uint8_t *out)
{
    static const char *const yes[] = {"true", "True", "TRUE"}, *const no[] = {"false", "False", "FALSE"};
    if (n->type == YAML_SCALAR_NODE) {
        for (size_t i = 0; i < 3; i++) {
            if (strcmp(sval(n), yes[i]) == 0) {
                *out = 1;
                return 0;
            }
            if (strcmp(sval(n), no[i]) == 0) {
                *out = 0;
                return 0;
            }
        }
    }
    return expected(L, n, what, "true or false");
}

static int get_uint(loader_t *L, const yaml_node_t *n, const char *what, uint64_t min, uint64_t max,
                    uint64_t *out)
{
    if (scalar(L, n, what, "a non-negative integer") < 0)
        return -1;
    if (!parse_u64(sval(n), n->data.scalar.length, out))
        return expected(L, n, what, "a non-negative integer");
    if (*out < min || *out > max)
        return fail(L, n, "%s: %s is out of range %llu..%llu", what, sval(n), (unsigned long long)min,
                    (unsigned long long)max);
    return 0;
}

static int get_u32(loader_t *L, const yaml_node_t *n, const char *what, uint64_t min, uint32_t *out)
{
    uint64_t v;
    if (get_uint(L, n, what, min, UINT32_MAX, &v) < 0)
        return -1;
    *out = (uint32_t)v;
    return 0;
}

/* A number with an optional unit, read by parse; -1 after saying why not. */
static int get_with_unit(loader_t *L, const yaml_node_t *n, const char *what, const char *kind,
                         bool (*parse)(const char *, uint64_t *), uint64_t *v)
{
    if (scalar(L, n, what, kind) < 0)
        return -1;
    if (!parse(sval(n), v))
        return expected(L, n, what, kind);
    return 0;
}

static int get_duration(loader_t *L, const yaml_node_t *n, const char *what, uint32_t *out)
{
    uint64_t v;
    if (get_with_unit(L, n, what, "a duration in ms (5000, \"250ms\", \"5s\", \"1m\")", parse_duration, &v) < 0)
        return -1;
    if (v > UINT32_MAX)
        return fail(L, n, "%s: %s is too long (at most %u ms)", what, sval(n), UINT32_MAX);
    *out = (uint32_t)v;
    return 0;
}

static int get_size(loader_t *L, const yaml_node_t *n, const char *what, size_t *out)
{
    uint64_t v;
    if (get_with_unit(L, n, what, "a size in bytes (4194304, \"4MiB\", \"512KiB\", \"1MB\")", parse_size, &v) < 0)
        return -1;
    if (v == 0)
        return fail(L, n, "%s: must be greater than 0", what);
    if (v > SIZE_MAX)
        return fail(L, n, "%s: %s is too large", what, sval(n));
    *out = (size_t)v;
    return 0;
}

static int get_hostport(loader_t *L, const yaml_node_t *n, const char *what, bool listener, char **host,
                        uint16_t *port)
{
    if (scalar(L, n, what, "\"HOST:PORT\"") < 0)
        return -1;
    const char *why = parse_hostport(sval(n), listener, host, port);
    if (why != NULL)
        return fail(L, n, "%s: bad address \"%s\": %s", what, sval(n), why);
    return 0;
}

/* listen: one string or a list of them; replaces the listeners. */
static int load_listen(loader_t *L, const yaml_node_t *n, config_t *c)
{
    config_t tmp = {0};
    char *host = NULL;
    uint16_t port;
    if (n->type == YAML_SEQUENCE_NODE) {
        size_t i = 0;
        if (n->data.sequence.items.start == n->data.sequence.items.top)
            return fail(L, n, "listen: expected at least one address");
        for ITEMS (n, it) {
            char what[48];
            snprintf(what, sizeof(what), "listen[%zu]", i++);
            if (get_hostport(L, node(L, *it), what, true, &host, &port) < 0) {
                listeners_free(tmp.listeners, tmp.nlisteners);
                return -1;
            }
            add_listener(&tmp, host, port);
            free(host);
        }
    } else {
        if (get_hostport(L, n, "listen", true, &host, &port) < 0)
            return -1;
        add_listener(&tmp, host, port);
        free(host);
    }
    listeners_free(c->listeners, c->nlisteners);
    c->listeners = tmp.listeners;
    c->nlisteners = tmp.nlisteners;
    return 0;
}

/*
 * A mapping section whose keys are fields of one struct: the table says
 * each key's kind and where it goes, so every section reads its keys, and
 * words its mistakes, the same way. Keys the table lacks go to `other`
 * with other_ctx (NULL: an unknown key), which returns 0, -1, or 1 when it
 * does not know the key either.
 */
typedef enum {
    FIELD_BOOL,       /* uint8_t */
    FIELD_U32,        /* uint32_t, 0 allowed */
    FIELD_U32_POS,    /* uint32_t, 1 or more */
    FIELD_COUNT,      /* size_t, 1 or more */
    FIELD_DURATION,   /* uint32_t milliseconds */
    FIELD_SIZE,       /* size_t bytes */
    FIELD_FRACTION,   /* double 0..1 */
    FIELD_STRING,     /* char *, ~ for none */
} field_kind_t;

typedef struct field {
    const char *key;
    field_kind_t kind;
    size_t offset;
} field_t;

typedef int (*other_key_fn)(loader_t *L, const char *key, const yaml_node_t *v, const char *what, void *ctx);

static int get_fraction(loader_t *L, const yaml_node_t *n, const char *what, double *out)
{
    if (scalar(L, n, what, "a number 0..1") < 0)
        return -1;
    char *end;
    double d = strtod(sval(n), &end);
    if (end == sval(n) || *end != '\0' || !(d >= 0 && d <= 1))
        return expected(L, n, what, "a number 0..1 (0.01 = 1%)");
    *out = d;
    return 0;
}

static int get_field(loader_t *L, const field_t *f, const yaml_node_t *v, const char *what, void *base)
{
    void *dst = (char *)base + f->offset;
    uint64_t u;
    switch (f->kind) {
    case FIELD_BOOL:
        return get_bool(L, v, what, dst);
    case FIELD_U32:
        return get_u32(L, v, what, 0, dst);
    case FIELD_U32_POS:
        return get_u32(L, v, what, 1, dst);
    case FIELD_COUNT:
        if (get_uint(L, v, what, 1, SIZE_MAX, &u) < 0)
            return -1;
        *(size_t *)dst = (size_t)u;
        return 0;
    case FIELD_DURATION:
        return get_duration(L, v, what, dst);
    case FIELD_SIZE:
        return get_size(L, v, what, dst);
    case FIELD_FRACTION:
        return get_fraction(L, v, what, dst);
    case FIELD_STRING:
        if (is_null(v)) {
            free(*(char **)dst);
            *(char **)dst = NULL;
            return 0;
        }
        return get_string(L, v, what, dst);
    }
    return -1;
}

static int load_fields(loader_t *L, const yaml_node_t *n, const char *section, const field_t *fields, size_t nfields,
                       void *base, other_key_fn other, void *other_ctx)
{
    if (check_mapping(L, n, section) < 0)
        return -1;
    for PAIRS (n, p) {
        const yaml_node_t *k = node(L, p->key), *v = node(L, p->value);
        const char *key = sval(k);
        char what[160];
        snprintf(what, sizeof(what), "%.100s.%.40s", section, key);
        const field_t *f = NULL;
        for (size_t i = 0; i < nfields && f == NULL; i++)
            if (!strcmp(fields[i].key, key))
                f = &fields[i];
        int rc = f ? get_field(L, f, v, what, base) : other ? other(L, key, v, what, other_ctx) : 1;
        if (rc == 1)
            return unknown_key(L, k, section);
        if (rc < 0)
            return -1;
    }
    return 0;
}
#define NFIELDS(t) (sizeof(t) / sizeof((t)[0]))

static int load_transcode(loader_t *L, const yaml_node_t *n, transcode_options_t *o)
{
    static const field_t fields[] = {
        {"emit_defaults", FIELD_BOOL, offsetof(transcode_options_t, emit_defaults)},
        {"ignore_unknown_fields", FIELD_BOOL, offsetof(transcode_options_t, ignore_unknown_fields)},
        {"use_proto_names", FIELD_BOOL, offsetof(transcode_options_t, use_proto_names)},
        {"enums_as_ints", FIELD_BOOL, offsetof(transcode_options_t, enums_as_ints)},
    };
    return load_fields(L, n, "transcode", fields, NFIELDS(fields), o, NULL, NULL);
}

static int load_limits(loader_t *L, const yaml_node_t *n, transcode_options_t *o)
{
    static const field_t fields[] = {
        {"max_body", FIELD_SIZE, offsetof(transcode_options_t, max_body)},
        {"max_string", FIELD_SIZE, offsetof(transcode_options_t, max_string)},
        {"max_output", FIELD_SIZE, offsetof(transcode_options_t, max_output)},
        {"max_depth", FIELD_U32_POS, offsetof(transcode_options_t, max_depth)},
        {"max_repeated", FIELD_COUNT, offsetof(transcode_options_t, max_repeated)},
    };
    return load_fields(L, n, "limits", fields, NFIELDS(fields), o, NULL, NULL);
}

static int load_health(loader_t *L, const yaml_node_t *n, const char *section, config_health_t *h)
{
    static const field_t fields[] = {
        {"interval_ms", FIELD_DURATION, offsetof(config_health_t, interval_ms)},
        {"timeout_ms", FIELD_DURATION, offsetof(config_health_t, timeout_ms)},
        {"healthy_threshold", FIELD_U32_POS, offsetof(config_health_t, healthy_threshold)},
        {"unhealthy_threshold", FIELD_U32_POS, offsetof(config_health_t, unhealthy_threshold)},
    };
    return load_fields(L, n, section, fields, NFIELDS(fields), h, NULL, NULL);
}

static int load_targets(loader_t *L, const yaml_node_t *n, const char *section, config_cluster_t *cl)
{
    char what[128], *host;
    uint16_t port;
    cluster_clear_targets(cl);
    if (n->type != YAML_SEQUENCE_NODE) {
        snprintf(what, sizeof(what), "%.64s.targets", section);
        if (get_hostport(L, n, what, false, &host, &port) < 0)
            return -1;
        cluster_add_target(cl, host, port);
        free(host);
        return 0;
    }
    size_t i = 0;
    for ITEMS (n, it) {
        snprintf(what, sizeof(what), "%.64s.targets[%zu]", section, i++);
        if (get_hostport(L, node(L, *it), what, false, &host, &port) < 0)
            return -1;
        cluster_add_target(cl, host, port);
        free(host);
    }
    return 0;
}

/* versions: [{name, targets, weight}] */
static int load_versions(loader_t *L, const yaml_node_t *n, const char *section, config_cluster_t *cl)
{
    char what[160];
    snprintf(what, sizeof(what), "%.64s.versions", section);
    if (n->type != YAML_SEQUENCE_NODE)
        return expected(L, n, what, "a list of {name, targets, weight}");
    cluster_clear_versions(cl);
    size_t i = 0;
    for ITEMS (n, it) {
        const yaml_node_t *vn = node(L, *it);
        char vsec[160];
        snprintf(vsec, sizeof(vsec), "%.64s.versions[%zu]", section, i++);
        if (check_mapping(L, vn, vsec) < 0)
            return -1;
        char *name = NULL;
        const yaml_node_t *targets = NULL, *weight = NULL;
        for PAIRS (vn, p) {
            const yaml_node_t *k = node(L, p->key), *v = node(L, p->value);
            const char *key = sval(k);
            snprintf(what, sizeof(what), "%.100s.%.40s", vsec, key);
            if (!strcmp(key, "name")) {
                if (get_string(L, v, what, &name) < 0)
                    goto fail;
            } else if (!strcmp(key, "targets"))
                targets = v;
            else if (!strcmp(key, "weight"))
                weight = v;
            else {
                free(name);
                return unknown_key(L, k, vsec);
            }
        }
        if (name == NULL) {
            fail(L, vn, "%s: missing \"name\"", vsec);
            goto fail;
        }
        for (size_t j = 0; j < cl->nversions; j++) {
            if (strcmp(cl->versions[j].name, name) == 0) {
                fail(L, vn, "%s: duplicate version name \"%s\"", vsec, name);
                goto fail;
            }
        }
        config_version_t *v = version_get(cl, name, strlen(name));
        free(name);
        name = NULL;
        if (weight != NULL) {
            snprintf(what, sizeof(what), "%.100s.weight", vsec);
            if (get_u32(L, weight, what, 0, &v->weight) < 0)
                return -1;
        }
        if (targets == NULL)
            return fail(L, vn, "%s: no targets", vsec);
        /* the same reader as a cluster's targets, into a scratch cluster */
        config_cluster_t scratch = {0};
        if (load_targets(L, targets, vsec, &scratch) < 0) {
            cluster_clear_targets(&scratch);
            return -1;
        }
        v->targets = scratch.targets;
        v->ntargets = scratch.ntargets;
        continue;
    fail:
        free(name);
        return -1;
    }
    return 0;
}

static int load_sticky(loader_t *L, const yaml_node_t *n, const char *section, config_sticky_t *st)
{
    static const field_t fields[] = {
        {"header", FIELD_STRING, offsetof(config_sticky_t, header)},
        {"cookie", FIELD_STRING, offsetof(config_sticky_t, cookie)},
        {"hash_header", FIELD_STRING, offsetof(config_sticky_t, hash_header)},
    };
    if (load_fields(L, n, section, fields, NFIELDS(fields), st, NULL, NULL) < 0)
        return -1;
    if (st->cookie && st->hash_header)
        return fail(L, n, "%s: cookie and hash_header exclude each other", section);
    /* header names are compared as requests carry them: lower case */
    for (char *h = st->header; h && *h; h++)
        *h = (char)tolower((unsigned char)*h);
    for (char *h = st->hash_header; h && *h; h++)
        *h = (char)tolower((unsigned char)*h);
    return 0;
}

/* steps: rising percentages ending in 100 */
static int load_steps(loader_t *L, const char *key, const yaml_node_t *v, const char *what, void *ctx)
{
    config_rollout_t *r = ctx;
    if (strcmp(key, "steps") != 0)
        return 1;
    if (v->type != YAML_SEQUENCE_NODE)
        return expected(L, v, what, "a list of percentages ending in 100");
    size_t ns = 0;
    uint32_t prev = 0;
    for ITEMS (v, it) {
        uint32_t step;
        if (ns == CONFIG_MAX_STEPS)
            return fail(L, v, "%s: at most %d steps", what, CONFIG_MAX_STEPS);
        if (get_u32(L, node(L, *it), what, 1, &step) < 0)
            return -1;
        if (step > 100 || step <= prev)
            return fail(L, node(L, *it), "%s: steps must rise within 1..100", what);
        r->steps[ns++] = prev = step;
    }
    if (ns == 0 || prev != 100)
        return fail(L, v, "%s: the last step must be 100", what);
    r->nsteps = ns;
    return 0;
}

static int load_rollout(loader_t *L, const yaml_node_t *n, const char *section, config_rollout_t *r)
{
    static const field_t fields[] = {
        {"hold_ms", FIELD_DURATION, offsetof(config_rollout_t, hold_ms)},
        {"window_ms", FIELD_DURATION, offsetof(config_rollout_t, window_ms)},
        {"interval_ms", FIELD_DURATION, offsetof(config_rollout_t, interval_ms)},
        {"min_requests", FIELD_U32_POS, offsetof(config_rollout_t, min_requests)},
        {"max_error_rate", FIELD_FRACTION, offsetof(config_rollout_t, max_error_rate)},
        {"max_p95_ms", FIELD_DURATION, offsetof(config_rollout_t, max_p95_ms)},
        {"max_p99_ms", FIELD_DURATION, offsetof(config_rollout_t, max_p99_ms)},
        {"max_health_failures", FIELD_U32, offsetof(config_rollout_t, max_health_failures)},
    };
    if (load_fields(L, n, section, fields, NFIELDS(fields), r, load_steps, r) < 0)
        return -1;
    if (r->window_ms == 0 || r->interval_ms == 0)
        return fail(L, n, "%s: window_ms and interval_ms must be greater than 0", section);
    return 0;
}

/* admin: off | {listen: "HOST:PORT", token: "..."} */
static int admin_listen(loader_t *L, const char *key, const yaml_node_t *v, const char *what, void *ctx)
{
    config_t *c = ctx;
    if (strcmp(key, "listen") != 0)
        return 1;
    char *host;
    uint16_t port;
    if (get_hostport(L, v, what, true, &host, &port) < 0)
        return -1;
    free(c->admin_host);
    c->admin_host = host;
    c->admin_port = port;
    c->admin_explicit = 1;
    return 0;
}

static int load_admin(loader_t *L, const yaml_node_t *n, config_t *c)
{
    if (n->type == YAML_SCALAR_NODE && (!strcmp(sval(n), "off") || is_null(n))) {
        free(c->admin_host);
        c->admin_host = NULL;
        return 0;
    }
    static const field_t fields[] = {{"token", FIELD_STRING, offsetof(config_t, admin_token)}};
    return load_fields(L, n, "admin", fields, NFIELDS(fields), c, admin_listen, c);
}

/* One entry of clusters:, into cl (already holding the defaults). */
/* The keys of a cluster that are not plain values. */
typedef struct cluster_ctx {
    config_cluster_t *cl;
    const char *section;
    const yaml_node_t **name_node;
} cluster_ctx_t;

static int cluster_other(loader_t *L, const char *key, const yaml_node_t *v, const char *what, void *ctx)
{
    cluster_ctx_t *x = ctx;
    config_cluster_t *cl = x->cl;
    if (!strcmp(key, "name")) {
        *x->name_node = v;
        return get_string(L, v, what, &cl->name);
    }
    if (!strcmp(key, "targets"))
        return load_targets(L, v, x->section, cl);
    if (!strcmp(key, "health"))
        return load_health(L, v, what, &cl->health);
    if (!strcmp(key, "versions"))
        return load_versions(L, v, x->section, cl);
    if (!strcmp(key, "sticky"))
        return load_sticky(L, v, what, &cl->sticky);
    if (!strcmp(key, "rollout"))
        return load_rollout(L, v, what, &cl->rollout);
    if (!strcmp(key, "json_profile"))
        return get_profile(L, v, what, &cl->json_profile);
    return 1;
}

/* One entry of clusters:, into cl (already holding the defaults). */
static int load_cluster(loader_t *L, const yaml_node_t *n, size_t index, config_cluster_t *cl,
                        const yaml_node_t **name_node)
{
    /* the durations live in the cluster itself, the rest go through ctx */
    static const field_t fields[] = {
        {"timeout_ms", FIELD_DURATION, offsetof(config_cluster_t, timeout_ms)},
        {"connect_timeout_ms", FIELD_DURATION, offsetof(config_cluster_t, connect_timeout_ms)},
        {"keepalive_ms", FIELD_DURATION, offsetof(config_cluster_t, keepalive_ms)},
        {"resolve_interval_ms", FIELD_DURATION, offsetof(config_cluster_t, resolve_interval_ms)},
    };
    char section[48];
    snprintf(section, sizeof(section), "clusters[%zu]", index);
    cluster_ctx_t ctx = {cl, section, name_node};
    if (load_fields(L, n, section, fields, NFIELDS(fields), cl, cluster_other, &ctx) < 0)
        return -1;
    if (cl->name == NULL)
        return fail(L, n, "%s: missing \"name\"", section);
    if (cl->ntargets > 0 && cl->nversions > 0)
        return fail(L, n, "cluster \"%s\": give targets or versions, not both", cl->name);
    if (cl->ntargets == 0 && cl->nversions == 0)
        return fail(L, n, "cluster \"%s\": no targets", cl->name);
    return 0;
}

/* clusters: replaces the list as a whole. */
static int load_clusters(loader_t *L, const yaml_node_t *n, config_t *c)
{
    if (n->type != YAML_SEQUENCE_NODE)
        return expected(L, n, "clusters", "a list");
    if (n->data.sequence.items.start == n->data.sequence.items.top)
        return fail(L, n, "clusters: expected at least one cluster");
    config_t tmp = {0};
    int rc = 0;
    for ITEMS (n, it) {
        tmp.clusters = xrealloc(tmp.clusters, tmp.nclusters + 1, sizeof(*tmp.clusters));
        config_cluster_t *cl = &tmp.clusters[tmp.nclusters];
        cluster_init(cl, NULL);
        tmp.nclusters++;
        const yaml_node_t *name_node = NULL;
        if ((rc = load_cluster(L, node(L, *it), tmp.nclusters - 1, cl, &name_node)) < 0)
            break;
        for (size_t j = 0; j + 1 < tmp.nclusters; j++) {
            if (strcmp(tmp.clusters[j].name, cl->name) == 0) {
                rc = fail(L, name_node, "duplicate cluster name \"%s\"", cl->name);
                break;
            }
        }
        if (rc < 0)
            break;
    }
    if (rc < 0) {
        clusters_free(tmp.clusters, tmp.nclusters);
        return -1;
    }
    clusters_free(c->clusters, c->nclusters);
    c->clusters = tmp.clusters;
    c->nclusters = tmp.nclusters;
    return 0;
}

/* services: replaces the table; clusters are checked once the file is read. */
static int load_services(loader_t *L, const yaml_node_t *n, config_t *c)
{
    if (is_null(n)) {
        services_free(c->services, c->nservices);
        c->services = NULL;
        c->nservices = 0;
        return 0;
    }
    if (check_mapping(L, n, "services") < 0)
        return -1;
    config_t tmp = {0};
    for PAIRS (n, p) {
        const yaml_node_t *k = node(L, p->key), *v = node(L, p->value);
        char what[300];
        snprintf(what, sizeof(what), "services.%.200s", sval(k));
        char *cluster = NULL;
        if (get_string(L, v, what, &cluster) < 0) {
            services_free(tmp.services, tmp.nservices);
            return -1;
        }
        tmp.services = xrealloc(tmp.services, tmp.nservices + 1, sizeof(*tmp.services));
        tmp.services[tmp.nservices++] = (config_service_t){xstrdup(sval(k)), cluster};
    }
    services_free(c->services, c->nservices);
    c->services = tmp.services;
    c->nservices = tmp.nservices;
    return 0;
}

static bool method_name_ok(const char *m)
{
    const char *dot = strrchr(m, '.');
    if (dot == NULL || dot == m || dot[1] == '\0')
        return false;
    for (; *m; m++)
        if (!host_char_ok(*m))
            return false;
    return true;
}

/* routes: merge into c by method, key by key; a method twice in one file is a mistake. */
static int load_routes(loader_t *L, const yaml_node_t *n, config_t *c)
{
    if (is_null(n))
        return 0;
    if (n->type != YAML_SEQUENCE_NODE)
        return expected(L, n, "routes", "a list");
    size_t index = 0;
    for ITEMS (n, it) {
        const yaml_node_t *r = node(L, *it);
        char section[48];
        snprintf(section, sizeof(section), "routes[%zu]", index++);
        if (check_mapping(L, r, section) < 0)
            return -1;
        const yaml_node_t *method = NULL, *timeout = NULL, *status = NULL, *profile = NULL;
        for PAIRS (r, p) {
            const yaml_node_t *k = node(L, p->key), *v = node(L, p->value);
            if (!strcmp(sval(k), "method"))
                method = v;
            else if (!strcmp(sval(k), "timeout_ms"))
                timeout = v;
            else if (!strcmp(sval(k), "success_status"))
                status = v;
            else if (!strcmp(sval(k), "json_profile"))
                profile = v;
            else
                return unknown_key(L, k, section);
        }
        char what[96];
        if (method == NULL)
            return fail(L, r, "%s: missing \"method\"", section);
        snprintf(what, sizeof(what), "%s.method", section);
        if (scalar(L, method, what, "a method name") < 0)
            return -1;
        if (!method_name_ok(sval(method)))
            return fail(L, method, "%s: expected a full method name like \"package.Service.Method\", got \"%s\"",
                        what, sval(method));
        for (yaml_node_item_t *pit = n->data.sequence.items.start; pit < it; pit++) {
            /* Earlier entries already passed the checks above: a mapping with a method. */
            const yaml_node_t *pr = node(L, *pit);
            for PAIRS (pr, p) {
                if (!strcmp(sval(node(L, p->key)), "method") && !strcmp(sval(node(L, p->value)), sval(method)))
                    return fail(L, method, "duplicate route for method \"%s\" (first at line %zu)", sval(method),
                                node(L, p->value)->start_mark.line + 1);
            }
        }
        uint32_t timeout_ms = 0, success = 0;
        if (timeout != NULL) {
            snprintf(what, sizeof(what), "%s.timeout_ms", section);
            if (get_duration(L, timeout, what, &timeout_ms) < 0)
                return -1;
        }
        if (status != NULL && !is_null(status)) {
            snprintf(what, sizeof(what), "%s.success_status", section);
            if (scalar(L, status, what, "an HTTP status 200..299") < 0)
                return -1;
            uint64_t s;
            if (!parse_u64(sval(status), status->data.scalar.length, &s))
                return expected(L, status, what, "an HTTP status 200..299");
            if (s < 200 || s > 299)
                return fail(L, status, "%s: %s is not a success status (200..299)", what, sval(status));
            success = (uint32_t)s;
        }
        char *profile_name = NULL;
        if (profile != NULL) {
            snprintf(what, sizeof(what), "%s.json_profile", section);
            if (get_profile(L, profile, what, &profile_name) < 0)
                return -1;
        }
        config_route_t *route = route_get(c, sval(method));
        if (profile != NULL) {
            free(route->json_profile);
            route->json_profile = profile_name;
        }
        if (timeout != NULL)
            route->timeout_ms = timeout_ms;
        if (status != NULL)
            route->success_status = (int)success;
    }
    return 0;
}

static int load_root(loader_t *L, const yaml_node_t *root, config_t *c)
{
    if (root == NULL || is_null(root))
        return 0; /* empty, or only comments: nothing to change */
    if (check_mapping(L, root, "top level") < 0)
        return -1;
    const yaml_node_t *services = NULL;
    for PAIRS (root, p) {
        const yaml_node_t *k = node(L, p->key), *v = node(L, p->value);
        const char *key = sval(k);
        int rc;
        if (!strcmp(key, "listen"))
            rc = load_listen(L, v, c);
        else if (!strcmp(key, "workers")) {
            uint64_t w;
            if ((rc = get_uint(L, v, "workers", 0, CONFIG_MAX_WORKERS, &w)) == 0)
                c->workers = (unsigned)w;
        } else if (!strcmp(key, "descriptors")) {
            if (is_null(v)) {
                free(c->descriptors);
                c->descriptors = NULL;
                rc = 0;
            } else
                rc = get_string(L, v, "descriptors", &c->descriptors);
        } else if (!strcmp(key, "access_log"))
            rc = get_string(L, v, "access_log", &c->access_log);
        else if (!strcmp(key, "drain_timeout_ms"))
            rc = get_duration(L, v, "drain_timeout_ms", &c->drain_timeout_ms);
        else if (!strcmp(key, "drain_grace_ms"))
            rc = get_duration(L, v, "drain_grace_ms", &c->drain_grace_ms);
        else if (!strcmp(key, "http1")) {
            if (scalar(L, v, "http1", "uring or h2o") < 0)
                rc = -1;
            else if (parse_http1(sval(v), &c->http1) != 0)
                rc = expected(L, v, "http1", "uring or h2o");
            else
                rc = 0;
        }
        else if (!strcmp(key, "json_profile"))
            rc = get_profile(L, v, "json_profile", &c->json_profile);
        else if (!strcmp(key, "transcode"))
            rc = load_transcode(L, v, &c->transcode);
        else if (!strcmp(key, "limits"))
            rc = load_limits(L, v, &c->transcode);
        else if (!strcmp(key, "clusters"))
            rc = load_clusters(L, v, c);
        else if (!strcmp(key, "services")) {
            rc = load_services(L, v, c);
            services = v;
        } else if (!strcmp(key, "routes"))
            rc = load_routes(L, v, c);
        else if (!strcmp(key, "admin"))
            rc = load_admin(L, v, c);
        else
            return unknown_key(L, k, NULL);
        if (rc < 0)
            return -1;
    }
    /* After the loop: the file may list clusters after services. */
    if (services != NULL && services->type == YAML_MAPPING_NODE) {
        for PAIRS (services, p) {
            const yaml_node_t *v = node(L, p->value);
            if (cluster_find(c, sval(v)) == NULL)
                return fail(L, v, "services.%s: no cluster named \"%s\"", sval(node(L, p->key)), sval(v));
        }
    }
    return 0;
}

/* The whole file in memory: a reader error then comes with an offset we can turn into a line. */
static char *read_file(const char *path, size_t *len, char *err, size_t errlen)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL) {
        errf(err, errlen, "%s: %s", path, strerror(errno));
        return NULL;
    }
    size_t cap = 4096, n = 0;
    char *data = xcalloc(cap, 1);
    for (;;) {
        n += fread(data + n, 1, cap - n, f);
        if (n < cap || cap >= CONFIG_MAX_FILE)
            break;
        cap *= 2;
        data = xrealloc(data, cap, 1);
    }
    int bad = ferror(f) ? errno : 0;
    fclose(f);
    if (bad || n >= CONFIG_MAX_FILE) {
        errf(err, errlen, "%s: %s", path, bad ? strerror(bad) : "file too large for a config");
        free(data);
        return NULL;
    }
    *len = n;
    return data;
}

static void yaml_error(const yaml_parser_t *p, const char *path, const char *data, char *err, size_t errlen)
{
    size_t line = p->problem_mark.line + 1;
    if (p->error == YAML_READER_ERROR) { /* no mark, only a byte offset */
        line = 1;
        for (size_t i = 0; i < p->problem_offset; i++)
            line += data[i] == '\n';
    }
    const char *problem = p->problem ? p->problem : "YAML syntax error";
    if (p->context != NULL)
        errf(err, errlen, "%s:%zu: %s (%s)", path, line, problem, p->context);
    else
        errf(err, errlen, "%s:%zu: %s", path, line, problem);
}

int config_load_file(config_t *c, const char *path, char *err, size_t errlen)
{
    size_t len;
    char *data = read_file(path, &len, err, errlen);
    if (data == NULL)
        return -1;
    yaml_parser_t parser;
    if (!yaml_parser_initialize(&parser))
        oom();
    yaml_parser_set_input_string(&parser, (const unsigned char *)data, len);
    loader_t L = {.file = path, .err = err, .errlen = errlen};
    int rc = -1;
    if (!yaml_parser_load(&parser, &L.doc)) {
        yaml_error(&parser, path, data, err, errlen);
        goto out;
    }
    config_t n;
    config_copy(&n, c);
    rc = load_root(&L, yaml_document_get_root_node(&L.doc), &n);
    yaml_document_delete(&L.doc);
    if (rc == 0) {
        /* A second document would be silently ignored: say so instead. */
        if (!yaml_parser_load(&parser, &L.doc)) {
            yaml_error(&parser, path, data, err, errlen);
            rc = -1;
        } else {
            yaml_node_t *second = yaml_document_get_root_node(&L.doc);
            if (second != NULL)
                rc = fail(&L, second, "only one YAML document is allowed");
            yaml_document_delete(&L.doc);
        }
    }
    if (rc == 0) {
        set_str(&n.config_path, path);
        config_free(c);
        *c = n;
    } else {
        config_free(&n);
    }
out:
    yaml_parser_delete(&parser);
    free(data);
    return rc;
}

/* ---- the command line ------------------------------------------------------ */

typedef enum {
    F_CONFIG,
    F_LISTEN,
    F_UPSTREAM,
    F_DESCRIPTORS,
    F_WORKERS,
    F_ACCESS_LOG,
    F_CHECK,
    F_HELP,
    F_UPSTREAM_VERSION,
    F_ADMIN,
    F_ADMIN_TOKEN,
    F_HTTP1,
    F_JSON_PROFILE,
} flag_id_t;

typedef struct {
    const char *name;
    flag_id_t id;
    bool has_arg;
} flag_t;

/* In flag_id_t order: next_flag takes "-h" as flags[F_HELP]. */
static const flag_t flags[] = {
    {"config", F_CONFIG, true},         {"listen", F_LISTEN, true},         {"upstream", F_UPSTREAM, true},
    {"descriptors", F_DESCRIPTORS, true}, {"workers", F_WORKERS, true},     {"access-log", F_ACCESS_LOG, true},
    {"check-config", F_CHECK, false},   {"help", F_HELP, false},           {"upstream-version", F_UPSTREAM_VERSION, true},
    {"admin", F_ADMIN, true},           {"admin-token", F_ADMIN_TOKEN, true},
    {"http1", F_HTTP1, true},           {"json-profile", F_JSON_PROFILE, true},
};

/*
 * One flag from argv at *i, advancing *i. A hand loop rather than getopt:
 * it keeps no state between calls and never permutes argv, and a value that
 * looks like a flag ("--listen --workers") is a missing value, not a value.
 */
static int next_flag(int argc, char **argv, int *i, const flag_t **flag, const char **val, char *err, size_t errlen)
{
    const char *arg = argv[(*i)++];
    if (strcmp(arg, "-h") == 0) {
        *flag = &flags[F_HELP];
        *val = NULL;
        return 0;
    }
    if (strncmp(arg, "--", 2) != 0 || arg[2] == '\0') {
        if (arg[0] == '-' && arg[1] != '\0')
            errf(err, errlen, "unknown flag %s (try --help)", arg);
        else
            errf(err, errlen, "unexpected argument \"%s\" (try --help)", arg);
        return -1;
    }
    const char *name = arg + 2, *eq = strchr(name, '=');
    size_t nlen = eq ? (size_t)(eq - name) : strlen(name);
    *flag = NULL;
    for (size_t k = 0; k < sizeof(flags) / sizeof(flags[0]); k++)
        if (strlen(flags[k].name) == nlen && strncmp(flags[k].name, name, nlen) == 0)
            *flag = &flags[k];
    if (*flag == NULL) {
        errf(err, errlen, "unknown flag --%.*s (try --help)", (int)nlen, name);
        return -1;
    }
    if (!(*flag)->has_arg) {
        if (eq != NULL) {
            errf(err, errlen, "--%s takes no argument", (*flag)->name);
            return -1;
        }
        *val = NULL;
        return 0;
    }
    if (eq != NULL) {
        *val = eq + 1;
    } else if (*i < argc && strncmp(argv[*i], "--", 2) != 0) {
        *val = argv[(*i)++];
    } else {
        errf(err, errlen, "--%s: missing argument", (*flag)->name);
        return -1;
    }
    if (**val == '\0') {
        errf(err, errlen, "--%s: empty argument", (*flag)->name);
        return -1;
    }
    return 0;
}

/* The default cluster, for --upstream and --upstream-version: the first of
 * those flags replaces what the file said of it (targets, versions, and the
 * service map, which would point elsewhere), the later ones add to it. */
static config_cluster_t *flag_cluster(config_t *c, bool *upstream_seen)
{
    config_cluster_t *cl = cluster_find(c, "default");
    if (cl == NULL) {
        c->clusters = xrealloc(c->clusters, c->nclusters + 1, sizeof(*c->clusters));
        cl = &c->clusters[c->nclusters++];
        cluster_init(cl, "default");
    }
    if (!*upstream_seen) {
        cluster_clear_targets(cl);
        cluster_clear_versions(cl);
        services_free(c->services, c->nservices);
        c->services = NULL;
        c->nservices = 0;
        *upstream_seen = true;
    }
    return cl;
}

static int apply_flag(config_t *c, const flag_t *flag, const char *val, bool *listen_seen, bool *upstream_seen,
                      char *err, size_t errlen)
{
    char *host;
    uint16_t port;
    const char *why;
    uint64_t w;
    switch (flag->id) {
    case F_CONFIG:
    case F_HELP:
        return 0; /* done in the first pass */
    case F_CHECK:
        c->check_only = 1;
        return 0;
    case F_DESCRIPTORS:
        set_str(&c->descriptors, val);
        return 0;
    case F_ACCESS_LOG:
        set_str(&c->access_log, val);
        return 0;
    case F_JSON_PROFILE:
        if (json_profile_find(val) == NULL) {
            errf(err, errlen, "--json-profile: expected one of %s, got \"%s\"", json_profile_names(), val);
            return -1;
        }
        free(c->json_profile);
        c->json_profile = xstrdup(val);
        return 0;
    case F_HTTP1:
        if (parse_http1(val, &c->http1) != 0) {
            errf(err, errlen, "--http1: expected uring or h2o, got \"%s\"", val);
            return -1;
        }
        return 0;
    case F_WORKERS:
        if (!parse_u64(val, strlen(val), &w) || w > CONFIG_MAX_WORKERS) {
            errf(err, errlen, "--workers: expected an integer 0..%d, got \"%s\"", CONFIG_MAX_WORKERS, val);
            return -1;
        }
        c->workers = (unsigned)w;
        return 0;
    case F_LISTEN:
        if ((why = parse_hostport(val, true, &host, &port)) != NULL) {
            errf(err, errlen, "--listen: bad address \"%s\": %s", val, why);
            return -1;
        }
        /* The first --listen replaces the file's listeners; more add to it. */
        if (!*listen_seen) {
            listeners_free(c->listeners, c->nlisteners);
            c->listeners = NULL;
            c->nlisteners = 0;
            *listen_seen = true;
        }
        add_listener(c, host, port);
        free(host);
        return 0;
    case F_UPSTREAM: {
        if ((why = parse_hostport(val, false, &host, &port)) != NULL) {
            errf(err, errlen, "--upstream: bad address \"%s\": %s", val, why);
            return -1;
        }
        config_cluster_t *cl = flag_cluster(c, upstream_seen);
        cluster_clear_versions(cl);
        cluster_add_target(cl, host, port);
        free(host);
        return 0;
    }
    case F_UPSTREAM_VERSION: {
        /* NAME=HOST:PORT[,WEIGHT] */
        const char *eq = strchr(val, '=');
        if (eq == NULL || eq == val) {
            errf(err, errlen, "--upstream-version: expected NAME=HOST:PORT[,WEIGHT], got \"%s\"", val);
            return -1;
        }
        for (const char *q = val; q < eq; q++) {
            if (!isalnum((unsigned char)*q) && *q != '-' && *q != '_' && *q != '.') {
                errf(err, errlen, "--upstream-version: bad version name \"%.*s\" (letters, digits, - _ .)",
                     (int)(eq - val), val);
                return -1;
            }
        }
        const char *comma = strchr(eq + 1, ',');
        char addr[300];
        snprintf(addr, sizeof(addr), "%.*s", (int)(comma ? (size_t)(comma - eq - 1) : strlen(eq + 1)), eq + 1);
        if ((why = parse_hostport(addr, false, &host, &port)) != NULL) {
            errf(err, errlen, "--upstream-version: bad address \"%s\": %s", addr, why);
            return -1;
        }
        uint64_t weight = 0;
        if (comma && (!parse_u64(comma + 1, strlen(comma + 1), &weight) || weight > 1000000)) {
            errf(err, errlen, "--upstream-version: bad weight \"%s\" (an integer 0..1000000)", comma + 1);
            free(host);
            return -1;
        }
        config_cluster_t *cl = flag_cluster(c, upstream_seen);
        if (cl->ntargets > 0) {
            errf(err, errlen, "--upstream-version: cannot be mixed with --upstream");
            free(host);
            return -1;
        }
        config_version_t *v = version_get(cl, val, (size_t)(eq - val));
        if (comma)
            v->weight = (uint32_t)weight;
        version_add_target(v, host, port);
        free(host);
        return 0;
    }
    case F_ADMIN:
        if (strcmp(val, "off") == 0) {
            free(c->admin_host);
            c->admin_host = NULL;
            return 0;
        }
        if ((why = parse_hostport(val, true, &host, &port)) != NULL) {
            errf(err, errlen, "--admin: bad address \"%s\": %s (or \"off\")", val, why);
            return -1;
        }
        free(c->admin_host);
        c->admin_host = host;
        c->admin_port = port;
        c->admin_explicit = 1;
        return 0;
    case F_ADMIN_TOKEN:
        set_str(&c->admin_token, val);
        return 0;
    }
    return 0;
}

int config_parse_args(config_t *c, int argc, char **argv, char *err, size_t errlen)
{
    const flag_t *flag;
    const char *val;
    /* Pass 1: syntax, --help, and the config files, whatever their place. */
    for (int i = 1; i < argc;) {
        if (next_flag(argc, argv, &i, &flag, &val, err, errlen) < 0)
            return -1;
        if (flag->id == F_HELP) {
            config_print_help(stdout);
            return 1;
        }
    }
    config_t n;
    config_copy(&n, c);
    int rc = 0;
    for (int i = 1; i < argc && rc == 0;) {
        (void)next_flag(argc, argv, &i, &flag, &val, err, errlen); /* pass 1 checked it */
        if (flag->id == F_CONFIG)
            rc = config_load_file(&n, val, err, errlen);
    }
    /* Pass 2: every other flag, in order, over the files. */
    bool listen_seen = false, upstream_seen = false;
    for (int i = 1; i < argc && rc == 0;) {
        (void)next_flag(argc, argv, &i, &flag, &val, err, errlen);
        rc = apply_flag(&n, flag, val, &listen_seen, &upstream_seen, err, errlen);
    }
    if (rc < 0) {
        config_free(&n);
        return -1;
    }
    config_free(c);
    *c = n;
    return 0;
}

/* ---- checks and lookups ------------------------------------------------------- */

int config_validate(const config_t *c, char *err, size_t errlen)
{
    if (c->nlisteners == 0) {
        errf(err, errlen, "listen: no listener");
        return -1;
    }
    for (size_t i = 0; i < c->nlisteners; i++) {
        if (c->listeners[i].host == NULL || c->listeners[i].host[0] == '\0') {
            errf(err, errlen, "listen[%zu]: no host", i);
            return -1;
        }
    }
    if (c->workers > CONFIG_MAX_WORKERS) {
        errf(err, errlen, "workers: %u is out of range 0..%d", c->workers, CONFIG_MAX_WORKERS);
        return -1;
    }
    if (c->access_log == NULL || c->access_log[0] == '\0') {
        errf(err, errlen, "access_log: empty");
        return -1;
    }
    const transcode_options_t *o = &c->transcode;
    const char *zero = o->max_depth == 0      ? "max_depth"
                       : o->max_body == 0     ? "max_body"
                       : o->max_string == 0   ? "max_string"
                       : o->max_repeated == 0 ? "max_repeated"
                       : o->max_output == 0   ? "max_output"
                                              : NULL;
    if (zero != NULL) {
        errf(err, errlen, "limits.%s: must be greater than 0", zero);
        return -1;
    }
    bool have_default = false;
    for (size_t i = 0; i < c->nclusters; i++) {
        const config_cluster_t *cl = &c->clusters[i];
        if (cl->name == NULL || cl->name[0] == '\0') {
            errf(err, errlen, "clusters[%zu]: no name", i);
            return -1;
        }
        for (size_t j = 0; j < i; j++) {
            if (strcmp(c->clusters[j].name, cl->name) == 0) {
                errf(err, errlen, "duplicate cluster name \"%s\"", cl->name);
                return -1;
            }
        }
        if (cl->ntargets == 0 && cl->nversions == 0) {
            errf(err, errlen, "cluster \"%s\": no targets", cl->name);
            return -1;
        }
        if (cl->ntargets > 0 && cl->nversions > 0) {
            errf(err, errlen, "cluster \"%s\": give targets or versions, not both", cl->name);
            return -1;
        }
        for (size_t j = 0; j < cl->ntargets; j++) {
            if (cl->targets[j].host == NULL || cl->targets[j].host[0] == '\0' || cl->targets[j].port == 0) {
                errf(err, errlen, "cluster \"%s\": target %zu needs a host and a port 1..65535", cl->name, j);
                return -1;
            }
        }
        uint64_t total_weight = cl->nversions ? 0 : 1;
        for (size_t j = 0; j < cl->nversions; j++) {
            const config_version_t *v = &cl->versions[j];
            if (v->ntargets == 0) {
                errf(err, errlen, "cluster \"%s\": version \"%s\" has no targets", cl->name, v->name);
                return -1;
            }
            for (size_t k = 0; k < j; k++) {
                if (strcmp(cl->versions[k].name, v->name) == 0) {
                    errf(err, errlen, "cluster \"%s\": duplicate version \"%s\"", cl->name, v->name);
                    return -1;
                }
            }
            total_weight += v->weight;
        }
        if (total_weight == 0) {
            errf(err, errlen, "cluster \"%s\": every version has weight 0", cl->name);
            return -1;
        }
        if (cl->nversions > CONFIG_MAX_VERSIONS) {
            errf(err, errlen, "cluster \"%s\": at most %d versions", cl->name, CONFIG_MAX_VERSIONS);
            return -1;
        }
        have_default |= strcmp(cl->name, "default") == 0;
    }
    if (c->drain_grace_ms >= c->drain_timeout_ms) {
        errf(err, errlen, "drain_grace_ms (%u) must be shorter than drain_timeout_ms (%u)", c->drain_grace_ms,
             c->drain_timeout_ms);
        return -1;
    }
    if (c->admin_host != NULL && !config_host_is_loopback(c->admin_host) &&
        (c->admin_token == NULL || c->admin_token[0] == '\0')) {
        errf(err, errlen,
             "admin: %s is not loopback, so the admin API needs a token (--admin-token, admin.token or "
             "AURIGRAPH_ADMIN_TOKEN)",
             c->admin_host);
        return -1;
    }
    for (size_t i = 0; i < c->nservices; i++) {
        const config_service_t *s = &c->services[i];
        bool found = false;
        for (size_t j = 0; j < c->nclusters && !found; j++)
            found = strcmp(c->clusters[j].name, s->cluster) == 0;
        if (!found) {
            errf(err, errlen, "services: \"%s\" maps to unknown cluster \"%s\"", s->service, s->cluster);
            return -1;
        }
    }
    /* Without "default", unmapped services have nowhere to go; the gateway
     * checks its descriptors against the table, so an explicit table is fine. */
    if (!have_default && c->nservices == 0) {
        errf(err, errlen, "clusters: no cluster named \"default\" and no services mapped to the others");
        return -1;
    }
    for (size_t i = 0; i < c->nroutes; i++) {
        const config_route_t *r = &c->routes[i];
        if (r->success_status != 0 && (r->success_status < 200 || r->success_status > 299)) {
            errf(err, errlen, "route %s: success_status %d is not 200..299", r->method, r->success_status);
            return -1;
        }
    }
    return 0;
}

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

int config_parse_duration(const char *s, uint32_t *ms)
{
    uint64_t v;
    if (s == NULL || !parse_duration(s, &v) || v > UINT32_MAX)
        return -1;
    *ms = (uint32_t)v;
    return 0;
}

int config_host_is_loopback(const char *host)
{
    return strncmp(host, "127.", 4) == 0 || strcmp(host, "::1") == 0 || strcmp(host, "localhost") == 0;
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

/* One line of the key reference: the YAML, then its comment in one column. */
static void ref(FILE *f, const char *comment, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void ref(FILE *f, const char *comment, const char *fmt, ...)
{
    char line[160];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof(line), fmt, ap);
    va_end(ap);
    if (comment != NULL)
        fprintf(f, "%-34s# %s\n", line, comment);
    else
        fprintf(f, "%s\n", line);
}

/*
 * The part after "Config file" is itself a valid config file that yields
 * the defaults (config_test loads it), so it can't drift from the parser.
 */
void config_print_help(FILE *f)
{
    fprintf(f,
            "Usage: aurigraph-gateway [FLAGS]\n"
            "\n"
            "Flags (precedence: defaults < --config files < the other flags, whatever the order):\n"
            "  --config FILE         load a YAML config file (keys below); may be repeated:\n"
            "                        files load in order, each over the last\n"
            "  --listen HOST:PORT    listen here instead of the config's listeners; repeat\n"
            "                        for more (default %s:%d)\n"
            "  --upstream HOST:PORT  single backend: the \"default\" cluster gets exactly this\n"
            "                        target (repeat for more) and every service goes to it:\n"
            "                        the services mapping is cleared (default %s:%d)\n"
            "  --descriptors FILE    FileDescriptorSet to serve (default: the one built from proto/)\n"
            "  --workers N           worker threads, 0 = one per core, at most %d (default 0)\n"
            "  --access-log DEST     stdout | stderr | off | a file path (default stdout)\n"
            "  --upstream-version NAME=HOST:PORT[,WEIGHT]\n"
            "                        a version of the \"default\" cluster (blue, green, canary...);\n"
            "                        repeat for more versions or more targets of one; weight:\n"
            "                        100 for the first version, 0 for the others unless given\n"
            "  --admin HOST:PORT     admin API listener, or \"off\" (default %s:%d); off\n"
            "                        loopback it needs a token\n"
            "  --admin-token TOKEN   bearer token the admin API requires (also the environment\n"
            "                        variable AURIGRAPH_ADMIN_TOKEN)\n"
            "  --http1 uring|h2o     HTTP/1.1 front end: io_uring, or h2o's epoll loop (default\n"
            "                        uring; h2o wherever io_uring is unusable). HTTP/2 is h2o's\n"
            "  --json-profile NAME   JSON profile of routes whose .proto names none: proto3 |\n"
            "                        v11 (default proto3; the V11 .protos name v11)\n"
            "  --check-config        load and validate everything, then exit: 0 if valid\n"
            "  -h, --help            print this text and exit\n"
            "A value follows its flag (--workers 4) or an equals sign (--workers=4).\n"
            "\n"
            "Addresses: HOST:PORT, [IPV6]:PORT, or *:PORT (also :PORT) for 0.0.0.0. A listener\n"
            "may use port 0 (any free port); targets need 1..65535 and may be host names.\n"
            "Durations (keys ending in _ms): milliseconds, or a number with ms, s, m or h\n"
            "(\"250ms\", \"5s\"). Sizes: bytes, or a number with KiB/MiB/GiB or k/m/g (x1024),\n"
            "or KB/MB/GB (x1000), case-insensitive (\"4MiB\", \"512k\"). Booleans: true/false.\n"
            "A section given in a file replaces the one before it (listen, clusters, services);\n"
            "routes merge by method instead, and only the keys given change.\n"
            "\n"
            "Config file (YAML; every key is optional; shown with its default):\n",
            CONFIG_DEFAULT_LISTEN_HOST, CONFIG_DEFAULT_LISTEN_PORT, CONFIG_DEFAULT_UPSTREAM_HOST,
            CONFIG_DEFAULT_UPSTREAM_PORT, CONFIG_MAX_WORKERS, CONFIG_DEFAULT_ADMIN_HOST, CONFIG_DEFAULT_ADMIN_PORT);
    ref(f, "one address, or a list of them", "listen: \"%s:%d\"", CONFIG_DEFAULT_LISTEN_HOST,
        CONFIG_DEFAULT_LISTEN_PORT);
    ref(f, "0 = one per core; at most 1024", "workers: 0");
    ref(f, "~ = the descriptor set built from proto/", "descriptors: ~");
    ref(f, "stdout | stderr | off | a file path", "access_log: stdout");
    ref(f, "SIGTERM or POST /admin/drain: in-flight calls get this long", "drain_timeout_ms: %d",
        CONFIG_DEFAULT_DRAIN_MS);
    ref(f, "drain: accept and answer (readiness 503) this long first", "drain_grace_ms: 0");
    ref(f, "HTTP/1.1 front end: uring | h2o", "http1: %s", CONFIG_DEFAULT_HTTP1 == CONFIG_HTTP1_URING ? "uring" : "h2o");
    ref(f, "routes whose .proto names no profile: proto3 | v11", "json_profile: proto3");
    ref(f, "true here adds to every route's profile", "transcode:");
    ref(f, "print fields that hold their default value", "  emit_defaults: false");
    ref(f, "skip unknown JSON keys/query params, not 400", "  ignore_unknown_fields: false");
    ref(f, "print \"tx_hash\", not \"txHash\"", "  use_proto_names: false");
    ref(f, "print enum numbers, not names", "  enums_as_ints: false");
    ref(f, NULL, "limits:");
    ref(f, "4MiB: bytes of request JSON", "  max_body: %u", TRANSCODE_DEFAULT_MAX_BODY);
    ref(f, "nesting of objects, arrays, messages", "  max_depth: %d", TRANSCODE_DEFAULT_MAX_DEPTH);
    ref(f, "1MiB: one decoded string or bytes value", "  max_string: %u", TRANSCODE_DEFAULT_MAX_STRING);
    ref(f, "elements of one repeated field or map", "  max_repeated: %d", TRANSCODE_DEFAULT_MAX_REPEATED);
    ref(f, "16MiB: one transcoded message", "  max_output: %u", TRANSCODE_DEFAULT_MAX_OUTPUT);
    ref(f, "when given, replaces this whole list", "clusters:");
    ref(f, "unique; unmapped services use \"default\"", "  - name: default");
    ref(f, "HOST:PORT list (or one), round-robin", "    targets: [\"%s:%d\"]", CONFIG_DEFAULT_UPSTREAM_HOST,
        CONFIG_DEFAULT_UPSTREAM_PORT);
    ref(f, "deadline of a call, unless its route's", "    timeout_ms: %d", CLUSTER_DEFAULT_TIMEOUT_MS);
    ref(f, "TCP connect", "    connect_timeout_ms: %d", CLUSTER_DEFAULT_CONNECT_TIMEOUT_MS);
    ref(f, "PING idle connections this often; 0 = off", "    keepalive_ms: %d", CLUSTER_DEFAULT_KEEPALIVE_MS);
    ref(f, "re-resolve target names this often", "    resolve_interval_ms: %d", CLUSTER_DEFAULT_RESOLVE_INTERVAL_MS);
    ref(f, "~ = each route's .proto; or proto3 | v11", "    json_profile: ~");
    ref(f, "instead of targets: versions, e.g.", "    # versions:");
    ref(f, "  weight: share of new requests", "    #   - {name: blue, targets: [\"10.0.0.1:9100\"], weight: 90}");
    ref(f, NULL, "    #   - {name: canary, targets: [\"10.0.0.2:9100\"], weight: 10}");
    ref(f, NULL, "    sticky:");
    ref(f, "always | never: to or away from the canary", "      header: x-canary");
    ref(f, "or: a hash of this cookie picks the side", "      cookie: ~");
    ref(f, "or: a hash of this header picks the side", "      hash_header: ~");
    ref(f, "defaults of POST /admin/.../rollout", "    rollout:");
    ref(f, "canary percent per step; last is 100", "      steps: [10, 25, 50, 100]");
    ref(f, "4h: time on each step", "      hold_ms: 14400000");
    ref(f, "5m: the gates look this far back", "      window_ms: 300000");
    ref(f, "gates evaluated this often", "      interval_ms: 10000");
    ref(f, "fewer requests: inconclusive, hold", "      min_requests: 100");
    ref(f, "gate: canary errors (5xx) above 1%", "      max_error_rate: 0.01");
    ref(f, "gate: canary p95 latency; 0 = off", "      max_p95_ms: 500");
    ref(f, "gate: canary p99 latency; 0 = off", "      max_p99_ms: 1000");
    ref(f, "gate: more failed health checks in a row", "      max_health_failures: 3");
    ref(f, NULL, "    health:");
    ref(f, "time between checks of a target", "      interval_ms: %d", HEALTH_DEFAULT_INTERVAL_MS);
    ref(f, "a check slower than this failed", "      timeout_ms: %d", HEALTH_DEFAULT_TIMEOUT_MS);
    ref(f, "consecutive successes to mark it up", "      healthy_threshold: %d", HEALTH_DEFAULT_HEALTHY);
    ref(f, "consecutive failures to mark it down", "      unhealthy_threshold: %d", HEALTH_DEFAULT_UNHEALTHY);
    ref(f, "admin API; \"off\" to disable", "admin:");
    ref(f, "loopback; elsewhere a token is required", "  listen: \"%s:%d\"", CONFIG_DEFAULT_ADMIN_HOST,
        CONFIG_DEFAULT_ADMIN_PORT);
    ref(f, "Authorization: Bearer TOKEN", "  token: ~");
    ref(f, "gRPC service -> cluster name; replaces", "services: {}");
    ref(f, "the table when given, for example:", "%s", "");
    ref(f, "  aurigraph.v11.ConsensusService: consensus", "%s", "");
    ref(f, "per-method overrides, merged by method", "routes:");
    ref(f, NULL, "  - method: aurigraph.v11.TransactionService.SubmitTransaction");
    ref(f, "0 = the cluster's timeout_ms", "    timeout_ms: 0");
    ref(f, "200..299; ~ = the .proto's, else 200", "    success_status: ~");
    ref(f, "~ = the cluster's, else the .proto's", "    json_profile: ~");
}
