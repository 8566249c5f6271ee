# install.cmake - installation: headers, the static and shared library, the CLI, ringkernel.pc and a CMake
# package, so both of these work against an installed prefix:
#
#   cc app.c $(pkg-config --cflags --libs ringkernel)                    # shared
#   cc app.c $(pkg-config --static --cflags --libs ringkernel) -static   # static
#
#   find_package(ringkernel REQUIRED)
#   target_link_libraries(app PRIVATE ringkernel::ringkernel)            # static (ringkernel::shared: shared)
#
# The exported targets carry their link dependencies (Threads, and CUDA's runtime when the library links
# it); ringkernelConfig.cmake finds those packages first. ringkernel.pc is written at install time, so that
# `cmake --install --prefix` puts the real prefix in it.
include(CMakePackageConfigHelpers)

set(RK_INSTALL_CMAKEDIR ${CMAKE_INSTALL_LIBDIR}/cmake/ringkernel)

# Exported names match the build tree's aliases: ringkernel::ringkernel is the static library.
set_target_properties(ringkernel_static PROPERTIES EXPORT_NAME ringkernel)
set_target_properties(ringkernel_shared PROPERTIES EXPORT_NAME shared)

install(DIRECTORY ${PROJECT_SOURCE_DIR}/include/ringkernel DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
install(TARGETS ringkernel_static ringkernel_shared EXPORT ringkernelTargets
        ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR}
        LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR}
        INCLUDES DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
install(TARGETS ringkernel_cli RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})

# ---- Link dependencies beyond libc --------------------------------------------------------------------
# What a static link needs besides libringkernel.a: pthreads always; with CUDA code inside, CUDA's runtime
# (the static one: also libdl and librt) and the C++ runtime that nvcc's objects use (__cxa_guard_*,
# __gxx_personality_v0). CMake adds the latter only to targets that enable CUDA themselves, so a plain C
# consumer of the exported static target gets it from ringkernelConfig.cmake (RK_CONFIG_EXTRA_LIBS).
set(RK_PC_LIBS_PRIVATE "-pthread")
set(RK_CONFIG_NEEDS_CUDA OFF)
set(RK_CONFIG_EXTRA_LIBS "")
get_target_property(rk_static_links ringkernel_static LINK_LIBRARIES)
get_target_property(rk_shared_links ringkernel_shared LINK_LIBRARIES)
get_target_property(rk_sources rk_objects SOURCES)
if("${rk_static_links};${rk_shared_links}" MATCHES "CUDA::")
  set(RK_CONFIG_NEEDS_CUDA ON)
endif()
if(rk_static_links MATCHES "CUDA::cudart_static")
  string(APPEND RK_PC_LIBS_PRIVATE " -L${CUDAToolkit_LIBRARY_DIR} -lcudart_static -ldl -lrt")
elseif(rk_static_links MATCHES "CUDA::cudart")
  string(APPEND RK_PC_LIBS_PRIVATE " -L${CUDAToolkit_LIBRARY_DIR} -lcudart")
endif()
if(RK_HAVE_CUDA AND rk_sources MATCHES "\\.cu(;|$)")
  # What linking CUDA objects adds to a C link: CUDA's implicit libraries minus C's (stdc++ and m).
  set(RK_CONFIG_EXTRA_LIBS ${CMAKE_CUDA_IMPLICIT_LINK_LIBRARIES})
  list(REMOVE_DUPLICATES RK_CONFIG_EXTRA_LIBS)
  list(REMOVE_ITEM RK_CONFIG_EXTRA_LIBS ${CMAKE_C_IMPLICIT_LINK_LIBRARIES})
  foreach(lib IN LISTS RK_CONFIG_EXTRA_LIBS)
    string(APPEND RK_PC_LIBS_PRIVATE " -l${lib}")
  endforeach()
endif()

# ---- pkg-config ------------------------------------------------------------------------------------------
# Two steps: at configure time everything but the prefix is filled in; at install time the prefix the
# install really uses (cmake --install --prefix overrides CMAKE_INSTALL_PREFIX then, not now).
foreach(d LIBDIR INCLUDEDIR)
  if(IS_ABSOLUTE "${CMAKE_INSTALL_${d}}")
    set(RK_PC_${d} "${CMAKE_INSTALL_${d}}")
  else()
    set(RK_PC_${d} "\${prefix}/${CMAKE_INSTALL_${d}}")
  endif()
endforeach()
set(RK_PC_PREFIX "@RK_PC_PREFIX@") # kept for the install-time step
configure_file(${PROJECT_SOURCE_DIR}/cmake/ringkernel.pc.in ${PROJECT_BINARY_DIR}/ringkernel.pc.in @ONLY)
install(CODE "
  set(RK_PC_PREFIX \"\${CMAKE_INSTALL_PREFIX}\")
  configure_file(\"${PROJECT_BINARY_DIR}/ringkernel.pc.in\" \"${PROJECT_BINARY_DIR}/ringkernel.pc\" @ONLY)
")
install(FILES ${PROJECT_BINARY_DIR}/ringkernel.pc DESTINATION ${CMAKE_INSTALL_LIBDIR}/pkgconfig)

# ---- CMake package ---------------------------------------------------------------------------------------
install(EXPORT ringkernelTargets NAMESPACE ringkernel:: DESTINATION ${RK_INSTALL_CMAKEDIR})
configure_package_config_file(${PROJECT_SOURCE_DIR}/cmake/ringkernelConfig.cmake.in
                              ${PROJECT_BINARY_DIR}/ringkernelConfig.cmake
                              INSTALL_DESTINATION ${RK_INSTALL_CMAKEDIR})
# 0.x: minor versions may break the API, so a request for 0.1 accepts 0.1.y only.
write_basic_package_version_file(${PROJECT_BINARY_DIR}/ringkernelConfigVersion.cmake
                                 COMPATIBILITY SameMinorVersion)
install(FILES ${PROJECT_BINARY_DIR}/ringkernelConfig.cmake ${PROJECT_BINARY_DIR}/ringkernelConfigVersion.cmake
        DESTINATION ${RK_INSTALL_CMAKEDIR})
