/// What a sender did, printed as one JSON line by `fabric traffic send --json` and decoded by
/// the lab from its child processes: the keys are the property names.
public struct SenderReport: Codable, Sendable {
    /// Packets transmitted, resends included, and their bytes.
    public var packets: UInt64 = 0
    public var bytes: UInt64 = 0
    /// Messages begun, and messages every packet of which the responder acknowledged.
    public var messages: UInt64 = 0
    public var messagesCompleted: UInt64 = 0
    /// RC: "gbn" or "sr"; packets sent again (after a NAK or a timeout), ACKs and NAKs
    /// received, local ACK timeouts, and QPs that exhausted their retries (the error state).
    public var transport = "gbn"
    public var retransmittedPackets: UInt64 = 0
    public var acksReceived: UInt64 = 0
    public var naksReceived: UInt64 = 0
    public var timeouts: UInt64 = 0
    public var failedQueuePairs = 0
    /// CLOCK_MONOTONIC when the last acknowledgement that moved a window came, and the job
    /// completion time: from the first packet to it (0 when nothing completed).
    public var completedAt: UInt64 = 0
    public var jctSeconds: Double = 0
    /// With --messages (up to 65536): CLOCK_MONOTONIC when each message's first packet went and
    /// when its last acknowledgement came (0: never), for a collective's step timeline.
    public var messageStartedAt: [UInt64] = []
    public var messageCompletedAt: [UInt64] = []
    public var seconds: Double = 0
    public var retries: UInt64 = 0
    /// PFC frames received that paused (time > 0) or resumed (time 0) our priority.
    public var pauseFrames: UInt64 = 0
    public var resumeFrames: UInt64 = 0
    public var pausedMicroseconds: Double = 0
    /// For the last pause: from the moment the PFC frame was read to the first packet of the
    /// paused priority sent after it (the pause as the wire saw it), and the pause time the
    /// frame asked for (quanta x 512 bit times at the link speed).
    public var lastPauseObservedMicroseconds: Double = 0
    public var lastPauseRequestedMicroseconds: Double = 0
    /// The link speed PFC quanta were timed at, and where it came from (`option`,
    /// `interface`, `fallback`).
    public var linkGbps: Double = 0
    public var linkSpeedSource = ""
    public var corrupted: UInt64 = 0
    /// Paced senders: time the sender fell behind its schedule by more than
    /// `Pacer.catchUpLimit` (10 ms; held off the CPU on a busy machine) and did not make up,
    /// as a NIC's rate limiter would not.
    public var behindScheduleMicroseconds: Double = 0
    public var cnpsReceived: UInt64 = 0
    /// CLOCK_MONOTONIC (shared by all namespaces) at the first and after the last packet.
    public var startedAt: UInt64 = 0
    public var endedAt: UInt64 = 0
    /// DCQCN: rate cuts, the rate at the end, and the time-weighted mean of the rate over the
    /// run (Gb/s). The final rate is one sample of a sawtooth (after a quiet gap DCQCN has
    /// recovered, the next CNP cuts again); the mean is what the flow was held to.
    public var rateCuts: UInt64 = 0
    public var finalRateGbps: Double = 0
    public var meanRateGbps: Double = 0
    /// DCQCN runs per queue pair: its settings (nil: none ran), and each QP's CNPs, cuts and
    /// rates (the sender's rates above are their mean, at most the port's).
    public var dcqcn: DCQCN.Parameters?
    public var queuePairRates: [QueuePairRate] = []
    public struct QueuePairRate: Codable, Sendable {
        public var queuePair: UInt32
        public var cnps: UInt64
        public var rateCuts: UInt64
        public var finalRateGbps: Double
        public var meanRateGbps: Double
    }
    public var gbps: Double { seconds > 0 ? Double(bytes) * 8 / seconds / 1e9 : 0 }
}
