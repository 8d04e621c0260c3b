// The address vocabulary of the whole project: MAC, IPv4 (a plain UInt32), IPv6, either one,
// and prefixes. Plain integers underneath, so the data path compares and hashes them cheaply;
// text parsing and formatting for configuration, reports and the lab.

/// A 48-bit IEEE 802 MAC address held in the low 48 bits of a `UInt64`, first octet most
/// significant, so comparisons and hashing are plain integer operations.
public struct MACAddress: Hashable, Sendable, CustomStringConvertible {
    public let rawValue: UInt64

    @inlinable public init(rawValue: UInt64) { self.rawValue = rawValue & 0xFFFF_FFFF_FFFF }

    /// Parses `aa:bb:cc:dd:ee:ff` (or `-` separated). Returns nil for anything else.
    public init?(_ text: String) {
        let parts = text.split(whereSeparator: { $0 == ":" || $0 == "-" })
        guard parts.count == 6 else { return nil }
        var value: UInt64 = 0
        for part in parts {
            guard part.count == 2, let octet = UInt8(part, radix: 16) else { return nil }
            value = value << 8 | UInt64(octet)
        }
        self.rawValue = value
    }

    public static let broadcast = MACAddress(rawValue: 0xFFFF_FFFF_FFFF)

    /// Group (multicast or broadcast) addresses have the I/G bit, the low bit of the first octet.
    @inlinable public var isGroup: Bool { rawValue & 0x0100_0000_0000 != 0 }
    @inlinable public var isZero: Bool { rawValue == 0 }

    /// IEEE 802.1D reserved link-local group 01:80:C2:00:00:00–0F (STP, PAUSE, PFC, LLDP, ...).
    /// A bridge must never forward these.
    @inlinable public var isLinkLocal: Bool { rawValue & ~UInt64(0x0F) == 0x0180_C200_0000 }

    public var description: String {
        (0..<6).map { i in
            let octet = UInt8(truncatingIfNeeded: rawValue >> UInt64(40 - 8 * i))
            return (octet < 16 ? "0" : "") + String(octet, radix: 16)
        }.joined(separator: ":")
    }
}

/// A 128-bit IPv6 address as two big-endian halves (plain integers: cheap to compare and hash).
public struct IPv6Address: Hashable, Sendable, Comparable, CustomStringConvertible {
    public var high: UInt64
    public var low: UInt64
    @inlinable public init(high: UInt64, low: UInt64) {
        self.high = high
        self.low = low
    }
    public static func < (a: IPv6Address, b: IPv6Address) -> Bool { (a.high, a.low) < (b.high, b.low) }

    /// Parses RFC 4291 text (with `::`; no embedded IPv4). Nil if invalid.
    public init?(_ text: String) {
        // Split at the one "::" if there is one.
        let u = Array(text.utf8)
        var cut: [Int] = []
        var i = 0
        while i + 1 < u.count {
            if u[i] == 58 && u[i + 1] == 58 { cut.append(i); i += 2 } else { i += 1 }
        }
        guard cut.count <= 1 else { return nil }
        let halves: [String] = cut.isEmpty ? [text]
            : [String(decoding: u[..<cut[0]], as: UTF8.self), String(decoding: u[(cut[0] + 2)...], as: UTF8.self)]
        func groups(_ s: String) -> [UInt16]? {
            if s.isEmpty { return [] }
            var out: [UInt16] = []
            for g in s.split(separator: ":", omittingEmptySubsequences: false) {
                guard (1...4).contains(g.count), let v = UInt16(g, radix: 16) else { return nil }
                out.append(v)
            }
            return out
        }
        guard let head = groups(halves[0]) else { return nil }
        var all = head
        if halves.count == 2 {
            guard let tail = groups(halves[1]), head.count + tail.count <= 7 else { return nil }
            all += [UInt16](repeating: 0, count: 8 - head.count - tail.count) + tail
        }
        guard all.count == 8 else { return nil }
        var hi: UInt64 = 0, lo: UInt64 = 0
        for i in 0..<4 { hi = hi << 16 | UInt64(all[i]) }
        for i in 4..<8 { lo = lo << 16 | UInt64(all[i]) }
        self.init(high: hi, low: lo)
    }

    public var description: String {
        let g = (0..<8).map { i -> UInt16 in
            let half = i < 4 ? high : low
            return UInt16(truncatingIfNeeded: half >> UInt64(48 - 16 * (i % 4)))
        }
        // Longest run of zero groups (length >= 2) becomes "::".
        var best = (start: -1, len: 0), cur = (start: -1, len: 0)
        for (i, v) in g.enumerated() {
            if v == 0 {
                cur = cur.start < 0 ? (i, 1) : (cur.start, cur.len + 1)
                if cur.len > best.len { best = cur }
            } else { cur = (-1, 0) }
        }
        let hex = g.map { String($0, radix: 16) }
        if best.len < 2 { return hex.joined(separator: ":") }
        let left = hex[..<best.start].joined(separator: ":")
        let right = hex[(best.start + best.len)...].joined(separator: ":")
        return left + "::" + right
    }

    /// The address with all but the first `length` bits cleared (a prefix's network).
    @inlinable public func masked(to length: Int) -> IPv6Address {
        if length >= 128 { return self }
        if length >= 64 { return IPv6Address(high: high, low: length == 64 ? 0 : low & ~UInt64(0) << (128 - length)) }
        return IPv6Address(high: length == 0 ? 0 : high & ~UInt64(0) << (64 - length), low: 0)
    }
}

/// An IPv4 or IPv6 address.
public enum IPAddress: Sendable, Hashable, CustomStringConvertible {
    case v4(UInt32)
    case v6(IPv6Address)

    public init?(_ text: String) {
        if let v4 = parseIPv4(text) { self = .v4(v4) } else if let v6 = IPv6Address(text) { self = .v6(v6) } else { return nil }
    }

    public var description: String {
        switch self {
        case .v4(let a): formatIPv4(a)
        case .v6(let a): a.description
        }
    }
}

public func parseIPv4(_ text: String) -> UInt32? {
    let parts = text.split(separator: ".", omittingEmptySubsequences: false)
    guard parts.count == 4 else { return nil }
    var v: UInt32 = 0
    for p in parts {
        guard !p.isEmpty, p.count <= 3, p.allSatisfy(\.isASCII), let o = UInt8(p) else { return nil }
        v = v << 8 | UInt32(o)
    }
    return v
}

public func formatIPv4(_ a: UInt32) -> String {
    "\(a >> 24).\(a >> 16 & 0xFF).\(a >> 8 & 0xFF).\(a & 0xFF)"
}

/// A prefix: address and length, the address masked to the length.
public struct IPPrefix: Sendable, Hashable, CustomStringConvertible {
    public var address: IPAddress
    public var length: Int

    /// Parses `a.b.c.d/n` or `x::y/n`; nil when malformed or the length is out of range.
    /// With `strict`, host bits must be zero (a route); otherwise they are kept (an interface
    /// address like 10.0.0.1/24).
    public init?(_ text: String, strict: Bool) {
        let parts = text.split(separator: "/", omittingEmptySubsequences: false)
        guard parts.count == 2, let len = Int(parts[1]), let addr = IPAddress(String(parts[0])) else { return nil }
        switch addr {
        case .v4(let a):
            guard (0...32).contains(len) else { return nil }
            let masked = len == 0 ? 0 : a & ~UInt32(0) << (32 - len)
            if strict && masked != a { return nil }
            address = strict ? .v4(masked) : addr
        case .v6(let a):
            guard (0...128).contains(len) else { return nil }
            let masked = a.masked(to: len)
            if strict && masked != a { return nil }
            address = strict ? .v6(masked) : addr
        }
        length = len
    }

    public init(address: IPAddress, length: Int) {
        self.address = address
        self.length = length
    }

    /// The network (host bits cleared).
    public var network: IPPrefix {
        switch address {
        case .v4(let a): IPPrefix(address: .v4(length == 0 ? 0 : a & ~UInt32(0) << (32 - length)), length: length)
        case .v6(let a): IPPrefix(address: .v6(a.masked(to: length)), length: length)
        }
    }

    public func contains(_ ip: IPAddress) -> Bool {
        switch (network.address, ip) {
        case (.v4(let n), .v4(let a)): return length == 0 || a & ~UInt32(0) << (32 - length) == n
        case (.v6(let n), .v6(let a)): return a.masked(to: length) == n
        default: return false
        }
    }

    public var description: String { "\(address)/\(length)" }
}
