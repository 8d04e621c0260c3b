/// The egress side of one port: 8 queues (one per traffic class queue), the switch's own
/// control frames, a scheduler, the 802.1Qbb pause state and the emulated line rate.
///
/// - Scheduler: strict priority for the queues in `strictMask` (highest queue number first:
///   CNP's TC6 by default), then deficit weighted round robin (Shreedhar & Varghese, "Efficient
///   Fair Queuing using Deficit Round Robin", SIGCOMM 1995) among the rest, with quantum =
///   weight x 1600 bytes, so every visit can send at least one full frame of a 1500-byte MTU
///   (ETS weights); a jumbo frame gathers its queue's deficit over a few rounds, as DRR has it.
/// - Pauses (`PauseState`): a paused queue is skipped; the others go on.
/// - Line rate (`Shaper`): frames leave no faster than the emulated wire.
/// - The wire itself: random loss (`RandomLoss`) and propagation delay (`DelayLine`), applied
///   by `Datapath.dequeueForTransmit` to what the shaper released.
/// - Capacity: a lossless queue holds every frame the switch's buffer accounting may admit
///   (`FrameBudget.losslessQueueCapacity`), so it never tail-drops before PFC acts; the others
///   hold `capacity` frames and tail-drop beyond (`queue_full`).
public struct EgressPort: ~Copyable {
    public static let queueCount = 8
    /// The control queue's frames (the switch's PFC), also the frame pool's reserve per port.
    public static let controlCapacity = 64

    @usableFromInline let queues: UnsafeMutablePointer<FrameQueue>
    /// Visits one pick may make: enough rounds for the smallest quantum (1600 bytes) to add
    /// up to the longest frame, plus two.
    @usableFromInline static let mostVisits = queueCount * (FramePool.largestPacket / 1600 + 2) + 1
    /// MAC Control frames the switch sends (its PFC): served before every queue, never paused
    /// and not held by the shaper (they are tiny and must not wait behind the traffic they stop).
    public var control: FrameQueue
    @usableFromInline let quantum: UnsafeMutablePointer<Int>
    @usableFromInline let deficit: UnsafeMutablePointer<Int>
    public private(set) var strictMask: UInt8
    /// Bit q set while queue q holds frames: the scheduler tests a mask, not 8 counts.
    @usableFromInline var nonEmpty: UInt8 = 0
    @usableFromInline var rr = 0
    @usableFromInline var freshVisit = true
    public var pause: PauseState
    public var shaper: Shaper
    /// The emulated wire beyond the shaper: its delay and its loss.
    public var line: DelayLine
    public var loss: RandomLoss
    /// Per queue: frames enqueued, dequeued, dropped because the queue was full.
    public let enqueued: UnsafeMutablePointer<UInt64>
    public let dequeued: UnsafeMutablePointer<UInt64>
    public let dropped: UnsafeMutablePointer<UInt64>
    /// The same per queue in bytes (frame lengths as queued: Ethernet header to the end of the
    /// payload, no FCS), one add beside each frame count (SONiC's `Counter/bytes`, `Drop/bytes`).
    public let enqueuedBytes: UnsafeMutablePointer<UInt64>
    public let dequeuedBytes: UnsafeMutablePointer<UInt64>
    public let droppedBytes: UnsafeMutablePointer<UInt64>
    /// Switch residence time per queue, when `recordResidence`: from the XDP stamp (the frame
    /// reached the port's XDP program) to transmit submit; from the worker's receive where
    /// frames carry no stamp. The rx-ring part of it is summed apart (`ringSum`).
    public var residence = ResidenceHistograms(histograms: EgressPort.queueCount)
    public var recordResidence = true
    /// Highest depth seen per queue, in frames.
    public let watermark: UnsafeMutablePointer<Int>

    /// `lineRateGbps` nil: no shaper, and PFC quanta are timed at 100 Gb/s. The queues in
    /// `losslessQueues` hold `losslessCapacity` frames if that is more than `capacity`. `line`:
    /// the wire's delay (none by default); `loss` its random loss (none by default).
    public init(capacity: Int, losslessQueues: UInt8 = 0, losslessCapacity: Int = 0, strictMask: UInt8 = 1 << 6,
                weights: [Int] = Array(repeating: 1, count: 8), lineRateGbps: Double? = nil,
                line: consuming DelayLine = DelayLine(delayNanoseconds: 0, capacity: 1), loss: RandomLoss = RandomLoss(rate: 0, seed: 0)) {
        precondition(weights.count == Self.queueCount && weights.allSatisfy { $0 > 0 })
        queues = .allocate(capacity: Self.queueCount)
        control = FrameQueue(capacity: Self.controlCapacity)
        pause = PauseState(lineRateGbps: lineRateGbps ?? 100)
        shaper = Shaper(lineRateGbps: lineRateGbps)
        self.line = line
        self.loss = loss
        quantum = .allocate(capacity: Self.queueCount)
        deficit = .filled(with: 0, count: Self.queueCount)
        enqueued = .filled(with: 0, count: Self.queueCount)
        dequeued = .filled(with: 0, count: Self.queueCount)
        dropped = .filled(with: 0, count: Self.queueCount)
        enqueuedBytes = .filled(with: 0, count: Self.queueCount)
        dequeuedBytes = .filled(with: 0, count: Self.queueCount)
        droppedBytes = .filled(with: 0, count: Self.queueCount)
        watermark = .filled(with: 0, count: Self.queueCount)
        for q in 0..<Self.queueCount {
            let lossless = losslessQueues & (1 << UInt8(q)) != 0
            (queues + q).initialize(to: FrameQueue(capacity: lossless ? max(capacity, losslessCapacity) : capacity))
            quantum[q] = weights[q] * 1600
        }
        self.strictMask = strictMask
    }

    deinit {
        queues.deinitialize(count: Self.queueCount)
        queues.deallocate()
        quantum.deallocate()
        deficit.deallocate()
        enqueued.deallocate()
        dequeued.deallocate()
        dropped.deallocate()
        enqueuedBytes.deallocate()
        dequeuedBytes.deallocate()
        droppedBytes.deallocate()
        watermark.deallocate()
    }

    /// New scheduling from now on (a live QoS change): strict queues and ETS weights.
    public mutating func setScheduling(strictMask: UInt8, weights: [Int]) {
        precondition(weights.count == Self.queueCount && weights.allSatisfy { $0 > 0 })
        self.strictMask = strictMask
        for q in 0..<Self.queueCount {
            quantum[q] = weights[q] * 1600
            deficit[q] = 0
        }
    }

    /// The port's emulated link from now on (`fabric ctl config apply`): line rate (also the
    /// speed pause quanta are timed at), wire delay and room on the wire, random loss. Frames
    /// queued or on the wire stay where they are.
    public mutating func retune(lineRateGbps: Double?, delayNanoseconds: UInt64, lineFrames: Int, loss: RandomLoss, now: UInt64) {
        shaper.retune(lineRateGbps: lineRateGbps, now: now)
        pause.lineRateGbps = lineRateGbps ?? PauseState.defaultLineRateGbps
        line.retune(delayNanoseconds: delayNanoseconds, capacity: lineFrames)
        self.loss = loss
    }

    /// Takes the oldest frame of queue `q` regardless of scheduling, pauses and rate (the
    /// watchdog's drop action, a port going out of service).
    public mutating func removeOldest(queue q: Int) -> QueuedFrame? {
        let f = queues[q].dequeueTagged()
        if queues[q].isEmpty { nonEmpty &= ~(1 << UInt8(q)) }
        return f
    }

    /// Frames this port holds: queued, and on its emulated wire (the frame ledger's `queued`).
    @inlinable public var count: Int {
        var n = control.count &+ line.count
        for q in 0..<Self.queueCount { n &+= queues[q].count }
        return n
    }

    /// Nothing queued and nothing on the emulated wire.
    @inlinable public var isEmpty: Bool { nonEmpty == 0 && control.isEmpty && line.isEmpty }

    /// Bytes waiting in the 8 queues.
    @inlinable public var queuedBytes: Int {
        var n = 0
        for q in 0..<Self.queueCount { n &+= queues[q].byteDepth }
        return n
    }

    @inlinable public func depth(queue q: Int) -> (frames: Int, bytes: Int) { (queues[q].count, queues[q].byteDepth) }

    /// Frames queue `q` can hold.
    public func capacity(queue q: Int) -> Int { queues[q].capacity }

    /// Queues a frame on queue `q`; false (counted) when that queue is full.
    @inlinable public mutating func enqueue(addr: UInt64, len: UInt32, queue q: Int = 0, tag: ChargeTag = .uncharged, stamp: UInt64 = 0,
                                            wait: UInt32 = 0) -> Bool {
        guard queues[q].enqueue(addr: addr, len: len, tag: tag, stamp: stamp, wait: wait) else {
            dropped[q] &+= 1
            droppedBytes[q] &+= UInt64(len)
            return false
        }
        enqueued[q] &+= 1
        enqueuedBytes[q] &+= UInt64(len)
        nonEmpty |= 1 &<< UInt8(truncatingIfNeeded: q & 7)   // q is 0...7: a masking shift, no range checks
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
    @inlinable @inline(__always) public mutating func dequeueTagged(now: UInt64) -> QueuedFrame? {
        if let c = control.dequeueTagged() { return c }
        guard shaper.mayStart(now: now, waiting: nonEmpty != 0) else { return nil }
        guard let q = pick(now: now) else {
            // Nothing eligible (empty or paused): the wire is idle.
            shaper.idle()
            return nil
        }
        let f = take(q, now: now)
        shaper.sent(bytes: Int(f.len), waiting: nonEmpty != 0)
        return f
    }

    /// The queue the scheduler would pick for each of the next frames at `now`, or -1: no
    /// control frame waits, the shaper is unlimited, no strict queue holds frames and exactly
    /// one DWRR queue does, not paused. `pick`'s effect on the round for such a queue
    /// (`serveLone`, the same for every frame of the run) is made here once.
    /// `Datapath.departRun` takes the run.
    @inlinable @inline(__always) mutating func soleRunQueue(now: UInt64) -> Int {
        let active = nonEmpty
        guard control.isEmpty, !shaper.isLimited, active & strictMask == 0, active != 0, active & (active &- 1) == 0 else { return -1 }
        let q = active.trailingZeroBitCount
        return serveLone(q, now: now) ? q : -1
    }

    /// The one backlogged DWRR queue `q`: DRR would serve it whatever its deficit, so it is
    /// served without the round, and its next round starts afresh (a full quantum) when
    /// another queue joins it: at most one quantum of difference. False while it is paused.
    @inlinable @inline(__always) mutating func serveLone(_ q: Int, now: UInt64) -> Bool {
        deficit[q] = 0
        freshVisit = true
        guard !pause.isPaused(queue: q, now: now) else { return false }
        rr = q
        return true
    }

    /// The histogram update: a division by a constant, a count of leading zeros and three
    /// increments, inlined into the dequeue (out of line, the call and the registers it
    /// saved cost as much as the update).
    @inlinable @inline(__always) mutating func noteResidence(_ q: Int, _ nanoseconds: UInt64, ring: UInt32) {
        residence.record(q, nanoseconds: nanoseconds &+ UInt64(ring), ring: UInt64(ring))
    }

    @inlinable @inline(__always) mutating func take(_ q: Int, now: UInt64 = 0) -> QueuedFrame {
        let f = queues[q].dequeueStamped()!
        dequeued[q] &+= 1
        dequeuedBytes[q] &+= UInt64(f.len)
        if recordResidence && f.stamp != 0 && now > f.stamp { noteResidence(q, now &- f.stamp, ring: f.wait) }
        if queues[q].isEmpty { nonEmpty &= ~(1 &<< UInt8(truncatingIfNeeded: q & 7)) }
        return QueuedFrame(addr: f.addr, len: f.len, tag: f.tag)
    }

    /// Strict queues first (highest first), then DWRR among the others. Charges the chosen
    /// DWRR queue's deficit for the head frame.
    @inlinable @inline(__always) mutating func pick(now: UInt64 = 0) -> Int? {
        var strict = nonEmpty & strictMask
        while strict != 0 {
            let q = 7 - strict.leadingZeroBitCount          // highest non-empty strict queue
            if !pause.isPaused(queue: q, now: now) { return q }
            strict &= ~(1 << UInt8(q))
        }
        let active = nonEmpty & ~strictMask
        guard active != 0 else { return nil }
        if active & (active &- 1) == 0 {
            // One DWRR queue holds frames (the common case).
            let q = active.trailingZeroBitCount
            return serveLone(q, now: now) ? q : nil
        }
        var visits = 0
        while visits < Self.mostVisits {
            let q = rr
            if (nonEmpty & ~strictMask) & (1 << UInt8(q)) == 0 || pause.isPaused(queue: q, now: now) {
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
