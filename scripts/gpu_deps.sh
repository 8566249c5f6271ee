#!/usr/bin/env bash
# gpu_deps.sh - prepares .deps/ for the device scripts (gpu_run.sh, gpu_vulkan.sh, gpu_quick.sh): the lent
# GPU machine has no apt and no cmocka, so the Debian packages are downloaded here and unpacked into
# .deps/root, which the device tool carries (run them with carry: [".deps"]). Idempotent.
#
# Size: the device tool carries at most 64 MiB (working tree included), so the .deb files wait in
# .deps-debs/ (ignored, not carried) and the unpacked tree keeps only what the device uses: the loader and
# its headers, glslangValidator, spirv-val, cmocka and the validation layer (about 45 MiB).
set -euo pipefail
cd "$(dirname "$0")/.."
mkdir -p .deps/root .deps-debs
mv .deps/*.deb .deps-debs/ 2>/dev/null || true # an older layout kept them in .deps
cd .deps-debs
# The Vulkan backend builds on the device only with the loader's headers and the shader compiler there
# (glslangValidator is also what compiles .rk compute kernels at run time); the validation layer lets the
# Vulkan tests run validated against the NVIDIA driver as they do on lavapipe.
for p in libcmocka0 libcmocka-dev libvulkan1 libvulkan-dev glslang-tools spirv-tools vulkan-validationlayers; do
  ls ${p}_*.deb >/dev/null 2>&1 || apt-get download "$p"
done
for f in *.deb; do dpkg -x "$f" ../.deps/root; done
cd ../.deps
rm -rf root/usr/share/doc root/usr/share/man root/usr/share/vulkan/registry root/usr/lib/x86_64-linux-gnu/*.a
for b in root/usr/bin/*; do
  case ${b##*/} in glslangValidator|spirv-val) ;; *) rm -f "$b" ;; esac
done
# The NVIDIA Vulkan driver needs the loader and libglvnd's dispatch libraries installed in / (gpu_env.sh
# unpacks these there on the device: the device README's recipe). amd64 packages whatever this machine
# is, from their own package lists so this machine's apt state is untouched.
mkdir -p gl /tmp/rk-amd64-lists/partial
apt_amd64=(-oAPT::Architecture=amd64 -oAPT::Architectures=amd64 -oDir::State::Lists=/tmp/rk-amd64-lists)
gl_pkgs=(libvulkan1 libegl1 libglvnd0 libopengl0 libgl1 libglx0 libgles2)
missing=()
for p in "${gl_pkgs[@]}"; do ls gl/${p}_*.deb >/dev/null 2>&1 || missing+=("$p"); done
if [ ${#missing[@]} -gt 0 ]; then
  apt-get "${apt_amd64[@]}" update >/dev/null
  (cd gl && apt-get "${apt_amd64[@]}" download "${missing[@]}")
fi
echo "gpu_deps: .deps ready: $(ls root/usr/lib/x86_64-linux-gnu | grep -c cmocka) cmocka files," \
     "$(ls root/usr/lib/x86_64-linux-gnu | grep -c libvulkan) Vulkan loader files," \
     "$(ls root/usr/lib/x86_64-linux-gnu | grep -c VkLayer) validation layer, $(ls gl/*.deb | wc -l) GL/loader" \
     "packages for /; $(du -sm . | cut -f1) MiB to carry"
