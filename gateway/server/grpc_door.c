/*
 * grpc_door.c: one call of the gRPC listener, from its headers to its
 * stream's close (grpc_door.h).
 *
 * A call is a context taken from the door's free list when a stream's
 * headers arrive and given back when the stream closes: that is also where
 * an upstream call still running is cancelled (the client reset the
 * stream or hung up) and where metrics and the access log are written.
 * Its metadata and the scratch it needs come from its arena, whose first
 * block is part of the recycled context; its request buffers are kept
 * across reuse too, so a steady load allocates nothing per call.
 *
 * Kinds, fixed at the headers:
 *   REFUSED  answered by the door itself at once: 415 (not gRPC), 405 (not
 *            POST), UNIMPLEMENTED (no such service or method),
 *            RESOURCE_EXHAUSTED (metadata over the limit)
 *   RELAY    the pass-through to the cluster's picked version
 *   LOCAL    a service the gateway answers (grpc_local.h; grpc_local_api.c)
 * and a response that goes HEADERS -> messages -> trailers, or straight to
 * trailers-only when the call ends before any header went out.
 *
 * Request bodies, end to end: DATA bytes are followed for gRPC's framing
 * (the message limit, the compressed flag) and handed to the upstream as
 * they came (UPSTREAM_SEND_FRAMED) from one buffer while the next fills;
 * the client's window for them goes back only when the upstream has taken
 * them (its on_writable), so a slow upstream slows the client, and a call
 * never holds more than the stream's window. Responses: each message goes
 * into the stream's queue; when that queue or the connection's is over its
 * cap the upstream call is paused, and resumed when the client has read
 * half of it.
 */
#include "server/grpc_door.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/addr.h"
#include "core/arena.h"
#include "core/clock.h"
#include "core/status.h"
#include "grpc/frame.h"
#include "grpc/h2server.h"
#include "grpc/percent.h"
#include "server/grpc_door_int.h"
#include "server/metrics.h"
#include "server/request_path.h"
#include "server/trace.h"
#include "server/worker.h"
#include "state/rate_limit.h"
#include "state/shared.h"
#include "upstream/upstream.h"

#define DOOR_MAX_FREE 1024
#define DOOR_ARENA_LIMIT (1u << 20) /* metadata, trailers, messages: bounded by the header list cap anyway */
#define KEEP_BUF_MAX (256u << 10)   /* request buffers larger than this are not kept for the next call */

/* ---- small helpers ----------------------------------------------------- */

static int name_is(const char *name, size_t len, const char *lit, size_t lit_len)
{
    return len == lit_len && memcmp(name, lit, len) == 0;
}
#define NAME_IS(n, l, lit) name_is((n), (l), lit, sizeof(lit) - 1)

/* Fields that describe one hop, not the call: never relayed either way. */
static int hop_by_hop(const char *name, size_t len)
{
    return NAME_IS(name, len, "connection") || NAME_IS(name, len, "keep-alive") || NAME_IS(name, len, "te") ||
           NAME_IS(name, len, "transfer-encoding") || NAME_IS(name, len, "upgrade") || NAME_IS(name, len, "host") ||
           NAME_IS(name, len, "content-length") || (len >= 6 && memcmp(name, "proxy-", 6) == 0);
}

const char *door_header(const door_call_t *c, const char *name, size_t *len)
{
    size_t nl = strlen(name);
    for (size_t i = 0; i < c->nhs; i++) {
        if (c->hs[i].name_len == nl && memcmp(c->hs[i].name, name, nl) == 0) {
            *len = c->hs[i].value_len;
            return c->hs[i].value;
        }
    }
    return NULL;
}

static const char *header_fn(void *ctx, const char *name, size_t *len)
{
    return door_header(ctx, name, len);
}

/* application/grpc, application/grpc+proto, application/grpc;charset=... */
static int is_grpc_content_type(const char *v, size_t len)
{
    return len >= 16 && memcmp(v, "application/grpc", 16) == 0 && (len == 16 || v[16] == '+' || v[16] == ';');
}

/* ---- contexts ---------------------------------------------------------- */

static door_call_t *call_acquire(grpc_door_t *d, h2server_stream_t *s)
{
    door_call_t *c = d->free_calls;
    if (c != NULL) {
        d->free_calls = c->next_free;
        d->nfree--;
    } else if ((c = calloc(1, sizeof(*c))) == NULL) {
        return NULL;
    }
    /* everything before the kept buffers starts zeroed */
    memset(c, 0, offsetof(door_call_t, sending));
    c->sending_len = c->arrived_len = 0;
    c->door = d;
    c->w = d->w;
    c->s = s;
    c->code = -1;
    c->up_code = -1;
    arena_init_with(&c->arena, c->first_block, sizeof(c->first_block));
    c->arena.limit = DOOR_ARENA_LIMIT;
    clock_gettime(CLOCK_MONOTONIC, &c->started);
    d->w->in_flight++;
    return c;
}

static void call_release(door_call_t *c)
{
    grpc_door_t *d = c->door;
    arena_free(&c->arena);
    d->w->in_flight--;
    if (d->nfree >= DOOR_MAX_FREE || c->sending_cap > KEEP_BUF_MAX || c->arrived_cap > KEEP_BUF_MAX) {
        free(c->sending);
        free(c->arrived);
        grpc_frame_reader_dispose(&c->fr);
        if (d->nfree >= DOOR_MAX_FREE) {
            free(c);
            return;
        }
        c->sending = c->arrived = NULL;
        c->sending_cap = c->arrived_cap = 0;
    }
    c->next_free = d->free_calls;
    d->free_calls = c;
    d->nfree++;
}

/* The call's spans, to the exporter (server/trace.h): a relayed call has
 * its upstream span too. */
static void trace_call(door_call_t *c, int code)
{
    const split_version_t *v = c->kind == CALL_RELAY ? c->version : NULL;
    int called = v != NULL;
    trace_end_info_t e = {
        .door = TRACE_DOOR_GRPC,
        .started = &c->started,
        .call_started = called ? &c->call_started : NULL,
        .us = clock_us_since(&c->started),
        .call_us = c->call_us,
        .method = "POST",
        .method_len = 4,
        .path = c->path,
        .path_len = c->path_len,
        .rpc_path = NULL, /* the exporter names the method from the path: it is the method's */
        .http_status = c->status,
        .grpc_code = code,
        .up_code = c->up_code,
        .version = v ? v->name : NULL,
        .cluster = v ? v->cluster->cfg->name : NULL,
        .up_host = v && v->ntargets ? v->targets[0].host : NULL,
        .up_port = v && v->ntargets ? v->targets[0].port : 0,
    };
    e.host = door_header(c, ":authority", &e.host_len);
    e.tracestate = door_header(c, "tracestate", &e.tracestate_len);
    trace_end(c->w->trace, &c->trace, &e);
}

/* The call is over: grpc_requests_total and the rollout's per-version
 * window (the upstream's own outcome only: a client's cancel is not the
 * version's error), and the access log. */
static void record(door_call_t *c)
{
    worker_t *w = c->w;
    uint64_t us = clock_us_since(&c->started);
    int code = c->code >= 0 ? c->code : GRPC_CANCELLED;
    if (c->has_row)
        metrics_record_grpc(w->metrics, c->row, METRICS_SOURCE_GRPC, code, c->kind == CALL_RELAY ? c->call_us : us);
    if (c->kind == CALL_RELAY && c->up_code >= 0)
        metrics_record_upstream(w->metrics, c->version->row, c->up_code, c->call_us);
    else if (c->kind == CALL_RELAY && c->client_cancelled)
        metrics_record_upstream_cancelled(w->metrics, c->version->row);
    if (c->trace.sampled)
        trace_call(c, code);
    if (w->log.fd < 0)
        return;
    struct timespec wall;
    clock_gettime(CLOCK_REALTIME, &wall);
    const shared_t *sh = w->shared;
    access_log_entry_t e = {
        .unix_ms = (int64_t)wall.tv_sec * 1000 + wall.tv_nsec / 1000000,
        .method = "POST",
        .method_len = 4,
        .route = c->has_row || c->kind == CALL_LOCAL ? c->path : NULL,
        .path = c->path,
        .path_len = c->path_len,
        .status = c->status,
        .grpc_status = code,
        .bytes_sent = c->bytes_sent,
        .duration_us = us,
        .upstream_us = c->kind == CALL_RELAY && c->up_code >= 0 ? (int64_t)c->call_us : -1,
        .upstream = c->kind == CALL_RELAY ? sh->cfg->clusters[sh->methods.rows[c->row].cluster].name : NULL,
        .version = c->kind == CALL_RELAY && c->version->cluster->named ? c->version->name : NULL,
        .request_id = c->request_id,
        .request_id_len = c->request_id_len,
    };
    access_log_add(&w->log, &e);
}

/* ---- responses --------------------------------------------------------- */

static const char *const code_text[GRPC_CODE_MAX + 1] = {"0", "1",  "2",  "3",  "4",  "5",  "6",  "7", "8",
                                                         "9", "10", "11", "12", "13", "14", "15", "16"};

#define HDR(n, v) ((h2server_header_t){n, sizeof(n) - 1, v, strlen(v)})

/* The response headers, before the first message. */
int door_send_headers(door_call_t *c, const upstream_header_t *md, size_t n)
{
    if (c->headers_sent)
        return 0;
    h2server_header_t *h = arena_alloc(&c->arena, (n + 2) * sizeof(*h));
    if (h == NULL)
        return -1;
    size_t k = 0;
    h[k++] = HDR("content-type", "application/grpc");
    if (c->kind == CALL_RELAY && c->version->cluster->named)
        h[k++] = HDR("x-upstream-version", c->version->name); /* which side of a split answered */
    for (size_t i = 0; i < n; i++)
        if (!hop_by_hop(md[i].name, md[i].name_len) && !NAME_IS(md[i].name, md[i].name_len, "content-type"))
            h[k++] = (h2server_header_t){md[i].name, md[i].name_len, md[i].value, md[i].value_len};
    if (h2server_respond(c->s, 200, h, k, 0) != 0)
        return -1;
    c->headers_sent = 1;
    c->status = 200;
    return 0;
}

/* One message, framed, into the stream's queue; 1 when the queue is full. */
int door_send_message(door_call_t *c, uint8_t flags, const uint8_t *msg, size_t len)
{
    uint8_t prefix[GRPC_FRAME_PREFIX];
    grpc_frame_prefix(prefix, flags, (uint32_t)len);
    if ((!c->headers_sent && door_send_headers(c, NULL, 0) != 0) ||
        h2server_send2(c->s, prefix, sizeof(prefix), msg, len) != 0)
        return -1;
    c->bytes_sent += sizeof(prefix) + len;
    return h2server_full(c->s);
}

/*
 * The end of the call for the client: the status in trailers, or a
 * trailers-only response when no header went out. trailers: metadata the
 * upstream sent with its status (grpc-status-details-bin among them).
 */
void door_finish(door_call_t *c, int code, const char *msg, size_t msg_len, const upstream_header_t *trailers,
                 size_t n)
{
    if (c->finished)
        return;
    c->finished = 1;
    if (code < 0 || code > GRPC_CODE_MAX)
        code = GRPC_UNKNOWN;
    c->code = code;
    h2server_header_t *h = arena_alloc(&c->arena, (n + 4) * sizeof(*h));
    char *enc = msg_len ? arena_alloc_aligned(&c->arena, grpc_percent_encoded_len(msg, msg_len) + 1, 1) : NULL;
    if (h == NULL || (msg_len && enc == NULL)) {
        h2server_reset(c->s, H2SERVER_INTERNAL_ERROR);
        return;
    }
    size_t k = 0;
    int only = !c->headers_sent;
    if (only)
        h[k++] = HDR("content-type", "application/grpc");
    h[k++] = HDR("grpc-status", code_text[code]);
    if (msg_len)
        h[k++] = (h2server_header_t){"grpc-message", 12, enc, grpc_percent_encode(enc, msg, msg_len)};
    for (size_t i = 0; i < n; i++)
        if (!hop_by_hop(trailers[i].name, trailers[i].name_len))
            h[k++] = (h2server_header_t){trailers[i].name, trailers[i].name_len, trailers[i].value,
                                         trailers[i].value_len};
    int rc = only ? h2server_respond(c->s, 200, h, k, 1) : h2server_end(c->s, h, k);
    if (only)
        c->status = 200;
    if (rc != 0)
        h2server_reset(c->s, H2SERVER_INTERNAL_ERROR);
}

void door_finishf(door_call_t *c, int code, const char *fmt, ...)
{
    char msg[256];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    if (n < 0)
        n = 0;
    if ((size_t)n >= sizeof(msg))
        n = sizeof(msg) - 1;
    door_finish(c, code, msg, (size_t)n, NULL, 0);
}

/* Not a gRPC request at all: a plain HTTP answer. */
static void refuse_http(door_call_t *c, int status, const char *text, const h2server_header_t *extra)
{
    h2server_header_t h[2] = {HDR("content-type", "text/plain; charset=utf-8")};
    size_t n = 1;
    if (extra != NULL)
        h[n++] = *extra;
    c->finished = 1;
    c->status = status;
    c->code = status == 415 ? GRPC_INTERNAL : GRPC_UNIMPLEMENTED; /* gRPC's HTTP-to-gRPC mapping, for the log */
    if (h2server_respond(c->s, status, h, n, 0) != 0 || h2server_send(c->s, text, strlen(text)) != 0 ||
        h2server_end(c->s, NULL, 0) != 0)
        h2server_reset(c->s, H2SERVER_INTERNAL_ERROR);
    c->bytes_sent += strlen(text);
}

/* ---- the relay: request side ------------------------------------------- */

static int bytes_append(uint8_t **b, size_t *len, size_t *cap, const uint8_t *p, size_t n)
{
    if (*len + n > *cap) {
        size_t k = *cap ? *cap : 16384;
        while (k < *len + n)
            k *= 2;
        uint8_t *q = realloc(*b, k);
        if (q == NULL)
            return -1;
        *b = q;
        *cap = k;
    }
    memcpy(*b + *len, p, n);
    *len += n;
    return 0;
}

/* Hands what has arrived to the upstream, unless it still holds the last
 * batch; the end goes with the last bytes. */
static void relay_pump(door_call_t *c)
{
    if (!c->up_active || c->sending_len != 0 || c->end_sent)
        return;
    if (c->arrived_len == 0 && !c->req_end)
        return;
    uint8_t *b = c->sending;
    size_t cap = c->sending_cap;
    c->sending = c->arrived;
    c->sending_cap = c->arrived_cap;
    c->sending_len = c->arrived_len;
    c->arrived = b;
    c->arrived_cap = cap;
    c->arrived_len = 0;
    unsigned flags = UPSTREAM_SEND_FRAMED | (c->req_end ? UPSTREAM_SEND_END : 0);
    c->end_sent = c->req_end;
    if (upstream_call_send(c->up, c->sending, c->sending_len, flags) != 0) {
        /* the call's status is known (its on_close has run or is due): what we hold is dropped */
        h2server_consume(c->s, c->sending_len);
        c->sending_len = 0;
    }
}

/* The upstream took everything sent so far: the client may send as much again. */
static void up_on_writable(void *ctx)
{
    door_call_t *c = ctx;
    h2server_consume(c->s, c->sending_len);
    c->sending_len = 0;
    relay_pump(c);
}

static int frame_error_code(grpc_frame_result_t r)
{
    return r == GRPC_FRAME_TOO_LARGE || r == GRPC_FRAME_NOMEM ? GRPC_RESOURCE_EXHAUSTED : GRPC_INTERNAL;
}

static void relay_data(door_call_t *c, const uint8_t *p, size_t n, int end)
{
    if (c->finished || !c->up_active) {
        h2server_consume(c->s, n); /* the call is over: dropped */
        return;
    }
    grpc_frame_result_t r = grpc_frame_follow(&c->fr, p, n, end);
    if (r != GRPC_FRAME_OK) {
        upstream_call_cancel(c->up);
        c->up_active = 0;
        c->call_us = clock_us_since(&c->call_started);
        h2server_consume(c->s, n);
        if (r == GRPC_FRAME_TOO_LARGE)
            door_finishf(c, GRPC_RESOURCE_EXHAUSTED, "request message of %u bytes is over the limit of %u bytes",
                         c->fr.refused_len, c->fr.max);
        else
            door_finishf(c, frame_error_code(r), "%s", grpc_frame_strerror(r));
        return;
    }
    if (n != 0 && bytes_append(&c->arrived, &c->arrived_len, &c->arrived_cap, p, n) != 0) {
        upstream_call_cancel(c->up);
        c->up_active = 0;
        h2server_consume(c->s, n);
        door_finishf(c, GRPC_RESOURCE_EXHAUSTED, "out of memory");
        return;
    }
    c->req_end |= (uint8_t)end;
    relay_pump(c);
}

/* ---- the relay: response side ------------------------------------------ */

static void up_on_headers(void *ctx, const upstream_header_t *headers, size_t n)
{
    door_call_t *c = ctx;
    if (!c->finished && door_send_headers(c, headers, n) != 0)
        h2server_reset(c->s, H2SERVER_INTERNAL_ERROR);
}

static void up_on_frame(void *ctx, uint8_t flags, const uint8_t *data, size_t len)
{
    door_call_t *c = ctx;
    if (c->finished)
        return;
    int rc = door_send_message(c, flags, data, len);
    if (rc < 0) {
        upstream_call_cancel(c->up);
        c->up_active = 0;
        door_finishf(c, GRPC_RESOURCE_EXHAUSTED, "out of memory queueing a response message");
    } else if (rc == 1 && !c->paused) {
        /* the client reads slower than the upstream answers: hold the upstream */
        c->paused = 1;
        upstream_call_pause(c->up);
    }
}

static void up_on_close(void *ctx, int code, const char *message, size_t message_len,
                        const upstream_header_t *trailers, size_t n)
{
    door_call_t *c = ctx;
    c->up_active = 0;
    c->up_code = code;
    c->call_us = clock_us_since(&c->call_started);
    /* the request bytes the upstream still held are ours again */
    h2server_consume(c->s, c->sending_len + c->arrived_len);
    c->sending_len = c->arrived_len = 0;
    door_finish(c, code, message, message_len, trailers, n);
}

static const upstream_handlers_t relay_handlers = {
    .on_headers = up_on_headers,
    .on_close = up_on_close,
    .on_frame = up_on_frame,
};

/* The metadata that travels upstream: the client's, less the hop's own
 * fields and what the upstream sets itself (grpc-timeout, from the
 * deadline). */
static size_t relay_metadata(door_call_t *c, upstream_header_t **out)
{
    upstream_header_t *md = arena_alloc(&c->arena, (c->nhs + 1) * sizeof(*md));
    if (md == NULL)
        return 0;
    size_t n = 0;
    const char *tp = trace_traceparent(&c->trace);
    for (size_t i = 0; i < c->nhs; i++) {
        const h2server_header_t *h = &c->hs[i];
        if ((h->name_len > 0 && h->name[0] == ':') || hop_by_hop(h->name, h->name_len) ||
            NAME_IS(h->name, h->name_len, "grpc-timeout") || (tp && NAME_IS(h->name, h->name_len, "traceparent")))
            continue;
        md[n++] = (upstream_header_t){h->name, h->name_len, h->value, h->value_len};
    }
    if (tp != NULL) /* the upstream's parent is our client span */
        md[n++] = (upstream_header_t){"traceparent", 11, tp, TRACE_PARENT_LEN};
    *out = md;
    return n;
}

static void relay_open(door_call_t *c, uint32_t client_timeout)
{
    const shared_t *sh = c->w->shared;
    const method_row_t *row = &sh->methods.rows[c->row];
    c->kind = CALL_RELAY;
    c->version = request_path_pick_by(&sh->split.clusters[row->cluster], header_fn, c, &c->w->rng);
    /* the deadline: the client's, but never past the route's */
    uint32_t timeout = row->timeout_ms;
    if (client_timeout != 0 && (timeout == 0 || client_timeout < timeout))
        timeout = client_timeout;
    grpc_frame_reader_init(&c->fr, c->door->max_message, c->compressed);
    upstream_header_t *md = NULL;
    size_t nmd = relay_metadata(c, &md);
    c->up_active = 1;
    clock_gettime(CLOCK_MONOTONIC, &c->call_started);
    c->up = request_path_open(c->w, c->version, c->path, md, nmd, timeout, &relay_handlers, up_on_writable, c);
    if (c->up == NULL)
        c->up_active = 0; /* it ended at once: on_close has answered (UNAVAILABLE...) */
}

/* ---- h2server callbacks ------------------------------------------------ */

/* ---- rate limits (state/rate_limit.h: the same limits as REST's) -------- */

static const void *limit_key(void *ctx, config_rate_key_t kind, const char *header, size_t *len)
{
    door_call_t *c = ctx;
    *len = 0;
    if (kind == CONFIG_RATE_KEY_ADDRESS) {
        *len = c->dconn->peer_len;
        return *len ? c->dconn->peer : NULL;
    }
    const char *v = door_header(c, header, len);
    if (v == NULL)
        *len = 0;
    return v;
}

/* 1 when a limit on the call's method turned it away (RESOURCE_EXHAUSTED,
 * gRPC's answer to a quota: no Retry-After in gRPC). */
static int rate_limited(door_call_t *c)
{
    worker_t *w = c->w;
    rate_limit_denial_t d;
    uint64_t now = (uint64_t)c->started.tv_sec * 1000000000u + (uint64_t)c->started.tv_nsec;
    if (rate_limiter_admit(w->limiter, c->row, limit_key, c, now, &d))
        return 0;
    rate_limit_state_t st;
    rate_limits_get(w->shared->rate_limits, d.limit, &st);
    metrics_record_grpc_rate_limited(w->metrics, c->row, METRICS_SOURCE_GRPC, d.limit);
    door_finishf(c, GRPC_RESOURCE_EXHAUSTED, "rate limit \"%.60s\" exceeded: %g requests a second%s%.60s",
                 st.cfg->name, st.rate,
                 st.cfg->key == CONFIG_RATE_KEY_ADDRESS  ? " per client address"
                 : st.cfg->key == CONFIG_RATE_KEY_HEADER ? " per value of "
                                                         : "",
                 st.cfg->key == CONFIG_RATE_KEY_HEADER ? st.cfg->header : "");
    return 1;
}

static void *on_request(void *conn_data, h2server_stream_t *s, const h2server_header_t *hs, size_t n, int oversize,
                        int end)
{
    door_conn_t *dc = conn_data;
    grpc_door_t *d = dc->door;
    door_call_t *c = call_acquire(d, s);
    if (c == NULL) {
        h2server_reset(s, H2SERVER_REFUSED_STREAM);
        return NULL;
    }
    c->dconn = dc;
    c->hs = hs;
    c->nhs = n;
    /* the fields the door reads, in one pass (h2server gives them well-formed) */
    const char *method = NULL, *ct = NULL, *tmo = NULL, *tp = NULL;
    size_t method_len = 0, ct_len = 0, tmo_len = 0, tp_len = 0;
    c->path = "";
    for (size_t i = 0; i < n; i++) {
        const h2server_header_t *h = &hs[i];
        switch (h->name_len) {
        case 5:
            if (memcmp(h->name, ":path", 5) == 0) {
                c->path = h->value;
                c->path_len = h->value_len;
            }
            break;
        case 7:
            if (memcmp(h->name, ":method", 7) == 0) {
                method = h->value;
                method_len = h->value_len;
            }
            break;
        case 12:
            if (memcmp(h->name, "content-type", 12) == 0) {
                ct = h->value;
                ct_len = h->value_len;
            } else if (memcmp(h->name, "grpc-timeout", 12) == 0) {
                tmo = h->value;
                tmo_len = h->value_len;
            } else if (memcmp(h->name, "x-request-id", 12) == 0) {
                c->request_id = h->value;
                c->request_id_len = h->value_len;
            }
            break;
        case 11:
            if (memcmp(h->name, "traceparent", 11) == 0) {
                tp = h->value;
                tp_len = h->value_len;
            }
            break;
        case 13:
            if (memcmp(h->name, "grpc-encoding", 13) == 0)
                c->compressed = !(h->value_len == 8 && memcmp(h->value, "identity", 8) == 0);
            break;
        default:
            break;
        }
    }
    trace_begin(d->w->trace, &c->trace, tp, tp_len);
    if (oversize) {
        door_finishf(c, GRPC_RESOURCE_EXHAUSTED, "request metadata over the limit of %u bytes",
                     (unsigned)d->w->shared->cfg->grpc.max_header_list);
        return c;
    }
    if (method == NULL || !NAME_IS(method, method_len, "POST")) {
        h2server_header_t allow = HDR("allow", "POST");
        refuse_http(c, 405, "gRPC calls are POST requests\n", &allow);
        return c;
    }
    if (ct == NULL || !is_grpc_content_type(ct, ct_len)) {
        refuse_http(c, 415, "content-type must be application/grpc\n", NULL);
        return c;
    }
    uint32_t client_timeout = tmo ? request_path_grpc_timeout(tmo, tmo_len) : 0;
    const grpc_local_service_t *svc = grpc_local_find(c->path, c->path_len);
    if (svc != NULL) {
        door_local_open(c, svc);
    } else {
        const shared_t *sh = d->w->shared;
        switch (method_table_find(&sh->methods, c->path, c->path_len, &c->row)) {
        case METHOD_FOUND:
            c->has_row = 1;
            if (sh->cfg->nrate_limits == 0 || !rate_limited(c))
                relay_open(c, client_timeout);
            break;
        case METHOD_NO_SERVICE:
            door_finishf(c, GRPC_UNIMPLEMENTED, "unknown service %.*s", (int)(c->path_len > 200 ? 200 : c->path_len),
                         c->path);
            break;
        case METHOD_NO_METHOD:
            door_finishf(c, GRPC_UNIMPLEMENTED, "unknown method %.*s", (int)(c->path_len > 200 ? 200 : c->path_len),
                         c->path);
            break;
        case METHOD_BAD_PATH:
        default:
            door_finishf(c, GRPC_UNIMPLEMENTED, "malformed method path %.*s",
                         (int)(c->path_len > 200 ? 200 : c->path_len), c->path);
            break;
        }
    }
    if (end && !c->finished) {
        if (c->kind == CALL_RELAY)
            relay_data(c, NULL, 0, 1);
        else if (c->kind == CALL_LOCAL)
            door_local_data(c, NULL, 0, 1);
    }
    return c;
}

static void on_data(void *stream_data, const uint8_t *p, size_t n, int end)
{
    door_call_t *c = stream_data;
    if (c == NULL)
        return;
    if (c->kind == CALL_RELAY)
        relay_data(c, p, n, end);
    else if (c->kind == CALL_LOCAL)
        door_local_data(c, p, n, end);
    else
        h2server_consume(c->s, n); /* refused: dropped */
}

static void on_writable(void *stream_data)
{
    door_call_t *c = stream_data;
    if (c == NULL)
        return;
    if (c->kind == CALL_RELAY && c->paused && c->up_active) {
        c->paused = 0;
        upstream_call_resume(c->up);
    } else if (c->kind == CALL_LOCAL) {
        door_local_writable(c);
    }
}

static void on_close(void *stream_data, uint32_t err)
{
    door_call_t *c = stream_data;
    if (c == NULL)
        return;
    (void)err;
    if (c->kind == CALL_RELAY && c->up_active) {
        /* the client reset the stream or hung up: the upstream stops too */
        upstream_call_cancel(c->up);
        c->up_active = 0;
        c->client_cancelled = 1;
        c->call_us = clock_us_since(&c->call_started);
    } else if (c->kind == CALL_LOCAL) {
        door_local_cancel(c);
    }
    if (!c->finished)
        c->code = GRPC_CANCELLED;
    record(c);
    call_release(c);
}

static void on_conn_close(void *conn_data)
{
    free(conn_data);
}

static const h2server_handlers_t door_handlers = {
    .on_request = on_request,
    .on_data = on_data,
    .on_writable = on_writable,
    .on_close = on_close,
    .on_conn_close = on_conn_close,
};

/* ---- the door ---------------------------------------------------------- */

int grpc_door_start(worker_t *w, char *err, size_t errlen)
{
    const config_grpc_t *g = &w->shared->cfg->grpc;
    grpc_door_t *d = calloc(1, sizeof(*d));
    if (d == NULL) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    d->w = w;
    d->max_message = (uint32_t)g->max_message;
    d->max_held = g->max_local_streams;
    h2server_config_t hc = {
        .max_concurrent_streams = g->max_concurrent_streams,
        .max_header_list = (uint32_t)g->max_header_list,
    };
    d->h2 = h2server_ctx_new(w->h2o.loop, &hc, &door_handlers);
    if (d->h2 == NULL) {
        free(d);
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    if (grpc_local_start(w, err, errlen) != 0) {
        h2server_ctx_free(d->h2);
        free(d);
        return -1;
    }
    w->grpc = d;
    return 0;
}

void grpc_door_accept(worker_t *w, h2o_socket_t *sock)
{
    if (w->grpc == NULL) {
        h2o_socket_close(sock);
        return;
    }
    door_conn_t *dc = malloc(sizeof(*dc));
    if (dc == NULL) {
        h2o_socket_close(sock);
        return;
    }
    dc->door = w->grpc;
    struct sockaddr_storage ss;
    socklen_t len = h2o_socket_getpeername(sock, (struct sockaddr *)&ss);
    dc->peer_len = len ? addr_client_bytes((struct sockaddr *)&ss, dc->peer) : 0;
    if (h2server_accept(w->grpc->h2, sock, dc) == NULL)
        free(dc); /* the socket is closed; no connection, no on_conn_close */
}

void grpc_door_drain(worker_t *w, int final)
{
    if (w->grpc == NULL)
        return;
    /* calls that would never end by themselves (a Watch, a reflection
     * stream) end now, so the drain waits only for real calls; at every
     * step, for those opened since the last */
    door_local_drain(w->grpc);
    h2server_shutdown(w->grpc->h2, final);
}

void grpc_door_stop(worker_t *w)
{
    grpc_door_t *d = w->grpc;
    if (d == NULL)
        return;
    h2server_ctx_free(d->h2); /* every call still open closes: cancelled */
    grpc_local_stop(w);
    while (d->free_calls != NULL) {
        door_call_t *c = d->free_calls;
        d->free_calls = c->next_free;
        free(c->sending);
        free(c->arrived);
        grpc_frame_reader_dispose(&c->fr);
        free(c);
    }
    free(d);
    w->grpc = NULL;
}
