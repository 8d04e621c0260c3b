// RC reliability (IBTA vol. 1 ch. 9, which RoCEv2 inherits; facts in DESIGN.md "RC
// reliability"): the responder acknowledges, NAKs a PSN sequence error once per gap and re-ACKs
// duplicates; the requester keeps a window of unacknowledged packets, resends from a NAK and on
// its local ACK timeout, and gives up after a retry count. `Responder.swift` and
// `Requester.swift` hold the two ends; both take the time as an argument, so they are tested
// without sockets or sleeps.

/// How the two ends repair a gap.
public enum TransportMode: String, Sendable, CaseIterable, Codable {
    /// Go-back-N, as ConnectX-class RC NICs: the responder discards every packet after a gap,
    /// the requester resends everything from the NAK'd PSN.
    case gbn
    /// Selective repeat, as out-of-order-capable NICs and Ultra Ethernet's transport: the
    /// responder places packets after a gap, the requester resends only what is missing.
    case sr
    /// No reliability: the requester sends without a window and never waits for an ACK (a
    /// message counts as complete once sent), the responder sends none. A load generator for
    /// a sink that answers nothing (line-rate and PFC tests), not an RDMA NIC.
    case none
}

/// The requester's and responder's settings, with the IB conventions they follow.
public struct ReliabilityParameters: Sendable, Codable, Equatable {
    public var mode: TransportMode = .gbn
    /// Local ACK timeout as the IB QP attribute: 4.096 us x 2^exponent (0-31). 16 = 268 ms,
    /// between NCCL's older default (NCCL_IB_TIMEOUT 14 = 67 ms) and today's (18 = 1.07 s):
    /// behind PFC pauses the lab's queues hold packets for up to ~200 ms, and a timeout shorter
    /// than the queue resends what is only waiting.
    public var timeoutExponent = 16
    /// Times one QP resends after a timeout without progress before it goes to the error
    /// state (the IB retry_cnt attribute, 0-7; NCCL_IB_RETRY_CNT defaults to 7).
    public var retryCount = 7
    /// Packets a QP may have sent and not yet had acknowledged (the NIC's outstanding window;
    /// 1024, the responder's reorder window). An RC NIC streams posted messages at line rate,
    /// so the window must not be what limits a flow: with 256, a 3-to-1 incast's senders were
    /// ACK-clocked below the switch's XOFF point and PFC never fired (measured 2026-12-01).
    public var windowPackets = 1024
    /// Responder, selective repeat: a gap is NAK'd once this many packets were placed beyond
    /// it (go-back-N NAKs at once: it discards them). Like TCP's duplicate-ACK threshold it
    /// tells reordering from loss: spraying packets over paths whose queues differ reorders
    /// by a few packets, and a NAK per reordered packet would resend what is not lost.
    public var reorderTolerance = 64
    /// Responder: an ACK at the latest after this many packets in order (coalescing)...
    public var ackEveryPackets = 16
    /// ...or this long after the first packet it would acknowledge, or at once when the packet
    /// asks for one (AckReq: the last packet of every message).
    public var ackDelayNanoseconds: UInt64 = 32_000

    public init() {}

    public var timeoutNanoseconds: UInt64 { UInt64(4096) << UInt64(timeoutExponent) }

    /// Checks the ranges; the message names the setting.
    public func validate() throws {
        guard (0...31).contains(timeoutExponent) else { throw TrafficError("local ACK timeout exponent \(timeoutExponent): 0...31 (4.096 us x 2^N)") }
        guard (0...7).contains(retryCount) else { throw TrafficError("retry count \(retryCount): 0...7 (as the IB QP attribute)") }
        guard (1...Responder.windowBits).contains(windowPackets) else {
            throw TrafficError("window \(windowPackets) packets: 1...\(Responder.windowBits) (the responder's reorder window)")
        }
        guard reorderTolerance >= 1 && reorderTolerance < Responder.windowBits else { throw TrafficError("reorder tolerance \(reorderTolerance): 1...\(Responder.windowBits - 1) packets") }
        guard ackEveryPackets >= 1 else { throw TrafficError("ack-every \(ackEveryPackets): at least 1 packet") }
    }
}

/// 24-bit PSN arithmetic.
enum PSN {
    static let mask: UInt32 = 0xFF_FFFF
    /// How far `psn` is ahead of `reference` (0...2^23-1), or nil when it is behind.
    static func ahead(_ psn: UInt32, of reference: UInt32) -> UInt32? {
        let d = (psn &- reference) & mask
        return d < 0x80_0000 ? d : nil
    }
}
