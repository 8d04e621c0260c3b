/// Chooses one member of an ECMP group for a packet. The router is generic over its selector
/// (static dispatch, no existential per packet).
public protocol PathSelector: ~Copyable {
    /// Index in 0..<memberCount for a packet of flow `flowHash` routed to `target` at `now`;
    /// `ports` are the members' egress ports and `mode` the group's mode.
    mutating func select(target: UInt32, mode: LoadBalancingMode, ports: UnsafePointer<Int32>, memberCount: Int,
                         flowHash: UInt32, length: UInt32, now: UInt64) -> Int
}

/// Plain ECMP: the flow hash modulo the member count (per-flow stable, no reordering).
public struct HashPathSelector: PathSelector {
    public init() {}
    @inlinable @inline(__always)
    public mutating func select(target: UInt32, mode: LoadBalancingMode, ports: UnsafePointer<Int32>, memberCount: Int,
                                flowHash: UInt32, length: UInt32, now: UInt64) -> Int {
        Self.hash(flowHash, memberCount)
    }

    /// Multiply-shift instead of %: unbiased enough and no division on the hot path.
    @inlinable @inline(__always)
    public static func hash(_ flowHash: UInt32, _ memberCount: Int) -> Int {
        Int((UInt64(flowHash) &* UInt64(memberCount)) >> 32)
    }
}
