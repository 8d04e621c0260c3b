import Foundation

/// `ping` from inside a host namespace, with every RTT kept (for percentiles).
public struct PingResult: Sendable {
    public var transmitted = 0
    public var received = 0
    public var rttMilliseconds: [Double] = []
    public var loss: Double { transmitted == 0 ? 1 : 1 - Double(received) / Double(transmitted) }
}

public enum Ping {
    /// Runs iputils ping (`-i` below 0.2 s needs root, which the lab has).
    public static func run(from ns: String, to ip: String, count: Int, interval: Double = 0.01,
                           size: Int = 56, waitSeconds: Int = 1) throws -> PingResult {
        let out = try Shell.inNamespace(ns, ["ping", "-n", "-c", "\(count)", "-i", "\(interval)",
                                             "-s", "\(size)", "-W", "\(waitSeconds)", ip], check: false)
        return parse(out)
    }

    /// Parses iputils output: one `time=0.123 ms` per reply and the summary line.
    public static func parse(_ out: String) -> PingResult {
        var r = PingResult()
        for line in out.split(separator: "\n") {
            if let range = line.range(of: "time=") {
                let rest = line[range.upperBound...].split(separator: " ").first ?? ""
                if let v = Double(rest) { r.rttMilliseconds.append(v) }
            } else if line.contains("packets transmitted") {
                let parts = line.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }
                r.transmitted = Int(parts.first?.split(separator: " ").first ?? "") ?? 0
                if parts.count > 1 { r.received = Int(parts[1].split(separator: " ").first ?? "") ?? 0 }
            }
        }
        return r
    }
}

/// The kernel's own counters of an interface (`ip -s -j link`), read from outside.
public struct LinkStats: Sendable {
    public var rxPackets: UInt64
    public var rxBytes: UInt64
    public var txPackets: UInt64
    public var txBytes: UInt64
    public var rxDropped: UInt64
    public var txDropped: UInt64

    public static func read(namespace ns: String, device: String) throws -> LinkStats {
        let out = try Shell.run(["ip", "-n", ns, "-s", "-j", "link", "show", "dev", device])
        guard let arr = try JSONSerialization.jsonObject(with: Data(out.utf8)) as? [[String: Any]],
              let stats = arr.first?["stats64"] as? [String: Any],
              let rx = stats["rx"] as? [String: Any], let tx = stats["tx"] as? [String: Any] else {
            throw TestbedError("cannot read counters of \(ns):\(device)")
        }
        func n(_ d: [String: Any], _ k: String) -> UInt64 { (d[k] as? NSNumber)?.uint64Value ?? 0 }
        return LinkStats(rxPackets: n(rx, "packets"), rxBytes: n(rx, "bytes"), txPackets: n(tx, "packets"),
                         txBytes: n(tx, "bytes"), rxDropped: n(rx, "dropped"), txDropped: n(tx, "dropped"))
    }
}
