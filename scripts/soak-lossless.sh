#!/usr/bin/env bash
# The lossless soak (README "Lossless through stalls"): `fabric lossless --seconds 60` ROUNDS
# times (default 3), each round once as it is and once with the switch process stopped
# (SIGSTOP, SIGCONT) for STALL (default 100ms, the default stall budget) halfway through each
# run. Each `fabric lossless` is three runs: PFC on, PFC on + DCQCN, PFC off. Passes when every
# PFC-on run lost 0 packets and the switch dropped 0 frames, and the unstopped PFC-on runs also
# resent nothing (RC retransmissions: an ACK timeout or a NAK). About 3.5 minutes per
# `fabric lossless`, 20 minutes for the default. Needs root; not part of the tests.
#
#   sudo scripts/soak-lossless.sh                      # 3 rounds of 60 s, stall 100ms
#   sudo ROUNDS=1 SECONDS_PER_RUN=10 scripts/soak-lossless.sh
#   sudo STALL=150ms STALL_BUDGET=200ms scripts/soak-lossless.sh
# Results: .build-bench/soak-*.json and a summary table; exit 1 if any run failed.
source "$(dirname "$0")/lab-bench-prologue.sh"
rounds=${ROUNDS:-3}
seconds=${SECONDS_PER_RUN:-60}
stall=${STALL:-100ms}
budget=()
[[ -n "${STALL_BUDGET:-}" ]] && budget=(--stall-budget "$STALL_BUDGET")
rm -f .build-bench/soak-*.json
for i in $(seq 1 "$rounds"); do
    echo "== round $i of $rounds: fabric lossless --seconds $seconds"
    .build/release/fabric lossless --seconds "$seconds" "${budget[@]}" --json ".build-bench/soak-$i.json" | tail -n 12
    echo "== round $i of $rounds: fabric lossless --seconds $seconds --stall $stall"
    .build/release/fabric lossless --seconds "$seconds" --stall "$stall" "${budget[@]}" --json ".build-bench/soak-$i-stall.json" | tail -n 12
done
python3 - "$stall" .build-bench/soak-*.json <<'EOF'
import json, sys
stall, files = sys.argv[1], sys.argv[2:]
failed = 0
print()
print("| file | PFC | cc | sent | lost | switch drops | resent (timeouts, NAKs) | PFC sent | stopped ms | verdict |")
print("|---|---|---|---|---|---|---|---|---|---|")
for path in files:
    stopped = path.endswith("-stall.json")
    for r in json.load(open(path)):
        problems = []
        if r["pfc"]:
            if r["lost"]: problems.append(f"lost {r['lost']}")
            if r["switchDrops"]: problems.append(f"switch drops {r['switchDrops']}: {r.get('dropReasons', {})}")
            if not stopped and r["retransmitted"]: problems.append(f"resent {r['retransmitted']}")
        verdict = "-" if not r["pfc"] else ("ok" if not problems else "FAIL: " + "; ".join(problems))
        failed += bool(problems)
        print(f"| {path.split('/')[-1]} | {'on' if r['pfc'] else 'off'} | {r['cc']} | {r['sent']} | {r['lost']} | {r['switchDrops']} | "
              f"{r['retransmitted']} ({r['ackTimeouts']}, {r['naks']}) | {r['pfcSent']} | {r['stoppedMicroseconds'] / 1000:.0f} | {verdict} |")
print()
print(f"soak: {'PASSED' if not failed else f'FAILED ({failed} runs)'}: every PFC-on run lossless, "
      f"with the switch stopped for {stall} in the -stall runs")
sys.exit(1 if failed else 0)
EOF
