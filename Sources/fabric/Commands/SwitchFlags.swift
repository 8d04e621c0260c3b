import ArgumentParser
import FabricCore
import FabricConfig
import FabricIO
import FabricTelemetry
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
    @Option(help: "The XDP fast path (AF_XDP): on forwards in the XDP program what needs no userspace (lossy IP/Ethernet between unshaped ports, learned or resolved destinations) and sends only the rest to the pipeline (RoCEv2, lossless classes, PFC, ARP/ND, the switch's own addresses, ports with emulation or a capture; bpf/README.md); off sends every frame through userspace.")
    var fastpath: OnOff = .off
    @Option(help: "Rx-ring wait (AF_XDP): on stamps each frame in the XDP program with the time it arrived, so residence times start there and the time frames wait in the socket's rx ring is its own histogram (fabric stats latency, ringWait); off starts residence when the worker reads the frame (saves XDP a metadata adjust and a clock read per frame).")
    var ringWait: OnOff = .on
    @Option(help: "XDP attach mode: auto (native, falling back to generic), native or generic.")
    var xdpMode: XDPMode = .auto
    @Option(help: "AF_XDP zero-copy: auto (the kernel picks: zero-copy where the driver supports it, else copy; veth copies), on (fail where the driver cannot), off (copy). The mode each port got is in the start line and stats (xdpMode).")
    var zeroCopy: ZeroCopy = .auto
    @Option(help: "Preferred busy polling, microseconds (0: off): the worker runs each port's NAPI itself from its recvfrom/sendto instead of a softirq or NAPI thread doing it beside it (SO_PREFER_BUSY_POLL; pair it with the interface's napi_defer_hard_irqs and gro_flush_timeout).")
    var busyPoll: Int = 0
    @Option(help: "Workers (AF_XDP): worker w serves rx queue w of every port on a CPU of its own (1...64; the ports need that many queues, e.g. fabric testbed up --queues N). Frames on queues no worker serves are dropped and counted (unserved_queue).")
    var workers: Int = 1
    @Option(help: "How XDP is attached: auto (a bpf_link, netlink where the kernel has no XDP links), link (the kernel detaches the program when the switch exits or dies), netlink (the program outlives a crashed switch until the next start removes it).")
    var xdpAttach: XDPAttachment = .auto
    @Option(help: "busy: always spin; adaptive: spin while frames flow, sleep in poll() when idle.")
    var poll: PollMode = .adaptive
    @Option(help: "Adaptive polling: microseconds without work before the worker sleeps in poll() (0...1000000).")
    var spinUs: Int = 200
    @Option(help: "Compiled fabric_xsk XDP object (default: PREFIX/lib/swiftfabric/bpf/ of an installed fabric, else the checkout's .build-bpf/fabric_xsk.o).")
    var bpfObject: String?
    @Option(help: "Write a JSON snapshot of the counters here every --stats-interval seconds and on exit.")
    var statsFile: String?
    @Option(help: "Seconds between snapshots to --stats-file (0.1...86400).")
    var statsInterval: Double = 1.0
    @Option(help: "Frames per receive batch (1...ring size).")
    var batch: Int = 64
    @Option(help: "Entries per AF_XDP tx and completion ring, and the least per rx and fill ring (a power of two, 64...16384); rx rings grow to hold --stall-budget.")
    var ringSize: Int = 2048
    @Option(help: "Capacity of each lossy egress queue in frames (a power of two, 64...65536); lossless queues hold what their PGs may admit.")
    var queueCapacity: Int = 4096
    @Option(help: "How long the worker may be off the CPU with nothing lost (default: the config's buffers.stall_budget, 100ms; 0: rings of --ring-size): each port's rx ring holds that long at its stall rate, lossless headroom takes it.")
    var stallBudget: String?
    @Option(help: "The fastest a port is taken to receive during a stall, or its speed if lower (default: the config's buffers.stall_rate, 1G).")
    var stallRate: String?
    @Option(help: "MAC address aging time in seconds (1...1000000).")
    var macAging: Int = 300
    @Option(help: "Nice value of the forwarding thread (-20...19, e.g. --worker-nice=-10; 0 leaves it). Negative: it outweighs the kernel threads sharing its CPU, which then copy in fewer frames it cannot send (README \"Performance\").")
    var workerNice: Int = 0
    @Option(help: "SCHED_FIFO priority of the forwarding thread (1...99; 0: normal scheduling). The kernel threads sharing its CPU (a veth's NAPI thread) then run only while it sleeps, and it sleeps as soon as a pass moves nothing (no spinning): frames are copied in only as fast as it forwards them (README \"A real-time worker\"). Needs CAP_SYS_NICE.")
    var workerRealtime: Int = 0
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
    @Option(help: "Stop capturing a port once its file holds this many MB (1...1048576).")
    var captureLimit: Int = 100
    /// The largest --capture-limit, in MB (1 TB).
    static let captureLimits = 1 << 20
    @Option(help: "Record queue depths, port load, pauses and events every --record-interval us into FILE (draw it with `fabric report FILE`).")
    var record: String?
    @Option(help: "Microseconds between --record samples (10...1000000).")
    var recordInterval: Int = 100
    @Option(help: "Stop recording once the --record file holds this many MB (1...1048576); the switch goes on and the file stays readable.")
    var recordLimit: Int = Recorder.defaultLimitBytes >> 20
    @Option(help: "Microseconds between samples of the always-on queue-depth ring (`fabric stats depth`: the last 10,000; 10...1000000).")
    var sampleInterval: Int = 100
    @Flag(help: "Print libxdp/libbpf debug output.")
    var verbose = false

    /// Checked before the ports are taken, so a mistake costs nothing.
    func validate() throws {
        func pow2(_ v: Int) -> Bool { v > 0 && v & (v - 1) == 0 }
        func check(_ ok: Bool, _ message: @autoclosure () -> String) throws {
            if !ok { throw ValidationError(message()) }
        }
        try check(pow2(ringSize) && SwitchOptions.ringSizes.contains(ringSize),
                  "--ring-size must be a power of two in \(SwitchOptions.ringSizes), got \(ringSize)")
        try check(pow2(queueCapacity) && SwitchOptions.queueCapacities.contains(queueCapacity),
                  "--queue-capacity must be a power of two in \(SwitchOptions.queueCapacities), got \(queueCapacity)")
        try check((1...ringSize).contains(batch), "--batch must be 1...\(ringSize) (the ring size), got \(batch)")
        try check((0...1_000_000).contains(spinUs), "--spin-us must be 0...1000000, got \(spinUs)")
        try check((-20...19).contains(workerNice), "--worker-nice must be -20...19, got \(workerNice)")
        try check((0...99).contains(workerRealtime), "--worker-realtime must be 1...99 (0: off), got \(workerRealtime)")
        try check(workerRealtime == 0 || poll != .busy, "--worker-realtime cannot go with --poll busy: spinning at real-time priority starves the kernel threads that bring the frames in")
        try check(SwitchOptions.macAgingSeconds.contains(macAging), "--mac-aging must be \(SwitchOptions.macAgingSeconds) seconds, got \(macAging)")
        try check(SwitchOptions.statsIntervals.contains(statsInterval),
                  "--stats-interval must be \(SwitchOptions.statsIntervals.lowerBound)...\(Int(SwitchOptions.statsIntervals.upperBound)) seconds, got \(statsInterval)")
        try check(SwitchOptions.sampleIntervals.contains(sampleInterval),
                  "--sample-interval must be \(SwitchOptions.sampleIntervals) microseconds, got \(sampleInterval)")
        try check(SwitchOptions.sampleIntervals.contains(recordInterval),
                  "--record-interval must be \(SwitchOptions.sampleIntervals) microseconds, got \(recordInterval)")
        try check((1...Self.captureLimits).contains(captureLimit), "--capture-limit must be 1...\(Self.captureLimits) MB, got \(captureLimit)")
        try check((1...Self.captureLimits).contains(recordLimit), "--record-limit must be 1...\(Self.captureLimits) MB, got \(recordLimit)")
        if fastpath == .on && backend == .afpacket { throw ValidationError("--fastpath on needs the AF_XDP backend (an XDP program)") }
        if let n = name, let problem = SwitchConfig.nameProblem(n) { throw ValidationError("--name: \(problem)") }
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
        o.zeroCopy = zeroCopy
        o.busyPollMicroseconds = busyPoll
        o.xdpAttachment = xdpAttach
        o.poll = poll
        o.spinMicroseconds = spinUs
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
        o.workerRealtimePriority = workerRealtime
        o.fastPath = fastpath == .on
        o.ringStamps = ringWait == .on
        o.verbose = verbose
    }
}

/// `--fastpath`, `--ring-wait`: off or on.
enum OnOff: String, CaseIterable, ExpressibleByArgument {
    case off, on
}
