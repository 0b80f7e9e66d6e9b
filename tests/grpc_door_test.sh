#!/usr/bin/env bash
# grpc_door_test: the gRPC listener (listen_grpc) with clients that speak
# HTTP/2 and not gRPC's libraries (those are tests/grpc_clients_*): h2load
# in gRPC mode (framed bodies, content-type application/grpc, te:
# trailers) for unary calls through the door in bulk, nghttp -v to read
# headers, messages and trailers exactly as they travel, against the
# reference services. Every wait bounded, loopback ports picked at run
# time. Ends with "N passed, N failed".
#
# Env (set by ctest): AG_BUILD_DIR, AG_SOURCE_DIR.
source "$(dirname "$0")/lib.sh"

need_binaries
need curl nghttp h2load

G_HDR=(-H 'content-type: application/grpc' -H 'te: trailers')
# an empty message (every field default): valid for GetConsensusStatus
printf '\x00\x00\x00\x00\x00' >"$work/empty.grpc"

# call NAME PATH BODY [NGHTTP ARGS...]: one call with nghttp -v into $work/NAME.out
call() {
  local name=$1 path=$2 body=$3; shift 3
  timeout 20 nghttp -v "${G_HDR[@]}" "$@" -d "$body" "http://127.0.0.1:$gw_grpc_port$path" >"$work/$name.out" 2>&1
}
# recv NAME FIELD: the value of a field the call received (headers or trailers)
recv() { LC_ALL=C sed -n "s/^\[ *[0-9.]*\] recv (stream_id=[0-9]*) $2: //p" "$work/$1.out" | head -n1 | tr -d '\r'; }
metric_sum() { # metric_sum REGEX: the sum of the /q/metrics samples matching REGEX
  curl -s --max-time 5 "$gw/q/metrics" | grep -E "$1" | awk '{s += $NF} END {print s + 0}'
}

start_services svc || give_up "aurigraph-services did not start"
cat >"$work/gw.yaml" <<EOF
grpc:
  max_message: 64KiB
EOF
start_gateway gw --upstream "127.0.0.1:$svc_port" --config "$work/gw.yaml" || give_up "gateway did not start"
check "the gRPC listener's start line names its port" test -n "$gw_grpc_port"
check "its start line, exactly" grep -qE "^aurigraph-gateway grpc listening on 127\.0\.0\.1:$gw_grpc_port \(2 workers\)$" \
  "$work/gw.err"
wait_ready "$gw" 20 || give_up "gateway not ready"

# ---- unary calls -------------------------------------------------------------

call unary /aurigraph.v11.ConsensusService/GetConsensusStatus "$work/empty.grpc"
check "unary: :status 200" test "$(recv unary :status)" = 200
check "unary: content-type application/grpc" test "$(recv unary content-type)" = application/grpc
check "unary: a response message" grep -aq 'recv DATA frame' "$work/unary.out"
check "unary: grpc-status 0 in trailers" test "$(recv unary grpc-status)" = 0
check "unary: the trailers end the stream" \
  bash -c "grep -a -A1 'recv (stream_id=13) grpc-status' '$work/unary.out' | grep -q 'recv HEADERS frame' &&
           grep -a -A2 'recv (stream_id=13) grpc-status' '$work/unary.out' | grep -q END_STREAM"

h2load -n 2000 -c 4 -m 10 -t 1 "${G_HDR[@]}" -d "$work/empty.grpc" \
  "http://127.0.0.1:$gw_grpc_port/aurigraph.v11.ConsensusService/GetConsensusStatus" >"$work/h2load.out" 2>&1
check "h2load: 2000 unary calls, 2000 succeeded" grep -q '2000 succeeded, 0 failed, 0 errored' "$work/h2load.out"
sleep 0.3 # the access log is written every 100 ms
check "grpc_requests_total counts them by door (source grpc) and code" \
  test "$(metric_sum '^grpc_requests_total\{service="aurigraph.v11.ConsensusService",method="GetConsensusStatus",source="grpc",code="OK"')" -ge 2001
check "the version's upstream window counts them (the rollout's gates)" \
  test "$(metric_sum '^gateway_upstream_requests_total\{cluster="default",version="default",code="OK"')" -ge 2001
# (a burst faster than the log's 100 ms batches may drop lines, by design: a smaller one may not)
logged() { grep -c '"route":"/aurigraph.v11.ConsensusService/GetConsensusStatus","status":200,"grpc_status":0' "$work/gw.log"; }
before=$(logged)
h2load -n 300 -c 1 -m 1 -t 1 "${G_HDR[@]}" -d "$work/empty.grpc" \
  "http://127.0.0.1:$gw_grpc_port/aurigraph.v11.ConsensusService/GetConsensusStatus" >"$work/h2load2.out" 2>&1
sleep 0.3
check "an access-log line per call, route = the gRPC path, the upstream named" test "$(($(logged) - before))" = 300
check "access log: the upstream and its time" \
  grep -q '"grpc_status":0,"bytes":[0-9]*,"duration_us":[0-9]*,"upstream_us":[0-9]*,"upstream":"default"' "$work/gw.log"

# ---- what the door answers itself ---------------------------------------------

call nomethod /aurigraph.v11.ConsensusService/NoSuchMethod "$work/empty.grpc"
check "unknown method: grpc-status 12 (UNIMPLEMENTED)" test "$(recv nomethod grpc-status)" = 12
check "unknown method: trailers-only (no DATA)" bash -c "! grep -aq 'recv DATA frame' '$work/nomethod.out'"
check "unknown method: the message names it" \
  test "$(recv nomethod grpc-message)" = "unknown method /aurigraph.v11.ConsensusService/NoSuchMethod"
call nosvc /no.such.Service/Call "$work/empty.grpc"
check "unknown service: grpc-status 12" test "$(recv nosvc grpc-status)" = 12
call badpath /nopath "$work/empty.grpc"
check "malformed path: grpc-status 12" test "$(recv badpath grpc-status)" = 12

timeout 20 nghttp -v -H 'content-type: application/json' -d "$work/empty.grpc" \
  "http://127.0.0.1:$gw_grpc_port/aurigraph.v11.ConsensusService/GetConsensusStatus" >"$work/json.out" 2>&1
check "not gRPC (application/json): HTTP 415" test "$(recv json :status)" = 415
check "415 carries no grpc-status" test -z "$(recv json grpc-status)"
code=$(curl -s -o /dev/null -w '%{http_code}' --http2-prior-knowledge --max-time 10 \
  "http://127.0.0.1:$gw_grpc_port/aurigraph.v11.ConsensusService/GetConsensusStatus")
check "a GET: HTTP 405" test "$code" = 405

# a message over grpc.max_message (64 KiB here): refused on its prefix
python3 -c 'import sys; n = 70000; sys.stdout.buffer.write(bytes([0]) + n.to_bytes(4, "big") + b"\x0a" * n)' \
  >"$work/big.grpc"
call big /aurigraph.v11.ConsensusService/GetConsensusStatus "$work/big.grpc"
check "message over the limit: grpc-status 8 (RESOURCE_EXHAUSTED)" test "$(recv big grpc-status)" = 8
check "message over the limit: the message says so" \
  test "$(recv big grpc-message)" = "request message of 70000 bytes is over the limit of 65536 bytes"
# the compressed flag without grpc-encoding (gRPC: INTERNAL)
printf '\x01\x00\x00\x00\x00' >"$work/flag.grpc"
call flag /aurigraph.v11.ConsensusService/GetConsensusStatus "$work/flag.grpc"
check "compressed flag without grpc-encoding: grpc-status 13" test "$(recv flag grpc-status)" = 13
# a body that ends inside a message
printf '\x00\x00\x00\x00\x09abc' >"$work/cut.grpc"
call cut /aurigraph.v11.ConsensusService/GetConsensusStatus "$work/cut.grpc"
check "a message cut short: grpc-status 13" test "$(recv cut grpc-status)" = 13
call after /aurigraph.v11.ConsensusService/GetConsensusStatus "$work/empty.grpc"
check "and the gateway serves on" test "$(recv after grpc-status)" = 0

# ---- upstream down --------------------------------------------------------------

kill "$svc_pid" && wait "$svc_pid" 2>/dev/null
call down /aurigraph.v11.ConsensusService/GetConsensusStatus "$work/empty.grpc"
check "upstream down: grpc-status 14 (UNAVAILABLE)" test "$(recv down grpc-status)" = 14

# ---- a drain with a call in flight ----------------------------------------------

start_services slow --latency-ms 1500 || give_up "slow aurigraph-services did not start"
start_gateway slowgw --upstream "127.0.0.1:$svc_port" || give_up "gateway did not start"
wait_ready "$gw" 20 || give_up "gateway not ready"
# two calls on one connection, the second held back (nghttp starts both at
# once): both are in flight when the drain starts
call inflight /aurigraph.v11.ConsensusService/GetConsensusStatus "$work/empty.grpc" -m 2 &
client=$!
sleep 0.5
kill -TERM "$gw_pid"
wait "$client"
check "drain: the call in flight finished with grpc-status 0" \
  test "$(LC_ALL=C grep -ac 'recv (stream_id=[0-9]*) grpc-status: 0' "$work/inflight.out")" = 2
check "drain: the client heard GOAWAY" grep -aq 'recv GOAWAY frame' "$work/inflight.out"
check "drain: the gateway exits 0 once nothing is in flight" wait_exit "$gw_pid" 10
wait "$gw_pid"
check "drain: exit status 0" test $? = 0
check "drain: the listener is closed after it" \
  bash -c "! curl -s -o /dev/null --http2-prior-knowledge --max-time 5 http://127.0.0.1:$gw_grpc_port/"

summary
