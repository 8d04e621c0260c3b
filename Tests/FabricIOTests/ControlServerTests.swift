import FabricCore
import FabricPacket
import FabricSystem
import FabricTestSupport
import Foundation
import Glibc
import Synchronization
import XCTest
@testable import FabricIO
@testable import FabricTelemetry

/// The control server beside a running switch loop (the scripted-kernel backend): concurrent
/// askers, clients that stall, requests that are not text. Root only (the socket lives under
/// /run/swiftfabric).
final class ControlServerTests: XCTestCase {
    func makeSwitch(ports: Int = 3) throws -> FabricSwitch<EmbeddedBackend> {
        let config = SwitchConfig(name: "embedded", mode: .bridge,
                                  ports: (0..<ports).map { PortConfig(name: "e\($0)", mac: MACAddress(rawValue: 0x02_5F_00_00_EE_00 | UInt64($0))) })
        var options = SwitchOptions(config: config, bpfObject: "")
        options.batchSize = 16
        options.queueCapacity = 256
        let sw = try FabricSwitch(options: options, ifindexes: (0..<ports).map { Int32($0 + 1) },
                                  io: EmbeddedBackend(ports: ports, frameCount: 1024, ringSize: 64))
        sw.io.kernel.idleSleepMicroseconds = 100
        return sw
    }

    func makeServer(_ edit: (ControlServer) -> Void = { _ in }) throws -> ControlServer {
        try XCTSkipUnless(getuid() == 0, "the control socket lives under /run/swiftfabric (root)")
        let c = try ControlServer(name: "ut-ctl-\(getpid())-\(UInt16.random(in: 0...UInt16.max))")
        edit(c)
        c.start()
        addTeardownBlock { c.stop() }
        return c
    }

    /// Runs the switch loop with `control` on this thread until `clients` return.
    func serve(_ control: ControlServer, ports: Int = 3, clients: @escaping @Sendable () -> Void) throws {
        var sw = try makeSwitch(ports: ports)
        sw.control = control
        let done = Atomic<Bool>(false)
        let t = Thread {
            clients()
            done.store(true, ordering: .relaxed)
        }
        t.start()
        _ = sw.run(until: { done.load(ordering: .relaxed) })
    }

    /// Connects to the control socket and leaves the descriptor to the caller.
    static func connectTo(_ path: String) -> Int32 {
        let s = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
        let rc = FD.withSockaddr(FD.unixAddress(path)!) { connect(s, $0, $1) }
        precondition(rc == 0, "connect \(path): errno \(errno)")
        return s
    }

    /// A metrics scrape (snapshot) and `fabric stats depth` (series) asking at the same time:
    /// each waiter gets its own answer, none waits out its timeout.
    func testConcurrentSnapshotAndSeriesRequestsEachGetTheirAnswer() throws {
        let c = try makeServer()
        let missedReports = Atomic<Int>(0), badSeries = Atomic<Int>(0)
        let path = c.path
        try serve(c) {
            let g = DispatchGroup()
            DispatchQueue.global().async(group: g) {
                for _ in 0..<40 where c.report(timeout: 1) == nil { missedReports.add(1, ordering: .relaxed) }
            }
            DispatchQueue.global().async(group: g) {
                for _ in 0..<40 {
                    let answer = (try? ControlClient.request(path: path, "depth", timeout: 3)) ?? Data()
                    if (try? JSONDecoder().decode(DepthSeries.self, from: answer)) == nil { badSeries.add(1, ordering: .relaxed) }
                }
            }
            g.wait()
        }
        XCTAssertEqual(missedReports.load(ordering: .relaxed), 0, "snapshots the worker never answered")
        XCTAssertEqual(badSeries.load(ordering: .relaxed), 0, "depth requests without a series")
    }

    /// Silent clients and a client that reads its answer a trickle at a time hold the server
    /// for their deadlines only: a ping behind them is answered.
    func testSilentClientsAndASlowReaderCannotHoldTheServer() throws {
        let c = try makeServer { $0.limits = ClientLimits(request: 0.3, answer: 1) }
        let path = c.path
        let pinged = Atomic<Bool>(false)
        let answerBytes = Atomic<Int>(0)
        try serve(c, ports: 8) {
            usleep(1_200_000)   // the depth ring fills: its series is far larger than a socket buffer
            answerBytes.store((try? ControlClient.request(path: path, "depth", timeout: 3))?.count ?? 0, ordering: .relaxed)
            let silent = (0..<4).map { _ in Self.connectTo(path) }
            let slow = Self.connectTo(path)
            _ = "depth\n".withCString { write(slow, $0, 6) }
            let stop = Atomic<Bool>(false)
            let reader = Thread {
                var buf = [UInt8](repeating: 0, count: 256)
                while !stop.load(ordering: .relaxed) {   // 256 B every 50 ms: it never stops, it only crawls
                    if read(slow, &buf, buf.count) <= 0 { break }
                    usleep(50_000)
                }
            }
            reader.start()
            let answer = try? ControlClient.request(path: path, "ping", timeout: 5)
            pinged.store(answer.map { String(decoding: $0, as: UTF8.self) } == "pong\n", ordering: .relaxed)
            for s in silent { close(s) }
            stop.store(true, ordering: .relaxed)
            while !reader.isFinished { usleep(10_000) }
            close(slow)
        }
        let socketBuffer = Int((try? String(contentsOfFile: "/proc/sys/net/core/wmem_default", encoding: .utf8))?.trimmingCharacters(in: .whitespacesAndNewlines) ?? "") ?? 212_992
        XCTAssertGreaterThan(answerBytes.load(ordering: .relaxed), 2 * socketBuffer, "the depth answer must outgrow the socket buffers for this test to mean anything")
        XCTAssertTrue(pinged.load(ordering: .relaxed), "a ping behind four silent clients and a slow reader is answered")
    }

    /// A request with control characters is refused and not echoed; a request is its first line.
    func testRequestIsOnePrintableLineAndIsNeverEchoedRaw() throws {
        let c = try makeServer { $0.prepare = { throw SystemError("unknown request '\($0)'") } }
        let hostile = "bogus\u{1b}[2J\"}{\"x\":1\u{7}"
        let answer = String(decoding: try ControlClient.request(path: c.path, hostile), as: UTF8.self)
        XCTAssertFalse(answer.contains("\u{1b}") || answer.contains("\u{7}") || answer.contains("bogus"), answer)
        XCTAssertTrue(answer.hasPrefix("error: a request is one line of printable text"), answer)
        let two = String(decoding: try ControlClient.request(path: c.path, "ping\nsnapshot"), as: UTF8.self)
        XCTAssertEqual(two, "pong\n", "the first line is the request")
        XCTAssertEqual(ControlServer.requestLine("  route add 10.0.0.0/8 via 10.1.1.1 \r\nx"), "route add 10.0.0.0/8 via 10.1.1.1")
        XCTAssertNil(ControlServer.requestLine("a\u{0}b"))
    }

    /// A silent peer is given up at the deadline even while signals keep interrupting the
    /// wait (each EINTR would restart a per-call timeout).
    func testReadRequestKeepsItsDeadlineThroughEINTR() throws {
        var fds: [Int32] = [0, 0]
        XCTAssertEqual(socketpair(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0, &fds), 0)
        defer { close(fds[0]); close(fds[1]) }
        var action = sigaction()
        action.__sigaction_handler.sa_handler = { _ in }
        sigemptyset(&action.sa_mask)
        action.sa_flags = 0   // no SA_RESTART: poll() and recv() return EINTR
        var old = sigaction()
        sigaction(SIGUSR2, &action, &old)
        defer { sigaction(SIGUSR2, &old, nil) }
        let reader = pthread_self()
        let stop = Atomic<Bool>(false)
        let kicker = Thread {
            while !stop.load(ordering: .relaxed) {
                pthread_kill(reader, SIGUSR2)
                usleep(20_000)
            }
        }
        kicker.start()
        let start = monotonicNanoseconds()
        let got = FD.readRequest(fds[0], deadline: start + 300_000_000)
        let took = Double(monotonicNanoseconds() - start) / 1e9
        stop.store(true, ordering: .relaxed)
        while !kicker.isFinished { usleep(5_000) }
        XCTAssertNil(got)
        XCTAssertLessThan(took, 2, "gave up near the 0.3 s deadline")
        _ = "snapshot\n".withCString { write(fds[1], $0, 9) }
        XCTAssertEqual(FD.readRequest(fds[0], deadline: monotonicNanoseconds() + 1_000_000_000), "snapshot\n")
    }
}
