#!/usr/bin/env bash
# Builds Herald and starts the whole system locally on its embedded defaults:
#   brokerd              127.0.0.1:7400   data in ./herald-data/broker
#   api-gateway          127.0.0.1:8080   http://127.0.0.1:8080/ is the blog's main page
#   comment-service      127.0.0.1:7411
#   post-service         127.0.0.1:7412
#   notification-service 127.0.0.1:7413
# Ctrl-C stops them all.
set -euo pipefail
cd "$(dirname "$0")/.."
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build -j "$(nproc)"
mkdir -p herald-data
pids=()
trap 'kill "${pids[@]}" 2>/dev/null; wait' EXIT INT TERM
./build/broker/brokerd --listen 127.0.0.1:7400 --data-dir herald-data/broker & pids+=($!)
./build/services/post-service --data-dir herald-data/post-service & pids+=($!)
./build/services/comment-service --data-dir herald-data/comment-service & pids+=($!)
./build/services/notification-service --data-dir herald-data/notification-service & pids+=($!)
./build/services/api-gateway & pids+=($!)
sleep 1
echo "Herald is up: broker 127.0.0.1:7400, blog http://127.0.0.1:8080/ (Ctrl-C stops)"
wait
