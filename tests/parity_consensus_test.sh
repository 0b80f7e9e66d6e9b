#!/usr/bin/env bash
# parity_consensus_test: /api/v11/consensus as the original platform's
# ConsensusApiResource serves it over HyperRAFTConsensusService
# (proto/README.md, "ConsensusService"), through the real gateway and
# reference services, every call over HTTP/1.1 and h2c: status codes, the
# field sets and JSON types (int / long / double as the original's Java
# types), values in the original's ranges, the original e2e script's jq
# checks for these routes, and bad input. Ends with "N passed, N failed".
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/parity_lib.sh"
need_binaries
need curl jq
parity_start

ERR='def err: (.error | type == "string") and .message == .error and (.code | type == "number") and (.details | type == "array");'
INT='def int: type == "number" and . == floor;'
now_ms() { echo $(($(date +%s%N) / 1000000)); }
# a timestamp (epoch ms) within a minute of this machine's clock
recent() { echo "(. | type == \"number\" and . > $(($(now_ms) - 60000)) and . < $(($(now_ms) + 60000)))"; }

# ---- GET /consensus/status: ConsensusStats ------------------------------------------
call GET /api/v11/consensus/status
# comprehensive-e2e-tests.sh: test_endpoint "Consensus Status" .../consensus/status "200" ".state"
expect "status: the original e2e check (200, .state)" 200 '.state'
expect "status: ConsensusStats' fields" 200 \
  'keys == ["clusterSize","commitIndex","consensusLatency","currentTerm","leaderId","nodeId","state","throughput"]' \
  "$INT"' (.currentTerm, .commitIndex, .consensusLatency, .throughput, .clusterSize | int)' \
  '(.nodeId | test("^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$")) and (.state | IN("FOLLOWER","CANDIDATE","LEADER"))' \
  '.state == "LEADER" and .leaderId == .nodeId and .currentTerm >= 1 and .commitIndex > 145000' \
  '.consensusLatency >= 2 and .consensusLatency <= 8 and .throughput >= 100000 and .throughput <= 150000 and .clusterSize == 6'
status_body=$body
call GET '/api/v11/consensus/status?verbose=1'
expect "status: a stray query parameter is ignored" 200 '.state == "LEADER"'
call POST /api/v11/consensus/status '{}'
expect "status: POST is 405" 405 "$ERR err"

# ---- GET /consensus/nodes: ClusterInfo ------------------------------------------------
call GET /api/v11/consensus/nodes
expect "nodes: the map's fields" 200 'keys == ["consensusHealth","leaderNode","nodes","timestamp","totalNodes"]' \
  "$INT"' (.totalNodes | int) and (.timestamp | int) and .totalNodes == (.nodes | length)' \
  'all(.nodes[]; keys == ["commitIndex","currentTerm","lastApplied","lastSeen","nodeId","role","status","throughput"])' \
  "$INT"' all(.nodes[]; (.currentTerm, .commitIndex, .lastApplied, .throughput, .lastSeen | int) and (.role | IN("FOLLOWER","CANDIDATE","LEADER")) and .status == "ACTIVE")' \
  "(.timestamp | $(recent)) and all(.nodes[].lastSeen; $(recent))" \
  '.consensusHealth | IN("HEALTHY","DEGRADED","ELECTING")'
expect "nodes: this node leads six followers, as the original's cluster" 200 \
  '.totalNodes == 7 and ([.nodes[] | select(.role == "LEADER")] | length) == 1 and .nodes[0].role == "LEADER" and .nodes[0].nodeId == .leaderNode' \
  '[.nodes[1:][].nodeId] == ["node_0","node_1","node_2","node_3","node_4","node_5"] and .consensusHealth == "HEALTHY"' \
  '.nodes[0] as $l | all(.nodes[1:][]; .commitIndex <= $l.commitIndex and .commitIndex > $l.commitIndex - 10 and .lastApplied == $l.lastApplied and .throughput == ($l.throughput * 0.95 | floor))'
check "nodes: the leader is the status' node" jqt --argjson s "$status_body" \
  'input | .leaderNode == $s.leaderId and .totalNodes == $s.clusterSize + 1 and .nodes[0].commitIndex >= $s.commitIndex' <<<"$body"

# ---- POST /consensus/propose -------------------------------------------------------------
call POST /api/v11/consensus/propose '{"proposalId":"p-1","data":"block-data","extra":[1]}'
expect "propose: 200 {status, proposalId, timestamp}" 200 'keys == ["proposalId","status","timestamp"]' \
  ".status == \"PROPOSED\" and .proposalId == \"p-1\" and (.timestamp | $(recent))"
call POST /api/v11/consensus/propose '{"proposalId":""}'
expect "propose an empty id: taken (not null)" 200 '.proposalId == ""'
call POST /api/v11/consensus/propose '{"data":"x"}'
expect "propose without proposalId: 500, as the original's Map.of(null) fails" 500 "$ERR err" '.error | test("proposalId")'
call POST /api/v11/consensus/propose '{"proposalId":null}'
expect "propose proposalId null: 500" 500 "$ERR err"
call POST /api/v11/consensus/propose '{"proposalId":"p",'
expect "propose malformed JSON: 400" 400 "$ERR err" '.code == 3'
call POST /api/v11/consensus/propose '{"proposalId":{"a":1}}'
expect "propose an object for proposalId: 400 naming it" 400 "$ERR err" '.error | test("proposalId")'
call POST /api/v11/consensus/propose '"p-1"'
expect "propose a bare string: 400" 400 "$ERR err"
call GET /api/v11/consensus/propose
expect "propose: GET is 405" 405 "$ERR err"

# ---- GET /consensus/metrics ---------------------------------------------------------------
call GET /api/v11/consensus/metrics
# comprehensive-e2e-tests.sh: test_endpoint "Consensus Metrics" .../consensus/metrics "200" "" (status only)
expect "metrics: the original e2e check (200)" 200
expect "metrics: the map's sections" 200 \
  'keys == ["aiOptimization","algorithm","cluster","errors","latency","leader","metricsCollectionInterval","performance","status","throughput","timestamp","version","voting"]' \
  '.algorithm == "HyperRAFT++" and (.version | type == "string") and .status == "ACTIVE" and .metricsCollectionInterval == "real-time"' \
  ".timestamp | $(recent)"
expect "metrics: each section's fields and Java types" 200 \
  "$INT"' .throughput | keys == ["averageProposalsPerSecond","currentProposalsPerSecond","peakProposalsPerSecond","proposalsLast24h","totalProposalsProcessed"] and all(.[]; int)' \
  '.latency | keys == ["averageConsensusLatency","leaderElectionTime","maxConsensusLatency","p50ConsensusLatency","p95ConsensusLatency","p999ConsensusLatency","p99ConsensusLatency","proposalToCommitTime"] and all(.[]; type == "number")' \
  "$INT"' .voting | keys == ["averageQuorumSize","averageVotesPerRound","consensusAchieved","consensusFailures","quorumSuccessRate","totalVotesCast","votingRounds"] and (.totalVotesCast, .averageQuorumSize, .votingRounds, .consensusAchieved, .consensusFailures | int) and (.quorumSuccessRate, .averageVotesPerRound | type == "number")' \
  "$INT"' .leader | keys == ["currentLeader","lastElectionTime","leaderElections","leaderTenure","leaderUptime","proposalsSubmitted"] and (.currentLeader | type == "string") and (.leaderElections, .lastElectionTime, .leaderTenure, .proposalsSubmitted | int) and (.leaderUptime | type == "number")' \
  "$INT"' .cluster | keys == ["activeNodes","networkPartitions","quorumSize","splitBrainEvents","standbyNodes","totalNodes","unhealthyNodes"] and all(.[]; int)' \
  "$INT"' .performance | keys == ["bandwidthUtilization","compressionRatio","consensusEfficiency","cpuUtilization","memoryUtilization","networkOverheadBytes"] and (.networkOverheadBytes | int) and all(.[]; type == "number")' \
  "$INT"' .errors | keys == ["consensusConflicts","errorRate","networkErrors","timeoutErrors","totalErrors","validationErrors"] and (.totalErrors, .timeoutErrors, .networkErrors, .validationErrors, .consensusConflicts | int) and (.errorRate | type == "number")' \
  "$INT"' .aiOptimization | keys == ["adaptiveQuorumEnabled","dynamicTimeoutAdjustments","enabled","mlModelVersion","optimizationGain","predictionAccuracy"] and (.enabled, .adaptiveQuorumEnabled | type == "boolean") and (.mlModelVersion | type == "string") and (.dynamicTimeoutAdjustments | int) and (.predictionAccuracy, .optimizationGain | type == "number")'
expect "metrics: values in the original's ranges and units" 200 \
  '.leader.leaderTenure == 48 * 3600 * 1000 and .leader.lastElectionTime == .timestamp - .leader.leaderTenure' \
  '.latency | .p50ConsensusLatency <= .p95ConsensusLatency and .p95ConsensusLatency <= .p99ConsensusLatency and .p99ConsensusLatency <= .p999ConsensusLatency and .p999ConsensusLatency <= .maxConsensusLatency' \
  '.cluster | .activeNodes + .standbyNodes + .unhealthyNodes == .totalNodes and .quorumSize > .totalNodes / 2' \
  '.throughput | .currentProposalsPerSecond <= .peakProposalsPerSecond and .averageProposalsPerSecond <= .peakProposalsPerSecond' \
  '(.voting.quorumSuccessRate, .leader.leaderUptime, .performance.cpuUtilization, .performance.memoryUtilization, .aiOptimization.predictionAccuracy) | . >= 0 and . <= 100'
call DELETE /api/v11/consensus/metrics
expect "metrics: DELETE is 405" 405 "$ERR err"

# ---- the state moves: the original's update thread, every 3 s ------------------------------
c0=$(jq .commitIndex <<<"$status_body")
moved=0
for _ in $(seq 1 40); do
  c=$(curl -s --max-time 2 "$gw/api/v11/consensus/status" | jq -r .commitIndex 2>/dev/null)
  [ -n "$c" ] && [ "$c" != null ] && [ "$c" -gt "$c0" ] && { moved=1; break; }
  sleep 0.1
done
check "status: commitIndex grows within 4 s (1-5 entries per 3 s update)" [ "$moved" = 1 ]

summary
