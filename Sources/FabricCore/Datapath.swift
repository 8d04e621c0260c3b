#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

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
    public var bridge: L2Bridge
    public let queues: UnsafeMutablePointer<FrameQueue>
    public let counters: UnsafeMutablePointer<PortCounters>
    public let inService: UnsafeMutablePointer<Bool>

    public init(portCount: Int, frames: UnsafeMutableRawPointer, pool: consuming FramePool,
                bridge: consuming L2Bridge, queueCapacity: Int) {
        precondition(portCount > 0 && portCount < Int(Verdict.dropBase))
        self.portCount = portCount
        self.frames = frames
        self.pool = pool
        self.bridge = bridge
        queues = .allocate(capacity: portCount)
        counters = .allocate(capacity: portCount)
        inService = .allocate(capacity: portCount)
        for p in 0..<portCount {
            (queues + p).initialize(to: FrameQueue(capacity: queueCapacity))
            (counters + p).initialize(to: PortCounters())
            (inService + p).initialize(to: true)
        }
    }

    deinit {
        queues.deinitialize(count: portCount)
        queues.deallocate()
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

        bridge.process(&batch, frames: UnsafeRawPointer(frames))
        dispatch(&batch)
        batch.count = 0
    }

    @usableFromInline mutating func dispatch(_ batch: inout Batch) {
        let ingress = batch.ingress
        for i in 0..<batch.count {
            let verdict = batch.verdict[i]
            let addr = batch.addr[i]
            let len = batch.len[i]
            if let port = verdict.portIndex {
                enqueue(addr: addr, len: len, port: port)
            } else if verdict.isFlood {
                flood(addr: addr, len: len, ingress: ingress)
            } else {
                // Only drop verdicts are left; `?? .runt` cannot be taken.
                counters[ingress].drops[verdict.dropReason ?? .runt] &+= 1
                pool.release(addr)
            }
        }
    }

    @inline(__always) mutating func enqueue(addr: UInt64, len: UInt32, port: Int) {
        guard inService[port] else {
            counters[port].drops[.portDown] &+= 1
            pool.release(addr)
            return
        }
        if !queues[port].enqueue(addr: addr, len: len) {
            counters[port].drops[.queueFull] &+= 1
            pool.release(addr)
        }
    }

    /// Sends the frame to every in-service port but `ingress`: copies for all but the last
    /// target, which takes the original frame (so a flood to one port copies nothing).
    @usableFromInline mutating func flood(addr: UInt64, len: UInt32, ingress: Int) {
        var last = -1
        for p in 0..<portCount where p != ingress && inService[p] {
            if last >= 0 { copy(addr: addr, len: len, to: last) }
            last = p
        }
        if last >= 0 {
            enqueue(addr: addr, len: len, port: last)
        } else {
            counters[ingress].drops[.noEgress] &+= 1
            pool.release(addr)
        }
    }

    @inline(__always) mutating func copy(addr: UInt64, len: UInt32, to port: Int) {
        guard let fresh = pool.allocate() else {
            counters[port].drops[.noBuffer] &+= 1
            return
        }
        // Keep the offset inside the frame (headroom) so the copy looks like the original.
        let target = fresh + addr % UInt64(pool.frameSize)
        memcpy(frames + Int(target), frames + Int(addr), Int(len))
        counters[port].floodCopies &+= 1
        enqueue(addr: target, len: len, port: port)
    }

    /// Takes a port out of service: its queued frames go back to the pool (counted as
    /// `portDown` drops) and the addresses learned on it are forgotten.
    public mutating func takeOutOfService(port: Int) {
        guard inService[port] else { return }
        inService[port] = false
        while let frame = queues[port].dequeue() {
            counters[port].drops[.portDown] &+= 1
            pool.release(frame.addr)
        }
        bridge.table.flush(port: port)
    }

    /// Counts a frame as sent on `port` (the I/O layer calls this when it submits to TX).
    @inline(__always) public mutating func countTransmit(port: Int, frames n: Int, bytes: UInt64) {
        counters[port].txFrames &+= UInt64(n)
        counters[port].txBytes &+= bytes
    }
}
