import Foundation

/// `fabric demo`: bring up a star test bed, run the switch as a child process, put ping, UDP
/// and TCP traffic through it, print a report, and tear everything down (also on failure and
/// on Ctrl-C: every wait checks `Interrupt`).
public struct Demo {
    public var testbed: TopologyTestbed
    /// Starts the switch (the `fabric` executable, extra arguments such as --xdp-mode generic).
    public var launcher: SwitchLauncher
    /// The `fabric` executable (the UDP probes run as its subcommands).
    public var fabric: String { launcher.fabric }
    public var pingCount = 20
    public var udpPerPair = 5000
    public var tcpSeconds = 3
    /// Where the demo writes its report (plots and summary of the switch's record); nil: none.
    public var reportDirectory: String? = "fabric-demo-report"
    public var log: (String) -> Void = { print($0); fflush(nil) }

    public init(testbed: TopologyTestbed, launcher: SwitchLauncher) {
        self.testbed = testbed
        self.launcher = launcher
    }

    public func run() throws -> String {
        let tb = testbed
        log("== bringing up \(tb.routed ? "routed" : "bridged") test bed '\(tb.prefix)' with \(tb.hostCount) hosts")
        try tb.up()
        defer {
            tb.down()
            log("== test bed '\(tb.prefix)' removed")
        }
        let statsFile = NSTemporaryDirectory() + "fabric-demo-\(getpid()).json"
        defer { try? FileManager.default.removeItem(atPath: statsFile) }
        let recordFile = NSTemporaryDirectory() + "fabric-demo-\(getpid()).rec"
        defer { try? FileManager.default.removeItem(atPath: recordFile) }
        let sw = try launcher.start(.init(namespace: tb.switchNamespace, config: tb.configPath, statsFile: statsFile,
                                          arguments: reportDirectory != nil ? ["--record", recordFile] : []))
        defer { sw.stop() }
        log("== switch running (pid \(sw.child.pid)): \(sw.banner)")

        var out = "SwiftFabric demo: \(tb.hostCount) hosts around one switch (test bed '\(tb.prefix)', \(sw.banner) in netns \(tb.switchNamespace))\n"
        out += tb.routed ? "Each host in its own subnet (10.77.i.0/24, default route via the switch at 10.77.i.254): every frame below was routed.\n\n"
                         : "All hosts in 10.77.0.0/24: the switch is a learning bridge.\n\n"
        out += try pingSection()
        out += try udpSection()
        out += try tcpSection()

        let final = try sw.stopAndReport()
        out += "\nSwitch counters (from the switch's exit snapshot)\n"
        out += final.table.split(separator: "\n").map { "  " + $0 }.joined(separator: "\n") + "\n"
        if let dir = reportDirectory {
            let report = try ReportRenderer.render(record: recordFile, into: dir)
            out += "\nReport (queue depth, port load, residence-time CDF, summary): \(report.directory)/index.html\n"
        }
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
