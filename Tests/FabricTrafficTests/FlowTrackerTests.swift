import FabricPacket
@testable import FabricTraffic
import XCTest

/// Per-flow PSN accounting at the receiver, packets given one by one with their arrival time.
final class FlowTrackerTests: XCTestCase {
    let h1 = FlowSource.ipv4(0x0A00_0001)
    let t0: UInt64 = 7_000_000_000

    /// Feeds `psns` to QP 0x200 from h1, one every microsecond; returns the flow's report.
    func track(_ psns: [UInt32], into tracker: inout FlowTracker) -> FlowReport {
        for (i, psn) in psns.enumerated() {
            tracker.record(source: h1, destinationQP: 0x200, psn: psn, bytes: 100, ceMarked: false, sentAt: nil, at: t0 + UInt64(i) * 1000)
        }
        return tracker.reports { _ in "h1" }.first!
    }

    func testInOrderPacketsAreNeitherLostNorReordered() {
        var t = FlowTracker()
        let r = track(Array(0..<10), into: &t)
        XCTAssertEqual(r.packets, 10)
        XCTAssertEqual(r.bytes, 1000)
        XCTAssertEqual(r.lost, 0)
        XCTAssertEqual(r.reordered, 0)
        XCTAssertEqual(t.seconds, 9e-6, accuracy: 1e-12)
    }

    func testAGapThatNeverFillsIsLoss() {
        var t = FlowTracker()
        let r = track([0, 1, 2, 5, 6, 9], into: &t)
        XCTAssertEqual(r.lost, 4, "3, 4, 7 and 8 never came")
        XCTAssertEqual(r.reordered, 0)
    }

    func testALatePacketIsReorderedAndFillsItsGap() {
        var t = FlowTracker()
        let r = track([0, 1, 3, 4, 2, 5], into: &t)
        XCTAssertEqual(r.lost, 0, "2 came after all")
        XCTAssertEqual(r.reordered, 1)
    }

    func testADuplicateIsReorderedNeverLoss() {
        var t = FlowTracker()
        let r = track([0, 1, 2, 2, 3, 3, 4], into: &t)
        XCTAssertEqual(r.packets, 7)
        XCTAssertEqual(r.lost, 0)
        XCTAssertEqual(r.reordered, 2, "each duplicate arrived after a higher PSN had been expected")
    }

    func testPSNsWrapAt24Bits() {
        var t = FlowTracker()
        let r = track([0xFF_FFFE, 0xFF_FFFF, 0, 1, 3], into: &t)
        XCTAssertEqual(r.lost, 1, "only 2 is missing across the wrap")
        XCTAssertEqual(r.reordered, 0)
    }

    func testFlowsAreApartBySourceAndQueuePairAndSortedByName() {
        var t = FlowTracker()
        let h2 = FlowSource.ipv4(0x0A00_0002)
        let v6 = FlowSource.ipv6(IPv6Address("fd00::1")!)
        for (source, qp) in [(h2, UInt32(0x200)), (h1, 0x300), (h1, 0x200), (v6, 0x200)] {
            // Each flow starts at its own PSN: none of them sees another's as a gap.
            for psn in UInt32(qp)..<UInt32(qp) + 3 {
                t.record(source: source, destinationQP: qp, psn: psn, bytes: 64, ceMarked: source == h1, sentAt: nil, at: t0)
            }
        }
        let reports = t.reports { source in
            switch source {
            case .ipv4(let a): "10.0.0.\(a & 0xFF)"
            case .ipv6(let a): a.description
            }
        }
        XCTAssertEqual(reports.map(\.source), ["10.0.0.1", "10.0.0.1", "10.0.0.2", "fd00::1"])
        XCTAssertEqual(reports.map(\.destinationQP), [0x200, 0x300, 0x200, 0x200])
        XCTAssertEqual(reports.map(\.packets), [3, 3, 3, 3])
        XCTAssertEqual(reports.map(\.lost), [0, 0, 0, 0])
        XCTAssertEqual(reports.map(\.ceMarked), [3, 3, 0, 0])
        // The IPv4 and IPv6 families never share a key, whatever the address.
        XCTAssertNotEqual(FlowTracker.key(source: .ipv4(0), destinationQP: 1), FlowTracker.key(source: .ipv6(IPv6Address(high: 0, low: 0)), destinationQP: 1))
    }

    func testTheLongestSilenceByArrivalAndBySendTime() {
        var t = FlowTracker()
        let arrivals: [UInt64] = [0, 10_000, 20_000, 520_000, 530_000]   // a 500 us silence before the 4th
        let sent: [UInt64] = [0, 10_000, 20_000, 300_000, 310_000]       // as sent: 280 us
        for i in 0..<5 {
            t.record(source: h1, destinationQP: 0x200, psn: UInt32(i), bytes: 100, ceMarked: false,
                     sentAt: t0 + sent[i], at: t0 + arrivals[i])
        }
        let r = t.reports { _ in "h1" }[0]
        XCTAssertEqual(r.maxGapMicroseconds, 500)
        XCTAssertEqual(r.maxGapEndedAt, 520e-6, accuracy: 1e-12)
        XCTAssertEqual(r.maxSendGapMicroseconds, 280)
        XCTAssertEqual(t.firstArrival, t0)
        XCTAssertEqual(t.lastArrival, t0 + 530_000)
    }
}
