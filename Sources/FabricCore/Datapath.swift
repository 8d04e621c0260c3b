#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import FabricPacket
import FabricSystem

/// The switch's data plane without any I/O: the frame pool over one shared UMEM, one egress
/// queue per port, per-port counters and the pipeline. The I/O layer hands it batches of
/// received frames (`forward`) and takes frames for transmission out of `queues`.
///
/// Invariant (checked by `FrameLedger`): every UMEM frame is free in `pool`, queued in one of
/// `queues`, or owned by the I/O layer's kernel rings.
public struct Datapath: ~Copyable {
    public let portCount: Int
    /// Base of the UMEM area; frame `addr` lives at `frames + addr`.
    public let frames: UnsafeMutableRawPointer
    public var pool: FramePool
    public let mode: ForwardingMode
    public var bridge: L2Bridge
    public var router: Router<AdaptivePathSelector>
    /// Egress quality per port, read by the router's flowlet and spray selectors.
    public var load: PortLoad
    public var pending = PendingQueue()
    public let ecn: ECNConfig
    public let pfcWatchdog: PFCWatchdogConfig
    // Ingress buffer accounting (per port x priority group) and the PFC the switch sends.
    public let buffers: BufferConfig
    @usableFromInline let tcToPG: UnsafeMutablePointer<UInt8>
    @usableFromInline let losslessPGs: UInt8
    /// Per priority group: the lossless priorities (TCs) it pauses.
    @usableFromInline let pgPriorities: UnsafeMutablePointer<UInt8>
    @usableFromInline let refreshInterval: UnsafeMutablePointer<UInt64> // per port: half a 0xFFFF pause
    @usableFromInline let xoffSent: UnsafeMutablePointer<UInt64>       // [port*8+pg]: when, 0 = not paused
    @usableFromInline var xoffActive = 0
    /// Ingress buffer state: per (port, PG) occupancy, the shared pool, headroom.
    public var buffer: BufferAccounting
    /// xorshift64* state for ECN marking decisions (no syscall, no lock).
    @usableFromInline var rng: UInt64 = 0x9E37_79B9_7F4A_7C15
    /// Per port: 8 egress queues, their scheduler and the emulated line rate.
    public let queues: UnsafeMutablePointer<EgressPort>
    /// Traffic class -> egress queue (from the QoS maps).
    @usableFromInline let tcToQueue: UnsafeMutablePointer<UInt8>
    public let counters: UnsafeMutablePointer<PortCounters>
    public let inService: UnsafeMutablePointer<Bool>

    /// A learning bridge.
    public init(portCount: Int, frames: UnsafeMutableRawPointer, pool: consuming FramePool,
                bridge: consuming L2Bridge, queueCapacity: Int) {
        let config = SwitchConfig(mode: .bridge, ports: (0..<portCount).map { PortConfig(name: "p\($0)") })
        self.init(config: config, portMACs: [MACAddress](repeating: MACAddress(rawValue: 0), count: portCount),
                  frames: frames, pool: pool, bridge: bridge, queueCapacity: queueCapacity)
    }

    /// The forwarding mode and pipeline `config` asks for; `portMACs` are the ports' own MACs.
    public init(config: SwitchConfig, portMACs: [MACAddress], frames: UnsafeMutableRawPointer, pool: consuming FramePool,
                bridge: consuming L2Bridge = L2Bridge(table: MACTable()), queueCapacity: Int) {
        let portCount = config.ports.count
        precondition(portCount > 0 && portCount < Int(Verdict.dropBase))
        self.portCount = portCount
        self.frames = frames
        self.pool = pool
        mode = config.mode
        ecn = config.ecn
        pfcWatchdog = config.pfcWatchdog
        buffers = config.buffers
        tcToPG = .allocate(capacity: 8)
        tcToPG.initialize(from: config.qos.tcToPriorityGroup.map { $0 & 7 }, count: 8)
        var lossless: UInt8 = 0
        pgPriorities = .filled(with: 0, count: 8)
        for tc in 0..<8 where config.qos.losslessTCs & (1 << UInt8(tc)) != 0 {
            let pg = Int(config.qos.tcToPriorityGroup[tc] & 7)
            lossless |= 1 << UInt8(pg)
            pgPriorities[pg] |= 1 << UInt8(tc)
        }
        losslessPGs = lossless
        refreshInterval = .allocate(capacity: portCount)
        for p in 0..<portCount {
            let speed = config.ports[p].speedGbps ?? 100
            refreshInterval[p] = UInt64(65535 * 512 / speed / 2)
        }
        buffer = BufferAccounting(config: config.buffers, losslessPGs: lossless, portSpeedsGbps: config.ports.map { $0.speedGbps ?? 100 })
        xoffSent = .filled(with: 0, count: portCount * 8)
        self.bridge = bridge
        let portLoad = PortLoad(portSpeedsGbps: config.ports.map(\.speedGbps), timeConstantNanoseconds: 16 * config.loadBalancing.flowletIdleNanoseconds)
        router = Router(config: config, portMACs: portMACs,
                        selector: AdaptivePathSelector(load: portLoad, tableSize: config.loadBalancing.flowletTableSize,
                                                       idleNanoseconds: config.loadBalancing.flowletIdleNanoseconds))
        load = portLoad
        queues = .allocate(capacity: portCount)
        counters = .allocate(capacity: portCount)
        inService = .allocate(capacity: portCount)
        tcToQueue = .allocate(capacity: 8)
        tcToQueue.initialize(from: config.qos.tcToQueue.map { $0 & 7 }, count: 8)
        for p in 0..<portCount {
            (queues + p).initialize(to: EgressPort(capacity: queueCapacity, strictMask: config.qos.strictQueues,
                                                   weights: config.qos.etsWeights, lineRateGbps: config.ports[p].speedGbps))
            (counters + p).initialize(to: PortCounters())
            (inService + p).initialize(to: true)
        }
    }

    deinit {
        queues.deinitialize(count: portCount)
        queues.deallocate()
        tcToQueue.deallocate()
        tcToPG.deallocate()
        pgPriorities.deallocate()
        refreshInterval.deallocate()
        xoffSent.deallocate()
        counters.deallocate()
        inService.deallocate()
    }

    /// Frames currently held in egress queues.
    public var queuedFrames: Int {
        var n = 0
        for p in 0..<portCount { n += queues[p].count }
        return n
    }

    /// Runs the pipeline over a received batch and moves every frame into an egress queue or
    /// back to the pool. Afterwards the batch owns no frames.
    public mutating func forward(_ batch: inout Batch) {
        let ingress = batch.ingress
        var rxBytes: UInt64 = 0
        for i in 0..<batch.count { rxBytes &+= UInt64(batch.len[i]) }
        counters[ingress].rxFrames &+= UInt64(batch.count)
        counters[ingress].rxBytes &+= rxBytes

        switch mode {
        case .bridge:
            batch.tc.update(repeating: 0, count: batch.count)  // one class until the bridge classifies
            batch.ipVersion.update(repeating: 0, count: batch.count)
            bridge.process(&batch, frames: UnsafeRawPointer(frames))
        case .router: router.process(&batch, frames: frames, counters: counters)
        }
        dispatch(&batch)
        batch.count = 0
        if router.learnedNeighbour {
            router.learnedNeighbour = false
            releasePending(now: batch.timestamp)
        }
    }

    @usableFromInline mutating func dispatch(_ batch: inout Batch) {
        let ingress = batch.ingress
        for i in 0..<batch.count {
            let verdict = batch.verdict[i]
            let addr = batch.addr[i]
            let len = batch.len[i]
            let queue = Int(tcToQueue[Int(batch.tc[i] & 7)])
            let pg = Int(tcToPG[Int(batch.tc[i] & 7)])
            if let port = verdict.portIndex {
                // ECN decides on the depth the frame finds, and marks it once it is queued (a
                // frame tail-dropped is not counted as marked).
                let mark = ecn.queues & (1 << UInt8(queue)) != 0 && batch.ipVersion[i] != 0 && shouldMark(port: port, queue: queue)
                if enqueue(addr: addr, len: len, port: port, queue: queue, ingress: ingress, pg: pg, now: batch.timestamp) && mark {
                    markECN(addr: addr, l3: Int(batch.l3Offset[i]), version: batch.ipVersion[i], port: port, queue: queue)
                }
            } else if verdict.isFlood {
                flood(addr: addr, len: len, ingress: ingress, queue: queue, pg: pg, now: batch.timestamp)
            } else if verdict.isConsume {
                counters[ingress].consumed &+= 1
                macControl(addr: addr, len: len, port: ingress, now: batch.timestamp)
                pool.release(addr)
            } else if verdict.isHold {
                if batch.holdIsV6[i] {
                    hold6(addr: addr, len: len, port: Int(batch.holdPort[i]), nextHop: batch.holdNextHop6[i], queue: queue, ingress: ingress, pg: pg, now: batch.timestamp)
                } else {
                    hold(addr: addr, len: len, port: Int(batch.holdPort[i]), nextHop: batch.holdNextHop[i], queue: queue, ingress: ingress, pg: pg, now: batch.timestamp)
                }
            } else {
                // Only drop verdicts are left; `?? .runt` cannot be taken.
                let reason = verdict.dropReason ?? .runt
                counters[ingress].drops[reason] &+= 1
                if reason == .linkLocal { macControl(addr: addr, len: len, port: ingress, now: batch.timestamp) }
                pool.release(addr)
            }
        }
    }

    /// Queues a frame on `port`; false (frame released, drop counted) when it cannot. Frames
    /// that came in on a port (`ingress` >= 0) are charged to its priority group `pg` until
    /// they leave; frames the switch made (ingress -1) are not.
    @inline(__always) @discardableResult
    mutating func enqueue(addr: UInt64, len: UInt32, port: Int, queue: Int = 0, ingress: Int = -1, pg: Int = 0, now: UInt64 = 0) -> Bool {
        guard inService[port] else {
            counters[port].drops[.portDown] &+= 1
            pool.release(addr)
            return false
        }
        if queues[port].stormed != 0 && queues[port].stormed & (1 << UInt8(queue)) != 0 && pfcWatchdog.action == .drop {
            counters[port].pfcwdDropped[queue] &+= 1
            pool.release(addr)
            return false
        }
        var tag = FrameQueue.untagged
        var part = (shared: 0, headroom: 0)
        if ingress >= 0 {
            guard let p = buffer.admit(port: ingress, pg: pg, bytes: Int(len)) else {
                counters[ingress].drops[losslessPGs & (1 << UInt8(pg)) != 0 ? .headroomOverflow : .bufferFull] &+= 1
                pool.release(addr)
                return false
            }
            part = p
            tag = UInt16(ingress) << 3 | UInt16(pg)
        }
        if !queues[port].enqueue(addr: addr, len: len, queue: queue, tag: tag, stamp: now) {
            counters[port].drops[.queueFull] &+= 1
            pool.release(addr)
            return false
        }
        if ingress >= 0 { charge(ingress: ingress, pg: pg, bytes: Int(len), part: part, now: now) }
        return true
    }

    /// Adds an admitted frame to its ingress PG; a lossless PG that had to use headroom pauses
    /// its sender (XOFF on the ingress port for the PG's priorities).
    @inline(__always) mutating func charge(ingress: Int, pg: Int, bytes: Int, part: (shared: Int, headroom: Int), now: UInt64) {
        if buffer.charge(port: ingress, pg: pg, bytes: bytes, part: part) && xoffSent[ingress * 8 + pg] == 0 {
            sendPFC(port: ingress, priorities: pgPriorities[pg], quanta: 0xFFFF, now: now)
            xoffSent[ingress * 8 + pg] = max(now, 1)
            xoffActive += 1
        }
    }

    /// A frame charged to `tag` left the switch (or was discarded): credit its PG; a lossless
    /// PG in XOFF that may resume (`BufferAccounting.credit`) lets its sender go.
    @inline(__always) mutating func credit(tag: UInt16, bytes: Int, now: UInt64 = 0) {
        guard tag != FrameQueue.untagged else { return }
        let ingress = Int(tag >> 3), pg = Int(tag & 7)
        if buffer.credit(port: ingress, pg: pg, bytes: bytes) && xoffSent[ingress * 8 + pg] != 0 {
            sendPFC(port: ingress, priorities: pgPriorities[pg], quanta: 0, now: now)
            xoffSent[ingress * 8 + pg] = 0
            xoffActive -= 1
        }
    }

    /// Builds an 802.1Qbb frame for `priorities` and puts it on `port`'s control queue. An
    /// XOFF carries `now` (when the PG crossed its threshold) past its 60 bytes, in the unused
    /// rest of its UMEM frame, so the transmit side can measure the PFC reaction time.
    mutating func sendPFC(port: Int, priorities: UInt8, quanta: UInt16, now: UInt64 = 0) {
        guard inService[port], let fresh = pool.allocate() else { return }
        let f = frames + Int(fresh)
        for p in 0..<8 where priorities & (1 << UInt8(p)) != 0 { counters[port].pfcTx[p] &+= 1 }
        let n = PFCBuilder.write(into: f, source: router.mac(port: port), priorities: priorities, quanta: quanta)
        f.storeBytes(of: quanta > 0 ? now : 0, toByteOffset: Self.pfcStampOffset, as: UInt64.self)
        if !queues[port].control.enqueue(addr: fresh, len: UInt32(n), tag: Self.pfcTag) { pool.release(fresh) }
    }

    /// The tag of the switch's own PFC frames on a control queue, and where their stamp lives.
    @usableFromInline static let pfcTag: UInt16 = 0xFFFE
    @usableFromInline static let pfcStampOffset = 64

    /// Samples every port's egress load for the load-aware selectors (run loop, per iteration;
    /// a compare unless a sample interval has passed).
    @inline(__always) public mutating func sampleLoad(now: UInt64) {
        guard now &- load.lastSample >= PortLoad.interval else { return }
        let c = counters, q = queues
        load.sample(now: now, txBytes: { c[$0].txBytes }, queuedBytes: { q[$0].queuedBytes })
    }

    /// Re-sends XOFF for PGs still above XON every half pause time (run loop, per iteration;
    /// nothing to do unless some PG is in XOFF).
    public mutating func refreshPFC(now: UInt64) {
        guard xoffActive > 0 else { return }
        for port in 0..<portCount {
            for pg in 0..<8 {
                let sent = xoffSent[port * 8 + pg]
                if sent != 0 && now &- sent >= refreshInterval[port] {
                    sendPFC(port: port, priorities: pgPriorities[pg], quanta: 0xFFFF, now: now)
                    xoffSent[port * 8 + pg] = now
                }
            }
        }
    }

    /// The next frame `port` may transmit at `now` (control first, then the scheduler within
    /// pauses and the line rate), with its buffer charge released.
    @inline(__always)
    public mutating func dequeueForTransmit(port: Int, now: UInt64) -> (addr: UInt64, len: UInt32)? {
        guard let f = queues[port].dequeueTagged(now: now) else { return nil }
        if f.tag == Self.pfcTag {
            pfcSent(port: port, addr: f.addr)
        } else {
            credit(tag: f.tag, bytes: Int(f.len), now: now)
        }
        return (f.addr, f.len)
    }

    /// An XOFF leaves for the wire: its reaction time is from the PG's threshold crossing (the
    /// batch's receive time) to now, on a fresh clock read (rare: once per XOFF).
    @inline(never) mutating func pfcSent(port: Int, addr: UInt64) {
        let stamp = (frames + Int(addr)).load(fromByteOffset: Self.pfcStampOffset, as: UInt64.self)
        guard stamp != 0 else { return }
        let t = monotonicNanoseconds()
        let reaction = t > stamp ? t - stamp : 0
        counters[port].pfcReactions &+= 1
        counters[port].pfcReactionTotalNanoseconds &+= reaction
        if reaction > counters[port].pfcReactionMaxNanoseconds { counters[port].pfcReactionMaxNanoseconds = reaction }
    }

    /// Sends the frame to every in-service port but `ingress`: copies for all but the last
    /// target, which takes the original frame (so a flood to one port copies nothing).
    @usableFromInline mutating func flood(addr: UInt64, len: UInt32, ingress: Int, queue: Int = 0, pg: Int = 0, now: UInt64 = 0) {
        var last = -1
        for p in 0..<portCount where p != ingress && inService[p] {
            if last >= 0 { copy(addr: addr, len: len, to: last, queue: queue, ingress: ingress, pg: pg, now: now) }
            last = p
        }
        if last >= 0 {
            enqueue(addr: addr, len: len, port: last, queue: queue, ingress: ingress, pg: pg, now: now)
        } else {
            counters[ingress].drops[.noEgress] &+= 1
            pool.release(addr)
        }
    }

    @inline(__always) mutating func copy(addr: UInt64, len: UInt32, to port: Int, queue: Int, ingress: Int, pg: Int, now: UInt64) {
        guard let fresh = pool.allocate() else {
            counters[port].drops[.noBuffer] &+= 1
            return
        }
        // Keep the offset inside the frame (headroom) so the copy looks like the original.
        let target = fresh + addr % UInt64(pool.frameSize)
        memcpy(frames + Int(target), frames + Int(addr), Int(len))
        counters[port].floodCopies &+= 1
        enqueue(addr: target, len: len, port: port, queue: queue, ingress: ingress, pg: pg, now: now)
    }

    // MARK: - PFC in, ECN (lossless Ethernet)

    /// The PFC watchdog pass (housekeeping, every 100 ms): declare storms on queues paused
    /// without a break for the detection time while holding frames, apply the action, and
    /// restore queues that saw no XOFF for the restoration time.
    public mutating func runPFCWatchdog(now: UInt64) {
        guard pfcWatchdog.enabled else { return }
        for p in 0..<portCount where inService[p] {
            for q in 0..<EgressPort.queueCount {
                let bit = UInt8(1) << UInt8(q)
                if queues[p].stormed & bit == 0 {
                    guard queues[p].continuousPause(queue: q, now: now) >= pfcWatchdog.detectionNanoseconds,
                          queues[p].depth(queue: q).frames > 0 else { continue }
                    queues[p].stormed |= bit
                    counters[p].pfcwdStorms[q] &+= 1
                    counters[p].pfcwdDetectedAfter[q] = queues[p].continuousPause(queue: q, now: now)
                    switch pfcWatchdog.action {
                    case .drop:
                        queues[p].ignorePauses |= bit
                        queues[p].clearPause(queue: q, now: now)
                        while let f = queues[p].removeOldest(queue: q) {
                            credit(tag: f.tag, bytes: Int(f.len))
                            pool.release(f.addr)
                            counters[p].pfcwdDropped[q] &+= 1
                        }
                    case .forward:
                        queues[p].ignorePauses |= bit
                        queues[p].clearPause(queue: q, now: now)
                    case .alert:
                        break
                    }
                } else if now &- queues[p].lastXoff[q] >= pfcWatchdog.restorationNanoseconds {
                    queues[p].stormed &= ~bit
                    queues[p].ignorePauses &= ~bit
                    counters[p].pfcwdRestored[q] &+= 1
                }
            }
        }
    }

    /// The egress queue PFC priority `priority` pauses (priority n = traffic class n).
    public func queueForPriority(_ priority: Int) -> Int { Int(tcToQueue[priority & 7]) }

    /// A MAC Control frame arrived on `port`: an 802.1Qbb PFC frame pauses (or resumes) that
    /// port's egress queues of the enabled priorities; a PAUSE is counted, not honoured.
    @usableFromInline mutating func macControl(addr: UInt64, len: UInt32, port: Int, now: UInt64) {
        let f = UnsafeRawPointer(frames + Int(addr))
        let info = FrameParser.parse(f, length: Int(len))
        if info.kind == .pause { counters[port].pauseRx &+= 1; return }
        guard info.kind == .pfc, let mc = MACControlView(f + Int(info.l3Offset), available: Int(len) - Int(info.l3Offset)) else { return }
        let vector = mc.classEnableVector
        for priority in 0..<8 where vector & (1 << UInt8(priority)) != 0 {
            counters[port].pfcRx[priority] &+= 1
            let q = Int(tcToQueue[priority])
            if queues[port].pause(queue: q, quanta: mc.pauseTime(priority: priority), now: now) {
                counters[port].pfcXonTransitions[priority] &+= 1
            }
        }
    }

    /// ECN (DCQCN-style WRED) on the way into queue `queue` of `port`: mark ECT packets CE
    /// with the probability the queue's depth gives. Only the ECN bits change (the IPv4
    /// checksum incrementally); the RoCEv2 ICRC masks them.
    /// The random decision: mark with the probability the queue's current depth gives.
    @inline(__always) @usableFromInline
    mutating func shouldMark(port: Int, queue: Int) -> Bool {
        let p = ecn.probability(depth: queues[port].depth(queue: queue).bytes)
        guard p > 0 else { return false }
        if p >= 1 { return true }
        rng ^= rng >> 12
        rng ^= rng << 25
        rng ^= rng >> 27
        let draw = Double((rng &* 0x2545_F491_4F6C_DD1D) >> 11) / Double(1 << 53)
        return draw < p
    }

    /// Sets CE on an ECT packet (Not-ECT packets are left alone) and counts it.
    @inline(__always) @usableFromInline
    mutating func markECN(addr: UInt64, l3: Int, version: UInt8, port: Int, queue: Int) {
        let ip = frames + Int(addr) + l3
        if version == 4 {
            let ecnBits = ip.load(fromByteOffset: 1, as: UInt8.self) & 3
            guard ecnBits == 1 || ecnBits == 2 else { return }
            Rewrite.setIPv4ECN(ip, 3)
        } else {
            let tc = UInt8(truncatingIfNeeded: UInt16(bigEndian: ip.loadUnaligned(as: UInt16.self)) >> 4)
            guard tc & 3 == 1 || tc & 3 == 2 else { return }
            Rewrite.setIPv6ECN(ip, 3)
        }
        counters[port].ecnMarked[queue] &+= 1
    }

    // MARK: - Next-hop resolution (router mode)

    /// Parks a routed frame until ARP resolves its next hop, asking if nobody asked lately.
    @usableFromInline mutating func hold(addr: UInt64, len: UInt32, port: Int, nextHop: UInt32, queue: Int = 0, ingress: Int = -1, pg: Int = 0, now: UInt64) {
        guard inService[port], pending.add(addr: addr, len: len, port: UInt16(port), nextHop: nextHop, queue: queue, ingress: ingress, pg: pg, now: now) else {
            counters[port].drops[inService[port] ? .pendingFull : .portDown] &+= 1
            pool.release(addr)
            return
        }
        if router.neighbours.shouldRequest(nextHop, now: now) {
            sendARPRequest(port: port, target: nextHop)
        }
    }

    /// Asks for every route next hop the switch has not resolved (run loop, every housekeeping
    /// tick), as routers resolve the gateways of their routes before traffic needs them: a
    /// burst to an unresolved next hop would otherwise wait in, and overflow, the pending
    /// queue (measured: 64 `pending_full` drops at a spine when a leaf-spine collective began).
    public mutating func resolveNextHops(now: UInt64) {
        guard mode == .router else { return }
        for hop in router.fib.nextHops {
            guard inService[hop.port], let gateway = hop.gateway else { continue }
            switch gateway {
            case .v4(let ip):
                if router.neighbours.lookup(ip, now: now) == nil && router.neighbours.shouldRequest(ip, now: now) {
                    sendARPRequest(port: hop.port, target: ip)
                }
            case .v6(let ip):
                if router.neighbours.lookup(ip, now: now) == nil && router.neighbours.shouldRequest(ip, now: now) {
                    sendNeighbourSolicitation(port: hop.port, target: ip)
                }
            }
        }
    }

    /// As `hold`, for IPv6: parks the frame and sends a neighbour solicitation.
    @usableFromInline mutating func hold6(addr: UInt64, len: UInt32, port: Int, nextHop: IPv6Address, queue: Int = 0, ingress: Int = -1, pg: Int = 0, now: UInt64) {
        guard inService[port], pending.add(addr: addr, len: len, port: UInt16(port), nextHop: 0, nextHop6: nextHop, isV6: true,
                                           queue: queue, ingress: ingress, pg: pg, now: now) else {
            counters[port].drops[inService[port] ? .pendingFull : .portDown] &+= 1
            pool.release(addr)
            return
        }
        if router.neighbours.shouldRequest(nextHop, now: now) {
            sendNeighbourSolicitation(port: port, target: nextHop)
        }
    }

    /// Builds a neighbour solicitation (RFC 4861 section 4.3) for `target`, to its
    /// solicited-node multicast address, with our link-layer address, and queues it on `port`.
    mutating func sendNeighbourSolicitation(port: Int, target: IPv6Address) {
        guard let source = router.sourceAddress6(port: port), let fresh = pool.allocate() else { return }
        let addr = fresh + 256
        let f = frames + Int(addr)
        let length = 14 + 40 + 24 + 8
        memset(f, 0, length)
        let me = router.mac(port: port)
        let low24 = target.low & 0xFF_FFFF
        Rewrite.setMACs(f, destination: MACAddress(rawValue: 0x3333_FF00_0000 | low24), source: me)
        f.storeBytes(of: EtherType.ipv6.bigEndian, toByteOffset: 12, as: UInt16.self)
        let ip = f + 14
        ip.storeBytes(of: UInt32(0x6000_0000).bigEndian, as: UInt32.self)
        ip.storeBytes(of: UInt16(32).bigEndian, toByteOffset: 4, as: UInt16.self)
        ip.storeBytes(of: UInt8(58), toByteOffset: 6, as: UInt8.self)
        ip.storeBytes(of: UInt8(255), toByteOffset: 7, as: UInt8.self)
        storeIPv6(source, at: ip + 8)
        storeIPv6(IPv6Address(high: 0xFF02_0000_0000_0000, low: 0x0000_0001_FF00_0000 | low24), at: ip + 24)
        let icmp = ip + 40
        icmp.storeBytes(of: UInt8(135), as: UInt8.self)
        storeIPv6(target, at: icmp + 8)
        icmp.storeBytes(of: UInt8(1), toByteOffset: 24, as: UInt8.self)   // source link-layer address option
        icmp.storeBytes(of: UInt8(1), toByteOffset: 25, as: UInt8.self)
        storeMAC(me, at: icmp + 26)
        icmp.storeBytes(of: icmpv6Checksum(ip: ip, messageLength: 32).bigEndian, toByteOffset: 2, as: UInt16.self)
        counters[port].arpRequestsSent &+= 1
        enqueue(addr: addr, len: UInt32(length), port: port)
    }

    /// Builds an ARP request (RFC 826) for `target` in a fresh frame and queues it on `port`.
    mutating func sendARPRequest(port: Int, target: UInt32) {
        guard let source = router.sourceAddress(port: port, for: target), let fresh = pool.allocate() else { return }
        let addr = fresh + 256
        let f = frames + Int(addr)
        memset(f, 0, 60)
        let me = router.mac(port: port)
        Rewrite.setMACs(f, destination: .broadcast, source: me)
        f.storeBytes(of: EtherType.arp.bigEndian, toByteOffset: 12, as: UInt16.self)
        f.storeBytes(of: UInt64(0x0001_0800_0604_0001).bigEndian, toByteOffset: 14, as: UInt64.self)
        storeMAC(me, at: f + 22)
        f.storeBytes(of: source.bigEndian, toByteOffset: 28, as: UInt32.self)
        f.storeBytes(of: target.bigEndian, toByteOffset: 38, as: UInt32.self)
        counters[port].arpRequestsSent &+= 1
        enqueue(addr: addr, len: 60, port: port)
    }

    /// Sends every held frame whose next hop is now known.
    public mutating func releasePending(now: UInt64) {
        guard pending.count > 0 else { return }
        var released: [(PendingQueue.Entry, MACAddress)] = []
        pending.remove { e in
            let known = e.isV6 ? router.neighbours.lookup(e.nextHop6, now: now) : router.neighbours.lookup(e.nextHop, now: now)
            guard let mac = known else { return false }
            released.append((e, mac))
            return true
        }
        // In the class they arrived in, charged to their ingress PG, stamped with their arrival.
        for (e, mac) in released {
            storeMAC(mac, at: frames + Int(e.addr))
            enqueue(addr: e.addr, len: e.len, port: e.port, queue: e.queue, ingress: e.ingress, pg: e.pg, now: e.since)
        }
    }

    /// Drops held frames older than the pending timeout (housekeeping, off the data path).
    public mutating func expirePending(now: UInt64) {
        guard pending.count > 0 else { return }
        var expired: [(UInt64, Int)] = []
        let timeout = pending.timeout
        pending.remove { e in
            guard now &- e.since >= timeout else { return false }
            expired.append((e.addr, e.port))
            return true
        }
        for (addr, port) in expired {
            counters[port].drops[.neighbourUnresolved] &+= 1
            pool.release(addr)
        }
    }

    /// Frames parked for ARP (part of the frame ledger).
    public var pendingFrames: Int { pending.count }

    /// Takes a port out of service: its queued frames go back to the pool (counted as
    /// `portDown` drops) and the addresses learned on it are forgotten.
    public mutating func takeOutOfService(port: Int) {
        guard inService[port] else { return }
        inService[port] = false
        while let frame = queues[port].control.dequeue() { pool.release(frame.addr) }
        for q in 0..<EgressPort.queueCount {
            while let f = queues[port].removeOldest(queue: q) {
                credit(tag: f.tag, bytes: Int(f.len))
                counters[port].drops[.portDown] &+= 1
                pool.release(f.addr)
            }
        }
        bridge.table.flush(port: port)
        pending.remove { e in
            guard e.port == port else { return false }
            counters[port].drops[.portDown] &+= 1
            pool.release(e.addr)
            return true
        }
    }

    /// Counts a frame as sent on `port` (the I/O layer calls this when it submits to TX).
    @inline(__always) public mutating func countTransmit(port: Int, frames n: Int, bytes: UInt64) {
        counters[port].txFrames &+= UInt64(n)
        counters[port].txBytes &+= bytes
    }
}
