import Benchmark
import FabricBenchSupport

/// One 64-frame batch of RoCEv2 RDMA WRITE frames through the full router pipeline (parse,
/// classify, LPM, ECMP, rewrite, enqueue), with 1k and with 100k IPv4 prefixes. The
/// measured unit is the batch; divide by 64 for per-packet cost.
let benchmarks: @Sendable () -> Void = {
    Benchmark.defaultConfiguration = .init(
        metrics: [.wallClock, .mallocCountTotal],
        warmupIterations: 1_000,
        scalingFactor: .kilo,
        maxDuration: .seconds(3),
        thresholds: [
            // The per-packet path allocates nothing: any malloc in a batch is a regression.
            .mallocCountTotal: .init(absolute: [.p100: 0]),
            // ~50 ns/packet goal x 64 = 3.2 us per batch; the ceiling allows 4x for a shared VM.
            .wallClock: .init(absolute: [.p50: 12_800]),
        ]
    )
    for prefixes in [1_000, 100_000] {
        Benchmark("router batch of 64 RoCEv2 frames, \(prefixes / 1000)k prefixes") { benchmark, workload in
            for _ in benchmark.scaledIterations {
                blackHole(workload.run(64))
            }
        } setup: {
            WorkloadBox(prefixes: prefixes)
        }
    }
    // The cost of telemetry: the same batch with the per-queue residence-time histograms off
    // and on (1k prefixes; compare the two rows of one run).
    for on in [false, true] {
        Benchmark("router batch of 64 RoCEv2 frames, 1k prefixes, residence histograms \(on ? "on" : "off")") { (benchmark: Benchmark, workload: WorkloadBox) in
            for _ in benchmark.scaledIterations {
                blackHole(workload.run(64))
            }
        } setup: { () -> WorkloadBox in
            let box = WorkloadBox(prefixes: 1_000)
            box.workload.recordResidence(on)
            return box
        }
    }
}

/// package-benchmark hands setup state to the closure by value; the workload is ~Copyable,
/// so it lives in a class the closure holds.
final class WorkloadBox: @unchecked Sendable {
    var workload: RouterWorkload
    init(prefixes: Int) { workload = RouterWorkload(prefixes: prefixes) }
    func run(_ n: Int) -> Int { workload.run(n) }
}
