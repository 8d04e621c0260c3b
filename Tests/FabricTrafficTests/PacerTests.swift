@testable import FabricTraffic
import XCTest

/// The pacing schedule with the time given explicitly: a 1000-byte frame is 1024 bytes on the
/// wire (preamble, FCS, gap), 8192 bits, 8192 ns at 1 Gb/s.
final class PacerTests: XCTestCase {
    let start: UInt64 = 1_000_000_000
    let frame = 1000
    let bitTime: UInt64 = 8192

    func testAveragePacingSpacesPacketsByTheirWireBitsAtTheRate() {
        var p = Pacer(rateGbps: 1, packetsPerSecond: 0, burstGbps: 0, start: start)
        XCTAssertTrue(p.isPaced)
        // Each packet is due when its own bits have gone out at the rate.
        XCTAssertEqual(p.due(frameLength: frame, firstOfMessage: true, now: start), start + bitTime)
        XCTAssertEqual(p.due(frameLength: frame, firstOfMessage: false, now: start), start + 2 * bitTime)
        XCTAssertEqual(p.due(frameLength: 2 * frame + 24, firstOfMessage: false, now: start), start + 4 * bitTime)
        XCTAssertEqual(p.behindScheduleMicroseconds, 0)
    }

    func testPacketsPerSecondSpacesPacketsEvenlyFromTheStart() {
        var p = Pacer(rateGbps: 0, packetsPerSecond: 1000, burstGbps: 0, start: start)
        let dues = (0..<3).map { _ in p.due(frameLength: frame, firstOfMessage: true, now: start) }
        XCTAssertEqual(dues, [start, start + 1_000_000, start + 2_000_000])
    }

    func testUnpacedHasNoDueTime() {
        var p = Pacer(rateGbps: 0, packetsPerSecond: 0, burstGbps: 0, start: start)
        XCTAssertFalse(p.isPaced)
        XCTAssertNil(p.due(frameLength: frame, firstOfMessage: true, now: start))
    }

    func testBurstModeSendsAMessageBackToBackAndSpacesMessagesAtTheAverage() {
        // 1 Gb/s average, 10 Gb/s bursts, two packets per message.
        var p = Pacer(rateGbps: 1, packetsPerSecond: 0, burstGbps: 10, start: start)
        XCTAssertEqual(p.due(frameLength: frame, firstOfMessage: true, now: start), start)
        XCTAssertEqual(p.due(frameLength: frame, firstOfMessage: false, now: start), start + bitTime / 10)
        // The next message starts when the average allows: two packets' bits at 1 Gb/s.
        XCTAssertEqual(p.due(frameLength: frame, firstOfMessage: true, now: start + 2000), start + 2 * bitTime)
        XCTAssertEqual(p.due(frameLength: frame, firstOfMessage: false, now: start + 2000), start + 2 * bitTime + bitTime / 10)
        // A message that becomes ready late starts then, not earlier: no catching up.
        let late = start + 1_000_000
        XCTAssertEqual(p.due(frameLength: frame, firstOfMessage: true, now: late), late)
    }

    func testASenderBehindByLessThanTenMillisecondsMakesItUp() {
        var p = Pacer(rateGbps: 1, packetsPerSecond: 0, burstGbps: 0, start: start)
        // Ready 9 ms late: every packet of those 9 ms is due at once (in the past), ...
        let now = start + 9_000_000
        var owed = 0
        while let due = p.due(frameLength: frame, firstOfMessage: true, now: now), due <= now { owed += 1 }
        XCTAssertEqual(owed, Int(9_000_000 / bitTime))
        // ... and nothing was written off.
        XCTAssertEqual(p.behindScheduleMicroseconds, 0)
    }

    func testCatchUpIsBoundedToTenMillisecondsAndTheRestIsReportedBehindSchedule() {
        var p = Pacer(rateGbps: 1, packetsPerSecond: 0, burstGbps: 0, start: start)
        XCTAssertEqual(p.due(frameLength: frame, firstOfMessage: true, now: start), start + bitTime)
        // Descheduled for 50 ms: the second packet was due at start + 2 bit times; it goes now
        // and the schedule restarts from it (no burst of 50 ms worth of packets).
        let now = start + 50_000_000
        XCTAssertEqual(p.due(frameLength: frame, firstOfMessage: true, now: now), now)
        XCTAssertEqual(p.behindScheduleMicroseconds, Double(now - (start + 2 * bitTime)) / 1000, accuracy: 1e-9)
        // The packet that went at the restart is counted: the next is due after both.
        XCTAssertEqual(p.due(frameLength: frame, firstOfMessage: true, now: now), now + 2 * bitTime)
        // The bound is 10 ms: behind by exactly that, the packet is made up; by 1 ns more,
        // the schedule restarts.
        var q = Pacer(rateGbps: 1, packetsPerSecond: 0, burstGbps: 0, start: start)
        XCTAssertEqual(q.due(frameLength: frame, firstOfMessage: true, now: start + bitTime + 10_000_000), start + bitTime)
        XCTAssertEqual(q.behindScheduleMicroseconds, 0)
        let later = start + 2 * bitTime + 10_000_001
        XCTAssertEqual(q.due(frameLength: frame, firstOfMessage: true, now: later), later)
        XCTAssertEqual(q.behindScheduleMicroseconds, 10_000.001, accuracy: 1e-9)
    }

    func testRestartAfterAPauseSchedulesFromTheRestartWithoutABurst() {
        var p = Pacer(rateGbps: 1, packetsPerSecond: 0, burstGbps: 0, start: start)
        _ = p.due(frameLength: frame, firstOfMessage: true, now: start)
        // Paused for 5 ms (under the catch-up bound): XON restarts the schedule at its time, so
        // the next packet is one packet time after it, not due at once to make up 5 ms.
        let xon = start + 5_000_000
        p.restart(at: xon)
        XCTAssertEqual(p.due(frameLength: frame, firstOfMessage: true, now: xon), xon + bitTime)
        XCTAssertEqual(p.due(frameLength: frame, firstOfMessage: true, now: xon), xon + 2 * bitTime)
        // A pause that ran out restarts counting the packet that goes at that moment.
        let expiry = xon + 5_000_000
        p.restart(at: expiry, counting: frame)
        XCTAssertEqual(p.due(frameLength: frame, firstOfMessage: true, now: expiry), expiry + 2 * bitTime)
        XCTAssertEqual(p.behindScheduleMicroseconds, 0)
    }

    func testARateChangeRestartsTheScheduleAndTheMeanIsTimeWeighted() {
        var p = Pacer(rateGbps: 1, packetsPerSecond: 0, burstGbps: 0, start: start)
        _ = p.due(frameLength: frame, firstOfMessage: true, now: start)
        p.changeRate(to: 0.5, at: start + 1_000_000)
        XCTAssertEqual(p.rateGbps, 0.5)
        XCTAssertEqual(p.due(frameLength: frame, firstOfMessage: true, now: start + 1_000_000), start + 1_000_000 + 2 * bitTime)
        // 1 ms at 1 Gb/s, then 3 ms at 0.5.
        XCTAssertEqual(p.meanRateGbps(from: start, to: start + 4_000_000), 0.625, accuracy: 1e-12)
        XCTAssertEqual(Pacer(rateGbps: 0.1, packetsPerSecond: 0, burstGbps: 0, start: start).meanRateGbps(from: start, to: start + 7), 0.1,
                       accuracy: 1e-15, "a constant rate is its own mean")
    }
}
