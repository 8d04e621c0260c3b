#!/usr/bin/env python3
"""Independent check of frames SwiftFabric builds: scapy parses each (hex, one per line on
stdin) and recomputes its ICRC; prints one JSON object per frame with what it found."""
import json
import sys
from scapy.all import Ether, IP, IPv6, UDP, raw
from scapy.contrib.roce import BTH, AETH

for line in sys.stdin:
    line = line.strip()
    if not line:
        continue
    frame = bytes.fromhex(line)
    pkt = Ether(frame)
    out = dict(ok=BTH in pkt)
    if BTH in pkt:
        b = pkt[BTH]
        tos = pkt[IP].tos if IP in pkt else pkt[IPv6].tc
        out.update(opcode=b.opcode, dqpn=b.dqpn, psn=b.psn, padcount=b.padcount, ackreq=b.ackreq, becn=b.becn,
                   pkey=b.pkey, sport=pkt[UDP].sport, dport=pkt[UDP].dport, dscp=tos >> 2, ecn=tos & 3,
                   ipv6=IPv6 in pkt,
                   # UDP length must cover exactly the UDP header and what follows it.
                   udp_len_ok=pkt[UDP].len == len(raw(pkt[UDP])))
        # Rebuild with the ICRC field cleared (and the IPv4 checksum): scapy computes them.
        fresh = pkt.copy()
        fresh[BTH].icrc = None
        if IP in fresh:
            del fresh[IP].chksum
        rebuilt = raw(fresh)
        out["icrc_ok"] = rebuilt[-4:] == frame[-4:] and len(rebuilt) == len(frame)
        out["ip_chksum_ok"] = rebuilt[14:34] == frame[14:34] if IP in pkt else True
        if AETH in pkt:
            out["syndrome"] = pkt[AETH].syndrome
            out["msn"] = pkt[AETH].msn
        if IPv6 in pkt:
            out["flow_label"] = pkt[IPv6].fl
            out["hlim"] = pkt[IPv6].hlim
    print(json.dumps(out))
