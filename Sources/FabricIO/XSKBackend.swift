// The AF_XDP backend: one UMEM for every port. For each port: load and attach bpf/fabric_xsk
// (native, falling back to generic in `auto` mode), open an AF_XDP socket on its queue over the
// shared UMEM (`UMEM.openSocket`) and put it into that program's xsks_map. Frames move between ports by address,
// never copied in user space. Ring discipline as xdpsock: batched rx/tx, bulk refill, kicks
// only when a ring's need_wakeup flag asks.
//
// Sizes come from `FrameBudget`: each port's fill and rx rings hold the stall budget (what
// arrives while the worker is away waits there, and the kernel drops only once the fill ring
// is empty), the tx and completion rings `--ring-size`, and the UMEM every frame the rings,
// queues and the switch's own frames may hold at once.
import CXDP
import FabricCore
import FabricSystem
import FabricTelemetry
import FabricXDP
import Glibc

public struct XSKBackend: PortBackend, ~Copyable {
    let resources: XSKResources
    let rings: UnsafeMutablePointer<XSKRings>
    let portCount: Int
    /// Entries of every tx and completion ring (each port's rx and fill size: `XSKRings.rxSize`).
    let ringSize: Int
    let batchCapacity: Int
    /// The most frames one packet takes: `FramePool.largestPacket` in received frames.
    let maxSegments: Int
    /// Preferred busy polling: the loop's recvfrom/sendto drive NAPI on every pass.
    let busyPoll: Bool
    /// `--ring-wait on`: every frame its sockets receive carries an XDP stamp (`PortBackend`).
    public let stampsFrames: Bool
    let pollFDs: UnsafeMutablePointer<pollfd>
    public let frames: UnsafeMutableRawPointer
    public let frameCount: Int

    /// True for a secondary worker's backend: it attaches nothing and takes no port lock.
    let secondary: Bool
    /// The queue this backend's sockets are bound to.
    let queue: UInt32

    /// What a secondary worker's backend needs of this one (the primary's).
    public var share: XSKShare { XSKShare(resources: resources) }

    /// Sets up every port on queue `options.queueID`. Throws with a message naming the port
    /// and the cause; whatever was set up before the failure is released. With `primary`, the
    /// ports' programs are the primary backend's (a secondary worker): none is attached, no
    /// port lock taken.
    public init(options: SwitchOptions, ifindexes: [Int32], primary: XSKShare? = nil) throws {
        XDPProgram.configureLogging(verbose: options.verbose)
        let portCount = options.ports.count
        let res = XSKResources(portCount: portCount)
        let rings = res.rings
        let budget = options.frameBudget
        let frameCount = budget.total
        let umem = try UMEM(frameCount: frameCount, frameSize: options.frameSize, fillSize: budget.rxRing.max() ?? options.ringSize,
                            completionSize: budget.txRing, rings: rings[0], what: "UMEM")
        res.umem = umem

        for (p, name) in options.ports.enumerated() {
            if let primary {
                res.mapPrograms.append(primary.resources.programs[p])
            } else {
                res.locks.append(try PortLock(interface: name, ifindex: ifindexes[p]))
                let prog = try XDPProgram(objectPath: options.bpfObject, interface: name, ifindex: ifindexes[p])
                res.programs.append(prog)
                res.mapPrograms.append(prog)
                if options.fastPath {
                    // The first port's program creates the shared maps; every other one is
                    // pointed at them before it loads (in `attach`). Each is told its port.
                    if let maps = res.fastPath { try maps.share(with: prog) } else { res.fastPath = try FastPathMaps(owner: prog) }
                }
                try prog.attach(mode: options.xdpMode, via: options.xdpAttachment)
                if let maps = res.fastPath {
                    try FastPathMaps.setPortIndex(p, of: prog)
                    try maps.setTransmit(port: p, ifindex: ifindexes[p])
                } else if options.ringStamps {
                    // With the fast path, FastPathSync writes FP_STAMP into the shared fp_config.
                    try FastPathMaps.setStampOnly(of: prog)
                }
                if prog.replacedStale {
                    logLine("fabric: port \(name): replaced a stale \(XDPProgram.programName) program left by an earlier run")
                }
                if prog.attachment == .netlink && options.xdpAttachment == .auto {
                    logLine("fabric: port \(name): XDP attached through netlink (this kernel refused an XDP link): "
                        + "if the switch dies, the program stays until the next start removes it")
                }
            }
            try umem.openSocket(interface: name, queue: options.queueID, rings: &rings[p], rxSize: budget.rxRing[p], txSize: budget.txRing,
                                zeroCopy: options.zeroCopy)
            if options.busyPollMicroseconds > 0 {
                try rings[p].setBusyPoll(microseconds: options.busyPollMicroseconds, budget: options.batchSize, interface: name)
                // Linux 6.13+ gives an AF_XDP socket the NAPI a busy poll drives at bind, and
                // only in zero-copy mode; without one the option does nothing (README).
                if rings[p].napiID() == 0, let k = KernelRelease.running, k >= .busyPollNeedsZeroCopy {
                    logLine("fabric: port \(name): --busy-poll has no effect: its AF_XDP socket has no NAPI to poll (SO_INCOMING_NAPI_ID 0; "
                        + "since Linux 6.13 only zero-copy sockets get one, and \(rings[p].zeroCopy ? "this one is zero-copy" : "this one copies"))")
                }
            }
        }
        resources = res
        self.rings = rings
        self.portCount = portCount
        ringSize = options.ringSize
        batchCapacity = options.batchSize
        maxSegments = options.segmentsPerPacket
        secondary = primary != nil
        queue = options.queueID
        busyPoll = options.busyPollMicroseconds > 0
        stampsFrames = options.ringStamps
        pollFDs = .allocate(capacity: portCount)
        frames = umem.base
        self.frameCount = frameCount
    }

    deinit {
        pollFDs.deallocate()
        // `resources` releases the kernel objects when its last reference goes.
    }

    /// Per port: the XDP attach mode and the socket's copy mode, `native/copy`, `native/zero-copy`.
    public var attachModes: [String] {
        resources.mapPrograms.indices.map { "\(resources.mapPrograms[$0].mode.rawValue)/\(rings[$0].zeroCopy ? "zero-copy" : "copy")" }
    }

    /// Fills every port's fill ring first, then steers frames to the sockets: a frame that met
    /// an empty fill ring would be dropped (the kernel counts it in rx_dropped).
    public mutating func start(pool: inout FramePool) throws {
        for p in 0..<portCount {
            let r = rings[p]
            var idx: UInt32 = 0
            let n = UInt32(r.rxSize)
            guard xsk_ring_prod__reserve(r.fill, n, &idx) == n else { throw SystemError("port \(resources.mapPrograms[p].interface): cannot fill the fill ring") }
            for i in 0..<Int(n) { xsk_ring_prod__fill_addr(r.fill, idx &+ UInt32(i)).pointee = pool.take() }
            xsk_ring_prod__submit(r.fill, n)
            rings[p].fillOutstanding = Int(n)
        }
        for p in 0..<portCount {
            let mrc = xsk_socket__update_xskmap(rings[p].socket, resources.mapPrograms[p].xsksMapFD)
            guard mrc == 0 else { throw SystemError.negative(mrc, "port \(resources.mapPrograms[p].interface): cannot insert socket into xsks_map") }
        }
        // The primary starts last (`WorkerGroup`): once it serves, every worker's socket is in.
        if !secondary { for prog in resources.programs { try prog.startServing() } }
    }

    // MARK: - The per-batch path (no allocation, no ARC, no locks)

    @inline(__always) public mutating func reclaim(_ p: Int, pool: inout FramePool, loop: inout LoopCounters) -> Int {
        guard rings[p].txOutstanding > 0 else { return 0 }
        let r = rings[p]
        // Copy mode sends at most 32 frames per kick: keep kicking while the kernel has
        // unconsumed TX descriptors and says it wants a wakeup.
        if xsk_prod_nb_free(r.tx, UInt32(ringSize)) < UInt32(ringSize),
           xsk_ring_prod__needs_wakeup(r.tx) != 0 {
            kick(p, loop: &loop)
        }
        var idx: UInt32 = 0
        let n = Int(xsk_ring_cons__peek(r.comp, UInt32(ringSize), &idx))
        guard n > 0 else { return 0 }
        for i in 0..<n {
            pool.release(xsk_ring_cons__comp_addr(r.comp, idx &+ UInt32(i)).pointee)
        }
        xsk_ring_cons__release(r.comp, UInt32(n))
        rings[p].txOutstanding -= n
        return n
    }

    @inline(__always) public mutating func receive(_ p: Int, into batch: inout Batch, pool: inout FramePool) -> Int {
        let r = rings[p]
        var idx: UInt32 = 0
        // A batch's worth of frames, and room for the rest of a chain that starts at its end
        // (so that a chain always fits one pass, whatever the batch size).
        let avail = Int(xsk_ring_cons__peek(r.rx, UInt32(batch.capacity &+ maxSegments &- 1), &idx))
        guard avail > 0 else {
            if busyPoll { r.kickFill() }   // runs the port's NAPI: frames for the next pass
            return 0
        }
        var n = 0, i = 0
        while i < avail && n < batch.capacity {
            let d = xsk_ring_cons__rx_desc(r.rx, idx &+ UInt32(i))!
            if d.pointee.options & XSKRings.packetContinues == 0 {
                batch.addr[n] = d.pointee.addr
                batch.len[n] = d.pointee.len
                n &+= 1
                i &+= 1
                continue
            }
            // A jumbo frame: descriptors i...last, all but the last flagged.
            guard let last = chainEnd(r, idx: idx, from: i, available: avail) else { break }  // its end is not here yet
            if receiveChain(p, r, idx: idx, from: i, to: last, pool: &pool, head: &batch.addr[n], total: &batch.len[n]) { n &+= 1 }
            i = last &+ 1
        }
        // Descriptors beyond the batch, or of a packet whose last frame lies beyond this peek,
        // stay for the next pass.
        if i < avail { xsk_ring_cons__cancel(r.rx, UInt32(avail &- i)) }
        batch.count = n
        xsk_ring_cons__release(r.rx, UInt32(i))
        rings[p].fillOutstanding -= i
        return n
    }

    /// The index of the descriptor ending the packet that starts at `first`, nil if it is
    /// beyond the `available` peeked.
    @inline(__always) func chainEnd(_ r: XSKRings, idx: UInt32, from first: Int, available: Int) -> Int? {
        var j = first
        while j < available {
            if xsk_ring_cons__rx_desc(r.rx, idx &+ UInt32(j))!.pointee.options & XSKRings.packetContinues == 0 { return j }
            j &+= 1
        }
        return nil
    }

    /// Links descriptors first...last into one packet (its head and total length out); false
    /// when it is longer than the switch carries: its frames go back to the pool, counted.
    @inline(__always) mutating func receiveChain(_ p: Int, _ r: XSKRings, idx: UInt32, from first: Int, to last: Int, pool: inout FramePool,
                                                 head: inout UInt64, total: inout UInt32) -> Bool {
        var bytes = 0
        for k in first...last { bytes &+= Int(xsk_ring_cons__rx_desc(r.rx, idx &+ UInt32(k))!.pointee.len) }
        guard last &- first &+ 1 <= maxSegments, bytes <= FramePool.largestPacket else {
            for k in first...last { pool.release(xsk_ring_cons__rx_desc(r.rx, idx &+ UInt32(k))!.pointee.addr) }
            rings[p].oversize &+= 1
            return false
        }
        for k in first...last {
            let d = xsk_ring_cons__rx_desc(r.rx, idx &+ UInt32(k))!.pointee
            pool.link(d.addr, length: d.len, to: k < last ? xsk_ring_cons__rx_desc(r.rx, idx &+ UInt32(k &+ 1))!.pointee.addr : nil)
        }
        head = xsk_ring_cons__rx_desc(r.rx, idx &+ UInt32(first))!.pointee.addr
        total = UInt32(bytes)
        return true
    }

    /// Frames the kernel has put in port p's rx ring that the switch has not taken: read from
    /// the producer index with a plain load, a count and not a claim on the descriptors, so a
    /// stale value only delays it by a pass. Keeps the ring's peak.
    @inline(__always) public mutating func rxWaiting(_ p: Int) -> Int {
        guard let producer = rings[p].rx.pointee.producer else { return 0 }
        let waiting = Int(producer.pointee &- rings[p].rx.pointee.cached_cons)
        if waiting > rings[p].rxPeak { rings[p].rxPeak = waiting }
        return waiting
    }

    @inline(__always) public mutating func refill(_ p: Int, pool: inout FramePool) {
        let r = rings[p]
        // The kernel holds at most one ring of receive buffers: fill ring + rx ring together
        // (what the kernel consumed from the fill ring and the switch has not yet received).
        // That is all the rx ring can hold anyway, so no burst is absorbed less; but under
        // overload the kernel now finds the fill ring empty and drops *before* copying the frame
        // (rx_dropped), where a full fill ring made it copy every excess frame into the UMEM and
        // then drop it at the full rx ring (rx_ring_full): wasted copies on the forwarding core.
        // Refill in bulk, once at least a batch worth of slots is free.
        // The frames of the pool's reserve are the switch's PFC frames': never given to the kernel.
        let free = min(Int(xsk_prod_nb_free(r.fill, UInt32(r.rxSize))), r.rxSize &- rings[p].fillOutstanding)
        guard free >= batchCapacity else { return }
        let n = min(free, pool.available)
        if n < free { pool.refusals &+= 1 }
        guard n > 0 else { return }
        var idx: UInt32 = 0
        let got = Int(xsk_ring_prod__reserve(r.fill, UInt32(n), &idx))
        guard got > 0 else { return }
        for i in 0..<got {
            xsk_ring_prod__fill_addr(r.fill, idx &+ UInt32(i)).pointee = pool.take()
        }
        xsk_ring_prod__submit(r.fill, UInt32(got))
        rings[p].fillOutstanding += got
        if xsk_ring_prod__needs_wakeup(r.fill) != 0 { r.kickFill() }
    }

    @inline(__always) public func transmitCost(_ addr: UInt64, pool: borrowing FramePool) -> Int {
        // No chain anywhere (no jumbo frame in the switch): no lookup in the pool's links.
        pool.chained == 0 || !pool.isChained(addr) ? 1 : pool.segmentCount(addr)
    }

    public var largestTransmitCost: Int { maxSegments }

    public func largestPacket(_ p: Int) -> Int {
        rings[p].multiBuffer ? FramePool.largestPacket : resources.umem!.frameSize - FramePool.rxHeadroom
    }

    @inline(__always) public mutating func transmitRoom(_ p: Int, limit: Int, loop: inout LoopCounters) -> Int {
        let room = min(Int(xsk_prod_nb_free(rings[p].tx, UInt32(limit))), limit)
        if room == 0 { kick(p, loop: &loop) }  // ring full: let the kernel drain it
        return room
    }

    @inline(__always) public mutating func transmit(_ p: Int, addr: UnsafeMutablePointer<UInt64>, len: UnsafeMutablePointer<UInt32>, count n: Int,
                                                    pool: inout FramePool, loop: inout LoopCounters) {
        let r = rings[p]
        // One descriptor a frame, a chain's worth for a jumbo one (the run loop kept within
        // transmitRoom counting those). No chain anywhere (no jumbo frame in the switch): no
        // lookup in the pool's links.
        let chains = pool.chained > 0
        var descriptors = n
        if chains {
            for i in 0..<n where pool.isChained(addr[i]) { descriptors &+= pool.segmentCount(addr[i]) &- 1 }
        }
        var idx: UInt32 = 0
        let got = Int(xsk_ring_prod__reserve(r.tx, UInt32(descriptors), &idx))
        // Within transmitRoom, which came from the ring itself: it cannot fall short.
        precondition(got == descriptors, "TX ring reservation fell short")
        var k: UInt32 = 0
        for i in 0..<n {
            if !chains || !pool.isChained(addr[i]) {
                let d = xsk_ring_prod__tx_desc(r.tx, idx &+ k)!
                d.pointee.addr = addr[i]
                d.pointee.len = len[i]
                d.pointee.options = 0
                k &+= 1
                continue
            }
            // Each frame of the chain is its own descriptor and comes back on the completion
            // ring on its own: unlinked here, released one by one by `reclaim`.
            var segment: UInt64? = addr[i]
            while let a = segment {
                let d = xsk_ring_prod__tx_desc(r.tx, idx &+ k)!
                d.pointee.addr = a
                d.pointee.len = pool.segmentLength(a)
                segment = pool.unlink(a)
                d.pointee.options = segment == nil ? 0 : XSKRings.packetContinues
                k &+= 1
            }
        }
        xsk_ring_prod__submit(r.tx, UInt32(got))
        rings[p].txOutstanding += got
        if busyPoll || xsk_ring_prod__needs_wakeup(r.tx) != 0 { kick(p, loop: &loop) }
    }

    @inline(__always) mutating func kick(_ p: Int, loop: inout LoopCounters) {
        loop.kicks &+= 1
        // Busy, or the device down or gone (the housekeeping pass looks) are not errors.
        if !rings[p].kickTransmit() { loop.kickErrors &+= 1 }
    }
}
