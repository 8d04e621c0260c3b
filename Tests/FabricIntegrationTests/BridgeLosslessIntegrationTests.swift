import FabricConfig
import FabricCore
import FabricLab
import FabricTelemetry
import FabricTraffic
import Foundation
import XCTest

/// The learning bridge (`fabric switch --ports a,b,c`, or `mode: bridge`) as a lossless
/// switch, and MAC Control frames at its ports.
final class BridgeLosslessIntegrationTests: LabTestCase {
    /// The lossless incast of `fabric lossless` on a bridged star: h1-h3 send lossless RoCEv2
    /// (DSCP 26 -> TC3) at 250 Mb/s each into h4's 200 Mb/s port. The bridge classifies,
    /// charges PG3 on the senders' ports and pauses them: it drops nothing.
    func testBridgeIsLosslessUnderARoCEIncast() throws {
        let tb = try makeTestbed(hosts: 4, routed: false)
        var lab = LosslessIncast(testbed: tb, launcher: launcher)
        lab.seconds = 2
        let on = try lab.run(pfc: true, cc: "none")
        print(LosslessIncast.table([on]))
        XCTAssertEqual(on.report.mode, "bridge")
        XCTAssertEqual(on.switchDrops, 0, "no drop of any kind: \(on.summary.dropReasons)")
        XCTAssertGreaterThan(on.pfcSent, 0, "the bridge sent PFC")
        // Which senders the XOFFs reach depends on whose PG crossed its threshold (a sender
        // held off the CPU on 2 shared cores may never get there): some, not necessarily all.
        XCTAssertGreaterThan(on.pausesAtSenders, 0, "the senders honoured it")
        // The senders' ports have no emulated speed: they time pauses at their own default (the
        // veth's nominal 10 Gb/s), which the lab leaves alone (TopologyTestbed.hostLinkGbps).
        for s in on.workload.senders {
            XCTAssertEqual(s.report.linkSpeedSource, "interface", "h\(s.from) timed pauses at its interface's speed")
            XCTAssertEqual(s.report.linkGbps, 10)
        }
        if on.workload.hostDrops == 0 {
            XCTAssertEqual(on.workload.lost, 0, "no PSN gap")
            XCTAssertEqual(on.workload.receivedPackets, on.workload.sentPackets)
        } else {
            XCTAssertLessThanOrEqual(on.workload.sentPackets - on.workload.receivedPackets, on.workload.hostDrops,
                                     "missing only what the receiving host's own socket dropped")
        }
        XCTAssertGreaterThan(on.report.ports[0].pgWatermark[3], 0, "charged to PG3")
        XCTAssertTrue(on.report.ledger.balances, "\(on.report.ledger)")
    }

    /// h2 sends PFC XOFF to the broadcast address and to h1's MAC: the bridge consumes them
    /// (no host sees a MAC Control frame) and does not pause h2's port; one to
    /// 01:80:C2:00:00:01 is honoured (consumed as well).
    func testPFCToANonReservedAddressIsNeitherForwardedNorHonoured() throws {
        let tb = try makeTestbed(hosts: 3, routed: false)
        let sw = try startSwitch(tb, config: config(tb, speeds: [2: 1]))    // 65535 quanta: 33.5 ms at 1 Gb/s
        let tag = "\(getpid())-\(UUID().uuidString.prefix(6))"
        let captures = try [1, 3].map { h -> (String, ChildProcess) in
            let file = NSTemporaryDirectory() + "fabric-pfc-da-\(tag)-h\(h).pcapng"
            addTeardownBlock { try? FileManager.default.removeItem(atPath: file) }
            return (file, try ChildProcess(["ip", "netns", "exec", tb.hostNamespace(h), "dumpcap", "-q", "-i", tb.hostInterface(h),
                                            "-f", "ether proto 0x8808", "-a", "duration:4", "-w", file]))
        }
        defer { for (_, c) in captures { c.stop(grace: 1) } }
        usleep(1_500_000)   // dumpcap is listening
        func probe(_ destination: String, count: Int) throws {
            try Shell.run([fabric, "probe", "pfc", "--netns", tb.hostNamespace(2), "--interface", tb.hostInterface(2), "--priority", "3",
                           "--quanta", "65535", "--count", "\(count)", "--interval", "1000", "--destination", destination])
        }
        try probe("ff:ff:ff:ff:ff:ff", count: 5)
        try probe(tb.hostMAC(1), count: 5)
        try probe("01:80:c2:00:00:01", count: 1)
        for (file, c) in captures {
            XCTAssertNotNil(c.wait(timeout: 15))
            let decoded = try Shell.run(["tshark", "-r", file, "-T", "fields", "-e", "frame.number"])
            XCTAssertEqual(decoded.split(separator: "\n").filter { Int($0) != nil }.count, 0, "no MAC Control frame reached a host: \(decoded)")
        }
        XCTAssertEqual(sw.child.stop(), 0)
        let report = try StatsFile.read(statsFile)
        let p = try XCTUnwrap(report.ports.first { $0.name == tb.switchPorts[1] })
        XCTAssertEqual(p.pfcIgnoredDestination, 10, "both kinds counted, neither honoured")
        XCTAssertEqual(p.pfcRx[3], 1, "only the one to 01:80:c2:00:00:01 honoured")
        XCTAssertEqual(p.dropsTotal, 0, "consumed, not dropped: \(p.drops.filter { $0.value > 0 })")
        XCTAssertGreaterThanOrEqual(p.consumed, 11)
        XCTAssertEqual(report.ports.filter { $0.name != p.name }.reduce(0) { $0 + $1.pfcIgnoredDestination + $1.pfcRx.reduce(0, +) }, 0)
        XCTAssertTrue(report.ledger.balances, "\(report.ledger)")
    }
}
