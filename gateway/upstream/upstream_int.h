/*
 * upstream_int.h: what the parts of gateway/upstream/ share, and nothing
 * outside that folder may use: the structs of a cluster, its targets,
 * connections and calls, and the functions one part calls in another
 * (prefixed up_, as they link with the rest of the gateway; the few small
 * static inline helpers keep short names). The parts:
 *
 *   call.c      a call's lifecycle, its request messages (the send queue
 *               nghttp2 reads) and response messages, and the call API
 *   session.c   the nghttp2 callbacks: frames in, turned into call events
 *   conn.c      connections: connect, handshake, read, write, keepalive,
 *               close; target backoff
 *   upstream.c  the cluster: dispatch (queue -> streams, the pump),
 *               timers, name resolution, the cluster API
 *   timer_heap.c  the timers' min-heap (a module of its own)
 *
 * An nghttp2 client session per connection, driven by the worker's own h2o
 * evloop. Three state machines, each with its transitions in one place:
 *
 *   connection (conn_t.state, see conn_state_t): CONNECTING -> HANDSHAKING
 *   -> READY -> DRAINING -> CLOSED. Only READY takes new streams; DRAINING
 *   (after a GOAWAY, or when re-resolution dropped its address) lets its
 *   streams finish. up_conn_close() is the one way to CLOSED: it fails or
 *   re-queues the calls still on it and frees it.
 *
 *   call (upstream_call_t.state, see call_state_t): QUEUED -> ACTIVE ->
 *   [ENDING] -> DONE, with ACTIVE -> QUEUED for a transparent retry (the
 *   peer provably did not process the stream). call_complete() is the one
 *   way to DONE, and it is where on_close runs. A DONE call's struct goes
 *   back to the free list once nghttp2 has let go of its stream and no
 *   callback of it is on the stack (up_call_try_release()). Sending is
 *   beside this, not a state of it: a QUEUED or ACTIVE call takes sends
 *   until UPSTREAM_SEND_END (send_end); nghttp2 takes them from the send
 *   queue as the windows admit, and items stay queued until on_writable
 *   gives them back (released: no transparent retry from then on).
 *
 *   target backoff (target_t.failures/retry_at): each failed connect
 *   doubles the wait before the next attempt (100 ms .. 10 s, +-20 %
 *   jitter); a connection that reached READY resets it. A target that may
 *   not be tried yet makes no timer: the next call that needs it checks.
 *
 * Timers: h2o 2.2 only has fixed-interval timeout lists, while deadlines
 * here are arbitrary. So the cluster keeps its own binary min-heap
 * (timer_heap.h: deadlines, connect and keepalive timers, re-resolution)
 * and one h2o_timeout_entry_t on a private zero-interval h2o_timeout_t whose
 * registered_at is set to the heap's earliest expiry; h2o wakes at
 * registered_at + interval. That h2o_timeout_t never holds another entry,
 * so its FIFO order (the one thing h2o assumes of registered_at) holds.
 *
 * Batching: nothing is written where it is produced. Starting a call,
 * receiving frames and timers only schedule the cluster's "pump", a
 * zero-interval h2o timeout, which h2o runs after all socket callbacks of
 * the loop iteration. The pump submits queued calls, then gathers each
 * connection's nghttp2 output into one buffer and issues one
 * h2o_socket_write; the next gather waits for that write's completion, so
 * a socket never has two writes in flight. Last, it tells the senders
 * whose send queue those gathers took (on_writable).
 *
 * Memory: call structs come from a per-cluster free list and keep their
 * small send queue and receive/header buffers across reuse; request
 * messages and metadata are referenced (the caller keeps them valid until
 * on_writable or on_close) and copied only into the socket's output
 * buffer. nghttp2 allocates its own stream state per request, which is
 * outside our control.
 *
 * Reentrancy rules (see upstream.h): callbacks may start, send on and
 * cancel calls, pause and resume; they must not free the cluster. Cancelling the call
 * whose callback is running is fine; after on_close returns the call
 * handle is dead, and upstream_call_cancel from inside its own on_close is
 * a no-op.
 */
#ifndef AG_UPSTREAM_INT_H
#define AG_UPSTREAM_INT_H

#ifndef H2O_USE_LIBUV
#define H2O_USE_LIBUV 0
#endif
#include "upstream/upstream.h"
#include "upstream/timer_heap.h"
#include "core/block_cache.h"
#include "grpc/frame.h"
#include "grpc/h2io.h"

#include <nghttp2/nghttp2.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <h2o/linklist.h>
#include <h2o/memory.h>
#include <h2o/timeout.h>

/* gRPC codes used here (the full table lives in core/status.h). */
enum {
    CODE_OK = 0,
    CODE_CANCELLED = 1,
    CODE_UNKNOWN = 2,
    CODE_DEADLINE_EXCEEDED = 4,
    CODE_PERMISSION_DENIED = 7,
    CODE_RESOURCE_EXHAUSTED = 8,
    CODE_UNIMPLEMENTED = 12,
    CODE_INTERNAL = 13,
    CODE_UNAVAILABLE = 14,
    CODE_UNAUTHENTICATED = 16,
};

#define STREAM_WINDOW (1u << 20)       /* per stream: one slow consumer holds at most this */
#define CONN_WINDOW (16u << 20)        /* per connection: never the bottleneck */
#define MAX_MESSAGE (64u << 20)        /* larger response messages fail RESOURCE_EXHAUSTED */
#define MAX_HEADER_BYTES (64u << 10)   /* response headers or trailers of one call */
#define BACKOFF_MIN_MS 100
#define BACKOFF_MAX_MS 10000
#define RETRY_MAX 3                    /* transparent retries of one call */
#define FREE_CALLS_MAX 4096            /* idle call structs kept per cluster */
#define KEEP_BUF_MAX (64u << 10)       /* larger per-call buffers are dropped on reuse */

/* ---- connections, targets, calls -------------------------------------- */

typedef enum conn_state {
    CONN_CONNECTING,  /* TCP connect in flight; connect_timer armed */
    CONN_HANDSHAKING, /* TCP up, our preface sent; waiting for the peer's SETTINGS (connect_timer still armed) */
    CONN_READY,       /* takes new streams up to the peer's MAX_CONCURRENT_STREAMS */
    CONN_DRAINING,    /* GOAWAY received or address retired: existing streams finish, no new ones */
    CONN_CLOSED,      /* torn down; only momentarily visible inside up_conn_close() */
} conn_state_t;

typedef enum call_state {
    CALL_QUEUED, /* in cluster->queue, waiting for a stream slot; no stream yet */
    CALL_ACTIVE, /* a stream carries it (conn != NULL), or it is being moved off a dying connection */
    CALL_ENDING, /* status known, but the consumer paused with messages still buffered */
    CALL_DONE,   /* on_close ran or the call was cancelled; only waits for the stream and the stack */
} call_state_t;

typedef struct conn conn_t;
typedef struct target target_t;

typedef struct sendq_item {
    const uint8_t *data; /* the caller's bytes, referenced */
    size_t len;
    uint8_t prefix[5];   /* gRPC's length prefix, made here for a whole message */
    uint8_t nprefix;     /* 5: a message, prefix goes first; 0: FRAMED bytes, sent as they are */
} sendq_item_t;

typedef struct hoff {
    uint32_t no, nl, vo, vl; /* offsets into call->hb: offsets survive its growth, pointers would not */
} hoff_t;

struct upstream_call {
    upstream_cluster_t *cluster;
    call_state_t state;
    h2o_linklist_t link;  /* cluster->queue (QUEUED), conn->calls (attached), cluster->parked (ENDING) */
    h2o_linklist_t rlink; /* cluster->resumed: buffered messages to deliver */
    h2o_linklist_t wlink; /* cluster->writable: the send queue was taken, on_writable is due */
    upstream_call_t *next_free;
    conn_t *conn;         /* non-NULL while nghttp2 holds a stream whose user data is this call */
    int32_t stream_id;
    uint64_t seq; /* start order: retried calls go back into the queue in this order */

    /* request, referenced */
    const char *path;
    const upstream_header_t *md;
    size_t nmd;
    upstream_handlers_t h;
    void (*on_writable)(void *ctx);
    void *ctx;

    /* the send queue: what upstream_call_send gave, in order; nghttp2 takes
     * it at sq[sq_cur], sq_off bytes in (a prefix counts). Taken items stay
     * until on_writable gives them back, so a retry can send them again. */
    sendq_item_t *sq;
    size_t nsq, sqcap, sq_cur, sq_off;
    grpc_frame_reader_t fr; /* FRAMED sends: where they are in gRPC's framing (followed, not buffered) */
    uint8_t passthrough; /* h.on_frame is set: messages keep their flags, grpc-encoding travels */
    uint8_t send_end;  /* UPSTREAM_SEND_END given: nothing more will be queued */
    uint8_t deferred;  /* nghttp2 found the queue empty: upstream_call_send resumes the stream */
    uint8_t released;  /* on_writable gave buffers back: a retry could not resend them */
    timer_heap_timer_t deadline;
    uint64_t deadline_at; /* 0: none */

    uint8_t retries, headers_sent, got_headers, paused, in_cb, block; /* block: 1 response headers, 2 trailers */
    uint8_t ct_ok, hdr_overflow, remote_ended; /* remote_ended: the frame being handled has END_STREAM */
    uint8_t answered;  /* the status is the server's (grpc-status received): up_report_outcome */
    int32_t target;    /* index of the target whose stream carried it last; -1: none yet */
    int http_status;
    int grpc_status; /* -1: none received */

    /* the header block being received, then delivered */
    char *hb;
    size_t hblen, hbcap;
    hoff_t *ho;
    size_t nho, hocap;
    upstream_header_t *hv;
    size_t hvcap;
    size_t gmsg_off, gmsg_len;

    /* response bytes not yet delivered as messages */
    uint8_t *rb;
    size_t rblen, rboff, rbcap;
    size_t unconsumed; /* received while paused: returned to the stream window on resume */

    /* the status an ENDING call will report */
    int end_code;
    const char *end_msg;
    size_t end_msg_len, end_ntrailers;
    char errmsg[192];
    char tmo[16]; /* grpc-timeout value */
    size_t tmo_len;
};

struct conn {
    upstream_cluster_t *cluster;
    target_t *target;
    conn_state_t state;
    h2o_linklist_t link; /* cluster->conns */
    h2io_t io;            /* the socket and the nghttp2 session on it */
    h2o_linklist_t calls; /* calls with a stream here, in stream order */
    uint32_t nstreams;
    /* the last stream looked up: one frame's callbacks (a header each) ask
     * for the same stream in a row, and nghttp2's lookup is a hash probe */
    int32_t last_id;
    upstream_call_t *last_call;
    unsigned indexed_names; /* unique_per_call names sent indexed once (their bits) */
    int ping_outstanding, goaway;
    int32_t goaway_last_id;
    uint64_t last_recv_at;
    timer_heap_timer_t connect_timer, keepalive_timer, ping_timer;
    struct sockaddr_storage addr;
    socklen_t addrlen;
    char errmsg[128]; /* first error nghttp2 reported on this session */
};

struct target {
    upstream_cluster_t *cluster;
    char *host;
    uint16_t port;
    char *authority;
    int literal; /* an address literal: never re-resolved */
    struct sockaddr_storage *addrs;
    socklen_t *addrlens;
    size_t naddrs, next_addr;
    conn_t *conn; /* the connection new streams go to (not DRAINING); NULL: none */
    unsigned failures;
    uint64_t retry_at;
};

struct upstream_cluster {
    h2o_loop_t *loop;
    upstream_cluster_config_t cfg; /* cfg.name points to name; cfg.targets unused after copy */
    char *name;
    target_t *targets;
    size_t ntargets, rr;
    h2o_linklist_t conns;
    h2o_linklist_t queue;
    uint32_t nqueued;
    h2o_linklist_t parked;
    h2o_linklist_t resumed;
    h2o_linklist_t writable;
    upstream_call_t *free_calls;
    size_t nfree;
    uint64_t seq;
    timer_heap_t timers;
    h2o_timeout_t wake_timeout, pump_timeout;
    h2o_timeout_entry_t wake_entry, pump_entry;
    uint64_t wake_at;
    timer_heap_timer_t resolve_timer;
    nghttp2_session_callbacks *cbs;
    nghttp2_option *opt;
    /* nghttp2 allocates a stream, an outbound item and a header copy per
     * call: from free lists of this loop, not malloc */
    block_cache_t blocks;
    nghttp2_mem mem;
    nghttp2_nv *nva;
    size_t nvacap;
    upstream_stats_t stats;
    uint64_t rnd;
    int freeing;
    char last_error[192];
};

/* ---- small helpers ----------------------------------------------------- */

static inline uint64_t now_ms(upstream_cluster_t *c)
{
    return h2o_now(c->loop);
}

static inline int grow(void **p, size_t *cap, size_t need, size_t elem)
{
    if (need <= *cap)
        return 0;
    size_t n = *cap ? *cap : 16;
    while (n < need)
        n *= 2;
    void *q = realloc(*p, n * elem);
    if (q == NULL)
        return -1;
    *p = q;
    *cap = n;
    return 0;
}

static inline int name_is(const uint8_t *name, size_t len, const char *lit)
{
    size_t n = strlen(lit);
    return len == n && memcmp(name, lit, n) == 0;
}

/* Points call->hv at the collected headers; hb no longer grows after this. Inline: twice a call. */
static inline size_t up_build_headers(upstream_call_t *call)
{
    if (grow((void **)&call->hv, &call->hvcap, call->nho, sizeof(*call->hv)) != 0)
        return 0;
    for (size_t i = 0; i < call->nho; i++) {
        hoff_t *o = &call->ho[i];
        call->hv[i] = (upstream_header_t){call->hb + o->no, o->nl, call->hb + o->vo, o->vl};
    }
    return call->nho;
}

/* ---- timers ------------------------------------------------------------ */

/* Inline, as a deadline is armed and disarmed on every call; on_wake
 * (upstream.c) runs what is due. */
static inline void up_wake_update(upstream_cluster_t *c)
{
    timer_heap_timer_t *first = timer_heap_first(&c->timers);
    if (first == NULL) {
        h2o_timeout_unlink(&c->wake_entry);
        return;
    }
    uint64_t at = first->at;
    if (h2o_timeout_is_linked(&c->wake_entry) && c->wake_at == at)
        return;
    h2o_timeout_unlink(&c->wake_entry);
    h2o_timeout_link(c->loop, &c->wake_timeout, &c->wake_entry);
    /* the only entry of a zero-interval list: h2o fires it at registered_at */
    c->wake_entry.registered_at = at;
    c->wake_at = at;
}

static inline void up_timer_disarm(upstream_cluster_t *c, timer_heap_timer_t *t)
{
    if (!timer_heap_is_armed(t))
        return;
    timer_heap_disarm(&c->timers, t);
    up_wake_update(c);
}

static inline int up_timer_arm(upstream_cluster_t *c, timer_heap_timer_t *t, uint64_t at)
{
    if (timer_heap_arm(&c->timers, t, at) != 0)
        return -1;
    up_wake_update(c);
    return 0;
}

/* ---- call.c ------------------------------------------------------------ */

void up_call_free_buffers(upstream_call_t *call);
void up_call_try_release(upstream_call_t *call);
void up_call_completef(upstream_call_t *call, int code, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
void up_call_reset_stream(upstream_call_t *call, uint32_t err);
void up_call_fail(upstream_call_t *call, int code, const char *msg);
void up_queue_push(upstream_cluster_t *c, upstream_call_t *call, h2o_linklist_t *before);
void up_queue_retry(upstream_cluster_t *c, upstream_call_t *call);
int up_rb_append(upstream_call_t *call, const uint8_t *p, size_t n);
void up_drain_buffered(upstream_call_t *call);
void up_feed_data(upstream_call_t *call, const uint8_t *data, size_t len);
void up_call_finish_or_park(upstream_call_t *call);
void up_call_remote_end(upstream_call_t *call);
ssize_t up_on_read_body(nghttp2_session *ng, int32_t id, uint8_t *buf, size_t length, uint32_t *flags,
                        nghttp2_data_source *src, void *ud);

/* ---- session.c --------------------------------------------------------- */

void up_session_callbacks_init(nghttp2_session_callbacks *cbs);
void up_forget_stream(conn_t *conn, int32_t id);
int up_retryable(conn_t *conn, upstream_call_t *call, uint32_t err);

/* ---- conn.c ------------------------------------------------------------ */

int up_conn_start(target_t *t);
void up_conn_ready(conn_t *conn);
void up_conn_drain(conn_t *conn);
void up_conn_close(conn_t *conn, int code, const char *msg);
void up_conn_arm_keepalive(conn_t *conn, uint64_t from);
int up_conn_flush(conn_t *conn);
void up_conn_check_done(conn_t *conn);

/* ---- upstream.c -------------------------------------------------------- */

int up_ensure_connections(upstream_cluster_t *c);
int up_metadata_compressed(const upstream_header_t *md, size_t n);
/* Passive outlier detection (cfg.target_result): a call's end, a failed connect. */
void up_report_outcome(upstream_call_t *call, int code);
void up_report_connect_failure(target_t *t);

/* Runs the pump (upstream.c) once the loop's socket callbacks are done; inline: it is asked for on every frame. */
static inline void up_schedule_pump(upstream_cluster_t *c)
{
    if (!h2o_timeout_is_linked(&c->pump_entry) && !c->freeing)
        h2o_timeout_link(c->loop, &c->pump_timeout, &c->pump_entry);
}

#endif
