import FabricTraffic
import XCTest

final class DCQCNTests: XCTestCase {
    func testCutHalvesAtFullAlphaThenRecoversTowardsTheTarget() {
        var d = DCQCN(lineRateGbps: 10, now: 0)
        XCTAssertEqual(d.currentGbps, 10)
        d.congestionNotified(now: 0)
        // alpha starts at 1: the first cut halves the rate; the target remembers 10.
        XCTAssertEqual(d.currentGbps, 5, accuracy: 1e-9)
        XCTAssertEqual(d.targetGbps, 10)
        XCTAssertEqual(d.alpha, 1, accuracy: 1e-9)
        // Fast recovery: each 300 us timer event halves the distance to the target.
        XCTAssertEqual(d.advance(now: 300_000, sentBytes: 0), 7.5, accuracy: 1e-9)
        XCTAssertEqual(d.advance(now: 600_000, sentBytes: 0), 8.75, accuracy: 1e-9)
        // Alpha decays by (1 - 1/256) every 55 us without CNPs: 10 steps in 600 us.
        XCTAssertEqual(d.alpha, pow(1 - 1.0 / 256, 10), accuracy: 1e-9)
    }

    func testRepeatedCNPsDriveTheRateDownButNotBelowTheMinimum() {
        var d = DCQCN(lineRateGbps: 10, now: 0)
        for i in 0..<2000 { d.congestionNotified(now: UInt64(i) * 10_000) }
        XCTAssertEqual(d.currentGbps, d.minimumRateGbps, accuracy: 1e-12)
        XCTAssertEqual(d.cuts, 2000)
    }

    func testAdditiveIncreaseAfterFastRecoveryRaisesTheTarget() {
        var d = DCQCN(lineRateGbps: 10, now: 0)
        d.congestionNotified(now: 0)
        d.congestionNotified(now: 1)   // target 5, current 2.5 (alpha ~1)
        let target = d.targetGbps
        _ = d.advance(now: 1 + 300_000 * 6, sentBytes: 0)   // 5 fast-recovery events, then 1 additive
        XCTAssertEqual(d.targetGbps, target + 0.005, accuracy: 1e-9)
        XCTAssertLessThanOrEqual(d.currentGbps, d.targetGbps)
        // Never above line rate, however long it runs.
        _ = d.advance(now: 10_000_000_000, sentBytes: 1 << 40)
        XCTAssertLessThanOrEqual(d.currentGbps, 10)
    }
}
