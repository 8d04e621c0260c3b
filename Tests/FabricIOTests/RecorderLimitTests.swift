import FabricCore
import FabricPacket
import FabricTelemetry
import FabricTestSupport
import Foundation
import XCTest
@testable import FabricIO

/// `--record` files are bounded: samples stop at the limit, the switch goes on, the file stays
/// a complete record of its first part.
final class RecorderLimitTests: XCTestCase {
    func testRecordStopsAtItsLimitAndStaysReadable() throws {
        var sw = try embeddedSwitch(ports: 2, frameCount: 512)
        let path = NSTemporaryDirectory() + "fabric-record-limit-\(getpid()).sfrec"
        defer { try? FileManager.default.removeItem(atPath: path) }
        let sampleBytes = 8 + 2 * 52 + 8
        let limit = 4096 + 100 * sampleBytes
        let r = try Recorder(path: path, switchName: "embedded", ports: ["e0", "e1"], speedsGbps: [nil, nil],
                             intervalMicroseconds: 10, limitBytes: limit)
        XCTAssertEqual(r.sampleBytes, sampleBytes)
        sw.recorder = r
        var now: UInt64 = 1_000_000
        var taken = 0
        for i in 0..<200_000 {   // ~26 MB unbounded: far past the limit, across many flushes
            now += 10_000
            if r.due(now) {
                r.sample(sw.dp, now: now)
                taken += 1
            }
            if i % 1000 == 0 { r.flush() }
        }
        XCTAssertTrue(r.stoppedAtLimit)
        XCTAssertLessThan(taken, 200_000, "sampling stops at the limit, not only writing")
        let recorded = r.samples
        _ = sw.shutdown()
        let size = try FileManager.default.attributesOfItem(atPath: path)[.size] as! Int
        let rec = try Recording(file: path)
        XCTAssertEqual(UInt64(rec.times.count), recorded)
        XCTAssertGreaterThan(rec.times.count, 50)
        let trailerBytes = size - (r.writtenBytes)
        XCTAssertLessThanOrEqual(r.writtenBytes, limit, "header and samples within the limit")
        XCTAssertGreaterThan(r.writtenBytes, limit - sampleBytes, "filled up to the last whole sample")
        XCTAssertGreaterThan(trailerBytes, 0)
        XCTAssertEqual(rec.trailer?.limitBytes, limit, "the report knows it was cut")
        XCTAssertThrowsError(try Recorder(path: path, switchName: "embedded", ports: ["e0"], speedsGbps: [nil], intervalMicroseconds: 10, limitBytes: 64))
    }
}
