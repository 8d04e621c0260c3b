// containerlab topology files (containerlab.dev/manual/topo-def-file), read unchanged into a
// `Topology`, and the form in which a topology is written back (the bed's record). The file
// stays valid against containerlab's JSON schema: SwiftFabric's own settings live where the
// schema leaves room for them.
//
//   name, prefix, mgmt, settings, debug     accepted, not used (--prefix names the namespaces)
//   topology.nodes.NAME.kind                linux: a host; bridge, ovs-bridge: a learning bridge;
//                                           any other kind a SwiftFabric switch (with
//                                           --switch-kinds only those kinds; the others: hosts)
//   topology.defaults / kinds / groups      inherited as containerlab does: node > group > kind
//                                           > defaults (kind, labels)
//   labels: swiftfabric.role                switch | host | bridge, overriding the kind's role
//   labels: swiftfabric.config              a switch's own configuration sections (qos, buffers,
//                                           pfc, ecn, load_balancing) over the generated ones:
//                                           Topology+SwitchOverrides.swift
//   topology.defaults.labels: swiftfabric.  the bed's settings, as the old format's defaults:
//     mode, uplink_speed, host_speed, load_balancing, flowlet_idle, host_subnets, ipv6, mtu, queues,
//     first_host
//   links[i].endpoints                      "node:interface" (brief form) or, with type: veth,
//                                           {node, interface} objects; interfaces keep their names
//   links[i].mtu                            that link's MTU (both veth ends)
//   links[i] with type: vxlan               {endpoint: {node, interface, mac?}, remote, vni,
//                                           dst-port (or udp-port), mtu?}: a link to a node on
//                                           another machine (an L2 bed's switch or bridge only):
//                                           Topology+VXLAN.swift
//   links[i].vars.swiftfabric               {speed, delay, loss, loss_seed} of that link
//   ipv4/ipv6 on links, image, env, exec... container settings: ignored (the bed numbers every
//                                           link itself; ipv4/ipv6 get a note on stderr)
import FabricConfig
import FabricCore
import FabricPacket
import Foundation

extension Topology {
    /// Label keys start with this; what follows is a setting's name.
    static let labelPrefix = "swiftfabric."
    /// Settings of the whole bed: labels of `topology.defaults` only.
    static let bedSettings = ["mode", "uplink_speed", "host_speed", "load_balancing", "flowlet_idle", "host_subnets", "ipv6", "mtu", "queues", "first_host"]
    /// A node's settings, in the labels of any level (node, group, kind, defaults).
    static let nodeSettings = ["role", "config"]
    /// A link's settings, in `vars: {swiftfabric: {...}}`.
    static let linkSettings = ["speed", "delay", "loss", "loss_seed"]
    /// Every key a containerlab node, kind, group or `defaults` may have (its schema's
    /// `node-config`): a key outside it is a typo, as containerlab itself says.
    static let nodeConfigKeys = [
        "image", "image-pull-policy", "restart-policy", "kind", "license", "type", "group", "startup-config", "startup-delay",
        "enforce-startup-config", "suppress-startup-config", "auto-remove", "exec", "binds", "volumes", "ports", "env", "credentials",
        "env-files", "user", "hostname", "entrypoint", "cmd", "labels", "runtime", "mgmt-ipv4", "mgmt-ipv6", "network-mode",
        "link-apply-mode", "cpu", "memory", "cpu-set", "extras", "config", "stages", "dns", "certificate", "healthcheck", "components",
        "aliases", "shm-size", "cap-add", "privileged", "cgroupns-mode", "cgroup-parent", "pid-mode", "tmpfs", "security-opts",
        "sysctls", "devices",
    ]

    /// The role a node of containerlab kind `kind` gets without a `swiftfabric.role` label; nil
    /// for kinds that name no node of its own (`host`: the machine's own namespace).
    public static func role(ofKind kind: String, switchKinds: Set<String>? = nil) -> Role? {
        switch kind {
        case "linux": .host
        case "bridge", "ovs-bridge": .bridge
        case "host", "mgmt-net", "macvlan": nil
        default: switchKinds.map { $0.contains(kind) } ?? true ? .switch : .host
        }
    }

    static func readContainerlab(_ root: Cursor, switchKinds: Set<String>?, note: (String) -> Void) throws -> Topology {
        let top = try root.mapping(allowed: ["name", "prefix", "mgmt", "topology", "settings", "debug"])
        guard let topoNode = top["topology"] else {
            throw root.fail("missing 'topology' (a containerlab file: name: LAB, topology: {nodes: ..., links: ...})")
        }
        let topo = try topoNode.mapping(allowed: ["nodes", "groups", "kinds", "defaults", "links"])
        func settings(_ c: Cursor?) throws -> [String: Cursor] { try c.map { try $0.mapping(allowed: nodeConfigKeys) } ?? [:] }
        func named(_ c: Cursor?, _ what: String) throws -> [String: [String: Cursor]] {
            var out: [String: [String: Cursor]] = [:]
            for (k, v) in try c?.entries(expected: "a mapping of \(what) names to node settings") ?? [] { out[k] = try settings(v) }
            return out
        }
        let defaults = try settings(topo["defaults"])
        let kinds = try named(topo["kinds"], "kind"), groups = try named(topo["groups"], "group")

        var t = Topology()
        // The bed's settings: SwiftFabric labels of `defaults`.
        var bed: [String: Cursor] = [:]
        for (name, c) in try swiftFabricLabels(defaults["labels"]) where !nodeSettings.contains(name) { bed[name] = c }
        try apply(bed, to: &t)

        guard let nodesNode = topo["nodes"] else { throw topoNode.fail("missing 'nodes' (a mapping of node names to {kind: ...})") }
        var nodeCursors: [String: Cursor] = [:]
        for (name, c) in try nodesNode.entries(expected: "a mapping of node names to {kind: ...}") {
            // `nodes: {n1: }` is a node with nothing but the defaults.
            var own: [String: Cursor] = [:]
            if case .scalar(let v) = c.node {
                guard ["", "~", "null"].contains(v.string) else { throw c.fail("expected node settings like {kind: linux}, got '\(v.string)'") }
            } else {
                own = try settings(c)
            }
            var group: [String: Cursor] = [:]
            if let g = own["group"] {
                guard let found = groups[try g.string()] else { throw g.fail("no group named '\(try g.string())' in topology.groups") }
                group = found
            }
            guard let kc = own["kind"] ?? group["kind"] ?? defaults["kind"] else {
                throw c.fail("no kind (linux for a host, bridge for a learning bridge, a switch kind like nokia_srlinux), nor one in topology.defaults")
            }
            let kind = try kc.string()
            // Labels as containerlab merges them: the node's over its group's, over its kind's, over the defaults'.
            var role: Role?
            var roleCursor = kc
            var config: Cursor?
            for (level, place) in [(defaults, ""), (kinds[kind] ?? [:], "kinds.\(kind)"), (group, "a group"), (own, "a node")] {
                for (setting, lc) in try swiftFabricLabels(level["labels"]) {
                    switch setting {
                    case "role": (role, roleCursor) = (try lc.oneOf(Role.self), lc)
                    case "config": config = lc
                    default:
                        if !place.isEmpty { throw lc.fail("\(labelPrefix)\(setting) is a setting of the whole bed: give it in topology.defaults.labels, not in \(place)") }
                    }
                }
            }
            guard let r = role ?? Self.role(ofKind: kind, switchKinds: switchKinds) else {
                throw roleCursor.fail("kind '\(kind)' is the machine's own network, not a node; a test bed's nodes each have a namespace of their own")
            }
            var node = Node(name: name, role: r, labKind: kind)
            // A host runs no switch: a config inherited from the defaults or its kind is not for it.
            if let config, r != .host {
                let base = URL(fileURLWithPath: root.file).deletingLastPathComponent()
                let path = URL(fileURLWithPath: try config.string(), relativeTo: base).standardizedFileURL.path
                guard FileManager.default.fileExists(atPath: path) else {
                    throw config.fail("no file \(path) (a switch configuration with some of: \(SwitchOverrides.sections.joined(separator: ", ")); "
                                      + "a relative path starts at the topology file)")
                }
                node.overrides = try SwitchOverrides.load(file: path)
            }
            t.nodes.append(node)
            nodeCursors[name] = c
        }
        if bed["mode"] == nil, t.nodes.contains(where: { $0.role == .bridge }) { t.mode = .bridge }

        let linkCursors = try topo["links"]?.sequence() ?? []
        var veths: [Cursor] = []
        for lc in linkCursors {
            let type = try lc.entries(expected: "a link like {endpoints: [\"node:interface\", \"node:interface\"]}").first { $0.key == "type" }?.value
            if let type, try type.string() == "vxlan" {
                t.vxlanLinks.append(try readVXLANLink(lc, in: t, note: note))
                continue
            }
            if let type, try type.string() != "veth" {
                throw type.fail("a link of type '\(try type.string())' has no place in a test bed; links are veths (type: veth, or the brief form), "
                                + "or, to a node on another machine, type: vxlan")
            }
            let m = try lc.mapping(allowed: ["type", "endpoints", "mtu", "ipv4", "ipv6", "vars", "labels"])
            let extended = type != nil
            guard let eps = try m["endpoints"]?.sequence(), eps.count == 2 else {
                throw lc.fail("expected endpoints: [\"node:interface\", \"node:interface\"]")
            }
            let ends = try eps.map { e -> Endpoint in
                if extended {
                    let em = try e.mapping(allowed: ["node", "interface", "mac", "ipv4", "ipv6", "vars"])
                    guard let n = em["node"], let i = em["interface"] else { throw e.fail("expected {node: NAME, interface: NAME}") }
                    for key in ["ipv4", "ipv6"] where em[key] != nil { note(em[key]!.fail("ignored: the test bed numbers every link itself").description) }
                    return Endpoint(node: try n.string(), interface: try i.string())
                }
                let parts = try e.string().split(separator: ":", omittingEmptySubsequences: false)
                guard parts.count == 2, !parts[0].isEmpty, !parts[1].isEmpty else { throw e.fail("endpoint '\(try e.string())' is not node:interface") }
                return Endpoint(node: String(parts[0]), interface: String(parts[1]))
            }
            for key in ["ipv4", "ipv6"] where m[key] != nil { note(m[key]!.fail("ignored: the test bed numbers every link itself").description) }
            // `vars` belongs to containerlab's config engine; only its `swiftfabric` entry is ours.
            var emulation: [String: Cursor] = [:]
            for (key, v) in try m["vars"]?.entries(expected: "a mapping of link variables") ?? [] where key.hasPrefix("swiftfabric") {
                guard key == "swiftfabric" else { throw v.fail("a link's SwiftFabric settings go in vars: {swiftfabric: {\(linkSettings.joined(separator: ", "))}}") }
                emulation = try v.mapping(allowed: linkSettings)
            }
            var link = Link(a: ends[0], b: ends[1], gbps: try emulation["speed"]?.gbps(),
                            mtu: try m["mtu"]?.int(BufferConfig.smallestMTU...BufferConfig.largestMTU))
            // The switch configuration's own reader, at the speed the link's ports will have.
            if t.kind(ends[0].node) != nil && t.kind(ends[1].node) != nil {
                var port = PortConfig(name: ends[0].interface, speedGbps: t.gbps(of: link))
                try ConfigLoader.readLinkEmulation(emulation, into: &port)
                (link.delayNanoseconds, link.lossPercent, link.lossSeed) = (port.delayNanoseconds, port.lossPercent, port.lossSeed)
            }
            t.links.append(link)
            veths.append(lc)
        }
        let vethEnds = Set(t.links.flatMap { [$0.a.description, $0.b.description] })
        for (l, c) in zip(t.vxlanLinks, linkCursors.filter { c in !veths.contains { $0.path == c.path } }) {
            let place = (try? c.mapping(allowed: vxlanKeys)["endpoint"]) ?? c
            guard !vethEnds.contains(l.endpoint.description), t.vxlanLinks.filter({ $0.endpoint == l.endpoint }).count == 1 else {
                throw place.fail("endpoint \(l.endpoint) used twice")
            }
        }
        try t.validated { place in
            switch place {
            case .topology: topoNode
            case .defaults(let key): bed[key] ?? topo["defaults"] ?? topoNode
            case .node(let n): nodeCursors[n] ?? nodesNode
            case .link(let i): veths[i]
            }
        }
        return t
    }

    /// The keys of containerlab's `link-type-vxlan` (`udp-port`: containerlab's reader's name
    /// for its schema's `dst-port`).
    static let vxlanKeys = ["type", "endpoint", "remote", "vni", "dst-port", "udp-port", "src-port", "mtu", "vars", "labels"]

    /// A `type: vxlan` link (Topology+VXLAN.swift), checked against the nodes read so far.
    static func readVXLANLink(_ lc: Cursor, in t: Topology, note: (String) -> Void) throws -> VXLANLink {
        let m = try lc.mapping(allowed: vxlanKeys)
        guard let ec = m["endpoint"] else {
            throw lc.fail("a vxlan link has one endpoint, on this machine: endpoint: {node: NAME, interface: NAME}")
        }
        let em = try ec.mapping(allowed: ["node", "interface", "mac", "ipv4", "ipv6", "vars"])
        guard let n = em["node"], let i = em["interface"] else { throw ec.fail("expected {node: NAME, interface: NAME}") }
        let endpoint = Endpoint(node: try n.string(), interface: try i.string())
        guard let role = t.role(endpoint.node) else { throw n.fail("no node named '\(endpoint.node)'") }
        guard role != .host else {
            throw n.fail("\(endpoint.node) is a host, which has exactly one link, to a switch; a vxlan link ends on a switch or bridge node "
                         + "(put a bridge between the host and the tunnel)")
        }
        guard (1...15).contains(endpoint.interface.count),
              endpoint.interface.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "-" || $0 == "_") }) else {
            throw i.fail("interface '\(endpoint.interface)' must be 1-15 letters, digits, '-' or '_'")
        }
        var mac: String?
        if let mc = em["mac"] {
            guard MACAddress(try mc.string()) != nil else { throw mc.fail("expected a MAC like 02:00:00:00:00:01, got '\(try mc.string())'") }
            mac = try mc.string()
        }
        for key in ["ipv4", "ipv6"] where em[key] != nil { note(em[key]!.fail("ignored: the test bed numbers every link itself").description) }
        guard let rc = m["remote"] else { throw lc.fail("missing 'remote': the other machine's underlay address (e.g. remote: 192.0.2.2)") }
        let remote = try rc.string()
        guard IPAddress(remote) != nil else { throw rc.fail("expected the other machine's IPv4 or IPv6 address, got '\(remote)'") }
        guard let vc = m["vni"] else { throw lc.fail("missing 'vni': the VXLAN network identifier, 1...16777215, the same on both machines") }
        let vni = try vc.int(1...16_777_215)
        if m["dst-port"] != nil && m["udp-port"] != nil { throw m["udp-port"]!.fail("give the UDP port once: dst-port (or udp-port)") }
        let port = try (m["dst-port"] ?? m["udp-port"])?.int(1...65535) ?? VXLANLink.ianaPort
        if let sc = m["src-port"] { note(sc.fail("ignored: the kernel picks the source port from the inner flow's hash").description) }
        let mtu = try m["mtu"]?.int(BufferConfig.smallestMTU...BufferConfig.largestMTU)
        guard t.mode == .bridge else {
            throw (m["type"] ?? lc).fail("a vxlan link joins the L2 domains of two machines' halves of a lab: it needs an L2 bed "
                                         + "(swiftfabric.mode: bridge, or a bridge node); a routed bed numbers only the links within it")
        }
        return VXLANLink(endpoint: endpoint, remote: remote, vni: vni, udpPort: port, mtu: mtu, mac: mac)
    }

    /// The `swiftfabric.*` entries of a `labels` mapping, by setting name; an unknown one is
    /// refused (a typo would otherwise be silently ignored).
    static func swiftFabricLabels(_ labels: Cursor?) throws -> [(String, Cursor)] {
        try (labels?.entries(expected: "a mapping of label names to values") ?? []).compactMap { key, c in
            guard key.hasPrefix(labelPrefix) else { return nil }
            let name = String(key.dropFirst(labelPrefix.count))
            guard nodeSettings.contains(name) || bedSettings.contains(name) else {
                throw c.fail("unknown label '\(key)' (SwiftFabric's are \(labelPrefix)role, \(labelPrefix)config and, in topology.defaults, "
                             + bedSettings.map { labelPrefix + $0 }.joined(separator: ", ") + ")")
            }
            return (name, c)
        }
    }

    /// The topology as a containerlab file that `load` reads back as an equal topology (and
    /// containerlab's schema accepts): its settings as labels of `defaults`, its links' in `vars`.
    public var yaml: String {
        var w = YAMLWriter()
        w.field("name", "swiftfabric")
        w.section("topology") { w in
            var bed = [("mode", mode.rawValue), ("load_balancing", loadBalancing.name), ("host_subnets", "10.\(hostSubnetOctet).0.0/16")]
            // Label values are strings or numbers: `true` must be quoted.
            if ipv6 { bed.append(("ipv6", "\"true\"")) }
            if mtu != 1500 { bed.append(("mtu", "\(mtu)")) }
            if queues != 1 { bed.append(("queues", "\(queues)")) }
            if firstHost != 1 { bed.append(("first_host", "\(firstHost)")) }
            if let g = uplinkGbps { bed.append(("uplink_speed", Units.text(gbps: g))) }
            if let g = hostGbps { bed.append(("host_speed", Units.text(gbps: g))) }
            if let ns = flowletIdleNanoseconds { bed.append(("flowlet_idle", Units.text(nanoseconds: ns))) }
            w.section("defaults") { w in
                w.section("labels") { w in
                    for (k, v) in bed { w.field(Self.labelPrefix + k, v.hasPrefix("\"") ? v : YAMLWriter.scalar(v)) }
                }
            }
            w.section("nodes") { w in
                for n in nodes {
                    var labels: [String] = []
                    if Self.role(ofKind: n.labKind) != n.role { labels.append("\(Self.labelPrefix)role: \(n.role.rawValue)") }
                    if let o = n.overrides { labels.append("\(Self.labelPrefix)config: \(YAMLWriter.scalar(o.file))") }
                    w.field(YAMLWriter.scalar(n.name), "{kind: \(YAMLWriter.scalar(n.labKind))" + (labels.isEmpty ? "" : ", labels: {\(labels.joined(separator: ", "))}") + "}")
                }
            }
            w.section("links") { w in
                for l in links {
                    w.item { w in
                        w.field("endpoints", YAMLWriter.list([l.a.description, l.b.description]))
                        if let m = l.mtu { w.field("mtu", "\(m)") }
                        var vars: [String] = []
                        if let g = l.gbps { vars.append("speed: \(Units.text(gbps: g))") }
                        if l.delayNanoseconds > 0 { vars.append("delay: \(Units.text(nanoseconds: l.delayNanoseconds))") }
                        if l.lossPercent > 0 { vars.append("loss: \(YAMLWriter.scalar(Units.text(percent: l.lossPercent)))") }
                        if l.lossPercent > 0, let seed = l.lossSeed { vars.append("loss_seed: \(seed)") }
                        if !vars.isEmpty { w.field("vars", "{swiftfabric: {\(vars.joined(separator: ", "))}}") }
                    }
                }
                for l in vxlanLinks {
                    w.item { w in
                        w.field("type", "vxlan")
                        let mac = l.mac.map { ", mac: \"\($0)\"" } ?? ""
                        w.field("endpoint", "{node: \(YAMLWriter.scalar(l.endpoint.node)), interface: \(YAMLWriter.scalar(l.endpoint.interface))\(mac)}")
                        w.field("remote", YAMLWriter.scalar(l.remote))
                        w.field("vni", "\(l.vni)")
                        w.field("dst-port", "\(l.udpPort)")
                        if let m = l.mtu { w.field("mtu", "\(m)") }
                    }
                }
            }
        }
        return w.text
    }
}
