#!/usr/bin/env bash
# e2e_test: the gateway end to end, as clients see it. Real processes on
# loopback (aurigraph-services, aurigraph-gateway), real clients (curl over
# HTTP/1.1 and HTTP/2 prior knowledge), ports picked at run time, every
# wait bounded. Ends with "N passed, N failed".
#
# Env (set by ctest): AG_BUILD_DIR, AG_SOURCE_DIR.
source "$(dirname "$0")/lib.sh"

need_binaries
need jq

# wait_line FILE REGEX SECONDS: prints the first matching line

# req [CURL ARGS...] URL: sets status, body, hdrs
req() {
  local out
  out=$(curl -s --max-time 10 -D "$work/hdrs" -o "$work/body" -w '%{http_code}' "$@")
  status=$out
  body=$(cat "$work/body")
  hdrs=$(tr -d '\r' <"$work/hdrs")
}
post() { req -X POST -H 'content-type: application/json' --data-binary "$2" "${@:3}" "$gw$1"; }
get() { req "${@:2}" "$gw$1"; }
# jq -e alone passes on empty input: `input` makes an empty body fail
jqe() {
  local filter=${*: -1}
  echo "$body" | jq -e -n "${@:1:$#-1}" "input | ($filter)" >/dev/null 2>&1
}

# ---- start -----------------------------------------------------------------

start_services svc1 --version-tag blue || { echo "0 passed, 1 failed"; exit 1; }
cat >"$work/gw.yaml" <<EOF
clusters:
  - name: default
    targets: ["127.0.0.1:$svc_port"]
    timeout_ms: 5000
    health: {interval_ms: 200, timeout_ms: 500, healthy_threshold: 1, unhealthy_threshold: 2}
EOF
main_svc_pid=$svc_pid
main_svc_port=$svc_port
start_gateway gw1 --config "$work/gw.yaml" || { echo "0 passed, 1 failed"; exit 1; }
main_gw=$gw
main_gw_pid=$gw_pid
check "gateway becomes ready" wait_ready "$gw" 10 200

# ---- every route, HTTP/1.1 and HTTP/2 -----------------------------------------

for proto in --http1.1 --http2-prior-knowledge; do
  p="($proto)"
  submit='{"userId":"alice","fromAddress":"0xa1","toAddress":"0xb2","amount":"12.50","transactionType":"TRANSFER","gasLimit":"21000","gasPrice":"0.000000025","data":"hello"}'
  post /api/v11/transactions "$submit" $proto
  check "$p submit answers 202" [ "$status" = 202 ]
  check "$p submit body is a PENDING transaction" jqe '.status == "PENDING" and .userId == "alice" and .amount == 12.5 and .transactionType == "TRANSFER" and (.txHash | startswith("0x")) and .blockNumber == null'
  # BigDecimal digits as the client sent them (jq would read 12.50 as 12.5)
  check "$p submit keeps the amount's digits" grep -q '"amount":12.50,' <<<"$body"
  check "$p submit keys are the contract's" jqe 'keys - ["id","txHash","userId","fromAddress","toAddress","amount","status","transactionType","totalFee","blockNumber","confirmationCount","finalityTimeMs","createdAt","confirmedAt","finalizedAt"] == []'
  check "$p x-request-id echoed" grep -qi '^x-request-id: ' <<<"$hdrs"
  check "$p version tag as Grpc-Metadata" grep -qi '^grpc-metadata-x-version-tag: blue' <<<"$hdrs"
  # metadata up and back: the services echo traceparent and x-echo-* in their answer
  post /api/v11/transactions "$submit" $proto -H 'Grpc-Metadata-X-Echo-Color: green' \
    -H 'traceparent: 00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01' -H 'x-request-id: req-42'
  check "$p Grpc-Metadata-* goes up and comes back" grep -qi '^grpc-metadata-x-echo-color: green' <<<"$hdrs"
  check "$p traceparent goes up" grep -qi '^grpc-metadata-traceparent: 00-0af7651916cd43dd8448eb211c80319c' <<<"$hdrs"
  check "$p a client's x-request-id is kept" grep -qi '^x-request-id: req-42$' <<<"$hdrs"
  created=$body
  hash=$(echo "$body" | jq -r .txHash)

  get "/api/v11/transactions/$hash" $proto
  check "$p get by hash 200" [ "$status" = 200 ]
  # a read is the stored row: the same transaction, its amounts at NUMERIC(38,18)'s 18 digits
  check "$p get returns what submit returned" jqe --argjson c "$created" 'del(.amount, .totalFee) == ($c | del(.amount, .totalFee)) and .amount == $c.amount'
  check "$p ... amounts as stored" grep -q '"amount":12.500000000000000000,' <<<"$body"

  get /api/v11/transactions/pending $proto
  check "$p pending lists it" jqe --arg h "$hash" '[.[].txHash] | index($h) != null'
  get /api/v11/transactions/stats $proto
  check "$p stats" jqe '(.pendingTransactions | tonumber) >= 1'
  get "/api/v11/transactions/user/alice?limit=50&offset=0" $proto
  check "$p user transactions" jqe --arg h "$hash" '[.[].txHash] | index($h) != null'

  req -X POST $proto "$gw/api/v11/transactions/$hash/confirm?blockNumber=42&blockHash=0xbeef"
  check "$p confirm" jqe '.message == "Transaction confirmed"'
  get "/api/v11/transactions/$hash" $proto
  check "$p ... confirmed" jqe '.status == "CONFIRMED" and .blockNumber == 42 and .confirmationCount == 1'
  req -X POST $proto "$gw/api/v11/transactions/$hash/finalize"
  check "$p finalize" jqe '.message == "Transaction finalized"'
  get "/api/v11/transactions/$hash" $proto
  check "$p ... finalized, at a LocalDateTime" jqe '.status == "FINALIZED" and (.finalizedAt | test("^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\\.[0-9]+)?$"))'
  req -X POST $proto "$gw/api/v11/transactions/0xnope/finalize"
  check "$p finalize of an unknown hash is 400" [ "$status" = 400 ]
  check "$p ... with the error JSON" jqe '.error == "Transaction not found" and .code == 3 and .message == .error and .details == []'

  post '/api/v11/transactions:batch' "{\"batchId\":\"b1\",\"transactions\":[$submit,$submit]}" $proto
  check "$p batch 202" [ "$status" = 202 ]
  check "$p batch body" jqe '.batchId == "b1" and .requestedCount == 2 and .acceptedCount == 2 and (.txHashes | length) == 2'

  get /api/v11/consensus/status $proto
  check "$p consensus status" jqe 'has("nodeId") and (.state | type == "string") and (.currentTerm | type == "number") and has("leaderId")'
  get /api/v11/consensus/nodes $proto
  check "$p consensus nodes" jqe '(.nodes | length) > 0 and .totalNodes > 0 and has("leaderNode")'
  post /api/v11/consensus/propose '{"proposalId":"p-1","data":"block"}' $proto
  check "$p propose" jqe '.status == "PROPOSED" and .proposalId == "p-1"'

  get /api/v11/crypto/status $proto
  check "$p crypto status 200" [ "$status" = 200 ]
  check "$p crypto status: quantum crypto enabled" jqe '.quantumCryptoEnabled == true'
  get /api/v11/crypto/algorithms $proto
  check "$p algorithms list available and unavailable ones" jqe '([.algorithms[] | select(.available == true)] | length) > 0 and ([.algorithms[] | select((.available // false) == false)] | length) > 0'
  alg=$(echo "$body" | jq -r '[.algorithms[] | select(.available == true and (.type | test("Signatures")))][0].name')
  pq=$(echo "$body" | jq -r '[.algorithms[] | select((.available // false) == false and (.name | test("CRYSTALS|SPHINCS")))][0].name // empty')
  post /api/v11/crypto/keystore/generate "{\"keyId\":\"k$RANDOM$proto\",\"algorithm\":\"$alg\"}" $proto
  check "$p generate key" jqe '.success == true'
  key=$(echo "$body" | jq -r .keyId)
  post /api/v11/crypto/sign "{\"keyId\":\"$key\",\"data\":\"payload\"}" $proto
  check "$p sign" jqe '.success == true and (.signature | length) > 0'
  sig=$(echo "$body" | jq -r .signature)
  post /api/v11/crypto/verify "{\"keyId\":\"$key\",\"data\":\"payload\",\"signature\":\"$sig\"}" $proto
  check "$p verify valid" jqe '.isValid == true and .status == "SIGNATURE_VALID"'
  post /api/v11/crypto/verify "{\"keyId\":\"$key\",\"data\":\"tampered\",\"signature\":\"$sig\"}" $proto
  check "$p verify tampered" jqe '(.isValid // false) == false and .status == "SIGNATURE_INVALID"'
  if [ -n "$pq" ]; then # a post-quantum algorithm this OpenSSL lacks
    post /api/v11/crypto/keystore/generate "{\"keyId\":\"pq$RANDOM\",\"algorithm\":\"$pq\"}" $proto
    check "$p post-quantum refused with UNIMPLEMENTED 501" [ "$status" = 501 ]
    check "$p ... code 12" jqe '.code == 12'
  fi

  get /api/v11/ai/models $proto
  check "$p models" jqe '(.models | length) > 0'
  model=$(echo "$body" | jq -r '.models[1].modelId')
  get "/api/v11/ai/models/$model" $proto
  check "$p model by id" jqe --arg m "$model" '.modelId == $m and (.performance | type) == "object"'
  # the original answers any model id (it never looks it up)
  get /api/v11/ai/models/no-such-model $proto
  check "$p any model id answers" jqe '.modelId == "no-such-model"'
  # parameters is a free-form object (google.protobuf.Struct): nested JSON is
  # taken, a non-object is a 400 naming the field
  post /api/v11/ai/optimize '{"optimizationType":"latency","targetMetric":"p95","parameters":{"a":1,"b":[true,null,"x"],"c":{"d":2.5}}}' $proto
  check "$p optimize answers 201" [ "$status" = 201 ]
  check "$p optimize takes a nested Struct" jqe '(.jobId | startswith("ai_opt_")) and .optimizationType == "latency" and .targetMetric == "p95"'
  post /api/v11/ai/optimize '{"parameters":"fast"}' $proto
  check "$p optimize: parameters not an object is 400" [ "$status" = 400 ]
  check "$p ... naming the field" jqe '.message | test("parameters")'

  get /api/v11/bridge/stats $proto
  check "$p bridge stats 200" [ "$status" = 200 ]
  get /api/v11/bridge/supported-chains $proto
  check "$p chains" jqe '(.chains | length) > 0'
  chain1=$(echo "$body" | jq -r '.chains[0].chainId')
  chain2=$(echo "$body" | jq -r '.chains[1].chainId')
  post /api/v11/bridge/transfer "{\"sourceChain\":\"$chain1\",\"targetChain\":\"$chain2\",\"asset\":\"AUR\",\"amount\":5.00,\"recipient\":\"0xr\"}" $proto
  check "$p transfer" jqe --arg s "$chain1" '.status == "INITIATED" and .sourceChain == $s and (.transferId | startswith("bridge_"))'
  get /api/v11/bridge/status $proto
  check "$p bridge status" jqe '.overall_status == "healthy" and (.bridges | length) == 4'
done

# ---- streaming --------------------------------------------------------------

curl -s -N --max-time 3 "$gw/api/v11/transactions:events" -D "$work/ev.hdrs" >"$work/events" 2>/dev/null &
evpid=$!
sleep 0.5
for i in 1 2 3; do post /api/v11/transactions "$submit" >/dev/null; done
wait $evpid 2>/dev/null
check "events stream as application/x-ndjson" grep -qi 'content-type: application/x-ndjson' "$work/ev.hdrs"
check "several events, one JSON per line" [ "$(jq -c 'select(.eventType)' "$work/events" 2>/dev/null | wc -l)" -ge 3 ]
curl -s -N --http2-prior-knowledge --max-time 2 "$gw/api/v11/transactions:events" >"$work/events2" 2>/dev/null
check "events over HTTP/2" [ "$(jq -c . "$work/events2" 2>/dev/null | wc -l)" -ge 1 ]

curl -s --http2 -o /dev/null -w '%{http_version}' "$gw/api/v11/transactions/stats" >"$work/upgrade"
check "h2c upgrade from HTTP/1.1" [ "$(cat "$work/upgrade")" = 2 ]

# an upstream that dies mid-stream: the stream ends with an {"error": ...} line
start_services streamsvc
stream_svc_pid=$svc_pid
start_gateway gwstream --upstream "127.0.0.1:$svc_port"
post /api/v11/transactions "$submit" >/dev/null
curl -s -N --max-time 5 "$gw/api/v11/transactions:events" >"$work/events3" 2>/dev/null &
evpid=$!
sleep 0.7
kill "$stream_svc_pid"
wait $evpid 2>/dev/null
check "events before the failure arrive" [ "$(jq -c 'select(.eventType)' "$work/events3" 2>/dev/null | wc -l)" -ge 1 ]
check "a failure mid-stream is a final error line" bash -c "tail -n1 '$work/events3' | jq -e -n 'input | .error.code > 0 and (.error.message | length) > 0' >/dev/null"
kill "$gw_pid" 2>/dev/null
gw=$main_gw
gw_port=${main_gw##*:}

# ---- bad input: the error JSON, and the gateway keeps serving -----------------

post /api/v11/transactions '{"userId":'
check "malformed JSON 400" [ "$status" = 400 ]
check "... error JSON" jqe '.code == 3 and (.message | test("invalid JSON")) and .details == []'
post /api/v11/transactions '{"userId":{"id":5}}'  # an object: no coercion makes it a string (Jackson refuses it too)
check "wrong type names the field" jqe '.code == 3 and (.message | test("userId"))'
# unknown fields are ignored, as the original's Jackson does: what is left
# lacks amount, which the original refuses (400, its NullPointerException)
post /api/v11/transactions '{"nope":1}'
check "unknown field ignored, the empty submit 400" jqe '.code == 3 and (.error | test("\"amount\" is null"))'
get /api/v11/nothing/here
check "unknown path 404" [ "$status" = 404 ]
check "... code 5" jqe '.code == 5'
req -X DELETE "$gw/api/v11/transactions"
check "wrong method 405" [ "$status" = 405 ]
check "... with Allow" grep -qi '^allow: POST' <<<"$hdrs"
head -c $((5 * 1024 * 1024)) /dev/zero | tr '\0' ' ' >"$work/big.json"
req -X POST -H 'content-type: application/json' --data-binary "@$work/big.json" "$gw/api/v11/transactions"
check "body over limit 413" [ "$status" = 413 ]
check "... error JSON" jqe '.code == 8'
req -X POST -H 'content-type: text/plain' --data-binary '{}' "$gw/api/v11/transactions"
check "unsupported media type 415" [ "$status" = 415 ]
# garbage on the wire: not HTTP at all, a broken HTTP/2 preface, a huge header
for junk in 'GARBAGE\r\n\r\n' 'PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n\x00\x00\xff\xff\xff\xff' \
            "GET /api/v11/transactions/stats HTTP/1.1\r\nX-Big: $(head -c 70000 /dev/zero | tr '\0' a)\r\n\r\n"; do
  exec 3<>"/dev/tcp/127.0.0.1/$gw_port"
  printf "$junk" >&3 2>/dev/null || true
  timeout 3 cat <&3 >/dev/null 2>&1 || true
  exec 3<&-
done
get /api/v11/transactions/stats
check "still serving after bad input" [ "$status" = 200 ]

# HTTP/1.1 pipelining: two requests in one write, two answers in order
exec 3<>"/dev/tcp/127.0.0.1/$gw_port"
printf 'GET /api/v11/consensus/status HTTP/1.1\r\nHost: x\r\n\r\nGET /api/v11/bridge/stats HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n' >&3
timeout 5 cat <&3 >"$work/pipelined" || true
exec 3<&-
check "pipelined requests: two 200s" [ "$(grep -o 'HTTP/1.1 200' "$work/pipelined" | wc -l)" = 2 ]
check "pipelined answers in order" bash -c "grep -n 'nodeId\|supportedChains' '$work/pipelined' | head -1 | grep -q nodeId"

# deadline: the client's grpc-timeout against a slow upstream
start_services slow --latency-ms 1500
start_gateway gwslow --upstream "127.0.0.1:$svc_port"
get /api/v11/transactions/stats -H 'grpc-timeout: 200m'
check "upstream slower than deadline 504" [ "$status" = 504 ]
check "... DEADLINE_EXCEEDED" jqe '.code == 4'

# upstream down
start_gateway gwdown --upstream 127.0.0.1:1
get /api/v11/transactions/stats
check "upstream down 503" [ "$status" = 503 ]
check "... UNAVAILABLE" jqe '.code == 14'

# every gRPC code the upstream may return, mapped per the contract
declare -A http_of=([1]=499 [2]=500 [3]=400 [4]=504 [5]=404 [6]=409 [7]=403 [8]=429 [9]=400 [10]=409
                    [11]=400 [12]=501 [13]=500 [14]=503 [15]=500 [16]=401)
for code in $(seq 1 16); do
  start_services "fail$code" --fail-rate 1 --fail-code "$code"
  start_gateway "gwfail$code" --upstream "127.0.0.1:$svc_port"
  get /api/v11/transactions/stats
  check "grpc code $code -> HTTP ${http_of[$code]}" [ "$status" = "${http_of[$code]}" ]
  check "grpc code $code in the body" jqe --argjson c "$code" '.code == $c and (.message | test("injected"))'
  kill "$gw_pid" "$svc_pid" 2>/dev/null
done

# grpc-status-details-bin becomes the error's details
start_services details --fail-rate 1 --fail-code 9 --fail-details "retry in 5s"
start_gateway gwdetails --upstream "127.0.0.1:$svc_port"
get /api/v11/transactions/stats
check "status details decoded into details" jqe '.code == 9 and .details == [{"@type":"type.googleapis.com/google.protobuf.StringValue","value":"retry in 5s"}]'
check "error responses keep the connection" bash -c "curl -s -v -o /dev/null -o /dev/null '$gw/nope' '$gw/api/v11/transactions/stats' 2>&1 | grep -q 'Re-using existing connection'"
kill "$gw_pid" "$svc_pid" 2>/dev/null

# ---- health: ready flips with the upstream ------------------------------------

gw=$main_gw
get /q/health/live
check "live UP" jqe '.status == "UP"'
get /q/health
check "health lists checks" jqe '(.checks | length) >= 3'
kill "$main_svc_pid" 2>/dev/null
wait "$main_svc_pid" 2>/dev/null
check "ready goes DOWN when the services die" wait_ready "$gw" 5 503
get /q/health/ready
check "... 503 with the cluster DOWN" jqe '.status == "DOWN" and ([.checks[] | select(.status == "DOWN")] | length) >= 1'
SVC_PORT=$main_svc_port start_services svc1again
check "ready comes back UP" wait_ready "$gw" 10 200

# ---- metrics -----------------------------------------------------------------

get /q/metrics
check "metrics 200, Prometheus text" bash -c "[ '$status' = 200 ] && grep -qi '^content-type: text/plain; version=0.0.4' <<<'$hdrs'"
metric() { awk -v k="$1" 'index($0, k) == 1 {print $NF}' "$work/body"; }
check "http_requests_total by route template" [ "$(metric 'http_requests_total{method="POST",route="/api/v11/transactions",code="202"}')" -ge 6 ]
check "grpc_requests_total by method and code" [ "$(metric 'grpc_requests_total{service="aurigraph.v11.TransactionService",method="SubmitTransaction",source="rest",code="OK"}')" -ge 6 ]
check "unmatched paths are not labels" bash -c "! grep -q 'nothing/here' '$work/body'"
check "latency histogram has the 0.2 and 0.5 buckets" bash -c "grep -q 'http_request_duration_seconds_bucket{method=\"GET\",route=\"/api/v11/transactions/stats\",le=\"0.2\"}' '$work/body' && grep -q 'le=\"0.5\"' '$work/body'"
check "process metrics" bash -c "grep -q '^process_resident_memory_bytes [1-9]' '$work/body' && grep -q '^process_open_fds ' '$work/body'"
check "promtool check metrics" bash -c "promtool check metrics < '$work/body' >/dev/null 2>&1"
req -H 'Accept: application/openmetrics-text; version=1.0.0' "$gw/q/metrics"
check "OpenMetrics when asked" grep -qi '^content-type: application/openmetrics-text; version=1.0.0' <<<"$hdrs"
check "OpenMetrics ends with # EOF" [ "$(tail -n1 "$work/body")" = "# EOF" ]
check "OpenMetrics counter families drop _total" bash -c "grep -q '^# TYPE http_requests counter' '$work/body' && grep -q '^http_requests_total{' '$work/body'"

# ---- access log --------------------------------------------------------------

sleep 0.3 # the log is flushed every 100 ms
check "access log has JSON lines" [ "$(jq -c 'select(.method)' "$work/gw1.log" 2>/dev/null | wc -l)" -gt 50 ]
check "access log fields" jqf -e -s 'map(select(.route == "/api/v11/transactions" and .status == 202))[0] | has("time") and has("grpc_status") and has("duration_us") and has("request_id") and .upstream == "default" and .upstream_us >= 0 and .upstream_us <= .duration_us' "$work/gw1.log"
check "access log: no upstream time without a call" jqf -e -s 'map(select(.route == null)) | length > 0 and all(.upstream_us == null)' "$work/gw1.log"

# ---- drain -------------------------------------------------------------------

kill -TERM "$main_gw_pid"
deadline=$((SECONDS + 12))
while running "$main_gw_pid" && [ $SECONDS -lt $deadline ]; do sleep 0.1; done
check "SIGTERM drains and exits" bash -c "! [ -e /proc/$main_gw_pid ] || grep -q ' Z ' /proc/$main_gw_pid/stat"
wait "$main_gw_pid"
check "... with status 0" [ $? -eq 0 ]

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
