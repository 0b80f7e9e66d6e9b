/*
 * api: the REST handler: route -> request transcoding -> one upstream gRPC
 * call -> response transcoding -> HTTP response, and newline-delimited JSON
 * for server-streaming methods. Every error, the gateway's own or the
 * upstream's, leaves as the contract's error JSON with its mapped status.
 */
#ifndef AG_API_H
#define AG_API_H

#include <h2o.h>

/* Handles req (any path not taken by health); always returns 0 (handled). */
int api_handle(h2o_req_t *req);
/* Frees the worker's recycled request contexts (at worker exit). */
struct worker;
void api_worker_dispose(struct worker *w);

#endif
