import FabricConfig
import FabricCore
import FabricLab
import FabricTelemetry
import FabricTraffic
import Foundation
import XCTest

/// `fabric switch --workers 2` on 2-queue veths (`testbed up --queues 2`): worker w serves rx
/// queue w of every port; flows stay on their worker (nothing reordered), both queues are
/// served, the counters and the frame ledger of the merged report balance, and the switch
/// stops cleanly.
final class WorkersIntegrationTests: LabTestCase {
    /// Host i's kernel sends on transmit queue `queue` only, whatever CPU it runs on (XPS), or
    /// by CPU (queue 0 from CPU 0, queue 1 from CPU 1) when nil.
    func steer(_ tb: TopologyTestbed, host i: Int, queue: Int?) throws {
        let (q0, q1) = queue.map { $0 == 0 ? (3, 0) : (0, 3) } ?? (1, 2)
        let dev = "/sys/class/net/\(tb.hostInterface(i))/queues"
        try Shell.inNamespace(tb.hostNamespace(i), ["sh", "-c", "echo \(q0) > \(dev)/tx-0/xps_cpus && echo \(q1) > \(dev)/tx-1/xps_cpus"])
    }

    func testTwoWorkersServeBothQueuesKeepEachFlowInOrderAndBalance() throws {
        let tb = try makeTestbed(hosts: 3, routed: true, queues: 2)
        try steer(tb, host: 1, queue: 1)
        try steer(tb, host: 3, queue: 0)
        try steer(tb, host: 2, queue: nil)
        let sw = try startSwitch(tb, extra: ["--workers", "2"])
        XCTAssertTrue(sw.child.output.contains("2 workers (rx queues 0...1)"), sw.child.output)
        var sent: UInt64 = 0
        // RoCEv2 from h1 (all on queue 1: worker 1) and from h3 (queue 0: worker 0) to h2, each
        // through the kernel (AF_PACKET) so that XPS picks the queue; 4 QPs a sender.
        for from in [1, 3] {
            var o = RoCERun.Options()
            o.messages = 100
            o.messageBytes = 16 * 1024
            o.queuePairs = 4
            o.mtu = 1024
            o.rateGbps = 0.1
            o.senderArguments = ["--backend", "afpacket"]
            let r = try RoCERun.run(fabric: fabric, from: tb.hostNamespace(from), to: tb.hostNamespace(2), destination: tb.hostAddress(2), options: o)
            let what = "h\(from) -> h2"
            XCTAssertEqual(r.sender.packets, 1600, what)
            XCTAssertEqual(r.receiver.packets, r.sender.packets, "\(what): every packet arrived")
            XCTAssertEqual(r.receiver.lost, 0, what)
            XCTAssertEqual(r.receiver.reordered, 0, "\(what): each flow stayed on one worker, in order")
            XCTAssertEqual(r.sender.retransmittedPackets, 0, what)
            sent += r.sender.packets
        }
        XCTAssertEqual(sw.stop(), 0, "clean shutdown")
        let r = try StatsFile.read(statsFile)
        XCTAssertEqual(r.ports.map(\.socket.unservedQueue), [0, 0, 0], "every frame found its queue's worker")
        XCTAssertEqual(r.ports.map(\.dropsTotal), [0, 0, 0], "\(r.ports.map { $0.drops.filter { $0.value > 0 } })")
        XCTAssertGreaterThanOrEqual(r.ports[0].rxFrames + r.ports[2].rxFrames, sent, "both senders' packets, summed over the workers")
        XCTAssertGreaterThanOrEqual(r.ports[1].txFrames, sent)
        let perWorker = try XCTUnwrap(r.workerRxFrames)
        XCTAssertEqual(perWorker.count, 2)
        XCTAssertTrue(perWorker.allSatisfy { $0 >= 1600 }, "each worker forwarded its sender's flows: \(perWorker)")
        XCTAssertTrue(r.ledger.balances, "\(r.ledger)")
        XCTAssertEqual(r.ledger.queued + r.ledger.pending + r.ledger.chained, 0, "nothing left behind")
        XCTAssertFalse(r.running)
    }

    /// What a worker learns reaches the other: h1's ARP reply may land on either worker, yet
    /// both forward to it at once; and changes that need one worker are refused.
    func testWorkersShareResolvedNeighboursAndRefuseWhatNeedsOne() throws {
        let tb = try makeTestbed(hosts: 2, routed: true, queues: 2)
        try steer(tb, host: 1, queue: nil)
        try steer(tb, host: 2, queue: nil)
        let sw = try startSwitch(tb, extra: ["--workers", "2"])
        for cpu in [0, 1, 0, 1] {
            let out = try Shell.run(["ip", "netns", "exec", tb.hostNamespace(1), "taskset", "-c", "\(cpu)", "ping", "-c", "2", "-i", "0.2", "-W", "2",
                                     tb.hostAddress(2)], check: false)
            XCTAssertTrue(out.contains("2 received"), "from CPU \(cpu) (queue \(cpu)): \(out)")
        }
        let answer = try Shell.run([fabric, "ctl", "--switch", tb.switchNamespace, "route", "add", "10.99.0.0/16", "via", tb.hostAddress(2)], check: false)
        XCTAssertTrue(answer.contains("changes run with one worker"), answer)
        XCTAssertEqual(sw.stop(), 0)
        let r = try StatsFile.read(statsFile)
        XCTAssertTrue(r.ledger.balances, "\(r.ledger)")
        XCTAssertEqual(r.ports.map(\.socket.unservedQueue), [0, 0])
    }
}
