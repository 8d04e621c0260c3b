import FabricCore
import Foundation

/// `fabric demo`: what the lab shows, in three parts, each on a test bed of its own that is torn
/// down afterwards (also on failure and on Ctrl-C: every wait checks `Interrupt`):
/// 1. a first check: ping, UDP and TCP through the switch as a learning bridge;
/// 2. lossless Ethernet: RoCEv2 incast (3 senders into a 200 Mb/s port) with PFC on and off:
///    what is lost, PFC frames, RC retransmissions, completion; the report's plots come from
///    the PFC-on run;
/// 3. the ECMP collision tax: a ring all-reduce across a leaf-spine under ecmp and flowlet,
///    JCT per draw of QP numbers against the ideal.
public struct Demo {
    /// The first check's star bed (the other parts derive theirs from its prefix).
    public var testbed: TopologyTestbed
    /// Starts the switch (the `fabric` executable, extra arguments such as --xdp-mode generic).
    public var launcher: SwitchLauncher
    /// The `fabric` executable (the UDP probes run as its subcommands).
    public var fabric: String { launcher.fabric }
    public var pingCount = 5
    public var udpPerPair = 1000
    public var tcpSeconds = 2
    /// Part 2: seconds per incast run.
    public var incastSeconds = 2.0
    /// Part 3: draws of QP numbers besides the colliding one, each rank's buffer, uplink speed.
    public var seeds = 2
    public var collectiveBuffer = 2 << 20
    public var uplinkGbps = 0.1
    /// Which parts run (1, 2, 3).
    public var parts: Set<Int> = [1, 2, 3]
    /// Where the demo writes its report (plots and summary of the switch's record); nil: none.
    public var reportDirectory: String? = "fabric-demo-report"
    public var log: (String) -> Void = { print($0); fflush(nil) }

    public init(testbed: TopologyTestbed, launcher: SwitchLauncher) {
        self.testbed = testbed
        self.launcher = launcher
    }

    public func run() throws -> String {
        var out = "SwiftFabric demo: real frames through software switches in network namespaces, on this machine.\n\n"
        if parts.contains(1) { out += try firstCheck() }
        if parts.contains(2) { out += try losslessPart() }
        if parts.contains(3) { out += try collisionPart() }
        return out
    }

    /// Part 1: ping, UDP, TCP through one switch.
    func firstCheck() throws -> String {
        let tb = testbed
        log("== 1. first check: \(tb.routed ? "routed" : "bridged") test bed '\(tb.prefix)' with \(tb.hostCount) hosts")
        try tb.up()
        defer {
            tb.down()
            log("== test bed '\(tb.prefix)' removed")
        }
        let statsFile = NSTemporaryDirectory() + "fabric-demo-\(getpid()).json"
        defer { try? FileManager.default.removeItem(atPath: statsFile) }
        let sw = try launcher.start(.init(namespace: tb.switchNamespace, config: tb.configPath, statsFile: statsFile))
        defer { sw.stop() }
        log("== switch running (pid \(sw.child.pid)): \(sw.banner)")
        var out = "1. First check: \(tb.hostCount) hosts around one switch (\(sw.banner) in netns \(tb.switchNamespace))\n"
        out += tb.routed ? "Each host in its own subnet (10.77.i.0/24, default route via the switch at 10.77.i.254): every frame below was routed.\n\n"
                         : "All hosts in 10.77.0.0/24: the switch is a learning bridge.\n\n"
        out += try pingSection()
        out += try udpSection()
        out += try tcpSection()
        let final = try sw.stopAndReport()
        out += "\nSwitch counters (from the switch's exit snapshot)\n"
        out += final.table.split(separator: "\n").map { "  " + $0 }.joined(separator: "\n") + "\n\n"
        return out
    }

    /// Part 2: RoCEv2 incast, PFC on and off.
    func losslessPart() throws -> String {
        let tb = TopologyTestbed.star(prefix: testbed.prefix + "ll", hosts: 4, routed: true)
        log("== 2. lossless Ethernet: routed test bed '\(tb.prefix)', h1,h2,h3 send RoCEv2 into h4 behind a 200 Mb/s port")
        try tb.up()
        defer {
            tb.down()
            log("== test bed '\(tb.prefix)' removed")
        }
        var lab = LosslessIncast(testbed: tb, launcher: launcher)
        lab.seconds = incastSeconds
        let recordFile = NSTemporaryDirectory() + "fabric-demo-\(getpid()).rec"
        defer { try? FileManager.default.removeItem(atPath: recordFile) }
        log("== PFC on")
        let on = try lab.run(pfc: true, cc: "none", switchArguments: reportDirectory != nil ? ["--record", recordFile] : [])
        log("== PFC off")
        let off = try lab.run(pfc: false, cc: "none")
        var out = "2. Lossless Ethernet: RoCEv2 RC incast, 3 senders at \(lab.senderGbps) Gb/s each into h4's 200 Mb/s port, \(Int(lab.seconds)) s, go-back-N\n"
        out += "| PFC | sent | received | lost | resent (RC) | switch drops | receiver host drops | PFC frames | completion s |\n|---|---|---|---|---|---|---|---|---|\n"
        for r in [on, off] {
            out += "| \(r.pfc ? "on" : "off") | \(r.workload.sentPackets) | \(r.workload.receivedPackets) | \(r.workload.lost) | \(r.workload.retransmittedPackets) | "
                + "\(r.switchDrops) | \(r.workload.hostDrops) | \(r.pfcSent) | \(String(format: "%.3f", r.workload.completionSeconds)) |\n"
        }
        out += "With PFC the switch pauses the senders instead of dropping: it loses nothing. Without it the switch drops the excess\n"
            + "and every drop costs go-back-N a window of resends. (Frames the receiving host's own socket dropped, when it fell\n"
            + "behind on the shared cores, are its loss, not the fabric's, and RC repairs them too.)\n"
        if let dir = reportDirectory {
            let report = try ReportRenderer.render(record: recordFile, into: dir)
            out += "Report of the PFC-on run (queue depth, PFC, port load, residence-time CDF): \(report.directory)/index.html\n"
        }
        return out + "\n"
    }

    /// Part 3: the ECMP collision tax on a ring all-reduce.
    func collisionPart() throws -> String {
        let topo = Topology.leafSpine(uplinkGbps: uplinkGbps, flowletIdleNanoseconds: 20_000_000)
        let tb = TopologyTestbed(topology: topo, prefix: testbed.prefix + "ls")
        log("== 3. the collision tax: leaf-spine test bed '\(tb.prefix)' (2 spines, 2 leaves of 4 hosts, \(Int(uplinkGbps * 1000)) Mb/s uplinks)")
        try tb.up()
        defer {
            tb.down()
            log("== test bed '\(tb.prefix)' removed")
        }
        let lab = CollisionLab(lab: LoadBalanceLab(testbed: tb, launcher: launcher))
        let ranks = CollisionLab.interleavedRanks(hostsPerLeaf: 4, leaves: 2)
        var o = CollectiveOptions()
        o.bufferBytes = collectiveBuffer
        var runs: [CollisionRun] = []
        for seed in [-1] + Array(0..<seeds) {
            for mode in [LoadBalancingMode.ecmp, .flowlet] {
                log("== \(mode.name), QPs \(seed < 0 ? "colliding" : "of seed \(seed)")")
                runs.append(try lab.run(mode: mode, seed: seed, ranks: ranks, options: o))
            }
        }
        var out = "3. The ECMP collision tax: ring all-reduce over " + ranks.map(tb.hostName).joined(separator: ",")
            + " (every ring edge crosses the spines: 4 flows leave each leaf over 2 uplinks), \(o.bufferBytes >> 20) MB per rank, go-back-N.\n"
        out += "Seeds are draws of QP numbers (so of UDP source ports, so of ECMP's hash); 'colliding' = the draw that puts every flow of a leaf on one uplink.\n"
        out += "| QPs | ecmp JCT ms | flowlet JCT ms | ecmp / flowlet | flowlet resent |\n|---|---|---|---|---|\n"
        for seed in [-1] + Array(0..<seeds) {
            let e = runs.first { $0.seed == seed && $0.mode == .ecmp }!.collective, f = runs.first { $0.seed == seed && $0.mode == .flowlet }!.collective
            out += "| \(seed < 0 ? "colliding" : "seed \(seed)") | \(String(format: "%.0f", e.jctSeconds * 1000)) | \(String(format: "%.0f", f.jctSeconds * 1000)) | "
                + "\(String(format: "%.2f", f.jctSeconds > 0 ? e.jctSeconds / f.jctSeconds : 0)) | \(f.retransmittedPackets) |\n"
        }
        out += "\n" + CollisionLab.table(runs, ideal: lab.idealSeconds(ranks: ranks, options: o))
        return out
    }

    func pingSection() throws -> String {
        let tb = testbed
        log("== ping: \(pingCount) per ordered pair")
        var all: [Double] = []
        var tx = 0, rx = 0, pairsOK = 0, pairs = 0
        var perPair: [String] = []
        for a in 1...tb.hostCount {
            for b in 1...tb.hostCount where a != b {
                try Interrupt.check()
                let r = try Ping.run(from: tb.hostNamespace(a), to: tb.hostAddress(b), count: pingCount)
                pairs += 1
                tx += r.transmitted
                rx += r.received
                if r.received == r.transmitted && r.transmitted > 0 { pairsOK += 1 }
                all += r.rttMilliseconds
                perPair.append(String(format: "    h%d -> h%d  %2d/%2d replies  p50 %.3f ms", a, b, r.received, r.transmitted,
                                      percentile(r.rttMilliseconds, 50)))
            }
        }
        var s = "Ping (\(pingCount) echo requests per ordered pair, 10 ms apart)\n"
        s += String(format: "  %d/%d pairs complete, %d/%d replies (loss %.1f%%)\n", pairsOK, pairs, rx, tx,
                    tx == 0 ? 100 : 100 * Double(tx - rx) / Double(tx))
        if !all.isEmpty {
            s += String(format: "  RTT ms: min %.3f  avg %.3f  p50 %.3f  p99 %.3f  max %.3f\n",
                        all.min()!, all.reduce(0, +) / Double(all.count), percentile(all, 50), percentile(all, 99), all.max()!)
        }
        return s + perPair.joined(separator: "\n") + "\n\n"
    }

    func udpSection() throws -> String {
        let tb = testbed
        guard tb.hostCount >= 2 else { return "" }
        log("== UDP: \(udpPerPair) datagrams per pair around the ring")
        var s = "UDP bursts (64-byte frames, \(udpPerPair) datagrams per pair, unthrottled)\n"
        for a in 1...tb.hostCount {
            let b = a % tb.hostCount + 1
            let r = try UDPRun.run(fabric: fabric, from: tb.hostNamespace(a), to: tb.hostNamespace(b),
                                   address: tb.hostAddress(b), count: udpPerPair)
            s += String(format: "  h%d -> h%d  sent %6d  received %6d  loss %5.2f%%  reordered %d  send rate %7.0f pps  one-way latency p50 %.0f us p99 %.0f us\n",
                        a, b, r.send.sent, r.receive.unique,
                        100 * Double(r.send.sent - r.receive.unique) / Double(max(1, r.send.sent)),
                        r.receive.reordered, r.send.packetsPerSecond, r.receive.latencyP50, r.receive.latencyP99)
        }
        return s + "\n"
    }

    func tcpSection() throws -> String {
        let tb = testbed
        guard tb.hostCount >= 2 else { return "" }
        guard Shell.exists("iperf3") else { return "TCP: iperf3 not installed (scripts/setup.sh installs it); skipped\n" }
        let dst = tb.hostCount
        log("== TCP: iperf3 h1 -> h\(dst) for \(tcpSeconds) s")
        let server = try ChildProcess(["ip", "netns", "exec", tb.hostNamespace(dst), "iperf3", "-s", "-1", "-p", "5201"])
        defer { server.stop(grace: 2) }
        try Interrupt.sleep(0.3)
        let out = try Shell.inNamespace(tb.hostNamespace(1), ["iperf3", "-c", tb.hostAddress(dst), "-p", "5201",
                                                              "-t", "\(tcpSeconds)", "-J"], check: false)
        guard let json = try? JSONSerialization.jsonObject(with: Data(out.utf8)) as? [String: Any],
              let end = json["end"] as? [String: Any],
              let recv = end["sum_received"] as? [String: Any],
              let bps = (recv["bits_per_second"] as? NSNumber)?.doubleValue else {
            return "TCP (iperf3 h1 -> h\(dst)): failed: \(out.prefix(300))\n"
        }
        let retrans = ((end["sum_sent"] as? [String: Any])?["retransmits"] as? NSNumber)?.intValue ?? 0
        return String(format: "TCP (iperf3, %d s, h1 -> h%d): %.2f Gbit/s received, %d retransmits\n", tcpSeconds, dst, bps / 1e9, retrans)
    }
}
