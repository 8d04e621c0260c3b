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
