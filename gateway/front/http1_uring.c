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
 * the two front ends apart, with these differences: a 400, 413, 417 or
 * 501 leaves as the contract's error JSON; the framing follows RFC 9112
 * where h2o 2.2 is lax (http1.h: what opens the way to request
 * smuggling is a 400 and a close); and a connection that closes after a
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
 * _close_idle); each connection holds the ticket the conn_opened hook gave
 * it (the worker's connection caps and gauge) until its memory is freed,
 * or, handed to h2o, until h2o closes its socket, so the drain waits for
 * all of them. Under a connection cap, http1_uring_shed_idle closes the
 * oldest idle one; a connection the hook admitted limited gets one request
 * and 1 s.
 *
 * This file is the glue of two modules: ring.h (the io_uring: operations,
 * completions, receive buffers) and http1.h (what the bytes of a request
 * say); here are the connections, their buffers and timeouts, and the
 * requests and responses as h2o's.
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
#include "front/http1.h"
#include "front/ring.h"

#ifdef AG_HAVE_LIBURING

#define U_BLOCK 8192             /* the usual size of a connection's in/out buffer */
#define U_MAX_FREE_BLOCKS 512
#define U_SPILL_MAX (256 * 1024) /* bytes read ahead of a request in progress before reading pauses */

typedef struct u_bytes {
    char *data;
    size_t len, cap;
} u_bytes_t;

/* One listening socket; owner of its multishot accept. */
typedef struct u_listener {
    http1_uring_t *u;
    int fd;      /* -1 once closed */
    int armed;   /* its accept is in the kernel: set by arm_accept, cleared by a completion without F_MORE */
    int closing; /* being closed (drain, exit): its accept is cancelled, the fd closes when that ends */
    int pad;
} u_listener_t;

/*
 * A connection. Where it is in the request it reads is parser.state
 * (http1_state_t: head, Content-Length or chunked body, rejected); what
 * else goes on is in the flags, each set and cleared only where it says:
 *
 *   dirty            on u->dirty, for on_work to progress(): mark_dirty sets it, on_work clears it.
 *   recv_armed       a multishot receive is in the kernel: arm_recv sets it; on_recv clears it on
 *                    the completion without F_MORE, or at end of input.
 *   cancel_sent      that receive's cancel is queued (once is enough): cancel_recv sets it,
 *                    arm_recv clears it.
 *   recv_paused      reading stopped because spill passed U_SPILL_MAX: on_recv sets it (and
 *                    cancels), finish_request clears it and reads again.
 *   peer_eof         the client shut its side (a receive of 0): on_recv sets it; never cleared.
 *   send_armed       a send of out[!fill] is in the kernel: submit_send sets it, on_send clears it.
 *   handling         h2o owns req (dispatched, its response not all sent): input goes to spill, not
 *                    in. dispatch sets it, finish_request clears it.
 *   sent_headers     the response's header block is in out: ostream_send sets it, init_req clears it.
 *   proceed_pending  the generator waits for h2o_proceed_response once what it gave is sent:
 *                    ostream_send sets it, progress (or init_req) clears it.
 *   resp_done        the response's last bytes (or its failure) are in: ostream_send sets it,
 *                    init_req clears it; progress then finishes the request once out is sent.
 *   close_after_send a response of our own (400, 413, 417, 501) is queued; once sent, linger. reject
 *                    sets it; never cleared.
 *   lingering        the write side is shut, input is read and dropped until the client closes or
 *                    the timeout: linger sets it; never cleared.
 *   handoff          for h2o (HTTP/2 prior knowledge, Upgrade: h2c): set by handoff(), which
 *                    completes once the receive has ended and out is sent; never cleared.
 *   handed_off       that is done: the fd is h2o's socket's, and so is the connection's count (its
 *                    on_close releases it, not maybe_free). handoff() sets it; never cleared.
 *   closing          conn_close ran: off the list, request disposed, memory freed by maybe_free
 *                    once no operation is left in the kernel. Never cleared.
 */
typedef struct u_conn u_conn_t;
struct u_conn {
    h2o_conn_t super;
    http1_uring_t *u;
    u_conn_t *prev, *next;   /* every open connection */
    u_conn_t *dirty_next;
    int fd;
    unsigned dirty : 1, recv_armed : 1, send_armed : 1, closing : 1, handling : 1, peer_eof : 1, recv_paused : 1,
        resp_done : 1, proceed_pending : 1, sent_headers : 1, handoff : 1, cancel_sent : 1, lingering : 1,
        close_after_send : 1, handed_off : 1, limited : 1;
    u_bytes_t in, spill;
    u_bytes_t out[2];
    int fill;                /* out[fill] takes output; out[!fill] is on the wire while send_armed */
    size_t wire_off;
    size_t req_len;          /* bytes of `in` the request in progress spans */
    http1_parser_t parser;
    h2o_timeout_entry_t timeout;
    void *ticket;            /* the conn_opened hook's, for conn_closed */
    struct sockaddr_storage peer; /* read once at accept: get_peername needs no system call */
    socklen_t peerlen;
    h2o_ostream_t ostr;
    h2o_req_t req;           /* last: large, and h2o_init_request zeroes it */
};

struct http1_uring {
    h2o_context_t *ctx;
    h2o_accept_ctx_t *accept;
    const _Atomic int *shared_draining;
    void *(*conn_opened)(void *data, const struct sockaddr *peer, int *limited);
    void (*conn_closed)(void *ticket);
    void *conn_data;
    u_conn_t *conns_tail;             /* the oldest connection: where shedding starts */
    h2o_timeout_t limited_timeout;    /* 1 s: what a limited connection has */
    int error_field;
    ring_t ring;
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
    return u->draining || atomic_load_explicit(u->shared_draining, memory_order_relaxed);
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

/* ---- operations on the ring ------------------------------------------------ */

static void arm_accept(u_listener_t *l)
{
    if (ring_accept(&l->u->ring, l->fd, l) != 0)
        return;
    l->armed = 1;
}

static void arm_recv(u_conn_t *c)
{
    if (ring_recv(&c->u->ring, c->fd, c) != 0) {
        conn_close(c);
        return;
    }
    c->recv_armed = 1;
    c->cancel_sent = 0;
}

static void cancel_recv(u_conn_t *c)
{
    if (!c->recv_armed || c->cancel_sent)
        return;
    if (ring_cancel(&c->u->ring, c, RING_RECV) != 0)
        return;
    c->cancel_sent = 1;
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
        h2o_timeout_link(u->ctx->loop, &u->ctx->zero_timeout, &u->work_entry);
}

/* ---- connections ----------------------------------------------------------- */

static socklen_t get_sockname(h2o_conn_t *conn, struct sockaddr *sa)
{
    socklen_t len = sizeof(struct sockaddr_storage);
    return getsockname(((u_conn_t *)conn)->fd, sa, &len) == 0 ? len : 0;
}

static socklen_t get_peername(h2o_conn_t *conn, struct sockaddr *sa)
{
    u_conn_t *c = (u_conn_t *)conn;
    memcpy(sa, &c->peer, c->peerlen);
    return c->peerlen;
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
        h2o_timeout_link(c->u->ctx->loop, c->limited ? &c->u->limited_timeout : &c->u->ctx->http1.req_timeout,
                         &c->timeout);
}

static void conn_new(http1_uring_t *u, int fd)
{
    h2o_context_t *ctx = u->ctx;
    /* who it is, once: the caps need it now, the handlers (get_peername) later */
    struct sockaddr_storage peer;
    socklen_t peerlen = sizeof(peer);
    if (getpeername(fd, (struct sockaddr *)&peer, &peerlen) != 0)
        peerlen = 0;
    int limited = 0;
    void *ticket = u->conn_opened(u->conn_data, peerlen ? (struct sockaddr *)&peer : NULL, &limited);
    if (ticket == NULL) {
        close(fd); /* over a cap: refused */
        return;
    }
    u_conn_t *c = (u_conn_t *)h2o_create_connection(sizeof(*c), ctx, u->accept->hosts,
                                                    *h2o_get_timestamp(ctx, NULL, NULL), &conn_callbacks);
    memset((char *)c + sizeof(c->super), 0, offsetof(u_conn_t, req) - sizeof(c->super));
    c->u = u;
    c->fd = fd;
    c->ticket = ticket;
    c->limited = limited != 0;
    memcpy(&c->peer, &peer, peerlen);
    c->peerlen = peerlen;
    http1_parser_init(&c->parser, ctx->globalconf->max_request_entity_size, ctx->globalconf->http1.upgrade_to_http2);
    c->timeout.cb = on_timeout;
    c->next = u->conns;
    if (u->conns)
        u->conns->prev = c;
    else
        u->conns_tail = c;
    u->conns = c;
    init_req(c);
    arm_recv(c);
    set_timeout(c, 1);
}

/* Frees the connection once nothing of it is left in the kernel. */
static void maybe_free(u_conn_t *c)
{
    if (!c->closing || c->recv_armed || c->send_armed || c->dirty)
        return;
    http1_uring_t *u = c->u;
    u->nclosing--;
    if (!c->handed_off)
        u->conn_closed(c->ticket); /* the drain waits for every connection to be closed again */
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
    else
        u->conns_tail = c->prev;
    if ((c->recv_armed || c->send_armed) && c->fd >= 0)
        ring_cancel_fd(&u->ring, c->fd);
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

/* A response of our own, before h2o has a request (the parser has
 * rejected the input): then close. */
static void reject(u_conn_t *c, const char *response, size_t len)
{
    set_timeout(c, 0);
    bytes_append(c->u, &c->out[c->fill], response, len);
    c->close_after_send = 1;
    mark_dirty(c);
}

/* The contract's error JSON (core/status.h, with "error" when a JSON
 * profile has it) as a whole response of our own, then close. */
static void reject_json(u_conn_t *c, const char *status_line, int code, const char *why)
{
    char first[768], resp[1024];
    arena_t a;
    arena_init_with(&a, first, sizeof(first));
    buf_t b;
    buf_init(&b, &a, 384);
    status_render_json(&b, code, why, strlen(why), NULL, 0, c->u->error_field);
    int rl = snprintf(resp, sizeof(resp),
                      "HTTP/1.1 %s\r\nContent-Type: application/json\r\nConnection: close\r\n"
                      "Content-Length: %zu\r\n\r\n%.*s",
                      status_line, b.len, (int)b.len, b.data);
    arena_free(&a);
    reject(c, resp, rl > 0 && (size_t)rl < sizeof(resp) ? (size_t)rl : 0);
}

static void bad_request(u_conn_t *c, const char *why)
{
    reject_json(c, "400 Bad Request", GRPC_INVALID_ARGUMENT, why);
}

/* ---- h2o hand-off (HTTP/2 prior knowledge, Upgrade: h2c) ------------------ */

static void handoff(u_conn_t *c)
{
    c->handoff = 1;
    if (c->recv_armed) {
        cancel_recv(c); /* the rest happens when the receive has ended */
        return;
    }
    if (c->send_armed || c->out[c->fill].len)
        return;
    http1_uring_t *u = c->u;
    int fd = c->fd;
    h2o_socket_t *sock = h2o_evloop_socket_create(u->ctx->loop, fd, 0);
    if (c->in.len) {
        h2o_iovec_t room = h2o_buffer_reserve(&sock->input, c->in.len);
        memcpy(room.base, c->in.data, c->in.len);
        sock->input->size += c->in.len;
    }
    c->fd = -1; /* the socket owns it */
    c->handed_off = 1;
    conn_close(c);
    /* the connection stays counted until h2o closes it */
    sock->on_close.cb = u->conn_closed;
    sock->on_close.data = c->ticket;
    h2o_accept(u->accept, sock);
}

/* ---- requests --------------------------------------------------------------- */

/* The request is whole in c->in (r, as the parser found it): hand it to h2o. */
static void dispatch(u_conn_t *c, const http1_request_t *r)
{
    h2o_req_t *req = &c->req;
    const struct phr_header *hs = r->headers;
    size_t nh = r->num_headers;
    req->input.method = h2o_iovec_init(r->method, r->method_len);
    req->input.path = h2o_iovec_init(r->path, r->path_len);
    req->input.scheme = &H2O_URL_SCHEME_HTTP;
    req->version = 0x100 | (r->minor_version != 0);
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
            /* content-length, transfer-encoding, expect, upgrade: consumed by the parser */
        } else {
            h2o_add_header(&req->pool, &req->headers, t, NULL, hs[i].value, hs[i].value_len);
            if (t == H2O_TOKEN_CONNECTION)
                connection = h2o_iovec_init(hs[i].value, hs[i].value_len);
        }
    }
    if (req->version >= 0x101)
        req->http1_is_persistent =
            connection.base == NULL || !h2o_contains_token(connection.base, connection.len, H2O_STRLIT("close"), ',');
    else
        req->http1_is_persistent = connection.base != NULL &&
                                   h2o_contains_token(connection.base, connection.len, H2O_STRLIT("keep-alive"), ',');
    if (c->super.ctx->shutdown_requested || draining(c->u) || c->limited)
        req->http1_is_persistent = 0;
    if (r->has_body)
        req->entity = h2o_iovec_init(r->body, r->body_len);
    req->timestamps.request_begin_at = *h2o_get_timestamp(c->super.ctx, NULL, NULL);
    c->req_len = r->len;
    c->handling = 1;
    set_timeout(c, 0);
    h2o_process_request(req);
}

/* Over max_request_entity_size: the contract's 413, then close. have is
 * what was declared or decoded; SIZE_MAX: a chunk size of 2^64-1 or more. */
static void too_large(u_conn_t *c, size_t have)
{
    size_t limit = c->super.ctx->globalconf->max_request_entity_size;
    char msg[120];
    if (have == SIZE_MAX)
        snprintf(msg, sizeof(msg), "a chunk of 2^64-1 bytes or more is over the limit of %zu", limit);
    else
        snprintf(msg, sizeof(msg), "body of %s%zu bytes is over the limit of %zu", have ? "at least " : "", have,
                 limit);
    reject_json(c, "413 Payload Too Large", GRPC_RESOURCE_EXHAUSTED, msg);
}

/* What is in c->in, request after request, until one is being handled
 * (the rest waits for its response) or more must be read. */
static void process_input(u_conn_t *c)
{
    while (!c->closing && !c->handling && !c->handoff) {
        http1_request_t r;
        switch (http1_parse(&c->parser, c->in.data, &c->in.len, &r)) {
        case HTTP1_NEED_MORE:
            return;
        case HTTP1_REQUEST:
            dispatch(c, &r);
            break;
        case HTTP1_CONTINUE: {
            static const char r100[] = "HTTP/1.1 100 Continue\r\n\r\n";
            bytes_append(c->u, &c->out[c->fill], r100, sizeof(r100) - 1);
            mark_dirty(c);
            break;
        }
        case HTTP1_HANDOFF:
            handoff(c); /* h2o reads the bytes again (the preface, or the request it upgrades) */
            return;
        case HTTP1_CLOSE:
            conn_close(c);
            return;
        case HTTP1_BAD_REQUEST:
            bad_request(c, r.error);
            return;
        case HTTP1_TOO_LARGE:
            too_large(c, r.body_len);
            return;
        case HTTP1_EXPECTATION_FAILED:
            reject_json(c, "417 Expectation Failed", GRPC_INVALID_ARGUMENT, "unknown expectation");
            return;
        case HTTP1_NOT_IMPLEMENTED:
            reject_json(c, "501 Not Implemented", GRPC_UNIMPLEMENTED, r.error);
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
    u_bytes_t *o = &c->out[!c->fill];
    if (ring_send(&c->u->ring, c->fd, o->data + c->wire_off, o->len - c->wire_off, c) != 0) {
        conn_close(c);
        return;
    }
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
    if (!ring_cqe_more(cqe))
        c->recv_armed = 0;
    int bid = ring_cqe_buffer(cqe);
    if (bid >= 0) {
        /* a rejected or lingering connection's input is read and dropped */
        if (res > 0 && !c->closing && !c->lingering && c->parser.state != HTTP1_REJECTED) {
            const char *data = ring_buffer(&u->ring, (unsigned)bid);
            if (bytes_append(u, c->handling ? &c->spill : &c->in, data, (size_t)res) != 0)
                res = -ENOMEM;
        }
        ring_buffer_return(&u->ring, (unsigned)bid);
    }
    if (c->closing) {
        mark_dirty(c);
        return;
    }
    if (res > 0) {
        if (c->lingering || c->parser.state == HTTP1_REJECTED) {
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
        /* a client that hangs up while its request is handled has given up
         * on it (nginx's 499): closing disposes of the request, which
         * cancels its upstream call, instead of finishing it for no one */
        if (c->lingering || (!c->handoff && c->parser.state != HTTP1_REJECTED))
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
        h2o_timeout_link(u->ctx->loop, &u->ctx->hundred_ms_timeout, &u->accept_retry);
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

static void on_cqe(ring_op_t op, void *owner, struct io_uring_cqe *cqe)
{
    switch (op) {
    case RING_ACCEPT: on_accept(owner, cqe); break;
    case RING_RECV: on_recv(owner, cqe); break;
    case RING_SEND: on_send(owner, cqe); break;
    default: break;
    }
}

static void on_ring_ready(h2o_socket_t *sock, const char *err)
{
    http1_uring_t *u = sock->data;
    (void)err;
    ring_reap(&u->ring, on_cqe);
}

/* ---- the module ------------------------------------------------------------------ */

void http1_uring_flush(http1_uring_t *u)
{
    ring_flush(&u->ring);
}

http1_uring_t *http1_uring_new(const http1_uring_config_t *cfg, char *err, size_t errlen)
{
    http1_uring_t *u = calloc(1, sizeof(*u));
    if (u == NULL) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    u->ctx = cfg->ctx;
    u->accept = cfg->accept;
    u->shared_draining = cfg->draining;
    u->conn_opened = cfg->conn_opened;
    u->conn_closed = cfg->conn_closed;
    u->conn_data = cfg->conn_data;
    u->error_field = cfg->error_field;
    if (ring_init(&u->ring, err, errlen) != 0)
        goto fail;
    u->listeners = calloc(cfg->nlisten ? cfg->nlisten : 1, sizeof(*u->listeners));
    if (u->listeners == NULL) {
        snprintf(err, errlen, "out of memory");
        goto fail;
    }
    ring_start(&u->ring, u->ctx->loop, on_ring_ready, u);
    h2o_timeout_init(u->ctx->loop, &u->limited_timeout, 1000);
    u->work_entry.cb = on_work;
    u->accept_retry.cb = on_accept_retry;
    u->nlisten = cfg->nlisten;
    for (size_t i = 0; i < cfg->nlisten; i++) {
        u->listeners[i] = (u_listener_t){.u = u, .fd = cfg->listen_fds[i]};
        cfg->listen_fds[i] = -1; /* ours now */
        arm_accept(&u->listeners[i]);
    }
    ring_submit(&u->ring);
    return u;
fail:
    ring_dispose(&u->ring);
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
            ring_cancel(&u->ring, l, RING_ACCEPT);
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
        if (!c->handling && c->in.len == 0 && c->parser.state == HTTP1_HEAD && !c->send_armed && c->out[c->fill].len == 0 &&
            !c->handoff)
            conn_close(c);
    }
    http1_uring_flush(u);
}

/* What close_idle closes, one at a time, oldest first. */
int http1_uring_shed_idle(http1_uring_t *u)
{
    for (u_conn_t *c = u->conns_tail; c; c = c->prev) {
        if (!c->handling && c->in.len == 0 && c->parser.state == HTTP1_HEAD && !c->send_armed &&
            c->out[c->fill].len == 0 && !c->handoff && !c->lingering && !c->limited) {
            conn_close(c);
            return 1;
        }
    }
    return 0;
}

int http1_uring_conn_limited(const h2o_conn_t *conn)
{
    return conn->callbacks == &conn_callbacks && ((const u_conn_t *)conn)->limited;
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
static void wait_completions(http1_uring_t *u, struct __kernel_timespec *ts)
{
    if (ring_wait(&u->ring, ts))
        ring_reap(&u->ring, on_cqe);
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
        wait_completions(u, &ts);
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
            ring_cancel(&u->ring, l, RING_ACCEPT);
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
        wait_completions(u, &ts);
        on_work(&u->work_entry);
        if (h2o_timeout_is_linked(&u->accept_retry)) /* an accept that ended with EMFILE meanwhile */
            h2o_timeout_unlink(&u->accept_retry);
    }
    for (size_t k = 0; k < u->nlisten; k++)
        if (u->listeners[k].fd >= 0)
            close(u->listeners[k].fd);
    h2o_timeout_dispose(u->ctx->loop, &u->limited_timeout);
    ring_dispose(&u->ring);
    while (u->free_blocks) {
        void *b = u->free_blocks;
        u->free_blocks = *(void **)b;
        free(b);
    }
    free(u->listeners);
    free(u);
}

#else /* no liburing at build time */

struct http1_uring {
    int unused;
};

http1_uring_t *http1_uring_new(const http1_uring_config_t *cfg, char *err, size_t errlen)
{
    (void)cfg;
    snprintf(err, errlen, "built without liburing");
    return NULL;
}
void http1_uring_flush(http1_uring_t *u) { (void)u; }
void http1_uring_drain(http1_uring_t *u) { (void)u; }
void http1_uring_close_listeners(http1_uring_t *u) { (void)u; }
void http1_uring_close_idle(http1_uring_t *u) { (void)u; }
int http1_uring_shed_idle(http1_uring_t *u) { (void)u; return 0; }
int http1_uring_conn_limited(const h2o_conn_t *conn) { (void)conn; return 0; }
int http1_uring_listening(const http1_uring_t *u) { (void)u; return 0; }
int http1_uring_listener_fd(const http1_uring_t *u, size_t i) { (void)u; (void)i; return -1; }
void http1_uring_free(http1_uring_t *u) { (void)u; }

#endif
