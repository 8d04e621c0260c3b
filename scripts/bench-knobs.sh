#!/usr/bin/env bash
# What each rate knob of the switch does: the L2 switch's 64-byte max forwarding rate with one
# knob changed at a time, against the default in the same round (rounds interleave the
# variants, so the machine's noise hits all alike).
#
#   sudo scripts/bench-knobs.sh [--rounds N] [--seconds S] [--variants LIST] [--size B]
#
# Variants (all by default):
#   default          fabric switch --ports h1,h2
#   busy-poll        --busy-poll 50 (SO_PREFER_BUSY_POLL, SO_BUSY_POLL 50 us, budget = batch)
#   busy-poll-defer  the same, and the ports' napi_defer_hard_irqs 2 / gro_flush_timeout 200 us
#                    (the kernel then leaves the NAPI work to the busy-polling worker)
#   napi-unpinned    default, but the veths' NAPI threads not pinned to the forwarding CPU
#   poll-busy        --poll busy (never sleeps or yields)
#   batch-16, batch-256, ring-512, ring-8192   --batch / --ring-size
#   spin-N           --spin-us N (idle microseconds before sleeping in poll(); default 200)
#   stall-0          --stall-budget 0s (rx rings of --ring-size, not grown for a stall)
#   stall-0-ring-512 the same with --ring-size 512
#   c-xskfwd         the C AF_XDP forwarder (Benchmarks/tools/xskfwd.c), as a reference
#
# Placement as scripts/bench.sh: sender (Benchmarks/tools/sfprobe) on CPU $GEN_CPU (0), the
# switch and the veths' threaded NAPI on CPU $FWD_CPU (1). Delivered = h2's rx_packets.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
ROUNDS=3 SECS=3 SIZE=64
VARIANTS=default,busy-poll,busy-poll-defer,napi-unpinned,poll-busy,batch-16,batch-256,ring-512,ring-8192
while [ $# -gt 0 ]; do
  case $1 in
    --rounds) ROUNDS=$2; shift 2 ;;
    --seconds) SECS=$2; shift 2 ;;
    --variants) VARIANTS=$2; shift 2 ;;
    --size) SIZE=$2; shift 2 ;;
    -h|--help) sed -n '2,23p' "$0"; exit 0 ;;
    *) echo "bench-knobs: unknown option $1" >&2; exit 2 ;;
  esac
done
GEN_CPU=${GEN_CPU:-0} FWD_CPU=${FWD_CPU:-1}
[ "$(id -u)" = 0 ] || { echo "bench-knobs: run as root" >&2; exit 1; }
. scripts/lab-bench-prologue.sh >&2
work=.build-bench
gcc -O2 -Wall -o "$work/sfprobe" Benchmarks/tools/sfprobe.c
gcc -O2 -Wall -o "$work/xskfwd" Benchmarks/tools/xskfwd.c -lxdp -lbpf
FABRIC=.build/release/fabric PROBE=$work/sfprobe
PREFIX=sfknob SW=sfknob-sw H1=sfknob-h1 H2=sfknob-h2
H2_MAC=02:5f:00:00:00:02 SRC_IP=10.77.1.1 SINK_IP=10.77.2.99
rows=$work/knobs.jsonl
: > "$rows"

peer_pid=""
cleanup() {
  if [ -n "$peer_pid" ]; then kill -TERM "$peer_pid" 2>/dev/null || true; wait "$peer_pid" 2>/dev/null || true; fi
  "$FABRIC" testbed down --prefix $PREFIX >/dev/null 2>&1 || true
}
trap cleanup EXIT

wait_for() { for _ in $(seq 1 200); do grep -q "$2" "$1" 2>/dev/null && return 0; sleep 0.05; done; cat "$1" >&2; return 1; }
pin_napi() {
  ip netns exec $SW sh -c 'echo 1 > /sys/class/net/h1/threaded && echo 1 > /sys/class/net/h2/threaded'
  for p in $(ps -eo pid=,comm= | awk '$2 ~ /^napi\/h[12]-/ {print $1}'); do taskset -pc "$FWD_CPU" "$p" >/dev/null; done
}
rx_packets() { ip netns exec $H2 cat /sys/class/net/eth0/statistics/rx_packets; }

for round in $(seq 1 "$ROUNDS"); do
  for v in ${VARIANTS//,/ }; do
    "$FABRIC" testbed up --routed --hosts 2 --prefix $PREFIX >/dev/null
    ip -n $H1 addr add 10.77.0.1/24 dev eth0
    ip -n $H2 addr add 10.77.0.2/24 dev eth0
    args=() pin=1
    case $v in
      default) ;;
      busy-poll) args=(--busy-poll 50) ;;
      busy-poll-defer)
        args=(--busy-poll 50)
        ip netns exec $SW sh -c 'for i in h1 h2; do echo 2 > /sys/class/net/$i/napi_defer_hard_irqs; echo 200000 > /sys/class/net/$i/gro_flush_timeout; done' ;;
      napi-unpinned) pin=0 ;;
      poll-busy) args=(--poll busy) ;;
      batch-*) args=(--batch "${v#batch-}") ;;
      ring-*) args=(--ring-size "${v#ring-}") ;;
      spin-*) args=(--spin-us "${v#spin-}") ;;
      stall-0) args=(--stall-budget 0s) ;;
      stall-0-ring-512) args=(--stall-budget 0s --ring-size 512) ;;
      c-xskfwd) ;;
      *) echo "bench-knobs: unknown variant $v" >&2; exit 2 ;;
    esac
    log=$work/knob-peer.log
    if [ "$v" = c-xskfwd ]; then
      ip netns exec $SW taskset -c "$FWD_CPU" "$work/xskfwd" .build-bpf/fabric_xsk.o h1 h2 > "$log" 2>&1 &
      peer_pid=$!
      wait_for "$log" "xskfwd: forwarding"
    else
      taskset -c "$FWD_CPU" "$FABRIC" switch --netns $SW --ports h1,h2 --no-control "${args[@]}" > "$log" 2>&1 &
      peer_pid=$!
      wait_for "$log" "forwarding on"
    fi
    [ "$pin" = 1 ] && pin_napi
    ip netns exec $H1 ping -n -c 3 -i 0.05 -W 1 10.77.0.2 >/dev/null || true   # MAC learning
    before=$(rx_packets)
    gen=$(ip netns exec $H1 taskset -c "$GEN_CPU" $PROBE send eth0 $H2_MAC $SRC_IP $SINK_IP $((SIZE - 4)) "$SECS" 0 "$work/knob-tx.log")
    sleep 0.2
    after=$(rx_packets)
    kill -TERM "$peer_pid"; wait "$peer_pid" || true; peer_pid=""
    "$FABRIC" testbed down --prefix $PREFIX >/dev/null
    python3 -c 'import json,sys; g=json.loads(sys.argv[4]); print(json.dumps({"round": int(sys.argv[1]), "variant": sys.argv[2], "pps": (int(sys.argv[6])-int(sys.argv[5]))/g["seconds"], "offered": g["pps"]}))' \
      "$round" "$v" "$SIZE" "$gen" "$before" "$after" >> "$rows"
    echo "bench-knobs: round $round $v: $(tail -1 "$rows")" >&2
  done
done

python3 - "$rows" "$SIZE" <<'PY'
import json, statistics, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
size = sys.argv[2]
variants = list(dict.fromkeys(r["variant"] for r in rows))
by = {(r["round"], r["variant"]): r["pps"] for r in rows}
rounds = sorted({r["round"] for r in rows})
print(f"| variant ({size} B) | delivered Mpps, median (min-max) | vs default, median of same-round ratios |")
print("|---|---|---|")
for v in variants:
    xs = [by[(n, v)] / 1e6 for n in rounds if (n, v) in by]
    ratios = [by[(n, v)] / by[(n, "default")] for n in rounds if (n, v) in by and by.get((n, "default"))]
    ratio = f"{statistics.median(ratios):.2f}x" if ratios else "-"
    print(f"| {v} | {statistics.median(xs):.3f} ({min(xs):.3f}-{max(xs):.3f}) | {ratio} |")
PY
