import FabricPacket

/// Where a routed packet goes next: out of `port`, to `gateway` (nil: the destination itself
/// is on the port's subnet, a connected route).
public struct NextHop: Sendable, Hashable {
    public var port: Int
    public var gateway: IPAddress?
    public init(port: Int, gateway: IPAddress?) {
        self.port = port
        self.gateway = gateway
    }
}

/// The forwarding information base: LPM tables whose values index route targets, each target a
/// list of next-hop members (one for a plain route, up to 64 for an ECMP group). Built from the
/// configuration once; read-only on the data path.
public struct FIB: ~Copyable {
    public static let maxECMPMembers = 64

    public var v4: IPv4LPM
    public var v6: IPv6LPM
    /// Per target, packed in one word so that a routed frame reads one line for it (its
    /// members' first index in `members` in bits 0-31, their count in 32-47, the load-balancing
    /// mode in 48-55): the LPM's answer leads to the members in two dependent loads, not four.
    @usableFromInline let targetInfo: UnsafeMutablePointer<UInt64>
    /// Next-hop ids of every target, back to back.
    @usableFromInline let members: UnsafeMutablePointer<Int32>
    public let nextHops: [NextHop]
    /// Next hop ports and gateways as plain arrays for the data path.
    @usableFromInline let hopPort: UnsafeMutablePointer<Int32>
    @usableFromInline let hopGateway4: UnsafeMutablePointer<UInt32>   // 0 = connected
    @usableFromInline let hopGateway6: UnsafeMutablePointer<IPv6Address>
    @usableFromInline let hopConnected: UnsafeMutablePointer<Bool>
    /// The egress port of every entry of `members` (what a load-aware selector looks at).
    @usableFromInline let memberPorts: UnsafeMutablePointer<Int32>
    public let targetCountTotal: Int
    /// Per next hop with a gateway: the gateway's MAC as the router last looked it up (0: not
    /// resolved) and the batch it looked in (`Router`'s batch number). Scratch for the router,
    /// valid within one batch only: the frames of a batch share a few gateways, so each is
    /// looked up in the neighbour table once per batch (VPP's adjacency, re-read per batch).
    @usableFromInline let gatewayMAC: UnsafeMutablePointer<UInt64>
    @usableFromInline let gatewayMACBatch: UnsafeMutablePointer<UInt64>

    public struct Entry: Sendable {
        public var prefix: IPPrefix
        public var nextHops: [NextHop]
        public var mode: LoadBalancingMode
        public init(prefix: IPPrefix, nextHops: [NextHop], mode: LoadBalancingMode = .ecmp) {
            self.prefix = prefix
            self.nextHops = nextHops
            self.mode = mode
        }
    }

    struct TargetKey: Hashable {
        var nextHops: [NextHop]
        var mode: LoadBalancingMode
    }

    public init(entries: [Entry]) {
        var hops: [NextHop] = []
        var hopIndex: [NextHop: Int] = [:]
        var firsts: [Int32] = [], counts: [Int32] = [], mem: [Int32] = [], modes: [LoadBalancingMode] = []
        var r4: [IPv4LPM.Route] = [], r6: [IPv6LPM.Route] = []
        // Routes with the same next hops (in the same order) and mode share one target, as
        // routers share a next-hop group: a table of many prefixes over a few uplinks keeps its
        // targets in a few cache lines, not one random line per prefix.
        var targetIndex: [TargetKey: UInt32] = [:]
        for e in entries {
            precondition(!e.nextHops.isEmpty && e.nextHops.count <= FIB.maxECMPMembers)
            let key = TargetKey(nextHops: e.nextHops, mode: e.mode)
            let t: UInt32
            if let shared = targetIndex[key] {
                t = shared
            } else {
                t = UInt32(firsts.count)
                targetIndex[key] = t
                firsts.append(Int32(mem.count))
                counts.append(Int32(e.nextHops.count))
                modes.append(e.mode)
                for h in e.nextHops {
                    let id = hopIndex[h] ?? {
                        hops.append(h)
                        hopIndex[h] = hops.count - 1
                        return hops.count - 1
                    }()
                    mem.append(Int32(id))
                }
            }
            switch e.prefix.network.address {
            case .v4(let a): r4.append(.init(prefix: a, length: e.prefix.length, value: t))
            case .v6(let a): r6.append(.init(prefix: a, length: e.prefix.length, value: t))
            }
        }
        v4 = IPv4LPM(routes: r4)
        v6 = IPv6LPM(routes: r6)
        func copy<T>(_ a: [T]) -> UnsafeMutablePointer<T> {
            let p = UnsafeMutablePointer<T>.allocate(capacity: max(1, a.count))
            p.initialize(from: a, count: a.count)
            return p
        }
        targetInfo = copy(firsts.indices.map { UInt64(UInt32(firsts[$0])) | UInt64(counts[$0]) << 32 | UInt64(modes[$0].rawValue) << 48 })
        members = copy(mem)
        nextHops = hops
        hopPort = copy(hops.map { Int32($0.port) })
        hopGateway4 = copy(hops.map { if case .v4(let g)? = $0.gateway { g } else { 0 } })
        hopGateway6 = copy(hops.map { if case .v6(let g)? = $0.gateway { g } else { IPv6Address(high: 0, low: 0) } })
        hopConnected = copy(hops.map { $0.gateway == nil })
        memberPorts = copy(mem.map { Int32(hops[Int($0)].port) })
        targetCountTotal = firsts.count
        gatewayMAC = .filled(with: 0, count: max(1, hops.count))
        gatewayMACBatch = .filled(with: 0, count: max(1, hops.count))
    }

    deinit {
        targetInfo.deallocate()
        members.deallocate()
        hopPort.deallocate()
        hopGateway4.deallocate()
        hopGateway6.deallocate()
        hopConnected.deallocate()
        memberPorts.deallocate()
        gatewayMAC.deallocate()
        gatewayMACBatch.deallocate()
    }

    /// A target's packed word (`targetInfo`): where its members start, how many, its mode.
    @frozen public struct Target {
        public let bits: UInt64
        @inlinable public init(bits: UInt64) { self.bits = bits }
        @inlinable public var first: Int { Int(truncatingIfNeeded: UInt32(truncatingIfNeeded: bits)) }
        @inlinable public var memberCount: Int { Int(truncatingIfNeeded: bits >> 32 & 0xFFFF) }
        @inlinable public var mode: LoadBalancingMode { LoadBalancingMode(rawValue: UInt8(truncatingIfNeeded: bits >> 48)) ?? .ecmp }
    }

    @inlinable public func target(_ t: UInt32) -> Target { Target(bits: targetInfo[Int(t)]) }
    /// Members of a target.
    @inlinable public func memberCount(target: UInt32) -> Int { self.target(target).memberCount }
    @inlinable public func member(target: UInt32, _ i: Int) -> Int { member(self.target(target), i) }
    @inlinable public func member(_ t: Target, _ i: Int) -> Int { Int(members[t.first &+ i]) }
    /// The egress port of a target's member `i` (`port(hop: member(t, i))`, one load fewer
    /// on the way).
    @inlinable public func memberPort(_ t: Target, _ i: Int) -> Int { Int(memberPorts[t.first &+ i]) }
    @inlinable public func port(hop: Int) -> Int { Int(hopPort[hop]) }
    @inlinable public func isConnected(hop: Int) -> Bool { hopConnected[hop] }
    @inlinable public func gateway4(hop: Int) -> UInt32 { hopGateway4[hop] }
    @inlinable public func gateway6(hop: Int) -> IPv6Address { hopGateway6[hop] }
    /// The egress ports of a target's members, in member order.
    @inlinable public func memberPorts(target: UInt32) -> UnsafePointer<Int32> { memberPorts(self.target(target)) }
    @inlinable public func memberPorts(_ t: Target) -> UnsafePointer<Int32> { UnsafePointer(memberPorts + t.first) }
    @inlinable public func mode(target: UInt32) -> LoadBalancingMode { self.target(target).mode }
}

/// How an ECMP group picks its member (per group; `load_balancing.mode` is the default).
public enum LoadBalancingMode: UInt8, Sendable, CaseIterable {
    /// The 5-tuple hash: per-flow stable, blind to load (collisions stay collided).
    case ecmp
    /// Per flowlet: a flow keeps its member while its packets come closer than the idle timer,
    /// and after a gap moves to the member of best quality (Broadcom DLB, CONGA, LetFlow).
    case flowlet
    /// Per packet: the least loaded of two random members and the previous best (DRILL).
    case spray

    public var name: String { ["ecmp", "flowlet", "spray"][Int(rawValue)] }
    public init?(name: String) {
        guard let m = Self.allCases.first(where: { $0.name == name }) else { return nil }
        self = m
    }
}
