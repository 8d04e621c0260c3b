#if canImport(Glibc)
import Glibc
#endif
import CXDP
import Foundation
import Synchronization

/// The switch's control socket: a Unix stream socket, mode 0600, at
/// `/run/swiftfabric/switch-NAME/control.sock`. A client connects, writes one request line and
/// reads the answer until the switch closes the connection:
/// - `snapshot`: the switch's counters as JSON (`SwitchReport`, the same document as
///   --stats-file), at most one worker iteration old;
/// - `depth`: the last second of queue depths (`DepthSeries`, sampled every 100 us).
///
/// The worker never blocks on a client: the server thread asks for a snapshot by raising
/// `requested` (one relaxed load per worker iteration, never per packet), the worker builds it
/// at the end of its iteration and hands it over under a lock, then the server answers.
public final class ControlServer: @unchecked Sendable {
    public static let root = "/run/swiftfabric"
    public let directory: String
    public var path: String { directory + "/control.sock" }
    let fd: Int32
    /// Raised by the server, cleared by the worker when it published.
    let requested = Atomic<Bool>(false)
    /// With `requested`: the depth series rather than the snapshot.
    let seriesWanted = Atomic<Bool>(false)
    var publishedSeries: DepthSeries?
    let lock = NSCondition()
    var publishedReport: SwitchReport?
    var stopping = false
    var thread: Thread?

    public static func directory(name: String) -> String { "\(root)/switch-\(name)" }

    /// Binds the socket (refusing when a live switch of the same name answers on it).
    public init(name: String) throws {
        guard !name.isEmpty, name.count <= 64, name.allSatisfy({ $0.isLetter || $0.isNumber || "-_.".contains($0) }) else {
            throw FabricIOError("switch name '\(name)' must be 1-64 letters, digits, '-', '_' or '.' (it names the control socket's directory)")
        }
        directory = Self.directory(name: name)
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        let sockPath = directory + "/control.sock"
        if FileManager.default.fileExists(atPath: sockPath) {
            if (try? ControlClient.request(path: sockPath, "ping", timeout: 0.5)) != nil {
                throw FabricIOError("a switch named '\(name)' is already running (its control socket \(sockPath) answers); give this one another --name")
            }
            unlink(sockPath)   // stale: its switch is gone
        }
        let s = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
        guard s >= 0 else { throw FabricIOError("control socket: \(String(cString: strerror(errno)))") }
        var addr = sockaddr_un()
        addr.sun_family = sa_family_t(AF_UNIX)
        let bytes = Array(sockPath.utf8)
        guard bytes.count < MemoryLayout.size(ofValue: addr.sun_path) else { close(s); throw FabricIOError("control socket path too long: \(sockPath)") }
        withUnsafeMutableBytes(of: &addr.sun_path) { p in for (i, b) in bytes.enumerated() { p[i] = b } }
        let old = umask(0o177)                       // the socket is created 0600
        let ok = withUnsafePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(s, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) } }
        umask(old)
        guard ok == 0, listen(s, 16) == 0 else {
            let e = String(cString: strerror(errno))
            close(s)
            throw FabricIOError("control socket \(sockPath): \(e)")
        }
        chmod(sockPath, 0o600)
        fd = s
    }

    /// Serves requests on a thread of its own until `stop`.
    public func start() {
        let t = Thread { [self] in
            Affinity.leaveWorkerCPUs()
            serve()
        }
        t.name = "fabric-control"
        thread = t
        t.start()
    }

    /// Worker side, once per iteration: true when a client waits for a snapshot.
    @inline(__always) public var wanted: Bool { requested.load(ordering: .relaxed) }
    /// Worker side, when `wanted`: is it the depth series?
    public var wantsSeries: Bool { seriesWanted.load(ordering: .relaxed) }

    /// Worker side: hand over the depth series a client asked for.
    public func publish(series: DepthSeries) {
        answer { publishedSeries = series }
    }

    /// Worker side: store the answer, clear the request, wake the server.
    func answer(_ store: () -> Void) {
        lock.lock()
        store()
        requested.store(false, ordering: .relaxed)
        lock.broadcast()
        lock.unlock()
    }

    /// Server side: raise a request (the depth series or the snapshot) and wait, with the lock
    /// held, until `answered` or the timeout.
    func ask(series: Bool, timeout: Double, answered: () -> Bool) {
        seriesWanted.store(series, ordering: .relaxed)
        requested.store(true, ordering: .relaxed)
        let deadline = Date().addingTimeInterval(timeout)
        while !answered() && !stopping && lock.wait(until: deadline) {}
    }

    /// The depth series now (any server thread).
    func series(timeout: Double = 2) -> DepthSeries? {
        lock.lock()
        defer { lock.unlock() }
        publishedSeries = nil
        ask(series: true, timeout: timeout) { publishedSeries != nil }
        return publishedSeries
    }

    /// Worker side: hand over the snapshot a client asked for. The JSON is encoded on the
    /// server's thread, not here: encoding on the worker held forwarding up for a few hundred
    /// microseconds per snapshot (idle ping p99 121 -> 463 us with a client polling every 100 ms).
    public func publish(_ report: SwitchReport) {
        answer { publishedReport = report }
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
        publishedReport = nil
        ask(series: false, timeout: timeout) { publishedReport != nil }
        return publishedReport
    }

    func serve() {
        while true {
            let c = accept(fd, nil, nil)
            lock.lock()
            let done = stopping
            lock.unlock()
            if done { if c >= 0 { close(c) }; return }
            guard c >= 0 else { if errno == EINTR { continue }; return }
            handle(c)
            close(c)
        }
    }

    func handle(_ c: Int32) {
        guard let request = FD.readRequest(c)?.trimmingCharacters(in: .whitespacesAndNewlines) else { return }
        var answer: Data
        switch request {
        case "ping":
            answer = Data("pong\n".utf8)
        case "snapshot":
            answer = latest() ?? Data("{\"error\": \"the switch did not answer within 2 s\"}\n".utf8)
        case "depth":
            answer = series().flatMap { try? JSONEncoder().encode($0) } ?? Data("{\"error\": \"the switch did not answer within 2 s\"}\n".utf8)
        default:
            answer = Data("{\"error\": \"unknown request '\(request)' (expected: snapshot, depth, ping)\"}\n".utf8)
        }
        _ = answer.withUnsafeBytes { FD.writeAll(c, $0.baseAddress!, $0.count) }
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

/// The client side (`fabric stats`, tests).
public enum ControlClient {
    /// Sends `request` and returns everything the switch answered.
    public static func request(path: String, _ request: String, timeout: Double = 5) throws -> Data {
        let s = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
        guard s >= 0 else { throw FabricIOError("socket: \(String(cString: strerror(errno)))") }
        defer { close(s) }
        var tv = timeval(tv_sec: Int(timeout), tv_usec: Int((timeout - Double(Int(timeout))) * 1e6))
        setsockopt(s, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
        setsockopt(s, SOL_SOCKET, SO_SNDTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
        var addr = sockaddr_un()
        addr.sun_family = sa_family_t(AF_UNIX)
        let bytes = Array(path.utf8)
        guard bytes.count < MemoryLayout.size(ofValue: addr.sun_path) else { throw FabricIOError("path too long: \(path)") }
        withUnsafeMutableBytes(of: &addr.sun_path) { p in for (i, b) in bytes.enumerated() { p[i] = b } }
        let ok = withUnsafePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(s, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) } }
        guard ok == 0 else { throw FabricIOError("no switch answers at \(path): \(String(cString: strerror(errno)))") }
        let line = Array((request + "\n").utf8)
        guard write(s, line, line.count) == line.count else { throw FabricIOError("\(path): write failed") }
        var out = Data()
        var buf = [UInt8](repeating: 0, count: 65536)
        while true {
            let n = read(s, &buf, buf.count)
            if n > 0 { out.append(contentsOf: buf[0..<n]) } else if n == 0 { break } else { throw FabricIOError("\(path): no answer within \(timeout) s") }
        }
        return out
    }

    /// The switch's counters now.
    public static func snapshot(name: String, timeout: Double = 5) throws -> SwitchReport {
        let data = try request(path: ControlServer.directory(name: name) + "/control.sock", "snapshot", timeout: timeout)
        do {
            return try JSONDecoder().decode(SwitchReport.self, from: data)
        } catch {
            throw FabricIOError("switch '\(name)': \(String(decoding: data.prefix(300), as: UTF8.self))")
        }
    }

    /// Names of the switches with a control socket on this machine.
    public static func switches() -> [String] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: ControlServer.root)) ?? []
        return names.filter { $0.hasPrefix("switch-") && FileManager.default.fileExists(atPath: "\(ControlServer.root)/\($0)/control.sock") }
            .map { String($0.dropFirst("switch-".count)) }.sorted()
    }
}

/// What the control socket, the metrics endpoint, the capture and the recorder do with file
/// descriptors: write everything, read one request.
enum FD {
    /// Writes all `count` bytes (retrying short writes); false when the descriptor fails.
    @discardableResult
    static func writeAll(_ fd: Int32, _ p: UnsafeRawPointer, _ count: Int) -> Bool {
        var off = 0
        while off < count {
            let w = write(fd, p + off, count - off)
            if w <= 0 { return false }
            off += w
        }
        return true
    }

    /// One read of a client's request (2 s at most), as text.
    static func readRequest(_ fd: Int32) -> String? {
        var tv = timeval(tv_sec: 2, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
        var buf = [UInt8](repeating: 0, count: 4096)
        let n = read(fd, &buf, buf.count)
        return n > 0 ? String(decoding: buf[0..<n], as: UTF8.self) : nil
    }
}

/// Where the telemetry threads run.
enum Affinity {
    /// Moves the calling thread off the CPUs the process was pinned to (taskset pins every
    /// thread of the switch to the worker's CPU), onto the machine's other online CPUs, when
    /// there are any. Measured with the worker pinned: a client polling snapshots every 100 ms
    /// raised the idle ping p99 through the switch from 59 to 418 us while the control thread
    /// encoded JSON on the worker's CPU.
    static func leaveWorkerCPUs() {
        var current = [UInt8](repeating: 0, count: 128)
        guard sf_thread_getaffinity(UInt(current.count), &current) > 0 else { return }
        let online = Int(sysconf(Int32(_SC_NPROCESSORS_ONLN)))
        var others = [UInt8](repeating: 0, count: 128)
        var any = false
        for cpu in 0..<min(online, 128 * 8) where current[cpu / 8] & (1 << (cpu % 8)) == 0 {
            others[cpu / 8] |= 1 << (cpu % 8)
            any = true
        }
        if any { _ = sf_thread_setaffinity(UInt(others.count), others) }
    }
}
