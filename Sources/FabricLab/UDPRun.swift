/// One UDP sender/receiver pair (`UDPProbe`), each a `fabric probe` child in its own namespace.
public enum UDPRun {
    public struct Result: Sendable {
        public var send: UDPProbe.SendResult
        public var receive: UDPProbe.ReceiveResult
    }

    public static func run(fabric: String, from: String, to: String, address: String, count: Int,
                           payload: Int = UDPProbe.payloadFor64ByteFrames, pps: Double = 0, port: UInt16 = 7777) throws -> Result {
        let receiver = try ChildRun.startReady([fabric, "probe", "udp-recv", "--netns", to, "--port", "\(port)",
                                                "--count", "\(count)", "--json"], what: "udp-recv in \(to)")
        defer { receiver.stop(grace: 1) }
        let send = try ChildRun.run([fabric, "probe", "udp-send", "--netns", from, "--to", address, "--port", "\(port)",
                                     "--count", "\(count)", "--payload", "\(payload)", "--pps", "\(pps)", "--json"],
                                    as: UDPProbe.SendResult.self, what: "udp-send in \(from)", timeout: 120)
        let receive = try ChildRun.result(of: receiver, as: UDPProbe.ReceiveResult.self, what: "udp-recv in \(to)", timeout: 15)
        return Result(send: send, receive: receive)
    }
}
