#!/usr/bin/env bash
# 64-byte UDP forwarding rate and idle ping latency through SwiftFabric, the minimal C AF_XDP
# forwarder (Benchmarks/tools/xskfwd.c) and the Linux bridge, on one 2-host test bed,
# interleaved round by round so the machine's noise hits every peer alike.
#
#   scripts/bench-forwarding.sh [ROUNDS] [SECONDS]      (defaults: 3 rounds, 4 s of traffic)
# Peers: swiftfabric (adaptive poll), swiftfabric-polled (the same with a client fetching a
# stats snapshot every 100 ms), swiftfabric-busy, c-xskfwd, linux-bridge.
#
# Sender: Benchmarks/tools/sfgen (AF_PACKET, qdisc bypass, sendmmsg) in h1, pinned to CPU
# $GEN_CPU (0); it offers as many 60-byte (64 on the wire) frames as it can to h2's MAC and to
# 10.77.0.99 (no such host: h2 counts and discards them, no replies). Receiver: the kernel's
# rx_packets counter of h2's eth0. Forwarder process pinned to CPU $FWD_CPU (1); the Linux
# bridge forwards in softirq wherever the kernel runs it. Ping: 200 requests 5 ms apart, h1->h2,
# with no other traffic. Writes a Markdown table to stdout and raw rows to .build-bench/.
. "$(dirname "$0")/lab-bench-prologue.sh"   # setup, release build, which machine
ROUNDS=${1:-3}
SECONDS_PER_RUN=${2:-4}
GEN_CPU=${GEN_CPU:-0}
FWD_CPU=${FWD_CPU:-1}
PREFIX=sfbench
SW=$PREFIX-sw H1=$PREFIX-h1 H2=$PREFIX-h2
out=.build-bench

gcc -O2 -Wall -o "$out/sfgen" Benchmarks/tools/sfgen.c
gcc -O2 -Wall -o "$out/xskfwd" Benchmarks/tools/xskfwd.c -lxdp -lbpf
FABRIC=.build/release/fabric

peer_pid=""
poller_pid=""
cleanup() {
  if [ -n "$poller_pid" ]; then kill -TERM "$poller_pid" 2>/dev/null || true; wait "$poller_pid" 2>/dev/null || true; fi
  if [ -n "$peer_pid" ]; then kill -TERM "$peer_pid" 2>/dev/null || true; wait "$peer_pid" 2>/dev/null || true; fi
  "$FABRIC" testbed down --prefix $PREFIX >/dev/null
}
trap cleanup EXIT
"$FABRIC" testbed up --hosts 2 --prefix $PREFIX >/dev/null

wait_for() { # file pattern
  for _ in $(seq 1 200); do grep -q "$2" "$1" 2>/dev/null && return 0; sleep 0.05; done
  echo "bench: peer did not start:"; cat "$1"; return 1
}

start_peer() {
  local log=$out/peer.log
  : > "$log"
  case $1 in
    swiftfabric)
      taskset -c "$FWD_CPU" "$FABRIC" switch --netns $SW --ports h1,h2 >"$log" 2>&1 &
      peer_pid=$!; wait_for "$log" "forwarding on" ;;
    swiftfabric-busy)
      taskset -c "$FWD_CPU" "$FABRIC" switch --netns $SW --ports h1,h2 --poll busy >"$log" 2>&1 &
      peer_pid=$!; wait_for "$log" "forwarding on" ;;
    swiftfabric-polled)
      # The telemetry's cost: the same switch while a client (not pinned) asks its control
      # socket for a full snapshot every 100 ms, as `fabric stats --watch` or a scraper would.
      taskset -c "$FWD_CPU" "$FABRIC" switch --netns $SW --ports h1,h2 >"$log" 2>&1 &
      peer_pid=$!; wait_for "$log" "control socket"
      python3 - /run/swiftfabric/switch-$SW/control.sock <<'PY' &
import socket, sys, time
while True:
    s = socket.socket(socket.AF_UNIX)
    s.connect(sys.argv[1])
    s.sendall(b"snapshot\n")
    while s.recv(65536):
        pass
    s.close()
    time.sleep(0.1)
PY
      poller_pid=$! ;;
    c-xskfwd)
      ip netns exec $SW taskset -c "$FWD_CPU" "$out/xskfwd" .build-bpf/fabric_xsk.o h1 h2 >"$log" 2>&1 &
      peer_pid=$!; wait_for "$log" "forwarding" ;;
    linux-bridge)
      ip -n $SW link add br0 type bridge
      ip -n $SW link set h1 master br0
      ip -n $SW link set h2 master br0
      ip -n $SW link set br0 up ;;
  esac
}

stop_peer() {
  case $1 in
    linux-bridge) ip -n $SW link del br0 ;;
    *) if [ -n "$poller_pid" ]; then kill -TERM "$poller_pid"; wait "$poller_pid" || true; poller_pid=""; fi
       kill -TERM "$peer_pid"; wait "$peer_pid" || true; peer_pid="" ;;
  esac
}

rx_packets() { ip netns exec $H2 cat /sys/class/net/eth0/statistics/rx_packets; }
# Busy and total jiffies of one CPU (user+nice+system+irq+softirq+steal vs. all).
cpu_ticks() { awk -v c="cpu$1" '$1 == c { busy = $2 + $3 + $4 + $7 + $8 + $9; print busy, busy + $5 + $6 }' /proc/stat; }

rows=$out/forwarding.tsv
echo -e "round\tpeer\toffered_pps\tforwarded_pps\tping_p50_us\tping_p99_us\tping_loss\tfwd_cpu_busy\tgen_cpu_busy" > "$rows"
for round in $(seq 1 "$ROUNDS"); do
  for peer in swiftfabric swiftfabric-polled swiftfabric-busy c-xskfwd linux-bridge; do
    start_peer $peer
    ip netns exec $H1 ping -n -c 3 -i 0.05 10.77.0.2 >/dev/null || true   # ARP + MAC learning
    ip netns exec $H2 ping -n -c 3 -i 0.05 10.77.0.1 >/dev/null || true
    before=$(rx_packets)
    fcpu0=$(cpu_ticks "$FWD_CPU"); gcpu0=$(cpu_ticks "$GEN_CPU")
    gen=$(ip netns exec $H1 taskset -c "$GEN_CPU" "$out/sfgen" eth0 02:5f:00:00:00:02 10.77.0.1 10.77.0.99 60 "$SECONDS_PER_RUN")
    fcpu1=$(cpu_ticks "$FWD_CPU"); gcpu1=$(cpu_ticks "$GEN_CPU")
    sleep 0.3
    after=$(rx_packets)
    ping_out=$(ip netns exec $H1 ping -n -c 200 -i 0.005 10.77.0.2 || true)
    stop_peer $peer
    python3 - "$round" "$peer" "$gen" "$before" "$after" "$ping_out" "$fcpu0" "$fcpu1" "$gcpu0" "$gcpu1" >> "$rows" <<'PY'
import json, math, sys, re
rnd, peer, gen, before, after, ping = sys.argv[1:7]
def busy(a, b):
    (b0, t0), (b1, t1) = map(int, a.split()), map(int, b.split())
    return (b1 - b0) / max(1, t1 - t0)
fbusy, gbusy = busy(sys.argv[7], sys.argv[8]), busy(sys.argv[9], sys.argv[10])
g = json.loads(gen)
rtts = sorted(float(x) * 1000 for x in re.findall(r"time=([0-9.]+) ms", ping))
def pct(p):
    if not rtts: return float("nan")
    k = math.ceil(p / 100 * len(rtts)) - 1   # nearest rank
    return rtts[max(0, min(len(rtts) - 1, k))]
loss = 1 - len(rtts) / 200
print(f"{rnd}\t{peer}\t{g['pps']:.0f}\t{(int(after) - int(before)) / g['seconds']:.0f}\t{pct(50):.1f}\t{pct(99):.1f}\t{loss:.3f}\t{fbusy:.3f}\t{gbusy:.3f}")
PY
    tail -1 "$rows" >&2
  done
done

python3 - "$rows" "$ROUNDS" "$SECONDS_PER_RUN" "$GEN_CPU" "$FWD_CPU" <<'PY'
import csv, statistics, sys, platform, os
rows = list(csv.DictReader(open(sys.argv[1]), delimiter="\t"))
rounds, secs, gcpu, fcpu = sys.argv[2:6]
peers = ["swiftfabric", "swiftfabric-polled", "swiftfabric-busy", "c-xskfwd", "linux-bridge"]
med = {}
for p in peers:
    r = [x for x in rows if x["peer"] == p]
    f = [float(x["forwarded_pps"]) for x in r]
    med[p] = dict(fwd=statistics.median(f), lo=min(f), hi=max(f),
                  off=statistics.median(float(x["offered_pps"]) for x in r),
                  p50=statistics.median(float(x["ping_p50_us"]) for x in r),
                  p99=statistics.median(float(x["ping_p99_us"]) for x in r),
                  loss=max(float(x["ping_loss"]) for x in r),
                  fb=statistics.median(float(x["fwd_cpu_busy"]) for x in r),
                  gb=statistics.median(float(x["gen_cpu_busy"]) for x in r))
print(f"64-byte UDP forwarding, h1 -> switch namespace -> h2, {rounds} interleaved rounds of {secs} s; "
      f"sender sfgen on CPU {gcpu}, forwarder on CPU {fcpu}; {os.cpu_count()} vCPUs, Linux {platform.release()}.\n")
print("| peer | forwarded Mpps (median, min-max) | offered Mpps | vs C forwarder | vs Linux bridge | CPU%d busy | CPU%d busy | idle ping p50 / p99 (us) |" % (int(fcpu), int(gcpu)))
print("|---|---|---|---|---|---|---|---|")
for p in peers:
    m = med[p]
    print(f"| {p} | {m['fwd']/1e6:.3f} ({m['lo']/1e6:.3f}-{m['hi']/1e6:.3f}) | {m['off']/1e6:.2f} | "
          f"{m['fwd']/med['c-xskfwd']['fwd']:.2f}x | {m['fwd']/med['linux-bridge']['fwd']:.2f}x | "
          f"{100*m['fb']:.0f}% | {100*m['gb']:.0f}% | {m['p50']:.0f} / {m['p99']:.0f} |")
print(f"\nTelemetry cost: with a client fetching a full snapshot every 100 ms, SwiftFabric forwarded "
      f"{med['swiftfabric-polled']['fwd']/med['swiftfabric']['fwd']:.3f}x of what it forwarded unpolled "
      f"(offered {med['swiftfabric-polled']['off']/med['swiftfabric']['off']:.3f}x).")
PY
