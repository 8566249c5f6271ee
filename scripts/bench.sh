#!/usr/bin/env bash
# bench.sh [dir] - runs the benchmarks of build/ (or dir/; make bench): bench/queue_bench, compute_bench, then every
# other benchmark program there (the GPU ones exit 77 without a GPU and are reported as skipped), then
# the CLI demo.
# With BENCH_SAVE=1 the output, headed by a description of the machine and the commit, is also written
# to bench/results/<date>-<host>[-N].txt (never overwriting an earlier log).
set -uo pipefail
cd "$(dirname "$0")/.."
b=${1:-build}

[ -x "$b"/bench/queue_bench ] || {
    echo "bench: $b/bench/queue_bench is missing (configured with -DRK_BUILD_BENCH=OFF?)" >&2
    exit 1
}

out=/dev/null
if [ "${BENCH_SAVE:-0}" = 1 ]; then
    mkdir -p bench/results
    base="bench/results/$(date +%Y-%m-%d)-$(hostname -s 2>/dev/null || echo host)"
    out="$base.txt" n=2
    while [ -e "$out" ]; do out="$base-$n.txt" n=$((n + 1)); done
fi

header() {
    echo "# RingKernel benchmarks, $(date -u +%Y-%m-%dT%H:%M:%SZ)"
    echo "# commit: $(git describe --always --dirty 2>/dev/null || echo unknown)"
    echo "# host: $(uname -srm), $(nproc) cores, $(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n 1)"
    echo "# compiler: $(cc --version | head -n 1)"
    if command -v nvidia-smi >/dev/null 2>&1; then
        nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader 2>/dev/null |
            sed 's/^/# gpu: /'
    fi
}

status=0
# run <label> <program> [args...]: runs one benchmark; 77 means skipped (no GPU).
run() {
    local label=$1 rc
    shift
    echo "## $label: $*"
    "$@"
    rc=$?
    case $rc in
        0) ;;
        77) echo "## $label: skipped (no device)" ;;
        *) echo "## $label: FAILED (exit $rc)" >&2; status=1 ;;
    esac
    echo
}

{
    header
    echo
    run queue "$b"/bench/queue_bench
    # compute.h on every backend (unavailable ones reported as skipped; small sizes on the CPU)
    run compute "$b"/bench/compute_bench cpu cuda vulkan
    for p in "$b"/bench/*; do
        [ -f "$p" ] && [ -x "$p" ] && [ "$p" != "$b/bench/queue_bench" ] && [ "$p" != "$b/bench/compute_bench" ] || continue
        run "$(basename "$p")" "$p"
    done
    run demo "$b"/cli/ringkernel demo
    exit "$status" # the group runs in a subshell (a pipeline): hand its status to PIPESTATUS
} 2>&1 | tee "$out"
status=${PIPESTATUS[0]}
[ "$out" != /dev/null ] && echo "bench: saved $out"
exit "$status"
