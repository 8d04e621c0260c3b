import FabricPacket
import FabricTestSupport
import XCTest
@testable import FabricCore

/// The lossless stages on their own: each built alone, with a synthetic input.
final class IngressAdmissionTests: XCTestCase {
    /// NVIDIA profile (TC3 lossless in PG3), static XOFF threshold 4 KB, XON 2 KB below it.
    func makeAdmission(xoff: Int = 4096, xonOffset: Int = 2048) -> IngressAdmission {
        var b = BufferConfig()
        b.lossless = .init(reservedBytes: 0, threshold: .fixed(xoff))
        b.xonOffsetBytes = xonOffset
        return IngressAdmission(buffers: b, qos: .nvidiaRoCE, portSpeedsGbps: [100, 25])
    }

    func testXOFFOnceWhenTheLosslessPGGoesToHeadroomAndXONWhenItDrains() {
        var a = makeAdmission()
        XCTAssertEqual(a.losslessPGs, 1 << 3)
        var xoffs: [UInt8] = []
        for _ in 0..<6 {                                // 6 x 1000 B: the 5th goes to headroom
            let part = try! XCTUnwrap(a.admit(port: 1, pg: 3, bytes: 1000))
            xoffs.append(a.charge(port: 1, pg: 3, bytes: 1000, part: part, now: 7))
        }
        XCTAssertEqual(xoffs, [0, 0, 0, 0, 1 << 3, 0], "one XOFF for priority 3, at the first frame in headroom")
        XCTAssertTrue(a.inXoff(port: 1, pg: 3))
        XCTAssertFalse(a.inXoff(port: 0, pg: 3))
        var xons: [UInt8] = []
        for _ in 0..<6 { xons.append(a.credit(ChargeTag(ingress: 1, pg: 3), bytes: 1000)) }
        // Headroom empties after 2 credits; shared 2000 + 2048 <= 4096 after the 4th.
        XCTAssertEqual(xons, [0, 0, 0, 1 << 3, 0, 0])
        XCTAssertEqual(a.buffer.held(port: 1, pg: 3), 0)
        XCTAssertEqual(a.credit(.uncharged, bytes: 1000), 0, "frames the switch made are charged to nobody")
    }

    func testALossyPGTailDropsAndALosslessOneOverflowsOnlyPastHeadroom() {
        var b = BufferConfig()
        b.poolBytes = 3000
        b.lossy = .init(reservedBytes: 0, threshold: .fixed(2000))
        b.lossless = .init(reservedBytes: 0, threshold: .fixed(2000))
        b.headroomBytes = 1000
        var a = IngressAdmission(buffers: b, qos: .nvidiaRoCE, portSpeedsGbps: [nil])
        for pg in [0, 3] {
            while let part = a.admit(port: 0, pg: pg, bytes: 500) { _ = a.charge(port: 0, pg: pg, bytes: 500, part: part, now: 1) }
        }
        XCTAssertEqual(a.buffer.held(port: 0, pg: 0), 2000, "lossy: its threshold, then refused")
        XCTAssertEqual(a.refusal(pg: 0), .bufferFull)
        XCTAssertEqual(a.buffer.shared(port: 0, pg: 3), 1000, "the pool had 1000 left")
        XCTAssertEqual(a.buffer.headroomUsed(port: 0, pg: 3), 1000, "then headroom")
        XCTAssertEqual(a.refusal(pg: 3), .headroomOverflow)
    }

    /// Half a 0xFFFF pause: 167.8 us at 100G, 671 us at 25G.
    func testXOFFIsRepeatedEveryHalfPauseTimeOfThePort() {
        var a = makeAdmission(xoff: 0)
        for port in 0..<2 {
            let part = try! XCTUnwrap(a.admit(port: port, pg: 3, bytes: 100))
            XCTAssertEqual(a.charge(port: port, pg: 3, bytes: 100, part: part, now: 1_000), 1 << 3)
        }
        XCTAssertTrue(a.anyInXoff)
        XCTAssertEqual(a.refreshDue(port: 0, pg: 3, now: 160_000), 0)
        XCTAssertEqual(a.refreshDue(port: 0, pg: 3, now: 170_000), 1 << 3)
        XCTAssertEqual(a.refreshDue(port: 0, pg: 3, now: 171_000), 0, "recorded as sent")
        XCTAssertEqual(a.refreshDue(port: 1, pg: 3, now: 170_000), 0, "25G: not yet")
        XCTAssertEqual(a.refreshDue(port: 1, pg: 3, now: 673_000), 1 << 3)
        XCTAssertEqual(a.refreshDue(port: 0, pg: 0, now: 10_000_000), 0, "PG0 was never paused")
    }
}

final class PFCReceiverTests: XCTestCase {
    func receive(_ r: borrowing PFCReceiver, _ frame: [UInt8], _ pause: inout PauseState, _ c: inout PortCounters, now: UInt64) {
        frame.withUnsafeBytes { r.receive($0.baseAddress!, length: frame.count, pause: &pause, counters: &c, now: now) }
    }

    func testPFCPausesTheQueueOfEachEnabledPriority() {
        // TC 3 -> queue 5 in this map, to see the mapping applied.
        var map: [UInt8] = Array(0...7)
        map[3] = 5
        let r = PFCReceiver(tcToQueue: map)
        var pause = PauseState(lineRateGbps: 100)
        var c = PortCounters()
        receive(r, Frames.pfc(source: 0x02_00_00_00_00_01, priority: 3, quanta: 1000), &pause, &c, now: 1_000)
        XCTAssertTrue(pause.isPaused(queue: 5, now: 2_000))
        XCTAssertFalse(pause.isPaused(queue: 3, now: 2_000))
        XCTAssertEqual(c.pfcRx[3], 1)
        receive(r, Frames.pfc(source: 0x02_00_00_00_00_01, priority: 3, quanta: 0), &pause, &c, now: 3_000)
        XCTAssertFalse(pause.isPaused(queue: 5, now: 3_001))
        XCTAssertEqual(c.pfcXonTransitions[3], 1)
        XCTAssertEqual(c.pfcRx[3], 2)
    }

    func testPAUSEIsCountedNotHonouredAndOtherFramesAreIgnored() {
        let r = PFCReceiver(tcToQueue: Array(0...7))
        var pause = PauseState(lineRateGbps: 100)
        var c = PortCounters()
        var classic = Frames.pfc(source: 0x02_00_00_00_00_01, priority: 0, quanta: 0xFFFF)
        classic[14] = 0x00                              // opcode 0x0101 -> 0x0001: 802.3x PAUSE
        receive(r, classic, &pause, &c, now: 1_000)
        receive(r, Frames.ethernet(dst: 0x02_00_00_00_00_02, src: 0x02_00_00_00_00_01), &pause, &c, now: 1_000)
        XCTAssertEqual(c.pauseRx, 1)
        XCTAssertEqual(pause.pausedMask(now: 1_001), 0)
        XCTAssertEqual(c.pfcRx.array, [UInt64](repeating: 0, count: 8))
    }
}

final class PFCWatchdogTests: XCTestCase {
    let ms: UInt64 = 1_000_000

    /// A port whose queue 3 holds a frame and is paused at 1 ms, refreshed every 10 ms.
    func stuckPort(until end: UInt64, check: (inout EgressPort, UInt64) -> Void) -> EgressPort {
        var e = EgressPort(capacity: 16, lineRateGbps: 1)
        _ = e.enqueue(addr: 0, len: 100, queue: 3)
        var t = ms
        while t <= end {
            _ = e.pause.pause(queue: 3, quanta: 0xFFFF, now: t)   // 33.5 ms at 1G
            check(&e, t)
            t += 10 * ms
        }
        return e
    }

    func testDropActionDeclaresTheStormDrainsAndRestores() {
        var wd = PFCWatchdog(config: PFCWatchdogConfig(), portCount: 1)   // 200 ms, drop
        var c = PortCounters()
        var drains: [UInt64: UInt8] = [:]
        var e = stuckPort(until: 300 * ms) { e, t in
            let d = wd.check(port: 0, egress: &e, counters: &c, now: t)
            if d != 0 { drains[t] = d }
        }
        XCTAssertEqual(drains, [201 * ms: 1 << 3], "declared once, after 200 ms paused")
        XCTAssertEqual(c.pfcwdStorms[3], 1)
        XCTAssertEqual(c.pfcwdDetectedAfter[3], 200 * ms)
        XCTAssertTrue(wd.isStormed(port: 0, queue: 3))
        XCTAssertTrue(wd.discards(port: 0, queue: 3))
        XCTAssertFalse(e.pause.isPaused(queue: 3, now: 300 * ms), "its pauses are ignored while stormed")
        // No XOFF for 200 ms: restored, and pauses count again.
        XCTAssertEqual(wd.check(port: 0, egress: &e, counters: &c, now: 480 * ms), 0)
        XCTAssertTrue(wd.isStormed(port: 0, queue: 3))
        _ = wd.check(port: 0, egress: &e, counters: &c, now: 500 * ms)
        XCTAssertFalse(wd.isStormed(port: 0, queue: 3))
        XCTAssertEqual(c.pfcwdRestored[3], 1)
        _ = e.pause.pause(queue: 3, quanta: 0xFFFF, now: 501 * ms)
        XCTAssertTrue(e.pause.isPaused(queue: 3, now: 502 * ms))
    }

    func testForwardIgnoresPausesAlertOnlyCountsAndAnEmptyQueueIsNoStorm() {
        for action in [PFCWatchdogConfig.Action.forward, .alert] {
            var cfg = PFCWatchdogConfig()
            cfg.action = action
            var wd = PFCWatchdog(config: cfg, portCount: 1)
            var c = PortCounters()
            let e = stuckPort(until: 250 * ms) { e, t in XCTAssertEqual(wd.check(port: 0, egress: &e, counters: &c, now: t), 0) }
            XCTAssertEqual(c.pfcwdStorms[3], 1, "\(action)")
            XCTAssertFalse(wd.discards(port: 0, queue: 3))
            XCTAssertEqual(e.pause.isPaused(queue: 3, now: 251 * ms), action == .alert, "\(action)")
        }
        var wd = PFCWatchdog(config: PFCWatchdogConfig(), portCount: 1)
        var c = PortCounters()
        var e = EgressPort(capacity: 16, lineRateGbps: 1)
        for t in stride(from: ms, through: 400 * ms, by: Int(10 * ms)) {
            _ = e.pause.pause(queue: 3, quanta: 0xFFFF, now: t)
            _ = wd.check(port: 0, egress: &e, counters: &c, now: t)
        }
        XCTAssertEqual(c.pfcwdStorms[3], 0, "paused but holding nothing: not a storm")
    }
}

final class ECNMarkerTests: XCTestCase {
    func testMarksByDepthOnlyOnMarkingQueues() {
        var cfg = ECNConfig()
        cfg.kminBytes = 1000
        cfg.kmaxBytes = 3000
        cfg.pmax = 0.5
        var m = ECNMarker(config: cfg)
        XCTAssertTrue(m.marks(queue: 3))
        XCTAssertFalse(m.marks(queue: 0))
        XCTAssertFalse(m.shouldMark(depthBytes: 999))
        XCTAssertTrue(m.shouldMark(depthBytes: 3000))
        let marked = (0..<10_000).filter { _ in m.shouldMark(depthBytes: 2000) }.count
        XCTAssertEqual(Double(marked) / 10_000, 0.25, accuracy: 0.02, "p = 0.5 x (2000 - 1000) / 2000")
    }

    func testSetsCEOnlyOnECTPacketsAndKeepsTheIPv4Checksum() {
        for (ecn, expect) in [(UInt8(0), UInt8(0)), (1, 3), (2, 3), (3, 3)] {
            var f = RouterLab.udp(dscp: 26, ecn: ecn)
            let changed = f.withUnsafeMutableBytes { ECNMarker.mark(ip: $0.baseAddress! + 14, version: 4) }
            XCTAssertEqual(changed, ecn == 1 || ecn == 2, "ECN \(ecn)")
            XCTAssertEqual(f[15] & 3, expect)
            XCTAssertEqual(f[15] >> 2, 26, "DSCP untouched")
            XCTAssertTrue(Frames.ipv4HeaderValid(f))
        }
        var v6 = [UInt8](repeating: 0, count: 40)
        v6[0] = 0x60 | 26 >> 2
        v6[1] = (26 & 3) << 6 | 2 << 4                  // DSCP 26, ECT(0)
        let marked = v6.withUnsafeMutableBytes { ECNMarker.mark(ip: $0.baseAddress!, version: 6) }
        XCTAssertTrue(marked)
        XCTAssertEqual((UInt16(v6[0]) << 8 | UInt16(v6[1])) >> 4 & 0xFF, 26 << 2 | 3)
    }
}
