/// An Ethernet/IPv4 ARP message (RFC 826): the 28 bytes after the Ethernet header.
/// Created only for htype 1 (Ethernet), ptype 0x0800, hlen 6, plen 4, with the bytes present.
public struct ARPView {
    public static let length = 28
    public static let request: UInt16 = 1
    public static let reply: UInt16 = 2
    @usableFromInline let base: UnsafeMutableRawPointer

    /// `base` points at the ARP message (after the Ethernet header, and any VLAN tag).
    @inlinable public init?(_ base: UnsafeMutableRawPointer, available: Int) {
        guard available >= ARPView.length,
              UInt64(bigEndian: base.loadUnaligned(as: UInt64.self)) >> 16 == 0x0001_0800_0604 else { return nil }
        self.base = base
    }

    @inlinable public var operation: UInt16 { be16(base, 6) }
    @inlinable public var senderMAC: MACAddress { MACAddress(rawValue: EthernetView.loadMAC(base + 8)) }
    @inlinable public var senderIP: UInt32 { be32(base, 14) }
    @inlinable public var targetMAC: MACAddress { MACAddress(rawValue: EthernetView.loadMAC(base + 18)) }
    @inlinable public var targetIP: UInt32 { be32(base, 24) }

    /// Turns this request into the reply from `mac`, in place: operation 2, sender = `mac` and
    /// the address asked for, target = the asker. (The Ethernet header is the caller's.)
    @inlinable public func turnIntoReply(from mac: MACAddress) {
        let askerMAC = senderMAC, askerIP = senderIP, asked = targetIP
        base.storeBytes(of: ARPView.reply.bigEndian, toByteOffset: 6, as: UInt16.self)
        storeMAC(askerMAC, at: base + 18)
        base.storeBytes(of: askerIP.bigEndian, toByteOffset: 24, as: UInt32.self)
        storeMAC(mac, at: base + 8)
        base.storeBytes(of: asked.bigEndian, toByteOffset: 14, as: UInt32.self)
    }

    /// Writes a broadcast ARP request (padded to the 60-byte minimum frame) asking for
    /// `target` from `sourceMAC`/`sourceIP`; returns the frame length.
    @discardableResult
    public static func writeRequest(into frame: UnsafeMutableRawPointer, sourceMAC: MACAddress, sourceIP: UInt32, target: UInt32) -> Int {
        let length = 60
        frame.initializeMemory(as: UInt8.self, repeating: 0, count: length)
        Rewrite.setMACs(frame, destination: .broadcast, source: sourceMAC)
        frame.storeBytes(of: EtherType.arp.bigEndian, toByteOffset: 12, as: UInt16.self)
        let a = frame + EthernetView.headerLength
        a.storeBytes(of: UInt64(0x0001_0800_0604_0000 | UInt64(request)).bigEndian, as: UInt64.self)
        storeMAC(sourceMAC, at: a + 8)
        a.storeBytes(of: sourceIP.bigEndian, toByteOffset: 14, as: UInt32.self)
        a.storeBytes(of: target.bigEndian, toByteOffset: 24, as: UInt32.self)
        return length
    }
}
