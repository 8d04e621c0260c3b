import FabricCore
import FabricPacket

/// Every address, MAC and port of a test bed, worked out from its topology alone (no I/O, so
/// FabricLabTests check it without root).
///
/// - Router mode: the k-th switch with hosts (topology order) takes 10.(B+k-1).0.0/16, B from
///   `host_subnets` (default 1): its n-th host port is 10.(B+k-1).n.0/24, the switch .254, the
///   host .1 with its default route via .254. With `ipv6` the same port is also fd77:X::/64
///   (X = (k-1)*256 + n, in hex), switch ::fe, host ::1. Switch-to-switch link i (1-based,
///   topology order) is 10.255.i.0/24 (and fd77:0:i::/64), first endpoint .1, second .2. Every
///   switch routes each host subnet it does not hold over all its neighbours on a shortest path
///   (ECMP where there are several).
/// - Bridge mode: host i (topology order) is 10.B.0.(F+i-1)/24, F from `first_host` (default 1);
///   switch ports have no address.
/// - MACs: host i is 02:5f:00:00:00:(F+i-1); port p (1-based) of switch s is 02:5f:(s-1):00:p:fe.
///   A switch's ports are its host ports in host order, then its switch-to-switch links.
public struct AddressPlan: Sendable {
    /// Every address the plan gives is in these: host subnets 10.B..., links 10.255...; fd77:...
    public static let space4 = "10.0.0.0/8", space6 = "fd77::/16"

    public struct Host: Sendable, Equatable {
        public var name: String
        public var interface: String
        public var mac: MACAddress
        /// With their prefix length: 10.1.1.1/24 (and fd77:101::1/64).
        public var addresses: [IPPrefix]
        /// Router mode: the switch port's addresses, the host's default routes (one per family).
        public var gateways: [IPAddress]
        public var switchNode: String
        public var switchPort: String
    }

    public struct Port: Sendable, Equatable {
        public var name: String
        public var mac: MACAddress
        public var addresses: [IPPrefix]
        public var gbps: Double?
        /// The node at the other end of the link.
        public var peer: String
        /// The link's emulation on this port (`Topology.Link`).
        public var delayNanoseconds: UInt64 = 0
        public var lossPercent: Double = 0
        public var lossSeed: UInt64? = nil
    }

    public let topology: Topology
    /// In topology order: host i of the workloads is `hosts[i - 1]`.
    public let hosts: [Host]
    let portsBySwitch: [String: [Port]]

    /// The plan of a topology. Meaningful once the topology passed `validate()`; before, what
    /// cannot be addressed (a host without a switch, numbers past 255) just gets no address.
    public init(_ t: Topology) {
        topology = t
        let routed = t.mode == .router
        let leaves = t.switches.filter { s in t.links.contains { l in
            (l.a.node == s && t.kind(l.b.node) == .host) || (l.b.node == s && t.kind(l.a.node) == .host) } }
        var hosts: [Host] = []
        var ports = Dictionary(uniqueKeysWithValues: t.switches.map { ($0, [Port]()) })
        func mac(_ s: String) -> MACAddress {
            MACAddress(rawValue: 0x025F_0000_00FE | UInt64(t.switches.firstIndex(of: s)!) << 24 | UInt64(ports[s]!.count + 1) << 8)
        }
        for (i, h) in t.hosts.enumerated() {
            var host = Host(name: h, interface: "", mac: MACAddress(rawValue: 0x025F_0000_0000 | UInt64(t.firstHost + i)),
                            addresses: [], gateways: [], switchNode: "", switchPort: "")
            guard let l = t.links.first(where: { $0.a.node == h || $0.b.node == h }) else { hosts.append(host); continue }
            let (he, se) = l.a.node == h ? (l.a, l.b) : (l.b, l.a)
            guard let k = leaves.firstIndex(of: se.node), t.hostSubnetOctet + k <= 254, ports[se.node]!.count < 250 else { hosts.append(host); continue }
            let n = ports[se.node]!.count + 1
            let net = "10.\(t.hostSubnetOctet + k).\(n)", net6 = "fd77:\(String(k << 8 | n, radix: 16))"
            (host.interface, host.switchNode, host.switchPort) = (he.interface, se.node, se.interface)
            var port = Port(name: se.interface, mac: mac(se.node), addresses: [], gbps: l.gbps ?? t.hostGbps, peer: h,
                            delayNanoseconds: l.delayNanoseconds, lossPercent: l.lossPercent, lossSeed: l.lossSeed)
            if !routed {
                host.addresses = [Self.prefix("10.\(t.hostSubnetOctet).0.\(t.firstHost + i)/24")]
            } else {
                host.addresses = [Self.prefix("\(net).1/24")] + (t.ipv6 ? [Self.prefix("\(net6)::1/64")] : [])
                port.addresses = [Self.prefix("\(net).254/24")] + (t.ipv6 ? [Self.prefix("\(net6)::fe/64")] : [])
                host.gateways = port.addresses.map(\.address)
            }
            hosts.append(host)
            ports[se.node]!.append(port)
        }
        for (i, l) in Self.fabricLinks(t) {
            for (end, other, side) in [(l.a, l.b, 1), (l.b, l.a, 2)] {
                ports[end.node]!.append(Port(name: end.interface, mac: mac(end.node), addresses: routed && i < 256 ? Self.linkAddresses(i, side, t) : [],
                                             gbps: l.gbps ?? t.uplinkGbps, peer: other.node, delayNanoseconds: l.delayNanoseconds,
                                             lossPercent: l.lossPercent, lossSeed: l.lossSeed.map { $0 &+ UInt64(side - 1) }))
            }
        }
        self.hosts = hosts
        portsBySwitch = ports
    }

    static func prefix(_ s: String) -> IPPrefix { IPPrefix(s, strict: false)! }

    /// Switch-to-switch link i's addresses at its first (side 1) or second (side 2) endpoint.
    static func linkAddresses(_ i: Int, _ side: Int, _ t: Topology) -> [IPPrefix] {
        [prefix("10.255.\(i).\(side)/24")] + (t.ipv6 ? [prefix("fd77:0:\(String(i, radix: 16))::\(side)/64")] : [])
    }

    /// Switch-to-switch links with their number (1-based, topology order).
    static func fabricLinks(_ t: Topology) -> [(index: Int, link: Topology.Link)] {
        t.links.filter { t.kind($0.a.node) == .switch && t.kind($0.b.node) == .switch }.enumerated().map { ($0.offset + 1, $0.element) }
    }

    /// A switch's ports: host ports in host order, then switch-to-switch links.
    public func ports(of node: String) -> [Port] { portsBySwitch[node] ?? [] }

    public func host(_ name: String) -> Host { hosts.first { $0.name == name }! }

    /// Hops (switches) from every switch to `target`, over switch-to-switch links.
    func distances(to target: String, without failed: [Topology.Link] = []) -> [String: Int] {
        var dist = [target: 0]
        var frontier = [target]
        let links = Self.fabricLinks(topology).map(\.link).filter { !failed.contains($0) }
        while !frontier.isEmpty {
            var next: [String] = []
            for n in frontier {
                for l in links {
                    let other = l.a.node == n ? l.b.node : l.b.node == n ? l.a.node : nil
                    if let o = other, dist[o] == nil { dist[o] = dist[n]! + 1; next.append(o) }
                }
            }
            frontier = next
        }
        return dist
    }

    /// Switch `node`'s configuration, named `name`: its ports, and as a router a route to every
    /// other host subnet in `loadBalancing` (nil: the topology's mode). `failed` links carry no
    /// route (what a routing protocol converges to once they are down; valley-free: a switch
    /// whose path got longer has no route); the ports stay.
    /// The switch's own sections (`swiftfabric.config`, `Topology.SwitchOverrides`) replace the
    /// generated ones.
    public func switchConfig(_ node: String, name: String, loadBalancing: LoadBalancingMode? = nil,
                             without failed: [Topology.Link] = []) -> SwitchConfig {
        var c = generatedConfig(node, name: name, loadBalancing: loadBalancing, without: failed)
        topology.nodes.first { $0.name == node }?.overrides?.apply(to: &c)
        return c
    }

    func generatedConfig(_ node: String, name: String, loadBalancing: LoadBalancingMode?, without failed: [Topology.Link]) -> SwitchConfig {
        let mine = ports(of: node)
        var c = SwitchConfig(name: name, mode: topology.mode,
                             ports: mine.map { PortConfig(name: $0.name, mac: $0.mac, addresses: $0.addresses, speedGbps: $0.gbps,
                                                          delayNanoseconds: $0.delayNanoseconds, lossPercent: $0.lossPercent, lossSeed: $0.lossSeed) })
        c.buffers.mtu = topology.mtu(ofSwitch: node)
        guard topology.mode == .router else { return c }
        c.loadBalancing.mode = loadBalancing ?? topology.loadBalancing
        if let ns = topology.flowletIdleNanoseconds { c.loadBalancing.flowletIdleNanoseconds = ns }
        for h in hosts where h.switchNode != node {
            let dist = distances(to: h.switchNode, without: failed)
            guard let d = dist[node] else { continue }   // unreachable: no route
            // Valley-free, as BGP in a Clos fabric: a switch whose shortest path got longer
            // because of a failure withdraws the route instead of taking the detour (a spine
            // would send a leaf's traffic down through another leaf, and while the switches
            // converge one by one that detour loops, which PFC can turn into a deadlock).
            if !failed.isEmpty, distances(to: h.switchNode)[node] != d { continue }
            for subnet in h.addresses.map(\.network) {
                // Through every link to a neighbour one hop nearer, to its end of the link.
                let via = Self.fabricLinks(topology).compactMap { i, l -> IPAddress? in
                    guard !failed.contains(l) else { return nil }
                    let far = l.a.node == node ? (l.b.node, 2) : l.b.node == node ? (l.a.node, 1) : nil
                    guard let (peer, side) = far, dist[peer] == d - 1 else { return nil }
                    return Self.linkAddresses(i, side, topology).first { $0.address.isV4 == subnet.address.isV4 }?.address
                }
                if !via.isEmpty { c.routes.append(RouteConfig(prefix: subnet, nextHops: via)) }
            }
        }
        return c
    }
}

extension IPAddress {
    var isV4: Bool { if case .v4 = self { true } else { false } }
}
