/// How many frames the switch's frame memory holds and where they may be, sized so that it
/// cannot run out before the buffer accounting refuses a frame, and so that each port's receive
/// ring holds the stall budget (`BufferConfig.stallBudgetNanoseconds`).
///
/// Every frame is in one place (`FrameLedger`), and each place has a bound:
/// - a port's fill + receive rings (the kernel's receive buffers; the switch keeps at most a
///   ring's worth there, topped up a batch at a time): `rxRing[p]`, at least the stall budget's
///   frames at the port's stall rate plus one batch;
/// - a port's transmit + completion rings: `2 x txRing`;
/// - the egress queues: every frame queued there is charged to an ingress PG, at least
///   `minimumChargeBytes`, and the PGs together may hold at most the shared pool, their reserved
///   bytes and the lossless PGs' headroom: `queued` = that / `minimumChargeBytes` (a jumbo
///   frame in a chain of k 4 KB frames has more than (k-1) x 3840 bytes, so is charged at least
///   k x 1 KB: its k frames are within the bound too);
/// - frames the switch makes or parks: its PFC (`EgressPort.controlCapacity` per port, kept
///   back in the pool as a reserve only PFC may take), ARP/ND requests (one batch per port) and
///   frames waiting for a next hop (`PendingQueue`);
/// - the batch being forwarded;
/// - frames on a port's emulated wire (its delay line, `PortConfig.delayLineFrames`): no longer
///   charged to a PG, still in the frame memory.
public struct FrameBudget: Sendable, Equatable {
    /// Per port: entries of its fill and receive rings (a power of two).
    public var rxRing: [Int]
    /// Per port: frames of the stall budget the receive ring holds (`rxRing` minus a batch).
    public var stallFrames: [Int]
    /// Entries of every port's transmit and completion rings.
    public var txRing: Int
    /// Frames the ingress PGs may hold in the egress queues.
    public var queued: Int
    /// The pool's reserve: the switch's PFC frames.
    public var reserve: Int
    /// ARP/ND requests, frames parked for a next hop, the batch in flight.
    public var other: Int
    /// Frames the ports' emulated wires (delay lines) hold at most.
    public var wire: Int
    /// Frames each lossless egress queue holds (a power of two, at least `queued`).
    public var losslessQueueCapacity: Int
    /// Bit q: egress queue q carries a lossless traffic class.
    public var losslessQueues: UInt8
    /// Per port: headroom of each of its lossless PGs; and how many lossless PGs a port has.
    public var headroom: [Int]
    public var losslessPGs: Int

    /// The most frames a switch allocates (4 GiB of 4 KB frames, pinned: the kernel counts
    /// UMEM frames in 32 bits, the machine's memory runs out long before).
    public static let maxFrames = 1 << 20
    /// The most frames a configuration may need by itself (its PGs, headroom, wires and stall
    /// rings at the smallest ring size): half of `maxFrames`, the rest for the rings
    /// `--ring-size` asks for. `config check` refuses more.
    public static let maxConfigFrames = maxFrames / 2
    /// The most frames one jumbo frame takes (`FramePool.largestPacket` in 4 KB frames after the
    /// receive headroom).
    public static let jumboFrames = (FramePool.largestPacket + FramePool.defaultFrameSize - FramePool.rxHeadroom - 1)
        / (FramePool.defaultFrameSize - FramePool.rxHeadroom)

    /// Frames of the whole memory.
    public var total: Int { rxRing.reduce(0, +) + rxRing.count * 2 * txRing + outsideRings }
    /// Frames outside the kernel's rings: queued, reserved, the switch's own and parked ones.
    public var outsideRings: Int { queued + reserve + other + wire }

    /// `ringSize`: transmit and completion ring entries, and the least receive ring;
    /// `pendingCapacity`: frames the router parks for a next hop.
    public init(config: SwitchConfig, ringSize: Int, batchSize: Int, pendingCapacity: Int = PendingQueue.defaultCapacity) {
        let b = config.buffers
        let ports = config.ports
        let speeds = ports.map(\.speedGbps)
        func pow2(_ n: Int) -> Int { n <= 1 ? 1 : 1 << (Int.bitWidth - (n - 1).leadingZeroBitCount) }
        stallFrames = speeds.map { b.stallBudgetNanoseconds == 0 ? 0 : b.stallFrames(speedGbps: $0) }
        rxRing = stallFrames.map { max(ringSize, pow2($0 + batchSize)) }
        stallFrames = rxRing.map { $0 - batchSize }
        txRing = ringSize
        // PGs frames can be charged to: any a traffic class maps to (the bridge classifies too).
        let qos = config.qos
        let classes = Array(0..<8)
        var reachable: UInt8 = 0, losslessMask: UInt8 = 0, queues: UInt8 = 0
        for tc in classes {
            let pg = Int(qos.tcToPriorityGroup[tc] & 7)
            reachable |= 1 << UInt8(pg)
            if qos.losslessTCs & (1 << UInt8(tc)) != 0 {
                losslessMask |= 1 << UInt8(pg)
                queues |= 1 << UInt8(qos.tcToQueue[tc] & 7)
            }
        }
        losslessQueues = queues
        losslessPGs = losslessMask.nonzeroBitCount
        headroom = ports.map { b.headroom(speedGbps: $0.speedGbps, delayNanoseconds: $0.delayNanoseconds) }
        let lossy = (reachable & ~losslessMask).nonzeroBitCount
        var chargeable = b.poolBytes
        for p in ports.indices {
            chargeable += losslessPGs * (b.lossless.reservedBytes + headroom[p]) + lossy * b.lossy.reservedBytes
        }
        queued = (chargeable + b.minimumChargeBytes - 1) / b.minimumChargeBytes
        losslessQueueCapacity = losslessQueues == 0 ? 0 : pow2(queued)
        reserve = ports.count * EgressPort.controlCapacity
        other = ports.count * batchSize + pendingCapacity + batchSize
        // A shaped port's line is sized by minimum-size frames, so jumbo frames (each a chain
        // of up to `jumboFrames` frames) fill it by bytes long before by entries; an unshaped
        // port's line holds a fixed number of entries, each possibly a jumbo chain.
        wire = ports.reduce(0) { $0 + ($1.speedGbps == nil ? $1.delayLineFrames * Self.jumboFrames : $1.delayLineFrames) }
    }
}
