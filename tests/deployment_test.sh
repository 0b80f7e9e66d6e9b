#!/usr/bin/env bash
# deployment_test: what deployment/ ships is valid and every query in it
# runs. promtool checks the scrape config and the alert rules and runs the
# rules' unit test (deployment/prometheus/alerts_test.yml); the Grafana
# dashboards are valid JSON with the ${DS_PROMETHEUS} datasource variable
# throughout; and every PromQL expression -- each dashboard panel target,
# annotation and variable query, each alert rule -- is evaluated by a real
# Prometheus (loopback, port picked by the OS, throwaway TSDB) without error.
# The rules are loaded into that Prometheus too and must evaluate "ok".
# Whether the series they name are the ones the gateway exports is
# tests/prometheus_test.sh's part.
#
# Env (set by ctest): AG_SOURCE_DIR. Ends with "N passed, N failed".
source "$(dirname "$0")/lib.sh"

dep=$src/deployment
need promtool prometheus jq curl

# check_out DESCRIPTION COMMAND...: like check, and shows the command's
# output when it fails
check_out() {
  local what=$1; shift
  if "$@" >"$work/out" 2>&1; then ok; else bad "$what"; sed 's/^/    /' "$work/out" | head -n 40; fi
}

# ---- promtool ------------------------------------------------------------------

check_out "promtool check config prometheus.yml" promtool check config "$dep/prometheus/prometheus.yml"
check_out "promtool check rules alerts.yml" promtool check rules "$dep/prometheus/alerts.yml"
check_out "promtool test rules alerts_test.yml" promtool test rules "$dep/prometheus/alerts_test.yml"
# the release guide's four alerts are there, by name
for a in ErrorRateHigh LatencyHigh DiskSpaceRunningOut MemoryUsageHigh; do
  check "alert $a defined" grep -qE "^ *- alert: $a\$" "$dep/prometheus/alerts.yml"
  check "alert $a has a unit test" grep -qE "alertname: $a\$" "$dep/prometheus/alerts_test.yml"
done

# every alert links to a section of the runbook that exists (GitHub's
# heading anchors: lower case, punctuation dropped, spaces as hyphens)
anchors=" $(grep -E '^#+ ' "$dep/RUNBOOK.md" | sed -E 's/^#+ +//' | tr 'A-Z' 'a-z' | sed -E 's/[^a-z0-9 _-]//g; s/ /-/g' | tr '\n' ' ') "
nlinks=0
for a in $(grep -oE 'RUNBOOK\.md#[a-z0-9_-]+' "$dep/prometheus/alerts.yml" | sed 's/.*#//' | sort -u); do
  nlinks=$((nlinks + 1))
  check "runbook section #$a exists" bash -c '[[ $1 == *" $2 "* ]]' _ "$anchors" "$a"
done
check "every alert has a runbook link" [ "$(grep -c '^ *- alert:' "$dep/prometheus/alerts.yml")" = "$(grep -c 'runbook: "deployment/RUNBOOK.md#' "$dep/prometheus/alerts.yml")" ]
check "runbook has the admin calls" bash -c 'for c in "GET" "/admin/clusters/default/weights" "/admin/clusters/default/rollout" "/admin/clusters/default/promote" "/admin/clusters/default/rollback" "/admin/drain" "tcp_migrate_req"; do grep -q -- "$c" "$1" || { echo "runbook lacks $c"; exit 1; }; done' _ "$dep/RUNBOOK.md"

# ---- dashboards: JSON and shape ---------------------------------------------------

dashboards=("$dep"/grafana/*.json)
check "four or more dashboards" [ "${#dashboards[@]}" -ge 4 ]
for d in "${dashboards[@]}"; do
  n=$(basename "$d")
  if ! jq -e . "$d" >/dev/null 2>&1; then bad "$n is valid JSON"; continue; fi
  ok
  check "$n has uid, title, panels" jqf -e -n 'input | (.uid | type == "string" and length > 0) and (.title | length > 0) and (.panels | length > 0)' "$d"
  check "$n declares the DS_PROMETHEUS datasource variable" \
    jqf -e -n 'input | [.templating.list[] | select(.name == "DS_PROMETHEUS" and .type == "datasource" and .query == "prometheus")] | length == 1' "$d"
  # no datasource picked by a uid that exists only on one Grafana
  check "$n uses only \${DS_PROMETHEUS} (or Grafana's built-in) as datasource" \
    jqf -e -n 'input | [.. | objects | select(has("datasource")) | .datasource | if type == "object" then .uid else . end]
                    | length > 0 and all(. == "${DS_PROMETHEUS}" or . == "-- Grafana --")' "$d"
  check "$n panel ids unique" jqf -e -n 'input | [.panels[] | (., .panels[]?) | .id] | (length == (unique | length))' "$d"
  check "$n every non-row panel has a query" \
    jqf -e -n 'input | [.panels[] | (., .panels[]?) | select(.type != "row")] | length > 0 and all((.targets // []) | length > 0 and all(.expr | type == "string" and length > 0))' "$d"
  check "$n every panel has a grid position" jqf -e -n 'input | all(.panels[]; .gridPos.w > 0 and .gridPos.h > 0)' "$d"
done
check "dashboard uids unique" [ "$(jq -r .uid "${dashboards[@]}" | sort | uniq -d | wc -l)" = 0 ]

# ---- a real Prometheus evaluates every expression ----------------------------------

cp "$dep/prometheus/alerts.yml" "$work/alerts.yml"
cat >"$work/prometheus.yml" <<EOF
global:
  scrape_interval: 1s
  evaluation_interval: 1s
rule_files:
  - $work/alerts.yml
EOF
start_prometheus || give_up "prometheus starts and becomes ready"
ok

# query EXPR: 0 when Prometheus evaluates it without error; else prints why
query() {
  curl -s --max-time 10 -G --data-urlencode "query=$1" "$prom/api/v1/query" >"$work/q.json"
  jq -e -n 'input | .status == "success"' "$work/q.json" >/dev/null 2>&1 && return 0
  echo "    $1"
  echo "    -> $(jq -r -n 'input | .error // "no answer"' "$work/q.json" 2>/dev/null || cat "$work/q.json")"
  return 1
}

# Grafana's variables as a query would see them: one value each, the
# multi-value ones as their "All" regex
substitute() {
  local q=$1
  q=${q//\$__rate_interval/1m}
  q=${q//\$__interval/1m}
  q=${q//\$__range/1h}
  q=${q//\$\{job\}/aurigraph-gateway}
  q=${q//\$job/aurigraph-gateway}
  for v in instance route cluster; do
    q=${q//\$\{$v\}/.*}
    q=${q//\$$v/.*}
  done
  # label_values(SELECTOR, LABEL) is Grafana's, not PromQL: evaluate the selector
  if [[ $q =~ ^label_values\((.*),[[:space:]]*[a-zA-Z_][a-zA-Z0-9_]*\)$ ]]; then
    q=${BASH_REMATCH[1]}
  fi
  printf '%s' "$q"
}

nexpr=0
for d in "${dashboards[@]}"; do
  n=$(basename "$d")
  jq -e . "$d" >/dev/null 2>&1 || continue
  defined=" $(jq -r '[.templating.list[].name] | join(" ")' "$d") "
  while IFS= read -r b64; do
    expr=$(printf '%s' "$b64" | base64 -d)
    nexpr=$((nexpr + 1))
    # every variable an expression uses is one the dashboard defines
    undefined=
    for v in $(grep -oE '\$\{?[a-zA-Z_][a-zA-Z0-9_]*' <<<"$expr" | tr -d '${' | grep -v '^__' | sort -u); do
      [[ $defined == *" $v "* ]] || undefined+=" $v"
    done
    check "$n: variables defined (${undefined# }) in: $expr" [ -z "$undefined" ]
    q=$(substitute "$expr")
    check "$n: no unknown variable left in: $q" bash -c '[[ $1 != *\$* ]]' _ "$q"
    check "$n: Prometheus evaluates: $expr" query "$q"
  done < <(jq -r '[.panels[] | (., .panels[]?) | .targets[]?.expr]
                  + [.annotations.list[] | .expr // empty]
                  + [.templating.list[] | select(.type == "query") | .query | if type == "object" then .query else . end]
                  | .[] | @base64' "$d")
done
check "dashboards hold expressions ($nexpr)" [ "$nexpr" -ge 40 ]

# the rules: Prometheus loaded them all, each query evaluates, and the rule
# manager's own evaluations of them end "ok"
curl -s --max-time 10 "$prom/api/v1/rules" >"$work/rules.json"
nrules=$(jq -n 'input | [.data.groups[].rules[]] | length' "$work/rules.json" 2>/dev/null || echo 0)
check "prometheus loaded the rules ($nrules)" [ "$nrules" -ge 4 ]
check "... as many as promtool counts" bash -c "promtool check rules '$dep/prometheus/alerts.yml' | grep -q 'SUCCESS: $nrules rules found'"
while IFS= read -r b64; do
  expr=$(printf '%s' "$b64" | base64 -d)
  check "rule query evaluates: $expr" query "$expr"
done < <(jq -r '.data.groups[].rules[].query | @base64' "$work/rules.json")

# the rule manager evaluates each group every second: wait for one round
rules_evaluated() {
  curl -s --max-time 5 "$prom/api/v1/rules" >"$work/rules.json"
  jq -e -n 'input | [.data.groups[].rules[]] | length > 0 and all(.lastEvaluation != "0001-01-01T00:00:00Z")' "$work/rules.json" >/dev/null 2>&1
}
deadline=$((SECONDS + 30))
until rules_evaluated || [ $SECONDS -ge $deadline ]; do sleep 0.3; done
check "every rule has been evaluated" rules_evaluated
check "every rule's evaluation is healthy" jqf -e -n 'input | all(.data.groups[].rules[]; .health == "ok")' "$work/rules.json"
if [ "$failed" -gt 0 ]; then
  jq -r '.data.groups[].rules[] | select(.health != "ok") | "    \(.name): \(.health) \(.lastError // "")"' "$work/rules.json" 2>/dev/null
fi

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
