#!/usr/bin/env bash
# grpc_local_limits_test: the calls the gateway answers itself and that stay
# open as long as their client likes (grpc.health.v1.Health/Watch,
# ServerReflectionInfo), with clients we did not write (@grpc/grpc-js:
# tests/grpc/health.cjs, tests/grpc/reflection_stream.cjs):
#   the cap   one worker, grpc.max_local_streams: 3: two watches and a
#             reflection stream are served, a fourth long-lived call of
#             either kind is RESOURCE_EXHAUSTED, a Check still answers,
#             and a slot given back (a watch cancelled) is taken again
#   the drain with those calls open, SIGTERM: each watch hears NOT_SERVING
#             and ends UNAVAILABLE, the reflection stream ends UNAVAILABLE,
#             and the gateway exits long before its 30 s drain timeout
#             (without the ending it would wait the whole timeout)
# Loopback only, ports picked by the kernel, every client bounded by timeout.
source "$(dirname "$0")/lib.sh"
source "$src/tests/grpc/lib.sh"

need_binaries
need timeout flock
grpc_node || give_up "the Node gRPC packages (tests/grpc/package-lock.json) did not install"
export GRPC_PROTO_INCLUDE=${GRPC_PROTO_INCLUDE:-/usr/share/grpc-proto}
[ -f "$GRPC_PROTO_INCLUDE/grpc/reflection/v1/reflection.proto" ] || give_up "grpc-proto is needed (scripts/install-deps)"

# watch NAME SERVICE SECONDS / reflect NAME SECONDS: in the background, lines in $work/NAME.out
watch() {
  timeout $(($3 + 10)) node "$grpc_dir/health.cjs" watch "$grpc" "$2" "$3" >"$work/$1.call" 2>&1 &
  pids+=("$!")
}
reflect() {
  timeout $(($2 + 10)) node "$grpc_dir/reflection_stream.cjs" "$grpc" "$2" >"$work/$1.call" 2>&1 &
  pids+=("$!")
}
saw() { wait_line "$work/$1.call" "$2" "$3" >/dev/null; } # saw NAME REGEX SECONDS
lines() { tr '\n' ' ' <"$work/$1.call"; }

start_services svc || give_up "aurigraph-services did not start"
cat >"$work/gw.yaml" <<EOF2
drain_timeout_ms: 30000
grpc: {max_local_streams: 3}
clusters:
  - {name: default, targets: ["127.0.0.1:$svc_port"]}
EOF2
# one worker: every call on the one worker whose slots are counted
start_gateway gw --config "$work/gw.yaml" --workers 1 || give_up "gateway did not start"
[ -n "${gw_grpc_port:-}" ] || give_up "the gateway has no gRPC listener (gw_grpc_port)"
grpc=127.0.0.1:$gw_grpc_port
wait_ready "$gw" 20 || give_up "the gateway never became ready"

echo "--- the cap: grpc.max_local_streams 3 on one worker"
watch w1 "" 60
check "watch 1: SERVING" saw w1 '^status SERVING' 15
watch w2 "" 4 # cancels itself after 4 s: its slot comes back
check "watch 2: SERVING" saw w2 '^status SERVING' 15
reflect r1 60
check "reflection stream 1: its list_services answer ($(lines r1))" saw r1 '^services [0-9]+' 15
watch w3 "" 60
check "watch 3, past the cap: RESOURCE_EXHAUSTED (8) ($(lines w3))" saw w3 '^end 8$' 15
check "... and no status sent before it" bash -c "! grep -q '^status' '$work/w3.call'"
reflect r2 60
check "reflection stream 2, past the cap: RESOURCE_EXHAUSTED (8) naming the key ($(lines r2))" \
  saw r2 '^end 8 .*grpc\.max_local_streams' 15
got=$(timeout 20 node "$grpc_dir/health.cjs" check "$grpc" "" 2>&1)
check "a Check while the slots are full: answered, SERVING ($got)" [ "$got" = "status SERVING" ]
check "watch 2 cancels itself after 4 s" saw w2 '^cancelled' 15
sleep 0.3 # the cancel reaches the gateway
watch w4 "" 60
check "watch 4, in the slot watch 2 gave back: SERVING ($(lines w4))" saw w4 '^status SERVING' 15

echo "--- the drain with long-lived calls open"
sleep 0.3
started=$SECONDS
kill -TERM "$gw_pid"
check "watch 1: NOT_SERVING, then the end UNAVAILABLE (14) ($(lines w1))" saw w1 '^end 14' 15
check "... in that order ($(lines w1))" [ "$(tail -n2 "$work/w1.call" | tr '\n' ' ')" = "status NOT_SERVING end 14 " ]
check "watch 4: NOT_SERVING, then UNAVAILABLE ($(lines w4))" saw w4 '^end 14' 15
check "... in that order" [ "$(tail -n2 "$work/w4.call" | tr '\n' ' ')" = "status NOT_SERVING end 14 " ]
check "reflection stream 1: ended by the gateway, UNAVAILABLE (14) ($(lines r1))" saw r1 '^end 14 ' 15
check "the gateway exits long before its 30 s drain timeout" wait_exit "$gw_pid" 10
wait "$gw_pid" 2>/dev/null
rc=$?
echo "   drained in about $((SECONDS - started)) s"
check "the gateway's exit status is 0 (a sanitizer's finding would not be) (rc $rc)" [ "$rc" = 0 ]
summary
