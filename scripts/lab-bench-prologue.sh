# Sourced by the benchmarks (bench.sh, bench-allocations.sh, bench-forwarding.sh, bench-lossless.sh,
# bench-loadbalancing.sh, bench-traffic.sh): set up the
# machine, build the release `fabric`, and say what machine the numbers come from.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
scripts/setup.sh >/dev/null
swift build -c release --product fabric >/dev/null
mkdir -p .build-bench
uname -r | sed 's/^/kernel /'
echo "cpus $(nproc), $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ //')"
