import ArgumentParser
import FabricConfig
import FabricCore
import FabricLab
import Foundation

/// `fabric balance`: the load-balancing experiment on the leaf-spine test bed: an all-to-all
/// collective under ecmp, flowlet and spray, one table, torn down afterwards (also on Ctrl-C).
struct BalanceCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "balance",
        abstract: "All-to-all RoCEv2 collective on a leaf-spine test bed under ecmp, flowlet and spray: completion time, uplink imbalance, reordering, p99.")

    @Option(help: "A topology file (default: 2 spines, 2 leaves, --hosts-per-leaf hosts each).") var topology: String?
    @Option(help: "Hosts per leaf of the default leaf-spine.") var hostsPerLeaf: Int = 4
    @Option(help: "Emulated speed of every leaf-spine link (100M, 1G).") var uplinkSpeed: String = "100M"
    @Option(help: "Messages per flow (64 KB each).") var messages: Int = 4
    @Option(help: "Each flow's average rate in Gb/s (bursts at 1 Gb/s).") var rate: Double = 0.02
    @Option(help: "Modes to compare, comma-separated.") var modes: String = "ecmp,flowlet,spray"
    @Option(help: "Rounds (the modes interleaved each round).") var rounds: Int = 1
    @Option(help: "Name prefix of the test bed's namespaces.") var prefix: String = "sflb"
    @Option(help: "Also write the results as JSON to this file.") var json: String?

    func validate() throws {
        _ = try modeList()
        _ = try unit("--uplink-speed") { () throws(UnitError) in try Units.gbps(uplinkSpeed) }
        guard hostsPerLeaf >= 1 else { throw ValidationError("--hosts-per-leaf must be at least 1") }
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
        let topo = try topology.map { try Topology.load(file: $0) } ?? Topology.leafSpine(hostsPerLeaf: hostsPerLeaf, uplinkGbps: try Units.gbps(uplinkSpeed))
        let tb = TopologyTestbed(topology: topo, prefix: prefix)
        let lab = LoadBalanceLab(testbed: tb, launcher: switchLauncher())
        var o = WorkloadOptions()
        o.messages = messages
        o.messageBytes = 65536
        o.queuePairs = 1
        o.rateGbps = rate
        o.extraSenderArguments = ["--burst", "1"]
        print("== test bed '\(prefix)': \(topo.switches.count) switches, \(topo.hosts.count) hosts; all-to-all, \(messages) x 64 KB per flow at \(rate) Gb/s average in 1 Gb/s bursts")
        fflush(nil)
        var runs: [LoadBalanceLab.Run] = []
        try interruptible("fabric balance") {
            try tb.up()
            defer { tb.down(); print("== test bed '\(prefix)' removed") }
            for round in 1...max(1, rounds) {
                for m in ms {
                    print("== round \(round), \(m.name)")
                    fflush(nil)
                    runs.append(try lab.run(mode: m, pattern: .allToAll(hosts: Array(1...tb.hostCount)), options: o))
                }
            }
        }
        print("")
        print(LoadBalanceLab.table(runs), terminator: "")
        print("\nMedian (range) per mode:\n")
        print(LoadBalanceLab.summary(runs), terminator: "")
        if let path = json {
            try writeJSON(runs.map(\.summary), to: path)
            print("results: \(path)")
        }
    }
}
