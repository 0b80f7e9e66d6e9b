/*
 * admin.c: the admin API's requests, one function per call.
 *
 * Request bodies are small JSON documents read whole with yajl's tree API
 * (the admin path is not hot; clarity wins). Every value is checked before
 * anything changes, so a bad call changes nothing.
 */
#include "control/admin.h"

#include <arpa/inet.h>
#include <math.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <yajl/yajl_tree.h>

#include "core/arena.h"
#include "core/buf.h"
#include "core/status.h"
#include "control/rollout.h"
#include "http/response.h"
#include "state/endpoints.h"
#include "state/rate_limit.h"
#include "state/shared.h"
#include "state/split.h"

#define ADMIN_MAX_BODY (64 * 1024)

static void send_json(h2o_req_t *req, int status, const buf_t *b)
{
    response_json(req, status, b->data, b->len, 1);
}

static void fail(h2o_req_t *req, int http, int code, const char *fmt, ...) __attribute__((format(printf, 4, 5)));
static void fail(h2o_req_t *req, int http, int code, const char *fmt, ...)
{
    char msg[300];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    response_error(req, http, code, msg, strlen(msg), NULL, 0, 0);
}

/* ---- what a cluster looks like from outside --------------------------- */

static void put_str(buf_t *b, const char *s)
{
    if (s == NULL)
        buf_puts_lit(b, "null");
    else
        status_json_quote(b, s, strlen(s));
}

static void put_ms_or_null(buf_t *b, double seconds)
{
    if (isinf(seconds))
        buf_puts_lit(b, "null");
    else
        buf_printf(b, "%g", seconds * 1000);
}

static void render_rollout(buf_t *b, const rollout_t *r, uint64_t now)
{
    const split_cluster_t *c = r->cluster;
    rollout_state_t st = (rollout_state_t)atomic_load(&r->state);
    buf_puts_lit(b, "{\"state\":");
    put_str(b, rollout_state_name(st));
    buf_puts_lit(b, ",\"from\":");
    put_str(b, r->from >= 0 ? c->versions[r->from].name : NULL);
    buf_puts_lit(b, ",\"to\":");
    put_str(b, r->to >= 0 ? c->versions[r->to].name : NULL);
    buf_printf(b, ",\"step\":%zu,\"weight\":%u,\"steps\":[", st == ROLLOUT_IDLE ? 0 : r->step + 1,
               atomic_load(&r->step_percent));
    for (size_t i = 0; i < r->cfg.nsteps; i++)
        buf_printf(b, "%s%u", i ? "," : "", r->cfg.steps[i]);
    buf_printf(b,
               "],\"hold_ms\":%u,\"window_ms\":%u,\"interval_ms\":%u,\"min_requests\":%u,"
               "\"gates\":{\"error_rate\":%g,\"p95_ms\":%u,\"p99_ms\":%u,\"health_failures\":%u}",
               r->cfg.hold_ms, r->cfg.window_ms, r->cfg.interval_ms, r->cfg.min_requests, r->cfg.max_error_rate,
               r->cfg.max_p95_ms, r->cfg.max_p99_ms, r->cfg.max_health_failures);
    if (st == ROLLOUT_PROGRESSING)
        buf_printf(b, ",\"step_elapsed_ms\":%llu", (unsigned long long)(now - r->step_started_ms));
    buf_puts_lit(b, ",\"reason\":");
    put_str(b, r->reason[0] ? r->reason : NULL);
    const rollout_window_t *w = &r->last;
    buf_printf(b, ",\"window\":{\"verdict\":");
    put_str(b, w->verdict);
    buf_printf(b, ",\"span_ms\":%llu,\"requests\":%llu,\"errors\":%llu,\"error_rate\":%g,\"p95_ms\":",
               (unsigned long long)w->span_ms, (unsigned long long)w->requests, (unsigned long long)w->errors,
               w->error_rate);
    put_ms_or_null(b, w->p95_s);
    buf_puts_lit(b, ",\"p99_ms\":");
    put_ms_or_null(b, w->p99_s);
    buf_printf(b, ",\"health_failures\":%u}}", w->health_failures);
}

static void render_cluster(buf_t *b, shared_t *sh, size_t index, uint64_t now)
{
    const split_cluster_t *c = &sh->split.clusters[index];
    int canary = atomic_load(&c->canary);
    buf_puts_lit(b, "{\"name\":");
    put_str(b, c->cfg->name);
    buf_printf(b, ",\"healthy\":%s,\"sticky\":{\"header\":", endpoints_cluster_up(sh->endpoints, c) ? "true" : "false");
    put_str(b, c->cfg->sticky.header);
    buf_puts_lit(b, ",\"cookie\":");
    put_str(b, c->cfg->sticky.cookie);
    buf_puts_lit(b, ",\"hash_header\":");
    put_str(b, c->cfg->sticky.hash_header);
    buf_puts_lit(b, "},\"versions\":[");
    for (size_t v = 0; v < c->nversions; v++) {
        const split_version_t *sv = &c->versions[v];
        histogram_totals_t t;
        sh->version_totals(sh, sv->row, &t);
        buf_puts(b, v ? ",{\"name\":" : "{\"name\":");
        put_str(b, sv->name);
        buf_printf(b,
                   ",\"weight\":%u,\"share_percent\":%u,\"canary\":%s,\"healthy_endpoints\":%zu,\"requests\":%llu,"
                   "\"errors\":%llu,\"targets\":[",
                   atomic_load(&sv->weight), split_share_percent(c, v), (int)v == canary ? "true" : "false",
                   endpoints_version_healthy(sh->endpoints, sv), (unsigned long long)t.requests, (unsigned long long)t.errors);
        for (size_t i = 0; i < sv->ntargets; i++) {
            const endpoint_health_t *e = &sh->endpoints[sv->first_endpoint + i];
            int checks = atomic_load(&e->checks) != 0;
            buf_printf(b, "%s{\"address\":\"%s:%u\",\"healthy\":%s,\"consecutive_failures\":%u,\"ejected\":%s}",
                       i ? "," : "", sv->targets[i].host, sv->targets[i].port,
                       !checks ? "null" : atomic_load(&e->up) ? "true" : "false", atomic_load(&e->failures),
                       atomic_load(&e->ejected) ? "true" : "false");
        }
        buf_puts_lit(b, "]}");
    }
    buf_puts_lit(b, "],\"rollout\":");
    render_rollout(b, &sh->rollouts[index], now);
    buf_putc(b, '}');
}

static void answer_cluster(h2o_req_t *req, shared_t *sh, size_t index, int status)
{
    arena_t a;
    arena_init(&a);
    buf_t b;
    buf_init(&b, &a, 4096);
    render_cluster(&b, sh, index, h2o_now(req->conn->ctx->loop));
    if (b.oom)
        fail(req, 500, GRPC_INTERNAL, "out of memory");
    else
        send_json(req, status, &b);
    arena_free(&a);
}

static void list_clusters(h2o_req_t *req, shared_t *sh)
{
    arena_t a;
    arena_init(&a);
    buf_t b;
    buf_init(&b, &a, 8192);
    buf_puts_lit(&b, "{\"clusters\":[");
    for (size_t i = 0; i < sh->split.nclusters; i++) {
        if (i)
            buf_putc(&b, ',');
        render_cluster(&b, sh, i, h2o_now(req->conn->ctx->loop));
    }
    buf_printf(&b, "],\"draining\":%s}", atomic_load(&sh->draining) ? "true" : "false");
    if (b.oom)
        fail(req, 500, GRPC_INTERNAL, "out of memory");
    else
        send_json(req, 200, &b);
    arena_free(&a);
}

/* ---- request bodies ---------------------------------------------------- */

/* The body as a JSON object, or NULL: after answering the error, or when
 * the body is empty (*empty set; answered 400 "expected SHAPE" unless shape
 * is NULL, for a call whose body may be left out). */
static yajl_val parse_body(h2o_req_t *req, const char *shape, int *empty)
{
    *empty = req->entity.len == 0;
    if (*empty) {
        if (shape != NULL)
            fail(req, 400, GRPC_INVALID_ARGUMENT, "expected %s", shape);
        return NULL;
    }
    if (req->entity.len > ADMIN_MAX_BODY) {
        fail(req, 413, GRPC_RESOURCE_EXHAUSTED, "body over %d bytes", ADMIN_MAX_BODY);
        return NULL;
    }
    char *text = h2o_mem_alloc_pool(&req->pool, req->entity.len + 1);
    memcpy(text, req->entity.base, req->entity.len);
    text[req->entity.len] = '\0';
    char err[200];
    yajl_val v = yajl_tree_parse(text, err, sizeof(err));
    if (v == NULL) {
        for (char *p = err; *p; p++)
            if (*p == '\n')
                *p = ' ';
        fail(req, 400, GRPC_INVALID_ARGUMENT, "body is not valid JSON: %s", err);
        return NULL;
    }
    if (!YAJL_IS_OBJECT(v)) {
        yajl_tree_free(v);
        fail(req, 400, GRPC_INVALID_ARGUMENT, "body must be a JSON object");
        return NULL;
    }
    return v;
}

static int get_percentish(yajl_val v, uint32_t max, uint32_t *out)
{
    if (!YAJL_IS_INTEGER(v) || YAJL_GET_INTEGER(v) < 0 || YAJL_GET_INTEGER(v) > (long long)max)
        return -1;
    *out = (uint32_t)YAJL_GET_INTEGER(v);
    return 0;
}

static const char *str_of(yajl_val v)
{
    const char *s = YAJL_GET_STRING(v);
    return s ? s : "";
}

/* "4h", "5m", "250ms", or a number of milliseconds. */
static int get_duration(yajl_val v, uint32_t *ms)
{
    if (YAJL_IS_INTEGER(v) && YAJL_GET_INTEGER(v) >= 0 && YAJL_GET_INTEGER(v) <= UINT32_MAX) {
        *ms = (uint32_t)YAJL_GET_INTEGER(v);
        return 0;
    }
    return YAJL_IS_STRING(v) ? config_parse_duration(str_of(v), ms) : -1;
}

/* ---- the calls ---------------------------------------------------------- */

static void put_weights(h2o_req_t *req, shared_t *sh, size_t index)
{
    split_cluster_t *c = &sh->split.clusters[index];
    int empty;
    yajl_val body = parse_body(req, "{\"VERSION\": WEIGHT, ...}", &empty);
    if (body == NULL)
        return;
    uint32_t w[CONFIG_MAX_VERSIONS];
    uint64_t total = 0;
    for (size_t v = 0; v < c->nversions; v++)
        w[v] = atomic_load(&c->versions[v].weight);
    for (size_t i = 0; i < body->u.object.len; i++) {
        const char *key = body->u.object.keys[i];
        int v = split_version_find(c, key, strlen(key));
        if (v < 0) {
            fail(req, 400, GRPC_INVALID_ARGUMENT, "cluster %s has no version \"%.64s\"", c->cfg->name, key);
            goto out;
        }
        if (get_percentish(body->u.object.values[i], 1000000, &w[v]) != 0) {
            fail(req, 400, GRPC_INVALID_ARGUMENT, "weight of \"%.64s\": expected an integer 0..1000000", key);
            goto out;
        }
    }
    for (size_t v = 0; v < c->nversions; v++)
        total += w[v];
    if (total == 0) {
        fail(req, 400, GRPC_INVALID_ARGUMENT, "every weight would be 0: no version would take requests");
        goto out;
    }
    rollout_cancel(&sh->rollouts[index], "weights set by hand");
    for (size_t v = 0; v < c->nversions; v++)
        atomic_store(&c->versions[v].weight, w[v]);
    int canary = atomic_load(&c->canary);
    if (canary >= 0 && w[canary] > 0)
        atomic_store(&c->canary_blocked, 0);
    fprintf(stderr, "aurigraph-gateway: admin: cluster %s weights set:", c->cfg->name);
    for (size_t v = 0; v < c->nversions; v++)
        fprintf(stderr, " %s=%u", c->versions[v].name, w[v]);
    fputc('\n', stderr);
    answer_cluster(req, sh, index, 200);
out:
    yajl_tree_free(body);
}

static int rollout_args(h2o_req_t *req, const split_cluster_t *c, yajl_val body, config_rollout_t *cfg, int *from,
                        int *to)
{
    for (size_t i = 0; i < body->u.object.len; i++) {
        const char *key = body->u.object.keys[i];
        yajl_val v = body->u.object.values[i];
        if (!strcmp(key, "to") || !strcmp(key, "from")) {
            int found = YAJL_IS_STRING(v) ? split_version_find(c, str_of(v), strlen(str_of(v))) : -1;
            if (found < 0) {
                fail(req, 400, GRPC_INVALID_ARGUMENT, "\"%s\": cluster %s has no such version", key, c->cfg->name);
                return -1;
            }
            *(!strcmp(key, "to") ? to : from) = found;
        } else if (!strcmp(key, "steps")) {
            if (!YAJL_IS_ARRAY(v) || v->u.array.len == 0 || v->u.array.len > CONFIG_MAX_STEPS) {
                fail(req, 400, GRPC_INVALID_ARGUMENT, "\"steps\": expected 1..%d percentages", CONFIG_MAX_STEPS);
                return -1;
            }
            uint32_t prev = 0;
            for (size_t k = 0; k < v->u.array.len; k++) {
                uint32_t s;
                if (get_percentish(v->u.array.values[k], 100, &s) != 0 || s <= prev) {
                    fail(req, 400, GRPC_INVALID_ARGUMENT, "\"steps\": percentages must rise within 1..100");
                    return -1;
                }
                cfg->steps[k] = prev = s;
            }
            if (prev != 100) {
                fail(req, 400, GRPC_INVALID_ARGUMENT, "\"steps\": the last step must be 100");
                return -1;
            }
            cfg->nsteps = v->u.array.len;
        } else if (!strcmp(key, "hold") || !strcmp(key, "window") || !strcmp(key, "interval")) {
            uint32_t *dst = !strcmp(key, "hold") ? &cfg->hold_ms : !strcmp(key, "window") ? &cfg->window_ms
                                                                                         : &cfg->interval_ms;
            if (get_duration(v, dst) != 0 || (dst != &cfg->hold_ms && *dst == 0)) {
                fail(req, 400, GRPC_INVALID_ARGUMENT, "\"%s\": expected a duration (\"4h\", \"5m\", \"10s\", ms)", key);
                return -1;
            }
        } else if (!strcmp(key, "min_requests")) {
            if (get_percentish(v, UINT32_MAX, &cfg->min_requests) != 0 || cfg->min_requests == 0) {
                fail(req, 400, GRPC_INVALID_ARGUMENT, "\"min_requests\": expected a positive integer");
                return -1;
            }
        } else if (!strcmp(key, "gates")) {
            if (!YAJL_IS_OBJECT(v)) {
                fail(req, 400, GRPC_INVALID_ARGUMENT, "\"gates\": expected an object");
                return -1;
            }
            for (size_t g = 0; g < v->u.object.len; g++) {
                const char *gk = v->u.object.keys[g];
                yajl_val gv = v->u.object.values[g];
                int bad;
                if (!strcmp(gk, "error_rate")) {
                    bad = !YAJL_IS_NUMBER(gv) || !(YAJL_GET_DOUBLE(gv) >= 0 && YAJL_GET_DOUBLE(gv) <= 1);
                    if (!bad)
                        cfg->max_error_rate = YAJL_GET_DOUBLE(gv);
                } else if (!strcmp(gk, "p95_ms")) {
                    bad = get_duration(gv, &cfg->max_p95_ms) != 0;
                } else if (!strcmp(gk, "p99_ms")) {
                    bad = get_duration(gv, &cfg->max_p99_ms) != 0;
                } else if (!strcmp(gk, "health_failures")) {
                    bad = get_percentish(gv, 1000000, &cfg->max_health_failures) != 0;
                } else {
                    fail(req, 400, GRPC_INVALID_ARGUMENT,
                         "unknown gate \"%.64s\" (error_rate, p95_ms, p99_ms, health_failures)", gk);
                    return -1;
                }
                if (bad) {
                    fail(req, 400, GRPC_INVALID_ARGUMENT, "gate \"%s\": bad value (error_rate 0..1, others ms)", gk);
                    return -1;
                }
            }
        } else {
            fail(req, 400, GRPC_INVALID_ARGUMENT,
                 "unknown key \"%.64s\" (to, from, steps, hold, window, interval, min_requests, gates)", key);
            return -1;
        }
    }
    return 0;
}

static void start_rollout(h2o_req_t *req, shared_t *sh, size_t index)
{
    split_cluster_t *c = &sh->split.clusters[index];
    rollout_t *r = &sh->rollouts[index];
    int empty;
    yajl_val body = parse_body(req, "{\"to\": VERSION, ...}", &empty);
    if (body == NULL)
        return;
    config_rollout_t cfg = c->cfg->rollout;
    int from = -1, to = -1;
    if (rollout_args(req, c, body, &cfg, &from, &to) != 0)
        goto out;
    if (to < 0) {
        fail(req, 400, GRPC_INVALID_ARGUMENT, "\"to\": which version to roll out");
        goto out;
    }
    if (from < 0) {
        /* the version serving most now, other than the new one */
        uint32_t best = 0;
        for (size_t v = 0; v < c->nversions; v++) {
            uint32_t w = atomic_load(&c->versions[v].weight);
            if ((int)v != to && (from < 0 || w > best)) {
                from = (int)v;
                best = w;
            }
        }
    }
    char err[200];
    if (from < 0 || rollout_start(r, &cfg, from, to, h2o_now(req->conn->ctx->loop), err, sizeof(err)) != 0) {
        fail(req, 409, GRPC_FAILED_PRECONDITION, "cannot start the rollout: %s",
             from < 0 ? "the cluster has one version" : err);
        goto out;
    }
    answer_cluster(req, sh, index, 202);
out:
    yajl_tree_free(body);
}

static void promote(h2o_req_t *req, shared_t *sh, size_t index)
{
    split_cluster_t *c = &sh->split.clusters[index];
    rollout_t *r = &sh->rollouts[index];
    int empty;
    yajl_val body = parse_body(req, NULL, &empty);
    if (body == NULL && !empty)
        return;
    int to = r->to >= 0 ? r->to : atomic_load(&c->canary);
    for (size_t i = 0; body && i < body->u.object.len; i++) {
        const char *key = body->u.object.keys[i];
        yajl_val v = body->u.object.values[i];
        if (strcmp(key, "to") != 0 || !YAJL_IS_STRING(v) ||
            (to = split_version_find(c, str_of(v), strlen(str_of(v)))) < 0) {
            fail(req, 400, GRPC_INVALID_ARGUMENT, "expected {} or {\"to\": VERSION} with a version of %s",
                 c->cfg->name);
            goto out;
        }
    }
    if (to < 0) {
        fail(req, 409, GRPC_FAILED_PRECONDITION, "nothing to promote: no rollout or canary; give {\"to\": VERSION}");
        goto out;
    }
    rollout_promote(r, to);
    answer_cluster(req, sh, index, 200);
out:
    if (body)
        yajl_tree_free(body);
}

static void rollback(h2o_req_t *req, shared_t *sh, size_t index)
{
    split_cluster_t *c = &sh->split.clusters[index];
    rollout_t *r = &sh->rollouts[index];
    if (c->nversions < 2 || (r->to < 0 && atomic_load(&c->canary) < 0)) {
        fail(req, 409, GRPC_FAILED_PRECONDITION, "nothing to roll back: cluster %s has no rollout or canary version",
             c->cfg->name);
        return;
    }
    rollout_rollback(r, ROLLBACK_MANUAL, "by the admin API");
    answer_cluster(req, sh, index, 200);
}

static void drain(h2o_req_t *req, shared_t *sh)
{
    /* the same path as SIGTERM: readiness fails now, the workers drain */
    if (shared_drain(sh))
        fprintf(stderr, "aurigraph-gateway: admin: drain requested\n");
    arena_t a;
    arena_init(&a);
    buf_t b;
    buf_init(&b, &a, 128);
    buf_printf(&b, "{\"draining\":true,\"drain_timeout_ms\":%u}", sh->cfg->drain_timeout_ms);
    send_json(req, 202, &b);
    arena_free(&a);
}

/* ---- routing ---------------------------------------------------------------- */

/* 1 when the request is a `method`; else it is answered 405 with Allow. */
static int allow_only(h2o_req_t *req, const char *method)
{
    if (h2o_memis(req->method.base, req->method.len, method, strlen(method)))
        return 1;
    h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_ALLOW, NULL, method, strlen(method));
    fail(req, 405, GRPC_UNIMPLEMENTED, "this admin call takes %s", method);
    return 0;
}

static void get_cluster(h2o_req_t *req, shared_t *sh, size_t index)
{
    answer_cluster(req, sh, index, 200);
}

static int authorized(h2o_req_t *req, const char *token)
{
    if (token == NULL)
        return 1;
    ssize_t i = h2o_find_header(&req->headers, H2O_TOKEN_AUTHORIZATION, -1);
    if (i < 0)
        return 0;
    h2o_iovec_t v = req->headers.entries[i].value;
    size_t tl = strlen(token);
    if (v.len != 7 + tl || !h2o_lcstris(v.base, 7, H2O_STRLIT("bearer ")))
        return 0;
    /* no early exit: the time taken says nothing about the token */
    unsigned char diff = 0;
    for (size_t k = 0; k < tl; k++)
        diff |= (unsigned char)(v.base[7 + k] ^ token[k]);
    return diff == 0;
}

/* ---- a browser on the host ---------------------------------------------------
 *
 * Without a token the admin API trusts whoever reaches it on loopback,
 * and a web page in a browser on the host can: it may POST to it from its
 * own origin (CSRF: a form, or fetch with a "simple" content type, needs
 * no preflight), or reach it under a name of its own that it then
 * resolves to 127.0.0.1 (DNS rebinding), reading the answers too. What
 * gives such requests away, and what curl and the runbook's calls never
 * send: a Host that is not one of the listener's own names, an Origin
 * other than the listener's, a change without Content-Type:
 * application/json (a form cannot send that one without a preflight we
 * never answer).
 */

/* h2o's local address of the connection as [v6] or v4 text, and its port. */
static int local_name(h2o_req_t *req, char *name, size_t cap, unsigned *port)
{
    struct sockaddr_storage ss;
    if (req->conn->callbacks->get_sockname == NULL ||
        req->conn->callbacks->get_sockname(req->conn, (struct sockaddr *)&ss) == 0)
        return -1;
    char text[INET6_ADDRSTRLEN];
    if (ss.ss_family == AF_INET) {
        const struct sockaddr_in *in = (const struct sockaddr_in *)&ss;
        inet_ntop(AF_INET, &in->sin_addr, text, sizeof(text));
        snprintf(name, cap, "%s", text);
        *port = ntohs(in->sin_port);
    } else if (ss.ss_family == AF_INET6) {
        const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)&ss;
        inet_ntop(AF_INET6, &in6->sin6_addr, text, sizeof(text));
        snprintf(name, cap, "[%s]", text);
        *port = ntohs(in6->sin6_port);
    } else {
        return -1;
    }
    return 0;
}

/* v[0..len) as host[:port] is one of the listener's own: localhost, the
 * address the request came to, or the configured host; a port, if given,
 * the listener's. */
static int own_authority(const char *v, size_t len, const char *local, unsigned port, const char *configured)
{
    const char *colon = NULL;
    if (len && v[0] == '[') {
        const char *close = memchr(v, ']', len);
        if (close == NULL)
            return 0;
        if ((size_t)(close + 1 - v) < len)
            colon = close + 1;
    } else {
        colon = memchr(v, ':', len);
    }
    size_t host_len = colon ? (size_t)(colon - v) : len;
    if (colon) {
        if (*colon != ':' || colon + 1 == v + len)
            return 0;
        unsigned p = 0;
        for (const char *d = colon + 1; d < v + len; d++) {
            if (*d < '0' || *d > '9' || (p = p * 10 + (unsigned)(*d - '0')) > 65535)
                return 0;
        }
        if (p != port)
            return 0;
    }
    char bracketed[300];
    if (strchr(configured, ':') != NULL) /* an IPv6 address as the config has it */
        snprintf(bracketed, sizeof(bracketed), "[%s]", configured);
    else
        snprintf(bracketed, sizeof(bracketed), "%s", configured);
    return h2o_lcstris(v, host_len, H2O_STRLIT("localhost")) || h2o_lcstris(v, host_len, local, strlen(local)) ||
           h2o_lcstris(v, host_len, bracketed, strlen(bracketed));
}

static int is_json(h2o_req_t *req)
{
    ssize_t i = h2o_find_header(&req->headers, H2O_TOKEN_CONTENT_TYPE, -1);
    if (i < 0)
        return 0;
    h2o_iovec_t v = req->headers.entries[i].value;
    size_t n = 0;
    while (n < v.len && v.base[n] != ';' && v.base[n] != ' ' && v.base[n] != '\t')
        n++;
    return h2o_lcstris(v.base, n, H2O_STRLIT("application/json"));
}

/* 0 when the request may go on; 1 when it was answered 403 or 415. */
static int browser_refused(h2o_req_t *req, shared_t *sh)
{
    char local[INET6_ADDRSTRLEN + 2];
    unsigned port;
    if (local_name(req, local, sizeof(local), &port) != 0) {
        fail(req, 403, GRPC_PERMISSION_DENIED, "the admin API cannot tell which address it was called on");
        return 1;
    }
    const char *configured = sh->cfg->admin_host ? sh->cfg->admin_host : "localhost";
    h2o_iovec_t host = req->input.authority;
    if (host.base != NULL && !own_authority(host.base, host.len, local, port, configured)) {
        fail(req, 403, GRPC_PERMISSION_DENIED,
             "the admin API answers only to its own address (Host: localhost:%u or %s:%u), not \"%.*s\"", port,
             local, port, (int)(host.len > 100 ? 100 : host.len), host.base);
        return 1;
    }
    ssize_t o = h2o_find_header_by_str(&req->headers, H2O_STRLIT("origin"), -1); /* no token for it in h2o 2.2 */
    if (o >= 0) {
        h2o_iovec_t v = req->headers.entries[o].value;
        if (v.len <= 7 || !h2o_lcstris(v.base, 7, H2O_STRLIT("http://")) ||
            !own_authority(v.base + 7, v.len - 7, local, port, configured)) {
            fail(req, 403, GRPC_PERMISSION_DENIED, "the admin API takes no calls from another origin (\"%.*s\")",
                 (int)(v.len > 100 ? 100 : v.len), v.base);
            return 1;
        }
    }
    int changes = h2o_memis(req->method.base, req->method.len, H2O_STRLIT("POST")) ||
                  h2o_memis(req->method.base, req->method.len, H2O_STRLIT("PUT"));
    if (changes && !is_json(req)) {
        fail(req, 415, GRPC_INVALID_ARGUMENT, "admin calls that change something take Content-Type: application/json");
        return 1;
    }
    return 0;
}

/* ---- rate limits -------------------------------------------------------------- */

static void render_rate_limit(buf_t *b, const shared_t *sh, size_t i)
{
    rate_limit_state_t st;
    rate_limits_get(sh->rate_limits, i, &st);
    buf_puts_lit(b, "{\"name\":");
    put_str(b, st.cfg->name);
    buf_puts_lit(b, ",\"method\":");
    put_str(b, st.cfg->method);
    buf_puts_lit(b, ",\"key\":");
    if (st.cfg->key == CONFIG_RATE_KEY_HEADER) {
        buf_puts_lit(b, "\"header:");
        buf_puts(b, st.cfg->header);
        buf_putc(b, '"');
    } else {
        put_str(b, st.cfg->key == CONFIG_RATE_KEY_ADDRESS ? "client_address" : NULL);
    }
    buf_printf(b, ",\"rate\":%.6g,\"burst\":%u,\"enabled\":%s", st.rate, st.burst, st.enabled ? "true" : "false");
    if (st.cfg->key != CONFIG_RATE_KEY_NONE)
        buf_printf(b, ",\"max_keys\":%u", st.cfg->max_keys);
    buf_putc(b, '}');
}

static void answer_rate_limits(h2o_req_t *req, const shared_t *sh, int one, size_t index)
{
    arena_t a;
    arena_init(&a);
    buf_t b;
    buf_init(&b, &a, 1024);
    if (one) {
        render_rate_limit(&b, sh, index);
    } else {
        buf_puts_lit(&b, "{\"rate_limits\":[");
        for (size_t i = 0; i < rate_limits_count(sh->rate_limits); i++) {
            if (i)
                buf_putc(&b, ',');
            render_rate_limit(&b, sh, i);
        }
        buf_puts_lit(&b, "]}");
    }
    if (b.oom)
        fail(req, 500, GRPC_INTERNAL, "out of memory");
    else
        send_json(req, 200, &b);
    arena_free(&a);
}

/* PUT /admin/rate_limits/NAME: {"rate":N,"burst":N,"enabled":B}, each optional; all checked first. */
static void put_rate_limit(h2o_req_t *req, shared_t *sh, size_t index)
{
    int empty;
    yajl_val body = parse_body(req, "{\"rate\": REQUESTS_PER_SECOND, \"burst\": N, \"enabled\": BOOL}", &empty);
    if (body == NULL)
        return;
    rate_limit_state_t st;
    rate_limits_get(sh->rate_limits, index, &st);
    double rate = st.rate;
    uint32_t burst = st.burst;
    int enabled = st.enabled, rate_given = 0, burst_given = 0;
    for (size_t i = 0; i < body->u.object.len; i++) {
        const char *key = body->u.object.keys[i];
        yajl_val v = body->u.object.values[i];
        if (!strcmp(key, "rate")) {
            if (!YAJL_IS_NUMBER(v) || !(YAJL_GET_DOUBLE(v) >= 0.001 && YAJL_GET_DOUBLE(v) <= CONFIG_RATE_MAX)) {
                fail(req, 400, GRPC_INVALID_ARGUMENT, "rate: requests per second, 0.001 .. %g", CONFIG_RATE_MAX);
                goto out;
            }
            rate = YAJL_GET_DOUBLE(v);
            rate_given = 1;
        } else if (!strcmp(key, "burst")) {
            if (!YAJL_IS_INTEGER(v) || YAJL_GET_INTEGER(v) < 1 || YAJL_GET_INTEGER(v) > 1000000000) {
                fail(req, 400, GRPC_INVALID_ARGUMENT, "burst: a whole number of requests, 1 .. 1000000000");
                goto out;
            }
            burst = (uint32_t)YAJL_GET_INTEGER(v);
            burst_given = 1;
        } else if (!strcmp(key, "enabled")) {
            if (!YAJL_IS_TRUE(v) && !YAJL_IS_FALSE(v)) {
                fail(req, 400, GRPC_INVALID_ARGUMENT, "enabled: true or false");
                goto out;
            }
            enabled = YAJL_IS_TRUE(v);
        } else {
            fail(req, 400, GRPC_INVALID_ARGUMENT, "unknown field \"%.60s\" (rate, burst, enabled)", key);
            goto out;
        }
    }
    /* a new rate without a burst: the configured burst, or one second's worth of the new rate */
    if (rate_given && !burst_given)
        burst = st.cfg->burst;
    rate_limits_set(sh->rate_limits, index, rate, burst, enabled);
    fprintf(stderr, "aurigraph-gateway: admin: rate limit %s: %g/s, burst %u, %s\n", st.cfg->name, rate, burst,
            enabled ? "on" : "off");
    answer_rate_limits(req, sh, 1, index);
out:
    yajl_tree_free(body);
}

/* /admin/rate_limits[/NAME]: 1 when the path was one of these (answered). */
static int rate_limits_call(h2o_req_t *req, shared_t *sh, const char *p, size_t len)
{
    if (len < 18 || memcmp(p, "/admin/rate_limits", 18) != 0 || (len > 18 && p[18] != '/'))
        return 0;
    if (len <= 19) {
        if (allow_only(req, "GET"))
            answer_rate_limits(req, sh, 0, 0);
        return 1;
    }
    int i = rate_limits_find(sh->rate_limits, p + 19, len - 19);
    if (i < 0) {
        fail(req, 404, GRPC_NOT_FOUND, "no rate limit \"%.*s\"", (int)(len - 19 > 100 ? 100 : len - 19), p + 19);
        return 1;
    }
    if (h2o_memis(req->method.base, req->method.len, H2O_STRLIT("PUT")))
        put_rate_limit(req, sh, (size_t)i);
    else if (allow_only(req, "GET"))
        answer_rate_limits(req, sh, 1, (size_t)i);
    return 1;
}

/* The admin listener's one handler: the shared state it acts on rides with it. */
typedef struct admin_handler {
    h2o_handler_t super;
    shared_t *sh;
} admin_handler_t;

static int admin_handle(h2o_handler_t *self, h2o_req_t *req)
{
    shared_t *sh = ((admin_handler_t *)self)->sh;
    /* no token: loopback only (config_validate), where a browser is the risk */
    if (sh->cfg->admin_token == NULL && browser_refused(req, sh))
        return 0;
    if (!authorized(req, sh->cfg->admin_token)) {
        h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_WWW_AUTHENTICATE, NULL, H2O_STRLIT("Bearer"));
        fail(req, 401, GRPC_UNAUTHENTICATED, "the admin API needs Authorization: Bearer TOKEN");
        return 0;
    }
    size_t len = req->query_at != SIZE_MAX ? req->query_at : req->path.len;
    const char *p = req->path.base;
    if (len == 12 && memcmp(p, "/admin/drain", 12) == 0) {
        if (allow_only(req, "POST"))
            drain(req, sh);
        return 0;
    }
    if (rate_limits_call(req, sh, p, len))
        return 0;
    if (len == 15 && memcmp(p, "/admin/clusters", 15) == 0) {
        if (allow_only(req, "GET"))
            list_clusters(req, sh);
        return 0;
    }
    if (len > 16 && memcmp(p, "/admin/clusters/", 16) == 0) {
        const char *name = p + 16, *end = p + len;
        const char *slash = memchr(name, '/', (size_t)(end - name));
        size_t nl = (size_t)((slash ? slash : end) - name);
        split_cluster_t *c = split_cluster_find(&sh->split, name, nl);
        if (c == NULL) {
            fail(req, 404, GRPC_NOT_FOUND, "no cluster \"%.*s\"", (int)(nl > 100 ? 100 : nl), name);
            return 0;
        }
        /* /admin/clusters/NAME[/ACTION] */
        static const struct {
            const char *action, *method;
            void (*call)(h2o_req_t *, shared_t *, size_t);
        } calls[] = {
            {"", "GET", get_cluster},         {"weights", "PUT", put_weights}, {"rollout", "POST", start_rollout},
            {"promote", "POST", promote},     {"rollback", "POST", rollback},
        };
        const char *action = slash ? slash + 1 : "";
        size_t al = slash ? (size_t)(end - action) : 0;
        for (size_t i = 0; i < sizeof(calls) / sizeof(calls[0]); i++) {
            if (strlen(calls[i].action) == al && memcmp(calls[i].action, action, al) == 0 && (slash == NULL) == (al == 0)) {
                if (allow_only(req, calls[i].method))
                    calls[i].call(req, sh, c->index);
                return 0;
            }
        }
        fail(req, 404, GRPC_NOT_FOUND, "no admin call %.*s (weights, rollout, promote, rollback)",
             (int)(al > 60 ? 60 : al), action);
        return 0;
    }
    fail(req, 404, GRPC_NOT_FOUND, "no admin call at %.*s (see GET /admin/clusters)", (int)(len > 100 ? 100 : len), p);
    return 0;
}

void admin_register(h2o_pathconf_t *path, shared_t *sh)
{
    admin_handler_t *h = (admin_handler_t *)h2o_create_handler(path, sizeof(*h));
    h->super.on_req = admin_handle;
    h->sh = sh;
}
