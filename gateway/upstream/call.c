/*
 * call.c: one call from start to its struct's return to the free list (the
 * call state machine of upstream_int.h), what it sends (the request body
 * nghttp2 reads from it) and what it receives (response bytes cut into
 * messages, delivered as the consumer lets them), and the call API of
 * upstream.h.
 */
#include "upstream/upstream_int.h"

#include <stdarg.h>
#include <stdio.h>

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
    call->wlink.next = call->wlink.prev = NULL;
    call->next_free = NULL;
    call->conn = NULL;
    call->stream_id = 0;
    call->nsq = call->sq_cur = call->sq_off = 0;
    call->send_end = call->deferred = call->released = call->passthrough = 0;
    call->deadline.idx = TIMER_HEAP_IDLE;
    call->deadline_at = 0;
    call->retries = call->headers_sent = call->got_headers = call->paused = call->in_cb = call->block = 0;
    call->ct_ok = call->hdr_overflow = call->remote_ended = 0;
    call->answered = 0;
    call->target = -1;
    call->http_status = 0;
    call->grpc_status = -1;
    call->hblen = call->nho = call->gmsg_off = call->gmsg_len = 0;
    call->rblen = call->rboff = call->unconsumed = 0;
    call->end_msg = NULL;
    call->end_msg_len = call->end_ntrailers = 0;
    call->errmsg[0] = '\0';
    return call;
}

void up_call_free_buffers(upstream_call_t *call)
{
    free(call->hb);
    free(call->ho);
    free(call->hv);
    free(call->rb);
    free(call->sq);
    call->hb = NULL;
    call->ho = NULL;
    call->hv = NULL;
    call->rb = NULL;
    call->sq = NULL;
    call->hbcap = call->hocap = call->hvcap = call->rbcap = call->sqcap = 0;
}

static void call_recycle(upstream_call_t *call)
{
    upstream_cluster_t *c = call->cluster;
    if (c->nfree >= FREE_CALLS_MAX || c->freeing) {
        up_call_free_buffers(call);
        free(call);
        return;
    }
    /* keep small buffers for the next call; one huge response must not pin memory forever */
    if (call->rbcap > KEEP_BUF_MAX || call->hbcap > KEEP_BUF_MAX || call->sqcap * sizeof(*call->sq) > KEEP_BUF_MAX) {
        up_call_free_buffers(call);
    }
    call->next_free = c->free_calls;
    c->free_calls = call;
    c->nfree++;
}

/* The one place a struct leaves use: DONE, no stream in nghttp2, no callback of it running. */
void up_call_try_release(upstream_call_t *call)
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
    unlink_if(&call->wlink);
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
    up_timer_disarm(c, &call->deadline);
    call->state = CALL_DONE;
    if (code != CODE_OK)
        c->stats.calls_failed++;
    if (c->cfg.target_result != NULL)
        up_report_outcome(call, code);
    call->in_cb++;
    call->h.on_close(call->ctx, code, msg, msglen, trailers, ntrailers);
    call->in_cb--;
    up_call_try_release(call);
}

void up_call_completef(upstream_call_t *call, int code, const char *fmt, ...)
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
void up_call_reset_stream(upstream_call_t *call, uint32_t err)
{
    conn_t *conn = call->conn;
    if (conn != NULL) {
        /* both sides ended: the stream closes by itself, a reset would only be noise */
        if (call->remote_ended && nghttp2_session_get_stream_local_close(conn->io.ng, call->stream_id) == 1)
            return;
        nghttp2_submit_rst_stream(call->conn->io.ng, NGHTTP2_FLAG_NONE, call->stream_id, err);
        up_schedule_pump(call->cluster);
    }
}

/* A locally detected failure of an ACTIVE call: reset its stream, report. */
void up_call_fail(upstream_call_t *call, int code, const char *msg)
{
    up_call_reset_stream(call, NGHTTP2_CANCEL);
    up_call_completef(call, code, "%s", msg);
}

void up_queue_push(upstream_cluster_t *c, upstream_call_t *call, h2o_linklist_t *before)
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
void up_queue_retry(upstream_cluster_t *c, upstream_call_t *call)
{
    h2o_linklist_t *pos = c->queue.next;
    while (pos != &c->queue && H2O_STRUCT_FROM_MEMBER(upstream_call_t, link, pos)->seq < call->seq)
        pos = pos->next;
    call->retries++;
    up_queue_push(c, call, pos);
}

static void on_call_deadline(timer_heap_timer_t *t)
{
    upstream_call_t *call = H2O_STRUCT_FROM_MEMBER(upstream_call_t, deadline, t);
    up_call_reset_stream(call, NGHTTP2_CANCEL);
    up_call_completef(call, CODE_DEADLINE_EXCEEDED, "deadline exceeded");
}

/* ---- request messages -------------------------------------------------- */

/*
 * nghttp2 asks for DATA as the stream's and the connection's windows admit
 * (length is at most what they allow): this is where flow control reaches
 * the sender. The queue is copied into buf across items; when it is all
 * taken, a sender with on_writable hears so from the pump.
 */
ssize_t up_on_read_body(nghttp2_session *ng, int32_t id, uint8_t *buf, size_t length, uint32_t *flags,
                        nghttp2_data_source *src, void *ud)
{
    (void)ng, (void)id, (void)ud;
    upstream_call_t *call = src->ptr;
    /* after on_close the message may be gone; the stream is being reset anyway */
    if (call->state != CALL_ACTIVE)
        return NGHTTP2_ERR_DEFERRED;
    size_t n = 0;
    while (n < length && call->sq_cur < call->nsq) {
        const sendq_item_t *it = &call->sq[call->sq_cur];
        size_t off = call->sq_off, chunk;
        if (off < it->nprefix) {
            chunk = it->nprefix - off;
            if (chunk > length - n)
                chunk = length - n;
            memcpy(buf + n, it->prefix + off, chunk);
            n += chunk;
            off += chunk;
        }
        if (off >= it->nprefix && (chunk = it->nprefix + it->len - off) != 0) {
            if (chunk > length - n)
                chunk = length - n;
            memcpy(buf + n, it->data + (off - it->nprefix), chunk);
            n += chunk;
            off += chunk;
        }
        if (off == it->nprefix + it->len) {
            call->sq_cur++;
            off = 0;
        }
        call->sq_off = off;
    }
    if (call->sq_cur == call->nsq) {
        if (call->send_end) {
            *flags |= NGHTTP2_DATA_FLAG_EOF;
        } else if (n == 0) {
            call->deferred = 1;
            return NGHTTP2_ERR_DEFERRED;
        }
        if (n != 0 && call->on_writable != NULL && call->wlink.next == NULL) {
            h2o_linklist_insert(&call->cluster->writable, &call->wlink);
            up_schedule_pump(call->cluster);
        }
    }
    return (ssize_t)n;
}

/* ---- response messages ------------------------------------------------- */

int up_rb_append(upstream_call_t *call, const uint8_t *p, size_t n)
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
        if (p[off] != 0 && !(p[off] == GRPC_FRAME_COMPRESSED && call->passthrough)) {
            up_call_fail(call, CODE_INTERNAL,
                         p[off] == 1 ? "compressed messages not supported" : "invalid gRPC message flags");
            return off;
        }
        if (mlen > MAX_MESSAGE) {
            up_call_reset_stream(call, NGHTTP2_CANCEL);
            up_call_completef(call, CODE_RESOURCE_EXHAUSTED, "response message of %u bytes exceeds the limit of %u",
                              mlen, MAX_MESSAGE);
            return off;
        }
        if (n - off - 5 < mlen)
            break;
        if (call->passthrough) {
            call->in_cb++;
            call->h.on_frame(call->ctx, p[off], p + off + 5, mlen);
            call->in_cb--;
        } else if (call->h.on_message != NULL) {
            call->in_cb++;
            call->h.on_message(call->ctx, p + off + 5, mlen);
            call->in_cb--;
        }
        off += 5 + (size_t)mlen;
    }
    return off;
}

/* Delivers what the receive buffer holds, as far as the consumer lets us. */
void up_drain_buffered(upstream_call_t *call)
{
    size_t used = deliver_messages(call, call->rb + call->rboff, call->rblen - call->rboff);
    call->rboff += used;
    if (call->rboff == call->rblen)
        call->rboff = call->rblen = 0;
}

/* DATA for an ACTIVE call that is not paused: fast path parses in place. */
void up_feed_data(upstream_call_t *call, const uint8_t *data, size_t len)
{
    if (call->rblen == call->rboff) {
        size_t used = deliver_messages(call, data, len);
        if (call->state == CALL_ACTIVE && used < len && up_rb_append(call, data + used, len - used) != 0)
            up_call_fail(call, CODE_RESOURCE_EXHAUSTED, "out of memory buffering a response message");
        return;
    }
    if (up_rb_append(call, data, len) != 0) {
        up_call_fail(call, CODE_RESOURCE_EXHAUSTED, "out of memory buffering a response message");
        return;
    }
    up_drain_buffered(call);
}

/* Finishes a call whose status is known; delivered now unless the consumer paused on buffered messages. */
void up_call_finish_or_park(upstream_call_t *call)
{
    if (call->paused && call->rblen != call->rboff) {
        call->state = CALL_ENDING;
        if (call->conn == NULL)
            h2o_linklist_insert(&call->cluster->parked, &call->link);
        return;
    }
    if (call->rblen != call->rboff && call->end_code == CODE_OK) {
        up_call_completef(call, CODE_INTERNAL, "response ended inside a message");
        return;
    }
    call_complete(call, call->end_code, call->end_msg, call->end_msg_len, call->hv, call->end_ntrailers);
}

/* The peer ended its side (END_STREAM) on an ACTIVE call. */
void up_call_remote_end(upstream_call_t *call)
{
    conn_t *conn = call->conn;
    if (call->grpc_status < 0) {
        call->end_code = CODE_UNKNOWN;
        int n = snprintf(call->errmsg, sizeof(call->errmsg), "upstream response has no grpc-status");
        call->end_msg = call->errmsg;
        call->end_msg_len = (size_t)n;
        call->end_ntrailers = 0;
    } else {
        call->answered = 1;
        call->end_code = call->grpc_status;
        call->end_ntrailers = up_build_headers(call);
        call->end_msg = call->hb != NULL ? call->hb + call->gmsg_off : "";
        call->end_msg_len = call->gmsg_len;
    }
    /* the peer answered before reading all of our request: tell it we are done too */
    if (conn != NULL)
        up_call_reset_stream(call, NGHTTP2_NO_ERROR);
    up_call_finish_or_park(call);
}


/* ---- the call API ----------------------------------------------------- */

/* The bodies of upstream_call_open and upstream_call_send, also inlined
 * into upstream_call_start: the REST path runs them on every request, and
 * two calls of a public function each cost more than what they do there. */
#define ALWAYS_INLINE inline __attribute__((always_inline))

static ALWAYS_INLINE upstream_call_t *call_open(upstream_cluster_t *c, const char *path,
                                                const upstream_header_t *metadata, size_t nmetadata,
                                                uint32_t timeout_ms, const upstream_handlers_t *h,
                                                void (*on_writable)(void *ctx), void *ctx)
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
    call->md = metadata;
    call->nmd = nmetadata;
    call->h = *h;
    call->on_writable = on_writable;
    call->ctx = ctx;
    call->deadline.cb = on_call_deadline;
    call->passthrough = h->on_frame != NULL;
    grpc_frame_reader_init(&call->fr, UINT32_MAX, call->passthrough && up_metadata_compressed(metadata, nmetadata));

    if (c->freeing) {
        up_call_completef(call, CODE_UNAVAILABLE, "upstream cluster shut down");
        return NULL;
    }
    if (c->nqueued >= c->cfg.max_queued) {
        up_call_completef(call, CODE_RESOURCE_EXHAUSTED, "upstream %s: %u calls already waiting", c->name,
                          c->nqueued);
        return NULL;
    }
    if (timeout_ms != 0) {
        call->deadline_at = now_ms(c) + timeout_ms;
        if (up_timer_arm(c, &call->deadline, call->deadline_at) != 0) {
            up_call_completef(call, CODE_RESOURCE_EXHAUSTED, "out of memory");
            return NULL;
        }
    }
    /* fail fast when no target can take it: every one is backing off */
    if (!up_ensure_connections(c)) {
        up_call_completef(call, CODE_UNAVAILABLE, "no upstream connection available: %s", c->last_error);
        return NULL;
    }
    up_queue_push(c, call, &c->queue);
    up_schedule_pump(c);
    return call;
}

static ALWAYS_INLINE int call_send(upstream_call_t *call, const uint8_t *data, size_t len, unsigned flags)
{
    int end = (flags & UPSTREAM_SEND_END) != 0;
    if (call == NULL || (call->state != CALL_QUEUED && call->state != CALL_ACTIVE) || call->send_end)
        return -1;
    if (flags & UPSTREAM_SEND_FRAMED) {
        /* FRAMED bytes may split a message (or its prefix) anywhere; -1 when
         * they break the framing: a flags byte other than 0, or 1 without
         * grpc-encoding, or the end inside a message */
        if (grpc_frame_follow(&call->fr, data, len, end) != GRPC_FRAME_OK)
            return -1;
    } else if (!grpc_frame_at_boundary(&call->fr)) {
        return -1; /* a message inside a FRAMED one */
    } else if (len > UINT32_MAX) {
        up_call_fail(call, CODE_RESOURCE_EXHAUSTED, "request message too large");
        return -1;
    }
    if (len != 0 || !(flags & UPSTREAM_SEND_FRAMED)) {
        if (grow((void **)&call->sq, &call->sqcap, call->nsq + 1, sizeof(*call->sq)) != 0) {
            up_call_fail(call, CODE_RESOURCE_EXHAUSTED, "out of memory");
            return -1;
        }
        sendq_item_t *it = &call->sq[call->nsq++];
        it->data = data;
        it->len = len;
        if (flags & UPSTREAM_SEND_FRAMED) {
            it->nprefix = 0;
        } else {
            it->nprefix = 5;
            it->prefix[0] = 0;
            it->prefix[1] = (uint8_t)(len >> 24);
            it->prefix[2] = (uint8_t)(len >> 16);
            it->prefix[3] = (uint8_t)(len >> 8);
            it->prefix[4] = (uint8_t)len;
        }
    }
    call->send_end = (uint8_t)end;
    if (call->deferred && call->conn != NULL) {
        call->deferred = 0;
        nghttp2_session_resume_data(call->conn->io.ng, call->stream_id);
        up_schedule_pump(call->cluster);
    }
    return 0;
}

upstream_call_t *upstream_call_open(upstream_cluster_t *c, const char *path, const upstream_header_t *metadata,
                                    size_t nmetadata, uint32_t timeout_ms, const upstream_handlers_t *h,
                                    void (*on_writable)(void *ctx), void *ctx)
{
    return call_open(c, path, metadata, nmetadata, timeout_ms, h, on_writable, ctx);
}

int upstream_call_send(upstream_call_t *call, const uint8_t *data, size_t len, unsigned flags)
{
    return call_send(call, data, len, flags);
}

upstream_call_t *upstream_call_start(upstream_cluster_t *c, const char *path, const uint8_t *msg, size_t len,
                                     const upstream_header_t *metadata, size_t nmetadata, uint32_t timeout_ms,
                                     const upstream_handlers_t *h, void *ctx)
{
    upstream_call_t *call = call_open(c, path, metadata, nmetadata, timeout_ms, h, NULL, ctx);
    if (call == NULL || call_send(call, msg, len, UPSTREAM_SEND_END) != 0)
        return NULL; /* on_close has run */
    return call;
}

void upstream_call_cancel(upstream_call_t *call)
{
    if (call == NULL || call->state == CALL_DONE)
        return;
    upstream_cluster_t *c = call->cluster;
    call_unlist(call);
    up_timer_disarm(c, &call->deadline);
    call->state = CALL_DONE;
    up_call_reset_stream(call, NGHTTP2_CANCEL);
    up_call_try_release(call);
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
    up_schedule_pump(call->cluster);
}
