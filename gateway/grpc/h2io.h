/*
 * h2io: an nghttp2 session (client or server) on an h2o socket of the
 * worker's own loop: what the peer sent goes into the session, and what
 * the session has to say goes out gathered into one write, never two in
 * flight on one socket. The upstream client's connections and the gRPC
 * listener's server connections both run on it; each keeps its own
 * policy (when to flush, what an error means).
 */
#ifndef AG_GRPC_H2IO_H
#define AG_GRPC_H2IO_H

#ifndef H2O_USE_LIBUV
#define H2O_USE_LIBUV 0
#endif
#include <nghttp2/nghttp2.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <h2o/socket.h>

#define H2IO_WRITE_GATHER_MAX (1u << 20) /* one socket write carries at most about this */

typedef struct h2io {
    h2o_socket_t *sock;
    nghttp2_session *ng;
    uint8_t *out; /* the write in flight (h2o references it until on_written) */
    size_t outlen, outcap;
    int writing;
} h2io_t;

/*
 * Gathers what the session has to send into one write, unless one is in
 * flight already; on_written (the owner's, with sock->data its own) must
 * call h2io_written first. 0: written or nothing to write; -1: a session
 * error or out of memory, the reason in err.
 */
int h2io_flush(h2io_t *io, h2o_socket_cb on_written, char *err, size_t errlen);
/* In on_written: the write is done, the buffer free for the next. */
static inline void h2io_written(h2io_t *io)
{
    io->writing = 0;
}
/* What the socket has read, into the session (and consumed from the
 * socket's buffer): nghttp2_session_mem_recv's result. */
ssize_t h2io_recv(h2io_t *io);
/* Whether the session has nothing left to read or write. */
static inline int h2io_finished(const h2io_t *io)
{
    return !nghttp2_session_want_read(io->ng) && !nghttp2_session_want_write(io->ng);
}
void h2io_dispose(h2io_t *io);

#endif
