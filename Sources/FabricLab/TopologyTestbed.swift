import FabricCore
import FabricIO
import FabricSystem
import FabricTelemetry
import FabricXDP
import Foundation

/// A `Topology` made real: one namespace per node (`<prefix>-<node>`), one veth per link, the
/// addresses, each switch's generated configuration, and one `fabric switch` per switch.
///
/// Address plan: the n-th host port of the k-th switch with hosts is 10.k.n.0/24 (switch .254, host .1,
/// the host's default route via .254); switch-to-switch link i is 10.255.i.0/24 (first
/// endpoint .1, second .2). Every switch routes every host subnet over all its neighbours on
/// a shortest path (ECMP when there are several), in the topology's load-balancing mode.
public final class TopologyTestbed: @unchecked Sendable {
    public let topology: Topology
    public let prefix: String
    /// The run directory: configs, and for `fabric testbed up` the switches' pids, logs, stats.
    public var runDirectory: String { "/run/swiftfabric/\(prefix)" }
    public private(set) var switchProcesses: [String: ChildProcess] = [:]

    public init(topology: Topology, prefix: String) {
        self.topology = topology
        self.prefix = prefix
    }

    public func namespace(_ node: String) -> String { "\(prefix)-\(node)" }
    public var hostNames: [String] { topology.hosts }
    public var routed: Bool { true }

    // MARK: - Address plan

    struct HostPort { var host: String; var hostInterface: String; var switchNode: String; var port: String; var subnet: (Int, Int) }
    /// Host-facing ports, in host order.
    var hostPorts: [HostPort] {
        var counter: [String: Int] = [:]
        var out: [HostPort] = []
        // Leaves (switches with hosts) are numbered in topology order: leaf k's n-th host is 10.k.n.0/24.
        let hostSwitches = topology.switches.filter { sw in topology.links.contains { l in
            (l.a.node == sw && topology.kind(l.b.node) == .host) || (l.b.node == sw && topology.kind(l.a.node) == .host) } }
        for h in topology.hosts {
            let l = topology.links.first { $0.a.node == h || $0.b.node == h }!
            let (he, se) = l.a.node == h ? (l.a, l.b) : (l.b, l.a)
            let n = (counter[se.node] ?? 0) + 1
            counter[se.node] = n
            out.append(HostPort(host: h, hostInterface: he.interface, switchNode: se.node, port: se.interface,
                                subnet: (hostSwitches.firstIndex(of: se.node)! + 1, n)))
        }
        return out
    }
    /// Switch-to-switch links with their index (1-based).
    var fabricLinks: [(index: Int, link: Topology.Link)] {
        topology.links.filter { topology.kind($0.a.node) == .switch && topology.kind($0.b.node) == .switch }.enumerated().map { ($0.offset + 1, $0.element) }
    }

    func hostPort(_ host: String) -> HostPort { hostPorts.first { $0.host == host }! }
    public func hostAddress(_ host: String) -> String { let s = hostPort(host).subnet; return "10.\(s.0).\(s.1).1" }
    public func gatewayAddress(_ host: String) -> String { let s = hostPort(host).subnet; return "10.\(s.0).\(s.1).254" }
    public func hostMAC(_ host: String) -> String {
        let i = topology.hosts.firstIndex(of: host)! + 1
        return String(format: "02:5f:ff:00:%02x:%02x", i >> 8, i & 0xFF)
    }
    func portMAC(_ node: String, _ port: Int) -> String {
        String(format: "02:5f:%02x:%02x:00:fe", topology.switches.firstIndex(of: node)! + 1, port + 1)
    }

    /// Host i (1-based, topology order), as the workload patterns number them.
    public func hostNamespace(_ i: Int) -> String { namespace(topology.hosts[i - 1]) }
    public func hostAddress(_ i: Int) -> String { hostAddress(topology.hosts[i - 1]) }
    public var hostCount: Int { topology.hosts.count }

    /// A switch's ports in a fixed order: host ports, then fabric links, in topology order.
    public func ports(of node: String) -> [(name: String, address: String, speed: String?, peer: String)] {
        var out: [(String, String, String?, String)] = []
        for hp in hostPorts where hp.switchNode == node {
            out.append((hp.port, "10.\(hp.subnet.0).\(hp.subnet.1).254/24", topology.hostSpeed, hp.host))
        }
        for (i, l) in fabricLinks {
            if l.a.node == node { out.append((l.a.interface, "10.255.\(i).1/24", l.speed ?? topology.uplinkSpeed, l.b.node)) }
            if l.b.node == node { out.append((l.b.interface, "10.255.\(i).2/24", l.speed ?? topology.uplinkSpeed, l.a.node)) }
        }
        return out
    }

    /// Hops (switch count) from every switch to `target`, over fabric links.
    func distances(to target: String) -> [String: Int] {
        var dist = [target: 0]
        var frontier = [target]
        while !frontier.isEmpty {
            var next: [String] = []
            for n in frontier {
                for (_, l) in fabricLinks {
                    let other = l.a.node == n ? l.b.node : l.b.node == n ? l.a.node : nil
                    if let o = other, dist[o] == nil { dist[o] = dist[n]! + 1; next.append(o) }
                }
            }
            frontier = next
        }
        return dist
    }

    /// The generated configuration of switch `node`.
    public func switchConfig(_ node: String, mode: LoadBalancingMode? = nil) -> String {
        var y = "# Generated from the topology of test bed '\(prefix)'\nswitch:\n  name: \(prefix)-\(node)\n  mode: router\nports:\n"
        for (i, p) in ports(of: node).enumerated() {
            y += "  - name: \(p.name)\n    mac: \(portMAC(node, i))\n    addresses: [\(p.address)]\n"
            if let s = p.speed { y += "    speed: \(s)\n" }
        }
        var routes = ""
        for hp in hostPorts where hp.switchNode != node {
            let dist = distances(to: hp.switchNode)
            guard let d = dist[node] else { continue }   // unreachable: no route
            var via: [String] = []
            for (i, l) in fabricLinks {
                if l.a.node == node, dist[l.b.node] == d - 1 { via.append("10.255.\(i).2") }
                if l.b.node == node, dist[l.a.node] == d - 1 { via.append("10.255.\(i).1") }
            }
            routes += "  - prefix: 10.\(hp.subnet.0).\(hp.subnet.1).0/24\n    via: [\(via.joined(separator: ", "))]\n"
        }
        if !routes.isEmpty { y += "routes:\n" + routes }
        y += "load_balancing: {mode: \((mode ?? topology.loadBalancing).name)\(topology.flowletIdle.map { ", flowlet_idle: \($0)" } ?? "")}\n"
        return y
    }

    public func configPath(_ node: String) -> String { "\(runDirectory)/\(node).yaml" }

    // MARK: - Up, switches, down

    /// Namespaces of this test bed that exist now.
    public func existingNamespaces() -> [String] {
        let out = (try? Shell.run(["ip", "netns", "list"])) ?? ""
        let names = Set(out.split(separator: "\n").compactMap { $0.split(separator: " ").first.map(String.init) })
        return topology.nodes.map { namespace($0.name) }.filter(names.contains)
    }

    public func up(mode: LoadBalancingMode? = nil) throws {
        guard !prefix.isEmpty, prefix.count <= 8, prefix.allSatisfy({ $0.isLetter || $0.isNumber || $0 == "-" }) else {
            throw TestbedError("prefix '\(prefix)' must be 1-8 letters, digits or '-'")
        }
        try topology.validate()
        down()
        do {
            try FileManager.default.createDirectory(atPath: runDirectory, withIntermediateDirectories: true)
            for n in topology.nodes {
                let ns = namespace(n.name)
                try Shell.run(["ip", "netns", "add", ns])
                try Shell.run(["ip", "-n", ns, "link", "set", "lo", "up"])
                if n.kind == .switch {
                    // The switch's ports belong to the switch, not to its namespace's kernel.
                    try Shell.inNamespace(ns, ["sysctl", "-qw", "net.ipv6.conf.all.disable_ipv6=1"])
                    try Shell.inNamespace(ns, ["sysctl", "-qw", "net.ipv6.conf.default.disable_ipv6=1"])
                } else {
                    try Shell.inNamespace(ns, ["sysctl", "-qw", "net.ipv6.conf.all.disable_ipv6=1"])
                    try Shell.inNamespace(ns, ["sysctl", "-qw", "net.ipv6.conf.default.disable_ipv6=1"])
                }
            }
            for l in topology.links {
                let (na, nb) = (namespace(l.a.node), namespace(l.b.node))
                try Shell.run(["ip", "-n", na, "link", "add", l.a.interface, "type", "veth", "peer", "name", l.b.interface, "netns", nb])
                for (ns, ifname) in [(na, l.a.interface), (nb, l.b.interface)] {
                    try Shell.inNamespace(ns, ["ethtool", "-K", ifname, "rxvlan", "off", "txvlan", "off"], check: false)
                    try Shell.inNamespace(ns, ["ethtool", "-K", ifname, "tx", "off"])
                }
            }
            for s in topology.switches {
                for (i, p) in ports(of: s).enumerated() {
                    try Shell.run(["ip", "-n", namespace(s), "link", "set", p.name, "address", portMAC(s, i)])
                    try Shell.run(["ip", "-n", namespace(s), "link", "set", p.name, "up"])
                }
                try switchConfig(s, mode: mode).write(toFile: configPath(s), atomically: true, encoding: .utf8)
            }
            for hp in hostPorts {
                let ns = namespace(hp.host)
                try Shell.run(["ip", "-n", ns, "link", "set", hp.hostInterface, "address", hostMAC(hp.host)])
                try Shell.run(["ip", "-n", ns, "addr", "add", "\(hostAddress(hp.host))/24", "dev", hp.hostInterface])
                try Shell.run(["ip", "-n", ns, "link", "set", hp.hostInterface, "up"])
                try Shell.run(["ip", "-n", ns, "route", "add", "default", "via", gatewayAddress(hp.host)])
            }
        } catch {
            down()
            throw error
        }
    }

    /// For `fabric testbed up --topology`: starts every switch detached from this process, its
    /// output in `<node>.log`, its pid in `<node>.pid` (what `down` stops), and keeps the
    /// topology in the run directory for `down`.
    public func startDetachedSwitches(fabric: String, extra: [String] = []) throws {
        try topology.yaml.write(toFile: "\(runDirectory)/topology.yaml", atomically: true, encoding: .utf8)
        for s in topology.switches {
            try? FileManager.default.removeItem(atPath: statsPath(s))
            let log = "\(runDirectory)/\(s).log"
            FileManager.default.createFile(atPath: log, contents: nil)
            let out = try FileHandle(forWritingTo: URL(fileURLWithPath: log))
            let p = Process()
            p.executableURL = URL(fileURLWithPath: fabric)
            p.arguments = ["switch", "--netns", namespace(s), "--config", configPath(s), "--stats-file", statsPath(s), "--stats-interval", "1"] + extra
            p.standardOutput = out
            p.standardError = out
            p.standardInput = FileHandle.nullDevice
            try p.run()
            try "\(p.processIdentifier)\n".write(toFile: "\(runDirectory)/\(s).pid", atomically: true, encoding: .utf8)
        }
        let deadline = Date().addingTimeInterval(30)
        for s in topology.switches {
            while !FileManager.default.fileExists(atPath: statsPath(s)) {
                guard Date() < deadline else {
                    let log = (try? String(contentsOfFile: "\(runDirectory)/\(s).log", encoding: .utf8)) ?? ""
                    down()
                    throw TestbedError("switch \(s) did not start:\n\(log)")
                }
                usleep(20_000)
            }
        }
    }

    /// The test bed `fabric testbed up --topology` left under `prefix`, if any.
    public static func recorded(prefix: String) -> TopologyTestbed? {
        guard let t = try? Topology.load(file: "/run/swiftfabric/\(prefix)/topology.yaml") else { return nil }
        return TopologyTestbed(topology: t, prefix: prefix)
    }

    /// Starts `fabric switch` on every switch node as a child of this process (stopped by
    /// `stopSwitches` or `down`), each writing stats to `statsPath(node)`.
    public func startSwitches(fabric: String, extra: [String] = []) throws {
        for s in topology.switches {
            try? FileManager.default.removeItem(atPath: statsPath(s))
            let child = try ChildProcess([fabric, "switch", "--netns", namespace(s), "--config", configPath(s),
                                          "--stats-file", statsPath(s), "--stats-interval", "0.2"] + extra)
            switchProcesses[s] = child
        }
        let deadline = Date().addingTimeInterval(30)
        for s in topology.switches {
            while !FileManager.default.fileExists(atPath: statsPath(s)) {
                guard switchProcesses[s]!.isRunning, Date() < deadline else {
                    let out = switchProcesses[s]!.output
                    stopSwitches()
                    throw TestbedError("switch \(s) did not start:\n\(out)")
                }
                usleep(10_000)
            }
        }
    }

    public func statsPath(_ node: String) -> String { "\(runDirectory)/\(node).json" }

    /// Stops the switches this object started; returns their exit statuses.
    @discardableResult
    public func stopSwitches() -> [String: Int32?] {
        var out: [String: Int32?] = [:]
        for (s, c) in switchProcesses { out[s] = c.stop(grace: 5) }
        switchProcesses = [:]
        return out
    }

    /// The last stats snapshot of switch `node`.
    public func stats(_ node: String) throws -> SwitchReport { try StatsFile.read(statsPath(node)) }

    /// Stops this object's switches and those `fabric testbed up` left running (by the pids
    /// it recorded, checked against /proc), removes every namespace and the run directory.
    /// Idempotent; never throws.
    public func down() {
        stopSwitches()
        for s in topology.switches {
            let pidFile = "\(runDirectory)/\(s).pid"
            if let text = try? String(contentsOfFile: pidFile, encoding: .utf8), let pid = Int32(text.trimmingCharacters(in: .whitespacesAndNewlines)),
               let cmd = try? String(contentsOfFile: "/proc/\(pid)/cmdline", encoding: .utf8),
               cmd.contains("switch"), cmd.contains(namespace(s)) {
                kill(pid, SIGTERM)
                for _ in 0..<500 where kill(pid, 0) == 0 { usleep(10_000) }
                if kill(pid, 0) == 0 { kill(pid, SIGKILL) }
            }
        }
        for ns in existingNamespaces() { _ = try? Shell.run(["ip", "netns", "del", ns], check: false) }
        try? FileManager.default.removeItem(atPath: runDirectory)
    }

    /// For a person: nodes, addresses, links.
    public var summary: String {
        var s = "test bed '\(prefix)': \(topology.switches.count) switches, \(topology.hosts.count) hosts, \(topology.links.count) links\n"
        for sw in topology.switches {
            s += "  \(namespace(sw)): " + ports(of: sw).map { "\($0.name) \($0.address)\($0.speed.map { " @\($0)" } ?? "") -> \($0.peer)" }.joined(separator: ", ") + "\n"
        }
        for h in topology.hosts { s += "  \(namespace(h)): \(hostAddress(h))/24 via \(gatewayAddress(h))\n" }
        return s
    }
}
