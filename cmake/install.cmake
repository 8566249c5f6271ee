# Installation: headers, static + shared library, the CLI, ringkernel.pc and a CMake package config.
install(DIRECTORY ${PROJECT_SOURCE_DIR}/include/ringkernel DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
install(TARGETS ringkernel_static ringkernel_shared EXPORT ringkernelTargets
        ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR}
        LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR}
        INCLUDES DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
install(TARGETS ringkernel_cli RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
