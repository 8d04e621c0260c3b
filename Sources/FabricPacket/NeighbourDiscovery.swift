/// ICMPv6 neighbour solicitation (type 135) and advertisement (136), RFC 4861 sections 4.3
/// and 4.4: type, code, checksum, 4 bytes (flags in an advertisement), the target address,
/// then options (8-byte units).
public struct NeighbourDiscoveryView {
    public static let solicitation: UInt8 = 135
    public static let advertisement: UInt8 = 136
    public static let minimumLength = 24
    @usableFromInline let base: UnsafeMutableRawPointer
    /// Bytes of the ICMPv6 message (from the IPv6 payload length, within the frame).
    public let length: Int

    /// `base` points at the ICMPv6 header; nil unless it is a solicitation or advertisement of
    /// at least 24 bytes.
    @inlinable public init?(_ base: UnsafeMutableRawPointer, length: Int) {
        guard length >= NeighbourDiscoveryView.minimumLength else { return nil }
        let t = base.load(as: UInt8.self)
        guard t == Self.solicitation || t == Self.advertisement else { return nil }
        self.base = base
        self.length = length
    }

    @inlinable public var type: UInt8 { base.load(as: UInt8.self) }
    @inlinable public var isSolicitation: Bool { type == Self.solicitation }
    @inlinable public var target: IPv6Address { loadIPv6(UnsafeRawPointer(base + 8)) }

    /// The link-layer address option the message carries: the source's (option 1) in a
    /// solicitation, the target's (option 2) in an advertisement; the last one if there are
    /// several. A malformed option ends the walk (the ones before it stand).
    public var linkLayerAddress: MACAddress? {
        let wanted: UInt8 = isSolicitation ? 1 : 2
        var found: MACAddress?
        var off = Self.minimumLength
        while off + 8 <= length {
            let optType = base.load(fromByteOffset: off, as: UInt8.self)
            let optLen = Int(base.load(fromByteOffset: off + 1, as: UInt8.self)) * 8
            guard optLen > 0, off + optLen <= length else { break }
            if optType == wanted { found = MACAddress(rawValue: EthernetView.loadMAC(base + off + 2)) }
            off += optLen
        }
        return found
    }

    /// Writes a solicitation for `target` (to its solicited-node multicast address, with our
    /// link-layer address as option 1) from `sourceMAC`/`source`; returns the frame length.
    @discardableResult
    public static func writeSolicitation(into frame: UnsafeMutableRawPointer, sourceMAC: MACAddress, source: IPv6Address,
                                         target: IPv6Address) -> Int {
        let messageLength = 32
        let length = EthernetView.headerLength + IPv6View.length + messageLength
        frame.initializeMemory(as: UInt8.self, repeating: 0, count: length)
        let low24 = target.low & 0xFF_FFFF
        Rewrite.setMACs(frame, destination: MACAddress(rawValue: 0x3333_FF00_0000 | low24), source: sourceMAC)
        frame.storeBytes(of: EtherType.ipv6.bigEndian, toByteOffset: 12, as: UInt16.self)
        let ip = frame + EthernetView.headerLength
        writeIPv6Header(ip, source: source, destination: IPv6Address(high: 0xFF02_0000_0000_0000, low: 0x0000_0001_FF00_0000 | low24),
                        messageLength: messageLength)
        let icmp = ip + IPv6View.length
        icmp.storeBytes(of: solicitation, as: UInt8.self)
        storeIPv6(target, at: icmp + 8)
        writeLinkLayerOption(icmp, type: 1, mac: sourceMAC)
        icmp.storeBytes(of: icmpv6Checksum(ip: ip, messageLength: messageLength).bigEndian, toByteOffset: 2, as: UInt16.self)
        return length
    }

    /// Turns this solicitation (inside the IPv6 packet at `ip`, from `asker`) into the
    /// solicited advertisement for its target, in place: to the asker, from the target address,
    /// flags Router, Solicited, Override, `mac` as the target link-layer address. The message
    /// becomes 32 bytes; the caller sets the Ethernet addresses. Needs 32 bytes of room (the
    /// solicitation carries at least its 8-byte option: `linkLayerAddress` was found).
    public func turnIntoAdvertisement(ip: UnsafeMutableRawPointer, asker: IPv6Address, mac: MACAddress) {
        let asked = target
        Self.writeIPv6Header(ip, source: asked, destination: asker, messageLength: 32, keepFirstWord: true)
        base.storeBytes(of: UInt32(0x8000_0000 | 0x4000_0000 | 0x2000_0000).bigEndian, toByteOffset: 4, as: UInt32.self)
        base.storeBytes(of: Self.advertisement, as: UInt8.self)
        Self.writeLinkLayerOption(base, type: 2, mac: mac)
        base.storeBytes(of: icmpv6Checksum(ip: UnsafeRawPointer(ip), messageLength: 32).bigEndian, toByteOffset: 2, as: UInt16.self)
    }

    /// Addresses, payload length, next header 58 (ICMPv6), hop limit 255 (RFC 4861 requires it).
    static func writeIPv6Header(_ ip: UnsafeMutableRawPointer, source: IPv6Address, destination: IPv6Address, messageLength: Int,
                                keepFirstWord: Bool = false) {
        if !keepFirstWord { ip.storeBytes(of: UInt32(0x6000_0000).bigEndian, as: UInt32.self) }
        ip.storeBytes(of: UInt16(messageLength).bigEndian, toByteOffset: 4, as: UInt16.self)
        ip.storeBytes(of: UInt8(58), toByteOffset: 6, as: UInt8.self)
        ip.storeBytes(of: UInt8(255), toByteOffset: 7, as: UInt8.self)
        storeIPv6(source, at: ip + 8)
        storeIPv6(destination, at: ip + 24)
    }

    /// The 8-byte link-layer address option at message offset 24.
    static func writeLinkLayerOption(_ icmp: UnsafeMutableRawPointer, type: UInt8, mac: MACAddress) {
        icmp.storeBytes(of: type, toByteOffset: 24, as: UInt8.self)
        icmp.storeBytes(of: UInt8(1), toByteOffset: 25, as: UInt8.self)
        storeMAC(mac, at: icmp + 26)
    }
}
