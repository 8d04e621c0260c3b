/// Read-only view of an Ethernet II header over frame memory. Holds a pointer and the
/// descriptor length; every accessor is guarded by the length check in `init`.
public struct EthernetView {
    public static let headerLength = 14

    @usableFromInline let base: UnsafeRawPointer

    /// Returns nil when the frame is too short to hold an Ethernet header.
    @inlinable public init?(_ base: UnsafeRawPointer, length: Int) {
        guard length >= EthernetView.headerLength else { return nil }
        self.base = base
    }

    @inlinable public var destination: MACAddress { MACAddress(rawValue: Self.loadMAC(base)) }
    @inlinable public var source: MACAddress { MACAddress(rawValue: Self.loadMAC(base + 6)) }
    @inlinable public var etherType: UInt16 {
        UInt16(bigEndian: base.loadUnaligned(fromByteOffset: 12, as: UInt16.self))
    }

    /// Six octets, big-endian, into the low 48 bits: one 4-byte and one 2-byte load.
    @inlinable public static func loadMAC(_ p: UnsafeRawPointer) -> UInt64 {
        let hi = UInt64(UInt32(bigEndian: p.loadUnaligned(as: UInt32.self)))
        let lo = UInt64(UInt16(bigEndian: p.loadUnaligned(fromByteOffset: 4, as: UInt16.self)))
        return hi << 16 | lo
    }
}

/// Writes a MAC address (big-endian octets) at `p`.
@inlinable public func storeMAC(_ mac: MACAddress, at p: UnsafeMutableRawPointer) {
    p.storeBytes(of: UInt32(truncatingIfNeeded: mac.rawValue >> 16).bigEndian, as: UInt32.self)
    (p + 4).storeBytes(of: UInt16(truncatingIfNeeded: mac.rawValue).bigEndian, as: UInt16.self)
}

/// Both MACs of an Ethernet header at `p` (destination, then source) in two stores: bytes 0-7
/// and 8-11.
@inlinable @inline(__always) public func storeMACs(destination: MACAddress, source: MACAddress, at p: UnsafeMutableRawPointer) {
    p.storeBytes(of: (destination.rawValue << 16 | source.rawValue >> 32 & 0xFFFF).bigEndian, as: UInt64.self)
    (p + 8).storeBytes(of: UInt32(truncatingIfNeeded: source.rawValue).bigEndian, as: UInt32.self)
}
