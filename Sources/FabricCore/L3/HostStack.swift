import FabricPacket

/// The switch as a host on each of its router ports: its own MAC and addresses, and what it
/// answers (VPP's arp-input, ip4-local and ip6-icmp nodes). It answers ARP requests and IPv6
/// neighbour solicitations for its addresses on the port they arrive on, and echo requests to
/// its addresses, by turning the request frame into the reply in place; it learns neighbours
/// from the ARP and neighbour discovery it sees, if their address is on a subnet of the port
/// they came in on (a host cannot claim another port's neighbours). It builds the requests the
/// switch sends to resolve next hops. Frames are read and written through FabricPacket's views.
public struct HostStack: ~Copyable {
    public let portCount: Int
    @usableFromInline let portMAC: UnsafeMutablePointer<UInt64>
    @usableFromInline let v4: UnsafeMutablePointer<UInt32>
    @usableFromInline let v4Mask: UnsafeMutablePointer<UInt32>
    @usableFromInline let v4Port: UnsafeMutablePointer<Int32>
    @usableFromInline let v4Count: Int
    /// One bit per own IPv4 address (`filterBit`): an address whose bit is clear is not ours,
    /// so a routed frame's destination is told apart without the scan of `v4`.
    @usableFromInline let v4Filter: UInt64
    @usableFromInline let v6: UnsafeMutablePointer<IPv6Address>
    @usableFromInline let v6Length: UnsafeMutablePointer<Int32>
    @usableFromInline let v6Port: UnsafeMutablePointer<Int32>
    @usableFromInline let v6Count: Int
    /// Set when a neighbour was learned or its MAC changed: frames held for it can go.
    public var learnedNeighbour = false

    public init(ports: [PortConfig], portMACs: [MACAddress]) {
        precondition(portMACs.count == ports.count)
        portCount = ports.count
        portMAC = .allocate(capacity: portCount)
        portMAC.initialize(from: portMACs.map(\.rawValue), count: portCount)
        var a4: [(UInt32, UInt32, Int32)] = [], a6: [(IPv6Address, Int32, Int32)] = []
        for (i, p) in ports.enumerated() {
            for a in p.addresses {
                switch a.address {
                case .v4(let x): a4.append((x, a.length == 0 ? 0 : ~UInt32(0) << (32 - a.length), Int32(i)))
                case .v6(let x): a6.append((x, Int32(a.length), Int32(i)))
                }
            }
        }
        v4Count = a4.count
        v4 = .allocate(capacity: max(1, v4Count))
        v4.initialize(from: a4.map(\.0), count: v4Count)
        v4Filter = a4.reduce(0) { $0 | Self.filterBit($1.0) }
        v4Mask = .allocate(capacity: max(1, v4Count))
        v4Mask.initialize(from: a4.map(\.1), count: v4Count)
        v4Port = .allocate(capacity: max(1, v4Count))
        v4Port.initialize(from: a4.map(\.2), count: v4Count)
        v6Count = a6.count
        v6 = .allocate(capacity: max(1, v6Count))
        v6.initialize(from: a6.map(\.0), count: v6Count)
        v6Length = .allocate(capacity: max(1, v6Count))
        v6Length.initialize(from: a6.map(\.1), count: v6Count)
        v6Port = .allocate(capacity: max(1, v6Count))
        v6Port.initialize(from: a6.map(\.2), count: v6Count)
    }

    deinit {
        for p in [v4, v4Mask] { p.deallocate() }
        for p in [v4Port, v6Length, v6Port] { p.deallocate() }
        portMAC.deallocate()
        v6.deallocate()
    }

    // MARK: - The switch's addresses

    @inlinable public func mac(port: Int) -> MACAddress { MACAddress(rawValue: portMAC[port]) }
    @inlinable public func macBits(port: Int) -> UInt64 { portMAC[port] }

    /// `v4Filter`'s bit for `a`: the top 6 bits of a multiplicative hash.
    @inlinable @inline(__always) static func filterBit(_ a: UInt32) -> UInt64 {
        1 << ((UInt64(a) &* 0x9E37_79B9_7F4A_7C15) >> 58)
    }

    /// The port `a` is an address of, if it is one of ours.
    @inlinable public func port(of a: UInt32) -> Int? {
        guard v4Filter & Self.filterBit(a) != 0 else { return nil }
        for i in 0..<v4Count where v4[i] == a { return Int(v4Port[i]) }
        return nil
    }

    @inlinable public func port(of a: IPv6Address) -> Int? {
        for i in 0..<v6Count where v6[i] == a { return Int(v6Port[i]) }
        return nil
    }

    /// True when `ip` is on a subnet of `port` (ARP is learned only from the port's own subnets).
    @inlinable public func isOnSubnet(_ ip: UInt32, port: Int) -> Bool {
        for i in 0..<v4Count where Int(v4Port[i]) == port && ip & v4Mask[i] == v4[i] & v4Mask[i] { return true }
        return false
    }

    /// True when `ip` is on an IPv6 subnet of `port` (neighbour discovery is learned only for
    /// the port's own subnets).
    @inlinable public func isOnSubnet(_ ip: IPv6Address, port: Int) -> Bool {
        for i in 0..<v6Count where Int(v6Port[i]) == port {
            let n = Int(v6Length[i])
            let highMask: UInt64 = n >= 64 ? ~0 : n == 0 ? 0 : ~0 << (64 - n)
            let lowMask: UInt64 = n >= 128 ? ~0 : n <= 64 ? 0 : ~0 << (128 - n)
            if ip.high & highMask == v6[i].high & highMask && ip.low & lowMask == v6[i].low & lowMask { return true }
        }
        return false
    }

    /// The address on `port` to ask for `target` from: the one on its subnet, else the first.
    public func sourceAddress(port: Int, for target: UInt32) -> UInt32? {
        var fallback: UInt32?
        for i in 0..<v4Count where Int(v4Port[i]) == port {
            if target & v4Mask[i] == v4[i] & v4Mask[i] { return v4[i] }
            fallback = fallback ?? v4[i]
        }
        return fallback
    }

    /// The first IPv6 address on `port`.
    public func sourceAddress6(port: Int) -> IPv6Address? {
        for i in 0..<v6Count where Int(v6Port[i]) == port { return v6[i] }
        return nil
    }

    // MARK: - Answering and learning

    /// ARP (RFC 826) arriving on `ingress`: learn the sender if it is on the port's subnet;
    /// answer a request for our address on that port by turning the frame into the reply.
    @inlinable
    public mutating func arp(_ frame: UnsafeMutableRawPointer, length: Int, l3Offset: Int, ingress: Int, now: UInt64,
                             neighbours: inout NeighbourTable, counters: inout PortCounters) -> Verdict {
        guard let a = ARPView(frame + l3Offset, available: length - l3Offset) else { return .drop(.notRoutable) }
        let sender = a.senderMAC, senderIP = a.senderIP
        if !sender.isGroup && !sender.isZero && isOnSubnet(senderIP, port: ingress) {
            if neighbours.learn(senderIP, mac: sender, port: ingress, now: now) { learnedNeighbour = true }
        }
        guard a.operation == ARPView.request, port(of: a.targetIP) == ingress else { return .consume }
        let me = mac(port: ingress)
        a.turnIntoReply(from: me)
        Rewrite.setMACs(frame, destination: sender, source: me)
        counters.arpRepliesSent &+= 1
        return .port(ingress)
    }

    /// The longest neighbour discovery message accepted: what a 1500-byte MTU holds after the
    /// IPv6 header. Always inside a packet's first frame.
    public static let longestNDMessage = 1500 - IPv6View.length

    /// ICMPv6 (RFC 4861, RFC 4443) to or through the switch: neighbour solicitations for our
    /// addresses (answered with an advertisement), advertisements (learned), echo requests to
    /// our addresses. Nil: not ours, route it.
    @inlinable
    public mutating func icmp6(_ frame: UnsafeMutableRawPointer, info: PacketInfo, destination dst: IPv6Address, ingress: Int, now: UInt64,
                               neighbours: inout NeighbourTable, counters: inout PortCounters) -> Verdict? {
        let ip = frame + Int(info.l3Offset)
        let icmp = frame + Int(info.l4Offset)
        let length = Int(info.l3Length) - IPv6View.length
        guard length >= 4 else { return nil }
        let type = icmp.load(as: UInt8.self)
        // Longer than a 1500-byte MTU carries: not a real ND message, and it could reach past
        // the head frame of a jumbo packet (the rest of its chain is elsewhere in memory).
        if type == NeighbourDiscoveryView.solicitation || type == NeighbourDiscoveryView.advertisement,
           length < NeighbourDiscoveryView.minimumLength || length > Self.longestNDMessage { return .drop(.notRoutable) }
        if let nd = NeighbourDiscoveryView(icmp, length: length) {
            guard info.ttl == 255 else { return .drop(.notRoutable) }  // RFC 4861 7.1.1: from off-link
            let src = loadIPv6(UnsafeRawPointer(ip + 8))
            let lla = nd.linkLayerAddress
            // A solicitation teaches its sender's address (RFC 4861 7.2.3), an advertisement its
            // target's, also unsolicited (RFC 9131 lets routers create entries from those).
            let learnIP = nd.isSolicitation ? src : nd.target
            if let mac = lla, !mac.isGroup, !mac.isZero, isOnSubnet(learnIP, port: ingress) {
                if neighbours.learn(learnIP, mac: mac, port: ingress, now: now) { learnedNeighbour = true }
            }
            guard nd.isSolicitation, port(of: nd.target) == ingress, src.high != 0 || src.low != 0, let asker = lla else { return .consume }
            let me = mac(port: ingress)
            nd.turnIntoAdvertisement(ip: ip, asker: src, mac: me)
            Rewrite.setMACs(frame, destination: asker, source: me)
            counters.arpRepliesSent &+= 1
            return .port(ingress)
        }
        if port(of: dst) != nil, ICMPEcho.replyInPlace(ipv6: ip, icmp: icmp) {
            answerEcho(frame, ingress: ingress, counters: &counters)
            return .port(ingress)
        }
        return nil
    }

    /// An IPv4 packet to one of our addresses: an echo request is answered in place (hosts
    /// ping their gateway); anything else is consumed.
    @inlinable
    public func local4(_ frame: UnsafeMutableRawPointer, info: PacketInfo, ingress: Int, counters: inout PortCounters) -> Verdict {
        let ip = frame + Int(info.l3Offset)
        let ihl = Int(ip.load(as: UInt8.self) & 0x0F) * 4
        guard !info.l4Skipped, ICMPEcho.replyInPlace(ipv4: ip, headerLength: ihl, totalLength: Int(info.l3Length)) else { return .consume }
        answerEcho(frame, ingress: ingress, counters: &counters)
        return .port(ingress)
    }

    /// Back to the asker from our MAC.
    @inlinable func answerEcho(_ frame: UnsafeMutableRawPointer, ingress: Int, counters: inout PortCounters) {
        let asker = MACAddress(rawValue: EthernetView.loadMAC(UnsafeRawPointer(frame + 6)))
        Rewrite.setMACs(frame, destination: asker, source: mac(port: ingress))
        counters.icmpEchoReplies &+= 1
    }

    // MARK: - Asking

    /// Writes the request that resolves `target` on `port` (an ARP request, or a neighbour
    /// solicitation) at `frame`; its length, or nil when the port has no address to ask from.
    public func writeRequest(into frame: UnsafeMutableRawPointer, port: Int, target: IPAddress) -> Int? {
        switch target {
        case .v4(let t):
            guard let source = sourceAddress(port: port, for: t) else { return nil }
            return ARPView.writeRequest(into: frame, sourceMAC: mac(port: port), sourceIP: source, target: t)
        case .v6(let t):
            guard let source = sourceAddress6(port: port) else { return nil }
            return NeighbourDiscoveryView.writeSolicitation(into: frame, sourceMAC: mac(port: port), source: source, target: t)
        }
    }
}
