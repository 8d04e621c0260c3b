// What a receiver measured, printed as one JSON line by `fabric traffic recv --json` (the lab
// decodes it from its child processes: the keys are the property names) or as a table.
import Foundation

/// Per flow (source address, destination QP) at the receiver.
public struct FlowReport: Codable, Sendable {
    public var source: String
    public var destinationQP: UInt32
    public var packets: UInt64 = 0
    public var bytes: UInt64 = 0
    /// First transmissions that never arrived (whether RC repaired them or not).
    public var lost: UInt64 = 0
    /// First transmissions that arrived after a higher PSN of the same QP.
    public var reordered: UInt64 = 0
    /// Packets that were resends (after a NAK or a timeout).
    public var resends: UInt64 = 0
    public var ceMarked: UInt64 = 0
    /// The longest silence between two packets of this flow, and when it ended (seconds after
    /// the flow's first packet): a PFC pause of the flow's priority shows up here.
    public var maxGapMicroseconds: Double = 0
    public var maxGapEndedAt: Double = 0
    /// The same from the senders' timestamps of consecutive packets: the silence as the sender
    /// made it, unaffected by queueing on the way or in this host.
    public var maxSendGapMicroseconds: Double = 0
}

/// The receiver's totals (the sums of its flows) and its flows.
public struct ReceiverReport: Codable, Sendable {
    public var packets: UInt64 = 0
    public var bytes: UInt64 = 0
    public var seconds: Double = 0
    /// First transmissions that never arrived (the network dropped them, or they failed the
    /// ICRC), whether RC repaired them or not; reordered first transmissions; resends received.
    public var lost: UInt64 = 0
    public var reordered: UInt64 = 0
    public var resendsReceived: UInt64 = 0
    public var ceMarked: UInt64 = 0
    public var icrcFailures: UInt64 = 0
    /// The RC responder: "gbn" or "sr"; ACKs and NAKs sent (and sends the socket refused),
    /// packets delivered in order, duplicates of delivered ones, packets after a gap
    /// (discarded with gbn, placed with sr), messages completed.
    public var transport = "gbn"
    public var acksSent: UInt64 = 0
    public var naksSent: UInt64 = 0
    public var ackSendFailures: UInt64 = 0
    public var delivered: UInt64 = 0
    public var duplicates: UInt64 = 0
    public var outOfOrder: UInt64 = 0
    public var messagesDelivered: UInt64 = 0
    public var cnpReceived: UInt64 = 0
    /// CNPs this receiver sent back for CE-marked packets (at most one per flow per 50 us,
    /// the NVIDIA default min_time_between_cnps).
    public var cnpSent: UInt64 = 0
    /// Frames the receiving host's own socket dropped (it fell behind): not fabric loss, and
    /// reported apart so the two are never confused.
    public var hostDrops: UInt64 = 0
    public var latencyMicroseconds: LatencySummary
    public var flows: [FlowReport]
    /// How RoCEv2 data arrived: "afxdp" (steered by bpf/roce_rx) or "afpacket".
    public var backend = "afpacket"
    public var goodputGbps: Double { seconds > 0 ? Double(bytes) * 8 / seconds / 1e9 : 0 }
}

/// One-way latency in microseconds: the receiver's clock minus the send time in the payload.
public struct LatencySummary: Codable, Sendable {
    public var samples: UInt64
    public var p50: Double
    public var p99: Double
    public var p999: Double
    public var max: Double
}

extension ReceiverReport {
    /// A table a network engineer reads without the docs.
    public var table: String {
        func f(_ v: Double, _ d: Int = 1) -> String { String(format: "%.\(d)f", v) }
        var s = "RoCEv2 receiver: \(packets) packets, \(bytes) bytes in \(f(seconds, 3)) s = \(f(goodputGbps, 2)) Gb/s\n"
        s += "  loss \(lost) packets (PSN gaps never filled), reordered \(reordered), CE-marked \(ceMarked)"
        s += packets > 0 ? " (\(f(100 * Double(ceMarked) / Double(packets), 2))%)" : ""
        s += ", ICRC failures \(icrcFailures), CNPs sent \(cnpSent)\n"
        s += "  RC (\(transport)): \(messagesDelivered) messages delivered, \(delivered) packets in order, \(acksSent) ACKs, \(naksSent) NAKs sent, "
            + "\(resendsReceived) resends received, \(duplicates) duplicates, \(outOfOrder) after a gap\n"
        if hostDrops > 0 { s += "  WARNING: this host's socket dropped \(hostDrops) frames (the receiver fell behind; counted in loss above)\n" }
        let l = latencyMicroseconds
        s += "  one-way latency (us): p50 \(f(l.p50)) p99 \(f(l.p99)) p99.9 \(f(l.p999)) max \(f(l.max)) over \(l.samples) packets\n"
        s += "  FLOW                       PACKETS        BYTES   LOST  REORDERED  CE   MAX_GAP_US\n"
        for fl in flows {
            let name = "\(fl.source) qp 0x\(String(fl.destinationQP, radix: 16))"
            s += "  " + name.padding(toLength: 24, withPad: " ", startingAt: 0)
                + String(format: "%10llu %12llu %6llu %10llu %4llu %12.1f\n", fl.packets, fl.bytes, fl.lost, fl.reordered, fl.ceMarked, fl.maxGapMicroseconds)
        }
        return s
    }
}
