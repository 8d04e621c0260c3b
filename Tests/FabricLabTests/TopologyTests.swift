import FabricConfig
import FabricCore
import FabricLab
import Foundation
import XCTest

/// Topology files and what a topology test bed generates from them (no root needed).
final class TopologyTests: XCTestCase {
    static let shipped = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .appendingPathComponent("../../scripts/leaf-spine.clab.yml").standardized.path

    func testTheShippedFileIsTheBuiltInLeafSpine() throws {
        let file = try Topology.load(file: Self.shipped)
        let builtIn = Topology.leafSpine()
        XCTAssertEqual(file.nodes.map(\.name), builtIn.nodes.map(\.name), "in the file's order")
        XCTAssertEqual(file.switches.sorted(), ["leaf1", "leaf2", "spine1", "spine2"])
        XCTAssertEqual(file.hosts.count, 8)
        XCTAssertEqual(Set(file.links.map { "\($0.a)-\($0.b)" }), Set(builtIn.links.map { "\($0.a)-\($0.b)" }))
        XCTAssertEqual(file.uplinkGbps, 1)
        XCTAssertEqual(file.flowletIdleNanoseconds, 2_000_000)
        XCTAssertEqual(file.mode, .router)
    }

    /// What `fabric testbed up` records is what `fabric testbed down` reads back.
    func testTopologiesSurviveARoundTripThroughTheirYAML() throws {
        var t = Topology.leafSpine(uplinkGbps: 0.2)
        t.links[1].gbps = 0.1
        t.loadBalancing = .flowlet
        t.hostGbps = 2.5
        for topology in [t, .star(hosts: 3, routed: true), .star(hosts: 2, routed: false)] {
            XCTAssertEqual(try Topology.parse(topology.yaml, file: "recorded.yaml"), topology, topology.yaml)
        }
    }

    func testGeneratedSwitchConfigsAreValidAndRouteOverEveryShortestPath() throws {
        let tb = TopologyTestbed(topology: .leafSpine(), prefix: "tt")
        for s in tb.topology.switches {
            let text = SwitchConfigYAML.text(tb.switchConfig(s, mode: .flowlet))
            let c = try ConfigLoader.parse(text, file: "\(s).yaml")
            XCTAssertEqual(c, tb.switchConfig(s, mode: .flowlet), "written and read back")
            XCTAssertEqual(c.name, "tt-\(s)")
            XCTAssertEqual(c.loadBalancing.mode, .flowlet)
            XCTAssertEqual(c.loadBalancing.flowletIdleNanoseconds, 2_000_000)
            if s.hasPrefix("leaf") {
                XCTAssertEqual(c.ports.count, 6, "4 hosts + 2 uplinks")
                XCTAssertEqual(c.ports.filter { $0.speedGbps == 1 }.map(\.name), ["s1", "s2"], "the uplinks at 1G")
                XCTAssertEqual(c.routes.count, 4, "the other leaf's 4 host subnets")
                XCTAssertTrue(c.routes.allSatisfy { $0.nextHops.count == 2 }, "ECMP over both spines")
            } else {
                XCTAssertEqual(c.ports.count, 2)
                XCTAssertEqual(c.routes.count, 8, "every host subnet")
                XCTAssertTrue(c.routes.allSatisfy { $0.nextHops.count == 1 }, "one way down to each leaf")
            }
        }
        let leaf1 = tb.switchConfig("leaf1")
        XCTAssertEqual(leaf1.routes[0].prefix.description, "10.2.1.0/24")
        XCTAssertEqual(leaf1.routes[0].nextHops.map(\.description), ["10.255.1.2", "10.255.2.2"], "spine1's and spine2's ends of leaf1's uplinks")
        XCTAssertEqual(tb.hostAddress("h1"), "10.1.1.1")
        XCTAssertEqual(tb.gatewayAddress("h1"), "10.1.1.254")
        XCTAssertEqual(tb.hostAddress("h5"), "10.2.1.1")
        XCTAssertEqual(tb.hostAddress(6), "10.2.2.1", "host 6 in topology order")
        XCTAssertEqual(tb.hostMAC(6), "02:5f:00:00:00:06")
        XCTAssertEqual(tb.configPath("leaf1"), "/run/swiftfabric/tt/leaf1.yaml")
    }

    /// The lab's reconvergence after leaf1's uplink to spine1 dies (what `fabric balance
    /// --fail leaf1:s1@T` applies): leaf1 and leaf2 route each other's hosts over spine2 only;
    /// spine1, whose way to leaf1 got longer, withdraws leaf1's subnets (valley-free: no detour
    /// down through leaf2, which loops while the switches converge one by one); ports unchanged.
    func testRoutesWithoutAFailedLinkAreValleyFree() throws {
        let tb = TopologyTestbed(topology: .leafSpine(), prefix: "tt")
        let e = try tb.endpoint("leaf1:s1")
        let dead = tb.topology.links.filter { $0.a == e || $0.b == e }
        XCTAssertEqual(dead.count, 1)
        func converged(_ s: String) -> SwitchConfig { tb.plan.switchConfig(s, name: tb.namespace(s), without: dead) }
        for s in ["leaf1", "leaf2"] {
            let c = converged(s)
            XCTAssertEqual(c.ports, tb.switchConfig(s).ports, "\(s): the ports stay (config apply refuses port changes)")
            XCTAssertEqual(c.routes.count, 4)
            XCTAssertTrue(c.routes.allSatisfy { $0.nextHops.count == 1 }, "\(s): spine2 only")
        }
        XCTAssertEqual(converged("leaf1").routes[0].nextHops.map(\.description), ["10.255.2.2"], "leaf1 -> spine2")
        let spine1 = converged("spine1")
        XCTAssertEqual(spine1.routes.map(\.prefix.description), ["10.2.1.0/24", "10.2.2.0/24", "10.2.3.0/24", "10.2.4.0/24"],
                       "spine1 keeps leaf2's subnets and withdraws leaf1's")
        XCTAssertEqual(converged("spine2").routes, tb.switchConfig("spine2").routes, "spine2 is untouched")
        for s in tb.topology.switches { XCTAssertNoThrow(try ConfigLoader.parse(SwitchConfigYAML.text(converged(s)))) }
        XCTAssertThrowsError(try tb.endpoint("leaf1:s9"))
    }

    /// A dual-stack topology routes IPv6 over the switch-to-switch links too.
    func testIPv6RoutesBetweenSwitches() throws {
        var t = Topology.leafSpine(spines: 1, leaves: 2, hostsPerLeaf: 1)
        t.ipv6 = true
        let tb = TopologyTestbed(topology: t, prefix: "v6")
        XCTAssertEqual(tb.hostAddress6(2), "fd77:101::1", "leaf 2's first host")
        let leaf1 = try ConfigLoader.parse(SwitchConfigYAML.text(tb.switchConfig("leaf1")))
        XCTAssertEqual(leaf1.routes.map(\.prefix.description), ["10.2.1.0/24", "fd77:101::/64"])
        XCTAssertEqual(leaf1.routes.map { $0.nextHops.map(\.description) }, [["10.255.1.2"], ["fd77:0:1::2"]])
    }

    func testBadTopologiesAreRefusedWithFileLineAndKey() {
        func reject(_ yaml: String) -> String {
            do { _ = try Topology.parse(yaml, file: "t.yaml"); return "accepted" } catch { return "\(error)" }
        }
        let nodes = "nodes:\n  s1: {kind: switch}\n  h1: {kind: host}\n"
        let link = "links:\n  - endpoints: [h1:eth0, s1:p1]\n"
        XCTAssertEqual(reject(nodes + link), "accepted")
        XCTAssertTrue(reject("nodes: [\n").hasPrefix("t.yaml:2: not valid YAML"), reject("nodes: [\n"))
        XCTAssertEqual(reject(nodes + "links:\n  - endpoints: [h1:eth0, s2:p1]\n"), "t.yaml:5: links[0]: no node named 's2'")
        XCTAssertEqual(reject(nodes + "links:\n  - endpoints: [h1:eth0]\n"), "t.yaml:5: links[0]: expected {endpoints: [node:interface, node:interface]}")
        XCTAssertEqual(reject(nodes + "links:\n  - endpoints: [h1, s1:p1]\n"), "t.yaml:5: links[0].endpoints[0]: endpoint 'h1' is not node:interface")
        XCTAssertEqual(reject(nodes + "links: []\n"), "t.yaml:2: nodes.s1: switch s1 has no links")
        XCTAssertEqual(reject(nodes + "  h2: {kind: host}\nlinks:\n  - endpoints: [h2:eth0, s1:p2]\n"),
                       "t.yaml:3: nodes.h1: host h1 has 0 links; a host has exactly one, to a switch")
        XCTAssertEqual(reject("nodes:\n  s1: {kind: router}\nlinks: []\n"), "t.yaml:2: nodes.s1.kind: expected one of switch, host, got 'router'")
        XCTAssertEqual(reject("nodes:\n  s1: {kind: switch}\n  s1: {kind: host}\nlinks: []\n"), "t.yaml:2: key 's1' given twice")
        XCTAssertEqual(reject(nodes + link + "    speed: fast\n"), "t.yaml:6: links[0].speed: expected a line rate like 10G or 800M, got 'fast'")
        XCTAssertEqual(reject(nodes + link + "    colour: red\n"), "t.yaml:6: links[0].colour: unknown key 'colour' (expected one of: endpoints, speed, delay, loss, loss_seed)")
        XCTAssertEqual(reject(nodes + link + "  - endpoints: [s1:p1, h1:eth1]\n"), "t.yaml:6: links[1]: endpoint s1:p1 used twice")
        XCTAssertEqual(reject("defaults: {load_balancing: random}\n" + nodes + link), "t.yaml:1: defaults.load_balancing: expected one of ecmp, flowlet, spray, got 'random'")
        XCTAssertEqual(reject("defaults: {uplink_speed: 1e-15G}\n" + nodes + link), "t.yaml:1: defaults.uplink_speed: '1e-15G' is below the slowest line rate, 1M")
        XCTAssertEqual(reject("defaults: {flowlet_idle: 2h}\n" + nodes + link), "t.yaml:1: defaults.flowlet_idle: expected a duration of 1us...1s like 256us, got '2h'")
        XCTAssertEqual(reject("defaults: {host_subnets: 192.168.0.0/16}\n" + nodes + link), "t.yaml:1: defaults.host_subnets: expected a /16 in 10.0.0.0/8 like 10.1.0.0/16, got '192.168.0.0/16'")
        XCTAssertEqual(reject("defaults: {mode: bridge, ipv6: true}\n" + nodes + link), "t.yaml:1: defaults.ipv6: IPv6 hosts need mode router")
        XCTAssertTrue(reject(nodes + "links:\n  - endpoints: [h1:eth0, s1:averyveryverylongname]\n").contains("links[0]: interface 'averyveryverylongname' must be 1-15 letters"))
        XCTAssertEqual(reject("nodes:\n  h1: {kind: host}\nlinks: []\n"), "t.yaml:1: no node of kind switch")
    }

    /// A test bed of a topology that does not validate is refused by `up`, not a crash.
    func testAnInvalidTopologyIsRefusedByTheTestbedNotACrash() {
        var t = Topology.star(hosts: 2, routed: true)
        t.links.removeLast()
        t.hostSubnetOctet = 300
        let tb = TopologyTestbed(topology: t, prefix: "bad")
        XCTAssertEqual(tb.plan.hosts[1].addresses, [], "h2 has no link: no address")
        XCTAssertThrowsError(try tb.up()) { XCTAssertEqual("\($0)", "nodes.h2: host h2 has 0 links; a host has exactly one, to a switch") }
    }

    /// Learning bridges flood, so a bridged topology must be loop-free; a leaf-spine is not.
    func testBridgedTopologiesMustBeLoopFree() throws {
        var loop = Topology.leafSpine()
        loop.mode = .bridge
        XCTAssertThrowsError(try loop.validate()) { XCTAssertEqual("\($0)", "links[3]: leaf2:s2 -- spine2:l2 closes a loop of bridges: an L2 bed (mode bridge) runs no spanning tree, "
                                                                + "so its switches must be linked as a tree; a routed bed (mode router) takes any topology") }
        var tree = Topology.leafSpine(spines: 1)
        tree.mode = .bridge
        XCTAssertNoThrow(try tree.validate())
        let tb = TopologyTestbed(topology: tree, prefix: "br")
        XCTAssertEqual(tb.hostAddress(5), "10.1.0.5", "one subnet")
        let c = tb.switchConfig("leaf2")
        XCTAssertEqual(c.mode, .bridge)
        XCTAssertTrue(c.ports.allSatisfy { $0.addresses.isEmpty }, "no addresses on bridge ports")
        XCTAssertEqual(c.routes, [])
    }

    /// `fabric traffic` names hosts as the topology does; h<i> is the i-th host only where no
    /// host is itself called h<number>.
    func testHostsAreFoundByTheirTopologyNames() throws {
        let star = TopologyTestbed.star(prefix: "hn", hosts: 4)
        XCTAssertEqual(try star.hostNumber("h3"), 3)
        XCTAssertThrowsError(try star.hostNumber("h5")) { XCTAssertEqual("\($0)", "test bed 'hn' has no host 'h5'; its hosts: h1...h4") }
        XCTAssertEqual(try TopologyTestbed(topology: .leafSpine(), prefix: "hn").hostNumber("h6"), 6)

        let named = try Topology.parse("""
            nodes:
              leaf1: {kind: switch}
              gpu-b: {kind: host}
              gpu-a: {kind: host}
            links:
              - endpoints: [gpu-a:eth0, leaf1:ga]
              - endpoints: [gpu-b:eth0, leaf1:gb]
            """)
        let tb = TopologyTestbed(topology: named, prefix: "hn")
        XCTAssertEqual(try tb.hostNumber("gpu-a"), 2, "file order")
        XCTAssertEqual(tb.hostName(2), "gpu-a")
        XCTAssertEqual(try tb.hostNumber("h1"), 1, "h<i>: the i-th host")
        XCTAssertThrowsError(try tb.hostNumber("leaf1")) { XCTAssertEqual("\($0)", "test bed 'hn' has no host 'leaf1'; its hosts: gpu-b, gpu-a") }
        XCTAssertThrowsError(try tb.hostNumber("h3"))

        let reordered = TopologyTestbed(topology: try Topology.parse(
            named.yaml.replacingOccurrences(of: "gpu-b", with: "h2").replacingOccurrences(of: "gpu-a", with: "h7")), prefix: "hn")
        XCTAssertEqual(try reordered.hostNumber("h2"), 1, "the node called h2, first in the file")
        XCTAssertThrowsError(try reordered.hostNumber("h1"), "not the first host: its hosts are called h<number>")
    }

    /// A link's `delay` and `loss` land on its switch ports (both of a switch-to-switch link,
    /// the second drawing from seed + 1), survive the YAML round trip, and a delay the link's
    /// speed cannot hold is refused with file, line and key.
    func testLinkDelayAndLossGoToTheSwitchPorts() throws {
        let yaml = """
        defaults: {uplink_speed: 10G}
        nodes:
          s1: {kind: switch}
          s2: {kind: switch}
          h1: {kind: host}
        links:
          - {endpoints: [h1:eth0, s1:h1], delay: 2ms, loss: 0.5%, loss_seed: 11}
          - {endpoints: [s1:up, s2:down], delay: 100us}
        """
        let t = try Topology.parse(yaml, file: "t.yaml")
        XCTAssertEqual(t.links[0].delayNanoseconds, 2_000_000)
        XCTAssertEqual(t.links[0].lossPercent, 0.5)
        XCTAssertEqual(try Topology.parse(t.yaml), t, "round trip")
        let plan = AddressPlan(t)
        let s1 = plan.switchConfig("s1", name: "s1"), s2 = plan.switchConfig("s2", name: "s2")
        XCTAssertEqual(s1.ports.map(\.name), ["h1", "up"])
        XCTAssertEqual(s1.ports.map(\.delayNanoseconds), [2_000_000, 100_000])
        XCTAssertEqual(s1.ports[0].lossPercent, 0.5)
        XCTAssertEqual(s1.ports[0].lossSeed, 11)
        XCTAssertEqual(s2.ports[0].delayNanoseconds, 100_000, "both ends of a switch-to-switch link")
        XCTAssertEqual(s1.ports[1].speedGbps, 10)
        XCTAssertEqual(try ConfigLoader.parse(SwitchConfigYAML.text(s1)), s1, "the switch reads what the plan wrote")

        let nodes = "defaults: {uplink_speed: 100G}\nnodes:\n  s1: {kind: switch}\n  s2: {kind: switch}\nlinks:\n"
        func reject(_ y: String) -> String {
            do { _ = try Topology.parse(y, file: "t.yaml"); return "accepted" } catch { return "\(error)" }
        }
        XCTAssertEqual(reject(nodes + "  - {endpoints: [s1:a, s2:a], delay: 1ms}\n"),
                       "t.yaml:6: links[0].delay: delay 1ms at 100G puts up to 148810 minimum-size frames on the wire; a port's delay line holds 65536 (at most 440us at this speed)")
        XCTAssertEqual(reject(nodes + "  - {endpoints: [s1:a, s2:a], loss: 5}\n"), "t.yaml:6: links[0].loss: expected a percentage like 0.1% or 5%, got '5'")
        var bad = Topology.star(hosts: 1, routed: true)
        bad.links[0].lossPercent = 200
        XCTAssertThrowsError(try bad.validate())
    }
}

/// What a test bed's senders time the switch's PFC quanta at: their link's emulated speed, or
/// nothing for a port without one (the sender's default).
final class HostLinkSpeedTests: XCTestCase {
    func testEmulatedSpeedOrTheSwitchDefault() {
        XCTAssertNil(TopologyTestbed.star(hosts: 2).hostLinkGbps(1), "no emulated speed: the sender's own default")
        var t = Topology.star(hosts: 2, routed: true)
        t.hostGbps = 0.5
        t.links[1].gbps = 25
        let tb = TopologyTestbed(topology: t, prefix: "x")
        XCTAssertEqual(tb.hostLinkGbps(1), 0.5)
        XCTAssertEqual(tb.hostLinkGbps(2), 25)
    }
}
