import FabricTraffic

/// A receiver and a sender, each a `fabric traffic` child in its own namespace.
public enum RoCERun {
    public struct Result: Sendable {
        public var sender: SenderReport
        public var receiver: ReceiverReport
    }

    public static func run(fabric: String, from: String, to: String, destination: String, seconds: Double, rate: Double,
                           qps: Int, message: Int, mtu: Int, extra: [String] = []) throws -> Result {
        let receiver = try ChildRun.startReady([fabric, "traffic", "recv", "--netns", to, "--seconds", "\(seconds + 10)", "--idle", "1", "--json"],
                                               what: "the receiver in \(to)")
        defer { receiver.stop(grace: 1) }
        let sender = try ChildRun.run([fabric, "traffic", "send", "--netns", from, "--to", destination, "--seconds", "\(seconds)",
                                       "--rate", "\(rate)", "--qps", "\(qps)", "--message", "\(message)", "--mtu", "\(mtu)", "--json"] + extra,
                                      as: SenderReport.self, what: "the sender in \(from)", timeout: seconds + 60)
        let report = try ChildRun.result(of: receiver, as: ReceiverReport.self, what: "the receiver in \(to)", timeout: 15)
        return Result(sender: sender, receiver: report)
    }
}
