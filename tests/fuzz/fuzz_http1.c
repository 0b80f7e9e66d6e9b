/*
 * fuzz_http1: the io_uring front end's HTTP/1.1 request parser
 * (front/http1.c) driven as its connections drive it: bytes appended as
 * they arrive, parsed, a request's bytes dropped once it is taken, the
 * rest parsed on, until an event that ends the connection.
 *
 * Input: byte 0 picks the options (bit 0: hand HTTP/2 to h2o; bits 1-7
 * seed the piece sizes), byte 1 the body limit (0: 4 MiB, else 16 x it, so
 * that 413s are near), the rest is what the client sent. It is fed once
 * whole and once in pieces, and must give the same requests and the same
 * end, with two exceptions of picohttpparser's: whether "\r\n\r\n" is a
 * close or the start of a request depends on how it arrives, and a head
 * with a bad byte is refused at once whole but only at its end in pieces.
 *
 * What must hold, besides no crash, leak or overread: every request
 * yielded keeps RFC 9112's framing (one Content-Length, not with
 * Transfer-Encoding, no obs-fold, one Host in HTTP/1.1; checked here on
 * its own, not by the parser's code), its body within the limit and the
 * buffer; the quick check h2o's path uses (http1_check_raw_head) agrees
 * with the parser on every head the parser judged: clean heads, and heads
 * refused for their framing, with the same reason.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "front/http1.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_SEEN 16

typedef struct run {
    http1_event_t end;             /* the event that ended it, or NEED_MORE */
    const char *why;
    size_t nreq;
    uint64_t req_hash[MAX_SEEN];   /* method, path, body of each request */
} run_t;

static void expect(int ok, const char *what)
{
    if (!ok) {
        fprintf(stderr, "fuzz_http1: broken: %s\n", what);
        abort();
    }
}

static uint64_t hash(uint64_t h, const void *p, size_t n)
{
    const unsigned char *b = p;
    for (size_t i = 0; i < n; i++)
        h = (h ^ b[i]) * 0x100000001b3u;
    return (h ^ n) * 0x100000001b3u;
}

static int name_is(const struct phr_header *h, const char *name)
{
    size_t n = strlen(name);
    if (h->name == NULL || h->name_len != n)
        return 0;
    for (size_t i = 0; i < n; i++)
        if ((h->name[i] | 0x20) != name[i])
            return 0;
    return 1;
}

/* RFC 9112's framing, counted here apart from the parser's own code. */
static void check_framing(const http1_request_t *r, size_t max_body)
{
    int host = 0, cl = 0, te = 0;
    for (size_t i = 0; i < r->num_headers; i++) {
        const struct phr_header *h = &r->headers[i];
        expect(h->name != NULL && h->name_len > 0, "a request with obs-fold");
        host += name_is(h, "host");
        cl += name_is(h, "content-length");
        te += name_is(h, "transfer-encoding");
    }
    expect(cl <= 1, "a request with two Content-Lengths");
    expect(!(cl && te), "a request with Content-Length and Transfer-Encoding");
    expect(r->minor_version == 0 || host == 1, "an HTTP/1.1 request without exactly one Host");
    expect(!(te && r->minor_version == 0), "an HTTP/1.0 request with Transfer-Encoding");
    expect(r->has_body || (!cl && !te), "a framed body not said");
    if (r->has_body)
        expect(r->body_len <= max_body, "a body over the limit");
}

/* The parser's verdict on a head it judged, and the quick check's on the
 * same bytes, must agree. */
static int framing_reason(const char *why)
{
    static const char *const parse_errors[] = {"malformed request", "request header too large",
                                               "broken content-length header", "broken chunked encoding"};
    for (size_t i = 0; i < sizeof(parse_errors) / sizeof(parse_errors[0]); i++)
        if (strcmp(why, parse_errors[i]) == 0)
            return 0;
    return 1;
}

static void check_raw(const char *buf, size_t len, int minor, http1_event_t ev, const char *why)
{
    const char *m, *p, *raw_why = NULL;
    size_t ml, pl;
    http1_event_t got = http1_check_raw_head(buf, len, minor, &m, &ml, &p, &pl, &raw_why);
    expect(got == ev, "the quick check and the parser disagree on a head");
    if (ev != HTTP1_REQUEST) {
        expect(raw_why != NULL && strcmp(raw_why, why) == 0, "the quick check gives another reason");
        expect(m >= buf && m + ml <= buf + len && p >= buf && p + pl <= buf + len, "a method or path outside the head");
    }
}

/* Feeds in[0..n) in pieces (all at once when seed is 0), as a connection does. */
static void run(const uint8_t *in, size_t n, int upgrade_h2, size_t max_body, unsigned seed, run_t *out)
{
    http1_parser_t p;
    http1_parser_init(&p, max_body, upgrade_h2);
    char *buf = malloc(n ? n : 1);
    size_t len = 0, off = 0;
    uint32_t rng = seed * 2654435761u + 1;
    *out = (run_t){.end = HTTP1_NEED_MORE};
    while (off < n) {
        size_t piece = n - off;
        if (seed) {
            rng = rng * 1103515245u + 12345u;
            piece = 1 + (rng >> 16) % (piece < 64 ? piece : 64);
        }
        memcpy(buf + len, in + off, piece);
        len += piece;
        off += piece;
        for (;;) {
            http1_request_t r;
            size_t before = len;
            http1_event_t ev = http1_parse(&p, buf, &len, &r);
            expect(len <= before, "the buffer grew");
            if (ev == HTTP1_NEED_MORE)
                break;
            if (ev == HTTP1_CONTINUE)
                continue;
            if (ev == HTTP1_REQUEST) {
                expect(r.len <= len && p.state == HTTP1_HEAD, "a request past the buffer");
                expect(!r.has_body || (r.body >= buf && r.body + r.body_len <= buf + r.len), "a body outside the request");
                check_framing(&r, max_body);
                check_raw(buf, r.len, r.minor_version, HTTP1_REQUEST, NULL);
                if (out->nreq < MAX_SEEN) {
                    uint64_t h = hash(0xcbf29ce484222325u, r.method, r.method_len);
                    h = hash(h, r.path, r.path_len);
                    out->req_hash[out->nreq] = hash(h, r.has_body ? r.body : "", r.has_body ? r.body_len : 0);
                }
                out->nreq++;
                memmove(buf, buf + r.len, len - r.len);
                len -= r.len;
                continue;
            }
            /* an end: nothing more is parsed */
            out->end = ev;
            if (ev == HTTP1_BAD_REQUEST || ev == HTTP1_NOT_IMPLEMENTED) {
                expect(r.error != NULL && r.error[0] != '\0', "an error without a reason");
                out->why = r.error;
                if (framing_reason(r.error)) /* found by the head's rules: the head is whole in buf */
                    check_raw(buf, len, r.minor_version, ev, r.error);
            }
            if (ev != HTTP1_HANDOFF && ev != HTTP1_CLOSE) {
                http1_request_t again;
                expect(http1_parse(&p, buf, &len, &again) == HTTP1_NEED_MORE && p.state == HTTP1_REJECTED,
                       "parsing went on after an error");
            }
            free(buf);
            return;
        }
    }
    free(buf);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 2)
        return 0;
    int upgrade_h2 = data[0] & 1;
    unsigned seed = data[0] >> 1;
    size_t max_body = data[1] ? (size_t)data[1] * 16 : 4u << 20;
    run_t whole, pieces;
    run(data + 2, size - 2, upgrade_h2, max_body, 0, &whole);
    run(data + 2, size - 2, upgrade_h2, max_body, seed ? seed : 1, &pieces);
    if (whole.end == HTTP1_CLOSE || pieces.end == HTTP1_CLOSE)
        return 0;
    expect(whole.nreq == pieces.nreq, "pieces give other requests than the whole");
    for (size_t i = 0; i < whole.nreq && i < MAX_SEEN; i++)
        expect(whole.req_hash[i] == pieces.req_hash[i], "pieces give another request than the whole");
    /* a head with a bad byte and no end yet: picohttpparser, given it in
     * pieces, looks for the end first, so one run may still wait */
    if (whole.end == HTTP1_NEED_MORE || pieces.end == HTTP1_NEED_MORE)
        return 0;
    expect(whole.end == pieces.end, "pieces end otherwise than the whole");
    if (whole.why != NULL || pieces.why != NULL)
        expect(whole.why != NULL && pieces.why != NULL && strcmp(whole.why, pieces.why) == 0,
               "pieces fail for another reason than the whole");
    return 0;
}
