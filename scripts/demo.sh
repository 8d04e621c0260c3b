#!/usr/bin/env bash
# The main job (README): a demo on the default 4-host test bed with a readable report.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
scripts/setup.sh
swift build -c release --product fabric
exec .build/release/fabric demo "$@"
