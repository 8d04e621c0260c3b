import XCTest
@testable import FabricCore

final class RingAndPoolTests: XCTestCase {
    func testFrameQueueFIFOAndWrap() {
        var q = FrameQueue(capacity: 4)
        XCTAssertTrue(q.isEmpty)
        // Go round the ring several times so the indices wrap.
        var next: UInt64 = 0
        var expected: UInt64 = 0
        for _ in 0..<10 {
            while q.enqueue(addr: next, len: UInt32(next + 60)) { next += 1 }
            XCTAssertTrue(q.isFull)
            XCTAssertEqual(q.count, 4)
            let f = q.dequeue()!
            XCTAssertEqual(f.addr, expected)
            XCTAssertEqual(f.len, UInt32(expected + 60))
            expected += 1
        }
        var bytes = 0
        while let f = q.dequeue() {
            XCTAssertEqual(f.addr, expected)
            bytes += Int(f.len)
            expected += 1
        }
        XCTAssertEqual(expected, next)
        XCTAssertEqual(q.byteDepth, 0)
        XCTAssertNil(q.dequeue())
    }

    func testFrameQueueByteDepth() {
        var q = FrameQueue(capacity: 8)
        XCTAssertTrue(q.enqueue(addr: 0, len: 100))
        XCTAssertTrue(q.enqueue(addr: 4096, len: 60))
        XCTAssertEqual(q.byteDepth, 160)
        _ = q.dequeue()
        XCTAssertEqual(q.byteDepth, 60)
        XCTAssertEqual(q.peek()?.addr, 4096)
    }

    func testFramePoolHandsOutEveryFrameOnce() {
        var pool = FramePool(frameCount: 16, frameSize: 2048)
        var seen = Set<UInt64>()
        while let a = pool.allocate() {
            XCTAssertEqual(a % 2048, 0)
            XCTAssertTrue(seen.insert(a).inserted, "frame \(a) handed out twice")
        }
        XCTAssertEqual(seen.count, 16)
        XCTAssertEqual(pool.freeCount, 0)
        // Released addresses may carry an rx offset; the pool stores the frame start.
        pool.release(3 * 2048 + 256)
        XCTAssertEqual(pool.allocate(), 3 * 2048)
    }

    func testVerdictEncoding() {
        XCTAssertEqual(Verdict.port(5).portIndex, 5)
        XCTAssertNil(Verdict.port(5).dropReason)
        XCTAssertTrue(Verdict.flood.isFlood)
        XCTAssertNil(Verdict.flood.portIndex)
        for r in DropReason.allCases {
            XCTAssertEqual(Verdict.drop(r).dropReason, r)
            XCTAssertNil(Verdict.drop(r).portIndex)
        }
        XCTAssertLessThanOrEqual(DropReason.allCases.count, DropCounts.slots)
    }

    func testDropCountsAreIndependent() {
        var d = DropCounts()
        for (i, r) in DropReason.allCases.enumerated() { d[r] = UInt64(i + 1) }
        for (i, r) in DropReason.allCases.enumerated() { XCTAssertEqual(d[r], UInt64(i + 1)) }
        XCTAssertEqual(d.total, UInt64((1...DropReason.allCases.count).reduce(0, +)))
    }
}
