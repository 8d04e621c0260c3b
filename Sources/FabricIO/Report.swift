import FabricCore

/// One port as an operator sees it: counters, state, and what its XDP program did.
public struct PortReport: Codable, Sendable {
    public var name: String
    public var ifindex: Int32
    public var inService: Bool
    public var xdpMode: String
    public var rxFrames: UInt64
    public var rxBytes: UInt64
    public var txFrames: UInt64
    public var txBytes: UInt64
    public var floodCopies: UInt64
    public var drops: [String: UInt64]
    public var dropsTotal: UInt64
    /// Router mode: RoCEv2 and CNP frames received, frames consumed by the switch itself
    /// (ARP, ICMP to its addresses, PAUSE/PFC), ARP/ICMP it sent, and parse errors by kind.
    public var roceFrames: UInt64
    public var cnpFrames: UInt64
    /// IPv6 with extension headers / IPv4 fragments: routed without L4 parsing.
    public var l4Skipped: UInt64
    public var consumed: UInt64
    public var arpRequestsSent: UInt64
    public var arpRepliesSent: UInt64
    public var icmpEchoReplies: UInt64
    public var parseErrors: [String: UInt64]
    /// 802.1Qbb per priority 0...7: PFC frames received, XOFF->XON transitions, paused time of
    /// the matching egress queue (microseconds). PAUSE frames received (counted only).
    public var pfcRx: [UInt64]
    public var pfcXonTransitions: [UInt64]
    public var pfcPausedMicroseconds: [Double]
    /// PFC frames this switch sent on the port, per priority; ingress buffer per PG now and peak.
    public var pfcTx: [UInt64]
    public var pgBytes: [UInt64]
    public var pgWatermark: [UInt64]
    /// Of `pgBytes`, what the shared pool and the headroom hold now; the peak headroom use.
    public var pgShared: [UInt64]
    public var pgHeadroom: [UInt64]
    public var pgHeadroomWatermark: [UInt64]
    /// XOFFs sent on this port and their reaction time (PG threshold crossing to the XOFF's
    /// submission for transmission), mean and max in microseconds.
    public var pfcReaction: ReactionReport
    /// Egress load as the flowlet/spray selectors see it: EWMA utilisation of the line rate
    /// and the quality band (0 best ... 7).
    public var utilisation: Double
    public var loadBand: Int
    public var pauseRx: UInt64
    /// Per egress queue 0...7.
    public var queues: [QueueReport]
    public var xdpRedirected: UInt64
    public var xdpPassed: UInt64
    /// Frames the kernel dropped at this port's AF_XDP socket before the switch saw them.
    public var socket: SocketDrops
}

/// The kernel's own drop counters of an AF_XDP socket (getsockopt XDP_STATISTICS): frames the
/// XDP program steered to the socket that never reached the switch.
public struct SocketDrops: Codable, Sendable, Equatable {
    /// RX ring full: the switch did not consume fast enough.
    public var rxRingFull: UInt64 = 0
    /// No fill-ring buffer for the frame, or another kernel-side reason.
    public var rxDropped: UInt64 = 0
    /// Times the kernel found the fill ring empty (a frame may have been dropped each time).
    public var fillRingEmpty: UInt64 = 0
    public var rxInvalid: UInt64 = 0
    public var txInvalid: UInt64 = 0
    /// The most frames seen waiting in the rx ring (received by the kernel, not yet by the
    /// switch) and the ring's size. Frames there are not yet classified, so no PFC threshold
    /// sees them: a peak near the size means the switch fell behind by a whole ring (0 where
    /// the backend does not measure it: AF_PACKET).
    public var rxRingPeak: UInt64 = 0
    public var rxRingSize: UInt64 = 0
    public init() {}

    /// Frames lost at the socket.
    public var frames: UInt64 { rxRingFull + rxDropped + rxInvalid + txInvalid }
}

/// A snapshot of a running (or just stopped) switch, as written to --stats-file and printed
/// on exit. Schema: see README "Counters".
public struct SwitchReport: Codable, Sendable {
    public var name: String
    /// "bridge" or "router".
    public var mode: String
    public var sequence: UInt64
    public var uptimeSeconds: Double
    public var running: Bool
    public var ports: [PortReport]
    public var macEntries: Int
    public var neighbours: [NeighbourReport]
    public var ledger: FrameLedger
    public var loop: LoopCounters
    /// The shared ingress buffer pool.
    public var buffer: BufferReport
    /// The flowlet and spray selectors' counters.
    public var loadBalancing: LoadBalancingReport
    /// At exit, one line per --capture: frames written and where.
    public var captures: [String]? = nil
}

public struct LoadBalancingReport: Codable, Sendable {
    public var newFlowlets: UInt64
    public var pathChanges: UInt64
    public var collisions: UInt64
    public var sprayed: UInt64
    public var flowletIdleMicroseconds: Double
}

/// The switch's shared ingress pool: its size, bytes in use now and the most ever in use.
public struct BufferReport: Codable, Sendable {
    public var poolBytes: Int
    public var usedBytes: Int
    public var watermarkBytes: Int
}

/// How fast the switch sent its XOFFs.
public struct ReactionReport: Codable, Sendable {
    public var count: UInt64
    public var meanMicroseconds: Double
    public var maxMicroseconds: Double
}

/// One egress queue of a port.
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
    /// Switch residence time of the frames this queue sent (receive to transmit submit).
    public var residence: ResidenceReport
}

/// Percentiles of a residence-time histogram, microseconds (HdrHistogram layout, 1 us
/// resolution up to 127 us, 1.6% above).
public struct ResidenceReport: Codable, Sendable {
    public var count: UInt64
    public var p50: UInt64
    public var p99: UInt64
    public var p999: UInt64
    public var max: UInt64
}

/// One ARP cache entry.
public struct NeighbourReport: Codable, Sendable {
    public var address: String
    /// nil while being resolved.
    public var mac: String?
    public var isStatic: Bool
}

/// How the run loop spent its time (counted per iteration, never per packet).
public struct LoopCounters: Codable, Sendable {
    public var iterations: UInt64 = 0
    public var polls: UInt64 = 0
    public var kicks: UInt64 = 0
    public var kickErrors: UInt64 = 0
    /// The longest time the worker went without looking at its rings while not asleep in
    /// poll(): descheduled by the kernel, or busy with housekeeping (stats, captures). Frames
    /// arriving meanwhile wait in the sockets' rx rings, which the switch cannot classify: this
    /// is the reaction time PFC headroom has to cover beyond the wire's.
    public var longestStallMicroseconds: Double = 0
    public init() {}
}

extension SwitchReport {
    /// The frame balance of the whole switch: what came in or was made by the switch in fresh
    /// frames (ARP requests and neighbour solicitations, PFC, flood copies) against what went
    /// out, was dropped, was used up by the switch (consumed) or is still queued or awaiting a
    /// neighbour. (ARP/ND replies and echo replies reuse the request's frame: in once, out
    /// once.) Equal when nothing went missing.
    public var balance: (into: UInt64, outOf: UInt64) {
        var into: UInt64 = 0, out: UInt64 = 0
        for p in ports {
            into += p.rxFrames + p.floodCopies + p.arpRequestsSent + p.pfcTx.reduce(0, +)
            out += p.txFrames + p.dropsTotal + p.consumed + p.queues.reduce(0) { $0 + UInt64($1.depthFrames) }
        }
        return (into, out + UInt64(ledger.pending))
    }

    /// The exit summary: a fixed-width table a network engineer reads without the docs.
    public var table: String {
        func pad(_ s: String, _ w: Int) -> String { s.count >= w ? s : String(repeating: " ", count: w - s.count) + s }
        func lpad(_ s: String, _ w: Int) -> String { s.count >= w ? s : s + String(repeating: " ", count: w - s.count) }
        var out = lpad("PORT", 12) + lpad("STATE", 7) + pad("RX_FRAMES", 12) + pad("RX_BYTES", 14)
            + pad("TX_FRAMES", 12) + pad("TX_BYTES", 14) + pad("DROPS", 8) + pad("XDP_REDIR", 11) + pad("XDP_PASS", 10) + "\n"
        for p in ports {
            out += lpad(p.name, 12) + lpad(p.inService ? "up" : "gone", 7) + pad("\(p.rxFrames)", 12) + pad("\(p.rxBytes)", 14)
                + pad("\(p.txFrames)", 12) + pad("\(p.txBytes)", 14) + pad("\(p.dropsTotal + p.socket.frames)", 8)
                + pad("\(p.xdpRedirected)", 11) + pad("\(p.xdpPassed)", 10) + "\n"
        }
        let reasons = ports.flatMap { p in
            var all = p.drops
            all["socket_rx_ring_full"] = p.socket.rxRingFull
            all["socket_rx_dropped"] = p.socket.rxDropped
            all["socket_invalid"] = p.socket.rxInvalid + p.socket.txInvalid
            return all.filter { $0.value > 0 }.sorted { $0.key < $1.key }.map { "\(p.name):\($0.key)=\($0.value)" }
        }
        if !reasons.isEmpty { out += "drops by reason: " + reasons.joined(separator: " ") + "\n" }
        let backlog = ports.filter { $0.socket.rxRingPeak > 0 }.map { "\($0.name)=\($0.socket.rxRingPeak)/\($0.socket.rxRingSize)" }
        if !backlog.isEmpty { out += "rx ring peak (frames waiting for the switch): " + backlog.joined(separator: " ") + "\n" }
        let pfc: [String] = ports.flatMap { p in (0..<8).filter { p.pfcRx[$0] > 0 }.map { prio -> String in
            "\(p.name):prio\(prio)=\(p.pfcRx[prio]) frames/\(Int(p.pfcPausedMicroseconds[prio])) us paused"
        } }
        if !pfc.isEmpty { out += "PFC received: " + pfc.joined(separator: " ") + "\n" }
        let pfcOut: [String] = ports.flatMap { p in (0..<8).filter { p.pfcTx[$0] > 0 }.map {
            "\(p.name):prio\($0)=\(p.pfcTx[$0]) frames (PG peak \(p.pgWatermark[$0]) B, headroom peak \(p.pgHeadroomWatermark[$0]) B)"
        } }
        if !pfcOut.isEmpty { out += "PFC sent: " + pfcOut.joined(separator: " ") + "\n" }
        let reactions = ports.filter { $0.pfcReaction.count > 0 }.map {
            "\($0.name): \($0.pfcReaction.count) XOFF, mean \(String(format: "%.1f", $0.pfcReaction.meanMicroseconds)) us, max \(String(format: "%.1f", $0.pfcReaction.maxMicroseconds)) us"
        }
        if !reactions.isEmpty { out += "PFC reaction (threshold to wire): " + reactions.joined(separator: "; ") + "\n" }
        if loadBalancing.newFlowlets + loadBalancing.sprayed > 0 {
            out += "load balancing: \(loadBalancing.newFlowlets) flowlets, \(loadBalancing.pathChanges) path changes, "
                + "\(loadBalancing.collisions) collisions (idle \(Int(loadBalancing.flowletIdleMicroseconds)) us), \(loadBalancing.sprayed) packets sprayed\n"
        }
        for c in captures ?? [] { out += c + "\n" }
        out += "shared buffer: peak \(buffer.watermarkBytes) of \(buffer.poolBytes) B, \(buffer.usedBytes) B in use\n"
        out += "worker: \(loop.iterations) passes, longest stall \(String(format: "%.1f", loop.longestStallMicroseconds / 1000)) ms (not polling, not asleep)\n"
        let marks = ports.flatMap { p in p.queues.filter { $0.ecnMarked > 0 }.map { "\(p.name):q\($0.queue)=\($0.ecnMarked)" } }
        if !marks.isEmpty { out += "ECN CE-marked: " + marks.joined(separator: " ") + "\n" }
        let storms = ports.flatMap { p in p.queues.filter { $0.pfcwdStorms > 0 }.map {
            "\(p.name):q\($0.queue) storms=\($0.pfcwdStorms) restored=\($0.pfcwdRestored) dropped=\($0.pfcwdDropped) detected after \(String(format: "%.0f", $0.pfcwdDetectedAfterMilliseconds)) ms paused\($0.stormed ? " (stormed now)" : "")"
        } }
        if !storms.isEmpty { out += "PFC watchdog: " + storms.joined(separator: " ") + "\n" }
        if mode == "router" {
            let kinds = ports.map { p in "\(p.name): roce \(p.roceFrames) cnp \(p.cnpFrames) to-switch \(p.consumed) arp-req \(p.arpRequestsSent) arp-rep \(p.arpRepliesSent)" }
            out += "router: " + kinds.joined(separator: "; ") + "\n"
            let pe = ports.flatMap { p in p.parseErrors.sorted { $0.key < $1.key }.map { "\(p.name):\($0.key)=\($0.value)" } }
            if !pe.isEmpty { out += "parse errors: " + pe.joined(separator: " ") + "\n" }
            let resolved = neighbours.filter { $0.mac != nil }.count
            out += "neighbours: \(resolved) resolved, \(neighbours.count - resolved) resolving; \(ledger)\n"
        } else {
            out += "MAC table: \(macEntries) entries; \(ledger)\n"
        }
        return out
    }
}
