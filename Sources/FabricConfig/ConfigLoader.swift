// The switch configuration file: YAML, parsed once and validated loudly before anything
// starts (Click's configure() with an ErrorHandler is the model). Every error names the file,
// the line, the key path and what was expected. See config/example.yaml for the format.
import FabricCore
import FabricPacket
import Foundation
import Yams

/// A rejected configuration: where and why.
public struct ConfigError: Error, CustomStringConvertible, Equatable {
    public var file: String
    public var line: Int?
    public var path: String
    public var message: String

    public var description: String {
        "\(file)\(line.map { ":\($0)" } ?? ""): \(path.isEmpty ? "" : path + ": ")\(message)"
    }
}

/// A node with the key path that led to it, for messages.
struct Cursor {
    let node: Node
    let path: String
    let file: String

    func fail(_ message: String) -> ConfigError {
        ConfigError(file: file, line: node.mark.map { $0.line }, path: path, message: message)
    }

    func child(_ node: Node, _ key: String) -> Cursor {
        Cursor(node: node, path: path.isEmpty ? key : "\(path).\(key)", file: file)
    }

    func element(_ node: Node, _ i: Int) -> Cursor {
        Cursor(node: node, path: "\(path)[\(i)]", file: file)
    }

    var kindName: String {
        switch node {
        case .scalar(let s): "'\(s.string)'"
        case .mapping: "a mapping"
        case .sequence: "a list"
        case .alias: "an alias"
        }
    }

    /// The mapping's entries; rejects keys not in `allowed` and keys given twice.
    func mapping(allowed: [String]) throws -> [String: Cursor] {
        guard case .mapping(let m) = node else { throw fail("expected a mapping with keys \(allowed.joined(separator: ", ")), got \(kindName)") }
        var out: [String: Cursor] = [:]
        for (k, v) in m {
            guard let key = k.string else { throw fail("keys must be plain strings") }
            let c = child(v, key)
            guard allowed.contains(key) else {
                throw Cursor(node: k, path: c.path, file: file).fail("unknown key '\(key)' (expected one of: \(allowed.joined(separator: ", ")))")
            }
            guard out[key] == nil else { throw Cursor(node: k, path: c.path, file: file).fail("key '\(key)' given twice") }
            out[key] = c
        }
        return out
    }

    func sequence() throws -> [Cursor] {
        guard case .sequence(let s) = node else { throw fail("expected a list, got \(kindName)") }
        return s.enumerated().map { element($0.element, $0.offset) }
    }

    func string() throws -> String {
        guard case .scalar(let s) = node else { throw fail("expected a string, got \(kindName)") }
        return s.string
    }

    func int(_ range: ClosedRange<Int>) throws -> Int {
        guard case .scalar(let s) = node, let v = Int(s.string) else { throw fail("expected an integer in \(range.lowerBound)...\(range.upperBound), got \(kindName)") }
        guard range.contains(v) else { throw fail("\(v) is out of range \(range.lowerBound)...\(range.upperBound)") }
        return v
    }

    func oneOf(_ choices: [String]) throws -> String {
        let v = try string()
        guard choices.contains(v) else { throw fail("expected one of \(choices.joined(separator: ", ")), got '\(v)'") }
        return v
    }

    func ip() throws -> IPAddress {
        let v = try string()
        guard let a = IPAddress(v) else { throw fail("expected an IPv4 or IPv6 address, got '\(v)'") }
        return a
    }

    func prefix(strict: Bool) throws -> IPPrefix {
        let v = try string()
        guard let p = IPPrefix(v, strict: false) else {
            throw fail("expected an address with prefix length like \(strict ? "10.0.0.0/16 or fd77::/64" : "10.77.1.254/24 or fd77:1::fe/64"), got '\(v)'")
        }
        if strict && p.network != p {
            throw fail("'\(v)' has host bits set; the network is \(p.network)")
        }
        return p
    }

    func mac() throws -> MACAddress {
        let v = try string()
        guard let m = MACAddress(v), !m.isGroup, !m.isZero else { throw fail("expected a unicast MAC address like 02:5f:00:00:01:fe, got '\(v)'") }
        return m
    }

    /// A duration in milliseconds like 200ms or 1s (100...60000 ms).
    func milliseconds() throws -> UInt64 {
        let v = try string().lowercased()
        let ms: Double?
        if v.hasSuffix("ms") { ms = Double(v.dropLast(2)) } else if v.hasSuffix("s") { ms = Double(v.dropLast()).map { $0 * 1000 } } else { ms = nil }
        guard let m = ms, (100...60_000).contains(m) else { throw fail("expected a duration of 100ms...60s like 200ms, got '\(v)'") }
        return UInt64(m)
    }

    /// A duration like 256us, 1.5ms or 50 (microseconds), within `range` microseconds.
    func microseconds(_ range: ClosedRange<UInt64>) throws -> UInt64 {
        let v = try string().lowercased()
        let us: Double?
        if v.hasSuffix("us") { us = Double(v.dropLast(2)) } else if v.hasSuffix("ms") { us = Double(v.dropLast(2)).map { $0 * 1000 } } else { us = Double(v) }
        guard let u = us, u >= Double(range.lowerBound), u <= Double(range.upperBound) else {
            throw fail("expected a duration of \(range.lowerBound)us...\(range.upperBound / 1000)ms like 256us, got '\(v)'")
        }
        return UInt64(u)
    }

    /// A byte size like 150KB, 1.5MB, 4096 (K/M = 1024/1024^2).
    func bytes() throws -> Int {
        let v = try string().uppercased().replacingOccurrences(of: "B", with: "")
        let scale = v.hasSuffix("K") ? 1024.0 : v.hasSuffix("M") ? 1024.0 * 1024 : 1
        guard let n = Double(scale == 1 ? v : String(v.dropLast())), n >= 0, n * scale <= 1e12 else {
            throw fail("expected a size like 150KB or 1.5MB, got '\(v)'")
        }
        return Int(n * scale)
    }

    /// A line rate like 10G, 25G, 100G, 1.5G, 800M (bits per second).
    func speedGbps() throws -> Double {
        let v = try string().uppercased()
        let unit = v.last
        let number = Double(v.dropLast())
        guard let n = number, n > 0, unit == "G" || unit == "M" else {
            throw fail("expected a line rate like 10G or 800M, got '\(v)'")
        }
        let gbps = unit == "G" ? n : n / 1000
        guard gbps <= 800 else { throw fail("\(v) is faster than 800G") }
        return gbps
    }
}

public enum ConfigLoader {
    static let topKeys = ["switch", "ports", "routes", "ecmp_groups", "neighbours", "qos",
                          "buffers", "pfc", "ecn", "load_balancing"]

    public static func load(file: String) throws -> SwitchConfig {
        let text: String
        do {
            text = try String(contentsOfFile: file, encoding: .utf8)
        } catch {
            throw ConfigError(file: file, line: nil, path: "", message: "cannot read the file: \(error.localizedDescription)")
        }
        return try parse(text, file: file)
    }

    public static func parse(_ text: String, file: String = "<config>") throws -> SwitchConfig {
        let root: Node
        do {
            guard let n = try Yams.compose(yaml: text) else {
                throw ConfigError(file: file, line: nil, path: "", message: "the file is empty")
            }
            root = n
        } catch let e as ConfigError {
            throw e
        } catch let e as YamlError {
            throw ConfigError(file: file, line: nil, path: "", message: "not valid YAML: \(e)")
        }
        let top = try Cursor(node: root, path: "", file: file).mapping(allowed: topKeys)

        var name = "switch"
        var mode = ForwardingMode.router
        if let sw = top["switch"] {
            let m = try sw.mapping(allowed: ["name", "mode"])
            if let n = m["name"] { name = try n.string() }
            if let md = m["mode"] { mode = ForwardingMode(rawValue: try md.oneOf(ForwardingMode.allCases.map(\.rawValue)))! }
        }

        // QoS first: ports refer to nothing in it, but keep the order of the file's sections.
        var qos = QoSMaps.nvidiaRoCE
        if let q = top["qos"] {
            let m = try q.mapping(allowed: ["profile", "dscp_to_tc", "pcp_to_tc", "tc_to_priority_group", "tc_to_queue", "lossless_tcs",
                                            "strict_queues", "ets_weights"])
            if let p = m["profile"] { qos = QoSMaps.named(try p.oneOf(QoSMaps.profileNames))! }
            if let d = m["dscp_to_tc"] { try overrideMap(d, &qos.dscpToTC, keys: 0...63) }
            if let d = m["pcp_to_tc"] { try overrideMap(d, &qos.pcpToTC, keys: 0...7) }
            if let d = m["tc_to_priority_group"] { try overrideMap(d, &qos.tcToPriorityGroup, keys: 0...7) }
            if let d = m["tc_to_queue"] { try overrideMap(d, &qos.tcToQueue, keys: 0...7) }
            if let sq = m["strict_queues"] {
                qos.strictQueues = 0
                for e in try sq.sequence() { qos.strictQueues |= 1 << UInt8(try e.int(0...7)) }
            }
            if let w = m["ets_weights"] {
                guard case .mapping(let wm) = w.node else { throw w.fail("expected a mapping like {0: 1, 3: 4}, got \(w.kindName)") }
                for (k, v) in wm {
                    let q = try w.child(k, k.string ?? "?").int(0...7)
                    qos.etsWeights[q] = try w.child(v, "\(q)").int(1...100)
                }
            }
            if let l = m["lossless_tcs"] {
                qos.losslessTCs = 0
                for e in try l.sequence() { qos.losslessTCs |= 1 << UInt8(try e.int(0...7)) }
            }
        }

        guard let portsNode = top["ports"] else {
            throw ConfigError(file: file, line: root.mark?.line, path: "ports", message: "missing: a switch needs at least one port")
        }
        var ports: [PortConfig] = []
        var seenNames: [String: Int] = [:]
        var seenAddresses: [IPAddress: String] = [:]
        for pc in try portsNode.sequence() {
            let m = try pc.mapping(allowed: ["name", "mac", "addresses", "trust", "speed"])
            guard let n = m["name"] else { throw pc.fail("missing 'name' (the interface name)") }
            let pname = try n.string()
            guard !pname.isEmpty, pname.utf8.count < 16, !pname.contains("/"), !pname.contains(" ") else {
                throw n.fail("'\(pname)' is not a valid interface name (1-15 characters, no '/' or spaces)")
            }
            if let first = seenNames[pname] { throw n.fail("duplicate port '\(pname)' (also ports[\(first)])") }
            seenNames[pname] = ports.count
            var port = PortConfig(name: pname)
            if let mac = m["mac"] { port.mac = try mac.mac() }
            if let t = m["trust"] { port.trust = TrustMode(rawValue: try t.oneOf(TrustMode.allCases.map(\.rawValue)))! }
            if let s = m["speed"] { port.speedGbps = try s.speedGbps() }
            if let a = m["addresses"] {
                for ac in try a.sequence() {
                    let p = try ac.prefix(strict: false)
                    if p.network == p && p.length < (p.address.isV4 ? 31 : 127) {
                        throw ac.fail("'\(p)' is a network address; a port needs a host address in it")
                    }
                    if let other = seenAddresses[p.address] { throw ac.fail("address \(p.address) is already on port \(other)") }
                    seenAddresses[p.address] = pname
                    port.addresses.append(p)
                }
            }
            ports.append(port)
        }
        guard !ports.isEmpty else { throw portsNode.fail("a switch needs at least one port") }
        if mode == .router && ports.allSatisfy({ $0.addresses.isEmpty }) {
            throw portsNode.fail("mode router needs at least one port with an address")
        }
        var config = SwitchConfig(name: name, mode: mode, ports: ports, qos: qos)

        var groups: [String: [IPAddress]] = [:]
        var groupModes: [String: LoadBalancingMode] = [:]
        if let g = top["ecmp_groups"] {
            for gc in try g.sequence() {
                let m = try gc.mapping(allowed: ["name", "members", "mode"])
                if let md = m["mode"] { groupModes[try m["name"]?.string() ?? ""] = LoadBalancingMode(name: try md.oneOf(LoadBalancingMode.allCases.map(\.name)))! }
                guard let n = m["name"], let mem = m["members"] else { throw gc.fail("an ECMP group needs 'name' and 'members'") }
                let gname = try n.string()
                guard groups[gname] == nil else { throw n.fail("duplicate ECMP group '\(gname)'") }
                let members = try mem.sequence()
                guard (1...FIB.maxECMPMembers).contains(members.count) else {
                    throw mem.fail("an ECMP group has 1...\(FIB.maxECMPMembers) members, got \(members.count)")
                }
                var hops: [IPAddress] = []
                for mc in members {
                    let a = try mc.ip()
                    guard config.connectedPort(for: a) != nil else {
                        throw mc.fail("next hop \(a) is not on any port's subnet (route to nowhere)")
                    }
                    guard !hops.contains(a) else { throw mc.fail("next hop \(a) listed twice") }
                    hops.append(a)
                }
                groups[gname] = hops
            }
        }

        if let r = top["routes"] {
            var seen: Set<IPPrefix> = []
            for rc in try r.sequence() {
                let m = try rc.mapping(allowed: ["prefix", "via", "group"])
                guard let p = m["prefix"] else { throw rc.fail("a route needs 'prefix'") }
                let prefix = try p.prefix(strict: true)
                guard seen.insert(prefix).inserted else { throw p.fail("duplicate route \(prefix)") }
                var hops: [IPAddress] = []
                var groupMode: LoadBalancingMode? = nil
                switch (m["via"], m["group"]) {
                case (let v?, nil):
                    let list: [Cursor]
                    if case .sequence = v.node { list = try v.sequence() } else { list = [v] }
                    guard (1...FIB.maxECMPMembers).contains(list.count) else { throw v.fail("'via' takes 1...\(FIB.maxECMPMembers) next hops") }
                    for h in list {
                        let a = try h.ip()
                        guard config.connectedPort(for: a) != nil else {
                            throw h.fail("next hop \(a) is not on any port's subnet (route to nowhere)")
                        }
                        hops.append(a)
                    }
                case (nil, let g?):
                    let gname = try g.string()
                    guard let members = groups[gname] else {
                        throw g.fail("no ECMP group named '\(gname)' (defined: \(groups.keys.sorted().joined(separator: ", ")))")
                    }
                    hops = members
                    groupMode = groupModes[gname]
                default:
                    throw rc.fail("a route needs exactly one of 'via' (next-hop addresses) or 'group' (an ECMP group name)")
                }
                for h in hops where (h.isV4) != (prefix.address.isV4) {
                    throw rc.fail("next hop \(h) is not of the same address family as \(prefix)")
                }
                config.routes.append(RouteConfig(prefix: prefix, nextHops: hops, mode: groupMode))
            }
        }

        if let n = top["neighbours"] {
            for nc in try n.sequence() {
                let m = try nc.mapping(allowed: ["address", "mac"])
                guard let a = m["address"], let mac = m["mac"] else { throw nc.fail("a neighbour needs 'address' and 'mac'") }
                let addr = try a.ip()
                guard config.connectedPort(for: addr) != nil else { throw a.fail("neighbour \(addr) is not on any port's subnet") }
                config.neighbours.append(NeighbourConfig(address: addr, mac: try mac.mac()))
            }
        }

        if let lb = top["load_balancing"] {
            let m = try lb.mapping(allowed: ["mode", "flowlet_idle", "flowlet_table"])
            if let md = m["mode"] { config.loadBalancing.mode = LoadBalancingMode(name: try md.oneOf(LoadBalancingMode.allCases.map(\.name)))! }
            if let t = m["flowlet_idle"] { config.loadBalancing.flowletIdleNanoseconds = try t.microseconds(1...1_000_000) * 1000 }
            if let t = m["flowlet_table"] {
                let n = try t.int(64...1 << 20)
                guard n & (n - 1) == 0 else { throw t.fail("the flowlet table size must be a power of two, got \(n)") }
                config.loadBalancing.flowletTableSize = n
            }
        }
        if let e = top["ecn"] {
            let m = try e.mapping(allowed: ["queues", "kmin", "kmax", "pmax"])
            if let q = m["queues"] {
                config.ecn.queues = 0
                for x in try q.sequence() { config.ecn.queues |= 1 << UInt8(try x.int(0...7)) }
            }
            if let k = m["kmin"] { config.ecn.kminBytes = try k.bytes() }
            if let k = m["kmax"] { config.ecn.kmaxBytes = try k.bytes() }
            if let p = m["pmax"] { config.ecn.pmax = Double(try p.int(0...100)) / 100 }
            guard config.ecn.kminBytes < config.ecn.kmaxBytes else {
                throw e.fail("kmin (\(config.ecn.kminBytes) bytes) must be below kmax (\(config.ecn.kmaxBytes) bytes)")
            }
        }
        if let pfc = top["pfc"] {
            let m = try pfc.mapping(allowed: ["watchdog"])
            if let w = m["watchdog"] {
                let wm = try w.mapping(allowed: ["enabled", "action", "detection", "restoration"])
                if let e = wm["enabled"] {
                    let v = try e.oneOf(["true", "false"])
                    config.pfcWatchdog.enabled = v == "true"
                }
                if let a = wm["action"] {
                    config.pfcWatchdog.action = PFCWatchdogConfig.Action(rawValue: try a.oneOf(PFCWatchdogConfig.Action.allCases.map(\.rawValue)))!
                }
                if let d = wm["detection"] { config.pfcWatchdog.detectionNanoseconds = try d.milliseconds() * 1_000_000 }
                if let r = wm["restoration"] { config.pfcWatchdog.restorationNanoseconds = try r.milliseconds() * 1_000_000 }
            }
        }
        if let b = top["buffers"] {
            let m = try b.mapping(allowed: ["pool", "lossless", "lossy", "cable_length", "mtu"])
            if let v = m["pool"] { config.buffers.poolBytes = try v.bytes() }
            if let v = m["mtu"] { config.buffers.mtu = try v.int(576...9216) }
            if let v = m["cable_length"] {
                let t = try v.string().lowercased()
                guard t.hasSuffix("m"), let meters = Double(t.dropLast()), (0...100_000).contains(meters) else {
                    throw v.fail("expected a cable length like 5m or 300m, got '\(t)'")
                }
                config.buffers.cableMeters = meters
            }
            if let l = m["lossless"] {
                let lm = try l.mapping(allowed: ["reserved", "dynamic_th", "static_th", "xon_offset", "headroom"])
                try Self.profile(l, lm, &config.buffers.lossless)
                if let v = lm["xon_offset"] { config.buffers.xonOffsetBytes = try v.bytes() }
                if let v = lm["headroom"] {
                    config.buffers.headroomBytes = (try? v.oneOf(["auto"])) != nil ? nil : try v.bytes()
                }
            }
            if let l = m["lossy"] {
                try Self.profile(l, try l.mapping(allowed: ["reserved", "dynamic_th", "static_th"]), &config.buffers.lossy)
            }
            for (name, p) in [("lossless", config.buffers.lossless), ("lossy", config.buffers.lossy)] {
                if case .fixed(let t) = p.threshold, t > config.buffers.poolBytes {
                    throw b.fail("\(name).static_th (\(t) bytes) is larger than the pool (\(config.buffers.poolBytes) bytes)")
                }
            }
        }
        return config
    }

    /// `reserved` and one of `dynamic_th` (SONiC's exponent: alpha = 2^n) or `static_th`.
    static func profile(_ c: Cursor, _ m: [String: Cursor], _ p: inout BufferConfig.Profile) throws {
        if let v = m["reserved"] { p.reservedBytes = try v.bytes() }
        switch (m["dynamic_th"], m["static_th"]) {
        case (.some, .some): throw c.fail("give dynamic_th or static_th, not both")
        case (let d?, nil): p.threshold = .dynamic(try d.int(-7...7))
        case (nil, let st?): p.threshold = .fixed(try st.bytes())
        case (nil, nil): break
        }
    }

    static func overrideMap(_ c: Cursor, _ map: inout [UInt8], keys: ClosedRange<Int>) throws {
        guard case .mapping(let m) = c.node else { throw c.fail("expected a mapping like {26: 3}, got \(c.kindName)") }
        for (k, v) in m {
            let kc = c.child(k, k.string ?? "?")
            let key = try kc.int(keys)
            let value = try c.child(v, "\(key)").int(0...7)
            map[key] = UInt8(value)
        }
    }
}

extension IPAddress {
    var isV4: Bool { if case .v4 = self { true } else { false } }
}
