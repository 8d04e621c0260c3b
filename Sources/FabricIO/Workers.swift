// `fabric switch --workers N` over AF_XDP: one worker per rx queue index, each a whole switch
// (`FabricSwitch`) of its own: its sockets on queue w of every port (one UMEM region, fill,
// rx, tx and completion rings of its own), its pipeline, egress queues per port, counters and
// frame ledger, on a thread pinned to its own CPU. The ports' XDP programs are attached once
// (by worker 0, the primary) and steer each frame to the socket of its rx queue, so a flow,
// which the sender hashes to one queue, stays on one worker: no reordering, and nothing on the
// per-packet path is shared.
//
// Worker 0 runs on the calling thread with the control socket and the stats file; the others
// publish their reports every housekeeping tick (`WorkerSlot`) and worker 0 reports the sum
// (`SwitchReport.merged`). Stopping: a signal stops every worker; worker 0 stopping for another
// reason stops the others (`WorkerStop`), and its final report waits for theirs. What the
// workers must agree on (learned addresses, pauses received, XON) goes between them through
// `WorkerLinks`.
import FabricCore
import FabricSystem
import FabricTelemetry
import Foundation
import Synchronization

/// The latest report of one secondary worker (written on its thread, read by worker 0).
public final class WorkerSlot: @unchecked Sendable {
    private let report = Mutex<SwitchReport?>(nil)
    public init() {}
    func store(_ r: SwitchReport) { report.withLock { $0 = r } }
    public var latest: SwitchReport? { report.withLock { $0 } }
}

/// Set when worker 0 stops: the other workers stop too.
public final class WorkerStop: @unchecked Sendable {
    private let flag = Atomic<Bool>(false)
    public init() {}
    public var requested: Bool { flag.load(ordering: .relaxed) }
    func request() { flag.store(true, ordering: .relaxed) }
}

/// A secondary worker: its switch and the thread that runs it.
final class SecondaryWorker: @unchecked Sendable {
    var sw: AFXDPSwitch
    let slot: WorkerSlot
    let index: Int
    private let done = Atomic<Bool>(false)
    var finished: Bool { done.load(ordering: .acquiring) }

    init(_ sw: consuming AFXDPSwitch, slot: WorkerSlot, index: Int) {
        self.sw = sw
        self.slot = slot
        self.index = index
    }

    func start(cpu: Int?) {
        let t = Thread { [self] in
            if let cpu, Affinity.pin(cpu: cpu) { logLine("fabric: worker \(index) (rx queue \(index)) on CPU \(cpu)") }
            _ = sw.run()
            done.store(true, ordering: .releasing)
        }
        t.name = "fabric-worker-\(index)"
        t.start()
    }
}

/// N workers over AF_XDP (N >= 1): `primary` is worker 0, to be run by the caller.
public final class AFXDPWorkers {
    public var primary: AFXDPSwitch
    let secondaries: [SecondaryWorker]
    public var count: Int { secondaries.count + 1 }

    /// Sets up every worker's sockets; the primary last, so that when its programs start
    /// treating a frame without a socket as unserved, every worker's socket is in place.
    public init(options: SwitchOptions, workers: Int) throws {
        precondition(workers >= 1)
        let indexes = try AFXDPSwitch.interfaces(options)
        var o0 = options
        o0.queueID = 0
        let primaryIO = try XSKBackend(options: o0, ifindexes: indexes)
        let share = primaryIO.share
        let stop = WorkerStop()
        let links = WorkerLinks(workers: workers, ports: options.ports.count)
        var secondaries: [SecondaryWorker] = []
        for w in 1..<workers {
            var ow = options
            ow.queueID = UInt32(w)
            ow.statsFile = nil
            let io = try XSKBackend(options: ow, ifindexes: indexes, primary: share)
            var sw = try AFXDPSwitch(options: ow, ifindexes: indexes, io: io)
            let slot = WorkerSlot()
            sw.ownSlot = slot
            sw.workerStop = stop
            if workers > 1 { sw.dp.join(links, as: w) }
            secondaries.append(SecondaryWorker(sw, slot: slot, index: w))
        }
        primary = try AFXDPSwitch(options: o0, ifindexes: indexes, io: primaryIO)
        primary.peerSlots = secondaries.map(\.slot)
        primary.workerStop = stop
        if workers > 1 { primary.dp.join(links, as: 0) }
        self.secondaries = secondaries
    }

    /// Starts workers 1...N-1 on their threads. Worker w is pinned to the w-th CPU the process
    /// may run on (its taskset), wrapping around when there are fewer CPUs than workers.
    public func startSecondaries() {
        if secondaries.isEmpty { return }
        let cpus = Affinity.allowedCPUs()
        for s in secondaries { s.start(cpu: cpus.isEmpty ? nil : cpus[s.index % cpus.count]) }
        if let cpu = cpus.first, Affinity.pin(cpu: cpu) { logLine("fabric: worker 0 (rx queue 0) on CPU \(cpu)") }
    }

    /// Waits up to `seconds` for the secondary workers to finish; true when they all did.
    @discardableResult
    public func join(seconds: Double = 5) -> Bool {
        let deadline = Date().addingTimeInterval(seconds)
        while secondaries.contains(where: { !$0.finished }) && Date() < deadline { usleep(1_000) }
        return secondaries.allSatisfy(\.finished)
    }
}
