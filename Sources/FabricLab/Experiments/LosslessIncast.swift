import FabricConfig
import FabricCore
import FabricSystem
import FabricTelemetry
import FabricTraffic
import Foundation

/// The lossless-Ethernet experiment: N hosts send RoCEv2 (DSCP 26, the lossless class) into
/// one host whose switch port runs at a fraction of their combined rate, through a switch
/// configured with PFC on or off, with or without the senders' DCQCN. What users of a fabric
/// ask of it: does the lossless class lose anything, does PFC reach the senders, how fast does
/// the switch react, how full do its buffers get, what goodput is left at the bottleneck.
public struct LosslessIncast {
    /// A routed star with at least `senders + 1` hosts.
    public var testbed: TopologyTestbed
    /// Starts the switch.
    public var launcher: SwitchLauncher
    /// Hosts 1...senders send into host senders+1.
    public var senders = 3
    /// The receiver's switch port, emulated at this rate.
    public var bottleneckGbps = 0.2
    public var senderGbps = 0.25
    public var seconds = 3.0
    /// Queue pairs per sender: each may have `ReliabilityParameters.windowPackets` (1024)
    /// packets unacknowledged, so a sender has at most queuePairs x 1024 in flight.
    public var queuePairs = 2
    /// Stop the switch process (SIGSTOP) for this long halfway through the run, then let it
    /// go on (SIGCONT): a worker held off the CPU, as on a loaded machine (0: no stall).
    public var stallNanoseconds: UInt64 = 0
    /// The switch's `buffers.stall_budget` (nil: its default).
    public var stallBudgetNanoseconds: UInt64?

    public struct Result: Sendable {
        public var pfc: Bool
        public var cc: String
        public var workload: WorkloadResult
        public var report: SwitchReport
        /// How long the switch was stopped (SIGSTOP to SIGCONT), 0 without a stall.
        public var stoppedNanoseconds: UInt64 = 0
        /// Frames the switch dropped or its sockets lost, all reasons.
        public var switchDrops: UInt64 { report.ports.reduce(0) { $0 + $1.dropsTotal + $1.socket.frames } }
        /// "port:reason" -> count, for every drop the switch counted.
        public var dropReasons: [String: UInt64] {
            var out: [String: UInt64] = [:]
            for p in report.ports {
                var all = p.drops.filter { $0.value > 0 }
                if p.socket.rxRingFull > 0 { all["socket_rx_ring_full"] = p.socket.rxRingFull }
                if p.socket.rxDropped > 0 { all["socket_rx_dropped"] = p.socket.rxDropped }
                for (reason, n) in all { out["\(p.name):\(reason)"] = n }
            }
            return out
        }
        /// The most frames that waited, unclassified, in one port's socket rx ring.
        public var rxRingPeak: UInt64 { report.ports.map(\.socket.rxRingPeak).max() ?? 0 }
        /// Time the senders spent behind their pacing schedule (descheduled), summed.
        public var sendersBehindMicroseconds: Double { workload.senders.reduce(0) { $0 + $1.report.behindScheduleMicroseconds } }
        public var pfcSent: UInt64 { report.ports.reduce(0) { $0 + $1.pfcTx.reduce(0, +) } }
        public var pausesAtSenders: UInt64 { workload.senders.reduce(0) { $0 + $1.report.pauseFrames } }
        public var goodputGbps: Double { workload.receivers.first?.report.goodputGbps ?? 0 }
        public var ecnMarks: UInt64 { report.ports.reduce(0) { $0 + $1.queues.reduce(0) { $0 + $1.ecnMarked } } }
        /// The ingress PGs' peak occupancy and headroom use, over the senders' ports.
        public var peakPG: UInt64 { report.ports.map { $0.pgWatermark.max() ?? 0 }.max() ?? 0 }
        public var peakHeadroom: UInt64 { report.ports.map { $0.pgHeadroomWatermark.max() ?? 0 }.max() ?? 0 }
        public var reactionMeanMicroseconds: Double {
            let r = report.ports.map(\.pfcReaction).filter { $0.count > 0 }
            let n = r.reduce(0) { $0 + $1.count }
            return n == 0 ? 0 : r.reduce(0) { $0 + $1.meanMicroseconds * Double($1.count) } / Double(n)
        }
        public var reactionMaxMicroseconds: Double { report.ports.map(\.pfcReaction.maxMicroseconds).max() ?? 0 }

        public var summary: Summary {
            Summary(pfc: pfc, cc: cc, sent: workload.sentPackets, received: workload.receivedPackets, lost: workload.lost,
                    hostDrops: workload.hostDrops, retransmitted: workload.retransmittedPackets,
                    ackTimeouts: workload.senders.reduce(0) { $0 + $1.report.timeouts }, naks: workload.senders.reduce(0) { $0 + $1.report.naksReceived },
                    switchDrops: switchDrops, pfcSent: pfcSent, pausesAtSenders: pausesAtSenders, ecnMarks: ecnMarks, goodputGbps: goodputGbps,
                    peakPGBytes: peakPG, peakHeadroomBytes: peakHeadroom, reactionMeanMicroseconds: reactionMeanMicroseconds,
                    reactionMaxMicroseconds: reactionMaxMicroseconds, rxRingPeak: rxRingPeak,
                    switchStallMicroseconds: report.loop.longestStallMicroseconds, sendersBehindMicroseconds: sendersBehindMicroseconds,
                    stoppedMicroseconds: Double(stoppedNanoseconds) / 1000, dropReasons: dropReasons)
        }
    }

    /// One run's numbers (`fabric lossless --json`; each number a JSON number).
    public struct Summary: Codable, Sendable, Equatable {
        public var pfc: Bool
        public var cc: String
        public var sent: UInt64
        public var received: UInt64
        public var lost: UInt64
        /// Of `lost`, frames the receiving host's socket dropped (it fell behind), and the
        /// packets RC resent.
        public var hostDrops: UInt64
        public var retransmitted: UInt64
        /// Why RC resent: local ACK timeouts (no acknowledgement for 268 ms: nothing lost, but
        /// some end held off the CPU that long, or the queue ahead that deep) and NAKs (a gap).
        public var ackTimeouts: UInt64
        public var naks: UInt64
        public var switchDrops: UInt64
        public var pfcSent: UInt64
        public var pausesAtSenders: UInt64
        public var ecnMarks: UInt64
        public var goodputGbps: Double
        public var peakPGBytes: UInt64
        public var peakHeadroomBytes: UInt64
        public var reactionMeanMicroseconds: Double
        public var reactionMaxMicroseconds: Double
        public var rxRingPeak: UInt64
        /// The switch's longest stall (not polling, not asleep).
        public var switchStallMicroseconds: Double
        public var sendersBehindMicroseconds: Double
        /// How long the experiment held the switch stopped (`stallNanoseconds`; 0: not).
        public var stoppedMicroseconds: Double
        /// "port:reason" -> frames.
        public var dropReasons: [String: UInt64]
    }

    public init(testbed: TopologyTestbed, launcher: SwitchLauncher) {
        self.testbed = testbed
        self.launcher = launcher
    }

    /// The switch configuration: the test bed's router, the receiver's port at `bottleneckGbps`,
    /// PFC on priority 3 (the default QoS profile) or no lossless class at all.
    public func config(pfc: Bool) -> SwitchConfig {
        var c = testbed.switchConfig()
        let receiverPort = testbed.plan.hosts[senders].switchPort
        for i in c.ports.indices where c.ports[i].name == receiverPort { c.ports[i].speedGbps = bottleneckGbps }
        if !pfc { c.qos.losslessTCs = 0 }
        if let t = stallBudgetNanoseconds { c.buffers.stallBudgetNanoseconds = t }
        return c
    }

    /// One run on the (already up) test bed: starts the switch, runs the incast, stops the
    /// switch and returns what both sides counted. `alongside` (e.g. a packet capture that
    /// ends by itself) runs while the traffic flows and is stopped after it.
    /// `switchArguments`: more `fabric switch` options (e.g. `--record FILE`).
    public func run(pfc: Bool, cc: String, alongside: [String]? = nil, switchArguments: [String] = []) throws -> Result {
        let tag = "\(getpid())-\(UUID().uuidString.prefix(6))"
        let configFile = NSTemporaryDirectory() + "fabric-incast-\(tag).yaml"
        let statsFile = NSTemporaryDirectory() + "fabric-incast-\(tag).json"
        defer {
            try? FileManager.default.removeItem(atPath: configFile)
            try? FileManager.default.removeItem(atPath: statsFile)
        }
        try SwitchConfigYAML.write(config(pfc: pfc), to: configFile, header: "fabric lossless: PFC \(pfc ? "on" : "off")")
        // Lossless queues hold whatever their PGs may admit; with PFC off the class is lossy,
        // and 8192 frames let its ingress PGs, not the egress queue, decide the drops.
        let sw = try launcher.start(.init(namespace: testbed.switchNamespace, config: configFile, statsFile: statsFile,
                                          arguments: ["--queue-capacity", "8192"] + switchArguments))
        defer { sw.stop() }
        var o = WorkloadOptions()
        o.seconds = seconds
        o.rateGbps = senderGbps
        o.messageBytes = 16384
        o.queuePairs = queuePairs
        o.extraSenderArguments = ["--cc", cc]
        let side = try alongside.map { try ChildProcess($0) }
        defer { side?.stop(grace: 2) }
        // The senders start 0.5 s after the workload does: the stall comes halfway through.
        let stall = stallNanoseconds > 0 ? SwitchStall(pid: sw.child.pid, after: 0.5 + seconds / 2, for: stallNanoseconds) : nil
        defer { stall?.finish() }
        let w = try Workload.run(fabric: launcher.fabric, testbed: testbed, pattern: .incast(to: senders + 1, from: Array(1...senders)), options: o)
        _ = side?.wait(timeout: 5)
        let stopped = stall?.finish() ?? 0
        return Result(pfc: pfc, cc: cc, workload: w, report: try sw.stopAndReport(), stoppedNanoseconds: stopped)
    }

    /// One line per run, for people.
    public static func table(_ results: [Result]) -> String {
        func f(_ v: Double, _ d: Int = 3) -> String { String(format: "%.\(d)f", v) }
        let stalls = results.contains { $0.stoppedNanoseconds > 0 }
        var out = "| PFC | sender CC | sent | received | lost (receiver host drops) | resent (ACK timeouts, NAKs) | switch drops | PFC sent | pauses at senders | ECN marks | goodput Gb/s | peak PG B | peak headroom B | XOFF reaction mean/max us | rx ring peak | switch stall ms | senders behind ms |"
            + (stalls ? " stopped ms |\n" : "\n")
        out += "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|" + (stalls ? "---|\n" : "\n")
        for s in results.map(\.summary) {
            out += "| \(s.pfc ? "on" : "off") | \(s.cc) | \(s.sent) | \(s.received) | \(s.lost) (\(s.hostDrops)) | \(s.retransmitted) (\(s.ackTimeouts), \(s.naks)) | \(s.switchDrops) | \(s.pfcSent) | \(s.pausesAtSenders) | "
                + "\(s.ecnMarks) | \(f(s.goodputGbps)) | \(s.peakPGBytes) | \(s.peakHeadroomBytes) | "
                + "\(f(s.reactionMeanMicroseconds, 1)) / \(f(s.reactionMaxMicroseconds, 1)) | \(s.rxRingPeak) | "
                + "\(f(s.switchStallMicroseconds / 1000, 1)) | \(f(s.sendersBehindMicroseconds / 1000, 1)) |"
                + (stalls ? " \(f(s.stoppedMicroseconds / 1000, 1)) |\n" : "\n")
        }
        for s in results.map(\.summary) where s.switchDrops > 0 {
            out += "\nPFC \(s.pfc ? "on" : "off"), \(s.cc): switch drops by reason: " + s.dropReasons.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: " ")
        }
        return out + "\n"
    }
}

/// Holds a process stopped for a while, from a thread of its own: SIGSTOP `after` seconds from
/// now, SIGCONT `for` nanoseconds later. `finish` waits for it (and sends SIGCONT whatever
/// happened, so the process is never left stopped) and returns how long it was stopped.
final class SwitchStall: @unchecked Sendable {
    let pid: Int32
    private let done = DispatchSemaphore(value: 0)
    private let lock = NSLock()
    private var cancelled = false
    private var stopped: UInt64 = 0
    private var finished = false

    init(pid: Int32, after seconds: Double, for nanoseconds: UInt64) {
        self.pid = pid
        let thread = Thread { [self] in
            let start = monotonicNanoseconds() + UInt64(seconds * 1e9)
            while monotonicNanoseconds() < start {
                if lock.withLock({ cancelled }) { break }
                usleep(1_000)
            }
            if !lock.withLock({ cancelled }) {
                let t0 = monotonicNanoseconds()
                kill(pid, SIGSTOP)
                let end = t0 + nanoseconds
                while case let now = monotonicNanoseconds(), now < end {
                    let left = end - now
                    var ts = timespec(tv_sec: Int(left / 1_000_000_000), tv_nsec: Int(left % 1_000_000_000))
                    _ = nanosleep(&ts, nil)
                }
                kill(pid, SIGCONT)
                let t = monotonicNanoseconds() - t0
                lock.withLock { stopped = t }
            }
            done.signal()
        }
        thread.start()
    }

    /// Waits for the stall to end (cancels one that has not begun) and returns how long the
    /// process was stopped. Call it before the process is reaped; later calls do nothing.
    @discardableResult
    func finish() -> UInt64 {
        let first = lock.withLock { () -> Bool in
            defer { finished = true; cancelled = true }
            return !finished
        }
        if first {
            done.wait()
            kill(pid, SIGCONT)   // still our child (not yet reaped): the pid is its own
        }
        return lock.withLock { stopped }
    }
}
