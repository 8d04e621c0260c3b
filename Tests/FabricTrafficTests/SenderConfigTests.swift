import FabricPacket
@testable import FabricTraffic
import XCTest

/// The mtu is bounded by one 4096-byte transmit frame: Ethernet 14 + IPv4 20 (IPv6 40) +
/// UDP 8 + BTH 12 + RETH 16 (RDMA WRITE) + payload padded to 4 + ICRC 4.
final class SenderConfigTests: XCTestCase {
    func config(mtu: Int, verb: RoCEBuilder.Verb = .rdmaWrite, ipv6: Bool = false) -> SenderConfig {
        var c = SenderConfig(destinationMAC: MACAddress(rawValue: 0x02_00_00_00_00_02), source: 0x0A00_0001, destination: 0x0A00_0002)
        c.mtu = mtu
        c.verb = verb
        c.messageBytes = 3 * mtu
        if ipv6 {
            c.source6 = IPv6Address("fd00::1")
            c.destination6 = IPv6Address("fd00::2")
        }
        return c
    }

    func error(_ c: SenderConfig) -> String? {
        do {
            try c.validate(frameBytes: 4096)
            return nil
        } catch {
            return "\(error)"
        }
    }

    func testTheLargestMTUIsWhatOneFrameHoldsAfterTheHeaders() {
        XCTAssertEqual(RoCESender.frameBytes, 9600, "a 9500-byte Ethernet MTU's frame, with room to spare")
        XCTAssertEqual(config(mtu: 1024).largestMTU(frameBytes: RoCESender.frameBytes), 9524, "9600 - 74, down to a multiple of 4")
        XCTAssertEqual(config(mtu: 1024).largestMTU(frameBytes: 4096), 4020, "4096 - 74, down to a multiple of 4")
        XCTAssertEqual(config(mtu: 1024, ipv6: true).largestMTU(frameBytes: 4096), 4000)
        XCTAssertEqual(config(mtu: 1024, verb: .send).largestMTU(frameBytes: 4096), 4036, "no RETH")
        XCTAssertNil(error(config(mtu: 4020)))
        XCTAssertNil(error(config(mtu: 4000, ipv6: true)))
        XCTAssertNil(error(config(mtu: 4036, verb: .send)))
        XCTAssertNotNil(error(config(mtu: 4021)), "4021 pads to 4024: a 4098-byte frame")
        XCTAssertNotNil(error(config(mtu: 4004, ipv6: true)))
        XCTAssertNotNil(error(config(mtu: 4037, verb: .send)))
    }

    func testAnMTUTooLargeForAFrameIsAnErrorThatNamesTheLimitAndWhy() throws {
        let message = try XCTUnwrap(error(config(mtu: 4096)))
        XCTAssertTrue(message.hasPrefix("mtu 4096: "), message)
        XCTAssertTrue(message.contains("4170-byte frame"), message)
        XCTAssertTrue(message.contains("IPv4 20"), message)
        XCTAssertTrue(message.contains("RETH 16"), message)
        XCTAssertTrue(message.contains("more than the 4096 bytes a frame may take"), message)
        XCTAssertTrue(message.contains("the largest mtu is 4020"), message)
        let v6 = try XCTUnwrap(error(config(mtu: 9000, ipv6: true)))
        XCTAssertTrue(v6.contains("9094-byte frame") && v6.contains("IPv6 40") && v6.contains("the largest mtu is 4000"), v6)
    }

    func testRoCESenderRefusesTheMTUBeforeOpeningAnySocket() {
        // No such interface either: the mtu is what is reported, so validation came first.
        var c = config(mtu: 9600)
        c.interface = "no-such-interface-0"
        XCTAssertThrowsError(try RoCESender(config: c)) { error in
            XCTAssertTrue("\(error)".contains("the largest mtu is 9524"), "\(error)")
        }
    }

    func testOtherSettingsAreCheckedToo() {
        XCTAssertNotNil(error(config(mtu: 19)), "shorter than the payload header")
        var c = config(mtu: 1024)
        c.queuePairs = 0
        XCTAssertNotNil(error(c))
        c = config(mtu: 1024)
        c.priority = 8
        XCTAssertNotNil(error(c))
        c = config(mtu: 1024)
        c.messageBytes = 0
        XCTAssertNotNil(error(c))
    }

    /// The largest accepted mtu builds full frames that parse, with a valid ICRC and the
    /// payload header in place: FIRST (RETH) and ONLY (RETH) are the largest.
    func testTheLargestMTUBuildsNonEmptyCorrectFrames() throws {
        for (c, first) in [(config(mtu: 4020), 4094), (config(mtu: 4000, ipv6: true), 4094), (config(mtu: 4096), 4170), (config(mtu: 9524), 9598)] {
            var writer = PacketWriter(config: c, sourceMAC: MACAddress(rawValue: 0x02_00_00_00_00_01))
            var frame = [UInt8](repeating: 0, count: RoCESender.frameBytes)
            for index in 0..<writer.packetsPerMessage {
                let packet = writer.segment(index)
                let length = frame.withUnsafeMutableBytes {
                    writer.write(packet, message: 0, queuePair: 0, sequence: UInt64(index), resend: false, sentAt: 42, into: $0.baseAddress!, capacity: $0.count)
                }
                XCTAssertEqual(length, packet.frameLength)
                XCTAssertLessThanOrEqual(length, RoCESender.frameBytes)
                let info = frame.withUnsafeBytes { FrameParser.parse($0.baseAddress!, length: length) }
                XCTAssertNil(info.error)
                XCTAssertEqual(info.kind, .rocev2)
                XCTAssertEqual(info.psn, UInt32(index))
                XCTAssertTrue(frame.withUnsafeBytes {
                    ICRC.isValid(ip: $0.baseAddress! + Int(info.l3Offset), l3Length: Int(info.l3Length), ipVersion: c.usesIPv6 ? 6 : 4)
                })
                let header = frame.withUnsafeBytes { TrafficPayload.read($0.baseAddress!, length: length, info: info) }
                XCTAssertEqual(header?.sentAt, 42)
                XCTAssertEqual(header?.senderQP, c.localQP)
            }
            XCTAssertEqual(writer.packetsPerMessage, (c.messageBytes + c.mtu - 1) / c.mtu)
            XCTAssertEqual(writer.segment(0).frameLength, first, "FIRST carries the RETH")
        }
    }
}
