#!/usr/bin/env bash
# scripts/install.sh into a temporary PREFIX, then the installed fabric, run from / (no checkout
# above it or its working directory): its help, its completions, and (as root) a switch on a
# veth pair in a namespace of its own, which loads the XDP object from PREFIX/lib/swiftfabric/bpf/;
# with that object moved away, the same switch must fail naming that path. Run by scripts/test.sh
# after the release build (so the install's build is a no-op). Prints "install check: OK".
set -euo pipefail
# (No `cmd | grep -q` under pipefail: grep -q exits at the first match and the writer dies of SIGPIPE.)
root=$(cd "$(dirname "$0")/../.." && pwd)
prefix=$(mktemp -d /tmp/swiftfabric-install.XXXXXX)
ns="sfinst$$"
log="$prefix/switch.log"
pid=
cleanup() {
  if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then kill -TERM "$pid"; wait "$pid" 2>/dev/null || true; fi
  ip netns del "$ns" 2>/dev/null || true
  rm -rf "$prefix"
}
trap cleanup EXIT
fail() { echo "install check: FAIL: $*" >&2; [ -f "$log" ] && sed 's/^/  switch: /' "$log" >&2; exit 1; }

"$root/scripts/install.sh" "$prefix" >/dev/null
unset FABRIC_BPF_DIR
cd /
fabric="$prefix/bin/fabric"
[ -x "$fabric" ] || fail "no $fabric"
for o in fabric_xsk.o roce_rx.o; do [ -f "$prefix/lib/swiftfabric/bpf/$o" ] || fail "no $o under $prefix/lib/swiftfabric/bpf"; done
"$fabric" switch --help | grep -- "--bpf-object" >/dev/null || fail "fabric switch --help"
grep -q "_fabric" "$prefix/share/bash-completion/completions/fabric" || fail "bash completion"
grep -q "#compdef fabric" "$prefix/share/zsh/site-functions/_fabric" || fail "zsh completion"
grep -q "complete -c 'fabric'" "$prefix/share/fish/vendor_completions.d/fabric.fish" || fail "fish completion"
bash -c "source '$prefix/share/bash-completion/completions/fabric'" || fail "the bash completion does not load"

if [ "$(id -u)" -ne 0 ]; then
  echo "install check: OK (files and help; SKIP the switch run: needs root)"
  exit 0
fi
ip netns add "$ns"
ip -n "$ns" link add ia type veth peer name ib
ip -n "$ns" link set ia up
ip -n "$ns" link set ib up
"$fabric" switch --netns "$ns" --ports ia,ib --backend afxdp --no-control >"$log" 2>&1 &
pid=$!
for _ in $(seq 1 100); do
  grep -q "forwarding on" "$log" && break
  kill -0 "$pid" 2>/dev/null || fail "the installed switch exited before forwarding"
  sleep 0.1
done
grep -q "forwarding on" "$log" || fail "the installed switch did not start within 10 s"
# Its log lines carry an ISO-8601 UTC time and a level (swift-log, FabricLogHandler).
grep -qE '^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{6}Z info fabric switch: bridge forwarding on 2 ports' "$log" \
  || fail "no timestamped 'forwarding on' line"
grep "forwarding on" "$log" | grep "af_packet" >/dev/null && fail "fell back to AF_PACKET"
kill -TERM "$pid"
wait "$pid" || fail "the installed switch did not stop cleanly"
pid=
# Without the installed object the same run fails, naming where it looked.
mv "$prefix/lib/swiftfabric/bpf/fabric_xsk.o" "$prefix/fabric_xsk.o.away"
if "$fabric" switch --netns "$ns" --ports ia,ib --backend afxdp --no-control >"$log" 2>&1; then fail "a switch started without its XDP object"; fi
grep -q "$prefix/lib/swiftfabric/bpf/fabric_xsk.o" "$log" || fail "the error does not name $prefix/lib/swiftfabric/bpf/fabric_xsk.o"
echo "install check: OK ($prefix/bin/fabric loaded $prefix/lib/swiftfabric/bpf/fabric_xsk.o)"
