import FabricConfig
import FabricCore
import FabricIO
import FabricPacket
import FabricTelemetry
import Foundation

/// What `fabric ctl` may change on a running switch, and how each request becomes a
/// `ControlChange` (on the control server's thread, so the worker only swaps things in).
///
/// Live: routes and ECMP groups (`route add|del`, or the routes of `config apply`), static
/// neighbours (added), ECN, the PFC watchdog, the QoS maps, each port's trust, PFC enable and
/// emulated link (speed, delay, loss), a port's admin state, clearing counters.
/// Restart-only (`config apply` refuses the whole file, naming what differs): the mode, the
/// ports' names, MACs and addresses (the sockets and the connected routes), the buffers (the
/// pool and the frame memory are sized at start), load-balancing mode, timer and table size.
/// Every new configuration goes through the same loader as `--config`, so it is checked
/// exactly as at start, gets the same command-line overrides (`--stall-budget`, `--stall-rate`),
/// and must fit what was sized at start (`FrameBudget`: receive rings, frame memory, the large
/// lossless egress queues): a faster or longer link or a new lossless class that needs more
/// than that is refused as restart-only too, naming what it needs.
final class ControlPlane: @unchecked Sendable {
    private var config: SwitchConfig?
    private let ports: [String]
    private let options: SwitchOptions
    /// The rings and frame memory sized at start.
    private let startBudget: FrameBudget
    private let lock = NSLock()

    init(options: SwitchOptions) {
        self.options = options
        config = options.config.map { _ in options.switchConfig }
        ports = options.ports
        startBudget = options.frameBudget
    }

    /// `c` with the command line's overrides, as the switch would run it.
    private func overridden(_ c: SwitchConfig) -> SwitchConfig {
        var o = options
        o.config = c
        return o.switchConfig
    }

    /// What no longer fits the rings, frame memory and lossless queues sized at start.
    static func outgrown(_ start: FrameBudget, _ new: FrameBudget, ports: [PortConfig]) -> [String] {
        var out: [String] = []
        for (p, port) in ports.enumerated() where p < start.rxRing.count && new.rxRing[p] > start.rxRing[p] {
            out.append("port \(port.name) receive ring (the stall budget at its speed needs \(new.rxRing[p]) entries, \(start.rxRing[p]) at start)")
        }
        // Frames outside the rings share one pool: queued (PG limits, headroom) and on the wires
        // (delay x speed) may trade places, not grow past it.
        if new.outsideRings > start.outsideRings {
            out.append("frame memory (\(new.queued) frames queued + \(new.wire) on the wires at most, \(start.queued) + \(start.wire) at start: "
                       + "start with the longest delay and highest speed a port will get)")
        }
        let newLossless = new.losslessQueues & ~start.losslessQueues
        if newLossless != 0 || new.losslessQueueCapacity > start.losslessQueueCapacity {
            out.append("lossless egress queues (\((0..<8).filter { newLossless & (1 << UInt8($0)) != 0 }.map(String.init).joined(separator: ",")) sized lossy at start; \(new.losslessQueueCapacity) frames needed, \(start.losslessQueueCapacity) at start)")
        }
        return out
    }

    static let usage = "expected: port shutdown|startup PORT, route add PREFIX via NH[,NH..], route del PREFIX, config apply FILE, clear counters|watermarks"

    func prepare(_ request: String) throws -> any ControlChange {
        lock.lock()
        defer { lock.unlock() }
        let words = request.split(separator: " ", omittingEmptySubsequences: true).map(String.init)
        switch (words.first, words.dropFirst().first) {
        case ("port", "shutdown"?), ("port", "startup"?):
            guard words.count == 3, let p = ports.firstIndex(of: words[2]) else {
                throw ControlError("port \(words[1]): which port? (one of \(ports.joined(separator: " ")))")
            }
            return PortAdminChange(port: p, up: words[1] == "startup")
        case ("clear", "counters"?) where words.count == 2: return ClearChange(watermarksOnly: false)
        case ("clear", "watermarks"?) where words.count == 2: return ClearChange(watermarksOnly: true)
        case ("route", "add"?):
            guard words.count == 5, words[3] == "via", let prefix = IPPrefix(words[2], strict: false) else {
                throw ControlError("route add PREFIX via NH[,NH..] (got '\(request)')")
            }
            var hops: [IPAddress] = []
            for text in words[4].split(separator: ",").map(String.init) {
                guard let a = IPAddress(text) else { throw ControlError("route add: '\(text)' is no IP address") }
                hops.append(a)
            }
            var c = try running(router: true)
            let replaced = c.routes.contains { $0.prefix == prefix }
            c.routes.removeAll { $0.prefix == prefix }
            c.routes.append(RouteConfig(prefix: prefix, nextHops: hops))
            return try live(c, summary: "route \(prefix) via \(words[4]) (\(replaced ? "replaced" : "added"))")
        case ("route", "del"?):
            guard words.count == 3, let prefix = IPPrefix(words[2], strict: false) else { throw ControlError("route del PREFIX (got '\(request)')") }
            var c = try running(router: true)
            guard c.routes.contains(where: { $0.prefix == prefix }) else { throw ControlError("route del: no static route \(prefix)") }
            c.routes.removeAll { $0.prefix == prefix }
            return try live(c, summary: "route \(prefix) deleted")
        case ("config", "apply"?):
            guard words.count == 3 else { throw ControlError("config apply FILE") }
            let old = try running()
            let new = overridden(try ConfigLoader.load(file: words[2]))
            var restartOnly = Self.restartOnly(old, new)
            if restartOnly.isEmpty {
                var o = options
                o.config = new
                restartOnly = Self.outgrown(startBudget, o.frameBudget, ports: new.ports)
            }
            guard restartOnly.isEmpty else {
                throw ControlError("\(words[2]): nothing applied: \(restartOnly.joined(separator: ", ")) can change only with a restart")
            }
            return try live(new, summary: "\(words[2]): \(Self.liveDifferences(old, new))")
        default:
            throw ControlError("unknown request '\(request)' (\(Self.usage))")
        }
    }

    private func running(router: Bool = false) throws -> SwitchConfig {
        guard let c = config else { throw ControlError("this switch runs without --config: nothing to change") }
        guard !router || c.mode == .router else { throw ControlError("routes change only on a router") }
        return c
    }

    /// Checks `c` as the loader checks a file, builds its FIB, and makes it the running one.
    private func live(_ c: SwitchConfig, summary: String) throws -> any ControlChange {
        let checked = try ConfigLoader.parse(SwitchConfigYAML.text(c), file: "<fabric ctl>")
        let old = config
        config = checked
        var links: [(Int, PortConfig)] = []
        for (p, port) in checked.ports.enumerated() where old.map({ Self.link($0.ports[p]) != Self.link(port) }) ?? false { links.append((p, port)) }
        let qosChanged = old.map { $0.qos != checked.qos || $0.ports.map(\.trust) != checked.ports.map(\.trust)
            || (0..<checked.ports.count).map($0.pfcEnabled(port:)) != (0..<checked.ports.count).map(checked.pfcEnabled(port:)) } ?? false
        let change = LiveChange(fib: FIB(entries: checked.fibEntries()), neighbours: checked.neighbours,
                          ecn: checked.ecn != old?.ecn ? checked.ecn : nil,
                          watchdog: checked.pfcWatchdog != old?.pfcWatchdog ? checked.pfcWatchdog : nil,
                          links: links,
                          qos: qosChanged ? (checked.qos, checked.ports.map(\.trust), (0..<checked.ports.count).map(checked.pfcEnabled(port:))) : nil,
                          buffers: checked.buffers, summary: summary)
        change.config = checked
        return change
    }

    /// The parts of a port that change live: its emulated link.
    struct Link: Equatable {
        var speedGbps: Double?
        var delayNanoseconds: UInt64
        var lossPercent: Double
        var lossSeed: UInt64?
    }
    static func link(_ p: PortConfig) -> Link { Link(speedGbps: p.speedGbps, delayNanoseconds: p.delayNanoseconds, lossPercent: p.lossPercent, lossSeed: p.lossSeed) }

    /// The parts of a port that change only with a restart (its socket and connected routes).
    struct Identity: Equatable {
        var name: String
        var mac: MACAddress?
        var addresses: [IPPrefix]
    }
    static func identity(_ p: PortConfig) -> Identity { Identity(name: p.name, mac: p.mac, addresses: p.addresses) }

    static func restartOnly(_ a: SwitchConfig, _ b: SwitchConfig) -> [String] {
        var out: [String] = []
        if a.mode != b.mode { out.append("mode") }
        if a.ports.count != b.ports.count { out.append("ports") }
        for (x, y) in zip(a.ports, b.ports) where identity(x) != identity(y) { out.append("port \(x.name) (name, MAC, addresses)") }
        if a.buffers != b.buffers { out.append("buffers") }
        if a.loadBalancing != b.loadBalancing { out.append("load_balancing") }
        if a.name != b.name { out.append("name") }
        return out
    }

    static func liveDifferences(_ a: SwitchConfig, _ b: SwitchConfig) -> String {
        var out: [String] = []
        let (ra, rb) = (Set(a.routes.map { "\($0)" }), Set(b.routes.map { "\($0)" }))
        if ra != rb { out.append("routes \(rb.subtracting(ra).count) new or changed, \(ra.subtracting(rb).count) gone") }
        if a.neighbours != b.neighbours { out.append("neighbours") }
        if a.ecn != b.ecn { out.append("ecn") }
        if a.pfcWatchdog != b.pfcWatchdog { out.append("pfc_watchdog") }
        for (x, y) in zip(a.ports, b.ports) where link(x) != link(y) { out.append("port \(y.name) link (speed, delay, loss)") }
        if a.qos != b.qos { out.append("qos") }
        for (x, y) in zip(a.ports, b.ports) where x.trust != y.trust || x.pfcEnable != y.pfcEnable { out.append("port \(y.name) trust/pfc_enable") }
        return out.isEmpty ? "no change" : out.joined(separator: ", ")
    }
}

struct ControlError: Error, CustomStringConvertible {
    let description: String
    init(_ d: String) { description = d }
}
