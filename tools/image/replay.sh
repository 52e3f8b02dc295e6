# shellcheck shell=bash
# Sourced by tools/check-image.sh and tools/image/runtime-checks.sh: replaying
# a Dockerfile stage, whose steps tools/image/image_spec.py read, in a root
# file system that mmdebstrap made, and running commands in it as `docker run`
# would.

# The environment Docker gives a container's processes.
IMAGE_PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin

# image_command ROOT USER WORKDIR CMD...: sets IMAGE_COMMAND to the command
# line that runs CMD in the image as `docker run` would: as USER (resolved in
# the image's /etc/passwd, like USER), in WORKDIR, with Docker's environment
# only. chroot and env exec, so its pid is CMD's.
image_command() {
  local root=$1 user=$2 workdir=$3
  shift 3
  local uid gid home
  uid=$(chroot "$root" id -u "$user") || return 1
  gid=$(chroot "$root" id -g "$user") || return 1
  home=$(chroot "$root" getent passwd "$user" | cut -d: -f6)
  # shellcheck disable=SC2034 # the caller runs it
  IMAGE_COMMAND=(chroot --userspec="$uid:$gid" --groups="$gid" "$root"
    /usr/bin/env -i -C "$workdir" PATH="$IMAGE_PATH" HOME="${home:-/}" HOSTNAME=herald "$@")
}

# replay_stage PREFIX ROOT REPO: applies the steps of stage PREFIX (BUILD or
# RUNTIME, as image_spec.py named its arrays) to ROOT, except its apt-get
# installs (mmdebstrap made ROOT with those packages) and its compile. Files
# COPY'd --from=build come from REPO's build/ (CI's tools/test.sh made it;
# the build stage builds into /build), others from the build context. Sets
# STAGE_WORKDIR and STAGE_COMPILES (the compile steps, not run). USER, EXPOSE
# and the commands are settings for the processes: runtime-checks.sh reads them.
replay_stage() {
  local prefix=$1 root=$2 repo=$3
  local -n kinds=${prefix}_STEP_KIND args=${prefix}_STEP_ARG dests=${prefix}_STEP_DEST froms=${prefix}_STEP_FROM
  STAGE_WORKDIR=/ STAGE_COMPILES=()
  local i src dest
  for i in "${!kinds[@]}"; do
    dest=${dests[$i]}
    [[ -z $dest || $dest == /* ]] || dest=$STAGE_WORKDIR/$dest
    case ${kinds[$i]} in
      apt) ;;
      compile) STAGE_COMPILES+=("${args[$i]}") ;;
      run)
        chroot "$root" /usr/bin/env -i -C "$STAGE_WORKDIR" PATH="$IMAGE_PATH" HOME=/root \
          /bin/sh -c "${args[$i]}" || { echo "RUN failed: ${args[$i]}" >&2; return 1; }
        ;;
      workdir)
        [[ ${args[$i]} == /* ]] || { echo "relative WORKDIR: ${args[$i]}" >&2; return 1; }
        STAGE_WORKDIR=${args[$i]}
        mkdir -p "$root$STAGE_WORKDIR"
        ;;
      copy)
        while IFS= read -r src; do
          copy_into "$root" "$repo" "${froms[$i]}" "$src" "$dest" || return 1
        done <<<"${args[$i]}"
        ;;
      user | expose) ;;
      volume) mkdir -p "$root${args[$i]}" ;;
      *) echo "replay_stage: unknown step kind ${kinds[$i]}" >&2; return 1 ;;
    esac
  done
}

# copy_into ROOT REPO FROM SRC DEST: one source of a COPY. As Docker does, a
# DEST ending in / is a directory the source goes into, and "." copies the
# build context (.dockerignore applied).
copy_into() {
  local root=$1 repo=$2 from=$3 src=$4 dest=$5 host
  case $from in
    build)
      [[ $src == /build/* ]] || { echo "COPY --from=build of $src: the check maps only /build/ to build/" >&2; return 1; }
      host=$repo/build/${src#/build/}
      ;;
    "") host=$repo/$src ;;
    *) echo "COPY --from=$from: no such stage in the check" >&2; return 1 ;;
  esac
  if [[ -z $from && $src == . ]]; then
    mkdir -p "$root$dest"
    (cd "$repo" && /usr/bin/python3 tools/image/image_spec.py context .) |
      tar -C "$repo" --null -T - -cf - | tar -C "$root$dest" -xf - || return 1
    return 0
  fi
  [[ -e $host ]] || { echo "COPY source missing: $host (build it first: tools/test.sh)" >&2; return 1; }
  if [[ $dest == */ ]]; then
    mkdir -p "$root$dest"
    dest=$dest$(basename "$src")
  else
    mkdir -p "$(dirname "$root$dest")"
  fi
  cp -a "$host" "$root$dest" || return 1
  # Docker's COPY gives root the files; the build tree may be someone else's.
  chown -R 0:0 "$root$dest"
}
