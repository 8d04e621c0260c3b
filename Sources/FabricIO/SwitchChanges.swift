// The changes `fabric ctl` hands a running switch (ControlServer's `ControlChange`), and how the
// worker applies them. Prepared off the worker (parsing, validation, a new FIB), applied
// between two batches.
import CFabricShims
import FabricCore
import FabricSystem
import FabricTelemetry
import Glibc

/// New routes and live parameters: a FIB built from the new configuration, its static
/// neighbours, ECN and the PFC watchdog, the ports whose link emulation (speed, delay, loss)
/// changed, and the QoS (maps, trust, PFC enable; nil or empty: unchanged). After `apply`,
/// `fib` holds the old table, freed with this object on the control thread.
public final class LiveChange: ControlChange, @unchecked Sendable {
    public var fib: FIB?
    public let neighbours: [NeighbourConfig]
    public let ecn: ECNConfig?
    public let watchdog: PFCWatchdogConfig?
    /// (port index, its new configuration): speed, delay, loss and loss seed are applied.
    public let links: [(Int, PortConfig)]
    /// The new QoS maps with every port's trust mode and PFC enable.
    public let qos: (maps: QoSMaps, trust: [TrustMode], pfcEnabled: [UInt8])?
    /// Sizes lossless headroom for changed links exactly as at start.
    public let buffers: BufferConfig
    /// What changed, for the answer ("routes: 1 added").
    public let summary: String
    /// The configuration running once this is applied (what the XDP fast path's tables are
    /// rewritten from; nil: they stay).
    public var config: SwitchConfig?
    public init(fib: consuming FIB?, neighbours: [NeighbourConfig], ecn: ECNConfig?, watchdog: PFCWatchdogConfig?,
                links: [(Int, PortConfig)] = [], qos: (maps: QoSMaps, trust: [TrustMode], pfcEnabled: [UInt8])? = nil,
                buffers: BufferConfig = BufferConfig(), summary: String) {
        self.fib = fib
        self.neighbours = neighbours
        self.ecn = ecn
        self.watchdog = watchdog
        self.links = links
        self.qos = qos
        self.buffers = buffers
        self.summary = summary
    }
}

/// `clear counters` or `clear watermarks`.
public final class ClearChange: ControlChange, @unchecked Sendable {
    public let watermarksOnly: Bool
    public init(watermarksOnly: Bool) { self.watermarksOnly = watermarksOnly }
}

/// Administrative state of a port (`port shutdown|startup`): the interface's IFF_UP, as `ip
/// link set` sets it. The peer loses carrier, and the switch's own link check takes the port
/// out of (or back into) its groups within 2 ms.
public final class PortAdminChange: ControlChange, @unchecked Sendable {
    public let port: Int
    public let up: Bool
    public init(port: Int, up: Bool) {
        self.port = port
        self.up = up
    }
}

extension FabricSwitch where IO: ~Copyable {
    /// Applies a prepared change (worker, between batches); the answer line for the client.
    mutating func apply(_ change: any ControlChange) -> String {
        switch change {
        case let c as LiveChange:
            if var fib = c.fib.take() {
                dp.replaceRoutes(&fib, neighbours: c.neighbours)
                c.fib = consume fib
            }
            if let e = c.ecn { dp.setECN(e) }
            if let w = c.watchdog { dp.setWatchdog(w) }
            let now = monotonicNanoseconds()
            for (p, port) in c.links { dp.retune(port: p, to: port, buffers: c.buffers, now: now) }
            if let q = c.qos { dp.setQoS(q.maps, trust: q.trust, pfcEnabled: q.pfcEnabled, buffers: c.buffers, now: now) }
            if let cfg = c.config, let fp = fastPath { fp.reconfigure(cfg, &dp, captureMask: captures.mask, now: now) }
            logLine("fabric: applied \(c.summary)")
            return "ok: applied \(c.summary)"
        case let c as ClearChange:
            if c.watermarksOnly { dp.clearWatermarks() } else { dp.clearCounters() }
            return "ok: \(c.watermarksOnly ? "watermarks" : "counters and watermarks") cleared"
        case let c as PortAdminChange:
            let rc = names[c.port].withCString { sf_interface_set_up(links.descriptor, $0, c.up ? 1 : 0) }
            guard rc == 0 else { return "error: port \(names[c.port]): \(String(cString: strerror(-rc)))" }
            checkLinks()
            logLine("fabric: port \(names[c.port]): \(c.up ? "startup" : "shutdown") (fabric ctl)")
            return "ok: port \(names[c.port]) \(c.up ? "up" : "shut down")"
        default:
            return "error: this switch does not know that change"
        }
    }
}
