#!/usr/bin/env bash
# gpu_vulkan.sh - the Vulkan suite against the NVIDIA driver on a lent H200 (device tool): builds the
# library and the Vulkan tests, then runs `ringkernel info` (the NVIDIA device must be listed), the Vulkan
# demo, vulkan_test, the runtime suite on Vulkan, vulkan_compute_test and the compute conformance program on Vulkan, all under
# the validation layer where it loads. Logs go to $OUT (or ./gpu-out). Needs .deps (scripts/gpu_deps.sh),
# carried. Exit status: 0 when every step passed, 1 otherwise (a skip, exit 77, counts as a failure here:
# on the H200 the Vulkan device must be there).
set -uo pipefail
cd "$(dirname "$0")/.."
out=${OUT:-$PWD/gpu-out}
mkdir -p "$out"
exec > >(tee "$out/gpu_vulkan.log") 2>&1
say() { printf '\n=== %s\n' "$*"; }
# shellcheck source=scripts/gpu_env.sh
. scripts/gpu_env.sh
fail=0

say "machine"
date -u; nvidia-smi --query-gpu=name,driver_version --format=csv
echo "commit: ${RK_GIT_COMMIT:-unknown} (pass RK_GIT_COMMIT=<id>: the device copy has no .git)"
rk_gpu_vulkan_setup

say "build (no CUDA: only the Vulkan side is under test here)"
cmake -S . -B build-vk -DCMAKE_BUILD_TYPE=RelWithDebInfo -DRK_WITH_CUDA=OFF -DRK_BUILD_BENCH=OFF \
      -DRK_BUILD_PYTHON=OFF > "$out/vk-cmake.log" 2>&1 || { tail -40 "$out/vk-cmake.log"; exit 1; }
grep 'RingKernel:' "$out/vk-cmake.log"
# Only what the Vulkan steps run (the rest of the tree is gpu_run.sh's).
vk_targets=(ringkernel_cli runtime_test vulkan_test vulkan_compute_test)
[ -f tests/compute/compute_conformance.c ] && vk_targets+=(compute_conformance)
cmake --build build-vk -j16 --target "${vk_targets[@]}" > "$out/vk-build.log" 2>&1 ||
  { tail -50 "$out/vk-build.log"; exit 1; }
echo "build ok"

rk_gpu_vulkan_check_layer build-vk/cli/ringkernel
echo "validation layer: ${VK_LAYER_PATH:+on ($VK_LAYER_PATH)}${VK_LAYER_PATH:-off}"
export RK_VK_VALIDATION=1 RK_VK_CACHE_DIR=$PWD/build-vk/vk-cache
say "ringkernel info"
build-vk/cli/ringkernel info | tee "$out/info.txt"
if ! grep -E '^  vulkan:[0-9]+ .*NVIDIA' "$out/info.txt" >/dev/null; then
  echo "FAIL: no NVIDIA Vulkan device listed; the loader says:"
  VK_LOADER_DEBUG=error,warn,driver build-vk/cli/ringkernel info 2>&1 | grep -i -E 'driver|icd|error|warn' | head -40
  fail=1
fi

say "ringkernel demo --backend vulkan"
build-vk/cli/ringkernel demo --backend vulkan -n 20000 || fail=1

say "Vulkan tests (ctest -L vulkan: vulkan, vulkan_validation_counts, runtime_vulkan, vulkan_compute, compute_conformance_vulkan)"
(cd build-vk && timeout 400 ctest -L vulkan --output-on-failure -V --output-junit "$out/vk-junit.xml" 2>&1 |
  grep -vE '^\s*$' > "$out/vk-ctest.log"; exit "${PIPESTATUS[0]}") || fail=1
grep -E 'SKIPPED|FAILED|PASSED|rk-vulkan-validation|Test +#|tests passed' "$out/vk-ctest.log" | tail -60
# CTest counts exit 77 as skipped, not failed: on this machine a skip means the device was not found.
if grep -q -E '\*\*\*Skipped|Not Run' "$out/vk-ctest.log"; then
  echo "FAIL: a Vulkan test skipped (exit 77): no usable Vulkan device"
  fail=1
fi

say "done: $([ $fail = 0 ] && echo PASS || echo FAIL)"
exit $fail
