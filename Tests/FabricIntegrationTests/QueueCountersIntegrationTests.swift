import FabricLab
import FabricTelemetry
import Foundation
import XCTest

/// `fabric stats queues` and `pfcwd` in SONiC's shape: per-queue bytes that add up to the
/// frames sent through, and every lossless queue listed by the watchdog view.
final class QueueCountersIntegrationTests: LabTestCase {
    func snapshot(_ name: String) throws -> SwitchReport {
        try JSONDecoder().decode(SwitchReport.self, from: Data(try Shell.run([fabric, "stats", "--switch", name, "--json"]).utf8))
    }

    func testQueueBytesAreTheFrameLengthsSentThrough() throws {
        let (tb, sw) = try routedBedWithSwitch(hosts: 2)
        let name = "\(tb.prefix)-sw"
        // Resolve the neighbours first, so the datagrams below go straight through.
        XCTAssertEqual(try Ping.run(from: tb.hostNamespace(1), to: tb.hostAddress(2), count: 2).received, 2)
        let before = try snapshot(name).ports[1].queues[3]
        // UDP datagrams of known sizes from h1's own kernel socket, DSCP 26 (TC3: queue 3,
        // which the pings above do not use). Each frame: 14 Ethernet + 20 IPv4 + 8 UDP + payload.
        let payloads = (0..<200).map { 18 + ($0 * 37) % 1400 }
        let script = """
            import socket, sys
            s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            s.setsockopt(socket.IPPROTO_IP, socket.IP_TOS, 26 << 2)
            for n in map(int, sys.argv[2:]):
                s.sendto(b'q' * n, (sys.argv[1], 4000))
            """
        try Shell.inNamespace(tb.hostNamespace(1), ["python3", "-c", script, tb.hostAddress(2)] + payloads.map(String.init))
        let expectedBytes = UInt64(payloads.reduce(0) { $0 + 14 + 20 + 8 + $1 })
        var after = before
        for _ in 0..<40 {
            after = try snapshot(name).ports[1].queues[3]
            if after.dequeued - before.dequeued >= UInt64(payloads.count) { break }
            usleep(50_000)
        }
        XCTAssertEqual(after.dequeued - before.dequeued, UInt64(payloads.count), "every datagram left through h2's queue 3")
        XCTAssertEqual((after.dequeuedBytes ?? 0) - (before.dequeuedBytes ?? 0), expectedBytes, "Counter/bytes is the sum of the frame lengths")
        XCTAssertEqual((after.enqueuedBytes ?? 0) - (before.enqueuedBytes ?? 0), expectedBytes)
        XCTAssertEqual(after.droppedBytes, 0)

        // The table, after `clear` so the counts are exactly these frames: SONiC's columns, and
        // the row of h2's UC3 carries the packets and bytes.
        addTeardownBlock { try? FileManager.default.removeItem(atPath: "/run/swiftfabric/stats-baseline-\(name).json") }
        _ = try Shell.run([fabric, "stats", "--switch", name, "clear"])
        try Shell.inNamespace(tb.hostNamespace(1), ["python3", "-c", script, tb.hostAddress(2)] + payloads.map(String.init))
        var row: [String] = []
        var table = ""
        for _ in 0..<40 {
            table = try Shell.run([fabric, "stats", "--switch", name, "queues"])
            row = table.split(separator: "\n").map { $0.split(separator: " ").map(String.init) }.first { $0.first == "h2" && $0.dropFirst().first == "UC3" } ?? []
            if row.count > 2 && row[2] == StatsNumbers.grouped(UInt64(payloads.count)) { break }
            usleep(50_000)
        }
        print(table)
        let header = table.split(separator: "\n").first { $0.hasPrefix("Port") }.map { $0.split(separator: " ").map(String.init) } ?? []
        XCTAssertEqual(Array(header.prefix(6)), ["Port", "TxQ", "Counter/pkts", "Counter/bytes", "Drop/pkts", "Drop/bytes"], table)
        XCTAssertEqual(Array(row.prefix(6)), ["h2", "UC3", StatsNumbers.grouped(UInt64(payloads.count)), StatsNumbers.grouped(expectedBytes), "0", "0"], table)
        XCTAssertEqual(table.split(separator: "\n").filter { $0.hasPrefix("h1 ") || $0.hasPrefix("h2 ") }.count, 16,
                       "every queue of every port, idle ones too (as SONiC): \(table)")
        XCTAssertEqual(sw.child.stop(), 0)
    }

    func testPFCWatchdogListsEveryLosslessQueueWithoutAStorm() throws {
        let (tb, sw) = try routedBedWithSwitch(hosts: 2)
        let name = "\(tb.prefix)-sw"
        let report = try snapshot(name)
        let lossless = report.ports.flatMap { p in p.queues.filter { $0.lossless == true }.map { "\(p.name):\($0.queue)" } }
        XCTAssertFalse(lossless.isEmpty, "the test bed's QoS has lossless queues")
        let table = try Shell.run([fabric, "stats", "--switch", name, "pfcwd"])
        print(table)
        let rows = table.split(separator: "\n").map { $0.split(separator: " ").map(String.init) }.filter { $0.first?.contains(":") == true }
        XCTAssertEqual(rows.map { $0[0] }, lossless, "one row per lossless queue: \(table)")
        XCTAssertTrue(rows.allSatisfy { $0[1] == "operational" && $0[2] == "0/0" }, table)
        XCTAssertTrue(table.contains("TX OK/DROP"), table)
        XCTAssertEqual(sw.child.stop(), 0)
    }
}

/// Numbers as `fabric stats` prints them (thousands grouped with commas).
enum StatsNumbers {
    static func grouped(_ v: UInt64) -> String {
        var s = String(v), out = ""
        while s.count > 3 { out = "," + s.suffix(3) + out; s = String(s.dropLast(3)) }
        return s + out
    }
}
