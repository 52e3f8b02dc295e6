#!/usr/bin/env bash
# Builds every target with clang in build-clang, with clang's thread-safety
# analysis on and every warning an error: a field used without the mutex its
# GUARDED_BY names, a call without the lock or thread role its REQUIRES names
# (schemas/thread_annotations.h), fails the build. g++ ignores the
# annotations, so this is the build that checks them.
#
#   tools/clang-check.sh [TARGET...]   (default: every target)
set -euo pipefail
cd "$(dirname "$0")/.."

BUILD=${CLANG_BUILD_DIR:-build-clang}
# Debug: the analysis needs no optimizer, and -O0 compiles fastest.
cmake -S . -B "$BUILD" -G Ninja -DCMAKE_BUILD_TYPE=Debug -DCMAKE_CXX_COMPILER=clang++ \
  -DCMAKE_CXX_FLAGS="-Wthread-safety -Werror" >/dev/null
targets=()
for t in "$@"; do targets+=(--target "$t"); done
cmake --build "$BUILD" -j "${CLANG_JOBS:-$(nproc)}" "${targets[@]}"
echo "clang -Wthread-safety -Werror: ${*:-every target} built"
