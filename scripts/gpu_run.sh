#!/usr/bin/env bash
# gpu_run.sh - the GPU evidence run on a lent H200 (device tool): build, GPU tests, compute-sanitizer,
# benchmarks. Writes logs under $OUT (or ./gpu-out). Usage: scripts/gpu_run.sh [quick]
# Before the first run in a checkout: scripts/gpu_deps.sh (cmocka for the device), then run this with
# the device tool, carrying .deps.
set -uo pipefail
cd "$(dirname "$0")/.."
out=${OUT:-$PWD/gpu-out}
mkdir -p "$out"
log=$out/gpu_run.log
exec > >(tee "$log") 2>&1
say() { printf '\n=== %s\n' "$*"; }

# cmocka and the Vulkan loader are not on the device image: the packages travel in .deps (carried).
# shellcheck source=scripts/gpu_env.sh
. scripts/gpu_env.sh
say "machine"
date -u; nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.sm,clocks.mem --format=csv
nvcc --version | tail -2
echo "commit: ${RK_GIT_COMMIT:-$(git rev-parse --verify -q HEAD 2>/dev/null || echo unknown)} (pass RK_GIT_COMMIT=<id> in the device command: its copy has no .git)"
rk_gpu_vulkan_setup # the NVIDIA Vulkan driver: loader and libglvnd into /, VK_DRIVER_FILES (gpu_env.sh)

say "build"
# The image's python3 (a venv with pytest and numpy) builds and tests the Python package (python_cuda).
cmake -S . -B build-gpu -DCMAKE_BUILD_TYPE=RelWithDebInfo -DRK_PYTHON="$(command -v python3)" > "$out/cmake.log" 2>&1 || { cat "$out/cmake.log"; exit 1; }
cmake --build build-gpu -j16 > "$out/build.log" 2>&1 || { tail -50 "$out/build.log"; exit 1; }
echo "build ok"
rk_gpu_vulkan_check_layer build-gpu/cli/ringkernel

say "ringkernel info / demo"
build-gpu/cli/ringkernel info
build-gpu/cli/ringkernel demo -n 100000
# Vulkan on the GPU when the driver ships its Vulkan ICD (the line says why not otherwise).
build-gpu/cli/ringkernel demo --backend vulkan -n 20000 || echo "(Vulkan demo unavailable here)"

say "GPU tests (ctest -L gpu)"
(cd build-gpu && timeout 360 ctest -L gpu --output-on-failure -V 2>&1 | grep -vE "^\s*$" | tail -200)

say "whole suite (ctest, no stress)"
(cd build-gpu && ctest -j8 -LE "stress|gpu" --output-on-failure 2>&1 | tail -25)

if [ "${1:-}" != "quick" ]; then
  say "compute-sanitizer memcheck (cuda_test, RK_GPU_QUICK=1)"
  RK_GPU_SANITIZER=1 RK_GPU_QUICK=1 timeout 180 compute-sanitizer --tool memcheck --leak-check full --error-exitcode 3 build-gpu/tests/cuda_test 2>&1 | tail -25
  echo "memcheck exit: ${PIPESTATUS[0]}"
  say "compute-sanitizer racecheck (cuda_test, RK_GPU_QUICK=1)"
  RK_GPU_SANITIZER=1 RK_GPU_QUICK=1 timeout 150 compute-sanitizer --tool racecheck --error-exitcode 3 build-gpu/tests/cuda_test 2>&1 | tail -25
  echo "racecheck exit: ${PIPESTATUS[0]}"
  say "compute-sanitizer memcheck + racecheck (k2k_cuda_test one-kernel tests, RK_GPU_SANITIZER=1 RK_GPU_QUICK=1)"
  RK_GPU_SANITIZER=1 RK_GPU_QUICK=1 timeout 200 compute-sanitizer --tool memcheck --leak-check full --error-exitcode 3 build-gpu/tests/k2k_cuda_test 2>&1 | tail -12
  echo "k2k memcheck exit: ${PIPESTATUS[0]}"
  RK_GPU_SANITIZER=1 RK_GPU_QUICK=1 timeout 200 compute-sanitizer --tool racecheck --error-exitcode 3 build-gpu/tests/k2k_cuda_test 2>&1 | tail -12
  echo "k2k racecheck exit: ${PIPESTATUS[0]}"
  say "compute-sanitizer memcheck (litmus, 200k messages)"
  timeout 90 compute-sanitizer --tool memcheck --error-exitcode 3 build-gpu/tests/litmus_test 200000 2>&1 | tail -8
  echo "litmus memcheck exit: ${PIPESTATUS[0]}"
  say "compute-sanitizer memcheck + racecheck (cuda_compute_test: NVRTC programs, shared-memory stencil tiles)"
  RK_GPU_SANITIZER=1 timeout 300 compute-sanitizer --tool memcheck --leak-check full --error-exitcode 3 build-gpu/tests/cuda_compute_test 2>&1 | tail -12
  echo "cuda_compute memcheck exit: ${PIPESTATUS[0]}"
  RK_GPU_SANITIZER=1 timeout 300 compute-sanitizer --tool racecheck --error-exitcode 3 build-gpu/tests/cuda_compute_test 2>&1 | tail -12
  echo "cuda_compute racecheck exit: ${PIPESTATUS[0]}"
fi

say "round-trip phase profile (diagnostic build, -DRK_DEVICE_PROFILE=ON)"
if cmake -S . -B build-gpu-prof -DRK_DEVICE_PROFILE=ON -DRK_BUILD_TESTS=OFF -DRK_BUILD_EXAMPLES=OFF > "$out/cmake-prof.log" 2>&1 &&
   cmake --build build-gpu-prof -j16 --target gpu_phase > "$out/build-prof.log" 2>&1; then
  build-gpu-prof/bench/gpu_phase 100000
else
  tail -20 "$out/build-prof.log"
fi

say "ll_lab: the LL encoding without the framework (diagnostic, bench/ll_lab.cu)"
build-gpu/bench/ll_lab 100000

say "benchmark gpu_latency"
RK_GIT_COMMIT=$(git rev-parse --short HEAD 2>/dev/null) build-gpu/bench/gpu_latency ${1:+--quick} --json "$out/gpu_latency.json" 2>&1 | tee "$out/gpu_latency.txt"
say "benchmark python/bench/overhead.py --backend cuda (Python vs C, same kernel, same process)"
PYTHONPATH=build-gpu/python timeout 240 python3 python/bench/overhead.py --backend cuda --n 20000 --rounds 3 2>&1 | tee "$out/python_overhead.txt"
say "benchmark k2k_bench (CPU sections on this host, then the GPU section)"
timeout 300 build-gpu/bench/k2k_bench ${1:+--quick} --json "$out/k2k_bench.json" 2>&1 | tee "$out/k2k_bench.txt"
say "benchmark compute_bench (compute.h: the same .rk kernels on cpu, cuda, vulkan; copy rooflines of each)"
timeout 400 build-gpu/bench/compute_bench cpu cuda vulkan --json "$out/compute_bench.json" 2>&1 | tee "$out/compute_bench.txt"
say "WaveSim on the GPU (apps/wavesim: the same wave.rk through compute.h; images, WAV, CSV under \$OUT/wave*)"
for b in cuda vulkan cpu; do
  g=256; [ "$b" = cpu ] && g=96
  timeout 120 build-gpu/apps/wavesim/ringkernel-wavesim3d --backend $b --grid $g --steps 600 --frames 2 \
    --out "$out/wave3d-$b" 2>&1 | tail -3
done
timeout 60 build-gpu/apps/wavesim/ringkernel-wavesim2d --backend cuda --grid 1024 --steps 2000 --frames 2 \
  --out "$out/wave2d-cuda" 2>&1 | tail -3
ls -la "$out"/wave3d-cuda "$out"/wave2d-cuda 2>&1 | head -20
say "done"
