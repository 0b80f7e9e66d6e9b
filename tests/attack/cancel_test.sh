#!/usr/bin/env bash
# cancel_test: clients that give up are not the upstream's failures. With a
# rollout to a canary in progress, clients send x-canary: always and then
# cancel: unary calls and streaming calls, by hanging up (HTTP/1.1) and by
# RST_STREAM (HTTP/2). Each cancel must show as 499 in http_requests_total
# (never a 5xx), as CANCELLED upstream, and stay out of the canary's window:
# no error, no request, no latency sample counted there, so the rollout keeps
# progressing (the streams were cancelled after 5.5 s: in the window they
# would trip the latency gates of 5 s and roll the canary back; the gates
# are that high so that a loaded machine's slow 800 ms calls do not).
source "$(dirname "$0")/../lib.sh"

need_binaries
need curl jq python3

start_services blue --version-tag blue || exit 1
blue_port=$svc_port
# every canary answer takes 800 ms: a client giving up after 0.4 s cancels a call in flight
start_services canary --version-tag canary --latency-ms 800 || exit 1
canary_port=$svc_port
start_gateway gw --upstream-version "blue=127.0.0.1:$blue_port" \
  --upstream-version "canary=127.0.0.1:$canary_port,0" || exit 1
line=$(wait_line "$work/gw.err" 'admin listening on' 10) || give_up "no admin listener"
admin=http://127.0.0.1:${line##*:}
wait_ready "$gw" 15 || give_up "gateway not ready"

code=$(curl -s -o "$work/rollout.json" -w '%{http_code}' -X POST -H 'content-type: application/json' "$admin/admin/clusters/default/rollout" \
  -d '{"to":"canary","steps":[50,100],"hold":"1h","window":"30s","interval":"200ms","min_requests":1,"gates":{"error_rate":0.01,"p95_ms":5000,"p99_ms":5000}}')
check "rollout starts (202)" [ "$code" = 202 ]

tx='{"userId":"cancel-test","fromAddress":"0xa1","toAddress":"0xb2","amount":"1.25","transactionType":"TRANSFER","gasLimit":"21000"}'
J='content-type: application/json'
clients=()

# 10 calls that complete on the canary (800 ms each): the window has real traffic
for i in $(seq 10); do
  curl -s -o /dev/null -w '%{http_code}\n' --max-time 10 -H 'x-canary: always' -H "$J" -d "$tx" \
    "$gw/api/v11/transactions" >>"$work/ok.codes" &
  clients+=($!)
done
# 10 unary calls cancelled after 0.4 s (HTTP/1.1: the client hangs up)
for i in $(seq 10); do
  curl -s -o /dev/null --max-time 0.4 -H 'x-canary: always' -H "$J" -d "$tx" "$gw/api/v11/transactions" &
  clients+=($!)
done
# 10 streaming calls cancelled after 5.5 s (HTTP/1.1 hang-up)
for i in $(seq 10); do
  curl -s -N -o /dev/null --max-time 5.5 -H 'x-canary: always' "$gw/api/v11/transactions:events" &
  clients+=($!)
done
# 5 unary and 5 streaming calls reset by RST_STREAM on one HTTP/2 connection
HOLD_S=0.4 python3 "$src/tests/attack/h2_cancel.py" 127.0.0.1 "$gw_port" /api/v11/transactions 5 "$tx" >"$work/h2u.out" &
clients+=($!)
HOLD_S=5.5 python3 "$src/tests/attack/h2_cancel.py" 127.0.0.1 "$gw_port" /api/v11/transactions:events 5 >"$work/h2s.out" &
clients+=($!)
wait "${clients[@]}" 2>/dev/null
check "the 10 completed calls answered 202" [ "$(grep -c '^202$' "$work/ok.codes")" = 10 ]
check "both HTTP/2 clients reset their streams" [ "$(cat "$work/h2u.out" "$work/h2s.out" | paste -sd' ')" = "5 5" ]

# metric NAME_AND_LABELS_REGEX: the sum of the matching samples
metric() { curl -s --max-time 5 "$gw/q/metrics" | awk -v re="$1" '$1 ~ re { s += $2 } END { print s + 0 }'; }
deadline=$((SECONDS + 10))
while [ $SECONDS -lt $deadline ] && [ "$(metric '^http_requests_total\{.*code="499"')" -lt 30 ]; do sleep 0.2; done
n499=$(metric '^http_requests_total\{.*code="499"')
n5xx=$(metric '^http_requests_total\{.*code="(5..|5xx)"')
echo "   http_requests_total: 499 x $n499, 5xx x $n5xx"
check "every cancel is a 499 (30 expected, got $n499)" [ "$n499" = 30 ]
check "no cancel is a 5xx ($n5xx)" [ "$n5xx" = 0 ]
ncanc=$(metric '^gateway_upstream_requests_total\{.*version="canary",code="CANCELLED"')
check "the canary's upstream calls: 30 CANCELLED ($ncanc)" [ "$ncanc" = 30 ]
ngrpc=$(metric '^grpc_requests_total\{.*code="CANCELLED"')
check "grpc_requests_total counts them CANCELLED ($ngrpc)" [ "$ngrpc" = 30 ]

sleep 0.6 # a few gate evaluations over the window with the cancels in it
curl -s --max-time 5 "$admin/admin/clusters/default" >"$work/cluster.json"
jq -c '{rollout: .rollout | {state, reason, window}, canary: (.versions[] | select(.name == "canary") | {requests, errors})}' \
  "$work/cluster.json"
check "the canary's window counts no error" jqt 'input | (.versions[] | select(.name == "canary") | .errors) == 0 and .rollout.window.errors == 0' "$work/cluster.json"
check "nor the cancelled calls as requests: 10 completed" jqt 'input | (.versions[] | select(.name == "canary") | .requests) == 10' "$work/cluster.json"
check "the rollout is still progressing (not rolled back)" jqt 'input | .rollout.state == "progressing"' "$work/cluster.json"
check "the gateway still serves" [ "$(curl -s -o /dev/null -w '%{http_code}' --max-time 5 -H "$J" -d "$tx" "$gw/api/v11/transactions")" = 202 ]
summary
