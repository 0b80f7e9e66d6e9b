/*
 * http1_framing_test: the HTTP/1.1 framing (gateway/front/http1.c) on bytes
 * alone: request lines and headers, Content-Length and chunked bodies
 * (extensions, trailers, every split point), pipelining, Expect, the
 * hand-off cases, and what it does with oversize or malformed input.
 *
 * The expectations are RFC 9112's where it says reject (repeated
 * Content-Length, Content-Length with Transfer-Encoding, obs-fold, Host,
 * impossible chunk sizes: test_rfc9112), and otherwise what h2o 2.2's
 * picohttpparser does, its lax spots included (bare LF, chunk extensions);
 * tests/http1_uring_test.sh and tests/attack_http1_test.sh check the same
 * paths end to end.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "front/http1.h"
#include "test.h"

#define MAX_BODY 1024

/* A connection as the io_uring front end drives the parser: bytes are
 * appended as they arrive; after a request the parser goes on from the
 * bytes after it; after any other event but NEED_MORE and CONTINUE it
 * stops. What it saw is recorded. */
/* One request as the simulated connection saw it. */
typedef struct seen {
    char method[16], path[64];
    int minor, has_body;
    size_t nh, body_len;
    char body[4096];
    char h0name[32], h0value[64]; /* the first header */
    char hlast_value[64];         /* the last header's value */
} seen_t;

typedef struct sim {
    http1_parser_t p;
    char *buf;
    size_t len, cap;
    int stopped;
    http1_event_t last;      /* the event that stopped it, or NEED_MORE */
    const char *error;       /* BAD_REQUEST's or NOT_IMPLEMENTED's reason */
    size_t too_large;        /* TOO_LARGE's length */
    int nreq, ncontinue;
    int continue_before_req; /* CONTINUEs seen before the first request */
    seen_t req[8];
} sim_t;

static void sim_init(sim_t *s, int upgrade_h2)
{
    memset(s, 0, sizeof(*s));
    http1_parser_init(&s->p, MAX_BODY, upgrade_h2);
    s->cap = 1 << 20;
    s->buf = malloc(s->cap);
}

static void sim_free(sim_t *s)
{
    free(s->buf);
}

static void copy(char *dst, size_t cap, const char *src, size_t n)
{
    if (n >= cap)
        n = cap - 1;
    if (n)
        memcpy(dst, src, n);
    dst[n] = '\0';
}

static void record(sim_t *s, const http1_request_t *r)
{
    if (s->nreq >= 8)
        return;
    seen_t *q = &s->req[s->nreq];
    copy(q->method, sizeof(q->method), r->method, r->method_len);
    copy(q->path, sizeof(q->path), r->path, r->path_len);
    q->minor = r->minor_version;
    q->has_body = r->has_body;
    q->nh = r->num_headers;
    q->body_len = r->body_len;
    copy(q->body, sizeof(q->body), r->body, r->has_body ? r->body_len : 0);
    if (r->num_headers) {
        copy(q->h0name, sizeof(q->h0name), r->headers[0].name, r->headers[0].name_len);
        copy(q->h0value, sizeof(q->h0value), r->headers[0].value, r->headers[0].value_len);
        const struct phr_header *h = &r->headers[r->num_headers - 1];
        copy(q->hlast_value, sizeof(q->hlast_value), h->value, h->value_len);
    }
    if (s->ncontinue && s->nreq == 0)
        s->continue_before_req = s->ncontinue;
}

/* Appends n bytes and parses what can be parsed; the last event. */
static http1_event_t sim_feed(sim_t *s, const char *data, size_t n)
{
    if (s->stopped)
        return s->last;
    if (s->len + n > s->cap)
        abort();
    memcpy(s->buf + s->len, data, n);
    s->len += n;
    for (;;) {
        http1_request_t r;
        http1_event_t ev = http1_parse(&s->p, s->buf, &s->len, &r);
        switch (ev) {
        case HTTP1_NEED_MORE:
            s->last = ev;
            return ev;
        case HTTP1_REQUEST:
            CHECK(r.len <= s->len);
            CHECK(s->p.state == HTTP1_HEAD);
            record(s, &r);
            s->nreq++;
            /* done with it: what follows is the next request */
            memmove(s->buf, s->buf + r.len, s->len - r.len);
            s->len -= r.len;
            break;
        case HTTP1_CONTINUE:
            s->ncontinue++;
            break;
        default:
            if (ev == HTTP1_BAD_REQUEST || ev == HTTP1_NOT_IMPLEMENTED)
                s->error = r.error;
            if (ev == HTTP1_TOO_LARGE)
                s->too_large = r.body_len;
            s->stopped = 1;
            s->last = ev;
            return ev;
        }
    }
}

static http1_event_t sim_feed_str(sim_t *s, const char *str)
{
    return sim_feed(s, str, strlen(str));
}

/* The whole input in one piece, then split at each point, then byte by
 * byte: the same requests, the same end, every time. */
static void check_splits(const char *in, int upgrade_h2, const sim_t *whole)
{
    size_t n = strlen(in);
    for (size_t k = 0; k <= n + 1; k++) {
        sim_t s;
        sim_init(&s, upgrade_h2);
        if (k <= n) {
            sim_feed(&s, in, k);
            sim_feed(&s, in + k, n - k);
        } else {
            for (size_t i = 0; i < n; i++)
                sim_feed(&s, in + i, 1);
        }
        int same = s.last == whole->last && s.nreq == whole->nreq && s.stopped == whole->stopped;
        for (int i = 0; same && i < s.nreq && i < 8; i++)
            same = strcmp(s.req[i].method, whole->req[i].method) == 0 &&
                   strcmp(s.req[i].path, whole->req[i].path) == 0 && s.req[i].nh == whole->req[i].nh &&
                   s.req[i].has_body == whole->req[i].has_body && s.req[i].body_len == whole->req[i].body_len &&
                   memcmp(s.req[i].body, whole->req[i].body, s.req[i].body_len) == 0;
        if (!same)
            fprintf(stderr, "split at %zu of %zu (%zu: bytewise) differs\n", k, n, n + 1);
        CHECK(same);
        sim_free(&s);
    }
}

/* ---- request lines and headers ---------------------------------------------- */

static void test_get(void)
{
    sim_t s;
    sim_init(&s, 1);
    const char *in = "GET /api/v11/transactions/stats?x=1 HTTP/1.1\r\nHost: gw\r\nX-Request-Id: abc\r\n\r\n";
    CHECK_INTEQ(sim_feed_str(&s, in), HTTP1_NEED_MORE);
    CHECK_INTEQ(s.nreq, 1);
    CHECK_STREQ(s.req[0].method, "GET");
    CHECK_STREQ(s.req[0].path, "/api/v11/transactions/stats?x=1");
    CHECK_INTEQ(s.req[0].minor, 1);
    CHECK_INTEQ(s.req[0].nh, 2);
    CHECK_STREQ(s.req[0].h0name, "Host"); /* as sent: the caller lowercases */
    CHECK_STREQ(s.req[0].h0value, "gw");
    CHECK_STREQ(s.req[0].hlast_value, "abc");
    CHECK_INTEQ(s.req[0].has_body, 0);
    CHECK_INTEQ(s.len, 0); /* all of it was the request */
    check_splits(in, 1, &s);
    sim_free(&s);
}

static void test_request_line_forms(void)
{
    sim_t s;
    sim_init(&s, 1);
    sim_feed_str(&s, "GET / HTTP/1.0\r\n\r\n");
    CHECK_INTEQ(s.nreq, 1);
    CHECK_INTEQ(s.req[0].minor, 0);
    CHECK_INTEQ(s.req[0].nh, 0);
    sim_free(&s);

    /* header values lose the blanks before them, not those after */
    sim_init(&s, 1);
    sim_feed_str(&s, "GET / HTTP/1.1\r\nX-A:   padded  \t\r\nHost: x\r\n\r\n");
    CHECK_INTEQ(s.nreq, 1);
    CHECK_STREQ(s.req[0].h0value, "padded  \t");
    sim_free(&s);

    /* an empty value */
    sim_init(&s, 1);
    sim_feed_str(&s, "GET / HTTP/1.1\r\nX-Empty:\r\nHost: x\r\n\r\n");
    CHECK_INTEQ(s.nreq, 1);
    CHECK_STREQ(s.req[0].h0name, "X-Empty");
    CHECK_STREQ(s.req[0].h0value, "");
    sim_free(&s);

    /* one CRLF before the request line is skipped (after a POST body, some clients send one) */
    sim_init(&s, 1);
    sim_feed_str(&s, "\r\nGET /after-crlf HTTP/1.1\r\nHost: x\r\n\r\n");
    CHECK_INTEQ(s.nreq, 1);
    CHECK_STREQ(s.req[0].path, "/after-crlf");
    sim_free(&s);

    /* bare LF line ends are taken */
    sim_init(&s, 1);
    sim_feed_str(&s, "GET /lf HTTP/1.1\nHost: x\n\n");
    CHECK_INTEQ(s.nreq, 1);
    CHECK_STREQ(s.req[0].path, "/lf");
    CHECK_INTEQ(s.req[0].nh, 1);
    sim_free(&s);

    /* any token is a method */
    sim_init(&s, 1);
    sim_feed_str(&s, "BREW /pot HTTP/1.1\r\nHost: x\r\n\r\n");
    CHECK_INTEQ(s.nreq, 1);
    CHECK_STREQ(s.req[0].method, "BREW");
    sim_free(&s);
}

static void test_header_limits(void)
{
    /* 100 headers (Host among them): fine; 101: malformed */
    for (int extra = 0; extra <= 1; extra++) {
        static char in[8192];
        size_t n = (size_t)snprintf(in, sizeof(in), "GET / HTTP/1.1\r\nHost: x\r\n");
        for (int i = 1; i < HTTP1_MAX_HEADERS + extra; i++)
            n += (size_t)snprintf(in + n, sizeof(in) - n, "X-%d: %d\r\n", i, i);
        snprintf(in + n, sizeof(in) - n, "\r\n");
        sim_t s;
        sim_init(&s, 1);
        sim_feed_str(&s, in);
        if (extra == 0) {
            CHECK_INTEQ(s.nreq, 1);
            CHECK_INTEQ(s.req[0].nh, HTTP1_MAX_HEADERS);
        } else {
            CHECK_INTEQ(s.last, HTTP1_BAD_REQUEST);
            CHECK_STREQ(s.error, "malformed request");
        }
        sim_free(&s);
    }
}

static void test_oversize_head(void)
{
    /* a head that never ends: NEED_MORE up to the limit, then 400 */
    size_t n = HTTP1_MAX_HEAD + 100;
    char *in = malloc(n);
    static const char start[] = "GET / HTTP/1.1\r\nHost: x\r\nX-Big: ";
    size_t sl = sizeof(start) - 1;
    memcpy(in, start, sl);
    memset(in + sl, 'a', n - sl);
    sim_t s;
    sim_init(&s, 1);
    CHECK_INTEQ(sim_feed(&s, in, HTTP1_MAX_HEAD - 1), HTTP1_NEED_MORE);
    CHECK_INTEQ(s.p.state, HTTP1_HEAD);
    CHECK_INTEQ(sim_feed(&s, in + HTTP1_MAX_HEAD - 1, 1), HTTP1_BAD_REQUEST);
    CHECK_STREQ(s.error, "request header too large");
    CHECK_INTEQ(s.p.state, HTTP1_REJECTED);
    sim_free(&s);

    /* more than the limit in one piece: the same */
    sim_init(&s, 1);
    CHECK_INTEQ(sim_feed(&s, in, n), HTTP1_BAD_REQUEST);
    CHECK_STREQ(s.error, "request header too large");
    sim_free(&s);

    /* a head that ends just within the limit is a request */
    size_t fit = HTTP1_MAX_HEAD;
    memset(in + sl, 'a', fit - sl - 4);
    memcpy(in + fit - 4, "\r\n\r\n", 4);
    sim_init(&s, 1);
    CHECK_INTEQ(sim_feed(&s, in, fit), HTTP1_NEED_MORE);
    CHECK_INTEQ(s.nreq, 1);
    sim_free(&s);
    free(in);
}

/* ---- Content-Length ------------------------------------------------------------ */

static void test_content_length(void)
{
    sim_t s;
    const char *in = "POST /api/v11/transactions HTTP/1.1\r\nHost: x\r\nContent-Length: 11\r\n\r\nhello world";
    sim_init(&s, 1);
    sim_feed_str(&s, in);
    CHECK_INTEQ(s.nreq, 1);
    CHECK_INTEQ(s.req[0].has_body, 1);
    CHECK_INTEQ(s.req[0].body_len, 11);
    CHECK_STREQ(s.req[0].body, "hello world");
    CHECK_INTEQ(s.req[0].nh, 2); /* Content-Length is among the headers */
    CHECK_INTEQ(s.len, 0);
    check_splits(in, 1, &s);
    sim_free(&s);

    /* head first, body later: the parser waits in BODY_CL, then parses the head again */
    sim_init(&s, 1);
    CHECK_INTEQ(sim_feed_str(&s, "PUT /x HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\n"), HTTP1_NEED_MORE);
    CHECK_INTEQ(s.p.state, HTTP1_BODY_CL);
    CHECK_INTEQ(s.nreq, 0);
    sim_feed_str(&s, "ab");
    CHECK_INTEQ(s.nreq, 0);
    sim_feed_str(&s, "c");
    CHECK_INTEQ(s.nreq, 1);
    CHECK_STREQ(s.req[0].method, "PUT");
    CHECK_STREQ(s.req[0].body, "abc");
    sim_free(&s);

    /* Content-Length: 0 is a body, empty */
    sim_init(&s, 1);
    sim_feed_str(&s, "POST /x HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n");
    CHECK_INTEQ(s.nreq, 1);
    CHECK_INTEQ(s.req[0].has_body, 1);
    CHECK_INTEQ(s.req[0].body_len, 0);
    sim_free(&s);

    /* a second Content-Length, equal or not, is refused (test_rfc9112) */

    /* exactly the limit; one over it: 413 with the declared length */
    char in2[256];
    snprintf(in2, sizeof(in2), "POST /x HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n", MAX_BODY);
    sim_init(&s, 1);
    CHECK_INTEQ(sim_feed_str(&s, in2), HTTP1_NEED_MORE);
    CHECK_INTEQ(s.p.state, HTTP1_BODY_CL);
    sim_free(&s);
    snprintf(in2, sizeof(in2), "POST /x HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n", MAX_BODY + 1);
    sim_init(&s, 1);
    CHECK_INTEQ(sim_feed_str(&s, in2), HTTP1_TOO_LARGE);
    CHECK_INTEQ(s.too_large, MAX_BODY + 1);
    CHECK_INTEQ(s.p.state, HTTP1_REJECTED);
    /* rejected: nothing more is parsed */
    http1_request_t r;
    CHECK_INTEQ(http1_parse(&s.p, s.buf, &s.len, &r), HTTP1_NEED_MORE);
    sim_free(&s);

    /* what h2o_strtosize does not take */
    static const char *const broken[] = {"abc", "-1", "+5", "1 2", "", "0x10", "99999999999999999999999",
                                         "2 " /* the blank after it stays in the value */};
    for (size_t i = 0; i < sizeof(broken) / sizeof(broken[0]); i++) {
        snprintf(in2, sizeof(in2), "POST /x HTTP/1.1\r\nHost: x\r\nContent-Length: %s\r\n\r\n", broken[i]);
        sim_init(&s, 1);
        CHECK_INTEQ(sim_feed_str(&s, in2), HTTP1_BAD_REQUEST);
        CHECK_STREQ(s.error, "broken content-length header");
        sim_free(&s);
    }
    /* blanks before it go with the header parser */
    sim_init(&s, 1);
    sim_feed_str(&s, "POST /x HTTP/1.1\r\nHost: x\r\nContent-Length: \t 2\r\n\r\nok");
    CHECK_INTEQ(s.nreq, 1);
    CHECK_STREQ(s.req[0].body, "ok");
    sim_free(&s);
}

/* ---- chunked ----------------------------------------------------------------------- */

static void test_chunked(void)
{
    sim_t s;
    const char *in = "POST /c HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
                     "5\r\nhello\r\n1;name=value\r\n \r\n6;a;b=\"q\"\r\nworld!\r\n0\r\nX-Trailer: t\r\n\r\n";
    sim_init(&s, 1);
    sim_feed_str(&s, in);
    CHECK_INTEQ(s.nreq, 1);
    CHECK_INTEQ(s.req[0].has_body, 1);
    CHECK_STREQ(s.req[0].body, "hello world!"); /* extensions and trailer gone */
    CHECK_INTEQ(s.req[0].body_len, 12);
    CHECK_INTEQ(s.len, 0);
    CHECK_INTEQ(s.last, HTTP1_NEED_MORE);
    check_splits(in, 1, &s);
    sim_free(&s);

    /* the body is decoded in place: the buffer shrinks to head + body, and
     * what follows the body (the next request) stays */
    const char *piped = "POST /c HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\nGET /next HTTP/1.1\r\nHost: x\r\n\r\n";
    http1_parser_t p;
    http1_parser_init(&p, MAX_BODY, 1);
    char buf[256];
    size_t len = strlen(piped);
    memcpy(buf, piped, len);
    http1_request_t r;
    CHECK_INTEQ(http1_parse(&p, buf, &len, &r), HTTP1_REQUEST);
    size_t head = strlen("POST /c HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n");
    CHECK_INTEQ(r.len, head + 3);
    CHECK_INTEQ(len, head + 3 + strlen("GET /next HTTP/1.1\r\nHost: x\r\n\r\n"));
    CHECK(r.body == buf + head);
    CHECK_INTEQ(memcmp(buf + head, "abcGET /next", 12), 0);
    CHECK_INTEQ(http1_parse(&p, buf + r.len, (size_t[]){len - r.len}, &r), HTTP1_REQUEST);
    CHECK_INTEQ(r.path_len, 5);
    check_splits(piped, 1, &(sim_t){.last = HTTP1_NEED_MORE, .nreq = 2,
                                     .req = {{.method = "POST", .path = "/c", .nh = 2, .has_body = 1, .body_len = 3,
                                              .body = "abc"},
                                             {.method = "GET", .path = "/next", .nh = 1}}});

    /* an empty chunked body */
    sim_init(&s, 1);
    sim_feed_str(&s, "POST /c HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n");
    CHECK_INTEQ(s.nreq, 1);
    CHECK_INTEQ(s.req[0].has_body, 1);
    CHECK_INTEQ(s.req[0].body_len, 0);
    sim_free(&s);

    /* hex sizes, either case */
    sim_init(&s, 1);
    sim_feed_str(&s, "POST /c HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\na\r\n0123456789\r\nB\r\nabcdefghijk\r\n0\r\n\r\n");
    CHECK_INTEQ(s.nreq, 1);
    CHECK_INTEQ(s.req[0].body_len, 21);
    CHECK_STREQ(s.req[0].body, "0123456789abcdefghijk");
    sim_free(&s);

    /* the coding is matched without case, blanks and empty list elements aside */
    static const char *const te_ok[] = {"Chunked", "CHUNKED ", ", chunked", "chunked,", " ,chunked , "};
    for (size_t i = 0; i < sizeof(te_ok) / sizeof(te_ok[0]); i++) {
        char in2[256];
        snprintf(in2, sizeof(in2), "POST /c HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: %s\r\n\r\n2\r\nok\r\n0\r\n\r\n",
                 te_ok[i]);
        sim_init(&s, 1);
        sim_feed_str(&s, in2);
        if (s.nreq != 1)
            fprintf(stderr, "  transfer-encoding \"%s\": event %d\n", te_ok[i], (int)s.last);
        CHECK_INTEQ(s.nreq, 1);
        CHECK_STREQ(s.req[0].body, "ok");
        sim_free(&s);
    }
    /* the other Transfer-Encodings: test_rfc9112 */
}

static void test_bad_chunks(void)
{
    static const char *const bodies[] = {
        "zz\r\nab\r\n0\r\n\r\n",              /* not hex */
        "\r\n",                               /* no size */
        "-1\r\n",                             /* a sign */
        "2\r\nabc\r\n0\r\n\r\n",              /* more data than the size: the CRLF is not there */
    };
    for (size_t i = 0; i < sizeof(bodies) / sizeof(bodies[0]); i++) {
        char in[256];
        snprintf(in, sizeof(in), "POST /c HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n%s", bodies[i]);
        sim_t s;
        sim_init(&s, 1);
        CHECK_INTEQ(sim_feed_str(&s, in), HTTP1_BAD_REQUEST);
        if (s.last != HTTP1_BAD_REQUEST)
            fprintf(stderr, "  body %zu\n", i);
        CHECK_STREQ(s.error, "broken chunked encoding");
        CHECK_INTEQ(s.p.state, HTTP1_REJECTED);
        sim_free(&s);
    }

    /* after the hex digits, anything up to the line end is an extension */
    static const char *const lax[] = {"2;;;=\"\r\nab\r\n0\r\n\r\n", "2 \r\nab\r\n0\r\n\r\n", "2xyz\r\nab\r\n0\r\n\r\n"};
    sim_t s;
    for (size_t i = 0; i < sizeof(lax) / sizeof(lax[0]); i++) {
        char in[256];
        snprintf(in, sizeof(in), "POST /c HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n%s", lax[i]);
        sim_init(&s, 1);
        sim_feed_str(&s, in);
        CHECK_INTEQ(s.nreq, 1);
        CHECK_STREQ(s.req[0].body, "ab");
        sim_free(&s);
    }

    /* over the limit while decoding: 413 with what was decoded so far */
    char in[4096];
    size_t n = (size_t)snprintf(in, sizeof(in), "POST /c HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n%x\r\n", 600);
    memset(in + n, 'x', 600);
    n += 600;
    n += (size_t)snprintf(in + n, sizeof(in) - n, "\r\n%x\r\n", 600);
    memset(in + n, 'y', 600);
    n += 600;
    n += (size_t)snprintf(in + n, sizeof(in) - n, "\r\n0\r\n\r\n");
    sim_init(&s, 1);
    CHECK_INTEQ(sim_feed(&s, in, n), HTTP1_TOO_LARGE);
    CHECK_INTEQ(s.too_large, 1200);
    sim_free(&s);
    /* in small pieces it stops as soon as it is over */
    sim_init(&s, 1);
    size_t i = 0;
    for (; i < n && sim_feed(&s, in + i, 1) == HTTP1_NEED_MORE; i++)
        ;
    CHECK_INTEQ(s.last, HTTP1_TOO_LARGE);
    CHECK_INTEQ(s.too_large, 1200); /* refused at the second size: 600 more cannot fit */
    CHECK(i < n - 600);
    sim_free(&s);
}

/* ---- pipelining ---------------------------------------------------------------------- */

static void test_pipelined(void)
{
    const char *in = "GET /1 HTTP/1.1\r\nHost: x\r\n\r\n"
                     "POST /2 HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\n\r\nbody"
                     "POST /3 HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n4\r\nmore\r\n0\r\n\r\n"
                     "GET /4 HTTP/1.0\r\n\r\n";
    sim_t s;
    sim_init(&s, 1);
    sim_feed_str(&s, in);
    CHECK_INTEQ(s.nreq, 4);
    CHECK_STREQ(s.req[0].path, "/1");
    CHECK_STREQ(s.req[1].path, "/2");
    CHECK_STREQ(s.req[1].body, "body");
    CHECK_STREQ(s.req[2].path, "/3");
    CHECK_STREQ(s.req[2].body, "more");
    CHECK_STREQ(s.req[3].path, "/4");
    CHECK_INTEQ(s.req[3].minor, 0);
    CHECK_INTEQ(s.len, 0);
    check_splits(in, 1, &s);
    sim_free(&s);

    /* a bad request after good ones: those are requests, then 400 */
    sim_init(&s, 1);
    sim_feed_str(&s, "GET /1 HTTP/1.1\r\nHost: x\r\n\r\nGET /2 HTTP/1.1\r\nHost: x\r\n\r\nnonsense here\r\n\r\n");
    CHECK_INTEQ(s.nreq, 2);
    CHECK_INTEQ(s.last, HTTP1_BAD_REQUEST);
    CHECK_STREQ(s.error, "malformed request");
    sim_free(&s);
}

/* ---- Expect ------------------------------------------------------------------------------ */

static void test_expect(void)
{
    sim_t s;
    /* the body is yet to come: 100 Continue first */
    sim_init(&s, 1);
    sim_feed_str(&s, "POST /e HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 2\r\n\r\n");
    CHECK_INTEQ(s.ncontinue, 1);
    CHECK_INTEQ(s.nreq, 0);
    sim_feed_str(&s, "ok");
    CHECK_INTEQ(s.nreq, 1);
    CHECK_STREQ(s.req[0].body, "ok");
    CHECK_INTEQ(s.ncontinue, 1);
    sim_free(&s);

    /* the body came with the head: no 100 Continue (the head is parsed twice) */
    sim_init(&s, 1);
    sim_feed_str(&s, "POST /e HTTP/1.1\r\nHost: x\r\nExpect: 100-Continue\r\nContent-Length: 2\r\n\r\nok");
    CHECK_INTEQ(s.ncontinue, 0);
    CHECK_INTEQ(s.nreq, 1);
    CHECK_STREQ(s.req[0].body, "ok");
    sim_free(&s);

    /* chunked: always 100 Continue, even with the body there */
    sim_init(&s, 1);
    sim_feed_str(&s, "POST /e HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nok\r\n0\r\n\r\n");
    CHECK_INTEQ(s.ncontinue, 1);
    CHECK_INTEQ(s.continue_before_req, 1);
    CHECK_INTEQ(s.nreq, 1);
    CHECK_STREQ(s.req[0].body, "ok");
    sim_free(&s);

    /* no body: Expect is not looked at */
    sim_init(&s, 1);
    sim_feed_str(&s, "GET /e HTTP/1.1\r\nHost: x\r\nExpect: something\r\n\r\n");
    CHECK_INTEQ(s.nreq, 1);
    CHECK_INTEQ(s.ncontinue, 0);
    sim_free(&s);

    /* any other expectation, with a body: 417 */
    sim_init(&s, 1);
    CHECK_INTEQ(sim_feed_str(&s, "POST /e HTTP/1.1\r\nHost: x\r\nExpect: 200-ok\r\nContent-Length: 2\r\n\r\n"),
                HTTP1_EXPECTATION_FAILED);
    CHECK_INTEQ(s.p.state, HTTP1_REJECTED);
    sim_free(&s);
    sim_init(&s, 1);
    CHECK_INTEQ(sim_feed_str(&s, "POST /e HTTP/1.1\r\nHost: x\r\nExpect: 200-ok\r\nContent-Length: 2\r\n\r\nok"),
                HTTP1_EXPECTATION_FAILED);
    sim_free(&s);
}

/* ---- HTTP/2 and the hand-off ------------------------------------------------------------------ */

static void test_handoff(void)
{
    static const char preface[] = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";
    sim_t s;
    sim_init(&s, 1);
    CHECK_INTEQ(sim_feed_str(&s, preface), HTTP1_HANDOFF);
    CHECK_INTEQ(s.len, strlen(preface)); /* the bytes are left for h2o */
    sim_free(&s);
    /* in one piece, known once the version is seen not to be 1.x */
    sim_init(&s, 1);
    CHECK_INTEQ(sim_feed(&s, preface, 14), HTTP1_NEED_MORE);
    sim_free(&s);
    sim_init(&s, 1);
    CHECK_INTEQ(sim_feed(&s, preface, 15), HTTP1_HANDOFF);
    sim_free(&s);
    /* in pieces, the parse goes on only once the head has ended (the
     * incremental parse looks for its end first) */
    sim_init(&s, 1);
    size_t i = 0;
    while (i < sizeof(preface) - 1 && sim_feed(&s, preface + i, 1) == HTTP1_NEED_MORE)
        i++;
    CHECK_INTEQ(s.last, HTTP1_HANDOFF);
    CHECK_INTEQ(s.len, 18); /* "PRI * HTTP/2.0\r\n\r\n" */
    sim_free(&s);
    /* not upgrading: just a malformed request */
    sim_init(&s, 0);
    CHECK_INTEQ(sim_feed_str(&s, preface), HTTP1_BAD_REQUEST);
    CHECK_STREQ(s.error, "malformed request");
    sim_free(&s);

    const char *h2c = "GET /u HTTP/1.1\r\nHost: x\r\nConnection: Upgrade, HTTP2-Settings\r\nUpgrade: h2c\r\n"
                      "HTTP2-Settings: AAMAAABkAARAAAAAAAIAAAAA\r\n\r\n";
    sim_init(&s, 1);
    CHECK_INTEQ(sim_feed_str(&s, h2c), HTTP1_HANDOFF);
    CHECK_INTEQ(s.nreq, 0);
    CHECK_INTEQ(s.len, strlen(h2c));
    CHECK_INTEQ(s.p.state, HTTP1_HEAD);
    sim_free(&s);
    sim_init(&s, 0);
    sim_feed_str(&s, h2c);
    CHECK_INTEQ(s.nreq, 1); /* an HTTP/1.1 request like any other */
    sim_free(&s);
    /* both headers are needed */
    sim_init(&s, 1);
    sim_feed_str(&s, "GET /u HTTP/1.1\r\nHost: x\r\nUpgrade: h2c\r\n\r\n");
    CHECK_INTEQ(s.nreq, 1);
    sim_free(&s);
    sim_init(&s, 1);
    sim_feed_str(&s, "GET /u HTTP/1.1\r\nHost: x\r\nConnection: upgrade\r\nUpgrade: websocket\r\n\r\n");
    CHECK_INTEQ(s.nreq, 1);
    sim_free(&s);
    /* "h2c" is matched as a prefix of the value */
    sim_init(&s, 1);
    CHECK_INTEQ(sim_feed_str(&s, "GET /u HTTP/1.1\r\nHost: x\r\nConnection: upgrade\r\nUpgrade: H2C-whatever\r\n\r\n"),
                HTTP1_HANDOFF);
    sim_free(&s);
}

/* ---- malformed input ------------------------------------------------------------------------------ */

static void test_malformed(void)
{
    static const char *const bad[] = {
        "GET\r\n\r\n",                        /* no target, no version */
        "GET /\r\n\r\n",                      /* HTTP/0.9 */
        "GET / HTTP/2.0\r\n\r\n",             /* not 1.x */
        "GET / HTTP/1.1 extra\r\n\r\n",
        "GET / FTP/1.1\r\n\r\n",
        "GET  / HTTP/1.1\r\n\r\n",            /* two spaces */
        "GET / HTTP/1.1\r\nNo-Colon\r\n\r\n",
        "GET / HTTP/1.1\r\nBad Name: x\r\n\r\n",
        "GET / HTTP/1.1\r\n: no name\r\n\r\n",
        "GET / HTTP/1.1\r\n folded-first: x\r\n\r\n", /* a continuation with nothing to continue */
        "\x16\x03\x01\x02\x01\x01\xfc\x03\x03\r\n\r\n", /* TLS on the plain port */
        "\r\n\r\nGET / HTTP/1.1\r\n\r\n",     /* only one leading CRLF is skipped */
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        sim_t s;
        sim_init(&s, 1);
        http1_event_t ev = sim_feed_str(&s, bad[i]);
        if (ev != HTTP1_BAD_REQUEST)
            fprintf(stderr, "  malformed input %zu: event %d\n", i, (int)ev);
        CHECK_INTEQ(ev, HTTP1_BAD_REQUEST);
        CHECK_STREQ(s.error, "malformed request");
        CHECK_INTEQ(s.nreq, 0);
        sim_free(&s);
    }

    /* byte by byte, malformed heads are found at their end */
    {
        const char *in = "GET  / HTTP/1.1\r\nHost: x\r\n\r\n";
        sim_t s;
        sim_init(&s, 1);
        size_t i = 0;
        while (in[i] && sim_feed(&s, in + i, 1) == HTTP1_NEED_MORE)
            i++;
        CHECK_INTEQ(s.last, HTTP1_BAD_REQUEST);
        CHECK_INTEQ(i, strlen(in) - 1);
        sim_free(&s);
    }

    /* obs-fold: test_rfc9112 */
    sim_t s;

    /* control characters in a value are refused, a tab is not */
    sim_init(&s, 1);
    CHECK_INTEQ(sim_feed_str(&s, "GET / HTTP/1.1\r\nHost: x\r\nX: a\x01z\r\n\r\n"), HTTP1_BAD_REQUEST);
    sim_free(&s);
    sim_init(&s, 1);
    sim_feed_str(&s, "GET / HTTP/1.1\r\nHost: x\r\nX: a\tz\r\n\r\n");
    CHECK_INTEQ(s.nreq, 1);
    sim_free(&s);
}

static void test_stray_line_ends(void)
{
    sim_t s;
    /* up to 4 bytes of nothing but CR and LF: close without an answer */
    static const char *const stray[] = {"\r\n\r\n", "\n\n", "\r\n\n", "\r\r"};
    for (size_t i = 0; i < sizeof(stray) / sizeof(stray[0]); i++) {
        sim_init(&s, 1);
        http1_event_t ev = sim_feed_str(&s, stray[i]);
        if (ev != HTTP1_CLOSE)
            fprintf(stderr, "  stray %zu: event %d\n", i, (int)ev);
        CHECK_INTEQ(ev, HTTP1_CLOSE);
        sim_free(&s);
    }
    /* one CRLF: it may be the one before a request */
    sim_init(&s, 1);
    CHECK_INTEQ(sim_feed_str(&s, "\r\n"), HTTP1_NEED_MORE);
    sim_free(&s);
    /* after a request, the same */
    sim_init(&s, 1);
    CHECK_INTEQ(sim_feed_str(&s, "GET / HTTP/1.1\r\nHost: x\r\n\r\n\r\n\r\n"), HTTP1_CLOSE);
    CHECK_INTEQ(s.nreq, 1);
    sim_free(&s);
    /* five of them: a malformed request */
    sim_init(&s, 1);
    CHECK_INTEQ(sim_feed_str(&s, "\r\n\r\n\r"), HTTP1_BAD_REQUEST);
    sim_free(&s);
}

/* ---- RFC 9112: what it says to reject ----------------------------------------------- */

/* in as one request: the event it ends on (no request seen), and why */
static void expect_refused(const char *in, http1_event_t ev, const char *why)
{
    sim_t s;
    sim_init(&s, 1);
    http1_event_t got = sim_feed_str(&s, in);
    if (got != ev || (why && (s.error == NULL || strcmp(s.error, why) != 0)))
        fprintf(stderr, "  refused? %s\n  -> event %d (%s)\n", in, (int)got, s.error ? s.error : "");
    CHECK_INTEQ(got, ev);
    if (why)
        CHECK_STREQ(s.error, why);
    CHECK_INTEQ(s.nreq, 0);
    CHECK_INTEQ(s.p.state, HTTP1_REJECTED);
    check_splits(in, 1, &s);
    sim_free(&s);
    /* the same head as h2o's parser leaves it: the same verdict */
    if (ev == HTTP1_BAD_REQUEST || ev == HTTP1_NOT_IMPLEMENTED) {
        const char *m, *p, *raw_why = NULL;
        size_t ml, pl;
        int minor = strstr(in, " HTTP/1.0\r\n") != NULL ? 0 : 1;
        CHECK_INTEQ(http1_check_raw_head(in, strlen(in), minor, &m, &ml, &p, &pl, &raw_why), ev);
        if (why)
            CHECK_STREQ(raw_why, why);
        CHECK(ml > 0 && memcmp(m, in, ml) == 0);
    }
}

static void expect_taken(const char *in)
{
    sim_t s;
    sim_init(&s, 1);
    sim_feed_str(&s, in);
    if (s.nreq != 1)
        fprintf(stderr, "  taken? %s\n  -> event %d (%s)\n", in, (int)s.last, s.error ? s.error : "");
    CHECK_INTEQ(s.nreq, 1);
    sim_free(&s);
    const char *m, *p, *why = NULL;
    size_t ml, pl;
    CHECK_INTEQ(http1_check_raw_head(in, strlen(in), strstr(in, " HTTP/1.0\r\n") ? 0 : 1, &m, &ml, &p, &pl, &why),
                HTTP1_REQUEST);
}

static void test_rfc9112(void)
{
    char in[512];
    /* 6.3: Content-Length once; the smuggled request after it never runs */
    const char *smuggled = "GET /api/v11/transactions/stats HTTP/1.1\r\nHost: x\r\n\r\n";
    snprintf(in, sizeof(in), "POST /x HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\nContent-Length: %zu\r\n\r\n%s",
             strlen(smuggled), smuggled);
    expect_refused(in, HTTP1_BAD_REQUEST, "more than one content-length header");
    expect_refused("POST /x HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\ncontent-length: 2\r\n\r\nab",
                   HTTP1_BAD_REQUEST, "more than one content-length header");
    /* 6.1: Content-Length with Transfer-Encoding, either order */
    snprintf(in, sizeof(in), "POST /x HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n"
             "2\r\nok\r\n0\r\n\r\n%s", smuggled);
    expect_refused(in, HTTP1_BAD_REQUEST, "content-length with transfer-encoding");
    expect_refused("POST /x HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nContent-Length: 4\r\n\r\n2\r\nok\r\n0\r\n\r\n",
                   HTTP1_BAD_REQUEST, "content-length with transfer-encoding");
    /* 6.1, 6.3: chunked, once and last; another coding before it is 501 */
    static const struct {
        const char *te;
        http1_event_t ev;
        const char *why;
    } te[] = {
        {"gzip", HTTP1_BAD_REQUEST, "transfer-encoding must end in chunked"},
        {"chunked, gzip", HTTP1_BAD_REQUEST, "transfer-encoding must end in chunked"},
        {"identity", HTTP1_BAD_REQUEST, "transfer-encoding must end in chunked"},
        {"", HTTP1_BAD_REQUEST, "transfer-encoding must end in chunked"},
        {" , ", HTTP1_BAD_REQUEST, "transfer-encoding must end in chunked"},
        {"chunked;x=1", HTTP1_BAD_REQUEST, "transfer-encoding must end in chunked"},
        {"chunkedx", HTTP1_BAD_REQUEST, "transfer-encoding must end in chunked"},
        {"chunked, chunked", HTTP1_BAD_REQUEST, "chunked more than once"},
        {"chunked\r\nTransfer-Encoding: chunked", HTTP1_BAD_REQUEST, "chunked more than once"},
        {"chunked\r\nTransfer-Encoding: gzip", HTTP1_BAD_REQUEST, "transfer-encoding must end in chunked"},
        {"gzip, chunked", HTTP1_NOT_IMPLEMENTED, "transfer-coding other than chunked"},
        {"gzip\r\ntransfer-encoding: Chunked", HTTP1_NOT_IMPLEMENTED, "transfer-coding other than chunked"},
    };
    for (size_t i = 0; i < sizeof(te) / sizeof(te[0]); i++) {
        snprintf(in, sizeof(in), "POST /c HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: %s\r\n\r\n0\r\n\r\n", te[i].te);
        expect_refused(in, te[i].ev, te[i].why);
    }
    /* 6.2: none in HTTP/1.0 (its recipients may not know chunked) */
    expect_refused("POST /c HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", HTTP1_BAD_REQUEST,
                   "transfer-encoding in an HTTP/1.0 request");

    /* 5.2: obs-fold, anywhere */
    expect_refused("GET / HTTP/1.1\r\nHost: x\r\nX-Folded: first\r\n  second\r\n\r\n", HTTP1_BAD_REQUEST,
                   "obsolete line folding (obs-fold) is not accepted");
    expect_refused("GET / HTTP/1.1\r\nHost: x\r\nX-Folded: first\r\n\tsecond\r\n\r\n", HTTP1_BAD_REQUEST,
                   "obsolete line folding (obs-fold) is not accepted");
    expect_refused("GET / HTTP/1.1\r\nHost: x\r\n y\r\n\r\n", HTTP1_BAD_REQUEST,
                   "obsolete line folding (obs-fold) is not accepted");

    /* 3.2: HTTP/1.1 has one Host, well formed; HTTP/1.0 may have none */
    expect_refused("GET / HTTP/1.1\r\n\r\n", HTTP1_BAD_REQUEST, "missing host header");
    expect_refused("GET / HTTP/1.1\r\nX-Host: x\r\n\r\n", HTTP1_BAD_REQUEST, "missing host header");
    expect_refused("GET / HTTP/1.1\r\nHost: a\r\nhost: b\r\n\r\n", HTTP1_BAD_REQUEST, "more than one host header");
    expect_refused("GET / HTTP/1.0\r\nHost: a\r\nHOST: a\r\n\r\n", HTTP1_BAD_REQUEST, "more than one host header");
    static const char *const bad_host[] = {"a b", "x/y", "evil@x", "x\\y", "\"x\"", "x?y", "x#y", "<x>", "x\t y"};
    for (size_t i = 0; i < sizeof(bad_host) / sizeof(bad_host[0]); i++) {
        snprintf(in, sizeof(in), "GET / HTTP/1.1\r\nHost: %s\r\n\r\n", bad_host[i]);
        expect_refused(in, HTTP1_BAD_REQUEST, "malformed host header");
    }
    static const char *const good_host[] = {"", "[::1]:9003", "127.0.0.1:9003", "gw.example:80", "xn--bcher-kva.example",
                                            "x ", "a_b.c-d~e"};
    for (size_t i = 0; i < sizeof(good_host) / sizeof(good_host[0]); i++) {
        snprintf(in, sizeof(in), "GET / HTTP/1.1\r\nHost: %s\r\n\r\n", good_host[i]);
        expect_taken(in);
    }
    expect_taken("GET / HTTP/1.0\r\n\r\n");
    /* an h2c upgrade is checked before it goes to h2o */
    expect_refused("GET /u HTTP/1.1\r\nConnection: Upgrade, HTTP2-Settings\r\nUpgrade: h2c\r\nHTTP2-Settings: AAMAAABkAARAAAAAAAIAAAAA\r\n\r\n",
                   HTTP1_BAD_REQUEST, "missing host header");
    expect_refused("POST /u HTTP/1.1\r\nHost: x\r\nConnection: Upgrade, HTTP2-Settings\r\nUpgrade: h2c\r\n"
                   "Content-Length: 1\r\nContent-Length: 2\r\n\r\nab",
                   HTTP1_BAD_REQUEST, "more than one content-length header");

    /* 7.1: a chunk that cannot fit the body is 413 once its size is read */
    static const struct {
        const char *size;
        size_t declared;
    } big[] = {
        {"8000000000000000\r\nab", (size_t)1 << 63}, /* 2^63: waited for the timeout before */
        {"8000000000000000", (size_t)1 << 63},       /* its line not even ended */
        {"ffffffffffffffff\r\n", SIZE_MAX},
        {"11111111111111111\r\n", SIZE_MAX},          /* 17 hex digits: 2^64 or more */
        {"401\r\n", MAX_BODY + 1},
        {"401;ext=1\r\n", MAX_BODY + 1},
        {"10\r\n0123456789abcdef\r\n3f1\r\n", 16 + 0x3f1}, /* the second chunk cannot fit */
    };
    for (size_t i = 0; i < sizeof(big) / sizeof(big[0]); i++) {
        snprintf(in, sizeof(in), "POST /c HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n%s", big[i].size);
        sim_t s;
        sim_init(&s, 1);
        CHECK_INTEQ(sim_feed_str(&s, in), HTTP1_TOO_LARGE);
        CHECK_INTEQ(s.too_large, big[i].declared);
        CHECK_INTEQ(s.p.state, HTTP1_REJECTED);
        sim_free(&s);
    }
    /* just the limit is fine: it waits for the data */
    sim_t s;
    sim_init(&s, 1);
    CHECK_INTEQ(sim_feed_str(&s, "POST /c HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n400\r\nab"), HTTP1_NEED_MORE);
    CHECK_INTEQ(s.p.state, HTTP1_BODY_CHUNKED);
    sim_free(&s);
    /* byte by byte: refused at the digit that makes it too big (0x401) */
    sim_init(&s, 1);
    sim_feed_str(&s, "POST /c HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n");
    CHECK_INTEQ(sim_feed_str(&s, "4"), HTTP1_NEED_MORE);
    CHECK_INTEQ(sim_feed_str(&s, "0"), HTTP1_NEED_MORE);
    CHECK_INTEQ(sim_feed_str(&s, "1"), HTTP1_TOO_LARGE);
    CHECK_INTEQ(s.too_large, MAX_BODY + 1);
    sim_free(&s);

    /* the same rules on a head parsed elsewhere (h2o's) */
    const char *why = NULL;
    struct phr_header hs[3] = {
        {"Host", 4, "x", 1}, {"Content-Length", 14, "0", 1}, {"Content-Length", 14, "41", 2}};
    CHECK_INTEQ(http1_check_head(hs, 2, 1, &why), HTTP1_REQUEST);
    CHECK_INTEQ(http1_check_head(hs, 3, 1, &why), HTTP1_BAD_REQUEST);
    CHECK_STREQ(why, "more than one content-length header");
    CHECK_INTEQ(http1_check_head(hs + 1, 1, 1, &why), HTTP1_BAD_REQUEST);
    CHECK_STREQ(why, "missing host header");
    CHECK_INTEQ(http1_check_head(hs + 1, 1, 0, &why), HTTP1_REQUEST);
    struct phr_header fold[2] = {{"Host", 4, "x", 1}, {NULL, 0, "folded", 6}};
    CHECK_INTEQ(http1_check_head(fold, 2, 1, &why), HTTP1_BAD_REQUEST);
    struct phr_header gz[2] = {{"Host", 4, "x", 1}, {"Transfer-Encoding", 17, "gzip, chunked", 13}};
    CHECK_INTEQ(http1_check_head(gz, 2, 1, &why), HTTP1_NOT_IMPLEMENTED);
}

static void test_empty(void)
{
    http1_parser_t p;
    http1_parser_init(&p, MAX_BODY, 1);
    http1_request_t r;
    size_t len = 0;
    CHECK_INTEQ(http1_parse(&p, NULL, &len, &r), HTTP1_NEED_MORE);
    CHECK_INTEQ(p.state, HTTP1_HEAD);
}

int main(void)
{
    test_empty();
    test_get();
    test_request_line_forms();
    test_header_limits();
    test_oversize_head();
    test_content_length();
    test_chunked();
    test_bad_chunks();
    test_pipelined();
    test_expect();
    test_handoff();
    test_malformed();
    test_stray_line_ends();
    test_rfc9112();
    return test_summary();
}
