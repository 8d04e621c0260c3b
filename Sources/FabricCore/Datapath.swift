import FabricPacket

/// The switch's data plane without any I/O: the frame pool over the shared frame area and the
/// stages a batch flows through, in this order:
///
///   forward:  bridge (L2) or router (L3: classifier, host stack, FIB, path selector)
///             -> per verdict: ECN marker + ingress admission (PFC XOFF) + egress port queue,
///                flood copies, the PFC receiver, the neighbour resolver's pending queue, or a
///                counted drop
///   transmit: egress port (control frames, scheduler, pause state, shaper) -> admission
///             credit (PFC XON)
///   tick:     XOFF refresh, port load samples; every 100 ms the PFC watchdog, next-hop
///             resolution and pending expiry; every second MAC aging
///
/// Invariant (`FrameLedger`): every frame is free in `pool`, in an egress queue, pending, or
/// owned by the I/O layer's kernel rings.
public struct Datapath: ~Copyable {
    public let portCount: Int
    /// Base of the frame area; frame `addr` lives at `frames + addr`.
    public let frames: UnsafeMutableRawPointer
    public var pool: FramePool
    public let mode: ForwardingMode
    @usableFromInline var bridge: L2Bridge
    @usableFromInline var router: Router<AdaptivePathSelector>
    @usableFromInline let classifier: Classifier
    @usableFromInline var ecn: ECNMarker
    @usableFromInline var admission: IngressAdmission
    @usableFromInline let egress: UnsafeMutablePointer<EgressPort>
    @usableFromInline let pfcReceiver: PFCReceiver
    @usableFromInline var watchdog: PFCWatchdog
    @usableFromInline var pending = PendingQueue()
    /// Egress quality per port, read by the flowlet and spray selectors.
    @usableFromInline var load: PortLoad
    @usableFromInline let counters: UnsafeMutablePointer<PortCounters>
    @usableFromInline let service: UnsafeMutablePointer<Bool>
    var nextHousekeeping: UInt64 = 0
    var lastAging: UInt64 = 0
    static let housekeepingInterval: UInt64 = 100_000_000

    /// A learning bridge over `portCount` ports (tests and the pipeline benchmark).
    public init(portCount: Int, frames: UnsafeMutableRawPointer, pool: consuming FramePool, bridge: consuming L2Bridge, queueCapacity: Int) {
        let config = SwitchConfig(mode: .bridge, ports: (0..<portCount).map { PortConfig(name: "p\($0)") })
        self.init(config: config, portMACs: [MACAddress](repeating: MACAddress(rawValue: 0), count: portCount),
                  frames: frames, pool: pool, bridge: bridge, queueCapacity: queueCapacity)
    }

    /// The pipeline `config` asks for; `portMACs` are the ports' own MACs; `bridge` a bridge's
    /// MAC table (its capacity and aging time). Egress queues hold `queueCapacity` frames, the
    /// lossless ones `losslessQueueCapacity` if more (`FrameBudget.losslessQueueCapacity`).
    public init(config: SwitchConfig, portMACs: [MACAddress], frames: UnsafeMutableRawPointer, pool: consuming FramePool,
                bridge: consuming L2Bridge = L2Bridge(table: MACTable()), queueCapacity: Int, losslessQueueCapacity: Int = 0) {
        let portCount = config.ports.count
        precondition(portCount > 0 && portCount < Int(Verdict.dropBase))
        self.portCount = portCount
        self.frames = frames
        self.pool = pool
        mode = config.mode
        self.bridge = bridge
        let speeds = config.ports.map(\.speedGbps)
        let portLoad = PortLoad(portSpeedsGbps: speeds, timeConstantNanoseconds: 16 * config.loadBalancing.flowletIdleNanoseconds)
        router = Router(config: config, portMACs: portMACs,
                        selector: AdaptivePathSelector(load: portLoad, tableSize: config.loadBalancing.flowletTableSize,
                                                       idleNanoseconds: config.loadBalancing.flowletIdleNanoseconds))
        load = portLoad
        classifier = Classifier(qos: config.qos, trust: config.ports.map(\.trust))
        ecn = ECNMarker(config: config.ecn)
        admission = IngressAdmission(buffers: config.buffers, qos: config.qos, portSpeedsGbps: speeds)
        if config.mode == .bridge {   // it classifies nothing: every frame is class 0
            admission.backlogPGs &= 1 << (config.qos.tcToPriorityGroup[0] & 7)
        }
        pfcReceiver = PFCReceiver(tcToQueue: config.qos.tcToQueue)
        watchdog = PFCWatchdog(config: config.pfcWatchdog, portCount: portCount)
        var losslessQueues: UInt8 = 0
        for tc in 0..<8 where config.qos.losslessTCs & (1 << UInt8(tc)) != 0 { losslessQueues |= 1 << (config.qos.tcToQueue[tc] & 7) }
        egress = .allocate(capacity: portCount)
        for p in 0..<portCount {
            (egress + p).initialize(to: EgressPort(capacity: queueCapacity, losslessQueues: losslessQueues, losslessCapacity: losslessQueueCapacity,
                                                   strictMask: config.qos.strictQueues, weights: config.qos.etsWeights, lineRateGbps: speeds[p]))
        }
        counters = .filled(with: PortCounters(), count: portCount)
        service = .filled(with: true, count: portCount)
    }

    deinit {
        egress.deinitialize(count: portCount)
        egress.deallocate()
        counters.deallocate()
        service.deallocate()
    }

    // MARK: - Receive side

    /// Runs the pipeline over a received batch and moves every frame into an egress queue,
    /// the pending queue or back to the pool. Afterwards the batch owns no frames.
    public mutating func forward(_ batch: inout Batch) {
        let ingress = batch.ingress
        var rxBytes: UInt64 = 0
        for i in 0..<batch.count { rxBytes &+= UInt64(batch.len[i]) }
        counters[ingress].rxFrames &+= UInt64(batch.count)
        counters[ingress].rxBytes &+= rxBytes
        switch mode {
        case .bridge:
            batch.tc.update(repeating: 0, count: batch.count)  // one class: the bridge does not classify
            batch.ipVersion.update(repeating: 0, count: batch.count)
            bridge.process(&batch, frames: UnsafeRawPointer(frames))
        case .router:
            router.process(&batch, frames: frames, counters: counters, classifier: classifier)
        }
        dispatch(&batch)
        batch.count = 0
        if router.host.learnedNeighbour {
            router.host.learnedNeighbour = false
            releaseResolved(now: batch.timestamp)
        }
    }

    /// Acts on each frame's verdict (VPP's enqueue-to-next step).
    @usableFromInline mutating func dispatch(_ batch: inout Batch) {
        let ingress = batch.ingress, now = batch.timestamp
        for i in 0..<batch.count {
            let verdict = batch.verdict[i], addr = batch.addr[i], len = batch.len[i]
            let queue = classifier.queue(trafficClass: batch.tc[i])
            let tag = ChargeTag(ingress: ingress, pg: classifier.priorityGroup(trafficClass: batch.tc[i]))
            if let port = verdict.portIndex {
                // ECN decides on the depth the frame finds and marks it once it is queued (a
                // frame dropped is not counted as marked).
                let version = batch.ipVersion[i]
                let mark = version != 0 && ecn.marks(queue: queue) && ecn.shouldMark(depthBytes: egress[port].depth(queue: queue).bytes)
                if enqueue(addr: addr, len: len, port: port, queue: queue, tag: tag, stamp: now) && mark
                    && ECNMarker.mark(ip: frames + Int(addr) + Int(batch.l3Offset[i]), version: version) {
                    counters[port].ecnMarked[queue] &+= 1
                }
            } else if verdict.isFlood {
                flood(addr: addr, len: len, queue: queue, tag: tag, stamp: now)
            } else if verdict.isConsume {
                counters[ingress].consumed &+= 1
                pfcReceiver.receive(frames + Int(addr), length: Int(len), pause: &egress[ingress].pause, counters: &counters[ingress], now: now)
                pool.release(addr)
            } else if verdict.isHold {
                hold(addr: addr, len: len, port: Int(batch.holdPort[i]), nextHop: batch.holdNextHop[i], queue: queue, tag: tag, now: now)
            } else {
                // Only drop verdicts are left; `?? .runt` cannot be taken.
                let reason = verdict.dropReason ?? .runt
                counters[ingress].drops[reason] &+= 1
                if reason == .linkLocal {  // the bridge drops PFC/PAUSE: it is link-local, and for us
                    pfcReceiver.receive(frames + Int(addr), length: Int(len), pause: &egress[ingress].pause, counters: &counters[ingress], now: now)
                }
                pool.release(addr)
            }
        }
    }

    /// Queues a frame on `port`; false (frame released, drop counted) when it cannot. A frame
    /// charged to an ingress PG (`tag`) is admitted by its PG first and charged while queued, at
    /// least `BufferConfig.minimumChargeBytes`.
    @inline(__always) @discardableResult
    mutating func enqueue(addr: UInt64, len: UInt32, port: Int, queue: Int = 0, tag: ChargeTag = .uncharged, stamp: UInt64 = 0) -> Bool {
        guard service[port] else { return drop(addr, .portDown, countedOn: port) }
        if watchdog.discards(port: port, queue: queue) {
            counters[port].pfcwdDropped[queue] &+= 1
            pool.release(addr)
            return false
        }
        var part = (shared: 0, headroom: 0)
        let cost = admission.cost(len)
        if tag.isCharged {
            guard let p = admission.admit(port: tag.ingress, pg: tag.pg, bytes: cost) else {
                return drop(addr, admission.refusal(pg: tag.pg), countedOn: tag.ingress)
            }
            part = p
        }
        guard egress[port].enqueue(addr: addr, len: len, queue: queue, tag: tag, stamp: stamp) else {
            return drop(addr, .queueFull, countedOn: port)
        }
        if tag.isCharged {
            let xoff = admission.charge(port: tag.ingress, pg: tag.pg, bytes: cost, part: part, now: stamp)
            if xoff != 0 { sendPFC(port: tag.ingress, priorities: xoff, quanta: 0xFFFF, now: stamp) }
        }
        return true
    }

    @inline(__always) mutating func drop(_ addr: UInt64, _ reason: DropReason, countedOn port: Int) -> Bool {
        counters[port].drops[reason] &+= 1
        pool.release(addr)
        return false
    }

    // MARK: - Transmit side

    /// The next frame `port` may transmit at `now` (control frames first, then the scheduler
    /// within pauses and the line rate), with its buffer charge released.
    @inline(__always)
    public mutating func dequeueForTransmit(port: Int, now: UInt64) -> (addr: UInt64, len: UInt32)? {
        guard let f = egress[port].dequeueTagged(now: now) else { return nil }
        if f.tag == .pfc { pfcSent(port: port, addr: f.addr) } else { credit(f.tag, bytes: f.len, now: now) }
        return (f.addr, f.len)
    }

    /// A frame charged to `tag` left the switch (or was discarded): credit its PG, and let the
    /// sender go (XON) when the PG may resume.
    @inline(__always) mutating func credit(_ tag: ChargeTag, bytes: UInt32, now: UInt64) {
        let xon = admission.credit(tag, bytes: admission.cost(bytes))
        if xon != 0 { sendPFC(port: tag.ingress, priorities: xon, quanta: 0, now: now) }
    }

    /// `frames` wait in `port`'s receive ring, not yet classified (the worker was away, or is
    /// behind): they count as buffer occupancy of the port's lossless PGs, so an XOFF goes out
    /// on this pass rather than once the worker has charged them (`IngressAdmission.rxBacklog`).
    /// The run loop reports it once per pass per port.
    public mutating func rxBacklog(port: Int, frames: Int, now: UInt64) {
        guard admission.backlogPGs != 0 else { return }
        let (xoff, xon) = admission.rxBacklog(port: port, frames: frames, now: now)
        if xoff != 0 { sendPFC(port: port, priorities: xoff, quanta: 0xFFFF, now: now) }
        if xon != 0 { sendPFC(port: port, priorities: xon, quanta: 0, now: now) }
    }

    /// Counts frames as sent on `port` (the I/O layer calls this when it submits to TX).
    @inline(__always) public mutating func countTransmit(port: Int, frames n: Int, bytes: UInt64) {
        counters[port].txFrames &+= UInt64(n)
        counters[port].txBytes &+= bytes
    }
}
