#!/usr/bin/env bash
# Runs CMD... with DATABASE_URL pointing at a PostgreSQL database, for the PostgreSQL backend tests:
#   1. DATABASE_URL already set: run CMD as is.
#   2. A server answers on 127.0.0.1:5432 (pg_isready): use postgres://postgres@127.0.0.1:5432/test.
#   3. Otherwise start a throwaway cluster from the Debian `postgresql` package (initdb with trust
#      auth in a temporary directory, a free port on 127.0.0.1, its unix socket in that directory),
#      create the database `test`, run CMD, then stop the cluster and delete it, whatever CMD did.
# As root, initdb and the server run as the `postgres` user (initdb refuses root).
# PG_PORT_PROBE=N probes 127.0.0.1:N instead of 5432 (to exercise step 3 where a server runs).
# Exit status: CMD's, or 1 if no PostgreSQL can be had.
set -euo pipefail

if [ "$#" -eq 0 ]; then
    echo "usage: $0 CMD [ARGS...]" >&2
    exit 2
fi

if [ -n "${DATABASE_URL:-}" ]; then
    exec "$@"
fi

# The newest installed server's binaries (Debian: /usr/lib/postgresql/<major>/bin).
pg_bin=""
for dir in $(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V); do
    [ -x "$dir/initdb" ] && [ -x "$dir/pg_ctl" ] && pg_bin="$dir"
done

pg_isready_cmd=""
if command -v pg_isready >/dev/null 2>&1; then
    pg_isready_cmd="pg_isready"
elif [ -n "$pg_bin" ] && [ -x "$pg_bin/pg_isready" ]; then
    pg_isready_cmd="$pg_bin/pg_isready"
fi

probe_port="${PG_PORT_PROBE:-5432}"
if [ -n "$pg_isready_cmd" ] && "$pg_isready_cmd" -q -h 127.0.0.1 -p "$probe_port" -t 3; then
    export DATABASE_URL="postgres://postgres@127.0.0.1:${probe_port}/test"
    echo "with-postgres: using the server on 127.0.0.1:${probe_port}" >&2
    exec "$@"
fi

if [ -z "$pg_bin" ]; then
    echo "with-postgres: no server on 127.0.0.1:${probe_port} and no initdb/pg_ctl under /usr/lib/postgresql/*/bin;" \
        "install PostgreSQL (apt-get install postgresql) or set DATABASE_URL" >&2
    exit 1
fi

# Runs a PostgreSQL server binary as the cluster's owner.
as_owner() {
    if [ "$(id -u)" -eq 0 ]; then
        runuser -u postgres -- "$@"
    else
        "$@"
    fi
}

if [ "$(id -u)" -eq 0 ] && ! id postgres >/dev/null 2>&1; then
    echo "with-postgres: running as root and there is no postgres user to own the cluster" >&2
    exit 1
fi

# A free TCP port on 127.0.0.1 (nothing accepts a connection there).
port=""
start=$((20000 + RANDOM % 20000))
for candidate in $(seq "$start" $((start + 200))); do
    if ! (exec 3<>"/dev/tcp/127.0.0.1/$candidate") 2>/dev/null; then
        port="$candidate"
        break
    fi
done
if [ -z "$port" ]; then
    echo "with-postgres: no free port found near $start" >&2
    exit 1
fi

cluster="$(mktemp -d "${TMPDIR:-/tmp}/smartstock-pg.XXXXXX")"
if [ "$(id -u)" -eq 0 ]; then
    chown postgres: "$cluster"
fi

cleanup() {
    status=$?
    if [ -f "$cluster/data/postmaster.pid" ]; then
        as_owner "$pg_bin/pg_ctl" -D "$cluster/data" -m fast -w stop >/dev/null 2>&1 || true
    fi
    rm -rf "$cluster"
    exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

echo "with-postgres: starting a throwaway cluster ($pg_bin) on 127.0.0.1:$port in $cluster" >&2
if ! as_owner "$pg_bin/initdb" -D "$cluster/data" -U postgres -A trust -E UTF8 --no-locale >"$cluster/initdb.log" 2>&1; then
    cat "$cluster/initdb.log" >&2
    exit 1
fi
if ! as_owner "$pg_bin/pg_ctl" -D "$cluster/data" -l "$cluster/server.log" -w -t 60 \
    -o "-p $port -k $cluster -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=200" start >/dev/null; then
    cat "$cluster/server.log" >&2
    exit 1
fi
"$pg_bin/createdb" -h 127.0.0.1 -p "$port" -U postgres test

export DATABASE_URL="postgres://postgres@127.0.0.1:${port}/test"
set +e
"$@"
status=$?
set -e
exit "$status"
