import FabricPacket

/// The switch's data plane without any I/O: the frame pool over the shared frame area and the
/// stages a batch flows through, in this order:
///
///   forward:  bridge (L2: MAC Control consumed, classifier, MAC table) or router (L3:
///             classifier, host stack, FIB, path selector)
///             -> per verdict: ECN marker + ingress admission (PFC XOFF) + egress port queue,
///                flood copies (each admitted, charged and ECN-marked on its own), the PFC
///                receiver, the neighbour resolver's pending queue, or a counted drop
///   transmit: egress port (control frames, scheduler, pause state, shaper) -> admission
///             credit (PFC XON) (Datapath+Transmit.swift)
///   tick:     XOFF refresh, port load samples; every 100 ms the PFC watchdog, next-hop
///             resolution, pending expiry and neighbour aging; every second MAC aging
///
/// Invariant (`FrameLedger`): every frame is free in `pool`, in an egress queue or on a port's
/// emulated wire (`DelayLine`), pending, or owned by the I/O layer's kernel rings.
public struct Datapath: ~Copyable {
    public let portCount: Int
    /// Base of the frame area; frame `addr` lives at `frames + addr`.
    public let frames: UnsafeMutableRawPointer
    public var pool: FramePool
    public let mode: ForwardingMode
    @usableFromInline var bridge: L2Bridge
    @usableFromInline var router: Router<AdaptivePathSelector>
    @usableFromInline var classifier: Classifier
    @usableFromInline var ecn: ECNMarker
    @usableFromInline var admission: IngressAdmission
    @usableFromInline let egress: UnsafeMutablePointer<EgressPort>
    @usableFromInline var pfcReceiver: PFCReceiver
    @usableFromInline var watchdog: PFCWatchdog
    @usableFromInline var pending: PendingQueue
    /// Egress quality per port, read by the flowlet and spray selectors.
    @usableFromInline var load: PortLoad
    @usableFromInline let counters: UnsafeMutablePointer<PortCounters>
    @usableFromInline let service: UnsafeMutablePointer<Bool>
    /// Per port: the longest frame its interface takes (its MTU plus the Ethernet header and a
    /// VLAN tag, `setLargestFrame`); a longer one is dropped there (`oversize`), as the kernel
    /// would drop it silently at the interface. Unlimited until the I/O layer says.
    @usableFromInline let largestFrame: UnsafeMutablePointer<UInt32>
    /// Per port, the enqueue's one test of the above: a frame shorter than this may be queued
    /// there as far as the port goes; 0 while the port is out of service, its link is down or
    /// a queue of it is stormed with the drop action (then `refuse` finds which). Kept by
    /// `refreshAcceptBound`, called wherever one of those changes.
    @usableFromInline let acceptBound: UnsafeMutablePointer<UInt64>
    /// Per ingress port: how long received frames waited in the socket's rx ring, from the
    /// XDP program's stamp to the worker's receive (recorded by the I/O layer, which reads the
    /// stamps; empty where frames carry none).
    public var ringWait: ResidenceHistograms
    /// `--workers N`: what this worker shares with the others (nil: one worker), its number,
    /// and when it last sent what it learned (`WorkerLinks`).
    var links: WorkerLinks?
    var workerIndex = 0
    var lastExport: UInt64 = 0
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
        pending = PendingQueue(portCount: portCount)
        classifier = Classifier(qos: config.qos, trust: config.ports.map(\.trust))
        ecn = ECNMarker(config: config.ecn)
        admission = IngressAdmission(buffers: config.buffers, qos: config.qos, portSpeedsGbps: speeds,
                                     portDelaysNanoseconds: config.ports.map(\.delayNanoseconds))
        pfcReceiver = PFCReceiver(tcToQueue: config.qos.tcToQueue, enabled: (0..<portCount).map(config.pfcEnabled(port:)))
        watchdog = PFCWatchdog(config: config.pfcWatchdog, portCount: portCount)
        var losslessQueues: UInt8 = 0
        for tc in 0..<8 where config.qos.losslessTCs & (1 << UInt8(tc)) != 0 { losslessQueues |= 1 << (config.qos.tcToQueue[tc] & 7) }
        egress = .allocate(capacity: portCount)
        for (p, port) in config.ports.enumerated() {
            let loss = RandomLoss(rate: port.lossPercent / 100, seed: port.lossSeed ?? UInt64.random(in: 0 ... .max))
            (egress + p).initialize(to: EgressPort(capacity: queueCapacity, losslessQueues: losslessQueues, losslessCapacity: losslessQueueCapacity,
                                                   strictMask: config.qos.strictQueues, weights: config.qos.etsWeights, lineRateGbps: speeds[p],
                                                   line: DelayLine(delayNanoseconds: port.delayNanoseconds, capacity: port.delayLineFrames),
                                                   loss: loss))
        }
        counters = .filled(with: PortCounters(), count: portCount)
        service = .filled(with: true, count: portCount)
        largestFrame = .filled(with: .max, count: portCount)
        acceptBound = .filled(with: UInt64(UInt32.max) + 1, count: portCount)
        ringWait = ResidenceHistograms(histograms: portCount)
    }

    deinit {
        egress.deinitialize(count: portCount)
        egress.deallocate()
        counters.deallocate()
        service.deallocate()
        largestFrame.deallocate()
        acceptBound.deallocate()
    }

    /// Recomputes `acceptBound[port]` from the port's service, link, largest frame and watchdog.
    @usableFromInline mutating func refreshAcceptBound(port: Int) {
        let open = service[port] && load.up[port] && !(watchdog.config.action == .drop && watchdog.stormed[port] != 0)
        acceptBound[port] = open ? UInt64(largestFrame[port]) &+ 1 : 0
    }

    /// Port `port`'s interface takes frames of at most `bytes` (the I/O layer, at start and
    /// when the interface's MTU changes).
    public mutating func setLargestFrame(port: Int, bytes: Int) {
        largestFrame[port] = UInt32(clamping: bytes)
        refreshAcceptBound(port: port)
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
            bridge.process(&batch, frames: UnsafeRawPointer(frames), classifier: classifier)
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

    /// Acts on each frame's verdict (VPP's enqueue-to-next step). The loop holds only the
    /// common case, a frame for one port; the others (flood, consume, hold, drop) go out of
    /// line, so the per-frame enqueue keeps its values in registers.
    @usableFromInline mutating func dispatch(_ batch: inout Batch) {
        let ingress = batch.ingress, now = batch.timestamp
        // Frames of one PG are admitted as a run while their charges fit what the PG takes
        // with none of it in headroom (`IngressAdmission.runBudget`), and charged once for all
        // (`chargeRun`): the same admissions and the same buffer state as one by one (see
        // `BufferAccounting.runBudget`), without a loop-carried admit-and-charge per frame. The
        // run is charged before anything else may read or charge the buffers (another PG, a
        // frame past the budget, any verdict but one port) and at the end.
        var runTag = ChargeTag.uncharged, runBudget = 0, runCost = 0
        for i in 0..<batch.count {
            guard let port = batch.verdict[i].portIndex else {
                admission.chargeRun(runTag, bytes: runCost)
                (runTag, runCost) = (.uncharged, 0)
                dispatchOther(&batch, i)
                continue
            }
            let tc = batch.tc[i]
            let tag = ChargeTag(ingress: ingress, pg: classifier.priorityGroup(trafficClass: tc))
            let len = batch.len[i]
            let cost = admission.cost(len)
            if tag != runTag || cost > runBudget &- runCost {
                admission.chargeRun(runTag, bytes: runCost)
                (runTag, runCost) = (tag, 0)
                runBudget = budget(tag)
            }
            let addr = batch.addr[i], queue = classifier.queue(trafficClass: tc)
            let ip = IPLocation(offset: batch.l3Offset[i], version: batch.ipVersion[i])
            if cost <= runBudget &- runCost {
                let queued = enqueueAdmitted(addr: addr, len: len, port: port, queue: queue, tag: tag, stamp: now, wait: batch.ringWait[i])
                mark(addr: addr, len: len, port: port, queue: queue, queued: queued, ip: ip)
                if queued { runCost &+= cost }
            } else {
                enqueueAlone(addr: addr, len: len, port: port, queue: queue, tag: tag, stamp: now, wait: batch.ringWait[i], ip: ip)
                runTag = .uncharged      // charged on its own: the next frame asks for a new budget
            }
        }
        admission.chargeRun(runTag, bytes: runCost)
    }

    /// `dispatch` of frame `i`, whose verdict is not one port.
    @usableFromInline @inline(never) mutating func dispatchOther(_ batch: inout Batch, _ i: Int) {
        let ingress = batch.ingress, now = batch.timestamp
        let verdict = batch.verdict[i], addr = batch.addr[i], len = batch.len[i]
        let queue = classifier.queue(trafficClass: batch.tc[i])
        let tag = ChargeTag(ingress: ingress, pg: classifier.priorityGroup(trafficClass: batch.tc[i]))
        if verdict.isFlood {
            flood(addr: addr, len: len, queue: queue, tag: tag, stamp: now, wait: batch.ringWait[i],
                  ip: IPLocation(offset: batch.l3Offset[i], version: batch.ipVersion[i]))
        } else if verdict.isConsume {
            counters[ingress].consumed &+= 1
            pfcReceiver.receive(frames + Int(addr), length: Int(len), port: ingress, pause: &egress[ingress].pause,
                                counters: &counters[ingress], now: now)
            if links != nil { shareReceivedPFC(frames + Int(addr), length: Int(len), port: ingress) }
            pool.release(addr)
        } else if verdict.isHold {
            hold(addr: addr, len: len, port: Int(batch.holdPort[i]), nextHop: batch.holdNextHop[i], queue: queue, tag: tag, now: now)
        } else {
            // Only drop verdicts are left; `?? .runt` cannot be taken.
            counters[ingress].drops[verdict.dropReason ?? .runt] &+= 1
            pool.release(addr)
        }
    }

    /// Queues a frame on `port` as `enqueue` does, and ECN-marks it there: the decision is on
    /// the depth the frame finds, the mark made once it is queued (a frame dropped is not
    /// counted as marked). `ip` says where its IP header is (version 0: not IP, never marked).
    @inline(__always) @discardableResult
    mutating func enqueue(addr: UInt64, len: UInt32, port: Int, queue: Int, tag: ChargeTag, stamp: UInt64, wait: UInt32 = 0, ip: IPLocation) -> Bool {
        let queued = enqueue(addr: addr, len: len, port: port, queue: queue, tag: tag, stamp: stamp, wait: wait)
        mark(addr: addr, len: len, port: port, queue: queue, queued: queued, ip: ip)
        return queued
    }

    /// `dispatch`'s run budget for `tag` (about once per batch), out of line: inlined, its
    /// code cost the per-frame loop ~10 instructions a frame (valgrind).
    @usableFromInline @inline(never)
    func budget(_ tag: ChargeTag) -> Int { admission.runBudget(tag) }

    /// `dispatch`'s frame that does not fit its PG's run: admitted and charged on its own.
    @usableFromInline @inline(never)
    mutating func enqueueAlone(addr: UInt64, len: UInt32, port: Int, queue: Int, tag: ChargeTag, stamp: UInt64, wait: UInt32, ip: IPLocation) {
        enqueue(addr: addr, len: len, port: port, queue: queue, tag: tag, stamp: stamp, wait: wait, ip: ip)
    }

    /// The ECN mark of a frame `enqueue` was asked to queue (`queued`: it did).
    @inline(__always)
    mutating func mark(addr: UInt64, len: UInt32, port: Int, queue: Int, queued: Bool, ip: IPLocation) {
        guard ip.version != 0 && ecn.marks(queue: queue) else { return }
        // Decided after the enqueue on the depth the frame found (a queued frame added exactly
        // its length; a refused one changed nothing), and drawn for a refused frame too: the
        // same draws, in the same order, as deciding first.
        let found = egress[port].depth(queue: queue).bytes &- (queued ? Int(len) : 0)
        if ecn.shouldMark(depthBytes: found) && queued && ECNMarker.mark(ip: frames + Int(addr) + Int(ip.offset), version: ip.version) {
            counters[port].ecnMarked[queue] &+= 1
        }
    }

    /// Queues a frame on `port`; false (frame released, drop counted) when it cannot. A frame
    /// charged to an ingress PG (`tag`) is admitted by its PG first and charged while queued, at
    /// least `BufferConfig.minimumChargeBytes`.
    @inline(__always) @discardableResult
    mutating func enqueue(addr: UInt64, len: UInt32, port: Int, queue: Int = 0, tag: ChargeTag = .uncharged, stamp: UInt64 = 0,
                          wait: UInt32 = 0) -> Bool {
        if UInt64(len) >= acceptBound[port], let refused = refuse(addr, len: len, port: port, queue: queue) { return refused }
        var part = (shared: 0, headroom: 0)
        let cost = admission.cost(len)
        if tag.isCharged {
            guard let p = admission.admit(port: tag.ingress, pg: tag.pg, bytes: cost) else {
                return drop(addr, admission.refusal(pg: tag.pg), countedOn: tag.ingress)
            }
            part = p
        }
        guard egress[port].enqueue(addr: addr, len: len, queue: queue, tag: tag, stamp: stamp, wait: wait) else {
            return drop(addr, .queueFull, countedOn: port)
        }
        if tag.isCharged {
            let xoff = admission.charge(port: tag.ingress, pg: tag.pg, bytes: cost, part: part, now: stamp)
            if xoff != 0 { sendPFC(port: tag.ingress, priorities: xoff, quanta: 0xFFFF, now: stamp) }
        }
        return true
    }

    /// `enqueue` of a frame its PG has admitted (in a run charged by the caller): the port's
    /// refusals and a full queue, no admission or charge.
    @inline(__always)
    mutating func enqueueAdmitted(addr: UInt64, len: UInt32, port: Int, queue: Int, tag: ChargeTag, stamp: UInt64, wait: UInt32) -> Bool {
        if UInt64(len) >= acceptBound[port], let refused = refuse(addr, len: len, port: port, queue: queue) { return refused }
        guard egress[port].enqueue(addr: addr, len: len, queue: queue, tag: tag, stamp: stamp, wait: wait) else {
            return drop(addr, .queueFull, countedOn: port)
        }
        return true
    }

    /// The port refuses the frame (out of service, link down, frame too long, or its queue
    /// stormed with the drop action): counted and released, false. nil: it does not (another
    /// queue of the port is stormed), and the enqueue goes on.
    @usableFromInline @inline(never)
    mutating func refuse(_ addr: UInt64, len: UInt32, port: Int, queue: Int) -> Bool? {
        guard service[port] else { return drop(addr, .portDown, countedOn: port) }
        guard load.up[port] else { return drop(addr, .linkDown, countedOn: port) }
        guard len <= largestFrame[port] else { return drop(addr, .oversize, countedOn: port) }
        guard watchdog.discards(port: port, queue: queue) else { return nil }
        counters[port].pfcwdDropped[queue] &+= 1
        counters[port].pfcwdDroppedBytes[queue] &+= UInt64(len)
        pool.release(addr)
        return false
    }

    @inlinable @inline(__always) mutating func drop(_ addr: UInt64, _ reason: DropReason, countedOn port: Int) -> Bool {
        counters[port].drops[reason] &+= 1
        pool.release(addr)
        return false
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
}

/// Where a frame's IP header starts and its version (0: not IP): what ECN marking needs.
@usableFromInline struct IPLocation: Sendable {
    @usableFromInline var offset: UInt16
    @usableFromInline var version: UInt8
    @inlinable init(offset: UInt16, version: UInt8) {
        self.offset = offset
        self.version = version
    }
    @inlinable static var none: IPLocation { IPLocation(offset: 0, version: 0) }
}
