import FabricLab
import Foundation
import XCTest

/// A lab split over two machines, as containerlab splits one: two "machine" namespaces joined
/// by an underlay veth (192.0.2.1/24 and .2), each running `fabric testbed up --underlay-netns`
/// with its own half of the lab (a host on a SwiftFabric bridge) and a `type: vxlan` link
/// towards the other machine. The hosts ping each other across the tunnel, and the largest
/// frame that fits the tunnel (underlay 1500 less 50 bytes of VXLAN over IPv4) passes with DF
/// while one byte more is refused.
final class VXLANIntegrationTests: LabTestCase {
    static func half(host: String, firstHost: Int, remote: String, vxlanMTU: String = "") -> String {
        """
        name: \(host)
        topology:
          defaults: {labels: {swiftfabric.mtu: 1450, swiftfabric.first_host: \(firstHost)}}
          nodes:
            br1: {kind: bridge}
            \(host): {kind: linux}
          links:
            - endpoints: ["\(host):eth1", "br1:eth1"]
            - type: vxlan
              endpoint: {node: br1, interface: vx1}
              remote: \(remote)
              vni: 100
              dst-port: 4789\(vxlanMTU)
        """
    }

    /// The two machines and the underlay between them: 192.0.2.1/24 in m1, .2 in m2, MTU 1500.
    static func machines(_ m1: String, _ m2: String) throws {
        for m in [m1, m2] {
            try Shell.run(["ip", "netns", "add", m])
            try Shell.run(["ip", "-n", m, "link", "set", "lo", "up"])
        }
        try Shell.run(["ip", "-n", m1, "link", "add", "ul0", "mtu", "1500", "type", "veth", "peer", "name", "ul0", "netns", m2])
        for (m, a) in [(m1, "192.0.2.1/24"), (m2, "192.0.2.2/24")] {
            try Shell.run(["ip", "-n", m, "addr", "add", a, "dev", "ul0"])
            try Shell.run(["ip", "-n", m, "link", "set", "ul0", "up"])
        }
    }

    func testTwoMachinesHalvesPingAcrossAVXLANLink() throws {
        let id = String(UUID().uuidString.prefix(4)).lowercased()
        let (m1, m2) = ("vx\(id)m1", "vx\(id)m2")
        let (pa, pb) = ("va\(id)", "vb\(id)")
        let dir = NSTemporaryDirectory()
        let (fa, fb) = (dir + "\(pa).clab.yml", dir + "\(pb).clab.yml")
        try Self.half(host: "h1", firstHost: 1, remote: "192.0.2.2").write(toFile: fa, atomically: true, encoding: .utf8)
        try Self.half(host: "h2", firstHost: 2, remote: "192.0.2.1").write(toFile: fb, atomically: true, encoding: .utf8)
        addTeardownBlock {
            for (prefix, file, machine) in [(pa, fa, m1), (pb, fb, m2)] {
                // Stops the bridge `up` left running, removes the bed's namespaces (with the VXLAN device in them).
                let tb = TopologyTestbed.recorded(prefix: prefix) ?? (try? Topology.load(file: file)).map { TopologyTestbed(topology: $0, prefix: prefix) }
                tb?.underlayNamespace = machine
                tb?.down()
                XCTAssertEqual(tb?.existingNamespaces() ?? [], [], "\(prefix): namespaces left behind")
                if Shell.namespaces().contains(machine) {
                    let left = (try? Shell.run(["ip", "-n", machine, "-o", "link", "show", "type", "vxlan"], check: false)) ?? ""
                    XCTAssertEqual(left, "", "\(machine): VXLAN devices left behind")
                }
                try? FileManager.default.removeItem(atPath: file)
            }
            for m in [m1, m2] { _ = try? Shell.run(["ip", "netns", "del", m], check: false) }
            let names = Shell.namespaces()
            XCTAssertTrue(names.filter { $0.contains(id) }.isEmpty, "namespaces left behind: \(names.filter { $0.contains(id) })")
            let links = (try? Shell.run(["ip", "-o", "link", "show"])) ?? ""
            XCTAssertFalse(links.contains("vx\(pa)") || links.contains("vx\(pb)"), "links left behind:\n\(links)")
        }

        try Self.machines(m1, m2)

        // A vxlan link's MTU that does not fit the underlay: refused, and nothing is left of the bed.
        let tooBig = dir + "vc\(id).clab.yml"
        try Self.half(host: "h1", firstHost: 1, remote: "192.0.2.2", vxlanMTU: "\n      mtu: 1460").write(toFile: tooBig, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(atPath: tooBig) }
        let refused = try Shell.run([fabric, "testbed", "up", "--topology", tooBig, "--prefix", "vc\(id)", "--underlay-netns", m1], check: false)
        XCTAssertTrue(refused.contains("mtu 1460 does not fit the underlay towards 192.0.2.2 (MTU 1500 less 50 bytes of VXLAN over IPv4 is 1450)"), refused)
        XCTAssertTrue(Shell.namespaces().filter { $0.hasPrefix("vc\(id)") }.isEmpty, "the refused bed left namespaces")
        XCTAssertEqual(try Shell.run(["ip", "-n", m1, "-o", "link", "show", "type", "vxlan"]), "", "the refused bed left a VXLAN device")

        // Each machine's half.
        let upA = try Shell.run([fabric, "testbed", "up", "--topology", fa, "--prefix", pa, "--underlay-netns", m1])
        let upB = try Shell.run([fabric, "testbed", "up", "--topology", fb, "--prefix", pb, "--underlay-netns", m2])
        print(upA, upB)
        XCTAssertTrue(upA.contains("a-br1: eth1 -> h1, vx1 mtu 1450 -> vxlan 192.0.2.2 vni 100".replacingOccurrences(of: "a-br1", with: "\(pa)-br1")), upA)
        XCTAssertTrue(upB.contains("vx1 mtu 1450 -> vxlan 192.0.2.1 vni 100"), upB)
        let inv = try TestbedInventory.read("/run/swiftfabric/testbed-\(pa).json")
        XCTAssertEqual(inv.nodes[0].interfaces.map(\.peer), ["h1:eth1", "vxlan 192.0.2.2 vni 100"])
        // The tunnel: in the bridge's namespace, its underlay in the machine's, 1500 - 50.
        let vx = try Shell.run(["ip", "-d", "-n", "\(pa)-br1", "link", "show", "dev", "vx1"])
        XCTAssertTrue(vx.contains("mtu 1450 "), vx)
        XCTAssertTrue(vx.contains("vxlan id 100 remote 192.0.2.2"), vx)
        XCTAssertEqual(try Shell.run(["ip", "-n", m1, "-o", "link", "show", "type", "vxlan"]), "", "the device moved out of the machine's namespace")
        let config = try String(contentsOfFile: "/run/swiftfabric/testbed-\(pa).yaml", encoding: .utf8)
        XCTAssertTrue(config.contains("mtu: 1450"), "the bridge's buffers.mtu follows the interface MTU:\n\(config)")

        // h1 (10.1.0.1, machine 1) and h2 (10.1.0.2, machine 2): one subnet across the tunnel.
        let h1 = "\(pa)-h1", h2 = "\(pb)-h2"
        let there = try Shell.run(["ip", "netns", "exec", h1, "ping", "-c", "3", "-i", "0.2", "-W", "2", "10.1.0.2"], check: false)
        XCTAssertEqual(pingReplies(there), 3, there)
        let back = try Shell.run(["ip", "netns", "exec", h2, "ping", "-c", "3", "-i", "0.2", "-W", "2", "10.1.0.1"], check: false)
        XCTAssertEqual(pingReplies(back), 3, back)
        // The largest echo that fits: 1450 - 20 (IPv4) - 8 (ICMP) = 1422 bytes of data, with DF.
        let fits = try Shell.run(["ip", "netns", "exec", h1, "ping", "-M", "do", "-s", "1422", "-c", "3", "-i", "0.2", "-W", "2", "10.1.0.2"], check: false)
        XCTAssertEqual(pingReplies(fits), 3, fits)
        let over = try Shell.run(["ip", "netns", "exec", h1, "ping", "-M", "do", "-s", "1423", "-c", "1", "-W", "2", "10.1.0.2"], check: false)
        XCTAssertEqual(pingReplies(over), 0, over)
        XCTAssertTrue(over.contains("mtu=1450") || over.contains("message too long") || over.contains("Message too long"), over)
    }

    /// A routed lab written as one file, each machine building its part (`--nodes`, `--remote`):
    /// the link between sw1 (machine 1) and sw2 (machine 2) becomes a VXLAN link with the whole
    /// lab's addresses at both ends, so h1 (10.1.1.1) and h2 (10.2.1.1), in different subnets,
    /// ping each other through both routers and the tunnel. The crossing link's MTU (1450, what
    /// fits a 1500 underlay) holds: the largest frame the port takes passes with DF, a larger one
    /// is dropped by sw1 and counted as oversize.
    func testARoutedLabSpansTwoMachines() throws {
        let id = String(UUID().uuidString.prefix(4)).lowercased()
        let (m1, m2) = ("vr\(id)m1", "vr\(id)m2")
        let (pa, pb) = ("ra\(id)", "rb\(id)")
        // h1 - sw1 | sw2 - h2, the middle link 1450 bytes.
        let file = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
            .appendingPathComponent("../../scripts/examples/two-machines.clab.yml").standardized.path
        addTeardownBlock {
            for prefix in [pa, pb] {
                let tb = TopologyTestbed.recorded(prefix: prefix)
                tb?.down()
                XCTAssertEqual(tb?.existingNamespaces() ?? [], [], "\(prefix): namespaces left behind")
            }
            for m in [m1, m2] {
                if Shell.namespaces().contains(m) {
                    let left = (try? Shell.run(["ip", "-n", m, "-o", "link", "show", "type", "vxlan"], check: false)) ?? ""
                    XCTAssertEqual(left, "", "\(m): VXLAN devices left behind")
                }
                _ = try? Shell.run(["ip", "netns", "del", m], check: false)
            }
            XCTAssertTrue(Shell.namespaces().filter { $0.contains(id) }.isEmpty, "namespaces left behind")
        }
        try Self.machines(m1, m2)

        // A host away from its switch cannot be split off.
        let refused = try Shell.run([fabric, "testbed", "up", "--topology", file, "--prefix", "rc\(id)", "--nodes", "sw1,h2",
                                     "--remote", "192.0.2.2", "--underlay-netns", m1], check: false)
        XCTAssertTrue(refused.contains("host h1's link h1:eth1 -- sw1:eth1 would cross machines"), refused)

        let upA = try Shell.run([fabric, "testbed", "up", "--topology", file, "--prefix", pa, "--nodes", "sw1,h1", "--remote", "192.0.2.2", "--underlay-netns", m1])
        let upB = try Shell.run([fabric, "testbed", "up", "--topology", file, "--prefix", pb, "--nodes", "sw2,h2", "--remote", "192.0.2.1", "--underlay-netns", m2])
        print(upA, upB)
        XCTAssertTrue(upA.contains("\(pa)-sw1: eth1 10.1.1.254/24 -> h1, eth2 10.255.1.1/24 -> sw2 over vxlan 192.0.2.2 vni 10002 mtu 1450"), upA)
        XCTAssertTrue(upB.contains("\(pb)-sw2: eth1 10.2.1.254/24 -> h2, eth2 10.255.1.2/24 -> sw1 over vxlan 192.0.2.1 vni 10002 mtu 1450"), upB)
        XCTAssertFalse(upA.contains("\(pa)-h2") || upA.contains("\(pa)-sw2"), "machine 1 builds only its nodes:\n\(upA)")
        XCTAssertEqual(Set(Shell.namespaces().filter { $0.hasPrefix(pa) }), ["\(pa)-sw1", "\(pa)-h1"])
        let inv = try TestbedInventory.read("/run/swiftfabric/testbed-\(pa).json")
        XCTAssertEqual(inv.nodes.map(\.name), ["sw1", "h1"])
        XCTAssertEqual(inv.nodes[0].interfaces.last?.addresses, ["10.255.1.1/24"], "the crossing link keeps the whole lab's address")
        let config = try String(contentsOfFile: "/run/swiftfabric/testbed-\(pa).yaml", encoding: .utf8)
        XCTAssertTrue(config.contains("10.2.1.0/24"), "sw1 routes h2's subnet:\n\(config)")

        let h1 = "\(pa)-h1"
        let there = try Shell.run(["ip", "netns", "exec", h1, "ping", "-c", "3", "-i", "0.2", "-W", "2", "10.2.1.1"], check: false)
        XCTAssertEqual(pingReplies(there), 3, there)
        let back = try Shell.run(["ip", "netns", "exec", "\(pb)-h2", "ping", "-c", "3", "-i", "0.2", "-W", "2", "10.1.1.1"], check: false)
        XCTAssertEqual(pingReplies(back), 3, back)
        // 1450 - 20 - 8 = 1422 bytes of echo data fit; 1427 (a frame past 1450 + 14 + a VLAN tag's 4) does not.
        let fits = try Shell.run(["ip", "netns", "exec", h1, "ping", "-M", "do", "-s", "1422", "-c", "3", "-i", "0.2", "-W", "2", "10.2.1.1"], check: false)
        XCTAssertEqual(pingReplies(fits), 3, fits)
        let over = try Shell.run(["ip", "netns", "exec", h1, "ping", "-M", "do", "-s", "1427", "-c", "2", "-i", "0.2", "-W", "1", "10.2.1.1"], check: false)
        XCTAssertEqual(pingReplies(over), 0, over)
        let stats = try Shell.run([fabric, "stats", "--switch", "\(pa)-sw1"])
        XCTAssertTrue(stats.contains("eth2:oversize=2"), stats)
    }
}
