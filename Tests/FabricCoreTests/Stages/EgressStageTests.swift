import XCTest
@testable import FabricCore

/// The egress stages on their own: no datapath, no router.
final class PauseStateTests: XCTestCase {
    func testXOFFPausesForTheQuantaAndXONEndsItWithATransition() {
        var s = PauseState(lineRateGbps: 100)          // 5.12 ns per quantum
        XCTAssertFalse(s.pause(queue: 3, quanta: 1000, now: 10_000), "XOFF on a running queue is no transition")
        XCTAssertTrue(s.isPaused(queue: 3, now: 15_119))
        XCTAssertFalse(s.isPaused(queue: 3, now: 15_120))
        XCTAssertFalse(s.isPaused(queue: 2, now: 12_000), "only the queue the frame names")
        XCTAssertEqual(s.pausedMask(now: 12_000), 1 << 3)
        XCTAssertEqual(s.lastXoff(queue: 3), 10_000)
        // A second XOFF extends it; an XON ends it now and counts as an XOFF->XON transition.
        XCTAssertFalse(s.pause(queue: 3, quanta: 0xFFFF, now: 14_000))
        XCTAssertEqual(s.continuousPause(queue: 3, now: 20_000), 10_000)
        XCTAssertTrue(s.pause(queue: 3, quanta: 0, now: 20_000))
        XCTAssertFalse(s.isPaused(queue: 3, now: 20_001))
        XCTAssertEqual(s.pausedNanoseconds(queue: 3, now: 50_000), 10_000)
        XCTAssertEqual(s.lastXoff(queue: 3), 14_000, "an XON is not an XOFF")
    }

    func testAnExpiredPauseCountsItsWholeLengthOnce() {
        var s = PauseState(lineRateGbps: 1)            // 512 ns per quantum
        _ = s.pause(queue: 0, quanta: 10, now: 1_000)  // until 6_120
        XCTAssertEqual(s.pausedNanoseconds(queue: 0, now: 3_000), 2_000, "so far")
        XCTAssertEqual(s.pausedNanoseconds(queue: 0, now: 100_000), 5_120, "expired: its whole length")
        _ = s.pause(queue: 0, quanta: 10, now: 200_000)
        XCTAssertEqual(s.pausedNanoseconds(queue: 0, now: 300_000), 10_240, "two pauses, no gap counted")
    }

    func testIgnoredQueuesRecordTheXOFFButDoNotPause() {
        var s = PauseState(lineRateGbps: 100)
        s.ignored = 1 << 3
        XCTAssertFalse(s.pause(queue: 3, quanta: 0xFFFF, now: 1_000))
        XCTAssertFalse(s.isPaused(queue: 3, now: 1_001))
        XCTAssertEqual(s.lastXoff(queue: 3), 1_000, "the watchdog still sees the XOFF arrive")
        _ = s.pause(queue: 4, quanta: 0xFFFF, now: 1_000)
        s.clear(queue: 4, now: 2_000)
        XCTAssertFalse(s.isPaused(queue: 4, now: 2_001))
        XCTAssertEqual(s.pausedNanoseconds(queue: 4, now: 9_000), 1_000)
    }
}

final class ShaperTests: XCTestCase {
    func testUnlimitedLetsEverythingGo() {
        var s = Shaper(lineRateGbps: nil)
        XCTAssertFalse(s.isLimited)
        for _ in 0..<1000 { XCTAssertTrue(s.mayStart(now: 0, waiting: true)); s.sent(bytes: 9000, waiting: true) }
    }

    /// 1 Gb/s = 0.125 bytes/ns: a 1226-byte frame (+24 on the wire) takes 10 us.
    func testLimitedSendsAtTheRateAfterTheBurst() {
        var s = Shaper(lineRateGbps: 1)
        var now: UInt64 = 1_000_000, sent = 0
        // The idle bucket holds the burst: max(4 x 1538, 20 us) = 6152 bytes, about 5 frames.
        while s.mayStart(now: now, waiting: true) { s.sent(bytes: 1226, waiting: true); sent += 1 }
        XCTAssertEqual(sent, 5)
        // Then one frame per 10 us.
        var perMillisecond = 0
        for _ in 0..<1000 {
            now += 1_000
            while s.mayStart(now: now, waiting: true) { s.sent(bytes: 1226, waiting: true); perMillisecond += 1 }
        }
        XCTAssertEqual(perMillisecond, 100, accuracy: 1)
    }

    /// A backlogged wire the worker did not serve makes up the lost time (up to 10 ms); an idle
    /// one saves up only the burst.
    func testBacklogIsMadeUpAndIdleTimeIsNot() {
        var busy = Shaper(lineRateGbps: 1), idle = Shaper(lineRateGbps: 1)
        var now: UInt64 = 1_000_000
        for s in [0, 1] {
            if s == 0 { while busy.mayStart(now: now, waiting: true) { busy.sent(bytes: 1226, waiting: true) } }
            else { while idle.mayStart(now: now, waiting: true) { idle.sent(bytes: 1226, waiting: false) }; idle.idle() }
        }
        now += 5_000_000                                // 5 ms away
        var madeUp = 0, saved = 0
        while busy.mayStart(now: now, waiting: true) { busy.sent(bytes: 1226, waiting: true); madeUp += 1 }
        while idle.mayStart(now: now, waiting: true) { idle.sent(bytes: 1226, waiting: true); saved += 1 }
        XCTAssertEqual(madeUp, 500, accuracy: 2, "5 ms of wire time at 10 us per frame")
        XCTAssertLessThanOrEqual(saved, 6, "only the burst")
    }
}
