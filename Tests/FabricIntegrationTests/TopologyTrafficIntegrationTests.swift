import FabricLab
import Foundation
import XCTest

/// `fabric traffic` on a bed that `fabric testbed up --topology` made, driven the way a user
/// drives it: both commands through the CLI, hosts by the topology's names, routed leaf ->
/// spine -> leaf through four switches.
final class TopologyTrafficIntegrationTests: LabTestCase {
    func testIncastOnALeafSpineBedLosesNothing() throws {
        let prefix = "it" + String(UUID().uuidString.prefix(5)).lowercased()
        addTeardownBlock {
            // Stops the switches `up` left running (by their recorded pids) and removes everything.
            let tb = TopologyTestbed(topology: .leafSpine(), prefix: prefix)
            tb.down()
            XCTAssertEqual(tb.existingNamespaces(), [], "test bed namespaces left behind")
        }
        try Shell.run([fabric, "testbed", "up", "--topology", "leaf-spine", "--prefix", prefix, "--mode", "ecmp"])

        let out = try Shell.run([fabric, "traffic", "incast", "--prefix", prefix, "--to", "h1", "--from", "h5,h6",
                                 "--duration", "2s", "--rate", "0.1"])
        print(out)
        // "2 flows, 1 receivers; completion 2.004 s; sent 44174 packets, received 44174, lost 0, reordered 0"
        let summary = try XCTUnwrap(out.split(separator: "\n").first { $0.contains("; sent ") }, "no summary line")
        func count(after key: String) -> UInt64? {
            guard let r = summary.range(of: key) else { return nil }
            return UInt64(summary[r.upperBound...].prefix { $0.isNumber })
        }
        let sent = try XCTUnwrap(count(after: "sent ")), received = try XCTUnwrap(count(after: "received "))
        XCTAssertGreaterThan(sent, 10_000, "2 flows at 0.1 Gb/s for 2 s")
        XCTAssertEqual(received, sent)
        XCTAssertEqual(count(after: "lost "), 0)
        XCTAssertTrue(out.contains("h5   -> h1") && out.contains("h6   -> h1"), "one row per flow")

        let unknown = try Shell.run([fabric, "traffic", "incast", "--prefix", prefix, "--to", "h9", "--from", "h5"], check: false)
        XCTAssertTrue(unknown.contains("test bed '\(prefix)' has no host 'h9'; its hosts: h1...h8"), unknown)
    }
}
