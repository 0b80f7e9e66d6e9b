#!/usr/bin/env bash
# outlier_test: readiness sees a dead upstream from the calls that fail, not
# only from the active checks. Under load (wrk, bounded), the backend is
# killed: the calls failing in a row eject its one target, so
# /q/health/ready turns 503 long before the active checks alone could
# (they need unhealthy_threshold = 3 failed checks 2 s apart: at least 4 s);
# the time it took is printed. Restarted on the same port, the target comes
# back through the active checks (healthy_threshold = 2 passing checks).
source "$(dirname "$0")/../lib.sh"

need_binaries
need curl jq wrk

start_services backend || exit 1
port=$svc_port
interval_ms=2000
cat >"$work/gw.yaml" <<YAML
clusters:
  - name: default
    targets: ["127.0.0.1:$port"]
    health: {interval_ms: $interval_ms, timeout_ms: 500, healthy_threshold: 2, unhealthy_threshold: 3, passive_failures: 5}
YAML
start_gateway gw --access-log off --config "$work/gw.yaml" || exit 1
wait_ready "$gw" 15 || give_up "gateway not ready"
ms() { echo $(($(date +%s%N) / 1000000)); }
ready_code() { curl -s -o "$work/ready.json" -w '%{http_code}' --max-time 2 "$gw/q/health/ready"; }

wrk -t 1 -c 4 -d 4s "$gw/api/v11/transactions/stats" >"$work/wrk.out" 2>&1 &
wrk_pid=$!
pids+=("$wrk_pid")
sleep 1
check "ready under load before the kill" [ "$(ready_code)" = 200 ]
kill "$svc_pid"
t_kill=$(ms)
deadline=$((SECONDS + 15))
code=200
while [ $SECONDS -lt $deadline ]; do
  code=$(ready_code)
  [ "$code" = 503 ] && break
  sleep 0.02
done
t_down=$(ms)
echo "   readiness 503 $((t_down - t_kill)) ms after the kill (the active checks alone: >= $((2 * interval_ms)) ms)"
check "readiness turns 503" [ "$code" = 503 ]
check "before the active checks alone could ($((t_down - t_kill)) < $((2 * interval_ms)) ms)" \
  [ $((t_down - t_kill)) -lt $((2 * interval_ms)) ]
check "the report says the target is ejected" jqt 'input | [.checks[] | select(.name == "upstream default") | .data.targets[0].ejected] == [true]' "$work/ready.json"
wait "$wrk_pid"
ejections=$(curl -s --max-time 5 "$gw/q/metrics" | awk '$1 ~ /^gateway_upstream_ejections_total\{/ { s += $2 } END { print s + 0 }')
check "gateway_upstream_ejections_total counts it ($ejections)" [ "$ejections" -ge 1 ]
check "a call to the dead upstream: 503" \
  [ "$(curl -s -o /dev/null -w '%{http_code}' --max-time 5 "$gw/api/v11/transactions/stats")" = 503 ]

SVC_PORT=$port start_services backend2 || give_up "backend did not restart on port $port"
t_up0=$(ms)
wait_ready "$gw" 20 && back=1 || back=0
echo "   ready again $(($(ms) - t_up0)) ms after the restart (checks every $interval_ms ms, 2 to pass)"
check "readiness comes back through the active checks" [ "$back" = 1 ]
check "the target is no longer ejected" jqt 'input | [.checks[] | select(.name == "upstream default") | .data.targets[0].ejected] == [false]' \
  <(curl -s --max-time 5 "$gw/q/health/ready")
check "calls reach it again" [ "$(curl -s -o /dev/null -w '%{http_code}' --max-time 5 "$gw/api/v11/transactions/stats")" = 200 ]
summary
