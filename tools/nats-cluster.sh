#!/usr/bin/env bash
# Starts a 3-node NATS JetStream cluster on loopback, for running Herald's
# services on NATS (--broker nats://...). Each node keeps its config, log and
# JetStream store under DIR/nN. Runs in the foreground; Ctrl-C (or SIGTERM)
# stops the three servers by their pids.
#
#   tools/nats-cluster.sh [DIR] [BASE_PORT]
#
# Client ports BASE_PORT..BASE_PORT+2 (default 4222..4224), cluster routes
# BASE_PORT+2000.., monitoring (/healthz, /jsz) BASE_PORT+4000... The services'
# flag is printed once the cluster has elected its JetStream meta leader.
set -euo pipefail

DIR=${1:-herald-data/nats}
BASE=${2:-4222}
NODES=3

command -v nats-server >/dev/null || { echo "nats-server is not installed (tools/install-deps.sh)" >&2; exit 1; }
mkdir -p "$DIR"
DIR=$(cd "$DIR" && pwd)

routes=""
for i in $(seq 0 $((NODES - 1))); do
  routes+="${routes:+, }nats-route://127.0.0.1:$((BASE + 2000 + i))"
done

pids=()
stop() {
  if [ ${#pids[@]} -gt 0 ]; then kill "${pids[@]}" 2>/dev/null || true; fi
  wait 2>/dev/null || true
}
trap stop EXIT
trap 'exit 130' INT TERM

url=""
for i in $(seq 0 $((NODES - 1))); do
  name="n$((i + 1))"
  mkdir -p "$DIR/$name"
  # Replicated streams need every node's clocks and routes; max_file_store
  # bounds what the node may put on disk.
  cat >"$DIR/$name/nats.conf" <<EOF
server_name: $name
listen: 127.0.0.1:$((BASE + i))
http: 127.0.0.1:$((BASE + 4000 + i))
jetstream {
  store_dir: "$DIR/$name/store"
  max_memory_store: 64MB
  max_file_store: 4GB
}
cluster {
  name: herald
  listen: 127.0.0.1:$((BASE + 2000 + i))
  routes: [$routes]
}
EOF
  nats-server -c "$DIR/$name/nats.conf" -l "$DIR/$name/nats.log" &
  pids+=($!)
  url+="${url:+,}127.0.0.1:$((BASE + i))"
done

# GET on loopback without curl (not on a minimal Debian).
http_get() {
  timeout 2 bash -c 'exec 3<>"/dev/tcp/127.0.0.1/$1" && printf "GET $2 HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n" >&3 && cat <&3' _ "$1" "$2"
}

# Ready when some node reports a JetStream meta leader (the cluster can then
# create replicated streams). Bounded: 30 s.
ready=""
for _ in $(seq 1 300); do
  for i in $(seq 0 $((NODES - 1))); do
    if http_get $((BASE + 4000 + i)) /jsz 2>/dev/null | grep -Eq '"leader": ?"[^"]+"'; then
      ready=yes
      break
    fi
  done
  [ -n "$ready" ] && break
  for pid in "${pids[@]}"; do
    kill -0 "$pid" 2>/dev/null || { echo "a nats-server exited; see $DIR/n*/nats.log" >&2; exit 1; }
  done
  sleep 0.1
done
[ -n "$ready" ] || { echo "no JetStream meta leader within 30 s; see $DIR/n*/nats.log" >&2; exit 1; }

echo "NATS JetStream cluster up (3 nodes, data in $DIR): --broker nats://$url"
wait
