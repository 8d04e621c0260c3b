import ArgumentParser
import FabricConfig
import FabricCore
import FabricIO
import FabricSystem
import FabricTelemetry
import Foundation

/// `fabric switch`: the switch itself, until SIGINT/SIGTERM.
struct SwitchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "switch",
        abstract: "Run the switch on the given ports until SIGINT/SIGTERM, then print per-port counters.",
        discussion: """
        Signals: SIGINT, SIGTERM and SIGQUIT stop the switch in order (XDP detached, queues drained,         final counters); a second one exits at once. SIGHUP applies the --config file again, as         `fabric ctl config apply FILE` does (live parts change, anything restart-only refuses the         whole file); without --config it is ignored.
        """)

    @Option(help: "Comma-separated interface names to bridge between (without --config).")
    var ports: String?
    @Option(help: "Switch configuration file (YAML; see scripts/example-switch.yaml).")
    var config: String?
    @Option(help: "Network namespace to run in (as created by `ip netns add`).")
    var netns: String?
    @Option(help: "Before opening the ports, wait until these interfaces exist and are up (comma-separated, or 'ports' for every port): in a container, containerlab adds a node's interfaces after it starts.")
    var waitForInterfaces: String?
    @Option(help: "Seconds --wait-for-interfaces waits before giving up, naming what is missing (0.1...86400).")
    var waitTimeout: Double = 120
    @OptionGroup var flags: SwitchFlags

    func validate() throws {
        // Without --name or a configuration, the namespace names the switch (its control socket).
        if flags.name == nil, config == nil, let ns = netns, let problem = SwitchConfig.nameProblem(ns) {
            throw ValidationError("--netns \(ns) names this switch, but \(problem); give --name")
        }
        guard (0.1...86400).contains(waitTimeout) else { throw ValidationError("--wait-timeout must be 0.1...86400 seconds (got \(waitTimeout))") }
        if let w = waitForInterfaces, w != "ports" {
            let names = Self.interfaceList(w)
            guard !names.isEmpty, names.allSatisfy({ !$0.isEmpty && $0.utf8.count <= 15 }) else {
                throw ValidationError("--wait-for-interfaces: give interface names (1-15 characters each), comma-separated, or 'ports' (got '\(w)')")
            }
        }
    }

    func run() throws {
        var opts: SwitchOptions
        switch (config, ports) {
        case (let file?, nil):
            opts = SwitchOptions(config: try orExit { try ConfigLoader.load(file: file) }, bpfObject: flags.bpfObjectOrDefault)
        case (nil, let list?):
            opts = SwitchOptions(ports: list.split(separator: ",").map { String($0) }, bpfObject: flags.bpfObjectOrDefault)
        default:
            logLine("fabric switch: give either --config FILE or --ports a,b,... (a learning bridge)")
            throw ExitCode(2)
        }
        if let ns = netns { try enterNetworkNamespace(ns) }
        flags.apply(to: &opts)
        installStopHandlers()
        if let w = waitForInterfaces {
            let names = w == "ports" ? opts.ports : Self.interfaceList(w)
            logEvent("fabric switch: waiting up to \(Units.text(nanoseconds: UInt64(waitTimeout * 1e9))) for \(names.joined(separator: ",")) (--wait-for-interfaces)")
            let stop = { stopRequested.load(ordering: .relaxed) }
            do {
                let waited = try FabricSystem.waitForInterfaces(names, timeout: waitTimeout, stop: stop)
                logEvent("fabric switch: \(names.joined(separator: ",")) present and up after " + String(format: "%.1f s", waited))
            } catch {
                // Asked to stop while waiting (docker stop): a stop, not a failure.
                if stop() { logEvent("fabric switch: stopped while waiting for \(names.joined(separator: ","))"); return }
                logError("fabric switch: \(error)")
                throw ExitCode(2)
            }
        }
        if flags.workers != 1 {
            try orExit { try Self.checkWorkers(flags, opts) }
            let group = try orExit { try AFXDPWorkers(options: opts, workers: flags.workers) }
            group.startSecondaries()
            defer {
                if !group.join() { logLine("fabric switch: a worker did not stop within 5 s") }
            }
            return try serve(&group.primary, opts, workers: group.count)
        }
        if flags.backend != .afpacket {
            var sw: AFXDPSwitch
            do {
                sw = try AFXDPSwitch(options: opts)
            } catch {
                guard flags.backend == .auto else {
                    logError("fabric switch: \(error)")
                    throw ExitCode(2)
                }
                logLine("fabric switch: AF_XDP unavailable (\(error)); falling back to AF_PACKET (TPACKET_V3 rings), which copies every frame"
                        + (opts.fastPath ? " (and has no XDP fast path: --fastpath on does nothing)" : ""))
                var sw = try orExit { try AFPacketSwitch(options: opts) }
                return try serve(&sw, opts)
            }
            return try serve(&sw, opts)
        }
        var sw = try orExit { try AFPacketSwitch(options: opts) }
        try serve(&sw, opts)
    }

    /// "eth1, eth2" -> ["eth1", "eth2"].
    static func interfaceList(_ text: String) -> [String] {
        text.split(separator: ",", omittingEmptySubsequences: false).map { $0.trimmingCharacters(in: .whitespaces) }
    }

    /// What `--workers N` (N > 1) cannot do yet, refused before anything starts.
    static func checkWorkers(_ flags: SwitchFlags, _ opts: SwitchOptions) throws {
        guard (1...64).contains(flags.workers) else { throw SystemError("--workers must be 1...64 (got \(flags.workers))") }
        guard flags.backend == .afxdp else { throw SystemError("--workers \(flags.workers) needs the AF_XDP backend (one socket per rx queue)") }
        let emulated = opts.switchConfig.ports.filter { $0.speedGbps != nil || $0.delayNanoseconds > 0 || $0.lossPercent > 0 }.map(\.name)
        guard emulated.isEmpty else {
            throw SystemError("--workers \(flags.workers): ports \(emulated.joined(separator: ",")) emulate a link (speed, delay, loss): "
                              + "a port's line rate is one shaper, so emulated links run with one worker")
        }
        guard flags.capture.isEmpty, flags.record == nil else {
            throw SystemError("--workers \(flags.workers): --capture and --record run with one worker")
        }
    }

    /// `body`'s result; its error printed as `fabric switch: ...` and exit status 2.
    func orExit<T: ~Copyable>(_ body: () throws -> T) throws -> T {
        do { return try body() } catch {
            logError("fabric switch: \(error)")
            throw ExitCode(2)
        }
    }

    /// SIGHUP: with --config, applies the file again through the control socket, on a thread of
    /// its own (the worker answers the change between two batches); otherwise ignored. Either
    /// way one line says what happened.
    func watchReloads(control: ControlServer?) {
        let file = config.map { $0.hasPrefix("/") ? $0 : FileManager.default.currentDirectoryPath + "/" + $0 }
        let socket = control?.path
        let t = Thread {
            while !stopRequested.load(ordering: .relaxed) {
                usleep(100_000)
                guard reloadRequested.exchange(false, ordering: .relaxed) else { continue }
                guard let file, let socket else {
                    logLine("fabric switch: SIGHUP ignored: " + (file == nil ? "a bridge without --config has no file to reload" : "no control socket (--no-control)"))
                    continue
                }
                let answer = (try? ControlClient.request(path: socket, "config apply \(file)", timeout: 10))
                    .map { String(decoding: $0, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines) } ?? "error: the switch did not answer"
                logLine("fabric switch: SIGHUP: config apply \(file): \(answer)")
            }
        }
        t.name = "fabric-reload"
        t.start()
    }

    /// What the stall budget and the buffers made of the rings and the frame memory.
    static func budgetText(_ opts: SwitchOptions, afPacket: Bool) -> String {
        let c = opts.switchConfig, b = c.buffers, f = opts.frameBudget
        let ms = { (ns: Double) in String(format: "%.0f ms", ns / 1e6) }
        var out = "fabric switch: stall budget \(Units.text(nanoseconds: b.stallBudgetNanoseconds)) at up to \(Units.text(gbps: b.stallRateGbps)) a port"
            + " (its speed if lower): rx rings "
        out += zip(c.ports, f.rxRing).map { "\($0.name) \($1)" }.joined(separator: ", ") + " frames, holding "
        out += zip(c.ports, f.stallFrames).map { port, frames in
            let rate = b.stallRate(speedGbps: port.speedGbps)
            return "\(ms(Double(frames * b.minimumChargeBytes) * 8 / rate)) at \(Units.text(gbps: rate))"
        }.joined(separator: ", ") + " of frames >= \(b.minimumChargeBytes) B"
        out += afPacket ? " (AF_PACKET: its own 4 MB of blocks a port instead)\n" : "\n"
        if f.losslessPGs > 0 {
            out += "fabric switch: lossless headroom a PG " + zip(c.ports, f.headroom).map { "\($0.name) \($1) B" }.joined(separator: ", ")
                + "; lossless queues hold \(f.losslessQueueCapacity) frames\n"
        }
        let frames = afPacket ? f.outsideRings : f.total
        let mb = Double(frames * opts.frameSize) / Double(1 << 20)
        out += "fabric switch: frame memory \(frames) frames of \(opts.frameSize) B (\(String(format: "%.0f", mb)) MB): "
            + (afPacket ? "" : "rx/fill \(f.rxRing.reduce(0, +)) + tx/completion \(2 * f.txRing * f.rxRing.count) + ")
            + "queued \(f.queued) + PFC reserve \(f.reserve) + requests/parked \(f.other)" + (f.wire > 0 ? " + emulated wires \(f.wire)" : "") + "\n"
        return out
    }

    /// Everything after the sockets are up, the same for every backend.
    func serve<IO: PortBackend & ~Copyable>(_ sw: inout FabricSwitch<IO>, _ opts: SwitchOptions, workers: Int = 1) throws {
        let switchName = flags.name ?? opts.config?.name ?? netns ?? "bridge"
        for c in flags.captures {
            try orExit { try sw.capture(port: c.port, path: c.file, limitBytes: flags.captureLimit << 20) }
        }
        if let path = flags.record {
            sw.recorder = try orExit {
                try Recorder(path: path, switchName: switchName, ports: opts.ports,
                             speedsGbps: opts.config?.ports.map(\.speedGbps) ?? opts.ports.map { _ in nil },
                             intervalMicroseconds: flags.recordInterval, limitBytes: flags.recordLimit << 20)
            }
        }
        let modes = zip(opts.ports, sw.attachModes).map { "\($0):\($1)" }.joined(separator: " ")
        let kind = opts.config.map { "\($0.mode.rawValue) '\($0.name)'" } ?? "bridge"
        logEvent("fabric switch: \(kind) forwarding on \(opts.ports.count) ports (\(modes)), poll \(opts.poll.rawValue)"
              + (opts.workerRealtimePriority > 0 ? " (real-time worker, SCHED_FIFO \(opts.workerRealtimePriority))" : "")
              + (workers > 1 ? ", \(workers) workers (rx queues 0...\(workers - 1))" : "") + (netns.map { " in netns \($0)" } ?? ""))
        print(Self.budgetText(opts, afPacket: sw.attachModes.contains("af_packet")), terminator: "")
        if workers > 1 { print("fabric switch: rings, buffers and frame memory above are each worker's") }
        fflush(nil)
        var control: ControlServer?
        defer { control?.stop() }
        if !flags.noControl {
            let c = try orExit { try ControlServer(name: switchName) }
            let plane = ControlPlane(options: opts)
            if workers > 1 {
                c.prepare = { @Sendable _ in
                    throw SystemError("changes run with one worker (each worker has its own tables): restart with the new configuration")
                }
            } else {
                c.prepare = { try plane.prepare($0) }
            }
            c.start()
            sw.control = c
            control = c
            logEvent("fabric switch: control socket \(c.path) (fabric stats --switch \(switchName))")
            fflush(nil)
        }
        watchReloads(control: control)
        var metricsServer: MetricsServer?
        defer { metricsServer?.stop() }
        if let m = flags.metrics, let c = control {
            let server = try orExit { try MetricsServer(host: m.host, port: m.port, allowPublic: flags.metricsPublic, control: c) }
            server.start()
            metricsServer = server
            logEvent("fabric switch: Prometheus metrics at http://\(server.address)/metrics")
            fflush(nil)
        }
        // The first stats file last: whoever waits for it (the lab, the tests) finds the control
        // socket and the metrics endpoint already serving.
        if opts.statsFile != nil { sw.publishStatsNow() }
        let report = sw.run()
        logEvent(String(format: "fabric switch: stopped after %.1f s", report.uptimeSeconds))
        print(report.table, terminator: "")
        fflush(nil)
    }
}
