// The XDP fast path's control plane: what keeps its maps (`FastPathMaps`, bpf/README.md "The
// fast path") in step with the switch's own tables.
//
// At start (`start`, from the run loop before its first pass) every table is written from the
// data path and the configuration the switch runs, then `FP_ON` is set: until then every frame
// goes to the sockets, as without the fast path. Then, between batches:
//   - link changes (every 2 ms, `linkChanged`): the live lists of the targets the port is in,
//     then the port's FP_PORT_LINK_UP (bpf/README.md, "Link state, in which order");
//   - every 100 ms (`housekeeping`): the ports (service, MTU, capture), the MAC table and the
//     neighbours, each written only where it differs from what was written before; the fast
//     path's `used` flags folded into the neighbour cache first, and (every second) the
//     `seen_ns` it refreshes into the MAC table, before the data path ages them;
//   - `fabric ctl` routes and config apply (`reconfigure`): the QoS maps, the ports' trust and
//     emulation, and the FIB, written with the fast path off meanwhile, so that no frame meets a
//     route whose target is half written (a frame punted is handled as without the fast path).
// Target and next-hop ids are `FIB`'s: `FIB(entries:)` numbers them in the order of
// `SwitchConfig.fibEntries()`, and `Numbering` does the same over the same entries.
//
// With `--workers N` only worker 0 holds the maps and writes them (the others' backends have no
// `FastPathMaps`); what the others learn reaches worker 0's tables through `WorkerLinks`.
import FabricCore
import FabricPacket
import FabricSystem
import FabricXDP

final class FastPathSync {
    let maps: FastPathMaps
    private(set) var config: SwitchConfig
    let portMACs: [UInt64]
    let portCount: Int
    /// What was last written, so that only differences cost a syscall.
    private var ports: [FastPathPort?]
    private var targets: [(mode: UInt8, hops: [UInt32], ports: [Int])] = []
    private var routes4: Set<Route4> = [], routes6: Set<Route6> = []
    /// Learned MACs as written: port, and the last-seen time written with it.
    private var macs: [UInt64: (port: Int, seen: UInt64)] = [:]
    /// The MAC table's aging time (`fp_config.mac_aging_ns`).
    private var macAging: UInt64 = 300_000_000_000
    private var neighbours4: [UInt32: Neighbour] = [:]
    private var neighbours6: [IPv6Address: Neighbour] = [:]
    private var lastFold: UInt64 = 0
    /// Map writes that failed (each said once, then counted).
    private(set) var failures = 0

    struct Route4: Hashable { var prefix: UInt32, length: Int }
    struct Route6: Hashable { var prefix: IPv6Address, length: Int }
    struct Neighbour: Equatable { var mac: UInt64, expires: UInt64 }

    /// `fp_config`'s FP_STAMP (`--ring-wait on`): kept whenever the config is written.
    let stamp: Bool

    init(maps: FastPathMaps, config: SwitchConfig, portMACs: [MACAddress], stamp: Bool) {
        self.maps = maps
        self.stamp = stamp
        self.config = config
        self.portMACs = portMACs.map(\.rawValue)
        portCount = config.ports.count
        ports = Array(repeating: nil, count: portCount)
    }

    var router: Bool { config.mode == .router }

    /// Writes every table from `dp`, then turns the fast path on.
    func start(_ dp: inout Datapath, captureMask: UInt64, now: UInt64) throws {
        macAging = dp.macAgingTime
        try maps.set(fastPathConfig(on: false))
        for p in 0..<portCount { try write(port: p, entry(p, dp, captureMask)) }
        if router { try writeFIB(dp) }
        housekeeping(&dp, captureMask: captureMask, now: now)
        try maps.set(fastPathConfig(on: true))
    }

    /// `fp_config` from the running configuration.
    func fastPathConfig(on: Bool) -> FastPathConfig {
        var c = FastPathConfig()
        c.on = on
        c.router = router
        c.stamp = stamp
        c.userspaceTrafficClasses = config.qos.losslessTCs
        c.macAgingNanoseconds = macAging
        c.dscpToTrafficClass = config.qos.dscpToTC
        return c
    }

    /// Port `p` as the fast path must see it now.
    func entry(_ p: Int, _ dp: borrowing Datapath, _ captureMask: UInt64) -> FastPathPort {
        let c = config.ports[p]
        var e = FastPathPort()
        e.fastPath = true
        e.linkUp = dp.isLinkUp(p)
        e.inService = dp.isInService(p)
        e.trustPCP = c.trust == .pcp
        e.emulated = c.speedGbps != nil || c.delayNanoseconds > 0 || c.lossPercent > 0
        e.capture = p < 64 && captureMask & (1 << UInt64(p)) != 0
        let largest = dp.largestFrameBytes(port: p)
        e.largestFrame = largest == .max ? 0 : largest
        e.mac = portMACs[p]
        return e
    }

    private func write(port p: Int, _ e: FastPathPort) throws {
        guard ports[p] != e else { return }
        try maps.set(port: p, e)
        ports[p] = e
    }

    /// Port `p`'s link went up or down (the data path knows already): the live lists of the
    /// targets it is in first, then its own entry.
    func linkChanged(port p: Int, _ dp: borrowing Datapath, captureMask: UInt64) {
        let up = (0..<portCount).map { dp.isLinkUp($0) }
        attempt("link of port \(p)") {
            for (id, t) in targets.enumerated() where t.ports.contains(p) {
                try maps.setTarget(UInt32(id), mode: t.mode, hops: t.hops, memberPorts: t.ports, linkUp: up)
            }
            try write(port: p, entry(p, dp, captureMask))
        }
    }

    /// A port left service (its interface vanished): no more redirects into it.
    func portGone(_ p: Int, _ dp: borrowing Datapath, captureMask: UInt64) {
        maps.removeTransmit(port: p)
        attempt("port \(p) out of service") { try write(port: p, entry(p, dp, captureMask)) }
    }

    /// The 100 ms duties: ports, then the neighbours' used flags and the MAC table's last-seen
    /// times folded back, then the MAC table and neighbours written where they changed.
    func housekeeping(_ dp: inout Datapath, captureMask: UInt64, now: UInt64) {
        attempt("ports") { for p in 0..<portCount { try write(port: p, entry(p, dp, captureMask)) } }
        if router {
            syncNeighbours(&dp)
        } else {
            // As often as XDP refreshes (min(1 s, aging / 8), bpf FP_SEEN_REFRESH_NS): the table's
            // last-seen then lags the traffic by at most aging / 4 and a housekeeping tick, so a
            // source the fast path sees never ages (with a fold and a refresh of 1 s each, a 2 s
            // aging time aged them out on a loaded machine).
            if now &- lastFold >= min(1_000_000_000, macAging / 8) {
                lastFold = now
                for mac in macs.keys {
                    if let seen = maps.seen(mac: mac) { dp.refreshMAC(mac, seen: seen) }
                }
            }
            syncMACs(dp)
        }
    }

    private func syncMACs(_ dp: borrowing Datapath) {
        var now: [UInt64: (port: Int, seen: UInt64)] = [:]
        now.reserveCapacity(macs.count)
        dp.forEachLearnedMAC { mac, port, seen in now[mac] = (port, seen) }
        // New or moved, or seen by userspace well after what the map holds (frames from it
        // punted, e.g. flooded): the map's entry must not age out before the table's.
        attempt("MAC table") {
            for (mac, e) in now {
                if let w = macs[mac], w.port == e.port, e.seen &- w.seen < macAging / 4 || e.seen < w.seen { continue }
                try maps.learn(mac: mac, port: e.port, seen: e.seen)
                macs[mac] = e
            }
        }
        for mac in macs.keys where now[mac] == nil {
            maps.forget(mac: mac)
            macs[mac] = nil
        }
    }

    private func syncNeighbours(_ dp: inout Datapath) {
        // What the fast path forwarded to counts as used before the data path's sweep decides
        // which entries to refresh.
        for ip in neighbours4.keys where maps.takeUsed(v4: ip) { dp.markNeighbourUsed(v4: ip) }
        for ip in neighbours6.keys where maps.takeUsed(v6: ip.high, ip.low) { dp.markNeighbourUsed(v6: ip) }
        var now4: [UInt32: Neighbour] = [:], now6: [IPv6Address: Neighbour] = [:]
        dp.forEachResolvedNeighbour4 { ip, mac, expires in now4[ip] = Neighbour(mac: mac, expires: expires) }
        dp.forEachResolvedNeighbour6 { ip, mac, expires in now6[ip] = Neighbour(mac: mac, expires: expires) }
        attempt("neighbours") {
            for (ip, n) in now4 where neighbours4[ip] != n {
                try maps.setNeighbour(v4: ip, mac: n.mac, expires: n.expires)
                neighbours4[ip] = n
            }
            for (ip, n) in now6 where neighbours6[ip] != n {
                try maps.setNeighbour(v6: ip.high, ip.low, mac: n.mac, expires: n.expires)
                neighbours6[ip] = n
            }
        }
        for ip in neighbours4.keys where now4[ip] == nil {
            maps.removeNeighbour(v4: ip)
            neighbours4[ip] = nil
        }
        for ip in neighbours6.keys where now6[ip] == nil {
            maps.removeNeighbour(v6: ip.high, ip.low)
            neighbours6[ip] = nil
        }
    }

    /// A new running configuration (`fabric ctl`): QoS, ports and the FIB, with the fast path
    /// off while they are written. The data path has applied it already.
    func reconfigure(_ c: SwitchConfig, _ dp: inout Datapath, captureMask: UInt64, now: UInt64) {
        config = c
        attempt("config apply") {
            try maps.set(fastPathConfig(on: false))
            for p in 0..<portCount { try write(port: p, entry(p, dp, captureMask)) }
            if router { try writeFIB(dp) }
            try maps.set(fastPathConfig(on: true))
        }
    }

    /// Next hops, targets, routes (the switch's own addresses as local host routes), then the
    /// routes no longer there removed.
    private func writeFIB(_ dp: borrowing Datapath) throws {
        let n = Numbering(config.fibEntries())
        for (id, h) in n.hops.enumerated() {
            switch h.gateway {
            case nil: try maps.setConnectedHop(UInt32(id), port: h.port)
            case .v4(let g)?: try maps.setHop(UInt32(id), port: h.port, gateway4: g)
            case .v6(let g)?: try maps.setHop(UInt32(id), port: h.port, gateway6: g.high, g.low)
            }
        }
        let up = (0..<portCount).map { dp.isLinkUp($0) }
        targets = n.targets.map { t in (t.mode, t.hops.map(UInt32.init), t.hops.map { n.hops[$0].port }) }
        for (id, t) in targets.enumerated() {
            try maps.setTarget(UInt32(id), mode: t.mode, hops: t.hops, memberPorts: t.ports, linkUp: up)
        }
        var new4: Set<Route4> = [], new6: Set<Route6> = []
        for (prefix, target) in n.routes {
            switch prefix.network.address {
            case .v4(let a):
                try maps.setRoute(v4: a, length: prefix.length, target: target)
                new4.insert(Route4(prefix: a, length: prefix.length))
            case .v6(let a):
                try maps.setRoute(v6: a.high, a.low, length: prefix.length, target: target)
                new6.insert(Route6(prefix: a, length: prefix.length))
            }
        }
        for port in config.ports {
            for a in port.addresses {
                switch a.address {
                case .v4(let x):
                    try maps.setRoute(v4: x, length: 32, target: FastPathMaps.localTarget)
                    new4.insert(Route4(prefix: x, length: 32))
                case .v6(let x):
                    try maps.setRoute(v6: x.high, x.low, length: 128, target: FastPathMaps.localTarget)
                    new6.insert(Route6(prefix: x, length: 128))
                }
            }
        }
        for r in routes4.subtracting(new4) { maps.removeRoute(v4: r.prefix, length: r.length) }
        for r in routes6.subtracting(new6) { maps.removeRoute(v6: r.prefix.high, r.prefix.low, length: r.length) }
        routes4 = new4
        routes6 = new6
    }

    private func attempt(_ what: String, _ body: () throws -> Void) {
        do { try body() } catch {
            failures += 1
            if failures <= 10 { logLine("fabric: fast path: \(what): \(error) (such frames go to userspace)") }
        }
    }

    // MARK: - Counters

    func stats(port p: Int) -> FastPathPortStats { maps.stats(port: p) }
}

/// `FIB(entries:)`'s numbering of targets and next hops, over the same entries in the same
/// order: routes with the same next hops and mode share a target; next hops are numbered as
/// first met.
struct Numbering {
    var hops: [NextHop] = []
    var targets: [(mode: UInt8, hops: [Int])] = []
    var routes: [(IPPrefix, UInt32)] = []

    init(_ entries: [FIB.Entry]) {
        var hopIndex: [NextHop: Int] = [:]
        var targetIndex: [TargetKey: UInt32] = [:]
        for e in entries {
            let key = TargetKey(hops: e.nextHops, mode: e.mode.rawValue)
            let t: UInt32
            if let shared = targetIndex[key] {
                t = shared
            } else {
                t = UInt32(targets.count)
                targetIndex[key] = t
                var ids: [Int] = []
                for h in e.nextHops {
                    if let id = hopIndex[h] {
                        ids.append(id)
                    } else {
                        hops.append(h)
                        hopIndex[h] = hops.count - 1
                        ids.append(hops.count - 1)
                    }
                }
                targets.append((e.mode.rawValue, ids))
            }
            routes.append((e.prefix, t))
        }
    }

    struct TargetKey: Hashable {
        var hops: [NextHop]
        var mode: UInt8
    }
}

/// `fabric_punts` slot names (`FP_PUNT_*`, bpf/fabric_fastpath_types.h), for the stats.
enum FastPathPunt {
    static let names = ["", "multi_buffer", "ingress", "runt", "vlan", "mac_control", "not_mine", "not_ip", "malformed",
                        "ipv4_options", "fragment", "ipv6_extension", "roce", "lossless", "nd", "multicast", "local", "ttl",
                        "no_route", "group_mode", "unresolved", "egress_down", "egress_emulated", "egress_capture", "oversize",
                        "no_tx_port", "invalid_source", "group_dest", "unknown_source", "unknown_dest", "same_port"]

    /// The nonzero slots of `counts`, by name.
    static func named(_ counts: [UInt64]) -> [String: UInt64] {
        var out: [String: UInt64] = [:]
        for (i, v) in counts.enumerated() where v > 0 { out[i < names.count && i > 0 ? names[i] : "slot\(i)"] = v }
        return out
    }
}
