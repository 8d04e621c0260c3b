// Collectives with real dependencies, timed to completion. A ring collective runs one
// `fabric traffic rank` per host (an RC requester to the next rank and a responder for the
// previous one in one process): in each step every rank sends one chunk to the next, and sends
// step k+1's chunk only once it has received step k's. All-to-all is one step: every rank sends
// its chunk for every other rank at once (`Workload`). The job completion time (JCT) runs from
// the first packet of any rank to the last acknowledgement any rank received: the last byte
// delivered and acknowledged.
import FabricSystem
import FabricTraffic
import Foundation

public enum CollectivePattern: String, Sendable, CaseIterable, Codable {
    /// 2(N-1) steps of buffer/N bytes around the ring (reduce-scatter, then all-gather).
    case ringAllreduce = "ring-allreduce"
    /// N-1 steps of buffer/N bytes around the ring.
    case allGather = "all-gather"
    /// One step: buffer/N bytes from every rank to every other.
    case allToAll = "all-to-all"

    /// Steps for `ranks` ranks.
    public func steps(ranks n: Int) -> Int {
        switch self {
        case .ringAllreduce: 2 * (n - 1)
        case .allGather: n - 1
        case .allToAll: 1
        }
    }
}

/// What one rank of a ring collective reports (`fabric traffic rank --json`).
public struct RankReport: Codable, Sendable {
    public var sender: SenderReport
    public var receiver: ReceiverReport
    public init(sender: SenderReport, receiver: ReceiverReport) {
        self.sender = sender
        self.receiver = receiver
    }
}

public struct CollectiveOptions: Sendable {
    public var pattern = CollectivePattern.ringAllreduce
    /// Each rank's buffer: a step's chunk is buffer / ranks (split over `queuePairs`).
    public var bufferBytes = 4 << 20
    public var queuePairs = 1
    public var mtu = 1024
    public var rateGbps = 0.0
    /// `--cc` and the RC options (`--transport`...), for every rank.
    public var cc = "none"
    public var reliabilityArguments: [String] = []
    public var corruptEvery = 0
    /// First remote QPN of ring edge i (rank i -> rank i+1); default 0x1000 + 0x100 x i. The
    /// QPs decide the UDP source ports, and so the ECMP hash.
    public var remoteQPs: [Int: UInt32] = [:]
    /// Called once with the common start time (monotonic ns) when every rank is ready (a
    /// failure to inject at a moment of the run, on a thread of its own).
    public var onStart: (@Sendable (UInt64) -> Void)?
    public init() {}

    public func remoteQP(_ edge: Int) -> UInt32 { remoteQPs[edge] ?? UInt32(0x1000 + edge * 0x100) }
    /// Bytes per QP per step.
    public func messageBytes(ranks: Int) -> Int { max(1, bufferBytes / ranks / queuePairs) }
}

public struct CollectiveResult: Sendable, Encodable {
    public struct Step: Sendable, Encodable {
        public var step: Int
        public var startSeconds: Double
        public var endSeconds: Double
    }
    public struct Flow: Sendable, Encodable {
        public var from: String
        public var to: String
        public var qp: UInt32
    }
    public var pattern: String
    public var ranks: [String]
    public var jctSeconds: Double
    public var steps: [Step]
    public var messagesSent: UInt64
    public var messagesCompleted: UInt64
    public var retransmittedPackets: UInt64
    public var naksReceived: UInt64
    public var timeouts: UInt64
    /// First transmissions that never arrived (repaired by RC), first transmissions that
    /// arrived after a later one, and what the receiving hosts' sockets dropped.
    public var lost: UInt64
    public var reorderedPackets: UInt64
    public var hostDrops: UInt64
    public var failedQueuePairs: Int
    public var flows: [Flow]

    /// A line a network engineer reads.
    public var summary: String {
        String(format: "%@ over %d ranks: JCT %.3f ms, %d steps, %llu of %llu messages completed, %llu packets resent (%llu NAKs, %llu timeouts), lost %llu, reordered %llu",
               pattern, ranks.count, jctSeconds * 1000, steps.count, messagesCompleted, messagesSent, retransmittedPackets, naksReceived, timeouts,
               lost, reorderedPackets) + (failedQueuePairs > 0 ? "; \(failedQueuePairs) QPs FAILED" : "")
    }

    public var timeline: String {
        steps.map { String(format: "  step %2d: %8.3f -> %8.3f ms (%.3f ms)", $0.step, $0.startSeconds * 1000, $0.endSeconds * 1000,
                           ($0.endSeconds - $0.startSeconds) * 1000) }.joined(separator: "\n")
    }
}

public enum Collective {
    /// Runs `o.pattern` over `ranks` (host numbers, in ring order) on the test bed (its switches
    /// running) and gathers every rank's report.
    public static func run(fabric: String, testbed tb: TopologyTestbed, ranks: [Int], options o: CollectiveOptions) throws -> CollectiveResult {
        guard ranks.count >= 2, Set(ranks).count == ranks.count else { throw TestbedError("a collective needs at least 2 distinct ranks") }
        if let bad = ranks.first(where: { !(1...tb.hostCount).contains($0) }) {
            throw TestbedError("test bed '\(tb.prefix)' has hosts \(tb.hostName(1))...\(tb.hostName(tb.hostCount)), not host \(bad)")
        }
        let names = ranks.map(tb.hostName)
        if o.pattern == .allToAll { return try allToAll(fabric: fabric, testbed: tb, ranks: ranks, names: names, options: o) }
        Workload.resolveNeighbours(tb, hosts: ranks)
        let n = ranks.count
        let steps = o.pattern.steps(ranks: n)
        // The common start: written once every rank is ready (their sockets open).
        let startFile = NSTemporaryDirectory() + "fabric-collective-\(getpid())-\(UUID().uuidString.prefix(8))"
        defer { try? FileManager.default.removeItem(atPath: startFile) }
        var children: [ChildProcess] = []
        defer { for c in children { c.stop(grace: 1) } }
        for (i, h) in ranks.enumerated() {
            let next = ranks[(i + 1) % n]
            var args = [fabric, "traffic", "rank", "--netns", tb.hostNamespace(h), "--interface", tb.hostInterface(h), "--to", tb.hostAddress(next),
                        "--steps", "\(steps)", "--qps", "\(o.queuePairs)", "--message", "\(o.messageBytes(ranks: n))", "--mtu", "\(o.mtu)",
                        "--rate", "\(o.rateGbps)", "--remote-qp", "\(o.remoteQP(i))", "--cc", o.cc, "--start-file", startFile, "--json"]
            if o.corruptEvery > 0 { args += ["--corrupt-every", "\(o.corruptEvery)"] }
            children.append(try ChildRun.startReady(args + o.reliabilityArguments, what: "rank \(names[i])"))
        }
        let startAt = monotonicNanoseconds() + 50_000_000
        try "\(startAt)\n".write(toFile: startFile, atomically: true, encoding: .utf8)
        o.onStart?(startAt)
        let reports = try gather(children, names: names, timeout: 180)
        let senders = reports.map(\.sender)
        let start = senders.map(\.startedAt).filter { $0 > 0 }.min() ?? 0
        func seconds(_ t: UInt64) -> Double { t > start ? Double(t - start) / 1e9 : 0 }
        let q = o.queuePairs
        let timeline = (0..<steps).map { s -> CollectiveResult.Step in
            let started = senders.flatMap { r in (s * q..<(s + 1) * q).compactMap { $0 < r.messageStartedAt.count ? r.messageStartedAt[$0] : nil } }
            let ended = senders.flatMap { r in (s * q..<(s + 1) * q).compactMap { $0 < r.messageCompletedAt.count ? r.messageCompletedAt[$0] : nil } }
            return .init(step: s, startSeconds: seconds(started.filter { $0 > 0 }.min() ?? 0), endSeconds: seconds(ended.max() ?? 0))
        }
        let flows = ranks.indices.flatMap { i in
            (0..<q).map { k in CollectiveResult.Flow(from: names[i], to: names[(i + 1) % n], qp: o.remoteQP(i) + UInt32(k)) }
        }
        return CollectiveResult(pattern: o.pattern.rawValue, ranks: names, jctSeconds: seconds(senders.map(\.completedAt).max() ?? 0), steps: timeline,
                                messagesSent: senders.reduce(0) { $0 + $1.messages }, messagesCompleted: senders.reduce(0) { $0 + $1.messagesCompleted },
                                retransmittedPackets: senders.reduce(0) { $0 + $1.retransmittedPackets }, naksReceived: senders.reduce(0) { $0 + $1.naksReceived },
                                timeouts: senders.reduce(0) { $0 + $1.timeouts }, lost: reports.reduce(0) { $0 + $1.receiver.lost },
                                reorderedPackets: reports.reduce(0) { $0 + $1.receiver.reordered }, hostDrops: reports.reduce(0) { $0 + $1.receiver.hostDrops },
                                failedQueuePairs: senders.reduce(0) { $0 + $1.failedQueuePairs }, flows: flows)
    }

    /// Every rank's report. A rank whose QP exhausted its retries ends at once (the ring cannot
    /// complete past it); the others are then stopped (SIGINT) and report what they did, so a
    /// failed collective ends in seconds, not at the time limit.
    static func gather(_ children: [ChildProcess], names: [String], timeout: Double) throws -> [RankReport] {
        var reports = [RankReport?](repeating: nil, count: children.count)
        let deadline = Date().addingTimeInterval(timeout)
        var stopping = false
        while reports.contains(where: { $0 == nil }) {
            try Interrupt.check()
            for (i, c) in children.enumerated() where reports[i] == nil && c.wait(timeout: 0) != nil {
                let r = try ChildRun.decodeLast(RankReport.self, from: c.output, what: "rank \(names[i])")
                reports[i] = r
                if r.sender.failedQueuePairs > 0 && !stopping {
                    stopping = true
                    for (j, other) in children.enumerated() where reports[j] == nil { other.signal(SIGINT) }
                }
            }
            guard Date() < deadline else {
                let late = reports.indices.filter { reports[$0] == nil }.map { names[$0] }
                throw TestbedError("ranks \(late.joined(separator: ", ")) did not finish within \(Int(timeout)) s")
            }
            usleep(10_000)
        }
        return reports.map { $0! }
    }

    /// All-to-all: every rank's chunk for every other rank at once, one message per QP.
    static func allToAll(fabric: String, testbed tb: TopologyTestbed, ranks: [Int], names: [String], options o: CollectiveOptions) throws -> CollectiveResult {
        var w = WorkloadOptions()
        w.messages = o.queuePairs
        w.queuePairs = o.queuePairs
        w.messageBytes = o.messageBytes(ranks: ranks.count)
        w.mtu = o.mtu
        w.rateGbps = o.rateGbps
        w.extraSenderArguments = ["--cc", o.cc] + (o.corruptEvery > 0 ? ["--corrupt-every", "\(o.corruptEvery)"] : [])
        w.reliabilityArguments = o.reliabilityArguments
        w.remoteQPs = o.remoteQPs
        let pattern = Pattern.allToAll(hosts: ranks)
        let r = try Workload.run(fabric: fabric, testbed: tb, pattern: pattern, options: w)
        let flows = pattern.pairs.enumerated().flatMap { i, p in
            (0..<o.queuePairs).map { k in CollectiveResult.Flow(from: tb.hostName(p.from), to: tb.hostName(p.to), qp: w.remoteQP(i) + UInt32(k)) }
        }
        return CollectiveResult(pattern: o.pattern.rawValue, ranks: names, jctSeconds: r.completionSeconds,
                                steps: [.init(step: 0, startSeconds: 0, endSeconds: r.completionSeconds)],
                                messagesSent: r.messagesSent, messagesCompleted: r.messagesCompleted, retransmittedPackets: r.retransmittedPackets,
                                naksReceived: r.senders.reduce(0) { $0 + $1.report.naksReceived }, timeouts: r.senders.reduce(0) { $0 + $1.report.timeouts },
                                lost: r.lost, reorderedPackets: r.reordered, hostDrops: r.hostDrops, failedQueuePairs: r.failedQueuePairs, flows: flows)
    }
}
