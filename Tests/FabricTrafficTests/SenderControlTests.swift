import FabricPacket
@testable import FabricTraffic
import XCTest

/// What control frames do to a sender: which frames count (`ControlFrameReader.classify`) and
/// what they change (`SendSchedule.handle`), with no socket (the reader's fd is -1) and the
/// time given explicitly.
final class SenderControlTests: XCTestCase {
    let t: UInt64 = 3_000_000_000
    let us = MACAddress(rawValue: 0x02_00_00_00_00_01)
    let switchMAC = MACAddress(rawValue: 0x02_00_00_00_00_fe)
    var frame = [UInt8](repeating: 0, count: 256)

    func reader() -> ControlFrameReader {
        ControlFrameReader(fd: -1, priority: 3, queuePairs: 0x100..<0x102)
    }

    func classify(_ write: (UnsafeMutableRawPointer) -> Int) -> ControlFrame? {
        let r = reader()
        return frame.withUnsafeMutableBytes { b in
            let n = write(b.baseAddress!)
            return r.classify(UnsafeRawPointer(b.baseAddress!), length: n)
        }
    }

    func cnp(to qp: UInt32, into p: UnsafeMutableRawPointer) -> Int {
        RoCEBuilder.writeCNP(into: p, capacity: 256, addresses: .init(sourceMAC: switchMAC, destinationMAC: us, source: 0x0A00_0002, destination: 0x0A00_0001),
                             sourcePort: 0xC001, destinationQP: qp)
    }

    func testPFCForOurPriorityPausesOrResumesAndOtherPrioritiesAreIgnored() {
        XCTAssertEqual(classify { PFCBuilder.write(into: $0, source: switchMAC, times: [(3, 1000)]) }, .pause(quanta: 1000))
        XCTAssertEqual(classify { PFCBuilder.write(into: $0, source: switchMAC, times: [(3, 0)]) }, .pause(quanta: 0))
        XCTAssertEqual(classify { PFCBuilder.write(into: $0, source: switchMAC, times: [(0, 1000), (3, 7)]) }, .pause(quanta: 7))
        XCTAssertNil(classify { PFCBuilder.write(into: $0, source: switchMAC, times: [(0, 1000)]) })
    }

    func ack(to qp: UInt32, psn: UInt32, syndrome: UInt8, into p: UnsafeMutableRawPointer) -> Int {
        RoCEBuilder.writeAcknowledge(into: p, capacity: 256, addresses: .init(sourceMAC: switchMAC, destinationMAC: us, source: 0x0A00_0002, destination: 0x0A00_0001),
                                     sourcePort: 0xC001, destinationQP: qp, psn: psn, syndrome: syndrome, msn: 3, dscp: 26)
    }

    func testACKsAndNAKsForOurQueuePairsMoveTheWindow() {
        XCTAssertEqual(classify { ack(to: 0x101, psn: 77, syndrome: AETHView.ack, into: $0) }, .acknowledge(queuePair: 1, psn: 77, nak: false))
        XCTAssertEqual(classify { ack(to: 0x100, psn: 9, syndrome: AETHView.nakSequenceError, into: $0) }, .acknowledge(queuePair: 0, psn: 9, nak: true))
        XCTAssertNil(classify { ack(to: 0x102, psn: 9, syndrome: AETHView.ack, into: $0) }, "not one of our QPs")
        XCTAssertNil(classify { ack(to: 0x100, psn: 9, syndrome: 0x20, into: $0) }, "an RNR NAK is not a sequence error")
        XCTAssertNil(classify { p in
            let n = ack(to: 0x100, psn: 9, syndrome: AETHView.ack, into: p)
            p.storeBytes(of: p.load(fromByteOffset: n - 6, as: UInt8.self) ^ 1, toByteOffset: n - 6, as: UInt8.self)
            return n
        }, "a bad ICRC")
    }

    func testCNPsCountOnlyForOurQueuePairsAndWithAValidICRC() {
        XCTAssertEqual(classify { cnp(to: 0x101, into: $0) }, .congestionNotification(queuePair: 1))
        XCTAssertNil(classify { cnp(to: 0x102, into: $0) }, "not one of our QPs")
        XCTAssertNil(classify { p in
            let n = cnp(to: 0x100, into: p)
            p.storeBytes(of: p.load(fromByteOffset: n - 1, as: UInt8.self) ^ 1, toByteOffset: n - 1, as: UInt8.self)
            return n
        }, "ICRC broken")
    }

    func testControlFramesArePolledEvery25Microseconds() {
        var r = reader()
        XCTAssertTrue(r.pollIsDue(at: t))
        XCTAssertFalse(r.pollIsDue(at: t + 24_999))
        XCTAssertTrue(r.pollIsDue(at: t + 25_000))
        XCTAssertNil(r.next(), "no socket, nothing to read")
    }

    func schedule(rate: Double = 1, dcqcn: Bool = false, queuePairs: Int = 1) -> SendSchedule {
        var c = SenderConfig(destinationMAC: switchMAC, source: 0x0A00_0001, destination: 0x0A00_0002)
        c.queuePairs = queuePairs
        c.rateGbps = rate
        c.linkGbps = 1
        c.dcqcn = dcqcn
        return SendSchedule(config: c, control: reader(), start: t)
    }

    func testXONResumesAtTheRateFromItsOwnTimeWithoutACatchUpBurst() {
        var s = schedule()
        let frameLength = 1000, bitTime: UInt64 = 8192
        _ = s.pacer.due(frameLength: frameLength, firstOfMessage: true, now: t)
        s.handle(.pause(quanta: 10_000), at: t + 10_000)        // 5.12 ms at 1 Gb/s
        XCTAssertTrue(s.pause.isPaused(at: t + 2_000_000))
        let xon = t + 2_000_000
        s.handle(.pause(quanta: 0), at: xon)
        XCTAssertFalse(s.pause.isPaused(at: xon))
        // Two milliseconds of schedule passed while paused; none of it is made up.
        XCTAssertEqual(s.pacer.due(frameLength: frameLength, firstOfMessage: true, now: xon), xon + bitTime)
        XCTAssertEqual(s.pause.pausedMicroseconds, 1990)
    }

    func testAPauseThatRunsOutRestartsTheScheduleWithThePacketThatGoes() {
        var s = schedule()
        let frameLength = 1000, bitTime: UInt64 = 8192
        s.handle(.pause(quanta: 1000), at: t)                   // 512 us
        s.endExpiredPause(now: t + 100_000, frameLength: frameLength)
        XCTAssertTrue(s.pause.isPaused(at: t + 100_000), "not yet")
        let resumed = t + 600_000
        s.endExpiredPause(now: resumed, frameLength: frameLength)
        XCTAssertFalse(s.pause.isPaused(at: resumed))
        XCTAssertEqual(s.pacer.due(frameLength: frameLength, firstOfMessage: true, now: resumed), resumed + 2 * bitTime)
        XCTAssertEqual(s.pause.pausedMicroseconds, 512)
    }

    func testACNPCutsItsQueuePairsDCQCNRateAndItsLimiterPacesAtIt() {
        var s = schedule(dcqcn: true)
        s.handle(.congestionNotification(queuePair: 0), at: t + 1000)
        XCTAssertEqual(s.cnpsReceived, 1)
        XCTAssertEqual(s.limiters[0].rateGbps, 0.5, accuracy: 1e-12, "alpha starts at 1: the first cut halves")
        XCTAssertEqual(s.rateGbps, 0.5, accuracy: 1e-12)
        XCTAssertEqual(s.pacer.rateGbps, 1, "the port's line rate stays")
        // The first packet goes on the port's schedule; the next waits for the QP's 0.5 Gb/s.
        let first = s.due(queuePair: 0, frameLength: 1000, firstOfMessage: true, now: t + 1000)!
        XCTAssertEqual(first, t + 8192)
        s.sent(queuePair: 0, frameLength: 1000, at: first)
        XCTAssertEqual(s.due(queuePair: 0, frameLength: 1000, firstOfMessage: false, now: first), first + 16_384)
        // 300 us later DCQCN's timer recovers half the way to the target.
        s.followCongestionControl(queuePair: 0, frameLength: 1000, now: t + 301_000)
        XCTAssertEqual(s.limiters[0].rateGbps, 0.75, accuracy: 1e-12)
        XCTAssertEqual(s.dcqcn[0].cuts, 1)
    }

    func testDCQCNRunsPerQueuePair() {
        var s = schedule(dcqcn: true, queuePairs: 2)
        s.handle(.congestionNotification(queuePair: 1), at: t + 1000)
        s.handle(.congestionNotification(queuePair: 1), at: t + 2000)
        XCTAssertEqual(s.dcqcn.map(\.cuts), [0, 2])
        XCTAssertEqual(s.limiters[0].rateGbps, 1, "QP 0 was not notified")
        XCTAssertLessThan(s.limiters[1].rateGbps, 0.5)
        XCTAssertEqual(s.cnpsPerQueuePair, [0, 2])
    }

    func testWithoutDCQCNACNPIsCountedAndTheRateStays() {
        var s = schedule(dcqcn: false)
        _ = s.pacer.due(frameLength: 1000, firstOfMessage: true, now: t)
        s.handle(.congestionNotification(queuePair: 0), at: t + 1000)
        s.followCongestionControl(queuePair: 0, frameLength: 1000, now: t + 400_000)
        XCTAssertEqual(s.cnpsReceived, 1)
        XCTAssertEqual(s.pacer.rateGbps, 1)
        XCTAssertEqual(s.pacer.due(frameLength: 1000, firstOfMessage: true, now: t + 1000), t + 2 * 8192, "the schedule went on")
    }
}
