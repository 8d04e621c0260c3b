#!/usr/bin/env python3
"""Independent check of a capture: scapy reads the pcap/pcapng file, and for every RoCEv2
frame (UDP 4791) recomputes its ICRC (and the IPv4 header checksum) and compares them with the
frame's. Prints one JSON object: how many RoCEv2 frames, how many with a valid ICRC and IPv4
checksum, the longest frame, and the lengths of the first few bad ones."""
import json
import sys
from scapy.all import Ether, IP, UDP, raw, rdpcap
from scapy.contrib.roce import BTH

roce = ok = longest = 0
bad = []
for p in rdpcap(sys.argv[1]):
    frame = bytes(p)
    pkt = Ether(frame)
    if UDP not in pkt or pkt[UDP].dport != 4791 or BTH not in pkt:
        continue
    roce += 1
    longest = max(longest, len(frame))
    fresh = pkt.copy()
    fresh[BTH].icrc = None
    if IP in fresh:
        del fresh[IP].chksum
    rebuilt = raw(fresh)
    good = len(rebuilt) == len(frame) and rebuilt[-4:] == frame[-4:] and (IP not in pkt or rebuilt[14:34] == frame[14:34])
    if good:
        ok += 1
    elif len(bad) < 5:
        bad.append(len(frame))
print(json.dumps(dict(roce=roce, ok=ok, longest=longest, bad=bad)))
