/// What kind of frame the parser found.
public enum FrameKind: UInt8, Sendable, CaseIterable {
    case other = 0      // an EtherType we do not route (counted, not an error)
    case arp
    case ipv4
    case ipv6
    case rocev2         // IPv4/IPv6 + UDP 4791 + BTH
    case cnp            // RoCEv2 congestion notification (opcode 0x81)
    case pause          // 802.3x PAUSE
    case pfc            // 802.1Qbb PFC
    case macControl     // another MAC Control opcode
}

/// Why a frame could not be parsed. Every value is a drop reason the switch counts.
public enum ParseError: UInt8, Sendable, CaseIterable, CustomStringConvertible {
    case truncatedEthernet = 1
    case truncatedVLAN
    case stackedVLAN
    case truncatedIPv4
    case badIPv4Version
    case badIPv4HeaderLength
    case badIPv4TotalLength
    case truncatedIPv6
    case badIPv6Version
    case badIPv6PayloadLength
    case truncatedUDP
    case badUDPLength
    case truncatedBTH
    case unknownRoCEOpcode
    case truncatedRoCEHeaders
    case truncatedMACControl
    case truncatedARP

    public var description: String {
        switch self {
        case .truncatedEthernet: "truncated_ethernet"
        case .truncatedVLAN: "truncated_vlan"
        case .stackedVLAN: "stacked_vlan"
        case .truncatedIPv4: "truncated_ipv4"
        case .badIPv4Version: "bad_ipv4_version"
        case .badIPv4HeaderLength: "bad_ipv4_ihl"
        case .badIPv4TotalLength: "bad_ipv4_total_length"
        case .truncatedIPv6: "truncated_ipv6"
        case .badIPv6Version: "bad_ipv6_version"
        case .badIPv6PayloadLength: "bad_ipv6_payload_length"
        case .truncatedUDP: "truncated_udp"
        case .badUDPLength: "bad_udp_length"
        case .truncatedBTH: "truncated_bth"
        case .unknownRoCEOpcode: "unknown_roce_opcode"
        case .truncatedRoCEHeaders: "truncated_roce_headers"
        case .truncatedMACControl: "truncated_mac_control"
        case .truncatedARP: "truncated_arp"
        }
    }
}

/// The parse of one frame: offsets of each header found and the fields the pipeline decides
/// on. Plain integers, so a batch can hold one per frame without allocating.
public struct PacketInfo: Sendable, Equatable {
    public var kind: FrameKind = .other
    /// nil when the frame parsed; otherwise why not.
    public var error: ParseError? = nil
    public var etherType: UInt16 = 0            // after any VLAN tag
    public var hasVLAN = false
    public var pcp: UInt8 = 0
    public var vid: UInt16 = 0
    public var l3Offset: UInt16 = 0
    /// Bytes of the L3 packet (IPv4 total length, IPv6 40 + payload length); the rest of the
    /// frame is Ethernet padding.
    public var l3Length: UInt16 = 0
    public var l4Offset: UInt16 = 0             // 0: no L4 header parsed
    public var ipProtocol: UInt8 = 0            // IPv4 protocol / IPv6 next header
    public var dscp: UInt8 = 0
    public var ecn: UInt8 = 0
    public var ttl: UInt8 = 0                   // TTL or hop limit
    /// IPv6 with extension headers (forwarded without L4 parsing), or an IPv4 fragment.
    public var l4Skipped = false
    public var sourcePort: UInt16 = 0
    public var destinationPort: UInt16 = 0
    public var bthOffset: UInt16 = 0            // 0: not RoCEv2
    public var roceOpcode: UInt8 = 0
    public var destinationQP: UInt32 = 0
    public var psn: UInt32 = 0

    @inlinable public init() {}
}

/// Parses Ethernet / [802.1Q] / IPv4|IPv6|ARP|MAC Control / UDP / BTH (+extended headers).
///
/// Trusts the descriptor length over what a header claims: a header that says it is longer
/// than the bytes present is an error; a shorter one leaves the rest as padding. Never reads
/// outside `length` bytes; never traps on any input.
///
/// One `PacketInfo` is filled in place from start to end (each header's step writes into it
/// and returns), so the parse of a frame is built once and copied once, to the caller.
public enum FrameParser {
    @inlinable
    public static func parse(_ frame: UnsafeRawPointer, length: Int) -> PacketInfo {
        var info = PacketInfo()
        parse(frame, length: length, into: &info)
        return info
    }

    /// As `parse(_:length:)`, into `info` (overwritten whole): a stage that keeps the parses
    /// of a batch in an array has each one written in place, not built and copied. Out of
    /// line on purpose: inlined into a caller's loop, the optimizer splits `PacketInfo` into a
    /// register or stack slot per field and moves each one twice.
    @inline(never)
    public static func parse(_ frame: UnsafeRawPointer, length: Int, into info: inout PacketInfo) {
        info = PacketInfo()
        guard length >= EthernetView.headerLength else {
            info.error = .truncatedEthernet
            return
        }
        var etherType = be16(frame, 12)
        var l3 = EthernetView.headerLength
        if etherType == EtherType.vlan || etherType == EtherType.qinq {
            guard let tag = VLANView(frame + 12, available: length - 12) else {
                info.error = .truncatedVLAN
                return
            }
            info.hasVLAN = true
            info.pcp = tag.pcp
            info.vid = tag.vid
            etherType = tag.innerEtherType
            l3 = 18
            if etherType == EtherType.vlan || etherType == EtherType.qinq {
                info.error = .stackedVLAN
                return
            }
        }
        info.etherType = etherType
        info.l3Offset = UInt16(truncatingIfNeeded: l3)
        let avail = length &- l3
        if etherType == EtherType.ipv4 {
            parseIPv4(frame, l3: l3, available: avail, &info)
        } else if etherType == EtherType.ipv6 {
            parseIPv6(frame, l3: l3, available: avail, &info)
        } else if etherType == EtherType.arp {
            guard avail >= 28 else {
                info.error = .truncatedARP
                return
            }
            info.kind = .arp
            info.l3Length = 28
        } else if etherType == EtherType.macControl {
            guard let mc = MACControlView(frame + l3, available: avail) else {
                info.error = .truncatedMACControl
                return
            }
            info.kind = mc.isPFC ? .pfc : mc.isPause ? .pause : .macControl
        }
        // Any other EtherType: `.other`, as initialised.
    }

    @inlinable @inline(__always)
    static func parseIPv4(_ frame: UnsafeRawPointer, l3: Int, available: Int, _ info: inout PacketInfo) {
        guard let ip = IPv4View(frame + l3, available: available) else {
            info.error = .truncatedIPv4
            return
        }
        // Version 4 with a 20-byte header (0x45, nearly every packet) needs no more checks:
        // the view holds 20 bytes.
        let ihl: Int
        if ip.versionAndHeaderLength == 0x45 {
            ihl = IPv4View.minimumLength
        } else {
            guard ip.version == 4 else {
                info.error = .badIPv4Version
                return
            }
            ihl = ip.headerLength
            guard ihl >= 20 && ihl <= available else {
                info.error = .badIPv4HeaderLength
                return
            }
        }
        let total = ip.totalLength
        guard total >= ihl && total <= available else {
            info.error = .badIPv4TotalLength
            return
        }
        info.kind = .ipv4
        info.l3Length = UInt16(truncatingIfNeeded: total)
        info.ipProtocol = ip.protocolNumber
        let tos = ip.tos
        info.dscp = tos >> 2
        info.ecn = tos & 0x03
        info.ttl = ip.ttl
        if ip.isFragment {
            info.l4Skipped = true
            return
        }
        parseL4(frame, l4: l3 &+ ihl, available: total &- ihl, &info)
    }

    @inlinable @inline(__always)
    static func parseIPv6(_ frame: UnsafeRawPointer, l3: Int, available: Int, _ info: inout PacketInfo) {
        guard let ip = IPv6View(frame + l3, available: available) else {
            info.error = .truncatedIPv6
            return
        }
        guard ip.version == 6 else {
            info.error = .badIPv6Version
            return
        }
        let total = IPv6View.length &+ ip.payloadLength
        guard total <= available else {
            info.error = .badIPv6PayloadLength
            return
        }
        info.kind = .ipv6
        info.l3Length = UInt16(truncatingIfNeeded: total)
        info.ipProtocol = ip.nextHeader
        info.dscp = ip.dscp
        info.ecn = ip.ecn
        info.ttl = ip.hopLimit
        switch ip.nextHeader {
        case 17, 6, 58:  // UDP, TCP, ICMPv6: a transport header follows directly
            parseL4(frame, l4: l3 &+ IPv6View.length, available: ip.payloadLength, &info)
        default:         // extension headers (0, 43, 44, 50, 51, 60, 135, ...) and others
            info.l4Skipped = true
        }
    }

    @inlinable @inline(__always)
    static func parseL4(_ frame: UnsafeRawPointer, l4: Int, available: Int, _ info: inout PacketInfo) {
        guard info.ipProtocol == 17 else {
            // TCP: ports for the flow hash. ICMP/ICMPv6: the offset, for the switch's own
            // echo replies and neighbour discovery. Only UDP carries RoCEv2.
            if info.ipProtocol == 6 && available >= 4 {
                info.l4Offset = UInt16(truncatingIfNeeded: l4)
                info.sourcePort = be16(frame, l4)
                info.destinationPort = be16(frame, l4 &+ 2)
            } else if (info.ipProtocol == 1 || info.ipProtocol == 58) && available >= 4 {
                info.l4Offset = UInt16(truncatingIfNeeded: l4)
            }
            return
        }
        guard let udp = UDPView(frame + l4, available: available) else {
            info.error = .truncatedUDP
            return
        }
        let udpLength = udp.length
        guard udpLength >= UDPView.length && udpLength <= available else {
            info.error = .badUDPLength
            return
        }
        info.l4Offset = UInt16(truncatingIfNeeded: l4)
        info.sourcePort = udp.sourcePort
        info.destinationPort = udp.destinationPort
        guard udp.destinationPort == UDPView.roceV2Port else { return }

        let bthOff = l4 &+ UDPView.length
        let bthAvail = udpLength &- UDPView.length
        guard let bth = BTHView(frame + bthOff, available: bthAvail) else {
            info.error = .truncatedBTH
            return
        }
        let opcode = bth.opcode
        guard let ext = RoCEOpcode.extendedHeaderLength(opcode) else {
            info.error = .unknownRoCEOpcode
            return
        }
        guard BTHView.length &+ ext &+ BTHView.icrcLength <= bthAvail else {
            info.error = .truncatedRoCEHeaders
            return
        }
        info.kind = opcode == RoCEOpcode.cnp ? .cnp : .rocev2
        info.bthOffset = UInt16(truncatingIfNeeded: bthOff)
        info.roceOpcode = opcode
        (info.destinationQP, info.psn) = bth.destinationQPAndPSN
    }
}
