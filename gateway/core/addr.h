/*
 * addr: a socket address as the bytes that name a client, the key of the
 * per-client limits (rate limits, connection caps): IPv4 in 4 bytes (also
 * when mapped into IPv6, so a dual-stack listener counts a client once),
 * IPv6 in 16. The port is not part of it: one client, many connections.
 */
#ifndef AG_ADDR_H
#define AG_ADDR_H

#include <stddef.h>
#include <sys/socket.h>

/* The bytes into out; 0 for an address of another family. */
size_t addr_client_bytes(const struct sockaddr *sa, unsigned char out[16]);

#endif
