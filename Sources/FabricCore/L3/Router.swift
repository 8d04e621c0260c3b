import CFabricShims
import FabricPacket

/// Pipeline stage: the RoCEv2-aware L3 router.
///
/// Per frame: parse (a malformed frame is dropped, its parse error counted); MAC Control
/// (PAUSE/PFC) is consumed for the datapath's PFC receiver; ARP, neighbour discovery and
/// traffic to the switch's own addresses go to the host stack; other IP is classified (DSCP or
/// PCP to traffic class, per the ingress port's trust), counted as RoCEv2 or CNP (a UDP 4791
/// packet with an unknown BTH opcode is counted as a parse error but routed as UDP), looked up
/// (LPM), given an ECMP member by the `Selector`, and rewritten: MACs, TTL or hop limit - 1
/// with the IPv4 checksum updated incrementally. Nothing the RoCEv2 ICRC covers is touched. A
/// frame whose next hop has no MAC yet gets the `.hold` verdict (the datapath parks it and
/// asks). IPv4 and IPv6 share one route path (`route`, generic over `IPFamily`).
public struct Router<Selector: PathSelector & ~Copyable>: ~Copyable {
    public var fib: FIB
    public var selector: Selector
    public var neighbours: NeighbourTable
    public var host: HostStack

    public init(config: SwitchConfig, portMACs: [MACAddress], selector: consuming Selector) {
        fib = FIB(entries: config.fibEntries())
        self.selector = selector
        neighbours = NeighbourTable(portCount: config.ports.count, limits: config.neighbourLimits)
        host = HostStack(ports: config.ports, portMACs: portMACs)
        for n in config.neighbours {
            switch n.address {
            case .v4(let a): neighbours.addStatic(a, mac: n.mac)
            case .v6(let a): neighbours.addStatic(a, mac: n.mac)
            }
        }
    }

    /// How many frames ahead stage 1 prefetches a frame's first cache line (Ethernet, IP,
    /// UDP and BTH of an untagged RoCEv2 frame).
    @usableFromInline static var prefetchDistance: Int { 4 }

    public mutating func process(_ batch: inout Batch, frames: UnsafeMutableRawPointer, counters: UnsafeMutablePointer<PortCounters>,
                                 classifier: borrowing Classifier) {
        let ingress = batch.ingress
        let now = batch.timestamp
        let myMAC = host.macBits(port: ingress)
        let count = batch.count
        // Stage 1: parse every frame, a later frame's header prefetched, and start loading the
        // LPM's direct entry of each IPv4 destination.
        for i in 0..<count {
            if i &+ Self.prefetchDistance < count { sf_prefetch(frames + Int(batch.addr[i &+ Self.prefetchDistance])) }
            let frame = frames + Int(batch.addr[i])
            FrameParser.parse(frame, length: Int(batch.len[i]), into: &batch.packet[i])
            if batch.packet[i].etherType == EtherType.ipv4 && batch.packet[i].l3Length != 0 {   // an IPv4 header that parsed
                fib.v4.prefetch(IPv4Family.destination(frame + Int(batch.packet[i].l3Offset)))
            }
        }
        // Stage 2: with the direct entries in cache, start loading the ranges of the /16s that
        // routes divide.
        if fib.v4.hasRanges {
            for i in 0..<count where batch.packet[i].etherType == EtherType.ipv4 && batch.packet[i].l3Length != 0 {
                fib.v4.prefetchRanges(IPv4Family.destination(frames + Int(batch.addr[i]) + Int(batch.packet[i].l3Offset)))
            }
        }
        // Stage 3: act on each frame.
        for i in 0..<count {
            let frame = frames + Int(batch.addr[i])
            let len = Int(batch.len[i])
            let info = batch.packet[i]
            switchOwn(&batch, i)     // until classified below: what the switch consumes or answers
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
                batch.verdict[i] = .consume
                continue
            case .arp:
                batch.verdict[i] = host.arp(frame, length: len, l3Offset: Int(info.l3Offset), ingress: ingress, now: now,
                                            neighbours: &neighbours, counters: &counters[ingress])
                continue
            case .other:
                batch.verdict[i] = .drop(.notRoutable)
                continue
            default:
                break
            }
            // IP: must be addressed to this port's MAC; IPv6 multicast MACs (33:33:...) carry
            // neighbour discovery to us.
            let dstMAC = EthernetView.loadMAC(UnsafeRawPointer(frame))
            guard dstMAC == myMAC || (dstMAC >> 32 == 0x3333 && info.etherType == EtherType.ipv6) else {
                batch.verdict[i] = .drop(.notRoutable)
                continue
            }
            batch.tc[i] = classifier.trafficClass(port: ingress, info: info)
            batch.l3Offset[i] = info.l3Offset
            batch.ipVersion[i] = info.etherType == EtherType.ipv4 ? 4 : 6
            if info.kind == .rocev2 { counters[ingress].roceFrames &+= 1 } else if info.kind == .cnp { counters[ingress].cnpFrames &+= 1 }
            if info.l4Skipped { counters[ingress].l4Skipped &+= 1 }
            batch.verdict[i] = info.etherType == EtherType.ipv4
                ? ipv4(frame, info: info, batch: &batch, index: i, ingress: ingress, now: now, counters: counters)
                : ipv6(frame, info: info, batch: &batch, index: i, ingress: ingress, now: now, counters: counters)
        }
    }

    @inlinable @inline(__always)
    mutating func ipv4(_ frame: UnsafeMutableRawPointer, info: PacketInfo, batch: inout Batch, index i: Int, ingress: Int, now: UInt64,
                       counters: UnsafeMutablePointer<PortCounters>) -> Verdict {
        let dst = IPv4Family.destination(frame + Int(info.l3Offset))
        if host.port(of: dst) != nil {
            switchOwn(&batch, i)
            return host.local4(frame, info: info, ingress: ingress, counters: &counters[ingress])
        }
        return route(IPv4Family.self, frame, info: info, destination: dst, batch: &batch, index: i, now: now)
    }

    @inlinable @inline(__always)
    mutating func ipv6(_ frame: UnsafeMutableRawPointer, info: PacketInfo, batch: inout Batch, index i: Int, ingress: Int, now: UInt64,
                       counters: UnsafeMutablePointer<PortCounters>) -> Verdict {
        let dst = IPv6Family.destination(frame + Int(info.l3Offset))
        if info.ipProtocol == 58 && info.l4Offset > 0,
           let v = host.icmp6(frame, info: info, destination: dst, ingress: ingress, now: now, neighbours: &neighbours, counters: &counters[ingress]) {
            switchOwn(&batch, i)
            return v
        }
        if host.port(of: dst) != nil { return .consume }
        if dst.high >> 56 == 0xFF {
            // Link-scope multicast (RS, MLD, DAD) is for this link only: used up here.
            return dst.high >> 48 & 0x0F == 0x02 ? .consume : .drop(.notRoutable)
        }
        return route(IPv6Family.self, frame, info: info, destination: dst, batch: &batch, index: i, now: now)
    }

    /// Frame `i` is the switch's own (an answer from the host stack, or used up by it): class
    /// 0, lossy, and not ECN-marked, whatever its request asked for.
    @inlinable @inline(__always) func switchOwn(_ batch: inout Batch, _ i: Int) {
        batch.tc[i] = 0
        batch.ipVersion[i] = 0
    }

    /// Routes one IP packet: hop limit, LPM, ECMP member, rewrite, next-hop MAC or hold.
    @inlinable @inline(__always)
    mutating func route<F: IPFamily>(_: F.Type, _ frame: UnsafeMutableRawPointer, info: PacketInfo, destination dst: F.Address,
                                     batch: inout Batch, index i: Int, now: UInt64) -> Verdict {
        guard info.ttl > 1 else { return .drop(.ttlExpired) }
        guard let target = F.target(fib, dst) else { return .drop(.noRoute) }
        let ip = frame + Int(info.l3Offset)
        let n = fib.memberCount(target: target)
        var m = 0
        if n > 1 {
            m = selector.select(target: target, mode: fib.mode(target: target), ports: fib.memberPorts(target: target), memberCount: n,
                                flowHash: F.flowHash(ip, destination: dst, info: info), length: UInt32(info.l3Length), now: now)
        }
        let hop = fib.member(target: target, m)
        let egress = fib.port(hop: hop)
        let nextHop = fib.isConnected(hop: hop) ? dst : F.gateway(fib, hop: hop)
        F.decrementHopLimit(ip)
        storeMAC(MACAddress(rawValue: host.macBits(port: egress)), at: frame + 6)
        guard let mac = F.neighbour(neighbours, nextHop, now: now) else {
            batch.holdPort[i] = UInt16(truncatingIfNeeded: egress)
            batch.holdNextHop[i] = F.address(nextHop)
            return .hold
        }
        storeMAC(mac, at: frame)
        return .port(egress)
    }
}
