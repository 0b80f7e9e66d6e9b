/*
 * trace: OpenTelemetry spans of the request path, the workers' side: W3C
 * trace context in (traceparent, continued or started), the sampling
 * decision, the traceparent that goes upstream, and the finished request
 * handed to the exporter (server/trace_export.h) through this worker's own
 * queue.
 *
 * One request gives one record: its server span and, when it called an
 * upstream, the client span of that call (the server span's child, and the
 * parent named in the traceparent the upstream receives). The record is
 * copied into a single-producer single-consumer ring: the worker is the
 * only producer, the exporter thread the only consumer, so the request path
 * takes no lock and touches no atomic another worker writes; a full ring
 * drops the record and counts it. Nothing here allocates.
 *
 *   trace_begin (request arrives) -> trace_traceparent (metadata upstream)
 *     -> trace_end (request over: record queued when sampled)
 */
#ifndef AG_TRACE_H
#define AG_TRACE_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#define TRACE_PARENT_LEN 55 /* "00-" 32 hex "-" 16 hex "-" 2 hex */

/* Which door the request came through: the span's attributes follow. */
typedef enum trace_door {
    TRACE_DOOR_REST,     /* HTTP server span (http.*, url.path, http.route) */
    TRACE_DOOR_GRPC,     /* gRPC server span (rpc.*) on the gRPC listener */
    TRACE_DOOR_GRPC_WEB, /* gRPC-Web over HTTP: both */
} trace_door_t;

/* One finished request as the exporter reads it. Strings the server keeps
 * for its life (routes, method paths, version and host names) are pointers;
 * the request's own (path, host, tracestate) are copied, cut at their cap. */
typedef struct trace_record {
    uint8_t trace_id[16];
    uint8_t parent_id[8];  /* the caller's span; all zero: a root */
    uint8_t server_id[8];
    uint8_t client_id[8];  /* the upstream call's span */
    uint8_t door;          /* trace_door_t */
    uint8_t called;        /* there is a client span */
    int16_t http_status;   /* 0: none (the gRPC listener's calls have one too) */
    int16_t grpc_code;     /* the status answered; -1: none */
    int16_t up_code;       /* the upstream's status; -1: none (cancelled) */
    uint64_t start_ns, end_ns, call_start_ns, call_end_ns; /* unix ns */
    const char *route;     /* http.route; NULL */
    const char *rpc_path;  /* "/pkg.Service/Method"; NULL */
    const char *version;   /* the upstream version that served; NULL */
    const char *cluster;   /* its cluster; NULL */
    const char *up_host;   /* the version's (first) target */
    uint16_t up_port;
    uint8_t method_len, host_len, state_len;
    uint16_t path_len;
    char method[16];
    char host[64];         /* server.address: Host / :authority, port cut off */
    char state[128];       /* tracestate; longer ones are not recorded */
    char path[192];        /* url.path */
} trace_record_t;

/* A worker's queue to the exporter. head: written by the worker alone;
 * tail: by the exporter alone; each on its own cache line. */
typedef struct trace_ring {
    _Alignas(64) _Atomic uint64_t head;
    uint64_t tail_seen;           /* the worker's last look at tail */
    uint64_t rng;                 /* ids and sampling: the worker's own state */
    uint64_t sample_below;        /* sampled when a random 64-bit value is below (ratio * 2^64) */
    int sample_all;
    int propagate_unsampled;      /* an unsampled new trace still sends its traceparent */
    _Atomic uint64_t dropped;     /* full ring: written by the worker (no RMW), read by /q/metrics */
    _Alignas(64) _Atomic uint64_t tail;
    _Alignas(64) trace_record_t *slots;
    uint32_t mask;
} trace_ring_t;

/* A request's trace context, embedded in its context (zeroed with it). */
typedef struct trace_span {
    uint8_t active;      /* tracing is on: a traceparent goes upstream */
    uint8_t sampled;     /* spans are recorded */
    uint8_t has_parent;  /* a valid traceparent came in */
    uint8_t replace;     /* send ours upstream, not the incoming one */
    uint8_t trace_id[16];
    uint8_t parent_id[8];
    uint8_t server_id[8];
    uint8_t client_id[8];
    uint64_t start_ns;   /* unix ns at trace_begin (sampled only) */
    char traceparent[TRACE_PARENT_LEN];
} trace_span_t;

/* What the door knows when the request is over. */
typedef struct trace_end_info {
    trace_door_t door;
    const struct timespec *started;      /* the request's CLOCK_MONOTONIC start (trace_begin's moment) */
    const struct timespec *call_started; /* the upstream call's; NULL: no call */
    uint64_t us, call_us;
    const char *method;
    size_t method_len;
    const char *path;
    size_t path_len;
    const char *host; /* Host or :authority; NULL */
    size_t host_len;
    const char *tracestate;
    size_t tracestate_len;
    const char *route;
    const char *rpc_path;
    int http_status;
    int grpc_code;
    int up_code;
    const char *version, *cluster, *up_host;
    uint16_t up_port;
} trace_end_info_t;

/* The request begins. ring NULL: tracing is off, and the span stays
 * inactive. tp: the incoming traceparent (NULL when none); a malformed
 * one is ignored and a new trace starts, as W3C says. */
void trace_begin(trace_ring_t *ring, trace_span_t *t, const char *tp, size_t tp_len);

/* The traceparent for the upstream call: NULL to leave the incoming one
 * (unsampled and continued: nothing of ours to name), when off, and for an
 * unsampled new trace unless propagate_unsampled (trace.c says why). */
static inline const char *trace_traceparent(const trace_span_t *t)
{
    return t->active && t->replace ? t->traceparent : NULL;
}

/* The request is over: a sampled span's record goes into the ring (or is
 * counted dropped). */
void trace_end(trace_ring_t *ring, const trace_span_t *t, const trace_end_info_t *e);

/* Parses a W3C traceparent (version 00, or a later one read as 00): 1 with
 * the ids and flags, 0 when malformed (all-zero ids included). */
int trace_parse_traceparent(const char *s, size_t len, uint8_t trace_id[16], uint8_t span_id[8], uint8_t *flags);

/* Ring setup (server/trace_export.c owns the rings). */
int trace_ring_init(trace_ring_t *r, uint32_t size, double sample, int propagate_unsampled, uint64_t seed);
void trace_ring_dispose(trace_ring_t *r);

#endif
