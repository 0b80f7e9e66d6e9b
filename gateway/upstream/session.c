/*
 * session.c: the nghttp2 session callbacks of every connection. Frames in
 * become call events (headers, messages, the end, a closed stream) and
 * connection events (SETTINGS, GOAWAY, PING acks). They run inside
 * nghttp2_session_mem_recv/mem_send, so nothing here closes a connection:
 * conn.c does that once nghttp2 has returned.
 */
#include "upstream/upstream_int.h"
#include "grpc/percent.h"

#include <stdio.h>

/* ---- small helpers ----------------------------------------------------- */

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

/* ---- nghttp2 callbacks ------------------------------------------------- */

static upstream_call_t *stream_call(conn_t *conn, int32_t id)
{
    if (id <= 0)
        return NULL;
    if (id != conn->last_id) {
        conn->last_id = id;
        conn->last_call = nghttp2_session_get_stream_user_data(conn->io.ng, id);
    }
    return conn->last_call;
}

/* The stream no longer leads to its call (closed, or the connection is going). */
void up_forget_stream(conn_t *conn, int32_t id)
{
    nghttp2_session_set_stream_user_data(conn->io.ng, id, NULL);
    if (id == conn->last_id)
        conn->last_id = 0;
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
    size_t o = grpc_percent_decode(call->hb + call->hblen, p, n);
    call->hb[call->hblen + o] = '\0';
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
        up_call_fail(call, CODE_INTERNAL, "upstream response headers too large");
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
            up_call_reset_stream(call, NGHTTP2_CANCEL);
            up_call_completef(call, code_from_http(call->http_status), "upstream returned HTTP status %d",
                              call->http_status);
            return;
        }
        if (!call->ct_ok) {
            up_call_reset_stream(call, NGHTTP2_CANCEL);
            up_call_completef(call, CODE_UNKNOWN, "upstream response content-type is not application/grpc");
            return;
        }
        if (end) {
            /* trailers-only: everything in this block is trailers */
            up_call_remote_end(call);
            return;
        }
        call->got_headers = 1;
        size_t n = up_build_headers(call);
        if (call->h.on_headers != NULL) {
            call->in_cb++;
            call->h.on_headers(call->ctx, call->hv, n);
            call->in_cb--;
        }
        return;
    }
    if (!end) {
        up_call_fail(call, CODE_INTERNAL, "upstream sent trailers without END_STREAM");
        return;
    }
    up_call_remote_end(call);
}


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
            up_call_remote_end(call); /* no trailers: no grpc-status */
        }
        break;
    case NGHTTP2_SETTINGS:
        if ((frame->hd.flags & NGHTTP2_FLAG_ACK) == 0) {
            if (conn->state == CONN_HANDSHAKING)
                up_conn_ready(conn);
            up_schedule_pump(c); /* MAX_CONCURRENT_STREAMS may have grown */
        }
        break;
    case NGHTTP2_GOAWAY:
        c->stats.goaways_received++;
        conn->goaway = 1;
        conn->goaway_last_id = frame->goaway.last_stream_id;
        up_conn_drain(conn);
        up_schedule_pump(c);
        break;
    case NGHTTP2_PING:
        if ((frame->hd.flags & NGHTTP2_FLAG_ACK) && conn->ping_outstanding) {
            conn->ping_outstanding = 0;
            up_timer_disarm(c, &conn->ping_timer);
            up_conn_arm_keepalive(conn, now_ms(c));
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
        if (up_rb_append(call, data, len) != 0)
            up_call_fail(call, CODE_RESOURCE_EXHAUSTED, "out of memory buffering a response message");
        else
            call->unconsumed += len;
        return 0;
    }
    nghttp2_session_consume_stream(ng, id, len);
    up_feed_data(call, data, len);
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

int up_retryable(conn_t *conn, upstream_call_t *call, uint32_t err)
{
    if (call->state != CALL_ACTIVE || call->got_headers || call->retries >= RETRY_MAX || call->cluster->freeing ||
        call->released)
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
    up_forget_stream(conn, id);
    h2o_linklist_unlink(&call->link);
    call->conn = NULL;
    conn->nstreams--;
    up_schedule_pump(c); /* a stream slot is free */
    switch (call->state) {
    case CALL_ACTIVE:
        if (up_retryable(conn, call, err)) {
            /* never processed by the peer (REFUSED_STREAM, above GOAWAY's last id, never sent): try again */
            up_queue_retry(c, call);
            break;
        }
        if (err == NGHTTP2_NO_ERROR)
            up_call_completef(call, CODE_INTERNAL, "upstream closed the stream without a status");
        else if (err == NGHTTP2_REFUSED_STREAM)
            up_call_completef(call, CODE_UNAVAILABLE, "upstream refused the stream");
        else
            up_call_completef(call, code_from_rst(err), "upstream stream closed with HTTP/2 error %s",
                              nghttp2_http2_strerror(err));
        break;
    case CALL_ENDING:
        h2o_linklist_insert(&c->parked, &call->link);
        break;
    case CALL_DONE:
        up_call_try_release(call);
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

void up_session_callbacks_init(nghttp2_session_callbacks *cbs)
{
    nghttp2_session_callbacks_set_on_begin_headers_callback(cbs, on_begin_headers);
    nghttp2_session_callbacks_set_on_header_callback(cbs, on_header);
    nghttp2_session_callbacks_set_on_frame_recv_callback(cbs, on_frame_recv);
    nghttp2_session_callbacks_set_on_data_chunk_recv_callback(cbs, on_data_chunk);
    nghttp2_session_callbacks_set_on_frame_send_callback(cbs, on_frame_send);
    nghttp2_session_callbacks_set_on_stream_close_callback(cbs, on_stream_close);
    nghttp2_session_callbacks_set_error_callback2(cbs, on_error);
    nghttp2_session_callbacks_set_on_invalid_frame_recv_callback(cbs, on_invalid_frame);
}
