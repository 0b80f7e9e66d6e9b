#!/usr/bin/env bash
# grpc_local_test: what the gateway answers itself on its gRPC listener,
# with clients we did not write:
#   reflection  grpc-reflection-js (v1alpha) and @grpc/grpc-js +
#               @grpc/proto-loader on grpc-proto's v1 reflection.proto
#               (tests/grpc/reflection.cjs), with every backend stopped:
#               the answers are the gateway's own
#   health      grpc.health.v1.Health Check and Watch with @grpc/grpc-js
#               (tests/grpc/health.cjs): "" and per service (two clusters,
#               one backend each), unknown services, Watch seeing a backend
#               go down and come back, and the drain
# Loopback only, ports picked by the kernel, every client bounded by timeout.
source "$(dirname "$0")/lib.sh"
source "$src/tests/grpc/lib.sh"

need_binaries
need timeout flock
grpc_node || give_up "the Node gRPC packages (tests/grpc/package-lock.json) did not install"
export GRPC_PROTO_INCLUDE=${GRPC_PROTO_INCLUDE:-/usr/share/grpc-proto}
[ -f "$GRPC_PROTO_INCLUDE/grpc/health/v1/health.proto" ] || give_up "grpc-proto is needed (scripts/install-deps)"

health() { timeout 20 node "$grpc_dir/health.cjs" "$@" 2>&1; }
# watch NAME SERVICE SECONDS: a Watch in the background, its lines in $work/NAME.watch
watch() {
  timeout $(($3 + 10)) node "$grpc_dir/health.cjs" watch "127.0.0.1:$gw_grpc_port" "$2" "$3" \
    >"$work/$1.watch" 2>&1 &
  pids+=("$!")
}
# lines FILE: the watch's lines on one line
lines() { tr '\n' ' ' <"$1"; }
saw() { wait_line "$@" >/dev/null; } # saw FILE REGEX SECONDS
wait_lines() { # wait_lines FILE N SECONDS: until FILE has N lines
  local deadline=$((SECONDS + $3))
  while [ "$(grep -c . "$1" 2>/dev/null)" -lt "$2" ] && [ $SECONDS -lt $deadline ]; do sleep 0.05; done
  [ "$(grep -c . "$1" 2>/dev/null)" -ge "$2" ]
}
wait_last() { # wait_last FILE LINE SECONDS: until LINE is FILE's last
  local deadline=$((SECONDS + $3))
  while [ "$(tail -n1 "$1" 2>/dev/null)" != "$2" ] && [ $SECONDS -lt $deadline ]; do sleep 0.05; done
  [ "$(tail -n1 "$1" 2>/dev/null)" = "$2" ]
}

start_services svc1 || give_up "aurigraph-services (1) did not start"
svc1_pid=$svc_pid svc1_port=$svc_port
start_services svc2 || give_up "aurigraph-services (2) did not start"
svc2_pid=$svc_pid svc2_port=$svc_port

# two clusters: consensus on the second backend, the rest on the first;
# quick health checks so a stopped backend is seen within a second
hc='health: {interval_ms: 100, timeout_ms: 500, healthy_threshold: 1, unhealthy_threshold: 1}'
cat >"$work/gw.yaml" <<EOF
drain_timeout_ms: 10000
clusters:
  - {name: default, targets: ["127.0.0.1:$svc1_port"], $hc}
  - {name: consensus, targets: ["127.0.0.1:$svc2_port"], $hc}
services:
  aurigraph.v11.ConsensusService: consensus
EOF
start_gateway gw --config "$work/gw.yaml" || give_up "gateway did not start"
[ -n "${gw_grpc_port:-}" ] || give_up "the gateway has no gRPC listener (gw_grpc_port)"
grpc=127.0.0.1:$gw_grpc_port
wait_ready "$gw" 20 || give_up "the gateway never became ready"

echo "--- health: Check"
check_is() { # check_is WANT SERVICE
  local got
  got=$(health check "$grpc" "$2")
  [ "$got" = "$1" ] || { echo "   Check \"$2\": $got (want $1)"; return 1; }
}
check "Check \"\": SERVING" check_is "status SERVING" ""
check "Check TransactionService: SERVING" check_is "status SERVING" aurigraph.v11.TransactionService
check "Check ConsensusService: SERVING" check_is "status SERVING" aurigraph.v11.ConsensusService
check "Check grpc.health.v1.Health (the gateway's own): SERVING" check_is "status SERVING" grpc.health.v1.Health
check "Check grpc.reflection.v1alpha.ServerReflection: SERVING" check_is "status SERVING" \
  grpc.reflection.v1alpha.ServerReflection
got=$(health check "$grpc" aurigraph.v11.NoSuchService)
check "Check of an unknown service: NOT_FOUND (5) ($got)" grep -q '^error 5 ' <<<"$got"
got=$(health check "$grpc" aurigraph.v11.TransactionService.GetTransaction)
check "Check of a method name is no service: NOT_FOUND ($got)" grep -q '^error 5 ' <<<"$got"

echo "--- health: Watch, a backend stopped and started again"
watch consensus aurigraph.v11.ConsensusService 60
watch tx aurigraph.v11.TransactionService 60
watch unknown aurigraph.v11.NoSuchService 60
watch gateway "" 60
check "Watch ConsensusService: SERVING at once" saw "$work/consensus.watch" '^status SERVING' 15
check "Watch TransactionService: SERVING at once" saw "$work/tx.watch" '^status SERVING' 15
check "Watch \"\": SERVING at once" saw "$work/gateway.watch" '^status SERVING' 15
check "Watch of an unknown service: SERVICE_UNKNOWN, the call open" \
  saw "$work/unknown.watch" '^status SERVICE_UNKNOWN' 15
kill "$svc2_pid"; wait "$svc2_pid" 2>/dev/null
check "Watch ConsensusService: NOT_SERVING once its backend is stopped" \
  saw "$work/consensus.watch" '^status NOT_SERVING' 15
check "Check ConsensusService: NOT_SERVING" check_is "status NOT_SERVING" aurigraph.v11.ConsensusService
check "Check TransactionService: still SERVING (its own cluster)" check_is "status SERVING" \
  aurigraph.v11.TransactionService
check "Check \"\": SERVING while one cluster is up" check_is "status SERVING" ""
SVC_PORT=$svc2_port start_services svc2b || give_up "aurigraph-services (2) did not start again"
svc2_pid=$svc_pid
wait_lines "$work/consensus.watch" 3 15
check "Watch ConsensusService: SERVING, NOT_SERVING, SERVING again once the backend is back ($(lines "$work/consensus.watch"))" \
  [ "$(lines "$work/consensus.watch")" = "status SERVING status NOT_SERVING status SERVING " ]
check "Watch TransactionService: no change seen ($(lines "$work/tx.watch"))" \
  [ "$(lines "$work/tx.watch")" = "status SERVING " ]
check "Watch \"\": no change seen ($(lines "$work/gateway.watch"))" [ "$(lines "$work/gateway.watch")" = "status SERVING " ]

echo "--- reflection, every backend stopped: the gateway's own answers"
kill "$svc1_pid" "$svc2_pid"; wait "$svc1_pid" "$svc2_pid" 2>/dev/null
check "Watch \"\": NOT_SERVING with no cluster up" saw "$work/gateway.watch" '^status NOT_SERVING' 15
check "Check \"\": NOT_SERVING with no cluster up" check_is "status NOT_SERVING" ""
timeout 60 node "$grpc_dir/reflection.cjs" "$grpc" >"$work/reflection.out" 2>&1
rc=$?
sed 's/^/   /' "$work/reflection.out"
line=$(grep -E '^[0-9]+ passed, [0-9]+ failed$' "$work/reflection.out" | tail -n1)
p=${line%% passed*}; f=${line#*passed, }; f=${f%% failed}
if [ -n "$line" ]; then passed=$((passed + p)); failed=$((failed + f)); else bad "reflection.cjs: no summary (exit $rc)"; fi
[ "$rc" = 0 ] || [ "${f:-1}" != 0 ] || bad "reflection.cjs: exit $rc"

echo "--- health: the drain"
SVC_PORT=$svc1_port start_services svc1b || give_up "aurigraph-services (1) did not start again"
check "Watch \"\": SERVING with a cluster up again ($(lines "$work/gateway.watch"))" \
  wait_last "$work/gateway.watch" "status SERVING" 15
watch drain_tx aurigraph.v11.TransactionService 60
check "Watch TransactionService (a new call): SERVING" saw "$work/drain_tx.watch" '^status SERVING' 15
kill -TERM "$gw_pid"
check "Watch TransactionService: NOT_SERVING when the gateway drains" \
  saw "$work/drain_tx.watch" '^status NOT_SERVING' 15
check "Watch TransactionService: the call ends, UNAVAILABLE (14), so the drain need not wait for it" \
  saw "$work/drain_tx.watch" '^end 14' 15
saw "$work/gateway.watch" '^end ' 15
check "Watch \"\": NOT_SERVING, then the end ($(lines "$work/gateway.watch"))" \
  [ "$(tail -n2 "$work/gateway.watch" | tr '\n' ' ')" = "status NOT_SERVING end 14 " ]
check "Watch of the unknown service: ended too" saw "$work/unknown.watch" '^end 14' 15
check "the gateway exits within its drain timeout" wait_exit "$gw_pid" 15
wait "$gw_pid" 2>/dev/null
rc=$?
check "the gateway's exit status is 0 (a sanitizer's finding would not be) (rc $rc)" [ "$rc" = 0 ]
summary
