#!/usr/bin/env bash
# Installs what Herald needs on Debian 12 (apt).
#   tools/install-deps.sh               everything to build, test, fuzz and benchmark
#                                        (the README and .ci/run)
#   tools/install-deps.sh --build-only  only what a build with HERALD_BUILD_TESTS=OFF
#                                        needs: the Dockerfile's build stage
set -euo pipefail

usage() {
  echo "usage: $0 [--build-only]" >&2
  exit 2
}
build_only=0
case $# in
  0) ;;
  1) [ "$1" = "--build-only" ] || usage; build_only=1 ;;
  *) usage ;;
esac

# Compiler, build tools and every library a find_package or pkg_check_modules
# of the build asks for.
packages=(
  g++ cmake ninja-build pkg-config
  libasio-dev libflatbuffers-dev flatbuffers-compiler librocksdb-dev libcli11-dev
  libspdlog-dev libfmt-dev libcpp-httplib-dev nlohmann-json3-dev libssl-dev
  libnats-dev
  help2man  # the man pages (man/CMakeLists.txt; skipped without it)
)
if [ "$build_only" -eq 0 ]; then
  packages+=(
    ccache make
    catch2       # the test suite
    nats-server  # the SDK's NATS JetStream backend, tested against a real cluster
    clang libclang-rt-14-dev llvm-14  # libFuzzer and clang's sanitizer runtimes
                                      # (tools/fuzz.sh); llvm-symbolizer, for
                                      # file:line in sanitizer reports
    chromium             # the blog's page is tested in headless Chromium
    libfuse3-dev fuse3   # herald-cutfs, the file system of the power-loss tests
  )
  # tests/browser runs puppeteer-core, installed by npm ci. A machine whose
  # node already brings npm (NodeSource's nodejs does) keeps it: Debian's npm
  # conflicts with that nodejs.
  if ! command -v npm >/dev/null 2>&1; then packages+=(nodejs npm); fi
fi

SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi

$SUDO apt-get update
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y --no-install-recommends "${packages[@]}"
