import FabricTraffic
import Foundation

/// A receiver and a sender, each a `fabric traffic` child in its own namespace.
public enum RoCERun {
    public struct Result: Sendable {
        public var sender: SenderReport
        public var receiver: ReceiverReport
    }

    public static func run(fabric: String, from: String, to: String, destination: String, seconds: Double, rate: Double,
                    qps: Int, message: Int, mtu: Int, extra: [String] = []) throws -> Result {
        let receiver = try ChildProcess([fabric, "traffic", "recv", "--netns", to, "--seconds", "\(seconds + 10)", "--idle", "1", "--json"])
        defer { receiver.stop(grace: 1) }
        let deadline = Date().addingTimeInterval(10)
        while !receiver.output.contains("listening") && receiver.isRunning && Date() < deadline { usleep(5_000) }
        let sendOut = try Shell.run([fabric, "traffic", "send", "--netns", from, "--to", destination, "--seconds", "\(seconds)",
                                     "--rate", "\(rate)", "--qps", "\(qps)", "--message", "\(message)", "--mtu", "\(mtu)", "--json"] + extra)
        _ = receiver.wait(timeout: 15)
        let dec = JSONDecoder()
        guard let s = sendOut.split(separator: "\n").last(where: { $0.hasPrefix("{") }),
              let sender = try? dec.decode(SenderReport.self, from: Data(s.utf8)) else {
            throw TestbedError("sender failed: \(sendOut)")
        }
        guard let r = receiver.output.split(separator: "\n").last(where: { $0.hasPrefix("{") }),
              let report = try? dec.decode(ReceiverReport.self, from: Data(r.utf8)) else {
            throw TestbedError("receiver failed: \(receiver.output)")
        }
        return Result(sender: sender, receiver: report)
    }
}
