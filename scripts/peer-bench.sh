#!/usr/bin/env bash
# The PostgreSQL throughput of Cloacina beside a peer queue, pgqueuer (from PyPI), on one throwaway server:
#   scripts/peer-bench.sh [ROUNDS]            (default 5)
# Builds the release cloacina-bench and the benchmark package, installs pgqueuer into .build-peers/venv, starts a
# private PostgreSQL (scripts/postgres.sh), then alternates, ROUNDS times: cloacina-bench's throughput workload (64
# callers of fan10, tasks in process) and pgqueuer draining 20,000 no-op jobs with 2 consumer processes. Prints each
# line, then the medians and their ratio (Cloacina tasks/s over pgqueuer jobs/s). PEER_JOBS and PEER_CONSUMERS change
# the peer's sizes; CLOACINA_BENCH_N the number of fan10 executions (default 5000).
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=${1:-5}
case "$rounds" in '' | *[!0-9]*) echo "usage: scripts/peer-bench.sh [ROUNDS]" >&2; exit 2 ;; esac

venv=.build-peers/venv
if [ ! -x "$venv/bin/python" ]; then
    python3 -m venv "$venv"
    "$venv/bin/pip" install --quiet pgqueuer==1.6.0 asyncpg==0.32.0
fi
swift build -c release --product cloacina-bench >/dev/null
swift build -c release --product cloacina >/dev/null
drop=$(mktemp -d /tmp/cloacina-peer-XXXXXX)
swift package --allow-writing-to-package-directory --allow-writing-to-directory "$drop" \
    build-workflows --product BenchWorkflows --output "$drop" >/dev/null

# shellcheck source=scripts/postgres.sh
source scripts/postgres.sh
trap 'stop_postgres; rm -rf "$drop"' EXIT
url="$CLOACINA_TEST_POSTGRES_URL"
lines=$(mktemp)
for round in $(seq 1 "$rounds"); do
    .build/release/cloacina-bench --package "$drop/libBenchWorkflows.so" --backend postgres --database "$url" \
        --isolation in-process --workload throughput --n "${CLOACINA_BENCH_N:-5000}" | tee -a "$lines"
    "$venv/bin/python" scripts/peers/pgqueuer_bench.py --dsn "$url" --jobs "${PEER_JOBS:-20000}" \
        --consumers "${PEER_CONSUMERS:-2}" | tee -a "$lines"
    echo "round $round of $rounds done" >&2
done
python3 - "$lines" <<'PY'
import json, statistics, sys
rows = [json.loads(line) for line in open(sys.argv[1]) if line.startswith("{")]
ours = statistics.median(row["tasks_per_s"] for row in rows if row.get("workload") == "throughput")
peer = statistics.median(row["jobs_per_s"] for row in rows if row.get("peer") == "pgqueuer")
print(f"median: cloacina {ours:,.0f} tasks/s, pgqueuer {peer:,.0f} jobs/s, ratio {ours / peer:.2f}")
PY
rm -f "$lines"
