import FabricCore
import FabricPacket

/// The whole pipeline fed random and mutated frames in-process: parse, classify, bridge or
/// route (host stack, FIB, ECMP, flowlet and spray groups, neighbour resolution), ECN, ingress
/// admission and PFC, egress queues, shaper, pauses, delay line and loss, the PFC watchdog,
/// link flaps, jumbo frames (multi-buffer chains of up to `FramePool.largestPacket` bytes);
/// with ports that stop sending for a while, so queues fill, PFC fires and the
/// watchdog acts. After every batch the frame ledger must balance (every frame free, queued,
/// on a wire or pending); at the end, with every port drained, every frame must be back in the
/// pool exactly once and no priority group may still hold a byte.
///
/// `fabric-pipeline-bench --fuzz N` runs it at benchmark scale (release, 10^7 frames), a core
/// test at CI scale. Seeded: a failure names the seed and the batch that broke the ledger.
public final class PipelineFuzzer {
    public struct Failure: Error, CustomStringConvertible {
        public var description: String
    }

    public struct Report: Sendable {
        public var frames = 0
        public var batches = 0
        /// Frames fed as templates unchanged, with bytes flipped, truncated, extended, or random.
        public var byMutation = [Int](repeating: 0, count: 5)
        /// Of those, frames made jumbo: a chain of frames, the first full.
        public var jumbo = 0
        public var received: UInt64 = 0
        public var transmitted: UInt64 = 0
        public var consumed: UInt64 = 0
        public var drops: [String: UInt64] = [:]
        public var ledgerChecks = 0
        public var peakQueued = 0
        public var peakPending = 0
        public var pfcSent: UInt64 = 0
        public var linkFlaps = 0
        public var seed: UInt64 = 0

        public var summary: String {
            let d = drops.sorted { $0.value > $1.value }.map { "\($0.key) \($0.value)" }.joined(separator: ", ")
            return """
            \(frames) frames in \(batches) batches (seed 0x\(String(seed, radix: 16))): unchanged \(byMutation[0]), bytes flipped \(byMutation[1]), \
            truncated \(byMutation[2]), extended \(byMutation[3]), random \(byMutation[4]); \(jumbo) made jumbo (chains)
              received \(received), transmitted \(transmitted), consumed \(consumed), PFC frames sent \(pfcSent), link flaps \(linkFlaps)
              drops: \(d)
              ledger checked \(ledgerChecks) times, balanced every time; peak queued \(peakQueued), pending \(peakPending); \
            all frames back in the pool once each, buffers empty
            """
        }
    }

    public let mode: ForwardingMode
    public let bed: EmbeddedDatapath
    let templates: [[UInt8]]
    var rng: UInt64
    let seed: UInt64
    let maxLength: Int
    let portCount: Int

    /// Frames of the UMEM and their size (the switch's default 4096 B frames hold up to
    /// 4096 - 256 bytes received).
    public init(mode: ForwardingMode, seed: UInt64, frameCount: Int = 4096, frameSize: Int = FramePool.defaultFrameSize, queueCapacity: Int = 512) {
        self.mode = mode
        self.seed = seed
        rng = seed | 1
        maxLength = frameSize - EmbeddedDatapath.headroom
        var config = mode == .router ? RouterLab.config(neighbours: false) : SwitchConfig(mode: .bridge, ports: (0..<4).map { PortConfig(name: "p\($0)") })
        portCount = config.ports.count
        // Every egress stage in play: a shaped port, a port with a delay line and loss, a port
        // trusting PCP; the watchdog quick enough to act within a run.
        config.ports[1].speedGbps = 1
        config.ports[2].delayNanoseconds = 50_000
        config.ports[2].speedGbps = 10
        config.ports[2].lossPercent = 1
        config.ports[2].lossSeed = seed
        config.ports[3].trust = .pcp
        config.pfcWatchdog.detectionNanoseconds = 2_000_000
        config.pfcWatchdog.restorationNanoseconds = 2_000_000
        config.buffers.poolBytes = 1 << 20   // XOFF before the 512-frame queues fill
        config.ecn.kminBytes = 8 * 1024
        config.ecn.kmaxBytes = 64 * 1024
        if mode == .router {
            config.ports[0].addresses.append(IPPrefix("fd77:1::fe/64", strict: false)!)
            config.ports[1].addresses.append(IPPrefix("fd77:2::fe/64", strict: false)!)
            let up: [IPAddress] = [.v4(parseIPv4("10.0.1.1")!), .v4(parseIPv4("10.0.2.1")!)]
            config.routes.append(RouteConfig(prefix: IPPrefix("10.98.0.0/16", strict: true)!, nextHops: up, mode: .flowlet))
            config.routes.append(RouteConfig(prefix: IPPrefix("10.97.0.0/16", strict: true)!, nextHops: up, mode: .spray))
            config.neighbours = [NeighbourConfig(address: .v4(parseIPv4("10.0.1.1")!), mac: MACAddress(rawValue: RouterLab.spine1))]
        }
        bed = EmbeddedDatapath(config: config, portMACs: RouterLab.portMACs.map { MACAddress(rawValue: $0) }, frameCount: frameCount,
                               frameSize: frameSize, queueCapacity: queueCapacity, batchSize: 64,
                               bridge: L2Bridge(table: MACTable(capacity: 256, agingTime: 50_000_000)))
        templates = Self.templates()
    }

    /// Valid frames of every kind the pipeline handles, from hosts h1/h2 and the spines.
    static func templates() -> [[UInt8]] {
        let (h1, h2, sw1, sw2) = (RouterLab.host1, RouterLab.host2, RouterLab.portMACs[0], RouterLab.portMACs[1])
        let a1 = RouterLab.h1, a2 = RouterLab.h2
        let v6a = IPv6Address(high: 0xFD77_0001_0000_0000, low: 1), v6b = IPv6Address(high: 0xFD77_0002_0000_0000, low: 1)
        let v6sw = IPv6Address(high: 0xFD77_0001_0000_0000, low: 0xFE)
        var t: [[UInt8]] = []
        for dscp: UInt8 in [0, 26, 48] {   // lossy, lossless (RoCE's TC), CNP
            t.append(Frames.udp4(dstMAC: sw1, srcMAC: h1, src: a1, dst: a2, sport: 0xC001, dport: 4791, tos: dscp << 2 | 2, payload: 1024))
            t.append(Frames.udp4(dstMAC: sw1, srcMAC: h1, src: a1, dst: parseIPv4("10.99.3.4")!, sport: 0xC002, dport: 4791, tos: dscp << 2 | 1, payload: 64))
        }
        t.append(Frames.udp4(dstMAC: sw1, srcMAC: h1, src: a1, dst: parseIPv4("10.98.1.1")!, sport: 0xC003, dport: 4791, tos: 26 << 2 | 2, payload: 900))
        t.append(Frames.udp4(dstMAC: sw1, srcMAC: h1, src: a1, dst: parseIPv4("10.97.1.1")!, sport: 0xC004, dport: 4791, tos: 26 << 2 | 2, payload: 900))
        t.append(Frames.udp4(dstMAC: sw1, srcMAC: h1, src: a1, dst: parseIPv4("10.77.2.77")!, sport: 1, dport: 9, payload: 100))  // unresolved
        t.append(Frames.udp4(dstMAC: sw1, srcMAC: h1, src: a1, dst: parseIPv4("192.0.2.1")!, sport: 1, dport: 9, payload: 100))   // no route
        t.append(Frames.udp4(dstMAC: sw1, srcMAC: h1, src: a1, dst: a2, sport: 1, dport: 9, ttl: 1, payload: 100))
        t.append(Frames.udp4(dstMAC: sw2, srcMAC: h2, src: a2, dst: a1, sport: 0xC005, dport: 4791, tos: 26 << 2 | 2, payload: 1400))
        t.append(Frames.udp4(dstMAC: 0xFFFF_FFFF_FFFF, srcMAC: h1, src: a1, dst: 0xFFFF_FFFF, sport: 1, dport: 9, payload: 40))
        t.append(Frames.udp4(dstMAC: h2, srcMAC: h1, src: a1, dst: a2, sport: 7, dport: 9, payload: 200))  // bridged h1 -> h2
        t.append(Frames.arp(op: 1, dstMAC: 0xFFFF_FFFF_FFFF, sha: h1, spa: a1, tha: 0, tpa: parseIPv4("10.77.1.254")!))
        t.append(Frames.arp(op: 2, dstMAC: sw2, sha: h2, spa: a2, tha: sw2, tpa: parseIPv4("10.77.2.254")!))
        t.append(Frames.arp(op: 2, dstMAC: RouterLab.portMACs[3], sha: RouterLab.spine2, spa: parseIPv4("10.0.2.1")!, tha: RouterLab.portMACs[3],
                            tpa: parseIPv4("10.0.2.0")!))
        t.append(Frames.icmpEcho(dstMAC: sw1, srcMAC: h1, src: a1, dst: parseIPv4("10.77.1.254")!))
        t.append(Frames.icmpEcho(dstMAC: sw1, srcMAC: h1, src: a1, dst: a2, tos: 26 << 2))
        t.append(Frames.udp6(dstMAC: sw1, srcMAC: h1, src: v6a, dst: v6b, sport: 0xC006, dport: 4791, payload: 512))
        t.append(Frames.neighbourAdvertisement(dstMAC: sw2, srcMAC: h2, target: v6b, dst: IPv6Address(high: 0xFD77_0002_0000_0000, low: 0xFE)))
        t.append(Frames.udp6(dstMAC: sw1, srcMAC: h1, src: v6a, dst: v6sw, sport: 1, dport: 9, payload: 16))
        for q: UInt16 in [0xFFFF, 0] { t.append(Frames.pfc(source: h1, priority: 3, quanta: q)) }
        t.append(Frames.pfc(source: RouterLab.spine1, priority: 3, quanta: 0xFFFF))
        // 802.1Q-tagged RoCE (PCP 3) and a PAUSE frame.
        var tagged = Frames.udp4(dstMAC: sw1, srcMAC: h1, src: a1, dst: a2, sport: 0xC007, dport: 4791, tos: 26 << 2 | 2, payload: 700)
        tagged.insert(contentsOf: [0x81, 0x00, 0x60, 0x0A], at: 12)
        t.append(tagged)
        var pause = Frames.eth(0x0180_C200_0001, h1, 0x8808) + [0, 1, 0xFF, 0xFF]
        pause += [UInt8](repeating: 0, count: 60 - pause.count)
        t.append(pause)
        return t
    }

    @inline(__always) func random() -> UInt64 {
        rng ^= rng >> 12; rng ^= rng << 25; rng ^= rng >> 27
        return rng &* 0x2545_F491_4F6C_DD1D
    }

    @inline(__always) func random(_ n: Int) -> Int { Int(random() % UInt64(max(1, n))) }

    /// Writes one fuzzed frame at `p`; returns its length and what was done to it.
    func write(into p: UnsafeMutableRawPointer, ingress: Int) -> (length: Int, mutation: Int) {
        let roll = random(100)
        if roll >= 92 {  // random bytes, any length up to the frame
            let n = random(4) == 0 ? random(64) : random(maxLength + 1)
            var i = 0
            while i < n { p.storeBytes(of: UInt8(truncatingIfNeeded: random()), toByteOffset: i, as: UInt8.self); i += 1 }
            return (n, 4)
        }
        let t = templates[random(templates.count)]
        t.withUnsafeBytes { p.copyMemory(from: $0.baseAddress!, byteCount: t.count) }
        var n = t.count
        // Frames to the router's h1 port MAC go to the ingress port's own MAC (mostly).
        if mode == .router && random(4) != 0 && t.count >= 6 && Frames.mac(t, 0) == RouterLab.portMACs[0] {
            let mac = RouterLab.portMACs[ingress]
            for i in 0..<6 { p.storeBytes(of: UInt8(truncatingIfNeeded: mac >> UInt64(40 - 8 * i)), toByteOffset: i, as: UInt8.self) }
        }
        let mutation: Int
        switch roll {
        case ..<35: mutation = 0
        case ..<75:  // flip 1-8 bytes, mostly in the headers
            mutation = 1
            for _ in 0...random(8) {
                let at = random(4) == 0 ? random(n) : random(min(n, 80))
                p.storeBytes(of: UInt8(truncatingIfNeeded: random()), toByteOffset: at, as: UInt8.self)
            }
        case ..<84:
            mutation = 2
            n = random(n + 1)
        default:
            mutation = 3
            let extra = random(maxLength - n + 1)
            for i in 0..<extra { p.storeBytes(of: UInt8(truncatingIfNeeded: random()), toByteOffset: n + i, as: UInt8.self) }
            n += extra
        }
        // Sources vary (the MAC table fills and ages); now and then a group or zero source.
        if n >= 12 && random(8) == 0 {
            let mac = random(16) == 0 ? 0 : 0x0200_0000_0000 | random() & 0xFF_FFFF
            for i in 0..<6 { p.storeBytes(of: UInt8(truncatingIfNeeded: mac >> UInt64(40 - 8 * i)), toByteOffset: 6 + i, as: UInt8.self) }
        }
        return (n, mutation)
    }

    /// Turns the frame of `length` bytes at `head` into a jumbo frame as the kernel hands one
    /// over: the first frame full (random bytes after the original ones), then as many more
    /// frames as a random total of up to `FramePool.largestPacket` takes, linked in the pool.
    /// Returns the total (shorter if the pool ran out).
    func makeJumbo(_ head: UInt64, length: Int) -> Int {
        let dp = bed
        func fill(_ addr: UInt64, from: Int, to: Int) {
            var i = from
            while i < to { (dp.memory + Int(addr)).storeBytes(of: UInt8(truncatingIfNeeded: random()), toByteOffset: i, as: UInt8.self); i += 1 }
        }
        fill(head, from: length, to: maxLength)
        var left = maxLength + 1 + random(FramePool.largestPacket - maxLength) - maxLength
        var total = maxLength
        var last = head, lastLength = maxLength
        while left > 0, let frame = dp.dp.pool.allocate() {
            let addr = frame + UInt64(EmbeddedDatapath.headroom)
            let n = min(left, maxLength)
            fill(addr, from: 0, to: n)
            dp.dp.pool.link(last, length: UInt32(lastLength), to: addr)
            last = addr
            lastLength = n
            total += n
            left -= n
        }
        dp.dp.pool.link(last, length: UInt32(lastLength), to: nil)
        return total
    }

    /// Feeds `frames` frames; throws at the first batch after which the ledger does not balance,
    /// or if the drained switch does not give every frame back once.
    public func run(frames total: Int) throws -> Report {
        var r = Report()
        r.seed = seed
        var now: UInt64 = 1_000_000
        // Per port: until when it sends nothing (a peer that paused it, a slow sink).
        var stalledUntil = [UInt64](repeating: 0, count: portCount)
        var down = [Bool](repeating: false, count: portCount)
        let dp = bed
        while r.frames < total {
            dp.batch.count = 0
            let n = min(1 + random(64), total - r.frames), ingress = random(portCount)
            for _ in 0..<n {
                guard let frame = dp.dp.pool.allocate() else { break }
                let addr = frame + UInt64(EmbeddedDatapath.headroom)
                var (len, mutation) = write(into: dp.memory + Int(addr), ingress: ingress)
                if len > 0 && random(10) == 0 {
                    len = makeJumbo(addr, length: len)
                    r.jumbo += 1
                }
                _ = dp.batch.append(addr: addr, len: UInt32(len))
                r.byMutation[mutation] += 1
                r.frames += 1
            }
            now &+= UInt64(random(20_000))
            dp.forward(ingress: ingress, now: now)
            r.batches += 1
            // Each port sends what its shaper, pauses and line allow, a random share of it, or
            // nothing while stalled.
            for p in 0..<portCount {
                if now < stalledUntil[p] { continue }
                if random(200) == 0 { stalledUntil[p] = now &+ UInt64(random(8_000_000)) }
                let limit = random(4) == 0 ? Int.max : random(32)
                var sent = 0
                while sent < limit, let f = dp.dp.dequeueForTransmit(port: p, now: now) {
                    dp.dp.pool.release(f.addr)
                    sent += 1
                }
                r.transmitted &+= UInt64(sent)
            }
            if random(500) == 0 {
                let p = random(portCount)
                down[p].toggle()
                _ = dp.dp.setLink(port: p, up: !down[p])
                r.linkFlaps += 1
            }
            dp.dp.tick(now: now)
            let batches = r.batches
            try checkLedger(&r, after: "batch \(batches)")
        }
        // Drain: links up, every port sends for as long as anything waits, pending frames expire.
        for p in 0..<portCount where down[p] { _ = dp.dp.setLink(port: p, up: true) }
        var rounds = 0
        while dp.dp.queuedFrames + dp.dp.pendingFrames > 0 {
            now &+= 1_000_000
            for p in 0..<portCount {
                while let f = dp.dp.dequeueForTransmit(port: p, now: now) {
                    dp.dp.pool.release(f.addr)
                    r.transmitted &+= 1
                }
            }
            dp.dp.tick(now: now)
            try checkLedger(&r, after: "drain round \(rounds)")
            rounds += 1
            if rounds > 100_000 {
                throw Failure(description: "seed \(seed): \(dp.dp.queuedFrames) frames queued and \(dp.dp.pendingFrames) pending after 100 s of draining")
            }
        }
        try checkDrained()
        for p in 0..<portCount {
            let c = dp.dp.stats(port: p, now: now).counters
            r.received &+= c.rxFrames
            r.consumed &+= c.consumed
            r.pfcSent &+= c.pfcTx.array.reduce(0, +)
            for q in 0..<8 where c.pfcwdDropped[q] > 0 { r.drops["pfcwd_dropped", default: 0] &+= c.pfcwdDropped[q] }
            for reason in DropReason.allCases where c.drops[reason] > 0 { r.drops[reason.description, default: 0] &+= c.drops[reason] }
        }
        return r
    }

    func checkLedger(_ r: inout Report, after what: @autoclosure () -> String) throws {
        let free = bed.dp.pool.freeCount, queued = bed.dp.queuedFrames, pending = bed.dp.pendingFrames, chained = bed.dp.pool.chained
        r.ledgerChecks += 1
        r.peakQueued = max(r.peakQueued, queued)
        r.peakPending = max(r.peakPending, pending)
        guard free + queued + pending + chained == bed.frameCount else {
            throw Failure(description: "seed \(seed), after \(what()): ledger \(free) free + \(queued) queued + \(pending) pending + \(chained) chained "
                          + "!= \(bed.frameCount) frames")
        }
    }

    /// Every frame back in the pool exactly once, and no PG still charged.
    func checkDrained() throws {
        var seen = Set<UInt64>()
        var taken: [UInt64] = []
        while let f = bed.dp.pool.allocate() {
            taken.append(f)
            seen.insert(f)
        }
        for f in taken { bed.dp.pool.release(f) }
        guard taken.count == bed.frameCount, seen.count == bed.frameCount else {
            throw Failure(description: "seed \(seed): drained pool holds \(taken.count) frames, \(seen.count) distinct, of \(bed.frameCount)")
        }
        let used = bed.dp.bufferPool.used
        guard used == 0 else { throw Failure(description: "seed \(seed): \(used) buffer bytes still charged after draining") }
        for p in 0..<portCount {
            let s = bed.dp.stats(port: p, now: 0)
            guard s.pgBytes.allSatisfy({ $0 == 0 }) else { throw Failure(description: "seed \(seed): port \(p) PGs still hold \(s.pgBytes) bytes") }
        }
    }
}
