import FabricCore
import FabricPacket
import FabricTelemetry
import FabricTestSupport
import XCTest
@testable import FabricIO

/// The MAC table's fill, moves and refused learns reach the snapshot, the exit table and
/// /metrics of a bridge.
final class MACExportTests: XCTestCase {
    func testBridgeSnapshotCarriesMACMovesAndLearnFailures() throws {
        var sw = try embeddedSwitch(ports: 2, frameCount: 512)
        let host: UInt64 = 0x02_00_00_00_00_0A
        sw.io.kernel.deliver(Frames.ethernet(dst: 0xFFFF_FFFF_FFFF, src: host, length: 64), port: 0)
        _ = sw.iterate(now: 1_000)
        sw.io.kernel.deliver(Frames.ethernet(dst: 0xFFFF_FFFF_FFFF, src: host, length: 64), port: 1)
        _ = sw.iterate(now: 2_000)
        let report = sw.snapshot(running: true)
        XCTAssertEqual(report.macEntries, 1)
        XCTAssertEqual(report.macMoves, 1)
        XCTAssertEqual(report.macLearnFailures, 0)
        XCTAssertTrue(report.table.contains("1 moves"), report.table)
        let metrics = MetricsServer.render(report)
        XCTAssertTrue(metrics.contains("fabric_mac_moves_total 1"), metrics)
        XCTAssertTrue(metrics.contains("fabric_mac_learn_failures_total 0"), metrics)
        XCTAssertTrue(metrics.contains("fabric_mac_entries 1"), metrics)
        _ = sw.shutdown()
    }
}
