#!/usr/bin/env bash
# Builds the SwiftFabric container image, swiftfabric:VERSION (git describe --tags --always) and
# swiftfabric:latest, from Debian packages only: no image registry is asked for anything.
#
#   1. The base image swiftfabric-base:bookworm (kept between runs; --rebuild-base makes it again):
#      `debootstrap --variant=minbase bookworm` plus what fabric needs at run time (libxdp1,
#      libbpf1, libstdc++6) and what a lab node needs (iproute2, ethtool, iputils-ping), packed
#      with `tar` and loaded with `docker import`.
#   2. fabric, release, with the Swift standard library and Foundation linked in statically
#      (--static-swift-stdlib, in .build-static/): the image has no Swift runtime.
#   3. `docker build` on that base: /usr/local/bin/fabric, its XDP objects in
#      /usr/local/lib/swiftfabric/bpf/ (where an installed fabric looks), and the entrypoint
#      scripts/image/swiftfabric-node (a switch that waits for its interfaces, or `host`, or
#      any command: `docker run --rm --network none swiftfabric:latest fabric --help`).
#
# Usage: scripts/build-image.sh [--runtime docker|podman] [--rebuild-base] [--mirror URL]
# Needs root (debootstrap), debootstrap, and docker (Debian's docker.io with its daemon running)
# or podman; scripts/setup.sh --image installs them.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
runtime= rebuild_base=0 mirror=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
while [ $# -gt 0 ]; do
  case "$1" in
    --runtime) runtime=${2:?--runtime docker|podman}; shift 2 ;;
    --rebuild-base) rebuild_base=1; shift ;;
    --mirror) mirror=${2:?--mirror URL}; shift 2 ;;
    -h|--help) sed -n '2,18p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "build-image: unknown argument '$1' (--runtime docker|podman, --rebuild-base, --mirror URL)" >&2; exit 2 ;;
  esac
done
if [ -z "$runtime" ]; then
  if command -v docker >/dev/null && docker info >/dev/null 2>&1; then runtime=docker
  elif command -v podman >/dev/null; then runtime=podman
  else echo "build-image: neither a docker daemon that answers (docker info) nor podman; scripts/setup.sh --image installs docker.io and starts its daemon" >&2; exit 2
  fi
fi
case "$runtime" in docker|podman) ;; *) echo "build-image: --runtime must be docker or podman" >&2; exit 2 ;; esac
command -v "$runtime" >/dev/null || { echo "build-image: no $runtime" >&2; exit 2; }

base=swiftfabric-base:bookworm
version=$(git describe --tags --always 2>/dev/null || echo dev)
work=$(mktemp -d /tmp/swiftfabric-image.XXXXXX)
trap 'rm -rf "$work"' EXIT

if [ "$rebuild_base" = 1 ] || ! "$runtime" image inspect "$base" >/dev/null 2>&1; then
  command -v debootstrap >/dev/null || { echo "build-image: no debootstrap (apt-get install debootstrap)" >&2; exit 2; }
  [ "$(id -u)" -eq 0 ] || { echo "build-image: debootstrap needs root" >&2; exit 2; }
  echo "build-image: base image $base: debootstrap --variant=minbase bookworm from $mirror"
  debootstrap --variant=minbase --include=iproute2,ethtool,iputils-ping,libxdp1,libbpf1,libstdc++6 \
    bookworm "$work/rootfs" "$mirror" >"$work/debootstrap.log" 2>&1 \
    || { tail -20 "$work/debootstrap.log" >&2; echo "build-image: debootstrap failed (log above)" >&2; exit 1; }
  # What a container does not need: package caches and lists, documentation.
  rm -rf "$work/rootfs"/var/cache/apt/archives/*.deb "$work/rootfs"/var/lib/apt/lists/* \
         "$work/rootfs"/usr/share/doc/* "$work/rootfs"/usr/share/man/* "$work/rootfs"/usr/share/locale/*
  tar -C "$work/rootfs" -c . | "$runtime" import - "$base" >/dev/null
  rm -rf "$work/rootfs"
fi

echo "build-image: fabric (release, static Swift standard library) and the XDP objects"
scripts/build-bpf.sh >/dev/null
swift build -c release --product fabric --static-swift-stdlib --scratch-path .build-static >"$work/swift.log" 2>&1 \
  || { grep -E "error:" "$work/swift.log" | head -40 >&2; echo "build-image: swift build failed (fabric, --static-swift-stdlib)" >&2; exit 1; }
bin=$(swift build -c release --static-swift-stdlib --scratch-path .build-static --show-bin-path)/fabric
[ -x "$bin" ] || { echo "build-image: the build left no $bin" >&2; exit 1; }
if ldd "$bin" | grep "libswiftCore" >/dev/null; then echo "build-image: $bin links the Swift runtime dynamically" >&2; exit 1; fi

ctx="$work/context"
mkdir -p "$ctx/bpf"
install -m 0755 "$bin" "$ctx/fabric"
install -m 0644 .build-bpf/*.o "$ctx/bpf/"
install -m 0755 scripts/image/swiftfabric-node "$ctx/swiftfabric-node"
cat > "$ctx/Dockerfile" <<DOCKERFILE
FROM $base
COPY fabric swiftfabric-node /usr/local/bin/
COPY bpf/ /usr/local/lib/swiftfabric/bpf/
LABEL org.opencontainers.image.title="SwiftFabric" org.opencontainers.image.version="$version" \\
      org.opencontainers.image.description="A RoCEv2-aware software switch on AF_XDP (fabric switch)"
ENTRYPOINT ["/usr/local/bin/swiftfabric-node"]
DOCKERFILE
"$runtime" build -q -t "swiftfabric:$version" -t swiftfabric:latest "$ctx" >/dev/null 2>"$work/build.log" \
  || { cat "$work/build.log" >&2; echo "build-image: $runtime build failed" >&2; exit 1; }
size=$("$runtime" image inspect -f '{{.Size}}' swiftfabric:latest)
echo "build-image: swiftfabric:$version and swiftfabric:latest ($((size / 1048576)) MB, $runtime); try: $runtime run --rm --network none swiftfabric:latest fabric --help"
