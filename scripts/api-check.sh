#!/usr/bin/env bash
# Checks the HTTP API against its OpenAPI document with real clients. For each backend (SQLite files, and PostgreSQL
# when CLOACINA_API_CHECK_DATABASE gives a database URL) it starts a `cloacina serve` (tenants default and acme) on a
# throwaway directory serving the example packages of DROP_DIR, then
#   - checks that GET /openapi.json serves Sources/CloacinaHTTP/openapi.json byte for byte;
#   - runs schemathesis on it: examples, coverage, fuzzing and stateful phases (the document's links), valid and
#     invalid data, every check (no 5xx, only documented status codes, content types, headers and bodies, invalid
#     data refused, valid data accepted, 405 for undocumented methods, ...); settings in scripts/api/schemathesis.toml;
#   - parses GET /metrics with prometheus_client's parser (scripts/api/check_metrics.py).
# Any failure fails the script; the host is stopped on exit. Called by scripts/test.sh after `swift test`.
#
# Usage: scripts/api-check.sh DROP_DIR   (DROP_DIR: where build-workflows installed the example packages, such as
#        .cloacina/workflows after scripts/demo.sh)
# Environment: CLOACINA_API_CHECK_DATABASE (a PostgreSQL URL whose database the check may fill: also check on it),
#              CLOACINA_API_CHECK_EXAMPLES (test cases per operation and phase; the settings' by default),
#              CLOACINA_API_CHECK_SEED (replay a run: the seed schemathesis printed), CLOACINA_PYTHON_ENV.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ $# -ne 1 ] || [ ! -d "$1" ]; then
    echo "usage: scripts/api-check.sh DROP_DIR" >&2
    exit 2
fi
drop=$1
# shellcheck source=scripts/api/environment.sh
source scripts/api/environment.sh
python="$api_python_env/bin/python"
if [ ! -x "$api_python_env/bin/schemathesis" ]; then
    echo "schemathesis is not installed in $api_python_env: run scripts/install-dependencies.sh" >&2
    exit 2
fi
[ -f "$drop/libTextAnalytics.so" ] || { echo "no libTextAnalytics.so in $drop" >&2; exit 2; }
cloacina="$(swift build --show-bin-path)/cloacina"

work=$(mktemp -d /tmp/cloacina-api-XXXXXX)
server=
stop_server() {
    if [ -n "$server" ] && kill -0 "$server" 2>/dev/null; then
        kill -TERM "$server" 2>/dev/null || true
        for _ in $(seq 100); do kill -0 "$server" 2>/dev/null || break; sleep 0.1; done
        kill -KILL "$server" 2>/dev/null || true
        wait "$server" 2>/dev/null || true
    fi
    server=
}
trap 'stop_server; rm -rf "$work"' EXIT

options=()
[ -n "${CLOACINA_API_CHECK_SEED:-}" ] && options+=(--seed "$CLOACINA_API_CHECK_SEED")
[ -n "${CLOACINA_API_CHECK_EXAMPLES:-}" ] && options+=(--max-examples "$CLOACINA_API_CHECK_EXAMPLES")

# check NAME [SERVE OPTIONS...]: the whole check against one host.
check() {
    local name=$1 directory="$work/$1"
    shift
    # The example packages found (not the benchmark's: its 10,000-task workflow is no test of the API).
    mkdir -p "$directory/workflows" "$directory/data"
    for package in libTextAnalytics.so libOrders.so libCFingerprint.so libReports.so; do
        if [ -f "$drop/$package" ]; then cp "$drop/$package" "$directory/workflows/"; fi
    done

    local port base
    port=$("$python" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
    base="http://127.0.0.1:$port"
    "$cloacina" serve --workflows "$directory/workflows" --data-dir "$directory/data" --http "127.0.0.1:$port" \
        --tenants default,acme --create-tenant --drain-timeout 5 --max-pending-executions 100 "$@" </dev/null >"$directory/serve.log" 2>&1 &
    server=$!
    for _ in $(seq 300); do
        curl -sf "$base/ready" >/dev/null 2>&1 && break
        kill -0 "$server" 2>/dev/null || { cat "$directory/serve.log" >&2; echo "cloacina serve exited" >&2; exit 1; }
        sleep 0.1
    done
    curl -sf "$base/ready" >/dev/null || { cat "$directory/serve.log" >&2; echo "$name: not ready" >&2; exit 1; }
    echo "==> API check ($name) against cloacina serve on $base"

    curl -sf "$base/openapi.json" -o "$directory/served.json"
    cmp "$directory/served.json" Sources/CloacinaHTTP/openapi.json ||
        { echo "GET /openapi.json is not Sources/CloacinaHTTP/openapi.json" >&2; exit 1; }

    # One worker: with two threads, CPython before 3.11.8 and 3.12.2 can fail an ast.parse that hypothesis makes with
    # "AST constructor recursion depth mismatch" (python/cpython#106905), an error of the tool, not of the API.
    local status=0
    (cd "$directory" && "$api_python_env/bin/schemathesis" --config-file "$OLDPWD/scripts/api/schemathesis.toml" \
        run "$base/openapi.json" --url "$base" --phases examples,coverage,fuzzing,stateful --mode all \
        --checks all --workers 1 --request-timeout 5 --no-color --warnings off "${options[@]}") || status=$?
    if [ $status != 0 ]; then
        echo "==> schemathesis failed ($name, status $status); the host's log ends:" >&2
        tail -n 50 "$directory/serve.log" >&2
        exit 1
    fi

    "$python" scripts/api/check_metrics.py "$base" default word_stats || {
        echo "==> the metrics check failed ($name); the host's log ends:" >&2
        tail -n 40 "$directory/serve.log" >&2
        exit 1
    }
    # The host answered everything without dying.
    kill -0 "$server" 2>/dev/null || { cat "$directory/serve.log" >&2; echo "$name: the host died" >&2; exit 1; }
    stop_server
}

check sqlite
if [ -n "${CLOACINA_API_CHECK_DATABASE:-}" ]; then
    check postgresql --database "$CLOACINA_API_CHECK_DATABASE"
fi
echo "==> API check passed"
