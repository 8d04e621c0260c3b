// The AF_XDP switch: setup, the run loop, teardown.
//
// Setup: one anonymous mmap is the UMEM for every port. For each port: load and attach
// bpf/fabric_xsk (native, falling back to generic in `auto` mode), create an AF_XDP socket on
// queue 0 sharing the UMEM (xsk_socket__create_shared, libxdp's own program load inhibited) and
// put it into that program's xsks_map.
//
// Run loop (Snabb's breathe with xdpsock's ring discipline), one thread:
//   for each port: reclaim TX completions into the pool, receive one batch, run the pipeline
//                  (frames land in egress queues), top up the fill ring in bulk;
//   for each port: move queued frames into the TX ring, kick the kernel if it asks.
// Syscalls happen per batch at most and only when a ring's need_wakeup flag asks for them.
// `adaptive` polling spins while frames flow and blocks in poll() once idle for a while, so a
// switch shares the machine's two cores with generators and the kernel threads feeding it.
//
// Teardown (SIGINT/SIGTERM): detach the XDP programs first (frames go back to the kernel
// stack), drain what is queued, then close the sockets and the UMEM, then report.
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
    /// rings and the egress queue. A backlog in the rx ring then never starves the fill ring.
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
    }
}

/// Kernel objects a switch holds, released in order: XDP programs, sockets, UMEM, memory.
/// Idempotent, and run from deinit too, so a failed setup leaves nothing behind.
final class SwitchResources {
    var area: UnsafeMutableRawPointer?
    var areaSize = 0
    var umem: OpaquePointer?
    var programs: [XDPProgram] = []
    var locks: [PortLock] = []
    let rings: UnsafeMutablePointer<XSKRings>
    let portCount: Int

    init(portCount: Int) {
        self.portCount = portCount
        rings = .allocate(capacity: portCount)
        for p in 0..<portCount { (rings + p).initialize(to: XSKRings()) }
    }

    func detachPrograms() {
        for prog in programs { prog.detach() }
    }

    func closeSockets() {
        for p in 0..<portCount {
            if let s = rings[p].socket { xsk_socket__delete(s) }
            rings[p].socket = nil
            rings[p].fd = -1
        }
        if let u = umem { _ = xsk_umem__delete(u) }
        umem = nil
    }

    deinit {
        detachPrograms()
        closeSockets()
        programs.removeAll()
        locks.removeAll()
        if let a = area { munmap(a, areaSize) }
        for p in 0..<portCount { rings[p].deallocate() }
        rings.deallocate()
    }
}

public struct AFXDPSwitch: ~Copyable {
    public let options: SwitchOptions
    public let names: [String]
    let ifindexes: [Int32]
    let resources: SwitchResources
    let rings: UnsafeMutablePointer<XSKRings>
    let portCount: Int
    let fillTarget: Int
    var dp: Datapath
    var batch: Batch
    var loop = LoopCounters()
    let pollFDs: UnsafeMutablePointer<pollfd>
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

    /// Sets up every port. Throws with a message naming the port and the cause; whatever was
    /// set up before the failure is released.
    public init(options: SwitchOptions) throws {
        try options.validate()
        XDPProgram.configureLogging(verbose: options.verbose)
        let portCount = options.ports.count
        var indexes: [Int32] = []
        for name in options.ports {
            let idx = if_nametoindex(name)
            guard idx != 0 else { throw FabricIOError("port \(name): no such interface in this network namespace") }
            indexes.append(Int32(idx))
        }
        // Everything the kernel gives us hangs off `res`, whose deinit gives it back if a
        // later step throws.
        let res = SwitchResources(portCount: portCount)
        let rings = res.rings

        // One UMEM for all ports.
        let frameCount = options.framesPerPort * portCount
        let size = frameCount * options.frameSize
        guard let area = mmap(nil, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0),
              area != MAP_FAILED else {
            throw FabricIOError("cannot map \(size) bytes of UMEM", errno: errno)
        }
        res.area = area
        res.areaSize = size
        var umemConfig = xsk_umem_config(
            fill_size: UInt32(options.ringSize), comp_size: UInt32(options.ringSize),
            frame_size: UInt32(options.frameSize), frame_headroom: 0, flags: 0)
        var umem: OpaquePointer?
        let urc = xsk_umem__create(&umem, area, UInt64(size), rings[0].fill, rings[0].comp, &umemConfig)
        guard urc == 0, let umem else { throw FabricIOError.negative(urc, "cannot create UMEM (\(size) bytes)") }
        res.umem = umem

        for (p, name) in options.ports.enumerated() {
            res.locks.append(try PortLock(interface: name, ifindex: indexes[p]))
            let prog = try XDPProgram(objectPath: options.bpfObject, interface: name, ifindex: indexes[p])
            res.programs.append(prog)
            try prog.attach(mode: options.xdpMode)
            if prog.replacedStale {
                logLine("fabric: port \(name): replaced a stale \(XDPProgram.programName) program left by an earlier run")
            }
            var cfg = xsk_socket_config()
            cfg.rx_size = UInt32(options.ringSize)
            cfg.tx_size = UInt32(options.ringSize)
            cfg.libxdp_flags = UInt32(XSK_LIBXDP_FLAGS__INHIBIT_PROG_LOAD)
            cfg.xdp_flags = 0
            cfg.bind_flags = UInt16(XDP_USE_NEED_WAKEUP)
            var xsk: OpaquePointer?
            let r = rings[p]
            let src = xsk_socket__create_shared(&xsk, name, options.queueID, umem, r.rx, r.tx, r.fill, r.comp, &cfg)
            guard src == 0, let xsk else {
                throw FabricIOError.negative(src, "port \(name): cannot create AF_XDP socket on queue \(options.queueID)")
            }
            rings[p].socket = xsk
            rings[p].fd = xsk_socket__fd(xsk)
        }

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
        // Fill every port's fill ring first, then steer frames to the sockets: a frame that
        // met an empty fill ring would be dropped (the kernel counts it in rx_dropped).
        var pool = FramePool(frameCount: frameCount, frameSize: options.frameSize)
        for p in 0..<portCount {
            let r = rings[p]
            var idx: UInt32 = 0
            let n = UInt32(options.ringSize)
            guard xsk_ring_prod__reserve(r.fill, n, &idx) == n else { throw FabricIOError("port \(options.ports[p]): cannot fill the fill ring") }
            for i in 0..<Int(n) { xsk_ring_prod__fill_addr(r.fill, idx &+ UInt32(i)).pointee = pool.take() }
            xsk_ring_prod__submit(r.fill, n)
            rings[p].fillOutstanding = Int(n)
        }
        for p in 0..<portCount {
            let mrc = xsk_socket__update_xskmap(rings[p].socket, res.programs[p].xsksMapFD)
            guard mrc == 0 else { throw FabricIOError.negative(mrc, "port \(options.ports[p]): cannot insert socket into xsks_map") }
        }
        self.options = options
        names = options.ports
        self.portCount = portCount
        ifindexes = indexes
        resources = res
        self.rings = rings
        fillTarget = options.ringSize
        dp = Datapath(config: config, portMACs: macs, frames: area,
                      pool: pool,
                      bridge: L2Bridge(table: MACTable(capacity: 8192, agingTime: UInt64(options.macAgingSeconds) * 1_000_000_000)),
                      queueCapacity: options.queueCapacity)
        batch = Batch(capacity: options.batchSize)
        pollFDs = .allocate(capacity: portCount)
        txAddr = .allocate(capacity: options.batchSize)
        txLen = .allocate(capacity: options.batchSize)
        depthRing = DepthRing(ports: portCount, intervalMicroseconds: options.sampleIntervalMicroseconds)
        startedAt = monotonicNanoseconds()
    }

    deinit {
        pollFDs.deallocate()
        txAddr.deallocate()
        txLen.deallocate()
        // `resources` releases the kernel objects when its last reference goes.
    }

    /// XDP attach mode actually in use per port (after `auto` fallback).
    public var attachModes: [String] { resources.programs.map { $0.mode.rawValue } }

    // MARK: - The per-batch path (no allocation, no ARC, no locks)

    @inline(__always) mutating func reclaim(_ p: Int) -> Int {
        guard rings[p].txOutstanding > 0 else { return 0 }
        let r = rings[p]
        // Copy mode sends at most 32 frames per kick: keep kicking while the kernel has
        // unconsumed TX descriptors and says it wants a wakeup.
        if xsk_prod_nb_free(r.tx, UInt32(options.ringSize)) < UInt32(options.ringSize),
           xsk_ring_prod__needs_wakeup(r.tx) != 0 {
            kick(p)
        }
        var idx: UInt32 = 0
        let n = Int(xsk_ring_cons__peek(r.comp, UInt32(options.ringSize), &idx))
        guard n > 0 else { return 0 }
        for i in 0..<n {
            dp.pool.release(xsk_ring_cons__comp_addr(r.comp, idx &+ UInt32(i)).pointee)
        }
        xsk_ring_cons__release(r.comp, UInt32(n))
        rings[p].txOutstanding -= n
        return n
    }

    @inline(__always) mutating func receive(_ p: Int, now: UInt64) -> Int {
        let r = rings[p]
        var idx: UInt32 = 0
        let n = Int(xsk_ring_cons__peek(r.rx, UInt32(batch.capacity), &idx))
        guard n > 0 else { return 0 }
        for i in 0..<n {
            let d = xsk_ring_cons__rx_desc(r.rx, idx &+ UInt32(i))!
            batch.addr[i] = d.pointee.addr
            batch.len[i] = d.pointee.len
        }
        batch.count = n
        xsk_ring_cons__release(r.rx, UInt32(n))
        rings[p].fillOutstanding -= n
        batch.ingress = p
        batch.timestamp = now
        if captureMask & (1 << UInt64(p & 63)) != 0, let c = captures[p] {
            // Before the pipeline rewrites them in place.
            for i in 0..<n { c.record(UnsafeRawPointer(dp.frames + Int(batch.addr[i])), length: Int(batch.len[i]), monotonic: now, outbound: false) }
        }
        dp.forward(&batch)
        return n
    }

    @inline(__always) mutating func refill(_ p: Int) {
        let r = rings[p]
        // Keep the fill ring itself full (frames waiting in the rx ring do not count): a
        // backlog on rx must not leave the kernel without buffers. Refill in bulk, once at
        // least a batch worth of slots is free.
        let free = Int(xsk_prod_nb_free(r.fill, UInt32(fillTarget)))
        guard free >= batch.capacity || free == fillTarget else { return }
        let n = min(free, dp.pool.freeCount)
        guard n > 0 else { return }
        var idx: UInt32 = 0
        let got = Int(xsk_ring_prod__reserve(r.fill, UInt32(n), &idx))
        guard got > 0 else { return }
        for i in 0..<got {
            xsk_ring_prod__fill_addr(r.fill, idx &+ UInt32(i)).pointee = dp.pool.take()
        }
        xsk_ring_prod__submit(r.fill, UInt32(got))
        rings[p].fillOutstanding += got
        if xsk_ring_prod__needs_wakeup(r.fill) != 0 {
            _ = recvfrom(r.fd, nil, 0, Int32(MSG_DONTWAIT), nil, nil)
        }
    }

    @inline(__always) mutating func transmit(_ p: Int, now: UInt64) -> Int {
        guard !dp.queues[p].isEmpty else { return 0 }
        let r = rings[p]
        // Room in the TX ring, then as many frames as the scheduler and the emulated line rate
        // release now (into the scratch arrays), then exactly that many descriptors.
        let room = min(Int(xsk_prod_nb_free(r.tx, UInt32(batch.capacity))), batch.capacity)
        guard room > 0 else {
            kick(p)  // ring full: let the kernel drain it
            return 0
        }
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
        var idx: UInt32 = 0
        let got = Int(xsk_ring_prod__reserve(r.tx, UInt32(n), &idx))
        // `room` came from the ring itself, so the reservation cannot fall short.
        precondition(got == n, "TX ring reservation fell short")
        for i in 0..<got {
            let d = xsk_ring_prod__tx_desc(r.tx, idx &+ UInt32(i))!
            d.pointee.addr = txAddr[i]
            d.pointee.len = txLen[i]
            d.pointee.options = 0
        }
        xsk_ring_prod__submit(r.tx, UInt32(got))
        rings[p].txOutstanding += got
        dp.countTransmit(port: p, frames: got, bytes: bytes)
        if xsk_ring_prod__needs_wakeup(r.tx) != 0 { kick(p) }
        return got
    }

    @inline(__always) mutating func kick(_ p: Int) {
        loop.kicks &+= 1
        if sendto(rings[p].fd, nil, 0, Int32(MSG_DONTWAIT), nil, 0) < 0 {
            switch errno {
            case EAGAIN, EBUSY, ENOBUFS, EINTR: break        // the kernel is busy: try again next round
            case ENETDOWN, ENXIO: rings[p].suspect = true    // link down or interface gone
            default: loop.kickErrors &+= 1
            }
        }
    }

    /// One pass over all ports. Returns the number of frames moved (0 = idle).
    @inline(__always) mutating func iterate(now: UInt64) -> Int {
        var work = 0
        for p in 0..<portCount where dp.inService[p] {
            work &+= reclaim(p)
            work &+= receive(p, now: now)
            refill(p)
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
        let spin = UInt64(options.spinMicroseconds) * 1000
        let tick: UInt64 = 100_000_000
        let statsEvery = UInt64(options.statsIntervalSeconds * 1e9)
        var lastWork = monotonicNanoseconds()
        var lastTick = lastWork
        var lastStats = lastWork
        var lastAging = lastWork
        dp.resolveNextHops(now: lastWork)
        while !stopRequested.load(ordering: .relaxed) {
            var now = monotonicNanoseconds()
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
                sleepUntilWork()
                now = monotonicNanoseconds()
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

    /// Blocks in poll() until a port has frames to receive, a timeout, or a signal.
    mutating func sleepUntilWork() {
        var n = 0
        var short = false
        for p in 0..<portCount where dp.inService[p] {
            pollFDs[n] = pollfd(fd: rings[p].fd, events: Int16(POLLIN), revents: 0)
            n += 1
            // Frames the kernel still holds for TX come back on the completion ring, which
            // poll() does not report: wake soon to collect them if the fill ring runs low.
            if rings[p].txOutstanding > 0 { short = true }
        }
        guard n > 0 else {
            usleep(100_000)
            return
        }
        loop.polls &+= 1
        let rc = poll(pollFDs, nfds_t(n), short ? 1 : 100)
        if rc > 0 {
            var i = 0
            for p in 0..<portCount where dp.inService[p] {
                if pollFDs[i].revents & Int16(POLLERR | POLLHUP | POLLNVAL) != 0 { rings[p].suspect = true }
                i += 1
            }
        }
    }

    /// Takes out of service every port whose interface has disappeared (or was replaced by
    /// another interface of the same name).
    mutating func checkPorts() {
        for p in 0..<portCount where dp.inService[p] {
            let idx = if_nametoindex(names[p])
            if idx == 0 || Int32(idx) != ifindexes[p] {
                vanish(p, why: idx == 0 ? "interface disappeared" : "interface was replaced")
            } else {
                rings[p].suspect = false
            }
        }
    }

    /// Takes port `p` out of service and recovers every frame it held: its egress queue, and
    /// what sat in its four rings when the kernel unbound the socket.
    mutating func vanish(_ p: Int, why: String) {
        resources.programs[p].interfaceVanished()
        dp.takeOutOfService(port: p)
        let r = rings[p]
        var recovered = 0
        var idx: UInt32 = 0
        // Received but not yet processed.
        let rx = Int(xsk_ring_cons__peek(r.rx, UInt32(options.ringSize), &idx))
        for i in 0..<rx { dp.pool.release(xsk_ring_cons__rx_desc(r.rx, idx &+ UInt32(i))!.pointee.addr) }
        xsk_ring_cons__release(r.rx, UInt32(rx))
        // Given to the fill ring, never consumed by the kernel.
        var fill = 0
        if let cons = r.fill.pointee.consumer {
            let consumed = cons.pointee
            fill = Int(r.fill.pointee.cached_prod &- consumed)
            for i in 0..<fill { dp.pool.release(xsk_ring_prod__fill_addr(r.fill, consumed &+ UInt32(i)).pointee) }
        }
        rings[p].fillOutstanding -= rx + fill
        // Sent and completed, or never sent.
        let comp = Int(xsk_ring_cons__peek(r.comp, UInt32(options.ringSize), &idx))
        for i in 0..<comp { dp.pool.release(xsk_ring_cons__comp_addr(r.comp, idx &+ UInt32(i)).pointee) }
        xsk_ring_cons__release(r.comp, UInt32(comp))
        var tx = 0
        if let cons = r.tx.pointee.consumer {
            let consumed = cons.pointee
            tx = Int(r.tx.pointee.cached_prod &- consumed)
            for i in 0..<tx { dp.pool.release(xsk_ring_prod__tx_desc(r.tx, consumed &+ UInt32(i))!.pointee.addr) }
        }
        rings[p].txOutstanding -= comp + tx
        recovered = rx + fill + comp + tx
        logLine("fabric: port \(names[p]): \(why); taken out of service, \(recovered) frames recovered, "
            + "forwarding continues on \(activePorts.joined(separator: ","))")
    }

    var activePorts: [String] { (0..<portCount).filter { dp.inService[$0] }.map { names[$0] } }

    /// Orderly stop: detach XDP, drain queued frames for up to 100 ms, close sockets, report.
    mutating func shutdown() -> SwitchReport {
        resources.detachPrograms()
        let deadline = monotonicNanoseconds() + 100_000_000
        while monotonicNanoseconds() < deadline {
            let moved = iterate(now: monotonicNanoseconds())
            let pending = (0..<portCount).contains { dp.inService[$0] && (dp.queues[$0].count > 0 || XSKRings.pending(rings[$0].tx) > 0) }
            if moved == 0 && !pending { break }
        }
        // Last completions (skbs freed since), so the ledger is as settled as it gets.
        for p in 0..<portCount where dp.inService[p] { _ = reclaim(p) }
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
        resources.closeSockets()
        return report
    }

    public func ledger() -> FrameLedger {
        var l = FrameLedger()
        l.total = dp.pool.capacity
        l.free = dp.pool.freeCount
        l.queued = dp.queuedFrames
        l.pending = dp.pendingFrames
        for p in 0..<portCount {
            l.fillOutstanding += rings[p].fillOutstanding
            l.txOutstanding += rings[p].txOutstanding
            if dp.inService[p] {
                l.inFillAndRxRings += XSKRings.pending(rings[p].fill) + XSKRings.pending(rings[p].rx)
                l.inTxAndCompletionRings += XSKRings.pending(rings[p].tx) + XSKRings.pending(rings[p].comp)
            }
        }
        return l
    }

    public mutating func snapshot(running: Bool) -> SwitchReport {
        sequence += 1
        var ports: [PortReport] = []
        for p in 0..<portCount {
            let c = dp.counters[p]
            let x = resources.programs[p].counters()
            var drops: [String: UInt64] = [:]
            for r in DropReason.allCases { drops[r.description] = c.drops[r] }
            ports.append(PortReport(
                name: names[p], ifindex: ifindexes[p], inService: dp.inService[p],
                xdpMode: resources.programs[p].mode.rawValue,
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
                xdpRedirected: x.redirected, xdpPassed: x.passed, socket: socketDrops(p)))
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

    /// XDP_STATISTICS of port p's socket (one getsockopt; off the data path).
    func socketDrops(_ p: Int) -> SocketDrops {
        var st = xdp_statistics()
        var len = socklen_t(MemoryLayout<xdp_statistics>.size)
        var d = SocketDrops()
        guard rings[p].fd >= 0, getsockopt(rings[p].fd, 283 /* SOL_XDP */, XDP_STATISTICS, &st, &len) == 0 else { return d }
        d.rxRingFull = st.rx_ring_full
        d.rxDropped = st.rx_dropped
        d.fillRingEmpty = st.rx_fill_ring_empty_descs
        d.rxInvalid = st.rx_invalid_descs
        d.txInvalid = st.tx_invalid_descs
        return d
    }

    mutating func publishStats(running: Bool) {
        write(snapshot(running: running))
    }

    func write(_ report: SwitchReport) {
        guard let path = options.statsFile else { return }
        StatsFile.write(report, to: path)
    }
}



extension AFXDPSwitch {
    /// Writes a snapshot to --stats-file now (used once at start so readers know it is up).
    public mutating func publishStatsNow() { publishStats(running: true) }
}
