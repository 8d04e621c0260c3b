// Topology files, read with the switch configuration's Cursor (so errors read
// `file:line: links[3]: no node named 'spine3'`) and written back for `fabric testbed down`.
//
//   name:      ignored (containerlab files have one)
//   defaults:  mode (router | bridge), uplink_speed, host_speed, load_balancing, flowlet_idle,
//              host_subnets (10.B.0.0/16, default 10.1.0.0/16), ipv6 (true: dual-stack hosts),
//              mtu (of every link, default 1500), queues (of every veth, default 1)
//   nodes:     NAME: {kind: switch | host}, in the order hosts are numbered
//   links:     - {endpoints: [node:interface, node:interface], speed: 500M, delay: 2ms, loss: 0.1%,
//                 loss_seed: 7}   (delay and loss on the link's switch ports: Topology.Link)
import FabricConfig
import FabricCore

extension Topology {
    public static func load(file: String) throws -> Topology {
        try read(try Cursor.root(file: file))
    }

    public static func parse(_ text: String, file: String = "<topology>") throws -> Topology {
        try read(try Cursor.root(yaml: text, file: file))
    }

    static func read(_ root: Cursor) throws -> Topology {
        let top = try root.mapping(allowed: ["name", "defaults", "nodes", "links"])
        var t = Topology()
        var defaults: [String: Cursor] = [:]
        if let d = top["defaults"] {
            defaults = try d.mapping(allowed: ["mode", "uplink_speed", "host_speed", "load_balancing", "flowlet_idle", "host_subnets", "ipv6", "mtu", "queues"])
            if let v = defaults["mode"] { t.mode = try v.oneOf(ForwardingMode.self) }
            if let v = defaults["uplink_speed"] { t.uplinkGbps = try v.gbps() }
            if let v = defaults["host_speed"] { t.hostGbps = try v.gbps() }
            if let v = defaults["load_balancing"] { t.loadBalancing = try ConfigLoader.loadBalancingMode(v) }
            if let v = defaults["flowlet_idle"] { t.flowletIdleNanoseconds = try ConfigLoader.flowletIdle(v) }
            if let v = defaults["host_subnets"] { t.hostSubnetOctet = try hostSubnets(v) }
            if let v = defaults["ipv6"] { t.ipv6 = try v.bool() }
            if let v = defaults["mtu"] { t.mtu = try v.int(BufferConfig.smallestMTU...BufferConfig.largestMTU) }
            if let v = defaults["queues"] { t.queues = try v.int(1...Topology.maxQueues) }
        }
        guard let nodesNode = top["nodes"] else { throw root.fail("missing 'nodes' (a mapping of node names to {kind: switch} or {kind: host})") }
        var nodeCursors: [String: Cursor] = [:]
        for (name, c) in try nodesNode.entries(expected: "a mapping of node names to {kind: switch} or {kind: host}") {
            guard let k = try c.mapping(allowed: ["kind"])["kind"] else { throw c.fail("missing 'kind' (switch or host)") }
            t.nodes.append(Node(name: name, kind: try k.oneOf(Kind.self)))
            nodeCursors[name] = c
        }
        guard let linksNode = top["links"] else { throw root.fail("missing 'links' (a list of {endpoints: [node:interface, node:interface]})") }
        let linkCursors = try linksNode.sequence()
        for lc in linkCursors {
            let m = try lc.mapping(allowed: ["endpoints", "speed", "delay", "loss", "loss_seed"])
            guard let eps = try m["endpoints"]?.sequence(), eps.count == 2 else {
                throw lc.fail("expected {endpoints: [node:interface, node:interface]}")
            }
            let ends = try eps.map { e -> Endpoint in
                let parts = try e.string().split(separator: ":", omittingEmptySubsequences: false)
                guard parts.count == 2, !parts[0].isEmpty, !parts[1].isEmpty else { throw e.fail("endpoint '\(try e.string())' is not node:interface") }
                return Endpoint(node: String(parts[0]), interface: String(parts[1]))
            }
            var link = Link(a: ends[0], b: ends[1], gbps: try m["speed"]?.gbps())
            // The switch configuration's own reader, at the speed the link's ports will have.
            var port = PortConfig(name: ends[0].interface, speedGbps: t.gbps(of: link))
            try ConfigLoader.readLinkEmulation(m, into: &port)
            (link.delayNanoseconds, link.lossPercent, link.lossSeed) = (port.delayNanoseconds, port.lossPercent, port.lossSeed)
            t.links.append(link)
        }
        do {
            try t.validate()
        } catch {
            let at: Cursor
            switch error.place {
            case .topology: at = root
            case .defaults(let key): at = defaults[key] ?? root
            case .node(let n): at = nodeCursors[n] ?? nodesNode
            case .link(let i): at = linkCursors[i]
            }
            throw at.fail(error.message)
        }
        return t
    }

    /// `host_subnets: 10.B.0.0/16`.
    static func hostSubnets(_ c: Cursor) throws -> Int {
        let p = try c.prefix(strict: true)
        let parts = p.network.address.description.split(separator: ".").compactMap { Int($0) }
        guard p.length == 16, parts.count == 4, parts[0] == 10 else { throw c.fail("expected a /16 in 10.0.0.0/8 like 10.1.0.0/16, got '\(p)'") }
        return parts[1]
    }

    /// The topology as a file `load` reads back as an equal topology.
    public var yaml: String {
        var w = YAMLWriter()
        w.section("defaults") { w in
            w.field("mode", mode.rawValue)
            w.field("load_balancing", loadBalancing.name)
            w.field("host_subnets", "10.\(hostSubnetOctet).0.0/16")
            if ipv6 { w.field("ipv6", "true") }
            if mtu != 1500 { w.field("mtu", "\(mtu)") }
            if queues != 1 { w.field("queues", "\(queues)") }
            if let g = uplinkGbps { w.field("uplink_speed", Units.text(gbps: g)) }
            if let g = hostGbps { w.field("host_speed", Units.text(gbps: g)) }
            if let ns = flowletIdleNanoseconds { w.field("flowlet_idle", Units.text(nanoseconds: ns)) }
        }
        w.section("nodes") { w in
            for n in nodes { w.field(YAMLWriter.scalar(n.name), "{kind: \(n.kind.rawValue)}") }
        }
        w.section("links") { w in
            for l in links {
                w.item { w in
                    w.field("endpoints", YAMLWriter.list([l.a.description, l.b.description]))
                    if let g = l.gbps { w.field("speed", Units.text(gbps: g)) }
                    if l.delayNanoseconds > 0 { w.field("delay", Units.text(nanoseconds: l.delayNanoseconds)) }
                    if l.lossPercent > 0 { w.field("loss", Units.text(percent: l.lossPercent)) }
                    if l.lossPercent > 0, let seed = l.lossSeed { w.field("loss_seed", "\(seed)") }
                }
            }
        }
        return w.text
    }
}
