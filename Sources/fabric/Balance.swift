import ArgumentParser
import FabricCore
import FabricIO
import FabricSystem
import FabricTelemetry
import FabricXDP
import FabricLab
import Foundation

/// `fabric balance`: the load-balancing experiment on the leaf-spine test bed: an all-to-all
/// collective under ecmp, flowlet and spray, one table.
struct BalanceCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "balance",
        abstract: "All-to-all RoCEv2 collective on a leaf-spine test bed under ecmp, flowlet and spray: completion time, uplink imbalance, reordering, p99.")

    @Option(help: "A topology file (default: 2 spines, 2 leaves, --hosts-per-leaf hosts each).") var topology: String?
    @Option(help: "Hosts per leaf of the default leaf-spine.") var hostsPerLeaf: Int = 4
    @Option(help: "Emulated speed of every leaf-spine link.") var uplinkSpeed: String = "100M"
    @Option(help: "Messages per flow (64 KB each).") var messages: Int = 4
    @Option(help: "Each flow's average rate in Gb/s (bursts at 1 Gb/s).") var rate: Double = 0.02
    @Option(help: "Modes to compare, comma-separated.") var modes: String = "ecmp,flowlet,spray"
    @Option(help: "Rounds (the modes interleaved each round).") var rounds: Int = 1
    @Option(help: "Name prefix of the test bed's namespaces.") var prefix: String = "sflb"
    @Option(help: "Also write the results as JSON to this file.") var json: String?

    func run() throws {
        try requireRoot("fabric balance")
        let ms = try modes.split(separator: ",").map { m -> LoadBalancingMode in
            guard let v = LoadBalancingMode(name: String(m)) else { throw ValidationError("--modes: unknown mode '\(m)'") }
            return v
        }
        let topo = try topology.map { try Topology.load(file: $0) } ?? Topology.leafSpine(hostsPerLeaf: hostsPerLeaf, uplinkSpeed: uplinkSpeed)
        let tb = TopologyTestbed(topology: topo, prefix: prefix)
        installDemoInterruptHandler(prefix: prefix)
        topologyDownOnInterrupt = tb
        print("== test bed '\(prefix)': \(topo.switches.count) switches, \(topo.hosts.count) hosts; all-to-all, \(messages) x 64 KB per flow at \(rate) Gb/s average in 1 Gb/s bursts")
        fflush(nil)
        try tb.up()
        defer { tb.down(); print("== test bed '\(prefix)' removed") }
        var lab = LoadBalanceLab(testbed: tb, fabric: selfExecutable())
        lab.switchArguments = ["--bpf-object", bpfObjectPath("fabric_xsk.o")]
        var o = WorkloadOptions()
        o.messages = messages
        o.messageBytes = 65536
        o.queuePairs = 1
        o.rateGbps = rate
        o.extraSenderArguments = ["--burst", "1"]
        var runs: [LoadBalanceLab.Run] = []
        for round in 1...max(1, rounds) {
            for m in ms {
                print("== round \(round), \(m.name)")
                fflush(nil)
                runs.append(try lab.run(mode: m, pattern: .allToAll(hosts: Array(1...tb.hostCount)), options: o))
            }
        }
        print("")
        print(LoadBalanceLab.table(runs), terminator: "")
        print("\nMedian (range) per mode:\n")
        print(LoadBalanceLab.summary(runs), terminator: "")
        if let path = json {
            let rows: [[String: String]] = runs.map { r in
                ["mode": r.mode.name, "completionSeconds": "\(r.workload.completionSeconds)", "imbalance": "\(r.imbalance)",
                 "reordered": "\(r.workload.reordered)", "received": "\(r.workload.receivedPackets)", "lost": "\(r.workload.lost)",
                 "p99Microseconds": "\(r.p99Microseconds)", "newFlowlets": "\(r.newFlowlets)", "pathChanges": "\(r.pathChanges)",
                 "uplinkBytes": r.uplinkBytes.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: " ")]
            }
            try JSONSerialization.data(withJSONObject: rows, options: [.prettyPrinted, .sortedKeys]).write(to: URL(fileURLWithPath: path))
            print("results: \(path)")
        }
    }
}

/// Set while `fabric balance` runs: Ctrl-C removes its test bed (the handler of the demo
/// removes star test beds only).
nonisolated(unsafe) var topologyDownOnInterrupt: TopologyTestbed?
