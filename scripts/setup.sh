#!/usr/bin/env bash
# Idempotent setup for a fresh Debian 12 machine: packages, bpffs, BPF objects.
# Both README commands (scripts/demo.sh, scripts/test.sh) run this first.
#   scripts/setup.sh [--image]
# --image: also what scripts/build-image.sh and the container test need (docker.io, debootstrap),
# and a docker daemon: started (dockerd in the background, its log in
# /var/log/swiftfabric-dockerd.log) when none answers.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
image=0
for a in "$@"; do
  case "$a" in
    --image) image=1 ;;
    *) echo "setup: unknown argument '$a' (--image)" >&2; exit 2 ;;
  esac
done

# Python: Debian's own packages for the modules the tests and scripts import (scapy: the
# independent RoCEv2 implementation the packet tests check our frames against; jsonschema:
# `fabric stats --json` against scripts/stats.schema.json; prometheus_client: its parser checks
# /metrics). Debian's python3 is EXTERNALLY-MANAGED (PEP 668): no pip into it.
pkgs=(libxdp-dev libbpf-dev libelf-dev zlib1g-dev pkg-config clang llvm iproute2 iputils-ping iperf3 ethtool tshark librsvg2-bin
      python3 python3-venv python3-scapy python3-jsonschema python3-prometheus-client python3-yaml)
# (docker.io only where no docker engine is installed: Docker's own docker-ce packages conflict with it.)
if [ "$image" = 1 ]; then
  pkgs+=(debootstrap)
  command -v dockerd >/dev/null || command -v podman >/dev/null || pkgs+=(docker.io)
fi
modules=(scapy jsonschema prometheus_client)
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep 'install ok installed' >/dev/null || missing+=("$p")
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

# The Python the tests and scripts run: Debian's, through a venv beside the checkout,
# .build-venv/ (git-ignored like .build-bpf/), made with Debian's site packages visible.
# test.sh puts its bin/ first on PATH, so `python3` there is Debian's whatever else
# is on the PATH (a pyenv, say). pip runs only for what Debian's packages lack (a module, or
# a feature of one: below), and only into the venv (whose own site-packages come before
# Debian's): nothing system-wide.
venv="$root/.build-venv"
[ -x "$venv/bin/python3" ] || /usr/bin/python3 -m venv --without-pip --system-site-packages "$venv"
lacking=()
for m in "${modules[@]}"; do
  "$venv/bin/python3" -c "import $m" 2>/dev/null || lacking+=("$m")
done
# Debian 12's scapy (2.5.0) computes no ICRC for RoCEv2 over IPv6 (it writes zeros; upstream
# added it in 2.6), which the packet and fast-path tests check our IPv6 frames against.
if [[ " ${lacking[*]} " != *" scapy "* ]] && ! "$venv/bin/python3" -c '
import logging; logging.getLogger("scapy").setLevel(logging.ERROR)
from scapy.layers.l2 import Ether; from scapy.layers.inet import UDP; from scapy.layers.inet6 import IPv6
from scapy.contrib.roce import BTH
assert bytes(Ether() / IPv6() / UDP(dport=4791) / BTH())[-4:] != bytes(4)' 2>/dev/null; then
  lacking+=("scapy>=2.6")
fi
if [ ${#lacking[@]} -gt 0 ]; then
  echo "setup: Debian's python3 lacks ${lacking[*]}: pip install into $venv"
  "$venv/bin/python3" -m pip --version >/dev/null 2>&1 || "$venv/bin/python3" -m ensurepip --default-pip >/dev/null
  "$venv/bin/python3" -m pip install --quiet "${lacking[@]}"
fi

# bpffs: libxdp pins its dispatcher there when it can. SwiftFabric works without it (the
# dispatcher fails on this kernel anyway and libxdp falls back to a single program), but
# mount it where we may so libxdp's own messages stay quiet.
if [ "$(id -u)" -eq 0 ] && ! mountpoint -q /sys/fs/bpf 2>/dev/null; then
  mount -t bpf bpf /sys/fs/bpf 2>/dev/null || echo "setup: could not mount bpffs (continuing without it)"
fi

"$root/scripts/build-bpf.sh"

# A docker daemon for the image (--image): the machine's service where there is one (systemd),
# else dockerd started here, left running like a service for later builds.
if [ "$image" = 1 ] && command -v dockerd >/dev/null && ! docker info >/dev/null 2>&1; then
  [ "$(id -u)" -eq 0 ] || { echo "setup: no docker daemon answers; run as root to start one" >&2; exit 1; }
  if [ -d /run/systemd/system ]; then
    systemctl start docker
  else
    echo "setup: starting dockerd (log: /var/log/swiftfabric-dockerd.log)"
    setsid dockerd >/var/log/swiftfabric-dockerd.log 2>&1 </dev/null &
  fi
  for _ in $(seq 1 120); do docker info >/dev/null 2>&1 && break; sleep 0.5; done
  docker info >/dev/null 2>&1 || { tail -20 /var/log/swiftfabric-dockerd.log >&2 || true; echo "setup: the docker daemon did not start" >&2; exit 1; }
fi
