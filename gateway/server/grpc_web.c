/*
 * grpc_web.c: one gRPC-Web call, from the request to the trailer frame.
 *
 * Which front end: all of them. h2o's HTTP/1.1 (epoll), front/http1_uring
 * and h2o's HTTP/2 hand a handler the same two things: an h2o request
 * whose body is whole (h2o buffers it up to max_request_entity_size; the
 * io_uring front end parses whole requests), and a generator whose
 * proceed() says that the bytes given last are on their way. That is all
 * gRPC-Web needs (its trailers travel in the body, and browsers cannot
 * stream a request body), so a call is served by whichever front end took
 * its connection, and none hands it to another.
 *
 * A call context comes from the worker's free list and goes back when h2o
 * disposes of the request's pool: the hook where a call still running is
 * cancelled (the client went away), and where it is counted and logged.
 *
 * States:
 *   CALLING    the upstream call is open and nothing of the response has
 *              left: what arrives is gathered, and an end with no message
 *              before it is answered trailers-only (the status in the HTTP
 *              headers). The gateway's own refusals (unknown method, a bad
 *              body) leave from here too, as a trailer frame in the body,
 *              which every gRPC-Web client reads.
 *   STREAMING  the response has started: frames go out as they come, one
 *              h2o_send at a time, the next when h2o proceeds.
 *   ENDED      the last bytes are h2o's, or the client is gone.
 *
 * Output gathers per loop iteration: each upstream callback appends to
 * out[filling] and links the loop's zero timeout, whose callback sends
 * what is there (the end is sent at once). A unary call's headers, message
 * and trailers usually arrive in one read, so they leave in one send, with
 * a Content-Length.
 *
 * Bounds: the request body, decoded, is limits.max_body; a response
 * message is limits.max_output at most (over it the call ends
 * RESOURCE_EXHAUSTED); unsent output above GW_HIGH_WATER pauses the
 * upstream (upstream_call_pause: its HTTP/2 window stops opening) until a
 * slow client has taken half of it, so a stream holds at most that plus
 * one message.
 */
#include "server/grpc_web.h"

#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/clock.h"
#include "core/rng.h"
#include "core/status.h"
#include "http/grpc_web_frame.h"
#include "http/response.h"
#include "server/access_log.h"
#include "server/metrics.h"
#include "server/request_path.h"
#include "server/trace.h"
#include "server/worker.h"
#include "state/methods.h"
#include "state/rate_limit.h"
#include "state/shared.h"
#include "upstream/upstream.h"

#define GW_MAX_FREE 1024
#define GW_KEEP_BUFFER (64 * 1024)  /* a recycled context keeps output buffers up to this size */
#define GW_HIGH_WATER (256 * 1024)  /* unsent output that pauses the upstream */
#define GW_MAX_METADATA 100         /* request headers passed on as metadata (h2o's HTTP/1.1 limit) */
#define GW_MAX_ECHOED_HEADERS 1024  /* bytes of a preflight's Access-Control-Request-Headers echoed */

typedef enum gw_state {
    GW_CALLING,
    GW_STREAMING,
    GW_ENDED,
} gw_state_t;

typedef struct gw_bytes {
    char *data;
    size_t len, cap;
} gw_bytes_t;

typedef struct grpc_web_call grpc_web_call_t;
struct grpc_web_call {
    h2o_generator_t generator;      /* first: h2o hands it back to proceed and stop */
    grpc_web_call_t *next_free;
    worker_t *w;
    h2o_req_t *req;
    gw_state_t state;
    grpc_web_frame_mode_t mode;
    h2o_iovec_t content_type;       /* the response's: the request's media type */
    const method_row_t *row;        /* NULL: no such method (or a preflight) */
    size_t row_index;
    const split_version_t *version; /* the version picked for the call */
    upstream_call_t *call;
    int opened;                     /* the upstream call was made: it counts for its version */
    int call_active;                /* opened, no on_close yet, not cancelled */
    int call_over;                  /* the end (trailer frame or trailers-only headers) is in place */
    int send_error;                 /* ... or no end fits in memory: the response ends in an error (a reset) */
    int got_headers;
    int on_wire;                    /* an h2o_send waits for proceed */
    int paused;
    int client_cancelled;           /* the client went with the call in flight */
    int grpc_code;                  /* -1 until known */
    const char *origin;             /* the request's Origin when allowed: CORS headers go with the answer */
    size_t origin_len;
    gw_bytes_t out[2];              /* out[filling] gathers; the other is h2o's while on_wire */
    int filling;
    size_t max_message;
    h2o_timeout_entry_t flush_entry;
    struct timespec started, call_started;
    uint64_t call_us;
    const char *request_id;
    size_t request_id_len;
    unsigned char peer[16];         /* the client's address, as a rate limit's key */
    trace_span_t trace;             /* its spans' context (server/trace.h) */
};

/* ---- contexts ---------------------------------------------------------- */

/* The call's spans, to the exporter (server/trace.h). */
static void trace_call(grpc_web_call_t *c, int status)
{
    h2o_req_t *req = c->req;
    const split_version_t *v = c->opened ? c->version : NULL;
    trace_end_info_t e = {
        .door = TRACE_DOOR_GRPC_WEB,
        .started = &c->started,
        .call_started = v ? &c->call_started : NULL,
        .us = clock_us_since(&c->started),
        .call_us = c->call_us,
        .method = req->method.base,
        .method_len = req->method.len,
        .path = req->path.base,
        .path_len = req->query_at != SIZE_MAX ? req->query_at : req->path.len,
        .host = req->authority.base,
        .host_len = req->authority.len,
        .route = c->row && c->row->method ? c->row->method->grpc_path : NULL,
        .rpc_path = c->row && c->row->method ? c->row->method->grpc_path : NULL,
        .http_status = status,
        .grpc_code = c->grpc_code,
        .up_code = c->client_cancelled ? -1 : c->grpc_code,
        .version = v ? v->name : NULL,
        .cluster = v ? v->cluster->cfg->name : NULL,
        .up_host = v && v->ntargets ? v->targets[0].host : NULL,
        .up_port = v && v->ntargets ? v->targets[0].port : 0,
    };
    ssize_t i = h2o_find_header_by_str(&req->headers, H2O_STRLIT("tracestate"), -1);
    if (i >= 0) {
        e.tracestate = req->headers.entries[i].value.base;
        e.tracestate_len = req->headers.entries[i].value.len;
    }
    trace_end(c->w->trace, &c->trace, &e);
}

static void record(grpc_web_call_t *c)
{
    worker_t *w = c->w;
    h2o_req_t *req = c->req;
    uint64_t us = clock_us_since(&c->started);
    /* an HTTP request on the REST port like any other (http_*, its route
     * the method's path; a client's cancel 499, as REST counts it), and a
     * gRPC call (grpc_*, source grpc-web) */
    int status = c->client_cancelled ? 499 : req->res.status;
    if (c->row != NULL)
        metrics_record_http_grpc_web(w->metrics, c->row_index, status, us, req->entity.len, req->bytes_sent);
    else
        metrics_record_http(w->metrics, SIZE_MAX, req->method.base, req->method.len, status, us, req->entity.len,
                            req->bytes_sent);
    if (c->row != NULL && c->grpc_code >= 0)
        metrics_record_grpc(w->metrics, c->row_index, METRICS_SOURCE_GRPC_WEB, c->grpc_code,
                            c->opened ? c->call_us : us);
    /* a client's cancel says nothing of the version: kept out of its gates */
    if (c->opened && c->client_cancelled)
        metrics_record_upstream_cancelled(w->metrics, c->version->row);
    else if (c->opened)
        metrics_record_upstream(w->metrics, c->version->row, c->grpc_code, c->call_us);
    if (c->trace.sampled)
        trace_call(c, c->client_cancelled ? 499 : req->res.status);
    if (w->log.fd < 0)
        return;
    struct timespec wall;
    clock_gettime(CLOCK_REALTIME, &wall);
    size_t path_len = req->query_at != SIZE_MAX ? req->query_at : req->path.len;
    access_log_entry_t e = {
        .unix_ms = (int64_t)wall.tv_sec * 1000 + wall.tv_nsec / 1000000,
        .method = req->method.base,
        .method_len = req->method.len,
        .route = c->row && c->row->method ? c->row->method->grpc_path : NULL,
        .path = req->path.base,
        .path_len = path_len,
        .status = status, /* a client's cancel: 499, as REST logs it */
        .grpc_status = c->grpc_code,
        .bytes_sent = req->bytes_sent,
        .duration_us = us,
        .upstream_us = c->opened ? (int64_t)c->call_us : -1,
        .upstream = c->row ? w->shared->cfg->clusters[c->row->cluster].name : NULL,
        .version = c->version && c->version->cluster->named ? c->version->name : NULL,
        .request_id = c->request_id,
        .request_id_len = c->request_id_len,
    };
    access_log_add(&w->log, &e);
}

/* The gateway ends the call (or the client is gone): no callback after. */
static void cancel_call(grpc_web_call_t *c, int code)
{
    if (!c->call_active)
        return;
    upstream_call_cancel(c->call);
    c->call_active = 0;
    c->grpc_code = code;
    c->call_us = clock_us_since(&c->call_started);
}

static void release(grpc_web_call_t *c)
{
    worker_t *w = c->w;
    for (int i = 0; i < 2; i++) {
        if (c->out[i].cap > GW_KEEP_BUFFER) {
            free(c->out[i].data);
            c->out[i] = (gw_bytes_t){NULL, 0, 0};
        }
    }
    w->in_flight--;
    if (w->nfree_grpc_web < GW_MAX_FREE) {
        c->next_free = w->free_grpc_web;
        w->free_grpc_web = c;
        w->nfree_grpc_web++;
    } else {
        free(c->out[0].data);
        free(c->out[1].data);
        free(c);
    }
}

static void on_pool_dispose(void *p)
{
    grpc_web_call_t *c = *(grpc_web_call_t **)p;
    c->client_cancelled |= c->call_active;
    cancel_call(c, GRPC_CANCELLED);
    c->state = GW_ENDED;
    if (h2o_timeout_is_linked(&c->flush_entry))
        h2o_timeout_unlink(&c->flush_entry);
    record(c);
    release(c);
}

static void on_flush(h2o_timeout_entry_t *entry);

static grpc_web_call_t *acquire(worker_t *w, h2o_req_t *req)
{
    grpc_web_call_t *c = w->free_grpc_web;
    if (c != NULL) {
        w->free_grpc_web = c->next_free;
        w->nfree_grpc_web--;
    } else if ((c = calloc(1, sizeof(*c))) == NULL) {
        return NULL;
    }
    grpc_web_call_t **hook = h2o_mem_alloc_shared(&req->pool, sizeof(*hook), on_pool_dispose);
    *hook = c;
    gw_bytes_t out0 = c->out[0], out1 = c->out[1];
    *c = (grpc_web_call_t){.w = w, .req = req, .state = GW_CALLING, .grpc_code = -1};
    c->out[0] = (gw_bytes_t){out0.data, 0, out0.cap};
    c->out[1] = (gw_bytes_t){out1.data, 0, out1.cap};
    c->flush_entry.cb = on_flush;
    c->max_message = w->shared->cfg->transcode.max_output;
    clock_gettime(CLOCK_MONOTONIC, &c->started);
    w->in_flight++;
    return c;
}

void grpc_web_worker_dispose(worker_t *w)
{
    while (w->free_grpc_web) {
        grpc_web_call_t *c = w->free_grpc_web;
        w->free_grpc_web = c->next_free;
        free(c->out[0].data);
        free(c->out[1].data);
        free(c);
    }
    w->nfree_grpc_web = 0;
}

/* ---- output -------------------------------------------------------------- */

static int reserve(gw_bytes_t *b, size_t n)
{
    if (b->cap - b->len >= n)
        return 0;
    size_t cap = b->cap ? b->cap : 4096;
    while (cap - b->len < n)
        cap *= 2;
    char *p = realloc(b->data, cap);
    if (p == NULL)
        return -1;
    b->data = p;
    b->cap = cap;
    return 0;
}

/* One message as a frame (its flags as the upstream sent them: compressed
 * or not): binary, or base64 of prefix and message as one unit. */
static int append_message(grpc_web_call_t *c, uint8_t flags, const uint8_t *data, size_t len)
{
    gw_bytes_t *o = &c->out[c->filling];
    uint8_t prefix[5];
    grpc_web_frame_prefix(prefix, flags, (uint32_t)len);
    if (c->mode == GRPC_WEB_FRAME_TEXT) {
        if (reserve(o, grpc_web_frame_encoded_len(5 + len)) != 0)
            return -1;
        grpc_web_frame_encoder_t e;
        grpc_web_frame_encoder_init(&e);
        char *p = grpc_web_frame_encode(&e, prefix, 5, o->data + o->len);
        p = grpc_web_frame_encode(&e, data, len, p);
        p = grpc_web_frame_encode_end(&e, p);
        o->len = (size_t)(p - o->data);
        return 0;
    }
    if (reserve(o, 5 + len) != 0)
        return -1;
    memcpy(o->data + o->len, prefix, 5);
    if (len)
        memcpy(o->data + o->len + 5, data, len);
    o->len += 5 + len;
    return 0;
}

/* The trailer frame: grpc-status, grpc-message (percent-encoded), then the
 * other trailers, each an HTTP/1 header line; base64 on its own for -text. */
static int append_trailers(grpc_web_call_t *c, int code, const char *msg, size_t msg_len,
                           const upstream_header_t *trailers, size_t n)
{
    char status[16];
    int sl = snprintf(status, sizeof(status), "%d", code);
    size_t enc_len = msg_len ? grpc_web_frame_percent_len(msg, msg_len) : 0;
    size_t plen = grpc_web_frame_header_line_len(11, (size_t)sl);
    if (msg_len)
        plen += grpc_web_frame_header_line_len(12, enc_len);
    for (size_t i = 0; i < n; i++)
        plen += grpc_web_frame_header_line_len(trailers[i].name_len, trailers[i].value_len);
    gw_bytes_t *o = &c->out[c->filling];
    char *raw;
    if (c->mode == GRPC_WEB_FRAME_TEXT) {
        raw = h2o_mem_alloc_pool(&c->req->pool, 5 + plen);
    } else {
        if (reserve(o, 5 + plen) != 0)
            return -1;
        raw = o->data + o->len;
    }
    char *p = (char *)grpc_web_frame_prefix((uint8_t *)raw, GRPC_WEB_FRAME_TRAILERS, (uint32_t)plen);
    p = grpc_web_frame_header_line(p, "grpc-status", 11, status, (size_t)sl);
    if (msg_len) {
        memcpy(p, "grpc-message: ", 14);
        p = grpc_web_frame_percent_encode(p + 14, msg, msg_len);
        *p++ = '\r';
        *p++ = '\n';
    }
    for (size_t i = 0; i < n; i++)
        p = grpc_web_frame_header_line(p, trailers[i].name, trailers[i].name_len, trailers[i].value,
                                       trailers[i].value_len);
    if (c->mode != GRPC_WEB_FRAME_TEXT) {
        o->len += 5 + plen;
        return 0;
    }
    if (reserve(o, grpc_web_frame_encoded_len(5 + plen)) != 0)
        return -1;
    grpc_web_frame_encoder_t e;
    grpc_web_frame_encoder_init(&e);
    char *q = grpc_web_frame_encode(&e, (const uint8_t *)raw, 5 + plen, o->data + o->len);
    o->len = (size_t)(grpc_web_frame_encode_end(&e, q) - o->data);
    return 0;
}

static void add_header_copy(h2o_req_t *req, const char *name, size_t name_len, const char *value, size_t value_len)
{
    h2o_iovec_t n = h2o_strdup(&req->pool, name, name_len), v = h2o_strdup(&req->pool, value, value_len);
    h2o_add_header_by_str(&req->pool, &req->res.headers, n.base, n.len, 1, NULL, v.base, v.len);
}

/* The end before any message: status and trailers as response headers. */
static void set_trailers_only(grpc_web_call_t *c, int code, const char *msg, size_t msg_len,
                              const upstream_header_t *trailers, size_t n)
{
    h2o_req_t *req = c->req;
    char status[16];
    int sl = snprintf(status, sizeof(status), "%d", code);
    add_header_copy(req, "grpc-status", 11, status, (size_t)sl);
    if (msg_len) {
        size_t enc_len = grpc_web_frame_percent_len(msg, msg_len);
        char *enc = h2o_mem_alloc_pool(&req->pool, enc_len);
        grpc_web_frame_percent_encode(enc, msg, msg_len);
        h2o_add_header_by_str(&req->pool, &req->res.headers, H2O_STRLIT("grpc-message"), 0, NULL, enc, enc_len);
    }
    for (size_t i = 0; i < n; i++)
        add_header_copy(req, trailers[i].name, trailers[i].name_len, trailers[i].value, trailers[i].value_len);
}

/* CORS on the answer to an allowed origin: which origin, and the response
 * headers its script may read (the status ones, for trailers-only answers,
 * and every other header this answer carries). */
static void add_cors_headers(grpc_web_call_t *c)
{
    h2o_req_t *req = c->req;
    h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_ACCESS_CONTROL_ALLOW_ORIGIN, NULL, c->origin,
                   c->origin_len);
    h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_VARY, NULL, H2O_STRLIT("Origin"));
    static const char base[] = "grpc-status, grpc-message, grpc-status-details-bin";
    size_t len = sizeof(base) - 1;
    for (size_t i = 0; i < req->res.headers.size; i++)
        len += req->res.headers.entries[i].name->len + 2;
    char *list = h2o_mem_alloc_pool(&req->pool, len), *p = list;
    memcpy(p, base, sizeof(base) - 1);
    p += sizeof(base) - 1;
    for (size_t i = 0; i < req->res.headers.size; i++) {
        const h2o_iovec_t *name = req->res.headers.entries[i].name;
        if (h2o_memis(name->base, name->len, H2O_STRLIT("content-type")) || h2o_memis(name->base, name->len, H2O_STRLIT("vary")) ||
            (name->len > 15 && memcmp(name->base, "access-control-", 15) == 0) ||
            (name->len >= 11 && memcmp(name->base, "grpc-status", 11) == 0) ||
            h2o_memis(name->base, name->len, H2O_STRLIT("grpc-message")))
            continue;
        *p++ = ',';
        *p++ = ' ';
        memcpy(p, name->base, name->len);
        p += name->len;
    }
    h2o_add_header_by_str(&req->pool, &req->res.headers, H2O_STRLIT("access-control-expose-headers"), 0, NULL, list,
                          (size_t)(p - list));
}

static void on_proceed(h2o_generator_t *g, h2o_req_t *req);
static void on_stop(h2o_generator_t *g, h2o_req_t *req);

static void start_response(grpc_web_call_t *c, size_t content_length)
{
    h2o_req_t *req = c->req;
    req->res.status = 200;
    req->res.reason = "OK";
    req->res.content_length = content_length;
    h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_CONTENT_TYPE, NULL, c->content_type.base,
                   c->content_type.len);
    if (c->request_id)
        h2o_add_header_by_str(&req->pool, &req->res.headers, H2O_STRLIT("x-request-id"), 0, NULL, c->request_id,
                              c->request_id_len);
    if (c->version && c->version->cluster->named)
        h2o_add_header_by_str(&req->pool, &req->res.headers, H2O_STRLIT("x-upstream-version"), 0, NULL,
                              c->version->name, strlen(c->version->name));
    if (c->origin)
        add_cors_headers(c);
    c->generator = (h2o_generator_t){on_proceed, on_stop};
    c->state = GW_STREAMING;
    h2o_start_response(req, &c->generator);
}

/* Sends what out[filling] holds (the headers first, when the response
 * starts here), and the end once it is in place. */
static void flush(grpc_web_call_t *c)
{
    if (h2o_timeout_is_linked(&c->flush_entry))
        h2o_timeout_unlink(&c->flush_entry);
    if (c->state == GW_ENDED || c->on_wire)
        return;
    gw_bytes_t *o = &c->out[c->filling];
    if (c->state == GW_CALLING) {
        if (!c->call_over && !c->got_headers && o->len == 0)
            return;
        /* all of it in hand: the length is known */
        start_response(c, c->call_over && !c->send_error ? o->len : SIZE_MAX);
    } else if (o->len == 0 && !c->call_over) {
        return;
    }
    int final = c->call_over;
    h2o_iovec_t v = h2o_iovec_init(o->data, o->len);
    c->on_wire = 1;
    c->filling = !c->filling;
    if (final)
        c->state = GW_ENDED;
    h2o_send(c->req, &v, o->len ? 1 : 0,
             !final ? H2O_SEND_STATE_IN_PROGRESS : c->send_error ? H2O_SEND_STATE_ERROR : H2O_SEND_STATE_FINAL);
}

static void on_flush(h2o_timeout_entry_t *entry)
{
    flush(H2O_STRUCT_FROM_MEMBER(grpc_web_call_t, flush_entry, entry));
}

static void flush_soon(grpc_web_call_t *c)
{
    if (!h2o_timeout_is_linked(&c->flush_entry))
        h2o_timeout_link(c->w->h2o.loop, &c->w->h2o.zero_timeout, &c->flush_entry);
}

static void on_proceed(h2o_generator_t *g, h2o_req_t *req)
{
    (void)req;
    grpc_web_call_t *c = (grpc_web_call_t *)g;
    c->on_wire = 0;
    c->out[!c->filling].len = 0; /* the buffer h2o held is ours again */
    if (c->paused && c->call_active && c->out[c->filling].len < GW_HIGH_WATER / 2) {
        c->paused = 0;
        upstream_call_resume(c->call);
    }
    flush(c);
}

static void on_stop(h2o_generator_t *g, h2o_req_t *req)
{
    (void)req;
    grpc_web_call_t *c = (grpc_web_call_t *)g;
    c->client_cancelled |= c->call_active;
    cancel_call(c, GRPC_CANCELLED);
    c->state = GW_ENDED;
    if (h2o_timeout_is_linked(&c->flush_entry))
        h2o_timeout_unlink(&c->flush_entry);
}

/* The gateway ends the call with its own status, as a trailer frame. */
static void end_with(grpc_web_call_t *c, int code, const char *msg)
{
    if (c->state == GW_ENDED || c->call_over)
        return;
    c->grpc_code = code;
    /* not even the trailer frame fits: the client learns from a reset */
    c->send_error = append_trailers(c, code, msg, strlen(msg), NULL, 0) != 0;
    c->call_over = 1;
    flush(c);
}

/* ---- upstream callbacks ----------------------------------------------- */

/* Response headers of the upstream that mean something to the client. */
static int forwardable(const upstream_header_t *h)
{
    static const char *const skip[] = {"content-type", "content-length",    "date",       "server",
                                       "te",           "trailer",           "connection", "keep-alive",
                                       "upgrade",      "transfer-encoding", "x-request-id"};
    for (size_t i = 0; i < sizeof(skip) / sizeof(skip[0]); i++)
        if (strlen(skip[i]) == h->name_len && memcmp(skip[i], h->name, h->name_len) == 0)
            return 0;
    return 1;
}

static void on_headers(void *ctx, const upstream_header_t *headers, size_t n)
{
    grpc_web_call_t *c = ctx;
    if (c->state != GW_CALLING)
        return;
    for (size_t i = 0; i < n; i++)
        if (forwardable(&headers[i]))
            add_header_copy(c->req, headers[i].name, headers[i].name_len, headers[i].value, headers[i].value_len);
    c->got_headers = 1;
    flush_soon(c);
}

/* A response message, relayed with its flags (grpc-encoding's compression
 * stays the client's to undo, as over HTTP/2). */
static void on_frame(void *ctx, uint8_t flags, const uint8_t *data, size_t len)
{
    grpc_web_call_t *c = ctx;
    if (c->state == GW_ENDED || c->call_over)
        return;
    if (len > c->max_message || append_message(c, flags, data, len) != 0) {
        char msg[160];
        if (len > c->max_message)
            snprintf(msg, sizeof(msg), "response message of %zu bytes is over the gateway's limit of %zu", len,
                     c->max_message);
        else
            snprintf(msg, sizeof(msg), "out of memory for a response message of %zu bytes", len);
        cancel_call(c, GRPC_RESOURCE_EXHAUSTED);
        end_with(c, GRPC_RESOURCE_EXHAUSTED, msg);
        return;
    }
    if (!c->paused && c->call_active && c->out[c->filling].len > GW_HIGH_WATER) {
        c->paused = 1;
        upstream_call_pause(c->call);
    }
    flush_soon(c);
}

static void on_close(void *ctx, int code, const char *message, size_t message_len, const upstream_header_t *trailers,
                     size_t n)
{
    grpc_web_call_t *c = ctx;
    c->call_active = 0;
    c->call_us = clock_us_since(&c->call_started);
    c->grpc_code = code;
    if (c->state == GW_ENDED || c->call_over)
        return;
    if (c->state == GW_CALLING && c->out[c->filling].len == 0) {
        set_trailers_only(c, code, message, message_len, trailers, n);
    } else if (append_trailers(c, code, message, message_len, trailers, n) != 0) {
        end_with(c, GRPC_RESOURCE_EXHAUSTED, "out of memory for the trailers");
        return;
    }
    c->call_over = 1;
    flush(c);
}

/* on_frame: a pass-through (the upstream relays grpc-encoding both ways) */
static const upstream_handlers_t handlers = {.on_headers = on_headers, .on_close = on_close, .on_frame = on_frame};

/* ---- the request ----------------------------------------------------------- */

static int name_is(const h2o_iovec_t *name, const char *lit)
{
    return h2o_memis(name->base, name->len, lit, strlen(lit));
}

/* Request headers that stay here: hop-by-hop ones, what the call sets
 * itself, and what only a browser sends (its fetch and CORS machinery). */
static int stays_here(const h2o_iovec_t *name)
{
    static const char *const names[] = {
        "connection", "keep-alive", "proxy-connection", "proxy-authorization", "transfer-encoding", "te",
        "trailer", "upgrade", "host", "expect", "http2-settings", "content-length", "content-type",
        "origin", "referer", "accept", "accept-encoding", "accept-language", "cache-control", "pragma", "dnt",
        "priority", "upgrade-insecure-requests", "x-grpc-web",
    };
    if (name->len == 0 || name->base[0] == ':')
        return 1;
    if ((name->len > 4 && memcmp(name->base, "sec-", 4) == 0) ||
        (name->len > 23 && memcmp(name->base, "access-control-request-", 23) == 0))
        return 1;
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
        if (name_is(name, names[i]))
            return 1;
    return 0;
}

/* An id to correlate the logs by, when the client sent none. */
static void make_request_id(grpc_web_call_t *c)
{
    char *id = h2o_mem_alloc_pool(&c->req->pool, 16);
    rng_hex(&c->w->id_rng, id, 16);
    c->request_id = id;
    c->request_id_len = 16;
}

/* The request's metadata for the upstream; -1 when there are too many. */
static long collect_metadata(grpc_web_call_t *c, upstream_header_t *md, uint32_t *client_timeout)
{
    size_t n = 0;
    const h2o_headers_t *hs = &c->req->headers;
    for (size_t i = 0; i < hs->size; i++) {
        const h2o_header_t *h = &hs->entries[i];
        if (name_is(h->name, "grpc-timeout")) {
            *client_timeout = request_path_grpc_timeout(h->value.base, h->value.len);
        } else if (name_is(h->name, "x-request-id")) {
            c->request_id = h->value.base;
            c->request_id_len = h->value.len;
        } else if (trace_traceparent(&c->trace) != NULL && name_is(h->name, "traceparent")) {
            continue; /* ours goes instead, naming the upstream span */
        } else if (!stays_here(h->name)) {
            if (n == GW_MAX_METADATA - 1)
                return -1;
            md[n++] = (upstream_header_t){h->name->base, h->name->len, h->value.base, h->value.len};
        }
    }
    if (c->request_id == NULL)
        make_request_id(c);
    md[n++] = (upstream_header_t){"x-request-id", 12, c->request_id, c->request_id_len};
    const char *tp = trace_traceparent(&c->trace);
    if (tp != NULL) /* start_call's array has room for it */
        md[n++] = (upstream_header_t){"traceparent", 11, tp, TRACE_PARENT_LEN};
    return (long)n;
}

static const h2o_header_t *find_header(const h2o_req_t *req, const char *name, size_t len)
{
    ssize_t i = h2o_find_header_by_str(&req->headers, name, len, -1);
    return i < 0 ? NULL : &req->headers.entries[i];
}

static int origin_allowed(const config_grpc_web_t *g, const char *origin, size_t len)
{
    for (size_t i = 0; i < g->ncors_origins; i++) {
        const char *o = g->cors_origins[i];
        if ((o[0] == '*' && o[1] == '\0') || h2o_lcstris(origin, len, o, strlen(o)))
            return 1;
    }
    return 0;
}

static void noop_generator(h2o_generator_t *g, h2o_req_t *req)
{
    (void)g;
    (void)req;
}

/* A short answer of the gateway's own that is not a call (405, 415, a preflight). */
static void respond_plain(grpc_web_call_t *c, int status, const char *text)
{
    static h2o_generator_t generator = {noop_generator, noop_generator};
    h2o_req_t *req = c->req;
    c->state = GW_ENDED;
    req->res.status = status;
    req->res.reason = response_reason(status);
    req->res.content_length = strlen(text);
    if (*text)
        h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_CONTENT_TYPE, NULL, H2O_STRLIT("text/plain"));
    h2o_start_response(req, &generator);
    h2o_iovec_t body = h2o_iovec_init(text, strlen(text));
    h2o_send(req, &body, *text ? 1 : 0, H2O_SEND_STATE_FINAL);
}

/* Only the characters of header names and list separators, or nothing. */
static int header_list_ok(const char *s, size_t len)
{
    if (len > GW_MAX_ECHOED_HEADERS)
        return 0;
    for (size_t i = 0; i < len; i++) {
        char ch = s[i];
        if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') || ch == '-' ||
              ch == '_' || ch == ',' || ch == ' '))
            return 0;
    }
    return 1;
}

/* OPTIONS from a browser about to call /pkg.Service/Method cross-origin. */
static void answer_preflight(grpc_web_call_t *c, const config_grpc_web_t *g)
{
    h2o_req_t *req = c->req;
    const h2o_header_t *origin = find_header(req, H2O_STRLIT("origin"));
    if (origin == NULL || !origin_allowed(g, origin->value.base, origin->value.len)) {
        respond_plain(c, 403, origin ? "origin not allowed\n" : "a CORS preflight needs an Origin\n");
        return;
    }
    h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_ACCESS_CONTROL_ALLOW_ORIGIN, NULL, origin->value.base,
                   origin->value.len);
    h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_VARY, NULL, H2O_STRLIT("Origin"));
    h2o_add_header_by_str(&req->pool, &req->res.headers, H2O_STRLIT("access-control-allow-methods"), 0, NULL,
                          H2O_STRLIT("POST, OPTIONS"));
    /* what gRPC-Web clients send, and whatever metadata this page sends too */
    static const char fixed[] = "content-type, x-grpc-web, x-user-agent, grpc-timeout";
    const h2o_header_t *asked = find_header(req, H2O_STRLIT("access-control-request-headers"));
    h2o_iovec_t allow = h2o_iovec_init(fixed, sizeof(fixed) - 1);
    if (asked && asked->value.len && header_list_ok(asked->value.base, asked->value.len))
        allow = h2o_concat(&req->pool, allow, h2o_iovec_init(H2O_STRLIT(", ")), asked->value);
    h2o_add_header_by_str(&req->pool, &req->res.headers, H2O_STRLIT("access-control-allow-headers"), 0, NULL,
                          allow.base, allow.len);
    h2o_add_header_by_str(&req->pool, &req->res.headers, H2O_STRLIT("access-control-max-age"), 0, NULL,
                          H2O_STRLIT("7200"));
    respond_plain(c, 204, "");
}

/* The body's gRPC framing, decoded from base64 for -text; NULL after
 * ending the call with the reason. */
static const uint8_t *request_body(grpc_web_call_t *c, size_t *len)
{
    h2o_req_t *req = c->req;
    size_t max_body = c->w->shared->cfg->transcode.max_body;
    const uint8_t *body = (const uint8_t *)req->entity.base;
    size_t n = req->entity.len;
    if (c->mode == GRPC_WEB_FRAME_TEXT && n > 0) {
        uint8_t *dec = h2o_mem_alloc_pool(&req->pool, grpc_web_frame_decoded_max(n));
        grpc_web_frame_decoder_t d;
        grpc_web_frame_decoder_init(&d);
        long got = grpc_web_frame_decode(&d, req->entity.base, n, dec);
        if (got < 0 || !grpc_web_frame_decode_complete(&d)) {
            end_with(c, GRPC_INTERNAL,
                     got < 0 ? "request body is not base64 (the standard alphabet, padded, without whitespace)"
                             : "request body ends inside a base64 quad");
            return NULL;
        }
        body = dec;
        n = (size_t)got;
    }
    if (n > max_body) {
        char msg[120];
        snprintf(msg, sizeof(msg), "request body of %zu bytes is over the limit of %zu", n, max_body);
        end_with(c, GRPC_RESOURCE_EXHAUSTED, msg);
        return NULL;
    }
    grpc_web_frame_scan_t scan;
    switch (grpc_web_frame_scan(body, n, (uint32_t)(max_body < UINT32_MAX ? max_body : UINT32_MAX), &scan)) {
    case GRPC_WEB_FRAME_SCAN_OK:
        break;
    case GRPC_WEB_FRAME_SCAN_TRUNCATED:
        end_with(c, GRPC_INTERNAL, "request body ends inside a gRPC message (or its 5-byte prefix)");
        return NULL;
    case GRPC_WEB_FRAME_SCAN_BAD_FLAGS:
        end_with(c, GRPC_INTERNAL, "request frame flags other than 0 (or 1, compressed)");
        return NULL;
    case GRPC_WEB_FRAME_SCAN_TOO_LARGE:
        end_with(c, GRPC_RESOURCE_EXHAUSTED, "request message over the body limit");
        return NULL;
    }
    const h2o_header_t *encoding = find_header(req, H2O_STRLIT("grpc-encoding"));
    if (scan.compressed &&
        (encoding == NULL || h2o_lcstris(encoding->value.base, encoding->value.len, H2O_STRLIT("identity")))) {
        end_with(c, GRPC_INTERNAL, "compressed request message without a grpc-encoding that compresses");
        return NULL;
    }
    *len = n;
    return body;
}

static int is_post(const h2o_req_t *req)
{
    return h2o_memis(req->method.base, req->method.len, H2O_STRLIT("POST"));
}

/* OPTIONS with Access-Control-Request-Method on a path of gRPC's shape
 * (the REST routes have more segments; health and metrics went first). */
static int is_preflight(const shared_t *sh, const h2o_req_t *req, const char *path, size_t path_len)
{
    size_t row;
    return h2o_memis(req->method.base, req->method.len, H2O_STRLIT("OPTIONS")) &&
           find_header(req, H2O_STRLIT("access-control-request-method")) != NULL &&
           method_table_find(&sh->methods, path, path_len, &row) != METHOD_BAD_PATH;
}

/* A keyed rate limit's key (state/rate_limit.h), as the REST handler's:
 * the client's address (IPv4, also mapped into IPv6, in 4 bytes; IPv6 in
 * 16), or a header's value. */
static const void *limit_key(void *ctx, config_rate_key_t kind, const char *header, size_t *len)
{
    grpc_web_call_t *c = ctx;
    h2o_req_t *req = c->req;
    *len = 0;
    if (kind == CONFIG_RATE_KEY_ADDRESS) {
        struct sockaddr_storage ss;
        if (req->conn->callbacks->get_peername(req->conn, (struct sockaddr *)&ss) == 0)
            return NULL;
        static const unsigned char mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
        const unsigned char *a6 = ((const struct sockaddr_in6 *)&ss)->sin6_addr.s6_addr;
        if (ss.ss_family == AF_INET) {
            memcpy(c->peer, &((const struct sockaddr_in *)&ss)->sin_addr, 4);
            *len = 4;
        } else if (ss.ss_family == AF_INET6 && memcmp(a6, mapped, 12) == 0) {
            memcpy(c->peer, a6 + 12, 4);
            *len = 4;
        } else if (ss.ss_family == AF_INET6) {
            memcpy(c->peer, a6, 16);
            *len = 16;
        }
        return *len ? c->peer : NULL;
    }
    const h2o_header_t *h = find_header(req, header, strlen(header));
    if (h == NULL)
        return NULL;
    *len = h->value.len;
    return h->value.base;
}

/* 1 when a rate limit on the method turned the call away (RESOURCE_EXHAUSTED,
 * as the REST routes answer 429 and the same limits hold whichever door). */
static int rate_limited(grpc_web_call_t *c)
{
    worker_t *w = c->w;
    rate_limit_denial_t d;
    uint64_t now = (uint64_t)c->started.tv_sec * 1000000000u + (uint64_t)c->started.tv_nsec;
    if (rate_limiter_admit(w->limiter, c->row_index, limit_key, c, now, &d))
        return 0;
    rate_limit_state_t st;
    rate_limits_get(w->shared->rate_limits, d.limit, &st);
    char msg[200];
    snprintf(msg, sizeof(msg), "rate limit \"%.60s\" exceeded: %g requests a second", st.cfg->name, st.rate);
    end_with(c, GRPC_RESOURCE_EXHAUSTED, msg);
    return 1;
}

static void start_call(grpc_web_call_t *c, const char *path, size_t path_len)
{
    worker_t *w = c->w;
    const shared_t *sh = w->shared;
    h2o_req_t *req = c->req;
    upstream_header_t *md = h2o_mem_alloc_pool(&req->pool, (GW_MAX_METADATA + 1) * sizeof(*md));
    uint32_t client_timeout = 0;
    long nmd = collect_metadata(c, md, &client_timeout);
    if (nmd < 0) {
        end_with(c, GRPC_RESOURCE_EXHAUSTED, "more request headers than the gateway passes on (100)");
        return;
    }

    size_t row = 0;
    method_lookup_t found = method_table_find(&sh->methods, path, path_len, &row);
    if (found != METHOD_FOUND) {
        char msg[300];
        const char *what = found == METHOD_NO_METHOD ? "unknown method" : found == METHOD_NO_SERVICE
                                                                            ? "unknown service"
                                                                            : "malformed method path";
        snprintf(msg, sizeof(msg), "%s %.*s", what, (int)(path_len > 250 ? 250 : path_len), path);
        end_with(c, GRPC_UNIMPLEMENTED, msg);
        return;
    }
    c->row = &sh->methods.rows[row];
    c->row_index = row;
    if (sh->cfg->nrate_limits && rate_limited(c))
        return;

    size_t body_len = 0;
    const uint8_t *body = request_body(c, &body_len);
    if (body == NULL)
        return;

    uint32_t timeout = c->row->timeout_ms;
    if (client_timeout != 0 && (timeout == 0 || client_timeout < timeout))
        timeout = client_timeout;
    /* a described method's path is the descriptors' (NUL-terminated, as
     * the call needs); a config-only service's is the request's */
    const char *grpc_path = c->row->method ? c->row->method->grpc_path : h2o_strdup(&req->pool, path, path_len).base;
    c->version = request_path_pick(&sh->split.clusters[c->row->cluster], req, &w->rng);

    c->opened = 1;
    c->call_active = 1;
    clock_gettime(CLOCK_MONOTONIC, &c->call_started);
    c->call = request_path_open(w, c->version, grpc_path, md, (size_t)nmd, timeout, &handlers, NULL, c);
    if (c->call == NULL) {
        c->call_active = 0; /* on_close has run and answered */
        return;
    }
    /* the body lives in the request until its pool goes, after the call */
    if (upstream_call_send(c->call, body, body_len, UPSTREAM_SEND_FRAMED | UPSTREAM_SEND_END) != 0 &&
        c->call_active) {
        /* refused without ending the call: only framing it cannot follow,
         * which request_body has ruled out; the gateway's fault if so */
        cancel_call(c, GRPC_INTERNAL);
        c->opened = 0; /* nothing reached the upstream: not its version's count */
        end_with(c, GRPC_INTERNAL, "the upstream call refused the request's framing");
    }
}

int grpc_web_handle(h2o_req_t *req)
{
    worker_t *w = worker_of(req->conn->ctx);
    const shared_t *sh = w->shared;
    const config_grpc_web_t *g = &sh->cfg->grpc_web;
    if (!g->enabled)
        return 0;
    size_t path_len = req->query_at != SIZE_MAX ? req->query_at : req->path.len;
    ssize_t ct = h2o_find_header(&req->headers, H2O_TOKEN_CONTENT_TYPE, -1);
    grpc_web_frame_mode_t mode = GRPC_WEB_FRAME_NOT_WEB;
    if (ct >= 0)
        mode = grpc_web_frame_content_type(req->headers.entries[ct].value.base, req->headers.entries[ct].value.len);
    int preflight = mode == GRPC_WEB_FRAME_NOT_WEB && is_preflight(sh, req, req->path.base, path_len);
    if (mode == GRPC_WEB_FRAME_NOT_WEB && !preflight)
        return 0;

    grpc_web_call_t *c = acquire(w, req);
    if (c == NULL) {
        response_error(req, 503, GRPC_UNAVAILABLE, H2O_STRLIT("out of memory"), NULL, 0, sh->error_field);
        return 1;
    }
    if (preflight) {
        answer_preflight(c, g);
        return 1;
    }
    if (!is_post(req)) {
        h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_ALLOW, NULL, H2O_STRLIT("POST, OPTIONS"));
        respond_plain(c, 405, "gRPC-Web calls are POST requests\n");
        return 1;
    }
    if (mode == GRPC_WEB_FRAME_UNSUPPORTED) {
        respond_plain(c, 415,
                      "gRPC-Web messages here are protobuf: application/grpc-web(+proto) or "
                      "application/grpc-web-text(+proto)\n");
        return 1;
    }
    if (w->trace != NULL) {
        const h2o_header_t *tp = find_header(req, H2O_STRLIT("traceparent"));
        trace_begin(w->trace, &c->trace, tp ? tp->value.base : NULL, tp ? tp->value.len : 0);
    }
    c->mode = mode;
    /* the answer's type is the request's (without its parameters) */
    h2o_iovec_t v = req->headers.entries[ct].value;
    size_t end = 0;
    while (end < v.len && v.base[end] != ';' && v.base[end] != ' ' && v.base[end] != '\t')
        end++;
    c->content_type = h2o_iovec_init(v.base, end);
    const h2o_header_t *origin = find_header(req, H2O_STRLIT("origin"));
    if (origin && origin_allowed(g, origin->value.base, origin->value.len)) {
        c->origin = origin->value.base;
        c->origin_len = origin->value.len;
    }
    start_call(c, req->path.base, path_len);
    return 1;
}
