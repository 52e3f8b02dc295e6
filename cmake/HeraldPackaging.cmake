# Debian packages of the install components, one package each:
#   broker -> herald-broker  brokerd, brokerctl, the herald-brokerd systemd unit,
#                            /etc/herald/brokerd.toml; postinst makes the user herald
#   dev    -> libherald-dev  the SDK's headers, static libraries, CMake package, herald.pc
#   blog   -> herald-blog    the blog's four services
# `cpack -G DEB` in the build dir (after building) writes NAME_VERSION-1_ARCH.deb;
# tools/check-packages.sh installs, runs and purges them.
# Included from the top level only when Herald is the top-level project, after
# every install rule, since the components are read from what was declared.

set(HERALD_PACKAGE_MAINTAINER "Herald maintainers <maintainers@herald.invalid>" CACHE STRING
    "the Maintainer field of the Debian packages")

set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGE_NAME herald)
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_PACKAGE_CONTACT "${HERALD_PACKAGE_MAINTAINER}")
# Staged with DESTDIR and the install prefix /usr, so that the install rules see the
# prefix the package has (packaging/CMakeLists.txt puts the config in /etc then).
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)
set(CPACK_INSTALL_PREFIX /usr)
set(CPACK_SET_DESTDIR ON)
set(CPACK_STRIP_FILES ON)

set(CPACK_DEB_COMPONENT_INSTALL ON)
# Each component's description below: its first line is the package summary
# (CPACK_PACKAGE_DESCRIPTION_SUMMARY stays unset, or CPack puts it first in all).
# Only Herald's three components, and of them those this configuration
# installs (an SDK-only build has no broker): not the install rules that
# dependencies added through add_subdirectory may bring.
get_cmake_property(_herald_components COMPONENTS)
set(CPACK_COMPONENTS_ALL "")
foreach(_component IN ITEMS broker dev blog)
  if(_component IN_LIST _herald_components)
    list(APPEND CPACK_COMPONENTS_ALL ${_component})
  endif()
endforeach()

set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_RELEASE 1)
set(CPACK_DEBIAN_PACKAGE_PRIORITY optional)
# Depends of the programs' packages: what dpkg-shlibdeps finds their binaries
# linked to (package dpkg-dev, and `file` to find the binaries).
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
find_program(HERALD_DPKG_SHLIBDEPS dpkg-shlibdeps)
if(NOT HERALD_DPKG_SHLIBDEPS)
  message(STATUS "dpkg-shlibdeps not found: install dpkg-dev before running cpack (the packages' Depends come from it)")
endif()

set(_herald_debian_dir ${CMAKE_CURRENT_LIST_DIR}/../packaging/debian)

set(CPACK_DEBIAN_BROKER_PACKAGE_NAME herald-broker)
set(CPACK_DEBIAN_BROKER_PACKAGE_SECTION net)
# Not a library, so not in shlibdeps' list: postinst creates the user herald with adduser.
set(CPACK_DEBIAN_BROKER_PACKAGE_DEPENDS adduser)
set(CPACK_DEBIAN_BROKER_PACKAGE_CONTROL_EXTRA
    ${_herald_debian_dir}/herald-broker/postinst
    ${_herald_debian_dir}/herald-broker/prerm
    ${_herald_debian_dir}/herald-broker/postrm
    ${_herald_debian_dir}/herald-broker/conffiles)
set(CPACK_DEBIAN_BROKER_PACKAGE_CONTROL_STRICT_PERMISSION TRUE)
set(CPACK_COMPONENT_BROKER_DESCRIPTION "Herald message broker: brokerd, brokerctl and a systemd unit
brokerd is a pub/sub broker with durable topics (RocksDB), consumer groups,
acks, redelivery and dead letters. The herald-brokerd service runs it as the
system user herald from /etc/herald/brokerd.toml, with its data in
/var/lib/herald. brokerctl administers it from the command line.")

set(CPACK_DEBIAN_DEV_PACKAGE_NAME libherald-dev)
set(CPACK_DEBIAN_DEV_PACKAGE_SECTION libdevel)
# The SDK ships static archives, and dpkg-shlibdeps sees no ELF objects in
# them to compute Depends from: whoever links them needs the development
# packages of what they link (HeraldConfig.cmake's find_dependency calls and
# herald.pc's Requires), and so this list, kept in step with those.
set(_herald_dev_depends libfmt-dev libspdlog-dev libssl-dev)
if(HERALD_WITH_NATS)
  list(APPEND _herald_dev_depends libnats-dev pkg-config)  # found with pkg-config (libnats)
endif()
if(HERALD_WITH_ROCKSDB)
  list(APPEND _herald_dev_depends librocksdb-dev)  # Herald::rocksdb and Herald::testing
endif()
list(JOIN _herald_dev_depends ", " CPACK_DEBIAN_DEV_PACKAGE_DEPENDS)
set(CPACK_COMPONENT_DEV_DESCRIPTION "Herald client SDK: headers, static libraries, CMake package, pkg-config
Link Herald::client (find_package(Herald CONFIG)) or `pkg-config herald` to
publish to and consume from a Herald broker (brokerd) or NATS JetStream;
Herald::rocksdb adds a transactional outbox and an idempotent consumer.")

set(CPACK_DEBIAN_BLOG_PACKAGE_NAME herald-blog)
set(CPACK_DEBIAN_BLOG_PACKAGE_SECTION net)
set(CPACK_DEBIAN_BLOG_PACKAGE_SUGGESTS herald-broker)
set(CPACK_COMPONENT_BLOG_DESCRIPTION "Herald example blog: four services on the Herald SDK
api-gateway, post-service, comment-service and notification-service: the
comment-count flow of Herald's README, communicating through a Herald broker.")

include(CPack)
