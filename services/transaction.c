/*
 * transaction.c: TransactionService: submission with validation, lookup,
 * the PENDING -> CONFIRMED -> FINALIZED lifecycle, listings, counters, and
 * a server stream of lifecycle events.
 *
 * Transactions live in memory for the life of the process: an array owns
 * them, a hash index finds them by tx_hash, each user's transactions are
 * chained oldest first, and the pending pool is a doubly linked list so
 * confirming is O(1).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "aurigraph/v11/transaction.pb-c.h"
#include "svc.h"

#define MAX_FIELD 256
#define MAX_DATA (1 << 20)
#define DEFAULT_PAGE 100
#define MAX_PAGE 1000
#define MAX_BATCH 10000
#define SNAPSHOT_MAX 100          /* pending transactions replayed to a new stream */
/* ~500 bytes each: bounds the memory a long benchmark can make us hold */
#define MAX_TRANSACTIONS 1000000

typedef Aurigraph__V11__Transaction PbTx;

struct tx {
    char *id, *hash, *user, *from, *to, *amount, *fee;
    int type, status;
    int64_t block_number;
    int32_t confirmations;
    int64_t finality_ms;
    int64_t created_ns, confirmed_ns, finalized_ns;
    struct tx *user_next;
    struct tx *pend_prev, *pend_next;
};

struct user {
    char *id;
    struct tx *first, *last;
    int64_t count;
};

struct sub {
    struct stream *s;
    char *user;                   /* NULL: any */
    int status, type;             /* 0: any */
};

static struct {
    struct tx **items;
    size_t len, cap;
    struct strmap by_hash, by_user;
    struct user **users;
    size_t n_users, users_cap;
    struct tx *pend_head, *pend_tail;
    int64_t count[5];             /* by TransactionStatus */
    uint64_t seq;
    struct sub *subs;
    size_t n_subs, subs_cap;
    int64_t batches;
} T;

static const char *status_name(int s)
{
    switch (s) {
    case AURIGRAPH__V11__TRANSACTION_STATUS__PENDING: return "PENDING";
    case AURIGRAPH__V11__TRANSACTION_STATUS__CONFIRMED: return "CONFIRMED";
    case AURIGRAPH__V11__TRANSACTION_STATUS__FINALIZED: return "FINALIZED";
    case AURIGRAPH__V11__TRANSACTION_STATUS__FAILED: return "FAILED";
    default: return "UNSPECIFIED";
    }
}

static int valid_type(int t)
{
    return t >= AURIGRAPH__V11__TRANSACTION_TYPE__TRANSFER &&
           t <= AURIGRAPH__V11__TRANSACTION_TYPE__INTERNAL;
}

void transaction_cleanup(void)
{
    for (size_t i = 0; i < T.len; i++) {
        struct tx *t = T.items[i];
        free(t->id);
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
    Google__Protobuf__Timestamp created, confirmed, finalized;
};

/* Fills v with pointers into t: valid until t changes. */
static void to_pb(struct pbtx *v, const struct tx *t)
{
    PbTx *m = &v->m;

    aurigraph__v11__transaction__init(m);
    m->id = t->id;
    m->tx_hash = t->hash;
    m->user_id = t->user;
    m->from_address = t->from;
    m->to_address = t->to;
    m->amount = t->amount;
    m->status = (Aurigraph__V11__TransactionStatus)t->status;
    m->transaction_type = (Aurigraph__V11__TransactionType)t->type;
    m->total_fee = t->fee;
    m->block_number = t->block_number;
    m->confirmation_count = t->confirmations;
    m->finality_time_ms = t->finality_ms;
    timestamp_set(&v->created, t->created_ns);
    m->created_at = &v->created;
    if (t->confirmed_ns) {
        timestamp_set(&v->confirmed, t->confirmed_ns);
        m->confirmed_at = &v->confirmed;
    }
    if (t->finalized_ns) {
        timestamp_set(&v->finalized, t->finalized_ns);
        m->finalized_at = &v->finalized;
    }
}

static void reply_tx(struct reply *r, const struct tx *t)
{
    struct pbtx v;
    to_pb(&v, t);
    reply_ok(r, &v.m.base);
}

/* A page of transactions as the repeated field of a list response. */
struct page {
    struct pbtx *views;
    PbTx **ptrs;
    size_t n;
};

static void page_init(struct page *p, size_t max)
{
    p->views = xcalloc(max, sizeof(*p->views));
    p->ptrs = xcalloc(max, sizeof(*p->ptrs));
    p->n = 0;
}

static void page_add(struct page *p, const struct tx *t)
{
    to_pb(&p->views[p->n], t);
    p->ptrs[p->n] = &p->views[p->n].m;
    p->n++;
}

static void page_free(struct page *p)
{
    free(p->views);
    free(p->ptrs);
}

/* --- events -------------------------------------------------------------- */

static int sub_matches(const struct sub *s, const struct tx *t)
{
    return (!s->user || strcmp(s->user, t->user) == 0) && (!s->status || s->status == t->status) &&
           (!s->type || s->type == t->type);
}

static grpc_slice pack_event(const char *type, const struct tx *t, int64_t when_ns)
{
    Aurigraph__V11__TransactionEvent ev = AURIGRAPH__V11__TRANSACTION_EVENT__INIT;
    Google__Protobuf__Timestamp ts;
    struct pbtx v;

    to_pb(&v, t);
    ev.event_type = (char *)type;
    ev.transaction = &v.m;
    timestamp_set(&ts, when_ns);
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
            msg = pack_event(type, t, now_realtime_ns());
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

static void hash_str(EVP_MD_CTX *md, const char *s)
{
    hash_field(md, s, strlen(s));
}

/* "0x" + SHA-256 of the request and of a per-process sequence number and
 * the time, so identical submissions get distinct hashes. */
static char *tx_hash(const Aurigraph__V11__SubmitTransactionRequest *req, uint64_t seq,
                     int64_t now)
{
    unsigned char digest[32];
    unsigned int dlen = 0;
    char num[64];
    char *out = xmalloc(2 + 64 + 1);
    EVP_MD_CTX *md = EVP_MD_CTX_new();

    if (!md)
        abort();
    EVP_DigestInit_ex(md, EVP_sha256(), NULL);
    hash_str(md, "aurigraph.v11.Transaction");
    snprintf(num, sizeof(num), "%llu/%lld", (unsigned long long)seq, (long long)now);
    hash_str(md, num);
    hash_str(md, req->user_id);
    hash_str(md, req->from_address);
    hash_str(md, req->to_address);
    hash_str(md, req->amount);
    snprintf(num, sizeof(num), "%d/%llu", (int)req->transaction_type,
             (unsigned long long)req->gas_limit);
    hash_str(md, num);
    hash_str(md, req->gas_price);
    hash_str(md, req->data);
    EVP_DigestFinal_ex(md, digest, &dlen);
    EVP_MD_CTX_free(md);

    out[0] = '0';
    out[1] = 'x';
    hex_encode(out + 2, digest, sizeof(digest));
    return out;
}

/* NULL when valid; else the message naming the field. */
static const char *validate(const Aurigraph__V11__SubmitTransactionRequest *req)
{
    if (!field_present(req->user_id) || field_too_long(req->user_id, MAX_FIELD))
        return "user_id must be 1 to 256 characters";
    if (!field_present(req->from_address) || field_too_long(req->from_address, MAX_FIELD))
        return "from_address must be 1 to 256 characters";
    if (!field_present(req->to_address) || field_too_long(req->to_address, MAX_FIELD))
        return "to_address must be 1 to 256 characters";
    if (!dec_valid(req->amount) || dec_is_zero(req->amount))
        return "amount must be a positive decimal (e.g. \"100.50\")";
    if (!valid_type((int)req->transaction_type))
        return "transaction_type must be one of TRANSFER, SMART_CONTRACT, GOVERNANCE, "
               "ASSET_CREATION, CROSS_CHAIN, INTERNAL";
    if (field_present(req->gas_price) && !dec_valid(req->gas_price))
        return "gas_price must be a non-negative decimal (e.g. \"0.000021\")";
    if (field_too_long(req->data, MAX_DATA))
        return "data must be at most 1 MiB";
    return NULL;
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

static void set_status(struct tx *t, int status)
{
    T.count[t->status]--;
    t->status = status;
    T.count[status]++;
}

/* Stores a valid request as a new PENDING transaction. */
static struct tx *submit(const Aurigraph__V11__SubmitTransactionRequest *req)
{
    struct tx *t = xcalloc(1, sizeof(*t));
    struct user *u;
    char id[32];

    t->created_ns = now_realtime_ns();
    T.seq++;
    snprintf(id, sizeof(id), "tx-%010llu", (unsigned long long)T.seq);
    t->id = xstrdup(id);
    t->hash = tx_hash(req, T.seq, t->created_ns);
    t->user = xstrdup(req->user_id);
    t->from = xstrdup(req->from_address);
    t->to = xstrdup(req->to_address);
    t->amount = xstrdup(req->amount);
    t->type = (int)req->transaction_type;
    t->fee = dec_mul_u64(field_present(req->gas_price) ? req->gas_price : "0", req->gas_limit);
    t->status = AURIGRAPH__V11__TRANSACTION_STATUS__PENDING;
    T.count[t->status]++;

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

static void submit_transaction(const ProtobufCMessage *in, struct reply *r)
{
    const Aurigraph__V11__SubmitTransactionRequest *req = (const void *)in;
    const char *err = validate(req);

    if (err) {
        reply_error(r, GRPC_STATUS_INVALID_ARGUMENT, "%s", err);
        return;
    }
    if (T.len >= MAX_TRANSACTIONS) {
        reply_error(r, GRPC_STATUS_RESOURCE_EXHAUSTED,
                    "transaction store full (%d transactions); restart the service",
                    MAX_TRANSACTIONS);
        return;
    }
    reply_tx(r, submit(req));
}

static void batch_submit(const ProtobufCMessage *in, struct reply *r)
{
    const Aurigraph__V11__BatchSubmitTransactionsRequest *req = (const void *)in;
    Aurigraph__V11__BatchSubmitTransactionsResponse resp =
        AURIGRAPH__V11__BATCH_SUBMIT_TRANSACTIONS_RESPONSE__INIT;
    char id[32];
    char **hashes;

    if (req->n_transactions == 0) {
        reply_error(r, GRPC_STATUS_INVALID_ARGUMENT, "transactions must not be empty");
        return;
    }
    if (req->n_transactions > MAX_BATCH) {
        reply_error(r, GRPC_STATUS_INVALID_ARGUMENT, "transactions must hold at most %d entries",
                    MAX_BATCH);
        return;
    }
    if (T.len + req->n_transactions > MAX_TRANSACTIONS) {
        reply_error(r, GRPC_STATUS_RESOURCE_EXHAUSTED,
                    "transaction store full (%d transactions); restart the service",
                    MAX_TRANSACTIONS);
        return;
    }
    if (field_too_long(req->batch_id, MAX_FIELD)) {
        reply_error(r, GRPC_STATUS_INVALID_ARGUMENT, "batch_id must be at most 256 characters");
        return;
    }
    T.batches++;
    if (field_present(req->batch_id)) {
        resp.batch_id = req->batch_id;
    } else {
        snprintf(id, sizeof(id), "batch-%06lld", (long long)T.batches);
        resp.batch_id = id;
    }
    /* invalid entries are skipped, not fatal: accepted_count tells */
    hashes = xcalloc(req->n_transactions, sizeof(*hashes));
    for (size_t i = 0; i < req->n_transactions; i++)
        if (!validate(req->transactions[i]))
            hashes[resp.n_tx_hashes++] = submit(req->transactions[i])->hash;
    resp.requested_count = (int32_t)req->n_transactions;
    resp.accepted_count = (int32_t)resp.n_tx_hashes;
    resp.tx_hashes = hashes;
    reply_ok(r, &resp.base);
    free(hashes);
}

/* --- lookup and lifecycle ------------------------------------------------ */

/* The transaction named by tx_hash, or NULL with the reply set. */
static struct tx *find(struct reply *r, const char *hash)
{
    struct tx *t;

    if (!field_present(hash)) {
        reply_error(r, GRPC_STATUS_INVALID_ARGUMENT, "tx_hash must not be empty");
        return NULL;
    }
    t = strmap_get(&T.by_hash, hash);
    if (!t)
        reply_error(r, GRPC_STATUS_NOT_FOUND, "transaction %.80s not found", hash);
    return t;
}

static void get_transaction(const ProtobufCMessage *in, struct reply *r)
{
    const Aurigraph__V11__GetTransactionRequest *req = (const void *)in;
    struct tx *t = find(r, req->tx_hash);

    if (t)
        reply_tx(r, t);
}

static void confirm(const ProtobufCMessage *in, struct reply *r)
{
    const Aurigraph__V11__ConfirmTransactionRequest *req = (const void *)in;
    struct tx *t;

    if (req->block_number < 0) {
        reply_error(r, GRPC_STATUS_INVALID_ARGUMENT, "block_number must not be negative");
        return;
    }
    if (field_too_long(req->block_hash, MAX_FIELD)) {
        reply_error(r, GRPC_STATUS_INVALID_ARGUMENT, "block_hash must be at most 256 characters");
        return;
    }
    t = find(r, req->tx_hash);
    if (!t)
        return;
    if (t->status != AURIGRAPH__V11__TRANSACTION_STATUS__PENDING) {
        reply_error(r, GRPC_STATUS_FAILED_PRECONDITION,
                    "transaction %s is %s; only PENDING transactions can be confirmed", t->hash,
                    status_name(t->status));
        return;
    }
    pending_remove(t);
    set_status(t, AURIGRAPH__V11__TRANSACTION_STATUS__CONFIRMED);
    /* no block named: it lands in the chain's current block */
    t->block_number = req->block_number ? req->block_number : consensus_block_height();
    t->confirmations = 1;
    t->confirmed_ns = now_realtime_ns();
    publish("CONFIRMED", t);
    reply_tx(r, t);
}

static void finalize(const ProtobufCMessage *in, struct reply *r)
{
    const Aurigraph__V11__FinalizeTransactionRequest *req = (const void *)in;
    struct tx *t = find(r, req->tx_hash);

    if (!t)
        return;
    if (t->status != AURIGRAPH__V11__TRANSACTION_STATUS__CONFIRMED) {
        reply_error(r, GRPC_STATUS_FAILED_PRECONDITION,
                    "transaction %s is %s; only CONFIRMED transactions can be finalized", t->hash,
                    status_name(t->status));
        return;
    }
    set_status(t, AURIGRAPH__V11__TRANSACTION_STATUS__FINALIZED);
    t->finalized_ns = now_realtime_ns();
    /* final once a quorum of the validators has acknowledged the block */
    if (t->confirmations < consensus_quorum())
        t->confirmations = consensus_quorum();
    t->finality_ms = (t->finalized_ns - t->created_ns) / 1000000;
    publish("FINALIZED", t);
    reply_tx(r, t);
}

/* --- listings ------------------------------------------------------------ */

static int page_size(struct reply *r, int32_t limit, size_t *out)
{
    if (limit < 0) {
        reply_error(r, GRPC_STATUS_INVALID_ARGUMENT, "limit must not be negative");
        return -1;
    }
    *out = limit == 0 ? DEFAULT_PAGE : limit > MAX_PAGE ? MAX_PAGE : (size_t)limit;
    return 0;
}

static void list_pending(const ProtobufCMessage *in, struct reply *r)
{
    const Aurigraph__V11__ListPendingTransactionsRequest *req = (const void *)in;
    Aurigraph__V11__ListPendingTransactionsResponse resp =
        AURIGRAPH__V11__LIST_PENDING_TRANSACTIONS_RESPONSE__INIT;
    struct page p;
    size_t max;

    if (page_size(r, req->limit, &max) != 0)
        return;
    page_init(&p, max);
    for (struct tx *t = T.pend_head; t && p.n < max; t = t->pend_next)
        page_add(&p, t);
    resp.transactions = p.ptrs;
    resp.n_transactions = p.n;
    resp.total_count = T.count[AURIGRAPH__V11__TRANSACTION_STATUS__PENDING];
    reply_ok(r, &resp.base);
    page_free(&p);
}

static void list_user(const ProtobufCMessage *in, struct reply *r)
{
    const Aurigraph__V11__ListUserTransactionsRequest *req = (const void *)in;
    Aurigraph__V11__ListUserTransactionsResponse resp =
        AURIGRAPH__V11__LIST_USER_TRANSACTIONS_RESPONSE__INIT;
    const struct user *u;
    struct page p;
    size_t max;

    if (!field_present(req->user_id)) {
        reply_error(r, GRPC_STATUS_INVALID_ARGUMENT, "user_id must not be empty");
        return;
    }
    if (req->offset < 0) {
        reply_error(r, GRPC_STATUS_INVALID_ARGUMENT, "offset must not be negative");
        return;
    }
    if (page_size(r, req->limit, &max) != 0)
        return;
    u = strmap_get(&T.by_user, req->user_id);
    page_init(&p, max);
    if (u) {
        const struct tx *t = u->first;
        for (int32_t skip = req->offset; t && skip > 0; skip--)
            t = t->user_next;
        for (; t && p.n < max; t = t->user_next)
            page_add(&p, t);
    }
    resp.transactions = p.ptrs;
    resp.n_transactions = p.n;
    resp.total_count = u ? u->count : 0;
    reply_ok(r, &resp.base);
    page_free(&p);
}

static void get_stats(const ProtobufCMessage *in, struct reply *r)
{
    Aurigraph__V11__TransactionStats st = AURIGRAPH__V11__TRANSACTION_STATS__INIT;

    (void)in;
    st.pending_transactions = T.count[AURIGRAPH__V11__TRANSACTION_STATUS__PENDING];
    st.confirmed_transactions = T.count[AURIGRAPH__V11__TRANSACTION_STATUS__CONFIRMED];
    st.finalized_transactions = T.count[AURIGRAPH__V11__TRANSACTION_STATUS__FINALIZED];
    st.failed_transactions = T.count[AURIGRAPH__V11__TRANSACTION_STATUS__FAILED];
    st.total_transactions = (int64_t)T.len;
    reply_ok(r, &st.base);
}

/* --- event stream -------------------------------------------------------- */

static void stream_open(const ProtobufCMessage *in, struct stream *s, struct reply *r)
{
    const Aurigraph__V11__StreamTransactionEventsRequest *req = (const void *)in;
    struct sub *sub;
    const struct tx *snap[SNAPSHOT_MAX];
    size_t n = 0;

    if (field_too_long(req->user_id, MAX_FIELD)) {
        reply_error(r, GRPC_STATUS_INVALID_ARGUMENT, "user_id must be at most 256 characters");
        return;
    }
    if ((int)req->status < 0 || (int)req->status > AURIGRAPH__V11__TRANSACTION_STATUS__FAILED) {
        reply_error(r, GRPC_STATUS_INVALID_ARGUMENT,
                    "status must be one of PENDING, CONFIRMED, FINALIZED, FAILED");
        return;
    }
    if (req->transaction_type != 0 && !valid_type((int)req->transaction_type)) {
        reply_error(r, GRPC_STATUS_INVALID_ARGUMENT,
                    "transaction_type must be one of TRANSFER, SMART_CONTRACT, GOVERNANCE, "
                    "ASSET_CREATION, CROSS_CHAIN, INTERNAL");
        return;
    }
    if (T.n_subs == T.subs_cap) {
        T.subs_cap = T.subs_cap ? T.subs_cap * 2 : 16;
        T.subs = xrealloc(T.subs, T.subs_cap * sizeof(*T.subs));
    }
    sub = &T.subs[T.n_subs++];
    sub->s = s;
    sub->user = field_present(req->user_id) ? xstrdup(req->user_id) : NULL;
    sub->status = (int)req->status;
    sub->type = (int)req->transaction_type;

    /* A new reader first gets the most recent matching pending
     * transactions, oldest first, as their SUBMITTED events: what it
     * would have seen had it been listening. */
    for (const struct tx *t = T.pend_tail; t && n < SNAPSHOT_MAX; t = t->pend_prev)
        if (sub_matches(sub, t))
            snap[n++] = t;
    while (n > 0) {
        const struct tx *t = snap[--n];
        grpc_slice msg = pack_event("SUBMITTED", t, t->created_ns);
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
    &aurigraph__v11__transaction_service__descriptor, methods,
    sizeof(methods) / sizeof(methods[0]), 0,
};
