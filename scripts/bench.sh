#!/usr/bin/env bash
# SwiftFabric's forwarding benchmark: rate and latency of the same workload through SwiftFabric
# and the alternatives, on one 2-host test bed, interleaved round by round.
#
#   sudo scripts/bench.sh [--rounds N] [--seconds S] [--sizes 64,1500] [--loads 10,50,90]
#                         [--peers LIST] [--out DIR] [--readme] [--profile]
#
# Peers (all by default, in this order):
#   swiftfabric-l2        fabric switch --ports h1,h2 (learning bridge), AF_XDP
#   swiftfabric-l3        fabric switch --config: the RoCE router (DSCP 26 -> lossless TC3, PFC
#                         on, ECN, shared-buffer accounting, 8 queues), AF_XDP
#   swiftfabric-afpacket  the same L2 pipeline over AF_PACKET (TPACKET_V3, qdisc bypass)
#   c-xskfwd              Benchmarks/tools/xskfwd.c: the minimal C AF_XDP forwarder (the ceiling)
#   linux-bridge          a kernel bridge in the switch namespace
#   linux-ipfwd           kernel IPv4 forwarding between the two ports
#   xdp-redirect          bpf/xdp_redirect.bpf.c: bpf_redirect between the two veths in the driver
# Optional peers, in the default list when installed (--install-optional installs them from
# Debian: dpdk-dev, librte-net-af-xdp23, openvswitch-switch-dpdk):
#   dpdk-testpmd          DPDK testpmd, io forwarding between two net_af_xdp ports
# Named only (not in the default list): the worker priority comparison
#   swiftfabric-l2-nice10, swiftfabric-l3-nice10   the same with --worker-nice=-10
#   c-xskfwd-nice10       the C forwarder under `nice -n -10`
#   ovs-afxdp             Open vSwitch's userspace datapath with two afxdp ports (a NORMAL bridge)
#
# Workload: RoCEv2 frames (Eth/IPv4 DSCP 26 ECT(0)/UDP 4791/BTH, PSN = sequence number) from h1
# to an address behind h2 (h2 counts and discards them), of 64 and 1500 bytes on the wire:
#   max rate   Benchmarks/tools/sfprobe sends as fast as it can for S seconds; delivered = h2's
#              rx_packets counter.
#   latency    at each --loads percentage of the rate that peer delivered in this round, paced;
#              one-way latency of every frame from its send time to the kernel's receive stamp
#              on h2 (SO_TIMESTAMPNS), p50/p99/p99.9/max.
#   idle ping  200 echo requests 5 ms apart, h1 -> h2, no other traffic.
#
# Placement: the sender runs on CPU $GEN_CPU (0). Everything a peer does to forward runs on CPU
# $FWD_CPU (1): its process (taskset), and its kernel work -- the veths' NAPI threads (threaded
# NAPI, pinned) for XDP-based peers, receive packet steering for skb-based ones. So each peer
# gets one forwarding core. The sink (sfprobe recv) is not pinned. Each peer runs on a fresh test
# bed; rounds interleave the peers so the machine's noise hits all alike.
#
# Output: DIR (default bench-report/) gets bench.md, bench.json, rows.jsonl and SVG plots
# (latency CDF per peer, latency and delivered rate vs offered load). --readme writes bench.md
# into README.md between the bench markers. --profile records the forwarding CPU with `perf`
# during every max-rate run (first round) and writes DIR/profile-PEER-SIZE.txt: the split
# between user space and kernel, the top symbols, and what the kernel did.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
ROUNDS=3 SECS=3 SIZES=64,1500 LOADS=10,50,90 OUT=bench-report README=0 PROFILE=0 OPTIONAL=0 PEERS=""
while [ $# -gt 0 ]; do
  case $1 in
    --rounds) ROUNDS=$2; shift 2 ;;
    --seconds) SECS=$2; shift 2 ;;
    --sizes) SIZES=$2; shift 2 ;;
    --loads) LOADS=$2; shift 2 ;;
    --peers) PEERS=$2; shift 2 ;;
    --out) OUT=$2; shift 2 ;;
    --readme) README=1; shift ;;
    --profile) PROFILE=1; shift ;;
    --install-optional) OPTIONAL=1; shift ;;
    -h|--help) sed -n '2,36p' "$0"; exit 0 ;;
    *) echo "bench: unknown option $1 (see --help)" >&2; exit 2 ;;
  esac
done
GEN_CPU=${GEN_CPU:-0}
FWD_CPU=${FWD_CPU:-1}
[ "$(id -u)" = 0 ] || { echo "bench: run as root (namespaces, XDP)" >&2; exit 1; }
if [ "$OPTIONAL" = 1 ]; then
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq dpdk-dev librte-net-af-xdp23 openvswitch-switch-dpdk >/dev/null
fi
if [ -z "$PEERS" ]; then
  PEERS=swiftfabric-l2,swiftfabric-l3,swiftfabric-afpacket,c-xskfwd
  command -v dpdk-testpmd >/dev/null && PEERS+=,dpdk-testpmd
  command -v ovs-vswitchd >/dev/null && PEERS+=,ovs-afxdp
  PEERS+=,linux-bridge,linux-ipfwd,xdp-redirect
fi
if [ "$PROFILE" = 1 ] && ! command -v perf >/dev/null; then apt-get install -y -qq linux-perf >/dev/null; fi
for p in ${PEERS//,/ }; do
  case $p in swiftfabric-l2-nice10|swiftfabric-l3-nice10|c-xskfwd-nice10|swiftfabric-l2|swiftfabric-l3|swiftfabric-afpacket|c-xskfwd|dpdk-testpmd|ovs-afxdp|linux-bridge|linux-ipfwd|xdp-redirect) ;;
    *) echo "bench: unknown peer $p" >&2; exit 2 ;; esac
done

PREFIX=sfbench
SW=$PREFIX-sw H1=$PREFIX-h1 H2=$PREFIX-h2
H2_MAC=02:5f:00:00:00:02 ROUTER_MAC=02:5f:00:00:01:fe
SRC_IP=10.77.1.1 SINK_IP=10.77.2.99   # no host has 10.77.2.99: h2 receives and discards
work=.build-bench
mkdir -p "$work" "$OUT"

. scripts/lab-bench-prologue.sh >&2   # setup, release build, which machine
gcc -O2 -Wall -o "$work/sfprobe" Benchmarks/tools/sfprobe.c
gcc -O2 -Wall -o "$work/xskfwd" Benchmarks/tools/xskfwd.c -lxdp -lbpf
gcc -O2 -Wall -o "$work/xdpredir" Benchmarks/tools/xdpredir.c -lbpf
FABRIC=.build/release/fabric
PROBE=$work/sfprobe

peer_pid=""
cleanup() {
  if [ -n "$peer_pid" ]; then kill -TERM "$peer_pid" 2>/dev/null || true; wait "$peer_pid" 2>/dev/null || true; fi
  stop_daemons
  "$FABRIC" testbed down --prefix $PREFIX >/dev/null
  rm -f "$work"/tx.log "$work"/rx.log
}
trap cleanup EXIT

wait_for() { # file pattern
  for _ in $(seq 1 200); do grep -q "$2" "$1" 2>/dev/null && return 0; sleep 0.05; done
  echo "bench: peer did not start:" >&2; cat "$1" >&2; return 1
}

# The router's configuration: the test bed's ports and addresses, a static neighbour for the
# sink address, everything else default (nvidia-roce QoS: DSCP 26 -> TC3 lossless with PFC).
l3_config() {
  cat /run/swiftfabric/testbed-$PREFIX.yaml   # written by `testbed up --routed`
  printf 'neighbours:\n  - address: %s\n    mac: %s\n' $SINK_IP $H2_MAC
}

# Put the kernel's share of forwarding on the forwarding core.
pin_napi() {
  ip netns exec $SW sh -c 'echo 1 > /sys/class/net/h1/threaded && echo 1 > /sys/class/net/h2/threaded'
  for p in $(ps -eo pid=,comm= | awk '$2 ~ /^napi\/h[12]-/ {print $1}'); do taskset -pc "$FWD_CPU" "$p" >/dev/null; done
}
steer_rps() {
  local mask; mask=$(printf '%x' $((1 << FWD_CPU)))
  for port in h1 h2; do ip netns exec $SW sh -c "echo $mask > /sys/class/net/$port/queues/rx-0/rps_cpus"; done
}

start_peer() { # peer -> sets peer_pid, DST_MAC, PING_TARGET
  local log=$work/peer.log
  : > "$log"
  DST_MAC=$H2_MAC PING_TARGET=10.77.0.2 peer_pid=""
  case $1 in
    swiftfabric-l2)
      taskset -c "$FWD_CPU" "$FABRIC" switch --netns $SW --ports h1,h2 --no-control >"$log" 2>&1 &
      peer_pid=$!; wait_for "$log" "forwarding on"; pin_napi ;;
    swiftfabric-l2-nice10)
      taskset -c "$FWD_CPU" "$FABRIC" switch --netns $SW --ports h1,h2 --no-control --worker-nice=-10 >"$log" 2>&1 &
      peer_pid=$!; wait_for "$log" "forwarding on"; pin_napi ;;
    swiftfabric-l3-nice10)
      l3_config > "$work/l3.yaml"
      taskset -c "$FWD_CPU" "$FABRIC" switch --netns $SW --config "$work/l3.yaml" --no-control --worker-nice=-10 >"$log" 2>&1 &
      peer_pid=$!; wait_for "$log" "forwarding on"; pin_napi
      DST_MAC=$ROUTER_MAC PING_TARGET=10.77.2.1 ;;
    c-xskfwd-nice10)
      ip netns exec $SW nice -n -10 taskset -c "$FWD_CPU" "$work/xskfwd" .build-bpf/fabric_xsk.o h1 h2 >"$log" 2>&1 &
      peer_pid=$!; wait_for "$log" "forwarding"; pin_napi ;;
    swiftfabric-afpacket)
      taskset -c "$FWD_CPU" "$FABRIC" switch --netns $SW --ports h1,h2 --no-control --backend afpacket >"$log" 2>&1 &
      peer_pid=$!; wait_for "$log" "forwarding on"; steer_rps ;;
    swiftfabric-l3)
      l3_config > "$work/l3.yaml"
      taskset -c "$FWD_CPU" "$FABRIC" switch --netns $SW --config "$work/l3.yaml" --no-control >"$log" 2>&1 &
      peer_pid=$!; wait_for "$log" "forwarding on"; pin_napi
      DST_MAC=$ROUTER_MAC PING_TARGET=10.77.2.1 ;;
    c-xskfwd)
      ip netns exec $SW taskset -c "$FWD_CPU" "$work/xskfwd" .build-bpf/fabric_xsk.o h1 h2 >"$log" 2>&1 &
      peer_pid=$!; wait_for "$log" "forwarding"; pin_napi ;;
    dpdk-testpmd)
      # Its forwarding lcore on the forwarding CPU; the main lcore (CPU $GEN_CPU) only sleeps
      # between statistics. No hugepages: --no-huge with 1 GB of ordinary memory.
      ip netns exec $SW dpdk-testpmd --no-huge -m 1024 --file-prefix $PREFIX -l "$GEN_CPU,$FWD_CPU" --main-lcore "$GEN_CPU" \
        --no-pci --vdev net_af_xdp0,iface=h1 --vdev net_af_xdp1,iface=h2 \
        -- --forward-mode=io --auto-start --stats-period 3600 --total-num-mbufs 16384 >"$log" 2>&1 &
      peer_pid=$!; wait_for "$log" "Press enter\|NIC statistics\|Start automatic packet forwarding"; sleep 0.5; pin_napi ;;
    ovs-afxdp)
      # A private ovsdb-server and ovs-vswitchd (userspace datapath, PMD thread on the
      # forwarding CPU) inside the switch namespace, with their own run directory.
      local d=$root/$work/ovs
      rm -rf "$d"; mkdir -p "$d"
      export OVS_RUNDIR=$d OVS_LOGDIR=$d OVS_DBDIR=$d
      ovsdb-tool create "$d/conf.db" /usr/share/openvswitch/vswitch.ovsschema
      ip netns exec $SW ovsdb-server "$d/conf.db" --remote=punix:"$d/db.sock" --pidfile="$d/ovsdb.pid" \
        --unixctl="$d/ovsdb.ctl" --log-file="$d/ovsdb.log" --detach
      local vsctl="ovs-vsctl --db=unix:$d/db.sock --timeout=10"
      $vsctl --no-wait init
      $vsctl --no-wait set Open_vSwitch . other_config:pmd-cpu-mask="$(printf '0x%x' $((1 << FWD_CPU)))"
      ip netns exec $SW taskset -c "$FWD_CPU" ovs-vswitchd unix:"$d/db.sock" --pidfile="$d/vswitchd.pid" \
        --unixctl="$d/vswitchd.ctl" --log-file="$d/vswitchd.log" --detach
      $vsctl add-br br0 -- set bridge br0 datapath_type=netdev
      $vsctl add-port br0 h1 -- set interface h1 type=afxdp options:xdp-mode=native
      $vsctl add-port br0 h2 -- set interface h2 type=afxdp options:xdp-mode=native
      sleep 1; pin_napi ;;
    xdp-redirect)
      # Frames redirected into a veth are received only if its peer end runs XDP.
      ip -n $H1 link set dev eth0 xdp obj .build-bpf/xdp_pass.o sec xdp
      ip -n $H2 link set dev eth0 xdp obj .build-bpf/xdp_pass.o sec xdp
      ip netns exec $SW "$work/xdpredir" .build-bpf/xdp_redirect.o h1 h2 >"$log" 2>&1 &
      peer_pid=$!; wait_for "$log" "forwarding"; pin_napi ;;
    linux-bridge)
      ip -n $SW link add br0 type bridge
      ip -n $SW link set h1 master br0
      ip -n $SW link set h2 master br0
      ip -n $SW link set br0 up
      steer_rps ;;
    linux-ipfwd)
      ip netns exec $SW sysctl -qw net.ipv4.ip_forward=1
      ip -n $SW addr add 10.77.1.254/24 dev h1
      ip -n $SW addr add 10.77.2.254/24 dev h2
      ip -n $SW neigh replace $SINK_IP lladdr $H2_MAC dev h2 nud permanent
      steer_rps
      DST_MAC=$ROUTER_MAC PING_TARGET=10.77.2.1 ;;
  esac
}

# Daemons that detached (OVS): stopped by the pids they wrote, then waited for.
stop_daemons() {
  local d=$root/$work/ovs f pid
  [ -d "$d" ] || return 0
  for f in "$d"/vswitchd.pid "$d"/ovsdb.pid; do
    [ -f "$f" ] || continue
    pid=$(cat "$f")
    kill -TERM "$pid" 2>/dev/null || continue
    for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.05; done
  done
  rm -rf "$d"
}

stop_peer() {
  if [ -n "$peer_pid" ]; then kill -TERM "$peer_pid"; wait "$peer_pid" || true; peer_pid=""; fi
  stop_daemons
  "$FABRIC" testbed down --prefix $PREFIX >/dev/null
  rm -rf "/var/run/dpdk/$PREFIX"
}

rx_packets() { ip netns exec $H2 cat /sys/class/net/eth0/statistics/rx_packets; }

# Where the forwarding CPU's time went during one max-rate run.
profile_summary() { # peer size
  echo "perf record -g -C $FWD_CPU during the $2 B max-rate run of $1"
  echo; echo "== by process and object ([kernel.kallsyms] is the kernel; the rest user space)"
  perf report -i "$work/perf.data" --no-children --sort comm,dso --stdio 2>/dev/null | grep -E '^ +[0-9.]+%' | head -12 || true
  echo; echo "== top symbols"
  perf report -i "$work/perf.data" --no-children --sort comm,sym --stdio 2>/dev/null | grep -E '^ +[0-9.]+%' | head -25 || true
}

rows=$OUT/rows.jsonl
: > "$rows"
machine="$(nproc) vCPUs ($(awk -F': ' '/model name/ {print $2; exit}' /proc/cpuinfo)), $(free -g | awk '/Mem:/ {print $2}') GiB, Linux $(uname -r), $(. /etc/os-release; echo "$PRETTY_NAME")"
echo "bench: $ROUNDS rounds of peers $PEERS; sizes $SIZES B; loads $LOADS %; $SECS s per run; sender CPU $GEN_CPU, forwarding CPU $FWD_CPU" >&2
for round in $(seq 1 "$ROUNDS"); do
  for peer in ${PEERS//,/ }; do
    "$FABRIC" testbed up --routed --hosts 2 --prefix $PREFIX >/dev/null
    # Second addresses in one subnet, so that bridging peers can be pinged across.
    ip -n $H1 addr add 10.77.0.1/24 dev eth0
    ip -n $H2 addr add 10.77.0.2/24 dev eth0
    start_peer "$peer"
    ip netns exec $H1 ping -n -c 3 -i 0.05 -W 1 $PING_TARGET >/dev/null || true   # ARP, MAC learning
    ping_out=$(ip netns exec $H1 ping -n -c 200 -i 0.005 -W 1 $PING_TARGET || true)
    python3 - "$round" "$peer" "$ping_out" >> "$rows" <<'PY'
import json, re, sys
rnd, peer, out = sys.argv[1:4]
rtts = sorted(float(x) * 1000 for x in re.findall(r"time=([0-9.]+) ms", out))
print(json.dumps({"round": int(rnd), "peer": peer, "kind": "ping", "requests": 200, "rtts_us": rtts}))
PY
    for size in ${SIZES//,/ }; do
      frame=$((size - 4))   # without the FCS
      before=$(rx_packets)
      perf_pid=""
      if [ "$PROFILE" = 1 ] && [ "$round" = 1 ]; then
        perf record -q -g -C "$FWD_CPU" -o "$work/perf.data" -- sleep "$SECS" 2>/dev/null &
        perf_pid=$!
      fi
      gen=$(ip netns exec $H1 taskset -c "$GEN_CPU" $PROBE send eth0 $DST_MAC $SRC_IP $SINK_IP $frame "$SECS" 0 "$work/tx.log")
      sleep 0.2
      after=$(rx_packets)
      if [ -n "$perf_pid" ]; then
        wait "$perf_pid" || true
        profile_summary "$peer" "$size" > "$OUT/profile-$peer-$size.txt"
      fi
      maxrate=$(python3 -c 'import json,sys; g=json.loads(sys.argv[1]); print(round((int(sys.argv[3])-int(sys.argv[2]))/g["seconds"]))' "$gen" "$before" "$after")
      python3 -c 'import json,sys; g=json.loads(sys.argv[5]); print(json.dumps({"round": int(sys.argv[1]), "peer": sys.argv[2], "kind": "max", "size": int(sys.argv[3]), "delivered_pps": float(sys.argv[4]), "offered_pps": g["pps"]}))' \
        "$round" "$peer" "$size" "$maxrate" "$gen" >> "$rows"
      for load in ${LOADS//,/ }; do
        pps=$((maxrate * load / 100))
        ip netns exec $H2 $PROBE recv eth0 "$((SECS + 1))" "$work/rx.log" > "$work/recv.out" &
        sink=$!
        wait_for "$work/recv.out" listening
        before=$(rx_packets)
        gen=$(ip netns exec $H1 taskset -c "$GEN_CPU" $PROBE send eth0 $DST_MAC $SRC_IP $SINK_IP $frame "$SECS" "$pps" "$work/tx.log")
        wait $sink
        after=$(rx_packets)
        lat=$($PROBE join "$work/tx.log" "$work/rx.log" 100)
        python3 -c 'import json,sys; g=json.loads(sys.argv[6]); l=json.loads(sys.argv[7]); r=json.loads(open(sys.argv[8]).read().split("\n")[-2]); d=(int(sys.argv[10])-int(sys.argv[9]))/g["seconds"]
print(json.dumps({"round": int(sys.argv[1]), "peer": sys.argv[2], "kind": "load", "size": int(sys.argv[3]), "load_pct": int(sys.argv[4]), "target_pps": float(sys.argv[5]), "offered_pps": g["pps"], "delivered_pps": d, "sink": r, "latency": l}))' \
          "$round" "$peer" "$size" "$load" "$pps" "$gen" "$lat" "$work/recv.out" "$before" "$after" >> "$rows"
      done
      echo "bench: round $round $peer ${size}B: max $maxrate pps" >&2
    done
    stop_peer
  done
done

python3 scripts/bench_report.py --rows "$rows" --out "$OUT" --machine "$machine" \
  --rounds "$ROUNDS" --seconds "$SECS" --gen-cpu "$GEN_CPU" --fwd-cpu "$FWD_CPU" \
  $( [ "$README" = 1 ] && echo --readme README.md )
cat "$OUT/bench.md"
