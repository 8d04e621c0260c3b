import ArgumentParser
import FabricCore
import FabricIO
import FabricSystem
import FabricTelemetry
import FabricXDP
import FabricLab
import FabricPacket
import FabricTraffic
import Foundation

struct TrafficCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "traffic",
        abstract: "RoCEv2 traffic that behaves like a lossless NIC (AF_PACKET for now).",
        subcommands: [OneToOne.self, Incast.self, AllToAll.self, Permutation.self, Collective.self, Send.self, Receive.self])

    /// `fabric traffic one-to-one --from h1 --to h2`: on a test bed, by host names.
    struct OneToOne: ParsableCommand {
        static let configuration = CommandConfiguration(commandName: "one-to-one", abstract: "RoCEv2 from one test-bed host to another, with a report.")
        @Option(help: "Test bed prefix.") var prefix: String = "sf"
        @Option(help: "Sending host (h1, h2, ...).") var from: String
        @Option(help: "Receiving host.") var to: String
        @Option(help: "Seconds of traffic.") var seconds: Double = 2
        @Option(help: "Offered load in Gb/s (0: as fast as possible).") var rate: Double = 0
        @Option(help: "Queue pairs.") var qps: Int = 4
        @Option(help: "Message size in bytes.") var message: Int = 65536
        @Option(help: "Payload bytes per packet.") var mtu: Int = 1024
        @Flag(help: "Print the receiver's report as JSON.") var json = false

        func run() throws {
            let routed = FileManager.default.fileExists(atPath: "/run/swiftfabric/testbed-\(prefix).yaml")
            let tb = Testbed(prefix: prefix, hosts: 1, routed: routed)
            func index(_ h: String) throws -> Int {
                guard h.hasPrefix("h"), let i = Int(h.dropFirst()), i > 0 else { throw ValidationError("hosts are named h1, h2, ...: got '\(h)'") }
                return i
            }
            let a = try index(from), b = try index(to)
            let result = try RoCERun.run(fabric: selfExecutable(), from: tb.hostNamespace(a), to: tb.hostNamespace(b),
                                         destination: tb.hostAddress(b), seconds: seconds, rate: rate, qps: qps, message: message, mtu: mtu)
            if json {
                print(String(decoding: try JSONEncoder().encode(result.receiver), as: UTF8.self))
                return
            }
            print(String(format: "sender %@ -> %@: %llu packets, %llu messages in %.3f s = %.2f Gb/s offered, %llu PFC pauses",
                         from, to, result.sender.packets, result.sender.messages, result.sender.seconds, result.sender.gbps, result.sender.pauseFrames))
            print(result.receiver.table, terminator: "")
        }
    }

    struct Send: ParsableCommand {
        static let configuration = CommandConfiguration(commandName: "send", abstract: "Send RoCEv2 RC traffic from this host.")
        @Option(help: "Network namespace.") var netns: String?
        @Option(help: "Interface.") var interface: String = "eth0"
        @Option(help: "afxdp (transmit-only AF_XDP; falls back to afpacket with a message) or afpacket.") var backend: String = "afxdp"
        @Option(help: "Destination IPv4 or IPv6 address.") var to: String
        @Option(help: "Next-hop MAC (default: resolved through the host's own routing and ARP).") var mac: String?
        @Option(help: "Source IPv4 address (default: the host's route source).") var source: String?
        @Option(help: "Seconds of traffic (when --messages is 0).") var seconds: Double = 1
        @Option(help: "Messages to send (0: run for --seconds).") var messages: Int = 0
        @Option(help: "Offered load in Gb/s (0: unthrottled).") var rate: Double = 0
        @Option(help: "Offered load in packets per second (instead of --rate).") var pps: Double = 0
        @Option(help: "With --rate: send each message back to back at this many Gb/s and space messages to keep the average (RDMA-like bursts; flowlets form in the gaps). 0: pace every packet.")
        var burst: Double = 0
        @Option(help: "Queue pairs.") var qps: Int = 1
        @Option(help: "First remote QPN (QP i goes to this + i).") var remoteQp: UInt32 = 0x200
        @Option(help: "Message size in bytes.") var message: Int = 4096
        @Option(help: "Payload bytes per packet.") var mtu: Int = 1024
        @Option(help: "DSCP.") var dscp: UInt8 = 26
        @Option(help: "ECN bits to send with: 2 = ECT(0) (default), 1 = ECT(1), 0 = Not-ECT, 3 = CE (test aid: pretend the fabric marked every packet).") var ecn: UInt8 = 2
        @Option(help: "Congestion control: none or dcqcn (rate cut on CNPs; needs --rate).") var cc: String = "none"
        @Option(help: "802.1p priority PFC pauses.") var priority: Int = 3
        @Option(help: "Link speed in Gb/s for PFC quanta.") var linkGbps: Double = 10
        @Option(help: "Test aid: corrupt every Nth packet after its ICRC (0: never).") var corruptEvery: Int = 0
        @Option(help: "Start at this CLOCK_MONOTONIC time in ns (a barrier shared by several senders; 0: now).") var startAt: UInt64 = 0
        @Flag(help: "Print the result as one JSON line.") var json = false

        func run() throws {
            var resolved: NextHopLookup.Result?
            if mac == nil || source == nil, let ns = netns {
                resolved = try NextHopLookup.resolve(namespace: ns, destination: to)
            }
            if let ns = netns { try enterNetworkNamespace(ns) }
            guard let m = MACAddress(mac ?? resolved?.mac ?? "") else {
                throw ValidationError("need --mac unless --netns lets the host resolve it")
            }
            var c: SenderConfig
            if let dst6 = IPv6Address(to) {
                guard let src6 = IPv6Address(source ?? resolved?.source ?? "") else { throw ValidationError("need an IPv6 --source") }
                c = SenderConfig(destinationMAC: m, source: 0, destination: 0)
                c.source6 = src6
                c.destination6 = dst6
            } else {
                guard let dst = parseIPv4(to), let src = parseIPv4(source ?? resolved?.source ?? "") else {
                    throw ValidationError("--to is an IPv4 or IPv6 address; --source the same family")
                }
                c = SenderConfig(destinationMAC: m, source: src, destination: dst)
            }
            c.interface = interface
            guard let b = SendBackend(rawValue: backend) else { throw ValidationError("--backend is afxdp or afpacket") }
            c.backend = b
            c.seconds = seconds
            c.messages = messages
            c.rateGbps = rate
            c.burstGbps = burst
            if burst > 0 && rate <= 0 { throw ValidationError("--burst needs --rate (the average the bursts keep)") }
            c.packetsPerSecond = pps
            c.queuePairs = qps
            c.remoteQP = remoteQp
            c.localQP = remoteQp &- 0x100
            c.messageBytes = message
            c.mtu = mtu
            c.dscp = dscp
            c.ecn = ecn
            guard cc == "none" || cc == "dcqcn" else { throw ValidationError("--cc is none or dcqcn") }
            c.dcqcn = cc == "dcqcn"
            if c.dcqcn && rate <= 0 { throw ValidationError("--cc dcqcn needs --rate (the line rate it starts from)") }
            c.priority = priority
            c.linkGbps = linkGbps
            c.corruptEvery = corruptEvery
            c.startAt = startAt
            let sender = try RoCESender(config: c)
            if let why = sender.fallbackReason { logLine("fabric traffic send: AF_XDP unavailable (\(why)); using AF_PACKET") }
            let r = try sender.run()
            if json {
                print(String(decoding: try JSONEncoder().encode(r), as: UTF8.self))
            } else {
                print(String(format: "sent %llu packets (%llu messages) in %.3f s = %.2f Gb/s; PFC: %llu pauses, %llu resumes, %.0f us paused",
                             r.packets, r.messages, r.seconds, r.gbps, r.pauseFrames, r.resumeFrames, r.pausedMicroseconds)
                      + (r.pauseFrames > 0 ? String(format: "; last pause: %.1f us asked, %.1f us until the next packet", r.lastPauseRequestedMicroseconds, r.lastPauseObservedMicroseconds) : "")
                      + String(format: "; CNPs %llu, DCQCN cuts %llu, rate %.3f Gb/s mean, %.3f at the end", r.cnpsReceived, r.rateCuts, r.meanRateGbps, r.finalRateGbps)
                      + (r.behindScheduleMicroseconds > 0 ? String(format: "; %.0f us behind schedule (descheduled; not made up)", r.behindScheduleMicroseconds) : ""))
            }
        }
    }

    struct Receive: ParsableCommand {
        static let configuration = CommandConfiguration(commandName: "recv", abstract: "Receive and measure RoCEv2 traffic on this host.")
        @Option(help: "Network namespace.") var netns: String?
        @Option(help: "Interface.") var interface: String = "eth0"
        @Option(help: "Stop after this many seconds.") var seconds: Double = 10
        @Option(help: "Stop after this many idle seconds once traffic has started.") var idle: Double = 1
        @Option(help: "afxdp (bpf/roce_rx steers RoCEv2 data to an AF_XDP socket; falls back to afpacket with a message) or afpacket.") var backend: String = "afxdp"
        @Flag(help: "Print the report as one JSON line.") var json = false

        func run() throws {
            guard let b = SendBackend(rawValue: backend) else { throw ValidationError("--backend is afxdp or afpacket") }
            if let ns = netns { try enterNetworkNamespace(ns) }
            // SIGINT/SIGTERM end the run cleanly, so the XDP program leaves the interface.
            installStopHandlers()
            let receiver = try RoCEReceiver(interface: interface, bpfObject: b == .afxdp ? bpfObjectPath("roce_rx.o") : nil)
            if let why = receiver.fallbackReason { logLine("fabric traffic recv: AF_XDP unavailable (\(why)); using AF_PACKET") }
            let r = receiver.run(seconds: seconds, idle: idle) {
                print("listening on \(interface)")
                fflush(nil)
            }
            if json {
                print(String(decoding: try JSONEncoder().encode(r), as: UTF8.self))
            } else {
                print(r.table, terminator: "")
            }
        }
    }
}


/// "5s", "500ms", "2m" or plain seconds.
func parseDuration(_ text: String) throws -> Double {
    let t = text.lowercased()
    let (number, scale): (Substring, Double) = t.hasSuffix("ms") ? (t.dropLast(2), 1e-3)
        : t.hasSuffix("s") ? (t.dropLast(), 1) : t.hasSuffix("m") ? (t.dropLast(), 60) : (Substring(t), 1)
    guard let v = Double(number), v > 0 else { throw ValidationError("'\(text)' is not a duration like 5s or 500ms") }
    return v * scale
}

/// "64KB", "1MB", "4096" (bytes; K/M/G are powers of 1024).
func parseSize(_ text: String) throws -> Int {
    let t = text.uppercased().replacingOccurrences(of: "B", with: "")
    let scale = t.hasSuffix("K") ? 1 << 10 : t.hasSuffix("M") ? 1 << 20 : t.hasSuffix("G") ? 1 << 30 : 1
    guard let v = Int(scale == 1 ? t : String(t.dropLast())), v > 0 else { throw ValidationError("'\(text)' is not a size like 64KB") }
    return v * scale
}

func parseHosts(_ list: String) throws -> [Int] {
    try list.split(separator: ",").map {
        guard $0.hasPrefix("h"), let i = Int($0.dropFirst()), i > 0 else { throw ValidationError("hosts are named h1, h2, ...: got '\($0)'") }
        return i
    }
}

/// Options every pattern takes.
struct PatternOptions: ParsableArguments {
    @Option(help: "Test bed prefix.") var prefix: String = "sf"
    @Option(help: "How long each flow sends (5s, 500ms).") var duration: String = "2s"
    @Option(help: "Offered load per flow in Gb/s (0: as fast as the sender can).") var rate: Double = 0
    @Option(help: "Queue pairs per flow.") var qps: Int = 2
    @Option(help: "Message size (64KB, 1MB).") var message: String = "64KB"
    @Option(help: "Payload bytes per packet.") var mtu: Int = 1024
    @Option(help: "Congestion control: none or dcqcn.") var cc: String = "none"

    func testbed() -> Testbed {
        Testbed(prefix: prefix, hosts: 1, routed: FileManager.default.fileExists(atPath: "/run/swiftfabric/testbed-\(prefix).yaml"))
    }

    func options() throws -> WorkloadOptions {
        var o = WorkloadOptions()
        o.seconds = try parseDuration(duration)
        o.rateGbps = rate
        o.queuePairs = qps
        o.messageBytes = try parseSize(message)
        o.mtu = mtu
        o.extraSenderArguments = ["--cc", cc]
        return o
    }

    func run(_ pattern: Pattern, title: String) throws {
        let tb = testbed()
        print("\(title) on test bed '\(prefix)' for \(duration)\(rate > 0 ? " at \(rate) Gb/s per flow" : ""), \(qps) QPs per flow, \(message) messages")
        fflush(nil)
        let r = try Workload.run(fabric: selfExecutable(), testbed: tb, pattern: pattern, options: try options()) { line in
            print(line)
            fflush(nil)
        }
        print(r.table, terminator: "")
    }
}

extension TrafficCommand {
    struct Incast: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "N senders into one receiver: fabric traffic incast --to h1 --from h2,h3,h4 --duration 5s")
        @Option(help: "The receiving host.") var to: String
        @Option(help: "Sending hosts, comma separated.") var from: String
        @OptionGroup var common: PatternOptions
        func run() throws {
            let dst = try parseHosts(to), src = try parseHosts(from)
            guard dst.count == 1, !src.isEmpty, !src.contains(dst[0]) else { throw ValidationError("one --to host, and --from hosts other than it") }
            try common.run(.incast(to: dst[0], from: src), title: "incast \(from) -> \(to)")
        }
    }

    struct AllToAll: ParsableCommand {
        static let configuration = CommandConfiguration(commandName: "all-to-all", abstract: "Every host to every other host at once.")
        @Option(help: "Hosts, comma separated.") var hosts: String
        @OptionGroup var common: PatternOptions
        func run() throws {
            let h = try parseHosts(hosts)
            guard h.count >= 2 else { throw ValidationError("all-to-all needs at least 2 hosts") }
            try common.run(.allToAll(hosts: h), title: "all-to-all among \(hosts)")
        }
    }

    struct Permutation: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Each host sends to one other; each receives from one.")
        @Option(help: "Hosts, comma separated.") var hosts: String
        @Option(help: "Seed of the permutation.") var seed: UInt64 = 1
        @OptionGroup var common: PatternOptions
        func run() throws {
            let h = try parseHosts(hosts)
            guard h.count >= 2 else { throw ValidationError("a permutation needs at least 2 hosts") }
            try common.run(.permutation(hosts: h, seed: seed), title: "permutation among \(hosts) (seed \(seed))")
        }
    }

    struct Collective: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "All-to-all in rounds with a barrier: per round every host sends one message to every other; reports each round's completion time.")
        @Option(help: "Hosts, comma separated.") var hosts: String
        @Option(help: "Rounds.") var rounds: Int = 3
        @OptionGroup var common: PatternOptions
        func run() throws {
            let h = try parseHosts(hosts)
            guard h.count >= 2, rounds >= 1 else { throw ValidationError("a collective needs at least 2 hosts and 1 round") }
            var o = try common.options()
            o.messages = 1
            print("collective all-to-all among \(hosts): \(rounds) rounds of one \(common.message) message per pair")
            var times: [Double] = []
            for round in 1...rounds {
                let r = try Workload.run(fabric: selfExecutable(), testbed: common.testbed(), pattern: .allToAll(hosts: h), options: o)
                times.append(r.completionSeconds)
                print(String(format: "  round %d: completion %.3f ms, %llu packets, lost %llu, reordered %llu",
                             round, r.completionSeconds * 1000, r.receivedPackets, r.lost, r.reordered))
                fflush(nil)
            }
            let sorted = times.sorted()
            print(String(format: "collective completion time: median %.3f ms, min %.3f ms, max %.3f ms over %d rounds",
                         sorted[sorted.count / 2] * 1000, sorted.first! * 1000, sorted.last! * 1000, rounds))
        }
    }
}
