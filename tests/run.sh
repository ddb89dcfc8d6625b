#!/usr/bin/env bash
# run.sh: the whole test suite, as `make test` runs it.
#   1. normal build (gcc), every case
#   2. ASan+UBSan build, every case
#   3. TSan build, the bus and actor cases (SOCP_TSAN_FILTER)
#   4. clang build (warnings as errors) and a short libFuzzer run of each target
# Prints each stage's cases and one final "N passed, N failed" line for all.
set -uo pipefail
cd "$(dirname "$0")/.."

JOBS=${JOBS:-$(nproc)}
FUZZ_SECONDS=${FUZZ_SECONDS:-5}
TSAN_FILTERS=(${SOCP_TSAN_FILTER:-bus_ actor_})
total_pass=0
total_fail=0
log=$(mktemp)
failures=$(mktemp)
trap 'rm -f "$log" "$failures"' EXIT

stage() { printf '\n== %s ==\n' "$*"; }

# run_suite NAME CMD...: runs a selftest binary and adds its counts.
run_suite() {
    local name=$1; shift
    "$@" 2>&1 | tee "$log"
    # Keep each failed case with the lines it printed, for the summary: CI
    # may show only the tail of this output.
    awk -v stage="$name" '
        / \* [^ ]+: OK \(/ { n = 0; next }
        { held[n++] = $0; if (n > 40) { for (i = 1; i < n; i++) held[i - 1] = held[i]; n-- } }
        / \* [^ ]+: FAIL \(/ {
            name = $2; sub(/:$/, "", name); print "-- " stage ": " name
            for (i = 0; i < n; i++) print "   " held[i]
            n = 0
        }' "$log" >>"$failures"
    local line
    line=$(grep -E '^[0-9]+ passed, [0-9]+ failed$' "$log" | tail -1)
    if [[ -z "$line" ]]; then
        echo "!! $name: the runner did not finish"
        total_fail=$((total_fail + 1))
        return
    fi
    local p f
    p=${line%% passed*}; f=${line#*, }; f=${f%% failed*}
    total_pass=$((total_pass + p)); total_fail=$((total_fail + f))
}

# build_or_fail NAME make-args...: a failed build counts as one failure.
build_or_fail() {
    local name=$1; shift
    if ! make -s -j"$JOBS" "$@" >"$log" 2>&1; then
        cat "$log"
        echo "!! $name: build failed"
        total_fail=$((total_fail + 1))
        return 1
    fi
}

stage "normal build"
build_or_fail normal && run_suite normal build/cc/socp_tests

stage "ASan + UBSan"
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
build_or_fail asan SANITIZER=address && run_suite asan build/cc-address/socp_tests

stage "TSan (bus and actors)"
tsan_args=()
for f in "${TSAN_FILTERS[@]}"; do tsan_args+=(-t "$f"); done
export TSAN_OPTIONS=${TSAN_OPTIONS:-halt_on_error=1 second_deadlock_stack=1 suppressions=$PWD/tests/tsan.supp}
# TSan needs a low-entropy address space on kernels with mmap_rnd_bits > 28.
if build_or_fail tsan SANITIZER=thread; then
    run_suite tsan setarch "$(uname -m)" -R build/cc-thread/socp_tests "${tsan_args[@]}"
fi

stage "clang build and fuzz smoke (${FUZZ_SECONDS}s per target)"
if build_or_fail clang CC=clang; then
    if make -s -j"$JOBS" fuzz-build >"$log" 2>&1; then
        if scripts/fuzz.sh "$FUZZ_SECONDS" build/fuzz/fuzz_* ; then
            total_pass=$((total_pass + 1))
        else
            total_fail=$((total_fail + 1))
        fi
    else
        cat "$log"; echo "!! fuzz: build failed"; total_fail=$((total_fail + 1))
    fi
fi

stage "summary"
if [[ -s "$failures" ]]; then
    echo "failed cases, each with what it printed:"
    cat "$failures"
fi
echo "$total_pass passed, $total_fail failed"
[[ $total_fail -eq 0 ]]
