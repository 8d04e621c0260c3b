#!/bin/bash
# usage: Benchmarks/tools/pipeline-ab.sh ROUNDS OUTDIR binA binB
# Two release builds of fabric-pipeline-bench timed interleaved: per round both run the bridge
# and router cases (4M frames), alternating which goes first, under flock /tmp/fabric-cpu.lock;
# then medians and the medians of per-round ratios (binA / binB: above 1 means binB is faster).
R=$1; OUT=$2; A=$3; B=$4
rm -rf $OUT; mkdir -p $OUT
for r in $(seq 1 $R); do
  if [ $((r % 2)) = 1 ]; then order="$A $B"; else order="$B $A"; fi
  for b in $order; do
    n=$(basename $b)
    flock /tmp/fabric-cpu.lock $b bridge 4000000 > $OUT/$r-$n-bridge.txt
    flock /tmp/fabric-cpu.lock $b router 4000000 > $OUT/$r-$n-router.txt
  done
done
python3 - "$OUT" "$A" "$B" <<'PY'
import sys,re,glob,statistics as st,os
out=sys.argv[1]; bins=[os.path.basename(b) for b in sys.argv[2:]]
def get(f,pat):
    t=open(f).read(); m=re.findall(pat,t); return [float(x) for x in m]
res={}
R=len(glob.glob(f"{out}/*-{bins[0]}-bridge.txt"))
for b in bins:
    br=[];r1=[];r1p=[];r100=[]
    for r in range(1,R+1):
        br+=get(f"{out}/{r}-{b}-bridge.txt",r"bridge .*?: ([\d.]+) ns")
        f=f"{out}/{r}-{b}-router.txt"
        t=get(f,r"ECMP x2\): ([\d.]+) ns"); p=get(f,r"pipeline alone: ([\d.]+)")
        r1.append(t[0]); r100.append(t[1]); r1p.append(p[0])
    res[b]=(br,r1,r1p,r100)
    print(f"{b:14s} bridge {st.median(br):6.1f}  router1k {st.median(r1):6.1f}  1k-alone {st.median(r1p):6.1f}  100k {st.median(r100):6.1f}")
base=bins[0]
for b in bins[1:]:
    rs=[ [x/y for x,y in zip(res[base][k],res[b][k])] for k in range(4)]
    print(f"{b} vs {base}: per-round ratio medians bridge {st.median(rs[0]):.3f} r1k {st.median(rs[1]):.3f} r1k-alone {st.median(rs[2]):.3f} r100k {st.median(rs[3]):.3f}")
    print("  bridge ratios", " ".join(f"{x:.2f}" for x in rs[0]))
    print("  r1k ratios   ", " ".join(f"{x:.2f}" for x in rs[1]))
PY
