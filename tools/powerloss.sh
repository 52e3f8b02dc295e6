#!/usr/bin/env bash
# Power cuts under a loaded brokerd, on herald-cutfs (tests/support/cutfs), the
# file system that forgets whatever was not synced: CUTS cycles (default 200)
# of load, SIGKILL and a power cut, with --fsync always and then with
# --fsync interval (tests/powerloss/broker_powerloss_test.cc). Builds the
# test first. Needs root (or fusermount3 rights) and /dev/fuse.
#
#   tools/powerloss.sh [CUTS]      BUILD_DIR (default build) picks the build.
#
# Also runs the same cycle against one nats-server with its defaults (a
# comparison, at most 10 cuts), when the build has the NATS backend.
# The last line is the --fsync always summary:
#   N cuts, M publishes acknowledged, L lost, D duplicated
set -euo pipefail
cd "$(dirname "$0")/.."
cuts=${1:-200}
build=${BUILD_DIR:-build}
[ -f "$build/build.ninja" ] || cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build "$build" --target powerloss_tests herald-cutfs brokerd >/dev/null
# The comparison with JetStream (at most 10 cuts; its summary line is printed
# first), when the build has the NATS backend and nats-server is installed.
nats_bin=""
if cmake --build "$build" --target nats_powerloss_tests >/dev/null 2>&1 && command -v nats-server >/dev/null; then
  nats_bin="$build/tests/powerloss/nats_powerloss_tests"
fi
bin="$build/tests/powerloss/powerloss_tests"
log=$(mktemp)
trap 'rm -f "$log"' EXIT
status=0
# run FILTER: one test case; prints each cut that lost something and, if it
# failed, Catch's report of the failure.
run() {
  local rc=0
  HERALD_POWERLOSS_CUTS=$cuts "$bin" "$1" >"$log" 2>&1 || rc=$?
  grep -E '^(after cut|--fsync)' "$log" || true
  if [ "$rc" -ne 0 ]; then
    status=1
    grep -vE '^\[.*herald client' "$log" | grep -B3 -A14 FAILED || tail -40 "$log"
  fi
}
if [ -n "$nats_bin" ]; then
  HERALD_POWERLOSS_CUTS=$cuts "$nats_bin" >"$log" 2>&1 || true
  grep -E '^nats-server defaults:' "$log" || echo "nats-server comparison: did not run (see $nats_bin)"
fi
run "*fsync interval*"
run "*fsync always*"
grep -E '^[0-9]+ cuts,' "$log" | tail -1
exit "$status"
