#!/usr/bin/env bash
# gpu_deps.sh - prepares .deps/ for scripts/gpu_run.sh: the lent GPU machine has no apt and no cmocka, so
# the Debian packages are downloaded here and unpacked into .deps/root, which the device tool carries
# (run it with carry: [".deps"]). Idempotent.
set -euo pipefail
cd "$(dirname "$0")/.."
mkdir -p .deps/root
cd .deps
# The Vulkan backend builds on the device only with the loader's headers and the shader compiler there; it
# runs only if the device's NVIDIA driver ships its Vulkan ICD (otherwise the Vulkan tests skip, exit 77).
for p in libcmocka0 libcmocka-dev libvulkan1 libvulkan-dev glslang-tools spirv-tools; do
  ls ${p}_*.deb >/dev/null 2>&1 || apt-get download "$p"
done
for f in *.deb; do dpkg -x "$f" root; done
echo "gpu_deps: .deps/root ready ($(ls root/usr/lib/x86_64-linux-gnu | grep -c cmocka) cmocka files," \
     "$(ls root/usr/lib/x86_64-linux-gnu | grep -c libvulkan) Vulkan loader files)"
