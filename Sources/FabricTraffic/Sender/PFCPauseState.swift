/// 802.1Qbb PFC as the sender honours it for its own priority, as a NIC's MAC does.
///
/// An XOFF (pause time > 0) pauses for quanta x 512 bit times at the link speed from the
/// moment it is read; another XOFF replaces the end time; an XON (pause time 0) ends the pause
/// at once. When a pause ends the pacing schedule restarts (nothing paused is made up; the
/// caller restarts its `Pacer`):
/// - by XON: `received` returns true;
/// - by running out: `endIfExpired` returns true when the sender next looks.
/// Every pause's time is counted once: up to the XON that ended it, or up to its end time.
///
/// Besides the time paused, it measures the last pause as the wire saw it: from reading the
/// XOFF to the first packet sent after it (`packetSent`), next to the time the XOFF asked for.
/// A value driven by the caller's clock (times in CLOCK_MONOTONIC ns; 0 means "none").
struct PFCPauseState {
    /// Link speed for the quanta (512 bit times each).
    let linkGbps: Double

    /// When the current pause runs out (0: none), and when it began.
    private(set) var pausedUntil: UInt64 = 0
    private(set) var pauseStartedAt: UInt64 = 0
    /// Set by an XOFF, cleared by the next packet sent.
    private var pauseReadAt: UInt64 = 0

    private(set) var pauseFrames: UInt64 = 0
    private(set) var resumeFrames: UInt64 = 0
    private(set) var pausedMicroseconds = 0.0
    private(set) var lastObservedMicroseconds = 0.0
    private(set) var lastRequestedMicroseconds = 0.0

    init(linkGbps: Double) {
        self.linkGbps = linkGbps
    }

    /// Nanoseconds that `quanta` pause: 512 bit times each at the link speed.
    func pauseNanoseconds(quanta: UInt16) -> Double { Double(quanta) * 512 / linkGbps }

    func isPaused(at now: UInt64) -> Bool { now < pausedUntil }

    /// A PFC frame for our priority read at `now`: XOFF for `quanta`, or XON when 0. Returns
    /// true when an XON ended a pause early.
    mutating func received(quanta: UInt16, at now: UInt64) -> Bool {
        // A pause can run out unnoticed while the sender waits for a paced packet's time (it
        // never held the sender, so the schedule goes on): its time is counted before this
        // frame starts a new one or finds nothing to end.
        _ = endIfExpired(at: now)
        guard quanta > 0 else {
            resumeFrames += 1
            let endedEarly = pausedUntil > now
            if endedEarly { pausedMicroseconds += Double(now - pauseStartedAt) / 1000 }
            pausedUntil = 0
            pauseStartedAt = 0
            return endedEarly
        }
        pauseFrames += 1
        let nanoseconds = pauseNanoseconds(quanta: quanta)
        if pausedUntil <= now { pauseStartedAt = now }
        pausedUntil = now + UInt64(nanoseconds)
        pauseReadAt = now
        lastRequestedMicroseconds = nanoseconds / 1000
        return false
    }

    /// Ends a pause that ran out by `now` and counts its time. Returns true when it did.
    mutating func endIfExpired(at now: UInt64) -> Bool {
        guard pauseStartedAt > 0, pausedUntil > 0, now >= pausedUntil else { return false }
        pausedMicroseconds += Double(pausedUntil - pauseStartedAt) / 1000
        pausedUntil = 0
        pauseStartedAt = 0
        return true
    }

    /// A packet of our priority left at `now` (read only after an XOFF): the first one after
    /// an XOFF ends the pause as the wire saw it.
    mutating func packetSent(at now: @autoclosure () -> UInt64) {
        guard pauseReadAt > 0 else { return }
        lastObservedMicroseconds = Double(now() - pauseReadAt) / 1000
        pauseReadAt = 0
    }
}
