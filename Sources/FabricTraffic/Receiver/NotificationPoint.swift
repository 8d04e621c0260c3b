// The DCQCN notification point (NP) at the receiver: a CE-marked RoCEv2 packet is answered
// with a CNP to the sender's queue pair (named in our payload header, as an RC responder knows
// its peer QP), at most one per flow per `minimumInterval` (50 us, the NVIDIA default
// min_time_between_cnps). The CNP goes back to the L2 source of the marked frame (its gateway
// when routed), from our IP address to the sender's.
import FabricPacket

/// Where frames are sent from; `PacketSocket` in the receiver, a recorder in tests.
protocol FrameSending {
    /// Sends one frame; false when there is no room right now.
    func send(_ frame: UnsafeRawPointer, length: Int) throws -> Bool
}

extension PacketSocket: FrameSending {}

struct NotificationPoint<Port: FrameSending> {
    let port: Port
    let sourceMAC: MACAddress
    var minimumInterval: UInt64 = 50_000
    /// CNPs sent, and when the last one went per flow key (`FlowTracker.key`).
    private(set) var sent: UInt64 = 0
    private var lastSent: [UInt64: UInt64] = [:]
    /// The CNP being sent (78 bytes over IPv4, 94 over IPv6).
    private var frame = [UInt8](repeating: 0, count: 128)

    init(port: Port, sourceMAC: MACAddress) {
        self.port = port
        self.sourceMAC = sourceMAC
    }

    /// The parsed RoCEv2 packet `marked` of flow `flow` arrived CE-marked at `now`, sent by
    /// queue pair `senderQP`: sends a CNP unless this flow had one within `minimumInterval`.
    mutating func congestionExperienced(_ marked: UnsafeRawPointer, info: PacketInfo, senderQP: UInt32, flow: UInt64, at now: UInt64) {
        guard now &- (lastSent[flow] ?? 0) >= minimumInterval else { return }
        let back = ReplyPath(marked, info: info, senderQP: senderQP, sourceMAC: sourceMAC)
        let port = self.port
        let delivered = frame.withUnsafeMutableBytes { buffer in
            let length = RoCEBuilder.writeCNP(into: buffer.baseAddress!, capacity: buffer.count, addresses: back.addresses,
                                              sourcePort: back.sourcePort, destinationQP: senderQP)
            return length > 0 && (try? port.send(buffer.baseAddress!, length: length)) == true
        }
        guard delivered else { return }
        sent += 1
        lastSent[flow] = now
    }
}
