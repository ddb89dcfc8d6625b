#!/usr/bin/env bash
# fuzz.sh SECONDS FUZZER...: run each libFuzzer target for SECONDS on a copy
# of its committed seed corpus (fuzz/corpus/<name>/); fails if any crashes.
set -uo pipefail
secs=$1; shift
status=0
for f in "$@"; do
    [[ -x "$f" ]] || continue
    name=$(basename "$f")
    seeds="fuzz/corpus/${name#fuzz_}"
    work=$(mktemp -d)
    [[ -d "$seeds" ]] && cp -r "$seeds"/. "$work"/ 2>/dev/null
    out=$(mktemp)
    if "$f" -max_total_time="$secs" -print_final_stats=1 -max_len=65536 -timeout=10 -rss_limit_mb=2048 \
           -artifact_prefix="$work/" "$work" >"$out" 2>&1; then
        echo " * $name: OK ($(grep -oE 'stat::number_of_executed_units: *[0-9]+' "$out" | grep -oE '[0-9]+$' || echo '?') runs in ${secs}s)"
    else
        echo " * $name: FAIL"
        tail -40 "$out"
        mkdir -p build/fuzz-artifacts && cp "$work"/crash-* "$work"/leak-* "$work"/timeout-* build/fuzz-artifacts/ 2>/dev/null
        status=1
    fi
    rm -rf "$work" "$out"
done
exit $status
