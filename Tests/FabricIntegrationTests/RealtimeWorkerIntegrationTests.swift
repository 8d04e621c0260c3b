import FabricConfig
import FabricLab
import FabricTelemetry
import Foundation
import XCTest

/// `--worker-realtime N`: the forwarding thread, and only it, runs SCHED_FIFO at N; it sleeps
/// when there is nothing to do (a real-time spinner would own its CPU), and a lossless incast
/// through it, whose frames wait for pauses and for the emulated line rate, loses nothing.
final class RealtimeWorkerIntegrationTests: LabTestCase {
    /// Policy (field 41: 1 = SCHED_FIFO), real-time priority (40) and CPU time in clock ticks
    /// (utime 14 + stime 15) of every thread of `pid`, from /proc/PID/task/TID/stat.
    func threads(of pid: Int32) throws -> [(tid: String, policy: Int, priority: Int, ticks: Int)] {
        let dir = "/proc/\(pid)/task"
        return try FileManager.default.contentsOfDirectory(atPath: dir).compactMap { tid in
            guard let stat = try? String(contentsOfFile: "\(dir)/\(tid)/stat", encoding: .utf8),
                  let close = stat.range(of: ")", options: .backwards) else { return nil }
            // Fields after the command name start at field 3.
            let f = stat[close.upperBound...].split(separator: " ").map(String.init)
            func field(_ n: Int) -> Int { Int(f[n - 3]) ?? -1 }
            return (tid, field(41), field(40), field(14) + field(15))
        }
    }

    func testOnlyTheWorkerRunsRealTimeItForwardsAndSleepsWhenIdle() throws {
        let tb = try makeTestbed(hosts: 2, routed: true)
        let sw = try startSwitch(tb, extra: ["--worker-realtime", "10"])
        let ping = try Ping.run(from: tb.hostNamespace(1), to: tb.hostAddress(2), count: 20, interval: 0.02)
        XCTAssertEqual(ping.received, 20, "h1 -> h2 through the real-time worker\n\(sw.child.output.suffix(2000))")

        let all = try threads(of: sw.child.pid)
        let fifo = all.filter { $0.policy == 1 }
        XCTAssertEqual(fifo.count, 1, "one SCHED_FIFO thread, the worker: \(all)")
        XCTAssertEqual(fifo.first?.priority, 10, "at priority 10: \(all)")
        XCTAssertTrue(all.filter { $0.policy != 1 }.allSatisfy { $0.policy == 0 }, "the others SCHED_OTHER: \(all)")

        // Idle for 1 s: asleep in poll(), not spinning (a spinning real-time thread would use
        // all of the second, 100 ticks).
        guard let worker = fifo.first else { return }
        let before = worker.ticks
        Thread.sleep(forTimeInterval: 1)
        let after = try threads(of: sw.child.pid).first { $0.tid == worker.tid }?.ticks ?? .max
        XCTAssertLessThan(after - before, 20, "the idle real-time worker sleeps: \(after - before) ticks of CPU in 1 s")

        let ping2 = try Ping.run(from: tb.hostNamespace(1), to: tb.hostAddress(2), count: 5, interval: 0.2)
        XCTAssertEqual(ping2.received, 5, "woken from its sleep by each frame")
        let last = try sw.stopAndReport()
        XCTAssertTrue(last.ledger.balances, "\(last.ledger)")
        XCTAssertEqual(last.ports.reduce(0) { $0 + $1.dropsTotal }, 0, "no drop: \(last.ports.map { $0.drops.filter { $0.value > 0 } })")
    }

    /// The incast of `TrafficIntegrationTests.testLosslessIncastWithPFCOnAndOff` (PFC on): 3
    /// senders at 250 Mb/s into a 200 Mb/s emulated port, through a real-time worker. Its
    /// queued frames wait for the line rate and, upstream, for pauses: it must sleep between
    /// tries (the kernel threads it shares the CPU with bring in the frames), and still keep
    /// the port busy and lose nothing.
    func testLosslessIncastThroughARealTimeWorkerLosesNothing() throws {
        let tb = try makeTestbed(hosts: 4, routed: true)
        let lab = LosslessIncast(testbed: tb, launcher: launcher)
        let on = try lab.run(pfc: true, cc: "none", switchArguments: ["--worker-realtime", "10"])
        print(LosslessIncast.table([on]))
        XCTAssertEqual(on.switchDrops, 0, "no drop of any kind: \(on.dropReasons)")
        if on.workload.hostDrops == 0 {
            XCTAssertEqual(on.workload.lost, 0, "no PSN gap")
            XCTAssertEqual(on.workload.receivedPackets, on.workload.sentPackets, "every packet arrived")
        } else {
            XCTAssertLessThanOrEqual(on.workload.sentPackets - on.workload.receivedPackets, on.workload.hostDrops,
                                     "every packet missing was dropped by the receiving host")
        }
        XCTAssertGreaterThan(on.pausesAtSenders, 0, "the senders were paused")
        XCTAssertGreaterThan(on.goodputGbps, 0.15, "the 200 Mb/s bottleneck stays busy")
        XCTAssertLessThan(on.goodputGbps, 0.205, "no faster than the emulated wire")
        XCTAssertTrue(on.report.ledger.balances, "\(on.report.ledger)")
    }
}
