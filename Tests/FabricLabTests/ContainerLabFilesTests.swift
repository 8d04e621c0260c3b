import FabricConfig
import FabricCore
import FabricLab
import Foundation
import XCTest
import Yams

/// The files for labs of SwiftFabric containers: the example lab and the container test's lab are
/// containerlab files (schema-valid) whose `linux` nodes with swiftfabric.role become switches,
/// and `fabric testbed configs`' output (TopologyTestbed.nodeFiles) routes every host subnet and
/// gives hosts fabric routes, not a default route.
final class ContainerLabFilesTests: XCTestCase {
    static let repo = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("../..").standardized
    static func path(_ p: String) -> String { repo.appendingPathComponent(p).path }

    func testTheExampleLabIsALeafSpineOfSwitchContainersAndHosts() throws {
        let t = try Topology.load(file: Self.path("scripts/examples/ai-fabric.clab.yml"), note: { XCTFail("unexpected note: \($0)") })
        XCTAssertEqual(t.mode, .router)
        XCTAssertEqual(t.switches, ["spine1", "spine2", "leaf1", "leaf2"])
        XCTAssertEqual(t.hosts, ["h1", "h2", "h3", "h4"])
        XCTAssertEqual(Set(t.links.map { t.mtu(of: $0) }), [9000])
        XCTAssertNoThrow(try t.validate())
        var docs: [String: Any] = [:]
        for f in ["scripts/examples/ai-fabric.clab.yml", "scripts/examples/two-machines.clab.yml", "Tests/container/two-switches.clab.yml"] {
            docs[f] = try XCTUnwrap(try Yams.load(yaml: String(contentsOfFile: Self.path(f), encoding: .utf8)))
        }
        try ContainerlabTests.assertSchemaValid(docs)
    }

    func testNodeFilesRouteEveryHostSubnetOverBothSpines() throws {
        let t = try Topology.load(file: Self.path("scripts/examples/ai-fabric.clab.yml"), note: { _ in })
        let files = TopologyTestbed(topology: t, prefix: "x").nodeFiles(source: "ai-fabric.clab.yml")
        XCTAssertEqual(files.map(\.name), ["spine1.yaml", "spine2.yaml", "leaf1.yaml", "leaf2.yaml", "h1.sh", "h2.sh", "h3.sh", "h4.sh"])
        // Each switch file is a configuration the switch loads, named after the node.
        for f in files where f.name.hasSuffix(".yaml") {
            let c = try ConfigLoader.parse(f.text)
            XCTAssertEqual(c.name, String(f.name.dropLast(5)))
            XCTAssertEqual(c.buffers.mtu, 9000)
        }
        let leaf1 = try ConfigLoader.parse(try XCTUnwrap(files.first { $0.name == "leaf1.yaml" }).text)
        XCTAssertEqual(leaf1.routes.map(\.prefix.description), ["10.2.1.0/24", "10.2.2.0/24"])
        XCTAssertEqual(leaf1.routes.map { $0.nextHops.count }, [2, 2], "both spines")
        let h3 = try XCTUnwrap(files.first { $0.name == "h3.sh" }).text
        XCTAssertTrue(h3.contains("ip addr replace 10.2.1.1/24 dev eth1"), h3)
        XCTAssertTrue(h3.contains("ip route replace 10.0.0.0/8 via 10.2.1.254 dev eth1"), h3)
        XCTAssertFalse(h3.contains("default"), "a containerlab node keeps its management default route")
        // The committed files are these (the container test also regenerates them in the image).
        for f in files {
            XCTAssertEqual(try String(contentsOfFile: Self.path("scripts/examples/ai-fabric/\(f.name)"), encoding: .utf8), f.text,
                           "scripts/examples/ai-fabric/\(f.name) is stale: fabric testbed configs scripts/examples/ai-fabric.clab.yml --out scripts/examples/ai-fabric")
        }
    }
}
