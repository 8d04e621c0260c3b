// `switch.ports` and `qos`: the ports with their addresses, trust, line rate and the priorities
// whose PFC they honour, and the QoS maps (a profile with overrides).
import FabricCore
import FabricPacket

extension ConfigLoader {
    static func readPorts(_ node: Cursor) throws -> [PortConfig] {
        var ports: [PortConfig] = []
        var seenNames: [String: Int] = [:]
        var seenAddresses: [IPAddress: String] = [:]
        for pc in try node.sequence() {
            let m = try pc.mapping(allowed: ["name", "mac", "addresses", "trust", "speed", "delay", "loss", "loss_seed", "pfc_enable"])
            guard let n = m["name"] else { throw pc.fail("missing 'name' (the interface name)") }
            let pname = try n.string()
            guard !pname.isEmpty, pname.utf8.count < 16, !pname.contains("/"), !pname.contains(" ") else {
                throw n.fail("'\(pname)' is not a valid interface name (1-15 characters, no '/' or spaces)")
            }
            if let first = seenNames[pname] { throw n.fail("duplicate port '\(pname)' (also ports[\(first)])") }
            seenNames[pname] = ports.count
            var port = PortConfig(name: pname)
            if let mac = m["mac"] { port.mac = try mac.mac() }
            if let t = m["trust"] { port.trust = try t.oneOf(TrustMode.self) }
            if let s = m["speed"] { port.speedGbps = try s.gbps() }
            try readLinkEmulation(m, into: &port)
            // `[3, 4]`, or `[]` for none; absent: the lossless TCs of the QoS maps.
            if let e = m["pfc_enable"] { port.pfcEnable = try bitmask(e) }
            for ac in try m["addresses"]?.sequence() ?? [] {
                let p = try ac.prefix(strict: false)
                if p.network == p && p.length < (p.address.isV4 ? 31 : 127) {
                    throw ac.fail("'\(p)' is a network address; a port needs a host address in it")
                }
                if let other = seenAddresses[p.address] { throw ac.fail("address \(p.address) is already on port \(other)") }
                for other in ports {
                    for q in other.addresses where q.overlaps(p) {
                        throw ac.fail("subnet \(p.network) overlaps \(q.network) on port \(other.name) (an address in both would be connected to two ports)")
                    }
                }
                seenAddresses[p.address] = pname
                port.addresses.append(p)
            }
            ports.append(port)
        }
        guard !ports.isEmpty else { throw node.fail("a switch needs at least one port") }
        return ports
    }

    /// `delay`, `loss`, `loss_seed` of a port (switch configurations) or a link (topology
    /// files): the emulated wire beyond the shaper. A delay whose frames in flight (delay x
    /// `speed` in minimum-size frames) do not fit a delay line is refused here, with the
    /// longest delay the speed allows.
    public static func readLinkEmulation(_ m: [String: Cursor], into port: inout PortConfig) throws {
        if let d = m["delay"] {
            port.delayNanoseconds = try d.nanoseconds(0...PortConfig.maxDelayNanoseconds, example: "2ms")
            if let frames = PortConfig.framesInFlight(delayNanoseconds: port.delayNanoseconds, gbps: port.speedGbps),
               frames > PortConfig.maxDelayLineFrames, let longest = port.longestDelayNanoseconds {
                throw d.fail("delay \(Units.text(nanoseconds: port.delayNanoseconds)) at \(Units.text(gbps: port.speedGbps ?? 0)) puts up to \(frames) "
                    + "minimum-size frames on the wire; a port's delay line holds \(PortConfig.maxDelayLineFrames) "
                    + "(at most \(Units.text(nanoseconds: longest / 1000 * 1000)) at this speed)")
            }
        }
        if let l = m["loss"] { port.lossPercent = try l.percent() }
        if let s = m["loss_seed"] {
            guard m["loss"] != nil else { throw s.fail("loss_seed without loss (give loss: 0.1% or so)") }
            port.lossSeed = UInt64(try s.int(0...Int.max))
        }
    }

    static func readQoS(_ node: Cursor) throws -> QoSMaps {
        let m = try node.mapping(allowed: ["profile", "dscp_to_tc", "pcp_to_tc", "tc_to_priority_group", "tc_to_queue", "lossless_tcs",
                                           "strict_queues", "ets_weights"])
        var qos = QoSMaps.nvidiaRoCE
        if let p = m["profile"] { qos = QoSMaps.named(try p.oneOf(QoSMaps.profileNames))! }
        if let d = m["dscp_to_tc"] { try overrideMap(d, &qos.dscpToTC, keys: 0...63) }
        if let d = m["pcp_to_tc"] { try overrideMap(d, &qos.pcpToTC, keys: 0...7) }
        if let d = m["tc_to_priority_group"] { try overrideMap(d, &qos.tcToPriorityGroup, keys: 0...7) }
        if let d = m["tc_to_queue"] { try overrideMap(d, &qos.tcToQueue, keys: 0...7) }
        if let sq = m["strict_queues"] { qos.strictQueues = try bitmask(sq) }
        if let w = m["ets_weights"] {
            for (q, v) in try w.intEntries(0...7, expected: "a mapping like {0: 1, 3: 4}") { qos.etsWeights[q] = try v.int(1...100) }
        }
        if let l = m["lossless_tcs"] { qos.losslessTCs = try bitmask(l) }
        // A PG is lossless or lossy as a whole (its buffer profile, its XOFF): a lossy TC in a
        // lossless PG would be charged as lossless but never paused.
        for pg in 0..<8 {
            let tcs = (0..<8).filter { qos.tcToPriorityGroup[$0] == pg }
            let lossless = tcs.filter { qos.losslessTCs & (1 << UInt8($0)) != 0 }
            guard lossless.isEmpty || lossless.count == tcs.count else {
                let lossy = tcs.filter { !lossless.contains($0) }
                func names(_ l: [Int]) -> String { l.map { "TC\($0)" }.joined(separator: ", ") }
                throw (m["tc_to_priority_group"] ?? m["lossless_tcs"] ?? node).fail(
                    "priority group \(pg) holds lossless \(names(lossless)) and lossy \(names(lossy)); a PG is lossless or lossy as a whole")
            }
        }
        return qos
    }

    /// `{26: 3}`: entries of `map` (keys in `keys`) set to traffic classes 0-7.
    static func overrideMap(_ c: Cursor, _ map: inout [UInt8], keys: ClosedRange<Int>) throws {
        for (k, v) in try c.intEntries(keys, expected: "a mapping like {26: 3}") { map[k] = UInt8(try v.int(0...7)) }
    }
}
