import FabricTraffic
import Foundation

/// Traffic patterns of collective communication on a test bed, each flow a `fabric traffic send`
/// child in its sender's namespace and one `fabric traffic recv` per receiving host.
public enum Pattern: Sendable {
    /// Many senders into one receiver.
    case incast(to: Int, from: [Int])
    /// Every host to every other host at once.
    case allToAll(hosts: [Int])
    /// Every host to one other host, each receiving from exactly one (a random derangement).
    case permutation(hosts: [Int], seed: UInt64)
    /// Exactly these flows.
    case flows([Flow])

    public struct Flow: Sendable {
        public var from: Int
        public var to: Int
        public init(_ from: Int, _ to: Int) { self.from = from; self.to = to }
    }

    public var pairs: [(from: Int, to: Int)] {
        switch self {
        case .incast(let to, let from): return from.map { ($0, to) }
        case .allToAll(let hosts): return hosts.flatMap { a in hosts.filter { $0 != a }.map { (a, $0) } }
        case .flows(let f): return f.map { ($0.from, $0.to) }
        case .permutation(let hosts, let seed):
            var rng = SplitMix(seed: seed)
            var perm = hosts
            repeat { perm.shuffle(using: &rng) } while zip(hosts, perm).contains { $0 == $1 } && hosts.count > 1
            return Array(zip(hosts, perm)).map { ($0.0, $0.1) }
        }
    }
}

struct SplitMix: RandomNumberGenerator {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

public struct WorkloadOptions: Sendable {
    public var seconds = 2.0
    /// Messages per flow (0: run for `seconds`).
    public var messages = 0
    public var rateGbps = 0.0
    public var queuePairs = 2
    public var messageBytes = 65536
    public var mtu = 1024
    public var extraSenderArguments: [String] = []
    /// First remote QPN of each flow, by its index in the pattern's pairs (default 0x1000 +
    /// 0x100 x index); the QPs decide the UDP source ports, and so the ECMP hash.
    public var remoteQPs: [Int: UInt32] = [:]
    public init() {}

    /// The first remote QPN flow `index` uses.
    public func remoteQP(_ index: Int) -> UInt32 { remoteQPs[index] ?? UInt32(0x1000 + index * 0x100) }
}

public struct WorkloadResult: Sendable {
    public var senders: [(from: Int, to: Int, report: SenderReport)]
    public var receivers: [(host: Int, report: ReceiverReport)]
    /// First packet of any sender to last packet of the last one (shared monotonic clock).
    public var completionSeconds: Double

    public var sentPackets: UInt64 { senders.reduce(0) { $0 + $1.report.packets } }
    public var receivedPackets: UInt64 { receivers.reduce(0) { $0 + $1.report.packets } }
    public var lost: UInt64 { receivers.reduce(0) { $0 + $1.report.lost } }
    public var reordered: UInt64 { receivers.reduce(0) { $0 + $1.report.reordered } }

    public var table: String {
        var s = String(format: "%d flows, %d receivers; completion %.3f s; sent %llu packets, received %llu, lost %llu, reordered %llu\n",
                       senders.count, receivers.count, completionSeconds, sentPackets, receivedPackets, lost, reordered)
        s += "  RECEIVER   PACKETS    GOODPUT_GBPS   LOST  REORDERED  CE      P50_US     P99_US   P99.9_US     MAX_US\n"
        for (h, r) in receivers.sorted(by: { $0.host < $1.host }) {
            let l = r.latencyMicroseconds
            s += String(format: "  h%-8d %8llu %14.3f %6llu %10llu %3llu %11.1f %10.1f %10.1f %10.1f\n",
                        h, r.packets, r.goodputGbps, r.lost, r.reordered, r.ceMarked, l.p50, l.p99, l.p999, l.max)
        }
        s += "  SENDER -> RECEIVER   PACKETS   GBPS   PFC_PAUSES   CNPS\n"
        for f in senders.sorted(by: { ($0.from, $0.to) < ($1.from, $1.to) }) {
            s += String(format: "  h%-3d -> h%-10d %9llu %6.3f %12llu %6llu\n", f.from, f.to, f.report.packets, f.report.gbps, f.report.pauseFrames, f.report.cnpsReceived)
        }
        return s
    }
}

/// Hosts a workload can run on, numbered from 1: a star `Testbed` or a `TopologyTestbed`.
public protocol HostNetwork {
    func hostNamespace(_ i: Int) -> String
    func hostAddress(_ i: Int) -> String
    /// True when hosts reach each other through a router (the switch resolves them).
    var routed: Bool { get }
}

extension Testbed: HostNetwork {}
extension TopologyTestbed: HostNetwork {}

public enum Workload {
    /// Runs `pattern` on the test bed (its switch must be running) and gathers every report.
    /// `progress` gets a line about once a second.
    public static func run(fabric: String, testbed tb: some HostNetwork, pattern: Pattern, options o: WorkloadOptions,
                           progress: (String) -> Void = { _ in }) throws -> WorkloadResult {
        let pairs = pattern.pairs
        guard !pairs.isEmpty else { throw TestbedError("the pattern has no flows") }
        // Neighbours first, as a fabric resolves them before its jobs start: one ping to every
        // host through the switch makes the switch resolve it (a host's own ARP for its
        // gateway is not enough: its cache may outlive a restarted switch). Otherwise the
        // first frames of a full-rate start wait for the switch's ARP, and a burst larger than
        // its pending queue is dropped (pending_full) even in the lossless class.
        if tb.routed {
            let hosts = Set(pairs.flatMap { [$0.from, $0.to] }).sorted()
            for h in hosts {
                guard let other = hosts.first(where: { $0 != h }) else { continue }
                _ = try? Shell.inNamespace(tb.hostNamespace(other), ["ping", "-n", "-q", "-c", "1", "-W", "1", tb.hostAddress(h)], check: false)
            }
        }
        let receiving = Array(Set(pairs.map(\.to))).sorted()
        var receivers: [(Int, ChildProcess)] = []
        defer { for (_, r) in receivers { r.stop(grace: 1) } }
        for h in receiving {
            let r = try ChildProcess([fabric, "traffic", "recv", "--netns", tb.hostNamespace(h), "--seconds", "\(o.seconds + 30)",
                                      "--idle", "1.5", "--json"])
            receivers.append((h, r))
        }
        let deadline = Date().addingTimeInterval(10)
        for (_, r) in receivers {
            while !r.output.contains("listening") && r.isRunning && Date() < deadline { usleep(5_000) }
        }
        // Each pair gets its own QP range, so flows stay distinct at every receiver.
        var senders: [(Int, Int, ChildProcess)] = []
        defer { for (_, _, s) in senders { s.stop(grace: 1) } }
        // A common start 0.5 s ahead: every sender is up by then, so the pattern starts at once.
        let startAt = trafficClock() + 500_000_000
        for (i, p) in pairs.enumerated() {
            var args = [fabric, "traffic", "send", "--netns", tb.hostNamespace(p.from), "--to", tb.hostAddress(p.to),
                        "--qps", "\(o.queuePairs)", "--remote-qp", "\(o.remoteQP(i))", "--message", "\(o.messageBytes)",
                        "--mtu", "\(o.mtu)", "--rate", "\(o.rateGbps)", "--json"]
            args += o.messages > 0 ? ["--messages", "\(o.messages)"] : ["--seconds", "\(o.seconds)"]
            args += ["--start-at", "\(startAt)"]
            senders.append((p.from, p.to, try ChildProcess(args + o.extraSenderArguments)))
        }
        let started = Date()
        while senders.contains(where: { $0.2.isRunning }) {
            usleep(100_000)
            let t = Date().timeIntervalSince(started)
            if t.truncatingRemainder(dividingBy: 1) < 0.1 && t > 0.5 {
                progress(String(format: "  %.0f s: %d of %d senders still sending", t, senders.filter { $0.2.isRunning }.count, senders.count))
            }
            if t > o.seconds + 120 { throw TestbedError("senders did not finish") }
        }
        let dec = JSONDecoder()
        func lastJSON<T: Decodable>(_ c: ChildProcess, _: T.Type, _ what: String) throws -> T {
            guard let l = c.output.split(separator: "\n").last(where: { $0.hasPrefix("{") }),
                  let v = try? dec.decode(T.self, from: Data(l.utf8)) else { throw TestbedError("\(what) failed: \(c.output.suffix(500))") }
            return v
        }
        var sent: [(Int, Int, SenderReport)] = []
        for (a, b, s) in senders {
            _ = s.wait(timeout: 5)
            sent.append((a, b, try lastJSON(s, SenderReport.self, "sender h\(a) -> h\(b)")))
        }
        var got: [(Int, ReceiverReport)] = []
        for (h, r) in receivers {
            _ = r.wait(timeout: 10)
            got.append((h, try lastJSON(r, ReceiverReport.self, "receiver h\(h)")))
        }
        let first = sent.map(\.2.startedAt).min() ?? 0
        let last = sent.map(\.2.endedAt).max() ?? 0
        return WorkloadResult(senders: sent.map { ($0.0, $0.1, $0.2) }, receivers: got.map { ($0.0, $0.1) },
                              completionSeconds: Double(last &- first) / 1e9)
    }
}
