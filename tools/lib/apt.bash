# shellcheck shell=bash
# need_apt_packages PACKAGE...: installs those of the Debian packages that are
# not installed (apt-get, as root). The tools/check-*.sh scripts need a few
# programs beyond tools/install-deps.sh (mmdebstrap, promtool, strace, ...),
# which only they use, so each asks for its own.
need_apt_packages() {
  local missing=() p
  for p in "$@"; do
    dpkg-query -W -f='${Status}\n' "$p" 2>/dev/null | grep -q '^install ok installed$' || missing+=("$p")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  if [ "$(id -u)" -ne 0 ]; then
    echo "${0##*/}: needs ${missing[*]}: sudo apt-get install --no-install-recommends ${missing[*]}" >&2
    exit 1
  fi
  echo "${0##*/}: installing ${missing[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}
