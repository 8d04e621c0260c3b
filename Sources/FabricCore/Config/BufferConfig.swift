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
///
/// Two things a software switch adds to that model:
/// - Every frame is charged at least `minimumChargeBytes`: each one pins a whole frame of the
///   switch's frame memory, so the bytes the PGs may hold also bound the frames they may hold
///   (`FrameBudget` sizes the frame memory from it).
/// - A stall budget: the worker can be off the CPU (descheduled, stopped) while frames keep
///   arriving. They wait in the port's receive ring, unclassified, and PFC cannot see them until
///   the worker is back. The receive rings hold `stallBudgetNanoseconds` of traffic at each
///   port's `stallRate`, and a lossless PG's headroom takes it when the worker returns.
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
    /// How long the worker may be away with nothing lost (`stall_budget`).
    public var stallBudgetNanoseconds: UInt64 = 100_000_000
    /// The fastest a port is taken to receive during a stall (`stall_rate`), or its `speed` if
    /// lower.
    public var stallRateGbps = 1.0
    /// The least a frame is charged: a quarter of a 4 KB frame, below a RoCE MTU-sized frame
    /// (1 KB payload + 58 bytes of headers), so those are charged their length.
    public var minimumChargeBytes = 1024
    public init() {}

    /// What a frame carries besides its MTU-sized payload: the Ethernet header with one 802.1Q
    /// tag (AF_XDP frames carry no FCS).
    public static let ethernetOverhead = 18
    /// The smallest MTU an IPv4 host must accept (RFC 791).
    public static let smallestMTU = 576
    /// The largest MTU the switch carries: jumbo frames up to `FramePool.largestPacket`
    /// (9600 bytes) pass as chains of frames (AF_XDP multi-buffer), as containerlab's default
    /// link MTU of 9500 needs.
    public static let largestMTU = 9500
    /// The largest MTU whose frames fit one frame of `frameSize` after the receive headroom
    /// (4096 - 256 - 18 = 3822 bytes for the switch's 4 KB frames): the limit of a port whose
    /// socket could not be bound for multi-buffer.
    public static func singleFrameMTU(frameSize: Int = FramePool.defaultFrameSize) -> Int {
        frameSize - FramePool.rxHeadroom - ethernetOverhead
    }
    /// The longest frame the switch forwards at this MTU.
    public var maxFrameBytes: Int { mtu + Self.ethernetOverhead }
    /// What the buffers count for that frame: the least a pool, a PG or a headroom must hold
    /// to take one frame of the MTU.
    public var longestFrameCharge: Int { charge(length: maxFrameBytes) }

    /// The bytes one PG of `profile` can hold while the pool is empty: its reserved part plus
    /// what its threshold lets it take from the pool.
    public func emptyPoolCapacity(_ profile: Profile) -> Int {
        profile.reservedBytes + min(poolBytes, max(0, profile.threshold.limit(free: poolBytes)))
    }

    /// What a frame of `length` bytes is charged.
    @inlinable public func charge(length: Int) -> Int { max(length, minimumChargeBytes) }

    /// The rate a port of `speedGbps` (nil: none configured) is sized for during a stall.
    public func stallRate(speedGbps: Double?) -> Double { min(speedGbps ?? stallRateGbps, stallRateGbps) }

    /// Bytes that arrive at such a port during the stall budget.
    public func stallBytes(speedGbps: Double?) -> Int {
        Int((stallRate(speedGbps: speedGbps) * Double(stallBudgetNanoseconds) / 8).rounded(.up))
    }

    /// Frames that arrive at such a port during the stall budget, each counted as at least
    /// `minimumChargeBytes` (smaller frames shorten the stall the rings hold).
    public func stallFrames(speedGbps: Double?) -> Int {
        (stallBytes(speedGbps: speedGbps) + minimumChargeBytes - 1) / minimumChargeBytes
    }

    /// What a software fabric adds to a hardware one's headroom beyond the stall budget: the
    /// time a software NIC on shared cores takes to react (README "Lossless Ethernet" has the
    /// headroom peaks measured).
    public var softwareSlackBytes = 2 * 1024 * 1024

    /// 2 x the bytes in flight on the cable (5 ns/m each way, plus the port's emulated
    /// `delayNanoseconds`, taken to delay the link both ways: an XOFF crosses it once and the
    /// frames the peer had sent meanwhile cross it back) + an MTU being sent + the bytes the
    /// peer sends before it reacts (IEEE 802.1Qbb response delay in pause quanta: 67 at 10G, 80
    /// at 25G, 394 at 100G) + one more MTU (the frame the peer had started), plus what arrives
    /// during a stall of the switch (`stallBytes`) and the software slack. `speedGbps` nil: no
    /// speed configured (PFC timed at 100G, the stall at `stallRateGbps`).
    public func headroom(speedGbps: Double?, delayNanoseconds: UInt64 = 0) -> Int {
        if let h = headroomBytes { return h }
        return hardwareHeadroom(speedGbps: speedGbps ?? 100, delayNanoseconds: delayNanoseconds) + stallBytes(speedGbps: speedGbps) + softwareSlackBytes
    }

    /// The IEEE part alone.
    public func hardwareHeadroom(speedGbps: Double, delayNanoseconds: UInt64 = 0) -> Int {
        let cable = (cableMeters * 5 + Double(delayNanoseconds)) * speedGbps / 8    // bytes on the cable one way
        let quanta: Double = speedGbps <= 10 ? 67 : speedGbps <= 25 ? 80 : 394
        let response = quanta * 512 / 8
        return Int(2 * cable + response) + 2 * (mtu + 38)
    }
}
