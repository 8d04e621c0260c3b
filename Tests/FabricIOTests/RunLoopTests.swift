import FabricCore
import FabricPacket
import FabricTelemetry
import FabricTestSupport
import Foundation
import XCTest
@testable import FabricIO

/// The switch's run loop over the scripted-kernel backend: no root, no sockets, the same
/// `FabricSwitch` code that runs over AF_XDP.
final class RunLoopTests: XCTestCase {
    static let hosts: [UInt64] = [0x02_00_00_00_00_0A, 0x02_00_00_00_00_0B, 0x02_00_00_00_00_0C]

    func makeSwitch(ports: Int = 3, ringSize: Int = 64, frameCount: Int = 1024) throws -> FabricSwitch<EmbeddedBackend> {
        try embeddedSwitch(ports: ports, ringSize: ringSize, frameCount: frameCount)
    }

    func frame(to dst: UInt64, from src: UInt64, seq: Int, length: Int = 64) -> [UInt8] {
        var f = Frames.ethernet(dst: dst, src: src, length: length)
        f[20] = UInt8(truncatingIfNeeded: seq)
        f[21] = UInt8(truncatingIfNeeded: seq >> 8)
        return f
    }

    func testFramesCrossTheRunLoopAndTheLedgerBalancesAtEveryStep() throws {
        var sw = try makeSwitch()
        let kernel = sw.io.kernel
        let h = Self.hosts
        // Learn all three hosts (their first frames flood), then random unicast among them.
        for p in 0..<3 { kernel.deliver(frame(to: 0xFFFF_FFFF_FFFF, from: h[p], seq: p), port: p) }
        _ = sw.iterate(now: 1_000)
        var rng = SystemRandomNumberGenerator()
        var expected = [Int](repeating: 0, count: 3)
        for round in 0..<50 {
            for _ in 0..<Int.random(in: 0...20, using: &rng) {
                let from = Int.random(in: 0..<3, using: &rng)
                let to = (from + Int.random(in: 1...2, using: &rng)) % 3
                if kernel.deliver(frame(to: h[to], from: h[from], seq: round, length: Int.random(in: 60...1500, using: &rng)), port: from) {
                    expected[to] += 1
                }
            }
            _ = sw.iterate(now: UInt64(2_000 + round * 1_000))
            XCTAssertTrue(sw.ledger().balances, "round \(round): \(sw.ledger())")
        }
        for _ in 0..<5 { _ = sw.iterate(now: 100_000) }
        // Each port's wire: the two broadcasts of the others, then its unicast.
        for p in 0..<3 {
            XCTAssertEqual(kernel.ports[p].wire.count, 2 + expected[p], "port \(p)")
            XCTAssertTrue(kernel.ports[p].wire.dropFirst(2).allSatisfy { Frames.mac($0, 0) == h[p] }, "port \(p) got only its own unicast")
        }
        XCTAssertEqual(kernel.ports.map(\.rxDropped), [0, 0, 0])
        let report = sw.shutdown()
        XCTAssertTrue(report.ledger.balances, "\(report.ledger)")
        XCTAssertEqual(report.ledger.free + report.ledger.fillOutstanding, report.ledger.total, "at rest: free or in fill rings")
        XCTAssertEqual(report.ports.map(\.txFrames).reduce(0, +), UInt64(kernel.ports.map(\.wire.count).reduce(0, +)))
        XCTAssertTrue(kernel.detached && kernel.closed)
    }

    /// `run` itself: forwards what is there, idles (the backend's poll), asks `stop` at its
    /// housekeeping tick, then shuts down and reports.
    func testRunForwardsUntilStopAndReports() throws {
        var sw = try makeSwitch()
        let kernel = sw.io.kernel
        let h = Self.hosts
        kernel.deliver(frame(to: 0xFFFF_FFFF_FFFF, from: h[2], seq: 0), port: 2)
        for i in 0..<10 { kernel.deliver(frame(to: h[2], from: h[0], seq: i), port: 0) }
        var asked = 0
        let report = sw.run(until: { asked += 1; return true })
        XCTAssertEqual(asked, 1, "stop is asked at the first housekeeping tick")
        XCTAssertEqual(kernel.ports[2].wire.count, 10)
        XCTAssertEqual(report.ports[0].rxFrames, 10)
        XCTAssertEqual(report.ports[2].txFrames, 10)
        XCTAssertGreaterThan(report.loop.polls, 0, "idle: it slept in the backend's poll")
        XCTAssertFalse(report.running)
        XCTAssertTrue(report.ledger.balances)
    }

    /// Shutdown detaches first (no new frames), then sends what is queued before closing.
    func testShutdownDrainsQueuedFramesBeforeClosing() throws {
        var sw = try makeSwitch()
        let kernel = sw.io.kernel
        kernel.completesAtOnce = false
        let h = Self.hosts
        kernel.deliver(frame(to: 0xFFFF_FFFF_FFFF, from: h[1], seq: 0), port: 1)
        _ = sw.iterate(now: 1_000)
        kernel.completeTransmissions(port: 0)
        kernel.completeTransmissions(port: 2)
        for i in 0..<40 { kernel.deliver(frame(to: h[1], from: h[0], seq: i), port: 0) }
        _ = sw.iterate(now: 2_000)   // 16 received (one batch), sent into port 1's TX ring
        XCTAssertGreaterThan(kernel.ports[1].tx.count, 0)
        kernel.completesAtOnce = true
        let report = sw.shutdown()
        XCTAssertTrue(kernel.detached && kernel.closed)
        XCTAssertEqual(kernel.ports[1].wire.count, 40, "every frame received before the stop went out")
        XCTAssertEqual(report.ports[1].txFrames, 40)
        XCTAssertTrue(report.ledger.balances)
        XCTAssertEqual(kernel.deliver(frame(to: h[1], from: h[0], seq: 99), port: 0), false, "detached: nothing is steered to the switch")
    }

    /// A vanished interface: its port leaves service, every frame it held comes back, and the
    /// other ports go on.
    func testVanishedInterfaceRecoversItsFramesAndTheOthersGoOn() throws {
        var sw = try makeSwitch()
        let kernel = sw.io.kernel
        kernel.completesAtOnce = false
        let h = Self.hosts
        for p in 0..<3 { kernel.deliver(frame(to: 0xFFFF_FFFF_FFFF, from: h[p], seq: p), port: p) }
        _ = sw.iterate(now: 1_000)
        for i in 0..<10 { kernel.deliver(frame(to: h[2], from: h[0], seq: i), port: 0) }
        _ = sw.iterate(now: 2_000)
        XCTAssertGreaterThan(kernel.held(port: 2), 0)
        kernel.ports[2].removed = true
        sw.checkPorts()
        XCTAssertFalse(sw.dp.isInService(2))
        XCTAssertEqual(kernel.held(port: 2), 0, "fill, rx, tx and completion frames recovered")
        XCTAssertTrue(sw.ledger().balances, "\(sw.ledger())")
        // Flooding now reaches port 1 only.
        kernel.completesAtOnce = true
        kernel.completeTransmissions(port: 1)
        let before = kernel.ports[1].wire.count
        kernel.deliver(frame(to: 0x02_00_00_00_00_FF, from: h[0], seq: 77), port: 0)
        _ = sw.iterate(now: 3_000)
        XCTAssertEqual(kernel.ports[1].wire.count, before + 1)
        XCTAssertTrue(sw.shutdown().ledger.balances)
    }

    /// --capture: only the captured port's frames, received and sent, reach the file.
    func testCaptureRecordsOnlyTheCapturedPort() throws {
        var sw = try makeSwitch()
        let kernel = sw.io.kernel
        let path = NSTemporaryDirectory() + "embedded-\(getpid()).pcapng"
        defer { unlink(path) }
        try sw.capture(port: "e0", path: path, limitBytes: 1 << 20)
        XCTAssertThrowsError(try sw.capture(port: "nope", path: path, limitBytes: 1 << 20))
        let h = Self.hosts
        for p in 0..<3 { kernel.deliver(frame(to: 0xFFFF_FFFF_FFFF, from: h[p], seq: p), port: p) }
        _ = sw.iterate(now: 1_000)
        for i in 0..<5 { kernel.deliver(frame(to: h[0], from: h[1], seq: i), port: 1) }
        _ = sw.iterate(now: 2_000)
        let report = sw.shutdown()
        // Port e0 received 1 broadcast and sent 2 broadcasts + 5 unicast.
        let data = try Data(contentsOf: URL(fileURLWithPath: path))
        var blocks = 0, offset = 0
        while offset + 8 <= data.count {
            let type = data[offset..<offset + 4].withUnsafeBytes { $0.loadUnaligned(as: UInt32.self) }
            let length = Int(data[offset + 4..<offset + 8].withUnsafeBytes { $0.loadUnaligned(as: UInt32.self) })
            if type == 6 { blocks += 1 }
            guard length >= 12 else { break }
            offset += length
        }
        XCTAssertEqual(blocks, 8)
        XCTAssertEqual(report.captures?.count, 1)
    }

    /// Frames that piled up in a port's receive ring while the worker was away count for PFC
    /// before any of them is forwarded: the first pass after the stall sends the XOFF, though
    /// the batch it forwards alone stays below the threshold.
    func testTheFirstPassAfterAStallSendsXOFFForWhatWaitsInTheRing() throws {
        let macs: [UInt64] = [0x02_5F_00_00_EE_00, 0x02_5F_00_00_EE_01]
        var config = SwitchConfig(name: "embedded", ports: [
            PortConfig(name: "e0", mac: MACAddress(rawValue: macs[0]), addresses: [IPPrefix("10.77.1.254/24", strict: false)!]),
            PortConfig(name: "e1", mac: MACAddress(rawValue: macs[1]), addresses: [IPPrefix("10.77.2.254/24", strict: false)!]),
        ])
        config.neighbours = [NeighbourConfig(address: .v4(parseIPv4("10.77.2.1")!), mac: MACAddress(rawValue: Self.hosts[1]))]
        config.buffers.lossless = .init(reservedBytes: 0, threshold: .fixed(32 * 1024))
        var options = SwitchOptions(config: config, bpfObject: "")
        options.batchSize = 16
        var sw = try FabricSwitch(options: options, ifindexes: [1, 2], io: EmbeddedBackend(ports: 2, frameCount: 1024, ringSize: 64))
        let kernel = sw.io.kernel
        kernel.completesAtOnce = true
        // 40 lossless frames of 1042 bytes arrive while the worker is stopped.
        for i in 0..<40 {
            let f = Frames.udp4(dstMAC: macs[0], srcMAC: Self.hosts[0], src: parseIPv4("10.77.1.1")!, dst: parseIPv4("10.77.2.1")!,
                                sport: UInt16(i), dport: 9, tos: 26 << 2 | 2, payload: 1000)
            XCTAssertTrue(kernel.deliver(f, port: 0))
        }
        _ = sw.iterate(now: 1_000)
        let r = sw.snapshot(running: true)
        XCTAssertEqual(r.ports[0].rxFrames, 16, "one batch forwarded (16.7 KB: alone below the 32 KB threshold)")
        XCTAssertEqual(r.ports[0].pgWatermark[3], 16 * 1042)
        let pfc = kernel.ports[0].wire.filter { $0.count == 60 && $0[12] == 0x88 && $0[13] == 0x08 }
        XCTAssertEqual(pfc.count, 1, "XOFF on the first pass")
        XCTAssertEqual(pfc.first.map { UInt16($0[24]) << 8 | UInt16($0[25]) }, 0xFFFF)
    }
}
