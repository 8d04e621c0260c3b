// The collision experiment (`fabric balance`): a ring collective across the leaves of a
// leaf-spine bed, the same job under each load-balancing mode and each draw of QP numbers
// (a seed: the QPs decide the RoCEv2 UDP source ports, and so what ECMP hashes), timed to
// completion and set against the ideal: the bytes that must cross the busiest leaf's uplinks
// over their emulated capacity. Low-entropy traffic (a few large flows per uplink) is where
// ECMP's hash collisions leave one uplink idle next to a hot one.
import FabricCore
import FabricPacket
import FabricTelemetry
import FabricTraffic
import FabricSystem
import Foundation

public struct CollisionRun: Sendable {
    public var mode: LoadBalancingMode
    /// The draw of QP numbers (-1: QPs chosen so ECMP puts every flow on one uplink).
    public var seed: Int
    public var collective: CollectiveResult
    public var switches: LoadBalanceLab.SwitchCounters
    /// The link taken down mid-run, when and how the fabric coped (nil: no failure).
    public var failure: FailureRecord?

    public struct FailureRecord: Sendable, Encodable {
        /// "node:interface" and when it went down, seconds after the collective's start.
        public var link: String
        public var atSeconds: Double
        /// From the link going down until every switch had the routes without it (the lab's
        /// routing protocol, `TopologyTestbed.reconverge`, started `--converge-after` later).
        public var reconvergedMilliseconds: Double
        /// Flows the switch next to the dead link moved to another member: the last frame it
        /// sent the dead member's way to this flow's first frame on a live one.
        public var failovers: [FailoverReport]
    }

    /// One run as `fabric balance --json` writes it (numbers as numbers).
    public struct Record: Encodable {
        public struct Flow: Encodable {
            public var from: String
            public var to: String
            public var qp: UInt32
            /// Which leaf uplink carried the flow's bytes ("leaf:port" -> wire bytes), under
            /// ecmp (from the switch's own hash of the flow). Empty under flowlet and spray,
            /// whose flows move (the run's `uplinkBytes` say where the bytes went), and for
            /// flows within a leaf.
            public var uplinkBytes: [String: UInt64]
            /// With `--fail`: this flow's failover at the switch next to the dead link (nil:
            /// it was not on the dead member there).
            public var failoverMilliseconds: Double? = nil
        }
        public var mode: String
        public var seed: Int
        public var jctSeconds: Double
        public var messagesSent: UInt64
        public var messagesCompleted: UInt64
        public var retransmittedPackets: UInt64
        public var reorderedPackets: UInt64
        public var lost: UInt64
        public var switchDrops: UInt64
        public var socketDrops: UInt64
        public var newFlowlets: UInt64
        public var pathChanges: UInt64
        public var uplinkBytes: [String: UInt64]
        public var steps: [CollectiveResult.Step]
        public var flows: [Flow]
        public var failure: FailureRecord?
    }
}

public struct CollisionLab {
    public let lab: LoadBalanceLab
    public var testbed: TopologyTestbed { lab.testbed }

    public init(lab: LoadBalanceLab) { self.lab = lab }

    /// The pinned default: h1,h5,h2,h6,h3,h7,h4,h8 on 2 leaves of 4 hosts: every ring edge
    /// crosses the spines, 4 flows leave each leaf over its 2 uplinks.
    public static func interleavedRanks(hostsPerLeaf: Int, leaves: Int) -> [Int] {
        (0..<hostsPerLeaf).flatMap { i in (0..<leaves).map { l in l * hostsPerLeaf + i + 1 } }
    }

    /// The leaf (switch) host `h` hangs off.
    public func leaf(ofHost h: Int) -> String {
        let name = testbed.hostName(h)
        for l in testbed.topology.links {
            if l.a.node == name { return l.b.node }
            if l.b.node == name { return l.a.node }
        }
        return ""
    }

    /// Remote QPs per ring edge for a seed: seed s starts at 0x10000 + s x 0x1000; seed -1
    /// searches each edge's QP so that ECMP puts every flow leaving a leaf on its first uplink.
    public func remoteQPs(ranks: [Int], seed: Int) -> [Int: UInt32] {
        var out: [Int: UInt32] = [:]
        for (i, h) in ranks.enumerated() {
            let next = ranks[(i + 1) % ranks.count]
            let base = UInt32(0x10000 + max(seed, 0) * 0x1000 + i * 0x100)
            if seed < 0, let ups = lab.leafUplinks[leaf(ofHost: h)], ups.count > 1, leaf(ofHost: h) != leaf(ofHost: next) {
                out[i] = lab.remoteQP(from: h, to: next, member: 0, members: ups.count, start: UInt32(0x20000 + i * 0x100))
            } else {
                out[i] = base
            }
        }
        return out
    }

    /// Wire bytes (frames + preamble, IFG, FCS: what an emulated line rate counts) of one
    /// message of `bytes` as RDMA WRITE packets of `mtu` payload bytes over IPv4.
    public static func wireBytes(message bytes: Int, mtu: Int) -> Int {
        let n = max(1, (bytes + mtu - 1) / mtu)
        return (0..<n).reduce(0) { sum, i in
            let payload = max(i == n - 1 ? bytes - i * mtu : mtu, TrafficPayload.length)
            return sum + RoCEBuilder.frameLength(opcode: RoCEBuilder.Verb.rdmaWrite.opcode(index: i, count: n), payload: payload) + Shaper.wireOverhead
        }
    }

    /// The ideal JCT: per step, the wire bytes the busiest leaf must send up (its ring edges
    /// to other leaves) over the total emulated capacity of its uplinks, summed over the steps.
    public func idealSeconds(ranks: [Int], options o: CollectiveOptions) -> Double {
        let n = ranks.count
        let perEdge = Double(Self.wireBytes(message: o.messageBytes(ranks: n), mtu: o.mtu) * o.queuePairs) * 8
        var worst = 0.0
        var leaves: [String: Double] = [:]
        for (i, h) in ranks.enumerated() where leaf(ofHost: h) != leaf(ofHost: ranks[(i + 1) % n]) {
            leaves[leaf(ofHost: h), default: 0] += perEdge
        }
        for (l, bits) in leaves {
            let capacity = testbed.topology.links.filter { ($0.a.node == l && testbed.topology.kind($0.b.node) == .switch)
                || ($0.b.node == l && testbed.topology.kind($0.a.node) == .switch) }
                .reduce(0.0) { $0 + ($1.gbps ?? testbed.topology.uplinkGbps ?? 0) } * 1e9
            if capacity > 0 { worst = max(worst, bits / capacity) }
        }
        return worst * Double(o.pattern.steps(ranks: n))
    }

    /// A link to take down during a run: "node:interface", seconds after the start.
    public struct LinkFailure: Sendable {
        public var link: String
        public var atSeconds: Double
        /// How long the lab's routing protocol takes to withdraw the routes over the dead link
        /// after it went down (BFD's detection plus BGP's update in a real fabric, ~50-300 ms):
        /// meanwhile only the switches next to it know, and fail over locally.
        public var convergenceSeconds: Double
        public init(link: String, atSeconds: Double, convergenceSeconds: Double = 0.1) {
            self.link = link
            self.atSeconds = atSeconds
            self.convergenceSeconds = convergenceSeconds
        }
    }

    /// One run of the collective in `mode` with the QPs of `seed`; with `failure`, that link
    /// goes down mid-run (and comes back up after it, for the next run).
    public func run(mode: LoadBalancingMode, seed: Int, ranks: [Int], options: CollectiveOptions, failure: LinkFailure? = nil) throws -> CollisionRun {
        var o = options
        o.remoteQPs = remoteQPs(ranks: ranks, seed: seed)
        let injected = Injected()
        if let f = failure {
            _ = try testbed.endpoint(f.link)
            let tb = testbed
            o.onStart = { start in
                Thread.detachNewThread {
                    let at = start &+ UInt64(f.atSeconds * 1e9)
                    while monotonicNanoseconds() < at { usleep(500) }
                    do {
                        try tb.setLink(f.link, up: false)
                        let down = monotonicNanoseconds()
                        usleep(UInt32(f.convergenceSeconds * 1e6))
                        try tb.reconverge(failed: [f.link], mode: mode)
                        injected.set(down: Double(down &- start) / 1e9, converged: Double(monotonicNanoseconds() &- down) / 1e6)
                    } catch {
                        injected.set(error: "\(error)")
                    }
                }
            }
        }
        defer { if let f = failure { try? testbed.setLink(f.link, up: true) } }
        var failoverReports: [FailoverReport] = []
        let (result, counters) = try lab.measured(mode: mode, beforeStop: { [testbed] in
            // The switches' failover records, before they stop (the last stats file has them too).
            guard let f = failure, let e = try? testbed.endpoint(f.link) else { return }
            for node in [e.node] + testbed.topology.links.filter({ $0.a == e || $0.b == e }).map({ $0.a == e ? $0.b.node : $0.a.node })
            where testbed.topology.kind(node) == .switch {
                if let r = try? ControlClient.snapshot(name: testbed.namespace(node)) { failoverReports += r.loadBalancing.failovers ?? [] }
            }
        }) {
            try Collective.run(fabric: lab.launcher.fabric, testbed: testbed, ranks: ranks, options: o)
        }
        var run = CollisionRun(mode: mode, seed: seed, collective: result, switches: counters)
        if let f = failure {
            let (down, converged, error) = injected.get()
            if let error { throw TestbedError("--fail \(f.link): \(error)") }
            guard let down else { throw TestbedError("--fail \(f.link)@\(f.atSeconds)s: the run ended before the link went down") }
            run.failure = .init(link: f.link, atSeconds: down, reconvergedMilliseconds: converged ?? 0, failovers: failoverReports)
        }
        return run
    }

    /// What the failure thread saw (set once, read after the run).
    final class Injected: @unchecked Sendable {
        private let lock = NSLock()
        private var down: Double?, converged: Double?, error: String?
        func set(down: Double, converged: Double) { lock.lock(); self.down = down; self.converged = converged; lock.unlock() }
        func set(error: String) { lock.lock(); self.error = error; lock.unlock() }
        func get() -> (Double?, Double?, String?) { lock.lock(); defer { lock.unlock() }; return (down, converged, error) }
    }

    /// The record of `r`, with each flow's uplink under ecmp.
    public func record(_ r: CollisionRun, ranks: [Int], options o: CollectiveOptions) -> CollisionRun.Record {
        let c = r.collective
        let flows = c.flows.map { f -> CollisionRun.Record.Flow in
            // The flow's own ends (a ring's edges and all-to-all's pairs alike).
            guard let a = try? testbed.hostNumber(f.from), let b = try? testbed.hostNumber(f.to) else {
                return .init(from: f.from, to: f.to, qp: f.qp, uplinkBytes: [:])
            }
            var up: [String: UInt64] = [:]
            let l = leaf(ofHost: a)
            if r.mode == .ecmp, let ups = lab.leafUplinks[l], !ups.isEmpty, l != leaf(ofHost: b) {
                let member = lab.ecmpMember(from: a, to: b, remoteQP: f.qp, members: ups.count)
                up["\(l):\(ups[member])"] = UInt64(Self.wireBytes(message: o.messageBytes(ranks: ranks.count), mtu: o.mtu) * c.steps.count)
            }
            var flow = CollisionRun.Record.Flow(from: f.from, to: f.to, qp: f.qp, uplinkBytes: up)
            if let failure = r.failure {
                let h = lab.flowHash(from: a, to: b, remoteQP: f.qp)
                flow.failoverMilliseconds = failure.failovers.first { $0.flowHash == h }?.milliseconds
            }
            return flow
        }
        return .init(mode: r.mode.name, seed: r.seed, jctSeconds: c.jctSeconds, messagesSent: c.messagesSent, messagesCompleted: c.messagesCompleted,
                     retransmittedPackets: c.retransmittedPackets, reorderedPackets: c.reorderedPackets, lost: c.lost,
                     switchDrops: r.switches.switchDrops, socketDrops: r.switches.socketDrops, newFlowlets: r.switches.newFlowlets,
                     pathChanges: r.switches.pathChanges, uplinkBytes: r.switches.uplinkBytes, steps: c.steps, flows: flows, failure: r.failure)
    }

    /// Per mode: JCT per seed, median and worst over the seeds, against the ideal.
    public static func table(_ runs: [CollisionRun], ideal: Double) -> String {
        func median(_ v: [Double]) -> Double { let s = v.sorted(); return s.isEmpty ? 0 : s.count % 2 == 1 ? s[s.count / 2] : (s[s.count / 2 - 1] + s[s.count / 2]) / 2 }
        var out = "| mode | JCT ms per seed | median ms | worst ms | median / ideal | resent | reordered | lost | switch drops (socket) |\n|---|---|---|---|---|---|---|---|---|\n"
        var seen: [LoadBalancingMode] = []
        for r in runs where !seen.contains(r.mode) { seen.append(r.mode) }
        for m in seen {
            let rs = runs.filter { $0.mode == m }
            let j = rs.map { $0.collective.jctSeconds * 1000 }
            out += "| \(m.name) | \(rs.map { String(format: "%.0f", $0.collective.jctSeconds * 1000) }.joined(separator: " ")) | "
                + String(format: "%.0f | %.0f | %.2f | ", median(j), j.max() ?? 0, ideal > 0 ? median(j) / (ideal * 1000) : 0)
                + "\(rs.reduce(0) { $0 + $1.collective.retransmittedPackets }) | \(rs.reduce(0) { $0 + $1.collective.reorderedPackets }) | "
                + "\(rs.reduce(0) { $0 + $1.collective.lost }) | \(rs.reduce(0) { $0 + $1.switches.switchDrops }) (\(rs.reduce(0) { $0 + $1.switches.socketDrops })) |\n"
        }
        return out + String(format: "\nideal JCT (the busiest leaf's uplink bytes over their capacity, summed over the steps): %.0f ms\n", ideal * 1000)
    }
}
