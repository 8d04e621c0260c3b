import FabricPacket
import FabricSystem
import FabricTestSupport
import XCTest
@testable import FabricCore

final class LosslessTests: XCTestCase {
    let h1 = parseIPv4("10.77.1.1")!, h2 = parseIPv4("10.77.2.1")!

    func pfc(priority: Int, quanta: UInt16) -> [UInt8] { Frames.pfc(source: RouterLab.host2, priority: priority, quanta: quanta) }

    func testPFCFramePausesOnlyTheMatchingEgressQueueForQuantaTimes512BitTimes() throws {
        let bed = RouterLab.make()
        // Learn h2, then queue one TC3 (DSCP 26) and one TC0 frame for h2's port.
        bed.receive(Frames.arp(op: 2, dstMAC: RouterLab.portMACs[1], sha: RouterLab.host2, spa: h2, tha: 0, tpa: parseIPv4("10.77.2.254")!))
        bed.forward(ingress: 1, now: 1_000)
        // h2 sends PFC XOFF for priority 3, 1000 quanta: 1000 x 512 bits at 100 Gb/s (no speed
        // configured) = 5.12 us.
        bed.receive(pfc(priority: 3, quanta: 1000))
        bed.forward(ingress: 1, now: 10_000)
        XCTAssertEqual(bed.dp.counters[1].pfcRx[3], 1)
        XCTAssertEqual(bed.dp.counters[1].consumed, 2, "the ARP reply and the PFC frame")
        bed.receive(Frames.udp4(dstMAC: RouterLab.portMACs[0], srcMAC: RouterLab.host1, src: h1, dst: h2, sport: 1, dport: 2, tos: 26 << 2 | 2))
        bed.receive(Frames.udp4(dstMAC: RouterLab.portMACs[0], srcMAC: RouterLab.host1, src: h1, dst: h2, sport: 1, dport: 2, tos: 0))
        bed.forward(ingress: 0, now: 11_000)
        XCTAssertEqual(bed.dp.egress[1].depth(queue: 3).frames, 1)
        XCTAssertEqual(bed.dp.egress[1].depth(queue: 0).frames, 1)
        // At 12 us: the TC0 frame leaves, the paused TC3 frame stays.
        var out = 0
        while bed.dp.egress[1].dequeue(now: 12_000) != nil { out += 1 }
        XCTAssertEqual(out, 1)
        XCTAssertTrue(bed.dp.egress[1].pause.isPaused(queue: 3, now: 15_119))
        XCTAssertFalse(bed.dp.egress[1].pause.isPaused(queue: 3, now: 15_120), "paused until 10 us + 5.12 us")
        XCTAssertNotNil(bed.dp.egress[1].dequeue(now: 15_120))
        XCTAssertEqual(bed.dp.egress[1].pause.pausedNanoseconds(queue: 3, now: 20_000), 5_120)
    }

    /// A frame that waited for ARP leaves in its own class, charged to its ingress PG, as if it
    /// had not waited.
    func testFrameHeldForARPLeavesInItsClassAndIsCharged() {
        let bed = RouterLab.make()
        let frame = Frames.udp4(dstMAC: RouterLab.portMACs[0], srcMAC: RouterLab.host1, src: h1, dst: h2, sport: 1, dport: 2, tos: 26 << 2 | 2)
        bed.receive(frame)
        bed.forward(ingress: 0, now: 1_000)
        XCTAssertEqual(bed.dp.pendingFrames, 1, "waiting for h2's MAC")
        bed.receive(Frames.arp(op: 2, dstMAC: RouterLab.portMACs[1], sha: RouterLab.host2, spa: h2, tha: 0, tpa: parseIPv4("10.77.2.254")!))
        bed.forward(ingress: 1, now: 2_000)
        XCTAssertEqual(bed.dp.pendingFrames, 0)
        XCTAssertEqual(bed.dp.egress[1].depth(queue: 3).frames, 1, "DSCP 26 -> TC3 -> queue 3, as if it had not waited")
        XCTAssertEqual(bed.dp.admission.buffer.held(port: 0, pg: 3), max(frame.count, 1024), "charged to h1's PG3 (at least 1 KB)")
    }

    func testXONResumesAtOnceAndCountsTheTransition() {
        let bed = RouterLab.make()
        bed.receive(pfc(priority: 3, quanta: 0xFFFF))
        bed.forward(ingress: 1, now: 1_000)
        XCTAssertTrue(bed.dp.egress[1].pause.isPaused(queue: 3, now: 2_000))
        bed.receive(pfc(priority: 3, quanta: 0))
        bed.forward(ingress: 1, now: 3_000)
        XCTAssertFalse(bed.dp.egress[1].pause.isPaused(queue: 3, now: 3_001))
        XCTAssertEqual(bed.dp.counters[1].pfcXonTransitions[3], 1)
        XCTAssertEqual(bed.dp.egress[1].pause.pausedNanoseconds(queue: 3, now: 10_000), 2_000)
    }

    /// SONiC pfcwd semantics with a fake clock: XOFFs refreshed for 250 ms while queue 3 holds a
    /// frame -> storm (drop action: the frame and new arrivals are discarded, pauses ignored);
    /// 200 ms without XOFF -> restored.
    func testPFCWatchdogDetectsAStormDropsAndRestores() {
        let ms: UInt64 = 1_000_000
        let bed = RouterLab.make()
        bed.receive(Frames.arp(op: 2, dstMAC: RouterLab.portMACs[1], sha: RouterLab.host2, spa: h2, tha: 0, tpa: parseIPv4("10.77.2.254")!))
        bed.forward(ingress: 1, now: 1)
        bed.receive(Frames.udp4(dstMAC: RouterLab.portMACs[0], srcMAC: RouterLab.host1, src: h1, dst: h2, sport: 1, dport: 2, tos: 26 << 2 | 2))
        bed.forward(ingress: 0, now: 2)
        var t: UInt64 = 10 * ms
        // XOFF every 0.2 ms (65535 quanta at the default 100G = 0.336 ms): continuously paused.
        while t < 260 * ms {
            bed.receive(pfc(priority: 3, quanta: 0xFFFF))
            bed.forward(ingress: 1, now: t)
            bed.dp.housekeeping(now: t)
            t += ms / 5
        }
        let c = bed.dp.counters[1]
        XCTAssertEqual(c.pfcwdStorms[3], 1, "declared stormed after 200 ms")
        XCTAssertEqual(c.pfcwdDropped[3], 1, "its queued frame was discarded")
        XCTAssertEqual(bed.dp.egress[1].depth(queue: 3).frames, 0)
        XCTAssertFalse(bed.dp.egress[1].pause.isPaused(queue: 3, now: t), "pauses ignored while stormed")
        // A new TC3 frame during the storm is dropped too; a TC0 frame is not affected.
        bed.receive(Frames.udp4(dstMAC: RouterLab.portMACs[0], srcMAC: RouterLab.host1, src: h1, dst: h2, sport: 1, dport: 2, tos: 26 << 2 | 2))
        bed.receive(Frames.udp4(dstMAC: RouterLab.portMACs[0], srcMAC: RouterLab.host1, src: h1, dst: h2, sport: 1, dport: 2, tos: 0))
        bed.forward(ingress: 0, now: t)
        XCTAssertEqual(bed.dp.counters[1].pfcwdDropped[3], 2)
        XCTAssertEqual(bed.dp.egress[1].depth(queue: 0).frames, 1)
        // No XOFF for 200 ms: restored, and PFC is honoured again.
        bed.dp.housekeeping(now: t + 150 * ms)
        XCTAssertEqual(bed.dp.counters[1].pfcwdRestored[3], 0)
        bed.dp.housekeeping(now: t + 200 * ms)
        XCTAssertEqual(bed.dp.counters[1].pfcwdRestored[3], 1)
        bed.receive(pfc(priority: 3, quanta: 0xFFFF))
        bed.forward(ingress: 1, now: t + 201 * ms)
        XCTAssertTrue(bed.dp.egress[1].pause.isPaused(queue: 3, now: t + 201 * ms + 100_000), "honoured again")
        _ = bed.drain(1)
        XCTAssertTrue(bed.ledgerBalances)
    }

    func testPFCWatchdogIgnoresAPausedButEmptyQueue() {
        let ms: UInt64 = 1_000_000
        let bed = RouterLab.make()
        var t: UInt64 = ms
        while t < 300 * ms {
            bed.receive(pfc(priority: 3, quanta: 0xFFFF))
            bed.forward(ingress: 1, now: t)
            bed.dp.housekeeping(now: t)
            t += ms / 5
        }
        XCTAssertEqual(bed.dp.counters[1].pfcwdStorms[3], 0, "nothing waiting: not a storm")
    }

    func testECNProbabilityCurve() {
        var e = ECNConfig()
        e.kminBytes = 1000
        e.kmaxBytes = 3000
        e.pmax = 0.5
        XCTAssertEqual(e.probability(depth: 999), 0)
        XCTAssertEqual(e.probability(depth: 2000), 0.25, accuracy: 1e-9)
        XCTAssertEqual(e.probability(depth: 3000), 1)
    }

    func testECNMarksECTPacketsOnADeepLosslessQueueAndKeepsTheChecksum() {
        // The bed's queues hold 64 frames, far below the default Kmin of 150 KB: use small
        // thresholds so a few 1 KB frames cross them. (ICRC safety of the ECN rewrite is
        // checked against scapy in FabricPacketTests.)
        var cfg = ECNConfig()
        cfg.kminBytes = 2000
        cfg.kmaxBytes = 4000
        let marked = RouterLab.twoPorts(ecn: cfg)
        for i in 0..<10 {
            marked.receive(Frames.udp4(dstMAC: RouterLab.portMACs[0], srcMAC: RouterLab.host1, src: h1, dst: h2, sport: UInt16(i), dport: 9,
                                       tos: 26 << 2 | 2, payload: 1000))
        }
        marked.receive(Frames.udp4(dstMAC: RouterLab.portMACs[0], srcMAC: RouterLab.host1, src: h1, dst: h2, sport: 99, dport: 9,
                                   tos: 26 << 2 | 0, payload: 1000))   // Not-ECT: never marked
        marked.forward(ingress: 0, now: 2_000)
        let frames = marked.drain(1)
        XCTAssertEqual(frames.count, 11)
        // Depth before each enqueue: 0, 1046, 2092, 3138 (p = 0.57), 4184... (p = 1).
        let ce = frames.prefix(10).map { $0[15] & 3 }
        XCTAssertEqual(Array(ce.prefix(2)), [2, 2], "below Kmin: untouched")
        XCTAssertEqual(Array(ce.suffix(6)), [3, 3, 3, 3, 3, 3], "above Kmax: all CE")
        XCTAssertEqual(frames[10][15] & 3, 0, "Not-ECT stays Not-ECT")
        for f in frames { XCTAssertTrue(ipv4HeaderValid(f)) }
        XCTAssertEqual(marked.dp.counters[1].ecnMarked[3], UInt64(ce.filter { $0 == 3 }.count))
    }
}

final class PFCOutTests: XCTestCase {
    let h1 = parseIPv4("10.77.1.1")!, h2 = parseIPv4("10.77.2.1")!

    /// Static thresholds, nothing reserved: XOFF once a PG holds more than `xoff`, XON at `xon`.
    func makeBed(xoff: Int, xon: Int, softwareSlack: Int = 2 * 1024 * 1024, stallBudget: UInt64 = 100_000_000) -> EmbeddedDatapath {
        var b = BufferConfig()
        b.lossless = .init(reservedBytes: 0, threshold: .fixed(xoff))
        b.xonOffsetBytes = xoff - xon
        b.softwareSlackBytes = softwareSlack
        b.stallBudgetNanoseconds = stallBudget
        return RouterLab.twoPorts(buffers: b)
    }

    /// `n` frames of 1042 bytes from host `from` (1 or 2) to the other, DSCP `dscp`, forwarded.
    func offer(_ bed: EmbeddedDatapath, from: Int, count n: Int, dscp: UInt8, now: UInt64 = 1_000) {
        let (src, dst) = from == 1 ? (h1, h2) : (h2, h1)
        for i in 0..<n {
            bed.receive(Frames.udp4(dstMAC: RouterLab.portMACs[from - 1], srcMAC: from == 1 ? RouterLab.host1 : RouterLab.host2,
                                    src: src, dst: dst, sport: UInt16(i), dport: 9, tos: dscp << 2 | 2, payload: 1000))
            if bed.batch.count == 64 { bed.forward(ingress: from - 1, now: now) }
        }
        bed.forward(ingress: from - 1, now: now)
    }

    /// SONiC dynamic_th 0 (alpha 1): a PG alone may take half the pool's free bytes; a second
    /// busy PG gets half of what the first left. The lossless one that is refused sends XOFF
    /// and goes on in its headroom; the lossy one tail-drops.
    func testDynamicThresholdSharesThePoolAmongBusyPGs() {
        var b = BufferConfig()
        b.poolBytes = 16 * 1042
        b.lossless = .init(reservedBytes: 0, threshold: .dynamic(0))
        b.lossy = .init(reservedBytes: 0, threshold: .dynamic(0))
        b.headroomBytes = 4 * 1042
        let bed = RouterLab.twoPorts(buffers: b)
        // Lossless (DSCP 26, PG3) from h1: shared s may grow while s + 1042 <= 16 x 1042 - s,
        // so 8 frames; XOFF on the 9th, which goes to headroom with 3 more; then 8 drops.
        offer(bed, from: 1, count: 20, dscp: 26)
        XCTAssertEqual(bed.dp.admission.buffer.shared(port: 0, pg: 3), 8 * 1042)
        XCTAssertEqual(bed.dp.admission.buffer.headroomUsed(port: 0, pg: 3), 4 * 1042)
        XCTAssertEqual(bed.dp.counters[0].drops[.headroomOverflow], 8)
        XCTAssertEqual(bed.dp.admission.buffer.poolUsed, 8 * 1042)
        XCTAssertEqual(bed.dp.counters[0].pfcTx[3], 1, "one XOFF")
        // Lossy (DSCP 0, PG0) from h2 while the pool has 8 frames free: half of what is left
        // after its own use, s + 1042 <= 8 x 1042 - s: 4 frames, then tail drops.
        offer(bed, from: 2, count: 10, dscp: 0)
        XCTAssertEqual(bed.dp.admission.buffer.shared(port: 1, pg: 0), 4 * 1042)
        XCTAssertEqual(bed.dp.counters[1].drops[.bufferFull], 6)
        XCTAssertEqual(bed.dp.admission.buffer.poolWatermark, 12 * 1042)
        // Draining h2's port: headroom empties first; XON once shared is 32 KB (the default
        // xon offset) below the threshold, or empty, since the threshold here is smaller.
        var sent = 0
        while bed.dp.counters[0].pfcTx[3] == 1, let f = bed.dp.dequeueForTransmit(port: 1, now: 2_000) {
            bed.dp.pool.release(f.addr)
            sent += 1
        }
        XCTAssertEqual(sent, 12, "XON only when the PG's headroom and shared use are both gone")
        XCTAssertEqual(bed.dp.admission.buffer.headroomUsed(port: 0, pg: 3), 0)
        XCTAssertEqual(bed.dp.admission.buffer.shared(port: 0, pg: 3), 0)
    }

    /// A PG's reserved bytes are its own even when the pool is exhausted.
    func testReservedSpaceIsGuaranteedWhenThePoolIsFull() {
        var b = BufferConfig()
        b.poolBytes = 4 * 1042
        b.lossy = .init(reservedBytes: 3 * 1042, threshold: .dynamic(0))
        let bed = RouterLab.twoPorts(buffers: b)
        // h1's lossy PG: 3 frames reserved, then shared while s + 1042 <= 4 x 1042 - s: 2 more.
        offer(bed, from: 1, count: 8, dscp: 0)
        XCTAssertEqual(bed.dp.admission.buffer.held(port: 0, pg: 0), 5 * 1042)
        XCTAssertEqual(bed.dp.admission.buffer.shared(port: 0, pg: 0), 2 * 1042)
        XCTAssertEqual(bed.dp.counters[0].drops[.bufferFull], 3)
        // h2's lossy PG: its 3 reserved frames whatever the pool holds, then 1 shared of the 2 left.
        offer(bed, from: 2, count: 8, dscp: 0)
        XCTAssertEqual(bed.dp.admission.buffer.held(port: 1, pg: 0), 4 * 1042)
        XCTAssertEqual(bed.dp.admission.buffer.shared(port: 1, pg: 0), 1042)
        XCTAssertEqual(bed.dp.counters[1].drops[.bufferFull], 4)
        XCTAssertEqual(bed.dp.admission.buffer.poolUsed, 3 * 1042)
        // Everything leaves: the accounting returns to zero.
        for p in 0..<2 {
            while let f = bed.dp.dequeueForTransmit(port: p, now: 1_000) { bed.dp.pool.release(f.addr) }
        }
        for p in 0..<2 { XCTAssertEqual(bed.dp.admission.buffer.held(port: p, pg: 0), 0) }
        XCTAssertEqual(bed.dp.admission.buffer.poolUsed, 0)
    }

    /// The XOFF carries the time its PG crossed the threshold; sending it counts the reaction.
    func testXOFFReactionTimeIsMeasuredWhenItLeaves() {
        let bed = makeBed(xoff: 2 * 1024, xon: 1024)
        offer(bed, from: 1, count: 4, dscp: 26, now: monotonicNanoseconds())
        XCTAssertEqual(bed.dp.counters[0].pfcReactions, 0, "queued, not yet sent")
        let f = bed.dp.dequeueForTransmit(port: 0, now: monotonicNanoseconds())
        XCTAssertNotNil(f)
        bed.dp.pool.release(f!.addr)
        XCTAssertEqual(bed.dp.counters[0].pfcReactions, 1)
        XCTAssertGreaterThan(bed.dp.counters[0].pfcReactionMaxNanoseconds, 0)
        XCTAssertLessThan(bed.dp.counters[0].pfcReactionMaxNanoseconds, 1_000_000_000)
    }

    func isPFC(_ f: [UInt8], quanta: UInt16) -> Bool {
        f.count == 60 && Array(f[0..<6]) == [0x01, 0x80, 0xC2, 0, 0, 1] && f[12] == 0x88 && f[13] == 0x08 && f[17] == 1 << 3
            && UInt16(f[24]) << 8 | UInt16(f[25]) == quanta
    }

    func testLosslessPGSendsXOFFAtThresholdAndXONBelowIt() {
        let bed = makeBed(xoff: 8 * 1024, xon: 4 * 1024)
        for i in 0..<10 {
            bed.receive(Frames.udp4(dstMAC: RouterLab.portMACs[0], srcMAC: RouterLab.host1, src: h1, dst: h2, sport: UInt16(i), dport: 9,
                                    tos: 26 << 2 | 2, payload: 1000))
        }
        bed.forward(ingress: 0, now: 1_000)
        // 10 x 1042 B held for h2: past 8 KB, so h1's port has an XOFF for priority 3 queued.
        XCTAssertEqual(bed.dp.admission.buffer.held(port: 0, pg: 3), 10_420)
        XCTAssertEqual(bed.dp.counters[0].pfcTx[3], 1)
        let xoff = bed.drainControl(0)
        XCTAssertEqual(xoff.count, 1)
        XCTAssertTrue(isPFC(xoff[0], quanta: 0xFFFF), "\(xoff)")
        // Transmit on h2's port until below 4 KB: an XON follows.
        var sent = 0
        while bed.dp.admission.buffer.held(port: 0, pg: 3) >= 4 * 1024, let f = bed.dp.dequeueForTransmit(port: 1, now: 2_000) {
            bed.dp.pool.release(f.addr)
            sent += 1
        }
        XCTAssertEqual(sent, 7, "10 frames -> 3 left (3126 B < 4 KB)")
        let xon = bed.drainControl(0)
        XCTAssertEqual(xon.count, 1)
        XCTAssertTrue(isPFC(xon[0], quanta: 0))
        XCTAssertEqual(bed.dp.counters[0].pfcTx[3], 2)
    }

    func testXOFFIsRefreshedWhileAboveXON() {
        let bed = makeBed(xoff: 2 * 1024, xon: 1024)
        for i in 0..<4 {
            bed.receive(Frames.udp4(dstMAC: RouterLab.portMACs[0], srcMAC: RouterLab.host1, src: h1, dst: h2, sport: UInt16(i), dport: 9,
                                    tos: 26 << 2 | 2, payload: 1000))
        }
        bed.forward(ingress: 0, now: 1_000)
        XCTAssertEqual(bed.drainControl(0).count, 1)
        // Half a 0xFFFF pause at 100G is 167.8 us: nothing before, a refresh after.
        bed.dp.tick(now: 1_000 + 160_000)
        XCTAssertEqual(bed.drainControl(0).count, 0)
        bed.dp.tick(now: 1_000 + 170_000)
        XCTAssertEqual(bed.drainControl(0).count, 1)
    }

    func testLosslessDropsOnlyPastHeadroomAndLossyAtItsLimit() {
        let bed = makeBed(xoff: 8 * 1024, xon: 4 * 1024, softwareSlack: 0, stallBudget: 0)
        let headroom = BufferConfig().hardwareHeadroom(speedGbps: 100)
        XCTAssertEqual(headroom, 625 + 394 * 64 + 2 * 1538, "cable 2 x 312.5 B, 394 quanta response, 2 MTUs")
        XCTAssertEqual(BufferConfig().headroom(speedGbps: 100), headroom + 12_500_000 + 2 * 1024 * 1024,
                       "plus 100 ms at 1 Gb/s (the stall budget) and the software slack")
        for i in 0..<60 {
            bed.receive(Frames.udp4(dstMAC: RouterLab.portMACs[0], srcMAC: RouterLab.host1, src: h1, dst: h2, sport: UInt16(i), dport: 9,
                                    tos: 26 << 2 | 2, payload: 1000))
            if bed.batch.count == 64 { bed.forward(ingress: 0, now: 1_000) }
        }
        bed.forward(ingress: 0, now: 1_000)
        let held = Int(bed.dp.admission.buffer.held(port: 0, pg: 3))
        let shared = Int(bed.dp.admission.buffer.shared(port: 0, pg: 3)), inHeadroom = Int(bed.dp.admission.buffer.headroomUsed(port: 0, pg: 3))
        XCTAssertEqual(held, shared + inHeadroom, "nothing reserved")
        XCTAssertLessThanOrEqual(shared, 8 * 1024)
        XCTAssertGreaterThan(shared, 8 * 1024 - 1042)
        XCTAssertLessThanOrEqual(inHeadroom, headroom)
        XCTAssertGreaterThan(inHeadroom, headroom - 1042)
        XCTAssertEqual(Int(bed.dp.admission.buffer.headroomPeak(port: 0, pg: 3)), inHeadroom)
        XCTAssertEqual(Int(bed.dp.counters[0].drops[.headroomOverflow]), 60 - held / 1042)
        XCTAssertEqual(bed.dp.counters[0].drops[.bufferFull], 0)
    }
}
