#!/usr/bin/env bash
# The main job on the embedded default: builds the host and the example workflow packages, installs the packages
# into the drop directory (.cloacina/workflows) the way a user would, and has the host load and validate them
# with `cloacina check` (each file in a separate process; nothing runs yet).
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/install-dependencies.sh

echo "==> building the host"
swift build --product cloacina

echo "==> building the example workflow packages into .cloacina/workflows"
swift package --allow-writing-to-package-directory build-workflows --output .cloacina/workflows

echo "==> cloacina check .cloacina/workflows/*.so"
.build/debug/cloacina check .cloacina/workflows/*.so
