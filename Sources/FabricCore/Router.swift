import FabricPacket

/// Pipeline stage: the RoCEv2-aware L3 router.
///
/// Per frame: parse (a malformed frame is dropped with its parse error counted), consume
/// link-local MAC Control (PAUSE/PFC), answer ARP for the switch's own addresses and learn
/// from every ARP, answer ICMP echo to its own addresses; otherwise classify (DSCP or PCP to
/// traffic class, per the ingress port's trust mode), count RoCEv2 and CNP (a UDP 4791 packet
/// with an unknown BTH opcode is counted as a parse error but routed as UDP), look up the
/// destination (LPM), choose an ECMP member with the `Selector`, and rewrite: MACs, TTL/hop
/// limit - 1 with the IPv4 checksum updated incrementally. Nothing the RoCEv2 ICRC covers is
/// touched. Frames whose next hop has no MAC yet get the `.hold` verdict; the datapath parks
/// them and sends the ARP request.
public struct Router<Selector: PathSelector & ~Copyable>: ~Copyable {
    public var fib: FIB
    public var selector: Selector
    public var neighbours: NeighbourTable
    public let portCount: Int
    @usableFromInline let portMAC: UnsafeMutablePointer<UInt64>
    @usableFromInline let trustPCP: UnsafeMutablePointer<Bool>
    @usableFromInline let dscpToTC: UnsafeMutablePointer<UInt8>
    @usableFromInline let pcpToTC: UnsafeMutablePointer<UInt8>
    @usableFromInline let localV4: UnsafeMutablePointer<UInt32>
    @usableFromInline let localV4Port: UnsafeMutablePointer<Int32>
    @usableFromInline let localV4Mask: UnsafeMutablePointer<UInt32>
    @usableFromInline let localV4Count: Int
    @usableFromInline let localV6: UnsafeMutablePointer<IPv6Address>
    @usableFromInline let localV6Port: UnsafeMutablePointer<Int32>
    @usableFromInline let localV6Count: Int
    /// Set when ARP taught the switch a neighbour: the datapath then releases held frames.
    public var learnedNeighbour = false

    public init(config: SwitchConfig, portMACs: [MACAddress], selector: consuming Selector) {
        precondition(portMACs.count == config.ports.count)
        fib = FIB(entries: config.fibEntries())
        self.selector = selector
        neighbours = NeighbourTable()
        portCount = config.ports.count
        portMAC = .allocate(capacity: portCount)
        trustPCP = .allocate(capacity: portCount)
        for (i, p) in config.ports.enumerated() {
            (portMAC + i).initialize(to: portMACs[i].rawValue)
            (trustPCP + i).initialize(to: p.trust == .pcp)
        }
        dscpToTC = .allocate(capacity: 64)
        dscpToTC.initialize(from: config.qos.dscpToTC, count: 64)
        pcpToTC = .allocate(capacity: 8)
        pcpToTC.initialize(from: config.qos.pcpToTC, count: 8)
        var v4: [(UInt32, Int32, UInt32)] = []
        var v6: [(IPv6Address, Int32)] = []
        for (i, p) in config.ports.enumerated() {
            for a in p.addresses {
                switch a.address {
                case .v4(let x): v4.append((x, Int32(i), a.length == 0 ? 0 : ~UInt32(0) << (32 - a.length)))
                case .v6(let x): v6.append((x, Int32(i)))
                }
            }
        }
        localV4Count = v4.count
        localV4 = .allocate(capacity: max(1, v4.count))
        localV4Port = .allocate(capacity: max(1, v4.count))
        localV4Mask = .allocate(capacity: max(1, v4.count))
        for (i, e) in v4.enumerated() {
            (localV4 + i).initialize(to: e.0)
            (localV4Port + i).initialize(to: e.1)
            (localV4Mask + i).initialize(to: e.2)
        }
        localV6Count = v6.count
        localV6 = .allocate(capacity: max(1, v6.count))
        localV6.initialize(from: v6.map(\.0), count: v6.count)
        localV6Port = .allocate(capacity: max(1, v6.count))
        localV6Port.initialize(from: v6.map(\.1), count: v6.count)
        for n in config.neighbours {
            switch n.address {
            case .v4(let a): neighbours.addStatic(a, mac: n.mac)
            case .v6(let a): neighbours.addStatic(a, mac: n.mac)
            }
        }
    }

    deinit {
        portMAC.deallocate()
        trustPCP.deallocate()
        dscpToTC.deallocate()
        pcpToTC.deallocate()
        localV4.deallocate()
        localV4Port.deallocate()
        localV4Mask.deallocate()
        localV6.deallocate()
        localV6Port.deallocate()
    }

    /// The switch's first IPv6 address on `port` (source of neighbour solicitations).
    public func sourceAddress6(port: Int) -> IPv6Address? {
        for i in 0..<localV6Count where Int(localV6Port[i]) == port { return localV6[i] }
        return nil
    }

    public func mac(port: Int) -> MACAddress { MACAddress(rawValue: portMAC[port]) }

    /// The switch's IPv4 address on `port` to use as the source when asking for `target`.
    public func sourceAddress(port: Int, for target: UInt32) -> UInt32? {
        var fallback: UInt32?
        for i in 0..<localV4Count where Int(localV4Port[i]) == port {
            if target & localV4Mask[i] == localV4[i] & localV4Mask[i] { return localV4[i] }
            fallback = fallback ?? localV4[i]
        }
        return fallback
    }

    @inlinable @inline(__always)
    func isLocalV4(_ a: UInt32) -> Int? {
        for i in 0..<localV4Count where localV4[i] == a { return Int(localV4Port[i]) }
        return nil
    }

    /// The port of our IPv6 address `a`, if it is ours.
    @inlinable @inline(__always)
    func isLocalV6(_ a: IPv6Address) -> Int? {
        for i in 0..<localV6Count where localV6[i] == a { return Int(localV6Port[i]) }
        return nil
    }

    public mutating func process(_ batch: inout Batch, frames: UnsafeMutableRawPointer, counters: UnsafeMutablePointer<PortCounters>) {
        let ingress = batch.ingress
        let now = batch.timestamp
        let myMAC = portMAC[ingress]
        for i in 0..<batch.count {
            let frame = frames + Int(batch.addr[i])
            let len = Int(batch.len[i])
            let info = FrameParser.parse(frame, length: len)
            batch.ipVersion[i] = 0
            if let e = info.error {
                counters[ingress].parseErrors[raw: Int(e.rawValue)] &+= 1
                // UDP 4791 with a BTH opcode we do not know (XRC, vendor extensions) is still a
                // well-formed IP packet: counted, and routed as plain UDP.
                if e != .unknownRoCEOpcode {
                    batch.verdict[i] = .drop(.malformed)
                    continue
                }
            }
            switch info.kind {
            case .pfc, .pause, .macControl:
                batch.verdict[i] = .consume   // link-local: PFC handling comes with the lossless work
                continue
            case .arp:
                batch.verdict[i] = arp(frame, info: info, ingress: ingress, now: now, counters: counters)
                continue
            case .other:
                batch.verdict[i] = .drop(.notRoutable)
                continue
            default:
                break
            }
            // IP: must be addressed to this port's MAC.
            let dstMAC = EthernetView.loadMAC(UnsafeRawPointer(frame))
            // IPv6 multicast MACs (33:33:...) carry neighbour discovery to us.
            guard dstMAC == myMAC || (dstMAC >> 32 == 0x3333 && info.etherType == EtherType.ipv6) else {
                batch.verdict[i] = .drop(.notRoutable)
                continue
            }
            // Classification.
            let tc = trustPCP[ingress] ? (info.hasVLAN ? pcpToTC[Int(info.pcp)] : 0) : dscpToTC[Int(info.dscp)]
            batch.tc[i] = tc
            batch.l3Offset[i] = info.l3Offset
            batch.ipVersion[i] = info.etherType == EtherType.ipv4 ? 4 : 6
            if info.kind == .rocev2 { counters[ingress].roceFrames &+= 1 } else if info.kind == .cnp { counters[ingress].cnpFrames &+= 1 }
            if info.l4Skipped { counters[ingress].l4Skipped &+= 1 }

            let ip = frame + Int(info.l3Offset)
            if info.etherType == EtherType.ipv4 {
                batch.verdict[i] = route4(frame, ip: ip, info: info, batch: &batch, index: i, ingress: ingress, now: now, counters: counters)
            } else {
                batch.verdict[i] = route6(frame, ip: ip, info: info, batch: &batch, index: i, ingress: ingress, now: now, counters: counters)
            }
        }
    }

    @inlinable @inline(__always)
    mutating func route4(_ frame: UnsafeMutableRawPointer, ip: UnsafeMutableRawPointer, info: PacketInfo, batch: inout Batch,
                         index i: Int, ingress: Int, now: UInt64, counters: UnsafeMutablePointer<PortCounters>) -> Verdict {
        let dst = UInt32(bigEndian: ip.loadUnaligned(fromByteOffset: 16, as: UInt32.self))
        if isLocalV4(dst) != nil {
            return icmpEcho4(frame, ip: ip, info: info, ingress: ingress, counters: counters)
        }
        guard info.ttl > 1 else { return .drop(.ttlExpired) }
        guard let target = fib.v4.lookup(dst) else { return .drop(.noRoute) }
        let n = fib.memberCount(target: target)
        var m = 0
        if n > 1 {
            let src = UInt32(bigEndian: ip.loadUnaligned(fromByteOffset: 12, as: UInt32.self))
            let h = FlowHash.v4(source: src, destination: dst, protocolNumber: info.ipProtocol,
                                sourcePort: info.sourcePort, destinationPort: info.destinationPort)
            m = selector.select(target: target, mode: fib.mode(target: target), ports: fib.memberPorts(target: target), memberCount: n,
                                flowHash: h, length: UInt32(info.l3Length), now: now)
        }
        let hop = fib.member(target: target, m)
        let egress = fib.port(hop: hop)
        let nextHop = fib.isConnected(hop: hop) ? dst : fib.gateway4(hop: hop)
        Rewrite.decrementIPv4TTL(ip)
        storeMAC(MACAddress(rawValue: portMAC[egress]), at: frame + 6)
        guard let mac = neighbours.lookup(nextHop, now: now) else {
            batch.holdPort[i] = UInt16(truncatingIfNeeded: egress)
            batch.holdNextHop[i] = nextHop
            return .hold
        }
        storeMAC(mac, at: frame)
        return .port(egress)
    }

    @inlinable @inline(__always)
    mutating func route6(_ frame: UnsafeMutableRawPointer, ip: UnsafeMutableRawPointer, info: PacketInfo, batch: inout Batch,
                         index i: Int, ingress: Int, now: UInt64, counters: UnsafeMutablePointer<PortCounters>) -> Verdict {
        let dst = loadIPv6(UnsafeRawPointer(ip + 24))
        if info.ipProtocol == 58 && info.l4Offset > 0 {
            if let v = icmp6(frame, ip: ip, info: info, dst: dst, ingress: ingress, now: now, counters: counters) { return v }
        }
        if isLocalV6(dst) != nil { return .consume }
        if dst.high >> 56 == 0xFF {
            // Link-scope multicast (RS, MLD, DAD) is for this link only: used up here.
            return dst.high >> 48 & 0x0F == 0x02 ? .consume : .drop(.notRoutable)
        }
        guard info.ttl > 1 else { return .drop(.ttlExpired) }
        guard let target = fib.v6.lookup(dst) else { return .drop(.noRoute) }
        let n = fib.memberCount(target: target)
        var m = 0
        if n > 1 {
            let h = FlowHash.v6(source: loadIPv6(UnsafeRawPointer(ip + 8)), destination: dst, protocolNumber: info.ipProtocol,
                                sourcePort: info.sourcePort, destinationPort: info.destinationPort)
            m = selector.select(target: target, mode: fib.mode(target: target), ports: fib.memberPorts(target: target), memberCount: n,
                                flowHash: h, length: UInt32(info.l3Length), now: now)
        }
        let hop = fib.member(target: target, m)
        let egress = fib.port(hop: hop)
        let nextHop = fib.isConnected(hop: hop) ? dst : fib.gateway6(hop: hop)
        Rewrite.decrementIPv6HopLimit(ip)
        storeMAC(MACAddress(rawValue: portMAC[egress]), at: frame + 6)
        guard let mac = neighbours.lookup(nextHop, now: now) else {
            batch.holdPort[i] = UInt16(truncatingIfNeeded: egress)
            batch.holdNextHop6[i] = nextHop
            batch.holdIsV6[i] = true
            return .hold
        }
        storeMAC(mac, at: frame)
        return .port(egress)
    }

    /// ICMPv6 the switch answers or learns from (RFC 4861, RFC 4443): neighbour solicitations
    /// for its addresses (answered in place with an advertisement), advertisements (learned),
    /// and echo requests to its addresses. Nil: not ours, route as usual.
    @inlinable
    mutating func icmp6(_ frame: UnsafeMutableRawPointer, ip: UnsafeMutableRawPointer, info: PacketInfo, dst: IPv6Address,
                        ingress: Int, now: UInt64, counters: UnsafeMutablePointer<PortCounters>) -> Verdict? {
        let icmp = frame + Int(info.l4Offset)
        let length = Int(info.l3Length) - IPv6View.length
        guard length >= 4 else { return nil }
        let type = icmp.load(as: UInt8.self)
        switch type {
        case 135, 136:  // neighbour solicitation / advertisement
            guard length >= 24, info.ttl == 255 else { return .drop(.notRoutable) }  // RFC 4861 7.1.1
            let target = loadIPv6(UnsafeRawPointer(icmp + 8))
            let src = loadIPv6(UnsafeRawPointer(ip + 8))
            // Link-layer address option: source (1) in a solicitation, target (2) in an advert.
            var lla: MACAddress?
            var off = 24
            while off + 8 <= length {
                let optType = icmp.load(fromByteOffset: off, as: UInt8.self)
                let optLen = Int(icmp.load(fromByteOffset: off + 1, as: UInt8.self)) * 8
                guard optLen > 0, off + optLen <= length else { break }
                if optType == (type == 135 ? 1 : 2) { lla = MACAddress(rawValue: EthernetView.loadMAC(UnsafeRawPointer(icmp + off + 2))) }
                off += optLen
            }
            let learnIP = type == 135 ? src : target
            if let mac = lla, !mac.isGroup, learnIP.high != 0 || learnIP.low != 0 {
                if neighbours.lookup(learnIP, now: now) != mac { learnedNeighbour = true }
                neighbours.learn(learnIP, mac: mac, now: now)
            }
            guard type == 135, isLocalV6(target) == ingress, src.high != 0 || src.low != 0, let asker = lla else { return .consume }
            // Advertisement in place: to the asker, from our address, flags Router, Solicited,
            // Override (0x80, 0x40, 0x20 of the first flags byte), our MAC as target option.
            let me = MACAddress(rawValue: portMAC[ingress])
            storeIPv6(src, at: ip + 24)
            storeIPv6(target, at: ip + 8)
            ip.storeBytes(of: UInt16(32).bigEndian, toByteOffset: 4, as: UInt16.self)
            icmp.storeBytes(of: UInt32(0x8000_0000 | 0x4000_0000 | 0x2000_0000).bigEndian, toByteOffset: 4, as: UInt32.self)
            icmp.storeBytes(of: UInt8(136), as: UInt8.self)
            icmp.storeBytes(of: UInt8(2), toByteOffset: 24, as: UInt8.self)
            icmp.storeBytes(of: UInt8(1), toByteOffset: 25, as: UInt8.self)
            storeMAC(me, at: icmp + 26)
            icmp.storeBytes(of: icmpv6Checksum(ip: UnsafeRawPointer(ip), messageLength: 32).bigEndian, toByteOffset: 2, as: UInt16.self)
            Rewrite.setMACs(frame, destination: asker, source: me)
            counters[ingress].arpRepliesSent &+= 1
            return .port(ingress)
        case 128 where isLocalV6(dst) != nil:  // echo request to us: reply in place
            let src = loadIPv6(UnsafeRawPointer(ip + 8))
            storeIPv6(dst, at: ip + 8)
            storeIPv6(src, at: ip + 24)
            ip.storeBytes(of: UInt8(64), toByteOffset: 7, as: UInt8.self)
            let sum = UInt16(bigEndian: icmp.loadUnaligned(fromByteOffset: 2, as: UInt16.self))
            icmp.storeBytes(of: UInt8(129), as: UInt8.self)
            // Only the type changes (128 -> 129); swapping addresses keeps the pseudo-header sum.
            icmp.storeBytes(of: Rewrite.adjustChecksum(sum, old: 0x8000, new: 0x8100).bigEndian, toByteOffset: 2, as: UInt16.self)
            let asker = MACAddress(rawValue: EthernetView.loadMAC(UnsafeRawPointer(frame + 6)))
            Rewrite.setMACs(frame, destination: asker, source: MACAddress(rawValue: portMAC[ingress]))
            counters[ingress].icmpEchoReplies &+= 1
            return .port(ingress)
        default:
            return nil
        }
    }

    /// ARP (RFC 826): learn the sender if it is on the ingress port's subnet; answer requests
    /// for our address on that port by turning the frame into the reply.
    @inlinable
    mutating func arp(_ frame: UnsafeMutableRawPointer, info: PacketInfo, ingress: Int, now: UInt64,
                      counters: UnsafeMutablePointer<PortCounters>) -> Verdict {
        let a = frame + Int(info.l3Offset)
        // Ethernet/IPv4 ARP only: htype 1, ptype 0x0800, hlen 6, plen 4.
        guard UInt64(bigEndian: a.loadUnaligned(as: UInt64.self)) >> 16 == 0x0001_0800_0604 else { return .drop(.notRoutable) }
        let op = UInt16(bigEndian: a.loadUnaligned(fromByteOffset: 6, as: UInt16.self))
        let senderMAC = MACAddress(rawValue: EthernetView.loadMAC(UnsafeRawPointer(a + 8)))
        let senderIP = UInt32(bigEndian: a.loadUnaligned(fromByteOffset: 14, as: UInt32.self))
        let targetIP = UInt32(bigEndian: a.loadUnaligned(fromByteOffset: 24, as: UInt32.self))
        if !senderMAC.isGroup && !senderMAC.isZero && onSubnet(senderIP, port: ingress) {
            if neighbours.lookup(senderIP, now: now) != senderMAC { learnedNeighbour = true }
            neighbours.learn(senderIP, mac: senderMAC, now: now)
        }
        guard op == 1, let port = isLocalV4(targetIP), port == ingress else { return .consume }
        // Reply in place: op 2, sender = us, target = the asker; Ethernet back to the asker.
        let me = MACAddress(rawValue: portMAC[ingress])
        a.storeBytes(of: UInt16(2).bigEndian, toByteOffset: 6, as: UInt16.self)
        storeMAC(senderMAC, at: a + 18)
        a.storeBytes(of: senderIP.bigEndian, toByteOffset: 24, as: UInt32.self)
        storeMAC(me, at: a + 8)
        a.storeBytes(of: targetIP.bigEndian, toByteOffset: 14, as: UInt32.self)
        Rewrite.setMACs(frame, destination: senderMAC, source: me)
        counters[ingress].arpRepliesSent &+= 1
        return .port(ingress)
    }

    @inlinable
    func onSubnet(_ ip: UInt32, port: Int) -> Bool {
        for i in 0..<localV4Count where Int(localV4Port[i]) == port {
            if ip & localV4Mask[i] == localV4[i] & localV4Mask[i] { return true }
        }
        return false
    }

    /// ICMP echo request to one of our addresses: answered in place (RFC 792), so hosts can
    /// ping their gateway. Anything else to us is consumed.
    @inlinable
    mutating func icmpEcho4(_ frame: UnsafeMutableRawPointer, ip: UnsafeMutableRawPointer, info: PacketInfo, ingress: Int,
                            counters: UnsafeMutablePointer<PortCounters>) -> Verdict {
        let ihl = Int(ip.load(as: UInt8.self) & 0x0F) * 4
        guard info.ipProtocol == 1, !info.l4Skipped, Int(info.l3Length) >= ihl + 8,
              ip.load(fromByteOffset: ihl, as: UInt8.self) == 8 else { return .consume }
        let icmp = ip + ihl
        // Type 8 -> 0: one 16-bit word of the ICMP message changes.
        let oldWord = UInt16(bigEndian: icmp.loadUnaligned(as: UInt16.self))
        icmp.storeBytes(of: UInt16(oldWord & 0x00FF).bigEndian, as: UInt16.self)
        let sum = UInt16(bigEndian: icmp.loadUnaligned(fromByteOffset: 2, as: UInt16.self))
        icmp.storeBytes(of: Rewrite.adjustChecksum(sum, old: oldWord, new: oldWord & 0x00FF).bigEndian, toByteOffset: 2, as: UInt16.self)
        // Swap addresses (the header checksum does not change), fresh TTL.
        let src = ip.loadUnaligned(fromByteOffset: 12, as: UInt32.self)
        let dst = ip.loadUnaligned(fromByteOffset: 16, as: UInt32.self)
        ip.storeBytes(of: dst, toByteOffset: 12, as: UInt32.self)
        ip.storeBytes(of: src, toByteOffset: 16, as: UInt32.self)
        let ttlWord = UInt16(bigEndian: ip.loadUnaligned(fromByteOffset: 8, as: UInt16.self))
        Rewrite.replaceIPv4Word(ip, 8, 64 << 8 | ttlWord & 0x00FF)
        let asker = MACAddress(rawValue: EthernetView.loadMAC(UnsafeRawPointer(frame + 6)))
        Rewrite.setMACs(frame, destination: asker, source: MACAddress(rawValue: portMAC[ingress]))
        counters[ingress].icmpEchoReplies &+= 1
        return .port(ingress)
    }
}
