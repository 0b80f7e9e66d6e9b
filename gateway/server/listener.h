/*
 * listener: the gateway's listening sockets, each with an identity: its
 * kind (what it serves and how it is accepted), its address, and what it
 * serves (its h2o hosts). server.c builds one per configured address and
 * opens its sockets before any worker starts; each worker then accepts on
 * its own sockets with its own accept context per listener.
 *
 * Adding a kind is additive: a row in listener_kinds (listener.c), the
 * hosts it serves, and where the config names its addresses.
 */
#ifndef AG_LISTENER_H
#define AG_LISTENER_H

#include <stddef.h>
#include <stdint.h>
#include <h2o.h>

typedef enum listener_kind {
    LISTENER_REST,  /* /api/v11, /q/health, /q/metrics: HTTP/1.1 (io_uring or h2o) and HTTP/2 */
    LISTENER_ADMIN, /* the admin API */
    LISTENER_GRPC,  /* gRPC, h2c with prior knowledge: grpc_door on the grpc layer's HTTP/2 server, not h2o's */
    LISTENER_NKINDS
} listener_kind_t;

/* What a kind is, the same for every listener of it. */
typedef struct listener_kind_info {
    const char *name;   /* "rest", "admin": for messages */
    uint8_t per_worker; /* a socket per worker, shared by SO_REUSEPORT with the
                         * others and with a successor process; else one
                         * socket, worker 0's, never shared (two gateways
                         * must not split admin calls) */
    uint8_t drains;     /* closed in the drain, and its connections counted in
                         * the gauge the drain waits for */
    uint8_t uring;      /* the io_uring HTTP/1.1 front end may take it */
} listener_kind_info_t;

extern const listener_kind_info_t listener_kinds[LISTENER_NKINDS];

typedef struct listener {
    listener_kind_t kind;
    const char *host;        /* the config's */
    uint16_t port;           /* the bound one (a 0 in the config is the kernel's pick) */
    h2o_hostconf_t *hosts[2]; /* what it serves, NULL-terminated */
    int waiting;             /* not per_worker: its port was taken at start; worker 0 retries */
} listener_t;

/* A non-blocking listening socket on host:port (*port is set when it was
 * 0), or -1 with the reason in err and errno kept (EADDRINUSE: the port is
 * taken). */
int listener_open(const char *host, uint16_t *port, int reuseport, char *err, size_t errlen);

#endif
