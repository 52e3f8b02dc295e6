# The steps of tools/check-packages.sh, sourced by it. They read its globals:
# packages, unit, broker, metrics_port, work, installed, broker_pid.
# shellcheck shell=bash disable=SC2154

step() { echo "=== $*"; }

fail() {
  echo "check-packages: FAIL: $*" >&2
  exit 1
}

# True when something accepts TCP connections on 127.0.0.1:$1.
port_listening() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# The check installs, runs and purges on this machine: anything of Herald's
# already here would either be destroyed by the purge or hide a leftover.
preflight() {
  local p
  for p in "${packages[@]}"; do
    if dpkg-query -W -f='${Status}\n' "$p" 2>/dev/null | grep -qv '^unknown\|not-installed'; then
      fail "package $p is already on this machine ($(dpkg-query -W -f='${Status}' "$p")): apt-get purge $p first"
    fi
  done
  getent passwd herald >/dev/null && fail "a user herald exists already (the packages create and remove it)"
  getent group herald >/dev/null && fail "a group herald exists already (the packages create and remove it)"
  [ -e /etc/herald ] && fail "/etc/herald exists already (the purge removes it)"
  [ -e /var/lib/herald ] && fail "/var/lib/herald exists already (the purge removes it)"
  port_listening "${broker##*:}" && fail "something listens on $broker, the installed config's listen address"
  port_listening "$metrics_port" && fail "something listens on 127.0.0.1:$metrics_port, the installed config's metrics-listen"
  return 0
}

cleanup() {
  local rc=$?
  if [ -n "$broker_pid" ] && kill -0 "$broker_pid" 2>/dev/null; then
    kill -TERM "$broker_pid" 2>/dev/null || true
    wait "$broker_pid" 2>/dev/null || true
  fi
  if [ "$installed" = 1 ]; then
    echo "check-packages: purging the packages after the failure" >&2
    DEBIAN_FRONTEND=noninteractive apt-get purge -y "${packages[@]}" >/dev/null 2>&1 || true
  fi
  rm -rf "$work"
  exit "$rc"
}

# Each package holds what it should, at the paths a Debian system expects,
# and nothing under /usr/local (the install prefix CMake defaults to).
check_package_contents() {
  local dir=$1 name pattern listing
  for name in "${packages[@]}"; do
    listing=$(dpkg-deb -c "$dir/${name}"_*.deb | awk '{print $6}')
    case $name in
      herald-broker)
        set -- '^\./usr/bin/brokerd$' '^\./usr/bin/brokerctl$' \
          '^\./usr/lib/systemd/system/herald-brokerd\.service$' '^\./etc/herald/brokerd\.toml$' ;;
      libherald-dev)
        set -- '^\./usr/include/herald/.*\.h$' '^\./usr/lib/.*libherald\.a$' \
          '^\./usr/lib/.*cmake/Herald/HeraldConfig\.cmake$' '^\./usr/lib/.*cmake/Herald/HeraldConfigVersion\.cmake$' \
          '^\./usr/lib/.*pkgconfig/herald\.pc$' ;;
      herald-blog)
        set -- '^\./usr/bin/api-gateway$' '^\./usr/bin/comment-service$' '^\./usr/bin/post-service$' \
          '^\./usr/bin/notification-service$' ;;
    esac
    for pattern; do
      grep -q "$pattern" <<<"$listing" || fail "$name has no file matching $pattern; it holds:"$'\n'"$listing"
    done
    if grep -v '^\./$' <<<"$listing" | grep -qv '^\./usr/\|^\./etc/'; then
      fail "$name installs outside /usr and /etc:"$'\n'"$listing"
    fi
    if grep -q '^\./usr/local/' <<<"$listing"; then fail "$name installs into /usr/local:"$'\n'"$listing"; fi
  done
  dpkg-deb --info "$dir"/herald-broker_*.deb conffiles | grep -qx /etc/herald/brokerd.toml ||
    fail "herald-broker does not mark /etc/herald/brokerd.toml as a conffile"
  echo "herald-broker files:$(dpkg-deb -c "$dir"/herald-broker_*.deb | awk '$1 !~ /^d/ {printf " %s", substr($6, 2)}')"
}

# The packages' paths (files and directories) that exist before they are
# installed: directories shared with the system, such as /usr/bin. Only these
# may still be there after the purge.
record_preexisting_paths() {
  local dir=$1 out=$2 path deb
  : >"$out"
  for deb in "$dir"/*.deb; do dpkg-deb -c "$deb"; done | awk '{print $6}' | sed 's|^\./|/|; s|/$||' | sort -u |
  while read -r path; do
    if [ -n "$path" ] && { [ -e "$path" ] || [ -L "$path" ]; }; then echo "$path" >>"$out"; fi
  done
}

# What postinst made: the system user, its data dir, the enabled unit.
check_installed_broker() {
  local entry home shell uid owner
  entry=$(getent passwd herald) || fail "postinst made no user herald"
  IFS=: read -r _ _ uid _ _ home shell <<<"$entry"
  [ "$uid" -lt 1000 ] || fail "herald is not a system user (uid $uid)"
  [ "$home" = /var/lib/herald ] || fail "herald's home is $home, not /var/lib/herald"
  [[ $shell == */nologin || $shell == */false ]] || fail "herald can log in (shell $shell)"
  getent group herald >/dev/null || fail "postinst made no group herald"
  owner=$(stat -c %U:%G /var/lib/herald 2>/dev/null) || fail "postinst made no /var/lib/herald"
  [ "$owner" = herald:herald ] || fail "/var/lib/herald is owned by $owner, not herald:herald"
  dpkg-query -W -f='${Conffiles}\n' herald-broker | grep -q ' /etc/herald/brokerd.toml ' ||
    fail "dpkg does not track /etc/herald/brokerd.toml as a conffile"
  [ -L "/etc/systemd/system/multi-user.target.wants/$unit" ] ||
    fail "postinst did not enable $unit (no multi-user.target.wants link)"
  echo "user: $entry; /var/lib/herald $(stat -c '%U:%G %a' /var/lib/herald); $unit enabled" \
    "($(readlink "/etc/systemd/system/multi-user.target.wants/$unit"))"
}

# systemd-analyze verify must pass with nothing to say (an unknown key is only
# a warning to it), and the unit must keep what the issue asks of it.
verify_unit() {
  local path=$1 out rc=0 line
  out=$(systemd-analyze verify "$path" 2>&1) || rc=$?
  echo "systemd-analyze verify $path: exit $rc, output: ${out:-(none)}"
  if [ "$rc" -ne 0 ] || [ -n "$out" ]; then fail "systemd-analyze verify found problems in $path"; fi
  for line in User=herald 'ExecStart=/usr/bin/brokerd --config /etc/herald/brokerd.toml' StateDirectory=herald \
    Restart=on-failure NoNewPrivileges=yes ProtectSystem=strict ProtectHome=yes PrivateTmp=yes; do
    grep -qx "$line" "$path" || fail "$path lacks the line $line"
  done
  systemd-analyze security --offline=true "$path" 2>/dev/null | grep 'Overall exposure level' || true
}

# brokerd as the unit runs it, minus systemd: user herald, working directory /,
# the unit's umask, the installed config. setpriv execs, so $! is brokerd.
start_installed_broker() {
  local log=$1 i user
  (cd / && umask 0077 && exec setpriv --reuid=herald --regid=herald --init-groups --reset-env \
    /usr/bin/brokerd --config /etc/herald/brokerd.toml) >"$log" 2>&1 &
  broker_pid=$!
  for i in $(seq 100); do
    kill -0 "$broker_pid" 2>/dev/null || fail "brokerd exited at start:"$'\n'"$(cat "$log")"
    /usr/bin/brokerctl --broker "$broker" status >/dev/null 2>&1 && break
    [ "$i" -lt 100 ] || fail "brokerd did not answer on $broker in 20 s:"$'\n'"$(cat "$log")"
    sleep 0.2
  done
  user=$(ps -o user= -p "$broker_pid")
  [ "$user" = herald ] || fail "brokerd runs as $user, not herald"
  echo "brokerd (pid $broker_pid) runs as $user on $broker"
  local status_line
  exec 3<>"/dev/tcp/127.0.0.1/$metrics_port" || fail "nothing on the config's metrics-listen 127.0.0.1:$metrics_port"
  printf 'GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n' >&3
  IFS= read -r status_line <&3 || true
  exec 3<&-
  [[ $status_line == *" 200 "* ]] || fail "GET /healthz on 127.0.0.1:$metrics_port answered: $status_line"
  echo "metrics on 127.0.0.1:$metrics_port: GET /healthz -> ${status_line%$'\r'}"
}

publish_and_consume() {
  local topic=check-packages got
  /usr/bin/brokerctl --broker "$broker" topic create "$topic" >/dev/null || fail "brokerctl topic create failed"
  printf 'one\ntwo\nthree\n' | /usr/bin/brokerctl --broker "$broker" publish "$topic" >/dev/null ||
    fail "brokerctl publish failed"
  got=$(/usr/bin/brokerctl --broker "$broker" consume "$topic" --group check --count 3 --timeout 10) ||
    fail "brokerctl consume failed"
  [ "$got" = $'one\ntwo\nthree' ] || fail "consumed '$got' instead of one, two, three"
  echo "brokerctl published 3 messages to $topic and consumed them back: ${got//$'\n'/ }"
}

# The data is where the installed config says, and all of it belongs to herald.
check_data_dir() {
  local files foreign
  /usr/bin/brokerctl --broker "$broker" status | grep -q '/var/lib/herald' ||
    fail "brokerctl status names another data dir: $(/usr/bin/brokerctl --broker "$broker" status)"
  files=$(find /var/lib/herald -type f | wc -l)
  [ "$files" -gt 0 ] || fail "/var/lib/herald is empty"
  foreign=$(find /var/lib/herald ! -user herald)
  [ -z "$foreign" ] || fail "files in /var/lib/herald not owned by herald: $foreign"
  [ ! -e /herald-data ] || fail "brokerd wrote /herald-data: it ignored the config's data-dir"
  echo "/var/lib/herald: $files files, $(du -sh /var/lib/herald | cut -f1), all owned by herald"
}

# examples/pubsub as a user builds it (plain cmake, default prefix): it must
# find Herald in the installed libherald-dev, and its subscriber must receive
# what its publisher sends through the installed brokerd.
build_and_run_example() {
  local dir=$1 herald_dir
  cmake -S examples/pubsub -B "$dir" >"$dir.configure.log" 2>&1 ||
    fail "examples/pubsub does not configure against the installed libherald-dev:"$'\n'"$(cat "$dir.configure.log")"
  herald_dir=$(sed -n 's/^Herald_DIR:PATH=//p' "$dir/CMakeCache.txt")
  [[ $herald_dir == /usr/lib/* ]] || fail "examples/pubsub found Herald in $herald_dir, not in the package's /usr/lib"
  cmake --build "$dir" -j "$(nproc)" >"$dir.build.log" 2>&1 ||
    fail "examples/pubsub does not build against the installed libherald-dev:"$'\n'"$(tail -30 "$dir.build.log")"
  echo "examples/pubsub built with Herald_DIR=$herald_dir"
  run_example "$dir"
}

# The installed herald.pc, as a plain compiler line: the example's publisher
# built with it must publish what brokerctl then reads back.
build_and_run_with_pkg_config() {
  local dir=$1 topic=check-packages-pkg-config flags got
  mkdir -p "$dir"
  flags=$(pkg-config --cflags --libs herald) || fail "pkg-config does not find the installed herald.pc"
  echo "pkg-config --cflags --libs herald: $flags"
  # shellcheck disable=SC2086  # the flags are words
  c++ -std=c++20 -o "$dir/publisher" examples/pubsub/publisher.cc $flags >"$dir/compile.log" 2>&1 ||
    fail "examples/pubsub/publisher.cc does not build with pkg-config herald:"$'\n'"$(cat "$dir/compile.log")"
  "$dir/publisher" --broker "$broker" --topic "$topic" --count 5 >/dev/null || fail "the pkg-config publisher failed"
  got=$(/usr/bin/brokerctl --broker "$broker" consume "$topic" --group check --count 5 --timeout 10 | tr '\n' ' ')
  [ "$got" = "message-1 message-2 message-3 message-4 message-5 " ] ||
    fail "brokerctl read '$got' from what the pkg-config publisher sent"
  echo "pkg-config build of the publisher: brokerctl read back $got"
}

# The example's subscriber (a new group, from the start of the topic) must
# print exactly the messages its publisher sent, in order (they share a key).
run_example() {
  local dir=$1 topic=check-packages-example count=20 got want sub_pid rc=0
  "$dir/herald-example-subscriber" --broker "$broker" --topic "$topic" --count "$count" --group example \
    >"$dir/subscriber.out" 2>"$dir/subscriber.err" &
  sub_pid=$!
  "$dir/herald-example-publisher" --broker "$broker" --topic "$topic" --count "$count" >"$dir/publisher.out" 2>&1 ||
    fail "herald-example-publisher failed: $(cat "$dir/publisher.out")"
  wait "$sub_pid" || rc=$?
  [ "$rc" -eq 0 ] || fail "herald-example-subscriber exited $rc: $(cat "$dir/subscriber.err")"
  got=$(cat "$dir/subscriber.out")
  want=$(seq -f 'message-%g' "$count")
  [ "$got" = "$want" ] || fail "the example's subscriber printed"$'\n'"$got"$'\n'"instead of message-1..message-$count"
  echo "example: $(cat "$dir/publisher.out"); subscriber: $(cat "$dir/subscriber.err")"
}

stop_installed_broker() {
  local log=$1 rc=0 i
  kill -TERM "$broker_pid"
  for i in $(seq 150); do
    kill -0 "$broker_pid" 2>/dev/null || break
    [ "$i" -lt 150 ] || fail "brokerd still runs 30 s after SIGTERM"
    sleep 0.2
  done
  wait "$broker_pid" || rc=$?
  broker_pid=""
  [ "$rc" -eq 0 ] || fail "brokerd exited $rc after SIGTERM:"$'\n'"$(tail -20 "$log")"
  grep -q 'signal 15: stopping' "$log" || fail "brokerd did not log its SIGTERM stop:"$'\n'"$(tail -20 "$log")"
  echo "brokerd stopped on SIGTERM, exit 0"
}

# Nothing of the packages is left: no path of their dpkg -L lists that was
# not on the machine before, no user, data, config or unit link, no dpkg record.
check_nothing_left() {
  local dir=$1 preexisting=$2 p path left=() gone=0
  for p in "${packages[@]}"; do
    if dpkg-query -W -f='${Status}\n' "$p" 2>/dev/null | grep -qv '^unknown\|not-installed'; then
      fail "dpkg still knows $p: $(dpkg-query -W -f='${Status}' "$p")"
    fi
    while read -r path; do
      [ -z "$path" ] || [ "$path" = /. ] && continue
      if [ -e "$path" ] || [ -L "$path" ]; then
        grep -qxF "$path" "$preexisting" || left+=("$path")
      else
        gone=$((gone + 1))
      fi
    done <"$dir/$p.list"
  done
  [ ${#left[@]} -eq 0 ] || fail "left after the purge: ${left[*]}"
  [ ! -e /etc/herald ] || fail "/etc/herald is left: $(ls -la /etc/herald)"
  [ ! -e /var/lib/herald ] || fail "/var/lib/herald is left"
  ! getent passwd herald >/dev/null || fail "the user herald is left"
  ! getent group herald >/dev/null || fail "the group herald is left"
  local links
  links=$(find /etc/systemd /var/lib/systemd -name "*herald*" 2>/dev/null)
  [ -z "$links" ] || fail "systemd links or state left: $links"
  echo "purged: $gone paths of the packages gone, the rest shared directories that were there before;" \
    "no /etc/herald, /var/lib/herald, user or group herald, unit links"
}
