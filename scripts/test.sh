#!/usr/bin/env bash
# The test command (README, .ci/run): installs what is missing, builds the BPF objects and the
# package, runs unit tests and, as root, the integration tests on real namespaces/veth/AF_XDP.
# Ends with one line "tests: N passed, N failed" (CI reads it).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
scripts/setup.sh
# python3 for the tests' and scripts' helpers: Debian's, through the venv setup.sh made.
export PATH="$root/.build-venv/bin:$PATH"
swift build --build-tests
# The README's demo and benchmarks run release builds: make sure one builds (whole-module
# optimisation resolves imports differently and has broken a release-only build before).
swift build -c release --product fabric
log=$(mktemp)
trap 'rm -f "$log"' EXIT
set +e
swift test --skip-build --disable-swift-testing "$@" 2>&1 | tee "$log"
rc=${PIPESTATUS[0]}
set -e
# The per-packet path allocates nothing and makes no ARC/exclusivity runtime calls: audited by
# the pipeline benchmark's runtime counters (its timing is not asserted, only the counts).
echo "== allocation audit: fabric-pipeline-bench (debug build)"
if .build/debug/fabric-pipeline-bench 200000; then audit_ok=1; else audit_ok=0; rc=1; fi
# The XDP fast path: under BPF_PROG_TEST_RUN (no namespaces), on veths without the switch, and
# its stamp through a copy-mode socket (root; each says SKIP without).
echo "== XDP fast path: Tests/bpf/fastpath_test.py, fastpath_veth_check.py, stamp_check.sh"
if python3 Tests/bpf/fastpath_test.py && python3 Tests/bpf/fastpath_veth_check.py && Tests/bpf/stamp_check.sh; then
  fastpath_ok=1
else
  fastpath_ok=0; rc=1
fi
# The install (scripts/install.sh into a temporary PREFIX): the installed fabric finds its XDP
# objects under PREFIX/lib/swiftfabric/bpf/ and runs a switch with them (root; files only without).
echo "== install: Tests/install/install_check.sh"
if Tests/install/install_check.sh; then install_ok=1; else install_ok=0; rc=1; fi
# The container image as containerlab runs it (root, docker; last, since it starts dockerd, which
# changes the machine's own firewall): build, example lab, two switches and two hosts in containers.
echo "== container: Tests/container/container_check.sh"
container_skip=0
if [ "$(id -u)" -ne 0 ]; then
  echo "container check: SKIP (needs root: docker, veths moved into containers)"; container_ok=0; container_skip=1
elif scripts/setup.sh --image && Tests/container/container_check.sh; then container_ok=1; else container_ok=0; rc=1; fi
passed=$(grep -cE "^Test Case '.*' passed" "$log" || true)
failed=$(grep -cE "^Test Case '.*' failed" "$log" || true)
passed=$((passed + audit_ok + fastpath_ok + install_ok + container_ok)); failed=$((failed + 4 - audit_ok - fastpath_ok - install_ok - container_ok - container_skip))
skipped=$(( $(grep -cE "^Test Case '.*' skipped" "$log" || true) + container_skip ))
leftover=$(ip netns list 2>/dev/null | grep -E '^it[0-9a-f]{5}' || true)
if [ -n "$leftover" ]; then
  echo "test.sh: test namespaces left behind: $leftover" >&2
  rc=1
fi
echo "tests: $passed passed, $failed failed, $skipped skipped"
exit "$rc"
