#!/usr/bin/env bash
# admin_browser_test (issue 13, item 7): the admin API without a token, on
# loopback, against what a web page in a browser on the same host can
# send: a cross-site POST (CSRF: text/plain or a form, with the page's
# Origin) and DNS rebinding (the page's own host name, resolved to
# 127.0.0.1, in Host). Each is refused (403 or 415, the error JSON) and
# what it asked for does not happen: after a refused POST /admin/drain
# the gateway is still ready (readiness 200, "draining": false). Before
# the fix, `Host: evil.example` with a text/plain POST drained it (202).
# Calls as curl and the runbook make them still work, on both HTTP/1.1
# front ends and on HTTP/2.
#
# "Loopback" is what the admin address resolves to: `--admin
# 127.attacker.invalid:0` (a "127." prefix, not a loopback address) needs
# a token, and with one it fails to resolve.
#
# Loopback only, every call bounded. Env (ctest): AG_BUILD_DIR, AG_SOURCE_DIR.
source "$(dirname "$0")/../lib.sh"

need_binaries
need curl jq

# call NAME [CURL ARGS...] URL: the answer's body in $work/NAME.json, its status in $work/NAME.code
call() {
  local name=$1; shift
  curl -s --max-time 5 -o "$work/$name.json" -w '%{http_code}' "$@" >"$work/$name.code"
}
code() { cat "$work/$1.code"; }
error_json() { # error_json NAME GRPC_CODE: the contract's error shape
  jqt --argjson c "$2" 'input | .code == $c and (.message | length) > 0 and .details == []' "$work/$1.json"
}
ready() { [ "$(curl -s --max-time 3 -o /dev/null -w '%{http_code}' "$gw/q/health/ready")" = 200 ]; }
not_draining() { [ "$(curl -s --max-time 3 "$adm/admin/clusters" | jq -r .draining)" = false ]; }

start_services svc || give_up "services did not start"
# the drain keeps answering (readiness 503) for 3 s before its SYN filter
# drops new connections: the readiness poll after POST /admin/drain opens
# new ones, and on a loaded machine its first try can come late
printf 'drain_grace_ms: 3000\n' >"$work/grace.yaml"
for front in uring h2o; do
  start_gateway "gw-$front" --config "$work/grace.yaml" --upstream "127.0.0.1:$svc_port" --http1 "$front" ||
    give_up "gateway ($front) did not start"
  wait_ready "$gw" 10 || give_up "gateway ($front) not ready"
  line=$(wait_line "$work/gw-$front.err" 'admin listening on' 5) || give_up "no admin listener"
  port=${line##*:}
  adm=http://127.0.0.1:$port
  f=$front

  # ---- CSRF: a page's form or fetch, cross-site --------------------------------------
  call $f-csrf-drain -X POST -H 'Host: evil.example' -H 'Origin: http://evil.example' -H 'Content-Type: text/plain' \
    --data 'x' "$adm/admin/drain"
  check "$f: rebinding + CSRF POST /admin/drain (Host evil.example, text/plain): 403" [ "$(code $f-csrf-drain)" = 403 ]
  check "$f: ... in the error JSON (PERMISSION_DENIED)" error_json $f-csrf-drain 7
  call $f-csrf-origin -X POST -H 'Origin: http://evil.example' -H 'Content-Type: application/json' "$adm/admin/drain"
  check "$f: POST from another Origin, even as JSON: 403" [ "$(code $f-csrf-origin)" = 403 ]
  call $f-csrf-plain -X POST -H 'Content-Type: text/plain' --data '{}' "$adm/admin/drain"
  check "$f: POST /admin/drain as text/plain (a form can send that): 415" [ "$(code $f-csrf-plain)" = 415 ]
  check "$f: ... in the error JSON" error_json $f-csrf-plain 3
  call $f-csrf-form -X POST --data 'to=canary' "$adm/admin/clusters/default/promote"
  check "$f: POST as a form (application/x-www-form-urlencoded): 415" [ "$(code $f-csrf-form)" = 415 ]
  call $f-csrf-notype -X POST "$adm/admin/clusters/default/rollback"
  check "$f: POST without a Content-Type: 415" [ "$(code $f-csrf-notype)" = 415 ]
  call $f-csrf-put -X PUT -H 'Content-Type: text/plain' --data '{"default":100}' "$adm/admin/clusters/default/weights"
  check "$f: PUT weights as text/plain: 415" [ "$(code $f-csrf-put)" = 415 ]
  call $f-origin-null -X POST -H 'Origin: null' -H 'Content-Type: application/json' "$adm/admin/drain"
  check "$f: Origin: null (a sandboxed page): 403" [ "$(code $f-origin-null)" = 403 ]
  call $f-origin-https -H "Origin: https://127.0.0.1:$port" "$adm/admin/clusters"
  check "$f: an https Origin is not this listener's: 403" [ "$(code $f-origin-https)" = 403 ]
  check "$f: after all those, still ready (readiness 200)" ready
  check "$f: ... and not draining" not_draining

  # ---- DNS rebinding: the page's own name, resolved to 127.0.0.1 ---------------------
  call $f-rebind -H "Host: evil.example:$port" "$adm/admin/clusters"
  check "$f: GET /admin/clusters with Host evil.example:$port: 403 (the answer not readable)" [ "$(code $f-rebind)" = 403 ]
  check "$f: ... with no cluster in it" bash -c "! grep -q '\"clusters\"' '$work/$f-rebind.json'"
  call $f-rebind-127 -H 'Host: 127.attacker.example' "$adm/admin/clusters"
  check "$f: Host 127.attacker.example: 403" [ "$(code $f-rebind-127)" = 403 ]
  call $f-wrong-port -H 'Host: 127.0.0.1:1' "$adm/admin/clusters"
  check "$f: Host of the right address, another port: 403" [ "$(code $f-wrong-port)" = 403 ]
  call $f-h2-rebind --http2-prior-knowledge -H "Host: evil.example:$port" "$adm/admin/clusters"
  check "$f: HTTP/2 with :authority evil.example: 403" [ "$(code $f-h2-rebind)" = 403 ]

  # ---- what curl and the runbook send still works ------------------------------------
  call $f-ok "$adm/admin/clusters"
  check "$f: GET /admin/clusters (Host 127.0.0.1:$port): 200" [ "$(code $f-ok)" = 200 ]
  call $f-ok-localhost -H "Host: localhost:$port" "$adm/admin/clusters"
  check "$f: Host localhost:$port: 200" [ "$(code $f-ok-localhost)" = 200 ]
  call $f-ok-origin -H "Origin: http://localhost:$port" "$adm/admin/clusters"
  check "$f: the admin's own Origin: 200" [ "$(code $f-ok-origin)" = 200 ]
  call $f-ok-h2 --http2-prior-knowledge "$adm/admin/clusters"
  check "$f: HTTP/2: 200" [ "$(code $f-ok-h2)" = 200 ]
  call $f-ok-json -X POST -H 'Content-Type: application/json; charset=utf-8' "$adm/admin/clusters/default/rollback"
  check "$f: POST as application/json gets through to the call (409: nothing to roll back)" [ "$(code $f-ok-json)" = 409 ]
  call $f-drain -X POST -H 'Content-Type: application/json' "$adm/admin/drain"
  check "$f: POST /admin/drain as JSON: 202" [ "$(code $f-drain)" = 202 ]
  check "$f: ... and the gateway drains (readiness 503)" wait_ready "$gw" 5 503
  kill -TERM "$gw_pid" 2>/dev/null
  wait "$gw_pid" 2>/dev/null
done

# ---- a token with it: the browser checks are the token's job then ---------------------
AURIGRAPH_ADMIN_TOKEN=s3cret start_gateway gw-token --upstream "127.0.0.1:$svc_port" || give_up "gateway with a token did not start"
line=$(wait_line "$work/gw-token.err" 'admin listening on' 5) || give_up "no admin listener"
adm=http://127.0.0.1:${line##*:}
call token-none -X POST -H 'Host: evil.example' -H 'Content-Type: text/plain' "$adm/admin/drain"
check "with a token: a call without it is 401" [ "$(code token-none)" = 401 ]
call token-ok -H 'Authorization: Bearer s3cret' "$adm/admin/clusters"
check "with a token: the token's call is 200" [ "$(code token-ok)" = 200 ]
kill -TERM "$gw_pid" 2>/dev/null
wait "$gw_pid" 2>/dev/null

# ---- "loopback" by resolution ---------------------------------------------------------
# one DNS try of a second, where no resolver answers
export RES_OPTIONS="timeout:1 attempts:1"
timeout 20 "$gateway_bin" --listen 127.0.0.1:0 --listen-grpc off --admin 127.attacker.invalid:0 --upstream "127.0.0.1:$svc_port" \
  >"$work/prefix.out" 2>&1
rc=$?
check "--admin 127.attacker.invalid:0 without a token: refuses to start (exit 2)" [ "$rc" = 2 ]
check "... because it is not loopback and has no token" grep -q 'does not resolve to loopback addresses only, so the admin API needs a token' "$work/prefix.out"
timeout 20 "$gateway_bin" --listen 127.0.0.1:0 --listen-grpc off --admin 127.attacker.invalid:0 --admin-token x \
  --upstream "127.0.0.1:$svc_port" >"$work/prefix-token.out" 2>&1
rc=$?
check "... with a token: it fails to resolve (exit $rc, not 0 or 124)" [ "$rc" != 0 -a "$rc" != 124 ]
check "... and says so" grep -q 'listen 127.attacker.invalid:0' "$work/prefix-token.out"
start_gateway gw-localhost --upstream "127.0.0.1:$svc_port" --admin localhost:0 || give_up "--admin localhost:0 did not start"
check "--admin localhost:0 without a token starts (localhost resolves to loopback)" grep -q 'admin listening on localhost:' "$work/gw-localhost.err"
kill -TERM "$gw_pid" 2>/dev/null
wait "$gw_pid" 2>/dev/null

check "no sanitizer report from any gateway" bash -c "! grep -l 'Sanitizer\|runtime error' '$work'/gw-*.err"
summary
