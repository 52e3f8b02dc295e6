#!/bin/sh
# Checks the built man pages: each one exists, and every --flag that
# `PROGRAM [COMMAND] --help` prints is on its page (help2man writes - as \-).
# usage: check-pages.sh PAGE_DIR BROKERD BROKERCTL COMMAND...
set -eu
dir=$1 brokerd=$2 brokerctl=$3
shift 3
check() {  # check PAGE HELP_COMMAND...
  page=$dir/$1.1
  shift
  [ -s "$page" ] || { echo "missing: $page"; exit 1; }
  for flag in $("$@" --help | grep -o -- '--[a-z][a-z0-9-]*' | sort -u); do
    escaped=$(printf '%s' "$flag" | sed 's/-/\\\\-/g')
    grep -q -- "$escaped" "$page" || { echo "$page lacks $flag"; exit 1; }
  done
}
check brokerd "$brokerd"
check brokerctl "$brokerctl"
for command in "$@"; do
  check "brokerctl-$command" "$brokerctl" "$command"
done
echo "man pages ok: brokerd, brokerctl, $*"
