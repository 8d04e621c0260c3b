import FabricPacket
import FabricTestSupport
import XCTest
@testable import FabricCore

/// The emulated wire beyond the shaper: the delay line and random loss, alone and in the data
/// path (ordering, the frame ledger, buffer credit, PFC frames, link down).
final class LinkEmulationTests: XCTestCase {
    func testTheDelayLineHoldsEachFrameForTheDelayAndKeepsOrder() {
        var line = DelayLine(delayNanoseconds: 2_000_000, capacity: 4)
        XCTAssertTrue(line.isEnabled)
        line.push(addr: 1, len: 60, departure: 1_000)
        line.push(addr: 2, len: 60, departure: 1_500)
        line.push(addr: 3, len: 60, departure: 1_500)
        line.push(addr: 4, len: 60, departure: 9_000)
        XCTAssertTrue(line.isFull)
        XCTAssertEqual(line.nextDue, 2_001_000)
        XCTAssertNil(line.popDue(now: 2_000_999), "one nanosecond early")
        XCTAssertEqual(line.popDue(now: 2_001_000)?.addr, 1)
        XCTAssertNil(line.popDue(now: 2_001_499))
        XCTAssertEqual(line.popDue(now: 2_001_500)?.addr, 2)
        XCTAssertEqual(line.popDue(now: 2_001_500)?.addr, 3, "same departure, same order")
        XCTAssertNil(line.popDue(now: 2_008_999))
        line.push(addr: 5, len: 60, departure: 10_000)                  // wraps the ring
        XCTAssertEqual(line.removeOldest()?.addr, 4, "a link going down takes them whether due or not")
        XCTAssertEqual(line.popDue(now: .max)?.addr, 5)
        XCTAssertTrue(line.isEmpty)
        XCTAssertFalse(DelayLine(delayNanoseconds: 0, capacity: 0).isEnabled)
    }

    func testTheLineIsSizedForDelayTimesLineRateInMinimumFrames() {
        // 2 ms at 1 Gb/s: 250,000 bytes on the wire, 2977 frames of 84 wire bytes.
        XCTAssertEqual(PortConfig.framesInFlight(delayNanoseconds: 2_000_000, gbps: 1), 2977)
        XCTAssertEqual(PortConfig(name: "p", speedGbps: 1, delayNanoseconds: 2_000_000).delayLineFrames, 4096)
        XCTAssertEqual(PortConfig(name: "p", speedGbps: 1, delayNanoseconds: 1_000).delayLineFrames, 64, "at least 64")
        XCTAssertEqual(PortConfig(name: "p", delayNanoseconds: 2_000_000).delayLineFrames, PortConfig.unshapedDelayLineFrames)
        XCTAssertEqual(PortConfig(name: "p", speedGbps: 1).delayLineFrames, 0, "no delay, no line")
        // 65536 minimum frames at 10G are 4.4 ms.
        XCTAssertEqual(PortConfig(name: "p", speedGbps: 10).longestDelayNanoseconds, 4_404_019)
        XCTAssertLessThanOrEqual(PortConfig(name: "p", speedGbps: 10, delayNanoseconds: 4_404_019).delayLineFrames, PortConfig.maxDelayLineFrames)
        XCTAssertGreaterThan(PortConfig(name: "p", speedGbps: 10, delayNanoseconds: 4_500_000).delayLineFrames, PortConfig.maxDelayLineFrames)
    }

    /// 100,000 frames at 1%: the count lies within 5 standard deviations of n p (a fair
    /// generator fails this about once in 3.5 million runs), and a seed replays its losses.
    func testRandomLossIsWithinItsBinomialBoundsAndASeedReplaysIt() {
        let n = 100_000, p = 0.01
        var loss = RandomLoss(rate: p, seed: 42)
        var lost: [Int] = []
        for i in 0..<n where loss.drops() { lost.append(i) }
        let sd = (Double(n) * p * (1 - p)).squareRoot()
        XCTAssertEqual(Double(lost.count), Double(n) * p, accuracy: 5 * sd, "\(lost.count) lost of \(n)")
        var again = RandomLoss(rate: p, seed: 42)
        XCTAssertEqual((0..<n).filter { _ in again.drops() }, lost, "the same seed loses the same frames")
        var other = RandomLoss(rate: p, seed: 43)
        XCTAssertNotEqual((0..<n).filter { _ in other.drops() }, lost)
        var never = RandomLoss(rate: 0, seed: 1), always = RandomLoss(rate: 1, seed: 1)
        XCTAssertFalse((0..<1000).contains { _ in never.drops() })
        XCTAssertTrue((0..<1000).allSatisfy { _ in always.drops() })
        // Small rates are not rounded away: 0.1% of 1,000,000.
        var small = RandomLoss(rate: 0.001, seed: 7)
        let k = (0..<1_000_000).filter { _ in small.drops() }.count
        XCTAssertEqual(Double(k), 1000, accuracy: 5 * (1_000_000 * 0.001 * 0.999).squareRoot(), "\(k)")
    }

    /// h1 -> h2 through the router, port h2 with `delay` and `loss` as given.
    static func bed(delay: UInt64 = 0, speed: Double? = nil, loss: Double = 0, seed: UInt64 = 1, frameCount: Int = 256) -> EmbeddedDatapath {
        var cfg = SwitchConfig(ports: [
            PortConfig(name: "h1", addresses: [IPPrefix("10.77.1.254/24", strict: false)!]),
            PortConfig(name: "h2", addresses: [IPPrefix("10.77.2.254/24", strict: false)!], speedGbps: speed,
                       delayNanoseconds: delay, lossPercent: loss, lossSeed: seed),
        ])
        cfg.neighbours = [NeighbourConfig(address: .v4(RouterLab.h2), mac: MACAddress(rawValue: RouterLab.host2)),
                          NeighbourConfig(address: .v4(RouterLab.h1), mac: MACAddress(rawValue: RouterLab.host1))]
        return EmbeddedDatapath(config: cfg, portMACs: RouterLab.portMACs.prefix(2).map { MACAddress(rawValue: $0) }, frameCount: frameCount)
    }

    static func send(_ bed: EmbeddedDatapath, _ n: Int, at now: UInt64, firstPort: UInt16 = 1) {
        for i in 0..<n { bed.receive(RouterLab.udp(sport: firstPort + UInt16(i))) }
        bed.forward(ingress: 0, now: now)
    }

    static func sport(_ frame: [UInt8]) -> UInt16 { UInt16(frame[34]) << 8 | UInt16(frame[35]) }

    func testFramesLeaveOneDelayAfterTheShaperInOrderAndStayInTheLedger() {
        let bed = Self.bed(delay: 2_000_000)
        Self.send(bed, 10, at: 1_000)
        XCTAssertTrue(bed.transmit(port: 1, now: 1_000).isEmpty, "on the wire")
        XCTAssertEqual(bed.dp.queuedFrames, 10, "frames on the wire are queued in the ledger")
        XCTAssertTrue(bed.ledgerBalances)
        XCTAssertEqual(bed.dp.stats(port: 0, now: 1_000).pgBytes.reduce(0, +), 0, "credited when they left the shaper")
        Self.send(bed, 5, at: 500_000, firstPort: 11)
        XCTAssertTrue(bed.transmit(port: 1, now: 500_000).isEmpty)
        XCTAssertTrue(bed.transmit(port: 1, now: 2_000_999).isEmpty, "one nanosecond early")
        let first = bed.transmit(port: 1, now: 2_001_000)
        XCTAssertEqual(first.map(Self.sport), Array(1...10))
        XCTAssertTrue(bed.transmit(port: 1, now: 2_499_999).isEmpty)
        XCTAssertEqual(bed.transmit(port: 1, now: 2_500_000).map(Self.sport), Array(11...15))
        XCTAssertEqual(bed.dp.queuedFrames, 0)
        XCTAssertTrue(bed.ledgerBalances)
        XCTAssertEqual(bed.dp.stats(port: 1, now: 0).queues[0].residence.p50, 0, "switch residence ends at the shaper, not after the wire")
    }

    /// 1 Gb/s: 1226-byte frames (1250 on the wire) leave the shaper 10 us apart; each arrives
    /// its own departure + delay later, so the wire keeps the spacing.
    func testTheDelayAddsToTheShapersDepartures() {
        let bed = Self.bed(delay: 1_000_000, speed: 1)
        for i in 0..<40 { bed.receive(RouterLab.udp(sport: UInt16(i + 1), payload: 1226 - 42)) }
        bed.forward(ingress: 0, now: 1)
        var shaped: [UInt64] = [], arrived: [UInt64] = []
        let plain = Self.bed(speed: 1)
        for i in 0..<40 { plain.receive(RouterLab.udp(sport: UInt16(i + 1), payload: 1226 - 42)) }
        plain.forward(ingress: 0, now: 1)
        var now: UInt64 = 1
        while arrived.count < 40 && now < 10_000_000 {
            for _ in plain.transmit(port: 1, now: now) { shaped.append(now) }
            for _ in bed.transmit(port: 1, now: now) { arrived.append(now) }
            now += 1_000
        }
        XCTAssertEqual(arrived.count, 40)
        XCTAssertEqual(zip(shaped, arrived).map { $1 - $0 }, Array(repeating: 1_000_000, count: 40))
        XCTAssertTrue(bed.ledgerBalances)
    }

    /// A PFC frame the switch sends crosses the wire too (the peer hears it one delay later),
    /// behind the frames already on the wire and ahead of those still queued.
    func testAPauseFrameCrossesTheWireAheadOfQueuedFramesBehindSentOnes() {
        let bed = Self.bed(delay: 1_000_000, speed: 1)
        for i in 0..<40 { bed.receive(RouterLab.udp(sport: UInt16(i + 1), payload: 1226 - 42)) }
        bed.forward(ingress: 0, now: 1)
        XCTAssertTrue(bed.transmit(port: 1, now: 1).isEmpty)        // the burst goes onto the wire
        let onWire = bed.dp.egress[1].line.count
        XCTAssertGreaterThan(onWire, 0)
        XCTAssertLessThan(onWire, 40, "the rest wait for the shaper")
        bed.dp.sendPFC(port: 1, priorities: 1 << 3, quanta: 0xFFFF, now: 2)
        XCTAssertTrue(bed.transmit(port: 1, now: 2).isEmpty)
        let out = bed.transmit(port: 1, now: 1_000_002)
        XCTAssertEqual(out.count, onWire + 1)
        XCTAssertEqual(out.last.map { Array($0[12...15]) }, [0x88, 0x08, 0x01, 0x01], "the PFC frame last: behind what was sent")
        XCTAssertEqual(out.dropLast().map(Self.sport), Array(1...UInt16(onWire)))
        XCTAssertTrue(bed.ledgerBalances)
    }

    /// 2000 frames through a 10% lossy port: what is lost is counted as `emulated_loss`, the
    /// rest arrive in order, the count is within its binomial bounds, and the same seed loses
    /// the same frames.
    func testLossOnThePortIsCountedWithinBoundsAndReproducible() {
        func run(seed: UInt64) -> [UInt16] {
            let bed = Self.bed(loss: 10, seed: seed)
            var got: [UInt16] = []
            for b in 0..<40 {
                Self.send(bed, 50, at: UInt64(b + 1) * 1000, firstPort: UInt16(b * 50 + 1))
                got += bed.transmit(port: 1, now: UInt64(b + 1) * 1000).map(Self.sport)
                XCTAssertTrue(bed.ledgerBalances)
            }
            let lost = bed.dp.counters(port: 1).drops[.emulatedLoss]
            XCTAssertEqual(Int(lost) + got.count, 2000)
            XCTAssertEqual(bed.dp.stats(port: 0, now: 0).pgBytes.reduce(0, +), 0, "lost frames were credited too")
            XCTAssertEqual(got, got.sorted(), "what arrives is in order")
            return got
        }
        let a = run(seed: 9)
        let sd = (2000 * 0.1 * 0.9).squareRoot()
        XCTAssertEqual(Double(2000 - a.count), 200, accuracy: 5 * sd, "\(2000 - a.count) lost")
        XCTAssertEqual(run(seed: 9), a)
    }

    func testALinkGoingDownLosesWhatIsOnTheWire() {
        let bed = Self.bed(delay: 2_000_000)
        Self.send(bed, 10, at: 1_000)
        _ = bed.transmit(port: 1, now: 1_000)
        XCTAssertEqual(bed.dp.egress[1].line.count, 10)
        bed.dp.setLink(port: 1, up: false)
        XCTAssertEqual(bed.dp.counters(port: 1).drops[.linkDown], 10)
        XCTAssertEqual(bed.dp.queuedFrames, 0)
        XCTAssertTrue(bed.ledgerBalances)
    }

    func testTheHeadroomCoversTheDelayBothWays() {
        let b = BufferConfig()
        // 1 ms at 1 Gb/s is 125,000 bytes each way.
        XCTAssertEqual(b.hardwareHeadroom(speedGbps: 1, delayNanoseconds: 1_000_000) - b.hardwareHeadroom(speedGbps: 1), 250_000)
    }
}
