import FabricIO
import FabricSystem
import FabricTelemetry
import FabricXDP
import FabricTraffic
import Foundation

/// The lossless-Ethernet experiment: N hosts send RoCEv2 (DSCP 26, the lossless class) into
/// one host whose switch port runs at a fraction of their combined rate, through a switch
/// configured with PFC on or off, with or without the senders' DCQCN. What users of a fabric
/// ask of it: does the lossless class lose anything, does PFC reach the senders, how fast does
/// the switch react, how full do its buffers get, what goodput is left at the bottleneck.
public struct LosslessIncast {
    public var testbed: Testbed
    public var fabric: String
    /// Hosts 1...senders send into host senders+1.
    public var senders = 3
    public var bottleneck = "200M"
    public var senderGbps = 0.25
    public var seconds = 3.0
    public var switchArguments: [String] = []

    public struct Result: Sendable {
        public var pfc: Bool
        public var cc: String
        public var workload: WorkloadResult
        public var report: SwitchReport
        /// Frames the switch dropped or its sockets lost, all reasons.
        public var switchDrops: UInt64 { report.ports.reduce(0) { $0 + $1.dropsTotal + $1.socket.frames } }
        /// "port:reason=count" for every drop the switch counted.
        public var dropReasons: [String] {
            report.ports.flatMap { p in
                var all = p.drops.filter { $0.value > 0 }
                if p.socket.rxRingFull > 0 { all["socket_rx_ring_full"] = p.socket.rxRingFull }
                if p.socket.rxDropped > 0 { all["socket_rx_dropped"] = p.socket.rxDropped }
                return all.sorted { $0.key < $1.key }.map { "\(p.name):\($0.key)=\($0.value)" }
            }
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
    }

    public init(testbed: Testbed, fabric: String) {
        self.testbed = testbed
        self.fabric = fabric
    }

    /// The switch configuration: the test bed's router, the receiver's port at `bottleneck`,
    /// PFC on priority 3 (the default QoS profile) or no lossless class at all.
    public func config(pfc: Bool) -> String {
        let tb = testbed
        var yaml = tb.switchConfigYAML()
        let r = senders + 1
        yaml = yaml.replacingOccurrences(of: "addresses: [\(tb.gatewayAddress(r))/24",
                                         with: "speed: \(bottleneck)\n    addresses: [\(tb.gatewayAddress(r))/24")
        if !pfc { yaml += "qos: {lossless_tcs: []}\n" }
        return yaml
    }

    /// One run on the (already up) test bed: starts the switch, runs the incast, stops the
    /// switch and returns what both sides counted. `alongside` (e.g. a packet capture that
    /// ends by itself) runs while the traffic flows and is stopped after it.
    public func run(pfc: Bool, cc: String, alongside: [String]? = nil) throws -> Result {
        let tag = "\(getpid())-\(UUID().uuidString.prefix(6))"
        let configFile = NSTemporaryDirectory() + "fabric-incast-\(tag).yaml"
        let statsFile = NSTemporaryDirectory() + "fabric-incast-\(tag).json"
        defer {
            try? FileManager.default.removeItem(atPath: configFile)
            try? FileManager.default.removeItem(atPath: statsFile)
        }
        try config(pfc: pfc).write(toFile: configFile, atomically: true, encoding: .utf8)
        let sw = try SwitchProcess.start(fabric: fabric, testbed: testbed, statsFile: statsFile,
                                         extra: ["--queue-capacity", "8192"] + switchArguments, config: configFile)
        defer { sw.child.stop() }
        var o = WorkloadOptions()
        o.seconds = seconds
        o.rateGbps = senderGbps
        o.messageBytes = 16384
        o.extraSenderArguments = ["--cc", cc]
        let side = try alongside.map { try ChildProcess($0) }
        defer { side?.stop(grace: 2) }
        let w = try Workload.run(fabric: fabric, testbed: testbed, pattern: .incast(to: senders + 1, from: Array(1...senders)), options: o)
        _ = side?.wait(timeout: 5)
        guard sw.child.stop() == 0 else { throw TestbedError("the switch did not stop cleanly:\n\(sw.child.output.suffix(2000))") }
        return Result(pfc: pfc, cc: cc, workload: w, report: try StatsFile.read(statsFile))
    }

    /// One line per run, for people.
    public static func table(_ results: [Result]) -> String {
        func f(_ v: Double, _ d: Int = 3) -> String { String(format: "%.\(d)f", v) }
        var out = "| PFC | sender CC | sent | received | lost | switch drops | PFC sent | pauses at senders | ECN marks | goodput Gb/s | peak PG B | peak headroom B | XOFF reaction mean/max us | rx ring peak | switch stall ms | senders behind ms |\n"
        out += "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|\n"
        for r in results {
            out += "| \(r.pfc ? "on" : "off") | \(r.cc) | \(r.workload.sentPackets) | \(r.workload.receivedPackets) | \(r.workload.lost) | "
                + "\(r.switchDrops) | \(r.pfcSent) | \(r.pausesAtSenders) | \(r.ecnMarks) | \(f(r.goodputGbps)) | \(r.peakPG) | \(r.peakHeadroom) | "
                + "\(f(r.reactionMeanMicroseconds, 1)) / \(f(r.reactionMaxMicroseconds, 1)) | \(r.rxRingPeak) | "
                + "\(f(r.report.loop.longestStallMicroseconds / 1000, 1)) | \(f(r.sendersBehindMicroseconds / 1000, 1)) |\n"
        }
        for r in results where r.switchDrops > 0 {
            out += "\nPFC \(r.pfc ? "on" : "off"), \(r.cc): switch drops by reason: \(r.dropReasons.joined(separator: " "))"
        }
        return out + "\n"
    }
}
