#!/usr/bin/env bash
# The load-balancing measurement (README "Load balancing"): an all-to-all RoCEv2 collective on
# the leaf-spine test bed (2 spines, 2 leaves, 4 hosts per leaf, leaf-spine links emulated at
# 200 Mb/s) under ecmp, flowlet and spray, interleaved round by round. Prints a Markdown table;
# writes .build-bench/loadbalancing.json. Needs root. Extra arguments go to `fabric balance`
# (e.g. --rounds 5 --messages 8 --uplink-speed 100M --topology FILE).
source "$(dirname "$0")/lab-bench-prologue.sh"
exec .build/release/fabric balance --uplink-speed 200M --rounds 3 --json .build-bench/loadbalancing.json "$@"
