// A `SwitchConfig` as the YAML file `ConfigLoader` reads: the one way the project writes switch
// configurations (test beds, experiments, tests). Emitting then loading gives back an equal
// value for every configuration the loader can produce (Tests/FabricConfigTests); sections
// and keys that hold their defaults are left out.
//
// What the file format cannot say is written as near as it can: a QoS profile that is not one
// of `QoSMaps.profileNames` becomes nvidia-roce with overrides, `ecn.pmax` is a whole percent,
// and `buffers.softwareSlackBytes` and `minimumChargeBytes` (not configuration keys) are not
// written. A route with its
// own load-balancing mode is written as an ECMP group named `route<N>` (the file's way to say it).
import FabricCore
import Foundation

public enum SwitchConfigYAML {
    /// The configuration as YAML; `header` becomes a comment at the top.
    public static func text(_ c: SwitchConfig, header: String? = nil) -> String {
        var w = YAMLWriter()
        if let h = header { w.comment(h) }
        w.section("switch") { w in
            w.field("name", YAMLWriter.scalar(c.name))
            w.field("mode", c.mode.rawValue)
        }
        if c.qos != .nvidiaRoCE { qos(c.qos, &w) }
        w.section("ports") { w in
            for p in c.ports {
                w.item { w in
                    w.field("name", YAMLWriter.scalar(p.name))
                    if let m = p.mac { w.field("mac", m.description) }
                    if !p.addresses.isEmpty { w.field("addresses", YAMLWriter.list(p.addresses.map(\.description))) }
                    if p.trust != .dscp { w.field("trust", p.trust.rawValue) }
                    if let s = p.speedGbps { w.field("speed", Units.text(gbps: s)) }
                    if p.delayNanoseconds > 0 { w.field("delay", Units.text(nanoseconds: p.delayNanoseconds)) }
                    if p.lossPercent > 0 { w.field("loss", Units.text(percent: p.lossPercent)) }
                    if p.lossPercent > 0, let seed = p.lossSeed { w.field("loss_seed", "\(seed)") }
                    if let e = p.pfcEnable { w.field("pfc_enable", list(e)) }
                }
            }
        }
        routes(c, &w)
        if !c.neighbours.isEmpty {
            w.section("neighbours") { w in
                for n in c.neighbours {
                    w.item { w in
                        w.field("address", n.address.description)
                        w.field("mac", n.mac.description)
                    }
                }
            }
        }
        lossless(c, &w)
        return w.text
    }

    /// Writes the configuration to `path` (atomically).
    public static func write(_ c: SwitchConfig, to path: String, header: String? = nil) throws {
        try text(c, header: header).write(toFile: path, atomically: true, encoding: .utf8)
    }

    static func qos(_ q: QoSMaps, _ w: inout YAMLWriter) {
        let base = QoSMaps.named(q.profile) ?? .nvidiaRoCE
        w.section("qos") { w in
            if base.profile != QoSMaps.nvidiaRoCE.profile { w.field("profile", base.profile) }
            let maps: [(String, KeyPath<QoSMaps, [UInt8]>)] = [("dscp_to_tc", \.dscpToTC), ("pcp_to_tc", \.pcpToTC),
                                                               ("tc_to_priority_group", \.tcToPriorityGroup), ("tc_to_queue", \.tcToQueue)]
            for (key, path) in maps { overrides(key, q[keyPath: path].map(Int.init), base[keyPath: path].map(Int.init), &w) }
            if q.losslessTCs != base.losslessTCs { w.field("lossless_tcs", list(q.losslessTCs)) }
            if q.strictQueues != base.strictQueues { w.field("strict_queues", list(q.strictQueues)) }
            overrides("ets_weights", q.etsWeights, base.etsWeights, &w)
        }
    }

    /// `{26: 3}`: the entries of `map` that differ from `base`.
    static func overrides(_ key: String, _ map: [Int], _ base: [Int], _ w: inout YAMLWriter) {
        let changed = map.indices.filter { map[$0] != base[$0] }
        if !changed.isEmpty { w.field(key, "{" + changed.map { "\($0): \(map[$0])" }.joined(separator: ", ") + "}") }
    }

    /// A bit mask of queues or traffic classes as a list: 0b11000 -> `[3, 4]`.
    static func list(_ mask: UInt8) -> String { YAMLWriter.list((0..<8).filter { mask & 1 << $0 != 0 }.map(String.init)) }

    static func routes(_ c: SwitchConfig, _ w: inout YAMLWriter) {
        let grouped = c.routes.indices.filter { c.routes[$0].mode != nil }
        if !grouped.isEmpty {
            w.section("ecmp_groups") { w in
                for i in grouped {
                    w.item { w in
                        w.field("name", "route\(i)")
                        w.field("members", YAMLWriter.list(c.routes[i].nextHops.map(\.description)))
                        w.field("mode", c.routes[i].mode!.name)
                    }
                }
            }
        }
        guard !c.routes.isEmpty else { return }
        w.section("routes") { w in
            for (i, r) in c.routes.enumerated() {
                w.item { w in
                    w.field("prefix", r.prefix.description)
                    if r.mode != nil { w.field("group", "route\(i)") } else { w.field("via", YAMLWriter.list(r.nextHops.map(\.description))) }
                }
            }
        }
    }

    static func lossless(_ c: SwitchConfig, _ w: inout YAMLWriter) {
        let lb = c.loadBalancing, lbBase = LoadBalancingConfig()
        if lb != lbBase {
            w.section("load_balancing") { w in
                if lb.mode != lbBase.mode { w.field("mode", lb.mode.name) }
                if lb.flowletIdleNanoseconds != lbBase.flowletIdleNanoseconds { w.field("flowlet_idle", Units.text(nanoseconds: lb.flowletIdleNanoseconds)) }
                if lb.flowletTableSize != lbBase.flowletTableSize { w.field("flowlet_table", "\(lb.flowletTableSize)") }
            }
        }
        let e = c.ecn
        if e != ECNConfig() {
            w.section("ecn") { w in
                w.field("queues", list(e.queues))
                w.field("kmin", Units.text(bytes: e.kminBytes))
                w.field("kmax", Units.text(bytes: e.kmaxBytes))
                w.field("pmax", "\(Int((e.pmax * 100).rounded()))")
            }
        }
        let wd = c.pfcWatchdog
        if wd != PFCWatchdogConfig() {
            w.section("pfc") { w in
                w.section("watchdog") { w in
                    w.field("enabled", "\(wd.enabled)")
                    w.field("action", wd.action.rawValue)
                    w.field("detection", Units.text(nanoseconds: wd.detectionNanoseconds))
                    w.field("restoration", Units.text(nanoseconds: wd.restorationNanoseconds))
                }
            }
        }
        buffers(c.buffers, &w)
    }

    static func buffers(_ b: BufferConfig, _ w: inout YAMLWriter) {
        let base = BufferConfig()
        guard b != base else { return }
        w.section("buffers") { w in
            if b.poolBytes != base.poolBytes { w.field("pool", Units.text(bytes: b.poolBytes)) }
            if b.mtu != base.mtu { w.field("mtu", "\(b.mtu)") }
            if b.stallBudgetNanoseconds != base.stallBudgetNanoseconds { w.field("stall_budget", Units.text(nanoseconds: b.stallBudgetNanoseconds)) }
            if b.stallRateGbps != base.stallRateGbps { w.field("stall_rate", Units.text(gbps: b.stallRateGbps)) }
            if b.cableMeters != base.cableMeters {
                let m = b.cableMeters
                w.field("cable_length", (m == m.rounded() && m < 1e15 ? "\(Int(m))" : "\(m)") + "m")
            }
            w.section("lossless") { w in
                profile(b.lossless, &w)
                w.field("xon_offset", Units.text(bytes: b.xonOffsetBytes))
                w.field("headroom", b.headroomBytes.map { Units.text(bytes: $0) } ?? "auto")
            }
            w.section("lossy") { w in profile(b.lossy, &w) }
        }
    }

    static func profile(_ p: BufferConfig.Profile, _ w: inout YAMLWriter) {
        w.field("reserved", Units.text(bytes: p.reservedBytes))
        switch p.threshold {
        case .dynamic(let n): w.field("dynamic_th", "\(n)")
        case .fixed(let bytes): w.field("static_th", Units.text(bytes: bytes))
        }
    }
}
