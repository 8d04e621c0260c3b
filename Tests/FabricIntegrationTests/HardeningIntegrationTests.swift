import FabricTelemetry
import FabricLab
import Foundation
import XCTest

/// Lifecycle hardening, end to end as root: signals.
final class HardeningIntegrationTests: LabTestCase {
    func ping(_ tb: TopologyTestbed, _ a: Int, _ b: Int, count: Int = 3) throws -> PingResult {
        try Ping.run(from: tb.hostNamespace(a), to: tb.hostAddress(b), count: count, interval: 0.02)
    }

    func waitFor(_ sw: RunningSwitch, _ text: String, seconds: Double = 5) -> Bool {
        let deadline = Date().addingTimeInterval(seconds)
        while !sw.child.output.contains(text) && Date() < deadline { usleep(20_000) }
        return sw.child.output.contains(text)
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
    /// SIGTERM, at once.
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
        usleep(500_000)
        sw.child.signal(SIGTERM)
        XCTAssertNil(sw.child.wait(timeout: 1), "the orderly shutdown is stuck behind the write")
        sw.child.signal(SIGTERM)
        XCTAssertEqual(sw.child.wait(timeout: 3), 128 + SIGTERM, sw.child.output)
        XCTAssertTrue(sw.child.output.contains("second stop signal"), sw.child.output)
    }
}
