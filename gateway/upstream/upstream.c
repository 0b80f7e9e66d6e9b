/*
 * upstream.c: the gRPC client behind upstream.h, an nghttp2 client session
 * per connection driven by the worker's own h2o evloop.
 *
 * Three state machines, each with its transitions in one place:
 *
 *   connection (conn_t.state, see conn_state_t): CONNECTING -> HANDSHAKING
 *   -> READY -> DRAINING -> CLOSED. Only READY takes new streams; DRAINING
 *   (after a GOAWAY, or when re-resolution dropped its address) lets its
 *   streams finish. conn_close() is the one way to CLOSED: it fails or
 *   re-queues the calls still on it and frees it.
 *
 *   call (upstream_call_t.state, see call_state_t): QUEUED -> ACTIVE ->
 *   [ENDING] -> DONE, with ACTIVE -> QUEUED for a transparent retry (the
 *   peer provably did not process the stream). call_complete() is the one
 *   way to DONE, and it is where on_close runs. A DONE call's struct goes
 *   back to the free list once nghttp2 has let go of its stream and no
 *   callback of it is on the stack (call_try_release()).
 *
 *   target backoff (target_t.failures/retry_at): each failed connect
 *   doubles the wait before the next attempt (100 ms .. 10 s, +-20 %
 *   jitter); a connection that reached READY resets it. A target that may
 *   not be tried yet makes no timer: the next call that needs it checks.
 *
 * Timers: h2o 2.2 only has fixed-interval timeout lists, while deadlines
 * here are arbitrary. So the cluster keeps its own binary min-heap of
 * utimer_t (deadlines, connect and keepalive timers, re-resolution) and
 * one h2o_timeout_entry_t on a private zero-interval h2o_timeout_t whose
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
 * a socket never has two writes in flight.
 *
 * Memory: call structs come from a per-cluster free list and keep their
 * small receive/header buffers across reuse; request messages and
 * metadata are referenced (the caller keeps them valid until on_close)
 * and copied only into the socket's output buffer. nghttp2 allocates its
 * own stream state per request, which is outside our control.
 *
 * Reentrancy rules (see upstream.h): callbacks may start and cancel calls,
 * pause and resume; they must not free the cluster. Cancelling the call
 * whose callback is running is fine; after on_close returns the call
 * handle is dead, and upstream_call_cancel from inside its own on_close is
 * a no-op.
 *
 * The process must ignore SIGPIPE (as every h2o process does): h2o writes
 * with writev(), and a peer that closed would otherwise raise it.
 *
 * Name resolution: getaddrinfo runs on the loop thread, at
 * upstream_cluster_new and every resolve_interval_ms for names that are
 * not address literals. It blocks the worker for as long as the resolver
 * takes; acceptable for the names of a cluster (usually a local resolver
 * or /etc/hosts), and literal addresses never resolve at all. A failed
 * re-resolution keeps the previous addresses.
 */
#ifndef H2O_USE_LIBUV
#define H2O_USE_LIBUV 0
#endif
#include "upstream/upstream.h"
#include "core/block_cache.h"
#include "core/decimal.h"

#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <nghttp2/nghttp2.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

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
#define WRITE_GATHER_MAX (1u << 20)    /* one socket write carries at most about this */
#define BACKOFF_MIN_MS 100
#define BACKOFF_MAX_MS 10000
#define RETRY_MAX 3                    /* transparent retries of one call */
#define FREE_CALLS_MAX 4096            /* idle call structs kept per cluster */
#define KEEP_BUF_MAX (64u << 10)       /* larger per-call buffers are dropped on reuse */

/* ---- timers ------------------------------------------------------------ */

#define TIMER_IDLE SIZE_MAX

typedef struct utimer {
    uint64_t at;  /* absolute, in h2o_now() milliseconds */
    size_t idx;   /* position in the heap, TIMER_IDLE when not armed */
    void (*cb)(struct utimer *t);
} utimer_t;

/* ---- connections, targets, calls -------------------------------------- */

typedef enum conn_state {
    CONN_CONNECTING,  /* TCP connect in flight; connect_timer armed */
    CONN_HANDSHAKING, /* TCP up, our preface sent; waiting for the peer's SETTINGS (connect_timer still armed) */
    CONN_READY,       /* takes new streams up to the peer's MAX_CONCURRENT_STREAMS */
    CONN_DRAINING,    /* GOAWAY received or address retired: existing streams finish, no new ones */
    CONN_CLOSED,      /* torn down; only momentarily visible inside conn_close() */
} conn_state_t;

typedef enum call_state {
    CALL_QUEUED, /* in cluster->queue, waiting for a stream slot; no stream yet */
    CALL_ACTIVE, /* a stream carries it (conn != NULL), or it is being moved off a dying connection */
    CALL_ENDING, /* status known, but the consumer paused with messages still buffered */
    CALL_DONE,   /* on_close ran or the call was cancelled; only waits for the stream and the stack */
} call_state_t;

typedef struct conn conn_t;
typedef struct target target_t;

typedef struct hoff {
    uint32_t no, nl, vo, vl; /* offsets into call->hb: offsets survive its growth, pointers would not */
} hoff_t;

struct upstream_call {
    upstream_cluster_t *cluster;
    call_state_t state;
    h2o_linklist_t link;  /* cluster->queue (QUEUED), conn->calls (attached), cluster->parked (ENDING) */
    h2o_linklist_t rlink; /* cluster->resumed: buffered messages to deliver */
    upstream_call_t *next_free;
    conn_t *conn;         /* non-NULL while nghttp2 holds a stream whose user data is this call */
    int32_t stream_id;
    uint64_t seq; /* start order: retried calls go back into the queue in this order */

    /* request, referenced */
    const char *path;
    const uint8_t *msg;
    size_t len, sent; /* sent counts the 5-byte prefix too */
    uint8_t prefix[5];
    const upstream_header_t *md;
    size_t nmd;
    upstream_handlers_t h;
    void *ctx;
    utimer_t deadline;
    uint64_t deadline_at; /* 0: none */

    uint8_t retries, headers_sent, got_headers, paused, in_cb, block; /* block: 1 response headers, 2 trailers */
    uint8_t ct_ok, hdr_overflow, remote_ended; /* remote_ended: the frame being handled has END_STREAM */
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
    h2o_socket_t *sock;
    nghttp2_session *ng;
    h2o_linklist_t calls; /* calls with a stream here, in stream order */
    uint32_t nstreams;
    /* the last stream looked up: one frame's callbacks (a header each) ask
     * for the same stream in a row, and nghttp2's lookup is a hash probe */
    int32_t last_id;
    upstream_call_t *last_call;
    unsigned indexed_names; /* unique_per_call names sent indexed once (their bits) */
    uint8_t *out;
    size_t outlen, outcap;
    int writing, ping_outstanding, goaway;
    int32_t goaway_last_id;
    uint64_t last_recv_at;
    utimer_t connect_timer, keepalive_timer, ping_timer;
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
    upstream_call_t *free_calls;
    size_t nfree;
    uint64_t seq;
    utimer_t **heap;
    size_t nheap, heapcap;
    h2o_timeout_t wake_timeout, pump_timeout;
    h2o_timeout_entry_t wake_entry, pump_entry;
    uint64_t wake_at;
    utimer_t resolve_timer;
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

static void conn_close(conn_t *conn, int code, const char *msg);
static void schedule_pump(upstream_cluster_t *c);
static void call_try_release(upstream_call_t *call);

/* ---- small helpers ----------------------------------------------------- */

static uint64_t now_ms(upstream_cluster_t *c)
{
    return h2o_now(c->loop);
}

static uint32_t rnd32(upstream_cluster_t *c)
{
    /* xorshift64*: jitter only, no need for quality */
    c->rnd ^= c->rnd >> 12;
    c->rnd ^= c->rnd << 25;
    c->rnd ^= c->rnd >> 27;
    return (uint32_t)((c->rnd * 2685821657736338717ULL) >> 32);
}

static int grow(void **p, size_t *cap, size_t need, size_t elem)
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

static int name_is(const uint8_t *name, size_t len, const char *lit)
{
    size_t n = strlen(lit);
    return len == n && memcmp(name, lit, n) == 0;
}

/* gRPC's HTTP-to-gRPC status rules, for a response that is not gRPC. */
static int code_from_http(int status)
{
    switch (status) {
    case 400:
        return CODE_INTERNAL;
    case 401:
        return CODE_UNAUTHENTICATED;
    case 403:
        return CODE_PERMISSION_DENIED;
    case 404:
        return CODE_UNIMPLEMENTED;
    case 429:
    case 502:
    case 503:
    case 504:
        return CODE_UNAVAILABLE;
    default:
        return CODE_UNKNOWN;
    }
}

/* gRPC's RST_STREAM rules. */
static int code_from_rst(uint32_t err)
{
    switch (err) {
    case NGHTTP2_REFUSED_STREAM:
        return CODE_UNAVAILABLE;
    case NGHTTP2_CANCEL:
        return CODE_CANCELLED;
    case NGHTTP2_ENHANCE_YOUR_CALM:
        return CODE_RESOURCE_EXHAUSTED;
    case NGHTTP2_INADEQUATE_SECURITY:
        return CODE_PERMISSION_DENIED;
    default:
        return CODE_INTERNAL;
    }
}

static int hexval(int ch)
{
    if (ch >= '0' && ch <= '9')
        return ch - '0';
    if (ch >= 'a' && ch <= 'f')
        return ch - 'a' + 10;
    if (ch >= 'A' && ch <= 'F')
        return ch - 'A' + 10;
    return -1;
}

/* ---- timer heap -------------------------------------------------------- */

static void heap_set(upstream_cluster_t *c, size_t i, utimer_t *t)
{
    c->heap[i] = t;
    t->idx = i;
}

static void heap_up(upstream_cluster_t *c, size_t i)
{
    utimer_t *t = c->heap[i];
    while (i > 0) {
        size_t p = (i - 1) / 2;
        if (c->heap[p]->at <= t->at)
            break;
        heap_set(c, i, c->heap[p]);
        i = p;
    }
    heap_set(c, i, t);
}

static void heap_down(upstream_cluster_t *c, size_t i)
{
    utimer_t *t = c->heap[i];
    for (;;) {
        size_t l = 2 * i + 1, m = i;
        utimer_t *best = t;
        if (l < c->nheap && c->heap[l]->at < best->at)
            best = c->heap[m = l];
        if (l + 1 < c->nheap && c->heap[l + 1]->at < best->at)
            best = c->heap[m = l + 1];
        if (m == i)
            break;
        heap_set(c, i, best);
        i = m;
    }
    heap_set(c, i, t);
}

static void wake_update(upstream_cluster_t *c)
{
    if (c->nheap == 0) {
        h2o_timeout_unlink(&c->wake_entry);
        return;
    }
    uint64_t at = c->heap[0]->at;
    if (h2o_timeout_is_linked(&c->wake_entry) && c->wake_at == at)
        return;
    h2o_timeout_unlink(&c->wake_entry);
    h2o_timeout_link(c->loop, &c->wake_timeout, &c->wake_entry);
    /* the only entry of a zero-interval list: h2o fires it at registered_at */
    c->wake_entry.registered_at = at;
    c->wake_at = at;
}

static void timer_disarm(upstream_cluster_t *c, utimer_t *t)
{
    if (t->idx == TIMER_IDLE)
        return;
    size_t i = t->idx;
    t->idx = TIMER_IDLE;
    utimer_t *last = c->heap[--c->nheap];
    if (last != t) {
        heap_set(c, i, last);
        heap_up(c, i);
        heap_down(c, last->idx);
    }
    wake_update(c);
}

static int timer_arm(upstream_cluster_t *c, utimer_t *t, uint64_t at)
{
    if (t->idx != TIMER_IDLE) {
        t->at = at;
        heap_up(c, t->idx);
        heap_down(c, t->idx);
    } else {
        if (grow((void **)&c->heap, &c->heapcap, c->nheap + 1, sizeof(*c->heap)) != 0)
            return -1;
        t->at = at;
        heap_set(c, c->nheap, t);
        c->nheap++;
        heap_up(c, t->idx);
    }
    wake_update(c);
    return 0;
}

static void on_wake(h2o_timeout_entry_t *e)
{
    upstream_cluster_t *c = H2O_STRUCT_FROM_MEMBER(upstream_cluster_t, wake_entry, e);
    uint64_t now = now_ms(c);
    while (c->nheap != 0 && c->heap[0]->at <= now) {
        utimer_t *t = c->heap[0];
        timer_disarm(c, t);
        t->cb(t);
    }
    wake_update(c);
}

/* ---- call lifecycle ---------------------------------------------------- */

static upstream_call_t *call_alloc(upstream_cluster_t *c)
{
    upstream_call_t *call = c->free_calls;
    if (call != NULL) {
        c->free_calls = call->next_free;
        c->nfree--;
    } else if ((call = calloc(1, sizeof(*call))) == NULL) {
        return NULL;
    }
    call->cluster = c;
    call->state = CALL_QUEUED;
    /* "not on a list" is next == NULL, as h2o_linklist_is_linked() has it */
    call->link.next = call->link.prev = NULL;
    call->rlink.next = call->rlink.prev = NULL;
    call->next_free = NULL;
    call->conn = NULL;
    call->stream_id = 0;
    call->sent = 0;
    call->deadline.idx = TIMER_IDLE;
    call->deadline_at = 0;
    call->retries = call->headers_sent = call->got_headers = call->paused = call->in_cb = call->block = 0;
    call->ct_ok = call->hdr_overflow = call->remote_ended = 0;
    call->http_status = 0;
    call->grpc_status = -1;
    call->hblen = call->nho = call->gmsg_off = call->gmsg_len = 0;
    call->rblen = call->rboff = call->unconsumed = 0;
    call->end_msg = NULL;
    call->end_msg_len = call->end_ntrailers = 0;
    call->errmsg[0] = '\0';
    return call;
}

static void call_free_buffers(upstream_call_t *call)
{
    free(call->hb);
    free(call->ho);
    free(call->hv);
    free(call->rb);
    call->hb = NULL;
    call->ho = NULL;
    call->hv = NULL;
    call->rb = NULL;
    call->hbcap = call->hocap = call->hvcap = call->rbcap = 0;
}

static void call_recycle(upstream_call_t *call)
{
    upstream_cluster_t *c = call->cluster;
    if (c->nfree >= FREE_CALLS_MAX || c->freeing) {
        call_free_buffers(call);
        free(call);
        return;
    }
    /* keep small buffers for the next call; one huge response must not pin memory forever */
    if (call->rbcap > KEEP_BUF_MAX || call->hbcap > KEEP_BUF_MAX) {
        call_free_buffers(call);
    }
    call->next_free = c->free_calls;
    c->free_calls = call;
    c->nfree++;
}

/* The one place a struct leaves use: DONE, no stream in nghttp2, no callback of it running. */
static void call_try_release(upstream_call_t *call)
{
    if (call->state != CALL_DONE || call->conn != NULL || call->in_cb != 0)
        return;
    call_recycle(call);
}

static void unlink_if(h2o_linklist_t *node)
{
    if (node->next != NULL) {
        h2o_linklist_unlink(node);
    }
}

/* Detaches a call from whatever waiting list holds it (not from its stream). */
static void call_unlist(upstream_call_t *call)
{
    if (call->state == CALL_QUEUED && call->link.next != NULL)
        call->cluster->nqueued--;
    if (call->conn == NULL)
        unlink_if(&call->link);
    unlink_if(&call->rlink);
}

/*
 * The one way to DONE: tells the user. The caller has already unlisted the
 * call and, if its stream is still open, reset it.
 */
static void call_complete(upstream_call_t *call, int code, const char *msg, size_t msglen,
                          const upstream_header_t *trailers, size_t ntrailers)
{
    upstream_cluster_t *c = call->cluster;
    if (call->state == CALL_DONE)
        return;
    call_unlist(call);
    timer_disarm(c, &call->deadline);
    call->state = CALL_DONE;
    if (code != CODE_OK)
        c->stats.calls_failed++;
    call->in_cb++;
    call->h.on_close(call->ctx, code, msg, msglen, trailers, ntrailers);
    call->in_cb--;
    call_try_release(call);
}

static void call_completef(upstream_call_t *call, int code, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void call_completef(upstream_call_t *call, int code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(call->errmsg, sizeof(call->errmsg), fmt, ap);
    va_end(ap);
    if (n < 0)
        n = 0;
    if ((size_t)n >= sizeof(call->errmsg))
        n = sizeof(call->errmsg) - 1;
    call_complete(call, code, call->errmsg, (size_t)n, NULL, 0);
}

/* Resets the call's stream if it is still open: we are done with it, the peer should stop. */
static void call_reset_stream(upstream_call_t *call, uint32_t err)
{
    conn_t *conn = call->conn;
    if (conn != NULL) {
        /* both sides ended: the stream closes by itself, a reset would only be noise */
        if (call->remote_ended && nghttp2_session_get_stream_local_close(conn->ng, call->stream_id) == 1)
            return;
        nghttp2_submit_rst_stream(call->conn->ng, NGHTTP2_FLAG_NONE, call->stream_id, err);
        schedule_pump(call->cluster);
    }
}

/* A locally detected failure of an ACTIVE call: reset its stream, report. */
static void call_fail(upstream_call_t *call, int code, const char *msg)
{
    call_reset_stream(call, NGHTTP2_CANCEL);
    call_completef(call, code, "%s", msg);
}

static void queue_push(upstream_cluster_t *c, upstream_call_t *call, h2o_linklist_t *before)
{
    call->state = CALL_QUEUED;
    h2o_linklist_insert(before, &call->link);
    c->nqueued++;
}

/*
 * A call the peer did not process goes back ahead of the calls that never
 * left the queue, after the retried calls started before it: nghttp2 closes
 * the streams a GOAWAY refuses in no particular order.
 */
static void queue_retry(upstream_cluster_t *c, upstream_call_t *call)
{
    h2o_linklist_t *pos = c->queue.next;
    while (pos != &c->queue && H2O_STRUCT_FROM_MEMBER(upstream_call_t, link, pos)->seq < call->seq)
        pos = pos->next;
    call->retries++;
    queue_push(c, call, pos);
}

static void on_call_deadline(utimer_t *t)
{
    upstream_call_t *call = H2O_STRUCT_FROM_MEMBER(upstream_call_t, deadline, t);
    call_reset_stream(call, NGHTTP2_CANCEL);
    call_completef(call, CODE_DEADLINE_EXCEEDED, "deadline exceeded");
}

/* ---- response messages ------------------------------------------------- */

static int rb_append(upstream_call_t *call, const uint8_t *p, size_t n)
{
    if (call->rboff != 0 && call->rbcap - call->rblen < n) {
        memmove(call->rb, call->rb + call->rboff, call->rblen - call->rboff);
        call->rblen -= call->rboff;
        call->rboff = 0;
    }
    if (grow((void **)&call->rb, &call->rbcap, call->rblen + n, 1) != 0)
        return -1;
    memcpy(call->rb + call->rblen, p, n);
    call->rblen += n;
    return 0;
}

/*
 * Delivers the whole messages at p, returns how many bytes they took; stops
 * early when the call stops being deliverable (cancelled, failed, paused).
 * A bad prefix fails the call.
 */
static size_t deliver_messages(upstream_call_t *call, const uint8_t *p, size_t n)
{
    size_t off = 0;
    call_state_t st = call->state;
    while (n - off >= 5 && call->state == st && !call->paused) {
        uint32_t mlen = (uint32_t)p[off + 1] << 24 | (uint32_t)p[off + 2] << 16 | (uint32_t)p[off + 3] << 8 | p[off + 4];
        if (p[off] != 0) {
            call_fail(call, CODE_INTERNAL,
                      p[off] == 1 ? "compressed messages not supported" : "invalid gRPC message flags");
            return off;
        }
        if (mlen > MAX_MESSAGE) {
            call_reset_stream(call, NGHTTP2_CANCEL);
            call_completef(call, CODE_RESOURCE_EXHAUSTED, "response message of %u bytes exceeds the limit of %u",
                           mlen, MAX_MESSAGE);
            return off;
        }
        if (n - off - 5 < mlen)
            break;
        if (call->h.on_message != NULL) {
            call->in_cb++;
            call->h.on_message(call->ctx, p + off + 5, mlen);
            call->in_cb--;
        }
        off += 5 + (size_t)mlen;
    }
    return off;
}

/* Delivers what the receive buffer holds, as far as the consumer lets us. */
static void drain_buffered(upstream_call_t *call)
{
    size_t used = deliver_messages(call, call->rb + call->rboff, call->rblen - call->rboff);
    call->rboff += used;
    if (call->rboff == call->rblen)
        call->rboff = call->rblen = 0;
}

/* DATA for an ACTIVE call that is not paused: fast path parses in place. */
static void feed_data(upstream_call_t *call, const uint8_t *data, size_t len)
{
    if (call->rblen == call->rboff) {
        size_t used = deliver_messages(call, data, len);
        if (call->state == CALL_ACTIVE && used < len && rb_append(call, data + used, len - used) != 0)
            call_fail(call, CODE_RESOURCE_EXHAUSTED, "out of memory buffering a response message");
        return;
    }
    if (rb_append(call, data, len) != 0) {
        call_fail(call, CODE_RESOURCE_EXHAUSTED, "out of memory buffering a response message");
        return;
    }
    drain_buffered(call);
}

/* Points call->hv at the collected headers; hb no longer grows after this. */
static size_t build_headers(upstream_call_t *call)
{
    if (grow((void **)&call->hv, &call->hvcap, call->nho, sizeof(*call->hv)) != 0)
        return 0;
    for (size_t i = 0; i < call->nho; i++) {
        hoff_t *o = &call->ho[i];
        call->hv[i] = (upstream_header_t){call->hb + o->no, o->nl, call->hb + o->vo, o->vl};
    }
    return call->nho;
}

/* Finishes a call whose status is known; delivered now unless the consumer paused on buffered messages. */
static void call_finish_or_park(upstream_call_t *call)
{
    if (call->paused && call->rblen != call->rboff) {
        call->state = CALL_ENDING;
        if (call->conn == NULL)
            h2o_linklist_insert(&call->cluster->parked, &call->link);
        return;
    }
    if (call->rblen != call->rboff && call->end_code == CODE_OK) {
        call_completef(call, CODE_INTERNAL, "response ended inside a message");
        return;
    }
    call_complete(call, call->end_code, call->end_msg, call->end_msg_len, call->hv, call->end_ntrailers);
}

/* The peer ended its side (END_STREAM) on an ACTIVE call. */
static void call_remote_end(upstream_call_t *call)
{
    conn_t *conn = call->conn;
    if (call->grpc_status < 0) {
        call->end_code = CODE_UNKNOWN;
        int n = snprintf(call->errmsg, sizeof(call->errmsg), "upstream response has no grpc-status");
        call->end_msg = call->errmsg;
        call->end_msg_len = (size_t)n;
        call->end_ntrailers = 0;
    } else {
        call->end_code = call->grpc_status;
        call->end_ntrailers = build_headers(call);
        call->end_msg = call->hb != NULL ? call->hb + call->gmsg_off : "";
        call->end_msg_len = call->gmsg_len;
    }
    /* the peer answered before reading all of our request: tell it we are done too */
    if (conn != NULL)
        call_reset_stream(call, NGHTTP2_NO_ERROR);
    call_finish_or_park(call);
}

/* ---- nghttp2 callbacks ------------------------------------------------- */

static upstream_call_t *stream_call(conn_t *conn, int32_t id)
{
    if (id <= 0)
        return NULL;
    if (id != conn->last_id) {
        conn->last_id = id;
        conn->last_call = nghttp2_session_get_stream_user_data(conn->ng, id);
    }
    return conn->last_call;
}

/* The stream no longer leads to its call (closed, or the connection is going). */
static void forget_stream(conn_t *conn, int32_t id)
{
    nghttp2_session_set_stream_user_data(conn->ng, id, NULL);
    if (id == conn->last_id)
        conn->last_id = 0;
}

static ssize_t on_read_body(nghttp2_session *ng, int32_t id, uint8_t *buf, size_t length, uint32_t *flags,
                            nghttp2_data_source *src, void *ud)
{
    (void)ng, (void)id, (void)ud;
    upstream_call_t *call = src->ptr;
    /* after on_close the message may be gone; the stream is being reset anyway */
    if (call->state != CALL_ACTIVE)
        return NGHTTP2_ERR_DEFERRED;
    size_t total = 5 + call->len, n = 0;
    while (n < length && call->sent < total) {
        size_t chunk;
        if (call->sent < 5) {
            chunk = 5 - call->sent;
            if (chunk > length - n)
                chunk = length - n;
            memcpy(buf + n, call->prefix + call->sent, chunk);
        } else {
            chunk = total - call->sent;
            if (chunk > length - n)
                chunk = length - n;
            memcpy(buf + n, call->msg + (call->sent - 5), chunk);
        }
        n += chunk;
        call->sent += chunk;
    }
    if (call->sent == total)
        *flags |= NGHTTP2_DATA_FLAG_EOF;
    return (ssize_t)n;
}

static int on_begin_headers(nghttp2_session *ng, const nghttp2_frame *frame, void *ud)
{
    (void)ng;
    upstream_call_t *call = stream_call((conn_t *)ud, frame->hd.stream_id);
    if (call == NULL || call->state != CALL_ACTIVE)
        return 0;
    call->block = call->got_headers ? 2 : 1;
    call->hblen = call->nho = call->gmsg_off = call->gmsg_len = 0;
    call->hdr_overflow = 0;
    return 0;
}

static int hb_add(upstream_call_t *call, const uint8_t *p, size_t n, uint32_t *off)
{
    if (call->hblen + n + 1 > MAX_HEADER_BYTES || grow((void **)&call->hb, &call->hbcap, call->hblen + n + 1, 1) != 0)
        return -1;
    *off = (uint32_t)call->hblen;
    memcpy(call->hb + call->hblen, p, n);
    call->hblen += n;
    call->hb[call->hblen++] = '\0';
    return 0;
}

static int hb_add_percent_decoded(upstream_call_t *call, const uint8_t *p, size_t n)
{
    if (call->hblen + n + 1 > MAX_HEADER_BYTES || grow((void **)&call->hb, &call->hbcap, call->hblen + n + 1, 1) != 0)
        return -1;
    call->gmsg_off = call->hblen;
    char *out = call->hb + call->hblen;
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        int hi, lo;
        if (p[i] == '%' && i + 2 < n && (hi = hexval(p[i + 1])) >= 0 &&
            (lo = hexval(p[i + 2])) >= 0) {
            out[o++] = (char)(hi << 4 | lo);
            i += 2;
        } else {
            out[o++] = (char)p[i];
        }
    }
    out[o] = '\0';
    call->gmsg_len = o;
    call->hblen += o + 1;
    return 0;
}

static int on_header(nghttp2_session *ng, const nghttp2_frame *frame, const uint8_t *name, size_t nl,
                     const uint8_t *value, size_t vl, uint8_t flags, void *ud)
{
    (void)ng;
    (void)flags;
    upstream_call_t *call = stream_call((conn_t *)ud, frame->hd.stream_id);
    if (call == NULL || call->state != CALL_ACTIVE || frame->hd.type != NGHTTP2_HEADERS || call->hdr_overflow)
        return 0;
    if (nl > 0 && name[0] == ':') {
        if (name_is(name, nl, ":status")) {
            int s = 0;
            for (size_t i = 0; i < vl && i < 4; i++)
                s = s * 10 + (value[i] >= '0' && value[i] <= '9' ? value[i] - '0' : 0);
            call->http_status = vl == 3 ? s : 0;
        }
        return 0;
    }
    if (name_is(name, nl, "content-type")) {
        call->ct_ok = vl >= 16 && memcmp(value, "application/grpc", 16) == 0 &&
                      (vl == 16 || value[16] == '+' || value[16] == ';');
        return 0; /* not metadata of the call */
    }
    if (name_is(name, nl, "grpc-status")) {
        int s = vl == 0 || vl > 3 ? -1 : 0;
        for (size_t i = 0; i < vl && s >= 0; i++)
            s = value[i] >= '0' && value[i] <= '9' ? s * 10 + (value[i] - '0') : -1;
        call->grpc_status = s < 0 || s > 16 ? CODE_UNKNOWN : s;
        return 0;
    }
    int rv;
    if (name_is(name, nl, "grpc-message")) {
        rv = hb_add_percent_decoded(call, value, vl);
    } else {
        if (grow((void **)&call->ho, &call->hocap, call->nho + 1, sizeof(*call->ho)) != 0)
            rv = -1;
        else {
            hoff_t *o = &call->ho[call->nho];
            rv = hb_add(call, name, nl, &o->no);
            if (rv == 0)
                rv = hb_add(call, value, vl, &o->vo);
            if (rv == 0) {
                o->nl = (uint32_t)nl;
                o->vl = (uint32_t)vl;
                call->nho++;
            }
        }
    }
    if (rv != 0) {
        call->hdr_overflow = 1;
        call_fail(call, CODE_INTERNAL, "upstream response headers too large");
    }
    return 0;
}

static void on_headers_frame(upstream_call_t *call, const nghttp2_frame *frame)
{
    int end = (frame->hd.flags & NGHTTP2_FLAG_END_STREAM) != 0;
    if (call->block == 1) {
        if (call->http_status >= 100 && call->http_status < 200 && !end) {
            call->block = 0; /* informational: the real response follows */
            return;
        }
        if (call->http_status != 200) {
            call_reset_stream(call, NGHTTP2_CANCEL);
            call_completef(call, code_from_http(call->http_status), "upstream returned HTTP status %d",
                           call->http_status);
            return;
        }
        if (!call->ct_ok) {
            call_reset_stream(call, NGHTTP2_CANCEL);
            call_completef(call, CODE_UNKNOWN, "upstream response content-type is not application/grpc");
            return;
        }
        if (end) {
            /* trailers-only: everything in this block is trailers */
            call_remote_end(call);
            return;
        }
        call->got_headers = 1;
        size_t n = build_headers(call);
        if (call->h.on_headers != NULL) {
            call->in_cb++;
            call->h.on_headers(call->ctx, call->hv, n);
            call->in_cb--;
        }
        return;
    }
    if (!end) {
        call_fail(call, CODE_INTERNAL, "upstream sent trailers without END_STREAM");
        return;
    }
    call_remote_end(call);
}

static void conn_ready(conn_t *conn);
static void conn_drain(conn_t *conn);
static void conn_arm_keepalive(conn_t *conn, uint64_t from);

static int on_frame_recv(nghttp2_session *ng, const nghttp2_frame *frame, void *ud)
{
    (void)ng;
    conn_t *conn = ud;
    upstream_cluster_t *c = conn->cluster;
    upstream_call_t *call;
    switch (frame->hd.type) {
    case NGHTTP2_HEADERS:
        call = stream_call((conn_t *)ud, frame->hd.stream_id);
        if (call != NULL && call->state == CALL_ACTIVE && call->block != 0) {
            call->remote_ended = (frame->hd.flags & NGHTTP2_FLAG_END_STREAM) != 0;
            on_headers_frame(call, frame);
        }
        break;
    case NGHTTP2_DATA:
        call = stream_call((conn_t *)ud, frame->hd.stream_id);
        if (call != NULL && call->state == CALL_ACTIVE && (frame->hd.flags & NGHTTP2_FLAG_END_STREAM)) {
            call->remote_ended = 1;
            call_remote_end(call); /* no trailers: no grpc-status */
        }
        break;
    case NGHTTP2_SETTINGS:
        if ((frame->hd.flags & NGHTTP2_FLAG_ACK) == 0) {
            if (conn->state == CONN_HANDSHAKING)
                conn_ready(conn);
            schedule_pump(c); /* MAX_CONCURRENT_STREAMS may have grown */
        }
        break;
    case NGHTTP2_GOAWAY:
        c->stats.goaways_received++;
        conn->goaway = 1;
        conn->goaway_last_id = frame->goaway.last_stream_id;
        conn_drain(conn);
        schedule_pump(c);
        break;
    case NGHTTP2_PING:
        if ((frame->hd.flags & NGHTTP2_FLAG_ACK) && conn->ping_outstanding) {
            conn->ping_outstanding = 0;
            timer_disarm(c, &conn->ping_timer);
            conn_arm_keepalive(conn, now_ms(c));
        }
        break;
    default:
        break;
    }
    return 0;
}

static int on_data_chunk(nghttp2_session *ng, uint8_t flags, int32_t id, const uint8_t *data, size_t len, void *ud)
{
    (void)flags;
    /* the connection window never waits for a consumer: a paused stream holds only its own window */
    nghttp2_session_consume_connection(ng, len);
    upstream_call_t *call = stream_call((conn_t *)ud, id);
    if (call == NULL || call->state != CALL_ACTIVE) {
        nghttp2_session_consume_stream(ng, id, len);
        return 0;
    }
    if (call->paused) {
        if (rb_append(call, data, len) != 0)
            call_fail(call, CODE_RESOURCE_EXHAUSTED, "out of memory buffering a response message");
        else
            call->unconsumed += len;
        return 0;
    }
    nghttp2_session_consume_stream(ng, id, len);
    feed_data(call, data, len);
    return 0;
}

static int on_frame_send(nghttp2_session *ng, const nghttp2_frame *frame, void *ud)
{
    (void)ng;
    conn_t *conn = ud;
    if (frame->hd.type == NGHTTP2_GOAWAY && conn->errmsg[0] == '\0') {
        /* nghttp2 ends the session itself when the peer breaks the protocol: keep its reason */
        const nghttp2_goaway *g = &frame->goaway;
        snprintf(conn->errmsg, sizeof(conn->errmsg), "%s%s%.*s", nghttp2_http2_strerror(g->error_code),
                 g->opaque_data_len ? ": " : "", (int)(g->opaque_data_len > 80 ? 80 : g->opaque_data_len),
                 (const char *)g->opaque_data);
        return 0;
    }
    if (frame->hd.type == NGHTTP2_HEADERS && frame->headers.cat == NGHTTP2_HCAT_REQUEST) {
        upstream_call_t *call = stream_call((conn_t *)ud, frame->hd.stream_id);
        if (call != NULL)
            call->headers_sent = 1;
    }
    return 0;
}

static int retryable(conn_t *conn, upstream_call_t *call, uint32_t err)
{
    if (call->state != CALL_ACTIVE || call->got_headers || call->retries >= RETRY_MAX || call->cluster->freeing)
        return 0;
    if (!call->headers_sent || err == NGHTTP2_REFUSED_STREAM)
        return 1;
    return conn->goaway && call->stream_id > conn->goaway_last_id;
}

static int on_stream_close(nghttp2_session *ng, int32_t id, uint32_t err, void *ud)
{
    (void)ng;
    conn_t *conn = ud;
    upstream_cluster_t *c = conn->cluster;
    upstream_call_t *call = stream_call((conn_t *)ud, id);
    if (call == NULL)
        return 0;
    forget_stream(conn, id);
    h2o_linklist_unlink(&call->link);
    call->conn = NULL;
    conn->nstreams--;
    schedule_pump(c); /* a stream slot is free */
    switch (call->state) {
    case CALL_ACTIVE:
        if (retryable(conn, call, err)) {
            /* never processed by the peer (REFUSED_STREAM, above GOAWAY's last id, never sent): try again */
            queue_retry(c, call);
            break;
        }
        if (err == NGHTTP2_NO_ERROR)
            call_completef(call, CODE_INTERNAL, "upstream closed the stream without a status");
        else if (err == NGHTTP2_REFUSED_STREAM)
            call_completef(call, CODE_UNAVAILABLE, "upstream refused the stream");
        else
            call_completef(call, code_from_rst(err), "upstream stream closed with HTTP/2 error %s",
                           nghttp2_http2_strerror(err));
        break;
    case CALL_ENDING:
        h2o_linklist_insert(&c->parked, &call->link);
        break;
    case CALL_DONE:
        call_try_release(call);
        break;
    case CALL_QUEUED:
        break; /* not reachable: a queued call has no stream */
    }
    return 0;
}

static int on_invalid_frame(nghttp2_session *ng, const nghttp2_frame *frame, int err, void *ud)
{
    (void)ng;
    conn_t *conn = ud;
    if (conn->errmsg[0] == '\0')
        snprintf(conn->errmsg, sizeof(conn->errmsg), "invalid frame of type %u: %s", frame->hd.type,
                 nghttp2_strerror(err));
    return 0;
}

static int on_error(nghttp2_session *ng, int code, const char *msg, size_t len, void *ud)
{
    (void)ng, (void)code;
    conn_t *conn = ud;
    if (conn->errmsg[0] == '\0')
        snprintf(conn->errmsg, sizeof(conn->errmsg), "%.*s", (int)(len > 120 ? 120 : len), msg);
    return 0;
}

/* ---- connections ------------------------------------------------------- */

static void conn_arm_keepalive(conn_t *conn, uint64_t from)
{
    upstream_cluster_t *c = conn->cluster;
    if (c->cfg.keepalive_interval_ms != 0)
        timer_arm(c, &conn->keepalive_timer, from + c->cfg.keepalive_interval_ms);
}

static void on_keepalive(utimer_t *t)
{
    conn_t *conn = H2O_STRUCT_FROM_MEMBER(conn_t, keepalive_timer, t);
    upstream_cluster_t *c = conn->cluster;
    uint64_t now = now_ms(c);
    if (conn->ping_outstanding)
        return;
    /* not re-armed per frame received (that is the hot path): checked here instead */
    if (now - conn->last_recv_at < c->cfg.keepalive_interval_ms) {
        conn_arm_keepalive(conn, conn->last_recv_at);
        return;
    }
    if (nghttp2_submit_ping(conn->ng, NGHTTP2_FLAG_NONE, NULL) != 0)
        return;
    conn->ping_outstanding = 1;
    timer_arm(c, &conn->ping_timer, now + c->cfg.keepalive_timeout_ms);
    schedule_pump(c);
}

static void on_ping_timeout(utimer_t *t)
{
    conn_t *conn = H2O_STRUCT_FROM_MEMBER(conn_t, ping_timer, t);
    char msg[96];
    snprintf(msg, sizeof(msg), "upstream keepalive PING not acknowledged within %u ms",
             conn->cluster->cfg.keepalive_timeout_ms);
    conn_close(conn, CODE_UNAVAILABLE, msg);
}

static void on_connect_timeout(utimer_t *t)
{
    conn_t *conn = H2O_STRUCT_FROM_MEMBER(conn_t, connect_timer, t);
    conn_close(conn, CODE_UNAVAILABLE, "connect timed out");
}

/* HANDSHAKING -> READY: the peer's SETTINGS arrived, so it speaks HTTP/2 and we know its limits. */
static void conn_ready(conn_t *conn)
{
    upstream_cluster_t *c = conn->cluster;
    conn->state = CONN_READY;
    timer_disarm(c, &conn->connect_timer);
    conn->target->failures = 0;
    conn->target->retry_at = 0;
    c->stats.connects++;
    conn_arm_keepalive(conn, now_ms(c));
}

/* READY/HANDSHAKING -> DRAINING: no new streams; the target gets a new connection when needed. */
static void conn_drain(conn_t *conn)
{
    if (conn->state == CONN_DRAINING || conn->state == CONN_CLOSED)
        return;
    conn->state = CONN_DRAINING;
    if (conn->target->conn == conn)
        conn->target->conn = NULL;
}

static void on_write_done(h2o_socket_t *sock, const char *err);

/* Gathers everything nghttp2 has to say into one write; returns -1 on a fatal session error. */
static int conn_flush(conn_t *conn)
{
    if (conn->writing || conn->sock == NULL || conn->state == CONN_CONNECTING || conn->state == CONN_CLOSED)
        return 0;
    conn->outlen = 0;
    while (conn->outlen < WRITE_GATHER_MAX) {
        const uint8_t *p;
        ssize_t n = nghttp2_session_mem_send(conn->ng, &p);
        if (n < 0) {
            snprintf(conn->errmsg, sizeof(conn->errmsg), "HTTP/2 session error: %s", nghttp2_strerror((int)n));
            return -1;
        }
        if (n == 0)
            break;
        if (grow((void **)&conn->out, &conn->outcap, conn->outlen + (size_t)n, 1) != 0) {
            snprintf(conn->errmsg, sizeof(conn->errmsg), "out of memory");
            return -1;
        }
        memcpy(conn->out + conn->outlen, p, (size_t)n);
        conn->outlen += (size_t)n;
    }
    if (conn->outlen == 0)
        return 0;
    conn->writing = 1;
    h2o_iovec_t buf = h2o_iovec_init(conn->out, conn->outlen);
    h2o_socket_write(conn->sock, &buf, 1, on_write_done);
    return 0;
}

/* After a flush: a session with nothing left to read or write is finished. */
static void conn_check_done(conn_t *conn)
{
    if (conn->state == CONN_CONNECTING || conn->writing)
        return;
    if (conn->state == CONN_DRAINING && conn->nstreams == 0 && !nghttp2_session_want_write(conn->ng)) {
        /* drained without a GOAWAY (address retired, stream ids used up): nothing more will use it */
        conn_close(conn, CODE_UNAVAILABLE, "connection drained");
        return;
    }
    if (nghttp2_session_want_read(conn->ng) || nghttp2_session_want_write(conn->ng))
        return;
    /* streams left mean nghttp2 tore the session down (it sent GOAWAY for a peer's protocol error) */
    char msg[160];
    snprintf(msg, sizeof(msg), "upstream HTTP/2 protocol error: %s",
             conn->errmsg[0] ? conn->errmsg : "session terminated");
    conn_close(conn, CODE_INTERNAL, msg);
}

static void on_write_done(h2o_socket_t *sock, const char *err)
{
    conn_t *conn = sock->data;
    conn->writing = 0;
    if (err != NULL) {
        char msg[96];
        snprintf(msg, sizeof(msg), "upstream write failed: %s", err);
        conn_close(conn, CODE_UNAVAILABLE, msg);
        return;
    }
    if (nghttp2_session_want_write(conn->ng)) {
        if (conn_flush(conn) != 0) {
            conn_close(conn, CODE_INTERNAL, conn->errmsg);
            return;
        }
    }
    conn_check_done(conn);
}

static void on_sock_read(h2o_socket_t *sock, const char *err)
{
    conn_t *conn = sock->data;
    upstream_cluster_t *c = conn->cluster;
    if (err != NULL) {
        char msg[96];
        snprintf(msg, sizeof(msg), "upstream connection %s", err == h2o_socket_error_closed ? "closed by peer" : err);
        conn_close(conn, CODE_UNAVAILABLE, msg);
        return;
    }
    conn->last_recv_at = now_ms(c);
    ssize_t r = nghttp2_session_mem_recv(conn->ng, (const uint8_t *)sock->input->bytes, sock->input->size);
    h2o_buffer_consume(&sock->input, sock->input->size);
    if (r < 0) {
        char msg[192];
        snprintf(msg, sizeof(msg), "upstream HTTP/2 protocol error: %s",
                 conn->errmsg[0] ? conn->errmsg : nghttp2_strerror((int)r));
        /* send what nghttp2 queued (GOAWAY) before closing */
        conn_flush(conn);
        conn_close(conn, conn->state == CONN_READY || conn->state == CONN_DRAINING ? CODE_INTERNAL : CODE_UNAVAILABLE,
                   msg);
        return;
    }
    schedule_pump(c);
}

static void on_connect(h2o_socket_t *sock, const char *err)
{
    conn_t *conn = sock->data;
    if (err != NULL) {
        char msg[96];
        snprintf(msg, sizeof(msg), "connect failed: %s", err);
        conn_close(conn, CODE_UNAVAILABLE, msg);
        return;
    }
    conn->state = CONN_HANDSHAKING;
    conn->last_recv_at = now_ms(conn->cluster);
    h2o_socket_read_start(sock, on_sock_read);
    if (conn_flush(conn) != 0)
        conn_close(conn, CODE_INTERNAL, conn->errmsg);
}

/* A failed attempt at a target: back off, remember why. */
static void target_failed(target_t *t, const char *why)
{
    upstream_cluster_t *c = t->cluster;
    c->stats.connect_failures++;
    t->failures++;
    uint64_t delay = BACKOFF_MIN_MS;
    for (unsigned i = 1; i < t->failures && delay < BACKOFF_MAX_MS; i++)
        delay *= 2;
    if (delay > BACKOFF_MAX_MS)
        delay = BACKOFF_MAX_MS;
    delay = delay * (80 + rnd32(c) % 41) / 100; /* +-20 %: targets restarted together are not hit together */
    t->retry_at = now_ms(c) + delay;
    if (t->naddrs != 0)
        t->next_addr = (t->next_addr + 1) % t->naddrs;
    snprintf(c->last_error, sizeof(c->last_error), "%s: %s (next attempt in %u ms)", t->authority, why,
             (unsigned)delay);
}

/* Starts a connection to a target; 0 when under way, -1 when it failed at once (target backs off). */
static int conn_start(target_t *t)
{
    upstream_cluster_t *c = t->cluster;
    if (t->naddrs == 0) {
        target_failed(t, "no address");
        return -1;
    }
    conn_t *conn = calloc(1, sizeof(*conn));
    if (conn == NULL) {
        target_failed(t, "out of memory");
        return -1;
    }
    conn->cluster = c;
    conn->target = t;
    conn->state = CONN_CONNECTING;
    h2o_linklist_init_anchor(&conn->calls);
    conn->connect_timer = (utimer_t){0, TIMER_IDLE, on_connect_timeout};
    conn->keepalive_timer = (utimer_t){0, TIMER_IDLE, on_keepalive};
    conn->ping_timer = (utimer_t){0, TIMER_IDLE, on_ping_timeout};
    size_t ai = t->next_addr % t->naddrs;
    memcpy(&conn->addr, &t->addrs[ai], t->addrlens[ai]);
    conn->addrlen = t->addrlens[ai];

    if (nghttp2_session_client_new3(&conn->ng, c->cbs, conn, c->opt, &c->mem) != 0) {
        free(conn);
        target_failed(t, "out of memory");
        return -1;
    }
    nghttp2_settings_entry settings[] = {
        {NGHTTP2_SETTINGS_ENABLE_PUSH, 0},
        {NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE, STREAM_WINDOW},
        {NGHTTP2_SETTINGS_MAX_HEADER_LIST_SIZE, MAX_HEADER_BYTES},
    };
    if (nghttp2_submit_settings(conn->ng, NGHTTP2_FLAG_NONE, settings, sizeof(settings) / sizeof(settings[0])) != 0 ||
        nghttp2_session_set_local_window_size(conn->ng, NGHTTP2_FLAG_NONE, 0, CONN_WINDOW) != 0 ||
        timer_arm(c, &conn->connect_timer, now_ms(c) + c->cfg.connect_timeout_ms) != 0) {
        timer_disarm(c, &conn->connect_timer);
        nghttp2_session_del(conn->ng);
        free(conn);
        target_failed(t, "out of memory");
        return -1;
    }
    conn->sock = h2o_socket_connect(c->loop, (struct sockaddr *)&conn->addr, conn->addrlen, on_connect);
    if (conn->sock == NULL) {
        char why[96];
        snprintf(why, sizeof(why), "connect failed: %s", strerror(errno));
        timer_disarm(c, &conn->connect_timer);
        nghttp2_session_del(conn->ng);
        free(conn);
        target_failed(t, why);
        return -1;
    }
    conn->sock->data = conn;
    /* h2o does not set it: without it Nagle holds a second call's frames
     * until the first is acknowledged, a delayed ACK away */
    int one = 1;
    setsockopt(h2o_socket_get_fd(conn->sock), IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    h2o_linklist_insert(&c->conns, &conn->link);
    t->conn = conn;
    return 0;
}

/*
 * The one way to CLOSED. Streams the peer provably did not process go back
 * to the front of the queue in their order; the others end with code/msg.
 * Never called from inside an nghttp2 callback.
 */
static void conn_close(conn_t *conn, int code, const char *msg)
{
    upstream_cluster_t *c = conn->cluster;
    if (conn->state == CONN_CLOSED)
        return;
    conn_state_t prev = conn->state;
    conn->state = CONN_CLOSED;
    h2o_linklist_unlink(&conn->link);
    if (conn->target->conn == conn)
        conn->target->conn = NULL;
    timer_disarm(c, &conn->connect_timer);
    timer_disarm(c, &conn->keepalive_timer);
    timer_disarm(c, &conn->ping_timer);
    if (prev == CONN_CONNECTING || prev == CONN_HANDSHAKING)
        target_failed(conn->target, msg);
    if (conn->sock != NULL) {
        h2o_socket_close(conn->sock);
        conn->sock = NULL;
    }

    /* first detach everything (no callbacks), then tell users: their callbacks may cancel calls of this list */
    h2o_linklist_t failing;
    h2o_linklist_init_anchor(&failing);
    while (!h2o_linklist_is_empty(&conn->calls)) {
        upstream_call_t *call = H2O_STRUCT_FROM_MEMBER(upstream_call_t, link, conn->calls.next);
        h2o_linklist_unlink(&call->link);
        forget_stream(conn, call->stream_id);
        call->conn = NULL;
        if (retryable(conn, call, NGHTTP2_NO_ERROR)) {
            queue_retry(c, call);
        } else if (call->state == CALL_ACTIVE) {
            h2o_linklist_insert(&failing, &call->link);
        } else if (call->state == CALL_ENDING) {
            h2o_linklist_insert(&c->parked, &call->link);
        } else {
            call_try_release(call);
        }
    }
    conn->nstreams = 0;
    nghttp2_session_del(conn->ng);
    free(conn->out);
    free(conn);

    while (!h2o_linklist_is_empty(&failing)) {
        upstream_call_t *call = H2O_STRUCT_FROM_MEMBER(upstream_call_t, link, failing.next);
        h2o_linklist_unlink(&call->link);
        call_completef(call, code, "%s", msg);
    }
    schedule_pump(c);
}

/* ---- dispatch ---------------------------------------------------------- */

/* A READY connection with a free stream slot, round-robin over targets. */
static conn_t *pick_conn(upstream_cluster_t *c)
{
    /* first pass: targets that pass their health checks; second: any */
    for (int pass = c->cfg.target_ok ? 0 : 1; pass < 2; pass++) {
        for (size_t i = 0; i < c->ntargets; i++) {
            size_t ti = (c->rr + i) % c->ntargets;
            target_t *t = &c->targets[ti];
            conn_t *conn = t->conn;
            if (conn == NULL || conn->state != CONN_READY)
                continue;
            if (pass == 0 && !c->cfg.target_ok(c->cfg.target_ok_ctx, ti))
                continue;
            uint32_t max = nghttp2_session_get_remote_settings(conn->ng, NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS);
            if (conn->nstreams >= max)
                continue;
            c->rr = (ti + 1) % c->ntargets;
            return conn;
        }
    }
    return NULL;
}

/* Starts connections to targets that have none and may be tried; returns whether any target has one. */
static int ensure_connections(upstream_cluster_t *c)
{
    int any = 0;
    uint64_t now = now_ms(c);
    for (size_t i = 0; i < c->ntargets; i++) {
        target_t *t = &c->targets[i];
        if (t->conn == NULL && now >= t->retry_at)
            conn_start(t);
        if (t->conn != NULL)
            any = 1;
    }
    return any;
}

/* Metadata whose value is new on every call (ids, trace context): indexing
 * it in HPACK's dynamic table only evicts the entries that do repeat
 * (content-type, te, :authority...) and costs the encoder a table search
 * and an insertion per call. Returns the name's bit in conn->indexed_names,
 * or 0 for metadata that repeats. */
static unsigned unique_per_call(const upstream_header_t *m)
{
    static const char *const names[] = {"x-request-id", "traceparent", "tracestate"};
    for (unsigned i = 0; i < sizeof(names) / sizeof(names[0]); i++)
        if (name_is((const uint8_t *)m->name, m->name_len, names[i]))
            return 1u << i;
    return 0;
}

/* Such a header goes out indexed once per connection, so its name is in the
 * table: the later, unindexed ones refer to it instead of spelling (and
 * Huffman-coding) the name again. */
static uint8_t metadata_flags(conn_t *conn, const upstream_header_t *m)
{
    unsigned bit = unique_per_call(m);
    if (bit == 0)
        return NGHTTP2_NV_FLAG_NONE;
    if (!(conn->indexed_names & bit)) {
        conn->indexed_names |= bit;
        return NGHTTP2_NV_FLAG_NONE;
    }
    return NGHTTP2_NV_FLAG_NO_INDEX;
}

/* Protocol headers a user must not send as metadata: they would break the request or HTTP/2. */
static int reserved_header(const char *name, size_t len)
{
    if (len == 0 || name[0] == ':')
        return 1;
    static const char *const reserved[] = {"content-type", "te",         "grpc-timeout",      "connection",
                                           "keep-alive",   "upgrade",    "transfer-encoding", "proxy-connection",
                                           "host",         "grpc-encoding", "grpc-accept-encoding"};
    for (size_t i = 0; i < sizeof(reserved) / sizeof(reserved[0]); i++)
        if (name_is((const uint8_t *)name, len, reserved[i]))
            return 1;
    return 0;
}

#define NV_STATIC(n, v)                                                                                                \
    (nghttp2_nv)                                                                                                       \
    {                                                                                                                  \
        (uint8_t *)(n), (uint8_t *)(v), sizeof(n) - 1, sizeof(v) - 1,                                                  \
            NGHTTP2_NV_FLAG_NO_COPY_NAME | NGHTTP2_NV_FLAG_NO_COPY_VALUE                                               \
    }

static void *ng_malloc(size_t n, void *c) { return block_cache_alloc(&((upstream_cluster_t *)c)->blocks, n); }
static void ng_free(void *p, void *c) { block_cache_free(&((upstream_cluster_t *)c)->blocks, p); }
static void *ng_calloc(size_t k, size_t n, void *c) { return block_cache_calloc(&((upstream_cluster_t *)c)->blocks, k, n); }
static void *ng_realloc(void *p, size_t n, void *c) { return block_cache_realloc(&((upstream_cluster_t *)c)->blocks, p, n); }

static int call_submit(conn_t *conn, upstream_call_t *call)
{
    upstream_cluster_t *c = conn->cluster;
    if (grow((void **)&c->nva, &c->nvacap, 7 + call->nmd, sizeof(*c->nva)) != 0)
        return NGHTTP2_ERR_NOMEM;
    nghttp2_nv *nv = c->nva;
    size_t n = 0;
    nv[n++] = NV_STATIC(":method", "POST");
    nv[n++] = NV_STATIC(":scheme", "http");
    nv[n++] = (nghttp2_nv){(uint8_t *)":path", (uint8_t *)call->path, 5, strlen(call->path),
                           NGHTTP2_NV_FLAG_NO_COPY_NAME};
    nv[n++] = (nghttp2_nv){(uint8_t *)":authority", (uint8_t *)conn->target->authority, 10,
                           strlen(conn->target->authority), NGHTTP2_NV_FLAG_NO_COPY_NAME};
    nv[n++] = NV_STATIC("content-type", "application/grpc");
    nv[n++] = NV_STATIC("te", "trailers");
    if (call->deadline_at != 0) {
        uint64_t now = now_ms(c);
        uint64_t left = call->deadline_at > now ? call->deadline_at - now : 1;
        /* gRPC allows at most 8 digits: the unit grows instead (and seconds stop at 8 digits, 3 years) */
        uint64_t secs = (left + 999) / 1000;
        char *end = left <= 99999999 ? decimal_write_u64(call->tmo, left)
                                     : decimal_write_u64(call->tmo, secs <= 99999999 ? secs : 99999999);
        *end++ = left <= 99999999 ? 'm' : 'S';
        call->tmo_len = (size_t)(end - call->tmo);
        nv[n++] = (nghttp2_nv){(uint8_t *)"grpc-timeout", (uint8_t *)call->tmo, 12, call->tmo_len,
                               NGHTTP2_NV_FLAG_NO_COPY_NAME};
    }
    for (size_t i = 0; i < call->nmd; i++) {
        const upstream_header_t *m = &call->md[i];
        if (reserved_header(m->name, m->name_len))
            continue;
        nv[n++] = (nghttp2_nv){(uint8_t *)m->name, (uint8_t *)m->value, m->name_len, m->value_len,
                               metadata_flags(conn, m)};
    }
    nghttp2_data_provider dp = {.source.ptr = call, .read_callback = on_read_body};
    call->sent = 0;
    int32_t id = nghttp2_submit_request(conn->ng, NULL, nv, n, &dp, call);
    if (id < 0)
        return id;
    call->state = CALL_ACTIVE;
    call->conn = conn;
    call->stream_id = id;
    call->headers_sent = call->got_headers = call->block = 0;
    call->http_status = 0;
    call->grpc_status = -1;
    call->ct_ok = call->remote_ended = 0;
    call->rblen = call->rboff = call->unconsumed = 0;
    h2o_linklist_insert(&conn->calls, &call->link);
    conn->nstreams++;
    return 0;
}

static void fail_queued(upstream_cluster_t *c, int code, const char *msg)
{
    while (!h2o_linklist_is_empty(&c->queue)) {
        upstream_call_t *call = H2O_STRUCT_FROM_MEMBER(upstream_call_t, link, c->queue.next);
        call_completef(call, code, "%s", msg);
    }
}

/* Delivers what resumed calls have buffered, and the status of those that ended while paused. */
static void run_resumed(upstream_cluster_t *c)
{
    while (!h2o_linklist_is_empty(&c->resumed)) {
        upstream_call_t *call = H2O_STRUCT_FROM_MEMBER(upstream_call_t, rlink, c->resumed.next);
        h2o_linklist_unlink(&call->rlink);
        if (call->paused || (call->state != CALL_ACTIVE && call->state != CALL_ENDING))
            continue;
        call->in_cb++; /* keeps the struct while we look at it after callbacks */
        drain_buffered(call);
        if (call->state == CALL_ACTIVE && !call->paused && call->conn != NULL && call->unconsumed != 0) {
            nghttp2_session_consume_stream(call->conn->ng, call->stream_id, call->unconsumed);
            call->unconsumed = 0;
        } else if (call->state == CALL_ENDING && !call->paused) {
            call_finish_or_park(call); /* all delivered: the status it has kept */
        }
        call->in_cb--;
        call_try_release(call);
    }
}

static void pump(upstream_cluster_t *c)
{
    run_resumed(c);

    /* queued calls onto connections with room, in FIFO order */
    while (!h2o_linklist_is_empty(&c->queue)) {
        conn_t *conn = pick_conn(c);
        if (conn == NULL)
            break;
        upstream_call_t *call = H2O_STRUCT_FROM_MEMBER(upstream_call_t, link, c->queue.next);
        h2o_linklist_unlink(&call->link);
        c->nqueued--;
        if (call_submit(conn, call) != 0) {
            /* e.g. stream ids exhausted: this connection is done taking streams */
            queue_push(c, call, c->queue.next);
            conn_drain(conn);
        }
    }
    if (!h2o_linklist_is_empty(&c->queue) && !ensure_connections(c)) {
        char msg[240];
        snprintf(msg, sizeof(msg), "no upstream connection available: %s", c->last_error);
        fail_queued(c, CODE_UNAVAILABLE, msg);
    }

    /* one write per connection */
    h2o_linklist_t *node, *next;
    for (node = c->conns.next; node != &c->conns; node = next) {
        conn_t *conn = H2O_STRUCT_FROM_MEMBER(conn_t, link, node);
        if (conn_flush(conn) != 0) {
            next = node->next;
            conn_close(conn, CODE_INTERNAL, conn->errmsg);
            continue;
        }
        next = node->next;
        conn_check_done(conn);
    }
}

static void on_pump(h2o_timeout_entry_t *e)
{
    pump(H2O_STRUCT_FROM_MEMBER(upstream_cluster_t, pump_entry, e));
}

static void schedule_pump(upstream_cluster_t *c)
{
    if (!h2o_timeout_is_linked(&c->pump_entry) && !c->freeing)
        h2o_timeout_link(c->loop, &c->pump_timeout, &c->pump_entry);
}

/* ---- name resolution --------------------------------------------------- */

static int target_resolve(target_t *t, char *err, size_t errlen)
{
    struct addrinfo hints, *res = NULL, *ai;
    char port[8];
    memset(&hints, 0, sizeof(hints));
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_protocol = IPPROTO_TCP;
    snprintf(port, sizeof(port), "%u", (unsigned)t->port);
    hints.ai_flags = AI_NUMERICHOST | AI_NUMERICSERV;
    int rv = getaddrinfo(t->host, port, &hints, &res);
    if (rv == 0) {
        t->literal = 1;
    } else {
        hints.ai_flags = AI_NUMERICSERV;
        rv = getaddrinfo(t->host, port, &hints, &res);
    }
    if (rv != 0) {
        snprintf(err, errlen, "cannot resolve %s: %s", t->host, gai_strerror(rv));
        return -1;
    }
    size_t n = 0;
    for (ai = res; ai != NULL; ai = ai->ai_next)
        if (ai->ai_addrlen <= sizeof(struct sockaddr_storage))
            n++;
    struct sockaddr_storage *addrs = n ? calloc(n, sizeof(*addrs)) : NULL;
    socklen_t *lens = n ? calloc(n, sizeof(*lens)) : NULL;
    if (n == 0 || addrs == NULL || lens == NULL) {
        free(addrs);
        free(lens);
        freeaddrinfo(res);
        snprintf(err, errlen, n == 0 ? "%s resolves to no address" : "out of memory resolving %s", t->host);
        return -1;
    }
    n = 0;
    for (ai = res; ai != NULL; ai = ai->ai_next) {
        if (ai->ai_addrlen > sizeof(struct sockaddr_storage))
            continue;
        memcpy(&addrs[n], ai->ai_addr, ai->ai_addrlen);
        lens[n++] = ai->ai_addrlen;
    }
    freeaddrinfo(res);
    free(t->addrs);
    free(t->addrlens);
    t->addrs = addrs;
    t->addrlens = lens;
    t->naddrs = n;
    t->next_addr %= n;
    return 0;
}

static int target_has_addr(const target_t *t, const struct sockaddr_storage *a, socklen_t len)
{
    for (size_t i = 0; i < t->naddrs; i++)
        if (t->addrlens[i] == len && memcmp(&t->addrs[i], a, len) == 0)
            return 1;
    return 0;
}

static void on_resolve(utimer_t *tm)
{
    upstream_cluster_t *c = H2O_STRUCT_FROM_MEMBER(upstream_cluster_t, resolve_timer, tm);
    for (size_t i = 0; i < c->ntargets; i++) {
        target_t *t = &c->targets[i];
        char err[160];
        if (t->literal)
            continue;
        if (target_resolve(t, err, sizeof(err)) != 0) {
            snprintf(c->last_error, sizeof(c->last_error), "%.150s (keeping the previous addresses)", err);
            continue;
        }
        /* a connection to an address that went away drains: new streams go to a current address */
        if (t->conn != NULL && t->conn->state == CONN_READY && !target_has_addr(t, &t->conn->addr, t->conn->addrlen))
            conn_drain(t->conn);
    }
    timer_arm(c, &c->resolve_timer, now_ms(c) + c->cfg.resolve_interval_ms);
    schedule_pump(c);
}

/* ---- public API -------------------------------------------------------- */

upstream_cluster_t *upstream_cluster_new(h2o_loop_t *loop, const upstream_cluster_config_t *cfg, char *err,
                                         size_t errlen)
{
    char dummy[1];
    if (err == NULL || errlen == 0) {
        err = dummy;
        errlen = sizeof(dummy);
    }
    if (cfg == NULL || cfg->ntargets == 0 || cfg->targets == NULL) {
        snprintf(err, errlen, "upstream cluster %s: no target", cfg && cfg->name ? cfg->name : "(unnamed)");
        return NULL;
    }
    upstream_cluster_t *c = calloc(1, sizeof(*c));
    if (c == NULL) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    c->loop = loop;
    c->cfg = *cfg;
    c->name = strdup(cfg->name ? cfg->name : "upstream");
    c->cfg.name = c->name;
    c->cfg.targets = NULL;
    if (c->cfg.connect_timeout_ms == 0)
        c->cfg.connect_timeout_ms = 1000;
    if (c->cfg.keepalive_timeout_ms == 0)
        c->cfg.keepalive_timeout_ms = 5000;
    if (c->cfg.resolve_interval_ms == 0)
        c->cfg.resolve_interval_ms = 30000;
    if (c->cfg.max_queued == 0)
        c->cfg.max_queued = 10000;
    h2o_linklist_init_anchor(&c->conns);
    h2o_linklist_init_anchor(&c->queue);
    h2o_linklist_init_anchor(&c->parked);
    h2o_linklist_init_anchor(&c->resumed);
    h2o_timeout_init(loop, &c->wake_timeout, 0);
    h2o_timeout_init(loop, &c->pump_timeout, 0);
    c->wake_entry.cb = on_wake;
    c->pump_entry.cb = on_pump;
    c->resolve_timer = (utimer_t){0, TIMER_IDLE, on_resolve};
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    c->rnd = ((uint64_t)ts.tv_nsec << 20) ^ (uint64_t)(uintptr_t)c ^ 0x9e3779b97f4a7c15ULL;
    block_cache_init(&c->blocks, 1024);
    c->mem = (nghttp2_mem){c, ng_malloc, ng_free, ng_calloc, ng_realloc};

    c->targets = calloc(cfg->ntargets, sizeof(*c->targets));
    int ok = c->name != NULL && c->targets != NULL && nghttp2_session_callbacks_new(&c->cbs) == 0 &&
             nghttp2_option_new(&c->opt) == 0;
    if (!ok)
        snprintf(err, errlen, "out of memory");
    for (size_t i = 0; ok && i < cfg->ntargets; i++) {
        target_t *t = &c->targets[i];
        c->ntargets++;
        t->cluster = c;
        t->port = cfg->targets[i].port;
        t->host = strdup(cfg->targets[i].host ? cfg->targets[i].host : "");
        if (t->host == NULL) {
            snprintf(err, errlen, "out of memory");
            ok = 0;
            break;
        }
        int v6 = strchr(t->host, ':') != NULL;
        size_t alen = strlen(t->host) + 10;
        t->authority = malloc(alen);
        if (t->authority == NULL) {
            snprintf(err, errlen, "out of memory");
            ok = 0;
            break;
        }
        snprintf(t->authority, alen, v6 ? "[%s]:%u" : "%s:%u", t->host, (unsigned)t->port);
        char why[200];
        if (target_resolve(t, why, sizeof(why)) != 0) {
            snprintf(err, errlen, "upstream cluster %s: %s", c->name, why);
            ok = 0;
        }
    }
    if (!ok) {
        upstream_cluster_free(c);
        return NULL;
    }

    nghttp2_session_callbacks_set_on_begin_headers_callback(c->cbs, on_begin_headers);
    nghttp2_session_callbacks_set_on_header_callback(c->cbs, on_header);
    nghttp2_session_callbacks_set_on_frame_recv_callback(c->cbs, on_frame_recv);
    nghttp2_session_callbacks_set_on_data_chunk_recv_callback(c->cbs, on_data_chunk);
    nghttp2_session_callbacks_set_on_frame_send_callback(c->cbs, on_frame_send);
    nghttp2_session_callbacks_set_on_stream_close_callback(c->cbs, on_stream_close);
    nghttp2_session_callbacks_set_error_callback2(c->cbs, on_error);
    nghttp2_session_callbacks_set_on_invalid_frame_recv_callback(c->cbs, on_invalid_frame);
    /* stream windows are returned as messages are delivered, so pause can hold a stream back */
    nghttp2_option_set_no_auto_window_update(c->opt, 1);
    nghttp2_option_set_max_reserved_remote_streams(c->opt, 0);

    for (size_t i = 0; i < c->ntargets; i++) {
        if (!c->targets[i].literal) {
            timer_arm(c, &c->resolve_timer, now_ms(c) + c->cfg.resolve_interval_ms);
            break;
        }
    }
    return c;
}

void upstream_cluster_free(upstream_cluster_t *c)
{
    if (c == NULL)
        return;
    /* calls first, while their connections still exist: each gets its on_close,
     * UNAVAILABLE: the gateway gave up on them (a drain that timed out), not
     * the client, and a retry elsewhere can succeed */
    c->freeing = 1;
    fail_queued(c, CODE_UNAVAILABLE, "upstream cluster shut down");
    while (!h2o_linklist_is_empty(&c->parked)) {
        upstream_call_t *call = H2O_STRUCT_FROM_MEMBER(upstream_call_t, link, c->parked.next);
        call_completef(call, CODE_UNAVAILABLE, "upstream cluster shut down");
    }
    h2o_linklist_t *node;
    for (node = c->conns.next; node != &c->conns; node = node->next) {
        conn_t *conn = H2O_STRUCT_FROM_MEMBER(conn_t, link, node);
        h2o_linklist_t *cn;
        /* completing does not unlink attached calls, so the walk is stable; callbacks can only queue */
        for (cn = conn->calls.next; cn != &conn->calls; cn = cn->next) {
            upstream_call_t *call = H2O_STRUCT_FROM_MEMBER(upstream_call_t, link, cn);
            call_completef(call, CODE_UNAVAILABLE, "upstream cluster shut down");
        }
    }
    fail_queued(c, CODE_UNAVAILABLE, "upstream cluster shut down"); /* started from those callbacks */
    while (!h2o_linklist_is_empty(&c->conns))
        conn_close(H2O_STRUCT_FROM_MEMBER(conn_t, link, c->conns.next), CODE_UNAVAILABLE, "upstream cluster shut down");

    while (c->free_calls != NULL) {
        upstream_call_t *call = c->free_calls;
        c->free_calls = call->next_free;
        call_free_buffers(call);
        free(call);
    }
    timer_disarm(c, &c->resolve_timer);
    h2o_timeout_unlink(&c->wake_entry);
    h2o_timeout_unlink(&c->pump_entry);
    h2o_timeout_dispose(c->loop, &c->wake_timeout);
    h2o_timeout_dispose(c->loop, &c->pump_timeout);
    for (size_t i = 0; i < c->ntargets; i++) {
        free(c->targets[i].host);
        free(c->targets[i].authority);
        free(c->targets[i].addrs);
        free(c->targets[i].addrlens);
    }
    free(c->targets);
    free(c->heap);
    free(c->nva);
    if (c->cbs != NULL)
        nghttp2_session_callbacks_del(c->cbs);
    nghttp2_option_del(c->opt);
    block_cache_dispose(&c->blocks); /* the sessions, which allocate from it, are gone */
    free(c->name);
    free(c);
}

upstream_call_t *upstream_call_start(upstream_cluster_t *c, const char *path, const uint8_t *msg, size_t len,
                                     const upstream_header_t *metadata, size_t nmetadata, uint32_t timeout_ms,
                                     const upstream_handlers_t *h, void *ctx)
{
    upstream_call_t *call = call_alloc(c);
    if (call == NULL) {
        c->stats.calls_failed++;
        h->on_close(ctx, CODE_RESOURCE_EXHAUSTED, "out of memory", 13, NULL, 0);
        return NULL;
    }
    c->stats.calls_started++;
    call->seq = c->seq++;
    call->path = path;
    call->msg = msg;
    call->len = len;
    call->prefix[0] = 0;
    call->prefix[1] = (uint8_t)(len >> 24);
    call->prefix[2] = (uint8_t)(len >> 16);
    call->prefix[3] = (uint8_t)(len >> 8);
    call->prefix[4] = (uint8_t)len;
    call->md = metadata;
    call->nmd = nmetadata;
    call->h = *h;
    call->ctx = ctx;
    call->deadline.cb = on_call_deadline;

    if (c->freeing) {
        call_completef(call, CODE_UNAVAILABLE, "upstream cluster shut down");
        return NULL;
    }
    if (len > UINT32_MAX) {
        call_completef(call, CODE_RESOURCE_EXHAUSTED, "request message too large");
        return NULL;
    }
    if (c->nqueued >= c->cfg.max_queued) {
        call_completef(call, CODE_RESOURCE_EXHAUSTED, "upstream %s: %u calls already waiting", c->name,
                       c->nqueued);
        return NULL;
    }
    if (timeout_ms != 0) {
        call->deadline_at = now_ms(c) + timeout_ms;
        if (timer_arm(c, &call->deadline, call->deadline_at) != 0) {
            call_completef(call, CODE_RESOURCE_EXHAUSTED, "out of memory");
            return NULL;
        }
    }
    /* fail fast when no target can take it: every one is backing off */
    if (!ensure_connections(c)) {
        call_completef(call, CODE_UNAVAILABLE, "no upstream connection available: %s", c->last_error);
        return NULL;
    }
    queue_push(c, call, &c->queue);
    schedule_pump(c);
    return call;
}

void upstream_call_cancel(upstream_call_t *call)
{
    if (call == NULL || call->state == CALL_DONE)
        return;
    upstream_cluster_t *c = call->cluster;
    call_unlist(call);
    timer_disarm(c, &call->deadline);
    call->state = CALL_DONE;
    call_reset_stream(call, NGHTTP2_CANCEL);
    call_try_release(call);
}

void upstream_call_pause(upstream_call_t *call)
{
    if (call != NULL && call->state != CALL_DONE)
        call->paused = 1;
}

void upstream_call_resume(upstream_call_t *call)
{
    if (call == NULL || call->state == CALL_DONE || !call->paused)
        return;
    call->paused = 0;
    /* delivered from the pump: resume may be called from inside on_message */
    if (call->rlink.next == NULL && (call->rblen != call->rboff || call->unconsumed != 0 || call->state == CALL_ENDING))
        h2o_linklist_insert(&call->cluster->resumed, &call->rlink);
    schedule_pump(call->cluster);
}

void upstream_cluster_stats(const upstream_cluster_t *c, upstream_stats_t *out)
{
    *out = c->stats;
    out->connections_open = 0;
    out->streams_active = 0;
    const h2o_linklist_t *node;
    for (node = c->conns.next; node != &c->conns; node = node->next) {
        const conn_t *conn = H2O_STRUCT_FROM_MEMBER(conn_t, link, node);
        out->connections_open++;
        out->streams_active += conn->nstreams;
    }
    out->calls_queued = c->nqueued;
}
