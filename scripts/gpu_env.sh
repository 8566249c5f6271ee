# gpu_env.sh - sourced by the device scripts (gpu_run.sh, gpu_vulkan.sh, gpu_quick.sh) on the lent GPU
# machine: the carried packages (.deps, made by scripts/gpu_deps.sh) on the search paths, and the NVIDIA
# Vulkan driver made reachable. Safe to source twice.
#
# Why the Vulkan part: the device image has the NVIDIA driver but neither the Vulkan loader nor libglvnd,
# and its Vulkan ICD manifest is outside the loader's search path. The first H200 run (c4c1ea4) got
# VK_ERROR_INCOMPATIBLE_DRIVER from vkCreateInstance: the loader found no driver. The device README's recipe:
# unpack the loader and GL dispatch packages (libvulkan1 libegl1 libglvnd0 libopengl0 libgl1 libglx0
# libgles2) into / and run ldconfig (the NVIDIA ICD, libGLX_nvidia.so.0, links libGLdispatch.so.0 from
# libglvnd), and point VK_DRIVER_FILES at the driver's manifest when the loader's default paths have none.
# Only these packages go into /; everything else stays under .deps/root.

if [ -d .deps/root/usr ]; then
  export CMAKE_PREFIX_PATH=$PWD/.deps/root/usr
  export LD_LIBRARY_PATH=$PWD/.deps/root/usr/lib/x86_64-linux-gnu:${LD_LIBRARY_PATH:-}
  export PATH=$PWD/.deps/root/usr/bin:$PATH # glslangValidator, spirv-val, vulkaninfo
fi

rk_gpu_vulkan_setup() {
  local icd
  if [ -d .deps/gl ] && ! ldconfig -p 2>/dev/null | grep -q 'libGLdispatch.so.0'; then
    for f in .deps/gl/*.deb; do dpkg -x "$f" /; done
    ldconfig
    echo "gpu_env: unpacked $(ls .deps/gl/*.deb | wc -l) loader/GL packages into / (ldconfig: $(ldconfig -p | grep -c -E 'libvulkan|libGLdispatch|libGLX\.') libraries)"
  fi
  if ! ls /usr/share/vulkan/icd.d/*nvidia* /etc/vulkan/icd.d/*nvidia* >/dev/null 2>&1; then
    for icd in /usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json /usr/share/vulkan/icd.d/nvidia_icd.x86_64.json \
               /usr/local/nvidia/vulkan/icd.d/nvidia_icd.json; do
      if [ -f "$icd" ]; then
        export VK_DRIVER_FILES=$icd VK_ICD_FILENAMES=$icd # the second for loaders older than 1.3.207
        export __EGL_VENDOR_LIBRARY_FILENAMES=/usr/local/nvidia/share/glvnd/egl_vendor.d/10_nvidia.json
        break
      fi
    done
  fi
  echo "gpu_env: VK_DRIVER_FILES=${VK_DRIVER_FILES:-<loader default>}"
  # The Khronos validation layer travels in .deps/root (found through LD_LIBRARY_PATH); the tests enable it
  # with RK_VK_VALIDATION=1 and fail on any message it prints. rk_gpu_vulkan_check_layer drops it if it
  # cannot load on this image.
  if [ -d .deps/root/usr/share/vulkan/explicit_layer.d ]; then
    export VK_LAYER_PATH=$PWD/.deps/root/usr/share/vulkan/explicit_layer.d
  fi
  echo "gpu_env: VK_LAYER_PATH=${VK_LAYER_PATH:-<none: no validation>}"
}

# rk_gpu_vulkan_check_layer <ringkernel tool>: a layer that is found but cannot load makes every Vulkan
# instance that asks for it fail, which would turn the whole Vulkan run into skips. Keep VK_LAYER_PATH only
# if a validated demo runs, or if the demo fails without the layer too (then the layer is not the cause).
rk_gpu_vulkan_check_layer() {
  [ -n "${VK_LAYER_PATH:-}" ] || return 0
  if ! RK_VK_VALIDATION=1 "$1" demo --backend vulkan -n 100 >/dev/null 2>&1 &&
     env -u VK_LAYER_PATH RK_VK_VALIDATION=0 "$1" demo --backend vulkan -n 100 >/dev/null 2>&1; then
    echo "gpu_env: the validation layer does not load here; Vulkan runs without it"
    unset VK_LAYER_PATH
  fi
}
