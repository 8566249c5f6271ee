#!/usr/bin/env bash
# fuzz.sh [seconds] [extra libFuzzer args...] - builds the kernel-language fuzz target (tests/fuzz) with
# clang into build-fuzz/ and runs it for `seconds` (default 60) over the seed corpus: every .rk file of the
# repository. New inputs libFuzzer finds stay in build-fuzz/corpus/ for the next run; a crash leaves its input
# in build-fuzz/crash-* and fails the run. The last lines are libFuzzer's final statistics
# (stat::number_of_executed_units is the execution count). `make test` runs it for a bounded time;
# by hand, e.g. `scripts/fuzz.sh 1800 -jobs=2` for a long campaign.
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:-60}
shift || true
dir=build-fuzz

if ! command -v clang >/dev/null 2>&1; then
    echo "fuzz: clang is not installed (scripts/deps.sh installs clang and libclang-rt-14-dev)" >&2
    exit 1
fi
mkdir -p "$dir"
cmake -S tests/fuzz -B "$dir" -DCMAKE_C_COMPILER=clang -DCMAKE_BUILD_TYPE=RelWithDebInfo >"$dir/configure.log" 2>&1 ||
    { cat "$dir/configure.log" >&2; exit 1; }
cmake --build "$dir" -j "$(nproc 2>/dev/null || echo 2)" >"$dir/build.log" 2>&1 || { tail -40 "$dir/build.log" >&2; exit 1; }

mkdir -p "$dir/corpus" "$dir/seeds"
find tests examples apps docs -name '*.rk' -type f -exec cp {} "$dir/seeds/" \; 2>/dev/null || true
echo "fuzz: $(ls "$dir/seeds" | wc -l) seed files, $(ls "$dir/corpus" | wc -l) corpus entries; running ${secs} s"
# -rss_limit_mb: the compiler's own memory limits sit far below it; -timeout: no input may take 10 s.
"$dir/frontend_fuzz" -max_total_time="$secs" -rss_limit_mb=2048 -timeout=10 -print_final_stats=1 \
    -artifact_prefix="$dir/" "$@" "$dir/corpus" "$dir/seeds" 2>"$dir/fuzz.log"
rc=$?
grep -E "^stat::(number_of_executed_units|average_exec_per_sec|new_units_added|peak_rss_mb)" "$dir/fuzz.log" || true
[ $rc -eq 0 ] || tail -60 "$dir/fuzz.log" >&2
exit $rc
