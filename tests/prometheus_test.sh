#!/usr/bin/env bash
# prometheus_test: a real Prometheus scrapes a real gateway. Reference
# services, gateway and Prometheus (Debian's /usr/bin/prometheus) all on
# loopback with ports picked by the OS; Prometheus scrapes /q/metrics every
# second and evaluates deployment/prometheus/alerts.yml. A known number of
# requests goes through the gateway (successes, 404s, 503s from a failing
# upstream, calls slower than the 500 ms gate); once Prometheus has scraped
# after the last of them, its query API must count exactly those, per route
# and code, per gRPC method and code (and per cluster and version); the
# target must be up with no scrape error; promtool must accept a scrape;
# every alert rule must evaluate on the real series, with exactly the
# alerts this traffic calls for pending; every dashboard query must
# evaluate; and every gateway series that deployment/ names must be one the
# gateway exports. Once the admin API of issue 5 is there (before that the
# series it brings are listed, not failed), the runbook's calls follow: set
# weights, x-canary, manual rollback (CanaryRolledBack must fire), blue-green
# promote, drain, each seen through Prometheus.
#
# Env (set by ctest): AG_BUILD_DIR, AG_SOURCE_DIR. Ends with "N passed, N failed".
source "$(dirname "$0")/lib.sh"

dep=$src/deployment
need_binaries
need prometheus promtool jq curl

# ---- services and gateway ---------------------------------------------------------

# Three clusters: the transactions on healthy services; ConsensusService on
# services that fail every call with UNAVAILABLE (HTTP 503); the AI service
# on services that take 600 ms a call, over the 500 ms latency gate. Their
# health checks (grpc.health.v1) pass: --fail-rate and --latency-ms spare
# them.
start_services svc || give_up "services svc start"
ok_port=$svc_port
start_services svcfail --fail-rate 1 --fail-code 14 || give_up "services svcfail start"
fail_port=$svc_port
start_services svcslow --latency-ms 600 || give_up "services svcslow start"
slow_port=$svc_port

health='{interval_ms: 200, timeout_ms: 1000, healthy_threshold: 1, unhealthy_threshold: 3}'
# the admin listener (issue 5) defaults to 127.0.0.1:9005: keep it off that
# fixed port where this gateway has one; with it come versions, and the
# default cluster gets two, blue (all traffic) and canary (none), both on the
# healthy services, for the runbook's calls at the end. (The help is read
# whole first: grep -q quitting early would SIGPIPE the gateway, and
# pipefail would count that as no.)
admin=()
has_admin=
default_cluster="{name: default, targets: [\"127.0.0.1:$ok_port\"], timeout_ms: 5000, health: $health}"
gw_help=$("$gateway_bin" --help 2>&1)
if grep -q -- '--admin' <<<"$gw_help"; then
  admin=(--admin 127.0.0.1:0)
  has_admin=1
  default_cluster="{name: default, versions: [{name: blue, targets: [\"127.0.0.1:$ok_port\"], weight: 100},
      {name: canary, targets: [\"127.0.0.1:$ok_port\"], weight: 0}], timeout_ms: 5000, health: $health}"
fi
cat >"$work/gw.yaml" <<EOF
clusters:
  - $default_cluster
  - {name: failing, targets: ["127.0.0.1:$fail_port"], timeout_ms: 5000, health: $health}
  - {name: slow, targets: ["127.0.0.1:$slow_port"], timeout_ms: 5000, health: $health}
services:
  aurigraph.v11.ConsensusService: failing
  aurigraph.v11.AIOptimizationService: slow
EOF
"$gateway_bin" --listen 127.0.0.1:0 --listen-grpc off --workers 2 --access-log off --config "$work/gw.yaml" "${admin[@]}" \
  >"$work/gw.out" 2>"$work/gw.err" &
gw_pid=$!
pids+=("$gw_pid")
line=$(wait_line "$work/gw.err" 'aurigraph-gateway listening on' 30) || { cat "$work/gw.err"; give_up "gateway starts"; }
line=${line%% (*}
gw_port=${line##*:}
gw=http://127.0.0.1:$gw_port
if [ -n "$has_admin" ]; then
  line=$(wait_line "$work/gw.err" 'admin listening on' 10) || give_up "gateway's admin API listens"
  admin_url=http://127.0.0.1:${line##*:}
fi
deadline=$((SECONDS + 30))
until [ "$(curl -s -o /dev/null -w '%{http_code}' --max-time 2 "$gw/q/health/ready")" = 200 ] || [ $SECONDS -ge $deadline ]; do
  sleep 0.1
done
check "gateway becomes ready" [ "$(curl -s -o /dev/null -w '%{http_code}' --max-time 2 "$gw/q/health/ready")" = 200 ]

# ---- Prometheus -------------------------------------------------------------------

job=aurigraph-gateway
cp "$dep/prometheus/alerts.yml" "$work/alerts.yml"
cat >"$work/prometheus.yml" <<EOF
global:
  scrape_interval: 1s
  scrape_timeout: 1s
  evaluation_interval: 1s
rule_files:
  - $work/alerts.yml
scrape_configs:
  - job_name: $job
    metrics_path: /q/metrics
    static_configs:
      - targets: ["127.0.0.1:$gw_port"]
EOF
start_prometheus || give_up "prometheus starts and becomes ready"
ok

# q EXPR: the query's JSON answer in $work/q.json; 0 when it succeeded
q() {
  curl -s --max-time 10 -G --data-urlencode "query=$1" "$prom/api/v1/query" >"$work/q.json" &&
    jq -e -n 'input | .status == "success"' "$work/q.json" >/dev/null 2>&1
}
# value EXPR: the single value of a one-element result ("" when not one)
value() {
  q "$1" && jq -r -n 'input | .data.result | if length == 1 then .[0].value[1] else "" end' "$work/q.json"
}

deadline=$((SECONDS + 30))
until [ "$(value "up{job=\"$job\"}")" = 1 ] || [ $SECONDS -ge $deadline ]; do sleep 0.2; done
check "target is up (up == 1)" [ "$(value "up{job=\"$job\"}")" = 1 ]

# ---- known traffic ----------------------------------------------------------------

# Sent in two rounds with a scrape between them: rate() needs a series to
# grow between two samples, and a series is born at its first nonzero
# scrape, so only the second round shows in rates (the alerts' view), while
# both show in the totals.
submit='{"userId":"alice","fromAddress":"0xa1","toAddress":"0xb2","amount":"12.50","transactionType":"TRANSFER","gasLimit":"21000","gasPrice":"0.000000025"}'
n_post=37 n_get=11 n_404=5 n_fail=7 n_slow=6
: >"$work/codes"
# send N WHAT CURL ARGS...: N requests; their statuses go to $work/codes as "WHAT STATUS"
send() {
  local n=$1 what=$2; shift 2
  for ((i = 0; i < n; i++)); do
    echo "$what $(curl -s -o /dev/null --max-time 10 -w '%{http_code}' "$@")"
  done >>"$work/codes"
}
round() { # round POSTS GETS 404S FAILS SLOWS
  local i slow=()
  # the slow ones concurrently: 600 ms each
  for ((i = 0; i < $5; i++)); do send 1 slow "$gw/api/v11/ai/models" & slow+=($!); done
  send "$1" post -X POST -H 'content-type: application/json' --data-binary "$submit" "$gw/api/v11/transactions"
  send "$2" get "$gw/api/v11/transactions/stats"
  send "$3" notfound "$gw/api/v11/no/such/path"
  send "$4" fail "$gw/api/v11/consensus/status"
  [ ${#slow[@]} -eq 0 ] || wait "${slow[@]}"
}

# A scrape's samples carry the time the scrape started: wait for one that
# started after the last response (and a margin for the worker that
# answered it to record it)
scraped_after() {
  local t
  t=$(value "timestamp(up{job=\"$job\"})")
  [ -n "$t" ] && awk -v t="$t" -v s="$sent_at" 'BEGIN { exit !(t > s + 0.3) }'
}
wait_scrape() {
  sent_at=$(date +%s.%N)
  local deadline=$((SECONDS + 30))
  until scraped_after || [ $SECONDS -ge $deadline ]; do sleep 0.2; done
  scraped_after
}

round 18 5 2 3 3
check "prometheus scraped after the first round" wait_scrape
round $((n_post - 18)) $((n_get - 5)) $((n_404 - 2)) $((n_fail - 3)) $((n_slow - 3))
check "prometheus scraped after the second round" wait_scrape

answers=$(sort "$work/codes" | uniq -c | awk '{print $2 " " $3 "x" $1}')
expect_answers=$(printf '%s\n' "post 202x$n_post" "get 200x$n_get" "notfound 404x$n_404" "fail 503x$n_fail" "slow 200x$n_slow" | sort)
check "the gateway answered as expected (202, 200, 404, 503 from UNAVAILABLE, slow 200)" [ "$answers" = "$expect_answers" ]
[ "$answers" = "$expect_answers" ] || { echo "    expected:"; sed 's/^/      /' <<<"$expect_answers"; echo "    got:"; sed 's/^/      /' <<<"$answers"; }

# ---- what Prometheus counted --------------------------------------------------------

# series_map EXPR LABELS...: the result as sorted "label1 label2 ...=value" lines
series_map() {
  local expr=$1; shift
  local labels
  labels=$(printf '.metric.%s // "", ' "$@")
  q "$expr" && jq -r -n "input | .data.result[] | [${labels%, }] | join(\" \")" "$work/q.json" >"$work/keys" &&
    jq -r -n 'input | .data.result[] | .value[1]' "$work/q.json" >"$work/vals" &&
    paste -d= "$work/keys" "$work/vals" | sort
}
expect_http=$(printf '%s\n' "GET /api/v11/transactions/stats 200=$n_get" "GET  404=$n_404" \
              "POST /api/v11/transactions 202=$n_post" "GET /api/v11/consensus/status 503=$n_fail" \
              "GET /api/v11/ai/models 200=$n_slow" | sort)
got_http=$(series_map "sum by (method, route, code) (http_requests_total{job=\"$job\"})" method route code)
check "http_requests_total by method, route, code is what was sent" [ "$got_http" = "$expect_http" ]
[ "$got_http" = "$expect_http" ] || { echo "    expected:"; sed 's/^/      /' <<<"$expect_http"; echo "    got:"; sed 's/^/      /' <<<"$got_http"; }

expect_grpc=$(printf '%s\n' "aurigraph.v11.TransactionService GetTransactionStats OK=$n_get" \
              "aurigraph.v11.TransactionService SubmitTransaction OK=$n_post" \
              "aurigraph.v11.ConsensusService GetConsensusStatus UNAVAILABLE=$n_fail" \
              "aurigraph.v11.AIOptimizationService ListModels OK=$n_slow" | sort)
got_grpc=$(series_map "sum by (service, method, code) (grpc_requests_total{job=\"$job\"})" service method code)
check "grpc_requests_total by service, method, code is what was sent" [ "$got_grpc" = "$expect_grpc" ]
[ "$got_grpc" = "$expect_grpc" ] || { echo "    expected:"; sed 's/^/      /' <<<"$expect_grpc"; echo "    got:"; sed 's/^/      /' <<<"$got_grpc"; }

total=$((n_post + n_get + n_404 + n_fail + n_slow))
calls=$((n_post + n_get + n_fail + n_slow))
check "http_request_duration_seconds_count sums to $total" [ "$(value "sum(http_request_duration_seconds_count{job=\"$job\"})")" = "$total" ]
check "... and so does its +Inf bucket" [ "$(value "sum(http_request_duration_seconds_bucket{job=\"$job\",le=\"+Inf\"})")" = "$total" ]
check "grpc_request_duration_seconds_count sums to $calls" \
  [ "$(value "sum(grpc_request_duration_seconds_count{job=\"$job\"})")" = "$calls" ]
# the alerts' selectors on the real label values
check "code=~\"5..\" selects the $n_fail 503s" [ "$(value "sum(http_requests_total{job=\"$job\",code=~\"5..\"})")" = "$n_fail" ]
# (at least: a bound on how fast the others were would be a timed assertion)
check "the slow calls are over the 0.5 bucket" \
  [ "$(value "sum(http_request_duration_seconds_count{job=\"$job\",route=\"/api/v11/ai/models\"}) - sum(http_request_duration_seconds_bucket{job=\"$job\",route=\"/api/v11/ai/models\",le=\"0.5\"})")" = "$n_slow" ]
check "http_request_size_bytes_sum is the bytes posted ($n_post x ${#submit})" \
  [ "$(value "sum(http_request_size_bytes_sum{job=\"$job\"})")" = "$((n_post * ${#submit}))" ]
check "http_response_size_bytes counts every response" [ "$(value "sum(http_response_size_bytes_count{job=\"$job\"})")" = "$total" ]
check "process_resident_memory_bytes scraped" bash -c '[ "${1:-0}" -gt 0 ] 2>/dev/null' _ "$(value "process_resident_memory_bytes{job=\"$job\"}")"
check "gateway_draining is 0" [ "$(value "gateway_draining{job=\"$job\"}")" = 0 ]

# the target as Prometheus sees it: healthy, no scrape error
curl -s --max-time 10 "$prom/api/v1/targets?state=active" >"$work/targets.json"
check "target health up, lastError empty" jqf -e -n --arg j "$job" --arg u "$gw/q/metrics" \
  'input | [.data.activeTargets[] | select(.labels.job == $j)] | length == 1 and .[0].health == "up" and .[0].lastError == "" and .[0].scrapeUrl == $u' \
  "$work/targets.json"
jq -r '.data.activeTargets[] | select(.lastError != "") | "    scrape error: \(.lastError)"' "$work/targets.json" 2>/dev/null
check "prometheus took samples from the scrape" bash -c '[ "${1:-0}" -gt 0 ] 2>/dev/null' _ "$(value "scrape_samples_scraped{job=\"$job\"}")"

# promtool on the text exposition Prometheus scraped
curl -s --max-time 10 "$gw/q/metrics" >"$work/metrics.txt"
check "promtool check metrics accepts a scrape" bash -c "promtool check metrics <'$work/metrics.txt' >'$work/promtool.out' 2>&1"
[ -s "$work/promtool.out" ] && sed 's/^/    /' "$work/promtool.out" | head -n 20

# ---- the series of issue 5 (with the admin API) ----------------------------------------

if [ -n "$has_admin" ]; then
  expect_up=$(printf '%s\n' "default blue OK=$((n_post + n_get))" "failing default UNAVAILABLE=$n_fail" "slow default OK=$n_slow" | sort)
  got_up=$(series_map "sum by (cluster, version, code) (gateway_upstream_requests_total{job=\"$job\"}) > 0" cluster version code)
  check "gateway_upstream_requests_total by cluster, version, code counts the calls" [ "$got_up" = "$expect_up" ]
  [ "$got_up" = "$expect_up" ] || { echo "    expected:"; sed 's/^/      /' <<<"$expect_up"; echo "    got:"; sed 's/^/      /' <<<"$got_up"; }
  check "gateway_upstream_errors_total: the failing cluster's $n_fail, no other" \
    [ "$(series_map "gateway_upstream_errors_total{job=\"$job\"} > 0" cluster version)" = "failing default=$n_fail" ]
  check "gateway_upstream_request_duration_seconds counts the calls" \
    [ "$(value "sum(gateway_upstream_request_duration_seconds_count{job=\"$job\"})")" = "$calls" ]
  check "gateway_upstream_weight: blue 100, canary 0, the versionless clusters' default 100" \
    [ "$(series_map "gateway_upstream_weight{job=\"$job\"}" cluster version | tr '\n' ' ')" = "default blue=100 default canary=0 failing default=100 slow default=100 " ]
  check "gateway_upstream_healthy_endpoints: 1 for every version" \
    [ "$(series_map "gateway_upstream_healthy_endpoints{job=\"$job\"}" cluster version | tr '\n' ' ')" = "default blue=1 default canary=1 failing default=1 slow default=1 " ]
  check "gateway_rollout_state is idle" [ "$(value "gateway_rollout_state{job=\"$job\",cluster=\"default\",state=\"idle\"}")" = 1 ]
  check "gateway_connections_active is exported" [ -n "$(value "gateway_connections_active{job=\"$job\"}")" ]
fi

# Every gateway series named in deployment/ (alert rules, dashboards) is one
# the gateway exports: its family has a # TYPE line in the scrape.
exported=" $(awk '$1 == "#" && $2 == "TYPE" { printf "%s ", $3 }' "$work/metrics.txt") "
named=$( { grep -ohE '\b(http|grpc|gateway|process)_[a-z0-9_]+' "$dep/prometheus/alerts.yml";
           jq -r '.. | objects | (.expr?, (.query? | strings)) // empty' "$dep"/grafana/*.json | grep -oE '\b(http|grpc|gateway|process)_[a-z0-9_]+'; } | sort -u)
missing=
for m in $named; do
  fam=$m
  for suffix in _bucket _sum _count; do
    case $fam in *"$suffix") [[ $exported == *" ${fam%"$suffix"} "* ]] && fam=${fam%"$suffix"} ;; esac
  done
  [[ $exported == *" $fam "* ]] || missing+=" $m"
done
if [ -n "$has_admin" ] || [ -z "$missing" ]; then
  check "every gateway series deployment/ names is exported (missing:${missing:- none})" [ -z "$missing" ]
else
  echo "note: not exported yet (issue 5, the gateway has no --admin yet):$missing"
fi

# ---- the alert rules and dashboards on real data -----------------------------------------

rules_evaluated() {
  curl -s --max-time 5 "$prom/api/v1/rules" >"$work/rules.json"
  jq -e -n 'input | [.data.groups[].rules[]] | length > 0 and all(.lastEvaluation != "0001-01-01T00:00:00Z")' "$work/rules.json" >/dev/null 2>&1
}
deadline=$((SECONDS + 30))
until rules_evaluated || [ $SECONDS -ge $deadline ]; do sleep 0.3; done
check "alert rules evaluated on the scraped series, all healthy" \
  jqf -e -n 'input | [.data.groups[].rules[]] | length > 0 and all(.health == "ok")' "$work/rules.json"
# The second round's rates: 5xx well over 1%, and more than 5% of requests
# over 500 ms. ErrorRateHigh and LatencyHigh (and, with the per version
# series, UpstreamVersionErrorRateHigh for the failing cluster) go pending
# on the first evaluation that sees both samples: their "for" keeps them
# from firing. No other alert may be pending or firing.
expect_alerts=$(printf '%s\n' "ErrorRateHigh pending " "LatencyHigh pending " | sort)
[ -n "$has_admin" ] && expect_alerts=$(printf '%s\n%s\n' "$expect_alerts" "UpstreamVersionErrorRateHigh pending failing" | sort)
alerts_now() { series_map 'ALERTS' alertname alertstate cluster | sed 's/=1$//'; }
deadline=$((SECONDS + 30))
until [ "$(alerts_now)" = "$expect_alerts" ] || [ $SECONDS -ge $deadline ]; do sleep 0.3; done
got_alerts=$(alerts_now)
check "alerts pending on the real traffic: exactly ErrorRateHigh, LatencyHigh${has_admin:+, UpstreamVersionErrorRateHigh}" [ "$got_alerts" = "$expect_alerts" ]
[ "$got_alerts" = "$expect_alerts" ] || { echo "    expected:"; sed 's/^/      /' <<<"$expect_alerts"; echo "    got:"; sed 's/^/      /' <<<"$got_alerts"; }

# Dashboards: with data, vector matching can fail where it could not on an
# empty TSDB (many-to-many, duplicate series): evaluate each query again.
nq=0 nonempty=0
while IFS= read -r b64; do
  expr=$(printf '%s' "$b64" | base64 -d)
  expr=${expr//\$__rate_interval/1m}
  expr=${expr//\$__interval/1m}
  expr=${expr//\$__range/5m}
  expr=${expr//\$job/$job}
  for v in instance route cluster; do expr=${expr//\$$v/.*}; done
  [[ $expr =~ ^label_values\((.*),[[:space:]]*[a-zA-Z_][a-zA-Z0-9_]*\)$ ]] && expr=${BASH_REMATCH[1]}
  nq=$((nq + 1))
  if q "$expr"; then
    ok
    if jq -e -n 'input | .data.result | length > 0' "$work/q.json" >/dev/null 2>&1; then nonempty=$((nonempty + 1)); else [ -n "${AG_VERBOSE:-}" ] && echo "    no data yet: $expr"; fi
  else
    bad "dashboard query on real data: $expr"
    echo "    -> $(jq -r -n 'input | .error // "no answer"' "$work/q.json" 2>/dev/null)"
  fi
done < <(jq -r '[.panels[] | (., .panels[]?) | .targets[]?.expr] + [.annotations.list[] | .expr // empty]
                + [.templating.list[] | select(.type == "query") | .query | strings] | .[] | @base64' "$dep"/grafana/*.json)
echo "dashboard queries: $nq evaluated, $nonempty with data"

# ---- the runbook's admin calls, watched through Prometheus ---------------------------------

if [ -n "$has_admin" ]; then
  # adm METHOD PATH [BODY]: the answer in $work/adm.json, its status in adm_status
  adm() {
    local body=(-H 'content-type: application/json') # what the admin API takes for a change, body or not
    [ $# -ge 3 ] && body+=(--data-binary "$3")
    adm_status=$(curl -s --max-time 10 -o "$work/adm.json" -w '%{http_code}' -X "$1" "${body[@]}" "$admin_url$2")
  }
  admq() { [ "$adm_status" = "$1" ] && jqf -e -n "input | $2" "$work/adm.json"; }
  # wait_value EXPR VALUE: until Prometheus reads VALUE (bounded)
  wait_value() {
    local deadline=$((SECONDS + 30))
    until [ "$(value "$1")" = "$2" ] || [ $SECONDS -ge $deadline ]; do sleep 0.2; done
    [ "$(value "$1")" = "$2" ]
  }
  version_of() { # the x-upstream-version of each of N answers, counted
    for ((i = 0; i < $1; i++)); do
      curl -s --max-time 10 -o /dev/null -D - "${@:2}" "$gw/api/v11/transactions/stats" | tr -d '\r' |
        awk -F': ' 'tolower($1) == "x-upstream-version" { print $2 }'
    done | sort | uniq -c | awk '{printf "%s=%s ", $2, $1}'
  }
  d="job=\"$job\",cluster=\"default\""

  adm GET /admin/clusters
  check "runbook: GET /admin/clusters lists the clusters and versions" \
    admq 200 '[.clusters[].name] == ["default","failing","slow"] and ([.clusters[0].versions[].name] == ["blue","canary"]) and .clusters[0].rollout.state == "idle"'

  adm PUT /admin/clusters/default/weights '{"blue": 90, "canary": 10}'
  check "runbook: PUT .../weights {blue: 90, canary: 10}" admq 200 '[.versions[] | {(.name): .weight}] | add == {"blue":90,"canary":10}'
  check "... Prometheus reads gateway_upstream_weight canary 10" wait_value "gateway_upstream_weight{$d,version=\"canary\"}" 10

  check "runbook: x-canary: always reaches the canary" [ "$(version_of 8 -H 'x-canary: always')" = "canary=8 " ]
  check "... Prometheus counts them on the canary" wait_value "sum(gateway_upstream_requests_total{$d,version=\"canary\"})" 8

  adm POST /admin/clusters/default/rollback
  check "runbook: POST .../rollback: rolled_back, manual, canary 0" \
    admq 200 '.rollout.state == "rolled_back" and (.rollout.reason | startswith("manual")) and ([.versions[] | {(.name): .weight}] | add | .canary == 0 and .blue > 0)'
  check "... Prometheus: canary weight 0" wait_value "gateway_upstream_weight{$d,version=\"canary\"}" 0
  check "... gateway_rollbacks_total{reason=manual} 1" wait_value "sum(gateway_rollbacks_total{$d,reason=\"manual\"})" 1
  check "... gateway_rollout_state rolled_back" wait_value "gateway_rollout_state{$d,state=\"rolled_back\"}" 1
  check "... CanaryRolledBack fires" wait_value "count(ALERTS{alertname=\"CanaryRolledBack\",alertstate=\"firing\",cluster=\"default\",reason=\"manual\"})" 1
  check "... and no request reaches the canary" [ "$(version_of 8)" = "blue=8 " ]

  adm POST /admin/clusters/default/promote '{"to": "canary"}'
  check "runbook: blue-green POST .../promote {to: canary}" admq 200 '[.versions[] | {(.name): .weight}] | add | .canary > 0 and .blue == 0'
  check "... every answer from canary now" [ "$(version_of 8)" = "canary=8 " ]
  check "... Prometheus reads the switch" wait_value "gateway_upstream_weight{$d,version=\"canary\"} == 100 and on () gateway_upstream_weight{$d,version=\"blue\"} == 0" 100

  adm POST /admin/drain
  check "runbook: POST /admin/drain answers 202 draining" admq 202 '.draining == true'
  # the listeners stop taking connections at once (a successor on the port
  # gets them); any that still gets through is told "not ready"
  check "... not ready at once (refused, or 503)" \
    bash -c 'c=$(curl -s -o /dev/null -w "%{http_code}" --max-time 5 "$1/q/health/ready"); [ "$c" = 000 ] || [ "$c" = 503 ]' _ "$gw"
  deadline=$((SECONDS + 30))
  while [ -e "/proc/$gw_pid" ] && ! grep -q '^[0-9]* (.*) Z' "/proc/$gw_pid/stat" 2>/dev/null && [ $SECONDS -lt $deadline ]; do sleep 0.1; done
  check "... and the gateway exits" bash -c '! [ -e /proc/$1 ] || grep -q "^[0-9]* (.*) Z" /proc/$1/stat' _ "$gw_pid"
fi

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
