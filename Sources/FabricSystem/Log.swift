import Glibc
import Logging

// The switch's and the lab's diagnostics go through swift-log: one `Logger` per stream, each with
// a `FabricLogHandler`, which writes one line per event, `ISO-8601-time level message`, e.g.
//
//     2026-12-02T08:41:07.512337Z info fabric: port h3: link down (carrier lost ...)
//
// so the logs of detached switches (`/run/swiftfabric/P/node.log`) line up in time with each
// other and with a recording. The message text is kept as it is: scripts and tests look for it.
// The handlers are given to each `Logger` directly, not through `LoggingSystem.bootstrap`, so
// every entry point (the CLI, tests, benchmarks) gets the same lines without a setup call.
// Nothing logs on the per-packet path.

/// A swift-log handler that writes `TIME LEVEL MESSAGE [key=value ...]` lines to a descriptor
/// with one `write(2)` each (unbuffered, safe from any thread; lines never interleave).
public struct FabricLogHandler: LogHandler {
    public var logLevel: Logger.Level = .info
    public var metadata: Logger.Metadata = [:]
    public var metadataProvider: Logger.MetadataProvider?
    /// 1 (standard output) or 2 (standard error).
    public let descriptor: Int32

    public init(descriptor: Int32) {
        self.descriptor = descriptor
    }

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    public func log(event: LogEvent) {
        var line = Self.timestamp() + " " + event.level.rawValue + " " + event.message.description
        var all = metadata
        if let provided = metadataProvider?.get() { all.merge(provided) { $1 } }
        if let extra = event.metadata { all.merge(extra) { $1 } }
        for key in all.keys.sorted() { line += " \(key)=\(all[key]!)" }
        line += "\n"
        line.withCString { p in _ = write(descriptor, p, strlen(p)) }
    }

    /// Wall-clock time, UTC, microseconds: `2026-12-02T08:41:07.512337Z` (RFC 3339 / ISO 8601).
    public static func timestamp() -> String {
        var ts = timespec()
        clock_gettime(CLOCK_REALTIME, &ts)
        var seconds = ts.tv_sec
        var t = tm()
        gmtime_r(&seconds, &t)
        func pad(_ v: Int, _ width: Int) -> String {
            let s = String(v)
            return s.count >= width ? s : String(repeating: "0", count: width - s.count) + s
        }
        return "\(pad(Int(t.tm_year) + 1900, 4))-\(pad(Int(t.tm_mon) + 1, 2))-\(pad(Int(t.tm_mday), 2))"
            + "T\(pad(Int(t.tm_hour), 2)):\(pad(Int(t.tm_min), 2)):\(pad(Int(t.tm_sec), 2))"
            + ".\(pad(ts.tv_nsec / 1000, 6))Z"
    }
}

/// Diagnostics: standard error.
public let fabricLog = Logger(label: "fabric") { _ in FabricLogHandler(descriptor: 2) }
/// A long-running command's own events (`fabric switch: ... forwarding on ...`, `stopped after`):
/// standard output, where its tables go too, in order with them.
public let fabricEvents = Logger(label: "fabric.events") { _ in FabricLogHandler(descriptor: 1) }

/// Logs one diagnostic line at `info` to standard error, timestamped (see `FabricLogHandler`).
public func logLine(_ message: String) {
    fabricLog.info("\(message)")
}

/// Logs one diagnostic line at `warning` to standard error.
public func logWarning(_ message: String) {
    fabricLog.warning("\(message)")
}

/// Logs one diagnostic line at `error` to standard error.
public func logError(_ message: String) {
    fabricLog.error("\(message)")
}

/// Logs one of a command's events at `info` to standard output (flushing what `print` buffered
/// there first, so the lines stay in order).
public func logEvent(_ message: String) {
    fflush(nil)
    fabricEvents.info("\(message)")
}
