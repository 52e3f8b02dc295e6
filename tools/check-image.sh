#!/usr/bin/env bash
# Proves the container image without Docker (CI's machines have none), from
# the Dockerfile and docker-compose.yml themselves (tools/image/image_spec.py
# reads them; what it cannot reproduce is an error, never a skip):
#   runtime stage  mmdebstrap makes its file system from the Dockerfile's own
#                  apt-get package list; its other steps are replayed (the
#                  user, the binaries from build/); then, in a chroot on a
#                  network of its own, tools/image/runtime-checks.sh runs every
#                  binary, the CMD with its HEALTHCHECK and a brokerctl
#                  publish/consume, and the compose services with theirs.
#   build stage    a bare bookworm with the stage's steps replayed up to the
#                  compile: tools/install-deps.sh --build-only and the cmake
#                  configure, then the compile's targets as a dry run (ninja -n).
# So CI fails the day a binary links a library the image lacks, or the build
# needs a package the build-only install leaves out.
#
# Needs build/ with the binaries (CI's tools/test.sh made it), root (chroot,
# mounts, namespaces) and the Debian mirror of /etc/apt/sources.list*.
# Usage: tools/check-image.sh [--runtime-only]
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$PWD

runtime_only=0
case "${1:-}" in
  "") ;;
  --runtime-only) runtime_only=1 ;;
  *) echo "usage: $0 [--runtime-only]" >&2; exit 2 ;;
esac
[ "$(id -u)" -eq 0 ] || { echo "check-image.sh: needs root (mmdebstrap, chroot, mounts)" >&2; exit 1; }

start_time=$SECONDS
step() { printf '=== check-image: %s (%d s)\n' "$*" $((SECONDS - start_time)); }

# What the check itself runs beyond tools/install-deps.sh.
source tools/lib/apt.bash
need_apt_packages mmdebstrap python3 python3-yaml curl iproute2

work=$(mktemp -d /tmp/herald-check-image.XXXXXX)
build_pid=""
cleanup() {
  # The build stage's check, if this ends early: its mmdebstrap unmounts what
  # it mounted when it is stopped.
  if [[ -n $build_pid ]] && kill -0 "$build_pid" 2>/dev/null; then
    pkill -TERM -P "$build_pid" || true
    kill -TERM "$build_pid" 2>/dev/null || true
    wait "$build_pid" 2>/dev/null || true
  fi
  # The runtime checks' mounts ended with their namespace; mmdebstrap unmounts
  # its own. Nothing else may be mounted below $work when it goes.
  if grep -q " $work/" /proc/mounts; then
    echo "check-image.sh: mounts left below $work; not removing it" >&2
    return
  fi
  if grep -q " $work " /proc/mounts; then umount "$work"; fi
  rmdir "$work"
}
trap cleanup EXIT
# The two root file systems (about 1 GB) live in memory: dpkg writes faster
# there, and removing them is an unmount instead of a minute of rm -rf.
mount -t tmpfs -o size=4g,mode=0755 herald-check-image "$work"

source tools/image/replay.sh
eval "$(/usr/bin/python3 tools/image/image_spec.py dockerfile Dockerfile)"
/usr/bin/python3 tools/image/image_spec.py compose docker-compose.yml >/dev/null

# The host's Debian sources: the same mirror as apt here.
mirrors=()
for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list /etc/apt/sources.list.d/*.sources; do
  [ -f "$f" ] && grep -Eq 'debian\.org|debian-archive-keyring' "$f" && mirrors+=("$f")
done

# bootstrap DIR PACKAGES...: a bookworm root like the official debian:12
# images (minbase: the Essential and Priority required packages, apt).
bootstrap() {
  local dir=$1 include
  shift
  include=$(IFS=,; echo "$*")
  if ! mmdebstrap --mode=root --variant=minbase ${include:+--include="$include"} bookworm "$dir" \
    "${mirrors[@]}" >"$dir.log" 2>&1; then
    tail -n 20 "$dir.log" >&2
    echo "check-image.sh: mmdebstrap failed (packages: ${*:-none})" >&2
    return 1
  fi
}

# build_stage_check: the build stage up to its compile; its output is the
# report (ok/FAIL lines, the log's tail on failure). Runs in the background,
# beside the runtime stage: both are mostly waiting for the mirror and dpkg.
build_stage_check() {
  [[ $BUILD_BASE == debian:12* ]] || { echo "FAIL: build stage FROM $BUILD_BASE: the check builds bookworm"; return 1; }
  bootstrap "$work/build" "${BUILD_PACKAGES[@]}" || return 1
  local log=$work/build-steps.log compile rc=0
  if replay_stage BUILD "$work/build" "$repo" >"$log" 2>&1; then
    for compile in "${STAGE_COMPILES[@]}"; do
      # The compile as a dry run: its targets exist and their build graph is whole.
      if chroot "$work/build" /usr/bin/env -i -C "$STAGE_WORKDIR" PATH="$IMAGE_PATH" \
        /bin/sh -c "$compile -- -n" >>"$log" 2>&1; then
        echo "ok:   build stage: $compile (dry run)"
      else
        rc=1
      fi
    done
  else
    rc=1
  fi
  if ((rc != 0)); then
    tail -n 30 "$log"
    echo "FAIL: build stage (its log's tail above)"
    return 1
  fi
  echo "ok:   build stage: its steps up to the compile (install-deps.sh --build-only, configure) pass"
}
if ((runtime_only == 0)); then
  step "build stage: mmdebstrap bookworm, then its steps, in the background"
  build_stage_check >"$work/build-stage.out" 2>&1 &
  build_pid=$!
fi

[[ $RUNTIME_BASE == debian:12* ]] || { echo "runtime stage FROM $RUNTIME_BASE: the check builds bookworm" >&2; exit 1; }
step "runtime stage: mmdebstrap bookworm + ${RUNTIME_PACKAGES[*]}"
bootstrap "$work/runtime" "${RUNTIME_PACKAGES[@]}"
step "runtime stage: replaying its steps"
replay_stage RUNTIME "$work/runtime" "$repo"
step "runtime stage: checks in a chroot"
runtime_rc=0
unshare --mount --net --pid --fork --kill-child -- \
  tools/image/runtime-checks.sh "$work/runtime" "$repo" || runtime_rc=$?

build_rc=0
if [[ -n $build_pid ]]; then
  step "build stage: waiting for it"
  wait "$build_pid" || build_rc=$?
  cat "$work/build-stage.out"
fi

step "done"
if ((runtime_rc != 0 || build_rc != 0)); then
  echo "check-image: FAILED (runtime checks exit $runtime_rc, build stage" \
    "$( ((runtime_only)) && echo "not checked" || echo "exit $build_rc"))" >&2
  exit 1
fi
echo "check-image: the image's runtime stage runs every binary, its CMD and compose's services" \
  "$( ((runtime_only)) && echo "(build stage not checked)" || echo "and its build stage configures")" \
  "in $((SECONDS - start_time)) s"
