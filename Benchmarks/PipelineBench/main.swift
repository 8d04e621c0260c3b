// fabric-pipeline-bench: the per-packet path without sockets, measured and audited.
//
// Runs the L2 bridge pipeline and the egress dispatch (Datapath.forward) plus the dequeue a TX
// pass does, over synthetic 64-byte frames between 4 learned hosts with 1 in 16 frames
// broadcast (flooded, so copies are made), the way the run loop drives it: one batch per call.
// Prints ns per frame, and the heap allocations, retains/releases and exclusivity checks made
// in the timed steady state. Exits 1 if any of those is not zero: the per-packet path must
// allocate nothing and touch no reference counts.
//
//   swift run -c release fabric-pipeline-bench [FRAMES]
import CRuntimeCounters
import FabricCore
import FabricPacket
#if canImport(Glibc)
import Glibc
#endif

let frames = CommandLine.arguments.count > 1 ? Int(CommandLine.arguments[1]) ?? 4_000_000 : 4_000_000
let ports = 4
let frameSize = 2048
let frameCount = 4096
let batchSize = 64

struct Bench: ~Copyable {
    let memory: UnsafeMutableRawPointer
    var dp: Datapath
    var batch = Batch(capacity: batchSize)
    let mac = (1...ports).map { MACAddress(rawValue: 0x02_5F_00_00_00_00 | UInt64($0)) }

    init() {
        memory = .allocate(byteCount: frameCount * frameSize, alignment: 4096)
        memory.initializeMemory(as: UInt8.self, repeating: 0, count: frameCount * frameSize)
        dp = Datapath(portCount: ports, frames: memory,
                      pool: FramePool(frameCount: frameCount, frameSize: frameSize),
                      bridge: L2Bridge(table: MACTable()), queueCapacity: 1024)
    }

    /// Fills one batch arriving on `ingress`: unicast to the next host, every 16th broadcast.
    @inline(never)
    mutating func receiveBatch(_ ingress: Int, _ seq: Int) {
        batch.count = 0
        batch.ingress = ingress
        batch.timestamp = monotonicNanoseconds()
        for i in 0..<batchSize {
            let addr = dp.pool.take() + 256
            let p = memory + Int(addr)
            let dst = (seq &+ i) & 15 == 0 ? MACAddress.broadcast : mac[(ingress + 1) % ports]
            storeMAC(dst, at: p)
            storeMAC(mac[ingress], at: p + 6)
            p.storeBytes(of: UInt16(0x0800).bigEndian, toByteOffset: 12, as: UInt16.self)
            batch.addr[i] = addr
            batch.len[i] = 60
        }
        batch.count = batchSize
    }

    /// What a TX pass does with the queues, minus the ring: dequeue and give the frames back.
    @inline(never)
    mutating func transmitAll() {
        for p in 0..<ports {
            while let f = dp.queues[p].dequeue() { dp.pool.release(f.addr) }
        }
    }

    @inline(never)
    mutating func run(_ n: Int) -> Int {
        var done = 0
        var seq = 0
        while done < n {
            receiveBatch(seq % ports, seq)
            dp.forward(&batch)
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
// Learn every host and warm up, then count.
_ = bench.run(100_000)
let before = fabric_runtime_counts_now()
let t0 = monotonicNanoseconds()
let n = bench.run(frames)
let t1 = monotonicNanoseconds()
let after = fabric_runtime_counts_now()

let mallocs = after.mallocs - before.mallocs
let retains = after.retains - before.retains
let releases = after.releases - before.releases
let accesses = after.accesses - before.accesses
let ns = Double(t1 - t0) / Double(n)
print("pipeline: \(n) frames (64 B, 4 ports, 1/16 flooded), "
      + "\(fixed(ns, 1)) ns/frame (\(fixed(1e3 / ns, 1)) Mframes/s)")
print("steady state: \(mallocs) mallocs, \(retains) retains, \(releases) releases, \(accesses) exclusivity checks")
precondition(bench.dp.pool.freeCount == frameCount, "frame pool lost frames: \(bench.dp.pool.freeCount) of \(frameCount) free")
if mallocs + retains + releases + accesses != 0 {
    print("FAIL: the per-packet path allocated or touched reference counts")
    exit(1)
}
print("OK: no allocation, ARC or exclusivity-check runtime calls per packet")
