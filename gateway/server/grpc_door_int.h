/*
 * grpc_door_int.h: what the door's parts share, and nothing else may use:
 * the call context and the response functions (grpc_door.c) that the
 * local services' side (grpc_local_api.c) sends with.
 */
#ifndef AG_GRPC_DOOR_INT_H
#define AG_GRPC_DOOR_INT_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "core/arena.h"
#include "grpc/frame.h"
#include "grpc/h2server.h"
#include "server/grpc_local.h"
#include "server/trace.h"
#include "state/split.h"
#include "upstream/upstream.h"

#define DOOR_ARENA_FIRST 4096

struct worker;

typedef enum door_kind {
    CALL_REFUSED, /* answered by the door at once */
    CALL_RELAY,   /* passed through to an upstream */
    CALL_LOCAL,   /* answered by a service of the gateway */
} door_kind_t;

typedef struct grpc_door {
    struct worker *w;
    h2server_ctx_t *h2;
    struct grpc_local_call *free_calls;
    size_t nfree;
    uint32_t max_message;
    /* local calls that stay open (grpc_local_hold): counted against
     * grpc.max_local_streams, and ended by the service at a drain */
    struct grpc_local_call *held;
    uint32_t nheld, max_held;
} grpc_door_t;

/* One client connection: what a call needs of it (the rate limits' key). */
typedef struct door_conn {
    grpc_door_t *door;
    unsigned char peer[16]; /* the client's address bytes (core/addr.h) */
    size_t peer_len;        /* 0: unknown */
} door_conn_t;

/* One call; the local services know it as grpc_local_call_t. */
typedef struct grpc_local_call {
    grpc_door_t *door;
    door_conn_t *dconn;
    struct worker *w;
    h2server_stream_t *s;
    struct grpc_local_call *next_free;
    door_kind_t kind;
    const h2server_header_t *hs; /* the request's fields: h2server's, until the stream closes */
    size_t nhs;
    const char *path;            /* NUL-terminated (h2server keeps fields so) */
    size_t path_len;
    size_t row;                  /* its method-table row, when has_row */
    uint8_t has_row;
    uint8_t compressed;          /* its grpc-encoding names a compression */
    const split_version_t *version;
    /* the relay */
    upstream_call_t *up;
    uint8_t up_active, paused, req_end, end_sent;
    int up_code;                 /* the upstream's own outcome; -1: none (cancelled first, never called) */
    uint8_t client_cancelled;    /* the client reset or hung up while the upstream call ran */
    /* a local service */
    const grpc_local_service_t *svc;
    void *svc_data;
    uint8_t svc_open;            /* the service's part is running: on_cancel is due if the stream goes */
    uint8_t hold_refused;        /* grpc_local_hold said no: the worker holds its limit */
    struct grpc_local_call *held_next, **held_prev; /* on the door's held list; held_prev NULL when not */
    /* the response */
    uint8_t headers_sent, finished;
    int status;                  /* HTTP status sent */
    int code;                    /* gRPC status sent; -1: none yet */
    uint64_t bytes_sent;
    struct timespec started, call_started;
    uint64_t call_us;
    const char *request_id;
    size_t request_id_len;
    trace_span_t trace;          /* its spans' context (server/trace.h) */
    /* kept across reuse (call_acquire zeroes what is above) */
    uint8_t *sending;            /* given to the upstream, until its on_writable */
    size_t sending_len, sending_cap;
    uint8_t *arrived;            /* request bytes since */
    size_t arrived_len, arrived_cap;
    grpc_frame_reader_t fr;
    arena_t arena;
    _Alignas(16) char first_block[DOOR_ARENA_FIRST];
} door_call_t;

/* grpc_door.c */
const char *door_header(const door_call_t *c, const char *name, size_t *len);
int door_send_headers(door_call_t *c, const upstream_header_t *md, size_t n);
int door_send_message(door_call_t *c, uint8_t flags, const uint8_t *msg, size_t len);
void door_finish(door_call_t *c, int code, const char *msg, size_t msg_len, const upstream_header_t *trailers,
                 size_t n);
void door_finishf(door_call_t *c, int code, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* grpc_local_api.c: a call for a local service, from the door's events */
void door_local_open(door_call_t *c, const grpc_local_service_t *svc);
void door_local_data(door_call_t *c, const uint8_t *p, size_t n, int end);
void door_local_writable(door_call_t *c);
void door_local_cancel(door_call_t *c);
/* The drain: every held call's service ends it (on_drain), or the door
 * does (UNAVAILABLE) for a service without one. */
void door_local_drain(grpc_door_t *d);

#endif
