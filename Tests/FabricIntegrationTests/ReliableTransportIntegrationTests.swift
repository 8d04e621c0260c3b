import FabricConfig
import FabricLab
import FabricTraffic
import Foundation
import XCTest

/// RC reliability end to end: `fabric traffic` endpoints as RDMA NICs through the switch (a
/// bridge on the star bed, as `fabric testbed up --hosts 2` and `fabric switch --ports h1,h2`
/// make it), a drop every 1000 packets (a corrupted ICRC the receiver discards), repaired by
/// go-back-N and by selective repeat; the NAKs on h1's wire decoded by tshark.
final class ReliableTransportIntegrationTests: LabTestCase {
    func run(_ tb: TopologyTestbed, transport: String) throws -> RoCERun.Result {
        var o = RoCERun.Options()
        o.messages = 200
        o.corruptEvery = 1000
        o.queuePairs = 4
        o.messageBytes = 65536
        o.reliabilityArguments = ["--transport", transport]
        return try RoCERun.run(fabric: fabric, from: tb.hostNamespace(1), to: tb.hostNamespace(2), destination: tb.hostAddress(2), options: o)
    }

    func testEveryMessageCompletesThroughDropsAndSelectiveRepeatResendsLess() throws {
        let tb = try makeTestbed(hosts: 2)
        _ = try startSwitch(tb)
        let pcap = NSTemporaryDirectory() + "rc-\(getpid()).pcapng"
        addTeardownBlock { try? FileManager.default.removeItem(atPath: pcap) }
        let capture = try ChildProcess(["ip", "netns", "exec", tb.hostNamespace(1), "dumpcap", "-q", "-i", tb.hostInterface(1),
                                        "-f", "udp port 4791", "-w", pcap])
        addTeardownBlock { _ = capture.stop(grace: 2) }
        Thread.sleep(forTimeInterval: 1)
        let gbn = try run(tb, transport: "gbn")
        _ = capture.stop(grace: 2)
        let sr = try run(tb, transport: "sr")
        for r in [gbn, sr] {
            let t = r.transport
            XCTAssertEqual(r.messagesSent, 200, t)
            XCTAssertEqual(r.messagesCompleted, r.messagesSent, "\(t): every message acknowledged")
            XCTAssertEqual(r.sender.failedQueuePairs, 0, t)
            XCTAssertGreaterThan(r.sender.corrupted, 5, t)
            XCTAssertEqual(r.receiver.icrcFailures, r.sender.corrupted, t)
            XCTAssertEqual(r.lost, r.sender.corrupted, "\(t): lost = the first transmissions the receiver dropped")
            XCTAssertGreaterThan(r.retransmittedPackets, 0, t)
            XCTAssertGreaterThan(r.naksReceived, 0, t)
            XCTAssertEqual(r.receiver.messagesDelivered, 200, t)
            XCTAssertEqual(r.receiver.delivered, 200 * 64, "\(t): every packet delivered in order exactly once")
            XCTAssertGreaterThan(r.jctSeconds, 0, t)
        }
        XCTAssertEqual(sr.retransmittedPackets, sr.sender.corrupted, "selective repeat resends exactly what was dropped")
        XCTAssertGreaterThan(gbn.retransmittedPackets, sr.retransmittedPackets, "go-back-N resends what followed the drop too")
        // tshark on what h1's wire carried: NAKs (AETH opcode 3, error 0 = PSN sequence error)
        // and ACKs (opcode 0) from h2 to h1's QPs.
        let decoded = try Shell.run(["tshark", "-r", pcap, "-Y", "infiniband.bth.opcode == 17", "-T", "fields", "-E", "separator=|",
                                     "-e", "infiniband.aeth.syndrome.opcode", "-e", "infiniband.aeth.syndrome.error_code", "-e", "infiniband.bth.destqp"])
        let rows = decoded.split(separator: "\n").map { $0.split(separator: "|", omittingEmptySubsequences: false).map(String.init) }.filter { $0.count == 3 }
        let naks = rows.filter { $0[0] == "3" }
        XCTAssertEqual(naks.count, Int(gbn.naksReceived), "every NAK the sender counted was on the wire")
        XCTAssertTrue(naks.allSatisfy { $0[1] == "0" }, "sequence errors: \(naks.prefix(3))")
        XCTAssertGreaterThan(rows.filter { $0[0] == "0" }.count, 100, "ACKs")
    }
}

/// A ring all-reduce with real dependencies over four ranks (each an RC requester and
/// responder in one process): 2(N-1) steps, every message acknowledged, the timeline in order,
/// and a drop every 300 packets costing resends but no message.
final class CollectiveIntegrationTests: LabTestCase {
    func testRingAllreduceCompletesEveryStepInOrderAlsoThroughDrops() throws {
        let tb = try makeTestbed(hosts: 4)
        _ = try startSwitch(tb)
        var o = CollectiveOptions()
        o.bufferBytes = 1 << 20
        let clean = try Collective.run(fabric: fabric, testbed: tb, ranks: [1, 2, 3, 4], options: o)
        o.corruptEvery = 300
        o.reliabilityArguments = ["--transport", "sr"]
        let dropped = try Collective.run(fabric: fabric, testbed: tb, ranks: [1, 2, 3, 4], options: o)
        print(clean.summary + "\n" + clean.timeline + "\n" + dropped.summary)
        for r in [clean, dropped] {
            XCTAssertEqual(r.steps.count, 6, "2(N-1) steps")
            XCTAssertEqual(r.messagesSent, 24, "one chunk per rank per step")
            XCTAssertEqual(r.messagesCompleted, 24)
            XCTAssertEqual(r.failedQueuePairs, 0)
            XCTAssertEqual(r.flows.map(\.to), ["h2", "h3", "h4", "h1"])
            for s in r.steps {
                XCTAssertGreaterThan(s.endSeconds, s.startSeconds, "step \(s.step)")
                XCTAssertLessThanOrEqual(s.endSeconds, r.jctSeconds + 1e-9)
            }
            // Step k+1 of a rank waits for step k's chunk: no step ends before the one before it.
            for (a, b) in zip(r.steps, r.steps.dropFirst()) { XCTAssertGreaterThanOrEqual(b.endSeconds, a.endSeconds, "step \(b.step)") }
            XCTAssertGreaterThan(r.jctSeconds, 0)
        }
        XCTAssertEqual(clean.retransmittedPackets, 0, "nothing dropped, nothing resent")
        XCTAssertEqual(clean.lost, 0)
        XCTAssertGreaterThan(dropped.lost, 0)
        XCTAssertEqual(dropped.retransmittedPackets, dropped.lost, "selective repeat resends what was dropped")
    }

    /// h3's switch port loses every frame (`loss: 100%`, applied live once the hosts know each
    /// other's MACs): h2's QP to h3 exhausts its retries
    /// (67 ms ACK timeout, 1 retry) and fails, and so does h3's (the ACKs to it are lost); h2 ends at once and the collective stops the
    /// other ranks (blocked on chunks that can never come), so the run ends in seconds with the
    /// failure reported, not at the ranks' time limit.
    func testAFailedQueuePairEndsTheCollectiveAtOnce() throws {
        let tb = try makeTestbed(hosts: 4)
        let base = config(tb)
        _ = try startSwitch(tb, config: base)
        for h in 1...4 { XCTAssertEqual(try Ping.run(from: tb.hostNamespace(h), to: tb.hostAddress(h % 4 + 1), count: 1).received, 1) }
        var lossy = base
        lossy.ports[2].lossPercent = 100
        let path = NSTemporaryDirectory() + "fabric-it-loss-\(getpid()).yaml"
        try SwitchConfigYAML.write(lossy, to: path, header: "h3's port loses everything")
        defer { try? FileManager.default.removeItem(atPath: path) }
        let answer = try Shell.run([fabric, "ctl", "--switch", base.name, "config", "apply", path])
        XCTAssertTrue(answer.contains("ok: applied"), answer)
        var o = CollectiveOptions()
        o.bufferBytes = 1 << 18
        o.reliabilityArguments = ["--ack-timeout", "14", "--retry-count", "1"]
        let started = Date()
        let r = try Collective.run(fabric: fabric, testbed: tb, ranks: [1, 2, 3, 4], options: o)
        let took = Date().timeIntervalSince(started)
        print(r.summary + String(format: " (%.1f s)", took))
        XCTAssertEqual(r.failedQueuePairs, 2, "h2's QP to h3 (its data lost) and h3's to h4 (its ACKs lost)")
        XCTAssertLessThan(r.messagesCompleted, r.messagesSent)
        XCTAssertLessThan(took, 20, "ended when the QP failed, not at the 120 s limit")
    }
}
