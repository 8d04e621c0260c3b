import FabricConfig
import FabricCore

/// A test bed as a containerlab file describes a lab: nodes with a role (switch, host or
/// bridge, from their containerlab kind) and links between `node:interface` endpoints. From it
/// come the namespaces, veths, addresses (`AddressPlan`), each switch's configuration (routes
/// over every shortest path, ECMP where there are several; or a learning bridge) and the
/// switches themselves (`TopologyTestbed`). The star of `fabric testbed up --hosts N` and the
/// leaf-spine are presets.
///
/// ```yaml
/// name: lab
/// topology:
///   defaults:
///     labels: {swiftfabric.uplink_speed: 1G, swiftfabric.load_balancing: flowlet}
///   nodes:
///     spine1: {kind: nokia_srlinux}
///     leaf1: {kind: nokia_srlinux}
///     h1: {kind: linux}
///   links:
///     - endpoints: ["leaf1:e1-1", "spine1:e1-1"]
///       vars:              # optional: this link's speed (both ends), and on each switch port
///         swiftfabric: {speed: 500M, delay: 2ms, loss: 0.1%}   # delay and random loss
///     - endpoints: ["h1:eth1", "leaf1:e1-2"]
/// ```
/// The file formats and their checks: Topology+Containerlab.swift, Topology+YAML.swift.
public struct Topology: Sendable, Equatable {
    /// The most queues a test bed's veths get (the switch's xsks_map has 64 slots).
    public static let maxQueues = 64
    public enum Kind: String, Sendable, CaseIterable { case `switch`, host }
    /// What a node is in the test bed. A bridge is a SwiftFabric switch too (kind `switch`),
    /// one that learns and floods: it needs an L2 bed (`mode: bridge`).
    public enum Role: String, Sendable, CaseIterable, Codable { case `switch`, host, bridge }
    public struct Node: Sendable, Equatable {
        public var name: String
        public var role: Role
        /// The node's kind in a containerlab file (`nokia_srlinux`, `linux`, `bridge`, ...):
        /// what the file said, kept for the inventory and the recorded file.
        public var labKind: String
        public var kind: Kind { role == .host ? .host : .switch }
        /// A switch's own sections of its configuration (`swiftfabric.config`), over the generated ones.
        public var overrides: SwitchOverrides?
        public init(name: String, kind: Kind) {
            self.init(name: name, role: kind == .host ? .host : .switch)
        }
        public init(name: String, role: Role, labKind: String? = nil) {
            self.name = name
            self.role = role
            self.labKind = labKind ?? Self.labKind(of: role)
        }
        /// The containerlab kind a node of `role` is written with when it has none of its own:
        /// `sonic-vs` (an open switch OS, so the file also runs under containerlab), `linux`,
        /// `bridge`.
        public static func labKind(of role: Role) -> String {
            switch role {
            case .switch: "sonic-vs"
            case .host: "linux"
            case .bridge: "bridge"
            }
        }
    }
    public struct Endpoint: Sendable, Equatable, CustomStringConvertible {
        public var node: String
        public var interface: String
        public init(node: String, interface: String) {
            self.node = node
            self.interface = interface
        }
        public var description: String { "\(node):\(interface)" }
    }
    public struct Link: Sendable, Equatable {
        public var a: Endpoint
        public var b: Endpoint
        /// This link's emulated line rate, both ends (nil: the defaults).
        public var gbps: Double?
        /// Emulated on the link's switch ports, each delaying and losing what it sends (a host
        /// sends undelayed: its veth has no emulation, this kernel has no netem): propagation
        /// delay, random loss in percent and the loss draw's seed (the second switch port of a
        /// switch-to-switch link draws from seed + 1).
        public var delayNanoseconds: UInt64
        public var lossPercent: Double
        public var lossSeed: UInt64?
        /// This link's MTU, both veth ends (nil: the topology's `mtu`).
        public var mtu: Int?
        public init(a: Endpoint, b: Endpoint, gbps: Double? = nil, delayNanoseconds: UInt64 = 0, lossPercent: Double = 0, lossSeed: UInt64? = nil,
                    mtu: Int? = nil) {
            self.a = a
            self.b = b
            self.gbps = gbps
            self.delayNanoseconds = delayNanoseconds
            self.lossPercent = lossPercent
            self.lossSeed = lossSeed
            self.mtu = mtu
        }
    }

    /// The MTU link `l`'s veth ends get.
    public func mtu(of l: Link) -> Int { l.mtu ?? mtu }

    /// The largest MTU among switch `node`'s links: its `buffers.mtu`.
    public func mtu(ofSwitch node: String) -> Int {
        (links.filter { $0.a.node == node || $0.b.node == node }.map(mtu(of:))
         + vxlanLinks.filter { $0.endpoint.node == node }.compactMap(\.mtu)).max() ?? mtu
    }

    /// The line rate link `l` is emulated at: its own, else the default for its kind.
    public func gbps(of l: Link) -> Double? {
        l.gbps ?? (kind(l.a.node) == .switch && kind(l.b.node) == .switch ? uplinkGbps : hostGbps)
    }

    public var nodes: [Node] = []
    public var links: [Link] = []
    /// Links to a node on another machine, through a VXLAN tunnel (Topology+VXLAN.swift).
    public var vxlanLinks: [VXLANLink] = []
    /// Router: every host port its own subnet, routes between the switches. Bridge: every host
    /// in one subnet, the switches learning bridges (the links between them must form no loop:
    /// the switch runs no spanning tree).
    public var mode: ForwardingMode = .router
    /// Emulated line rates of switch-to-switch ports and of switch ports facing hosts (nil: none).
    public var uplinkGbps: Double?
    public var hostGbps: Double?
    public var loadBalancing: LoadBalancingMode = .ecmp
    /// The switches' flowlet idle timer (nil: the switch default, 256 us).
    public var flowletIdleNanoseconds: UInt64?
    /// The second octet of the first host subnet, 10.B.0.0/16 (`AddressPlan`).
    public var hostSubnetOctet = 1
    /// Bridge mode: the number of the first host, 10.B.0.N (and its MAC's last octet): a lab
    /// split over two machines numbers the second half's hosts after the first half's.
    public var firstHost = 1
    /// Hosts are dual-stack (router mode): IPv6 next to IPv4 (`AddressPlan`).
    public var ipv6 = false
    /// MTU of every veth of the test bed (and the switches' `buffers.mtu`): 1500, or jumbo up
    /// to `BufferConfig.largestMTU`.
    public var mtu = 1500
    /// Receive and transmit queues of every veth (a multi-queue NIC's: flows hash to queues by
    /// the sender's transmit queue); `fabric switch --workers N` serves queues 0..N-1.
    public var queues = 1

    public init() {}

    public var switches: [String] { nodes.filter { $0.kind == .switch }.map(\.name) }
    public var hosts: [String] { nodes.filter { $0.kind == .host }.map(\.name) }
    public func kind(_ node: String) -> Kind? { nodes.first { $0.name == node }?.kind }
    public func role(_ node: String) -> Role? { nodes.first { $0.name == node }?.role }

    // MARK: - Presets

    /// The shipped default: `spines` spines, `leaves` leaves, every leaf linked to every spine,
    /// `hostsPerLeaf` hosts on each leaf (h1... numbered leaf by leaf).
    /// Its switches' flowlet idle timer is 2 ms, not the 256 us of a hardware switch: the idle
    /// timer must exceed the difference in delay between paths, and through 3 software
    /// switches sharing 2 cores with their hosts that reaches milliseconds (one-way p99 of
    /// 6-14 ms measured). With 256 us, 0.2-3% of the packets arrived reordered in flowlet mode.
    public static func leafSpine(spines: Int = 2, leaves: Int = 2, hostsPerLeaf: Int = 4, uplinkGbps: Double? = 1,
                                 hostGbps: Double? = nil, flowletIdleNanoseconds: UInt64? = 2_000_000) -> Topology {
        var t = Topology()
        t.flowletIdleNanoseconds = flowletIdleNanoseconds
        t.uplinkGbps = uplinkGbps
        t.hostGbps = hostGbps
        for s in 1...spines { t.nodes.append(Node(name: "spine\(s)", kind: .switch)) }
        for l in 1...leaves { t.nodes.append(Node(name: "leaf\(l)", kind: .switch)) }
        for l in 1...leaves {
            for s in 1...spines {
                t.links.append(Link(a: Endpoint(node: "leaf\(l)", interface: "s\(s)"), b: Endpoint(node: "spine\(s)", interface: "l\(l)")))
            }
        }
        var h = 0
        for l in 1...leaves {
            for _ in 1...hostsPerLeaf {
                h += 1
                t.nodes.append(Node(name: "h\(h)", kind: .host))
                t.links.append(Link(a: Endpoint(node: "h\(h)", interface: "eth0"), b: Endpoint(node: "leaf\(l)", interface: "h\(h)")))
            }
        }
        return t
    }

    /// The star of `fabric testbed up --hosts N`: one switch `sw`, hosts h1...hN, host i's `eth0`
    /// linked to the switch's port `hi`. Bridged: every host in 10.77.0.0/24 (host i is
    /// 10.77.0.i). Routed: host i alone in 10.77.i.0/24 and fd77:i::/64, the switch a router.
    public static func star(hosts: Int, routed: Bool) -> Topology {
        var t = Topology()
        t.mode = routed ? .router : .bridge
        t.hostSubnetOctet = 77
        t.ipv6 = routed
        t.nodes.append(Node(name: "sw", kind: .switch))
        for i in 1...max(1, hosts) {
            t.nodes.append(Node(name: "h\(i)", kind: .host))
            t.links.append(Link(a: Endpoint(node: "h\(i)", interface: "eth0"), b: Endpoint(node: "sw", interface: "h\(i)")))
        }
        return t
    }

    // MARK: - Checks

    /// A topology that cannot be built, and where.
    public struct Problem: Error, CustomStringConvertible, Equatable {
        public enum Place: Sendable, Equatable { case topology, defaults(String), node(String), link(Int) }
        public var place: Place
        public var message: String
        public var description: String {
            switch place {
            case .topology: "topology: \(message)"
            case .defaults(let key): "defaults.\(key): \(message)"
            case .node(let n): "nodes.\(n): \(message)"
            case .link(let i): "links[\(i)]: \(message)"
            }
        }
    }

    /// Everything `AddressPlan` and `TopologyTestbed.up` rely on.
    public func validate() throws(Problem) {
        func fail(_ place: Problem.Place, _ m: String) -> Problem { Problem(place: place, message: m) }
        guard !switches.isEmpty else { throw fail(.topology, "no node of kind switch") }
        guard (1...Self.maxQueues).contains(queues) else { throw fail(.defaults("queues"), "\(queues) is out of range 1...\(Self.maxQueues)") }
        guard (BufferConfig.smallestMTU...BufferConfig.largestMTU).contains(mtu) else {
            throw fail(.defaults("mtu"), "\(mtu) is out of range \(BufferConfig.smallestMTU)...\(BufferConfig.largestMTU), the MTUs the switch carries")
        }
        guard hosts.count <= 250, links.count <= 250 else { throw fail(.topology, "at most 250 hosts and 250 links") }
        guard (1...254).contains(firstHost), firstHost + hosts.count - 1 <= 254 else {
            throw fail(.defaults("first_host"), "hosts \(firstHost)...\(firstHost + hosts.count - 1) do not fit in 1...254")
        }
        for n in nodes {
            guard !n.name.isEmpty, n.name.count <= 12, n.name.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "-") }) else {
                throw fail(.node(n.name), "names are 1-12 letters, digits or '-'")
            }
        }
        var used: Set<String> = []
        for (i, l) in links.enumerated() {
            for e in [l.a, l.b] {
                guard kind(e.node) != nil else { throw fail(.link(i), "no node named '\(e.node)'") }
                guard (1...15).contains(e.interface.count), e.interface.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "-" || $0 == "_") }) else {
                    throw fail(.link(i), "interface '\(e.interface)' must be 1-15 letters, digits, '-' or '_'")
                }
                guard used.insert(e.description).inserted else { throw fail(.link(i), "endpoint \(e) used twice") }
            }
            if l.a.node == l.b.node { throw fail(.link(i), "a link from \(l.a.node) to itself") }
            if kind(l.a.node) == .host && kind(l.b.node) == .host { throw fail(.link(i), "hosts connect to switches, not to each other") }
            if let g = l.gbps, !Units.gbpsRange.contains(g) { throw fail(.link(i), "speed \(g) Gb/s is outside 1M...800G") }
            if let m = l.mtu, !(BufferConfig.smallestMTU...BufferConfig.largestMTU).contains(m) {
                throw fail(.link(i), "mtu \(m) is out of range \(BufferConfig.smallestMTU)...\(BufferConfig.largestMTU), the MTUs the switch carries")
            }
            guard (0...100).contains(l.lossPercent) else { throw fail(.link(i), "loss \(l.lossPercent)% is outside 0...100%") }
            let port = PortConfig(name: l.a.interface, speedGbps: gbps(of: l), delayNanoseconds: l.delayNanoseconds)
            guard l.delayNanoseconds <= PortConfig.maxDelayNanoseconds, port.delayLineFrames <= PortConfig.maxDelayLineFrames else {
                throw fail(.link(i), "delay \(Units.text(nanoseconds: l.delayNanoseconds)) is more than a port's delay line holds at its speed")
            }
        }
        for (key, g) in [("uplink_speed", uplinkGbps), ("host_speed", hostGbps)] {
            if let g, !Units.gbpsRange.contains(g) { throw fail(.defaults(key), "speed \(g) Gb/s is outside 1M...800G") }
        }
        for n in nodes {
            let count = links.filter { $0.a.node == n.name || $0.b.node == n.name }.count
                + (n.kind == .switch ? vxlanLinks.filter { $0.endpoint.node == n.name }.count : 0)
            if n.kind == .host && count != 1 { throw fail(.node(n.name), "host \(n.name) has \(count) links; a host has exactly one, to a switch") }
            if n.kind == .switch && count == 0 { throw fail(.node(n.name), "switch \(n.name) has no links") }
        }
        try validateAddressing()
    }

    func validateAddressing() throws(Problem) {
        let leaves = Set(links.flatMap { l in [l.a, l.b].filter { kind($0.node) == .switch && kind(l.a.node) != kind(l.b.node) }.map(\.node) })
        guard (1...254).contains(hostSubnetOctet), hostSubnetOctet + max(1, leaves.count) - 1 <= 254 else {
            throw Problem(place: .defaults("host_subnets"), message: "10.\(hostSubnetOctet).0.0/16 leaves no room for \(leaves.count) switches with hosts below 10.255 (the switch-to-switch links)")
        }
        guard mode == .bridge else {
            if let b = nodes.first(where: { $0.role == .bridge }) {
                throw Problem(place: .node(b.name), message: "\(b.name) is a bridge (kind \(b.labKind)), which a routed bed has no place for; "
                              + "an L2 bed (mode bridge) makes every switch a learning bridge")
            }
            return
        }
        if ipv6 { throw Problem(place: .defaults("ipv6"), message: "IPv6 hosts need mode router") }
        // A learning bridge floods: a loop of bridges would carry a flood forever.
        var component = Dictionary(uniqueKeysWithValues: switches.map { ($0, $0) })
        func root(_ s: String) -> String { var r = s; while component[r]! != r { r = component[r]! }; return r }
        for (i, l) in links.enumerated() where kind(l.a.node) == .switch && kind(l.b.node) == .switch {
            let (ra, rb) = (root(l.a.node), root(l.b.node))
            if ra == rb {
                throw Problem(place: .link(i), message: "\(l.a) -- \(l.b) closes a loop of bridges: an L2 bed (mode bridge) runs no spanning tree, "
                              + "so its switches must be linked as a tree; a routed bed (mode router) takes any topology")
            }
            component[ra] = rb
        }
    }
}
