# cli_test.cmake - behaviour of the ringkernel tool: exit codes, help, info, a short demo, bad arguments.
#   cmake -DCLI=<path to ringkernel> -P cli_test.cmake
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
