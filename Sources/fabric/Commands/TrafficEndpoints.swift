import ArgumentParser
import FabricCore
import FabricLab
import FabricPacket
import FabricSystem
import FabricTraffic
import Foundation

/// RC reliability options, shared by both ends (they must agree on the mode).
struct ReliabilityFlags: ParsableArguments {
    @Option(help: "RC transport: gbn (go-back-N, as ConnectX-class NICs), sr (selective repeat: the responder places packets after a gap, the requester resends only what is missing), or none (a load generator: no window, no ACKs awaited or sent; for a sink that answers nothing).")
    var transport: String = "gbn"
    @Option(help: "Requester: local ACK timeout as the IB QP attribute, 4.096 us x 2^N (0-31; 14 = 67 ms, 16 = 268 ms, 18 = 1.07 s).")
    var ackTimeout: Int = 16
    @Option(help: "Requester: resends after a timeout without progress before the QP fails (0-7).")
    var retryCount: Int = 7
    @Option(help: "Requester: packets a QP may have unacknowledged (1-1024).")
    var window: Int = 1024
    @Option(help: "Responder: ACK at least every N packets (besides every AckReq and a 32 us timer).")
    var ackEvery: Int = 16
    @Option(help: "Responder, sr: NAK a gap once this many packets were placed beyond it (reordering below that costs no resend).")
    var reorderTolerance: Int = 64

    func parameters() throws -> ReliabilityParameters {
        guard let mode = TransportMode(rawValue: transport) else { throw ValidationError("--transport is gbn, sr or none") }
        var p = ReliabilityParameters()
        p.mode = mode
        p.timeoutExponent = ackTimeout
        p.retryCount = retryCount
        p.windowPackets = window
        p.ackEveryPackets = ackEvery
        p.reorderTolerance = reorderTolerance
        do { try p.validate() } catch { throw ValidationError("\(error)") }
        return p
    }

    /// The same options for a child `fabric traffic send|recv`.
    var arguments: [String] {
        ["--transport", transport, "--ack-timeout", "\(ackTimeout)", "--retry-count", "\(retryCount)", "--window", "\(window)", "--ack-every", "\(ackEvery)", "--reorder-tolerance", "\(reorderTolerance)"]
    }
}

/// DCQCN reaction-point settings (per queue pair), with ConnectX's defaults.
struct DCQCNFlags: ParsableArguments {
    @Option(help: "DCQCN g, the alpha gain (ConnectX dce_tcp_g 1/256).") var dcqcnG: Double = 1.0 / 256
    @Option(help: "DCQCN alpha update period in us (rate_reduce_monitor_period: 55).") var dcqcnAlphaUs: Double = 55
    @Option(help: "DCQCN rate increase timer in us (rpg_time_reset: 300).") var dcqcnIncreaseUs: Double = 300
    @Option(help: "DCQCN rate increase byte counter (rpg_byte_reset; the paper's 10 MB).") var dcqcnBytes: Int = 10 << 20
    @Option(help: "DCQCN fast-recovery steps (rpg_threshold: 5).") var dcqcnFastRecovery: Int = 5
    @Option(help: "DCQCN additive increase in Mb/s (rpg_ai_rate: 5).") var dcqcnAiMbps: Double = 5
    @Option(help: "DCQCN hyper increase in Mb/s (rpg_hai_rate: 50).") var dcqcnHaiMbps: Double = 50
    @Option(help: "DCQCN minimum rate in Mb/s (rpg_min_rate: 1).") var dcqcnMinMbps: Double = 1

    func parameters() throws -> DCQCN.Parameters {
        var p = DCQCN.Parameters()
        p.g = dcqcnG
        p.alphaIntervalNanoseconds = UInt64(max(0, dcqcnAlphaUs) * 1000)
        p.increaseIntervalNanoseconds = UInt64(max(0, dcqcnIncreaseUs) * 1000)
        p.byteCounter = UInt64(max(0, dcqcnBytes))
        p.fastRecoverySteps = dcqcnFastRecovery
        p.additiveIncreaseGbps = dcqcnAiMbps / 1000
        p.hyperIncreaseGbps = dcqcnHaiMbps / 1000
        p.minimumRateGbps = dcqcnMinMbps / 1000
        do { try p.validate() } catch { throw ValidationError("\(error)") }
        return p
    }

    /// The same options for a child `fabric traffic send|rank`.
    var arguments: [String] {
        ["--dcqcn-g", "\(dcqcnG)", "--dcqcn-alpha-us", "\(dcqcnAlphaUs)", "--dcqcn-increase-us", "\(dcqcnIncreaseUs)", "--dcqcn-bytes", "\(dcqcnBytes)",
         "--dcqcn-fast-recovery", "\(dcqcnFastRecovery)", "--dcqcn-ai-mbps", "\(dcqcnAiMbps)", "--dcqcn-hai-mbps", "\(dcqcnHaiMbps)", "--dcqcn-min-mbps", "\(dcqcnMinMbps)"]
    }
}

/// `fabric traffic send|recv`: the building blocks, one RoCEv2 endpoint on this host.
extension TrafficCommand {
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
        @Option(help: "Link speed in Gb/s PFC quanta are timed at (512 bit times each; default: the interface's speed from ethtool, else 10). A test bed passes the speed it emulates: a veth reports a nominal 10.")
        var linkGbps: Double?
        @Option(help: "Test aid: corrupt every Nth new packet after its ICRC, so the receiver drops it and RC must repair it (resends are never corrupted; 0: never).") var corruptEvery: Int = 0
        @Option(help: "Start at this CLOCK_MONOTONIC time in ns (a barrier shared by several senders; 0: now).") var startAt: UInt64 = 0
        @OptionGroup var rc: ReliabilityFlags
        @OptionGroup var dcqcnFlags: DCQCNFlags
        @Flag(help: "Print the result as one JSON line.") var json = false

        func run() throws {
            var c = try senderAddresses(netns: netns, interface: interface, to: to, mac: mac, source: source)
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
            c.dcqcnParameters = try dcqcnFlags.parameters()
            if c.dcqcn && rate <= 0 { throw ValidationError("--cc dcqcn needs --rate (the line rate it starts from)") }
            c.priority = priority
            if let g = linkGbps, !(g > 0 && g <= 1600) { throw ValidationError("--link-gbps is a speed in Gb/s above 0 and at most 1600") }
            (c.linkGbps, c.linkSpeedSource) = SenderConfig.linkSpeed(option: linkGbps, reported: interfaceSpeedGbps(interface))
            c.corruptEvery = corruptEvery
            c.startAt = startAt
            c.reliability = try rc.parameters()
            guard messages >= 0 else { throw ValidationError("--messages is 0 (run for --seconds) or more") }
            let sender = try RoCESender(config: c)
            if let why = sender.fallbackReason { logLine("fabric traffic send: AF_XDP unavailable (\(why)); using AF_PACKET") }
            let r = try sender.run()
            if json {
                print(String(decoding: try JSONEncoder().encode(r), as: UTF8.self))
            } else {
                print(String(format: "sent %llu packets (%llu messages, %llu completed) in %.3f s = %.2f Gb/s; RC %@: %llu resent, %llu ACKs, %llu NAKs, %llu timeouts%@; PFC: %llu pauses, %llu resumes, %.0f us paused",
                             r.packets, r.messages, r.messagesCompleted, r.seconds, r.gbps, r.transport, r.retransmittedPackets, r.acksReceived, r.naksReceived, r.timeouts,
                             r.failedQueuePairs > 0 ? " (\(r.failedQueuePairs) QPs failed: retries exhausted)" : "", r.pauseFrames, r.resumeFrames, r.pausedMicroseconds)
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
        @OptionGroup var rc: ReliabilityFlags
        @Flag(help: "Print the report as one JSON line.") var json = false

        func run() throws {
            guard let b = SendBackend(rawValue: backend) else { throw ValidationError("--backend is afxdp or afpacket") }
            if let ns = netns { try enterNetworkNamespace(ns) }
            // SIGINT/SIGTERM end the run cleanly, so the XDP program leaves the interface.
            installStopHandlers()
            let receiver = try RoCEReceiver(interface: interface, bpfObject: b == .afxdp ? bpfObjectPath("roce_rx.o") : nil, reliability: try rc.parameters())
            if let why = receiver.fallbackReason { logLine("fabric traffic recv: AF_XDP unavailable (\(why)); using AF_PACKET") }
            let r = receiver.run(seconds: seconds, idle: idle) { ChildRun.announceReady("on \(interface)") }
            if json {
                print(String(decoding: try JSONEncoder().encode(r), as: UTF8.self))
            } else {
                print(r.table, terminator: "")
            }
        }
    }
}

/// A sender's addresses: `to`, and the next-hop MAC and source address the host's own routing
/// and ARP give out of `interface` (in `netns`, else where fabric runs: a container, whose
/// default route may leave by its management interface) unless `mac`/`source` say; enters
/// `netns` afterwards.
func senderAddresses(netns: String?, interface: String, to: String, mac: String?, source: String?) throws -> SenderConfig {
    var resolved: NextHopLookup.Result?
    if mac == nil || source == nil {
        resolved = try NextHopLookup.resolve(namespace: netns, destination: to, interface: interface)
    }
    if let ns = netns { try enterNetworkNamespace(ns) }
    guard let m = MACAddress(mac ?? resolved?.mac ?? "") else {
        throw ValidationError("need --mac: no next-hop MAC for \(to) from the host's routing and ARP")
    }
    if let dst6 = IPv6Address(to) {
        guard let src6 = IPv6Address(source ?? resolved?.source ?? "") else { throw ValidationError("need an IPv6 --source") }
        var c = SenderConfig(destinationMAC: m, source: 0, destination: 0)
        c.source6 = src6
        c.destination6 = dst6
        return c
    }
    guard let dst = parseIPv4(to), let src = parseIPv4(source ?? resolved?.source ?? "") else {
        throw ValidationError("--to is an IPv4 or IPv6 address; --source the same family")
    }
    return SenderConfig(destinationMAC: m, source: src, destination: dst)
}
