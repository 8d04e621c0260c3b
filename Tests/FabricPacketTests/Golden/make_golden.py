#!/usr/bin/env python3
"""Golden frames for SwiftFabric's parser and rewrite tests, built by scapy (an independent
implementation of every header, including the RoCEv2 ICRC).

    pip install scapy && python3 make_golden.py > golden.json

Each case: the frame as hex, what a parser must find in it, and for IP frames the exact bytes
after the rewrite a router does (new MACs, TTL/hop limit - 1, DSCP/ECN changed), built by scapy
from the same fields with the IPv4 checksum recomputed from scratch. RoCEv2 cases keep their
original ICRC in the rewritten frame and this script asserts scapy recomputes the same value:
the rewrite touches only fields the ICRC masks.
"""
import json
from scapy.all import Ether, Dot1Q, Dot1AD, IP, IPv6, IPv6ExtHdrHopByHop, UDP, TCP, ARP, Raw, raw
from scapy.layers.inet6 import ICMPv6ND_NS, ICMPv6ND_NA, ICMPv6NDOptSrcLLAddr, ICMPv6NDOptDstLLAddr
from scapy.contrib.roce import BTH, AETH, cnp
from scapy.contrib.mac_control import MACControlClassBasedFlowControl, MACControlPause

SRC, DST = "02:5f:00:00:00:01", "02:5f:00:00:00:02"
NEW_SRC, NEW_DST = "02:5f:00:00:01:fe", "02:5f:00:00:00:09"


def reth(va=0x1122334455667788, rkey=0xAABBCCDD, length=256):
    return va.to_bytes(8, "big") + rkey.to_bytes(4, "big") + length.to_bytes(4, "big")


def expect(pkt, **kw):
    e = dict(kind="other", error=None, etherType=0, hasVLAN=False, pcp=0, vid=0, l3Offset=14, l3Length=0,
             l4Offset=0, ipProtocol=0, dscp=0, ecn=0, ttl=0, l4Skipped=False, sourcePort=0,
             destinationPort=0, bthOffset=0, roceOpcode=0, destinationQP=0, psn=0)
    e.update(kw)
    return e


def ip_fields(pkt, l3):
    if IP in pkt:
        ip = pkt[IP]
        return dict(etherType=0x0800, l3Offset=l3, l3Length=ip.len, ipProtocol=ip.proto,
                    dscp=ip.tos >> 2, ecn=ip.tos & 3, ttl=ip.ttl)
    ip = pkt[IPv6]
    return dict(etherType=0x86DD, l3Offset=l3, l3Length=40 + ip.plen, ipProtocol=ip.nh,
                dscp=ip.tc >> 2, ecn=ip.tc & 3, ttl=ip.hlim)


def rewritten(pkt, dscp, ecn):
    """The frame after forwarding: new MACs, TTL-1, new DSCP/ECN, IPv4 checksum from scratch."""
    q = pkt.copy()
    q[Ether].src, q[Ether].dst = NEW_SRC, NEW_DST
    if IP in q:
        q[IP].ttl -= 1
        q[IP].tos = dscp << 2 | ecn
        del q[IP].chksum
    else:
        q[IPv6].hlim -= 1
        q[IPv6].tc = dscp << 2 | ecn
    if BTH in q:
        original = raw(pkt)[-4:]
        q[BTH].icrc = int.from_bytes(original, "big")  # keep the same 4 bytes, do not recompute
        # Independent check: scapy's own ICRC of the rewritten packet equals the original.
        fresh = q.copy()
        fresh[BTH].icrc = None
        assert raw(fresh)[-4:] == original, "rewrite changed an ICRC-covered byte"
    return raw(q)


cases = []


def add(name, pkt, rewrite=None, **kw):
    c = dict(name=name, hex=raw(pkt).hex(), expect=expect(pkt, **kw))
    if rewrite:
        c["rewrite"] = dict(source=NEW_SRC, destination=NEW_DST, dscp=rewrite[0], ecn=rewrite[1],
                            hex=rewritten(pkt, *rewrite).hex())
    cases.append(c)


def roce_v4(name, bth, payload=b"", tos=26 << 2 | 2, vlan=None, rewrite=(26, 3), sport=0xC0DE, kind="rocev2"):
    eth = Ether(src=SRC, dst=DST)
    l3 = 14
    if vlan:
        eth = eth / Dot1Q(prio=vlan[0], vlan=vlan[1])
        l3 = 18
    pkt = eth / IP(src="10.77.1.1", dst="10.77.2.1", tos=tos, ttl=64) / UDP(sport=sport, dport=4791) / bth / Raw(payload)
    pkt = Ether(raw(pkt))
    f = ip_fields(pkt, l3)
    add(name, pkt, rewrite, kind=kind, hasVLAN=bool(vlan), pcp=vlan[0] if vlan else 0, vid=vlan[1] if vlan else 0,
        l4Offset=l3 + 20, sourcePort=sport, destinationPort=4791, bthOffset=l3 + 28,
        roceOpcode=pkt[BTH].opcode, destinationQP=pkt[BTH].dqpn, psn=pkt[BTH].psn, **f)


roce_v4("ipv4-rc-rdma-write-only-reth", BTH(opcode=0x0A, dqpn=0x000123, psn=0x00ABCD, ackreq=1), reth() + bytes(range(64)))
roce_v4("ipv4-rc-send-only-vlan", BTH(opcode=0x04, dqpn=0x0A0B0C, psn=7), b"hello roce" * 3, vlan=(3, 100))
roce_v4("ipv4-rc-ack-aeth", BTH(opcode=0x11, dqpn=0x000042, psn=0x000100) / AETH(syndrome=0x1F, msn=5), b"", rewrite=(26, 2))
roce_v4("ipv4-cnp", cnp(0x000777), b"", tos=48 << 2, rewrite=(48, 0), sport=0xD00D, kind="cnp")
roce_v4("ipv4-rc-rdma-write-middle", BTH(opcode=0x07, dqpn=0x00FFFF, psn=0xFFFFFF, padcount=2), bytes(1024), rewrite=(26, 3))

# IPv6 RoCEv2: RDMA WRITE FIRST with RETH.
p6 = Ether(src=SRC, dst=DST) / IPv6(src="fd77::1:1", dst="fd77::2:1", tc=26 << 2 | 2, fl=0x12345, hlim=64) \
    / UDP(sport=0xC123, dport=4791) / BTH(opcode=0x06, dqpn=0x00BEEF, psn=0x10) / Raw(reth() + bytes(100))
p6 = Ether(raw(p6))
add("ipv6-rc-rdma-write-first", p6, (26, 3), kind="rocev2", l4Offset=54, sourcePort=0xC123, destinationPort=4791,
    bthOffset=62, roceOpcode=0x06, destinationQP=0x00BEEF, psn=0x10, **ip_fields(p6, 14))

# IPv6 with a hop-by-hop extension header: forwarded, L4 not parsed.
e6 = Ether(raw(Ether(src=SRC, dst=DST) / IPv6(src="fd77::1:1", dst="fd77::2:1", hlim=9) / IPv6ExtHdrHopByHop()
                / UDP(sport=1000, dport=4791) / Raw(bytes(40))))
add("ipv6-hop-by-hop-udp", e6, (0, 0), kind="ipv6", l4Skipped=True, **ip_fields(e6, 14))

# IPv4 with options (IHL 6): plain UDP.
o4 = Ether(raw(Ether(src=SRC, dst=DST) / IP(src="10.77.1.1", dst="10.77.2.1", ttl=5, options=b"\x01\x01\x01\x00")
                / UDP(sport=5000, dport=53) / Raw(b"x" * 20)))
add("ipv4-options-udp", o4, (10, 1), kind="ipv4", l4Offset=38, sourcePort=5000, destinationPort=53, **ip_fields(o4, 14))

t4 = Ether(raw(Ether(src=SRC, dst=DST) / IP(src="10.77.1.1", dst="10.77.2.1", tos=0x10) / TCP(sport=40000, dport=5201, flags="S")))
add("ipv4-tcp-syn", t4, (0, 0), kind="ipv4", l4Offset=34, sourcePort=40000, destinationPort=5201, **ip_fields(t4, 14))

f4 = Ether(raw(Ether(src=SRC, dst=DST) / IP(src="10.77.1.1", dst="10.77.2.1", flags="MF", frag=0, proto=17) / Raw(bytes(64))))
add("ipv4-first-fragment", f4, (0, 0), kind="ipv4", l4Skipped=True, **ip_fields(f4, 14))

arp = Ether(raw(Ether(src=SRC, dst="ff:ff:ff:ff:ff:ff") / ARP(op=1, hwsrc=SRC, psrc="10.77.1.1", pdst="10.77.1.254")))
add("arp-request", arp, kind="arp", etherType=0x0806, l3Length=28)

pfc = Ether(raw(Ether(src=SRC, dst="01:80:c2:00:00:01") / MACControlClassBasedFlowControl(
    c3_enabled=1, c3_pause_time=0xFFFF, c5_enabled=1, c5_pause_time=0x0100)))
add("pfc-priority-3-and-5", pfc, kind="pfc", etherType=0x8808)
pause = Ether(raw(Ether(src=SRC, dst="01:80:c2:00:00:01") / MACControlPause(pause_time=0x1234)))
add("pause", pause, kind="pause", etherType=0x8808)

qinq = Ether(raw(Ether(src=SRC, dst=DST) / Dot1AD(vlan=10) / Dot1Q(vlan=20) / IP(src="10.77.1.1", dst="10.77.2.1") / UDP()))
add("qinq-stacked", qinq, kind="other", error="stacked_vlan", hasVLAN=True, vid=10, l3Offset=0)

# Neighbour discovery: a host (fd77:2::1, 02:5f:00:00:00:02) asks for the switch's address
# fd77:2::fe on a port whose MAC is 02:5f:00:00:02:fe. "reply" is the advertisement a router
# must answer with (RFC 4861 7.2.4: solicited, override, router flags; target link-layer option).
PORT_MAC, HOST_MAC = "02:5f:00:00:02:fe", "02:5f:00:00:00:02"
ns = Ether(raw(Ether(src=HOST_MAC, dst="33:33:ff:00:00:fe") / IPv6(src="fd77:2::1", dst="ff02::1:ff00:fe", hlim=255)
               / ICMPv6ND_NS(tgt="fd77:2::fe") / ICMPv6NDOptSrcLLAddr(lladdr=HOST_MAC)))
na = Ether(src=PORT_MAC, dst=HOST_MAC) / IPv6(src="fd77:2::fe", dst="fd77:2::1", hlim=255) \
    / ICMPv6ND_NA(R=1, S=1, O=1, tgt="fd77:2::fe") / ICMPv6NDOptDstLLAddr(lladdr=PORT_MAC)
c = dict(name="ipv6-nd-solicitation", hex=raw(ns).hex(),
         expect=expect(ns, kind="ipv6", l4Offset=54, **ip_fields(ns, 14)), reply=raw(na).hex())
cases.append(c)

print(json.dumps(dict(generator="scapy " + __import__("scapy").VERSION, cases=cases), indent=1))
