import FabricCore
import FabricIO
import FabricTelemetry
import Glibc

/// A `PortBackend` over in-memory rings with a scripted kernel: the switch's run loop, frame
/// ledger, vanish recovery and shutdown run exactly as over AF_XDP, without root. Each port has
/// the four AF_XDP rings (fill, rx, tx, completion) as plain queues; the test plays the kernel
/// through `Kernel`: it delivers frames (into buffers taken from the fill ring, or counted as a
/// drop when there is none, as the kernel does), and the kernel completes transmissions (all at
/// once, or only when told), keeping what went out on each port's wire. Frames longer than one
/// buffer travel as AF_XDP multi-buffer chains: several rx/tx descriptors, each but the last
/// flagged `more` (XDP_PKT_CONTD).
public struct EmbeddedBackend: PortBackend, ~Copyable {
    /// The kernel side, shared with the test that scripts it.
    public final class Kernel {
        public struct Port {
            public var fill: [UInt64] = []
            public var rx: [(addr: UInt64, len: UInt32, more: Bool)] = []
            public var tx: [(addr: UInt64, len: UInt32, more: Bool)] = []
            public var completion: [UInt64] = []
            /// Frames sent on this port's wire, in order.
            public var wire: [[UInt8]] = []
            /// Frames the kernel had no fill buffer for.
            public var rxDropped: UInt64 = 0
            public var vanished = false
            /// Set by the test: the interface is gone (the switch notices at its next check).
            public var removed = false
            /// Set by the test: the interface's new name (the switch notices at its next check).
            public var renamedTo: String?
        }
        public let frames: UnsafeMutableRawPointer
        public let frameSize: Int
        public let ringSize: Int
        public var ports: [Port]
        /// Complete every transmission when the switch submits it (a fast wire); otherwise
        /// only `completeTransmissions` does.
        public var completesAtOnce = true
        /// Set by the test: how long the switch's idle poll sleeps (0: it returns at once), for
        /// tests that run the loop on a thread beside clients.
        public var idleSleepMicroseconds: UInt32 = 0
        public fileprivate(set) var started = false
        public fileprivate(set) var detached = false
        public fileprivate(set) var closed = false

        init(frames: UnsafeMutableRawPointer, frameSize: Int, ports: Int, ringSize: Int) {
            self.frames = frames
            self.frameSize = frameSize
            self.ringSize = ringSize
            self.ports = Array(repeating: Port(), count: ports)
        }

        /// A frame arrives on `port`: written into the next fill buffer and put on the rx ring.
        /// False (counted in rxDropped) when the fill ring is empty, the rx ring full, or the
        /// switch no longer steers frames here.
        @discardableResult
        public func deliver(_ bytes: [UInt8], port p: Int) -> Bool {
            let parts = max(1, (bytes.count + frameSize - 1) / frameSize)
            guard started, !detached, !ports[p].vanished, ports[p].rx.count + parts <= ringSize, ports[p].fill.count >= parts else {
                ports[p].rxDropped += 1
                return false
            }
            for k in 0..<parts {
                let addr = ports[p].fill.removeFirst()
                let from = k * frameSize, n = min(frameSize, bytes.count - from)
                bytes.withUnsafeBytes { (frames + Int(addr)).copyMemory(from: $0.baseAddress! + from, byteCount: n) }
                ports[p].rx.append((addr, UInt32(n), k < parts - 1))
            }
            return true
        }

        /// The kernel sends what `port`'s TX ring holds: onto the wire (a chain's descriptors
        /// joined into one frame), buffers to completion one by one.
        public func completeTransmissions(port p: Int) {
            var frame: [UInt8] = []
            for d in ports[p].tx {
                frame += Array(UnsafeRawBufferPointer(start: frames + Int(d.addr), count: Int(d.len)))
                if !d.more {
                    ports[p].wire.append(frame)
                    frame = []
                }
                ports[p].completion.append(d.addr)
            }
            ports[p].tx.removeAll()
        }

        /// Frames the kernel holds for `port` in any ring.
        public func held(port p: Int) -> Int { ports[p].fill.count + ports[p].rx.count + ports[p].tx.count + ports[p].completion.count }
    }

    public let kernel: Kernel
    let area: UnsafeMutableRawPointer
    public let frames: UnsafeMutableRawPointer
    public let frameCount: Int
    public var attachModes: [String] { Array(repeating: "embedded", count: kernel.ports.count) }

    public init(ports: Int, frameCount: Int = 1024, frameSize: Int = 2048, ringSize: Int = 64) {
        area = .allocate(byteCount: frameCount * frameSize, alignment: 4096)
        area.initializeMemory(as: UInt8.self, repeating: 0, count: frameCount * frameSize)
        frames = area
        self.frameCount = frameCount
        kernel = Kernel(frames: area, frameSize: frameSize, ports: ports, ringSize: ringSize)
    }

    deinit { area.deallocate() }

    public mutating func start(pool: inout FramePool) throws {
        for p in 0..<kernel.ports.count { refill(p, pool: &pool) }
        kernel.started = true
    }

    public mutating func reclaim(_ p: Int, pool: inout FramePool, loop: inout LoopCounters) -> Int {
        let done = kernel.ports[p].completion
        for addr in done { pool.release(addr) }
        kernel.ports[p].completion.removeAll()
        return done.count
    }

    public mutating func receive(_ p: Int, into batch: inout Batch, pool: inout FramePool) -> Int {
        var n = 0, taken = 0
        let rx = kernel.ports[p].rx
        while n < batch.capacity, taken < rx.count {
            guard let last = rx[taken...].firstIndex(where: { !$0.more }) else { break }
            for k in taken...last { pool.link(rx[k].addr, length: rx[k].len, to: k < last ? rx[k + 1].addr : nil) }
            batch.addr[n] = rx[taken].addr
            batch.len[n] = rx[taken...last].reduce(0) { $0 + $1.len }
            if taken == last { _ = pool.unlink(rx[taken].addr) }
            n += 1
            taken = last + 1
        }
        kernel.ports[p].rx.removeFirst(taken)
        batch.count = n
        return n
    }

    public mutating func rxWaiting(_ p: Int) -> Int { kernel.ports[p].rx.count }

    /// As the AF_XDP backend: fill + rx hold at most one ring of buffers, never the reserve.
    public mutating func refill(_ p: Int, pool: inout FramePool) {
        guard !kernel.ports[p].vanished else { return }
        while kernel.ports[p].fill.count + kernel.ports[p].rx.count < kernel.ringSize, pool.available > 0 {
            kernel.ports[p].fill.append(pool.take())
        }
    }

    public mutating func transmitRoom(_ p: Int, limit: Int, loop: inout LoopCounters) -> Int {
        min(limit, kernel.ringSize - kernel.ports[p].tx.count)
    }

    public func transmitCost(_ addr: UInt64, pool: borrowing FramePool) -> Int { pool.segmentCount(addr) }
    public var largestTransmitCost: Int { (FramePool.largestPacket + kernel.frameSize - 1) / kernel.frameSize }
    public func largestPacket(_ p: Int) -> Int { FramePool.largestPacket }

    public mutating func transmit(_ p: Int, addr: UnsafeMutablePointer<UInt64>, len: UnsafeMutablePointer<UInt32>, count: Int,
                                  pool: inout FramePool, loop: inout LoopCounters) {
        for i in 0..<count {
            guard pool.isChained(addr[i]) else {
                kernel.ports[p].tx.append((addr[i], len[i], false))
                continue
            }
            var segment: UInt64? = addr[i]
            while let a = segment {
                let length = pool.segmentLength(a)
                segment = pool.unlink(a)
                kernel.ports[p].tx.append((a, length, segment != nil))
            }
        }
        precondition(kernel.ports[p].tx.count <= kernel.ringSize, "more descriptors than transmitRoom allowed")
        if kernel.completesAtOnce { kernel.completeTransmissions(port: p) }
    }

    public mutating func sleepUntilWork(inService: UnsafePointer<Bool>, wakeAfter: UInt64?, loop: inout LoopCounters) {
        loop.polls &+= 1
        if kernel.idleSleepMicroseconds > 0 { usleep(kernel.idleSleepMicroseconds) }
    }

    public func transmitPending(_ p: Int) -> Bool { !kernel.ports[p].tx.isEmpty }

    /// The interface went away: every frame the kernel held for the port comes back.
    public mutating func vanish(_ p: Int, pool: inout FramePool) -> Int {
        kernel.ports[p].vanished = true
        let port = kernel.ports[p]
        let addrs = port.fill + port.rx.map(\.addr) + port.tx.map(\.addr) + port.completion
        for a in addrs { pool.release(a) }
        kernel.ports[p].fill.removeAll()
        kernel.ports[p].rx.removeAll()
        kernel.ports[p].tx.removeAll()
        kernel.ports[p].completion.removeAll()
        return addrs.count
    }

    public func ledger(_ l: inout FrameLedger, inService: UnsafePointer<Bool>) {
        for port in kernel.ports {
            l.fillOutstanding += port.fill.count + port.rx.count
            l.txOutstanding += port.tx.count + port.completion.count
            l.inFillAndRxRings += port.fill.count + port.rx.count
            l.inTxAndCompletionRings += port.tx.count + port.completion.count
        }
    }

    public func interfaceGone(_ p: Int, name: String, ifindex: Int32) -> String? {
        kernel.ports[p].removed ? "interface disappeared" : nil
    }

    public func interfaceName(_ p: Int, name: String, ifindex: Int32) -> String? {
        kernel.ports[p].removed ? nil : kernel.ports[p].renamedTo ?? name
    }

    public func steeringCounters(_ p: Int) -> (redirected: UInt64, passed: UInt64) { (0, 0) }

    public mutating func socketDrops(_ p: Int) -> SocketDrops {
        var d = SocketDrops()
        d.rxDropped = kernel.ports[p].rxDropped
        return d
    }

    public mutating func detach() { kernel.detached = true }
    public mutating func close() { kernel.closed = true }
}
