#!/usr/bin/env bash
# The test command: checks formatting, builds everything (host, SDK, example workflow packages), installs the
# examples with the build-workflows plugin, starts a throwaway PostgreSQL, runs the whole test suite, checks the HTTP
# API of a running host against its OpenAPI document (scripts/api-check.sh: schemathesis, prometheus_client), and
# runs the benchmark at smoke size on both backends.
# Extra arguments go to `swift test` (for example: scripts/test.sh --filter PackageLoader); then only the tests run.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/install-dependencies.sh

echo "==> swift format lint"
swift format lint --strict --recursive Package.swift Sources Tests Plugins workflows sdk

echo "==> swift build"
swift build

work=$(mktemp -d /tmp/cloacina-test-XXXXXX)
echo "==> build-workflows into $work/workflows"
swift package --allow-writing-to-package-directory --allow-writing-to-directory "$work" \
    build-workflows --output "$work/workflows"
swift package --package-path workflows/reports --allow-writing-to-package-directory \
    --allow-writing-to-directory "$work" build-workflows --output "$work/workflows"
export CLOACINA_TEST_DROP_DIR="$work/workflows"

# shellcheck source=scripts/postgres.sh
source scripts/postgres.sh
trap 'stop_postgres; rm -rf "$work"' EXIT

echo "==> swift test"
swift test "$@"

if [ $# -eq 0 ]; then
    echo "==> scripts/api-check.sh"
    CLOACINA_API_CHECK_DATABASE="$CLOACINA_TEST_POSTGRES_API_URL" scripts/api-check.sh "$work/workflows"

    # The benchmark keeps building and running (tiny sizes; nothing is timed or asserted here: see BENCHMARKS.md).
    echo "==> cloacina-bench --smoke (SQLite, PostgreSQL)"
    swift run --skip-build cloacina-bench --smoke --package "$work/workflows/libBenchWorkflows.so"
    swift run --skip-build cloacina-bench --smoke --package "$work/workflows/libBenchWorkflows.so" \
        --backend postgres --database "$CLOACINA_TEST_POSTGRES_URL"
fi
