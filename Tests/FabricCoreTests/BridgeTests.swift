import FabricPacket
import FabricTestSupport
import XCTest
@testable import FabricCore

extension EmbeddedDatapath {
    /// An Ethernet frame from `src` to `dst` of `len` bytes into the batch.
    func receive(dst: UInt64, src: UInt64, len: Int = 64) {
        receive(Frames.ethernet(dst: dst, src: src, length: len))
    }

    /// Dequeues everything queued on `port`, returning the destination MACs.
    func destinations(_ port: Int) -> [UInt64] { drain(port).map { Frames.mac($0, 0) } }
}

final class BridgeTests: XCTestCase {
    let a: UInt64 = 0x02_00_00_00_00_0A
    let b: UInt64 = 0x02_00_00_00_00_0B
    let c: UInt64 = 0x02_00_00_00_00_0C

    func testUnknownUnicastFloodsThenLearnedUnicastGoesToOnePort() {
        let bed = EmbeddedDatapath(bridgePorts: 3)
        bed.receive(dst: b, src: a)
        bed.forward(ingress: 0, now: 1)
        XCTAssertEqual(bed.destinations(0), [], "no hairpin: never back out of the ingress port")
        XCTAssertEqual(bed.destinations(1), [b])
        XCTAssertEqual(bed.destinations(2), [b])
        XCTAssertEqual(bed.dp.counters[2].floodCopies + bed.dp.counters[1].floodCopies, 1, "one copy for two targets")

        // b answers from port 1: a is known on port 0, so only port 0 gets it.
        bed.receive(dst: a, src: b)
        bed.forward(ingress: 1, now: 2)
        XCTAssertEqual(bed.destinations(0), [a])
        XCTAssertEqual(bed.destinations(2), [])
        // And now a -> b is unicast to port 1.
        bed.receive(dst: b, src: a)
        bed.forward(ingress: 0, now: 3)
        XCTAssertEqual(bed.destinations(1), [b])
        XCTAssertEqual(bed.destinations(2), [])
        XCTAssertTrue(bed.ledgerBalances)
        XCTAssertEqual(bed.dp.counters[0].rxFrames, 2)
        XCTAssertEqual(bed.dp.counters[1].rxFrames, 1)
    }

    func testBroadcastFloodsToAllOtherPorts() {
        let bed = EmbeddedDatapath(bridgePorts: 4)
        bed.receive(dst: MACAddress.broadcast.rawValue, src: a)
        bed.receive(dst: 0x01_00_5E_00_00_01, src: a) // IPv4 multicast
        bed.forward(ingress: 2, now: 1)
        for p in [0, 1, 3] {
            XCTAssertEqual(bed.destinations(p), [MACAddress.broadcast.rawValue, 0x01_00_5E_00_00_01])
        }
        XCTAssertEqual(bed.destinations(2), [])
        XCTAssertTrue(bed.ledgerBalances)
    }

    func testDestinationOnIngressPortIsDroppedAsSameSegment() {
        let bed = EmbeddedDatapath(bridgePorts: 2)
        bed.receive(dst: MACAddress.broadcast.rawValue, src: b)
        bed.forward(ingress: 0, now: 1)
        _ = bed.destinations(1)
        bed.receive(dst: b, src: a)
        bed.forward(ingress: 0, now: 2)
        XCTAssertEqual(bed.destinations(1), [])
        XCTAssertEqual(bed.dp.counters[0].drops[.sameSegment], 1)
        XCTAssertTrue(bed.ledgerBalances)
    }

    func testBadFramesAreCountedDropsNeverForwarded() {
        let bed = EmbeddedDatapath(bridgePorts: 2)
        bed.receive(dst: b, src: a, len: 13)                                 // runt
        bed.receive(dst: b, src: 0x01_00_5E_00_00_01)                        // group source
        bed.receive(dst: b, src: 0)                                          // zero source
        bed.receive(dst: 0x01_80_C2_00_00_01, src: a)                        // PFC/PAUSE DA
        bed.receive(dst: 0x01_80_C2_00_00_0E, src: a)                        // LLDP
        bed.forward(ingress: 0, now: 1)
        XCTAssertEqual(bed.destinations(1), [])
        let d = bed.dp.counters[0].drops
        XCTAssertEqual(d[.runt], 1)
        XCTAssertEqual(d[.invalidSource], 2)
        XCTAssertEqual(d[.linkLocal], 2)
        XCTAssertEqual(bed.dp.counters[0].rxFrames, 5)
        XCTAssertTrue(bed.ledgerBalances)
    }

    func testAgingForgetsQuietHostsAndFloodsAgain() {
        let bed = EmbeddedDatapath(bridgePorts: 3, macTable: MACTable(capacity: 64, agingTime: 1000))
        bed.receive(dst: MACAddress.broadcast.rawValue, src: b)
        bed.forward(ingress: 1, now: 0)
        _ = (bed.destinations(0), bed.destinations(2))
        XCTAssertEqual(bed.dp.bridge.table.lookup(MACAddress(rawValue: b), now: 999), 1)
        XCTAssertNil(bed.dp.bridge.table.lookup(MACAddress(rawValue: b), now: 1000), "expired on lookup")
        // Traffic to b after aging floods.
        bed.receive(dst: b, src: a)
        bed.forward(ingress: 0, now: 1500)
        XCTAssertEqual(bed.destinations(1), [b])
        XCTAssertEqual(bed.destinations(2), [b])
        XCTAssertEqual(bed.dp.bridge.table.age(now: 1500), 1, "b is swept, a (seen at 1500) stays")
        XCTAssertEqual(bed.dp.bridge.table.count, 1)
        XCTAssertEqual(bed.dp.bridge.table.lookup(MACAddress(rawValue: a), now: 1500), 0)
    }

    func testHostMoveIsRelearned() {
        let bed = EmbeddedDatapath(bridgePorts: 3)
        bed.receive(dst: MACAddress.broadcast.rawValue, src: a)
        bed.forward(ingress: 0, now: 1)
        bed.receive(dst: MACAddress.broadcast.rawValue, src: a)
        bed.forward(ingress: 2, now: 2)
        XCTAssertEqual(bed.dp.bridge.table.lookup(MACAddress(rawValue: a), now: 3), 2)
        XCTAssertEqual(bed.dp.bridge.table.moves, 1)
    }

    func testFullQueueAndEmptyPoolAreCountedNotLeaked() {
        let bed = EmbeddedDatapath(bridgePorts: 3, frameCount: 8, queueCapacity: 2)
        for _ in 0..<5 { bed.receive(dst: MACAddress.broadcast.rawValue, src: a) }
        bed.forward(ingress: 0, now: 1)
        // 5 frames, 3 free for copies: queues of 2 fill up, the rest is counted.
        let c1 = bed.dp.counters[1], c2 = bed.dp.counters[2]
        XCTAssertEqual(bed.dp.egress[1].count, 2)
        XCTAssertEqual(bed.dp.egress[2].count, 2)
        XCTAssertEqual(c1.drops[.queueFull] + c1.drops[.noBuffer] + c2.drops[.queueFull] + c2.drops[.noBuffer], 6)
        XCTAssertTrue(bed.ledgerBalances)
    }

    func testOutOfServicePortGetsNothingAndReturnsItsFrames() {
        let bed = EmbeddedDatapath(bridgePorts: 3)
        bed.receive(dst: MACAddress.broadcast.rawValue, src: c)
        bed.forward(ingress: 2, now: 1)       // c learned on 2; one frame queued on 0 and 1
        bed.dp.takeOutOfService(port: 1)
        XCTAssertEqual(bed.dp.counters[1].drops[.portDown], 1)
        XCTAssertNil(bed.dp.bridge.table.lookup(MACAddress(rawValue: b), now: 2))
        bed.receive(dst: MACAddress.broadcast.rawValue, src: a)
        bed.forward(ingress: 0, now: 2)
        XCTAssertEqual(bed.destinations(1), [])
        XCTAssertEqual(bed.destinations(2), [MACAddress.broadcast.rawValue])
        XCTAssertEqual(bed.destinations(0), [MACAddress.broadcast.rawValue])
        XCTAssertTrue(bed.ledgerBalances)
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

    /// Addresses computed offline to share one slot under an unkeyed Fibonacci hash (what a
    /// macof-style attacker aims with) spread out under the table's secret: no long chains.
    func testMACTableHashIsSeededSoCraftedAddressesDoNotShareAChain() {
        let capacity = 8192
        var crafted: [UInt64] = []
        var k: UInt64 = 0x02_00_00_00_00_00
        while crafted.count < 300 {
            k &+= 1
            if (k &* 0x9E37_79B9_7F4A_7C15) >> 51 == 0 { crafted.append(k) }
        }
        var t = MACTable(capacity: capacity, agingTime: 1_000_000)
        for (i, mac) in crafted.enumerated() { t.learn(MACAddress(rawValue: mac), port: i % 4, now: 1) }
        XCTAssertEqual(t.count, crafted.count)
        XCTAssertLessThan(t.longestProbe(), 16, "crafted addresses form a probe chain")
        for (i, mac) in crafted.enumerated() { XCTAssertEqual(t.lookup(MACAddress(rawValue: mac), now: 2), i % 4) }
        // Two starts hash differently; a fixed seed hashes the same.
        let a = MACTable(capacity: capacity), b = MACTable(capacity: capacity)
        XCTAssertNotEqual(crafted.prefix(8).map { a.slot($0) }, crafted.prefix(8).map { b.slot($0) })
        let c = MACTable(capacity: capacity, seed: (1, 3)), d = MACTable(capacity: capacity, seed: (1, 3))
        XCTAssertEqual(crafted.prefix(8).map { c.slot($0) }, crafted.prefix(8).map { d.slot($0) })
    }

    /// Moves and refused learns reach the snapshot counters.
    func testMACTableMovesAndLearnFailuresAreExported() {
        let bed = EmbeddedDatapath(bridgePorts: 3, macTable: MACTable(capacity: 4, agingTime: 1_000_000))
        bed.receive(dst: MACAddress.broadcast.rawValue, src: a)
        bed.forward(ingress: 0, now: 1)
        bed.receive(dst: MACAddress.broadcast.rawValue, src: a)
        bed.forward(ingress: 1, now: 2)       // a moved from port 0 to 1
        bed.receive(dst: MACAddress.broadcast.rawValue, src: b)
        bed.forward(ingress: 2, now: 3)       // the table (4 slots) is full at 2 addresses
        bed.receive(dst: MACAddress.broadcast.rawValue, src: c)
        bed.forward(ingress: 2, now: 4)       // refused
        XCTAssertEqual(bed.dp.macMoves, 1)
        XCTAssertEqual(bed.dp.macLearnFailures, 1)
    }
}
