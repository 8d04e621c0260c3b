#!/usr/bin/env python3
"""Deploys a containerlab file the way containerlab does it for `linux` nodes, without
containerlab (its binary is not packaged by Debian): for the container tests of the SwiftFabric
image. What it copies from containerlab (srl-labs/containerlab v0.79, nodes/linux/linux.go,
links/link_veth.go, core/config.go):

- one container per node, started first, hostname = the node's name, with CLAB_INTFS (the
  number of the node's links) and CLAB_LABEL_<KEY> for each label (CLAB_LABEL_CLAB_NODE_NAME
  among them), the node's env, binds (relative to the file's directory), cmd; settings taken
  node > group > kind > defaults;
- then each link: a veth pair made in this namespace under temporary names, TX checksum offload
  off, each end moved into its container's namespace (by the container's PID), renamed to the
  endpoint's interface, given the link's MTU (containerlab's default: 9500) and set up;
- then each node's `exec` commands inside it.

Unlike containerlab it gives a node no management network (eth0): --network none. Containers
get the capabilities the switch needs (NET_ADMIN, NET_RAW, SYS_ADMIN, IPC_LOCK) instead of
--privileged, which fails where the machine's own bounding set lacks a capability (this one
lacks CAP_SYS_RESOURCE). Every container is labelled swiftfabric.clab-test=PREFIX; `destroy`
removes them by that label (their interfaces go with their namespaces).

    clab_deploy.py deploy FILE --prefix P      prints {"node": "container name", ...} as JSON
    clab_deploy.py destroy --prefix P
"""
import argparse, json, os, re, shlex, signal, subprocess, sys
import yaml

CAPS = ["NET_ADMIN", "NET_RAW", "SYS_ADMIN", "IPC_LOCK"]
DEFAULT_MTU = 9500


def run(args, check=True):
    r = subprocess.run(args, capture_output=True, text=True)
    if check and r.returncode != 0:
        raise SystemExit(f"clab_deploy: {' '.join(args)}: exit {r.returncode}: {r.stderr.strip()}")
    return r.stdout


def setting(topo, node, key):
    """node > group > kind > defaults, as containerlab merges a node's settings."""
    n = topo["nodes"][node] or {}
    levels = [n, (topo.get("groups") or {}).get(n.get("group"), {}) or {}]
    kind = n.get("kind") or levels[1].get("kind") or (topo.get("defaults") or {}).get("kind")
    levels += [(topo.get("kinds") or {}).get(kind, {}) or {}, topo.get("defaults") or {}]
    if key in ("env", "labels"):
        merged = {}
        for level in reversed(levels):
            merged.update(level.get(key) or {})
        return merged
    for level in levels:
        if level.get(key) is not None:
            return level[key]
    return None


def env_key(label):
    """containerlab's utils.ToEnvKey: [-+./] become '_', anything else not [A-Za-z0-9_] goes."""
    return re.sub(r"[^A-Za-z0-9_]+", "", re.sub(r"[-+./]", "_", label)).upper()


def deploy(path, prefix):
    lab = yaml.safe_load(open(path))
    topo = lab["topology"]
    base = os.path.dirname(os.path.abspath(path))
    links = []
    for l in topo.get("links") or []:
        a, b = l["endpoints"]
        links.append((a.split(":", 1), b.split(":", 1), l.get("mtu", DEFAULT_MTU)))
    names = {}
    for node in topo["nodes"]:
        name = f"{prefix}-{node}"
        names[node] = name
        labels = setting(topo, node, "labels")
        labels.update({"containerlab": lab["name"], "clab-node-name": node, "clab-node-kind": setting(topo, node, "kind") or ""})
        args = ["docker", "run", "-d", "--name", name, "--hostname", node, "--network", "none",
                "--security-opt", "seccomp=unconfined", "--label", f"swiftfabric.clab-test={prefix}"]
        args += [a for c in CAPS for a in ("--cap-add", c)]
        intfs = sum(1 for (x, y, _) in links for e in (x, y) if e[0] == node)
        env = {"CLAB_INTFS": str(intfs)}
        env.update({f"CLAB_LABEL_{env_key(k)}": str(v) for k, v in labels.items()})
        env.update({k: str(v) for k, v in setting(topo, node, "env").items()})
        for k, v in env.items():
            args += ["-e", f"{k}={v}"]
        for bind in setting(topo, node, "binds") or []:
            src, rest = bind.split(":", 1)
            args += ["-v", f"{os.path.join(base, src)}:{rest}"]
        args.append(setting(topo, node, "image"))
        cmd = setting(topo, node, "cmd")
        if cmd:
            args += shlex.split(cmd)
        run(args)
    pid = {}
    for n, c in names.items():
        state = run(["docker", "inspect", "-f", "{{.State.Running}} {{.State.Pid}}", c]).split()
        if state[0] != "true" or state[1] == "0":
            logs = subprocess.run(["docker", "logs", c], capture_output=True, text=True)
            logs = logs.stdout + logs.stderr
            raise SystemExit(f"clab_deploy: node {n} ({c}) is not running; its output:\n{logs.strip()}")
        pid[n] = state[1]
    for i, (a, b, mtu) in enumerate(links):
        # Temporary names in this namespace, unique to this process and link (<= 15 characters).
        tmp = [f"sf{os.getpid():x}l{i}{side}" for side in "ab"]
        assert all(len(t) <= 15 for t in tmp), tmp
        run(["ip", "link", "add", tmp[0], "mtu", str(mtu), "type", "veth", "peer", "name", tmp[1], "mtu", str(mtu)])
        try:
            for t, (node, ifname) in zip(tmp, (a, b)):
                run(["ethtool", "-K", t, "tx", "off"])
                run(["ip", "link", "set", t, "netns", pid[node]])
                inside = ["nsenter", "-t", pid[node], "-n", "ip", "link", "set"]
                run(inside + [t, "name", ifname])
                run(inside + [ifname, "mtu", str(mtu), "up"])
        except BaseException:
            # An end still here (not yet moved) takes its peer with it.
            run(["ip", "link", "del", tmp[0]], check=False)
            run(["ip", "link", "del", tmp[1]], check=False)
            raise
    for node, c in names.items():
        for e in setting(topo, node, "exec") or []:
            run(["docker", "exec", c] + shlex.split(e))
    print(json.dumps(names))


def destroy(prefix):
    ids = run(["docker", "ps", "-aq", "--filter", f"label=swiftfabric.clab-test={prefix}"], check=False).split()
    if ids:
        run(["docker", "rm", "-f"] + ids, check=False)


if __name__ == "__main__":
    p = argparse.ArgumentParser()
    p.add_argument("action", choices=["deploy", "destroy"])
    p.add_argument("file", nargs="?")
    p.add_argument("--prefix", required=True)
    o = p.parse_args()
    # A SIGTERM becomes an exception, so a deploy cut short is destroyed too.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    if o.action == "deploy":
        try:
            deploy(o.file, o.prefix)
        except BaseException:
            try:
                destroy(o.prefix)
            except BaseException as e:
                print(f"clab_deploy: destroy after a failed deploy: {e}", file=sys.stderr)
            raise
    else:
        destroy(o.prefix)
