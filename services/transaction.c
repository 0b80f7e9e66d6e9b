/*
 * transaction.c: TransactionService, as the original platform's
 * TransactionResource + TransactionService + Transaction entity behave
 * (proto/README.md, "TransactionService"): submission with the entity's
 * column rules, lookup, confirm and finalize (no state checks: the
 * original has none), the pending pool, per-user listings, the pending
 * counter; plus this gateway's two extensions, batch submission and a
 * server stream of lifecycle events.
 *
 * The original keeps transactions in a PostgreSQL table whose amount,
 * gas_price and total_fee are NUMERIC(38,18): what a read returns is the
 * stored value, rounded to 18 fraction digits, while the submit answer is
 * the entity as built in Java (the request's BigDecimal, the fee as
 * computed). Both forms are kept here the same way (bigdec.h).
 *
 * Transactions live in memory for the life of the process: an array owns
 * them, a hash index finds them by tx_hash, each user's transactions are
 * chained oldest first, and the pending pool is a doubly linked list in
 * submission (id) order, so confirming is O(1) and listings keep the order
 * the original's table scan gives.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "aurigraph/v11/transaction.pb-c.h"
#include "bigdec.h"
#include "google/protobuf/wrappers.pb-c.h"
#include "google/type/decimal.pb-c.h"
#include "svc.h"

#define VARCHAR_MAX 255           /* the table's VARCHAR(255) columns */
#define NUMERIC_PRECISION 38      /* amount, gas_price, total_fee: NUMERIC(38,18) */
#define NUMERIC_SCALE 18
#define DECIMAL_MAX_TEXT 1000     /* characters of one decimal in a request */
#define MAX_BATCH 10000
#define SNAPSHOT_MAX 100          /* pending transactions replayed to a new stream */
/* ~500 bytes each: bounds the memory a long benchmark can make us hold */
#define MAX_TRANSACTIONS 1000000

/* Transaction.TransactionStatus, in the original's order. */
enum { ST_PENDING, ST_VALIDATING, ST_CONFIRMED, ST_FINALIZED, ST_FAILED, ST_CANCELLED, ST_REJECTED, N_STATUS };
static const char *const status_names[N_STATUS] = {
    "PENDING", "VALIDATING", "CONFIRMED", "FINALIZED", "FAILED", "CANCELLED", "REJECTED",
};

typedef Aurigraph__V11__Transaction PbTx;
typedef Aurigraph__V11__SubmitTransactionRequest SubmitReq;

struct tx {
    int64_t id;
    char *hash, *user, *from;
    char *to;                     /* NULL: null (the column is nullable) */
    char *amount, *fee;           /* as stored: NUMERIC(38,18), BigDecimal.toString() */
    int type, status;
    int has_block;
    int64_t block_number;
    int32_t confirmations;
    int64_t created_us, confirmed_us, finalized_us; /* 0: null */
    struct tx *user_next;
    struct tx *pend_prev, *pend_next;
};

struct user {
    char *id;
    struct tx *first, *last;
    size_t count;
};

struct sub {
    struct stream *s;
    char *user;                   /* NULL: any */
    int status;                   /* -1: any */
    int type;                     /* 0: any */
};

static struct {
    struct tx **items;
    size_t len, cap;
    struct strmap by_hash, by_user;
    struct user **users;
    size_t n_users, users_cap;
    struct tx *pend_head, *pend_tail;
    int64_t pending;
    int64_t seq;
    struct sub *subs;
    size_t n_subs, subs_cap;
    int64_t batches;
} T;

static int valid_type(int t)
{
    return t >= AURIGRAPH__V11__TRANSACTION_TYPE__TRANSFER && t <= AURIGRAPH__V11__TRANSACTION_TYPE__INTERNAL;
}

static const char *type_name(int t)
{
    const ProtobufCEnumValue *v =
        protobuf_c_enum_descriptor_get_value(&aurigraph__v11__transaction_type__descriptor, t);
    return v ? v->name : "";
}

static int64_t now_us(void)
{
    /* the original's timestamps come back from TIMESTAMP columns: microseconds */
    return now_realtime_ns() / 1000;
}

void transaction_cleanup(void)
{
    for (size_t i = 0; i < T.len; i++) {
        struct tx *t = T.items[i];
        free(t->hash);
        free(t->user);
        free(t->from);
        free(t->to);
        free(t->amount);
        free(t->fee);
        free(t);
    }
    for (size_t i = 0; i < T.n_users; i++) {
        free(T.users[i]->id);
        free(T.users[i]);
    }
    for (size_t i = 0; i < T.n_subs; i++)
        free(T.subs[i].user);
    free(T.items);
    free(T.users);
    free(T.subs);
    strmap_free(&T.by_hash);
    strmap_free(&T.by_user);
    memset(&T, 0, sizeof(T));
}

/* --- protobuf views ------------------------------------------------------ */

struct pbtx {
    PbTx m;
    Google__Protobuf__StringValue to;
    Google__Type__Decimal amount, fee;
    Google__Protobuf__Int64Value block;
    Google__Protobuf__Timestamp created, confirmed, finalized;
};

static void ts_from_us(Google__Protobuf__Timestamp *ts, int64_t us)
{
    timestamp_set(ts, us * 1000);
}

/* Fills v with pointers into t (valid until t changes). amount / fee, when
 * not NULL, replace the stored forms: the submit answer's Java values. */
static void to_pb(struct pbtx *v, const struct tx *t, const char *amount, const char *fee)
{
    PbTx *m = &v->m;

    aurigraph__v11__transaction__init(m);
    m->id = t->id;
    m->tx_hash = t->hash;
    m->user_id = t->user;
    m->from_address = t->from;
    if (t->to) {
        google__protobuf__string_value__init(&v->to);
        v->to.value = t->to;
        m->to_address = &v->to;
    }
    google__type__decimal__init(&v->amount);
    v->amount.value = (char *)(amount ? amount : t->amount);
    m->amount = &v->amount;
    m->status = (char *)status_names[t->status];
    m->transaction_type = (char *)type_name(t->type);
    google__type__decimal__init(&v->fee);
    v->fee.value = (char *)(fee ? fee : t->fee);
    m->total_fee = &v->fee;
    if (t->has_block) {
        google__protobuf__int64_value__init(&v->block);
        v->block.value = t->block_number;
        m->block_number = &v->block;
    }
    m->confirmation_count = t->confirmations;
    /* finality_time_ms stays null: the original measures it from
     * submittedAt, which only its validation step (no route) sets */
    ts_from_us(&v->created, t->created_us);
    m->created_at = &v->created;
    if (t->confirmed_us) {
        ts_from_us(&v->confirmed, t->confirmed_us);
        m->confirmed_at = &v->confirmed;
    }
    if (t->finalized_us) {
        ts_from_us(&v->finalized, t->finalized_us);
        m->finalized_at = &v->finalized;
    }
}

/* The transactions of a list response. The views point into themselves
 * (wrappers, timestamps), so their array is sized once, never moved. */
struct list {
    struct pbtx *views;
    PbTx **ptrs;
    size_t n, cap;
};

static void list_init(struct list *l, size_t cap)
{
    l->views = xcalloc(cap ? cap : 1, sizeof(*l->views));
    l->ptrs = xcalloc(cap ? cap : 1, sizeof(*l->ptrs));
    l->n = 0;
    l->cap = cap;
}

static void list_add(struct list *l, const struct tx *t)
{
    if (l->n == l->cap)
        abort(); /* sized by the caller's count: a miscount is a bug */
    to_pb(&l->views[l->n], t, NULL, NULL);
    l->ptrs[l->n] = &l->views[l->n].m;
    l->n++;
}

static void list_free(struct list *l)
{
    free(l->views);
    free(l->ptrs);
}

/* --- events -------------------------------------------------------------- */

static int sub_matches(const struct sub *s, const struct tx *t)
{
    return (!s->user || strcmp(s->user, t->user) == 0) && (s->status < 0 || s->status == t->status) &&
           (!s->type || s->type == t->type);
}

static grpc_slice pack_event(const char *type, const struct tx *t, int64_t when_us)
{
    Aurigraph__V11__TransactionEvent ev = AURIGRAPH__V11__TRANSACTION_EVENT__INIT;
    Google__Protobuf__Timestamp ts;
    struct pbtx v;

    to_pb(&v, t, NULL, NULL);
    ev.event_type = (char *)type;
    ev.transaction = &v.m;
    ts_from_us(&ts, when_us);
    ev.timestamp = &ts;
    return pb_pack(&ev.base);
}

static void publish(const char *type, const struct tx *t)
{
    grpc_slice msg;
    int packed = 0;

    for (size_t i = 0; i < T.n_subs; i++) {
        if (!sub_matches(&T.subs[i], t))
            continue;
        if (!packed) { /* once, then shared by reference */
            msg = pack_event(type, t, now_us());
            packed = 1;
        }
        stream_send(T.subs[i].s, msg);
    }
    if (packed)
        grpc_slice_unref(msg);
}

/* --- submission ---------------------------------------------------------- */

static void hash_field(EVP_MD_CTX *md, const void *p, size_t n)
{
    unsigned char len[8];
    /* length-prefixed so ("ab","c") and ("a","bc") hash differently */
    for (int i = 0; i < 8; i++)
        len[i] = (unsigned char)((uint64_t)n >> (56 - 8 * i));
    EVP_DigestUpdate(md, len, sizeof(len));
    EVP_DigestUpdate(md, p, n);
}

/* A nullable string: a presence byte first, so null and "" differ. */
static void hash_opt(EVP_MD_CTX *md, const char *s)
{
    unsigned char present = s != NULL;
    EVP_DigestUpdate(md, &present, 1);
    if (s)
        hash_field(md, s, strlen(s));
}

static const char *sv(const Google__Protobuf__StringValue *v) { return v ? v->value : NULL; }
static const char *dv(const Google__Type__Decimal *v) { return v ? v->value : NULL; }

/* "0x" + 64 hex digits. The original means this too but takes
 * substring(0, 64) of a 32-character UUID, which throws on every submit;
 * here it is SHA-256 of the request, a per-process sequence number and the
 * time, so identical submissions still get distinct hashes. */
static char *tx_hash(const SubmitReq *req, int64_t seq, int64_t now)
{
    unsigned char digest[32];
    unsigned int dlen = 0;
    char num[64];
    char *out = xmalloc(2 + 64 + 1);
    EVP_MD_CTX *md = EVP_MD_CTX_new();

    if (!md)
        abort();
    EVP_DigestInit_ex(md, EVP_sha256(), NULL);
    hash_opt(md, "aurigraph.v11.Transaction");
    snprintf(num, sizeof(num), "%lld/%lld/%d", (long long)seq, (long long)now, (int)req->transaction_type);
    hash_opt(md, num);
    hash_opt(md, sv(req->user_id));
    hash_opt(md, sv(req->from_address));
    hash_opt(md, sv(req->to_address));
    hash_opt(md, dv(req->amount));
    if (req->gas_limit) {
        snprintf(num, sizeof(num), "%lld", (long long)req->gas_limit->value);
        hash_opt(md, num);
    } else {
        hash_opt(md, NULL);
    }
    hash_opt(md, dv(req->gas_price));
    hash_opt(md, sv(req->data));
    EVP_DigestFinal_ex(md, digest, &dlen);
    EVP_MD_CTX_free(md);

    out[0] = '0';
    out[1] = 'x';
    hex_encode(out + 2, digest, sizeof(digest));
    return out;
}

/* Characters, as VARCHAR(n) counts them (UTF-8: the non-continuation bytes). */
static size_t utf8_chars(const char *s)
{
    size_t n = 0;
    for (; *s; s++)
        n += ((unsigned char)*s & 0xC0) != 0x80;
    return n;
}

/* A submission checked and computed: what the entity would hold. */
struct checked {
    struct bigdec amount, fee;            /* the Java values (sign 0 + NULL digits: null) */
    char *amount_db, *fee_db;             /* as the NUMERIC(38,18) columns return them */
};

static void checked_free(struct checked *c)
{
    bigdec_free(&c->amount);
    bigdec_free(&c->fee);
    free(c->amount_db);
    free(c->fee_db);
    memset(c, 0, sizeof(*c));
}

static int varchar_ok(struct reply *r, const char *json_name, const char *s)
{
    if (s && utf8_chars(s) > VARCHAR_MAX) {
        reply_error(r, GRPC_STATUS_INVALID_ARGUMENT, "%s: value too long for type character varying(%d)",
                    json_name, VARCHAR_MAX);
        return 0;
    }
    return 1;
}

/* The stored form of v, or NULL with the reply set (the value does not fit). */
static char *numeric_or_error(struct reply *r, const char *json_name, const struct bigdec *v)
{
    struct bigdec st;
    char *s;

    if (bigdec_to_numeric(&st, v, NUMERIC_PRECISION, NUMERIC_SCALE) != 0) {
        reply_error(r, GRPC_STATUS_INVALID_ARGUMENT,
                    "%s: numeric field overflow (NUMERIC(%d,%d) holds absolute values below 10^%d)", json_name,
                    NUMERIC_PRECISION, NUMERIC_SCALE, NUMERIC_PRECISION - NUMERIC_SCALE);
        return NULL;
    }
    s = bigdec_string(&st);
    bigdec_free(&st);
    return s;
}

static int not_null(struct reply *r, const char *column, int present)
{
    if (!present)
        reply_error(r, GRPC_STATUS_INVALID_ARGUMENT,
                    "null value in column \"%s\" of relation \"transaction\" violates not-null constraint", column);
    return present;
}

/* Checks req as the original's submit path would fail on it, in its order,
 * and computes the fee. 0 with c filled; -1 with the reply set (an
 * INVALID_ARGUMENT: the resource answers every failure 400). */
static int check_submit(const SubmitReq *req, struct checked *c, struct reply *r)
{
    struct bigdec price = {0}, limit = {0}, milli = {0};
    const char *amount = dv(req->amount), *gas_price = dv(req->gas_price);
    int rc = -1;

    memset(c, 0, sizeof(*c));
    /* Jackson's part: a BigDecimal must be a number */
    if (amount && bigdec_parse(&c->amount, amount, DECIMAL_MAX_TEXT) != 0) {
        reply_error(r, GRPC_STATUS_INVALID_ARGUMENT, "amount: not a decimal number: \"%.40s\"", amount);
        return -1;
    }
    if (gas_price && bigdec_parse(&price, gas_price, DECIMAL_MAX_TEXT) != 0) {
        reply_error(r, GRPC_STATUS_INVALID_ARGUMENT, "gasPrice: not a decimal number: \"%.40s\"", gas_price);
        goto out;
    }
    /* the fee, before anything is stored: gasLimit * gasPrice when both
     * are given, else amount * 0.001 (BigDecimal.valueOf(0.001): scale 3) */
    if (req->gas_limit && gas_price) {
        bigdec_from_i64(&limit, req->gas_limit->value);
        if (bigdec_mul(&c->fee, &limit, &price) != 0) {
            reply_error(r, GRPC_STATUS_INVALID_ARGUMENT, "%s", price.scale > 0 ? "Underflow" : "Overflow");
            goto out;
        }
    } else if (!amount) {
        /* the original's NullPointerException, word for word */
        reply_error(r, GRPC_STATUS_INVALID_ARGUMENT,
                    "Cannot invoke \"java.math.BigDecimal.multiply(java.math.BigDecimal)\" because \"amount\" is null");
        goto out;
    } else {
        milli.sign = 1;
        milli.digits = xstrdup("1");
        milli.scale = 3;
        if (bigdec_mul(&c->fee, &c->amount, &milli) != 0) {
            reply_error(r, GRPC_STATUS_INVALID_ARGUMENT, "%s", c->amount.scale > 0 ? "Underflow" : "Overflow");
            goto out;
        }
    }
    /* the insert: values that do not fit their column, in column order,
     * then the NOT NULL columns, in column order (PostgreSQL's order) */
    if (!varchar_ok(r, "userId", sv(req->user_id)) || !varchar_ok(r, "fromAddress", sv(req->from_address)) ||
        !varchar_ok(r, "toAddress", sv(req->to_address)))
        goto out;
    if (amount && !(c->amount_db = numeric_or_error(r, "amount", &c->amount)))
        goto out;
    if (gas_price) {
        char *p = numeric_or_error(r, "gasPrice", &price);
        if (!p)
            goto out;
        free(p); /* checked only: no route reads gas_price back */
    }
    if (!(c->fee_db = numeric_or_error(r, "totalFee", &c->fee)))
        goto out;
    if (!not_null(r, "user_id", req->user_id != NULL) || !not_null(r, "from_address", req->from_address != NULL) ||
        !not_null(r, "amount", amount != NULL) || !not_null(r, "transaction_type", valid_type((int)req->transaction_type)))
        goto out;
    /* gas_price is NOT NULL in the table too, which would refuse every
     * submission without one, although the fee rule above exists for
     * exactly those: the code's intent wins, a null gasPrice is taken */
    rc = 0;
out:
    bigdec_free(&price);
    bigdec_free(&limit);
    bigdec_free(&milli);
    if (rc != 0)
        checked_free(c);
    return rc;
}

static struct user *user_get(const char *id)
{
    struct user *u = strmap_get(&T.by_user, id);

    if (!u) {
        u = xcalloc(1, sizeof(*u));
        u->id = xstrdup(id);
        if (T.n_users == T.users_cap) {
            T.users_cap = T.users_cap ? T.users_cap * 2 : 64;
            T.users = xrealloc(T.users, T.users_cap * sizeof(*T.users));
        }
        T.users[T.n_users++] = u;
        strmap_put(&T.by_user, u->id, u);
    }
    return u;
}

static void pending_remove(struct tx *t)
{
    if (t->pend_prev)
        t->pend_prev->pend_next = t->pend_next;
    else
        T.pend_head = t->pend_next;
    if (t->pend_next)
        t->pend_next->pend_prev = t->pend_prev;
    else
        T.pend_tail = t->pend_prev;
    t->pend_prev = t->pend_next = NULL;
}

/* Moves t to status (the original sets it whatever it was before). */
static void set_status(struct tx *t, int status)
{
    if (t->status == ST_PENDING && status != ST_PENDING) {
        pending_remove(t);
        T.pending--;
    }
    t->status = status;
}

/* Stores a checked request as a new PENDING transaction; takes c's stored forms. */
static struct tx *store(const SubmitReq *req, struct checked *c)
{
    struct tx *t = xcalloc(1, sizeof(*t));
    struct user *u;

    t->created_us = now_us();
    t->id = ++T.seq;
    t->hash = tx_hash(req, T.seq, t->created_us);
    t->user = xstrdup(req->user_id->value);
    t->from = xstrdup(req->from_address->value);
    t->to = req->to_address ? xstrdup(req->to_address->value) : NULL;
    t->amount = c->amount_db;
    t->fee = c->fee_db;
    c->amount_db = c->fee_db = NULL;
    t->type = (int)req->transaction_type;
    t->status = ST_PENDING;
    T.pending++;

    if (T.len == T.cap) {
        T.cap = T.cap ? T.cap * 2 : 256;
        T.items = xrealloc(T.items, T.cap * sizeof(*T.items));
    }
    T.items[T.len++] = t;
    strmap_put(&T.by_hash, t->hash, t);

    u = user_get(t->user);
    if (u->last)
        u->last->user_next = t;
    else
        u->first = t;
    u->last = t;
    u->count++;

    t->pend_prev = T.pend_tail;
    if (T.pend_tail)
        T.pend_tail->pend_next = t;
    else
        T.pend_head = t;
    T.pend_tail = t;

    publish("SUBMITTED", t);
    return t;
}

static int store_full(struct reply *r, size_t adding)
{
    if (T.len + adding > MAX_TRANSACTIONS) {
        reply_error(r, GRPC_STATUS_RESOURCE_EXHAUSTED,
                    "transaction store full (%d transactions); restart the service", MAX_TRANSACTIONS);
        return 1;
    }
    return 0;
}

static void submit_transaction(const ProtobufCMessage *in, struct reply *r)
{
    const SubmitReq *req = (const void *)in;
    struct checked c;
    struct pbtx v;
    struct tx *t;
    char *amount, *fee;

    if (check_submit(req, &c, r) != 0)
        return;
    if (store_full(r, 1)) {
        checked_free(&c);
        return;
    }
    t = store(req, &c);
    /* the answer is the Java entity: the request's amount, the computed fee */
    amount = bigdec_string(&c.amount);
    fee = bigdec_string(&c.fee);
    to_pb(&v, t, amount, fee);
    reply_ok(r, &v.m.base);
    free(amount);
    free(fee);
    checked_free(&c);
}

static void batch_submit(const ProtobufCMessage *in, struct reply *r)
{
    const Aurigraph__V11__BatchSubmitTransactionsRequest *req = (const void *)in;
    Aurigraph__V11__BatchSubmitTransactionsResponse resp = AURIGRAPH__V11__BATCH_SUBMIT_TRANSACTIONS_RESPONSE__INIT;
    struct reply ignored;
    char id[32];
    char **hashes;

    if (req->n_transactions == 0) {
        reply_error(r, GRPC_STATUS_INVALID_ARGUMENT, "transactions must not be empty");
        return;
    }
    if (req->n_transactions > MAX_BATCH) {
        reply_error(r, GRPC_STATUS_INVALID_ARGUMENT, "transactions must hold at most %d entries", MAX_BATCH);
        return;
    }
    if (store_full(r, req->n_transactions))
        return;
    if (utf8_chars(req->batch_id) > VARCHAR_MAX) {
        reply_error(r, GRPC_STATUS_INVALID_ARGUMENT, "batchId must be at most %d characters", VARCHAR_MAX);
        return;
    }
    T.batches++;
    if (field_present(req->batch_id)) {
        resp.batch_id = req->batch_id;
    } else {
        snprintf(id, sizeof(id), "batch-%06lld", (long long)T.batches);
        resp.batch_id = id;
    }
    /* entries the single submit would refuse are skipped, not fatal:
     * accepted_count tells */
    hashes = xcalloc(req->n_transactions, sizeof(*hashes));
    for (size_t i = 0; i < req->n_transactions; i++) {
        struct checked c;
        memset(&ignored, 0, sizeof(ignored));
        if (check_submit(req->transactions[i], &c, &ignored) != 0)
            continue;
        hashes[resp.n_tx_hashes++] = store(req->transactions[i], &c)->hash;
        checked_free(&c);
    }
    resp.requested_count = (int32_t)req->n_transactions;
    resp.accepted_count = (int32_t)resp.n_tx_hashes;
    resp.tx_hashes = hashes;
    reply_ok(r, &resp.base);
    free(hashes);
}

/* --- lookup and lifecycle ------------------------------------------------ */

static void get_transaction(const ProtobufCMessage *in, struct reply *r)
{
    const Aurigraph__V11__GetTransactionRequest *req = (const void *)in;
    struct tx *t = strmap_get(&T.by_hash, req->tx_hash);
    struct pbtx v;

    if (!t) {
        reply_error(r, GRPC_STATUS_NOT_FOUND, "Transaction not found");
        return;
    }
    to_pb(&v, t, NULL, NULL);
    reply_ok(r, &v.m.base);
}

static void reply_message(struct reply *r, const char *text)
{
    Aurigraph__V11__TransactionMessage m = AURIGRAPH__V11__TRANSACTION_MESSAGE__INIT;
    m.message = (char *)text;
    reply_ok(r, &m.base);
}

/* confirm/finalize look the hash up with orElseThrow(IllegalArgumentException),
 * which their resource answers 400, not 404 */
static struct tx *find_or_400(struct reply *r, const char *hash)
{
    struct tx *t = strmap_get(&T.by_hash, hash);
    if (!t)
        reply_error(r, GRPC_STATUS_INVALID_ARGUMENT, "Transaction not found");
    return t;
}

static void confirm(const ProtobufCMessage *in, struct reply *r)
{
    const Aurigraph__V11__ConfirmTransactionRequest *req = (const void *)in;
    struct tx *t = find_or_400(r, req->tx_hash);

    if (!t || !varchar_ok(r, "blockHash", sv(req->block_hash)))
        return;
    /* whatever its status: the original checks none, so a FINALIZED
     * transaction confirmed again is CONFIRMED (its finalizedAt stays) */
    set_status(t, ST_CONFIRMED);
    t->has_block = req->block_number != NULL;
    t->block_number = req->block_number ? req->block_number->value : 0;
    t->confirmations = 1;
    t->confirmed_us = now_us();
    publish("CONFIRMED", t);
    reply_message(r, "Transaction confirmed");
}

static void finalize(const ProtobufCMessage *in, struct reply *r)
{
    const Aurigraph__V11__FinalizeTransactionRequest *req = (const void *)in;
    struct tx *t = find_or_400(r, req->tx_hash);

    if (!t)
        return;
    set_status(t, ST_FINALIZED); /* from any status, as the original */
    t->finalized_us = now_us();
    publish("FINALIZED", t);
    reply_message(r, "Transaction finalized");
}

/* --- listings ------------------------------------------------------------ */

/* The original returns whole lists (no paging); so does this. */
static void list_pending(const ProtobufCMessage *in, struct reply *r)
{
    Aurigraph__V11__ListPendingTransactionsResponse resp = AURIGRAPH__V11__LIST_PENDING_TRANSACTIONS_RESPONSE__INIT;
    struct list l;

    (void)in;
    list_init(&l, (size_t)T.pending);
    for (const struct tx *t = T.pend_head; t; t = t->pend_next)
        list_add(&l, t);
    resp.transactions = l.ptrs;
    resp.n_transactions = l.n;
    reply_ok(r, &resp.base);
    list_free(&l);
}

static void list_user(const ProtobufCMessage *in, struct reply *r)
{
    const Aurigraph__V11__ListUserTransactionsRequest *req = (const void *)in;
    Aurigraph__V11__ListUserTransactionsResponse resp = AURIGRAPH__V11__LIST_USER_TRANSACTIONS_RESPONSE__INIT;
    const struct user *u = strmap_get(&T.by_user, req->user_id);
    struct list l;

    list_init(&l, u ? u->count : 0);
    for (const struct tx *t = u ? u->first : NULL; t; t = t->user_next)
        list_add(&l, t);
    resp.transactions = l.ptrs;
    resp.n_transactions = l.n;
    reply_ok(r, &resp.base);
    list_free(&l);
}

static void get_stats(const ProtobufCMessage *in, struct reply *r)
{
    Aurigraph__V11__TransactionStats st = AURIGRAPH__V11__TRANSACTION_STATS__INIT;

    (void)in;
    st.pending_transactions = T.pending;
    reply_ok(r, &st.base);
}

/* --- event stream (extension) -------------------------------------------- */

static void stream_open(const ProtobufCMessage *in, struct stream *s, struct reply *r)
{
    const Aurigraph__V11__StreamTransactionEventsRequest *req = (const void *)in;
    struct sub *sub;
    const struct tx *snap[SNAPSHOT_MAX];
    size_t n = 0;
    int status = -1;

    if (utf8_chars(req->user_id) > VARCHAR_MAX) {
        reply_error(r, GRPC_STATUS_INVALID_ARGUMENT, "userId must be at most %d characters", VARCHAR_MAX);
        return;
    }
    if (field_present(req->status)) {
        for (int i = 0; i < N_STATUS && status < 0; i++)
            if (strcmp(req->status, status_names[i]) == 0)
                status = i;
        if (status < 0) {
            reply_error(r, GRPC_STATUS_INVALID_ARGUMENT,
                        "status must be one of PENDING, VALIDATING, CONFIRMED, FINALIZED, FAILED, CANCELLED, "
                        "REJECTED");
            return;
        }
    }
    if (req->transaction_type != 0 && !valid_type((int)req->transaction_type)) {
        reply_error(r, GRPC_STATUS_INVALID_ARGUMENT,
                    "transactionType must be one of TRANSFER, SMART_CONTRACT, GOVERNANCE, ASSET_CREATION, "
                    "CROSS_CHAIN, INTERNAL");
        return;
    }
    if (T.n_subs == T.subs_cap) {
        T.subs_cap = T.subs_cap ? T.subs_cap * 2 : 16;
        T.subs = xrealloc(T.subs, T.subs_cap * sizeof(*T.subs));
    }
    sub = &T.subs[T.n_subs++];
    sub->s = s;
    sub->user = field_present(req->user_id) ? xstrdup(req->user_id) : NULL;
    sub->status = status;
    sub->type = (int)req->transaction_type;

    /* A new reader first gets the most recent matching pending
     * transactions, oldest first, as their SUBMITTED events: what it
     * would have seen had it been listening. */
    for (const struct tx *t = T.pend_tail; t && n < SNAPSHOT_MAX; t = t->pend_prev)
        if (sub_matches(sub, t))
            snap[n++] = t;
    while (n > 0) {
        const struct tx *t = snap[--n];
        grpc_slice msg = pack_event("SUBMITTED", t, t->created_us);
        stream_send(s, msg);
        grpc_slice_unref(msg);
    }
}

static void stream_close(struct stream *s)
{
    for (size_t i = 0; i < T.n_subs; i++)
        if (T.subs[i].s == s) {
            free(T.subs[i].user);
            T.subs[i] = T.subs[--T.n_subs];
            return;
        }
}

static const struct svc_method methods[] = {
    {"SubmitTransaction", submit_transaction, NULL, NULL},
    {"BatchSubmitTransactions", batch_submit, NULL, NULL},
    {"ListPendingTransactions", list_pending, NULL, NULL},
    {"GetTransactionStats", get_stats, NULL, NULL},
    {"ListUserTransactions", list_user, NULL, NULL},
    {"GetTransaction", get_transaction, NULL, NULL},
    {"ConfirmTransaction", confirm, NULL, NULL},
    {"FinalizeTransaction", finalize, NULL, NULL},
    {"StreamTransactionEvents", NULL, stream_open, stream_close},
};

const struct svc_service svc_transaction = {
    &aurigraph__v11__transaction_service__descriptor, methods, sizeof(methods) / sizeof(methods[0]), 0,
};
