import FabricPacket
import FabricTestSupport
import XCTest
@testable import FabricCore

/// The PFC watchdog's actions through the whole data path (SONiC pfcwd): h2 keeps priority 3
/// paused with XOFFs every 0.2 ms while a lossless frame for it waits in queue 3. After the
/// 200 ms detection time `drop` discards (LosslessTests), `forward` transmits as if no PFC
/// arrived, `alert` only counts, and a disabled watchdog does nothing.
final class PFCWatchdogActionTests: XCTestCase {
    let ms: UInt64 = 1_000_000

    func lossless() -> [UInt8] { RouterLab.udp(dscp: 26) }
    func xoff() -> [UInt8] { Frames.pfc(source: RouterLab.host2, priority: 3, quanta: 0xFFFF) }

    /// The bed after 260 ms of storm with one lossless frame queued for h2; returns the time.
    func storm(_ bed: EmbeddedDatapath, until end: UInt64 = 260_000_000) -> UInt64 {
        bed.receive(lossless())
        bed.forward(ingress: 0, now: 1)
        var t = 10 * ms
        while t < end {
            bed.receive(xoff())
            bed.forward(ingress: 1, now: t)
            bed.dp.housekeeping(now: t)
            t += ms / 5
        }
        return t
    }

    func bed(_ action: PFCWatchdogConfig.Action, enabled: Bool = true) -> EmbeddedDatapath {
        var wd = PFCWatchdogConfig()
        wd.action = action
        wd.enabled = enabled
        return RouterLab.twoPorts(watchdog: wd)
    }

    func testForwardTransmitsThroughTheStormAndRestores() {
        let bed = bed(.forward)
        var t = storm(bed)
        let c = bed.dp.counters[1]
        XCTAssertEqual(c.pfcwdStorms[3], 1)
        XCTAssertEqual(c.pfcwdDropped[3], 0, "forward discards nothing")
        XCTAssertFalse(bed.dp.egress[1].pause.isPaused(queue: 3, now: t), "its pauses are ignored")
        XCTAssertEqual(bed.transmit(port: 1, now: t).count, 1, "the waiting frame leaves")
        // More XOFF and more lossless traffic during the storm: transmitted at once.
        bed.receive(xoff())
        bed.forward(ingress: 1, now: t)
        bed.receive(lossless())
        bed.forward(ingress: 0, now: t + 1)
        XCTAssertEqual(bed.transmit(port: 1, now: t + 2).count, 1)
        XCTAssertEqual(bed.dp.counters[1].pfcwdDropped[3], 0)
        // 200 ms without XOFF: restored, and PFC is honoured again.
        t += 200 * ms
        bed.dp.housekeeping(now: t)
        XCTAssertEqual(bed.dp.counters[1].pfcwdRestored[3], 1)
        bed.receive(xoff())
        bed.forward(ingress: 1, now: t + 1)
        bed.receive(lossless())
        bed.forward(ingress: 0, now: t + 2)
        XCTAssertEqual(bed.transmit(port: 1, now: t + 3).count, 0, "paused again")
        _ = bed.drain(1)
        XCTAssertTrue(bed.ledgerBalances)
    }

    func testAlertOnlyCountsTheStorm() {
        let bed = bed(.alert)
        let t = storm(bed)
        let c = bed.dp.counters[1]
        XCTAssertEqual(c.pfcwdStorms[3], 1, "declared")
        XCTAssertEqual(c.pfcwdDropped[3], 0)
        XCTAssertTrue(bed.dp.egress[1].pause.isPaused(queue: 3, now: t), "still paused")
        XCTAssertEqual(bed.transmit(port: 1, now: t).count, 0, "the frame keeps waiting")
        XCTAssertEqual(bed.dp.egress[1].depth(queue: 3).frames, 1)
        _ = bed.drain(1)
        XCTAssertTrue(bed.ledgerBalances)
    }

    func testDisabledWatchdogDoesNothing() {
        for action in PFCWatchdogConfig.Action.allCases {
            let bed = bed(action, enabled: false)
            let t = storm(bed)
            let c = bed.dp.counters[1]
            XCTAssertEqual(c.pfcwdStorms[3], 0, "\(action)")
            XCTAssertEqual(c.pfcwdDropped[3], 0, "\(action)")
            XCTAssertTrue(bed.dp.egress[1].pause.isPaused(queue: 3, now: t), "\(action)")
            XCTAssertEqual(bed.transmit(port: 1, now: t).count, 0, "\(action)")
            _ = bed.drain(1)
            XCTAssertTrue(bed.ledgerBalances)
        }
    }
}
