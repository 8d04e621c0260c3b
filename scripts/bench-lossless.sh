#!/usr/bin/env bash
# The lossless-Ethernet measurement (README "Lossless Ethernet"): a 3:1 incast of lossless
# RoCEv2 into a 200 Mb/s port, with PFC on, PFC on + DCQCN, PFC off. Prints a Markdown table
# and a summary (losses, PFC frames, XOFF reaction time, peak PG occupancy against headroom,
# goodput); writes .build-bench/lossless.json. Needs root. Extra arguments go to
# `fabric lossless` (e.g. --senders 4 --bottleneck 500M --rate 0.3).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
scripts/setup.sh >/dev/null
swift build -c release --product fabric >/dev/null
mkdir -p .build-bench
uname -r | sed 's/^/kernel /'
echo "cpus $(nproc), $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ //')"
exec .build/release/fabric lossless --json .build-bench/lossless.json "$@"
