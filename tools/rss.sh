#!/usr/bin/env bash
# brokerd's memory under the benchmark workloads: starts brokerd (--fsync always) on loopback with a temp
# data dir, runs broker-bench's workloads one after the other and prints each result with the broker's
# RSS and peak RSS (VmHWM) after it. Usage: tools/rss.sh [BUILD_DIR] [extra brokerd flags...]
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build}
shift || true
work=$(mktemp -d)
"$build/broker/brokerd" --listen 127.0.0.1:0 --port-file "$work/port" --data-dir "$work/data" \
  --fsync always --log-level warn "$@" 2>"$work/log" & pid=$!
trap 'kill $pid 2>/dev/null; wait $pid 2>/dev/null; rm -rf "$work"' EXIT
for _ in $(seq 100); do [ -s "$work/port" ] && break; sleep 0.05; done
broker="127.0.0.1:$(cat "$work/port")"
mib() { awk -v k="$1" '$1 == k":" { printf "%.1f", $2 / 1024 }' "/proc/$pid/status"; }
run() {
  "$build/tools/bench/broker-bench" --broker "$broker" "$@" | grep -E '^(publish|latency|fanout|backlog)'
  echo "    brokerd RSS $(mib VmRSS) MiB, peak $(mib VmHWM) MiB"
}
run --workload publish --count 1000000 --size 100
run --workload publish --count 200000 --size 1024
run --workload publish --count 1000000 --size 100 --producers 4
run --workload latency --rate 10000 --duration 10
run --workload fanout --count 500000 --groups 4
run --workload backlog --count 1000000
