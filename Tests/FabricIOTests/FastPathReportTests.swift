import FabricCore
import FabricTelemetry
import FabricTestSupport
import XCTest
@testable import FabricIO

/// The fast path's counters in the exit table, /metrics and a merged (`--workers N`) report;
/// absent without the fast path.
final class FastPathReportTests: XCTestCase {
    func testFastPathCountersReachTheTableMetricsAndMergedReports() throws {
        var sw = try embeddedSwitch(ports: 2, frameCount: 512)
        let plain = sw.snapshot(running: true)
        XCTAssertNil(plain.ports[0].fastpathFrames, "no fast path: no counters")
        XCTAssertFalse(plain.table.contains("fast path"), plain.table)
        XCTAssertFalse(MetricsServer.render(plain).contains("fastpath"))

        var report = plain
        report.ports[0].fastpathFrames = 1234
        report.ports[0].fastpathBytes = 98765
        report.ports[0].fastpathTxFrames = 7
        report.ports[0].fastpathTxBytes = 700
        report.ports[0].fastpathPunts = ["roce": 50, "unresolved": 3]
        XCTAssertTrue(report.table.contains("e0 1234 frames/98765 B in, 7 out"), report.table)
        XCTAssertTrue(report.table.contains("e0:roce=50 e0:unresolved=3"), report.table)
        let metrics = MetricsServer.render(report)
        XCTAssertTrue(metrics.contains(#"fabric_port_fastpath_frames_total{port="e0"} 1234"#), metrics)
        XCTAssertTrue(metrics.contains(#"fabric_port_fastpath_bytes_total{port="e0"} 98765"#), metrics)
        XCTAssertTrue(metrics.contains(#"fabric_port_fastpath_punts_total{port="e0",reason="roce"} 50"#), metrics)

        // Worker 0's report holds the fast path's counters; the others' have none.
        let merged = report.merged(with: [plain])
        XCTAssertEqual(merged.ports[0].fastpathFrames, 1234)
        XCTAssertEqual(merged.ports[0].fastpathPunts, ["roce": 50, "unresolved": 3])
        _ = sw.shutdown()
    }
}
