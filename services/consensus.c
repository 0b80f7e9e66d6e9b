/*
 * consensus.c: ConsensusService, a HyperRAFT++ cluster of five fixed nodes
 * whose state is derived from the time since start (and the proposals
 * received), so every read sees the chain move forward the way a live
 * cluster's would, without running one.
 */
#include <stdio.h>
#include <string.h>

#include "aurigraph/v11/consensus.pb-c.h"
#include "svc.h"

#define N_NODES 5
#define LEADER 0
#define TERM_SECONDS 300          /* a new term (election) every 5 minutes */
#define BLOCK_MS 500              /* one block every half second */
#define ENTRIES_PER_BLOCK 4       /* log entries committed per block */

static int64_t started_ns;
static int64_t proposals;

static const char *const node_ids[N_NODES] = {
    "aurigraph-node-1", "aurigraph-node-2", "aurigraph-node-3", "aurigraph-node-4",
    "aurigraph-node-5",
};

void consensus_init(void)
{
    started_ns = now_monotonic_ns();
}

static int64_t elapsed_ms(void)
{
    return (now_monotonic_ns() - started_ns) / 1000000;
}

int64_t consensus_block_height(void)
{
    return 1 + elapsed_ms() / BLOCK_MS + proposals;
}

int32_t consensus_quorum(void)
{
    return N_NODES / 2 + 1;
}

static int64_t current_term(void)
{
    return 1 + elapsed_ms() / 1000 / TERM_SECONDS;
}

static int64_t commit_index(void)
{
    return consensus_block_height() * ENTRIES_PER_BLOCK;
}

/* Followers trail the leader by a few entries; the leader has applied all. */
static int64_t applied_lag(int node)
{
    return node == LEADER ? 0 : node;
}

static void get_status(const ProtobufCMessage *in, struct reply *r)
{
    Aurigraph__V11__ConsensusStatus st = AURIGRAPH__V11__CONSENSUS_STATUS__INIT;

    (void)in;
    st.node_id = (char *)node_ids[LEADER];
    st.role = "LEADER";
    st.current_term = current_term();
    st.commit_index = commit_index();
    st.last_applied = st.commit_index;
    st.leader_node = (char *)node_ids[LEADER];
    st.block_height = consensus_block_height();
    st.consensus_health = "HEALTHY";
    reply_ok(r, &st.base);
}

static void list_nodes(const ProtobufCMessage *in, struct reply *r)
{
    Aurigraph__V11__ListNodesResponse resp = AURIGRAPH__V11__LIST_NODES_RESPONSE__INIT;
    Aurigraph__V11__ConsensusNode nodes[N_NODES];
    Aurigraph__V11__ConsensusNode *ptrs[N_NODES];
    Google__Protobuf__Timestamp seen[N_NODES];
    int64_t now = now_realtime_ns(), term = current_term(), commit = commit_index();
    /* blocks per second times entries, in transactions per second */
    double tps = 1000.0 / BLOCK_MS * ENTRIES_PER_BLOCK * 250;

    (void)in;
    for (int i = 0; i < N_NODES; i++) {
        aurigraph__v11__consensus_node__init(&nodes[i]);
        nodes[i].node_id = (char *)node_ids[i];
        nodes[i].role = i == LEADER ? "LEADER" : "FOLLOWER";
        nodes[i].status = "ACTIVE";
        nodes[i].current_term = term;
        nodes[i].commit_index = commit - applied_lag(i);
        nodes[i].last_applied = commit - applied_lag(i);
        nodes[i].throughput = tps * (1.0 - 0.01 * i);
        /* heartbeats every 50 ms; followers heard from slightly earlier */
        timestamp_set(&seen[i], now - (int64_t)i * 50000000);
        nodes[i].last_seen = &seen[i];
        ptrs[i] = &nodes[i];
    }
    resp.n_nodes = N_NODES;
    resp.nodes = ptrs;
    resp.total_nodes = N_NODES;
    resp.leader_node = (char *)node_ids[LEADER];
    resp.consensus_health = "HEALTHY";
    reply_ok(r, &resp.base);
}

static void propose_block(const ProtobufCMessage *in, struct reply *r)
{
    const Aurigraph__V11__ProposeBlockRequest *req = (const void *)in;
    Aurigraph__V11__ProposeBlockResponse resp = AURIGRAPH__V11__PROPOSE_BLOCK_RESPONSE__INIT;
    char id[40];

    if (field_too_long(req->proposal_id, 128)) {
        reply_error(r, GRPC_STATUS_INVALID_ARGUMENT, "proposal_id must be at most 128 characters");
        return;
    }
    if (field_too_long(req->data, 1 << 20)) {
        reply_error(r, GRPC_STATUS_INVALID_ARGUMENT, "data must be at most 1 MiB");
        return;
    }
    proposals++;
    if (field_present(req->proposal_id)) {
        resp.proposal_id = req->proposal_id;
    } else {
        snprintf(id, sizeof(id), "proposal-%lld", (long long)proposals);
        resp.proposal_id = id;
    }
    resp.status = "PROPOSED";
    resp.term = current_term();
    reply_ok(r, &resp.base);
}

static const struct svc_method methods[] = {
    {"GetConsensusStatus", get_status, NULL, NULL},
    {"ListNodes", list_nodes, NULL, NULL},
    {"ProposeBlock", propose_block, NULL, NULL},
};

const struct svc_service svc_consensus = {
    &aurigraph__v11__consensus_service__descriptor, methods, sizeof(methods) / sizeof(methods[0]), 0,
};
