# The CUDA backend: host code in C against the CUDA runtime API, built-in actors in CUDA C++.
# sm_90 machine code plus compute_90 PTX (so newer GPUs JIT it). cudart is linked statically, so the
# library loads on machines without a driver and reports why CUDA is unavailable.
target_sources(rk_objects PRIVATE
  ${CMAKE_CURRENT_LIST_DIR}/cuda_backend.c
  ${CMAKE_CURRENT_LIST_DIR}/cuda_compute.c
  ${CMAKE_CURRENT_LIST_DIR}/cuda_actors.cu)
set_source_files_properties(${CMAKE_CURRENT_LIST_DIR}/cuda_actors.cu PROPERTIES LANGUAGE CUDA)
# NVRTC is opened at run time (cuda_compute.c); the toolkit's library directory is one place it looks.
set_source_files_properties(${CMAKE_CURRENT_LIST_DIR}/cuda_compute.c PROPERTIES
  COMPILE_DEFINITIONS "RK_CUDA_TOOLKIT_LIBDIR=\"${CUDAToolkit_LIBRARY_DIR}\"")
set_target_properties(rk_objects PROPERTIES CUDA_STANDARD 17 CUDA_STANDARD_REQUIRED ON)
target_compile_definitions(rk_objects PUBLIC RK_HAVE_CUDA=1 PRIVATE RK_HAVE_NVTX=1)
target_include_directories(rk_objects PRIVATE ${CUDAToolkit_INCLUDE_DIRS})
target_compile_options(rk_objects PRIVATE $<$<COMPILE_LANGUAGE:CUDA>:-Xcompiler=-Wall,-Wextra -Werror=all-warnings>)
target_link_libraries(rk_objects PUBLIC CUDA::cudart_static)

# Diagnostic: the device loop adds up its phases in the control block (bench/gpu_phase.c).
option(RK_DEVICE_PROFILE "Profile the phases of the CUDA device loop (diagnostic builds only)" OFF)
if(RK_DEVICE_PROFILE)
  target_compile_definitions(rk_objects PRIVATE RK_DEVICE_PROFILE=1)
endif()
