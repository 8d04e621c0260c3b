// The RoCEv2 sender: an RC queue-pair NIC in software. `run` takes each packet through the
// same steps, in order: DCQCN's rate, the pacing schedule, the control frames, a PFC pause,
// then build and transmit (the parts are in this folder, one file each).
import FabricSystem
import Glibc

/// Sends RoCEv2 RC traffic from one host. Single-threaded; call `run` once.
public struct RoCESender {
    public let config: SenderConfig
    /// Control frames (PFC, CNP) always arrive here; data goes out here too with `.afpacket`.
    let socket: PacketSocket
    let transmitter: FrameTransmitter
    /// The backend in use (AF_XDP falls back to AF_PACKET, with `fallbackReason`).
    public var backend: SendBackend { transmitter.backend }
    public var fallbackReason: String? { transmitter.fallbackReason }

    /// Bytes one transmitted frame may take, on either backend (a chain of AF_XDP UMEM frames
    /// beyond one). It bounds `SenderConfig.mtu` (`SenderConfig.largestMTU`).
    public static var frameBytes: Int { FrameTransmitter.frameBytes }

    /// Checks `config` (a `TrafficError` names what is wrong), then opens the sockets.
    public init(config: SenderConfig) throws {
        try config.validate(frameBytes: Self.frameBytes)
        self.config = config
        socket = try PacketSocket(interface: config.interface)
        // ACKs and NAKs come to UDP port 4791 of this host: without a socket there the kernel
        // would answer each with an ICMP port unreachable.
        socket.claimRoCEPort()
        transmitter = FrameTransmitter(interface: config.interface, backend: config.backend, socket: socket,
                                       largestFrame: config.largestFrame(payload: config.mtu))
    }

    /// `gate`: how many messages may have begun by now (read before each new message; a
    /// collective rank's dependency on what it received); nil: no limit.
    /// `startAt`: instead of the configuration's start time.
    public func run(gate: (() -> UInt64)? = nil, startAt: UInt64? = nil) throws -> SenderReport {
        let c = config
        Self.wait(untilClock: startAt ?? c.startAt)
        let start = monotonicNanoseconds()
        // With --messages: until every message is acknowledged; else new messages start for
        // `seconds`, and the ones started are then finished.
        let end = c.messages > 0 ? UInt64.max : start + UInt64(c.seconds * 1e9)
        var packets = PacketWriter(config: c, sourceMAC: socket.mac)
        let control = ControlFrameReader(fd: socket.fd, priority: c.priority, queuePairs: c.localQP..<c.localQP + UInt32(c.queuePairs))
        var schedule = SendSchedule(config: c, control: control, start: start)
        var report = SenderReport()
        var now = start
        while !stopRequested.load(ordering: .relaxed) {   // SIGINT/SIGTERM: report what was done
            now = monotonicNanoseconds()
            if schedule.control.pollIsDue(at: now) { schedule.readControlFrames(now: now) }
            schedule.requester.checkTimeouts(at: now)
            let startNew = now < end
            if schedule.requester.isDone(startNew: startNew) { break }
            if let gate { schedule.requester.gate = gate() }
            // 1. What goes next: a resend, else a new packet the window allows; else wait for
            //    the ACKs (or the timeout) that let something go.
            guard let t = schedule.requester.next(startNew: startNew) else {
                transmitter.flush()
                schedule.waitForControl(until: now + schedule.requester.parameters.timeoutNanoseconds)
                continue
            }
            let (message, index) = schedule.requester.place(t)
            let packet = packets.segment(index)
            // 2. Rate and pace: wait for the packet's time on the schedule.
            schedule.followCongestionControl(queuePair: t.queuePair, frameLength: packet.frameLength, now: now)
            if let due = schedule.due(queuePair: t.queuePair, frameLength: packet.frameLength, firstOfMessage: index == 0 && !t.retransmission, now: now) {
                now = schedule.wait(until: due, from: now)
            }
            // 3. Control frames, then a pause of our priority: wait it out.
            if schedule.control.pollIsDue(at: now) { schedule.readControlFrames(now: now) }
            now = schedule.waitOutPause(from: now)
            schedule.endExpiredPause(now: now, frameLength: packet.frameLength)
            // An ACK read while waiting may have made this packet unnecessary or changed the
            // order: ask again.
            guard schedule.requester.next(startNew: now < end || index > 0) == t else { continue }
            // 4. Build the packet now, so its timestamp is its send time, and send it.
            let length = packets.write(packet, message: message, queuePair: t.queuePair, sequence: t.sequence, resend: t.retransmission,
                                       sentAt: now, into: transmitter.nextFrame(), capacity: FrameTransmitter.frameBytes)
            guard length > 0 else { throw TrafficError("a \(packet.frameLength)-byte packet does not fit a \(FrameTransmitter.frameBytes)-byte frame") }
            report.retries += try transmitter.send(length: length, paced: schedule.pacer.isPaced)
            report.packets += 1
            report.bytes += UInt64(length)
            schedule.requester.sent(t, at: now)
            schedule.sent(queuePair: t.queuePair, frameLength: length, at: now)
            schedule.pause.packetSent(at: monotonicNanoseconds())
        }
        transmitter.finish()
        return finish(report, schedule: schedule, packets: packets, start: start, end: now)
    }

    /// The report's totals from the parts at the end of a run from `start` to `end`.
    private func finish(_ report: SenderReport, schedule: borrowing SendSchedule, packets: borrowing PacketWriter,
                        start: UInt64, end: UInt64) -> SenderReport {
        var r = report
        r.corrupted = packets.corrupted
        let rc = schedule.requester
        r.messages = rc.messagesStarted
        r.messagesCompleted = rc.messagesCompleted
        r.retransmittedPackets = rc.retransmitted
        r.acksReceived = rc.acks
        r.naksReceived = rc.naks
        r.timeouts = rc.timeouts
        r.failedQueuePairs = rc.failedQueuePairs
        r.transport = rc.parameters.mode.rawValue
        r.completedAt = rc.lastProgress
        r.messageStartedAt = rc.startedAt
        r.messageCompletedAt = rc.completedAt
        r.jctSeconds = rc.messagesCompleted > 0 && rc.lastProgress > start ? Double(rc.lastProgress - start) / 1e9 : 0
        r.startedAt = start
        r.endedAt = end
        r.seconds = Double(end - start) / 1e9
        let pause = schedule.pause
        r.pauseFrames = pause.pauseFrames
        r.resumeFrames = pause.resumeFrames
        r.pausedMicroseconds = pause.pausedMicroseconds
        r.lastPauseObservedMicroseconds = pause.lastObservedMicroseconds
        r.lastPauseRequestedMicroseconds = pause.lastRequestedMicroseconds
        r.linkGbps = config.linkGbps
        r.linkSpeedSource = config.linkSpeedSource.rawValue
        r.behindScheduleMicroseconds = schedule.pacer.behindScheduleMicroseconds
        r.cnpsReceived = schedule.cnpsReceived
        r.rateCuts = schedule.dcqcn.reduce(0) { $0 + $1.cuts }
        r.finalRateGbps = schedule.rateGbps
        r.meanRateGbps = schedule.meanRateGbps(from: start, to: end)
        r.dcqcn = schedule.dcqcn.isEmpty ? nil : config.dcqcnParameters
        r.queuePairRates = schedule.limiters.indices.map { q in
            SenderReport.QueuePairRate(queuePair: config.localQP + UInt32(q), cnps: schedule.cnpsPerQueuePair[q], rateCuts: schedule.dcqcn[q].cuts,
                                       finalRateGbps: schedule.limiters[q].rateGbps, meanRateGbps: schedule.limiters[q].meanRateGbps(from: start, to: end))
        }
        return r
    }

    /// Waits for CLOCK_MONOTONIC `time` (0: not at all), sleeping while more than 200 us are
    /// left: the start barrier several senders share.
    private static func wait(untilClock time: UInt64) {
        while time > 0 {
            let now = monotonicNanoseconds()
            guard now < time else { return }
            let left = time - now
            if left > 200_000 { usleep(UInt32(min(left / 2000, 100_000))) }
        }
    }
}

extension SendSchedule {
    /// Waits for a paced packet's `due` time, reading control frames all the while; returns
    /// the time. Far from due it sleeps up to 200 us before it, at most 1 ms at a time (to keep
    /// reading PFC), then spins: many paced senders on 2 cores must not wake every 50 us each.
    mutating func wait(until due: UInt64, from start: UInt64) -> UInt64 {
        var now = start
        while now < due {
            if due - now > 250_000 { usleep(UInt32(min(1_000, (due - now - 200_000) / 1_000))) }
            now = monotonicNanoseconds()
            readControlFrames(now: now)
        }
        return now
    }

    /// Waits out a pause of our priority, reading control frames (an XON ends it early,
    /// another XOFF extends it); returns the time. It sleeps only while more than 2 ms remain
    /// and spins the rest: a sleeping thread on a busy 2-core machine can wake milliseconds
    /// late, a spinning one resumes on time. (A pause ends by itself: its time is finite.)
    mutating func waitOutPause(from start: UInt64) -> UInt64 {
        var now = start
        while pause.isPaused(at: now) {
            if pause.pausedUntil - now > 2_000_000 { usleep(200) }
            now = monotonicNanoseconds()
            readControlFrames(now: now)
        }
        return now
    }

    /// Nothing may go (windows full, or everything sent and not yet acknowledged): waits for
    /// a control frame, at most 1 ms at a time and not past `deadline` (the ACK timeout), and
    /// reads what came.
    mutating func waitForControl(until deadline: UInt64) {
        let now = monotonicNanoseconds()
        guard now < deadline else { return }
        control.waitReadable(milliseconds: Int32(min(1, (deadline - now) / 1_000_000)))
        readControlFrames(now: monotonicNanoseconds())
    }
}
