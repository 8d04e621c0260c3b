#!/usr/bin/env bash
# The lossless-Ethernet measurement (README "Lossless Ethernet"): a 3:1 incast of lossless
# RoCEv2 into a 200 Mb/s port, with PFC on, PFC on + DCQCN, PFC off. Prints a Markdown table
# and a summary (losses, PFC frames, XOFF reaction time, peak PG occupancy against headroom,
# goodput); writes .build-bench/lossless.json. Needs root. Extra arguments go to
# `fabric lossless` (e.g. --senders 4 --bottleneck 500M --rate 0.3).
source "$(dirname "$0")/lab-bench-prologue.sh"
exec .build/release/fabric lossless --json .build-bench/lossless.json "$@"
