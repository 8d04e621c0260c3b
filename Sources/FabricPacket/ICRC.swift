/// The RoCEv2 invariant CRC (InfiniBand Architecture Spec. Annex A17.3.3): CRC-32 as zlib
/// computes it, over 8 bytes of 0xFF, the IP header with its variant fields set to all ones
/// (IPv4: TOS, TTL, header checksum; IPv6: traffic class, flow label, hop limit), the UDP
/// header with its checksum set to all ones, the BTH with byte 4 (FECN/BECN/reserved) set to
/// all ones, and everything after it up to the ICRC, which is stored little-endian as the last
/// 4 bytes of the IP packet. A switch may change exactly the masked fields.
public enum ICRC {
    @usableFromInline static let table: [UInt32] = (0..<256).map { n -> UInt32 in
        var c = UInt32(n)
        for _ in 0..<8 { c = c & 1 != 0 ? 0xEDB8_8320 ^ (c >> 1) : c >> 1 }
        return c
    }

    /// Slicing-by-8 tables (Intel's "slicing-by-8" CRC, as zlib's braided CRC uses): eight
    /// 256-entry tables, tables[k][n] = CRC of byte n followed by k zero bytes, in one flat
    /// buffer allocated once, so 8 bytes of payload cost 8 lookups and no per-byte loop.
    nonisolated(unsafe) static let slices: UnsafeMutablePointer<UInt32> = {
        let t = UnsafeMutablePointer<UInt32>.allocate(capacity: 8 * 256)
        for n in 0..<256 { t[n] = table[n] }
        for k in 1..<8 {
            for n in 0..<256 {
                let prev = t[(k - 1) * 256 + n]
                t[k * 256 + n] = (prev >> 8) ^ t[Int(prev & 0xFF)]
            }
        }
        return t
    }()

    /// CRC over `count` plain bytes at `p`, continuing from `crc` (not inverted in between).
    static func update(_ crc: UInt32, _ p: UnsafeRawPointer, count: Int) -> UInt32 {
        var c = crc
        var i = 0
        let t = slices
        while i + 8 <= count {
            let lo = UInt32(littleEndian: p.loadUnaligned(fromByteOffset: i, as: UInt32.self)) ^ c
            let hi = UInt32(littleEndian: p.loadUnaligned(fromByteOffset: i + 4, as: UInt32.self))
            c = t[7 * 256 + Int(lo & 0xFF)] ^ t[6 * 256 + Int((lo >> 8) & 0xFF)]
                ^ t[5 * 256 + Int((lo >> 16) & 0xFF)] ^ t[4 * 256 + Int(lo >> 24)]
                ^ t[3 * 256 + Int(hi & 0xFF)] ^ t[2 * 256 + Int((hi >> 8) & 0xFF)]
                ^ t[1 * 256 + Int((hi >> 16) & 0xFF)] ^ t[Int(hi >> 24)]
            i += 8
        }
        while i < count {
            c = t[Int((c ^ UInt32(p.load(fromByteOffset: i, as: UInt8.self))) & 0xFF)] ^ (c >> 8)
            i += 1
        }
        return c
    }

    @inlinable @inline(__always)
    static func update(_ crc: inout UInt32, _ byte: UInt8) {
        crc = table[Int((crc ^ UInt32(byte)) & 0xFF)] ^ (crc >> 8)
    }

    /// Computes the ICRC of the RoCEv2 packet whose IP header starts at `ip` and which is
    /// `l3Length` bytes long (IP total length). `ipVersion` 4 or 6. Nil if too short.
    public static func compute(ip: UnsafeRawPointer, l3Length: Int, ipVersion: Int) -> UInt32? {
        let ipHeader: Int
        if ipVersion == 4 {
            ipHeader = Int(ip.load(as: UInt8.self) & 0x0F) * 4
        } else {
            ipHeader = IPv6View.length
        }
        let udp = ipHeader, bth = udp + UDPView.length
        let end = l3Length - BTHView.icrcLength
        // IPv4 options make the header at most 60 bytes: the masked part fits in 80.
        guard ipHeader >= 20, bth + BTHView.length <= end, bth + 5 <= 80 else { return nil }
        // The 8 bytes of 0xFF, then the headers with their variant fields set to all ones (built
        // in a small stack copy), then the rest (the BTH's last 7 bytes, extended headers and
        // payload) straight from the frame, eight bytes at a time.
        let masked = bth + 5
        return withUnsafeTemporaryAllocation(byteCount: 8 + 80, alignment: 8) { tmp -> UInt32 in
            let h = tmp.baseAddress!
            h.storeBytes(of: UInt64.max, as: UInt64.self)
            (h + 8).copyMemory(from: ip, byteCount: masked)
            let m = h + 8
            if ipVersion == 4 {
                m.storeBytes(of: 0xFF, toByteOffset: 1, as: UInt8.self)
                m.storeBytes(of: 0xFF, toByteOffset: 8, as: UInt8.self)
                m.storeBytes(of: 0xFFFF, toByteOffset: 10, as: UInt16.self)
            } else {
                m.storeBytes(of: m.load(as: UInt8.self) | 0x0F, as: UInt8.self)
                m.storeBytes(of: 0xFF, toByteOffset: 1, as: UInt8.self)
                m.storeBytes(of: 0xFFFF, toByteOffset: 2, as: UInt16.self)
                m.storeBytes(of: 0xFF, toByteOffset: 7, as: UInt8.self)
            }
            m.storeBytes(of: 0xFFFF, toByteOffset: udp + 6, as: UInt16.self)
            m.storeBytes(of: 0xFF, toByteOffset: bth + 4, as: UInt8.self)
            var crc = update(0xFFFF_FFFF, UnsafeRawPointer(h), count: 8 + masked)
            crc = update(crc, ip + masked, count: end - masked)
            return ~crc
        }
    }

    /// The ICRC stored in the packet (little-endian, last 4 bytes of the IP packet).
    public static func stored(ip: UnsafeRawPointer, l3Length: Int) -> UInt32? {
        guard l3Length >= 4 else { return nil }
        return UInt32(littleEndian: ip.loadUnaligned(fromByteOffset: l3Length - 4, as: UInt32.self))
    }

    /// True when the stored ICRC matches the computed one.
    public static func isValid(ip: UnsafeRawPointer, l3Length: Int, ipVersion: Int) -> Bool {
        guard let c = compute(ip: ip, l3Length: l3Length, ipVersion: ipVersion), let s = stored(ip: ip, l3Length: l3Length) else { return false }
        return c == s
    }
}
