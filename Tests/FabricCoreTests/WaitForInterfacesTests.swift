import FabricSystem
import XCTest

/// `fabric switch --wait-for-interfaces`: returns once every interface is there and up, and
/// otherwise gives up after the timeout (or when told to stop) naming what is missing.
final class WaitForInterfacesTests: XCTestCase {
    func testPresentAndUpReturnsAtOnce() throws {
        // lo is up in every namespace a test runs in.
        XCTAssertLessThan(try waitForInterfaces(["lo"], timeout: 5), 1)
    }

    func testMissingInterfacesAreNamedAfterTheTimeout() {
        let start = monotonicNanoseconds()
        XCTAssertThrowsError(try waitForInterfaces(["lo", "sfnope0", "sfnope1"], timeout: 0.3)) { error in
            // Every interface asked for, then only the missing ones: lo is there.
            let text = "\(error)"
            XCTAssertTrue(text.contains("interfaces lo,sfnope0,sfnope1: after "), text)
            XCTAssertTrue(text.hasSuffix(" s, sfnope0,sfnope1 not present"), text)
        }
        XCTAssertGreaterThanOrEqual(monotonicNanoseconds() - start, 300_000_000)
    }

    func testAStopEndsTheWait() {
        let start = monotonicNanoseconds()
        XCTAssertThrowsError(try waitForInterfaces(["sfnope0"], timeout: 60, stop: { true })) { error in
            XCTAssertTrue("\(error)".contains("stopped while waiting"), "\(error)")
        }
        XCTAssertLessThan(monotonicNanoseconds() - start, 5_000_000_000)
    }
}
