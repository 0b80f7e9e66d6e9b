/*
 * h2server_test: the gRPC listener's HTTP/2 server (grpc/h2server.h)
 * against an nghttp2 client session over a socketpair, both on this
 * thread: the server on an h2o loop, the client pumped by hand. What is
 * checked is what a peer meets: responses with trailers and trailers-only
 * ones, end-to-end flow control both ways (a stream's window comes back
 * only as the user consumes; a full response queue tells the user, who
 * hears on_writable once the client read half), and the limits, measured
 * on the nghttp2 that Debian 12 ships (1.52 with its backported fixes):
 * SETTINGS_MAX_CONCURRENT_STREAMS, SETTINGS_MAX_HEADER_LIST_SIZE, the
 * RST_STREAM rate limit (rapid reset), the handshake timeout, and the
 * drain's two GOAWAYs.
 */
#ifndef H2O_USE_LIBUV
#define H2O_USE_LIBUV 0
#endif
#include "grpc/h2server.h"
#include "test.h"

#include <errno.h>
#include <fcntl.h>
#include <nghttp2/nghttp2.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <h2o/socket/evloop.h>

static h2o_loop_t *loop;

static uint64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* ======================================================================== */
/* the server's user: a small app                                            */
/* ======================================================================== */

/* /echo: 200, the body back, then trailers. /hold: nothing until told.
 * /big: 200 and `big` bytes queued at once. /stall: takes the body without
 * consuming it. */
typedef struct app_stream {
    h2server_stream_t *s;
    char path[32];
    int oversize, ended, closed, writable;
    uint32_t close_err;
    size_t got, consumed;
    struct app_stream *next;
} app_stream_t;

static app_stream_t *streams;
static int nrequests, nconn_closed, full_seen;
static size_t big = 100000;

static app_stream_t *find(const char *path, int nth)
{
    int i = 0;
    for (app_stream_t *a = streams; a; a = a->next)
        if (strcmp(a->path, path) == 0 && i++ == nth)
            return a;
    return NULL;
}

#define H(n, v) ((h2server_header_t){n, sizeof(n) - 1, v, sizeof(v) - 1})

static void *on_request(void *conn_data, h2server_stream_t *s, const h2server_header_t *h, size_t n, int oversize,
                        int end)
{
    (void)conn_data;
    app_stream_t *a = calloc(1, sizeof(*a));
    a->s = s;
    a->oversize = oversize;
    a->ended = end;
    for (size_t i = 0; i < n; i++)
        if (h[i].name_len == 5 && memcmp(h[i].name, ":path", 5) == 0)
            snprintf(a->path, sizeof(a->path), "%.*s", (int)h[i].value_len, h[i].value);
    a->next = streams;
    streams = a;
    nrequests++;
    h2server_header_t ct = H("content-type", "application/grpc");
    if (oversize) {
        h2server_header_t t[] = {ct, H("grpc-status", "8")};
        h2server_respond(s, 200, t, 2, 1);
    } else if (strcmp(a->path, "/echo") == 0) {
        h2server_respond(s, 200, &ct, 1, 0);
    } else if (strcmp(a->path, "/big") == 0) {
        h2server_respond(s, 200, &ct, 1, 0);
        uint8_t *b = malloc(big);
        memset(b, 'b', big);
        h2server_send(s, b, big);
        free(b);
        full_seen = h2server_full(s);
    }
    return a;
}

static void on_data(void *sd, const uint8_t *p, size_t n, int end)
{
    app_stream_t *a = sd;
    a->got += n;
    if (strcmp(a->path, "/echo") == 0) {
        h2server_send(a->s, p, n);
        h2server_consume(a->s, n);
        a->consumed += n;
        if (end) {
            h2server_header_t t[] = {H("grpc-status", "0"), H("x-trailer", "yes")};
            h2server_end(a->s, t, 2);
        }
    } else if (strcmp(a->path, "/stall") != 0) {
        h2server_consume(a->s, n);
        a->consumed += n;
    }
    if (end)
        a->ended = 1;
}

static void on_writable(void *sd)
{
    app_stream_t *a = sd;
    a->writable++;
}

static void on_close(void *sd, uint32_t err)
{
    app_stream_t *a = sd;
    a->closed = 1;
    a->close_err = err;
}

static void on_conn_close(void *cd)
{
    (void)cd;
    nconn_closed++;
}

static const h2server_handlers_t app = {on_request, on_data, on_writable, on_close, on_conn_close};

static void app_reset(void)
{
    while (streams) {
        app_stream_t *n = streams->next;
        free(streams);
        streams = n;
    }
    nrequests = nconn_closed = full_seen = 0;
}

/* ======================================================================== */
/* the client: an nghttp2 session pumped over the socketpair                 */
/* ======================================================================== */

typedef struct cstream {
    int32_t id;
    int status, closed, got_trailers;
    uint32_t close_err;
    char grpc_status[8], trailer[8];
    size_t body;
} cstream_t;

typedef struct client {
    int fd;
    nghttp2_session *ng;
    cstream_t st[2100];
    int nst;
    int goaways;
    int32_t goaway_last[4];
    uint32_t goaway_err[4];
    int eof;
    int consume; /* 0: the client holds what it received (a slow reader) */
    size_t unconsumed;
} client_t;

static cstream_t *cs(client_t *c, int32_t id)
{
    for (int i = 0; i < c->nst; i++)
        if (c->st[i].id == id)
            return &c->st[i];
    return NULL;
}

static int c_header(nghttp2_session *ng, const nghttp2_frame *f, const uint8_t *n, size_t nl, const uint8_t *v,
                    size_t vl, uint8_t fl, void *ud)
{
    (void)ng, (void)fl;
    cstream_t *s = cs(ud, f->hd.stream_id);
    if (s == NULL)
        return 0;
    if (nl == 7 && memcmp(n, ":status", 7) == 0)
        s->status = atoi((const char *)v);
    else if (nl == 11 && memcmp(n, "grpc-status", 11) == 0)
        snprintf(s->grpc_status, sizeof(s->grpc_status), "%.*s", (int)vl, (const char *)v);
    else if (nl == 9 && memcmp(n, "x-trailer", 9) == 0)
        snprintf(s->trailer, sizeof(s->trailer), "%.*s", (int)vl, (const char *)v);
    return 0;
}

static int c_data(nghttp2_session *ng, uint8_t fl, int32_t id, const uint8_t *d, size_t len, void *ud)
{
    (void)fl, (void)d;
    client_t *c = ud;
    cstream_t *s = cs(c, id);
    if (s)
        s->body += len;
    if (c->consume)
        nghttp2_session_consume(ng, id, len);
    else
        c->unconsumed += len;
    return 0;
}

static int c_frame(nghttp2_session *ng, const nghttp2_frame *f, void *ud)
{
    (void)ng;
    client_t *c = ud;
    if (f->hd.type == NGHTTP2_GOAWAY && c->goaways < 4) {
        c->goaway_last[c->goaways] = f->goaway.last_stream_id;
        c->goaway_err[c->goaways++] = f->goaway.error_code;
    }
    return 0;
}

static int c_close(nghttp2_session *ng, int32_t id, uint32_t err, void *ud)
{
    (void)ng;
    cstream_t *s = cs(ud, id);
    if (s) {
        s->closed = 1;
        s->close_err = err;
    }
    return 0;
}

/* The request body a test gives, with or without END_STREAM after it. */
typedef struct body_src {
    const char *p;
    size_t len, off;
    int end;
} body_src_t;

static ssize_t body_read(nghttp2_session *ng, int32_t id, uint8_t *buf, size_t len, uint32_t *flags,
                         nghttp2_data_source *src, void *ud)
{
    (void)ng, (void)id, (void)ud;
    body_src_t *b = src->ptr;
    size_t n = b->len - b->off < len ? b->len - b->off : len;
    memcpy(buf, b->p + b->off, n);
    b->off += n;
    if (b->off == b->len) {
        if (b->end)
            *flags |= NGHTTP2_DATA_FLAG_EOF;
        else if (n == 0)
            return NGHTTP2_ERR_DEFERRED;
    }
    return (ssize_t)n;
}

static void client_open(h2server_ctx_t *ctx, client_t *c, int consume, uint32_t window)
{
    memset(c, 0, sizeof(*c));
    c->consume = consume;
    int sv[2];
    socketpair(AF_UNIX, SOCK_STREAM, 0, sv);
    fcntl(sv[0], F_SETFL, O_NONBLOCK);
    fcntl(sv[1], F_SETFL, O_NONBLOCK);
    c->fd = sv[0];
    h2o_socket_t *sock = h2o_evloop_socket_create(loop, sv[1], 0);
    nghttp2_session_callbacks *cb;
    nghttp2_session_callbacks_new(&cb);
    nghttp2_session_callbacks_set_on_header_callback(cb, c_header);
    nghttp2_session_callbacks_set_on_data_chunk_recv_callback(cb, c_data);
    nghttp2_session_callbacks_set_on_frame_recv_callback(cb, c_frame);
    nghttp2_session_callbacks_set_on_stream_close_callback(cb, c_close);
    nghttp2_option *opt;
    nghttp2_option_new(&opt);
    nghttp2_option_set_no_auto_window_update(opt, 1);
    /* the client sends what the test says, past the server's limits too */
    nghttp2_option_set_peer_max_concurrent_streams(opt, 100000);
    nghttp2_session_client_new2(&c->ng, cb, c, opt);
    nghttp2_option_del(opt);
    nghttp2_session_callbacks_del(cb);
    nghttp2_settings_entry set[] = {{NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE, window ? window : 65535}};
    nghttp2_submit_settings(c->ng, NGHTTP2_FLAG_NONE, set, 1);
    h2server_accept(ctx, sock, NULL);
}

static void client_close(client_t *c)
{
    nghttp2_session_del(c->ng);
    close(c->fd);
}

/* The client's frames out, without the server's loop. */
static void client_write(client_t *c)
{
    const uint8_t *p;
    ssize_t n;
    while ((n = nghttp2_session_mem_send(c->ng, &p)) > 0)
        for (size_t off = 0; off < (size_t)n;) {
            ssize_t w = write(c->fd, p + off, (size_t)n - off);
            if (w > 0)
                off += (size_t)w;
            else
                h2o_evloop_run(loop, 1);
        }
}

/* One round: the client's frames out, the server's loop, the answers in. */
static void pump(client_t *c)
{
    const uint8_t *p;
    ssize_t n;
    while ((n = nghttp2_session_mem_send(c->ng, &p)) > 0) {
        size_t off = 0;
        while (off < (size_t)n) {
            ssize_t w = write(c->fd, p + off, (size_t)n - off);
            if (w > 0) {
                off += (size_t)w;
            } else {
                h2o_evloop_run(loop, 1); /* the pipe is full: let the server read */
                uint8_t in[65536];
                ssize_t r = read(c->fd, in, sizeof(in));
                if (r > 0)
                    nghttp2_session_mem_recv(c->ng, in, (size_t)r);
            }
        }
    }
    h2o_evloop_run(loop, 1);
    for (;;) {
        uint8_t in[65536];
        ssize_t r = read(c->fd, in, sizeof(in));
        if (r == 0)
            c->eof = 1;
        if (r <= 0)
            break;
        nghttp2_session_mem_recv(c->ng, in, (size_t)r);
    }
}

#define PUMP_UNTIL(c, cond, ms)                                                                                         \
    do {                                                                                                               \
        uint64_t until_ = mono_ms() + (ms);                                                                            \
        while (!(cond) && mono_ms() < until_)                                                                          \
            pump(c);                                                                                                   \
    } while (0)

static cstream_t *request(client_t *c, const char *path, const char *body, size_t len, int end,
                          const nghttp2_nv *extra, size_t nextra)
{
    nghttp2_nv nv[16] = {
        {(uint8_t *)":method", (uint8_t *)"POST", 7, 4, 0},
        {(uint8_t *)":scheme", (uint8_t *)"http", 7, 4, 0},
        {(uint8_t *)":authority", (uint8_t *)"t", 10, 1, 0},
        {(uint8_t *)":path", (uint8_t *)path, 5, strlen(path), 0},
    };
    for (size_t i = 0; i < nextra; i++)
        nv[4 + i] = extra[i];
    cstream_t *s = &c->st[c->nst++];
    memset(s, 0, sizeof(*s));
    if (body == NULL) {
        s->id = nghttp2_submit_headers(c->ng, end ? NGHTTP2_FLAG_END_STREAM : 0, -1, NULL, nv, 4 + nextra, NULL);
    } else {
        static body_src_t src[2100];
        int k = c->nst - 1;
        src[k] = (body_src_t){body, len, 0, end};
        nghttp2_data_provider dp = {.source.ptr = &src[k], .read_callback = body_read};
        s->id = nghttp2_submit_request(c->ng, NULL, nv, 4 + nextra, &dp, NULL);
    }
    return s;
}

/* ======================================================================== */
/* the tests                                                                 */
/* ======================================================================== */

static h2server_ctx_t *ctx_new(h2server_config_t cfg)
{
    app_reset();
    return h2server_ctx_new(loop, &cfg, &app);
}

static void test_echo_and_trailers(void)
{
    h2server_ctx_t *ctx = ctx_new((h2server_config_t){0});
    client_t c;
    client_open(ctx, &c, 1, 0);
    cstream_t *a = request(&c, "/echo", "hello", 5, 1, NULL, 0);
    PUMP_UNTIL(&c, a->closed, 3000);
    CHECK_INTEQ(a->status, 200);
    CHECK_INTEQ(a->body, 5);
    CHECK_STREQ(a->grpc_status, "0");
    CHECK_STREQ(a->trailer, "yes");
    CHECK_INTEQ(a->close_err, NGHTTP2_NO_ERROR);
    app_stream_t *s = find("/echo", 0);
    CHECK(s != NULL && s->closed && s->close_err == H2SERVER_NO_ERROR);
    /* a client's RST_STREAM reaches on_close with its code */
    cstream_t *h = request(&c, "/hold", NULL, 0, 0, NULL, 0);
    PUMP_UNTIL(&c, find("/hold", 0) != NULL, 3000);
    nghttp2_submit_rst_stream(c.ng, NGHTTP2_FLAG_NONE, h->id, NGHTTP2_CANCEL);
    PUMP_UNTIL(&c, find("/hold", 0)->closed, 3000);
    CHECK_INTEQ(find("/hold", 0)->close_err, H2SERVER_CANCEL);
    /* a hang-up cancels what is open */
    request(&c, "/hold", NULL, 0, 0, NULL, 0);
    PUMP_UNTIL(&c, find("/hold", 0) != NULL && !find("/hold", 0)->closed, 3000);
    client_close(&c);
    uint64_t until = mono_ms() + 3000;
    while (nconn_closed == 0 && mono_ms() < until)
        h2o_evloop_run(loop, 10);
    CHECK_INTEQ(nconn_closed, 1);
    CHECK(find("/hold", 0)->closed && find("/hold", 0)->close_err == H2SERVER_CANCEL);
    CHECK_INTEQ(h2server_conn_count(ctx), 0);
    h2server_ctx_free(ctx);
}

/* SETTINGS_MAX_CONCURRENT_STREAMS as nghttp2 1.52 enforces it: the streams
 * a client opens past it, before our SETTINGS reach it or after, are
 * refused (REFUSED_STREAM) and never reach the user; the connection stays. */
static void test_max_concurrent_streams(void)
{
    h2server_ctx_t *ctx = ctx_new((h2server_config_t){.max_concurrent_streams = 4});
    client_t c;
    client_open(ctx, &c, 1, 0);
    for (int i = 0; i < 6; i++)
        request(&c, "/hold", NULL, 0, 0, NULL, 0);
    PUMP_UNTIL(&c, c.st[4].closed && c.st[5].closed, 3000);
    int refused = 0, open = 0;
    for (int i = 0; i < 6; i++) {
        refused += c.st[i].closed && c.st[i].close_err == NGHTTP2_REFUSED_STREAM;
        open += !c.st[i].closed;
    }
    CHECK_INTEQ(refused, 2);
    CHECK_INTEQ(open, 4);
    CHECK_INTEQ(nrequests, 4); /* the refused ones never reached the user */
    CHECK_INTEQ(nghttp2_session_get_remote_settings(c.ng, NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS), 4);
    /* the limit ACKed, a stream past it again. nghttp2's client queues
     * instead of sending it, so the frame goes raw: HEADERS of stream 101,
     * END_HEADERS, static-table fields only. Measured: refused as well (a
     * stream error), the connection and its 4 streams go on. */
    static const uint8_t raw[] = {0, 0, 6, 1, 4, 0, 0, 0, 101, 0x83, 0x86, 0x84, 0x41, 0x01, 't'};
    CHECK_INTEQ(write(c.fd, raw, sizeof(raw)), (ssize_t)sizeof(raw));
    for (int i = 0; i < 20; i++)
        pump(&c);
    CHECK_INTEQ(nrequests, 4);
    CHECK_INTEQ(h2server_conn_count(ctx), 1);
    CHECK_INTEQ(c.goaways, 0);
    CHECK(!find("/hold", 0)->closed);
    client_close(&c);
    h2server_ctx_free(ctx);
}

/* SETTINGS_MAX_HEADER_LIST_SIZE: nghttp2 1.52 advertises it and does not
 * enforce it on what it receives; h2server does, and marks the request. */
static void test_header_list(void)
{
    h2server_ctx_t *ctx = ctx_new((h2server_config_t){.max_header_list = 1024});
    client_t c;
    client_open(ctx, &c, 1, 0);
    static char v[2000];
    memset(v, 'v', sizeof(v));
    nghttp2_nv small = {(uint8_t *)"x-small", (uint8_t *)v, 7, 500, 0};
    nghttp2_nv large = {(uint8_t *)"x-large", (uint8_t *)v, 7, sizeof(v), 0};
    cstream_t *a = request(&c, "/echo", "", 0, 1, &small, 1);
    cstream_t *b = request(&c, "/echo", "", 0, 1, &large, 1);
    PUMP_UNTIL(&c, a->closed && b->closed, 3000);
    CHECK_INTEQ(nghttp2_session_get_remote_settings(c.ng, NGHTTP2_SETTINGS_MAX_HEADER_LIST_SIZE), 1024);
    CHECK_STREQ(a->grpc_status, "0");
    CHECK_STREQ(b->grpc_status, "8"); /* the app's answer to oversize */
    int oversize = 0;
    for (app_stream_t *s = streams; s; s = s->next)
        oversize += s->oversize;
    CHECK_INTEQ(oversize, 1);
    client_close(&c);
    h2server_ctx_free(ctx);
}

/* Rapid reset (CVE-2023-44487): Debian's nghttp2 1.52 carries the stream
 * reset rate limit. Streams opened and reset at once, as fast as the
 * client can: the connection ends with GOAWAY once the bucket (1000 by
 * default) is spent; its code, measured, is INTERNAL_ERROR. */
static void test_rapid_reset(void)
{
    h2server_ctx_t *ctx = ctx_new((h2server_config_t){.max_concurrent_streams = 100});
    client_t c;
    client_open(ctx, &c, 1, 0);
    pump(&c);
    int sent = 0;
    while (sent < 2000 && c.goaways == 0 && !c.eof) {
        /* 50 HEADERS on the wire, then their 50 RST_STREAMs */
        int first = c.nst;
        for (int i = 0; i < 50; i++)
            request(&c, "/hold", NULL, 0, 0, NULL, 0);
        client_write(&c);
        for (int i = first; i < c.nst; i++)
            nghttp2_submit_rst_stream(c.ng, NGHTTP2_FLAG_NONE, c.st[i].id, NGHTTP2_CANCEL);
        pump(&c);
        sent += 50;
        c.nst = 0; /* the records are not needed */
    }
    PUMP_UNTIL(&c, c.goaways > 0 || c.eof, 3000);
    printf("rapid reset: GOAWAY after %d streams opened and reset (server saw %d requests), error %u\n", sent,
           nrequests, c.goaways ? c.goaway_err[0] : 0);
    CHECK_INTEQ(c.goaways, 1);
    CHECK_INTEQ(c.goaway_err[0], NGHTTP2_INTERNAL_ERROR); /* measured: not ENHANCE_YOUR_CALM */
    CHECK(nrequests >= 1000 && nrequests < 1100);
    client_close(&c);
    h2server_ctx_free(ctx);
}

/* Both directions of flow control. */
static void test_flow_control(void)
{
    h2server_ctx_t *ctx = ctx_new((h2server_config_t){.stream_window = 1000, .stream_buffer = 4096});
    client_t c;
    /* request bodies: a stalled stream holds at most its window */
    client_open(ctx, &c, 1, 0);
    /* after the handshake: streams opened before our SETTINGS reach the
     * client may send HTTP/2's default 65535 bytes (RFC 9113 6.9.2) */
    for (int i = 0; i < 5; i++)
        pump(&c);
    static char body[5000];
    memset(body, 'x', sizeof(body));
    cstream_t *a = request(&c, "/stall", body, sizeof(body), 1, NULL, 0);
    PUMP_UNTIL(&c, find("/stall", 0) && find("/stall", 0)->got == 1000, 3000);
    for (int i = 0; i < 20; i++)
        pump(&c);
    app_stream_t *st = find("/stall", 0);
    CHECK_INTEQ(st->got, 1000); /* no more until it consumes */
    h2server_consume(st->s, 1000);
    PUMP_UNTIL(&c, st->got == 2000, 3000);
    CHECK_INTEQ(st->got, 2000);
    /* and so on: every byte consumed lets one more in */
    size_t consumed = 1000;
    uint64_t until = mono_ms() + 3000;
    while ((st->got < 5000 || !st->ended) && mono_ms() < until) {
        if (st->got > consumed) {
            CHECK(st->got - consumed <= 1000);
            h2server_consume(st->s, st->got - consumed);
            consumed = st->got;
        }
        pump(&c);
    }
    CHECK_INTEQ(st->got, 5000);
    CHECK(st->ended);
    /* ... and the connection's window did not wait for it: another stream flows */
    cstream_t *e = request(&c, "/echo", body, 3000, 1, NULL, 0);
    PUMP_UNTIL(&c, e->closed, 3000);
    CHECK_INTEQ(e->body, 3000);
    (void)a;
    client_close(&c);
    h2server_ctx_free(ctx);

    /* responses: a reader that does not read; the queue says full, and
     * writable once it is read */
    ctx = ctx_new((h2server_config_t){.stream_buffer = 4096});
    client_open(ctx, &c, 0, 0);
    big = 100000;
    cstream_t *b = request(&c, "/big", NULL, 0, 1, NULL, 0);
    PUMP_UNTIL(&c, b->body == 65535, 3000);
    for (int i = 0; i < 10; i++)
        pump(&c);
    CHECK_INTEQ(b->body, 65535); /* the client's initial window, no more */
    CHECK(full_seen);
    app_stream_t *bs = find("/big", 0);
    CHECK_INTEQ(h2server_queued(bs->s), 100000 - 65535);
    CHECK_INTEQ(bs->writable, 0);
    nghttp2_session_consume(c.ng, b->id, c.unconsumed);
    c.unconsumed = 0;
    c.consume = 1;
    PUMP_UNTIL(&c, bs->writable > 0, 3000);
    CHECK_INTEQ(bs->writable, 1);
    CHECK(h2server_queued(bs->s) < 2048);
    client_close(&c);
    h2server_ctx_free(ctx);
}

/* A HEADERS frame written raw (END_HEADERS | END_STREAM), its block the
 * fields given: literal, never indexed, so the client's HPACK state is not
 * touched. */
static void raw_request(client_t *c, uint32_t id, const char *const *fields, size_t n)
{
    uint8_t f[1024];
    size_t len = 9;
    for (size_t i = 0; i < n; i += 2) {
        size_t nl = strlen(fields[i]), vl = strlen(fields[i + 1]);
        f[len++] = 0x10; /* literal never indexed, new name */
        f[len++] = (uint8_t)nl;
        memcpy(f + len, fields[i], nl);
        len += nl;
        f[len++] = (uint8_t)vl;
        memcpy(f + len, fields[i + 1], vl);
        len += vl;
    }
    size_t plen = len - 9;
    uint8_t hd[9] = {(uint8_t)(plen >> 16), (uint8_t)(plen >> 8), (uint8_t)plen, 1, 5,
                     (uint8_t)(id >> 24), (uint8_t)(id >> 16), (uint8_t)(id >> 8), (uint8_t)id};
    memcpy(f, hd, 9);
    CHECK_INTEQ(write(c->fd, f, len), (ssize_t)len);
}

/* Requests RFC 9113 calls malformed never reach the user (nghttp2's HTTP
 * messaging is off; h2server checks them itself). */
static void test_malformed(void)
{
    h2server_ctx_t *ctx = ctx_new((h2server_config_t){0});
    client_t c;
    client_open(ctx, &c, 1, 0);
    for (int i = 0; i < 5; i++)
        pump(&c);
#define REQ ":method", "POST", ":scheme", "http", ":path", "/only"
    static const char *const good[] = {REQ, "x-ok", "fine"};
    static const char *const upper[] = {REQ, "X-Bad", "v"};
    static const char *const late_pseudo[] = {":method", "POST", ":scheme", "http", "x-a", "b", ":path", "/only"};
    static const char *const no_path[] = {":method", "POST", ":scheme", "http"};
    static const char *const twice[] = {REQ, ":path", "/again"};
    static const char *const conn[] = {REQ, "connection", "close"};
    static const char *const te[] = {REQ, "te", "gzip"};
    static const char *const crlf[] = {REQ, "x-v", "a\r\nb"};
    static const char *const status[] = {REQ, ":status", "200"};
    static const char *const space[] = {REQ, "x y", "v"};
    raw_request(&c, 201, good, 8);
    raw_request(&c, 203, upper, 8);
    raw_request(&c, 205, late_pseudo, 8);
    raw_request(&c, 207, no_path, 4);
    raw_request(&c, 209, twice, 8);
    raw_request(&c, 211, conn, 8);
    raw_request(&c, 213, te, 8);
    raw_request(&c, 215, crlf, 8);
    raw_request(&c, 217, status, 8);
    raw_request(&c, 219, space, 8);
    for (int i = 0; i < 20; i++)
        pump(&c);
    CHECK_INTEQ(nrequests, 1); /* only the good one */
    CHECK(find("/only", 0) != NULL);
    /* (this client takes the resets of streams it never opened as a
     * connection error and leaves: a fresh connection shows the server on) */
    client_close(&c);
    client_open(ctx, &c, 1, 0);
    cstream_t *e = request(&c, "/echo", "ok", 2, 1, NULL, 0);
    PUMP_UNTIL(&c, e->closed, 3000);
    CHECK_STREQ(e->grpc_status, "0");
    client_close(&c);
    h2server_ctx_free(ctx);
}

static void test_handshake_timeout(void)
{
    h2server_ctx_t *ctx = ctx_new((h2server_config_t){.handshake_timeout_ms = 100});
    int sv[2];
    socketpair(AF_UNIX, SOCK_STREAM, 0, sv);
    fcntl(sv[1], F_SETFL, O_NONBLOCK);
    h2server_accept(ctx, h2o_evloop_socket_create(loop, sv[1], 0), NULL);
    uint64_t t0 = mono_ms(), until = t0 + 3000;
    while (nconn_closed == 0 && mono_ms() < until)
        h2o_evloop_run(loop, 10);
    CHECK_INTEQ(nconn_closed, 1);
    CHECK(mono_ms() - t0 >= 90);
    close(sv[0]);
    /* not HTTP/2 at all: GOAWAY and closed */
    int sw[2];
    socketpair(AF_UNIX, SOCK_STREAM, 0, sw);
    fcntl(sw[1], F_SETFL, O_NONBLOCK);
    h2server_accept(ctx, h2o_evloop_socket_create(loop, sw[1], 0), NULL);
    (void)!write(sw[0], "GET / HTTP/1.1\r\nHost: x\r\n\r\n", 27);
    until = mono_ms() + 3000;
    while (nconn_closed == 1 && mono_ms() < until)
        h2o_evloop_run(loop, 10);
    CHECK_INTEQ(nconn_closed, 2);
    close(sw[0]);
    h2server_ctx_free(ctx);
}

static void test_shutdown(void)
{
    h2server_ctx_t *ctx = ctx_new((h2server_config_t){0});
    client_t c;
    client_open(ctx, &c, 1, 0);
    cstream_t *h = request(&c, "/hold", NULL, 0, 1, NULL, 0);
    PUMP_UNTIL(&c, find("/hold", 0) != NULL, 3000);
    h2server_shutdown(ctx, 0);
    PUMP_UNTIL(&c, c.goaways == 1, 3000);
    CHECK_INTEQ(c.goaway_last[0], (1u << 31) - 1);
    /* (a client stops opening streams at the notice: nghttp2's and gRPC's do) */
    h2server_shutdown(ctx, 1);
    PUMP_UNTIL(&c, c.goaways == 2, 3000);
    CHECK_INTEQ(c.goaway_last[1], h->id);
    CHECK_INTEQ(c.goaway_err[1], NGHTTP2_NO_ERROR);
    /* the stream in flight finishes, then the connection closes */
    app_stream_t *hs = find("/hold", 0);
    h2server_header_t t[] = {H("content-type", "application/grpc"), H("grpc-status", "0")};
    h2server_respond(hs->s, 200, t, 2, 1);
    PUMP_UNTIL(&c, h->closed && c.eof, 3000);
    CHECK_STREQ(h->grpc_status, "0");
    CHECK(c.eof);
    CHECK_INTEQ(h2server_conn_count(ctx), 0);
    client_close(&c);
    h2server_ctx_free(ctx);
}

int main(void)
{
    signal(SIGPIPE, SIG_IGN);
    loop = h2o_evloop_create();
    test_echo_and_trailers();
    test_max_concurrent_streams();
    test_header_list();
    test_rapid_reset();
    test_flow_control();
    test_malformed();
    test_handshake_timeout();
    test_shutdown();
    app_reset();
    for (int i = 0; i < 3; i++)
        h2o_evloop_run(loop, 0);
    h2o_evloop_destroy(loop);
    return test_summary();
}
