# The Vulkan backend: host code in C against the Vulkan headers (the loader is opened at run time with
# dlopen, so the library, the CLI and the tests start on machines without it), and the built-in actors as
# GLSL compute shaders, compiled to SPIR-V at build time, validated with spirv-val and embedded as arrays.
#
# rk_vk_embed_shader(<target> <symbol> <file.comp> [DEPENDS files...]) compiles one shader and adds the
# generated C array to <target>; the tests use it for their own shaders.
find_program(RK_SPIRV_VAL spirv-val)

function(rk_vk_embed_shader target symbol comp)
  cmake_parse_arguments(S "" "" "DEPENDS" ${ARGN})
  get_filename_component(base "${comp}" NAME_WE)
  set(spv "${CMAKE_CURRENT_BINARY_DIR}/spirv/${symbol}.spv")
  set(gen "${CMAKE_CURRENT_BINARY_DIR}/spirv/${symbol}.c")
  set(validate "")
  if(RK_SPIRV_VAL)
    set(validate COMMAND ${RK_SPIRV_VAL} --target-env vulkan1.0 ${spv})
  endif()
  add_custom_command(
    OUTPUT ${gen}
    COMMAND ${CMAKE_COMMAND} -E make_directory ${CMAKE_CURRENT_BINARY_DIR}/spirv
    COMMAND ${RK_GLSLANG} -V --target-env vulkan1.0 --quiet -I${RK_VK_PRELUDE_DIR} -o ${spv} ${comp}
    ${validate}
    COMMAND ${CMAKE_COMMAND} -DSPV=${spv} -DOUT=${gen} -DNAME=${symbol} -P ${RK_VK_DIR}/spirv_embed.cmake
    DEPENDS ${comp} ${RK_VK_DIR}/spirv_embed.cmake ${RK_VK_PRELUDE_DIR}/rk_actor.glsl
            ${RK_VK_PRELUDE_DIR}/rk_vk_abi.h ${S_DEPENDS}
    COMMENT "SPIR-V: ${base}.comp"
    VERBATIM)
  target_sources(${target} PRIVATE ${gen})
endfunction()

target_sources(rk_objects PRIVATE
  ${RK_VK_DIR}/vk_context.c
  ${RK_VK_DIR}/vulkan_backend.c
  ${RK_VK_DIR}/vulkan_compute.c
  ${RK_VK_DIR}/vulkan_actors.c)
rk_vk_embed_shader(rk_objects rk__vk_spv_echo ${RK_VK_SHADER_DIR}/echo.comp)
rk_vk_embed_shader(rk_objects rk__vk_spv_counter ${RK_VK_SHADER_DIR}/counter.comp)
target_compile_definitions(rk_objects PUBLIC RK_HAVE_VULKAN=1)
# Only the headers: libvulkan.so.1 is opened with dlopen (vk_context.c).
target_include_directories(rk_objects PRIVATE ${Vulkan_INCLUDE_DIRS})
target_link_libraries(rk_objects PUBLIC ${CMAKE_DL_LIBS})
