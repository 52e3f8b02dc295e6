# Install rules of the `dev` component: what a service in another tree needs
# to build against the SDK. Herald::client always; Herald::rocksdb and
# Herald::testing when they are built. Each has its own export set, so that
# find_package(Herald) loads, and looks for the dependencies of, only the
# components it is asked for (HeraldConfig.cmake.in).
#
#   include/herald/**                     public headers (no Asio/OpenSSL/FlatBuffers types)
#   lib/libherald.a                       the SDK, herald_wire and herald_tls in one archive
#   lib/libherald_rocksdb.a               outbox + idempotent consumer
#   lib/libherald_testing.a               the in-process broker (the broker library inside)
#   lib/cmake/Herald/*                    HeraldConfig.cmake, version, targets
#   lib/pkgconfig/herald.pc               pkg-config --cflags --libs herald
option(HERALD_INSTALL "install rules (the dev, broker and blog components)" ${PROJECT_IS_TOP_LEVEL})
if(NOT HERALD_INSTALL)
  return()
endif()

include(CMakePackageConfigHelpers)
set(HERALD_CMAKE_INSTALL_DIR ${CMAKE_INSTALL_LIBDIR}/cmake/Herald)

install(FILES client/include/herald/broker_url.h client/include/herald/client.h
              client/include/herald/errors.h client/include/herald/message.h
        DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}/herald COMPONENT dev)
install(TARGETS herald EXPORT HeraldClientTargets
        ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR} COMPONENT dev)
install(EXPORT HeraldClientTargets NAMESPACE Herald:: DESTINATION ${HERALD_CMAKE_INSTALL_DIR} COMPONENT dev)
set(HERALD_INSTALLED_COMPONENTS "")

# herald_install_component(<target> <component> <Export>): the component's
# headers (client/include/herald/<component>), its archive and its export set
# Herald<Export>Targets, which HeraldConfig.cmake loads by the same name.
macro(herald_install_component target component export)
  if(TARGET ${target})
    install(DIRECTORY client/include/herald/${component} DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}/herald
            COMPONENT dev)
    install(TARGETS ${target} EXPORT Herald${export}Targets
            ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR} COMPONENT dev)
    install(EXPORT Herald${export}Targets NAMESPACE Herald:: DESTINATION ${HERALD_CMAKE_INSTALL_DIR}
            COMPONENT dev)
    list(APPEND HERALD_INSTALLED_COMPONENTS ${component})
  endif()
endmacro()
herald_install_component(herald_rocksdb rocksdb Rocksdb)
herald_install_component(herald_testing testing Testing)

configure_package_config_file(cmake/HeraldConfig.cmake.in ${CMAKE_CURRENT_BINARY_DIR}/HeraldConfig.cmake
                              INSTALL_DESTINATION ${HERALD_CMAKE_INSTALL_DIR})
# SameMinorVersion: Herald is 0.x, where a minor release may change the API
# (semantic versioning's rule for 0.y.z), so 0.1.x satisfies a request for 0.1
# but not for 0.2. At 1.0 this becomes SameMajorVersion.
write_basic_package_version_file(${CMAKE_CURRENT_BINARY_DIR}/HeraldConfigVersion.cmake
                                 VERSION ${PROJECT_VERSION} COMPATIBILITY SameMinorVersion)
install(FILES ${CMAKE_CURRENT_BINARY_DIR}/HeraldConfig.cmake ${CMAKE_CURRENT_BINARY_DIR}/HeraldConfigVersion.cmake
        DESTINATION ${HERALD_CMAKE_INSTALL_DIR} COMPONENT dev)

# herald.pc. libherald.a is static, so what it calls must come out of a plain
# `pkg-config --libs herald`: the libraries with a .pc of their own in Debian
# are Requires (not Requires.private, which only --static reads).
set(HERALD_PC_REQUIRES "spdlog fmt libssl libcrypto")
if(HERALD_WITH_NATS)
  string(APPEND HERALD_PC_REQUIRES " libnats")
endif()
# The prefix relative to the .pc's own directory, so that an install with
# `cmake --install --prefix DIR` into any directory finds its own files.
set(HERALD_PC_INSTALL_DIR ${CMAKE_INSTALL_LIBDIR}/pkgconfig)
if(IS_ABSOLUTE "${CMAKE_INSTALL_LIBDIR}" OR IS_ABSOLUTE "${CMAKE_INSTALL_INCLUDEDIR}")
  set(HERALD_PC_PREFIX "${CMAKE_INSTALL_PREFIX}")
  set(HERALD_PC_LIBDIR "${CMAKE_INSTALL_FULL_LIBDIR}")
  set(HERALD_PC_INCLUDEDIR "${CMAKE_INSTALL_FULL_INCLUDEDIR}")
else()
  file(RELATIVE_PATH _herald_pc_up /prefix/${HERALD_PC_INSTALL_DIR} /prefix)
  string(REGEX REPLACE "/$" "" _herald_pc_up "${_herald_pc_up}")
  set(HERALD_PC_PREFIX "\${pcfiledir}/${_herald_pc_up}")
  set(HERALD_PC_LIBDIR "\${prefix}/${CMAKE_INSTALL_LIBDIR}")
  set(HERALD_PC_INCLUDEDIR "\${prefix}/${CMAKE_INSTALL_INCLUDEDIR}")
endif()
configure_file(cmake/herald.pc.in ${CMAKE_CURRENT_BINARY_DIR}/herald.pc @ONLY)
install(FILES ${CMAKE_CURRENT_BINARY_DIR}/herald.pc DESTINATION ${HERALD_PC_INSTALL_DIR} COMPONENT dev)
