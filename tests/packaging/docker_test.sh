#!/usr/bin/env bash
# tests/packaging/docker_test.sh: the images and the staging stack, with a
# real Docker daemon (Debian's dockerd 20.10, started here in a temporary
# folder with the flags of ../shared/tooling.md and stopped by its PID at
# exit). Where no dockerd can start, it says so in one line and passes.
#
#   1. docker/build --staging: every image, sizes printed (gateway < 60 MB,
#      every image < 250 MB); numeric non-root users, HEALTHCHECKs.
#   2. docker run, host network, loopback ports picked here, --read-only,
#      every capability dropped: the services and the gateway (config by
#      file and by environment), health, metrics and API calls through the
#      container, the HEALTHCHECKs turning healthy; a SIGTERM (docker stop)
#      with 20 calls in flight: every call answered 200, exit 0.
#   3. docker-compose config, then a bounded `up -d` of
#      deployment/docker-compose.staging.yml: the release plan's two checks
#      (curl localhost:9003/q/health, /q/metrics | grep http_requests_total),
#      Prometheus scraping with our rules, Redis, PostgreSQL 16 over SSL
#      only, the OTLP receiver, a canary through the admin API
#      (deployment/k8s/canary --local); then `down -v`, nothing left.
#
#   AG_SOURCE_DIR=$PWD AG_BUILD_DIR=build bash tests/packaging/docker_test.sh
# Takes ~3 minutes here (the images are built each time; vfs copies layers).
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname "$0")/lib.sh"
cd "$src" || exit 1
export AG_BUILD_DIR=${AG_BUILD_DIR:-$src/build}
t_start=$SECONDS

if ! "$src/docker/install-deps" >"$work/install-deps.log" 2>&1; then
  tail -n 5 "$work/install-deps.log"
  if ! command -v dockerd >/dev/null; then
    echo "docker stage skipped: no Docker daemon can start here (docker.io could not be installed)"
    exit 0
  fi
  give_up "docker/install-deps failed"
fi
command -v jq >/dev/null || give_up "jq is needed (scripts/install-deps)"

# ---- the daemon
ddir=$(mktemp -d /tmp/ag-docker.XXXXXX)
compose_project=agtest$$
compose=(docker-compose -p "$compose_project" -f deployment/docker-compose.staging.yml)
containers=()
cleanup_hook() {
  if [ -n "${DOCKER_HOST:-}" ]; then
    [ -n "${compose_up:-}" ] && timeout 120 "${compose[@]}" down -v --remove-orphans >/dev/null 2>&1
    local c
    for c in "${containers[@]}"; do docker rm -f "$c" >/dev/null 2>&1; done
  fi
  "$src/docker/dockerd" stop "$ddir" >/dev/null 2>&1
  # the vfs layers belong to root and may be many
  rm -rf "$ddir"
}
if ! env_line=$("$src/docker/dockerd" start "$ddir" 2>"$work/dockerd.err"); then
  echo "docker stage skipped: no Docker daemon can start here ($(tail -n1 "$work/dockerd.err" | cut -c1-160))"
  exit 0
fi
eval "$env_line"
say "dockerd $(docker version --format '{{.Server.Version}}') on $DOCKER_HOST (pid $(cat "$ddir/dockerd.pid"))"

# ---- 1. images
say "docker/build --staging"
t0=$SECONDS
docker/build --staging 2>&1 | tee "$work/build.log" | grep -v -E '^\[[0-9]+/[0-9]+\]|^ninja'
[ "${PIPESTATUS[0]}" = 0 ] || give_up "docker/build --staging failed"
echo "(images built in $((SECONDS - t0)) s)"
mb() { docker image inspect -f '{{.Size}}' "$1" | awk '{printf "%.1f", $1 / 1000000}'; }
for img in gateway services redis prometheus postgres otlp-receiver; do
  image=aurigraph-$img:local
  size=$(mb "$image")
  limit=250
  [ "$img" = gateway ] && limit=60
  check "$image: $size MB < $limit MB" awk -v s="$size" -v l="$limit" 'BEGIN { exit !(s < l) }'
  user=$(docker image inspect -f '{{.Config.User}}' "$image")
  check "$image: numeric non-root USER ($user)" bash -c "[[ '$user' =~ ^[1-9][0-9]*(:[0-9]+)?$ ]]"
  hc=$(docker image inspect -f '{{if .Config.Healthcheck}}{{join .Config.Healthcheck.Test " "}}{{end}}' "$image")
  check "$image: HEALTHCHECK ($hc)" test -n "$hc"
done
check "gateway image: HEALTHCHECK on /q/health/live" \
  docker run --rm --network none --entrypoint /bin/grep aurigraph-gateway:local -q /q/health/live /usr/local/bin/healthcheck
check "gateway image: --check-config of its default config" \
  docker run --rm --network none aurigraph-gateway:local --check-config
check "gateway image: a shell for debugging" docker run --rm --network none aurigraph-gateway:local sh -c 'id -u | grep -qx 10001'

# ---- 2. the gateway and the services in containers
free_port() { # a loopback TCP port nobody listens on
  local p
  while :; do
    p=$((20000 + RANDOM % 20000))
    ss -Hltn "sport = :$p" | grep -q . || { echo "$p"; return; }
  done
}
run() { # run NAME ARGS...: docker run -d, host network, hardened; remembered for cleanup
  local name=$1; shift
  containers+=("$name")
  docker run -d --name "$name" --network host --read-only --cap-drop ALL \
    --security-opt no-new-privileges "$@" >/dev/null
}
wait_health() { # wait_health CONTAINER SECONDS: until its HEALTHCHECK says healthy
  local deadline=$((SECONDS + $2)) s
  while [ $SECONDS -lt $deadline ]; do
    s=$(docker inspect -f '{{.State.Health.Status}}' "$1" 2>/dev/null)
    [ "$s" = healthy ] && return 0
    sleep 0.5
  done
  echo "$1: health $s"; docker logs "$1" 2>&1 | tail -n 5
  return 1
}
code() { curl -s -o /dev/null -w '%{http_code}' --max-time 10 "$@"; }
wait_code() { # wait_code WANT SECONDS CURL-ARGS...
  local want=$1 deadline=$((SECONDS + $2)); shift 2
  while [ $SECONDS -lt $deadline ]; do [ "$(code "$@")" = "$want" ] && return 0; sleep 0.2; done
  return 1
}

p="ag$$"
svc_port=$(free_port); gw_port=$(free_port); admin_port=$(free_port); grpc_port=$(free_port)
say "services on 127.0.0.1:$svc_port, gateway on 127.0.0.1:$gw_port (admin $admin_port)"
run "$p-svc" -e AURIGRAPH_LISTEN="127.0.0.1:$svc_port" aurigraph-services:local
# config by file (the upstream, from a mounted file) and by environment (the ports)
cat >"$work/gw.yaml" <<EOF
workers: 2
drain_timeout_ms: 20000
clusters:
  - name: default
    targets: ["127.0.0.1:$svc_port"]
    health: {interval_ms: 1000, healthy_threshold: 1}
EOF
chmod 644 "$work/gw.yaml"
run "$p-gw" -v "$work/gw.yaml:/etc/aurigraph/extra.yaml:ro" \
  -e AURIGRAPH_CONFIG="/etc/aurigraph/gateway.yaml /etc/aurigraph/extra.yaml" \
  -e AURIGRAPH_LISTEN="127.0.0.1:$gw_port" -e AURIGRAPH_ADMIN="127.0.0.1:$admin_port" \
  -e AURIGRAPH_LISTEN_GRPC="127.0.0.1:$grpc_port" aurigraph-gateway:local
G=http://127.0.0.1:$gw_port
check "gateway container: /q/health/ready 200" wait_code 200 20 "$G/q/health/ready"
check "gateway container: /q/health/live 200" test "$(code "$G/q/health/live")" = 200
check "gateway container: /q/health/started 200" test "$(code "$G/q/health/started")" = 200
check "gateway container: the upstream from the config file" \
  bash -c "curl -s '$G/q/health/ready' | grep -q '127.0.0.1:$svc_port'"
check "API through the container: GET /api/v11/consensus/status 200" \
  test "$(code "$G/api/v11/consensus/status")" = 200
post=$(code -X POST "$G/api/v11/transactions" -H 'content-type: application/json' \
  -d '{"userId":"alice","fromAddress":"0xa1","toAddress":"0xb2","amount":"12.50","transactionType":"TRANSFER"}')
check "API through the container: POST /api/v11/transactions 2xx ($post)" bash -c "[[ $post == 2?? ]]"
curl -s "$G/q/metrics" >"$work/metrics.txt"
check "gateway container: /q/metrics has http_requests_total" grep -q '^http_requests_total{' "$work/metrics.txt"
check "gateway container: /q/openapi describes the V11 routes" \
  bash -c "curl -s '$G/q/openapi?format=json' | jq -e '.paths[\"/api/v11/transactions\"].post.responses[\"202\"]' >/dev/null"
check "gateway container: Swagger UI on /q/swagger-ui/ (AURIGRAPH_SWAGGER_UI_DIR, the image's files)" \
  test "$(code "$G/q/swagger-ui/")" = 200
check "gateway container: the admin API on its port" test "$(code "http://127.0.0.1:$admin_port/admin/clusters")" = 200
check "gateway container: HEALTHCHECK healthy" wait_health "$p-gw" 40
check "services container: HEALTHCHECK (grpc.health.v1) healthy" wait_health "$p-svc" 40
check "gateway container: runs as 10001" bash -c "[ \"\$(docker exec $p-gw id -u)\" = 10001 ]"
check "gateway container: root filesystem read-only" bash -c "! docker exec $p-gw touch /x 2>/dev/null"

say "SIGTERM with 20 calls in flight"
slow_port=$(free_port); gw2_port=$(free_port); admin2_port=$(free_port); grpc2_port=$(free_port)
run "$p-slow" -e AURIGRAPH_LISTEN="127.0.0.1:$slow_port" -e AURIGRAPH_LATENCY_MS=1500 aurigraph-services:local
run "$p-gw2" -e AURIGRAPH_LISTEN="127.0.0.1:$gw2_port" -e AURIGRAPH_ADMIN="127.0.0.1:$admin2_port" \
  -e AURIGRAPH_LISTEN_GRPC="127.0.0.1:$grpc2_port" \
  -e AURIGRAPH_UPSTREAM="127.0.0.1:$slow_port" -e AURIGRAPH_WORKERS=2 aurigraph-gateway:local
G2=http://127.0.0.1:$gw2_port
if wait_code 200 20 "$G2/q/health/ready"; then
  ok
  mkdir -p "$work/inflight"
  cpids=()
  for i in $(seq 20); do
    curl -s -o /dev/null -w '%{http_code}\n' --max-time 30 "$G2/api/v11/consensus/status" >"$work/inflight/$i" &
    cpids+=($!)
  done
  sleep 0.5   # all 20 are waiting on the upstream's 1.5 s
  t0=$(date +%s%N)
  docker stop -t 40 "$p-gw2" >/dev/null
  stop_ms=$(( ($(date +%s%N) - t0) / 1000000 ))
  for c in "${cpids[@]}"; do wait "$c"; done
  answered=$(cat "$work/inflight"/* | grep -c '^200$')
  echo "docker stop took $stop_ms ms; $answered of 20 in-flight calls answered 200"
  check "drain: every in-flight call answered 200 ($answered/20)" test "$answered" = 20
  check "drain: exit code 0" test "$(docker inspect -f '{{.State.ExitCode}}' "$p-gw2")" = 0
  check "drain: the gateway says it drained on SIGTERM" bash -c "docker logs $p-gw2 2>&1 | grep -q 'SIGTERM, draining'"
  check "drain: done before drain_timeout_ms ($stop_ms ms)" test "$stop_ms" -lt 20000
else
  bad "slow gateway not ready"
fi
for c in "${containers[@]}"; do docker rm -f "$c" >/dev/null 2>&1; done
containers=()

# ---- 3. the staging stack
say "staging stack: docker-compose config"
check "docker-compose config" "${compose[@]}" config -q
"${compose[@]}" config >"$work/compose.resolved.yml" 2>/dev/null
check "docker-compose config: grafana only with its profile" python3 -c '
import sys, yaml
svc = yaml.safe_load(open(sys.argv[1]))["services"]
sys.exit(0 if svc["grafana"].get("profiles") == ["grafana"] and all(
    "profiles" not in v for k, v in svc.items() if k != "grafana") else 1)' "$work/compose.resolved.yml"
# the admin API on a port of its own: gateways that other tests on this
# machine start take the default 9005 whenever it is free
AG_STAGING_ADMIN_PORT=$(free_port)
AG_STAGING_GRPC_PORT=$(free_port) # likewise the gRPC listener's 9004
export AG_STAGING_ADMIN_PORT AG_STAGING_GRPC_PORT
ports=(9003 "$AG_STAGING_ADMIN_PORT" "$AG_STAGING_GRPC_PORT" 9101 9102 9103 6379 5432 9090 4318)
busy() { local q; for q in "${ports[@]}"; do ss -Hltn "sport = :$q" | grep -q . && echo "$q"; done; }
deadline=$((SECONDS + 60))
while [ -n "$(busy)" ] && [ $SECONDS -lt $deadline ]; do sleep 1; done
if [ -n "$(busy)" ]; then
  bad "staging ports in use by something else: $(busy | tr '\n' ' ')(the stack binds them as the release plan says)"
  summary; exit 1
fi
say "staging stack: up -d"
t0=$SECONDS
compose_up=1
if timeout 240 "${compose[@]}" up -d >"$work/up.log" 2>&1; then ok; else cat "$work/up.log"; bad "docker-compose up -d"; fi
echo "(up -d took $((SECONDS - t0)) s)"
"${compose[@]}" ps
# the release plan's two checks
check "release plan: curl localhost:9003/q/health answers 200" wait_code 200 60 localhost:9003/q/health
curl -s localhost:9003/api/v11/consensus/status >/dev/null
check "release plan: curl localhost:9003/q/metrics | grep http_requests_total" \
  bash -c 'curl -s localhost:9003/q/metrics | grep -q http_requests_total'
check "staging: GET /api/v11/consensus/status 200" test "$(code localhost:9003/api/v11/consensus/status)" = 200
check "staging: blue answers by default" bash -c \
  "curl -si localhost:9003/api/v11/consensus/status | tr -d '\r' | grep -qix 'x-upstream-version: blue'"
check "staging: x-canary: always reaches the canary" bash -c \
  "curl -si -H 'x-canary: always' localhost:9003/api/v11/consensus/status | tr -d '\r' | grep -qix 'x-upstream-version: canary'"
prom_up() {
  curl -s 'localhost:9090/api/v1/query?query=up%7Bjob%3D%22aurigraph-gateway%22%7D' |
    jq -e '.data.result[0].value[1] == "1"' >/dev/null
}
deadline=$((SECONDS + 40)); until prom_up || [ $SECONDS -ge $deadline ]; do sleep 1; done
check "staging: Prometheus scrapes the gateway (up == 1)" prom_up
nrules=$(curl -s localhost:9090/api/v1/rules | jq '[.data.groups[].rules[]] | length')
arules=$(grep -c -- '- alert:' deployment/prometheus/alerts.yml)
check "staging: Prometheus has our $arules alert rules (got $nrules)" test "$nrules" = "$arules"
r=$(docker exec "${compose_project}_redis_1" redis-cli -p 6379 ping 2>&1)
check "staging: Redis answers PONG ($r)" test "$r" = PONG
check "staging: Redis is 7.x" bash -c "docker exec ${compose_project}_redis_1 redis-cli info server | grep -q '^redis_version:7\.'"
pg() { PGPASSWORD=staging-only PGCONNECT_TIMEOUT=5 psql "host=127.0.0.1 port=5432 user=aurigraph dbname=aurigraph $1" -Atc "$2" 2>&1; }
deadline=$((SECONDS + 40)); until pg sslmode=require 'select 1' | grep -qx 1 || [ $SECONDS -ge $deadline ]; do sleep 1; done
v=$(pg sslmode=require 'show server_version')
check "staging: PostgreSQL 16 ($v)" bash -c "[[ '$v' == 16.* ]]"
s=$(pg sslmode=require 'select ssl from pg_stat_ssl where pid = pg_backend_pid()')
check "staging: PostgreSQL connection over SSL ($s)" test "$s" = t
check_fails "staging: PostgreSQL refuses a connection without SSL" bash -c "pg sslmode=disable 'select 1' | grep -qx 1"
check "staging: OTLP receiver takes a span" docker exec "${compose_project}_otlp-receiver_1" node /app/receiver.cjs send http://127.0.0.1:4318 docker-test-span
check "staging: the span is there" bash -c "curl -s localhost:4318/api/spans | jq -e '.spans | map(.name) | index(\"docker-test-span\")' >/dev/null"
canary=(deployment/k8s/canary --local "http://127.0.0.1:$AG_STAGING_ADMIN_PORT" --stable blue)
check "staging: canary rollout starts through the admin API" "${canary[@]}" start '{"to":"canary","steps":[10,50,100],"hold":"1h"}'
check "staging: canary at 10%" bash -c "${canary[*]} status | grep -q ' progressing 1 10 '"
check "staging: rollback through the admin API" "${canary[@]}" rollback
check "staging: canary rolled back" bash -c "${canary[*]} status | grep -q ' rolled_back '"
check "staging: promote" bash -c "${canary[*]} start >/dev/null && ${canary[*]} promote && ${canary[*]} wait 5"
check "staging: finish (stable 100, canary 0)" "${canary[@]}" finish
check "staging: blue answers again" bash -c \
  "curl -si localhost:9003/api/v11/consensus/status | tr -d '\r' | grep -qix 'x-upstream-version: blue'"
check "staging: grafana left out (its profile)" bash -c "[ -z \"\$(${compose[*]} ps -q grafana 2>/dev/null)\" ]"
for svc in gateway services-blue services-green services-canary redis postgres prometheus otlp-receiver; do
  check "staging: $svc healthy" wait_health "${compose_project}_${svc}_1" 40
done

say "staging stack: down -v"
t0=$SECONDS
if timeout 120 "${compose[@]}" down -v >"$work/down.log" 2>&1; then ok; else cat "$work/down.log"; bad "docker-compose down"; fi
compose_up=
echo "(down took $((SECONDS - t0)) s)"
check "staging: nothing left running" test -z "$(docker ps -aq)"
check "staging: no volume left" test -z "$(docker volume ls -q)"

echo "(docker stage: $((SECONDS - t_start)) s)"
summary
