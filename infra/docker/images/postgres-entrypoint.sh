#!/bin/bash
# First start: initdb with POSTGRES_USER as the superuser (password auth over TCP), create POSTGRES_DB.
# Then run the server in the foreground as PID 1, listening on every interface of the container.
set -euo pipefail
user="${POSTGRES_USER:-postgres}" db="${POSTGRES_DB:-${POSTGRES_USER:-postgres}}"
if [[ ! -s "$PGDATA/PG_VERSION" ]]; then
  [[ -n "${POSTGRES_PASSWORD:-}" ]] || { echo "postgres-entrypoint: POSTGRES_PASSWORD is required" >&2; exit 1; }
  initdb -D "$PGDATA" -U "$user" --locale=C.UTF-8 --encoding=UTF8 --auth-local=trust \
    --auth-host=scram-sha-256 --pwfile=<(printf '%s\n' "$POSTGRES_PASSWORD") >/dev/null
  echo "host all all all scram-sha-256" >>"$PGDATA/pg_hba.conf"
  if [[ "$db" != postgres ]]; then
    echo "CREATE DATABASE \"$db\" OWNER \"$user\"" | postgres --single -D "$PGDATA" postgres >/dev/null
  fi
fi
exec postgres -D "$PGDATA" -c listen_addresses='*' -c unix_socket_directories=/var/run/postgresql "$@"
