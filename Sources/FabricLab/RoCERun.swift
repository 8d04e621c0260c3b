import FabricTraffic
import Foundation

/// A receiver and a sender, each a `fabric traffic` child in its own namespace: one RC
/// connection's worth of queue pairs from one host to another.
public enum RoCERun {
    /// What to send: `messages` messages (0: for `seconds`), the rest as `fabric traffic send`.
    public struct Options: Sendable {
        public var seconds = 2.0
        public var messages = 0
        public var rateGbps = 0.0
        public var queuePairs = 4
        public var messageBytes = 65536
        public var mtu = 1024
        public var corruptEvery = 0
        /// Options both ends take (`--transport`, timeouts, window).
        public var reliabilityArguments: [String] = []
        /// The speed of the sender's link, for PFC quanta (`--link-gbps`; nil: the sender asks
        /// its interface, and a veth says 10 Gb/s whatever is emulated on it).
        public var linkGbps: Double?
        /// More `fabric traffic send` options.
        public var senderArguments: [String] = []
        public init() {}
    }

    /// Both reports, and the pair's numbers at the top (the keys of `--json`).
    public struct Result: Sendable, Encodable {
        public var messagesSent: UInt64
        public var messagesCompleted: UInt64
        public var retransmittedPackets: UInt64
        public var naksReceived: UInt64
        public var timeouts: UInt64
        /// First transmissions that never arrived (the receiver's count), repaired or not.
        public var lost: UInt64
        public var jctSeconds: Double
        public var transport: String
        public var sender: SenderReport
        public var receiver: ReceiverReport

        init(sender: SenderReport, receiver: ReceiverReport) {
            messagesSent = sender.messages
            messagesCompleted = sender.messagesCompleted
            retransmittedPackets = sender.retransmittedPackets
            naksReceived = sender.naksReceived
            timeouts = sender.timeouts
            lost = receiver.lost
            jctSeconds = sender.jctSeconds
            transport = sender.transport
            self.sender = sender
            self.receiver = receiver
        }
    }

    public static func run(fabric: String, from: String, to: String, destination: String, options o: Options) throws -> Result {
        let limit = o.messages > 0 ? 60 : o.seconds
        let receiver = try ChildRun.startReady([fabric, "traffic", "recv", "--netns", to, "--seconds", "\(limit + 30)", "--idle", "1", "--json"]
                                                 + o.reliabilityArguments, what: "the receiver in \(to)")
        defer { receiver.stop(grace: 1) }
        var args = [fabric, "traffic", "send", "--netns", from, "--to", destination, "--rate", "\(o.rateGbps)", "--qps", "\(o.queuePairs)",
                    "--message", "\(o.messageBytes)", "--mtu", "\(o.mtu)", "--json"]
        args += o.messages > 0 ? ["--messages", "\(o.messages)"] : ["--seconds", "\(o.seconds)"]
        if o.corruptEvery > 0 { args += ["--corrupt-every", "\(o.corruptEvery)"] }
        if let g = o.linkGbps { args += ["--link-gbps", "\(g)"] }
        let sender = try ChildRun.run(args + o.reliabilityArguments + o.senderArguments, as: SenderReport.self, what: "the sender in \(from)",
                                      timeout: limit + 60)
        let report = try ChildRun.result(of: receiver, as: ReceiverReport.self, what: "the receiver in \(to)", timeout: 15)
        return Result(sender: sender, receiver: report)
    }

    /// The older call: `seconds` of traffic.
    public static func run(fabric: String, from: String, to: String, destination: String, seconds: Double, rate: Double,
                           qps: Int, message: Int, mtu: Int, extra: [String] = []) throws -> Result {
        var o = Options()
        o.seconds = seconds
        o.rateGbps = rate
        o.queuePairs = qps
        o.messageBytes = message
        o.mtu = mtu
        o.senderArguments = extra
        return try run(fabric: fabric, from: from, to: to, destination: destination, options: o)
    }
}
