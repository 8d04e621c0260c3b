/// Builds RoCEv2 frames the way a RoCE NIC emits them: Ethernet / IPv4 or IPv6 / UDP 4791 /
/// BTH (+RETH) / payload (padded to 4 bytes) / ICRC. Writes into caller memory (a UMEM frame),
/// allocates nothing.
public enum RoCEBuilder {
    /// UDP source port for a queue pair, as Linux's RDMA core derives it (rdma_calc_flow_label
    /// then rdma_flow_label_to_udp_sport, include/rdma/ib_verbs.h): stable per QP pair and
    /// spread over 0xC000-0xFFFF, which is the entropy ECMP and flowlets hash on.
    @inlinable
    public static func udpSourcePort(localQP: UInt32, remoteQP: UInt32) -> UInt16 {
        var v = UInt64(localQP) &* UInt64(remoteQP)
        v ^= v >> 20
        v ^= v >> 40
        let fl = UInt32(truncatingIfNeeded: v) & 0xF_FFFF
        var low = fl & 0x3FFF
        low ^= (fl & 0xF_C000) >> 14
        return UInt16(truncatingIfNeeded: low | 0xC000)
    }

    /// RC opcodes for a message split into MTU-sized packets.
    public enum Verb: Sendable {
        case send, rdmaWrite

        /// The opcode of packet `index` of `count` packets of one message.
        @inlinable public func opcode(index: Int, count: Int) -> UInt8 {
            switch self {
            case .send:
                return count == 1 ? 0x04 : index == 0 ? 0x00 : index == count - 1 ? 0x02 : 0x01
            case .rdmaWrite:
                return count == 1 ? 0x0A : index == 0 ? 0x06 : index == count - 1 ? 0x08 : 0x07
            }
        }
    }

    public struct Addresses: Sendable {
        public var sourceMAC: MACAddress
        public var destinationMAC: MACAddress
        public var source: UInt32            // IPv4 (host order)
        public var destination: UInt32
        /// Set for IPv6 RoCEv2 (then `source`/`destination` are unused).
        public var source6: IPv6Address?
        public var destination6: IPv6Address?
        public init(sourceMAC: MACAddress, destinationMAC: MACAddress, source: UInt32, destination: UInt32) {
            self.sourceMAC = sourceMAC
            self.destinationMAC = destinationMAC
            self.source = source
            self.destination = destination
        }
        public init(sourceMAC: MACAddress, destinationMAC: MACAddress, source6: IPv6Address, destination6: IPv6Address) {
            self.init(sourceMAC: sourceMAC, destinationMAC: destinationMAC, source: 0, destination: 0)
            self.source6 = source6
            self.destination6 = destination6
        }
        @inlinable public var isV6: Bool { destination6 != nil }
        /// Bytes of the IP header.
        @inlinable public var ipHeaderLength: Int { isV6 ? 40 : 20 }
    }

    /// Frame length for a packet carrying `payload` bytes with `opcode` (IPv4; +20 for IPv6).
    @inlinable public static func frameLength(opcode: UInt8, payload: Int, ipv6: Bool = false) -> Int {
        let ext = RoCEOpcode.extendedHeaderLength(opcode) ?? 0
        let padded = (payload + 3) & ~3
        return 14 + (ipv6 ? 40 : 20) + 8 + BTHView.length + ext + padded + BTHView.icrcLength
    }

    /// Writes one RoCEv2 packet at `frame` (IPv4, or IPv6 when `addresses` has IPv6 addresses)
    /// and returns its length (0 if `capacity` is too small). Over IPv6 the flow label carries
    /// the same entropy as the UDP source port, and the UDP checksum is 0 as RoCE NICs send it. `payloadBytes` are copied from `payload` (may be nil: zeros); a RETH, when the
    /// opcode has one, carries `remoteAddress`, `rkey` and `dmaLength`.
    @inlinable
    public static func writePacket(into frame: UnsafeMutableRawPointer, capacity: Int, addresses a: Addresses,
                                 dscp: UInt8, ecn: UInt8, ipID: UInt16, sourcePort: UInt16,
                                 opcode: UInt8, destinationQP: UInt32, psn: UInt32, ackRequest: Bool,
                                 payload: UnsafeRawPointer?, payloadBytes: Int,
                                 remoteAddress: UInt64 = 0, rkey: UInt32 = 0, dmaLength: UInt32 = 0) -> Int {
        let ext = RoCEOpcode.extendedHeaderLength(opcode) ?? 0
        let padded = (payloadBytes + 3) & ~3
        let ipLen = a.ipHeaderLength
        let length = 14 + ipLen + 8 + BTHView.length + ext + padded + BTHView.icrcLength
        guard length <= capacity, length - 14 <= 0xFFFF else { return 0 }
        Rewrite.setMACs(frame, destination: a.destinationMAC, source: a.sourceMAC)
        let ip = frame + 14
        let total = length - 14
        if let src6 = a.source6, let dst6 = a.destination6 {
            frame.storeBytes(of: EtherType.ipv6.bigEndian, toByteOffset: 12, as: UInt16.self)
            let tc = UInt32((dscp & 0x3F) << 2 | ecn & 0x03)
            ip.storeBytes(of: (6 << 28 | tc << 20 | UInt32(sourcePort)).bigEndian, as: UInt32.self)
            ip.storeBytes(of: UInt16(total - 40).bigEndian, toByteOffset: 4, as: UInt16.self)
            ip.storeBytes(of: UInt16(17 << 8 | 64).bigEndian, toByteOffset: 6, as: UInt16.self)  // UDP, hop limit 64
            storeIPv6(src6, at: ip + 8)
            storeIPv6(dst6, at: ip + 24)
        } else {
            frame.storeBytes(of: EtherType.ipv4.bigEndian, toByteOffset: 12, as: UInt16.self)
            // IPv4: DF set, TTL 64, protocol UDP, checksum computed below.
            ip.storeBytes(of: UInt8(0x45), as: UInt8.self)
            ip.storeBytes(of: (dscp & 0x3F) << 2 | ecn & 0x03, toByteOffset: 1, as: UInt8.self)
            ip.storeBytes(of: UInt16(total).bigEndian, toByteOffset: 2, as: UInt16.self)
            ip.storeBytes(of: ipID.bigEndian, toByteOffset: 4, as: UInt16.self)
            ip.storeBytes(of: UInt16(0x4000).bigEndian, toByteOffset: 6, as: UInt16.self)
            ip.storeBytes(of: UInt16(64 << 8 | 17).bigEndian, toByteOffset: 8, as: UInt16.self)
            ip.storeBytes(of: UInt16(0), toByteOffset: 10, as: UInt16.self)
            ip.storeBytes(of: a.source.bigEndian, toByteOffset: 12, as: UInt32.self)
            ip.storeBytes(of: a.destination.bigEndian, toByteOffset: 16, as: UInt32.self)
            ip.storeBytes(of: internetChecksum(ip, count: 20).bigEndian, toByteOffset: 10, as: UInt16.self)
        }
        // UDP: checksum 0 (RoCEv2 NICs send 0).
        let udp = ip + ipLen
        udp.storeBytes(of: sourcePort.bigEndian, as: UInt16.self)
        udp.storeBytes(of: UDPView.roceV2Port.bigEndian, toByteOffset: 2, as: UInt16.self)
        udp.storeBytes(of: UInt16(total - ipLen).bigEndian, toByteOffset: 4, as: UInt16.self)
        udp.storeBytes(of: UInt16(0), toByteOffset: 6, as: UInt16.self)
        // BTH.
        let bth = udp + 8
        bth.storeBytes(of: opcode, as: UInt8.self)
        bth.storeBytes(of: UInt8(padded - payloadBytes) << 4, toByteOffset: 1, as: UInt8.self)  // SE 0, M 0, PadCnt, TVer 0
        bth.storeBytes(of: UInt16(0xFFFF).bigEndian, toByteOffset: 2, as: UInt16.self)
        bth.storeBytes(of: (destinationQP & 0xFF_FFFF).bigEndian, toByteOffset: 4, as: UInt32.self)  // byte 4 = 0 (FECN/BECN)
        bth.storeBytes(of: (psn & 0xFF_FFFF | (ackRequest ? 0x8000_0000 : 0)).bigEndian, toByteOffset: 8, as: UInt32.self)
        var off = ipLen + 8 + BTHView.length
        if RoCEOpcode.hasRETH(opcode) {
            let reth = ip + off
            reth.storeBytes(of: remoteAddress.bigEndian, as: UInt64.self)
            reth.storeBytes(of: rkey.bigEndian, toByteOffset: 8, as: UInt32.self)
            reth.storeBytes(of: dmaLength.bigEndian, toByteOffset: 12, as: UInt32.self)
        }
        if ext > 16 || (ext > 0 && !RoCEOpcode.hasRETH(opcode)) {
            // Other extended headers (immediate data, AETH, DETH): zeros unless written later.
            let start = RoCEOpcode.hasRETH(opcode) ? 16 : 0
            (ip + off + start).initializeMemory(as: UInt8.self, repeating: 0, count: ext - start)
        }
        off += ext
        if let payload, payloadBytes > 0 {
            (ip + off).copyMemory(from: payload, byteCount: payloadBytes)
        } else if payloadBytes > 0 {
            (ip + off).initializeMemory(as: UInt8.self, repeating: 0, count: payloadBytes)
        }
        if padded > payloadBytes {
            (ip + off + payloadBytes).initializeMemory(as: UInt8.self, repeating: 0, count: padded - payloadBytes)
        }
        let icrc = ICRC.compute(ip: UnsafeRawPointer(ip), l3Length: total, ipVersion: a.isV6 ? 6 : 4) ?? 0
        ip.storeBytes(of: icrc.littleEndian, toByteOffset: total - 4, as: UInt32.self)
        return length
    }

    /// Writes a CNP (congestion notification) to the sender's queue pair `destinationQP`:
    /// opcode 0x81, BECN set, PSN 0, 16 reserved zero bytes, DSCP 48 by convention.
    @inlinable
    public static func writeCNP(into frame: UnsafeMutableRawPointer, capacity: Int, addresses a: Addresses,
                                sourcePort: UInt16, destinationQP: UInt32, dscp: UInt8 = 48) -> Int {
        let length = writePacket(into: frame, capacity: capacity, addresses: a, dscp: dscp, ecn: 0, ipID: 0, sourcePort: sourcePort,
                               opcode: RoCEOpcode.cnp, destinationQP: destinationQP, psn: 0, ackRequest: false,
                               payload: nil, payloadBytes: 0)
        guard length > 0 else { return 0 }
        let ip = frame + 14
        let bth = ip + a.ipHeaderLength + 8
        bth.storeBytes(of: UInt8(0x40), toByteOffset: 4, as: UInt8.self)  // BECN (masked in the ICRC: no recompute)
        (bth + BTHView.length).initializeMemory(as: UInt8.self, repeating: 0, count: 16)
        let icrc = ICRC.compute(ip: UnsafeRawPointer(ip), l3Length: length - 14, ipVersion: a.isV6 ? 6 : 4) ?? 0
        ip.storeBytes(of: icrc.littleEndian, toByteOffset: length - 18, as: UInt32.self)
        return length
    }
}

extension RoCEBuilder {
    /// Writes an RC ACKNOWLEDGE (opcode 0x11: BTH + AETH) to the requester's queue pair
    /// `destinationQP`: an ACK (`AETH.ack`) carries the last PSN received in order, a NAK
    /// (`AETH.nakSequenceError`) the PSN the responder expects (IBTA vol. 1, 9.7.5). `msn`:
    /// the messages completed. ECN Not-ECT; the DSCP of the data it answers.
    @inlinable
    public static func writeAcknowledge(into frame: UnsafeMutableRawPointer, capacity: Int, addresses a: Addresses, sourcePort: UInt16,
                                        destinationQP: UInt32, psn: UInt32, syndrome: UInt8, msn: UInt32, dscp: UInt8) -> Int {
        let length = writePacket(into: frame, capacity: capacity, addresses: a, dscp: dscp, ecn: 0, ipID: 0, sourcePort: sourcePort,
                                 opcode: RoCEOpcode.rcAcknowledge, destinationQP: destinationQP, psn: psn, ackRequest: false,
                                 payload: nil, payloadBytes: 0)
        guard length > 0 else { return 0 }
        let ip = frame + 14
        let aeth = UInt32(syndrome) << 24 | msn & 0xFF_FFFF
        (ip + a.ipHeaderLength + 8 + BTHView.length).storeBytes(of: aeth.bigEndian, as: UInt32.self)
        let icrc = ICRC.compute(ip: UnsafeRawPointer(ip), l3Length: length - 14, ipVersion: a.isV6 ? 6 : 4) ?? 0
        ip.storeBytes(of: icrc.littleEndian, toByteOffset: length - 18, as: UInt32.self)
        return length
    }
}

/// IEEE 802.1Qbb priority flow control frames (DESIGN.md: DA 01:80:C2:00:00:01, EtherType
/// 0x8808, opcode 0x0101, class-enable vector, eight pause times, zero padding to 60 bytes).
public enum PFCBuilder {
    public static let destination = MACAddress(rawValue: 0x0180_C200_0001)
    public static let length = 60

    /// Writes a PFC frame pausing each priority in `times` (priority -> quanta; 0 = XON) and
    /// returns its length (60; the NIC adds the FCS).
    @inlinable
    public static func write(into frame: UnsafeMutableRawPointer, source: MACAddress, times: [(priority: Int, quanta: UInt16)]) -> Int {
        let n = write(into: frame, source: source, priorities: 0, quanta: 0)
        var vector: UInt8 = 0
        for t in times where (0..<8).contains(t.priority) {
            vector |= 1 << UInt8(t.priority)
            frame.storeBytes(of: t.quanta.bigEndian, toByteOffset: 18 + 2 * t.priority, as: UInt16.self)
        }
        frame.storeBytes(of: vector, toByteOffset: 17, as: UInt8.self)
        return n
    }

    /// The same quanta for every priority in the mask `priorities` (what a switch sends for a
    /// priority group), without building a list.
    @inlinable
    public static func write(into frame: UnsafeMutableRawPointer, source: MACAddress, priorities: UInt8, quanta: UInt16) -> Int {
        frame.initializeMemory(as: UInt8.self, repeating: 0, count: length)
        Rewrite.setMACs(frame, destination: destination, source: source)
        frame.storeBytes(of: EtherType.macControl.bigEndian, toByteOffset: 12, as: UInt16.self)
        frame.storeBytes(of: MACControlView.pfcOpcode.bigEndian, toByteOffset: 14, as: UInt16.self)
        frame.storeBytes(of: priorities, toByteOffset: 17, as: UInt8.self)
        for p in 0..<8 where priorities & (1 << UInt8(p)) != 0 {
            frame.storeBytes(of: quanta.bigEndian, toByteOffset: 18 + 2 * p, as: UInt16.self)
        }
        return length
    }
}
