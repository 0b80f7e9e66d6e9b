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

/* Request line and headers are complete (n bytes): decide how the body
 * comes. An event, or PARSE_ON. */
static int on_head(http1_parser_t *p, int n, const char *buf, size_t len, http1_request_t *req)
{
    const struct phr_header *hs = req->headers;
    size_t nh = req->num_headers;
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
    if (upgrade_h2c && conn_upgrade && p->upgrade_h2)
        return HTTP1_HANDOFF; /* h2o reads the request again and switches protocols */
    p->head_len = (size_t)n;
    if (te >= 0) {
        if (!h2o_lcstris(hs[te].value, hs[te].value_len, H2O_STRLIT("chunked")))
            return bad_request(p, req, "unknown transfer-encoding");
        memset(&p->dec, 0, sizeof(p->dec));
        p->dec.consume_trailer = 1;
        p->body_len = 0;
        p->state = HTTP1_BODY_CHUNKED;
    } else if (cl >= 0) {
        size_t clen = h2o_strtosize(hs[cl].value, hs[cl].value_len);
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
    if (p->state == HTTP1_BODY_CL && len >= p->body_need && expect < 0) /* all here: no second parse */
        return request(p, req, buf, 0, buf + n, p->body_need - (size_t)n, 1, p->body_need);
    if (expect >= 0) {
        if (!h2o_lcstris(hs[expect].value, hs[expect].value_len, H2O_STRLIT("100-continue")))
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
            if (r == -1)
                return bad_request(p, req, "broken chunked encoding");
            if (p->body_len > p->max_body) {
                req->body_len = p->body_len;
                return fail(p, HTTP1_TOO_LARGE);
            }
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
