#!/usr/bin/env bash
# Compile the XDP programs in bpf/ into .build-bpf/ (never committed).
# Uses Debian's clang (-target bpf); the objects carry BTF (-g) so libxdp can read them.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
out="$root/.build-bpf"
mkdir -p "$out"
CLANG=${CLANG:-}
if [ -z "$CLANG" ]; then
  for c in /usr/bin/clang /usr/bin/clang-14 clang; do
    if command -v "$c" >/dev/null 2>&1; then CLANG=$c; break; fi
  done
fi
[ -n "$CLANG" ] || { echo "build-bpf: no clang found (run scripts/setup.sh)" >&2; exit 1; }
arch_inc="/usr/include/$(uname -m)-linux-gnu"
for src in "$root"/bpf/*.bpf.c; do
  name=$(basename "$src" .bpf.c)
  obj="$out/$name.o"
  newer_header=$( { find "$root/bpf" -name "*.h" -newer "$obj" 2>/dev/null || true; } | head -1)
  if [ ! -f "$obj" ] || [ "$src" -nt "$obj" ] || [ -n "$newer_header" ]; then
    "$CLANG" -O2 -g -Wall -Werror -target bpf -I"$arch_inc" -c "$src" -o "$obj.tmp"
    mv "$obj.tmp" "$obj"
    echo "build-bpf: $obj"
  fi
done
