import FabricSystem
import XCTest

final class KernelReleaseTests: XCTestCase {
    func testReleasesParseAndOrderByMajorThenMinor() {
        XCTAssertEqual(KernelRelease("6.18.44-fc-v1045"), KernelRelease(major: 6, minor: 18))
        XCTAssertEqual(KernelRelease("6.1.0-26-amd64"), KernelRelease(major: 6, minor: 1))
        XCTAssertEqual(KernelRelease("5.15"), KernelRelease(major: 5, minor: 15))
        XCTAssertNil(KernelRelease("6"))
        XCTAssertNil(KernelRelease("v6.13"))
        XCTAssertNil(KernelRelease(""))
        XCTAssertLessThan(KernelRelease(major: 6, minor: 9), KernelRelease(major: 6, minor: 13))
        XCTAssertLessThan(KernelRelease(major: 5, minor: 19), KernelRelease(major: 6, minor: 0))
        XCTAssertGreaterThanOrEqual(KernelRelease(major: 6, minor: 18), KernelRelease(major: 6, minor: 13))
        XCTAssertNotNil(KernelRelease.running, "uname -r of this machine parses")
    }
}
