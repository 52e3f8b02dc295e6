#!/usr/bin/env bash
# Builds Herald and its tests with sanitizers and runs the test suite (the
# ctest command of tools/test.sh, without the benchmark label).
#
#   tools/sanitize.sh [address|thread] [extra ctest args, e.g. -L e2e]
#     address (default): -DHERALD_SANITIZE=address;undefined in build-asan
#     thread:            -DHERALD_SANITIZE=thread in build-tsan, RocksDB's
#                        uninstrumented threads suppressed by tests/tsan.supp;
#                        built by clang with -Wthread-safety -Werror, so that
#                        one build checks the thread contracts twice: as
#                        written (tools/clang-check.sh's analysis) and as run
#
# Debug builds: for this suite they build much faster than RelWithDebInfo and
# the tests, which mostly wait on sockets and processes, run about as fast.
# Every process the tests start (brokerd, the services, brokerctl) inherits the
# sanitizer options and writes any report to $DIR/sanitizer-logs/; the script
# fails if a test fails or if any report was written, and prints the reports.
set -euo pipefail
cd "$(dirname "$0")/.."

MODE=${1:-address}
shift || true
case "$MODE" in
  address) DIR=${SANITIZE_BUILD_DIR:-build-asan}; SAN="address;undefined"; COMPILER=() ;;
  thread) DIR=${SANITIZE_BUILD_DIR:-build-tsan}; SAN="thread"
    COMPILER=(-DCMAKE_CXX_COMPILER=clang++ "-DCMAKE_CXX_FLAGS=-Wthread-safety -Werror") ;;
  *) echo "usage: $0 [address|thread] [ctest args...]" >&2; exit 2 ;;
esac

cmake -S . -B "$DIR" -G Ninja -DCMAKE_BUILD_TYPE=Debug "-DHERALD_SANITIZE=$SAN" "${COMPILER[@]}" >/dev/null
cmake --build "$DIR" -j "$(nproc)"

LOGS="$PWD/$DIR/sanitizer-logs"
rm -rf "$LOGS"
mkdir -p "$LOGS"
common="log_path=$LOGS/report:print_stacktrace=1"
# quarantine_size_mb=8 (default 256): freed memory is still held back from
# reuse, so use-after-free is caught, but the e2e tests that bound brokerd's RSS
# growth (slow_clients_test.cc) keep meaning something.
export ASAN_OPTIONS="$common:detect_leaks=1:abort_on_error=1:check_initialization_order=1:strict_init_order=1:quarantine_size_mb=8"
export LSAN_OPTIONS="$common"
export UBSAN_OPTIONS="$common:halt_on_error=1"
export TSAN_OPTIONS="$common:halt_on_error=0:exitcode=66:second_deadlock_stack=1:suppressions=$PWD/tests/tsan.supp"

# The SIGKILL loop's cycles: each restart under a sanitizer costs seconds of
# replay and start-up (20 cycles took 163 s under TSan). The sanitizers look for
# memory errors and races in the kill, replay and reconnect paths, which the
# first cycles exercise; the plain run (tools/test.sh) keeps the default 20.
export HERALD_CRASH_CYCLES=${HERALD_CRASH_CYCLES:-6}

status=0
# Most tests wait on sockets and processes: under ASan twice as many as there
# are cores keep the cores busy (180 tests: 191 s with -j 2, 132 s with -j 4).
# A TSan process takes several times the CPU, so there one per core.
JOBS=$(( 2 * $(nproc) ))
if [ "$MODE" = thread ]; then JOBS=$(nproc); fi
ctest --test-dir "$DIR" --output-on-failure --timeout 600 -j "$JOBS" -LE bench "$@" || status=$?

shopt -s nullglob
reports=("$LOGS"/report*)
if [ ${#reports[@]} -ne 0 ]; then
  echo "== ${#reports[@]} sanitizer report(s) in $LOGS:"
  for r in "${reports[@]}"; do
    echo "---- $r"
    head -n 80 "$r"
  done
  status=1
fi
if [ "$status" -ne 0 ]; then
  echo "sanitize.sh ($MODE): FAILED"
else
  echo "sanitize.sh ($MODE): clean"
fi
exit "$status"
