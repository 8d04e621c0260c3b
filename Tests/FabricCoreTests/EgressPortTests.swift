import XCTest
@testable import FabricCore

final class EgressPortTests: XCTestCase {
    func testStrictQueueGoesFirstThenRoundRobin() {
        var e = EgressPort(capacity: 64)
        for i in 0..<4 { XCTAssertTrue(e.enqueue(addr: UInt64(i), len: 100, queue: 0)) }
        for i in 0..<4 { XCTAssertTrue(e.enqueue(addr: UInt64(100 + i), len: 100, queue: 3)) }
        XCTAssertTrue(e.enqueue(addr: 600, len: 60, queue: 6))   // CNP class: strict
        XCTAssertEqual(e.dequeue()?.addr, 600, "strict queue 6 first")
        var order: [UInt64] = []
        while let f = e.dequeue() { order.append(f.addr) }
        XCTAssertEqual(Set(order), Set([0, 1, 2, 3, 100, 101, 102, 103]))
        XCTAssertEqual(e.count, 0)
        XCTAssertEqual(e.enqueued[0], 4)
        XCTAssertEqual(e.dequeued[3], 4)
        XCTAssertEqual(e.watermark[0], 4)
    }

    func testDWRRSharesBytesByWeight() {
        var weights = Array(repeating: 1, count: 8)
        weights[3] = 3
        var e = EgressPort(capacity: 1024, strictMask: 0, weights: weights)
        var sent = [0, 0, 0, 0]
        // Keep both queues backlogged with 1000-byte frames and count bytes served.
        for _ in 0..<2000 {
            while e.depth(queue: 0).frames < 8 { _ = e.enqueue(addr: 0, len: 1000, queue: 0) }
            while e.depth(queue: 3).frames < 8 { _ = e.enqueue(addr: 3, len: 1000, queue: 3) }
            let f = e.dequeue()!
            sent[Int(f.addr)] += Int(f.len)
        }
        let ratio = Double(sent[3]) / Double(sent[0])
        XCTAssertEqual(ratio, 3, accuracy: 0.15, "weight 3 vs 1: \(sent)")
    }

    func testShaperHoldsTheConfiguredRateIncludingWireOverhead() {
        // 1 Gb/s = 0.125 bytes/ns. 1000 frames of 1226 bytes (+24 on the wire = 1250) take 10 ms.
        var e = EgressPort(capacity: 2048, lineRateGbps: 1)
        for i in 0..<1000 { _ = e.enqueue(addr: UInt64(i), len: 1226) }
        var now: UInt64 = 1
        var sentAt: [UInt64] = []
        while sentAt.count < 1000 {
            while e.dequeue(now: now) != nil { sentAt.append(now) }
            now += 1_000   // 1 us steps
        }
        // The bucket starts full (burst), so measure the steady part: frames 100..999.
        let span = Double(sentAt[999] - sentAt[100])
        let bits = Double(899 * 1250 * 8)
        XCTAssertEqual(bits / span, 1.0, accuracy: 0.02, "Gb/s on the emulated wire")
        XCTAssertNil(e.dequeue(now: now + 1_000_000))
    }

    /// A backlogged port whose worker was away for 2 ms makes the 2 ms of wire time up; an idle
    /// port that waited 2 ms saves up only its small burst (a real wire is no faster after a rest).
    func testShaperCatchesUpAfterTheWorkerWasAwayButNotAfterIdle() {
        // 1 Gb/s: 1250 wire bytes per frame take 10 us, so 2 ms is 200 frames.
        var busy = EgressPort(capacity: 2048, lineRateGbps: 1)
        for i in 0..<1000 { _ = busy.enqueue(addr: UInt64(i), len: 1226) }
        var now: UInt64 = 1
        while busy.dequeue(now: now) != nil {}          // the initial burst
        now += 10_000
        while busy.dequeue(now: now) != nil {}          // steady: the bucket is drained, frames wait
        now += 2_000_000                                 // the worker is descheduled for 2 ms
        var caughtUp = 0
        while busy.dequeue(now: now) != nil { caughtUp += 1 }
        XCTAssertEqual(caughtUp, 200, accuracy: 2, "2 ms of a backlogged 1 Gb/s wire is made up")

        var idle = EgressPort(capacity: 2048, lineRateGbps: 1)
        _ = idle.enqueue(addr: 0, len: 1226)
        while idle.dequeue(now: 1) != nil {}
        XCTAssertNil(idle.dequeue(now: 2))               // empty: the wire goes idle
        for i in 0..<1000 { _ = idle.enqueue(addr: UInt64(i), len: 1226) }
        var afterRest = 0
        while idle.dequeue(now: 2_000_002) != nil { afterRest += 1 }
        XCTAssertLessThanOrEqual(afterRest, 6, "an idle wire saves up only the burst (\(afterRest) frames)")

        // A paused backlog is an idle wire too: the pause is not made up afterwards.
        var paused = EgressPort(capacity: 2048, lineRateGbps: 1)
        for i in 0..<1000 { _ = paused.enqueue(addr: UInt64(i), len: 1226, queue: 3) }
        while paused.dequeue(now: 1) != nil {}
        _ = paused.pause.pause(queue: 3, quanta: 0xFFFF, now: 2)   // 33.5 ms at 1 Gb/s
        XCTAssertNil(paused.dequeue(now: 100_000))
        _ = paused.pause.pause(queue: 3, quanta: 0, now: 2_000_000)
        var afterPause = 0
        while paused.dequeue(now: 2_000_001) != nil { afterPause += 1 }
        XCTAssertLessThanOrEqual(afterPause, 6, "a pause is not made up (\(afterPause) frames)")
    }

    /// A pause lasts quanta x 512 bit times at the port's speed: 0xFFFF quanta are 33.55 ms at
    /// 1G, 3.355 ms at 10G, 1.342 ms at 25G, 335.5 us at 100G; 1 quantum at 100G is 5.12 ns.
    func testPauseTimeIsQuantaTimes512BitTimesAtThePortSpeed() {
        for (gbps, quanta, nanoseconds) in [(1.0, UInt16(0xFFFF), UInt64(33_553_920)), (10, 0xFFFF, 3_355_392), (25, 0xFFFF, 1_342_156),
                                            (100, 0xFFFF, 335_539), (100, 1, 5), (0.5, 100, 102_400)] {
            var e = EgressPort(capacity: 4, lineRateGbps: gbps)
            _ = e.enqueue(addr: 0, len: 100, queue: 3)
            _ = e.pause.pause(queue: 3, quanta: quanta, now: 1_000)
            XCTAssertTrue(e.pause.isPaused(queue: 3, now: 1_000 + nanoseconds - 1), "\(gbps)G, \(quanta) quanta")
            XCTAssertFalse(e.pause.isPaused(queue: 3, now: 1_000 + nanoseconds + 1), "\(gbps)G, \(quanta) quanta: \(nanoseconds) ns")
            XCTAssertEqual(e.pause.pausedNanoseconds(queue: 3, now: 10_000_000_000), nanoseconds, accuracy: 1)
        }
    }

    func testUnlimitedPortIsNotShaped() {
        var e = EgressPort(capacity: 16)
        for i in 0..<16 { _ = e.enqueue(addr: UInt64(i), len: 1500) }
        var n = 0
        while e.dequeue(now: 5) != nil { n += 1 }
        XCTAssertEqual(n, 16)
    }
}

final class ResidenceTests: XCTestCase {
    func testBucketsAreExactBelow128AndWithin2PercentAbove() {
        for us: UInt64 in [0, 1, 5, 127] { XCTAssertEqual(ResidenceHistograms.lowest(ResidenceHistograms.bucket(us)), us) }
        for us: UInt64 in [128, 129, 1000, 33_553, 1_000_000, 123_456_789] {
            let low = ResidenceHistograms.lowest(ResidenceHistograms.bucket(us))
            XCTAssertLessThanOrEqual(low, us)
            XCTAssertLessThan(Double(us - low) / Double(us), 1.0 / 64, "\(us) -> \(low)")
        }
        // Buckets are monotonic and cover the range without gaps.
        var last = -1
        for us in stride(from: UInt64(0), to: 5_000_000, by: 997) {
            let b = ResidenceHistograms.bucket(us)
            XCTAssertGreaterThanOrEqual(b, last)
            last = b
        }
    }

    func testPercentilesOfKnownSamples() {
        var h = ResidenceHistograms(histograms: 2)
        for i in 1...1000 { h.record(1, nanoseconds: UInt64(i) * 1000) }   // 1...1000 us
        XCTAssertEqual(h.count(1), 1000)
        XCTAssertEqual(h.count(0), 0)
        XCTAssertEqual(h.max(1), 1000)
        XCTAssertEqual(Double(h.percentile(1, 50)), 500, accuracy: 500 / 64)
        XCTAssertEqual(Double(h.percentile(1, 99)), 990, accuracy: 990 / 64)
        XCTAssertEqual(h.percentile(1, 100), 1000)
        XCTAssertEqual(h.percentile(0, 50), 0)
    }

    /// Frames stamped at enqueue: the residence at dequeue lands in their queue's histogram.
    func testEgressPortRecordsResidencePerQueue() {
        var e = EgressPort(capacity: 16)
        _ = e.enqueue(addr: 0, len: 100, queue: 3, stamp: 1_000_000)
        _ = e.enqueue(addr: 1, len: 100, queue: 0, stamp: 1_000_000)
        _ = e.enqueue(addr: 2, len: 100, queue: 0)                      // made by the switch: no stamp
        while e.dequeue(now: 1_250_000) != nil {}
        XCTAssertEqual(e.residence.count(3), 1)
        XCTAssertEqual(e.residence.max(3), 250)
        XCTAssertEqual(e.residence.count(0), 1, "the unstamped frame is not counted")
        e.recordResidence = false
        _ = e.enqueue(addr: 3, len: 100, queue: 3, stamp: 1_000_000)
        while e.dequeue(now: 2_000_000) != nil {}
        XCTAssertEqual(e.residence.count(3), 1, "off: nothing recorded")
    }

    /// A frame's rx-ring wait (from its XDP stamp to the worker's receive) rides with it in the
    /// queue: its residence counts from the XDP stamp, and the ring part is summed apart, so
    /// the residence from the worker's stamp is the difference.
    func testResidenceStartsAtTheXDPStampAndKeepsTheRingPartApart() {
        var e = EgressPort(capacity: 16)
        _ = e.enqueue(addr: 0, len: 100, queue: 2, stamp: 1_000_000, wait: 40_000)
        _ = e.enqueue(addr: 1, len: 100, queue: 2, stamp: 1_100_000, wait: 0)        // no XDP stamp
        _ = e.enqueue(addr: 2, len: 100, queue: 2, stamp: 1_200_000, wait: 300_000)
        while e.dequeue(now: 1_300_000) != nil {}
        XCTAssertEqual(e.residence.count(2), 3)
        // 300+40, 200, 100+300 us from the earliest stamp each frame has.
        XCTAssertEqual(e.residence.sum(2), 340_000 + 200_000 + 400_000)
        XCTAssertEqual(e.residence.ringSum(2), 340_000)
        XCTAssertEqual(e.residence.max(2), 400)
        let r = ResidenceReport(e.residence, 2)
        XCTAssertEqual(r.meanMicroseconds, 940.0 / 3, accuracy: 1e-9)
        XCTAssertEqual(r.ringMeanMicroseconds, 340.0 / 3, accuracy: 1e-9)
        XCTAssertEqual(r.meanMicroseconds - r.ringMeanMicroseconds, 600.0 / 3, accuracy: 1e-9, "residence from the worker's stamp")
        e.residence.reset()
        XCTAssertEqual(e.residence.sum(2), 0)
        XCTAssertEqual(e.residence.ringSum(2), 0)
    }

    /// The cumulative counts behind Prometheus' `le` buckets: a sample counts below a bound
    /// when its whole bucket lies below it.
    func testCumulativeCountsBelowBounds() {
        var h = ResidenceHistograms(histograms: 1)
        for us: UInt64 in [0, 1, 4, 9, 10, 99, 5000, 2_000_000] { h.record(0, nanoseconds: us * 1000 + 500) }
        XCTAssertEqual(h.cumulative(0, bounds: [1, 2, 5, 10, 100, 1000, 10_000, 1_000_000]), [1, 2, 3, 4, 6, 6, 7, 7])
        let r = ResidenceReport(h, 0)
        XCTAssertEqual(r.below?.count, ResidenceReport.bounds.count)
        XCTAssertEqual(r.below?.last, 7, "2 s lies beyond the last bound, counted only in +Inf")
        XCTAssertEqual(r.count, 8)
        XCTAssertEqual(r.sumMicroseconds ?? 0, Double(0 + 1 + 4 + 9 + 10 + 99 + 5000 + 2_000_000) + 8 * 0.5, accuracy: 1e-6)
    }
}
