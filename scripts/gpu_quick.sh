#!/usr/bin/env bash
# gpu_quick.sh - a quick GPU iteration on a lent H200 (device tool), for tuning the CUDA loops: builds the
# library, the GPU tests and gpu_latency, and a profile build of gpu_phase, in parallel (about a minute);
# runs gpu_phase, gpu_latency --quick and the CUDA tests; with LAB=1 also bench/ll_lab.cu. Logs go to $OUT.
# Not evidence: scripts/gpu_run.sh is the full run whose log is committed. Needs .deps/root (gpu_deps.sh).
set -uo pipefail
out=${OUT:-/tmp/out}; mkdir -p $out
# shellcheck source=scripts/gpu_env.sh
. scripts/gpu_env.sh
nvidia-smi --query-gpu=name,driver_version,clocks.sm --format=csv
nvcc -O3 -arch=sm_90 -Iinclude -o /tmp/ll_lab bench/ll_lab.cu
(cmake -S . -B build-gpu -DCMAKE_BUILD_TYPE=RelWithDebInfo -DRK_BUILD_PYTHON=OFF > $out/cmake.log 2>&1 && cmake --build build-gpu -j16 --target gpu_latency cuda_test runtime_test k2k_cuda_test > $out/build.log 2>&1; echo build rc $?) &
(cmake -S . -B build-gpu-prof -DRK_DEVICE_PROFILE=ON -DRK_BUILD_TESTS=OFF -DRK_BUILD_EXAMPLES=OFF -DRK_BUILD_PYTHON=OFF > $out/cmake-prof.log 2>&1 && cmake --build build-gpu-prof -j16 --target gpu_phase > $out/build-prof.log 2>&1; echo prof build rc $?) &
[ -n "${LAB:-}" ] && /tmp/ll_lab 100000 2>&1 | tee $out/ll_lab.txt
wait
tail -5 $out/build.log
build-gpu-prof/bench/gpu_phase 100000 2>&1 | tee $out/phase.txt
build-gpu/bench/gpu_latency --quick > $out/lat.txt 2>&1; echo "gpu_latency rc $?"
cd build-gpu && timeout 300 ctest -R "runtime_cuda|^cuda$|k2k_cuda" --output-on-failure 2>&1 | tail -15

