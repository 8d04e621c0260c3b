import FabricPacket

/// The 5-tuple hash ECMP and flowlets key on. Includes the UDP source port, which RoCEv2 NICs
/// vary per queue pair precisely so that fabrics can spread QPs (RoCEv2 Annex A17.3).
public enum FlowHash {
    @inlinable @inline(__always)
    public static func mix(_ x: UInt64) -> UInt64 {
        // splitmix64 finalizer: every input bit affects every output bit.
        var z = x &+ 0x9E37_79B9_7F4A_7C15
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    @inlinable @inline(__always)
    public static func v4(source: UInt32, destination: UInt32, protocolNumber: UInt8, sourcePort: UInt16, destinationPort: UInt16) -> UInt32 {
        let a = UInt64(source) << 32 | UInt64(destination)
        let b = UInt64(protocolNumber) << 32 | UInt64(sourcePort) << 16 | UInt64(destinationPort)
        return UInt32(truncatingIfNeeded: mix(a ^ mix(b)) >> 16)
    }

    @inlinable @inline(__always)
    public static func v6(source: IPv6Address, destination: IPv6Address, protocolNumber: UInt8, sourcePort: UInt16, destinationPort: UInt16) -> UInt32 {
        let a = mix(source.high ^ mix(source.low))
        let b = mix(destination.high ^ mix(destination.low ^ a))
        let c = UInt64(protocolNumber) << 32 | UInt64(sourcePort) << 16 | UInt64(destinationPort)
        return UInt32(truncatingIfNeeded: mix(b ^ c) >> 16)
    }
}
