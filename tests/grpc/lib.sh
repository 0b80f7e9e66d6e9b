# tests/grpc/lib.sh: what the gRPC front door's shell tests share beside
# tests/lib.sh (source that first). Sourced, not run:
#
#   source "$(dirname "$0")/lib.sh"; source "$src/tests/grpc/lib.sh"; grpc_node || give_up ...
#
# grpc_node: installs tests/grpc/package.json's packages (@grpc/grpc-js,
# @grpc/proto-loader, grpc-reflection-js) with `npm ci` into
# $AG_GRPC_NODE_CACHE (default $build/grpc-node), only when the lockfile
# changed, and sets NODE_PATH. The install is under flock: ctest -j runs
# several of these tests at once and they share the folder.
# start_echo NAME [FLAGS...]: tests/grpc/echo-server.cjs on a free loopback
# port; sets echo_port, echo_pid.

grpc_dir=$src/tests/grpc

grpc_node() {
  command -v node >/dev/null && command -v npm >/dev/null || { echo "node and npm are needed (scripts/install-deps)"; return 1; }
  command -v flock >/dev/null || { echo "flock is needed (util-linux)"; return 1; }
  local dir=${AG_GRPC_NODE_CACHE:-$build/grpc-node}
  mkdir -p "$dir" || return 1
  (
    flock -w 600 9 || { echo "grpc_node: $dir/.lock held for 10 min"; exit 1; }
    if ! cmp -s "$grpc_dir/package-lock.json" "$dir/.installed-lock" 2>/dev/null || [ ! -d "$dir/node_modules" ]; then
      cp "$grpc_dir/package.json" "$grpc_dir/package-lock.json" "$dir/" || exit 1
      (cd "$dir" && rm -rf node_modules && timeout 600 npm ci --silent --ignore-scripts --no-audit --no-fund) || exit 1
      cp "$grpc_dir/package-lock.json" "$dir/.installed-lock"
    fi
  ) 9>"$dir/.lock" || return 1
  export NODE_PATH=$dir/node_modules
}

start_echo() { # start_echo NAME [FLAGS...]
  local name=$1; shift
  node "$grpc_dir/echo-server.cjs" "$@" >"$work/$name.out" 2>"$work/$name.err" &
  echo_pid=$!
  pids+=("$echo_pid")
  local line
  line=$(wait_line "$work/$name.out" 'echo-server listening on' 30) || { cat "$work/$name.err"; return 1; }
  echo_port=${line##*:}
}
