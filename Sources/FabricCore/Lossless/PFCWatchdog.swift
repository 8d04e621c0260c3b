/// The PFC watchdog (SONiC's pfcwd): an egress queue kept paused without a break for the
/// detection time while it holds frames is declared stormed (a peer stuck sending XOFF, a
/// deadlock). The action then applies until no XOFF for the queue has arrived for the
/// restoration time: `drop` discards its frames and new arrivals and ignores its pauses,
/// `forward` ignores its pauses, `alert` only counts. Polled from the datapath's tick.
public struct PFCWatchdog: ~Copyable {
    public var config: PFCWatchdogConfig
    /// Per port: bit q set while queue q is stormed.
    @usableFromInline let stormed: UnsafeMutablePointer<UInt8>

    public init(config: PFCWatchdogConfig, portCount: Int) {
        self.config = config
        stormed = .filled(with: 0, count: portCount)
    }

    deinit { stormed.deallocate() }

    @inlinable public func isStormed(port: Int, queue: Int) -> Bool { stormed[port] & (1 << UInt8(queue & 7)) != 0 }

    /// True when new frames for (`port`, `queue`) are to be discarded (stormed, action drop).
    @inlinable public func discards(port: Int, queue: Int) -> Bool {
        stormed[port] != 0 && isStormed(port: port, queue: queue) && config.action == .drop
    }

    /// One look at `port` (whose egress side is `egress`) at `now`: declares and restores storms
    /// and applies the action to the pause state. Returns the queues whose frames the `drop`
    /// action discards now (the caller takes them out: it owns the buffers they are charged to).
    public mutating func check(port: Int, egress: inout EgressPort, counters: inout PortCounters, now: UInt64) -> UInt8 {
        guard config.enabled else { return 0 }
        var drain: UInt8 = 0
        for q in 0..<EgressPort.queueCount {
            let bit = UInt8(1) << UInt8(q)
            if stormed[port] & bit == 0 {
                let paused = egress.pause.continuousPause(queue: q, now: now)
                guard paused >= config.detectionNanoseconds, egress.depth(queue: q).frames > 0 else { continue }
                stormed[port] |= bit
                counters.pfcwdStorms[q] &+= 1
                counters.pfcwdDetectedAfter[q] = paused
                switch config.action {
                case .drop:
                    egress.pause.ignored |= bit
                    egress.pause.clear(queue: q, now: now)
                    drain |= bit
                case .forward:
                    egress.pause.ignored |= bit
                    egress.pause.clear(queue: q, now: now)
                case .alert:
                    break
                }
            } else if now &- egress.pause.lastXoff(queue: q) >= config.restorationNanoseconds {
                stormed[port] &= ~bit
                egress.pause.ignored &= ~bit
                counters.pfcwdRestored[q] &+= 1
            }
        }
        return drain
    }
}
