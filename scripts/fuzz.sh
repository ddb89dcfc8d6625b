#!/usr/bin/env bash
# fuzz.sh SECONDS FUZZER...: run each libFuzzer target for SECONDS on a copy
# of its committed seed corpus (fuzz/corpus/<name>/); fails if any crashes.
# Then the socket fuzzer: an ASan+UBSan socpd driven over 127.0.0.1 for
# SECONDS by the socpd_fuzz_socket case (tests/socpd_fuzz_test.c), unless
# SOCPD_SOCKET_FUZZ=0.
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
if [[ "${SOCPD_SOCKET_FUZZ:-1}" != 0 ]]; then
    asan=${SOCPD_FUZZ_BUILD:-build/cc-address}
    out=$(mktemp)
    if ! make -s -j"${JOBS:-$(nproc)}" BUILD="$asan" SANITIZER=address >"$out" 2>&1; then
        echo " * socpd socket fuzz: build failed"; tail -20 "$out"; status=1
    else
        export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1}
        export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
        secs_sock=$(( secs < 3 ? 3 : secs ))
        if SOCPD_FUZZ_SECONDS=$secs_sock "$asan/socp_tests" -t socpd_fuzz_socket >"$out" 2>&1 \
                && grep -q '^1 passed, 0 failed' "$out"; then
            echo " * socpd socket fuzz: OK ($(grep -oE '[0-9]+ connections, [0-9]+ frames' "$out" | tail -1) in ${secs_sock}s)"
        else
            echo " * socpd socket fuzz: FAIL"; grep -vE '^[0-9:.]+ (WARN|INFO)' "$out" | tail -60; status=1
        fi
    fi
    rm -f "$out"
fi
exit $status
