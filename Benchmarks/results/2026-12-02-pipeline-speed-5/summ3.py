import sys,re,glob,statistics as st,os
out=sys.argv[1]; bins=sys.argv[2:]
def get(f,pat): return [float(x) for x in re.findall(pat,open(f).read())]
R=len(glob.glob(f"{out}/*-{bins[0]}-bridge.txt"))
res={}
for b in bins:
    d={k:[] for k in ("bridge","r1k","r1k-alone","r100k","r100k-alone","harness1k")}
    for r in range(1,R+1):
        d["bridge"]+=get(f"{out}/{r}-{b}-bridge.txt",r"bridge .*?: ([\d.]+) ns")
        f=f"{out}/{r}-{b}-router.txt"
        t=get(f,r"ECMP x2\): ([\d.]+) ns"); p=get(f,r"pipeline alone: ([\d.]+)"); h=get(f,r"writing the test frames: ([\d.]+)")
        d["r1k"].append(t[0]); d["r100k"].append(t[1]); d["r1k-alone"].append(p[0]); d["r100k-alone"].append(p[1]); d["harness1k"].append(h[0])
    res[b]=d
keys=["bridge","r1k","r1k-alone","r100k","r100k-alone","harness1k"]
print(f"{R} rounds; medians (ns/frame)")
print("| build | "+" | ".join(keys)+" | 100k/1k total (median per round) | 100k/1k alone |")
print("|---|"+"---|"*(len(keys)+2))
for b in bins:
    d=res[b]
    q=st.median([x/y for x,y in zip(d["r100k"],d["r1k"])]); qa=st.median([x/y for x,y in zip(d["r100k-alone"],d["r1k-alone"])])
    print(f"| {b} | "+" | ".join(f"{st.median(d[k]):.1f}" for k in keys)+f" | {q:.3f} | {qa:.3f} |")
base=bins[0]
print("\nmedian of per-round ratios base/build (above 1: build faster)")
print("| build | "+" | ".join(keys[:5])+" |")
print("|---|"+"---|"*5)
for b in bins[1:]:
    print(f"| {b} vs {base} | "+" | ".join(f"{st.median([x/y for x,y in zip(res[base][k],res[b][k])]):.3f}" for k in keys[:5])+" |")
for b in bins[1:]:
    for k in keys[:5]:
        print(f"  {b} {k} per-round:", " ".join(f"{x/y:.2f}" for x,y in zip(res[base][k],res[b][k])))
if len(bins)>2:
    a,c=bins[1],bins[2]
    print(f"\n{c} vs {a}: "+", ".join(f"{k} {st.median([x/y for x,y in zip(res[a][k],res[c][k])]):.3f}" for k in keys[:5]))
