#!/usr/bin/env bash
# trace_test: OpenTelemetry traces (issue 17 item 1), end to end with real
# parts. A real OTLP/HTTP receiver (tests/otlp/receiver.cjs: protobufjs and
# the opentelemetry-proto files of @opentelemetry/otlp-grpc-exporter-base
# from npm, not the gateway's vendored copy) decodes what the gateway
# exports; aurigraph-services answers the calls and echoes the traceparent
# it received (services/server.c), so the test sees both ends of the
# upstream hop. Checked: a server span that continues an incoming
# traceparent, an upstream span that is its child and is the parent the
# service saw, a trace started when none came, the HTTP and RPC attributes
# and the version, REST, gRPC (the pass-through listener) and gRPC-Web all
# traced, an unsampled parent passed on untouched, --trace-sample 0
# sending nothing (while a sampled parent still is), and the collector
# killed, then a collector that never answers, under h2load load: no
# request fails and the drops are counted in /q/metrics.
source "$(dirname "$0")/lib.sh"

need_binaries
need curl jq node npm h2load flock timeout python3

# npm ci of tests/otlp once per lockfile, into the build directory
node_dir=$build/otlp-node
mkdir -p "$node_dir"
(
  flock -w 600 9 || exit 1
  if ! cmp -s "$src/tests/otlp/package-lock.json" "$node_dir/.installed-lock" 2>/dev/null ||
     [ ! -d "$node_dir/node_modules" ]; then
    cp "$src/tests/otlp/package.json" "$src/tests/otlp/package-lock.json" "$node_dir/" &&
      (cd "$node_dir" && rm -rf node_modules && timeout 300 npm ci --silent --ignore-scripts --no-audit --no-fund) &&
      cp "$src/tests/otlp/package-lock.json" "$node_dir/.installed-lock"
  fi
) 9>"$build/otlp-node.lock" || give_up "npm ci of tests/otlp failed"
export NODE_PATH=$node_dir/node_modules

# start_receiver NAME: sets recv_port, recv_pid; spans go to $work/NAME.jsonl
start_receiver() {
  : >"$work/$1.jsonl"
  node "$src/tests/otlp/receiver.cjs" "$work/$1.jsonl" >"$work/$1.out" 2>"$work/$1.err" &
  recv_pid=$!
  pids+=("$recv_pid")
  local line
  line=$(wait_line "$work/$1.out" 'otlp-receiver listening on' 30) || { cat "$work/$1.err"; return 1; }
  recv_port=${line##* }
}

# spans_of FILE TRACE_ID: that trace's spans, one JSON array
spans_of() { jq -s --arg t "$2" '[.[] | select(.traceId == $t)]' "$1"; }
# wait_spans FILE TRACE_ID N: until N spans of the trace have arrived (10 s)
wait_spans() {
  local deadline=$((SECONDS + 10))
  while [ $SECONDS -lt $deadline ]; do
    [ "$(spans_of "$1" "$2" | jq length)" -ge "$3" ] && return 0
    sleep 0.1
  done
  return 1
}
metric() { curl -s --max-time 5 "$1/q/metrics" | awk -v m="$2" '$1 == m {print $2}'; }

start_services svc || give_up "aurigraph-services did not start"
start_receiver recv || give_up "the OTLP receiver did not start"
main_recv_pid=$recv_pid
spans=$work/recv.jsonl
cat >"$work/gw.yaml" <<EOF
clusters:
  - name: default
    versions: [{name: blue, targets: ["127.0.0.1:$svc_port"], weight: 100}]
tracing:
  endpoint: "http://127.0.0.1:$recv_port"
  interval_ms: 100
  queue_size: 256
  export_timeout_ms: 500
EOF
start_gateway gw --config "$work/gw.yaml" || give_up "the gateway did not start"
wait_ready "$gw" 10 || give_up "the gateway is not ready"
grpc_url=http://127.0.0.1:$gw_grpc_port
printf '\0\0\0\0\0' >"$work/empty.bin" # one gRPC message: uncompressed, 0 bytes

trace=0af7651916cd43dd8448eb211c80319c
parent=b7ad6b7169203331

echo "--- REST: a traceparent continued"
hdrs=$(curl -s --max-time 5 -D - -o "$work/body" -H "traceparent: 00-$trace-$parent-01" \
  -H 'tracestate: vendor=abc,other=1' "$gw/api/v11/ai/models/consensus-optimizer-v3" | tr -d '\r')
check "REST call answers 200" grep -q '^HTTP/1.1 200' <<<"$hdrs"
up_tp=$(sed -nE 's/^grpc-metadata-traceparent: (.*)$/\1/Ip' <<<"$hdrs")
check "the service saw our trace, a new parent, sampled" grep -qE "^00-$trace-[0-9a-f]{16}-01\$" <<<"$up_tp"
check "the parent upstream is not the caller's" [ "${up_tp:36:16}" != "$parent" ]
check "2 spans of the trace arrive" wait_spans "$spans" "$trace" 2
t=$(spans_of "$spans" "$trace")
echo "$t" >"$work/rest.json"
srv=$(jq -c '[.[] | select(.kind == 2)][0]' <<<"$t")
cli=$(jq -c '[.[] | select(.kind == 3)][0]' <<<"$t")
check "server span's parent is the caller's span" jqt --arg p "$parent" 'input | .parentSpanId == $p' <<<"$srv"
check "server span is named by method and route" jqt 'input | .name == "GET /api/v11/ai/models/{model_id}"' <<<"$srv"
check "server span: HTTP attributes" jqt 'input | .attrs["http.request.method"] == "GET" and
  .attrs["url.path"] == "/api/v11/ai/models/consensus-optimizer-v3" and
  .attrs["http.route"] == "/api/v11/ai/models/{model_id}" and .attrs["http.response.status_code"] == 200 and
  .attrs["url.scheme"] == "http" and .attrs["server.address"] == "127.0.0.1"' <<<"$srv"
check "server span: the upstream version" jqt 'input | .attrs["aurigraph.upstream.version"] == "blue" and
  .attrs["aurigraph.upstream.cluster"] == "default"' <<<"$srv"
check "server span keeps the tracestate" jqt 'input | .traceState == "vendor=abc,other=1"' <<<"$srv"
check "resource: service.name, service.version, service.instance.id" jqt 'input | .resource["service.name"] ==
  "aurigraph-gateway" and (.resource["service.version"] | test("^[0-9]+\\.[0-9]+\\.[0-9]+$")) and
  (.resource["service.instance.id"] | test("^[0-9a-f-]{36}$"))' <<<"$srv"
check "upstream span is the server span's child" jqt --argjson s "$srv" 'input | .parentSpanId == $s.spanId' <<<"$cli"
check "upstream span is the parent the service saw" jqt --arg c "${up_tp:36:16}" 'input | .spanId == $c' <<<"$cli"
check "upstream span: RPC attributes" jqt --argjson port "$svc_port" 'input | .attrs["rpc.system"] == "grpc" and
  .attrs["rpc.service"] == "aurigraph.v11.AIOptimizationService" and .attrs["rpc.method"] == "GetModel" and
  .attrs["rpc.grpc.status_code"] == 0 and .attrs["server.address"] == "127.0.0.1" and
  .attrs["server.port"] == $port and .attrs["aurigraph.upstream.version"] == "blue"' <<<"$cli"
check "upstream span lies within the server span" jqt --argjson s "$srv" 'input | (.start | tonumber) >=
  ($s.start | tonumber) and (.end | tonumber) <= ($s.end | tonumber) and (.end | tonumber) > (.start | tonumber)' <<<"$cli"
check "span ids are 8 bytes, distinct" jqt --argjson s "$srv" 'input | (.spanId | length) == 16 and .spanId != $s.spanId' <<<"$cli"

echo "--- REST: a trace started"
hdrs=$(curl -s --max-time 5 -D - -o /dev/null "$gw/api/v11/ai/models" | tr -d '\r')
up_tp=$(sed -nE 's/^grpc-metadata-traceparent: (.*)$/\1/Ip' <<<"$hdrs")
check "a new sampled trace goes upstream" grep -qE '^00-[0-9a-f]{32}-[0-9a-f]{16}-01$' <<<"$up_tp"
new=${up_tp:3:32}
check "its 2 spans arrive" wait_spans "$spans" "$new" 2
check "the server span is a root" jqt 'input | [.[] | select(.kind == 2)][0].parentSpanId == ""' <<<"$(spans_of "$spans" "$new")"
check "the upstream span is the service's parent" jqt --arg c "${up_tp:36:16}" 'input | [.[] | select(.kind == 3)][0].spanId == $c' \
  <<<"$(spans_of "$spans" "$new")"

echo "--- REST: no route"
t404=1bf7651916cd43dd8448eb211c80319c
curl -s --max-time 5 -o /dev/null -H "traceparent: 00-$t404-$parent-01" "$gw/api/v11/nowhere"
check "a 404's server span arrives" wait_spans "$spans" "$t404" 1
check "it has the status, no route and no upstream span" jqt 'input | length == 1 and .[0].name == "GET" and
  .[0].attrs["http.response.status_code"] == 404 and (.[0].attrs | has("http.route") | not)' <<<"$(spans_of "$spans" "$t404")"

echo "--- REST: an unsampled parent"
t00=2cf7651916cd43dd8448eb211c80319c
hdrs=$(curl -s --max-time 5 -D - -o /dev/null -H "traceparent: 00-$t00-$parent-00" "$gw/api/v11/ai/models" | tr -d '\r')
check "it goes upstream as it came" grep -qi "^grpc-metadata-traceparent: 00-$t00-$parent-00\$" <<<"$hdrs"

echo "--- gRPC pass-through"
tg=3df7651916cd43dd8448eb211c80319c
hdrs=$(curl -s --max-time 5 --http2-prior-knowledge -D - -o /dev/null -H 'content-type: application/grpc' -H 'te: trailers' \
  -H "traceparent: 00-$tg-$parent-01" --data-binary @"$work/empty.bin" \
  "$grpc_url/aurigraph.v11.TransactionService/GetTransactionStats" | tr -d '\r')
check "the gRPC call succeeds" grep -q '^grpc-status: 0' <<<"$hdrs"
up_tp=$(sed -nE 's/^traceparent: (.*)$/\1/Ip' <<<"$hdrs")
check "the service saw our trace, a new parent" grep -qE "^00-$tg-[0-9a-f]{16}-01\$" <<<"$up_tp"
check "2 spans of the gRPC call arrive" wait_spans "$spans" "$tg" 2
t=$(spans_of "$spans" "$tg")
srv=$(jq -c '[.[] | select(.kind == 2)][0]' <<<"$t")
cli=$(jq -c '[.[] | select(.kind == 3)][0]' <<<"$t")
check "gRPC server span: parent, name, RPC attributes" jqt --arg p "$parent" 'input | .parentSpanId == $p and
  .name == "aurigraph.v11.TransactionService/GetTransactionStats" and .attrs["rpc.system"] == "grpc" and
  .attrs["rpc.service"] == "aurigraph.v11.TransactionService" and .attrs["rpc.method"] == "GetTransactionStats" and
  .attrs["rpc.grpc.status_code"] == 0 and .attrs["aurigraph.upstream.version"] == "blue"' <<<"$srv"
check "gRPC upstream span: child, the service's parent" jqt --argjson s "$srv" --arg c "${up_tp:36:16}" \
  'input | .parentSpanId == $s.spanId and .spanId == $c and .attrs["rpc.method"] == "GetTransactionStats"' <<<"$cli"

echo "--- gRPC-Web"
tw=4ef7651916cd43dd8448eb211c80319c
hdrs=$(curl -s --max-time 5 -D - -o /dev/null -H 'content-type: application/grpc-web+proto' \
  -H "traceparent: 00-$tw-$parent-01" --data-binary @"$work/empty.bin" \
  "$gw/aurigraph.v11.TransactionService/GetTransactionStats" | tr -d '\r')
check "the gRPC-Web call answers 200" grep -q '^HTTP/1.1 200' <<<"$hdrs"
check "2 spans of the gRPC-Web call arrive" wait_spans "$spans" "$tw" 2
t=$(spans_of "$spans" "$tw")
check "gRPC-Web server span: HTTP and RPC attributes" jqt --arg p "$parent" 'input | [.[] | select(.kind == 2)][0] |
  .parentSpanId == $p and .attrs["http.request.method"] == "POST" and .attrs["http.response.status_code"] == 200 and
  .attrs["rpc.method"] == "GetTransactionStats" and .attrs["rpc.grpc.status_code"] == 0' <<<"$t"
check "gRPC-Web upstream span is the child" jqt 'input | ([.[] | select(.kind == 2)][0].spanId) as $s |
  [.[] | select(.kind == 3)][0].parentSpanId == $s' <<<"$t"

echo "--- --trace-sample 0"
start_receiver recv0 || give_up "the second OTLP receiver did not start"
recv0_pid=$recv_pid
main_gw=$gw
# the flags over a file that asks for unsampled new traces to be propagated
printf 'tracing:\n  propagate_unsampled: true\n  interval_ms: 100\n' >"$work/gw0.yaml"
start_gateway gw0 --config "$work/gw0.yaml" --upstream "127.0.0.1:$svc_port" \
  --otlp-endpoint "http://127.0.0.1:$recv_port" --trace-sample 0 ||
  give_up "the sample-0 gateway did not start"
gw0=$gw
gw=$main_gw
wait_ready "$gw0" 10 || give_up "the sample-0 gateway is not ready"
for i in $(seq 1 30); do curl -s --max-time 5 -o /dev/null "$gw0/api/v11/ai/models"; done
hdrs=$(curl -s --max-time 5 -D - -o /dev/null "$gw0/api/v11/ai/models" | tr -d '\r')
check "an unsampled new trace goes upstream with the flag clear" \
  grep -qiE '^grpc-metadata-traceparent: 00-[0-9a-f]{32}-[0-9a-f]{16}-00$' <<<"$hdrs"
# a sampled parent is followed whatever the ratio: its spans are the
# proof the exporter works here, so "nothing" below is the sampler's doing
ts=5ff7651916cd43dd8448eb211c80319c
curl -s --max-time 5 -o /dev/null -H "traceparent: 00-$ts-$parent-01" "$gw0/api/v11/ai/models"
check "a sampled parent's spans still arrive" wait_spans "$work/recv0.jsonl" "$ts" 2
sleep 0.5
check "sample 0: nothing but the sampled parent's 2 spans" [ "$(wc -l <"$work/recv0.jsonl")" = 2 ]
check "sample 0: the exporter says 2" [ "$(metric "$gw0" gateway_trace_spans_exported_total)" = 2 ]

echo "--- the collector killed under load"
# h2load: 40000 REST requests on 8 keep-alive connections (a count, not a
# duration: h2load cuts the calls in flight at a duration's end); the
# receiver dies 1 s in
timeout 120 h2load --h1 -n 40000 -c 8 -m 1 "$gw/api/v11/ai/models" >"$work/load1.out" 2>&1 &
load_pid=$!
pids+=("$load_pid")
sleep 1
kill "$main_recv_pid"
wait "$load_pid"
sed -n '/^requests:/p;/^status codes:/p' "$work/load1.out"
done1=$(sed -nE 's/^requests: ([0-9]+) total.* ([0-9]+) succeeded, ([0-9]+) failed, ([0-9]+) errored.*/\1 \2 \3 \4/p' "$work/load1.out")
read -r total ok1 failed1 errored1 <<<"$done1"
check "load: requests were made" [ "${total:-0}" -gt 500 ]
check "load: every request succeeded" [ "${ok1:-0}" = "$total" ] && [ "$failed1" = 0 ] && [ "$errored1" = 0 ]
check "load: every status 2xx" grep -qE "^status codes: $total 2xx, 0 3xx, 0 4xx, 0 5xx" "$work/load1.out"
exported=$(metric "$gw" gateway_trace_spans_exported_total)
dq=$(metric "$gw" 'gateway_trace_spans_dropped_total{reason="queue_full"}')
de=$(metric "$gw" 'gateway_trace_spans_dropped_total{reason="export_failed"}')
echo "   exported $exported, dropped: queue_full $dq, export_failed $de"
check "spans were exported before the kill" [ "${exported:-0}" -gt 20 ]
check "the drops are counted" [ $((${dq:-0} + ${de:-0})) -gt 0 ]

echo "--- a collector that never answers, under gRPC load"
# the same port now accepts connections (the backlog) and never reads: every
# export waits its whole timeout; the workers must not notice
python3 -c 'import socket,sys,time
s=socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", int(sys.argv[1]))); s.listen(1024); print("listening", flush=True); time.sleep(60)' \
  "$(sed -nE 's/.*endpoint: "http:\/\/127.0.0.1:([0-9]+)".*/\1/p' "$work/gw.yaml")" >"$work/hole.out" 2>&1 &
pids+=("$!")
wait_line "$work/hole.out" listening 5 >/dev/null || echo "   (the port was taken: the collector is simply gone)"
timeout 120 h2load -n 40000 -c 4 -m 8 -H 'content-type: application/grpc' -H 'te: trailers' -d "$work/empty.bin" \
  "$grpc_url/aurigraph.v11.TransactionService/GetTransactionStats" >"$work/load2.out" 2>&1
sed -n '/^requests:/p;/^status codes:/p;/time for request:/p' "$work/load2.out"
done2=$(sed -nE 's/^requests: ([0-9]+) total.* ([0-9]+) succeeded, ([0-9]+) failed, ([0-9]+) errored.*/\1 \2 \3 \4/p' "$work/load2.out")
read -r total2 ok2 failed2 errored2 <<<"$done2"
check "gRPC load: calls were made" [ "${total2:-0}" -gt 500 ]
check "gRPC load: every call succeeded" [ "${ok2:-0}" = "$total2" ] && [ "$failed2" = 0 ] && [ "$errored2" = 0 ]
codes=$(curl -s --max-time 5 "$gw/q/metrics" | grep '^grpc_requests_total{.*source="grpc"' | grep -v 'code="OK"' |
  awk '{s += $2} END {print s + 0}')
check "gRPC load: no status but OK" [ "$codes" = 0 ]
dq2=$(metric "$gw" 'gateway_trace_spans_dropped_total{reason="queue_full"}')
check "queue drops keep being counted" [ "${dq2:-0}" -gt "${dq:-0}" ]
check "the gateway still answers at once" [ "$(curl -s --max-time 1 -o /dev/null -w '%{http_code}' "$gw/api/v11/ai/models")" = 200 ]

summary
