import FabricCore
import FabricPacket
import FabricSystem
import FabricTestSupport
#if canImport(Glibc)
import Glibc
#endif

/// The router pipeline over RoCEv2 frames, shared by fabric-pipeline-bench and the
/// package-benchmark suite: 4 ports (h1 ingress, two uplinks), `prefixes` random IPv4
/// prefixes (/16 to /28) all routed over both uplinks, destinations drawn from those prefixes,
/// UDP source ports varied per frame as RoCEv2 QPs do. With `scan`, an address scan instead
/// (RFC 6583): IPv6 frames from h1, each to a new unused address of h2's /64, which the switch
/// holds and asks for within its request budget, or drops.
public struct RouterWorkload: ~Copyable {
    public static let batchSize = 64
    public static let frameCount = 4096
    /// The data path over plain memory (FabricTestSupport's, as the core tests use).
    public let bed: EmbeddedDatapath
    // Raw pointers, not arrays: the harness itself must make no ARC calls, or the audit
    // could not tell the pipeline's from its own.
    let template: UnsafeMutableRawPointer
    let templateLength: Int
    let destinations: UnsafeMutablePointer<UInt32>
    let scan: Bool
    /// Where the TX pass takes frames to (the switch's `txAddr`/`txLen`).
    let txAddr: UnsafeMutablePointer<UInt64>
    let txLen: UnsafeMutablePointer<UInt32>
    public var routed = 0

    public init(prefixes: Int, scan: Bool = false) {
        self.scan = scan
        var config = RouterLab.config(neighbours: true)
        if scan {
            config.ports[0].addresses.append(IPPrefix("fd77:1::fe/64", strict: false)!)
            config.ports[1].addresses.append(IPPrefix("fd77:2::fe/64", strict: false)!)
        }
        let (routes, dsts) = Self.randomRoutes(prefixes)
        let uplinks: [IPAddress] = [.v4(parseIPv4("10.0.1.1")!), .v4(parseIPv4("10.0.2.1")!)]
        config.routes = routes.map { RouteConfig(prefix: $0, nextHops: uplinks) }
        bed = EmbeddedDatapath(config: config, portMACs: RouterLab.portMACs.map { MACAddress(rawValue: $0) },
                               frameCount: Self.frameCount, queueCapacity: 1024, batchSize: Self.batchSize)
        // 4096 destinations (cycled when there are fewer prefixes), indexed with a mask.
        destinations = .allocate(capacity: 4096)
        txAddr = .allocate(capacity: Self.batchSize)
        txLen = .allocate(capacity: Self.batchSize)
        for i in 0..<4096 { destinations[i] = dsts[i % dsts.count] }
        let f = Self.roceFrame(destination: 0, sourcePort: 0xC000, ipv6: scan)
        templateLength = f.count
        template = .allocate(byteCount: f.count, alignment: 8)
        f.withUnsafeBytes { template.copyMemory(from: $0.baseAddress!, byteCount: f.count) }
    }

    /// `count` distinct random IPv4 prefixes (/16 to /28) and up to 4096 destinations inside them.
    public static func randomRoutes(_ count: Int) -> ([IPPrefix], [UInt32]) {
        var rng = SystemRandomNumberGenerator()
        var seen = Set<IPPrefix>()
        var routes: [IPPrefix] = []
        var dsts: [UInt32] = []
        while seen.count < count {
            let len = Int.random(in: 16...28, using: &rng)
            let a = UInt32.random(in: 0x0B00_0000...0xDF00_0000, using: &rng) & ~UInt32(0) << (32 - len)
            let p = IPPrefix(address: .v4(a), length: len)
            if seen.insert(p).inserted {
                routes.append(p)
                if dsts.count < 4096 { dsts.append(a | UInt32.random(in: 0...((1 << (32 - len)) - 1), using: &rng)) }
            }
        }
        return (routes, dsts)
    }

    /// Eth / IPv4 (DSCP 26, ECT(0)) / UDP 4791 / BTH RDMA WRITE ONLY / RETH / 32 B / ICRC (zero),
    /// from 10.77.1.1 to `destination` (IPv4 header checksum left 0: `write` sets it), or the
    /// same over IPv6 (fd77:1::1 to fd77:2::<destination>).
    public static func roceFrame(destination: UInt32, sourcePort: UInt16, ipv6: Bool = false) -> [UInt8] {
        var f: [UInt8] = Frames.macBytes(RouterLab.portMACs[0]) + Frames.macBytes(RouterLab.host1)
        let l4Len = 8 + 12 + 16 + 32 + 4
        let d = [UInt8(destination >> 24), UInt8(destination >> 16 & 0xFF), UInt8(destination >> 8 & 0xFF), UInt8(destination & 0xFF)]
        if ipv6 {
            f += [0x86, 0xDD, 0x60 | (26 << 2 | 2) >> 4, UInt8((26 << 2 | 2) & 0xF) << 4, 0, 0, UInt8(l4Len >> 8), UInt8(l4Len & 0xFF), 17, 64]
            f += [0xFD, 0x77, 0, 1] + [UInt8](repeating: 0, count: 11) + [1]
            f += [0xFD, 0x77, 0, 2] + [UInt8](repeating: 0, count: 8) + d
        } else {
            let ipLen = 20 + l4Len
            f += [0x08, 0x00]
            f += [0x45, 26 << 2 | 2, UInt8(ipLen >> 8), UInt8(ipLen & 0xFF), 0, 1, 0x40, 0, 64, 17, 0, 0, 10, 77, 1, 1] + d
        }
        f += [UInt8(sourcePort >> 8), UInt8(sourcePort & 0xFF), 0x12, 0xB7, UInt8(l4Len >> 8), UInt8(l4Len & 0xFF), 0, 0]
        f += [0x0A, 0x00, 0xFF, 0xFF, 0x00, 0x00, 0x01, 0x23, 0x80, 0x00, 0x00, 0x01]
        f += [UInt8](repeating: 0x11, count: 16) + [UInt8](repeating: 0x22, count: 32) + [0, 0, 0, 0]
        return f
    }

    deinit {
        template.deallocate()
        destinations.deallocate()
        txAddr.deallocate()
        txLen.deallocate()
    }

    /// Writes a fresh RoCEv2 frame (routing rewrote the last one in place) for destination
    /// `dst` and UDP source port `sport`, with a valid IPv4 header checksum.
    @inline(__always)
    func write(_ p: UnsafeMutableRawPointer, dst: UInt32, sport: UInt16) {
        p.copyMemory(from: template, byteCount: templateLength)
        if scan {  // IPv6: the last 4 bytes of the destination, then the UDP source port
            p.storeBytes(of: dst.bigEndian, toByteOffset: 50, as: UInt32.self)
            p.storeBytes(of: sport.bigEndian, toByteOffset: 54, as: UInt16.self)
            return
        }
        p.storeBytes(of: dst.bigEndian, toByteOffset: 30, as: UInt32.self)
        p.storeBytes(of: sport.bigEndian, toByteOffset: 34, as: UInt16.self)
        p.storeBytes(of: internetChecksum(p + 14, count: 20).bigEndian, toByteOffset: 24, as: UInt16.self)
    }

    /// Turns the per-queue residence-time histograms on or off on every port.
    public func recordResidence(_ on: Bool) { bed.dp.recordResidence(on) }

    /// `pipeline` false: only write and free the frames (the harness cost, to subtract).
    /// Frames leave 5 us after they came (a fixed time, no clock read per frame), so the
    /// residence histograms record every one when on.
    public mutating func run(_ n: Int, pipeline: Bool = true) -> Int {
        let batchSize = Self.batchSize, memory = bed.memory
        var done = 0
        var seq = 0
        while done < n {
            bed.batch.count = 0
            bed.batch.ingress = 0
            bed.batch.timestamp = monotonicNanoseconds()
            for i in 0..<batchSize {
                let addr = bed.dp.pool.take() + 256
                let dst = scan ? UInt32(truncatingIfNeeded: 0x0100_0000 &+ seq &+ i) : destinations[(seq &+ i) & 4095]
                write(memory + Int(addr), dst: dst, sport: UInt16(truncatingIfNeeded: 0xC000 | (seq &+ i) & 0x3FFF))
                bed.batch.addr[i] = addr
                bed.batch.len[i] = UInt32(templateLength)
            }
            bed.batch.count = batchSize
            guard pipeline else {
                for i in 0..<batchSize { bed.dp.pool.release(bed.batch.addr[i]) }
                done += batchSize
                seq &+= batchSize
                continue
            }
            bed.dp.forward(&bed.batch)
            let txNow = bed.batch.timestamp &+ 5_000
            // As the switch's TX pass takes them: a batch at a time.
            for p in 0..<4 {
                while true {
                    let k = bed.dp.dequeueForTransmit(port: p, now: txNow, into: txAddr, len: txLen, most: batchSize)
                    for j in 0..<k { bed.dp.pool.release(txAddr[j]) }
                    if p >= 2 { routed &+= k }
                    if k < batchSize { break }
                }
            }
            done += batchSize
            seq &+= batchSize
        }
        return done
    }
}
