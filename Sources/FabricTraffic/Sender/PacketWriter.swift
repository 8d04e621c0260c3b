// The packets of RC messages as a NIC segments them: each message goes to the next queue pair
// in turn and is split into MTU-sized FIRST/MIDDLE/LAST packets (ONLY when it fits in one),
// each QP with its own PSN and its UDP source port derived from the QP pair. Which packet goes
// next (a new one or a resend) is the `Requester`'s choice; a packet is the same bytes every
// time it is sent but for its payload header (written as the packet is built, so the
// timestamp is its send time, with the resend flag); the rest is filler.
import FabricPacket

struct PacketWriter: ~Copyable {
    let addresses: RoCEBuilder.Addresses
    let verb: RoCEBuilder.Verb
    let mtu: Int
    let messageBytes: Int
    let packetsPerMessage: Int
    let localQP: UInt32
    let remoteQP: UInt32
    let dscp: UInt8
    let ecn: UInt8
    let corruptEvery: Int

    /// Per queue pair: the UDP source port.
    private let sourcePorts: [UInt16]
    private var ipID: UInt16 = 0
    /// `mtu` bytes of filler; the header is written into its first bytes for each packet.
    private let payload: UnsafeMutableRawPointer

    /// The packets written so far, and of them the first transmissions.
    private(set) var packets: UInt64 = 0
    private(set) var firstTransmissions: UInt64 = 0
    private(set) var corrupted: UInt64 = 0

    init(config c: SenderConfig, sourceMAC: MACAddress) {
        addresses = c.addresses(sourceMAC: sourceMAC)
        verb = c.verb
        mtu = c.mtu
        messageBytes = c.messageBytes
        packetsPerMessage = c.packetsPerMessage
        localQP = c.localQP
        remoteQP = c.remoteQP
        dscp = c.dscp
        ecn = c.ecn
        corruptEvery = c.corruptEvery
        sourcePorts = (0..<c.queuePairs).map {
            RoCEBuilder.udpSourcePort(localQP: c.localQP + UInt32($0), remoteQP: c.remoteQP + UInt32($0))
        }
        payload = .allocate(byteCount: c.mtu, alignment: 8)
        payload.initializeMemory(as: UInt8.self, repeating: 0x5A, count: c.mtu)
    }

    deinit { payload.deallocate() }

    /// Packet `index` of a message: its opcode, payload bytes (the MTU, the rest in the last
    /// one, never less than the payload header) and frame length.
    struct Segment {
        let index: Int
        let opcode: UInt8
        let payloadBytes: Int
        let frameLength: Int
    }

    func segment(_ index: Int) -> Segment {
        let opcode = verb.opcode(index: index, count: packetsPerMessage)
        let payloadBytes = max(index == packetsPerMessage - 1 ? messageBytes - index * mtu : mtu, TrafficPayload.length)
        return Segment(index: index, opcode: opcode, payloadBytes: payloadBytes,
                       frameLength: RoCEBuilder.frameLength(opcode: opcode, payload: payloadBytes, ipv6: addresses.isV6))
    }

    /// Writes `packet` (of `message`, sequence `sequence` on queue pair `queuePair`) into
    /// `frame` with send time `sentAt`, and returns its length (0 when `capacity` is too small:
    /// `SenderConfig.validate` rules that out). The last packet of a message asks for an ACK.
    mutating func write(_ packet: Segment, message: UInt64, queuePair qp: Int, sequence: UInt64, resend: Bool, sentAt: UInt64,
                        into frame: UnsafeMutableRawPointer, capacity: Int) -> Int {
        TrafficPayload.write(.init(sentAt: sentAt, message: UInt32(truncatingIfNeeded: message), senderQP: localQP + UInt32(qp), resend: resend),
                             at: payload)
        let length = RoCEBuilder.writePacket(into: frame, capacity: capacity, addresses: addresses, dscp: dscp, ecn: ecn, ipID: ipID,
                                             sourcePort: sourcePorts[qp], opcode: packet.opcode, destinationQP: remoteQP + UInt32(qp),
                                             psn: UInt32(truncatingIfNeeded: sequence) & 0xFF_FFFF, ackRequest: packet.index == packetsPerMessage - 1,
                                             payload: payload, payloadBytes: packet.payloadBytes,
                                             remoteAddress: 0x10_0000, rkey: 0x1234, dmaLength: UInt32(messageBytes))
        guard length > 0 else { return 0 }
        ipID &+= 1
        packets += 1
        if !resend { firstTransmissions += 1 }
        if corruptEvery > 0 && !resend && firstTransmissions % UInt64(corruptEvery) == 0 {
            // One byte just before the ICRC: after the ICRC was computed, so receivers must
            // count the packet as an ICRC failure. Only first transmissions: N counts the
            // losses RC must repair, and a resend always gets through.
            let byte = frame.load(fromByteOffset: length - BTHView.icrcLength - 1, as: UInt8.self)
            frame.storeBytes(of: byte ^ 0xFF, toByteOffset: length - BTHView.icrcLength - 1, as: UInt8.self)
            corrupted += 1
        }
        return length
    }
}
