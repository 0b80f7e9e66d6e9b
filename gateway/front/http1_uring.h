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

#include <stddef.h>

struct worker;
typedef struct http1_uring http1_uring_t;

/* Takes over the worker's listening sockets (w->listen_fds, set to -1) and
 * starts accepting. NULL with a reason in err when io_uring cannot be used
 * here (old kernel, seccomp, no multishot or buffer rings): the sockets are
 * then left untouched for h2o. */
http1_uring_t *http1_uring_new(struct worker *w, char *err, size_t errlen);
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
/* 1 while a listener is still open (its accept ends asynchronously). */
int http1_uring_listening(const http1_uring_t *u);
/* The i-th listening socket, or -1 once closed (for the drain's SYN filter). */
int http1_uring_listener_fd(const http1_uring_t *u, size_t i);
/* At worker exit: closes every connection and the ring. */
void http1_uring_free(http1_uring_t *u);

#endif
