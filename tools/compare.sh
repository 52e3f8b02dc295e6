#!/usr/bin/env bash
# Herald and NATS JetStream side by side on this machine, in one run:
#   tools/compare.sh [full|tiny] [OUT_DIR]        (default: full, bench-report/)
# Starts brokerd (--fsync always, and a second one with --fsync interval for the cases marked so) and
# nats-server (-js, file storage) on loopback with temp dirs,
# runs every workload from one producer and from four, three times alternating the two systems,
# measures the machine's floors in the same run (a loopback TCP echo, a 4 KiB write + fdatasync on the
# data dirs' file system), counts wake-ups per message (tools/wakeups.sh, brokers of its own),
# writes OUT_DIR/report.md with medians, spread, ratios, SVG charts, the floors and the latency
# targets against them, and stops the servers by their pids.
# `tiny` uses small counts (CI runs it so the script keeps working); `full` takes a few minutes.
set -euo pipefail
cd "$(dirname "$0")/.."
scale=${1:-full}
out=${2:-bench-report}
build=${BUILD_DIR:-build}
bench="$build/tools/bench/broker-bench"
work=$(mktemp -d)
bpid="" ipid="" npid=""
cleanup() {
  [ -n "$bpid" ] && kill "$bpid" 2>/dev/null || true
  [ -n "$ipid" ] && kill "$ipid" 2>/dev/null || true
  [ -n "$npid" ] && kill "$npid" 2>/dev/null || true
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

"$build/broker/brokerd" --listen 127.0.0.1:0 --data-dir "$work/herald" --port-file "$work/herald.port" \
  --fsync always --log-level warn & bpid=$!
"$build/broker/brokerd" --listen 127.0.0.1:0 --data-dir "$work/herald-interval" --port-file "$work/interval.port" \
  --fsync interval --log-level warn & ipid=$!
nats-server -js -sd "$work/nats" -a 127.0.0.1 -p -1 --ports_file_dir "$work" >"$work/nats.log" 2>&1 & npid=$!
for _ in $(seq 100); do
  [ -s "$work/herald.port" ] && [ -s "$work/interval.port" ] && ls "$work"/nats-server_*.ports >/dev/null 2>&1 && break
  sleep 0.1
done
herald="127.0.0.1:$(cat "$work/herald.port")"
herald_interval="127.0.0.1:$(cat "$work/interval.port")"
nats=$(grep -o 'nats://[0-9.:]*' "$work"/nats-server_*.ports | head -1)

if [ "$scale" = tiny ]; then
  n100=2000 n1k=1000 rate=1000 duration=1 fan=1000 backlog=2000 echoes=2000 syncs=200
  wakeups_env=(WAKEUPS_COUNT=200 WAKEUPS_RATE=1000 WAKEUPS_DURATION=1)
else
  n100=1000000 n1k=200000 rate=10000 duration=10 fan=500000 backlog=1000000 echoes=20000 syncs=2000
  wakeups_env=()
fi
# CPU time the hypervisor gave to something else while this VM had work (steal), as the
# kernel counts it in /proc/stat: "STEAL TOTAL" in clock ticks; steal_pct FROM TO.
cpu_ticks() { awk '/^cpu / { t = 0; for (i = 2; i <= 9; i++) t += $i; print $9, t }' /proc/stat; }
steal_pct() {
  set -- $1 $2
  awk -v s="$(( $3 - $1 ))" -v t="$(( $4 - $2 ))" 'BEGIN { printf "%.1f", (t > 0 ? 100 * s / t : 0) }'
}
run() { "$bench" --system both --broker "$herald" --nats-url "$nats" --runs 3 --json "$@" >>"$work/runs.jsonl"; }
# The same against the --fsync interval brokerd (WAL fsynced every 100 ms, as JetStream syncs by
# default); its cases, and its Herald workloads, say so.
run_interval() {
  "$bench" --system both --broker "$herald_interval" --nats-url "$nats" --runs 3 --json "$@" |
    sed -e 's/"case":"\([^"]*\)"/"case":"\1, Herald fsync interval"/' \
        -e '/"system":"herald"/s/"workload":"\([^"]*\)"/"workload":"\1 fsync-interval"/' >>"$work/runs.jsonl"
}
# The machine alone, no broker: what Herald's latencies are compared with.
floor() { "$bench" --runs 3 --json "$@" >>"$work/runs.jsonl"; }
# Peak resident memory of a server so far (VmHWM), in MiB.
peak_mib() { awk '/^VmHWM:/ { printf "%.1f", $2 / 1024 }' "/proc/$1/status"; }
ticks_start=$(cpu_ticks)
run --workload publish --count "$n100" --size 100
run --workload publish --count "$n100" --size 100 --producers 4
run --workload publish --count "$n1k" --size 1024
# A window of 1,000 unacked per producer: what a service that bounds its memory would run.
run --workload publish --count "$n100" --size 100 --window 1000
run --workload publish --count "$n1k" --size 1024 --window 1000
run --workload publish --count "$((n100 / 100))" --size 100 --window 1   # one at a time
run_interval --workload publish --count "$((n100 / 100))" --size 100 --window 1
rss_publish_herald=$(peak_mib "$bpid") rss_publish_nats=$(peak_mib "$npid")
ticks_latency=$(cpu_ticks)
floor --workload echo --count "$echoes" --size 100
floor --workload fsync --count "$syncs" --dir "$work"   # the brokers' data dirs are in $work
run --workload latency --rate "$rate" --duration "$duration" --size 100
run --workload latency --rate "$rate" --duration "$duration" --size 100 --producers 4   # 4 x rate/4
run_interval --workload latency --rate "$rate" --duration "$duration" --size 100
ticks_latency_end=$(cpu_ticks)
run --workload fanout --count "$fan" --groups 4 --size 100
run --workload fanout --count "$fan" --groups 4 --size 100 --producers 4
run --workload backlog --count "$backlog" --size 100
run --workload backlog --count "$backlog" --size 100 --producers 4   # filled by 4; the drain is timed
rss_all_herald=$(peak_mib "$bpid") rss_all_nats=$(peak_mib "$npid")
ticks_end=$(cpu_ticks)

"$bench" --report-from "$work/runs.jsonl" --report-dir "$out"
{
  echo
  echo "## Memory (peak RSS of the server process, VmHWM)"
  echo "| after | brokerd (\`--fsync always\`) | nats-server |"
  echo "|---|---|---|"
  echo "| the publish workloads | $rss_publish_herald MiB | $rss_publish_nats MiB |"
  echo "| every workload (fan-out, and backlogs of $backlog drained by a group) | $rss_all_herald MiB | $rss_all_nats MiB |"
  echo
  echo "## Wake-ups per message (tools/wakeups.sh, this build, brokerd instances of its own)"
  env "${wakeups_env[@]}" tools/wakeups.sh "$build" || echo "(tools/wakeups.sh failed)"
  echo
  echo "## Settings"
  echo "- Herald: \`brokerd --fsync always\` (fsync before every ack; group commit), $("$build/broker/brokerd" --version);"
  echo "  the cases marked \`Herald fsync interval\`: \`brokerd --fsync interval\` (WAL fsynced every 100 ms)"
  echo "- Floors: \`broker-bench --workload echo\` ($echoes round trips of 100 B) and \`--workload fsync\`"
  echo "  ($syncs writes of 4 KiB + fdatasync in the brokers' work dir), 3 runs each, between the publish and"
  echo "  latency workloads"
  echo "- NATS: \`$(nats-server --version)\`, \`-js\`, a stream with file storage (JetStream's default: no fsync per ack)"
  echo "- Both: loopback, same machine; one producer, or four where the case says so (a connection and a window"
  echo "  each; a latency run's four send every fourth message of the one schedule); window 10,000 unacked"
  echo "  publishes per producer (1 for one-at-a-time, 1,000 where the case says so; NATS one at a time:"
  echo "  synchronous js_Publish, as a NATS user would call it), consumers ack each"
  echo "  message with a window of 1,000 (Herald member window, NATS MaxAckPending); latency from the send schedule"
  echo "  (sends sleep with 1 ns timer slack; the rows 'bench's own send lateness' show how late they woke anyway);"
  echo "  payloads: fresh pseudo-random bytes for every message, from one generator for both (nothing compresses)"
  echo "- Scale: $scale; $(nproc) cores; $(date -u +%Y-%m-%dT%H:%MZ)"
  echo "- CPU steal (time the hypervisor ran something else while this VM's CPUs had work, /proc/stat):"
  echo "  $(steal_pct "$ticks_start" "$ticks_end")% over the whole run, $(steal_pct "$ticks_latency" "$ticks_latency_end")% during the latency workloads"
} >>"$out/report.md"
cp "$work/runs.jsonl" "$out/runs.jsonl"
echo "report: $out/report.md"
