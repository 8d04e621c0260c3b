import FabricPacket
import FabricTestSupport
import XCTest
@testable import FabricCore

/// `dequeueForTransmit(port:now:into:len:most:)` (the TX pass's batch) takes the frames, in the
/// order and with the accounting, of that many calls of the per-frame `dequeueForTransmit`:
/// two identical data paths fed the same traffic, one drained each way, send the same bytes and
/// end up equal (frame addresses aside: the pool hands out different frames once the two have
/// given frames back in a different order, as the tests' release does).
final class TransmitBatchTests: XCTestCase {
    let h1 = RouterLab.h1, h2 = RouterLab.h2

    /// Static thresholds, nothing reserved: XOFF past 8 KB, XON below 4 KB (PFCOutTests' bed).
    func makeBed() -> EmbeddedDatapath {
        var b = BufferConfig()
        b.lossless = .init(reservedBytes: 0, threshold: .fixed(8 * 1024))
        b.xonOffsetBytes = 4 * 1024
        return RouterLab.twoPorts(buffers: b)
    }

    /// `n` frames from host `from` (1 or 2), DSCP 26 (lossless) or 0 by turns of `every`, forwarded.
    func offer(_ bed: EmbeddedDatapath, from: Int, count n: Int, every: Int, payload: Int, now: UInt64) {
        let (src, dst) = from == 1 ? (h1, h2) : (h2, h1)
        for i in 0..<n {
            let dscp: UInt8 = (i / every) % 2 == 0 ? 26 : 0
            bed.receive(Frames.udp4(dstMAC: RouterLab.portMACs[from - 1], srcMAC: from == 1 ? RouterLab.host1 : RouterLab.host2,
                                    src: src, dst: dst, sport: UInt16(i), dport: 9, tos: dscp << 2 | 2, payload: payload))
            if bed.batch.count == 64 { bed.forward(ingress: from - 1, now: now) }
        }
        if bed.batch.count > 0 { bed.forward(ingress: from - 1, now: now) }
    }

    /// Up to `limit` frames of `port` one call at a time: their bytes, in order.
    func perFrame(_ bed: EmbeddedDatapath, port: Int, now: UInt64, limit: Int) -> [[UInt8]] {
        var out: [[UInt8]] = []
        while out.count < limit, let f = bed.dp.dequeueForTransmit(port: port, now: now) {
            out.append(bed.bytes(at: f.addr, length: f.len))
            bed.dp.pool.release(f.addr)
        }
        return out
    }

    /// The same through the batch call, `most` at a time.
    func batched(_ bed: EmbeddedDatapath, port: Int, now: UInt64, limit: Int, most: Int) -> [[UInt8]] {
        var out: [[UInt8]] = []
        let addr = UnsafeMutablePointer<UInt64>.allocate(capacity: most), len = UnsafeMutablePointer<UInt32>.allocate(capacity: most)
        defer { addr.deallocate(); len.deallocate() }
        while out.count < limit {
            let m = min(most, limit - out.count)
            let k = bed.dp.dequeueForTransmit(port: port, now: now, into: addr, len: len, most: m)
            for j in 0..<k {
                out.append(bed.bytes(at: addr[j], length: len[j]))
                bed.dp.pool.release(addr[j])
            }
            if k < m { break }
        }
        return out
    }

    func assertSame(_ a: EmbeddedDatapath, _ b: EmbeddedDatapath, _ what: String, file: StaticString = #filePath, line: UInt = #line) {
        for p in 0..<2 {
            // PFC reaction times are read from the clock: their number must agree, not their sum.
            var ca = a.dp.counters[p], cb = b.dp.counters[p]
            (ca.pfcReactionTotalNanoseconds, ca.pfcReactionMaxNanoseconds, cb.pfcReactionTotalNanoseconds, cb.pfcReactionMaxNanoseconds) = (0, 0, 0, 0)
            XCTAssertEqual(ca, cb, "\(what): counters of port \(p)", file: file, line: line)
            for q in 0..<8 {
                XCTAssertEqual(a.dp.egress[p].depth(queue: q).frames, b.dp.egress[p].depth(queue: q).frames, "\(what): depth", file: file, line: line)
                XCTAssertEqual(a.dp.egress[p].depth(queue: q).bytes, b.dp.egress[p].depth(queue: q).bytes, "\(what): bytes", file: file, line: line)
                XCTAssertEqual(a.dp.egress[p].dequeued[q], b.dp.egress[p].dequeued[q], "\(what): dequeued", file: file, line: line)
                XCTAssertEqual(a.dp.egress[p].dequeuedBytes[q], b.dp.egress[p].dequeuedBytes[q], "\(what): dequeued bytes", file: file, line: line)
                XCTAssertEqual(a.dp.egress[p].residence.count(q), b.dp.egress[p].residence.count(q), "\(what): residence count", file: file, line: line)
                XCTAssertEqual(a.dp.egress[p].residence.sum(q), b.dp.egress[p].residence.sum(q), "\(what): residence sum", file: file, line: line)
                XCTAssertEqual(a.dp.egress[p].residence.ringSum(q), b.dp.egress[p].residence.ringSum(q), "\(what): ring sum", file: file, line: line)
                XCTAssertEqual(a.dp.egress[p].residence.max(q), b.dp.egress[p].residence.max(q), "\(what): residence max", file: file, line: line)
                XCTAssertEqual(a.dp.egress[p].residence.percentile(q, 50), b.dp.egress[p].residence.percentile(q, 50), "\(what): p50", file: file, line: line)
                XCTAssertEqual(a.dp.egress[p].residence.percentile(q, 99), b.dp.egress[p].residence.percentile(q, 99), "\(what): p99", file: file, line: line)
            }
            XCTAssertEqual(a.dp.egress[p].nonEmpty, b.dp.egress[p].nonEmpty, "\(what): non-empty mask", file: file, line: line)
            XCTAssertEqual(a.dp.egress[p].rr, b.dp.egress[p].rr, "\(what): DWRR position", file: file, line: line)
            for pg in 0..<8 {
                XCTAssertEqual(a.dp.admission.buffer.held(port: p, pg: pg), b.dp.admission.buffer.held(port: p, pg: pg), "\(what): held", file: file, line: line)
                XCTAssertEqual(a.dp.admission.inXoff(port: p, pg: pg), b.dp.admission.inXoff(port: p, pg: pg), "\(what): XOFF", file: file, line: line)
            }
        }
        XCTAssertTrue(a.ledgerBalances && b.ledgerBalances, what, file: file, line: line)
    }

    /// Lossless and lossy frames in runs, XOFF and XON on the way, residence recorded, taken in
    /// uneven limits and batch sizes: the batch and the single calls agree frame for frame.
    func testTheBatchTakesWhatSingleCallsTake() {
        for (every, most, limit) in [(1, 64, 1000), (3, 5, 7), (64, 64, 40), (7, 1, 1000), (10, 16, 23)] {
            let a = makeBed(), b = makeBed()
            var now: UInt64 = 1_000
            for round in 0..<6 {
                for bed in [a, b] {
                    offer(bed, from: 1, count: 10 + round * 7, every: every, payload: 1000, now: now)
                    offer(bed, from: 2, count: 5, every: every, payload: 200, now: now)
                }
                assertSame(a, b, "offered, round \(round) every \(every) most \(most)")
                now &+= 3_000
                for p in [1, 0] {
                    let x = perFrame(a, port: p, now: now, limit: limit)
                    let y = batched(b, port: p, now: now, limit: limit, most: most)
                    XCTAssertEqual(x, y, "frames of port \(p), round \(round) every \(every) most \(most)")
                    assertSame(a, b, "sent on port \(p), round \(round) every \(every) most \(most)")
                }
            }
            // Whatever is left, all of it.
            now &+= 1_000_000
            for p in [0, 1] {
                XCTAssertEqual(perFrame(a, port: p, now: now, limit: .max), batched(b, port: p, now: now, limit: .max, most: 64))
            }
            assertSame(a, b, "drained, every \(every) most \(most)")
        }
    }
}
