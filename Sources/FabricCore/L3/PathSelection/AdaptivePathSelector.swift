import FabricPacket

/// The path selector of every mode (`LoadBalancingMode`), chosen per ECMP group:
/// - ecmp: the 5-tuple hash;
/// - flowlet: a table of `tableSize` entries indexed by the flow hash holds each flowlet's
///   member and when its last packet leaves this switch (its arrival plus the drain time of
///   the member's queue then); a packet within `idle` of that keeps the member (no
///   reordering), after a longer gap the flow starts a new flowlet on the member of best band,
///   then fewest active data flowlets (below), then drawn at random; a flow stays on its
///   member unless the one chosen is clearly better.
///   Active data flowlets: each member's port counts the flowlets on it that started with a
///   frame of at least `dataFrameBytes` (ACKs, CNPs and pings do not make a member look busy)
///   and have not been idle for `idle` (expired by `expire(now:)` off the per-packet path, or
///   when the flow starts its next flowlet). The count is the one signal that moves the moment
///   a flowlet is placed: a collective's step starts its flows within microseconds, before any
///   queue or rate sample shows the first of them, so bands alone draw every flow at random
///   (measured, ring all-reduce over 8 seeds: flowlet median 1.36x the ideal, the mean of
///   random 2-2 / 3-1 / 4-0 splits, 1.375x).
///   The gap counts from the departure, not the arrival: behind a
///   deep queue (an uplink slower than its senders, PFC) a flow that pauses has packets still
///   queued, and a new flowlet on an idle member would overtake them (measured: a ring
///   all-reduce over 100 Mb/s uplinks reordered 8307 packets with arrival gaps). Two flows on
///   one entry share it (counted as a collision, the resident keeps its member);
/// - spray (DRILL, Ghorbani et al., SIGCOMM 2017): per packet, the least loaded of two random
///   members and the group's previous best, by band and then bytes assigned since the sample.
///
/// A member whose link is down (`PortLoad.up`) is never chosen while another is up. ECMP stays
/// resilient: a flow whose hashed member is down is rehashed over the live members only, so
/// flows on surviving members do not move; a flowlet on a dead member starts a new flowlet at
/// once, idle gap or not. Each flow's first packet moved off a dead member is recorded as a
/// `Failover` (the last frame the switch sent the dead member's way, and this one).
public struct AdaptivePathSelector: PathSelector, ~Copyable {
    @usableFromInline let band: UnsafeMutablePointer<UInt8>
    @usableFromInline let drain: UnsafeMutablePointer<UInt64>
    @usableFromInline let utilisation: UnsafeMutablePointer<Double>
    @usableFromInline let assigned: UnsafeMutablePointer<UInt32>
    @usableFromInline let tableMask: Int
    @usableFromInline let tags: UnsafeMutablePointer<UInt32>
    @usableFromInline let lastSeen: UnsafeMutablePointer<UInt64>
    @usableFromInline let chosen: UnsafeMutablePointer<UInt8>
    /// DRILL's memory: the previous best member per group (hashed on the target, 1024 slots).
    @usableFromInline let sprayBest: UnsafeMutablePointer<UInt8>
    /// Per port: active data flowlets placed on it. Per entry: the port it is counted on, or -1.
    @usableFromInline let flowlets: UnsafeMutablePointer<UInt32>
    /// Per port: its speed (bytes/ns): flowlet counts compare only members of equal speed.
    @usableFromInline let speed: UnsafeMutablePointer<Double>
    @usableFromInline let countedOn: UnsafeMutablePointer<Int32>
    @usableFromInline var sweepCursor = 0
    @usableFromInline var lastSweep: UInt64 = 0
    @usableFromInline let up: UnsafeMutablePointer<Bool>
    /// Per port: when a packet was last given to it (the last frame a dead member got).
    @usableFromInline let lastChosen: UnsafeMutablePointer<UInt64>
    /// Per port: how many times its link went down (a failover is recorded once per flow and
    /// down event).
    @usableFromInline let downEpoch: UnsafeMutablePointer<UInt16>
    /// Failovers recorded, up to `failoverCapacity` (more are only counted), and the keys seen.
    @usableFromInline let failoverRecords: UnsafeMutablePointer<Failover>
    @usableFromInline let failoverKeys: UnsafeMutablePointer<UInt64>
    public private(set) var failoverCount = 0
    public var failoversUnrecorded: UInt64 = 0
    public static let failoverCapacity = 256
    /// A flowlet counts as data if its first frame's L3 length is at least this.
    public static let dataFrameBytes: UInt32 = 256
    public let idleNanoseconds: UInt64
    @usableFromInline var rng: UInt64 = 0x2545_F491_4F6C_DD1D
    /// Flowlets started (a flow's first packet or one after an idle gap), of them the ones
    /// that moved to another member, and packets of a flow that found its entry held by
    /// another active flow.
    public var newFlowlets: UInt64 = 0
    public var pathChanges: UInt64 = 0
    public var collisions: UInt64 = 0
    /// Packets sprayed.
    public var sprayed: UInt64 = 0

    /// `load` must outlive the selector (the data path owns both).
    public init(load: borrowing PortLoad, tableSize: Int = 4096, idleNanoseconds: UInt64 = 256_000) {
        precondition(tableSize > 0 && tableSize & (tableSize - 1) == 0, "flowlet table size must be a power of two")
        band = load.band
        drain = load.drainNanoseconds
        utilisation = load.utilisation
        assigned = load.assigned
        tableMask = tableSize - 1
        tags = .filled(with: 0, count: tableSize)
        lastSeen = .filled(with: 0, count: tableSize)
        chosen = .filled(with: 0, count: tableSize)
        sprayBest = .filled(with: 0, count: 1024)
        flowlets = .filled(with: 0, count: max(1, load.portCount))
        speed = load.capacity
        up = load.up
        lastChosen = .filled(with: 0, count: max(1, load.portCount))
        downEpoch = .filled(with: 0, count: max(1, load.portCount))
        failoverRecords = .filled(with: Failover(), count: Self.failoverCapacity)
        failoverKeys = .filled(with: 0, count: 4 * Self.failoverCapacity)
        countedOn = .filled(with: -1, count: tableSize)
        self.idleNanoseconds = idleNanoseconds
    }

    deinit {
        tags.deallocate()
        lastSeen.deallocate()
        chosen.deallocate()
        sprayBest.deallocate()
        flowlets.deallocate()
        countedOn.deallocate()
        lastChosen.deallocate()
        downEpoch.deallocate()
        failoverRecords.deallocate()
        failoverKeys.deallocate()
    }

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

    /// Active data flowlets on `port`.
    public func activeFlowlets(port: Int) -> Int { Int(flowlets[port]) }

    @inlinable @inline(__always)
    mutating func uncount(_ i: Int) {
        let p = Int(countedOn[i])
        if p >= 0 {
            flowlets[p] &-= 1
            countedOn[i] = -1
        }
    }

    /// Uncounts flowlets idle for longer than `idle`: a slice of `entries` table entries at most
    /// every 250 us (the data path offers it every load sample, 16 us; the whole table of 4096
    /// in 4 ms). Every sample was 16 M entry checks a second per switch: in a debug build a
    /// sixth of a core, and on the loaded 2 cores the switches' rx rings overflowed.
    public mutating func expire(now: UInt64, entries: Int = 256) {
        guard now &- lastSweep >= 250_000 else { return }
        lastSweep = now
        for _ in 0..<min(entries, tableMask + 1) {
            let i = sweepCursor
            sweepCursor = (sweepCursor + 1) & tableMask
            if countedOn[i] >= 0 && now > lastSeen[i] && now &- lastSeen[i] > idleNanoseconds { uncount(i) }
        }
    }

    @inlinable @inline(__always)
    mutating func random() -> UInt64 {
        rng ^= rng >> 12
        rng ^= rng << 25
        rng ^= rng >> 27
        return rng &* 0x2545_F491_4F6C_DD1D
    }

    @inlinable @inline(__always)
    public mutating func select(target: UInt32, mode: LoadBalancingMode, ports: UnsafePointer<Int32>, memberCount n: Int,
                                flowHash: UInt32, length: UInt32, now: UInt64) -> Int {
        switch mode {
        case .ecmp:
            var m = HashPathSelector.hash(flowHash, n)
            if !up[Int(ports[m])] {
                let dead = Int(ports[m])
                m = liveMember(instead: m, ports: ports, memberCount: n, flowHash: flowHash)
                if up[Int(ports[m])] { recordFailover(flowHash: flowHash, from: dead, to: Int(ports[m]), now: now) }
            }
            lastChosen[Int(ports[m])] = now
            return m
        case .flowlet: return flowlet(ports: ports, memberCount: n, flowHash: flowHash, length: length, now: now)
        case .spray: return spray(target: target, ports: ports, memberCount: n, length: length, now: now)
        }
    }

    @inlinable
    mutating func flowlet(ports: UnsafePointer<Int32>, memberCount n: Int, flowHash: UInt32, length: UInt32, now: UInt64) -> Int {
        let i = Int(flowHash) & tableMask
        let tag = flowHash | 1                      // 0 marks an empty entry
        // `lastSeen`: when the flowlet's last packet leaves (may lie ahead of now).
        let active = tags[i] != 0 && (now <= lastSeen[i] || now &- lastSeen[i] <= idleNanoseconds) && Int(chosen[i]) < n
        if active && up[Int(ports[Int(chosen[i])])] {
            if tags[i] != tag { collisions &+= 1 }
            let m = Int(chosen[i])
            let port = Int(ports[m])
            lastSeen[i] = now &+ drain[port]
            lastChosen[port] = now
            if countedOn[i] < 0 && length >= Self.dataFrameBytes {   // data after a small first frame
                flowlets[port] &+= 1
                countedOn[i] = Int32(port)
            }
            return m
        }
        uncount(i)                                  // its previous flowlet ended
        var m = best(ports: ports, memberCount: n)
        // A flow's new flowlet stays where it was unless the member chosen is clearly better:
        // a lower band, in the same band fewer active data flowlets, or with as many 5% of
        // line rate less utilised (bands are coarse: two 40 Mb/s elephants on one 500 Mb/s
        // uplink leave both uplinks in band 0). Every move risks a reorder further on.
        let previous = Int(chosen[i])
        // The flow's member went down (active or not): it fails over, wherever it goes.
        let deadFrom = tags[i] == tag && previous < n && !up[Int(ports[previous])] ? Int(ports[previous]) : -1
        let flowLast = lastSeen[i] &- min(lastSeen[i], drain[max(0, deadFrom)])   // its last packet's arrival, about
        if tags[i] == tag && previous < n && previous != m && deadFrom < 0 {
            let (p, q) = (Int(ports[previous]), Int(ports[m]))
            let (fp, fq) = speed[p] == speed[q] ? (flowlets[p], flowlets[q]) : (0, 0)
            if band[p] == band[q] && (fp < fq || fp == fq && utilisation[p] <= utilisation[q] + 0.05) { m = previous }
        }
        newFlowlets &+= 1
        if tags[i] == tag && previous != m { pathChanges &+= 1 }
        tags[i] = tag
        chosen[i] = UInt8(truncatingIfNeeded: m)
        let port = Int(ports[m])
        lastSeen[i] = now &+ drain[port]
        if deadFrom >= 0 && up[port] { recordFailover(flowHash: flowHash, from: deadFrom, to: port, now: now, flowLast: flowLast) }
        lastChosen[port] = now
        if length >= Self.dataFrameBytes {
            flowlets[port] &+= 1
            countedOn[i] = Int32(port)
        }
        return m
    }

    /// The member of lowest band, then fewest active data flowlets, ties broken uniformly at
    /// random (reservoir sampling).
    @inlinable
    public mutating func best(ports: UnsafePointer<Int32>, memberCount n: Int) -> Int {
        // Counts compare like with like: on members of different speeds one flowlet each is not
        // balanced (measured: two elephants on a 200 and a 100 Mb/s uplink split 1:1 by count,
        // where bands alone put 59-65% of the bytes on the fast one), so there bands decide.
        var sameSpeed = true
        for k in 1..<max(1, n) where speed[Int(ports[k])] != speed[Int(ports[0])] { sameSpeed = false }
        var bestLoad = UInt64.max, pick = 0, ties: UInt64 = 0
        for k in 0..<n {
            let p = Int(ports[k])
            guard up[p] else { continue }
            let b = UInt64(band[p]) << 32 | (sameSpeed ? UInt64(flowlets[p]) : 0)
            if b < bestLoad {
                bestLoad = b
                pick = k
                ties = 1
            } else if b == bestLoad {
                ties &+= 1
                if random() % ties == 0 { pick = k }
            }
        }
        return pick
    }

    @inlinable
    mutating func spray(target: UInt32, ports: UnsafePointer<Int32>, memberCount n: Int, length: UInt32, now: UInt64) -> Int {
        @inline(__always) func load(_ k: Int) -> UInt64 {
            let p = Int(ports[k])
            return up[p] ? UInt64(band[p]) << 32 | UInt64(assigned[p]) : .max
        }
        let slot = Int(target) & 1023
        var pick = Int(sprayBest[slot])
        if pick >= n { pick = 0 }
        let r = random()
        let a = HashPathSelector.hash(UInt32(truncatingIfNeeded: r), n)
        let b = HashPathSelector.hash(UInt32(truncatingIfNeeded: r >> 32), n)
        if load(a) < load(pick) { pick = a }
        if load(b) < load(pick) { pick = b }
        if !up[Int(ports[pick])] { pick = liveMember(instead: pick, ports: ports, memberCount: n, flowHash: UInt32(truncatingIfNeeded: r)) }
        sprayBest[slot] = UInt8(truncatingIfNeeded: pick)
        let p = Int(ports[pick])
        assigned[p] &+= length
        lastChosen[p] = now
        sprayed &+= 1
        return pick
    }
}
