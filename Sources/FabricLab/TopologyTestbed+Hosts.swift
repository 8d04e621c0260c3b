import FabricConfig
import FabricCore
import FabricPacket

/// Hosts by number, as workloads count them (host 1 is the first host of the topology), by the
/// names the CLI takes (`hostNumber`), the switch of a one-switch bed, and the summary for people.
extension TopologyTestbed {
    public var hostCount: Int { plan.hosts.count }
    func host(_ i: Int) -> AddressPlan.Host { plan.hosts[i - 1] }

    /// Host i's node name: `h<i>` on the star and the leaf-spine, the file's name on a topology.
    public func hostName(_ i: Int) -> String { host(i).name }

    /// The bed's hosts for a person: "h1...h8" when they are h1...hN in order, else every name.
    public var hostList: String {
        let names = plan.hosts.map(\.name)
        if names.count > 2, names == (1...names.count).map({ "h\($0)" }) { return "h1...h\(names.count)" }
        return names.joined(separator: ", ")
    }

    /// The number of the host called `name`: a host node of the topology (on the star and the
    /// leaf-spine h1...hN, host i being `h<i>`); on a topology whose hosts have other names,
    /// `h<i>` also names its i-th host (file order). Anything else is an error listing the hosts.
    public func hostNumber(_ name: String) throws -> Int {
        if let i = plan.hosts.firstIndex(where: { $0.name == name }) { return i + 1 }
        // Only when no host is itself called h<number>: there, h2 must mean the node h2.
        func number(_ s: Substring) -> Int? { s.first == "h" && s.dropFirst().allSatisfy({ $0.isASCII && $0.isNumber }) ? Int(s.dropFirst()) : nil }
        if let i = number(name[...]), i >= 1, i <= hostCount, !plan.hosts.contains(where: { number($0.name[...]) != nil }) {
            return i
        }
        throw TestbedError("test bed '\(prefix)' has no host '\(name)'; its hosts: \(hostList)")
    }

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

    /// The speed host i's link runs at as the switch's port emulates it (the topology's
    /// `speed`): what host i's sender times the quanta of the switch's PFC at (a veth reports a
    /// nominal 10 Gb/s whatever is emulated on it). Nil without one: the sender keeps its own
    /// default (the interface's 10 Gb/s), so a pause lasts 10x what the switch, timing an
    /// unshaped port at 100 Gb/s, counts on. Passing 100 Gb/s there (336 us per XOFF) left the
    /// 200 Mb/s bottleneck of the lossless incast half idle (goodput 0.096-0.10 Gb/s against
    /// 0.18-0.2): each sender resumed between the switch's refreshes. Why is not yet understood.
    public func hostLinkGbps(_ i: Int) -> Double? {
        let h = host(i)
        return plan.ports(of: h.switchNode).first { $0.name == h.switchPort }?.gbps
    }

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

    /// "vxlan 192.0.2.2 vni 100 mtu 1450" (the MTU once `up` made the device).
    func tunnelText(_ l: Topology.VXLANLink) -> String {
        "vxlan \(l.remote) vni \(l.vni)" + (vxlanMTUs[l.endpoint.description].map { " mtu \($0)" } ?? "")
    }

    /// Nodes, addresses, links, for a person.
    public var summary: String {
        let t = topology
        var s = "test bed '\(prefix)' (\(routed ? "routed" : "bridged")): \(t.switches.count) switch\(t.switches.count == 1 ? "" : "es"), "
            + "\(t.hosts.count) hosts, \(t.links.count) links" + (t.vxlanLinks.isEmpty ? "" : ", \(t.vxlanLinks.count) vxlan") + "\n"
        for sw in t.switches {
            let tunnels = t.vxlanLinks.filter { $0.endpoint.node == sw }
            var ports: [String] = []
            for p in plan.ports(of: sw) {
                var text = ([p.name] + p.addresses.map(\.description)).joined(separator: " ")
                if let g = p.gbps { text += " @\(Units.text(gbps: g))" }
                text += " -> \(p.peer)"
                // A part of a lab: a crossing link is a port of the plan, over a tunnel.
                if let l = tunnels.first(where: { $0.endpoint.interface == p.name }) { text += " over " + tunnelText(l) }
                ports.append(text)
            }
            // An L2 half's tunnels are ports of their own.
            if split == nil {
                ports += tunnels.map { l in
                    l.endpoint.interface + (vxlanMTUs[l.endpoint.description].map { " mtu \($0)" } ?? "") + " -> vxlan \(l.remote) vni \(l.vni)"
                }
            }
            s += "  \(namespace(sw)): " + ports.joined(separator: ", ") + "\n"
        }
        for h in plan.hosts where isLocal(h.name) {
            s += "  \(namespace(h.name)): \(h.interface) " + h.addresses.map(\.description).joined(separator: " ") + " \(h.mac)"
                + (h.gateways.isEmpty ? "" : " via " + h.gateways.map(\.description).joined(separator: ", ")) + "\n"
        }
        s += "  switch configuration\(t.switches.count == 1 ? "" : "s"): " + t.switches.map(configPath).joined(separator: " ") + "\n"
        return s
    }
}
