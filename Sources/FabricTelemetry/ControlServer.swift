import FabricCore
import FabricSystem
import Foundation
import Glibc
import Synchronization

/// The switch's control socket: a Unix stream socket, mode 0600, at
/// `/run/swiftfabric/switch-NAME/control.sock`. A client connects, writes one request line and
/// reads the answer until the switch closes the connection:
/// - `snapshot`: the switch's counters as JSON (`SwitchReport`, the same document as
///   --stats-file), at most one worker iteration old;
/// - `depth`: the last second of queue depths (`DepthSeries`, sampled every 100 us);
/// - anything else is a change (`fabric ctl`: port shutdown/startup, route add/del, config
///   apply, clear): `prepare` (set by the switch) parses and validates it and builds what it
///   needs on the server's thread, the worker applies the prepared `ControlChange` between two
///   batches (no frame is dropped for it), and the client reads one line, `ok: ...` or
///   `error: ...`.
///
/// The worker never blocks on a client: a server thread asks by setting its kind's bit in
/// `requested` (one relaxed load per worker iteration, never per packet), the worker builds
/// the answer at the end of an iteration, hands it over under a lock and clears that bit only.
/// Each kind (snapshot, series, change) has its own bit and its own answer count, so the
/// control thread and the metrics thread asking at once each get their own answer: a waiter
/// waits for its kind's count to move past the one it saw when it asked.
///
/// A client holds the server's thread for `limits` at most (ClientLimits). A request is one
/// line of printable text; anything else is refused without echoing it.
public final class ControlServer: @unchecked Sendable {
    public static let root = "/run/swiftfabric"
    public let directory: String
    public var path: String { directory + "/control.sock" }
    let fd: Int32
    /// What the server threads wait for, one bit per kind (`Request`): set by the server,
    /// cleared by the worker when it published that kind.
    let requested = Atomic<UInt8>(0)
    enum Request: UInt8 {
        case snapshot = 1, series = 2, change = 4
    }
    var publishedSeries: DepthSeries?
    let lock = NSCondition()
    var publishedReport: SwitchReport?
    /// How many answers of each kind the worker published (under `lock`).
    var reports = 0, serieses = 0, changes = 0
    /// How long one client may hold the server (set before `start`).
    public var limits = ClientLimits()
    var stopping = false
    var thread: Thread?
    /// Turns a change request into a `ControlChange` (or throws what is wrong with it). Runs on
    /// the server's thread, one request at a time.
    public var prepare: (@Sendable (String) throws -> any ControlChange)?
    /// The change waiting for the worker, and the worker's answer.
    var pendingChange: (any ControlChange)?
    var changeAnswer: String?
    let changeLock = NSLock()

    public static func directory(name: String) -> String { "\(root)/switch-\(name)" }

    /// Binds the socket (refusing when a live switch of the same name answers on it).
    public init(name: String) throws {
        if let problem = SwitchConfig.nameProblem(name) { throw SystemError(problem) }
        directory = Self.directory(name: name)
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        let sockPath = directory + "/control.sock"
        if FileManager.default.fileExists(atPath: sockPath) {
            if (try? ControlClient.request(path: sockPath, "ping", timeout: 0.5)) != nil {
                throw SystemError("a switch named '\(name)' is already running (its control socket \(sockPath) answers); give this one another --name")
            }
            unlink(sockPath)   // stale: its switch is gone
        }
        let s = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
        guard s >= 0 else { throw SystemError("control socket: \(String(cString: strerror(errno)))") }
        guard let addr = FD.unixAddress(sockPath) else { close(s); throw SystemError("control socket path too long: \(sockPath)") }
        let old = umask(0o177)                       // the socket is created 0600
        let ok = FD.withSockaddr(addr) { bind(s, $0, $1) }
        umask(old)
        guard ok == 0, listen(s, 16) == 0 else {
            let e = String(cString: strerror(errno))
            close(s)
            throw SystemError("control socket \(sockPath): \(e)")
        }
        chmod(sockPath, 0o600)
        fd = s
    }

    /// Serves requests on a thread of its own until `stop`.
    public func start() {
        thread = Listener.start(fd: fd, name: "fabric-control", limits: limits, stopping: { [self] in
            lock.lock()
            defer { lock.unlock() }
            return stopping
        }) { [self] c in handle(c) }
    }

    /// Worker side, once per iteration: true when a client waits for a snapshot.
    @inline(__always) public var wanted: Bool { requested.load(ordering: .relaxed) != 0 }
    /// Worker side, when `wanted`: is the depth series asked for? (Answered before a snapshot
    /// that is asked for at the same time; the snapshot comes an iteration later.)
    public var wantsSeries: Bool { requested.load(ordering: .relaxed) & Request.series.rawValue != 0 }

    /// Worker side, when `wanted`: a change to apply (nil: a snapshot or the series).
    public var change: (any ControlChange)? {
        lock.lock()
        defer { lock.unlock() }
        return pendingChange
    }

    /// Worker side: the change is applied (or refused), `answer` says how.
    public func publish(changed answer: String) {
        self.answer(.change) { changeAnswer = answer; pendingChange = nil; changes += 1 }
    }

    /// Server side: hands `change` to the worker and waits for its answer.
    func apply(_ change: any ControlChange, timeout: Double = 5) -> String {
        lock.lock()
        defer { lock.unlock() }
        changeAnswer = nil
        pendingChange = change
        let asked = changes
        let answered = ask(.change, timeout: timeout) { changes != asked }
        // Not applied in time: withdraw it (and its bit, so the worker does not look for it).
        pendingChange = nil
        requested.bitwiseAnd(~Request.change.rawValue, ordering: .relaxed)
        return answered ? changeAnswer ?? "ok" : "error: the switch did not apply the change within \(Int(timeout)) s"
    }

    /// Worker side: hand over the depth series a client asked for.
    public func publish(series: DepthSeries) {
        answer(.series) { publishedSeries = series; serieses += 1 }
    }

    /// Worker side: store the answer, clear its kind's request, wake the servers.
    func answer(_ kind: Request, _ store: () -> Void) {
        lock.lock()
        store()
        requested.bitwiseAnd(~kind.rawValue, ordering: .relaxed)
        lock.broadcast()
        lock.unlock()
    }

    /// Server side, with the lock held: raise a request of `kind` and wait until `answered` or
    /// the timeout; true when answered.
    func ask(_ kind: Request, timeout: Double, answered: () -> Bool) -> Bool {
        requested.bitwiseOr(kind.rawValue, ordering: .relaxed)
        let deadline = Date().addingTimeInterval(timeout)
        while !answered() && !stopping && lock.wait(until: deadline) {}
        return answered()
    }

    /// The depth series now (any server thread).
    func series(timeout: Double = 2) -> DepthSeries? {
        lock.lock()
        defer { lock.unlock() }
        let asked = serieses
        return ask(.series, timeout: timeout) { serieses != asked } ? publishedSeries : nil
    }

    /// Worker side: hand over the snapshot a client asked for. The JSON is encoded on the
    /// server's thread, not here: encoding on the worker held forwarding up for a few hundred
    /// microseconds per snapshot (idle ping p99 121 -> 463 us with a client polling every 100 ms).
    public func publish(_ report: SwitchReport) {
        answer(.snapshot) { publishedReport = report; reports += 1 }
    }

    /// Asks the worker for a snapshot and waits for it (any server thread).
    func latest(timeout: Double = 2) -> Data? {
        guard let r = report(timeout: timeout) else { return nil }
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        return (try? encoder.encode(r)) ?? Data("{\"error\": \"encoding failed\"}".utf8)
    }

    /// The switch's counters now (the metrics endpoint, `latest`).
    public func report(timeout: Double = 2) -> SwitchReport? {
        lock.lock()
        defer { lock.unlock() }
        let asked = reports
        return ask(.snapshot, timeout: timeout) { reports != asked } ? publishedReport : nil
    }

    /// The request in a client's text: its first line without surrounding blanks, or nil when
    /// that line holds other control characters (or is not UTF-8).
    static func requestLine(_ text: String) -> String? {
        let line = text.utf8.split(separator: UInt8(ascii: "\n"), maxSplits: 1, omittingEmptySubsequences: false).first
        let trimmed = line.map { String(decoding: $0, as: UTF8.self) }?.trimmingCharacters(in: .whitespacesAndNewlines) ?? ""
        guard !trimmed.unicodeScalars.contains(where: { $0.value < 0x20 && $0 != "\t" || $0.value == 0x7F || $0 == "\u{FFFD}" }) else { return nil }
        return trimmed
    }

    func handle(_ c: Int32) {
        guard let text = FD.readRequest(c, deadline: ClientLimits.deadline(limits.request)) else { return }
        var answer: Data
        guard let request = Self.requestLine(text) else {
            answer = Data("error: a request is one line of printable text (snapshot, depth, ping, or a change: fabric ctl)\n".utf8)
            _ = answer.withUnsafeBytes { FD.sendAll(c, $0.baseAddress!, $0.count, deadline: ClientLimits.deadline(limits.answer)) }
            return
        }
        switch request {
        case "ping":
            answer = Data("pong\n".utf8)
        case "snapshot":
            answer = latest() ?? Data("{\"error\": \"the switch did not answer within 2 s\"}\n".utf8)
        case "depth":
            answer = series().flatMap { try? JSONEncoder().encode($0) } ?? Data("{\"error\": \"the switch did not answer within 2 s\"}\n".utf8)
        default:
            guard let prepare else {
                answer = Data("error: this switch takes no changes (expected: snapshot, depth, ping)\n".utf8)
                break
            }
            // One change at a time, in the order they came.
            changeLock.lock()
            defer { changeLock.unlock() }
            do {
                let change = try prepare(request)
                answer = Data((apply(change) + "\n").utf8)
            } catch {
                answer = Data("error: \(error)\n".utf8)
            }
        }
        _ = answer.withUnsafeBytes { FD.sendAll(c, $0.baseAddress!, $0.count, deadline: ClientLimits.deadline(limits.answer)) }
    }

    /// Stops serving and removes the socket and its directory.
    public func stop() {
        lock.lock()
        stopping = true
        lock.broadcast()
        lock.unlock()
        shutdown(fd, Int32(SHUT_RDWR))
        // Wake a blocking accept() by connecting once.
        _ = try? ControlClient.request(path: path, "ping", timeout: 0.2)
        close(fd)
        unlink(path)
        rmdir(directory)
    }
}

/// A change `fabric ctl` asked for, prepared on the control server's thread and applied by the
/// worker (the switch knows the concrete types).
public protocol ControlChange: AnyObject, Sendable {}
