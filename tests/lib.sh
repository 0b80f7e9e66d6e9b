# tests/lib.sh: the harness every shell test here shares. Sourced, not run:
#
#   source "$(dirname "$0")/lib.sh"; need curl jq; need_binaries
#
# It gives: build, src, gateway_bin, services_bin; work, a scratch folder
# (kept as $TMPDIR/NAME.failed.PID when a check failed, for whoever reads
# the failure); pids, processes killed and reaped at exit (cleanup_hook, if
# defined, runs first); ok/bad/check; jqt (jq -e on exactly one input, since
# jq -e alone passes on empty input) and jqf (jq, quiet); wait_line;
# start_services; start_gateway; wait_ready; listen_port; give_up; summary. Env (set by ctest): AG_BUILD_DIR,
# AG_SOURCE_DIR.
set -uo pipefail

test_name=$(basename "$0" .sh)
src=${AG_SOURCE_DIR:-$(cd "$(dirname "$0")/.." && pwd)}
build=${AG_BUILD_DIR:-}
gateway_bin=$build/aurigraph-gateway
services_bin=$build/aurigraph-services
[ -x "$services_bin" ] || services_bin=$build/services/aurigraph-services

passed=0
failed=0
ok() { passed=$((passed + 1)); }
bad() { failed=$((failed + 1)); echo "FAIL: $*"; }
check() { # check DESCRIPTION COMMAND...
  local what=$1; shift
  if "$@"; then ok; else bad "$what"; fi
}
jqt() { jq -e -n "$@" >/dev/null 2>&1; } # jqt [ARGS] 'input | FILTER' FILE
jqf() { jq "$@" >/dev/null 2>&1; }
# The last line of every test, and its exit status.
summary() { echo "$passed passed, $failed failed"; [ "$failed" = 0 ]; }
give_up() { bad "$1"; summary; exit 1; }
need() { # need TOOL...
  local t
  for t; do command -v "$t" >/dev/null || give_up "$t is needed (scripts/install-deps)"; done
}
need_binaries() {
  [ -n "$build" ] || give_up "AG_BUILD_DIR must name the build directory"
  local b
  for b in "$gateway_bin" "$services_bin"; do [ -x "$b" ] || give_up "missing $b"; done
}

work=$(mktemp -d)
pids=()
cleanup() {
  if declare -F cleanup_hook >/dev/null; then cleanup_hook; fi
  local p
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null; done
  if [ "$failed" -gt 0 ]; then
    local keep=${TMPDIR:-/tmp}/$test_name.failed.$$
    rm -rf "$keep" && mv "$work" "$keep" && echo "outputs kept in $keep"
  else
    rm -rf "$work"
  fi
}
trap cleanup EXIT

wait_line() { # wait_line FILE REGEX SECONDS: prints the first matching line
  local file=$1 re=$2 deadline=$((SECONDS + $3))
  while [ $SECONDS -lt $deadline ]; do
    if grep -qE "$re" "$file" 2>/dev/null; then grep -E "$re" "$file" | head -n1; return 0; fi
    sleep 0.05
  done
  return 1
}

start_services() { # start_services NAME [FLAGS...]: sets svc_port, svc_pid ($SVC_PORT: a fixed port)
  local name=$1; shift
  "$services_bin" --listen "127.0.0.1:${SVC_PORT:-0}" "$@" >"$work/$name.out" 2>"$work/$name.err" &
  svc_pid=$!
  pids+=("$svc_pid")
  local line
  line=$(wait_line "$work/$name.out" 'listening on' 30) || { cat "$work/$name.err"; return 1; }
  svc_port=${line##*:}
}

# listen_port PID: the TCP port PID listens on (for a program started on
# port 0 that does not say which one it got)
listen_port() {
  local f l inodes=" "
  for f in /proc/"$1"/fd/*; do
    l=$(readlink "$f" 2>/dev/null) || continue
    case $l in socket:\[*\]) l=${l#socket:[}; inodes+="${l%]} " ;; esac
  done
  local hex
  hex=$(awk -v inodes="$inodes" '$4 == "0A" && index(inodes, " " $10 " ") { split($2, a, ":"); print a[2]; exit }' \
        /proc/net/tcp /proc/net/tcp6 2>/dev/null)
  [ -n "$hex" ] && echo $((16#$hex))
}

# running PID: alive (a child that has exited stays a zombie until waited for)
running() { [ -e "/proc/$1" ] && ! grep -q '^[0-9]* (.*) Z' "/proc/$1/stat" 2>/dev/null; }
wait_exit() { # wait_exit PID SECONDS: 0 once it has exited
  local deadline=$((SECONDS + $2))
  while running "$1" && [ $SECONDS -lt $deadline ]; do sleep 0.05; done
  ! running "$1"
}

# start_prometheus: a real Prometheus on $work/prometheus.yml, loopback, a
# port of its own; sets prom (base URL) and prom_pid; 1 when it is not ready
# within 30 s (its log's tail printed)
prom_ready() { [ -n "$prom" ] && [ "$(curl -s -o /dev/null -w '%{http_code}' --max-time 2 "$prom/-/ready")" = 200 ]; }
start_prometheus() {
  prometheus --config.file="$work/prometheus.yml" --storage.tsdb.path="$work/tsdb" \
    --web.listen-address=127.0.0.1:0 >"$work/prometheus.log" 2>&1 &
  prom_pid=$!
  pids+=("$prom_pid")
  prom=
  local deadline=$((SECONDS + 30)) port
  while [ $SECONDS -lt $deadline ] && [ -e "/proc/$prom_pid" ] && ! prom_ready; do
    [ -n "$prom" ] || { port=$(listen_port "$prom_pid") && prom=http://127.0.0.1:$port; }
    sleep 0.2
  done
  prom_ready || { tail -n 20 "$work/prometheus.log"; return 1; }
}

# start_gateway NAME [FLAGS...]: sets gw_port, gw_pid, gw (base URL) and
# gw_grpc_port (the gRPC listener's; empty when FLAGS turn it off). The
# command is gateway_cmd (default: the gateway), listening on gw_listen
# (default 127.0.0.1:0), with --workers 2, the admin API and the gRPC
# listener on free loopback ports and an access log in $work/NAME.log
# before FLAGS (a later flag wins; a --listen-grpc in FLAGS replaces ours).
start_gateway() {
  local name=$1; shift
  local cmd=("$gateway_bin")
  [ -n "${gateway_cmd+x}" ] && cmd=("${gateway_cmd[@]}")
  # the admin API on a port of its own (its default, 9005, would be shared by
  # every gateway of every test running at once): a later --admin wins
  # the gRPC listener likewise: its default, 0.0.0.0:9004, would collide
  "${cmd[@]}" --listen "${gw_listen:-127.0.0.1:0}" --listen-grpc 127.0.0.1:0 --workers 2 --admin 127.0.0.1:0 \
    --access-log "$work/$name.log" "$@" >"$work/$name.out" 2>"$work/$name.err" &
  gw_pid=$!
  pids+=("$gw_pid")
  local line
  line=$(wait_line "$work/$name.err" 'aurigraph-gateway listening on' 10) || { cat "$work/$name.err"; return 1; }
  line=${line%% (*}
  gw_port=${line##*:}
  gw=http://127.0.0.1:$gw_port
  # printed before the REST line's wait ended, or not at all (off)
  gw_grpc_port=
  line=$(grep -E '^aurigraph-gateway grpc listening on ' "$work/$name.err" | head -n1)
  if [ -n "$line" ]; then line=${line%% (*}; gw_grpc_port=${line##*:}; fi
}

# wait_ready URL SECONDS [STATUS]: until URL/q/health/ready answers STATUS (200)
wait_ready() {
  local deadline=$((SECONDS + $2)) code
  while [ $SECONDS -lt $deadline ]; do
    code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 2 "$1/q/health/ready")
    [ "$code" = "${3:-200}" ] && return 0
    sleep 0.1
  done
  return 1
}
