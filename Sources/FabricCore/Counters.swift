/// Why a frame was dropped. Every drop in the data plane has one; each is a counter per port.
public enum DropReason: UInt8, CaseIterable, Sendable, CustomStringConvertible {
    /// Shorter than an Ethernet header.
    case runt = 0
    /// Source MAC is a group address or zero: not a frame a host sends.
    case invalidSource
    /// Destination is on the port the frame came from (no hairpin).
    case sameSegment
    /// IEEE 802.1D link-local group address (PAUSE, PFC, STP, LLDP): consumed, never forwarded.
    case linkLocal
    /// The egress queue was full.
    case queueFull
    /// No free frame to copy a flooded frame into, or for an ARP/ND request of the switch.
    case noBuffer
    /// The egress port is out of service (its interface went away).
    case portDown
    /// The frame is longer than the egress port's interface takes (its MTU, plus the Ethernet
    /// header and one VLAN tag): a jumbo frame routed or bridged to a port with a smaller MTU.
    case oversize
    /// Flooded, but no other port is in service to take it.
    case noEgress
    /// A lossy priority group used up its share of the buffer (tail drop).
    case bufferFull
    /// A lossless priority group overflowed XOFF + headroom: PFC did not stop the sender in
    /// time. Should never happen with a correctly sized headroom.
    case headroomOverflow
    /// The parser rejected the frame (the per-port parse-error counters say why).
    case malformed
    /// IPv4 TTL or IPv6 hop limit would reach 0.
    case ttlExpired
    /// No route to the destination.
    case noRoute
    /// The next hop's MAC could not be resolved in time, or could not be asked for (the
    /// neighbour request budget was used up).
    case neighbourUnresolved
    /// Too many frames already waiting for ARP.
    case pendingFull
    /// A router port got a frame for another MAC, a group MAC with an IP payload, or an
    /// EtherType it does not route.
    case notRoutable
    /// The egress port's link is down (carrier lost or administratively down): its queues were
    /// emptied when it went down, and a frame routed to it while down (no other member) is
    /// dropped.
    case linkDown
    /// Lost on the emulated wire (the port's `loss`), after the frame used its wire time.
    case emulatedLoss

    /// True for the reasons decided on the receiving port (counted there, as RX drops); the
    /// rest are decided for, and counted on, the egress port (TX drops).
    public var isIngress: Bool {
        switch self {
        case .runt, .invalidSource, .sameSegment, .linkLocal, .malformed, .ttlExpired, .noRoute, .notRoutable,
             .bufferFull, .headroomOverflow, .noEgress: true
        case .queueFull, .noBuffer, .portDown, .oversize, .neighbourUnresolved, .pendingFull, .linkDown, .emulatedLoss: false
        }
    }

    public var description: String {
        switch self {
        case .runt: "runt"
        case .invalidSource: "invalid_source"
        case .sameSegment: "same_segment"
        case .linkLocal: "link_local"
        case .queueFull: "queue_full"
        case .noBuffer: "no_buffer"
        case .portDown: "port_down"
        case .oversize: "oversize"
        case .noEgress: "no_egress"
        case .bufferFull: "buffer_full"
        case .headroomOverflow: "headroom_overflow"
        case .malformed: "malformed"
        case .ttlExpired: "ttl_expired"
        case .noRoute: "no_route"
        case .neighbourUnresolved: "neighbour_unresolved"
        case .pendingFull: "pending_full"
        case .notRoutable: "not_routable"
        case .linkDown: "link_down"
        case .emulatedLoss: "emulated_loss"
        }
    }
}

/// Plain counters of one port, owned by the worker thread. Drops are counted on the port where
/// the decision was taken: ingress reasons (runt, invalid source, same segment, link local) on
/// the receiving port, egress reasons (queue full, no buffer, port down) on the sending port.
public struct PortCounters: Sendable, Equatable {
    public var rxFrames: UInt64 = 0
    public var rxBytes: UInt64 = 0
    public var txFrames: UInt64 = 0
    public var txBytes: UInt64 = 0
    /// Frames that arrived flooded to this port as copies of one received frame.
    public var floodCopies: UInt64 = 0
    public var drops = DropCounts()
    /// Router mode: frames by kind received, and frames addressed to the switch itself.
    public var roceFrames: UInt64 = 0
    public var cnpFrames: UInt64 = 0
    /// IPv6 packets with extension headers (forwarded on addresses, L4 not parsed) and IPv4
    /// fragments.
    public var l4Skipped: UInt64 = 0
    public var consumed: UInt64 = 0
    /// ARP requests and replies the switch sent on this port.
    public var arpRequestsSent: UInt64 = 0
    public var arpRepliesSent: UInt64 = 0
    public var icmpEchoReplies: UInt64 = 0
    /// Why malformed frames were malformed, by `ParseError.rawValue`.
    public var parseErrors = DropCounts()
    /// 802.1Qbb per priority (index = priority): PFC frames received with that priority
    /// enabled, and XOFF->XON transitions (the paused time is the egress port's `PauseState`).
    public var pfcRx = PriorityCounts()
    public var pfcXonTransitions = PriorityCounts()
    /// PAUSE (802.3x) frames received: counted, not honoured (the fabric runs PFC).
    public var pauseRx: UInt64 = 0
    /// MAC Control frames (EtherType 0x8808) are consumed whatever their destination; PFC and
    /// PAUSE to any destination but 01:80:C2:00:00:01 are counted here and not honoured.
    public var pfcIgnoredDestination: UInt64 = 0
    /// Per priority: PFC frames with that priority enabled in their vector that were not
    /// honoured because the port has no PFC on it (`pfc_enable`).
    public var pfcIgnoredPriority = PriorityCounts()
    /// Per egress queue: frames marked CE by ECN.
    public var ecnMarked = PriorityCounts()
    /// PFC frames this switch sent on this port, per priority (XOFF and XON alike), and the
    /// ones it could not send (no frame, control queue full; an XOFF is repeated).
    public var pfcTx = PriorityCounts()
    public var pfcTxFailures: UInt64 = 0
    /// PFC reaction: XOFFs sent, and the time from the PG's threshold crossing (the receive
    /// time of the batch that crossed it) to the XOFF's submission for transmission.
    public var pfcReactions: UInt64 = 0
    public var pfcReactionTotalNanoseconds: UInt64 = 0
    public var pfcReactionMaxNanoseconds: UInt64 = 0
    /// PFC watchdog per egress queue: storms detected and restored, frames it discarded.
    public var pfcwdStorms = PriorityCounts()
    public var pfcwdRestored = PriorityCounts()
    public var pfcwdDropped = PriorityCounts()
    public var pfcwdDroppedBytes = PriorityCounts()
    /// For the last storm: how long the queue had been paused when the watchdog declared it
    /// (detection time plus up to one watchdog poll), nanoseconds.
    public var pfcwdDetectedAfter = PriorityCounts()
    /// Link state transitions the switch saw (carrier or admin state): down and back up.
    public var linkDowns: UInt64 = 0
    public var linkUps: UInt64 = 0

    public init() {}

    public var totalDrops: UInt64 { drops.total }
}

/// One counter per `DropReason` (or `ParseError`), in a fixed-size inline array (24 slots).
public struct DropCounts: Sendable, Equatable {
    public static let slots = 24
    @usableFromInline var values: (UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64,
                                   UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64,
                                   UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64)
        = (0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0)
    public init() {}

    /// By raw index (parse errors).
    @inlinable public subscript(raw index: Int) -> UInt64 {
        get { withUnsafeBytes(of: values) { $0.load(fromByteOffset: index * 8, as: UInt64.self) } }
        set { withUnsafeMutableBytes(of: &values) { $0.storeBytes(of: newValue, toByteOffset: index * 8, as: UInt64.self) } }
    }

    @inlinable public subscript(reason: DropReason) -> UInt64 {
        get {
            withUnsafeBytes(of: values) { $0.load(fromByteOffset: Int(reason.rawValue) * 8, as: UInt64.self) }
        }
        set {
            withUnsafeMutableBytes(of: &values) { $0.storeBytes(of: newValue, toByteOffset: Int(reason.rawValue) * 8, as: UInt64.self) }
        }
    }

    public var total: UInt64 { DropReason.allCases.reduce(0) { $0 + self[$1] } }

    public static func == (a: DropCounts, b: DropCounts) -> Bool {
        (0..<slots).allSatisfy { a[raw: $0] == b[raw: $0] }
    }
}

/// Eight counters, one per priority or queue.
public struct PriorityCounts: Sendable, Equatable {
    @usableFromInline var values: (UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64) = (0, 0, 0, 0, 0, 0, 0, 0)
    public init() {}
    @inlinable public subscript(i: Int) -> UInt64 {
        get { withUnsafeBytes(of: values) { $0.load(fromByteOffset: (i & 7) * 8, as: UInt64.self) } }
        set { withUnsafeMutableBytes(of: &values) { $0.storeBytes(of: newValue, toByteOffset: (i & 7) * 8, as: UInt64.self) } }
    }
    public var array: [UInt64] { (0..<8).map { self[$0] } }
    public static func == (a: PriorityCounts, b: PriorityCounts) -> Bool { a.array == b.array }
}
