#!/usr/bin/env python3
"""Sends a fixed list of frames, made by scapy, from one test bed host and captures what arrives
at another (FastPathIdentityIntegrationTests: the same frames once through the userspace
pipeline, once through the XDP fast path, and the two captures compared byte for byte).

One process, no race between capture and send: it opens an AF_PACKET socket on the receiving
host's interface inside that host's namespace, then enters the sending host's namespace
(setns(2): a socket keeps the namespace it was made in) and sends the frames one by one on a
second AF_PACKET socket, then reads until every frame of the set has arrived or a timeout.

A frame belongs to the set if it carries MARKER followed by its index (the priming pings, ARP,
ND, the receiving host's own answers do not). Frames received are reported and written in the
order they arrived (`order`: their indices), with the time each took from its send.

It also checks each frame received against what a switch must make of the frame sent, worked
out here independently of the switch's code: a bridge changes nothing; a router sets the MACs
(destination the receiving host's, source the egress port's), decrements the TTL or hop limit,
and leaves the IPv4 header checksum valid (equal to a full recomputation) when it was valid, and
exactly as far from valid as it was when it was not (RFC 1624: an incremental update keeps the
header's one's complement sum). Everything else, up to the last byte of the frame (Ethernet
padding included), is unchanged.

Output (stdout): JSON {"names": [...], "dscp": [...], "sent": [hex...], "received": [hex...],
"order": [index...], "latency_us": [...], "problems": [...], "others": n}: `received`, `order`
and `latency_us` in the order of arrival; `problems` what is missing, repeated or not as the
rules above say (order is for the caller to judge: a switch may let a frame of a higher
priority traffic class overtake). `--pcap-sent` / `--pcap-received` also write them as pcap files.
"""
import argparse
import ctypes
import json
import os
import select
import socket
import struct
import sys
import time

from scapy.layers.inet import ICMP, IP, TCP, UDP
from scapy.layers.inet6 import ICMPv6EchoRequest, IPv6
from scapy.layers.l2 import Ether
from scapy.packet import Padding, Raw

MARKER = b"SFIDENT"
CLONE_NEWNET = 0x40000000
ETH_P_ALL = 0x0003
PACKET_OUTGOING = 4


def enter_namespace(name):
    libc = ctypes.CDLL("libc.so.6", use_errno=True)
    fd = os.open(f"/run/netns/{name}", os.O_RDONLY)
    try:
        if libc.setns(fd, CLONE_NEWNET) != 0:
            e = ctypes.get_errno()
            raise OSError(e, f"setns {name}: {os.strerror(e)}")
    finally:
        os.close(fd)


def payload(index, length):
    """MARKER, the frame's index, then `length` bytes of a pattern with runs of 0x00 and 0xff
    (a byte shifted or dropped anywhere shows)."""
    body = bytes(((i * 7 + index * 13) & 0xFF) if (i // 16) % 4 else (0x00 if (i // 16) % 8 == 0 else 0xFF)
                 for i in range(length))
    return MARKER + bytes([index]) + body


def ones_sum(data):
    """The one's complement sum of 16-bit big-endian words (RFC 1071), folded."""
    if len(data) % 2:
        data += b"\0"
    s = sum(struct.unpack(f"!{len(data) // 2}H", data))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return s


def ipv4_checksum(header):
    h = bytearray(header)
    h[10:12] = b"\0\0"
    return ~ones_sum(bytes(h)) & 0xFFFF


def id_for_checksum(template, target):
    """An IPv4 identification that gives `template` (an IP header, checksum ignored) the
    header checksum `target`, or None if none does."""
    h = bytearray(template)
    h[4:6] = b"\0\0"
    h[10:12] = b"\0\0"
    base = ones_sum(bytes(h))
    for ident in range(0x10000):
        s = base + ident
        s = (s & 0xFFFF) + (s >> 16)
        if (~s & 0xFFFF) == target:
            return ident
    return None


def frames_v4(eth, src, dst):
    """(name, bytes) of every IPv4 frame of the set."""
    out = []

    def add(name, pkt):
        out.append((name, bytes(pkt)))

    i = lambda: len(out)  # noqa: E731 (the index of the frame being made)
    # 14 + 20 + 8 + 8 = 50 bytes: padded to the 60-byte minimum as a NIC would.
    add("udp-min-padded", eth / IP(src=src, dst=dst, ttl=64, flags="DF", id=1) / UDP(sport=40000, dport=9) / Raw(payload(i(), 0))
        / Padding(b"\0" * 10))
    add("udp-ttl2-ect0", eth / IP(src=src, dst=dst, ttl=2, tos=0x02, id=2) / UDP(sport=40001, dport=9) / Raw(payload(i(), 42)))
    add("udp-512-ttl255-ef", eth / IP(src=src, dst=dst, ttl=255, tos=0xB8, id=0x1234) / UDP(sport=40002, dport=5001)
        / Raw(payload(i(), 512 - 14 - 20 - 8 - 8)))
    add("udp-1514-df-ect1", eth / IP(src=src, dst=dst, ttl=64, tos=0x01, flags="DF", id=0xFFFF) / UDP(sport=40003, dport=5001)
        / Raw(payload(i(), 1514 - 14 - 20 - 8 - 8)))
    add("udp-no-checksum-cs6", eth / IP(src=src, dst=dst, ttl=17, tos=0xC0, id=7) / UDP(sport=40004, dport=5002, chksum=0)
        / Raw(payload(i(), 183)))
    add("udp-trailer", eth / IP(src=src, dst=dst, ttl=64, id=8) / UDP(sport=40005, dport=9) / Raw(payload(i(), 100))
        / Padding(bytes([0xA5, 0x5A, 0xFF, 0x00, 0x01, 0x02])))
    add("tcp-syn-options-data", eth / IP(src=src, dst=dst, ttl=64, flags="DF", id=9)
        / TCP(sport=41000, dport=5201, flags="S", seq=0x01020304, window=64240,
              options=[("MSS", 1460), ("SAckOK", b""), ("Timestamp", (123456, 0)), ("NOP", None), ("WScale", 7)])
        / Raw(payload(i(), 20)))
    add("tcp-psh-1000-af41", eth / IP(src=src, dst=dst, ttl=33, tos=0x88, id=10) / TCP(sport=41001, dport=5201, flags="PA",
                                                                                     seq=1000, ack=2000) / Raw(payload(i(), 1000)))
    add("tcp-ack-ce", eth / IP(src=src, dst=dst, ttl=128, tos=0x03, id=11) / TCP(sport=41002, dport=5201, flags="A", seq=5, ack=6)
        / Raw(payload(i(), 91)))
    add("icmp-echo", eth / IP(src=src, dst=dst, ttl=64, id=12) / ICMP(type=8, id=0x5346, seq=1) / Raw(payload(i(), 56)))
    # Header checksums at the edges of the one's complement range, before and after the TTL - 1
    # (which adds 0x0100 to the checksum): 0x0000 (after: 0x0100), 0xfeff (after: 0x0000),
    # 0xff00 and 0xfffe (after: they wrap around), 0x00ff, 0x0100.
    for target in (0x0000, 0xFEFF, 0xFF00, 0xFFFE, 0x00FF, 0x0100):
        name = f"udp-checksum-{target:04x}"
        template = bytes(IP(src=src, dst=dst, ttl=64, tos=0x04, id=0) / UDP(sport=42000 + i(), dport=9) / Raw(payload(i(), 60)))[:20]
        ident = id_for_checksum(template, target)
        if ident is None:
            continue
        pkt = eth / IP(src=src, dst=dst, ttl=64, tos=0x04, id=ident) / UDP(sport=42000 + i(), dport=9) / Raw(payload(i(), 60))
        raw = bytearray(bytes(pkt))
        assert struct.unpack("!H", raw[24:26])[0] == target, name
        out.append((name, bytes(raw)))
        if target == 0x0000:
            # The same header with 0xffff in the checksum: -0 instead of +0, as valid.
            pkt = eth / IP(src=src, dst=dst, ttl=64, tos=0x04, id=ident) / UDP(sport=42000 + i(), dport=9) / Raw(payload(i(), 60))
            raw = bytearray(bytes(pkt))
            if struct.unpack("!H", raw[24:26])[0] == 0x0000:
                raw[24:26] = b"\xff\xff"
                out.append(("udp-checksum-ffff-negative-zero", bytes(raw)))
    # A header checksum that is wrong: forwarded as it is (no switch checks it), still as wrong.
    raw = bytearray(bytes(eth / IP(src=src, dst=dst, ttl=64, id=13) / UDP(sport=43000, dport=9) / Raw(payload(i(), 30))))
    raw[24] ^= 0x5A
    out.append(("udp-bad-ip-checksum", bytes(raw)))
    return out


def frames_v6(eth, src, dst):
    out = []

    def add(name, pkt):
        out.append((name, bytes(pkt)))

    i = lambda: len(out)  # noqa: E731
    add("udp-small", eth / IPv6(src=src, dst=dst, hlim=64) / UDP(sport=40000, dport=9) / Raw(payload(i(), 0)))
    add("udp-hlim2", eth / IPv6(src=src, dst=dst, hlim=2, tc=0, fl=0) / UDP(sport=40001, dport=9) / Raw(payload(i(), 42)))
    add("udp-512-hlim255-ef-fl-max", eth / IPv6(src=src, dst=dst, hlim=255, tc=0xB8, fl=0xFFFFF) / UDP(sport=40002, dport=5001)
        / Raw(payload(i(), 512 - 14 - 40 - 8 - 8)))
    add("udp-1514-ect1", eth / IPv6(src=src, dst=dst, hlim=64, tc=0x01, fl=0x12345) / UDP(sport=40003, dport=5001)
        / Raw(payload(i(), 1514 - 14 - 40 - 8 - 8)))
    add("udp-trailer-cs6", eth / IPv6(src=src, dst=dst, hlim=17, tc=0xC0, fl=0x00001) / UDP(sport=40004, dport=9) / Raw(payload(i(), 100))
        / Padding(bytes([0xA5, 0x5A, 0xFF, 0x00, 0x01, 0x02])))
    add("tcp-syn-options-data", eth / IPv6(src=src, dst=dst, hlim=64, fl=0xABCDE)
        / TCP(sport=41000, dport=5201, flags="S", seq=0x01020304, window=64800,
              options=[("MSS", 1440), ("SAckOK", b""), ("Timestamp", (123456, 0)), ("NOP", None), ("WScale", 7)])
        / Raw(payload(i(), 20)))
    add("tcp-psh-1000-af41", eth / IPv6(src=src, dst=dst, hlim=3, tc=0x88, fl=0x80000) / TCP(sport=41001, dport=5201, flags="PA",
                                                                                           seq=1000, ack=2000) / Raw(payload(i(), 1000)))
    add("tcp-ack-ce", eth / IPv6(src=src, dst=dst, hlim=128, tc=0x03, fl=0x00FFF) / TCP(sport=41002, dport=5201, flags="A", seq=5, ack=6)
        / Raw(payload(i(), 91)))
    add("icmpv6-echo", eth / IPv6(src=src, dst=dst, hlim=64, fl=0x54321) / ICMPv6EchoRequest(id=0x5346, seq=1) / Raw(payload(i(), 56)))
    return out


def dscp(frame):
    """The DSCP of an untagged IPv4 or IPv6 frame."""
    if struct.unpack("!H", frame[12:14])[0] == 0x0800:
        return frame[15] >> 2
    return (struct.unpack("!H", frame[14:16])[0] >> 4 & 0xFF) >> 2


def mac_bytes(mac):
    return bytes(int(x, 16) for x in mac.split(":"))


def expected_problems(index, name, sent, got, routed, out_src, out_dst):
    """What is wrong with `got`, the frame received for `sent`, by the rules in the module's
    doc; [] if nothing."""
    if not routed:
        return [] if got == sent else [f"{index} {name}: the bridge changed the frame ({first_difference(sent, got)})"]
    if len(got) != len(sent):
        return [f"{index} {name}: {len(got)} bytes received for {len(sent)} sent"]
    want = bytearray(sent)
    want[0:6] = mac_bytes(out_dst)
    want[6:12] = mac_bytes(out_src)
    problems = []
    if struct.unpack("!H", sent[12:14])[0] == 0x0800:
        want[22] = sent[22] - 1
        header_sent, header_got = sent[14:34], got[14:34]
        if ones_sum(header_sent) == 0xFFFF:
            want[24:26] = struct.pack("!H", ipv4_checksum(bytes(want[14:34])))
        else:
            # Not valid when sent: the checksum must stay exactly as far off.
            if ones_sum(header_got) != ones_sum(header_sent):
                problems.append(f"{index} {name}: header sum {ones_sum(header_got):#06x} received, {ones_sum(header_sent):#06x} sent")
            want[24:26] = got[24:26]
    else:
        want[21] = sent[21] - 1
    if bytes(want) != got:
        problems.append(f"{index} {name}: not what a router makes of it ({first_difference(bytes(want), got)})")
    return problems


def first_difference(a, b):
    for k in range(min(len(a), len(b))):
        if a[k] != b[k]:
            return f"byte {k}: {a[k]:#04x} expected, {b[k]:#04x} received"
    return f"{len(a)} bytes expected, {len(b)} received"


def write_pcap(path, frames):
    with open(path, "wb") as f:
        f.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1))
        for k, data in enumerate(frames):
            f.write(struct.pack("<IIII", 0, k, len(data), len(data)))
            f.write(data)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--family", type=int, choices=(4, 6), required=True)
    ap.add_argument("--tx", required=True, help="NAMESPACE:INTERFACE that sends")
    ap.add_argument("--rx", required=True, help="NAMESPACE:INTERFACE that receives")
    ap.add_argument("--eth-src", required=True)
    ap.add_argument("--eth-dst", required=True, help="the receiving host's MAC (bridge) or the ingress port's (router)")
    ap.add_argument("--ip-src", required=True)
    ap.add_argument("--ip-dst", required=True)
    ap.add_argument("--router", metavar="EGRESS_MAC,HOST_MAC", help="expect a router's rewrite: source EGRESS_MAC, destination HOST_MAC")
    ap.add_argument("--gap", type=float, default=0.005, help="seconds between frames")
    ap.add_argument("--timeout", type=float, default=3.0, help="seconds to wait after the last frame")
    ap.add_argument("--pcap-sent")
    ap.add_argument("--pcap-received")
    ap.add_argument("--list", action="store_true", help="print the frames' names and lengths, send nothing")
    a = ap.parse_args()

    eth = Ether(src=a.eth_src, dst=a.eth_dst)
    frames = (frames_v4 if a.family == 4 else frames_v6)(eth, a.ip_src, a.ip_dst)
    for k, (name, data) in enumerate(frames):
        assert MARKER + bytes([k]) in data and data.count(MARKER) == 1, name
    if a.list:
        for k, (name, data) in enumerate(frames):
            print(k, name, len(data))
        return 0

    rx_ns, rx_if = a.rx.split(":")
    tx_ns, tx_if = a.tx.split(":")
    enter_namespace(rx_ns)
    rx = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_ALL))
    rx.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
    rx.bind((rx_if, ETH_P_ALL))
    enter_namespace(tx_ns)
    tx = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
    tx.bind((tx_if, 0))

    received = []
    arrived_at = []
    others = 0

    def drain(until):
        nonlocal others
        while len(received) < len(frames):
            left = until - time.monotonic()
            if left <= 0 or not select.select([rx], [], [], left)[0]:
                return
            data, addr = rx.recvfrom(65536)
            if addr[2] == PACKET_OUTGOING:
                continue
            at = data.find(MARKER)
            if at < 0:
                others += 1
                continue
            received.append(data)
            arrived_at.append(time.monotonic())

    sent_at = []
    for _, data in frames:
        sent_at.append(time.monotonic())
        tx.send(data)
        drain(time.monotonic() + a.gap)
    drain(time.monotonic() + a.timeout)

    problems = []
    by_index = {}
    for data in received:
        at = data.find(MARKER) + len(MARKER)
        k = data[at] if at < len(data) else -1
        if k in by_index or not 0 <= k < len(frames):
            problems.append(f"frame with marker index {k} received again or unknown")
            continue
        by_index[k] = data
    missing = [frames[k][0] for k in range(len(frames)) if k not in by_index]
    if missing:
        problems.append(f"not received: {', '.join(missing)}")
    order = [data[data.find(MARKER) + len(MARKER)] for data in received]
    router = a.router.split(",") if a.router else None
    for k, got in sorted(by_index.items()):
        name, sent = frames[k]
        problems += expected_problems(k, name, sent, got, router is not None, *(router or (None, None)))

    if a.pcap_sent:
        write_pcap(a.pcap_sent, [d for _, d in frames])
    if a.pcap_received:
        write_pcap(a.pcap_received, received)
    json.dump({"names": [n for n, _ in frames], "dscp": [dscp(d) for _, d in frames], "sent": [d.hex() for _, d in frames],
               "received": [d.hex() for d in received], "order": order,
               "latency_us": [round((t - sent_at[k]) * 1e6) if 0 <= k < len(frames) else -1 for k, t in zip(order, arrived_at)],
               "problems": problems, "others": others}, sys.stdout)
    print()
    return 0


if __name__ == "__main__":
    sys.exit(main())
