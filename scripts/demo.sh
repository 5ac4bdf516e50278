#!/usr/bin/env bash
# The main job on the embedded default: builds the host and the example workflow packages, installs the packages
# into the drop directory (.cloacina/workflows) the way a user would, checks them, and runs two example workflows
# through their .so files with state in SQLite (.cloacina/data/default.db).
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/install-dependencies.sh

echo "==> building the host"
swift build --product cloacina

echo "==> building the example workflow packages into .cloacina/workflows"
swift package --allow-writing-to-package-directory build-workflows --output .cloacina/workflows

echo "==> cloacina check .cloacina/workflows/*.so"
.build/debug/cloacina check .cloacina/workflows/*.so

echo "==> cloacina run word_stats (fan-out/fan-in, Swift package)"
.build/debug/cloacina run word_stats --context '{"text": "the quick brown fox jumps over the lazy dog"}'

echo "==> cloacina run process_order (a retried task and a conditional one)"
.build/debug/cloacina run process_order --context '{"items": 2, "gift": true}'

echo "==> cloacina executions list"
.build/debug/cloacina executions list --limit 5
