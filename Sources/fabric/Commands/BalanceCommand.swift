import ArgumentParser
import FabricConfig
import FabricCore
import FabricLab
import Foundation

/// `fabric balance`: the collision experiment on the leaf-spine test bed: a ring collective
/// whose flows all cross the spines, under each load-balancing mode and each draw of QP
/// numbers (what ECMP hashes), timed to completion against the ideal. Torn down afterwards
/// (also on Ctrl-C).
struct BalanceCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "balance",
        abstract: "The ECMP collision tax: a ring all-reduce across the leaves under ecmp and flowlet (and spray), JCT per seed against the ideal.",
        discussion: """
            Default scenario: 2 spines, 2 leaves of 4 hosts, ranks h1,h5,h2,h6,h3,h7,h4,h8 (every ring edge crosses \
            the spines: 4 flows leave each leaf over its 2 uplinks), 1 QP per edge, uplinks at 100 Mb/s (the \
            bottleneck; host links unshaped). A seed is a draw of QP numbers, so of UDP source ports, so of ECMP's \
            hash; --colliding picks QPs that ECMP puts all on one uplink per leaf.
            """)

    @Option(help: "A topology file (default: 2 spines, 2 leaves, --hosts-per-leaf hosts each).") var topology: String?
    @Option(help: "Hosts per leaf of the default leaf-spine.") var hostsPerLeaf: Int = 4
    @Option(help: "Emulated speed of every leaf-spine link (100M, 1G).") var uplinkSpeed: String = "100M"
    @Option(help: "The switches' flowlet idle timer (the default leaf-spine's; a topology file says its own). 20 ms: above the one-way delay spread of this lab's software switches on 2 shared cores (13-22 ms p99 measured).") var flowletIdle: String = "20ms"
    @Option(help: "ring-allreduce, all-gather or all-to-all.") var pattern: String = "ring-allreduce"
    @Option(help: "Each rank's buffer (a step's chunk is buffer / ranks).") var buffer: String = "2MB"
    @Option(help: "Queue pairs per ring edge.") var qps: Int = 1
    @Option(help: "Draws of QP numbers (hash outcomes), 0..K-1.") var seeds: Int = 4
    @Flag(help: "One draw only: QPs ECMP hashes all onto one uplink per leaf (the worst case; what CI runs).") var colliding = false
    @Option(help: "Modes to compare, comma-separated.") var modes: String = "ecmp,flowlet"
    @Option(help: "Congestion control: none or dcqcn (from --rate).") var cc: String = "none"
    @Option(help: "Each rank's rate in Gb/s (0: as fast as it can; dcqcn starts from 1).") var rate: Double = 0
    @OptionGroup var rc: ReliabilityFlags
    @Option(help: "Name prefix of the test bed's namespaces.") var prefix: String = "sflb"
    @Option(help: "Also write the results as JSON to this file ({idealSeconds, runs: [...]}).") var json: String?
    @Option(help: "Take this link down mid-run in every run, NODE:IF@SECONDS after the start (e.g. leaf1:s1@0.3s); the lab then gives every switch the routes without it, as a routing protocol would. The link comes back up between runs.")
    var fail: String?
    @Option(help: "With --fail: how long after the link goes down the lab's routing protocol withdraws the routes over it (local failover at its ends is at once).")
    var convergeAfter: String = "100ms"

    func failure() throws -> CollisionLab.LinkFailure? {
        guard let fail else { return nil }
        guard let at = fail.lastIndex(of: "@") else { throw ValidationError("--fail NODE:IF@SECONDS (got '\(fail)')") }
        let seconds = try unit("--fail") { () throws(UnitError) in try Units.seconds(String(fail[fail.index(after: at)...])) }
        guard seconds >= 0 && seconds < 600 else { throw ValidationError("--fail: the time must be 0...600 s") }
        let converge = try unit("--converge-after") { () throws(UnitError) in try Units.seconds(convergeAfter) }
        guard converge >= 0 && converge <= 10 else { throw ValidationError("--converge-after must be 0...10 s") }
        return .init(link: String(fail[..<at]), atSeconds: seconds, convergenceSeconds: converge)
    }

    func validate() throws {
        _ = try modeList()
        _ = try unit("--uplink-speed") { () throws(UnitError) in try Units.gbps(uplinkSpeed) }
        guard hostsPerLeaf >= 1, seeds >= 1, qps >= 1 else { throw ValidationError("--hosts-per-leaf, --seeds and --qps are at least 1") }
        guard CollectivePattern(rawValue: pattern) != nil else { throw ValidationError("--pattern is ring-allreduce, all-gather or all-to-all") }
        guard cc == "none" || cc == "dcqcn" else { throw ValidationError("--cc is none or dcqcn") }
        _ = try rc.parameters()
        if try failure() != nil && pattern == "all-to-all" {
            throw ValidationError("--fail works with ring-allreduce and all-gather (all-to-all runs as one workload without a common start to time the failure from)")
        }
    }

    func modeList() throws -> [LoadBalancingMode] {
        try modes.split(separator: ",").map { m in
            guard let v = LoadBalancingMode(name: String(m)) else { throw ValidationError("--modes: unknown mode '\(m)' (ecmp, flowlet, spray)") }
            return v
        }
    }

    func run() throws {
        try requireRoot("fabric balance")
        let ms = try modeList()
        let idle = try unit("--flowlet-idle") { () throws(UnitError) in try Units.nanoseconds(flowletIdle) }
        let topo = try topology.map { try Topology.load(file: $0) }
            ?? Topology.leafSpine(hostsPerLeaf: hostsPerLeaf, uplinkGbps: try Units.gbps(uplinkSpeed), flowletIdleNanoseconds: idle)
        let tb = TopologyTestbed(topology: topo, prefix: prefix)
        let lab = CollisionLab(lab: LoadBalanceLab(testbed: tb, launcher: switchLauncher()))
        let leaves = topo.switches.filter { s in topo.links.contains { ($0.a.node == s && topo.kind($0.b.node) == .host) || ($0.b.node == s && topo.kind($0.a.node) == .host) } }.count
        let ranks = topology == nil ? CollisionLab.interleavedRanks(hostsPerLeaf: hostsPerLeaf, leaves: leaves) : Array(1...tb.hostCount)
        var o = CollectiveOptions()
        o.pattern = CollectivePattern(rawValue: pattern)!
        o.bufferBytes = try unit("--buffer") { () throws(UnitError) in try Units.bytes(buffer) }
        o.queuePairs = qps
        o.cc = cc
        o.rateGbps = cc == "dcqcn" && rate == 0 ? 1 : rate
        o.reliabilityArguments = rc.arguments
        let seedList = colliding ? [-1] : Array(0..<seeds)
        var runs: [CollisionRun] = []
        var ideal = 0.0
        try interruptible("fabric balance") {
            try tb.up()
            defer { tb.down(); print("== test bed '\(prefix)' removed") }
            ideal = lab.idealSeconds(ranks: ranks, options: o)
            print("== test bed '\(prefix)': \(topo.switches.count) switches, \(topo.hosts.count) hosts; \(pattern) over "
                  + ranks.map(tb.hostName).joined(separator: ",") + " (\(o.pattern.steps(ranks: ranks.count)) steps of \(o.messageBytes(ranks: ranks.count) * qps) bytes), "
                  + "\(rc.transport), cc \(cc); ideal JCT \(String(format: "%.0f", ideal * 1000)) ms")
            fflush(nil)
            for seed in seedList {
                for m in ms {
                    let r = try lab.run(mode: m, seed: seed, ranks: ranks, options: o, failure: try failure())
                    runs.append(r)
                    print("== \(m.name), seed \(seed < 0 ? "colliding" : String(seed)): " + r.collective.summary
                          + (r.switches.switchDrops > 0 ? "; switch drops \(r.switches.dropReasons.joined(separator: " "))" : ""))
                    if let f = r.failure {
                        let ms = f.failovers.map(\.milliseconds).sorted()
                        print(String(format: "   %@ down at %.3f s; routes reconverged %.1f ms later; %d flows failed over at the switch next to it",
                                     f.link, f.atSeconds, f.reconvergedMilliseconds, f.failovers.count)
                              + (ms.isEmpty ? "" : String(format: " (failover %.2f-%.2f ms)", ms.first!, ms.last!)))
                    }
                    fflush(nil)
                }
            }
        }
        print("")
        print(CollisionLab.table(runs, ideal: ideal), terminator: "")
        if let path = json {
            struct Out: Encodable {
                var idealSeconds: Double
                var runs: [CollisionRun.Record]
            }
            try writeJSON(Out(idealSeconds: ideal, runs: runs.map { lab.record($0, ranks: ranks, options: o) }), to: path)
            print("results: \(path)")
        }
    }
}
