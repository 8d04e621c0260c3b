/// The emulated line rate of a port: a token bucket in bytes at `lineRateGbps`, each frame
/// costing its length plus `wireOverhead` bytes (preamble, start delimiter, FCS, inter-frame
/// gap), so the rate on the emulated wire is the configured one. A frame may take the bucket
/// below zero (it is sent whole); the debt is repaid before the next one, which keeps the
/// long-run rate exact.
///
/// An idle wire saves up only `burstBytes` (a few frames): a real wire cannot send faster after
/// a quiet spell. A *backlogged* wire the worker did not serve (it was descheduled: on a shared
/// machine that happens for milliseconds) makes up the lost wire time, up to
/// `catchUpNanoseconds`, so the queue ends where a real wire would have left it and the long-run
/// rate stays the configured one. veth is as fast as the CPU: without a shaper, congestion
/// never forms on its own.
public struct Shaper {
    public static let wireOverhead = 24
    /// Wire time a backlogged port may make up after the worker was away. 10 ms lost 2.5% of a
    /// 200 Mb/s port's rate (0.194-0.196 Gb/s measured) once the worker was held off the CPU
    /// for 17-29 ms at times (`longestStallMicroseconds`, a debug sender spinning on the other
    /// core); 25 ms holds it (0.2003-0.2012). Longer stalls forfeit the rest: a burst of more
    /// than 25 ms of line rate at once would overrun the receiving host's ring instead.
    public static let catchUpNanoseconds: Double = 25_000_000
    /// Bytes per nanosecond on the emulated wire (0: unlimited, the shaper lets everything go).
    public private(set) var bytesPerNanosecond: Double
    public private(set) var burstBytes: Double
    @usableFromInline private(set) var catchUpBytes: Double
    @usableFromInline var tokens: Double
    @usableFromInline var lastRefill: UInt64 = 0
    /// True while the last decision left eligible frames waiting for the wire.
    @usableFromInline var backlogged = false

    /// `lineRateGbps` nil: unlimited.
    public init(lineRateGbps: Double?) {
        let rate = (lineRateGbps ?? 0) / 8
        bytesPerNanosecond = rate
        // Room for a few frames, or 20 us at line rate, whichever is more.
        burstBytes = max(4 * 1538, rate * 20_000)
        catchUpBytes = max(burstBytes, rate * Self.catchUpNanoseconds)
        tokens = burstBytes
    }

    /// A new line rate from now on (`fabric ctl config apply`): the time since the last refill
    /// is credited at the old rate, and the bucket holds at most the new burst.
    public mutating func retune(lineRateGbps: Double?, now: UInt64) {
        if bytesPerNanosecond > 0 && now > lastRefill {
            tokens = min(backlogged ? catchUpBytes : burstBytes, tokens + Double(now &- lastRefill) * bytesPerNanosecond)
        }
        lastRefill = now
        let fresh = Shaper(lineRateGbps: lineRateGbps)
        bytesPerNanosecond = fresh.bytesPerNanosecond
        burstBytes = fresh.burstBytes
        catchUpBytes = fresh.catchUpBytes
        tokens = bytesPerNanosecond > 0 ? min(tokens, burstBytes) : burstBytes
    }

    @inlinable public var isLimited: Bool { bytesPerNanosecond > 0 }

    /// May a frame start on the wire at `now`? Refills the bucket for the time since the last
    /// look. `waiting`: frames are queued (a refused port stays backlogged).
    @inlinable public mutating func mayStart(now: UInt64, waiting: Bool) -> Bool {
        guard bytesPerNanosecond > 0 else { return true }
        if now > lastRefill {
            tokens = min(backlogged ? catchUpBytes : burstBytes, tokens + Double(now &- lastRefill) * bytesPerNanosecond)
            lastRefill = now
        }
        guard tokens > 0 else {
            backlogged = waiting
            return false
        }
        return true
    }

    /// A frame of `bytes` went onto the wire; `waiting`: frames are still queued behind it.
    @inlinable public mutating func sent(bytes: Int, waiting: Bool) {
        guard bytesPerNanosecond > 0 else { return }
        tokens -= Double(bytes + Self.wireOverhead)
        backlogged = waiting
    }

    /// Nothing eligible to send: the wire is idle, and idle time is not saved up.
    @inlinable public mutating func idle() {
        backlogged = false
        if tokens > burstBytes { tokens = burstBytes }
    }
}
