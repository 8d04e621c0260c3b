import FabricCore
import Foundation
import Yams

/// A multi-switch test bed described the way containerlab describes labs: nodes with a kind
/// (switch or host) and links between `node:interface` endpoints. From it come the
/// namespaces, veths, addresses, each switch's configuration (routes over every shortest path,
/// ECMP where there are several) and the switches themselves (`TopologyTestbed`).
///
/// ```yaml
/// defaults: {uplink_speed: 1G, host_speed: 1G, load_balancing: flowlet}
/// nodes:
///   spine1: {kind: switch}
///   leaf1: {kind: switch}
///   h1: {kind: host}
/// links:
///   - endpoints: [leaf1:s1, spine1:l1]
///     speed: 500M        # optional: this link's emulated speed, both ends
///   - endpoints: [h1:eth0, leaf1:h1]
/// ```
public struct Topology: Sendable {
    public enum Kind: String, Sendable { case `switch`, host }
    public struct Node: Sendable, Equatable {
        public var name: String
        public var kind: Kind
    }
    public struct Endpoint: Sendable, Equatable, CustomStringConvertible {
        public var node: String
        public var interface: String
        public var description: String { "\(node):\(interface)" }
    }
    public struct Link: Sendable {
        public var a: Endpoint
        public var b: Endpoint
        public var speed: String?
    }

    public var nodes: [Node] = []
    public var links: [Link] = []
    /// Emulated speeds of switch-to-switch ports and of switch ports facing hosts (nil: none).
    public var uplinkSpeed: String?
    public var hostSpeed: String?
    public var loadBalancing: LoadBalancingMode = .ecmp
    /// The switches' flowlet idle timer, e.g. "2ms" (nil: the switch default, 256 us).
    public var flowletIdle: String?

    public init() {}

    public var switches: [String] { nodes.filter { $0.kind == .switch }.map(\.name) }
    public var hosts: [String] { nodes.filter { $0.kind == .host }.map(\.name) }
    public func kind(_ node: String) -> Kind? { nodes.first { $0.name == node }?.kind }

    /// The shipped default: `spines` spines, `leaves` leaves, every leaf linked to every spine,
    /// `hostsPerLeaf` hosts on each leaf (h1... numbered leaf by leaf).
    /// Its switches' flowlet idle timer is 2 ms, not the 256 us of a hardware switch: the idle
    /// timer must exceed the difference in delay between paths, and through 3 software
    /// switches sharing 2 cores with their hosts that reaches milliseconds (one-way p99 of
    /// 6-14 ms measured). With 256 us, 0.2-3% of the packets arrived reordered in flowlet mode.
    public static func leafSpine(spines: Int = 2, leaves: Int = 2, hostsPerLeaf: Int = 4, uplinkSpeed: String? = "1G",
                                 hostSpeed: String? = nil, flowletIdle: String? = "2ms") -> Topology {
        var t = Topology()
        t.flowletIdle = flowletIdle
        t.uplinkSpeed = uplinkSpeed
        t.hostSpeed = hostSpeed
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

    public static func load(file: String) throws -> Topology {
        guard let text = try? String(contentsOfFile: file, encoding: .utf8) else { throw TestbedError("\(file): cannot read the file") }
        return try parse(text, file: file)
    }

    public static func parse(_ text: String, file: String = "<topology>") throws -> Topology {
        func fail(_ m: String) -> TestbedError { TestbedError("\(file): \(m)") }
        let any: Any?
        do { any = try Yams.load(yaml: text) } catch { throw fail("not valid YAML: \(error)") }
        guard let top = any as? [String: Any] else { throw fail("expected a mapping with 'nodes' and 'links'") }
        for k in top.keys where !["name", "defaults", "nodes", "links"].contains(k) {
            throw fail("unknown key '\(k)' (expected one of: name, defaults, nodes, links)")
        }
        var t = Topology()
        if let d = top["defaults"] {
            guard let dm = d as? [String: Any] else { throw fail("defaults: expected a mapping") }
            for (k, v) in dm {
                switch k {
                case "uplink_speed": t.uplinkSpeed = "\(v)"
                case "host_speed": t.hostSpeed = "\(v)"
                case "flowlet_idle": t.flowletIdle = "\(v)"
                case "load_balancing":
                    guard let m = LoadBalancingMode(name: "\(v)") else {
                        throw fail("defaults.load_balancing: expected one of \(LoadBalancingMode.allCases.map(\.name).joined(separator: ", ")), got '\(v)'")
                    }
                    t.loadBalancing = m
                default: throw fail("defaults.\(k): unknown key (expected one of: uplink_speed, host_speed, load_balancing, flowlet_idle)")
                }
            }
        }
        guard let nodes = top["nodes"] as? [String: Any], !nodes.isEmpty else { throw fail("nodes: expected a mapping of node names") }
        // In the file's order (host i of the workloads is the i-th host listed).
        var order = nodes.keys.sorted(by: Self.naturalOrder)
        if let root = try? Yams.compose(yaml: text), let listed = root.mapping?["nodes"]?.mapping {
            let keys = Array(listed.keys.compactMap(\.string))
            if Set(keys) == Set(order) { order = keys }
        }
        for name in order {
            guard let nm = nodes[name] as? [String: Any], let k = nm["kind"] as? String else {
                throw fail("nodes.\(name): expected {kind: switch} or {kind: host}")
            }
            for key in nm.keys where key != "kind" { throw fail("nodes.\(name).\(key): unknown key (expected: kind)") }
            guard let kind = Kind(rawValue: k) else { throw fail("nodes.\(name).kind: expected switch or host, got '\(k)'") }
            t.nodes.append(Node(name: name, kind: kind))
        }
        guard let links = top["links"] as? [Any] else { throw fail("links: expected a list of {endpoints: [a:if, b:if]}") }
        for (i, l) in links.enumerated() {
            guard let lm = l as? [String: Any], let eps = lm["endpoints"] as? [Any], eps.count == 2 else {
                throw fail("links[\(i)]: expected {endpoints: [node:interface, node:interface]}")
            }
            for key in lm.keys where !["endpoints", "speed"].contains(key) { throw fail("links[\(i)].\(key): unknown key (expected: endpoints, speed)") }
            let parsed = try eps.map { e -> Endpoint in
                let parts = "\(e)".split(separator: ":", omittingEmptySubsequences: false)
                guard parts.count == 2, !parts[0].isEmpty, !parts[1].isEmpty else {
                    throw fail("links[\(i)]: endpoint '\(e)' is not node:interface")
                }
                return Endpoint(node: String(parts[0]), interface: String(parts[1]))
            }
            t.links.append(Link(a: parsed[0], b: parsed[1], speed: lm["speed"].map { "\($0)" }))
        }
        try t.validate(file: file)
        return t
    }

    /// The topology as YAML that `parse` reads back.
    public var yaml: String {
        var y = "defaults: {"
        var d: [String] = ["load_balancing: \(loadBalancing.name)"]
        if let u = uplinkSpeed { d.append("uplink_speed: \(u)") }
        if let h = hostSpeed { d.append("host_speed: \(h)") }
        if let f = flowletIdle { d.append("flowlet_idle: \(f)") }
        y += d.joined(separator: ", ") + "}\nnodes:\n"
        for n in nodes { y += "  \(n.name): {kind: \(n.kind.rawValue)}\n" }
        y += "links:\n"
        for l in links { y += "  - {endpoints: [\(l.a), \(l.b)]\(l.speed.map { ", speed: \($0)" } ?? "")}\n" }
        return y
    }

    /// spine2 before spine10.
    static func naturalOrder(_ a: String, _ b: String) -> Bool { a.compare(b, options: .numeric) == .orderedAscending }

    public func validate(file: String = "<topology>") throws {
        func fail(_ m: String) -> TestbedError { TestbedError("\(file): \(m)") }
        guard !switches.isEmpty else { throw fail("no node of kind switch") }
        for n in nodes {
            guard !n.name.isEmpty, n.name.count <= 12, n.name.allSatisfy({ $0.isLetter || $0.isNumber || $0 == "-" }) else {
                throw fail("node '\(n.name)': names are 1-12 letters, digits or '-'")
            }
        }
        var used: Set<String> = []
        for (i, l) in links.enumerated() {
            for e in [l.a, l.b] {
                guard kind(e.node) != nil else { throw fail("links[\(i)]: no node named '\(e.node)'") }
                guard e.interface.count <= 15, e.interface.allSatisfy({ $0.isLetter || $0.isNumber || $0 == "-" || $0 == "_" }) else {
                    throw fail("links[\(i)]: interface '\(e.interface)' must be 1-15 letters, digits, '-' or '_'")
                }
                guard used.insert(e.description).inserted else { throw fail("links[\(i)]: endpoint \(e) used twice") }
            }
            if l.a.node == l.b.node { throw fail("links[\(i)]: a link from \(l.a.node) to itself") }
            if kind(l.a.node) == .host && kind(l.b.node) == .host { throw fail("links[\(i)]: hosts connect to switches, not to each other") }
            if let s = l.speed, SpeedText.gbps(s) == nil { throw fail("links[\(i)].speed: expected a speed like 1G or 500M, got '\(s)'") }
        }
        for s in [uplinkSpeed, hostSpeed].compactMap({ $0 }) where SpeedText.gbps(s) == nil {
            throw fail("defaults: expected a speed like 1G or 500M, got '\(s)'")
        }
        for h in hosts {
            let n = links.filter { $0.a.node == h || $0.b.node == h }.count
            guard n == 1 else { throw fail("host \(h) has \(n) links; a host has exactly one, to a switch") }
        }
        guard hosts.count <= 250, links.count <= 250 else { throw fail("at most 250 hosts and 250 links") }
    }
}

/// "1G", "500M", "2.5G" as Gb/s.
enum SpeedText {
    static func gbps(_ s: String) -> Double? {
        let u = s.uppercased()
        if u.hasSuffix("G"), let v = Double(u.dropLast()), v > 0 { return v }
        if u.hasSuffix("M"), let v = Double(u.dropLast()), v > 0 { return v / 1000 }
        return nil
    }
}
