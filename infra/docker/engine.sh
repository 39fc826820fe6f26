#!/usr/bin/env bash
# A Docker engine on this machine: Debian's docker.io (+ docker-compose v1, debootstrap), and a dockerd
# started as root when none answers. No systemd is assumed (CI machines have none).
#   --iptables=false: the engine never touches the host firewall; published ports go through
#   docker-proxy on 127.0.0.1 only, and containers reach each other on their compose network.
#   storage: overlay2 when the kernel and the file system take it, else vfs (slow, but works anywhere).
#
# Usage: infra/docker/engine.sh {up|down|status}
#   up      install what is missing, start dockerd if `docker info` fails, wait until it answers.
#           Exit 3 when this machine refuses a Docker engine (dockerd exits or never answers under every
#           storage driver): the daemon's own error lines are printed, so the reason is in the CI log.
#   down    stop the dockerd this script started (never one it did not start)
#   status  running | stopped
set -euo pipefail

STATE="${HSLR_DOCKER_STATE:-/var/lib/hslr-docker}"
PIDFILE="$STATE/dockerd.pid"
LOG="$STATE/dockerd.log"
UP_TIMEOUT_S="${HSLR_DOCKER_UP_TIMEOUT_S:-120}"

die() { echo "engine.sh: $*" >&2; exit 1; }
# The daemon's reasons: its error lines since this attempt began (the whole log is kept on disk).
reasons() {
  local from="$1"
  tail -c +"$((from + 1))" "$LOG" 2>/dev/null | grep -E 'level=(error|fatal)|failed|denied|not permitted' \
    | tail -n 12 | sed 's/^/  dockerd: /' >&2 || true
}
refused() { echo "engine.sh: $* (log: $LOG)" >&2; exit 3; }
as_root() { if [[ $EUID -eq 0 ]]; then "$@"; else sudo "$@"; fi; }

answers() { docker info >/dev/null 2>&1; }

install_pkgs() {
  local missing=()
  command -v dockerd >/dev/null || missing+=(docker.io)
  command -v docker-compose >/dev/null || docker compose version >/dev/null 2>&1 || missing+=(docker-compose)
  command -v debootstrap >/dev/null || missing+=(debootstrap)
  [[ ${#missing[@]} -eq 0 ]] && return
  as_root apt-get update -qq >&2
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
    "${missing[@]}" >&2
  command -v dockerd >/dev/null || die "installing docker.io did not provide dockerd"
}

storage_driver() {
  # overlay2 needs the overlay module and a backing file system that supports it (ext4/xfs, not overlay)
  if grep -qw overlay /proc/filesystems && [[ "$(stat -f -c %T /var/lib 2>/dev/null)" != overlayfs ]]; then
    echo overlay2
  else
    echo vfs
  fi
}

# A dockerd this script did not start (a package's init script, say) that is still coming up: wait for it
# rather than start a second daemon on the same socket and data root.
foreign_starting() {
  local pid
  pid="$(cat "${HSLR_DOCKER_FOREIGN_PIDFILE:-/var/run/docker.pid}" 2>/dev/null || true)"
  [[ -n "$pid" ]] && kill -0 "$pid" 2>/dev/null
}

start() {
  local driver="$1"
  as_root mkdir -p "$STATE"
  as_root touch "$LOG"
  # setsid: the daemon outlives this script and the test process that called it
  as_root setsid dockerd --storage-driver="$driver" --iptables=false --ip-masq=false \
    --pidfile="$PIDFILE" >>"$LOG" 2>&1 </dev/null &
  for _ in $(seq 1 $((UP_TIMEOUT_S * 2))); do
    answers && return 0
    if [[ -f "$PIDFILE" ]] && ! kill -0 "$(cat "$PIDFILE")" 2>/dev/null; then
      echo "engine.sh: dockerd ($driver) exited" >&2
      return 1
    fi
    sleep 0.5
  done
  echo "engine.sh: dockerd ($driver) did not answer \`docker info\` within ${UP_TIMEOUT_S} s" \
    "(DOCKER_HOST=${DOCKER_HOST:-unset}, client $(command -v docker))" >&2
  return 1
}

cmd_up() {
  if answers; then echo "docker: engine answers ($(docker info -f '{{.Driver}}'))"; return; fi
  install_pkgs
  if foreign_starting; then
    for _ in $(seq 1 $((UP_TIMEOUT_S * 2))); do answers && break; foreign_starting || break; sleep 0.5; done
    if answers; then echo "docker: engine answers ($(docker info -f '{{.Driver}}'))"; return; fi
  fi
  local driver from; driver="${HSLR_DOCKER_STORAGE:-$(storage_driver)}"
  from="$(stat -c %s "$LOG" 2>/dev/null || echo 0)"
  if ! start "$driver"; then
    reasons "$from"
    [[ "$driver" == vfs ]] && refused "dockerd did not start"
    echo "engine.sh: dockerd with $driver failed; retrying with vfs (log: $LOG)" >&2
    cmd_down >/dev/null
    from="$(stat -c %s "$LOG" 2>/dev/null || echo 0)"
    start vfs || { reasons "$from"; refused "dockerd did not start with vfs either"; }
  fi
  echo "docker: engine started (pid $(cat "$PIDFILE"), $(docker info -f '{{.Driver}}'))"
}

cmd_down() {
  if [[ ! -f "$PIDFILE" ]] || ! kill -0 "$(cat "$PIDFILE")" 2>/dev/null; then echo "docker: stopped"; return; fi
  local pid; pid="$(cat "$PIDFILE")"
  as_root kill "$pid"
  for _ in $(seq 1 60); do kill -0 "$pid" 2>/dev/null || break; sleep 0.5; done
  kill -0 "$pid" 2>/dev/null && as_root kill -9 "$pid"
  echo "docker: stopped"
}

case "${1:-}" in
  up) cmd_up ;;
  down) cmd_down ;;
  status) if answers; then echo running; else echo stopped; fi ;;
  *) echo "usage: $0 {up|down|status}" >&2; exit 2 ;;
esac
