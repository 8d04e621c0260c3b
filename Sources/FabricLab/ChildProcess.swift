import Foundation

/// A child process we started and therefore may stop: always by its own PID, never by name.
/// Its stdout and stderr are collected in memory, or written to a log file when it is to
/// outlive us (`fabric testbed up` leaves its switches running).
public final class ChildProcess: @unchecked Sendable {
    public let process = Process()
    /// Where the output goes when it is not collected; such a child is left running at deinit.
    public let logFile: String?
    private let outPipe = Pipe()
    private let lock = NSLock()
    private var collected = Data()
    private var drained = false

    /// Starts `args` (a path, or a name looked up on PATH) with its output collected in memory,
    /// or appended to `logFile`.
    public init(_ args: [String], logFile: String? = nil) throws {
        self.logFile = logFile
        process.executableURL = URL(fileURLWithPath: args[0].hasPrefix("/") ? args[0] : "/usr/bin/env")
        process.arguments = args[0].hasPrefix("/") ? Array(args.dropFirst()) : args
        process.standardInput = FileHandle.nullDevice
        if let log = logFile {
            guard FileManager.default.createFile(atPath: log, contents: nil) else { throw TestbedError("cannot create \(log)") }
            let out = try FileHandle(forWritingTo: URL(fileURLWithPath: log))
            process.standardOutput = out
            process.standardError = out
        } else {
            process.standardOutput = outPipe
            process.standardError = outPipe
            outPipe.fileHandleForReading.readabilityHandler = { [weak self] h in
                let d = h.availableData
                guard let self, !d.isEmpty else { return }
                self.lock.lock()
                self.collected.append(d)
                self.lock.unlock()
            }
        }
        try process.run()
    }

    public var pid: Int32 { process.processIdentifier }
    public var isRunning: Bool { process.isRunning }

    /// Everything the child printed so far.
    public var output: String {
        if let log = logFile { return (try? String(contentsOfFile: log, encoding: .utf8)) ?? "" }
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
        guard first, logFile == nil else { return }
        outPipe.fileHandleForReading.readabilityHandler = nil
        let rest = outPipe.fileHandleForReading.readDataToEndOfFile()
        lock.lock()
        collected.append(rest)
        lock.unlock()
    }

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
        guard logFile == nil else { return }
        if process.isRunning { kill(pid, SIGKILL) }
        outPipe.fileHandleForReading.readabilityHandler = nil
    }
}
