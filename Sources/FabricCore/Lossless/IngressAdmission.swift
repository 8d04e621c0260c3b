/// Ingress admission, the lossless half of the switch: every frame that enters an egress queue
/// is charged to its ingress port's priority group (`BufferAccounting`, SONiC's shared-buffer
/// model) until it leaves, and a lossless PG that had to use headroom pauses its sender.
///
/// This stage decides; it sends nothing. `charge` says which priorities to XOFF on the ingress
/// port, `credit` which to XON, `refreshDue` which XOFFs to repeat (every half pause time while
/// the PG stays above XON, so the sender never resumes on a pause that ran out). The datapath
/// builds and queues the 802.1Qbb frames.
///
/// Frames still waiting in a port's receive ring (`rxBacklog`: the worker was away) are not
/// classified yet, so their PG is unknown: they count against every lossless PG of the port,
/// as shared use, for XOFF (sent as soon as the worker sees them) and for XON.
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
    /// Per port: bytes waiting in its receive ring, at least `BufferConfig.minimumChargeBytes`
    /// a frame, as last reported (`rxBacklog`); and that report's frame count.
    @usableFromInline let backlogBytes: UnsafeMutablePointer<Int>
    @usableFromInline let backlogFrames: UnsafeMutablePointer<Int>
    @usableFromInline let minimumCharge: Int
    /// The lossless PGs frames waiting in a receive ring may belong to (they are not classified
    /// yet): the ones `rxBacklog` pauses.
    public var backlogPGs: UInt8

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
        backlogBytes = .filled(with: 0, count: portCount)
        backlogFrames = .filled(with: 0, count: portCount)
        minimumCharge = buffers.minimumChargeBytes
        backlogPGs = lossless
        buffer = BufferAccounting(config: buffers, losslessPGs: lossless, portSpeedsGbps: portSpeedsGbps, portDelaysNanoseconds: portDelaysNanoseconds)
    }

    deinit {
        pgPriorities.deallocate()
        refreshInterval.deallocate()
        xoffSent.deallocate()
        backlogBytes.deallocate()
        backlogFrames.deallocate()
    }

    /// What a frame of `length` bytes is charged (`BufferConfig.charge(length:)`).
    @inlinable public func cost(_ length: UInt32) -> Int { max(Int(length), minimumCharge) }

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
        // Frames waiting in the receive rings count against the new lossless PGs: the next
        // pass looks at every ring again (its count cannot match -1).
        backlogPGs = lossless
        for p in 0..<portCount { backlogFrames[p] = -1 }
        return xon
    }

    /// Port `p`'s speed (PFC refresh timing) and headroom from now on (a live change).
    public func retune(port p: Int, speedGbps: Double?, headroomBytes: Int) {
        refreshInterval[p] = UInt64(65535 * 512 / (speedGbps ?? PauseState.defaultLineRateGbps) / 2)
        buffer.setHeadroom(port: p, bytes: headroomBytes)
    }

    /// Where a frame of `bytes` for (`port`, `pg`) would be held: the parts from the shared
    /// pool and from headroom; nil when it may not be held (`refusal` says why).
    @inlinable @inline(__always) public func admit(port: Int, pg: Int, bytes: Int) -> (shared: Int, headroom: Int)? {
        buffer.admit(port: port, pg: pg, bytes: bytes)
    }

    /// The charge `tag`'s PG takes now with none of it in headroom (`BufferAccounting.runBudget`):
    /// frames within it are admitted, and charged with `chargeRun`, together.
    @inlinable @inline(__always) public func runBudget(_ tag: ChargeTag) -> Int {
        buffer.runBudget(port: tag.ingress, pg: tag.pg)
    }

    /// Charges frames admitted together within `runBudget(tag)`: no XOFF can follow, as none of
    /// it is in headroom.
    @inlinable @inline(__always) public mutating func chargeRun(_ tag: ChargeTag, bytes: Int) {
        guard bytes > 0 else { return }
        buffer.chargeRun(port: tag.ingress, pg: tag.pg, bytes: bytes)
    }

    /// Why `pg` refused a frame: `.headroomOverflow` for a lossless PG (PFC did not stop the
    /// sender in time), `.bufferFull` for a lossy one (tail drop).
    @inlinable public func refusal(pg: Int) -> DropReason {
        losslessPGs & (1 << UInt8(pg & 7)) != 0 ? .headroomOverflow : .bufferFull
    }

    /// Charges an admitted frame to its PG. Returns the priorities to pause on `port` (XOFF), 0
    /// for none: a lossless PG that had to use headroom and is not yet in XOFF.
    @inlinable @inline(__always) public mutating func charge(port: Int, pg: Int, bytes: Int, part: (shared: Int, headroom: Int), now: UInt64) -> UInt8 {
        guard buffer.charge(port: port, pg: pg, bytes: bytes, part: part), xoffSent[port &* 8 &+ pg] == 0 else { return 0 }
        xoffSent[port &* 8 &+ pg] = max(now, 1)
        xoffActive &+= 1
        return pgPriorities[pg]
    }

    /// A frame charged to `tag` left the switch (or was discarded). Returns the priorities to
    /// resume on the tag's ingress port (XON), 0 for none: a PG in XOFF whose headroom emptied
    /// and whose shared use fell `xonOffset` below its threshold.
    @inlinable @inline(__always) public mutating func credit(_ tag: ChargeTag, bytes: Int) -> UInt8 {
        guard tag.isCharged else { return 0 }
        let port = tag.ingress, pg = tag.pg
        buffer.release(port: port, pg: pg, bytes: bytes)
        // Only a PG in XOFF has an XON to decide (`BufferAccounting.credit`'s answer).
        guard xoffSent[port &* 8 &+ pg] != 0, buffer.mayResume(port: port, pg: pg, waiting: 0),
              backlogBytes[port] == 0 || backlogPGs & (1 << UInt8(pg)) == 0
                || buffer.mayResume(port: port, pg: pg, waiting: backlogBytes[port]) else { return 0 }
        xoffSent[port &* 8 &+ pg] = 0
        xoffActive &-= 1
        return pgPriorities[pg]
    }

    /// `credit` of frames charged to one tag that left together (`bytes`: their costs summed),
    /// while no PG is in XOFF (`!anyInXoff`): then no credit sends an XON, and one release of
    /// the sum is the releases of each (headroom first, then shared, then reserved).
    @inlinable @inline(__always) public mutating func creditRun(_ tag: ChargeTag, bytes: Int) {
        guard tag.isCharged else { return }
        buffer.release(port: tag.ingress, pg: tag.pg, bytes: bytes)
    }

    /// `frames` wait in `port`'s receive ring, unclassified. Returns the priorities to pause
    /// (XOFF: a lossless PG not in XOFF that these frames, at their least charge, would push
    /// into headroom) and to resume (XON: a PG in XOFF that may resume with them on the way,
    /// when no frame of its own leaves to say so). Cheap when nothing changed.
    @inlinable public mutating func rxBacklog(port: Int, frames: Int, now: UInt64) -> (xoff: UInt8, xon: UInt8) {
        guard frames != backlogFrames[port] else { return (0, 0) }
        backlogFrames[port] = frames
        let waiting = frames &* minimumCharge
        backlogBytes[port] = waiting
        var xoff: UInt8 = 0, xon: UInt8 = 0
        var pgs = backlogPGs
        while pgs != 0 {
            let pg = pgs.trailingZeroBitCount
            pgs &= pgs &- 1
            let i = port &* 8 &+ pg
            if xoffSent[i] == 0 {
                guard waiting > 0 else { continue }
                if let part = buffer.admit(port: port, pg: pg, bytes: waiting), part.headroom == 0 { continue }
                xoffSent[i] = max(now, 1)
                xoffActive &+= 1
                xoff |= pgPriorities[pg]
            } else if buffer.mayResume(port: port, pg: pg, waiting: waiting) {
                xoffSent[i] = 0
                xoffActive &-= 1
                xon |= pgPriorities[pg]
            }
        }
        return (xoff, xon)
    }

    /// An XOFF for `priorities` on `port` could not be sent: the PGs behind them repeat it at
    /// the next `refreshDue`. (An XON that could not be sent needs nothing: the sender's pause
    /// runs out by itself, within 65535 quanta.)
    @inlinable public mutating func xoffNotSent(port: Int, priorities: UInt8) {
        var pgs = losslessPGs
        while pgs != 0 {
            let pg = pgs.trailingZeroBitCount
            pgs &= pgs &- 1
            let i = port &* 8 &+ pg
            if pgPriorities[pg] & priorities != 0 && xoffSent[i] != 0 { xoffSent[i] = 1 }
        }
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
