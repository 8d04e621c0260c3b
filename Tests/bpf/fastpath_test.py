#!/usr/bin/env python3
"""Tests of fabric_xsk's XDP fast path with BPF_PROG_TEST_RUN: no namespaces, no interfaces
(the DEVMAP's entries point at lo, which test runs never transmit on).

    scripts/build-bpf.sh && sudo python3 Tests/bpf/fastpath_test.py [--write-golden]

Frames are built by scapy. The maps are filled from one switch description (SWITCH below) the
way the Swift control plane fills them (FIB targets and next hops in FIB's order, own addresses
as FP_TARGET_LOCAL host routes, static neighbours never expiring). Checked:

- every punt rule of bpf/README.md: the frame goes to the socket path (XDP_PASS here: no socket
  is bound and fabric_serving is 0), unchanged, and fabric_punts counts it under its reason;
- forwarded frames: XDP_REDIRECT, fp_port_stats counts them on the right ports, and the bytes
  out equal scapy's own rewrite (MACs, TTL/hop limit - 1, IPv4 checksum recomputed whole);
- ECMP: for 3 x 400 5-tuples (IPv4 and IPv6; UDP, TCP, ICMP; all uplinks up, one down, two
  down) the member XDP picks equals a Python transcription of the Swift selector;
- the bridge: known/unknown/moved/aged/hairpin/group addresses, and the source refresh;
- fast path off: today's program (everything to the socket path, nothing counted as punted);
- FP_STAMP: 8 bytes of bpf_ktime_get_ns() in the metadata in front of a steered frame.

The forwarded cases and their XDP output are written to fastpath_golden.json (--write-golden);
without the flag the run also checks XDP still produces exactly the committed golden bytes.
Tests/FabricIOTests/FastPathParityTests.swift feeds the same frames through the Swift data path
and checks it produces the same bytes on the same port: the parity of the two forwarding paths.
"""
import json
import os
import random
import struct
import sys
import time
import ipaddress

from scapy.all import Ether, Dot1Q, IP, IPv6, IPv6ExtHdrHopByHop, UDP, TCP, ICMP, ARP, Raw, Padding, raw
from scapy.layers.inet6 import ICMPv6EchoRequest, ICMPv6ND_NS, ICMPv6NDOptSrcLLAddr
from scapy.contrib.roce import BTH, cnp
from scapy.contrib.mac_control import MACControlClassBasedFlowControl, MACControlPause

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, HERE)
import libbpf  # noqa: E402

OBJECT = os.path.join(ROOT, ".build-bpf", "fabric_xsk.o")
GOLDEN = os.path.join(HERE, "fastpath_golden.json")

# bpf/fabric_fastpath.h
FP_ON, FP_ROUTER, FP_STAMP = 1, 2, 4
FP_PORT_FASTPATH, FP_PORT_LINK_UP, FP_PORT_IN_SERVICE, FP_PORT_TRUST_PCP, FP_PORT_EMULATED, FP_PORT_CAPTURE = 1, 2, 4, 8, 16, 32
FP_HOP_CONNECTED = 1
FP_TARGET_LOCAL = 0xFFFFFFFF
PUNTS = ["", "MULTIBUF", "INGRESS", "RUNT", "VLAN", "MAC_CONTROL", "NOT_MINE", "NOT_IP", "MALFORMED", "IPV4_OPTIONS",
         "FRAGMENT", "IPV6_EXTENSION", "ROCE", "LOSSLESS", "ND", "MULTICAST", "LOCAL", "TTL", "NO_ROUTE", "GROUP_MODE",
         "UNRESOLVED", "EGRESS_DOWN", "EGRESS_EMULATED", "EGRESS_CAPTURE", "OVERSIZE", "NO_TX_PORT", "INVALID_SOURCE",
         "GROUP_DEST", "UNKNOWN_SOURCE", "UNKNOWN_DEST", "SAME_PORT"]
MODES = {"ecmp": 0, "flowlet": 1, "spray": 2}

# The switch the tests run: a router with two host ports, four uplinks (ECMP), a port with an
# emulated speed and one with a capture. MACs and addresses as the Swift test builds them.
SWITCH = {
    "ports": [
        {"name": "h1", "mac": "02:5f:00:00:01:fe", "addresses": ["10.77.1.254/24", "2001:db8:1::fe/64"]},
        {"name": "h2", "mac": "02:5f:00:00:02:fe", "addresses": ["10.77.2.254/24", "2001:db8:2::fe/64"]},
        {"name": "up1", "mac": "02:5f:00:00:10:fe", "addresses": ["10.0.1.0/31", "2001:db8:f1::/127"]},
        {"name": "up2", "mac": "02:5f:00:00:20:fe", "addresses": ["10.0.2.0/31", "2001:db8:f2::/127"]},
        {"name": "up3", "mac": "02:5f:00:00:30:fe", "addresses": ["10.0.3.0/31", "2001:db8:f3::/127"]},
        {"name": "up4", "mac": "02:5f:00:00:40:fe", "addresses": ["10.0.4.0/31", "2001:db8:f4::/127"]},
        {"name": "slow", "mac": "02:5f:00:00:06:fe", "addresses": ["10.77.6.254/24"], "speedGbps": 1.0},
        {"name": "cap", "mac": "02:5f:00:00:07:fe", "addresses": ["10.77.7.254/24"], "capture": True},
    ],
    "routes": [
        {"prefix": "10.99.0.0/16", "nextHops": ["10.0.1.1", "10.0.2.1", "10.0.3.1", "10.0.4.1"]},
        {"prefix": "2001:db8:99::/48", "nextHops": ["2001:db8:f1::1", "2001:db8:f2::1", "2001:db8:f3::1", "2001:db8:f4::1"]},
        {"prefix": "10.98.0.0/16", "nextHops": ["10.0.1.1", "10.0.2.1"], "mode": "flowlet"},
        {"prefix": "10.97.0.0/16", "nextHops": ["10.0.1.1"]},
    ],
    "neighbours": [
        {"address": "10.77.1.1", "mac": "02:5f:00:00:00:01"},
        {"address": "10.77.2.1", "mac": "02:5f:00:00:00:22"},
        {"address": "2001:db8:1::1", "mac": "02:5f:00:00:00:01"},
        {"address": "2001:db8:2::1", "mac": "02:5f:00:00:00:22"},
        {"address": "10.77.6.1", "mac": "02:5f:00:00:00:66"},
        {"address": "10.77.7.1", "mac": "02:5f:00:00:00:77"},
    ] + [{"address": f"10.0.{i}.1", "mac": f"02:5f:00:00:{i}0:01"} for i in range(1, 5)]
      + [{"address": f"2001:db8:f{i}::1", "mac": f"02:5f:00:00:{i}0:01"} for i in range(1, 5)],
    # nvidia-roce: DSCP 26 -> TC3 (lossless), DSCP 48 -> TC6, the rest TC0.
    "qos": "nvidia-roce",
}
DSCP_TO_TC = [0] * 64
DSCP_TO_TC[26], DSCP_TO_TC[48] = 3, 6
LOSSLESS_TCS = 1 << 3
H1, H2, UP1, UP2, UP3, UP4, SLOW, CAP = range(8)
HOST1, HOST2 = "02:5f:00:00:00:01", "02:5f:00:00:00:22"


def mac_bytes(m):
    return bytes(int(x, 16) for x in m.split(":"))


def mac_int(m):
    return int.from_bytes(mac_bytes(m), "big")


def port_mac(p):
    return SWITCH["ports"][p]["mac"]


class Switch:
    """The maps as the Swift control plane fills them, and the program to run."""

    def __init__(self):
        self.obj = libbpf.BPFObject(OBJECT)
        self.prog = self.obj.prog_fd("fabric_xsk")
        self.fd = {n: self.obj.map_fd(n) for n in ["fp_config", "fp_ports", "fp_tx_ports", "fp_macs", "fp_fib4", "fp_fib6",
                                                  "fp_targets", "fp_hops", "fp_neigh4", "fp_neigh6", "fp_port_stats",
                                                  "fabric_port", "fabric_punts", "fabric_stats", "fabric_serving"]}
        self.down = set()
        self.max_frame = {}
        self.fill()

    # -- control plane --
    def config(self, flags, punt_tcs=LOSSLESS_TCS, aging_ns=300_000_000_000):
        libbpf.update(self.fd["fp_config"], struct.pack("<I", 0),
                      struct.pack("<IIQ", flags, punt_tcs, aging_ns) + bytes(DSCP_TO_TC))

    def write_port(self, p):
        port = SWITCH["ports"][p]
        flags = FP_PORT_FASTPATH | FP_PORT_IN_SERVICE
        if p not in self.down:
            flags |= FP_PORT_LINK_UP
        if port.get("speedGbps") or port.get("delay") or port.get("loss"):
            flags |= FP_PORT_EMULATED
        if port.get("capture"):
            flags |= FP_PORT_CAPTURE
        if port.get("trust") == "pcp":
            flags |= FP_PORT_TRUST_PCP
        libbpf.update(self.fd["fp_ports"], struct.pack("<I", p),
                      struct.pack("<II", flags, self.max_frame.get(p, 0)) + mac_bytes(port["mac"]) + b"\0\0")

    def set_down(self, ports):
        """Link state as the control plane writes it: each target's live members, then the ports."""
        self.down = set(ports)
        for t in range(len(self.targets)):
            self.write_target(t)
        for p in range(len(SWITCH["ports"])):
            self.write_port(p)

    def write_target(self, t):
        hops, mode, ids = self.targets[t]
        live = [k for k, (port, _) in enumerate(hops) if port not in self.down]
        libbpf.update(self.fd["fp_targets"], struct.pack("<I", t),
                      struct.pack("<IIII", MODES[mode], len(ids), len(live), 0) + struct.pack("<64I", *(ids + [0] * (64 - len(ids))))
                      + bytes(live + [0] * (64 - len(live))))

    def fill(self):
        self.config(FP_ON | FP_ROUTER)
        for p in range(len(SWITCH["ports"])):
            self.write_port(p)
            libbpf.update(self.fd["fp_tx_ports"], struct.pack("<I", p), struct.pack("<I", 1))   # lo
        # FIB as SwitchConfig.fibEntries + FIB.init build it: connected routes (one per port
        # address), then static routes whose next hops are on a connected subnet; targets
        # shared by equal (next hops, mode); next-hop ids in order of first use.
        subnets = [(p, ipaddress.ip_interface(a)) for p, port in enumerate(SWITCH["ports"]) for a in port["addresses"]]
        entries = [(iface.network, [(p, None)], "ecmp") for p, iface in subnets]
        for r in SWITCH["routes"]:
            hops = []
            for nh in r["nextHops"]:
                a = ipaddress.ip_address(nh)
                port = next((p for p, iface in subnets if a in iface.network), None)
                if port is not None:
                    hops.append((port, a))
            if hops:
                entries.append((ipaddress.ip_network(r["prefix"]), hops, r.get("mode", "ecmp")))
        targets, hop_ids = {}, {}
        self.targets = []
        for net, hops, mode in entries:
            key = (tuple(hops), mode)
            if key not in targets:
                targets[key] = len(targets)
                ids = []
                for h in hops:
                    if h not in hop_ids:
                        hop_ids[h] = len(hop_ids)
                        port, gw = h
                        gwb = gw.packed.ljust(16, b"\0") if gw else bytes(16)
                        libbpf.update(self.fd["fp_hops"], struct.pack("<I", hop_ids[h]),
                                      struct.pack("<II", port, 0 if gw else FP_HOP_CONNECTED) + gwb)
                    ids.append(hop_ids[h])
                self.targets.append((hops, mode, ids))
                self.write_target(targets[key])
            self.add_route(net, targets[key])
        for p, iface in subnets:       # the switch's own addresses
            self.add_route(ipaddress.ip_network(iface.ip), FP_TARGET_LOCAL)
        for n in SWITCH["neighbours"]:
            self.add_neighbour(n["address"], n["mac"])

    def add_route(self, net, target):
        key = struct.pack("<I", net.prefixlen) + net.network_address.packed
        libbpf.update(self.fd["fp_fib4" if net.version == 4 else "fp_fib6"], key, struct.pack("<I", target))

    def add_neighbour(self, address, mac, expires_ns=0):
        a = ipaddress.ip_address(address)
        libbpf.update(self.fd["fp_neigh4" if a.version == 4 else "fp_neigh6"], a.packed,
                      mac_bytes(mac) + b"\0\0" + struct.pack("<Q", expires_ns))

    def neighbour(self, address):
        a = ipaddress.ip_address(address)
        v = libbpf.lookup(self.fd["fp_neigh4" if a.version == 4 else "fp_neigh6"], a.packed, 16)
        return None if v is None else {"mac": v[:6], "used": v[6], "expires_ns": struct.unpack("<Q", v[8:])[0]}

    def learn(self, mac, port, seen_ns):
        libbpf.update(self.fd["fp_macs"], struct.pack("<Q", mac_int(mac)), struct.pack("<IIQ", port, 0, seen_ns))

    def mac_entry(self, mac):
        v = libbpf.lookup(self.fd["fp_macs"], struct.pack("<Q", mac_int(mac)), 16)
        return None if v is None else struct.unpack("<IIQ", v)

    # -- running --
    def punts(self):
        out = []
        for r in range(32):
            vals = libbpf.lookup_percpu(self.fd["fabric_punts"], struct.pack("<I", r), 8)
            out.append(sum(struct.unpack("<Q", v)[0] for v in vals))
        return out

    def port_stats(self, p):
        vals = libbpf.lookup_percpu(self.fd["fp_port_stats"], struct.pack("<I", p), 32)
        return [sum(struct.unpack("<4Q", v)[i] for v in vals) for i in range(4)]

    def run(self, ingress, frame):
        """(verdict, bytes out, punt reason or None, egress port or None)."""
        libbpf.update(self.fd["fabric_port"], struct.pack("<I", 0), struct.pack("<I", ingress + 1))
        before = self.punts()
        stats = [self.port_stats(p) for p in range(len(SWITCH["ports"]))]
        rc, out = libbpf.test_run(self.prog, frame)
        after = self.punts()
        reasons = [PUNTS[i] for i in range(1, len(PUNTS)) if after[i] != before[i]]
        egress = [p for p in range(len(SWITCH["ports"])) if self.port_stats(p)[2] != stats[p][2]]
        assert len(reasons) + len(egress) <= 1, (reasons, egress)
        return rc, out, reasons[0] if reasons else None, egress[0] if egress else None


# -- the Swift selector and rewrite, transcribed (FlowHash, HashPathSelector, liveMember) --
M64 = (1 << 64) - 1


def mix(x):
    z = (x + 0x9E3779B97F4A7C15) & M64
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & M64
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & M64
    return z ^ (z >> 31)


def flow_hash(pkt):
    l4 = pkt[IP].payload if IP in pkt else pkt[IPv6].payload
    sport, dport = (l4.sport, l4.dport) if isinstance(l4, (UDP, TCP)) else (0, 0)
    if IP in pkt:
        a = int(ipaddress.ip_address(pkt[IP].src)) << 32 | int(ipaddress.ip_address(pkt[IP].dst))
        b = pkt[IP].proto << 32 | sport << 16 | dport
        return (mix(a ^ mix(b)) >> 16) & 0xFFFFFFFF
    s, d = int(ipaddress.ip_address(pkt[IPv6].src)), int(ipaddress.ip_address(pkt[IPv6].dst))
    a = mix((s >> 64) ^ mix(s & M64))
    b = mix((d >> 64) ^ mix((d & M64) ^ a))
    c = pkt[IPv6].nh << 32 | sport << 16 | dport
    return (mix(b ^ c) >> 16) & 0xFFFFFFFF


def member(h, n):
    return (h * n) >> 32


def select(h, ports, down):
    m = member(h, len(ports))
    if ports[m] not in down:
        return m
    live = [k for k, p in enumerate(ports) if p not in down]
    if not live:
        return m
    x = h ^ 0x5BD1E995
    x ^= x >> 16
    x = (x * 0x85EBCA6B) & 0xFFFFFFFF
    x ^= x >> 13
    x = (x * 0xC2B2AE35) & 0xFFFFFFFF
    x ^= x >> 16
    return live[member(x, len(live))]


def routed(pkt, egress, next_mac):
    """scapy's own rewrite of a routed packet: MACs, TTL or hop limit - 1, checksum recomputed."""
    q = pkt.copy()
    q[Ether].src, q[Ether].dst = port_mac(egress), next_mac
    if IP in q:
        q[IP].ttl -= 1
        q[IP].chksum = None
    else:
        q[IPv6].hlim -= 1
    return raw(Ether(raw(q)))


# -- frames --
def to_switch(ingress, src_mac=None):
    return Ether(dst=port_mac(ingress), src=src_mac or (HOST1 if ingress == H1 else HOST2))


def udp4(dst, src="10.77.1.1", sport=1000, dport=9, tos=0, ttl=64, ingress=H1, payload=18, **ip):
    return to_switch(ingress) / IP(src=src, dst=dst, tos=tos, ttl=ttl, **ip) / UDP(sport=sport, dport=dport) / Raw(bytes(payload))


def udp6(dst, src="2001:db8:1::1", sport=1000, dport=9, tc=0, hlim=64, ingress=H1):
    return to_switch(ingress) / IPv6(src=src, dst=dst, tc=tc, hlim=hlim) / UDP(sport=sport, dport=dport) / Raw(bytes(18))


class Checker:
    def __init__(self):
        self.failures = []
        self.passed = 0

    def check(self, cond, what):
        if cond:
            self.passed += 1
        else:
            self.failures.append(what)
            print("FAIL:", what)


def main():
    if os.geteuid() != 0:
        print("SKIP: BPF_PROG_TEST_RUN needs root (CAP_BPF + CAP_NET_ADMIN)")
        return 0
    if not os.path.exists(OBJECT):
        print(f"{OBJECT} missing: run scripts/build-bpf.sh")
        return 1
    write_golden = "--write-golden" in sys.argv
    sw = Switch()
    c = Checker()
    golden_cases = []

    def forwarded(name, ingress, pkt, egress, next_mac, down=(), learned=None):
        frame = raw(pkt)
        rc, out, reason, eg = sw.run(ingress, frame)
        expect = routed(pkt, egress, next_mac)
        c.check(rc == libbpf.XDP_REDIRECT and eg == egress and reason is None,
                f"{name}: forwarded to {egress} (rc {rc}, egress {eg}, punt {reason})")
        c.check(out == expect, f"{name}: bytes equal scapy's rewrite\n  got  {out.hex()}\n  want {expect.hex()}")
        golden_cases.append({"name": name, "ingress": ingress, "down": sorted(down), "frame": frame.hex(),
                             "egress": eg, "out": out.hex() if eg is not None else None})
        if learned:
            golden_cases[-1]["neighbours"] = learned
        return out

    def punted(name, ingress, pkt, reason):
        frame = raw(pkt) if not isinstance(pkt, bytes) else pkt
        rc, out, got, eg = sw.run(ingress, frame)
        c.check(rc == libbpf.XDP_PASS and got == reason and eg is None and out == frame,
                f"{name}: punted as {reason} unchanged (rc {rc}, punt {got}, egress {eg}, same bytes {out == frame})")

    # ---- router: forwarded ----
    forwarded("udp4-connected", H1, udp4("10.77.2.1"), H2, HOST2)
    forwarded("udp4-ttl2", H1, udp4("10.77.2.1", ttl=2), H2, HOST2)
    forwarded("tcp4-connected", H2, to_switch(H2) / IP(src="10.77.2.1", dst="10.77.1.1", tos=2) / TCP(sport=40000, dport=80, flags="S"),
              H1, HOST1)
    forwarded("icmp4-echo-through", H1, to_switch(H1) / IP(src="10.77.1.1", dst="10.77.2.1") / ICMP(), H2, HOST2)
    forwarded("udp4-single-gateway", H1, udp4("10.97.3.4"), UP1, "02:5f:00:00:10:01")
    forwarded("udp4-dscp48-lossy-class", H1, udp4("10.77.2.1", tos=48 << 2), H2, HOST2)
    forwarded("udp6-connected", H1, udp6("2001:db8:2::1"), H2, HOST2)
    forwarded("udp6-hlim2", H1, udp6("2001:db8:2::1", hlim=2), H2, HOST2)
    forwarded("icmp6-echo-through", H1, to_switch(H1) / IPv6(src="2001:db8:1::1", dst="2001:db8:2::1") / ICMPv6EchoRequest(), H2, HOST2)
    forwarded("tcp6-connected", H2, to_switch(H2) / IPv6(src="2001:db8:2::1", dst="2001:db8:1::1") / TCP(sport=5, dport=6), H1, HOST1)
    forwarded("udp4-padded-to-60", H1, udp4("10.77.2.1", payload=0) / Padding(bytes(range(18))), H2, HOST2)
    forwarded("udp6-padded", H1, udp6("2001:db8:2::1") / Padding(b"\xaa" * 6), H2, HOST2)
    esp = to_switch(H1) / IP(src="10.77.1.1", dst="10.99.1.2", proto=50) / Raw(bytes(range(24)))
    up = [UP1, UP2, UP3, UP4][select(flow_hash(esp), [UP1, UP2, UP3, UP4], set())]
    forwarded("esp4-no-ports", H1, esp, up, f"02:5f:00:00:{up - 1}0:01")
    rnd = random.Random(16)
    for i in range(64):   # IPv4 headers of every checksum shape: RFC 1624 against scapy's recompute
        pkt = udp4("10.77.2.1", ttl=rnd.randint(2, 255), id=rnd.randint(0, 65535), tos=rnd.choice([0, 1, 2, 3, 4 << 2 | 2]),
                   flags=rnd.choice([0, 2]), sport=rnd.randint(1, 65535), payload=rnd.randint(0, 40))
        forwarded(f"udp4-checksum-{i}", H1, pkt, H2, HOST2)
    n = sw.neighbour("10.77.2.1")
    c.check(n is not None and n["used"] == 1, "a neighbour XDP forwarded to is marked used")

    # ---- router: punted, one per rule ----
    punted("arp-broadcast", H1, Ether(dst="ff:ff:ff:ff:ff:ff", src=HOST1) / ARP(psrc="10.77.1.1", pdst="10.77.1.254"), "NOT_MINE")
    punted("arp-unicast", H1, to_switch(H1) / ARP(op=2, psrc="10.77.1.1", pdst="10.77.1.254"), "NOT_IP")
    punted("other-mac", H1, Ether(dst="02:5f:00:00:99:99", src=HOST1) / IP(src="10.77.1.1", dst="10.77.2.1") / UDP(), "NOT_MINE")
    punted("pfc", H1, Ether(dst="01:80:c2:00:00:01", src=HOST1) / MACControlClassBasedFlowControl(c3_enabled=1, c3_pause_time=100), "MAC_CONTROL")
    punted("pfc-to-port-mac", H1, Ether(dst=port_mac(H1), src=HOST1) / MACControlPause(pause_time=5), "MAC_CONTROL")
    punted("vlan", H1, Ether(dst=port_mac(H1), src=HOST1) / Dot1Q(vlan=100, prio=3) / IP(src="10.77.1.1", dst="10.77.2.1") / UDP(), "VLAN")
    punted("roce-v4", H1, to_switch(H1) / IP(src="10.77.1.1", dst="10.77.2.1", tos=26 << 2 | 2) / UDP(sport=0xC001, dport=4791)
           / BTH(opcode=0x04, dqpn=0x11, psn=1) / Raw(bytes(64)), "ROCE")
    punted("roce-v4-lossy-dscp", H1, to_switch(H1) / IP(src="10.77.1.1", dst="10.77.2.1") / UDP(sport=0xC001, dport=4791)
           / BTH(opcode=0x04, dqpn=0x11, psn=1) / Raw(bytes(64)), "ROCE")
    punted("cnp-v4", H1, to_switch(H1) / IP(src="10.77.1.1", dst="10.77.2.1", tos=48 << 2) / UDP(sport=0xD00D, dport=4791) / cnp(0x777), "ROCE")
    punted("roce-v6", H1, to_switch(H1) / IPv6(src="2001:db8:1::1", dst="2001:db8:2::1", tc=26 << 2) / UDP(sport=0xC002, dport=4791)
           / BTH(opcode=0x0A, dqpn=0x22) / Raw(bytes(32)), "ROCE")
    punted("lossless-dscp26-udp4", H1, udp4("10.77.2.1", tos=26 << 2), "LOSSLESS")
    punted("lossless-dscp26-tcp6", H1, to_switch(H1) / IPv6(src="2001:db8:1::1", dst="2001:db8:2::1", tc=26 << 2 | 1) / TCP(), "LOSSLESS")
    punted("ipv4-options", H1, to_switch(H1) / IP(src="10.77.1.1", dst="10.77.2.1", options=b"\x01\x01\x01\x00") / UDP(), "IPV4_OPTIONS")
    punted("ipv4-fragment-mf", H1, udp4("10.77.2.1", flags=1), "FRAGMENT")
    punted("ipv4-fragment-offset", H1, to_switch(H1) / IP(src="10.77.1.1", dst="10.77.2.1", frag=10, proto=17) / Raw(bytes(30)), "FRAGMENT")
    punted("ipv4-bad-total-length", H1, to_switch(H1) / IP(src="10.77.1.1", dst="10.77.2.1", len=400) / UDP(), "MALFORMED")
    punted("udp4-bad-length", H1, to_switch(H1) / IP(src="10.77.1.1", dst="10.77.2.1") / UDP(len=200) / Raw(bytes(10)), "MALFORMED")
    punted("ipv6-hop-by-hop", H1, to_switch(H1) / IPv6(src="2001:db8:1::1", dst="2001:db8:2::1") / IPv6ExtHdrHopByHop() / UDP(), "IPV6_EXTENSION")
    punted("ttl1-v4", H1, udp4("10.77.2.1", ttl=1), "TTL")
    punted("ttl0-v4", H1, udp4("10.77.2.1", ttl=0), "TTL")
    punted("hlim1-v6", H1, udp6("2001:db8:2::1", hlim=1), "TTL")
    punted("echo-to-switch-v4", H1, to_switch(H1) / IP(src="10.77.1.1", dst="10.77.1.254") / ICMP(), "LOCAL")
    punted("tcp-to-other-port-address", H1, to_switch(H1) / IP(src="10.77.1.1", dst="10.0.2.0") / TCP(), "LOCAL")
    punted("echo-to-switch-v6", H1, to_switch(H1) / IPv6(src="2001:db8:1::1", dst="2001:db8:1::fe") / ICMPv6EchoRequest(), "LOCAL")
    punted("nd-solicitation", H1, to_switch(H1) / IPv6(src="2001:db8:1::1", dst="2001:db8:1::fe", hlim=255)
           / ICMPv6ND_NS(tgt="2001:db8:1::fe") / ICMPv6NDOptSrcLLAddr(lladdr=HOST1), "ND")
    punted("nd-to-multicast-mac", H1, Ether(dst="33:33:ff:00:00:fe", src=HOST1) / IPv6(src="2001:db8:1::1", dst="ff02::1:ff00:fe", hlim=255)
           / ICMPv6ND_NS(tgt="2001:db8:1::fe"), "NOT_MINE")
    punted("ipv6-multicast-dst", H1, udp6("ff0e::1"), "MULTICAST")
    punted("no-route-v4", H1, udp4("192.0.2.1"), "NO_ROUTE")
    punted("no-route-v6", H1, udp6("2001:db8:77::1"), "NO_ROUTE")
    punted("flowlet-group", H1, udp4("10.98.1.1"), "GROUP_MODE")
    punted("unresolved-v4", H1, udp4("10.77.2.9"), "UNRESOLVED")
    punted("unresolved-v6", H1, udp6("2001:db8:2::9"), "UNRESOLVED")
    sw.add_neighbour("10.77.2.10", "02:5f:00:00:00:10", expires_ns=time.clock_gettime_ns(time.CLOCK_MONOTONIC) - 1)
    punted("expired-neighbour", H1, udp4("10.77.2.10"), "UNRESOLVED")
    sw.add_neighbour("10.77.2.10", "02:5f:00:00:00:10", expires_ns=time.clock_gettime_ns(time.CLOCK_MONOTONIC) + 60 * 10**9)
    forwarded("live-learned-neighbour", H1, udp4("10.77.2.10"), H2, "02:5f:00:00:00:10",
              learned=[{"address": "10.77.2.10", "mac": "02:5f:00:00:00:10"}])
    punted("egress-emulated-speed", H1, udp4("10.77.6.1"), "EGRESS_EMULATED")
    punted("egress-capture", H1, udp4("10.77.7.1"), "EGRESS_CAPTURE")
    punted("ingress-capture", CAP, to_switch(CAP, "02:5f:00:00:00:77") / IP(src="10.77.7.1", dst="10.77.2.1") / UDP(), "INGRESS")
    sw.max_frame[H2] = 1514
    sw.write_port(H2)
    punted("oversize", H1, udp4("10.77.2.1", payload=1600), "OVERSIZE")
    forwarded("at-mtu", H1, udp4("10.77.2.1", payload=1514 - 14 - 28), H2, HOST2)
    del sw.max_frame[H2]
    sw.write_port(H2)
    libbpf.delete(sw.fd["fp_tx_ports"], struct.pack("<I", H2))
    punted("no-devmap-entry", H1, udp4("10.77.2.1"), "NO_TX_PORT")
    libbpf.update(sw.fd["fp_tx_ports"], struct.pack("<I", H2), struct.pack("<I", 1))
    sw.set_down([UP1])
    punted("egress-link-down", H1, udp4("10.97.3.4"), "EGRESS_DOWN")
    sw.set_down([])
    libbpf.update(sw.fd["fp_ports"], struct.pack("<I", H1), struct.pack("<II", FP_PORT_LINK_UP | FP_PORT_IN_SERVICE, 0)
                  + mac_bytes(port_mac(H1)) + b"\0\0")
    punted("ingress-not-fast", H1, udp4("10.77.2.1"), "INGRESS")
    sw.write_port(H1)
    libbpf.update(sw.fd["fabric_port"], struct.pack("<I", 0), struct.pack("<I", 0))
    before = sw.punts()[PUNTS.index("INGRESS")]
    rc, out = libbpf.test_run(sw.prog, raw(udp4("10.77.2.1")))
    c.check(rc == libbpf.XDP_PASS and sw.punts()[PUNTS.index("INGRESS")] == before + 1,
            "an instance not yet told its port (fabric_port 0) forwards nothing")
    try:
        big = raw(udp4("10.77.2.1", payload=6000))
        punted("multi-buffer", H1, big, "MULTIBUF")
    except libbpf.BPFError as e:
        print(f"note: multi-buffer test run refused ({e}); skipped")

    # ---- ECMP: XDP's member = the Swift selector's (transcribed), 3 link states ----
    ecmp_ports = [UP1, UP2, UP3, UP4]
    spine = {UP1: "02:5f:00:00:10:01", UP2: "02:5f:00:00:20:01", UP3: "02:5f:00:00:30:01", UP4: "02:5f:00:00:40:01"}
    rnd = random.Random(4791)
    moved = 0
    for down in [(), (UP2,), (UP2, UP4)]:
        sw.set_down(down)
        for i in range(400):
            kind = rnd.choice(["udp", "tcp", "icmp"])
            if i % 2 == 0:
                ip = IP(src=f"10.77.1.{rnd.randint(1, 250)}", dst=f"10.99.{rnd.randint(0, 255)}.{rnd.randint(0, 255)}", ttl=rnd.randint(2, 64))
            else:
                ip = IPv6(src=f"2001:db8:1::{rnd.randint(1, 0xffff):x}", dst=f"2001:db8:99:{rnd.randint(0, 0xffff):x}::{rnd.randint(1, 0xffff):x}",
                          hlim=rnd.randint(2, 64))
            l4 = {"udp": UDP(sport=rnd.randint(0xC000, 0xFFFF), dport=rnd.choice([9, 53, 4000, rnd.randint(1, 65535)])),
                  "tcp": TCP(sport=rnd.randint(1024, 65535), dport=rnd.choice([80, 443, 5201])),
                  "icmp": ICMP() if i % 2 == 0 else ICMPv6EchoRequest()}[kind]
            pkt = to_switch(H1) / ip / l4 / Raw(bytes(rnd.randint(0, 32)))
            want = ecmp_ports[select(flow_hash(pkt), ecmp_ports, set(down))]
            if down and want != ecmp_ports[member(flow_hash(pkt), 4)]:
                moved += 1
            out = forwarded(f"ecmp-{'-'.join(SWITCH['ports'][p]['name'] for p in down) or 'all-up'}-{i}", H1, pkt, want, spine[want], down)
    sw.set_down([])
    c.check(moved > 100, f"ECMP: flows moved off down members and rehashed ({moved})")

    # ---- a second port's instance on the same maps (bpf_map__reuse_fd), as the switch loads them ----
    shared = ["fp_config", "fp_ports", "fp_tx_ports", "fp_macs", "fp_fib4", "fp_fib6", "fp_targets", "fp_hops",
              "fp_neigh4", "fp_neigh6", "fp_port_stats"]
    second = libbpf.BPFObject(OBJECT, reuse={n: sw.fd[n] for n in shared})
    libbpf.update(second.map_fd("fabric_port"), struct.pack("<I", 0), struct.pack("<I", H2 + 1))
    tx_before = sw.port_stats(H1)[2]
    punts_before = sw.punts()
    rc, out = libbpf.test_run(second.prog_fd("fabric_xsk"), raw(udp4("10.77.1.1", src="10.77.2.1", ingress=H2)))
    c.check(rc == libbpf.XDP_REDIRECT and sw.port_stats(H1)[2] == tx_before + 1,
            f"a second instance sharing the maps forwards by them and counts in the shared fp_port_stats (rc {rc})")
    rc, out = libbpf.test_run(second.prog_fd("fabric_xsk"), raw(udp4("10.77.2.254", src="10.77.2.1", ingress=H2)))
    second_punts = libbpf.lookup_percpu(second.map_fd("fabric_punts"), struct.pack("<I", PUNTS.index("LOCAL")), 8)
    c.check(rc == libbpf.XDP_PASS and sum(struct.unpack("<Q", v)[0] for v in second_punts) == 1 and sw.punts() == punts_before,
            "each instance counts its own punts (fabric_punts is per port)")
    second.close()

    # ---- the bridge ----
    sw.config(FP_ON)
    now = time.clock_gettime_ns(time.CLOCK_MONOTONIC)
    A, B, C = "02:00:00:00:00:0a", "02:00:00:00:00:0b", "02:00:00:00:00:0c"
    sw.learn(A, H1, now)
    sw.learn(B, H2, now)
    sw.learn(C, H1, now - 400 * 10**9)      # aged (aging 300 s)

    def bridged(name, ingress, pkt, egress):
        frame = raw(pkt)
        rc, out, reason, eg = sw.run(ingress, frame)
        c.check(rc == libbpf.XDP_REDIRECT and eg == egress and out == frame,
                f"{name}: bridged unchanged to {egress} (rc {rc}, egress {eg}, punt {reason})")

    bridged("l2-udp4", H1, Ether(src=A, dst=B) / IP(src="10.1.1.1", dst="10.1.1.2") / UDP(), H2)
    bridged("l2-arp", H2, Ether(src=B, dst=A) / ARP(op=2), H1)
    bridged("l2-ipv6-tcp", H1, Ether(src=A, dst=B) / IPv6(src="fd00::1", dst="fd00::2") / TCP(), H2)
    bridged("l2-non-ip", H1, Ether(src=A, dst=B, type=0x88B5) / Raw(bytes(46)), H2)
    punted("l2-unknown-source", H1, Ether(src="02:00:00:00:00:99", dst=B) / IP() / UDP(), "UNKNOWN_SOURCE")
    punted("l2-moved-source", H2, Ether(src=A, dst=B) / IP() / UDP(), "UNKNOWN_SOURCE")
    punted("l2-unknown-dest", H1, Ether(src=A, dst="02:00:00:00:00:98") / IP() / UDP(), "UNKNOWN_DEST")
    punted("l2-aged-dest", H2, Ether(src=B, dst=C) / IP() / UDP(), "UNKNOWN_DEST")
    punted("l2-hairpin", H1, Ether(src=A, dst=A) / IP() / UDP(), "SAME_PORT")
    punted("l2-broadcast", H1, Ether(src=A, dst="ff:ff:ff:ff:ff:ff") / ARP(), "GROUP_DEST")
    punted("l2-lldp", H1, Ether(src=A, dst="01:80:c2:00:00:0e", type=0x88CC) / Raw(bytes(46)), "GROUP_DEST")
    punted("l2-group-source", H1, Ether(src="03:00:00:00:00:01", dst=B) / IP() / UDP(), "INVALID_SOURCE")
    punted("l2-roce", H1, Ether(src=A, dst=B) / IP(src="10.1.1.1", dst="10.1.1.2") / UDP(dport=4791) / BTH(opcode=4) / Raw(bytes(16)), "ROCE")
    punted("l2-lossless", H1, Ether(src=A, dst=B) / IP(src="10.1.1.1", dst="10.1.1.2", tos=26 << 2) / UDP(), "LOSSLESS")
    punted("l2-pfc", H1, Ether(src=A, dst="01:80:c2:00:00:01") / MACControlPause(), "MAC_CONTROL")
    punted("l2-vlan", H1, Ether(src=A, dst=B) / Dot1Q(vlan=5) / IP() / UDP(), "VLAN")
    sw.set_down([H2])
    punted("l2-egress-down", H1, Ether(src=A, dst=B) / IP() / UDP(), "EGRESS_DOWN")
    sw.set_down([])
    sw.learn(A, H1, now - 5 * 10**9)
    bridged("l2-refresh", H1, Ether(src=A, dst=B) / IP() / UDP(), H2)
    seen = sw.mac_entry(A)[2]
    c.check(seen >= now, f"XDP refreshed the source's seen time ({now - 5 * 10**9} -> {seen})")
    # The refresh comes every min(1 s, aging / 8): half a second old is fresh enough at 300 s,
    # and refreshed at 2 s (aging / 8 = 250 ms), so a short aging time never outruns it.
    half = time.clock_gettime_ns(time.CLOCK_MONOTONIC) - 5 * 10**8
    sw.learn(A, H1, half)
    bridged("l2-refresh-300s", H1, Ether(src=A, dst=B) / IP() / UDP(), H2)
    c.check(sw.mac_entry(A)[2] == half, "aging 300 s: a source seen 0.5 s ago is not rewritten")
    sw.config(FP_ON, aging_ns=2 * 10**9)
    bridged("l2-refresh-2s", H1, Ether(src=A, dst=B) / IP() / UDP(), H2)
    c.check(sw.mac_entry(A)[2] > half + 5 * 10**8 - 10**6, "aging 2 s: a source seen 0.5 s ago is refreshed")
    sw.config(FP_ON)

    # ---- fast path off: today's program ----
    sw.config(0)
    before = sw.punts()
    rc, out = libbpf.test_run(sw.prog, raw(udp4("10.77.2.1")))
    c.check(rc == libbpf.XDP_PASS and out == raw(udp4("10.77.2.1")) and sw.punts() == before,
            f"fast path off: to the socket path unchanged, nothing counted (rc {rc})")
    libbpf.update(sw.fd["fabric_serving"], struct.pack("<I", 0), struct.pack("<I", 1))
    rc, _ = libbpf.test_run(sw.prog, raw(udp4("10.77.2.1")))
    c.check(rc == libbpf.XDP_DROP, f"fast path off, serving, no socket on the queue: dropped as unserved (rc {rc})")
    libbpf.update(sw.fd["fabric_serving"], struct.pack("<I", 0), struct.pack("<I", 0))

    # ---- the residence stamp ----
    sw.config(FP_ON | FP_ROUTER | FP_STAMP)
    frame = raw(udp4("10.77.2.1", ttl=1))
    t0 = time.clock_gettime_ns(time.CLOCK_MONOTONIC)
    rc, out, reason, _ = sw.run(H1, frame)
    t1 = time.clock_gettime_ns(time.CLOCK_MONOTONIC)
    stamp = struct.unpack("<Q", out[:8])[0] if len(out) == len(frame) + 8 else 0
    c.check(rc == libbpf.XDP_PASS and out[8:] == frame and t0 <= stamp <= t1,
            f"FP_STAMP: 8 bytes of metadata, the stamp within the run ({t0} <= {stamp} <= {t1})")
    rc, out, reason, eg = sw.run(H1, raw(udp4("10.77.2.1")))
    c.check(rc == libbpf.XDP_REDIRECT and len(out) == len(raw(udp4("10.77.2.1"))), "FP_STAMP: forwarded frames carry no metadata")
    sw.config(FP_STAMP)
    rc, out, _, _ = sw.run(H1, frame)
    c.check(len(out) == len(frame) + 8, "FP_STAMP with the fast path off: every steered frame stamped")

    # ---- golden ----
    golden = {"comment": "Made by Tests/bpf/fastpath_test.py --write-golden (scapy frames, the XDP fast path's output); "
                         "read by Tests/FabricIOTests/FastPathParityTests.swift.",
              "switch": SWITCH, "cases": golden_cases}
    if write_golden:
        with open(GOLDEN, "w") as f:
            json.dump(golden, f, indent=1)
        print(f"wrote {GOLDEN} ({len(golden_cases)} cases)")
    elif os.path.exists(GOLDEN):
        with open(GOLDEN) as f:
            old = json.load(f)
        c.check(old["cases"] == golden_cases and old["switch"] == SWITCH,
                "XDP's output equals the committed golden file (run with --write-golden after a deliberate change)")
    totals = sw.punts()
    print("punts counted:", {PUNTS[i]: totals[i] for i in range(1, len(PUNTS)) if totals[i]})
    print(f"{c.passed} checks passed, {len(c.failures)} failed ({len(golden_cases)} forwarded frames compared)")
    sw.obj.close()
    return 1 if c.failures else 0


if __name__ == "__main__":
    sys.exit(main())
