// The switch: a backend's sockets under the ports, the pipeline (Datapath) over them, the run
// loop, telemetry and teardown. Generic over the backend (AF_XDP or AF_PACKET), specialised at
// compile time, so the per-batch path has no dynamic dispatch.
//
// Run loop (Snabb's breathe with xdpsock's ring discipline), one thread:
//   for each port: reclaim TX completions into the pool, receive one batch, run the pipeline
//                  (frames land in egress queues), top up the receive buffers in bulk;
//   for each port: move queued frames into the TX ring, kick the kernel if it asks.
// Syscalls happen per batch at most. `adaptive` polling spins while frames flow and blocks in
// poll() once idle for a while, so a switch shares the machine's two cores with generators and
// the kernel threads feeding it.
//
// Teardown (SIGINT/SIGTERM): stop steering frames to the sockets first (they go back to the
// kernel stack), drain what is queued, then close the sockets, then report.
import CXDP
import FabricCore
import FabricPacket
import Glibc

public enum PollMode: String, CaseIterable, Sendable {
    /// Never sleep: lowest latency, but starves the kernel threads on a small machine.
    case busy
    /// Spin while frames flow; block in poll() after `spinMicroseconds` without work.
    case adaptive
}

public struct SwitchOptions: Sendable {
    public var ports: [String]
    /// Forwarding configuration (router or bridge). Nil: a learning bridge on `ports`.
    public var config: SwitchConfig? = nil
    public var xdpMode: XDPMode = .auto
    public var poll: PollMode = .adaptive
    public var bpfObject: String
    public var queueID: UInt32 = 0
    public var batchSize = 64
    /// Entries of each AF_XDP ring (rx, tx, fill, completion); a power of two.
    public var ringSize = 2048
    public var frameSize = 4096
    /// Egress queue capacity per port, in frames; a power of two.
    public var queueCapacity = 4096
    public var macAgingSeconds = 300
    public var spinMicroseconds = 200
    public var statsFile: String? = nil
    public var statsIntervalSeconds = 1.0
    /// Queue-depth sampling interval of the always-on depth ring (`fabric stats depth`).
    public var sampleIntervalMicroseconds = 100
    public var verbose = false
    /// Nice value of the forwarding thread (0: leave it). Below 0 it outweighs the kernel
    /// threads that share its CPU (a veth's NAPI thread): they get less time to copy in frames
    /// the switch has no time to send, so the excess is dropped earlier and cheaper, at the
    /// sender's veth. Idle, the worker yields and sleeps as before.
    public var workerNice = 0

    public init(ports: [String], bpfObject: String) {
        self.ports = ports
        self.bpfObject = bpfObject
    }

    /// A switch as `config` describes it.
    public init(config: SwitchConfig, bpfObject: String) {
        self.ports = config.ports.map(\.name)
        self.config = config
        self.bpfObject = bpfObject
    }

    /// Enough frames for every ring and queue of a port to be full at once: fill + rx + tx
    /// rings and the egress queue (AF_XDP keeps fill + rx within one ring, so one ring's worth
    /// is spare: the pool never runs dry before the queues' own limits do).
    var framesPerPort: Int { 3 * ringSize + queueCapacity }

    func validate() throws {
        func pow2(_ v: Int) -> Bool { v > 0 && v & (v - 1) == 0 }
        guard !ports.isEmpty else { throw FabricIOError("no ports given (--ports a,b,...)") }
        guard Set(ports).count == ports.count else { throw FabricIOError("a port is listed twice in --ports \(ports.joined(separator: ","))") }
        guard ports.count < 256 else { throw FabricIOError("at most 255 ports") }
        for p in ports where p.isEmpty || p.utf8.count >= Int(IF_NAMESIZE) {
            throw FabricIOError("port name '\(p)' is not a valid interface name")
        }
        guard pow2(ringSize), ringSize >= 64 else { throw FabricIOError("ring size \(ringSize) must be a power of two >= 64") }
        guard pow2(queueCapacity) else { throw FabricIOError("queue capacity \(queueCapacity) must be a power of two") }
        guard frameSize == 2048 || frameSize == 4096 else { throw FabricIOError("frame size must be 2048 or 4096") }
        guard (1...ringSize).contains(batchSize) else { throw FabricIOError("batch size must be 1...\(ringSize)") }
        guard (-20...19).contains(workerNice) else { throw FabricIOError("worker nice value must be -20...19 (got \(workerNice))") }
    }
}

public typealias AFXDPSwitch = FabricSwitch<XSKBackend>
public typealias AFPacketSwitch = FabricSwitch<PacketBackend>

public struct FabricSwitch<IO: PortBackend & ~Copyable>: ~Copyable {
    public let options: SwitchOptions
    public let names: [String]
    let ifindexes: [Int32]
    var io: IO
    let portCount: Int
    var dp: Datapath
    var batch: Batch
    var loop = LoopCounters()
    /// Scratch for one TX batch (frames the scheduler released, before the ring takes them).
    let txAddr: UnsafeMutablePointer<UInt64>
    let txLen: UnsafeMutablePointer<UInt32>
    let startedAt: UInt64
    var sequence: UInt64 = 0
    /// Serves snapshots to `fabric stats` (and /metrics) when set.
    public var control: ControlServer?
    /// `--record`: the sampled time series (nil: not recording).
    public var recorder: Recorder?
    /// The last second of queue depths, always on (`fabric stats depth`).
    public var depthRing: DepthRing

    /// One sample of every port's queues, load and PFC for the recorder (per sample interval,
    /// never per packet).
    mutating func record(_ r: Recorder, now: UInt64) {
        r.begin(now)
        var storms: UInt64 = 0
        for p in 0..<portCount {
            let c = dp.counters[p]
            storms &+= (0..<8).reduce(0) { $0 &+ c.pfcwdStorms[$1] }
            r.port(depths: { dp.queues[p].depth(queue: $0).bytes }, txBytes: c.txBytes, pausedMask: UInt32(dp.queues[p].pausedMask(now: now)),
                   pfcRx: UInt32(truncatingIfNeeded: (0..<8).reduce(0) { $0 &+ c.pfcRx[$1] }),
                   pfcTx: UInt32(truncatingIfNeeded: (0..<8).reduce(0) { $0 &+ c.pfcTx[$1] }))
        }
        r.finish(storms: UInt32(truncatingIfNeeded: storms), pathChanges: UInt32(truncatingIfNeeded: dp.router.selector.pathChanges))
    }

    /// `--capture`: per port, bit p set when port p has a capture (tested per batch; the
    /// array of captures is touched only then).
    var captureMask: UInt64 = 0
    var captures: [PacketCapture?] = []

    /// Starts capturing port `name` into a pcapng file.
    public mutating func capture(port name: String, path: String, limitBytes: Int) throws {
        guard let p = names.firstIndex(of: name) else {
            throw FabricIOError("--capture \(name):\(path): no port named '\(name)' (ports: \(names.joined(separator: ", ")))")
        }
        guard p < 64 else { throw FabricIOError("--capture: only the first 64 ports can be captured") }
        if captures.isEmpty { captures = Array(repeating: nil, count: portCount) }
        captures[p] = try PacketCapture(port: p, portName: name, path: path, limitBytes: limitBytes)
        captureMask |= 1 << UInt64(p)
    }

    /// Writes out and closes every capture; one line each for the exit summary.
    mutating func closeCaptures() -> [String] {
        var lines: [String] = []
        for case let c? in captures {
            c.close()
            lines.append("capture \(names[c.port]): \(c.captured) frames in \(c.path)" + (c.overLimit > 0 ? ", \(c.overLimit) not captured (size limit)" : ""))
        }
        captures = []
        captureMask = 0
        return lines
    }

    /// Checks the options and the interfaces; then `open` builds the backend's sockets.
    static func interfaces(_ options: SwitchOptions) throws -> [Int32] {
        try options.validate()
        var indexes: [Int32] = []
        for name in options.ports {
            let idx = if_nametoindex(name)
            guard idx != 0 else { throw FabricIOError("port \(name): no such interface in this network namespace") }
            indexes.append(Int32(idx))
        }
        return indexes
    }

    /// Sets up every port over `io` (built by the caller from the same options). Throws with a
    /// message naming the port and the cause; the backend releases what it holds if this fails.
    public init(options: SwitchOptions, ifindexes indexes: [Int32], io: consuming IO) throws {
        let portCount = options.ports.count
        let config = options.config ?? SwitchConfig(name: "bridge", mode: .bridge, ports: options.ports.map { PortConfig(name: $0) })
        var macs: [MACAddress] = []
        for (p, port) in config.ports.enumerated() {
            if let m = port.mac {
                macs.append(m)
                continue
            }
            var raw = [UInt8](repeating: 0, count: 6)
            let rc = fabric_interface_mac(options.ports[p], &raw)
            guard rc == 0 else { throw FabricIOError.negative(rc, "port \(options.ports[p]): cannot read its MAC address") }
            macs.append(MACAddress(rawValue: raw.reduce(0) { $0 << 8 | UInt64($1) }))
        }
        var pool = FramePool(frameCount: io.frameCount, frameSize: options.frameSize)
        try io.start(pool: &pool)
        let frames = io.frames
        self.options = options
        names = options.ports
        self.portCount = portCount
        ifindexes = indexes
        self.io = io
        dp = Datapath(config: config, portMACs: macs, frames: frames,
                      pool: pool,
                      bridge: L2Bridge(table: MACTable(capacity: 8192, agingTime: UInt64(options.macAgingSeconds) * 1_000_000_000)),
                      queueCapacity: options.queueCapacity)
        batch = Batch(capacity: options.batchSize)
        txAddr = .allocate(capacity: options.batchSize)
        txLen = .allocate(capacity: options.batchSize)
        depthRing = DepthRing(ports: portCount, intervalMicroseconds: options.sampleIntervalMicroseconds)
        startedAt = monotonicNanoseconds()
    }

    deinit {
        txAddr.deallocate()
        txLen.deallocate()
    }

    /// How each port is attached (XDP mode after `auto` fallback, or af_packet).
    public var attachModes: [String] { io.attachModes }

    // MARK: - The per-batch path (no allocation, no ARC, no locks)

    @inline(__always) mutating func receive(_ p: Int, now: UInt64) -> Int {
        let n = io.receive(p, into: &batch, pool: &dp.pool)
        guard n > 0 else { return 0 }
        batch.ingress = p
        batch.timestamp = now
        if captureMask & (1 << UInt64(p & 63)) != 0, let c = captures[p] {
            // Before the pipeline rewrites them in place.
            for i in 0..<n { c.record(UnsafeRawPointer(dp.frames + Int(batch.addr[i])), length: Int(batch.len[i]), monotonic: now, outbound: false) }
        }
        dp.forward(&batch)
        return n
    }

    @inline(__always) mutating func transmit(_ p: Int, now: UInt64) -> Int {
        guard !dp.queues[p].isEmpty else { return 0 }
        // Room in the TX ring, then as many frames as the scheduler and the emulated line rate
        // release now (into the scratch arrays), then exactly that many descriptors.
        let room = io.transmitRoom(p, limit: batch.capacity, loop: &loop)
        guard room > 0 else { return 0 }
        var n = 0
        var bytes: UInt64 = 0
        // A fresh clock for the shaper and the residence times: `now` was read before this
        // iteration received, so frames received just now would look older than it.
        let txNow = monotonicNanoseconds()
        while n < room, let frame = dp.dequeueForTransmit(port: p, now: txNow) {
            txAddr[n] = frame.addr
            txLen[n] = frame.len
            bytes &+= UInt64(frame.len)
            n += 1
        }
        guard n > 0 else { return 0 }
        if captureMask & (1 << UInt64(p & 63)) != 0, let c = captures[p] {
            for i in 0..<n { c.record(UnsafeRawPointer(dp.frames + Int(txAddr[i])), length: Int(txLen[i]), monotonic: txNow, outbound: true) }
        }
        io.transmit(p, addr: txAddr, len: txLen, count: n, pool: &dp.pool, loop: &loop)
        dp.countTransmit(port: p, frames: n, bytes: bytes)
        return n
    }

    /// One pass over all ports. Returns the number of frames moved (0 = idle).
    @inline(__always) mutating func iterate(now: UInt64) -> Int {
        var work = 0
        for p in 0..<portCount where dp.inService[p] {
            work &+= io.reclaim(p, pool: &dp.pool, loop: &loop)
            work &+= receive(p, now: now)
            io.refill(p, pool: &dp.pool)
        }
        dp.refreshPFC(now: now)
        dp.sampleLoad(now: now)
        for p in 0..<portCount where dp.inService[p] {
            work &+= transmit(p, now: now)
        }
        loop.iterations &+= 1
        return work
    }

    // MARK: - Run, housekeeping, shutdown

    /// Runs until SIGINT/SIGTERM (or `stop` returns true, checked every housekeeping tick).
    /// Returns the final report after an orderly shutdown.
    public mutating func run(until stop: () -> Bool = { false }) -> SwitchReport {
        if options.workerNice != 0 {
            let rc = sf_thread_setnice(Int32(options.workerNice))
            if rc != 0 { logLine("fabric: cannot set the worker's nice value to \(options.workerNice): \(String(cString: strerror(-rc)))") }
        }
        let spin = UInt64(options.spinMicroseconds) * 1000
        let tick: UInt64 = 100_000_000
        let statsEvery = UInt64(options.statsIntervalSeconds * 1e9)
        var lastWork = monotonicNanoseconds()
        var lastTick = lastWork
        var lastStats = lastWork
        var lastAging = lastWork
        var lastPass = lastWork
        var longestStall: UInt64 = 0
        dp.resolveNextHops(now: lastWork)
        while !stopRequested.load(ordering: .relaxed) {
            var now = monotonicNanoseconds()
            if now &- lastPass > longestStall {
                longestStall = now &- lastPass
                loop.longestStallMicroseconds = Double(longestStall) / 1000
            }
            lastPass = now
            let moved = iterate(now: now)
            // After forwarding what woke us: a snapshot (a few hundred microseconds: counters
            // of the XDP programs and sockets, percentiles) must not hold up those frames.
            if let c = control, c.wanted {
                if c.wantsSeries { c.publish(series: depthRing.series(portNames: names)) } else { c.publish(snapshot(running: true)) }
            }
            if depthRing.due(now) {
                let q = dp.queues
                depthRing.sample(now, depth: { q[$0].depth(queue: $1).bytes }, pausedMask: { q[$0].pausedMask(now: now) })
            }
            if let r = recorder, r.due(now) { record(r, now: now) }
            if moved > 0 {
                lastWork = now
            } else if options.poll == .adaptive && now &- lastWork > spin && dp.queuedFrames == 0 {
                // (Frames held back by the emulated line rate are work to come: keep spinning.)
                io.sleepUntilWork(inService: dp.inService, loop: &loop)
                now = monotonicNanoseconds()
                lastPass = now   // asleep in poll() is not a stall: the kernel wakes us for frames
            } else if options.poll == .adaptive && dp.queuedFrames == 0 {
                // Spinning with nothing to do: let a kernel thread on this CPU run now (the
                // veth's NAPI thread that copies our next frames in, when it shares the core).
                // Not while frames wait for the emulated line rate: they are due any moment.
                // Measured with one forwarding core: p99 at 10% load 240 -> 72 us, at 90%
                // 14 -> 3.6 ms (README "Performance").
                sched_yield()
            }
            if now &- lastTick >= tick {
                lastTick = now
                if stop() { break }
                checkPorts()
                for case let c? in captures { c.flush() }
                recorder?.flush()
                dp.resolveNextHops(now: now)
                dp.expirePending(now: now)
                dp.runPFCWatchdog(now: now)
                if now &- lastAging >= 1_000_000_000 {
                    lastAging = now
                    dp.bridge.table.age(now: now)
                }
                if statsEvery > 0, options.statsFile != nil, now &- lastStats >= statsEvery {
                    lastStats = now
                    publishStats(running: true)
                }
            }
        }
        return shutdown()
    }

    /// Takes out of service every port whose interface has disappeared (or was replaced by
    /// another interface of the same name).
    mutating func checkPorts() {
        for p in 0..<portCount where dp.inService[p] {
            let idx = if_nametoindex(names[p])
            if idx == 0 || Int32(idx) != ifindexes[p] {
                vanish(p, why: idx == 0 ? "interface disappeared" : "interface was replaced")
            }
        }
    }

    /// Takes port `p` out of service and recovers every frame it held: its egress queue, and
    /// what the kernel held for it.
    mutating func vanish(_ p: Int, why: String) {
        dp.takeOutOfService(port: p)
        let recovered = io.vanish(p, pool: &dp.pool)
        logLine("fabric: port \(names[p]): \(why); taken out of service, \(recovered) frames recovered, "
            + "forwarding continues on \(activePorts.joined(separator: ","))")
    }

    var activePorts: [String] { (0..<portCount).filter { dp.inService[$0] }.map { names[$0] } }

    /// Orderly stop: detach XDP, drain queued frames for up to 100 ms, close sockets, report.
    mutating func shutdown() -> SwitchReport {
        io.detach()
        let deadline = monotonicNanoseconds() + 100_000_000
        while monotonicNanoseconds() < deadline {
            let moved = iterate(now: monotonicNanoseconds())
            let pending = (0..<portCount).contains { dp.inService[$0] && (dp.queues[$0].count > 0 || io.transmitPending($0)) }
            if moved == 0 && !pending { break }
        }
        // Last completions (skbs freed since), so the ledger is as settled as it gets.
        for p in 0..<portCount where dp.inService[p] { _ = io.reclaim(p, pool: &dp.pool, loop: &loop) }
        var report = snapshot(running: false)
        if let r = recorder {
            let residence = (0..<portCount).map { p in
                (0..<EgressPort.queueCount).map { q in dp.queues[p].residence.buckets(q).flatMap { [$0.us, $0.count] } }
            }
            r.close(trailer: RecordTrailer(final: report, residence: residence))
            recorder = nil
        }
        let captured = closeCaptures()
        if !captured.isEmpty { report.captures = captured }
        if options.statsFile != nil { write(report) }
        io.close()
        return report
    }

    public func ledger() -> FrameLedger {
        var l = FrameLedger()
        l.total = dp.pool.capacity
        l.free = dp.pool.freeCount
        l.queued = dp.queuedFrames
        l.pending = dp.pendingFrames
        io.ledger(&l, inService: dp.inService)
        return l
    }

    public mutating func snapshot(running: Bool) -> SwitchReport {
        sequence += 1
        var ports: [PortReport] = []
        let modes = attachModes
        for p in 0..<portCount {
            let c = dp.counters[p]
            let x = io.steeringCounters(p)
            var drops: [String: UInt64] = [:]
            for r in DropReason.allCases { drops[r.description] = c.drops[r] }
            ports.append(PortReport(
                name: names[p], ifindex: ifindexes[p], inService: dp.inService[p],
                xdpMode: modes[p],
                rxFrames: c.rxFrames, rxBytes: c.rxBytes, txFrames: c.txFrames, txBytes: c.txBytes,
                floodCopies: c.floodCopies, drops: drops, dropsTotal: c.totalDrops,
                roceFrames: c.roceFrames, cnpFrames: c.cnpFrames, l4Skipped: c.l4Skipped, consumed: c.consumed,
                arpRequestsSent: c.arpRequestsSent, arpRepliesSent: c.arpRepliesSent, icmpEchoReplies: c.icmpEchoReplies,
                parseErrors: Dictionary(uniqueKeysWithValues: ParseError.allCases.map { ($0.description, c.parseErrors[raw: Int($0.rawValue)]) }.filter { $0.1 > 0 }),
                pfcRx: c.pfcRx.array, pfcXonTransitions: c.pfcXonTransitions.array,
                pfcPausedMicroseconds: (0..<8).map { prio in
                    Double(dp.queues[p].pausedNanoseconds(queue: dp.queueForPriority(prio), now: monotonicNanoseconds())) / 1000
                },
                pfcTx: c.pfcTx.array,
                pgBytes: (0..<8).map { UInt64(dp.buffer.held(port: p, pg: $0)) },
                pgWatermark: (0..<8).map { UInt64(dp.buffer.heldPeak(port: p, pg: $0)) },
                pgShared: (0..<8).map { UInt64(dp.buffer.shared(port: p, pg: $0)) },
                pgHeadroom: (0..<8).map { UInt64(dp.buffer.headroomUsed(port: p, pg: $0)) },
                pgHeadroomWatermark: (0..<8).map { UInt64(dp.buffer.headroomPeak(port: p, pg: $0)) },
                pfcReaction: ReactionReport(count: c.pfcReactions,
                                            meanMicroseconds: c.pfcReactions == 0 ? 0 : Double(c.pfcReactionTotalNanoseconds) / Double(c.pfcReactions) / 1000,
                                            maxMicroseconds: Double(c.pfcReactionMaxNanoseconds) / 1000),
                utilisation: dp.load.utilisation[p], loadBand: Int(dp.load.band[p]),
                pauseRx: c.pauseRx,
                queues: (0..<EgressPort.queueCount).map { q in
                    let d = dp.queues[p].depth(queue: q)
                    return QueueReport(queue: q, depthFrames: d.frames, depthBytes: d.bytes, watermarkFrames: dp.queues[p].watermark[q],
                                       enqueued: dp.queues[p].enqueued[q], dequeued: dp.queues[p].dequeued[q],
                                       dropped: dp.queues[p].dropped[q], ecnMarked: c.ecnMarked[q],
                                       stormed: dp.queues[p].stormed & (1 << UInt8(q)) != 0, pfcwdStorms: c.pfcwdStorms[q],
                                       pfcwdRestored: c.pfcwdRestored[q], pfcwdDropped: c.pfcwdDropped[q],
                                       pfcwdDetectedAfterMilliseconds: Double(c.pfcwdDetectedAfter[q]) / 1e6,
                                       residence: ResidenceReport(count: dp.queues[p].residence.count(q), p50: dp.queues[p].residence.percentile(q, 50),
                                                                  p99: dp.queues[p].residence.percentile(q, 99), p999: dp.queues[p].residence.percentile(q, 99.9),
                                                                  max: dp.queues[p].residence.max(q)))
                },
                xdpRedirected: x.redirected, xdpPassed: x.passed, socket: io.socketDrops(p)))
        }
        return SwitchReport(
            name: options.config?.name ?? "bridge", mode: dp.mode.rawValue,
            sequence: sequence, uptimeSeconds: Double(monotonicNanoseconds() - startedAt) / 1e9,
            running: running, ports: ports, macEntries: dp.bridge.table.count,
            neighbours: (dp.router.neighbours.entries(now: monotonicNanoseconds()).map {
                NeighbourReport(address: formatIPv4($0.ip), mac: $0.mac?.description, isStatic: $0.isStatic)
            }.sorted { $0.address < $1.address }) + dp.router.neighbours.entries6(now: monotonicNanoseconds()).map {
                NeighbourReport(address: $0.ip.description, mac: $0.mac?.description, isStatic: $0.isStatic)
            },
            ledger: ledger(), loop: loop,
            buffer: BufferReport(poolBytes: dp.buffer.poolBytes, usedBytes: dp.buffer.poolUsed, watermarkBytes: dp.buffer.poolWatermark),
            loadBalancing: LoadBalancingReport(newFlowlets: dp.router.selector.newFlowlets, pathChanges: dp.router.selector.pathChanges,
                                               collisions: dp.router.selector.collisions, sprayed: dp.router.selector.sprayed,
                                               flowletIdleMicroseconds: Double(dp.router.selector.idleNanoseconds) / 1000))
    }

    mutating func publishStats(running: Bool) {
        write(snapshot(running: running))
    }

    func write(_ report: SwitchReport) {
        guard let path = options.statsFile else { return }
        StatsFile.write(report, to: path)
    }
}



extension FabricSwitch where IO == XSKBackend {
    /// A switch over AF_XDP sockets.
    public init(options: SwitchOptions) throws {
        let indexes = try Self.interfaces(options)
        try self.init(options: options, ifindexes: indexes, io: try XSKBackend(options: options, ifindexes: indexes))
    }
}

extension FabricSwitch where IO == PacketBackend {
    /// A switch over AF_PACKET sockets (TPACKET_V3).
    public init(options: SwitchOptions) throws {
        let indexes = try Self.interfaces(options)
        try self.init(options: options, ifindexes: indexes, io: try PacketBackend(options: options, ifindexes: indexes))
    }
}

extension FabricSwitch where IO: ~Copyable {
    /// Writes a snapshot to --stats-file now (used once at start so readers know it is up).
    public mutating func publishStatsNow() { publishStats(running: true) }
}
