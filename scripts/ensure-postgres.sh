#!/usr/bin/env bash
# Makes sure a PostgreSQL server for Flotilla's tests answers on 127.0.0.1:$FLOTILLA_PG_PORT
# (default 55432) with a database `flotilla_test`: installs Debian's postgresql when
# missing, creates a cluster of its own in $FLOTILLA_PG_DIR (default
# /var/tmp/flotilla-pg; trust authentication, loopback only) and starts it.
# Needs root for the install. Prints the connection URL on its last line.
set -euo pipefail

port="${FLOTILLA_PG_PORT:-55432}"
dir="${FLOTILLA_PG_DIR:-/var/tmp/flotilla-pg}"

bindir="$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1 || true)"
if [[ -z "$bindir" || ! -x "$bindir/pg_ctl" ]]; then
    echo "installing postgresql..." >&2
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null
    bindir="$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n 1)"
fi

# The server refuses to run as root: run it as the postgres user the package creates.
as_postgres() {
    if [[ "$(id -u)" == 0 ]]; then runuser -u postgres -- "$@"; else "$@"; fi
}

if ! as_postgres "$bindir/pg_isready" -q -h 127.0.0.1 -p "$port"; then
    if [[ ! -f "$dir/PG_VERSION" ]]; then
        mkdir -p "$dir"
        [[ "$(id -u)" == 0 ]] && chown postgres: "$dir"
        as_postgres "$bindir/initdb" -D "$dir" -U postgres --auth=trust -E UTF8 >/dev/null
    fi
    echo "starting postgresql on 127.0.0.1:$port..." >&2
    as_postgres "$bindir/pg_ctl" -D "$dir" -l "$dir/server.log" -w -t 60 \
        -o "-c listen_addresses=127.0.0.1 -p $port -k /tmp -c max_connections=300 -c fsync=on" start >/dev/null
fi

if ! as_postgres "$bindir/psql" -h 127.0.0.1 -p "$port" -U postgres -tAc \
    "SELECT 1 FROM pg_database WHERE datname = 'flotilla_test'" | grep -q 1; then
    as_postgres "$bindir/createdb" -h 127.0.0.1 -p "$port" -U postgres flotilla_test
fi
echo "postgres://postgres@127.0.0.1:$port/flotilla_test"
