#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Per-port egress quality for load-aware path choice, as Broadcom's DLB keeps it: an EWMA of
/// the port's transmitted bytes relative to its line rate, and the bytes queued on it as time
/// to drain at that rate, each quantised into bands 0 (idle) ... 7, the port's band the worse
/// of the two. Both are relative to the port's own speed, so a half-speed member is seen as
/// twice as loaded by the same traffic. The data path sets the EWMA's span to 16 flowlet idle
/// times: a flowlet starts after a gap, so a short memory sees every member idle at each
/// decision, and a memory of one or two bursts makes consecutive flowlets alternate. Measured
/// on the leaf-spine bed (2 bursty flows, uplinks 200 and 100 Mb/s, 2 ms idle timer): the fast
/// uplink got 52% of the bytes with an 8 ms span, 57% after removing a per-sample clip, and
/// 59-65% with 32 ms. Sampled by the run loop every `interval`, off the
/// per-packet path; the selector reads the published bands.
public struct PortLoad: ~Copyable {
    public let portCount: Int
    /// Quality band per port, 0 best ... 7 worst.
    public let band: UnsafeMutablePointer<UInt8>
    /// Bytes the selector sent each port's way since the last sample (spray's feedback
    /// between samples); reset by every sample.
    public let assigned: UnsafeMutablePointer<UInt32>
    /// Bytes per nanosecond each port sends at (its emulated speed, or 100G).
    @usableFromInline let capacity: UnsafeMutablePointer<Double>
    /// EWMA of the utilisation (0...1), weight 1/8 per sample.
    public let utilisation: UnsafeMutablePointer<Double>
    @usableFromInline let lastTx: UnsafeMutablePointer<UInt64>
    @usableFromInline var lastSample: UInt64 = 0
    public static let interval: UInt64 = 16_000
    /// 1 / the EWMA's time constant (a sample after a long quiet spell, when the run loop
    /// slept, weighs as much as the time it covers).
    public let ewmaPerNanosecond: Double
    /// A band per 16 us of queue (drain time at the port's rate).
    public static let queueBandNanoseconds = 16_000.0

    /// `timeConstantNanoseconds`: the span the utilisation averages over. The data path uses
    /// 4 flowlet idle times, so a flowlet's choice sees the load of the last few flowlets.
    public init(portSpeedsGbps: [Double?], timeConstantNanoseconds: UInt64 = 1_024_000) {
        ewmaPerNanosecond = 1 / Double(max(1, timeConstantNanoseconds))
        portCount = portSpeedsGbps.count
        band = .filled(with: 0, count: portCount)
        assigned = .filled(with: 0, count: portCount)
        capacity = .filled(with: 12.5, count: portCount)
        for (p, s) in portSpeedsGbps.enumerated() { if let s { capacity[p] = s / 8 } }
        utilisation = .filled(with: 0, count: portCount)
        lastTx = .filled(with: 0, count: portCount)
    }

    deinit {
        band.deallocate()
        assigned.deallocate()
        capacity.deallocate()
        utilisation.deallocate()
        lastTx.deallocate()
    }

    /// Takes a sample if `interval` has passed: `txBytes(p)` is port p's transmitted bytes so
    /// far, `queuedBytes(p)` what waits on it now.
    @inlinable
    public mutating func sample(now: UInt64, txBytes: (Int) -> UInt64, queuedBytes: (Int) -> Int) {
        let dt = now &- lastSample
        guard dt >= Self.interval else { return }
        let first = lastSample == 0
        lastSample = now
        // The exact EWMA weight of a sample covering dt: 1 - e^(-dt/tau). A linear dt/tau would
        // let one sample after a quiet spell (the run loop slept) wipe out the memory.
        let weight = 1 - exp(-Double(dt) * ewmaPerNanosecond)
        for p in 0..<portCount {
            let tx = txBytes(p)
            let sent = tx &- lastTx[p]
            lastTx[p] = tx
            if first { continue }
            // Not clipped: a 16 us sample of a slow port holds one whole frame or none (a 1 KB
            // frame is 86 us at 100 Mb/s), so single samples read 0 or 5x; the EWMA averages
            // them (clipping each at 1.5 made a busy 100M port look 10% used).
            let u = Double(sent) / (capacity[p] * Double(dt))
            utilisation[p] += (u - utilisation[p]) * weight
            let loadBand = min(7, Int(utilisation[p] * 8))
            let queueBand = min(7, Int(Double(queuedBytes(p)) / capacity[p] / Self.queueBandNanoseconds))
            band[p] = UInt8(max(loadBand, queueBand))
            assigned[p] = 0
        }
    }
}

/// The path selector of every mode (`LoadBalancingMode`), chosen per ECMP group:
/// - ecmp: the 5-tuple hash;
/// - flowlet: a table of `tableSize` entries indexed by the flow hash holds each flowlet's
///   member and last-seen time; a packet within `idle` of its flow's previous one keeps the
///   member (no reordering), after a longer gap the flow starts a new flowlet on the member of
///   best band (ties broken at random). Two flows on one entry share it (counted as a
///   collision, the resident keeps its member);
/// - spray (DRILL, Ghorbani et al., SIGCOMM 2017): per packet, the least loaded of two random
///   members and the group's previous best, by band and then bytes assigned since the sample.
public struct AdaptivePathSelector: PathSelector, ~Copyable {
    @usableFromInline let band: UnsafeMutablePointer<UInt8>
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
        let active = tags[i] != 0 && now &- lastSeen[i] <= idleNanoseconds && Int(chosen[i]) < n
        if active {
            if tags[i] != tag { collisions &+= 1 }
            lastSeen[i] = now
            return Int(chosen[i])
        }
        let m = best(ports: ports, memberCount: n)
        newFlowlets &+= 1
        if tags[i] == tag && Int(chosen[i]) != m { pathChanges &+= 1 }
        tags[i] = tag
        chosen[i] = UInt8(truncatingIfNeeded: m)
        lastSeen[i] = now
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
