import ArgumentParser
import FabricIO
import FabricLab
import FabricXDP

/// `fabric demo`: the main job (README): a star test bed, the switch, ping/UDP/TCP, a report.
struct DemoCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "demo",
        abstract: "What the lab shows: ping/UDP/TCP through a switch, RoCEv2 incast with PFC on and off, and the ECMP collision tax on a ring all-reduce; a report; everything torn down.")

    @Option(help: "Number of hosts.") var hosts: Int = 4
    @Option(help: "Name prefix of the test bed's namespaces.") var prefix: String = "sfdemo"
    @Option(help: "XDP attach mode for the switch.") var xdpMode: XDPMode = .auto
    @Option(help: "Poll mode for the switch.") var poll: PollMode = .adaptive
    @Option(help: "UDP datagrams per pair.") var udpCount: Int = 1000
    @Option(help: "Seconds of iperf3 TCP.") var tcpSeconds: Int = 2
    @Option(help: "Seconds per incast run (part 2).") var incastSeconds: Double = 2
    @Option(help: "Draws of QP numbers besides the colliding one (part 3).") var seeds: Int = 2
    @Option(help: "Parts to run, comma separated: 1 first check, 2 lossless incast, 3 collision tax.") var parts: String = "1,2,3"
    @Flag(help: "Route instead of bridge: each host in its own subnet, the switch as the L3 router.") var routed = false
    @Option(help: "Directory for the report the demo ends with (plots and summary of the switch's record).") var report: String = "fabric-demo-report"

    func validate() throws {
        guard (1...250).contains(hosts) else { throw ValidationError("--hosts must be 1...250 (got \(hosts))") }
    }

    func run() throws {
        try requireRoot("fabric demo")
        var demo = Demo(testbed: .star(prefix: prefix, hosts: hosts, routed: routed),
                        launcher: switchLauncher(["--xdp-mode", xdpMode.rawValue, "--poll", poll.rawValue]))
        demo.udpPerPair = udpCount
        demo.tcpSeconds = tcpSeconds
        demo.reportDirectory = report.isEmpty ? nil : report
        demo.incastSeconds = incastSeconds
        demo.seeds = seeds
        demo.parts = Set(try parts.split(separator: ",").map { p in
            guard let n = Int(p), (1...3).contains(n) else { throw ValidationError("--parts: 1, 2 or 3, comma separated") }
            return n
        })
        try interruptible("fabric demo") {
            let report = try demo.run()
            print("")
            print(report, terminator: "")
        }
    }
}
