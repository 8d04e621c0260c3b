import FabricLab
import Foundation
import XCTest

/// containerlab's own `lab-examples/clos01/clos01.clab.yml`, unchanged (the copy in
/// FabricLabTests/Fixtures/containerlab), through the CLI: `fabric testbed up --topology` makes
/// it a routed bed of 3 SwiftFabric switches and 2 hosts, writes the inventory, and the hosts
/// ping each other leaf -> spine -> leaf.
final class ContainerlabIntegrationTests: LabTestCase {
    static let clos01 = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .appendingPathComponent("../FabricLabTests/Fixtures/containerlab/clos01.clab.yml").standardized.path

    func testClos01ComesUpRoutedAndItsHostsPingEachOther() throws {
        let prefix = "it" + String(UUID().uuidString.prefix(5)).lowercased()
        let topology = try Topology.load(file: Self.clos01)
        addTeardownBlock {
            // Stops the switches `up` left running (by their recorded pids) and removes everything.
            let tb = TopologyTestbed(topology: topology, prefix: prefix)
            tb.down()
            XCTAssertEqual(tb.existingNamespaces(), [], "test bed namespaces left behind")
            XCTAssertFalse(FileManager.default.fileExists(atPath: tb.inventoryPath), "inventory left behind")
        }
        let up = try Shell.run([fabric, "testbed", "up", "--topology", Self.clos01, "--prefix", prefix])
        print(up)
        XCTAssertTrue(up.contains("(routed): 3 switches, 2 hosts, 4 links"), up)

        let inv = try TestbedInventory.read("/run/swiftfabric/testbed-\(prefix).json")
        XCTAssertEqual(inv.name, prefix)
        XCTAssertEqual(inv.nodes.map(\.name), ["leaf1", "leaf2", "spine", "client1", "client2"])
        XCTAssertEqual(inv.nodes.map(\.role), [.switch, .switch, .switch, .host, .host])
        XCTAssertEqual(inv.nodes.map(\.kind), ["nokia_srlinux", "nokia_srlinux", "nokia_srlinux", "linux", "linux"])
        XCTAssertEqual(inv.nodes.map(\.namespace), inv.nodes.map { "\(prefix)-\($0.name)" })
        let client1 = inv.nodes[3], client2 = inv.nodes[4]
        XCTAssertEqual(client1.interfaces.map(\.name), ["eth1"], "the file's interface names")
        XCTAssertEqual(client1.interfaces.map(\.peer), ["leaf1:e1-2"])
        XCTAssertEqual(inv.nodes[2].interfaces.map(\.name), ["e1-1", "e1-2"])
        // The interfaces exist under those names, in the namespaces the inventory gives.
        for n in inv.nodes {
            for i in n.interfaces {
                XCTAssertNoThrow(try Shell.run(["ip", "-n", n.namespace, "link", "show", "dev", i.name]), "\(n.name):\(i.name)")
            }
        }
        let a2 = try XCTUnwrap(client2.interfaces.first?.addresses.first?.split(separator: "/").first.map(String.init))
        let a1 = try XCTUnwrap(client1.interfaces.first?.addresses.first?.split(separator: "/").first.map(String.init))
        XCTAssertNotEqual(a1.split(separator: ".")[1], a2.split(separator: ".")[1], "the clients are in subnets of different leaves")

        // Routed across the fabric, both ways (the first echo also resolves the neighbours).
        let there = try Shell.run(["ip", "netns", "exec", client1.namespace, "ping", "-c", "3", "-i", "0.2", "-W", "2", a2], check: false)
        XCTAssertEqual(pingReplies(there), 3, there)
        let back = try Shell.run(["ip", "netns", "exec", client2.namespace, "ping", "-c", "3", "-i", "0.2", "-W", "2", a1], check: false)
        XCTAssertEqual(pingReplies(back), 3, back)
        let ttl = there.split(separator: "\n").first { $0.contains("ttl=") } ?? ""
        XCTAssertTrue(ttl.contains("ttl=61"), "three routers on the way (leaf1, spine, leaf2): \(ttl)")
    }

    /// A containerlab `bridge` node becomes a SwiftFabric learning bridge: the file makes an L2
    /// bed, and two hosts on either side of a bridge and a switch ping each other in one subnet.
    func testABridgeNodeMakesAnL2BedWhoseHostsPing() throws {
        let prefix = "it" + String(UUID().uuidString.prefix(5)).lowercased()
        let file = NSTemporaryDirectory() + "\(prefix).clab.yml"
        try """
            name: br
            topology:
              nodes:
                br1: {kind: bridge}
                srl1: {kind: nokia_srlinux}
                h1: {kind: linux}
                h2: {kind: linux}
              links:
                - endpoints: ["h1:eth1", "br1:eth1"]
                - endpoints: ["br1:eth2", "srl1:e1-1"]
                - endpoints: ["srl1:e1-2", "h2:eth1"]
            """.write(toFile: file, atomically: true, encoding: .utf8)
        let topology = try Topology.load(file: file)
        addTeardownBlock {
            let tb = TopologyTestbed(topology: topology, prefix: prefix)
            tb.down()
            XCTAssertEqual(tb.existingNamespaces(), [], "test bed namespaces left behind")
            try? FileManager.default.removeItem(atPath: file)
        }
        let up = try Shell.run([fabric, "testbed", "up", "--topology", file, "--prefix", prefix])
        XCTAssertTrue(up.contains("(bridged): 2 switches, 2 hosts, 3 links"), up)
        let inv = try TestbedInventory.read("/run/swiftfabric/testbed-\(prefix).json")
        XCTAssertEqual(inv.nodes.map(\.role), [.bridge, .switch, .host, .host])
        XCTAssertEqual(inv.nodes[3].interfaces.first?.addresses, ["10.1.0.2/24"], "one subnet")
        let r = try Shell.run(["ip", "netns", "exec", inv.nodes[2].namespace, "ping", "-c", "3", "-i", "0.2", "-W", "2", "10.1.0.2"], check: false)
        XCTAssertEqual(pingReplies(r), 3, r)
    }
}
