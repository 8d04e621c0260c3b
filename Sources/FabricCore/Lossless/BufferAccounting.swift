/// The switch's ingress buffer state (`BufferConfig`'s model) in flat tables indexed by
/// `port * 8 + pg`: bytes held per PG and the parts of it in the shared pool and in headroom,
/// peaks, and the pool's use. The thresholds are unpacked into plain integers once, so
/// admitting a frame is a few loads and compares, no enum switch on the per-packet path.
public struct BufferAccounting: ~Copyable {
    public let portCount: Int
    public let poolBytes: Int
    public var poolUsed = 0
    public var poolWatermark = 0
    /// Per (port, PG): bytes held, of them in shared and in headroom; peaks of held and headroom.
    @usableFromInline let held: UnsafeMutablePointer<Int>
    @usableFromInline let shared: UnsafeMutablePointer<Int>
    @usableFromInline let inHeadroom: UnsafeMutablePointer<Int>
    @usableFromInline let heldPeak: UnsafeMutablePointer<Int>
    @usableFromInline let headroomPeak: UnsafeMutablePointer<Int>
    /// Per port: headroom of each lossless PG.
    @usableFromInline let headroom: UnsafeMutablePointer<Int>
    /// Per PG (0...7): reserved bytes; threshold as a shift of the pool's free bytes
    /// (dynamic) or a fixed byte count (static, `dynamicShift == Int.min`).
    @usableFromInline let reserved: UnsafeMutablePointer<Int>
    @usableFromInline let dynamicShift: UnsafeMutablePointer<Int>
    @usableFromInline let fixedLimit: UnsafeMutablePointer<Int>
    public private(set) var losslessPGs: UInt8
    public let xonOffset: Int

    /// `portSpeedsGbps`: each port's configured speed, nil where none (`BufferConfig.headroom`);
    /// `portDelaysNanoseconds`: each port's emulated propagation delay (none if empty), which
    /// its headroom must cover.
    public init(config: BufferConfig, losslessPGs: UInt8, portSpeedsGbps: [Double?], portDelaysNanoseconds: [UInt64] = []) {
        portCount = portSpeedsGbps.count
        poolBytes = config.poolBytes
        self.losslessPGs = losslessPGs
        xonOffset = config.xonOffsetBytes
        let n = portCount * 8
        held = .filled(with: 0, count: n)
        shared = .filled(with: 0, count: n)
        inHeadroom = .filled(with: 0, count: n)
        heldPeak = .filled(with: 0, count: n)
        headroomPeak = .filled(with: 0, count: n)
        headroom = .filled(with: 0, count: portCount)
        for p in 0..<portCount {
            headroom[p] = config.headroom(speedGbps: portSpeedsGbps[p], delayNanoseconds: p < portDelaysNanoseconds.count ? portDelaysNanoseconds[p] : 0)
        }
        reserved = .filled(with: 0, count: 8)
        dynamicShift = .filled(with: Int.min, count: 8)
        fixedLimit = .filled(with: 0, count: 8)
        setLossless(losslessPGs, config: config)
    }

    /// Which PGs are lossless, and so which profile (reserved bytes, threshold) each PG has.
    /// Live-safe: what a PG holds is credited back by state, not by the profile it was charged
    /// under.
    public mutating func setLossless(_ mask: UInt8, config: BufferConfig) {
        losslessPGs = mask
        for pg in 0..<8 {
            let profile = mask & (1 << UInt8(pg)) != 0 ? config.lossless : config.lossy
            reserved[pg] = profile.reservedBytes
            dynamicShift[pg] = Int.min
            fixedLimit[pg] = 0
            switch profile.threshold {
            case .dynamic(let s): dynamicShift[pg] = s
            case .fixed(let b): fixedLimit[pg] = b
            }
        }
    }

    deinit {
        for p in [held, shared, inHeadroom, heldPeak, headroomPeak, headroom, reserved, dynamicShift, fixedLimit] { p.deallocate() }
    }

    /// Port `p`'s lossless headroom from now on (its speed or delay changed live). Bytes it
    /// holds in headroom above the new size leave as they drain; until then nothing more is
    /// admitted into it.
    public func setHeadroom(port p: Int, bytes: Int) { headroom[p] = bytes }

    @inlinable func isLossless(_ pg: Int) -> Bool { losslessPGs & (1 << UInt8(truncatingIfNeeded: pg)) != 0 }

    /// The shared bytes PG `pg` may hold now.
    @inlinable @inline(__always) func limit(pg: Int) -> Int {
        let s = dynamicShift[pg]
        if s == Int.min { return fixedLimit[pg] }
        let free = poolBytes &- poolUsed
        // |s| < 64 (`dynamicShift` comes from alpha = 2^s): masking shifts, no range checks.
        return s >= 0 ? free &<< s : free &>> (0 &- s)
    }

    /// Where a frame of `bytes` would be held in (port, pg): the parts from the shared pool
    /// and from headroom (the rest fits the PG's reserved space), or nil: it may not be held.
    @inlinable @inline(__always) public func admit(port: Int, pg: Int, bytes: Int) -> (shared: Int, headroom: Int)? {
        let i = port &* 8 &+ pg
        let h = inHeadroom[i], s = shared[i]
        let reservedFree = reserved[pg] &- (held[i] &- s &- h)
        let rest = reservedFree > 0 ? max(0, bytes &- reservedFree) : bytes
        if rest == 0 { return (0, 0) }
        if h == 0 && rest <= poolBytes &- poolUsed && s &+ rest <= limit(pg: pg) { return (rest, 0) }
        guard isLossless(pg), h &+ rest <= headroom[port] else { return nil }
        return (0, rest)
    }

    /// The charge (frame costs summed) that (port, pg) takes now with none of it in headroom:
    /// frames whose costs sum to at most this would each be admitted by `admit`, one after the
    /// other, from the reserved space and then the shared pool, and `chargeRun` of the sum
    /// leaves what their charges one by one would. (The shared parts of such frames sum to the
    /// sum less the reserved space free; the last frame's check is the tightest, as the shared
    /// use only grows and the dynamic threshold only shrinks; this asks it of the whole sum.)
    @inlinable @inline(__always) public func runBudget(port: Int, pg: Int) -> Int {
        let i = port &* 8 &+ pg
        let h = inHeadroom[i], s = shared[i]
        let reservedFree = max(0, reserved[pg] &- (held[i] &- s &- h))
        // Headroom in use: only the reserved space is taken without more of it.
        guard h == 0 else { return reservedFree }
        let room = poolBytes &- poolUsed
        let sh = dynamicShift[pg]
        var most: Int
        if sh == Int.min {
            most = fixedLimit[pg] &- s                               // s + S <= fixed
        } else if sh >= 0 {
            let k = min(sh, 20)                                      // a smaller alpha: fewer bytes
            most = ((room &<< k) &- s) / (1 &+ (1 &<< k))            // s + S <= (room - S) << k
        } else {
            let k = 0 &- sh
            // s + S <= (room - S) >> k; where s * 2^k would not fit an Int it exceeds any room.
            most = k >= 62 || s > Int.max &>> k ? 0 : (room &- (s &<< k)) / (1 &+ (1 &<< k))
        }
        return reservedFree &+ max(0, min(most, room))
    }

    /// Charges frames admitted together within `runBudget` (`bytes`: their costs summed): as
    /// `charge` of each, none of it in headroom.
    @inlinable @inline(__always) public mutating func chargeRun(port: Int, pg: Int, bytes: Int) {
        let i = port &* 8 &+ pg
        let reservedFree = max(0, reserved[pg] &- (held[i] &- shared[i] &- inHeadroom[i]))
        _ = charge(port: port, pg: pg, bytes: bytes, part: (max(0, bytes &- reservedFree), 0))
    }

    /// Charges an admitted frame. Returns true when it went (partly) to headroom: the PG must
    /// be in XOFF.
    @inlinable @inline(__always) public mutating func charge(port: Int, pg: Int, bytes: Int, part: (shared: Int, headroom: Int)) -> Bool {
        let i = port &* 8 &+ pg
        let h = held[i] &+ bytes
        held[i] = h
        if h > heldPeak[i] { heldPeak[i] = h }
        if part.shared > 0 {
            shared[i] &+= part.shared
            poolUsed &+= part.shared
            if poolUsed > poolWatermark { poolWatermark = poolUsed }
        }
        guard part.headroom > 0 else { return false }
        let r = inHeadroom[i] &+ part.headroom
        inHeadroom[i] = r
        if r > headroomPeak[i] { headroomPeak[i] = r }
        return true
    }

    /// Credits a frame that left: headroom first, then shared, then reserved. Returns true
    /// when a PG in XOFF may now send XON: its headroom is empty and its shared use is
    /// `xonOffset` below its threshold (or nothing).
    @inlinable @inline(__always) public mutating func credit(port: Int, pg: Int, bytes: Int) -> Bool {
        release(port: port, pg: pg, bytes: bytes)
        return mayResume(port: port, pg: pg, waiting: 0)
    }

    /// As `credit`, without the XON decision (`mayResume(waiting: 0)` is the same question,
    /// asked only for a PG that is in XOFF).
    @inlinable @inline(__always) public mutating func release(port: Int, pg: Int, bytes: Int) {
        let i = port &* 8 &+ pg
        held[i] &-= bytes
        let h = inHeadroom[i], s = shared[i]
        let fromHeadroom = min(bytes, h)
        inHeadroom[i] = h &- fromHeadroom
        let fromShared = min(bytes &- fromHeadroom, s)
        shared[i] = s &- fromShared
        poolUsed &-= fromShared
    }

    /// True when (port, pg) may resume (XON) with `waiting` more bytes on the way: no headroom
    /// in use, and its shared use plus those bytes `xonOffset` below its threshold (or nothing).
    @inlinable @inline(__always) public func mayResume(port: Int, pg: Int, waiting: Int) -> Bool {
        let i = port &* 8 &+ pg
        let s = shared[i] &+ waiting
        return inHeadroom[i] == 0 && (s == 0 || s &+ xonOffset <= limit(pg: pg))
    }

    // MARK: - Reading (reports, tests)

    public func held(port: Int, pg: Int) -> Int { held[port * 8 + pg] }
    public func shared(port: Int, pg: Int) -> Int { shared[port * 8 + pg] }
    public func headroomUsed(port: Int, pg: Int) -> Int { inHeadroom[port * 8 + pg] }
    public func heldPeak(port: Int, pg: Int) -> Int { heldPeak[port * 8 + pg] }
    public func headroomPeak(port: Int, pg: Int) -> Int { headroomPeak[port * 8 + pg] }
}

extension BufferAccounting {
    /// Peaks start again from what is held now (`fabric ctl clear watermarks`).
    public mutating func resetPeaks(portCount: Int) {
        for i in 0..<(portCount * 8) {
            heldPeak[i] = held[i]
            headroomPeak[i] = inHeadroom[i]
        }
        poolWatermark = poolUsed
    }
}
