/*
 * upstream: gRPC calls to a cluster of targets (unary, server-, client- and
 * bidirectional streaming), spoken over HTTP/2 (nghttp2) on the calling
 * worker's own h2o event loop.
 *
 * This is the one narrow door between request handling and the transport:
 * a call starts with a method path and metadata, sends its request
 * messages, and ends with callbacks (headers, each message, then the
 * status). Routing and transcoding never see frames, connections or
 * retries.
 *
 * A cluster belongs to one worker thread and is only touched from its loop:
 * no locks. Within a cluster: targets spread round-robin, names resolved at
 * start and re-resolved periodically, connections reused with many streams
 * each, reconnect with backoff, GOAWAY honoured (in-flight streams finish,
 * new ones go to a new connection), the peer's MAX_CONCURRENT_STREAMS
 * respected (calls queue beyond it), keepalive PINGs, grpc-timeout sent and
 * the deadline enforced locally (RST_STREAM, DEADLINE_EXCEEDED).
 */
#ifndef AG_UPSTREAM_H
#define AG_UPSTREAM_H

#include <stddef.h>
#include <stdint.h>
#include <h2o/socket.h>

typedef struct upstream_target {
    const char *host; /* name or address; resolved by the cluster */
    uint16_t port;
} upstream_target_t;

typedef struct upstream_cluster_config {
    const char *name;
    const upstream_target_t *targets;
    size_t ntargets;
    uint32_t connect_timeout_ms;   /* 0: 1000 */
    uint32_t keepalive_interval_ms;/* PING when idle this long; 0: off */
    uint32_t keepalive_timeout_ms; /* no PING ack within: connection dead; 0: 5000 */
    uint32_t resolve_interval_ms;  /* re-resolve target names; 0: 30000 */
    uint32_t max_queued;           /* calls waiting for a stream slot; 0: 10000 */
    /* Outlier ejection: asked per target (index into targets) before a
     * call goes to it; a target it refuses gets calls only while every
     * target is refused. NULL: every target is fine. */
    int (*target_ok)(void *ctx, size_t target);
    void *target_ok_ctx;
    /* Passive outlier detection: what each call did on its target, and each
     * failed connect (target: index into targets), as it happens. failed 1:
     * a connect failed; the transport failed a call (connection lost,
     * protocol error, stream refused, or reset with an error: UNAVAILABLE,
     * INTERNAL or UNKNOWN made here); the server answered UNAVAILABLE; or a
     * call found no connection while the target's connects fail. failed 0:
     * the server answered any other status. A deadline, a cancel (ours or
     * the server's RST_STREAM CANCEL) tells nothing.
     * NULL: not told. */
    void (*target_result)(void *ctx, size_t target, int failed);
    void *target_result_ctx;
} upstream_cluster_config_t;

typedef struct upstream_cluster upstream_cluster_t;

/* The config is copied. NULL with a reason in err when it cannot start (no
 * target, a name that does not resolve at all). */
upstream_cluster_t *upstream_cluster_new(h2o_loop_t *loop, const upstream_cluster_config_t *cfg, char *err,
                                         size_t errlen);
/* Ends every call (their on_close runs with UNAVAILABLE) and closes. */
void upstream_cluster_free(upstream_cluster_t *c);

typedef struct upstream_header {
    const char *name; /* lower case */
    size_t name_len;
    const char *value;
    size_t value_len;
} upstream_header_t;

typedef struct upstream_handlers {
    /* Response headers (no pseudo-headers), before any message. */
    void (*on_headers)(void *ctx, const upstream_header_t *headers, size_t n);
    /* One whole gRPC message, length prefix removed; valid during the call. */
    void (*on_message)(void *ctx, const uint8_t *data, size_t len);
    /* The end, exactly once (unless cancelled): grpc-status and grpc-message
     * (percent-decoded) from the trailers, or made up here: UNAVAILABLE when
     * no connection could carry the call, DEADLINE_EXCEEDED at the deadline,
     * INTERNAL on a protocol error. Trailers exclude grpc-status/-message.
     * May run inside upstream_call_start/_open/_send when the call fails
     * at once. */
    void (*on_close)(void *ctx, int grpc_code, const char *message, size_t message_len,
                     const upstream_header_t *trailers, size_t n);
    /* A pass-through, when set (on_message is then unused): each whole
     * response message with its flags byte (1: compressed, as the
     * response's grpc-encoding says), length prefix removed; valid during
     * the call. Such a call also relays what the client said of its
     * messages: its metadata may carry content-type, grpc-encoding and
     * grpc-accept-encoding (sent as they are, not reserved), and FRAMED
     * sends may carry compressed messages when grpc-encoding names a
     * compression (not "identity"). */
    void (*on_frame)(void *ctx, uint8_t flags, const uint8_t *data, size_t len);
} upstream_handlers_t;

typedef struct upstream_call upstream_call_t;

/*
 * A call with one request message (unary and server-streaming methods):
 * upstream_call_open, then upstream_call_send(msg, UPSTREAM_SEND_END).
 * path: "/pkg.Service/Method". msg: the request message, unframed; it and
 * the metadata must stay valid until on_close (they live in the request's
 * arena). timeout_ms: deadline from now, sent as grpc-timeout; 0 = none.
 * Returns the call, or NULL when on_close has already run.
 */
upstream_call_t *upstream_call_start(upstream_cluster_t *c, const char *path, const uint8_t *msg, size_t len,
                                     const upstream_header_t *metadata, size_t nmetadata, uint32_t timeout_ms,
                                     const upstream_handlers_t *h, void *ctx);

/*
 * Streaming calls. upstream_call_open starts a call with its path, metadata
 * and deadline (as upstream_call_start: the same lifetimes, the same NULL
 * when on_close has already run) but no message: its HEADERS go out as
 * soon as a stream is free, and the request messages follow, each given to
 * upstream_call_send, the last one flagged UPSTREAM_SEND_END. Responses
 * come through the same handlers as ever: on_headers, on_message for each
 * message, on_close exactly once. The two directions are independent:
 * messages may arrive while requests are still being sent (bidi), and the
 * upstream may end the call at any time, with its status or a RST_STREAM
 * (CANCEL reads CANCELLED); on_close runs then, and a later send returns -1.
 *
 * Buffers: nothing is copied when it is sent. The bytes of every send stay
 * referenced until the stream has taken them into its frames, which it does
 * only as far as the upstream's HTTP/2 flow-control windows admit.
 * on_writable (may be NULL) runs, from the loop, once everything sent so
 * far has been taken: every buffer given to upstream_call_send until then
 * is the caller's again. That is the sender's back-pressure: one that waits
 * for on_writable before it sends more never runs ahead of the upstream.
 * Without on_writable the buffers are held until on_close, as a unary
 * call's are. Receiving has its own back-pressure: upstream_call_pause.
 *
 * Retries: a call the upstream provably did not process (REFUSED_STREAM,
 * GOAWAY) is sent again on another stream from its first byte, which needs
 * every buffer: once on_writable has given buffers back the call is not
 * retried, and fails instead (UNAVAILABLE).
 */
upstream_call_t *upstream_call_open(upstream_cluster_t *c, const char *path, const upstream_header_t *metadata,
                                    size_t nmetadata, uint32_t timeout_ms, const upstream_handlers_t *h,
                                    void (*on_writable)(void *ctx), void *ctx);

/* The request stream ends with these bytes (END_STREAM). An empty FRAMED
 * send with it ends the stream without a message. */
#define UPSTREAM_SEND_END 1u
/* The bytes are gRPC's framing (5-byte prefix, flags 0 (or 1 in a
 * pass-through with grpc-encoding, see on_frame), then the message),
 * as a pass-through receives it: any piece of the stream, split anywhere
 * (inside a prefix too), sent as it is. Without this flag the bytes are one
 * whole message and the prefix is made here. The framing is followed
 * across sends: a whole message cannot be sent inside a FRAMED one. */
#define UPSTREAM_SEND_FRAMED 2u

/*
 * Queues len bytes at data for the request stream (see UPSTREAM_SEND_*).
 * 0: queued. -1: not queued, and nothing changed: the call's status is
 * known already (on_close has run or is coming), UPSTREAM_SEND_END was
 * sent, or the bytes would break the framing (a compressed or malformed
 * prefix, a whole message inside a FRAMED one, the end inside a message).
 * Or -1 because the call had to end for it (out of memory, a message over
 * 4 GiB): then on_close (RESOURCE_EXHAUSTED) has run inside this call.
 */
int upstream_call_send(upstream_call_t *call, const uint8_t *data, size_t len, unsigned flags);

/* The client went away: RST_STREAM(CANCEL) upstream; no callback after.
 * Works the same in any state, whatever has been sent. */
void upstream_call_cancel(upstream_call_t *call);

/* Flow control: a streaming consumer that falls behind stops reading;
 * upstream_call_resume lets messages flow again. */
void upstream_call_pause(upstream_call_t *call);
void upstream_call_resume(upstream_call_t *call);

/* Counters for health and metrics, read on the cluster's own thread. */
typedef struct upstream_stats {
    uint64_t calls_started, calls_failed, connects, connect_failures, goaways_received;
    uint32_t connections_open, streams_active, calls_queued;
} upstream_stats_t;
void upstream_cluster_stats(const upstream_cluster_t *c, upstream_stats_t *out);

#endif
