#!/usr/bin/env bash
# rate_limit_test: token buckets across workers. wrk drives a route far past
# its limit (2 gateway workers, 8 connections, bounded in time); the rate
# the gateway admits, counted from http_requests_total over a measured
# interval (the initial burst left out), must be the configured one within
# 5%. The admin API then changes the rate under load, and the new one holds
# the same way. The turned-away requests are 429 with Retry-After and the
# error JSON, counted in gateway_rate_limited_total; a limit keyed by a
# header gives each key its own bucket.
source "$(dirname "$0")/../lib.sh"

need_binaries
need curl jq wrk

start_services backend || exit 1
rate=1000
cat >"$work/gw.yaml" <<YAML
clusters:
  - name: default
    targets: ["127.0.0.1:$svc_port"]
rate_limits:
  - name: stats
    method: aurigraph.v11.TransactionService.GetTransactionStats
    rate: $rate
    burst: 100
  - name: per-key
    method: aurigraph.v11.ConsensusService.GetConsensusStatus
    key: header:x-api-key
    rate: 1
    burst: 5
YAML
start_gateway gw --access-log off --workers 2 --config "$work/gw.yaml" || exit 1
line=$(wait_line "$work/gw.err" 'admin listening on' 10) || give_up "no admin listener"
admin=http://127.0.0.1:${line##*:}
wait_ready "$gw" 15 || give_up "gateway not ready"

route=/api/v11/transactions/stats
# admitted: answers 200 of the route so far
admitted() { curl -s --max-time 5 "$gw/q/metrics" |
  awk -v r="route=\"$route\"" '$1 ~ /^http_requests_total\{/ && index($1, r) && index($1, "code=\"200\"") { s += $2 } END { print s + 0 }'; }
ns() { date +%s%N; }
# measure SECONDS: the admitted rate over that long, as "RATE COUNT MS".
# Each count is stamped with the middle of its scrape (on a loaded machine
# a scrape can take tens of ms, which would otherwise land on one side)
measure() {
  local a0 t0 a1 t1 s
  s=$(ns); a0=$(admitted); t0=$(( (s + $(ns)) / 2 ))
  sleep "$1"
  s=$(ns); a1=$(admitted); t1=$(( (s + $(ns)) / 2 ))
  awk -v a="$((a1 - a0))" -v t="$((t1 - t0))" 'BEGIN { printf "%.1f %d %d\n", a / (t / 1e9), a, t / 1e6 }'
}
within5() { awk -v got="$1" -v want="$2" 'BEGIN { d = got - want; if (d < 0) d = -d; exit !(d <= want * 0.05) }'; }

wrk -t 1 -c 8 -d 12s "$gw$route" >"$work/wrk.out" 2>&1 &
wrk_pid=$!
pids+=("$wrk_pid")
sleep 1 # the burst and wrk's ramp-up stay out of the measure
read -r got n ms < <(measure 4)
echo "   limit $rate/s: admitted $got/s ($n in $ms ms)"
check "admitted within 5% of $rate/s across 2 workers ($got/s)" within5 "$got" "$rate"

curl -s -o "$work/put.json" -w '%{http_code}' -X PUT -H 'content-type: application/json' \
  -d '{"rate": 400}' "$admin/admin/rate_limits/stats" >"$work/put.code"
check "PUT /admin/rate_limits/stats: 200" [ "$(cat "$work/put.code")" = 200 ]
check "it says the new rate" jqt 'input | .name == "stats" and .rate == 400 and .burst == 100 and .enabled' "$work/put.json"
sleep 0.5
read -r got n ms < <(measure 4)
echo "   limit 400/s (admin API): admitted $got/s ($n in $ms ms)"
check "the new rate holds within 5% ($got/s)" within5 "$got" 400

# a turned-away request while wrk still runs: 429, Retry-After, the error JSON
code=$(curl -s -D "$work/h429" -o "$work/b429" -w '%{http_code}' --max-time 5 "$gw$route")
for _ in $(seq 20); do [ "$code" = 429 ] && break
  code=$(curl -s -D "$work/h429" -o "$work/b429" -w '%{http_code}' --max-time 5 "$gw$route"); done
check "over the limit: 429" [ "$code" = 429 ]
check "with Retry-After" grep -qi '^retry-after: [1-9]' "$work/h429"
check "and the error JSON (RESOURCE_EXHAUSTED)" jqt 'input | .code == 8 and (.message | contains("rate limit \"stats\"")) and .details == []' "$work/b429"
wait "$wrk_pid"
grep -E 'Requests/sec|Non-2xx' "$work/wrk.out" | sed 's/^/   wrk: /'
limited=$(curl -s --max-time 5 "$gw/q/metrics" | awk '$1 ~ /^gateway_rate_limited_total\{/ && index($1, "limit=\"stats\"") { s += $2 } END { print s + 0 }')
n429=$(curl -s --max-time 5 "$gw/q/metrics" | awk -v r="route=\"$route\"" '$1 ~ /^http_requests_total\{/ && index($1, r) && index($1, "code=\"429\"") { s += $2 } END { print s + 0 }')
check "gateway_rate_limited_total{limit=\"stats\"} counts the 429s ($limited = $n429)" [ "$limited" -gt 0 ] && [ "$limited" = "$n429" ]

# a bucket per API key: 5 each at once (burst 5, 1/s), then 429
status_for() { curl -s -o /dev/null -w '%{http_code}\n' --max-time 5 -H "x-api-key: $1" "$gw/api/v11/consensus/status"; }
for k in alice bob; do
  for i in $(seq 8); do status_for "$k"; done >"$work/$k.codes"
done
a=$(grep -c '^200$' "$work/alice.codes"); b=$(grep -c '^200$' "$work/bob.codes")
echo "   per-key (burst 5, 1/s): alice $a of 8, bob $b of 8 admitted"
check "alice: her burst of 5, then 429 ($a)" [ "$a" -ge 5 ] && [ "$a" -le 6 ] && grep -q '^429$' "$work/alice.codes"
check "bob has a bucket of his own ($b)" [ "$b" -ge 5 ] && [ "$b" -le 6 ]
curl -s --max-time 5 "$admin/admin/rate_limits" >"$work/limits.json"
check "GET /admin/rate_limits lists both" jqt 'input | [.rate_limits[].name] == ["stats", "per-key"] and .rate_limits[1].key == "header:x-api-key"' "$work/limits.json"
check "PUT with a bad rate: 400, nothing changes" [ "$(curl -s -o /dev/null -w '%{http_code}' -X PUT -H 'content-type: application/json' -d '{"rate": -1}' "$admin/admin/rate_limits/stats")" = 400 ] && \
  jqt 'input | .rate == 400' <(curl -s "$admin/admin/rate_limits/stats")
check "an unknown limit: 404" [ "$(curl -s -o /dev/null -w '%{http_code}' "$admin/admin/rate_limits/nope")" = 404 ]
summary
