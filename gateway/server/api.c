/*
 * api.c: one REST request, start to end.
 *
 * A request context (api_request_t) is taken from the worker's free list
 * when the request arrives and goes back when h2o disposes of the request's
 * memory pool: that hook is also where an upstream call still running is
 * cancelled (the client went away). Everything the request needs on the way
 * (decoded path variables, the request message, the response JSON) comes
 * from the context's arena, whose first block is part of the recycled
 * context, so the common request allocates nothing of its own.
 *
 * Lifecycle of a context:
 *   ROUTED -> CALLING -> (unary) RESPONDED
 *                     -> (stream) STREAMING -> RESPONDED
 * with an early exit to RESPONDED for every gateway-side error. h2o owns
 * the end of it: the pool's dispose hook runs after the last byte is sent
 * or the connection is gone, whichever first.
 */
#include "server/api.h"

#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include "core/addr.h"
#include "core/arena.h"
#include "core/buf.h"
#include "core/clock.h"
#include "core/decimal.h"
#include "core/rng.h"
#include "core/status.h"
#include "http/response.h"
#include "route/route.h"
#include "server/metrics.h"
#include "server/request_path.h"
#include "server/trace.h"
#include "server/worker.h"
#include "state/rate_limit.h"
#include "state/shared.h"
#include "transcode/binding.h"
#include "transcode/json_to_pb.h"
#include "transcode/pb_to_json.h"
#include "transcode/scalar.h"
#include "upstream/upstream.h"

#define API_ARENA_FIRST (16 * 1024)
#define API_MAX_FREE 1024
#define API_MAX_METADATA 64
#define API_STREAM_HIGH_WATER (1 << 20) /* pause the upstream above this much unsent JSON */

typedef enum api_state {
    API_ROUTED,     /* matched, not yet calling */
    API_CALLING,    /* unary or stream call in flight, nothing sent */
    API_STREAMING,  /* stream call in flight, response started */
    API_RESPONDED,  /* the response is (being) sent; no upstream call */
} api_state_t;

/* Unsent NDJSON of a streaming response: h2o keeps the buffer it was given
 * until proceed(), so two swap roles: one on the wire, one filling. */
typedef struct stream_out {
    char *data;
    size_t len, cap;
} stream_out_t;

struct api_request {
    h2o_generator_t generator;
    api_request_t *next_free;
    worker_t *w;
    h2o_req_t *req;
    api_state_t state;
    const binding_t *binding;
    const route_info_t *route;
    const split_version_t *version; /* the cluster version that serves it */
    upstream_call_t *call;
    int call_active;
    int grpc_code;
    int client_cancelled;     /* the client went away (reset, hang-up) before the call ended: 499 */
    int got_message;
    int response_error;       /* transcoding the response failed */
    status_t st;
    buf_t json;               /* unary: the response body */
    upstream_header_t *resp_md;
    size_t nresp_md;
    /* streaming */
    stream_out_t out[2];
    int filling;              /* index of the buffer being filled */
    int on_wire;              /* a send is in flight */
    int stream_done;          /* the upstream call has ended */
    int paused;
    arena_t msg_arena;        /* scratch of one streamed message */
    /* access log and metrics */
    struct timespec started;
    struct timespec call_started;
    uint64_t call_us;
    const char *request_id;
    size_t request_id_len;
    unsigned char peer[16];   /* the client's address, as a rate limit's key */
    trace_span_t trace;       /* its spans' context (server/trace.h) */
    arena_t arena;
    _Alignas(16) char first_block[API_ARENA_FIRST];
};

/* ---- errors ----------------------------------------------------------- */

/* What the gateway adds to every answer: the request id, and which
 * version of a split cluster answered. */
static void add_response_headers(api_request_t *r)
{
    if (r->request_id)
        h2o_add_header_by_str(&r->req->pool, &r->req->res.headers, H2O_STRLIT("x-request-id"), 0, NULL,
                              r->request_id, r->request_id_len);
    /* which side of a blue-green or canary split answered */
    if (r->version && r->version->cluster->named)
        h2o_add_header_by_str(&r->req->pool, &r->req->res.headers, H2O_STRLIT("x-upstream-version"), 0, NULL,
                              r->version->name, strlen(r->version->name));
}

static void respond_error(api_request_t *r, int http_status, int grpc_code, const char *message,
                          const char *details, size_t details_len)
{
    r->state = API_RESPONDED;
    add_response_headers(r);
    int error_field = r->route ? r->route->error_field : r->w->shared->error_field;
    response_error(r->req, http_status, grpc_code, message, strlen(message), details, details_len, error_field);
}

/* ---- contexts ---------------------------------------------------------- */

static const char *header_value(const h2o_req_t *req, const char *name, size_t name_len, size_t *len)
{
    ssize_t i = h2o_find_header_by_str(&req->headers, name, name_len, -1);
    if (i < 0) {
        *len = 0;
        return NULL;
    }
    *len = req->headers.entries[i].value.len;
    return req->headers.entries[i].value.base;
}

/* The request's spans, to the exporter (server/trace.h). */
static void trace_request(api_request_t *r, int status, int called)
{
    h2o_req_t *req = r->req;
    const split_version_t *v = r->version;
    trace_end_info_t e = {
        .door = TRACE_DOOR_REST,
        .started = &r->started,
        .call_started = called ? &r->call_started : NULL,
        .us = clock_us_since(&r->started),
        .call_us = r->call_us,
        .method = req->method.base,
        .method_len = req->method.len,
        .path = req->path.base,
        .path_len = req->query_at != SIZE_MAX ? req->query_at : req->path.len,
        .host = req->authority.base,
        .host_len = req->authority.len,
        .route = r->binding ? r->binding->rule->path : NULL,
        .rpc_path = r->binding ? r->binding->method->grpc_path : NULL,
        .http_status = status,
        .grpc_code = r->grpc_code,
        .up_code = r->client_cancelled ? -1 : r->grpc_code,
        .version = v ? v->name : NULL,
        .cluster = v ? v->cluster->cfg->name : NULL,
        .up_host = v && v->ntargets ? v->targets[0].host : NULL,
        .up_port = v && v->ntargets ? v->targets[0].port : 0,
    };
    e.tracestate = header_value(req, H2O_STRLIT("tracestate"), &e.tracestate_len);
    trace_end(r->w->trace, &r->trace, &e);
}

/* The request is over: metrics and the access log. */
static void record_request(api_request_t *r)
{
    worker_t *w = r->w;
    h2o_req_t *req = r->req;
    uint64_t us = clock_us_since(&r->started);
    size_t bi = r->binding ? (size_t)(r->binding - binding_at(w->shared->bindings, 0)) : SIZE_MAX;
    /* nginx's 499: whatever had been sent, the client ended it, not us */
    int status = r->client_cancelled ? 499 : req->res.status;
    metrics_record_http(w->metrics, bi, req->method.base, req->method.len, status, us, req->entity.len,
                        req->bytes_sent);
    int called = r->binding && r->state != API_ROUTED && r->grpc_code >= 0;
    if (r->trace.sampled)
        trace_request(r, status, called);
    if (called) {
        metrics_record_grpc(w->metrics, r->route->method_row, METRICS_SOURCE_REST, r->grpc_code, r->call_us);
        /* a cancel says nothing of the version: kept out of its gates */
        if (r->client_cancelled)
            metrics_record_upstream_cancelled(w->metrics, r->version->row);
        else
            metrics_record_upstream(w->metrics, r->version->row, r->grpc_code, r->call_us);
    }
    if (w->log.fd < 0)
        return;
    struct timespec wall;
    clock_gettime(CLOCK_REALTIME, &wall);
    size_t path_len = req->query_at != SIZE_MAX ? req->query_at : req->path.len;
    access_log_entry_t e = {
        .unix_ms = (int64_t)wall.tv_sec * 1000 + wall.tv_nsec / 1000000,
        .method = req->method.base,
        .method_len = req->method.len,
        .route = r->binding ? r->binding->rule->path : NULL,
        .path = req->path.base,
        .path_len = path_len,
        .status = status,
        .grpc_status = called ? r->grpc_code : -1,
        .bytes_sent = req->bytes_sent,
        .duration_us = us,
        .upstream_us = called ? (int64_t)r->call_us : -1,
        .upstream = r->route ? w->shared->cfg->clusters[r->route->cluster].name : NULL,
        .version = r->version && r->version->cluster->named ? r->version->name : NULL,
        .request_id = r->request_id,
        .request_id_len = r->request_id_len,
    };
    access_log_add(&w->log, &e);
}

static void release(api_request_t *r)
{
    worker_t *w = r->w;
    free(r->out[0].data);
    free(r->out[1].data);
    arena_free(&r->msg_arena);
    arena_free(&r->arena);
    w->in_flight--;
    if (w->nfree_requests < API_MAX_FREE) {
        r->next_free = w->free_requests;
        w->free_requests = r;
        w->nfree_requests++;
    } else {
        free(r);
    }
}

/* h2o is done with the request: sent, or the client is gone. */
static void on_pool_dispose(void *p)
{
    api_request_t *r = *(api_request_t **)p;
    if (r->call_active) {
        upstream_call_cancel(r->call);
        r->call_active = 0;
        r->grpc_code = GRPC_CANCELLED;
        r->client_cancelled = 1;
        r->call_us = clock_us_since(&r->call_started);
    }
    record_request(r);
    release(r);
}

static api_request_t *acquire(worker_t *w, h2o_req_t *req)
{
    api_request_t *r = w->free_requests;
    if (r != NULL) {
        w->free_requests = r->next_free;
        w->nfree_requests--;
    } else if ((r = malloc(sizeof(*r))) == NULL) {
        return NULL;
    }
    api_request_t **hook = h2o_mem_alloc_shared(&req->pool, sizeof(*hook), on_pool_dispose);
    /* everything but the arena's first block starts zeroed */
    memset(r, 0, offsetof(api_request_t, first_block));
    *hook = r;
    r->w = w;
    r->req = req;
    r->grpc_code = -1;
    r->filling = 0;
    arena_init_with(&r->arena, r->first_block, sizeof(r->first_block));
    r->arena.limit = w->shared->cfg->transcode.max_output + w->shared->cfg->transcode.max_body * 4 + (1u << 20);
    arena_init(&r->msg_arena);
    clock_gettime(CLOCK_MONOTONIC, &r->started);
    w->in_flight++;
    return r;
}

void api_worker_dispose(worker_t *w)
{
    while (w->free_requests) {
        api_request_t *r = w->free_requests;
        w->free_requests = r->next_free;
        free(r);
    }
    w->nfree_requests = 0;
}

/* ---- request side ------------------------------------------------------- */

static int header_is(const h2o_header_t *h, const char *name, size_t len)
{
    return h->name->len == len && h2o_lcstris(h->name->base, h->name->len, name, len);
}

/* An id to correlate the logs by, when the client sent none. */
static void make_request_id(api_request_t *r)
{
    char *id = arena_alloc_aligned(&r->arena, 16, 1);
    if (id == NULL)
        return;
    rng_hex(&r->w->id_rng, id, 16);
    r->request_id = id;
    r->request_id_len = 16;
}

/* Request headers that travel upstream as gRPC metadata. */
static size_t collect_metadata(api_request_t *r, upstream_header_t *md, uint32_t *client_timeout)
{
    size_t n = 0;
    h2o_headers_t *hs = &r->req->headers;
    for (size_t i = 0; i < hs->size && n < API_MAX_METADATA - 2; i++) {
        const h2o_header_t *h = &hs->entries[i];
        if (header_is(h, H2O_STRLIT("grpc-timeout"))) {
            *client_timeout = request_path_grpc_timeout(h->value.base, h->value.len);
        } else if (header_is(h, H2O_STRLIT("x-request-id"))) {
            r->request_id = h->value.base;
            r->request_id_len = h->value.len;
        } else if (header_is(h, H2O_STRLIT("traceparent"))) {
            if (trace_traceparent(&r->trace) == NULL) /* ours replaces it when tracing says so */
                md[n++] = (upstream_header_t){h->name->base, h->name->len, h->value.base, h->value.len};
        } else if (header_is(h, H2O_STRLIT("authorization")) || header_is(h, H2O_STRLIT("tracestate"))) {
            md[n++] = (upstream_header_t){h->name->base, h->name->len, h->value.base, h->value.len};
        } else if (h->name->len > 14 && h2o_lcstris(h->name->base, 14, H2O_STRLIT("grpc-metadata-"))) {
            md[n++] = (upstream_header_t){h->name->base + 14, h->name->len - 14, h->value.base, h->value.len};
        }
    }
    if (r->request_id == NULL)
        make_request_id(r);
    if (r->request_id)
        md[n++] = (upstream_header_t){"x-request-id", 12, r->request_id, r->request_id_len};
    const char *tp = trace_traceparent(&r->trace);
    if (tp != NULL)
        md[n++] = (upstream_header_t){"traceparent", 11, tp, TRACE_PARENT_LEN};
    return n;
}

static int is_json_content_type(const h2o_req_t *req)
{
    ssize_t i = h2o_find_header(&req->headers, H2O_TOKEN_CONTENT_TYPE, -1);
    if (i < 0)
        return 1; /* no claim: take it as JSON */
    h2o_iovec_t v = req->headers.entries[i].value;
    size_t end = 0;
    while (end < v.len && v.base[end] != ';' && v.base[end] != ' ')
        end++;
    if (h2o_lcstris(v.base, end, H2O_STRLIT("application/json")))
        return 1;
    return end > 17 && h2o_lcstris(v.base, 12, H2O_STRLIT("application/")) &&
           h2o_lcstris(v.base + end - 5, 5, H2O_STRLIT("+json"));
}

/* ---- rate limits ---------------------------------------------------------- */

/* A keyed rate limit's key for this request (state/rate_limit.h). */
static const void *limit_key(void *ctx, config_rate_key_t kind, const char *header, size_t *len)
{
    api_request_t *r = ctx;
    h2o_req_t *req = r->req;
    *len = 0;
    if (kind == CONFIG_RATE_KEY_ADDRESS) {
        struct sockaddr_storage ss;
        if (req->conn->callbacks->get_peername(req->conn, (struct sockaddr *)&ss) == 0)
            return NULL;
        *len = addr_client_bytes((const struct sockaddr *)&ss, r->peer);
        return *len ? r->peer : NULL;
    }
    ssize_t i = h2o_find_header_by_str(&req->headers, header, strlen(header), -1);
    if (i < 0)
        return NULL;
    *len = req->headers.entries[i].value.len;
    return req->headers.entries[i].value.base;
}

/* 1 when a rate limit turned the request away (answered 429, Retry-After). */
static int rate_limited(api_request_t *r)
{
    worker_t *w = r->w;
    rate_limit_denial_t d;
    uint64_t now = (uint64_t)r->started.tv_sec * 1000000000u + (uint64_t)r->started.tv_nsec;
    if (rate_limiter_admit(w->limiter, r->route->method_row, limit_key, r, now, &d))
        return 0;
    rate_limit_state_t st;
    rate_limits_get(w->shared->rate_limits, d.limit, &st);
    uint64_t secs = (d.retry_after_ns + 999999999u) / 1000000000u;
    char *v = h2o_mem_alloc_pool(&r->req->pool, 24);
    size_t vl = (size_t)(decimal_write_u64(v, secs ? secs : 1) - v);
    h2o_add_header(&r->req->pool, &r->req->res.headers, H2O_TOKEN_RETRY_AFTER, NULL, v, vl);
    metrics_record_rate_limited(w->metrics, (size_t)(r->binding - binding_at(w->shared->bindings, 0)), d.limit);
    char msg[256];
    snprintf(msg, sizeof(msg), "rate limit \"%.60s\" exceeded: %g requests a second%s%.60s", st.cfg->name, st.rate,
             st.cfg->key == CONFIG_RATE_KEY_ADDRESS  ? " per client address"
             : st.cfg->key == CONFIG_RATE_KEY_HEADER ? " per value of "
                                                     : "",
             st.cfg->key == CONFIG_RATE_KEY_HEADER ? st.cfg->header : "");
    respond_error(r, 429, GRPC_RESOURCE_EXHAUSTED, msg, NULL, 0);
    return 1;
}

/* ---- response side ------------------------------------------------------ */

static void add_response_metadata(api_request_t *r)
{
    for (size_t i = 0; i < r->nresp_md; i++) {
        const upstream_header_t *h = &r->resp_md[i];
        size_t nl = 14 + h->name_len;
        char *name = h2o_mem_alloc_pool(&r->req->pool, nl);
        memcpy(name, "grpc-metadata-", 14);
        memcpy(name + 14, h->name, h->name_len);
        h2o_add_header_by_str(&r->req->pool, &r->req->res.headers, name, nl, 0, NULL, h->value, h->value_len);
    }
}

/* Response metadata worth passing on: not the transport's own. */
static int forwardable(const upstream_header_t *h)
{
    if (h->name_len >= 5 && memcmp(h->name, "grpc-", 5) == 0)
        return 0;
    static const char *const skip[] = {"content-type", "content-length", "date", "server", "te",
                                       "trailer", "transfer-encoding", "connection", "x-request-id"};
    for (size_t i = 0; i < sizeof(skip) / sizeof(skip[0]); i++)
        if (strlen(skip[i]) == h->name_len && memcmp(skip[i], h->name, h->name_len) == 0)
            return 0;
    return 1;
}

static void keep_metadata(api_request_t *r, const upstream_header_t *hs, size_t n)
{
    size_t keep = 0;
    for (size_t i = 0; i < n; i++)
        keep += forwardable(&hs[i]);
    if (keep == 0)
        return;
    upstream_header_t *all = arena_alloc(&r->arena, (r->nresp_md + keep) * sizeof(*all));
    if (all == NULL)
        return;
    if (r->nresp_md)
        memcpy(all, r->resp_md, r->nresp_md * sizeof(*all));
    for (size_t i = 0; i < n; i++) {
        if (!forwardable(&hs[i]))
            continue;
        /* the upstream's buffers are gone after the callback */
        all[r->nresp_md++] = (upstream_header_t){arena_memdup(&r->arena, hs[i].name, hs[i].name_len),
                                                 hs[i].name_len,
                                                 arena_memdup(&r->arena, hs[i].value, hs[i].value_len),
                                                 hs[i].value_len};
    }
    r->resp_md = all;
}

static void noop_proceed(h2o_generator_t *g, h2o_req_t *req)
{
    (void)g;
    (void)req;
}

static void noop_stop(h2o_generator_t *g, h2o_req_t *req)
{
    (void)g;
    (void)req;
}

static void send_unary(api_request_t *r)
{
    h2o_req_t *req = r->req;
    r->state = API_RESPONDED;
    req->res.status = r->route->success_status;
    req->res.reason = response_reason(req->res.status);
    req->res.content_length = r->json.len;
    h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_CONTENT_TYPE, NULL, H2O_STRLIT("application/json"));
    add_response_headers(r);
    add_response_metadata(r);
    r->generator = (h2o_generator_t){noop_proceed, noop_stop};
    h2o_start_response(req, &r->generator);
    h2o_iovec_t body = h2o_iovec_init(r->json.data, r->json.len);
    h2o_send(req, &body, 1, H2O_SEND_STATE_FINAL);
}

/* grpc-status-details-bin: a base64 google.rpc.Status; its `details`
 * become the error's. Anything unreadable gives [] rather than an error
 * about the error. */
static size_t render_details(api_request_t *r, const upstream_header_t *trailers, size_t n, const char **out)
{
    const schema_t *schema = r->w->shared->schema;
    const schema_message_t *status_msg = schema_find_message(schema, "google.rpc.Status", 17);
    if (status_msg == NULL)
        return 0;
    const schema_field_t *details = schema_field_by_number(status_msg, 3);
    for (size_t i = 0; i < n && details; i++) {
        const upstream_header_t *h = &trailers[i];
        if (h->name_len != 23 || memcmp(h->name, "grpc-status-details-bin", 23) != 0)
            continue;
        uint8_t *bin = arena_alloc_aligned(&r->arena, h->value_len / 4 * 3 + 4, 1);
        long len = bin ? scalar_base64_decode(bin, h->value, h->value_len) : -1;
        if (len < 0)
            return 0;
        buf_t json;
        buf_init(&json, &r->arena, 256);
        status_t st;
        if (transcode_pb_field_to_json(schema, status_msg, details, bin, (size_t)len,
                                       &r->w->shared->cfg->transcode, &json, &st) != 0)
            return 0;
        *out = json.data;
        return json.len;
    }
    return 0;
}

/* ---- streaming ---------------------------------------------------------- */

static void stream_flush(api_request_t *r);

static void stream_proceed(h2o_generator_t *g, h2o_req_t *req)
{
    (void)req;
    api_request_t *r = (api_request_t *)g;
    r->on_wire = 0;
    r->out[!r->filling].len = 0; /* the buffer h2o held is ours again */
    if (r->paused && r->out[r->filling].len < API_STREAM_HIGH_WATER / 2 && r->call_active) {
        r->paused = 0;
        upstream_call_resume(r->call);
    }
    stream_flush(r);
}

static void stream_stop(h2o_generator_t *g, h2o_req_t *req)
{
    (void)req;
    api_request_t *r = (api_request_t *)g;
    if (r->call_active) {
        upstream_call_cancel(r->call);
        r->call_active = 0;
        r->grpc_code = GRPC_CANCELLED;
        r->client_cancelled = 1;
        r->call_us = clock_us_since(&r->call_started);
    }
    r->state = API_RESPONDED;
}

/* Sends what is buffered, and the end once the call is over. */
static void stream_flush(api_request_t *r)
{
    if (r->on_wire || r->state == API_RESPONDED)
        return;
    stream_out_t *o = &r->out[r->filling];
    if (o->len == 0 && !r->stream_done)
        return;
    h2o_iovec_t v = h2o_iovec_init(o->data ? o->data : "", o->len);
    int final = r->stream_done;
    r->on_wire = 1;
    r->filling = !r->filling;
    if (final)
        r->state = API_RESPONDED;
    h2o_send(r->req, &v, 1, final ? H2O_SEND_STATE_FINAL : H2O_SEND_STATE_IN_PROGRESS);
}

static int stream_append(api_request_t *r, const char *data, size_t len)
{
    stream_out_t *o = &r->out[r->filling];
    if (o->cap - o->len < len) {
        size_t cap = o->cap ? o->cap : 4096;
        while (cap - o->len < len)
            cap *= 2;
        char *p = realloc(o->data, cap);
        if (p == NULL)
            return -1;
        o->data = p;
        o->cap = cap;
    }
    memcpy(o->data + o->len, data, len);
    o->len += len;
    return 0;
}

static void stream_start(api_request_t *r)
{
    h2o_req_t *req = r->req;
    r->state = API_STREAMING;
    req->res.status = r->route->success_status;
    req->res.reason = response_reason(req->res.status);
    h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_CONTENT_TYPE, NULL, H2O_STRLIT("application/x-ndjson"));
    add_response_headers(r);
    add_response_metadata(r);
    r->generator = (h2o_generator_t){stream_proceed, stream_stop};
    h2o_start_response(req, &r->generator);
}

/* ---- upstream callbacks ----------------------------------------------- */

static void on_headers(void *ctx, const upstream_header_t *headers, size_t n)
{
    api_request_t *r = ctx;
    keep_metadata(r, headers, n);
}

static void on_message(void *ctx, const uint8_t *data, size_t len)
{
    api_request_t *r = ctx;
    const shared_t *sh = r->w->shared;
    if (r->binding->method->server_streaming) {
        if (r->state == API_RESPONDED)
            return;
        if (r->state == API_CALLING)
            stream_start(r);
        arena_reset(&r->msg_arena);
        buf_t json;
        buf_init(&json, &r->msg_arena, 512);
        status_t st;
        if (binding_response_to_json(sh->schema, r->binding, data, len, &r->route->opt, &json, &st) != 0) {
            buf_t line;
            buf_init(&line, &r->msg_arena, 256);
            buf_puts_lit(&line, "{\"error\":");
            status_render_json(&line, st.code, st.message, strlen(st.message), NULL, 0, 0);
            buf_puts_lit(&line, "}\n");
            stream_append(r, line.data, line.len);
        } else {
            buf_putc(&json, '\n');
            if (json.oom || stream_append(r, json.data, json.len) != 0) {
                status_set(&r->st, GRPC_RESOURCE_EXHAUSTED, "streamed message too large");
                r->response_error = 1;
            }
        }
        if (r->out[r->filling].len > API_STREAM_HIGH_WATER && !r->paused && r->call_active) {
            r->paused = 1;
            upstream_call_pause(r->call);
        }
        stream_flush(r);
        return;
    }
    if (r->got_message++) {
        status_set(&r->st, GRPC_INTERNAL, "upstream sent more than one message for a unary method");
        r->response_error = 1;
        return;
    }
    buf_init(&r->json, &r->arena, len * 2 + 64);
    if (binding_response_to_json(sh->schema, r->binding, data, len, &r->route->opt, &r->json, &r->st) != 0)
        r->response_error = 1;
}

static void on_close(void *ctx, int code, const char *message, size_t message_len, const upstream_header_t *trailers,
                     size_t n)
{
    api_request_t *r = ctx;
    r->call_active = 0;
    r->call_us = clock_us_since(&r->call_started);
    r->grpc_code = code;
    if (code == GRPC_OK && r->response_error)
        r->grpc_code = r->st.code;
    const char *details = NULL;
    size_t details_len = code != GRPC_OK ? render_details(r, trailers, n, &details) : 0;
    if (code == GRPC_OK)
        keep_metadata(r, trailers, n);

    if (r->binding->method->server_streaming) {
        if (r->state == API_RESPONDED)
            return;
        if (r->state == API_CALLING && code != GRPC_OK) {
            /* nothing streamed yet: a plain error response is clearer */
            char msg[300];
            snprintf(msg, sizeof(msg), "%.*s", (int)(message_len > 290 ? 290 : message_len), message ? message : "");
            respond_error(r, status_http_from_grpc(code), code, msg, details, details_len);
            return;
        }
        if (r->state == API_CALLING)
            stream_start(r);
        if (code != GRPC_OK || r->response_error) {
            buf_t line;
            arena_reset(&r->msg_arena);
            buf_init(&line, &r->msg_arena, 256);
            buf_puts_lit(&line, "{\"error\":");
            if (code != GRPC_OK)
                status_render_json(&line, code, message ? message : "", message ? message_len : 0, details,
                                   details_len, 0);
            else
                status_render_json(&line, r->st.code, r->st.message, strlen(r->st.message), NULL, 0, 0);
            buf_puts_lit(&line, "}\n");
            stream_append(r, line.data, line.len);
        }
        r->stream_done = 1;
        stream_flush(r);
        return;
    }

    if (code != GRPC_OK) {
        char msg[300];
        snprintf(msg, sizeof(msg), "%.*s", (int)(message_len > 290 ? 290 : message_len), message ? message : "");
        respond_error(r, status_http_from_grpc(code), code, msg, details, details_len);
    } else if (r->response_error) {
        respond_error(r, status_http_from_grpc(r->st.code), r->st.code, r->st.message, NULL, 0);
    } else if (!r->got_message) {
        r->grpc_code = GRPC_INTERNAL;
        respond_error(r, 500, GRPC_INTERNAL, "upstream closed the call without a response message", NULL, 0);
    } else {
        send_unary(r);
    }
}

static const upstream_handlers_t handlers = {.on_headers = on_headers, .on_message = on_message, .on_close = on_close};

/* ---- the handler --------------------------------------------------------- */

int api_handle(h2o_req_t *req)
{
    worker_t *w = worker_of(req->conn->ctx);
    const shared_t *sh = w->shared;
    api_request_t *r = acquire(w, req);
    if (r == NULL) {
        response_error(req, 503, GRPC_UNAVAILABLE, H2O_STRLIT("out of memory"), NULL, 0, w->shared->error_field);
        return 0;
    }
    if (w->trace != NULL) {
        size_t tp_len;
        const char *tp = header_value(req, H2O_STRLIT("traceparent"), &tp_len);
        trace_begin(w->trace, &r->trace, tp, tp_len);
    }
    /* no 503 while draining: a request that reaches a draining worker came
     * on a connection it already had, and is served (HTTP/1.1 with
     * Connection: close); turning it away would lose it in a handover */
    size_t path_len = req->query_at != SIZE_MAX ? req->query_at : req->path.len;
    route_match_t m;
    route_result_t rr = route_match(binding_routes(sh->bindings), req->method.base, req->method.len, req->path.base,
                                    path_len, &r->arena, &m);
    switch (rr) {
    case ROUTE_FOUND:
        break;
    case ROUTE_NOT_FOUND: {
        char msg[300];
        snprintf(msg, sizeof(msg), "no route for %.*s %.*s", (int)(req->method.len > 16 ? 16 : req->method.len),
                 req->method.base, (int)(path_len > 200 ? 200 : path_len), req->path.base);
        respond_error(r, 404, GRPC_NOT_FOUND, msg, NULL, 0);
        return 0;
    }
    case ROUTE_METHOD_NOT_ALLOWED: {
        if (m.allow)
            h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_ALLOW, NULL, m.allow, strlen(m.allow));
        char msg[200];
        snprintf(msg, sizeof(msg), "method %.*s not allowed; allowed: %s",
                 (int)(req->method.len > 16 ? 16 : req->method.len), req->method.base, m.allow ? m.allow : "");
        respond_error(r, 405, GRPC_UNIMPLEMENTED, msg, NULL, 0);
        return 0;
    }
    case ROUTE_BAD_PATH:
    default:
        respond_error(r, 400, GRPC_INVALID_ARGUMENT, "malformed path (bad percent-encoding or too long)", NULL, 0);
        return 0;
    }
    const binding_t *b = m.target;
    r->binding = b;
    r->route = &sh->routes[b - binding_at(sh->bindings, 0)];
    const transcode_options_t *opt = &r->route->opt;
    /* before anything costs: a request over its limit is turned away unread */
    if (sh->cfg->nrate_limits && rate_limited(r))
        return 0;

    if (req->entity.len > opt->max_body) {
        char msg[120];
        snprintf(msg, sizeof(msg), "body of %zu bytes is over the limit of %zu", req->entity.len, opt->max_body);
        respond_error(r, 413, GRPC_RESOURCE_EXHAUSTED, msg, NULL, 0);
        return 0;
    }
    if (req->entity.len > 0 && b->body != BINDING_BODY_NONE && !is_json_content_type(req)) {
        respond_error(r, 415, GRPC_INVALID_ARGUMENT, "content-type must be application/json", NULL, 0);
        return 0;
    }

    upstream_header_t *md = arena_alloc(&r->arena, API_MAX_METADATA * sizeof(*md));
    uint32_t timeout = 0;
    size_t nmd = md ? collect_metadata(r, md, &timeout) : 0;
    if (timeout == 0)
        timeout = r->route->timeout_ms;

    buf_t pb;
    buf_init(&pb, &r->arena, req->entity.len + 64);
    const char *query = req->query_at != SIZE_MAX ? req->path.base + req->query_at + 1 : NULL;
    size_t query_len = query ? req->path.len - req->query_at - 1 : 0;
    transcode_report_t report = {0};
    if (binding_request_to_pb(sh->schema, b, m.vars, m.nvars, query, query_len, req->entity.base, req->entity.len, opt,
                              &pb, &r->st, &report) != 0) {
        respond_error(r, status_http_from_grpc(r->st.code), r->st.code, r->st.message, NULL, 0);
        return 0;
    }
    if (report.unknown_fields)
        metrics_record_unknown_fields(w->metrics, (size_t)(b - binding_at(sh->bindings, 0)), report.unknown_fields);

    r->version = request_path_pick(&sh->split.clusters[r->route->cluster], req, &w->rng);

    r->state = API_CALLING;
    r->call_active = 1;
    clock_gettime(CLOCK_MONOTONIC, &r->call_started);
    r->call = request_path_call(w, r->version, b->method->grpc_path, (const uint8_t *)pb.data, pb.len, md, nmd,
                                timeout, &handlers, r);
    if (r->call == NULL)
        r->call_active = 0; /* on_close has run and answered */
    return 0;
}
