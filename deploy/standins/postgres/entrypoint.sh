#!/bin/sh
# What the postgres image's entrypoint does that deploy/compose.yaml relies on: a fresh data directory gets a
# cluster whose superuser is POSTGRES_USER with POSTGRES_PASSWORD, a database POSTGRES_DB, and password
# authentication (scram-sha-256) from any address; then PostgreSQL runs in the foreground, listening everywhere.
set -eu
user="${POSTGRES_USER:-postgres}"
database="${POSTGRES_DB:-$user}"
if [ ! -s "$PGDATA/PG_VERSION" ]; then
    : "${POSTGRES_PASSWORD:?POSTGRES_PASSWORD is not set}"
    password_file="$(mktemp)"
    printf '%s\n' "$POSTGRES_PASSWORD" > "$password_file"
    initdb --pgdata="$PGDATA" --username="$user" --pwfile="$password_file" --encoding=UTF8 --locale=C.UTF-8 \
        --auth-local=trust --auth-host=scram-sha-256
    rm -f "$password_file"
    printf 'host all all all scram-sha-256\n' >> "$PGDATA/pg_hba.conf"
    if [ "$database" != postgres ]; then
        pg_ctl --pgdata="$PGDATA" --wait --options="-c listen_addresses=''" start
        createdb --username="$user" "$database"
        pg_ctl --pgdata="$PGDATA" --wait --mode=fast stop
    fi
fi
if [ "$1" = postgres ]; then
    shift
    exec postgres -c listen_addresses='*' "$@"
fi
exec "$@"
