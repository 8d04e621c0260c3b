import FabricLab
import Foundation
import XCTest

/// The shared frame of every integration test: root or skip, the built `fabric` executable,
/// a stats file, and test beds and switches that are removed after the test whatever happens
/// (XCTest runs teardown blocks also when an assertion fails).
class LabTestCase: XCTestCase {
    var fabric = ""
    var statsFile = ""

    override func setUpWithError() throws {
        try XCTSkipUnless(getuid() == 0, "integration tests need root (namespaces, veth, XDP); run scripts/test.sh as root")
        let dir = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath().deletingLastPathComponent()
        var candidate = dir.appendingPathComponent("fabric").path
        if !FileManager.default.isExecutableFile(atPath: candidate) {
            candidate = dir.deletingLastPathComponent().appendingPathComponent("fabric").path
        }
        fabric = candidate
        guard FileManager.default.isExecutableFile(atPath: fabric) else {
            XCTFail("no fabric executable next to the test bundle (\(fabric)); run `swift build` first (scripts/test.sh does)")
            throw XCTSkip("fabric not built")
        }
        statsFile = NSTemporaryDirectory() + "fabric-it-\(getpid())-\(UUID().uuidString.prefix(8)).json"
    }

    /// A test bed with a prefix no other run uses, removed after the test.
    func makeTestbed(hosts: Int, routed: Bool = false) throws -> Testbed {
        let tb = Testbed(prefix: "it" + String(UUID().uuidString.prefix(5)).lowercased(), hosts: hosts, routed: routed)
        addTeardownBlock {
            tb.down()
            XCTAssertEqual(tb.existingNamespaces(), [], "test bed namespaces left behind")
            try? FileManager.default.removeItem(atPath: self.statsFile)
        }
        try tb.up()
        return tb
    }

    /// The switch on `tb` (bridge on its ports, or the router from `config`), stopped after the test.
    func startSwitch(_ tb: Testbed, config: String? = nil, extra: [String] = [], ipNetnsExec: Bool = false) throws -> SwitchProcess {
        let sw = try SwitchProcess.start(fabric: fabric, testbed: tb, statsFile: statsFile, extra: extra,
                                         ipNetnsExec: ipNetnsExec, config: config)
        addTeardownBlock { sw.child.stop(grace: 5) }
        return sw
    }

    /// A routed test bed with the switch running as its router.
    func routedBedWithSwitch(hosts: Int) throws -> (Testbed, SwitchProcess) {
        let tb = try makeTestbed(hosts: hosts, routed: true)
        return (tb, try startSwitch(tb, config: tb.configPath))
    }
}
