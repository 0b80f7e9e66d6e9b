#!/usr/bin/env bash
# handover_test: zero-downtime handover under load. Gateway A serves a
# port under wrk; midway gateway B starts on the same port (SO_REUSEPORT),
# then A gets SIGTERM and drains. wrk must see no error of any kind, A
# must exit 0, and B must be serving at the end.
#
# The kernel is left as it is: net.ipv4.tcp_migrate_req (0 by default)
# would move what sits in A's accept queues to B when A closes them; the
# gateway must not need it (its drain drops new SYNs, so the clients retry
# them into B, and accepts what was queued before closing). Set
# AG_HANDOVER_ROUNDS to run the handover more than once.
#
# Env (set by ctest): AG_BUILD_DIR, AG_SOURCE_DIR.
source "$(dirname "$0")/lib.sh"

need_binaries
need curl wrk jq
rounds=${AG_HANDOVER_ROUNDS:-1}

# the admin listener must not take the fixed default port
ho_start() { # ho_start NAME PORT: a gateway on 127.0.0.1:PORT; sets gw_port, gw_pid
  gw_listen=127.0.0.1:$2 start_gateway "$1" --upstream "127.0.0.1:$svc_port" --admin off
}

start_services svc || give_up "services start"
echo "net.ipv4.tcp_migrate_req = $(cat /proc/sys/net/ipv4/tcp_migrate_req 2>/dev/null || echo absent) (left as it is)"

ho_start a0 0 || { echo "0 passed, 1 failed"; exit 1; }
port=$gw_port
a_pid=$gw_pid
gw=http://127.0.0.1:$port
deadline=$((SECONDS + 10))
until [ "$(curl -s -o /dev/null -w '%{http_code}' --max-time 2 "$gw/q/health/ready")" = 200 ] || [ $SECONDS -ge $deadline ]; do
  sleep 0.1
done
body='{"userId":"handover","fromAddress":"0xa1","toAddress":"0xb2","amount":"1.25","transactionType":"TRANSFER","gasLimit":"21000","gasPrice":"0.000000025","data":"0x01"}'
hash=$(curl -s --max-time 5 -X POST -H 'content-type: application/json' -d "$body" "$gw/api/v11/transactions" | jq -r .txHash)
check "a transaction to read under load" [ -n "$hash" ] && [ "$hash" != null ]
check "it reads 200" [ "$(curl -s -o /dev/null -w '%{http_code}' --max-time 5 "$gw/api/v11/transactions/$hash")" = 200 ]

for round in $(seq "$rounds"); do
  # the old process: A; the new one: B. Each round B becomes the next A.
  # keep-alive connections, and a new connection for every request (what
  # sits in the accept queues when A closes them)
  wrk -t1 -c16 -d6s --timeout 5s "$gw/api/v11/transactions/$hash" >"$work/wrk$round.out" 2>&1 &
  wrk_pid=$!
  wrk -t1 -c4 -d6s --timeout 5s -H 'Connection: close' "$gw/api/v11/transactions/$hash" >"$work/wrkc$round.out" 2>&1 &
  wrkc_pid=$!
  pids+=("$wrk_pid" "$wrkc_pid")
  sleep 2 # A alone under load for a while
  ho_start "b$round" "$port" || { bad "round $round: B starts on A's port"; break; }
  b_pid=$gw_pid
  check "round $round: B listens on the same port" [ "$gw_port" = "$port" ]
  sleep 0.5 # both serving
  kill -TERM "$a_pid"
  check "round $round: A drains and exits" wait_exit "$a_pid" 20
  wait "$a_pid"
  check "round $round: ... with status 0" [ $? -eq 0 ]
  for kind in "" c; do
    p=wrk${kind}_pid
    check "round $round: wrk${kind:+ (Connection: close)} finishes" wait_exit "${!p}" 20
    wait "${!p}"
    out=$work/wrk$kind$round.out
    requests=$(awk '/requests in/ {print $1}' "$out")
    echo "round $round${kind:+ (Connection: close)}: $(tr '\n' ' ' <"$out" | grep -o '[0-9]* requests in [^,]*,') $(grep -E 'Socket errors|Non-2xx' "$out" | tr '\n' ' ')"
    check "round $round: wrk ran ($requests requests)" [ "${requests:-0}" -gt 200 ]
    check "round $round: no socket error" bash -c "! grep -q 'Socket errors' '$out'"
    check "round $round: no non-2xx answer" bash -c "! grep -q 'Non-2xx' '$out'"
  done
  check "round $round: B served the load after A left" \
    bash -c "[ \$(grep -c '\"status\":200' '$work/b$round.log' 2>/dev/null) -gt 0 ]"
  check "round $round: the port answers 200 (B)" \
    [ "$(curl -s -o /dev/null -w '%{http_code}' --max-time 5 "$gw/api/v11/transactions/$hash")" = 200 ]
  a_pid=$b_pid
done

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
