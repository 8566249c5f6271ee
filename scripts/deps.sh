#!/usr/bin/env bash
# deps.sh - installs the Debian packages the build and the tests need, only those missing.
#
# Idempotent: each package is checked with dpkg-query; apt-get update and apt-get install run only when
# something is missing, and say what they install. Runs apt-get directly as root, through sudo otherwise.
# On a system without dpkg/apt it only warns: the build may still work if the tools are installed.
set -euo pipefail

PACKAGES=(
    # Compilers and the build system.
    build-essential   # gcc, make, libc headers, libasan/libtsan/libubsan for the sanitizer builds
    cmake
    pkg-config        # the install test consumes ringkernel.pc
    # Test framework.
    libcmocka-dev
    # The kernel-language fuzz target (tests/fuzz, scripts/fuzz.sh): clang with libFuzzer and its sanitizers.
    clang
    libclang-rt-14-dev
    # The Vulkan backend: headers and the shader compiler at build time; the loader, Mesa's lavapipe CPU
    # driver and the validation layer for its tests (which then run on any machine, GPU or not).
    libvulkan-dev
    glslang-tools       # glslangValidator: GLSL compute shaders to SPIR-V
    spirv-tools         # spirv-val: every embedded SPIR-V module is validated at build time
    mesa-vulkan-drivers # lavapipe
    vulkan-validationlayers
    vulkan-tools        # vulkaninfo, to see what the loader finds
    # The Python package (python/): headers and setuptools to build it, pytest and numpy for its tests.
    python3-dev
    python3-setuptools
    python3-pytest
    python3-numpy
    # WaveSim (apps/wavesim): PNG frames.
    libpng-dev
)

if ! command -v dpkg-query >/dev/null 2>&1 || ! command -v apt-get >/dev/null 2>&1; then
    echo "deps: not a Debian-like system (no dpkg-query/apt-get); make sure these are installed:" \
         "${PACKAGES[*]}" >&2
    exit 0
fi

missing=()
for p in "${PACKAGES[@]}"; do
    status=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
    [ "$status" = "install ok installed" ] || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

if [ "$(id -u)" -eq 0 ]; then
    sudo=()
elif command -v sudo >/dev/null 2>&1; then
    sudo=(sudo)
else
    echo "deps: missing packages (${missing[*]}) and not root, and sudo is not available;" \
         "run as root: apt-get install ${missing[*]}" >&2
    exit 1
fi

echo "deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
log=$(mktemp "${TMPDIR:-/tmp}/rk-deps.XXXXXX")
trap 'rm -f "$log"' EXIT
if ! { "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -q &&
       "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends \
           "${missing[@]}"; } >"$log" 2>&1; then
    echo "deps: apt-get failed:" >&2
    cat "$log" >&2
    exit 1
fi
echo "deps: ok (installed ${missing[*]})"
