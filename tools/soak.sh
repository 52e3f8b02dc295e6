#!/usr/bin/env bash
# A long soak of the comment-count flow: runs the already built soak test
# (tests/e2e/comment_soak_test.cc) with brokerd and the services killed and
# restarted at random under a load of concurrent adds and removes, for
# SECONDS (default 300). Builds nothing: build soak_e2e_tests first (e.g.
# `cmake --build build --target soak_e2e_tests`).
#
#   tools/soak.sh [SECONDS]        BUILD_DIR (default build) picks the build;
#                                  HERALD_SOAK_SEED replays a fault schedule.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-300}
build=${BUILD_DIR:-build}
bin="$build/tests/e2e/soak_e2e_tests"
if [ ! -x "$bin" ]; then
  echo "soak.sh: no $bin; build it first: cmake --build $build --target soak_e2e_tests" >&2
  exit 2
fi
HERALD_SOAK_SECONDS=$seconds exec "$bin" "[soak]" --durations yes
