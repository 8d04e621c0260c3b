import FabricPacket

/// Where a flow comes from: the source address of its packets.
enum FlowSource: Equatable {
    case ipv4(UInt32)
    case ipv6(IPv6Address)

    /// The source address of the IPv4 or IPv6 header at `ip`.
    init(ipHeader ip: UnsafeRawPointer, ipv6: Bool) {
        self = ipv6 ? .ipv6(loadIPv6(ip + 8)) : .ipv4(UInt32(bigEndian: ip.loadUnaligned(fromByteOffset: 12, as: UInt32.self)))
    }
}

/// Per-flow accounting at the receiver: a flow is a source address and a destination QP (one
/// RC connection). Loss and reordering come from the PSN sequence of each flow's first
/// transmissions (resends say so in their payload header), in 24-bit serial arithmetic:
/// - the expected PSN: in order;
/// - ahead of it: the PSNs skipped are counted as lost (provisionally), and it moves on;
/// - behind it: the packet is reordered, and fills one gap (one fewer lost).
/// A resend ahead of the expected PSN proves that the first transmissions up to it were sent
/// and never came (a lost tail the requester's timeout repaired): lost too. Resends behind it
/// are counted apart. So a first transmission that never arrived is loss, whether RC repaired
/// it or not. The tracker keeps no record of which PSNs are missing, so a duplicate first
/// transmission counts as reordered too.
///
/// Also per flow: the longest silence between two packets (by arrival, and by the senders'
/// timestamps), and CE marks. A value driven by the caller's clock.
struct FlowTracker {
    struct Flow {
        var source: FlowSource
        var report: FlowReport
        var psnStarted = false
        var expectedPSN: UInt32 = 0
        /// Arrival of the first and the last packet, and the latest send time seen.
        var first: UInt64 = 0
        var last: UInt64 = 0
        var lastSent: UInt64 = 0

        /// A packet of `bytes` with `psn` arrived at `now`, sent at `sentAt` if it says.
        mutating func record(bytes: Int, psn: UInt32, ceMarked: Bool, sentAt: UInt64?, resend: Bool = false, at now: UInt64) {
            report.packets += 1
            report.bytes += UInt64(bytes)
            record(arrival: now)
            if ceMarked { report.ceMarked += 1 }
            if resend { record(resend: psn) } else { record(psn: psn) }
            if let sentAt { record(sentAt: sentAt) }
        }

        /// A resend of `psn`: the first transmissions from the expected PSN (0 before any: the
        /// generator's QPs start there) up to it are lost.
        mutating func record(resend psn: UInt32) {
            report.resends += 1
            let ahead = (psn &- expectedPSN) & 0xFF_FFFF
            if ahead < 0x80_0000 {
                report.lost += UInt64(ahead) + 1
                expectedPSN = (psn + 1) & 0xFF_FFFF
                psnStarted = true
            }
        }

        /// Loss and reordering from a first transmission's PSN.
        mutating func record(psn: UInt32) {
            guard psnStarted else {
                psnStarted = true
                expectedPSN = (psn + 1) & 0xFF_FFFF
                return
            }
            let ahead = (psn &- expectedPSN) & 0xFF_FFFF
            if ahead < 0x80_0000 {
                report.lost += UInt64(ahead)
                expectedPSN = (psn + 1) & 0xFF_FFFF
            } else {
                report.reordered += 1
                if report.lost > 0 { report.lost -= 1 }
            }
        }

        /// The longest silence, by arrival at `now` (its end is counted from the first packet).
        mutating func record(arrival now: UInt64) {
            if last > 0, now - last > UInt64(report.maxGapMicroseconds * 1000) {
                report.maxGapMicroseconds = Double(now - last) / 1000
                report.maxGapEndedAt = Double(now - first) / 1e9
            }
            if first == 0 { first = now }
            last = now
        }

        /// The longest silence by the senders' timestamps, unaffected by queueing on the way.
        mutating func record(sentAt sent: UInt64) {
            if lastSent > 0 && sent > lastSent {
                report.maxSendGapMicroseconds = max(report.maxSendGapMicroseconds, Double(sent - lastSent) / 1000)
            }
            lastSent = max(lastSent, sent)
        }
    }

    private(set) var flows: [UInt64: Flow] = [:]
    /// Arrival of the first and the last packet of any flow (0: none yet).
    private(set) var firstArrival: UInt64 = 0
    private(set) var lastArrival: UInt64 = 0

    /// The flow's key: the QP in the low 24 bits and the source above it, an IPv4 address as
    /// it is (bits 24-55) or an IPv6 address folded to 39 bits with bit 63 set, so the two
    /// families never share a key.
    static func key(source: FlowSource, destinationQP: UInt32) -> UInt64 {
        let folded: UInt64 = switch source {
        case .ipv4(let a): UInt64(a)
        case .ipv6(let a): (a.high ^ a.low &* 0x9E37_79B9_7F4A_7C15) >> 25 | 1 << 39
        }
        return folded << 24 | UInt64(destinationQP & 0xFF_FFFF)
    }

    /// A packet of `bytes` (frame length) from `source` to `destinationQP` with `psn` arrived
    /// at `now`; `sentAt`: the send time in its payload, if it carries one. Returns the key.
    @discardableResult
    mutating func record(source: FlowSource, destinationQP: UInt32, psn: UInt32, bytes: Int, ceMarked: Bool,
                         sentAt: UInt64?, resend: Bool = false, at now: UInt64) -> UInt64 {
        if firstArrival == 0 { firstArrival = now }
        lastArrival = now
        let key = Self.key(source: source, destinationQP: destinationQP)
        flows[key, default: Flow(source: source, report: FlowReport(source: "", destinationQP: destinationQP))]
            .record(bytes: bytes, psn: psn, ceMarked: ceMarked, sentAt: sentAt, resend: resend, at: now)
        return key
    }

    /// Seconds from the first packet to the last.
    var seconds: Double { firstArrival > 0 ? Double(lastArrival - firstArrival) / 1e9 : 0 }

    /// Every flow's report with its source named, sorted by source and QP.
    func reports(naming name: (FlowSource) -> String) -> [FlowReport] {
        flows.values.map { flow in
            var report = flow.report
            report.source = name(flow.source)
            return report
        }.sorted { ($0.source, $0.destinationQP) < ($1.source, $1.destinationQP) }
    }
}
