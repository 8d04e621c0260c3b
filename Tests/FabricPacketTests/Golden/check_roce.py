#!/usr/bin/env python3
"""Independent check of frames SwiftFabric builds: scapy parses each (hex, one per line on
stdin) and recomputes its ICRC; prints one JSON object per frame with what it found."""
import json
import sys
from scapy.all import Ether, IP, UDP, raw
from scapy.contrib.roce import BTH

for line in sys.stdin:
    line = line.strip()
    if not line:
        continue
    frame = bytes.fromhex(line)
    pkt = Ether(frame)
    out = dict(ok=BTH in pkt)
    if BTH in pkt:
        b = pkt[BTH]
        out.update(opcode=b.opcode, dqpn=b.dqpn, psn=b.psn, padcount=b.padcount, ackreq=b.ackreq, becn=b.becn,
                   pkey=b.pkey, sport=pkt[UDP].sport, dport=pkt[UDP].dport, dscp=pkt[IP].tos >> 2, ecn=pkt[IP].tos & 3,
                   ip_chksum_ok=(IP(raw(pkt[IP]))[IP].chksum == Ether(raw(Ether(frame)))[IP].chksum))
        # Rebuild with the ICRC field cleared: scapy computes it from scratch.
        fresh = pkt.copy()
        fresh[BTH].icrc = None
        del fresh[IP].chksum
        rebuilt = raw(fresh)
        out["icrc_ok"] = rebuilt[-4:] == frame[-4:] and len(rebuilt) == len(frame)
        out["ip_chksum_ok"] = rebuilt[14:34] == frame[14:34]
    print(json.dumps(out))
