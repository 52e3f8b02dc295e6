#!/usr/bin/env bash
# runtime-checks.sh ROOT REPO: what tools/check-image.sh proves in the rebuilt
# runtime stage ROOT (its steps replayed). Runs in namespaces of its own
# (check-image.sh starts it with unshare --mount --net --pid): a network with
# only loopback, so the image's fixed ports and 0.0.0.0 listeners are safe;
# mounts and processes that end with it.
#   1. every binary: its libraries all resolve (ldd) and --help (and --version
#      where it has one) exits 0 as the image's user;
#   2. the image's CMD as `docker run` starts it: HEALTHCHECK fails before and
#      passes after, every EXPOSEd port accepts, brokerctl creates a topic,
#      publishes and consumes; SIGTERM stops it cleanly; the data is the user's;
#   3. docker-compose.yml's services with fresh volumes, names resolving as on
#      compose's network: every health check fails before and passes after, and
#      a comment through the gateway's published port is counted on its post.
set -euo pipefail

root=$1
repo=$2
source "$repo/tools/image/replay.sh"
eval "$(/usr/bin/python3 "$repo/tools/image/image_spec.py" dockerfile "$repo/Dockerfile")"
eval "$(/usr/bin/python3 "$repo/tools/image/image_spec.py" compose "$repo/docker-compose.yml")"
# The settings of the runtime stage (its steps were replayed before the
# namespaces), and the binaries its COPYs --from=build put in place.
STAGE_WORKDIR=/ STAGE_USER=root STAGE_EXPOSE=() binaries=()
for i in "${!RUNTIME_STEP_KIND[@]}"; do
  case ${RUNTIME_STEP_KIND[$i]} in
    workdir) STAGE_WORKDIR=${RUNTIME_STEP_ARG[$i]} ;;
    user) STAGE_USER=${RUNTIME_STEP_ARG[$i]} ;;
    expose) STAGE_EXPOSE+=("${RUNTIME_STEP_ARG[$i]}") ;;
    copy)
      [[ ${RUNTIME_STEP_FROM[$i]} == build ]] || continue
      dest=${RUNTIME_STEP_DEST[$i]}
      while IFS= read -r src; do
        if [[ $dest == */ ]]; then binaries+=("$dest$(basename "$src")"); else binaries+=("$dest"); fi
      done <<<"${RUNTIME_STEP_ARG[$i]}"
      ;;
  esac
done

logs=$root/tmp/check-logs
mkdir -p "$logs"
ip link set lo up
mount -t proc proc "$root/proc"

pids=() names=()
failures=0
fail() {
  echo "FAIL: $*" >&2
  failures=$((failures + 1))
}
pass() { echo "ok:   $*"; }

# as_user CMD...: CMD in the image as its USER, in its WORKDIR.
as_user() {
  image_command "$root" "$STAGE_USER" "$STAGE_WORKDIR" "$@"
  "${IMAGE_COMMAND[@]}"
}

# probe CMD...: as_user CMD, bounded as Docker bounds a health check; quiet.
probe() {
  image_command "$root" "$STAGE_USER" "$STAGE_WORKDIR" "$@"
  timeout 10 "${IMAGE_COMMAND[@]}" >/dev/null 2>&1
}

# start NAME CMD...: CMD in the background as the container would run it.
start() {
  local name=$1
  shift
  image_command "$root" "$STAGE_USER" "$STAGE_WORKDIR" "$@"
  "${IMAGE_COMMAND[@]}" >"$logs/$name.log" 2>&1 &
  pids+=($!)
  names+=("$name")
}

# eventually SECONDS CMD...: CMD until it succeeds, at most SECONDS.
eventually() {
  local deadline=$((SECONDS + $1))
  shift
  until "$@" >/dev/null 2>&1; do
    ((SECONDS < deadline)) || return 1
    sleep 0.5
  done
}

# healthy_within SECONDS NAME CMD...: the health check CMD passes within
# SECONDS, while the process started as NAME still runs.
healthy_within() {
  local deadline=$((SECONDS + $1)) name=$2 i pid=""
  shift 2
  for i in "${!names[@]}"; do [[ ${names[$i]} != "$name" ]] || pid=${pids[$i]}; done
  until probe "$@"; do
    ((SECONDS < deadline)) && kill -0 "$pid" 2>/dev/null || return 1
    sleep 0.5
  done
}

# stop_all: SIGTERM to every started process; each must exit 0 within 15 s.
stop_all() {
  local i rc
  for i in "${!pids[@]}"; do kill -TERM "${pids[$i]}" 2>/dev/null || true; done
  for i in "${!pids[@]}"; do
    rc=0
    timeout 15 tail --pid="${pids[$i]}" -f /dev/null || { kill -KILL "${pids[$i]}" 2>/dev/null || true; }
    wait "${pids[$i]}" || rc=$?
    ((rc == 0)) || fail "${names[$i]} exited $rc (after SIGTERM, or before)"
  done
  pids=() names=()
}

show_logs() {  # the servers' logs (a failed --help is in its FAIL line)
  local f
  for f in "$logs"/*.log; do
    [[ $f != *-help.log ]] || continue
    echo "--- $(basename "$f") (tail)" >&2
    tail -n 15 "$f" >&2
  done
}

# --- 1. every binary -------------------------------------------------------------------------------
for bin in "${binaries[@]}"; do
  name=$(basename "$bin")
  missing=$(chroot "$root" ldd "$bin" 2>&1 | grep "not found" || true)
  if [[ -n $missing ]]; then
    fail "$name: libraries missing from the image: $(echo "$missing" | awk '{print $1}' | tr '\n' ' ')"
    continue
  fi
  rc=0
  as_user "$name" --help >"$logs/$name-help.log" 2>&1 || rc=$?
  if ((rc != 0)) || ! grep -q -i "usage" "$logs/$name-help.log"; then
    fail "$name --help exited $rc: $(head -c 300 "$logs/$name-help.log")"
    continue
  fi
  if grep -q -- "--version" "$logs/$name-help.log"; then
    rc=0
    version=$(as_user "$name" --version 2>&1) || rc=$?
    ((rc == 0)) || { fail "$name --version exited $rc: $version"; continue; }
    pass "$name: libraries resolve, --help, --version ($version)"
  else
    pass "$name: libraries resolve, --help"
  fi
done
((${#binaries[@]} > 0)) || fail "the runtime stage COPYs no binaries from the build stage"

# --- 2. the image's CMD and HEALTHCHECK -------------------------------------------------------------
if probe "${RUNTIME_HEALTHCHECK[@]}"; then
  fail "HEALTHCHECK passes with nothing running: it checks nothing"
fi
start cmd "${RUNTIME_CMD[@]}"
if healthy_within 30 cmd "${RUNTIME_HEALTHCHECK[@]}"; then
  pass "CMD (${RUNTIME_CMD[*]}) runs as $STAGE_USER; HEALTHCHECK (${RUNTIME_HEALTHCHECK[*]}) failed before, passes now"
else
  fail "HEALTHCHECK does not pass within 30 s of CMD, or CMD exited"
fi
for port in "${STAGE_EXPOSE[@]}"; do
  if timeout 5 bash -c "exec 3<>/dev/tcp/127.0.0.1/$port" 2>/dev/null; then
    pass "EXPOSE $port: accepts connections"
  else
    fail "EXPOSE $port: nothing listens there under CMD"
  fi
done
payload="image-check $(date +%s%N)"
rc=0
{
  as_user brokerctl topic create image-check &&
    as_user brokerctl publish image-check "$payload" &&
    got=$(as_user brokerctl consume image-check --from earliest --count 1 --format raw)
} >"$logs/brokerctl.log" 2>&1 || rc=$?
if ((rc == 0)) && [[ ${got:-} == "$payload" ]]; then
  pass "brokerctl: topic create, publish, consume got the message back"
else
  fail "brokerctl publish/consume (exit $rc, got '${got:-}', want '$payload')"
fi
stop_all
not_users=$(find "$root$STAGE_WORKDIR" ! -user "$(chroot "$root" id -u "$STAGE_USER")" | head -3)
if [[ -n $not_users ]]; then
  fail "files in $STAGE_WORKDIR not owned by $STAGE_USER: $not_users"
else
  pass "SIGTERM stopped CMD with exit 0; its data in $STAGE_WORKDIR is $STAGE_USER's"
fi

# --- 3. docker-compose.yml --------------------------------------------------------------------------
# Each service gets a fresh volume: the image's (empty) data dir.
find "$root$STAGE_WORKDIR" -mindepth 1 -delete
# On compose's network a service's name resolves to its container; here all
# of them are this loopback.
echo "127.0.0.1 localhost ${COMPOSE_SERVICES[*]}" >"$root/etc/hosts"
health_of() {  # health_of INDEX: the service's health check command (its own, or the image's)
  local -n own=COMPOSE_HEALTHCHECK_$1
  if declare -p "COMPOSE_HEALTHCHECK_$1" >/dev/null 2>&1; then
    printf '%s\0' "${own[@]}"
  else
    printf '%s\0' "${RUNTIME_HEALTHCHECK[@]}"
  fi
}
for i in "${!COMPOSE_SERVICES[@]}"; do
  mapfile -d '' -t health < <(health_of "$i")
  if probe "${health[@]}"; then
    fail "${COMPOSE_SERVICES[$i]}: its health check passes before anything runs"
  fi
done
for i in "${!COMPOSE_SERVICES[@]}"; do
  declare -n command=COMPOSE_COMMAND_$i
  start "${COMPOSE_SERVICES[$i]}" "${command[@]}"
  unset -n command
done
for i in "${!COMPOSE_SERVICES[@]}"; do
  mapfile -d '' -t health < <(health_of "$i")
  if healthy_within 30 "${COMPOSE_SERVICES[$i]}" "${health[@]}"; then
    pass "compose ${COMPOSE_SERVICES[$i]}: runs; health check (${health[*]}) failed before, passes now"
  else
    fail "compose ${COMPOSE_SERVICES[$i]}: health check (${health[*]}) does not pass within 30 s, or the service exited"
  fi
done
# The blog's flow through the one published port: a post, a comment on it,
# and the count the post-service keeps from the comment-service's events.
gateway=""
for i in "${!COMPOSE_SERVICES[@]}"; do
  declare -n ports=COMPOSE_PORTS_$i
  ((${#ports[@]} == 0)) || gateway=127.0.0.1:${ports[0]}
  unset -n ports
done
counted=0
if [[ -z $gateway ]]; then
  fail "compose publishes no port: nothing to reach the blog through"
else
  post=$(curl -sf --max-time 10 -X POST -H 'Content-Type: application/json' \
    -d '{"author": "alice", "title": "image check", "content": "text"}' "http://$gateway/api/posts" |
    /usr/bin/python3 -c 'import json, sys; print(json.load(sys.stdin)["id"])' 2>/dev/null) || post=""
  if [[ -n $post ]] && curl -sf --max-time 10 -X POST -H 'Content-Type: application/json' \
    -d '{"author": "bob", "content": "hi"}' "http://$gateway/api/posts/$post/comments" >/dev/null; then
    count_is_one() {
      curl -sf --max-time 5 "http://$gateway/api/posts/$post" |
        /usr/bin/python3 -c 'import json, sys; sys.exit(json.load(sys.stdin)["comment_count"] != 1)' 2>/dev/null
    }
    if eventually 30 count_is_one; then counted=1; fi
  fi
  if ((counted)); then
    pass "compose: a comment through the gateway ($gateway) is counted on its post"
  else
    fail "compose: a comment through the gateway ($gateway) was not counted on its post (post '$post')"
  fi
fi
stop_all

if ((failures > 0)); then
  show_logs
  echo "runtime checks: $failures failed" >&2
  exit 1
fi
