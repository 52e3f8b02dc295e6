#!/usr/bin/env bash
# Installs everything Herald needs to build, test and benchmark on Debian 12.
# The README, .ci/run and the Dockerfile all call this one script.
set -euo pipefail

SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi

$SUDO apt-get update
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y --no-install-recommends \
  g++ cmake ninja-build pkg-config ccache make \
  libasio-dev libflatbuffers-dev flatbuffers-compiler librocksdb-dev libcli11-dev \
  libspdlog-dev libfmt-dev catch2 libcpp-httplib-dev nlohmann-json3-dev libssl-dev \
  libnats-dev nats-server \
  clang libclang-rt-14-dev llvm-14 \
  chromium  # the main page is tested in headless Chromium
# clang + libclang-rt-14-dev: libFuzzer and clang's sanitizer runtimes
# (tools/fuzz.sh); llvm-14: llvm-symbolizer, for file:line in sanitizer reports.
