/*
 * http1.c: HTTP/1.1 request framing (see http1.h). The parser's state is
 * the request in progress; everything else about a connection (what is
 * being answered, what is on the wire) is its caller's.
 *
 * A head is parsed twice when its body does not come with it: once to see
 * how the body is framed, once more, from the same bytes, when the body is
 * whole (the headers of the first parse are gone by then: the caller's
 * buffer may have moved). A request that arrives whole is parsed once.
 */
#include "front/http1.h"

#include <stdint.h>
#include <string.h>
#include <h2o.h>

_Static_assert(HTTP1_MAX_HEADERS == H2O_MAX_HEADERS, "h2o's header limit");
_Static_assert(HTTP1_MAX_HEAD == H2O_MAX_REQLEN, "h2o's request head limit");

/* picohttpparser, as built into libh2o */
int phr_parse_request(const char *buf, size_t len, const char **method, size_t *method_len, const char **path,
                      size_t *path_len, int *minor_version, struct phr_header *headers, size_t *num_headers,
                      size_t last_len);
ssize_t phr_decode_chunked(struct phr_chunked_decoder *decoder, char *buf, size_t *bufsz);

/* on_head's answer when the body is yet to be read: parse on */
#define PARSE_ON (-1)

void http1_parser_init(http1_parser_t *p, size_t max_body, int upgrade_h2)
{
    *p = (http1_parser_t){.state = HTTP1_HEAD, .max_body = max_body, .upgrade_h2 = upgrade_h2};
}

static int has_token(const char *v, size_t len, const char *tok, size_t toklen)
{
    return h2o_contains_token(v, len, tok, toklen, ',');
}

static int crlf_only(const char *s, size_t len)
{
    for (; len; s++, len--)
        if (*s != '\r' && *s != '\n')
            return 0;
    return 1;
}

static http1_event_t fail(http1_parser_t *p, http1_event_t ev)
{
    p->state = HTTP1_REJECTED;
    return ev;
}

static http1_event_t bad_request(http1_parser_t *p, http1_request_t *req, const char *why)
{
    req->error = why;
    return fail(p, HTTP1_BAD_REQUEST);
}

/* The request is whole in buf: the head parsed (req) or to parse again
 * (reparse), the body at body (has_body), the request req_len bytes. */
static http1_event_t request(http1_parser_t *p, http1_request_t *req, const char *buf, int reparse,
                             const char *body, size_t body_len, int has_body, size_t req_len)
{
    if (reparse) {
        req->num_headers = HTTP1_MAX_HEADERS;
        if (phr_parse_request(buf, p->head_len, &req->method, &req->method_len, &req->path, &req->path_len,
                              &req->minor_version, req->headers, &req->num_headers, 0) != (int)p->head_len)
            return bad_request(p, req, "malformed request");
    }
    req->body = body;
    req->body_len = body_len;
    req->has_body = has_body;
    req->len = req_len;
    p->state = HTTP1_HEAD;
    return HTTP1_REQUEST;
}

/* What a head says about its framing, from one pass over its headers. */
typedef struct head_scan {
    ssize_t cl, expect;     /* the header's index, or -1 */
    int te;                 /* a Transfer-Encoding was seen (then it ends in one chunked) */
    int upgrade_h2c, conn_upgrade;
} head_scan_t;

/* picohttpparser's decoder state while it reads a chunk size (its first) */
#define PHR_CHUNKED_IN_CHUNK_SIZE 0

static int is_ows(char c)
{
    return c == ' ' || c == '\t';
}

static int host_char_ok(unsigned char c)
{
    if ((c | 0x20) >= 'a' && (c | 0x20) <= 'z')
        return 1;
    if (c >= '0' && c <= '9')
        return 1;
    switch (c) {
    case '-': case '.': case '_': case '~': case '!': case '$': case '&': case '\'': case '(': case ')':
    case '*': case '+': case ',': case ';': case '=': case ':': case '[': case ']': case '%':
        return 1;
    default:
        return 0;
    }
}

/* RFC 9110's uri-host [ ":" port ]: reg-name, IPv4, or an [IPv6] literal.
 * Empty is allowed (a target without an authority). */
static int host_value_ok(const char *v, size_t len)
{
    while (len && is_ows(v[len - 1]))
        len--;
    for (size_t i = 0; i < len; i++)
        if (!host_char_ok((unsigned char)v[i]))
            return 0;
    return 1;
}

/* The codings of one Transfer-Encoding line, in order: *chunked_last says
 * whether the last so far is a plain "chunked", *nchunked counts them,
 * *other is set by any other coding, *ncodings counts them all. */
static void scan_codings(const char *v, size_t len, int *chunked_last, int *nchunked, int *other, int *ncodings)
{
    const char *end = v + len;
    while (v < end) {
        const char *comma = memchr(v, ',', (size_t)(end - v));
        const char *e = comma ? comma : end, *b = v;
        while (b < e && is_ows(*b))
            b++;
        while (e > b && is_ows(e[-1]))
            e--;
        if (e > b) { /* empty list elements are allowed and ignored (RFC 9110 5.6.1) */
            (*ncodings)++;
            *chunked_last = h2o_lcstris(b, (size_t)(e - b), H2O_STRLIT("chunked"));
            if (*chunked_last)
                (*nchunked)++;
            else
                *other = 1; /* "chunked;x=y" too: chunked has no parameters */
        }
        v = comma ? comma + 1 : end;
    }
}

/* One pass over the headers: where the framing ones are, and whether the
 * head keeps RFC 9112's rules (http1_check_head). */
static http1_event_t scan_head(const struct phr_header *hs, size_t nh, int minor_version, head_scan_t *s,
                               const char **why)
{
    *s = (head_scan_t){.cl = -1, .expect = -1};
    int nhost = 0, host_bad = 0, ncl = 0, chunked_last = 0, nchunked = 0, other = 0, ncodings = 0;
    for (size_t i = 0; i < nh; i++) {
        const struct phr_header *h = &hs[i];
        switch (h->name_len) {
        case 0: /* a continuation line: picohttpparser gives it no name */
            *why = "obsolete line folding (obs-fold) is not accepted";
            return HTTP1_BAD_REQUEST;
        case 4:
            if (h2o_lcstris(h->name, 4, H2O_STRLIT("host"))) {
                nhost++;
                host_bad |= !host_value_ok(h->value, h->value_len);
            }
            break;
        case 14:
            if (h2o_lcstris(h->name, 14, H2O_STRLIT("content-length")) && ncl++ == 0)
                s->cl = (ssize_t)i;
            break;
        case 17:
            if (h2o_lcstris(h->name, 17, H2O_STRLIT("transfer-encoding"))) {
                s->te = 1;
                scan_codings(h->value, h->value_len, &chunked_last, &nchunked, &other, &ncodings);
            }
            break;
        case 7:
            if (h2o_lcstris(h->name, 7, H2O_STRLIT("upgrade")) && h->value_len >= 3 &&
                h2o_lcstris(h->value, 3, H2O_STRLIT("h2c")))
                s->upgrade_h2c = 1;
            break;
        case 10:
            if (h2o_lcstris(h->name, 10, H2O_STRLIT("connection")) &&
                has_token(h->value, h->value_len, H2O_STRLIT("upgrade")))
                s->conn_upgrade = 1;
            break;
        case 6:
            if (h2o_lcstris(h->name, 6, H2O_STRLIT("expect")))
                s->expect = (ssize_t)i;
            break;
        }
    }
    /* RFC 9112 3.2: one Host, well formed, in every HTTP/1.1 request */
    if (minor_version >= 1 && nhost == 0)
        *why = "missing host header";
    else if (nhost > 1)
        *why = "more than one host header";
    else if (host_bad)
        *why = "malformed host header";
    /* 6.3: a repeated Content-Length is an unrecoverable framing error,
     * identical values included (one reader may take the first, one the last) */
    else if (ncl > 1)
        *why = "more than one content-length header";
    /* 6.1: with both, one reader may go by each; 6.2: HTTP/1.0 has no
     * Transfer-Encoding; 6.3: a body whose last coding is not chunked has
     * no length */
    else if (s->te && ncl)
        *why = "content-length with transfer-encoding";
    else if (s->te && minor_version == 0)
        *why = "transfer-encoding in an HTTP/1.0 request";
    else if (s->te && (!chunked_last || ncodings == 0))
        *why = "transfer-encoding must end in chunked";
    else if (nchunked > 1)
        *why = "chunked more than once";
    else if (other) {
        *why = "transfer-coding other than chunked";
        return HTTP1_NOT_IMPLEMENTED; /* 6.1: a coding we do not understand */
    } else
        return HTTP1_REQUEST;
    return HTTP1_BAD_REQUEST;
}

http1_event_t http1_check_head(const struct phr_header *headers, size_t num_headers, int minor_version,
                               const char **why)
{
    head_scan_t s;
    return scan_head(headers, num_headers, minor_version, &s, why);
}

/* The value of a header line of n bytes whose name and colon take the
 * first name_len, without the blanks around it and the line end. */
static h2o_iovec_t line_value(const char *line, size_t n, size_t name_len)
{
    const char *v = line + name_len, *e = line + n;
    while (v < e && is_ows(*v))
        v++;
    while (e > v && (is_ows(e[-1]) || e[-1] == '\r'))
        e--;
    return h2o_iovec_init(v, (size_t)(e - v));
}

/* Eight bytes at p, letters lowercased: within a header name (token
 * characters) only 'A'..'Z' turn into what 'a'..'z' are, and '-' and ':'
 * stay themselves, so one compare matches a name without case. */
static uint64_t lc8(const char *p)
{
    uint64_t w;
    memcpy(&w, p, 8);
    return w | 0x2020202020202020u;
}

static uint64_t str8(const char *s)
{
    uint64_t w;
    memcpy(&w, s, 8);
    return w;
}

/* A quick look at the head at buf (whole, as another parser found it):
 * 1 when it might break a rule of scan_head (a name that matters seen
 * twice or with another, obs-fold, Host missing or odd, a Transfer-Encoding
 * other than chunked), 0 when it cannot. Line by line with memchr, a
 * line's name looked at only when its first letter is c, t or h, so that
 * the common request costs a small part of a parse. */
static int raw_head_suspect(const char *buf, size_t len, int minor_version)
{
    const char *end = buf + len, *p = memchr(buf, '\n', len);
    int nhost = 0, ncl = 0, nte = 0;
    while (p != NULL && ++p < end) {
        const char *eol = memchr(p, '\n', (size_t)(end - p));
        size_t n = (size_t)((eol ? eol : end) - p);
        if (n == 0 || (n == 1 && *p == '\r'))
            break; /* the empty line: the head's end */
        if (*p == ' ' || *p == '\t')
            return 1; /* obs-fold */
        switch (*p | 0x20) {
        case 'c': /* "content-length:", as "content-" and "-length:" */
            ncl += n >= 15 && lc8(p) == str8("content-") && lc8(p + 7) == str8("-length:");
            break;
        case 't': /* "transfer-encoding:": "transfer", "-encodin", "ncoding:" */
            if (n >= 18 && lc8(p) == str8("transfer") && lc8(p + 8) == str8("-encodin") &&
                lc8(p + 10) == str8("ncoding:")) {
                h2o_iovec_t v = line_value(p, n, 18);
                if (nte++ || !h2o_lcstris(v.base, v.len, H2O_STRLIT("chunked")))
                    return 1;
            }
            break;
        case 'h':
            if (n >= 5 && (p[1] | 0x20) == 'o' && (p[2] | 0x20) == 's' && (p[3] | 0x20) == 't' && p[4] == ':') {
                h2o_iovec_t v = line_value(p, n, 5);
                if (nhost++ || !host_value_ok(v.base, v.len))
                    return 1;
            }
            break;
        }
        p = eol;
    }
    return ncl > 1 || (nte && (ncl || minor_version == 0)) || (nhost == 0 && minor_version >= 1);
}

http1_event_t http1_check_raw_head(const char *buf, size_t len, int minor_version, const char **method,
                                   size_t *method_len, const char **path, size_t *path_len, const char **why)
{
    if (!raw_head_suspect(buf, len, minor_version))
        return HTTP1_REQUEST;
    struct phr_header hs[HTTP1_MAX_HEADERS];
    size_t nh = HTTP1_MAX_HEADERS;
    int minor;
    if (phr_parse_request(buf, len < HTTP1_MAX_HEAD ? len : HTTP1_MAX_HEAD, method, method_len, path, path_len, &minor,
                          hs, &nh, 0) <= 0)
        return HTTP1_NEED_MORE;
    return http1_check_head(hs, nh, minor, why);
}

/* Request line and headers are complete (n bytes): decide how the body
 * comes. An event, or PARSE_ON. */
static int on_head(http1_parser_t *p, int n, const char *buf, size_t len, http1_request_t *req)
{
    const struct phr_header *hs = req->headers;
    head_scan_t s;
    http1_event_t ev = scan_head(hs, req->num_headers, req->minor_version, &s, &req->error);
    if (ev != HTTP1_REQUEST) /* an h2c upgrade too: h2o would read it as laxly as it was sent */
        return fail(p, ev);
    if (s.upgrade_h2c && s.conn_upgrade && p->upgrade_h2)
        return HTTP1_HANDOFF; /* h2o reads the request again and switches protocols */
    p->head_len = (size_t)n;
    if (s.te) {
        memset(&p->dec, 0, sizeof(p->dec));
        p->dec.consume_trailer = 1;
        p->body_len = 0;
        p->state = HTTP1_BODY_CHUNKED;
    } else if (s.cl >= 0) {
        size_t clen = h2o_strtosize(hs[s.cl].value, hs[s.cl].value_len);
        if (clen == SIZE_MAX)
            return bad_request(p, req, "broken content-length header");
        if (clen > p->max_body) {
            req->body_len = clen;
            return fail(p, HTTP1_TOO_LARGE);
        }
        p->body_need = (size_t)n + clen;
        p->state = HTTP1_BODY_CL;
    } else {
        return request(p, req, buf, 0, NULL, 0, 0, (size_t)n);
    }
    if (p->state == HTTP1_BODY_CL && len >= p->body_need && s.expect < 0) /* all here: no second parse */
        return request(p, req, buf, 0, buf + n, p->body_need - (size_t)n, 1, p->body_need);
    if (s.expect >= 0) {
        if (!h2o_lcstris(hs[s.expect].value, hs[s.expect].value_len, H2O_STRLIT("100-continue")))
            return fail(p, HTTP1_EXPECTATION_FAILED);
        if ((p->state == HTTP1_BODY_CL && len < p->body_need) || p->state == HTTP1_BODY_CHUNKED)
            return HTTP1_CONTINUE;
    }
    return PARSE_ON;
}

http1_event_t http1_parse(http1_parser_t *p, char *buf, size_t *len, http1_request_t *req)
{
    for (;;) {
        switch (p->state) {
        case HTTP1_HEAD: {
            if (*len == 0)
                return HTTP1_NEED_MORE;
            size_t avail = *len < HTTP1_MAX_HEAD ? *len : HTTP1_MAX_HEAD;
            req->num_headers = HTTP1_MAX_HEADERS;
            int n = phr_parse_request(buf, avail, &req->method, &req->method_len, &req->path, &req->path_len,
                                      &req->minor_version, req->headers, &req->num_headers, p->prev_parse);
            p->prev_parse = avail;
            if (n == -2) {
                if (avail == HTTP1_MAX_HEAD)
                    return bad_request(p, req, "request header too large");
                return HTTP1_NEED_MORE;
            }
            p->prev_parse = 0;
            if (n < 0) {
                if (*len >= 12 && memcmp(buf, "PRI * HTTP/2", 12) == 0 && p->upgrade_h2)
                    return HTTP1_HANDOFF;
                if (*len <= 4 && crlf_only(buf, *len))
                    return HTTP1_CLOSE;
                return bad_request(p, req, "malformed request");
            }
            int ev = on_head(p, n, buf, *len, req);
            if (ev != PARSE_ON)
                return (http1_event_t)ev;
            break;
        }
        case HTTP1_BODY_CL:
            if (*len < p->body_need)
                return HTTP1_NEED_MORE;
            return request(p, req, buf, 1, buf + p->head_len, p->body_need - p->head_len, 1, p->body_need);
        case HTTP1_BODY_CHUNKED: {
            size_t start = p->head_len + p->body_len, sz = *len - start;
            if (sz == 0)
                return HTTP1_NEED_MORE;
            ssize_t r = phr_decode_chunked(&p->dec, buf + start, &sz);
            p->body_len += sz;
            *len = start + sz + (r > 0 ? (size_t)r : 0);
            if (r == -1 && p->dec._state == PHR_CHUNKED_IN_CHUNK_SIZE && p->dec._hex_count == 2 * sizeof(size_t)) {
                req->body_len = SIZE_MAX; /* a 17th hex digit: a chunk of 2^64 bytes or more */
                return fail(p, HTTP1_TOO_LARGE);
            }
            /* a chunk that cannot fit is refused once its size is read, not
             * after the timeout its bytes would take (bytes_left_in_chunk
             * only grows while the size is read); before a framing error
             * further on, so that the verdict is the same however the
             * bytes arrive */
            if (p->body_len > p->max_body || p->dec.bytes_left_in_chunk > p->max_body - p->body_len) {
                size_t left = p->dec.bytes_left_in_chunk;
                req->body_len = p->body_len > p->max_body ? p->body_len
                                : left > SIZE_MAX - p->body_len ? SIZE_MAX : p->body_len + left;
                return fail(p, HTTP1_TOO_LARGE);
            }
            if (r == -1)
                return bad_request(p, req, "broken chunked encoding");
            if (r == -2)
                return HTTP1_NEED_MORE;
            return request(p, req, buf, 1, buf + p->head_len, p->body_len, 1, start + sz);
        }
        case HTTP1_REJECTED:
        default:
            return HTTP1_NEED_MORE;
        }
    }
}
