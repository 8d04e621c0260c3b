import FabricPacket
import XCTest

/// Malformed input never traps and never yields offsets outside the frame: truncation at every
/// byte of every golden frame, corrupted length fields, and random bytes.
final class MalformedFrameTests: XCTestCase {
    /// Invariants any parse result must satisfy for a frame of `len` bytes.
    func checkSane(_ info: PacketInfo, len: Int, _ what: @autoclosure () -> String) {
        if info.error != nil { return }
        XCTAssertLessThanOrEqual(Int(info.l3Offset) + Int(info.l3Length), len, what())
        if info.l4Offset > 0 { XCTAssertLessThan(Int(info.l4Offset), len, what()) }
        if info.bthOffset > 0 {
            XCTAssertLessThanOrEqual(Int(info.bthOffset) + BTHView.length + BTHView.icrcLength, len, what())
        }
    }

    /// Parses `frame` from a buffer of exactly its size, so an over-read would leave the
    /// allocation (AddressSanitizer would flag it; without it, the sanity checks must hold).
    func parseExact(_ frame: ArraySlice<UInt8>) -> PacketInfo {
        let buf = UnsafeMutableRawBufferPointer.allocate(byteCount: max(frame.count, 1), alignment: 1)
        defer { buf.deallocate() }
        buf.copyBytes(from: frame)
        return FrameParser.parse(buf.baseAddress!, length: frame.count)
    }

    func testTruncationAtEveryOffsetOfEveryGoldenFrame() throws {
        let golden = try GoldenFile.load()
        var cases = 0, errors = 0
        for c in golden.cases {
            let full = bytes(hex: c.hex)
            let fullInfo = parse(full)
            for cut in 0..<full.count {
                let info = parseExact(full[0..<cut])
                checkSane(info, len: cut, "\(c.name) cut at \(cut)")
                // A frame cut inside a header the full frame had must not parse as that kind
                // with all its headers: it is either an error or a shallower parse.
                if info.error == nil, fullInfo.error == nil, Int(fullInfo.l3Offset) + Int(fullInfo.l3Length) > cut,
                   fullInfo.l3Length > 0 {
                    XCTFail("\(c.name) cut at \(cut) parsed as \(info.kind) although its L3 packet is cut")
                }
                if info.error != nil { errors += 1 }
                cases += 1
            }
        }
        XCTAssertGreaterThan(cases, 1000)
        XCTAssertGreaterThan(errors, cases / 2, "most truncations are errors")
    }

    func testCorruptedLengthFields() throws {
        let golden = try GoldenFile.load()
        let v4 = bytes(hex: try XCTUnwrap(golden.cases.first { $0.name == "ipv4-rc-rdma-write-only-reth" }).hex)
        func mutate(_ f: (inout [UInt8]) -> Void) -> PacketInfo {
            var b = v4
            f(&b)
            return parse(b)
        }
        XCTAssertEqual(mutate { $0[14] = 0x44 }.error, .badIPv4HeaderLength)            // IHL 4
        XCTAssertEqual(mutate { $0[14] = 0x4F; $0[16] = 0; $0[17] = 48 }.error, .badIPv4TotalLength) // IHL 60 > total 48
        XCTAssertEqual(mutate { $0[14] = 0x65 }.error, .badIPv4Version)
        XCTAssertEqual(mutate { $0[16] = 0xFF }.error, .badIPv4TotalLength)             // longer than frame
        XCTAssertEqual(mutate { $0[16] = 0; $0[17] = 10 }.error, .badIPv4TotalLength)   // shorter than IHL
        XCTAssertEqual(mutate { $0[38] = 0; $0[39] = 4 }.error, .badUDPLength)          // UDP length 4
        XCTAssertEqual(mutate { $0[38] = 0xFF }.error, .badUDPLength)                   // UDP longer than IP
        XCTAssertEqual(mutate { $0[38] = 0; $0[39] = 20 }.error, .truncatedRoCEHeaders) // BTH+RETH do not fit
        XCTAssertEqual(mutate { $0[42] = 0x1F }.error, .unknownRoCEOpcode)
        XCTAssertEqual(mutate { $0[38] = 0; $0[39] = 8 + 11 }.error, .truncatedBTH)
    }

    func testThousandsOfRandomAndMutatedFrames() throws {
        let golden = try GoldenFile.load()
        var rng = SystemRandomNumberGenerator()
        var parsedOK = 0
        for i in 0..<20_000 {
            var frame: [UInt8]
            if i % 2 == 0 {
                frame = (0..<Int.random(in: 0...200, using: &rng)).map { _ in UInt8.random(in: 0...255, using: &rng) }
                // Steer half the random frames into the IP/UDP/RoCE paths.
                if frame.count > 14 && i % 4 == 0 {
                    frame[12] = 0x08; frame[13] = 0x00
                    frame[14] = 0x40 | UInt8.random(in: 0...15, using: &rng)
                }
            } else {
                frame = bytes(hex: golden.cases.randomElement(using: &rng)!.hex)
                for _ in 0..<Int.random(in: 1...4, using: &rng) where !frame.isEmpty {
                    frame[Int.random(in: 0..<frame.count, using: &rng)] = UInt8.random(in: 0...255, using: &rng)
                }
                if Bool.random(using: &rng) { frame = Array(frame.prefix(Int.random(in: 0...frame.count, using: &rng))) }
            }
            let info = parseExact(frame[...])
            checkSane(info, len: frame.count, "case \(i): \(frame)")
            if info.error == nil { parsedOK += 1 }
        }
        XCTAssertGreaterThan(parsedOK, 0)
    }
}
