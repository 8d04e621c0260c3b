/// Ingress admission, the lossless half of the switch: every frame that enters an egress queue
/// is charged to its ingress port's priority group (`BufferAccounting`, SONiC's shared-buffer
/// model) until it leaves, and a lossless PG that had to use headroom pauses its sender.
///
/// This stage decides; it sends nothing. `charge` says which priorities to XOFF on the ingress
/// port, `credit` which to XON, `refreshDue` which XOFFs to repeat (every half pause time while
/// the PG stays above XON, so the sender never resumes on a pause that ran out). The datapath
/// builds and queues the 802.1Qbb frames.
public struct IngressAdmission: ~Copyable {
    public var buffer: BufferAccounting
    public let portCount: Int
    /// Bit pg set: the PG is lossless.
    @inlinable public var losslessPGs: UInt8 { buffer.losslessPGs }
    /// Per PG: the lossless priorities (TCs) its PFC frames pause.
    @usableFromInline let pgPriorities: UnsafeMutablePointer<UInt8>
    /// Per port: half of a 0xFFFF-quanta pause at the port's speed.
    @usableFromInline let refreshInterval: UnsafeMutablePointer<UInt64>
    /// [port * 8 + pg]: when the PG's XOFF was last sent, 0 while not in XOFF.
    @usableFromInline let xoffSent: UnsafeMutablePointer<UInt64>
    @usableFromInline var xoffActive = 0

    /// `qos` gives the PGs and which are lossless; `portSpeedsGbps` the speed PFC quanta are
    /// timed at (100 Gb/s for a port without an emulated speed); `portDelaysNanoseconds` the
    /// ports' emulated propagation delays (their headroom covers the round trip).
    public init(buffers: BufferConfig, qos: QoSMaps, portSpeedsGbps: [Double?], portDelaysNanoseconds: [UInt64] = []) {
        portCount = portSpeedsGbps.count
        var lossless: UInt8 = 0
        pgPriorities = .filled(with: 0, count: 8)
        for tc in 0..<8 where qos.losslessTCs & (1 << UInt8(tc)) != 0 {
            let pg = Int(qos.tcToPriorityGroup[tc] & 7)
            lossless |= 1 << UInt8(pg)
            pgPriorities[pg] |= 1 << UInt8(tc)
        }
        let speeds = portSpeedsGbps.map { $0 ?? PauseState.defaultLineRateGbps }
        refreshInterval = .filled(with: 0, count: portCount)
        for p in 0..<portCount { refreshInterval[p] = UInt64(65535 * 512 / speeds[p] / 2) }
        xoffSent = .filled(with: 0, count: portCount * 8)
        buffer = BufferAccounting(config: buffers, losslessPGs: lossless, portSpeedsGbps: speeds, portDelaysNanoseconds: portDelaysNanoseconds)
    }

    deinit {
        pgPriorities.deallocate()
        refreshInterval.deallocate()
        xoffSent.deallocate()
    }

    /// New QoS maps from now on (a live change): which PGs are lossless and which priorities
    /// each pauses. Every XOFF in force is released first: returns, per port, the priorities
    /// to send XON for (the old ones). A PG still lossless and above its threshold pauses again
    /// with its next frame into headroom.
    public mutating func setQoS(_ qos: QoSMaps, buffers: BufferConfig) -> [UInt8] {
        var xon = [UInt8](repeating: 0, count: portCount)
        for p in 0..<portCount {
            for pg in 0..<8 where xoffSent[p * 8 + pg] != 0 {
                xon[p] |= pgPriorities[pg]
                xoffSent[p * 8 + pg] = 0
            }
        }
        xoffActive = 0
        var lossless: UInt8 = 0
        for pg in 0..<8 { pgPriorities[pg] = 0 }
        for tc in 0..<8 where qos.losslessTCs & (1 << UInt8(tc)) != 0 {
            let pg = Int(qos.tcToPriorityGroup[tc] & 7)
            lossless |= 1 << UInt8(pg)
            pgPriorities[pg] |= 1 << UInt8(tc)
        }
        buffer.setLossless(lossless, config: buffers)
        return xon
    }

    /// Port `p`'s speed (PFC refresh timing) and headroom from now on (a live change).
    public func retune(port p: Int, speedGbps: Double?, headroomBytes: Int) {
        refreshInterval[p] = UInt64(65535 * 512 / (speedGbps ?? PauseState.defaultLineRateGbps) / 2)
        buffer.setHeadroom(port: p, bytes: headroomBytes)
    }

    /// Where a frame of `bytes` for (`port`, `pg`) would be held: the parts from the shared
    /// pool and from headroom; nil when it may not be held (`refusal` says why).
    @inlinable public func admit(port: Int, pg: Int, bytes: Int) -> (shared: Int, headroom: Int)? {
        buffer.admit(port: port, pg: pg, bytes: bytes)
    }

    /// Why `pg` refused a frame: `.headroomOverflow` for a lossless PG (PFC did not stop the
    /// sender in time), `.bufferFull` for a lossy one (tail drop).
    @inlinable public func refusal(pg: Int) -> DropReason {
        losslessPGs & (1 << UInt8(pg & 7)) != 0 ? .headroomOverflow : .bufferFull
    }

    /// Charges an admitted frame to its PG. Returns the priorities to pause on `port` (XOFF), 0
    /// for none: a lossless PG that had to use headroom and is not yet in XOFF.
    @inlinable public mutating func charge(port: Int, pg: Int, bytes: Int, part: (shared: Int, headroom: Int), now: UInt64) -> UInt8 {
        guard buffer.charge(port: port, pg: pg, bytes: bytes, part: part), xoffSent[port &* 8 &+ pg] == 0 else { return 0 }
        xoffSent[port &* 8 &+ pg] = max(now, 1)
        xoffActive &+= 1
        return pgPriorities[pg]
    }

    /// A frame charged to `tag` left the switch (or was discarded). Returns the priorities to
    /// resume on the tag's ingress port (XON), 0 for none: a PG in XOFF whose headroom emptied
    /// and whose shared use fell `xonOffset` below its threshold.
    @inlinable public mutating func credit(_ tag: ChargeTag, bytes: Int) -> UInt8 {
        guard tag.isCharged else { return 0 }
        let port = tag.ingress, pg = tag.pg
        guard buffer.credit(port: port, pg: pg, bytes: bytes), xoffSent[port &* 8 &+ pg] != 0 else { return 0 }
        xoffSent[port &* 8 &+ pg] = 0
        xoffActive &-= 1
        return pgPriorities[pg]
    }

    /// True while some PG is in XOFF (then `refreshDue` is worth asking, once per PG).
    @inlinable public var anyInXoff: Bool { xoffActive > 0 }

    /// The priorities whose XOFF (`port`, `pg`) must repeat at `now`, 0 for none; a repeat is
    /// recorded as sent.
    @inlinable public mutating func refreshDue(port: Int, pg: Int, now: UInt64) -> UInt8 {
        let sent = xoffSent[port &* 8 &+ pg]
        guard sent != 0 && now &- sent >= refreshInterval[port] else { return 0 }
        xoffSent[port &* 8 &+ pg] = now
        return pgPriorities[pg]
    }

    /// True while (`port`, `pg`) is in XOFF.
    public func inXoff(port: Int, pg: Int) -> Bool { xoffSent[port * 8 + pg] != 0 }
}
