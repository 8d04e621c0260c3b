import ArgumentParser
import FabricConfig
import FabricLab
import Foundation

/// `fabric traffic`: RoCEv2 workloads on a running test bed, a star or any topology (one-to-one
/// and the collective patterns, by the bed's host names: h1, h2, ...), and the endpoints they
/// are made of (TrafficEndpoints.swift).
struct TrafficCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "traffic",
        abstract: "RoCEv2 traffic that behaves like a lossless NIC (AF_XDP, else AF_PACKET), on a test bed or from one host.",
        subcommands: [OneToOne.self, Incast.self, AllToAll.self, Permutation.self, Collective.self, Send.self, Receive.self, Rank.self])

    /// `fabric traffic one-to-one --from h1 --to h2`: on a test bed, by host names.
    struct OneToOne: ParsableCommand {
        static let configuration = CommandConfiguration(commandName: "one-to-one", abstract: "RoCEv2 RC from one test-bed host to another, with a report.")
        @Option(help: "Test bed prefix.") var prefix: String = "sf"
        @Option(help: "Sending host (h1, h2, ...: a host of the test bed).") var from: String
        @Option(help: "Receiving host.") var to: String
        @Option(help: "Seconds of traffic (when --messages is 0).") var seconds: Double = 2
        @Option(help: "Messages to send and have acknowledged (0: send for --seconds).") var messages: Int = 0
        @Option(help: "Offered load in Gb/s (0: as fast as possible).") var rate: Double = 0
        @Option(help: "Queue pairs.") var qps: Int = 4
        @Option(help: "Message size (64KB, 1MB).") var message: String = "64KB"
        @Option(help: "Payload bytes per packet.") var mtu: Int = 1024
        @Option(help: "Test aid: corrupt every Nth packet sent after its ICRC (the receiver drops it, RC repairs it; 0: never).") var corruptEvery: Int = 0
        @OptionGroup var rc: ReliabilityFlags
        @Option(help: "Write the pair's result as JSON to this file (messagesSent, messagesCompleted, retransmittedPackets, naksReceived, timeouts, lost, jctSeconds; the sender's and receiver's reports nested).")
        var json: String?

        func validate() throws {
            _ = try rc.parameters()
            guard messages >= 0, corruptEvery >= 0 else { throw ValidationError("--messages and --corrupt-every are 0 or more") }
        }

        func run() throws {
            let tb = try runningTestbed(prefix)
            let ab = try parseHosts(from, on: tb) + parseHosts(to, on: tb)
            guard ab.count == 2, ab[0] != ab[1] else { throw ValidationError("one --from host and another --to host") }
            var o = RoCERun.Options()
            o.seconds = seconds
            o.messages = messages
            o.rateGbps = rate
            o.queuePairs = qps
            o.messageBytes = try unit("--message") { () throws(UnitError) in try Units.bytes(message) }
            o.mtu = mtu
            o.corruptEvery = corruptEvery
            o.reliabilityArguments = rc.arguments
            try interruptible("fabric traffic") {
                let r = try RoCERun.run(fabric: selfExecutable(), from: tb.hostNamespace(ab[0]), to: tb.hostNamespace(ab[1]),
                                        destination: tb.hostAddress(ab[1]), options: o)
                if let path = json {
                    let encoder = JSONEncoder()
                    encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
                    try encoder.encode(r).write(to: URL(fileURLWithPath: path))
                }
                let s = r.sender
                print(String(format: "sender %@ -> %@: %llu packets, %llu messages in %.3f s = %.2f Gb/s offered, %llu PFC pauses",
                             from, to, s.packets, s.messages, s.seconds, s.gbps, s.pauseFrames))
                print(String(format: "RC %@: %llu of %llu messages completed, JCT %.3f s; %llu packets resent, %llu NAKs, %llu timeouts; lost %llu (first transmissions that never arrived)%@",
                             r.transport, r.messagesCompleted, r.messagesSent, r.jctSeconds, r.retransmittedPackets, r.naksReceived, r.timeouts, r.lost,
                             s.failedQueuePairs > 0 ? "; \(s.failedQueuePairs) QPs FAILED (retries exhausted)" : ""))
                print(r.receiver.table, terminator: "")
            }
        }
    }
}

/// The test bed `fabric testbed up --prefix P` left, with its hosts.
func runningTestbed(_ prefix: String) throws -> TopologyTestbed {
    guard let tb = TopologyTestbed.recorded(prefix: prefix) else {
        throw ValidationError("no test bed '\(prefix)' (bring one up: fabric testbed up --prefix \(prefix) [--topology leaf-spine|FILE])")
    }
    return tb
}

/// Options every pattern takes.
struct PatternOptions: ParsableArguments {
    @Option(help: "Test bed prefix.") var prefix: String = "sf"
    @Option(help: "How long each flow sends (5s, 500ms, 2m; a bare number is seconds).") var duration: String = "2s"
    @Option(help: "Offered load per flow in Gb/s (0: as fast as the sender can).") var rate: Double = 0
    @Option(help: "Queue pairs per flow.") var qps: Int = 2
    @Option(help: "Message size (64KB, 1MB).") var message: String = "64KB"
    @Option(help: "Payload bytes per packet.") var mtu: Int = 1024
    @Option(help: "Congestion control: none or dcqcn (per queue pair; needs --rate).") var cc: String = "none"
    @OptionGroup var rc: ReliabilityFlags
    @OptionGroup var dcqcnFlags: DCQCNFlags

    func validate() throws {
        _ = try options()
        _ = try rc.parameters()
        guard cc == "none" || cc == "dcqcn" else { throw ValidationError("--cc is none or dcqcn") }
    }

    func options() throws -> WorkloadOptions {
        var o = WorkloadOptions()
        o.seconds = try unit("--duration") { () throws(UnitError) in try Units.seconds(duration) }
        guard o.seconds > 0 else { throw ValidationError("--duration must be more than 0") }
        o.rateGbps = rate
        o.queuePairs = qps
        o.messageBytes = try unit("--message") { () throws(UnitError) in try Units.bytes(message) }
        guard o.messageBytes > 0 else { throw ValidationError("--message must be at least 1 byte") }
        o.mtu = mtu
        o.extraSenderArguments = ["--cc", cc] + (cc == "dcqcn" ? dcqcnFlags.arguments : [])
        o.reliabilityArguments = rc.arguments
        return o
    }

    /// The running test bed the pattern's host names are looked up on.
    func testbed() throws -> TopologyTestbed { try runningTestbed(prefix) }

    func run(_ pattern: Pattern, on tb: TopologyTestbed, title: String) throws {
        print("\(title) on test bed '\(prefix)' for \(duration)\(rate > 0 ? " at \(rate) Gb/s per flow" : ""), \(qps) QPs per flow, \(message) messages")
        fflush(nil)
        try interruptible("fabric traffic") {
            let r = try Workload.run(fabric: selfExecutable(), testbed: tb, pattern: pattern, options: try options()) { line in
                print(line)
                fflush(nil)
            }
            print(r.table, terminator: "")
        }
    }
}

extension TrafficCommand {
    struct Incast: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "N senders into one receiver: fabric traffic incast --to h1 --from h2,h3,h4 --duration 5s")
        @Option(help: "The receiving host.") var to: String
        @Option(help: "Sending hosts, comma separated.") var from: String
        @OptionGroup var common: PatternOptions
        func run() throws {
            let tb = try common.testbed()
            let dst = try parseHosts(to, on: tb), src = try parseHosts(from, on: tb)
            guard dst.count == 1, !src.isEmpty, !src.contains(dst[0]) else { throw ValidationError("one --to host, and --from hosts other than it") }
            try common.run(.incast(to: dst[0], from: src), on: tb, title: "incast \(from) -> \(to)")
        }
    }

    struct AllToAll: ParsableCommand {
        static let configuration = CommandConfiguration(commandName: "all-to-all", abstract: "Every host to every other host at once.")
        @Option(help: "Hosts, comma separated.") var hosts: String
        @OptionGroup var common: PatternOptions
        func run() throws {
            let tb = try common.testbed()
            let h = try parseHosts(hosts, on: tb)
            guard h.count >= 2 else { throw ValidationError("all-to-all needs at least 2 hosts") }
            try common.run(.allToAll(hosts: h), on: tb, title: "all-to-all among \(hosts)")
        }
    }

    struct Permutation: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Each host sends to one other; each receives from one.")
        @Option(help: "Hosts, comma separated.") var hosts: String
        @Option(help: "Seed of the permutation.") var seed: UInt64 = 1
        @OptionGroup var common: PatternOptions
        func run() throws {
            let tb = try common.testbed()
            let h = try parseHosts(hosts, on: tb)
            guard h.count >= 2 else { throw ValidationError("a permutation needs at least 2 hosts") }
            try common.run(.permutation(hosts: h, seed: seed), on: tb, title: "permutation among \(hosts) (seed \(seed))")
        }
    }

    struct Collective: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "A collective with real dependencies, timed to completion: ring-allreduce (2(N-1) steps), all-gather (N-1) or all-to-all (1), each rank an RC endpoint.",
            discussion: "In a ring, rank i sends to rank i+1 and sends step k+1's chunk only after it received step k's. JCT runs from the first packet to the last acknowledgement.")
        @Option(help: "Test bed prefix.") var prefix: String = "sf"
        @Option(help: "ring-allreduce, all-gather or all-to-all.") var pattern: String = "ring-allreduce"
        @Option(help: "Ranks in ring order, comma separated (h1,h5,h2,...).") var hosts: String
        @Option(help: "Each rank's buffer (a step's chunk is buffer / ranks): 4MB, 256KB.") var buffer: String = "4MB"
        @Option(help: "Queue pairs per peer (each chunk is split over them).") var qps: Int = 1
        @Option(help: "Payload bytes per packet.") var mtu: Int = 1024
        @Option(help: "Offered load per rank in Gb/s (0: as fast as possible).") var rate: Double = 0
        @Option(help: "Congestion control: none or dcqcn (needs --rate).") var cc: String = "none"
        @Option(help: "Test aid: corrupt every Nth new packet (0: never).") var corruptEvery: Int = 0
        @Option(help: "Runs, one after another (the JCT of each, then median).") var runs: Int = 1
        @OptionGroup var rc: ReliabilityFlags
        @Option(help: "Write the result as JSON (jctSeconds, steps [{step, startSeconds, endSeconds}], messages, retransmissions, flows; a list with --runs > 1).")
        var json: String?

        func validate() throws {
            guard CollectivePattern(rawValue: pattern) != nil else { throw ValidationError("--pattern is ring-allreduce, all-gather or all-to-all") }
            guard cc == "none" || cc == "dcqcn" else { throw ValidationError("--cc is none or dcqcn") }
            guard qps >= 1, runs >= 1, corruptEvery >= 0 else { throw ValidationError("--qps and --runs are at least 1") }
            _ = try rc.parameters()
        }

        func run() throws {
            let tb = try runningTestbed(prefix)
            let ranks = try parseHosts(hosts, on: tb)
            guard ranks.count >= 2, Set(ranks).count == ranks.count else { throw ValidationError("a collective needs at least 2 distinct hosts") }
            var o = CollectiveOptions()
            o.pattern = CollectivePattern(rawValue: pattern)!
            o.bufferBytes = try unit("--buffer") { () throws(UnitError) in try Units.bytes(buffer) }
            o.queuePairs = qps
            o.mtu = mtu
            o.rateGbps = rate
            o.cc = cc
            o.corruptEvery = corruptEvery
            o.reliabilityArguments = rc.arguments
            print("\(pattern) over \(hosts): \(o.pattern.steps(ranks: ranks.count)) steps of \(o.messageBytes(ranks: ranks.count) * qps) bytes per rank, \(rc.transport)")
            fflush(nil)
            var results: [CollectiveResult] = []
            try interruptible("fabric traffic collective") {
                for _ in 1...runs {
                    let r = try FabricLab.Collective.run(fabric: selfExecutable(), testbed: tb, ranks: ranks, options: o)
                    results.append(r)
                    print(r.summary)
                    if runs == 1 { print(r.timeline) }
                    fflush(nil)
                }
            }
            if runs > 1 {
                let sorted = results.map(\.jctSeconds).sorted()
                print(String(format: "JCT: median %.3f ms, min %.3f ms, max %.3f ms over %d runs", sorted[sorted.count / 2] * 1000, sorted.first! * 1000, sorted.last! * 1000, runs))
            }
            if let path = json {
                let encoder = JSONEncoder()
                encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
                let data = runs == 1 ? try encoder.encode(results[0]) : try encoder.encode(results)
                try data.write(to: URL(fileURLWithPath: path))
            }
        }
    }
}
