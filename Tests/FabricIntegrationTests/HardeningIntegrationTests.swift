import FabricTelemetry
import FabricLab
import Foundation
import XCTest

/// Lifecycle hardening, end to end as root: a renamed port, a switch that dies, signals.
final class HardeningIntegrationTests: LabTestCase {
    func ping(_ tb: TopologyTestbed, _ a: Int, _ b: Int, count: Int = 3) throws -> PingResult {
        try Ping.run(from: tb.hostNamespace(a), to: tb.hostAddress(b), count: count, interval: 0.02)
    }

    /// What XDP `ip link` shows on an interface of the switch's namespace ("" when none).
    func xdpOn(_ tb: TopologyTestbed, _ port: String) -> String {
        let out = (try? Shell.run(["ip", "-n", tb.switchNamespace, "-d", "link", "show", "dev", port])) ?? ""
        return out.split(separator: "\n").filter { $0.contains("xdp") || $0.contains("prog/xdp") }.joined(separator: "\n")
    }

    /// A switch that did not stop in order leaves its control socket (the next start of that
    /// name would remove it); the test removes it itself.
    func removeControlSocketAfterwards(_ tb: TopologyTestbed) {
        let dir = ControlServer.directory(name: "\(tb.prefix)-sw")
        addTeardownBlock {
            unlink(dir + "/control.sock")
            rmdir(dir)
        }
    }

    func waitFor(_ sw: RunningSwitch, _ text: String, seconds: Double = 5) -> Bool {
        let deadline = Date().addingTimeInterval(seconds)
        while !sw.child.output.contains(text) && Date() < deadline { usleep(20_000) }
        return sw.child.output.contains(text)
    }

    /// A port renamed while its socket is bound is the same device: the switch follows its
    /// ifindex, keeps it in service and forwarding, and detaches its program at the end.
    func testRenamedInterfaceIsFollowedNotTakenForVanished() throws {
        let tb = try makeTestbed(hosts: 2)
        let sw = try startSwitch(tb)
        XCTAssertEqual(try ping(tb, 1, 2).received, 3)
        let ns = tb.switchNamespace
        // The kernel renames only a device that is down.
        try Shell.run(["ip", "-n", ns, "link", "set", "h1", "down"])
        try Shell.run(["ip", "-n", ns, "link", "set", "h1", "name", "h1x"])
        try Shell.run(["ip", "-n", ns, "link", "set", "h1x", "up"])
        XCTAssertTrue(waitFor(sw, "renamed to h1x"), sw.child.output)
        XCTAssertFalse(sw.child.output.contains("interface disappeared"), sw.child.output)
        var received = 0
        for _ in 0..<5 where received < 5 { received = try ping(tb, 1, 2, count: 5).received }
        XCTAssertEqual(received, 5, "h1 <-> h2 forwarded through the renamed port")
        XCTAssertFalse(xdpOn(tb, "h1x").isEmpty, "the program stays on the renamed interface while the switch runs")
        XCTAssertEqual(sw.child.stop(), 0)
        let final = try StatsFile.read(statsFile)
        XCTAssertEqual(final.ports.map(\.inService), [true, true])
        XCTAssertTrue(final.ledger.balances, "\(final.ledger)")
        XCTAssertEqual(final.ledger.inKernelFlight, 0, "\(final.ledger)")
        XCTAssertEqual(xdpOn(tb, "h1x"), "", "detached from the renamed interface at the end")
    }

    /// XDP is held by a bpf_link: a switch that dies of SIGKILL leaves no program on its ports,
    /// so frames go to the kernel again instead of into a socket nobody reads.
    func testSIGKILLLeavesNoXDPProgramAttached() throws {
        let tb = try makeTestbed(hosts: 2)
        let sw = try startSwitch(tb)
        removeControlSocketAfterwards(tb)
        XCTAssertEqual(try ping(tb, 1, 2).received, 3)
        for p in tb.switchPorts { XCTAssertFalse(xdpOn(tb, p).isEmpty, "attached on \(p) while running") }
        let links = (try? Shell.run(["bpftool", "link", "show"], check: false)) ?? ""
        sw.child.signal(SIGKILL)
        XCTAssertNotNil(sw.child.wait(timeout: 5))
        for p in tb.switchPorts {
            var left = xdpOn(tb, p)
            for _ in 0..<50 where !left.isEmpty {   // the kernel releases the link as the process's files close
                usleep(20_000)
                left = xdpOn(tb, p)
            }
            XCTAssertEqual(left, "", "XDP program left on \(p) after SIGKILL")
        }
        if links.contains("xdp") {
            let after = (try? Shell.run(["bpftool", "link", "show"], check: false)) ?? ""
            XCTAssertFalse(after.contains("prog_name fabric_xsk") && after.contains("ifindex"), "no fabric_xsk link left: \(after)")
        }
    }

    /// SIGHUP applies the configuration file again (through the change channel), SIGQUIT stops
    /// the switch in order like SIGTERM.
    func testSIGHUPReloadsTheConfigAndSIGQUITStopsInOrder() throws {
        let (tb, sw) = try routedBedWithSwitch(hosts: 2)
        XCTAssertEqual(try ping(tb, 1, 2).received, 3)
        sw.child.signal(SIGHUP)
        XCTAssertTrue(waitFor(sw, "SIGHUP: config apply"), sw.child.output)
        XCTAssertTrue(sw.child.isRunning, "SIGHUP does not stop the switch")
        XCTAssertFalse(sw.child.output.contains("SIGHUP: config apply \(tb.configPath): error"), sw.child.output)
        XCTAssertEqual(try ping(tb, 1, 2).received, 3, "forwarding after the reload")
        sw.child.signal(SIGQUIT)
        XCTAssertEqual(sw.child.wait(timeout: 5), 0, sw.child.output)
        XCTAssertTrue(sw.child.output.contains("stopped after"), "orderly stop with its summary: \(sw.child.output)")
        XCTAssertFalse(try StatsFile.read(statsFile).running)
    }

    /// A shutdown stuck in a write (here: --record into a pipe nobody reads) ends at the second
    /// SIGTERM, at once, and the kernel still takes the programs off the ports.
    func testSecondStopSignalEscapesAStuckShutdown() throws {
        let tb = try makeTestbed(hosts: 2)
        let fifo = NSTemporaryDirectory() + "fabric-it-stuck-\(getpid()).fifo"
        unlink(fifo)
        XCTAssertEqual(mkfifo(fifo, 0o600), 0)
        let reader = open(fifo, O_RDONLY | O_NONBLOCK)   // holds the pipe open, never reads it
        XCTAssertGreaterThanOrEqual(reader, 0)
        defer {
            close(reader)
            unlink(fifo)
        }
        // Busy polling samples every 10 us even when idle: the pipe is full within a tick or two
        // and the worker blocks writing the next flush.
        let sw = try startSwitch(tb, extra: ["--record", fifo, "--record-interval", "10", "--poll", "busy"])
        removeControlSocketAfterwards(tb)
        usleep(500_000)
        sw.child.signal(SIGTERM)
        XCTAssertNil(sw.child.wait(timeout: 1), "the orderly shutdown is stuck behind the write")
        sw.child.signal(SIGTERM)
        XCTAssertEqual(sw.child.wait(timeout: 3), 128 + SIGTERM, sw.child.output)
        XCTAssertTrue(sw.child.output.contains("second stop signal"), sw.child.output)
        for p in tb.switchPorts {
            var left = xdpOn(tb, p)
            for _ in 0..<50 where !left.isEmpty {
                usleep(20_000)
                left = xdpOn(tb, p)
            }
            XCTAssertEqual(left, "", "XDP program left on \(p)")
        }
    }
}
