// What a sender sends, checked once at `RoCESender.init` (Click's configure(): the run loop
// never re-reads or re-checks it).
import FabricPacket

public struct SenderConfig: Sendable {
    public var interface = "eth0"
    public var backend: SendBackend = .afxdp
    public var destinationMAC: MACAddress
    public var source: UInt32
    public var destination: UInt32
    /// IPv6 RoCEv2 instead of IPv4 when both are set.
    public var source6: IPv6Address?
    public var destination6: IPv6Address?
    public var queuePairs = 1
    /// First local QPN; QP i is localQP + i, talking to remote QPN remoteQP + i.
    public var localQP: UInt32 = 0x100
    public var remoteQP: UInt32 = 0x200
    public var messageBytes = 4096
    /// Payload bytes per packet (the RoCE path MTU).
    public var mtu = 1024
    public var verb: RoCEBuilder.Verb = .rdmaWrite
    /// Stop after this many messages (0: run for `seconds`).
    public var messages = 0
    public var seconds = 1.0
    /// Offered load in Gb/s on the wire (0: as fast as the socket takes frames).
    public var rateGbps = 0.0
    /// Or in packets per second (used when `rateGbps` is 0; DCQCN needs `rateGbps`).
    public var packetsPerSecond = 0.0
    /// With `rateGbps`: send each message's packets back to back at this rate (a NIC's line
    /// rate) and space the messages to keep the average at `rateGbps`, as RDMA traffic comes;
    /// gaps between messages are where flowlets begin (0: pace every packet evenly).
    public var burstGbps = 0.0
    public var dscp: UInt8 = 26
    public var ecn: UInt8 = 2          // ECT(0)
    /// 802.1p priority of this traffic (PFC pauses it); the NVIDIA profile's lossless class.
    public var priority = 3
    /// Link speed for PFC quanta (512 bit times each): see `linkSpeed(option:reported:)`.
    public var linkGbps = SenderConfig.fallbackLinkGbps
    /// Where `linkGbps` came from.
    public var linkSpeedSource = LinkSpeedSource.fallback
    /// CLOCK_MONOTONIC time to start at (0: now): lets several senders start together, the
    /// barrier of a collective round.
    public var startAt: UInt64 = 0
    /// Congestion control: DCQCN, per queue pair, cuts a QP's rate on its CNPs and recovers it
    /// (needs a rate: the line rate each QP starts from), with these settings.
    public var dcqcn = false
    public var dcqcnParameters = DCQCN.Parameters()
    /// RC reliability: go-back-N or selective repeat, timeout, retries, window.
    public var reliability = ReliabilityParameters()
    /// Test aid: every Nth first transmission gets one payload byte flipped after its ICRC was
    /// computed, so receivers must count it as an ICRC failure and RC must repair it; resends
    /// are never corrupted (0: never).
    public var corruptEvery = 0

    public init(destinationMAC: MACAddress, source: UInt32, destination: UInt32) {
        self.destinationMAC = destinationMAC
        self.source = source
        self.destination = destination
    }
}

extension SenderConfig {
    /// The addresses every packet carries: IPv6 when both IPv6 addresses are set, else IPv4.
    func addresses(sourceMAC: MACAddress) -> RoCEBuilder.Addresses {
        if let s6 = source6, let d6 = destination6 {
            return RoCEBuilder.Addresses(sourceMAC: sourceMAC, destinationMAC: destinationMAC, source6: s6, destination6: d6)
        }
        return RoCEBuilder.Addresses(sourceMAC: sourceMAC, destinationMAC: destinationMAC, source: source, destination: destination)
    }

    var usesIPv6: Bool { source6 != nil && destination6 != nil }

    /// Packets per message: MTU-sized, the last one shorter.
    var packetsPerMessage: Int { (messageBytes + mtu - 1) / mtu }

    /// The opcodes of a message's packets: ONLY, FIRST, MIDDLE, LAST.
    var opcodes: [UInt8] {
        [(0, 1), (0, 2), (1, 3), (1, 2)].map { verb.opcode(index: $0.0, count: $0.1) }
    }

    /// The most extended-header bytes a packet carries (RETH on an RDMA WRITE's FIRST and
    /// ONLY packets; none for SEND).
    var largestExtendedHeader: Int { opcodes.map { RoCEOpcode.extendedHeaderLength($0) ?? 0 }.max() ?? 0 }

    /// The largest frame a packet of `payload` bytes takes.
    func largestFrame(payload: Int) -> Int {
        opcodes.map { RoCEBuilder.frameLength(opcode: $0, payload: payload, ipv6: usesIPv6) }.max() ?? 0
    }

    /// The largest `mtu` whose packets fit in frames of `frameBytes` (payloads are padded to
    /// 4 bytes, so it is a multiple of 4).
    public func largestMTU(frameBytes: Int) -> Int {
        (frameBytes - largestFrame(payload: 0)) & ~3
    }

    /// Throws a `TrafficError` that names the setting, the limit and why. `frameBytes`: what
    /// one transmitted frame may take.
    public func validate(frameBytes: Int = RoCESender.frameBytes) throws {
        guard mtu >= TrafficPayload.length else {
            throw TrafficError("mtu \(mtu): a packet carries at least the \(TrafficPayload.length)-byte payload header (send time, message, QP)")
        }
        let frame = largestFrame(payload: mtu)
        guard frame <= frameBytes else {
            let ip = usesIPv6 ? "IPv6 \(IPv6View.length)" : "IPv4 \(IPv4View.minimumLength)"
            let ext = largestExtendedHeader > 0 ? " + RETH \(largestExtendedHeader)" : ""
            throw TrafficError("mtu \(mtu): a RoCEv2 packet of \(mtu) payload bytes is a \(frame)-byte frame (Ethernet \(EthernetView.headerLength)"
                               + " + \(ip) + UDP \(UDPView.length) + BTH \(BTHView.length)\(ext) + payload padded to 4 bytes + ICRC \(BTHView.icrcLength)),"
                               + " more than the \(frameBytes) bytes a frame may take (a 9500-byte Ethernet MTU's frame);"
                               + " the largest mtu is \(largestMTU(frameBytes: frameBytes))")
        }
        guard messageBytes >= 1 else { throw TrafficError("message \(messageBytes) bytes: a message has at least 1 byte") }
        guard (1...4096).contains(queuePairs) else { throw TrafficError("\(queuePairs) queue pairs: 1...4096") }
        guard (0...7).contains(priority) else { throw TrafficError("priority \(priority): an 802.1p priority is 0...7") }
        guard messages >= 0 else { throw TrafficError("messages \(messages): 0 (run for the seconds) or more") }
        try reliability.validate()
        try dcqcnParameters.validate()
    }
}

extension SenderConfig {
    /// How the sender learned the speed it times PFC quanta at.
    public enum LinkSpeedSource: String, Codable, Sendable {
        /// `--link-gbps`: what a test bed passes for a link whose speed it emulates (a veth
        /// reports a nominal 10 Gb/s whatever the switch's port shapes it to).
        case option
        /// The interface's speed as its driver reports it (ethtool).
        case interface
        /// Neither: `fallbackLinkGbps`.
        case fallback
    }

    public static let fallbackLinkGbps = 10.0

    /// The speed PFC quanta are timed at (one quantum is 512 bit times at the link's speed,
    /// 802.1Qbb): `option` if given, else the speed the interface reports, else 10 Gb/s.
    public static func linkSpeed(option: Double?, reported: Double?) -> (gbps: Double, source: LinkSpeedSource) {
        if let o = option { return (o, .option) }
        if let r = reported, r > 0 { return (r, .interface) }
        return (fallbackLinkGbps, .fallback)
    }
}
