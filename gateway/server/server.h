/*
 * server: the gateway process: N workers, each a thread that owns its own
 * h2o event loop, SO_REUSEPORT listening sockets, upstream connections,
 * request contexts and access-log buffer. Nothing written on the request
 * path is shared between workers; the control plane (health state, drain)
 * is a handful of atomics read by whoever answers a probe.
 */
#ifndef AG_SERVER_H
#define AG_SERVER_H

#include <stddef.h>
#include "config/config.h"
#include "schema/schema.h"
#include "transcode/binding.h"

typedef struct server server_t;

/* Binds every listener (so a port in use fails here, before anything
 * starts) and checks that every bound service has a cluster. NULL with a
 * reason in err. The config, schema and bindings must outlive the server. */
server_t *server_new(const config_t *cfg, const schema_t *schema, const binding_table_t *bindings, char *err,
                     size_t errlen);
/* Starts the workers and blocks until server_stop() and the drain are done.
 * Returns 0, or 1 when a worker could not start. */
int server_run(server_t *s);
/* From any thread (e.g. the one that waits for SIGTERM): the drain.
 * Readiness answers 503 at once. Within a tick (100 ms) each worker stops
 * taking connections (new SYNs are dropped, so clients retry into a
 * process that shares the port; what was queued is accepted first), HTTP/2
 * connections get a GOAWAY and a final one a second later, HTTP/1.1
 * responses not started yet carry Connection: close, idle keep-alive
 * connections are closed after 900 ms. server_run returns when no request
 * is in flight and no client connection is open, or after
 * drain_timeout_ms. */
void server_stop(server_t *s);
void server_free(server_t *s);

#endif
