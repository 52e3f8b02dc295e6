#!/usr/bin/env bash
# Builds Herald and starts the system locally on its embedded defaults:
# brokerd on 127.0.0.1:7400 with its data in ./herald-data. Ctrl-C stops it.
set -euo pipefail
cd "$(dirname "$0")/.."
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build -j "$(nproc)"
exec ./build/broker/brokerd --listen 127.0.0.1:7400 --data-dir ./herald-data
