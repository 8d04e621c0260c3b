import Foundation

/// What `fabric testbed up` writes to `/run/swiftfabric/testbed-PREFIX.json` for other tools:
/// every node with its role, namespace and interfaces (addresses with their prefix length, and
/// the `node:interface` at the other end of the link; for a VXLAN link `vxlan REMOTE vni N`).
///
/// ```json
/// {"name": "lab", "nodes": [{"name": "client1", "kind": "linux", "role": "host", "namespace": "lab-client1",
///   "interfaces": [{"name": "eth1", "addresses": ["10.1.1.1/24"], "peer": "leaf1:e1-2"}]}, ...]}
/// ```
public struct TestbedInventory: Codable, Equatable, Sendable {
    public struct Interface: Codable, Equatable, Sendable {
        public var name: String
        public var addresses: [String]
        public var peer: String
        public init(name: String, addresses: [String], peer: String) {
            (self.name, self.addresses, self.peer) = (name, addresses, peer)
        }
    }
    public struct Node: Codable, Equatable, Sendable {
        public var name: String
        /// The containerlab kind (`nokia_srlinux`, `linux`, `bridge`; `sonic-vs` for a switch
        /// of a file without kinds).
        public var kind: String
        public var role: Topology.Role
        public var namespace: String
        public var interfaces: [Interface]
    }
    /// The test bed's prefix.
    public var name: String
    public var nodes: [Node]

    public static func read(_ path: String) throws -> TestbedInventory {
        try JSONDecoder().decode(TestbedInventory.self, from: Data(contentsOf: URL(fileURLWithPath: path)))
    }
}

extension TopologyTestbed {
    public var inventoryPath: String { "\(Self.root)/testbed-\(prefix).json" }

    /// The bed's nodes and interfaces, in the topology's order (interfaces in link order).
    public var inventory: TestbedInventory {
        let t = topology
        return TestbedInventory(name: prefix, nodes: t.nodes.map { n in
            let interfaces = t.links.flatMap { l -> [TestbedInventory.Interface] in
                [(l.a, l.b), (l.b, l.a)].filter { $0.0.node == n.name }.map { mine, peer in
                    let addresses = n.kind == .host ? plan.host(n.name).addresses : plan.ports(of: n.name).first { $0.name == mine.interface }?.addresses ?? []
                    return .init(name: mine.interface, addresses: addresses.map(\.description), peer: peer.description)
                }
            }
            // A VXLAN link's far end is on another machine: its peer is the tunnel.
            let tunnels = t.vxlanLinks.filter { $0.endpoint.node == n.name }.map { l in
                TestbedInventory.Interface(name: l.endpoint.interface,
                                           addresses: (plan.ports(of: n.name).first { $0.name == l.endpoint.interface }?.addresses ?? []).map(\.description),
                                           peer: "vxlan \(l.remote) vni \(l.vni)")
            }
            return .init(name: n.name, kind: n.labKind, role: n.role, namespace: namespace(n.name), interfaces: interfaces + tunnels)
        })
    }

    func writeInventory() throws {
        let e = JSONEncoder()
        e.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        try (e.encode(inventory) + Data("\n".utf8)).write(to: URL(fileURLWithPath: inventoryPath), options: .atomic)
    }
}
