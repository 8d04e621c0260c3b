import FabricCore
import FabricLab
import FabricPacket
import FabricTelemetry
import Foundation
import XCTest

/// Address scans of a connected subnet (RFC 6583) against the switch's neighbour tables: h1
/// sends to hundreds of unused addresses in h2's subnet through the switch, which asks for
/// each; afterwards, and while a scan still runs, an address newly added on h2 must be
/// reachable from h1 within a few seconds, and h2's own address must stay reachable.
final class NeighbourScanIntegrationTests: LabTestCase {
    /// A Python one-liner run in `ns`: one UDP datagram (port 9, discard) to each address
    /// `format % i` for i in `range`, as fast as the socket takes them.
    func scan(_ ns: String, family: String, format: String, range: Range<Int>) throws {
        let script = """
            import socket
            s = socket.socket(socket.\(family), socket.SOCK_DGRAM)
            for i in range(\(range.lowerBound), \(range.upperBound)):
                s.sendto(b'scan', ('\(format)' % i, 9))
            """
        try Shell.inNamespace(ns, ["python3", "-c", script])
    }

    /// A scan that keeps going in the background: `rate` new random addresses a second in the
    /// /64 `net6` (e.g. "fd77:2::") for `seconds`, stopped after the test at the latest.
    func backgroundScan6(_ ns: String, net6: String, rate: Int, seconds: Int) throws -> ChildProcess {
        let script = """
            import random, socket, time
            s = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
            start = time.time(); n = 0
            while time.time() - start < \(seconds):
                for _ in range(20):
                    s.sendto(b'scan', ('\(net6)%x:%x:%x' % (random.getrandbits(16) | 1, random.getrandbits(16), random.getrandbits(16)), 9))
                    n += 1
                ahead = n / \(rate) - (time.time() - start)
                if ahead > 0: time.sleep(ahead)
            print(n)
            """
        let child = try ChildProcess(["ip", "netns", "exec", ns, "python3", "-c", script])
        addTeardownBlock { _ = child.stop(grace: 2) }
        return child
    }

    /// Pings `address` from `ns` once a second until it answers or `deadline` seconds pass;
    /// the seconds it took, or nil.
    func secondsUntilAnswered(from ns: String, to address: String, deadline: Double) throws -> Double? {
        let start = Date()
        while Date().timeIntervalSince(start) < deadline {
            if try Ping.run(from: ns, to: address, count: 1, waitSeconds: 1).received == 1 { return Date().timeIntervalSince(start) }
        }
        return nil
    }

    /// The summed neighbour counters of every port, and the table's fill, from the stats file.
    func neighbourState() throws -> (counters: NeighbourCounters, resolved: Int, resolving: Int) {
        let r = try StatsFile.read(statsFile)
        var c = NeighbourCounters()
        for p in r.ports { c.add(p.neighbour) }
        let resolved = r.neighbours.filter { $0.mac != nil }.count
        return (c, resolved, r.neighbours.count - resolved)
    }

    /// The reported bug: 300 unused addresses in h2's /64, then a new address on h2.
    func testIPv6ScanOfASubnetDoesNotCutOffANewHost() throws {
        let (tb, sw) = try routedBedWithSwitch(hosts: 2)
        let h1 = tb.hostNamespace(1), h2 = tb.hostNamespace(2)
        XCTAssertEqual(try Ping.run(from: h1, to: tb.hostAddress6(2), count: 2, interval: 0.05).received, 2, "h2 resolved before the scan")
        let net6 = String(tb.hostAddress6(2).dropLast(1))  // "fd77:2::"
        try scan(h1, family: "AF_INET6", format: net6 + "1:%x", range: 0..<300)
        usleep(300_000)
        let during = try neighbourState()
        XCTAssertGreaterThan(during.counters.requestsRateLimited + during.counters.incompleteLimitHits, 0,
                             "300 new addresses at once exceed the request budget: \(during)")

        try Shell.run(["ip", "-n", h2, "addr", "add", net6 + "beef/64", "dev", tb.hostInterface(2), "nodad"])
        let took = try secondsUntilAnswered(from: h1, to: net6 + "beef", deadline: 5)
        XCTAssertNotNil(took, "the new address \(net6)beef answers through the switch after the scan")
        XCTAssertEqual(try Ping.run(from: h1, to: tb.hostAddress6(2), count: 3, interval: 0.05).received, 3, "h2 still reachable")
        // Unanswered addresses fail 3 s after their first request; the table empties of them.
        sleep(4)
        let after = try neighbourState()
        XCTAssertEqual(after.resolving, 0, "every scanned address failed and went: \(after)")
        XCTAssertGreaterThan(after.counters.failed, 0)
        print("IPv6 scan of 300: new host answered after \(String(format: "%.2f", took ?? -1)) s; counters \(after.counters); "
              + "\(after.resolved) resolved")
        XCTAssertEqual(sw.child.stop(), 0)
        let final = try StatsFile.read(statsFile)
        XCTAssertTrue(final.ledger.balances, "\(final.ledger)")
    }

    /// A new host must resolve while a scan of its subnet is still running, and hosts already
    /// resolved keep working throughout.
    func testIPv6NewHostResolvesDuringASustainedScan() throws {
        let (tb, sw) = try routedBedWithSwitch(hosts: 2)
        let h1 = tb.hostNamespace(1), h2 = tb.hostNamespace(2)
        XCTAssertEqual(try Ping.run(from: h1, to: tb.hostAddress6(2), count: 2, interval: 0.05).received, 2)
        let net6 = String(tb.hostAddress6(2).dropLast(1))
        let scanner = try backgroundScan6(h1, net6: net6, rate: 2000, seconds: 12)
        sleep(1)
        try Shell.run(["ip", "-n", h2, "addr", "add", net6 + "beef/64", "dev", tb.hostInterface(2), "nodad"])
        let took = try secondsUntilAnswered(from: h1, to: net6 + "beef", deadline: 6)
        XCTAssertTrue(scanner.isRunning, "the scan was still running when the new host answered")
        XCTAssertNotNil(took, "the new address answers through the switch while the scan runs")
        let old = try Ping.run(from: h1, to: tb.hostAddress6(2), count: 5, interval: 0.1)
        XCTAssertEqual(old.received, 5, "h2's resolved address keeps working during the scan")
        let state = try neighbourState()
        XCTAssertGreaterThan(state.counters.requestsRateLimited, 0, "\(state)")
        print("IPv6 sustained scan at 2000/s: new host answered after \(String(format: "%.2f", took ?? -1)) s; "
              + "counters \(state.counters); \(state.resolved) resolved, \(state.resolving) resolving")
        _ = scanner.stop(grace: 2)
        XCTAssertEqual(sw.child.stop(), 0)
        XCTAssertTrue(try StatsFile.read(statsFile).ledger.balances)
    }

    /// IPv4: the table holds 2048 entries, so the scan needs a larger subnet than the bed's
    /// /24s: h2's port also gets 10.78.0.0/20, and h1 sends to 2100 of its addresses (in about
    /// 10 s).
    func testIPv4ScanOfASubnetDoesNotCutOffANewHost() throws {
        let tb = try makeTestbed(hosts: 2, routed: true)
        let h1 = tb.hostNamespace(1), h2 = tb.hostNamespace(2)
        try Shell.run(["ip", "-n", h2, "addr", "add", "10.78.0.1/20", "dev", tb.hostInterface(2)])
        let sw = try startSwitch(tb, config: config(tb) { $0.ports[1].addresses.append(IPPrefix("10.78.0.254/20", strict: false)!) })
        XCTAssertEqual(try Ping.run(from: h1, to: "10.78.0.1", count: 2, interval: 0.05).received, 2, "h2 resolved before the scan")
        // In waves of 250 a little over a second apart: each wave's datagrams fit the switch's
        // pending queue (256 frames, 1 s), so every address is asked for, as a slower scan would.
        let script = """
            import socket, time
            s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            for i in range(2100):
                if i and i % 250 == 0: time.sleep(1.25)
                s.sendto(b'scan', ('10.78.%d.%d' % (1 + i // 250, 1 + i % 250), 9))
            """
        try Shell.inNamespace(h1, ["python3", "-c", script])
        usleep(300_000)
        try Shell.run(["ip", "-n", h2, "addr", "add", "10.78.15.9/20", "dev", tb.hostInterface(2)])
        let took = try secondsUntilAnswered(from: h1, to: "10.78.15.9", deadline: 5)
        XCTAssertNotNil(took, "the new address 10.78.15.9 answers through the switch after the scan")
        XCTAssertEqual(try Ping.run(from: h1, to: "10.78.0.1", count: 3, interval: 0.05).received, 3, "h2 still reachable")
        let state = try neighbourState()
        print("IPv4 scan of 2100: new host answered after \(String(format: "%.2f", took ?? -1)) s; counters \(state.counters)")
        XCTAssertEqual(sw.child.stop(), 0)
        XCTAssertTrue(try StatsFile.read(statsFile).ledger.balances)
    }
}
