#!/usr/bin/env bash
# http1_smuggling_test (issue 13, item 4): HTTP/1.1 request smuggling and
# framing abuse, sent as raw bytes (tests/attack/raw_http.py) to both
# HTTP/1.1 front ends (io_uring, and h2o's with --http1 h2o). RFC 9112
# section 6 says reject, and each case checks what shows it was: the one
# status seen (a request smuggled behind it never answered), the error
# JSON, the connection closed by the gateway, and no upstream call made
# (gateway_upstream_requests_total unchanged). Before the fix, the
# Content-Length cases ran the smuggled request (200 200, kept open) and a
# 2^63 chunk size waited for the 10 s request timeout.
#
# What h2o's path cannot reject is pinned as such: a request h2o never
# completes never reaches our handler (a chunk size no limit allows waits
# for h2o's request timeout, unanswered), and framing h2o refuses itself
# gets its text/plain 400.
#
# Every exchange is bounded (3 s); loopback only. Env (ctest): AG_BUILD_DIR, AG_SOURCE_DIR.
source "$(dirname "$0")/../lib.sh"

need_binaries
need python3 jq curl

# raw NAME FORMAT [ARGS...]: the bytes printf makes of FORMAT and ARGS
# ($work/NAME.req) in one exchange; its summary in $work/NAME.json
raw() {
  local name=$1; shift
  printf "$@" >"$work/$name.req"
  python3 "$src/tests/attack/raw_http.py" "$gw_port" 3 <"$work/$name.req" >"$work/$name.json" 2>"$work/$name.err"
}
upstream_calls() {
  curl -s --max-time 3 "$gw/q/metrics" | awk '/^gateway_upstream_requests_total\{/ {s += $NF} END {print s + 0}'
}
# refused NAME STATUS SHAPE FORMAT [ARGS...]: the request is answered STATUS
# alone, then closed, with no upstream call; SHAPE json (the contract's
# error JSON, "error" included) or h2o (h2o's own answer)
refused() {
  local name=$1 status=$2 shape=$3 before after
  shift 3
  before=$(upstream_calls)
  raw "$front-$name" "$@"
  after=$(upstream_calls)
  local f="$work/$front-$name.json"
  check "$front $name: $status, nothing after it (a smuggled request never answered)" \
    jqt --argjson s "$status" 'input | [.responses[].status] == [$s]' "$f"
  check "$front $name: the gateway closed the connection" jqt 'input | .closed' "$f"
  check "$front $name: no upstream call ($before -> $after)" [ "$before" = "$after" ]
  if [ "$shape" = json ]; then
    check "$front $name: the error JSON, Connection: close" jqt 'input | .responses[0] |
      (.content_type | startswith("application/json")) and (.connection | ascii_downcase) == "close" and
      (.body | fromjson | (.code | type) == "number" and (.message | length) > 0 and .error == .message)' "$f"
  fi
  jqt 'input | [.responses[].status] == [$s]' --argjson s "$status" "$f" ||
    echo "   $front $name saw: $(jq -c '{closed, responses: [.responses[] | {status, body: (.body // .junk)[0:100]}]}' "$f")"
}

smuggled=$'GET /api/v11/transactions/stats HTTP/1.1\r\nHost: x\r\n\r\n'
post=$'POST /api/v11/bridge/validate HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n'

attacks() { # the cases both front ends refuse alike
  refused cl-cl 400 json '%sContent-Length: 0\r\nContent-Length: %d\r\n\r\n%s' "$post" ${#smuggled} "$smuggled"
  refused cl-cl-same 400 json '%sContent-Length: 2\r\nContent-Length: 2\r\n\r\n{}' "$post"
  refused cl-te 400 json '%sContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n2\r\n{}\r\n0\r\n\r\n%s' "$post" "$smuggled"
  refused te-cl 400 json '%sTransfer-Encoding: chunked\r\nContent-Length: 99\r\n\r\n2\r\n{}\r\n0\r\n\r\n%s' "$post" "$smuggled"
  refused obs-fold 400 json 'GET /api/v11/transactions/stats HTTP/1.1\r\nHost: x\r\nX-Folded: a\r\n b\r\n\r\n'
  refused no-host 400 json 'GET /api/v11/transactions/stats HTTP/1.1\r\n\r\n'
  refused two-hosts 400 json 'GET /api/v11/transactions/stats HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n'
  refused bad-host 400 json 'GET /api/v11/transactions/stats HTTP/1.1\r\nHost: evil.example/x\r\n\r\n'
  refused te-http10 400 json 'POST /api/v11/bridge/validate HTTP/1.0\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n2\r\n{}\r\n0\r\n\r\n'
  refused te-gzip-then-chunked 501 json '%sTransfer-Encoding: gzip\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n%s' "$post" "$smuggled"
}

for front in uring h2o; do
  start_services "svc-$front" || give_up "services did not start"
  start_gateway "gw-$front" --upstream "127.0.0.1:$svc_port" --http1 "$front" || give_up "gateway ($front) did not start"
  wait_ready "$gw" 10 || give_up "gateway ($front) not ready"
  attacks
  if [ "$front" = uring ]; then
    # RFC 9112 7.1 and 6.1 where h2o answers itself
    refused chunk-2pow63 413 json '%sTransfer-Encoding: chunked\r\n\r\n8000000000000000\r\nab' "$post"
    check "uring chunk-2pow63: the 413 says the limit" \
      jqt 'input | .responses[0].body | fromjson | .code == 8 and (.message | test("over the limit"))' "$work/uring-chunk-2pow63.json"
    refused chunk-overflow 413 json '%sTransfer-Encoding: chunked\r\n\r\n1ffffffffffffffff\r\nab' "$post"
    refused chunk-over-limit 413 json '%sTransfer-Encoding: chunked\r\n\r\n10000000\r\nab' "$post"
    refused te-gzip-chunked 501 json '%sTransfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n' "$post"
    refused te-chunked-gzip 400 json '%sTransfer-Encoding: chunked, gzip\r\n\r\n0\r\n\r\n%s' "$post" "$smuggled"
    refused te-chunked-twice 400 json '%sTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n%s' "$post" "$smuggled"
    # an h2c upgrade is checked before it goes to h2o
    refused h2c-cl-cl 400 json 'POST /api/v11/bridge/validate HTTP/1.1\r\nHost: x\r\nConnection: Upgrade, HTTP2-Settings\r\nUpgrade: h2c\r\nHTTP2-Settings: AAMAAABkAARAAAAAAAIAAAAA\r\nContent-Length: 0\r\nContent-Length: 2\r\n\r\n{}'
  else
    # h2o refuses these itself (text/plain 400), before any handler
    refused te-gzip-chunked 400 h2o '%sTransfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n' "$post"
    refused te-chunked-gzip 400 h2o '%sTransfer-Encoding: chunked, gzip\r\n\r\n0\r\n\r\n%s' "$post" "$smuggled"
    # what h2o's path cannot reject: the body never completes, so no
    # handler runs; h2o holds the connection to its request timeout
    before=$(upstream_calls)
    raw h2o-chunk-2pow63 '%sTransfer-Encoding: chunked\r\n\r\n8000000000000000\r\nab' "$post"
    check "h2o chunk-2pow63: not answered (a known limit of h2o 2.2's path: its request timeout closes it)" \
      jqt 'input | .responses == [] and (.closed | not)' "$work/h2o-chunk-2pow63.json"
    check "h2o chunk-2pow63: no upstream call" [ "$before" = "$(upstream_calls)" ]
  fi
  # still serving, requests of every framing
  raw "$front-fine" '%sContent-Length: 2\r\n\r\n{}%sGET /q/health/live HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n' "$post" "$smuggled"
  check "$front: well-framed pipelined requests still served (200 200 200)" \
    jqt 'input | [.responses[].status] == [200, 200, 200] and .closed' "$work/$front-fine.json"
  raw "$front-chunked" '%sTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n2\r\n{}\r\n0\r\n\r\n' "$post"
  check "$front: a chunked body still served" jqt 'input | [.responses[].status] == [200]' "$work/$front-chunked.json"
  kill -TERM "$gw_pid" "$svc_pid" 2>/dev/null
  wait "$gw_pid" "$svc_pid" 2>/dev/null
done
check "no sanitizer report from any gateway" bash -c "! grep -l 'Sanitizer\|runtime error' '$work'/gw-*.err"

summary
