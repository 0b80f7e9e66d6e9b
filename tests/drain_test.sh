#!/usr/bin/env bash
# drain_test: SIGTERM (and POST /admin/drain where the binary has an admin
# listener) as clients see it. Real processes on loopback, a slow upstream
# (aurigraph-services --latency-ms) so that calls are in flight when the
# drain starts, raw HTTP/1.1 on connections opened before it (bash
# /dev/tcp), nghttp for HTTP/2. Every wait bounded. Ends with
# "N passed, N failed".
#
# Env (set by ctest): AG_BUILD_DIR, AG_SOURCE_DIR.
source "$(dirname "$0")/lib.sh"

need_binaries
need curl nghttp

# the admin listener must not take the fixed default port
admin_flags=(--admin off)

# lib.sh's start_gateway, quiet and off the fixed admin port
start_drain_gateway() { start_gateway "$1" --access-log off "${admin_flags[@]}" "${@:2}"; }


# http_get FD PATH: one GET on a connection opened earlier (exec FD<>/dev/tcp/...).
# Sets r_status, r_conn (the Connection header, lower case) and r_body;
# 1 when no whole answer came.
http_get() {
  local fd=$1 line len=0
  r_status='' r_conn='' r_body=''
  printf 'GET %s HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n' "$2" >&"$fd" 2>/dev/null || return 1
  IFS= read -r -t 5 line <&"$fd" || return 1
  line=${line%$'\r'}
  r_status=${line#* }
  r_status=${r_status%% *}
  while IFS= read -r -t 5 line <&"$fd"; do
    line=${line%$'\r'}
    [ -z "$line" ] && break
    case ${line,,} in
      connection:*) r_conn=${line#*:}; r_conn=${r_conn// /}; r_conn=${r_conn,,} ;;
      content-length:*) len=${line#*:}; len=${len// /} ;;
    esac
  done
  [ "$len" -eq 0 ] || IFS= read -r -t 5 -N "$len" r_body <&"$fd" || return 1
}
# closed_by_server FD SECONDS: 0 when the server closes FD in time (EOF, no data)
closed_by_server() {
  local x rc
  IFS= read -r -t "$2" x <&"$1"
  rc=$?
  [ $rc -eq 1 ] && [ -z "$x" ]
}
metric() { # metric NAME: its value on $gw/q/metrics
  curl -s --max-time 2 "$gw/q/metrics" | awk -v k="$1" '$1 == k {print $2}'
}

# ---- SIGTERM with calls in flight ---------------------------------------------

start_services slow --latency-ms 4000 || { echo "0 passed, 1 failed"; exit 1; }
slow_port=$svc_port
cat >"$work/gw1.yaml" <<EOF
drain_timeout_ms: 60000
clusters:
  - name: default
    targets: ["127.0.0.1:$slow_port"]
    timeout_ms: 20000
EOF
start_drain_gateway gw1 --config "$work/gw1.yaml" || { echo "0 passed, 1 failed"; exit 1; }
gw1_pid=$gw_pid
check "gateway becomes ready" wait_ready "$gw" 10

# three keep-alive connections opened before the drain: readiness, a new
# request after it starts, and one left idle
exec 3<>"/dev/tcp/127.0.0.1/$gw_port" 4<>"/dev/tcp/127.0.0.1/$gw_port" 5<>"/dev/tcp/127.0.0.1/$gw_port"
for fd in 3 4 5; do
  http_get $fd /q/health/live && [ "$r_status" = 200 ] && [ "$r_conn" = keep-alive ] || bad "keep-alive on connection $fd: $r_status $r_conn"
done
curl -s -D "$work/h1.hdrs" -o "$work/h1.body" -w '%{http_code}' --max-time 20 "$gw/api/v11/transactions/stats" \
  >"$work/h1.code" 2>/dev/null &
h1_pid=$!
nghttp -v -t 20 "$gw/api/v11/transactions/stats" >"$work/h2.out" 2>&1 &
h2_pid=$!
pids+=("$h1_pid" "$h2_pid")
# both in flight: 3 + curl + nghttp + the scrape's own connection
deadline=$((SECONDS + 10))
while [ "$(metric gateway_connections_active)" != 6 ] && [ $SECONDS -lt $deadline ]; do sleep 0.05; done
check "gateway_connections_active counts the open connections" [ "$(metric gateway_connections_active)" = 6 ]
sleep 0.3 # the two calls reach the upstream (it answers after 4 s: room for the checks below, which need the calls still running 1 s into the drain, on a slow machine)

kill -TERM "$gw1_pid"
# readiness on a connection opened before: 503 as soon as the signal lands
ready=''
for _ in $(seq 100); do
  http_get 3 /q/health/ready || break
  ready=$r_status
  [ "$ready" = 503 ] && break
  sleep 0.02
done
check "readiness answers 503 right after SIGTERM" [ "$ready" = 503 ]
check "... saying draining" grep -q '"name":"draining","status":"DOWN"' <<<"$r_body"
# a new request on a keep-alive connection: served, with Connection: close
live='' conn=''
for _ in $(seq 100); do
  http_get 5 /q/health/live || break
  live=$r_status conn=$r_conn
  [ "$conn" = close ] && break
  sleep 0.02
done
check "liveness still answers 200 while draining" [ "$live" = 200 ]
check "a new HTTP/1.1 request during the drain gets Connection: close" [ "$conn" = close ]
check "... and the server closes that connection" closed_by_server 5 5
sleep 0.3 # the listeners have closed (200 ms)
check "a new connection during the drain is not served" \
  bash -c "! curl -s -o /dev/null --max-time 0.5 '$gw/q/health/live'"
check "an idle keep-alive connection is closed by the server" closed_by_server 4 10
check "... before the in-flight calls are done" running "$h1_pid"
wait "$h1_pid"
check "the in-flight HTTP/1.1 call completes 200" [ "$(cat "$work/h1.code")" = 200 ]
check "... with Connection: close" grep -qi '^connection: close' "$work/h1.hdrs"
check "... and its body" grep -q '^{' "$work/h1.body"
wait "$h2_pid"
check "the in-flight HTTP/2 stream completes 200" grep -q 'recv (stream_id=1[0-9]*) :status: 200' "$work/h2.out"
check "HTTP/2: a graceful GOAWAY first (last stream 2^31-1)" \
  grep -q 'last_stream_id=2147483647, error_code=NO_ERROR' "$work/h2.out"
check "HTTP/2: then the final GOAWAY with the last stream id" \
  bash -c "grep 'recv GOAWAY' -A1 '$work/h2.out' | grep -Eq 'last_stream_id=(1[0-9]*|[1-9]), error_code=NO_ERROR'"
check "the gateway exits once idle, long before its 60 s drain timeout" wait_exit "$gw1_pid" 15
wait "$gw1_pid"
check "... with status 0" [ $? -eq 0 ]
exec 3>&- 4>&- 5>&-

# ---- a call that outlives the drain timeout -------------------------------------

start_services slower --latency-ms 8000 || { echo "0 passed, 1 failed"; exit 1; }
cat >"$work/gw2.yaml" <<EOF
drain_timeout_ms: 1s
clusters:
  - name: default
    targets: ["127.0.0.1:$svc_port"]
    timeout_ms: 20000
EOF
start_drain_gateway gw2 --config "$work/gw2.yaml" || { echo "0 passed, 1 failed"; exit 1; }
gw2_pid=$gw_pid
check "second gateway becomes ready" wait_ready "$gw" 10
curl -s -o "$work/cut.body" -w '%{http_code}' --max-time 20 "$gw/api/v11/transactions/stats" >"$work/cut.code" 2>/dev/null &
cut_pid=$!
pids+=("$cut_pid")
deadline=$((SECONDS + 10))
while [ "$(metric gateway_connections_active)" != 2 ] && [ $SECONDS -lt $deadline ]; do sleep 0.05; done
sleep 0.3
kill -TERM "$gw2_pid"
check "with a call still in flight, the gateway exits at the drain timeout" wait_exit "$gw2_pid" 6
wait "$gw2_pid"
check "... with status 0" [ $? -eq 0 ]
wait "$cut_pid"
# the upstream would answer after 8 s; the gateway gave the call up at 1 s
check "... and the call it cut short answers 503 UNAVAILABLE" \
  bash -c "[ \"\$(cat '$work/cut.code')\" = 503 ] && grep -q '\"code\":14' '$work/cut.body'"

# ---- POST /admin/drain ---------------------------------------------------------

admin_flags=(--admin 127.0.0.1:0)
start_drain_gateway gw3 --upstream "127.0.0.1:$slow_port" || { echo "0 passed, 1 failed"; exit 1; }
gw3_pid=$gw_pid
line=$(wait_line "$work/gw3.err" 'admin listening on' 5)
admin_port=${line##*:}
admin=http://127.0.0.1:$admin_port
check "third gateway becomes ready" wait_ready "$gw" 10
gw3=$gw gw3_port=$gw_port

# a successor on the same admin port (a handover on one config): it
# serves at once and takes the admin port when the third one is gone
admin_flags=(--admin "127.0.0.1:$admin_port")
start_drain_gateway gw4 --upstream "127.0.0.1:$slow_port" || { echo "0 passed, 1 failed"; exit 1; }
gw4_pid=$gw_pid gw4=$gw
check "a second gateway on a taken admin port starts and serves" wait_ready "$gw4" 10
check "... saying the admin API waits for the port" grep -q "admin 127.0.0.1:$admin_port in use" "$work/gw4.err"
gw=$gw3 gw_port=$gw3_port

exec 3<>"/dev/tcp/127.0.0.1/$gw_port"
http_get 3 /q/health/ready
check "readiness 200 before POST /admin/drain" [ "$r_status" = 200 ]
code=$(curl -s -o "$work/admin.body" -w '%{http_code}' --max-time 5 -X POST -H 'content-type: application/json' "$admin/admin/drain")
check "POST /admin/drain answers 2xx" [ "${code:0:1}" = 2 ]
http_get 3 /q/health/ready
check "readiness 503 right after POST /admin/drain" [ "$r_status" = 503 ]
exec 3>&-
check "the gateway drains and exits after POST /admin/drain" wait_exit "$gw3_pid" 15
wait "$gw3_pid"
check "... with status 0" [ $? -eq 0 ]

check "the successor takes the admin port once it is free" \
  wait_line "$work/gw4.err" "admin listening on 127.0.0.1:$admin_port \\(the port came free\\)" 5
check "... and answers the admin API there" \
  [ "$(curl -s -o /dev/null -w '%{http_code}' --max-time 5 "$admin/admin/clusters")" = 200 ]
code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 5 -X POST -H 'content-type: application/json' "$admin/admin/drain")
check "... including POST /admin/drain" [ "${code:0:1}" = 2 ]
check "... after which it exits" wait_exit "$gw4_pid" 15
wait "$gw4_pid"

# ---- SIGTERM with gRPC-Web calls in flight ----------------------------------------

# A gRPC-Web call on the REST port (curl, HTTP/1.1 and h2c) to the slow
# upstream, in flight when the drain starts: it completes, its trailers in
# the body as the last frame; a new call after the drain started, on a new
# connection, is not served (README: the listeners drop new SYNs and close;
# only connections the gateway has are served).
# web_frames FILE: "messages N trailer STATUS" of a gRPC-Web body (binary),
# or "bad ..." when its frames do not add up or no trailer frame is last
web_frames() {
  python3 - "$1" <<'PY'
import sys
b = open(sys.argv[1], 'rb').read()
i, msgs, trailer = 0, 0, None
while i < len(b):
    if len(b) - i < 5: print('bad: a cut frame header'); sys.exit()
    flags, n = b[i], int.from_bytes(b[i + 1:i + 5], 'big')
    body = b[i + 5:i + 5 + n]
    if len(body) != n: print('bad: a cut frame'); sys.exit()
    i += 5 + n
    if flags & 0x80:
        if i != len(b): print('bad: bytes after the trailer frame'); sys.exit()
        fields = dict(l.split(':', 1) for l in body.decode().split('\r\n') if ':' in l)
        trailer = fields.get('grpc-status', '?').strip()
    else:
        msgs += 1
print('messages %d trailer %s' % (msgs, trailer) if trailer is not None else 'bad: no trailer frame')
PY
}
printf '\0\0\0\0\0' >"$work/stats.req" # GetTransactionStatsRequest {}, framed
web_call() { # web_call NAME CURL-ARGS...: a gRPC-Web GetTransactionStats to $gw
  local name=$1; shift
  curl -s -D "$work/$name.hdrs" -o "$work/$name.body" -w '%{http_code}' --data-binary @"$work/stats.req" \
    -H 'content-type: application/grpc-web+proto' -H 'x-grpc-web: 1' "$@" \
    "$gw/aurigraph.v11.TransactionService/GetTransactionStats" >"$work/$name.code" 2>/dev/null
}
admin_flags=(--admin off)
start_drain_gateway gw5 --config "$work/gw1.yaml" || { echo "0 passed, 1 failed"; exit 1; }
gw5_pid=$gw_pid
check "fifth gateway becomes ready" wait_ready "$gw" 10
web_call web-h1 --http1.1 --max-time 20 &
web_h1_pid=$!
web_call web-h2 --http2-prior-knowledge --max-time 20 &
web_h2_pid=$!
pids+=("$web_h1_pid" "$web_h2_pid")
deadline=$((SECONDS + 10))
while [ "$(metric gateway_connections_active)" != 3 ] && [ $SECONDS -lt $deadline ]; do sleep 0.05; done
check "both gRPC-Web calls are open (2 connections and the scrape's)" [ "$(metric gateway_connections_active)" = 3 ]
sleep 0.3 # the calls reach the upstream, which answers after 4 s
kill -TERM "$gw5_pid"
sleep 0.4 # the listeners have closed (200 ms)
web_call web-new --http1.1 --max-time 1
check "a new gRPC-Web call after the drain started, on a new connection, is not served ($(cat "$work/web-new.code"))" \
  [ "$(cat "$work/web-new.code")" = 000 ]
check "... while the calls in flight still run" running "$web_h1_pid"
wait "$web_h1_pid"
check "the in-flight gRPC-Web call (HTTP/1.1) completes 200" [ "$(cat "$work/web-h1.code")" = 200 ]
check "... its message, then grpc-status 0 in the trailer frame, last in the body ($(web_frames "$work/web-h1.body"))" \
  [ "$(web_frames "$work/web-h1.body")" = "messages 1 trailer 0" ]
check "... with Connection: close" grep -qi '^connection: close' "$work/web-h1.hdrs"
wait "$web_h2_pid"
check "the in-flight gRPC-Web call (h2c) completes 200" [ "$(cat "$work/web-h2.code")" = 200 ]
check "... its message and trailer frame ($(web_frames "$work/web-h2.body"))" \
  [ "$(web_frames "$work/web-h2.body")" = "messages 1 trailer 0" ]
check "the gateway exits once the gRPC-Web calls are done" wait_exit "$gw5_pid" 15
wait "$gw5_pid"
check "... with status 0" [ $? -eq 0 ]

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
