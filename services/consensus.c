/*
 * consensus.c: ConsensusService, as the original platform's
 * ConsensusApiResource serves HyperRAFTConsensusService (proto/README.md,
 * "ConsensusService"): this node, with a random UUID as its id, is the
 * leader of a cluster of itself and six followers node_0..node_5, from
 * term 1 and commit index 145000 (the original's production start, where
 * consensus.auto.promote.leader defaults to true).
 *
 * The original's live-update thread changes the state every 3 seconds,
 * from its start: 1-5 entries committed and applied, throughput a random
 * walk of +-5000 within 100000..150000 TPS, latency 2-8 ms, and a 1 %
 * chance of a new term. Here the same steps are replayed lazily, on each
 * read, for the 3-second ticks that have passed, with the services' PRNG.
 * A proposal changes nothing: the original's propose route only answers.
 */
#include <stdio.h>
#include <string.h>

#include "aurigraph/v11/consensus.pb-c.h"
#include "google/protobuf/wrappers.pb-c.h"
#include "svc.h"

#define N_FOLLOWERS 6
#define TICK_MS 3000
#define START_COMMIT 145000
#define START_THROUGHPUT 125000
#define START_LATENCY 5

static struct {
    char node_id[37];           /* UUID.randomUUID().toString() */
    int64_t started_ns;
    int64_t ticks;              /* updates applied so far */
    int64_t term, commit, applied, latency, throughput;
} C;

/* The followers, in the order the original's HashSet<String> yields them
 * (their String.hashCode()s fall in consecutive buckets). */
static const char *const followers[N_FOLLOWERS] = {"node_0", "node_1", "node_2", "node_3", "node_4", "node_5"};

static int64_t rand_below(int64_t n)
{
    return (int64_t)(rng_next() % (uint64_t)n);
}

void consensus_init(void)
{
    unsigned char b[16];
    char hex[33];

    for (int i = 0; i < 16; i += 8) {
        uint64_t x = rng_next();
        memcpy(b + i, &x, 8);
    }
    b[6] = (unsigned char)((b[6] & 0x0f) | 0x40); /* version 4 */
    b[8] = (unsigned char)((b[8] & 0x3f) | 0x80); /* IETF variant */
    hex_encode(hex, b, 16);
    snprintf(C.node_id, sizeof(C.node_id), "%.8s-%.4s-%.4s-%.4s-%.12s", hex, hex + 8, hex + 12, hex + 16, hex + 20);
    C.started_ns = now_monotonic_ns();
    C.ticks = 0;
    C.term = 1;
    C.commit = C.applied = START_COMMIT;
    C.throughput = START_THROUGHPUT;
    C.latency = START_LATENCY;
}

/* One run of the original's updateConsensusMetrics(). */
static void tick(void)
{
    int64_t commits = 1 + rand_below(5), tps = C.throughput + rand_below(10000) - 5000;

    C.commit += commits;
    C.applied += commits;
    C.throughput = tps < 100000 ? 100000 : tps > 150000 ? 150000 : tps;
    C.latency = 2 + rand_below(7);
    if (rand_below(100) == 0)
        C.term++;
}

/* The original's thread updates once at start, then every TICK_MS. */
static void advance(void)
{
    int64_t due = 1 + (now_monotonic_ns() - C.started_ns) / 1000000 / TICK_MS;
    while (C.ticks < due) {
        tick();
        C.ticks++;
    }
}

static int64_t now_ms(void)
{
    return now_realtime_ns() / 1000000;
}

static void get_status(const ProtobufCMessage *in, struct reply *r)
{
    Aurigraph__V11__ConsensusStatus st = AURIGRAPH__V11__CONSENSUS_STATUS__INIT;
    Google__Protobuf__StringValue leader = GOOGLE__PROTOBUF__STRING_VALUE__INIT;

    (void)in;
    advance();
    st.node_id = C.node_id;
    st.state = "LEADER";
    st.current_term = C.term;
    st.commit_index = C.commit;
    leader.value = C.node_id;
    st.leader_id = &leader;
    st.consensus_latency = C.latency;
    st.throughput = C.throughput;
    st.cluster_size = N_FOLLOWERS; /* clusterNodes.size(): the leader is not in it */
    reply_ok(r, &st.base);
}

static void list_nodes(const ProtobufCMessage *in, struct reply *r)
{
    Aurigraph__V11__ListNodesResponse resp = AURIGRAPH__V11__LIST_NODES_RESPONSE__INIT;
    Aurigraph__V11__ConsensusNode nodes[1 + N_FOLLOWERS];
    Aurigraph__V11__ConsensusNode *ptrs[1 + N_FOLLOWERS];
    int64_t now = now_ms();

    (void)in;
    advance();
    for (int i = 0; i <= N_FOLLOWERS; i++) {
        Aurigraph__V11__ConsensusNode *n = &nodes[i];
        aurigraph__v11__consensus_node__init(n);
        n->status = "ACTIVE";
        n->current_term = C.term;
        n->last_applied = C.applied;
        n->last_seen = now; /* NodeInfo's Instant.now(), as epoch ms */
        if (i == 0) {
            n->node_id = C.node_id;
            n->role = "LEADER";
            n->commit_index = C.commit;
            n->throughput = C.throughput;
        } else {
            /* followers: a few entries behind, 95 % of the throughput */
            n->node_id = (char *)followers[i - 1];
            n->role = "FOLLOWER";
            n->commit_index = C.commit - rand_below(10);
            n->throughput = (int64_t)((double)C.throughput * 0.95);
        }
        ptrs[i] = n;
    }
    resp.nodes = ptrs;
    resp.n_nodes = 1 + N_FOLLOWERS;
    resp.total_nodes = 1 + N_FOLLOWERS;
    resp.leader_node = C.node_id;
    /* HEALTHY: at least 3 followers and not electing */
    resp.consensus_health = "HEALTHY";
    resp.timestamp = now;
    reply_ok(r, &resp.base);
}

static void propose_block(const ProtobufCMessage *in, struct reply *r)
{
    const Aurigraph__V11__ProposeBlockRequest *req = (const void *)in;
    Aurigraph__V11__ProposeBlockResponse resp = AURIGRAPH__V11__PROPOSE_BLOCK_RESPONSE__INIT;

    /* The original answers Map.of("status", "PROPOSED", "proposalId", id,
     * ...), which throws on a null id, and its catch then throws again
     * building the error: an unhandled exception, HTTP 500. */
    if (!req->proposal_id) {
        reply_error(r, GRPC_STATUS_INTERNAL, "proposalId must not be null");
        return;
    }
    resp.status = "PROPOSED";
    resp.proposal_id = req->proposal_id->value;
    resp.timestamp = now_ms();
    reply_ok(r, &resp.base);
}

/* The original's figures (constants there, with the time-based two);
 * each field has the Java type the original puts in its map. */
static void get_metrics(const ProtobufCMessage *in, struct reply *r)
{
    Aurigraph__V11__ConsensusMetrics m = AURIGRAPH__V11__CONSENSUS_METRICS__INIT;
    Aurigraph__V11__ConsensusThroughputMetrics tp = AURIGRAPH__V11__CONSENSUS_THROUGHPUT_METRICS__INIT;
    Aurigraph__V11__ConsensusLatencyMetrics lat = AURIGRAPH__V11__CONSENSUS_LATENCY_METRICS__INIT;
    Aurigraph__V11__ConsensusVotingMetrics vote = AURIGRAPH__V11__CONSENSUS_VOTING_METRICS__INIT;
    Aurigraph__V11__ConsensusLeaderMetrics lead = AURIGRAPH__V11__CONSENSUS_LEADER_METRICS__INIT;
    Aurigraph__V11__ConsensusClusterMetrics cl = AURIGRAPH__V11__CONSENSUS_CLUSTER_METRICS__INIT;
    Aurigraph__V11__ConsensusPerformanceMetrics perf = AURIGRAPH__V11__CONSENSUS_PERFORMANCE_METRICS__INIT;
    Aurigraph__V11__ConsensusErrorMetrics err = AURIGRAPH__V11__CONSENSUS_ERROR_METRICS__INIT;
    Aurigraph__V11__ConsensusAiOptimizationMetrics ai = AURIGRAPH__V11__CONSENSUS_AI_OPTIMIZATION_METRICS__INIT;
    const int64_t tenure_ms = 48LL * 60 * 60 * 1000;
    int64_t now = now_ms();

    (void)in;
    m.algorithm = "HyperRAFT++";
    m.version = "12.0.0";
    m.status = "ACTIVE";

    tp.current_proposals_per_second = 1850000;
    tp.peak_proposals_per_second = 2156789;
    tp.average_proposals_per_second = 1650234;
    tp.total_proposals_processed = 125678543210LL;
    tp.proposals_last_24h = 156234789123LL;
    m.throughput = &tp;

    lat.average_consensus_latency = 42.3;
    lat.p50_consensus_latency = 38.5;
    lat.p95_consensus_latency = 95.2;
    lat.p99_consensus_latency = 145.7;
    lat.p999_consensus_latency = 285.4;
    lat.max_consensus_latency = 485.0;
    lat.proposal_to_commit_time = 156.8;
    lat.leader_election_time = 285.3;
    m.latency = &lat;

    vote.total_votes_cast = 45678234567LL;
    vote.average_quorum_size = 81;
    vote.quorum_success_rate = 99.87;
    vote.voting_rounds = 125678543;
    vote.average_votes_per_round = 85.3;
    vote.consensus_achieved = 125456789;
    vote.consensus_failures = 163;
    m.voting = &vote;

    lead.current_leader = "node-validator-01";
    lead.leader_uptime = 99.95;
    lead.leader_elections = 23;
    lead.last_election_time = now - tenure_ms;
    lead.leader_tenure = tenure_ms;
    lead.proposals_submitted = 45234567;
    m.leader = &lead;

    cl.total_nodes = 127;
    cl.active_nodes = 121;
    cl.unhealthy_nodes = 0;
    cl.standby_nodes = 6;
    cl.quorum_size = 85;
    cl.network_partitions = 0;
    cl.split_brain_events = 0;
    m.cluster = &cl;

    perf.consensus_efficiency = 98.7;
    perf.network_overhead_bytes = 1234567890LL;
    perf.compression_ratio = 3.2;
    perf.bandwidth_utilization = 67.5;
    perf.cpu_utilization = 45.3;
    perf.memory_utilization = 38.7;
    m.performance = &perf;

    err.total_errors = 234;
    err.timeout_errors = 45;
    err.network_errors = 89;
    err.validation_errors = 67;
    err.consensus_conflicts = 33;
    err.error_rate = 0.00019;
    m.errors = &err;

    ai.enabled = 1;
    ai.ml_model_version = "v2.4.1";
    ai.prediction_accuracy = 94.5;
    ai.optimization_gain = 18.3;
    ai.adaptive_quorum_enabled = 1;
    ai.dynamic_timeout_adjustments = 1234;
    m.ai_optimization = &ai;

    m.timestamp = now;
    m.metrics_collection_interval = "real-time";
    reply_ok(r, &m.base);
}

static const struct svc_method methods[] = {
    {"GetConsensusStatus", get_status, NULL, NULL},
    {"ListNodes", list_nodes, NULL, NULL},
    {"ProposeBlock", propose_block, NULL, NULL},
    {"GetConsensusMetrics", get_metrics, NULL, NULL},
};

const struct svc_service svc_consensus = {
    &aurigraph__v11__consensus_service__descriptor, methods, sizeof(methods) / sizeof(methods[0]), 0,
};
