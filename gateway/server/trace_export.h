/*
 * trace_export: the exporter thread of traces. It owns one ring per worker
 * (server/trace.h), drains them, encodes what it took as one OTLP
 * ExportTraceServiceRequest (protobuf, opentelemetry-proto's files in
 * proto/opentelemetry) and POSTs it to ENDPOINT/v1/traces, off the request
 * path: a collector that is down or slow costs the workers nothing; their
 * rings fill and what does not fit is dropped and counted.
 */
#ifndef AG_TRACE_EXPORT_H
#define AG_TRACE_EXPORT_H

#include <stdint.h>

#include "config/config.h"
#include "server/trace.h"

typedef struct tracer tracer_t;

/* NULL with err when cfg names no usable endpoint or memory is short; the
 * caller checks cfg->endpoint first (no endpoint: no tracer at all). */
tracer_t *tracer_new(const config_tracing_t *cfg, unsigned nworkers, char *err, size_t errlen);
/* Starts the exporter thread. */
int tracer_start(tracer_t *t, char *err, size_t errlen);
/* Stops it after one last export of what is queued (bounded by the export
 * timeout); the workers must have stopped. Safe when never started. */
void tracer_stop(tracer_t *t);
void tracer_free(tracer_t *t);

/* Worker w's ring: it alone writes to it. */
trace_ring_t *tracer_ring(tracer_t *t, unsigned w);

typedef struct tracer_stats {
    uint64_t spans_exported;      /* accepted by the collector (2xx) */
    uint64_t spans_dropped_queue; /* a worker's ring was full */
    uint64_t spans_dropped_export;/* in an export that failed (refused, timed out, no connection) */
    uint64_t exports_ok, exports_failed;
} tracer_stats_t;
/* From any thread (the /q/metrics scrape). */
void tracer_stats(const tracer_t *t, tracer_stats_t *out);

#endif
