/*
 * http1: HTTP/1.1 request framing, without a socket or a ring. Given the
 * bytes a connection has read, it says what they hold: nothing whole yet,
 * a whole request (line, headers, body), a body that waits for a
 * 100 Continue, something for h2o (HTTP/2 prior knowledge, Upgrade: h2c),
 * or an error the connection answers and closes on.
 *
 * The bytes stay the caller's: a request's strings point into its buffer,
 * and a chunked body is decoded in place (the buffer shrinks by the
 * framing). A request spans the first req->len bytes; the caller drops
 * them when it is done with the request (they may be in use until then)
 * and parses on from what follows, which is how pipelined requests come
 * one after another. The parse of a head is incremental (picohttpparser's
 * last_len), so a head that arrives byte by byte costs what it costs whole.
 *
 * Parsing uses h2o 2.2's parser and limits (picohttpparser, as its
 * lib/http1.c does); the framing follows RFC 9112 where h2o 2.2 is lax, so
 * that no two readers of the same bytes can disagree on where a request
 * ends (request smuggling): a repeated Content-Length, Content-Length with
 * Transfer-Encoding, a Transfer-Encoding that does not end in one
 * "chunked" (or any in HTTP/1.0), obs-fold, and a missing, repeated or
 * malformed Host in HTTP/1.1 are errors the connection closes on; a chunk
 * that could never fit the body limit is a 413 as soon as its size is read.
 */
#ifndef AG_HTTP1_H
#define AG_HTTP1_H

#include <stddef.h>
#include <sys/types.h>

/* picohttpparser's, as built into libh2o (no header is installed) */
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

/* h2o's limits (H2O_MAX_HEADERS, H2O_MAX_REQLEN; http1.c checks they match) */
#define HTTP1_MAX_HEADERS 100
#define HTTP1_MAX_HEAD (8192 + 4096 * HTTP1_MAX_HEADERS) /* request line and headers */

/* Where the parser is in the request it reads. */
typedef enum http1_state {
    HTTP1_HEAD,         /* reading a request line and headers (also between requests) */
    HTTP1_BODY_CL,      /* the head is whole; reading a Content-Length body */
    HTTP1_BODY_CHUNKED, /* the head is whole; decoding a chunked body */
    HTTP1_REJECTED,     /* an error was reported: nothing more is parsed */
} http1_state_t;

/* What http1_parse found. */
typedef enum http1_event {
    HTTP1_NEED_MORE,          /* nothing whole yet (or rejected): read on */
    HTTP1_REQUEST,            /* a whole request in *req; the parser waits for the next */
    HTTP1_CONTINUE,           /* Expect: 100-continue, the body is yet to come: say so, parse on */
    HTTP1_HANDOFF,            /* HTTP/2 prior knowledge, or Upgrade: h2c: for h2o, bytes untouched */
    HTTP1_CLOSE,              /* nothing but a stray line end or two: close, no answer */
    HTTP1_BAD_REQUEST,        /* 400; req->error says why */
    HTTP1_TOO_LARGE,          /* 413; req->body_len: the length declared or decoded so far (SIZE_MAX: 2^64 or more) */
    HTTP1_EXPECTATION_FAILED, /* 417: an Expect other than 100-continue */
    HTTP1_NOT_IMPLEMENTED,    /* 501: a transfer-coding before chunked (gzip, ...); req->error says so */
} http1_event_t;

/* One request as http1_parse yields it; strings point into the buffer. */
typedef struct http1_request {
    const char *method, *path;
    size_t method_len, path_len;
    int minor_version;                            /* HTTP/1.<minor_version> */
    size_t num_headers;
    struct phr_header headers[HTTP1_MAX_HEADERS]; /* every header, in order, names as sent */
    const char *body;                             /* has_body: the body (decoded when chunked) */
    size_t body_len;
    int has_body;                                 /* Content-Length or chunked, even if empty */
    size_t len;                                   /* bytes of the buffer the request spans */
    const char *error;                            /* HTTP1_BAD_REQUEST: why, for the error body */
} http1_request_t;

typedef struct http1_parser {
    http1_state_t state;
    size_t max_body;   /* over it: HTTP1_TOO_LARGE */
    int upgrade_h2;    /* hand h2c upgrades and prior knowledge over (else they are HTTP/1.1) */
    size_t prev_parse; /* HEAD: bytes the last, incomplete, parse saw */
    size_t head_len;   /* BODY_*: request line and headers */
    size_t body_need;  /* BODY_CL: head_len + Content-Length */
    size_t body_len;   /* BODY_CHUNKED: decoded so far (from head_len on) */
    struct phr_chunked_decoder dec;
} http1_parser_t;

void http1_parser_init(http1_parser_t *p, size_t max_body, int upgrade_h2);

/* RFC 9112's rules for a parsed head (those listed at the top), alone:
 * HTTP1_REQUEST when it keeps them, else HTTP1_BAD_REQUEST or
 * HTTP1_NOT_IMPLEMENTED with *why. http1_parse applies them to every head;
 * this is for a head another parser took (h2o's HTTP/1.1). */
http1_event_t http1_check_head(const struct phr_header *headers, size_t num_headers, int minor_version,
                               const char **why);
/* The same for the head at the start of buf[0..len) (HTTP/1.<minor_version>),
 * which another parser took whole: HTTP1_REQUEST at once when a quick look
 * finds nothing those rules are about; else it is parsed again, and on an
 * error *method and *path say what request the head is. HTTP1_NEED_MORE
 * when buf does not start with a whole head. */
http1_event_t http1_check_raw_head(const char *buf, size_t len, int minor_version, const char **method,
                                   size_t *method_len, const char **path, size_t *path_len, const char **why);

/* Parses buf[0..*len) from where the parser left off. *len shrinks when a
 * chunked body is decoded. On HTTP1_REQUEST, *req holds the request and the
 * parser is back at HTTP1_HEAD for the bytes after req->len; on an error
 * it is HTTP1_REJECTED. */
http1_event_t http1_parse(http1_parser_t *p, char *buf, size_t *len, http1_request_t *req);

#endif
