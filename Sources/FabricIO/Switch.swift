// The switch: a backend's sockets under the ports, the pipeline (Datapath) over them, the run
// loop (Switch+Run.swift), telemetry and teardown. Generic over the backend (AF_XDP or
// AF_PACKET), specialised at compile time, so the per-batch path has no dynamic dispatch.
//
// Run loop (Snabb's breathe with xdpsock's ring discipline), one thread:
//   for each port: reclaim TX completions into the pool, count what waits in the receive ring
//                  (buffer occupancy PFC sees before the frames are classified), receive one
//                  batch, run the pipeline (frames land in egress queues), top up the receive
//                  buffers in bulk;
//   for each port: move queued frames into the TX ring, kick the kernel if it asks.
// Syscalls happen per batch at most. `adaptive` polling spins while frames flow and blocks in
// poll() once idle for a while, so a switch shares the machine's two cores with generators and
// the kernel threads feeding it.
//
// Teardown (SIGINT/SIGTERM): stop steering frames to the sockets first (they go back to the
// kernel stack), drain what is queued, then close the sockets, then report.
import FabricCore
import FabricPacket
import FabricSystem
import FabricTelemetry
import Glibc

public typealias AFXDPSwitch = FabricSwitch<XSKBackend>
public typealias AFPacketSwitch = FabricSwitch<PacketBackend>

public struct FabricSwitch<IO: PortBackend & ~Copyable>: ~Copyable {
    public let options: SwitchOptions
    public let names: [String]
    let ifindexes: [Int32]
    /// Each port's interface name now (`names` until one is renamed).
    var currentNames: [String]
    /// Per port: its interface MTU was raised above what the switch carries while it ran (said
    /// once until it is lowered again).
    var mtuTooLarge: [Bool]
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

    /// `--capture`: the ports being captured.
    var captures: CaptureSet
    /// `--workers N` (`AFXDPWorkers`): worker 0's view of the others' reports; a secondary
    /// worker's slot to publish in; the flag that stops them all when worker 0 stops.
    var peerSlots: [WorkerSlot] = []
    var ownSlot: WorkerSlot?
    var workerStop: WorkerStop?
    /// `--fastpath on`: keeps the XDP fast path's maps in step with `dp` (worker 0 only).
    var fastPath: FastPathSync? = nil
    /// Each port's carrier and admin state, read every `linkCheckInterval`.
    let links: LinkStateReader
    static var linkCheckInterval: UInt64 { 2_000_000 }
    /// How long before a frame on an emulated wire is due the idle loop wakes to spin for it:
    /// more than a wakeup takes on a loaded machine (0.2-0.4 ms at a load of 16 on 2 cores).
    static var wireWakeEarly: UInt64 { 500_000 }
    /// A real-time worker with frames queued that could not leave (paused, held by the line
    /// rate, a full tx ring) sleeps this long before it tries again: the kernel threads it would
    /// otherwise starve complete its transmits and bring in the pause frames that release it.
    static var realtimeRetry: UInt64 { 20_000 }

    /// Starts capturing port `name` into a pcapng file.
    public mutating func capture(port name: String, path: String, limitBytes: Int) throws {
        try captures.add(port: name, path: path, limitBytes: limitBytes)
    }

    /// Checks the options and the interfaces; then `open` builds the backend's sockets.
    static func interfaces(_ options: SwitchOptions) throws -> [Int32] {
        try options.validate()
        var indexes: [Int32] = []
        for name in options.ports {
            let idx = if_nametoindex(name)
            guard idx != 0 else { throw SystemError("port \(name): no such interface in this network namespace") }
            indexes.append(Int32(idx))
        }
        return indexes
    }

    /// Sets up every port over `io` (built by the caller from the same options). Throws with a
    /// message naming the port and the cause; the backend releases what it holds if this fails.
    public init(options: SwitchOptions, ifindexes indexes: [Int32], io: consuming IO) throws {
        let portCount = options.ports.count
        let config = options.switchConfig
        let budget = options.frameBudget
        var macs: [MACAddress] = []
        for (p, port) in config.ports.enumerated() {
            if let m = port.mac {
                macs.append(m)
                continue
            }
            macs.append(MACAddress(rawValue: try interfaceMAC(options.ports[p])))
        }
        let links = try LinkStateReader(interfaces: options.ports)
        // A frame longer than the switch carries cannot be received whole (the kernel drops it
        // at the socket), so a port whose MTU allows such frames is refused, not left to lose them.
        for (p, name) in options.ports.enumerated() {
            let limit = Self.largestMTU(io.largestPacket(p))
            if let mtu = links.mtu(p), mtu > limit {
                let why = limit < BufferConfig.largestMTU
                    ? "the largest this port carries: its socket takes no multi-buffer frames, so a frame must fit one \(options.frameSize)-byte frame"
                    : "the largest this switch carries"
                throw SystemError("port \(name): interface MTU \(mtu) is above \(limit), \(why) (ip link set \(name) mtu \(limit))")
            }
        }
        // The reserve for the switch's PFC frames (a backend with fewer frames than the budget,
        // a test's, keeps back half its frames at most).
        var pool = FramePool(frameCount: io.frameCount, frameSize: options.frameSize, reserve: min(budget.reserve, io.frameCount / 2))
        try io.start(pool: &pool)
        let frames = io.frames
        self.options = options
        names = options.ports
        currentNames = options.ports
        mtuTooLarge = [Bool](repeating: false, count: portCount)
        self.portCount = portCount
        ifindexes = indexes
        self.io = io
        dp = Datapath(config: config, portMACs: macs, frames: frames,
                      pool: pool,
                      bridge: L2Bridge(table: MACTable(capacity: 8192, agingTime: UInt64(options.macAgingSeconds) * 1_000_000_000)),
                      queueCapacity: options.queueCapacity, losslessQueueCapacity: budget.losslessQueueCapacity)
        batch = Batch(capacity: options.batchSize)
        txAddr = .allocate(capacity: options.batchSize)
        txLen = .allocate(capacity: options.batchSize)
        depthRing = DepthRing(ports: portCount, intervalMicroseconds: options.sampleIntervalMicroseconds)
        captures = CaptureSet(portNames: options.ports)
        self.links = links
        startedAt = monotonicNanoseconds()
        for p in 0..<portCount {
            if let mtu = links.mtu(p) { dp.setLargestFrame(port: p, bytes: min(mtu + BufferConfig.ethernetOverhead, self.io.largestPacket(p))) }
        }
        for p in 0..<portCount where links.isUp(p) == false {
            dp.setLink(port: p, up: false)
            logLine("fabric: port \(names[p]): link down at start (no carrier or administratively down)")
        }
        if let maps = self.io.fastPathMaps { fastPath = FastPathSync(maps: maps, config: config, portMACs: macs, stamp: self.io.stampsFrames) }
    }

    /// The largest interface MTU whose frames fit `packet` bytes.
    static func largestMTU(_ packet: Int) -> Int { min(BufferConfig.largestMTU, packet - BufferConfig.ethernetOverhead) }

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
        if io.stampsFrames { readStamps(p, count: n, now: now) }
        // Before the pipeline rewrites them in place.
        captures.record(port: p, frames: dp.frames, pool: dp.pool, addr: batch.addr, len: batch.len, count: n, monotonic: now, outbound: false)
        dp.forward(&batch)
        return n
    }

    @inline(__always) mutating func transmit(_ p: Int, now: UInt64) -> Int {
        guard dp.hasQueued(port: p) else { return 0 }
        // Room in the TX ring, then as many frames as the scheduler and the emulated line rate
        // release now (into the scratch arrays), then exactly that many descriptors.
        // A jumbo frame takes several descriptors: frames are taken while the largest still fits.
        let most = io.largestTransmitCost
        let room = io.transmitRoom(p, limit: batch.capacity &+ most &- 1, loop: &loop)
        guard room >= most else { return 0 }
        var n = 0, used = 0
        var bytes: UInt64 = 0
        // A fresh clock for the shaper and the residence times: `now` was read before this
        // iteration received, so frames received just now would look older than it.
        let txNow = monotonicNanoseconds()
        // Frames are taken in runs that fit whatever their cost (at most `most` each): the same
        // frames as taking one at a time while `used + most <= room`. A short run means the
        // port had nothing more to send now.
        while n < batch.capacity {
            let fit = min((room &- used) / most, batch.capacity &- n)
            guard fit > 0 else { break }
            let k = dp.dequeueForTransmit(port: p, now: txNow, into: txAddr + n, len: txLen + n, most: fit)
            for j in n..<(n &+ k) {
                bytes &+= UInt64(txLen[j])
                used &+= io.transmitCost(txAddr[j], pool: dp.pool)
            }
            n &+= k
            if k < fit { break }
        }
        guard n > 0 else { return 0 }
        captures.record(port: p, frames: dp.frames, pool: dp.pool, addr: txAddr, len: txLen, count: n, monotonic: txNow, outbound: true)
        io.transmit(p, addr: txAddr, len: txLen, count: n, pool: &dp.pool, loop: &loop)
        dp.countTransmit(port: p, frames: n, bytes: bytes)
        return n
    }

    /// One pass over all ports. Returns the number of frames moved (0 = idle). `draining`: the
    /// switch is stopping (no periodic duties that would start something new).
    @inline(__always) mutating func iterate(now: UInt64, draining: Bool = false) -> Int {
        var work = 0
        for p in 0..<portCount where dp.isInService(p) {
            work &+= io.reclaim(p, pool: &dp.pool, loop: &loop)
            dp.rxBacklog(port: p, frames: io.rxWaiting(p), now: now)
            work &+= receive(p, now: now)
            io.refill(p, pool: &dp.pool)
        }
        dp.tick(now: now, draining: draining)
        for p in 0..<portCount where dp.isInService(p) {
            work &+= transmit(p, now: now)
        }
        loop.iterations &+= 1
        return work
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
