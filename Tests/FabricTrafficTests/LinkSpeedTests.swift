@testable import FabricTraffic
import XCTest

/// The speed a sender times PFC quanta at: 512 bit times each at its link's speed.
final class LinkSpeedTests: XCTestCase {
    func testOptionThenInterfaceThenFallback() {
        XCTAssertTrue(SenderConfig.linkSpeed(option: 0.2, reported: 10) == (0.2, .option), "a test bed's emulated speed wins")
        XCTAssertTrue(SenderConfig.linkSpeed(option: nil, reported: 25) == (25, .interface))
        XCTAssertTrue(SenderConfig.linkSpeed(option: nil, reported: nil) == (10, .fallback))
        XCTAssertTrue(SenderConfig.linkSpeed(option: nil, reported: 0) == (10, .fallback))
    }

    func testAPauseLastsItsQuantaAtTheLinkSpeed() {
        for (gbps, micros) in [(100.0, 335.5392), (10, 3355.392), (0.2, 167_769.6)] {
            let s = PFCPauseState(linkGbps: SenderConfig.linkSpeed(option: gbps, reported: 10).gbps)
            XCTAssertEqual(s.pauseNanoseconds(quanta: 0xFFFF) / 1000, micros, accuracy: 1e-6, "\(gbps) Gb/s")
        }
    }
}
