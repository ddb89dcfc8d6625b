#!/usr/bin/env bash
# run.sh BUILD_DIR: the README's main job. Until the client and server land
# (issues 4 and 5) it runs what is runnable: the actor bus benchmark.
set -euo pipefail
dir=${1:-build/cc}
echo "socp: the server and client are not built yet; running the actor bus benchmark." >&2
exec "$dir/bench_bus" --quick
