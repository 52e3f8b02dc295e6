#!/usr/bin/env bash
# Builds the libFuzzer targets (tests/fuzz) with clang in build-fuzz and runs
# each for SECONDS (default 60), as many at once as there are cores. Fails if
# any target finds a crash, a leak, a sanitizer report, a failed check or a
# timeout.
#
#   tools/fuzz.sh [SECONDS] [TARGET...]   targets: frame json event broker (default: all)
#
# New inputs go to build-fuzz/fuzz-corpus/<target> (the committed seeds in
# tests/fuzz/corpus/<target> are only read). A crashing input is written to
# build-fuzz/fuzz-artifacts/<target>/; to keep it as a regression test, copy it
# to tests/fuzz/regressions/<target>/ (the fuzz_replay_<target> CTest test runs
# it in every build) and reproduce with build-fuzz/tests/fuzz/<target>_fuzzer FILE.
set -euo pipefail
cd "$(dirname "$0")/.."

SECS=${1:-60}
shift || true
TARGETS=("$@")
if [ ${#TARGETS[@]} -eq 0 ]; then TARGETS=(frame json event broker); fi
BUILD=${FUZZ_BUILD_DIR:-build-fuzz}
JOBS=${FUZZ_JOBS:-$(nproc)}

cmake -S . -B "$BUILD" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DCMAKE_CXX_COMPILER=clang++ -DHERALD_FUZZ=ON >/dev/null
# Only the fuzz targets (and what they link).
cmake --build "$BUILD" -j "$(nproc)" --target $(printf '%s_fuzzer ' "${TARGETS[@]}")

export ASAN_OPTIONS=${ASAN_OPTIONS:-abort_on_error=1:detect_leaks=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-halt_on_error=1:print_stacktrace=1}

fuzz_one() {
  local t=$1
  local work="$BUILD/fuzz-corpus/$t" artifacts="$BUILD/fuzz-artifacts/$t" seeds="tests/fuzz/corpus/$t"
  if [ "$t" = broker ]; then seeds=tests/fuzz/corpus/frame; fi  # same input format
  mkdir -p "$work" "$artifacts"
  local rc=0
  "$BUILD/tests/fuzz/${t}_fuzzer" "$work" "$seeds" "tests/fuzz/regressions/$t" \
    -max_total_time="$SECS" -timeout=25 -rss_limit_mb=2048 -print_final_stats=1 \
    -artifact_prefix="$artifacts/" >"$BUILD/fuzz-$t.log" 2>&1 || rc=$?
  echo "$rc" >"$BUILD/fuzz-$t.rc"
}

echo "== fuzzing ${TARGETS[*]} for ${SECS}s each, $JOBS at a time (logs: $BUILD/fuzz-<target>.log)"
for t in "${TARGETS[@]}"; do
  rm -f "$BUILD/fuzz-$t.rc"
  while [ "$(jobs -rp | wc -l)" -ge "$JOBS" ]; do wait -n || true; done
  fuzz_one "$t" &
done
wait

failed=()
summary=""
for t in "${TARGETS[@]}"; do
  rc=$(cat "$BUILD/fuzz-$t.rc" 2>/dev/null || echo "no exit code")
  log="$BUILD/fuzz-$t.log"
  runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
  rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -1)
  cov=$(grep -o 'cov: [0-9]*' "$log" | tail -1 || true)
  summary+="$t: ${runs:-?} runs, ${rate:-?} exec/s, ${cov:-cov: ?}, exit $rc"$'\n'
  if [ "$rc" != 0 ]; then
    failed+=("$t")
    echo "---- $t failed; the end of its log:"
    tail -n 60 "$log"
    ls -l "$BUILD/fuzz-artifacts/$t"
  fi
done
echo "== fuzz summary (${SECS}s each)"
printf '%s' "$summary"
if [ ${#failed[@]} -ne 0 ]; then
  echo "fuzzing found problems in: ${failed[*]} (inputs in $BUILD/fuzz-artifacts/)"
  exit 1
fi
