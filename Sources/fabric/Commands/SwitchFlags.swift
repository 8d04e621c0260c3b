import ArgumentParser
import FabricConfig
import FabricIO
import FabricXDP

/// `--metrics [HOST:]PORT`, parsed once: HOST defaults to loopback.
struct MetricsEndpoint: ExpressibleByArgument {
    var host: String
    var port: UInt16
    var isLoopback: Bool { host == "127.0.0.1" || host == "localhost" }

    init?(argument: String) {
        let parts = argument.split(separator: ":", omittingEmptySubsequences: false)
        guard (1...2).contains(parts.count), let port = UInt16(parts.last!), parts.count == 1 || !parts[0].isEmpty else { return nil }
        host = parts.count == 2 ? String(parts[0]) : "127.0.0.1"
        self.port = port
    }
}

/// The switch's options beside what it forwards (ports or a configuration): sockets, rings,
/// telemetry. Mapped onto `SwitchOptions` in one place (`apply`).
struct SwitchFlags: ParsableArguments {
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
    @Option(help: "Entries per AF_XDP tx and completion ring, and the least per rx and fill ring (power of two); rx rings grow to hold --stall-budget.")
    var ringSize: Int = 2048
    @Option(help: "Capacity of each lossy egress queue in frames (power of two); lossless queues hold what their PGs may admit.")
    var queueCapacity: Int = 4096
    @Option(help: "How long the worker may be off the CPU with nothing lost (default: the config's buffers.stall_budget, 100ms; 0: rings of --ring-size): each port's rx ring holds that long at its stall rate, lossless headroom takes it.")
    var stallBudget: String?
    @Option(help: "The fastest a port is taken to receive during a stall, or its speed if lower (default: the config's buffers.stall_rate, 1G).")
    var stallRate: String?
    @Option(help: "MAC address aging time in seconds.")
    var macAging: Int = 300
    @Option(help: "Nice value of the forwarding thread (-20...19, e.g. --worker-nice=-10; 0 leaves it). Negative: it outweighs the kernel threads sharing its CPU, which then copy in fewer frames it cannot send (README \"Performance\").")
    var workerNice: Int = 0
    @Option(help: "Name of this switch: its control socket is /run/swiftfabric/switch-NAME/control.sock (default: the config's switch name, else the --netns name, else 'bridge').")
    var name: String?
    @Flag(help: "Do not open the control socket (`fabric stats` will not see this switch).")
    var noControl = false
    @Option(help: "Serve Prometheus metrics at http://[HOST:]PORT/metrics (HOST 127.0.0.1 unless --metrics-public).")
    var metrics: MetricsEndpoint?
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

    /// Checked before the ports are taken, so a mistake costs nothing.
    func validate() throws {
        if let m = metrics {
            guard !noControl else { throw ValidationError("--metrics needs the control socket (no --no-control)") }
            guard metricsPublic || m.isLoopback else {
                throw ValidationError("--metrics \(m.host):\(m.port): not a loopback address; add --metrics-public to listen there")
            }
        }
        if let t = stallBudget {
            let ns = try unit("--stall-budget") { () throws(UnitError) in try Units.nanoseconds(t) }
            guard ns <= 10_000_000_000 else { throw ValidationError("--stall-budget must be at most 10s") }
        }
        if let r = stallRate { _ = try unit("--stall-rate") { () throws(UnitError) in try Units.gbps(r) } }
        for spec in capture {
            guard let colon = spec.firstIndex(of: ":"), colon != spec.startIndex, spec.index(after: colon) != spec.endIndex else {
                throw ValidationError("--capture takes PORT:FILE, got '\(spec)'")
            }
        }
    }

    var bpfObjectOrDefault: String { bpfObject ?? bpfObjectPath("fabric_xsk.o") }

    /// The captures as (port, file).
    var captures: [(port: String, file: String)] {
        capture.map { spec in
            let colon = spec.firstIndex(of: ":")!
            return (String(spec[..<colon]), String(spec[spec.index(after: colon)...]))
        }
    }

    func apply(to o: inout SwitchOptions) {
        o.xdpMode = xdpMode
        o.poll = poll
        o.statsFile = statsFile
        o.statsIntervalSeconds = statsInterval
        o.sampleIntervalMicroseconds = sampleInterval
        o.batchSize = batch
        o.ringSize = ringSize
        o.queueCapacity = queueCapacity
        o.stallBudgetNanoseconds = stallBudget.flatMap { try? Units.nanoseconds($0) }
        o.stallRateGbps = stallRate.flatMap { try? Units.gbps($0) }
        o.macAgingSeconds = macAging
        o.workerNice = workerNice
        o.verbose = verbose
    }
}
