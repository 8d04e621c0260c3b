// `ecmp_groups`, `routes`, `neighbours` and `load_balancing`: what the router forwards where.
// Next hops must be on a port's connected subnet (no route to nowhere).
import FabricCore
import FabricPacket

extension ConfigLoader {
    /// An ECMP group: its members and, if it has one, its own load-balancing mode.
    struct Group {
        var members: [IPAddress]
        var mode: LoadBalancingMode?
    }

    static func readGroups(_ node: Cursor, _ config: SwitchConfig) throws -> [String: Group] {
        var groups: [String: Group] = [:]
        for gc in try node.sequence() {
            let m = try gc.mapping(allowed: ["name", "members", "mode"])
            guard let n = m["name"], let mem = m["members"] else { throw gc.fail("an ECMP group needs 'name' and 'members'") }
            let gname = try n.string()
            guard groups[gname] == nil else { throw n.fail("duplicate ECMP group '\(gname)'") }
            let members = try mem.sequence()
            guard (1...FIB.maxECMPMembers).contains(members.count) else {
                throw mem.fail("an ECMP group has 1...\(FIB.maxECMPMembers) members, got \(members.count)")
            }
            var hops: [IPAddress] = []
            for mc in members {
                let a = try nextHop(mc, config)
                guard !hops.contains(a) else { throw mc.fail("next hop \(a) listed twice") }
                hops.append(a)
            }
            groups[gname] = Group(members: hops, mode: try m["mode"].map(loadBalancingMode))
        }
        return groups
    }

    static func readRoutes(_ node: Cursor, _ config: SwitchConfig, _ groups: [String: Group]) throws -> [RouteConfig] {
        var routes: [RouteConfig] = []
        var seen: Set<IPPrefix> = []
        for rc in try node.sequence() {
            let m = try rc.mapping(allowed: ["prefix", "via", "group"])
            guard let p = m["prefix"] else { throw rc.fail("a route needs 'prefix'") }
            let prefix = try p.prefix(strict: true)
            guard seen.insert(prefix).inserted else { throw p.fail("duplicate route \(prefix)") }
            // Connected routes win over static ones of the same prefix (as on any router); the
            // FIB would let the static one replace it, so it is refused here.
            if let port = config.ports.first(where: { $0.addresses.contains { $0.network == prefix } }) {
                throw p.fail("\(prefix) is port \(port.name)'s connected subnet; a static route to it would override the connected route")
            }
            var route = RouteConfig(prefix: prefix, nextHops: [])
            switch (m["via"], m["group"]) {
            case (let v?, nil):
                let list = try v.sequenceOrOne()
                guard (1...FIB.maxECMPMembers).contains(list.count) else { throw v.fail("'via' takes 1...\(FIB.maxECMPMembers) next hops") }
                for hc in list {
                    let a = try nextHop(hc, config)
                    guard !route.nextHops.contains(a) else { throw hc.fail("next hop \(a) listed twice") }
                    route.nextHops.append(a)
                }
            case (nil, let g?):
                let gname = try g.string()
                guard let group = groups[gname] else {
                    throw g.fail("no ECMP group named '\(gname)' (defined: \(groups.keys.sorted().joined(separator: ", ")))")
                }
                route.nextHops = group.members
                route.mode = group.mode
            default:
                throw rc.fail("a route needs exactly one of 'via' (next-hop addresses) or 'group' (an ECMP group name)")
            }
            for h in route.nextHops where h.isV4 != prefix.address.isV4 {
                throw rc.fail("next hop \(h) is not of the same address family as \(prefix)")
            }
            routes.append(route)
        }
        return routes
    }

    static func readNeighbours(_ node: Cursor, _ config: SwitchConfig) throws -> [NeighbourConfig] {
        var neighbours: [NeighbourConfig] = []
        var seen: Set<IPAddress> = []
        var v4 = 0
        for nc in try node.sequence() {
            let m = try nc.mapping(allowed: ["address", "mac"])
            guard let a = m["address"], let mac = m["mac"] else { throw nc.fail("a neighbour needs 'address' and 'mac'") }
            let addr = try a.ip()
            guard config.connectedPort(for: addr) != nil else { throw a.fail("neighbour \(addr) is not on any port's subnet") }
            if let port = ownPort(addr, config) { throw a.fail("\(addr) is the switch's own address (port \(port)), not a neighbour") }
            guard seen.insert(addr).inserted else { throw a.fail("neighbour \(addr) listed twice") }
            if addr.isV4 { v4 += 1 }
            let (count, limit) = addr.isV4 ? (v4, SwitchConfig.maxStaticNeighboursV4) : (seen.count - v4, SwitchConfig.maxStaticNeighboursV6)
            guard count <= limit else {
                throw a.fail("more than \(limit) static \(addr.isV4 ? "IPv4" : "IPv6") neighbours (the table keeps room to learn the others)")
            }
            neighbours.append(NeighbourConfig(address: addr, mac: try mac.mac()))
        }
        return neighbours
    }

    static func readLoadBalancing(_ node: Cursor) throws -> LoadBalancingConfig {
        let m = try node.mapping(allowed: ["mode", "flowlet_idle", "flowlet_table"])
        var lb = LoadBalancingConfig()
        if let md = m["mode"] { lb.mode = try loadBalancingMode(md) }
        if let t = m["flowlet_idle"] { lb.flowletIdleNanoseconds = try flowletIdle(t) }
        if let t = m["flowlet_table"] {
            let n = try t.int(64...1 << 20)
            guard n & (n - 1) == 0 else { throw t.fail("the flowlet table size must be a power of two, got \(n)") }
            lb.flowletTableSize = n
        }
        return lb
    }

    /// `flowlet_idle`: 1us...1s; a bare number is microseconds. Topology files use it too.
    public static func flowletIdle(_ c: Cursor) throws -> UInt64 {
        try c.nanoseconds(1_000...1_000_000_000, bare: .microseconds, example: "256us")
    }

    public static func loadBalancingMode(_ c: Cursor) throws -> LoadBalancingMode {
        LoadBalancingMode(name: try c.oneOf(LoadBalancingMode.allCases.map(\.name)))!
    }

    /// A next hop: an address on one of the ports' connected subnets, not the switch's own.
    static func nextHop(_ c: Cursor, _ config: SwitchConfig) throws -> IPAddress {
        let a = try c.ip()
        guard config.connectedPort(for: a) != nil else { throw c.fail("next hop \(a) is not on any port's subnet (route to nowhere)") }
        if let port = ownPort(a, config) { throw c.fail("next hop \(a) is the switch's own address (port \(port))") }
        return a
    }

    /// The name of the port that has `address` as its own, if one does.
    static func ownPort(_ address: IPAddress, _ config: SwitchConfig) -> String? {
        config.ports.first { $0.addresses.contains { $0.address == address } }?.name
    }
}
