#!/usr/bin/env bash
# Pipeline cost without sockets, two ways:
#  1. fabric-pipeline-bench (release): ns/frame for the bridge and the router (1k and 100k
#     prefixes) with the allocation/ARC audit;
#  2. the package-benchmark suite in Benchmarks/PackageBenchmark (ordo-one/benchmark with its
#     malloc interposer): the router batch and each stage (parse, route, flowlet, enqueue/dequeue
#     with PFC accounting), per-batch wall clock and mallocs, checked against the static
#     thresholds in Benchmarks/PackageBenchmark/Thresholds (exit status 1 on a regression).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
scripts/setup.sh >/dev/null
swift build -c release --product fabric-pipeline-bench
.build/release/fabric-pipeline-bench
mkdir -p .build-bench
ln -sfn "$root" .build-bench/swiftfabric   # fixed package identity for the benchmark package
cd Benchmarks/PackageBenchmark
swift package --allow-writing-to-package-directory benchmark --no-progress
swift package benchmark thresholds check --no-progress
