#!/usr/bin/env bash
# Allocations and ARC traffic of the *running* switch, per forwarded frame, for each backend:
# uprobes on libc's malloc and the Swift runtime's swift_allocObject and swift_retain count
# every call the switch process makes while a sender blasts 64-byte frames through it, and the
# same for an idle period of equal length (the run loop's housekeeping: a tick every 100 ms).
# Per frame = (busy - idle) / frames forwarded; the per-packet path should show 0.
#
#   sudo scripts/bench-allocations.sh [SECONDS]        (default 3)
#
# (fabric-pipeline-bench audits the pipeline alone with interposed counters; this audits the
# whole switch, sockets and run loop included, as it runs.)
. "$(dirname "$0")/lab-bench-prologue.sh"   # setup, release build, which machine
SECS=${1:-3}
GEN_CPU=${GEN_CPU:-0}
FWD_CPU=${FWD_CPU:-1}
PREFIX=sfalloc
SW=$PREFIX-sw H1=$PREFIX-h1 H2=$PREFIX-h2
work=.build-bench
command -v perf >/dev/null || DEBIAN_FRONTEND=noninteractive apt-get install -y -qq linux-perf >/dev/null
gcc -O2 -Wall -o "$work/sfprobe" Benchmarks/tools/sfprobe.c
FABRIC=$root/.build/release/fabric
libc=$(ldd "$FABRIC" | awk '/\/libc\.so\.6/ {print $3}')
swiftcore=$(ldd "$FABRIC" | awk '/libswiftCore\.so/ {print $3}')
[ -n "$libc" ] && [ -n "$swiftcore" ] || { echo "bench-allocations: cannot find libc/libswiftCore of $FABRIC" >&2; exit 1; }

sw_pid=""
probes=()
cleanup() {
  if [ -n "$sw_pid" ]; then kill -TERM "$sw_pid" 2>/dev/null || true; wait "$sw_pid" 2>/dev/null || true; fi
  for p in "${probes[@]}"; do perf probe -q -d "$p" 2>/dev/null || true; done
  "$FABRIC" testbed down --prefix $PREFIX >/dev/null
}
trap cleanup EXIT

add_probe() { # event binary function
  perf probe -q -d "sfalloc:$1" 2>/dev/null || true
  perf probe -q -x "$2" -a "sfalloc:$1=$3" >/dev/null
  probes+=("sfalloc:$1")
}
add_probe malloc "$libc" malloc
add_probe allocobject "$swiftcore" swift_allocObject
add_probe retain "$swiftcore" swift_retain
events=sfalloc:malloc,sfalloc:allocobject,sfalloc:retain

count() { # seconds -> "malloc allocObject retain" of the switch process over that time
  perf stat -x, -e $events -p "$sw_pid" -- sleep "$1" 2>&1 >/dev/null | awk -F, '{printf "%s ", $1} END {print ""}'
}
rx() { ip netns exec $H2 cat /sys/class/net/eth0/statistics/rx_packets; }

"$FABRIC" testbed up --hosts 2 --prefix $PREFIX >/dev/null
printf '| backend | frames forwarded | malloc (busy / idle) | swift_allocObject (busy / idle) | swift_retain (busy / idle) | per frame (malloc, alloc, retain) |\n|---|---|---|---|---|---|\n'
for backend in afxdp afpacket; do
  log=$work/alloc-switch.log
  taskset -c "$FWD_CPU" "$FABRIC" switch --netns $SW --ports h1,h2 --backend $backend --no-control >"$log" 2>&1 &
  sw_pid=$!
  for _ in $(seq 1 200); do grep -q "forwarding on" "$log" && break; sleep 0.05; done
  ip netns exec $H1 ping -n -c 3 -i 0.05 10.77.0.2 >/dev/null   # MAC learning
  idle=$(count "$SECS")
  before=$(rx)
  count "$SECS" > "$work/alloc-busy.txt" &
  counter=$!
  sleep 0.1
  ip netns exec $H1 taskset -c "$GEN_CPU" "$work/sfprobe" send eth0 02:5f:00:00:00:02 10.77.0.1 10.77.0.99 60 "$(awk -v s="$SECS" 'BEGIN { print s - 0.2 }')" 0 "$work/tx.log" >/dev/null
  wait $counter
  frames=$(( $(rx) - before ))
  busy=$(cat "$work/alloc-busy.txt")
  kill -TERM "$sw_pid"; wait "$sw_pid" || true; sw_pid=""
  python3 - "$backend" "$frames" "$busy" "$idle" <<'PY'
import sys
backend, frames, busy, idle = sys.argv[1], int(sys.argv[2]), sys.argv[3].split(), sys.argv[4].split()
b, i = [int(x) for x in busy], [int(x) for x in idle]
per = [max(0, x - y) / max(1, frames) for x, y in zip(b, i)]
print(f"| {backend} | {frames} | {b[0]} / {i[0]} | {b[1]} / {i[1]} | {b[2]} / {i[2]} | {per[0]:.6f}, {per[1]:.6f}, {per[2]:.6f} |")
PY
done
rm -f "$work/tx.log" "$work/alloc-busy.txt"
