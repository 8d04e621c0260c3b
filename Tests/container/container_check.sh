#!/usr/bin/env bash
# The SwiftFabric image, run the way containerlab runs it. Needs root and docker with a daemon
# (scripts/setup.sh --image installs docker.io and debootstrap and starts dockerd when none runs).
#
#  1. scripts/build-image.sh (on a fresh machine that includes debootstrapping the base image);
#     `docker run --rm --network none swiftfabric:latest fabric --help`.
#  2. scripts/examples/ai-fabric/ is what `fabric testbed configs` (the image's) writes now.
#  3. Tests/container/two-switches.clab.yml deployed as containerlab deploys it (clab_deploy.py:
#     containers first, then veths moved into them, renamed, MTU 9500, up; then each host's exec):
#     both switches logged that they waited for their interfaces; h1 pings h2 through both
#     switches, also with 8972-byte unfragmentable pings; 2000 RoCEv2 messages h1 -> h2 arrive,
#     0 lost, no ICRC failure.
#  4. The example lab, scripts/examples/ai-fabric.clab.yml, deployed the same way: every host
#     pings every other; RoCEv2 from h1 to h4 crosses the spines, 0 lost.
#  5. A switch whose interfaces never come gives up after SWIFTFABRIC_WAIT_TIMEOUT, exit 2,
#     naming them; a node whose configuration is not among the bound ones exits 2 naming both.
# Every container it starts is removed on the way out (also on failure). Prints "container check: OK".
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
work=$(mktemp -d /tmp/swiftfabric-container.XXXXXX)
py=${PYTHON:-python3}
labs=()
clab() { "$py" "$root/Tests/container/clab_deploy.py" "$@"; }
# fabric testbed configs, the image's: $1 a directory with the lab file $2, configurations into $1/$3.
configs() { docker run --rm --network none -v "$1:/lab" swiftfabric:latest fabric testbed configs "/lab/$2" --out "/lab/$3" >/dev/null; }
cleanup() {
  for p in "${labs[@]}"; do clab destroy --prefix "$p" || true; done
  docker rm -f "sfct$$-wait" >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT
fail() { echo "container check: FAIL: $*" >&2; exit 1; }
step() { echo "== $*"; }

docker info >/dev/null 2>&1 || fail "no docker daemon answers (scripts/setup.sh --image starts one)"

step "build the image"
"$root/scripts/build-image.sh" || fail "scripts/build-image.sh"
help=$(docker run --rm --network none swiftfabric:latest fabric --help) || fail "fabric --help in the image"
grep -- "testbed" <<<"$help" >/dev/null || fail "fabric --help printed no subcommands"
docker run --rm --network none swiftfabric:latest fabric switch --help | grep -- "--wait-for-interfaces" >/dev/null \
  || fail "the image's fabric has no --wait-for-interfaces"

step "the example lab's files are current"
cp -r "$root/scripts/examples" "$work/examples"
rm -rf "$work/examples/ai-fabric"
configs "$work/examples" ai-fabric.clab.yml ai-fabric || fail "fabric testbed configs in the image"
diff -r "$work/examples/ai-fabric" "$root/scripts/examples/ai-fabric" \
  || fail "scripts/examples/ai-fabric/ is stale: fabric testbed configs scripts/examples/ai-fabric.clab.yml --out scripts/examples/ai-fabric"

# $1: prefix, $2 $3: nodes; $4 RoCEv2 messages from $2 to $3's address $5; checks the receiver's
# JSON report. The sender starts once the receiver says it listens (on stdout, before the JSON).
n_roce=0
roce() {
  n_roce=$((n_roce + 1))
  local rx="$1-$3" tx="$1-$2" out="$work/recv$n_roce.out" err="$work/recv$n_roce.err"
  docker exec "$rx" fabric traffic recv --interface eth1 --seconds 30 --idle 2 --json >"$out" 2>"$err" &
  local rpid=$! ready=0
  for _ in $(seq 1 100); do
    grep "listening" "$out" >/dev/null 2>&1 && { ready=1; break; }
    kill -0 "$rpid" 2>/dev/null || break
    sleep 0.1
  done
  [ "$ready" = 1 ] || { cat "$out" "$err" >&2; fail "the receiver on $3 is not listening"; }
  docker exec "$tx" fabric traffic send --interface eth1 --to "$5" --messages "$4" --message 4096 --mtu 4096 >"$work/send.out" 2>&1 \
    || { cat "$work/send.out" >&2; fail "fabric traffic send $2 -> $3"; }
  wait "$rpid" || { cat "$err" >&2; fail "fabric traffic recv on $3"; }
  "$py" - "$out" "$4" "$2 -> $3" <<'PY' || fail "RoCEv2 $2 -> $3"
import json, sys
r = json.loads(open(sys.argv[1]).read().strip().splitlines()[-1])
want = int(sys.argv[2])
print(f"RoCEv2 {sys.argv[3]}: {r['messagesDelivered']} of {want} messages, {r['packets']} packets, lost {r['lost']}, "
      f"ICRC failures {r['icrcFailures']}, p99 {r['latencyMicroseconds']['p99']} us")
ok = r["messagesDelivered"] == want and r["lost"] == 0 and r["icrcFailures"] == 0 and r["packets"] >= want
sys.exit(0 if ok else 1)
PY
}

# Waits until both switches of lab $1 ($2...) forward, and checks they waited for their interfaces.
switches_up() {
  local p=$1; shift
  for s in "$@"; do
    for _ in $(seq 1 100); do docker logs "$p-$s" 2>&1 | grep "forwarding on" >/dev/null && break; sleep 0.1; done
    docker logs "$p-$s" >"$work/$s.log" 2>&1 || true
    grep "forwarding on" "$work/$s.log" >/dev/null || { cat "$work/$s.log" >&2; fail "switch $s is not forwarding"; }
    grep "swiftfabric-node: switch '$s' with /etc/swiftfabric/$s.yaml" "$work/$s.log" >/dev/null || fail "switch $s did not start with its configuration"
    grep "waiting up to" "$work/$s.log" >/dev/null || fail "switch $s did not wait for its interfaces"
    grep "present and up after" "$work/$s.log" >/dev/null || fail "switch $s: no 'present and up' line"
  done
}

step "two switches, two hosts, deployed as containerlab does"
p="sfct$$a"; labs+=("$p")
mkdir -p "$work/two"
cp "$root/Tests/container/two-switches.clab.yml" "$work/two/"
configs "$work/two" two-switches.clab.yml configs || fail "fabric testbed configs two-switches.clab.yml"
clab deploy "$work/two/two-switches.clab.yml" --prefix "$p" >/dev/null || fail "deploy two-switches"
switches_up "$p" sw1 sw2
docker exec "$p-h1" ping -c 3 -W 2 10.2.1.1 >"$work/ping" 2>&1 || { cat "$work/ping" >&2; fail "ping h1 -> h2"; }
docker exec "$p-h1" ping -c 3 -W 2 -s 8972 -M do 10.2.1.1 >"$work/ping" 2>&1 || { cat "$work/ping" >&2; fail "8972-byte DF ping h1 -> h2"; }
echo "ping h1 -> h2 through sw1 and sw2: ok (also 8972 bytes, DF)"
roce "$p" h1 h2 2000 10.2.1.1
docker exec "$p-sw1" fabric stats --switch sw1 >"$work/stats" || fail "fabric stats in sw1"
grep -E "eth1|eth2" "$work/stats" >/dev/null || fail "fabric stats shows no ports"

step "the example lab (scripts/examples/ai-fabric.clab.yml)"
q="sfct$$b"; labs+=("$q")
clab deploy "$root/scripts/examples/ai-fabric.clab.yml" --prefix "$q" >/dev/null || fail "deploy ai-fabric"
switches_up "$q" spine1 spine2 leaf1 leaf2
declare -A addr=([h1]=10.1.1.1 [h2]=10.1.2.1 [h3]=10.2.1.1 [h4]=10.2.2.1)
for a in h1 h2 h3 h4; do for b in h1 h2 h3 h4; do
  [ "$a" = "$b" ] && continue
  docker exec "$q-$a" ping -c 2 -W 2 "${addr[$b]}" >"$work/ping" 2>&1 || { cat "$work/ping" >&2; fail "ai-fabric: ping $a -> $b"; }
done; done
echo "ai-fabric: every host pings every other (12 pairs)"
roce "$q" h1 h4 2000 10.2.2.1
clab destroy --prefix "$q"

step "a switch whose interfaces never come"
set +e
docker run --name "sfct$$-wait" --network none --cap-add NET_ADMIN -e CLAB_INTFS=2 -e SWIFTFABRIC_WAIT_TIMEOUT=1 \
  swiftfabric:latest >"$work/wait.log" 2>&1
rc=$?
set -e
[ "$rc" -eq 2 ] || { cat "$work/wait.log" >&2; fail "exit $rc, not 2"; }
grep "eth1,eth2 not present" "$work/wait.log" >/dev/null || { cat "$work/wait.log" >&2; fail "the error does not name eth1,eth2"; }
echo "no interfaces: $(grep 'not present' "$work/wait.log" | sed 's/^.*fabric switch: //')"

step "a node whose configuration is not among the lab's"
set +e
docker run --rm --network none --hostname sw9 -v "$work/two/configs:/etc/swiftfabric:ro" swiftfabric:latest >"$work/noconf.log" 2>&1
rc=$?
set -e
[ "$rc" -eq 2 ] || { cat "$work/noconf.log" >&2; fail "exit $rc, not 2"; }
grep "no /etc/swiftfabric/sw9.yaml for node 'sw9' (there: sw1.yaml sw2.yaml )" "$work/noconf.log" >/dev/null \
  || { cat "$work/noconf.log" >&2; fail "the error does not name the missing file and those there"; }
echo "no configuration: $(cat "$work/noconf.log")"
echo "container check: OK"
