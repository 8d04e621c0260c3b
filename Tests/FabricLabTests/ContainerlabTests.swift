import FabricConfig
import FabricCore
import FabricLab
import Foundation
import XCTest
import Yams

/// containerlab files as topologies: containerlab's own lab examples unchanged (copies in
/// Fixtures/containerlab, with its schema and LICENSE), kinds to roles, inheritance, SwiftFabric's
/// settings in labels and link vars, and every file the project writes or ships checked against
/// containerlab's JSON schema.
final class ContainerlabTests: XCTestCase {
    static let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures/containerlab")
    static func fixture(_ name: String) -> String { fixtures.appendingPathComponent(name).path }
    static let shipped = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .appendingPathComponent("../../scripts/leaf-spine.clab.yml").standardized.path

    func parse(_ yaml: String, switchKinds: Set<String>? = nil) throws -> Topology {
        try Topology.parse(yaml, file: "t.clab.yml", switchKinds: switchKinds, note: { XCTFail("unexpected note: \($0)") })
    }

    func reject(_ yaml: String, switchKinds: Set<String>? = nil) -> String {
        do { _ = try Topology.parse(yaml, file: "t.clab.yml", switchKinds: switchKinds, note: { _ in }); return "accepted" } catch { return "\(error)" }
    }

    // MARK: - containerlab's own examples

    func testClos01IsARoutedBedOfThreeSwitchesAndTwoHosts() throws {
        let t = try Topology.load(file: Self.fixture("clos01.clab.yml"), note: { XCTFail("unexpected note: \($0)") })
        XCTAssertEqual(t.mode, .router)
        XCTAssertEqual(t.switches, ["leaf1", "leaf2", "spine"])
        XCTAssertEqual(t.hosts, ["client1", "client2"])
        XCTAssertEqual(t.nodes.map(\.labKind), ["nokia_srlinux", "nokia_srlinux", "nokia_srlinux", "linux", "linux"])
        XCTAssertEqual(t.links.map { "\($0.a)-\($0.b)" }, ["leaf1:e1-1-spine:e1-1", "leaf2:e1-1-spine:e1-2", "client1:eth1-leaf1:e1-2", "client2:eth1-leaf2:e1-2"],
                       "interfaces keep the file's names")
        let tb = TopologyTestbed(topology: t, prefix: "c1")
        XCTAssertEqual(tb.hostAddress("client1"), "10.1.1.1")
        XCTAssertEqual(tb.hostAddress("client2"), "10.2.1.1")
        XCTAssertEqual(tb.hostInterface(1), "eth1")
        let leaf1 = try ConfigLoader.parse(SwitchConfigYAML.text(tb.switchConfig("leaf1")))
        XCTAssertEqual(leaf1.ports.map(\.name), ["e1-2", "e1-1"], "the host port, then the uplink")
        XCTAssertEqual(leaf1.routes.map(\.prefix.description), ["10.2.1.0/24"])
        XCTAssertEqual(leaf1.routes[0].nextHops.map(\.description), ["10.255.1.2"], "via the spine's end of leaf1's uplink")
        XCTAssertEqual(tb.switchConfig("spine").routes.map(\.prefix.description), ["10.1.1.0/24", "10.2.1.0/24"])

        let inv = tb.inventory
        XCTAssertEqual(inv.name, "c1")
        XCTAssertEqual(inv.nodes.map(\.role), [.switch, .switch, .switch, .host, .host])
        let client1 = try XCTUnwrap(inv.nodes.first { $0.name == "client1" })
        XCTAssertEqual(client1.namespace, "c1-client1")
        XCTAssertEqual(client1.interfaces, [TestbedInventory.Interface(name: "eth1", addresses: ["10.1.1.1/24"], peer: "leaf1:e1-2")])
        let spine = try XCTUnwrap(inv.nodes.first { $0.name == "spine" })
        XCTAssertEqual(spine.interfaces.map(\.peer), ["leaf1:e1-1", "leaf2:e1-1"])
        XCTAssertEqual(spine.interfaces.map(\.addresses), [["10.255.1.2/24"], ["10.255.2.2/24"]])
        XCTAssertEqual(tb.inventoryPath, "/run/swiftfabric/testbed-c1.json")
        // The JSON's own shape, as other tools read it.
        let json = try JSONSerialization.jsonObject(with: JSONEncoder().encode(inv)) as! [String: Any]
        let node = (json["nodes"] as! [[String: Any]])[3]
        XCTAssertEqual(Set(node.keys), ["name", "kind", "role", "namespace", "interfaces"])
        XCTAssertEqual(node["role"] as? String, "host")
    }

    /// br01: three SR Linux nodes on a containerlab bridge: an L2 bed (a bridge makes the bed
    /// bridged unless the file says otherwise), the bridge a SwiftFabric learning bridge.
    func testBr01IsAnL2BedAroundALearningBridge() throws {
        let t = try Topology.load(file: Self.fixture("br01.clab.yml"), note: { XCTFail("unexpected note: \($0)") })
        XCTAssertEqual(t.mode, .bridge)
        XCTAssertEqual(t.nodes.map(\.role), [.switch, .switch, .switch, .bridge])
        XCTAssertEqual(t.switches, ["srl1", "srl2", "srl3", "br-clab"], "a bridge is a SwiftFabric switch too")
        XCTAssertEqual(TopologyTestbed(topology: t, prefix: "b1").switchConfig("br-clab").mode, .bridge)
        let routed = try String(contentsOfFile: Self.fixture("br01.clab.yml"), encoding: .utf8)
            .replacingOccurrences(of: "topology:\n", with: "topology:\n  defaults:\n    labels: {swiftfabric.mode: router}\n")
        XCTAssertEqual(reject(routed), "t.clab.yml:20: topology.nodes.br-clab: br-clab is a bridge (kind bridge), which a routed bed has no place for; "
                       + "an L2 bed (mode bridge) makes every switch a learning bridge")
    }

    // MARK: - Kinds, inheritance, settings

    func testKindsBecomeRolesAndSwitchKindsNarrowThem() throws {
        let yaml = """
            name: k
            topology:
              nodes:
                s1: {kind: nokia_srlinux}
                s2: {kind: arista_ceos}
                s3: {kind: sonic-vs}
                gen: {kind: keysight_ixia-c-one}
                h1: {kind: linux}
              links:
                - endpoints: ["s1:e1-1", "s2:eth1"]
                - endpoints: ["s2:eth2", "s3:eth1"]
                - endpoints: ["gen:eth1", "s3:eth2"]
                - endpoints: ["h1:eth1", "s1:e1-2"]
            """
        XCTAssertEqual(try parse(yaml).switches, ["s1", "s2", "s3", "gen"], "every kind but linux is a switch")
        let narrowed = try parse(yaml, switchKinds: ["nokia_srlinux", "arista_ceos", "sonic-vs"])
        XCTAssertEqual(narrowed.switches, ["s1", "s2", "s3"])
        XCTAssertEqual(narrowed.hosts, ["gen", "h1"], "a kind outside --switch-kinds is a host")
        XCTAssertEqual(reject(yaml, switchKinds: ["nokia_srlinux", "sonic-vs"]),
                       "t.clab.yml:5: topology.nodes.s2: host s2 has 2 links; a host has exactly one, to a switch")
        // A label overrides the kind.
        let relabelled = try parse(yaml.replacingOccurrences(of: "gen: {kind: keysight_ixia-c-one}",
                                                             with: "gen: {kind: keysight_ixia-c-one, labels: {swiftfabric.role: host}}"))
        XCTAssertEqual(relabelled.hosts, ["gen", "h1"])
    }

    /// containerlab's inheritance: node over group over kind over defaults, for the kind itself
    /// and for labels; bed settings only in topology.defaults.labels; link settings in vars.
    func testDefaultsKindsGroupsLabelsAndVars() throws {
        let yaml = """
            name: inherit
            topology:
              defaults:
                kind: ceos
                labels:
                  swiftfabric.load_balancing: flowlet
                  swiftfabric.flowlet_idle: 5ms
                  swiftfabric.uplink_speed: 10G
                  swiftfabric.host_speed: 1G
                  swiftfabric.host_subnets: 10.20.0.0/16
                  swiftfabric.mtu: 3000
                  swiftfabric.queues: 2
                  swiftfabric.ipv6: "true"
                  team: blue
                env: {FOO: bar}
              kinds:
                ceos: {image: ceos:4.32, labels: {rack: r1}}
                linux: {labels: {swiftfabric.role: host}}
              groups:
                servers: {kind: linux}
              nodes:
                leaf: {}
                spine: {labels: {rack: r2}}
                h1: {group: servers}
                h2: {kind: linux, env: {X: 1}}
              links:
                - endpoints: ["leaf:e1", "spine:e1"]
                  mtu: 2000
                  vars: {swiftfabric: {speed: 500M, delay: 100us, loss: 0.5%, loss_seed: 3}, other: ignored}
                - type: veth
                  endpoints: [{node: h1, interface: eth1}, {node: leaf, interface: e2}]
                - endpoints: ["h2:eth1", "leaf:e3"]
            """
        let t = try parse(yaml)
        XCTAssertEqual(t.nodes.map(\.labKind), ["ceos", "ceos", "linux", "linux"], "node > group > defaults")
        XCTAssertEqual(t.nodes.map(\.role), [.switch, .switch, .host, .host])
        XCTAssertEqual(t.loadBalancing, .flowlet)
        XCTAssertEqual(t.flowletIdleNanoseconds, 5_000_000)
        XCTAssertEqual(t.uplinkGbps, 10)
        XCTAssertEqual(t.hostGbps, 1)
        XCTAssertEqual(t.hostSubnetOctet, 20)
        XCTAssertEqual(t.mtu, 3000)
        XCTAssertEqual(t.queues, 2)
        XCTAssertTrue(t.ipv6)
        XCTAssertEqual(t.links[0].gbps, 0.5)
        XCTAssertEqual(t.links[0].delayNanoseconds, 100_000)
        XCTAssertEqual(t.links[0].lossPercent, 0.5)
        XCTAssertEqual(t.links[0].lossSeed, 3)
        XCTAssertEqual(t.links[0].mtu, 2000)
        XCTAssertEqual(t.links[1].a, Topology.Endpoint(node: "h1", interface: "eth1"), "the extended link form")
        let tb = TopologyTestbed(topology: t, prefix: "in")
        XCTAssertEqual(tb.hostAddress("h1"), "10.20.1.1")
        let leaf = tb.switchConfig("leaf")
        XCTAssertEqual(leaf.buffers.mtu, 3000, "the largest MTU of the switch's links")
        XCTAssertEqual(tb.switchConfig("spine").buffers.mtu, 2000)
        XCTAssertEqual(leaf.ports.first { $0.name == "e1" }?.speedGbps, 0.5)
        XCTAssertEqual(leaf.ports.first { $0.name == "e2" }?.speedGbps, 1, "host_speed")
        XCTAssertEqual(try parse(t.yaml), t, "written back and read again")

        let base = "name: x\ntopology:\n  nodes:\n    s1: {kind: sonic-vs, labels: {swiftfabric.mode: bridge}}\n    h1: {kind: linux}\n  links:\n    - endpoints: [\"h1:eth1\", \"s1:e1\"]\n"
        XCTAssertEqual(reject(base), "t.clab.yml:4: topology.nodes.s1.labels.swiftfabric.mode: swiftfabric.mode is a setting of the whole bed: "
                       + "give it in topology.defaults.labels, not in a node")
        XCTAssertTrue(reject(base.replacingOccurrences(of: "swiftfabric.mode: bridge", with: "swiftfabric.speed: 1G"))
            .hasPrefix("t.clab.yml:4: topology.nodes.s1.labels.swiftfabric.speed: unknown label 'swiftfabric.speed' (SwiftFabric's are swiftfabric.role, swiftfabric.config and"))
        let plain = base.replacingOccurrences(of: ", labels: {swiftfabric.mode: bridge}", with: "")
        XCTAssertEqual(reject(plain + "      vars: {swiftfabric.speed: 1G}\n"),
                       "t.clab.yml:8: topology.links[0].vars.swiftfabric.speed: a link's SwiftFabric settings go in vars: {swiftfabric: {speed, delay, loss, loss_seed}}")
        XCTAssertEqual(reject(plain + "      vars: {swiftfabric: {speed: fast}}\n"),
                       "t.clab.yml:8: topology.links[0].vars.swiftfabric.speed: expected a line rate like 10G or 800M, got 'fast'")
        XCTAssertEqual(reject(plain + "      mtu: 65000\n"), "t.clab.yml:8: topology.links[0].mtu: 65000 is out of range 576...9500")
        var notes: [String] = []
        _ = try Topology.parse(plain + "      ipv4: [\"192.168.0.1/24\", \"192.168.0.2/24\"]\n", file: "t.clab.yml", note: { notes.append($0) })
        XCTAssertEqual(notes, ["t.clab.yml:8: topology.links[0].ipv4: ignored: the test bed numbers every link itself"])
    }

    /// `swiftfabric.config` names a switch configuration file whose sections replace the
    /// generated ones on that switch (inherited from its kind here); ports and routes stay the bed's.
    func testASwitchConfigurationOverridesTheGeneratedSections() throws {
        let dir = NSTemporaryDirectory() + "clab-\(UUID().uuidString.prefix(8))"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try """
            # leaves: deeper ECN thresholds, flowlets
            ecn: {queues: [3], kmin: 50KB, kmax: 500KB, pmax: 20}
            load_balancing: {mode: flowlet, flowlet_idle: 1ms}
            buffers: {pool: 4MB}
            """.write(toFile: "\(dir)/leaf.yaml", atomically: true, encoding: .utf8)
        let topology = """
            name: o
            topology:
              defaults: {labels: {swiftfabric.mtu: 3000}}
              kinds:
                nokia_srlinux: {labels: {swiftfabric.config: leaf.yaml}}
                linux: {labels: {swiftfabric.config: leaf.yaml}}
              nodes:
                leaf1: {kind: nokia_srlinux}
                spine: {kind: arista_ceos}
                h1: {kind: linux}
              links:
                - endpoints: ["leaf1:e1-1", "spine:eth1"]
                - endpoints: ["h1:eth1", "leaf1:e1-2"]
            """
        try topology.write(toFile: "\(dir)/o.clab.yml", atomically: true, encoding: .utf8)
        let t = try Topology.load(file: "\(dir)/o.clab.yml", note: { XCTFail("unexpected note: \($0)") })
        XCTAssertEqual(t.nodes[0].overrides?.file, "\(dir)/leaf.yaml", "relative to the topology file")
        XCTAssertNil(t.nodes[1].overrides, "another kind")
        XCTAssertNil(t.nodes[2].overrides, "a host runs no switch")
        let tb = TopologyTestbed(topology: t, prefix: "ov")
        let leaf = tb.switchConfig("leaf1"), spine = tb.switchConfig("spine")
        XCTAssertEqual(leaf.ecn.kminBytes, 50 << 10)
        XCTAssertEqual(leaf.loadBalancing.mode, .flowlet)
        XCTAssertEqual(leaf.loadBalancing.flowletIdleNanoseconds, 1_000_000)
        XCTAssertEqual(leaf.buffers.poolBytes, 4 << 20)
        XCTAssertEqual(leaf.buffers.mtu, 3000, "the links' MTU, which the file does not give")
        XCTAssertEqual(leaf.ports, TopologyTestbed(topology: try parse(topology.replacingOccurrences(of: "swiftfabric.config: leaf.yaml", with: "x: y")), prefix: "ov")
                        .switchConfig("leaf1").ports, "ports as generated")
        XCTAssertEqual(leaf.routes.count, 0, "leaf1 holds the only host subnet")
        XCTAssertEqual(spine.ecn, SwitchConfig(name: "x", mode: .router, ports: []).ecn, "the spine keeps the defaults")
        XCTAssertEqual(try ConfigLoader.parse(SwitchConfigYAML.text(leaf)), leaf, "the switch reads what the bed writes")
        XCTAssertEqual(try Topology.parse(t.yaml, note: { _ in }), t, "recorded with the file's absolute path")

        try "ports: []\n".write(toFile: "\(dir)/bad.yaml", atomically: true, encoding: .utf8)
        try "ecn: {kmin: 2MB, kmax: 1MB}\n".write(toFile: "\(dir)/bad2.yaml", atomically: true, encoding: .utf8)
        func reject(_ file: String) -> String {
            do {
                _ = try Topology.parse(topology.replacingOccurrences(of: "swiftfabric.config: leaf.yaml", with: "swiftfabric.config: \(file)"),
                                       file: "\(dir)/o.clab.yml", note: { _ in })
                return "accepted"
            } catch { return "\(error)" }
        }
        XCTAssertEqual(reject("bad.yaml"), "\(dir)/bad.yaml:1: ports: 'ports' is what the test bed generates for each switch; an override holds only qos, buffers, pfc, ecn, load_balancing")
        XCTAssertEqual(reject("bad2.yaml"), "\(dir)/bad2.yaml:1: ecn.kmin: kmin (2097152 bytes) must be below kmax (1048576 bytes)")
        XCTAssertTrue(reject("none.yaml").hasPrefix("\(dir)/o.clab.yml:5: topology.kinds.nokia_srlinux.labels.swiftfabric.config: no file \(dir)/none.yaml"),
                      reject("none.yaml"))
    }

    // MARK: - Bad files

    func testBadFilesAreRefusedWithFileLineAndKey() {
        let nodes = "name: bad\ntopology:\n  nodes:\n    s1: {kind: nokia_srlinux}\n    h1: {kind: linux}\n  links:\n"
        XCTAssertEqual(reject(nodes + "    - endpoints: [\"h1:eth1\", \"s1:e1-1\"]\n"), "accepted")
        XCTAssertEqual(reject(nodes + "    - endpoints: [\"h1:eth1\", \"s2:e1-1\"]\n"), "t.clab.yml:7: topology.links[0]: no node named 's2'")
        XCTAssertEqual(reject(nodes + "    - endpoints: [\"h1:eth1\", \"s1:e1-1\"]\n    - endpoints: [\"s1:e1-1\", \"h1:eth2\"]\n"),
                       "t.clab.yml:8: topology.links[1]: endpoint s1:e1-1 used twice")
        XCTAssertEqual(reject("name: bad\nnodes2: {}\n"), "t.clab.yml:2: nodes2: unknown key 'nodes2' (expected one of: name, prefix, mgmt, topology, settings, debug)")
        XCTAssertEqual(reject("name: bad\n"), "t.clab.yml:1: missing 'topology' (a containerlab file: name: LAB, topology: {nodes: ..., links: ...})")
        XCTAssertEqual(reject("name: bad\ntopology:\n  links: []\n"), "t.clab.yml:3: topology: missing 'nodes' (a mapping of node names to {kind: ...})")
        XCTAssertEqual(reject("name: bad\ntopology:\n  nodes:\n    s1: {}\n"),
                       "t.clab.yml:4: topology.nodes.s1: no kind (linux for a host, bridge for a learning bridge, a switch kind like nokia_srlinux), nor one in topology.defaults")
        XCTAssertTrue(reject("name: bad\ntopology:\n  nodes:\n    s1: {kind: srl, imgae: x}\n")
            .hasPrefix("t.clab.yml:4: topology.nodes.s1.imgae: unknown key 'imgae' (expected one of: image, image-pull-policy,"), "a typo, as containerlab's schema says")
        XCTAssertEqual(reject(nodes + "    - endpoints: [\"h1:eth1\", \"s1:ethernet-1/1\"]\n"),
                       "t.clab.yml:7: topology.links[0]: interface 'ethernet-1/1' must be 1-15 letters, digits, '-' or '_'")
        XCTAssertEqual(reject(nodes + "    - type: macvlan\n      endpoints: [{node: s1, interface: e1}]\n"),
                       "t.clab.yml:7: topology.links[0].type: a link of type 'macvlan' has no place in a test bed; links are veths (type: veth, or the brief form), "
                       + "or, to a node on another machine, type: vxlan")
        XCTAssertEqual(reject(nodes + "    - endpoints: [\"h1:eth1\", \"host:veth9\"]\n"), "t.clab.yml:7: topology.links[0]: no node named 'host'")
        XCTAssertEqual(reject("name: n\ntopology:\n  defaults: {kind: nokia_srlinux}\n  nodes:\n    s1:\n    h1: linux\n"),
                       "t.clab.yml:6: topology.nodes.h1: expected node settings like {kind: linux}, got 'linux'")
        XCTAssertEqual(try parse("name: n\ntopology:\n  defaults: {kind: nokia_srlinux}\n  nodes:\n    s1:\n    s2: ~\n  links:\n    - endpoints: [\"s1:e1\", \"s2:e1\"]\n").switches,
                       ["s1", "s2"], "a node with nothing: the defaults' kind")
    }

    /// An L2 bed with a loop is refused, naming the link that closes it; routed, the same
    /// topology is fine.
    func testLoopsAreRefusedInL2Beds() throws {
        let yaml = """
            name: loop
            topology:
              defaults: {labels: {swiftfabric.mode: bridge}}
              nodes:
                a: {kind: sonic-vs}
                b: {kind: sonic-vs}
                c: {kind: sonic-vs}
              links:
                - endpoints: ["a:e1", "b:e1"]
                - endpoints: ["b:e2", "c:e1"]
                - endpoints: ["c:e2", "a:e2"]
            """
        XCTAssertEqual(reject(yaml), "t.clab.yml:11: topology.links[2]: c:e2 -- a:e2 closes a loop of bridges: an L2 bed (mode bridge) runs no spanning tree, "
                       + "so its switches must be linked as a tree; a routed bed (mode router) takes any topology")
        XCTAssertEqual(reject(yaml.replacingOccurrences(of: "swiftfabric.mode: bridge", with: "swiftfabric.mode: router")), "accepted")
    }

    // MARK: - The old format, the shipped file, the schema

    /// The old format still loads, with a deprecation note, into the same topology as its
    /// containerlab form.
    func testTheOldFormatLoadsWithADeprecationNote() throws {
        let old = """
            defaults: {uplink_speed: 200M, load_balancing: flowlet}
            nodes:
              s1: {kind: switch}
              s2: {kind: switch}
              h1: {kind: host}
            links:
              - {endpoints: [s1:up, s2:down], speed: 100M, delay: 1ms}
              - {endpoints: [h1:eth0, s1:h1]}
            """
        var notes: [String] = []
        let t = try Topology.parse(old, file: "old.yaml", note: { notes.append($0) })
        XCTAssertEqual(notes, ["old.yaml: SwiftFabric's own topology format is deprecated; write it as a containerlab file "
                               + "(`fabric testbed convert old.yaml` prints one; README, \"containerlab files\")"])
        XCTAssertEqual(t.switches, ["s1", "s2"])
        XCTAssertEqual(t.links[0].gbps, 0.1)
        XCTAssertEqual(try parse(t.yaml), t, "its containerlab form is the same topology")
        XCTAssertTrue(t.yaml.contains("vars: {swiftfabric: {speed: 100M, delay: 1ms}}"), t.yaml)
    }

    func testTheShippedLeafSpineIsAContainerlabFile() throws {
        let file = try Topology.load(file: Self.shipped, note: { XCTFail("unexpected note: \($0)") })
        var builtIn = Topology.leafSpine()
        builtIn.loadBalancing = .ecmp
        XCTAssertEqual(file, builtIn)
    }

    /// The reference examples, the shipped file and what the bed records (every setting set)
    /// pass containerlab's JSON schema (python3-jsonschema; the YAML converted here).
    func testFilesAreValidAgainstContainerlabsSchema() throws {
        var t = Topology.leafSpine(uplinkGbps: 0.2, hostGbps: 2.5)
        t.links[1].gbps = 0.1
        t.links[1].delayNanoseconds = 1_000_000
        t.links[2].lossPercent = 0.1
        t.links[2].lossSeed = 5
        t.links[3].mtu = 9000
        t.loadBalancing = .spray
        t.ipv6 = true
        t.mtu = 3000
        t.queues = 2
        t.nodes[0].role = .bridge
        var docs: [String: String] = ["written (leaf-spine, every setting)": t.yaml, "written (star)": Topology.star(hosts: 2, routed: false).yaml]
        for f in ["clos01.clab.yml", "br01.clab.yml"] { docs[f] = try String(contentsOfFile: Self.fixture(f), encoding: .utf8) }
        docs["scripts/leaf-spine.clab.yml"] = try String(contentsOfFile: Self.shipped, encoding: .utf8)
        var json: [String: Any] = [:]
        for (label, yaml) in docs { json[label] = try XCTUnwrap(try Yams.load(yaml: yaml), label) }
        try Self.assertSchemaValid(json)

        // The checker does check: a file with a key containerlab does not know fails.
        let bad = try Self.validate(["bad": ["name": "x", "topology": ["nodes": ["a": ["kind": "linux", "speed": "1G"]]]]])
        XCTAssertEqual(bad.status, 1, bad.output)
    }

    /// Runs validate.py (containerlab's schema) over labelled documents: its exit status and
    /// what it printed (one line per schema error).
    static func validate(_ documents: [String: Any]) throws -> (status: Int32, output: String) {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        p.arguments = ["python3", fixture("validate.py")]
        let stdin = Pipe(), stdout = Pipe()
        (p.standardInput, p.standardOutput, p.standardError) = (stdin, stdout, stdout)
        try p.run()
        stdin.fileHandleForWriting.write(try JSONSerialization.data(withJSONObject: documents))
        try stdin.fileHandleForWriting.close()
        let out = String(decoding: stdout.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        p.waitUntilExit()
        if out.contains("No module named 'jsonschema'") { throw XCTSkip("python3 jsonschema is not installed (scripts/setup.sh installs it)") }
        return (p.terminationStatus, out)
    }

    /// Every document passes containerlab's schema.
    static func assertSchemaValid(_ documents: [String: Any], file: StaticString = #filePath, line: UInt = #line) throws {
        let r = try validate(documents)
        XCTAssertEqual(r.status, 0, r.output, file: file, line: line)
        XCTAssertEqual(r.output, "", file: file, line: line)
    }
}
