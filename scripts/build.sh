#!/usr/bin/env bash
# build.sh - configures and builds one CMake build tree: scripts/build.sh <dir> [cmake configure args...]
#
# Quiet on success (one line), loud on failure: the configure log, or the build re-run serially so the
# first error is at the end of the output rather than interleaved with parallel jobs. Idempotent: it
# re-runs the configure step every time (cheap once cached) so changed arguments always take effect.
set -euo pipefail
cd "$(dirname "$0")/.."

# Under make, the caller's MAKEFLAGS would make the inner make print "Entering directory" lines.
unset MAKEFLAGS MFLAGS MAKELEVEL

dir=${1:?usage: scripts/build.sh <dir> [cmake args...]}
shift
jobs=$(nproc 2>/dev/null || echo 2)
mkdir -p "$dir"

if ! cmake -S . -B "$dir" "$@" >"$dir/configure.log" 2>&1; then
    echo "build: configuring $dir/ failed:" >&2
    cat "$dir/configure.log" >&2
    exit 1
fi
if ! cmake --build "$dir" -j "$jobs" >"$dir/build.log" 2>&1; then
    echo "build: building $dir/ failed (full log: $dir/build.log); re-running serially:" >&2
    cmake --build "$dir" -j 1 2>&1 | grep -vE '^\[ *[0-9]+%\] Built target ' | tail -n 150 >&2
    exit 1
fi
summary=$(sed -n 's/^-- RingKernel: //p' "$dir/configure.log" | tail -n 1)
echo "build: ok ($dir/${summary:+; $summary})"
