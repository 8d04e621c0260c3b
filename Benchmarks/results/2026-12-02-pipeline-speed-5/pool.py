import re,glob,statistics as st,sys
def get(f,pat): return [float(x) for x in re.findall(pat,open(f).read())]
def rounds(out,b):
    R=len(glob.glob(f"{out}/*-{b}-bridge.txt")); rs=[]
    for r in range(1,R+1):
        br=get(f"{out}/{r}-{b}-bridge.txt",r"bridge .*?: ([\d.]+) ns")[0]
        f=f"{out}/{r}-{b}-router.txt"
        t=get(f,r"ECMP x2\): ([\d.]+) ns"); p=get(f,r"pipeline alone: ([\d.]+)")
        rs.append((br,t[0],p[0],t[1],p[1]))
    return rs
keys=["bridge","r1k","r1k-alone","r100k","r100k-alone"]
sets={"3592760 (new)":[("sitting-1","sitting-1","new"),("sitting-2","sitting-2","new"),("sitting-4","sitting-4","new")],
      "caea1c5 (new2)":[("sitting-3","sitting-3","new2"),("sitting-4","sitting-4","new2"),("sitting-5","sitting-5","new2")],
      "main 4789dcf":[("sitting-2","sitting-2","main"),("sitting-5","sitting-5","main")]}
print("| build vs da67401 | sittings, rounds | "+" | ".join(keys)+" |")
print("|---|---|"+"---|"*len(keys))
for name,ss in sets.items():
    ratios=[[] for _ in keys]; n=0
    for s,out,b in ss:
        base=rounds(out,"base"); x=rounds(out,b)
        for rb,rx in zip(base,x):
            n+=1
            for k in range(len(keys)): ratios[k].append(rb[k]/rx[k])
    print(f"| {name} | {len(ss)}, {n} | "+" | ".join(f"{st.median(r):.3f} ({min(r):.2f}-{max(r):.2f})" for r in ratios)+" |")
