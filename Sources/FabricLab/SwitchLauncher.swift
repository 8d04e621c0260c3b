import FabricTelemetry
import Foundation

/// The one way the lab starts `fabric switch`: in a namespace, from a configuration file,
/// writing its counters to a stats file. The switch writes its first snapshot once every port
/// is attached and its control socket serves, and its last one at exit; the launcher reads
/// both instead of the switch's human output.
public struct SwitchLauncher: Sendable {
    /// The `fabric` executable.
    public var fabric: String
    /// Arguments for every switch (--bpf-object, --xdp-mode, --queue-capacity ...).
    public var arguments: [String]
    public var statsInterval = 0.2
    /// Run the switch under `ip netns exec` (which remounts /sys without bpffs) instead of
    /// letting it enter the namespace itself (`--netns`).
    public var ipNetnsExec = false
    /// Seconds to wait for every switch's first snapshot.
    public var timeout = 30.0

    public init(fabric: String, arguments: [String] = []) {
        self.fabric = fabric
        self.arguments = arguments
    }

    /// One switch to start.
    public struct Spec: Sendable {
        public var namespace: String
        public var config: String
        public var statsFile: String
        /// Its output goes to this file and it outlives this process (`fabric testbed up`);
        /// nil: collected in memory and stopped when its `RunningSwitch` goes.
        public var log: String?
        /// Arguments for this switch only.
        public var arguments: [String] = []

        public init(namespace: String, config: String, statsFile: String, log: String? = nil, arguments: [String] = []) {
            self.namespace = namespace
            self.config = config
            self.statsFile = statsFile
            self.log = log
            self.arguments = arguments
        }
    }

    public func start(_ spec: Spec) throws -> RunningSwitch { try start([spec])[0] }

    /// Starts every switch, then waits until each wrote its first snapshot. If one fails,
    /// stops all and throws with what the failed one said.
    public func start(_ specs: [Spec]) throws -> [RunningSwitch] {
        var children: [ChildProcess] = []
        func stopAll() { for c in children { c.stop(grace: 2) } }
        do {
            for s in specs {
                try? FileManager.default.removeItem(atPath: s.statsFile)
                let placement = ipNetnsExec ? ["ip", "netns", "exec", s.namespace, fabric, "switch"] : [fabric, "switch", "--netns", s.namespace]
                children.append(try ChildProcess(placement + ["--config", s.config, "--stats-file", s.statsFile,
                                                              "--stats-interval", "\(statsInterval)"] + arguments + s.arguments, logFile: s.log))
            }
            let deadline = Date().addingTimeInterval(timeout)
            var running: [RunningSwitch] = []
            for (s, child) in zip(specs, children) {
                while true {
                    if FileManager.default.fileExists(atPath: s.statsFile) {
                        running.append(RunningSwitch(child: child, statsFile: s.statsFile, started: try StatsFile.read(s.statsFile)))
                        break
                    }
                    guard child.isRunning, Date() < deadline else {
                        throw TestbedError("the switch in \(s.namespace) did not start\(child.isRunning ? " within \(Int(timeout)) s" : ""):\n\(child.output.suffix(3000))")
                    }
                    try Interrupt.check()
                    usleep(10_000)
                }
            }
            return running
        } catch {
            stopAll()
            throw error
        }
    }
}

/// A `fabric switch` the launcher started.
public final class RunningSwitch: @unchecked Sendable {
    public let child: ChildProcess
    public let statsFile: String
    /// Its first snapshot: every port attached, the control socket serving.
    public let started: SwitchReport

    init(child: ChildProcess, statsFile: String, started: SwitchReport) {
        self.child = child
        self.statsFile = statsFile
        self.started = started
    }

    /// How it runs, for people: `router 'sf-sw' on 4 ports (h1:native h2:native h3:native h4:native)`.
    public var banner: String {
        "\(started.mode) '\(started.name)' on \(started.ports.count) ports (\(started.ports.map { "\($0.name):\($0.xdpMode)" }.joined(separator: " ")))"
    }

    /// SIGTERM (the switch drains, detaches and writes its last snapshot), SIGKILL after `grace`.
    @discardableResult
    public func stop(grace: Double = 5) -> Int32? { child.stop(grace: grace) }

    /// Stops the switch and returns its last snapshot; throws unless it stopped cleanly.
    public func stopAndReport(grace: Double = 5) throws -> SwitchReport {
        guard let status = stop(grace: grace), status == 0 else {
            throw TestbedError("the switch did not stop cleanly:\n\(child.output.suffix(3000))")
        }
        let last = try StatsFile.read(statsFile)
        guard !last.running else { throw TestbedError("the switch stopped without its exit snapshot in \(statsFile)") }
        return last
    }
}
