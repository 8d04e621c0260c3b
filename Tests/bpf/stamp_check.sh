#!/usr/bin/env bash
# FP_STAMP through a real copy-mode AF_XDP socket (stamp_check.c): builds the checker, makes a
# namespace with one veth pair, runs it there, removes everything (also on failure). Root.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
[ "$(id -u)" = 0 ] || { echo "SKIP: needs root"; exit 0; }
obj="$root/.build-bpf/fabric_xsk.o"
[ -f "$obj" ] || { echo "$obj missing: run scripts/build-bpf.sh" >&2; exit 1; }
ns="fpst$$"
tmp=$(mktemp -d)
trap 'ip netns del "$ns" 2>/dev/null || true; rm -rf "$tmp"' EXIT
cc -O2 -Wall -o "$tmp/stamp_check" "$here/stamp_check.c" -lxdp -lbpf
ip netns add "$ns"
ip netns exec "$ns" sysctl -qw net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1
ip -n "$ns" link add fpa type veth peer name fpb
ip -n "$ns" link set fpa up
ip -n "$ns" link set fpb up
ip netns exec "$ns" "$tmp/stamp_check" "$obj" fpa fpb
