#!/usr/bin/env bash
# api_docs_test: /q/openapi and /q/swagger-ui through the real gateway in
# front of the reference services, on loopback.
#
#  - /q/openapi: YAML by default, JSON by ?format=json or Accept; validated
#    by an OpenAPI 3.1 validator from npm (tests/openapi/package-lock.json),
#    the YAML and JSON forms one document, checked against the route table
#    (protoc's decoding of the descriptor set, and --check-config's count),
#    and real answers of the routes (every GET that takes nothing, a
#    transaction's life, the gateway's own 400/404/415) validated against
#    the document's schemas; the same with a config that gives routes two
#    JSON profiles.
#  - /q/swagger-ui: 404 saying how to enable it when off; a start refused
#    for a directory without the files or with one over the size bound;
#    the files with their content types; no path leaves the fixed list
#    (traversal attempts); then the page in headless Chromium (Debian's
#    chromium, playwright-core): every operation listed, and "Try it out" on
#    GET /api/v11/transactions/stats answered by the gateway. Screenshots
#    are kept in $AG_BUILD_DIR/api_docs_test/.
#
# npm tools install once per lockfile into $AG_BUILD_DIR/openapi-node and
# Swagger UI (scripts/install-swagger-ui) into $AG_BUILD_DIR/swagger-ui.
source "$(dirname "$0")/lib.sh"
need_binaries
need curl jq node npm protoc flock
chromium_bin=${CHROMIUM:-$(command -v chromium || true)}
[ -n "$chromium_bin" ] || give_up "chromium is needed (scripts/install-deps)"

# ---- tools -----------------------------------------------------------------
node_dir=$build/openapi-node
(
  flock 9
  lock=$src/tests/openapi/package-lock.json
  if ! cmp -s "$lock" "$node_dir/.installed-lock" || [ ! -d "$node_dir/node_modules" ]; then
    mkdir -p "$node_dir" && cp "$src/tests/openapi/package.json" "$lock" "$node_dir/" &&
      (cd "$node_dir" && rm -rf node_modules && npm ci --silent --ignore-scripts --no-audit --no-fund) &&
      cp "$lock" "$node_dir/.installed-lock"
  fi
) 9>"$build/openapi-node.lock" || give_up "npm ci of tests/openapi failed"
export NODE_PATH=$node_dir/node_modules
ui_dir=$build/swagger-ui
"$src/scripts/install-swagger-ui" "$ui_dir" >/dev/null || give_up "scripts/install-swagger-ui failed"
shots=$build/api_docs_test
mkdir -p "$shots"

# node_checks NAME COMMAND...: its "ok"/"FAIL" lines into this test's counts
node_checks() {
  local name=$1 line; shift
  while IFS= read -r line; do
    case $line in
      "ok "*) ok ;;
      "FAIL "*) bad "$name: ${line#FAIL }" ;;
      "exit 0") ;;
      "exit "*) bad "$name: $* ended with ${line#exit }" ;;
      *) echo "$name: $line" ;;
    esac
  done < <(timeout 180 "$@"; echo "exit $?")
}

start_services svc || give_up "aurigraph-services did not start"

# ---- /q/swagger-ui off, and starts refused --------------------------------
start_gateway plain --upstream "127.0.0.1:$svc_port" || give_up "gateway did not start"
wait_ready "$gw" 20 || give_up "gateway not ready"
code=$(curl -s -o "$work/off.json" -w '%{http_code}' "$gw/q/swagger-ui/")
check "no swagger_ui_dir: /q/swagger-ui/ is 404 ($code)" [ "$code" = 404 ]
check "... and the error JSON says how to enable it" \
  jqt 'input | (.message | contains("--swagger-ui-dir") and contains("scripts/install-swagger-ui")) and .code == 5' "$work/off.json"
kill "$gw_pid"; wait "$gw_pid" 2>/dev/null

refused() { # refused WHAT DIR REGEX: the gateway and --check-config both say no
  local out rc
  out=$("$gateway_bin" --listen 127.0.0.1:0 --admin off --upstream "127.0.0.1:$svc_port" --swagger-ui-dir "$2" 2>&1 </dev/null)
  rc=$?
  check "$1: start refused, rc $rc: $out" bash -c '[ "$1" -ne 0 ] && grep -qE "$2" <<<"$3"' _ "$rc" "$3" "$out"
}
refused "a directory that does not exist" "$work/nope" "no index.html"
mkdir "$work/partial" && cp "$ui_dir/index.html" "$ui_dir/swagger-ui.css" "$work/partial/"
refused "a directory without swagger-ui-bundle.js" "$work/partial" "no swagger-ui-bundle.js"
cp -r "$ui_dir" "$work/huge" && truncate -s 9M "$work/huge/swagger-ui.css"
refused "a file over the 8 MiB bound" "$work/huge" "at most 8388608 bytes"
out=$("$gateway_bin" --check-config --swagger-ui-dir "$work/nope" 2>&1); rc=$?
check "--check-config refuses it too (rc $rc)" bash -c '[ "$1" = 2 ] && grep -q "no index.html" <<<"$2"' _ "$rc" "$out"

# ---- the gateway with the UI ------------------------------------------------
start_gateway gw --upstream "127.0.0.1:$svc_port" --swagger-ui-dir "$ui_dir" || give_up "gateway did not start"
wait_ready "$gw" 20 || give_up "gateway not ready"

hdr() { curl -s -o "$work/body" -D "$work/hdr" "$@"; tr -d '\r' <"$work/hdr" | awk -F': ' 'tolower($1) == "content-type" {print $2}'; }
type=$(hdr "$gw/q/openapi"); cp "$work/body" "$work/doc.yaml"
check "/q/openapi is YAML by default ($type)" [ "$type" = "application/yaml; charset=utf-8" ]
check "... beginning with its version" grep -q '^openapi: "3.1.0"$' "$work/doc.yaml"
type=$(hdr "$gw/q/openapi?format=json"); cp "$work/body" "$work/doc.json"
check "?format=json is JSON ($type)" bash -c '[ "$1" = application/json ] && jq -e .openapi "$2" >/dev/null' _ "$type" "$work/doc.json"
type=$(hdr -H 'Accept: application/json' "$gw/q/openapi")
check "Accept: application/json is JSON, the same bytes ($type)" \
  bash -c '[ "$1" = application/json ] && cmp -s "$2" "$3"' _ "$type" "$work/body" "$work/doc.json"
type=$(hdr --http2-prior-knowledge "$gw/q/openapi?format=yaml")
check "over HTTP/2, ?format=yaml: the same YAML" bash -c '[ "$1" = "application/yaml; charset=utf-8" ] && cmp -s "$2" "$3"' \
  _ "$type" "$work/body" "$work/doc.yaml"
code=$(curl -s -o "$work/body" -w '%{http_code}' "$gw/q/openapi?format=xml")
check "?format=xml: 400 in the error shape ($code)" bash -c '[ "$1" = 400 ] && jq -e ".code == 3" "$2" >/dev/null' _ "$code" "$work/body"
code=$(curl -s -o /dev/null -D "$work/hdr" -w '%{http_code}' -X POST "$gw/q/openapi")
check "POST /q/openapi: 405 with Allow ($code)" bash -c '[ "$1" = 405 ] && grep -qi "^allow: GET, HEAD" "$2"' _ "$code" "$work/hdr"
etag=$(curl -s -D - -o /dev/null "$gw/q/openapi" | tr -d '\r' | awk -F': ' 'tolower($1) == "etag" {print $2}')
code=$(curl -s -o /dev/null -w '%{http_code}' -H "If-None-Match: $etag" "$gw/q/openapi")
check "If-None-Match with its ETag ($etag): 304 ($code)" [ "$code" = 304 ]

len=$(stat -c %s "$work/doc.yaml")
out=$(curl -s -I -o "$work/head" -w '%{http_code} %{num_connects};' "$gw/q/openapi" \
      --next -s -o /dev/null -w '%{http_code} %{num_connects}' "$gw/q/swagger-ui/swagger-ui.css")
check "HEAD /q/openapi: 200, its length, no body; the connection goes on ($out)" \
  bash -c '[ "$1" = "200 1;200 0" ] && tr -d "\r" <"$2" | grep -qi "^content-length: $3$"' _ "$out" "$work/head" "$len"

# the route table from protoc, not from the gateway
protoc --decode=google.protobuf.FileDescriptorSet -I"${WKT_INCLUDE:-/usr/include}" -I"$src/proto" \
  google/protobuf/descriptor.proto google/api/annotations.proto aurigraph/api/options.proto \
  <"$build/aurigraph-v11.pb" >"$work/routes.txt" || bad "protoc --decode of the descriptor set"
nroutes=$("$gateway_bin" --check-config | sed -n 's/^configuration OK: \([0-9]*\) routes.*/\1/p')
check "--check-config names its routes ($nroutes)" [ -n "$nroutes" ]
node_checks openapi node "$src/tests/openapi/check.cjs" "$work/doc.yaml" "$work/doc.json" "$work/routes.txt" "$nroutes" "$gw"

# ---- /q/swagger-ui's files ----------------------------------------------------
code=$(curl -s -o /dev/null -D "$work/hdr" -w '%{http_code}' "$gw/q/swagger-ui?x=1")
check "/q/swagger-ui: 302 to /q/swagger-ui/, query kept ($code)" \
  bash -c '[ "$1" = 302 ] && tr -d "\r" <"$2" | grep -qi "^location: /q/swagger-ui/?x=1$"' _ "$code" "$work/hdr"
for pair in "/:text/html; charset=utf-8:index.html" "/index.html:text/html; charset=utf-8:index.html" \
            "/swagger-ui.css:text/css; charset=utf-8:swagger-ui.css" \
            "/swagger-ui-bundle.js:text/javascript; charset=utf-8:swagger-ui-bundle.js" \
            "/swagger-ui-standalone-preset.js:text/javascript; charset=utf-8:swagger-ui-standalone-preset.js" \
            "/favicon-32x32.png:image/png:favicon-32x32.png" "/oauth2-redirect.html:text/html; charset=utf-8:oauth2-redirect.html"; do
  path=${pair%%:*} rest=${pair#*:}; want=${rest%:*} file=${rest##*:}
  type=$(hdr "$gw/q/swagger-ui$path")
  check "/q/swagger-ui$path: $want, the package's bytes ($type)" \
    bash -c '[ "$1" = "$2" ] && cmp -s "$3" "$4"' _ "$type" "$want" "$work/body" "$ui_dir/$file"
done
type=$(hdr "$gw/q/swagger-ui/swagger-initializer.js")
check "swagger-initializer.js is the gateway's, pointed at /q/openapi ($type)" \
  bash -c '[ "$1" = "text/javascript; charset=utf-8" ] && grep -q "url: \"../openapi?format=json\"" "$2"' _ "$type" "$work/body"
check "... with nosniff and an ETag" bash -c 'tr -d "\r" <"$1" | grep -qi "^x-content-type-options: nosniff$" && grep -qi "^etag: " "$1"' _ "$work/hdr"
# nothing outside the fixed list: not the package's other files, not a
# path that climbs out, however it is spelt
for path in /package.json /.installed /swagger-ui-bundle.js.map /../../../../etc/passwd /..%2f..%2f..%2fetc%2fpasswd \
            /%2e%2e/%2e%2e/%2e%2e/etc/passwd //etc/passwd "/index.html%00" /./index.html "/$ui_dir/index.html" \
            "/..$ui_dir/index.html" /INDEX.HTML; do
  code=$(curl -s --path-as-is -o "$work/body" -w '%{http_code}' "$gw/q/swagger-ui$path")
  check "/q/swagger-ui$path: 404 in the error shape ($code)" \
    bash -c '[ "$1" = 404 ] && jq -e ".code == 5" "$2" >/dev/null && ! grep -q "root:" "$2"' _ "$code" "$work/body"
done
code=$(curl -s -o /dev/null -w '%{http_code}' -X DELETE "$gw/q/swagger-ui/")
check "DELETE /q/swagger-ui/: 405 ($code)" [ "$code" = 405 ]
code=$(curl -s -o /dev/null -w '%{http_code}' "$gw/q/swagger-uiX")
check "/q/swagger-uiX is no file of it: the API's 404 ($code)" [ "$code" = 404 ]

# ---- the page, in Chromium -----------------------------------------------------
nops=$(jq '[.paths[] | keys[]] | length' "$work/doc.json")
before=$(grep -c '"route":"/api/v11/transactions/stats"' "$work/gw.log" 2>/dev/null)
node_checks swagger-ui node "$src/tests/openapi/ui.cjs" "$gw" "$nops" "$shots" "$chromium_bin"
sleep 0.3 # the access log is written in batches every 100 ms
after=$(grep -c '"route":"/api/v11/transactions/stats"' "$work/gw.log" 2>/dev/null)
check "the gateway's access log has the UI's call (${before:-0} -> ${after:-0})" [ "${after:-0}" -gt "${before:-0}" ]
check "screenshots taken: $shots/swagger-ui.png, swagger-ui-try-it-out.png" \
  bash -c 'for f; do [ "$(head -c 8 "$f" | od -An -tx1 | tr -d " \n")" = 89504e470d0a1a0a ] || exit 1; done' _ \
  "$shots/swagger-ui.png" "$shots/swagger-ui-try-it-out.png"
kill "$gw_pid"; wait "$gw_pid" 2>/dev/null

# ---- two JSON profiles in one gateway: a component per form ---------------------
cat >"$work/mixed.yaml" <<YAML
clusters:
  - name: default
    targets: ["127.0.0.1:$svc_port"]
routes:
  - method: aurigraph.v11.TransactionService.GetTransaction
    json_profile: proto3
YAML
start_gateway mixed --config "$work/mixed.yaml" || give_up "gateway did not start"
wait_ready "$gw" 20 || give_up "gateway not ready"
curl -s "$gw/q/openapi" >"$work/mixed.yaml.doc"
curl -s "$gw/q/openapi?format=json" >"$work/mixed.json"
check "two profiles: Transaction has a proto3 and a v11 component" jqt 'input | .components.schemas |
  (.["aurigraph.v11.Transaction-proto3"].properties.id.type == "string") and
  (.["aurigraph.v11.Transaction-v11"].properties.id.type == "integer") and (has("aurigraph.v11.Transaction") | not)' "$work/mixed.json"
check "... and GetTransaction answers with the proto3 one, in proto3's error shape" jqt 'input | .paths["/api/v11/transactions/{tx_hash}"].get.responses |
  (.["200"].content["application/json"].schema["$ref"] == "#/components/schemas/aurigraph.v11.Transaction-proto3") and
  (.["404"]["$ref"] == "#/components/responses/NotFound")' "$work/mixed.json"
node_checks openapi-mixed node "$src/tests/openapi/check.cjs" "$work/mixed.yaml.doc" "$work/mixed.json" "$work/routes.txt" "$nroutes" "$gw"

kill "$gw_pid"; wait "$gw_pid" 2>/dev/null

# ---- another descriptor set: its services documented with no extra work ---------
start_gateway docs --upstream "127.0.0.1:$svc_port" --descriptors "$build/docs-test.pb" || give_up "gateway did not start"
curl -s "$gw/q/openapi" >"$work/docs.yaml"
curl -s "$gw/q/openapi?format=json" >"$work/docs.json"
protoc --decode=google.protobuf.FileDescriptorSet -I"${WKT_INCLUDE:-/usr/include}" -I"$src/proto" \
  google/protobuf/descriptor.proto google/api/annotations.proto aurigraph/api/options.proto \
  <"$build/docs-test.pb" >"$work/docs-routes.txt" || bad "protoc --decode of docs-test.pb"
n=$("$gateway_bin" --check-config --descriptors "$build/docs-test.pb" | sed -n 's/^configuration OK: \([0-9]*\) routes.*/\1/p')
check "tests/openapi's services: their tags, and the two routes OpenAPI cannot state named" jqt 'input |
  ([.tags[].name] | index("DocService") and index("V11DocService") and index("TestService")) and
  (.["x-aurigraph-undescribed"] | length == 2)' "$work/docs.json"
node_checks openapi-docs node "$src/tests/openapi/check.cjs" "$work/docs.yaml" "$work/docs.json" "$work/docs-routes.txt" "$n" -

summary
