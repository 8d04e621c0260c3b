import FabricPacket
@testable import FabricTraffic
import XCTest

/// Records the frames a notification point sends, instead of a socket.
final class SentFrames: FrameSending {
    var frames: [[UInt8]] = []
    func send(_ frame: UnsafeRawPointer, length: Int) throws -> Bool {
        frames.append(Array(UnsafeRawBufferPointer(start: frame, count: length)))
        return true
    }
    func parsed(_ f: [UInt8]) -> PacketInfo { f.withUnsafeBytes { FrameParser.parse($0.baseAddress!, length: $0.count) } }
    /// The CNPs sent, and the RC ACKs/NAKs.
    var cnps: [[UInt8]] { frames.filter { parsed($0).kind == .cnp } }
    var acknowledgements: [[UInt8]] { frames.filter { parsed($0).roceOpcode == RoCEOpcode.rcAcknowledge } }
}

/// The receiver's measurement of each frame (`TrafficMeter`): ICRC, CNPs, flows, latency and
/// the notification point, on frames built in memory and the time given explicitly.
final class ReceiverTests: XCTestCase {
    let t: UInt64 = 9_000_000_000
    let senderMAC = MACAddress(rawValue: 0x02_00_00_00_00_01)
    let receiverMAC = MACAddress(rawValue: 0x02_00_00_00_00_02)
    let sender: UInt32 = 0x0A00_0001, receiver: UInt32 = 0x0A00_0002

    /// A RoCEv2 RDMA WRITE ONLY packet from QP 0x100 to QP 0x200 with `psn`, carrying the
    /// payload header (send time `sentAt`) unless `header` is false.
    func packet(psn: UInt32, ecn: UInt8 = 2, sentAt: UInt64, header: Bool = true) -> [UInt8] {
        var payload = [UInt8](repeating: 0x5A, count: 64)
        if header {
            payload.withUnsafeMutableBytes { TrafficPayload.write(.init(sentAt: sentAt, message: 0, senderQP: 0x100), at: $0.baseAddress!) }
        }
        var frame = [UInt8](repeating: 0, count: 256)
        let n = frame.withUnsafeMutableBytes { f in
            payload.withUnsafeBytes { p in
                RoCEBuilder.writePacket(into: f.baseAddress!, capacity: f.count,
                                        addresses: .init(sourceMAC: senderMAC, destinationMAC: receiverMAC, source: sender, destination: receiver),
                                        dscp: 26, ecn: ecn, ipID: 0, sourcePort: 0xC000, opcode: 0x0A, destinationQP: 0x200, psn: psn,
                                        ackRequest: true, payload: p.baseAddress!, payloadBytes: p.count)
            }
        }
        return Array(frame.prefix(n))
    }

    func measure(_ meter: inout TrafficMeter<SentFrames>, _ frame: [UInt8], at now: UInt64) {
        frame.withUnsafeBytes { meter.measure($0.baseAddress!, length: $0.count, at: now) }
    }

    func parse(_ frame: [UInt8]) -> PacketInfo {
        frame.withUnsafeBytes { FrameParser.parse($0.baseAddress!, length: $0.count) }
    }

    func testThePayloadHeaderIsReadWhereTheSenderWroteIt() {
        let frame = packet(psn: 0, sentAt: t)
        let header = frame.withUnsafeBytes { TrafficPayload.read($0.baseAddress!, length: $0.count, info: parse(frame)) }
        XCTAssertEqual(header, TrafficPayload.Header(sentAt: t, message: 0, senderQP: 0x100))
        let plain = packet(psn: 0, sentAt: t, header: false)
        XCTAssertNil(plain.withUnsafeBytes { TrafficPayload.read($0.baseAddress!, length: $0.count, info: parse(plain)) }, "no magic")
    }

    func testPacketsAreMeasuredPerFlowWithTheirOneWayLatency() {
        let port = SentFrames()
        var meter = TrafficMeter(port: port, sourceMAC: receiverMAC)
        for psn in [0, 1, 3] as [UInt32] {
            measure(&meter, packet(psn: psn, sentAt: t + UInt64(psn) * 1000), at: t + UInt64(psn) * 1000 + 25_000)
        }
        let r = meter.report { _ in "h1" }
        XCTAssertEqual(r.packets, 3)
        XCTAssertEqual(r.lost, 1)
        XCTAssertEqual(r.flows.count, 1)
        XCTAssertEqual(r.flows[0].destinationQP, 0x200)
        XCTAssertEqual(r.latencyMicroseconds.samples, 3)
        XCTAssertEqual(r.latencyMicroseconds.p50, 25, accuracy: 0.1)
        XCTAssertEqual(r.seconds, 3e-6, accuracy: 1e-12)
        XCTAssertEqual(port.cnps.count, 0, "nothing CE-marked, no CNP")
    }

    /// As an RC responder: every packet asks for an ACK (AckReq): PSN 0 and 1 are ACKed, 3
    /// after the gap at 2 is NAKed (sequence error, 2 expected), each back to the sender's MAC
    /// and QP with a valid ICRC.
    func testPacketsAreAcknowledgedAndAGapIsNaked() throws {
        let port = SentFrames()
        var meter = TrafficMeter(port: port, sourceMAC: receiverMAC)
        for psn in [0, 1, 3] as [UInt32] { measure(&meter, packet(psn: psn, sentAt: t), at: t) }
        let acks = port.acknowledgements
        XCTAssertEqual(acks.count, 3)
        var got: [(UInt32, UInt8)] = []
        for frame in acks {
            let info = port.parsed(frame)
            XCTAssertNil(info.error)
            XCTAssertEqual(info.destinationQP, 0x100, "to the sender's QP")
            XCTAssertEqual(frame.withUnsafeBytes { EthernetView.loadMAC($0.baseAddress!) }, senderMAC.rawValue)
            XCTAssertTrue(frame.withUnsafeBytes { ICRC.isValid(ip: $0.baseAddress! + Int(info.l3Offset), l3Length: Int(info.l3Length), ipVersion: 4) })
            got.append((info.psn, frame[Int(info.bthOffset) + BTHView.length]))
        }
        XCTAssertEqual(got.map(\.0), [0, 1, 2])
        XCTAssertEqual(got.map(\.1), [AETHView.ack, AETHView.ack, AETHView.nakSequenceError])
        let r = meter.report { _ in "h1" }
        XCTAssertEqual(r.acksSent, 2)
        XCTAssertEqual(r.naksSent, 1)
        XCTAssertEqual(r.delivered, 2)
    }

    func testABrokenICRCIsCountedAndNotMeasured() {
        var meter = TrafficMeter(port: SentFrames(), sourceMAC: receiverMAC)
        var frame = packet(psn: 0, sentAt: t)
        frame[frame.count - 10] ^= 0xFF
        measure(&meter, frame, at: t)
        let r = meter.report { _ in "h1" }
        XCTAssertEqual(r.icrcFailures, 1)
        XCTAssertEqual(r.packets, 0)
        XCTAssertEqual(r.latencyMicroseconds.samples, 0)
    }

    func testACEMarkIsAnsweredWithACNPToTheSenderAtMostOncePerFlowPer50Microseconds() throws {
        let port = SentFrames()
        var meter = TrafficMeter(port: port, sourceMAC: receiverMAC)
        measure(&meter, packet(psn: 0, ecn: 3, sentAt: t), at: t)
        measure(&meter, packet(psn: 1, ecn: 3, sentAt: t), at: t + 49_999)
        measure(&meter, packet(psn: 2, ecn: 3, sentAt: t), at: t + 50_000)
        measure(&meter, packet(psn: 3, ecn: 3, sentAt: t, header: false), at: t + 200_000)
        XCTAssertEqual(port.cnps.count, 2, "the second came too soon; the last names no sender QP")
        let r = meter.report { _ in "h1" }
        XCTAssertEqual(r.ceMarked, 4)
        XCTAssertEqual(r.cnpSent, 2)
        // The CNP: back to the marked frame's L2 source, from us to the sender, to its QP.
        let cnp = try XCTUnwrap(port.cnps.first)
        let info = parse(cnp)
        XCTAssertEqual(info.kind, .cnp)
        XCTAssertEqual(info.destinationQP, 0x100)
        XCTAssertEqual(info.dscp, 48)
        XCTAssertEqual(cnp.withUnsafeBytes { EthernetView($0.baseAddress!, length: $0.count)?.destination }, senderMAC)
        XCTAssertEqual(cnp.withUnsafeBytes { UInt32(bigEndian: $0.loadUnaligned(fromByteOffset: 14 + 16, as: UInt32.self)) }, sender)
        XCTAssertTrue(cnp.withUnsafeBytes { ICRC.isValid(ip: $0.baseAddress! + 14, l3Length: $0.count - 14, ipVersion: 4) })
        // A CNP arriving here is counted as received, not as a flow's packet.
        measure(&meter, cnp, at: t + 300_000)
        XCTAssertEqual(meter.report { _ in "h1" }.cnpReceived, 1)
        XCTAssertEqual(meter.report { _ in "h1" }.packets, 4)
    }
}
