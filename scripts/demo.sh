#!/usr/bin/env bash
# The main job on the embedded default: builds the host and the example workflow packages, installs the packages
# into the drop directory (.cloacina/workflows) the way a user would, and has the host load and validate them.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/install-dependencies.sh

echo "==> building the host"
swift build --product cloacina

echo "==> building the example workflow packages into .cloacina/workflows"
swift package --allow-writing-to-package-directory build-workflows --output .cloacina/workflows

echo "==> cloacina workflows list --workflows .cloacina/workflows"
.build/debug/cloacina workflows list --workflows .cloacina/workflows
