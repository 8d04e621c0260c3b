import FabricLab
import FabricTelemetry
import Foundation
import XCTest

/// `--ring-wait on` (the default) on real sockets: the XDP program stamps every frame it steers
/// to a socket, the worker reads the stamp, and residence times start at the stamp; the wait in
/// the rx ring is its own histogram per ingress port.
final class RingWaitIntegrationTests: LabTestCase {
    func report(_ tb: TopologyTestbed) throws -> SwitchReport {
        let json = try Shell.run([fabric, "stats", "--switch", "\(tb.prefix)-sw", "--json"])
        return try JSONDecoder().decode(SwitchReport.self, from: Data(json.utf8))
    }

    /// UDP h1 -> h2 through the router: every frame h1's port received carries a stamp, and
    /// the ring part of h2's queue residence is the ring wait h1's frames had (each received
    /// frame left by that one queue), so residence from the XDP stamp exceeds residence from
    /// the worker's receive by exactly the mean ring wait.
    func testResidenceFromTheXDPStampIncludesTheRingWait() throws {
        let tb = try makeTestbed(hosts: 2, routed: true)
        let sw = try startSwitch(tb)
        XCTAssertEqual(try Ping.run(from: tb.hostNamespace(1), to: tb.hostAddress(2), count: 3, interval: 0.02).received, 3)
        // Zeroed in the switch (histograms cannot be subtracted as `fabric stats clear` does).
        _ = try Shell.run([fabric, "ctl", "--switch", "\(tb.prefix)-sw", "clear", "counters"])
        let udp = try UDPRun.run(fabric: fabric, from: tb.hostNamespace(1), to: tb.hostNamespace(2),
                                 address: tb.hostAddress(2), count: 20_000, pps: 100_000)
        XCTAssertEqual(udp.receive.unique, 20_000)
        let r = try report(tb)
        let h1 = r.ports[0], h2 = r.ports[1]
        let wait = try XCTUnwrap(h1.ringWait, "h1's frames carry XDP stamps")
        XCTAssertEqual(wait.count, h1.rxFrames, "every frame the pipeline received from h1 had a stamp")
        XCTAssertGreaterThanOrEqual(wait.count, 20_000)
        XCTAssertLessThan(wait.max, 1_000_000, "a wait of a second or more is no stamp of this run")
        XCTAssertGreaterThan(wait.meanMicroseconds, 0)
        let below = try XCTUnwrap(wait.below)
        XCTAssertEqual(below, below.sorted(), "cumulative")
        XCTAssertLessThanOrEqual(below.last ?? 0, wait.count)

        let q = h2.queues[0].residence
        XCTAssertGreaterThanOrEqual(q.count, 20_000)
        // The frames h2's queue 0 sent are h1's (UDP, echo requests, ARP); the switch's own
        // frames (ARP it sends) carry no stamp. So the ring parts agree to within those few.
        XCTAssertEqual(q.ringMeanMicroseconds, wait.meanMicroseconds, accuracy: wait.meanMicroseconds * 0.10 + 1,
                       "mean (XDP-stamped - worker-stamped) residence on h2 vs mean ring wait on h1")
        XCTAssertGreaterThan(q.meanMicroseconds, q.ringMeanMicroseconds, "and the worker's own part is more than nothing")
        XCTAssertGreaterThanOrEqual(q.p99, wait.p50, "residence p99 from the stamp covers at least the median wait")

        let latency = try Shell.run([fabric, "stats", "--switch", "\(tb.prefix)-sw", "latency"])
        XCTAssertTrue(latency.contains("from the frame's arrival (XDP stamp)") && latency.contains("Rx-ring wait per ingress port"), latency)
        XCTAssertEqual(sw.child.stop(), 0)
        let final = try StatsFile.read(statsFile)
        XCTAssertNotNil(final.ports[0].ringWait, "in the stats file too")
    }

    /// --ring-wait off: no stamps, no ring-wait histogram; residence starts at the worker's
    /// receive and has no ring part.
    func testRingWaitOffMeasuresFromTheWorker() throws {
        let tb = try makeTestbed(hosts: 2, routed: true)
        let sw = try startSwitch(tb, extra: ["--ring-wait", "off"])
        XCTAssertEqual(try Ping.run(from: tb.hostNamespace(1), to: tb.hostAddress(2), count: 10, interval: 0.01).received, 10)
        let r = try report(tb)
        XCTAssertNil(r.ports[0].ringWait)
        XCTAssertNil(r.ports[1].ringWait)
        let q = r.ports[1].queues[0].residence
        XCTAssertGreaterThanOrEqual(q.count, 10)
        XCTAssertEqual(q.ringMicroseconds, 0)
        let latency = try Shell.run([fabric, "stats", "--switch", "\(tb.prefix)-sw", "latency"])
        XCTAssertTrue(latency.contains("from the worker's receive") && !latency.contains("Rx-ring wait"), latency)
        XCTAssertEqual(sw.child.stop(), 0)
    }
}
