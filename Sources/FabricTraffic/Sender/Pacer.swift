/// When each packet of a paced sender is due, as a NIC's rate limiter spaces them.
///
/// Two modes, both on on-the-wire bits (frame + preamble, FCS and inter-frame gap):
/// - average: every packet at `rateGbps` (or at `packetsPerSecond` when no rate is set);
/// - burst (`burstGbps` > 0): a message starts when the average rate allows it, never earlier
///   than now, and its packets follow back to back at the burst rate.
///
/// The schedule runs from an origin. It restarts (`restart`) whenever time that must not be
/// made up has passed: a PFC pause that ran out or was ended by XON, a rate change, a stall of
/// more than `catchUpLimit`. A sender that fell behind by less makes the time up, as a rate
/// limiter holds a bounded burst; beyond it the rest is counted in `behindScheduleMicroseconds`.
/// An unbounded catch-up after a long stall is a line-rate burst of hundreds of packets that
/// lands in the switch's rx ring faster than its PFC can answer.
///
/// A value driven by the caller's clock: every method takes `now`.
struct Pacer {
    /// Bytes a frame occupies on the wire beyond its own: preamble and SFD 8, FCS 4,
    /// inter-frame gap 12.
    static let wireOverhead = 24
    /// How far behind its schedule a sender may be and still make the time up (10 ms).
    static let catchUpLimit: UInt64 = 10_000_000

    /// The pacing rate (Gb/s == bits per ns); 0 with `packetsPerSecond` 0: unpaced.
    private(set) var rateGbps: Double
    let packetsPerSecond: Double
    let burstGbps: Double
    /// Time the sender fell behind by more than `catchUpLimit` and did not make up.
    private(set) var behindScheduleMicroseconds = 0.0

    /// The schedule: bits and packets placed since `origin`.
    private var origin: UInt64
    private var wireBits = 0.0
    private var pacedPackets = 0.0
    /// Burst mode: when the current message started and its bits so far.
    private var messageStart: UInt64 = 0
    private var messageBits = 0.0
    /// For the time-weighted mean rate: the integral of the rate (Gb/s x ns) until `rateSince`.
    private var rateIntegral = 0.0
    private var rateSince: UInt64

    init(rateGbps: Double, packetsPerSecond: Double, burstGbps: Double, start: UInt64) {
        self.rateGbps = rateGbps
        self.packetsPerSecond = packetsPerSecond
        self.burstGbps = burstGbps
        origin = start
        rateSince = start
    }

    var isPaced: Bool { rateGbps > 0 || packetsPerSecond > 0 }

    /// Wire bits of a frame of `length` bytes.
    static func wireBits(frameLength length: Int) -> Double { Double(length + wireOverhead) * 8 }

    /// Places the next packet, a frame of `frameLength` bytes (`firstOfMessage`: it starts a
    /// message), on the schedule and returns when it is due; nil when unpaced (send now).
    /// `now`: when it is ready to go.
    mutating func due(frameLength: Int, firstOfMessage: Bool, now: UInt64) -> UInt64? {
        guard isPaced else { return nil }
        let bits = Self.wireBits(frameLength: frameLength)
        if rateGbps > 0 && burstGbps > 0 {
            if firstOfMessage {
                messageStart = max(now, origin + UInt64(wireBits / rateGbps))
                messageBits = 0
            }
            let due = messageStart + UInt64(messageBits / burstGbps)
            messageBits += bits
            wireBits += bits
            return due
        }
        wireBits += bits
        pacedPackets += 1
        let due = rateGbps > 0 ? origin + UInt64(wireBits / rateGbps)
            : origin + UInt64((pacedPackets - 1) * 1e9 / packetsPerSecond)
        if now > due &+ Self.catchUpLimit {
            behindScheduleMicroseconds += Double(now - due) / 1000
            restart(at: now, counting: frameLength)
            return now
        }
        return due
    }

    /// Restarts the schedule at `time`: nothing owed before it is made up. `frameLength`: a
    /// packet already placed at `time` (nil: none yet).
    mutating func restart(at time: UInt64, counting frameLength: Int? = nil) {
        origin = time
        wireBits = frameLength.map { Self.wireBits(frameLength: $0) } ?? 0
        pacedPackets = frameLength == nil ? 0 : 1
    }

    /// Paces at `rate` from `now` on (DCQCN's new rate); the schedule restarts.
    mutating func changeRate(to rate: Double, at now: UInt64) {
        rateIntegral += rateGbps * Double(now &- rateSince)
        rateSince = now
        rateGbps = rate
        restart(at: now)
    }

    /// The rate's time-weighted mean from `start` to `end` (the rate itself for an empty run).
    func meanRateGbps(from start: UInt64, to end: UInt64) -> Double {
        guard end > start else { return rateGbps }
        return (rateIntegral + rateGbps * Double(end &- rateSince)) / Double(end - start)
    }
}
