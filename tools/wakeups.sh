#!/usr/bin/env bash
# Wake-ups (context switches) per message on both sides, client and broker:
#   tools/wakeups.sh [BUILD_DIR]        (default: build)
# Starts BUILD_DIR's brokerd on loopback with a temp data dir, once with --fsync interval and once with
# --fsync always, and runs BUILD_DIR's broker-bench against each: (a) WAKEUPS_COUNT one-at-a-time
# publishes (--window 1, default 5000), (b) the latency workload at WAKEUPS_RATE msg/s (default 10000)
# for WAKEUPS_DURATION seconds (default 3). Prints a markdown table of context switches per message:
#   client: the bench process, all its threads, counted by `perf stat -e context-switches`
#           (or, without a working perf, by GNU time from the kernel's rusage);
#   broker: every brokerd thread's voluntary + nonvoluntary switches (/proc/PID/task/*/status),
#           read just before and just after the bench run.
# Only broker-bench flags that every build has had are used, so an older build gives "before" numbers.
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build}
count=${WAKEUPS_COUNT:-5000}
rate=${WAKEUPS_RATE:-10000}
duration=${WAKEUPS_DURATION:-3}
bench="$build/tools/bench/broker-bench"
brokerd="$build/broker/brokerd"
for exe in "$bench" "$brokerd"; do
  [ -x "$exe" ] || { echo "wakeups.sh: no $exe (build first, or give BUILD_DIR)" >&2; exit 2; }
done
work=$(mktemp -d)
bpid=""
stop_broker() {
  if [ -n "$bpid" ]; then
    kill "$bpid" 2>/dev/null || true
    wait "$bpid" 2>/dev/null || true
    bpid=""
  fi
}
trap 'stop_broker; rm -rf "$work"' EXIT

# "TID SWITCHES" for each thread of process $1.
thread_switches() {
  for status in /proc/"$1"/task/*/status; do
    awk -v tid="$(basename "$(dirname "$status")")" \
      '/^(non)?voluntary_ctxt_switches:/ { n += $2 } END { if (NR) print tid, n }' "$status" 2>/dev/null || true
  done
}

# Switches of the threads in AFTER since BEFORE (a thread started in between counts from zero).
# A thread that ended in between is not seen; brokerd's threads live as long as the broker.
switches_between() {
  awk 'NR == FNR { before[$1] = $2; next } { total += $2 - ($1 in before ? before[$1] : 0) } END { print total + 0 }' \
    "$1" "$2"
}

# How the bench's switches are counted: perf if it can count them here (Debian's perf is a wrapper
# that fails without the running kernel's linux-perf), else GNU time, else not at all.
if perf stat -x, -e context-switches -o /dev/null -- true >/dev/null 2>&1; then
  counter=perf
elif /usr/bin/time -f '%w %c' -o /dev/null -- true >/dev/null 2>&1; then
  counter=time
else
  counter=none
fi

# Runs the bench under the counter; prints the count ("?" without one), the bench's JSON goes to $1.
counted_bench() {
  local json=$1
  shift
  if [ "$counter" = perf ]; then
    perf stat -x, -e context-switches -o "$work/perf.txt" -- "$bench" "$@" --json >"$json"
    awk -F, '/context-switches/ { print $1 }' "$work/perf.txt"
  elif [ "$counter" = time ]; then
    /usr/bin/time -f '%w %c' -o "$work/time.txt" -- "$bench" "$@" --json >"$json"
    awk '{ print $1 + $2 }' "$work/time.txt"
  else
    "$bench" "$@" --json >"$json"
    echo "?"
  fi
}

per_message() {
  awk -v n="$1" -v m="$2" 'BEGIN { if (n ~ /^[0-9]+$/ && m > 0) printf "%.2f", n / m; else printf "–" }'
}

echo "| case | messages | client wake-ups / msg | broker wake-ups / msg |"
echo "|---|---|---|---|"
for fsync in interval always; do
  rm -rf "$work/data" "$work/port"
  "$brokerd" --listen 127.0.0.1:0 --data-dir "$work/data" --port-file "$work/port" --fsync "$fsync" \
    --log-level warn & bpid=$!
  for _ in $(seq 100); do [ -s "$work/port" ] && break; sleep 0.1; done
  [ -s "$work/port" ] || { echo "wakeups.sh: brokerd --fsync $fsync did not start" >&2; exit 1; }
  broker="127.0.0.1:$(cat "$work/port")"
  for workload in publish latency; do
    if [ "$workload" = publish ]; then
      label="one-at-a-time publish, $count x 100 B"
      args=(--workload publish --window 1 --count "$count")
    else
      label="end to end at $rate msg/s for $duration s"
      args=(--workload latency --rate "$rate" --duration "$duration")
    fi
    thread_switches "$bpid" >"$work/before"
    client=$(counted_bench "$work/run.json" --broker "$broker" "${args[@]}" --size 100 --runs 1)
    thread_switches "$bpid" >"$work/after"
    broker_switches=$(switches_between "$work/before" "$work/after")
    messages=$(grep -o '"messages":[0-9]*' "$work/run.json" | head -1 | cut -d: -f2)
    echo "| $label, \`--fsync $fsync\` | ${messages:-0} | $(per_message "$client" "${messages:-0}") |" \
      "$(per_message "$broker_switches" "${messages:-0}") |"
  done
  stop_broker
done
echo
echo "(context switches of the bench process, all threads, and of brokerd, all threads, during each run,"
echo " divided by the messages the run published or received; client counted by $counter; $(nproc) cores;"
echo " brokerd $("$brokerd" --version))"
