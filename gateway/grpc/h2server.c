/*
 * h2server.c: HTTP/2 server connections on nghttp2 (h2server.h).
 *
 * A connection: HANDSHAKE (our SETTINGS sent, waiting for the client's
 * preface and SETTINGS; the handshake timer runs) -> OPEN -> CLOSED.
 * conn_close() is the one way to CLOSED: every stream still open hears
 * on_close(CANCEL), then the session, the socket and the struct go. A
 * connection closes when its socket fails, when the handshake times out,
 * and when nghttp2 has nothing left to read or write (after a GOAWAY, ours
 * or the client's, once its streams are done; or after a protocol error,
 * once the GOAWAY that says so is written).
 *
 * A stream: its request header block is gathered (on_begin_headers,
 * on_header), handed over whole (on_request), then body bytes as they
 * come; the response is headers, a queue of body bytes nghttp2 takes as
 * the windows admit, and an end (trailers or END_STREAM). The struct goes
 * back to the context's free list after on_close, with its buffers, so a
 * steady load allocates nothing per stream but what nghttp2 does itself
 * (which comes from the loop's block cache).
 *
 * Output is never written where it is produced: a connection with
 * something to send is put on the context's pending list and a zero
 * timeout (the pump) flushes each one once the loop's socket callbacks
 * are done; a connection flushes right away after reading, so an answer
 * made while reading goes out in the same write as the WINDOW_UPDATEs.
 */
#include "grpc/h2server.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <h2o/linklist.h>
#include <h2o/memory.h>
#include <h2o/timeout.h>

#include "core/block_cache.h"
#include "grpc/h2io.h"

#define FREE_STREAMS_MAX 1024
#define KEEP_BUF_MAX (64u << 10) /* larger per-stream buffers are dropped on reuse */

typedef enum conn_state {
    CONN_HANDSHAKE, /* waiting for the client's preface and SETTINGS */
    CONN_OPEN,
    CONN_CLOSED,    /* only momentarily visible inside conn_close() */
} conn_state_t;

typedef struct hoff {
    uint32_t no, nl, vo, vl; /* offsets into a stream's buffer: they survive its growth */
} hoff_t;

/* Header fields gathered into one buffer: the request's, or trailers to send. */
typedef struct hblock {
    char *b;
    size_t len, cap;
    hoff_t *o;
    size_t n, ocap;
} hblock_t;

struct h2server_stream {
    h2server_conn_t *conn;
    h2o_linklist_t link;      /* conn->streams */
    h2o_linklist_t full_link; /* conn->full: reported full, waits to be told it is writable */
    h2server_stream_t *next_free;
    int32_t id;
    void *data;
    uint8_t requested;  /* on_request ran: on_close is due */
    uint8_t oversize;   /* the request header block passed max_header_list */
    uint8_t malformed;  /* RFC 9113 8.2.1/8.3.1: answered RST_STREAM(PROTOCOL_ERROR), never reaches the user */
    uint8_t pseudo;     /* the pseudo-headers seen (PSEUDO_*), and PSEUDO_REGULAR once a regular field came */
    uint8_t req_ended;  /* END_STREAM from the client */
    uint8_t responded;  /* response HEADERS submitted */
    uint8_t ending;     /* h2server_end: trailers (or END_STREAM) after the queue */
    uint8_t ended;      /* the response is complete (or reset): nothing more may be queued */
    uint8_t deferred;   /* nghttp2 found the queue empty: a send resumes the stream */
    size_t hsize;       /* RFC 9113 size of the request header block so far */
    hblock_t req;       /* the request's fields */
    h2server_header_t *hv;
    size_t hvcap;
    hblock_t trailers;
    uint8_t *q;         /* response bytes: q[qoff..qlen) not yet taken */
    size_t qoff, qlen, qcap;
};

struct h2server_conn {
    h2server_ctx_t *ctx;
    h2o_linklist_t link;         /* ctx->conns */
    h2o_linklist_t pending_link; /* ctx->pending: a flush is due */
    h2io_t io;
    conn_state_t state;
    void *data;
    h2o_linklist_t streams;
    h2o_linklist_t full;
    size_t queued;               /* response bytes queued over all streams */
    /* the last stream looked up: a header block's callbacks ask for the
     * same stream once per field, and nghttp2's lookup is a hash probe */
    int32_t last_id;
    h2server_stream_t *last_stream;
    h2o_timeout_entry_t handshake_entry;
    uint8_t closing;             /* the session is being torn down: its callbacks are ignored */
    uint8_t fatal;               /* nghttp2 gave up on the session: close once its GOAWAY is out */
    char errmsg[128];
};

struct h2server_ctx {
    h2o_loop_t *loop;
    h2server_config_t cfg;
    h2server_handlers_t h;
    nghttp2_session_callbacks *cbs;
    nghttp2_option *opt;
    block_cache_t blocks;
    nghttp2_mem mem;
    h2o_linklist_t conns;
    h2o_linklist_t pending;
    size_t nconns;
    h2o_timeout_t pump_timeout, handshake_timeout;
    h2o_timeout_entry_t pump_entry;
    h2server_stream_t *free_streams;
    size_t nfree;
    nghttp2_nv *nva; /* scratch for the header lists we submit */
    size_t nvacap;
    int shutdown;    /* 0 serving, 1 notice sent, 2 final GOAWAY sent */
};

/* ---- small helpers ----------------------------------------------------- */

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

static int hblock_add(hblock_t *hb, const void *name, size_t nl, const void *value, size_t vl)
{
    if (grow((void **)&hb->o, &hb->ocap, hb->n + 1, sizeof(*hb->o)) != 0 ||
        grow((void **)&hb->b, &hb->cap, hb->len + nl + vl + 2, 1) != 0)
        return -1;
    hoff_t *o = &hb->o[hb->n++];
    o->no = (uint32_t)hb->len;
    o->nl = (uint32_t)nl;
    memcpy(hb->b + hb->len, name, nl);
    hb->len += nl;
    hb->b[hb->len++] = '\0';
    o->vo = (uint32_t)hb->len;
    o->vl = (uint32_t)vl;
    memcpy(hb->b + hb->len, value, vl);
    hb->len += vl;
    hb->b[hb->len++] = '\0';
    return 0;
}

static void hblock_free(hblock_t *hb)
{
    free(hb->b);
    free(hb->o);
    *hb = (hblock_t){0};
}

static size_t stream_queued(const h2server_stream_t *s)
{
    return s->qlen - s->qoff;
}

static void *ng_malloc(size_t n, void *c) { return block_cache_alloc(&((h2server_ctx_t *)c)->blocks, n); }
static void ng_free(void *p, void *c) { block_cache_free(&((h2server_ctx_t *)c)->blocks, p); }
static void *ng_calloc(size_t k, size_t n, void *c) { return block_cache_calloc(&((h2server_ctx_t *)c)->blocks, k, n); }
static void *ng_realloc(void *p, size_t n, void *c) { return block_cache_realloc(&((h2server_ctx_t *)c)->blocks, p, n); }

static void schedule(h2server_conn_t *conn)
{
    h2server_ctx_t *ctx = conn->ctx;
    if (conn->state == CONN_CLOSED || h2o_linklist_is_linked(&conn->pending_link))
        return;
    h2o_linklist_insert(&ctx->pending, &conn->pending_link);
    if (!h2o_timeout_is_linked(&ctx->pump_entry))
        h2o_timeout_link(ctx->loop, &ctx->pump_timeout, &ctx->pump_entry);
}

/* ---- streams ----------------------------------------------------------- */

static h2server_stream_t *stream_alloc(h2server_conn_t *conn, int32_t id)
{
    h2server_ctx_t *ctx = conn->ctx;
    h2server_stream_t *s = ctx->free_streams;
    if (s != NULL) {
        ctx->free_streams = s->next_free;
        ctx->nfree--;
    } else if ((s = calloc(1, sizeof(*s))) == NULL) {
        return NULL;
    }
    s->conn = conn;
    s->id = id;
    s->data = NULL;
    s->next_free = NULL;
    s->requested = s->oversize = s->malformed = s->pseudo = 0;
    s->req_ended = s->responded = s->ending = s->ended = s->deferred = 0;
    s->hsize = 0;
    s->req.len = s->req.n = 0;
    s->trailers.len = s->trailers.n = 0;
    s->qoff = s->qlen = 0;
    s->full_link.next = s->full_link.prev = NULL;
    h2o_linklist_insert(&conn->streams, &s->link);
    return s;
}

static void stream_free_buffers(h2server_stream_t *s)
{
    hblock_free(&s->req);
    hblock_free(&s->trailers);
    free(s->hv);
    free(s->q);
    s->hv = NULL;
    s->hvcap = 0;
    s->q = NULL;
    s->qcap = 0;
}

/* Off its connection's lists and back to the free list; no callback. */
static void stream_release(h2server_stream_t *s)
{
    h2server_conn_t *conn = s->conn;
    h2server_ctx_t *ctx = conn->ctx;
    h2o_linklist_unlink(&s->link);
    if (h2o_linklist_is_linked(&s->full_link))
        h2o_linklist_unlink(&s->full_link);
    conn->queued -= stream_queued(s);
    s->qoff = s->qlen = 0;
    if (ctx->nfree >= FREE_STREAMS_MAX) {
        stream_free_buffers(s);
        free(s);
        return;
    }
    if (s->qcap > KEEP_BUF_MAX || s->req.cap > KEEP_BUF_MAX || s->trailers.cap > KEEP_BUF_MAX)
        stream_free_buffers(s);
    s->next_free = ctx->free_streams;
    ctx->free_streams = s;
    ctx->nfree++;
}

/* The stream is over for its user: on_close (if on_request ran), then
 * released; the request's fields stay valid through on_close. */
static void stream_close(h2server_stream_t *s, uint32_t err)
{
    h2server_ctx_t *ctx = s->conn->ctx;
    s->ended = 1;
    if (s->requested)
        ctx->h.on_close(s->data, err);
    stream_release(s);
}

static h2server_stream_t *stream_of(h2server_conn_t *conn, int32_t id)
{
    if (conn->closing || id <= 0)
        return NULL;
    if (id != conn->last_id) {
        conn->last_id = id;
        conn->last_stream = nghttp2_session_get_stream_user_data(conn->io.ng, id);
    }
    return conn->last_stream;
}

/* ---- nghttp2 callbacks ------------------------------------------------- */

static int on_begin_headers(nghttp2_session *ng, const nghttp2_frame *frame, void *ud)
{
    h2server_conn_t *conn = ud;
    if (conn->closing || frame->hd.type != NGHTTP2_HEADERS || frame->headers.cat != NGHTTP2_HCAT_REQUEST)
        return 0;
    h2server_stream_t *s = stream_alloc(conn, frame->hd.stream_id);
    if (s == NULL)
        return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE; /* RST_STREAM(INTERNAL_ERROR) */
    nghttp2_session_set_stream_user_data(ng, frame->hd.stream_id, s);
    conn->last_id = frame->hd.stream_id;
    conn->last_stream = s;
    return 0;
}

/*
 * What nghttp2's HTTP messaging would check, checked here instead (it is
 * off: its per-field token lookups cost more than this, see
 * h2server_ctx_new): RFC 9113's malformed requests. Field names are
 * lower-case tokens, values hold no NUL, CR or LF; pseudo-headers come
 * first, once each, only the four of a request; no connection-specific
 * field, no te but "trailers". Returns the PSEUDO_ bit of the field, 0 for
 * a regular one, -1 when the request is malformed.
 */
enum { PSEUDO_METHOD = 1, PSEUDO_SCHEME = 2, PSEUDO_PATH = 4, PSEUDO_AUTHORITY = 8, PSEUDO_REGULAR = 16 };

static const uint8_t token_char[256] = {
    ['!'] = 1, ['#'] = 1, ['$'] = 1, ['%'] = 1, ['&'] = 1, ['\''] = 1, ['*'] = 1, ['+'] = 1, ['-'] = 1, ['.'] = 1,
    ['^'] = 1, ['_'] = 1, ['`'] = 1, ['|'] = 1, ['~'] = 1, ['0'] = 1, ['1'] = 1, ['2'] = 1, ['3'] = 1, ['4'] = 1,
    ['5'] = 1, ['6'] = 1, ['7'] = 1, ['8'] = 1, ['9'] = 1, ['a'] = 1, ['b'] = 1, ['c'] = 1, ['d'] = 1, ['e'] = 1,
    ['f'] = 1, ['g'] = 1, ['h'] = 1, ['i'] = 1, ['j'] = 1, ['k'] = 1, ['l'] = 1, ['m'] = 1, ['n'] = 1, ['o'] = 1,
    ['p'] = 1, ['q'] = 1, ['r'] = 1, ['s'] = 1, ['t'] = 1, ['u'] = 1, ['v'] = 1, ['w'] = 1, ['x'] = 1, ['y'] = 1,
    ['z'] = 1,
};

/* Whether NUL, CR or LF is among the n bytes at p: eight at a time (the
 * classic has-zero-byte test on the word and on it XOR each of CR and LF);
 * a request's values are a few hundred bytes, checked on every call. */
static int value_has_nul_cr_lf(const uint8_t *p, size_t n)
{
    const uint64_t ones = 0x0101010101010101ull, highs = 0x8080808080808080ull;
    if (n < 8) {
        for (size_t i = 0; i < n; i++)
            if (p[i] == 0 || p[i] == '\r' || p[i] == '\n')
                return 1;
        return 0;
    }
    /* whole words, the last one overlapping the one before */
    for (size_t i = 0;; i += 8) {
        if (i + 8 > n)
            i = n - 8;
        uint64_t x;
        memcpy(&x, p + i, 8);
        uint64_t cr = x ^ (ones * '\r'), lf = x ^ (ones * '\n');
        if (((x - ones) & ~x & highs) | ((cr - ones) & ~cr & highs) | ((lf - ones) & ~lf & highs))
            return 1;
        if (i + 8 == n)
            return 0;
    }
}

#define IS_NAME(lit) (nl == sizeof(lit) - 1 && memcmp(name, lit, nl) == 0)

static int field_check(const uint8_t *name, size_t nl, const uint8_t *value, size_t vl)
{
    if (nl == 0)
        return -1;
    if (value_has_nul_cr_lf(value, vl))
        return -1;
    if (name[0] == ':') {
        return IS_NAME(":path") ? (vl ? PSEUDO_PATH : -1)
               : IS_NAME(":method") ? PSEUDO_METHOD
               : IS_NAME(":scheme") ? PSEUDO_SCHEME
               : IS_NAME(":authority") ? PSEUDO_AUTHORITY
                                       : -1;
    }
    for (size_t i = 0; i < nl; i++)
        if (!token_char[name[i]])
            return -1;
    switch (nl) {
    case 2:
        return IS_NAME("te") && !(vl == 8 && memcmp(value, "trailers", 8) == 0) ? -1 : 0;
    case 7:
        return IS_NAME("upgrade") ? -1 : 0;
    case 10:
        return IS_NAME("connection") || IS_NAME("keep-alive") ? -1 : 0;
    case 16:
        return IS_NAME("proxy-connection") ? -1 : 0;
    case 17:
        return IS_NAME("transfer-encoding") ? -1 : 0;
    default:
        return 0;
    }
}

static int on_header(nghttp2_session *ng, const nghttp2_frame *frame, const uint8_t *name, size_t nl,
                     const uint8_t *value, size_t vl, uint8_t flags, void *ud)
{
    (void)ng, (void)flags;
    h2server_conn_t *conn = ud;
    h2server_stream_t *s = stream_of(conn, frame->hd.stream_id);
    if (s == NULL || frame->hd.type != NGHTTP2_HEADERS || frame->headers.cat != NGHTTP2_HCAT_REQUEST || s->malformed)
        return 0; /* trailers of a request carry nothing gRPC uses */
    int kind = field_check(name, nl, value, vl);
    if (kind < 0 || (kind != 0 && (s->pseudo & (kind | PSEUDO_REGULAR)))) {
        s->malformed = 1; /* the block is decoded to its end (HPACK needs it), then the stream is reset */
        return 0;
    }
    s->pseudo |= kind ? kind : PSEUDO_REGULAR;
    if (s->oversize)
        return 0;
    s->hsize += nl + vl + 32;
    if (s->hsize > conn->ctx->cfg.max_header_list) {
        s->oversize = 1; /* the rest is decoded by nghttp2 (HPACK needs it) and dropped here */
        return 0;
    }
    if (hblock_add(&s->req, name, nl, value, vl) != 0)
        return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;
    return 0;
}

static void request_ready(h2server_conn_t *conn, h2server_stream_t *s, int end)
{
    h2server_ctx_t *ctx = conn->ctx;
    if (grow((void **)&s->hv, &s->hvcap, s->req.n ? s->req.n : 1, sizeof(*s->hv)) != 0) {
        nghttp2_submit_rst_stream(conn->io.ng, NGHTTP2_FLAG_NONE, s->id, NGHTTP2_INTERNAL_ERROR);
        return;
    }
    for (size_t i = 0; i < s->req.n; i++) {
        const hoff_t *o = &s->req.o[i];
        s->hv[i] = (h2server_header_t){s->req.b + o->no, o->nl, s->req.b + o->vo, o->vl};
    }
    s->requested = 1;
    s->req_ended = (uint8_t)end;
    s->data = ctx->h.on_request(conn->data, s, s->hv, s->req.n, s->oversize, end);
}

static int on_frame_recv(nghttp2_session *ng, const nghttp2_frame *frame, void *ud)
{
    (void)ng;
    h2server_conn_t *conn = ud;
    if (conn->closing)
        return 0;
    int end = (frame->hd.flags & NGHTTP2_FLAG_END_STREAM) != 0;
    h2server_stream_t *s;
    switch (frame->hd.type) {
    case NGHTTP2_HEADERS:
        if ((s = stream_of(conn, frame->hd.stream_id)) == NULL)
            break;
        if (frame->headers.cat == NGHTTP2_HCAT_REQUEST && !s->requested) {
            if (s->malformed || (s->pseudo & (PSEUDO_METHOD | PSEUDO_SCHEME | PSEUDO_PATH)) !=
                                    (PSEUDO_METHOD | PSEUDO_SCHEME | PSEUDO_PATH))
                nghttp2_submit_rst_stream(conn->io.ng, NGHTTP2_FLAG_NONE, s->id, NGHTTP2_PROTOCOL_ERROR);
            else
                request_ready(conn, s, end);
        }
        else if (end && s->requested && !s->req_ended) {
            s->req_ended = 1; /* request trailers: the body is over */
            if (!s->ended)
                conn->ctx->h.on_data(s->data, NULL, 0, 1);
        }
        break;
    case NGHTTP2_DATA:
        if (!end || (s = stream_of(conn, frame->hd.stream_id)) == NULL || !s->requested || s->req_ended)
            break;
        s->req_ended = 1;
        if (!s->ended)
            conn->ctx->h.on_data(s->data, NULL, 0, 1);
        break;
    case NGHTTP2_SETTINGS:
        if (!(frame->hd.flags & NGHTTP2_FLAG_ACK) && conn->state == CONN_HANDSHAKE) {
            conn->state = CONN_OPEN;
            h2o_timeout_unlink(&conn->handshake_entry);
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
    h2server_conn_t *conn = ud;
    /* the connection's window never waits for a stream: a slow one holds only its own */
    nghttp2_session_consume_connection(ng, len);
    h2server_stream_t *s = stream_of(conn, id);
    if (s == NULL || !s->requested || s->ended) {
        nghttp2_session_consume_stream(ng, id, len); /* nobody wants it: dropped */
        return 0;
    }
    conn->ctx->h.on_data(s->data, data, len, 0);
    return 0;
}

static int on_stream_close(nghttp2_session *ng, int32_t id, uint32_t err, void *ud)
{
    (void)ng;
    h2server_conn_t *conn = ud;
    h2server_stream_t *s = stream_of(conn, id);
    if (s == NULL)
        return 0;
    nghttp2_session_set_stream_user_data(ng, id, NULL);
    if (conn->last_id == id)
        conn->last_id = 0;
    stream_close(s, err);
    return 0;
}

/* Our response ended while the client is still sending: RFC 9113 asks
 * for RST_STREAM(NO_ERROR), so it stops (a client-streaming call answered
 * early, a request refused before its body). */
static int on_frame_send(nghttp2_session *ng, const nghttp2_frame *frame, void *ud)
{
    h2server_conn_t *conn = ud;
    if (conn->closing || !(frame->hd.flags & NGHTTP2_FLAG_END_STREAM) ||
        (frame->hd.type != NGHTTP2_HEADERS && frame->hd.type != NGHTTP2_DATA))
        return 0;
    if (nghttp2_session_get_stream_remote_close(ng, frame->hd.stream_id) == 0)
        nghttp2_submit_rst_stream(ng, NGHTTP2_FLAG_NONE, frame->hd.stream_id, NGHTTP2_NO_ERROR);
    return 0;
}

static int on_frame_not_send(nghttp2_session *ng, const nghttp2_frame *frame, int err, void *ud)
{
    (void)ng, (void)frame, (void)err, (void)ud;
    return 0; /* the stream is gone already: its on_stream_close says so */
}

static int on_error(nghttp2_session *ng, int code, const char *msg, size_t len, void *ud)
{
    (void)ng, (void)code;
    h2server_conn_t *conn = ud;
    if (conn->errmsg[0] == '\0')
        snprintf(conn->errmsg, sizeof(conn->errmsg), "%.*s", (int)(len > 120 ? 120 : len), msg);
    return 0;
}

/*
 * nghttp2 asks for response bytes as the client's windows admit: this is
 * where a slow reader holds the stream back. When the queue is out and the
 * end was asked for, trailers follow (or END_STREAM on this DATA).
 */
static ssize_t read_body(nghttp2_session *ng, int32_t id, uint8_t *buf, size_t length, uint32_t *flags,
                         nghttp2_data_source *src, void *ud)
{
    h2server_conn_t *conn = ud;
    h2server_ctx_t *ctx = conn->ctx;
    h2server_stream_t *s = src->ptr;
    size_t n = stream_queued(s);
    if (n > length)
        n = length;
    if (n != 0)
        memcpy(buf, s->q + s->qoff, n);
    s->qoff += n;
    conn->queued -= n;
    if (s->qoff == s->qlen)
        s->qoff = s->qlen = 0;
    if (s->qlen != 0)
        return (ssize_t)n;
    if (!s->ending) {
        if (n == 0) {
            s->deferred = 1;
            return NGHTTP2_ERR_DEFERRED;
        }
        return (ssize_t)n;
    }
    *flags |= NGHTTP2_DATA_FLAG_EOF;
    s->ended = 1;
    if (s->trailers.n != 0) {
        if (grow((void **)&ctx->nva, &ctx->nvacap, s->trailers.n, sizeof(*ctx->nva)) == 0) {
            for (size_t i = 0; i < s->trailers.n; i++) {
                const hoff_t *o = &s->trailers.o[i];
                ctx->nva[i] = (nghttp2_nv){(uint8_t *)s->trailers.b + o->no, (uint8_t *)s->trailers.b + o->vo, o->nl,
                                           o->vl, NGHTTP2_NV_FLAG_NONE};
            }
            if (nghttp2_submit_trailer(ng, id, ctx->nva, s->trailers.n) == 0)
                *flags |= NGHTTP2_DATA_FLAG_NO_END_STREAM;
        }
        /* without memory for the trailers the stream ends with this DATA: the client sees a missing status */
    }
    return (ssize_t)n;
}

/* ---- connections ------------------------------------------------------- */

static void conn_close(h2server_conn_t *conn)
{
    h2server_ctx_t *ctx = conn->ctx;
    if (conn->state == CONN_CLOSED)
        return;
    conn->state = CONN_CLOSED;
    conn->closing = 1;
    h2o_linklist_unlink(&conn->link);
    ctx->nconns--;
    if (h2o_linklist_is_linked(&conn->pending_link))
        h2o_linklist_unlink(&conn->pending_link);
    h2o_timeout_unlink(&conn->handshake_entry);
    while (!h2o_linklist_is_empty(&conn->streams))
        stream_close(H2O_STRUCT_FROM_MEMBER(h2server_stream_t, link, conn->streams.next), NGHTTP2_CANCEL);
    nghttp2_session_del(conn->io.ng);
    h2io_dispose(&conn->io);
    h2o_socket_close(conn->io.sock);
    void *data = conn->data;
    free(conn);
    if (ctx->h.on_conn_close != NULL)
        ctx->h.on_conn_close(data);
}

/* Streams that were full and are below half again hear so. */
static void notify_writable(h2server_conn_t *conn)
{
    h2server_ctx_t *ctx = conn->ctx;
    if (h2o_linklist_is_empty(&conn->full) || conn->queued >= ctx->cfg.conn_buffer / 2)
        return;
    h2o_linklist_t ready;
    h2o_linklist_init_anchor(&ready);
    h2o_linklist_t *node, *next;
    for (node = conn->full.next; node != &conn->full; node = next) {
        next = node->next;
        h2server_stream_t *s = H2O_STRUCT_FROM_MEMBER(h2server_stream_t, full_link, node);
        if (stream_queued(s) < ctx->cfg.stream_buffer / 2) {
            h2o_linklist_unlink(node);
            h2o_linklist_insert(&ready, node);
        }
    }
    /* each callback may queue more (and be full again), or end its stream */
    while (!h2o_linklist_is_empty(&ready)) {
        h2server_stream_t *s = H2O_STRUCT_FROM_MEMBER(h2server_stream_t, full_link, ready.next);
        h2o_linklist_unlink(&s->full_link);
        ctx->h.on_writable(s->data);
    }
}

static void on_written(h2o_socket_t *sock, const char *err);

/* Writes what the session has to say; closes the connection when it is finished. */
static void conn_flush(h2server_conn_t *conn)
{
    if (conn->state == CONN_CLOSED)
        return;
    if (h2o_linklist_is_linked(&conn->pending_link))
        h2o_linklist_unlink(&conn->pending_link);
    if (h2io_flush(&conn->io, on_written, conn->errmsg, sizeof(conn->errmsg)) != 0) {
        conn_close(conn);
        return;
    }
    notify_writable(conn);
    if (conn->state == CONN_CLOSED)
        return;
    if (!conn->io.writing && (conn->fatal || h2io_finished(&conn->io)))
        conn_close(conn);
}

static void on_written(h2o_socket_t *sock, const char *err)
{
    h2server_conn_t *conn = sock->data;
    h2io_written(&conn->io);
    if (err != NULL) {
        conn_close(conn);
        return;
    }
    conn_flush(conn);
}

static void on_read(h2o_socket_t *sock, const char *err)
{
    h2server_conn_t *conn = sock->data;
    if (err != NULL) {
        conn_close(conn); /* the client hung up: every stream is cancelled */
        return;
    }
    if (conn->fatal) {
        h2o_buffer_consume(&sock->input, sock->input->size);
        return;
    }
    ssize_t r = h2io_recv(&conn->io);
    if (r < 0) {
        /* a protocol error nghttp2 answers with GOAWAY (a flood, a bad
         * preface): that goes out, then the connection closes */
        if (conn->errmsg[0] == '\0')
            snprintf(conn->errmsg, sizeof(conn->errmsg), "%s", nghttp2_strerror((int)r));
        conn->fatal = 1;
        h2o_socket_read_stop(sock);
    }
    conn_flush(conn);
}

static void on_pump(h2o_timeout_entry_t *e)
{
    h2server_ctx_t *ctx = H2O_STRUCT_FROM_MEMBER(h2server_ctx_t, pump_entry, e);
    while (!h2o_linklist_is_empty(&ctx->pending))
        conn_flush(H2O_STRUCT_FROM_MEMBER(h2server_conn_t, pending_link, ctx->pending.next));
}

static void on_handshake_timeout(h2o_timeout_entry_t *e)
{
    conn_close(H2O_STRUCT_FROM_MEMBER(h2server_conn_t, handshake_entry, e));
}

static void conn_goaway(h2server_conn_t *conn, int final)
{
    nghttp2_session *ng = conn->io.ng;
    if (final)
        nghttp2_submit_goaway(ng, NGHTTP2_FLAG_NONE, nghttp2_session_get_last_proc_stream_id(ng), NGHTTP2_NO_ERROR,
                              NULL, 0);
    else
        nghttp2_submit_shutdown_notice(ng);
    schedule(conn);
}

h2server_conn_t *h2server_accept(h2server_ctx_t *ctx, h2o_socket_t *sock, void *conn_data)
{
    h2server_conn_t *conn = calloc(1, sizeof(*conn));
    if (conn == NULL) {
        h2o_socket_close(sock);
        return NULL;
    }
    conn->ctx = ctx;
    conn->data = conn_data;
    conn->state = CONN_HANDSHAKE;
    conn->io.sock = sock;
    h2o_linklist_init_anchor(&conn->streams);
    h2o_linklist_init_anchor(&conn->full);
    conn->handshake_entry.cb = on_handshake_timeout;
    const h2server_config_t *cfg = &ctx->cfg;
    nghttp2_settings_entry settings[] = {
        {NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS, cfg->max_concurrent_streams},
        {NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE, cfg->stream_window},
        {NGHTTP2_SETTINGS_MAX_HEADER_LIST_SIZE, cfg->max_header_list},
        /* no RFC 7540 dependency tree to keep per stream: gRPC never uses it */
        {NGHTTP2_SETTINGS_NO_RFC7540_PRIORITIES, 1},
    };
    if (nghttp2_session_server_new3(&conn->io.ng, ctx->cbs, conn, ctx->opt, &ctx->mem) != 0) {
        free(conn);
        h2o_socket_close(sock);
        return NULL;
    }
    if (nghttp2_submit_settings(conn->io.ng, NGHTTP2_FLAG_NONE, settings, sizeof(settings) / sizeof(settings[0])) != 0 ||
        nghttp2_session_set_local_window_size(conn->io.ng, NGHTTP2_FLAG_NONE, 0, (int32_t)cfg->conn_window) != 0) {
        nghttp2_session_del(conn->io.ng);
        free(conn);
        h2o_socket_close(sock);
        return NULL;
    }
    h2o_linklist_insert(&ctx->conns, &conn->link);
    ctx->nconns++;
    sock->data = conn;
    h2o_timeout_link(ctx->loop, &ctx->handshake_timeout, &conn->handshake_entry);
    if (ctx->shutdown)
        conn_goaway(conn, ctx->shutdown == 2);
    h2o_socket_read_start(sock, on_read);
    conn_flush(conn);
    return conn;
}

void h2server_shutdown(h2server_ctx_t *ctx, int final)
{
    if (ctx->shutdown >= (final ? 2 : 1))
        return;
    ctx->shutdown = final ? 2 : 1;
    h2o_linklist_t *node;
    for (node = ctx->conns.next; node != &ctx->conns; node = node->next)
        conn_goaway(H2O_STRUCT_FROM_MEMBER(h2server_conn_t, link, node), final);
}

size_t h2server_conn_count(const h2server_ctx_t *ctx)
{
    return ctx->nconns;
}

/* ---- the context ------------------------------------------------------- */

h2server_ctx_t *h2server_ctx_new(h2o_loop_t *loop, const h2server_config_t *cfg, const h2server_handlers_t *h)
{
    h2server_ctx_t *ctx = calloc(1, sizeof(*ctx));
    if (ctx == NULL)
        return NULL;
    ctx->loop = loop;
    ctx->cfg = *cfg;
    ctx->h = *h;
    h2server_config_t *c = &ctx->cfg;
    if (c->max_concurrent_streams == 0)
        c->max_concurrent_streams = 100;
    if (c->max_header_list == 0)
        c->max_header_list = 16u << 10;
    if (c->stream_window == 0)
        c->stream_window = 256u << 10;
    if (c->conn_window == 0)
        c->conn_window = 16u << 20;
    if (c->stream_buffer == 0)
        c->stream_buffer = 256u << 10;
    if (c->conn_buffer == 0)
        c->conn_buffer = 4u << 20;
    if (c->handshake_timeout_ms == 0)
        c->handshake_timeout_ms = 10000;
    h2o_linklist_init_anchor(&ctx->conns);
    h2o_linklist_init_anchor(&ctx->pending);
    h2o_timeout_init(loop, &ctx->pump_timeout, 0);
    h2o_timeout_init(loop, &ctx->handshake_timeout, c->handshake_timeout_ms);
    ctx->pump_entry.cb = on_pump;
    block_cache_init(&ctx->blocks, 1024);
    ctx->mem = (nghttp2_mem){ctx, ng_malloc, ng_free, ng_calloc, ng_realloc};
    if (nghttp2_session_callbacks_new(&ctx->cbs) != 0 || nghttp2_option_new(&ctx->opt) != 0) {
        h2server_ctx_free(ctx);
        return NULL;
    }
    nghttp2_session_callbacks *cbs = ctx->cbs;
    nghttp2_session_callbacks_set_on_begin_headers_callback(cbs, on_begin_headers);
    nghttp2_session_callbacks_set_on_header_callback(cbs, on_header);
    nghttp2_session_callbacks_set_on_frame_recv_callback(cbs, on_frame_recv);
    nghttp2_session_callbacks_set_on_data_chunk_recv_callback(cbs, on_data_chunk);
    nghttp2_session_callbacks_set_on_stream_close_callback(cbs, on_stream_close);
    nghttp2_session_callbacks_set_on_frame_send_callback(cbs, on_frame_send);
    nghttp2_session_callbacks_set_on_frame_not_send_callback(cbs, on_frame_not_send);
    nghttp2_session_callbacks_set_error_callback2(cbs, on_error);
    /* stream windows go back as the bytes go on (h2server_consume) */
    nghttp2_option_set_no_auto_window_update(ctx->opt, 1);
    nghttp2_option_set_no_closed_streams(ctx->opt, 1);
    /* RFC 9113's checks of a request are on_header's (field_check): nghttp2's
     * HTTP messaging layer looks every field up by name and validates it
     * again, about 2,500 instructions of a relayed call's 36,000 */
    nghttp2_option_set_no_http_messaging(ctx->opt, 1);
    if (c->reset_burst != 0)
        nghttp2_option_set_stream_reset_rate_limit(ctx->opt, c->reset_burst, c->reset_rate);
    return ctx;
}

void h2server_ctx_free(h2server_ctx_t *ctx)
{
    if (ctx == NULL)
        return;
    while (!h2o_linklist_is_empty(&ctx->conns))
        conn_close(H2O_STRUCT_FROM_MEMBER(h2server_conn_t, link, ctx->conns.next));
    while (ctx->free_streams != NULL) {
        h2server_stream_t *s = ctx->free_streams;
        ctx->free_streams = s->next_free;
        stream_free_buffers(s);
        free(s);
    }
    if (h2o_timeout_is_linked(&ctx->pump_entry))
        h2o_timeout_unlink(&ctx->pump_entry);
    h2o_timeout_dispose(ctx->loop, &ctx->pump_timeout);
    h2o_timeout_dispose(ctx->loop, &ctx->handshake_timeout);
    if (ctx->cbs != NULL)
        nghttp2_session_callbacks_del(ctx->cbs);
    nghttp2_option_del(ctx->opt);
    free(ctx->nva);
    block_cache_dispose(&ctx->blocks);
    free(ctx);
}

/* ---- the stream API ---------------------------------------------------- */

void h2server_stream_set_data(h2server_stream_t *s, void *data)
{
    s->data = data;
}

int32_t h2server_stream_id(const h2server_stream_t *s)
{
    return s->id;
}

int h2server_respond(h2server_stream_t *s, int status, const h2server_header_t *h, size_t n, int end)
{
    h2server_conn_t *conn = s->conn;
    h2server_ctx_t *ctx = conn->ctx;
    if (s->responded || s->ended || status < 100 || status > 999)
        return -1;
    if (grow((void **)&ctx->nva, &ctx->nvacap, n + 1, sizeof(*ctx->nva)) != 0)
        return -1;
    char st[4] = {(char)('0' + status / 100), (char)('0' + status / 10 % 10), (char)('0' + status % 10), 0};
    ctx->nva[0] = (nghttp2_nv){(uint8_t *)":status", (uint8_t *)st, 7, 3, NGHTTP2_NV_FLAG_NO_COPY_NAME};
    for (size_t i = 0; i < n; i++)
        ctx->nva[i + 1] = (nghttp2_nv){(uint8_t *)h[i].name, (uint8_t *)h[i].value, h[i].name_len, h[i].value_len,
                                       NGHTTP2_NV_FLAG_NONE};
    nghttp2_data_provider dp = {.source.ptr = s, .read_callback = read_body};
    if (nghttp2_submit_response(conn->io.ng, s->id, ctx->nva, n + 1, end ? NULL : &dp) != 0)
        return -1;
    s->responded = 1;
    if (end)
        s->ended = 1;
    schedule(conn);
    return 0;
}

static void resume(h2server_stream_t *s)
{
    if (s->deferred) {
        s->deferred = 0;
        nghttp2_session_resume_data(s->conn->io.ng, s->id);
    }
    schedule(s->conn);
}

int h2server_send2(h2server_stream_t *s, const void *a, size_t alen, const void *b, size_t blen)
{
    size_t n = alen + blen;
    if (!s->responded || s->ending || s->ended)
        return -1;
    if (n == 0)
        return 0;
    if (s->qoff != 0 && s->qcap - s->qlen < n) {
        memmove(s->q, s->q + s->qoff, s->qlen - s->qoff);
        s->qlen -= s->qoff;
        s->qoff = 0;
    }
    if (grow((void **)&s->q, &s->qcap, s->qlen + n, 1) != 0)
        return -1;
    if (alen)
        memcpy(s->q + s->qlen, a, alen);
    if (blen)
        memcpy(s->q + s->qlen + alen, b, blen);
    s->qlen += n;
    s->conn->queued += n;
    resume(s);
    return 0;
}

int h2server_send(h2server_stream_t *s, const void *p, size_t n)
{
    return h2server_send2(s, p, n, NULL, 0);
}

int h2server_end(h2server_stream_t *s, const h2server_header_t *trailers, size_t n)
{
    if (!s->responded || s->ending || s->ended)
        return -1;
    s->trailers.len = s->trailers.n = 0;
    for (size_t i = 0; i < n; i++)
        if (hblock_add(&s->trailers, trailers[i].name, trailers[i].name_len, trailers[i].value,
                       trailers[i].value_len) != 0)
            return -1;
    s->ending = 1;
    resume(s);
    return 0;
}

void h2server_consume(h2server_stream_t *s, size_t n)
{
    if (n == 0)
        return;
    nghttp2_session_consume_stream(s->conn->io.ng, s->id, n);
    schedule(s->conn);
}

void h2server_reset(h2server_stream_t *s, uint32_t err)
{
    if (s->conn->state == CONN_CLOSED)
        return;
    s->ended = 1;
    nghttp2_submit_rst_stream(s->conn->io.ng, NGHTTP2_FLAG_NONE, s->id, err);
    schedule(s->conn);
}

int h2server_full(h2server_stream_t *s)
{
    h2server_conn_t *conn = s->conn;
    const h2server_config_t *cfg = &conn->ctx->cfg;
    if (stream_queued(s) < cfg->stream_buffer && conn->queued < cfg->conn_buffer)
        return 0;
    if (!h2o_linklist_is_linked(&s->full_link))
        h2o_linklist_insert(&conn->full, &s->full_link);
    return 1;
}

size_t h2server_queued(const h2server_stream_t *s)
{
    return stream_queued(s);
}
