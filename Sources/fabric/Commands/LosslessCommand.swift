import ArgumentParser
import FabricConfig
import FabricCore
import FabricLab
import Foundation

/// `fabric lossless`: the lossless-Ethernet experiment on its own test bed, three runs (PFC on,
/// PFC on with DCQCN senders, PFC off), one table, torn down afterwards (also on Ctrl-C).
struct LosslessCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "lossless",
        abstract: "Incast of lossless RoCEv2 into a slow port with PFC on, PFC + DCQCN, PFC off: losses, pauses, buffers, reaction time.")

    @Option(help: "Hosts sending into one more host.") var senders: Int = 3
    @Option(help: "Emulated speed of the receiver's switch port (200M, 1G).") var bottleneck: String = "200M"
    @Option(help: "Each sender's rate, Gb/s.") var rate: Double = 0.25
    @Option(help: "Seconds per run.") var seconds: Double = 3
    @Option(help: "Queue pairs per sender (each may have 1024 packets unacknowledged).") var qps: Int = 2
    @Option(help: "Stop the switch process (SIGSTOP) for this long halfway through each run, then continue it (100ms): a worker held off the CPU.")
    var stall: String?
    @Option(help: "The switch's stall budget (buffers.stall_budget; default 100ms; 0ms: rx rings of 2048 frames and no stall headroom).")
    var stallBudget: String?
    @Option(help: "Name prefix of the test bed's namespaces.") var prefix: String = "sfll"
    @Option(help: "Also write the results as JSON to this file.") var json: String?

    func validate() throws {
        guard (1...16).contains(senders) else { throw ValidationError("--senders must be 1...16") }
        _ = try unit("--bottleneck") { () throws(UnitError) in try Units.gbps(bottleneck) }
        guard (1...64).contains(qps) else { throw ValidationError("--qps must be 1...64") }
        if let s = stall {
            let ns = try unit("--stall") { () throws(UnitError) in try Units.nanoseconds(s) }
            guard ns > 0 && ns <= 10_000_000_000 else { throw ValidationError("--stall must be above 0 and at most 10s") }
        }
        if let s = stallBudget {
            let ns = try unit("--stall-budget") { () throws(UnitError) in try Units.nanoseconds(s) }
            guard ns <= 10_000_000_000 else { throw ValidationError("--stall-budget must be at most 10s") }
        }
    }

    func run() throws {
        try requireRoot("fabric lossless")
        let tb = TopologyTestbed.star(prefix: prefix, hosts: senders + 1, routed: true)
        var lab = LosslessIncast(testbed: tb, launcher: switchLauncher())
        lab.senders = senders
        lab.bottleneckGbps = try Units.gbps(bottleneck)
        lab.senderGbps = rate
        lab.seconds = seconds
        lab.queuePairs = qps
        if let s = stall { lab.stallNanoseconds = try Units.nanoseconds(s) }
        if let s = stallBudget { lab.stallBudgetNanoseconds = try Units.nanoseconds(s) }
        print("== test bed '\(prefix)': h1...h\(senders) send \(rate) Gb/s each of RoCEv2 (DSCP 26, lossless TC3) into h\(senders + 1), "
              + "whose switch port runs at \(bottleneck); \(seconds) s per run"
              + (stall.map { "; the switch is stopped for \($0) halfway through each run" } ?? ""))
        fflush(nil)
        var results: [LosslessIncast.Result] = []
        try interruptible("fabric lossless") {
            try tb.up()
            defer { tb.down(); print("== test bed '\(prefix)' removed") }
            for (pfc, cc) in [(true, "none"), (true, "dcqcn"), (false, "none")] {
                print("== run: PFC \(pfc ? "on" : "off"), sender congestion control \(cc)")
                fflush(nil)
                results.append(try lab.run(pfc: pfc, cc: cc))
            }
        }
        print("")
        print(LosslessIncast.table(results), terminator: "")
        let on = results[0], off = results[2]
        let headroom = on.report.ports.prefix(senders).map { $0.pgHeadroomWatermark[3] }.max() ?? 0
        print("""

            PFC on:  \(on.workload.lost) lost of \(on.workload.sentPackets); \(on.pfcSent) PFC frames sent, \(on.pausesAtSenders) honoured by the senders
                     XOFF reaction (PG refused by the pool -> XOFF handed to the kernel): mean \(String(format: "%.1f", on.reactionMeanMicroseconds)) us, max \(String(format: "%.1f", on.reactionMaxMicroseconds)) us
                     peak PG occupancy \(on.peakPG) B, of it headroom \(headroom) B (limit \(lab.config(pfc: true).buffers.headroom(speedGbps: nil)) B per PG); shared pool peak \(on.report.buffer.watermarkBytes) of \(on.report.buffer.poolBytes) B
            PFC off: \(off.workload.lost) lost of \(off.workload.sentPackets) (\(off.switchDrops) dropped and counted by the switch)
            goodput at the bottleneck: \(String(format: "%.3f", on.goodputGbps)) Gb/s with PFC, \(String(format: "%.3f", off.goodputGbps)) Gb/s without
            """)
        if let path = json {
            try writeJSON(results.map(\.summary), to: path)
            print("results: \(path)")
        }
    }
}

/// Encodes `value` (pretty, keys sorted) into `path`.
func writeJSON<T: Encodable>(_ value: T, to path: String) throws {
    let e = JSONEncoder()
    e.outputFormatting = [.prettyPrinted, .sortedKeys]
    try e.encode(value).write(to: URL(fileURLWithPath: path))
}
