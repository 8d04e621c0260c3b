import FabricPacket
import Foundation
import XCTest

/// Frames made by scapy (Golden/make_golden.py, committed with its output golden.json): our
/// parser must find what scapy put there, and our rewrites must produce the bytes scapy
/// produces when it builds the forwarded frame from scratch.
struct GoldenFile: Decodable {
    struct Expect: Decodable {
        var kind: String
        var error: String?
        var etherType: Int
        var hasVLAN: Bool
        var pcp: Int
        var vid: Int
        var l3Offset: Int
        var l3Length: Int
        var l4Offset: Int
        var ipProtocol: Int
        var dscp: Int
        var ecn: Int
        var ttl: Int
        var l4Skipped: Bool
        var sourcePort: Int
        var destinationPort: Int
        var bthOffset: Int
        var roceOpcode: Int
        var destinationQP: Int
        var psn: Int
    }
    struct Rewrite: Decodable {
        var source: String
        var destination: String
        var dscp: Int
        var ecn: Int
        var hex: String
    }
    struct Case: Decodable {
        var name: String
        var hex: String
        var expect: Expect
        var rewrite: Rewrite?
    }
    var generator: String
    var cases: [Case]

    static func load() throws -> GoldenFile {
        let url = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Golden/golden.json")
        return try JSONDecoder().decode(GoldenFile.self, from: Data(contentsOf: url))
    }
}

func bytes(hex: String) -> [UInt8] {
    var out: [UInt8] = []
    var it = hex.makeIterator()
    while let a = it.next(), let b = it.next() { out.append(UInt8(String([a, b]), radix: 16)!) }
    return out
}

func parse(_ frame: [UInt8]) -> PacketInfo {
    frame.withUnsafeBytes { FrameParser.parse($0.baseAddress!, length: $0.count) }
}

final class GoldenFrameTests: XCTestCase {
    func testParserFindsWhatScapyBuilt() throws {
        let golden = try GoldenFile.load()
        XCTAssertGreaterThanOrEqual(golden.cases.count, 12)
        for c in golden.cases {
            let info = parse(bytes(hex: c.hex))
            let e = c.expect
            XCTAssertEqual(info.error?.description, e.error, c.name)
            XCTAssertEqual("\(info.kind)", e.kind, c.name)
            XCTAssertEqual(Int(info.vid), e.vid, c.name)
            XCTAssertEqual(info.hasVLAN, e.hasVLAN, c.name)
            if e.error != nil { continue }
            XCTAssertEqual(Int(info.etherType), e.etherType, c.name)
            XCTAssertEqual(Int(info.pcp), e.pcp, c.name)
            XCTAssertEqual(Int(info.l3Offset), e.l3Offset, c.name)
            XCTAssertEqual(Int(info.l3Length), e.l3Length, c.name)
            XCTAssertEqual(Int(info.l4Offset), e.l4Offset, c.name)
            XCTAssertEqual(Int(info.ipProtocol), e.ipProtocol, c.name)
            XCTAssertEqual(Int(info.dscp), e.dscp, c.name)
            XCTAssertEqual(Int(info.ecn), e.ecn, c.name)
            XCTAssertEqual(Int(info.ttl), e.ttl, c.name)
            XCTAssertEqual(info.l4Skipped, e.l4Skipped, c.name)
            XCTAssertEqual(Int(info.sourcePort), e.sourcePort, c.name)
            XCTAssertEqual(Int(info.destinationPort), e.destinationPort, c.name)
            XCTAssertEqual(Int(info.bthOffset), e.bthOffset, c.name)
            XCTAssertEqual(Int(info.roceOpcode), e.roceOpcode, c.name)
            XCTAssertEqual(Int(info.destinationQP), e.destinationQP, c.name)
            XCTAssertEqual(Int(info.psn), e.psn, c.name)
        }
    }

    func testExtendedHeadersAndMACControlFields() throws {
        let golden = try GoldenFile.load()
        func frame(_ name: String) throws -> [UInt8] {
            bytes(hex: try XCTUnwrap(golden.cases.first { $0.name == name }).hex)
        }
        try frame("ipv4-rc-rdma-write-only-reth").withUnsafeBytes { p in
            let info = FrameParser.parse(p.baseAddress!, length: p.count)
            XCTAssertTrue(RoCEOpcode.hasRETH(info.roceOpcode))
            let reth = try XCTUnwrap(RETHView(p.baseAddress! + Int(info.bthOffset) + BTHView.length, available: 16))
            XCTAssertEqual(reth.virtualAddress, 0x1122_3344_5566_7788)
            XCTAssertEqual(reth.remoteKey, 0xAABB_CCDD)
            XCTAssertEqual(reth.dmaLength, 256)
            let bth = try XCTUnwrap(BTHView(p.baseAddress! + Int(info.bthOffset), available: 12))
            XCTAssertTrue(bth.ackRequest)
            XCTAssertEqual(bth.partitionKey, 0xFFFF)
        }
        try frame("ipv4-rc-ack-aeth").withUnsafeBytes { p in
            let info = FrameParser.parse(p.baseAddress!, length: p.count)
            XCTAssertTrue(RoCEOpcode.hasAETH(info.roceOpcode))
            let aeth = try XCTUnwrap(AETHView(p.baseAddress! + Int(info.bthOffset) + BTHView.length, available: 4))
            XCTAssertEqual(aeth.syndrome, 0x1F)
            XCTAssertEqual(aeth.messageSequenceNumber, 5)
        }
        try frame("ipv4-cnp").withUnsafeBytes { p in
            let info = FrameParser.parse(p.baseAddress!, length: p.count)
            let bth = try XCTUnwrap(BTHView(p.baseAddress! + Int(info.bthOffset), available: 12))
            XCTAssertTrue(bth.becn)
            XCTAssertEqual(bth.destinationQP, 0x777)
            XCTAssertEqual(info.dscp, 48)
        }
        try frame("pfc-priority-3-and-5").withUnsafeBytes { p in
            let mc = try XCTUnwrap(MACControlView(p.baseAddress! + 14, available: p.count - 14))
            XCTAssertTrue(mc.isPFC)
            XCTAssertEqual(mc.classEnableVector, 0b0010_1000)
            XCTAssertEqual(mc.pauseTime(priority: 3), 0xFFFF)
            XCTAssertEqual(mc.pauseTime(priority: 5), 0x0100)
            XCTAssertEqual(mc.pauseTime(priority: 0), 0)
        }
        try frame("pause").withUnsafeBytes { p in
            let mc = try XCTUnwrap(MACControlView(p.baseAddress! + 14, available: p.count - 14))
            XCTAssertTrue(mc.isPause)
            XCTAssertEqual(mc.pauseTime, 0x1234)
        }
    }

    /// Our in-place rewrite (RFC 1624 incremental checksum) == scapy's frame built from scratch.
    func testRewriteMatchesScapyByteForByte() throws {
        let golden = try GoldenFile.load()
        var checked = 0
        for c in golden.cases {
            guard let rw = c.rewrite else { continue }
            var frame = bytes(hex: c.hex)
            frame.withUnsafeMutableBytes { p in
                let base = p.baseAddress!
                let info = FrameParser.parse(base, length: p.count)
                let ip = base + Int(info.l3Offset)
                Rewrite.setMACs(base, destination: MACAddress(rw.destination)!, source: MACAddress(rw.source)!)
                if info.kind == .ipv6 || info.etherType == EtherType.ipv6 {
                    Rewrite.decrementIPv6HopLimit(ip)
                    Rewrite.setIPv6DSCP(ip, UInt8(rw.dscp))
                    Rewrite.setIPv6ECN(ip, UInt8(rw.ecn))
                } else {
                    Rewrite.decrementIPv4TTL(ip)
                    Rewrite.setIPv4DSCP(ip, UInt8(rw.dscp))
                    Rewrite.setIPv4ECN(ip, UInt8(rw.ecn))
                }
            }
            XCTAssertEqual(frame.map { String(format: "%02x", $0) }.joined(), rw.hex, c.name)
            checked += 1
        }
        XCTAssertGreaterThanOrEqual(checked, 9)
    }

    func testICRCOfScapyFramesValidBeforeAndAfterRewrite() throws {
        let golden = try GoldenFile.load()
        var checked = 0
        for c in golden.cases where c.expect.bthOffset > 0 {
            for hex in [c.hex, c.rewrite?.hex].compactMap({ $0 }) {
                let frame = bytes(hex: hex)
                frame.withUnsafeBytes { p in
                    let info = FrameParser.parse(p.baseAddress!, length: p.count)
                    let version = info.etherType == EtherType.ipv6 ? 6 : 4
                    XCTAssertTrue(ICRC.isValid(ip: p.baseAddress! + Int(info.l3Offset), l3Length: Int(info.l3Length), ipVersion: version), c.name)
                }
                checked += 1
            }
            // Flip one covered byte (a payload byte or the PSN): the ICRC must catch it.
            var bad = bytes(hex: c.hex)
            let info = parse(bad)
            bad[Int(info.bthOffset) + 11] ^= 0x01
            bad.withUnsafeBytes { p in
                let version = info.etherType == EtherType.ipv6 ? 6 : 4
                XCTAssertFalse(ICRC.isValid(ip: p.baseAddress! + Int(info.l3Offset), l3Length: Int(info.l3Length), ipVersion: version), c.name)
            }
        }
        XCTAssertGreaterThanOrEqual(checked, 12)
    }

    /// The IPv4 CNP test vector from DESIGN.md (IP header onwards, ICRC last 4 bytes).
    func testDesignCNPVector() {
        let v = bytes(hex: "4589003C98C640002011692716161608" + "16161607DBAE12B7002800008100FFFF"
                      + "400000D2000000000000000000000000" + "0000000000000000DAFC1BEF")
        XCTAssertEqual(v.count, 60)
        v.withUnsafeBytes { p in
            XCTAssertEqual(ICRC.compute(ip: p.baseAddress!, l3Length: 60, ipVersion: 4), 0xEF1B_FCDA)
            XCTAssertTrue(ICRC.isValid(ip: p.baseAddress!, l3Length: 60, ipVersion: 4))
        }
    }

    func testIncrementalChecksumEqualsFullRecomputation() {
        // Random IPv4 headers: every rewrite keeps the RFC 1071 checksum valid.
        var rng = SystemRandomNumberGenerator()
        for _ in 0..<2000 {
            var h = (0..<20).map { _ in UInt8.random(in: 0...255, using: &rng) }
            h[0] = 0x45
            h[8] = UInt8.random(in: 2...255, using: &rng)
            h[10] = 0; h[11] = 0
            let c = h.withUnsafeBytes { internetChecksum($0.baseAddress!, count: 20) }
            h[10] = UInt8(c >> 8); h[11] = UInt8(c & 0xFF)
            h.withUnsafeMutableBytes { p in
                Rewrite.decrementIPv4TTL(p.baseAddress!)
                Rewrite.setIPv4TOS(p.baseAddress!, UInt8.random(in: 0...255))
            }
            XCTAssertEqual(h.withUnsafeBytes { internetChecksum($0.baseAddress!, count: 20) }, 0, "\(h)")
        }
    }

    /// The TTL decrement's unrolled checksum update equals RFC 1624's general one
    /// (`adjustChecksum` of the TTL|protocol word) for every checksum and every TTL above 1.
    func testTheTTLDecrementIsRFC1624ForEveryChecksum() {
        var h = [UInt8](repeating: 0, count: 20)
        var checked = 0
        for ttl in [2, 3, 64, 128, 255] {
            for proto in [1, 6, 17] {
                for hc in 0...0xFFFF {
                    h[8] = UInt8(ttl); h[9] = UInt8(proto); h[10] = UInt8(hc >> 8); h[11] = UInt8(hc & 0xFF)
                    h.withUnsafeMutableBytes { Rewrite.decrementIPv4TTL($0.baseAddress!) }
                    let word = UInt16(ttl) << 8 | UInt16(proto)
                    let expected = Rewrite.adjustChecksum(UInt16(hc), old: word, new: word - 0x0100)
                    guard h[8] == UInt8(ttl - 1), h[9] == UInt8(proto), UInt16(h[10]) << 8 | UInt16(h[11]) == expected else {
                        XCTFail("ttl \(ttl) proto \(proto) checksum \(hc): got \(h[8...11]), expected checksum \(expected)")
                        return
                    }
                    checked += 1
                }
            }
        }
        XCTAssertEqual(checked, 5 * 3 * 65536)
    }
}
