import FabricConfig
import FabricCore
import FabricLab
import Foundation
import XCTest

/// Topology files and what a topology test bed generates from them (no root needed).
final class TopologyTests: XCTestCase {
    static let shipped = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .appendingPathComponent("../../scripts/leaf-spine.yaml").standardized.path

    func testTheShippedFileIsTheBuiltInLeafSpine() throws {
        let file = try Topology.load(file: Self.shipped)
        let builtIn = Topology.leafSpine()
        XCTAssertEqual(file.nodes.map(\.name), builtIn.nodes.map(\.name), "in the file's order")
        XCTAssertEqual(file.switches.sorted(), ["leaf1", "leaf2", "spine1", "spine2"])
        XCTAssertEqual(file.hosts.count, 8)
        XCTAssertEqual(Set(file.links.map { "\($0.a)-\($0.b)" }), Set(builtIn.links.map { "\($0.a)-\($0.b)" }))
        XCTAssertEqual(file.uplinkSpeed, "1G")
        XCTAssertEqual(file.flowletIdle, "2ms")
        // And the built-in one survives a round trip through its YAML.
        let again = try Topology.parse(builtIn.yaml)
        XCTAssertEqual(again.nodes.map(\.name), builtIn.nodes.map(\.name))
        XCTAssertEqual(again.links.count, builtIn.links.count)
    }

    func testGeneratedSwitchConfigsAreValidAndRouteOverEveryShortestPath() throws {
        let tb = TopologyTestbed(topology: .leafSpine(), prefix: "tt")
        for s in tb.topology.switches {
            let c = try ConfigLoader.parse(tb.switchConfig(s, mode: .flowlet), file: "\(s).yaml")
            XCTAssertEqual(c.loadBalancing.mode, .flowlet)
            XCTAssertEqual(c.loadBalancing.flowletIdleNanoseconds, 2_000_000)
            if s.hasPrefix("leaf") {
                XCTAssertEqual(c.ports.count, 6, "4 hosts + 2 uplinks")
                XCTAssertEqual(c.routes.count, 4, "the other leaf's 4 host subnets")
                XCTAssertTrue(c.routes.allSatisfy { $0.nextHops.count == 2 }, "ECMP over both spines")
            } else {
                XCTAssertEqual(c.ports.count, 2)
                XCTAssertEqual(c.routes.count, 8, "every host subnet")
                XCTAssertTrue(c.routes.allSatisfy { $0.nextHops.count == 1 }, "one way down to each leaf")
            }
        }
        XCTAssertEqual(tb.hostAddress("h1"), "10.1.1.1")
        XCTAssertEqual(tb.hostAddress("h5"), "10.2.1.1")
        XCTAssertEqual(tb.hostAddress(6), "10.2.2.1", "host 6 in topology order")
    }

    func testBadTopologiesAreRefusedWithTheKey() {
        func reject(_ yaml: String) -> String {
            do { _ = try Topology.parse(yaml, file: "t.yaml"); return "accepted" } catch { return "\(error)" }
        }
        let nodes = "nodes:\n  s1: {kind: switch}\n  h1: {kind: host}\n"
        XCTAssertTrue(reject("nodes: [\n").contains("t.yaml: not valid YAML"))
        XCTAssertTrue(reject(nodes + "links:\n  - endpoints: [h1:eth0, s2:p1]\n").contains("links[0]: no node named 's2'"))
        XCTAssertTrue(reject(nodes + "links:\n  - endpoints: [h1:eth0]\n").contains("links[0]: expected {endpoints: [node:interface, node:interface]}"))
        XCTAssertTrue(reject(nodes + "links:\n  - endpoints: [h1, s1:p1]\n").contains("endpoint 'h1' is not node:interface"))
        XCTAssertTrue(reject(nodes + "links: []\n").contains("host h1 has 0 links"))
        XCTAssertTrue(reject("nodes:\n  s1: {kind: router}\nlinks: []\n").contains("nodes.s1.kind: expected switch or host, got 'router'"))
        XCTAssertTrue(reject(nodes + "links:\n  - endpoints: [h1:eth0, s1:p1]\n    speed: fast\n").contains("links[0].speed: expected a speed like 1G"))
        XCTAssertTrue(reject(nodes + "links:\n  - endpoints: [h1:eth0, s1:p1]\n  - endpoints: [s1:p1, h1:eth1]\n").contains("endpoint s1:p1 used twice"))
        XCTAssertTrue(reject("defaults: {load_balancing: random}\n" + nodes + "links: []\n").contains("defaults.load_balancing: expected one of ecmp, flowlet, spray"))
        XCTAssertTrue(reject(nodes + "links:\n  - endpoints: [h1:eth0, s1:averyveryverylongname]\n").contains("must be 1-15 letters"))
        XCTAssertEqual(reject(nodes + "links:\n  - endpoints: [h1:eth0, s1:p1]\n"), "accepted")
    }
}
