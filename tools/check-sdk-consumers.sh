#!/usr/bin/env bash
# The SDK as another project uses it: builds examples/pubsub (a publisher and a
# subscriber that link only Herald::client) three ways and runs each against a
# brokerd it starts on a free loopback port:
#   1. find_package(Herald) against `cmake --install build --component dev` in a temp prefix;
#   2. add_subdirectory of this source tree (HERALD_SOURCE_DIR), configured SDK-only with
#      HERALD_WITH_NATS=OFF and RocksDB, CLI11, nlohmann_json and Catch2 made unfindable;
#   3. a plain g++ line with `pkg-config --cflags --libs herald` from the temp prefix.
# Also builds examples/service-test (Herald::testing + Herald::rocksdb) against the prefix and runs it.
# Each subscriber must print exactly the payloads its publisher sent. Build 2 must also
# refuse a nats:// broker URL at once, with errc::backend_not_built's message and no
# network connect (strace), and must not link libnats.
# Reuses build/ (tools/test.sh's); BUILD_DIR overrides. Exits non-zero on the first failure.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
build=${BUILD_DIR:-build}
work=$(mktemp -d)
# Build 2 compiles the SDK again. In a fixed place under the source tree, so that
# ccache (CCACHE_BASEDIR is the source tree) finds the objects of the last run.
subdir_build="$build/check-sdk-consumers.tmp"
count=25
brokerd_pid=""
cleanup() {
  if [ -n "$brokerd_pid" ]; then kill "$brokerd_pid" 2>/dev/null || true; wait "$brokerd_pid" 2>/dev/null || true; fi
  rm -rf "$work" "$subdir_build"
}
trap cleanup EXIT
fail() {
  echo "check-sdk-consumers: FAIL: $*" >&2
  exit 1
}
summary=""
note() { summary+="  $*"$'\n'; echo "--- $*"; }  # now, and again in the summary at the end

source tools/lib/apt.bash
need_apt_packages strace

# The SDK's archives and brokerd from build/, then the dev component into a prefix.
start=$SECONDS
[ -f "$build/build.ninja" ] || cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build "$build" -j 2 --target brokerd herald herald_rocksdb herald_testing >"$work/build.log" 2>&1 ||
  { tail -30 "$work/build.log"; fail "building brokerd and the SDK in $build"; }
cmake --install "$build" --prefix "$work/prefix" --component dev >"$work/install.log" ||
  fail "cmake --install --component dev"
note "build/ up to date and the dev component installed in $((SECONDS - start)) s:" \
     "$(find "$work/prefix" -type f | wc -l) files, $(cd "$work/prefix" && find . -name '*.a' -o -name '*.pc' -o -name HeraldConfig.cmake | sort | tr '\n' ' ')"

"$build/broker/brokerd" --listen 127.0.0.1:0 --port-file "$work/brokerd.port" --data-dir "$work/brokerd-data" \
  --log-level warn 2>"$work/brokerd.log" &
brokerd_pid=$!
for _ in $(seq 100); do [ -s "$work/brokerd.port" ] && break; sleep 0.1; done
[ -s "$work/brokerd.port" ] || { cat "$work/brokerd.log"; fail "brokerd wrote no port file in 10 s"; }
broker="127.0.0.1:$(cat "$work/brokerd.port")"

seq -f 'message-%g' 1 "$count" >"$work/expected"
# run_pubsub NAME BIN_DIR: publishes $count messages to topic sdk-check-NAME, reads them back.
run_pubsub() {
  local name=$1 bin=$2 status=0
  timeout 60 "$bin/herald-example-publisher" --broker "$broker" --topic "sdk-check-$name" --count "$count" \
    >"$work/$name.published" || status=$?
  [ "$status" -eq 0 ] || fail "$name: publisher exited $status"
  timeout 60 "$bin/herald-example-subscriber" --broker "$broker" --topic "sdk-check-$name" --count "$count" \
    >"$work/$name.received" 2>"$work/$name.subscriber.log" || status=$?
  [ "$status" -eq 0 ] || { cat "$work/$name.subscriber.log" >&2; fail "$name: subscriber exited $status"; }
  diff "$work/expected" "$work/$name.received" >&2 || fail "$name: the subscriber did not receive what was published"
  note "$name: $(cat "$work/$name.published"); subscriber got the same $count payloads in order"
}

# 1. find_package(Herald) from the installed prefix, and only from there.
start=$SECONDS
cmake -S examples/pubsub -B "$work/installed" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DCMAKE_PREFIX_PATH="$work/prefix" -DCMAKE_FIND_USE_PACKAGE_REGISTRY=OFF >"$work/installed.log" 2>&1 ||
  { cat "$work/installed.log"; fail "installed: configure"; }
herald_dir=$(sed -n 's/^Herald_DIR:PATH=//p' "$work/installed/CMakeCache.txt")
[ "$herald_dir" = "$(find "$work/prefix" -name HeraldConfig.cmake -printf '%h')" ] ||
  fail "installed: find_package took Herald from $herald_dir, not from the temp prefix"
cmake --build "$work/installed" -j 2 >>"$work/installed.log" 2>&1 || { cat "$work/installed.log"; fail "installed: build"; }
note "installed: find_package(Herald) from $herald_dir, built in $((SECONDS - start)) s"
run_pubsub installed "$work/installed"

# 1b. The optional components from the same prefix: examples/service-test runs the
# in-process broker (Herald::testing) and the idempotent consumer (Herald::rocksdb).
start=$SECONDS
cmake -S examples/service-test -B "$work/components" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DCMAKE_PREFIX_PATH="$work/prefix" -DCMAKE_FIND_USE_PACKAGE_REGISTRY=OFF >"$work/components.log" 2>&1 &&
  cmake --build "$work/components" -j 2 >>"$work/components.log" 2>&1 ||
  { cat "$work/components.log"; fail "components: COMPONENTS rocksdb testing configure/build"; }
# Its stdout also carries the in-process broker's log lines; the verdict is the line "ok: ...".
timeout 60 "$work/components/herald-example-service-test" >"$work/components.out" 2>&1 ||
  { cat "$work/components.out"; fail "components: the service test failed"; }
result=$(grep -E '^ok: ' "$work/components.out") || fail "components: the service test printed no verdict"
note "components: find_package(Herald COMPONENTS rocksdb testing) built in $((SECONDS - start)) s; $result"

# 2. add_subdirectory of the source tree, SDK-only, without NATS. The packages an
# SDK-only build must not need are made unfindable; pkg-config ones are checked
# in the cache afterwards (CMAKE_DISABLE_FIND_PACKAGE does not reach them).
start=$SECONDS
rm -rf "$subdir_build"
# -g1 as Herald's own builds: full -g makes these compiles 1.6x as long.
cmake -S examples/pubsub -B "$subdir_build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="-O2 -g1 -DNDEBUG" -DHERALD_SOURCE_DIR="$root" -DHERALD_WITH_NATS=OFF \
  -DCMAKE_DISABLE_FIND_PACKAGE_RocksDB=ON -DCMAKE_DISABLE_FIND_PACKAGE_CLI11=ON \
  -DCMAKE_DISABLE_FIND_PACKAGE_nlohmann_json=ON -DCMAKE_DISABLE_FIND_PACKAGE_Catch2=ON \
  >"$work/subdir.log" 2>&1 || { cat "$work/subdir.log"; fail "add_subdirectory: SDK-only configure"; }
if grep -E '^__pkg_config_checked_(HTTPLIB|NATS)' "$subdir_build/CMakeCache.txt"; then
  fail "add_subdirectory: the SDK-only configure looked for cpp-httplib or libnats"
fi
cmake --build "$subdir_build" -j 2 >>"$work/subdir.log" 2>&1 || { tail -40 "$work/subdir.log"; fail "add_subdirectory: build"; }
note "add_subdirectory: SDK-only, HERALD_WITH_NATS=OFF, without RocksDB/CLI11/nlohmann_json/Catch2/httplib/libnats," \
     "built in $((SECONDS - start)) s"
if ldd "$subdir_build/herald-example-publisher" | grep libnats; then
  fail "add_subdirectory: HERALD_WITH_NATS=OFF and the publisher links libnats"
fi
run_pubsub add_subdirectory "$subdir_build"

# ... and a nats:// URL fails at once, with the reason, without touching the network.
start_ns=$(date +%s%N)
status=0
timeout 20 strace -f -qq -e trace=connect -o "$work/nats-off.strace" \
  "$subdir_build/herald-example-publisher" --broker nats://127.0.0.1:4222 --topic t --count 1 \
  >/dev/null 2>"$work/nats-off.err" || status=$?
elapsed_ms=$(( ($(date +%s%N) - start_ns) / 1000000 ))
if grep -E 'AF_INET6?' "$work/nats-off.strace"; then fail "NATS off: the client tried to connect"; fi
[ "$status" -ne 0 ] || fail "NATS off: a nats:// URL exited 0"
grep -q 'built without the backend the broker URL names.*HERALD_WITH_NATS' "$work/nats-off.err" ||
  { cat "$work/nats-off.err"; fail "NATS off: not errc::backend_not_built's message"; }
[ "$elapsed_ms" -lt 5000 ] || fail "NATS off: took $elapsed_ms ms to fail"
note "NATS off: nats:// URL -> exit $status in $elapsed_ms ms, no connect(): $(cat "$work/nats-off.err")"

# 3. pkg-config and a plain compiler line.
start=$SECONDS
pcdir=$(find "$work/prefix" -name herald.pc -printf '%h')
flags=$(PKG_CONFIG_PATH="$pcdir" pkg-config --cflags --libs herald) || fail "pkg-config herald"
mkdir -p "$work/pkg-config"
for program in publisher subscriber; do
  # shellcheck disable=SC2086  # the flags are words
  g++ -std=c++20 -O2 "examples/pubsub/$program.cc" -o "$work/pkg-config/herald-example-$program" $flags ||
    fail "pkg-config: g++ $program.cc $flags"
done
note "pkg-config: g++ -std=c++20 -O2 X.cc -o X $flags (both built in $((SECONDS - start)) s)"
run_pubsub pkg-config "$work/pkg-config"

echo "check-sdk-consumers: OK in $SECONDS s"
printf '%s' "$summary"
