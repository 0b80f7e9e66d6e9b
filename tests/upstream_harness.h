/*
 * upstream_harness.h: what the upstream tests share. A scriptable HTTP/2
 * gRPC server (an nghttp2 server session per connection, on a loopback port
 * chosen at run time, in its own thread with a poll loop), and the client
 * side: an h2o evloop in the main thread, bounded waits, handlers that
 * record what a call saw.
 *
 * What the server does is picked by the method name of the request path
 * (/test.Svc/<Method>) and by server-wide settings (MAX_CONCURRENT_STREAMS,
 * GOAWAY after the Nth request, PINGs left unanswered, garbage instead of
 * HTTP/2, request windows it returns only when told). Unary methods answer
 * once the request has ended; the streaming ones (Collect, Chat, Stall,
 * CancelAfterFirst, EarlyReply) follow the request's messages as they come.
 *
 * Each test program includes it once; a helper one of them does not use
 * is not a mistake, hence the pragma.
 */
#ifndef AG_TESTS_UPSTREAM_HARNESS_H
#define AG_TESTS_UPSTREAM_HARNESS_H

#pragma GCC diagnostic ignored "-Wunused-function"

#ifndef H2O_USE_LIBUV
#define H2O_USE_LIBUV 0
#endif
#include "upstream/upstream.h"
#include "test.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <nghttp2/nghttp2.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <h2o/socket/evloop.h>

static uint64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* ======================================================================== */
/* the test server                                                          */
/* ======================================================================== */

typedef struct srv_cfg {
    uint32_t mcs;     /* MAX_CONCURRENT_STREAMS to announce; 0: none */
    int no_ping_ack;  /* leave PINGs unanswered */
    int goaway_after; /* GOAWAY (last id = that stream) when the Nth request of a connection completes */
    int garbage;      /* answer with HTTP/1.1 bytes and close */
    uint32_t window;  /* request windows of this size, returned by hand (Stall holds them); 0: nghttp2's, automatic */
} srv_cfg_t;

typedef struct sstream {
    int32_t id;
    char method[32];
    uint8_t *req;
    size_t reqlen, reqcap;
    char echo[64];
    int xstatus, delay_ms;
    uint8_t *resp;
    size_t resplen, respoff, chunk;
    int with_trailers;
    uint64_t due;
    int waiting;
    /* streaming methods: the request's messages, followed as they arrive */
    int streaming;              /* answers before the request has ended */
    size_t parsed;              /* bytes of req cut into messages */
    int nmsgs, bad_framing, req_ended, responded, deferred;
    char seen[256];             /* the messages so far, '|'-separated */
    size_t unconsumed;          /* window bytes Stall holds back */
    uint64_t stall_until;
    struct sstream *next;
} sstream_t;

typedef struct srv srv_t;

typedef struct sconn {
    srv_t *srv;
    int fd;
    nghttp2_session *ng;
    sstream_t *streams;
    int nreq, goaway_sent, dead;
    int32_t goaway_id;
    uint8_t *out; /* gathered frames: one send() per loop iteration, as a real server batches */
    size_t outlen, outoff, outcap;
} sconn_t;

#define MAX_SCONN 32

struct srv {
    srv_cfg_t cfg;
    int lfd, wake[2];
    uint16_t port;
    pthread_t th;
    atomic_int stop;
    atomic_int accepted, requests, active, max_active, rst_received, pings;
    atomic_int stall_seen; /* request bytes a Stall stream received while it held its window */
    pthread_mutex_t mu;
    char last_timeout[32], last_authority[64], last_te[32], last_ct[64], last_reqid[64];
    sconn_t *conns[MAX_SCONN];
    int nconns;
};

static void sstr_set(srv_t *s, char *dst, size_t cap, const uint8_t *v, size_t vl)
{
    pthread_mutex_lock(&s->mu);
    snprintf(dst, cap, "%.*s", (int)vl, (const char *)v);
    pthread_mutex_unlock(&s->mu);
}

static void sstr_get(srv_t *s, const char *src, char *out, size_t cap)
{
    pthread_mutex_lock(&s->mu);
    snprintf(out, cap, "%s", src);
    pthread_mutex_unlock(&s->mu);
}

static void frame_msg(sstream_t *st, uint8_t flag, const void *p, size_t n)
{
    st->resp = realloc(st->resp, st->resplen + 5 + n);
    uint8_t *o = st->resp + st->resplen;
    o[0] = flag;
    o[1] = (uint8_t)(n >> 24);
    o[2] = (uint8_t)(n >> 16);
    o[3] = (uint8_t)(n >> 8);
    o[4] = (uint8_t)n;
    if (n)
        memcpy(o + 5, p, n);
    st->resplen += 5 + n;
}

#define SNV(n, v) {(uint8_t *)(n), (uint8_t *)(v), strlen(n), strlen(v), NGHTTP2_NV_FLAG_NONE}

static ssize_t s_read_body(nghttp2_session *ng, int32_t id, uint8_t *buf, size_t len, uint32_t *flags,
                           nghttp2_data_source *src, void *ud)
{
    (void)ud;
    sstream_t *st = src->ptr;
    size_t n = st->resplen - st->respoff;
    if (n > len)
        n = len;
    if (st->chunk && n > st->chunk)
        n = st->chunk;
    if (n == 0 && st->streaming && !st->req_ended) {
        st->deferred = 1;
        return NGHTTP2_ERR_DEFERRED;
    }
    memcpy(buf, st->resp + st->respoff, n);
    st->respoff += n;
    if (st->respoff == st->resplen && (!st->streaming || st->req_ended)) {
        *flags |= NGHTTP2_DATA_FLAG_EOF;
        if (st->with_trailers) {
            nghttp2_nv tr[] = {SNV("grpc-status", "0"), SNV("grpc-message", "all%20good"), SNV("x-trailer", "t1")};
            if (nghttp2_submit_trailer(ng, id, tr, 3) == 0)
                *flags |= NGHTTP2_DATA_FLAG_NO_END_STREAM;
        }
    }
    return (ssize_t)n;
}

static int s_flush(sconn_t *sc);

static int is_follow(const char *m)
{
    return strcmp(m, "Collect") == 0 || strcmp(m, "Chat") == 0 || strcmp(m, "Stall") == 0 ||
           strcmp(m, "CancelAfterFirst") == 0 || strcmp(m, "EarlyReply") == 0;
}

static void s_submit(sconn_t *sc, sstream_t *st)
{
    nghttp2_nv h[] = {SNV(":status", "200"), SNV("content-type", "application/grpc")};
    nghttp2_data_provider dp = {.source.ptr = st, .read_callback = s_read_body};
    st->responded = 1;
    st->with_trailers = 1;
    nghttp2_submit_response(sc->ng, st->id, h, 2, &dp);
}

/* The end of a streaming method's request. */
static void s_follow_end(sconn_t *sc, sstream_t *st)
{
    const char *m = st->method;
    st->req_ended = 1;
    if (st->bad_framing || st->parsed != st->reqlen) {
        nghttp2_nv h[] = {SNV(":status", "200"), SNV("content-type", "application/grpc"), SNV("grpc-status", "13"),
                          SNV("grpc-message", "bad framing")};
        if (!st->responded)
            nghttp2_submit_response(sc->ng, st->id, h, 4, NULL);
        else
            nghttp2_submit_rst_stream(sc->ng, NGHTTP2_FLAG_NONE, st->id, NGHTTP2_INTERNAL_ERROR);
        st->responded = 1;
        return;
    }
    if (strcmp(m, "Collect") == 0 || strcmp(m, "Stall") == 0) {
        char reply[300];
        int n = snprintf(reply, sizeof(reply), "%d/%zu:%s", st->nmsgs, st->parsed - 5 * (size_t)st->nmsgs, st->seen);
        frame_msg(st, 0, reply, (size_t)n);
        s_submit(sc, st);
    } else if (strcmp(m, "Chat") == 0) {
        if (!st->responded)
            s_submit(sc, st);
        else if (st->deferred) {
            st->deferred = 0;
            nghttp2_session_resume_data(sc->ng, st->id);
        }
    }
}

/* One whole request message of a streaming method, as soon as it is in. */
static void s_follow_message(sconn_t *sc, sstream_t *st, const uint8_t *p, size_t n)
{
    const char *m = st->method;
    size_t l = strlen(st->seen);
    snprintf(st->seen + l, sizeof(st->seen) - l, "%s%.*s", l ? "|" : "", (int)(n > 40 ? 40 : n), (const char *)p);
    st->nmsgs++;
    if (strcmp(m, "Chat") == 0) {
        char r[64];
        int k = snprintf(r, sizeof(r), "echo:%.*s", (int)(n > 40 ? 40 : n), (const char *)p);
        frame_msg(st, 0, r, (size_t)k);
        if (!st->responded) {
            s_submit(sc, st);
        } else if (st->deferred) {
            st->deferred = 0;
            nghttp2_session_resume_data(sc->ng, st->id);
        }
    } else if (strcmp(m, "CancelAfterFirst") == 0 && st->nmsgs == 1) {
        nghttp2_submit_rst_stream(sc->ng, NGHTTP2_FLAG_NONE, st->id, NGHTTP2_CANCEL);
    } else if (strcmp(m, "EarlyReply") == 0 && st->nmsgs == 1) {
        frame_msg(st, 0, "early", 5);
        s_submit(sc, st);
    }
}

/* Cuts what the request has brought so far into messages. */
static void s_follow(sconn_t *sc, sstream_t *st)
{
    while (!st->bad_framing && st->reqlen - st->parsed >= 5) {
        const uint8_t *p = st->req + st->parsed;
        size_t n = (size_t)p[1] << 24 | (size_t)p[2] << 16 | (size_t)p[3] << 8 | p[4];
        if (p[0] != 0) {
            st->bad_framing = 1;
            break;
        }
        if (st->reqlen - st->parsed - 5 < n)
            break;
        st->parsed += 5 + n;
        s_follow_message(sc, st, p + 5, n);
    }
}

static void s_respond(sconn_t *sc, sstream_t *st)
{
    nghttp2_session *ng = sc->ng;
    const char *m = st->method;
    if (is_follow(m)) {
        if (!st->responded || strcmp(m, "Chat") == 0)
            s_follow_end(sc, st);
        return;
    }
    if (strcmp(m, "Never") == 0)
        return;
    if (strcmp(m, "Close") == 0) {
        sc->dead = 1;
        return;
    }
    if (strcmp(m, "Refuse") == 0 || strcmp(m, "ResetCancel") == 0) {
        nghttp2_submit_rst_stream(ng, NGHTTP2_FLAG_NONE, st->id, m[0] == 'R' && m[2] == 'f' ? NGHTTP2_REFUSED_STREAM
                                                                                            : NGHTTP2_CANCEL);
        return;
    }
    if (strcmp(m, "Hostile") == 0) {
        /* a HEADERS frame whose HPACK block names a table entry that does not exist */
        uint8_t f[10] = {0, 0, 1, NGHTTP2_HEADERS, NGHTTP2_FLAG_END_HEADERS, (uint8_t)(st->id >> 24 & 0x7f),
                         (uint8_t)(st->id >> 16), (uint8_t)(st->id >> 8), (uint8_t)st->id, 0xbf};
        s_flush(sc);
        ssize_t w = send(sc->fd, f, sizeof(f), MSG_NOSIGNAL);
        (void)w;
        return;
    }
    if (strcmp(m, "Error") == 0) {
        char code[8];
        snprintf(code, sizeof(code), "%d", st->xstatus);
        nghttp2_nv h[] = {SNV(":status", "200"), SNV("content-type", "application/grpc"), SNV("grpc-status", code),
                          SNV("grpc-message", "bad%20thing%3a%20%E2%9C%93%zz"), SNV("x-info", "1")};
        nghttp2_submit_response(ng, st->id, h, 5, NULL);
        return;
    }
    if (strcmp(m, "Http503") == 0 || strcmp(m, "Http404") == 0) {
        nghttp2_nv h[] = {SNV(":status", m + 4), SNV("content-type", "text/plain")};
        nghttp2_submit_response(ng, st->id, h, 2, NULL);
        return;
    }
    if (strcmp(m, "Echo") == 0 || strcmp(m, "Slow") == 0) {
        frame_msg(st, 0, st->req + 5, st->reqlen >= 5 ? st->reqlen - 5 : 0);
    } else if (strcmp(m, "Split") == 0) {
        frame_msg(st, 0, st->req + 5, st->reqlen >= 5 ? st->reqlen - 5 : 0);
        st->chunk = 3;
    } else if (strcmp(m, "Two") == 0) {
        frame_msg(st, 0, "one", 3);
        frame_msg(st, 0, "two", 3);
    } else if (strcmp(m, "Stream") == 0) {
        for (int i = 0; i < 5; i++) {
            char b[4];
            snprintf(b, sizeof(b), "m%d", i);
            frame_msg(st, 0, b, 2);
        }
        st->chunk = 7; /* one message per DATA frame */
    } else if (strcmp(m, "Big") == 0) {
        size_t n = 200000;
        uint8_t *b = malloc(n);
        for (size_t i = 0; i < n; i++)
            b[i] = (uint8_t)(i * 7);
        frame_msg(st, 0, b, n);
        free(b);
    } else if (strcmp(m, "Compressed") == 0) {
        frame_msg(st, 1, "zz", 2);
    } else if (strcmp(m, "EchoRaw") == 0) {
        /* the request's bytes back as they came, flags and all (a pass-through's view) */
        st->resp = realloc(st->resp, st->resplen + st->reqlen + 1);
        memcpy(st->resp + st->resplen, st->req, st->reqlen);
        st->resplen += st->reqlen;
    } else {
        frame_msg(st, 0, "fixed-reply", 11);
    }
    st->with_trailers = 1;
    nghttp2_nv h[] = {SNV(":status", "200"), SNV("content-type", "application/grpc"), SNV("x-echo", st->echo)};
    nghttp2_data_provider dp = {.source.ptr = st, .read_callback = s_read_body};
    nghttp2_submit_response(ng, st->id, h, st->echo[0] ? 3 : 2, &dp);
}

static void s_request_done(sconn_t *sc, sstream_t *st)
{
    srv_t *s = sc->srv;
    if (sc->goaway_sent && st->id > sc->goaway_id)
        return; /* above our GOAWAY: nghttp2 drops it */
    atomic_fetch_add(&s->requests, 1);
    sc->nreq++;
    if (s->cfg.goaway_after && sc->nreq == s->cfg.goaway_after && !sc->goaway_sent) {
        sc->goaway_sent = 1;
        sc->goaway_id = st->id;
        nghttp2_submit_goaway(sc->ng, NGHTTP2_FLAG_NONE, st->id, NGHTTP2_NO_ERROR, NULL, 0);
    }
    if (st->delay_ms > 0) {
        st->waiting = 1;
        st->due = mono_ms() + (uint64_t)st->delay_ms;
        return;
    }
    s_respond(sc, st);
}

static int s_begin_headers(nghttp2_session *ng, const nghttp2_frame *f, void *ud)
{
    sconn_t *sc = ud;
    if (f->hd.type != NGHTTP2_HEADERS || f->headers.cat != NGHTTP2_HCAT_REQUEST)
        return 0;
    sstream_t *st = calloc(1, sizeof(*st));
    st->id = f->hd.stream_id;
    st->next = sc->streams;
    sc->streams = st;
    nghttp2_session_set_stream_user_data(ng, st->id, st);
    int a = atomic_fetch_add(&sc->srv->active, 1) + 1;
    int m = atomic_load(&sc->srv->max_active);
    while (a > m && !atomic_compare_exchange_weak(&sc->srv->max_active, &m, a))
        ;
    return 0;
}

static int s_header(nghttp2_session *ng, const nghttp2_frame *f, const uint8_t *n, size_t nl, const uint8_t *v,
                    size_t vl, uint8_t fl, void *ud)
{
    (void)fl;
    sconn_t *sc = ud;
    srv_t *s = sc->srv;
    sstream_t *st = nghttp2_session_get_stream_user_data(ng, f->hd.stream_id);
    if (st == NULL)
        return 0;
#define IS(lit) (nl == strlen(lit) && memcmp(n, lit, nl) == 0)
    if (IS(":path")) {
        const uint8_t *slash = memchr(v + 1, '/', vl - 1);
        size_t off = slash ? (size_t)(slash - v) + 1 : 0;
        snprintf(st->method, sizeof(st->method), "%.*s", (int)(vl - off), (const char *)v + off);
    } else if (IS(":authority")) {
        sstr_set(s, s->last_authority, sizeof(s->last_authority), v, vl);
    } else if (IS("te")) {
        sstr_set(s, s->last_te, sizeof(s->last_te), v, vl);
    } else if (IS("content-type")) {
        sstr_set(s, s->last_ct, sizeof(s->last_ct), v, vl);
    } else if (IS("grpc-timeout")) {
        sstr_set(s, s->last_timeout, sizeof(s->last_timeout), v, vl);
    } else if (IS("x-request-id")) {
        sstr_set(s, s->last_reqid, sizeof(s->last_reqid), v, vl);
    } else if (IS("x-echo")) {
        snprintf(st->echo, sizeof(st->echo), "%.*s", (int)vl, (const char *)v);
    } else if (IS("x-status")) {
        st->xstatus = atoi((const char *)v);
    } else if (IS("x-delay-ms")) {
        st->delay_ms = atoi((const char *)v);
    }
#undef IS
    return 0;
}

static int s_data(nghttp2_session *ng, uint8_t fl, int32_t id, const uint8_t *d, size_t len, void *ud)
{
    (void)fl;
    sconn_t *sc = ud;
    sstream_t *st = nghttp2_session_get_stream_user_data(ng, id);
    if (st != NULL && st->stall_until != 0) {
        st->unconsumed += len;
        atomic_store(&sc->srv->stall_seen, (int)st->unconsumed);
    } else if (sc->srv->cfg.window) {
        nghttp2_session_consume(ng, id, len);
    }
    if (st == NULL)
        return 0;
    if (st->reqlen + len > st->reqcap) {
        st->reqcap = (st->reqlen + len) * 2;
        st->req = realloc(st->req, st->reqcap);
    }
    memcpy(st->req + st->reqlen, d, len);
    st->reqlen += len;
    if (is_follow(st->method))
        s_follow(sc, st);
    return 0;
}

static int s_frame_recv(nghttp2_session *ng, const nghttp2_frame *f, void *ud)
{
    sconn_t *sc = ud;
    if (f->hd.type == NGHTTP2_RST_STREAM)
        atomic_fetch_add(&sc->srv->rst_received, 1);
    if (f->hd.type == NGHTTP2_PING && !(f->hd.flags & NGHTTP2_FLAG_ACK))
        atomic_fetch_add(&sc->srv->pings, 1);
    if (f->hd.type == NGHTTP2_HEADERS && f->headers.cat == NGHTTP2_HCAT_REQUEST) {
        sstream_t *st = nghttp2_session_get_stream_user_data(ng, f->hd.stream_id);
        if (st && strcmp(st->method, "Chat") == 0)
            st->streaming = 1;
        if (st && strcmp(st->method, "Stall") == 0) {
            /* holds the request's window for x-delay-ms, then answers at once when the request ends */
            st->stall_until = mono_ms() + (uint64_t)st->delay_ms;
            st->delay_ms = 0;
        }
    }
    if ((f->hd.type == NGHTTP2_HEADERS || f->hd.type == NGHTTP2_DATA) && (f->hd.flags & NGHTTP2_FLAG_END_STREAM)) {
        sstream_t *st = nghttp2_session_get_stream_user_data(ng, f->hd.stream_id);
        if (st)
            s_request_done(sc, st);
    }
    return 0;
}

static int s_stream_close(nghttp2_session *ng, int32_t id, uint32_t err, void *ud)
{
    (void)ng, (void)err;
    sconn_t *sc = ud;
    for (sstream_t **pp = &sc->streams; *pp; pp = &(*pp)->next) {
        if ((*pp)->id == id) {
            sstream_t *st = *pp;
            *pp = st->next;
            free(st->req);
            free(st->resp);
            free(st);
            atomic_fetch_sub(&sc->srv->active, 1);
            break;
        }
    }
    return 0;
}

/* Sends what is pending, then gathers more; -1 when the connection is dead. */
static int s_flush(sconn_t *sc)
{
    for (;;) {
        if (sc->outoff == sc->outlen) {
            sc->outoff = sc->outlen = 0;
            const uint8_t *p;
            ssize_t n;
            while (sc->outlen < (256u << 10) && (n = nghttp2_session_mem_send(sc->ng, &p)) != 0) {
                if (n < 0)
                    return -1;
                if (sc->outlen + (size_t)n > sc->outcap) {
                    sc->outcap = (sc->outlen + (size_t)n) * 2;
                    sc->out = realloc(sc->out, sc->outcap);
                }
                memcpy(sc->out + sc->outlen, p, (size_t)n);
                sc->outlen += (size_t)n;
            }
            if (sc->outlen == 0)
                return 0;
        }
        ssize_t w = send(sc->fd, sc->out + sc->outoff, sc->outlen - sc->outoff, MSG_NOSIGNAL);
        if (w < 0)
            return errno == EAGAIN || errno == EWOULDBLOCK ? 0 : -1;
        sc->outoff += (size_t)w;
    }
}

static void sconn_free(sconn_t *sc)
{
    while (sc->streams) {
        sstream_t *st = sc->streams;
        sc->streams = st->next;
        free(st->req);
        free(st->resp);
        free(st);
        atomic_fetch_sub(&sc->srv->active, 1);
    }
    nghttp2_session_del(sc->ng);
    close(sc->fd);
    free(sc->out);
    free(sc);
}

static void s_accept(srv_t *s)
{
    int fd = accept(s->lfd, NULL, NULL);
    if (fd < 0)
        return;
    atomic_fetch_add(&s->accepted, 1);
    if (s->cfg.garbage) {
        const char *g = "HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n";
        ssize_t r = write(fd, g, strlen(g));
        (void)r;
        close(fd);
        return;
    }
    if (s->nconns == MAX_SCONN) {
        close(fd);
        return;
    }
    fcntl(fd, F_SETFL, O_NONBLOCK);
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    sconn_t *sc = calloc(1, sizeof(*sc));
    sc->srv = s;
    sc->fd = fd;
    nghttp2_session_callbacks *cb;
    nghttp2_session_callbacks_new(&cb);
    nghttp2_session_callbacks_set_on_begin_headers_callback(cb, s_begin_headers);
    nghttp2_session_callbacks_set_on_header_callback(cb, s_header);
    nghttp2_session_callbacks_set_on_data_chunk_recv_callback(cb, s_data);
    nghttp2_session_callbacks_set_on_frame_recv_callback(cb, s_frame_recv);
    nghttp2_session_callbacks_set_on_stream_close_callback(cb, s_stream_close);
    nghttp2_option *opt;
    nghttp2_option_new(&opt);
    if (s->cfg.no_ping_ack)
        nghttp2_option_set_no_auto_ping_ack(opt, 1);
    if (s->cfg.window)
        nghttp2_option_set_no_auto_window_update(opt, 1);
    nghttp2_session_server_new2(&sc->ng, cb, sc, opt);
    nghttp2_option_del(opt);
    nghttp2_session_callbacks_del(cb);
    nghttp2_settings_entry se[2];
    size_t nse = 0;
    if (s->cfg.mcs)
        se[nse++] = (nghttp2_settings_entry){NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS, s->cfg.mcs};
    if (s->cfg.window)
        se[nse++] = (nghttp2_settings_entry){NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE, s->cfg.window};
    nghttp2_submit_settings(sc->ng, NGHTTP2_FLAG_NONE, se, nse);
    s->conns[s->nconns++] = sc;
}

static void *srv_main(void *arg)
{
    srv_t *s = arg;
    static __thread uint8_t buf[65536];
    while (!atomic_load(&s->stop)) {
        struct pollfd pf[MAX_SCONN + 2];
        int n = 0;
        pf[n++] = (struct pollfd){s->wake[0], POLLIN, 0};
        pf[n++] = (struct pollfd){s->lfd, POLLIN, 0};
        uint64_t now = mono_ms(), next = now + 100;
        for (int i = 0; i < s->nconns; i++) {
            sconn_t *sc = s->conns[i];
            pf[n++] = (struct pollfd){sc->fd, (short)(POLLIN | (sc->outoff < sc->outlen ? POLLOUT : 0)), 0};
            for (sstream_t *st = sc->streams; st; st = st->next) {
                if (st->waiting && st->due < next)
                    next = st->due;
                if (st->stall_until && st->stall_until < next)
                    next = st->stall_until;
            }
        }
        poll(pf, (nfds_t)n, next > now ? (int)(next - now) : 0);
        if (pf[0].revents)
            break;
        if (pf[1].revents & POLLIN)
            s_accept(s);
        now = mono_ms();
        for (int i = 0; i < s->nconns; i++) {
            sconn_t *sc = s->conns[i];
            if (i + 2 < n && pf[i + 2].fd == sc->fd && (pf[i + 2].revents & (POLLIN | POLLHUP | POLLERR))) {
                ssize_t r = read(sc->fd, buf, sizeof(buf));
                if (r == 0 || (r < 0 && errno != EAGAIN))
                    sc->dead = 1;
                else if (r > 0 && nghttp2_session_mem_recv(sc->ng, buf, (size_t)r) < 0)
                    sc->dead = 1;
            }
            for (sstream_t *st = sc->streams; st; st = st->next) {
                if (st->waiting && st->due <= now) {
                    st->waiting = 0;
                    s_respond(sc, st);
                }
                if (st->stall_until && st->stall_until <= now) {
                    st->stall_until = 0;
                    if (s->cfg.window)
                        nghttp2_session_consume(sc->ng, st->id, st->unconsumed);
                    st->unconsumed = 0;
                }
            }
            if (!sc->dead && s_flush(sc) != 0)
                sc->dead = 1;
            if (!nghttp2_session_want_read(sc->ng) && !nghttp2_session_want_write(sc->ng) && sc->outoff == sc->outlen)
                sc->dead = 1;
        }
        for (int i = 0; i < s->nconns;) {
            if (s->conns[i]->dead) {
                sconn_free(s->conns[i]);
                s->conns[i] = s->conns[--s->nconns];
            } else {
                i++;
            }
        }
    }
    for (int i = 0; i < s->nconns; i++)
        sconn_free(s->conns[i]);
    s->nconns = 0;
    return NULL;
}

static srv_t *srv_start(srv_cfg_t cfg)
{
    srv_t *s = calloc(1, sizeof(*s));
    s->cfg = cfg;
    pthread_mutex_init(&s->mu, NULL);
    s->lfd = socket(AF_INET, SOCK_STREAM, 0);
    int one = 1;
    setsockopt(s->lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    if (bind(s->lfd, (struct sockaddr *)&sa, sizeof(sa)) != 0 || listen(s->lfd, 128) != 0) {
        perror("test server");
        exit(2);
    }
    socklen_t sl = sizeof(sa);
    getsockname(s->lfd, (struct sockaddr *)&sa, &sl);
    s->port = ntohs(sa.sin_port);
    if (pipe(s->wake) != 0)
        exit(2);
    pthread_create(&s->th, NULL, srv_main, s);
    return s;
}

static void srv_stop(srv_t *s)
{
    atomic_store(&s->stop, 1);
    ssize_t r = write(s->wake[1], "x", 1);
    (void)r;
    pthread_join(s->th, NULL);
    close(s->wake[0]);
    close(s->wake[1]);
    close(s->lfd);
    pthread_mutex_destroy(&s->mu);
    free(s);
}

/* a port nothing listens on */
static uint16_t dead_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    bind(fd, (struct sockaddr *)&sa, sizeof(sa));
    socklen_t sl = sizeof(sa);
    getsockname(fd, (struct sockaddr *)&sa, &sl);
    close(fd);
    return ntohs(sa.sin_port);
}

/* ======================================================================== */
/* the client side                                                          */
/* ======================================================================== */

static h2o_evloop_t *loop;

#define RUN_UNTIL(cond, cap_ms)                                                                                        \
    do {                                                                                                               \
        uint64_t until_ = mono_ms() + (cap_ms);                                                                        \
        while (!(cond) && mono_ms() < until_)                                                                          \
            h2o_evloop_run(loop, 5);                                                                                   \
    } while (0)

static void run_for(int ms)
{
    uint64_t until = mono_ms() + (uint64_t)ms;
    while (mono_ms() < until)
        h2o_evloop_run(loop, 5);
}

typedef struct res {
    int closed, code, nheaders, nmsgs, ntrailers;
    char msg[256];
    char msgs[8][64];
    size_t lens[8];
    char events[32];
    int nevents;
    char echo[64], trailer[64];
    uint64_t started, closed_at;
    int cancel_at_msg;  /* cancel inside on_message number N (1-based) */
    int pause_in_headers;
    int check_big;
    int big_ok;
    int nwritable;                  /* on_writable runs (streaming calls opened with it) */
    void (*after_message)(struct res *r); /* runs at the end of on_message: a bidi test's next send */
    upstream_call_t *call;
} res_t;

static void ev(res_t *r, char e)
{
    if (r->nevents < (int)sizeof(r->events) - 1)
        r->events[r->nevents++] = e;
}

static void on_headers(void *ctx, const upstream_header_t *h, size_t n)
{
    res_t *r = ctx;
    ev(r, 'H');
    r->nheaders = (int)n;
    for (size_t i = 0; i < n; i++)
        if (h[i].name_len == 6 && memcmp(h[i].name, "x-echo", 6) == 0)
            snprintf(r->echo, sizeof(r->echo), "%.*s", (int)h[i].value_len, h[i].value);
    if (r->pause_in_headers)
        upstream_call_pause(r->call);
}

static void on_message(void *ctx, const uint8_t *d, size_t len)
{
    res_t *r = ctx;
    ev(r, 'M');
    if (r->nmsgs < 8) {
        snprintf(r->msgs[r->nmsgs], sizeof(r->msgs[0]), "%.*s", (int)(len < 63 ? len : 63), (const char *)d);
        r->lens[r->nmsgs] = len;
    }
    if (r->check_big) {
        r->big_ok = len == 200000;
        for (size_t i = 0; r->big_ok && i < len; i++)
            r->big_ok = d[i] == (uint8_t)(i * 7);
    }
    r->nmsgs++;
    if (r->cancel_at_msg && r->nmsgs == r->cancel_at_msg)
        upstream_call_cancel(r->call);
    else if (r->after_message)
        r->after_message(r);
}

static void on_close(void *ctx, int code, const char *msg, size_t mlen, const upstream_header_t *t, size_t n)
{
    res_t *r = ctx;
    ev(r, 'C');
    r->closed++;
    r->code = code;
    r->closed_at = mono_ms();
    snprintf(r->msg, sizeof(r->msg), "%.*s", (int)mlen, msg);
    if (getenv("UPSTREAM_TEST_VERBOSE"))
        fprintf(stderr, "  on_close %d \"%s\"\n", code, r->msg);
    r->ntrailers = (int)n;
    for (size_t i = 0; i < n; i++)
        if (t[i].name_len == 9 && memcmp(t[i].name, "x-trailer", 9) == 0)
            snprintf(r->trailer, sizeof(r->trailer), "%.*s", (int)t[i].value_len, t[i].value);
}

static const upstream_handlers_t handlers = {.on_headers = on_headers, .on_message = on_message, .on_close = on_close};

static upstream_cluster_t *cluster_for(uint16_t port, upstream_cluster_config_t *over)
{
    static upstream_target_t tg;
    tg.host = "127.0.0.1";
    tg.port = port;
    upstream_cluster_config_t cfg = {.name = "test", .targets = &tg, .ntargets = 1};
    if (over) {
        cfg.connect_timeout_ms = over->connect_timeout_ms;
        cfg.keepalive_interval_ms = over->keepalive_interval_ms;
        cfg.keepalive_timeout_ms = over->keepalive_timeout_ms;
        cfg.max_queued = over->max_queued;
    }
    char err[256];
    upstream_cluster_t *c = upstream_cluster_new(loop, &cfg, err, sizeof(err));
    if (c == NULL)
        fprintf(stderr, "cluster: %s\n", err);
    return c;
}

static upstream_call_t *start(upstream_cluster_t *c, res_t *r, const char *method, const char *msg,
                              const upstream_header_t *md, size_t nmd, uint32_t timeout_ms)
{
    static char paths[64][64];
    static int np;
    char *path = paths[np++ % 64];
    snprintf(path, 64, "/test.Svc/%s", method);
    r->started = mono_ms();
    r->call = upstream_call_start(c, path, (const uint8_t *)msg, strlen(msg), md, nmd, timeout_ms, &handlers, r);
    return r->call;
}

static void on_writable(void *ctx)
{
    res_t *r = ctx;
    ev(r, 'W');
    r->nwritable++;
}

/* A streaming call, no message yet; with_writable: on_writable gives buffers back as they are taken. */
static upstream_call_t *open_call(upstream_cluster_t *c, res_t *r, const char *method, const upstream_header_t *md,
                                  size_t nmd, uint32_t timeout_ms, int with_writable)
{
    static char paths[64][64];
    static int np;
    char *path = paths[np++ % 64];
    snprintf(path, 64, "/test.Svc/%s", method);
    r->started = mono_ms();
    r->call = upstream_call_open(c, path, md, nmd, timeout_ms, &handlers, with_writable ? on_writable : NULL, r);
    return r->call;
}

static int send_str(res_t *r, const char *s, unsigned flags)
{
    return upstream_call_send(r->call, (const uint8_t *)s, strlen(s), flags);
}

#endif
