#!/usr/bin/env bash
# The test command (README, .ci/run): installs what is missing, builds the BPF objects and the
# package, runs unit tests and, as root, the integration tests on real namespaces/veth/AF_XDP.
# Ends with one line "tests: N passed, N failed" (CI reads it).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
scripts/setup.sh
swift build --build-tests
log=$(mktemp)
trap 'rm -f "$log"' EXIT
set +e
swift test --skip-build --disable-swift-testing "$@" 2>&1 | tee "$log"
rc=${PIPESTATUS[0]}
set -e
passed=$(grep -cE "^Test Case '.*' passed" "$log" || true)
failed=$(grep -cE "^Test Case '.*' failed" "$log" || true)
skipped=$(grep -cE "^Test Case '.*' skipped" "$log" || true)
leftover=$(ip netns list 2>/dev/null | grep -E '^it[0-9a-f]{5}' || true)
if [ -n "$leftover" ]; then
  echo "test.sh: test namespaces left behind: $leftover" >&2
  rc=1
fi
echo "tests: $passed passed, $failed failed, $skipped skipped"
exit "$rc"
