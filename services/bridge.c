/*
 * bridge.c: CrossChainBridgeService: a fixed list of supported chains,
 * transfers validated against it and kept in memory, and counters over
 * them. Transfers stay "INITIATED": no other chain is really watched.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "aurigraph/v11/bridge.pb-c.h"
#include "svc.h"

#define MAX_FIELD 256
#define MAX_TRANSFERS 1000000     /* bounds memory under a long benchmark */

struct chain_def {
    const char *name, *chain_id;
    int enabled;
};

static const struct chain_def chains[] = {
    {"aurigraph", "aurigraph-v11", 1},
    {"ethereum", "1", 1},
    {"polygon", "137", 1},
    {"bsc", "56", 1},
    {"avalanche", "43114", 1},
    {"solana", "solana-mainnet", 1},
    /* listed but switched off: transfers to it are refused */
    {"cosmos", "cosmoshub-4", 0},
};

#define N_CHAINS (sizeof(chains) / sizeof(chains[0]))

struct transfer {
    char *id, *status, *source, *target, *asset, *amount, *recipient;
    int64_t created_ns;
};

static struct {
    struct transfer **items;
    size_t len, cap;
    struct strmap by_id;
    char *volume;
} B;

void bridge_cleanup(void)
{
    for (size_t i = 0; i < B.len; i++) {
        struct transfer *t = B.items[i];
        free(t->id);
        free(t->source);
        free(t->target);
        free(t->asset);
        free(t->amount);
        free(t->recipient);
        free(t);
    }
    free(B.items);
    strmap_free(&B.by_id);
    free(B.volume);
    memset(&B, 0, sizeof(B));
}

static const struct chain_def *find_chain(const char *name)
{
    for (size_t i = 0; i < N_CHAINS; i++)
        if (strcmp(chains[i].name, name) == 0)
            return &chains[i];
    return NULL;
}

static int32_t enabled_chains(void)
{
    int32_t n = 0;
    for (size_t i = 0; i < N_CHAINS; i++)
        n += chains[i].enabled;
    return n;
}

static void get_stats(const ProtobufCMessage *in, struct reply *r)
{
    Aurigraph__V11__BridgeStats st = AURIGRAPH__V11__BRIDGE_STATS__INIT;

    (void)in;
    st.total_transfers = (int64_t)B.len;
    st.pending_transfers = (int64_t)B.len; /* every transfer is still INITIATED */
    st.completed_transfers = 0;
    st.failed_transfers = 0;
    st.total_volume = B.volume ? B.volume : "0";
    st.supported_chains = enabled_chains();
    reply_ok(r, &st.base);
}

static void list_chains(const ProtobufCMessage *in, struct reply *r)
{
    Aurigraph__V11__ListSupportedChainsResponse resp =
        AURIGRAPH__V11__LIST_SUPPORTED_CHAINS_RESPONSE__INIT;
    Aurigraph__V11__SupportedChain c[N_CHAINS];
    Aurigraph__V11__SupportedChain *ptrs[N_CHAINS];

    (void)in;
    for (size_t i = 0; i < N_CHAINS; i++) {
        aurigraph__v11__supported_chain__init(&c[i]);
        c[i].name = (char *)chains[i].name;
        c[i].chain_id = (char *)chains[i].chain_id;
        c[i].enabled = chains[i].enabled;
        ptrs[i] = &c[i];
    }
    resp.chains = ptrs;
    resp.n_chains = N_CHAINS;
    reply_ok(r, &resp.base);
}

static void reply_transfer(struct reply *r, const struct transfer *t)
{
    Aurigraph__V11__BridgeTransfer m = AURIGRAPH__V11__BRIDGE_TRANSFER__INIT;
    Google__Protobuf__Timestamp ts;

    m.transfer_id = t->id;
    m.status = t->status;
    m.source_chain = t->source;
    m.target_chain = t->target;
    m.asset = t->asset;
    m.amount = t->amount;
    m.recipient = t->recipient;
    timestamp_set(&ts, t->created_ns);
    m.created_at = &ts;
    reply_ok(r, &m.base);
}

/* The chain named by `field` must be listed and enabled. */
static int check_chain(struct reply *r, const char *field, const char *name)
{
    const struct chain_def *c;

    if (!field_present(name)) {
        reply_error(r, GRPC_STATUS_INVALID_ARGUMENT, "%s must not be empty", field);
        return -1;
    }
    c = find_chain(name);
    if (!c) {
        reply_error(r, GRPC_STATUS_INVALID_ARGUMENT,
                    "%s \"%.64s\" is not a supported chain (see ListSupportedChains)", field, name);
        return -1;
    }
    if (!c->enabled) {
        reply_error(r, GRPC_STATUS_FAILED_PRECONDITION, "%s \"%s\" is currently disabled", field,
                    name);
        return -1;
    }
    return 0;
}

static void initiate(const ProtobufCMessage *in, struct reply *r)
{
    const Aurigraph__V11__InitiateTransferRequest *req = (const void *)in;
    struct transfer *t;
    char id[48];

    if (check_chain(r, "source_chain", req->source_chain) != 0 ||
        check_chain(r, "target_chain", req->target_chain) != 0)
        return;
    if (strcmp(req->source_chain, req->target_chain) == 0) {
        reply_error(r, GRPC_STATUS_INVALID_ARGUMENT, "source_chain and target_chain must differ");
        return;
    }
    if (!field_present(req->asset) || field_too_long(req->asset, MAX_FIELD)) {
        reply_error(r, GRPC_STATUS_INVALID_ARGUMENT, "asset must be 1 to %d characters", MAX_FIELD);
        return;
    }
    if (!dec_valid(req->amount) || dec_is_zero(req->amount)) {
        reply_error(r, GRPC_STATUS_INVALID_ARGUMENT,
                    "amount must be a positive decimal (e.g. \"100.50\")");
        return;
    }
    if (!field_present(req->recipient) || field_too_long(req->recipient, MAX_FIELD)) {
        reply_error(r, GRPC_STATUS_INVALID_ARGUMENT, "recipient must be 1 to %d characters",
                    MAX_FIELD);
        return;
    }

    if (B.len >= MAX_TRANSFERS) {
        reply_error(r, GRPC_STATUS_RESOURCE_EXHAUSTED,
                    "transfer store full (%d transfers); restart the service", MAX_TRANSFERS);
        return;
    }
    t = xcalloc(1, sizeof(*t));
    snprintf(id, sizeof(id), "bridge-%08zu-%08llx", B.len + 1,
             (unsigned long long)(rng_next() & 0xffffffffu));
    t->id = xstrdup(id);
    t->status = "INITIATED";
    t->source = xstrdup(req->source_chain);
    t->target = xstrdup(req->target_chain);
    t->asset = xstrdup(req->asset);
    t->amount = xstrdup(req->amount);
    t->recipient = xstrdup(req->recipient);
    t->created_ns = now_realtime_ns();

    if (B.len == B.cap) {
        B.cap = B.cap ? B.cap * 2 : 64;
        B.items = xrealloc(B.items, B.cap * sizeof(*B.items));
    }
    B.items[B.len++] = t;
    strmap_put(&B.by_id, t->id, t);
    {
        /* the volume sums amounts of every asset: a rough activity figure */
        char *sum = dec_add(B.volume ? B.volume : "0", t->amount);
        free(B.volume);
        B.volume = sum;
    }
    reply_transfer(r, t);
}

static void get_transfer(const ProtobufCMessage *in, struct reply *r)
{
    const Aurigraph__V11__GetTransferRequest *req = (const void *)in;
    const struct transfer *t;

    if (!field_present(req->transfer_id)) {
        reply_error(r, GRPC_STATUS_INVALID_ARGUMENT, "transfer_id must not be empty");
        return;
    }
    t = strmap_get(&B.by_id, req->transfer_id);
    if (!t) {
        reply_error(r, GRPC_STATUS_NOT_FOUND, "transfer \"%.128s\" not found", req->transfer_id);
        return;
    }
    reply_transfer(r, t);
}

static const struct svc_method methods[] = {
    {"GetBridgeStats", get_stats, NULL, NULL},
    {"ListSupportedChains", list_chains, NULL, NULL},
    {"InitiateTransfer", initiate, NULL, NULL},
    {"GetTransfer", get_transfer, NULL, NULL},
};

const struct svc_service svc_bridge = {
    &aurigraph__v11__cross_chain_bridge_service__descriptor, methods,
    sizeof(methods) / sizeof(methods[0]), 0,
};
