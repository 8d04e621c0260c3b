import FabricPacket

/// The path selector of every mode (`LoadBalancingMode`), chosen per ECMP group:
/// - ecmp: the 5-tuple hash;
/// - flowlet: a table of `tableSize` entries indexed by the flow hash holds each flowlet's
///   member and when its last packet leaves this switch (its arrival plus the drain time of
///   the member's queue then); a packet within `idle` of that keeps the member (no
///   reordering), after a longer gap the flow starts a new flowlet on the member of best band
///   (ties drawn at random; a flow stays on its member unless the one drawn is clearly better).
///   The gap counts from the departure, not the arrival: behind a
///   deep queue (an uplink slower than its senders, PFC) a flow that pauses has packets still
///   queued, and a new flowlet on an idle member would overtake them (measured: a ring
///   all-reduce over 100 Mb/s uplinks reordered 8307 packets with arrival gaps). Two flows on
///   one entry share it (counted as a collision, the resident keeps its member);
/// - spray (DRILL, Ghorbani et al., SIGCOMM 2017): per packet, the least loaded of two random
///   members and the group's previous best, by band and then bytes assigned since the sample.
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
        self.idleNanoseconds = idleNanoseconds
    }

    deinit {
        tags.deallocate()
        lastSeen.deallocate()
        chosen.deallocate()
        sprayBest.deallocate()
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
        case .ecmp: return HashPathSelector.hash(flowHash, n)
        case .flowlet: return flowlet(ports: ports, memberCount: n, flowHash: flowHash, now: now)
        case .spray: return spray(target: target, ports: ports, memberCount: n, length: length)
        }
    }

    @inlinable
    mutating func flowlet(ports: UnsafePointer<Int32>, memberCount n: Int, flowHash: UInt32, now: UInt64) -> Int {
        let i = Int(flowHash) & tableMask
        let tag = flowHash | 1                      // 0 marks an empty entry
        // `lastSeen`: when the flowlet's last packet leaves (may lie ahead of now).
        let active = tags[i] != 0 && (now <= lastSeen[i] || now &- lastSeen[i] <= idleNanoseconds) && Int(chosen[i]) < n
        if active {
            if tags[i] != tag { collisions &+= 1 }
            let m = Int(chosen[i])
            lastSeen[i] = now &+ drain[Int(ports[m])]
            return m
        }
        var m = best(ports: ports, memberCount: n)
        // A flow's new flowlet stays where it was unless the member drawn is clearly better: a
        // lower band, or in the same band 5% of line rate less utilised (bands are coarse: two
        // 40 Mb/s elephants on one 500 Mb/s uplink leave both uplinks in band 0). Every move
        // risks a reorder further on. Ties are drawn at random, not given to the least
        // utilised: flows starting together (a collective's step) would all herd onto it.
        let previous = Int(chosen[i])
        if tags[i] == tag && previous < n && previous != m && band[Int(ports[previous])] == band[Int(ports[m])]
            && utilisation[Int(ports[previous])] <= utilisation[Int(ports[m])] + 0.05 { m = previous }
        newFlowlets &+= 1
        if tags[i] == tag && previous != m { pathChanges &+= 1 }
        tags[i] = tag
        chosen[i] = UInt8(truncatingIfNeeded: m)
        lastSeen[i] = now &+ drain[Int(ports[m])]
        return m
    }

    /// The member of lowest band, ties broken uniformly at random (reservoir sampling).
    @inlinable
    public mutating func best(ports: UnsafePointer<Int32>, memberCount n: Int) -> Int {
        var bestBand = UInt8.max, pick = 0, ties: UInt64 = 0
        for k in 0..<n {
            let b = band[Int(ports[k])]
            if b < bestBand {
                bestBand = b
                pick = k
                ties = 1
            } else if b == bestBand {
                ties &+= 1
                if random() % ties == 0 { pick = k }
            }
        }
        return pick
    }

    @inlinable
    mutating func spray(target: UInt32, ports: UnsafePointer<Int32>, memberCount n: Int, length: UInt32) -> Int {
        @inline(__always) func load(_ k: Int) -> UInt64 {
            let p = Int(ports[k])
            return UInt64(band[p]) << 32 | UInt64(assigned[p])
        }
        let slot = Int(target) & 1023
        var pick = Int(sprayBest[slot])
        if pick >= n { pick = 0 }
        let r = random()
        let a = HashPathSelector.hash(UInt32(truncatingIfNeeded: r), n)
        let b = HashPathSelector.hash(UInt32(truncatingIfNeeded: r >> 32), n)
        if load(a) < load(pick) { pick = a }
        if load(b) < load(pick) { pick = b }
        sprayBest[slot] = UInt8(truncatingIfNeeded: pick)
        let p = Int(ports[pick])
        assigned[p] &+= length
        sprayed &+= 1
        return pick
    }
}
