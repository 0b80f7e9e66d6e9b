/*
 * trace.c: the request path's side of traces (trace.h): trace context,
 * sampling, and the worker's end of its ring.
 *
 * Sampling is parent-based with a ratio at the root, OpenTelemetry's
 * ParentBased(TraceIdRatioBased): a request whose traceparent is valid
 * follows its sampled flag, so one trace is recorded by every service or by
 * none; a request that starts a trace is sampled with probability `sample`.
 *
 * Upstream: a sampled request sends a traceparent naming its client span
 * (the upstream's spans become that span's children). An unsampled one
 * that continued a trace passes the caller's traceparent on as it came
 * (W3C allows it, and it costs nothing); one that started a trace sends
 * nothing by default (tracing.propagate_unsampled: false): the services
 * below decide for themselves, as they would with no gateway in front.
 * Sending the new trace with the flag clear instead (propagate_unsampled:
 * true) makes them agree not to sample it, at a price: a unique 55-byte
 * header on every call, which nghttp2 Huffman-codes, about 2,000
 * instructions a request (bench/RESULTS.md section 20), 6 % of a GET, paid
 * by the 99 % of requests a 1 % sampler does not record. tracestate always
 * travels as it came.
 *
 * Ids come from the worker's xorshift state (core/rng.h), seeded from the
 * kernel's random source per worker: W3C asks for ids that are unique and
 * random enough to spread, not secret.
 */
#include "server/trace.h"

#include <stdlib.h>
#include <string.h>

#include "core/rng.h"

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    return -1; /* W3C: lower case only */
}

static int unhex(const char *s, uint8_t *out, size_t n)
{
    uint8_t any = 0;
    for (size_t i = 0; i < n; i++) {
        int hi = hexval(s[2 * i]), lo = hexval(s[2 * i + 1]);
        if (hi < 0 || lo < 0)
            return 0;
        out[i] = (uint8_t)(hi << 4 | lo);
        any |= out[i];
    }
    return any != 0; /* all-zero ids are invalid */
}

/* Two hex digits per byte from one table look-up: a traceparent is made for
 * every request while tracing is on, sampled or not. */
static const char hexpair[256][2] = {
#define H1(i) {"0123456789abcdef"[(i) >> 4], "0123456789abcdef"[(i) & 15]}
#define H4(i) H1(i), H1(i + 1), H1(i + 2), H1(i + 3)
#define H16(i) H4(i), H4(i + 4), H4(i + 8), H4(i + 12)
#define H64(i) H16(i), H16(i + 16), H16(i + 32), H16(i + 48)
    H64(0), H64(64), H64(128), H64(192)
#undef H64
#undef H16
#undef H4
#undef H1
};

static void tohex(char *out, const uint8_t *in, size_t n)
{
    for (size_t i = 0; i < n; i++)
        memcpy(out + 2 * i, hexpair[in[i]], 2);
}

int trace_parse_traceparent(const char *s, size_t len, uint8_t trace_id[16], uint8_t span_id[8], uint8_t *flags)
{
    /* version-format: 00 is exactly 55 characters; a later version may add
     * "-..." after them, and is read as 00 (W3C 3.3: "future versions") */
    if (s == NULL || len < TRACE_PARENT_LEN || s[2] != '-' || s[35] != '-' || s[52] != '-')
        return 0;
    int v1 = hexval(s[0]), v2 = hexval(s[1]);
    if (v1 < 0 || v2 < 0 || (v1 == 15 && v2 == 15))
        return 0; /* ff is forbidden */
    if (v1 == 0 && v2 == 0 ? len != TRACE_PARENT_LEN : len > TRACE_PARENT_LEN && s[TRACE_PARENT_LEN] != '-')
        return 0;
    uint8_t f;
    if (!unhex(s + 3, trace_id, 16) || !unhex(s + 36, span_id, 8))
        return 0;
    int hi = hexval(s[53]), lo = hexval(s[54]);
    if (hi < 0 || lo < 0)
        return 0;
    f = (uint8_t)(hi << 4 | lo);
    *flags = f;
    return 1;
}

/* 8 random bytes; a span id is never all zero (W3C: invalid), nor a trace id's half. */
static void random_id(uint64_t *rng, uint8_t out[8])
{
    uint64_t v;
    while ((v = rng_next(rng)) == 0)
        ;
    memcpy(out, &v, 8);
}

void trace_begin(trace_ring_t *ring, trace_span_t *t, const char *tp, size_t tp_len)
{
    t->active = 0;
    if (ring == NULL)
        return;
    t->active = 1;
    uint8_t flags = 0;
    t->has_parent = (uint8_t)trace_parse_traceparent(tp, tp_len, t->trace_id, t->parent_id, &flags);
    if (t->has_parent) {
        t->sampled = flags & 1;
    } else {
        t->sampled = ring->sample_all || rng_next(&ring->rng) < ring->sample_below;
        if (!t->sampled && !ring->propagate_unsampled) {
            t->replace = 0; /* nothing recorded, nothing sent: as if tracing were off */
            return;
        }
        random_id(&ring->rng, t->trace_id);
        random_id(&ring->rng, t->trace_id + 8);
        memset(t->parent_id, 0, 8);
    }
    t->replace = t->sampled || !t->has_parent;
    if (!t->replace)
        return;
    if (t->sampled) {
        struct timespec now;
        clock_gettime(CLOCK_REALTIME, &now);
        t->start_ns = (uint64_t)now.tv_sec * 1000000000u + (uint64_t)now.tv_nsec;
        random_id(&ring->rng, t->server_id);
    }
    random_id(&ring->rng, t->client_id);
    char *p = t->traceparent;
    memcpy(p, "00-", 3);
    tohex(p + 3, t->trace_id, 16);
    p[35] = '-';
    tohex(p + 36, t->client_id, 8);
    p[52] = '-';
    p[53] = '0';
    p[54] = t->sampled ? '1' : '0';
}

static uint64_t ns_between(const struct timespec *a, const struct timespec *b)
{
    int64_t d = (int64_t)(b->tv_sec - a->tv_sec) * 1000000000 + (b->tv_nsec - a->tv_nsec);
    return d > 0 ? (uint64_t)d : 0;
}

static size_t copy_cut(char *dst, size_t cap, const char *src, size_t len)
{
    if (src == NULL)
        return 0;
    if (len > cap)
        len = cap;
    memcpy(dst, src, len);
    return len;
}

void trace_end(trace_ring_t *ring, const trace_span_t *t, const trace_end_info_t *e)
{
    if (ring == NULL || !t->active || !t->sampled)
        return;
    uint64_t head = atomic_load_explicit(&ring->head, memory_order_relaxed);
    if (head - ring->tail_seen > ring->mask) {
        ring->tail_seen = atomic_load_explicit(&ring->tail, memory_order_acquire);
        if (head - ring->tail_seen > ring->mask) {
            /* full: the exporter is behind (or the collector is down); the request does not wait */
            uint64_t spans = 1u + (e->call_started != NULL);
            atomic_store_explicit(&ring->dropped, atomic_load_explicit(&ring->dropped, memory_order_relaxed) + spans,
                                  memory_order_relaxed);
            return;
        }
    }
    trace_record_t *r = &ring->slots[head & ring->mask];
    memcpy(r->trace_id, t->trace_id, 16);
    memcpy(r->parent_id, t->parent_id, 8);
    memcpy(r->server_id, t->server_id, 8);
    memcpy(r->client_id, t->client_id, 8);
    r->door = (uint8_t)e->door;
    r->called = e->call_started != NULL;
    r->http_status = (int16_t)e->http_status;
    r->grpc_code = (int16_t)e->grpc_code;
    r->up_code = (int16_t)e->up_code;
    r->start_ns = t->start_ns;
    r->end_ns = t->start_ns + e->us * 1000u;
    if (r->called) {
        r->call_start_ns = t->start_ns + ns_between(e->started, e->call_started);
        r->call_end_ns = r->call_start_ns + e->call_us * 1000u;
        if (r->call_end_ns > r->end_ns)
            r->end_ns = r->call_end_ns; /* microsecond rounding: the child stays inside its parent */
    }
    r->route = e->route;
    r->rpc_path = e->rpc_path;
    r->version = e->version;
    r->cluster = e->cluster;
    r->up_host = e->up_host;
    r->up_port = e->up_port;
    r->method_len = (uint8_t)copy_cut(r->method, sizeof(r->method), e->method, e->method_len);
    size_t hl = e->host_len;
    /* server.address is the host alone: "[::1]:9003" -> "[::1]", "h:9003" -> "h" */
    if (e->host != NULL) {
        size_t colon = hl;
        for (size_t i = hl; i > 0; i--) {
            if (e->host[i - 1] == ']')
                break;
            if (e->host[i - 1] == ':') {
                colon = i - 1;
                break;
            }
        }
        hl = colon;
    }
    r->host_len = (uint8_t)copy_cut(r->host, sizeof(r->host), e->host, hl);
    r->state_len = e->tracestate_len <= sizeof(r->state)
                       ? (uint8_t)copy_cut(r->state, sizeof(r->state), e->tracestate, e->tracestate_len)
                       : 0;
    r->path_len = (uint16_t)copy_cut(r->path, sizeof(r->path), e->path, e->path_len);
    atomic_store_explicit(&ring->head, head + 1, memory_order_release);
}

int trace_ring_init(trace_ring_t *r, uint32_t size, double sample, int propagate_unsampled, uint64_t seed)
{
    uint32_t n = 2;
    while (n < size && n < (1u << 20))
        n <<= 1;
    memset(r, 0, sizeof(*r));
    r->slots = calloc(n, sizeof(*r->slots));
    if (r->slots == NULL)
        return -1;
    r->mask = n - 1;
    r->rng = seed ? seed : 0x9e3779b97f4a7c15ull;
    r->sample_all = sample >= 1.0;
    r->propagate_unsampled = propagate_unsampled != 0;
    /* ratio * 2^64 without overflow: 2^63 * 2 * ratio */
    r->sample_below = sample <= 0 ? 0 : (uint64_t)(sample * 9223372036854775808.0) * 2u;
    atomic_init(&r->head, 0);
    atomic_init(&r->tail, 0);
    atomic_init(&r->dropped, 0);
    return 0;
}

void trace_ring_dispose(trace_ring_t *r)
{
    free(r->slots);
    r->slots = NULL;
}
