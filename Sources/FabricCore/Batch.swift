import FabricPacket

/// Where a frame goes after the pipeline: one egress port, every port but the ingress one,
/// held until its next hop's MAC is resolved, consumed by the switch itself (ARP, ICMP to the
/// switch, PFC), or nowhere (with the reason). 16 bits, so a batch keeps it in a plain array.
public struct Verdict: Equatable, Sendable, CustomStringConvertible {
    public var rawValue: UInt16
    @inlinable public init(rawValue: UInt16) { self.rawValue = rawValue }

    @usableFromInline static let dropBase: UInt16 = 0xFE00
    public static let flood = Verdict(rawValue: 0xFFFF)
    /// Routed, waiting for ARP: `Batch.holdPort`/`holdNextHop` say where it goes.
    public static let hold = Verdict(rawValue: 0xFFFE)
    /// Addressed to the switch itself and used up (not a drop).
    public static let consume = Verdict(rawValue: 0xFFFD)
    @inlinable public static func port(_ index: Int) -> Verdict { Verdict(rawValue: UInt16(truncatingIfNeeded: index)) }
    @inlinable public static func drop(_ reason: DropReason) -> Verdict { Verdict(rawValue: dropBase | UInt16(reason.rawValue)) }

    @inlinable public var isFlood: Bool { rawValue == 0xFFFF }
    @inlinable public var isHold: Bool { rawValue == 0xFFFE }
    @inlinable public var isConsume: Bool { rawValue == 0xFFFD }
    @inlinable public var dropReason: DropReason? {
        guard rawValue & 0xFF00 == Self.dropBase else { return nil }
        return DropReason(rawValue: UInt8(truncatingIfNeeded: rawValue))
    }
    @inlinable public var portIndex: Int? { rawValue < Self.dropBase ? Int(rawValue) : nil }
    @inlinable public var isDrop: Bool { rawValue & 0xFF00 == Self.dropBase }

    public var description: String {
        if isFlood { return "flood" }
        if isHold { return "hold" }
        if isConsume { return "consume" }
        if let r = dropReason { return "drop(\(r))" }
        return "port(\(rawValue))"
    }
}

/// A batch of frames received on one port, as struct-of-arrays preallocated once. Stages
/// read `addr`/`len` and write `verdict`; nothing here allocates after `init`.
public struct Batch: ~Copyable {
    public let capacity: Int
    public let addr: UnsafeMutablePointer<UInt64>
    public let len: UnsafeMutablePointer<UInt32>
    public let verdict: UnsafeMutablePointer<Verdict>
    /// Traffic class chosen by classification (router mode).
    public let tc: UnsafeMutablePointer<UInt8>
    /// Router mode: where the IP header starts and its version (0: not IP), for ECN marking.
    public let l3Offset: UnsafeMutablePointer<UInt16>
    public let ipVersion: UnsafeMutablePointer<UInt8>
    /// For `.hold`: the egress port and the IPv4 next hop to resolve.
    public let holdPort: UnsafeMutablePointer<UInt16>
    public let holdNextHop: UnsafeMutablePointer<UInt32>
    /// For `.hold` of an IPv6 packet: the next hop to resolve by neighbour discovery.
    public let holdNextHop6: UnsafeMutablePointer<IPv6Address>
    public let holdIsV6: UnsafeMutablePointer<Bool>
    /// Frames in the batch.
    public var count = 0
    /// Index of the port every frame of this batch arrived on.
    public var ingress = 0
    /// Monotonic nanoseconds when the batch was received.
    public var timestamp: UInt64 = 0

    public init(capacity: Int) {
        self.capacity = capacity
        addr = .allocate(capacity: capacity)
        len = .allocate(capacity: capacity)
        verdict = .allocate(capacity: capacity)
        tc = .filled(with: 0, count: capacity)
        l3Offset = .filled(with: 0, count: capacity)
        ipVersion = .filled(with: 0, count: capacity)
        holdPort = .filled(with: 0, count: capacity)
        holdNextHop = .filled(with: 0, count: capacity)
        holdNextHop6 = .filled(with: IPv6Address(high: 0, low: 0), count: capacity)
        holdIsV6 = .filled(with: false, count: capacity)
    }

    deinit {
        addr.deallocate()
        len.deallocate()
        verdict.deallocate()
        tc.deallocate()
        l3Offset.deallocate()
        ipVersion.deallocate()
        holdPort.deallocate()
        holdNextHop.deallocate()
        holdNextHop6.deallocate()
        holdIsV6.deallocate()
    }

    /// Appends a frame (test and receive helper). Returns false when full.
    @inlinable public mutating func append(addr a: UInt64, len l: UInt32) -> Bool {
        guard count < capacity else { return false }
        addr[count] = a
        len[count] = l
        verdict[count] = .flood
        count += 1
        return true
    }
}
