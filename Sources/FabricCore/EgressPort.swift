/// The egress side of one port: 8 queues (one per traffic class queue), a scheduler and an
/// emulated line rate.
///
/// - Scheduler: strict priority for the queues in `strictMask` (highest queue number first:
///   CNP's TC6 by default), then deficit weighted round robin (Shreedhar & Varghese, "Efficient
///   Fair Queuing using Deficit Round Robin", SIGCOMM 1995) among the rest, with quantum =
///   weight x 1600 bytes, so every visit can send at least one full frame (ETS weights).
/// - Shaper: a token bucket in bytes at `lineRateGbps`, each frame costing its length plus 24
///   bytes of preamble, start delimiter, FCS and inter-frame gap, so the rate on the emulated
///   wire is the configured one. A frame may take the bucket below zero (it is sent whole);
///   the debt is repaid before the next one, which keeps the long-run rate exact.
///   An idle wire saves up only `burstBytes` (a few frames): a real wire cannot send faster
///   after a quiet spell. A *backlogged* wire the worker did not serve (it was descheduled:
///   on a shared 2-core machine that happens for milliseconds) makes up the lost wire time,
///   up to `catchUpNanoseconds`, so the queue ends where a real wire would have left it and
///   the long-run rate stays the configured one. (With only the 20 us burst, CI measured 2.8%
///   under rate; descheduled gaps beyond 4 ms are common beside a CPU hog; with 10 ms of
///   catch-up the rate measured 0.496-0.500 Gb/s on a 500 Mb/s port beside a hog.)
///
/// veth is as fast as the CPU, so without the shaper congestion never forms on its own.
public struct EgressPort: ~Copyable {
    public static let queueCount = 8
    public static let wireOverhead = 24

    @usableFromInline let queues: UnsafeMutablePointer<FrameQueue>
    /// MAC Control frames the switch sends (its PFC): served before every queue, never paused
    /// and not held by the shaper (they are tiny and must not wait behind the traffic they stop).
    public var control: FrameQueue
    @usableFromInline let quantum: UnsafeMutablePointer<Int>
    @usableFromInline let deficit: UnsafeMutablePointer<Int>
    public let strictMask: UInt8
    /// Bit q set while queue q holds frames: the scheduler tests a mask, not 8 counts.
    @usableFromInline var nonEmpty: UInt8 = 0
    @usableFromInline var rr = 0
    @usableFromInline var freshVisit = true
    /// Bytes per nanosecond on the emulated wire (0: unlimited).
    public let bytesPerNanosecond: Double
    @usableFromInline let burstBytes: Double
    @usableFromInline var tokens: Double
    @usableFromInline var lastRefill: UInt64 = 0
    /// Wire time a backlogged port may make up after the worker was away.
    public static let catchUpNanoseconds: Double = 10_000_000
    @usableFromInline let catchUpBytes: Double
    /// True while the last scheduling decision left eligible frames waiting for the wire.
    @usableFromInline var backlogged = false
    /// Per queue: frames enqueued, dequeued, dropped because the queue was full.
    public let enqueued: UnsafeMutablePointer<UInt64>
    public let dequeued: UnsafeMutablePointer<UInt64>
    public let dropped: UnsafeMutablePointer<UInt64>
    /// Switch residence time per queue (receive to transmit submit), when `recordResidence`.
    public var residence = ResidenceHistograms(histograms: EgressPort.queueCount)
    public var recordResidence = true
    /// Highest depth seen per queue, in frames.
    public let watermark: UnsafeMutablePointer<Int>
    /// 802.1Qbb: per queue, paused until this monotonic time (0: not paused). The scheduler
    /// skips a paused queue; the others go on.
    public let pausedUntil: UnsafeMutablePointer<UInt64>
    @usableFromInline let pauseStart: UnsafeMutablePointer<UInt64>
    /// When the last XOFF for each queue arrived (the watchdog's restoration clock).
    public let lastXoff: UnsafeMutablePointer<UInt64>
    /// Watchdog: bit q set while queue q is declared stormed; `ignorePauses` while the action
    /// says to disregard its PFC frames.
    public var stormed: UInt8 = 0
    public var ignorePauses: UInt8 = 0
    @usableFromInline let pausedTotal: UnsafeMutablePointer<UInt64>
    /// Line rate PFC quanta are measured against (512 bit times each).
    public let pfcGbps: Double

    public init(capacity: Int, strictMask: UInt8 = 1 << 6, weights: [Int] = Array(repeating: 1, count: 8), lineRateGbps: Double? = nil) {
        precondition(weights.count == Self.queueCount && weights.allSatisfy { $0 > 0 })
        queues = .allocate(capacity: Self.queueCount)
        control = FrameQueue(capacity: 64)
        pausedUntil = .filled(with: 0, count: Self.queueCount)
        pauseStart = .filled(with: 0, count: Self.queueCount)
        lastXoff = .filled(with: 0, count: Self.queueCount)
        pausedTotal = .filled(with: 0, count: Self.queueCount)
        pfcGbps = lineRateGbps ?? 100
        quantum = .allocate(capacity: Self.queueCount)
        deficit = .allocate(capacity: Self.queueCount)
        enqueued = .allocate(capacity: Self.queueCount)
        dequeued = .allocate(capacity: Self.queueCount)
        dropped = .allocate(capacity: Self.queueCount)
        watermark = .allocate(capacity: Self.queueCount)
        for q in 0..<Self.queueCount {
            (queues + q).initialize(to: FrameQueue(capacity: capacity))
            quantum[q] = weights[q] * 1600
            deficit[q] = 0
            enqueued[q] = 0
            dequeued[q] = 0
            dropped[q] = 0
            watermark[q] = 0
        }
        self.strictMask = strictMask
        let rate = (lineRateGbps ?? 0) / 8
        bytesPerNanosecond = rate
        // Room for a few frames, or 20 us at line rate, whichever is more.
        burstBytes = max(4 * 1538, rate * 20_000)
        catchUpBytes = max(burstBytes, rate * Self.catchUpNanoseconds)
        tokens = burstBytes
    }

    deinit {
        queues.deinitialize(count: Self.queueCount)
        queues.deallocate()
        quantum.deallocate()
        deficit.deallocate()
        enqueued.deallocate()
        dequeued.deallocate()
        dropped.deallocate()
        watermark.deallocate()
        pausedUntil.deallocate()
        pauseStart.deallocate()
        pausedTotal.deallocate()
        lastXoff.deallocate()
    }

    /// Pauses queue `q` for `quanta` x 512 bit times from `now` (0 quanta: resume now).
    /// Returns true when this turned a paused queue into a running one (an XOFF->XON transition).
    @inlinable public mutating func pause(queue q: Int, quanta: UInt16, now: UInt64) -> Bool {
        if quanta > 0 { lastXoff[q] = now }
        if ignorePauses & (1 << UInt8(q)) != 0 { return false }   // stormed: the watchdog overrides PFC
        let wasPaused = pausedUntil[q] > now
        if wasPaused {
            if quanta == 0 { pausedTotal[q] &+= now &- pauseStart[q] }      // XON: ends it now
        } else {
            if pausedUntil[q] > 0 { pausedTotal[q] &+= pausedUntil[q] &- pauseStart[q] }  // an expired pause
            pauseStart[q] = now
        }
        pausedUntil[q] = quanta == 0 ? 0 : now &+ UInt64(Double(quanta) * 512 / pfcGbps)
        return wasPaused && quanta == 0
    }

    /// How long queue `q` has been paused without a break, at `now` (0 if not paused).
    @inlinable public func continuousPause(queue q: Int, now: UInt64) -> UInt64 {
        pausedUntil[q] > now ? now &- pauseStart[q] : 0
    }

    /// Ends a pause now (the watchdog's forward/drop actions).
    public mutating func clearPause(queue q: Int, now: UInt64) {
        if pausedUntil[q] > now { pausedTotal[q] &+= now &- pauseStart[q] }
        else if pausedUntil[q] > 0 { pausedTotal[q] &+= pausedUntil[q] &- pauseStart[q] }
        pausedUntil[q] = 0
    }

    /// Takes the oldest frame of queue `q` regardless of scheduling, pauses and rate (the
    /// watchdog's drop action, a port going out of service).
    public mutating func removeOldest(queue q: Int) -> (addr: UInt64, len: UInt32, tag: UInt16)? {
        let f = queues[q].dequeueTagged()
        if queues[q].isEmpty { nonEmpty &= ~(1 << UInt8(q)) }
        return f
    }

    /// Nanoseconds queue `q` has spent paused, up to `now`.
    public func pausedNanoseconds(queue q: Int, now: UInt64) -> UInt64 {
        guard pausedUntil[q] > 0 else { return pausedTotal[q] }
        return pausedTotal[q] &+ (min(now, pausedUntil[q]) &- pauseStart[q])
    }

    @inlinable public func isPaused(queue q: Int, now: UInt64) -> Bool { pausedUntil[q] > now }

    /// Bit q set while queue q is paused at `now` (the recorder's and depth ring's samples).
    public func pausedMask(now: UInt64) -> UInt8 {
        var m: UInt8 = 0
        for q in 0..<Self.queueCount where pausedUntil[q] > now { m |= 1 << UInt8(q) }
        return m
    }

    /// Frames queued on this port.
    @inlinable public var count: Int {
        var n = control.count
        for q in 0..<Self.queueCount { n &+= queues[q].count }
        return n
    }

    @inlinable public var isEmpty: Bool { nonEmpty == 0 && control.isEmpty }

    /// Bytes waiting in the 8 queues.
    @inlinable public var queuedBytes: Int {
        var n = 0
        for q in 0..<Self.queueCount { n &+= queues[q].byteDepth }
        return n
    }

    @inlinable public func depth(queue q: Int) -> (frames: Int, bytes: Int) { (queues[q].count, queues[q].byteDepth) }

    /// Queues a frame on queue `q`; false (counted) when that queue is full.
    @inlinable public mutating func enqueue(addr: UInt64, len: UInt32, queue q: Int = 0, tag: UInt16 = FrameQueue.untagged, stamp: UInt64 = 0) -> Bool {
        guard queues[q].enqueue(addr: addr, len: len, tag: tag, stamp: stamp) else {
            dropped[q] &+= 1
            return false
        }
        enqueued[q] &+= 1
        nonEmpty |= 1 << UInt8(q)
        if queues[q].count > watermark[q] { watermark[q] = queues[q].count }
        return true
    }

    /// The next frame the scheduler picks, ignoring the line rate (tests, draining).
    @inlinable public mutating func dequeue() -> (addr: UInt64, len: UInt32)? {
        if let c = control.dequeue() { return c }
        guard let q = pick() else { return nil }
        let f = take(q)
        return (f.addr, f.len)
    }

    /// The next frame if the emulated wire has room for it at `now`.
    @inlinable public mutating func dequeue(now: UInt64) -> (addr: UInt64, len: UInt32)? {
        guard let f = dequeueTagged(now: now) else { return nil }
        return (f.addr, f.len)
    }

    /// As `dequeue(now:)`, with the frame's buffer-accounting tag.
    @inlinable public mutating func dequeueTagged(now: UInt64) -> (addr: UInt64, len: UInt32, tag: UInt16)? {
        if let c = control.dequeueTagged() { return c }
        if bytesPerNanosecond > 0 {
            if now > lastRefill {
                tokens = min(backlogged ? catchUpBytes : burstBytes, tokens + Double(now &- lastRefill) * bytesPerNanosecond)
                lastRefill = now
            }
            guard tokens > 0 else {
                backlogged = nonEmpty != 0
                return nil
            }
        }
        guard let q = pick(now: now) else {
            // Nothing eligible (empty or paused): the wire is idle, and idle time is not saved up.
            backlogged = false
            if tokens > burstBytes { tokens = burstBytes }
            return nil
        }
        let f = take(q, now: now)
        if bytesPerNanosecond > 0 {
            tokens -= Double(Int(f.len) + Self.wireOverhead)
            backlogged = nonEmpty != 0
        }
        return f
    }

    /// The histogram update, out of line (the rarely-changing bucket math stays out of the
    /// inlined dequeue). Measured cost of residence telemetry, same run against the code
    /// before it: the stamp and this check +2.5 ns/frame on the bridge pipeline (28.0 -> 30.5;
    /// the check alone: without it the stamp is free), the update +3 ns on the router when on.
    @usableFromInline @inline(never) mutating func noteResidence(_ q: Int, _ nanoseconds: UInt64) {
        residence.record(q, nanoseconds: nanoseconds)
    }

    @inlinable mutating func take(_ q: Int, now: UInt64 = 0) -> (addr: UInt64, len: UInt32, tag: UInt16) {
        let f = queues[q].dequeueStamped()!
        dequeued[q] &+= 1
        if recordResidence && f.stamp != 0 && now > f.stamp { noteResidence(q, now &- f.stamp) }
        if queues[q].isEmpty { nonEmpty &= ~(1 << UInt8(q)) }
        return (f.addr, f.len, f.tag)
    }

    /// Strict queues first (highest first), then DWRR among the others. Charges the chosen
    /// DWRR queue's deficit for the head frame.
    @inlinable mutating func pick(now: UInt64 = 0) -> Int? {
        var strict = nonEmpty & strictMask
        while strict != 0 {
            let q = 7 - strict.leadingZeroBitCount          // highest non-empty strict queue
            if pausedUntil[q] <= now { return q }
            strict &= ~(1 << UInt8(q))
        }
        guard nonEmpty & ~strictMask != 0 else { return nil }
        var visits = 0
        while visits < 2 * Self.queueCount + 1 {
            let q = rr
            if (nonEmpty & ~strictMask) & (1 << UInt8(q)) == 0 || pausedUntil[q] > now {
                deficit[q] = 0
                rr = (rr + 1) & (Self.queueCount - 1)
                freshVisit = true
                visits += 1
                continue
            }
            if freshVisit {
                deficit[q] &+= quantum[q]
                freshVisit = false
            }
            let len = Int(queues[q].peek()!.len)
            if len <= deficit[q] {
                deficit[q] &-= len
                return q
            }
            rr = (rr + 1) & (Self.queueCount - 1)
            freshVisit = true
            visits += 1
        }
        return nil
    }
}
