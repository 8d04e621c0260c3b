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
    /// No free frame to copy a flooded frame into.
    case noBuffer
    /// The egress port is out of service (its interface went away).
    case portDown
    /// The frame is larger than a UMEM frame can hold or the port's MTU.
    case oversize
    /// Flooded, but no other port is in service to take it.
    case noEgress

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

    public init() {}

    public var totalDrops: UInt64 { drops.total }
}

/// One counter per `DropReason`, in a fixed-size inline array (room for 16 reasons).
public struct DropCounts: Sendable, Equatable {
    public static let slots = 16
    @usableFromInline var values: (UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64,
                                   UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64)
        = (0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0)
    public init() {}

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
        DropReason.allCases.allSatisfy { a[$0] == b[$0] }
    }
}
