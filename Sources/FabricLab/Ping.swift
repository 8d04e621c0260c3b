import Foundation

/// `ping` from inside a host namespace, with every RTT kept (for percentiles).
public struct PingResult: Sendable, Equatable {
    public init() {}
    public var transmitted = 0
    public var received = 0
    public var rttMilliseconds: [Double] = []
    public var loss: Double { transmitted == 0 ? 1 : 1 - Double(received) / Double(transmitted) }
}

public enum Ping {
    /// Runs iputils ping (`-i` below 0.2 s needs root, which the lab has).
    ///
    /// With a deadline (`-w`): without one, iputils ping waits after its last request only
    /// max(2 x the largest RTT so far, the interval) before it exits (`schedule_exit`), not the
    /// `-W` timeout, so at `-i 0.02` a last reply held up 20 ms by a busy CPU was counted lost
    /// although it arrived (two CI failures, a ping lost with the switch counting no drop).
    /// With `-w` it waits for `count` replies until the deadline: every request sent gets
    /// `waitSeconds` or more to be answered.
    public static func run(from ns: String, to ip: String, count: Int, interval: Double = 0.01,
                           size: Int = 56, waitSeconds: Int = 1) throws -> PingResult {
        let out = try Shell.inNamespace(ns, ["ping", "-n", "-c", "\(count)", "-i", "\(interval)",
                                             "-s", "\(size)", "-W", "\(waitSeconds)",
                                             "-w", "\(deadline(count: count, interval: interval, waitSeconds: waitSeconds))", ip],
                                        check: false)
        return parse(out)
    }

    /// Whole seconds for `count` requests `interval` apart (half as long again, for a busy
    /// CPU's late timers) plus `waitSeconds` for the last reply, plus one.
    public static func deadline(count: Int, interval: Double, waitSeconds: Int) -> Int {
        Int((Double(max(count - 1, 0)) * interval * 1.5).rounded(.up)) + max(waitSeconds, 1) + 1
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
