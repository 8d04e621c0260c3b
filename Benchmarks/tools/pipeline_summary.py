# The per-round table and medians of fabric-pipeline-bench runs (DIR/run-N-base.txt, run-N-new.txt):
#   python3 Benchmarks/tools/pipeline_summary.py DIR > DIR/summary.md
import re, sys, glob, statistics as st
d = sys.argv[1]
rows = {}
for f in sorted(glob.glob(f"{d}/run-*.txt")):
    m = re.match(r".*/run-(\d+)-(base|new)\.txt", f)
    rnd, which = int(m.group(1)), m.group(2)
    t = open(f).read()
    def grab(pat):
        m = re.search(pat, t)
        return float(m.group(1)) if m else None
    r = {
        "bridge": grab(r"bridge \(64 B.*?: ([0-9.]+) ns/frame"),
        "r1k": grab(r"1k IPv4 prefixes, ECMP x2\): ([0-9.]+) ns/frame"),
        "r100k": grab(r"100k IPv4 prefixes, ECMP x2\): ([0-9.]+) ns/frame"),
    }
    alone = re.findall(r"pipeline alone: ([0-9.]+) ns/frame", t)
    r["r1k_alone"], r["r100k_alone"] = float(alone[0]), float(alone[1])
    rows.setdefault(rnd, {})[which] = r
keys = ["bridge", "r1k", "r1k_alone", "r100k", "r100k_alone"]
print("| round | binary | bridge | router 1k | router 1k, pipeline alone | router 100k | router 100k, pipeline alone | 100k / 1k (pipeline alone) |")
print("|---|---|---|---|---|---|---|---|")
for rnd in sorted(rows):
    for w in ["base", "new"]:
        r = rows[rnd][w]
        print(f"| {rnd} | {w} | " + " | ".join(f"{r[k]:.1f}" for k in keys) + f" | {r['r100k_alone']/r['r1k_alone']:.2f} |")
print()
print("| | bridge | router 1k | router 1k, pipeline alone | router 100k | router 100k, pipeline alone |")
print("|---|---|---|---|---|---|")
for w in ["base", "new"]:
    print(f"| median {w} | " + " | ".join(f"{st.median(rows[r][w][k] for r in rows):.1f}" for k in keys) + " |")
print("| ratio of medians (base / new) | " + " | ".join(f"{st.median(rows[r]['base'][k] for r in rows)/st.median(rows[r]['new'][k] for r in rows):.2f}x" for k in keys) + " |")
print("| median of per-round ratios | " + " | ".join(f"{st.median(rows[r]['base'][k]/rows[r]['new'][k] for r in rows):.2f}x" for k in keys) + " |")
new100 = [rows[r]['new']['r100k_alone']/rows[r]['new']['r1k_alone'] for r in rows]
new100t = [rows[r]['new']['r100k']/rows[r]['new']['r1k'] for r in rows]
b100 = [rows[r]['base']['r100k_alone']/rows[r]['base']['r1k_alone'] for r in rows]
print()
print(f"router 100k / 1k in the same run, median: new {st.median(new100):.2f} (pipeline alone), {st.median(new100t):.2f} (total); base {st.median(b100):.2f} (pipeline alone)")
