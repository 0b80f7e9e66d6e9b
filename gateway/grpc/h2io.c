/*
 * h2io.c: nghttp2's output gathered into one h2o socket write; its input
 * fed from the socket's buffer (h2io.h).
 */
#include "grpc/h2io.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int out_grow(h2io_t *io, size_t need)
{
    if (need <= io->outcap)
        return 0;
    size_t n = io->outcap ? io->outcap : 16384;
    while (n < need)
        n *= 2;
    uint8_t *p = realloc(io->out, n);
    if (p == NULL)
        return -1;
    io->out = p;
    io->outcap = n;
    return 0;
}

int h2io_flush(h2io_t *io, h2o_socket_cb on_written, char *err, size_t errlen)
{
    if (io->writing || io->sock == NULL)
        return 0;
    io->outlen = 0;
    while (io->outlen < H2IO_WRITE_GATHER_MAX) {
        const uint8_t *p;
        ssize_t n = nghttp2_session_mem_send(io->ng, &p);
        if (n < 0) {
            snprintf(err, errlen, "HTTP/2 session error: %s", nghttp2_strerror((int)n));
            return -1;
        }
        if (n == 0)
            break;
        if (out_grow(io, io->outlen + (size_t)n) != 0) {
            snprintf(err, errlen, "out of memory");
            return -1;
        }
        memcpy(io->out + io->outlen, p, (size_t)n);
        io->outlen += (size_t)n;
    }
    if (io->outlen == 0)
        return 0;
    io->writing = 1;
    h2o_iovec_t buf = h2o_iovec_init(io->out, io->outlen);
    h2o_socket_write(io->sock, &buf, 1, on_written);
    return 0;
}

ssize_t h2io_recv(h2io_t *io)
{
    h2o_socket_t *sock = io->sock;
    ssize_t r = nghttp2_session_mem_recv(io->ng, (const uint8_t *)sock->input->bytes, sock->input->size);
    h2o_buffer_consume(&sock->input, sock->input->size);
    return r;
}

void h2io_dispose(h2io_t *io)
{
    free(io->out);
    io->out = NULL;
    io->outlen = io->outcap = 0;
}
