/*
 * conn_limit: how many client connections the gateway holds, and what it
 * does at its limits (connections: in the config).
 *
 *   connections.max       open at once over all workers (0: 90% of the
 *                         open-files limit, so accept never runs out of fds)
 *   max_per_client        from one client address (0: no cap): past it a
 *                         new connection is closed at once
 *   probe_reserve         beyond max: connections that may only ask
 *                         /q/health (anything else is a 503), closed after
 *                         their answer or 1 s (io_uring), so a load
 *                         balancer's probes still get through a flood
 *
 * At max, as nginx does, the accepting worker first closes one of its idle
 * HTTP/1.1 keep-alive connections (no request under way, oldest first) and
 * takes the new one in its place; with none to close, the new one goes
 * into the probe reserve, and past that it is closed at once.
 *
 * Counting is per connection, never per request: an atomic add on accept
 * and a subtraction on close, on the global count and on the client's slot
 * of a shared table (a seeded hash of the address; key and count share one
 * atomic word, so a slot changes hands only when its count is 0).
 */
#ifndef AG_CONN_LIMIT_H
#define AG_CONN_LIMIT_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <h2o.h>

#include "config/config.h"

struct worker;
struct shared;
typedef struct conn_limits conn_limits_t;
typedef struct conn_ticket conn_ticket_t;

/* From the config; the cap in force goes to sh->connections_max (and
 * refusals are counted in sh->connections_refused). */
conn_limits_t *conn_limits_new(const config_connections_t *cfg, struct shared *sh, char *err, size_t errlen);
void conn_limits_free(conn_limits_t *cl);

/* A connection worker w just accepted from peer (NULL: unknown): its
 * ticket, or NULL when it is refused (the caller closes it). At the cap,
 * shed(w) is asked to close one of w's idle connections (1 if it did) to
 * make room. *probe_only: it may only ask /q/health. It counts in w's
 * connection gauge until conn_limit_close. */
conn_ticket_t *conn_limit_open(struct worker *w, const struct sockaddr *peer, int (*shed)(struct worker *w),
                               int *probe_only);
/* The connection is gone: h2o's socket on_close, or the io_uring front
 * end's conn_closed, with the ticket as data. */
void conn_limit_close(void *ticket);
/* The ticket of an h2o connection's socket, NULL when it has none. */
conn_ticket_t *conn_limit_ticket_of(h2o_conn_t *conn);
int conn_limit_ticket_probe_only(const conn_ticket_t *t);
/* w's spare tickets, at worker exit. */
void conn_limit_worker_dispose(struct worker *w);

#endif
