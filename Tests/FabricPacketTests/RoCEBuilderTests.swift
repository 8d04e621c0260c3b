import FabricPacket
import Foundation
import XCTest

/// Frames our builder writes, checked by scapy (an independent RoCEv2 implementation): it must
/// parse the BTH fields back and compute the same ICRC and IPv4 checksum.
final class RoCEBuilderTests: XCTestCase {
    let addresses = RoCEBuilder.Addresses(sourceMAC: MACAddress("02:5f:00:00:00:01")!, destinationMAC: MACAddress("02:5f:00:00:01:fe")!,
                                          source: 0x0A4D_0101, destination: 0x0A4D_0201)

    func build(opcode: UInt8, payload: Int, qp: UInt32, psn: UInt32, ackRequest: Bool = false) -> [UInt8] {
        var buf = [UInt8](repeating: 0, count: 2048)
        let body = [UInt8]((0..<payload).map { UInt8(truncatingIfNeeded: $0 &* 7) })
        let n = buf.withUnsafeMutableBytes { p in
            body.withUnsafeBytes { b in
                RoCEBuilder.writePacket(into: p.baseAddress!, capacity: p.count, addresses: addresses, dscp: 26, ecn: 2, ipID: 7,
                                      sourcePort: RoCEBuilder.udpSourcePort(localQP: 0x11, remoteQP: qp), opcode: opcode,
                                      destinationQP: qp, psn: psn, ackRequest: ackRequest,
                                      payload: b.baseAddress, payloadBytes: payload,
                                      remoteAddress: 0x1000, rkey: 0xABCD, dmaLength: 4096)
            }
        }
        XCTAssertGreaterThan(n, 0)
        return Array(buf[0..<n])
    }

    /// Runs Golden/check_roce.py over the frames; one decoded result per frame.
    func scapy(_ frames: [[UInt8]]) throws -> [[String: Any]] {
        let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Golden/check_roce.py").path
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        p.arguments = ["python3", script]
        let input = Pipe(), output = Pipe(), errors = Pipe()
        p.standardInput = input
        p.standardOutput = output
        p.standardError = errors
        try p.run()
        input.fileHandleForWriting.write(Data(frames.map { $0.map { String(format: "%02x", $0) }.joined() }.joined(separator: "\n").utf8))
        try input.fileHandleForWriting.close()
        let out = output.fileHandleForReading.readDataToEndOfFile()
        let err = errors.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        guard p.terminationStatus == 0 else {
            XCTFail("scapy check failed (scripts/setup.sh installs scapy): \(String(decoding: err, as: UTF8.self))")
            return []
        }
        return String(decoding: out, as: UTF8.self).split(separator: "\n").compactMap {
            try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any]
        }
    }

    func testScapyParsesOurFramesAndAgreesOnTheICRC() throws {
        // A 3-packet RDMA WRITE (FIRST with RETH, MIDDLE, LAST), a SEND ONLY whose payload needs
        // padding, and a CNP.
        let qp: UInt32 = 0x000123
        var frames: [[UInt8]] = []
        for i in 0..<3 {
            frames.append(build(opcode: RoCEBuilder.Verb.rdmaWrite.opcode(index: i, count: 3), payload: 1024, qp: qp, psn: 0xFF_FFFE + UInt32(i) & 0xFF_FFFF, ackRequest: i == 2))
        }
        frames.append(build(opcode: RoCEBuilder.Verb.send.opcode(index: 0, count: 1), payload: 13, qp: qp, psn: 5))
        var cnp = [UInt8](repeating: 0, count: 256)
        let n = cnp.withUnsafeMutableBytes {
            RoCEBuilder.writeCNP(into: $0.baseAddress!, capacity: $0.count, addresses: addresses, sourcePort: 0xC123, destinationQP: 0x11)
        }
        frames.append(Array(cnp[0..<n]))
        // The same over IPv6: an RDMA WRITE ONLY.
        let v6 = RoCEBuilder.Addresses(sourceMAC: addresses.sourceMAC, destinationMAC: addresses.destinationMAC,
                                       source6: IPv6Address("fd77:1::1")!, destination6: IPv6Address("fd77:2::1")!)
        var buf6 = [UInt8](repeating: 0, count: 2048)
        let n6 = buf6.withUnsafeMutableBytes {
            RoCEBuilder.writePacket(into: $0.baseAddress!, capacity: $0.count, addresses: v6, dscp: 26, ecn: 2, ipID: 0,
                                  sourcePort: 0xC0DE, opcode: 0x0A, destinationQP: 0x4242, psn: 77, ackRequest: true,
                                  payload: nil, payloadBytes: 300, remoteAddress: 1, rkey: 2, dmaLength: 300)
        }
        frames.append(Array(buf6[0..<n6]))
        // An RC ACK (up to PSN 0x123456, MSN 9) and a NAK (sequence error, PSN 77 expected).
        for (psn, syndrome) in [(UInt32(0x12_3456), AETHView.ack), (77, AETHView.nakSequenceError)] {
            var ack = [UInt8](repeating: 0, count: 256)
            let n = ack.withUnsafeMutableBytes {
                RoCEBuilder.writeAcknowledge(into: $0.baseAddress!, capacity: $0.count, addresses: addresses, sourcePort: 0xC123,
                                             destinationQP: 0x11, psn: psn, syndrome: syndrome, msn: 9, dscp: 26)
            }
            frames.append(Array(ack[0..<n]))
        }

        let results = try scapy(frames)
        XCTAssertEqual(results.count, frames.count)
        guard results.count == frames.count else { return }
        let expectedOpcodes = [0x06, 0x07, 0x08, 0x04, 0x81, 0x0A, 0x11, 0x11]
        let expectedPSN = [0xFF_FFFE, 0xFF_FFFF, 0, 5, 0, 77, 0x12_3456, 77]
        for (i, r) in results.enumerated() {
            XCTAssertEqual(r["ok"] as? Bool, true, "frame \(i)")
            XCTAssertEqual(r["opcode"] as? Int, expectedOpcodes[i], "frame \(i)")
            XCTAssertEqual(r["psn"] as? Int, expectedPSN[i], "frame \(i)")
            XCTAssertEqual(r["icrc_ok"] as? Bool, true, "scapy computes the same ICRC, frame \(i)")
            XCTAssertEqual(r["ip_chksum_ok"] as? Bool, true, "frame \(i)")
            XCTAssertEqual(r["udp_len_ok"] as? Bool, true, "UDP length, frame \(i)")
            XCTAssertEqual(r["dport"] as? Int, 4791)
            XCTAssertEqual(r["pkey"] as? Int, 0xFFFF)
        }
        XCTAssertEqual(results[0]["dqpn"] as? Int, 0x123)
        XCTAssertEqual(results[2]["ackreq"] as? Int, 1)
        XCTAssertEqual(results[3]["padcount"] as? Int, 3, "13 bytes padded to 16")
        XCTAssertEqual(results[0]["dscp"] as? Int, 26)
        XCTAssertEqual(results[0]["ecn"] as? Int, 2)
        XCTAssertEqual(results[4]["becn"] as? Int, 1)
        XCTAssertEqual(results[4]["dqpn"] as? Int, 0x11)
        XCTAssertEqual(results[0]["sport"] as? Int, Int(RoCEBuilder.udpSourcePort(localQP: 0x11, remoteQP: qp)))
        XCTAssertEqual(results[5]["ipv6"] as? Bool, true)
        XCTAssertEqual(results[5]["dqpn"] as? Int, 0x4242)
        XCTAssertEqual(results[5]["flow_label"] as? Int, 0xC0DE, "the flow label carries the QP entropy")
        XCTAssertEqual(results[5]["dscp"] as? Int, 26)
        XCTAssertEqual(results[6]["syndrome"] as? Int, 0x1F, "ACK, no credit limit")
        XCTAssertEqual(results[7]["syndrome"] as? Int, 0x60, "NAK, PSN sequence error")
        XCTAssertEqual(results[6]["msn"] as? Int, 9)
        XCTAssertEqual(results[7]["dqpn"] as? Int, 0x11)
        XCTAssertEqual(results[7]["ecn"] as? Int, 0, "ACKs are Not-ECT")
    }

    /// tshark (Wireshark's dissectors, apt) decodes our frames as InfiniBand over UDP 4791 with
    /// the opcode, destination QP and PSN we wrote, and no malformed-packet warning.
    func testTsharkDecodesOurFramesAsRoCE() throws {
        let frames = [build(opcode: 0x06, payload: 256, qp: 0x0ABCDE, psn: 1000),
                      build(opcode: 0x04, payload: 10, qp: 0x000007, psn: 0xFF_FFFF)]
        // pcap (microsecond, Ethernet) written by hand: 24-byte header, 16 bytes per record.
        var pcap = Data()
        func le32(_ v: UInt32) { withUnsafeBytes(of: v.littleEndian) { pcap.append(contentsOf: $0) } }
        func le16(_ v: UInt16) { withUnsafeBytes(of: v.littleEndian) { pcap.append(contentsOf: $0) } }
        le32(0xA1B2_C3D4); le16(2); le16(4); le32(0); le32(0); le32(65535); le32(1)
        for f in frames { le32(0); le32(0); le32(UInt32(f.count)); le32(UInt32(f.count)); pcap.append(contentsOf: f) }
        let file = NSTemporaryDirectory() + "roce-\(getpid()).pcap"
        try pcap.write(to: URL(fileURLWithPath: file))
        defer { try? FileManager.default.removeItem(atPath: file) }
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        // Payload heuristics (RPC-over-RDMA, SMB Direct, ...) would try to read our zero-filled
        // payloads as their protocols; the transport headers are what we check.
        let payloadProtocols = ["smc", "smb_direct", "rpcordma", "nvme-rdma", "lnet", "iser", "infiniband_sdp", "fcoib"]
        p.arguments = ["tshark", "-r", file] + payloadProtocols.flatMap { ["--disable-protocol", $0] } + ["-T", "fields", "-E", "separator=|", "-e", "frame.protocols",
                       "-e", "infiniband.bth.opcode", "-e", "infiniband.bth.destqp", "-e", "infiniband.bth.psn", "-e", "_ws.expert.severity"]
        let out = Pipe()
        p.standardOutput = out
        p.standardError = FileHandle.nullDevice
        try p.run()
        let text = String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        p.waitUntilExit()
        XCTAssertEqual(p.terminationStatus, 0, "tshark failed (scripts/setup.sh installs it)")
        let rows = text.split(separator: "\n").map { $0.split(separator: "|", omittingEmptySubsequences: false).map(String.init) }
        XCTAssertEqual(rows.count, 2, text)
        guard rows.count == 2 else { return }
        XCTAssertTrue(rows[0][0].contains("udp:infiniband"), text)
        XCTAssertEqual(rows[0][1], "6")
        XCTAssertEqual(rows[0][2], "0x0abcde")
        XCTAssertEqual(rows[0][3], "1000")
        XCTAssertEqual(rows[1][1], "4")
        XCTAssertEqual(rows[1][2], "0x000007")
        XCTAssertEqual(rows[1][3], "16777215")
        for r in rows { XCTAssertTrue(r.count < 5 || r[4].isEmpty, "tshark expert warning: \(r)") }
    }

    /// Our 802.1Qbb frames decode in tshark exactly as DESIGN.md lays them out, with no warning.
    func testTsharkDecodesOurPFCFrames() throws {
        var f = [UInt8](repeating: 0xEE, count: 60)
        let n = f.withUnsafeMutableBytes {
            PFCBuilder.write(into: $0.baseAddress!, source: MACAddress("02:5f:00:00:01:fe")!, times: [(3, 0xFFFF), (5, 0x0100)])
        }
        XCTAssertEqual(n, 60)
        XCTAssertEqual(Array(f[0..<6]), [0x01, 0x80, 0xC2, 0, 0, 1])
        XCTAssertEqual(Array(f[12..<18]), [0x88, 0x08, 0x01, 0x01, 0x00, 0x28])
        XCTAssertTrue(f[34..<60].allSatisfy { $0 == 0 }, "zero padding to 60 bytes")
        var pcap = Data()
        func le32(_ v: UInt32) { withUnsafeBytes(of: v.littleEndian) { pcap.append(contentsOf: $0) } }
        func le16(_ v: UInt16) { withUnsafeBytes(of: v.littleEndian) { pcap.append(contentsOf: $0) } }
        le32(0xA1B2_C3D4); le16(2); le16(4); le32(0); le32(0); le32(65535); le32(1)
        le32(0); le32(0); le32(60); le32(60); pcap.append(contentsOf: f)
        let file = NSTemporaryDirectory() + "pfc-\(getpid()).pcap"
        try pcap.write(to: URL(fileURLWithPath: file))
        defer { try? FileManager.default.removeItem(atPath: file) }
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        p.arguments = ["tshark", "-r", file, "-T", "fields", "-E", "separator=|", "-e", "macc.opcode", "-e", "macc.cbfc.enbv",
                       "-e", "macc.cbfc.pause_time.c3", "-e", "macc.cbfc.pause_time.c5", "-e", "macc.cbfc.pause_time.c0", "-e", "_ws.expert.severity"]
        let out = Pipe()
        p.standardOutput = out
        p.standardError = FileHandle.nullDevice
        try p.run()
        let text = String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
        p.waitUntilExit()
        let fields = text.split(separator: "|", omittingEmptySubsequences: false).map(String.init)
        XCTAssertEqual(fields.count, 6, text)
        guard fields.count == 6 else { return }
        XCTAssertEqual(fields[0], "0x0101")
        XCTAssertEqual(fields[1], "0x0028")
        XCTAssertEqual(fields[2], "65535")
        XCTAssertEqual(fields[3], "256")
        XCTAssertEqual(fields[4], "0")
        XCTAssertTrue(fields[5].isEmpty, "tshark expert info: \(fields[5])")
    }

    func testOurParserReadsOurIPv6FramesBack() {
        let v6 = RoCEBuilder.Addresses(sourceMAC: addresses.sourceMAC, destinationMAC: addresses.destinationMAC,
                                       source6: IPv6Address("fd77:1::1")!, destination6: IPv6Address("fd77:2::1")!)
        var buf = [UInt8](repeating: 0, count: 2048)
        let n = buf.withUnsafeMutableBytes {
            RoCEBuilder.writePacket(into: $0.baseAddress!, capacity: $0.count, addresses: v6, dscp: 26, ecn: 2, ipID: 0,
                                    sourcePort: 0xC0DE, opcode: 0x06, destinationQP: 9, psn: 1, ackRequest: false,
                                    payload: nil, payloadBytes: 1024)
        }
        buf.withUnsafeBytes { p in
            let info = FrameParser.parse(p.baseAddress!, length: n)
            XCTAssertNil(info.error)
            XCTAssertEqual(info.kind, .rocev2)
            XCTAssertEqual(info.etherType, EtherType.ipv6)
            XCTAssertTrue(ICRC.isValid(ip: p.baseAddress! + 14, l3Length: Int(info.l3Length), ipVersion: 6))
        }
    }

    func testOurParserReadsOurFramesBack() {
        let f = build(opcode: 0x0A, payload: 100, qp: 0x42, psn: 9)
        f.withUnsafeBytes { p in
            let info = FrameParser.parse(p.baseAddress!, length: p.count)
            XCTAssertNil(info.error)
            XCTAssertEqual(info.kind, .rocev2)
            XCTAssertEqual(info.roceOpcode, 0x0A)
            XCTAssertEqual(info.destinationQP, 0x42)
            XCTAssertEqual(info.psn, 9)
            XCTAssertTrue(ICRC.isValid(ip: p.baseAddress! + 14, l3Length: Int(info.l3Length), ipVersion: 4))
        }
    }

    func testUDPSourcePortMatchesLinuxDerivation() {
        // Values computed by hand from include/rdma/ib_verbs.h for (lqpn, rqpn).
        // v = 0x11 * 0x123 = 0x1353; v ^= v>>20 (0) -> fl = 0x1353; low = 0x1353 ^ 0 -> 0xD353.
        XCTAssertEqual(RoCEBuilder.udpSourcePort(localQP: 0x11, remoteQP: 0x123), 0xD353)
        // Every port lands in 0xC000...0xFFFF and different QP pairs spread.
        var ports = Set<UInt16>()
        for q in UInt32(1)...1000 {
            let p = RoCEBuilder.udpSourcePort(localQP: 0x100, remoteQP: q)
            XCTAssertGreaterThanOrEqual(p, 0xC000)
            ports.insert(p)
        }
        XCTAssertGreaterThan(ports.count, 900)
    }
}
