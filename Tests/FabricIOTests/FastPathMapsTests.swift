import CXDP
@testable import FabricXDP
import FabricPacket
import FabricSystem
import FabricTestSupport
import Foundation
import Glibc
import XCTest

/// FastPathMaps against the real program: two ports' instances of fabric_xsk loaded (not
/// attached), the second sharing the first's maps, the tables written through FastPathMaps, and
/// frames run through the second instance with BPF_PROG_TEST_RUN. Needs root (bpf(2)) and
/// .build-bpf/fabric_xsk.o (scripts/build-bpf.sh); skips without them.
final class FastPathMapsTests: XCTestCase {
    static let object = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent(".build-bpf/fabric_xsk.o").path

    static let portMACs: [UInt64] = [0x02_5F_00_00_01_FE, 0x02_5F_00_00_02_FE]
    static let host2: UInt64 = 0x02_5F_00_00_00_22

    /// Runs `frame` through `program` once: the return code and the bytes out.
    func run(_ program: XDPProgram, _ frame: [UInt8]) throws -> (UInt32, [UInt8]) {
        let prog = bpf_object__find_program_by_name(xdp_program__bpf_obj(program.program), XDPProgram.programName)
        let fd = bpf_program__fd(prog)
        var input = frame
        var output = [UInt8](repeating: 0, count: frame.count + 256)
        var opts = bpf_test_run_opts()
        opts.sz = MemoryLayout<bpf_test_run_opts>.size
        opts.repeat = 1
        let rc = input.withUnsafeMutableBytes { i in
            output.withUnsafeMutableBytes { o in
                opts.data_in = UnsafeRawPointer(i.baseAddress)
                opts.data_size_in = UInt32(i.count)
                opts.data_out = o.baseAddress
                opts.data_size_out = UInt32(o.count)
                return bpf_prog_test_run_opts(fd, &opts)
            }
        }
        XCTAssertEqual(rc, 0, "BPF_PROG_TEST_RUN")
        return (opts.retval, Array(output.prefix(Int(opts.data_size_out))))
    }

    func testTablesWrittenHereRouteInXDP() throws {
        try XCTSkipUnless(geteuid() == 0, "loading BPF programs needs root")
        try XCTSkipUnless(access(Self.object, R_OK) == 0, "\(Self.object) missing: run scripts/build-bpf.sh")
        let first = try XDPProgram(objectPath: Self.object, interface: "lo", ifindex: 1)
        let maps = try FastPathMaps(owner: first)
        let second = try XDPProgram(objectPath: Self.object, interface: "lo", ifindex: 1)
        try maps.share(with: second)
        try second.load()
        try FastPathMaps.setPortIndex(0, of: second)

        // Router: h1 (port 0) 10.77.1.254/24, h2 (port 1) 10.77.2.254/24, host 10.77.2.1 on h2.
        var config = FastPathConfig()
        config.on = true
        config.router = true
        config.userspaceTrafficClasses = 1 << 3
        config.dscpToTrafficClass[26] = 3
        try maps.set(config)
        for p in 0..<2 {
            var port = FastPathPort()
            port.mac = Self.portMACs[p]
            try maps.set(port: p, port)
            try maps.setTransmit(port: p, ifindex: 1)
        }
        let h2 = parseIPv4("10.77.2.1")!
        try maps.setConnectedHop(0, port: 0)
        try maps.setConnectedHop(1, port: 1)
        try maps.setTarget(0, mode: 0, hops: [0], memberPorts: [0], linkUp: [true, true])
        try maps.setTarget(1, mode: 0, hops: [1], memberPorts: [1], linkUp: [true, true])
        try maps.setRoute(v4: parseIPv4("10.77.1.0")!, length: 24, target: 0)
        try maps.setRoute(v4: parseIPv4("10.77.2.0")!, length: 24, target: 1)
        try maps.setRoute(v4: parseIPv4("10.77.1.254")!, length: 32, target: FastPathMaps.localTarget)
        try maps.setNeighbour(v4: h2, mac: Self.host2, expires: 0)

        let frame = Frames.udp4(dstMAC: Self.portMACs[0], srcMAC: 0x02_5F_00_00_00_01, src: parseIPv4("10.77.1.1")!, dst: h2,
                                sport: 1000, dport: 9, tos: 0, payload: 18)
        let (rc, out) = try run(second, frame)
        XCTAssertEqual(rc, 4, "XDP_REDIRECT")
        var want = frame
        want.replaceSubrange(0..<6, with: Frames.macBytes(Self.host2))
        want.replaceSubrange(6..<12, with: Frames.macBytes(Self.portMACs[1]))
        want[14 + 8] -= 1
        let sum = UInt32(want[14 + 10]) << 8 | UInt32(want[14 + 11])
        let fixed = Rewrite.adjustChecksum(UInt16(sum), old: UInt16(frame[22]) << 8 | UInt16(frame[23]), new: UInt16(want[22]) << 8 | UInt16(want[23]))
        want[24] = UInt8(fixed >> 8)
        want[25] = UInt8(fixed & 0xFF)
        XCTAssertEqual(out, want, "routed bytes")
        XCTAssertTrue(Frames.ipv4HeaderValid(out))
        XCTAssertEqual(maps.stats(port: 1).txFrames, 1)
        XCTAssertEqual(maps.stats(port: 0).rxFrames, 1)
        XCTAssertEqual(maps.stats(port: 0).rxBytes, UInt64(frame.count))
        XCTAssertTrue(maps.takeUsed(v4: h2), "XDP marked the neighbour used")
        XCTAssertFalse(maps.takeUsed(v4: h2), "takeUsed clears the flag")

        // What goes to userspace, counted by reason on this port's instance.
        let local = Frames.icmpEcho(dstMAC: Self.portMACs[0], srcMAC: 0x02_5F_00_00_00_01, src: parseIPv4("10.77.1.1")!,
                                    dst: parseIPv4("10.77.1.254")!)
        XCTAssertEqual(try run(second, local).0, 2, "XDP_PASS: no socket bound here")
        let lossless = Frames.udp4(dstMAC: Self.portMACs[0], srcMAC: 0x02_5F_00_00_00_01, src: parseIPv4("10.77.1.1")!, dst: h2,
                                   sport: 1000, dport: 9, tos: 26 << 2, payload: 18)
        XCTAssertEqual(try run(second, lossless).0, 2)
        maps.removeNeighbour(v4: h2)
        XCTAssertEqual(try run(second, frame).0, 2)
        let punts = FastPathMaps.punts(of: second)
        XCTAssertEqual(punts[Int(FP_PUNT_LOCAL.rawValue)], 1)
        XCTAssertEqual(punts[Int(FP_PUNT_LOSSLESS.rawValue)], 1)
        XCTAssertEqual(punts[Int(FP_PUNT_UNRESOLVED.rawValue)], 1)
        XCTAssertEqual(FastPathMaps.punts(of: first).reduce(0, +), 0, "the first instance's own counters")

        // Bridge: the source refresh comes back through `seen`.
        config.router = false
        try maps.set(config)
        let a: UInt64 = 0x02_00_00_00_00_0A, b: UInt64 = 0x02_00_00_00_00_0B
        try maps.learn(mac: a, port: 0, seen: 1)
        try maps.learn(mac: b, port: 1, seen: monotonicNanoseconds())
        let l2 = Frames.eth(b, a, 0x88B5) + [UInt8](repeating: 0, count: 46)   // a local experimental EtherType
        let (l2rc, l2out) = try run(second, l2)
        XCTAssertEqual(l2rc, 4, "XDP_REDIRECT")
        XCTAssertEqual(l2out, l2, "bridged unchanged")
        XCTAssertGreaterThan(try XCTUnwrap(maps.seen(mac: a)), 1, "XDP refreshed the source")
        maps.forget(mac: b)
        XCTAssertEqual(try run(second, l2).0, 2, "unknown destination: to userspace, which floods")
        XCTAssertNil(maps.seen(mac: b))
    }
}
