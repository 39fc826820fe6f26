#!/usr/bin/env bash
# PostgreSQL, Redis and Prometheus for development and CI, from Debian packages, without containers (the
# containerised deployment is infra/docker/ and docker-compose*.yml).
# Redis and Prometheus run as our own daemons with pid/log files under .cache/, so that `down` stops
# exactly what `up` started and nothing depends on a service manager (CI containers have no systemd).
# PostgreSQL runs as the Debian cluster (pg_ctlcluster), which owns its data dir and auth setup.
#
# Usage: infra/services.sh {up|down|status} [postgres|redis|prometheus|all]
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
CACHE="${HSLR_CACHE_DIR:-$ROOT/.cache}"
PG_USER="${HSLR_PG_USER:-hslr}"
PG_DB="${HSLR_PG_DB:-hslr}"
REDIS_PORT="${HSLR_REDIS_PORT:-6379}"
# Secrets of this deployment (REDIS_PASSWORD, HSLR_CONTROL_KEY): infra/hslr.env, git-ignored, the same
# file streams/settings.py reads; see infra/hslr.env.example. No password is built in: without the file
# (or REDIS_PASSWORD in the environment) Redis starts without one, for a throwaway dev box only.
ENV_FILE="${HSLR_ENV_FILE:-$ROOT/infra/hslr.env}"
if [[ -z "${REDIS_PASSWORD:-}" && -f "$ENV_FILE" ]]; then
  REDIS_PASSWORD="$(sed -n 's/^REDIS_PASSWORD=//p' "$ENV_FILE" | tail -1 | tr -d '"'"'"'"')"
fi
if [[ -z "${HSLR_API_PG_PASSWORD:-}" && -f "$ENV_FILE" ]]; then
  HSLR_API_PG_PASSWORD="$(sed -n 's/^HSLR_API_PG_PASSWORD=//p' "$ENV_FILE" | tail -1 | tr -d '"'"'"'"')"
fi
if [[ -z "${HSLR_API_PG_USER:-}" && -f "$ENV_FILE" ]]; then
  HSLR_API_PG_USER="$(sed -n 's/^HSLR_API_PG_USER=//p' "$ENV_FILE" | tail -1 | tr -d '"'"'"'"')"
fi
# The PostgreSQL password has no default either: the environment, else infra/hslr.env, else the user's
# secrets file (shared by every checkout; streams/settings.py reads the same files); on first setup,
# when none has one, `up postgres` generates it into the user's file (mode 600).
USER_ENV="${XDG_CONFIG_HOME:-$HOME/.config}/hslr/hslr.env"
secret_from() { [[ -f "$2" ]] && sed -n "s/^$1=//p" "$2" | tail -1 | tr -d '"'"'"'"' || true; }
PG_PASSWORD="${HSLR_PG_PASSWORD:-$(secret_from HSLR_PG_PASSWORD "$ENV_FILE")}"
[[ -n "$PG_PASSWORD" ]] || PG_PASSWORD="$(secret_from HSLR_PG_PASSWORD "$USER_ENV")"
export REDISCLI_AUTH="${REDIS_PASSWORD:-}"  # redis-cli reads the password from here, never from argv
[[ -n "$REDISCLI_AUTH" ]] || unset REDISCLI_AUTH
PROM_ADDR=127.0.0.1:9090

die() { echo "services.sh: $*" >&2; exit 1; }

as_root() { if [[ $EUID -eq 0 ]]; then "$@"; else sudo "$@"; fi; }
as_postgres() { if [[ $EUID -eq 0 ]]; then runuser -u postgres -- "$@"; else sudo -u postgres "$@"; fi; }

APT_UPDATED=0
ensure_pkg() {  # ensure_pkg <package> <binary that proves it is installed>
  command -v "$2" >/dev/null && return
  if [[ $APT_UPDATED -eq 0 ]]; then as_root apt-get update -qq >&2; APT_UPDATED=1; fi
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$1" >&2
  command -v "$2" >/dev/null || die "installing $1 did not provide $2"
  # On hosts with a service manager the package auto-starts its own daemon on our port; ours must own it.
  if [[ "$1" != postgresql ]]; then as_root service "$1" stop >/dev/null 2>&1 || true; fi
}

pid_alive() {  # pid_alive <pidfile> <program>: the program check guards against a reused pid after a reboot
  [[ -f "$1" ]] && kill -0 "$(cat "$1")" 2>/dev/null && grep -q "$2" "/proc/$(cat "$1")/cmdline" 2>/dev/null
}

stop_pidfile() {  # stop_pidfile <pidfile> <program>: TERM, wait up to 15 s, then KILL
  if ! pid_alive "$1" "$2"; then rm -f "$1"; return; fi
  local pid; pid="$(cat "$1")"
  kill "$pid"
  for _ in $(seq 1 30); do kill -0 "$pid" 2>/dev/null || break; sleep 0.5; done
  if kill -0 "$pid" 2>/dev/null; then kill -9 "$pid"; sleep 0.5; fi
  rm -f "$1"
}

wait_for() {  # wait_for <seconds> <what> <command...>
  local secs="$1" what="$2"; shift 2
  for _ in $(seq 1 $((secs * 2))); do "$@" >/dev/null 2>&1 && return; sleep 0.5; done
  die "$what did not become ready within ${secs}s"
}

# --- PostgreSQL ---------------------------------------------------------------------------------------
pg_cluster() { pg_lsclusters -h 2>/dev/null | awk 'NR==1 {print $1, $2}'; }

ensure_pg_password() {  # first setup: a random password for the role, kept in the user's secrets file
  [[ -n "$PG_PASSWORD" ]] && return
  PG_PASSWORD="$(head -c 18 /dev/urandom | base64 | tr '+/' '-_')"
  mkdir -p "$(dirname "$USER_ENV")"
  ( umask 077; printf 'HSLR_PG_PASSWORD=%s\n' "$PG_PASSWORD" >>"$USER_ENV" )
  echo "postgres: generated the password of role $PG_USER into $USER_ENV" >&2
}

pg_up() {
  ensure_pkg postgresql pg_ctlcluster
  ensure_pg_password
  local ver name
  read -r ver name <<<"$(pg_cluster)"
  if [[ -z "${ver:-}" ]]; then  # a package installed without its default cluster
    ver="$(ls /usr/lib/postgresql | sort -V | tail -n1)"; name=main
    as_root pg_createcluster "$ver" "$name" >&2
  fi
  if ! pg_lsclusters -h | awk -v v="$ver" -v n="$name" '$1==v && $2==n' | grep -q online; then
    as_root pg_ctlcluster "$ver" "$name" start
  fi
  wait_for 30 postgres as_postgres psql -qtAc 'select 1'
  # Role and database creation are idempotent so that `up` can run any number of times.
  as_postgres psql -v ON_ERROR_STOP=1 -q <<SQL
DO \$\$ BEGIN
  IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '$PG_USER') THEN
    CREATE ROLE $PG_USER LOGIN PASSWORD '$PG_PASSWORD';
  END IF;
END \$\$;
-- hslr restore (and its round-trip test) restores a backup into a fresh, empty database
ALTER ROLE $PG_USER CREATEDB;
SQL
  if [[ -z "$(as_postgres psql -tAc "SELECT 1 FROM pg_database WHERE datname = '$PG_DB'")" ]]; then
    as_postgres createdb -O "$PG_USER" "$PG_DB"
  fi
  pg_reader "${HSLR_API_PG_USER:-hslr_api}" "${HSLR_API_PG_PASSWORD:-}"
  # an existing role keeps its password (other checkouts may use it); say what to do when ours differs
  local err
  for _ in $(seq 1 30); do
    err="$(env PGPASSWORD="$PG_PASSWORD" psql -h 127.0.0.1 -p 5432 -U "$PG_USER" -d "$PG_DB" -qtAc 'select 1' 2>&1 >/dev/null)" \
      && break
    [[ "$err" == *"password authentication failed"* ]] && die "role $PG_USER \
exists with another password than HSLR_PG_PASSWORD (environment, $ENV_FILE or $USER_ENV): put its \
password there, or set a new one with: sudo -u postgres psql -c \"ALTER ROLE $PG_USER PASSWORD '<new>'\""
    sleep 0.5
  done
  env PGPASSWORD="$PG_PASSWORD" psql -h 127.0.0.1 -p 5432 -U "$PG_USER" -d "$PG_DB" -qtAc 'select 1' >/dev/null \
    || die "postgres on 127.0.0.1:5432 did not accept role $PG_USER within 15s"
  echo "postgres: running ($ver/$name) on 127.0.0.1:5432"
}

# The API's read-only access: a group role hslr_reader (NOLOGIN) with SELECT on every table of $PG_DB,
# present and future (default privileges of the owner $PG_USER), and a login role <user> in that group,
# created or re-passworded when a password is given (HSLR_API_PG_PASSWORD in infra/hslr.env; no default:
# without one there is no login role and `hslr api` refuses to start). The password goes to psql on stdin.
pg_reader() {  # pg_reader <login role> <password or "">
  local user="$1" pw="$2"
  [[ "$user" =~ ^[a-z_][a-z0-9_]*$ ]] || die "reader role '$user': use lower-case letters, digits and _"
  [[ -z "$pw" || "$pw" =~ ^[A-Za-z0-9_.~+/=-]{16,}$ ]] \
    || die "HSLR_API_PG_PASSWORD: at least 16 characters of A-Z a-z 0-9 _ . ~ + / = -"
  as_postgres psql -v ON_ERROR_STOP=1 -q -d "$PG_DB" <<SQL
DO \$\$ BEGIN
  IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'hslr_reader') THEN CREATE ROLE hslr_reader NOLOGIN; END IF;
END \$\$;
GRANT CONNECT ON DATABASE $PG_DB TO hslr_reader;
GRANT USAGE ON SCHEMA public TO hslr_reader;
GRANT SELECT ON ALL TABLES IN SCHEMA public TO hslr_reader;
ALTER DEFAULT PRIVILEGES FOR ROLE $PG_USER IN SCHEMA public GRANT SELECT ON TABLES TO hslr_reader;
SQL
  [[ -n "$pw" ]] || return 0
  as_postgres psql -v ON_ERROR_STOP=1 -q <<SQL
DO \$\$ BEGIN
  IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '$user') THEN CREATE ROLE $user; END IF;
END \$\$;
ALTER ROLE $user LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE INHERIT PASSWORD '$pw';
GRANT hslr_reader TO $user;
SQL
}

pg_down() {
  command -v pg_lsclusters >/dev/null || { echo "postgres: stopped"; return; }
  local ver name
  read -r ver name <<<"$(pg_cluster)"
  if [[ -n "${ver:-}" ]] && pg_lsclusters -h | grep -q online; then as_root pg_ctlcluster "$ver" "$name" stop; fi
  echo "postgres: stopped"
}

pg_status() {
  if command -v pg_lsclusters >/dev/null && pg_lsclusters -h | grep -q online; then echo running; else echo stopped; fi
}

# --- Redis --------------------------------------------------------------------------------------------
REDIS_PID="$CACHE/redis/redis.pid"

redis_up() {
  ensure_pkg redis-server redis-server
  if pid_alive "$REDIS_PID" redis-server; then echo "redis: already running (pid $(cat "$REDIS_PID"))"; return; fi
  if redis-cli -p "$REDIS_PORT" ping >/dev/null 2>&1; then
    # Most likely the packaged service; stop it so the one answering is ours and `down` can stop it.
    as_root service redis-server stop >/dev/null 2>&1 || true
    sleep 0.5
    redis-cli -p "$REDIS_PORT" ping >/dev/null 2>&1 && die "port $REDIS_PORT is taken by a redis we did not start"
  fi
  mkdir -p "$CACHE/redis"
  # the password goes into a private config file, not the command line (ps would show it)
  local conf="$CACHE/redis/redis.conf"
  ( umask 077; : > "$conf"; [[ -z "${REDIS_PASSWORD:-}" ]] || printf 'requirepass "%s"\n' "$REDIS_PASSWORD" > "$conf" )
  redis-server "$conf" --daemonize yes --bind 127.0.0.1 --port "$REDIS_PORT" --dir "$CACHE/redis" \
    --pidfile "$REDIS_PID" --logfile "$CACHE/redis/redis.log" --save "" --appendonly no
  wait_for 10 redis redis-cli -p "$REDIS_PORT" ping
  wait_for 5 "redis pid file" test -s "$REDIS_PID"
  echo "redis: running (pid $(cat "$REDIS_PID")) on 127.0.0.1:$REDIS_PORT"
}

redis_down() { stop_pidfile "$REDIS_PID" redis-server; echo "redis: stopped"; }
redis_status() { if pid_alive "$REDIS_PID" redis-server; then echo running; else echo stopped; fi; }

# --- Prometheus ---------------------------------------------------------------------------------------
PROM_PID="$CACHE/prometheus.pid"

prom_ready() { "${PY:-python3}" - "$PROM_ADDR" <<'PYEOF'
import sys, urllib.request
urllib.request.urlopen(f"http://{sys.argv[1]}/-/ready", timeout=2).read()
PYEOF
}

prom_up() {
  ensure_pkg prometheus prometheus
  if pid_alive "$PROM_PID" prometheus; then echo "prometheus: already running (pid $(cat "$PROM_PID"))"; return; fi
  if prom_ready 2>/dev/null; then
    # The Debian package starts its own server on :9090 where a service manager exists; ours replaces it.
    as_root service prometheus stop >/dev/null 2>&1 || true
    sleep 1
    prom_ready 2>/dev/null && die "$PROM_ADDR is taken by a prometheus we did not start"
  fi
  promtool check config "$ROOT/infra/prometheus/prometheus.yml" >/dev/null || die "prometheus.yml is invalid"
  mkdir -p "$CACHE/prometheus/targets"
  nohup prometheus --config.file="$ROOT/infra/prometheus/prometheus.yml" \
    --storage.tsdb.path="$CACHE/prometheus" --web.listen-address="$PROM_ADDR" --web.enable-lifecycle \
    >>"$CACHE/prometheus.log" 2>&1 </dev/null &
  echo $! >"$PROM_PID"
  wait_for 30 prometheus prom_ready
  echo "prometheus: running (pid $(cat "$PROM_PID")) on $PROM_ADDR"
}

prom_down() { stop_pidfile "$PROM_PID" prometheus; echo "prometheus: stopped"; }
prom_status() { if pid_alive "$PROM_PID" prometheus; then echo running; else echo stopped; fi; }

# ------------------------------------------------------------------------------------------------------
action="${1:-}"; target="${2:-all}"
if [[ "$action" == reader ]]; then  # reader <login role>, password on stdin (never in argv)
  IFS= read -r pw || true
  pg_reader "$target" "$pw"; exit 0
fi
case "$target" in
  all) services=(postgres redis prometheus) ;;
  postgres|redis|prometheus) services=("$target") ;;
  *) die "unknown service '$target' (postgres|redis|prometheus|all)" ;;
esac
[[ -x "$ROOT/.venv/bin/python" ]] && PY="$ROOT/.venv/bin/python"
mkdir -p "$CACHE"

for svc in "${services[@]}"; do
  short="${svc/prometheus/prom}"; short="${short/postgres/pg}"
  case "$action" in
    up) "${short}_up" ;;
    down) "${short}_down" ;;
    status) echo "$svc: $("${short}_status")" ;;
    *) echo "usage: $0 {up|down|status} [postgres|redis|prometheus|all]" >&2; exit 2 ;;
  esac
done
