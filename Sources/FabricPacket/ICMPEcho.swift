/// ICMP echo (RFC 792) and ICMPv6 echo (RFC 4443 section 4): a host answers a request with a
/// reply that carries the same identifier, sequence and data. A switch answers in place: swap
/// the addresses, change the type, fix the checksum incrementally.
public enum ICMPEcho {
    public static let request4: UInt8 = 8
    public static let reply4: UInt8 = 0
    public static let request6: UInt8 = 128
    public static let reply6: UInt8 = 129

    /// Turns the IPv4 echo request at `ip` (header of `headerLength` bytes, `totalLength`
    /// bytes in all, both checked by the parser) into its reply, in place: addresses swapped,
    /// TTL 64, type 0. False, changing nothing, when it is not an echo request (or too short).
    @inlinable
    public static func replyInPlace(ipv4 ip: UnsafeMutableRawPointer, headerLength ihl: Int, totalLength: Int) -> Bool {
        guard ip.load(fromByteOffset: 9, as: UInt8.self) == 1, totalLength >= ihl + 8,
              ip.load(fromByteOffset: ihl, as: UInt8.self) == request4 else { return false }
        let icmp = ip + ihl
        // Type 8 -> 0: one 16-bit word of the ICMP message changes.
        let oldWord = UInt16(bigEndian: icmp.loadUnaligned(as: UInt16.self))
        let newWord = oldWord & 0x00FF
        icmp.storeBytes(of: newWord.bigEndian, as: UInt16.self)
        let sum = UInt16(bigEndian: icmp.loadUnaligned(fromByteOffset: 2, as: UInt16.self))
        icmp.storeBytes(of: Rewrite.adjustChecksum(sum, old: oldWord, new: newWord).bigEndian, toByteOffset: 2, as: UInt16.self)
        // Swap addresses (the header checksum does not change), fresh TTL.
        let src = ip.loadUnaligned(fromByteOffset: 12, as: UInt32.self)
        let dst = ip.loadUnaligned(fromByteOffset: 16, as: UInt32.self)
        ip.storeBytes(of: dst, toByteOffset: 12, as: UInt32.self)
        ip.storeBytes(of: src, toByteOffset: 16, as: UInt32.self)
        let ttlWord = UInt16(bigEndian: ip.loadUnaligned(fromByteOffset: 8, as: UInt16.self))
        Rewrite.replaceIPv4Word(ip, 8, 64 << 8 | ttlWord & 0x00FF)
        return true
    }

    /// Turns the ICMPv6 echo request at `icmp` (inside the IPv6 packet at `ip`, at least 4
    /// bytes) into its reply, in place: addresses swapped, hop limit 64, type 129. False,
    /// changing nothing, when it is not an echo request.
    @inlinable
    public static func replyInPlace(ipv6 ip: UnsafeMutableRawPointer, icmp: UnsafeMutableRawPointer) -> Bool {
        guard icmp.load(as: UInt8.self) == request6 else { return false }
        let src = loadIPv6(UnsafeRawPointer(ip + 8))
        let dst = loadIPv6(UnsafeRawPointer(ip + 24))
        storeIPv6(dst, at: ip + 8)
        storeIPv6(src, at: ip + 24)
        ip.storeBytes(of: UInt8(64), toByteOffset: 7, as: UInt8.self)
        let sum = UInt16(bigEndian: icmp.loadUnaligned(fromByteOffset: 2, as: UInt16.self))
        icmp.storeBytes(of: reply6, as: UInt8.self)
        // Only the type changes (128 -> 129); swapping addresses keeps the pseudo-header sum.
        icmp.storeBytes(of: Rewrite.adjustChecksum(sum, old: 0x8000, new: 0x8100).bigEndian, toByteOffset: 2, as: UInt16.self)
        return true
    }
}
