import FabricIO
import FabricLab
import FabricTraffic
import Foundation
import XCTest

/// RoCEv2 traffic from `fabric traffic` through the switch as a router, on a routed test bed.
final class TrafficIntegrationTests: XCTestCase {
    var fabric = ""
    var statsFile = ""

    override func setUpWithError() throws {
        try XCTSkipUnless(getuid() == 0, "integration tests need root (namespaces, veth, XDP); run scripts/test.sh as root")
        let dir = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath().deletingLastPathComponent()
        fabric = dir.appendingPathComponent("fabric").path
        guard FileManager.default.isExecutableFile(atPath: fabric) else {
            XCTFail("no fabric executable next to the test bundle (\(fabric)); run `swift build` first")
            throw XCTSkip("fabric not built")
        }
        statsFile = NSTemporaryDirectory() + "fabric-tr-\(getpid())-\(UUID().uuidString.prefix(8)).json"
    }

    func routedBedWithSwitch(hosts: Int) throws -> (Testbed, SwitchProcess) {
        let tb = Testbed(prefix: "it" + String(UUID().uuidString.prefix(5)).lowercased(), hosts: hosts, routed: true)
        addTeardownBlock {
            tb.down()
            XCTAssertEqual(tb.existingNamespaces(), [], "test bed namespaces left behind")
            try? FileManager.default.removeItem(atPath: self.statsFile)
        }
        try tb.up()
        let sw = try SwitchProcess.start(fabric: fabric, testbed: tb, statsFile: statsFile, config: tb.configPath)
        addTeardownBlock { sw.child.stop(grace: 5) }
        return (tb, sw)
    }

    func testOneToOneRoCEThroughTheRouterLosesNothingAndMeasuresLatency() throws {
        let (tb, sw) = try routedBedWithSwitch(hosts: 2)
        // 0.1 Gb/s of 1 KB packets: well within what a debug-build receiver keeps up with.
        let r = try RoCERun.run(fabric: fabric, from: tb.hostNamespace(1), to: tb.hostNamespace(2), destination: tb.hostAddress(2),
                                seconds: 1.5, rate: 0.1, qps: 4, message: 8192, mtu: 1024)
        XCTAssertGreaterThan(r.sender.packets, 1000)
        XCTAssertEqual(r.receiver.packets, r.sender.packets, "every RoCEv2 packet arrived")
        XCTAssertEqual(r.receiver.lost, 0)
        XCTAssertEqual(r.receiver.reordered, 0)
        XCTAssertEqual(r.receiver.icrcFailures, 0, "routing kept every ICRC valid")
        XCTAssertEqual(r.receiver.hostDrops, 0)
        XCTAssertEqual(r.receiver.flows.count, 4, "one flow per queue pair")
        XCTAssertEqual(r.receiver.latencyMicroseconds.samples, r.receiver.packets)
        XCTAssertGreaterThan(r.receiver.latencyMicroseconds.p50, 0)
        XCTAssertGreaterThanOrEqual(r.receiver.latencyMicroseconds.p99, r.receiver.latencyMicroseconds.p50)
        XCTAssertEqual(sw.child.stop(), 0)
        let final = try StatsFile.read(statsFile)
        XCTAssertEqual(final.ports[0].roceFrames, r.sender.packets, "the switch recognised every frame as RoCEv2")
    }

    func testCorruptedFramesAreCountedAsICRCFailures() throws {
        let (tb, _) = try routedBedWithSwitch(hosts: 2)
        let r = try RoCERun.run(fabric: fabric, from: tb.hostNamespace(1), to: tb.hostNamespace(2), destination: tb.hostAddress(2),
                                seconds: 0.5, rate: 0.05, qps: 1, message: 1024, mtu: 1024, extra: ["--corrupt-every", "10"])
        XCTAssertGreaterThan(r.sender.corrupted, 10)
        XCTAssertEqual(r.receiver.icrcFailures, r.sender.corrupted)
        XCTAssertEqual(r.receiver.packets + r.receiver.icrcFailures, r.sender.packets)
        // The receiver does not count corrupted packets as delivered: their PSNs are gaps.
        XCTAssertEqual(r.receiver.lost, r.sender.corrupted)
    }

    func testIncastTwoToOne() throws {
        let (tb, _) = try routedBedWithSwitch(hosts: 3)
        // Two senders into h3 at once: flows from both arrive intact.
        let receiver = try ChildProcess([fabric, "traffic", "recv", "--netns", tb.hostNamespace(3), "--seconds", "15", "--idle", "1", "--json"])
        defer { receiver.stop(grace: 1) }
        let deadline = Date().addingTimeInterval(10)
        while !receiver.output.contains("listening") && Date() < deadline { usleep(5_000) }
        let senders = try [1, 2].map { h in
            try ChildProcess([fabric, "traffic", "send", "--netns", tb.hostNamespace(h), "--to", tb.hostAddress(3),
                              "--seconds", "1", "--rate", "0.05", "--qps", "2", "--json"])
        }
        for s in senders { XCTAssertEqual(s.wait(timeout: 20), 0, s.output) }
        _ = receiver.wait(timeout: 15)
        let line = try XCTUnwrap(receiver.output.split(separator: "\n").last { $0.hasPrefix("{") })
        let report = try JSONDecoder().decode(ReceiverReport.self, from: Data(line.utf8))
        let sent = try senders.map { s -> UInt64 in
            let l = try XCTUnwrap(s.output.split(separator: "\n").last { $0.hasPrefix("{") })
            return try JSONDecoder().decode(SenderReport.self, from: Data(l.utf8)).packets
        }
        XCTAssertEqual(Set(report.flows.map(\.source)), [tb.hostAddress(1), tb.hostAddress(2)])
        XCTAssertEqual(report.packets, sent.reduce(0, +))
        XCTAssertEqual(report.lost, 0)
        XCTAssertEqual(report.reordered, 0)
    }
}
