import ArgumentParser
import FabricLab
import FabricSystem
import FabricTraffic
import Foundation
import Synchronization

/// `fabric traffic rank`: one rank of a ring collective on this host, as an RDMA NIC with its
/// application: an RC requester to the next rank and an RC responder for the previous one, in
/// one process. Step k+1's chunk goes only once step k's chunk from the previous rank has been
/// delivered (the dependency that makes a ring collective's completion time what it is).
/// `fabric traffic collective` starts one per rank.
struct Rank: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "rank", abstract: "One rank of a ring collective (started by fabric traffic collective).")
    @Option(help: "Network namespace.") var netns: String?
    @Option(help: "Interface.") var interface: String = "eth0"
    @Option(help: "The next rank's address (its chunks go there).") var to: String
    @Option(help: "Steps: one chunk sent and one received per step.") var steps: Int
    @Option(help: "Queue pairs to the next rank (each step's chunk is split over them).") var qps: Int = 1
    @Option(help: "Bytes per queue pair per step.") var message: Int
    @Option(help: "Payload bytes per packet.") var mtu: Int = 1024
    @Option(help: "Offered load in Gb/s (0: as fast as possible).") var rate: Double = 0
    @Option(help: "First remote QPN (QP i goes to this + i).") var remoteQp: UInt32 = 0x200
    @Option(help: "Congestion control: none or dcqcn (needs --rate).") var cc: String = "none"
    @Option(help: "Test aid: corrupt every Nth new packet after its ICRC (0: never).") var corruptEvery: Int = 0
    @Option(help: "Start at this CLOCK_MONOTONIC time in ns (the collective's common start).") var startAt: UInt64 = 0
    @Option(help: "Or: once ready, wait for this file to hold the CLOCK_MONOTONIC start time in ns (written when every rank is ready).") var startFile: String?
    @Option(help: "Give up after this many seconds.") var limit: Double = 120
    @OptionGroup var rc: ReliabilityFlags
    @OptionGroup var dcqcnFlags: DCQCNFlags
    @Flag(help: "Print the result as one JSON line.") var json = false

    func validate() throws {
        guard steps >= 1, qps >= 1, message >= 1 else { throw ValidationError("--steps, --qps and --message are at least 1") }
        guard cc == "none" || cc == "dcqcn" else { throw ValidationError("--cc is none or dcqcn") }
        if cc == "dcqcn" && rate <= 0 { throw ValidationError("--cc dcqcn needs --rate") }
        _ = try rc.parameters()
    }

    func run() throws {
        var c = try senderAddresses(netns: netns, interface: interface, to: to, mac: nil, source: nil)
        c.interface = interface
        c.messages = steps * qps
        c.queuePairs = qps
        c.messageBytes = message
        c.mtu = mtu
        c.rateGbps = rate
        c.remoteQP = remoteQp
        c.localQP = remoteQp &- 0x100
        c.dcqcn = cc == "dcqcn"
        c.dcqcnParameters = try dcqcnFlags.parameters()
        c.corruptEvery = corruptEvery
        c.startAt = startAt
        c.reliability = try rc.parameters()
        installStopHandlers()
        let sender = try RoCESender(config: c)
        let receiver = try RoCEReceiver(interface: interface, bpfObject: bpfObjectPath("roce_rx.o"), reliability: c.reliability)
        let shared = RankState(receiver: receiver, expected: UInt64(steps * qps), limit: limit)
        shared.start()
        ChildRun.announceReady("rank on \(interface)")
        let start = try startFile.map(waitForStart)
        let qps = UInt64(self.qps)
        // Messages allowed to begin: step 0's, and one step more per step fully received.
        let report = try sender.run(gate: { (shared.delivered.load(ordering: .relaxed) / qps + 1) * qps }, startAt: start)
        shared.senderDone.store(true, ordering: .relaxed)
        // A QP that exhausted its retries: the next rank never gets its chunk, so the ring
        // cannot complete. Stop waiting for ours and report (the collective stops the rest).
        if report.failedQueuePairs > 0 { shared.abandoned.store(true, ordering: .relaxed) }
        let received = shared.join()
        let result = RankReport(sender: report, receiver: received)
        if json {
            print(String(decoding: try JSONEncoder().encode(result), as: UTF8.self))
        } else {
            print(String(format: "rank: sent %llu of %llu messages acknowledged (%llu packets resent), received %llu messages in order",
                         report.messagesCompleted, report.messages, report.retransmittedPackets, received.messagesDelivered))
        }
    }
}

/// Waits (up to 60 s, or until SIGINT/SIGTERM) for `path` to hold a CLOCK_MONOTONIC time.
func waitForStart(_ path: String) throws -> UInt64 {
    for _ in 0..<60_000 {
        if let text = try? String(contentsOfFile: path, encoding: .utf8), let t = UInt64(text.trimmingCharacters(in: .whitespacesAndNewlines)) { return t }
        if stopRequested.load(ordering: .relaxed) { break }
        usleep(1_000)
    }
    throw ValidationError("no start time in \(path)")
}

/// The receiving half of a rank, on a thread of its own: it runs until the sender is done,
/// every expected message has arrived, and 100 ms more have passed (late duplicates still
/// get their ACK), or the time limit.
final class RankState: @unchecked Sendable {
    let receiver: RoCEReceiver
    let expected: UInt64
    let limit: Double
    let delivered = Atomic<UInt64>(0)
    let senderDone = Atomic<Bool>(false)
    /// The collective cannot complete (this rank's QP failed): stop at once.
    let abandoned = Atomic<Bool>(false)
    private var report: ReceiverReport?
    private let finished = DispatchSemaphore(value: 0)

    init(receiver: RoCEReceiver, expected: UInt64, limit: Double) {
        self.receiver = receiver
        self.expected = expected
        self.limit = limit
    }

    func start() {
        Thread.detachNewThread { [self] in
            var doneSince: UInt64 = 0
            report = receiver.run(seconds: limit, idle: limit, delivered: { self.delivered.store($0, ordering: .relaxed) }, stop: {
                if self.abandoned.load(ordering: .relaxed) { return true }
                guard self.senderDone.load(ordering: .relaxed), self.delivered.load(ordering: .relaxed) >= self.expected else { return false }
                let now = monotonicNanoseconds()
                if doneSince == 0 { doneSince = now }
                return now - doneSince > 100_000_000
            })
            finished.signal()
        }
    }

    func join() -> ReceiverReport {
        finished.wait()
        return report!
    }
}

