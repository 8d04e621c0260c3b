import FabricPacket
@testable import FabricTraffic
import XCTest

/// The two ends of RC reliability on their own, time given explicitly: the responder's ACK,
/// NAK and duplicate rules under both modes, the requester's window, go-back-N and selective
/// resends, timeouts and the error state; then both ends wired back to back through a lossy
/// "wire" until every message is acknowledged.
final class ReliabilityTests: XCTestCase {
    func parameters(_ mode: TransportMode, ackEvery: Int = 4, window: Int = 64) -> ReliabilityParameters {
        var p = ReliabilityParameters()
        p.mode = mode
        p.ackEveryPackets = ackEvery
        p.windowPackets = window
        p.timeoutExponent = 8  // 1.05 ms
        p.retryCount = 2
        p.reorderTolerance = 1
        return p
    }

    // MARK: - Responder

    func testInOrderPacketsAreAcknowledgedEveryNAndOnAckRequest() {
        var r = Responder(parameters: parameters(.gbn, ackEvery: 4))
        var got: [Response?] = []
        for psn in 0..<6 as Range<UInt32> { got.append(r.receive(key: 1, psn: psn, ackRequest: psn == 5, lastOfMessage: psn == 5, at: 100)) }
        XCTAssertEqual(got, [nil, nil, nil, .ack(psn: 3, msn: 0), nil, .ack(psn: 5, msn: 1)])
        XCTAssertEqual(r.delivered, 6)
        XCTAssertEqual(r.pending, 0)
    }

    func testAPendingAckGoesWhenItsTimerIsUp() {
        var r = Responder(parameters: parameters(.gbn, ackEvery: 16))
        XCTAssertNil(r.receive(key: 7, psn: 0, ackRequest: false, lastOfMessage: false, at: 1_000))
        XCTAssertEqual(r.pending, 1)
        var sent: [(UInt64, Response)] = []
        r.flush(at: 1_000 + 31_000) { sent.append(($0, $1)) }
        XCTAssertTrue(sent.isEmpty, "not before 32 us")
        r.flush(at: 1_000 + 32_000) { sent.append(($0, $1)) }
        XCTAssertEqual(sent.map(\.0), [7])
        XCTAssertEqual(sent.map(\.1), [.ack(psn: 0, msn: 0)])
        XCTAssertEqual(r.pending, 0)
    }

    func testGoBackNDiscardsAfterAGapAndNaksItOnce() {
        var r = Responder(parameters: parameters(.gbn))
        XCTAssertNil(r.receive(key: 1, psn: 0, ackRequest: false, lastOfMessage: false, at: 0))
        // PSN 1 is lost: 2, 3, 4 arrive. One NAK asking for 1, then silence.
        XCTAssertEqual(r.receive(key: 1, psn: 2, ackRequest: false, lastOfMessage: false, at: 0), .nak(psn: 1, msn: 0))
        XCTAssertNil(r.receive(key: 1, psn: 3, ackRequest: false, lastOfMessage: false, at: 0))
        XCTAssertNil(r.receive(key: 1, psn: 4, ackRequest: true, lastOfMessage: true, at: 0))
        XCTAssertEqual(r.outOfOrder, 3)
        // The resends from 1 on are delivered; 4 ends a message and asks for the ACK.
        for psn in 1...3 as ClosedRange<UInt32> { _ = r.receive(key: 1, psn: psn, ackRequest: false, lastOfMessage: false, at: 0) }
        XCTAssertEqual(r.receive(key: 1, psn: 4, ackRequest: true, lastOfMessage: true, at: 0), .ack(psn: 4, msn: 1))
        XCTAssertEqual(r.delivered, 5)
        XCTAssertEqual(r.naksSent, 1)
        // A second gap gets its own NAK.
        XCTAssertEqual(r.receive(key: 1, psn: 7, ackRequest: false, lastOfMessage: false, at: 0), .nak(psn: 5, msn: 1))
    }

    func testSelectiveRepeatPlacesAfterAGapAndTheResendCompletesIt() {
        var r = Responder(parameters: parameters(.sr))
        _ = r.receive(key: 1, psn: 0, ackRequest: false, lastOfMessage: false, at: 0)
        XCTAssertEqual(r.receive(key: 1, psn: 2, ackRequest: false, lastOfMessage: false, at: 0), .nak(psn: 1, msn: 0))
        XCTAssertNil(r.receive(key: 1, psn: 3, ackRequest: false, lastOfMessage: true, at: 0))
        // 5 placed too, 4 missing: filling 1 delivers 1-3 and NAKs the next hole, 4.
        XCTAssertNil(r.receive(key: 1, psn: 5, ackRequest: false, lastOfMessage: false, at: 0))
        XCTAssertEqual(r.receive(key: 1, psn: 1, ackRequest: false, lastOfMessage: false, at: 0), .nak(psn: 4, msn: 1))
        XCTAssertEqual(r.delivered, 4)
        XCTAssertEqual(r.receive(key: 1, psn: 4, ackRequest: true, lastOfMessage: false, at: 0), .ack(psn: 5, msn: 1))
        XCTAssertEqual(r.delivered, 6)
        XCTAssertEqual(r.messagesCompleted, 1, "PSN 3 ended a message while placed")
    }

    func testSelectiveRepeatNaksAGapOnlyOnceEnoughWasPlacedBeyondIt() {
        var p = parameters(.sr)
        p.reorderTolerance = 3
        var r = Responder(parameters: p)
        _ = r.receive(key: 1, psn: 0, ackRequest: false, lastOfMessage: false, at: 0)
        // 1 is late, not lost: 2 and 3 are placed, then 1 fills the gap; no NAK.
        XCTAssertNil(r.receive(key: 1, psn: 2, ackRequest: false, lastOfMessage: false, at: 0))
        XCTAssertNil(r.receive(key: 1, psn: 3, ackRequest: false, lastOfMessage: false, at: 0))
        _ = r.receive(key: 1, psn: 1, ackRequest: false, lastOfMessage: false, at: 0)
        XCTAssertEqual(r.naksSent, 0)
        XCTAssertEqual(r.delivered, 4)
        // 4 is lost: the third packet placed beyond it brings the NAK.
        XCTAssertNil(r.receive(key: 1, psn: 5, ackRequest: false, lastOfMessage: false, at: 0))
        XCTAssertNil(r.receive(key: 1, psn: 6, ackRequest: false, lastOfMessage: false, at: 0))
        XCTAssertEqual(r.receive(key: 1, psn: 7, ackRequest: false, lastOfMessage: false, at: 0), .nak(psn: 4, msn: 0))
    }

    func testDuplicatesAreReAcknowledged() {
        var r = Responder(parameters: parameters(.gbn, ackEvery: 2))
        _ = r.receive(key: 1, psn: 0, ackRequest: true, lastOfMessage: true, at: 0)
        XCTAssertNil(r.receive(key: 1, psn: 0, ackRequest: true, lastOfMessage: true, at: 0))
        XCTAssertEqual(r.receive(key: 1, psn: 0, ackRequest: true, lastOfMessage: true, at: 0), .ack(psn: 0, msn: 1))
        XCTAssertEqual(r.duplicates, 2)
        XCTAssertEqual(r.delivered, 1)
    }

    // MARK: - Requester

    func drain(_ q: inout Requester, at now: UInt64, startNew: Bool = true) -> [Transmission] {
        var out: [Transmission] = []
        while let t = q.next(startNew: startNew) {
            q.sent(t, at: now)
            out.append(t)
        }
        return out
    }

    func testTheWindowBoundsWhatIsInFlightAndAcksMoveIt() {
        var q = Requester(parameters: parameters(.gbn, window: 8), queuePairs: 1, packetsPerMessage: 4, messages: 5)
        XCTAssertEqual(drain(&q, at: 0).map(\.sequence), Array(0..<8))
        q.acknowledged(queuePair: 0, psn: 3, nak: false, at: 10)
        XCTAssertEqual(q.messagesCompleted, 1)
        XCTAssertEqual(drain(&q, at: 10).map(\.sequence), Array(8..<12))
        q.acknowledged(queuePair: 0, psn: 2, nak: false, at: 20)  // stale
        XCTAssertEqual(q.qps[0].base, 4)
    }

    func testGoBackNResendsFromTheNakdPSNAndSelectiveRepeatOnlyIt() {
        for mode in [TransportMode.gbn, .sr] {
            var q = Requester(parameters: parameters(mode), queuePairs: 1, packetsPerMessage: 4, messages: 2)
            XCTAssertEqual(drain(&q, at: 0).count, 8)
            q.acknowledged(queuePair: 0, psn: 5, nak: true, at: 10)
            XCTAssertEqual(q.qps[0].base, 5, "a NAK acknowledges what is before it")
            let resent = drain(&q, at: 10)
            XCTAssertTrue(resent.allSatisfy(\.retransmission))
            XCTAssertEqual(resent.map(\.sequence), mode == .gbn ? [5, 6, 7] : [5], "\(mode)")
            q.acknowledged(queuePair: 0, psn: 7, nak: false, at: 20)
            XCTAssertTrue(q.isDone(startNew: true))
            XCTAssertEqual(q.retransmitted, mode == .gbn ? 3 : 1)
        }
    }

    func testATimeoutResendsAndExhaustedRetriesFailTheQP() {
        let p = parameters(.gbn)
        var q = Requester(parameters: p, queuePairs: 2, packetsPerMessage: 2, messages: 2)
        XCTAssertEqual(drain(&q, at: 0).map(\.queuePair), [0, 0, 1, 1])
        q.acknowledged(queuePair: 1, psn: 1, nak: false, at: 100)
        q.checkTimeouts(at: p.timeoutNanoseconds - 1)
        XCTAssertEqual(q.timeouts, 0)
        q.checkTimeouts(at: p.timeoutNanoseconds)
        XCTAssertEqual(q.timeouts, 1, "only QP 0 has packets outstanding")
        var now = p.timeoutNanoseconds
        XCTAssertEqual(drain(&q, at: now).map(\.sequence), [0, 1])
        // That was resend 1 of `retryCount`; the rest, then one timeout more fails the QP.
        for _ in 1..<p.retryCount {
            now += p.timeoutNanoseconds
            q.checkTimeouts(at: now)
            _ = drain(&q, at: now)
        }
        XCTAssertFalse(q.failed)
        now += p.timeoutNanoseconds
        q.checkTimeouts(at: now)
        XCTAssertTrue(q.failed)
        XCTAssertTrue(q.isDone(startNew: true), "a failed QP ends the run")
        XCTAssertEqual(q.messagesCompleted, 1)
    }

    // MARK: - Both ends

    /// Requester and responder through a wire that drops every `dropEvery`th transmission and
    /// delivers the rest in order, ACKs back at once: every message completes; go-back-N
    /// resends more than selective repeat; the receiver's loss count is the first
    /// transmissions dropped.
    func testBothEndsCompleteEveryMessageThroughALossyWire() {
        var resent: [TransportMode: UInt64] = [:]
        for mode in [TransportMode.gbn, .sr] {
            let p = parameters(mode, ackEvery: 4, window: 32)
            var q = Requester(parameters: p, queuePairs: 2, packetsPerMessage: 8, messages: 40)
            var r = Responder(parameters: p)
            var tracker = FlowTracker()
            var transmissions = 0, droppedFirst: UInt64 = 0
            var now: UInt64 = 0
            func answer(_ response: Response?, qp: Int) {
                switch response {
                case .ack(let psn, _)?: q.acknowledged(queuePair: qp, psn: psn, nak: false, at: now)
                case .nak(let psn, _)?: q.acknowledged(queuePair: qp, psn: psn, nak: true, at: now)
                case nil: break
                }
            }
            while !q.isDone(startNew: true) && now < 10_000_000_000 {
                now += 1_000
                q.checkTimeouts(at: now)
                guard let t = q.next(startNew: true) else {
                    r.flush(at: now + p.ackDelayNanoseconds) { answer($1, qp: Int($0)) }
                    now += p.ackDelayNanoseconds
                    continue
                }
                q.sent(t, at: now)
                transmissions += 1
                if transmissions % 37 == 0 {
                    if !t.retransmission { droppedFirst += 1 }
                    continue
                }
                let (_, index) = q.place(t)
                let psn = UInt32(t.sequence & 0xFF_FFFF)
                tracker.record(source: .ipv4(1), destinationQP: UInt32(t.queuePair), psn: psn, bytes: 100, ceMarked: false,
                               sentAt: nil, resend: t.retransmission, at: now)
                answer(r.receive(key: UInt64(t.queuePair), psn: psn, ackRequest: index == 7, lastOfMessage: index == 7, at: now), qp: t.queuePair)
            }
            XCTAssertFalse(q.failed, "\(mode)")
            XCTAssertEqual(q.messagesCompleted, 40, "\(mode)")
            XCTAssertEqual(r.messagesCompleted, 40, "\(mode)")
            XCTAssertEqual(r.delivered, 320, "\(mode)")
            XCTAssertGreaterThan(q.retransmitted, 0, "\(mode)")
            XCTAssertEqual(tracker.reports { _ in "" }.reduce(0) { $0 + $1.lost }, droppedFirst, "\(mode): lost = first transmissions dropped")
            resent[mode] = q.retransmitted
        }
        XCTAssertLessThan(resent[.sr]!, resent[.gbn]!, "selective repeat resends less: \(resent)")
    }
}
