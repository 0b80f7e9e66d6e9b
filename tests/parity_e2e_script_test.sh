#!/usr/bin/env bash
# parity_e2e_script_test: the original platform's own end-to-end checks,
# run against this gateway and the reference services. The table below is
# every test_endpoint line of the original's
# deployment/scripts/comprehensive-e2e-tests.sh (Aurigraph-DLT-Corp/
# aurigraph-dlt-backend) whose route belongs to one of the five resources
# of issue 10 (transactions, consensus, crypto, ai, bridge), copied as
# written there: name, path, expected status, and the field check its
# test_endpoint runs as `echo "$body" | jq -e "$check_field"` (an empty
# check: the status alone). The script has no line for /transactions.
# Each is run over HTTP/1.1 and h2c. Ends with "N passed, N failed".
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/parity_lib.sh"
need_binaries
need curl jq
parity_start

# name | path (after $SERVER) | expected status | check_field
table='Consensus Status|/api/v11/consensus/status|200|.state
Consensus Metrics|/api/v11/consensus/metrics|200|
Crypto Status|/api/v11/crypto/status|200|.quantumCryptoEnabled
Crypto Metrics|/api/v11/crypto/metrics|200|
Bridge Status|/api/v11/bridge/status|200|.overall_status
Bridge Stats|/api/v11/bridge/stats|200|
Supported Chains|/api/v11/bridge/supported-chains|200|
AI Status|/api/v11/ai/status|200|
AI Metrics|/api/v11/ai/metrics|200|
AI Predictions|/api/v11/ai/predictions|200|'

# the original's test_endpoint, on both answers of call (h1 and h2c)
test_endpoint() {
  local name=$1 path=$2 expected_status=$3 check_field=$4 b
  call GET "$path"
  if [ "$status" != "$expected_status" ] || [ "$status2" != "$expected_status" ]; then
    bad "$name - Expected $expected_status, got $status (HTTP/1.1) / $status2 (h2c): ${body:0:200}"
    return
  fi
  if [ -n "$check_field" ]; then
    for b in "$body" "$body2"; do
      if ! echo "$b" | jq -e "$check_field" >/dev/null 2>&1; then
        bad "$name - HTTP $expected_status but field $check_field missing: ${b:0:200}"
        return
      fi
    done
  fi
  ok
}

while IFS='|' read -r name path expected_status check_field; do
  test_endpoint "$name" "$path" "$expected_status" "$check_field"
done <<<"$table"

summary
