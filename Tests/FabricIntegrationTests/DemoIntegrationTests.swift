import FabricLab
import Foundation
import XCTest

/// The README's main job, `fabric demo`, run as a user runs it (smaller): its three parts
/// print their tables, the report is written, and nothing is left behind.
final class DemoIntegrationTests: LabTestCase {
    func testTheDemoTellsItsThreeStoriesAndLeavesNothingBehind() throws {
        let report = NSTemporaryDirectory() + "fabric-demo-test-\(getpid())"
        addTeardownBlock { try? FileManager.default.removeItem(atPath: report) }
        let prefix = "dm" + String(UUID().uuidString.prefix(4)).lowercased()
        let demo = try ChildProcess([fabric, "demo", "--prefix", prefix, "--udp-count", "300", "--tcp-seconds", "1", "--incast-seconds", "1.5",
                                     "--seeds", "0", "--report", report])
        addTeardownBlock { demo.stop(grace: 5) }
        XCTAssertEqual(demo.wait(timeout: 400), 0, String(demo.output.suffix(3000)))
        let out = demo.output
        print(out)
        XCTAssertTrue(out.contains("1. First check"), "part 1")
        XCTAssertTrue(out.contains("TCP (iperf3"), "part 1: TCP")
        XCTAssertTrue(out.contains("2. Lossless Ethernet"), "part 2")
        XCTAssertTrue(out.contains("3. The ECMP collision tax"), "part 3")
        // Part 2's table: with PFC on the switch drops nothing, and nothing is lost but what the
        // receiving host itself dropped; off, no PFC at all.
        let rows = out.split(separator: "\n").filter { $0.hasPrefix("| on |") || $0.hasPrefix("| off |") }
            .map { $0.split(separator: "|").map { $0.trimmingCharacters(in: .whitespaces) } }
        XCTAssertEqual(rows.count, 2, out)
        if rows.count == 2 {
            let (sent, received, hostDrops) = (Int(rows[0][1]) ?? 0, Int(rows[0][2]) ?? 0, Int(rows[0][6]) ?? -1)
            XCTAssertEqual(rows[0][5], "0", "PFC on: no switch drop")
            if hostDrops == 0 {
                XCTAssertEqual(rows[0][3], "0", "PFC on: lost")
                XCTAssertEqual(rows[0][4], "0", "PFC on: resent")
            } else {
                XCTAssertLessThanOrEqual(sent - received, hostDrops, "PFC on: only what the receiving host dropped is missing")
            }
            XCTAssertGreaterThan(Int(rows[0][7]) ?? 0, 0, "PFC on: PFC frames sent")
            // (Whether the switch drops with PFC off depends on how much the debug-build senders
            // manage to offer on the shared cores: 0 and 6951 frames in two runs.)
            XCTAssertEqual(rows[1][7], "0", "PFC off: no PFC frame")
        }
        XCTAssertTrue(out.contains("| colliding |"), "part 3: the colliding draw")
        XCTAssertTrue(FileManager.default.fileExists(atPath: report + "/index.html"), "the report")
        let left = try Shell.run(["ip", "netns", "list"]).split(separator: "\n").filter { $0.hasPrefix(prefix) }
        XCTAssertEqual(left, [], "namespaces left behind")
    }
}
