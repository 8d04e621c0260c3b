#!/usr/bin/env bash
# Idempotent setup for a fresh Debian 12 machine: packages, bpffs, BPF objects.
# Both README commands (scripts/demo.sh, scripts/test.sh) run this first.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)

pkgs=(libxdp-dev libbpf-dev libelf-dev zlib1g-dev pkg-config clang llvm iproute2 iputils-ping iperf3 ethtool tshark librsvg2-bin)
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" -ne 0 ]; then
    echo "setup: missing packages ${missing[*]}; run as root to install them" >&2
    exit 1
  fi
  echo "setup: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# jsonschema: the tests validate `fabric stats --json` against scripts/stats.schema.json with it.
if ! python3 -c 'import jsonschema' 2>/dev/null; then
  echo "setup: installing jsonschema (pip)"
  python3 -m pip install --quiet --root-user-action=ignore jsonschema 2>/dev/null || python3 -m pip install --quiet jsonschema
fi

# prometheus_client: its parser checks the switch's /metrics (the text exposition format).
if ! python3 -c 'import prometheus_client' 2>/dev/null; then
  echo "setup: installing prometheus_client (pip)"
  python3 -m pip install --quiet --root-user-action=ignore prometheus_client 2>/dev/null || python3 -m pip install --quiet prometheus_client
fi

# scapy: the independent RoCEv2 implementation the packet tests check our frames against.
if ! python3 -c 'import scapy' 2>/dev/null; then
  echo "setup: installing scapy (pip)"
  python3 -m pip install --quiet --root-user-action=ignore scapy 2>/dev/null || python3 -m pip install --quiet scapy
fi

# bpffs: libxdp pins its dispatcher there when it can. SwiftFabric works without it (the
# dispatcher fails on this kernel anyway and libxdp falls back to a single program), but
# mount it where we may so libxdp's own messages stay quiet.
if [ "$(id -u)" -eq 0 ] && ! mountpoint -q /sys/fs/bpf 2>/dev/null; then
  mount -t bpf bpf /sys/fs/bpf 2>/dev/null || echo "setup: could not mount bpffs (continuing without it)"
fi

"$root/scripts/build-bpf.sh"
