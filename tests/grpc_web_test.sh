#!/usr/bin/env bash
# grpc_web_test: gRPC-Web on the REST port (server/grpc_web), end to end
# with real parts: the reference services, the gateway on both HTTP/1.1
# front ends (io_uring, and h2o's with --http1 h2o) and HTTP/2 (h2c prior
# knowledge), curl with gRPC-Web bodies made by hand (messages encoded with
# `protoc --encode`, answers read back with `protoc --decode`), a raw
# socket client that stops reading (back-pressure), and two gRPC-Web clients
# we did not write, run under Node (tests/grpc-web/: @improbable-eng/grpc-web
# over its Node http transport, binary; grpc-web's GrpcWebClientBase over
# xhr2, -text), installed by this test with npm ci into the build directory.
#
# Checks: unary and server-streaming calls, binary and -text, the trailer
# frame and trailers-only answers, unknown methods (UNIMPLEMENTED), an
# upstream's error with grpc-status-details-bin, grpc-timeout (the client's
# and the route's, the smaller), the version pick (x-canary), the CORS
# preflight and headers, clients that hang up mid-stream (the upstream call
# is cancelled, and not counted as an upstream error), bad bodies and the
# limits, a reader that stops reading and then takes everything, metrics
# and the access log. Ends with "N passed, N failed".
#
# Env (set by ctest): AG_BUILD_DIR, AG_SOURCE_DIR, PROTOC, WKT_INCLUDE.
source "$(dirname "$0")/lib.sh"

need_binaries
need curl jq python3
protoc_bin=${PROTOC:-protoc}
wkt=${WKT_INCLUDE:-/usr/include}
need "$protoc_bin"
protos=(aurigraph/v11/transaction.proto aurigraph/v11/consensus.proto google/rpc/status.proto)
T=aurigraph.v11.TransactionService
C=aurigraph.v11.ConsensusService
M=aurigraph.v11

# ---- helpers ---------------------------------------------------------------------

# web.py: gRPC-Web bodies both ways, and a client that stops reading
cat >"$work/web.py" <<'EOF'
import base64, json, os, socket, struct, sys, time

def unb64(text):
    # unit by unit: a -text body may be each frame encoded on its own
    if len(text) % 4:
        raise ValueError("not whole quads")
    return b"".join(base64.b64decode(text[i:i + 4], validate=True) for i in range(0, len(text), 4))

def frames(data):
    out, off = [], 0
    while off < len(data):
        if len(data) - off < 5:
            return out, "truncated prefix"
        n = struct.unpack(">I", data[off + 1:off + 5])[0]
        if len(data) - off - 5 < n:
            return out, "truncated frame"
        out.append((data[off], data[off + 5:off + 5 + n]))
        off += 5 + n
    return out, None

def summary(raw, mode, prefix):
    out = {"bytes": len(raw)}
    try:
        data = unb64(raw.decode("ascii")) if mode == "text" else raw
    except Exception as e:
        return {"error": "base64: %s" % e}
    fr, out["error"] = frames(data)
    out["flags"] = [f for f, _ in fr]
    msgs = [p for f, p in fr if not f & 0x80]
    out["messages"] = len(msgs)
    if prefix:
        for i, m in enumerate(msgs):
            open("%s.%d" % (prefix, i), "wb").write(m)
    if mode == "text":
        # each frame its own base64 unit, padding and all
        out["per_frame_base64"] = raw == b"".join(base64.b64encode(bytes([f]) + struct.pack(">I", len(p)) + p) for f, p in fr)
    tr = [p for f, p in fr if f & 0x80]
    out["trailer_frames"] = len(tr)
    out["trailer_last"] = bool(fr) and bool(fr[-1][0] & 0x80)
    if tr:
        text = tr[-1].decode("latin-1")
        out["trailer_crlf"] = text.endswith("\r\n")
        out["trailers"] = dict((k.strip(), v.strip()) for k, _, v in (l.partition(":") for l in text.split("\r\n") if l))
    return out

def varint(b, i):
    v = s = 0
    while True:
        v |= (b[i] & 0x7f) << s
        s += 7
        i += 1
        if not b[i - 1] & 0x80:
            return v, i

def dechunk(b):
    out, off = b"", 0
    while True:
        end = b.index(b"\r\n", off)
        n = int(b[off:end].split(b";")[0], 16)
        if n == 0:
            return out
        out += b[end + 2:end + 2 + n]
        off = end + 2 + n + 2

cmd = sys.argv[1]
if cmd == "frame":  # frame FILE [FLAGS]: the file as one message frame
    d = open(sys.argv[2], "rb").read()
    sys.stdout.buffer.write(bytes([int(sys.argv[3]) if len(sys.argv) > 3 else 0]) + struct.pack(">I", len(d)) + d)
elif cmd == "gzframe":  # gzframe FILE: the file gzip-compressed, as one frame flagged compressed
    import gzip
    d = gzip.compress(open(sys.argv[2], "rb").read())
    sys.stdout.buffer.write(bytes([1]) + struct.pack(">I", len(d)) + d)
elif cmd == "b64":  # b64 FILE...: each file base64 on its own, one after the other
    sys.stdout.write("".join(base64.b64encode(open(f, "rb").read()).decode() for f in sys.argv[2:]))
elif cmd == "parse":  # parse FILE binary|text [MSG_PREFIX]: a summary; messages to MSG_PREFIX.N
    print(json.dumps(summary(open(sys.argv[2], "rb").read(), sys.argv[3], sys.argv[4] if len(sys.argv) > 4 else None)))
elif cmd == "events":  # events FILE: TransactionEvent frames: how many, ids rising, the status
    fr, err = frames(open(sys.argv[2], "rb").read())
    def fields(b):
        out, i = {}, 0
        while i < len(b):
            key, i = varint(b, i)
            if key & 7 == 0:
                v, i = varint(b, i)
            elif key & 7 == 2:
                n, i = varint(b, i)
                v, i = b[i:i + n], i + n
            else:
                raise ValueError("wire type %d" % (key & 7))
            out.setdefault(key >> 3, v)
        return out
    ids = [fields(fields(p)[2])[1] for f, p in fr if not f & 0x80]
    tr = [p for f, p in fr if f & 0x80]
    status = tr[-1].decode().split("\r\n")[0].split(": ")[1] if tr else None
    print(json.dumps({"error": err, "events": len(ids), "in_order": all(a < b for a, b in zip(ids, ids[1:])),
                      "status": status}))
elif cmd == "slowread":
    # slowread PORT PATH BODY READY GO OUT N: sends a call (HTTP/1.0: the
    # body runs to the connection's end) with a small receive buffer, reads
    # its headers, says so (READY), then reads nothing until GO exists (30 s
    # at most), then reads until N messages or a trailer frame are in: OUT
    port, path, body, ready, go, outf, want = sys.argv[2:9]
    data = open(body, "rb").read()
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    s.connect(("127.0.0.1", int(port)))
    s.sendall(b"POST %s HTTP/1.0\r\nContent-Type: application/grpc-web+proto\r\ngrpc-timeout: 30S\r\n"
              b"Content-Length: %d\r\n\r\n" % (path.encode(), len(data)) + data)
    s.settimeout(30)
    buf = b""
    while b"\r\n\r\n" not in buf:
        buf += s.recv(1)
    open(ready, "w").close()
    deadline = time.time() + 30
    while not os.path.exists(go) and time.time() < deadline:
        time.sleep(0.05)
    body, off, n = b"", 0, 0
    while n < int(want):
        chunk = s.recv(65536)
        if not chunk:
            break
        body += chunk
        while len(body) - off >= 5:
            size = struct.unpack(">I", body[off + 1:off + 5])[0]
            if len(body) - off - 5 < size:
                break
            if body[off] & 0x80:
                n = int(want)
            else:
                n += 1
            off += 5 + size
    s.close()
    open(outf, "wb").write(body[:off])
EOF
web() { python3 "$work/web.py" "$@"; }

# enc TYPE TEXT OUT: a request body of one message (text format -> protoc)
enc() {
  printf '%s' "$2" | "$protoc_bin" -I"$src/proto" -I"$wkt" --encode="$1" "${protos[@]}" >"$work/msg.bin" &&
    web frame "$work/msg.bin" >"$3"
}
# dec TYPE FILE: a message in protoc's text format
dec() { "$protoc_bin" -I"$src/proto" -I"$wkt" --decode="$1" "${protos[@]}" <"$2" 2>&1; }
# call NAME CONTENT_TYPE PATH BODY [CURL ARGS...] (on $gw): $work/NAME.h, NAME.b, NAME.json
call() {
  local name=$1 ct=$2 path=$3 body=$4 mode=binary
  shift 4
  case $ct in *-text*) mode=text ;; esac
  curl -s --max-time 20 -D "$work/$name.h" -o "$work/$name.b" --data-binary @"$body" -H "content-type: $ct" \
    "$@" "$gw$path"
  web parse "$work/$name.b" "$mode" "$work/$name.msg" >"$work/$name.json"
}
# hdr NAME HEADER: the response header's value (its last line, name in any case)
hdr() {
  tr -d '\r' <"$work/$1.h" | awk -v n="$(tr 'A-Z' 'a-z' <<<"$2")" \
    'index(tolower($0), n ":") == 1 { v = substr($0, length(n) + 2); sub(/^ /, "", v) } END { print v }'
}
code_of() { head -n1 "$work/$1.h" | tr -d '\r' | awk '{print $2}'; }
js() { jqt "input | $2" "$work/$1.json"; }
# submit USER N: N transactions of USER through REST (submit_many: in batches of 500)
submit() {
  python3 - "$1" "$2" >"$work/batch.json" <<'EOF'
import json, sys
user, n = sys.argv[1], int(sys.argv[2])
tx = {"userId": user, "fromAddress": "0xa1", "toAddress": "0xb2", "amount": "1.5", "transactionType": "TRANSFER"}
print(json.dumps({"batchId": "b", "transactions": [tx] * n}))
EOF
  curl -s --max-time 20 -o "$work/batch.out" -X POST -H 'content-type: application/json' \
    --data-binary @"$work/batch.json" "$gw/api/v11/transactions:batch"
}
submit_many() { local left=$2; while [ "$left" -gt 0 ]; do submit "$1" $((left > 500 ? 500 : left)); left=$((left - 500)); done; }
metric() { # metric REGEX: the sum of the matching samples on $gw's /q/metrics
  curl -s --max-time 5 "$gw/q/metrics" | grep -E "$1" | awk '{ s += $NF } END { print s + 0 }'
}
# logged ID SECONDS: the access-log line of request id ID (on $gw_log) once written
logged() { wait_line "$gw_log" "\"request_id\":\"$1\"" "$2"; }

# ---- start ---------------------------------------------------------------------------

start_services svc --version-tag v7 || give_up "services did not start"
main_svc=$svc_port
start_services failing --fail-rate 1 --fail-code 9 --fail-details "web details" --latency-ms 2500 ||
  give_up "failing services did not start"
fail_svc=$svc_port
cat >"$work/gw.yaml" <<EOF
limits:
  max_body: 65536
  max_output: 65536
clusters:
  - name: default
    versions:
      - {name: blue, targets: ["127.0.0.1:$main_svc"], weight: 100}
      - {name: canary, targets: ["127.0.0.1:$main_svc"], weight: 0}
    health: {interval_ms: 200, timeout_ms: 500, healthy_threshold: 1, unhealthy_threshold: 2}
  - name: failing
    targets: ["127.0.0.1:$fail_svc"]
    health: {interval_ms: 200, timeout_ms: 500, healthy_threshold: 1, unhealthy_threshold: 2}
services:
  $C: failing
routes:
  - method: $C.GetConsensusStatus
    timeout_ms: 1000
rate_limits:
  - {name: web-user-list, method: $T.ListUserTransactions, rate: 0.01, burst: 1}
grpc_web:
  cors_origins: ["https://app.example"]
EOF
start_gateway gwu --config "$work/gw.yaml" || give_up "gateway (io_uring) did not start"
gw_uring=$gw
gwu_pid=$gw_pid
log_uring=$work/gwu.log
check "gateway (io_uring) ready" wait_ready "$gw" 15
if grep -q 'io_uring unavailable' "$work/gwu.err"; then
  echo "note: io_uring is unavailable here; both runs below are h2o's HTTP/1.1"
fi
start_gateway gwh --config "$work/gw.yaml" --http1 h2o || give_up "gateway (h2o) did not start"
gw_h2o=$gw
gwh_pid=$gw_pid
log_h2o=$work/gwh.log
check "gateway (h2o) ready" wait_ready "$gw" 15

enc $M.GetTransactionStatsRequest '' "$work/stats.req"
enc $M.GetTransactionRequest 'tx_hash: "0xnope"' "$work/nope.req"
gw=$gw_uring
submit web-unary 1
hash=$(jq -r '.txHashes[0]' "$work/batch.out")
check "a transaction to read back" [ "${#hash}" = 66 ]
enc $M.GetTransactionRequest "tx_hash: \"$hash\"" "$work/get.req"
web b64 "$work/get.req" >"$work/get.txt"
web b64 "$work/stats.req" >"$work/stats.txt"

# ---- the same calls on each HTTP/1.1 front end -----------------------------------------

for fe in uring h2o; do
  if [ $fe = uring ]; then gw=$gw_uring gw_log=$log_uring; else gw=$gw_h2o gw_log=$log_h2o; fi
  p="($fe)"

  call stats-$fe application/grpc-web+proto /$T/GetTransactionStats "$work/stats.req" --http1.1
  check "$p unary binary: HTTP 200" [ "$(code_of stats-$fe)" = 200 ]
  check "$p ... content-type as asked" [ "$(hdr stats-$fe content-type)" = application/grpc-web+proto ]
  check "$p ... with its length (one send)" [ "$(hdr stats-$fe content-length)" = "$(wc -c <"$work/stats-$fe.b")" ]
  check "$p ... one message, then the trailer frame last" js stats-$fe '.error == null and .messages == 1 and .trailer_frames == 1 and .trailer_last and .trailer_crlf'
  check "$p ... grpc-status 0 in the trailer frame" js stats-$fe '.trailers["grpc-status"] == "0"'
  check "$p ... the message decodes (protoc)" grep -q '^pending_transactions: [0-9]' <(dec $M.TransactionStats "$work/stats-$fe.msg.0")
  check "$p ... response metadata as headers" [ "$(hdr stats-$fe x-version-tag)" = v7 ]
  check "$p ... the version that answered" [ "$(hdr stats-$fe x-upstream-version)" = blue ]
  check "$p ... a request id" [ -n "$(hdr stats-$fe x-request-id)" ]

  call get-$fe application/grpc-web-text /$T/GetTransaction "$work/get.txt" --http1.1 -H 'x-request-id: web-get-'$fe
  check "$p unary -text: HTTP 200, -text back" [ "$(code_of get-$fe)/$(hdr get-$fe content-type)" = 200/application/grpc-web-text ]
  check "$p ... each frame its own base64" js get-$fe '.per_frame_base64 and .messages == 1 and .trailers["grpc-status"] == "0"'
  check "$p ... the transaction read back" grep -q "^tx_hash: \"$hash\"" <(dec aurigraph.v11.Transaction "$work/get-$fe.msg.0")
  check "$p ... our request id echoed" [ "$(hdr get-$fe x-request-id)" = web-get-$fe ]

  call nope-$fe application/grpc-web /$T/GetTransaction "$work/nope.req" --http1.1
  check "$p upstream error before any message: trailers-only" [ "$(hdr nope-$fe grpc-status)" = 5 ]
  check "$p ... its message" [ "$(hdr nope-$fe grpc-message)" = "Transaction not found" ]
  check "$p ... and no body" [ "$(hdr nope-$fe content-length)/$(wc -c <"$work/nope-$fe.b")" = 0/0 ]

  call unimpl-$fe application/grpc-web /$T/NoSuchMethod "$work/stats.req" --http1.1
  check "$p unknown method: grpc-status 12 in the trailer frame" js unimpl-$fe '.messages == 0 and .trailer_last and .trailers["grpc-status"] == "12"'
  check "$p ... saying which" js unimpl-$fe '.trailers["grpc-message"] | test("unknown method /aurigraph.v11.TransactionService/NoSuchMethod")'
  call unsvc-$fe application/grpc-web /no.Such/Thing "$work/stats.req" --http1.1
  check "$p unknown service: 12" js unsvc-$fe '.trailers["grpc-status"] == "12" and (.trailers["grpc-message"] | test("unknown service"))'

  # a server stream: the snapshot of the user's pending transactions, then
  # the client's deadline ends it (DEADLINE_EXCEEDED in the trailer frame)
  submit web-stream-$fe 3
  enc $M.StreamTransactionEventsRequest "user_id: \"web-stream-$fe\"" "$work/stream-$fe.req"
  call stream-$fe application/grpc-web /$T/StreamTransactionEvents "$work/stream-$fe.req" --http1.1 -H 'grpc-timeout: 1S'
  check "$p server stream: 3 messages, then the trailer frame" js stream-$fe '.error == null and .messages == 3 and .trailer_last and .trailer_frames == 1'
  check "$p ... ended by the client's grpc-timeout" js stream-$fe '.trailers["grpc-status"] == "4"'
  check "$p ... streamed (chunked, no length)" [ "$(hdr stream-$fe transfer-encoding)" = chunked ]
  check "$p ... each an event of the user" grep -q "user_id: \"web-stream-$fe\"" <(dec aurigraph.v11.TransactionEvent "$work/stream-$fe.msg.2")

  # a client that hangs up mid-stream: HTTP/1.1 shows it at the next write,
  # so events follow until the access log has the call, CANCELLED
  # (the stream above counts once its request is disposed, as it is logged)
  logged "$(hdr stream-$fe x-request-id)" 5 >/dev/null
  errors_before=$(metric '^gateway_upstream_errors_total\{cluster="default"')
  enc $M.StreamTransactionEventsRequest "user_id: \"web-hangup-$fe\"" "$work/hangup-$fe.req"
  submit web-hangup-$fe 1
  curl -s -N --http1.1 --max-time 30 -o "$work/hangup-$fe.b" --data-binary @"$work/hangup-$fe.req" \
    -H 'content-type: application/grpc-web' -H "x-request-id: web-hangup-$fe" "$gw/$T/StreamTransactionEvents" &
  curl_pid=$!
  pids+=("$curl_pid")
  for _ in $(seq 100); do [ -s "$work/hangup-$fe.b" ] && break; sleep 0.05; done
  check "$p hang-up: the first event arrived" [ -s "$work/hangup-$fe.b" ]
  kill "$curl_pid" 2>/dev/null
  wait "$curl_pid" 2>/dev/null
  for _ in $(seq 20); do
    grep -q '"request_id":"web-hangup-'$fe'"' "$gw_log" 2>/dev/null && break
    submit web-hangup-$fe 1
    sleep 0.2
  done
  line=$(logged web-hangup-$fe 5)
  check "$p ... the upstream call is cancelled (CANCELLED in the log)" grep -q '"grpc_status":1,' <<<"$line"
  check "$p ... not an upstream error" [ "$(metric '^gateway_upstream_errors_total\{cluster="default"')" = "$errors_before" ]
  check "$p ... counted as a cancelled gRPC-Web call" \
    [ "$(metric 'grpc_requests_total\{service="aurigraph.v11.TransactionService",method="StreamTransactionEvents",source="grpc-web",code="CANCELLED"\}')" -ge 1 ]
done

# ---- HTTP/2 (h2c prior knowledge) ----------------------------------------------------------

gw=$gw_uring gw_log=$log_uring
call stats-h2 application/grpc-web /$T/GetTransactionStats "$work/stats.req" --http2-prior-knowledge
check "(h2) unary binary: 200, a message and grpc-status 0" js stats-h2 '.messages == 1 and .trailers["grpc-status"] == "0"'
check "(h2) ... over HTTP/2" grep -q '^HTTP/2 200' "$work/stats-h2.h"
call get-h2 application/grpc-web-text+proto /$T/GetTransaction "$work/get.txt" --http2-prior-knowledge
check "(h2) unary -text+proto: the transaction" grep -q "^tx_hash: \"$hash\"" <(dec aurigraph.v11.Transaction "$work/get-h2.msg.0")
check "(h2) ... content-type as asked" [ "$(hdr get-h2 content-type)" = application/grpc-web-text+proto ]
web b64 "$work/stream-uring.req" >"$work/stream-h2.txt"
call stream-h2 application/grpc-web-text /$T/StreamTransactionEvents "$work/stream-h2.txt" --http2-prior-knowledge -H 'grpc-timeout: 1S'
check "(h2) server stream -text: 3 messages, deadline in the trailer frame" js stream-h2 '.per_frame_base64 and .messages == 3 and .trailers["grpc-status"] == "4"'
call unimpl-h2 application/grpc-web /$T/NoSuchMethod "$work/stats.req" --http2-prior-knowledge
check "(h2) unknown method: 12" js unimpl-h2 '.trailers["grpc-status"] == "12"'

# hang-up on HTTP/2: the connection's end reaches the call at once
submit web-hangup-h2 1
enc $M.StreamTransactionEventsRequest 'user_id: "web-hangup-h2"' "$work/hangup-h2.req"
curl -s -N --http2-prior-knowledge --max-time 30 -o "$work/hangup-h2.b" --data-binary @"$work/hangup-h2.req" \
  -H 'content-type: application/grpc-web' -H 'x-request-id: web-hangup-h2' "$gw/$T/StreamTransactionEvents" &
curl_pid=$!
pids+=("$curl_pid")
for _ in $(seq 100); do [ -s "$work/hangup-h2.b" ] && break; sleep 0.05; done
check "(h2) hang-up: the first event arrived" [ -s "$work/hangup-h2.b" ]
kill "$curl_pid" 2>/dev/null
wait "$curl_pid" 2>/dev/null
line=$(logged web-hangup-h2 10)
check "(h2) ... the upstream call is cancelled, no event needed" grep -q '"grpc_status":1,' <<<"$line"

# ---- the release controls, deadlines and an upstream's error details ---------------------------

call canary application/grpc-web /$T/GetTransactionStats "$work/stats.req" -H 'x-canary: always'
check "x-canary: always picks the canary (weight 0)" [ "$(hdr canary x-upstream-version)" = canary ]
check "... and it answers" js canary '.trailers["grpc-status"] == "0"'

enc $M.ListNodesRequest '' "$work/nodes.req"
call details application/grpc-web /$C/ListNodes "$work/nodes.req"
check "upstream error with details: its status, trailers-only" [ "$(hdr details grpc-status)/$(hdr details grpc-message)" = "9/injected failure" ]
hdr details grpc-status-details-bin | base64 -d >"$work/details.bin" 2>/dev/null
check "... grpc-status-details-bin intact (a google.rpc.Status)" grep -q 'code: 9' <(dec google.rpc.Status "$work/details.bin")
check "... the service's cluster answered" grep -q '"upstream":"failing"' <(logged "$(hdr details x-request-id)" 5)
call details-text application/grpc-web-text /$C/ListNodes <(web b64 "$work/nodes.req")
check "... the same as -text" [ "$(hdr details-text grpc-status)" = 9 ]

call client-tmo application/grpc-web /$C/ListNodes "$work/nodes.req" -H 'grpc-timeout: 1S'
check "the client's grpc-timeout below the route's: DEADLINE_EXCEEDED" [ "$(hdr client-tmo grpc-status)" = 4 ]
enc $M.GetConsensusStatusRequest '' "$work/cstatus.req"
call route-tmo application/grpc-web /$C/GetConsensusStatus "$work/cstatus.req" -H 'grpc-timeout: 60S'
check "the route's timeout_ms below the client's: DEADLINE_EXCEEDED" [ "$(hdr route-tmo grpc-status)" = 4 ]

# the same rate limits as REST: one call in the burst, the next refused
enc $M.ListUserTransactionsRequest 'user_id: "web-unary"' "$work/list.req"
call limit1 application/grpc-web /$T/ListUserTransactions "$work/list.req"
call limit2 application/grpc-web /$T/ListUserTransactions "$work/list.req"
check "a rate limit on the method: the first call in the burst" js limit1 '.messages == 1 and .trailers["grpc-status"] == "0"'
check "... the next one RESOURCE_EXHAUSTED, naming the limit" js limit2 '.trailers["grpc-status"] == "8" and (.trailers["grpc-message"] | test("rate limit \"web-user-list\""))'

# ---- compression: relayed, not undone -----------------------------------------------------------

# the request message gzip-compressed (flag 1, grpc-encoding: gzip) goes
# to the service as it is, and the service (gRPC C core) reads it
printf 'tx_hash: "%s"' "$hash" | "$protoc_bin" -I"$src/proto" -I"$wkt" --encode=$M.GetTransactionRequest "${protos[@]}" >"$work/get.msg"
web gzframe "$work/get.msg" >"$work/get-gz.req"
call gz application/grpc-web /$T/GetTransaction "$work/get-gz.req" -H 'grpc-encoding: gzip'
check "a gzip-compressed request message reaches the service as sent" \
  grep -q "^tx_hash: \"$hash\"" <(dec $M.Transaction "$work/gz.msg.0")
call gz-text application/grpc-web-text /$T/GetTransaction <(web b64 "$work/get-gz.req") -H 'grpc-encoding: gzip' \
  -H 'grpc-accept-encoding: gzip'
check "... as -text too" js gz-text '.messages == 1 and .trailers["grpc-status"] == "0"'

# ---- CORS ------------------------------------------------------------------------------

pre() { # pre NAME ORIGIN [CURL ARGS]: a preflight
  local name=$1 origin=$2
  shift 2
  curl -s --max-time 10 -D "$work/$name.h" -o "$work/$name.b" -X OPTIONS -H "Origin: $origin" \
    -H 'Access-Control-Request-Method: POST' "$@" "$gw/$T/GetTransactionStats"
}
pre pre-ok https://app.example -H 'Access-Control-Request-Headers: content-type,x-grpc-web,x-user-agent,authorization'
check "preflight from an allowed origin: 204" [ "$(code_of pre-ok)" = 204 ]
check "... that origin allowed" [ "$(hdr pre-ok access-control-allow-origin)" = https://app.example ]
check "... POST allowed" grep -q POST <<<"$(hdr pre-ok access-control-allow-methods)"
allow=$(hdr pre-ok access-control-allow-headers)
check "... gRPC-Web's headers and the page's own allowed" bash -c \
  '[[ "$1" == *x-grpc-web* && "$1" == *x-user-agent* && "$1" == *grpc-timeout* && "$1" == *content-type* && "$1" == *authorization* ]]' _ "$allow"
check "... cached" [ -n "$(hdr pre-ok access-control-max-age)" ]
pre pre-other https://evil.example
check "preflight from another origin: 403, no CORS headers" [ "$(code_of pre-other)/$(hdr pre-other access-control-allow-origin)" = 403/ ]
call cors application/grpc-web /$T/GetTransactionStats "$work/stats.req" -H 'Origin: https://app.example' -H 'x-grpc-web: 1'
check "a call from an allowed origin: Access-Control-Allow-Origin" [ "$(hdr cors access-control-allow-origin)" = https://app.example ]
expose=$(hdr cors access-control-expose-headers)
check "... exposing the status headers and the metadata" bash -c \
  '[[ "$1" == *grpc-status* && "$1" == *grpc-message* && "$1" == *grpc-status-details-bin* && "$1" == *x-version-tag* ]]' _ "$expose"
call cors-other application/grpc-web /$T/GetTransactionStats "$work/stats.req" -H 'Origin: https://evil.example'
check "a call from another origin: served, without CORS headers" \
  bash -c '[ -z "$1" ] && [ "$2" = true ]' _ "$(hdr cors-other access-control-allow-origin)" "$(jq '.trailers["grpc-status"] == "0"' "$work/cors-other.json")"

# ---- bad input and the limits -----------------------------------------------------------------

printf 'AAAA=A==' >"$work/bad64.txt"
call bad64 application/grpc-web-text /$T/GetTransactionStats "$work/bad64.txt"
check "-text body that is not base64: INTERNAL" js bad64 '.trailers["grpc-status"] == "13" and (.trailers["grpc-message"] | test("base64"))'
{ cat "$work/stats.txt"; printf '\n'; } >"$work/ws64.txt"
call ws64 application/grpc-web-text /$T/GetTransactionStats "$work/ws64.txt"
check "-text body with a line end: INTERNAL" js ws64 '.trailers["grpc-status"] == "13"'
head -c 3 "$work/get.req" >"$work/trunc.req"
call trunc application/grpc-web /$T/GetTransaction "$work/trunc.req"
check "a body that ends inside a prefix: INTERNAL" js trunc '.trailers["grpc-status"] == "13" and (.trailers["grpc-message"] | test("ends inside"))'
head -c 20 "$work/get.req" >"$work/trunc2.req"
call trunc2 application/grpc-web /$T/GetTransaction "$work/trunc2.req"
check "a body that ends inside a message: INTERNAL" js trunc2 '.trailers["grpc-status"] == "13"'
web frame "$work/msg.bin" 1 >"$work/compressed.req"
call compressed application/grpc-web /$T/GetTransactionStats "$work/compressed.req"
check "a compressed message without grpc-encoding: INTERNAL" js compressed '.trailers["grpc-status"] == "13" and (.trailers["grpc-message"] | test("grpc-encoding"))'
call identity application/grpc-web /$T/GetTransactionStats "$work/compressed.req" -H 'grpc-encoding: identity'
check "... or with grpc-encoding: identity: INTERNAL" js identity '.trailers["grpc-status"] == "13"'
web frame "$work/msg.bin" 128 >"$work/trailerframe.req"
call trailerframe application/grpc-web /$T/GetTransactionStats "$work/trailerframe.req"
check "a request with a trailer frame: INTERNAL" js trailerframe '.trailers["grpc-status"] == "13"'
head -c 70000 /dev/zero >"$work/big.bin"
web frame "$work/big.bin" >"$work/big.req"
call big application/grpc-web /$T/GetTransactionStats "$work/big.req"
check "a body over limits.max_body: RESOURCE_EXHAUSTED" js big '.trailers["grpc-status"] == "8" and (.trailers["grpc-message"] | test("over the limit of 65536"))'
web b64 "$work/big.req" >"$work/big2.txt" # 93 KB: within h2o's limit, over ours once decoded
call big2 application/grpc-web-text /$T/GetTransactionStats "$work/big2.txt"
check "a -text body that decodes over the limit: RESOURCE_EXHAUSTED, -text" js big2 '.per_frame_base64 and .trailers["grpc-status"] == "8"'
call json application/grpc-web+json /$T/GetTransactionStats "$work/stats.req"
check "application/grpc-web+json: 415" [ "$(code_of json)" = 415 ]
curl -s --max-time 10 -D "$work/get405.h" -o /dev/null -H 'content-type: application/grpc-web' "$gw/$T/GetTransactionStats"
check "GET with a gRPC-Web content-type: 405, Allow: POST" [ "$(code_of get405)/$(hdr get405 allow)" = "405/POST, OPTIONS" ]
# a response message over limits.max_output (64 KiB here): the call ends RESOURCE_EXHAUSTED
submit_many web-big 400
enc $M.ListPendingTransactionsRequest '' "$work/pending.req"
call pending application/grpc-web /$T/ListPendingTransactions "$work/pending.req"
check "a response message over limits.max_output: RESOURCE_EXHAUSTED" js pending '.messages == 0 and .trailers["grpc-status"] == "8" and (.trailers["grpc-message"] | test("over the gateway.s limit of 65536"))'
check "REST is not taken: JSON still goes to the REST handler" \
  [ "$(curl -s --max-time 10 -o /dev/null -w '%{http_code}' "$gw/api/v11/transactions/stats")" = 200 ]
call after-bad application/grpc-web /$T/GetTransactionStats "$work/stats.req"
check "after all of it the gateway still serves" js after-bad '.trailers["grpc-status"] == "0"'
check "... and both gateways are alive" bash -c "[ -e /proc/$gwu_pid ] && [ -e /proc/$gwh_pid ]"

# ---- a reader that stops reading ---------------------------------------------------------------

# 15000 events (3.4 MB) come while it reads nothing: the kernel's send
# buffer takes what it can (2.8 MB on loopback here), then the gateway's
# output passes its high water and the upstream call is paused, and the
# rest waits in the upstream's stream window; then it reads, and gets
# every event, in order. (That the pause engages was seen by hand, with a
# print; nothing outside shows it. The service sends its headers with its
# first message: one pending transaction is replayed to the new stream,
# which says the stream is there before the 15000.)
for fe in uring h2o; do
  if [ $fe = uring ]; then gw=$gw_uring; else gw=$gw_h2o; fi
  submit web-slow-$fe 1
  enc $M.StreamTransactionEventsRequest "user_id: \"web-slow-$fe\"" "$work/slow-$fe.req"
  web slowread "${gw##*:}" /$T/StreamTransactionEvents "$work/slow-$fe.req" "$work/slow-$fe.ready" \
    "$work/slow-$fe.go" "$work/slow-$fe.b" 15001 &
  reader=$!
  pids+=("$reader")
  for _ in $(seq 200); do [ -e "$work/slow-$fe.ready" ] && break; sleep 0.05; done
  check "($fe) slow reader: the stream started" [ -e "$work/slow-$fe.ready" ]
  submit_many web-slow-$fe 15000
  touch "$work/slow-$fe.go"
  wait "$reader"
  web events "$work/slow-$fe.b" >"$work/slow-$fe.json"
  check "($fe) ... then takes every event, in order" js slow-$fe '.error == null and .events == 15001 and .in_order'
done

# ---- metrics and the access log ---------------------------------------------------------------

gw=$gw_uring gw_log=$log_uring
check "grpc_requests_total counts gRPC-Web calls (source grpc-web)" \
  [ "$(metric 'grpc_requests_total\{service="aurigraph.v11.TransactionService",method="GetTransactionStats",source="grpc-web",code="OK"\}')" -ge 3 ]
check "... the upstream's errors by their code" \
  [ "$(metric 'grpc_requests_total\{service="aurigraph.v11.ConsensusService",method="ListNodes",source="grpc-web",code="FAILED_PRECONDITION"\}')" -ge 2 ]
check "... and the gateway's refusals of a known method" \
  [ "$(metric 'grpc_requests_total\{service="aurigraph.v11.TransactionService",method="GetTransactionStats",source="grpc-web",code="INTERNAL"\}')" -ge 3 ]
check "per-version upstream counts: the canary's call" \
  [ "$(metric 'gateway_upstream_requests_total\{cluster="default",version="canary",code="OK"\}')" = 1 ]
check "... the failing cluster's errors (the rollout's gates read these)" \
  [ "$(metric 'gateway_upstream_requests_total\{cluster="failing",version="default",code="FAILED_PRECONDITION"\}')" -ge 2 ]
check "http_requests_total counts gRPC-Web calls as the REST port's requests, the method's path as route" \
  [ "$(metric 'http_requests_total\{method="POST",route="/aurigraph.v11.TransactionService/GetTransactionStats",code="200"\}')" -ge 3 ]
check "... and http_request_duration_seconds times them" \
  [ "$(metric 'http_request_duration_seconds_count\{method="POST",route="/aurigraph.v11.TransactionService/GetTransactionStats"\}')" -ge 3 ]
check "... with a bucket series per route" \
  [ "$(metric 'http_request_duration_seconds_bucket\{method="POST",route="/aurigraph.v11.TransactionService/GetTransactionStats",le="\+Inf"\}')" -ge 3 ]
check "... an unknown method as an unmatched POST (route \"\")" \
  [ "$(metric 'http_requests_total\{method="POST",route="",code="200"\}')" -ge 1 ]
call logme application/grpc-web /$T/GetTransactionStats "$work/stats.req" -H 'x-request-id: web-log-1' -H 'x-canary: always'
line=$(logged web-log-1 5)
check "access log: one line per call, the method as its route" \
  jqt 'input | .method == "POST" and .route == "/aurigraph.v11.TransactionService/GetTransactionStats" and .status == 200 and .grpc_status == 0 and .upstream == "default" and .version == "canary" and (.upstream_us | type == "number") and .duration_us >= .upstream_us' <(echo "$line")
line=$(logged "$(hdr unimpl-uring x-request-id)" 5)
check "... an unknown method: its path, no upstream" \
  jqt 'input | .route == null and .path == "/aurigraph.v11.TransactionService/NoSuchMethod" and .grpc_status == 12 and .upstream_us == null' <(echo "$line")

# ---- gRPC-Web clients we did not write (Node) ------------------------------------------------------

# npm ci of tests/grpc-web/ once per lockfile, into the build directory
# (flock: two tests, or two builds, never install into one folder at once)
node_clients() {
  command -v node >/dev/null && command -v npm >/dev/null || return 1
  local dir=$build/grpc-web-node
  mkdir -p "$dir"
  (
    flock 9
    if ! cmp -s "$src/tests/grpc-web/package-lock.json" "$dir/.installed-lock" || [ ! -d "$dir/node_modules" ]; then
      cp "$src/tests/grpc-web/package.json" "$src/tests/grpc-web/package-lock.json" "$dir/" &&
        (cd "$dir" && rm -rf node_modules && timeout 300 npm ci --silent --ignore-scripts --no-audit --no-fund) &&
        cp "$src/tests/grpc-web/package-lock.json" "$dir/.installed-lock"
    fi
  ) 9>"$dir/.lock" || return 1
  export NODE_PATH=$dir/node_modules
}
if node_clients; then
  gw=$gw_uring
  submit web-node 1
  for lib in improbable grpcweb; do
    timeout 60 node "$src/tests/grpc-web/client.cjs" $lib "$gw" "$hash" >"$work/node-$lib.out" 2>"$work/node-$lib.err"
    check "($lib) the client ran" [ $? = 0 ]
    n() { jq -c "select(.call == \"$1\")" "$work/node-$lib.out" >"$work/node-$lib-$1.json"; }
    for c in stats get not_found unimplemented stream; do n $c; done
    check "($lib) unary: OK, the stats read" js node-$lib-stats '.code == 0 and (.fields["1"][0] | type == "number")'
    check "($lib) unary: the transaction read back" js node-$lib-get ".code == 0 and .fields[\"2\"][0] == \"$hash\""
    check "($lib) upstream error (trailers-only): NOT_FOUND and its message" js node-$lib-not_found '.code == 5 and .message == "Transaction not found"'
    check "($lib) unknown method: UNIMPLEMENTED" js node-$lib-unimplemented '.code == 12'
    check "($lib) server stream: the snapshot, then DEADLINE_EXCEEDED" js node-$lib-stream '.code == 4 and .events >= 1 and (.types | all(. == "SUBMITTED"))'
  done
  check "(improbable) response metadata reaches the client" js node-improbable-stats '.headers["x-version-tag"] == "v7"'
  # the improbable client closed its stream after one event: HTTP/1.1 sees
  # it at the next write
  for _ in $(seq 20); do
    grep -q '"request_id":"improbable-hangup"' "$log_uring" 2>/dev/null && break
    submit web-node 1
    sleep 0.2
  done
  check "(improbable) a stream the client closes: the upstream call cancelled" \
    grep -q '"grpc_status":1,' <(logged improbable-hangup 5)
else
  bad "node and npm are needed for the gRPC-Web clients (scripts/install-deps), and npm ci of tests/grpc-web/"
fi

summary
