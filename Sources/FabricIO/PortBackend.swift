// The sockets under a switch's ports: what `FabricSwitch` needs from them, so the run loop,
// the pipeline, telemetry and shutdown are one code for every backend.
//
// Frames live in the backend's frame area and are named by their offset in it (a UMEM
// address for AF_XDP). The switch's FramePool hands out free frames; a backend gives frames
// to the kernel (AF_XDP fill and TX rings) or copies into them (AF_PACKET) and returns them to
// the pool when it is done. Every method on the per-batch path is generic-specialised (no
// existential), allocates nothing and makes a syscall per batch at most.
import CFabricShims
import FabricCore
import FabricSystem
import FabricTelemetry
import FabricXDP
import Glibc

public enum Backend: String, CaseIterable, Sendable {
    /// AF_XDP sockets with a shared UMEM, steered by bpf/fabric_xsk (the fast path).
    case afxdp
    /// AF_PACKET sockets with TPACKET_V3 rings and qdisc bypass: no XDP needed.
    case afpacket
    /// AF_XDP, or AF_PACKET (with a message saying why) when AF_XDP cannot be set up.
    case auto
}

public protocol PortBackend: ~Copyable {
    /// The frame area: frames are offsets into it.
    var frames: UnsafeMutableRawPointer { get }
    var frameCount: Int { get }
    /// How each port is attached, for the summary (native, generic, af_packet).
    var attachModes: [String] { get }

    /// Gives the kernel its first buffers and starts steering frames to the sockets.
    mutating func start(pool: inout FramePool) throws
    /// Frames whose transmission finished go back to the pool; returns how many.
    mutating func reclaim(_ p: Int, pool: inout FramePool, loop: inout LoopCounters) -> Int
    /// Fills `batch` (addr, len, count) with up to its capacity of frames received on port p.
    mutating func receive(_ p: Int, into batch: inout Batch, pool: inout FramePool) -> Int
    /// Frames received on port p that the switch has not taken yet (0 where the backend cannot
    /// tell); once per pass, before `receive`.
    mutating func rxWaiting(_ p: Int) -> Int
    /// Keeps port p supplied with receive buffers (never from the pool's reserve).
    mutating func refill(_ p: Int, pool: inout FramePool)
    /// How many frames port p can take for transmission now (at most `limit`).
    mutating func transmitRoom(_ p: Int, limit: Int, loop: inout LoopCounters) -> Int
    /// What a frame costs of `transmitRoom`: its descriptors (a jumbo frame's chain) or one slot.
    func transmitCost(_ addr: UInt64, pool: borrowing FramePool) -> Int
    /// The most `transmitCost` of any frame the switch carries.
    var largestTransmitCost: Int { get }
    /// The longest frame port p can receive and send whole (a chain of frames, or one frame
    /// where its socket could not take chains).
    func largestPacket(_ p: Int) -> Int
    /// Transmits `count` frames (offsets and lengths); their costs add up to at most transmitRoom.
    mutating func transmit(_ p: Int, addr: UnsafeMutablePointer<UInt64>, len: UnsafeMutablePointer<UInt32>, count: Int,
                           pool: inout FramePool, loop: inout LoopCounters)
    /// Blocks until a port in service has frames to receive, or a short timeout, or
    /// `wakeAfter` nanoseconds (a frame on an emulated wire arrives then).
    mutating func sleepUntilWork(inService: UnsafePointer<Bool>, wakeAfter: UInt64?, loop: inout LoopCounters)
    /// True while port p has frames handed to the kernel for transmission that are not sent.
    func transmitPending(_ p: Int) -> Bool
    /// Port p's interface vanished: recover every frame the kernel held for it; returns how many.
    mutating func vanish(_ p: Int, pool: inout FramePool) -> Int
    /// The backend's share of the frame ledger (frames in kernel rings).
    func ledger(_ l: inout FrameLedger, inService: UnsafePointer<Bool>)
    /// Frames the port's steering program redirected and passed (0 without one).
    func steeringCounters(_ p: Int) -> (redirected: UInt64, passed: UInt64)
    /// What the kernel dropped at the socket.
    mutating func socketDrops(_ p: Int) -> SocketDrops
    /// Why port p's interface (`name`, `ifindex` when the switch started) is gone, or nil while
    /// it is there under any name (housekeeping, every 100 ms).
    func interfaceGone(_ p: Int, name: String, ifindex: Int32) -> String?
    /// The name port p's interface has now (`name`: the last one seen), nil when it is gone.
    func interfaceName(_ p: Int, name: String, ifindex: Int32) -> String?
    /// Stops steering frames to the sockets (they go to the kernel's stack again).
    mutating func detach()
    /// Closes the sockets.
    mutating func close()
    /// The XDP fast path's shared maps (`--fastpath on`, AF_XDP, worker 0), else nil.
    var fastPathMaps: FastPathMaps? { get }
    /// Every received frame carries the time its port's XDP program saw it (CLOCK_MONOTONIC ns)
    /// in the 8 bytes in front of it (`--ring-wait on`, AF_XDP).
    var stampsFrames: Bool { get }
    /// Frames port p's program sent to userspace with the fast path on, per `FP_PUNT_*` slot
    /// (empty without the fast path).
    func fastPathPunts(_ p: Int) -> [UInt64]
}

extension PortBackend where Self: ~Copyable {
    public var fastPathMaps: FastPathMaps? { nil }
    public var stampsFrames: Bool { false }
    public func fastPathPunts(_ p: Int) -> [UInt64] { [] }

    /// The interface with that ifindex is gone. The index, not the name, is the device: a
    /// renamed interface keeps its index, its XDP program and its bound AF_XDP socket, and the
    /// kernel goes on using the frames on that socket's fill ring, so taking it for vanished
    /// (and recovering those frames) would hand the same frame to the kernel and to another
    /// port at once.
    public func interfaceGone(_ p: Int, name: String, ifindex: Int32) -> String? {
        if FabricSystem.interfaceName(ifindex: ifindex) != nil { return nil }
        return if_nametoindex(name) != 0 ? "interface was replaced" : "interface disappeared"
    }

    public func interfaceName(_ p: Int, name: String, ifindex: Int32) -> String? {
        FabricSystem.interfaceName(ifindex: ifindex)
    }
}

/// Blocks in ppoll() until a port in service has frames to receive: at most 1 ms when some port
/// has frames still to be sent back by the kernel (`short`), else 100 ms, and at most
/// `wakeAfter` nanoseconds when given. Idle path only.
func pollPorts(_ fds: UnsafeMutablePointer<pollfd>, count: Int, inService: UnsafePointer<Bool>,
               fd: (Int) -> Int32, short: (Int) -> Bool, wakeAfter: UInt64? = nil, loop: inout LoopCounters) {
    var n = 0
    var wakeSoon = false
    for p in 0..<count where inService[p] {
        fds[n] = pollfd(fd: fd(p), events: Int16(POLLIN), revents: 0)
        n += 1
        if short(p) { wakeSoon = true }
    }
    let timeout = min(wakeSoon ? 1_000_000 : 100_000_000, wakeAfter ?? .max)
    guard n > 0 else {
        usleep(useconds_t(timeout / 1000))
        return
    }
    loop.polls &+= 1
    _ = sf_ppoll_ns(fds, UInt(n), timeout)
}
