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
    /// Numbers the batches (and the points inside one where the host stack may have changed
    /// the neighbour table): a gateway MAC the FIB keeps for the router (`FIB.gatewayMAC`) is
    /// valid while its number is the current one. Bumped before any lookup of a batch, so it is at
    /// least 1 by then and a new FIB's zeros never match. Whatever may change the neighbour
    /// table inside `process` (the host stack's ARP and ND) must bump it first.
    @usableFromInline var neighbourEpoch: UInt64 = 0

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
        neighbourEpoch &+= 1
        // Stage 1: parse every frame, a later frame's header prefetched, keep each IPv4
        // destination and start loading its LPM direct entry.
        for i in 0..<count {
            if i &+ Self.prefetchDistance < count { sf_prefetch(frames + Int(truncatingIfNeeded: batch.addr[i &+ Self.prefetchDistance])) }
            let frame = frames + Int(truncatingIfNeeded: batch.addr[i])
            FrameParser.parse(frame, length: Int(batch.len[i]), into: &batch.packet[i])
            if batch.packet[i].etherType == EtherType.ipv4 && batch.packet[i].l3Length != 0 {   // an IPv4 header that parsed
                let ip = frame + Int(batch.packet[i].l3Offset)
                let dst = IPv4Family.destination(ip)
                batch.ipv4Destination[i] = dst
                batch.ipv4Source[i] = IPv4Family.source(ip)
                fib.v4.prefetch(dst)
            }
        }
        // Stage 2: with the direct entries in cache, start loading the ranges of the /16s that
        // routes divide (from the addresses kept: the frames are not read again here).
        if fib.v4.hasRanges {
            for i in 0..<count where batch.packet[i].etherType == EtherType.ipv4 && batch.packet[i].l3Length != 0 {
                fib.v4.prefetchRanges(batch.ipv4Destination[i])
            }
        }
        // Stage 3: look up every IPv4 destination, and hash the flows routed to more than one
        // member, in a loop short enough that the lookups of several frames overlap (whether
        // stage 4 routes the frame or not: both are pure).
        for i in 0..<count where batch.packet[i].etherType == EtherType.ipv4 && batch.packet[i].l3Length != 0 {
            let dst = batch.ipv4Destination[i]
            guard let target = fib.v4.lookup(dst) else {
                batch.ipv4Target[i] = Batch.noTarget
                continue
            }
            batch.ipv4Target[i] = target
            let t = fib.target(target)
            batch.ipv4TargetInfo[i] = t.bits
            if t.memberCount > 1 {
                let info = batch.packet[i]
                batch.flowHash[i] = FlowHash.v4(source: batch.ipv4Source[i], destination: dst, protocolNumber: info.ipProtocol,
                                                sourcePort: info.sourcePort, destinationPort: info.destinationPort)
            }
        }
        // Stage 4: act on each frame, a later frame's header prefetched for the rewrite (a batch
        // of frames at one offset in equal-sized frames shares a few cache sets, so the lines
        // stage 1 read may be gone).
        let trustsPCP = classifier.trustsPCP(port: ingress)
        var roce: UInt64 = 0, cnp: UInt64 = 0, skipped: UInt64 = 0   // counted here, added once
        for i in 0..<count {
            if i &+ Self.prefetchDistance < count { sf_prefetch_write(frames + Int(truncatingIfNeeded: batch.addr[i &+ Self.prefetchDistance])) }
            let frame = frames + Int(truncatingIfNeeded: batch.addr[i])
            let len = Int(batch.len[i])
            let info = batch.packet[i]
            // Until classified below, a frame is the switch's (`switchOwn`): what it consumes or
            // answers. Set on each way out before that, not first for every frame.
            if let e = info.error {
                counters[ingress].parseErrors[raw: Int(e.rawValue)] &+= 1
                // UDP 4791 with a BTH opcode we do not know (XRC, vendor extensions) is still a
                // well-formed IP packet: counted, and routed as plain UDP.
                if e != .unknownRoCEOpcode {
                    switchOwn(&batch, i)
                    batch.verdict[i] = .drop(.malformed)
                    continue
                }
            }
            switch info.kind {
            case .pfc, .pause, .macControl:
                switchOwn(&batch, i)
                batch.verdict[i] = .consume
                continue
            case .arp:
                switchOwn(&batch, i)
                neighbourEpoch &+= 1    // it may learn a neighbour
                batch.verdict[i] = host.arp(frame, length: len, l3Offset: Int(info.l3Offset), ingress: ingress, now: now,
                                            neighbours: &neighbours, counters: &counters[ingress])
                continue
            case .other:
                switchOwn(&batch, i)
                batch.verdict[i] = .drop(.notRoutable)
                continue
            default:
                break
            }
            // IP: must be addressed to this port's MAC; IPv6 multicast MACs (33:33:...) carry
            // neighbour discovery to us.
            let dstMAC = EthernetView.loadMAC(UnsafeRawPointer(frame))
            guard dstMAC == myMAC || (dstMAC >> 32 == 0x3333 && info.etherType == EtherType.ipv6) else {
                switchOwn(&batch, i)
                batch.verdict[i] = .drop(.notRoutable)
                continue
            }
            batch.tc[i] = classifier.trafficClass(trustsPCP: trustsPCP, info: info)
            batch.l3Offset[i] = info.l3Offset
            batch.ipVersion[i] = info.etherType == EtherType.ipv4 ? 4 : 6
            roce &+= info.kind == .rocev2 ? 1 : 0
            cnp &+= info.kind == .cnp ? 1 : 0
            skipped &+= info.l4Skipped ? 1 : 0
            batch.verdict[i] = info.etherType == EtherType.ipv4
                ? ipv4(frame, info: info, batch: &batch, index: i, ingress: ingress, now: now, counters: counters)
                : ipv6(frame, info: info, batch: &batch, index: i, ingress: ingress, now: now, counters: counters)
        }
        counters[ingress].roceFrames &+= roce
        counters[ingress].cnpFrames &+= cnp
        counters[ingress].l4Skipped &+= skipped
    }

    @inlinable @inline(__always)
    mutating func ipv4(_ frame: UnsafeMutableRawPointer, info: PacketInfo, batch: inout Batch, index i: Int, ingress: Int, now: UInt64,
                       counters: UnsafeMutablePointer<PortCounters>) -> Verdict {
        let dst = batch.ipv4Destination[i]
        if host.port(of: dst) != nil {
            switchOwn(&batch, i)
            neighbourEpoch &+= 1
            return host.local4(frame, info: info, ingress: ingress, counters: &counters[ingress])
        }
        let t = batch.ipv4Target[i]
        return route(IPv4Family.self, frame, info: info, destination: dst, target: t == Batch.noTarget ? nil : t,
                     members: FIB.Target(bits: batch.ipv4TargetInfo[i]), flowHash: batch.flowHash[i], batch: &batch, index: i, now: now)
    }

    @inlinable @inline(__always)
    mutating func ipv6(_ frame: UnsafeMutableRawPointer, info: PacketInfo, batch: inout Batch, index i: Int, ingress: Int, now: UInt64,
                       counters: UnsafeMutablePointer<PortCounters>) -> Verdict {
        let dst = IPv6Family.destination(frame + Int(info.l3Offset))
        if info.ipProtocol == 58 && info.l4Offset > 0 { neighbourEpoch &+= 1 }   // neighbour discovery may learn
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
        let target = fib.v6.lookup(dst)
        let t = FIB.Target(bits: target.map { fib.target($0).bits } ?? 0)
        let hash = t.memberCount > 1 ? IPv6Family.flowHash(frame + Int(info.l3Offset), destination: dst, info: info) : 0
        return route(IPv6Family.self, frame, info: info, destination: dst, target: target, members: t, flowHash: hash, batch: &batch, index: i, now: now)
    }

    /// Frame `i` is the switch's own (an answer from the host stack, or used up by it): class
    /// 0, lossy, and not ECN-marked, whatever its request asked for.
    @inlinable @inline(__always) func switchOwn(_ batch: inout Batch, _ i: Int) {
        batch.tc[i] = 0
        batch.ipVersion[i] = 0
    }

    /// Routes one IP packet: hop limit, ECMP member, rewrite, next-hop MAC or hold. `target` is
    /// the LPM's answer for `dst` (nil: no route) and `t` its packed word (its members), `flowHash` the
    /// packet's flow hash if the target has more than one member.
    @inlinable @inline(__always)
    mutating func route<F: IPFamily>(_: F.Type, _ frame: UnsafeMutableRawPointer, info: PacketInfo, destination dst: F.Address,
                                     target: UInt32?, members t: FIB.Target, flowHash: UInt32, batch: inout Batch, index i: Int,
                                     now: UInt64) -> Verdict {
        guard info.ttl > 1 else { return .drop(.ttlExpired) }
        guard let target else { return .drop(.noRoute) }
        let ip = frame + Int(info.l3Offset)
        let n = t.memberCount
        var m = 0
        if n > 1 {
            m = selector.select(target: target, mode: t.mode, ports: fib.memberPorts(t), memberCount: n,
                                flowHash: flowHash, length: UInt32(info.l3Length), now: now)
        }
        let hop = fib.member(t, m)
        let egress = fib.memberPort(t, m)
        let connected = fib.isConnected(hop: hop)
        F.decrementHopLimit(ip)
        let source = host.macBits(port: egress)
        let mac: MACAddress?
        if connected {
            mac = F.neighbour(neighbours, dst, now: now)
        } else if fib.gatewayMACBatch[hop] == neighbourEpoch {
            // Looked up for an earlier frame of this batch: the same table at the same `now`.
            let bits = fib.gatewayMAC[hop]
            mac = bits == 0 ? nil : MACAddress(rawValue: bits)
        } else {
            mac = F.neighbour(neighbours, F.gateway(fib, hop: hop), now: now)
            fib.gatewayMAC[hop] = mac?.rawValue ?? 0
            fib.gatewayMACBatch[hop] = neighbourEpoch
        }
        guard let mac else {
            storeMAC(MACAddress(rawValue: source), at: frame + 6)
            batch.holdPort[i] = UInt16(truncatingIfNeeded: egress)
            batch.holdNextHop[i] = F.address(connected ? dst : F.gateway(fib, hop: hop))
            return .hold
        }
        storeMACs(destination: mac, source: MACAddress(rawValue: source), at: frame)
        return .port(egress)
    }
}
