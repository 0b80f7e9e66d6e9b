# tests/parity_lib.sh: what the V11 parity tests (tests/parity_*_test.sh)
# share. Sourced after lib.sh. Every call goes to the gateway twice, over
# HTTP/1.1 and over h2c (prior knowledge), and each expectation is checked
# on both answers, since clients of the original use both.
#
#   parity_start [GATEWAY FLAGS...]   services + gateway with the default config
#   call METHOD PATH [JSON BODY]      sets status/body (HTTP/1.1), status2/body2 (h2c)
#   expect WHAT STATUS [JQ FILTER...] the status, and each filter true (jq -e) on both bodies
#
# A filter is jq text that must be true for the whole body, for example
# '.state | type == "string"' or 'type == "array"'.

parity_start() {
  start_services svc || give_up "aurigraph-services did not start"
  start_gateway gw --upstream "127.0.0.1:$svc_port" "$@" || give_up "aurigraph-gateway did not start"
  wait_ready "$gw" 20 || give_up "gateway not ready"
}

_parity_req() { # _parity_req HTTPFLAG METHOD PATH [BODY]: prints "CODE" and writes $work/pbody
  local args=(-s --max-time 10 "$1" -X "$2" -o "$work/pbody" -w '%{http_code}')
  [ $# -ge 4 ] && args+=(-H 'content-type: application/json' --data-binary "$4")
  curl "${args[@]}" "$gw$3"
}

call() {
  status=$(_parity_req --http1.1 "$@"); body=$(cat "$work/pbody")
  status2=$(_parity_req --http2-prior-knowledge "$@"); body2=$(cat "$work/pbody")
}

expect() {
  local what=$1 want=$2 f b; shift 2
  if [ "$status" != "$want" ] || [ "$status2" != "$want" ]; then
    bad "$what: HTTP $status (h1) / $status2 (h2c), want $want; body: ${body:0:300}"
    return 1
  fi
  for f in "$@"; do
    for b in "$body" "$body2"; do
      if ! printf '%s' "$b" | jqt "input | ($f)"; then
        bad "$what: jq -e '$f' is false on: ${b:0:400}"
        return 1
      fi
    done
  done
  ok
}
