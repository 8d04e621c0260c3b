#!/bin/bash
# where do excess frames die? $1 = swift|c
set -u
cd /work/main
FABRIC=.build/release/fabric PROBE=.build-bench/sfprobe
P=sfdrop
$FABRIC testbed up --routed --hosts 2 --prefix $P >/dev/null
ip -n $P-h1 addr add 10.77.0.1/24 dev eth0; ip -n $P-h2 addr add 10.77.0.2/24 dev eth0
if [ $1 = c ]; then ip netns exec $P-sw taskset -c 1 .build-bench/xskfwd .build-bpf/fabric_xsk.o h1 h2 > /tmp/drop-peer.log 2>&1 & 
elif [ $1 = swift-bp ]; then
  ip netns exec $P-sw sh -c 'for i in h1 h2; do echo ${DEFER:-100} > /sys/class/net/$i/napi_defer_hard_irqs; echo ${GFT:-200000} > /sys/class/net/$i/gro_flush_timeout; done'
  taskset -c 1 $FABRIC switch --netns $P-sw --ports h1,h2 --no-control --busy-poll ${BP:-50} --stats-file /tmp/drop-stats.json > /tmp/drop-peer.log 2>&1 &
else taskset -c 1 $FABRIC switch --netns $P-sw --ports h1,h2 --no-control --stats-file /tmp/drop-stats.json > /tmp/drop-peer.log 2>&1 & fi
pid=$!; sleep 2
[ $1 = swift-bp ] || ip netns exec $P-sw sh -c 'echo 1 > /sys/class/net/h1/threaded && echo 1 > /sys/class/net/h2/threaded'
for p in $(ps -eo pid=,comm= | awk '$2 ~ /^napi\/h[12]-/ {print $1}'); do taskset -pc 1 "$p" >/dev/null; done
ip netns exec $P-h1 ping -n -c 3 -i 0.05 -W 1 10.77.0.2 >/dev/null
ip netns exec $P-h1 ping -n -q -c 200 -i 0.005 -W 1 10.77.0.2 | tail -1 | sed 's/^/ping /'
snap() { echo "h1.eth0 tx $(ip netns exec $P-h1 cat /sys/class/net/eth0/statistics/tx_packets) txdrop $(ip netns exec $P-h1 cat /sys/class/net/eth0/statistics/tx_dropped) | sw.h1 rx $(ip netns exec $P-sw cat /sys/class/net/h1/statistics/rx_packets) rxdrop $(ip netns exec $P-sw cat /sys/class/net/h1/statistics/rx_dropped) | h2 rx $(ip netns exec $P-h2 cat /sys/class/net/eth0/statistics/rx_packets)"; ip -n $P-sw -s link show h1 | tail -4 | tr '\n' ' '; echo; }
snap
cs() { for t in /proc/$pid/task/* $(for n in $(ps -eo pid=,comm= | awk '$2 ~ /^(napi\/h[12]-|ksoftirqd\/1)/ {print $1}'); do echo /proc/$n; done); do echo "$(cat $t/comm) $(grep ctxt $t/status | awk '{printf "%s ", $2}') $(cut -d' ' -f1 $t/schedstat)"; done; }
[ $1 = c ] || pid=$(pgrep -P $pid || echo $pid)
cs > /tmp/cs-before
grep -E "^cpu[01] " /proc/stat > /tmp/stat-before
[ -n "${PERF0:-}" ] && { perf record -q -g -C 0 -o /tmp/perf0.data -- sleep 2 2>/dev/null & perfpid=$!; }
ip netns exec $P-h1 nice -n ${SN:-0} taskset -c 0 $PROBE send eth0 02:5f:00:00:00:02 10.77.1.1 10.77.2.99 60 3 0 /tmp/drop-tx.log
[ -n "${PERF0:-}" ] && wait $perfpid
snap
cs > /tmp/cs-after; grep -E "^cpu[01] " /proc/stat > /tmp/stat-after; paste /tmp/stat-before /tmp/stat-after | awk '{printf "%s user %d sys %d idle %d irq %d softirq %d (10ms ticks)\n", $1, $13-$2+$14-$3, $15-$4, $16-$5, $18-$7, $19-$8}'; paste /tmp/cs-before /tmp/cs-after
ip netns exec $P-sw ethtool -S h1 2>/dev/null | grep -v ": 0$" | head -20
kill -TERM $pid; wait $pid
tail -5 /tmp/drop-peer.log
$FABRIC testbed down --prefix $P >/dev/null
