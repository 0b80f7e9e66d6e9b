/*
 * request_path.c: the steps of a request that do not depend on how it came
 * in or what its body is.
 */
#include "server/request_path.h"

#include <string.h>

#include "server/worker.h"

/* A request header by its (lower-case) name; NULL when absent. */
static const char *h2o_header(void *ctx, const char *name, size_t *len)
{
    const h2o_req_t *req = ctx;
    ssize_t i = h2o_find_header_by_str(&req->headers, name, strlen(name), -1);
    if (i < 0)
        return NULL;
    *len = req->headers.entries[i].value.len;
    return req->headers.entries[i].value.base;
}

/* The cookie's value in any of the request's Cookie headers (HTTP/2 splits
 * them); the gRPC door's metadata has one at most. */
static int cookie_value(const h2o_req_t *req, request_path_header_fn header, void *ctx, const char *cookie,
                        const char **src, size_t *src_len)
{
    if (req == NULL) {
        size_t len = 0;
        const char *v = header(ctx, "cookie", &len);
        return v != NULL && split_cookie_value(v, len, cookie, src, src_len);
    }
    for (ssize_t i = -1; (i = h2o_find_header(&req->headers, H2O_TOKEN_COOKIE, i)) >= 0;) {
        const h2o_header_t *h = &req->headers.entries[i];
        if (split_cookie_value(h->value.base, h->value.len, cookie, src, src_len))
            return 1;
    }
    return 0;
}

/* What the request says about its side of a split: the sticky header
 * (always/never), and the cookie or header whose hash keeps it on one side. */
static size_t pick(const split_cluster_t *c, const h2o_req_t *req, request_path_header_fn header, void *ctx,
                   uint64_t *rng)
{
    if (c->nversions <= 1)
        return 0;
    const config_sticky_t *st = &c->cfg->sticky;
    const char *canary = NULL, *src = NULL;
    size_t canary_len = 0, src_len = 0;
    if (st->header)
        canary = header(ctx, st->header, &canary_len);
    if (st->hash_header)
        src = header(ctx, st->hash_header, &src_len);
    else if (st->cookie && !cookie_value(req, header, ctx, st->cookie, &src, &src_len))
        src = NULL;
    split_hints_t hints = split_hints_make(canary, canary ? canary_len : 0, src, src ? src_len : 0);
    return split_pick(c, &hints, rng);
}

const split_version_t *request_path_pick(const split_cluster_t *c, const h2o_req_t *req, uint64_t *rng)
{
    return &c->versions[pick(c, req, h2o_header, (void *)req, rng)];
}

const split_version_t *request_path_pick_by(const split_cluster_t *c, request_path_header_fn header, void *ctx,
                                            uint64_t *rng)
{
    return &c->versions[pick(c, NULL, header, ctx, rng)];
}

/* "100m", "5S", ... (gRPC's TimeoutValue TimeoutUnit) -> ms, rounded up; 0 if absent or bad. */
uint32_t request_path_grpc_timeout(const char *s, size_t len)
{
    if (len < 2 || len > 9)
        return 0;
    uint64_t v = 0;
    for (size_t i = 0; i + 1 < len; i++) {
        if (s[i] < '0' || s[i] > '9')
            return 0;
        v = v * 10 + (uint64_t)(s[i] - '0');
    }
    uint64_t ms;
    switch (s[len - 1]) {
    case 'H': ms = v * 3600000; break;
    case 'M': ms = v * 60000; break;
    case 'S': ms = v * 1000; break;
    case 'm': ms = v; break;
    case 'u': ms = (v + 999) / 1000; break;
    case 'n': ms = (v + 999999) / 1000000; break;
    default: return 0;
    }
    if (ms == 0)
        ms = 1;
    return ms > UINT32_MAX ? UINT32_MAX : (uint32_t)ms;
}

upstream_call_t *request_path_call(worker_t *w, const split_version_t *v, const char *grpc_path, const uint8_t *msg,
                                   size_t len, const upstream_header_t *md, size_t nmd, uint32_t timeout_ms,
                                   const upstream_handlers_t *handlers, void *ctx)
{
    return upstream_call_start(w->upstreams[v->row], grpc_path, msg, len, md, nmd, timeout_ms, handlers, ctx);
}

upstream_call_t *request_path_open(worker_t *w, const split_version_t *v, const char *grpc_path,
                                   const upstream_header_t *md, size_t nmd, uint32_t timeout_ms,
                                   const upstream_handlers_t *handlers, void (*on_writable)(void *ctx), void *ctx)
{
    return upstream_call_open(w->upstreams[v->row], grpc_path, md, nmd, timeout_ms, handlers, on_writable, ctx);
}
