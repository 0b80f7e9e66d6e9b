/*
 * http1_uring.c: HTTP/1.1 connections served through io_uring.
 *
 * One ring per worker. Its fd sits in the worker's h2o loop (readable when
 * completions wait), so one thread serves both: completions are reaped in
 * that socket's callback, connections with something to do are handled in
 * a zero-interval h2o timeout (after every socket callback of the
 * iteration, as the upstream's pump is), and the worker submits every
 * queued operation once, after the iteration (http1_uring_flush). No
 * epoll_ctl, read or write per request: a keep-alive request costs one
 * multishot-receive completion and one send.
 *
 * The protocol follows h2o 2.2's lib/http1.c (MIT; same request setup,
 * persistence rules, response header layout) so that a client cannot tell
 * the two front ends apart, with these differences: a 413 or a 400 leaves
 * as the contract's error JSON, and a connection that closes after a
 * response lingers (shutdown, drain the input) so that the response is
 * not lost to a reset.
 *
 * Connection life:
 *   HEAD (reading a request line and headers; idle timeout running)
 *   -> BODY_CL | BODY_CHUNKED (reading the body, same timeout)
 *   -> handling (h2o owns c->req; its strings point into c->in, so bytes
 *      that arrive meanwhile go to c->spill, and reading pauses when that
 *      grows past U_SPILL_MAX)
 *   -> response written into c->out[fill], sent when nothing is in flight;
 *      the request is disposed (metrics, access log) once its last byte
 *      is sent -> next request from what is buffered, or close.
 * Responses therefore leave in request order, one request at a time per
 * connection, as h2o does. Memory is freed only when no operation of the
 * connection is left in the kernel. Besides h2o's differences above: a
 * send that makes no progress for h2o's request timeout closes the
 * connection (h2o 2.2 waits forever for such a reader).
 *
 * The drain follows worker.c's steps (http1_uring_drain, _close_listeners,
 * _close_idle); each connection counts in the worker's connection gauge
 * (metrics_connections_add) until its memory is freed, or, handed to h2o,
 * until h2o closes its socket, so the drain waits for all of them.
 */
#include "front/http1_uring.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "core/arena.h"
#include "core/buf.h"
#include "core/decimal.h"
#include "core/status.h"
#include "server/metrics.h"
#include "server/worker.h"

#ifdef AG_HAVE_LIBURING

#include <liburing.h>

/* picohttpparser, as built into libh2o (no header is installed) */
struct phr_header {
    const char *name;
    size_t name_len;
    const char *value;
    size_t value_len;
};
struct phr_chunked_decoder {
    size_t bytes_left_in_chunk;
    char consume_trailer;
    char _hex_count;
    char _state;
};
int phr_parse_request(const char *buf, size_t len, const char **method, size_t *method_len, const char **path,
                      size_t *path_len, int *minor_version, struct phr_header *headers, size_t *num_headers,
                      size_t last_len);
ssize_t phr_decode_chunked(struct phr_chunked_decoder *decoder, char *buf, size_t *bufsz);

#define U_SQ_ENTRIES 1024
#define U_CQ_ENTRIES 16384
#define U_BUF_SIZE 4096          /* one provided receive buffer */
#define U_NBUFS 1024             /* provided buffers per worker (power of two) */
#define U_BGID 1
#define U_BLOCK 8192             /* the usual size of a connection's in/out buffer */
#define U_MAX_FREE_BLOCKS 512
#define U_SPILL_MAX (256 * 1024) /* bytes read ahead of a request in progress before reading pauses */

enum { OP_ACCEPT = 1, OP_RECV = 2, OP_SEND = 3 }; /* low bits of user_data; 0: ignore (cancels) */
enum { S_HEAD, S_BODY_CL, S_BODY_CHUNKED, S_REJECTED };

typedef struct u_bytes {
    char *data;
    size_t len, cap;
} u_bytes_t;

typedef struct u_listener {
    http1_uring_t *u;
    int fd;
    int armed;
    int closing;
    int pad;
} u_listener_t;

typedef struct u_conn u_conn_t;
struct u_conn {
    h2o_conn_t super;
    http1_uring_t *u;
    u_conn_t *prev, *next;   /* every open connection */
    u_conn_t *dirty_next;
    int fd;
    int state;
    unsigned dirty : 1, recv_armed : 1, send_armed : 1, closing : 1, handling : 1, peer_eof : 1, recv_paused : 1,
        resp_done : 1, proceed_pending : 1, sent_headers : 1, handoff : 1, cancel_sent : 1, lingering : 1,
        close_after_send : 1, handed_off : 1;
    u_bytes_t in, spill;
    u_bytes_t out[2];
    int fill;                /* out[fill] takes output; out[!fill] is on the wire while send_armed */
    size_t wire_off;
    size_t prev_parse;       /* phr_parse_request's last_len */
    size_t head_len;         /* request line and headers */
    size_t body_need;        /* S_BODY_CL: head_len + content length */
    size_t body_len;         /* S_BODY_CHUNKED: decoded so far */
    size_t req_len;          /* bytes of `in` the request in progress spans */
    struct phr_chunked_decoder dec;
    h2o_timeout_entry_t timeout;
    h2o_ostream_t ostr;
    h2o_req_t req;           /* last: large, and h2o_init_request zeroes it */
};

struct http1_uring {
    worker_t *w;
    struct io_uring ring;
    int ring_ok;
    struct io_uring_buf_ring *br;
    char *bufs;
    h2o_socket_t *ring_sock;
    u_listener_t *listeners;
    size_t nlisten;
    u_conn_t *conns;
    u_conn_t *dirty;
    h2o_timeout_entry_t work_entry;   /* zero timeout: dirty connections */
    h2o_timeout_entry_t accept_retry; /* 100 ms after accept ran out of fds */
    void *free_blocks;
    size_t nfree_blocks;
    size_t nclosing;                  /* closed, waiting for the kernel to let go */
    int draining;
    int freeing;                      /* http1_uring_free: completions are reaped by hand */
};

static void conn_close(u_conn_t *c);
static void process_input(u_conn_t *c);

/* The worker's drain starts at its next tick; the shared flag is set at
 * once (SIGTERM, POST /admin/drain): a response in between says close too. */
static int draining(const http1_uring_t *u)
{
    return u->draining || atomic_load_explicit(&u->w->shared->draining, memory_order_relaxed);
}

/* ---- buffers ------------------------------------------------------------- */

static void bytes_release(http1_uring_t *u, u_bytes_t *b)
{
    if (b->data == NULL)
        return;
    if (b->cap == U_BLOCK && u->nfree_blocks < U_MAX_FREE_BLOCKS) {
        *(void **)b->data = u->free_blocks;
        u->free_blocks = b->data;
        u->nfree_blocks++;
    } else {
        free(b->data);
    }
    *b = (u_bytes_t){0};
}

/* Room for n more bytes; the data may move. */
static int bytes_reserve(http1_uring_t *u, u_bytes_t *b, size_t n)
{
    if (b->cap - b->len >= n)
        return 0;
    size_t need = b->len + n;
    char *p;
    size_t cap;
    if (b->data == NULL && need <= U_BLOCK && u->free_blocks) {
        p = u->free_blocks;
        u->free_blocks = *(void **)p;
        u->nfree_blocks--;
        cap = U_BLOCK;
    } else {
        cap = b->cap ? b->cap * 2 : U_BLOCK;
        while (cap < need)
            cap *= 2;
        if ((p = malloc(cap)) == NULL)
            return -1;
        if (b->len)
            memcpy(p, b->data, b->len);
        u_bytes_t old = *b;
        old.len = 0;
        bytes_release(u, &old);
    }
    b->data = p;
    b->cap = cap;
    return 0;
}

static int bytes_append(http1_uring_t *u, u_bytes_t *b, const void *data, size_t n)
{
    if (bytes_reserve(u, b, n) != 0)
        return -1;
    memcpy(b->data + b->len, data, n);
    b->len += n;
    return 0;
}

/* ---- the ring ------------------------------------------------------------ */

static struct io_uring_sqe *get_sqe(http1_uring_t *u)
{
    struct io_uring_sqe *sqe = io_uring_get_sqe(&u->ring);
    if (sqe == NULL) {
        io_uring_submit(&u->ring); /* the queue is full: this batch goes now */
        sqe = io_uring_get_sqe(&u->ring);
    }
    return sqe;
}

static void arm_accept(u_listener_t *l)
{
    struct io_uring_sqe *sqe = get_sqe(l->u);
    if (sqe == NULL)
        return;
    io_uring_prep_multishot_accept(sqe, l->fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
    sqe->user_data = (uint64_t)(uintptr_t)l | OP_ACCEPT;
    l->armed = 1;
}

static void arm_recv(u_conn_t *c)
{
    struct io_uring_sqe *sqe = get_sqe(c->u);
    if (sqe == NULL) {
        conn_close(c);
        return;
    }
    io_uring_prep_recv_multishot(sqe, c->fd, NULL, 0, 0);
    sqe->flags |= IOSQE_BUFFER_SELECT;
    sqe->buf_group = U_BGID;
    sqe->user_data = (uint64_t)(uintptr_t)c | OP_RECV;
    c->recv_armed = 1;
    c->cancel_sent = 0;
}

static void cancel_recv(u_conn_t *c)
{
    if (!c->recv_armed || c->cancel_sent)
        return;
    struct io_uring_sqe *sqe = get_sqe(c->u);
    if (sqe == NULL)
        return;
    io_uring_prep_cancel64(sqe, (uint64_t)(uintptr_t)c | OP_RECV, 0);
    sqe->user_data = 0;
    c->cancel_sent = 1;
}

static void return_buffer(http1_uring_t *u, unsigned bid)
{
    io_uring_buf_ring_add(u->br, u->bufs + (size_t)bid * U_BUF_SIZE, U_BUF_SIZE, (unsigned short)bid,
                          io_uring_buf_ring_mask(U_NBUFS), 0);
    io_uring_buf_ring_advance(u->br, 1);
}

static void on_work(h2o_timeout_entry_t *e);

static void mark_dirty(u_conn_t *c)
{
    http1_uring_t *u = c->u;
    if (!c->dirty) {
        c->dirty = 1;
        c->dirty_next = u->dirty;
        u->dirty = c;
    }
    if (!u->freeing && !h2o_timeout_is_linked(&u->work_entry))
        h2o_timeout_link(u->w->h2o.loop, &u->w->h2o.zero_timeout, &u->work_entry);
}

/* ---- connections ----------------------------------------------------------- */

static socklen_t get_sockname(h2o_conn_t *conn, struct sockaddr *sa)
{
    socklen_t len = sizeof(struct sockaddr_storage);
    return getsockname(((u_conn_t *)conn)->fd, sa, &len) == 0 ? len : 0;
}

static socklen_t get_peername(h2o_conn_t *conn, struct sockaddr *sa)
{
    socklen_t len = sizeof(struct sockaddr_storage);
    return getpeername(((u_conn_t *)conn)->fd, sa, &len) == 0 ? len : 0;
}

static h2o_socket_t *get_socket(h2o_conn_t *conn)
{
    (void)conn;
    return NULL;
}

static const h2o_conn_callbacks_t conn_callbacks = {
    .get_sockname = get_sockname,
    .get_peername = get_peername,
    .get_socket = get_socket,
};

static void ostream_send(h2o_ostream_t *ostr, h2o_req_t *req, h2o_iovec_t *bufs, size_t n, h2o_send_state_t state);

static void init_req(u_conn_t *c)
{
    h2o_init_request(&c->req, &c->super, NULL);
    c->ostr = (h2o_ostream_t){.do_send = ostream_send};
    c->req._ostr_top = &c->ostr;
    c->sent_headers = 0;
    c->resp_done = 0;
    c->proceed_pending = 0;
}

static void on_timeout(h2o_timeout_entry_t *e)
{
    u_conn_t *c = H2O_STRUCT_FROM_MEMBER(u_conn_t, timeout, e);
    conn_close(c);
}

static void set_timeout(u_conn_t *c, int on)
{
    if (h2o_timeout_is_linked(&c->timeout))
        h2o_timeout_unlink(&c->timeout);
    if (on)
        h2o_timeout_link(c->u->w->h2o.loop, &c->u->w->h2o.http1.req_timeout, &c->timeout);
}

static void conn_new(http1_uring_t *u, int fd)
{
    h2o_context_t *ctx = &u->w->h2o;
    u_conn_t *c = (u_conn_t *)h2o_create_connection(sizeof(*c), ctx, u->w->accept.hosts,
                                                    *h2o_get_timestamp(ctx, NULL, NULL), &conn_callbacks);
    memset((char *)c + sizeof(c->super), 0, offsetof(u_conn_t, req) - sizeof(c->super));
    c->u = u;
    c->fd = fd;
    c->timeout.cb = on_timeout;
    c->next = u->conns;
    if (u->conns)
        u->conns->prev = c;
    u->conns = c;
    init_req(c);
    arm_recv(c);
    set_timeout(c, 1);
    metrics_connections_add(u->w->metrics, 1); /* the drain waits for this to reach 0 */
}

/* Frees the connection once nothing of it is left in the kernel. */
static void maybe_free(u_conn_t *c)
{
    if (!c->closing || c->recv_armed || c->send_armed || c->dirty)
        return;
    http1_uring_t *u = c->u;
    u->nclosing--;
    if (!c->handed_off)
        metrics_connections_add(u->w->metrics, -1);
    if (c->fd >= 0)
        close(c->fd);
    bytes_release(u, &c->in);
    bytes_release(u, &c->spill);
    bytes_release(u, &c->out[0]);
    bytes_release(u, &c->out[1]);
    free(c);
}

static void conn_close(u_conn_t *c)
{
    if (c->closing)
        return;
    http1_uring_t *u = c->u;
    c->closing = 1;
    u->nclosing++;
    set_timeout(c, 0);
    /* runs the api's dispose hook: metrics, access log, cancelling an upstream call still running */
    h2o_dispose_request(&c->req);
    if (c->prev)
        c->prev->next = c->next;
    else
        u->conns = c->next;
    if (c->next)
        c->next->prev = c->prev;
    if ((c->recv_armed || c->send_armed) && c->fd >= 0) {
        struct io_uring_sqe *sqe = get_sqe(u);
        if (sqe != NULL) {
            io_uring_prep_cancel_fd(sqe, c->fd, IORING_ASYNC_CANCEL_ALL);
            sqe->user_data = 0;
        }
    }
    mark_dirty(c);
}

/* A response that ends the connection: after it is sent, stop writing and
 * read until the client closes (or the timeout), so that its unread input
 * does not turn our close into a reset that eats the response. */
static void linger(u_conn_t *c)
{
    if (c->peer_eof || !c->recv_armed) {
        conn_close(c);
        return;
    }
    shutdown(c->fd, SHUT_WR);
    c->lingering = 1;
    c->in.len = 0;
    c->spill.len = 0;
    set_timeout(c, 1);
}

/* A response of our own, before h2o has a request: then close. */
static void reject(u_conn_t *c, const char *response, size_t len)
{
    c->state = S_REJECTED;
    set_timeout(c, 0);
    bytes_append(c->u, &c->out[c->fill], response, len);
    c->close_after_send = 1;
    mark_dirty(c);
}

static void reject_json(u_conn_t *c, const char *status_line, int code, const char *why)
{
    char body[256], resp[512];
    int bl = snprintf(body, sizeof(body), "{\"code\":%d,\"message\":\"%s\",\"details\":[]}", code, why);
    int rl = snprintf(resp, sizeof(resp),
                      "HTTP/1.1 %s\r\nContent-Type: application/json\r\nConnection: close\r\n"
                      "Content-Length: %d\r\n\r\n%s",
                      status_line, bl, body);
    reject(c, resp, (size_t)rl);
}

static void bad_request(u_conn_t *c, const char *why)
{
    reject_json(c, "400 Bad Request", GRPC_INVALID_ARGUMENT, why);
}

/* ---- h2o hand-off (HTTP/2 prior knowledge, Upgrade: h2c) ------------------ */

static void on_handed_off_close(void *data)
{
    worker_t *w = data;
    metrics_connections_add(w->metrics, -1);
}

static void handoff(u_conn_t *c)
{
    c->handoff = 1;
    if (c->recv_armed) {
        cancel_recv(c); /* the rest happens when the receive has ended */
        return;
    }
    if (c->send_armed || c->out[c->fill].len)
        return;
    worker_t *w = c->u->w;
    int fd = c->fd;
    h2o_socket_t *sock = h2o_evloop_socket_create(w->h2o.loop, fd, 0);
    if (c->in.len) {
        h2o_iovec_t room = h2o_buffer_reserve(&sock->input, c->in.len);
        memcpy(room.base, c->in.data, c->in.len);
        sock->input->size += c->in.len;
    }
    c->fd = -1; /* the socket owns it */
    c->handed_off = 1;
    conn_close(c);
    /* the connection stays counted until h2o closes it */
    sock->on_close.cb = on_handed_off_close;
    sock->on_close.data = w;
    h2o_accept(&w->accept, sock);
}

/* ---- requests --------------------------------------------------------------- */

static int has_token(const char *v, size_t len, const char *tok, size_t toklen)
{
    return h2o_contains_token(v, len, tok, toklen, ',');
}

/* The request is whole in c->in: hand it to h2o. */
typedef struct parsed {
    const char *m, *p;
    size_t ml, pl;
    int minor;
    size_t nh;
    struct phr_header *hs;
} parsed_t;

/* The request is whole in c->in: hand it to h2o. pr: the parse of c->in
 * as it stands, or NULL when the buffer has moved since (parsed again). */
static void dispatch(u_conn_t *c, const parsed_t *pr, const char *body, size_t body_len, int has_body, size_t req_len)
{
    h2o_req_t *req = &c->req;
    struct phr_header again[H2O_MAX_HEADERS];
    parsed_t fresh = {.hs = again, .nh = H2O_MAX_HEADERS};
    if (pr == NULL) {
        if (phr_parse_request(c->in.data, c->head_len, &fresh.m, &fresh.ml, &fresh.p, &fresh.pl, &fresh.minor,
                              again, &fresh.nh, 0) != (int)c->head_len) {
            bad_request(c, "malformed request");
            return;
        }
        pr = &fresh;
    }
    const struct phr_header *hs = pr->hs;
    size_t nh = pr->nh;
    req->input.method = h2o_iovec_init(pr->m, pr->ml);
    req->input.path = h2o_iovec_init(pr->p, pr->pl);
    req->input.scheme = &H2O_URL_SCHEME_HTTP;
    req->version = 0x100 | (pr->minor != 0);
    h2o_iovec_t connection = {NULL, 0};
    if (nh)
        h2o_vector_reserve(&req->pool, &req->headers, nh);
    for (size_t i = 0; i < nh; i++) {
        h2o_strtolower((char *)hs[i].name, hs[i].name_len);
        const h2o_token_t *t = h2o_lookup_token(hs[i].name, hs[i].name_len);
        if (t == NULL) {
            h2o_add_header_by_str(&req->pool, &req->headers, hs[i].name, hs[i].name_len, 0, NULL, hs[i].value,
                                  hs[i].value_len);
        } else if (t->is_init_header_special) {
            if (t == H2O_TOKEN_HOST)
                req->input.authority = h2o_iovec_init(hs[i].value, hs[i].value_len);
            /* content-length, transfer-encoding, expect, upgrade: consumed here */
        } else {
            h2o_add_header(&req->pool, &req->headers, t, NULL, hs[i].value, hs[i].value_len);
            if (t == H2O_TOKEN_CONNECTION)
                connection = h2o_iovec_init(hs[i].value, hs[i].value_len);
        }
    }
    if (req->version >= 0x101)
        req->http1_is_persistent = connection.base == NULL || !has_token(connection.base, connection.len, H2O_STRLIT("close"));
    else
        req->http1_is_persistent = connection.base != NULL &&
                                   has_token(connection.base, connection.len, H2O_STRLIT("keep-alive"));
    if (c->super.ctx->shutdown_requested || draining(c->u))
        req->http1_is_persistent = 0;
    if (has_body)
        req->entity = h2o_iovec_init(body, body_len);
    req->timestamps.request_begin_at = *h2o_get_timestamp(c->super.ctx, NULL, NULL);
    c->req_len = req_len;
    c->handling = 1;
    c->state = S_HEAD;
    set_timeout(c, 0);
    h2o_process_request(req);
}

/* Over max_request_entity_size: the contract's 413, then close. */
static void too_large(u_conn_t *c, size_t have)
{
    size_t limit = c->super.ctx->globalconf->max_request_entity_size;
    char msg[120], first[512], resp[600];
    snprintf(msg, sizeof(msg), "body of %s%zu bytes is over the limit of %zu", have ? "at least " : "", have, limit);
    arena_t a;
    arena_init_with(&a, first, sizeof(first));
    buf_t b;
    buf_init(&b, &a, 256);
    status_render_json(&b, GRPC_RESOURCE_EXHAUSTED, msg, strlen(msg), NULL, 0,
                       worker_of(c->super.ctx)->shared->error_field);
    int rl = snprintf(resp, sizeof(resp),
                      "HTTP/1.1 413 Payload Too Large\r\nContent-Type: application/json\r\nConnection: close\r\n"
                      "Content-Length: %zu\r\n\r\n%.*s",
                      b.len, (int)b.len, b.data);
    arena_free(&a);
    reject(c, resp, (size_t)rl);
}

static int crlf_only(const char *s, size_t len)
{
    for (; len; s++, len--)
        if (*s != '\r' && *s != '\n')
            return 0;
    return 1;
}

/* Request line and headers are complete (n bytes): decide how the body comes. */
static void on_head(u_conn_t *c, int n, const parsed_t *pr)
{
    const struct phr_header *hs = pr->hs;
    size_t nh = pr->nh;
    const h2o_globalconf_t *g = c->super.ctx->globalconf;
    ssize_t cl = -1, te = -1, expect = -1;
    int upgrade_h2c = 0, conn_upgrade = 0;
    for (size_t i = 0; i < nh; i++) {
        const struct phr_header *h = &hs[i];
        switch (h->name_len) {
        case 14:
            if (cl < 0 && h2o_lcstris(h->name, 14, H2O_STRLIT("content-length")))
                cl = (ssize_t)i;
            break;
        case 17:
            if (h2o_lcstris(h->name, 17, H2O_STRLIT("transfer-encoding")))
                te = (ssize_t)i;
            break;
        case 7:
            if (h2o_lcstris(h->name, 7, H2O_STRLIT("upgrade")) && h->value_len >= 3 &&
                h2o_lcstris(h->value, 3, H2O_STRLIT("h2c")))
                upgrade_h2c = 1;
            break;
        case 10:
            if (h2o_lcstris(h->name, 10, H2O_STRLIT("connection")) &&
                has_token(h->value, h->value_len, H2O_STRLIT("upgrade")))
                conn_upgrade = 1;
            break;
        case 6:
            if (h2o_lcstris(h->name, 6, H2O_STRLIT("expect")))
                expect = (ssize_t)i;
            break;
        }
    }
    if (upgrade_h2c && conn_upgrade && g->http1.upgrade_to_http2) {
        handoff(c); /* h2o reads the request again and switches protocols */
        return;
    }
    c->head_len = (size_t)n;
    if (te >= 0) {
        if (!h2o_lcstris(hs[te].value, hs[te].value_len, H2O_STRLIT("chunked"))) {
            bad_request(c, "unknown transfer-encoding");
            return;
        }
        memset(&c->dec, 0, sizeof(c->dec));
        c->dec.consume_trailer = 1;
        c->body_len = 0;
        c->state = S_BODY_CHUNKED;
    } else if (cl >= 0) {
        size_t len = h2o_strtosize(hs[cl].value, hs[cl].value_len);
        if (len == SIZE_MAX) {
            bad_request(c, "broken content-length header");
            return;
        }
        if (len > g->max_request_entity_size) {
            too_large(c, len);
            return;
        }
        c->body_need = (size_t)n + len;
        c->state = S_BODY_CL;
    } else {
        dispatch(c, pr, NULL, 0, 0, (size_t)n);
        return;
    }
    if (c->state == S_BODY_CL && c->in.len >= c->body_need && expect < 0) {
        dispatch(c, pr, c->in.data + n, c->body_need - (size_t)n, 1, c->body_need); /* all here: no second parse */
        return;
    }
    if (expect >= 0) {
        if (!h2o_lcstris(hs[expect].value, hs[expect].value_len, H2O_STRLIT("100-continue"))) {
            reject_json(c, "417 Expectation Failed", GRPC_INVALID_ARGUMENT, "unknown expectation");
            return;
        }
        if ((c->state == S_BODY_CL && c->in.len < c->body_need) || c->state == S_BODY_CHUNKED) {
            static const char r100[] = "HTTP/1.1 100 Continue\r\n\r\n";
            bytes_append(c->u, &c->out[c->fill], r100, sizeof(r100) - 1);
            mark_dirty(c);
        }
    }
}

static void process_input(u_conn_t *c)
{
    const h2o_globalconf_t *g = c->super.ctx->globalconf;
    while (!c->closing && !c->handling && !c->handoff) {
        switch (c->state) {
        case S_HEAD: {
            if (c->in.len == 0)
                return;
            size_t avail = c->in.len < H2O_MAX_REQLEN ? c->in.len : H2O_MAX_REQLEN;
            struct phr_header hs[H2O_MAX_HEADERS];
            parsed_t pr = {.hs = hs, .nh = H2O_MAX_HEADERS};
            int n = phr_parse_request(c->in.data, avail, &pr.m, &pr.ml, &pr.p, &pr.pl, &pr.minor, hs, &pr.nh,
                                      c->prev_parse);
            c->prev_parse = avail;
            if (n == -2) {
                if (avail == H2O_MAX_REQLEN)
                    bad_request(c, "request header too large");
                return;
            }
            c->prev_parse = 0;
            if (n < 0) {
                if (c->in.len >= 12 && memcmp(c->in.data, "PRI * HTTP/2", 12) == 0 && g->http1.upgrade_to_http2)
                    handoff(c);
                else if (c->in.len <= 4 && crlf_only(c->in.data, c->in.len))
                    conn_close(c);
                else
                    bad_request(c, "malformed request");
                return;
            }
            on_head(c, n, &pr);
            break;
        }
        case S_BODY_CL:
            if (c->in.len < c->body_need)
                return;
            dispatch(c, NULL, c->in.data + c->head_len, c->body_need - c->head_len, 1, c->body_need);
            break;
        case S_BODY_CHUNKED: {
            size_t start = c->head_len + c->body_len, sz = c->in.len - start;
            if (sz == 0)
                return;
            ssize_t r = phr_decode_chunked(&c->dec, c->in.data + start, &sz);
            c->body_len += sz;
            c->in.len = start + sz + (r > 0 ? (size_t)r : 0);
            if (r == -1) {
                bad_request(c, "broken chunked encoding");
                return;
            }
            if (c->body_len > g->max_request_entity_size) {
                too_large(c, c->body_len);
                return;
            }
            if (r == -2)
                return;
            dispatch(c, NULL, c->in.data + c->head_len, c->body_len, 1, start + sz);
            break;
        }
        case S_REJECTED:
        default:
            return;
        }
    }
}

/* The response's last byte is sent: dispose of the request, go on with the next. */
static void finish_request(u_conn_t *c)
{
    http1_uring_t *u = c->u;
    int keep = c->req.http1_is_persistent && !c->peer_eof;
    h2o_dispose_request(&c->req);
    c->handling = 0;
    init_req(c);
    if (!keep) {
        linger(c);
        return;
    }
    /* the request's bytes go; what came meanwhile joins what is left */
    size_t rest = c->in.len - c->req_len;
    if (rest)
        memmove(c->in.data, c->in.data + c->req_len, rest);
    c->in.len = rest;
    c->req_len = 0;
    if (c->spill.len) {
        if (bytes_append(u, &c->in, c->spill.data, c->spill.len) != 0) {
            conn_close(c);
            return;
        }
        c->spill.len = 0;
    }
    bytes_release(u, &c->spill);
    /* a response that said keep-alive keeps it, drain or not: the client
     * may send one more request (and hears Connection: close); the drain
     * closes the connection if it stays idle */
    if (c->in.len == 0)
        bytes_release(u, &c->in);
    if (c->recv_paused) {
        c->recv_paused = 0;
        if (!c->recv_armed)
            arm_recv(c);
    }
    set_timeout(c, 1);
    process_input(c);
}

/* ---- responses --------------------------------------------------------------- */

static char *put_str(char *d, const char *s, size_t n)
{
    memcpy(d, s, n);
    return d + n;
}

/* h2o's http1 header block, byte for byte. */
static int write_headers(u_conn_t *c, h2o_req_t *req)
{
    h2o_context_t *ctx = c->super.ctx;
    if (draining(c->u))
        req->http1_is_persistent = 0; /* the drain began while this request was handled */
    if (req->res.content_length == SIZE_MAX && h2o_find_header(&req->res.headers, H2O_TOKEN_TRANSFER_ENCODING, -1) < 0)
        req->http1_is_persistent = 0; /* the end of the body is the end of the connection */
    const char *connection = req->http1_is_persistent ? "keep-alive" : "close";
    const char *reason = req->res.reason ? req->res.reason : "OK";
    h2o_get_timestamp(ctx, NULL, NULL);
    const char *date = ctx->_timestamp_cache.value->rfc1123;
    size_t len = 128 + strlen(reason) + H2O_TIMESTR_RFC1123_LEN + ctx->globalconf->server_name.len;
    for (size_t i = 0; i < req->res.headers.size; i++)
        len += req->res.headers.entries[i].name->len + req->res.headers.entries[i].value.len + 4;
    u_bytes_t *o = &c->out[c->fill];
    if (bytes_reserve(c->u, o, len) != 0)
        return -1;
    char *d = o->data + o->len;
    int status = req->res.status;
    d = put_str(d, "HTTP/1.1 ", 9);
    *d++ = (char)('0' + status / 100 % 10);
    *d++ = (char)('0' + status / 10 % 10);
    *d++ = (char)('0' + status % 10);
    *d++ = ' ';
    d = put_str(d, reason, strlen(reason));
    d = put_str(d, "\r\nDate: ", 8);
    d = put_str(d, date, H2O_TIMESTR_RFC1123_LEN);
    d = put_str(d, "\r\nConnection: ", 14);
    d = put_str(d, connection, strlen(connection));
    if (req->res.content_length != SIZE_MAX) {
        d = put_str(d, "\r\nContent-Length: ", 18);
        d = decimal_write_u64(d, req->res.content_length);
    }
    d = put_str(d, "\r\n", 2);
    if (ctx->globalconf->server_name.len) {
        d = put_str(d, "Server: ", 8);
        d = put_str(d, ctx->globalconf->server_name.base, ctx->globalconf->server_name.len);
        d = put_str(d, "\r\n", 2);
    }
    for (size_t i = 0; i < req->res.headers.size; i++) {
        const h2o_header_t *h = &req->res.headers.entries[i];
        d = put_str(d, h->orig_name ? h->orig_name : h->name->base, h->name->len);
        *d++ = ':';
        *d++ = ' ';
        d = put_str(d, h->value.base, h->value.len);
        d = put_str(d, "\r\n", 2);
    }
    d = put_str(d, "\r\n", 2);
    o->len = (size_t)(d - o->data);
    return 0;
}

/* h2o's final output stream: everything is copied into the connection's
 * buffer, sent once nothing else is in flight; the generator proceeds
 * after that send, which is the backpressure of a streamed response. */
static void ostream_send(h2o_ostream_t *ostr, h2o_req_t *req, h2o_iovec_t *bufs, size_t n, h2o_send_state_t state)
{
    u_conn_t *c = H2O_STRUCT_FROM_MEMBER(u_conn_t, ostr, ostr);
    if (!req->bytes_counted_by_ostream)
        for (size_t i = 0; i < n; i++)
            req->bytes_sent += bufs[i].len;
    int failed = 0;
    if (!c->sent_headers) {
        c->sent_headers = 1;
        req->timestamps.response_start_at = *h2o_get_timestamp(c->super.ctx, NULL, NULL);
        failed = write_headers(c, req) != 0;
    }
    for (size_t i = 0; i < n && !failed; i++)
        failed = bytes_append(c->u, &c->out[c->fill], bufs[i].base, bufs[i].len) != 0;
    if (state == H2O_SEND_STATE_ERROR || failed)
        req->http1_is_persistent = 0;
    if (h2o_send_state_is_in_progress(state) && !failed)
        c->proceed_pending = 1;
    else
        c->resp_done = 1;
    mark_dirty(c);
}

static void submit_send(u_conn_t *c)
{
    struct io_uring_sqe *sqe = get_sqe(c->u);
    if (sqe == NULL) {
        conn_close(c);
        return;
    }
    u_bytes_t *o = &c->out[!c->fill];
    io_uring_prep_send(sqe, c->fd, o->data + c->wire_off, o->len - c->wire_off, MSG_NOSIGNAL);
    sqe->user_data = (uint64_t)(uintptr_t)c | OP_SEND;
    c->send_armed = 1;
    set_timeout(c, 1); /* a reader that takes nothing for this long is gone */
}

/* What a connection does between loop callbacks: send, proceed, next request. */
static void progress(u_conn_t *c)
{
    if (c->closing) {
        maybe_free(c);
        return;
    }
    if (c->send_armed)
        return;
    if (c->out[c->fill].len) {
        c->fill = !c->fill;
        c->wire_off = 0;
        submit_send(c);
        return;
    }
    /* nothing on the wire */
    if (c->close_after_send) {
        linger(c);
        return;
    }
    if (c->handling) {
        if (c->proceed_pending) {
            c->proceed_pending = 0;
            set_timeout(c, 0);
            h2o_proceed_response(&c->req);
        } else if (c->resp_done) {
            finish_request(c);
        }
        return;
    }
    if (c->handoff) {
        handoff(c);
        return;
    }
    if (c->peer_eof && !c->lingering)
        conn_close(c); /* the client is done and so are we */
}

static void on_work(h2o_timeout_entry_t *e)
{
    http1_uring_t *u = H2O_STRUCT_FROM_MEMBER(http1_uring_t, work_entry, e);
    while (u->dirty) {
        u_conn_t *c = u->dirty;
        u->dirty = c->dirty_next;
        c->dirty = 0;
        progress(c);
    }
}

/* ---- completions --------------------------------------------------------------- */

static void on_recv(u_conn_t *c, struct io_uring_cqe *cqe)
{
    http1_uring_t *u = c->u;
    int res = cqe->res;
    if (!(cqe->flags & IORING_CQE_F_MORE))
        c->recv_armed = 0;
    if (cqe->flags & IORING_CQE_F_BUFFER) {
        unsigned bid = cqe->flags >> IORING_CQE_BUFFER_SHIFT;
        /* a rejected or lingering connection's input is read and dropped */
        if (res > 0 && !c->closing && !c->lingering && c->state != S_REJECTED) {
            const char *data = u->bufs + (size_t)bid * U_BUF_SIZE;
            if (bytes_append(u, c->handling ? &c->spill : &c->in, data, (size_t)res) != 0)
                res = -ENOMEM;
        }
        return_buffer(u, bid);
    }
    if (c->closing) {
        mark_dirty(c);
        return;
    }
    if (res > 0) {
        if (c->lingering || c->state == S_REJECTED) {
            /* dropped */
        } else if (c->handling) {
            if (c->spill.len > U_SPILL_MAX) {
                c->recv_paused = 1;
                cancel_recv(c);
            }
        } else {
            process_input(c);
        }
    } else if (res == 0) {
        c->peer_eof = 1;
        c->recv_armed = 0;
        if (c->lingering || (!c->handling && !c->handoff && c->state != S_REJECTED))
            conn_close(c);
        else
            mark_dirty(c);
        return;
    } else if (res == -ENOBUFS) {
        /* the buffer ring ran dry for a moment: reading resumes below */
    } else if (res == -ECANCELED) {
        /* paused, or handing off */
    } else {
        conn_close(c);
        return;
    }
    if (c->closing || c->recv_armed)
        return;
    if (c->handoff)
        mark_dirty(c);
    else if (!c->recv_paused && !c->peer_eof)
        arm_recv(c);
}

static void on_send(u_conn_t *c, struct io_uring_cqe *cqe)
{
    c->send_armed = 0;
    if (c->closing) {
        mark_dirty(c);
        return;
    }
    if (cqe->res <= 0) {
        conn_close(c);
        return;
    }
    u_bytes_t *o = &c->out[!c->fill];
    c->wire_off += (size_t)cqe->res;
    if (c->wire_off < o->len) {
        submit_send(c);
        return;
    }
    o->len = 0;
    bytes_release(c->u, o);
    set_timeout(c, !c->handling);
    mark_dirty(c);
}

static void arm_accept_later(http1_uring_t *u)
{
    if (!h2o_timeout_is_linked(&u->accept_retry))
        h2o_timeout_link(u->w->h2o.loop, &u->w->h2o.hundred_ms_timeout, &u->accept_retry);
}

static void on_accept_retry(h2o_timeout_entry_t *e)
{
    http1_uring_t *u = H2O_STRUCT_FROM_MEMBER(http1_uring_t, accept_retry, e);
    for (size_t i = 0; i < u->nlisten; i++)
        if (!u->listeners[i].armed && !u->listeners[i].closing && u->listeners[i].fd >= 0)
            arm_accept(&u->listeners[i]);
}

static void on_accept(u_listener_t *l, struct io_uring_cqe *cqe)
{
    http1_uring_t *u = l->u;
    if (!(cqe->flags & IORING_CQE_F_MORE))
        l->armed = 0;
    if (cqe->res >= 0) {
        if (u->freeing)
            close(cqe->res);
        else
            conn_new(u, cqe->res);
    }
    if (l->armed)
        return;
    if (l->closing) {
        if (l->fd >= 0)
            close(l->fd);
        l->fd = -1;
    } else if (cqe->res == -EMFILE || cqe->res == -ENFILE || cqe->res == -ENOMEM || cqe->res == -ENOBUFS) {
        arm_accept_later(u); /* out of descriptors: try again a little later, not in a spin */
    } else {
        arm_accept(l);
    }
}

static void on_ring_ready(h2o_socket_t *sock, const char *err)
{
    http1_uring_t *u = sock->data;
    (void)err;
    for (int rounds = 0; rounds < 4; rounds++) {
        struct io_uring_cqe *cqe;
        unsigned head, n = 0;
        io_uring_for_each_cqe(&u->ring, head, cqe)
        {
            uint64_t ud = cqe->user_data;
            void *p = (void *)(uintptr_t)(ud & ~(uint64_t)3);
            switch (ud & 3) {
            case OP_ACCEPT: on_accept(p, cqe); break;
            case OP_RECV: on_recv(p, cqe); break;
            case OP_SEND: on_send(p, cqe); break;
            default: break;
            }
            n++;
        }
        io_uring_cq_advance(&u->ring, n);
        if (n == 0)
            break;
    }
    if (io_uring_cq_has_overflow(&u->ring))
        io_uring_get_events(&u->ring); /* completions the full queue held back */
}

/* ---- the module ------------------------------------------------------------------ */

void http1_uring_flush(http1_uring_t *u)
{
    if (io_uring_sq_ready(&u->ring))
        io_uring_submit(&u->ring);
}

http1_uring_t *http1_uring_new(worker_t *w, char *err, size_t errlen)
{
    http1_uring_t *u = calloc(1, sizeof(*u));
    if (u == NULL) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    u->w = w;
    struct io_uring_params p = {.flags = IORING_SETUP_CQSIZE | IORING_SETUP_SUBMIT_ALL | IORING_SETUP_SINGLE_ISSUER,
                                .cq_entries = U_CQ_ENTRIES};
    int rc = io_uring_queue_init_params(U_SQ_ENTRIES, &u->ring, &p);
    if (rc == -EINVAL) { /* a kernel before 6.0 knows not every flag; the rest check below */
        p = (struct io_uring_params){.flags = IORING_SETUP_CQSIZE, .cq_entries = U_CQ_ENTRIES};
        rc = io_uring_queue_init_params(U_SQ_ENTRIES, &u->ring, &p);
    }
    if (rc < 0) {
        snprintf(err, errlen, "io_uring_setup: %s", strerror(-rc));
        goto fail;
    }
    u->ring_ok = 1;
    struct io_uring_probe *probe = io_uring_get_probe_ring(&u->ring);
    int ops = probe && io_uring_opcode_supported(probe, IORING_OP_ACCEPT) &&
              io_uring_opcode_supported(probe, IORING_OP_RECV) && io_uring_opcode_supported(probe, IORING_OP_SEND) &&
              io_uring_opcode_supported(probe, IORING_OP_ASYNC_CANCEL);
    if (probe)
        io_uring_free_probe(probe);
    if (!ops || !(p.features & IORING_FEAT_NODROP)) {
        snprintf(err, errlen, "io_uring lacks accept/recv/send/cancel");
        goto fail;
    }
    /* the provided buffer ring (multishot receive needs one: kernel 6.0) */
    if (posix_memalign((void **)&u->br, 4096, U_NBUFS * sizeof(struct io_uring_buf)) != 0 ||
        (u->bufs = malloc((size_t)U_NBUFS * U_BUF_SIZE)) == NULL) {
        snprintf(err, errlen, "out of memory");
        goto fail;
    }
    struct io_uring_buf_reg reg = {.ring_addr = (uint64_t)(uintptr_t)u->br, .ring_entries = U_NBUFS, .bgid = U_BGID};
    if ((rc = io_uring_register_buf_ring(&u->ring, &reg, 0)) < 0) {
        snprintf(err, errlen, "buffer ring: %s", strerror(-rc));
        free(u->br);
        u->br = NULL;
        goto fail;
    }
    io_uring_buf_ring_init(u->br);
    for (unsigned i = 0; i < U_NBUFS; i++)
        io_uring_buf_ring_add(u->br, u->bufs + (size_t)i * U_BUF_SIZE, U_BUF_SIZE, (unsigned short)i,
                              io_uring_buf_ring_mask(U_NBUFS), (int)i);
    io_uring_buf_ring_advance(u->br, U_NBUFS);

    /* multishot receive exists since 6.0: try it on a socket pair before relying on it */
    int sv[2];
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv) != 0) {
        snprintf(err, errlen, "socketpair: %s", strerror(errno));
        goto fail;
    }
    struct io_uring_sqe *sqe = io_uring_get_sqe(&u->ring);
    io_uring_prep_recv_multishot(sqe, sv[0], NULL, 0, 0);
    sqe->flags |= IOSQE_BUFFER_SELECT;
    sqe->buf_group = U_BGID;
    sqe->user_data = 42;
    rc = (int)write(sv[1], "x", 1);
    struct io_uring_cqe *cqe = NULL;
    if (rc == 1)
        rc = io_uring_submit_and_wait(&u->ring, 1);
    if (rc >= 0)
        rc = io_uring_peek_cqe(&u->ring, &cqe);
    int works = rc == 0 && cqe && cqe->res == 1 && (cqe->flags & IORING_CQE_F_MORE) && (cqe->flags & IORING_CQE_F_BUFFER);
    int probe_res = cqe ? cqe->res : rc;
    if (cqe) {
        if (cqe->flags & IORING_CQE_F_BUFFER)
            return_buffer(u, cqe->flags >> IORING_CQE_BUFFER_SHIFT);
        io_uring_cqe_seen(&u->ring, cqe);
    }
    close(sv[1]);
    close(sv[0]);
    /* the receive ends (closed socket) with a completion of its own: reap it */
    for (int i = 0; i < 100 && works; i++) {
        if (io_uring_submit_and_wait(&u->ring, 1) < 0 || io_uring_peek_cqe(&u->ring, &cqe) != 0)
            break;
        int more = cqe->flags & IORING_CQE_F_MORE;
        if (cqe->flags & IORING_CQE_F_BUFFER)
            return_buffer(u, cqe->flags >> IORING_CQE_BUFFER_SHIFT);
        io_uring_cqe_seen(&u->ring, cqe);
        if (!more)
            break;
    }
    if (!works) {
        snprintf(err, errlen, "multishot receive with a buffer ring does not work here (%s)",
                 probe_res < 0 ? strerror(-probe_res) : "no completion");
        goto fail;
    }

    int rfd = dup(u->ring.ring_fd); /* h2o closes its socket's fd; liburing closes its own */
    if (rfd < 0) {
        snprintf(err, errlen, "dup: %s", strerror(errno));
        goto fail;
    }
    u->listeners = calloc(w->nlisten ? w->nlisten : 1, sizeof(*u->listeners));
    if (u->listeners == NULL) {
        close(rfd);
        snprintf(err, errlen, "out of memory");
        goto fail;
    }
    u->ring_sock = h2o_evloop_socket_create(w->h2o.loop, rfd, H2O_SOCKET_FLAG_DONT_READ);
    u->ring_sock->data = u;
    h2o_socket_read_start(u->ring_sock, on_ring_ready);
    u->work_entry.cb = on_work;
    u->accept_retry.cb = on_accept_retry;
    u->nlisten = w->nlisten;
    for (size_t i = 0; i < w->nlisten; i++) {
        u->listeners[i] = (u_listener_t){.u = u, .fd = w->listen_fds[i]};
        w->listen_fds[i] = -1; /* ours now */
        arm_accept(&u->listeners[i]);
    }
    io_uring_submit(&u->ring);
    return u;
fail:
    if (u->ring_ok)
        io_uring_queue_exit(&u->ring);
    free(u->br);
    free(u->bufs);
    free(u);
    return NULL;
}

void http1_uring_drain(http1_uring_t *u)
{
    u->draining = 1;
}

void http1_uring_close_listeners(http1_uring_t *u)
{
    if (h2o_timeout_is_linked(&u->accept_retry))
        h2o_timeout_unlink(&u->accept_retry);
    for (size_t i = 0; i < u->nlisten; i++) {
        u_listener_t *l = &u->listeners[i];
        if (l->fd < 0 || l->closing)
            continue;
        if (l->armed) {
            struct io_uring_sqe *sqe = get_sqe(u);
            if (sqe) {
                io_uring_prep_cancel64(sqe, (uint64_t)(uintptr_t)l | OP_ACCEPT, 0);
                sqe->user_data = 0;
            }
            l->closing = 1; /* closed when the accept has ended */
        } else {
            close(l->fd);
            l->fd = -1;
        }
    }
    http1_uring_flush(u);
}

void http1_uring_close_idle(http1_uring_t *u)
{
    for (u_conn_t *c = u->conns, *next; c; c = next) {
        next = c->next;
        if (!c->handling && c->in.len == 0 && c->state == S_HEAD && !c->send_armed && c->out[c->fill].len == 0 &&
            !c->handoff)
            conn_close(c);
    }
    http1_uring_flush(u);
}

int http1_uring_listening(const http1_uring_t *u)
{
    for (size_t i = 0; i < u->nlisten; i++)
        if (u->listeners[i].fd >= 0)
            return 1;
    return 0;
}

int http1_uring_listener_fd(const http1_uring_t *u, size_t i)
{
    return i < u->nlisten ? u->listeners[i].fd : -1;
}

/* At shutdown, outside the loop: submits what is queued and handles what
 * completes within ts. */
static void ring_wait(http1_uring_t *u, struct __kernel_timespec *ts)
{
    struct io_uring_cqe *cqe;
    io_uring_submit(&u->ring);
    if (io_uring_wait_cqe_timeout(&u->ring, &cqe, ts) == 0)
        on_ring_ready(u->ring_sock, NULL);
}

void http1_uring_free(http1_uring_t *u)
{
    if (u == NULL)
        return;
    if (h2o_timeout_is_linked(&u->accept_retry))
        h2o_timeout_unlink(&u->accept_retry);
    /* responses already made (a drain timeout's 503s among them) get up to
     * a second to leave before the connections close */
    struct __kernel_timespec ts = {.tv_sec = 0, .tv_nsec = 50 * 1000 * 1000};
    for (int i = 0; i < 20; i++) {
        on_work(&u->work_entry);
        if (h2o_timeout_is_linked(&u->work_entry))
            h2o_timeout_unlink(&u->work_entry);
        int sending = 0;
        for (u_conn_t *c = u->conns; c && !sending; c = c->next)
            sending = c->send_armed || c->out[c->fill].len != 0;
        if (!sending)
            break;
        ring_wait(u, &ts);
    }
    u->freeing = 1;
    while (u->conns)
        conn_close(u->conns);
    on_work(&u->work_entry);
    if (h2o_timeout_is_linked(&u->work_entry))
        h2o_timeout_unlink(&u->work_entry);
    for (size_t i = 0; i < u->nlisten; i++) {
        u_listener_t *l = &u->listeners[i];
        if (l->fd >= 0 && l->armed && !l->closing) {
            struct io_uring_sqe *sqe = get_sqe(u);
            if (sqe) {
                io_uring_prep_cancel64(sqe, (uint64_t)(uintptr_t)l | OP_ACCEPT, 0);
                sqe->user_data = 0;
            }
            l->closing = 1;
        }
    }
    /* let every operation end (cancelled) so that no connection's memory is
     * still the kernel's when it is freed */
    for (int i = 0; i < 20; i++) {
        int pending = u->nclosing != 0;
        for (size_t k = 0; k < u->nlisten; k++)
            pending |= u->listeners[k].armed;
        if (!pending)
            break;
        ring_wait(u, &ts);
        on_work(&u->work_entry);
        if (h2o_timeout_is_linked(&u->accept_retry)) /* an accept that ended with EMFILE meanwhile */
            h2o_timeout_unlink(&u->accept_retry);
    }
    for (size_t k = 0; k < u->nlisten; k++)
        if (u->listeners[k].fd >= 0)
            close(u->listeners[k].fd);
    h2o_socket_read_stop(u->ring_sock);
    h2o_socket_close(u->ring_sock);
    io_uring_queue_exit(&u->ring);
    while (u->free_blocks) {
        void *b = u->free_blocks;
        u->free_blocks = *(void **)b;
        free(b);
    }
    free(u->listeners);
    free(u->br);
    free(u->bufs);
    free(u);
}

#else /* no liburing at build time */

struct http1_uring {
    int unused;
};

http1_uring_t *http1_uring_new(worker_t *w, char *err, size_t errlen)
{
    (void)w;
    snprintf(err, errlen, "built without liburing");
    return NULL;
}
void http1_uring_flush(http1_uring_t *u) { (void)u; }
void http1_uring_drain(http1_uring_t *u) { (void)u; }
void http1_uring_close_listeners(http1_uring_t *u) { (void)u; }
void http1_uring_close_idle(http1_uring_t *u) { (void)u; }
int http1_uring_listening(const http1_uring_t *u) { (void)u; return 0; }
int http1_uring_listener_fd(const http1_uring_t *u, size_t i) { (void)u; (void)i; return -1; }
void http1_uring_free(http1_uring_t *u) { (void)u; }

#endif
