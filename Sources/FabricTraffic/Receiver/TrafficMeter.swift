// What the receiver does with each frame, wherever it came from (in place in the UMEM, or in
// the AF_PACKET buffer): parse; check the ICRC (a failure is counted, the packet is not
// measured); count CNPs; account the packet to its flow; answer a CE mark with a CNP; and
// record the one-way latency from the send time in its payload.
import FabricPacket
import Histogram

struct TrafficMeter<Port: FrameSending> {
    var flows = FlowTracker()
    var notificationPoint: NotificationPoint<Port>
    var latency = LatencyRecorder()
    private(set) var icrcFailures: UInt64 = 0
    private(set) var cnpReceived: UInt64 = 0

    /// `port` sends CNPs from `sourceMAC`.
    init(port: Port, sourceMAC: MACAddress) {
        notificationPoint = NotificationPoint(port: port, sourceMAC: sourceMAC)
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
        let header = TrafficPayload.read(frame, length: length, info: info)
        let ceMarked = info.ecn == 3
        let flow = flows.record(source: FlowSource(ipHeader: ip, ipv6: ipv6), destinationQP: info.destinationQP, psn: info.psn,
                                bytes: length, ceMarked: ceMarked, sentAt: header?.sentAt, at: now)
        guard let header else { return }
        if ceMarked { notificationPoint.congestionExperienced(frame, info: info, senderQP: header.senderQP, flow: flow, at: now) }
        latency.record(sentAt: header.sentAt, receivedAt: now)
    }

    /// The report so far; `name` writes a flow's source address.
    func report(naming name: (FlowSource) -> String) -> ReceiverReport {
        var r = ReceiverReport(latencyMicroseconds: latency.summary, flows: flows.reports(naming: name))
        r.seconds = flows.seconds
        r.icrcFailures = icrcFailures
        r.cnpReceived = cnpReceived
        r.cnpSent = notificationPoint.sent
        for f in r.flows {
            r.packets += f.packets
            r.bytes += f.bytes
            r.lost += f.lost
            r.reordered += f.reordered
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
