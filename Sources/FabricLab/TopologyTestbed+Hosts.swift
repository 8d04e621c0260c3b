import FabricConfig
import FabricCore
import FabricPacket

/// Hosts by number, as workloads and the CLI name them (h1 is host 1: the first host of the
/// topology), the switch of a one-switch bed, and the summary for people.
extension TopologyTestbed {
    public var hostCount: Int { plan.hosts.count }
    func host(_ i: Int) -> AddressPlan.Host { plan.hosts[i - 1] }

    public func hostNamespace(_ i: Int) -> String { namespace(host(i).name) }
    public func hostInterface(_ i: Int) -> String { host(i).interface }
    public func hostMAC(_ i: Int) -> String { host(i).mac.description }
    /// Host i's IPv4 address (no prefix length).
    public func hostAddress(_ i: Int) -> String { Self.pick(host(i).addresses.map(\.address), v4: true) }
    /// Host i's IPv6 address (dual-stack topologies: a routed star).
    public func hostAddress6(_ i: Int) -> String { Self.pick(host(i).addresses.map(\.address), v4: false) }
    /// The switch port host i routes through (router mode), IPv4 and IPv6.
    public func gatewayAddress(_ i: Int) -> String { Self.pick(host(i).gateways, v4: true) }
    public func gatewayAddress6(_ i: Int) -> String { Self.pick(host(i).gateways, v4: false) }

    public func hostAddress(_ name: String) -> String { Self.pick(plan.host(name).addresses.map(\.address), v4: true) }
    public func gatewayAddress(_ name: String) -> String { Self.pick(plan.host(name).gateways, v4: true) }

    static func pick(_ list: [IPAddress], v4: Bool) -> String {
        guard let a = list.first(where: { $0.isV4 == v4 }) else { preconditionFailure("no IPv\(v4 ? 4 : 6) address among \(list)") }
        return a.description
    }

    /// The first switch: a star's only one.
    public var switchNode: String { topology.switches[0] }
    public var switchNamespace: String { namespace(switchNode) }
    /// The first switch's ports (a star's `h1`...`hN`).
    public var switchPorts: [String] { plan.ports(of: switchNode).map(\.name) }
    /// The first switch's configuration file.
    public var configPath: String { configPath(switchNode) }
    /// The first switch's configuration.
    public func switchConfig() -> SwitchConfig { switchConfig(switchNode) }

    /// Nodes, addresses, links, for a person.
    public var summary: String {
        let t = topology
        var s = "test bed '\(prefix)' (\(routed ? "routed" : "bridged")): \(t.switches.count) switch\(t.switches.count == 1 ? "" : "es"), "
            + "\(t.hosts.count) hosts, \(t.links.count) links\n"
        for sw in t.switches {
            s += "  \(namespace(sw)): " + plan.ports(of: sw).map { p in
                ([p.name] + p.addresses.map(\.description) + (p.gbps.map { ["@\(Units.text(gbps: $0))"] } ?? [])).joined(separator: " ") + " -> \(p.peer)"
            }.joined(separator: ", ") + "\n"
        }
        for h in plan.hosts {
            s += "  \(namespace(h.name)): \(h.interface) " + h.addresses.map(\.description).joined(separator: " ") + " \(h.mac)"
                + (h.gateways.isEmpty ? "" : " via " + h.gateways.map(\.description).joined(separator: ", ")) + "\n"
        }
        s += "  switch configuration\(t.switches.count == 1 ? "" : "s"): " + t.switches.map(configPath).joined(separator: " ") + "\n"
        return s
    }
}
