import FabricPacket
import FabricTestSupport
import XCTest
@testable import FabricCore

/// The stall budget (receive rings and headroom sized for a worker held off the CPU), frames
/// waiting in a receive ring counted for PFC, and frame memory that cannot run out before PFC.
final class StallAndFrameBudgetTests: XCTestCase {
    let h1 = parseIPv4("10.77.1.1")!, h2 = parseIPv4("10.77.2.1")!

    /// The lossless incast's switch: 4 ports, the receiver's at 200 Mb/s.
    func incastConfig() -> SwitchConfig {
        var c = SwitchConfig(ports: (1...4).map { PortConfig(name: "h\($0)", addresses: [IPPrefix("10.77.\($0).254/24", strict: false)!]) })
        c.ports[3].speedGbps = 0.2
        return c
    }

    func testStallBudgetSizesTheReceiveRingsAndTheHeadroom() {
        let c = incastConfig()
        let b = c.buffers
        XCTAssertEqual(b.stallBudgetNanoseconds, 100_000_000)
        // 100 ms at 1 Gb/s (no speed: the stall rate) and at the 200 Mb/s port's own speed.
        XCTAssertEqual(b.stallBytes(speedGbps: nil), 12_500_000)
        XCTAssertEqual(b.stallBytes(speedGbps: 100), 12_500_000, "a faster port is sized at the stall rate")
        XCTAssertEqual(b.stallBytes(speedGbps: 0.2), 2_500_000)
        XCTAssertEqual(b.stallFrames(speedGbps: nil), 12_208, "frames counted as at least 1 KB")
        XCTAssertEqual(b.headroom(speedGbps: nil), b.hardwareHeadroom(speedGbps: 100) + 12_500_000 + 2 * 1024 * 1024)

        let f = FrameBudget(config: c, ringSize: 2048, batchSize: 64)
        XCTAssertEqual(f.rxRing, [16384, 16384, 16384, 4096], "a power of two holding the stall and one batch")
        XCTAssertEqual(f.stallFrames, [16320, 16320, 16320, 4032])
        XCTAssertEqual(f.txRing, 2048)
        XCTAssertEqual(f.losslessPGs, 1)
        XCTAssertEqual(f.losslessQueues, 1 << 3)
        // Shared pool + per port (PG3's reserved + headroom), in frames charged at least 1 KB.
        let chargeable = b.poolBytes + f.headroom.reduce(0) { $0 + $1 + b.lossless.reservedBytes }
        XCTAssertEqual(f.queued, (chargeable + 1023) / 1024)
        XCTAssertGreaterThanOrEqual(f.losslessQueueCapacity, f.queued)
        XCTAssertEqual(f.reserve, 4 * EgressPort.controlCapacity)
        XCTAssertEqual(f.total, 3 * 16384 + 4096 + 4 * 2 * 2048 + f.queued + f.reserve + f.other)

        // No budget: the rings of --ring-size, no stall in the headroom.
        var none = c
        none.buffers.stallBudgetNanoseconds = 0
        let g = FrameBudget(config: none, ringSize: 2048, batchSize: 64)
        XCTAssertEqual(g.rxRing, [2048, 2048, 2048, 2048])
        XCTAssertEqual(none.buffers.headroom(speedGbps: nil), b.hardwareHeadroom(speedGbps: 100) + 2 * 1024 * 1024)

        // A bridge classifies as the router does and is lossless too: its PG3 headroom is
        // chargeable, and its lossless queue holds all of it. The same ports make the same
        // budget in either mode.
        let ports = [PortConfig(name: "a"), PortConfig(name: "b")]
        let bridge = FrameBudget(config: SwitchConfig(mode: .bridge, ports: ports), ringSize: 2048, batchSize: 64)
        XCTAssertEqual(bridge.losslessPGs, 1)
        XCTAssertEqual(bridge.losslessQueues, 1 << 3)
        XCTAssertEqual(bridge.headroom, [b.headroom(speedGbps: nil), b.headroom(speedGbps: nil)])
        XCTAssertEqual(bridge.queued, (b.poolBytes + 2 * (b.lossless.reservedBytes + b.headroom(speedGbps: nil)) + 1023) / 1024)
        XCTAssertGreaterThan(bridge.queued, b.poolBytes / 1024, "more than the pool: the headroom counts")
        XCTAssertGreaterThanOrEqual(bridge.losslessQueueCapacity, bridge.queued)
        XCTAssertLessThan(bridge.losslessQueueCapacity, 2 * bridge.queued, "the least power of two that holds it")
        XCTAssertEqual(bridge.losslessQueueCapacity & (bridge.losslessQueueCapacity - 1), 0)
        XCTAssertEqual(bridge, FrameBudget(config: SwitchConfig(mode: .router, ports: ports), ringSize: 2048, batchSize: 64))
    }

    func testLosslessQueuesHoldWhatTheirPGsMayAdmit() {
        let e = EgressPort(capacity: 16, losslessQueues: 1 << 3, losslessCapacity: 1024)
        XCTAssertEqual(e.capacity(queue: 3), 1024)
        XCTAssertEqual(e.capacity(queue: 0), 16)
    }

    func testAFrameIsChargedAtLeastTheMinimum() {
        let bed = RouterLab.twoPorts()
        bed.receive(RouterLab.udp(from: 1, dscp: 26))          // 60 bytes
        bed.receive(RouterLab.udp(from: 1, dscp: 26, payload: 1500))
        bed.forward(ingress: 0)
        XCTAssertEqual(bed.dp.admission.buffer.held(port: 0, pg: 3), 1024 + 1542)
        _ = bed.transmit(port: 1, now: 2_000)
        XCTAssertEqual(bed.dp.admission.buffer.held(port: 0, pg: 3), 0, "credited as charged")
    }

    // MARK: - The receive ring's backlog

    func bed(xoff: Int, xon: Int) -> EmbeddedDatapath {
        var b = BufferConfig()
        b.lossless = .init(reservedBytes: 0, threshold: .fixed(xoff))
        b.xonOffsetBytes = xoff - xon
        return RouterLab.twoPorts(buffers: b)
    }

    func isPFC(_ f: [UInt8], quanta: UInt16) -> Bool {
        f.count == 60 && f[12] == 0x88 && f[13] == 0x08 && f[17] == 1 << 3 && UInt16(f[24]) << 8 | UInt16(f[25]) == quanta
    }

    /// Frames waiting unclassified in a port's receive ring count against its lossless PG: past
    /// its threshold an XOFF goes out at once, before any of them is forwarded; once they are
    /// gone (and nothing of the PG's own is held), an XON.
    func testFramesWaitingInTheReceiveRingSendXOFFAtOnceAndXONWhenGone() {
        let bed = bed(xoff: 16 * 1024, xon: 8 * 1024)
        bed.dp.rxBacklog(port: 0, frames: 15, now: 1_000)
        XCTAssertEqual(bed.drainControl(0).count, 0, "15 KB: below the 16 KB threshold")
        bed.dp.rxBacklog(port: 0, frames: 40, now: 2_000)
        let xoff = bed.drainControl(0)
        XCTAssertEqual(xoff.count, 1)
        XCTAssertTrue(isPFC(xoff[0], quanta: 0xFFFF))
        XCTAssertEqual(bed.dp.counters[0].pfcTx[3], 1)
        XCTAssertEqual(bed.drainControl(1).count, 0, "only the port whose ring holds them")
        bed.dp.rxBacklog(port: 0, frames: 40, now: 3_000)
        bed.dp.rxBacklog(port: 0, frames: 30, now: 4_000)
        XCTAssertEqual(bed.drainControl(0).count, 0, "still in XOFF: no new frame")
        // Refreshed while they wait, as any XOFF.
        bed.dp.tick(now: 2_000 + 170_000)
        XCTAssertEqual(bed.drainControl(0).count, 1)
        bed.dp.rxBacklog(port: 0, frames: 0, now: 200_000)
        let xon = bed.drainControl(0)
        XCTAssertEqual(xon.count, 1)
        XCTAssertTrue(isPFC(xon[0], quanta: 0))
    }

    /// A PG in XOFF with frames of its own queued resumes only once those leave and what
    /// waits in the ring fits below XON too.
    func testNoXONWhileTheReceiveRingHoldsWhatWouldPauseAgain() {
        let bed = bed(xoff: 8 * 1024, xon: 4 * 1024)
        for i in 0..<10 { bed.receive(RouterLab.udp(from: 1, sport: UInt16(i), dscp: 26, payload: 1000)) }
        bed.forward(ingress: 0)
        XCTAssertEqual(bed.drainControl(0).count, 1, "XOFF")
        bed.dp.rxBacklog(port: 0, frames: 20, now: 2_000)
        XCTAssertEqual(bed.drainControl(0).count, 0)
        _ = bed.transmit(port: 1, now: 3_000)
        XCTAssertEqual(bed.dp.admission.buffer.held(port: 0, pg: 3), 0)
        XCTAssertEqual(bed.drainControl(0).count, 0, "20 KB still waiting in the ring")
        bed.dp.rxBacklog(port: 0, frames: 2, now: 4_000)
        XCTAssertEqual(bed.drainControl(0).count, 1, "XON")
    }

    // MARK: - Frame memory

    func testThePoolKeepsItsReserveForPFC() {
        var pool = FramePool(frameCount: 8, frameSize: 2048, reserve: 2)
        var got: [UInt64] = []
        while let f = pool.allocate() { got.append(f) }
        XCTAssertEqual(got.count, 6)
        XCTAssertEqual(pool.available, 0)
        XCTAssertEqual(pool.refusals, 1)
        XCTAssertNotNil(pool.allocateReserved())
        XCTAssertNotNil(pool.allocateReserved())
        XCTAssertNil(pool.allocateReserved())
        XCTAssertEqual(pool.refusals, 2)
    }

    /// With every frame outside the reserve in use, an XOFF still goes out; with none at all it
    /// is counted, not lost silently, and sent at the next tick once a frame is back.
    func testAnXOFFFindsAFrameOrIsCountedAndRepeated() {
        var b = BufferConfig()
        b.lossless = .init(reservedBytes: 0, threshold: .fixed(2 * 1024))
        let cfg: SwitchConfig = {
            var c = SwitchConfig(ports: [PortConfig(name: "h1", addresses: [IPPrefix("10.77.1.254/24", strict: false)!]),
                                         PortConfig(name: "h2", addresses: [IPPrefix("10.77.2.254/24", strict: false)!])])
            c.buffers = b
            c.neighbours = [NeighbourConfig(address: .v4(h2), mac: MACAddress(rawValue: RouterLab.host2))]
            return c
        }()
        let bed = EmbeddedDatapath(config: cfg, portMACs: RouterLab.portMACs.prefix(2).map { MACAddress(rawValue: $0) }, frameCount: 16, reserve: 1)
        for i in 0..<4 { bed.receive(RouterLab.udp(from: 1, sport: UInt16(i), dscp: 26, payload: 1000)) }
        var hog: [UInt64] = []
        while let f = bed.dp.pool.allocate() { hog.append(f) }
        bed.forward(ingress: 0)
        XCTAssertEqual(bed.dp.counters[0].pfcTx[3], 1, "the XOFF took the reserved frame")
        XCTAssertEqual(bed.dp.counters[0].pfcTxFailures, 0)
        XCTAssertEqual(bed.drainControl(0).count, 1)
        // Now nothing at all is free: the refresh cannot be sent, and says so.
        hog.append(bed.dp.pool.allocateReserved()!)
        bed.dp.tick(now: 1_000 + 170_000)
        XCTAssertEqual(bed.dp.counters[0].pfcTxFailures, 1)
        XCTAssertEqual(bed.dp.counters[0].pfcTx[3], 1)
        bed.dp.pool.release(hog.removeLast())
        bed.dp.tick(now: 1_000 + 171_000)
        XCTAssertEqual(bed.dp.counters[0].pfcTx[3], 2, "repeated on the next pass, not half a pause later")
        for f in hog { bed.dp.pool.release(f) }
    }

    /// The review's small-frame case: 64-byte frames of a lossless and a lossy class from two
    /// ports into two that never drain. With the frame memory `FrameBudget` sizes, the buffer
    /// accounting refuses frames long before the memory runs out: every XOFF goes out, no
    /// allocation fails, and lossless frames are dropped only past headroom.
    func testSmallFrameCongestionNeverEmptiesTheFrameMemory() {
        var c = SwitchConfig(ports: (1...4).map { PortConfig(name: "h\($0)", addresses: [IPPrefix("10.77.\($0).254/24", strict: false)!]) })
        c.buffers.poolBytes = 512 * 1024
        c.buffers.headroomBytes = 256 * 1024
        c.neighbours = (3...4).map { NeighbourConfig(address: .v4(parseIPv4("10.77.\($0).1")!), mac: MACAddress(rawValue: 0x02_5F_00_00_00_10 + UInt64($0))) }
        let macs = (1...4).map { MACAddress(rawValue: 0x02_5F_00_00_01_00 + UInt64($0)) }
        let bed = EmbeddedDatapath(budgetFor: c, portMACs: macs)
        let budget = FrameBudget(config: c, ringSize: 64, batchSize: 64)
        var offered = 0
        for round in 0..<60 {
            for ingress in 0..<2 {
                for i in 0..<64 {
                    let dst = parseIPv4("10.77.\(3 + i % 2).1")!
                    let frame = Frames.udp4(dstMAC: macs[ingress].rawValue, srcMAC: 0x02_5F_00_00_00_01 + UInt64(ingress),
                                            src: parseIPv4("10.77.\(ingress + 1).1")!, dst: dst, sport: UInt16(round), dport: 9,
                                            tos: (i / 2 % 2 == 0 ? 26 : 0) << 2 | 2)
                    XCTAssertTrue(bed.receive(frame), "a receive buffer for every frame")
                    offered += 1
                }
                bed.forward(ingress: ingress, now: UInt64(1_000 + round))
            }
        }
        for p in 0..<2 {
            let k = bed.dp.counters[p]
            XCTAssertGreaterThan(k.pfcTx[3], 0, "h\(p + 1) was paused")
            XCTAssertEqual(k.pfcTxFailures, 0)
            XCTAssertGreaterThan(k.drops[.headroomOverflow], 0, "64-byte frames fill it: the senders here do not stop")
            XCTAssertGreaterThan(k.drops[.bufferFull], 0)
        }
        for p in 0..<4 {
            XCTAssertEqual(bed.dp.counters[p].drops[.noBuffer], 0)
            XCTAssertEqual(bed.dp.counters[p].drops[.queueFull], 0)
        }
        XCTAssertEqual(bed.dp.pool.refusals, 0, "the frame memory never ran short")
        XCTAssertLessThanOrEqual(bed.dp.queuedFrames, budget.queued)
        XCTAssertGreaterThan(bed.dp.queuedFrames, 0)
        XCTAssertTrue(bed.ledgerBalances)
        XCTAssertEqual(offered, 60 * 128)
    }
}

extension StallAndFrameBudgetTests {
    /// The bridge classifies (per port trust) and is lossless: frames waiting in its receive
    /// ring count against the port's lossless PG as a router's do. Below the PG's reserve they
    /// pause nobody; past its threshold an XOFF goes out for the lossless priority (3) alone,
    /// on that port alone; once they are gone, an XON.
    func testABridgesBacklogPausesItsLosslessPriority() {
        let bed = EmbeddedDatapath(bridgePorts: 2)
        bed.dp.rxBacklog(port: 0, frames: 10, now: 1_000)
        XCTAssertTrue(bed.dp.egress[0].control.isEmpty, "10 KB: below the threshold")
        bed.dp.rxBacklog(port: 0, frames: 100_000, now: 2_000)
        let xoff = bed.drainControl(0)
        XCTAssertEqual(xoff.count, 1)
        XCTAssertTrue(xoff.first.map { isPFC($0, quanta: 0xFFFF) } ?? false, "XOFF for priority 3 only")
        XCTAssertEqual(bed.dp.counters[0].pfcTx[3], 1)
        XCTAssertEqual(bed.dp.counters[0].pfcTx[0], 0, "lossy class 0 is not paused")
        XCTAssertTrue(bed.dp.egress[1].control.isEmpty, "only the port whose ring holds them")
        bed.dp.rxBacklog(port: 0, frames: 0, now: 3_000)
        let xon = bed.drainControl(0)
        XCTAssertEqual(xon.count, 1)
        XCTAssertTrue(xon.first.map { isPFC($0, quanta: 0) } ?? false, "XON")
    }
}
