#!/usr/bin/env bash
# Builds Herald and starts the whole system locally on its embedded defaults:
#   brokerd              127.0.0.1:7400   data in ./herald-data/broker
#   api-gateway          127.0.0.1:8080   http://127.0.0.1:8080/ is the blog's main page
#   comment-service      127.0.0.1:7411
#   post-service         127.0.0.1:7412
#   notification-service 127.0.0.1:7413
# With --nats, a 3-node NATS JetStream cluster (127.0.0.1:4222-4224, data in
# ./herald-data/nats, tools/nats-cluster.sh) takes brokerd's place and the
# services run unchanged but for --broker nats://...
# Ctrl-C stops them all.
set -euo pipefail
cd "$(dirname "$0")/.."
backend=herald
case "${1:-}" in
  "") ;;
  --nats) backend=nats ;;
  *) echo "usage: tools/run-local.sh [--nats]" >&2; exit 2 ;;
esac
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build -j "$(nproc)"
mkdir -p herald-data
pids=()
trap 'kill "${pids[@]}" 2>/dev/null; wait' EXIT INT TERM
if [ "$backend" = herald ]; then
  broker=127.0.0.1:7400
  ./build/broker/brokerd --listen "$broker" --data-dir herald-data/broker & pids+=($!)
else
  rm -f herald-data/nats-cluster.out
  tools/nats-cluster.sh herald-data/nats > >(tee herald-data/nats-cluster.out) & pids+=($!)
  for _ in $(seq 1 300); do
    grep -q "cluster up" herald-data/nats-cluster.out 2>/dev/null && break
    kill -0 "${pids[0]}" 2>/dev/null || exit 1
    sleep 0.1
  done
  broker=nats://127.0.0.1:4222,127.0.0.1:4223,127.0.0.1:4224
fi
./build/services/post-service --data-dir herald-data/post-service --broker "$broker" & pids+=($!)
./build/services/comment-service --data-dir herald-data/comment-service --broker "$broker" & pids+=($!)
./build/services/notification-service --data-dir herald-data/notification-service --broker "$broker" & pids+=($!)
./build/services/api-gateway --broker "$broker" & pids+=($!)
sleep 1
echo "Herald is up: broker $broker, blog http://127.0.0.1:8080/ (Ctrl-C stops)"
wait
