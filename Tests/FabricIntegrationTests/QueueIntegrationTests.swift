import FabricConfig
import FabricCore
import FabricLab
import FabricSystem
import FabricTelemetry
import Foundation
import XCTest

/// Multi-queue ports (`testbed up --queues N`), the socket's copy mode (`--zero-copy`) and
/// preferred busy polling (`--busy-poll`).
final class QueueIntegrationTests: LabTestCase {
    /// Pings from h1 sent on its veth's transmit queue `queue` (XPS: queue 0 for CPU 0, queue
    /// 1 for CPU 1; the ping pinned to that CPU), so they arrive on the switch's rx queue of
    /// the same number. The replies received.
    func ping(_ tb: TopologyTestbed, onQueue queue: Int) throws -> Int {
        let out = try Shell.run(["ip", "netns", "exec", tb.hostNamespace(1), "taskset", "-c", "\(queue)", "ping", "-c", "3", "-i", "0.2", "-W", "1",
                                 tb.hostAddress(2)], check: false)
        return pingReplies(out)
    }

    /// A switch serving queue 0 of 2-queue ports: frames on queue 1 are dropped by its XDP
    /// program and counted (`unserved_queue`), not passed to the switch namespace's kernel.
    func testFramesOnAQueueNoSocketServesAreDroppedAndCounted() throws {
        let tb = try makeTestbed(hosts: 2, queues: 2)
        let iface = tb.hostInterface(1)
        try Shell.inNamespace(tb.hostNamespace(1), ["sh", "-c", "echo 1 > /sys/class/net/\(iface)/queues/tx-0/xps_cpus && echo 2 > /sys/class/net/\(iface)/queues/tx-1/xps_cpus"])
        // No ARP (a kernel timer's retry may leave on either queue): static neighbours.
        try Shell.inNamespace(tb.hostNamespace(1), ["ip", "neigh", "replace", tb.hostAddress(2), "lladdr", tb.hostMAC(2), "dev", iface])
        try Shell.inNamespace(tb.hostNamespace(2), ["ip", "neigh", "replace", tb.hostAddress(1), "lladdr", tb.hostMAC(1), "dev", tb.hostInterface(2)])
        // h2 answers on queue 0 whatever CPU it runs on.
        let iface2 = tb.hostInterface(2)
        try Shell.inNamespace(tb.hostNamespace(2), ["sh", "-c", "echo 3 > /sys/class/net/\(iface2)/queues/tx-0/xps_cpus && echo 0 > /sys/class/net/\(iface2)/queues/tx-1/xps_cpus"])
        let sw = try startSwitch(tb)
        XCTAssertEqual(try ping(tb, onQueue: 0), 3, "queue 0 is served")
        XCTAssertEqual(try ping(tb, onQueue: 1), 0, "queue 1 is not")
        XCTAssertEqual(sw.stop(), 0)
        let r = try StatsFile.read(statsFile)
        XCTAssertGreaterThanOrEqual(r.ports[0].socket.unservedQueue, 3, "h1's echo requests on queue 1, counted")
        XCTAssertEqual(r.ports[0].xdpPassed, 0, "nothing passed to the kernel")
        XCTAssertTrue(r.ledger.balances)
    }

    /// veth has no zero-copy: `--zero-copy on` refuses to start, naming the port and why;
    /// `auto` and `off` run in copy mode and say so per port.
    func testZeroCopyIsAskedForAndReportedPerPort() throws {
        let tb = try makeTestbed(hosts: 2)
        XCTAssertThrowsError(try startSwitch(tb, extra: ["--zero-copy", "on"])) { error in
            XCTAssertTrue("\(error)".contains("in zero-copy mode (--zero-copy on"), "\(error)")
        }
        for mode in ["auto", "off"] {
            let sw = try startSwitch(tb, extra: ["--zero-copy", mode])
            XCTAssertEqual(sw.stop(), 0)
            let r = try StatsFile.read(statsFile)
            XCTAssertEqual(r.ports.map(\.xdpMode), ["native/copy", "native/copy"], "--zero-copy \(mode)")
        }
    }

    /// With preferred busy polling asked for, frames still cross both ways; on Linux 6.13+ the
    /// switch says per port that it cannot busy-poll a copy-mode socket (veth's: no NAPI id);
    /// an invalid value is refused before start.
    func testBusyPollingForwardsAndSaysWhenItCannotWork() throws {
        let tb = try makeTestbed(hosts: 2)
        let sw = try startSwitch(tb, extra: ["--busy-poll", "50"])
        XCTAssertEqual(try ping(tb, onQueue: 0), 3)
        XCTAssertEqual(sw.stop(), 0)
        if let k = KernelRelease.running, k >= .busyPollNeedsZeroCopy {
            for port in ["h1", "h2"] {
                XCTAssertTrue(sw.child.output.contains("port \(port): --busy-poll has no effect: its AF_XDP socket has no NAPI to poll"),
                              "\(port): \(sw.child.output.suffix(2000))")
            }
        }
        XCTAssertThrowsError(try startSwitch(tb, extra: ["--busy-poll", "2000000"])) { error in
            XCTAssertTrue("\(error)".contains("busy poll must be 0...1000000 microseconds"), "\(error)")
        }
    }
}
