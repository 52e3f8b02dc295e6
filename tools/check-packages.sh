#!/usr/bin/env bash
# CI check of the Debian packages (cmake/HeraldPackaging.cmake): builds them
# with cpack from build/, installs them with apt on this machine, verifies the
# systemd unit, runs brokerd as the user herald from the installed config,
# publishes and consumes with the installed brokerctl, builds examples/pubsub
# against the installed libherald-dev (its CMake package, then herald.pc) and
# runs it, then purges the packages and checks that nothing of them is left.
# Needs root (it installs packages) and the installed config's ports,
# 127.0.0.1:7400 and :9400, free. Exits non-zero on the first failure.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ "$(id -u)" -ne 0 ]; then exec sudo "$0" "$@"; fi
# The steps: tools/lib/package-checks.bash.
source tools/lib/apt.bash
source tools/lib/package-checks.bash

start=$SECONDS
packages=(herald-broker libherald-dev herald-blog)
unit=herald-brokerd.service
broker=127.0.0.1:7400
metrics_port=9400

preflight
work=$(mktemp -d /tmp/herald-check-packages.XXXXXX)
installed=0
broker_pid=""
trap cleanup EXIT

step "tools: dpkg-dev and file (cpack's dpkg-shlibdeps), systemd (systemd-analyze), adduser"
need_apt_packages dpkg-dev file systemd adduser

step "build and cpack (build/)"
if [ ! -f build/CMakeCache.txt ]; then
  cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo >"$work/configure.log"
fi
cmake --build build -j "$(nproc)" >"$work/build.log" || fail "build failed: $(tail -20 "$work/build.log")"
(cd build && cpack -G DEB -B "$work/debs" >"$work/cpack.log" 2>&1) || fail "cpack failed: $(cat "$work/cpack.log")"
debs=()
for p in "${packages[@]}"; do
  deb=$(ls "$work"/debs/"${p}"_*.deb 2>/dev/null) || fail "cpack made no $p package: $(ls "$work/debs")"
  debs+=("$deb")
  echo "$(basename "$deb"): $(dpkg-deb -f "$deb" Depends)"
done
check_package_contents "$work/debs"

step "apt-get install ${packages[*]}"
record_preexisting_paths "$work/debs" "$work/preexisting"
installed=1
DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${debs[@]}" >"$work/install.log" 2>&1 ||
  fail "apt-get install failed: $(tail -30 "$work/install.log")"
for p in "${packages[@]}"; do dpkg -L "$p" >"$work/$p.list"; done
check_installed_broker

step "systemd-analyze verify /usr/lib/systemd/system/$unit"
verify_unit "/usr/lib/systemd/system/$unit"

step "brokerd as herald from /etc/herald/brokerd.toml"
start_installed_broker "$work/brokerd.log"
publish_and_consume
check_data_dir

step "examples/pubsub against the installed libherald-dev"
build_and_run_example "$work/example"
build_and_run_with_pkg_config "$work/pkg-config"

step "brokerd stops on SIGTERM"
stop_installed_broker "$work/brokerd.log"

step "apt-get purge ${packages[*]}"
DEBIAN_FRONTEND=noninteractive apt-get purge -y "${packages[@]}" >"$work/purge.log" 2>&1 ||
  fail "apt-get purge failed: $(tail -30 "$work/purge.log")"
installed=0
check_nothing_left "$work" "$work/preexisting"

echo "=== check-packages: OK in $((SECONDS - start)) s (built, installed, verified, ran, purged: ${packages[*]})"
