/*
 * ring: one worker's io_uring, as a socket of that worker's h2o loop (its
 * fd is readable when completions wait), with one provided buffer ring
 * that multishot receives take their buffers from.
 *
 * Operations are queued with the helpers below and go to the kernel
 * together, once per loop iteration (ring_flush), unless the queue fills
 * first. Each carries its owner (a pointer, 4-aligned) and its kind in
 * user_data, and its completions come back to the owner by kind
 * (ring_reap); kind RING_NONE marks operations nobody waits for (cancels).
 * A receive's buffer is the ring's until ring_buffer_return, which its
 * owner calls as soon as the bytes are copied out.
 *
 * The helpers are inline: they are the per-request path, and liburing's
 * own are inline too.
 */
#ifndef AG_RING_H
#define AG_RING_H

#ifdef AG_HAVE_LIBURING

#include <stddef.h>
#include <stdint.h>
#include <liburing.h>
#include <h2o.h>

#define RING_BUF_SIZE 4096 /* one provided receive buffer */
#define RING_NBUFS 1024    /* provided buffers per worker (power of two) */
#define RING_BGID 1

typedef enum ring_op { RING_NONE = 0, RING_ACCEPT = 1, RING_RECV = 2, RING_SEND = 3 } ring_op_t;

typedef struct ring {
    struct io_uring uring;
    int ok;                       /* uring is set up (and must be exited) */
    struct io_uring_buf_ring *br; /* RING_NBUFS buffers of RING_BUF_SIZE in bufs, group RING_BGID */
    char *bufs;
    int fd;                       /* a dup of the ring's fd, until ring_start gives it to sock */
    h2o_socket_t *sock;
} ring_t;

/* Sets up the ring and its buffers, and checks that multishot receive
 * works here. -1 with a reason in err (ring_dispose then). */
int ring_init(ring_t *r, char *err, size_t errlen);
/* From now on on_ready(sock, err) runs, sock->data = data, when
 * completions wait; it calls ring_reap. */
void ring_start(ring_t *r, h2o_loop_t *loop, h2o_socket_cb on_ready, void *data);
/* At shutdown, outside the loop: submits what is queued, waits up to ts
 * for a completion; 1 if any waits (ring_reap them). */
int ring_wait(ring_t *r, struct __kernel_timespec *ts);
/* Also after a failed ring_init. The kernel must have let go of every
 * owner by now. */
void ring_dispose(ring_t *r);

static inline struct io_uring_sqe *ring_sqe(ring_t *r)
{
    struct io_uring_sqe *sqe = io_uring_get_sqe(&r->uring);
    if (sqe == NULL) {
        io_uring_submit(&r->uring); /* the queue is full: this batch goes now */
        sqe = io_uring_get_sqe(&r->uring);
    }
    return sqe;
}

static inline uint64_t ring_tag(void *owner, ring_op_t op)
{
    return (uint64_t)(uintptr_t)owner | op;
}

/* The queueing helpers: -1 when no submission entry could be had. */
static inline int ring_accept(ring_t *r, int fd, void *owner)
{
    struct io_uring_sqe *sqe = ring_sqe(r);
    if (sqe == NULL)
        return -1;
    io_uring_prep_multishot_accept(sqe, fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
    sqe->user_data = ring_tag(owner, RING_ACCEPT);
    return 0;
}

static inline int ring_recv(ring_t *r, int fd, void *owner)
{
    struct io_uring_sqe *sqe = ring_sqe(r);
    if (sqe == NULL)
        return -1;
    io_uring_prep_recv_multishot(sqe, fd, NULL, 0, 0);
    sqe->flags |= IOSQE_BUFFER_SELECT;
    sqe->buf_group = RING_BGID;
    sqe->user_data = ring_tag(owner, RING_RECV);
    return 0;
}

static inline int ring_send(ring_t *r, int fd, const void *data, size_t len, void *owner)
{
    struct io_uring_sqe *sqe = ring_sqe(r);
    if (sqe == NULL)
        return -1;
    io_uring_prep_send(sqe, fd, data, len, MSG_NOSIGNAL);
    sqe->user_data = ring_tag(owner, RING_SEND);
    return 0;
}

/* Ends the owner's operation of that kind (its completion says -ECANCELED). */
static inline int ring_cancel(ring_t *r, void *owner, ring_op_t op)
{
    struct io_uring_sqe *sqe = ring_sqe(r);
    if (sqe == NULL)
        return -1;
    io_uring_prep_cancel64(sqe, ring_tag(owner, op), 0);
    sqe->user_data = 0;
    return 0;
}

/* Ends every operation on fd. */
static inline int ring_cancel_fd(ring_t *r, int fd)
{
    struct io_uring_sqe *sqe = ring_sqe(r);
    if (sqe == NULL)
        return -1;
    io_uring_prep_cancel_fd(sqe, fd, IORING_ASYNC_CANCEL_ALL);
    sqe->user_data = 0;
    return 0;
}

/* The completion's receive buffer, -1 if it has none. */
static inline int ring_cqe_buffer(const struct io_uring_cqe *cqe)
{
    return (cqe->flags & IORING_CQE_F_BUFFER) ? (int)(cqe->flags >> IORING_CQE_BUFFER_SHIFT) : -1;
}

/* 1 while a multishot operation goes on after this completion. */
static inline int ring_cqe_more(const struct io_uring_cqe *cqe)
{
    return (cqe->flags & IORING_CQE_F_MORE) != 0;
}

static inline const char *ring_buffer(const ring_t *r, unsigned bid)
{
    return r->bufs + (size_t)bid * RING_BUF_SIZE;
}

static inline void ring_buffer_return(ring_t *r, unsigned bid)
{
    io_uring_buf_ring_add(r->br, r->bufs + (size_t)bid * RING_BUF_SIZE, RING_BUF_SIZE, (unsigned short)bid,
                          io_uring_buf_ring_mask(RING_NBUFS), 0);
    io_uring_buf_ring_advance(r->br, 1);
}

/* Hands each waiting completion to handle(kind, owner, cqe), and those
 * that arrive meanwhile, for up to four rounds. */
static inline void ring_reap(ring_t *r, void (*handle)(ring_op_t op, void *owner, struct io_uring_cqe *cqe))
{
    for (int rounds = 0; rounds < 4; rounds++) {
        struct io_uring_cqe *cqe;
        unsigned head, n = 0;
        io_uring_for_each_cqe(&r->uring, head, cqe)
        {
            uint64_t ud = cqe->user_data;
            handle((ring_op_t)(ud & 3), (void *)(uintptr_t)(ud & ~(uint64_t)3), cqe);
            n++;
        }
        io_uring_cq_advance(&r->uring, n);
        if (n == 0)
            break;
    }
    if (io_uring_cq_has_overflow(&r->uring))
        io_uring_get_events(&r->uring); /* completions the full queue held back */
}

/* The end of every loop iteration: one system call for what is queued. */
static inline void ring_flush(ring_t *r)
{
    if (io_uring_sq_ready(&r->uring))
        io_uring_submit(&r->uring);
}

static inline void ring_submit(ring_t *r)
{
    io_uring_submit(&r->uring);
}

#endif /* AG_HAVE_LIBURING */

#endif
