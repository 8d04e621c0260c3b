// Header views over frame memory: each holds a pointer into a UMEM frame and is created by a
// failable init that checks the bytes it will read are inside the frame. Accessors do no
// further checks: the init is the only way to get a view, so every read is in bounds.
// All multi-byte fields are network byte order.

@usableFromInline @inline(__always)
func be16(_ p: UnsafeRawPointer, _ off: Int) -> UInt16 {
    UInt16(bigEndian: p.loadUnaligned(fromByteOffset: off, as: UInt16.self))
}

@usableFromInline @inline(__always)
func be32(_ p: UnsafeRawPointer, _ off: Int) -> UInt32 {
    UInt32(bigEndian: p.loadUnaligned(fromByteOffset: off, as: UInt32.self))
}

@usableFromInline @inline(__always)
func be24(_ p: UnsafeRawPointer, _ off: Int) -> UInt32 {
    UInt32(p.load(fromByteOffset: off, as: UInt8.self)) << 16 | UInt32(be16(p, off + 1))
}

public enum EtherType {
    public static let ipv4: UInt16 = 0x0800
    public static let arp: UInt16 = 0x0806
    public static let vlan: UInt16 = 0x8100
    public static let qinq: UInt16 = 0x88A8
    public static let ipv6: UInt16 = 0x86DD
    public static let macControl: UInt16 = 0x8808
}

/// IEEE 802.1Q tag (the 4 bytes after the source MAC): TPID, PCP/DEI/VID, inner EtherType.
public struct VLANView {
    public static let length = 4
    @usableFromInline let base: UnsafeRawPointer
    /// `base` points at the TPID (frame offset 12).
    @inlinable public init?(_ base: UnsafeRawPointer, available: Int) {
        guard available >= 6 else { return nil }  // TCI + inner EtherType after the TPID
        self.base = base
    }
    @inlinable public var tci: UInt16 { be16(base, 2) }
    @inlinable public var pcp: UInt8 { UInt8(truncatingIfNeeded: tci >> 13) }
    @inlinable public var dei: Bool { tci & 0x1000 != 0 }
    @inlinable public var vid: UInt16 { tci & 0x0FFF }
    @inlinable public var innerEtherType: UInt16 { be16(base, 4) }
}

/// IPv4 header (RFC 791), options included in `headerLength`.
public struct IPv4View {
    public static let minimumLength = 20
    @usableFromInline let base: UnsafeRawPointer
    @inlinable public init?(_ base: UnsafeRawPointer, available: Int) {
        guard available >= IPv4View.minimumLength else { return nil }
        self.base = base
    }
    @inlinable public var version: UInt8 { base.load(as: UInt8.self) >> 4 }
    @inlinable public var headerLength: Int { Int(base.load(as: UInt8.self) & 0x0F) * 4 }
    @inlinable public var versionAndHeaderLength: UInt8 { base.load(as: UInt8.self) }
    @inlinable public var tos: UInt8 { base.load(fromByteOffset: 1, as: UInt8.self) }
    @inlinable public var dscp: UInt8 { tos >> 2 }
    @inlinable public var ecn: UInt8 { tos & 0x03 }
    @inlinable public var totalLength: Int { Int(be16(base, 2)) }
    @inlinable public var identification: UInt16 { be16(base, 4) }
    @inlinable public var flagsAndFragmentOffset: UInt16 { be16(base, 6) }
    /// Not the first fragment, or more fragments follow: L4 headers are absent or partial.
    @inlinable public var isFragment: Bool { flagsAndFragmentOffset & 0x3FFF != 0 }
    @inlinable public var ttl: UInt8 { base.load(fromByteOffset: 8, as: UInt8.self) }
    @inlinable public var protocolNumber: UInt8 { base.load(fromByteOffset: 9, as: UInt8.self) }
    @inlinable public var checksum: UInt16 { be16(base, 10) }
    @inlinable public var source: UInt32 { be32(base, 12) }
    @inlinable public var destination: UInt32 { be32(base, 16) }
}

/// IPv6 fixed header (RFC 8200).
public struct IPv6View {
    public static let length = 40
    @usableFromInline let base: UnsafeRawPointer
    @inlinable public init?(_ base: UnsafeRawPointer, available: Int) {
        guard available >= IPv6View.length else { return nil }
        self.base = base
    }
    @inlinable public var version: UInt8 { base.load(as: UInt8.self) >> 4 }
    @inlinable public var trafficClass: UInt8 { UInt8(truncatingIfNeeded: be16(base, 0) >> 4) }
    @inlinable public var dscp: UInt8 { trafficClass >> 2 }
    @inlinable public var ecn: UInt8 { trafficClass & 0x03 }
    @inlinable public var flowLabel: UInt32 { be32(base, 0) & 0x000F_FFFF }
    @inlinable public var payloadLength: Int { Int(be16(base, 4)) }
    @inlinable public var nextHeader: UInt8 { base.load(fromByteOffset: 6, as: UInt8.self) }
    @inlinable public var hopLimit: UInt8 { base.load(fromByteOffset: 7, as: UInt8.self) }
    /// Source and destination as (high, low) 64-bit halves.
    @inlinable public var source: IPv6Address { IPv6Address(high: loadU64(8), low: loadU64(16)) }
    @inlinable public var destination: IPv6Address { IPv6Address(high: loadU64(24), low: loadU64(32)) }
    @inlinable func loadU64(_ off: Int) -> UInt64 { UInt64(bigEndian: base.loadUnaligned(fromByteOffset: off, as: UInt64.self)) }
}

/// UDP header (RFC 768).
public struct UDPView {
    public static let length = 8
    public static let roceV2Port: UInt16 = 4791
    @usableFromInline let base: UnsafeRawPointer
    @inlinable public init?(_ base: UnsafeRawPointer, available: Int) {
        guard available >= UDPView.length else { return nil }
        self.base = base
    }
    @inlinable public var sourcePort: UInt16 { be16(base, 0) }
    @inlinable public var destinationPort: UInt16 { be16(base, 2) }
    @inlinable public var length: Int { Int(be16(base, 4)) }
    @inlinable public var checksum: UInt16 { be16(base, 6) }
}

/// InfiniBand Base Transport Header as carried by RoCEv2 (12 bytes).
public struct BTHView {
    public static let length = 12
    public static let icrcLength = 4
    @usableFromInline let base: UnsafeRawPointer
    @inlinable public init?(_ base: UnsafeRawPointer, available: Int) {
        guard available >= BTHView.length else { return nil }
        self.base = base
    }
    @inlinable public var opcode: UInt8 { base.load(as: UInt8.self) }
    @inlinable public var solicitedEvent: Bool { base.load(fromByteOffset: 1, as: UInt8.self) & 0x80 != 0 }
    @inlinable public var migReq: Bool { base.load(fromByteOffset: 1, as: UInt8.self) & 0x40 != 0 }
    @inlinable public var padCount: UInt8 { (base.load(fromByteOffset: 1, as: UInt8.self) >> 4) & 0x03 }
    @inlinable public var transportVersion: UInt8 { base.load(fromByteOffset: 1, as: UInt8.self) & 0x0F }
    @inlinable public var partitionKey: UInt16 { be16(base, 2) }
    @inlinable public var fecn: Bool { base.load(fromByteOffset: 4, as: UInt8.self) & 0x80 != 0 }
    @inlinable public var becn: Bool { base.load(fromByteOffset: 4, as: UInt8.self) & 0x40 != 0 }
    @inlinable public var destinationQP: UInt32 { be24(base, 5) }
    @inlinable public var ackRequest: Bool { base.load(fromByteOffset: 8, as: UInt8.self) & 0x80 != 0 }
    @inlinable public var psn: UInt32 { be24(base, 9) }
    /// `destinationQP` and `psn` from one 8-byte read of bytes 4-11 (the parser's per-frame
    /// path: two 3-byte fields cost a load, a swap and two masks).
    @inlinable public var destinationQPAndPSN: (destinationQP: UInt32, psn: UInt32) {
        let w = UInt64(bigEndian: base.loadUnaligned(fromByteOffset: 4, as: UInt64.self))
        return (UInt32(truncatingIfNeeded: w >> 32) & 0xFF_FFFF, UInt32(truncatingIfNeeded: w) & 0xFF_FFFF)
    }
}

/// The RoCE opcodes this switch cares about, and which extended headers follow the BTH.
public enum RoCEOpcode {
    public static let cnp: UInt8 = 0x81
    public static let rcAcknowledge: UInt8 = 0x11

    /// Bytes of extended transport headers after the BTH for `opcode` (RETH 16, AETH 4,
    /// DETH 8, ImmDt 4, AtomicETH 28, AtomicAckETH 8), or nil for opcodes we do not know.
    @inlinable @inline(__always) public static func extendedHeaderLength(_ opcode: UInt8) -> Int? {
        let transport = opcode & 0xE0
        let op = Int(opcode & 0x1F)
        switch transport {
        case 0x00, 0x20:  // RC, UC (UC has no READ/ACK/ATOMIC)
            if transport == 0x20 && op > 0x0B { return nil }
            // Length / 4 per opcode 0x00...0x1F, 4 bits each (0xF: not an opcode), from the
            // RC list: SEND FIRST/MIDDLE/LAST/ONLY 0, SEND LAST/ONLY with immediate 4 (ImmDt),
            // RDMA WRITE FIRST and ONLY 16 (RETH), WRITE MIDDLE/LAST 0, WRITE LAST with
            // immediate 4, WRITE ONLY with immediate 20 (RETH+ImmDt), READ REQUEST 16 (RETH),
            // READ RESPONSE FIRST/LAST/ONLY 4 (AETH), MIDDLE 0, ACKNOWLEDGE 4 (AETH), ATOMIC
            // ACKNOWLEDGE 12 (AETH+AtomicAckETH), COMPARE SWAP and FETCH ADD 28 (AtomicETH),
            // SEND LAST/ONLY with invalidate 4 (IETH). A table, not a switch: the parser runs
            // it per RoCEv2 frame.
            let table: UInt64 = op < 16 ? 0x1014_5410_0410_1000 : 0xFFFF_FFFF_11F7_7311
            let code = Int(truncatingIfNeeded: table >> UInt64(truncatingIfNeeded: (op & 15) << 2)) & 0xF
            return code == 0xF ? nil : code << 2
        case 0x60:  // UD
            switch op {
            case 0x04: return 8                            // SEND ONLY: DETH
            case 0x05: return 12                           // SEND ONLY with immediate: DETH+ImmDt
            default: return nil
            }
        case 0x80:
            return opcode == cnp ? 16 : nil                // CNP: 16 reserved bytes
        default:
            return nil
        }
    }

    /// Opcodes whose first extended header is a RETH (virtual address, rkey, DMA length).
    @inlinable public static func hasRETH(_ opcode: UInt8) -> Bool {
        let t = opcode & 0xE0, op = opcode & 0x1F
        return (t == 0x00 || t == 0x20) && (op == 0x06 || op == 0x0A || op == 0x0B || (t == 0x00 && op == 0x0C))
    }

    /// RC and UC opcodes that end a message (SEND/RDMA WRITE LAST and ONLY, with or without
    /// immediate data or invalidate).
    @inlinable public static func endsMessage(_ opcode: UInt8) -> Bool {
        guard opcode & 0xC0 == 0 else { return false }
        switch opcode & 0x1F {
        case 0x02, 0x03, 0x04, 0x05, 0x08, 0x09, 0x0A, 0x0B, 0x16, 0x17: return true
        default: return false
        }
    }

    /// Opcodes whose first extended header is an AETH (syndrome, MSN).
    @inlinable public static func hasAETH(_ opcode: UInt8) -> Bool {
        let op = opcode & 0x1F
        return opcode & 0xE0 == 0x00 && (op == 0x0D || op == 0x0F || op == 0x10 || op == 0x11 || op == 0x12)
    }
}

/// RDMA Extended Transport Header (16 bytes).
public struct RETHView {
    public static let length = 16
    @usableFromInline let base: UnsafeRawPointer
    @inlinable public init?(_ base: UnsafeRawPointer, available: Int) {
        guard available >= RETHView.length else { return nil }
        self.base = base
    }
    @inlinable public var virtualAddress: UInt64 { UInt64(bigEndian: base.loadUnaligned(as: UInt64.self)) }
    @inlinable public var remoteKey: UInt32 { be32(base, 8) }
    @inlinable public var dmaLength: UInt32 { be32(base, 12) }
}

/// ACK Extended Transport Header (4 bytes).
public struct AETHView {
    public static let length = 4
    @usableFromInline let base: UnsafeRawPointer
    @inlinable public init?(_ base: UnsafeRawPointer, available: Int) {
        guard available >= AETHView.length else { return nil }
        self.base = base
    }
    @inlinable public var syndrome: UInt8 { base.load(as: UInt8.self) }
    @inlinable public var messageSequenceNumber: UInt32 { be24(base, 1) }

    /// Syndrome bits 7-5: 000 ACK (low 5 bits: credits, 0x1F = no end-to-end flow control),
    /// 001 RNR NAK, 011 NAK with the code in the low 5 bits (0 PSN sequence error).
    public static let ack: UInt8 = 0x1F
    public static let nakSequenceError: UInt8 = 0x60
    @inlinable public static func isACK(_ syndrome: UInt8) -> Bool { syndrome & 0xE0 == 0x00 }
    @inlinable public static func isNAK(_ syndrome: UInt8) -> Bool { syndrome & 0xE0 == 0x60 }
}

/// MAC Control frame body (after the EtherType 0x8808): IEEE 802.3x PAUSE (opcode 0x0001,
/// one pause time) or 802.1Qbb PFC (opcode 0x0101, class-enable vector + 8 pause times).
public struct MACControlView {
    public static let pauseOpcode: UInt16 = 0x0001
    public static let pfcOpcode: UInt16 = 0x0101
    /// Opcode + class-enable vector + 8 times.
    public static let pfcLength = 20
    public static let pauseLength = 4
    @usableFromInline let base: UnsafeRawPointer
    @usableFromInline let available: Int
    @inlinable public init?(_ base: UnsafeRawPointer, available: Int) {
        guard available >= 2 else { return nil }
        let opcode = be16(base, 0)
        if opcode == MACControlView.pfcOpcode && available < MACControlView.pfcLength { return nil }
        if opcode == MACControlView.pauseOpcode && available < MACControlView.pauseLength { return nil }
        self.base = base
        self.available = available
    }
    @inlinable public var opcode: UInt16 { be16(base, 0) }
    @inlinable public var isPFC: Bool { opcode == MACControlView.pfcOpcode }
    @inlinable public var isPause: Bool { opcode == MACControlView.pauseOpcode }
    /// PAUSE: the single pause time in quanta.
    @inlinable public var pauseTime: UInt16 { isPause ? be16(base, 2) : 0 }
    /// PFC: bit n = priority n enabled (the second byte of the vector; the first is reserved).
    @inlinable public var classEnableVector: UInt8 { isPFC ? base.load(fromByteOffset: 3, as: UInt8.self) : 0 }
    /// PFC: pause time of `priority` (0...7) in quanta of 512 bit times.
    @inlinable public func pauseTime(priority: Int) -> UInt16 {
        guard isPFC, (0..<8).contains(priority) else { return 0 }
        return be16(base, 4 + 2 * priority)
    }
}

/// Writes an IPv6 address (16 bytes, network order) at `p`.
@inlinable public func storeIPv6(_ a: IPv6Address, at p: UnsafeMutableRawPointer) {
    p.storeBytes(of: a.high.bigEndian, as: UInt64.self)
    p.storeBytes(of: a.low.bigEndian, toByteOffset: 8, as: UInt64.self)
}

@inlinable public func loadIPv6(_ p: UnsafeRawPointer) -> IPv6Address {
    IPv6Address(high: UInt64(bigEndian: p.loadUnaligned(as: UInt64.self)), low: UInt64(bigEndian: p.loadUnaligned(fromByteOffset: 8, as: UInt64.self)))
}
