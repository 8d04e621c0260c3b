import FabricConfig
import FabricCore
import FabricLab
import FabricPacket
import FabricTelemetry
import Foundation
import XCTest

/// `fabric ctl config apply` changing a running switch's link emulation and QoS maps, and
/// refusing what needs a restart, on a star bed.
final class LiveConfigIntegrationTests: LabTestCase {
    func median(_ v: [Double]) -> Double {
        let s = v.sorted()
        return s.count % 2 == 1 ? s[s.count / 2] : (s[s.count / 2 - 1] + s[s.count / 2]) / 2
    }

    func apply(_ c: SwitchConfig) throws -> String {
        let path = NSTemporaryDirectory() + "fabric-it-live-\(getpid())-\(UUID().uuidString.prefix(8)).yaml"
        try SwitchConfigYAML.write(c, to: path, header: "live change")
        defer { try? FileManager.default.removeItem(atPath: path) }
        return (try? Shell.run([launcher.fabric, "ctl", "--switch", c.name, "config", "apply", path], check: false)) ?? "failed"
    }

    /// The switch starts with `delay: 2ms` on both host ports at 1 Gb/s (so its frame memory
    /// holds those wires): removed live, the ping median drops by 4 ms; applied live again, it
    /// rises by 4 ms; 4 ms, twice the wire, is refused (the frame memory was sized at start); a
    /// DSCP map changed live moves pings to another queue; an address change is refused whole,
    /// naming the port. The switch drops nothing throughout.
    func testConfigApplyChangesDelayAndQoSLiveAndRefusesWhatNeedsARestart() throws {
        let tb = try makeTestbed(hosts: 2, routed: true)
        var base = config(tb)
        for p in 0..<2 {
            base.ports[p].speedGbps = 1
            base.ports[p].delayNanoseconds = 2_000_000
        }
        let sw = try startSwitch(tb, config: base)
        func pings(_ count: Int = 60) throws -> Double {
            let r = try Ping.run(from: tb.hostNamespace(1), to: tb.hostAddress(2), count: count, interval: 0.02, waitSeconds: 2)
            XCTAssertEqual(r.received, count, "no ping lost")
            return median(r.rttMilliseconds)
        }
        _ = try pings(5)
        let delayed = try pings()
        var plain = base
        plain.ports[0].delayNanoseconds = 0
        plain.ports[1].delayNanoseconds = 0
        let a1 = try apply(plain)
        XCTAssertTrue(a1.contains("ok: applied") && a1.contains("link (speed, delay, loss)"), a1)
        let without = try pings()
        let a2 = try apply(base)
        XCTAssertTrue(a2.contains("ok: applied"), a2)
        let again = try pings()
        print("live config: ping median \(delayed) ms with 2 ms per host port, \(without) ms with the delay removed live, \(again) ms with it applied again")
        XCTAssertEqual(delayed - without, 4, accuracy: 0.5, "delay removed live")
        XCTAssertEqual(again - without, 4, accuracy: 0.5, "delay applied live")
        var longer = base
        longer.ports[1].delayNanoseconds = 4_000_000
        let refused = try apply(longer)
        XCTAssertTrue(refused.contains("nothing applied") && refused.contains("frame memory"), refused)

        // DSCP 0 (ping) to traffic class 2 (queue 2 by the default map) instead of 0.
        var remapped = base
        remapped.qos.dscpToTC[0] = 2
        let a3 = try apply(remapped)
        XCTAssertTrue(a3.contains("ok: applied") && a3.contains("qos"), a3)
        _ = try pings(20)

        var readdressed = remapped
        readdressed.ports[0].addresses = [IPPrefix("10.250.1.254/24", strict: false)!]
        let a4 = try apply(readdressed)
        XCTAssertTrue(a4.contains("nothing applied") && a4.contains("port \(base.ports[0].name)"), a4)
        _ = try pings(5)   // still routing with the old addresses

        XCTAssertEqual(sw.stop(), 0)
        let report = try StatsFile.read(statsFile)
        XCTAssertTrue(report.ledger.balances, "\(report.ledger)")
        XCTAssertEqual(report.ports.map(\.dropsTotal), [0, 0], "nothing dropped: \(report.ports.map(\.drops))")
        let h2 = report.ports[1].queues
        let queue2 = remapped.qos.tcToQueue[2]
        XCTAssertGreaterThanOrEqual(h2[Int(queue2)].enqueued, 25, "pings after the QoS change left through queue \(queue2)")
        XCTAssertGreaterThanOrEqual(h2[0].enqueued, 180, "and before it through queue 0")
    }
}
