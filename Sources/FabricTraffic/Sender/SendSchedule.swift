/// Which packet the sender sends next and when, and what changes both: the RC requester's
/// windows (ACKs, NAKs, timeouts), the pacing schedule, the DCQCN rate that sets the pace, the
/// PFC pause that holds it, and the control frames that move them. The waits that read the
/// clock and sleep are beside the run loop (`RoCESender.swift`); everything here takes the
/// time as an argument.
struct SendSchedule: ~Copyable {
    var requester: Requester
    /// The port's schedule (`--rate`, the NIC's line rate); CNPs do not change it.
    var pacer: Pacer
    var pause: PFCPauseState
    /// DCQCN, one reaction point per queue pair (empty when the sender runs none), and each
    /// QP's rate limiter at its reaction point's rate.
    var dcqcn: [DCQCN]
    var limiters: [QueuePairLimiter]
    var control: ControlFrameReader
    private(set) var cnpsReceived: UInt64 = 0
    private(set) var cnpsPerQueuePair: [UInt64]

    init(config c: SenderConfig, control: consuming ControlFrameReader, start: UInt64) {
        requester = Requester(parameters: c.reliability, queuePairs: c.queuePairs, packetsPerMessage: c.packetsPerMessage, messages: c.messages)
        pacer = Pacer(rateGbps: c.rateGbps, packetsPerSecond: c.packetsPerSecond, burstGbps: c.burstGbps, start: start)
        pause = PFCPauseState(linkGbps: c.linkGbps)
        let line = c.rateGbps > 0 ? c.rateGbps : c.linkGbps
        dcqcn = c.dcqcn ? (0..<c.queuePairs).map { _ in DCQCN(lineRateGbps: line, now: start, parameters: c.dcqcnParameters) } : []
        limiters = c.dcqcn ? (0..<c.queuePairs).map { _ in QueuePairLimiter(rateGbps: line, start: start) } : []
        cnpsPerQueuePair = [UInt64](repeating: 0, count: c.queuePairs)
        self.control = control
    }

    /// DCQCN's timers and byte counter of queue pair `qp` advance for a frame of `frameLength`
    /// bytes about to go at `now`; its limiter follows a new rate.
    mutating func followCongestionControl(queuePair qp: Int, frameLength: Int, now: UInt64) {
        guard qp < dcqcn.count else { return }
        let rate = dcqcn[qp].advance(now: now, sentBytes: UInt64(frameLength))
        if rate != limiters[qp].rateGbps { limiters[qp].changeRate(to: rate, at: now) }
    }

    /// When a packet of `frameLength` bytes of queue pair `qp`, ready at `now`, may go: the
    /// port's schedule and the QP's rate limiter (when it runs DCQCN); nil: at once.
    mutating func due(queuePair qp: Int, frameLength: Int, firstOfMessage: Bool, now: UInt64) -> UInt64? {
        let port = pacer.due(frameLength: frameLength, firstOfMessage: firstOfMessage, now: now)
        guard qp < limiters.count else { return port }
        let limited = limiters[qp].due(now: now)
        guard let p = port else { return limited > now ? limited : nil }
        if limited > p {
            // Held back by its QP: the port's schedule must not bank the time as credit
            // for the next QP's burst.
            pacer.restart(at: limited, counting: frameLength)
            return limited
        }
        return p
    }

    /// A packet of `frameLength` bytes of queue pair `qp` went at `now`.
    mutating func sent(queuePair qp: Int, frameLength: Int, at now: UInt64) {
        if qp < limiters.count { limiters[qp].sent(frameLength: frameLength, at: now) }
    }

    /// The sender's DCQCN rate: the mean of its QPs' rates (they take turns message by
    /// message), at most the port's; the port's rate without DCQCN.
    var rateGbps: Double {
        guard !limiters.isEmpty else { return pacer.rateGbps }
        let mean = limiters.reduce(0) { $0 + $1.rateGbps } / Double(limiters.count)
        return pacer.rateGbps > 0 ? min(pacer.rateGbps, mean) : mean
    }

    /// Its time-weighted mean from `start` to `end`.
    func meanRateGbps(from start: UInt64, to end: UInt64) -> Double {
        guard !limiters.isEmpty else { return pacer.meanRateGbps(from: start, to: end) }
        let mean = limiters.reduce(0) { $0 + $1.meanRateGbps(from: start, to: end) } / Double(limiters.count)
        return pacer.rateGbps > 0 ? min(pacer.rateGbps, mean) : mean
    }

    /// Reads every control frame waiting and acts on it.
    mutating func readControlFrames(now: UInt64) {
        while let frame = control.next() { handle(frame, at: now) }
    }

    /// A PFC frame pauses or resumes (an XON restarts the schedule: no burst to make up the
    /// paused time); a CNP cuts the DCQCN rate (and restarts the schedule at it); an ACK or NAK
    /// moves the requester's window.
    mutating func handle(_ frame: ControlFrame, at now: UInt64) {
        switch frame {
        case .pause(let quanta):
            if pause.received(quanta: quanta, at: now) { pacer.restart(at: now) }
        case .acknowledge(let qp, let psn, let nak):
            requester.acknowledged(queuePair: qp, psn: psn, nak: nak, at: now)
        case .congestionNotification(let qp):
            cnpsReceived += 1
            if qp < cnpsPerQueuePair.count { cnpsPerQueuePair[qp] += 1 }
            guard qp < dcqcn.count else { return }
            dcqcn[qp].congestionNotified(now: now)
            limiters[qp].changeRate(to: dcqcn[qp].currentGbps, at: now)
        }
    }

    /// A pause that ran out by `now` ends, and the schedule restarts with the packet of
    /// `frameLength` bytes that goes now.
    mutating func endExpiredPause(now: UInt64, frameLength: Int) {
        if pause.endIfExpired(at: now) { pacer.restart(at: now, counting: frameLength) }
    }
}

/// One queue pair's rate limiter (a NIC's per-QP shaper): the earliest time its next packet
/// may go at its rate, and the rate's history for the report.
struct QueuePairLimiter {
    private(set) var rateGbps: Double
    private var nextAllowed: UInt64
    private var integral = 0.0
    private var since: UInt64

    init(rateGbps: Double, start: UInt64) {
        self.rateGbps = rateGbps
        nextAllowed = start
        since = start
    }

    func due(now: UInt64) -> UInt64 { max(now, nextAllowed) }

    mutating func sent(frameLength: Int, at now: UInt64) {
        guard rateGbps > 0 else { return }
        nextAllowed = max(nextAllowed, now) + UInt64(Pacer.wireBits(frameLength: frameLength) / rateGbps)
    }

    /// A new rate from `now` on; nothing owed at the old rate is carried over.
    mutating func changeRate(to rate: Double, at now: UInt64) {
        integral += rateGbps * Double(now &- since)
        since = now
        rateGbps = rate
        nextAllowed = min(nextAllowed, now)
    }

    func meanRateGbps(from start: UInt64, to end: UInt64) -> Double {
        guard end > start else { return rateGbps }
        return (integral + rateGbps * Double(end &- since)) / Double(end - start)
    }
}
