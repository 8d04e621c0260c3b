#!/usr/bin/env bash
# Install SwiftFabric under PREFIX (default /usr/local): the release build of `fabric`, the XDP
# objects it loads, and shell completions.
#
#   PREFIX/bin/fabric
#   PREFIX/lib/swiftfabric/bpf/*.o                        (found by fabric relative to its bin/)
#   PREFIX/share/bash-completion/completions/fabric
#   PREFIX/share/zsh/site-functions/_fabric
#   PREFIX/share/fish/vendor_completions.d/fabric.fish
#
# Builds first (a no-op when .build/release and .build-bpf are current); the build needs what
# scripts/setup.sh installs. The binary links the Swift runtime of the toolchain that built it
# (it runs where that toolchain is installed) and libxdp/libbpf from the system.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
prefix=${1:-/usr/local}
case "$prefix" in /*) ;; *) prefix="$(pwd)/$prefix" ;; esac
cd "$root"

scripts/build-bpf.sh
swift build -c release --product fabric
bin=$(swift build -c release --show-bin-path)/fabric

install -d "$prefix/bin" "$prefix/lib/swiftfabric/bpf" "$prefix/share/bash-completion/completions" \
  "$prefix/share/zsh/site-functions" "$prefix/share/fish/vendor_completions.d"
install -m 0755 "$bin" "$prefix/bin/fabric"
install -m 0644 .build-bpf/*.o "$prefix/lib/swiftfabric/bpf/"
"$prefix/bin/fabric" --generate-completion-script bash > "$prefix/share/bash-completion/completions/fabric"
"$prefix/bin/fabric" --generate-completion-script zsh > "$prefix/share/zsh/site-functions/_fabric"
"$prefix/bin/fabric" --generate-completion-script fish > "$prefix/share/fish/vendor_completions.d/fabric.fish"
echo "install: $prefix/bin/fabric, its XDP objects in $prefix/lib/swiftfabric/bpf/, completions for bash, zsh and fish"
