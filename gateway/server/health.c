/*
 * health.c: probes and the JSON that answers them.
 *
 * A cluster starts DOWN and its first probe decides; after that it takes
 * healthy_threshold consecutive successes to come UP and
 * unhealthy_threshold consecutive failures to go DOWN, so one lost probe
 * does not flap a load balancer. A target the workers ejected for failing
 * calls (state/endpoints.h) comes back here: after healthy_threshold
 * consecutive successful checks that began after its ejection.
 */
#include "server/health.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/arena.h"
#include "core/buf.h"
#include "core/status.h"
#include "http/response.h"

#define HEALTH_CHECK_PATH "/grpc.health.v1.Health/Check"

/* One probe per target at a time, each over its own one-target upstream
 * (so a check says which target is sick); lives in worker 0's state. */
typedef struct probe {
    endpoint_health_t *health;
    upstream_cluster_t *upstream;
    upstream_call_t *call;
    int active;
    int serving;          /* HealthCheckResponse.status == SERVING */
    int saw_ejected;      /* the target was ejected when this probe started */
    uint32_t after_ejection; /* successful checks in a row since the ejection */
    uint64_t next_due;    /* loop ms */
} probe_t;

static void probe_on_headers(void *ctx, const upstream_header_t *h, size_t n)
{
    (void)ctx;
    (void)h;
    (void)n;
}

/* HealthCheckResponse { ServingStatus status = 1; }: SERVING is 1. */
static void probe_on_message(void *ctx, const uint8_t *data, size_t len)
{
    probe_t *p = ctx;
    p->serving = 0;
    for (size_t i = 0; i + 1 < len; i++) {
        if (data[i] == 0x08) {
            p->serving = data[i + 1] == 1;
            return;
        }
        break; /* only field 1 is expected */
    }
}

static void record(endpoint_health_t *h, int ok, int code)
{
    const config_health_t *cfg = &h->cfg->health;
    atomic_store(&h->last_code, code);
    uint64_t checks = atomic_fetch_add(&h->checks, 1);
    if (ok) {
        atomic_store(&h->failures, 0);
        uint32_t s = atomic_fetch_add(&h->successes, 1) + 1;
        if (checks == 0 || s >= cfg->healthy_threshold)
            atomic_store(&h->up, 1);
    } else {
        atomic_store(&h->successes, 0);
        uint32_t f = atomic_fetch_add(&h->failures, 1) + 1;
        if (checks == 0 || f >= cfg->unhealthy_threshold)
            atomic_store(&h->up, 0);
    }
}

/* An ejected target returns after healthy_threshold good checks in a row,
 * each started after the ejection (one in flight before it says nothing
 * of what the workers saw since). */
static void recover(probe_t *p, int ok)
{
    endpoint_health_t *h = p->health;
    if (!atomic_load(&h->ejected) || !p->saw_ejected) {
        p->after_ejection = 0;
        return;
    }
    p->after_ejection = ok ? p->after_ejection + 1 : 0;
    if (p->after_ejection < h->cfg->health.healthy_threshold)
        return;
    p->after_ejection = 0;
    atomic_store(&h->ejected, 0);
    fprintf(stderr, "aurigraph-gateway: upstream %s target %s:%u back in rotation: %u checks passed\n", h->cfg->name,
            h->target->host, (unsigned)h->target->port, h->cfg->health.healthy_threshold);
}

static void probe_on_close(void *ctx, int code, const char *msg, size_t msg_len, const upstream_header_t *t,
                           size_t n)
{
    (void)msg;
    (void)msg_len;
    (void)t;
    (void)n;
    probe_t *p = ctx;
    p->active = 0;
    p->call = NULL;
    int ok = code == GRPC_OK && p->serving;
    record(p->health, ok, code);
    recover(p, ok);
}

static const upstream_handlers_t probe_handlers = {
    .on_headers = probe_on_headers, .on_message = probe_on_message, .on_close = probe_on_close};

/* A one-target upstream for target h's checks; NULL when its name does not
 * resolve yet (tried again when the probe is next due). */
static upstream_cluster_t *probe_upstream(worker_t *w, const endpoint_health_t *h)
{
    upstream_target_t t = {h->target->host, h->target->port};
    upstream_cluster_config_t ucfg = {
        .name = h->cfg->name,
        .targets = &t,
        .ntargets = 1,
        .connect_timeout_ms = h->cfg->connect_timeout_ms,
        .resolve_interval_ms = h->cfg->resolve_interval_ms,
    };
    char err[200];
    return upstream_cluster_new(w->h2o.loop, &ucfg, err, sizeof(err));
}

static int probes_start(worker_t *w)
{
    shared_t *sh = w->shared;
    size_t n = sh->split.nendpoints;
    if ((w->probes = calloc(n ? n : 1, sizeof(probe_t))) == NULL)
        return -1;
    for (size_t i = 0; i < n; i++) {
        w->probes[i].health = &sh->endpoints[i];
        w->probes[i].upstream = probe_upstream(w, &sh->endpoints[i]);
    }
    return 0;
}

void health_tick(worker_t *w)
{
    shared_t *sh = w->shared;
    uint64_t now = h2o_now(w->h2o.loop);
    if (w->probes == NULL && probes_start(w) != 0)
        return;
    for (size_t i = 0; i < sh->split.nendpoints; i++) {
        probe_t *p = &w->probes[i];
        if (p->active || now < p->next_due)
            continue;
        if (p->upstream == NULL && (p->upstream = probe_upstream(w, p->health)) == NULL) {
            p->next_due = now + p->health->cfg->health.interval_ms;
            record(p->health, 0, GRPC_UNAVAILABLE);
            recover(p, 0);
            continue;
        }
        const config_health_t *cfg = &p->health->cfg->health;
        p->next_due = now + cfg->interval_ms;
        p->active = 1;
        p->serving = 0;
        p->saw_ejected = atomic_load(&p->health->ejected);
        /* HealthCheckRequest{service: ""}: the server as a whole */
        static const uint8_t empty[1];
        p->call = upstream_call_start(p->upstream, HEALTH_CHECK_PATH, empty, 0, NULL, 0, cfg->timeout_ms,
                                      &probe_handlers, p);
    }
}

void health_dispose(worker_t *w)
{
    for (size_t i = 0; w->probes && i < w->shared->split.nendpoints; i++) {
        if (w->probes[i].active && w->probes[i].call)
            upstream_call_cancel(w->probes[i].call);
        if (w->probes[i].upstream)
            upstream_cluster_free(w->probes[i].upstream);
    }
    free(w->probes);
    w->probes = NULL;
}

/* ---- answers ------------------------------------------------------------ */

typedef enum { CHECK_LIVE = 1, CHECK_READY = 2, CHECK_STARTED = 4 } check_set_t;

static int add_check(buf_t *b, int *first, const char *name, int up)
{
    buf_printf(b, "%s{\"name\":", *first ? "" : ",");
    status_json_quote(b, name, strlen(name));
    buf_printf(b, ",\"status\":\"%s\"", up ? "UP" : "DOWN");
    *first = 0;
    return up;
}

static void answer(h2o_req_t *req, int set)
{
    worker_t *w = worker_of(req->conn->ctx);
    shared_t *sh = w->shared;
    char first_block[4096];
    arena_t a;
    arena_init_with(&a, first_block, sizeof(first_block));
    buf_t b;
    buf_init(&b, &a, 2048);
    int all_up = 1, first = 1;
    buf_puts_lit(&b, "{\"status\":\"\",\"checks\":[");
    size_t status_at = 11; /* where UP/DOWN goes, filled in below */

    if (set & CHECK_LIVE) {
        all_up &= add_check(&b, &first, "event-loop", 1);
        buf_printf(&b, ",\"data\":{\"worker\":%u,\"workers\":%u}}", w->id, sh->nworkers);
    }
    if (set & CHECK_STARTED) {
        all_up &= add_check(&b, &first, "started", atomic_load(&sh->started));
        buf_putc(&b, '}');
    }
    if (set & CHECK_READY) {
        int draining = atomic_load(&sh->draining);
        all_up &= add_check(&b, &first, "draining", !draining);
        buf_printf(&b, ",\"data\":{\"draining\":%s}}", draining ? "true" : "false");
        for (size_t i = 0; i < sh->split.nclusters; i++) {
            const split_cluster_t *c = &sh->split.clusters[i];
            char name[160];
            snprintf(name, sizeof(name), "upstream %s", c->cfg->name);
            all_up &= add_check(&b, &first, name, endpoints_cluster_up(sh->endpoints, c));
            buf_puts_lit(&b, ",\"data\":{\"targets\":[");
            size_t nt = 0;
            for (size_t v = 0; v < c->nversions; v++) {
                const split_version_t *sv = &c->versions[v];
                for (size_t t = 0; t < sv->ntargets; t++) {
                    const endpoint_health_t *h = &sh->endpoints[sv->first_endpoint + t];
                    int last = atomic_load(&h->last_code);
                    buf_printf(&b, "%s{\"address\":\"%s:%u\",\"version\":", nt++ ? "," : "", sv->targets[t].host,
                               sv->targets[t].port);
                    status_json_quote(&b, sv->name, strlen(sv->name));
                    buf_printf(&b, ",\"status\":\"%s\",\"consecutiveFailures\":%u,\"consecutiveSuccesses\":%u,"
                                   "\"checks\":%llu,\"ejected\":%s,\"ejections\":%llu",
                               atomic_load(&h->up) && !atomic_load(&h->ejected) ? "UP" : "DOWN",
                               atomic_load(&h->failures), atomic_load(&h->successes),
                               (unsigned long long)atomic_load(&h->checks), atomic_load(&h->ejected) ? "true" : "false",
                               (unsigned long long)atomic_load(&h->ejections));
                    if (last >= 0)
                        buf_printf(&b, ",\"lastGrpcStatus\":\"%s\"}", status_grpc_name(last));
                    else
                        buf_putc(&b, '}');
                }
            }
            buf_puts_lit(&b, "]}}");
        }
    }
    buf_puts_lit(&b, "]}");
    if (b.oom) {
        response_error(req, 500, GRPC_INTERNAL, H2O_STRLIT("health report too large"), NULL, 0, 0);
        arena_free(&a);
        return;
    }
    /* {"status":"UP",... or "DOWN": splice the word in */
    const char *word = all_up ? "UP" : "DOWN";
    size_t wl = strlen(word);
    char *out = h2o_mem_alloc_pool(&req->pool, b.len + wl);
    memcpy(out, b.data, status_at);
    memcpy(out + status_at, word, wl);
    memcpy(out + status_at + wl, b.data + status_at, b.len - status_at);
    response_json(req, all_up ? 200 : 503, out, b.len + wl, 1);
    arena_free(&a);
}

int health_handle(h2o_req_t *req)
{
    size_t len = req->query_at != SIZE_MAX ? req->query_at : req->path.len;
    const char *p = req->path.base;
    if (len < 9 || memcmp(p, "/q/health", 9) != 0)
        return 0;
    int set;
    if (len == 9 || (len == 10 && p[9] == '/'))
        set = CHECK_LIVE | CHECK_READY | CHECK_STARTED;
    else if (len == 14 && memcmp(p + 9, "/live", 5) == 0)
        set = CHECK_LIVE;
    else if (len == 15 && memcmp(p + 9, "/ready", 6) == 0)
        set = CHECK_READY;
    else if (len == 17 && memcmp(p + 9, "/started", 8) == 0)
        set = CHECK_STARTED;
    else
        return 0;
    if (!h2o_memis(req->method.base, req->method.len, H2O_STRLIT("GET")) &&
        !h2o_memis(req->method.base, req->method.len, H2O_STRLIT("HEAD"))) {
        h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_ALLOW, NULL, H2O_STRLIT("GET, HEAD"));
        response_error(req, 405, GRPC_UNIMPLEMENTED, H2O_STRLIT("health probes answer GET"), NULL, 0, 0);
        return 1;
    }
    answer(req, set);
    return 1;
}
