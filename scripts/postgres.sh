#!/usr/bin/env bash
# Sourced by scripts/test.sh: starts two throwaway PostgreSQL servers on private ports and a private socket
# directory, and stops and deletes them when the shell exits (stop_postgres). Exports:
#   CLOACINA_TEST_POSTGRES_URL          the main test server, as its superuser `cloacina`, database cloacina_test;
#   CLOACINA_TEST_POSTGRES_RESTART_URL  a second server, only for tests that restart it (so no other test sees that);
#   CLOACINA_TEST_POSTGRES_RESTART      a command for `/bin/sh -c` that restarts the second server (fast shutdown,
#                                       then waits until it accepts connections again);
#   CLOACINA_TEST_POSTGRES_LOG          the main server's log (it logs every DDL statement).
#   CLOACINA_TEST_POSTGRES_API_URL      the main server's database cloacina_api, for scripts/api-check.sh alone.
# `cloacina` logs in without a password; every other role must give its password (SCRAM-SHA-256), so tests of
# tenants' credentials mean something. PostgreSQL refuses to run as root, so as root the servers run as `postgres`.

pg_bin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
if [ -z "$pg_bin" ] || [ ! -x "$pg_bin/initdb" ]; then
    echo "PostgreSQL server binaries not found (install the postgresql package)" >&2
    return 1
fi

pg_root=$(mktemp -d /tmp/cloacina-pg-XXXXXX)
pg_port=$((20000 + RANDOM % 20000))
pg_restart_port=$((pg_port + 1))
if [ "$(id -u)" = 0 ]; then
    chown postgres "$pg_root"
    as_pg() { runuser -u postgres -- "$@"; }
    pg_as_prefix="runuser -u postgres -- "
else
    as_pg() { "$@"; }
    pg_as_prefix=""
fi

stop_postgres() {
    as_pg "$pg_bin/pg_ctl" -D "$pg_root/data" -m immediate stop >/dev/null 2>&1 || true
    as_pg "$pg_bin/pg_ctl" -D "$pg_root/restart-data" -m immediate stop >/dev/null 2>&1 || true
    rm -rf "$pg_root"
}
trap stop_postgres EXIT

as_pg "$pg_bin/initdb" -D "$pg_root/data" -U cloacina --auth=trust --no-sync >"$pg_root/initdb.log" 2>&1 ||
    { cat "$pg_root/initdb.log" >&2; return 1; }
as_pg sh -c "printf '%s\n' 'local all cloacina trust' 'local all all scram-sha-256' >'$pg_root/data/pg_hba.conf'"
as_pg cp -a "$pg_root/data" "$pg_root/restart-data"

# start_pg DATA PORT LOG [OPTIONS]: starts the server in DATA and creates the database cloacina_test.
start_pg() {
    as_pg "$pg_bin/pg_ctl" -D "$1" -l "$3" -w \
        -o "-p $2 -k $pg_root -c listen_addresses='' -c fsync=on ${4:-}" start >/dev/null ||
        { cat "$3" >&2; return 1; }
    as_pg "$pg_bin/createdb" -h "$pg_root" -p "$2" -U cloacina cloacina_test
}
start_pg "$pg_root/data" "$pg_port" "$pg_root/server.log" "-c log_statement=ddl" || return 1
as_pg "$pg_bin/createdb" -h "$pg_root" -p "$pg_port" -U cloacina cloacina_api || return 1
start_pg "$pg_root/restart-data" "$pg_restart_port" "$pg_root/restart.log" || return 1

export CLOACINA_TEST_POSTGRES_URL="postgresql://cloacina@/cloacina_test?host=$pg_root&port=$pg_port"
export CLOACINA_TEST_POSTGRES_RESTART_URL="postgresql://cloacina@/cloacina_test?host=$pg_root&port=$pg_restart_port"
export CLOACINA_TEST_POSTGRES_RESTART="${pg_as_prefix}$pg_bin/pg_ctl -D $pg_root/restart-data -l $pg_root/restart.log -m fast -w restart >/dev/null"
export CLOACINA_TEST_POSTGRES_LOG="$pg_root/server.log"
export CLOACINA_TEST_POSTGRES_API_URL="postgresql://cloacina@/cloacina_api?host=$pg_root&port=$pg_port"
echo "==> PostgreSQL $("$pg_bin/postgres" --version | awk '{print $3}') on $pg_root:$pg_port (and :$pg_restart_port)"
