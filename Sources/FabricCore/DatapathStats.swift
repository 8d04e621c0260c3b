import FabricPacket

/// One egress queue of a port, as telemetry reports it (`fabric stats`, the stats file).
public struct QueueReport: Codable, Sendable {
    public var queue: Int
    public var depthFrames: Int
    public var depthBytes: Int
    public var watermarkFrames: Int
    public var enqueued: UInt64
    public var dequeued: UInt64
    public var dropped: UInt64
    public var ecnMarked: UInt64
    /// PFC watchdog: stormed now, storms detected and restored, frames it discarded.
    public var stormed: Bool
    public var pfcwdStorms: UInt64
    public var pfcwdRestored: UInt64
    public var pfcwdDropped: UInt64
    /// The last storm was declared after the queue had been paused this long.
    public var pfcwdDetectedAfterMilliseconds: Double
    /// Switch residence time of the frames this queue sent: from the XDP stamp (`--ring-wait
    /// on`), else from the worker's receive, to transmit submit.
    public var residence: ResidenceReport
    /// Bytes (frame lengths, no FCS) beside `enqueued`, `dequeued`, `dropped` and
    /// `pfcwdDropped`; absent in files from before them.
    public var enqueuedBytes: UInt64? = nil
    public var dequeuedBytes: UInt64? = nil
    public var droppedBytes: UInt64? = nil
    public var pfcwdDroppedBytes: UInt64? = nil
    /// A lossless queue: PFC received on this port pauses it (a priority the port honours maps
    /// to it), so the PFC watchdog watches it (SONiC's pfcwd monitors these).
    public var lossless: Bool? = nil
}

/// Percentiles of a residence-time histogram, microseconds (HdrHistogram layout, 1 us
/// resolution up to 127 us, 1.6% above), with its exact sum and cumulative counts at fixed
/// bounds (a Prometheus histogram). The optional fields are absent in files from before them.
public struct ResidenceReport: Codable, Sendable {
    public var count: UInt64
    public var p50: UInt64
    public var p99: UInt64
    public var p999: UInt64
    public var max: UInt64
    /// The sum of the times, microseconds, and the part of it the frames spent in their
    /// socket's rx ring (from the XDP stamp to the worker's receive; 0 without stamps).
    public var sumMicroseconds: Double? = nil
    public var ringMicroseconds: Double? = nil
    /// Frames below each of `bounds`, cumulative.
    public var below: [UInt64]? = nil

    /// The histogram bounds of `below` and of Prometheus' `le` labels, microseconds.
    public static let bounds: [UInt64] = [1, 2, 5, 10, 20, 50, 100, 200, 500, 1_000, 2_000, 5_000, 10_000, 20_000, 50_000,
                                          100_000, 200_000, 500_000, 1_000_000]

    public init(count: UInt64, p50: UInt64, p99: UInt64, p999: UInt64, max: UInt64,
                sumMicroseconds: Double? = nil, ringMicroseconds: Double? = nil, below: [UInt64]? = nil) {
        self.count = count
        self.p50 = p50
        self.p99 = p99
        self.p999 = p999
        self.max = max
        self.sumMicroseconds = sumMicroseconds
        self.ringMicroseconds = ringMicroseconds
        self.below = below
    }

    /// Histogram `h` of `r`.
    public init(_ r: borrowing ResidenceHistograms, _ h: Int) {
        self.init(count: r.count(h), p50: r.percentile(h, 50), p99: r.percentile(h, 99), p999: r.percentile(h, 99.9), max: r.max(h),
                  sumMicroseconds: Double(r.sum(h)) / 1000, ringMicroseconds: Double(r.ringSum(h)) / 1000,
                  below: r.cumulative(h, bounds: Self.bounds))
    }

    /// The mean time, microseconds (0 without samples or a sum).
    public var meanMicroseconds: Double { count == 0 ? 0 : (sumMicroseconds ?? 0) / Double(count) }
    /// Of the mean, the part spent in the rx ring.
    public var ringMeanMicroseconds: Double { count == 0 ? 0 : (ringMicroseconds ?? 0) / Double(count) }
}

/// One port as telemetry sees it: its counters and the state of its stages.
public struct PortStats: Sendable {
    public var inService: Bool
    /// Carrier and admin state as the switch last saw it.
    public var linkUp: Bool
    public var counters: PortCounters
    public var queues: [QueueReport]
    /// Per PFC priority 0...7: nanoseconds the matching egress queue has been paused.
    public var pausedNanoseconds: [UInt64]
    /// Per priority group 0...7: ingress bytes held now, their peak, the parts in the shared
    /// pool and in headroom now, and the headroom peak.
    public var pgBytes: [Int]
    public var pgPeak: [Int]
    public var pgShared: [Int]
    public var pgHeadroom: [Int]
    public var pgHeadroomPeak: [Int]
    /// Egress load as the flowlet and spray selectors see it.
    public var utilisation: Double
    public var loadBand: Int
    /// What the neighbour tables did for addresses on this port.
    public var neighbour: NeighbourCounters
    /// How long the frames received here waited in the socket's rx ring (from their XDP
    /// stamps; no samples without them).
    public var ringWait: ResidenceReport
}

/// Read-only views of the data path: for telemetry, plain values copied out on request (a
/// snapshot, a recorder sample), never on the per-packet path; for the run loop, cheap
/// per-pass questions (in service? anything queued?).
extension Datapath {
    public func stats(port p: Int, now: UInt64) -> PortStats {
        let e = egress
        let c = counters[p]
        var pausable: UInt8 = 0
        for prio in 0..<8 where pfcReceiver.enabled(port: p) & (1 << UInt8(prio)) != 0 {
            pausable |= 1 << UInt8(pfcReceiver.queue(priority: prio))
        }
        let queues = (0..<EgressPort.queueCount).map { q in
            let d = e[p].depth(queue: q)
            return QueueReport(queue: q, depthFrames: d.frames, depthBytes: d.bytes, watermarkFrames: e[p].watermark[q],
                               enqueued: e[p].enqueued[q], dequeued: e[p].dequeued[q], dropped: e[p].dropped[q], ecnMarked: c.ecnMarked[q],
                               stormed: watchdog.isStormed(port: p, queue: q), pfcwdStorms: c.pfcwdStorms[q],
                               pfcwdRestored: c.pfcwdRestored[q], pfcwdDropped: c.pfcwdDropped[q],
                               pfcwdDetectedAfterMilliseconds: Double(c.pfcwdDetectedAfter[q]) / 1e6,
                               residence: ResidenceReport(e[p].residence, q),
                               enqueuedBytes: e[p].enqueuedBytes[q], dequeuedBytes: e[p].dequeuedBytes[q],
                               droppedBytes: e[p].droppedBytes[q], pfcwdDroppedBytes: c.pfcwdDroppedBytes[q],
                               lossless: pausable & (1 << UInt8(q)) != 0)
        }
        var pg = (bytes: [Int](), peak: [Int](), shared: [Int](), headroom: [Int](), headroomPeak: [Int]())
        for g in 0..<8 {
            pg.bytes.append(admission.buffer.held(port: p, pg: g))
            pg.peak.append(admission.buffer.heldPeak(port: p, pg: g))
            pg.shared.append(admission.buffer.shared(port: p, pg: g))
            pg.headroom.append(admission.buffer.headroomUsed(port: p, pg: g))
            pg.headroomPeak.append(admission.buffer.headroomPeak(port: p, pg: g))
        }
        var paused: [UInt64] = []
        for prio in 0..<8 { paused.append(e[p].pause.pausedNanoseconds(queue: pfcReceiver.queue(priority: prio), now: now)) }
        return PortStats(inService: service[p], linkUp: load.up[p], counters: counters[p], queues: queues, pausedNanoseconds: paused,
                         pgBytes: pg.bytes, pgPeak: pg.peak, pgShared: pg.shared, pgHeadroom: pg.headroom, pgHeadroomPeak: pg.headroomPeak,
                         utilisation: load.utilisation[p], loadBand: Int(load.band[p]), neighbour: router.neighbours.counters(port: p),
                         ringWait: ResidenceReport(ringWait, p))
    }

    /// The shared ingress pool: its size, bytes in use, the most ever in use.
    public var bufferPool: (bytes: Int, used: Int, watermark: Int) {
        (admission.buffer.poolBytes, admission.buffer.poolUsed, admission.buffer.poolWatermark)
    }

    /// The flowlet and spray selectors' counters.
    public var loadBalancing: (newFlowlets: UInt64, pathChanges: UInt64, collisions: UInt64, sprayed: UInt64, flowletIdleNanoseconds: UInt64) {
        (router.selector.newFlowlets, router.selector.pathChanges, router.selector.collisions, router.selector.sprayed,
         router.selector.idleNanoseconds)
    }

    /// Learned MAC addresses (bridge mode).
    public var macEntries: Int { bridge.table.count }
    /// Addresses the MAC table refused because it was full, and entries that moved to another
    /// port (a host moved, or a loop).
    public var macLearnFailures: UInt64 { bridge.table.learnFailures }
    public var macMoves: UInt64 { bridge.table.moves }

    /// The neighbour table: IPv4 entries in address order, then IPv6; nil MAC while resolving.
    public func neighbourEntries(now: UInt64) -> [(address: IPAddress, mac: MACAddress?, isStatic: Bool)] {
        router.neighbours.entries(now: now).sorted { $0.ip < $1.ip }.map { (.v4($0.ip), $0.mac, $0.isStatic) }
            + router.neighbours.entries6(now: now).map { (.v6($0.ip), $0.mac, $0.isStatic) }
    }

    /// Residence-time histogram of (port, queue): bucket lower bounds (us) and counts.
    public func residenceBuckets(port: Int, queue: Int) -> [(us: UInt64, count: UInt64)] { egress[port].residence.buckets(queue) }
    /// Rx-ring wait histogram of a port: bucket lower bounds (us) and counts.
    public func ringWaitBuckets(port: Int) -> [(us: UInt64, count: UInt64)] { ringWait.buckets(port) }

    // MARK: - For the run loop and its samplers (cheap: per iteration or per sample)

    @inlinable public func isInService(_ port: Int) -> Bool { service[port] }
    /// The port's link is up (as the I/O layer last saw it).
    @inlinable public func isLinkUp(_ port: Int) -> Bool { load.up[port] }
    /// Flows moved off members whose link went down, oldest first.
    public var failovers: [AdaptivePathSelector.Failover] { router.selector.failovers }
    /// Which ports are in service, for the backends' poll() (read-only).
    public var inService: UnsafePointer<Bool> { UnsafePointer(service) }
    @inlinable public func hasQueued(port: Int) -> Bool { !egress[port].isEmpty }
    @inlinable public func depthBytes(port: Int, queue: Int) -> Int { egress[port].depth(queue: queue).bytes }
    @inlinable public func pausedMask(port: Int, now: UInt64) -> UInt8 { egress[port].pause.pausedMask(now: now) }
    @inlinable public func counters(port: Int) -> PortCounters { counters[port] }

    /// Frames held in egress queues.
    public var queuedFrames: Int { (0..<portCount).reduce(0) { $0 + egress[$1].count } }
    /// Frames crossing the ports' emulated wires (part of `queuedFrames`).
    public var framesOnWire: Int { (0..<portCount).reduce(0) { $0 + egress[$1].line.count } }
    /// When the first frame on any emulated wire arrives (nil: none on a wire).
    public var nextWireArrival: UInt64? { (0..<portCount).compactMap { egress[$0].line.nextDue }.min() }
    /// Frames parked until their next hop resolves (part of the frame ledger).
    public var pendingFrames: Int { pending.count }

    /// Residence times recorded per queue (on by default; the benchmark measures both ways).
    public func recordResidence(_ on: Bool) {
        for p in 0..<portCount { egress[p].recordResidence = on }
    }
}
