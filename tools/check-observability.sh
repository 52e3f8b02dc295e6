#!/usr/bin/env bash
# Checks what deploy/ ships for monitoring brokerd:
#   rules       promtool check rules and promtool test rules (the unit tests
#               in deploy/prometheus/herald-alerts.test.yml), promtool check
#               config of the example prometheus.yml;
#   dashboards  every deploy/grafana/*.json parses, its datasources and
#               $variables resolve (tools/observability/check_dashboard.py),
#               and promtool parses each of its queries;
#   live scrape a real brokerd from build/ on loopback gets traffic from
#               brokerctl (a topic, publishes, a group that acks, a group
#               that dead-letters), and every metric name and label the
#               dashboards and rules read must be in its /metrics
#               (tools/observability/check_metrics_used.py);
#   the checks  broken copies of the files (a misspelled metric, an undefined
#               variable, a query that is not PromQL, a wrong label value, a
#               wrong rule test) must fail them, so a check that stopped
#               looking cannot pass quietly.
# Installs promtool (Debian's prometheus package) and python3-yaml when they
# are missing (as root, as CI runs it; otherwise it says what to install).
# Needs build/broker/brokerd and build/tools/brokerctl/brokerctl (CI's
# tools/test.sh builds them); HERALD_BUILD_DIR names another build dir.
# Usage: tools/check-observability.sh
set -euo pipefail
cd "$(dirname "$0")/.."
[ $# -eq 0 ] || { echo "usage: $0 (no arguments; HERALD_BUILD_DIR=DIR for another build dir)" >&2; exit 2; }

build=${HERALD_BUILD_DIR:-build}
brokerd=$build/broker/brokerd
brokerctl=$build/tools/brokerctl/brokerctl
python=/usr/bin/python3
rules=deploy/prometheus/herald-alerts.yml
rule_tests=deploy/prometheus/herald-alerts.test.yml
dashboards=(deploy/grafana/*.json)
# Metric names the rules and dashboards read that brokerd does not export:
# Prometheus's own up, and node_exporter's file system metrics (HeraldDiskNearlyFull).
external=up,node_filesystem_avail_bytes,node_filesystem_size_bytes

start_time=$SECONDS
step() { printf '=== check-observability: %s (%d s)\n' "$*" $((SECONDS - start_time)); }
fail() { echo "check-observability.sh: $*" >&2; exit 1; }

for f in "$brokerd" "$brokerctl"; do
  [ -x "$f" ] || fail "$f is missing: build it first (tools/test.sh, or cmake --build $build --target brokerd brokerctl)"
done

# promtool comes with Debian's prometheus package.
source tools/lib/apt.bash
need_apt_packages prometheus python3 python3-yaml

work=$(mktemp -d /tmp/herald-check-observability.XXXXXX)
brokerd_pid=""
cleanup() {
  if [[ -n $brokerd_pid ]] && kill -0 "$brokerd_pid" 2>/dev/null; then
    kill -TERM "$brokerd_pid"
    # brokerd answers in-flight publishes for up to 5 s before it exits.
    for _ in $(seq 100); do kill -0 "$brokerd_pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$brokerd_pid" 2>/dev/null || true
    wait "$brokerd_pid" 2>/dev/null || true
  fi
  rm -rf "$work"
}
trap cleanup EXIT

step "promtool check rules, test rules, check config"
promtool check rules "$rules"
promtool test rules "$rule_tests"
promtool check config deploy/prometheus/prometheus.yml

# check_dashboard DASHBOARD: the JSON parses, its datasources and variables
# resolve, and promtool parses every query (as a rule file, the one way
# promtool reads PromQL without a server).
check_dashboard() {
  "$python" -m json.tool "$1" >/dev/null || { echo "$1 is not valid JSON" >&2; return 1; }
  "$python" tools/observability/check_dashboard.py "$1" || return 1
  "$python" tools/observability/dashboard_as_rules.py "$1" >"$work/dashboard-queries.yml" || return 1
  promtool check rules "$work/dashboard-queries.yml" >"$work/promtool.out" 2>&1 ||
    { cat "$work/promtool.out" >&2; return 1; }
}
step "dashboards: JSON, datasources and variables, PromQL"
for d in "${dashboards[@]}"; do
  check_dashboard "$d" || fail "$d: see above"
  echo "$d: datasources and variables resolve; promtool parses its $(grep -c 'record:' "$work/dashboard-queries.yml") queries"
done

step "a live brokerd on loopback"
"$brokerd" --listen 127.0.0.1:0 --metrics-listen 127.0.0.1:0 --data-dir "$work/data" >"$work/brokerd.log" 2>&1 &
brokerd_pid=$!
port="" metrics_port=""
for _ in $(seq 100); do
  port=$(sed -n 's/.*listening on 127\.0\.0\.1:\([0-9]*\).*/\1/p' "$work/brokerd.log")
  metrics_port=$(sed -n 's|.*metrics on http://127\.0\.0\.1:\([0-9]*\)/metrics.*|\1|p' "$work/brokerd.log")
  [[ -n $port && -n $metrics_port ]] && break
  kill -0 "$brokerd_pid" 2>/dev/null || { cat "$work/brokerd.log" >&2; fail "brokerd exited before it listened"; }
  sleep 0.1
done
[[ -n $port && -n $metrics_port ]] || { cat "$work/brokerd.log" >&2; fail "brokerd did not listen within 10 s"; }

ctl() { "$brokerctl" --broker "127.0.0.1:$port" --connect-timeout 5 "$@"; }
# Every per-topic and per-group family needs a topic and a group to appear;
# the audit group's one allowed delivery, not acked, sends its messages to
# payments.dlq (herald_group_dead_letters_total).
ctl topic create payments >/dev/null
printf 'pay 1\npay 2\npay 3\n' | ctl publish payments
ctl consume payments --group ledger --count 1 --timeout 1 >/dev/null
ctl consume payments --group audit --max-deliveries 1 --no-ack --timeout 1 >/dev/null
"$python" - "http://127.0.0.1:$metrics_port/metrics" "$work/metrics.txt" <<'EOF'
import sys, urllib.request
with urllib.request.urlopen(sys.argv[1], timeout=5) as reply, open(sys.argv[2], "wb") as out:
    out.write(reply.read())
EOF
grep -q '^herald_group_dead_letters_total{topic="payments",group="audit"} [1-9]' "$work/metrics.txt" ||
  fail "the traffic left no dead letters in the scrape; the check below would see too little"

step "every metric the dashboards and rules read is in the scrape"
dashboard_args=()
for d in "${dashboards[@]}"; do dashboard_args+=(--dashboard "$d"); done
"$python" tools/observability/check_metrics_used.py --scrape "$work/metrics.txt" --external "$external" \
  "${dashboard_args[@]}" --rules "$rules"

step "the checks catch broken copies"
# expect_failure WHAT CMD...: CMD must fail; prints the first line of its complaint.
expect_failure() {
  local what=$1
  shift
  if "$@" >"$work/out" 2>&1; then
    cat "$work/out" >&2
    fail "a $what passed the check: $*"
  fi
  echo "caught a $what: $(grep -m1 -vE '^\s*(FAILED:|Checking |Unit Testing:|$)' "$work/out" | sed 's/^ *//' | cut -c1-200)"
}
mkdir "$work/broken"
sed 's/herald_group_lag_messages{/herald_group_lag_message{/' "${dashboards[0]}" >"$work/broken/misspelled.json"
expect_failure "dashboard with a misspelled metric" \
  "$python" tools/observability/check_metrics_used.py --scrape "$work/metrics.txt" --external "$external" \
  --dashboard "$work/broken/misspelled.json"
# shellcheck disable=SC2016 # $topic and $topics are the dashboard's text
sed '0,/topic=~\\"\$topic\\"/s//topic=~\\"$topics\\"/' "${dashboards[0]}" >"$work/broken/variable.json"
expect_failure "dashboard with an undefined variable" \
  "$python" tools/observability/check_dashboard.py "$work/broken/variable.json"
sed 's/histogram_quantile(0.5, /histogram_quantile(/' "${dashboards[0]}" >"$work/broken/promql.json"
expect_failure "dashboard query that is not PromQL" check_dashboard "$work/broken/promql.json"
sed 's/code="StorageError"/code="StorageErrors"/' "$rules" >"$work/broken/herald-alerts.yml"
expect_failure "rule with a label value brokerd never exports" \
  "$python" tools/observability/check_metrics_used.py --scrape "$work/metrics.txt" --external "$external" \
  --rules "$work/broken/herald-alerts.yml"
cp "$rules" "$work/broken/herald-alerts.yml"
sed 's/it is 210 messages now/it is 200 messages now/' "$rule_tests" >"$work/broken/herald-alerts.test.yml"
expect_failure "rule test expecting the wrong annotation" promtool test rules "$work/broken/herald-alerts.test.yml"

step "passed"
