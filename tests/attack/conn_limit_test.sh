#!/usr/bin/env bash
# conn_limit_test: connection floods against the caps of connections: (raw
# sockets from python3, bounded in count and time). At connections.max,
# idle keep-alive connections are shed for new clients; with nothing idle
# to shed, a new connection may still ask /q/health (the probe reserve)
# and anything else is a 503; past the reserve new connections are closed
# at once, and a reserve connection that says nothing is gone after 1 s
# (io_uring; on h2o's front end h2o's idle timeout applies). A client at
# max_per_client is refused while another address is served. Both
# HTTP/1.1 front ends (io_uring and h2o).
source "$(dirname "$0")/../lib.sh"

need_binaries
need curl python3

start_services backend || exit 1
backend=$svc_port
export MAX=40 RESERVE=4 PER=10
# value FILE KEY
value() { sed -n "s/^$2=//p" "$1"; }

for front in uring h2o; do
  start_gateway "gw_$front" --access-log off --http1 "$front" --upstream "127.0.0.1:$backend" \
    --config <(printf 'connections: {max: %d, probe_reserve: %d}\n' "$MAX" "$RESERVE") || exit 1
  wait_ready "$gw" 15 || give_up "gateway ($front) not ready"
  timeout 30 python3 "$src/tests/attack/conns.py" "$gw_port" idle >"$work/idle.$front" 2>&1
  cat "$work/idle.$front" | sed "s/^/   $front idle: /"
  check "$front: the first $MAX clients answered" [ "$(value "$work/idle.$front" first_answered)" = "$MAX" ]
  check "$front: at the cap, $((MAX / 2)) new clients answered too" [ "$(value "$work/idle.$front" new_answered)" = $((MAX / 2)) ]
  check "$front: idle keep-alives shed for them" [ "$(value "$work/idle.$front" idle_shed)" -ge $((MAX / 2)) ]
  wait_ready "$gw" 5 || bad "$front: ready after the idle flood"

  FRONT=$front timeout 30 python3 "$src/tests/attack/conns.py" "$gw_port" busy >"$work/busy.$front" 2>&1
  cat "$work/busy.$front" | sed "s/^/   $front busy: /"
  check "$front: full of busy connections, a probe still gets /q/health/ready" [ "$(value "$work/busy.$front" probe_status)" = 200 ]
  check "$front: and its connection closes after the answer" [ "$(value "$work/busy.$front" probe_closed_after)" = 1 ]
  check "$front: an API call on such a connection: 503" [ "$(value "$work/busy.$front" api_status)" = 503 ]
  check "$front: past the reserve: refused" [ "$(value "$work/busy.$front" past_reserve_status)" = 0 ]
  check "$front: the busy connections were left alone" [ "$(value "$work/busy.$front" busy_still_open)" = "$MAX" ]
  if [ "$front" = uring ]; then
    check "$front: silent reserve connections closed within 1 s ($(value "$work/busy.$front" reserve_closed_ms) ms)" \
      [ "$(value "$work/busy.$front" reserve_closed)" = "$RESERVE" ]
    check "$front: then the reserve answers probes again" [ "$(value "$work/busy.$front" probe_again_status)" = 200 ]
  fi
  refused=$(curl -s --max-time 5 "$gw/q/metrics" | awk '$1 == "gateway_connections_refused_total" { print $2 }')
  check "$front: gateway_connections_refused_total counts them ($refused)" [ "${refused:-0}" -ge 1 ]
  kill "$gw_pid"
  wait_exit "$gw_pid" 40 || bad "$front: gateway did not exit"
done

# the default cap under a small open-files limit: a flood past it never
# takes the last descriptors, and probes are answered throughout
gateway_cmd=(prlimit --nofile=256:256 "$gateway_bin")
start_gateway gw_flood --access-log off --upstream "127.0.0.1:$backend" || exit 1
unset gateway_cmd
wait_ready "$gw" 15 || give_up "gateway (256 files) not ready"
max=$(curl -s --max-time 5 "$gw/q/metrics" | awk '$1 == "gateway_connections_max" { print $2 }')
echo "   open-files limit 256: gateway_connections_max $max"
FLOOD=400 timeout 30 python3 "$src/tests/attack/conns.py" "$gw_port" flood >"$work/flood" 2>&1
curl -s --max-time 5 "$gw/q/metrics" | awk '$1 == "gateway_connections_refused_total" { print "refused=" $2 }' >>"$work/flood"
kill "$gw_pid"
sed 's/^/   flood: /' "$work/flood"
check "flood: the gateway held at most its cap + the reserve ($(value "$work/flood" flood_held_open) of 400)" \
  [ "$(value "$work/flood" flood_held_open)" -le $((230 + 32)) ]
check "flood: past it connections were refused" [ "$(value "$work/flood" refused)" -ge 100 ]
check "flood: /q/health/ready answered throughout" [ "$(value "$work/flood" flood_probe_status)" = 200 ]

start_gateway gw_client --access-log off --upstream "127.0.0.1:$backend" \
  --config <(printf 'connections: {max_per_client: %d}\n' "$PER") || exit 1
wait_ready "$gw" 15 || give_up "gateway not ready"
timeout 30 python3 "$src/tests/attack/conns.py" "$gw_port" client >"$work/client" 2>&1
sed 's/^/   per client: /' "$work/client"
check "a client's first $PER connections answered" [ "$(value "$work/client" client_answered)" = "$PER" ]
check "its next one refused" [ "$(value "$work/client" one_more_status)" = 0 ]
check "another address is served" [ "$(value "$work/client" other_client_status)" = 200 ]
check "once one of its connections closes, it may open another" [ "$(value "$work/client" after_one_left_status)" = 200 ]
summary
