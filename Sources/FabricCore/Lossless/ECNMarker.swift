import FabricPacket

/// ECN on the way into an egress queue, DCQCN-style WRED (`ECNConfig`): an ECT packet is marked
/// CE with the probability the depth it finds gives. Only the ECN bits change (the IPv4
/// checksum incrementally); the RoCEv2 ICRC masks them. Not-ECT packets are never touched.
public struct ECNMarker {
    public let config: ECNConfig
    /// xorshift64* state: the random draw needs no syscall and no lock.
    @usableFromInline var rng: UInt64 = 0x9E37_79B9_7F4A_7C15

    public init(config: ECNConfig) { self.config = config }

    /// Whether queue `queue` marks at all.
    @inlinable public func marks(queue: Int) -> Bool { config.queues & (1 << UInt8(queue & 7)) != 0 }

    /// The random decision for a packet finding `depthBytes` queued.
    @inlinable public mutating func shouldMark(depthBytes: Int) -> Bool {
        let p = config.probability(depth: depthBytes)
        guard p > 0 else { return false }
        if p >= 1 { return true }
        rng ^= rng >> 12
        rng ^= rng << 25
        rng ^= rng >> 27
        let draw = Double((rng &* 0x2545_F491_4F6C_DD1D) >> 11) / Double(1 << 53)
        return draw < p
    }

    /// Sets CE on the IP header at `ip` (version 4 or 6) if it is ECT; true when it marked.
    @inlinable public static func mark(ip: UnsafeMutableRawPointer, version: UInt8) -> Bool {
        if version == 4 {
            let ecnBits = ip.load(fromByteOffset: 1, as: UInt8.self) & 3
            guard ecnBits == 1 || ecnBits == 2 else { return false }
            Rewrite.setIPv4ECN(ip, 3)
        } else {
            let tc = UInt8(truncatingIfNeeded: UInt16(bigEndian: ip.loadUnaligned(as: UInt16.self)) >> 4)
            guard tc & 3 == 1 || tc & 3 == 2 else { return false }
            Rewrite.setIPv6ECN(ip, 3)
        }
        return true
    }
}
