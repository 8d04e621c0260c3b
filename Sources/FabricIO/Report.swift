import FabricCore

/// One port as an operator sees it: counters, state, and what its XDP program did.
public struct PortReport: Codable, Sendable {
    public var name: String
    public var ifindex: Int32
    public var inService: Bool
    public var xdpMode: String
    public var rxFrames: UInt64
    public var rxBytes: UInt64
    public var txFrames: UInt64
    public var txBytes: UInt64
    public var floodCopies: UInt64
    public var drops: [String: UInt64]
    public var dropsTotal: UInt64
    public var xdpRedirected: UInt64
    public var xdpPassed: UInt64
    /// Frames the kernel dropped at this port's AF_XDP socket before the switch saw them.
    public var socket: SocketDrops
}

/// The kernel's own drop counters of an AF_XDP socket (getsockopt XDP_STATISTICS): frames the
/// XDP program steered to the socket that never reached the switch.
public struct SocketDrops: Codable, Sendable, Equatable {
    /// RX ring full: the switch did not consume fast enough.
    public var rxRingFull: UInt64 = 0
    /// No fill-ring buffer for the frame, or another kernel-side reason.
    public var rxDropped: UInt64 = 0
    /// Times the kernel found the fill ring empty (a frame may have been dropped each time).
    public var fillRingEmpty: UInt64 = 0
    public var rxInvalid: UInt64 = 0
    public var txInvalid: UInt64 = 0
    public init() {}

    /// Frames lost at the socket.
    public var frames: UInt64 { rxRingFull + rxDropped + rxInvalid + txInvalid }
}

/// A snapshot of a running (or just stopped) switch, as written to --stats-file and printed
/// on exit. Schema: see README "Counters".
public struct SwitchReport: Codable, Sendable {
    public var sequence: UInt64
    public var uptimeSeconds: Double
    public var running: Bool
    public var ports: [PortReport]
    public var macEntries: Int
    public var ledger: FrameLedger
    public var loop: LoopCounters
}

/// How the run loop spent its time (counted per iteration, never per packet).
public struct LoopCounters: Codable, Sendable {
    public var iterations: UInt64 = 0
    public var polls: UInt64 = 0
    public var kicks: UInt64 = 0
    public var kickErrors: UInt64 = 0
    public init() {}
}

extension SwitchReport {
    /// The exit summary: a fixed-width table a network engineer reads without the docs.
    public var table: String {
        func pad(_ s: String, _ w: Int) -> String { s.count >= w ? s : String(repeating: " ", count: w - s.count) + s }
        func lpad(_ s: String, _ w: Int) -> String { s.count >= w ? s : s + String(repeating: " ", count: w - s.count) }
        var out = lpad("PORT", 12) + lpad("STATE", 7) + pad("RX_FRAMES", 12) + pad("RX_BYTES", 14)
            + pad("TX_FRAMES", 12) + pad("TX_BYTES", 14) + pad("DROPS", 8) + pad("XDP_REDIR", 11) + pad("XDP_PASS", 10) + "\n"
        for p in ports {
            out += lpad(p.name, 12) + lpad(p.inService ? "up" : "gone", 7) + pad("\(p.rxFrames)", 12) + pad("\(p.rxBytes)", 14)
                + pad("\(p.txFrames)", 12) + pad("\(p.txBytes)", 14) + pad("\(p.dropsTotal + p.socket.frames)", 8)
                + pad("\(p.xdpRedirected)", 11) + pad("\(p.xdpPassed)", 10) + "\n"
        }
        let reasons = ports.flatMap { p in
            var all = p.drops
            all["socket_rx_ring_full"] = p.socket.rxRingFull
            all["socket_rx_dropped"] = p.socket.rxDropped
            all["socket_invalid"] = p.socket.rxInvalid + p.socket.txInvalid
            return all.filter { $0.value > 0 }.sorted { $0.key < $1.key }.map { "\(p.name):\($0.key)=\($0.value)" }
        }
        if !reasons.isEmpty { out += "drops by reason: " + reasons.joined(separator: " ") + "\n" }
        out += "MAC table: \(macEntries) entries; \(ledger)\n"
        return out
    }
}
