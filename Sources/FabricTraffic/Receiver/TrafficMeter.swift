// What the receiver does with each frame, wherever it came from (in place in the UMEM, or in
// the AF_PACKET buffer): parse; check the ICRC (a failure is counted, the packet is dropped
// as a NIC drops it); count CNPs; account the packet to its flow; answer it as an RC
// responder (ACK, NAK); answer a CE mark with a CNP; and record the one-way latency from the
// send time in its payload.
import FabricPacket
import Histogram

struct TrafficMeter<Port: FrameSending> {
    var flows = FlowTracker()
    var responder: Responder
    var notificationPoint: NotificationPoint<Port>
    /// Where each connection's ACKs go (learnt from its packets), and the frame being built.
    private var replies: [UInt64: ReplyPath] = [:]
    private var ackFrame = [UInt8](repeating: 0, count: 128)
    private(set) var ackSendFailures: UInt64 = 0
    private var due: [(UInt64, Response)] = []
    var latency = LatencyRecorder()
    private(set) var icrcFailures: UInt64 = 0
    private(set) var cnpReceived: UInt64 = 0

    /// `port` sends ACKs, NAKs and CNPs from `sourceMAC`.
    init(port: Port, sourceMAC: MACAddress, reliability: ReliabilityParameters = ReliabilityParameters()) {
        notificationPoint = NotificationPoint(port: port, sourceMAC: sourceMAC)
        responder = Responder(parameters: reliability)
    }

    /// Measures the frame of `length` bytes at `frame`, received at `now`.
    mutating func measure(_ frame: UnsafeRawPointer, length: Int, at now: UInt64) {
        let info = FrameParser.parse(frame, length: length)
        guard info.error == nil, info.kind == .rocev2 || info.kind == .cnp else { return }
        let ip = frame + Int(info.l3Offset)
        let ipv6 = info.etherType == EtherType.ipv6
        guard ICRC.isValid(ip: ip, l3Length: Int(info.l3Length), ipVersion: ipv6 ? 6 : 4) else {
            icrcFailures += 1
            return
        }
        guard info.kind == .rocev2 else {
            cnpReceived += 1
            return
        }
        // ACKs and read responses are for a requester on this host, not data.
        guard !RoCEOpcode.hasAETH(info.roceOpcode) else { return }
        let header = TrafficPayload.read(frame, length: length, info: info)
        let ceMarked = info.ecn == 3
        let flow = flows.record(source: FlowSource(ipHeader: ip, ipv6: ipv6), destinationQP: info.destinationQP, psn: info.psn,
                                bytes: length, ceMarked: ceMarked, sentAt: header?.sentAt, resend: header?.resend ?? false, at: now)
        // Only our generator's packets name the requester's QP an ACK must go to.
        guard let header else { return }
        if ceMarked { notificationPoint.congestionExperienced(frame, info: info, senderQP: header.senderQP, flow: flow, at: now) }
        latency.record(sentAt: header.sentAt, receivedAt: now)
        if replies[flow] == nil { replies[flow] = ReplyPath(frame, info: info, senderQP: header.senderQP, sourceMAC: notificationPoint.sourceMAC) }
        let ackRequest = frame.load(fromByteOffset: Int(info.bthOffset) + 8, as: UInt8.self) & 0x80 != 0
        if let response = responder.receive(key: flow, psn: info.psn, ackRequest: ackRequest,
                                            lastOfMessage: RoCEOpcode.endsMessage(info.roceOpcode), at: now) {
            send(response, flow: flow)
        }
    }

    /// Sends the ACKs whose coalescing time is up at `now`.
    mutating func flushAcknowledgements(at now: UInt64) {
        guard responder.pending > 0 else { return }
        due.removeAll(keepingCapacity: true)
        responder.flush(at: now) { due.append(($0, $1)) }
        for (flow, response) in due { send(response, flow: flow) }
    }

    /// Builds the ACK or NAK for connection `flow` and sends it (a full socket: counted).
    private mutating func send(_ response: Response, flow: UInt64) {
        guard let r = replies[flow] else { return }
        let (psn, syndrome, msn) = switch response {
        case .ack(let psn, let msn): (psn, AETHView.ack, msn)
        case .nak(let psn, let msn): (psn, AETHView.nakSequenceError, msn)
        }
        let port = notificationPoint.port
        let sent = ackFrame.withUnsafeMutableBytes { buffer in
            let length = RoCEBuilder.writeAcknowledge(into: buffer.baseAddress!, capacity: buffer.count, addresses: r.addresses, sourcePort: r.sourcePort,
                                                      destinationQP: r.requesterQP, psn: psn, syndrome: syndrome, msn: msn, dscp: r.dscp)
            return length > 0 && (try? port.send(buffer.baseAddress!, length: length)) == true
        }
        if !sent { ackSendFailures += 1 }
    }

    /// The report so far; `name` writes a flow's source address.
    func report(naming name: (FlowSource) -> String) -> ReceiverReport {
        var r = ReceiverReport(latencyMicroseconds: latency.summary, flows: flows.reports(naming: name))
        r.seconds = flows.seconds
        r.icrcFailures = icrcFailures
        r.cnpReceived = cnpReceived
        r.cnpSent = notificationPoint.sent
        r.transport = responder.parameters.mode.rawValue
        r.acksSent = responder.acksSent
        r.naksSent = responder.naksSent
        r.delivered = responder.delivered
        r.duplicates = responder.duplicates
        r.outOfOrder = responder.outOfOrder
        r.messagesDelivered = responder.messagesCompleted
        r.ackSendFailures = ackSendFailures
        for f in r.flows {
            r.packets += f.packets
            r.bytes += f.bytes
            r.lost += f.lost
            r.reordered += f.reordered
            r.resendsReceived += f.resends
            r.ceMarked += f.ceMarked
        }
        return r
    }
}

/// One-way latencies in an HDR histogram (ns, 3 significant digits, up to 60 s).
struct LatencyRecorder {
    private var histogram = Histogram<UInt64>(highestTrackableValue: 60_000_000_000, numberOfSignificantValueDigits: .three)

    /// A packet sent at `sentAt` arrived at `receivedAt` (same clock); a send time in the future
    /// (not ours) is skipped.
    mutating func record(sentAt: UInt64, receivedAt: UInt64) {
        if receivedAt > sentAt { _ = histogram.record(receivedAt - sentAt) }
    }

    var summary: LatencySummary {
        guard histogram.totalCount > 0 else { return LatencySummary(samples: 0, p50: 0, p99: 0, p999: 0, max: 0) }
        return LatencySummary(samples: histogram.totalCount,
                              p50: Double(histogram.valueAtPercentile(50)) / 1000,
                              p99: Double(histogram.valueAtPercentile(99)) / 1000,
                              p999: Double(histogram.valueAtPercentile(99.9)) / 1000,
                              max: Double(histogram.maxRecorded) / 1000)
    }
}

/// Where a connection's ACKs go: back to the L2 source of its packets (the gateway when
/// routed), from the address they were sent to, to the requester's QP; the UDP source port
/// of the QP pair, the DSCP of the data.
struct ReplyPath {
    var addresses: RoCEBuilder.Addresses
    var sourcePort: UInt16
    var requesterQP: UInt32
    var dscp: UInt8

    init(_ frame: UnsafeRawPointer, info: PacketInfo, senderQP: UInt32, sourceMAC: MACAddress) {
        let ip = frame + Int(info.l3Offset)
        let peerMAC = MACAddress(rawValue: EthernetView.loadMAC(frame + 6))
        addresses = info.etherType == EtherType.ipv6
            ? RoCEBuilder.Addresses(sourceMAC: sourceMAC, destinationMAC: peerMAC, source6: loadIPv6(ip + 24), destination6: loadIPv6(ip + 8))
            : RoCEBuilder.Addresses(sourceMAC: sourceMAC, destinationMAC: peerMAC,
                                    source: UInt32(bigEndian: ip.loadUnaligned(fromByteOffset: 16, as: UInt32.self)),
                                    destination: UInt32(bigEndian: ip.loadUnaligned(fromByteOffset: 12, as: UInt32.self)))
        sourcePort = RoCEBuilder.udpSourcePort(localQP: info.destinationQP, remoteQP: senderQP)
        requesterQP = senderQP
        dscp = info.dscp
    }
}
