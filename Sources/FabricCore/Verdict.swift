/// Where a frame goes after the pipeline: one egress port, every port but the ingress one,
/// held until its next hop's MAC is resolved, consumed by the switch itself (ARP, ICMP to the
/// switch, PFC), or nowhere (with the reason). 16 bits, so a batch keeps it in a plain array.
public struct Verdict: Equatable, Sendable, CustomStringConvertible {
    public var rawValue: UInt16
    @inlinable public init(rawValue: UInt16) { self.rawValue = rawValue }

    @inlinable static var dropBase: UInt16 { 0xFE00 }
    @inlinable public static var flood: Verdict { Verdict(rawValue: 0xFFFF) }
    /// Routed, waiting for its next hop's MAC: `Batch.holdPort`/`holdNextHop` say where it goes.
    @inlinable public static var hold: Verdict { Verdict(rawValue: 0xFFFE) }
    /// Addressed to the switch itself and used up (not a drop).
    @inlinable public static var consume: Verdict { Verdict(rawValue: 0xFFFD) }
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

    public var description: String {
        if isFlood { return "flood" }
        if isHold { return "hold" }
        if isConsume { return "consume" }
        if let r = dropReason { return "drop(\(r))" }
        return "port(\(rawValue))"
    }
}
