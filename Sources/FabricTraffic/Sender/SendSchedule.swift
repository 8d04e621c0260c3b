/// Which packet the sender sends next and when, and what changes both: the RC requester's
/// windows (ACKs, NAKs, timeouts), the pacing schedule, the DCQCN rate that sets the pace, the
/// PFC pause that holds it, and the control frames that move them. The waits that read the
/// clock and sleep are beside the run loop (`RoCESender.swift`); everything here takes the
/// time as an argument.
struct SendSchedule: ~Copyable {
    var requester: Requester
    var pacer: Pacer
    var pause: PFCPauseState
    /// The reaction point when the sender runs DCQCN.
    var dcqcn: DCQCN?
    var control: ControlFrameReader
    private(set) var cnpsReceived: UInt64 = 0

    init(config c: SenderConfig, control: consuming ControlFrameReader, start: UInt64) {
        requester = Requester(parameters: c.reliability, queuePairs: c.queuePairs, packetsPerMessage: c.packetsPerMessage, messages: c.messages)
        pacer = Pacer(rateGbps: c.rateGbps, packetsPerSecond: c.packetsPerSecond, burstGbps: c.burstGbps, start: start)
        pause = PFCPauseState(linkGbps: c.linkGbps)
        dcqcn = c.dcqcn ? DCQCN(lineRateGbps: c.rateGbps > 0 ? c.rateGbps : c.linkGbps, now: start) : nil
        self.control = control
    }

    /// DCQCN's timers and byte counter advance for a frame of `frameLength` bytes about to go
    /// at `now`; a new rate restarts the schedule.
    mutating func followCongestionControl(frameLength: Int, now: UInt64) {
        guard let rate = dcqcn?.advance(now: now, sentBytes: UInt64(frameLength)), rate != pacer.rateGbps else { return }
        pacer.changeRate(to: rate, at: now)
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
        case .congestionNotification:
            cnpsReceived += 1
            guard dcqcn != nil else { return }
            dcqcn?.congestionNotified(now: now)
            pacer.changeRate(to: dcqcn?.currentGbps ?? pacer.rateGbps, at: now)
        }
    }

    /// A pause that ran out by `now` ends, and the schedule restarts with the packet of
    /// `frameLength` bytes that goes now.
    mutating func endExpiredPause(now: UInt64, frameLength: Int) {
        if pause.endIfExpired(at: now) { pacer.restart(at: now, counting: frameLength) }
    }
}
