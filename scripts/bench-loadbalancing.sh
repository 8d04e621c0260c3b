#!/usr/bin/env bash
# The collision experiment (README "Load balancing"): a ring all-reduce over the 8 hosts of the
# leaf-spine test bed (2 spines, 2 leaves of 4 hosts, leaf-spine links emulated at 100 Mb/s),
# ranks ordered so every ring edge crosses the spines, under ecmp and flowlet for 8 draws of QP
# numbers; JCT per seed, median and worst against the ideal. Prints a Markdown table; writes
# .build-bench/loadbalancing.json. Needs root. Extra arguments go to `fabric balance`
# (e.g. --modes ecmp,flowlet,spray --transport sr --cc dcqcn --seeds 4 --colliding).
source "$(dirname "$0")/lab-bench-prologue.sh"
exec .build/release/fabric balance --seeds 8 --modes ecmp,flowlet --json .build-bench/loadbalancing.json "$@"
