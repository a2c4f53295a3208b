#!/usr/bin/env bash
# The official postgres image's first-start behaviour, for the Debian stand-in:
# initdb with POSTGRES_USER / POSTGRES_PASSWORD (scram), create POSTGRES_DB, run
# /docker-entrypoint-initdb.d/*.sql|*.sh against a socket-only server, then exec postgres "$@".
set -euo pipefail
if [ "${1:-postgres}" != "postgres" ]; then exec "$@"; fi
shift || true

user="${POSTGRES_USER:-postgres}"
if [ ! -s "$PGDATA/PG_VERSION" ]; then
    : "${POSTGRES_PASSWORD:?POSTGRES_PASSWORD must be set}"
    pwfile="$(mktemp)"
    printf '%s\n' "$POSTGRES_PASSWORD" > "$pwfile"
    initdb --username="$user" --pwfile="$pwfile" --auth-local=trust --auth-host=scram-sha-256 \
        --encoding=UTF8 >/dev/null
    rm -f "$pwfile"
    printf "listen_addresses = '*'\n" >> "$PGDATA/postgresql.conf"
    printf 'host all all all scram-sha-256\n' >> "$PGDATA/pg_hba.conf"
    pg_ctl -D "$PGDATA" -o "-c listen_addresses=''" -w start >/dev/null
    export PGUSER="$user" PGHOST=/var/run/postgresql
    db="${POSTGRES_DB:-$user}"
    if [ "$db" != "postgres" ]; then
        psql -v ON_ERROR_STOP=1 --dbname postgres -c "CREATE DATABASE \"$db\"" >/dev/null
    fi
    for f in /docker-entrypoint-initdb.d/*; do
        case "$f" in
            *.sh) echo "running $f"; bash "$f" ;;
            *.sql) echo "running $f"; psql -v ON_ERROR_STOP=1 --dbname "$db" -f "$f" ;;
            *) ;;
        esac
    done
    unset PGUSER PGHOST
    pg_ctl -D "$PGDATA" -m fast -w stop >/dev/null
fi
exec postgres "$@"
