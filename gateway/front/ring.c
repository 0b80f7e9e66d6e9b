/*
 * ring.c: setting up and tearing down a worker's io_uring (see ring.h; the
 * per-operation helpers are inline there).
 *
 * What the front end relies on is checked here, once, so that a kernel
 * without it means h2o serves instead: accept/recv/send/cancel, no dropped
 * completions (IORING_FEAT_NODROP), a provided buffer ring, and multishot
 * receive on it (6.0), tried on a socket pair.
 */
#include "front/ring.h"

#ifdef AG_HAVE_LIBURING

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define RING_SQ_ENTRIES 1024
#define RING_CQ_ENTRIES 16384

int ring_init(ring_t *r, char *err, size_t errlen)
{
    *r = (ring_t){.fd = -1};
    struct io_uring_params p = {.flags = IORING_SETUP_CQSIZE | IORING_SETUP_SUBMIT_ALL | IORING_SETUP_SINGLE_ISSUER,
                                .cq_entries = RING_CQ_ENTRIES};
    int rc = io_uring_queue_init_params(RING_SQ_ENTRIES, &r->uring, &p);
    if (rc == -EINVAL) { /* a kernel before 6.0 knows not every flag; the rest check below */
        p = (struct io_uring_params){.flags = IORING_SETUP_CQSIZE, .cq_entries = RING_CQ_ENTRIES};
        rc = io_uring_queue_init_params(RING_SQ_ENTRIES, &r->uring, &p);
    }
    if (rc < 0) {
        snprintf(err, errlen, "io_uring_setup: %s", strerror(-rc));
        return -1;
    }
    r->ok = 1;
    struct io_uring_probe *probe = io_uring_get_probe_ring(&r->uring);
    int ops = probe && io_uring_opcode_supported(probe, IORING_OP_ACCEPT) &&
              io_uring_opcode_supported(probe, IORING_OP_RECV) && io_uring_opcode_supported(probe, IORING_OP_SEND) &&
              io_uring_opcode_supported(probe, IORING_OP_ASYNC_CANCEL);
    if (probe)
        io_uring_free_probe(probe);
    if (!ops || !(p.features & IORING_FEAT_NODROP)) {
        snprintf(err, errlen, "io_uring lacks accept/recv/send/cancel");
        return -1;
    }
    /* the provided buffer ring (multishot receive needs one: kernel 6.0) */
    if (posix_memalign((void **)&r->br, 4096, RING_NBUFS * sizeof(struct io_uring_buf)) != 0 ||
        (r->bufs = malloc((size_t)RING_NBUFS * RING_BUF_SIZE)) == NULL) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    struct io_uring_buf_reg reg = {.ring_addr = (uint64_t)(uintptr_t)r->br, .ring_entries = RING_NBUFS,
                                   .bgid = RING_BGID};
    if ((rc = io_uring_register_buf_ring(&r->uring, &reg, 0)) < 0) {
        snprintf(err, errlen, "buffer ring: %s", strerror(-rc));
        free(r->br);
        r->br = NULL;
        return -1;
    }
    io_uring_buf_ring_init(r->br);
    for (unsigned i = 0; i < RING_NBUFS; i++)
        io_uring_buf_ring_add(r->br, r->bufs + (size_t)i * RING_BUF_SIZE, RING_BUF_SIZE, (unsigned short)i,
                              io_uring_buf_ring_mask(RING_NBUFS), (int)i);
    io_uring_buf_ring_advance(r->br, RING_NBUFS);

    /* multishot receive exists since 6.0: try it on a socket pair before relying on it */
    int sv[2];
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv) != 0) {
        snprintf(err, errlen, "socketpair: %s", strerror(errno));
        return -1;
    }
    struct io_uring_sqe *sqe = io_uring_get_sqe(&r->uring);
    io_uring_prep_recv_multishot(sqe, sv[0], NULL, 0, 0);
    sqe->flags |= IOSQE_BUFFER_SELECT;
    sqe->buf_group = RING_BGID;
    sqe->user_data = 42;
    rc = (int)write(sv[1], "x", 1);
    struct io_uring_cqe *cqe = NULL;
    if (rc == 1)
        rc = io_uring_submit_and_wait(&r->uring, 1);
    if (rc >= 0)
        rc = io_uring_peek_cqe(&r->uring, &cqe);
    int works = rc == 0 && cqe && cqe->res == 1 && (cqe->flags & IORING_CQE_F_MORE) && (cqe->flags & IORING_CQE_F_BUFFER);
    int probe_res = cqe ? cqe->res : rc;
    if (cqe) {
        if (cqe->flags & IORING_CQE_F_BUFFER)
            ring_buffer_return(r, cqe->flags >> IORING_CQE_BUFFER_SHIFT);
        io_uring_cqe_seen(&r->uring, cqe);
    }
    close(sv[1]);
    close(sv[0]);
    /* the receive ends (closed socket) with a completion of its own: reap it */
    for (int i = 0; i < 100 && works; i++) {
        if (io_uring_submit_and_wait(&r->uring, 1) < 0 || io_uring_peek_cqe(&r->uring, &cqe) != 0)
            break;
        int more = cqe->flags & IORING_CQE_F_MORE;
        if (cqe->flags & IORING_CQE_F_BUFFER)
            ring_buffer_return(r, cqe->flags >> IORING_CQE_BUFFER_SHIFT);
        io_uring_cqe_seen(&r->uring, cqe);
        if (!more)
            break;
    }
    if (!works) {
        snprintf(err, errlen, "multishot receive with a buffer ring does not work here (%s)",
                 probe_res < 0 ? strerror(-probe_res) : "no completion");
        return -1;
    }

    r->fd = dup(r->uring.ring_fd); /* h2o closes its socket's fd; liburing closes its own */
    if (r->fd < 0) {
        snprintf(err, errlen, "dup: %s", strerror(errno));
        return -1;
    }
    return 0;
}

void ring_start(ring_t *r, h2o_loop_t *loop, h2o_socket_cb on_ready, void *data)
{
    r->sock = h2o_evloop_socket_create(loop, r->fd, H2O_SOCKET_FLAG_DONT_READ);
    r->fd = -1; /* the socket's now */
    r->sock->data = data;
    h2o_socket_read_start(r->sock, on_ready);
}

int ring_wait(ring_t *r, struct __kernel_timespec *ts)
{
    struct io_uring_cqe *cqe;
    io_uring_submit(&r->uring);
    return io_uring_wait_cqe_timeout(&r->uring, &cqe, ts) == 0;
}

void ring_dispose(ring_t *r)
{
    if (r->sock) {
        h2o_socket_read_stop(r->sock);
        h2o_socket_close(r->sock);
        r->sock = NULL;
    }
    if (r->fd >= 0)
        close(r->fd);
    r->fd = -1;
    if (r->ok)
        io_uring_queue_exit(&r->uring);
    r->ok = 0;
    free(r->br);
    free(r->bufs);
    r->br = NULL;
    r->bufs = NULL;
}

#endif /* AG_HAVE_LIBURING */
