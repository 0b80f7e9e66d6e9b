#!/usr/bin/env bash
# http1_uring_test: the io_uring HTTP/1.1 front end (gateway/front/) at the
# byte level, with raw sockets (bash's /dev/tcp): requests split byte by
# byte, pipelined batches answered in order, chunked bodies, HTTP/1.0,
# Connection: close, 100-continue, 413 and 400 as error JSON, a reader that
# reads nothing for a while, clients that leave mid-request, the hand-off
# of HTTP/2 (prior knowledge, h2c upgrade) to h2o, access log and metrics
# of what it served, the drain, and --http1 h2o. Every wait is bounded.
#
# Env (set by ctest): AG_BUILD_DIR, AG_SOURCE_DIR.
source "$(dirname "$0")/lib.sh"

need_binaries
gateway_cmd=("$gateway_bin")
need jq
cleanup_hook() { exec 3<&- 4<&- 5<&- 6<&- 2>/dev/null; }

# start_gateway, then until it is ready
start_gateway_ready() { start_gateway "$@" && wait_ready "$gw" 10; }

# raw OUT SECONDS: sends stdin on one connection as one write, then reads
# until the gateway closes or SECONDS pass
raw() {
  local out=$1 secs=$2
  exec 3<>"/dev/tcp/127.0.0.1/$gw_port" || return 1
  cat >&3
  timeout "$secs" cat <&3 >"$out" 2>/dev/null
  local rc=$?
  exec 3<&-
  return $rc
}
# the status of every response in a capture (bodies end without a newline)
statuses() { grep -ao 'HTTP/1\.[01] [0-9][0-9][0-9]' "$1" | awk '{print $2}' | tr '\n' ' '; }

submit='{"userId":"bob","fromAddress":"0xa1","toAddress":"0xb2","amount":"3.50","transactionType":"TRANSFER"}'

start_services svc || { echo "0 passed, 1 failed"; exit 1; }
start_gateway_ready gw --upstream "127.0.0.1:$svc_port" || { echo "0 passed, 1 failed"; exit 1; }
check "io_uring serves (no fallback line)" bash -c "! grep -q 'io_uring unavailable' '$work/gw.err'"
check "the gateway holds an io_uring instance" bash -c "ls -l /proc/$gw_pid/fd 2>/dev/null | grep -q io_uring"

# a client that never finishes its headers: checked at the end, once h2o's
# 10 s request timeout has passed
exec 6<>"/dev/tcp/127.0.0.1/$gw_port"
printf 'GET /api/v11/bridge/stats HTTP/1.1\r\nHost: x\r\nX-Slow: ' >&6
slow_started=$SECONDS

# ---- one request, split byte by byte -----------------------------------------
request=$'GET /api/v11/transactions/stats HTTP/1.1\r\nHost: x\r\nX-Request-Id: split-1\r\nConnection: close\r\n\r\n'
exec 4<>"/dev/tcp/127.0.0.1/$gw_port"
for ((i = 0; i < ${#request}; i++)); do printf '%s' "${request:i:1}" >&4; sleep 0.005; done
timeout 5 cat <&4 >"$work/split" 2>/dev/null
check "split byte by byte: answered, then closed" [ $? -eq 0 ]
exec 4<&-
check "... 200 with the request id" bash -c "grep -aq '^HTTP/1.1 200' '$work/split' && grep -aqi '^x-request-id: split-1' '$work/split'"
check "... Connection: close said" grep -aqi '^Connection: close' "$work/split"

# a body in pieces, headers first
exec 4<>"/dev/tcp/127.0.0.1/$gw_port"
printf 'POST /api/v11/transactions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: %d\r\nConnection: close\r\n\r\n' ${#submit} >&4
sleep 0.1; printf '%s' "${submit:0:20}" >&4; sleep 0.1; printf '%s' "${submit:20}" >&4
timeout 5 cat <&4 >"$work/pieces" 2>/dev/null
exec 4<&-
check "body in pieces: 202" grep -aq '^HTTP/1.1 202' "$work/pieces"
check "... the transaction" bash -c "tail -n1 '$work/pieces' | jq -e -n 'input | .userId == \"bob\" and .status == \"PENDING\"' >/dev/null"

# ---- pipelining: 20 requests in one write, answers in order ------------------
{
  for i in $(seq 1 20); do
    if [ $((i % 2)) = 0 ]; then
      printf 'GET /api/v11/consensus/status HTTP/1.1\r\nHost: x\r\nX-Request-Id: pipe-%02d\r\n\r\n' "$i"
    else
      printf 'POST /api/v11/transactions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nX-Request-Id: pipe-%02d\r\nContent-Length: %d\r\n\r\n%s' "$i" ${#submit} "$submit"
    fi
  done
  printf 'GET /api/v11/bridge/stats HTTP/1.1\r\nHost: x\r\nX-Request-Id: pipe-21\r\nConnection: close\r\n\r\n'
} | raw "$work/pipelined" 10
check "pipelined batch: closed after the last" [ $? -eq 0 ]
ids=$(grep -aoi '^x-request-id: pipe-[0-9]*' "$work/pipelined" | awk '{print $2}' | tr -d '\r' | tr '\n' ' ')
check "pipelined batch: 21 answers in request order" [ "$ids" = "$(for i in $(seq 1 21); do printf 'pipe-%02d ' "$i"; done)" ]
check "... with the right statuses" [ "$(statuses "$work/pipelined")" = "$(for i in $(seq 1 20); do [ $((i % 2)) = 0 ] && printf '200 ' || printf '202 '; done)200 " ]

# ---- chunked request bodies -----------------------------------------------------
exec 4<>"/dev/tcp/127.0.0.1/$gw_port"
printf 'POST /api/v11/transactions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n' >&4
sleep 0.05; printf '%x;ext=1\r\n%s\r\n' 32 "${submit:0:32}" >&4
sleep 0.05; printf '%x\r\n%s\r\n' $((${#submit} - 32)) "${submit:32}" >&4
sleep 0.05; printf '0\r\nX-Trailer: t\r\n\r\n' >&4
timeout 5 cat <&4 >"$work/chunked" 2>/dev/null
exec 4<&-
check "chunked body (extension, trailer, split): 202" grep -aq '^HTTP/1.1 202' "$work/chunked"
check "... decoded" bash -c "tail -n1 '$work/chunked' | jq -e -n 'input | .userId == \"bob\"' >/dev/null"
printf 'POST /api/v11/transactions HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nxx\r\n0\r\n\r\n' | raw "$work/badchunk" 5
check "broken chunked encoding: 400 error JSON, closed" bash -c "[ $? -eq 0 ] && grep -aq '^HTTP/1.1 400' '$work/badchunk' && tail -n1 '$work/badchunk' | jq -e -n 'input | .code == 3' >/dev/null"
# a chunked body followed by a pipelined request
{
  printf 'POST /api/v11/transactions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n%x\r\n%s\r\n0\r\n\r\n' ${#submit} "$submit"
  printf 'GET /api/v11/bridge/stats HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n'
} | raw "$work/chunkpipe" 5
check "chunked body then a pipelined request: 202 200" [ "$(statuses "$work/chunkpipe")" = "202 200 " ]

# ---- persistence rules -------------------------------------------------------------
printf 'GET /api/v11/bridge/stats HTTP/1.0\r\n\r\n' | raw "$work/h10" 5
check "HTTP/1.0: answered and closed" bash -c "[ $? -eq 0 ] && grep -aq '^HTTP/1.1 200' '$work/h10' && grep -aqi '^Connection: close' '$work/h10'"
printf 'GET /api/v11/bridge/stats HTTP/1.0\r\nConnection: keep-alive\r\n\r\n' | raw "$work/h10ka" 1
check "HTTP/1.0 keep-alive: kept open" bash -c "[ $? -eq 124 ] && grep -aqi '^Connection: keep-alive' '$work/h10ka'"
printf 'GET /api/v11/bridge/stats HTTP/1.1\r\nHost: x\r\n\r\n' | raw "$work/ka" 1
check "HTTP/1.1: keep-alive by default" bash -c "[ $? -eq 124 ] && grep -aq '^HTTP/1.1 200' '$work/ka'"
printf 'GET /api/v11/nothing HTTP/1.1\r\nHost: x\r\n\r\nGET /api/v11/bridge/stats HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n' | raw "$work/err-ka" 5
check "an error response keeps the connection" [ "$(statuses "$work/err-ka")" = "404 200 " ]

# ---- 100-continue, 413, 400 --------------------------------------------------------
exec 4<>"/dev/tcp/127.0.0.1/$gw_port"
printf 'POST /api/v11/transactions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nExpect: 100-continue\r\nContent-Length: %d\r\nConnection: close\r\n\r\n' ${#submit} >&4
IFS= read -r -t 3 line <&4
check "Expect: 100-continue gets 100 Continue first" [ "${line%$'\r'}" = "HTTP/1.1 100 Continue" ]
printf '%s' "$submit" >&4
timeout 5 cat <&4 >"$work/continue" 2>/dev/null
exec 4<&-
check "... then the 202" grep -aq '^HTTP/1.1 202' "$work/continue"
printf 'POST /api/v11/transactions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 999999999\r\n\r\n{"a' | raw "$work/huge" 5
check "Content-Length over the limit: 413, closed" bash -c "[ $? -eq 0 ] && grep -aq '^HTTP/1.1 413' '$work/huge'"
check "... as error JSON" bash -c "tail -n1 '$work/huge' | jq -e -n 'input | .code == 8 and (.message | test(\"limit\"))' >/dev/null"
printf 'HELLO THERE\r\n\r\n' | raw "$work/garbage" 5
check "garbage: 400 error JSON, closed" bash -c "[ $? -eq 0 ] && grep -aq '^HTTP/1.1 400' '$work/garbage' && tail -n1 '$work/garbage' | jq -e -n 'input | .code == 3' >/dev/null"
printf 'GET / HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\n\r\n' | raw "$work/badlen" 5
check "broken Content-Length: 400" grep -aq '^HTTP/1.1 400' "$work/badlen"

# ---- a storm of malformed requests (tests/tools/http1_storm: mutated seeds, random pieces) ----
conns_active() { curl -s --max-time 3 "$gw/q/metrics" | awk '$1 == "gateway_connections_active" {print $2}'; }
if [ -x "$build/http1_storm" ]; then
  before=$(conns_active)
  storm=$(timeout 120 "$build/http1_storm" "$gw_port" 500 42 2>"$work/storm.err")
  echo "   $storm"
  check "storm: ran to the end" [ -n "$storm" ]
  check "storm: every answer starts with an HTTP status line" [ "$(awk '{print $NF}' <<<"$storm")" = 0 ]
  check "storm: most inputs answered" [ "$(awk '{print $4}' <<<"$storm")" -ge 100 ]
  check "storm: still serving" [ "$(curl -s -o /dev/null -w '%{http_code}' --max-time 3 "$gw/api/v11/bridge/stats")" = 200 ]
  # earlier tests' connections may still be closing: none may be added
  for _ in $(seq 50); do [ "$(conns_active)" -le "$before" ] && break; sleep 0.1; done
  check "storm: no connection left behind (gateway_connections_active <= $before)" [ "$(conns_active)" -le "$before" ]
else
  echo "FAIL: $build/http1_storm missing"; failed=$((failed + 1))
fi

# ---- a reader that reads nothing for a while ------------------------------------------
# 6000 pipelined requests (~380 KB) sent without reading: the gateway must
# stop reading ahead, keep serving others, and answer every one in the end
n=6000
{
  for i in $(seq 1 $((n - 1))); do printf 'GET /api/v11/transactions/stats HTTP/1.1\r\nHost: x\r\n\r\n'; done
  printf 'GET /api/v11/transactions/stats HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n'
} >"$work/many"
exec 5<>"/dev/tcp/127.0.0.1/$gw_port"
cat "$work/many" >&5 &
writer=$!
sleep 1
check "others are served while a reader stalls" [ "$(curl -s -o /dev/null -w '%{http_code}' --max-time 3 "$gw/api/v11/bridge/stats")" = 200 ]
timeout 30 cat <&5 >"$work/slow" 2>/dev/null
check "the stalled reader gets all $n answers, then the close" bash -c "[ $? -eq 0 ] && [ \$(grep -ao 'HTTP/1.1 200' '$work/slow' | wc -l) = $n ]"
wait $writer 2>/dev/null
exec 5<&-

# ---- clients that leave ------------------------------------------------------------------
for i in 1 2 3 4 5; do
  exec 4<>"/dev/tcp/127.0.0.1/$gw_port"
  printf 'GET /api/v11/transactions:events HTTP/1.1\r\nHost: x\r\n\r\n' >&4
  exec 4<&-
  exec 4<>"/dev/tcp/127.0.0.1/$gw_port"
  printf 'POST /api/v11/transactions HTTP/1.1\r\nHost: x\r\nContent-Length: 50\r\n\r\n{"us' >&4
  exec 4<&-
done
exec 4<>"/dev/tcp/127.0.0.1/$gw_port"
printf 'GET /api/v11/transactions:events HTTP/1.1\r\nHost: x\r\n\r\n' >&4
sleep 0.3
curl -s -o /dev/null -X POST -H 'content-type: application/json' -d "$submit" "$gw/api/v11/transactions"
IFS= read -r -t 3 line <&4
exec 4<&- # mid-stream
sleep 0.2
check "clients leaving mid-request and mid-stream: still serving" [ "$(curl -s -o /dev/null -w '%{http_code}' --max-time 3 "$gw/api/v11/bridge/stats")" = 200 ]

# ---- HTTP/2 goes to h2o ----------------------------------------------------------------
check "HTTP/2 prior knowledge handed to h2o" [ "$(curl -s --http2-prior-knowledge -o /dev/null -w '%{http_version} %{http_code}' "$gw/api/v11/bridge/stats")" = "2 200" ]
check "h2c upgrade handed to h2o" [ "$(curl -s --http2 -o /dev/null -w '%{http_version} %{http_code}' "$gw/api/v11/bridge/stats")" = "2 200" ]
check "h2c upgrade of a POST" [ "$(curl -s --http2 -o /dev/null -w '%{http_version} %{http_code}' -X POST -H 'content-type: application/json' -d "$submit" "$gw/api/v11/transactions")" = "2 202" ]

# ---- metrics and access log count what io_uring served ------------------------------------
metrics=$(curl -s "$gw/q/metrics")
count=$(awk 'index($0, "http_requests_total{method=\"GET\",route=\"/api/v11/consensus/status\",code=\"200\"}") == 1 {print $NF}' <<<"$metrics")
check "metrics count the pipelined requests" [ "${count:-0}" -ge 10 ]
sleep 0.3 # the log is flushed every 100 ms
check "access log has each pipelined request once" [ "$(jq -r 'select(.request_id | test("^pipe-")) | .request_id' "$work/gw.log" 2>/dev/null | sort -u | wc -l)" = 21 ]
check "... with route, status, upstream" jq -e -s 'map(select(.request_id == "pipe-02"))[0] | .route == "/api/v11/consensus/status" and .status == 200 and .grpc_status == 0 and .upstream == "default"' "$work/gw.log" >/dev/null

# ---- drain: idle connections closed, in-flight ones answered ---------------------------------
start_services slow --latency-ms 1000 || { echo "0 passed, 1 failed"; exit 1; }
start_gateway_ready gwdrain --upstream "127.0.0.1:$svc_port" || { echo "0 passed, 1 failed"; exit 1; }
exec 4<>"/dev/tcp/127.0.0.1/$gw_port"   # idle keep-alive connection
printf 'GET /q/health/live HTTP/1.1\r\nHost: x\r\n\r\n' >&4
sleep 0.2
exec 5<>"/dev/tcp/127.0.0.1/$gw_port"   # in flight when the drain starts
printf 'GET /api/v11/bridge/stats HTTP/1.1\r\nHost: x\r\n\r\n' >&5
sleep 0.2
kill -TERM "$gw_pid"
timeout 5 cat <&4 >"$work/idle" 2>/dev/null
check "drain closes an idle keep-alive connection" [ $? -eq 0 ]
timeout 5 cat <&5 >"$work/inflight" 2>/dev/null
check "drain answers the request in flight, with Connection: close" bash -c "[ $? -eq 0 ] && grep -aq '^HTTP/1.1 200' '$work/inflight' && grep -aqi '^Connection: close' '$work/inflight'"
exec 4<&- 5<&-
deadline=$((SECONDS + 10))
while kill -0 "$gw_pid" 2>/dev/null && ! grep -q '^[0-9]* (.*) Z' "/proc/$gw_pid/stat" 2>/dev/null && [ $SECONDS -lt $deadline ]; do sleep 0.1; done
wait "$gw_pid"
check "... and exits 0" [ $? -eq 0 ]

# ---- the slow client from the start -------------------------------------------------------
left=$((slow_started + 20 - SECONDS))
[ "$left" -ge 1 ] || left=1 # closed long ago if the timeout works: cat sees the end at once
timeout "$left" cat <&6 >"$work/slowloris" 2>/dev/null
check "a request that never completes is closed by the request timeout" [ $? -eq 0 ]
check "... without an answer" [ ! -s "$work/slowloris" ]
exec 6<&-

# ---- --http1 h2o -------------------------------------------------------------------------
start_gateway_ready gwh2o --upstream "127.0.0.1:$svc_port" --http1 h2o || { echo "0 passed, 1 failed"; exit 1; }
check "--http1 h2o: no io_uring instance" bash -c "! ls -l /proc/$gw_pid/fd 2>/dev/null | grep -q io_uring"
printf 'GET /api/v11/nothing HTTP/1.1\r\nHost: x\r\n\r\nGET /q/health/live HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n' | raw "$work/h2o" 5
check "--http1 h2o serves HTTP/1.1" [ "$(statuses "$work/h2o")" = "404 200 " ]

# ---- io_uring refused (seccomp, as under Docker's default profile): h2o serves ---------------
if [ -x "$build/no_io_uring" ]; then
  gateway_cmd=("$build/no_io_uring" "$gateway_bin")
  start_gateway_ready gwnouring --upstream "127.0.0.1:$svc_port"
  check "io_uring refused: the gateway starts anyway" [ $? -eq 0 ]
  check "... and says so in one line" [ "$(grep -c 'io_uring unavailable' "$work/gwnouring.err")" = 1 ]
  check "... naming the reason" grep -q 'io_uring unavailable (io_uring_setup: Operation not permitted)' "$work/gwnouring.err"
  printf 'GET /api/v11/nothing HTTP/1.1\r\nHost: x\r\n\r\nGET /q/health/live HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n' | raw "$work/nouring" 5
  check "... and serves HTTP/1.1 on h2o" [ "$(statuses "$work/nouring")" = "404 200 " ]
  gateway_cmd=("$gateway_bin")
else
  echo "FAIL: $build/no_io_uring missing"; failed=$((failed + 1))
fi

# ---- sanitizer builds: nothing reported by any gateway, at exit included ------------------
for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null; done
for p in "${pids[@]}"; do wait "$p" 2>/dev/null; done
pids=()
check "no sanitizer report from any gateway" bash -c "! grep -l 'Sanitizer\|runtime error' '$work'/gw*.err"

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
