// The switch configuration file: YAML, parsed once and validated loudly before anything
// starts (Click's configure() with an ErrorHandler is the model). Every error names the file,
// the line, the key path and what was expected (Cursor.swift). The format, commented:
// scripts/example-switch.yaml. Each section has its own reader (ConfigLoader+*.swift), called
// in an order where what a section refers to is already read (routes need ports and groups).
import FabricCore
import FabricPacket

public enum ConfigLoader {
    static let topKeys = ["switch", "ports", "routes", "ecmp_groups", "neighbours", "qos",
                          "buffers", "pfc", "ecn", "load_balancing"]

    public static func load(file: String) throws -> SwitchConfig {
        try read(try Cursor.root(file: file))
    }

    public static func parse(_ text: String, file: String = "<config>") throws -> SwitchConfig {
        try read(try Cursor.root(yaml: text, file: file))
    }

    static func read(_ root: Cursor) throws -> SwitchConfig {
        let top = try root.mapping(allowed: topKeys)
        var name = "switch"
        var mode = ForwardingMode.router
        if let sw = top["switch"] {
            let m = try sw.mapping(allowed: ["name", "mode"])
            if let n = m["name"] {
                name = try n.string()
                if let problem = SwitchConfig.nameProblem(name) { throw n.fail(problem) }
            }
            if let md = m["mode"] { mode = try md.oneOf(ForwardingMode.self) }
        }
        let qos = try top["qos"].map(readQoS) ?? .nvidiaRoCE
        guard let portsNode = top["ports"] else {
            throw ConfigError(file: root.file, line: root.line, path: "ports", message: "missing: a switch needs at least one port")
        }
        let ports = try readPorts(portsNode)
        guard ports.count <= SwitchConfig.maxPorts else {
            throw portsNode.fail("a switch has at most \(SwitchConfig.maxPorts) ports, got \(ports.count)")
        }
        if mode == .router && ports.allSatisfy({ $0.addresses.isEmpty }) {
            throw portsNode.fail("mode router needs at least one port with an address")
        }
        var config = SwitchConfig(name: name, mode: mode, ports: ports, qos: qos)
        let groups = try top["ecmp_groups"].map { try readGroups($0, config) } ?? [:]
        if let r = top["routes"] { config.routes = try readRoutes(r, config, groups) }
        if let n = top["neighbours"] { config.neighbours = try readNeighbours(n, config) }
        if let lb = top["load_balancing"] { config.loadBalancing = try readLoadBalancing(lb) }
        if let e = top["ecn"] { config.ecn = try readECN(e) }
        if let p = top["pfc"] { config.pfcWatchdog = try readPFC(p) }
        if let b = top["buffers"] { config.buffers = try readBuffers(b) }
        // What the buffers, headroom, wires and stall budget need in frame memory, before any
        // ring a command-line flag adds.
        let need = FrameBudget(config: config, ringSize: 64, batchSize: 1)
        if need.total > FrameBudget.maxConfigFrames {
            let node = top["buffers"] ?? top["ports"] ?? root
            throw node.fail("these buffers need \(need.total) frames of frame memory (\(need.queued) for what the PGs and their headroom may "
                            + "hold at \(config.buffers.minimumChargeBytes) B a frame, \(need.wire) on emulated wires, "
                            + "\(need.stallFrames.reduce(0, +)) for the stall budget); at most \(FrameBudget.maxConfigFrames): "
                            + "a smaller pool, reserve, headroom, stall budget or delay")
        }
        return config
    }

    /// A list of queue or traffic-class numbers (0-7) as a bit mask: `[3, 4]` -> 0b11000.
    static func bitmask(_ c: Cursor) throws -> UInt8 {
        try c.sequence().reduce(0) { $0 | 1 << UInt8(try $1.int(0...7)) }
    }
}

extension IPAddress {
    var isV4: Bool { if case .v4 = self { true } else { false } }
}

extension IPPrefix {
    /// True when the two subnets share an address (one contains the other's network).
    func overlaps(_ other: IPPrefix) -> Bool {
        contains(other.network.address) || other.contains(network.address)
    }
}
