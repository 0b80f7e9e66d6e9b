/*
 * h2server: HTTP/2 server connections (h2c with prior knowledge) on
 * nghttp2's server session, driven from h2o sockets of one event loop
 * (h2io). It knows streams, headers, bodies, trailers and flow control;
 * what a request means is its user's (the gRPC listener's) business.
 *
 * Why not h2o's own HTTP/2 server: h2o 2.2.5 cannot send trailers, and
 * gRPC ends every call with them.
 *
 * Flow control, both ways, end to end:
 *   request bodies: a stream's window goes back to the client only as its
 *   user calls h2server_consume (when the bytes have gone on); the
 *   connection's window goes back at once, so one stalled stream does not
 *   stop the others. A stream holds at most stream_window bytes unconsumed
 *   (or HTTP/2's default 65535 when the client opened it before our
 *   SETTINGS reached it, as RFC 9113 6.9.2 lets it).
 *   responses: h2server_send copies into the stream's queue, which nghttp2
 *   drains as the client's windows admit. h2server_full says when the
 *   stream's queue or the connection's total is over its cap; the user
 *   stops producing then, and hears on_writable once both are below half.
 *
 * Limits the peer meets, as measured on Debian 12's nghttp2 1.52
 * (tests/h2server_test.c): SETTINGS_MAX_CONCURRENT_STREAMS (nghttp2
 * refuses the streams beyond it, REFUSED_STREAM, before and after the
 * client ACKed it; they never reach on_request), SETTINGS_MAX_HEADER_LIST_SIZE
 * (advertised; nghttp2 does not enforce it on what it receives, so it is
 * enforced here: a request over it reaches on_request marked oversize,
 * without the fields past the limit), nghttp2's own (8 CONTINUATIONs, the
 * RST_STREAM rate limit against rapid reset: about 1000 streams reset in a
 * burst end the connection with GOAWAY(INTERNAL_ERROR); PING and SETTINGS
 * floods), and a handshake timeout for connections that never send the
 * preface.
 *
 * Requests reach the user well-formed (RFC 9113 8.2.1, 8.3.1: lower-case
 * field names, no NUL/CR/LF in values, the pseudo-headers :method,
 * :scheme and :path present, first and once, no connection-specific
 * fields); a malformed one is reset with PROTOCOL_ERROR and never seen.
 * Content-length is not checked against the body: gRPC frames its own.
 *
 * Everything runs on the loop's thread; callbacks may call any function
 * here except h2server_ctx_free. Nothing is closed inside an nghttp2
 * callback: closes happen once nghttp2 has returned.
 */
#ifndef AG_GRPC_H2SERVER_H
#define AG_GRPC_H2SERVER_H

#ifndef H2O_USE_LIBUV
#define H2O_USE_LIBUV 0
#endif
#include <stddef.h>
#include <stdint.h>
#include <h2o/socket.h>

/* HTTP/2 error codes (RFC 9113 section 7) this API speaks in. */
#define H2SERVER_NO_ERROR 0x0u
#define H2SERVER_INTERNAL_ERROR 0x2u
#define H2SERVER_REFUSED_STREAM 0x7u
#define H2SERVER_CANCEL 0x8u

typedef struct h2server_ctx h2server_ctx_t;
typedef struct h2server_conn h2server_conn_t;
typedef struct h2server_stream h2server_stream_t;

typedef struct h2server_header {
    const char *name; /* lower case (HTTP/2 says so; nghttp2 checks it) */
    size_t name_len;
    const char *value;
    size_t value_len;
} h2server_header_t;

typedef struct h2server_config {
    uint32_t max_concurrent_streams; /* per connection; 0: 100 */
    uint32_t max_header_list;        /* request header block (RFC 9113's size: name + value + 32 each); 0: 16 KiB */
    uint32_t stream_window;          /* request bytes one stream may hold unconsumed; 0: 256 KiB */
    uint32_t conn_window;            /* the connection's receive window; 0: 16 MiB */
    size_t stream_buffer;            /* response bytes queued per stream before it is full; 0: 256 KiB */
    size_t conn_buffer;              /* ... per connection, all streams together; 0: 4 MiB */
    uint32_t handshake_timeout_ms;   /* no preface and SETTINGS within: closed; 0: 10000 */
    uint64_t reset_burst, reset_rate;/* incoming RST_STREAM token bucket (rapid reset); 0: nghttp2's (1000, 33/s) */
} h2server_config_t;

typedef struct h2server_handlers {
    /* A request's header block is complete. headers: every field, pseudo-
     * headers first, valid until the stream closes. oversize: the block
     * was over max_header_list (fields past the limit are left out). end:
     * the request has no body. Returns the stream's user pointer. */
    void *(*on_request)(void *conn_data, h2server_stream_t *s, const h2server_header_t *headers, size_t n,
                        int oversize, int end);
    /* Request body bytes, valid during the call; they hold the stream's
     * window until h2server_consume. end: the request is over (n may be 0). */
    void (*on_data)(void *stream_data, const uint8_t *p, size_t n, int end);
    /* The response queue was full and is below half again. */
    void (*on_writable)(void *stream_data);
    /* The stream is gone: err H2SERVER_NO_ERROR when the response went out
     * whole, else the client's RST_STREAM code, or H2SERVER_CANCEL when the
     * connection closed under it. Exactly once per on_request; s is dead after. */
    void (*on_close)(void *stream_data, uint32_t err);
    /* The connection is gone (after its streams' on_close). */
    void (*on_conn_close)(void *conn_data);
} h2server_handlers_t;

/* One per event loop. The config and handlers are copied. */
h2server_ctx_t *h2server_ctx_new(h2o_loop_t *loop, const h2server_config_t *cfg, const h2server_handlers_t *h);
/* Closes every connection (streams get on_close), frees. */
void h2server_ctx_free(h2server_ctx_t *ctx);
/* Serves an accepted socket (it owns it from now on; sock->on_close stays
 * the caller's). NULL when it could not (the socket is closed). */
h2server_conn_t *h2server_accept(h2server_ctx_t *ctx, h2o_socket_t *sock, void *conn_data);
/* The drain: final 0 sends every connection GOAWAY with the last stream id
 * 2^31-1 (a shutdown notice: new streams still accepted while the client
 * learns); final 1 the real one, with the last stream processed: no new
 * streams, each connection closes when its streams are done. */
void h2server_shutdown(h2server_ctx_t *ctx, int final);
/* Open connections. */
size_t h2server_conn_count(const h2server_ctx_t *ctx);

/* ---- a stream ---------------------------------------------------------- */

void h2server_stream_set_data(h2server_stream_t *s, void *data);
int32_t h2server_stream_id(const h2server_stream_t *s);
/* Response headers: status and fields (no pseudo-header among them). end:
 * no body and no trailers follow (a trailers-only gRPC response, an error).
 * 0, or -1 when the stream can no longer answer. */
int h2server_respond(h2server_stream_t *s, int status, const h2server_header_t *h, size_t n, int end);
/* Queues response body bytes (copied); after h2server_respond. 0 / -1 (out
 * of memory, or the response has ended). */
int h2server_send(h2server_stream_t *s, const void *p, size_t n);
/* The same with two pieces (a gRPC prefix and its message): one queueing. */
int h2server_send2(h2server_stream_t *s, const void *a, size_t alen, const void *b, size_t blen);
/* Ends the response once the queue is out: with these trailers (copied),
 * or none (n 0: END_STREAM on the last DATA). */
int h2server_end(h2server_stream_t *s, const h2server_header_t *trailers, size_t n);
/* n request body bytes have gone on: their window back to the client. */
void h2server_consume(h2server_stream_t *s, size_t n);
/* RST_STREAM(err): the response is over whatever was queued. */
void h2server_reset(h2server_stream_t *s, uint32_t err);
/* The stream's queue is over stream_buffer, or its connection's over conn_buffer. */
int h2server_full(h2server_stream_t *s);
/* Response bytes queued and not yet taken into frames. */
size_t h2server_queued(const h2server_stream_t *s);

#endif
