// Topology files, read with the switch configuration's Cursor (so errors read
// `file:line: topology.links[3]: no node named 'spine3'`). A file with a `topology:` key is a
// containerlab file (Topology+Containerlab.swift, also the form topologies are written in);
// anything else is SwiftFabric's old format, still read, with a deprecation note:
//
//   name:      ignored
//   defaults:  mode (router | bridge), uplink_speed, host_speed, load_balancing, flowlet_idle,
//              host_subnets (10.B.0.0/16, default 10.1.0.0/16), ipv6 (true: dual-stack hosts),
//              mtu (of every link, default 1500), queues (of every veth, default 1)
//   nodes:     NAME: {kind: switch | host}, in the order hosts are numbered
//   links:     - {endpoints: [node:interface, node:interface], speed: 500M, delay: 2ms, loss: 0.1%,
//                 loss_seed: 7}   (delay and loss on the link's switch ports: Topology.Link)
import FabricConfig
import FabricCore
import Foundation

extension Topology {
    /// Reads a containerlab file or an old-format file (`note` gets the deprecation note, and
    /// what a containerlab file says that the bed ignores). `switchKinds`: the containerlab
    /// kinds that become switches (nil: every kind but linux and the bridges).
    public static func load(file: String, switchKinds: Set<String>? = nil, note: (String) -> Void = Topology.printNote) throws -> Topology {
        try read(try Cursor.root(file: file), switchKinds: switchKinds, note: note)
    }

    public static func parse(_ text: String, file: String = "<topology>", switchKinds: Set<String>? = nil,
                             note: (String) -> Void = Topology.printNote) throws -> Topology {
        try read(try Cursor.root(yaml: text, file: file), switchKinds: switchKinds, note: note)
    }

    /// Notes go to stderr, one line each.
    public static func printNote(_ s: String) {
        FileHandle.standardError.write(Data("note: \(s)\n".utf8))
    }

    static func read(_ root: Cursor, switchKinds: Set<String>?, note: (String) -> Void) throws -> Topology {
        let keys = Set(try root.entries(expected: "a containerlab file (name: LAB, topology: {nodes: ..., links: ...})").map(\.key))
        if keys.contains("topology") || keys.isDisjoint(with: ["defaults", "nodes", "links"]) {
            return try readContainerlab(root, switchKinds: switchKinds, note: note)
        }
        note("\(root.file): SwiftFabric's own topology format is deprecated; write it as a containerlab file "
             + "(`fabric testbed convert \(root.file)` prints one; README, \"containerlab files\")")
        return try readOldFormat(root)
    }

    static func readOldFormat(_ root: Cursor) throws -> Topology {
        let top = try root.mapping(allowed: ["name", "defaults", "nodes", "links"])
        var t = Topology()
        var defaults: [String: Cursor] = [:]
        if let d = top["defaults"] {
            defaults = try d.mapping(allowed: bedSettings)
            try apply(defaults, to: &t)
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
        try t.validated { place in
            switch place {
            case .topology: root
            case .defaults(let key): defaults[key] ?? root
            case .node(let n): nodeCursors[n] ?? nodesNode
            case .link(let i): linkCursors[i]
            }
        }
        return t
    }

    /// The bed's settings (the old format's `defaults`, a containerlab file's
    /// `swiftfabric.*` labels of `topology.defaults`), by name.
    static func apply(_ d: [String: Cursor], to t: inout Topology) throws {
        if let v = d["mode"] { t.mode = try v.oneOf(ForwardingMode.self) }
        if let v = d["uplink_speed"] { t.uplinkGbps = try v.gbps() }
        if let v = d["host_speed"] { t.hostGbps = try v.gbps() }
        if let v = d["load_balancing"] { t.loadBalancing = try ConfigLoader.loadBalancingMode(v) }
        if let v = d["flowlet_idle"] { t.flowletIdleNanoseconds = try ConfigLoader.flowletIdle(v) }
        if let v = d["host_subnets"] { t.hostSubnetOctet = try hostSubnets(v) }
        if let v = d["ipv6"] { t.ipv6 = try v.bool() }
        if let v = d["mtu"] { t.mtu = try v.int(BufferConfig.smallestMTU...BufferConfig.largestMTU) }
        if let v = d["queues"] { t.queues = try v.int(1...Topology.maxQueues) }
        if let v = d["first_host"] { t.firstHost = try v.int(1...254) }
    }

    /// `validate()`, its problem reported at the file's place for it.
    func validated(at place: (Problem.Place) -> Cursor) throws {
        do {
            try validate()
        } catch {
            throw place(error.place).fail(error.message)
        }
    }

    /// `host_subnets: 10.B.0.0/16`.
    static func hostSubnets(_ c: Cursor) throws -> Int {
        let p = try c.prefix(strict: true)
        let parts = p.network.address.description.split(separator: ".").compactMap { Int($0) }
        guard p.length == 16, parts.count == 4, parts[0] == 10 else { throw c.fail("expected a /16 in 10.0.0.0/8 like 10.1.0.0/16, got '\(p)'") }
        return parts[1]
    }
}
