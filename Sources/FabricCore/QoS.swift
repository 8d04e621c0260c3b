/// Which header field a port trusts to pick a packet's traffic class.
public enum TrustMode: String, Sendable, CaseIterable {
    case dscp, pcp
}

/// The QoS maps of a switch: DSCP or PCP to traffic class (TC), TC to priority group (PG, the
/// unit of ingress buffer accounting and PFC) and TC to egress queue, and which TCs are
/// lossless. Names and shapes follow SONiC's DSCP_TO_TC_MAP, DOT1P_TO_TC_MAP,
/// TC_TO_PRIORITY_GROUP_MAP and TC_TO_QUEUE_MAP.
public struct QoSMaps: Sendable, Equatable {
    public var profile: String
    public var dscpToTC: [UInt8]            // 64 entries
    public var pcpToTC: [UInt8]             // 8 entries
    public var tcToPriorityGroup: [UInt8]   // 8 entries
    public var tcToQueue: [UInt8]           // 8 entries
    /// Bit n set: TC n is lossless (PFC on priority n).
    public var losslessTCs: UInt8
    /// Bit n set: egress queue n is served by strict priority (default: queue 6, CNPs).
    public var strictQueues: UInt8 = 1 << 6
    /// ETS weights of the other queues for deficit round robin (default: equal).
    public var etsWeights: [Int] = Array(repeating: 1, count: 8)

    public static let profileNames = ["nvidia-roce", "sonic-azure"]

    /// NVIDIA/Cumulus RoCE profile (DESIGN.md): DSCP 26 -> TC3 lossless (PFC priority 3),
    /// DSCP 48 (CNP) -> TC6 strict priority, everything else -> TC0 lossy.
    public static let nvidiaRoCE: QoSMaps = {
        var dscp = [UInt8](repeating: 0, count: 64)
        dscp[26] = 3
        dscp[48] = 6
        return QoSMaps(profile: "nvidia-roce", dscpToTC: dscp, pcpToTC: Array(0...7),
                       tcToPriorityGroup: [0, 0, 0, 3, 0, 0, 6, 0], tcToQueue: Array(0...7), losslessTCs: 1 << 3)
    }()

    /// SONiC's Azure template, simplified: DSCP 3 and 4 -> lossless TC3 and TC4, DSCP 8 -> TC0,
    /// DSCP 46 -> TC5, DSCP 48 -> TC6, all others (DSCP 26 included) -> lossy TC1.
    public static let sonicAzure: QoSMaps = {
        var dscp = [UInt8](repeating: 1, count: 64)
        dscp[3] = 3
        dscp[4] = 4
        dscp[8] = 0
        dscp[46] = 5
        dscp[48] = 6
        return QoSMaps(profile: "sonic-azure", dscpToTC: dscp, pcpToTC: Array(0...7),
                       tcToPriorityGroup: [0, 0, 0, 3, 4, 0, 0, 0], tcToQueue: Array(0...7), losslessTCs: 1 << 3 | 1 << 4)
    }()

    public static func named(_ name: String) -> QoSMaps? {
        switch name {
        case "nvidia-roce": .nvidiaRoCE
        case "sonic-azure": .sonicAzure
        default: nil
        }
    }
}

/// ECN marking on egress queues, DCQCN/WRED style: probability 0 below `kmin` bytes queued,
/// rising linearly to `pmax` at `kmax`, 1 above `kmax`. Only ECT packets (ECN 01/10) are
/// marked (set to CE, 11); Not-ECT packets are never touched.
public struct ECNConfig: Sendable, Equatable {
    /// Bit n set: queue n marks. Default: queue 3 (the NVIDIA profile's lossless TC3).
    public var queues: UInt8 = 1 << 3
    public var kminBytes = 150 * 1024
    public var kmaxBytes = 1536 * 1024
    /// Probability at kmax, 0...1.
    public var pmax = 1.0
    public init() {}

    /// Marking probability at a queue depth of `bytes`.
    @inlinable public func probability(depth bytes: Int) -> Double {
        if bytes < kminBytes { return 0 }
        if bytes >= kmaxBytes { return 1 }
        return pmax * Double(bytes - kminBytes) / Double(kmaxBytes - kminBytes)
    }
}

/// The PFC watchdog (SONiC's pfcwd): a queue kept paused for `detection` while it holds
/// frames is declared stormed (a peer stuck sending XOFF, a deadlock); the action then applies
/// until no PFC frame for it has arrived for `restoration`.
public struct PFCWatchdogConfig: Sendable, Equatable {
    public enum Action: String, Sendable, CaseIterable {
        /// Discard the queue's frames and new arrivals, ignore its pauses.
        case drop
        /// Ignore its pauses: transmit as if no PFC arrived.
        case forward
        /// Count only.
        case alert
    }
    public var enabled = true
    public var action: Action = .drop
    public var detectionNanoseconds: UInt64 = 200_000_000
    public var restorationNanoseconds: UInt64 = 200_000_000
    public init() {}
}

/// Ingress buffer accounting, SONiC's (and SAI's) model: one shared pool per switch, and per
/// (ingress port, priority group) three parts a frame is charged to in order:
/// - `reserved`: guaranteed to the PG whatever the pool holds (SONiC's profile `size`);
/// - shared: from the pool, while the PG's shared use stays within its threshold, either
///   static (`static_th`, bytes) or dynamic (`dynamic_th` n: alpha = 2^n times the pool's free
///   bytes, so a PG alone may take alpha/(1+alpha) of the pool and N busy PGs share it);
/// - headroom (lossless PGs only): what arrives after the PG could not take a frame from the
///   pool and sent PFC XOFF on its ingress port, until the sender stops. A headroom overflow
///   is a drop of its own (`headroom_overflow`), which a right-sized headroom never sees.
/// A lossy PG tail-drops (`buffer_full`) when the pool part is refused. A lossless PG in XOFF
/// refreshes it while paused and sends XON once its headroom is empty and its shared use is
/// `xonOffsetBytes` below its threshold. Frames leave headroom first, then shared, then reserved.
public struct BufferConfig: Sendable, Equatable {
    public enum Threshold: Sendable, Equatable {
        /// SONiC dynamic_th: alpha = 2^n (n in -7...7) times the pool's free bytes.
        case dynamic(Int)
        /// SONiC static_th: a fixed number of shared bytes.
        case fixed(Int)

        /// The shared bytes a PG may hold when the pool has `free` bytes left.
        @inlinable public func limit(free: Int) -> Int {
            switch self {
            case .dynamic(let n): n >= 0 ? free << n : free >> -n
            case .fixed(let bytes): bytes
            }
        }

        public var description: String {
            switch self {
            case .dynamic(let n): "dynamic_th \(n) (alpha \(n >= 0 ? "\(1 << n)" : "1/\(1 << -n)"))"
            case .fixed(let bytes): "static_th \(bytes) B"
            }
        }
    }

    /// What one kind of PG (lossless or lossy) is given.
    public struct Profile: Sendable, Equatable {
        public var reservedBytes: Int
        public var threshold: Threshold
        public init(reservedBytes: Int, threshold: Threshold) {
            self.reservedBytes = reservedBytes
            self.threshold = threshold
        }
    }

    /// The switch's shared ingress pool (reserved and headroom are outside it).
    public var poolBytes = 8 * 1024 * 1024
    /// Lossless PGs: 16 KB reserved, alpha 1/4 (one PG alone takes up to a fifth of the pool,
    /// 1.6 MB: above the default ECN Kmax of 1.5 MB, so ECN marks before PFC pauses).
    public var lossless = Profile(reservedBytes: 16 * 1024, threshold: .dynamic(-2))
    /// Lossy PGs: nothing reserved, alpha 1 (one PG alone takes up to half the pool).
    public var lossy = Profile(reservedBytes: 0, threshold: .dynamic(0))
    public var xonOffsetBytes = 32 * 1024
    /// nil: sized from speed, MTU and cable length (`headroom(speedGbps:)`).
    public var headroomBytes: Int? = nil
    public var cableMeters = 5.0
    public var mtu = 1500
    public init() {}

    /// What a software fabric adds to a hardware one's headroom: frames already in the switch's
    /// rx ring (not yet counted) and the time a software NIC and a time-shared switch take to
    /// react. Measured here: PG peaks of 0.3-0.7 MB past XOFF at 1 Gb/s on 2 shared cores.
    public var softwareSlackBytes = 2 * 1024 * 1024

    /// 2 x the bytes in flight on the cable (5 ns/m each way) + an MTU being sent + the bytes
    /// the peer sends before it reacts (IEEE 802.1Qbb response delay in pause quanta: 67 at
    /// 10G, 80 at 25G, 394 at 100G) + one more MTU (the frame the peer had started), plus the
    /// software slack.
    public func headroom(speedGbps: Double) -> Int {
        if let h = headroomBytes { return h }
        return hardwareHeadroom(speedGbps: speedGbps) + softwareSlackBytes
    }

    /// The IEEE part alone.
    public func hardwareHeadroom(speedGbps: Double) -> Int {
        let cable = cableMeters * 5 * speedGbps / 8          // bytes on the cable one way
        let quanta: Double = speedGbps <= 10 ? 67 : speedGbps <= 25 ? 80 : 394
        let response = quanta * 512 / 8
        return Int(2 * cable + response) + 2 * (mtu + 38)
    }
}
