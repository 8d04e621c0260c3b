/// What `fabric ctl` changes on a running data path. The worker calls these between two
/// batches (no frame is in flight inside the pipeline then); anything expensive (a new FIB) is
/// built beforehand on another thread and only swapped in here.
extension Datapath {
    /// Swaps in a new routing table; `fib` gets the old one back (freed by the caller, off the
    /// worker). Static neighbours in `neighbours` are added (a resolved MAC of a next hop stays
    /// valid: the table is by address). Flowlets of a group whose members changed may move
    /// once: their entries hold member indices.
    public mutating func replaceRoutes(_ fib: inout FIB, neighbours: [NeighbourConfig]) {
        swap(&router.fib, &fib)
        for n in neighbours {
            switch n.address {
            case .v4(let a): router.neighbours.addStatic(a, mac: n.mac)
            case .v6(let a): router.neighbours.addStatic(a, mac: n.mac)
            }
        }
    }

    /// Port `p`'s emulated link from now on (`fabric ctl config apply`): speed (shaper, pause
    /// timing, the port's load and flowlet share, its lossless headroom), delay and loss, as
    /// `port` says; `buffers` sizes the headroom exactly as at start. Frames queued or on the
    /// wire keep their place; a longer delay line is allocated here, once.
    public mutating func retune(port p: Int, to port: PortConfig, buffers: BufferConfig, now: UInt64) {
        let loss = RandomLoss(rate: port.lossPercent / 100, seed: port.lossSeed ?? UInt64.random(in: 0 ... .max))
        egress[p].retune(lineRateGbps: port.speedGbps, delayNanoseconds: port.delayNanoseconds, lineFrames: port.delayLineFrames, loss: loss, now: now)
        load.setSpeed(port: p, gbps: port.speedGbps)
        router.selector.setSpeed(port: p, gbps: port.speedGbps)
        admission.retune(port: p, speedGbps: port.speedGbps,
                         headroomBytes: buffers.headroom(speedGbps: port.speedGbps, delayNanoseconds: port.delayNanoseconds))
    }

    /// New QoS maps and port trust modes from now on (`fabric ctl config apply`): classification,
    /// queues and PGs, which PGs are lossless (every XOFF in force is released with an XON
    /// first), which priorities each port honours PFC for (`pfcEnabled`, per port), strict
    /// queues and ETS weights. Frames already queued stay in their queues and are credited to
    /// the PG they were charged to.
    public mutating func setQoS(_ qos: QoSMaps, trust: [TrustMode], pfcEnabled: [UInt8], buffers: BufferConfig, now: UInt64) {
        classifier.update(qos: qos, trust: trust)
        pfcReceiver.update(tcToQueue: qos.tcToQueue, enabled: pfcEnabled)
        for p in 0..<portCount { egress[p].setScheduling(strictMask: qos.strictQueues, weights: qos.etsWeights) }
        let xon = admission.setQoS(qos, buffers: buffers)
        for p in 0..<portCount where xon[p] != 0 && service[p] { sendPFC(port: p, priorities: xon[p], quanta: 0, now: now) }
    }

    /// New ECN thresholds and probability.
    public mutating func setECN(_ config: ECNConfig) { ecn = ECNMarker(config: config) }

    /// New PFC watchdog parameters (queues stormed now stay stormed until restored under them).
    public mutating func setWatchdog(_ config: PFCWatchdogConfig) {
        watchdog.config = config
        for p in 0..<portCount { refreshAcceptBound(port: p) }
    }

    /// Zeroes every counter: ports, queues, load-balancing counters and recorded failovers
    /// (`fabric ctl clear counters`); residence histograms start again too.
    public mutating func clearCounters() {
        for p in 0..<portCount {
            counters[p] = PortCounters()
            egress[p].enqueued.update(repeating: 0, count: EgressPort.queueCount)
            egress[p].dequeued.update(repeating: 0, count: EgressPort.queueCount)
            egress[p].dropped.update(repeating: 0, count: EgressPort.queueCount)
            egress[p].enqueuedBytes.update(repeating: 0, count: EgressPort.queueCount)
            egress[p].dequeuedBytes.update(repeating: 0, count: EgressPort.queueCount)
            egress[p].droppedBytes.update(repeating: 0, count: EgressPort.queueCount)
            egress[p].residence.reset()
        }
        ringWait.reset()
        router.selector.newFlowlets = 0
        router.selector.pathChanges = 0
        router.selector.collisions = 0
        router.selector.sprayed = 0
        router.selector.clearFailovers()
        clearWatermarks()
    }

    /// Watermarks start again from the depths held now: queue watermarks, PG and headroom
    /// peaks, the shared pool's (`fabric ctl clear watermarks`).
    public mutating func clearWatermarks() {
        for p in 0..<portCount {
            for q in 0..<EgressPort.queueCount { egress[p].watermark[q] = egress[p].depth(queue: q).frames }
        }
        admission.buffer.resetPeaks(portCount: portCount)
    }
}
