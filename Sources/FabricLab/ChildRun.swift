import Foundation

/// The lab's children that report in JSON (`fabric traffic send|recv --json`, `fabric probe
/// udp-send|udp-recv --json`): started, waited for until they say they are ready, and read back
/// from the last line of their output that is a JSON object.
public enum ChildRun {
    /// What a receiver prints once it can take traffic (`announceReady` prints it).
    public static let readyPrefix = "listening"

    /// Said by a child once it is ready: "listening on eth0".
    public static func announceReady(_ what: String) {
        print("\(readyPrefix) \(what)")
        fflush(nil)
    }

    /// Starts `args` and returns once it announced it is ready; throws if it exits first or
    /// does not within `timeout` seconds (stopping it).
    public static func startReady(_ args: [String], what: String, timeout: Double = 20) throws -> ChildProcess {
        let child = try ChildProcess(args)
        let deadline = Date().addingTimeInterval(timeout)
        while !child.output.contains(readyPrefix) {
            guard child.isRunning, Date() < deadline else {
                child.stop(grace: 1)
                throw TestbedError("\(what) did not get ready\(child.isRunning ? " within \(Int(timeout)) s" : ""):\n\(child.output.suffix(2000))")
            }
            do { try Interrupt.check() } catch { child.stop(grace: 1); throw error }
            usleep(5_000)
        }
        return child
    }

    /// Waits up to `timeout` seconds for `child` to exit and decodes its last JSON line as `T`.
    public static func result<T: Decodable>(of child: ChildProcess, as: T.Type, what: String, timeout: Double) throws -> T {
        let deadline = Date().addingTimeInterval(timeout)
        while child.isRunning && Date() < deadline {
            try Interrupt.check()
            usleep(10_000)
        }
        guard child.wait(timeout: 0) != nil else { throw TestbedError("\(what) did not finish within \(Int(timeout)) s") }
        return try decodeLast(T.self, from: child.output, what: what)
    }

    /// Runs `args` to completion (at most `timeout` seconds) and decodes its last JSON line.
    public static func run<T: Decodable>(_ args: [String], as: T.Type, what: String, timeout: Double) throws -> T {
        let child = try ChildProcess(args)
        defer { child.stop(grace: 1) }
        return try result(of: child, as: T.self, what: what, timeout: timeout)
    }

    /// The last line of `output` that is a JSON object, decoded as `T`.
    public static func decodeLast<T: Decodable>(_: T.Type, from output: String, what: String) throws -> T {
        guard let line = output.split(separator: "\n").last(where: { $0.hasPrefix("{") }) else {
            throw TestbedError("\(what) printed no result:\n\(output.suffix(2000))")
        }
        do {
            return try JSONDecoder().decode(T.self, from: Data(line.utf8))
        } catch {
            throw TestbedError("\(what): cannot read its result (\(error)):\n\(line.prefix(500))")
        }
    }
}
