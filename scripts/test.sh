#!/usr/bin/env bash
# The test command (README, .ci/run): installs what is missing, builds the BPF objects and the
# package, runs unit tests and, as root, the integration tests on real namespaces/veth/AF_XDP.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
scripts/setup.sh
swift build --build-tests
swift test --skip-build "$@"
