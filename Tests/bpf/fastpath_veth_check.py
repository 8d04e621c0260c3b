#!/usr/bin/env python3
"""The fast path on real veths, without the switch: fabric_xsk attached (native XDP) to the two
switch-side ends of h1 <-> switch <-> h2, its maps filled for a router (h1 10.77.1.1/24 and
h2 10.77.2.1/24 behind ports 0 and 1, the hosts' MACs as static neighbours, the switch's MACs
as the hosts' static ARP entries), and no AF_XDP socket at all: whatever XDP does not forward is
passed to the switch namespace's kernel, which has no addresses and drops it. So a ping and a
UDP exchange between the hosts can only work through XDP's own forwarding (DEVMAP redirect),
and fp_port_stats must count every frame.

    scripts/build-bpf.sh && sudo python3 Tests/bpf/fastpath_veth_check.py

Namespaces and veths carry a per-run prefix and are removed at the end, also on failure."""
import os
import struct
import subprocess
import sys
import time
import ctypes

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import libbpf  # noqa: E402
from fastpath_test import OBJECT, ROOT, FP_ON, FP_ROUTER, FP_PORT_FASTPATH, FP_PORT_LINK_UP, FP_PORT_IN_SERVICE, \
    FP_HOP_CONNECTED, mac_bytes, PUNTS  # noqa: E402

PASS_OBJECT = os.path.join(ROOT, ".build-bpf", "xdp_pass.o")
XDP_FLAGS_DRV_MODE = 1 << 2
libbpf._lib.bpf_xdp_attach.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_uint32, ctypes.c_void_p]
libbpf._lib.bpf_xdp_detach.argtypes = [ctypes.c_int, ctypes.c_uint32, ctypes.c_void_p]

tag = os.environ.get("FP_VETH_TAG") or f"fp{os.getpid() % 100000:05d}"
SW, H1, H2 = f"{tag}sw", f"{tag}h1", f"{tag}h2"
SWMAC = ["02:5f:00:00:01:fe", "02:5f:00:00:02:fe"]
HOSTMAC = ["02:5f:00:00:00:01", "02:5f:00:00:00:22"]


def sh(*args, check=True):
    r = subprocess.run(list(args), capture_output=True, text=True)
    if check and r.returncode != 0:
        raise RuntimeError(f"{' '.join(args)}: {r.stderr.strip()}")
    return r.stdout


def setup():
    for ns in (SW, H1, H2):
        sh("ip", "netns", "add", ns)
    for i, h in enumerate((H1, H2)):
        sw_end, host_end = f"{tag}s{i}", f"{tag}h{i}"
        sh("ip", "link", "add", sw_end, "netns", SW, "type", "veth", "peer", "name", host_end, "netns", h)
        sh("ip", "-n", SW, "link", "set", sw_end, "address", SWMAC[i], "up")
        sh("ip", "-n", h, "link", "set", host_end, "address", HOSTMAC[i], "up")
        sh("ip", "-n", h, "addr", "add", f"10.77.{i + 1}.1/24", "dev", host_end)
        sh("ip", "-n", h, "route", "add", "default", "via", f"10.77.{i + 1}.254")
        sh("ip", "-n", h, "neigh", "add", f"10.77.{i + 1}.254", "lladdr", SWMAC[i], "dev", host_end, "nud", "permanent")
        # As the test bed does: a veth otherwise sends UDP/TCP with the checksum left to an
        # offload that an XDP redirect never performs (the receiver drops them; ICMP passes).
        sh("ip", "netns", "exec", h, "ethtool", "-K", host_end, "tx", "off")
        # The host end receives what XDP redirects into its peer only with an XDP program.
        sh("ip", "-n", h, "link", "set", "dev", host_end, "xdpdrv", "obj", PASS_OBJECT, "sec", "xdp")
    sh("ip", "netns", "exec", SW, "sysctl", "-qw", "net.ipv4.ip_forward=0")


def cleanup():
    for ns in (SW, H1, H2):
        sh("ip", "netns", "del", ns, check=False)


def in_switch_namespace():
    """Runs inside `ip netns exec SW`: attach, fill, then drive traffic from the hosts."""
    obj = libbpf.BPFObject(OBJECT)
    prog = obj.prog_fd("fabric_xsk")
    second = libbpf.BPFObject(OBJECT, reuse={n: obj.map_fd(n) for n in [
        "fp_config", "fp_ports", "fp_tx_ports", "fp_macs", "fp_fib4", "fp_fib6", "fp_targets", "fp_hops",
        "fp_neigh4", "fp_neigh6", "fp_port_stats"]})
    instances = [obj, second]
    fd = {n: obj.map_fd(n) for n in ["fp_config", "fp_ports", "fp_tx_ports", "fp_fib4", "fp_targets", "fp_hops", "fp_neigh4",
                                    "fp_port_stats"]}
    ifindex = [int(open(f"/sys/class/net/{tag}s{i}/ifindex").read()) for i in range(2)]
    libbpf.update(fd["fp_config"], struct.pack("<I", 0), struct.pack("<IIQ", FP_ON | FP_ROUTER, 1 << 3, 0) + bytes(64))
    for i in range(2):
        libbpf.update(fd["fp_ports"], struct.pack("<I", i),
                      struct.pack("<II", FP_PORT_FASTPATH | FP_PORT_LINK_UP | FP_PORT_IN_SERVICE, 0) + mac_bytes(SWMAC[i]) + b"\0\0")
        libbpf.update(fd["fp_tx_ports"], struct.pack("<I", i), struct.pack("<I", ifindex[i]))
        libbpf.update(fd["fp_hops"], struct.pack("<I", i), struct.pack("<II", i, FP_HOP_CONNECTED) + bytes(16))
        libbpf.update(fd["fp_targets"], struct.pack("<I", i), struct.pack("<IIII", 0, 1, 1, 0) + struct.pack("<64I", i, *[0] * 63)
                      + bytes(64))
        libbpf.update(fd["fp_fib4"], struct.pack("<I", 24) + bytes([10, 77, i + 1, 0]), struct.pack("<I", i))
        libbpf.update(fd["fp_neigh4"], bytes([10, 77, i + 1, 1]), mac_bytes(HOSTMAC[i]) + b"\0\0" + struct.pack("<Q", 0))
        libbpf.update(instances[i].map_fd("fabric_port"), struct.pack("<I", 0), struct.pack("<I", i + 1))
    attached = []
    try:
        for i in range(2):
            rc = libbpf._lib.bpf_xdp_attach(ifindex[i], instances[i].prog_fd("fabric_xsk"), XDP_FLAGS_DRV_MODE, None)
            if rc < 0:
                raise RuntimeError(f"attach to {tag}s{i}: {os.strerror(-rc)}")
            attached.append(ifindex[i])
        ping = subprocess.run(["ip", "netns", "exec", H1, "ping", "-c", "20", "-i", "0.05", "-W", "1", "10.77.2.1"],
                              capture_output=True, text=True)
        print(ping.stdout.strip().splitlines()[-2] if ping.stdout else ping.stderr)
        ping6 = ping.returncode == 0
        # UDP both ways through XDP: socat-free, with bash's /dev/udp and a python listener.
        listener = subprocess.Popen(["ip", "netns", "exec", H2, "python3", "-c",
                                     "import socket;s=socket.socket(socket.AF_INET,socket.SOCK_DGRAM);s.bind(('10.77.2.1',9999));"
                                     "s.settimeout(3);n=0\ntry:\n while True: s.recv(2048); n+=1\nexcept Exception: pass\nprint(n)"],
                                    stdout=subprocess.PIPE, text=True)
        time.sleep(0.5)
        subprocess.run(["ip", "netns", "exec", H1, "python3", "-c",
                        "import socket,time;s=socket.socket(socket.AF_INET,socket.SOCK_DGRAM)\n"
                        "for i in range(1000): s.sendto(bytes(64),('10.77.2.1',9999)); time.sleep(0.0005)"], check=True)
        received = int(listener.communicate(timeout=10)[0].strip() or 0)
        stats = []
        for p in range(2):
            vals = libbpf.lookup_percpu(fd["fp_port_stats"], struct.pack("<I", p), 32)
            stats.append([sum(struct.unpack("<4Q", v)[k] for v in vals) for k in range(4)])
        punts = []
        for inst in instances:
            counts = {}
            for r in range(1, len(PUNTS)):
                v = sum(struct.unpack("<Q", x)[0] for x in libbpf.lookup_percpu(inst.map_fd("fabric_punts"), struct.pack("<I", r), 8))
                if v:
                    counts[PUNTS[r]] = v
            punts.append(counts)
        print(f"ping h1 -> h2 through XDP: {'ok' if ping6 else 'FAILED'}; UDP 1000 sent, {received} received")
        print(f"fp_port_stats [rx frames, rx bytes, tx frames, tx bytes]: port 0 {stats[0]}, port 1 {stats[1]}")
        print(f"punted: port 0 {punts[0]}, port 1 {punts[1]}")
        ok = ping6 and received == 1000 and stats[0][0] >= 1020 and stats[1][0] >= 20 and stats[1][2] >= 1020
        return 0 if ok else 1
    finally:
        for ix in attached:
            libbpf._lib.bpf_xdp_detach(ix, XDP_FLAGS_DRV_MODE, None)
        for inst in instances:
            inst.close()


def main():
    if os.geteuid() != 0:
        print("SKIP: needs root (namespaces, XDP)")
        return 0
    if "--in-switch" in sys.argv:
        return in_switch_namespace()
    try:
        setup()
        r = subprocess.run(["ip", "netns", "exec", SW, sys.executable, os.path.abspath(__file__), "--in-switch"],
                           env=dict(os.environ, FP_VETH_TAG=tag))
        return r.returncode
    finally:
        cleanup()


if __name__ == "__main__":
    sys.exit(main())
