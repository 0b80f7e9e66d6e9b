/*
 * request_path.c: the steps of a request that do not depend on how it came
 * in or what its body is.
 */
#include "server/request_path.h"

#include <string.h>

#include "server/worker.h"

/* A request header by its (lower-case) name; NULL when absent. */
static const h2o_header_t *find_header(const h2o_req_t *req, const char *name)
{
    ssize_t i = h2o_find_header_by_str(&req->headers, name, strlen(name), -1);
    return i >= 0 ? &req->headers.entries[i] : NULL;
}

/* What the request says about its side of a split: the sticky header
 * (always/never), and the cookie or header whose hash keeps it on one side. */
static split_hints_t sticky_hints(const h2o_req_t *req, const config_sticky_t *st)
{
    const h2o_header_t *canary = st->header ? find_header(req, st->header) : NULL;
    const char *src = NULL;
    size_t src_len = 0;
    if (st->hash_header) {
        const h2o_header_t *h = find_header(req, st->hash_header);
        if (h) {
            src = h->value.base;
            src_len = h->value.len;
        }
    } else if (st->cookie) {
        /* a request may carry several Cookie headers (HTTP/2 splits them) */
        for (ssize_t i = -1; src == NULL && (i = h2o_find_header(&req->headers, H2O_TOKEN_COOKIE, i)) >= 0;) {
            const h2o_header_t *h = &req->headers.entries[i];
            split_cookie_value(h->value.base, h->value.len, st->cookie, &src, &src_len);
        }
    }
    return split_hints_make(canary ? canary->value.base : NULL, canary ? canary->value.len : 0, src, src_len);
}

const split_version_t *request_path_pick(const split_cluster_t *c, const h2o_req_t *req, uint64_t *rng)
{
    size_t v = 0;
    if (c->nversions > 1) {
        split_hints_t hints = sticky_hints(req, &c->cfg->sticky);
        v = split_pick(c, &hints, rng);
    }
    return &c->versions[v];
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
