import FabricCore
import FabricPacket
import FabricTelemetry
import FabricTestSupport
import Foundation
import XCTest
@testable import FabricIO

/// Jumbo frames through the run loop over the scripted kernel: a frame longer than one buffer
/// arrives as a multi-buffer chain (2048-byte buffers here, so a 9000-byte frame is five
/// descriptors), crosses the pipeline as one packet and leaves as a chain again, byte for byte;
/// flooding copies the whole chain; the ledger counts the frames behind each head.
final class JumboFrameTests: XCTestCase {
    static let hosts: [UInt64] = [0x02_00_00_00_00_0A, 0x02_00_00_00_00_0B, 0x02_00_00_00_00_0C]

    func jumbo(to dst: UInt64, from src: UInt64, length: Int, seed: UInt8) -> [UInt8] {
        var f = Frames.ethernet(dst: dst, src: src, length: 14)
        f += (0..<(length - 14)).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ Int(seed)) }
        return f
    }

    func testJumboFramesCrossWholeAndFloodAsChains() throws {
        var sw = try embeddedSwitch(ports: 3, ringSize: 256, frameCount: 2048)
        let kernel = sw.io.kernel
        let h = Self.hosts
        // A broadcast jumbo from each host: learned, and flooded (one chain copied, one moved).
        var sent: [[UInt8]] = []
        for p in 0..<3 {
            let f = jumbo(to: 0xFFFF_FFFF_FFFF, from: h[p], length: 9000, seed: UInt8(p))
            XCTAssertTrue(kernel.deliver(f, port: p))
            sent.append(f)
        }
        XCTAssertEqual(kernel.ports[0].rx.count, 5, "9000 bytes in 2048-byte buffers: five descriptors")
        _ = sw.iterate(now: 1_000)
        XCTAssertTrue(sw.ledger().balances, "\(sw.ledger())")
        for p in 0..<3 {
            let others = (0..<3).filter { $0 != p }.map { sent[$0] }
            XCTAssertEqual(kernel.ports[p].wire.map(\.count), others.map(\.count), "port \(p): the other hosts' broadcasts")
            XCTAssertTrue(kernel.ports[p].wire == others, "port \(p): the other hosts' broadcasts, byte for byte")
        }
        // Unicast jumbo frames of every length around the buffer edges, mixed with small ones.
        var expected: [[[UInt8]]] = [[], [], []]
        for (i, length) in [60, 2047, 2048, 2049, 4096, 4097, 6000, 9000, 9518, 1500].enumerated() {
            let from = i % 3, to = (i + 1) % 3
            let f = jumbo(to: h[to], from: h[from], length: length, seed: UInt8(i))
            XCTAssertTrue(kernel.deliver(f, port: from))
            expected[to].append(f)
            _ = sw.iterate(now: UInt64(2_000 + i * 1_000))
            XCTAssertTrue(sw.ledger().balances, "after \(length) bytes: \(sw.ledger())")
        }
        for p in 0..<3 {
            let unicast = Array(kernel.ports[p].wire.dropFirst(2))
            XCTAssertEqual(unicast.map(\.count), expected[p].map(\.count), "port \(p): unicast lengths")
            XCTAssertTrue(unicast == expected[p], "port \(p): unicast, byte for byte")
        }
        let report = sw.shutdown()
        XCTAssertEqual(report.ports.map { $0.drops.filter { $0.value > 0 } }, [[:], [:], [:]], "no drop")
        XCTAssertTrue(report.ledger.balances, "\(report.ledger)")
        XCTAssertEqual(report.ledger.chained, 0, "no chain is left at rest")
        XCTAssertEqual(report.ledger.free + report.ledger.fillOutstanding, report.ledger.total, "at rest: free or in fill rings")
        XCTAssertEqual(report.ports[1].txBytes, UInt64(kernel.ports[1].wire.reduce(0) { $0 + $1.count }), "bytes counted as the frame's total")
    }

    /// A jumbo frame for a port whose interface takes shorter frames is dropped there, counted
    /// as `oversize`; its whole chain goes back to the pool.
    func testAFrameLongerThanTheEgressPortTakesIsDroppedAsOversize() throws {
        var sw = try embeddedSwitch(ports: 2, ringSize: 256, frameCount: 1024)
        let kernel = sw.io.kernel
        let h = Self.hosts
        sw.dp.setLargestFrame(port: 1, bytes: 1518)
        kernel.deliver(Frames.ethernet(dst: 0xFFFF_FFFF_FFFF, src: h[1]), port: 1)
        _ = sw.iterate(now: 1_000)
        kernel.deliver(jumbo(to: h[1], from: h[0], length: 9000, seed: 1), port: 0)
        kernel.deliver(jumbo(to: h[1], from: h[0], length: 1518, seed: 2), port: 0)
        kernel.deliver(jumbo(to: h[1], from: h[0], length: 1519, seed: 3), port: 0)
        _ = sw.iterate(now: 2_000)
        let report = sw.shutdown()
        XCTAssertEqual(kernel.ports[1].wire.map(\.count), [1518], "only the frame the port takes")
        XCTAssertEqual(report.ports[1].drops["oversize"], 2)
        XCTAssertTrue(report.ledger.balances, "\(report.ledger)")
        XCTAssertEqual(report.ledger.chained, 0)
    }

    /// `--capture` writes a jumbo frame whole (its chain gathered), in and out.
    func testCaptureRecordsAJumboFrameWhole() throws {
        var sw = try embeddedSwitch(ports: 2, ringSize: 256, frameCount: 1024)
        let kernel = sw.io.kernel
        let h = Self.hosts
        let path = NSTemporaryDirectory() + "jumbo-\(getpid()).pcapng"
        defer { try? FileManager.default.removeItem(atPath: path) }
        try sw.capture(port: "e1", path: path, limitBytes: 1 << 20)
        kernel.deliver(Frames.ethernet(dst: 0xFFFF_FFFF_FFFF, src: h[1]), port: 1)
        _ = sw.iterate(now: 1_000)
        let f = jumbo(to: h[1], from: h[0], length: 9000, seed: 7)
        kernel.deliver(f, port: 0)
        _ = sw.iterate(now: 2_000)
        _ = sw.shutdown()
        // Enhanced packet blocks: type 6, captured length at offset 20, data at 28.
        let data = [UInt8](try Data(contentsOf: URL(fileURLWithPath: path)))
        var packets: [[UInt8]] = []
        var at = 0
        while at + 12 <= data.count {
            let type = data[at..<at + 4].withUnsafeBytes { $0.loadUnaligned(as: UInt32.self) }
            let length = Int(data[at + 4..<at + 8].withUnsafeBytes { $0.loadUnaligned(as: UInt32.self) })
            guard length >= 12 else { break }
            if type == 6 {
                let caplen = Int(data[at + 20..<at + 24].withUnsafeBytes { $0.loadUnaligned(as: UInt32.self) })
                packets.append(Array(data[at + 28..<at + 28 + caplen]))
            }
            at += length
        }
        XCTAssertEqual(packets.last?.count, f.count)
        XCTAssertTrue(packets.last == f, "the frame sent on e1, whole")
        XCTAssertEqual(packets.count, 2, "the broadcast in, the jumbo frame out")
    }
}
