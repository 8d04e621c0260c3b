// `ecn`, `pfc` and `buffers`: ECN marking, the PFC watchdog and SONiC's ingress buffer model.
import FabricCore

extension ConfigLoader {
    static func readECN(_ node: Cursor) throws -> ECNConfig {
        let m = try node.mapping(allowed: ["queues", "kmin", "kmax", "pmax"])
        var ecn = ECNConfig()
        if let q = m["queues"] { ecn.queues = try bitmask(q) }
        if let k = m["kmin"] { ecn.kminBytes = try k.bytes() }
        if let k = m["kmax"] { ecn.kmaxBytes = try k.bytes() }
        if let p = m["pmax"] { ecn.pmax = Double(try p.int(0...100)) / 100 }
        guard ecn.kminBytes < ecn.kmaxBytes else {
            throw (m["kmin"] ?? m["kmax"] ?? node).fail("kmin (\(ecn.kminBytes) bytes) must be below kmax (\(ecn.kmaxBytes) bytes)")
        }
        return ecn
    }

    static func readPFC(_ node: Cursor) throws -> PFCWatchdogConfig {
        var wd = PFCWatchdogConfig()
        guard let w = try node.mapping(allowed: ["watchdog"])["watchdog"] else { return wd }
        let m = try w.mapping(allowed: ["enabled", "action", "detection", "restoration"])
        if let e = m["enabled"] { wd.enabled = try e.bool() }
        if let a = m["action"] { wd.action = try a.oneOf(PFCWatchdogConfig.Action.self) }
        let range: ClosedRange<UInt64> = 100_000_000...60_000_000_000
        if let d = m["detection"] { wd.detectionNanoseconds = try d.nanoseconds(range, example: "200ms") }
        if let r = m["restoration"] { wd.restorationNanoseconds = try r.nanoseconds(range, example: "200ms") }
        return wd
    }

    static func readBuffers(_ node: Cursor) throws -> BufferConfig {
        let m = try node.mapping(allowed: ["pool", "lossless", "lossy", "cable_length", "mtu", "stall_budget", "stall_rate"])
        var b = BufferConfig()
        if let v = m["pool"] { b.poolBytes = try v.bytes() }
        if let v = m["stall_budget"] { b.stallBudgetNanoseconds = try v.nanoseconds(0...10_000_000_000, example: "100ms") }
        if let v = m["stall_rate"] { b.stallRateGbps = try v.gbps() }
        if let v = m["mtu"] {
            let largest = BufferConfig.largestMTU
            b.mtu = try v.int(BufferConfig.smallestMTU...65535)
            guard b.mtu <= largest else {
                throw v.fail("\(b.mtu) is above \(largest), the largest MTU the switch carries (jumbo frames of up to \(FramePool.largestPacket) bytes)")
            }
        }
        if let v = m["cable_length"] {
            let t = try v.string().lowercased()
            guard t.hasSuffix("m"), let meters = Units.number(t.dropLast()), meters <= 100_000 else {
                throw v.fail("expected a cable length like 5m or 300m (at most 100000m), got '\(t)'")
            }
            b.cableMeters = meters
        }
        if let l = m["lossless"] {
            let lm = try l.mapping(allowed: ["reserved", "dynamic_th", "static_th", "xon_offset", "headroom"])
            b.lossless = try profile(l, lm, b.lossless)
            if let v = lm["xon_offset"] { b.xonOffsetBytes = try v.bytes() }
            if let v = lm["headroom"] {
                b.headroomBytes = try v.string() == "auto" ? nil : try v.bytes()
                if let h = b.headroomBytes, h < b.longestFrameCharge {
                    throw v.fail("the headroom (\(h) bytes) must hold at least one frame of the MTU (\(b.longestFrameCharge) bytes)")
                }
            }
        }
        if let l = m["lossy"] {
            b.lossy = try profile(l, try l.mapping(allowed: ["reserved", "dynamic_th", "static_th"]), b.lossy)
        }
        for (name, p) in [("lossless", b.lossless), ("lossy", b.lossy)] {
            if case .fixed(let t) = p.threshold, t > b.poolBytes {
                throw node.fail("\(name).static_th (\(t) bytes) is larger than the pool (\(b.poolBytes) bytes)")
            }
        }
        // Each must hold at least one frame of the MTU, or such frames are always dropped.
        let frame = b.longestFrameCharge
        if b.poolBytes < frame {
            throw (m["pool"] ?? node).fail("the pool (\(b.poolBytes) bytes) must hold at least one frame of the MTU (\(frame) bytes)")
        }
        for (name, p) in [("lossless", b.lossless), ("lossy", b.lossy)] where b.emptyPoolCapacity(p) < frame {
            throw (m[name] ?? m["pool"] ?? node).fail("a \(name) PG could hold only \(b.emptyPoolCapacity(p)) bytes (reserved plus its threshold of an "
                                                   + "empty pool), less than one frame of the MTU (\(frame) bytes)")
        }
        return b
    }

    /// `reserved` and one of `dynamic_th` (SONiC's exponent: alpha = 2^n) or `static_th`.
    static func profile(_ c: Cursor, _ m: [String: Cursor], _ base: BufferConfig.Profile) throws -> BufferConfig.Profile {
        var p = base
        if let v = m["reserved"] { p.reservedBytes = try v.bytes() }
        switch (m["dynamic_th"], m["static_th"]) {
        case (.some, .some): throw c.fail("give dynamic_th or static_th, not both")
        case (let d?, nil): p.threshold = .dynamic(try d.int(-7...7))
        case (nil, let st?): p.threshold = .fixed(try st.bytes())
        case (nil, nil): break
        }
        return p
    }
}
