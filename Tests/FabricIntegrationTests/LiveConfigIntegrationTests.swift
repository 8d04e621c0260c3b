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

    /// Delay added live raises the ping median by 4 ms (2 ms on each host port) and removed
    /// live brings it back; a DSCP map changed live moves pings to another queue; an address
    /// change is refused whole, naming the port. The switch loses nothing throughout.
    func testConfigApplyChangesDelayAndQoSLiveAndRefusesAddressChanges() throws {
        let tb = try makeTestbed(hosts: 2, routed: true)
        let base = config(tb)
        let sw = try startSwitch(tb, config: base)
        func pings(_ count: Int = 60) throws -> Double {
            let r = try Ping.run(from: tb.hostNamespace(1), to: tb.hostAddress(2), count: count, interval: 0.02, waitSeconds: 2)
            XCTAssertEqual(r.received, count, "no ping lost")
            return median(r.rttMilliseconds)
        }
        _ = try pings(5)
        let plain = try pings()
        var delayed = base
        delayed.ports[0].delayNanoseconds = 2_000_000
        delayed.ports[1].delayNanoseconds = 2_000_000
        let a1 = try apply(delayed)
        XCTAssertTrue(a1.contains("ok: applied") && a1.contains("link (speed, delay, loss)"), a1)
        let withDelay = try pings()
        let a2 = try apply(base)
        XCTAssertTrue(a2.contains("ok: applied"), a2)
        let after = try pings()
        print("live config: ping median \(plain) ms, with 2 ms per host port applied live \(withDelay) ms, removed again \(after) ms")
        XCTAssertEqual(withDelay - plain, 4, accuracy: 0.5, "delay applied live")
        XCTAssertEqual(after, plain, accuracy: 0.5, "delay removed live")

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
