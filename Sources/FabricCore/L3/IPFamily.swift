import FabricPacket

/// What differs between routing IPv4 and IPv6: where the destination is, which LPM table, the
/// flow hash, the gateway's address type, the hop limit. `Router.route` is generic over it and
/// specialised for each (static dispatch), so the two share one route, ECMP and rewrite path.
@usableFromInline protocol IPFamily {
    associatedtype Address: Equatable
    static func destination(_ ip: UnsafeRawPointer) -> Address
    static func target(_ fib: borrowing FIB, _ destination: Address) -> UInt32?
    static func flowHash(_ ip: UnsafeRawPointer, destination: Address, info: PacketInfo) -> UInt32
    static func gateway(_ fib: borrowing FIB, hop: Int) -> Address
    static func neighbour(_ table: borrowing NeighbourTable, _ a: Address, now: UInt64) -> MACAddress?
    static func decrementHopLimit(_ ip: UnsafeMutableRawPointer)
    static func address(_ a: Address) -> IPAddress
}

@usableFromInline enum IPv4Family: IPFamily {
    @inlinable @inline(__always) static func destination(_ ip: UnsafeRawPointer) -> UInt32 {
        UInt32(bigEndian: ip.loadUnaligned(fromByteOffset: 16, as: UInt32.self))
    }
    @inlinable @inline(__always) static func source(_ ip: UnsafeRawPointer) -> UInt32 {
        UInt32(bigEndian: ip.loadUnaligned(fromByteOffset: 12, as: UInt32.self))
    }
    @inlinable @inline(__always) static func target(_ fib: borrowing FIB, _ destination: UInt32) -> UInt32? { fib.v4.lookup(destination) }
    @inlinable @inline(__always) static func flowHash(_ ip: UnsafeRawPointer, destination: UInt32, info: PacketInfo) -> UInt32 {
        FlowHash.v4(source: UInt32(bigEndian: ip.loadUnaligned(fromByteOffset: 12, as: UInt32.self)), destination: destination,
                    protocolNumber: info.ipProtocol, sourcePort: info.sourcePort, destinationPort: info.destinationPort)
    }
    @inlinable @inline(__always) static func gateway(_ fib: borrowing FIB, hop: Int) -> UInt32 { fib.gateway4(hop: hop) }
    @inlinable @inline(__always) static func neighbour(_ table: borrowing NeighbourTable, _ a: UInt32, now: UInt64) -> MACAddress? {
        table.lookup(a, now: now)
    }
    @inlinable @inline(__always) static func decrementHopLimit(_ ip: UnsafeMutableRawPointer) { Rewrite.decrementIPv4TTL(ip) }
    @inlinable @inline(__always) static func address(_ a: UInt32) -> IPAddress { .v4(a) }
}

@usableFromInline enum IPv6Family: IPFamily {
    @inlinable @inline(__always) static func destination(_ ip: UnsafeRawPointer) -> IPv6Address { loadIPv6(ip + 24) }
    @inlinable @inline(__always) static func target(_ fib: borrowing FIB, _ destination: IPv6Address) -> UInt32? { fib.v6.lookup(destination) }
    @inlinable @inline(__always) static func flowHash(_ ip: UnsafeRawPointer, destination: IPv6Address, info: PacketInfo) -> UInt32 {
        FlowHash.v6(source: loadIPv6(ip + 8), destination: destination, protocolNumber: info.ipProtocol,
                    sourcePort: info.sourcePort, destinationPort: info.destinationPort)
    }
    @inlinable @inline(__always) static func gateway(_ fib: borrowing FIB, hop: Int) -> IPv6Address { fib.gateway6(hop: hop) }
    @inlinable @inline(__always) static func neighbour(_ table: borrowing NeighbourTable, _ a: IPv6Address, now: UInt64) -> MACAddress? {
        table.lookup(a, now: now)
    }
    @inlinable @inline(__always) static func decrementHopLimit(_ ip: UnsafeMutableRawPointer) { Rewrite.decrementIPv6HopLimit(ip) }
    @inlinable @inline(__always) static func address(_ a: IPv6Address) -> IPAddress { .v6(a) }
}
