/*
 * listener: the gateway's listening sockets (the REST/gRPC ports, shared by
 * the workers and with a successor process through SO_REUSEPORT; the admin
 * port, which is not shared).
 */
#ifndef AG_LISTENER_H
#define AG_LISTENER_H

#include <stddef.h>
#include <stdint.h>

/* A non-blocking listening socket on host:port (*port is set when it was
 * 0), or -1 with the reason in err and errno kept (EADDRINUSE: the port is
 * taken). */
int listener_open(const char *host, uint16_t *port, int reuseport, char *err, size_t errlen);

#endif
