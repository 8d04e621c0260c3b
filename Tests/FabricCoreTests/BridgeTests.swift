import XCTest
import FabricPacket
@testable import FabricCore

/// A UMEM-sized buffer plus a datapath over it: the bridge and the dispatcher run exactly as
/// in the switch, with synthetic frames instead of sockets.
final class Bed {
    static let frameSize = 2048
    let frameCount: Int
    let memory: UnsafeMutableRawPointer
    var dp: Datapath
    var batch = Batch(capacity: 64)

    init(ports: Int, frames: Int = 64, queueCapacity: Int = 16, agingTime: UInt64 = 1_000_000_000) {
        frameCount = frames
        memory = .allocate(byteCount: frames * Bed.frameSize, alignment: 4096)
        memory.initializeMemory(as: UInt8.self, repeating: 0, count: frames * Bed.frameSize)
        dp = Datapath(portCount: ports, frames: memory,
                      pool: FramePool(frameCount: frames, frameSize: Bed.frameSize),
                      bridge: L2Bridge(table: MACTable(capacity: 64, agingTime: agingTime)),
                      queueCapacity: queueCapacity)
    }

    deinit { memory.deallocate() }

    /// Writes an Ethernet frame into a fresh pool frame and adds it to the batch.
    func receive(dst: UInt64, src: UInt64, len: Int = 64, offset: Int = 256) {
        let frame = dp.pool.allocate()! + UInt64(offset)
        let p = memory + Int(frame)
        storeMAC(MACAddress(rawValue: dst), at: p)
        storeMAC(MACAddress(rawValue: src), at: p + 6)
        p.storeBytes(of: UInt16(0x0800).bigEndian, toByteOffset: 12, as: UInt16.self)
        _ = batch.append(addr: frame, len: UInt32(len))
    }

    func forward(ingress: Int, now: UInt64) {
        batch.ingress = ingress
        batch.timestamp = now
        dp.forward(&batch)
    }

    /// Dequeues everything queued on `port`, returning the destination MACs, and frees it.
    func drain(_ port: Int) -> [UInt64] {
        var out: [UInt64] = []
        while let f = dp.queues[port].dequeue() {
            out.append(EthernetView(memory + Int(f.addr), length: Int(f.len))!.destination.rawValue)
            dp.pool.release(f.addr)
        }
        return out
    }

    /// free + queued == all frames (no kernel rings in this bed).
    func ledgerBalances() -> Bool { dp.pool.freeCount + dp.queuedFrames == frameCount }
}

final class BridgeTests: XCTestCase {
    let a: UInt64 = 0x02_00_00_00_00_0A
    let b: UInt64 = 0x02_00_00_00_00_0B
    let c: UInt64 = 0x02_00_00_00_00_0C

    func testUnknownUnicastFloodsThenLearnedUnicastGoesToOnePort() {
        let bed = Bed(ports: 3)
        bed.receive(dst: b, src: a)
        bed.forward(ingress: 0, now: 1)
        XCTAssertEqual(bed.drain(0), [], "no hairpin: never back out of the ingress port")
        XCTAssertEqual(bed.drain(1), [b])
        XCTAssertEqual(bed.drain(2), [b])
        XCTAssertEqual(bed.dp.counters[2].floodCopies + bed.dp.counters[1].floodCopies, 1, "one copy for two targets")

        // b answers from port 1: a is known on port 0, so only port 0 gets it.
        bed.receive(dst: a, src: b)
        bed.forward(ingress: 1, now: 2)
        XCTAssertEqual(bed.drain(0), [a])
        XCTAssertEqual(bed.drain(2), [])
        // And now a -> b is unicast to port 1.
        bed.receive(dst: b, src: a)
        bed.forward(ingress: 0, now: 3)
        XCTAssertEqual(bed.drain(1), [b])
        XCTAssertEqual(bed.drain(2), [])
        XCTAssertTrue(bed.ledgerBalances())
        XCTAssertEqual(bed.dp.counters[0].rxFrames, 2)
        XCTAssertEqual(bed.dp.counters[1].rxFrames, 1)
    }

    func testBroadcastFloodsToAllOtherPorts() {
        let bed = Bed(ports: 4)
        bed.receive(dst: MACAddress.broadcast.rawValue, src: a)
        bed.receive(dst: 0x01_00_5E_00_00_01, src: a) // IPv4 multicast
        bed.forward(ingress: 2, now: 1)
        for p in [0, 1, 3] {
            XCTAssertEqual(bed.drain(p), [MACAddress.broadcast.rawValue, 0x01_00_5E_00_00_01])
        }
        XCTAssertEqual(bed.drain(2), [])
        XCTAssertTrue(bed.ledgerBalances())
    }

    func testDestinationOnIngressPortIsDroppedAsSameSegment() {
        let bed = Bed(ports: 2)
        bed.receive(dst: MACAddress.broadcast.rawValue, src: b)
        bed.forward(ingress: 0, now: 1)
        _ = bed.drain(1)
        bed.receive(dst: b, src: a)
        bed.forward(ingress: 0, now: 2)
        XCTAssertEqual(bed.drain(1), [])
        XCTAssertEqual(bed.dp.counters[0].drops[.sameSegment], 1)
        XCTAssertTrue(bed.ledgerBalances())
    }

    func testBadFramesAreCountedDropsNeverForwarded() {
        let bed = Bed(ports: 2)
        bed.receive(dst: b, src: a, len: 13)                                 // runt
        bed.receive(dst: b, src: 0x01_00_5E_00_00_01)                        // group source
        bed.receive(dst: b, src: 0)                                          // zero source
        bed.receive(dst: 0x01_80_C2_00_00_01, src: a)                        // PFC/PAUSE DA
        bed.receive(dst: 0x01_80_C2_00_00_0E, src: a)                        // LLDP
        bed.forward(ingress: 0, now: 1)
        XCTAssertEqual(bed.drain(1), [])
        let d = bed.dp.counters[0].drops
        XCTAssertEqual(d[.runt], 1)
        XCTAssertEqual(d[.invalidSource], 2)
        XCTAssertEqual(d[.linkLocal], 2)
        XCTAssertEqual(bed.dp.counters[0].rxFrames, 5)
        XCTAssertTrue(bed.ledgerBalances())
    }

    func testAgingForgetsQuietHostsAndFloodsAgain() {
        let bed = Bed(ports: 3, agingTime: 1000)
        bed.receive(dst: MACAddress.broadcast.rawValue, src: b)
        bed.forward(ingress: 1, now: 0)
        _ = (bed.drain(0), bed.drain(2))
        XCTAssertEqual(bed.dp.bridge.table.lookup(MACAddress(rawValue: b), now: 999), 1)
        XCTAssertNil(bed.dp.bridge.table.lookup(MACAddress(rawValue: b), now: 1000), "expired on lookup")
        // Traffic to b after aging floods.
        bed.receive(dst: b, src: a)
        bed.forward(ingress: 0, now: 1500)
        XCTAssertEqual(bed.drain(1), [b])
        XCTAssertEqual(bed.drain(2), [b])
        XCTAssertEqual(bed.dp.bridge.table.age(now: 1500), 1, "b is swept, a (seen at 1500) stays")
        XCTAssertEqual(bed.dp.bridge.table.count, 1)
        XCTAssertEqual(bed.dp.bridge.table.lookup(MACAddress(rawValue: a), now: 1500), 0)
    }

    func testHostMoveIsRelearned() {
        let bed = Bed(ports: 3)
        bed.receive(dst: MACAddress.broadcast.rawValue, src: a)
        bed.forward(ingress: 0, now: 1)
        bed.receive(dst: MACAddress.broadcast.rawValue, src: a)
        bed.forward(ingress: 2, now: 2)
        XCTAssertEqual(bed.dp.bridge.table.lookup(MACAddress(rawValue: a), now: 3), 2)
        XCTAssertEqual(bed.dp.bridge.table.moves, 1)
    }

    func testFullQueueAndEmptyPoolAreCountedNotLeaked() {
        let bed = Bed(ports: 3, frames: 8, queueCapacity: 2)
        for _ in 0..<5 { bed.receive(dst: MACAddress.broadcast.rawValue, src: a) }
        bed.forward(ingress: 0, now: 1)
        // 5 frames, 3 free for copies: queues of 2 fill up, the rest is counted.
        let c1 = bed.dp.counters[1], c2 = bed.dp.counters[2]
        XCTAssertEqual(bed.dp.queues[1].count, 2)
        XCTAssertEqual(bed.dp.queues[2].count, 2)
        XCTAssertEqual(c1.drops[.queueFull] + c1.drops[.noBuffer] + c2.drops[.queueFull] + c2.drops[.noBuffer], 6)
        XCTAssertTrue(bed.ledgerBalances())
    }

    func testOutOfServicePortGetsNothingAndReturnsItsFrames() {
        let bed = Bed(ports: 3)
        bed.receive(dst: MACAddress.broadcast.rawValue, src: c)
        bed.forward(ingress: 2, now: 1)       // c learned on 2; one frame queued on 0 and 1
        bed.dp.takeOutOfService(port: 1)
        XCTAssertEqual(bed.dp.counters[1].drops[.portDown], 1)
        XCTAssertNil(bed.dp.bridge.table.lookup(MACAddress(rawValue: b), now: 2))
        bed.receive(dst: MACAddress.broadcast.rawValue, src: a)
        bed.forward(ingress: 0, now: 2)
        XCTAssertEqual(bed.drain(1), [])
        XCTAssertEqual(bed.drain(2), [MACAddress.broadcast.rawValue])
        XCTAssertEqual(bed.drain(0), [MACAddress.broadcast.rawValue])
        XCTAssertTrue(bed.ledgerBalances())
    }

    func testMACTableBackwardShiftKeepsProbeChainsReachable() {
        var t = MACTable(capacity: 16, agingTime: 100)
        // Fill to the load limit, with staggered times so aging removes every other entry.
        for i in 1...8 { t.learn(MACAddress(rawValue: UInt64(i) << 8), port: i, now: UInt64(i % 2 == 0 ? 0 : 50)) }
        XCTAssertEqual(t.count, 8)
        t.learn(MACAddress(rawValue: 0xABCDEF), port: 1, now: 0)
        XCTAssertEqual(t.learnFailures, 1, "refuses past half full")
        XCTAssertEqual(t.age(now: 120), 4)
        for i in 1...8 {
            let port = t.lookup(MACAddress(rawValue: UInt64(i) << 8), now: 120)
            XCTAssertEqual(port, i % 2 == 0 ? nil : i)
        }
    }
}
