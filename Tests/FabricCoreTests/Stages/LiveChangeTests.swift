import FabricPacket
import FabricTestSupport
import XCTest
@testable import FabricCore

/// What `fabric ctl config apply` changes on a running data path: a port's emulated link
/// (speed, delay, loss) and the QoS maps, between two batches, with nothing lost.
final class LiveChangeTests: XCTestCase {
    let h1 = RouterLab.h1, h2 = RouterLab.h2

    func udp(_ dscp: UInt8, payload: Int = 1000) -> [UInt8] {
        Frames.udp4(dstMAC: RouterLab.portMACs[0], srcMAC: RouterLab.host1, src: h1, dst: h2, sport: 1, dport: 2, tos: dscp << 2 | 2, payload: payload)
    }

    /// Frames on the wire arrive when they were due whatever the new delay; frames sent after
    /// take the new one and never overtake; a longer line moves the frames over in order.
    func testADelayChangeKeepsTheWireInOrderAndGrowsTheLine() {
        var line = DelayLine(delayNanoseconds: 2_000_000, capacity: 4)
        line.push(addr: 1, len: 60, departure: 0)
        line.push(addr: 2, len: 60, departure: 0)
        XCTAssertEqual(line.popDue(now: 2_000_000)?.addr, 1)
        line.push(addr: 3, len: 60, departure: 10)
        line.push(addr: 4, len: 60, departure: 20)
        line.push(addr: 5, len: 60, departure: 30)    // wrapped: head at 1 of 4
        line.retune(delayNanoseconds: 0, capacity: 1)
        XCTAssertTrue(line.isEnabled, "delay 0, but frames still on the wire")
        XCTAssertEqual(line.capacity, 4, "the ring never shrinks")
        line.retune(delayNanoseconds: 1_000, capacity: 16)
        XCTAssertEqual(line.capacity, 16)
        XCTAssertEqual(line.count, 4)
        line.push(addr: 6, len: 60, departure: 40)    // due at 1_040, behind frames due at 2 ms
        XCTAssertEqual(line.popDue(now: 1_040)?.addr, nil, "no overtaking: the old frames are due first")
        XCTAssertEqual((0..<5).compactMap { _ in line.popDue(now: 2_000_030)?.addr }, [2, 3, 4, 5, 6])
        line.retune(delayNanoseconds: 0, capacity: 1)
        XCTAssertFalse(line.isEnabled, "empty and without delay: no line")
    }

    /// Speed set live on h2's port: the shaper lets a burst go, then holds the rest for their
    /// wire time at the new rate; speed removed again, everything goes at once. The headroom
    /// follows the speed as at start.
    func testASpeedChangeRetunesTheShaperAndTheHeadroom() {
        let bed = RouterLab.twoPorts()
        func send(_ n: Int, at now: UInt64) -> Int {
            for _ in 0..<n { bed.receive(udp(0)) }
            bed.forward(ingress: 0, now: now)
            return bed.transmit(port: 1, now: now).count
        }
        XCTAssertEqual(send(20, at: 1_000), 20, "unshaped: all at once")
        let buffers = BufferConfig()
        var port = PortConfig(name: "h2", speedGbps: 0.01)
        bed.dp.retune(port: 1, to: port, buffers: buffers, now: 2_000)
        let first = send(20, at: 2_000)
        XCTAssertGreaterThan(first, 0)
        XCTAssertLessThan(first, 20, "10 Mb/s: a burst, then the wire's pace")
        XCTAssertEqual(bed.dp.admission.buffer.headroom[1], buffers.headroom(speedGbps: 0.01))
        // 1066 wire bytes take 853 us at 10 Mb/s: 10 ms later about 11 more have left.
        let later = bed.transmit(port: 1, now: 10_002_000).count
        XCTAssertEqual(later, 11, accuracy: 2)
        port.speedGbps = nil
        bed.dp.retune(port: 1, to: port, buffers: buffers, now: 10_003_000)
        XCTAssertEqual(bed.transmit(port: 1, now: 10_003_000).count, 20 - first - later, "unshaped again: the rest goes")
        XCTAssertEqual(bed.dp.admission.buffer.headroom[1], buffers.headroom(speedGbps: 100))
        XCTAssertTrue(bed.ledgerBalances)
    }

    /// Loss set live on h2's port drops (and counts) what leaves there; set to 0 again, nothing.
    func testLossSetLiveIsCounted() {
        let bed = RouterLab.twoPorts()
        bed.dp.retune(port: 1, to: PortConfig(name: "h2", lossPercent: 100), buffers: BufferConfig(), now: 1)
        for _ in 0..<10 { bed.receive(udp(0)) }
        bed.forward(ingress: 0, now: 10)
        XCTAssertEqual(bed.transmit(port: 1, now: 10).count, 0)
        XCTAssertEqual(bed.dp.counters[1].drops[.emulatedLoss], 10)
        bed.dp.retune(port: 1, to: PortConfig(name: "h2"), buffers: BufferConfig(), now: 20)
        for _ in 0..<10 { bed.receive(udp(0)) }
        bed.forward(ingress: 0, now: 30)
        XCTAssertEqual(bed.transmit(port: 1, now: 30).count, 10)
        XCTAssertTrue(bed.ledgerBalances)
    }

    /// A DSCP map changed live sends the next frames to another queue; making the lossless
    /// class lossy releases its XOFF with an XON to the sender at once.
    func testAQoSChangeReclassifiesAndReleasesXOFF() throws {
        var buffers = BufferConfig()
        buffers.lossless = .init(reservedBytes: 0, threshold: .fixed(4 * 1024))
        let bed = RouterLab.twoPorts(buffers: buffers)
        var qos = SwitchConfig(ports: []).qos
        // Lossless TC3 (DSCP 26) piles up on h2's port, which sends nothing: XOFF to h1.
        for _ in 0..<10 { bed.receive(udp(26)) }
        bed.forward(ingress: 0, now: 1_000)
        XCTAssertTrue(bed.dp.admission.inXoff(port: 0, pg: Int(qos.tcToPriorityGroup[3])))
        let xoff = bed.transmit(port: 0, now: 1_000)
        XCTAssertEqual(xoff.count, 1, "the XOFF")
        qos.losslessTCs = 0
        qos.dscpToTC[0] = 2
        bed.dp.setQoS(qos, trust: [.dscp, .dscp], pfcEnabled: [0, 0], buffers: buffers, now: 2_000)
        XCTAssertFalse(bed.dp.admission.inXoff(port: 0, pg: 3))
        let xon = bed.transmit(port: 0, now: 2_000)
        XCTAssertEqual(xon.count, 1, "an XON")
        let quanta = xon.first.map { UInt16($0[16 + 2 * 3]) << 8 | UInt16($0[17 + 2 * 3]) }
        XCTAssertEqual(quanta, 0, "priority 3 resumed")
        bed.receive(udp(0))
        bed.forward(ingress: 0, now: 3_000)
        XCTAssertEqual(bed.dp.egress[1].depth(queue: Int(qos.tcToQueue[2])).frames, 1, "DSCP 0 now in TC2's queue")
        XCTAssertEqual(bed.transmit(port: 1, now: 3_000).count, 11)
        XCTAssertEqual(bed.dp.bufferPool.used, 0, "every frame credited back")
        XCTAssertTrue(bed.ledgerBalances)
    }
}
