# cli_test.cmake - behaviour of the ringkernel tool: exit codes, help, info, a short demo, bad arguments.
#   cmake -DCLI=<path to ringkernel> -DOUT=<scratch dir> -P cli_test.cmake
# Any mismatch is a FATAL_ERROR naming the command line, its exit code and its output.
if(NOT CLI)
  message(FATAL_ERROR "usage: cmake -DCLI=<path to ringkernel> -P cli_test.cmake")
endif()

# rk_cli(<expected exit: 0, 2 or NONZERO> <stdout regex or ""> <args...>): runs the tool and checks it.
# Non-zero expectations also require exactly one line on stderr, "ringkernel: ...".
function(rk_cli expect regex)
  execute_process(COMMAND ${CLI} ${ARGN} RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err
                  TIMEOUT 100)
  string(REPLACE ";" " " cmdline "${ARGN}")
  set(what "ringkernel ${cmdline}: exit ${rc}\n--- stdout:\n${out}--- stderr:\n${err}")
  if(expect STREQUAL "NONZERO")
    if(rc EQUAL 0 OR NOT rc MATCHES "^[0-9]+$")
      message(FATAL_ERROR "expected a non-zero exit\n${what}")
    endif()
  elseif(NOT rc STREQUAL expect)
    message(FATAL_ERROR "expected exit ${expect}\n${what}")
  endif()
  if(NOT regex STREQUAL "" AND NOT out MATCHES "${regex}")
    message(FATAL_ERROR "stdout does not match '${regex}'\n${what}")
  endif()
  if(NOT expect STREQUAL "0")
    if(NOT err MATCHES "^ringkernel: [^\n]+\n$")
      message(FATAL_ERROR "expected one error line 'ringkernel: ...' on stderr\n${what}")
    endif()
  endif()
endfunction()

# Version, help.
file(STRINGS "${CMAKE_CURRENT_LIST_DIR}/../../include/ringkernel/version.h" ver REGEX "RK_VERSION_STRING")
string(REGEX MATCH "[0-9]+\\.[0-9]+\\.[0-9]+" ver "${ver}")
rk_cli(0 "^ringkernel ${ver}" --version)
rk_cli(0 "usage: ringkernel" --help)
rk_cli(0 "usage: ringkernel" -h)
rk_cli(0 "usage: ringkernel info" info --help)
rk_cli(0 "usage: ringkernel demo" demo --help)
rk_cli(0 "usage: ringkernel demo" demo -h)
rk_cli(0 "usage: ringkernel demo" help demo)

# info: the CPU backend is always there.
rk_cli(0 "cpu +available" info)

# A GPU backend this machine lacks: a failure (exit 1) saying why, in one line.
execute_process(COMMAND ${CLI} info OUTPUT_VARIABLE info_out RESULT_VARIABLE rc)
foreach(b cuda vulkan)
  if(info_out MATCHES "\n +${b} +(unavailable|not built)")
    rk_cli(1 "" demo --backend ${b} -n 10)
  endif()
endforeach()

# A short demo on the CPU: latency percentiles, throughput, every reply verified.
rk_cli(0 "p50.*p99\\.9.*msgs/s.*Verified: 4000 replies" demo --backend cpu -n 2000)
rk_cli(0 "Verified: 110 replies" demo -b cpu -n 50 --payload 0 --warmup=10 --batch 7)
rk_cli(0 "Verified: 20 replies" demo --backend=cpu --messages=10 --payload=4000)

# Usage errors: exit 2, one line on stderr.
rk_cli(2 "" bogus)
rk_cli(2 "" --bogus)
rk_cli(2 "" demo --messages abc)
rk_cli(2 "" demo --messages 0)
rk_cli(2 "" demo -n -5)
rk_cli(2 "" demo --messages)
rk_cli(2 "" demo --backend nope)
rk_cli(2 "" demo --payload 99999999)
rk_cli(2 "" demo --frobnicate)
rk_cli(2 "" demo stray)
rk_cli(2 "" info --verbose)
rk_cli(2 "" help nosuchcommand)

# codegen and check: the kernel compiler on the .rk files under rk/.
set(rk "${CMAKE_CURRENT_LIST_DIR}/rk")
if(NOT OUT)
  message(FATAL_ERROR "usage: cmake -DCLI=<path to ringkernel> -DOUT=<scratch dir> -P cli_test.cmake")
endif()
file(REMOVE_RECURSE "${OUT}")
rk_cli(0 "usage: ringkernel codegen" codegen --help)
rk_cli(0 "usage: ringkernel check" check -h)
rk_cli(0 "usage: ringkernel codegen" help codegen)
rk_cli(0 "wrote .*/saxpy\\.ir\nwrote .*/saxpy\\.cu\nwrote .*/saxpy\\.c\n" codegen ${rk}/saxpy.rk --target cuda,c
       -o ${OUT} --emit-ir)
foreach(f saxpy.c saxpy.cu saxpy.ir)
  if(NOT EXISTS "${OUT}/${f}")
    message(FATAL_ERROR "codegen did not write ${OUT}/${f}")
  endif()
endforeach()
file(READ "${OUT}/saxpy.c" c_text)
if(NOT c_text MATCHES "int saxpy\\(const rk_grid \\*rk_g, float \\*y, const float \\*x, float a, uint32_t n\\)")
  message(FATAL_ERROR "saxpy.c lacks the kernel's entry point:\n${c_text}")
endif()
file(READ "${OUT}/saxpy.cu" cu_text)
if(NOT cu_text MATCHES "extern \"C\" __global__ void __launch_bounds__\\(256\\) saxpy\\(")
  message(FATAL_ERROR "saxpy.cu lacks the __global__ kernel:\n${cu_text}")
endif()
rk_cli(0 "^cuda  saxpy: supported\nc     saxpy: supported\n$" check ${rk}/saxpy.rk --targets cuda,c)
rk_cli(0 "wrote .*/echo\\.c\n" codegen ${rk}/echo.rk -t c -o ${OUT})
# The shader targets: one file each, .comp (GLSL for Vulkan), .wgsl and .metal.
rk_cli(0 "wrote .*/saxpy\\.comp\nwrote .*/saxpy\\.wgsl\nwrote .*/saxpy\\.metal\n$" codegen ${rk}/saxpy.rk
       --target glsl,wgsl,msl -o ${OUT}/gpu)
file(READ "${OUT}/gpu/saxpy.comp" glsl_text)
file(READ "${OUT}/gpu/saxpy.wgsl" wgsl_text)
file(READ "${OUT}/gpu/saxpy.metal" msl_text)
if(NOT glsl_text MATCHES "^#version 450\n" OR NOT glsl_text MATCHES "layout\\(push_constant, std430\\)"
   OR NOT wgsl_text MATCHES "@compute @workgroup_size\\(256, 1, 1\\)\nfn saxpy\\("
   OR NOT msl_text MATCHES "kernel void saxpy\\(device float \\*y \\[\\[buffer\\(0\\)\\]\\]")
  message(FATAL_ERROR "shader outputs of saxpy.rk:\n${glsl_text}\n${wgsl_text}\n${msl_text}")
endif()
# A ring kernel on a shader target: the checker's diagnostic, exit 1, no file.
execute_process(COMMAND ${CLI} codegen ${rk}/echo.rk --target glsl -o ${OUT}/gpu RESULT_VARIABLE rc
                ERROR_VARIABLE err)
if(NOT rc EQUAL 1 OR NOT err MATCHES "error: ring kernel 'echo' is unsupported on glsl"
   OR EXISTS "${OUT}/gpu/echo.comp")
  message(FATAL_ERROR "codegen echo.rk --target glsl: exit ${rc}, stderr: ${err}")
endif()
rk_cli(0 "^cuda  saxpy: supported\nc     saxpy: supported\nglsl  saxpy: supported\nwgsl  saxpy: supported\nmsl   saxpy: supported\n$"
       check ${rk}/saxpy.rk --targets all)
# Usage errors.
rk_cli(2 "" codegen ${rk}/saxpy.rk --target vulkan -o ${OUT})
rk_cli(2 "" codegen ${rk}/saxpy.rk -o ${OUT})
rk_cli(2 "" codegen ${rk}/saxpy.rk --target c)
rk_cli(2 "" codegen --target c -o ${OUT})
rk_cli(2 "" check)
rk_cli(2 "" check ${rk}/saxpy.rk --targets)
rk_cli(2 "" check ${rk}/saxpy.rk --targets c,,nope)
# Missing and bad source files: exit 1 with the diagnostics in file:line:col form on stderr.
rk_cli(1 "" codegen ${rk}/no-such-file.rk --target c -o ${OUT})
foreach(cmd codegen check)
  if(cmd STREQUAL "codegen")
    set(extra --target c -o ${OUT})
  else()
    set(extra "")
  endif()
  execute_process(COMMAND ${CLI} ${cmd} ${rk}/bad.rk ${extra} RESULT_VARIABLE rc OUTPUT_VARIABLE out
                  ERROR_VARIABLE err)
  if(NOT rc EQUAL 1 OR NOT err MATCHES "bad\\.rk:3:12: error: unknown identifier 'q'\n    p\\[0\\] = q;\n +\\^\n"
     OR NOT err MATCHES "ringkernel: [^\n]*bad\\.rk: 1 error\\(s\\)\n$")
    message(FATAL_ERROR "${cmd} bad.rk: exit ${rc}\n--- stdout:\n${out}--- stderr:\n${err}")
  endif()
endforeach()
# check: ring handlers run only on CUDA and the CPU, so echo fails on the shader targets, per kernel.
execute_process(COMMAND ${CLI} check ${rk}/echo.rk --targets all RESULT_VARIABLE rc OUTPUT_VARIABLE out
                ERROR_VARIABLE err)
if(NOT rc EQUAL 1 OR NOT out MATCHES "^cuda  echo: supported\nc     echo: supported\nglsl  echo: unsupported \\(1 error\\)\n"
   OR NOT out MATCHES "wgsl  echo: unsupported \\(4 errors\\)\nmsl   echo: unsupported \\(1 error\\)\n$"
   OR NOT err MATCHES "echo\\.rk:14:5: error: ring kernel 'echo' is unsupported on glsl")
  message(FATAL_ERROR "check echo.rk: exit ${rc}\n--- stdout:\n${out}--- stderr:\n${err}")
endif()
file(REMOVE_RECURSE "${OUT}")
