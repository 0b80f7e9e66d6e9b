/*
 * http1_h2o: RFC 9112's framing rules (front/http1.h) for the HTTP/1.1
 * requests h2o 2.2 parses itself (--http1 h2o, or where io_uring is
 * unusable). h2o takes a repeated Content-Length (the first wins),
 * Content-Length with Transfer-Encoding (chunked wins), obs-fold and a
 * missing or repeated Host; a handler first on a path refuses such a
 * request before any other handler sees it: 400 (or 501) error JSON,
 * Connection: close, so whatever was smuggled behind it is never read.
 *
 * What it cannot do: a request h2o never completes never reaches a
 * handler. A chunk size no body limit allows (2^63) waits for h2o's request
 * timeout there, and its malformed framing gets h2o's own text/plain 400.
 */
#ifndef AG_HTTP1_H2O_H
#define AG_HTTP1_H2O_H

#include <h2o.h>

/* Registers the check on path; call it before the path's other handlers.
 * error_field: the error JSON carries "error" too (a JSON profile's shape). */
void http1_h2o_register(h2o_pathconf_t *path, int error_field);

#endif
