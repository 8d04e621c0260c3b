import FabricPacket

/// Builds test frames (header layouts are checked against scapy in FabricPacketTests; here
/// frames only need to be valid input for the router).
public enum Frames {
    public static func ipv4Header(src: UInt32, dst: UInt32, proto: UInt8, ttl: UInt8, tos: UInt8, payload: Int) -> [UInt8] {
        var h = [UInt8](repeating: 0, count: 20)
        h[0] = 0x45; h[1] = tos
        let total = 20 + payload
        h[2] = UInt8(total >> 8); h[3] = UInt8(total & 0xFF)
        h[8] = ttl; h[9] = proto
        let s = ipBytes(src), d = ipBytes(dst)
        for i in 0..<4 { h[12 + i] = s[i]; h[16 + i] = d[i] }
        let c = h.withUnsafeBytes { internetChecksum($0.baseAddress!, count: 20) }
        h[10] = UInt8(c >> 8); h[11] = UInt8(c & 0xFF)
        return h
    }

    public static func macBytes(_ m: UInt64) -> [UInt8] {
        var out: [UInt8] = []
        for i in 0..<6 { out.append(UInt8(truncatingIfNeeded: m >> UInt64(40 - 8 * i))) }
        return out
    }

    public static func ipBytes(_ a: UInt32) -> [UInt8] {
        [UInt8(truncatingIfNeeded: a >> 24), UInt8(truncatingIfNeeded: a >> 16), UInt8(truncatingIfNeeded: a >> 8), UInt8(truncatingIfNeeded: a)]
    }

    public static func eth(_ dst: UInt64, _ src: UInt64, _ type: UInt16) -> [UInt8] {
        let t: [UInt8] = [UInt8(type >> 8), UInt8(type & 0xFF)]
        return macBytes(dst) + macBytes(src) + t
    }

    public static func udp4(dstMAC: UInt64, srcMAC: UInt64, src: UInt32, dst: UInt32, sport: UInt16, dport: UInt16,
                     ttl: UInt8 = 64, tos: UInt8 = 0, payload: Int = 18) -> [UInt8] {
        let udpLen = 8 + payload
        var udp: [UInt8] = [UInt8(sport >> 8), UInt8(sport & 0xFF), UInt8(dport >> 8), UInt8(dport & 0xFF),
                            UInt8(udpLen >> 8), UInt8(udpLen & 0xFF), 0, 0]
        udp += [UInt8](repeating: 0xAB, count: payload)
        return eth(dstMAC, srcMAC, 0x0800) + ipv4Header(src: src, dst: dst, proto: 17, ttl: ttl, tos: tos, payload: udpLen) + udp
    }

    public static func arp(op: UInt16, dstMAC: UInt64, sha: UInt64, spa: UInt32, tha: UInt64, tpa: UInt32) -> [UInt8] {
        var a: [UInt8] = [0, 1, 8, 0, 6, 4, 0, UInt8(op)]
        a += macBytes(sha)
        a += ipBytes(spa)
        a += macBytes(tha)
        a += ipBytes(tpa)
        return eth(dstMAC, sha, 0x0806) + a + [UInt8](repeating: 0, count: 18)
    }

    public static func icmpEcho(dstMAC: UInt64, srcMAC: UInt64, src: UInt32, dst: UInt32, id: UInt16 = 0x1234, seq: UInt16 = 1,
                                       tos: UInt8 = 0) -> [UInt8] {
        var icmp: [UInt8] = [8, 0, 0, 0, UInt8(id >> 8), UInt8(id & 0xFF), UInt8(seq >> 8), UInt8(seq & 0xFF)]
        icmp += [UInt8](repeating: 0x42, count: 32)
        let c = icmp.withUnsafeBytes { internetChecksum($0.baseAddress!, count: icmp.count) }
        icmp[2] = UInt8(c >> 8); icmp[3] = UInt8(c & 0xFF)
        return eth(dstMAC, srcMAC, 0x0800) + ipv4Header(src: src, dst: dst, proto: 1, ttl: 64, tos: tos, payload: icmp.count) + icmp
    }
}

extension Frames {
    /// An 802.1Qbb PFC frame from `source` pausing `priority` for `quanta` (0: resume).
    public static func pfc(source: UInt64, priority: Int, quanta: UInt16) -> [UInt8] {
        var f = [UInt8](repeating: 0, count: 60)
        _ = f.withUnsafeMutableBytes { PFCBuilder.write(into: $0.baseAddress!, source: MACAddress(rawValue: source), times: [(priority, quanta)]) }
        return f
    }

    /// An Ethernet frame of exactly `length` bytes (EtherType IPv4, zero payload; shorter
    /// than 14 bytes: a runt).
    public static func ethernet(dst: UInt64, src: UInt64, length: Int = 64) -> [UInt8] {
        Array((eth(dst, src, 0x0800) + [UInt8](repeating: 0, count: max(0, length - 14))).prefix(length))
    }

    /// The 48-bit MAC at `offset` of a frame.
    public static func mac(_ b: [UInt8], _ offset: Int) -> UInt64 { (0..<6).reduce(0) { $0 << 8 | UInt64(b[offset + $1]) } }

    /// True when the IPv4 header at `l3` has a valid checksum.
    public static func ipv4HeaderValid(_ b: [UInt8], l3: Int = 14) -> Bool {
        b.withUnsafeBytes { internetChecksum($0.baseAddress! + l3, count: 20) } == 0
    }
}

extension Frames {
    public static func ipv6Bytes(_ a: IPv6Address) -> [UInt8] {
        (0..<8).map { UInt8(truncatingIfNeeded: a.high >> UInt64(56 - 8 * $0)) } + (0..<8).map { UInt8(truncatingIfNeeded: a.low >> UInt64(56 - 8 * $0)) }
    }

    public static func ipv6Header(src: IPv6Address, dst: IPv6Address, nextHeader: UInt8, hopLimit: UInt8, payload: Int) -> [UInt8] {
        [0x60, 0, 0, 0, UInt8(payload >> 8), UInt8(payload & 0xFF), nextHeader, hopLimit] + ipv6Bytes(src) + ipv6Bytes(dst)
    }

    public static func udp6(dstMAC: UInt64, srcMAC: UInt64, src: IPv6Address, dst: IPv6Address, sport: UInt16, dport: UInt16,
                            hopLimit: UInt8 = 64, payload: Int = 18) -> [UInt8] {
        let udpLen = 8 + payload
        let udp: [UInt8] = [UInt8(sport >> 8), UInt8(sport & 0xFF), UInt8(dport >> 8), UInt8(dport & 0xFF),
                            UInt8(udpLen >> 8), UInt8(udpLen & 0xFF), 0, 0] + [UInt8](repeating: 0xAB, count: payload)
        return eth(dstMAC, srcMAC, 0x86DD) + ipv6Header(src: src, dst: dst, nextHeader: 17, hopLimit: hopLimit, payload: udpLen) + udp
    }

    /// A neighbour advertisement (RFC 4861 4.4: solicited, override) from `srcMAC` saying
    /// `target` is at `srcMAC`, sent from `target` to `dst` (the switch's address).
    public static func neighbourAdvertisement(dstMAC: UInt64, srcMAC: UInt64, target: IPv6Address, dst: IPv6Address) -> [UInt8] {
        var icmp: [UInt8] = [136, 0, 0, 0, 0x60, 0, 0, 0] + ipv6Bytes(target) + [2, 1] + macBytes(srcMAC)
        var f = eth(dstMAC, srcMAC, 0x86DD) + ipv6Header(src: target, dst: dst, nextHeader: 58, hopLimit: 255, payload: icmp.count) + icmp
        let c = f.withUnsafeBytes { icmpv6Checksum(ip: $0.baseAddress! + 14, messageLength: icmp.count) }
        icmp[2] = UInt8(c >> 8); icmp[3] = UInt8(c & 0xFF)
        f.replaceSubrange(54..., with: icmp)
        return f
    }
}
