/*
 * grpc_web: gRPC-Web on the REST port, for browsers: a POST to
 * /package.Service/Method with content-type application/grpc-web(+proto)
 * or application/grpc-web-text(+proto) is a gRPC call, passed through as
 * the gRPC listener passes its calls (same method table, version pick,
 * deadline, metadata; the messages relayed, not transcoded), with the
 * answer in gRPC-Web's shape: messages framed in the body, then the
 * trailers as a frame of their own (http/grpc_web_frame). Also the CORS
 * preflight (OPTIONS) such calls need from another origin.
 *
 *   dispatch -> grpc_web_handle -> method_table_find -> request_path_pick
 *            -> request_path_open + UPSTREAM_SEND_FRAMED -> frames out
 */
#ifndef AG_GRPC_WEB_H
#define AG_GRPC_WEB_H

#include <h2o.h>

/* 1 when req is gRPC-Web or its preflight and has been taken (answered, or
 * a call started); 0 for anything else, left to the next handler. */
int grpc_web_handle(h2o_req_t *req);
/* Frees the worker's recycled call contexts (at worker exit). */
struct worker;
void grpc_web_worker_dispose(struct worker *w);

#endif
