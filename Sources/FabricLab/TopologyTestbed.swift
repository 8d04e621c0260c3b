import FabricConfig
import FabricCore
import FabricTelemetry
import Foundation

/// A `Topology` made real: one namespace per node (`<prefix>-<node>`), one veth per link, the
/// addresses and MACs of its `AddressPlan`, each switch's configuration, and the switches.
///
/// - VLAN offload is off on both veth ends (tags must stay in the frame), and so is TX
///   checksum offload: a veth otherwise hands out UDP/TCP frames whose checksum is only "to be
///   filled in" (CHECKSUM_PARTIAL). A switch that forwards raw frames through AF_XDP would pass
///   on the unfinished checksum, and the receiving host drops the segment.
/// - IPv6 is off in switch namespaces (their kernels must never talk on the switch ports) and
///   in hosts unless the topology is dual-stack, so the only frames on the wire are the ones a
///   test sends (plus ARP).
/// - Hosts need nothing extra to receive what the switch sends: AF_XDP TX hands an skb to the
///   veth. (XDP *redirect* into a veth would need an XDP program on the peer: bpf/xdp_pass.bpf.c.)
/// - Files: `runDirectory` holds the recorded topology (what `fabric testbed down` reads), the
///   switches' stats and, for switches left running, their pids and logs; `configPath(node)`
///   the switch configurations; `inventoryPath` the nodes, namespaces, interfaces and addresses
///   for other tools (`TestbedInventory`). Addresses exist only inside the namespaces created here.
///
/// `up` first removes anything an earlier run with the same prefix left (safe after a crash);
/// `down` stops the switches and removes every namespace (so every veth and XDP program) and file.
public final class TopologyTestbed: @unchecked Sendable {
    public let topology: Topology
    public let prefix: String
    public let plan: AddressPlan
    /// A bed that is one machine's part of a lab (`Topology.Split`): the whole lab, whose
    /// addressing `plan` is, and the part's nodes; `topology` is that part.
    public let whole: Topology?
    public let split: Topology.Split?
    /// The switches `startSwitches` started and this object stops.
    public private(set) var switches: [String: RunningSwitch] = [:]
    /// The namespace of the machine this half of a lab runs on: where VXLAN links' devices are
    /// made and their underlay reaches the other machine (nil: the namespace `up` runs in).
    public var underlayNamespace: String?
    /// Each VXLAN link's interface MTU, by endpoint, once `up` made it.
    var vxlanMTUs: [String: Int] = [:]
    /// What `up` found worth telling a person (a VXLAN link narrower than the bed's links).
    public internal(set) var notes: [String] = []

    public init(topology: Topology, prefix: String) {
        self.topology = topology
        self.prefix = prefix
        plan = AddressPlan(topology)
        (whole, split) = (nil, nil)
    }

    /// This machine's part of the lab `whole` (`Topology.part`), addressed as the whole lab.
    public init(whole: Topology, split: Topology.Split, prefix: String) throws {
        topology = try whole.part(split)
        self.prefix = prefix
        plan = AddressPlan(whole)
        (self.whole, self.split) = (whole, split)
    }

    /// Host `name` is on this machine (every host, but for a part of a lab).
    func isLocal(_ name: String) -> Bool { topology.kind(name) != nil }

    /// The star of `fabric testbed up --hosts N [--routed]` (`Topology.star`).
    public static func star(prefix: String = "sf", hosts: Int = 4, routed: Bool = false, mtu: Int = 1500, queues: Int = 1) -> TopologyTestbed {
        var t = Topology.star(hosts: hosts, routed: routed)
        t.mtu = mtu
        t.queues = queues
        return TopologyTestbed(topology: t, prefix: prefix)
    }

    public static let root = "/run/swiftfabric"
    public var runDirectory: String { "\(Self.root)/\(prefix)" }
    public func namespace(_ node: String) -> String { "\(prefix)-\(node)" }
    public var routed: Bool { topology.mode == .router }

    /// Switch `node`'s configuration file: on a one-switch test bed
    /// `/run/swiftfabric/testbed-<prefix>.yaml` (what `fabric switch --config` is given by
    /// hand), else `<runDirectory>/<node>.yaml`.
    public func configPath(_ node: String) -> String {
        topology.switches.count == 1 ? "\(Self.root)/testbed-\(prefix).yaml" : "\(runDirectory)/\(node).yaml"
    }
    public func statsPath(_ node: String) -> String { "\(runDirectory)/\(node).json" }
    var recordPath: String { "\(runDirectory)/topology.yaml" }
    var splitPath: String { "\(runDirectory)/split.json" }

    /// Switch `node`'s configuration (`AddressPlan.switchConfig`), in `mode` if given, named
    /// `name` (default: its namespace).
    public func switchConfig(_ node: String, mode: LoadBalancingMode? = nil, name: String? = nil) -> SwitchConfig {
        var c = plan.switchConfig(node, name: name ?? namespace(node), loadBalancing: mode)
        // A part of a lab has its crossing links in the whole lab's plan already.
        if split == nil { addVXLANPorts(node, to: &c) }
        return c
    }

    /// Writes every switch's configuration to its `configPath`.
    public func writeConfigs(mode: LoadBalancingMode? = nil) throws {
        for s in topology.switches {
            try SwitchConfigYAML.write(switchConfig(s, mode: mode), to: configPath(s), header: "Generated for test bed '\(prefix)' (fabric testbed)")
        }
    }

    public func validate() throws {
        guard !prefix.isEmpty, prefix.count <= 8, prefix.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "-") }) else {
            throw TestbedError("prefix '\(prefix)' must be 1-8 letters, digits or '-'")
        }
        do {
            try whole?.validate()
            try topology.validate()
        } catch { throw TestbedError(error.description) }
    }

    // MARK: - Up and down

    /// Namespaces of this test bed that exist now.
    public func existingNamespaces() -> [String] {
        let names = Shell.namespaces()
        return topology.nodes.map { namespace($0.name) }.filter(names.contains)
    }

    public func up(mode: LoadBalancingMode? = nil) throws {
        try validate()
        Self.recorded(prefix: prefix)?.down()
        down()
        do {
            try FileManager.default.createDirectory(atPath: runDirectory, withIntermediateDirectories: true)
            try (whole ?? topology).yaml.write(toFile: recordPath, atomically: true, encoding: .utf8)
            if let split { try JSONEncoder().encode(split).write(to: URL(fileURLWithPath: splitPath)) }
            for n in topology.nodes {
                try Interrupt.check()
                let ns = namespace(n.name)
                try Shell.run(["ip", "netns", "add", ns])
                try Shell.run(["ip", "-n", ns, "link", "set", "lo", "up"])
                if n.kind == .switch || !topology.ipv6 {
                    try Shell.inNamespace(ns, ["sysctl", "-qw", "net.ipv6.conf.all.disable_ipv6=1"])
                    try Shell.inNamespace(ns, ["sysctl", "-qw", "net.ipv6.conf.default.disable_ipv6=1"])
                }
            }
            for l in topology.links {
                try Interrupt.check()
                let (na, nb) = (namespace(l.a.node), namespace(l.b.node))
                let end = ["mtu", "\(topology.mtu(of: l))", "numtxqueues", "\(topology.queues)", "numrxqueues", "\(topology.queues)"]
                try Shell.run(["ip", "-n", na, "link", "add", l.a.interface] + end + ["type", "veth", "peer", "name", l.b.interface] + end + ["netns", nb])
                for (ns, ifname) in [(na, l.a.interface), (nb, l.b.interface)] {
                    // ethtool may lack a feature on old kernels: not fatal for VLAN offload.
                    try Shell.inNamespace(ns, ["ethtool", "-K", ifname, "rxvlan", "off", "txvlan", "off"], check: false)
                    try Shell.inNamespace(ns, ["ethtool", "-K", ifname, "tx", "off"])
                }
            }
            try addVXLANLinks()
            for s in topology.switches {
                for p in plan.ports(of: s) {
                    try Shell.run(["ip", "-n", namespace(s), "link", "set", p.name, "address", p.mac.description])
                    try Shell.run(["ip", "-n", namespace(s), "link", "set", p.name, "up"])
                }
            }
            for h in plan.hosts where isLocal(h.name) {
                let ns = namespace(h.name)
                try Shell.run(["ip", "-n", ns, "link", "set", h.interface, "address", h.mac.description])
                for a in h.addresses {
                    try Shell.run(["ip", "-n", ns, "addr", "add", a.description, "dev", h.interface] + (a.address.isV4 ? [] : ["nodad"]))
                }
                try Shell.run(["ip", "-n", ns, "link", "set", h.interface, "up"])
                for g in h.gateways { try Shell.run(["ip", "-n", ns] + (g.isV4 ? [] : ["-6"]) + ["route", "add", "default", "via", g.description]) }
            }
            try writeConfigs(mode: mode)
            try writeInventory()
        } catch {
            down()
            throw error
        }
    }

    /// Stops this object's switches and those `fabric testbed up` left running (by the pids it
    /// recorded, checked against /proc), removes every namespace and file. Idempotent; never throws.
    public func down() {
        stopSwitches()
        removeVXLANLeftovers()
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
        for s in topology.switches { try? FileManager.default.removeItem(atPath: configPath(s)) }
        try? FileManager.default.removeItem(atPath: inventoryPath)
        try? FileManager.default.removeItem(atPath: runDirectory)
    }

    /// The test bed `fabric testbed up` left under `prefix`, if any.
    public static func recorded(prefix: String) -> TopologyTestbed? {
        // A containerlab file (older builds recorded the old format: read without a note).
        guard let t = try? Topology.load(file: "\(root)/\(prefix)/topology.yaml", note: { _ in }) else { return nil }
        if let data = FileManager.default.contents(atPath: "\(root)/\(prefix)/split.json"),
           let split = try? JSONDecoder().decode(Topology.Split.self, from: data) {
            return try? TopologyTestbed(whole: t, split: split, prefix: prefix)
        }
        return TopologyTestbed(topology: t, prefix: prefix)
    }

    // MARK: - Failures

    /// The link endpoint `spec` ("node:interface") names, checked against the topology.
    public func endpoint(_ spec: String) throws -> Topology.Endpoint {
        let parts = spec.split(separator: ":", maxSplits: 1).map(String.init)
        let all = topology.links.flatMap { [$0.a, $0.b] }
        guard parts.count == 2, let e = all.first(where: { $0.node == parts[0] && $0.interface == parts[1] }) else {
            throw TestbedError("'\(spec)' is no link end of this test bed (NODE:IF, one of \(all.map(\.description).joined(separator: " ")))")
        }
        return e
    }

    /// Takes the link at `spec` ("node:interface") down or brings it back up: `ip link set`
    /// on that end, in its node's namespace. The other end of the veth loses (regains) carrier,
    /// as the far end of a cut cable does; a switch on either end sees it.
    public func setLink(_ spec: String, up: Bool) throws {
        let e = try endpoint(spec)
        try Shell.run(["ip", "-n", namespace(e.node), "link", "set", e.interface, up ? "up" : "down"])
    }

    /// The lab's routing protocol: once the links at `failed` ("node:interface") are down,
    /// every running switch gets the routes of the topology without them (`config apply` of a
    /// configuration whose ports are unchanged), as BGP would withdraw the paths through them.
    /// Without it a switch two hops away keeps sending into the dead link (a spine whose only
    /// way to a leaf is gone drops as `link_down`). Returns the switches that were updated.
    @discardableResult
    public func reconverge(failed: [String], mode: LoadBalancingMode? = nil) throws -> [String] {
        let dead = try failed.map { spec in
            let e = try endpoint(spec)
            return topology.links.first { $0.a == e || $0.b == e }!
        }
        // Every switch at once, as each router of a real fabric reconverges on its own.
        let configs = topology.switches.map { s in (s, plan.switchConfig(s, name: namespace(s), loadBalancing: mode, without: dead)) }
        let answers = Answers(count: configs.count)
        let failedText = failed.joined(separator: ", ")
        DispatchQueue.concurrentPerform(iterations: configs.count) { i in
            let (s, config) = configs[i]
            do {
                let path = "\(runDirectory)/\(s).converged.yaml"
                try SwitchConfigYAML.write(config, to: path, header: "Routes of test bed '\(prefix)' without \(failedText)")
                answers.set(i, try ControlClient.change(name: namespace(s), "config apply \(path)"))
            } catch {
                answers.set(i, "error: \(error)")
            }
        }
        var updated: [String] = []
        for (i, (s, _)) in configs.enumerated() {
            let answer = answers.get(i)
            guard answer.hasPrefix("ok") else { throw TestbedError("\(s): \(answer)") }
            if !answer.hasSuffix("no change") { updated.append(s) }
        }
        return updated
    }

    final class Answers: @unchecked Sendable {
        private let lock = NSLock()
        private var list: [String]
        init(count: Int) { list = Array(repeating: "", count: count) }
        func set(_ i: Int, _ s: String) { lock.lock(); list[i] = s; lock.unlock() }
        func get(_ i: Int) -> String { lock.lock(); defer { lock.unlock() }; return list[i] }
    }

    // MARK: - Switches

    /// Starts `fabric switch` on every switch node from its configuration, each writing stats to
    /// `statsPath(node)`, and returns once all forward. `detached`: they outlive this process
    /// (`fabric testbed up`), output in `<node>.log`, pid in `<node>.pid`, stopped by `down`.
    public func startSwitches(_ launcher: SwitchLauncher, detached: Bool = false) throws {
        let specs = topology.switches.map { s in
            SwitchLauncher.Spec(namespace: namespace(s), config: configPath(s), statsFile: statsPath(s),
                                log: detached ? "\(runDirectory)/\(s).log" : nil)
        }
        for (s, sw) in zip(topology.switches, try launcher.start(specs)) {
            if detached {
                try "\(sw.child.pid)\n".write(toFile: "\(runDirectory)/\(s).pid", atomically: true, encoding: .utf8)
            } else {
                switches[s] = sw
            }
        }
    }

    /// Stops the switches this object started; returns their exit statuses.
    @discardableResult
    public func stopSwitches() -> [String: Int32?] {
        let out = switches.mapValues { $0.stop(grace: 5) }
        switches = [:]
        return out
    }

    /// The last stats snapshot of switch `node`.
    public func stats(_ node: String) throws -> SwitchReport { try StatsFile.read(statsPath(node)) }
}
