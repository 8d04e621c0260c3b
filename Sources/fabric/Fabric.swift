import ArgumentParser
import FabricIO
import FabricLab
import Foundation

@main
struct Fabric: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "fabric",
        abstract: "SwiftFabric: an AF_XDP software switch and lab for AI-fabric networking.",
        subcommands: [SwitchCommand.self, TestbedCommand.self, DemoCommand.self, ProbeCommand.self])
}

/// Where the compiled XDP objects are: $FABRIC_BPF_DIR, else the nearest `.build-bpf/` above
/// the executable or the current directory (scripts/build-bpf.sh writes it at the repo root).
func bpfObjectPath(_ name: String) -> String {
    if let dir = ProcessInfo.processInfo.environment["FABRIC_BPF_DIR"] { return "\(dir)/\(name)" }
    let exe = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath()
    for start in [exe.deletingLastPathComponent(), URL(fileURLWithPath: FileManager.default.currentDirectoryPath)] {
        var dir = start
        while dir.path != "/" {
            let candidate = dir.appendingPathComponent(".build-bpf/\(name)").path
            if FileManager.default.fileExists(atPath: candidate) { return candidate }
            dir = dir.deletingLastPathComponent()
        }
    }
    return ".build-bpf/\(name)"
}

extension XDPMode: ExpressibleByArgument {}
extension PollMode: ExpressibleByArgument {}

struct SwitchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "switch",
        abstract: "Run the switch on the given ports until SIGINT/SIGTERM, then print per-port counters.")

    @Option(help: "Comma-separated interface names to switch between.")
    var ports: String
    @Option(help: "Network namespace to run in (as created by `ip netns add`).")
    var netns: String?
    @Option(help: "XDP attach mode: auto (native, falling back to generic), native or generic.")
    var xdpMode: XDPMode = .auto
    @Option(help: "busy: always spin; adaptive: spin while frames flow, sleep in poll() when idle.")
    var poll: PollMode = .adaptive
    @Option(help: "Compiled fabric_xsk XDP object (default: .build-bpf/fabric_xsk.o).")
    var bpfObject: String?
    @Option(help: "Write a JSON snapshot of the counters here every --stats-interval seconds and on exit.")
    var statsFile: String?
    @Option(help: "Seconds between snapshots to --stats-file.")
    var statsInterval: Double = 1.0
    @Option(help: "Frames per receive batch.")
    var batch: Int = 64
    @Option(help: "Entries per AF_XDP ring (power of two).")
    var ringSize: Int = 2048
    @Option(help: "Egress queue capacity per port in frames (power of two).")
    var queueCapacity: Int = 1024
    @Option(help: "MAC address aging time in seconds.")
    var macAging: Int = 300
    @Flag(help: "Print libxdp/libbpf debug output.")
    var verbose = false

    func run() throws {
        if let ns = netns { try enterNetworkNamespace(ns) }
        var opts = SwitchOptions(ports: ports.split(separator: ",").map { String($0) },
                                 bpfObject: bpfObject ?? bpfObjectPath("fabric_xsk.o"))
        opts.xdpMode = xdpMode
        opts.poll = poll
        opts.statsFile = statsFile
        opts.statsIntervalSeconds = statsInterval
        opts.batchSize = batch
        opts.ringSize = ringSize
        opts.queueCapacity = queueCapacity
        opts.macAgingSeconds = macAging
        opts.verbose = verbose
        installStopHandlers()
        var sw: AFXDPSwitch
        do {
            sw = try AFXDPSwitch(options: opts)
        } catch {
            logLine("fabric switch: \(error)")
            throw ExitCode(2)
        }
        let modes = zip(opts.ports, sw.attachModes).map { "\($0):\($1)" }.joined(separator: " ")
        print("fabric switch: forwarding on \(opts.ports.count) ports (\(modes)), poll \(opts.poll.rawValue)"
              + (netns.map { " in netns \($0)" } ?? ""))
        fflush(nil)
        if opts.statsFile != nil { sw.publishStatsNow() }
        let report = sw.run()
        print(String(format: "fabric switch: stopped after %.1f s", report.uptimeSeconds))
        print(report.table, terminator: "")
        fflush(nil)
    }
}

struct TestbedCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "testbed",
        abstract: "Create or remove a star test bed: host namespaces around one switch namespace.",
        subcommands: [Up.self, Down.self])

    struct Up: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Create the test bed (removing leftovers first).")
        @Option(help: "Number of hosts.") var hosts: Int = 4
        @Option(help: "Name prefix of the namespaces.") var prefix: String = "sf"
        func run() throws {
            let tb = Testbed(prefix: prefix, hosts: hosts)
            try tb.up()
            print(tb.summary, terminator: "")
            print("run the switch: fabric switch --netns \(tb.switchNamespace) --ports \(tb.switchPorts.joined(separator: ","))")
        }
    }

    struct Down: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Remove every namespace (and veth) of the test bed.")
        @Option(help: "Name prefix of the namespaces.") var prefix: String = "sf"
        func run() throws {
            let tb = Testbed(prefix: prefix)
            let present = tb.existingNamespaces()
            tb.down()
            print(present.isEmpty ? "test bed '\(prefix)': nothing to remove" : "test bed '\(prefix)': removed \(present.sorted().joined(separator: " "))")
        }
    }
}
