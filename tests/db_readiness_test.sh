#!/usr/bin/env bash
# db_readiness_test: the reference services with a database (--db-dsn): a
# real PostgreSQL on loopback (Debian's postgresql-15, run as its own user
# on a port picked here), and the gateway's readiness following it through
# grpc.health.v1: ready while the database answers, 503 soon after it
# stops, ready again when it is back; the API keeps
# answering throughout (only readiness moves). Also a DSN that never
# reaches a server, and a bad flag.
source "$(dirname "$0")/lib.sh"
need_binaries
need curl
pgbin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n1)
[ -x "$pgbin/initdb" ] || give_up "PostgreSQL's initdb is needed (scripts/install-deps: postgresql-15)"
id postgres >/dev/null 2>&1 || give_up "the postgres user is needed (Debian's postgresql package makes it)"
as_pg() { if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }

pg=$work/pg
mkdir -p "$pg" && chown postgres "$pg" 2>/dev/null
chmod 755 "$work"
as_pg "$pgbin/initdb" -D "$pg/data" --auth=trust -U postgres >"$work/initdb.log" 2>&1 || { cat "$work/initdb.log"; give_up "initdb failed"; }
pg_port=$((30000 + RANDOM % 20000))
pg_start() {
  as_pg "$pgbin/pg_ctl" -D "$pg/data" -l "$pg/log" -w -t 20 \
    -o "-c listen_addresses=127.0.0.1 -p $pg_port -k $pg" start >>"$work/pg_ctl.log" 2>&1
}
pg_stop() { as_pg "$pgbin/pg_ctl" -D "$pg/data" -m fast -w -t 20 stop >>"$work/pg_ctl.log" 2>&1; }
cleanup_hook() { pg_stop; }
# a random port can be one another test holds: a few tries, each on another
for try in 1 2 3 4 5; do
  pg_start && break
  [ "$try" = 5 ] && { cat "$work/pg_ctl.log" "$pg/log"; give_up "postgres did not start"; }
  pg_port=$((30000 + RANDOM % 20000))
done

dsn="host=127.0.0.1 port=$pg_port user=postgres dbname=postgres"
start_services svc --db-dsn "$dsn" || give_up "aurigraph-services did not start"
cat >"$work/gw.yaml" <<YAML
clusters:
  - name: default
    targets: ["127.0.0.1:$svc_port"]
    health: {interval_ms: 200, timeout_ms: 500, healthy_threshold: 1, unhealthy_threshold: 1}
YAML
start_gateway gw --config "$work/gw.yaml" || give_up "gateway did not start"
ready() { curl -s -o /dev/null -w '%{http_code}' --max-time 2 "$gw/q/health/ready"; }
api() { curl -s -o /dev/null -w '%{http_code}' --max-time 5 "$gw/api/v11/consensus/status"; }

check "ready while the database answers" wait_ready "$gw" 20 200
pg_stop
check "readiness 503 once the database stops (bounded: 15 s)" wait_ready "$gw" 15 503
check "the services say why" grep -q 'database unreachable: not serving' "$work/svc.err"
check "the API still answers meanwhile (HTTP $(api))" [ "$(api)" = 200 ]
pg_start || bad "postgres did not start again"
check "ready again once the database is back (bounded: 15 s)" wait_ready "$gw" 15 200
check "... and the services say so" grep -q 'database reachable: ready' "$work/svc.err"

# a database that is never there: not ready from the start, and nothing waits on it
closed=$((pg_port + 1))
start_services svc2 --db-dsn "host=127.0.0.1 port=$closed user=postgres connect_timeout=1" || give_up "services (no db) did not start"
printf 'clusters:\n  - {name: default, targets: ["127.0.0.1:%s"], health: {interval_ms: 200, timeout_ms: 500, healthy_threshold: 1, unhealthy_threshold: 1}}\n' \
  "$svc_port" >"$work/gw2.yaml"
start_gateway gw2 --config "$work/gw2.yaml" || give_up "gateway 2 did not start"
sleep 1
check "no database: readiness 503 (HTTP $(ready))" [ "$(ready)" = 503 ]
check "no database: the API answers all the same" [ "$(api)" = 200 ]
# the environment variable, the same as the flag
AURIGRAPH_DB_DSN="host=127.0.0.1 port=$pg_port user=postgres dbname=postgres" start_services svc3 || give_up "services (env) did not start"
printf 'clusters:\n  - {name: default, targets: ["127.0.0.1:%s"], health: {interval_ms: 200, timeout_ms: 500, healthy_threshold: 1, unhealthy_threshold: 1}}\n' \
  "$svc_port" >"$work/gw3.yaml"
start_gateway gw3 --config "$work/gw3.yaml" || give_up "gateway 3 did not start"
check "AURIGRAPH_DB_DSN: ready with the database" wait_ready "$gw" 20 200
"$services_bin" --db-dsn >"$work/bad.out" 2>&1; rc=$?
check "--db-dsn without a value refused (rc $rc)" [ "$rc" = 2 ]

summary
