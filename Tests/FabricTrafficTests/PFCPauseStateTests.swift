@testable import FabricTraffic
import XCTest

/// PFC honouring with the time given explicitly. At 1 Gb/s one quantum is 512 ns, so 1000
/// quanta pause 512 us.
final class PFCPauseStateTests: XCTestCase {
    let t: UInt64 = 5_000_000_000

    func testAnXOFFPausesForItsQuantaAtTheLinkSpeed() {
        var s = PFCPauseState(linkGbps: 1)
        XCTAssertFalse(s.received(quanta: 1000, at: t))
        XCTAssertTrue(s.isPaused(at: t))
        XCTAssertTrue(s.isPaused(at: t + 511_999))
        XCTAssertFalse(s.isPaused(at: t + 512_000))
        XCTAssertEqual(s.pauseFrames, 1)
        XCTAssertEqual(s.lastRequestedMicroseconds, 512)
        // The same quanta at 100 Gb/s: 5.12 ns each.
        XCTAssertEqual(PFCPauseState(linkGbps: 100).pauseNanoseconds(quanta: 1000), 5120, accuracy: 1e-9)
    }

    func testAPauseThatRunsOutEndsOnceAndCountsItsTime() {
        var s = PFCPauseState(linkGbps: 1)
        _ = s.received(quanta: 1000, at: t)
        XCTAssertFalse(s.endIfExpired(at: t + 100_000), "still paused")
        XCTAssertTrue(s.endIfExpired(at: t + 600_000), "ran out at t + 512 us")
        XCTAssertEqual(s.pausedMicroseconds, 512, "the time asked for, not until the sender looked")
        XCTAssertFalse(s.endIfExpired(at: t + 700_000), "ended once")
        XCTAssertFalse(s.isPaused(at: t + 700_000))
    }

    func testXONEndsAPauseEarlyAndCountsTheTimeUntilIt() {
        var s = PFCPauseState(linkGbps: 1)
        _ = s.received(quanta: 1000, at: t)
        XCTAssertTrue(s.received(quanta: 0, at: t + 100_000), "ended early: the schedule restarts")
        XCTAssertFalse(s.isPaused(at: t + 100_000))
        XCTAssertEqual(s.pausedMicroseconds, 100)
        XCTAssertEqual(s.resumeFrames, 1)
        XCTAssertFalse(s.endIfExpired(at: t + 600_000), "nothing left to run out")
        XCTAssertEqual(s.pausedMicroseconds, 100)
        // An XON with no pause on is counted and changes nothing.
        XCTAssertFalse(s.received(quanta: 0, at: t + 700_000))
        XCTAssertEqual(s.resumeFrames, 2)
        XCTAssertEqual(s.pausedMicroseconds, 100)
    }

    func testARefreshingXOFFExtendsThePauseFromItsOwnArrival() {
        var s = PFCPauseState(linkGbps: 1)
        _ = s.received(quanta: 1000, at: t)
        _ = s.received(quanta: 1000, at: t + 200_000)
        XCTAssertTrue(s.isPaused(at: t + 600_000), "the second XOFF runs to t + 712 us")
        XCTAssertFalse(s.isPaused(at: t + 712_000))
        XCTAssertTrue(s.endIfExpired(at: t + 800_000))
        XCTAssertEqual(s.pausedMicroseconds, 712, "one pause from the first XOFF to the end of the last")
        XCTAssertEqual(s.pauseFrames, 2)
    }

    func testTheObservedPauseRunsFromTheXOFFToTheNextPacketSent() {
        var s = PFCPauseState(linkGbps: 1)
        _ = s.received(quanta: 1000, at: t)
        s.packetSent(at: t + 530_000)
        XCTAssertEqual(s.lastObservedMicroseconds, 530)
        XCTAssertEqual(s.lastRequestedMicroseconds, 512)
        // Later packets do not move it; the next XOFF measures anew.
        s.packetSent(at: t + 900_000)
        XCTAssertEqual(s.lastObservedMicroseconds, 530)
        _ = s.received(quanta: 2000, at: t + 1_000_000)
        s.packetSent(at: t + 2_100_000)
        XCTAssertEqual(s.lastObservedMicroseconds, 1100)
        XCTAssertEqual(s.lastRequestedMicroseconds, 1024)
    }

    /// A pause that ran out while the sender was not looking (waiting for a paced packet's
    /// time) still counts when the next PFC frame arrives first: a new XOFF or an XON.
    func testAPauseThatRanOutUnnoticedIsCountedWhenTheNextPFCFrameArrives() {
        var s = PFCPauseState(linkGbps: 1)
        _ = s.received(quanta: 1000, at: t)
        XCTAssertFalse(s.received(quanta: 1000, at: t + 600_000), "a new pause, not an extension")
        XCTAssertTrue(s.endIfExpired(at: t + 1_200_000))
        XCTAssertEqual(s.pausedMicroseconds, 1024, "both pauses of 512 us")

        var x = PFCPauseState(linkGbps: 1)
        _ = x.received(quanta: 1000, at: t)
        XCTAssertFalse(x.received(quanta: 0, at: t + 600_000), "nothing left to end early: the schedule goes on")
        XCTAssertEqual(x.pausedMicroseconds, 512)
        XCTAssertEqual(x.resumeFrames, 1)
    }
}
