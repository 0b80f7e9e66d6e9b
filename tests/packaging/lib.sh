# shellcheck shell=bash
# tests/packaging/lib.sh: what the packaging tests share. Sourced.
#
# tests/lib.sh's harness (ok/bad/check, work, the clean-up at exit), with
# summary's last line "NAME: N passed, M failed"; src (the source tree);
# cache (build-packaging/, ignored by git:
# npm packages of the validators); work (a scratch folder, removed at exit
# unless a check failed); npm_tools (installs tests/packaging/package.json's
# packages into $cache/node once per lockfile and sets NODE_PATH).
set -uo pipefail

AG_SOURCE_DIR=${AG_SOURCE_DIR:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}
# the harness every shell test shares: ok/bad/check/give_up, work (kept on
# failure), pids and the clean-up at exit (cleanup_hook first)
source "$AG_SOURCE_DIR/tests/lib.sh"
cache=${AG_PACKAGING_CACHE:-$src/build-packaging}

# check_fails DESCRIPTION COMMAND...: the command must fail (bad input refused)
check_fails() {
  local what=$1; shift
  if "$@" >/dev/null 2>&1; then bad "$what (accepted)"; else ok; fi
}
# scripts/test reads "NAME: N passed, 0 failed" from these
summary() { echo "$test_name: $passed passed, $failed failed"; [ "$failed" = 0 ]; }
say() { echo "--- $*"; }
# a timeout (scripts/test runs these under `timeout`) or ^C still cleans up:
# the daemons this started are stopped by the EXIT trap
trap 'echo "$test_name: stopped by a signal"; failed=$((failed + 1)); exit 143' TERM INT

# npm_tools: the validators' npm packages (tests/packaging/package-lock.json)
npm_tools() {
  if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
    "$src/docker/install-deps" >/dev/null || return 1
  fi
  local dir=$cache/node
  mkdir -p "$dir"
  if ! cmp -s "$src/tests/packaging/package-lock.json" "$dir/.installed-lock" 2>/dev/null || [ ! -d "$dir/node_modules" ]; then
    cp "$src/tests/packaging/package.json" "$src/tests/packaging/package-lock.json" "$dir/"
    (cd "$dir" && rm -rf node_modules && npm ci --silent --ignore-scripts --no-audit --no-fund) || return 1
    cp "$src/tests/packaging/package-lock.json" "$dir/.installed-lock"
  fi
  export NODE_PATH=$dir/node_modules
}
