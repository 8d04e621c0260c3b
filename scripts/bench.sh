#!/usr/bin/env bash
# SwiftFabric's forwarding benchmark: rate and latency of the same workload through SwiftFabric
# and the alternatives, on one 2-host test bed, interleaved round by round.
#
#   sudo scripts/bench.sh [--rounds N] [--seconds S] [--sizes 64,1500] [--loads 10,50,90]
#                         [--peers LIST] [--workers 1,2] [--traffic roce|udp] [--out DIR] [--readme]
#                         [--profile] [--sender sfprobe|xdpgen] [--sink stack|xdp-drop]
#
# Peers (all by default, in this order):
#   swiftfabric-l2        fabric switch --ports h1,h2 (learning bridge), AF_XDP
#   swiftfabric-l3        fabric switch --config: the RoCE router (DSCP 26 -> lossless TC3, PFC
#                         on, ECN, shared-buffer accounting, 8 queues), AF_XDP
#   swiftfabric-l2-rt, swiftfabric-l3-rt
#                         the same with --worker-realtime 10: the worker at SCHED_FIFO 10 sleeps
#                         as soon as a pass moves nothing, and the veths' NAPI threads on its core
#                         run only then (README "A real-time worker"): how SwiftFabric is meant to
#                         run on a forwarding core it shares with the kernel's NAPI threads
#   swiftfabric-l2-fast, swiftfabric-l3-fast
#                         the same with --fastpath on (issue 16: what needs no userspace is
#                         forwarded in XDP; RoCEv2 and lossless classes still go to userspace, so
#                         these differ from the plain peers with --traffic udp); the hosts' veth
#                         ends run xdp_pass, as for xdp-redirect. Skipped, and named as not
#                         measured, when the fabric binary has no --fastpath
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
#   c-xskfwd-rt           the C forwarder under `chrt -f 10` (SCHED_FIFO 10, as the -rt peers)
#   ovs-afxdp             Open vSwitch's userspace datapath with two afxdp ports (a NORMAL bridge)
#
# Workload: RoCEv2 frames (Eth/IPv4 DSCP 26 ECT(0)/UDP 4791/BTH, PSN = sequence number) from h1
# (--traffic udp: plain UDP instead, DSCP 0, not ECN-capable, port 4792, same sequence numbers)
# to an address behind h2 (h2 counts and discards them), of --sizes bytes on the wire (FCS
# included; default 64 and 1500; any of 64..9518):
#   max rate   the sender (--sender, below) sends as fast as it can for S seconds; delivered =
#              h2's rx_packets counter; offered = what the sender sent per second.
#   latency    at each --loads percentage of the rate that peer delivered in this round, paced;
#              one-way latency of every frame from its send time to the kernel's receive stamp
#              on h2 (SO_TIMESTAMPNS), p50/p99/p99.9/max.
#              SwiftFabric peers also report their own view of each such run (`fabric stats`,
#              counters zeroed before it): residence time of the frames h2's busiest queue sent, from
#              the XDP stamp on h1's port to transmit (p50/p99, mean), the part of it spent in
#              h1's socket rx ring, and h1's ring-wait histogram (issue 16).
#   idle ping  200 echo requests 5 ms apart, h1 -> h2, no other traffic.
# Gb/s = delivered frames/s x the size x 8 (FCS counted, preamble and gap not).
#
# Sender of the max-rate runs (--sender; the latency runs are always sfprobe, paced, which stamps
# every frame's send time):
#   sfprobe (default)  AF_PACKET sendmmsg, 64 frames a call: ~0.4-0.55 Mpps at 64 B on this kind
#              of machine, below what the XDP peers forward, so they come out sender-bound.
#   xdpgen     Benchmarks/tools/xdpgen.c + bpf/xdpgen.bpf.c: BPF_PROG_RUN with live frames (as
#              xdp-trafficgen), the same frames byte for byte, redirected out of h1's veth in
#              XDP: ~3-7 Mpps at 64 B here. Frames up to 3500 B (one page); larger sizes fall
#              back to sfprobe, said in the log and the rows. An XDP-redirected frame reaches the
#              switch's port only if that veth end runs XDP or has GRO on (DESIGN.md); for the
#              peers with no XDP program on it (linux-bridge, linux-ipfwd, swiftfabric-afpacket)
#              the max-rate run switches GRO on at the switch's h1 (rx-udp-gro-forwarding stays
#              off, so plain UDP is not coalesced: h2 counts 60-byte packets), makes its NAPI
#              threaded and pins it to CPU $FWD_CPU like the XDP peers' (so the skb is built on
#              the forwarding core, as a NIC driver would), with receive packet steering off on
#              h1 for that run (it would only queue to the same core again); all is put back for
#              the latency runs. A veth picks its receive queue by the sending CPU, not a hash,
#              so with --workers N > 1 every frame still lands in one queue: use sfprobe there.
#              At 3-7 Mpps every peer is in overload: the AF_XDP userspace peers then show
#              receive livelock on their one core (their veth's NAPI takes 2-3 Mpps into the
#              socket's ring, the process gets too little of the core to empty it). Not the
#              default: the runs of record so far used sfprobe, and xdpgen was tried with the
#              peers of Benchmarks/results/2026-12-02-fastpath-bench-xdpgen/ only (not with
#              swiftfabric-afpacket, dpdk-testpmd, ovs-afxdp).
#   The report names the sender, its offered rate in each round, and flags a run as
#   sender-bound when the peer delivered >= 97% of what was offered.
#
# Sink of the max-rate runs (--sink): h2 counts frames in its veth's rx_packets either way.
#   stack (default)  h2's IP stack receives each frame and drops it (no host has the address).
#              That work lands on the forwarding CPU too (the switch's transmit into h2's veth
#              schedules h2's receive there) and at 64 B it costs more than XDP forwarding: with
#              xdpgen, xdp-redirect's core goes mostly to h2's ip_rcv / route lookup / drop.
#   xdp-drop   bpf/xdpgen.bpf.c's xdpgen_sink (XDP_DROP) on h2's veth end for the max-rate run
#              only (put back for the latency runs, which need the frames in h2's stack): the
#              forwarding core then pays for forwarding and little else. Changes what the kernel
#              peers' h2 does as well (their skbs then reach h2 through its NAPI, not the backlog).
#
# Jumbo frames: a size above 1518 makes every test bed's MTU the largest size less 18 (Ethernet
# header and FCS; 9000 -> 8982; at most 9500, the largest the switch carries: so 9518 B), set by
# `fabric testbed up --mtu`. The AF_XDP peers then take frames longer than one 4096-byte UMEM
# frame as multi-buffer chains (XDP_USE_SG, xdp.frags programs); xdp-redirect loads xdp.frags
# builds of its programs (bpf/xdp_redirect.bpf.c and xdp_pass.bpf.c compiled with
# -DXDP_SECTION), as a veth refuses a program that is not multi-buffer aware above about 3500
# bytes of MTU. DPDK's net_af_xdp and OVS's afxdp
# load their own such programs, so dpdk-testpmd and ovs-afxdp get a bed of MTU <= 3500 and the
# larger sizes are reported as not measured for them, with the reason.
#
# Workers (--workers 1,2): each SwiftFabric peer runs once per worker count, as PEER (1) and
# PEER-wN (`fabric switch --workers N` on a test bed of N queues per veth, `testbed up --queues
# N`; the sender then spreads its frames over 16 UDP source ports, RoCEv2's entropy field, so the
# veths hash them over the queues -- every peer of such a run gets the same 16 flows). If the
# `fabric` binary has no such flags the -wN variants are skipped with a message and named as not
# measured in the report. On a 2-core machine there is no core for a second worker: CPU $GEN_CPU
# belongs to the sender, so all N workers share CPU $FWD_CPU with each other and with the veths'
# NAPI threads (WORKER_CPUS=0,1 lets them onto the sender's core instead, which then measures a
# slower sender). So -w2 here shows what splitting one core costs, not what a second core buys.
#
# Placement: the sender runs on CPU $GEN_CPU (0). Everything a peer does to forward runs on CPU
# $FWD_CPU (1): its process (taskset), and its kernel work -- the veths' NAPI threads (threaded
# NAPI, pinned) for XDP-based peers, receive packet steering for skb-based ones. So each peer
# gets one forwarding core. The sink (sfprobe recv) is not pinned. Each peer runs on a fresh test
# bed; rounds interleave the peers so the machine's noise hits all alike.
#
# Environment: GEN_CPU, FWD_CPU, WORKER_CPUS (above); BENCH_PREFIX (default sfbench), the test
# bed's name prefix, so that two benchmarks on one machine keep apart; SENDER_NICE (default 0):
# the sender's nice value -- on a machine others use too, -10 keeps their work off the sender's
# core, so that the sender, not the machine's load, sets what is offered (the report says when
# it is the limit: delivered = offered).
#
# Output: DIR (default bench-report/) gets bench.md, bench.json, rows.jsonl and SVG plots
# (latency CDF per peer, latency and delivered rate vs offered load). --readme writes bench.md
# into README.md between the bench markers. --profile records the forwarding CPU with `perf`
# during every max-rate run (first round) and writes DIR/profile-PEER-SIZE.txt: the split
# between user space and kernel, the top symbols, and what the kernel did.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
ROUNDS=3 SECS=3 SIZES=64,1500 LOADS=10,50,90 OUT=bench-report README=0 PROFILE=0 OPTIONAL=0 PEERS="" WORKERS=1 TRAFFIC=roce SENDER=sfprobe SINK=stack
while [ $# -gt 0 ]; do
  case $1 in
    --rounds) ROUNDS=$2; shift 2 ;;
    --seconds) SECS=$2; shift 2 ;;
    --sizes) SIZES=$2; shift 2 ;;
    --loads) LOADS=$2; shift 2 ;;
    --peers) PEERS=$2; shift 2 ;;
    --workers) WORKERS=$2; shift 2 ;;
    --traffic) TRAFFIC=$2; shift 2 ;;
    --sender) SENDER=$2; shift 2 ;;
    --sink) SINK=$2; shift 2 ;;
    --out) OUT=$2; shift 2 ;;
    --readme) README=1; shift ;;
    --profile) PROFILE=1; shift ;;
    --install-optional) OPTIONAL=1; shift ;;
    -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d'; exit 0 ;;
    *) echo "bench: unknown option $1 (see --help)" >&2; exit 2 ;;
  esac
done
case $TRAFFIC in roce) PROBE_KIND=() ;; udp) PROBE_KIND=(--udp) ;;
  *) echo "bench: --traffic: '$TRAFFIC' is not roce or udp" >&2; exit 2 ;; esac
case $SENDER in sfprobe|xdpgen) ;;
  *) echo "bench: --sender: '$SENDER' is not sfprobe or xdpgen" >&2; exit 2 ;; esac
case $SINK in stack|xdp-drop) ;;
  *) echo "bench: --sink: '$SINK' is not stack or xdp-drop" >&2; exit 2 ;; esac
GEN_CPU=${GEN_CPU:-0}
FWD_CPU=${FWD_CPU:-1}
WORKER_CPUS=${WORKER_CPUS:-$FWD_CPU}
SENDER_NICE=${SENDER_NICE:-0}
largest=0
for size in ${SIZES//,/ }; do
  case $size in ''|*[!0-9]*) echo "bench: --sizes: '$size' is not a number of bytes" >&2; exit 2 ;; esac
  if [ "$size" -lt 64 ] || [ "$size" -gt 9518 ]; then
    echo "bench: --sizes: $size B is outside 64..9518 (9518 B needs MTU 9500, the largest the switch carries)" >&2; exit 2
  fi
  [ "$size" -gt "$largest" ] && largest=$size
done
MTU=$(( largest - 18 > 1500 ? largest - 18 : 1500 ))   # the bed's MTU: holds the largest size
for w in ${WORKERS//,/ }; do
  case $w in ''|*[!0-9]*|0) echo "bench: --workers: '$w' is not a worker count" >&2; exit 2 ;; esac
done
FLOWS=1
for w in ${WORKERS//,/ }; do [ "$w" -gt 1 ] && FLOWS=16; done
if [ "$SENDER" = xdpgen ] && [ "$FLOWS" -gt 1 ]; then
  echo "bench: note: xdpgen's frames all land in one receive queue of the switch's veth (a veth picks the queue by the sending CPU), so -wN peers get no spreading; sfprobe spreads them" >&2
fi
[ "$(id -u)" = 0 ] || { echo "bench: run as root (namespaces, XDP)" >&2; exit 1; }
if [ "$OPTIONAL" = 1 ]; then
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq dpdk-dev librte-net-af-xdp23 openvswitch-switch-dpdk >/dev/null
fi
if [ -z "$PEERS" ]; then
  PEERS=swiftfabric-l2,swiftfabric-l3,swiftfabric-l2-rt,swiftfabric-l3-rt,swiftfabric-afpacket,c-xskfwd
  # Plain UDP is what the fast path forwards: its peers join the default list then.
  [ "$TRAFFIC" = udp ] && PEERS=swiftfabric-l2,swiftfabric-l2-fast,swiftfabric-l3,swiftfabric-l3-fast,swiftfabric-afpacket,c-xskfwd
  command -v dpdk-testpmd >/dev/null && PEERS+=,dpdk-testpmd
  command -v ovs-vswitchd >/dev/null && PEERS+=,ovs-afxdp
  PEERS+=,linux-bridge,linux-ipfwd,xdp-redirect
fi
if [ "$PROFILE" = 1 ] && ! command -v perf >/dev/null; then apt-get install -y -qq linux-perf >/dev/null; fi
for p in ${PEERS//,/ }; do
  case ${p%-w[0-9]*} in swiftfabric-l2-rt|swiftfabric-l3-rt|c-xskfwd-rt|swiftfabric-l2-nice10|swiftfabric-l3-nice10|c-xskfwd-nice10|swiftfabric-l2|swiftfabric-l3|swiftfabric-l2-fast|swiftfabric-l3-fast|swiftfabric-afpacket|c-xskfwd|dpdk-testpmd|ovs-afxdp|linux-bridge|linux-ipfwd|xdp-redirect) ;;
    *) echo "bench: unknown peer $p" >&2; exit 2 ;; esac
done

PREFIX=${BENCH_PREFIX:-sfbench}   # the test bed's namespaces: PREFIX-sw, PREFIX-h1, PREFIX-h2
CTL=$PREFIX-fabric                  # the SwiftFabric peers' control socket (fabric stats --switch CTL)
SW=$PREFIX-sw H1=$PREFIX-h1 H2=$PREFIX-h2
H2_MAC=02:5f:00:00:00:02 ROUTER_MAC=02:5f:00:00:01:fe
SRC_IP=10.77.1.1 SINK_IP=10.77.2.99   # no host has 10.77.2.99: h2 receives and discards
work=.build-bench
mkdir -p "$work" "$OUT"

. scripts/lab-bench-prologue.sh >&2   # setup, release build, which machine
gcc -O2 -Wall -o "$work/sfprobe" Benchmarks/tools/sfprobe.c
gcc -O2 -Wall -o "$work/xskfwd" Benchmarks/tools/xskfwd.c -lxdp -lbpf
gcc -O2 -Wall -o "$work/xdpredir" Benchmarks/tools/xdpredir.c -lbpf
gcc -O2 -Wall -o "$work/xdpgen" Benchmarks/tools/xdpgen.c -lbpf
for prog in xdp_redirect xdp_pass; do   # the xdp.frags builds of bpf/'s programs, for jumbo beds
  clang -O2 -g -Wall -Werror -target bpf -I"/usr/include/$(uname -m)-linux-gnu" -DXDP_SECTION='"xdp.frags"' \
    -c bpf/$prog.bpf.c -o "$work/${prog}_frags.o"
done
FABRIC=.build/release/fabric
PROBE=$work/sfprobe
# (Help texts are read whole before grep: with pipefail, `grep -q` closing the pipe early
# would make the pipeline fail.)
switch_help=$("$FABRIC" switch --help) testbed_help=$("$FABRIC" testbed up --help)
if [ "$MTU" -gt 1500 ] && ! grep -q -- '--mtu' <<< "$testbed_help"; then
  echo "bench: --sizes up to $largest B need a test bed of MTU $MTU, and this fabric has no 'testbed up --mtu'" >&2; exit 2
fi

# The peers of this run: each SwiftFabric peer once per worker count (PEER-wN for N > 1), unless
# the binary cannot run N workers, which is said now and in the report.
skipped=()
declare -A skip_why=()
missing=""
grep -q -- '--workers' <<< "$switch_help" || missing="'fabric switch --workers'"
grep -q -- '--queues' <<< "$testbed_help" || missing+="${missing:+ and }'fabric testbed up --queues'"
RUN_PEERS=""
for p in ${PEERS//,/ }; do
  case $p in
    swiftfabric-*-fast*)
      if ! grep -q -- '--fastpath' <<< "$switch_help"; then
        echo "bench: skipping $p: this fabric has no 'fabric switch --fastpath' (see its --help)" >&2
        skipped+=("$p"); skip_why[$p]="this fabric has no 'fabric switch --fastpath'"
        continue
      fi ;;
  esac
  for w in ${WORKERS//,/ }; do
    name=$p
    if [ "$w" -gt 1 ]; then
      case $p in swiftfabric-*) name=$p-w$w ;; *) continue ;; esac
      if [ -n "$missing" ]; then
        echo "bench: skipping $name: this fabric has no $missing (see its --help)" >&2
        skipped+=("$name"); skip_why[$name]="this fabric has no $missing"
        continue
      fi
    fi
    RUN_PEERS+=${RUN_PEERS:+,}$name
  done
done
[ -n "$RUN_PEERS" ] || { echo "bench: no peer left to run" >&2; exit 2; }

# The largest MTU a peer's test bed may have: DPDK's and OVS's AF_XDP ports load XDP programs
# that are not multi-buffer aware, which a veth refuses above about 3500 bytes of MTU.
peer_mtu() { # peer
  case $1 in dpdk-testpmd|ovs-afxdp) echo $(( MTU < 3500 ? MTU : 3500 )) ;; *) echo "$MTU" ;; esac
}
peer_workers() { # peer -> N of its -wN suffix, else 1
  case $1 in *-w[0-9]*) echo "${1##*-w}" ;; *) echo 1 ;; esac
}

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

# xdp_pass on the hosts' veth ends (the xdp.frags build on a jumbo bed), for the peers that
# redirect frames into a veth in XDP.
host_xdp_pass() {
  if [ "$MTU" -gt 1500 ]; then
    ip -n $H1 link set dev eth0 xdp obj "$work/xdp_pass_frags.o" sec xdp.frags
    ip -n $H2 link set dev eth0 xdp obj "$work/xdp_pass_frags.o" sec xdp.frags
  else
    ip -n $H1 link set dev eth0 xdp obj .build-bpf/xdp_pass.o sec xdp
    ip -n $H2 link set dev eth0 xdp obj .build-bpf/xdp_pass.o sec xdp
  fi
}

start_peer() { # peer -> sets peer_pid, DST_MAC, PING_TARGET
  local log=$work/peer.log workers=() cpus=$FWD_CPU
  : > "$log"
  DST_MAC=$H2_MAC PING_TARGET=10.77.0.2 peer_pid=""
  if [ "$(peer_workers "$1")" -gt 1 ]; then workers=(--workers "$(peer_workers "$1")"); cpus=$WORKER_CPUS; fi
  # The worker-priority variants: the same peer, its forwarder at another priority.
  local peer=${1%-w[0-9]*} prio=() cprio=()
  case $peer in
    *-nice10) prio=(--worker-nice=-10) cprio=(nice -n -10); peer=${peer%-nice10} ;;
    *-rt) prio=(--worker-realtime 10) cprio=(chrt -f 10); peer=${peer%-rt} ;;
  esac
  case $peer in
    swiftfabric-l2)
      taskset -c "$cpus" "$FABRIC" switch --netns $SW --ports h1,h2 --name "$CTL" "${prio[@]}" "${workers[@]}" >"$log" 2>&1 &
      peer_pid=$!; wait_for "$log" "forwarding on"; pin_napi ;;
    swiftfabric-l2-fast|swiftfabric-l3-fast)
      # Frames XDP redirects into a veth are received only if its peer end runs XDP.
      host_xdp_pass
      if [ "$peer" = swiftfabric-l3-fast ]; then
        l3_config > "$work/l3.yaml"
        taskset -c "$cpus" "$FABRIC" switch --netns $SW --config "$work/l3.yaml" --name "$CTL" --fastpath on "${workers[@]}" >"$log" 2>&1 &
        DST_MAC=$ROUTER_MAC PING_TARGET=10.77.2.1
      else
        taskset -c "$cpus" "$FABRIC" switch --netns $SW --ports h1,h2 --name "$CTL" --fastpath on "${workers[@]}" >"$log" 2>&1 &
      fi
      peer_pid=$!; wait_for "$log" "forwarding on"; pin_napi ;;
    swiftfabric-afpacket)
      taskset -c "$cpus" "$FABRIC" switch --netns $SW --ports h1,h2 --name "$CTL" --backend afpacket "${workers[@]}" >"$log" 2>&1 &
      peer_pid=$!; wait_for "$log" "forwarding on"; steer_rps ;;
    swiftfabric-l3)
      l3_config > "$work/l3.yaml"
      taskset -c "$cpus" "$FABRIC" switch --netns $SW --config "$work/l3.yaml" --name "$CTL" "${prio[@]}" "${workers[@]}" >"$log" 2>&1 &
      peer_pid=$!; wait_for "$log" "forwarding on"; pin_napi
      DST_MAC=$ROUTER_MAC PING_TARGET=10.77.2.1 ;;
    c-xskfwd)
      ip netns exec $SW "${cprio[@]}" taskset -c "$FWD_CPU" "$work/xskfwd" .build-bpf/fabric_xsk.o h1 h2 >"$log" 2>&1 &
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
      # On a jumbo bed, the xdp.frags copies of the same programs.
      host_xdp_pass
      if [ "$MTU" -gt 1500 ]; then
        ip netns exec $SW "$work/xdpredir" "$work/xdp_redirect_frags.o" h1 h2 >"$log" 2>&1 &
      else
        ip netns exec $SW "$work/xdpredir" .build-bpf/xdp_redirect.o h1 h2 >"$log" 2>&1 &
      fi
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

# SwiftFabric's own view of a latency run (its peers only, else null): the residence time of
# the frames h2's busiest egress queue sent, from the XDP stamp (`--ring-wait on`) to transmit,
# with the part spent in h1's socket rx ring, and h1's ring-wait histogram. Histograms are
# cumulative, so the switch's counters are zeroed before each run (`fabric ctl clear counters`;
# `fabric stats clear` keeps a reader-side baseline, which cannot subtract percentiles).
switch_clear() { # peer
  case $1 in swiftfabric-*) "$FABRIC" ctl --switch "$CTL" clear counters >/dev/null ;; esac
}
switch_view() { # peer -> JSON
  case $1 in swiftfabric-*) ;; *) echo null; return ;; esac
  "$FABRIC" stats --switch "$CTL" --json 2>/dev/null | python3 -c '
import json, sys
r = json.load(sys.stdin)
ports = {p["name"]: p for p in r["ports"]}
q = max(ports["h2"]["queues"], key=lambda q: q["residence"]["count"])
x, w = q["residence"], ports["h1"].get("ringWait")
n = x["count"] or 1
print(json.dumps({"queue": q["queue"], "count": x["count"], "p50_us": x["p50"], "p99_us": x["p99"], "p999_us": x["p999"],
                  "mean_us": x.get("sumMicroseconds", 0) / n, "ring_mean_us": x.get("ringMicroseconds", 0) / n,
                  "ring_wait": None if w is None else {"count": w["count"], "mean_us": w["sumMicroseconds"] / max(w["count"], 1),
                                                        "p50_us": w["p50"], "p99_us": w["p99"], "max_us": w["max"]}}))' || echo null
}

# xdpgen's frames enter the switch's h1 as XDP frames: received only if h1 runs XDP (the AF_XDP
# peers, xdp-redirect) or has GRO on. For the others, GRO on for the max-rate run, its NAPI
# threaded on the forwarding CPU, RPS off on h1; put back afterwards (see the header).
XDPGEN_GRO=0 XDPGEN_RPS=""
xdpgen_rx_prepare() {
  XDPGEN_GRO=0
  ip -n $SW link show dev h1 | grep 'prog/xdp' >/dev/null && return 0
  XDPGEN_GRO=1
  XDPGEN_RPS=$(ip netns exec $SW cat /sys/class/net/h1/queues/rx-0/rps_cpus)
  ip netns exec $SW ethtool -K h1 gro on
  ip netns exec $SW sh -c 'echo 0 > /sys/class/net/h1/queues/rx-0/rps_cpus; echo 1 > /sys/class/net/h1/threaded'
  for p in $(ps -eo pid=,comm= | awk '$2 ~ /^napi\/h1-/ {print $1}'); do taskset -pc "$FWD_CPU" "$p" >/dev/null; done
}
# --sink xdp-drop: h2's veth end drops in XDP during the max-rate run; afterwards it gets back
# what it had (xdp_pass for the peers that redirect into it in XDP, else nothing).
SINK_HAD_PASS=0
sink_prepare() {
  [ "$SINK" = xdp-drop ] || return 0
  SINK_HAD_PASS=0
  ip -n $H2 link show dev eth0 | grep 'prog/xdp' >/dev/null && SINK_HAD_PASS=1
  ip -n $H2 link set dev eth0 xdp off
  ip -n $H2 link set dev eth0 xdp obj .build-bpf/xdpgen.o sec xdp.frags
}
sink_restore() {
  [ "$SINK" = xdp-drop ] || return 0
  ip -n $H2 link set dev eth0 xdp off
  [ "$SINK_HAD_PASS" = 1 ] || return 0
  if [ "$MTU" -gt 1500 ]; then
    ip -n $H2 link set dev eth0 xdp obj "$work/xdp_pass_frags.o" sec xdp.frags
  else
    ip -n $H2 link set dev eth0 xdp obj .build-bpf/xdp_pass.o sec xdp
  fi
}
xdpgen_rx_restore() {
  [ "$XDPGEN_GRO" = 1 ] || return 0
  # threaded off while the NAPI still exists (with GRO off there is none and the write fails)
  ip netns exec $SW sh -c 'echo 0 > /sys/class/net/h1/threaded'
  ip netns exec $SW ethtool -K h1 gro off
  ip netns exec $SW sh -c "echo $XDPGEN_RPS > /sys/class/net/h1/queues/rx-0/rps_cpus"
  XDPGEN_GRO=0
}

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
for name in "${skipped[@]}"; do
  python3 -c 'import json,sys; print(json.dumps({"kind": "skip", "peer": sys.argv[1], "why": sys.argv[2]}))' \
    "$name" "${skip_why[$name]}" >> "$rows"
done
echo "bench: $ROUNDS rounds of peers $RUN_PEERS; sizes $SIZES B (bed MTU $MTU); loads $LOADS %; $SECS s per run; sender CPU $GEN_CPU, forwarding CPU $FWD_CPU" >&2
for round in $(seq 1 "$ROUNDS"); do
  for peer in ${RUN_PEERS//,/ }; do
    bed_mtu=$(peer_mtu "$peer") bed=(testbed up --routed --hosts 2 --prefix $PREFIX)
    [ "$bed_mtu" -gt 1500 ] && bed+=(--mtu "$bed_mtu")
    [ "$(peer_workers "$peer")" -gt 1 ] && bed+=(--queues "$(peer_workers "$peer")")
    "$FABRIC" "${bed[@]}" >/dev/null
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
      if [ $((size - 18)) -gt "$bed_mtu" ]; then
        [ "$round" = 1 ] && echo "bench: $peer cannot take $size B: its AF_XDP ports' XDP program is not multi-buffer aware (bed MTU $bed_mtu)" >&2
        python3 -c 'import json,sys; print(json.dumps({"round": int(sys.argv[1]), "kind": "skip", "peer": sys.argv[2], "size": int(sys.argv[3]), "why": sys.argv[4]}))' \
          "$round" "$peer" "$size" "its AF_XDP ports load an XDP program that is not multi-buffer aware; a veth refuses it above about 3500 bytes of MTU" >> "$rows"
        continue
      fi
      sink_prepare
      before=$(rx_packets)
      perf_pid=""
      if [ "$PROFILE" = 1 ] && [ "$round" = 1 ]; then
        perf record -q -g -C "$FWD_CPU" -o "$work/perf.data" -- sleep "$SECS" 2>/dev/null &
        perf_pid=$!
      fi
      sender=$SENDER
      if [ "$SENDER" = xdpgen ] && [ "$frame" -gt 3500 ]; then
        sender=sfprobe
        [ "$round" = 1 ] && echo "bench: $peer ${size}B: xdpgen takes frames up to 3500 B; sfprobe sends this size" >&2
      fi
      if [ "$sender" = xdpgen ]; then
        xdpgen_rx_prepare
        before=$(rx_packets)
        gen=$(ip netns exec $H1 nice -n "$SENDER_NICE" taskset -c "$GEN_CPU" "$work/xdpgen" "${PROBE_KIND[@]}" .build-bpf/xdpgen.o eth0 $DST_MAC $SRC_IP $SINK_IP $frame "$SECS" $FLOWS)
        sleep 0.2
        after=$(rx_packets)
        xdpgen_rx_restore
      else
        gen=$(ip netns exec $H1 nice -n "$SENDER_NICE" taskset -c "$GEN_CPU" $PROBE send "${PROBE_KIND[@]}" eth0 $DST_MAC $SRC_IP $SINK_IP $frame "$SECS" 0 "$work/tx.log" $FLOWS)
        sleep 0.2
        after=$(rx_packets)
      fi
      if [ -n "$perf_pid" ]; then
        wait "$perf_pid" || true
        profile_summary "$peer" "$size" > "$OUT/profile-$peer-$size.txt"
      fi
      sink_restore
      maxrate=$(python3 -c 'import json,sys; g=json.loads(sys.argv[1]); print(round((int(sys.argv[3])-int(sys.argv[2]))/g["seconds"]))' "$gen" "$before" "$after")
      python3 -c 'import json,sys; g=json.loads(sys.argv[5]); r={"round": int(sys.argv[1]), "peer": sys.argv[2], "kind": "max", "size": int(sys.argv[3]), "delivered_pps": float(sys.argv[4]), "offered_pps": g["pps"], "sender": sys.argv[6]}
if "tx_packets" in g: r["port_accepted_pps"] = g["tx_packets"] / g["seconds"]; r["port_refused_pps"] = g["tx_dropped"] / g["seconds"]
print(json.dumps(r))' \
        "$round" "$peer" "$size" "$maxrate" "$gen" "$sender" >> "$rows"
      for load in ${LOADS//,/ }; do
        pps=$((maxrate * load / 100))
        ip netns exec $H2 $PROBE recv "${PROBE_KIND[@]}" eth0 "$((SECS + 1))" "$work/rx.log" > "$work/recv.out" &
        sink=$!
        wait_for "$work/recv.out" listening
        switch_clear "$peer"
        before=$(rx_packets)
        gen=$(ip netns exec $H1 nice -n "$SENDER_NICE" taskset -c "$GEN_CPU" $PROBE send "${PROBE_KIND[@]}" eth0 $DST_MAC $SRC_IP $SINK_IP $frame "$SECS" "$pps" "$work/tx.log" $FLOWS)
        wait $sink
        after=$(rx_packets)
        view=$(switch_view "$peer")
        lat=$($PROBE join "$work/tx.log" "$work/rx.log" 100)
        python3 -c 'import json,sys; g=json.loads(sys.argv[6]); l=json.loads(sys.argv[7]); r=json.loads(open(sys.argv[8]).read().split("\n")[-2]); d=(int(sys.argv[10])-int(sys.argv[9]))/g["seconds"]
print(json.dumps({"round": int(sys.argv[1]), "peer": sys.argv[2], "kind": "load", "size": int(sys.argv[3]), "load_pct": int(sys.argv[4]), "target_pps": float(sys.argv[5]), "offered_pps": g["pps"], "delivered_pps": d, "sink": r, "latency": l, "switch": json.loads(sys.argv[11])}))' \
          "$round" "$peer" "$size" "$load" "$pps" "$gen" "$lat" "$work/recv.out" "$before" "$after" "$view" >> "$rows"
      done
      echo "bench: round $round $peer ${size}B: max $maxrate pps" >&2
    done
    stop_peer
  done
done

python3 scripts/bench_report.py --rows "$rows" --out "$OUT" --machine "$machine" \
  --rounds "$ROUNDS" --seconds "$SECS" --gen-cpu "$GEN_CPU" --fwd-cpu "$FWD_CPU" --mtu "$MTU" --flows "$FLOWS" --traffic "$TRAFFIC" \
  $( [ "$README" = 1 ] && echo --readme README.md )
# The sender of the max-rate runs, its offered rate per round, and where it was the limit.
python3 - "$rows" "$OUT" "$SINK" <<'PY'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
mx = [r for r in rows if r.get("kind") == "max"]
if mx:
    rounds = sorted({r["round"] for r in mx})
    senders = sorted({r.get("sender", "sfprobe") for r in mx})
    md = ["", f"**Sender of the max-rate runs**: {', '.join(senders)} (latency runs: sfprobe, paced); "
          f"sink: {sys.argv[3]}" + (" (XDP_DROP on h2's veth for the max-rate runs)" if sys.argv[3] == "xdp-drop" else " (h2's IP stack)") + ". "
          "Offered / delivered Mpps per round; **sender-bound** = delivered >= 97% of offered, so the peer's own limit "
          "is not shown. For xdpgen, `port took` = what the switch's veth end accepted (the rest it refused, its ring full).", "",
          "| peer | size | " + " | ".join(f"round {k}" for k in rounds) + " | sender-bound |",
          "|---|---|" + "---|" * (len(rounds) + 1)]
    out = {}
    for key in sorted({(r["peer"], r["size"]) for r in mx}, key=lambda k: (k[1], [r["peer"] for r in mx].index(k[0]))):
        rs = {r["round"]: r for r in mx if (r["peer"], r["size"]) == key}
        cells, bound = [], 0
        for k in rounds:
            r = rs.get(k)
            if not r:
                cells.append("-"); continue
            b = r["offered_pps"] > 0 and r["delivered_pps"] >= 0.97 * r["offered_pps"]
            bound += b
            c = f"{r['offered_pps']/1e6:.2f} / {r['delivered_pps']/1e6:.3f}"
            if "port_accepted_pps" in r:
                c += f" (port took {r['port_accepted_pps']/1e6:.3f})"
            cells.append(c + (" **SB**" if b else ""))
        md.append(f"| {key[0]} | {key[1]} B | " + " | ".join(cells) + f" | {bound}/{len(rs)} rounds |")
        out[f"{key[0]}/{key[1]}"] = {"per_round": {str(k): {"sender": r.get("sender", "sfprobe"), "offered_pps": r["offered_pps"],
                                                             "delivered_pps": r["delivered_pps"],
                                                             **({"port_accepted_pps": r["port_accepted_pps"]} if "port_accepted_pps" in r else {})}
                                                   for k, r in rs.items()},
                                     "sender_bound_rounds": bound}
    with open(f"{sys.argv[2]}/bench.md", "a") as f:
        f.write("\n".join(md) + "\n")
    j = json.load(open(f"{sys.argv[2]}/bench.json"))
    j["sender"] = {"max_rate": senders, "latency": "sfprobe", "sink": sys.argv[3], "runs": out}
    json.dump(j, open(f"{sys.argv[2]}/bench.json", "w"), indent=1)
PY
cat "$OUT/bench.md"
