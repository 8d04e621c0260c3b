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

    /// Bytes one transmitted frame may take, on either backend: one AF_XDP UMEM frame. It
    /// bounds `SenderConfig.mtu` (`SenderConfig.largestMTU`).
    public static var frameBytes: Int { FrameTransmitter.frameBytes }

    /// Checks `config` (a `TrafficError` names what is wrong), then opens the sockets.
    public init(config: SenderConfig) throws {
        try config.validate(frameBytes: Self.frameBytes)
        self.config = config
        socket = try PacketSocket(interface: config.interface)
        transmitter = FrameTransmitter(interface: config.interface, backend: config.backend, socket: socket)
    }

    public func run() throws -> SenderReport {
        let c = config
        Self.wait(untilClock: c.startAt)
        let start = monotonicNanoseconds()
        let end = c.messages > 0 ? UInt64.max : start + UInt64(c.seconds * 1e9)
        var packets = PacketWriter(config: c, sourceMAC: socket.mac)
        let control = ControlFrameReader(fd: socket.fd, priority: c.priority, queuePairs: c.localQP..<c.localQP + UInt32(c.queuePairs))
        var schedule = SendSchedule(config: c, control: control, start: start)
        var report = SenderReport()
        sending: while c.messages == 0 || packets.message < UInt64(c.messages) {
            for index in 0..<packets.packetsPerMessage {
                let packet = packets.segment(index)
                var now = monotonicNanoseconds()
                // 1. Rate and pace: wait for the packet's time on the schedule.
                schedule.followCongestionControl(frameLength: packet.frameLength, now: now)
                if let due = schedule.pacer.due(frameLength: packet.frameLength, firstOfMessage: index == 0, now: now) {
                    now = schedule.wait(until: due, from: now)
                }
                if now >= end { break sending }
                // 2. Control frames, then a pause of our priority: wait it out.
                if schedule.control.pollIsDue(at: now) { schedule.readControlFrames(now: now) }
                guard let resumed = schedule.waitOutPause(from: now, end: end) else { break sending }
                now = resumed
                schedule.endExpiredPause(now: now, frameLength: packet.frameLength)
                // 3. Build the packet now, so its timestamp is its send time, and send it.
                let length = packets.write(packet, sentAt: now, into: transmitter.nextFrame(), capacity: FrameTransmitter.frameBytes)
                guard length > 0 else { throw TrafficError("a \(packet.frameLength)-byte packet does not fit a \(FrameTransmitter.frameBytes)-byte frame") }
                report.retries += try transmitter.send(length: length, paced: schedule.pacer.isPaced)
                report.packets += 1
                report.bytes += UInt64(length)
                schedule.pause.packetSent(at: monotonicNanoseconds())
            }
            packets.endMessage()
            report.messages = packets.message
        }
        transmitter.finish()
        return Self.finish(report, schedule: schedule, packets: packets, start: start, end: monotonicNanoseconds())
    }

    /// The report's totals from the parts at the end of a run from `start` to `end`.
    private static func finish(_ report: SenderReport, schedule: borrowing SendSchedule, packets: borrowing PacketWriter,
                               start: UInt64, end: UInt64) -> SenderReport {
        var r = report
        r.corrupted = packets.corrupted
        r.startedAt = start
        r.endedAt = end
        r.seconds = Double(end - start) / 1e9
        let pause = schedule.pause
        r.pauseFrames = pause.pauseFrames
        r.resumeFrames = pause.resumeFrames
        r.pausedMicroseconds = pause.pausedMicroseconds
        r.lastPauseObservedMicroseconds = pause.lastObservedMicroseconds
        r.lastPauseRequestedMicroseconds = pause.lastRequestedMicroseconds
        r.behindScheduleMicroseconds = schedule.pacer.behindScheduleMicroseconds
        r.cnpsReceived = schedule.cnpsReceived
        r.rateCuts = schedule.dcqcn?.cuts ?? 0
        r.finalRateGbps = schedule.pacer.rateGbps
        r.meanRateGbps = schedule.pacer.meanRateGbps(from: start, to: end)
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
    /// another XOFF extends it); returns the time, or nil when `end` came first. It sleeps only
    /// while more than 2 ms remain and spins the rest: a sleeping thread on a busy 2-core
    /// machine can wake milliseconds late, a spinning one resumes on time.
    mutating func waitOutPause(from start: UInt64, end: UInt64) -> UInt64? {
        var now = start
        while pause.isPaused(at: now) {
            if pause.pausedUntil - now > 2_000_000 { usleep(200) }
            now = monotonicNanoseconds()
            readControlFrames(now: now)
            if now >= end { return nil }
        }
        return now
    }
}
