/*
 * server.c: the gRPC C core server loop behind aurigraph-services.
 *
 * Every method of every service in svc.h is registered with
 * GRPC_SRM_PAYLOAD_READ_INITIAL_BYTE_BUFFER, so a call arrives together
 * with its one request message. Calls to any other path are taken through
 * grpc_server_request_call and answered UNIMPLEMENTED; without that request
 * the core would park them until their deadline.
 *
 * --threads threads poll one completion queue; everything they do with
 * our state happens under one mutex (see poller()). Each call is a struct
 * rpc whose embedded tags name the batch that completed:
 *
 *   unary:  NEW -> [delay queue] -> FINAL (initial metadata, message,
 *           status, close in one batch) -> freed
 *   stream: NEW -> CLOSE armed -> [delay queue] -> SEND, SEND, ... (one
 *           message in flight at a time) -> CLOSE (client gone or server
 *           shutdown) -> freed once no batch is in flight
 *
 * The queue is polled with a short deadline instead of a timer: a timeout
 * runs due entries of the delay queue (--latency-ms) and notices a stop
 * signal. Latency is constant, so the delay queue is FIFO and sorted.
 */
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <grpc/byte_buffer_reader.h>
#include <grpc/grpc_security.h>
#include <grpc/support/time.h>

#include "db.h"
#include "server.h"
#include "svc.h"

#define REQUESTS_PER_METHOD 4   /* calls the core can hand over without waiting for us */
#define POLL_MS 50
#define STREAM_QUEUE_MAX 1024   /* messages a slow stream reader may fall behind by */
#define SHUTDOWN_GRACE_MS 5000
#define MAX_THREADS 64

struct reg {
    const struct svc_service *svc;
    const struct svc_method *m;
    const ProtobufCMessageDescriptor *input;
    char *path;
    void *handle;
};

enum tag_kind { TAG_NEW, TAG_FINAL, TAG_SEND, TAG_CLOSE, TAG_SHUTDOWN };

struct tag {
    enum tag_kind kind;
    struct rpc *rpc;
};

struct stream {
    struct rpc *rpc;
    grpc_slice ring[STREAM_QUEUE_MAX];
    size_t head, len;
    int ready;       /* past its --latency-ms delay */
    int md_sent;
    int sending;
    int closed;      /* RECV_CLOSE_ON_SERVER completed */
    int dead;        /* a send failed or the queue overflowed: send no more */
};

struct rpc {
    struct tag t_new, t_final, t_send, t_close;
    const struct reg *reg;        /* NULL: a generic request (unknown method) */
    grpc_call *call;
    gpr_timespec deadline;
    grpc_metadata_array req_md;
    grpc_byte_buffer *payload;
    grpc_call_details details;    /* generic requests only */
    int batches;                  /* in flight */
    int cancelled;
    struct reply reply;
    grpc_slice status_details;
    int has_status_details;
    grpc_byte_buffer *send_buf;
    struct stream *stream;
    int delayed;
    int64_t due_ns;
    struct rpc *delay_next;
    grpc_metadata *md;            /* initial metadata of the answer, built once */
    size_t n_md;
    int injected;                 /* failed on purpose (--fail-rate) */
    grpc_metadata trailer;        /* grpc-status-details-bin, when has_trailer */
    int has_trailer;
};


static struct {
    const struct server_opts *opts;
    grpc_server *server;
    grpc_completion_queue *cq;
    struct reg *regs;
    size_t n_regs;
    grpc_metadata initial_md[1];
    size_t n_initial_md;
    int echo_metadata;
    struct rpc *delay_head, *delay_tail;
    long live;                    /* struct rpc allocated */
    int shutting_down, shutdown_done, cq_shut;
    int64_t shutdown_started_ns;
    struct tag t_shutdown;
} S;

#define ECHO_PREFIX "x-echo-"

/* The answer's initial metadata: the server-wide entries (x-version-tag),
 * then, as a test hook for gateways, the request's `traceparent` and every
 * `x-echo-*` entry sent back unchanged. */
static void build_initial_md(struct rpc *rpc)
{
    size_t extra = 0;
    for (size_t i = 0; S.echo_metadata && i < rpc->req_md.count; i++) {
        const grpc_slice k = rpc->req_md.metadata[i].key;
        if (grpc_slice_str_cmp(k, "traceparent") == 0 ||
            (GRPC_SLICE_LENGTH(k) > strlen(ECHO_PREFIX) &&
             memcmp(GRPC_SLICE_START_PTR(k), ECHO_PREFIX, strlen(ECHO_PREFIX)) == 0))
            extra++;
    }
    rpc->md = calloc(S.n_initial_md + extra + 1, sizeof(*rpc->md));
    if (rpc->md == NULL)
        return;
    for (size_t i = 0; i < S.n_initial_md; i++) {
        rpc->md[rpc->n_md].key = grpc_slice_ref(S.initial_md[i].key);
        rpc->md[rpc->n_md++].value = grpc_slice_ref(S.initial_md[i].value);
    }
    for (size_t i = 0; i < rpc->req_md.count && extra; i++) {
        const grpc_slice k = rpc->req_md.metadata[i].key;
        if (grpc_slice_str_cmp(k, "traceparent") == 0 ||
            (GRPC_SLICE_LENGTH(k) > strlen(ECHO_PREFIX) &&
             memcmp(GRPC_SLICE_START_PTR(k), ECHO_PREFIX, strlen(ECHO_PREFIX)) == 0)) {
            rpc->md[rpc->n_md].key = grpc_slice_ref(k);
            rpc->md[rpc->n_md++].value = grpc_slice_ref(rpc->req_md.metadata[i].value);
        }
    }
}

/* lock-free, so safe to set from a signal handler on any thread */
static atomic_int stop_requested;
static pthread_mutex_t big = PTHREAD_MUTEX_INITIALIZER;

static void on_signal(int sig)
{
    (void)sig;
    atomic_store(&stop_requested, 1);
}

/* --- rpc lifetime -------------------------------------------------------- */

static struct rpc *rpc_new(const struct reg *reg)
{
    struct rpc *rpc = xcalloc(1, sizeof(*rpc));

    rpc->t_new = (struct tag){TAG_NEW, rpc};
    rpc->t_final = (struct tag){TAG_FINAL, rpc};
    rpc->t_send = (struct tag){TAG_SEND, rpc};
    rpc->t_close = (struct tag){TAG_CLOSE, rpc};
    rpc->reg = reg;
    grpc_metadata_array_init(&rpc->req_md);
    if (!reg)
        grpc_call_details_init(&rpc->details);
    S.live++;
    return rpc;
}

static void stream_free(struct stream *st)
{
    while (st->len) {
        grpc_slice_unref(st->ring[st->head]);
        st->head = (st->head + 1) % STREAM_QUEUE_MAX;
        st->len--;
    }
    free(st);
}

static void rpc_free(struct rpc *rpc)
{
    if (rpc->stream)
        stream_free(rpc->stream);
    if (rpc->call)
        grpc_call_unref(rpc->call);
    for (size_t i = 0; i < rpc->n_md; i++) {
        grpc_slice_unref(rpc->md[i].key);
        grpc_slice_unref(rpc->md[i].value);
    }
    free(rpc->md);
    if (rpc->has_trailer) {
        grpc_slice_unref(rpc->trailer.key);
        grpc_slice_unref(rpc->trailer.value);
    }
    grpc_metadata_array_destroy(&rpc->req_md);
    if (rpc->payload)
        grpc_byte_buffer_destroy(rpc->payload);
    if (!rpc->reg)
        grpc_call_details_destroy(&rpc->details);
    if (rpc->reply.has_body)
        grpc_slice_unref(rpc->reply.body);
    if (rpc->has_status_details)
        grpc_slice_unref(rpc->status_details);
    if (rpc->send_buf)
        grpc_byte_buffer_destroy(rpc->send_buf);
    free(rpc);
    S.live--;
}

static void request_call(const struct reg *reg)
{
    struct rpc *rpc = rpc_new(reg);
    grpc_call_error err;

    if (reg)
        err = grpc_server_request_registered_call(S.server, reg->handle, &rpc->call, &rpc->deadline,
                                                  &rpc->req_md, &rpc->payload, S.cq, S.cq,
                                                  &rpc->t_new);
    else
        err = grpc_server_request_call(S.server, &rpc->call, &rpc->details, &rpc->req_md, S.cq,
                                       S.cq, &rpc->t_new);
    if (err != GRPC_CALL_OK) {
        fprintf(stderr, "aurigraph-services: request_call failed (%d)\n", (int)err);
        rpc_free(rpc);
    }
}

static int start_batch(struct rpc *rpc, const grpc_op *ops, size_t n, struct tag *tag)
{
    grpc_call_error err = grpc_call_start_batch(rpc->call, ops, n, tag, NULL);

    if (err != GRPC_CALL_OK) {
        fprintf(stderr, "aurigraph-services: start_batch failed (%d)\n", (int)err);
        return -1;
    }
    rpc->batches++;
    return 0;
}

static void initial_md_op(struct rpc *rpc, grpc_op *op)
{
    if (rpc->md == NULL)
        build_initial_md(rpc);
    op->op = GRPC_OP_SEND_INITIAL_METADATA;
    op->data.send_initial_metadata.count = rpc->md ? rpc->n_md : S.n_initial_md;
    op->data.send_initial_metadata.metadata = rpc->md ? rpc->md : S.initial_md;
}

/* --- status details ------------------------------------------------------ */

static size_t put_varint(uint8_t *p, uint64_t v)
{
    size_t n = 0;
    while (v >= 0x80) {
        p[n++] = (uint8_t)(v | 0x80);
        v >>= 7;
    }
    p[n++] = (uint8_t)v;
    return n;
}

static size_t put_bytes(uint8_t *p, unsigned field, const void *data, size_t len)
{
    size_t n = put_varint(p, (uint64_t)field << 3 | 2);
    n += put_varint(p + n, len);
    memcpy(p + n, data, len);
    return n + len;
}

/* google.rpc.Status{code, message, details: [Any{StringValue{text}}]},
 * encoded by hand: three small messages do not need generated code. */
static void attach_details(struct rpc *rpc, const char *text)
{
    static const char type_url[] = "type.googleapis.com/google.protobuf.StringValue";
    uint8_t sv[256], any[512], status[1024];
    size_t svn = put_bytes(sv, 1, text, strlen(text));
    size_t anyn = put_bytes(any, 1, type_url, sizeof(type_url) - 1);
    anyn += put_bytes(any + anyn, 2, sv, svn);
    size_t n = put_varint(status, 1 << 3);
    n += put_varint(status + n, (uint64_t)rpc->reply.code);
    n += put_bytes(status + n, 2, rpc->reply.message, strlen(rpc->reply.message));
    n += put_bytes(status + n, 3, any, anyn);
    /* C core base64-encodes -bin values on the wire itself */
    rpc->trailer.key = grpc_slice_from_static_string("grpc-status-details-bin");
    rpc->trailer.value = grpc_slice_from_copied_buffer((const char *)status, n);
    rpc->has_trailer = 1;
}

/* --- unary replies ------------------------------------------------------- */

/* Everything a unary call still owes the client, in one batch. */
static void finish(struct rpc *rpc)
{
    grpc_op ops[4];
    size_t n = 0;

    memset(ops, 0, sizeof(ops));
    initial_md_op(rpc, &ops[n++]);
    if (rpc->reply.code == GRPC_STATUS_OK && rpc->reply.has_body) {
        rpc->send_buf = grpc_raw_byte_buffer_create(&rpc->reply.body, 1);
        ops[n].op = GRPC_OP_SEND_MESSAGE;
        ops[n].data.send_message.send_message = rpc->send_buf;
        n++;
    }
    ops[n].op = GRPC_OP_SEND_STATUS_FROM_SERVER;
    ops[n].data.send_status_from_server.status = rpc->reply.code;
    if (rpc->reply.code != GRPC_STATUS_OK && rpc->reply.message[0]) {
        rpc->status_details = grpc_slice_from_copied_string(rpc->reply.message);
        rpc->has_status_details = 1;
        ops[n].data.send_status_from_server.status_details = &rpc->status_details;
    }
    if (rpc->injected && S.opts->fail_details && !rpc->has_trailer)
        attach_details(rpc, S.opts->fail_details);
    if (rpc->has_trailer) {
        ops[n].data.send_status_from_server.trailing_metadata_count = 1;
        ops[n].data.send_status_from_server.trailing_metadata = &rpc->trailer;
    }
    n++;
    ops[n].op = GRPC_OP_RECV_CLOSE_ON_SERVER;
    ops[n].data.recv_close_on_server.cancelled = &rpc->cancelled;
    n++;
    if (start_batch(rpc, ops, n, &rpc->t_final) != 0)
        rpc_free(rpc);
}

/* --- streams ------------------------------------------------------------- */

static void stream_maybe_free(struct rpc *rpc)
{
    if (rpc->stream->closed && rpc->batches == 0 && !rpc->delayed)
        rpc_free(rpc);
}

static void stream_pump(struct stream *st)
{
    struct rpc *rpc = st->rpc;
    grpc_op ops[2];
    size_t n = 0;

    if (st->sending || !st->ready || st->closed || st->dead)
        return;
    if (st->md_sent && st->len == 0)
        return;
    memset(ops, 0, sizeof(ops));
    /* headers go out at once, even with nothing queued: a REST client
     * waiting on the stream sees its 200 before the first event */
    if (!st->md_sent) {
        initial_md_op(rpc, &ops[n++]);
        st->md_sent = 1;
    }
    if (st->len) {
        grpc_slice msg = st->ring[st->head];
        st->head = (st->head + 1) % STREAM_QUEUE_MAX;
        st->len--;
        rpc->send_buf = grpc_raw_byte_buffer_create(&msg, 1);
        grpc_slice_unref(msg);
        ops[n].op = GRPC_OP_SEND_MESSAGE;
        ops[n].data.send_message.send_message = rpc->send_buf;
        n++;
    }
    if (start_batch(rpc, ops, n, &rpc->t_send) == 0) {
        st->sending = 1;
    } else {
        st->dead = 1;
        grpc_call_cancel(rpc->call, NULL);
    }
}

void stream_send(struct stream *st, grpc_slice msg)
{
    if (st->closed || st->dead)
        return;
    if (st->len == STREAM_QUEUE_MAX) {
        /* The reader fell too far behind; ending its stream is better than
         * letting one slow client grow our memory without bound. */
        st->dead = 1;
        grpc_call_cancel_with_status(st->rpc->call, GRPC_STATUS_RESOURCE_EXHAUSTED,
                                     "event stream reader too slow", NULL);
        return;
    }
    st->ring[(st->head + st->len) % STREAM_QUEUE_MAX] = grpc_slice_ref(msg);
    st->len++;
    stream_pump(st);
}

static void on_send(struct rpc *rpc, int ok)
{
    struct stream *st = rpc->stream;

    rpc->batches--;
    st->sending = 0;
    grpc_byte_buffer_destroy(rpc->send_buf);
    rpc->send_buf = NULL;
    if (!ok)
        st->dead = 1;
    stream_pump(st);
    stream_maybe_free(rpc);
}

static void on_close(struct rpc *rpc)
{
    struct stream *st = rpc->stream;

    rpc->batches--;
    if (!st->closed) {
        st->closed = 1;
        if (rpc->reg->m->stream_close)
            rpc->reg->m->stream_close(st);
    }
    stream_maybe_free(rpc);
}

static int stream_start(struct rpc *rpc)
{
    grpc_op op;

    memset(&op, 0, sizeof(op));
    op.op = GRPC_OP_RECV_CLOSE_ON_SERVER;
    op.data.recv_close_on_server.cancelled = &rpc->cancelled;
    return start_batch(rpc, &op, 1, &rpc->t_close);
}

/* --- delay queue --------------------------------------------------------- */

static void delay_push(struct rpc *rpc)
{
    rpc->delayed = 1;
    rpc->due_ns = now_monotonic_ns() + (int64_t)S.opts->latency_ms * 1000000;
    rpc->delay_next = NULL;
    if (S.delay_tail)
        S.delay_tail->delay_next = rpc;
    else
        S.delay_head = rpc;
    S.delay_tail = rpc;
}

static void run_delayed(int all)
{
    int64_t now = now_monotonic_ns();

    while (S.delay_head && (all || S.delay_head->due_ns <= now)) {
        struct rpc *rpc = S.delay_head;
        S.delay_head = rpc->delay_next;
        if (!S.delay_head)
            S.delay_tail = NULL;
        rpc->delayed = 0;
        if (rpc->stream) {
            rpc->stream->ready = 1;
            stream_pump(rpc->stream);
            stream_maybe_free(rpc);
        } else {
            finish(rpc);
        }
    }
}

/* --- new calls ----------------------------------------------------------- */

static int inject_failure(void)
{
    double f = S.opts->fail_rate;
    /* 53 random bits -> [0, 1) */
    return f > 0 && (double)(rng_next() >> 11) * (1.0 / 9007199254740992.0) < f;
}

static void on_new(struct rpc *rpc, int ok)
{
    const struct reg *reg = rpc->reg;
    int exempt;

    if (!ok) { /* the server is shutting down */
        rpc_free(rpc);
        return;
    }
    if (!S.shutting_down)
        request_call(reg);

    if (!reg) {
        reply_error(&rpc->reply, GRPC_STATUS_UNIMPLEMENTED, "method %.*s is not implemented",
                    (int)GRPC_SLICE_LENGTH(rpc->details.method),
                    (const char *)GRPC_SLICE_START_PTR(rpc->details.method));
        finish(rpc);
        return;
    }

    exempt = reg->svc->exempt;
    if (!exempt && inject_failure()) {
        reply_error(&rpc->reply, S.opts->fail_code, "injected failure");
        rpc->injected = 1;
    } else if (!rpc->payload) {
        reply_error(&rpc->reply, GRPC_STATUS_INVALID_ARGUMENT, "request message missing");
    } else {
        grpc_byte_buffer_reader reader;
        grpc_slice bytes;
        ProtobufCMessage *req = NULL;

        if (grpc_byte_buffer_reader_init(&reader, rpc->payload)) {
            bytes = grpc_byte_buffer_reader_readall(&reader);
            grpc_byte_buffer_reader_destroy(&reader);
            req = protobuf_c_message_unpack(reg->input, NULL, GRPC_SLICE_LENGTH(bytes),
                                            GRPC_SLICE_START_PTR(bytes));
            grpc_slice_unref(bytes);
        }
        if (!req) {
            reply_error(&rpc->reply, GRPC_STATUS_INVALID_ARGUMENT, "cannot decode %s",
                        reg->input->name);
        } else if (reg->m->unary) {
            reg->m->unary(req, &rpc->reply);
        } else {
            rpc->stream = xcalloc(1, sizeof(*rpc->stream));
            rpc->stream->rpc = rpc;
            reg->m->stream_open(req, rpc->stream, &rpc->reply);
            if (rpc->reply.code == GRPC_STATUS_OK) {
                protobuf_c_message_free_unpacked(req, NULL);
                if (stream_start(rpc) != 0) {
                    /* nothing in flight: tell the service and drop the call */
                    if (reg->m->stream_close)
                        reg->m->stream_close(rpc->stream);
                    rpc_free(rpc);
                    return;
                }
                if (!exempt && S.opts->latency_ms > 0) {
                    delay_push(rpc);
                } else {
                    rpc->stream->ready = 1;
                    stream_pump(rpc->stream);
                }
                return;
            }
            /* refused: answered like a unary error below */
            stream_free(rpc->stream);
            rpc->stream = NULL;
        }
        if (req)
            protobuf_c_message_free_unpacked(req, NULL);
    }

    if (!exempt && S.opts->latency_ms > 0)
        delay_push(rpc);
    else
        finish(rpc);
}

static void dispatch(struct tag *tag, int ok)
{
    struct rpc *rpc = tag->rpc;

    switch (tag->kind) {
    case TAG_NEW:
        on_new(rpc, ok);
        break;
    case TAG_FINAL:
        rpc->batches--;
        rpc_free(rpc);
        break;
    case TAG_SEND:
        on_send(rpc, ok);
        break;
    case TAG_CLOSE:
        on_close(rpc);
        break;
    case TAG_SHUTDOWN:
        S.shutdown_done = 1;
        break;
    }
}

/* --- setup and loop ------------------------------------------------------ */

static const struct svc_service *const services[] = {
    &svc_transaction, &svc_consensus, &svc_crypto, &svc_ai, &svc_bridge, &svc_health,
};

static int register_methods(void)
{
    size_t total = 0;

    for (size_t i = 0; i < sizeof(services) / sizeof(services[0]); i++)
        total += services[i]->desc->n_methods;
    S.regs = xcalloc(total, sizeof(*S.regs));

    for (size_t i = 0; i < sizeof(services) / sizeof(services[0]); i++) {
        const struct svc_service *svc = services[i];
        for (unsigned j = 0; j < svc->desc->n_methods; j++) {
            const ProtobufCMethodDescriptor *md = &svc->desc->methods[j];
            const struct svc_method *m = NULL;
            for (size_t k = 0; k < svc->n_methods; k++)
                if (strcmp(svc->methods[k].name, md->name) == 0)
                    m = &svc->methods[k];
            if (!m)
                continue; /* e.g. Health/Watch: left to the UNIMPLEMENTED path */
            struct reg *r = &S.regs[S.n_regs];
            size_t len = strlen(svc->desc->name) + strlen(md->name) + 3;
            r->svc = svc;
            r->m = m;
            r->input = md->input;
            r->path = xmalloc(len);
            snprintf(r->path, len, "/%s/%s", svc->desc->name, md->name);
            r->handle = grpc_server_register_method(S.server, r->path, NULL,
                                                    GRPC_SRM_PAYLOAD_READ_INITIAL_BYTE_BUFFER, 0);
            if (!r->handle) {
                fprintf(stderr, "aurigraph-services: cannot register %s\n", r->path);
                return -1;
            }
            S.n_regs++;
        }
    }
    return 0;
}

static void begin_shutdown(void)
{
    S.shutting_down = 1;
    S.shutdown_started_ns = now_monotonic_ns();
    grpc_server_shutdown_and_notify(S.server, S.cq, &S.t_shutdown);
    /* streams never end by themselves; cancelling lets them drain */
    grpc_server_cancel_all_calls(S.server);
    run_delayed(1);
}

/* One poller. Every thread runs this; our state is touched only under
 * `big`, which is not held while waiting in grpc_completion_queue_next,
 * so gRPC's transport work spreads over the threads while the services
 * stay single-threaded code. */
static void *poller(void *unused)
{
    (void)unused;
    for (;;) {
        gpr_timespec deadline = gpr_time_add(gpr_now(GPR_CLOCK_MONOTONIC),
                                             gpr_time_from_millis(POLL_MS, GPR_TIMESPAN));
        pthread_mutex_lock(&big);
        if (S.delay_head) {
            int64_t wait_ns = S.delay_head->due_ns - now_monotonic_ns();
            if (wait_ns < 0)
                wait_ns = 0;
            if (wait_ns < (int64_t)POLL_MS * 1000000)
                deadline = gpr_time_add(gpr_now(GPR_CLOCK_MONOTONIC),
                                        gpr_time_from_nanos(wait_ns, GPR_TIMESPAN));
        }
        pthread_mutex_unlock(&big);

        grpc_event ev = grpc_completion_queue_next(S.cq, deadline, NULL);
        if (ev.type == GRPC_QUEUE_SHUTDOWN)
            return NULL;

        pthread_mutex_lock(&big);
        if (ev.type == GRPC_OP_COMPLETE)
            dispatch(ev.tag, ev.success);
        run_delayed(S.shutting_down);
        if (atomic_load(&stop_requested) && !S.shutting_down)
            begin_shutdown();
        if (S.shutting_down && !S.cq_shut) {
            if (S.shutdown_done && S.live == 0) {
                grpc_completion_queue_shutdown(S.cq);
                S.cq_shut = 1;
            } else if (now_monotonic_ns() - S.shutdown_started_ns >
                       (int64_t)SHUTDOWN_GRACE_MS * 1000000) {
                /* calls still hold the server: nothing left to clean up safely */
                fprintf(stderr, "aurigraph-services: %ld calls still open after %d ms, exiting\n",
                        S.live, SHUTDOWN_GRACE_MS);
                _exit(1);
            }
        }
        pthread_mutex_unlock(&big);
    }
}

static void run_pollers(int n)
{
    pthread_t tids[MAX_THREADS];
    int started = 0;

    for (int i = 1; i < n && i < MAX_THREADS; i++)
        if (pthread_create(&tids[started], NULL, poller, NULL) == 0)
            started++;
    poller(NULL);
    for (int i = 0; i < started; i++)
        pthread_join(tids[i], NULL);
}

static void install_signals(void)
{
    struct sigaction sa;

    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
}

int server_run(const struct server_opts *opts)
{
    grpc_arg argv[6];
    grpc_channel_args args;
    grpc_server_credentials *creds;
    const char *colon;
    int port, rc;

    S.opts = opts;
    S.t_shutdown.kind = TAG_SHUTDOWN;
    rng_seed((uint64_t)now_realtime_ns() ^ ((uint64_t)getpid() << 32));
    install_signals();
    consensus_init();
    crypto_init();
    bridge_init();
    if (db_start(opts->db_dsn) != 0) {
        fprintf(stderr, "aurigraph-services: cannot start the database check\n");
        return 1;
    }

    grpc_init();
    /* A second instance on a taken port must fail, not share it. The others
     * let a gateway keep idle connections alive with PINGs (every 10 s by
     * default) instead of being sent away with "too_many_pings". */
    argv[0].type = GRPC_ARG_INTEGER;
    argv[0].key = (char *)GRPC_ARG_ALLOW_REUSEPORT;
    argv[0].value.integer = 0;
    argv[1].type = GRPC_ARG_INTEGER;
    argv[1].key = (char *)GRPC_ARG_HTTP2_MIN_RECV_PING_INTERVAL_WITHOUT_DATA_MS;
    argv[1].value.integer = 1000;
    argv[2].type = GRPC_ARG_INTEGER;
    argv[2].key = (char *)GRPC_ARG_KEEPALIVE_PERMIT_WITHOUT_CALLS;
    argv[2].value.integer = 1;
    argv[3].type = GRPC_ARG_INTEGER;
    argv[3].key = (char *)GRPC_ARG_HTTP2_MAX_PING_STRIKES;
    argv[3].value.integer = 0;
    args.num_args = 4;
    if (opts->max_connection_age_ms > 0) {
        argv[4].type = GRPC_ARG_INTEGER;
        argv[4].key = (char *)GRPC_ARG_MAX_CONNECTION_AGE_MS;
        argv[4].value.integer = opts->max_connection_age_ms;
        argv[5].type = GRPC_ARG_INTEGER;
        argv[5].key = (char *)GRPC_ARG_MAX_CONNECTION_AGE_GRACE_MS;
        argv[5].value.integer = 5000;
        args.num_args = 6;
    }
    args.args = argv;
    S.server = grpc_server_create(&args, NULL);
    S.cq = grpc_completion_queue_create_for_next(NULL);
    grpc_server_register_completion_queue(S.server, S.cq, NULL);
    if (register_methods() != 0) {
        rc = 1;
        begin_shutdown();
        poller(NULL);
        goto out;
    }

    creds = grpc_insecure_server_credentials_create();
    port = grpc_server_add_http2_port(S.server, opts->listen, creds);
    grpc_server_credentials_release(creds);
    if (port == 0) {
        fprintf(stderr, "aurigraph-services: cannot listen on %s\n", opts->listen);
        rc = 1;
        begin_shutdown();
        poller(NULL);
        goto out;
    }
    S.echo_metadata = opts->echo_metadata;
    if (opts->version_tag) {
        S.initial_md[0].key = grpc_slice_from_static_string("x-version-tag");
        S.initial_md[0].value = grpc_slice_from_copied_string(opts->version_tag);
        S.n_initial_md = 1;
    }

    grpc_server_start(S.server);
    for (size_t i = 0; i < S.n_regs; i++)
        for (int k = 0; k < REQUESTS_PER_METHOD; k++)
            request_call(&S.regs[i]);
    for (int k = 0; k < REQUESTS_PER_METHOD; k++)
        request_call(NULL);

    colon = strrchr(opts->listen, ':');
    printf("aurigraph-services listening on %.*s:%d\n", (int)(colon - opts->listen), opts->listen,
           port);
    fflush(stdout);

    run_pollers(opts->threads);
    rc = 0;
    fputs("aurigraph-services: stopped\n", stderr);

out:
    grpc_server_destroy(S.server);
    grpc_completion_queue_destroy(S.cq);
    if (S.n_initial_md)
        grpc_slice_unref(S.initial_md[0].value);
    for (size_t i = 0; i < S.n_regs; i++)
        free(S.regs[i].path);
    free(S.regs);
    db_stop();
    transaction_cleanup();
    bridge_cleanup();
    crypto_cleanup();
    grpc_shutdown_blocking();
    return rc;
}
