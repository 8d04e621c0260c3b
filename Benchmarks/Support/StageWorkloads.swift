import FabricCore
import FabricPacket

// One pipeline stage each, without the rest of the pipeline, for the package-benchmark suite:
// a regression shows in the stage that caused it. Each `run(n)` does n units of work (frames)
// and returns a value that depends on every one, so the optimiser cannot drop any. State lives
// behind pointers the workloads allocate: the harness makes no ARC calls of its own.

/// The parser over 64 different RoCEv2 frames (varied destination, UDP source port and
/// opcode; some IPv6), as the router sees them.
public struct ParseWorkload: ~Copyable {
    let frames: UnsafeMutableRawPointer
    let lengths: UnsafeMutablePointer<Int>
    static let count = 64, stride = 256

    public init() {
        frames = .allocate(byteCount: Self.count * Self.stride, alignment: 64)
        frames.initializeMemory(as: UInt8.self, repeating: 0, count: Self.count * Self.stride)
        lengths = .allocate(capacity: Self.count)
        for i in 0..<Self.count {
            let f = RouterWorkload.roceFrame(destination: 0x0A00_0000 | UInt32(i) << 8 | 1, sourcePort: UInt16(0xC000 | i), ipv6: i % 8 == 7)
            let at = frames + i * Self.stride
            f.withUnsafeBytes { at.copyMemory(from: $0.baseAddress!, byteCount: f.count) }
            if i % 8 != 7 { at.storeBytes(of: internetChecksum(at + 14, count: 20).bigEndian, toByteOffset: 24, as: UInt16.self) }
            lengths[i] = f.count
        }
    }

    deinit {
        frames.deallocate()
        lengths.deallocate()
    }

    public func run(_ n: Int) -> Int {
        var acc = 0
        for i in 0..<n {
            let k = i & (Self.count - 1)
            let info = FrameParser.parse(UnsafeRawPointer(frames + k * Self.stride), length: lengths[k])
            acc &+= Int(info.kind.rawValue) &+ Int(info.l4Offset)
        }
        return acc
    }
}

/// IPv4 longest-prefix match (DIR-24-8) over `prefixes` random prefixes, destinations drawn
/// from them.
public struct LookupWorkload: ~Copyable {
    let fib: FIB
    let destinations: UnsafeMutablePointer<UInt32>
    /// Where the next batch starts in `destinations`: every batch looks up new addresses.
    let cursor: UnsafeMutablePointer<Int>

    public init(prefixes: Int) {
        let (routes, dsts) = RouterWorkload.randomRoutes(prefixes)
        fib = FIB(entries: routes.map { FIB.Entry(prefix: $0, nextHops: [NextHop(port: 2, gateway: .v4(0x0A00_0101)), NextHop(port: 3, gateway: .v4(0x0A00_0201))]) })
        destinations = .allocate(capacity: 4096)
        for i in 0..<4096 { destinations[i] = dsts[i % dsts.count] }
        cursor = .allocate(capacity: 1)
        cursor.initialize(to: 0)
    }

    deinit {
        destinations.deallocate()
        cursor.deallocate()
    }

    public func run(_ n: Int) -> Int {
        var acc = 0
        let start = cursor.pointee
        for i in 0..<n {
            acc &+= Int(fib.v4.lookup(destinations[(start &+ i) & 4095]) ?? 0)
        }
        cursor.pointee = start &+ n
        return acc
    }
}

/// The flowlet selector choosing between two uplinks for flows that come and go: 1024 flows,
/// a frame every 100 ns, so some flows find their flowlet idle and are placed anew.
public struct FlowletWorkload: ~Copyable {
    var load: PortLoad
    var selector: AdaptivePathSelector
    let ports: UnsafeMutablePointer<Int32>
    var now: UInt64 = 1_000_000

    public init() {
        load = PortLoad(portSpeedsGbps: [100, 100, 100, 100])
        selector = AdaptivePathSelector(load: load, tableSize: 4096, idleNanoseconds: 256_000)
        ports = .allocate(capacity: 2)
        ports[0] = 2
        ports[1] = 3
    }

    deinit { ports.deallocate() }

    public mutating func run(_ n: Int) -> Int {
        var acc = 0
        for i in 0..<n {
            now &+= 100
            // Flows hashed as the router does; every 7th flow is a newcomer.
            let flow = UInt64(i % 7 == 0 ? i : i & 1023)
            let hash = UInt32(truncatingIfNeeded: FlowHash.mix(flow))
            acc &+= selector.select(target: 0, mode: .flowlet, ports: ports, memberCount: 2, flowHash: hash, length: 1024, now: now)
        }
        return acc &+ Int(truncatingIfNeeded: selector.newFlowlets)
    }
}

/// A lossless priority group's buffer accounting around an egress queue: admit and charge
/// every frame (reserved, then the shared pool, then headroom with XOFF), enqueue it on queue
/// 3, then dequeue (DWRR/strict scheduler, shaper, pause check) and credit it (XON check).
/// Bursts of 64 KB: past the 16 KB reserved, into the shared pool.
public struct QueueWorkload: ~Copyable {
    var port: EgressPort
    var buffer: BufferAccounting
    public var xoffs = 0, xons = 0

    public init() {
        port = EgressPort(capacity: 1024, lineRateGbps: nil)
        buffer = BufferAccounting(config: BufferConfig(), losslessPGs: 1 << 3, portSpeedsGbps: [100, 100])
    }

    public mutating func run(_ n: Int) -> Int {
        var done = 0, acc = 0
        let now: UInt64 = 1_000_000
        while done < n {
            let burst = min(64, n - done)
            for i in 0..<burst {
                let bytes = 1024
                guard let part = buffer.admit(port: 0, pg: 3, bytes: bytes) else { continue }
                if buffer.charge(port: 0, pg: 3, bytes: bytes, part: part) { xoffs &+= 1 }
                _ = port.enqueue(addr: UInt64(i) << 12, len: UInt32(bytes), queue: 3, stamp: now)
            }
            while let f = port.dequeue(now: now) {
                if buffer.credit(port: 0, pg: 3, bytes: Int(f.len)) { xons &+= 1 }
                acc &+= Int(f.addr >> 12)
            }
            done += burst
        }
        return acc
    }
}
