import ArgumentParser
import FabricConfig
import FabricCore
import FabricIO
import FabricSystem
import FabricTelemetry
import FabricXDP
import FabricLab
import Foundation

@main
struct Fabric: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "fabric",
        abstract: "SwiftFabric: an AF_XDP software switch and lab for AI-fabric networking.",
        subcommands: [SwitchCommand.self, ConfigCommand.self, TestbedCommand.self, TrafficCommand.self, DemoCommand.self, LosslessCommand.self, BalanceCommand.self, StatsCommand.self, ReportCommand.self, ProbeCommand.self])
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
extension Backend: ExpressibleByArgument {}

struct SwitchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "switch",
        abstract: "Run the switch on the given ports until SIGINT/SIGTERM, then print per-port counters.")

    @Option(help: "Comma-separated interface names to bridge between (without --config).")
    var ports: String?
    @Option(help: "Switch configuration file (YAML; see scripts/example-switch.yaml).")
    var config: String?
    @Option(help: "Network namespace to run in (as created by `ip netns add`).")
    var netns: String?
    @Option(help: "Sockets under the ports: afxdp (AF_XDP, the fast path), afpacket (AF_PACKET with TPACKET_V3 rings, where AF_XDP is unavailable), auto (AF_XDP, else AF_PACKET with a message).")
    var backend: Backend = .afxdp
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
    var queueCapacity: Int = 4096
    @Option(help: "MAC address aging time in seconds.")
    var macAging: Int = 300
    @Option(help: "Nice value of the forwarding thread (-20...19, e.g. --worker-nice=-10; 0 leaves it). Negative: it outweighs the kernel threads sharing its CPU, which then copy in fewer frames it cannot send (README \"Performance\").")
    var workerNice: Int = 0
    @Option(help: "Name of this switch: its control socket is /run/swiftfabric/switch-NAME/control.sock (default: the config's switch name, else the --netns name, else 'bridge').")
    var name: String?
    @Flag(help: "Do not open the control socket (`fabric stats` will not see this switch).")
    var noControl = false
    @Option(help: "Serve Prometheus metrics at http://[HOST:]PORT/metrics (HOST 127.0.0.1 unless --metrics-public).")
    var metrics: String?
    @Flag(help: "Allow --metrics on a non-loopback address.")
    var metricsPublic = false
    @Option(help: "Write what PORT receives and sends to a pcapng FILE (nanosecond timestamps; repeatable): --capture h1:/tmp/h1.pcapng")
    var capture: [String] = []
    @Option(help: "Stop capturing a port once its file holds this many MB.")
    var captureLimit: Int = 100
    @Option(help: "Record queue depths, port load, pauses and events every --record-interval us into FILE (draw it with `fabric report FILE`).")
    var record: String?
    @Option(help: "Microseconds between --record samples.")
    var recordInterval: Int = 100
    @Option(help: "Microseconds between samples of the always-on queue-depth ring (`fabric stats depth`: the last 10,000).")
    var sampleInterval: Int = 100
    @Flag(help: "Print libxdp/libbpf debug output.")
    var verbose = false

    func run() throws {
        let object = bpfObject ?? bpfObjectPath("fabric_xsk.o")
        var opts: SwitchOptions
        switch (config, ports) {
        case (let file?, nil):
            do {
                opts = SwitchOptions(config: try ConfigLoader.load(file: file), bpfObject: object)
            } catch {
                logLine("fabric switch: \(error)")
                throw ExitCode(2)
            }
        case (nil, let list?):
            opts = SwitchOptions(ports: list.split(separator: ",").map { String($0) }, bpfObject: object)
        default:
            logLine("fabric switch: give either --config FILE or --ports a,b,... (a learning bridge)")
            throw ExitCode(2)
        }
        if let ns = netns { try enterNetworkNamespace(ns) }
        opts.xdpMode = xdpMode
        opts.poll = poll
        opts.statsFile = statsFile
        opts.statsIntervalSeconds = statsInterval
        opts.sampleIntervalMicroseconds = sampleInterval
        opts.batchSize = batch
        opts.ringSize = ringSize
        opts.queueCapacity = queueCapacity
        opts.macAgingSeconds = macAging
        opts.workerNice = workerNice
        opts.verbose = verbose
        if let spec = metrics {
            // Checked before the ports are taken, so a mistake costs nothing.
            let parts = spec.split(separator: ":")
            let host = parts.count == 2 ? String(parts[0]) : "127.0.0.1"
            guard parts.count <= 2, UInt16(parts.last ?? "") != nil, !noControl else {
                logLine("fabric switch: --metrics takes [HOST:]PORT and needs the control socket (no --no-control)")
                throw ExitCode(2)
            }
            guard metricsPublic || host == "127.0.0.1" || host == "localhost" else {
                logLine("fabric switch: --metrics \(spec): not a loopback address; add --metrics-public to listen there")
                throw ExitCode(2)
            }
        }
        installStopHandlers()
        if backend != .afpacket {
            var sw: AFXDPSwitch
            do {
                sw = try AFXDPSwitch(options: opts)
            } catch {
                guard backend == .auto else {
                    logLine("fabric switch: \(error)")
                    throw ExitCode(2)
                }
                logLine("fabric switch: AF_XDP unavailable (\(error)); falling back to AF_PACKET (TPACKET_V3 rings), which copies every frame")
                return try serveAFPacket(opts)
            }
            return try serve(&sw, opts)
        }
        try serveAFPacket(opts)
    }

    func serveAFPacket(_ opts: SwitchOptions) throws {
        var sw: AFPacketSwitch
        do {
            sw = try AFPacketSwitch(options: opts)
        } catch {
            logLine("fabric switch: \(error)")
            throw ExitCode(2)
        }
        try serve(&sw, opts)
    }

    /// Everything after the sockets are up, the same for every backend.
    func serve<IO: PortBackend & ~Copyable>(_ sw: inout FabricSwitch<IO>, _ opts: SwitchOptions) throws {
        for spec in capture {
            guard let colon = spec.firstIndex(of: ":"), colon != spec.startIndex, spec.index(after: colon) != spec.endIndex else {
                logLine("fabric switch: --capture takes PORT:FILE, got '\(spec)'")
                throw ExitCode(2)
            }
            do {
                try sw.capture(port: String(spec[..<colon]), path: String(spec[spec.index(after: colon)...]), limitBytes: captureLimit << 20)
            } catch {
                logLine("fabric switch: \(error)")
                throw ExitCode(2)
            }
        }
        if let path = record {
            do {
                sw.recorder = try Recorder(path: path, switchName: name ?? opts.config?.name ?? netns ?? "bridge", ports: opts.ports,
                                           speedsGbps: opts.config?.ports.map(\.speedGbps) ?? opts.ports.map { _ in nil },
                                           intervalMicroseconds: recordInterval)
            } catch {
                logLine("fabric switch: \(error)")
                throw ExitCode(2)
            }
        }
        let modes = zip(opts.ports, sw.attachModes).map { "\($0):\($1)" }.joined(separator: " ")
        let kind = opts.config.map { "\($0.mode.rawValue) '\($0.name)'" } ?? "bridge"
        print("fabric switch: \(kind) forwarding on \(opts.ports.count) ports (\(modes)), poll \(opts.poll.rawValue)"
              + (netns.map { " in netns \($0)" } ?? ""))
        fflush(nil)
        var control: ControlServer?
        if !noControl {
            let switchName = name ?? opts.config?.name ?? netns ?? "bridge"
            do {
                control = try ControlServer(name: switchName)
            } catch {
                logLine("fabric switch: \(error)")
                throw ExitCode(2)
            }
            control?.start()
            sw.control = control
            print("fabric switch: control socket \(control!.path) (fabric stats --switch \(switchName))")
            fflush(nil)
        }
        var metricsServer: MetricsServer?
        if let spec = metrics {
            let parts = spec.split(separator: ":")
            guard let c = control, let port = UInt16(parts.last ?? ""), parts.count <= 2 else {
                logLine("fabric switch: --metrics takes [HOST:]PORT and needs the control socket (no --no-control)")
                control?.stop()
                throw ExitCode(2)
            }
            do {
                metricsServer = try MetricsServer(host: parts.count == 2 ? String(parts[0]) : "127.0.0.1", port: port, allowPublic: metricsPublic, control: c)
            } catch {
                logLine("fabric switch: \(error)")
                control?.stop()
                throw ExitCode(2)
            }
            metricsServer?.start()
            print("fabric switch: Prometheus metrics at http://\(metricsServer!.address)/metrics")
            fflush(nil)
        }
        // The first stats file last: whoever waits for it (the lab, the tests) finds the control
        // socket and the metrics endpoint already serving.
        if opts.statsFile != nil { sw.publishStatsNow() }
        let report = sw.run()
        metricsServer?.stop()
        control?.stop()
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
        @Option(help: "Number of hosts (star test bed).") var hosts: Int = 4
        @Option(help: "Name prefix of the namespaces.") var prefix: String = "sf"
        @Flag(help: "Each host in its own subnet with a default route via the switch, which runs as a router.")
        var routed = false
        @Option(help: "A topology file (nodes and links, containerlab-style), or 'leaf-spine' for the shipped 2 spines, 2 leaves, 4 hosts per leaf. Starts one switch per switch node.")
        var topology: String?
        @Option(help: "With --topology: load-balancing mode of every ECMP group (ecmp, flowlet, spray; default: the topology's).")
        var mode: String?
        func run() throws {
            if let topology {
                let t = topology == "leaf-spine" ? Topology.leafSpine() : try Topology.load(file: topology)
                var m: LoadBalancingMode? = nil
                if let mode {
                    guard let v = LoadBalancingMode(name: mode) else { throw ValidationError("--mode: expected ecmp, flowlet or spray") }
                    m = v
                }
                try requireRoot("fabric testbed up")
                let tb = TopologyTestbed(topology: t, prefix: prefix)
                try tb.up(mode: m)
                try tb.startDetachedSwitches(fabric: selfExecutable(), extra: ["--bpf-object", bpfObjectPath("fabric_xsk.o")])
                print(tb.summary, terminator: "")
                print("switches running (logs, stats, pids in \(tb.runDirectory)); remove everything: fabric testbed down --prefix \(prefix)")
                return
            }
            let tb = Testbed(prefix: prefix, hosts: hosts, routed: routed)
            try tb.up()
            print(tb.summary, terminator: "")
            if routed {
                print("run the switch: fabric switch --netns \(tb.switchNamespace) --config \(tb.configPath)")
            } else {
                print("run the switch: fabric switch --netns \(tb.switchNamespace) --ports \(tb.switchPorts.joined(separator: ","))")
            }
        }
    }

    struct Down: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Remove every namespace (and veth) of the test bed, and stop its switches.")
        @Option(help: "Name prefix of the namespaces.") var prefix: String = "sf"
        func run() throws {
            if let tb = TopologyTestbed.recorded(prefix: prefix) {
                let present = tb.existingNamespaces()
                tb.down()
                print("test bed '\(prefix)': switches stopped, removed \(present.sorted().joined(separator: " "))")
                return
            }
            let tb = Testbed(prefix: prefix)
            let present = tb.existingNamespaces()
            tb.down()
            print(present.isEmpty ? "test bed '\(prefix)': nothing to remove" : "test bed '\(prefix)': removed \(present.sorted().joined(separator: " "))")
        }
    }
}

struct ConfigCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "config",
        abstract: "Work with switch configuration files.",
        subcommands: [Check.self])

    struct Check: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Validate a configuration file and summarise it; exit 1 if invalid.")
        @Argument(help: "The YAML file.") var file: String
        func run() throws {
            let c: SwitchConfig
            do {
                c = try ConfigLoader.load(file: file)
            } catch {
                logLine("\(error)")
                throw ExitCode(1)
            }
            print("\(file): valid. \(c.mode.rawValue) '\(c.name)', QoS profile \(c.qos.profile), load balancing \(c.loadBalancing.mode.name)\(c.loadBalancing.mode == .flowlet ? " (idle \(c.loadBalancing.flowletIdleNanoseconds / 1000) us, table \(c.loadBalancing.flowletTableSize))" : "")")
            for p in c.ports {
                let addrs = p.addresses.map(\.description).joined(separator: ", ")
                print("  port \(p.name): \(addrs.isEmpty ? "no address" : addrs), trust \(p.trust.rawValue)"
                      + (p.mac.map { ", mac \($0)" } ?? "") + (p.speedGbps.map { ", \($0)G" } ?? ""))
            }
            for r in c.routes {
                print("  route \(r.prefix) via \(r.nextHops.map(\.description).joined(separator: ", "))\(r.nextHops.count > 1 ? " (ECMP, \((r.mode ?? c.loadBalancing.mode).name))" : "")")
            }
            for n in c.neighbours { print("  neighbour \(n.address) at \(n.mac)") }
            let b = c.buffers
            print("  buffers: pool \(b.poolBytes) B; lossless PGs reserved \(b.lossless.reservedBytes) B, \(b.lossless.threshold.description), "
                  + "xon offset \(b.xonOffsetBytes) B; lossy PGs reserved \(b.lossy.reservedBytes) B, \(b.lossy.threshold.description)")
            for p in c.ports {
                let speed = p.speedGbps ?? 100
                print("  headroom \(p.name): \(b.headroom(speedGbps: speed)) B per lossless PG (at \(speed)G, cable \(b.cableMeters) m, MTU \(b.mtu))")
            }
        }
    }
}
