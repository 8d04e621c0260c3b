import Foundation

/// A failed external command, with what it said.
public struct CommandError: Error, CustomStringConvertible {
    public let command: [String]
    public let status: Int32
    public let output: String
    public var description: String {
        "`\(command.joined(separator: " "))` failed (exit \(status)): \(output.trimmingCharacters(in: .whitespacesAndNewlines))"
    }
}

/// Runs external commands (ip, ethtool, ping, iperf3) for the lab. Never on a data path.
public enum Shell {
    /// Runs a command to completion, returning stdout+stderr. Throws on a non-zero exit
    /// unless `check` is false.
    @discardableResult
    public static func run(_ args: [String], check: Bool = true) throws -> String {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        p.arguments = args
        let pipe = Pipe()
        p.standardOutput = pipe
        p.standardError = pipe
        p.standardInput = FileHandle.nullDevice
        try p.run()
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        let out = String(decoding: data, as: UTF8.self)
        if check && p.terminationStatus != 0 {
            throw CommandError(command: args, status: p.terminationStatus, output: out)
        }
        return out
    }

    /// Runs a command inside a network namespace (`ip netns exec`).
    @discardableResult
    public static func inNamespace(_ ns: String, _ args: [String], check: Bool = true) throws -> String {
        try run(["ip", "netns", "exec", ns] + args, check: check)
    }

    public static func exists(_ tool: String) -> Bool {
        (try? run(["sh", "-c", "command -v \(tool)"], check: true)) != nil
    }
}

/// A child process we started and therefore may stop: always by its own PID, never by name.
public final class ChildProcess: @unchecked Sendable {
    public let process = Process()
    private let outPipe = Pipe()
    private let lock = NSLock()
    private var collected = Data()

    /// Starts `args` with stdout and stderr collected in memory.
    public init(_ args: [String]) throws {
        process.executableURL = URL(fileURLWithPath: args[0].hasPrefix("/") ? args[0] : "/usr/bin/env")
        process.arguments = args[0].hasPrefix("/") ? Array(args.dropFirst()) : args
        process.standardOutput = outPipe
        process.standardError = outPipe
        process.standardInput = FileHandle.nullDevice
        outPipe.fileHandleForReading.readabilityHandler = { [weak self] h in
            let d = h.availableData
            guard let self, !d.isEmpty else { return }
            self.lock.lock()
            self.collected.append(d)
            self.lock.unlock()
        }
        try process.run()
    }

    public var pid: Int32 { process.processIdentifier }
    public var isRunning: Bool { process.isRunning }

    /// Everything the child printed so far.
    public var output: String {
        lock.lock()
        defer { lock.unlock() }
        return String(decoding: collected, as: UTF8.self)
    }

    /// After exit: stop the asynchronous reader and read whatever is still in the pipe.
    private func drain() {
        lock.lock()
        let first = !drained
        drained = true
        lock.unlock()
        guard first else { return }
        outPipe.fileHandleForReading.readabilityHandler = nil
        let rest = outPipe.fileHandleForReading.readDataToEndOfFile()
        lock.lock()
        collected.append(rest)
        lock.unlock()
    }
    private var drained = false

    public func signal(_ sig: Int32) {
        if process.isRunning { kill(pid, sig) }
    }

    /// Waits up to `timeout` seconds for the child to exit; returns its status or nil.
    @discardableResult
    public func wait(timeout: Double) -> Int32? {
        let deadline = Date().addingTimeInterval(timeout)
        while process.isRunning && Date() < deadline { usleep(10_000) }
        if process.isRunning { return nil }
        drain()
        return process.terminationStatus
    }

    /// SIGTERM, then SIGKILL if it does not exit within `grace` seconds.
    @discardableResult
    public func stop(grace: Double = 5) -> Int32? {
        signal(SIGTERM)
        if let s = wait(timeout: grace) { return s }
        signal(SIGKILL)
        return wait(timeout: 5)
    }

    deinit {
        if process.isRunning { kill(pid, SIGKILL) }
        outPipe.fileHandleForReading.readabilityHandler = nil
    }
}
