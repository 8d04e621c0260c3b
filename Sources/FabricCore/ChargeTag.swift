/// Whom a queued frame is charged to: the ingress port and priority group whose buffer it uses
/// (credited when it leaves), or nobody (a frame the switch made: ARP, neighbour discovery,
/// its own PFC). 16 bits, carried in every queue entry and pending frame.
public struct ChargeTag: Equatable, Sendable {
    public var rawValue: UInt16
    @inlinable public init(rawValue: UInt16) { self.rawValue = rawValue }

    /// Charged to `pg` (0...7) of port `ingress`.
    @inlinable public init(ingress: Int, pg: Int) { rawValue = UInt16(truncatingIfNeeded: ingress) << 3 | UInt16(pg & 7) }

    /// A frame the switch made, charged to nobody.
    @inlinable public static var uncharged: ChargeTag { ChargeTag(rawValue: 0xFFFF) }
    /// The switch's own PFC frame: charged to nobody, and stamped for the reaction time.
    @inlinable public static var pfc: ChargeTag { ChargeTag(rawValue: 0xFFFE) }

    @inlinable public var isCharged: Bool { rawValue < 0xFFFE }
    @inlinable public var ingress: Int { Int(rawValue >> 3) }
    @inlinable public var pg: Int { Int(rawValue & 7) }
}
