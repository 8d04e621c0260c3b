import FabricCore
import FabricLab
import FabricTelemetry
import Foundation
import XCTest

/// The switch's link emulation end to end: a star bed, the switch's ports facing h1 and h2
/// delaying or losing what they send.
final class LinkEmulationIntegrationTests: LabTestCase {
    func median(_ v: [Double]) -> Double {
        let s = v.sorted()
        return s.count % 2 == 1 ? s[s.count / 2] : (s[s.count / 2 - 1] + s[s.count / 2]) / 2
    }

    /// 100 pings h1 -> h2 through the switch without delay, then with `delay: 2ms` on both
    /// host ports (the request is delayed on h2's port, the reply on h1's): the median RTT rises
    /// by 4 ms, within 10% + 100 us. Both runs in this test, on the same bed.
    func testTwoMillisecondsOnBothHostPortsAddFourToThePingMedian() throws {
        let tb = try makeTestbed(hosts: 2, routed: true)
        func pings(_ config: SwitchConfig?) throws -> (median: Double, report: SwitchReport) {
            let sw = try startSwitch(tb, config: config)
            _ = try Ping.run(from: tb.hostNamespace(1), to: tb.hostAddress(2), count: 5, interval: 0.05)   // ARP, warm caches
            let r = try Ping.run(from: tb.hostNamespace(1), to: tb.hostAddress(2), count: 100, interval: 0.02, waitSeconds: 2)
            XCTAssertEqual(r.received, 100, "no ping lost")
            XCTAssertEqual(sw.stop(), 0)
            let report = try StatsFile.read(statsFile)
            XCTAssertTrue(report.ledger.balances, "\(report.ledger)")
            let s = r.rttMilliseconds.sorted()
            print("link emulation: ping h1 -> h2 \(config == nil ? "no delay" : "2 ms per host port"): min \(s.first ?? 0) median \(median(s)) "
                  + "p90 \(s[s.count * 9 / 10]) max \(s.last ?? 0) ms")
            return (median(s), report)
        }
        let plain = try pings(nil)
        let delayed = try pings(config(tb) { c in
            c.ports[0].delayNanoseconds = 2_000_000
            c.ports[1].delayNanoseconds = 2_000_000
        })
        let rise = delayed.median - plain.median
        print("link emulation: median RTT rose \(rise) ms (expected 4 ms)")
        XCTAssertEqual(rise, 4, accuracy: 0.4 + 0.1, "median \(plain.median) -> \(delayed.median) ms")
        XCTAssertEqual(delayed.report.ports.map { $0.drops.values.reduce(0, +) }, [0, 0], "nothing dropped")
    }

    /// 1000 pings through a port losing 10% (seeded): the switch counts each loss as
    /// `emulated_loss`, the port's loss rate is within 5 standard deviations of 10%, and ping
    /// sees the same losses (the reply's way, h1's port, loses nothing).
    func testLossIsCountedAndWithinItsBinomialBounds() throws {
        let tb = try makeTestbed(hosts: 2, routed: true)
        let sw = try startSwitch(tb, config: config(tb) { c in
            c.ports[1].lossPercent = 10
            c.ports[1].lossSeed = 1234
        })
        _ = try Ping.run(from: tb.hostNamespace(1), to: tb.hostAddress(2), count: 5, interval: 0.05)
        let n = 1000
        let r = try Ping.run(from: tb.hostNamespace(1), to: tb.hostAddress(2), count: n, interval: 0.002, waitSeconds: 1)
        XCTAssertEqual(sw.stop(), 0)
        let report = try StatsFile.read(statsFile)
        XCTAssertTrue(report.ledger.balances, "\(report.ledger)")
        let h2 = report.ports[1]
        let lost = h2.drops["emulated_loss"] ?? 0
        let offered = lost + h2.txFrames
        let sd = (Double(offered) * 0.1 * 0.9).squareRoot()
        print("link emulation: port h2 lost \(lost) of \(offered) frames (\(Double(lost) / Double(offered) * 100)%); "
              + "ping lost \(r.transmitted - r.received) of \(r.transmitted)")
        XCTAssertGreaterThanOrEqual(offered, UInt64(n))
        XCTAssertEqual(Double(lost), Double(offered) * 0.1, accuracy: 5 * sd, "\(lost) of \(offered)")
        let pingSD = (Double(n) * 0.1 * 0.9).squareRoot()
        XCTAssertEqual(Double(r.transmitted - r.received), Double(n) * 0.1, accuracy: 5 * pingSD)
        XCTAssertLessThanOrEqual(UInt64(r.transmitted - r.received), lost, "every ping lost is a frame the switch counted")
        XCTAssertEqual(report.ports[0].drops["emulated_loss"] ?? 0, 0, "h1's port loses nothing")
    }
}
