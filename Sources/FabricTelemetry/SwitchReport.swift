import FabricCore

/// One port as an operator sees it: counters, state, and what its XDP program did.
public struct PortReport: Codable, Sendable {
    public var name: String
    public var ifindex: Int32
    public var inService: Bool
    /// Carrier and admin state as the switch last saw it, and its transitions (absent in
    /// files from before the switch followed link state).
    public var linkUp: Bool? = nil
    public var linkDowns: UInt64? = nil
    public var linkUps: UInt64? = nil
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
    /// The neighbour tables for addresses on this port: requests not sent (budget), addresses
    /// pushed out by newer ones (per-port limit), failed and expired entries, refreshes.
    public var neighbour: NeighbourCounters
    public var parseErrors: [String: UInt64]
    /// 802.1Qbb per priority 0...7: PFC frames received, XOFF->XON transitions, paused time of
    /// the matching egress queue (microseconds). PAUSE frames received (counted only).
    public var pfcRx: [UInt64]
    public var pfcXonTransitions: [UInt64]
    public var pfcPausedMicroseconds: [Double]
    /// PFC frames this switch sent on the port, per priority; ingress buffer per PG now and peak.
    public var pfcTx: [UInt64]
    /// PFC frames it could not send on the port (no frame, control queue full); an XOFF is
    /// repeated at the next refresh.
    public var pfcTxFailures: UInt64
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
    /// PFC/PAUSE consumed but not honoured: sent to a destination other than 01:80:C2:00:00:01,
    /// and, per priority, for a priority the port has no PFC enabled for (`pfc_enable`).
    public var pfcIgnoredDestination: UInt64
    public var pfcIgnoredPriority: [UInt64]
    /// Per egress queue 0...7.
    public var queues: [QueueReport]
    public var xdpRedirected: UInt64
    public var xdpPassed: UInt64
    /// Frames the kernel dropped at this port's AF_XDP socket before the switch saw them.
    public var socket: SocketDrops
    /// `--fastpath on` (absent without it): frames and bytes received on this port that the XDP
    /// fast path forwarded itself (never seen by the pipeline, so not in `rxFrames`), and those it
    /// sent out of this port; per reason (`FP_PUNT_*`, bpf/README.md), the frames received here
    /// that it sent to userspace instead.
    public var fastpathFrames: UInt64? = nil
    public var fastpathBytes: UInt64? = nil
    public var fastpathTxFrames: UInt64? = nil
    public var fastpathTxBytes: UInt64? = nil
    public var fastpathPunts: [String: UInt64]? = nil
    /// `--ring-wait on` (absent when no frame received here carried an XDP stamp): how long
    /// frames waited in the port's socket rx ring, from the XDP program to the worker.
    public var ringWait: ResidenceReport? = nil
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
    /// Invalid descriptors, and frames longer than the switch carries (a chain too long).
    public var rxInvalid: UInt64 = 0
    public var txInvalid: UInt64 = 0
    /// Frames the port's XDP program dropped because no socket of the switch serves their rx
    /// queue (`unserved_queue`: more queues than workers).
    public var unservedQueue: UInt64 = 0
    /// The most frames seen waiting in the rx ring (received by the kernel, not yet by the
    /// switch) and the ring's size. Frames there are not yet classified, so no PFC threshold
    /// sees them: a peak near the size means the switch fell behind by a whole ring (0 where
    /// the backend does not measure it: AF_PACKET).
    public var rxRingPeak: UInt64 = 0
    public var rxRingSize: UInt64 = 0
    public init() {}

    /// Frames lost at the socket.
    public var frames: UInt64 { rxRingFull + rxDropped + rxInvalid + txInvalid + unservedQueue }
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
    /// Source addresses the MAC table could not learn (full); flooded to every port meanwhile.
    /// (Optional: records written by older builds lack it.)
    public var macLearnFailures: UInt64? = nil
    /// Learned addresses seen again on another port (a moved host, or a loop).
    public var macMoves: UInt64? = nil
    public var neighbours: [NeighbourReport]
    public var ledger: FrameLedger
    public var loop: LoopCounters
    /// The shared ingress buffer pool.
    public var buffer: BufferReport
    /// The flowlet and spray selectors' counters.
    public var loadBalancing: LoadBalancingReport
    /// At exit, one line per --capture: frames written and where.
    public var captures: [String]? = nil
    /// `--workers N`: frames each worker received (worker 0 first); absent with one worker.
    public var workerRxFrames: [UInt64]? = nil
}

public struct LoadBalancingReport: Codable, Sendable {
    public var newFlowlets: UInt64
    public var pathChanges: UInt64
    public var collisions: UInt64
    public var sprayed: UInt64
    public var flowletIdleMicroseconds: Double
    /// Flows moved off an ECMP member whose link went down (first packet per flow and down
    /// event; at most 256 recorded).
    public var failovers: [FailoverReport]? = nil
}

/// The switch's shared ingress pool: its size, bytes in use now and the most ever in use.
/// One flow's failover: the last frame the switch sent the dead member's way (any flow), and
/// this flow's first frame on a live member.
public struct FailoverReport: Codable, Sendable, Equatable {
    public var flowHash: UInt32
    public var from: String
    public var to: String
    /// Switch uptime at the flow's first frame on the live member.
    public var atSeconds: Double
    public var milliseconds: Double
}

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

/// The frame accounting of a whole switch at one moment.
public struct FrameLedger: Sendable, Codable, CustomStringConvertible {
    public var total = 0
    public var free = 0
    public var queued = 0
    /// Routed frames parked while ARP resolves their next hop.
    public var pending = 0
    /// Frames holding the rest of a jumbo packet whose first frame is counted in `queued` or
    /// `pending` (multi-buffer chains).
    public var chained = 0
    public var fillOutstanding = 0
    public var txOutstanding = 0
    /// What the kernel's ring indices say is sitting in fill+rx and tx+completion rings.
    public var inFillAndRxRings = 0
    public var inTxAndCompletionRings = 0
    /// Of `free`, the frames kept for the switch's PFC; allocations the pool refused and
    /// receive-ring refills it fell short of (the frame memory ran short: 0 when sized right).
    public var reserve = 0
    public var refusals: UInt64 = 0
    public init() {}

    /// free + in rings + queued == UMEM frames.
    public var balances: Bool { free + queued + pending + chained + fillOutstanding + txOutstanding == total }
    /// Frames the kernel holds outside any ring (copy-mode skbs still in flight). Zero at rest.
    public var inKernelFlight: Int {
        (fillOutstanding - inFillAndRxRings) + (txOutstanding - inTxAndCompletionRings)
    }

    public var description: String {
        "frames: \(total) total = \(free) free + \(queued) queued + \(pending) awaiting ARP + \(chained) jumbo continuations + \(fillOutstanding) fill/rx + \(txOutstanding) tx/completion"
            + (balances ? " (balanced)" : " (UNBALANCED)")
            + (refusals == 0 ? "" : "; \(refusals) frame allocations refused")
            + (inKernelFlight == 0 ? "" : "; \(inKernelFlight) in kernel flight")
    }
}
