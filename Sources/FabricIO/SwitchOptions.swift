import FabricCore
import FabricSystem
import FabricXDP
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
    /// AF_XDP copy or zero-copy (`--zero-copy`): auto lets the kernel pick.
    public var zeroCopy: ZeroCopy = .auto
    /// Preferred busy polling (`--busy-poll USECS`, 0: off): each socket gets SO_PREFER_BUSY_POLL,
    /// SO_BUSY_POLL of this many microseconds and SO_BUSY_POLL_BUDGET of a batch, and the run
    /// loop drives the port's NAPI itself (a recvfrom/sendto on every pass) instead of waiting
    /// for the kernel's softirq or NAPI thread to fill the rings.
    public var busyPollMicroseconds = 0
    /// A bpf_link (the kernel detaches the program if the switch dies) or netlink.
    public var xdpAttachment: XDPAttachment = .auto
    public var poll: PollMode = .adaptive
    public var bpfObject: String
    public var queueID: UInt32 = 0
    public var batchSize = 64
    /// Entries of each AF_XDP tx and completion ring, and the least of each rx and fill ring
    /// (those grow to hold the stall budget, `FrameBudget`); a power of two.
    public var ringSize = 2048
    public var frameSize = FramePool.defaultFrameSize
    /// Capacity of each lossy egress queue, in frames; a power of two. (Lossless queues hold
    /// whatever their PGs may admit: `FrameBudget.losslessQueueCapacity`.)
    public var queueCapacity = 4096
    /// Overrides of the configuration's `buffers.stall_budget` and `stall_rate`
    /// (`--stall-budget`, `--stall-rate`).
    public var stallBudgetNanoseconds: UInt64? = nil
    public var stallRateGbps: Double? = nil
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
    /// SCHED_FIFO priority of the forwarding thread (`--worker-realtime N`, 1...99; 0: off).
    /// Then the kernel threads sharing its CPU (a veth's NAPI thread that copies frames in, the
    /// softirq that completes its transmits) run only while it sleeps, and it sleeps in poll()
    /// as soon as a pass moves nothing (never spins or yields: `spinMicroseconds` is unused).
    /// So the NAPI thread copies in a ring's worth and the worker forwards it, in turn: no
    /// frame is copied in that the worker has no time for (receive livelock), the excess waits
    /// at, and is refused by, the sender's veth. README "Performance", "A real-time worker".
    public var workerRealtimePriority = 0
    /// `--fastpath on`: the XDP program forwards itself what needs no userspace (bpf/README.md,
    /// "The fast path"); AF_XDP only.
    public var fastPath = false
    /// `--ring-wait on` (the default): the XDP program stamps every frame it steers to a socket
    /// with the time it saw it (8 bytes of metadata in front of the frame), so residence times
    /// start there and the time frames wait in the rx ring is measured (`ringWait`). AF_XDP only.
    public var ringStamps = true

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

    // What each tuning value may be: what the code can represent (times become nanoseconds
    // in a UInt64) and what makes sense for a switch. `fabric switch` checks its flags against
    // the same ranges before anything starts; `validate` checks them again for other callers.
    public static let ringSizes = 64...16384
    public static let queueCapacities = 64...65536
    /// Seconds; SONiC's fdb aging_time allows up to 1,000,000 too.
    public static let macAgingSeconds = 1...1_000_000
    /// Seconds; snapshots are written at the 100 ms housekeeping tick at the earliest.
    public static let statsIntervals: ClosedRange<Double> = 0.1...86_400
    /// Microseconds between samples of the depth ring and of `--record`: 10 us to 1 s.
    public static let sampleIntervals = 10...1_000_000

    /// The configuration the switch runs (`config`, or a learning bridge on `ports`), with the
    /// stall overrides applied.
    public var switchConfig: SwitchConfig {
        var c = config ?? SwitchConfig(name: "bridge", mode: .bridge, ports: ports.map { PortConfig(name: $0) })
        if let t = stallBudgetNanoseconds { c.buffers.stallBudgetNanoseconds = t }
        if let r = stallRateGbps { c.buffers.stallRateGbps = r }
        return c
    }

    /// The rings and frame memory: every frame the rings, queues and the switch's own frames may
    /// hold at once, receive rings holding the stall budget.
    public var frameBudget: FrameBudget { FrameBudget(config: switchConfig, ringSize: ringSize, batchSize: batchSize) }

    /// The most frames one packet takes: `FramePool.largestPacket` in frames as the kernel
    /// fills them (each after the receive headroom): 3 of 4096 bytes.
    public var segmentsPerPacket: Int {
        let room = frameSize - FramePool.rxHeadroom
        return (FramePool.largestPacket + room - 1) / room
    }

    func validate() throws {
        func pow2(_ v: Int) -> Bool { v > 0 && v & (v - 1) == 0 }
        guard !ports.isEmpty else { throw SystemError("no ports given (--ports a,b,...)") }
        guard Set(ports).count == ports.count else { throw SystemError("a port is listed twice in --ports \(ports.joined(separator: ","))") }
        guard ports.count <= SwitchConfig.maxPorts else { throw SystemError("at most \(SwitchConfig.maxPorts) ports") }
        for p in ports where p.isEmpty || p.utf8.count >= Int(IF_NAMESIZE) {
            throw SystemError("port name '\(p)' is not a valid interface name")
        }
        guard pow2(ringSize), Self.ringSizes.contains(ringSize) else {
            throw SystemError("ring size \(ringSize) must be a power of two in \(Self.ringSizes)")
        }
        guard pow2(queueCapacity), Self.queueCapacities.contains(queueCapacity) else {
            throw SystemError("queue capacity \(queueCapacity) must be a power of two in \(Self.queueCapacities)")
        }
        guard frameSize == 2048 || frameSize == 4096 else { throw SystemError("frame size must be 2048 or 4096") }
        if let mtu = config?.buffers.mtu, mtu > BufferConfig.largestMTU {
            throw SystemError("MTU \(mtu) is above \(BufferConfig.largestMTU), the largest the switch carries")
        }
        guard Self.macAgingSeconds.contains(macAgingSeconds) else {
            throw SystemError("MAC aging time must be \(Self.macAgingSeconds) seconds (got \(macAgingSeconds))")
        }
        guard Self.statsIntervals.contains(statsIntervalSeconds) else {
            throw SystemError("stats interval must be \(Self.statsIntervals) seconds (got \(statsIntervalSeconds))")
        }
        guard Self.sampleIntervals.contains(sampleIntervalMicroseconds) else {
            throw SystemError("sample interval must be \(Self.sampleIntervals) microseconds (got \(sampleIntervalMicroseconds))")
        }
        for port in config?.ports ?? [] where port.delayLineFrames > PortConfig.maxDelayLineFrames {
            throw SystemError("port \(port.name): delay \(port.delayNanoseconds) ns at \(port.speedGbps ?? 0) Gb/s puts more than \(PortConfig.maxDelayLineFrames) frames on the wire")
        }
        guard (1...ringSize).contains(batchSize) else { throw SystemError("batch size must be 1...\(ringSize)") }
        guard (0...1_000_000).contains(busyPollMicroseconds) else { throw SystemError("busy poll must be 0...1000000 microseconds") }
        guard (-20...19).contains(workerNice) else { throw SystemError("worker nice value must be -20...19 (got \(workerNice))") }
        guard (0...99).contains(workerRealtimePriority) else {
            throw SystemError("worker real-time priority must be 1...99, or 0 for none (got \(workerRealtimePriority))")
        }
        if workerRealtimePriority > 0 && poll == .busy {
            throw SystemError("a real-time worker cannot poll busy: spinning at real-time priority starves the kernel threads on its CPU that bring its frames in (use the adaptive poll)")
        }
        if let t = stallBudgetNanoseconds, t > 10_000_000_000 { throw SystemError("stall budget must be at most 10s") }
        if let r = stallRateGbps, !(r >= 0.001 && r <= 800) { throw SystemError("stall rate must be 1M...800G") }
        // The UMEM's frames are counted in 32 bits by the kernel; well below that, memory runs out.
        let b = frameBudget
        guard b.total <= FrameBudget.maxFrames else {
            throw SystemError("the frame memory would need \(b.total) frames of \(frameSize) B, at most \(FrameBudget.maxFrames): "
                              + "\(b.rxRing.reduce(0, +)) in receive rings (--ring-size, the stall budget and rate), \(b.rxRing.count * 2 * b.txRing) "
                              + "in transmit rings (--ring-size), \(b.queued) for the PGs and headroom (buffers), \(b.wire) on emulated wires (delay)")
        }
    }
}
