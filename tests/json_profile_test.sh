#!/usr/bin/env bash
# json_profile_test: which JSON profile a route gets, as a client sees it,
# through the real gateway and the reference services. The precedence is
# route > cluster > .proto > top level > proto3 (gateway/config/config.h);
# this test sets a cluster and a route in the config, which both win over
# whatever the V11 .protos say, so it holds whichever profile they name.
# Also: unknown JSON keys counted per route in /q/metrics, the error shape
# of each profile, and a bad profile name refused at start.
source "$(dirname "$0")/lib.sh"
need_binaries
need curl jq

start_services svc || give_up "aurigraph-services did not start"
cat >"$work/gw.yaml" <<YAML
clusters:
  - name: default
    targets: ["127.0.0.1:$svc_port"]
    json_profile: v11
routes:
  - method: aurigraph.v11.TransactionService.GetTransaction
    json_profile: proto3
YAML
start_gateway gw --config "$work/gw.yaml" || give_up "gateway did not start"
wait_ready "$gw" 20 || give_up "gateway not ready"

req() { # req METHOD PATH [BODY]: sets status and body ($work/b)
  local args=(-s --max-time 10 "${http:---http1.1}" -X "$1" -o "$work/b" -w '%{http_code}')
  [ $# -ge 3 ] && args+=(-H 'content-type: application/json' --data-binary "$3")
  status=$(curl "${args[@]}" "$gw$2")
  body=$(cat "$work/b")
}
jqb() { printf '%s' "$body" | jqt "input | ($1)"; }

# the cluster's v11: an unknown key is ignored (and counted), not a 400
tx='{"userId":"u1","fromAddress":"0xa","toAddress":"0xb","amount":"1.5","transactionType":"TRANSFER","nonce":7,"block_height":{"x":[1]}}'
for http in --http1.1 --http2-prior-knowledge; do
  req POST /api/v11/transactions "$tx"
  check "v11 route ($http): unknown keys ignored (HTTP $status: ${body:0:200})" [ "${status:0:1}" = 2 ]
done
unset http
# the route's proto3 wins over the cluster: a missing hash is a 404 in the
# proto3 error shape, without "error"
req GET /api/v11/transactions/0xnothere
check "proto3 route: 404" [ "$status" = 404 ]
check "proto3 route: {code, message, details} only" jqb 'keys == ["code","details","message"] and .code == 5'
# a v11 route's error has "error" beside them, the same text as "message"
req POST /api/v11/transactions '{"userId":'
check "v11 route: malformed JSON is a 400" [ "$status" = 400 ]
check "v11 route: error shape with \"error\"" jqb '(.error | type == "string") and .error == .message and .code == 3 and (.details | type == "array")'
req POST /api/v11/transactions '[1,2]'
check "v11 route: an array for an object is a 400 with \"error\"" bash -c "[ '$status' = 400 ] && printf '%s' '$body' | jq -e '.error | contains(\"expected an object\")' >/dev/null"
# outside any route: the superset shape, since some route's profile has "error"
req GET /api/v11/no/such/route
check "unmatched path: 404 with \"error\"" bash -c "[ '$status' = 404 ] && printf '%s' '$body' | jq -e '.error and .code == 5 and .message' >/dev/null"

# unknown keys per route, in the exposition
curl -s --max-time 10 -o "$work/metrics" "$gw/q/metrics"
check "gateway_json_unknown_fields_total counts 2 keys x 2 requests on the submit route" \
  grep -q '^gateway_json_unknown_fields_total{method="POST",route="/api/v11/transactions"} 4$' "$work/metrics"
check "exposition still valid" bash -c "promtool check metrics < '$work/metrics' >/dev/null 2>&1"

# a profile that does not exist stops the start, saying which
out=$("$gateway_bin" --json-profile jackson --check-config 2>&1); rc=$?
check "--json-profile jackson refused (rc $rc)" [ "$rc" = 2 ] || [ "$rc" = 1 ]
check "... naming the profiles" grep -q 'expected one of proto3, v11, got "jackson"' <<<"$out"
printf 'clusters:\n  - {name: default, targets: ["127.0.0.1:1"], json_profile: strict}\n' >"$work/bad.yaml"
out=$("$gateway_bin" --config "$work/bad.yaml" --check-config 2>&1); rc=$?
check "a bad cluster json_profile refused with its line" bash -c "[ $rc != 0 ] && grep -q 'bad.yaml:2: clusters\[0\].json_profile: expected one of proto3, v11' <<<'$out'"

summary
