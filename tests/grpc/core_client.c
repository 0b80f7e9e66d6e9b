/*
 * core_client: the gRPC pass-through as gRPC C core (libgrpc) sees it.
 *
 *   core_client --v11 HOST:PORT --echo HOST:PORT [--gzip HOST:PORT] [--label NAME]
 *
 * --v11: the reference services (aurigraph-services) or the gateway in
 * front of them: TransactionService's unary calls and its server stream
 * of events. --echo: aurigraph.test.EchoService (tests/grpc/echo-server.cjs)
 * or the gateway: the four call types with deadlines, cancels, metadata
 * both ways, google.rpc.Status details, gzip requests, large messages.
 * --gzip: GzipEchoService (tests/grpc/gzip_echo.py), whose replies are
 * gzip-compressed. One line per check ("ok   NAME: ..." / "FAIL NAME:
 * ..."), then "LABEL: N passed, M failed"; exit 1 on a failure. Every
 * call has a deadline and every wait a bound.
 */
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <grpc/byte_buffer_reader.h>
#include <grpc/compression.h>
#include <grpc/grpc.h>
#include <grpc/grpc_security.h>
#include <grpc/support/time.h>

#include "aurigraph/v11/transaction.pb-c.h"
#include "echo.pb-c.h"
#include "google/protobuf/wrappers.pb-c.h"
#include "google/rpc/status.pb-c.h"
#include "google/type/decimal.pb-c.h"

#define CALL_MS 20000 /* deadline of calls that are not about deadlines */
#define WAIT_MS 30000 /* bound on any one wait for the completion queue */

static grpc_completion_queue *cq;
static int passed, failed;
static char failure[512]; /* why the running check failed */

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static gpr_timespec in_ms(int ms)
{
    return gpr_time_add(gpr_now(GPR_CLOCK_MONOTONIC), gpr_time_from_millis(ms, GPR_TIMESPAN));
}

/* fail("...") records why and makes the check return 0 */
static int fail(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(failure, sizeof(failure), fmt, ap);
    va_end(ap);
    return 0;
}
#define EXPECT(cond, ...)                                                                  \
    do {                                                                                   \
        if (!(cond))                                                                       \
            return fail(__VA_ARGS__);                                                      \
    } while (0)
/* the same, releasing call k first (after the message used its fields) */
#define EXPECT_CALL(k, cond, ...)                                                          \
    do {                                                                                   \
        if (!(cond)) {                                                                     \
            fail(__VA_ARGS__);                                                             \
            call_free(k);                                                                  \
            return 0;                                                                      \
        }                                                                                  \
    } while (0)

static void run(const char *name, int (*fn)(char *detail, size_t len))
{
    char detail[256] = "";
    int64_t t0 = now_ms();

    failure[0] = '\0';
    if (fn(detail, sizeof(detail))) {
        passed++;
        printf("ok   %s: %s [%lld ms]\n", name, detail, (long long)(now_ms() - t0));
    } else {
        failed++;
        printf("FAIL %s: %s [%lld ms]\n", name, failure, (long long)(now_ms() - t0));
    }
    fflush(stdout);
}

static uint32_t crc32_of(const uint8_t *p, size_t n, uint32_t crc)
{
    static uint32_t table[256];
    if (!table[1])
        for (uint32_t i = 0; i < 256; i++) {
            uint32_t c = i;
            for (int k = 0; k < 8; k++)
                c = c & 1 ? 0xedb88320u ^ (c >> 1) : c >> 1;
            table[i] = c;
        }
    crc = ~crc;
    while (n--)
        crc = table[(crc ^ *p++) & 0xff] ^ (crc >> 8);
    return ~crc;
}

static const char *code_name(grpc_status_code c)
{
    static const char *names[] = {"OK", "CANCELLED", "UNKNOWN", "INVALID_ARGUMENT", "DEADLINE_EXCEEDED",
                                  "NOT_FOUND", "ALREADY_EXISTS", "PERMISSION_DENIED", "RESOURCE_EXHAUSTED",
                                  "FAILED_PRECONDITION", "ABORTED", "OUT_OF_RANGE", "UNIMPLEMENTED", "INTERNAL",
                                  "UNAVAILABLE", "DATA_LOSS", "UNAUTHENTICATED"};
    return (unsigned)c < sizeof(names) / sizeof(names[0]) ? names[c] : "?";
}

/* --- a call: open, send, receive, cancel, finish ------------------------- */

struct call {
    grpc_call *c;
    grpc_metadata_array headers, trailers;
    int have_headers;
    grpc_status_code code;
    grpc_slice details;
    char message[256]; /* details, as text */
    int status_tag;    /* the status batch, started at open */
    int finished;
};

static int pluck(void *tag)
{
    grpc_event ev = grpc_completion_queue_pluck(cq, tag, in_ms(WAIT_MS), NULL);
    return ev.type == GRPC_OP_COMPLETE && ev.success;
}

static int batch(struct call *k, grpc_op *ops, size_t n)
{
    int tag;
    return grpc_call_start_batch(k->c, ops, n, &tag, NULL) == GRPC_CALL_OK && pluck(&tag);
}

/* md: pairs of key, value (NUL-terminated; a "-bin" value may use md_len) */
static int call_open(struct call *k, grpc_channel *ch, const char *method, int deadline_ms,
                     const grpc_metadata *md, size_t nmd)
{
    grpc_slice m = grpc_slice_from_copied_string(method);
    grpc_op ops[2];

    memset(k, 0, sizeof(*k));
    grpc_metadata_array_init(&k->headers);
    grpc_metadata_array_init(&k->trailers);
    k->details = grpc_empty_slice();
    k->c = grpc_channel_create_call(ch, NULL, GRPC_PROPAGATE_DEFAULTS, cq, m, NULL, in_ms(deadline_ms), NULL);
    grpc_slice_unref(m);
    if (!k->c)
        return 0;
    memset(ops, 0, sizeof(ops));
    ops[0].op = GRPC_OP_RECV_STATUS_ON_CLIENT;
    ops[0].data.recv_status_on_client.trailing_metadata = &k->trailers;
    ops[0].data.recv_status_on_client.status = &k->code;
    ops[0].data.recv_status_on_client.status_details = &k->details;
    if (grpc_call_start_batch(k->c, ops, 1, &k->status_tag, NULL) != GRPC_CALL_OK)
        return 0;
    ops[0].op = GRPC_OP_SEND_INITIAL_METADATA;
    ops[0].data.send_initial_metadata.count = nmd;
    ops[0].data.send_initial_metadata.metadata = (grpc_metadata *)md;
    return batch(k, ops, 1);
}

static int call_send(struct call *k, const ProtobufCMessage *msg, int close)
{
    size_t n = protobuf_c_message_get_packed_size(msg);
    grpc_slice s = grpc_slice_malloc(n);
    grpc_byte_buffer *bb;
    grpc_op ops[2];
    int ok;

    protobuf_c_message_pack(msg, GRPC_SLICE_START_PTR(s));
    bb = grpc_raw_byte_buffer_create(&s, 1);
    grpc_slice_unref(s);
    memset(ops, 0, sizeof(ops));
    ops[0].op = GRPC_OP_SEND_MESSAGE;
    ops[0].data.send_message.send_message = bb;
    ops[1].op = GRPC_OP_SEND_CLOSE_FROM_CLIENT;
    ok = batch(k, ops, close ? 2 : 1);
    grpc_byte_buffer_destroy(bb);
    return ok;
}

static int call_close_send(struct call *k)
{
    grpc_op op;
    memset(&op, 0, sizeof(op));
    op.op = GRPC_OP_SEND_CLOSE_FROM_CLIENT;
    return batch(k, &op, 1);
}

/* The next message, unpacked (the caller frees it), or NULL at the end
 * of the stream or when the call failed. */
static ProtobufCMessage *call_recv(struct call *k, const ProtobufCMessageDescriptor *d)
{
    grpc_byte_buffer *bb = NULL;
    grpc_op ops[2];
    size_t n = 0;
    ProtobufCMessage *m = NULL;

    memset(ops, 0, sizeof(ops));
    if (!k->have_headers) {
        ops[n].op = GRPC_OP_RECV_INITIAL_METADATA;
        ops[n++].data.recv_initial_metadata.recv_initial_metadata = &k->headers;
        k->have_headers = 1;
    }
    ops[n].op = GRPC_OP_RECV_MESSAGE;
    ops[n++].data.recv_message.recv_message = &bb;
    if (!batch(k, ops, n) || !bb)
        return NULL;
    grpc_byte_buffer_reader rd;
    if (grpc_byte_buffer_reader_init(&rd, bb)) {
        grpc_slice s = grpc_byte_buffer_reader_readall(&rd);
        m = protobuf_c_message_unpack(d, NULL, GRPC_SLICE_LENGTH(s), GRPC_SLICE_START_PTR(s));
        grpc_slice_unref(s);
        grpc_byte_buffer_reader_destroy(&rd);
    }
    grpc_byte_buffer_destroy(bb);
    return m;
}

/* Waits for the status (the call's code and message in k). */
static int call_finish(struct call *k)
{
    if (!k->have_headers) {
        grpc_op op;
        memset(&op, 0, sizeof(op));
        op.op = GRPC_OP_RECV_INITIAL_METADATA;
        op.data.recv_initial_metadata.recv_initial_metadata = &k->headers;
        k->have_headers = 1;
        batch(k, &op, 1);
    }
    if (!k->finished) {
        k->finished = 1;
        if (!pluck(&k->status_tag)) {
            k->code = GRPC_STATUS_INTERNAL;
            snprintf(k->message, sizeof(k->message), "core_client: no status within %d ms", WAIT_MS);
            return 0;
        }
        snprintf(k->message, sizeof(k->message), "%.*s", (int)GRPC_SLICE_LENGTH(k->details),
                 (const char *)GRPC_SLICE_START_PTR(k->details));
    }
    return 1;
}

static void call_free(struct call *k)
{
    if (k->c && !k->finished) {
        grpc_call_cancel(k->c, NULL);
        call_finish(k);
    }
    grpc_slice_unref(k->details);
    grpc_metadata_array_destroy(&k->headers);
    grpc_metadata_array_destroy(&k->trailers);
    if (k->c)
        grpc_call_unref(k->c);
    memset(k, 0, sizeof(*k));
}

/* the value of KEY in md, or NULL; its length in *len */
static const char *md_get(const grpc_metadata_array *md, const char *key, size_t *len)
{
    for (size_t i = 0; i < md->count; i++)
        if (grpc_slice_str_cmp(md->metadata[i].key, key) == 0) {
            if (len)
                *len = GRPC_SLICE_LENGTH(md->metadata[i].value);
            return (const char *)GRPC_SLICE_START_PTR(md->metadata[i].value);
        }
    return NULL;
}

static int md_is(const grpc_metadata_array *md, const char *key, const char *want)
{
    size_t n;
    const char *v = md_get(md, key, &n);
    return v && n == strlen(want) && memcmp(v, want, n) == 0;
}

/* unary: one request, one reply (NULL unless OK) */
static ProtobufCMessage *unary(struct call *k, grpc_channel *ch, const char *method, int deadline_ms,
                               const ProtobufCMessage *req, const ProtobufCMessageDescriptor *d,
                               const grpc_metadata *md, size_t nmd)
{
    ProtobufCMessage *m = NULL;
    if (call_open(k, ch, method, deadline_ms, md, nmd) && call_send(k, req, 1))
        m = call_recv(k, d);
    call_finish(k);
    if (k->code != GRPC_STATUS_OK && m) {
        protobuf_c_message_free_unpacked(m, NULL);
        m = NULL;
    }
    return m;
}

/* --- the targets ---------------------------------------------------------- */

static grpc_channel *v11, *echo, *echo_gzip, *gzip_echo;

static grpc_channel *channel(const char *target, int gzip)
{
    grpc_arg a[3];
    grpc_channel_args args = {0, a};
    grpc_channel_credentials *creds = grpc_insecure_credentials_create();
    grpc_channel *ch;

    memset(a, 0, sizeof(a));
    a[args.num_args].type = GRPC_ARG_INTEGER;
    a[args.num_args].key = GRPC_ARG_MAX_RECEIVE_MESSAGE_LENGTH;
    a[args.num_args++].value.integer = 64 << 20;
    a[args.num_args].type = GRPC_ARG_INTEGER;
    a[args.num_args].key = GRPC_ARG_MAX_SEND_MESSAGE_LENGTH;
    a[args.num_args++].value.integer = 64 << 20;
    if (gzip) {
        a[args.num_args].type = GRPC_ARG_INTEGER;
        a[args.num_args].key = GRPC_COMPRESSION_CHANNEL_DEFAULT_ALGORITHM;
        a[args.num_args++].value.integer = GRPC_COMPRESS_GZIP;
    }
    ch = grpc_channel_create(target, creds, &args);
    grpc_channel_credentials_release(creds);
    return ch;
}

/* --- V11: TransactionService ---------------------------------------------- */

typedef Aurigraph__V11__Transaction Tx;
#define TX(m) "/aurigraph.v11.TransactionService/" m

static char tx_hash[128];
static char tx_user[64];

static Tx *submit(struct call *k, const char *user)
{
    Aurigraph__V11__SubmitTransactionRequest q = AURIGRAPH__V11__SUBMIT_TRANSACTION_REQUEST__INIT;
    Google__Protobuf__StringValue u = GOOGLE__PROTOBUF__STRING_VALUE__INIT, from = GOOGLE__PROTOBUF__STRING_VALUE__INIT,
                                  to = GOOGLE__PROTOBUF__STRING_VALUE__INIT;
    Google__Type__Decimal amount = GOOGLE__TYPE__DECIMAL__INIT;
    Google__Protobuf__Int64Value gas = GOOGLE__PROTOBUF__INT64_VALUE__INIT;

    u.value = (char *)user;
    from.value = "0xc0re";
    to.value = "0xc11e";
    amount.value = "12.50";
    gas.value = 21000;
    q.user_id = &u;
    q.from_address = &from;
    q.to_address = &to;
    q.amount = &amount;
    q.gas_limit = &gas;
    q.transaction_type = AURIGRAPH__V11__TRANSACTION_TYPE__TRANSFER;
    return (Tx *)unary(k, v11, TX("SubmitTransaction"), CALL_MS, &q.base, &aurigraph__v11__transaction__descriptor,
                       NULL, 0);
}

static int v11_submit_get(char *detail, size_t len)
{
    struct call k;
    Tx *t = submit(&k, tx_user);
    EXPECT_CALL(&k, t, "SubmitTransaction: %s %s", code_name(k.code), k.message);
    snprintf(tx_hash, sizeof(tx_hash), "%s", t->tx_hash);
    int pending = strcmp(t->status, "PENDING") == 0;
    protobuf_c_message_free_unpacked(&t->base, NULL);
    call_free(&k);
    EXPECT(pending && strlen(tx_hash) > 10, "SubmitTransaction answered status/hash %s", tx_hash);

    Aurigraph__V11__GetTransactionRequest g = AURIGRAPH__V11__GET_TRANSACTION_REQUEST__INIT;
    g.tx_hash = tx_hash;
    t = (Tx *)unary(&k, v11, TX("GetTransaction"), CALL_MS, &g.base, &aurigraph__v11__transaction__descriptor, NULL, 0);
    EXPECT_CALL(&k, t, "GetTransaction: %s %s", code_name(k.code), k.message);
    int same = strcmp(t->tx_hash, tx_hash) == 0 && strcmp(t->user_id, tx_user) == 0 && t->amount &&
               strncmp(t->amount->value, "12.5", 4) == 0;
    protobuf_c_message_free_unpacked(&t->base, NULL);
    call_free(&k);
    EXPECT(same, "GetTransaction answered another transaction");

    g.tx_hash = "0xnope";
    t = (Tx *)unary(&k, v11, TX("GetTransaction"), CALL_MS, &g.base, &aurigraph__v11__transaction__descriptor, NULL, 0);
    int not_found = !t && k.code == GRPC_STATUS_NOT_FOUND && strcmp(k.message, "Transaction not found") == 0;
    call_free(&k);
    EXPECT(not_found, "GetTransaction of an unknown hash: not NOT_FOUND \"Transaction not found\"");

    Aurigraph__V11__GetTransactionStatsRequest sq = AURIGRAPH__V11__GET_TRANSACTION_STATS_REQUEST__INIT;
    Aurigraph__V11__TransactionStats *st = (Aurigraph__V11__TransactionStats *)unary(
        &k, v11, TX("GetTransactionStats"), CALL_MS, &sq.base, &aurigraph__v11__transaction_stats__descriptor, NULL, 0);
    EXPECT_CALL(&k, st, "GetTransactionStats: %s %s", code_name(k.code), k.message);
    long long npending = (long long)st->pending_transactions;
    protobuf_c_message_free_unpacked(&st->base, NULL);
    call_free(&k);
    EXPECT(npending >= 1, "GetTransactionStats: %lld pending", npending);
    snprintf(detail, len, "SubmitTransaction, GetTransaction (and NOT_FOUND), GetTransactionStats (%lld pending)",
             npending);
    return 1;
}

static int v11_lifecycle(char *detail, size_t len)
{
    struct call k;
    Aurigraph__V11__ConfirmTransactionRequest c = AURIGRAPH__V11__CONFIRM_TRANSACTION_REQUEST__INIT;
    Google__Protobuf__Int64Value bn = GOOGLE__PROTOBUF__INT64_VALUE__INIT;
    Aurigraph__V11__FinalizeTransactionRequest f = AURIGRAPH__V11__FINALIZE_TRANSACTION_REQUEST__INIT;
    Aurigraph__V11__TransactionMessage *m;

    EXPECT(tx_hash[0], "no transaction submitted");
    c.tx_hash = tx_hash;
    bn.value = 42;
    c.block_number = &bn;
    m = (Aurigraph__V11__TransactionMessage *)unary(&k, v11, TX("ConfirmTransaction"), CALL_MS, &c.base,
                                                   &aurigraph__v11__transaction_message__descriptor, NULL, 0);
    EXPECT_CALL(&k, m && strcmp(m->message, "Transaction confirmed") == 0, "ConfirmTransaction: %s %s", code_name(k.code),
           k.message);
    protobuf_c_message_free_unpacked(&m->base, NULL);
    call_free(&k);
    f.tx_hash = tx_hash;
    m = (Aurigraph__V11__TransactionMessage *)unary(&k, v11, TX("FinalizeTransaction"), CALL_MS, &f.base,
                                                   &aurigraph__v11__transaction_message__descriptor, NULL, 0);
    EXPECT_CALL(&k, m && strcmp(m->message, "Transaction finalized") == 0, "FinalizeTransaction: %s %s", code_name(k.code),
           k.message);
    protobuf_c_message_free_unpacked(&m->base, NULL);
    call_free(&k);
    c.tx_hash = "0xnope";
    m = (Aurigraph__V11__TransactionMessage *)unary(&k, v11, TX("ConfirmTransaction"), CALL_MS, &c.base,
                                                   &aurigraph__v11__transaction_message__descriptor, NULL, 0);
    int refused = !m && k.code == GRPC_STATUS_INVALID_ARGUMENT;
    call_free(&k);
    EXPECT(refused, "ConfirmTransaction of an unknown hash: not INVALID_ARGUMENT");
    snprintf(detail, len, "ConfirmTransaction, FinalizeTransaction, INVALID_ARGUMENT for an unknown hash");
    return 1;
}

static int v11_stream(char *detail, size_t len)
{
    struct call s, k;
    Aurigraph__V11__StreamTransactionEventsRequest q = AURIGRAPH__V11__STREAM_TRANSACTION_EVENTS_REQUEST__INIT;
    char user[64], hash[128] = "";
    Aurigraph__V11__TransactionEvent *ev;

    snprintf(user, sizeof(user), "core-stream-%d", (int)getpid());
    q.user_id = user;
    EXPECT_CALL(&s, call_open(&s, v11, TX("StreamTransactionEvents"), CALL_MS, NULL, 0) && call_send(&s, &q.base, 1),
           "StreamTransactionEvents did not start");
    /* a submission for that user is an event on the stream: live, or, if
     * the stream is not registered yet, in the snapshot of pending
     * transactions every new stream starts with */
    Tx *t = submit(&k, user);
    if (t)
        snprintf(hash, sizeof(hash), "%s", t->tx_hash);
    if (t)
        protobuf_c_message_free_unpacked(&t->base, NULL);
    call_free(&k);
    ev = (Aurigraph__V11__TransactionEvent *)call_recv(&s, &aurigraph__v11__transaction_event__descriptor);
    int got = ev && strcmp(ev->event_type, "SUBMITTED") == 0 && ev->transaction &&
              strcmp(ev->transaction->tx_hash, hash) == 0;
    if (ev)
        protobuf_c_message_free_unpacked(&ev->base, NULL);
    if (!got) {
        call_free(&s);
        return fail("no SUBMITTED event for the submission %s", hash);
    }
    Aurigraph__V11__FinalizeTransactionRequest f = AURIGRAPH__V11__FINALIZE_TRANSACTION_REQUEST__INIT;
    f.tx_hash = hash;
    ProtobufCMessage *m = unary(&k, v11, TX("FinalizeTransaction"), CALL_MS, &f.base,
                                &aurigraph__v11__transaction_message__descriptor, NULL, 0);
    if (m)
        protobuf_c_message_free_unpacked(m, NULL);
    call_free(&k);
    ev = (Aurigraph__V11__TransactionEvent *)call_recv(&s, &aurigraph__v11__transaction_event__descriptor);
    got = ev && strcmp(ev->event_type, "FINALIZED") == 0;
    if (ev)
        protobuf_c_message_free_unpacked(&ev->base, NULL);
    grpc_call_cancel(s.c, NULL);
    call_finish(&s);
    grpc_status_code code = s.code;
    call_free(&s);
    EXPECT(got, "no FINALIZED event");
    EXPECT(code == GRPC_STATUS_CANCELLED, "the cancelled stream ended %s", code_name(code));
    snprintf(detail, len, "SUBMITTED and FINALIZED events of a submission while the stream was open; cancelled");
    return 1;
}

static int v11_stream_deadline(char *detail, size_t len)
{
    struct call s;
    Aurigraph__V11__StreamTransactionEventsRequest q = AURIGRAPH__V11__STREAM_TRANSACTION_EVENTS_REQUEST__INIT;
    int64_t t0 = now_ms();

    q.user_id = "core-nobody";
    EXPECT_CALL(&s, call_open(&s, v11, TX("StreamTransactionEvents"), 400, NULL, 0) && call_send(&s, &q.base, 1),
           "StreamTransactionEvents did not start");
    ProtobufCMessage *m = call_recv(&s, &aurigraph__v11__transaction_event__descriptor);
    if (m)
        protobuf_c_message_free_unpacked(m, NULL);
    call_finish(&s);
    grpc_status_code code = s.code;
    call_free(&s);
    EXPECT(code == GRPC_STATUS_DEADLINE_EXCEEDED, "a quiet stream with a 400 ms deadline ended %s", code_name(code));
    snprintf(detail, len, "a quiet stream with a 400 ms deadline: DEADLINE_EXCEEDED after %lld ms",
             (long long)(now_ms() - t0));
    return 1;
}

static int v11_unknown(char *detail, size_t len)
{
    struct call k;
    Aurigraph__V11__GetTransactionStatsRequest sq = AURIGRAPH__V11__GET_TRANSACTION_STATS_REQUEST__INIT;
    ProtobufCMessage *m = unary(&k, v11, TX("NoSuchMethod"), CALL_MS, &sq.base,
                                &aurigraph__v11__transaction_stats__descriptor, NULL, 0);
    grpc_status_code code = k.code;
    if (m)
        protobuf_c_message_free_unpacked(m, NULL);
    call_free(&k);
    EXPECT(code == GRPC_STATUS_UNIMPLEMENTED, "an unknown method: %s", code_name(code));
    snprintf(detail, len, "UNIMPLEMENTED");
    return 1;
}

/* --- EchoService ----------------------------------------------------------- */

typedef Aurigraph__Test__EchoRequest EchoReq;
typedef Aurigraph__Test__EchoReply EchoRep;
#define ECHO(m) "/aurigraph.test.EchoService/" m
#define REPLY (&aurigraph__test__echo_reply__descriptor)

static void tag_of(char *buf, size_t n, const char *what)
{
    static unsigned seq;
    snprintf(buf, n, "core-%s-%d-%u", what, (int)getpid(), ++seq);
}

static Aurigraph__Test__ObserveReply *observe(const char *tag)
{
    struct call k;
    Aurigraph__Test__ObserveRequest q = AURIGRAPH__TEST__OBSERVE_REQUEST__INIT;
    q.tag = (char *)tag;
    ProtobufCMessage *m = unary(&k, echo, ECHO("Observe"), CALL_MS, &q.base,
                                &aurigraph__test__observe_reply__descriptor, NULL, 0);
    call_free(&k);
    return (Aurigraph__Test__ObserveReply *)m;
}

/* until the server has seen the call cancelled (bounded): its count */
static unsigned observe_cancelled(const char *tag)
{
    int64_t end = now_ms() + 5000;
    unsigned n = 0;
    do {
        Aurigraph__Test__ObserveReply *o = observe(tag);
        n = o ? o->cancelled : 0;
        if (o)
            protobuf_c_message_free_unpacked(&o->base, NULL);
        if (n)
            break;
        usleep(50000);
    } while (now_ms() < end);
    return n;
}

static const char *map_get(const EchoRep *r, const char *key)
{
    for (size_t i = 0; i < r->n_metadata; i++)
        if (strcmp(r->metadata[i]->key, key) == 0)
            return r->metadata[i]->value;
    return NULL;
}

static int echo_unary_metadata(char *detail, size_t len)
{
    struct call k;
    EchoReq q = AURIGRAPH__TEST__ECHO_REQUEST__INIT;
    uint8_t payload[1000], bin[64];
    grpc_metadata md[3];

    for (size_t i = 0; i < sizeof(payload); i++)
        payload[i] = (uint8_t)(i * 7);
    for (size_t i = 0; i < sizeof(bin); i++)
        bin[i] = (uint8_t)(255 - i);
    memset(md, 0, sizeof(md));
    md[0].key = grpc_slice_from_static_string("x-echo-core");
    md[0].value = grpc_slice_from_static_string("from C core");
    md[1].key = grpc_slice_from_static_string("x-echo-core-bin");
    md[1].value = grpc_slice_from_static_buffer(bin, sizeof(bin));
    md[2].key = grpc_slice_from_static_string("x-core-plain");
    md[2].value = grpc_slice_from_static_string("plain");
    q.payload.data = payload;
    q.payload.len = sizeof(payload);
    EchoRep *r = (EchoRep *)unary(&k, echo, ECHO("Unary"), CALL_MS, &q.base, REPLY, md, 3);
    if (!r) {
        call_free(&k);
        return fail("Unary: %s %s", code_name(k.code), k.message);
    }
    int same = r->payload.len == sizeof(payload) && memcmp(r->payload.data, payload, sizeof(payload)) == 0;
    const char *seen = map_get(r, "x-echo-core"), *seen_plain = map_get(r, "x-core-plain");
    int server_saw = seen && strcmp(seen, "from C core") == 0 && seen_plain && strcmp(seen_plain, "plain") == 0 &&
                     map_get(r, "x-echo-core-bin");
    size_t bl = 0;
    const char *hb = md_get(&k.headers, "x-echo-core-bin", &bl);
    int headers = md_is(&k.headers, "x-echo-core", "from C core") && hb && bl == sizeof(bin) &&
                  memcmp(hb, bin, bl) == 0 && md_is(&k.headers, "x-echo-initial", "headers") &&
                  !md_get(&k.headers, "x-echo-trailer", NULL);
    const char *tb = md_get(&k.trailers, "x-echo-core-bin", &bl);
    int trailers = md_is(&k.trailers, "x-echo-core", "from C core") && tb && bl == sizeof(bin) &&
                   memcmp(tb, bin, bl) == 0 && md_is(&k.trailers, "x-echo-trailer", "trailers") &&
                   !md_get(&k.trailers, "x-echo-initial", NULL);
    protobuf_c_message_free_unpacked(&r->base, NULL);
    call_free(&k);
    EXPECT(same, "the payload came back changed");
    EXPECT(server_saw, "the server did not get the request metadata");
    EXPECT(headers, "the response headers lack the echoed metadata (or have the trailer's)");
    EXPECT(trailers, "the trailers lack the echoed metadata (or have the header's)");
    snprintf(detail, len, "payload echoed; text and binary metadata to the server, back in headers and trailers");
    return 1;
}

static int echo_server_stream(char *detail, size_t len)
{
    struct call k;
    EchoReq q = AURIGRAPH__TEST__ECHO_REQUEST__INIT;
    unsigned n = 0, bad = 0;

    q.replies = 30;
    q.reply_size = 4000;
    EXPECT_CALL(&k, call_open(&k, echo, ECHO("ServerStream"), CALL_MS, NULL, 0) && call_send(&k, &q.base, 1),
           "ServerStream did not start");
    EchoRep *r;
    while ((r = (EchoRep *)call_recv(&k, REPLY))) {
        if (r->index != n || r->payload.len != 4000 || crc32_of(r->payload.data, r->payload.len, 0) != r->crc32)
            bad++;
        n++;
        protobuf_c_message_free_unpacked(&r->base, NULL);
    }
    call_finish(&k);
    grpc_status_code code = k.code;
    call_free(&k);
    EXPECT(code == GRPC_STATUS_OK && n == 30 && bad == 0, "%s, %u replies, %u bad", code_name(code), n, bad);
    snprintf(detail, len, "30 replies in order, intact");
    return 1;
}

static int echo_client_stream(char *detail, size_t len)
{
    struct call k;
    uint8_t buf[3000];
    uint32_t crc = 0;
    size_t total = 0;

    EXPECT_CALL(&k, call_open(&k, echo, ECHO("ClientStream"), CALL_MS, NULL, 0), "ClientStream did not start");
    for (int i = 0; i < 40; i++) {
        EchoReq q = AURIGRAPH__TEST__ECHO_REQUEST__INIT;
        size_t n = 100 + (size_t)i * 70;
        for (size_t j = 0; j < n; j++)
            buf[j] = (uint8_t)(i + j * 13);
        q.payload.data = buf;
        q.payload.len = n;
        crc = crc32_of(buf, n, crc);
        total += n;
        if (!call_send(&k, &q.base, 0))
            break;
    }
    call_close_send(&k);
    EchoRep *r = (EchoRep *)call_recv(&k, REPLY);
    call_finish(&k);
    int ok = k.code == GRPC_STATUS_OK && r && r->received == 40 && r->received_bytes == total && r->received_crc32 == crc;
    grpc_status_code code = k.code;
    if (r)
        protobuf_c_message_free_unpacked(&r->base, NULL);
    call_free(&k);
    EXPECT(ok, "ClientStream: %s, or the server got other bytes", code_name(code));
    snprintf(detail, len, "40 requests, %zu bytes, crc32 matches", total);
    return 1;
}

static int echo_bidi(char *detail, size_t len)
{
    struct call k;
    int i;

    EXPECT_CALL(&k, call_open(&k, echo, ECHO("Bidi"), CALL_MS, NULL, 0), "Bidi did not start");
    for (i = 0; i < 8; i++) {
        EchoReq q = AURIGRAPH__TEST__ECHO_REQUEST__INIT;
        uint8_t p[16];
        memset(p, 'a' + i, sizeof(p));
        q.payload.data = p;
        q.payload.len = sizeof(p);
        if (!call_send(&k, &q.base, 0))
            break;
        /* answered before the next request goes: a relay that held the
         * stream until the client's half-close would stall here */
        EchoRep *r = (EchoRep *)call_recv(&k, REPLY);
        int right = r && r->received == (uint32_t)i + 1 && r->payload.len == sizeof(p) && r->payload.data[0] == 'a' + i;
        if (r)
            protobuf_c_message_free_unpacked(&r->base, NULL);
        if (!right)
            break;
    }
    call_close_send(&k);
    ProtobufCMessage *extra = call_recv(&k, REPLY);
    if (extra)
        protobuf_c_message_free_unpacked(extra, NULL);
    call_finish(&k);
    grpc_status_code code = k.code;
    call_free(&k);
    EXPECT(i == 8, "reply %d did not answer request %d", i, i);
    EXPECT(code == GRPC_STATUS_OK && !extra, "Bidi ended %s", code_name(code));
    snprintf(detail, len, "8 requests, each answered before the next was sent");
    return 1;
}

static int echo_deadline(char *detail, size_t len)
{
    struct call k;
    EchoReq q = AURIGRAPH__TEST__ECHO_REQUEST__INIT;
    char tag[64];
    int64_t t0 = now_ms();

    tag_of(tag, sizeof(tag), "deadline");
    q.tag = tag;
    q.delay_ms = 10000;
    ProtobufCMessage *m = unary(&k, echo, ECHO("Unary"), 300, &q.base, REPLY, NULL, 0);
    int64_t took = now_ms() - t0;
    grpc_status_code code = k.code;
    if (m)
        protobuf_c_message_free_unpacked(m, NULL);
    call_free(&k);
    EXPECT(code == GRPC_STATUS_DEADLINE_EXCEEDED, "a 300 ms deadline on a 10 s reply: %s", code_name(code));
    EXPECT(took < 300 + 3000, "DEADLINE_EXCEEDED after %lld ms", (long long)took);
    Aurigraph__Test__ObserveReply *o = observe(tag);
    long long left = o ? (long long)o->deadline_left_ms : -2;
    unsigned started = o ? o->started : 0;
    if (o)
        protobuf_c_message_free_unpacked(&o->base, NULL);
    EXPECT(started == 1, "the call never reached the server");
    /* grpc-timeout is rounded up to a coarser unit on the wire (C core: 301m for 300 ms) */
    EXPECT(left > 0 && left <= 330, "the server saw a deadline of %lld ms, want (0, 330]", left);
    snprintf(detail, len, "DEADLINE_EXCEEDED after %lld ms; the server saw grpc-timeout (%lld ms left)",
             (long long)took, left);
    return 1;
}

static int echo_cancel(char *detail, size_t len)
{
    struct call k;
    EchoReq q = AURIGRAPH__TEST__ECHO_REQUEST__INIT;
    char tag[64];
    int got = 0;

    tag_of(tag, sizeof(tag), "cancel");
    q.tag = tag;
    q.replies = 100000;
    q.delay_ms = 5;
    EXPECT_CALL(&k, call_open(&k, echo, ECHO("ServerStream"), CALL_MS, NULL, 0) && call_send(&k, &q.base, 1),
           "ServerStream did not start");
    for (; got < 3; got++) {
        ProtobufCMessage *m = call_recv(&k, REPLY);
        if (!m)
            break;
        protobuf_c_message_free_unpacked(m, NULL);
    }
    grpc_call_cancel(k.c, NULL);
    call_finish(&k);
    grpc_status_code code = k.code;
    call_free(&k);
    EXPECT(got == 3, "%d replies before the cancel", got);
    EXPECT(code == GRPC_STATUS_CANCELLED, "the cancelled call ended %s", code_name(code));
    EXPECT(observe_cancelled(tag) == 1, "the server never saw the cancel");
    snprintf(detail, len, "cancelled after 3 replies; the server saw the cancel");
    return 1;
}

static int echo_abort(char *detail, size_t len)
{
    struct call k;
    EchoReq q = AURIGRAPH__TEST__ECHO_REQUEST__INIT;
    int got = 0;

    q.replies = 10;
    q.fail_after = 2;
    q.status_code = GRPC_STATUS_ABORTED;
    q.status_message = "stopped by the server";
    EXPECT_CALL(&k, call_open(&k, echo, ECHO("ServerStream"), CALL_MS, NULL, 0) && call_send(&k, &q.base, 1),
           "ServerStream did not start");
    ProtobufCMessage *m;
    while ((m = call_recv(&k, REPLY))) {
        got++;
        protobuf_c_message_free_unpacked(m, NULL);
    }
    call_finish(&k);
    int ok = k.code == GRPC_STATUS_ABORTED && strcmp(k.message, "stopped by the server") == 0;
    grpc_status_code code = k.code;
    call_free(&k);
    EXPECT(got == 2 && ok, "%d replies, then %s", got, code_name(code));
    snprintf(detail, len, "2 replies, then ABORTED with its message");
    return 1;
}

static int echo_details(char *detail, size_t len)
{
    struct call k;
    EchoReq q = AURIGRAPH__TEST__ECHO_REQUEST__INIT;
    char tag[64];
    const char *message = "précondition échouée: 100% ✓";

    tag_of(tag, sizeof(tag), "details");
    q.tag = tag;
    q.status_code = GRPC_STATUS_FAILED_PRECONDITION;
    q.status_message = (char *)message;
    q.status_detail = "the detail";
    ProtobufCMessage *m = unary(&k, echo, ECHO("Unary"), CALL_MS, &q.base, REPLY, NULL, 0);
    if (m)
        protobuf_c_message_free_unpacked(m, NULL);
    if (k.code != GRPC_STATUS_FAILED_PRECONDITION || strcmp(k.message, message) != 0) {
        call_free(&k);
        return fail("status %s \"%s\", want FAILED_PRECONDITION \"%s\"", code_name(k.code), k.message, message);
    }
    size_t n = 0;
    const char *bin = md_get(&k.trailers, "grpc-status-details-bin", &n);
    Google__Rpc__Status *st = bin ? google__rpc__status__unpack(NULL, n, (const uint8_t *)bin) : NULL;
    call_free(&k);
    EXPECT(st, "no decodable grpc-status-details-bin");
    int ok = st->code == GRPC_STATUS_FAILED_PRECONDITION && strcmp(st->message, message) == 0 && st->n_details == 1 &&
             strcmp(st->details[0]->type_url, "type.googleapis.com/aurigraph.test.EchoDetail") == 0;
    Aurigraph__Test__EchoDetail *d =
        ok ? aurigraph__test__echo_detail__unpack(NULL, st->details[0]->value.len, st->details[0]->value.data) : NULL;
    ok = d && strcmp(d->text, "the detail") == 0 && d->code == GRPC_STATUS_FAILED_PRECONDITION &&
         strcmp(d->tag, tag) == 0;
    if (d)
        aurigraph__test__echo_detail__free_unpacked(d, NULL);
    google__rpc__status__free_unpacked(st, NULL);
    EXPECT(ok, "google.rpc.Status or its EchoDetail is not what the server sent");
    snprintf(detail, len, "google.rpc.Status with its EchoDetail decoded; non-ASCII grpc-message intact");
    return 1;
}

static void compressible(uint8_t *p, size_t n)
{
    static const char line[] = "aurigraph gzip check from C core 0123456789\n";
    for (size_t i = 0; i < n; i++)
        p[i] = (uint8_t)line[i % (sizeof(line) - 1)];
}

static int echo_gzip_request(char *detail, size_t len)
{
    struct call k;
    EchoReq q = AURIGRAPH__TEST__ECHO_REQUEST__INIT;
    size_t n = 200000;
    uint8_t *p = malloc(n);

    EXPECT(p, "out of memory");
    compressible(p, n);
    q.payload.data = p;
    q.payload.len = n;
    EchoRep *r = (EchoRep *)unary(&k, echo_gzip, ECHO("Unary"), CALL_MS, &q.base, REPLY, NULL, 0);
    int same = r && r->payload.len == n && memcmp(r->payload.data, p, n) == 0;
    grpc_status_code code = k.code;
    if (r)
        protobuf_c_message_free_unpacked(&r->base, NULL);
    call_free(&k);
    free(p);
    EXPECT(same, "a gzip request of 200 KB: %s, or the payload came back changed", code_name(code));
    snprintf(detail, len, "200 KB sent gzip-compressed, echoed intact");
    return 1;
}

static int gzip_reply(char *detail, size_t len)
{
    struct call k;
    EchoReq q = AURIGRAPH__TEST__ECHO_REQUEST__INIT;
    size_t n = 300000;
    uint8_t *p;

    EXPECT(gzip_echo, "no --gzip target given");
    EXPECT((p = malloc(n)) != NULL, "out of memory");
    compressible(p, n);
    q.payload.data = p;
    q.payload.len = n;
    EchoRep *r = (EchoRep *)unary(&k, gzip_echo, "/aurigraph.test.GzipEchoService/Unary", CALL_MS, &q.base, REPLY,
                                  NULL, 0);
    int same = r && r->payload.len == n && memcmp(r->payload.data, p, n) == 0;
    grpc_status_code code = k.code;
    if (r)
        protobuf_c_message_free_unpacked(&r->base, NULL);
    call_free(&k);
    free(p);
    EXPECT(same, "GzipEchoService of 300 KB: %s, or the payload came back changed", code_name(code));
    snprintf(detail, len, "300 KB from a server that gzips its replies, intact");
    return 1;
}

static int echo_large(char *detail, size_t len)
{
    struct call k;
    EchoReq q = AURIGRAPH__TEST__ECHO_REQUEST__INIT;
    size_t n = 3u << 20;
    uint8_t *p = malloc(n);
    uint32_t x = 2463534242u;

    EXPECT(p, "out of memory");
    for (size_t i = 0; i < n; i++) {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        p[i] = (uint8_t)x;
    }
    q.payload.data = p;
    q.payload.len = n;
    EchoRep *r = (EchoRep *)unary(&k, echo, ECHO("Unary"), CALL_MS, &q.base, REPLY, NULL, 0);
    int same = r && r->payload.len == n && memcmp(r->payload.data, p, n) == 0;
    grpc_status_code code = k.code;
    if (r)
        protobuf_c_message_free_unpacked(&r->base, NULL);
    call_free(&k);
    free(p);
    EXPECT(same, "3 MiB unary: %s, or it came back changed", code_name(code));
    snprintf(detail, len, "3 MiB up and back, intact");
    return 1;
}

static void usage(void)
{
    fputs("usage: core_client --v11 HOST:PORT --echo HOST:PORT [--gzip HOST:PORT] [--label NAME]\n", stderr);
    exit(2);
}

int main(int argc, char **argv)
{
    const char *v11_target = NULL, *echo_target = NULL, *gzip_target = NULL, *label = "core_client";

    for (int i = 1; i < argc; i++) {
        if (i + 1 >= argc)
            usage();
        if (strcmp(argv[i], "--v11") == 0)
            v11_target = argv[++i];
        else if (strcmp(argv[i], "--echo") == 0)
            echo_target = argv[++i];
        else if (strcmp(argv[i], "--gzip") == 0)
            gzip_target = argv[++i];
        else if (strcmp(argv[i], "--label") == 0)
            label = argv[++i];
        else
            usage();
    }
    if (!v11_target || !echo_target)
        usage();
    grpc_init();
    cq = grpc_completion_queue_create_for_pluck(NULL);
    v11 = channel(v11_target, 0);
    echo = channel(echo_target, 0);
    echo_gzip = channel(echo_target, 1);
    gzip_echo = gzip_target ? channel(gzip_target, 1) : NULL;
    snprintf(tx_user, sizeof(tx_user), "core-client-%d", (int)getpid());
    int64_t t0 = now_ms();

    run("v11-submit-get", v11_submit_get);
    run("v11-lifecycle", v11_lifecycle);
    run("v11-stream", v11_stream);
    run("v11-stream-deadline", v11_stream_deadline);
    run("v11-unknown-method", v11_unknown);
    run("echo-unary-metadata", echo_unary_metadata);
    run("echo-server-stream", echo_server_stream);
    run("echo-client-stream", echo_client_stream);
    run("echo-bidi", echo_bidi);
    run("echo-deadline", echo_deadline);
    run("echo-cancel", echo_cancel);
    run("echo-server-abort", echo_abort);
    run("echo-status-details", echo_details);
    run("echo-gzip-request", echo_gzip_request);
    run("gzip-reply", gzip_reply);
    run("echo-large", echo_large);

    printf("%s: %d passed, %d failed (%.1f s)\n", label, passed, failed, (double)(now_ms() - t0) / 1000);
    fflush(stdout); /* before a sanitizer's report at exit, which may abort */
    grpc_channel_destroy(v11);
    grpc_channel_destroy(echo);
    grpc_channel_destroy(echo_gzip);
    if (gzip_echo)
        grpc_channel_destroy(gzip_echo);
    grpc_completion_queue_shutdown(cq);
    for (int i = 0; i < 10 && grpc_completion_queue_pluck(cq, NULL, in_ms(1000), NULL).type != GRPC_QUEUE_SHUTDOWN; i++)
        ;
    grpc_completion_queue_destroy(cq);
    grpc_shutdown();
    return failed ? 1 : 0;
}
