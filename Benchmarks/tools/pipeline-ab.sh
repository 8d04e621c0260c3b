#!/bin/bash
# usage: [IDLE_WAIT=S] Benchmarks/tools/pipeline-ab.sh ROUNDS OUTDIR BASE BUILD [BUILD...]
# Release builds of fabric-pipeline-bench timed interleaved: per round every binary runs the
# bridge and router cases (4M frames), the order rotated each round (with two: alternating
# which goes first), each under flock /tmp/fabric-cpu.lock; then medians and the medians of
# per-round ratios BASE / BUILD (above 1 means BUILD is faster). Names are the binaries'
# basenames, so copy them to distinct names first. IDLE_WAIT=S: before each binary, wait up to
# S seconds for the machine to be >= 90% idle over one second (logged in OUTDIR/idle.txt).
# REPS=K: each binary runs K times per round (back to back) and the round keeps its best
# figure of each (the router's pipeline alone is then its best total less its best harness):
# on this VM a single run can lose a third to another tenant, and the best of a few does not.
R=$1; OUT=$2; shift 2; BINS=("$@")
[ ${#BINS[@]} -ge 2 ] || { echo "usage: pipeline-ab.sh ROUNDS OUTDIR BASE BUILD [BUILD...]" >&2; exit 2; }
idle_pct() { # waits up to $1 s for a second >= 90% idle; prints the idle % of the last second
  local lim=$1 t=0 a b c d e f g h t1 t2 i1 i2 idle
  while :; do
    read -r _ a b c d e f g h _ < /proc/stat; t1=$((a+b+c+d+e+f+g+h)); i1=$((d+e))
    sleep 1
    read -r _ a b c d e f g h _ < /proc/stat; t2=$((a+b+c+d+e+f+g+h)); i2=$((d+e))
    idle=$(( 100 * (i2 - i1) / (t2 - t1) )); t=$((t+1))
    if [ $idle -ge 90 ] || [ $t -ge $lim ]; then echo $idle; return 0; fi
  done
}
rm -rf $OUT; mkdir -p $OUT
for r in $(seq 1 $R); do
  k=$(( (r - 1) % ${#BINS[@]} ))
  order=("${BINS[@]:$k}" "${BINS[@]:0:$k}")
  for b in "${order[@]}"; do
    n=$(basename $b)
    [ -n "${IDLE_WAIT:-}" ] && echo "round $r $n idle-before $(idle_pct "$IDLE_WAIT")% $(date -u +%T)" >> $OUT/idle.txt
    for k in $(seq 1 ${REPS:-1}); do
      flock /tmp/fabric-cpu.lock $b bridge 4000000 >> $OUT/$r-$n-bridge.txt
      flock /tmp/fabric-cpu.lock $b router 4000000 >> $OUT/$r-$n-router.txt
    done
  done
  echo "round $r: ${order[*]}" >> $OUT/order.txt
done
python3 - "$OUT" "${BINS[@]}" <<'PY'
import sys,re,glob,statistics as st,os
out=sys.argv[1]; bins=[os.path.basename(b) for b in sys.argv[2:]]
def get(f,pat):
    t=open(f).read(); m=re.findall(pat,t); return [float(x) for x in m]
res={}
R=len(glob.glob(f"{out}/*-{bins[0]}-bridge.txt"))
for b in bins:
    br=[];r1=[];r1p=[];r100=[]
    for r in range(1,R+1):
        br.append(min(get(f"{out}/{r}-{b}-bridge.txt",r"bridge .*?: ([\d.]+) ns")))
        f=f"{out}/{r}-{b}-router.txt"
        # per run: 1k total, 100k total; harness (writing the frames) 1k, 100k
        t=get(f,r"ECMP x2\): ([\d.]+) ns"); h=get(f,r"writing the test frames: ([\d.]+)")
        t1,t100,h1=t[0::2],t[1::2],h[0::2]
        r1.append(min(t1)); r100.append(min(t100)); r1p.append(min(t1)-min(h1))
    res[b]=(br,r1,r1p,r100)
    print(f"{b:14s} bridge {st.median(br):6.1f}  router1k {st.median(r1):6.1f}  1k-alone {st.median(r1p):6.1f}  100k {st.median(r100):6.1f}")
base=bins[0]
for b in bins[1:]:
    rs=[ [x/y for x,y in zip(res[base][k],res[b][k])] for k in range(4)]
    print(f"{b} vs {base}: per-round ratio medians bridge {st.median(rs[0]):.3f} r1k {st.median(rs[1]):.3f} r1k-alone {st.median(rs[2]):.3f} r100k {st.median(rs[3]):.3f}")
    print("  bridge ratios", " ".join(f"{x:.2f}" for x in rs[0]))
    print("  r1k ratios   ", " ".join(f"{x:.2f}" for x in rs[1]))
    print("  r1k-alone    ", " ".join(f"{x:.2f}" for x in rs[2]))
    print(f"  {b} 100k / 1k in the same round: median {st.median([x/y for x,y in zip(res[b][3],res[b][1])]):.3f}")
PY
