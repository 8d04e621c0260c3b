import FabricConfig
import FabricCore
import FabricLab
import Foundation
import XCTest
import Yams

/// containerlab's `type: vxlan` links (a lab split over two machines): read, refused when they
/// cannot be built, written back schema-valid, and the switch's port and MTU for them.
final class VXLANTests: XCTestCase {
    func parse(_ yaml: String) throws -> Topology {
        try Topology.parse(yaml, file: "t.clab.yml", note: { XCTFail("unexpected note: \($0)") })
    }

    func reject(_ yaml: String) -> String {
        do { _ = try Topology.parse(yaml, file: "t.clab.yml", note: { _ in }); return "accepted" } catch { return "\(error)" }
    }

    /// One machine's half: a host on a bridge whose other port is the tunnel; `link` replaces
    /// the vxlan link's lines.
    static func half(_ link: String = "{type: vxlan, endpoint: {node: br1, interface: vx1}, remote: 192.0.2.2, vni: 100, dst-port: 4789}",
                     labels: String = "{swiftfabric.first_host: 2}") -> String {
        """
        name: half
        topology:
          defaults: {labels: \(labels)}
          nodes:
            br1: {kind: bridge}
            h2: {kind: linux}
          links:
            - endpoints: ["h2:eth1", "br1:eth1"]
            - \(link)
        """
    }

    func testAVXLANLinkIsReadAndBecomesASwitchPort() throws {
        let t = try parse(Self.half())
        XCTAssertEqual(t.mode, .bridge)
        XCTAssertEqual(t.links.count, 1, "the tunnel is no veth")
        XCTAssertEqual(t.vxlanLinks, [Topology.VXLANLink(endpoint: .init(node: "br1", interface: "vx1"), remote: "192.0.2.2", vni: 100, udpPort: 4789)])
        XCTAssertEqual(t.firstHost, 2)
        let tb = TopologyTestbed(topology: t, prefix: "vx")
        XCTAssertEqual(tb.hostAddress("h2"), "10.1.0.2", "numbered after the other machine's h1")
        XCTAssertEqual(tb.hostMAC(1), "02:5f:00:00:00:02")
        let c = try ConfigLoader.parse(SwitchConfigYAML.text(tb.switchConfig("br1")))
        XCTAssertEqual(c.ports.map(\.name), ["eth1", "vx1"], "the tunnel is a port of the bridge")
        XCTAssertEqual(c.buffers.mtu, 1500)
        XCTAssertEqual(tb.inventory.nodes[0].interfaces.map(\.peer), ["h2:eth1", "vxlan 192.0.2.2 vni 100"])

        // containerlab's reader's name for the port; IPv6 underlays; the port's default.
        let u = try parse(Self.half("{type: vxlan, endpoint: {node: br1, interface: vx1, mac: \"02:00:00:00:00:04\"}, remote: \"2001:db8::2\", vni: 7, udp-port: 14789, mtu: 9000}"))
        XCTAssertEqual(u.vxlanLinks[0].udpPort, 14789)
        XCTAssertEqual(u.vxlanLinks[0].mac, "02:00:00:00:00:04")
        XCTAssertEqual(u.vxlanLinks[0].overhead, 70)
        XCTAssertEqual(u.mtu(ofSwitch: "br1"), 9000, "buffers.mtu follows the tunnel's MTU")
        XCTAssertEqual(try parse(Self.half("{type: vxlan, endpoint: {node: br1, interface: vx1}, remote: 192.0.2.2, vni: 7}")).vxlanLinks[0].udpPort, 4789)
    }

    /// VXLAN over IPv4 adds 50 bytes: a 1500 underlay carries 1450; a link's own MTU must fit.
    func testTheInterfaceMTUIsTheUnderlaysLessTheOverhead() throws {
        let l = Topology.VXLANLink(endpoint: .init(node: "br1", interface: "vx1"), remote: "192.0.2.2", vni: 1)
        XCTAssertEqual(try l.interfaceMTU(underlay: 1500), 1450)
        XCTAssertEqual(try l.interfaceMTU(underlay: 9000), 8950)
        var lower = l
        lower.mtu = 1400
        XCTAssertEqual(try lower.interfaceMTU(underlay: 1500), 1400)
        var higher = l
        higher.mtu = 1451
        XCTAssertThrowsError(try higher.interfaceMTU(underlay: 1500)) { e in
            XCTAssertEqual("\(e)", "vxlan link br1:vx1: mtu 1451 does not fit the underlay towards 192.0.2.2 (MTU 1500 less 50 bytes of VXLAN over IPv4 is 1450); give mtu 1450 or less")
        }
    }

    func testBadVXLANLinksAreRefusedWithTheReason() {
        let cases: [(String, String)] = [
            ("{type: vxlan, endpoint: {node: br1, interface: vx1}, vni: 100}", "t.clab.yml:9: topology.links[1]: missing 'remote': the other machine's underlay address (e.g. remote: 192.0.2.2)"),
            ("{type: vxlan, endpoint: {node: br1, interface: vx1}, remote: 192.0.2.2}", "missing 'vni': the VXLAN network identifier, 1...16777215, the same on both machines"),
            ("{type: vxlan, endpoint: {node: br1, interface: vx1}, remote: 192.0.2.2, vni: 0}", "vni: 0 is out of range 1...16777215"),
            ("{type: vxlan, endpoint: {node: br1, interface: vx1}, remote: machine2, vni: 1}", "remote: expected the other machine's IPv4 or IPv6 address, got 'machine2'"),
            ("{type: vxlan, remote: 192.0.2.2, vni: 1}", "a vxlan link has one endpoint, on this machine: endpoint: {node: NAME, interface: NAME}"),
            ("{type: vxlan, endpoint: \"br1:vx1\", remote: 192.0.2.2, vni: 1}", "endpoint: expected a mapping with keys node, interface, mac, ipv4, ipv6, vars"),
            ("{type: vxlan, endpoint: {node: br1}, remote: 192.0.2.2, vni: 1}", "endpoint: expected {node: NAME, interface: NAME}"),
            ("{type: vxlan, endpoint: {node: br9, interface: vx1}, remote: 192.0.2.2, vni: 1}", "endpoint.node: no node named 'br9'"),
            ("{type: vxlan, endpoint: {node: h2, interface: vx1}, remote: 192.0.2.2, vni: 1}", "h2 is a host, which has exactly one link, to a switch; a vxlan link ends on a switch or bridge node"),
            ("{type: vxlan, endpoint: {node: br1, interface: eth1}, remote: 192.0.2.2, vni: 1}", "endpoint br1:eth1 used twice"),
            ("{type: vxlan, endpoint: {node: br1, interface: vx1, mac: zz}, remote: 192.0.2.2, vni: 1}", "mac: expected a MAC like 02:00:00:00:00:01, got 'zz'"),
            ("{type: vxlan, endpoint: {node: br1, interface: vx1}, remote: 192.0.2.2, vni: 1, dst-port: 4789, udp-port: 4789}", "give the UDP port once"),
            ("{type: vxlan, endpoint: {node: br1, interface: vx1}, remote: 192.0.2.2, vni: 1, vlan: 3}", "unknown key 'vlan'"),
            ("{type: vxlan-stitch, endpoint: {node: br1, interface: vx1}, remote: 192.0.2.2, vni: 1}", "or, to a node on another machine, type: vxlan"),
        ]
        for (link, expected) in cases {
            let e = reject(Self.half(link))
            XCTAssertTrue(e.contains(expected), "\(link):\n  \(e)")
        }
        // A routed bed has no addresses for a link whose far end is another bed's.
        let routed = reject(Self.half(labels: "{swiftfabric.mode: router}").replacingOccurrences(of: "br1: {kind: bridge}", with: "br1: {kind: nokia_srlinux}"))
        XCTAssertTrue(routed.contains("a vxlan link joins the L2 domains of two machines' halves of a lab: it needs an L2 bed"), routed)
        XCTAssertEqual(reject(Self.half(labels: "{swiftfabric.first_host: 254}")), "accepted", "one host at 254 fits")
        XCTAssertTrue(reject(Self.half(labels: "{swiftfabric.first_host: 255}")).contains("255 is out of range 1...254"))
    }

    /// The recorded form reads back equal and passes containerlab's schema (python3-jsonschema).
    func testVXLANFilesRoundTripAndAreSchemaValid() throws {
        let t = try parse(Self.half("{type: vxlan, endpoint: {node: br1, interface: vx1, mac: \"02:00:00:00:00:04\"}, remote: 192.0.2.2, vni: 100, dst-port: 4789, mtu: 1400}"))
        XCTAssertEqual(try parse(t.yaml), t, t.yaml)
        XCTAssertTrue(t.yaml.contains("swiftfabric.first_host: 2"), t.yaml)
        var json: [String: Any] = [:]
        for (label, yaml) in ["written": t.yaml, "file": Self.half(), "udp-port-free file": Self.half("{type: vxlan, endpoint: {node: br1, interface: vx1}, remote: \"2001:db8::2\", vni: 7, dst-port: 4789}")] {
            json[label] = try XCTUnwrap(try Yams.load(yaml: yaml), label)
        }
        try ContainerlabTests.assertSchemaValid(json)
    }

    // MARK: - One machine's part of a lab written as one file

    /// scripts/examples/two-machines.clab.yml: h1 - sw1 | sw2 - h2, the middle link 1450 bytes.
    static let wholeLab = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .appendingPathComponent("../../scripts/examples/two-machines.clab.yml").standardized.path

    func testAPartKeepsItsNodesAndTunnelsTheCrossingLinksWithTheWholeLabsAddresses() throws {
        let whole = try Topology.load(file: Self.wholeLab, note: { XCTFail("unexpected note: \($0)") })
        let tb = try TopologyTestbed(whole: whole, split: .init(nodes: ["sw1", "h1"], remote: "192.0.2.2", vniBase: 500, udpPort: 8472), prefix: "p")
        XCTAssertEqual(tb.topology.nodes.map(\.name), ["sw1", "h1"])
        XCTAssertEqual(tb.topology.links.count, 1)
        XCTAssertEqual(tb.topology.vxlanLinks, [Topology.VXLANLink(endpoint: .init(node: "sw1", interface: "eth2"), remote: "192.0.2.2",
                                                                   vni: 502, udpPort: 8472, mtu: 1450)])
        XCTAssertNoThrow(try tb.validate())
        // sw1's configuration is the whole lab's: the crossing port once, addressed, h2's subnet routed over it.
        let c = tb.switchConfig("sw1")
        XCTAssertEqual(c.ports.map(\.name), ["eth1", "eth2"])
        XCTAssertEqual(c.ports[1].addresses.map(\.description), ["10.255.1.1/24"])
        XCTAssertEqual(c.routes.map(\.prefix.description), ["10.2.1.0/24"])
        XCTAssertEqual(c.buffers.mtu, 1500)
        XCTAssertEqual(c, TopologyTestbed(topology: whole, prefix: "p").switchConfig("sw1"), "the same as on one machine")
        XCTAssertEqual(tb.inventory.nodes.map(\.name), ["sw1", "h1"])
    }

    func testAPartThatCannotBeIsRefused() throws {
        let whole = try Topology.load(file: Self.wholeLab, note: { _ in })
        func refusal(_ nodes: [String], remote: String = "192.0.2.2") -> String {
            do { _ = try whole.part(.init(nodes: nodes, remote: remote)); return "accepted" } catch { return "\(error)" }
        }
        // The first crossing link in the file's order names its host.
        XCTAssertEqual(refusal(["sw1", "h2"]), "--nodes: host h1's link h1:eth1 -- sw1:eth1 would cross machines: a host goes on its switch's machine")
        XCTAssertEqual(refusal(["sw1", "h1", "h2"]), "--nodes: host h2's link sw2:eth1 -- h2:eth1 would cross machines: a host goes on its switch's machine")
        XCTAssertEqual(refusal(["sw1", "h1", "spine"]), "--nodes: the topology has no node 'spine'; its nodes: sw1,sw2,h1,h2")
        XCTAssertEqual(refusal(["sw1", "h1"], remote: "machine2"), "--remote: expected the other machine's IPv4 or IPv6 address, got 'machine2'")
    }
}
