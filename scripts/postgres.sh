#!/usr/bin/env bash
# Sourced by scripts/test.sh: starts a throwaway PostgreSQL cluster on a private port and socket directory,
# exports CLOACINA_TEST_POSTGRES_URL, and stops and deletes the cluster when the shell exits.
# PostgreSQL refuses to run as root, so as root the cluster runs as the `postgres` user.

pg_bin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
if [ -z "$pg_bin" ] || [ ! -x "$pg_bin/initdb" ]; then
    echo "PostgreSQL server binaries not found (install the postgresql package)" >&2
    return 1
fi

pg_root=$(mktemp -d /tmp/cloacina-pg-XXXXXX)
pg_port=$((20000 + RANDOM % 20000))
if [ "$(id -u)" = 0 ]; then
    chown postgres "$pg_root"
    as_pg() { runuser -u postgres -- "$@"; }
else
    as_pg() { "$@"; }
fi

stop_postgres() {
    as_pg "$pg_bin/pg_ctl" -D "$pg_root/data" -m immediate stop >/dev/null 2>&1 || true
    rm -rf "$pg_root"
}
trap stop_postgres EXIT

as_pg "$pg_bin/initdb" -D "$pg_root/data" -U cloacina --auth=trust --no-sync >"$pg_root/initdb.log" 2>&1 ||
    { cat "$pg_root/initdb.log" >&2; return 1; }
as_pg "$pg_bin/pg_ctl" -D "$pg_root/data" -l "$pg_root/server.log" -w \
    -o "-p $pg_port -k $pg_root -c listen_addresses='' -c fsync=on" start >/dev/null ||
    { cat "$pg_root/server.log" >&2; return 1; }
as_pg "$pg_bin/createdb" -h "$pg_root" -p "$pg_port" -U cloacina cloacina_test

export CLOACINA_TEST_POSTGRES_URL="postgresql://cloacina@/cloacina_test?host=$pg_root&port=$pg_port"
echo "==> PostgreSQL $("$pg_bin/postgres" --version | awk '{print $3}') on $pg_root:$pg_port"
