#!/usr/bin/env bash
# Maximum send rate of one generator core: `fabric traffic send` (AF_XDP and AF_PACKET) with
# 64 B and 1024 B RoCEv2 payloads, against the minimal C senders in Benchmarks/tools (xsksend:
# AF_XDP, sfgen: AF_PACKET sendmmsg), interleaved round by round, all pinned to CPU $GEN_CPU (0).
# Frames go from h1 into its veth; the peer end has no program and drops them (its rx_packets
# confirm they arrived). No switch: this measures the generator alone.
#
#   scripts/bench-traffic.sh [ROUNDS] [SECONDS]      (defaults: 3 rounds of 2 s)
. "$(dirname "$0")/lab-bench-prologue.sh"   # setup, release build, which machine
ROUNDS=${1:-3}
SECS=${2:-2}
GEN_CPU=${GEN_CPU:-0}
PREFIX=sftgen
out=.build-bench
gcc -O2 -Wall -o "$out/sfgen" Benchmarks/tools/sfgen.c
gcc -O2 -Wall -o "$out/xsksend" Benchmarks/tools/xsksend.c -lxdp -lbpf
F=.build/release/fabric
trap '"$F" testbed down --prefix $PREFIX >/dev/null' EXIT
"$F" testbed up --routed --hosts 2 --prefix $PREFIX >/dev/null
H1=$PREFIX-h1
MAC=02:5f:00:00:99:99   # no such host: the peer drops the frames as not its own, cheaply and alike for every sender
rows=$out/traffic.tsv
echo -e "round\tsender\tpayload\tpps" > "$rows"
# Frame sizes of a RoCEv2 RDMA WRITE ONLY: 14 + 20 + 8 + 12 + 16 (RETH) + payload + 4 (ICRC).
frame_hex() { python3 -c "import sys; print('$MAC'.replace(':','') + '025f00000001' + '0800' + '00' * ($1 - 14))"; }
for r in $(seq 1 "$ROUNDS"); do
  for p in 64 1024; do
    size=$((74 + p))
    for be in afxdp afpacket; do
      pps=$(ip netns exec $H1 true; taskset -c "$GEN_CPU" "$F" traffic send --backend $be --netns $H1 --to 10.77.2.1 --mac $MAC \
            --source 10.77.1.1 --seconds "$SECS" --mtu $p --message $p --transport none --json | python3 -c "import json,sys; r=json.loads(sys.stdin.read().strip().splitlines()[-1]); print(round(r['packets']/r['seconds']))")
      echo -e "$r\tfabric-$be\t$p\t$pps" >> "$rows"
    done
    pps=$(ip netns exec $H1 taskset -c "$GEN_CPU" "$out/xsksend" eth0 "$(frame_hex $size)" "$SECS" | python3 -c "import json,sys; print(round(json.load(sys.stdin)['pps']))")
    echo -e "$r\tc-xsksend\t$p\t$pps" >> "$rows"
    pps=$(ip netns exec $H1 taskset -c "$GEN_CPU" "$out/sfgen" eth0 $MAC 10.77.1.1 10.77.2.1 "$size" "$SECS" | python3 -c "import json,sys; print(round(json.load(sys.stdin)['pps']))")
    echo -e "$r\tc-sfgen\t$p\t$pps" >> "$rows"
  done
done
python3 - "$rows" "$ROUNDS" "$SECS" "$GEN_CPU" <<'PY'
import csv, statistics, sys
rows = list(csv.DictReader(open(sys.argv[1]), delimiter="\t"))
print(f"One generator core (CPU {sys.argv[4]}), {sys.argv[2]} interleaved rounds of {sys.argv[3]} s, RoCEv2 RDMA WRITE ONLY frames into a veth.\n")
print("| sender | payload | packets/s (median, min-max) | Gb/s of frames | vs C AF_XDP sender |")
print("|---|---|---|---|---|")
for p in ["64", "1024"]:
    base = statistics.median(float(x["pps"]) for x in rows if x["sender"] == "c-xsksend" and x["payload"] == p)
    for s in ["fabric-afxdp", "fabric-afpacket", "c-xsksend", "c-sfgen"]:
        v = [float(x["pps"]) for x in rows if x["sender"] == s and x["payload"] == p]
        m = statistics.median(v)
        gbps = m * (74 + int(p)) * 8 / 1e9
        print(f"| {s} | {p} B | {m/1e3:.0f}k ({min(v)/1e3:.0f}k-{max(v)/1e3:.0f}k) | {gbps:.2f} | {m/base:.2f}x |")
PY
