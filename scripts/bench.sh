#!/usr/bin/env bash
# bench.sh BUILD_DIR: run every benchmark in BUILD_DIR (bench_*), one after
# the other. Each prints its own ratio to the limit measured in the same run.
set -uo pipefail
dir=${1:-build/cc}
status=0
for b in "$dir"/bench_*; do
    [[ -x "$b" ]] || continue
    echo "== $(basename "$b") =="
    "$b" || status=1
    echo
done
exit $status
