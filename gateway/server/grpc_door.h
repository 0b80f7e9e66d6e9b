/*
 * grpc_door: the gRPC listener's calls (listen_grpc, port 9004): h2c with
 * prior knowledge on the grpc layer's HTTP/2 server, each call routed by
 * its path through the method table to its cluster, the version picked
 * from its metadata as REST picks it (weights, sticky header or hash,
 * x-canary), and relayed as it is: messages, metadata, trailers, flow
 * control and cancellation pass through, nothing is transcoded. Services
 * the gateway answers itself (grpc_local.h) are served here too.
 *
 *   listener (accept) -> h2server stream -> grpc_door: headers, route,
 *   pick -> request_path_open -> upstream -> frames and trailers back
 *
 * Per worker, on its loop; worker_loop accepts, drains and stops it.
 */
#ifndef AG_GRPC_DOOR_H
#define AG_GRPC_DOOR_H

#include <stddef.h>
#include <h2o.h>

struct worker;

/* Sets up the worker's door (w->grpc). -1 with err. */
int grpc_door_start(struct worker *w, char *err, size_t errlen);
/* An accepted connection of a gRPC listener (the door owns it now). */
void grpc_door_accept(struct worker *w, h2o_socket_t *sock);
/* The drain: final 0 is GOAWAY's shutdown notice, final 1 the real one;
 * calls in flight finish, connections close once idle. Local calls that
 * would stay open (Watch, reflection streams: grpc_local_hold) are ended
 * at each step, their trailers sent. */
void grpc_door_drain(struct worker *w, int final);
/* Closes what is left (calls still open end: their clients see the
 * connection go) and frees the door; after the upstreams are freed, so
 * calls they gave up on have had their UNAVAILABLE sent. */
void grpc_door_stop(struct worker *w);

#endif
