# shellcheck shell=bash
# tests/packaging/lib.sh: what the packaging tests share. Sourced.
#
# ok/bad/check and summary (the last line: "N passed, M failed", and the exit
# status); src (the source tree); cache (build-packaging/, ignored by git:
# npm packages of the validators); work (a scratch folder, removed at exit
# unless a check failed); npm_tools (installs tests/packaging/package.json's
# packages into $cache/node once per lockfile and sets NODE_PATH).
set -uo pipefail

src=${AG_SOURCE_DIR:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}
cache=${AG_PACKAGING_CACHE:-$src/build-packaging}
test_name=$(basename "$0" .sh)

passed=0
failed=0
ok() { passed=$((passed + 1)); }
bad() { failed=$((failed + 1)); echo "FAIL: $*"; }
check() { # check DESCRIPTION COMMAND...
  local what=$1; shift
  if "$@"; then ok; else bad "$what"; fi
}
# check_fails DESCRIPTION COMMAND...: the command must fail (bad input refused)
check_fails() {
  local what=$1; shift
  if "$@" >/dev/null 2>&1; then bad "$what (accepted)"; else ok; fi
}
summary() { echo "$test_name: $passed passed, $failed failed"; [ "$failed" = 0 ]; }
give_up() { bad "$1"; summary; exit 1; }
say() { echo "--- $*"; }

work=$(mktemp -d)
_lib_cleanup() {
  if declare -F cleanup_hook >/dev/null; then cleanup_hook; fi
  if [ "$failed" -gt 0 ]; then
    local keep=${TMPDIR:-/tmp}/$test_name.failed.$$
    rm -rf "$keep" && mv "$work" "$keep" && echo "outputs kept in $keep"
  else
    rm -rf "$work"
  fi
}
trap _lib_cleanup EXIT
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
