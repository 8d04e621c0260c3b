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
    /// Per port: its speed in kb/s (`best`: members of different speeds compare shares).
    @usableFromInline let speedKbps: UnsafeMutablePointer<UInt64>
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
    public internal(set) var failoverCount = 0
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
        speedKbps = .filled(with: 0, count: max(1, load.portCount))
        for p in 0..<load.portCount { speedKbps[p] = UInt64((load.capacity[p] * 8_000_000).rounded()) }
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
        speedKbps.deallocate()
        downEpoch.deallocate()
        failoverRecords.deallocate()
        failoverKeys.deallocate()
    }

    /// Port `p`'s speed from now on (the load's own is set by `PortLoad.setSpeed`).
    public func setSpeed(port p: Int, gbps: Double?) { speedKbps[p] = UInt64(((gbps ?? 100) * 1_000_000).rounded()) }

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
            if speedKbps[p] == speedKbps[q] {
                let (fp, fq) = (flowlets[p], flowlets[q])
                if band[p] == band[q] && (fp < fq || fp == fq && utilisation[p] <= utilisation[q] + 0.05) { m = previous }
            } else if share(p, q) > 0 || share(p, q) == 0 && band[p] <= band[q] {
                m = previous
            }
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

    /// How a new flowlet's rate on `p` compares with one on `q`: the port's speed shared with
    /// the data flowlets already on it, speed / (flowlets + 1); > 0 if `p` would give it more.
    /// Exact (integer kb/s, cross-multiplied), so equal shares are ties, not rounding.
    @inlinable @inline(__always)
    func share(_ p: Int, _ q: Int) -> Int {
        let a = speedKbps[p] &* (UInt64(flowlets[q]) &+ 1), b = speedKbps[q] &* (UInt64(flowlets[p]) &+ 1)
        return a > b ? 1 : a < b ? -1 : 0
    }

    /// The member a new flowlet goes to, ties broken uniformly at random (reservoir sampling):
    /// - members of one speed: lowest band, then fewest active data flowlets;
    /// - members of different speeds: the largest share of its port's speed, then the lowest
    ///   band. Bands are relative to each port's speed but coarse, and between flowlets that
    ///   start milliseconds apart they mostly remember the last flowlet placed, so with bands
    ///   first consecutive flowlets alternate and split a 200 and a 100 Mb/s uplink about 1:1
    ///   (measured 0.82-1.59 over runs). The share is what a flowlet gets from a member at once:
    ///   with nothing on either it takes the fast one, with one flowlet on the fast one both
    ///   offer the same (the band decides), with two the slow one.
    @inlinable
    public mutating func best(ports: UnsafePointer<Int32>, memberCount n: Int) -> Int {
        var sameSpeed = true
        for k in 1..<max(1, n) where speedKbps[Int(ports[k])] != speedKbps[Int(ports[0])] { sameSpeed = false }
        if !sameSpeed { return bestShare(ports: ports, memberCount: n) }
        var bestLoad = UInt64.max, pick = 0, ties: UInt64 = 0
        for k in 0..<n {
            let p = Int(ports[k])
            guard up[p] else { continue }
            let b = UInt64(band[p]) << 32 | UInt64(flowlets[p])
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
    mutating func bestShare(ports: UnsafePointer<Int32>, memberCount n: Int) -> Int {
        var pick = -1, ties: UInt64 = 0
        for k in 0..<n {
            let p = Int(ports[k])
            guard up[p] else { continue }
            guard pick >= 0 else { pick = k; ties = 1; continue }
            let q = Int(ports[pick])
            let s = share(p, q)
            if s > 0 || s == 0 && band[p] < band[q] {
                pick = k
                ties = 1
            } else if s == 0 && band[p] == band[q] {
                ties &+= 1
                if random() % ties == 0 { pick = k }
            }
        }
        return max(0, pick)
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
