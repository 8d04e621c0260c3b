import FabricCore
import FabricSystem
import FabricTraffic
import Foundation

/// How every flow of a workload sends (`fabric traffic send` options).
public struct WorkloadOptions: Sendable {
    public var seconds = 2.0
    /// Messages per flow (0: run for `seconds`).
    public var messages = 0
    public var rateGbps = 0.0
    public var queuePairs = 2
    public var messageBytes = 65536
    public var mtu = 1024
    public var extraSenderArguments: [String] = []
    /// Options both ends take (`--transport gbn|sr`, `--ack-timeout`, `--window`...).
    public var reliabilityArguments: [String] = []
    /// First remote QPN of each flow, by its index in the pattern's pairs (default 0x1000 +
    /// 0x100 x index); the QPs decide the UDP source ports, and so the ECMP hash.
    public var remoteQPs: [Int: UInt32] = [:]
    public init() {}

    /// The first remote QPN flow `index` uses.
    public func remoteQP(_ index: Int) -> UInt32 { remoteQPs[index] ?? UInt32(0x1000 + index * 0x100) }
}

/// What every sender and receiver of a workload reported.
public struct WorkloadResult: Sendable {
    public var senders: [(from: Int, to: Int, report: SenderReport)]
    public var receivers: [(host: Int, report: ReceiverReport)]
    /// Job completion time: from the first packet of any sender to the last acknowledgement
    /// any sender received for its messages (shared monotonic clock): the last byte
    /// delivered and acknowledged, not the last one sent.
    public var completionSeconds: Double
    /// The test bed's host names, host i at index i - 1 (the table's names; empty: h1, h2, ...).
    public var hostNames: [String] = []

    public var sentPackets: UInt64 { senders.reduce(0) { $0 + $1.report.packets } }
    public var receivedPackets: UInt64 { receivers.reduce(0) { $0 + $1.report.packets } }
    /// First transmissions that never arrived (repaired by RC or not), and resends.
    public var lost: UInt64 { receivers.reduce(0) { $0 + $1.report.lost } }
    public var reordered: UInt64 { receivers.reduce(0) { $0 + $1.report.reordered } }
    public var retransmittedPackets: UInt64 { senders.reduce(0) { $0 + $1.report.retransmittedPackets } }
    public var messagesSent: UInt64 { senders.reduce(0) { $0 + $1.report.messages } }
    public var messagesCompleted: UInt64 { senders.reduce(0) { $0 + $1.report.messagesCompleted } }
    public var failedQueuePairs: Int { senders.reduce(0) { $0 + $1.report.failedQueuePairs } }
    /// Frames the receiving hosts' own sockets dropped (counted in `lost`, not the fabric's).
    public var hostDrops: UInt64 { receivers.reduce(0) { $0 + $1.report.hostDrops } }

    public var table: String {
        func name(_ h: Int) -> String { h <= hostNames.count ? hostNames[h - 1] : "h\(h)" }
        func padded(_ h: Int, _ width: Int) -> String { name(h).padding(toLength: max(width, name(h).count), withPad: " ", startingAt: 0) }
        var s = String(format: "%d flows, %d receivers; completion %.3f s (last message acknowledged); %llu of %llu messages completed; "
                       + "sent %llu packets (%llu resent), received %llu, lost %llu, reordered %llu\n",
                       senders.count, receivers.count, completionSeconds, messagesCompleted, messagesSent, sentPackets, retransmittedPackets,
                       receivedPackets, lost, reordered)
        if failedQueuePairs > 0 { s += "  WARNING: \(failedQueuePairs) queue pairs failed (retries exhausted): their messages never completed\n" }
        s += "  RECEIVER   PACKETS    GOODPUT_GBPS   LOST  REORDERED  CE      P50_US     P99_US   P99.9_US     MAX_US\n"
        for (h, r) in receivers.sorted(by: { $0.host < $1.host }) {
            let l = r.latencyMicroseconds
            s += "  " + padded(h, 9) + String(format: " %8llu %14.3f %6llu %10llu %3llu %11.1f %10.1f %10.1f %10.1f\n",
                        r.packets, r.goodputGbps, r.lost, r.reordered, r.ceMarked, l.p50, l.p99, l.p999, l.max)
        }
        s += "  SENDER -> RECEIVER   PACKETS   GBPS   PFC_PAUSES   CNPS\n"
        for f in senders.sorted(by: { ($0.from, $0.to) < ($1.from, $1.to) }) {
            s += "  " + padded(f.from, 4) + " -> " + padded(f.to, 11) + String(format: " %9llu %6.3f %12llu %6llu\n", f.report.packets, f.report.gbps, f.report.pauseFrames, f.report.cnpsReceived)
        }
        return s
    }
}

public enum Workload {
    /// Neighbours first, as a fabric resolves them before its jobs start: one ping to every
    /// host through the switch makes the switch resolve it (a host's own ARP for its gateway
    /// is not enough: its cache may outlive a restarted switch). Otherwise the first frames of a
    /// full-rate start wait for the switch's ARP, and a burst larger than its pending queue is
    /// dropped (pending_full) even in the lossless class.
    public static func resolveNeighbours(_ tb: TopologyTestbed, hosts: [Int]) {
        guard tb.routed else { return }
        let hosts = Set(hosts).sorted()
        for h in hosts {
            guard let other = hosts.first(where: { $0 != h }) else { continue }
            _ = try? Shell.inNamespace(tb.hostNamespace(other), ["ping", "-n", "-q", "-c", "1", "-W", "1", tb.hostAddress(h)], check: false)
        }
    }

    /// Runs `pattern` on the test bed (its switch must be running) and gathers every report.
    /// `progress` gets a line about once a second.
    public static func run(fabric: String, testbed tb: TopologyTestbed, pattern: Pattern, options o: WorkloadOptions,
                           progress: (String) -> Void = { _ in }) throws -> WorkloadResult {
        let pairs = pattern.pairs
        guard !pairs.isEmpty else { throw TestbedError("the pattern has no flows") }
        if let bad = pairs.flatMap({ [$0.from, $0.to] }).first(where: { !(1...tb.hostCount).contains($0) }) {
            throw TestbedError("test bed '\(tb.prefix)' has no host number \(bad); its hosts: \(tb.hostList)")
        }
        resolveNeighbours(tb, hosts: pairs.flatMap { [$0.from, $0.to] })
        var receivers: [(host: Int, child: ChildProcess)] = []
        defer { for r in receivers { r.child.stop(grace: 1) } }
        for h in Array(Set(pairs.map(\.to))).sorted() {
            receivers.append((h, try ChildRun.startReady([fabric, "traffic", "recv", "--netns", tb.hostNamespace(h), "--seconds", "\(o.seconds + 30)",
                                                         "--idle", "1.5", "--json"] + o.reliabilityArguments, what: "the receiver on \(tb.hostName(h))")))
        }
        // Each pair gets its own QP range, so flows stay distinct at every receiver.
        var senders: [(from: Int, to: Int, child: ChildProcess)] = []
        defer { for s in senders { s.child.stop(grace: 1) } }
        // A common start 0.5 s ahead: every sender is up by then, so the pattern starts at once.
        let startAt = monotonicNanoseconds() + 500_000_000
        for (i, p) in pairs.enumerated() {
            var args = [fabric, "traffic", "send", "--netns", tb.hostNamespace(p.from), "--to", tb.hostAddress(p.to),
                        "--qps", "\(o.queuePairs)", "--remote-qp", "\(o.remoteQP(i))", "--message", "\(o.messageBytes)",
                        "--mtu", "\(o.mtu)", "--rate", "\(o.rateGbps)", "--json"] + (tb.hostLinkGbps(p.from).map { ["--link-gbps", "\($0)"] } ?? [])
            args += o.messages > 0 ? ["--messages", "\(o.messages)"] : ["--seconds", "\(o.seconds)"]
            args += ["--start-at", "\(startAt)"]
            senders.append((p.from, p.to, try ChildProcess(args + o.reliabilityArguments + o.extraSenderArguments)))
        }
        let started = Date()
        var reported = 0
        while senders.contains(where: { $0.child.isRunning }) {
            try Interrupt.sleep(0.1)
            let t = Date().timeIntervalSince(started)
            if Int(t) > reported {
                reported = Int(t)
                progress(String(format: "  %d s: %d of %d senders still sending", reported, senders.filter { $0.child.isRunning }.count, senders.count))
            }
            if t > o.seconds + 120 { throw TestbedError("senders did not finish") }
        }
        let sent = try senders.map { s in
            (s.from, s.to, try ChildRun.result(of: s.child, as: SenderReport.self, what: "sender \(tb.hostName(s.from)) -> \(tb.hostName(s.to))", timeout: 5))
        }
        let got = try receivers.map { r in (r.host, try ChildRun.result(of: r.child, as: ReceiverReport.self, what: "receiver \(tb.hostName(r.host))", timeout: 10)) }
        let first = sent.map(\.2.startedAt).min() ?? 0
        let last = sent.map { max($0.2.completedAt, $0.2.startedAt) }.max() ?? 0
        return WorkloadResult(senders: sent.map { ($0.0, $0.1, $0.2) }, receivers: got.map { ($0.0, $0.1) },
                              completionSeconds: Double(last &- first) / 1e9, hostNames: (1...tb.hostCount).map(tb.hostName))
    }
}
