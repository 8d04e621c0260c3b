// fabric-pipeline-bench: the per-packet path without sockets, measured and audited.
//
// bridge: the L2 bridge pipeline and the egress dispatch (Datapath.forward) plus the dequeue a
//         TX pass does, over synthetic 64-byte frames between 4 learned hosts with 1 in 16
//         frames broadcast (flooded, so copies are made).
// router: the full RoCEv2 L3 pipeline (parse to the BTH, classify, LPM with ECMP over two next
//         hops, rewrite MACs and TTL with incremental checksum, dispatch) over 64-frame
//         batches of RoCEv2 RDMA WRITE frames, with 1k and with 100k IPv4 prefixes.
// Both are driven the way the run loop drives them: one batch per call. Prints ns per frame,
// and the heap allocations, retains/releases and exclusivity checks made in the timed steady
// state. Exits 1 if any of those is not zero: the per-packet path must allocate nothing and
// touch no reference counts.
//
//   swift run -c release fabric-pipeline-bench [bridge|router|router-1k|router-100k|all] [FRAMES]
//
// fuzz: the whole pipeline (router and bridge) fed FRAMES random and mutated frames each
//       (`PipelineFuzzer`), the frame ledger checked after every batch; exits 1 on a broken
//       ledger (a crash is its own failure).
//
//   swift run -c release fabric-pipeline-bench fuzz 10000000 [--seed S]
import CRuntimeCounters
import FabricCore
import FabricPacket
import FabricSystem
import FabricBenchSupport
import FabricTestSupport
#if canImport(Glibc)
import Glibc
#endif

var args = Array(CommandLine.arguments.dropFirst())
if args.first == "fuzz" {
    var seed = UInt64.random(in: 1 ... .max)
    if let i = args.firstIndex(of: "--seed"), i + 1 < args.count {
        let t = args[i + 1]
        guard let s = t.hasPrefix("0x") ? UInt64(t.dropFirst(2), radix: 16) : UInt64(t) else {
            print("fabric-pipeline-bench: --seed takes a number (decimal or 0x hex), not '\(t)'")
            exit(2)
        }
        seed = s
        args.removeSubrange(i...(i + 1))
    }
    let n = args.compactMap { Int($0) }.first ?? 10_000_000
    var failed = false
    for (k, mode) in [ForwardingMode.router, .bridge].enumerated() {
        let start = monotonicNanoseconds()
        do {
            let r = try PipelineFuzzer(mode: mode, seed: seed &+ UInt64(k)).run(frames: n)
            let s = Double(monotonicNanoseconds() - start) / 1e9
            print("== fuzz \(mode): \(r.summary)")
            print(String(format: "  %.1f s, %.0f ns per frame (generation, pipeline, transmit and a ledger check per batch)", s, s * 1e9 / Double(n)))
        } catch {
            print("== fuzz \(mode): FAILED: \(error)")
            failed = true
        }
    }
    exit(failed ? 1 : 0)
}
let which = args.first { Int($0) == nil } ?? "all"
let frames = args.compactMap { Int($0) }.first ?? 4_000_000
let ports = 4
let frameCount = 4096
let batchSize = 64

struct Bench: ~Copyable {
    let bed = EmbeddedDatapath(bridgePorts: ports, frameCount: frameCount, queueCapacity: 1024, macTable: MACTable())
    let mac = (1...ports).map { MACAddress(rawValue: 0x02_5F_00_00_00_00 | UInt64($0)) }

    /// Fills one batch arriving on `ingress`: unicast to the next host, every 16th broadcast.
    @inline(never)
    mutating func receiveBatch(_ ingress: Int, _ seq: Int) {
        bed.batch.count = 0
        bed.batch.ingress = ingress
        bed.batch.timestamp = monotonicNanoseconds()
        for i in 0..<batchSize {
            let addr = bed.dp.pool.take() + 256
            let p = bed.memory + Int(addr)
            let dst = (seq &+ i) & 15 == 0 ? MACAddress.broadcast : mac[(ingress + 1) % ports]
            storeMAC(dst, at: p)
            storeMAC(mac[ingress], at: p + 6)
            p.storeBytes(of: UInt16(0x0800).bigEndian, toByteOffset: 12, as: UInt16.self)
            bed.batch.addr[i] = addr
            bed.batch.len[i] = 60
        }
        bed.batch.count = batchSize
    }

    /// Where the TX pass takes frames to (the switch's `txAddr`/`txLen`).
    let txAddr = UnsafeMutablePointer<UInt64>.allocate(capacity: batchSize)
    let txLen = UnsafeMutablePointer<UInt32>.allocate(capacity: batchSize)
    deinit {
        txAddr.deallocate()
        txLen.deallocate()
    }

    /// What a TX pass does with the queues, minus the ring: dequeue (a batch at a time, as the
    /// switch does) and give the frames back.
    @inline(never)
    mutating func transmitAll() {
        for p in 0..<ports {
            while true {
                let k = bed.dp.dequeueForTransmit(port: p, now: 0, into: txAddr, len: txLen, most: batchSize)
                for j in 0..<k { bed.dp.pool.release(txAddr[j]) }
                if k < batchSize { break }
            }
        }
    }

    @inline(never)
    mutating func run(_ n: Int) -> Int {
        var done = 0
        var seq = 0
        while done < n {
            receiveBatch(seq % ports, seq)
            bed.dp.forward(&bed.batch)
            transmitAll()
            done += batchSize
            seq &+= 1
        }
        return done
    }
}

func fixed(_ v: Double, _ digits: Int) -> String {
    let scale = pow(10.0, Double(digits))
    let r = (v * scale).rounded() / scale
    return "\(r)"
}

/// The counters must see what they claim to count, or a zero below proves nothing.
final class Probe {}
@_optimize(none) func counterSelfTest() {
    let c0 = fabric_runtime_counts_now()
    let probe = Probe()
    let u = Unmanaged.passUnretained(probe).retain()
    u.release()
    withExtendedLifetime(probe) {}
    let c1 = fabric_runtime_counts_now()
    guard c1.mallocs > c0.mallocs, c1.retains > c0.retains, c1.releases > c0.releases else {
        print("FAIL: runtime counters are not interposed (mallocs +\(c1.mallocs - c0.mallocs), retains +\(c1.retains - c0.retains))")
        exit(2)
    }
}
counterSelfTest()

var bench = Bench()
struct Audit {
    var mallocs: UInt64 = 0, retains: UInt64 = 0, releases: UInt64 = 0, accesses: UInt64 = 0
    var clean: Bool { mallocs + retains + releases + accesses == 0 }
}

/// Runs `body` once to warm up, then measures it: (ns per frame, runtime calls made).
func measure(_ n: Int, _ body: (Int) -> Int) -> (Double, Audit) {
    _ = body(min(n, 100_000))
    let before = fabric_runtime_counts_now()
    let t0 = monotonicNanoseconds()
    let done = body(n)
    let t1 = monotonicNanoseconds()
    let after = fabric_runtime_counts_now()
    let audit = Audit(mallocs: after.mallocs - before.mallocs, retains: after.retains - before.retains,
                      releases: after.releases - before.releases, accesses: after.accesses - before.accesses)
    return (Double(t1 - t0) / Double(done), audit)
}

func report(_ label: String, _ r: (Double, Audit)) -> Bool {
    print("\(label): \(fixed(r.0, 1)) ns/frame (\(fixed(1e3 / r.0, 1)) Mframes/s); steady state: \(r.1.mallocs) mallocs, "
          + "\(r.1.retains) retains, \(r.1.releases) releases, \(r.1.accesses) exclusivity checks")
    return r.1.clean
}

var ok = true
if which == "bridge" || which == "all" {
    var bench = Bench()
    ok = report("bridge (64 B, 4 ports, 1/16 flooded)", measure(frames) { bench.run($0) }) && ok
    precondition(bench.bed.dp.pool.freeCount == frameCount, "frame pool lost frames")
}
// router-1k / router-100k: one router case alone (for a profiler), with its harness cost.
if which == "router-1k" || which == "router-100k" {
    var bench = RouterWorkload(prefixes: which == "router-1k" ? 1_000 : 100_000)
    ok = report("router (RoCEv2 RDMA WRITE 114 B, \(which.dropFirst(7)) IPv4 prefixes, ECMP x2)", measure(frames) { bench.run($0) }) && ok
}
if which == "router" || which == "all" {
    for prefixes in [1_000, 100_000] {
        var bench = RouterWorkload(prefixes: prefixes)
        let total = measure(frames) { bench.run($0) }
        ok = report("router (RoCEv2 RDMA WRITE 114 B, \(prefixes / 1000)k IPv4 prefixes, ECMP x2)", total) && ok
        let harness = measure(frames) { bench.run($0, pipeline: false) }
        print("  of which writing the test frames: \(fixed(harness.0, 1)) ns/frame; pipeline alone: \(fixed(total.0 - harness.0, 1)) ns/frame")
        precondition(bench.routed > 0 && bench.bed.dp.pool.freeCount == frameCount, "router bench did not route (or lost frames)")
    }
    // An address scan: the resolution path (hold, request budget, incomplete entries) per frame.
    var scan = RouterWorkload(prefixes: 1_000, scan: true)
    ok = report("router under an IPv6 address scan (each frame a new address)", measure(frames) { scan.run($0) }) && ok
    scan.bed.dp.housekeeping(now: monotonicNanoseconds() + 10_000_000_000)  // what is still held times out
    for p in 0..<4 { while let f = scan.bed.dp.dequeueForTransmit(port: p, now: .max) { scan.bed.dp.pool.release(f.addr) } }
    precondition(scan.bed.dp.pendingFrames == 0 && scan.bed.dp.pool.freeCount == frameCount, "scan bench lost frames")
    // The cost of telemetry: residence-time histograms off, on, off, on (interleaved).
    var bench = RouterWorkload(prefixes: 1_000)
    var on: [Double] = [], off: [Double] = []
    for round in 0..<4 {
        bench.recordResidence(round % 2 == 1)
        let r = measure(frames) { bench.run($0) }
        ok = r.1.clean && ok
        if round % 2 == 1 { on.append(r.0) } else { off.append(r.0) }
    }
    let recorded = bench.bed.dp.stats(port: 2, now: 0).queues[3].residence.count + bench.bed.dp.stats(port: 3, now: 0).queues[3].residence.count
    precondition(recorded > 0, "residence histograms recorded nothing")
    print("router (1k prefixes) with residence-time histograms: \(fixed(on.min()!, 1)) ns/frame on, \(fixed(off.min()!, 1)) off "
          + "(best of 2 each, interleaved; \(recorded) residence samples)")
}
if !ok {
    print("FAIL: the per-packet path allocated or touched reference counts")
    exit(1)
}
print("OK: no allocation, ARC or exclusivity-check runtime calls per packet")
