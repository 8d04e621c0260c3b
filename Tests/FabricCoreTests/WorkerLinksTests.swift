import FabricPacket
import FabricTestSupport
import XCTest
@testable import FabricCore

/// What the workers of a switch share (`WorkerLinks`), with two data paths in one thread.
final class WorkerLinksTests: XCTestCase {
    func bridges(ports: Int = 3) -> (EmbeddedDatapath, EmbeddedDatapath, WorkerLinks) {
        let config = SwitchConfig(mode: .bridge, ports: (0..<ports).map { PortConfig(name: "p\($0)") })
        let macs = (0..<ports).map { MACAddress(rawValue: 0x02_5F_00_00_EE_00 | UInt64($0)) }
        let links = WorkerLinks(workers: 2, ports: ports, ringCapacity: 64)
        let a = EmbeddedDatapath(config: config, portMACs: macs), b = EmbeddedDatapath(config: config, portMACs: macs)
        a.dp.join(links, as: 0)
        b.dp.join(links, as: 1)
        return (a, b, links)
    }

    func testRingsAreFIFOAndBoundedAndAFullRingCountsItsLoss() {
        let ring = MessageRing(capacity: 4)
        for i in 0..<4 { XCTAssertTrue(ring.push(WorkerMessage(.mac, port: i))) }
        XCTAssertFalse(ring.push(WorkerMessage(.mac, port: 9)), "full")
        XCTAssertEqual((0..<4).map { _ in Int(ring.pop()!.port) }, [0, 1, 2, 3])
        XCTAssertNil(ring.pop())
        let links = WorkerLinks(workers: 2, ports: 1, ringCapacity: 1)
        links.broadcast(WorkerMessage(.mac, port: 0), from: 0)
        links.broadcast(WorkerMessage(.mac, port: 0), from: 0)
        XCTAssertEqual(links.dropped.load(ordering: .relaxed), 1)
    }

    /// An XON goes out only when no other worker holds the priority in XOFF.
    func testTheLastWorkerToLetGoSendsTheXON() {
        let links = WorkerLinks(workers: 3, ports: 2)
        _ = links.setXoff(port: 1, priorities: 1 << 3, worker: 0, on: true)
        _ = links.setXoff(port: 1, priorities: 1 << 3 | 1 << 4, worker: 2, on: true)
        XCTAssertEqual(links.setXoff(port: 1, priorities: 1 << 3, worker: 0, on: false), 0, "worker 2 still holds 3")
        XCTAssertEqual(links.setXoff(port: 0, priorities: 1 << 3, worker: 1, on: false), 1 << 3, "another port is free")
        XCTAssertEqual(links.setXoff(port: 1, priorities: 1 << 3 | 1 << 4, worker: 2, on: false), 1 << 3 | 1 << 4, "the last lets go")
    }

    /// A host learned by one worker is known to the other after its next export, so the other
    /// does not flood frames for it.
    func testAnAddressOneWorkerLearnsReachesTheOther() {
        let (a, b, _) = bridges()
        let host: UInt64 = 0x02_00_00_00_00_0A
        XCTAssertTrue(a.receive(Frames.ethernet(dst: 0xFFFF_FFFF_FFFF, src: host)))
        a.forward(ingress: 2, now: 1_000)
        XCTAssertEqual(a.dp.bridge.table.lookup(MACAddress(rawValue: host), now: 2_000), 2)
        XCTAssertNil(b.dp.bridge.table.lookup(MACAddress(rawValue: host), now: 2_000))
        let t = WorkerLinks.exportInterval + 5_000
        a.dp.tick(now: t, draining: true)
        b.dp.tick(now: t, draining: true)
        XCTAssertEqual(b.dp.bridge.table.lookup(MACAddress(rawValue: host), now: t), 2, "learned from worker 0")
        // Worker 1 now forwards to it on port 2 only.
        XCTAssertTrue(b.receive(Frames.ethernet(dst: host, src: 0x02_00_00_00_00_0B)))
        b.forward(ingress: 0, now: t)
        XCTAssertEqual(b.transmit(port: 2, now: t).count, 1)
        XCTAssertEqual(b.transmit(port: 1, now: t).count, 0, "not flooded")
    }

    /// A PFC frame received by one worker pauses the other's queue of that priority too.
    func testAPauseOneWorkerReceivesPausesTheOther() {
        let (a, b, _) = bridges()
        XCTAssertTrue(a.receive(Frames.pfc(source: 0x02_00_00_00_00_0A, priority: 3, quanta: 0xFFFF)))
        a.forward(ingress: 1, now: 1_000)
        let q = Int(a.dp.classifier.queue(trafficClass: 3))
        XCTAssertTrue(a.dp.egress[1].pause.isPaused(queue: q, now: 2_000))
        XCTAssertFalse(b.dp.egress[1].pause.isPaused(queue: q, now: 2_000))
        b.dp.tick(now: 2_000, draining: true)
        XCTAssertTrue(b.dp.egress[1].pause.isPaused(queue: q, now: 3_000), "paused through worker 0")
        XCTAssertEqual(b.dp.counters[1].pfcRx[3], 0, "counted once, by the worker that received it")
        XCTAssertEqual(a.dp.counters[1].pfcRx[3], 1)
    }
}
