import FabricCore
import FabricPacket
import FabricTraffic
import Foundation

/// Load balancing on a multi-switch test bed: the same workload under each mode, with what
/// decides between them: how evenly the leaves' uplinks carried the bytes, what the receivers
/// saw reordered, latency, and how long a collective took.
public struct LoadBalanceLab {
    public let testbed: TopologyTestbed
    /// Starts the switches (restarted for every run, in its mode).
    public var launcher: SwitchLauncher

    public init(testbed: TopologyTestbed, launcher: SwitchLauncher) {
        self.testbed = testbed
        self.launcher = launcher
    }

    public struct Run: Sendable {
        public var mode: LoadBalancingMode
        public var workload: WorkloadResult
        /// Bytes each leaf uplink sent during the run, "leaf:port" -> bytes.
        public var uplinkBytes: [String: UInt64]
        /// Flowlet/spray counters summed over the switches.
        public var newFlowlets: UInt64
        public var pathChanges: UInt64
        public var collisions: UInt64
        public var switchDrops: UInt64
        /// "switch:port:reason=count" for every drop the switches counted.
        public var dropReasons: [String] = []

        /// Max over leaves of (busiest uplink / mean uplink) of that leaf (1 = even), among the
        /// leaves that sent at least a tenth of what the busiest leaf sent upwards (a leaf
        /// that only receives sends a few control frames up, whose spread means nothing).
        public var imbalance: Double {
            let leaves = Set(uplinkBytes.keys.map { String($0.split(separator: ":")[0]) })
            let total = Dictionary(uniqueKeysWithValues: leaves.map { l in (l, uplinkBytes.filter { $0.key.hasPrefix(l + ":") }.reduce(0) { $0 + $1.value }) })
            let busiest = total.values.max() ?? 0
            var worst = 1.0
            for leaf in leaves where busiest > 0 && total[leaf]! * 10 >= busiest {
                let v = uplinkBytes.filter { $0.key.hasPrefix(leaf + ":") }.map { Double($0.value) }
                let mean = v.reduce(0, +) / Double(v.count)
                if mean > 0 { worst = max(worst, v.max()! / mean) }
            }
            return worst
        }
        public var reorderedFraction: Double {
            workload.receivedPackets == 0 ? 0 : Double(workload.reordered) / Double(workload.receivedPackets)
        }
        /// The worst receiver's p99 one-way latency, microseconds.
        public var p99Microseconds: Double { workload.receivers.map(\.report.latencyMicroseconds.p99).max() ?? 0 }

        public var summary: Summary {
            Summary(mode: mode.name, completionSeconds: workload.completionSeconds, imbalance: imbalance, sent: workload.sentPackets,
                    received: workload.receivedPackets, lost: workload.lost, reordered: workload.reordered, p99Microseconds: p99Microseconds,
                    newFlowlets: newFlowlets, pathChanges: pathChanges, collisions: collisions, switchDrops: switchDrops, uplinkBytes: uplinkBytes)
        }
    }

    /// One run's numbers (`fabric balance --json`; each number a JSON number).
    public struct Summary: Codable, Sendable, Equatable {
        public var mode: String
        public var completionSeconds: Double
        /// Busiest uplink over the mean uplink of the worst leaf (1 = even).
        public var imbalance: Double
        public var sent: UInt64
        public var received: UInt64
        public var lost: UInt64
        public var reordered: UInt64
        public var p99Microseconds: Double
        public var newFlowlets: UInt64
        public var pathChanges: UInt64
        public var collisions: UInt64
        public var switchDrops: UInt64
        /// "leaf:port" -> bytes the leaf's uplink sent during the run.
        public var uplinkBytes: [String: UInt64]
    }

    /// Leaf (switch with hosts) -> its uplink port names (ports facing switches).
    public var leafUplinks: [String: [String]] {
        var out: [String: [String]] = [:]
        for s in testbed.topology.switches {
            let ports = testbed.plan.ports(of: s)
            guard ports.contains(where: { testbed.topology.kind($0.peer) == .host }) else { continue }
            out[s] = ports.filter { testbed.topology.kind($0.peer) == .switch }.map(\.name)
        }
        return out
    }

    /// The ECMP member (index into the leaf's uplinks, in next-hop order) a RoCEv2 flow with one
    /// QP from host `a` to host `b` takes at its leaf under plain ECMP.
    public func ecmpMember(from a: Int, to b: Int, remoteQP: UInt32, members: Int) -> Int {
        HashPathSelector.hash(flowHash(from: a, to: b, remoteQP: remoteQP), members)
    }

    /// The switch's flow hash of a RoCEv2 flow with one QP from host `a` to host `b`.
    public func flowHash(from a: Int, to b: Int, remoteQP: UInt32) -> UInt32 {
        let sport = RoCEBuilder.udpSourcePort(localQP: remoteQP &- 0x100, remoteQP: remoteQP)
        return FlowHash.v4(source: parseIPv4(testbed.hostAddress(a))!, destination: parseIPv4(testbed.hostAddress(b))!,
                           protocolNumber: 17, sourcePort: sport, destinationPort: 4791)
    }

    /// A remote QPN from `start` on (steps of 0x100) whose flow a -> b hashes to `member`.
    public func remoteQP(from a: Int, to b: Int, member: Int, members: Int, start: UInt32) -> UInt32 {
        var q = start
        while ecmpMember(from: a, to: b, remoteQP: q, members: members) != member { q &+= 0x100 }
        return q
    }

    /// What the switches counted during one run.
    public struct SwitchCounters: Sendable {
        /// Bytes each leaf uplink sent, "leaf:port" -> bytes.
        public var uplinkBytes: [String: UInt64] = [:]
        public var newFlowlets: UInt64 = 0
        public var pathChanges: UInt64 = 0
        public var collisions: UInt64 = 0
        public var switchDrops: UInt64 = 0
        /// "switch:port:reason=count" for every drop; socket drops (a switch's rx ring full)
        /// apart from the data path's.
        public var dropReasons: [String] = []
        public var socketDrops: UInt64 = 0
    }

    /// Runs `body` with every switch in `mode` (switches restarted with that configuration)
    /// and returns its result with what the switches counted meanwhile.
    public func measured<T>(mode: LoadBalancingMode, beforeStop: () -> Void = {}, _ body: () throws -> T) throws -> (T, SwitchCounters) {
        testbed.stopSwitches()
        try testbed.writeConfigs(mode: mode)
        try testbed.startSwitches(launcher)
        defer { testbed.stopSwitches() }
        let before = try uplinkTx()
        let result = try body()
        beforeStop()
        let statuses = testbed.stopSwitches()
        for (s, st) in statuses where st != 0 { throw TestbedError("switch \(s) did not stop cleanly (status \(String(describing: st)))") }
        var c = SwitchCounters()
        for (k, v) in try uplinkTx() { c.uplinkBytes[k] = v &- (before[k] ?? 0) }
        for s in testbed.topology.switches {
            let r = try testbed.stats(s)
            c.newFlowlets += r.loadBalancing.newFlowlets
            c.pathChanges += r.loadBalancing.pathChanges
            c.collisions += r.loadBalancing.collisions
            c.switchDrops += r.ports.reduce(0) { $0 + $1.dropsTotal + $1.socket.frames }
            c.socketDrops += r.ports.reduce(0) { $0 + $1.socket.frames }
            for p in r.ports {
                for (k, v) in p.drops where v > 0 { c.dropReasons.append("\(s):\(p.name):\(k)=\(v)") }
                if p.socket.frames > 0 { c.dropReasons.append("\(s):\(p.name):socket=\(p.socket.frames)") }
            }
        }
        return (result, c)
    }

    /// Runs `pattern` with every switch in `mode` and returns what the hosts and the switches
    /// measured.
    public func run(mode: LoadBalancingMode, pattern: Pattern, options: WorkloadOptions) throws -> Run {
        let (w, c) = try measured(mode: mode) {
            try Workload.run(fabric: launcher.fabric, testbed: testbed, pattern: pattern, options: options)
        }
        return Run(mode: mode, workload: w, uplinkBytes: c.uplinkBytes, newFlowlets: c.newFlowlets, pathChanges: c.pathChanges,
                   collisions: c.collisions, switchDrops: c.switchDrops, dropReasons: c.dropReasons)
    }

    func uplinkTx() throws -> [String: UInt64] {
        var out: [String: UInt64] = [:]
        for (leaf, ups) in leafUplinks {
            let r = try testbed.stats(leaf)
            for p in r.ports where ups.contains(p.name) { out["\(leaf):\(p.name)"] = p.txBytes }
        }
        return out
    }

    /// Per mode, the median over rounds (and the range) of what decides between the modes.
    public static func summary(_ runs: [Run]) -> String {
        func median(_ v: [Double]) -> Double { let s = v.sorted(); return s.isEmpty ? 0 : s.count % 2 == 1 ? s[s.count / 2] : (s[s.count / 2 - 1] + s[s.count / 2]) / 2 }
        func cell(_ v: [Double], _ f: String) -> String {
            v.count > 1 ? "\(String(format: f, median(v))) (\(String(format: f, v.min()!))-\(String(format: f, v.max()!)))" : String(format: f, median(v))
        }
        var out = "| mode | rounds | completion s | uplink imbalance (max/mean) | reordered % | p99 latency ms | lost |\n|---|---|---|---|---|---|---|\n"
        var seen: [LoadBalancingMode] = []
        for r in runs where !seen.contains(r.mode) { seen.append(r.mode) }
        for m in seen {
            let rs = runs.filter { $0.mode == m }
            out += "| \(m.name) | \(rs.count) | \(cell(rs.map(\.workload.completionSeconds), "%.3f")) | \(cell(rs.map(\.imbalance), "%.2f")) | "
                + "\(cell(rs.map { $0.reorderedFraction * 100 }, "%.1f")) | \(cell(rs.map { $0.p99Microseconds / 1000 }, "%.0f")) | \(rs.reduce(0) { $0 + $1.workload.lost }) |\n"
        }
        return out
    }

    public static func table(_ runs: [Run]) -> String {
        var out = "| mode | completion s | uplink imbalance (max/mean) | uplink bytes | reordered | lost (receiver host drops) | switch drops | p99 latency us | flowlets | path changes |\n"
        out += "|---|---|---|---|---|---|---|---|---|---|\n"
        for r in runs {
            let bytes = r.uplinkBytes.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value / 1000) KB" }.joined(separator: ", ")
            out += "| \(r.mode.name) | \(String(format: "%.3f", r.workload.completionSeconds)) | \(String(format: "%.2f", r.imbalance)) | \(bytes) | "
                + "\(r.workload.reordered) (\(String(format: "%.2f", r.reorderedFraction * 100))%) | \(r.workload.lost) (\(r.workload.receivers.reduce(0) { $0 + $1.report.hostDrops })) | \(r.switchDrops) | "
                + "\(String(format: "%.0f", r.p99Microseconds)) | \(r.newFlowlets) | \(r.pathChanges) |\n"
        }
        for r in runs where !r.dropReasons.isEmpty { out += "\n\(r.mode.name): switch drops: \(r.dropReasons.sorted().joined(separator: " "))" }
        return out + "\n"
    }
}
