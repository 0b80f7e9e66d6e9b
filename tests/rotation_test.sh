#!/usr/bin/env bash
# rotation_test: an upstream that rotates its connections. gRPC servers
# behind load balancers send each client connection a GOAWAY after a while
# (max connection age) so clients spread again; the gateway must move its
# calls to a new connection without failing one, and without counting the
# GOAWAY as the target's ill health. The reference services do it here with
# --max-connection-age-ms; wrk drives POST and GET through the gateway (HTTP/1.1
# and h2load over h2c) while readiness is polled. Every load is bounded.
#
# Env (set by ctest): AG_BUILD_DIR, AG_SOURCE_DIR.
source "$(dirname "$0")/lib.sh"

need_binaries
need jq wrk h2load curl

out=$("$services_bin" --max-connection-age-ms 0 2>&1); rc=$?
check "services: a bad --max-connection-age-ms is refused (exit 2)" [ "$rc" = 2 ]
check "... saying what it expects" grep -q 'expected milliseconds from 1 to 86400000' <<<"$out"
start_services svc --max-connection-age-ms 300 || give_up "services did not start"
start_gateway gw --admin off --upstream "127.0.0.1:$svc_port" || give_up "gateway did not start"
wait_ready "$gw" 10 || give_up "gateway not ready"

tx='{"userId":"rot","fromAddress":"0xa1","toAddress":"0xb2","amount":"1.00","transactionType":"TRANSFER"}'
cat >"$work/post.lua" <<LUA
wrk.method = "POST"
wrk.headers["content-type"] = "application/json"
wrk.body = [[$tx]]
LUA

# readiness, polled while the loads run: every non-200 is written down
( end=$((SECONDS + 9)); while [ $SECONDS -lt $end ]; do
    curl -s -o /dev/null -w '%{http_code}\n' --max-time 2 "$gw/q/health/ready"; sleep 0.05
  done ) >"$work/ready.codes" &
poller=$!
pids+=("$poller")

timeout 20 wrk -t1 -c16 -d3s -s "$work/post.lua" "$gw/api/v11/transactions" >"$work/wrk-post.out" 2>&1
timeout 20 wrk -t1 -c16 -d3s "$gw/api/v11/transactions/stats" >"$work/wrk-get.out" 2>&1
timeout 20 h2load -c2 -m16 -D 2 "$gw/api/v11/transactions/stats" >"$work/h2load.out" 2>&1
wait "$poller"

reqs() { awk '/requests in/ {print $1}' "$1"; }
non2xx() { awk '/Non-2xx/ {print $NF}' "$1"; }
sockerr() { awk '/Socket errors/ {gsub(",", ""); print $4 + $6 + $8 + $10}' "$1"; }
for f in wrk-post wrk-get; do
  n=$(non2xx "$work/$f.out") e=$(sockerr "$work/$f.out")
  echo "   $f: $(reqs "$work/$f.out") requests, non-2xx ${n:-0}, socket errors ${e:-0}"
  check "$f: requests went through" [ "$(reqs "$work/$f.out")" -gt 100 ]
  check "$f: none answered other than 2xx" [ -z "$(non2xx "$work/$f.out")" ]
  check "$f: no socket errors" [ -z "$(sockerr "$work/$f.out")" ]
done
h2=$(grep '^requests:' "$work/h2load.out")
echo "   h2load: $h2"
check "h2load over h2c: every request succeeded" \
  bash -c "grep -Eq '^requests: ([0-9]+) total, [0-9]+ started, \1 done, \1 succeeded, 0 failed, 0 errored' '$work/h2load.out'"
check "readiness polled during the loads" [ "$(wc -l <"$work/ready.codes")" -gt 20 ]
check "readiness stayed 200 through the rotations" [ -z "$(grep -v '^200$' "$work/ready.codes")" ]

# the rotations happened, and the metrics say so
curl -s "$gw/q/metrics" >"$work/metrics"
goaways=$(awk '$1 ~ /^gateway_upstream_goaways_total\{/ {s += $2} END {print s + 0}' "$work/metrics")
connects=$(awk '$1 ~ /^gateway_upstream_connects_total\{/ {s += $2} END {print s + 0}' "$work/metrics")
echo "   upstream: $connects connects, $goaways GOAWAYs"
check "the upstream sent GOAWAYs (rotated its connections)" [ "$goaways" -ge 5 ]
# (a server's graceful GOAWAY comes twice: "finish these", then the last stream id)
check "... and the gateway connected again each time" [ "$connects" -gt 5 -a $((connects * 2)) -ge "$goaways" ]
# (CANCELLED: calls whose client left when wrk and h2load stopped at their deadline)
check "no upstream call failed" [ "$(awk '$1 ~ /^gateway_upstream_requests_total\{/ && $1 !~ /code="(OK|CANCELLED)"/ {s += $2} END {print s + 0}' "$work/metrics")" = 0 ]
check "the target stayed healthy" grep -q '^gateway_upstream_healthy_endpoints{cluster="default",version="default"} 1' "$work/metrics"

summary
