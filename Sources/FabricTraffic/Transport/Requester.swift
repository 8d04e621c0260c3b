// The requester end of RC: per QP a window of sequence numbers (64-bit; the PSN on the wire is
// the low 24 bits, every QP starts at 0), advanced by ACKs, sent back by NAKs (go-back-N: from
// the NAK'd PSN on; selective repeat: only it) and by the local ACK timeout, which after
// `retryCount` resends without progress puts the QP in the error state. Which packet goes next
// is decided here; building and sending it is the sender's (`RoCESender`).

/// One packet to transmit: sequence `sequence` of queue pair `queuePair` (0-based).
struct Transmission: Equatable {
    var queuePair: Int
    var sequence: UInt64
    var retransmission: Bool
}

struct RequesterQP {
    /// Oldest unacknowledged, next never sent, and (go-back-N) the next to send again.
    var base: UInt64 = 0
    var next: UInt64 = 0
    var resendFrom: UInt64 = 0
    /// Selective repeat: sequences NAK'd or timed out, to send again, oldest first.
    var resend: [UInt64] = []
    /// When the window last moved (or its first packet went), and resends since.
    var progressAt: UInt64 = 0
    var retries = 0
    var failed = false

    /// The sequence on this QP whose PSN is `psn`, when it lies in [base, next).
    func sequence(ofPSN psn: UInt32) -> UInt64? {
        let d = UInt64((psn &- UInt32(truncatingIfNeeded: base)) & PSN.mask)
        return base + d < next ? base + d : nil
    }
}

struct Requester {
    let parameters: ReliabilityParameters
    let packetsPerMessage: Int
    /// Messages to send (0: until told to stop starting new ones).
    let messages: UInt64
    private(set) var qps: [RequesterQP]

    /// The next new packet: message `message` (round robin over the QPs), packet `index`.
    private(set) var message: UInt64 = 0
    private(set) var index = 0

    private(set) var acks: UInt64 = 0
    private(set) var naks: UInt64 = 0
    private(set) var timeouts: UInt64 = 0
    private(set) var retransmitted: UInt64 = 0
    /// When the last ACK or NAK moved a window (0: none did).
    private(set) var lastProgress: UInt64 = 0
    /// Messages allowed to begin (a collective's dependency: a rank sends step k+1's chunk
    /// only after it received step k's); `.max`: no limit.
    var gate: UInt64 = .max
    /// Per message (when `messages` > 0): when its first packet went and when its last
    /// acknowledgement came (0: not yet), for a collective's step timeline.
    private(set) var startedAt: [UInt64] = []
    private(set) var completedAt: [UInt64] = []

    init(parameters: ReliabilityParameters, queuePairs: Int, packetsPerMessage: Int, messages: Int) {
        self.parameters = parameters
        self.packetsPerMessage = packetsPerMessage
        self.messages = UInt64(messages)
        qps = [RequesterQP](repeating: RequesterQP(), count: queuePairs)
        for i in qps.indices { qps[i].resend.reserveCapacity(64) }
        if messages > 0 && messages <= 1 << 16 {
            startedAt = [UInt64](repeating: 0, count: messages)
            completedAt = [UInt64](repeating: 0, count: messages)
        }
    }

    var failed: Bool { qps.contains { $0.failed } }
    var failedQueuePairs: Int { qps.filter(\.failed).count }
    /// Messages every packet of which went out at least once, and those fully acknowledged.
    var messagesStarted: UInt64 { message + (index > 0 ? 1 : 0) }
    var messagesCompleted: UInt64 { qps.reduce(0) { $0 + $1.base / UInt64(packetsPerMessage) } }
    /// Nothing unacknowledged on any QP.
    var idle: Bool { qps.allSatisfy { $0.base == $0.next } }

    /// Whether every message is sent and acknowledged: all of them, or (`startNew` false) the
    /// ones started.
    func isDone(startNew: Bool) -> Bool {
        if failed { return true }
        let noMore = messages > 0 ? message >= messages : !startNew && index == 0
        return noMore && idle
    }

    /// The packet to send next: a resend first, then a new packet (`startNew`: a new message
    /// may begin; one already begun is finished). Nil when the windows allow nothing.
    func next(startNew: Bool) -> Transmission? {
        // Fields read in place: a copy of a `RequesterQP` would retain its resend array per packet.
        for q in qps.indices where !qps[q].failed {
            if parameters.mode == .gbn, qps[q].resendFrom < qps[q].next {
                return Transmission(queuePair: q, sequence: qps[q].resendFrom, retransmission: true)
            }
            if parameters.mode == .sr, let s = qps[q].resend.first { return Transmission(queuePair: q, sequence: s, retransmission: true) }
        }
        if messages > 0 && message >= messages { return nil }
        if index == 0 && (!startNew || message >= gate) { return nil }
        let q = Int(message % UInt64(qps.count))
        guard !qps[q].failed, parameters.mode == .none || qps[q].next - qps[q].base < UInt64(parameters.windowPackets) else { return nil }
        return Transmission(queuePair: q, sequence: qps[q].next, retransmission: false)
    }

    /// Packet index (0-based) within its message, and the message number (over all QPs).
    func place(_ t: Transmission) -> (message: UInt64, index: Int) {
        let perQP = t.sequence / UInt64(packetsPerMessage)
        return (perQP * UInt64(qps.count) + UInt64(t.queuePair), Int(t.sequence % UInt64(packetsPerMessage)))
    }

    /// `t` (from `next`) went out at `now`.
    mutating func sent(_ t: Transmission, at now: UInt64) {
        // Taken out of the array while it changes (an empty one left in its place), so its
        // resend array is not shared and `removeFirst` does not copy it.
        var qp = RequesterQP()
        swap(&qp, &qps[t.queuePair])
        defer { swap(&qp, &qps[t.queuePair]) }
        if qp.base == qp.next { qp.progressAt = now }
        if t.retransmission {
            retransmitted += 1
            // The timer runs from the resend of the oldest packet (after a timeout, a window
            // that takes longer to send again than the timeout must not time out again).
            if t.sequence == qp.base { qp.progressAt = now }
            if parameters.mode == .gbn { qp.resendFrom += 1 } else { qp.resend.removeFirst() }
        } else {
            if index == 0 && message < UInt64(startedAt.count) { startedAt[Int(message)] = now }
            qp.next += 1
            qp.resendFrom = qp.next
            if parameters.mode == .none { qp.base = qp.next }
            index += 1
            if index == packetsPerMessage {
                index = 0
                message += 1
            }
        }
    }

    /// An ACK (everything up to `psn`) or a NAK (a sequence error: `psn` expected next) for
    /// queue pair `q` arrived at `now`. Stale ones (outside the window) change nothing.
    mutating func acknowledged(queuePair q: Int, psn: UInt32, nak: Bool, at now: UInt64) {
        guard qps.indices.contains(q) else { return }
        var qp = RequesterQP()   // taken out while it changes, as in `sent`
        swap(&qp, &qps[q])
        defer { swap(&qp, &qps[q]) }
        if nak {
            naks += 1
            guard let s = qp.sequence(ofPSN: psn) else { return }
            advance(&qp, queuePair: q, to: s, at: now)
            if parameters.mode == .gbn {
                qp.resendFrom = min(qp.resendFrom, s)
            } else if !qp.resend.contains(s) {
                qp.resend.append(s)
            }
        } else {
            acks += 1
            guard let s = qp.sequence(ofPSN: psn) else { return }
            advance(&qp, queuePair: q, to: s + 1, at: now)
        }
    }

    /// The local ACK timer: a QP with packets outstanding and no progress for the timeout
    /// resends (go-back-N: all of them; selective repeat: the oldest), or fails after
    /// `retryCount` such resends.
    mutating func checkTimeouts(at now: UInt64) {
        let timeout = parameters.timeoutNanoseconds
        for q in qps.indices where !qps[q].failed && qps[q].base < qps[q].next && now &- qps[q].progressAt >= timeout {
            timeouts += 1
            if qps[q].retries >= parameters.retryCount {
                qps[q].failed = true
                continue
            }
            qps[q].retries += 1
            qps[q].progressAt = now
            if parameters.mode == .gbn {
                qps[q].resendFrom = qps[q].base
            } else if !qps[q].resend.contains(qps[q].base) {
                qps[q].resend.insert(qps[q].base, at: 0)
            }
        }
    }

    private mutating func advance(_ qp: inout RequesterQP, queuePair q: Int, to s: UInt64, at now: UInt64) {
        guard s > qp.base else { return }
        if !completedAt.isEmpty {
            // Messages on this QP whose last packet is now acknowledged.
            let per = UInt64(packetsPerMessage), count = UInt64(qps.count)
            for m in qp.base / per..<s / per {
                let message = m * count + UInt64(q)
                if message < UInt64(completedAt.count) { completedAt[Int(message)] = now }
            }
        }
        qp.base = s
        qp.resendFrom = max(qp.resendFrom, s)
        qp.resend.removeAll { $0 < s }
        qp.retries = 0
        qp.progressAt = now
        lastProgress = now
    }
}
