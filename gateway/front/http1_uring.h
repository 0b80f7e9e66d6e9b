/*
 * http1_uring: the HTTP/1.1 front end on io_uring, beside h2o's epoll loop
 * on the same worker thread.
 *
 * Multishot accept on the worker's listening sockets, multishot receive
 * into a provided buffer ring, sends from per-connection buffers, and all
 * of it submitted once per loop iteration (http1_uring_flush). Requests
 * are h2o requests on a connection type of our own, so the handlers (api,
 * health, metrics), h2o's filters (chunked encoding) and the upstream
 * calls on the same loop are the same for both front ends. What this front
 * end does not speak (HTTP/2 prior knowledge, Upgrade: h2c) is handed to
 * h2o with the bytes already read.
 */
#ifndef AG_HTTP1_URING_H
#define AG_HTTP1_URING_H

#include <stdatomic.h>
#include <stddef.h>
#include <h2o.h>

typedef struct http1_uring http1_uring_t;

/* What the front end works with, all of it the worker's and outliving the
 * front end. */
typedef struct http1_uring_config {
    h2o_context_t *ctx;          /* the worker's loop (and timeouts, globalconf): requests run on it */
    h2o_accept_ctx_t *accept;    /* its hosts serve the requests; connections handed off go to it */
    int *listen_fds;             /* the listening sockets, taken over: each set to -1 */
    size_t nlisten;
    const _Atomic int *draining; /* the server's drain flag, set at once (SIGTERM, POST /admin/drain) */
    /* admission and the connection gauge: conn_opened(conn_data, peer,
     * &limited) for each accepted connection gives its ticket, or NULL to
     * refuse it (closed at once); conn_closed(ticket) once it is gone
     * (also as h2o's on_close for a socket handed off). A limited one may
     * send one request (answered with Connection: close) and has 1 s to. */
    void *(*conn_opened)(void *data, const struct sockaddr *peer, int *limited);
    void (*conn_closed)(void *ticket);
    void *conn_data;
    int error_field;             /* the 413 body carries "error" too (a JSON profile's shape) */
} http1_uring_config_t;

/* Takes over the listening sockets and starts accepting. NULL with a
 * reason in err when io_uring cannot be used here (old kernel, seccomp, no
 * multishot or buffer rings): the sockets are then left untouched for h2o. */
http1_uring_t *http1_uring_new(const http1_uring_config_t *cfg, char *err, size_t errlen);
/* The end of every loop iteration: sends what responses produced, submits
 * every queued operation with one system call. */
void http1_uring_flush(http1_uring_t *u);
/* The drain, in the worker's steps (worker.c): http1_uring_drain at its
 * start (every response from then on says Connection: close and the
 * connection closes after it), http1_uring_close_listeners once what the
 * listeners had queued is accepted, http1_uring_close_idle for connections
 * with no request bytes (called again every tick). */
void http1_uring_drain(http1_uring_t *u);
void http1_uring_close_listeners(http1_uring_t *u);
void http1_uring_close_idle(http1_uring_t *u);
/* Under pressure (a connection cap): closes the oldest connection with no
 * request under way (not a limited one: those have their own 1 s); 1 when
 * there was one. */
int http1_uring_shed_idle(http1_uring_t *u);
/* Whether conn is one of this front end's connections accepted limited. */
int http1_uring_conn_limited(const h2o_conn_t *conn);
/* 1 while a listener is still open (its accept ends asynchronously). */
int http1_uring_listening(const http1_uring_t *u);
/* The i-th listening socket, or -1 once closed (for the drain's SYN filter). */
int http1_uring_listener_fd(const http1_uring_t *u, size_t i);
/* At worker exit: closes every connection and the ring. */
void http1_uring_free(http1_uring_t *u);

#endif
