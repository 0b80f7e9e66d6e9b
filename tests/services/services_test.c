/*
 * services_test.c: end-to-end test of aurigraph-services. Starts the built
 * binary on a free port (read back from its first stdout line), talks to
 * it with the gRPC C core client, and checks each service's behaviour, the
 * event stream, the fault-injection flags and a clean shutdown. Every wait
 * is bounded; the servers are stopped (killed if need be) at the end.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <grpc/byte_buffer_reader.h>
#include <grpc/grpc.h>
#include <grpc/grpc_security.h>
#include <grpc/support/time.h>

#include "aurigraph/v11/ai.pb-c.h"
#include "aurigraph/v11/bridge.pb-c.h"
#include "aurigraph/v11/consensus.pb-c.h"
#include "aurigraph/v11/crypto.pb-c.h"
#include "aurigraph/v11/transaction.pb-c.h"
#include "google/protobuf/wrappers.pb-c.h"
#include "google/type/decimal.pb-c.h"
#include "grpc/health/v1/health.pb-c.h"
#include "test.h"

/* A bound on every call and wait, not a speed check: an RSA-3072 key
 * generation under ASan on a loaded 2-core machine has taken over 5 s. */
#define WAIT_MS 30000
#define LISTEN_PREFIX "aurigraph-services listening on "

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static gpr_timespec deadline_in(int ms)
{
    return gpr_time_add(gpr_now(GPR_CLOCK_MONOTONIC), gpr_time_from_millis(ms, GPR_TIMESPAN));
}

/* --- the server process -------------------------------------------------- */

struct server {
    pid_t pid;
    int out;
    char addr[64];
};

/* quiet: stderr to /dev/null, for runs that are meant to fail */
static pid_t spawn(const char *const *args, int *out_fd, int quiet)
{
    const char *argv[16];
    posix_spawn_file_actions_t fa;
    int fds[2];
    pid_t pid;
    size_t n = 0;

    argv[n++] = AG_SERVICES_BIN;
    for (; *args && n < 15; args++)
        argv[n++] = *args;
    argv[n] = NULL;
    if (pipe(fds) != 0)
        return -1;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, fds[1], 1);
    posix_spawn_file_actions_addclose(&fa, fds[0]);
    posix_spawn_file_actions_addclose(&fa, fds[1]);
    if (quiet)
        posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0);
    if (posix_spawn(&pid, AG_SERVICES_BIN, &fa, NULL, (char *const *)argv, environ) != 0)
        pid = -1;
    posix_spawn_file_actions_destroy(&fa);
    close(fds[1]);
    *out_fd = fds[0];
    return pid;
}

/* The exit status, or -1 if it had to be killed after WAIT_MS. */
static int wait_exit(pid_t pid)
{
    int64_t end = now_ms() + WAIT_MS;
    int st;

    while (now_ms() < end) {
        pid_t r = waitpid(pid, &st, WNOHANG);
        if (r == pid)
            return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
        if (r < 0 && errno != EINTR)
            return -1;
        usleep(10000);
    }
    kill(pid, SIGKILL);
    waitpid(pid, &st, 0);
    return -1;
}

static int server_start(struct server *s, const char *const *extra)
{
    const char *args[16] = {"--listen", "127.0.0.1:0"};
    char line[256];
    size_t n = 0, k = 2;
    int64_t end = now_ms() + WAIT_MS;

    for (; extra && *extra && k < 15; extra++)
        args[k++] = *extra;
    args[k] = NULL;
    s->pid = spawn(args, &s->out, 0);
    if (s->pid < 0)
        return -1;
    while (n < sizeof(line) - 1) {
        struct pollfd p = {s->out, POLLIN, 0};
        int left = (int)(end - now_ms());
        if (left <= 0 || poll(&p, 1, left) <= 0 || read(s->out, &line[n], 1) != 1)
            break;
        if (line[n] == '\n')
            break;
        n++;
    }
    line[n] = '\0';
    if (strncmp(line, LISTEN_PREFIX, strlen(LISTEN_PREFIX)) != 0) {
        fprintf(stderr, "server did not report its port (got \"%s\")\n", line);
        kill(s->pid, SIGKILL);
        wait_exit(s->pid);
        close(s->out);
        return -1;
    }
    snprintf(s->addr, sizeof(s->addr), "%.63s", line + strlen(LISTEN_PREFIX));
    return 0;
}

static int server_stop(struct server *s)
{
    int rc;
    kill(s->pid, SIGTERM);
    rc = wait_exit(s->pid);
    close(s->out);
    return rc;
}

/* --- calls --------------------------------------------------------------- */

static grpc_completion_queue *cq;

struct result {
    grpc_status_code code;
    char details[512];
    char version_tag[64];
    ProtobufCMessage *msg;
};

static void result_free(struct result *r)
{
    if (r->msg)
        protobuf_c_message_free_unpacked(r->msg, NULL);
    memset(r, 0, sizeof(*r));
}

static ProtobufCMessage *unpack(grpc_byte_buffer *bb, const ProtobufCMessageDescriptor *d)
{
    grpc_byte_buffer_reader rd;
    ProtobufCMessage *m = NULL;

    if (bb && grpc_byte_buffer_reader_init(&rd, bb)) {
        grpc_slice s = grpc_byte_buffer_reader_readall(&rd);
        m = protobuf_c_message_unpack(d, NULL, GRPC_SLICE_LENGTH(s), GRPC_SLICE_START_PTR(s));
        grpc_slice_unref(s);
        grpc_byte_buffer_reader_destroy(&rd);
    }
    return m;
}

static grpc_byte_buffer *pack(const ProtobufCMessage *m)
{
    size_t n = protobuf_c_message_get_packed_size(m);
    grpc_slice s = grpc_slice_malloc(n);
    grpc_byte_buffer *bb;

    protobuf_c_message_pack(m, GRPC_SLICE_START_PTR(s));
    bb = grpc_raw_byte_buffer_create(&s, 1);
    grpc_slice_unref(s);
    return bb;
}

static void find_version_tag(const grpc_metadata_array *md, struct result *r)
{
    for (size_t i = 0; i < md->count; i++)
        if (grpc_slice_str_cmp(md->metadata[i].key, "x-version-tag") == 0)
            snprintf(r->version_tag, sizeof(r->version_tag), "%.*s",
                     (int)GRPC_SLICE_LENGTH(md->metadata[i].value),
                     (const char *)GRPC_SLICE_START_PTR(md->metadata[i].value));
}

static grpc_call *new_call(grpc_channel *ch, const char *method, int timeout_ms)
{
    grpc_slice m = grpc_slice_from_static_string(method);
    grpc_call *c = grpc_channel_create_call(ch, NULL, GRPC_PROPAGATE_DEFAULTS, cq, m, NULL,
                                            deadline_in(timeout_ms), NULL);
    grpc_slice_unref(m);
    return c;
}

static int pluck(void *tag)
{
    grpc_event ev = grpc_completion_queue_pluck(cq, tag, deadline_in(WAIT_MS + 1000), NULL);
    if (getenv("VERBOSE") && !(ev.type == GRPC_OP_COMPLETE && ev.success))
        fprintf(stderr, "  pluck: type %d success %d\n", (int)ev.type, ev.success);
    return ev.type == GRPC_OP_COMPLETE && ev.success;
}

static void unary(grpc_channel *ch, const char *method, const ProtobufCMessage *req,
                  const ProtobufCMessageDescriptor *out, struct result *r)
{
    grpc_call *c = new_call(ch, method, WAIT_MS);
    grpc_metadata_array init_md, trail_md;
    grpc_byte_buffer *send = pack(req), *recv = NULL;
    grpc_slice details = grpc_empty_slice();
    grpc_op ops[6];
    int tag;

    memset(r, 0, sizeof(*r));
    memset(ops, 0, sizeof(ops));
    grpc_metadata_array_init(&init_md);
    grpc_metadata_array_init(&trail_md);
    ops[0].op = GRPC_OP_SEND_INITIAL_METADATA;
    ops[1].op = GRPC_OP_SEND_MESSAGE;
    ops[1].data.send_message.send_message = send;
    ops[2].op = GRPC_OP_SEND_CLOSE_FROM_CLIENT;
    ops[3].op = GRPC_OP_RECV_INITIAL_METADATA;
    ops[3].data.recv_initial_metadata.recv_initial_metadata = &init_md;
    ops[4].op = GRPC_OP_RECV_MESSAGE;
    ops[4].data.recv_message.recv_message = &recv;
    ops[5].op = GRPC_OP_RECV_STATUS_ON_CLIENT;
    ops[5].data.recv_status_on_client.trailing_metadata = &trail_md;
    ops[5].data.recv_status_on_client.status = &r->code;
    ops[5].data.recv_status_on_client.status_details = &details;
    if (grpc_call_start_batch(c, ops, 6, &tag, NULL) != GRPC_CALL_OK || !pluck(&tag)) {
        r->code = GRPC_STATUS_INTERNAL;
        snprintf(r->details, sizeof(r->details), "test client: call did not complete");
    } else {
        snprintf(r->details, sizeof(r->details), "%.*s", (int)GRPC_SLICE_LENGTH(details),
                 (const char *)GRPC_SLICE_START_PTR(details));
        find_version_tag(&init_md, r);
        if (r->code == GRPC_STATUS_OK)
            r->msg = unpack(recv, out);
    }
    if (r->code != GRPC_STATUS_OK && getenv("VERBOSE"))
        fprintf(stderr, "  %s -> %d %s\n", method, (int)r->code, r->details);
    grpc_slice_unref(details);
    grpc_metadata_array_destroy(&init_md);
    grpc_metadata_array_destroy(&trail_md);
    grpc_byte_buffer_destroy(send);
    if (recv)
        grpc_byte_buffer_destroy(recv);
    grpc_call_unref(c);
}

#define CALL(ch, svc, method, req, outtype, r)                                                 \
    unary(ch, "/aurigraph.v11." svc "/" method, &(req).base, &outtype##__descriptor, r)

/* --- TransactionService -------------------------------------------------- */

typedef Aurigraph__V11__Transaction Tx;
typedef Aurigraph__V11__SubmitTransactionRequest SubmitReq;

/* A submission and the wrapper messages its fields point at. */
struct sreq {
    SubmitReq q;
    Google__Protobuf__StringValue user, from, to, data;
    Google__Type__Decimal amount, gas_price;
    Google__Protobuf__Int64Value gas_limit;
};

/* user / amount NULL: the field is absent (null), as JSON null would be.
 * Gas: both given, as the usual client sends them. */
static SubmitReq *submit_req(struct sreq *s, const char *user, const char *amount)
{
    memset(s, 0, sizeof(*s));
    aurigraph__v11__submit_transaction_request__init(&s->q);
    google__protobuf__string_value__init(&s->user);
    google__protobuf__string_value__init(&s->from);
    google__protobuf__string_value__init(&s->to);
    google__protobuf__string_value__init(&s->data);
    google__type__decimal__init(&s->amount);
    google__type__decimal__init(&s->gas_price);
    google__protobuf__int64_value__init(&s->gas_limit);
    s->user.value = (char *)user;
    s->q.user_id = user ? &s->user : NULL;
    s->from.value = "0xfrom";
    s->q.from_address = &s->from;
    s->to.value = "0xto";
    s->q.to_address = &s->to;
    s->amount.value = (char *)amount;
    s->q.amount = amount ? &s->amount : NULL;
    s->q.transaction_type = AURIGRAPH__V11__TRANSACTION_TYPE__TRANSFER;
    s->gas_limit.value = 21000;
    s->q.gas_limit = &s->gas_limit;
    s->gas_price.value = "0.000000025";
    s->q.gas_price = &s->gas_price;
    s->data.value = "hello";
    s->q.data = &s->data;
    return &s->q;
}

/* Submits; the new tx_hash (malloc'd) or NULL. */
static char *submit_q(grpc_channel *ch, SubmitReq *q)
{
    struct result r;
    char *hash = NULL;

    CALL(ch, "TransactionService", "SubmitTransaction", *q, aurigraph__v11__transaction, &r);
    if (r.code == GRPC_STATUS_OK && r.msg)
        hash = strdup(((Tx *)r.msg)->tx_hash);
    result_free(&r);
    return hash;
}

static char *submit(grpc_channel *ch, const char *user, const char *amount)
{
    struct sreq s;
    return submit_q(ch, submit_req(&s, user, amount));
}

/* The call fails INVALID_ARGUMENT with a message containing text. */
static void expect_invalid(grpc_channel *ch, SubmitReq *q, const char *text)
{
    struct result r;
    CALL(ch, "TransactionService", "SubmitTransaction", *q, aurigraph__v11__transaction, &r);
    CHECK_INTEQ(r.code, GRPC_STATUS_INVALID_ARGUMENT);
    if (!strstr(r.details, text))
        fprintf(stderr, "  message \"%s\" lacks \"%s\"\n", r.details, text);
    CHECK(strstr(r.details, text) != NULL);
    result_free(&r);
}

static int same_ts(const Google__Protobuf__Timestamp *a, const Google__Protobuf__Timestamp *b)
{
    return a && b && a->seconds == b->seconds && a->nanos == b->nanos;
}

static const char *dec(const Google__Type__Decimal *d)
{
    return d ? d->value : "(null)";
}

/* GetTransaction: the message (caller frees r) or NULL. */
static Tx *get_tx(grpc_channel *ch, const char *hash, struct result *r)
{
    Aurigraph__V11__GetTransactionRequest g = AURIGRAPH__V11__GET_TRANSACTION_REQUEST__INIT;
    g.tx_hash = (char *)hash;
    CALL(ch, "TransactionService", "GetTransaction", g, aurigraph__v11__transaction, r);
    return r->code == GRPC_STATUS_OK ? (Tx *)r->msg : NULL;
}

static int64_t pending_count(grpc_channel *ch)
{
    Aurigraph__V11__GetTransactionStatsRequest sq = AURIGRAPH__V11__GET_TRANSACTION_STATS_REQUEST__INIT;
    struct result r;
    int64_t n = -1;

    CALL(ch, "TransactionService", "GetTransactionStats", sq, aurigraph__v11__transaction_stats, &r);
    if (r.code == GRPC_STATUS_OK && r.msg)
        n = ((Aurigraph__V11__TransactionStats *)r.msg)->pending_transactions;
    result_free(&r);
    return n;
}

/* Confirm (block < 0: no blockNumber) or finalize; the gRPC code, and the
 * answer's message in msg. */
static grpc_status_code lifecycle(grpc_channel *ch, const char *verb, const char *hash, int64_t block,
                                  char *msg, size_t msg_len)
{
    Aurigraph__V11__ConfirmTransactionRequest c = AURIGRAPH__V11__CONFIRM_TRANSACTION_REQUEST__INIT;
    Aurigraph__V11__FinalizeTransactionRequest f = AURIGRAPH__V11__FINALIZE_TRANSACTION_REQUEST__INIT;
    Google__Protobuf__Int64Value bn = GOOGLE__PROTOBUF__INT64_VALUE__INIT;
    Google__Protobuf__StringValue bh = GOOGLE__PROTOBUF__STRING_VALUE__INIT;
    struct result r;
    grpc_status_code code;

    if (strcmp(verb, "confirm") == 0) {
        c.tx_hash = (char *)hash;
        if (block >= 0) {
            bn.value = block;
            c.block_number = &bn;
        }
        bh.value = "0xblockhash";
        c.block_hash = &bh;
        CALL(ch, "TransactionService", "ConfirmTransaction", c, aurigraph__v11__transaction_message, &r);
    } else {
        f.tx_hash = (char *)hash;
        CALL(ch, "TransactionService", "FinalizeTransaction", f, aurigraph__v11__transaction_message, &r);
    }
    code = r.code;
    snprintf(msg, msg_len, "%.200s",
             r.code == GRPC_STATUS_OK && r.msg ? ((Aurigraph__V11__TransactionMessage *)r.msg)->message : r.details);
    result_free(&r);
    return code;
}

static void test_submit_rules(grpc_channel *ch)
{
    struct sreq s;
    struct result r;
    char long_user[300];

    /* without gas (or with only one of the two) the fee is amount * 0.001:
     * BigDecimal keeps the scales, 1.25 * 0.001 = 0.00125 */
    submit_req(&s, "carol", "1.25");
    s.q.gas_limit = NULL;
    s.q.gas_price = NULL;
    s.q.to_address = NULL; /* nullable: answers null */
    CALL(ch, "TransactionService", "SubmitTransaction", s.q, aurigraph__v11__transaction, &r);
    CHECK_INTEQ(r.code, GRPC_STATUS_OK);
    if (r.msg) {
        Tx *t = (Tx *)r.msg;
        CHECK_STREQ(dec(t->total_fee), "0.00125");
        CHECK(t->to_address == NULL);
    }
    result_free(&r);
    submit_req(&s, "carol", "12.50");
    s.q.gas_price = NULL;
    CALL(ch, "TransactionService", "SubmitTransaction", s.q, aurigraph__v11__transaction, &r);
    CHECK(r.code == GRPC_STATUS_OK && r.msg && strcmp(dec(((Tx *)r.msg)->total_fee), "0.01250") == 0);
    result_free(&r);

    /* what the original accepts: negative amounts, empty strings, exponents */
    submit_req(&s, "", "-5");
    s.from.value = "";
    CALL(ch, "TransactionService", "SubmitTransaction", s.q, aurigraph__v11__transaction, &r);
    CHECK_INTEQ(r.code, GRPC_STATUS_OK);
    CHECK(r.msg && strcmp(dec(((Tx *)r.msg)->amount), "-5") == 0);
    result_free(&r);
    submit_req(&s, "carol", "1e-8");
    s.q.gas_price = NULL;
    CALL(ch, "TransactionService", "SubmitTransaction", s.q, aurigraph__v11__transaction, &r);
    CHECK_INTEQ(r.code, GRPC_STATUS_OK);
    if (r.msg) { /* BigDecimal.toString(): exponent notation below 1e-6 */
        CHECK_STREQ(dec(((Tx *)r.msg)->amount), "1E-8");
        CHECK_STREQ(dec(((Tx *)r.msg)->total_fee), "1E-11");
    }
    result_free(&r);

    /* what it refuses, with its messages */
    submit_req(&s, "carol", NULL);
    s.q.gas_price = NULL;
    expect_invalid(ch, &s.q, "because \"amount\" is null");
    submit_req(&s, "carol", NULL); /* with both gas fields the fee is computed; the insert fails */
    expect_invalid(ch, &s.q, "null value in column \"amount\"");
    submit_req(&s, NULL, "1");
    expect_invalid(ch, &s.q, "null value in column \"user_id\"");
    submit_req(&s, "carol", "1");
    s.q.from_address = NULL;
    expect_invalid(ch, &s.q, "null value in column \"from_address\"");
    submit_req(&s, "carol", "1");
    s.q.transaction_type = AURIGRAPH__V11__TRANSACTION_TYPE__TRANSACTION_TYPE_UNSPECIFIED;
    expect_invalid(ch, &s.q, "null value in column \"transaction_type\"");
    submit_req(&s, "carol", "1");
    s.q.transaction_type = (Aurigraph__V11__TransactionType)99;
    expect_invalid(ch, &s.q, "transaction_type");
    submit_req(&s, "carol", "abc");
    expect_invalid(ch, &s.q, "amount: not a decimal number");
    submit_req(&s, "carol", "1");
    s.gas_price.value = "1,5";
    expect_invalid(ch, &s.q, "gasPrice: not a decimal number");
    submit_req(&s, "carol", "100000000000000000000"); /* 10^20: NUMERIC(38,18) holds less */
    expect_invalid(ch, &s.q, "amount: numeric field overflow");
    submit_req(&s, "carol", "1");
    s.gas_limit.value = 1000000000000000000; /* 10^18 * 1000: the fee does not fit */
    s.gas_price.value = "1000";
    expect_invalid(ch, &s.q, "totalFee: numeric field overflow");
    submit_req(&s, "carol", "99999999999999999999.999999999999999999"); /* the largest that fits */
    {
        char *h = submit_q(ch, &s.q);
        CHECK(h != NULL);
        free(h);
    }
    memset(long_user, 'u', 256);
    long_user[256] = '\0';
    submit_req(&s, long_user, "1");
    expect_invalid(ch, &s.q, "userId: value too long for type character varying(255)");
    long_user[255] = '\0';
    {
        char *h = submit(ch, long_user, "1"); /* 255 is the limit */
        CHECK(h != NULL);
        free(h);
    }
}

static void test_transactions(grpc_channel *ch)
{
    Aurigraph__V11__ListPendingTransactionsRequest pq = AURIGRAPH__V11__LIST_PENDING_TRANSACTIONS_REQUEST__INIT;
    Aurigraph__V11__ListUserTransactionsRequest uq = AURIGRAPH__V11__LIST_USER_TRANSACTIONS_REQUEST__INIT;
    struct sreq s;
    struct result r1, r2;
    char msg[256];
    char *hash2, *hash3;
    int64_t pending0 = pending_count(ch);

    CHECK(pending0 >= 0);
    /* submit: the answer is the Java entity as built */
    submit_req(&s, "alice", "12.50");
    CALL(ch, "TransactionService", "SubmitTransaction", s.q, aurigraph__v11__transaction, &r1);
    CHECK_INTEQ(r1.code, GRPC_STATUS_OK);
    if (!r1.msg)
        return;
    Tx *t = (Tx *)r1.msg;
    CHECK(strncmp(t->tx_hash, "0x", 2) == 0 && strlen(t->tx_hash) == 66);
    CHECK(t->id >= 1);
    CHECK_STREQ(t->user_id, "alice");
    CHECK_STREQ(t->from_address, "0xfrom");
    CHECK(t->to_address && strcmp(t->to_address->value, "0xto") == 0);
    CHECK_STREQ(dec(t->amount), "12.50");
    CHECK_STREQ(dec(t->total_fee), "0.000525000"); /* 21000 * 0.000000025, scale 0 + 9 */
    CHECK_STREQ(t->status, "PENDING");
    CHECK_STREQ(t->transaction_type, "TRANSFER");
    CHECK(t->block_number == NULL && t->finality_time_ms == NULL);
    CHECK_INTEQ(t->confirmation_count, 0);
    CHECK(t->created_at && t->created_at->seconds > 1600000000 && t->created_at->nanos % 1000 == 0);
    CHECK(t->confirmed_at == NULL && t->finalized_at == NULL);

    /* a read returns the stored row: NUMERIC(38,18) gives 18 fraction digits */
    {
        Tx *u = get_tx(ch, t->tx_hash, &r2);
        CHECK(u != NULL);
        if (u) {
            CHECK_INTEQ(u->id, t->id);
            CHECK_STREQ(u->tx_hash, t->tx_hash);
            CHECK_STREQ(u->user_id, t->user_id);
            CHECK_STREQ(u->from_address, t->from_address);
            CHECK(u->to_address && strcmp(u->to_address->value, "0xto") == 0);
            CHECK_STREQ(dec(u->amount), "12.500000000000000000");
            CHECK_STREQ(dec(u->total_fee), "0.000525000000000000");
            CHECK_STREQ(u->status, "PENDING");
            CHECK_STREQ(u->transaction_type, t->transaction_type);
            CHECK(same_ts(u->created_at, t->created_at));
        }
        result_free(&r2);
    }

    /* identical submissions get distinct hashes and the next ids */
    hash2 = submit(ch, "alice", "12.50");
    CHECK(hash2 && strcmp(hash2, t->tx_hash) != 0);
    {
        Tx *u = hash2 ? get_tx(ch, hash2, &r2) : NULL;
        CHECK(u && u->id == t->id + 1);
        result_free(&r2);
    }
    CHECK_INTEQ(pending_count(ch), pending0 + 2);

    CHECK(get_tx(ch, "0xdoesnotexist", &r2) == NULL);
    CHECK_INTEQ(r2.code, GRPC_STATUS_NOT_FOUND);
    CHECK_STREQ(r2.details, "Transaction not found");
    result_free(&r2);

    /* confirm and finalize: unknown hashes are 400s (INVALID_ARGUMENT) */
    CHECK_INTEQ(lifecycle(ch, "confirm", "0xnope", 1, msg, sizeof(msg)), GRPC_STATUS_INVALID_ARGUMENT);
    CHECK_STREQ(msg, "Transaction not found");
    CHECK_INTEQ(lifecycle(ch, "finalize", "0xnope", 0, msg, sizeof(msg)), GRPC_STATUS_INVALID_ARGUMENT);
    CHECK_STREQ(msg, "Transaction not found");

    CHECK_INTEQ(lifecycle(ch, "confirm", t->tx_hash, 42, msg, sizeof(msg)), GRPC_STATUS_OK);
    CHECK_STREQ(msg, "Transaction confirmed");
    {
        Tx *u = get_tx(ch, t->tx_hash, &r2);
        CHECK(u != NULL);
        if (u) {
            CHECK_STREQ(u->status, "CONFIRMED");
            CHECK(u->block_number && u->block_number->value == 42);
            CHECK_INTEQ(u->confirmation_count, 1);
            CHECK(u->confirmed_at != NULL && u->finalized_at == NULL);
        }
        result_free(&r2);
    }
    CHECK_INTEQ(pending_count(ch), pending0 + 1);
    /* no state check: confirming again works, and no blockNumber is null */
    CHECK_INTEQ(lifecycle(ch, "confirm", t->tx_hash, -1, msg, sizeof(msg)), GRPC_STATUS_OK);
    {
        Tx *u = get_tx(ch, t->tx_hash, &r2);
        CHECK(u && u->block_number == NULL && strcmp(u->status, "CONFIRMED") == 0);
        result_free(&r2);
    }

    CHECK_INTEQ(lifecycle(ch, "finalize", t->tx_hash, 0, msg, sizeof(msg)), GRPC_STATUS_OK);
    CHECK_STREQ(msg, "Transaction finalized");
    {
        Tx *u = get_tx(ch, t->tx_hash, &r2);
        CHECK(u != NULL);
        if (u) {
            CHECK_STREQ(u->status, "FINALIZED");
            CHECK(u->finalized_at != NULL && u->confirmed_at != NULL);
            CHECK(u->finality_time_ms == NULL); /* the original's REST path never sets it */
            CHECK_INTEQ(u->confirmation_count, 1);
        }
        result_free(&r2);
    }
    /* a PENDING transaction can be finalized directly (no state check) */
    hash3 = submit(ch, "alice", "3");
    CHECK(hash3 != NULL);
    CHECK_INTEQ(lifecycle(ch, "finalize", hash3, 0, msg, sizeof(msg)), GRPC_STATUS_OK);
    CHECK_INTEQ(pending_count(ch), pending0 + 1);

    /* the pending pool: hash2 in it, the finalized ones not, ids ascending */
    CALL(ch, "TransactionService", "ListPendingTransactions", pq, aurigraph__v11__list_pending_transactions_response,
         &r2);
    CHECK_INTEQ(r2.code, GRPC_STATUS_OK);
    if (r2.msg) {
        Aurigraph__V11__ListPendingTransactionsResponse *l = (void *)r2.msg;
        int has2 = 0, has_final = 0, ascending = 1;
        CHECK_INTEQ(l->n_transactions, pending0 + 1);
        for (size_t i = 0; i < l->n_transactions; i++) {
            has2 += hash2 && strcmp(l->transactions[i]->tx_hash, hash2) == 0;
            has_final += strcmp(l->transactions[i]->tx_hash, t->tx_hash) == 0 ||
                         (hash3 && strcmp(l->transactions[i]->tx_hash, hash3) == 0);
            ascending &= i == 0 || l->transactions[i]->id > l->transactions[i - 1]->id;
            CHECK_STREQ(l->transactions[i]->status, "PENDING");
        }
        CHECK(has2 == 1 && has_final == 0 && ascending);
    }
    result_free(&r2);

    /* a user's transactions: all of them (no paging), oldest first */
    uq.user_id = "alice";
    CALL(ch, "TransactionService", "ListUserTransactions", uq, aurigraph__v11__list_user_transactions_response, &r2);
    CHECK_INTEQ(r2.code, GRPC_STATUS_OK);
    if (r2.msg) {
        Aurigraph__V11__ListUserTransactionsResponse *l = (void *)r2.msg;
        CHECK_INTEQ(l->n_transactions, 3);
        if (l->n_transactions == 3) {
            CHECK_STREQ(l->transactions[0]->tx_hash, t->tx_hash);
            CHECK_STREQ(l->transactions[0]->status, "FINALIZED");
            CHECK(hash2 && strcmp(l->transactions[1]->tx_hash, hash2) == 0);
            CHECK(hash3 && strcmp(l->transactions[2]->tx_hash, hash3) == 0);
        }
    }
    result_free(&r2);
    uq.user_id = "nobody";
    CALL(ch, "TransactionService", "ListUserTransactions", uq, aurigraph__v11__list_user_transactions_response, &r2);
    CHECK(r2.code == GRPC_STATUS_OK && r2.msg &&
          ((Aurigraph__V11__ListUserTransactionsResponse *)r2.msg)->n_transactions == 0);
    result_free(&r2);

    test_submit_rules(ch);

    /* batch (extension): entries the single submit refuses are skipped */
    {
        Aurigraph__V11__BatchSubmitTransactionsRequest b = AURIGRAPH__V11__BATCH_SUBMIT_TRANSACTIONS_REQUEST__INIT;
        struct sreq e[3];
        SubmitReq *ep[3] = {submit_req(&e[0], "bob", "1"), submit_req(&e[1], "bob", "not-a-number"),
                            submit_req(&e[2], "bob", "2.5")};
        b.transactions = ep;
        b.n_transactions = 3;
        b.batch_id = "batch-test";
        CALL(ch, "TransactionService", "BatchSubmitTransactions", b, aurigraph__v11__batch_submit_transactions_response,
             &r2);
        CHECK_INTEQ(r2.code, GRPC_STATUS_OK);
        if (r2.msg) {
            Aurigraph__V11__BatchSubmitTransactionsResponse *br = (void *)r2.msg;
            CHECK_STREQ(br->batch_id, "batch-test");
            CHECK_INTEQ(br->requested_count, 3);
            CHECK_INTEQ(br->accepted_count, 2);
            CHECK_INTEQ(br->n_tx_hashes, 2);
        }
        result_free(&r2);
    }

    /* long lists: every element whole (their wrappers and timestamps too) */
    {
        enum { N = 2000 };
        Aurigraph__V11__BatchSubmitTransactionsRequest b = AURIGRAPH__V11__BATCH_SUBMIT_TRANSACTIONS_REQUEST__INIT;
        static struct sreq e[N];
        static SubmitReq *ep[N];
        int whole = 0;
        for (int i = 0; i < N; i++)
            ep[i] = submit_req(&e[i], "many", "1");
        b.transactions = ep;
        b.n_transactions = N;
        CALL(ch, "TransactionService", "BatchSubmitTransactions", b, aurigraph__v11__batch_submit_transactions_response,
             &r2);
        CHECK(r2.code == GRPC_STATUS_OK && r2.msg &&
              ((Aurigraph__V11__BatchSubmitTransactionsResponse *)r2.msg)->accepted_count == N);
        result_free(&r2);
        uq.user_id = "many";
        CALL(ch, "TransactionService", "ListUserTransactions", uq, aurigraph__v11__list_user_transactions_response,
             &r2);
        if (r2.code == GRPC_STATUS_OK && r2.msg) {
            Aurigraph__V11__ListUserTransactionsResponse *l = (void *)r2.msg;
            CHECK_INTEQ(l->n_transactions, N);
            for (size_t i = 0; i < l->n_transactions; i++) {
                Tx *u = l->transactions[i];
                whole += u->to_address && strcmp(u->to_address->value, "0xto") == 0 &&
                         strcmp(dec(u->amount), "1.000000000000000000") == 0 &&
                         strcmp(dec(u->total_fee), "0.000525000000000000") == 0 && u->created_at &&
                         u->created_at->seconds > 1600000000 && strcmp(u->status, "PENDING") == 0;
            }
        }
        CHECK_INTEQ(whole, N);
        result_free(&r2);
        CALL(ch, "TransactionService", "ListPendingTransactions", pq,
             aurigraph__v11__list_pending_transactions_response, &r2);
        whole = 0;
        if (r2.code == GRPC_STATUS_OK && r2.msg) {
            Aurigraph__V11__ListPendingTransactionsResponse *l = (void *)r2.msg;
            CHECK_INTEQ(l->n_transactions, pending_count(ch));
            for (size_t i = 0; i < l->n_transactions; i++)
                whole += l->transactions[i]->amount && l->transactions[i]->created_at &&
                         strcmp(l->transactions[i]->user_id, "many") == 0 &&
                         strcmp(dec(l->transactions[i]->amount), "1.000000000000000000") == 0;
        }
        CHECK_INTEQ(whole, N);
        result_free(&r2);
    }

    free(hash2);
    free(hash3);
    result_free(&r1);
}

/* --- the event stream ---------------------------------------------------- */

struct stream_call {
    grpc_call *call;
    grpc_metadata_array init_md, trail_md;
    grpc_byte_buffer *send;
    grpc_status_code code;
    grpc_slice details;
};

static int stream_open_filtered(grpc_channel *ch, struct stream_call *s, const char *user, const char *status)
{
    Aurigraph__V11__StreamTransactionEventsRequest q =
        AURIGRAPH__V11__STREAM_TRANSACTION_EVENTS_REQUEST__INIT;
    grpc_op ops[4];
    int tag;

    memset(s, 0, sizeof(*s));
    memset(ops, 0, sizeof(ops));
    q.user_id = (char *)user;
    q.status = (char *)status;
    s->call = new_call(ch, "/aurigraph.v11.TransactionService/StreamTransactionEvents", 30000);
    s->send = pack(&q.base);
    s->details = grpc_empty_slice();
    grpc_metadata_array_init(&s->init_md);
    grpc_metadata_array_init(&s->trail_md);
    ops[0].op = GRPC_OP_SEND_INITIAL_METADATA;
    ops[1].op = GRPC_OP_SEND_MESSAGE;
    ops[1].data.send_message.send_message = s->send;
    ops[2].op = GRPC_OP_SEND_CLOSE_FROM_CLIENT;
    ops[3].op = GRPC_OP_RECV_INITIAL_METADATA;
    ops[3].data.recv_initial_metadata.recv_initial_metadata = &s->init_md;
    return grpc_call_start_batch(s->call, ops, 4, &tag, NULL) == GRPC_CALL_OK && pluck(&tag);
}

static int stream_open(grpc_channel *ch, struct stream_call *s, const char *user)
{
    return stream_open_filtered(ch, s, user, "");
}

/* The next event, or NULL when the stream ended or WAIT_MS passed. */
static Aurigraph__V11__TransactionEvent *stream_next(struct stream_call *s)
{
    grpc_byte_buffer *bb = NULL;
    grpc_op op;
    int tag;
    void *ev = NULL;

    memset(&op, 0, sizeof(op));
    op.op = GRPC_OP_RECV_MESSAGE;
    op.data.recv_message.recv_message = &bb;
    if (grpc_call_start_batch(s->call, &op, 1, &tag, NULL) == GRPC_CALL_OK && pluck(&tag) && bb)
        ev = unpack(bb, &aurigraph__v11__transaction_event__descriptor);
    if (bb)
        grpc_byte_buffer_destroy(bb);
    return ev;
}

static grpc_status_code stream_finish(struct stream_call *s, int cancel)
{
    grpc_op op;
    int tag;

    if (cancel) {
        grpc_call_cancel(s->call, NULL);
    } else {
        /* the core holds the status back until every message is read */
        Aurigraph__V11__TransactionEvent *ev;
        for (int i = 0; i < 1000 && (ev = stream_next(s)) != NULL; i++)
            protobuf_c_message_free_unpacked(&ev->base, NULL);
    }
    memset(&op, 0, sizeof(op));
    op.op = GRPC_OP_RECV_STATUS_ON_CLIENT;
    op.data.recv_status_on_client.trailing_metadata = &s->trail_md;
    op.data.recv_status_on_client.status = &s->code;
    op.data.recv_status_on_client.status_details = &s->details;
    if (grpc_call_start_batch(s->call, &op, 1, &tag, NULL) != GRPC_CALL_OK || !pluck(&tag))
        s->code = GRPC_STATUS_INTERNAL;
    if (getenv("VERBOSE"))
        fprintf(stderr, "  stream ended: %d %.*s\n", (int)s->code,
                (int)GRPC_SLICE_LENGTH(s->details), (const char *)GRPC_SLICE_START_PTR(s->details));
    grpc_slice_unref(s->details);
    grpc_metadata_array_destroy(&s->init_md);
    grpc_metadata_array_destroy(&s->trail_md);
    grpc_byte_buffer_destroy(s->send);
    grpc_call_unref(s->call);
    return s->code;
}

static void check_event(Aurigraph__V11__TransactionEvent *ev, const char *type, const char *hash)
{
    CHECK(ev != NULL);
    if (!ev)
        return;
    CHECK_STREQ(ev->event_type, type);
    CHECK(ev->transaction && hash && strcmp(ev->transaction->tx_hash, hash) == 0);
    CHECK(ev->timestamp != NULL);
    protobuf_c_message_free_unpacked(&ev->base, NULL);
}

static void test_stream(grpc_channel *ch)
{
    struct stream_call s;
    char msg[256];
    char *h1 = submit(ch, "streamer", "5");
    char *h2, *other;
    Aurigraph__V11__TransactionEvent *ev;

    CHECK(h1 != NULL);
    CHECK(stream_open(ch, &s, "streamer"));
    /* the pending transaction is replayed first */
    check_event(stream_next(&s), "SUBMITTED", h1);

    other = submit(ch, "someone-else", "1"); /* filtered out */
    h2 = submit(ch, "streamer", "6");
    CHECK_INTEQ(lifecycle(ch, "confirm", h1, 7, msg, sizeof(msg)), GRPC_STATUS_OK);
    check_event(stream_next(&s), "SUBMITTED", h2);
    ev = stream_next(&s);
    /* the event carries the transaction as a read returns it */
    CHECK(ev && ev->transaction && strcmp(ev->transaction->status, "CONFIRMED") == 0 &&
          ev->transaction->block_number && ev->transaction->block_number->value == 7 &&
          strcmp(dec(ev->transaction->amount), "5.000000000000000000") == 0);
    check_event(ev, "CONFIRMED", h1);
    CHECK_INTEQ(stream_finish(&s, 1), GRPC_STATUS_CANCELLED);

    /* a status filter: only CONFIRMED transactions, nothing replayed */
    CHECK(stream_open_filtered(ch, &s, "streamer", "CONFIRMED"));
    CHECK_INTEQ(lifecycle(ch, "confirm", h2, 8, msg, sizeof(msg)), GRPC_STATUS_OK);
    check_event(stream_next(&s), "CONFIRMED", h2);
    CHECK_INTEQ(stream_finish(&s, 1), GRPC_STATUS_CANCELLED);
    /* a status that is no TransactionStatus */
    CHECK(stream_open_filtered(ch, &s, "", "BOGUS"));
    CHECK(stream_next(&s) == NULL);
    CHECK_INTEQ(stream_finish(&s, 0), GRPC_STATUS_INVALID_ARGUMENT);

    free(h1);
    free(h2);
    free(other);
}

/* --- the other services -------------------------------------------------- */

static void test_health(grpc_channel *ch)
{
    Grpc__Health__V1__HealthCheckRequest q = GRPC__HEALTH__V1__HEALTH_CHECK_REQUEST__INIT;
    struct result r;
    const char *names[] = {"", "aurigraph.v11.TransactionService", "aurigraph.v11.ConsensusService",
                           "aurigraph.v11.QuantumCryptoService",
                           "aurigraph.v11.AIOptimizationService",
                           "aurigraph.v11.CrossChainBridgeService"};

    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        q.service = (char *)names[i];
        unary(ch, "/grpc.health.v1.Health/Check", &q.base,
              &grpc__health__v1__health_check_response__descriptor, &r);
        CHECK_INTEQ(r.code, GRPC_STATUS_OK);
        CHECK(r.msg && ((Grpc__Health__V1__HealthCheckResponse *)r.msg)->status ==
                           GRPC__HEALTH__V1__HEALTH_CHECK_RESPONSE__SERVING_STATUS__SERVING);
        result_free(&r);
    }
    q.service = "no.such.Service";
    unary(ch, "/grpc.health.v1.Health/Check", &q.base,
          &grpc__health__v1__health_check_response__descriptor, &r);
    CHECK_INTEQ(r.code, GRPC_STATUS_NOT_FOUND);
    result_free(&r);

    /* anything unregistered is UNIMPLEMENTED at once, not left hanging */
    unary(ch, "/grpc.health.v1.Health/Watch", &q.base,
          &grpc__health__v1__health_check_response__descriptor, &r);
    CHECK_INTEQ(r.code, GRPC_STATUS_UNIMPLEMENTED);
    result_free(&r);
    unary(ch, "/aurigraph.v11.TransactionService/NoSuchMethod", &q.base,
          &grpc__health__v1__health_check_response__descriptor, &r);
    CHECK_INTEQ(r.code, GRPC_STATUS_UNIMPLEMENTED);
    result_free(&r);
}

/* --- QuantumCryptoService ------------------------------------------------ */

typedef Aurigraph__V11__CryptoAlgorithm Alg;

/* Each call's expectations: what the service's own counters must say. */
static struct {
    int keygens, signs, verifies, encrypts, decrypts, sign_errors, rotations;
} cx;

/* a base64 text with one character in the middle changed to another valid one */
static void b64_tamper(char *s)
{
    size_t i = strlen(s) / 2;
    s[i] = s[i] == 'A' ? 'B' : 'A';
}

static int crypto_generate(grpc_channel *ch, const char *key_id, const char *alg, struct result *r)
{
    Aurigraph__V11__GenerateKeyRequest q = AURIGRAPH__V11__GENERATE_KEY_REQUEST__INIT;
    q.key_id = (char *)key_id;
    q.algorithm = (char *)alg;
    CALL(ch, "QuantumCryptoService", "GenerateKey", q, aurigraph__v11__generate_key_response, r);
    return r->code == GRPC_STATUS_OK && r->msg;
}

/* sign -> verify true; tampered data, tampered signature, not base64 -> false */
static void crypto_sign_verify(grpc_channel *ch, const char *key_id)
{
    Aurigraph__V11__SignRequest sq = AURIGRAPH__V11__SIGN_REQUEST__INIT;
    Aurigraph__V11__VerifyRequest vq = AURIGRAPH__V11__VERIFY_REQUEST__INIT;
    struct result r, v;
    char sig[8192];

    sq.key_id = (char *)key_id;
    sq.data = "transfer 100.50 to 0xto";
    CALL(ch, "QuantumCryptoService", "Sign", sq, aurigraph__v11__sign_response, &r);
    CHECK_INTEQ(r.code, GRPC_STATUS_OK);
    if (!r.msg)
        return;
    Aurigraph__V11__SignResponse *s = (void *)r.msg;
    cx.signs++;
    CHECK(s->success);
    CHECK_STREQ(s->status, "SUCCESS");
    CHECK(s->signature && strlen(s->signature->value) > 0 && strlen(s->signature->value) < sizeof(sig));
    CHECK(s->latency_ms > 0);
    if (!s->signature || strlen(s->signature->value) >= sizeof(sig)) {
        result_free(&r);
        return;
    }
    snprintf(sig, sizeof(sig), "%s", s->signature->value);
    result_free(&r);

    vq.key_id = (char *)key_id;
    vq.data = sq.data;
    vq.signature = sig;
    CALL(ch, "QuantumCryptoService", "Verify", vq, aurigraph__v11__verify_response, &v);
    CHECK_INTEQ(v.code, GRPC_STATUS_OK);
    cx.verifies++;
    if (v.msg) {
        Aurigraph__V11__VerifyResponse *m = (void *)v.msg;
        CHECK(m->success && m->is_valid);
        CHECK_STREQ(m->status, "SIGNATURE_VALID");
    }
    result_free(&v);

    const char *bad_data[] = {"transfer 900.50 to 0xto", "", NULL};
    for (int i = 0; bad_data[i]; i++) {
        vq.data = (char *)bad_data[i];
        CALL(ch, "QuantumCryptoService", "Verify", vq, aurigraph__v11__verify_response, &v);
        CHECK_INTEQ(v.code, GRPC_STATUS_OK);
        cx.verifies++;
        if (v.msg) {
            Aurigraph__V11__VerifyResponse *m = (void *)v.msg;
            CHECK(m->success && !m->is_valid);
            CHECK_STREQ(m->status, "SIGNATURE_INVALID");
        }
        result_free(&v);
    }

    char tampered[sizeof(sig)];
    snprintf(tampered, sizeof(tampered), "%s", sig);
    b64_tamper(tampered);
    const char *bad_sig[] = {tampered, "not base64!", "", "QUJD", NULL};
    vq.data = sq.data;
    for (int i = 0; bad_sig[i]; i++) {
        vq.signature = (char *)bad_sig[i];
        CALL(ch, "QuantumCryptoService", "Verify", vq, aurigraph__v11__verify_response, &v);
        CHECK_INTEQ(v.code, GRPC_STATUS_OK); /* an answer, not an error, as the original */
        cx.verifies++;
        if (v.msg) {
            Aurigraph__V11__VerifyResponse *m = (void *)v.msg;
            CHECK(m->success && !m->is_valid);
            CHECK_STREQ(m->status, "SIGNATURE_INVALID");
        }
        result_free(&v);
    }
}

/* encrypt -> decrypt gives the text back; altered or foreign ciphertexts fail */
static void crypto_encrypt_decrypt(grpc_channel *ch, const char *key_id)
{
    Aurigraph__V11__EncryptRequest eq = AURIGRAPH__V11__ENCRYPT_REQUEST__INIT;
    Aurigraph__V11__DecryptRequest dq = AURIGRAPH__V11__DECRYPT_REQUEST__INIT;
    struct result r, d;
    static char c1[16384], c2[16384];
    const char *text = "wire 12.50 AUR to 0xr1 \xe2\x82\xac";

    eq.key_id = (char *)key_id;
    eq.plaintext = (char *)text;
    for (int i = 0; i < 2; i++) {
        char *out = i ? c2 : c1;
        CALL(ch, "QuantumCryptoService", "Encrypt", eq, aurigraph__v11__encrypt_response, &r);
        CHECK_INTEQ(r.code, GRPC_STATUS_OK);
        out[0] = '\0';
        if (r.msg) {
            Aurigraph__V11__EncryptResponse *e = (void *)r.msg;
            cx.encrypts++;
            CHECK(e->success);
            CHECK_STREQ(e->status, "SUCCESS");
            CHECK(e->ciphertext && strlen(e->ciphertext->value) < sizeof(c1));
            CHECK(e->ciphertext && strstr(e->ciphertext->value, "wire") == NULL);
            if (e->ciphertext)
                snprintf(out, sizeof(c1), "%s", e->ciphertext->value);
        }
        result_free(&r);
    }
    /* a fresh secret and IV each time */
    CHECK(c1[0] && strcmp(c1, c2) != 0);

    dq.key_id = (char *)key_id;
    dq.ciphertext = c1;
    CALL(ch, "QuantumCryptoService", "Decrypt", dq, aurigraph__v11__decrypt_response, &d);
    CHECK_INTEQ(d.code, GRPC_STATUS_OK);
    if (d.msg) {
        Aurigraph__V11__DecryptResponse *p = (void *)d.msg;
        cx.decrypts++;
        CHECK(p->success);
        CHECK_STREQ(p->status, "SUCCESS");
        CHECK(p->plaintext && strcmp(p->plaintext->value, text) == 0);
    }
    result_free(&d);

    b64_tamper(c2);
    const char *bad[] = {c2, "not base64!", "", "QUJD", NULL};
    for (int i = 0; bad[i]; i++) {
        dq.ciphertext = (char *)bad[i];
        CALL(ch, "QuantumCryptoService", "Decrypt", dq, aurigraph__v11__decrypt_response, &d);
        CHECK_INTEQ(d.code, GRPC_STATUS_INTERNAL); /* the original's 500 */
        CHECK_STREQ(d.details, "Decryption failed");
        result_free(&d);
    }
}

static void crypto_unknown_key(grpc_channel *ch)
{
    Aurigraph__V11__SignRequest sq = AURIGRAPH__V11__SIGN_REQUEST__INIT;
    Aurigraph__V11__VerifyRequest vq = AURIGRAPH__V11__VERIFY_REQUEST__INIT;
    Aurigraph__V11__EncryptRequest eq = AURIGRAPH__V11__ENCRYPT_REQUEST__INIT;
    Aurigraph__V11__DecryptRequest dq = AURIGRAPH__V11__DECRYPT_REQUEST__INIT;
    struct result r;

    /* the original's answer: HTTP 200 with success false, a null result
     * and the reason in status */
    sq.key_id = "no-such-key";
    sq.data = "x";
    CALL(ch, "QuantumCryptoService", "Sign", sq, aurigraph__v11__sign_response, &r);
    CHECK_INTEQ(r.code, GRPC_STATUS_OK);
    if (r.msg) {
        Aurigraph__V11__SignResponse *s = (void *)r.msg;
        CHECK(!s->success && s->signature == NULL && s->latency_ms == 0);
        CHECK_STREQ(s->status, "Key not found: no-such-key");
    }
    result_free(&r);
    cx.sign_errors++;

    vq.key_id = "";
    vq.data = "x";
    vq.signature = "QUJD";
    CALL(ch, "QuantumCryptoService", "Verify", vq, aurigraph__v11__verify_response, &r);
    CHECK_INTEQ(r.code, GRPC_STATUS_OK);
    if (r.msg) {
        Aurigraph__V11__VerifyResponse *v = (void *)r.msg;
        CHECK(!v->success && !v->is_valid);
        CHECK_STREQ(v->status, "Key not found: ");
    }
    result_free(&r);

    eq.key_id = "nope";
    CALL(ch, "QuantumCryptoService", "Encrypt", eq, aurigraph__v11__encrypt_response, &r);
    CHECK_INTEQ(r.code, GRPC_STATUS_OK);
    if (r.msg) {
        Aurigraph__V11__EncryptResponse *e = (void *)r.msg;
        CHECK(!e->success && e->ciphertext == NULL);
        CHECK_STREQ(e->status, "Key not found: nope");
    }
    result_free(&r);

    dq.key_id = "nope";
    dq.ciphertext = "QUJD";
    CALL(ch, "QuantumCryptoService", "Decrypt", dq, aurigraph__v11__decrypt_response, &r);
    CHECK_INTEQ(r.code, GRPC_STATUS_OK);
    if (r.msg) {
        Aurigraph__V11__DecryptResponse *p = (void *)r.msg;
        CHECK(!p->success && p->plaintext == NULL);
        CHECK_STREQ(p->status, "Key not found: nope");
    }
    result_free(&r);
}

static int has_type(const Alg *a, const char *what)
{
    return strstr(a->type, what) != NULL;
}

/* System.currentTimeMillis(), what the original's timestamps are */
static int64_t epoch_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void crypto_status_and_metrics(grpc_channel *ch, int kyber, int dilithium, int keys)
{
    Aurigraph__V11__GetCryptoStatusRequest sq = AURIGRAPH__V11__GET_CRYPTO_STATUS_REQUEST__INIT;
    Aurigraph__V11__GetQuantumSecurityStatusRequest qq =
        AURIGRAPH__V11__GET_QUANTUM_SECURITY_STATUS_REQUEST__INIT;
    Aurigraph__V11__GetCryptoMetricsRequest mq = AURIGRAPH__V11__GET_CRYPTO_METRICS_REQUEST__INIT;
    struct result r;
    int64_t t = epoch_ms(), total = cx.keygens + cx.signs + cx.verifies + cx.encrypts + cx.decrypts;

    CALL(ch, "QuantumCryptoService", "GetStatus", sq, aurigraph__v11__crypto_status, &r);
    CHECK_INTEQ(r.code, GRPC_STATUS_OK);
    if (r.msg) {
        Aurigraph__V11__CryptoStatus *s = (void *)r.msg;
        CHECK(s->quantum_crypto_enabled);
        CHECK_INTEQ(s->stored_keys, keys);
        CHECK_INTEQ(s->key_generations, cx.keygens);
        CHECK_INTEQ(s->signatures, cx.signs);
        CHECK_INTEQ(s->verifications, cx.verifies);
        CHECK_INTEQ(s->encryptions, cx.encrypts);
        CHECK_INTEQ(s->decryptions, cx.decrypts);
        CHECK_INTEQ(s->total_operations, total);
        /* everything happened within the last minute */
        CHECK(s->current_tps > 0 && s->current_tps <= 10000);
        CHECK_INTEQ(s->target_tps, 10000);
        CHECK_STREQ(s->algorithms, "CRYSTALS-Kyber + CRYSTALS-Dilithium + SPHINCS+");
        CHECK_INTEQ(s->kyber_security_level, 5);
        CHECK_INTEQ(s->dilithium_security_level, 5);
        CHECK(s->timestamp >= t - 5000 && s->timestamp <= t + 5000);
    }
    result_free(&r);

    CALL(ch, "QuantumCryptoService", "GetQuantumSecurityStatus", qq,
         aurigraph__v11__quantum_security_status, &r);
    CHECK_INTEQ(r.code, GRPC_STATUS_OK);
    if (r.msg) {
        Aurigraph__V11__QuantumSecurityStatus *q = (void *)r.msg;
        CHECK(q->quantum_crypto_enabled);
        CHECK_INTEQ(q->quantum_resistant, kyber && dilithium);
        CHECK_INTEQ(q->nist_level5_compliant, kyber && dilithium);
        CHECK_STREQ(q->algorithm_suite, "CRYSTALS-Kyber-5 + CRYSTALS-Dilithium-5");
        CHECK_INTEQ(q->quantum_bit_security, 256);
        CHECK(q->timestamp >= t - 5000 && q->timestamp <= t + 5000);
    }
    result_free(&r);

    CALL(ch, "QuantumCryptoService", "GetMetrics", mq, aurigraph__v11__crypto_metrics, &r);
    CHECK_INTEQ(r.code, GRPC_STATUS_OK);
    Aurigraph__V11__CryptoMetrics *m = (void *)r.msg;
    CHECK(m && m->algorithms && m->key_management && m->encryption && m->decryption &&
          m->signatures && m->verification && m->kyber_kem && m->dilithium_signature &&
          m->security && m->performance && m->errors && m->trends && m->trends->last1_hour &&
          m->trends->last24_hours && m->trends->last7_days);
    if (m && m->key_management && m->signatures && m->verification && m->encryption &&
        m->decryption && m->errors && m->trends && m->trends->last1_hour &&
        m->trends->last7_days && m->security && m->performance) {
        CHECK_STREQ(m->status, "ACTIVE");
        CHECK_INTEQ(m->key_management->total_keys_generated, cx.keygens);
        CHECK_INTEQ(m->key_management->active_keys, keys);
        CHECK_INTEQ(m->key_management->key_rotation_last24h, cx.rotations);
        CHECK(cx.rotations == 0 || m->key_management->average_key_lifetime >= 0);
        CHECK_INTEQ(m->signatures->total_signatures, cx.signs);
        CHECK(cx.signs == 0 || (m->signatures->average_signing_time > 0 &&
                                m->signatures->p50_signing_time <= m->signatures->p95_signing_time &&
                                m->signatures->p95_signing_time <= m->signatures->p99_signing_time));
        CHECK(strstr(m->signatures->signature_size, " bytes") != NULL);
        CHECK(cx.signs == 0 || strcmp(m->signatures->signature_size, "0 bytes") != 0);
        CHECK_INTEQ(m->verification->total_verifications, cx.verifies);
        CHECK_INTEQ(m->encryption->total_encryption_ops, cx.encrypts);
        CHECK_INTEQ(m->decryption->total_decryption_ops, cx.decrypts);
        CHECK(cx.encrypts == 0 || strcmp(m->encryption->total_bytes_encrypted, "0 B") != 0);
        /* the unknown-key sign counted as a failed one */
        CHECK(m->errors->signature_errors >= cx.sign_errors && cx.sign_errors > 0);
        CHECK(m->signatures->signing_success_rate < 100.0 && m->signatures->signing_success_rate > 0);
        CHECK(m->errors->total_errors >= m->errors->signature_errors + m->errors->key_generation_errors);
        CHECK(m->errors->error_rate > 0 && m->errors->error_rate < 1);
        CHECK_INTEQ(m->errors->last24h_errors, m->errors->total_errors);
        CHECK_INTEQ(m->trends->last1_hour->operations, total);
        CHECK_INTEQ(m->trends->last7_days->operations, total);
        CHECK(m->trends->last1_hour->average_tps >= 0);
        CHECK_INTEQ(m->security->quantum_resistant, kyber && dilithium);
        CHECK_INTEQ(m->security->n_certifications, 0);
        CHECK(m->performance->cpu_utilization >= 0 && m->performance->cpu_utilization <= 100);
        CHECK(m->performance->memory_utilization > 0 && m->performance->memory_utilization < 100);
        /* the unknown-key lookups missed */
        CHECK(m->performance->cache_hit_rate > 0 && m->performance->cache_hit_rate < 100);
        CHECK(m->timestamp >= t - 5000 && m->timestamp <= t + 5000);
    }
    result_free(&r);
}

static void test_crypto(grpc_channel *ch)
{
    Aurigraph__V11__ListAlgorithmsRequest lq = AURIGRAPH__V11__LIST_ALGORITHMS_REQUEST__INIT;
    static const char *const original[] = {"CRYSTALS-Kyber", "CRYSTALS-Dilithium", "SPHINCS+",
                                           "McEliece", "NTRU"};
    struct result la, r;
    int available = 0, keys = 0, kyber = 0, dilithium = 0;
    char kem_key[64] = "", sig_key[64] = "";

    memset(&cx, 0, sizeof(cx));
    CALL(ch, "QuantumCryptoService", "ListAlgorithms", lq,
         aurigraph__v11__list_algorithms_response, &la);
    CHECK_INTEQ(la.code, GRPC_STATUS_OK);
    if (!la.msg)
        return;
    Aurigraph__V11__ListAlgorithmsResponse *l = (void *)la.msg;
    CHECK_STREQ(l->suite, "Post-Quantum Cryptography Suite V11");
    CHECK_INTEQ(l->n_algorithms, 8); /* the original's five, then Ed25519, ECDSA-P256, RSA-3072 */
    for (size_t i = 0; i < 5 && i < l->n_algorithms; i++)
        CHECK_STREQ(l->algorithms[i]->name, original[i]);
    if (l->n_algorithms >= 5) {
        CHECK_INTEQ(l->algorithms[0]->security_level, 5);
        CHECK_STREQ(l->algorithms[0]->type, "Key Encapsulation");
        CHECK_STREQ(l->algorithms[1]->type, "Digital Signatures");
        CHECK(!l->algorithms[3]->available && !l->algorithms[4]->available);
        kyber = l->algorithms[0]->available;
        dilithium = l->algorithms[1]->available;
    }

    for (size_t i = 0; i < l->n_algorithms; i++) {
        Alg *a = l->algorithms[i];
        char key_id[64];

        if (strcmp(a->name, "McEliece") == 0 || strcmp(a->name, "NTRU") == 0)
            continue; /* names the original maps to Dilithium: below */
        snprintf(key_id, sizeof(key_id), "test-%s", a->name);
        crypto_generate(ch, key_id, a->name, &r);
        if (!a->available) {
            /* listed, refused, never imitated */
            CHECK_INTEQ(r.code, GRPC_STATUS_UNIMPLEMENTED);
            CHECK(strstr(r.details, a->name) != NULL);
            result_free(&r);
            continue;
        }
        available++;
        CHECK_INTEQ(r.code, GRPC_STATUS_OK);
        if (!r.msg) {
            result_free(&r);
            continue;
        }
        Aurigraph__V11__GenerateKeyResponse *g = (void *)r.msg;
        cx.keygens++;
        keys++;
        CHECK(g->success);
        CHECK_STREQ(g->key_id, key_id);
        CHECK_STREQ(g->algorithm, a->name);
        CHECK_INTEQ(g->security_level, a->security_level);
        /* DER encodings: larger than the raw keys */
        CHECK(g->public_key_size > 32 && g->private_key_size > 32);
        CHECK(g->latency_ms > 0 && g->timestamp > epoch_ms() - 5000 && g->timestamp <= epoch_ms());
        result_free(&r);

        if (has_type(a, "Signatures")) {
            crypto_sign_verify(ch, key_id);
            snprintf(sig_key, sizeof(sig_key), "%s", key_id);
        }
        if (has_type(a, "Key Encapsulation")) {
            crypto_encrypt_decrypt(ch, key_id);
            snprintf(kem_key, sizeof(kem_key), "%s", key_id);
        }
    }
    CHECK(available >= 3); /* Ed25519, ECDSA-P256, RSA-3072 on every OpenSSL 3 */
    result_free(&la);

    /* a key used for what it cannot do */
    if (sig_key[0] && strcmp(sig_key, kem_key) != 0) {
        Aurigraph__V11__EncryptRequest eq = AURIGRAPH__V11__ENCRYPT_REQUEST__INIT;
        eq.key_id = sig_key;
        eq.plaintext = "x";
        CALL(ch, "QuantumCryptoService", "Encrypt", eq, aurigraph__v11__encrypt_response, &r);
        CHECK_INTEQ(r.code, GRPC_STATUS_FAILED_PRECONDITION);
        result_free(&r);
    }
    CHECK(sig_key[0] && kem_key[0]);

    /* names: case-insensitive, echoed as given; anything else is Dilithium */
    if (crypto_generate(ch, "k-lower", "ed25519", &r)) {
        CHECK_STREQ(((Aurigraph__V11__GenerateKeyResponse *)r.msg)->algorithm, "ed25519");
        cx.keygens++;
        keys++;
    } else {
        CHECK(0);
    }
    result_free(&r);
    const char *dilithium_names[] = {"ROT13", "McEliece", "NTRU", "", "dilithium", NULL};
    for (int i = 0; dilithium_names[i]; i++) {
        char key_id[32];
        snprintf(key_id, sizeof(key_id), "k-dil-%d", i);
        crypto_generate(ch, key_id, dilithium_names[i], &r);
        if (dilithium) {
            CHECK_INTEQ(r.code, GRPC_STATUS_OK);
            CHECK(r.msg && ((Aurigraph__V11__GenerateKeyResponse *)r.msg)->security_level == 5);
            cx.keygens += r.msg != NULL;
            keys += r.msg != NULL;
        } else {
            CHECK_INTEQ(r.code, GRPC_STATUS_UNIMPLEMENTED);
            CHECK(strstr(r.details, "CRYSTALS-Dilithium") != NULL);
            CHECK(strcasestr(r.details, dilithium_names[i]) != NULL);
        }
        result_free(&r);
    }
    crypto_generate(ch, "", "Ed25519", &r);
    CHECK_INTEQ(r.code, GRPC_STATUS_INVALID_ARGUMENT);
    CHECK_STREQ(r.details, "keyId is required");
    result_free(&r);

    /* the same id again: the key is replaced (a new key, the old signature
     * no longer verifies), not added */
    {
        Aurigraph__V11__SignRequest sq = AURIGRAPH__V11__SIGN_REQUEST__INIT;
        Aurigraph__V11__VerifyRequest vq = AURIGRAPH__V11__VERIFY_REQUEST__INIT;
        char sig[256] = "";
        sq.key_id = "k-lower";
        sq.data = "rotate me";
        CALL(ch, "QuantumCryptoService", "Sign", sq, aurigraph__v11__sign_response, &r);
        if (r.msg && ((Aurigraph__V11__SignResponse *)r.msg)->signature) {
            snprintf(sig, sizeof(sig), "%s", ((Aurigraph__V11__SignResponse *)r.msg)->signature->value);
            cx.signs++;
        }
        result_free(&r);
        CHECK(crypto_generate(ch, "k-lower", "Ed25519", &r));
        cx.keygens++;
        cx.rotations++;
        result_free(&r);
        vq.key_id = "k-lower";
        vq.data = sq.data;
        vq.signature = sig;
        CALL(ch, "QuantumCryptoService", "Verify", vq, aurigraph__v11__verify_response, &r);
        CHECK(sig[0] && r.msg && !((Aurigraph__V11__VerifyResponse *)r.msg)->is_valid);
        cx.verifies++;
        result_free(&r);
    }

    crypto_unknown_key(ch);

    {
        Aurigraph__V11__CryptoPerformanceRequest pq = AURIGRAPH__V11__CRYPTO_PERFORMANCE_REQUEST__INIT;
        pq.operations = 5; /* clamped to 100, as the original */
        CALL(ch, "QuantumCryptoService", "RunPerformanceTest", pq,
             aurigraph__v11__crypto_performance_result, &r);
        if (kyber) {
            CHECK_INTEQ(r.code, GRPC_STATUS_OK);
            Aurigraph__V11__CryptoPerformanceResult *p = (void *)r.msg;
            CHECK(p && p->total_operations == 100 && p->successful_operations == 100);
            CHECK(p && p->total_time_ms > 0 && p->operations_per_second > 0 &&
                  p->average_latency_ms > 0);
            CHECK(p && strcmp(p->operation_type, "Quantum-resistant encryption/decryption") == 0);
        } else {
            CHECK_INTEQ(r.code, GRPC_STATUS_UNIMPLEMENTED);
            CHECK(strstr(r.details, "CRYSTALS-Kyber") != NULL);
        }
        result_free(&r);
    }

    crypto_status_and_metrics(ch, kyber, dilithium, keys);
    if (getenv("VERBOSE"))
        fprintf(stderr, "  crypto: %d algorithms available, kyber %d, dilithium %d\n", available,
                kyber, dilithium);
}

/* epoch ms, as the consensus and AI answers carry them */
static int64_t wall_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int is_uuid(const char *s)
{
    if (strlen(s) != 36)
        return 0;
    for (int i = 0; i < 36; i++) {
        int dash = i == 8 || i == 13 || i == 18 || i == 23;
        if (dash ? s[i] != '-' : !((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
            return 0;
    }
    return s[14] == '4'; /* randomUUID: version 4 */
}

static void test_consensus(grpc_channel *ch)
{
    Aurigraph__V11__GetConsensusStatusRequest sq = AURIGRAPH__V11__GET_CONSENSUS_STATUS_REQUEST__INIT;
    Aurigraph__V11__ListNodesRequest nq = AURIGRAPH__V11__LIST_NODES_REQUEST__INIT;
    Aurigraph__V11__ProposeBlockRequest pq = AURIGRAPH__V11__PROPOSE_BLOCK_REQUEST__INIT;
    Aurigraph__V11__GetConsensusMetricsRequest mq = AURIGRAPH__V11__GET_CONSENSUS_METRICS_REQUEST__INIT;
    Google__Protobuf__StringValue pid = GOOGLE__PROTOBUF__STRING_VALUE__INIT;
    struct result r;
    char node_id[40] = "";
    int64_t commit = 0, term = 0, tps = 0, t0 = wall_ms();

    CALL(ch, "ConsensusService", "GetConsensusStatus", sq, aurigraph__v11__consensus_status, &r);
    CHECK_INTEQ(r.code, GRPC_STATUS_OK);
    if (r.msg) {
        Aurigraph__V11__ConsensusStatus *s = (void *)r.msg;
        CHECK(is_uuid(s->node_id));
        snprintf(node_id, sizeof(node_id), "%s", s->node_id);
        CHECK_STREQ(s->state, "LEADER");
        CHECK(s->leader_id && strcmp(s->leader_id->value, s->node_id) == 0);
        CHECK(s->current_term >= 1);
        CHECK(s->commit_index > 145000); /* the start, plus at least the first update */
        CHECK(s->consensus_latency >= 2 && s->consensus_latency <= 8);
        CHECK(s->throughput >= 100000 && s->throughput <= 150000);
        CHECK_INTEQ(s->cluster_size, 6);
        commit = s->commit_index;
        term = s->current_term;
    }
    result_free(&r);

    CALL(ch, "ConsensusService", "ListNodes", nq, aurigraph__v11__list_nodes_response, &r);
    CHECK_INTEQ(r.code, GRPC_STATUS_OK);
    if (r.msg) {
        Aurigraph__V11__ListNodesResponse *l = (void *)r.msg;
        CHECK_INTEQ(l->total_nodes, 7);
        CHECK_INTEQ(l->n_nodes, 7);
        CHECK_STREQ(l->leader_node, node_id);
        CHECK_STREQ(l->consensus_health, "HEALTHY");
        CHECK(l->timestamp >= t0 - 1000 && l->timestamp <= wall_ms() + 1000);
        if (l->n_nodes == 7) {
            Aurigraph__V11__ConsensusNode *lead = l->nodes[0];
            CHECK_STREQ(lead->node_id, node_id);
            CHECK_STREQ(lead->role, "LEADER");
            tps = lead->throughput;
            for (size_t i = 1; i < 7; i++) {
                char want[16];
                snprintf(want, sizeof(want), "node_%zu", i - 1);
                CHECK_STREQ(l->nodes[i]->node_id, want);
                CHECK_STREQ(l->nodes[i]->role, "FOLLOWER");
                CHECK_STREQ(l->nodes[i]->status, "ACTIVE");
                CHECK(l->nodes[i]->commit_index <= lead->commit_index &&
                      l->nodes[i]->commit_index > lead->commit_index - 10);
                CHECK_INTEQ(l->nodes[i]->last_applied, lead->last_applied);
                CHECK_INTEQ(l->nodes[i]->current_term, lead->current_term);
                CHECK_INTEQ(l->nodes[i]->throughput, (int64_t)((double)tps * 0.95));
                CHECK(l->nodes[i]->last_seen >= t0 - 1000 && l->nodes[i]->last_seen <= wall_ms() + 1000);
            }
            CHECK(lead->commit_index >= commit && lead->current_term >= term);
        }
    }
    result_free(&r);

    pid.value = "prop-1";
    pq.proposal_id = &pid;
    CALL(ch, "ConsensusService", "ProposeBlock", pq, aurigraph__v11__propose_block_response, &r);
    CHECK_INTEQ(r.code, GRPC_STATUS_OK);
    if (r.msg) {
        Aurigraph__V11__ProposeBlockResponse *p = (void *)r.msg;
        CHECK_STREQ(p->status, "PROPOSED");
        CHECK_STREQ(p->proposal_id, "prop-1");
        CHECK(p->timestamp >= t0 - 1000 && p->timestamp <= wall_ms() + 1000);
    }
    result_free(&r);
    /* a null proposalId: the original's Map.of throws, HTTP 500 */
    pq.proposal_id = NULL;
    CALL(ch, "ConsensusService", "ProposeBlock", pq, aurigraph__v11__propose_block_response, &r);
    CHECK_INTEQ(r.code, GRPC_STATUS_INTERNAL);
    CHECK(strstr(r.details, "proposalId") != NULL);
    result_free(&r);
    pid.value = ""; /* "" is a value, not null */
    pq.proposal_id = &pid;
    CALL(ch, "ConsensusService", "ProposeBlock", pq, aurigraph__v11__propose_block_response, &r);
    CHECK_INTEQ(r.code, GRPC_STATUS_OK);
    result_free(&r);

    CALL(ch, "ConsensusService", "GetConsensusMetrics", mq, aurigraph__v11__consensus_metrics, &r);
    CHECK_INTEQ(r.code, GRPC_STATUS_OK);
    if (r.msg) {
        Aurigraph__V11__ConsensusMetrics *m = (void *)r.msg;
        CHECK_STREQ(m->algorithm, "HyperRAFT++");
        CHECK_STREQ(m->status, "ACTIVE");
        CHECK_STREQ(m->metrics_collection_interval, "real-time");
        CHECK(m->timestamp >= t0 - 1000 && m->timestamp <= wall_ms() + 1000);
        CHECK(m->throughput && m->latency && m->voting && m->leader && m->cluster && m->performance &&
              m->errors && m->ai_optimization);
        if (m->leader) { /* the last election 48 hours ago, its tenure since */
            CHECK_INTEQ(m->leader->leader_tenure, 48LL * 3600 * 1000);
            CHECK_INTEQ(m->leader->last_election_time, m->timestamp - m->leader->leader_tenure);
        }
        if (m->cluster)
            CHECK(m->cluster->active_nodes <= m->cluster->total_nodes &&
                  m->cluster->quorum_size > m->cluster->total_nodes / 2);
        if (m->latency)
            CHECK(m->latency->p50_consensus_latency <= m->latency->p95_consensus_latency &&
                  m->latency->p95_consensus_latency <= m->latency->p99_consensus_latency &&
                  m->latency->p99_consensus_latency <= m->latency->max_consensus_latency);
    }
    result_free(&r);

    /* the state moves every 3 s (the original's update thread): wait for
     * the next update, at most 4 s */
    {
        int64_t deadline = now_ms() + 4000, seen = commit;
        while (seen == commit && now_ms() < deadline) {
            CALL(ch, "ConsensusService", "GetConsensusStatus", sq, aurigraph__v11__consensus_status, &r);
            if (r.code == GRPC_STATUS_OK && r.msg)
                seen = ((Aurigraph__V11__ConsensusStatus *)r.msg)->commit_index;
            result_free(&r);
            if (seen == commit)
                usleep(100000);
        }
        CHECK(seen > commit && seen <= commit + 5 * 2);
    }
}

/* --- AIOptimizationService ------------------------------------------------- */

/* Instant.toString() text -> epoch ms; -1 unless it has exactly that form
 * (UTC 'Z', a fraction of 3, 6 or 9 digits or none). */
static int64_t instant_ms(const char *s)
{
    struct tm tm;
    int n = 0;
    size_t frac = 0;
    long ms = 0;

    memset(&tm, 0, sizeof(tm));
    if (!s || sscanf(s, "%4d-%2d-%2dT%2d:%2d:%2d%n", &tm.tm_year, &tm.tm_mon, &tm.tm_mday,
                     &tm.tm_hour, &tm.tm_min, &tm.tm_sec, &n) != 6 || n != 19)
        return -1;
    s += n;
    if (*s == '.') {
        for (s++; s[frac] >= '0' && s[frac] <= '9'; frac++)
            if (frac < 3)
                ms = ms * 10 + (s[frac] - '0');
        if (frac != 3 && frac != 6 && frac != 9)
            return -1;
        s += frac;
    }
    if (strcmp(s, "Z") != 0)
        return -1;
    tm.tm_year -= 1900;
    tm.tm_mon -= 1;
    return (int64_t)timegm(&tm) * 1000 + ms;
}

/* within `slack_ms` of now + offset_ms */
static int near_now(int64_t ms, int64_t offset_ms, int64_t slack_ms)
{
    int64_t d = ms - (wall_ms() + offset_ms);
    return ms >= 0 && d <= slack_ms && d >= -slack_ms;
}

static int in_range(double v, double lo, double hi)
{
    return v >= lo && v <= hi;
}

static int near(double a, double b)
{
    double d = a - b;
    return d < 1e-9 && d > -1e-9;
}

static void test_ai_models(grpc_channel *ch)
{
    Aurigraph__V11__ListModelsRequest lq = AURIGRAPH__V11__LIST_MODELS_REQUEST__INIT;
    Aurigraph__V11__GetModelRequest gq = AURIGRAPH__V11__GET_MODEL_REQUEST__INIT;
    Aurigraph__V11__RetrainModelRequest rq = AURIGRAPH__V11__RETRAIN_MODEL_REQUEST__INIT;
    Google__Protobuf__Int32Value epochs = GOOGLE__PROTOBUF__INT32_VALUE__INIT;
    struct result l, r;
    Aurigraph__V11__AIModelsResponse *list;

    CALL(ch, "AIOptimizationService", "ListModels", lq, aurigraph__v11__aimodels_response, &l);
    CHECK_INTEQ(l.code, GRPC_STATUS_OK);
    list = (void *)l.msg;
    CHECK(list != NULL);
    if (!list)
        return;
    CHECK_INTEQ(list->n_models, 5);
    CHECK_INTEQ(list->total_models, (int32_t)list->n_models);
    CHECK(near_now(list->timestamp, 0, 5000));
    {
        int32_t active = 0;
        for (size_t i = 0; i < list->n_models; i++) {
            Aurigraph__V11__AIModelSummary *m = list->models[i];
            active += strcmp(m->status, "ACTIVE") == 0;
            /* percent, not a fraction; trained in the past */
            CHECK(in_range(m->accuracy, 50, 100));
            CHECK(m->training_epochs > 0);
            CHECK(instant_ms(m->last_trained_at) > 0 && instant_ms(m->last_trained_at) < wall_ms());
            CHECK(m->model_id[0] && m->name[0] && m->type[0] && m->version[0] && m->description[0]);
        }
        CHECK_INTEQ(list->active_models, active);
        CHECK(active >= 1 && active < (int32_t)list->n_models);
    }

    /* a listed id: its own figures */
    Aurigraph__V11__AIModelSummary *second = list->models[1];
    gq.model_id = second->model_id;
    CALL(ch, "AIOptimizationService", "GetModel", gq, aurigraph__v11__aimodel_details, &r);
    CHECK_INTEQ(r.code, GRPC_STATUS_OK);
    if (r.msg) {
        Aurigraph__V11__AIModelDetails *d = (void *)r.msg;
        CHECK_STREQ(d->model_id, second->model_id);
        CHECK_STREQ(d->name, second->name);
        CHECK_STREQ(d->type, second->type);
        CHECK(d->accuracy == second->accuracy);
        CHECK_INTEQ(d->training_epochs, second->training_epochs);
        CHECK(d->performance && d->performance->prediction_accuracy == second->accuracy);
        CHECK(d->training_info && d->training_info->layers > 0 && d->training_info->batch_size > 0);
        CHECK(d->training_data_size > 0);
        CHECK(near_now(instant_ms(d->next_training_at), 86400000, 5000));
        CHECK(near_now(d->timestamp, 0, 5000));
    }
    result_free(&r);

    /* any other id answers too, as in the original: the default model's
     * details under the id asked for */
    gq.model_id = "no-such-model";
    CALL(ch, "AIOptimizationService", "GetModel", gq, aurigraph__v11__aimodel_details, &r);
    CHECK_INTEQ(r.code, GRPC_STATUS_OK);
    if (r.msg) {
        Aurigraph__V11__AIModelDetails *d = (void *)r.msg;
        CHECK_STREQ(d->model_id, "no-such-model");
        CHECK_STREQ(d->name, list->models[0]->name);
        CHECK(d->performance != NULL && d->training_info != NULL);
    }
    result_free(&r);
    gq.model_id = "";
    CALL(ch, "AIOptimizationService", "GetModel", gq, aurigraph__v11__aimodel_details, &r);
    CHECK_INTEQ(r.code, GRPC_STATUS_NOT_FOUND);
    result_free(&r);

    /* retrain: epochs as sent, 1000 when absent; the job done in an hour */
    rq.model_id = second->model_id;
    CALL(ch, "AIOptimizationService", "RetrainModel", rq, aurigraph__v11__retrain_model_response, &r);
    CHECK_INTEQ(r.code, GRPC_STATUS_OK);
    if (r.msg) {
        Aurigraph__V11__RetrainModelResponse *t = (void *)r.msg;
        CHECK_STREQ(t->status, "RETRAINING_INITIATED");
        CHECK_STREQ(t->model_id, second->model_id);
        CHECK_INTEQ(t->epochs, 1000);
        CHECK(strncmp(t->job_id, "retrain-job-", 12) == 0 && strlen(t->job_id) == 12 + 36);
        CHECK(near_now(instant_ms(t->estimated_completion), 3600000, 5000));
        CHECK(near_now(t->timestamp, 0, 5000));
    }
    result_free(&r);
    epochs.value = 5;
    rq.epochs = &epochs;
    CALL(ch, "AIOptimizationService", "RetrainModel", rq, aurigraph__v11__retrain_model_response, &r);
    CHECK_INTEQ(r.code, GRPC_STATUS_OK);
    CHECK(r.msg && ((Aurigraph__V11__RetrainModelResponse *)r.msg)->epochs == 5);
    result_free(&r);

    result_free(&l);
}

static void test_ai_model_metrics(grpc_channel *ch)
{
    Aurigraph__V11__GetModelMetricsRequest q = AURIGRAPH__V11__GET_MODEL_METRICS_REQUEST__INIT;
    struct result r;

    q.model_id = "tx-predictor-v2";
    CALL(ch, "AIOptimizationService", "GetModelMetrics", q, aurigraph__v11__aimodel_metrics_response, &r);
    CHECK_INTEQ(r.code, GRPC_STATUS_OK);
    if (r.msg) {
        Aurigraph__V11__AIModelMetricsResponse *m = (void *)r.msg;
        int32_t buckets = 0;
        CHECK_STREQ(m->period, "24h");
        CHECK_STREQ(m->model_name, "Transaction Volume Predictor");
        CHECK_STREQ(m->model_type, "PREDICTION");
        CHECK(in_range(m->accuracy, 96.5, 99.5) && in_range(m->cpu_usage, 45, 70));
        CHECK(in_range(m->total_predictions, 1500000, 2000000));
        CHECK_INTEQ(m->correct_predictions + m->incorrect_predictions, m->total_predictions);
        CHECK(m->correct_predictions == (int64_t)((double)m->total_predictions * m->accuracy / 100));
        CHECK_INTEQ(m->n_historical_metrics, 7);
        for (size_t i = 1; i < m->n_historical_metrics; i++)
            CHECK_INTEQ(m->historical_metrics[i]->date - m->historical_metrics[i - 1]->date, 86400000);
        for (size_t i = 0; i < m->n_confidence_distribution; i++)
            buckets += m->confidence_distribution[i]->value;
        CHECK_INTEQ(buckets, 100);
        CHECK_INTEQ(m->n_feature_importance, 5);
    }
    result_free(&r);

    q.model_id = "my-model";
    q.period = "7d";
    CALL(ch, "AIOptimizationService", "GetModelMetrics", q, aurigraph__v11__aimodel_metrics_response, &r);
    CHECK_INTEQ(r.code, GRPC_STATUS_OK);
    if (r.msg) {
        Aurigraph__V11__AIModelMetricsResponse *m = (void *)r.msg;
        CHECK_STREQ(m->period, "7d");
        CHECK_STREQ(m->model_name, "Unknown Model");
        CHECK_STREQ(m->model_type, "CLASSIFICATION");
    }
    result_free(&r);
}

static void test_ai_status(grpc_channel *ch)
{
    Aurigraph__V11__GetAIStatusRequest sq = AURIGRAPH__V11__GET_AISTATUS_REQUEST__INIT;
    Aurigraph__V11__GetAIMetricsRequest mq = AURIGRAPH__V11__GET_AIMETRICS_REQUEST__INIT;
    Aurigraph__V11__GetAIPredictionsRequest pq = AURIGRAPH__V11__GET_AIPREDICTIONS_REQUEST__INIT;
    Aurigraph__V11__GetConsensusPredictionsRequest cq_ =
        AURIGRAPH__V11__GET_CONSENSUS_PREDICTIONS_REQUEST__INIT;
    struct result r;

    CALL(ch, "AIOptimizationService", "GetStatus", sq, aurigraph__v11__aistatus_response, &r);
    CHECK_INTEQ(r.code, GRPC_STATUS_OK);
    if (r.msg) {
        Aurigraph__V11__AIStatusResponse *s = (void *)r.msg;
        CHECK_STREQ(s->system_status, "OPERATIONAL");
        CHECK(s->ai_enabled && s->ml_optimization_enabled);
        CHECK(s->total_models == 5 && s->active_models == 4);
        CHECK(in_range(s->average_model_accuracy, 50, 100));
        CHECK(s->performance_impact && s->resource_usage);
        CHECK(s->resource_usage && in_range(s->resource_usage->cpu_utilization, 0, 100));
        CHECK_INTEQ(s->n_health_indicators, 5);
        CHECK_INTEQ(s->n_recent_activities, 3);
        CHECK(near_now(s->timestamp, 0, 5000) && s->last_updated >= s->timestamp);
    }
    result_free(&r);

    CALL(ch, "AIOptimizationService", "GetMetrics", mq, aurigraph__v11__aimetrics_response, &r);
    CHECK_INTEQ(r.code, GRPC_STATUS_OK);
    if (r.msg) {
        Aurigraph__V11__AIMetricsResponse *m = (void *)r.msg;
        CHECK_STREQ(m->system_status, "OPTIMAL");
        CHECK(m->total_models == 5 && m->active_models == 4 && m->models_in_training == 0);
        CHECK(m->performance_impact && m->resource_usage && m->predictions_today > 0);
        CHECK(near_now(m->timestamp, 0, 5000));
    }
    result_free(&r);

    CALL(ch, "AIOptimizationService", "GetPredictions", pq, aurigraph__v11__aipredictions_response, &r);
    CHECK_INTEQ(r.code, GRPC_STATUS_OK);
    if (r.msg) {
        Aurigraph__V11__AIPredictionsResponse *p = (void *)r.msg;
        CHECK(p->next_block && near_now(instant_ms(p->next_block->predicted_block_time), 2000, 5000));
        CHECK(p->network_forecast && p->network_forecast->predicted_gas_price &&
              strcmp(p->network_forecast->predicted_gas_price->value, "1.2") == 0);
        CHECK(p->anomaly_detection && in_range(p->anomaly_detection->anomaly_score, 0, 1));
        CHECK(p->consensus_forecast && in_range(p->consensus_forecast->predicted_participation, 0, 100));
    }
    result_free(&r);

    CALL(ch, "AIOptimizationService", "GetConsensusPredictions", cq_,
         aurigraph__v11__consensus_predictions_response, &r);
    CHECK_INTEQ(r.code, GRPC_STATUS_OK);
    if (r.msg) {
        Aurigraph__V11__ConsensusPredictionsResponse *p = (void *)r.msg;
        double sum = 0;
        CHECK_STREQ(p->horizon, "1h");
        CHECK_INTEQ(p->total_predictions, (int32_t)p->n_predictions);
        CHECK_INTEQ(p->n_predictions, 5);
        for (size_t i = 0; i < p->n_predictions; i++) {
            Aurigraph__V11__AIPrediction *a = p->predictions[i];
            sum += a->confidence;
            CHECK(in_range(a->confidence, 80, 100));
            CHECK(a->n_confidence_interval == 2);
        }
        CHECK(p->n_predictions && near(p->average_confidence, sum / (double)p->n_predictions));
        CHECK(p->n_predictions && strstr(p->predictions[0]->description, "next 1h") != NULL);
    }
    result_free(&r);
    cq_.horizon = "6h";
    CALL(ch, "AIOptimizationService", "GetConsensusPredictions", cq_,
         aurigraph__v11__consensus_predictions_response, &r);
    CHECK_INTEQ(r.code, GRPC_STATUS_OK);
    CHECK(r.msg && strcmp(((Aurigraph__V11__ConsensusPredictionsResponse *)r.msg)->horizon, "6h") == 0);
    result_free(&r);
}

static void test_ai_optimize(grpc_channel *ch)
{
    Aurigraph__V11__OptimizeRequest oq = AURIGRAPH__V11__OPTIMIZE_REQUEST__INIT;
    Google__Protobuf__StringValue type = GOOGLE__PROTOBUF__STRING_VALUE__INIT;
    Google__Protobuf__StringValue metric = GOOGLE__PROTOBUF__STRING_VALUE__INIT;
    Google__Protobuf__Struct params = GOOGLE__PROTOBUF__STRUCT__INIT;
    struct result r;
    char want[48];

    /* nothing sent: the original's defaults */
    CALL(ch, "AIOptimizationService", "Optimize", oq, aurigraph__v11__optimize_response, &r);
    CHECK_INTEQ(r.code, GRPC_STATUS_OK);
    if (r.msg) {
        Aurigraph__V11__OptimizeResponse *o = (void *)r.msg;
        CHECK_STREQ(o->status, "SUBMITTED");
        CHECK_STREQ(o->optimization_type, "consensus");
        CHECK_STREQ(o->target_metric, "tps");
        CHECK_INTEQ(o->estimated_duration, 60000);
        CHECK(near_now(o->submitted_at, 0, 5000));
        snprintf(want, sizeof(want), "ai_opt_%lld", (long long)o->submitted_at);
        CHECK_STREQ(o->job_id, want);
    }
    result_free(&r);

    /* sent values are echoed, "" included */
    type.value = "latency";
    metric.value = "";
    oq.optimization_type = &type;
    oq.target_metric = &metric;
    oq.parameters = &params;
    CALL(ch, "AIOptimizationService", "Optimize", oq, aurigraph__v11__optimize_response, &r);
    CHECK_INTEQ(r.code, GRPC_STATUS_OK);
    if (r.msg) {
        Aurigraph__V11__OptimizeResponse *o = (void *)r.msg;
        CHECK_STREQ(o->optimization_type, "latency");
        CHECK_STREQ(o->target_metric, "");
    }
    result_free(&r);
}

static void test_ai_performance(grpc_channel *ch)
{
    Aurigraph__V11__GetAIPerformanceRequest pq = AURIGRAPH__V11__GET_AIPERFORMANCE_REQUEST__INIT;
    Aurigraph__V11__GetAIConfidenceRequest cq_ = AURIGRAPH__V11__GET_AICONFIDENCE_REQUEST__INIT;
    Aurigraph__V11__GetOptimizationMetricsRequest oq =
        AURIGRAPH__V11__GET_OPTIMIZATION_METRICS_REQUEST__INIT;
    struct result r;

    CALL(ch, "AIOptimizationService", "GetPerformance", pq,
         aurigraph__v11__aiperformance_metrics_response, &r);
    CHECK_INTEQ(r.code, GRPC_STATUS_OK);
    if (r.msg) {
        Aurigraph__V11__AIPerformanceMetricsResponse *p = (void *)r.msg;
        double acc = 0, f1 = 0;
        int64_t tput = 0;
        CHECK_INTEQ(p->n_models, 5);
        CHECK_INTEQ(p->total_models, (int32_t)p->n_models);
        for (size_t i = 0; i < p->n_models; i++) {
            acc += p->models[i]->accuracy;
            f1 += p->models[i]->f1_score;
            tput += p->models[i]->throughput;
            CHECK(instant_ms(p->models[i]->last_training_date) > 0);
        }
        CHECK(p->n_models && near(p->average_accuracy, acc / (double)p->n_models));
        CHECK(p->n_models && near(p->average_f1_score, f1 / (double)p->n_models));
        CHECK_INTEQ(p->total_throughput, tput);
        CHECK(p->response_time >= 0 && p->response_time < 1000);
    }
    result_free(&r);

    CALL(ch, "AIOptimizationService", "GetConfidence", cq_, aurigraph__v11__aiconfidence_response, &r);
    CHECK_INTEQ(r.code, GRPC_STATUS_OK);
    if (r.msg) {
        Aurigraph__V11__AIConfidenceResponse *c = (void *)r.msg;
        int32_t anomalies = 0;
        CHECK_INTEQ(c->n_predictions, 13);
        CHECK_INTEQ(c->total_predictions, (int32_t)c->n_predictions);
        for (size_t i = 0; i < c->n_predictions; i++) {
            Aurigraph__V11__PredictionConfidence *p = c->predictions[i];
            anomalies += p->is_anomaly;
            CHECK(in_range(p->confidence, 60, 99) && in_range(p->anomaly_score, 0, 1));
            CHECK(p->is_anomaly == (i >= 10 || p->anomaly_score > 0.25));
            CHECK(instant_ms(p->timestamp) > 0);
        }
        CHECK_INTEQ(c->anomalies_detected, anomalies);
        CHECK_INTEQ(c->high_confidence_predictions + c->medium_confidence_predictions +
                        c->low_confidence_predictions,
                    c->total_predictions);
        CHECK(c->low_confidence_predictions >= 3);
        CHECK(c->total_predictions && near(c->anomaly_detection_rate, anomalies * 100.0 / c->total_predictions));
    }
    result_free(&r);

    CALL(ch, "AIOptimizationService", "GetOptimizationMetrics", oq,
         aurigraph__v11__optimization_metrics_response, &r);
    CHECK_INTEQ(r.code, GRPC_STATUS_OK);
    if (r.msg) {
        Aurigraph__V11__OptimizationMetricsResponse *o = (void *)r.msg;
        CHECK(o->tps_metrics && o->tps_metrics->current_tps > o->tps_metrics->baseline_tps);
        CHECK(o->tps_metrics && in_range(o->tps_metrics->improvement, 138.40, 138.41));
        CHECK(o->tps_metrics && near(o->tps_metrics->target_achievement_percentage, 92.5));
        CHECK(o->ml_metrics && o->consensus_optimization && o->resource_efficiency && o->impact_analysis);
        CHECK_INTEQ(o->n_optimization_history, 24);
        for (size_t i = 1; i < o->n_optimization_history; i++)
            CHECK(instant_ms(o->optimization_history[i]->timestamp) <
                  instant_ms(o->optimization_history[i - 1]->timestamp));
        CHECK_INTEQ(o->n_recommendations, 3);
        CHECK_INTEQ(o->n_active_optimizations, 5);
        CHECK(near_now(instant_ms(o->next_optimization_scheduled), 5400000, 5000));
    }
    result_free(&r);
}

static void test_ai(grpc_channel *ch)
{
    test_ai_models(ch);
    test_ai_model_metrics(ch);
    test_ai_status(ch);
    test_ai_optimize(ch);
    test_ai_performance(ch);
}

/* --- CrossChainBridgeService ----------------------------------------------- */

static Aurigraph__V11__BridgeStats *bridge_stats(grpc_channel *ch, struct result *r)
{
    Aurigraph__V11__GetBridgeStatsRequest sq = AURIGRAPH__V11__GET_BRIDGE_STATS_REQUEST__INIT;
    CALL(ch, "CrossChainBridgeService", "GetBridgeStats", sq, aurigraph__v11__bridge_stats, r);
    CHECK_INTEQ(r->code, GRPC_STATUS_OK);
    return (void *)r->msg;
}

/* InitiateTransfer with these fields (NULL: not sent); the status. */
static grpc_status_code transfer(grpc_channel *ch, const char *src, const char *dst, const char *amount,
                                 char *details, size_t n)
{
    Aurigraph__V11__InitiateTransferRequest q = AURIGRAPH__V11__INITIATE_TRANSFER_REQUEST__INIT;
    Google__Protobuf__StringValue s = GOOGLE__PROTOBUF__STRING_VALUE__INIT;
    Google__Protobuf__StringValue t = GOOGLE__PROTOBUF__STRING_VALUE__INIT;
    Google__Protobuf__StringValue asset = GOOGLE__PROTOBUF__STRING_VALUE__INIT;
    Google__Type__Decimal a = GOOGLE__TYPE__DECIMAL__INIT;
    struct result r;
    grpc_status_code code;

    s.value = (char *)src;
    t.value = (char *)dst;
    a.value = (char *)amount;
    asset.value = "USDC";
    q.source_chain = src ? &s : NULL;
    q.target_chain = dst ? &t : NULL;
    q.amount = amount ? &a : NULL;
    q.asset = &asset;
    CALL(ch, "CrossChainBridgeService", "InitiateTransfer", q, aurigraph__v11__initiate_transfer_response, &r);
    code = r.code;
    if (details)
        snprintf(details, n, "%s", r.details);
    if (r.msg) {
        Aurigraph__V11__InitiateTransferResponse *t2 = (void *)r.msg;
        char want[48];
        CHECK_STREQ(t2->status, "INITIATED");
        CHECK_STREQ(t2->source_chain, src);
        CHECK_STREQ(t2->target_chain, dst);
        CHECK(near_now(t2->timestamp, 0, 5000));
        snprintf(want, sizeof(want), "bridge_%lld", (long long)t2->timestamp);
        CHECK_STREQ(t2->transfer_id, want);
    }
    result_free(&r);
    return code;
}

static void test_bridge_transfers(grpc_channel *ch)
{
    struct result r;
    Aurigraph__V11__BridgeStats *s;
    char details[512];
    int64_t end, first;

    s = bridge_stats(ch, &r);
    CHECK(s != NULL);
    if (s) {
        CHECK_INTEQ(s->total_transactions, 0);
        CHECK_INTEQ(s->pending_transactions, 0);
        CHECK(s->success_rate == 100.0 && s->average_time == 45.0);
        CHECK(s->total_volume && strcmp(s->total_volume->value, "0") == 0);
        /* the fields the original's service never sets stay null */
        CHECK(!s->total_fees && !s->average_fee && !s->unique_addresses && !s->supported_chains &&
              !s->active_validators && !s->total_liquidity && !s->chain_stats && !s->timestamp);
    }
    result_free(&r);

    first = now_ms();
    CHECK_INTEQ(transfer(ch, "ethereum", "aurigraph", "250.00", NULL, 0), GRPC_STATUS_OK);
    CHECK_INTEQ(transfer(ch, "", "polygon", "0.5", NULL, 0), GRPC_STATUS_OK); /* "" is a value */
    CHECK_INTEQ(transfer(ch, "bsc", "solana", NULL, NULL, 0), GRPC_STATUS_OK);  /* no amount */

    CHECK_INTEQ(transfer(ch, NULL, "polygon", "1", details, sizeof(details)), GRPC_STATUS_INVALID_ARGUMENT);
    CHECK_STREQ(details, "sourceChain is required");
    CHECK_INTEQ(transfer(ch, "ethereum", NULL, "1", details, sizeof(details)), GRPC_STATUS_INVALID_ARGUMENT);
    CHECK_STREQ(details, "targetChain is required");
    CHECK_INTEQ(transfer(ch, "ethereum", "bsc", "-5", details, sizeof(details)), GRPC_STATUS_INVALID_ARGUMENT);
    CHECK_STREQ(details, "Bridge amount must be positive");
    CHECK_INTEQ(transfer(ch, "ethereum", "bsc", "0.00", details, sizeof(details)), GRPC_STATUS_INVALID_ARGUMENT);
    CHECK_STREQ(details, "Bridge amount must be positive");
    CHECK_INTEQ(transfer(ch, "ethereum", "bsc", "1e3", details, sizeof(details)), GRPC_STATUS_INVALID_ARGUMENT);
    CHECK(strstr(details, "amount") != NULL);

    /* counted at once, pending until processed (2 to 5 s) */
    s = bridge_stats(ch, &r);
    if (s) {
        CHECK_INTEQ(s->total_transactions, 3);
        CHECK_INTEQ(s->total_transactions24h, 3);
        CHECK(s->pending_transactions <= 3);
        /* the first completes 2 s after it was made at the earliest */
        if (now_ms() - first < 1900)
            CHECK(s->pending_transactions == 3 && s->success_rate == 0.0);
    }
    result_free(&r);

    /* then completed, the volume summed with BigDecimal's scale */
    end = now_ms() + 8000;
    for (;;) {
        s = bridge_stats(ch, &r);
        if (!s || s->pending_transactions == 0 || now_ms() > end)
            break;
        result_free(&r);
        usleep(100000);
    }
    CHECK(s != NULL);
    if (s) {
        CHECK_INTEQ(s->pending_transactions, 0);
        CHECK_INTEQ(s->failed_transactions, 0);
        CHECK(s->success_rate == 100.0 && s->success_rate24h == 100.0);
        CHECK(s->total_volume && strcmp(s->total_volume->value, "250.50") == 0);
        CHECK(s->total_volume24h && strcmp(s->total_volume24h->value, "250.50") == 0);
    }
    result_free(&r);
}

static void test_bridge_chains(grpc_channel *ch)
{
    Aurigraph__V11__ListSupportedChainsRequest sq = AURIGRAPH__V11__LIST_SUPPORTED_CHAINS_REQUEST__INIT;
    Aurigraph__V11__ListChainsRequest lq = AURIGRAPH__V11__LIST_CHAINS_REQUEST__INIT;
    struct result r;

    CALL(ch, "CrossChainBridgeService", "ListSupportedChains", sq,
         aurigraph__v11__supported_chains_response, &r);
    CHECK_INTEQ(r.code, GRPC_STATUS_OK);
    if (r.msg) {
        Aurigraph__V11__SupportedChainsResponse *l = (void *)r.msg;
        int32_t active = 0, beta = 0, has_eth = 0;
        CHECK_INTEQ(l->total_chains, (int32_t)l->n_chains);
        CHECK_INTEQ(l->n_chains, 8);
        for (size_t i = 0; i < l->n_chains; i++) {
            Aurigraph__V11__SupportedChain *c = l->chains[i];
            active += strcmp(c->status, "ACTIVE") == 0;
            beta += strcmp(c->status, "BETA") == 0;
            has_eth |= strcmp(c->chain_id, "ethereum") == 0 && c->confirmations_required == 12;
            CHECK(c->native_currency && c->native_currency->decimals > 0);
            CHECK(c->n_capabilities >= 3 && c->n_supported_assets >= 3);
            CHECK(c->average_block_time > 0);
        }
        CHECK(has_eth);
        CHECK_INTEQ(l->active_chains, active);
        CHECK_INTEQ(l->beta_chains, beta);
        CHECK(active == 7 && beta == 1);
        CHECK_STREQ(l->bridge_version, "12.0.0");
        CHECK(near_now(l->last_updated, 0, 5000));
    }
    result_free(&r);

    CALL(ch, "CrossChainBridgeService", "ListChains", lq, aurigraph__v11__chains_list, &r);
    CHECK_INTEQ(r.code, GRPC_STATUS_OK);
    if (r.msg) {
        Aurigraph__V11__ChainsList *l = (void *)r.msg;
        CHECK_INTEQ(l->n_chains, 4);
        CHECK_INTEQ(l->total_chains, (int32_t)l->n_chains);
        for (size_t i = 0; i < l->n_chains; i++)
            CHECK(l->chains[i]->chain_id[0] && strncmp(l->chains[i]->explorer_url, "https://", 8) == 0);
    }
    result_free(&r);
}

static void test_bridge_validate(grpc_channel *ch)
{
    Aurigraph__V11__ValidateBridgeTransactionRequest q =
        AURIGRAPH__V11__VALIDATE_BRIDGE_TRANSACTION_REQUEST__INIT;
    Google__Protobuf__StringValue hash = GOOGLE__PROTOBUF__STRING_VALUE__INIT;
    Google__Protobuf__StringValue amount = GOOGLE__PROTOBUF__STRING_VALUE__INIT;
    struct result r;

    hash.value = "0xabc";
    amount.value = "12.50";
    q.transaction_hash = &hash;
    q.amount = &amount;
    CALL(ch, "CrossChainBridgeService", "ValidateBridgeTransaction", q,
         aurigraph__v11__validate_bridge_transaction_response, &r);
    CHECK_INTEQ(r.code, GRPC_STATUS_OK);
    if (r.msg) {
        Aurigraph__V11__ValidateBridgeTransactionResponse *v = (void *)r.msg;
        CHECK(v->is_valid);
        CHECK_STREQ(v->validation_status, "PASSED");
        CHECK(v->transaction_hash && strcmp(v->transaction_hash->value, "0xabc") == 0);
        CHECK(v->amount && strcmp(v->amount->value, "12.50") == 0);
        /* what was not sent echoes as null */
        CHECK(v->source_chain == NULL && v->target_chain == NULL);
        CHECK_INTEQ(v->n_warnings, 0);
        CHECK(near_now(v->timestamp, 0, 5000));
    }
    result_free(&r);
}

static void test_bridge_status(grpc_channel *ch)
{
    Aurigraph__V11__GetBridgeStatusRequest q = AURIGRAPH__V11__GET_BRIDGE_STATUS_REQUEST__INIT;
    struct result r;

    CALL(ch, "CrossChainBridgeService", "GetBridgeStatus", q, aurigraph__v11__bridge_status, &r);
    CHECK_INTEQ(r.code, GRPC_STATUS_OK);
    if (r.msg) {
        Aurigraph__V11__BridgeStatus *s = (void *)r.msg;
        size_t want_alerts = 0;
        int64_t dist = 0;
        CHECK_STREQ(s->overall_status, "healthy");
        CHECK(near_now(instant_ms(s->timestamp), 0, 5000));
        CHECK_INTEQ(s->n_bridges, 4);
        for (size_t i = 0; i < s->n_bridges; i++) {
            Aurigraph__V11__ChainBridge *b = s->bridges[i];
            CHECK_STREQ(b->status, "active");
            CHECK_STREQ(b->source_chain, "Aurigraph");
            CHECK(b->health && in_range(b->health->success_rate, 0.998, 1.0));
            CHECK(b->health && in_range(b->health->average_latency_ms, 15000, 25000));
            CHECK(b->capacity && in_range(b->capacity->utilization_percent, 10, 40));
            CHECK(b->capacity && b->capacity->available_liquidity_usd < b->capacity->total_locked_value_usd);
            CHECK(near_now(instant_ms(b->last_transfer), -150000, 155000));
            if (b->health)
                want_alerts += (b->health->stuck_transfers > 0) + (b->health->pending_transfers > 30);
        }
        CHECK_INTEQ(s->n_alerts, want_alerts);
        for (size_t i = 0; i < s->n_alerts; i++)
            CHECK(strncmp(s->alerts[i]->alert_id, "alert-", 6) == 0 && !s->alerts[i]->acknowledged);
        CHECK(s->statistics && s->statistics->total_bridges == 4 && s->statistics->active_bridges == 4);
        if (s->statistics) {
            CHECK(in_range(s->statistics->total_transfers, 50000, 60000));
            CHECK(in_range(s->statistics->total_volume_usd, 150e6, 200e6));
            for (size_t i = 0; i < s->statistics->n_chain_distribution; i++)
                dist += s->statistics->chain_distribution[i]->value;
            CHECK(dist <= s->statistics->total_transfers && dist > s->statistics->total_transfers - 4);
        }
        CHECK(s->performance && s->performance->gas_efficiency);
        CHECK(s->performance && in_range(s->performance->fastest_transfer_seconds, 8, 12));
    }
    result_free(&r);
}

static void test_bridge(grpc_channel *ch)
{
    test_bridge_transfers(ch);
    test_bridge_chains(ch);
    test_bridge_validate(ch);
    test_bridge_status(ch);
}

/* --- flags --------------------------------------------------------------- */

static grpc_channel *connect_to(const char *addr)
{
    grpc_channel_credentials *creds = grpc_insecure_credentials_create();
    grpc_channel *ch = grpc_channel_create(addr, creds, NULL);
    grpc_channel_credentials_release(creds);
    return ch;
}

static void test_faults(void)
{
    const char *flags[] = {"--fail-rate", "1", "--fail-code", "5", "--version-tag", "v2-canary",
                           NULL};
    Aurigraph__V11__GetConsensusStatusRequest sq = AURIGRAPH__V11__GET_CONSENSUS_STATUS_REQUEST__INIT;
    Grpc__Health__V1__HealthCheckRequest hq = GRPC__HEALTH__V1__HEALTH_CHECK_REQUEST__INIT;
    struct server s;
    struct stream_call st;
    struct result r;
    grpc_channel *ch;

    CHECK(server_start(&s, flags) == 0);
    if (s.addr[0] == '\0')
        return;
    ch = connect_to(s.addr);
    for (int i = 0; i < 3; i++) {
        CALL(ch, "ConsensusService", "GetConsensusStatus", sq, aurigraph__v11__consensus_status, &r);
        CHECK_INTEQ(r.code, GRPC_STATUS_NOT_FOUND);
        CHECK_STREQ(r.details, "injected failure");
        CHECK_STREQ(r.version_tag, "v2-canary");
        result_free(&r);
    }
    /* health is exempt: a probe must see the server as it is */
    unary(ch, "/grpc.health.v1.Health/Check", &hq.base,
          &grpc__health__v1__health_check_response__descriptor, &r);
    CHECK_INTEQ(r.code, GRPC_STATUS_OK);
    CHECK_STREQ(r.version_tag, "v2-canary");
    result_free(&r);
    /* a stream fails the same way */
    if (stream_open(ch, &st, "")) {
        CHECK(stream_next(&st) == NULL);
        CHECK_INTEQ(stream_finish(&st, 0), GRPC_STATUS_NOT_FOUND);
    } else {
        CHECK(0);
        stream_finish(&st, 1);
    }
    grpc_channel_destroy(ch);
    CHECK_INTEQ(server_stop(&s), 0);
}

static void test_latency(void)
{
    /* several pollers: the delayed replies are scheduled across threads */
    const char *flags[] = {"--latency-ms", "200", "--threads", "3", NULL};
    Aurigraph__V11__GetConsensusStatusRequest sq = AURIGRAPH__V11__GET_CONSENSUS_STATUS_REQUEST__INIT;
    grpc_byte_buffer *send = pack(&sq.base);
    struct server s;
    grpc_channel *ch;
    enum { N = 10 };
    struct {
        grpc_call *call;
        grpc_metadata_array init_md, trail_md;
        grpc_byte_buffer *recv;
        grpc_status_code code;
        grpc_slice details;
    } c[N];
    grpc_completion_queue *ncq = grpc_completion_queue_create_for_next(NULL);
    int64_t t0;
    int done = 0, ok = 0;

    CHECK(server_start(&s, flags) == 0);
    if (s.addr[0] == '\0')
        goto out;
    ch = connect_to(s.addr);
    {
        /* warm the connection so the timing below is only the delay */
        Grpc__Health__V1__HealthCheckRequest hq = GRPC__HEALTH__V1__HEALTH_CHECK_REQUEST__INIT;
        struct result r;
        unary(ch, "/grpc.health.v1.Health/Check", &hq.base,
              &grpc__health__v1__health_check_response__descriptor, &r);
        CHECK_INTEQ(r.code, GRPC_STATUS_OK);
        result_free(&r);
    }
    /* N delayed calls at once: they overlap rather than queue */
    t0 = now_ms();
    for (int i = 0; i < N; i++) {
        grpc_slice m = grpc_slice_from_static_string("/aurigraph.v11.ConsensusService/GetConsensusStatus");
        grpc_op ops[6];
        memset(ops, 0, sizeof(ops));
        c[i].call = grpc_channel_create_call(ch, NULL, GRPC_PROPAGATE_DEFAULTS, ncq, m, NULL,
                                             deadline_in(WAIT_MS), NULL);
        grpc_slice_unref(m);
        grpc_metadata_array_init(&c[i].init_md);
        grpc_metadata_array_init(&c[i].trail_md);
        c[i].recv = NULL;
        c[i].details = grpc_empty_slice();
        ops[0].op = GRPC_OP_SEND_INITIAL_METADATA;
        ops[1].op = GRPC_OP_SEND_MESSAGE;
        ops[1].data.send_message.send_message = send;
        ops[2].op = GRPC_OP_SEND_CLOSE_FROM_CLIENT;
        ops[3].op = GRPC_OP_RECV_INITIAL_METADATA;
        ops[3].data.recv_initial_metadata.recv_initial_metadata = &c[i].init_md;
        ops[4].op = GRPC_OP_RECV_MESSAGE;
        ops[4].data.recv_message.recv_message = &c[i].recv;
        ops[5].op = GRPC_OP_RECV_STATUS_ON_CLIENT;
        ops[5].data.recv_status_on_client.trailing_metadata = &c[i].trail_md;
        ops[5].data.recv_status_on_client.status = &c[i].code;
        ops[5].data.recv_status_on_client.status_details = &c[i].details;
        grpc_call_start_batch(c[i].call, ops, 6, &c[i], NULL);
    }
    while (done < N) {
        grpc_event ev = grpc_completion_queue_next(ncq, deadline_in(WAIT_MS + 1000), NULL);
        if (ev.type != GRPC_OP_COMPLETE)
            break;
        done++;
    }
    int64_t elapsed = now_ms() - t0;
    CHECK_INTEQ(done, N);
    for (int i = 0; i < N; i++) {
        ok += done == N && c[i].code == GRPC_STATUS_OK && c[i].recv != NULL;
        if (c[i].recv)
            grpc_byte_buffer_destroy(c[i].recv);
        grpc_slice_unref(c[i].details);
        grpc_metadata_array_destroy(&c[i].init_md);
        grpc_metadata_array_destroy(&c[i].trail_md);
        grpc_call_unref(c[i].call);
    }
    CHECK_INTEQ(ok, N);
    if (getenv("VERBOSE"))
        fprintf(stderr, "  %d calls with --latency-ms 200 took %lld ms\n", N, (long long)elapsed);
    CHECK(elapsed >= 190);
    CHECK(elapsed < 200 * N / 2); /* serialised they would take 2 s */
    grpc_channel_destroy(ch);
    CHECK_INTEQ(server_stop(&s), 0);
out:
    grpc_byte_buffer_destroy(send);
    grpc_completion_queue_shutdown(ncq);
    while (grpc_completion_queue_next(ncq, deadline_in(WAIT_MS), NULL).type != GRPC_QUEUE_SHUTDOWN)
        ;
    grpc_completion_queue_destroy(ncq);
}

static void test_cli(const char *taken_addr)
{
    const char *bad_rate[] = {"--fail-rate", "2", NULL};
    const char *bad_flag[] = {"--frobnicate", NULL};
    const char *taken[] = {"--listen", taken_addr, NULL};
    const char *help[] = {"--help", NULL};
    int fd;
    pid_t p;

    p = spawn(bad_rate, &fd, 1);
    CHECK_INTEQ(wait_exit(p), 2);
    close(fd);
    p = spawn(bad_flag, &fd, 1);
    CHECK_INTEQ(wait_exit(p), 2);
    close(fd);
    p = spawn(help, &fd, 1);
    CHECK_INTEQ(wait_exit(p), 0);
    close(fd);
    /* a port already served must be an error, not silently shared */
    p = spawn(taken, &fd, 1);
    CHECK_INTEQ(wait_exit(p), 1);
    close(fd);
}

int main(void)
{
    struct server s;
    grpc_channel *ch;
    struct stream_call open_stream;
    int stream_ok;

    signal(SIGPIPE, SIG_IGN);
    grpc_init();
    cq = grpc_completion_queue_create_for_pluck(NULL);

    if (server_start(&s, NULL) != 0) {
        CHECK(0);
    } else {
        ch = connect_to(s.addr);
        test_health(ch);
        test_transactions(ch);
        test_stream(ch);
        test_crypto(ch);
        test_consensus(ch);
        test_ai(ch);
        test_bridge(ch);
        test_cli(s.addr);

        /* SIGTERM with a stream open: the server cancels it and exits 0 */
        stream_ok = stream_open(ch, &open_stream, "");
        CHECK(stream_ok);
        CHECK_INTEQ(server_stop(&s), 0);
        {
            grpc_status_code code = stream_finish(&open_stream, !stream_ok);
            CHECK(code == GRPC_STATUS_CANCELLED || code == GRPC_STATUS_UNAVAILABLE);
        }
        grpc_channel_destroy(ch);
    }
    test_faults();
    test_latency();

    grpc_completion_queue_shutdown(cq);
    while (grpc_completion_queue_pluck(cq, NULL, deadline_in(WAIT_MS), NULL).type !=
           GRPC_QUEUE_SHUTDOWN)
        ;
    grpc_completion_queue_destroy(cq);
    grpc_shutdown_blocking();
    return test_summary();
}
