#!/usr/bin/env bash
# grpc_passthrough_test: the gRPC front door with gRPC clients we did not
# write. Backends: tests/grpc/echo-server.cjs (EchoService on @grpc/grpc-js),
# tests/grpc/gzip_echo.py (GzipEchoService on Python's grpcio: replies
# gzip-compressed) and aurigraph-services (the V11 services on gRPC C
# core). Clients: tests/grpc/passthrough.cjs (@grpc/grpc-js and Node's
# http2) and core_client (gRPC C core), each run against the backends
# directly, which shows the checks themselves right, and then through the
# gateway's gRPC listener. Then the release controls on gRPC traffic alone:
# a canary failing 5% rolled back by the gates, a blue-green switch under
# h2load gRPC load with 0 failed calls, and drains (SIGTERM, POST
# /admin/drain) with calls in flight that finish. Loopback only, ports
# picked by the kernel, every run bounded by timeout.
source "$(dirname "$0")/lib.sh"
source "$src/tests/grpc/lib.sh"

need_binaries
need curl jq h2load timeout flock
core_client=$build/core_client
[ -x "$core_client" ] || give_up "missing $core_client"
py=/usr/bin/python3 # Debian's, where python3-grpcio is (not a pyenv's)
"$py" -c 'import grpc' 2>/dev/null || give_up "python3-grpcio is needed (scripts/install-deps)"
grpc_node || give_up "the Node gRPC packages (tests/grpc/package-lock.json) did not install"
protoc=${PROTOC:-protoc}
wkt=${WKT_INCLUDE:-/usr/include}

# suite NAME COMMAND...: a client suite, bounded; its own "N passed, M
# failed" is added to this test's counts (and a suite that did not get as
# far as its summary is one failure more)
suite() {
  local name=$1; shift
  timeout 150 "$@" >"$work/$name.out" 2>&1
  local rc=$? line p f
  sed 's/^/   /' "$work/$name.out"
  line=$(grep -E '[0-9]+ passed, [0-9]+ failed' "$work/$name.out" | tail -n1)
  p=$(sed -nE 's/.* ([0-9]+) passed, ([0-9]+) failed.*/\1/p' <<<"$line")
  f=$(sed -nE 's/.* ([0-9]+) passed, ([0-9]+) failed.*/\2/p' <<<"$line")
  if [ -z "$p" ]; then bad "$name: no summary (exit $rc)"; return; fi
  passed=$((passed + p)); failed=$((failed + f))
  [ "$rc" = 0 ] || [ "$f" != 0 ] || bad "$name: exit $rc after $p passed"
}

start_gzip() { # sets gzip_port
  "$py" "$grpc_dir/gzip_echo.py" >"$work/gzip.out" 2>"$work/gzip.err" &
  pids+=("$!")
  local line
  line=$(wait_line "$work/gzip.out" 'gzip-echo listening on' 30) || { cat "$work/gzip.err"; return 1; }
  gzip_port=${line##*:}
}

# vmrss PID: resident kB
vmrss() { awk '/^VmRSS:/ {print $2}' "/proc/$1/status" 2>/dev/null; }

start_echo echo || give_up "echo-server did not start"
start_gzip || give_up "gzip_echo.py did not start"
start_services svc || give_up "aurigraph-services did not start"
svc_main=$svc_port
down=127.0.0.1:1 # nothing listens there

echo "--- direct: the clients against the backends themselves"
suite passthrough_direct node "$grpc_dir/passthrough.cjs" "127.0.0.1:$echo_port" \
  --gzip-target "127.0.0.1:$gzip_port" --down-target "$down" --label "passthrough.cjs direct"
suite core_direct "$core_client" --v11 "127.0.0.1:$svc_main" --echo "127.0.0.1:$echo_port" \
  --gzip "127.0.0.1:$gzip_port" --label "core_client direct"

# ---- through the gateway --------------------------------------------------------
timed_ms=1500     # TimedEchoService's cluster: a deadline only the gateway sets
max_message=3500000 # grpc.max_message: over the 3 MiB the large checks send
cat >"$work/gw.yaml" <<YAML
grpc:
  max_message: $max_message
clusters:
  - name: default
    targets: ["127.0.0.1:$svc_main"]
  - name: echo
    targets: ["127.0.0.1:$echo_port"]
    timeout_ms: 60000
  - name: echo_timed
    targets: ["127.0.0.1:$echo_port"]
    timeout_ms: $timed_ms
  - name: gzip
    targets: ["127.0.0.1:$gzip_port"]
  - name: down
    targets: ["$down"]
    connect_timeout_ms: 500
services:
  aurigraph.test.EchoService: echo
  aurigraph.test.TimedEchoService: echo_timed
  aurigraph.test.GzipEchoService: gzip
  aurigraph.test.DownService: down
YAML
start_gateway gw --config "$work/gw.yaml" || give_up "the gateway did not start"
[ -n "${gw_grpc_port:-}" ] || give_up "the gateway has no gRPC listener (start_gateway set no gw_grpc_port)"
gwg=127.0.0.1:$gw_grpc_port
# ready: every cluster but "down" UP (its own check stays DOWN)
clusters_up() {
  curl -s --max-time 2 "$gw/q/health/ready" | jq -e '[.checks[] | select(.name | startswith("upstream ")) |
    select(.name != "upstream down") | .status] | length == 4 and all(. == "UP")' >/dev/null 2>&1
}
deadline=$((SECONDS + 20))
until clusters_up || [ $SECONDS -ge $deadline ]; do sleep 0.1; done
check "the gateway sees default, echo, echo_timed and gzip UP" clusters_up

echo "--- through the gateway's gRPC listener ($gwg)"
# first, on a gateway fresh from its start, its memory while a client
# reads a fast 64 MiB stream slowly, and stops reading for 2 s after the
# first MiB (the backend could push the rest meanwhile): a figure for the
# report, not a bound asserted here
rss0=$(vmrss "$gw_pid")
node "$grpc_dir/passthrough.cjs" "$gwg" --only slow-reader --slow-mib 64 --stall-ms 2000 --label slow-reader >"$work/slow.out" 2>&1 &
slow_pid=$!
pids+=("$slow_pid")
rss_max=$rss0
while running "$slow_pid"; do
  r=$(vmrss "$gw_pid"); [ -n "$r" ] && [ "$r" -gt "$rss_max" ] && rss_max=$r
  sleep 0.1
done
wait "$slow_pid"
rc=$?
check "a 64 MiB stream read slowly through the gateway: complete, nothing lost" [ "$rc" = 0 ]
sed 's/^/   /' "$work/slow.out"
echo "   gateway VmRSS: $rss0 kB before, at most $rss_max kB while the 64 MiB stream was read slowly (with a 2 s stall)"

suite passthrough_gateway node "$grpc_dir/passthrough.cjs" "$gwg" --gzip-target "$gwg" --down-target "$gwg" \
  --timed-ms "$timed_ms" --max-message "$max_message" --label "passthrough.cjs through the gateway"
suite core_gateway "$core_client" --v11 "$gwg" --echo "$gwg" --gzip "$gwg" --label "core_client through the gateway"

metrics=$(curl -s --max-time 5 "$gw/q/metrics")
check "grpc_requests_total counts gRPC calls by method and source=grpc" \
  grep -q 'grpc_requests_total{service="aurigraph.test.EchoService",method="_other",source="grpc",code="OK"}' <<<"$metrics"
check "... the V11 unary methods by name" \
  grep -q 'grpc_requests_total{service="aurigraph.v11.TransactionService",method="SubmitTransaction",source="grpc",code="OK"}' <<<"$metrics"

# ---- drain (SIGTERM) with calls in flight ------------------------------------
node "$grpc_dir/calls.cjs" inflight "$gwg" 4 >"$work/inflight.out" 2>&1 &
inflight_pid=$!
pids+=("$inflight_pid")
if wait_line "$work/inflight.out" '^in flight' 30 >/dev/null; then
  kill -TERM "$gw_pid"
  wait "$inflight_pid"
  rc=$? # (a $(...) in check's arguments would run before a $? after it)
  check "SIGTERM: the 8 gRPC calls in flight finish OK ($(tail -n1 "$work/inflight.out"))" [ "$rc" = 0 ]
  check "... and the gateway exits 0 after them" wait_exit "$gw_pid" 40
  wait "$gw_pid"; rc=$?
  check "... status 0 (got $rc)" [ "$rc" = 0 ]
else
  bad "the in-flight calls did not all start: $(cat "$work/inflight.out")"
fi
sed 's/^/   /' "$work/inflight.out"

# ---- a gRPC canary failing 5%, rolled back by the gates on gRPC traffic alone -----
start_services stable --version-tag stable || give_up "aurigraph-services (stable) did not start"
stable_port=$svc_port
start_services canary --version-tag canary --fail-rate 0.05 || give_up "aurigraph-services (canary) did not start"
canary_port=$svc_port
start_gateway gw_canary --access-log off --upstream-version "stable=127.0.0.1:$stable_port" \
  --upstream-version "canary=127.0.0.1:$canary_port,0" || give_up "the canary gateway did not start"
gwg=127.0.0.1:$gw_grpc_port # this gateway's own gRPC port
admin_line=$(wait_line "$work/gw_canary.err" 'admin listening on' 10) || give_up "no admin listener"
admin=http://127.0.0.1:${admin_line##*:}
wait_ready "$gw" 15 || give_up "the canary gateway is not ready"
cluster() { curl -s --max-time 5 "$admin/admin/clusters/default" | jq -r "$1"; }

# a SubmitTransaction as h2load sends it: the 5-byte gRPC prefix and the message
printf 'user_id {value: "grpc-canary"} from_address {value: "0xa1"} to_address {value: "0xb2"} amount {value: "1.25"} transaction_type: TRANSFER' |
  "$protoc" -I"$src/proto" -I"$wkt" --encode=aurigraph.v11.SubmitTransactionRequest "$src/proto/aurigraph/v11/transaction.proto" \
  >"$work/submit.pb" || give_up "protoc --encode failed"
n=$(stat -c %s "$work/submit.pb")
{ printf '\0'; printf "\\$(printf %03o $((n >> 24 & 255)))\\$(printf %03o $((n >> 16 & 255)))\\$(printf %03o $((n >> 8 & 255)))\\$(printf %03o $((n & 255)))"; cat "$work/submit.pb"; } >"$work/submit.grpc"
grpc_load() { # grpc_load N [h2load flags]: N unary SubmitTransaction calls over h2c
  local n=$1; shift
  timeout 60 h2load -n "$n" -c 4 -m 8 "$@" -H 'content-type: application/grpc' -H 'te: trailers' -d "$work/submit.grpc" \
    "http://$gwg/aurigraph.v11.TransactionService/SubmitTransaction" >"$work/h2load.out" 2>&1
}
code=$(curl -s -o "$work/r.json" -w '%{http_code}' -X POST -H 'content-type: application/json' "$admin/admin/clusters/default/rollout" \
  -d '{"to":"canary","steps":[10,25,50,100],"hold":"3s","window":"2s","interval":"200ms","min_requests":40}')
check "canary rollout starts: 202" [ "$code" = 202 ]
t0=$SECONDS
deadline=$((SECONDS + 60))
while [ $SECONDS -lt $deadline ] && [ "$(cluster .rollout.state)" = progressing ]; do grpc_load 400; done
check "the failing gRPC canary is rolled back by the gates" [ "$(cluster .rollout.state)" = rolled_back ]
echo "   after $((SECONDS - t0)) s of gRPC load only: $(cluster .rollout.reason)"
check "... for its error rate" [ "$(cluster '.rollout.reason | startswith("error_rate")')" = true ]
before=$(cluster '.versions[] | select(.name=="canary") | .requests')
grpc_load 400
after=$(cluster '.versions[] | select(.name=="canary") | .requests')
check "after the rollback no gRPC call reaches the canary ($before -> $after)" [ "$before" = "$after" ]
check "... and h2load saw every call answered" grep -q '400 succeeded, 0 failed, 0 errored' "$work/h2load.out"
check "rollback counted in metrics" grep -q 'gateway_rollbacks_total{cluster="default",reason="error_rate"} 1' \
  <<<"$(curl -s --max-time 5 "$gw/q/metrics")"
kill "$gw_pid"; wait "$gw_pid" 2>/dev/null

# ---- blue-green switch under h2load gRPC load: 0 failed calls -------------------
start_services green --version-tag green || give_up "aurigraph-services (green) did not start"
green_port=$svc_port
start_gateway gw_bg --access-log off --upstream-version "blue=127.0.0.1:$stable_port" \
  --upstream-version "green=127.0.0.1:$green_port,0" || give_up "the blue-green gateway did not start"
gwg=127.0.0.1:$gw_grpc_port
admin_line=$(wait_line "$work/gw_bg.err" 'admin listening on' 10) || give_up "no admin listener"
admin=http://127.0.0.1:${admin_line##*:}
wait_ready "$gw" 15 || give_up "the blue-green gateway is not ready"
# both loads going, then the switch 1 s into h2load's 4 s
node "$grpc_dir/calls.cjs" load "$gwg" 6 8 >"$work/load.out" 2>&1 &
load_pid=$!
pids+=("$load_pid")
wait_line "$work/load.out" '^load: calling' 20 >/dev/null || bad "the grpc-js load did not start: $(cat "$work/load.out")"
timeout 60 h2load -D 4 -c 4 -m 8 --rps 250 -H 'content-type: application/grpc' -H 'te: trailers' -d "$work/submit.grpc" \
  "http://$gwg/aurigraph.v11.TransactionService/SubmitTransaction" >"$work/h2load_bg.out" 2>&1 &
h2load_pid=$!
pids+=("$h2load_pid")
sleep 1
code=$(curl -s -o "$work/r.json" -w '%{http_code}' -X PUT -H 'content-type: application/json' "$admin/admin/clusters/default/weights" -d '{"blue":0,"green":100}')
check "weights to green through the admin API: 200" [ "$code" = 200 ]
wait "$h2load_pid"
sed -n '/^requests:/p;/^status codes:/p' "$work/h2load_bg.out" | sed 's/^/   h2load /'
check "h2load: every call answered 200 (0 failed, 0 errored)" \
  bash -c "grep -qE '^requests: ([1-9][0-9]*) total, [0-9]+ started, \\1 done, \\1 succeeded, 0 failed, 0 errored, 0 timeout' '$work/h2load_bg.out'"
wait "$load_pid"
rc=$?
tail -n1 "$work/load.out" | sed 's/^/   grpc-js /'
check "grpc-js under the switch: every call OK ($(tail -n1 "$work/load.out"))" [ "$rc" = 0 ]
check "... served by blue (tagged stable), then green" grep -qE 'versions .*stable=[1-9].*green=[1-9]|versions .*green=[1-9].*stable=[1-9]' "$work/load.out"
bg_codes=$(curl -s --max-time 5 "$gw/q/metrics" | grep '^grpc_requests_total{service="aurigraph.v11.TransactionService".*source="grpc"')
# h2load abandons the calls still in flight when -D ends (started - done):
# those, and only as many, may count as the client's CANCELLED
abandoned=$(sed -n 's/^requests: [0-9]* total, \([0-9]*\) started, \([0-9]*\) done.*/\1 \2/p' "$work/h2load_bg.out" |
  awk '{print $1 - $2}')
cancelled=$(grep 'code="CANCELLED"' <<<"$bg_codes" | awk '{s += $NF} END {print s + 0}')
check "the gateway counted no gRPC call but OK (and CANCELLED: $cancelled <= h2load's abandoned ${abandoned:-?}): $(tr '\n' ' ' <<<"$bg_codes")" \
  bash -c "[ -n '$bg_codes' ] && ! grep -v 'code=\"OK\"' <<<'$bg_codes' | grep -qv 'code=\"CANCELLED\"' &&
           [ '$cancelled' -le '${abandoned:-0}' ]"
check "both versions served" [ "$(cluster '[.versions[] | .requests > 0] == [true, true]')" = true ]

# ---- drain (POST /admin/drain) with calls in flight -----------------------------
# EchoService is the default cluster's here: point the inflight calls at a
# gateway that has it
kill "$gw_pid"; wait "$gw_pid" 2>/dev/null
start_gateway gw_drain --access-log off --config "$work/gw.yaml" || give_up "the drain gateway did not start"
admin_line=$(wait_line "$work/gw_drain.err" 'admin listening on' 10) || give_up "no admin listener"
admin=http://127.0.0.1:${admin_line##*:}
node "$grpc_dir/calls.cjs" inflight "127.0.0.1:$gw_grpc_port" 4 >"$work/inflight2.out" 2>&1 &
inflight_pid=$!
pids+=("$inflight_pid")
if wait_line "$work/inflight2.out" '^in flight' 30 >/dev/null; then
  code=$(curl -s -o /dev/null -w '%{http_code}' -X POST -H 'content-type: application/json' "$admin/admin/drain")
  check "POST /admin/drain: 202" [ "$code" = 202 ]
  wait "$inflight_pid"
  rc=$?
  check "/admin/drain: the 8 gRPC calls in flight finish OK ($(tail -n1 "$work/inflight2.out"))" [ "$rc" = 0 ]
  check "... and the gateway exits after them" wait_exit "$gw_pid" 40
else
  bad "the in-flight calls did not all start: $(cat "$work/inflight2.out")"
fi
sed 's/^/   /' "$work/inflight2.out"

summary
