#!/usr/bin/env bash
# canary_test: traffic split, the admin API and progressive rollouts, with
# real processes on loopback: aurigraph-services instances as blue / canary /
# green versions (some started with --fail-rate or --latency-ms), the
# gateway with --upstream-version, load from h2load and wrk (bounded by
# count and time), and the admin API driven with curl.
#
# Rollouts here use seconds where the release guide uses hours: holds of
# 1-3 s, windows of 1-2 s, evaluation every 200-250 ms.
source "$(dirname "$0")/lib.sh"

need_binaries
need jq h2load wrk curl

# start_services NAME [FLAGS...]: sets svc_port

# start_admin_gateway NAME [FLAGS...]: lib.sh's start_gateway with an admin
# listener on a free port; sets gw, admin, gw_pid, once it is ready
start_admin_gateway() {
  start_gateway "$1" --admin 127.0.0.1:0 --access-log off "${@:2}" || return 1
  local line
  line=$(wait_line "$work/$1.err" 'admin listening on' 10) || { cat "$work/$1.err"; return 1; }
  admin=http://127.0.0.1:${line##*:}
  wait_ready "$gw" 15 || { echo "gateway $1 not ready"; cat "$work/$1.err"; return 1; }
}

tx='{"userId":"canary-test","fromAddress":"0xa1","toAddress":"0xb2","amount":"1.25","transactionType":"TRANSFER","gasLimit":"21000"}'
printf '%s' "$tx" >"$work/tx.json"
cat >"$work/post.lua" <<LUA
wrk.method = "POST"
wrk.headers["content-type"] = "application/json"
wrk.body = [[$tx]]
LUA

# load N: N POSTs over HTTP/1.1 keep-alive (h2load --h1), 8 connections
load() {
  h2load --h1 -n "$1" -c 8 -m 1 -d "$work/tx.json" -H 'content-type: application/json' \
    "$gw/api/v11/transactions" >"$work/h2load.out" 2>&1
}
# cluster JSON FILTER: a value from GET /admin/clusters/default
cluster() { curl -s --max-time 5 "$admin/admin/clusters/default" | jq -r "$1"; }
version_of() { curl -s --max-time 5 -D - -o /dev/null -H 'content-type: application/json' -d "$tx" "$@" \
  "$gw/api/v11/transactions" | tr -d '\r' | awk -F': ' 'tolower($1)=="x-upstream-version" {print $2}'; }
# load_until FILTER SECONDS: loads in batches until the cluster JSON filter is true
load_until() {
  local deadline=$((SECONDS + $2))
  while [ $SECONDS -lt $deadline ]; do
    [ "$(cluster "$1")" = true ] && return 0
    load 300
  done
  [ "$(cluster "$1")" = true ]
}

start_services blue --version-tag blue || exit 1
blue_port=$svc_port
start_services canary_bad --version-tag canary --fail-rate 0.05 || exit 1
bad_port=$svc_port
start_services canary_ok --version-tag canary || exit 1
good_port=$svc_port
start_services canary_slow --version-tag canary --latency-ms 600 || exit 1
slow_port=$svc_port

# ---- 1: a canary failing 5% of calls rolls back by itself -------------------------
start_admin_gateway gw_bad --upstream-version "blue=127.0.0.1:$blue_port" --upstream-version "canary=127.0.0.1:$bad_port" || exit 1
code=$(curl -s -o "$work/r.json" -w '%{http_code}' -X POST -H 'content-type: application/json' "$admin/admin/clusters/default/rollout" \
  -d '{"to":"canary","steps":[10,25,50,100],"hold":"3s","window":"2s","interval":"200ms","min_requests":40}')
check "rollout starts: 202" [ "$code" = 202 ]
check "rollout at step 1, canary 10%" jqt 'input | .rollout.state == "progressing" and .rollout.weight == 10 and (.versions[] | select(.name=="canary") | .weight) == 10' "$work/r.json"
t0=$SECONDS
load_until '.rollout.state == "rolled_back"' 60
check "the failing canary is rolled back" [ "$(cluster .rollout.state)" = rolled_back ]
echo "   rolled back after $((SECONDS - t0)) s of load; $(cluster .rollout.reason)"
check "reason: error rate" [ "$(cluster '.rollout.reason | startswith("error_rate")')" = true ]
check "canary weight 0, blue 100" [ "$(cluster '[.versions[] | .weight] == [100, 0]')" = true ]
before=$(cluster '.versions[] | select(.name=="canary") | .requests')
load 500
after=$(cluster '.versions[] | select(.name=="canary") | .requests')
check "after the rollback no request reaches the canary ($before -> $after)" [ "$before" = "$after" ]
check "and every one of those succeeded" grep -q '500 succeeded' "$work/h2load.out"
check "x-canary: always no longer reaches a rolled-back canary" [ "$(version_of -H 'x-canary: always')" = blue ]
metrics=$(curl -s "$gw/q/metrics")
check "rollback counted in metrics" grep -q 'gateway_rollbacks_total{cluster="default",reason="error_rate"} 1' <<<"$metrics"
check "rollout state in metrics" grep -q 'gateway_rollout_state{cluster="default",state="rolled_back"} 1' <<<"$metrics"
check "the event is logged" grep -q 'ROLLED BACK canary -> blue (error_rate' "$work/gw_bad.err"
kill "$gw_pid"; wait "$gw_pid" 2>/dev/null

# ---- 2: a healthy canary reaches 100% ---------------------------------------------
start_admin_gateway gw_ok --upstream-version "blue=127.0.0.1:$blue_port" --upstream-version "canary=127.0.0.1:$good_port" || exit 1
curl -s -o /dev/null -X POST -H 'content-type: application/json' "$admin/admin/clusters/default/rollout" \
  -d '{"to":"canary","steps":[10,50,100],"hold":"1s","window":"1s","interval":"200ms","min_requests":20}'
load_until '.rollout.state == "completed"' 60
check "the healthy canary completes" [ "$(cluster .rollout.state)" = completed ]
check "canary 100%, blue 0%" [ "$(cluster '[.versions[] | .weight] == [0, 100]')" = true ]
check "no rollback" [ "$(curl -s "$gw/q/metrics" | grep -c '^gateway_rollbacks_total{.*} [1-9]')" = 0 ]
check "the log shows every step" bash -c "grep -c 'rollout default: step' '$work/gw_ok.err' | grep -qx 3"
check "responses now come from the canary" [ "$(version_of)" = canary ]
check "x-canary: never still reaches blue" [ "$(version_of -H 'x-canary: never')" = blue ]
kill "$gw_pid"; wait "$gw_pid" 2>/dev/null

# ---- 3: the latency gate ----------------------------------------------------------
start_admin_gateway gw_slow --upstream-version "blue=127.0.0.1:$blue_port" --upstream-version "canary=127.0.0.1:$slow_port" || exit 1
curl -s -o /dev/null -X POST -H 'content-type: application/json' "$admin/admin/clusters/default/rollout" \
  -d '{"to":"canary","hold":"10s","window":"2s","interval":"250ms","min_requests":10,"gates":{"p95_ms":500}}'
deadline=$((SECONDS + 60))
while [ $SECONDS -lt $deadline ] && [ "$(cluster .rollout.state)" = progressing ]; do
  h2load --h1 -n 400 -c 32 -m 1 -d "$work/tx.json" -H 'content-type: application/json' \
    "$gw/api/v11/transactions" >"$work/h2load.out" 2>&1
done
check "the slow canary (600 ms) is rolled back by the p95 gate" [ "$(cluster '.rollout.reason | startswith("latency_p95")')" = true ]
echo "   $(cluster .rollout.reason)"
kill "$gw_pid"; wait "$gw_pid" 2>/dev/null

# ---- 4: blue-green switch under load ----------------------------------------------
start_services green --version-tag green || exit 1
green_port=$svc_port
start_admin_gateway gw_bg --upstream-version "blue=127.0.0.1:$blue_port" --upstream-version "green=127.0.0.1:$green_port" || exit 1
check "before the switch: blue" [ "$(version_of)" = blue ]
wrk -t1 -c16 -d4s -s "$work/post.lua" "$gw/api/v11/transactions" >"$work/wrk.out" 2>&1 &
wrk_pid=$!
sleep 1.5
code=$(curl -s -o "$work/r.json" -w '%{http_code}' -X POST -H 'content-type: application/json' "$admin/admin/clusters/default/promote" -d '{"to":"green"}')
check "promote green: 200" [ "$code" = 200 ]
check "green 100%, blue 0%" jqt 'input | [.versions[] | .weight] == [0, 100]' "$work/r.json"
wait "$wrk_pid"
check "wrk ran (some requests)" grep -qE '[0-9]+ requests in' "$work/wrk.out"
check "no non-2xx during the switch" bash -c "! grep -q 'Non-2xx' '$work/wrk.out'"
check "no socket errors during the switch" bash -c "! grep -q 'Socket errors' '$work/wrk.out'"
check "both sides served during the run" [ "$(cluster '[.versions[] | .requests > 0] == [true, true]')" = true ]
check "after the switch: green" [ "$(version_of)" = green ]
curl -s -o /dev/null -X PUT -H 'content-type: application/json' "$admin/admin/clusters/default/weights" -d '{"blue":100,"green":0}'
check "and back with PUT weights: blue" [ "$(version_of)" = blue ]

# ---- 5: weights, stickiness ---------------------------------------------------------
curl -s -o /dev/null -X PUT -H 'content-type: application/json' "$admin/admin/clusters/default/weights" -d '{"blue":50,"green":50}'
: >"$work/versions"
for i in $(seq 40); do version_of >>"$work/versions"; done
check "50/50: both versions answer" [ "$(sort -u "$work/versions" | wc -l)" = 2 ]
kill "$gw_pid"; wait "$gw_pid" 2>/dev/null
cat >"$work/sticky.yaml" <<YAML
clusters:
  - name: default
    versions:
      - {name: blue, targets: ["127.0.0.1:$blue_port"], weight: 50}
      - {name: green, targets: ["127.0.0.1:$green_port"], weight: 50}
    sticky: {hash_header: x-user-id}
YAML
start_admin_gateway gw_sticky --config "$work/sticky.yaml" || exit 1
: >"$work/one"; : >"$work/many"
for i in $(seq 20); do version_of -H 'x-user-id: alice' >>"$work/one"; done
for i in $(seq 40); do version_of -H "x-user-id: user$i" >>"$work/many"; done
check "one user stays on one side" [ "$(sort -u "$work/one" | wc -l)" = 1 ]
check "users spread over both sides" [ "$(sort -u "$work/many" | wc -l)" = 2 ]

# ---- 6: the admin API's errors --------------------------------------------------------
req() { code=$(curl -s -o "$work/r.json" -w '%{http_code}' "$@"); }
is_error() { jq -e -n --argjson c "$1" 'input | .code == $c and (.message | length > 0)' "$work/r.json" >/dev/null; }
req "$admin/admin/clusters/nope"
check "unknown cluster: 404 in the error shape" bash -c "[ $code = 404 ] && $(declare -f is_error); work=$work is_error 5"
req -X PUT -H 'content-type: application/json' "$admin/admin/clusters/default/weights" -d '{"blue":'
check "bad JSON: 400" bash -c "[ $code = 400 ] && $(declare -f is_error); work=$work is_error 3"
req -X PUT -H 'content-type: application/json' "$admin/admin/clusters/default/weights" -d '{"purple":10}'
check "unknown version: 400" [ "$code" = 400 ]
req -X PUT -H 'content-type: application/json' "$admin/admin/clusters/default/weights" -d '{"blue":0,"green":0}'
check "all weights 0: 400" [ "$code" = 400 ]
req -X PUT -H 'content-type: application/json' "$admin/admin/clusters/default/weights" -d '{"blue":-5}'
check "negative weight: 400" [ "$code" = 400 ]
req -X POST -H 'content-type: application/json' "$admin/admin/clusters/default/rollout" -d '{"to":"green","steps":[50,20]}'
check "steps that fall: 400" [ "$code" = 400 ]
req -X POST -H 'content-type: application/json' "$admin/admin/clusters/default/rollout" -d '{"to":"green","colour":"red"}'
check "unknown rollout key: 400" [ "$code" = 400 ]
req -X POST -H 'content-type: application/json' "$admin/admin/clusters/default/rollout" -d '{"to":"green","gates":{"error_rate":2}}'
check "gate out of range: 400 in the error shape" bash -c "[ $code = 400 ] && $(declare -f is_error); work=$work is_error 3"
req -X POST -H 'content-type: application/json' "$admin/admin/clusters/default/rollout" -d '{"to":"green","gates":{"latency":5}}'
check "unknown gate: 400" [ "$code" = 400 ]
req -X POST -H 'content-type: application/json' "$admin/admin/clusters/default/rollout" -d '{"to":"green","hold":"soon"}'
check "bad duration: 400" [ "$code" = 400 ]
req -X POST -H 'content-type: application/json' "$admin/admin/clusters/default/rollout" -d '["to","green"]'
check "body not an object: 400" [ "$code" = 400 ]
head -c 70000 /dev/zero | tr '\0' ' ' >"$work/big.json"
req -X PUT -H 'content-type: application/json' "$admin/admin/clusters/default/weights" --data-binary @"$work/big.json"
check "body over 64 KiB: 413 in the error shape" bash -c "[ $code = 413 ] && $(declare -f is_error); work=$work is_error 8"
req -X POST -H 'content-type: application/json' "$admin/admin/clusters/default/promote" -d '{"to":"purple"}'
check "promote to an unknown version: 400" [ "$code" = 400 ]
check "after all that the weights are as they were" [ "$(curl -s "$admin/admin/clusters/default" | jq -c '[.versions[] | .weight]')" = '[50,50]' ]
req -X GET "$admin/admin/drain"
check "GET /admin/drain: 405" [ "$code" = 405 ]
req -X GET "$admin/admin/clusters/default/weights"
check "GET .../weights: 405 in the error shape" bash -c "[ $code = 405 ] && $(declare -f is_error); work=$work is_error 12"
check "... with Allow: PUT" bash -c "curl -s -o /dev/null -D - '$admin/admin/clusters/default/weights' | grep -qi '^allow: PUT'"
req -X PUT -H 'content-type: application/json' "$admin/admin/clusters/default/weights"
check "weights without a body: 400 in the error shape, naming what it expects" \
  bash -c "[ $code = 400 ] && $(declare -f is_error); work=$work is_error 3 && grep -q 'expected {' '$work/r.json'"
req -X POST -H 'content-type: application/json' "$admin/admin/clusters/default/rollout"
check "rollout without a body: 400" [ "$code" = 400 ]
req -X POST -H 'content-type: application/json' "$admin/admin/clusters/default/explode"
check "unknown cluster call: 404 in the error shape" bash -c "[ $code = 404 ] && $(declare -f is_error); work=$work is_error 5"
req "$admin/admin/clusters/default/"
check "a cluster path with an empty call: 404" [ "$code" = 404 ]
req -X DELETE "$admin/admin/clusters/default"
check "DELETE a cluster: 405" [ "$code" = 405 ]
req "$admin/admin/nothing"
check "unknown admin path: 404" [ "$code" = 404 ]
req -H 'Host: admin:65535' "$gw/admin/clusters"
check "the admin API is not reachable on the REST port" [ "$code" = 404 ]
check "the gateway still serves" [ "$(version_of -H 'x-user-id: alice')" = "$(head -n1 "$work/one")" ]
kill "$gw_pid"; wait "$gw_pid" 2>/dev/null

"$gateway_bin" --listen 127.0.0.1:0 --listen-grpc off --admin 0.0.0.0:0 --upstream "127.0.0.1:$blue_port" >"$work/notoken.out" 2>&1
rc=$?
check "admin off loopback without a token refuses to start (exit 2)" [ "$rc" = 2 ]
check "... and says why" grep -q 'needs a token' "$work/notoken.out"
printf 'drain_grace_ms: 1500ms\n' >"$work/grace.yaml"
AURIGRAPH_ADMIN_TOKEN=s3cret start_admin_gateway gw_token --config "$work/grace.yaml" --upstream "127.0.0.1:$blue_port" || exit 1
req "$admin/admin/clusters"
check "no token: 401" bash -c "[ $code = 401 ] && $(declare -f is_error); work=$work is_error 16"
req -H 'Authorization: Bearer wrong' "$admin/admin/clusters"
check "wrong token: 401" [ "$code" = 401 ]
req -H 'Authorization: Bearer s3cret' "$admin/admin/clusters"
check "right token: 200" [ "$code" = 200 ]
check "a cluster without versions shows one, \"default\"" jqt 'input | .clusters[0].versions | length == 1 and .[0].name == "default"' "$work/r.json"
req -X POST -H 'content-type: application/json' -H 'Authorization: Bearer s3cret' "$admin/admin/clusters/default/rollback"
check "nothing to roll back: 409" [ "$code" = 409 ]

# ---- 7: drain through the admin API ------------------------------------------------------
req -X POST -H 'content-type: application/json' -H 'Authorization: Bearer s3cret' "$admin/admin/drain"
check "POST /admin/drain: 202" [ "$code" = 202 ]
ready=$(curl -s --max-time 5 -o /dev/null -w '%{http_code}' "$gw/q/health/ready")
check "readiness fails at once (503), on a new connection too (drain_grace_ms)" [ "$ready" = 503 ]
served=$(curl -s --max-time 5 -D - -o /dev/null -H 'content-type: application/json' -d "$tx" "$gw/api/v11/transactions" | tr -d '\r')
check "a request during the grace is served, with Connection: close" \
  bash -c "grep -q '^HTTP/1.1 202' <<<'$served' && grep -qi '^connection: close' <<<'$served'"
deadline=$((SECONDS + 40))
while [ $SECONDS -lt $deadline ] && kill -0 "$gw_pid" 2>/dev/null; do sleep 0.1; done
check "the drained gateway exits" bash -c "! kill -0 $gw_pid 2>/dev/null"
wait "$gw_pid"
check "with status 0" [ $? = 0 ]

echo "$passed passed, $failed failed"
[ "$failed" = 0 ]
