#!/usr/bin/env bash
# test.sh [dir] - the test run behind `make test`, after the main tree dir (default build) is built:
#   main  build/       every test (labels unit, stress, install, example, python: the pytest suite of the
#                      Python package, gpu: skipped without a GPU)
#   asan  build-asan/  the unit tests under AddressSanitizer + UndefinedBehaviorSanitizer
#   tsan  build-tsan/  the unit tests under ThreadSanitizer
#   fuzz  build-fuzz/  the kernel-language compiler under libFuzzer for a bounded time (scripts/fuzz.sh)
# (both with the Vulkan tests too, label vulkan: they run on lavapipe where there is no GPU)
# (with another dir: dir/, dir-asan/, dir-tsan/).
# The sanitizer trees leave out the CUDA backend and the benchmarks (build time). Every suite runs even if
# an earlier one failed; the last line adds up the three (counts from ctest's JUnit reports) and the exit
# status is non-zero if any test failed or any build failed.
set -uo pipefail
cd "$(dirname "$0")/.."

# Any sanitizer report fails the test: ASan/TSan exit non-zero after the first report, UBSan is built
# with -fno-sanitize-recover=all. The caller's own options come last and win.
export ASAN_OPTIONS="halt_on_error=1:detect_leaks=1:check_initialization_order=1${ASAN_OPTIONS:+:$ASAN_OPTIONS}"
export UBSAN_OPTIONS="halt_on_error=1:print_stacktrace=1${UBSAN_OPTIONS:+:$UBSAN_OPTIONS}"
export TSAN_OPTIONS="halt_on_error=1:second_deadlock_stack=1:suppressions=$PWD/tests/tsan.supp${TSAN_OPTIONS:+:$TSAN_OPTIONS}"

total_pass=0 total_fail=0 total_skip=0 status=0
parts=()

# attr <file> <name>: the value of attribute name="..." on the <testsuite> element of a JUnit report.
attr() { tr '\n\t' '  ' <"$1" | sed -n "s/.*<testsuite[^>]*[[:space:]]$2=\"\([0-9]*\)\".*/\1/p"; }

# suite <name> <dir> [ctest args...]: runs ctest in dir, prints one line, adds to the totals.
suite() {
    local name=$1 dir=$2; shift 2
    local junit="$PWD/$dir/ctest-junit.xml" log="$dir/ctest.log" rc t0 t1
    rm -f "$junit"
    echo "test: $name suite ($dir/${*:+, $*}) ..."
    t0=$(date +%s)
    # setarch -R (no ASLR) keeps TSan working on kernels with large mmap randomisation; harmless elsewhere.
    local wrap=()
    if [ "$name" = tsan ] && setarch "$(uname -m)" -R true 2>/dev/null; then
        wrap=(setarch "$(uname -m)" -R)
    fi
    "${wrap[@]}" ctest --test-dir "$dir" --output-on-failure --no-tests=error --output-junit "$junit" "$@" \
        >"$log" 2>&1
    rc=$?
    t1=$(date +%s)
    if [ ! -s "$junit" ]; then
        echo "test: $name: ctest produced no report (exit $rc):" >&2
        cat "$log" >&2
        total_fail=$((total_fail + 1)) status=1
        parts+=("$name: no report")
        return
    fi
    local tests fail skip dis run pass note=""
    tests=$(attr "$junit" tests) fail=$(attr "$junit" failures)
    skip=$(attr "$junit" skipped) dis=$(attr "$junit" disabled)
    skip=$((${skip:-0} + ${dis:-0}))
    run=$((${tests:-0} - skip)) pass=$((${tests:-0} - skip - ${fail:-0}))
    if [ "$rc" -ne 0 ] || [ "${fail:-0}" -ne 0 ]; then
        # The log without the lines of passing tests: failures with their output, and ctest's summary.
        grep -vE '^ *Start +[0-9]+: |Test +#[0-9]+: .* Passed ' "$log" >&2
        status=1
        if [ "${fail:-0}" -eq 0 ]; then
            fail=1 # ctest failed without a failing test (no tests found, crash): count it anyway
            note=" (ctest exit $rc)"
        fi
    fi
    local skipped
    skipped=$(sed -n 's/.*<testcase name="\([^"]*\)".*status="\(notrun\|disabled\)".*/\1/p' "$junit" | tr '\n' ' ')
    echo "test: $name: $pass/$run passed${fail:+, $fail failed}${skipped:+, skipped: ${skipped% }} ($((t1 - t0)) s)" |
        sed 's/, 0 failed//'
    total_pass=$((total_pass + pass)) total_fail=$((total_fail + fail)) total_skip=$((total_skip + skip))
    local part="$name $pass/$run"
    [ "$skip" -gt 0 ] && part="$part+$skip skipped"
    parts+=("$part$note")
}

# sanitized <name> <dir> <sanitizer>: builds a sanitizer tree and runs its unit tests.
sanitized() {
    local name=$1 dir=$2 san=$3
    if scripts/build.sh "$dir" -DRK_SANITIZE="$san" -DRK_WITH_CUDA=OFF -DRK_BUILD_BENCH=OFF; then
        suite "$name" "$dir" -L '^(unit|vulkan)$'
    else
        total_fail=$((total_fail + 1)) status=1
        parts+=("$name build failed")
    fi
}

# fuzz: the kernel-language compiler under libFuzzer (tests/fuzz) for RK_FUZZ_SECONDS (default 45): one test.
fuzz() {
    local secs=${RK_FUZZ_SECONDS:-45} log=build-fuzz/test.log t0 t1
    mkdir -p build-fuzz
    echo "test: fuzz (build-fuzz/, ${secs} s) ..."
    t0=$(date +%s)
    if scripts/fuzz.sh "$secs" >"$log" 2>&1; then
        t1=$(date +%s)
        echo "test: fuzz: 1/1 passed, $(sed -n 's/^stat::number_of_executed_units: *//p' "$log") executions," \
             "no crash ($((t1 - t0)) s)"
        total_pass=$((total_pass + 1))
        parts+=("fuzz 1/1")
    else
        cat "$log" >&2
        total_fail=$((total_fail + 1)) status=1
        parts+=("fuzz 0/1")
    fi
}

main=${1:-build}
suite main "$main"
sanitized asan "$main-asan" address
sanitized tsan "$main-tsan" thread
fuzz

joined=$(printf '%s, ' "${parts[@]}")
echo "TOTAL: $total_pass passed, $total_fail failed, $total_skip skipped (${joined%, })"
exit $status
