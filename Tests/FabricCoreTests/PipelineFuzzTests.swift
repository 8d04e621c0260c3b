import FabricTestSupport
import XCTest
@testable import FabricCore

/// The CI-sized whole-pipeline fuzz (`fabric-pipeline-bench --fuzz 10000000` is the full one):
/// random and mutated frames through the router and the bridge, ports stalling and flapping;
/// the frame ledger balances after every batch and every frame comes back once.
final class PipelineFuzzTests: XCTestCase {
    func fuzz(_ mode: ForwardingMode, seed: UInt64, frames: Int) throws -> PipelineFuzzer.Report {
        let r = try PipelineFuzzer(mode: mode, seed: seed).run(frames: frames)
        print("\(mode):", r.summary)
        XCTAssertEqual(r.frames, frames)
        XCTAssertEqual(r.received, UInt64(frames), "every frame fed was received")
        XCTAssertGreaterThan(r.transmitted, 0)
        XCTAssertGreaterThan(r.byMutation.min() ?? 0, 0, "every kind of mutation fed: \(r.byMutation)")
        XCTAssertGreaterThan(r.drops["malformed", default: 0] + r.drops["runt", default: 0], 0, "bad frames were seen as bad")
        XCTAssertGreaterThan(r.pfcSent, 0, "stalled ports filled a lossless PG: PFC was sent")
        XCTAssertGreaterThan(r.linkFlaps, 0)
        return r
    }

    func testTheRouterSurvivesFuzzedFramesWithItsLedgerBalanced() throws {
        let r = try fuzz(.router, seed: 0x5EED_0001, frames: 150_000)
        XCTAssertGreaterThan(r.consumed, 0, "ARP, ICMP and PFC reached the host stack and the PFC receiver")
        XCTAssertGreaterThan(r.drops["no_route", default: 0], 0)
        XCTAssertGreaterThan(r.peakPending, 0, "frames waited for a neighbour")
    }

    func testTheBridgeSurvivesFuzzedFramesWithItsLedgerBalanced() throws {
        _ = try fuzz(.bridge, seed: 0x5EED_0002, frames: 150_000)
    }

    /// The checks themselves fail on a broken ledger: a frame taken from the pool and never
    /// returned is reported.
    func testALeakedFrameFailsTheLedger() throws {
        let f = PipelineFuzzer(mode: .router, seed: 1, frameCount: 512)
        _ = f.bed.dp.pool.allocate()
        XCTAssertThrowsError(try f.run(frames: 100)) { XCTAssertTrue("\($0)".contains("ledger"), "\($0)") }
    }
}
