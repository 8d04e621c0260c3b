/// In-place header rewrites a router does, each keeping the IPv4 header checksum valid by
/// incremental update (RFC 1624) rather than recomputation, and touching only fields the
/// RoCEv2 ICRC masks out (TTL/hop limit, DSCP/ECN, IPv4 checksum, BTH FECN/BECN, MACs), so a
/// forwarded RoCEv2 frame keeps a valid ICRC.
public enum Rewrite {
    /// RFC 1624, eqn. 3: HC' = ~(~HC + ~m + m'), in one's complement arithmetic, for a 16-bit
    /// word of the header changing from `old` to `new`.
    @inlinable
    public static func adjustChecksum(_ checksum: UInt16, old: UInt16, new: UInt16) -> UInt16 {
        var sum = UInt32(~checksum) + UInt32(~old) + UInt32(new)
        sum = (sum & 0xFFFF) + (sum >> 16)
        sum = (sum & 0xFFFF) + (sum >> 16)
        return ~UInt16(truncatingIfNeeded: sum)
    }

    @inlinable @inline(__always)
    static func load16(_ p: UnsafeMutableRawPointer, _ off: Int) -> UInt16 {
        UInt16(bigEndian: p.loadUnaligned(fromByteOffset: off, as: UInt16.self))
    }

    @inlinable @inline(__always)
    static func store16(_ p: UnsafeMutableRawPointer, _ off: Int, _ v: UInt16) {
        p.storeBytes(of: v.bigEndian, toByteOffset: off, as: UInt16.self)
    }

    /// Replaces the 16-bit word at `off` of an IPv4 header and fixes its checksum.
    @inlinable
    public static func replaceIPv4Word(_ ip: UnsafeMutableRawPointer, _ off: Int, _ new: UInt16) {
        let old = load16(ip, off)
        guard old != new else { return }
        store16(ip, off, new)
        store16(ip, 10, adjustChecksum(load16(ip, 10), old: old, new: new))
    }

    /// Decrements the TTL of the IPv4 header at `ip` (caller checked TTL > 1).
    ///
    /// `replaceIPv4Word` of the TTL|protocol word m with m' = m - 0x0100, unrolled: in RFC 1624's
    /// HC' = ~(~HC + ~m + m'), ~m + m' is 0xFFFF - 0x0100 = 0xFEFF whatever m is, so the
    /// word need not be read for the checksum, and one fold suffices (~HC + 0xFEFF <= 0x1FEFE).
    @inlinable @inline(__always)
    public static func decrementIPv4TTL(_ ip: UnsafeMutableRawPointer) {
        ip.storeBytes(of: ip.load(fromByteOffset: 8, as: UInt8.self) &- 1, toByteOffset: 8, as: UInt8.self)
        let sum = UInt32(~load16(ip, 10)) &+ 0xFEFF
        store16(ip, 10, ~UInt16(truncatingIfNeeded: (sum & 0xFFFF) &+ (sum >> 16)))
    }

    /// Sets the whole TOS byte (DSCP << 2 | ECN) of an IPv4 header.
    @inlinable
    public static func setIPv4TOS(_ ip: UnsafeMutableRawPointer, _ tos: UInt8) {
        let word = load16(ip, 0)  // version/IHL | TOS
        replaceIPv4Word(ip, 0, word & 0xFF00 | UInt16(tos))
    }

    @inlinable
    public static func setIPv4DSCP(_ ip: UnsafeMutableRawPointer, _ dscp: UInt8) {
        let tos = ip.load(fromByteOffset: 1, as: UInt8.self)
        setIPv4TOS(ip, (dscp & 0x3F) << 2 | tos & 0x03)
    }

    @inlinable
    public static func setIPv4ECN(_ ip: UnsafeMutableRawPointer, _ ecn: UInt8) {
        let tos = ip.load(fromByteOffset: 1, as: UInt8.self)
        setIPv4TOS(ip, tos & 0xFC | ecn & 0x03)
    }

    /// Decrements the IPv6 hop limit (no header checksum in IPv6).
    @inlinable
    public static func decrementIPv6HopLimit(_ ip: UnsafeMutableRawPointer) {
        let h = ip.load(fromByteOffset: 7, as: UInt8.self)
        ip.storeBytes(of: h &- 1, toByteOffset: 7, as: UInt8.self)
    }

    /// Sets the IPv6 traffic class (DSCP << 2 | ECN), leaving version and flow label.
    @inlinable
    public static func setIPv6TrafficClass(_ ip: UnsafeMutableRawPointer, _ tc: UInt8) {
        let w = load16(ip, 0)  // version(4) | TC(8) | flow label high 4
        store16(ip, 0, w & 0xF00F | UInt16(tc) << 4)
    }

    @inlinable
    public static func setIPv6DSCP(_ ip: UnsafeMutableRawPointer, _ dscp: UInt8) {
        let tc = UInt8(truncatingIfNeeded: load16(ip, 0) >> 4)
        setIPv6TrafficClass(ip, (dscp & 0x3F) << 2 | tc & 0x03)
    }

    @inlinable
    public static func setIPv6ECN(_ ip: UnsafeMutableRawPointer, _ ecn: UInt8) {
        let tc = UInt8(truncatingIfNeeded: load16(ip, 0) >> 4)
        setIPv6TrafficClass(ip, tc & 0xFC | ecn & 0x03)
    }
    /// Writes destination and source MAC.
    @inlinable
    public static func setMACs(_ frame: UnsafeMutableRawPointer, destination: MACAddress, source: MACAddress) {
        storeMAC(destination, at: frame)
        storeMAC(source, at: frame + 6)
    }
}

/// The Internet checksum (RFC 1071) over a byte range: for tests and for building frames
/// (ARP/ICMP replies), not for forwarding (which updates incrementally).
public func internetChecksum(_ p: UnsafeRawPointer, count: Int, initial: UInt32 = 0) -> UInt16 {
    var sum = initial
    var i = 0
    while i + 1 < count {
        sum &+= UInt32(be16(p, i))
        i += 2
    }
    if i < count { sum &+= UInt32(p.load(fromByteOffset: i, as: UInt8.self)) << 8 }
    while sum >> 16 != 0 { sum = (sum & 0xFFFF) + (sum >> 16) }
    return ~UInt16(truncatingIfNeeded: sum)
}

/// The ICMPv6 checksum (RFC 4443 section 2.3) of the message after the IPv6 header at `ip`:
/// pseudo-header (source, destination, upper-layer length, next header 58) plus the message,
/// with the message's own checksum field taken as zero.
public func icmpv6Checksum(ip: UnsafeRawPointer, messageLength: Int) -> UInt16 {
    var sum: UInt32 = 0
    for i in stride(from: 8, to: 40, by: 2) { sum &+= UInt32(be16(ip, i)) }
    sum &+= UInt32(messageLength >> 16) &+ UInt32(messageLength & 0xFFFF) &+ 58
    let msg = ip + IPv6View.length
    var i = 0
    while i + 1 < messageLength {
        if i != 2 { sum &+= UInt32(be16(msg, i)) }
        i += 2
    }
    if i < messageLength { sum &+= UInt32(msg.load(fromByteOffset: i, as: UInt8.self)) << 8 }
    while sum >> 16 != 0 { sum = (sum & 0xFFFF) + (sum >> 16) }
    let c = ~UInt16(truncatingIfNeeded: sum)
    return c == 0 ? 0xFFFF : c
}
