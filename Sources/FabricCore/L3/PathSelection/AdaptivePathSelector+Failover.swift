import FabricPacket

/// Link failures in the path selector: which live member a flow goes to when its own is down
/// (resilient: only the dead member's flows move), and the failovers recorded per flow.
extension AdaptivePathSelector {
    /// A flow moved off a member whose link went down.
    public struct Failover: Sendable, Equatable {
        public var flowHash: UInt32 = 0
        /// The dead member's port and the live one the flow moved to.
        public var fromPort: Int32 = -1
        public var toPort: Int32 = -1
        /// The last packet given to the dead member (this flow's own under flowlet, which
        /// keeps per-flow state; any flow's under ecmp), and this flow's first packet on the
        /// live one (the data path's clock). A flow that was idle when the link went down
        /// (waiting for an ACK, a collective's next step) fails over when it sends again.
        public var lastOnDead: UInt64 = 0
        public var firstOnLive: UInt64 = 0
        public init() {}
        public var nanoseconds: UInt64 { firstOnLive &- lastOnDead }
    }

    /// The failovers recorded so far, oldest first.
    public var failovers: [Failover] { (0..<failoverCount).map { failoverRecords[$0] } }

    /// The data path calls this when `port`'s link goes down (a new failover epoch).
    public mutating func linkWentDown(port: Int) { downEpoch[port] &+= 1 }

    /// Forgets the recorded failovers (`clear counters`).
    public mutating func clearFailovers() {
        failoverCount = 0
        failoversUnrecorded = 0
        failoverKeys.update(repeating: 0, count: 4 * Self.failoverCapacity)
    }

    @usableFromInline
    mutating func recordFailover(flowHash: UInt32, from: Int, to: Int, now: UInt64, flowLast: UInt64 = .max) {
        let key = UInt64(flowHash) << 32 | UInt64(from & 0xFFFF) << 16 | UInt64(downEpoch[from]) | 1 << 63
        let mask = 4 * Self.failoverCapacity - 1
        var slot = Int(truncatingIfNeeded: (key &* 0x9E37_79B9_7F4A_7C15) >> 40) & mask
        while failoverKeys[slot] != 0 {
            if failoverKeys[slot] == key { return }
            slot = (slot + 1) & mask
        }
        guard failoverCount < Self.failoverCapacity else { failoversUnrecorded &+= 1; return }
        failoverKeys[slot] = key
        var f = Failover()
        f.flowHash = flowHash
        f.fromPort = Int32(from)
        f.toPort = Int32(to)
        f.lastOnDead = min(lastChosen[from], flowLast)
        f.firstOnLive = now
        failoverRecords[failoverCount] = f
        failoverCount += 1
    }

    /// A live member for a flow whose member `m` is down: the flow hash rehashed over the live
    /// members only (flows on live members keep theirs); `m` itself when none is up.
    @usableFromInline
    func liveMember(instead m: Int, ports: UnsafePointer<Int32>, memberCount n: Int, flowHash: UInt32) -> Int {
        var live = 0
        for k in 0..<n where up[Int(ports[k])] { live += 1 }
        guard live > 0 else { return m }
        // A second, independent hash (murmur3's finaliser): the flows of one dead member are
        // those of one slice of the first hash, and must still spread over all the others.
        var h = flowHash ^ 0x5BD1_E995
        h ^= h >> 16; h &*= 0x85EB_CA6B; h ^= h >> 13; h &*= 0xC2B2_AE35; h ^= h >> 16
        var pick = HashPathSelector.hash(h, live)
        for k in 0..<n where up[Int(ports[k])] {
            if pick == 0 { return k }
            pick -= 1
        }
        return m
    }
}
