/// 802.1Qbb pause state of one port's 8 egress queues: a PFC frame pauses a queue for
/// quanta x 512 bit times at the port's speed (0 quanta: resume now). The scheduler skips a
/// paused queue; the others go on. Also kept: when each pause began and how long the queues
/// have been paused in all, and when the last XOFF arrived (the PFC watchdog's clocks).
public struct PauseState: ~Copyable {
    /// The speed quanta are timed at on a port without an emulated `speed`.
    public static let defaultLineRateGbps = 100.0
    /// Per queue: paused until this monotonic time (0: not paused).
    @usableFromInline let pausedUntil: UnsafeMutablePointer<UInt64>
    @usableFromInline let pauseStart: UnsafeMutablePointer<UInt64>
    @usableFromInline let pausedTotal: UnsafeMutablePointer<UInt64>
    /// When the last XOFF for each queue arrived.
    @usableFromInline let lastXoffAt: UnsafeMutablePointer<UInt64>
    /// Bit q set: PFC for queue q is disregarded (the watchdog's forward and drop actions).
    public var ignored: UInt8 = 0
    /// The speed pause quanta are timed at: one quantum is 512 bit times.
    /// (Changed live by `fabric ctl config apply`: pauses already running keep their end.)
    public var lineRateGbps: Double

    public init(lineRateGbps: Double) {
        self.lineRateGbps = lineRateGbps
        pausedUntil = .filled(with: 0, count: 8)
        pauseStart = .filled(with: 0, count: 8)
        pausedTotal = .filled(with: 0, count: 8)
        lastXoffAt = .filled(with: 0, count: 8)
    }

    deinit {
        pausedUntil.deallocate()
        pauseStart.deallocate()
        pausedTotal.deallocate()
        lastXoffAt.deallocate()
    }

    /// Pauses queue `q` for `quanta` x 512 bit times from `now` (0 quanta: resume now).
    /// Returns true when this turned a paused queue into a running one (an XOFF->XON transition).
    @inlinable public mutating func pause(queue q: Int, quanta: UInt16, now: UInt64) -> Bool {
        if quanta > 0 { lastXoffAt[q] = now }
        if ignored & (1 << UInt8(q)) != 0 { return false }
        let wasPaused = pausedUntil[q] > now
        if wasPaused {
            if quanta == 0 { pausedTotal[q] &+= now &- pauseStart[q] }      // XON: ends it now
        } else {
            if pausedUntil[q] > 0 { pausedTotal[q] &+= pausedUntil[q] &- pauseStart[q] }  // an expired pause
            pauseStart[q] = now
        }
        pausedUntil[q] = quanta == 0 ? 0 : now &+ UInt64(Double(quanta) * 512 / lineRateGbps)
        return wasPaused && quanta == 0
    }

    /// Ends a pause now (the watchdog's forward and drop actions).
    public mutating func clear(queue q: Int, now: UInt64) {
        if pausedUntil[q] > now { pausedTotal[q] &+= now &- pauseStart[q] }
        else if pausedUntil[q] > 0 { pausedTotal[q] &+= pausedUntil[q] &- pauseStart[q] }
        pausedUntil[q] = 0
    }

    @inlinable public func isPaused(queue q: Int, now: UInt64) -> Bool { pausedUntil[q] > now }

    /// How long queue `q` has been paused without a break, at `now` (0 if not paused).
    @inlinable public func continuousPause(queue q: Int, now: UInt64) -> UInt64 {
        pausedUntil[q] > now ? now &- pauseStart[q] : 0
    }

    /// Nanoseconds queue `q` has spent paused, up to `now`.
    public func pausedNanoseconds(queue q: Int, now: UInt64) -> UInt64 {
        guard pausedUntil[q] > 0 else { return pausedTotal[q] }
        return pausedTotal[q] &+ (min(now, pausedUntil[q]) &- pauseStart[q])
    }

    /// When the last XOFF for queue `q` arrived (0: never).
    public func lastXoff(queue q: Int) -> UInt64 { lastXoffAt[q] }

    /// Bit q set while queue q is paused at `now`.
    public func pausedMask(now: UInt64) -> UInt8 {
        var m: UInt8 = 0
        for q in 0..<8 where pausedUntil[q] > now { m |= 1 << UInt8(q) }
        return m
    }
}
