#!/usr/bin/env bash
# Instructions per frame of one fabric-pipeline-bench case, counted by valgrind (callgrind):
# the difference of two runs (200k and 600k frames) over 400k frames, so setup and warm-up cancel.
# Deterministic, unlike ns/frame on a shared VM: use it to compare two builds of the pipeline.
#   Benchmarks/tools/instructions-per-frame.sh BINARY bridge|router-1k|router-100k
# Needs valgrind (apt-get install valgrind). Debian 12's valgrind cannot read the DWARF 5 of
# Swift 6 binaries, so the count runs on a copy without debug info (symbols kept).
set -euo pipefail
bin=$1 case=$2
command -v valgrind >/dev/null || { echo "needs valgrind (apt-get install valgrind)" >&2; exit 1; }
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
strip --strip-debug -o "$tmp/bench" "$bin"
count() { valgrind --tool=callgrind --callgrind-out-file=/dev/null "$tmp/bench" "$case" "$1" 2>&1 | awk '/Collected/ {gsub(",", "", $4); print $4}'; }
a=$(count 200000); b=$(count 600000)
python3 -c "print(f'$(basename "$bin") $case: {($b - $a) / 400000:.1f} instructions per frame')"
