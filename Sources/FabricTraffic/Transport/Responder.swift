// The responder end of RC: per connection (source address and destination QP, the receiver's
// flow key) the expected PSN, the messages completed (MSN) and, in selective-repeat mode, the
// packets placed beyond a gap. It decides when to ACK or NAK; the receiver builds and sends
// the frames (`TrafficMeter`).

/// What the responder sends for a connection.
enum Response: Equatable {
    /// ACK: everything up to `psn` arrived in order.
    case ack(psn: UInt32, msn: UInt32)
    /// NAK, PSN sequence error: `psn` is the one expected next.
    case nak(psn: UInt32, msn: UInt32)
}

struct ResponderConnection {
    /// The next PSN in order (the generator's QPs start at 0, as agreed at connection setup).
    var expected: UInt32 = 0
    var msn: UInt32 = 0
    /// The expected PSN a NAK went out for (once per gap).
    var nakedAt: UInt32?
    /// Packets accepted since the last ACK, and when the first of them came (0: none).
    var unacknowledged = 0
    var pendingSince: UInt64 = 0
    /// Selective repeat: bit i of `placed` = PSN expected + i arrived (bit 0 is always clear),
    /// and of `lasts` = it ended a message.
    var placed = Bitmap()
    var lasts = Bitmap()
    /// Packets placed beyond the gap (set bits of `placed`).
    var placedCount = 0

    var ackPending: Bool { pendingSince != 0 }

    struct Bitmap {
        var words = (UInt64(0), UInt64(0), UInt64(0), UInt64(0), UInt64(0), UInt64(0), UInt64(0), UInt64(0),
                     UInt64(0), UInt64(0), UInt64(0), UInt64(0), UInt64(0), UInt64(0), UInt64(0), UInt64(0))
        static let bits = 1024
        subscript(i: Int) -> Bool {
            mutating get { withUnsafeMutableBytes(of: &words) { $0.load(fromByteOffset: (i >> 6) * 8, as: UInt64.self) & (1 << UInt64(i & 63)) != 0 } }
            set {
                withUnsafeMutableBytes(of: &words) { p in
                    var w = p.load(fromByteOffset: (i >> 6) * 8, as: UInt64.self)
                    if newValue { w |= 1 << UInt64(i & 63) } else { w &= ~(1 << UInt64(i & 63)) }
                    p.storeBytes(of: w, toByteOffset: (i >> 6) * 8, as: UInt64.self)
                }
            }
        }
        var isEmpty: Bool { withUnsafeBytes(of: words) { p in (0..<16).allSatisfy { p.load(fromByteOffset: $0 * 8, as: UInt64.self) == 0 } } }
        /// Shifts every bit down by one (bit 1 becomes bit 0).
        mutating func shiftDown() {
            withUnsafeMutableBytes(of: &words) { p in
                for i in 0..<16 {
                    let w = p.load(fromByteOffset: i * 8, as: UInt64.self)
                    let next = i < 15 ? p.load(fromByteOffset: (i + 1) * 8, as: UInt64.self) : 0
                    p.storeBytes(of: w >> 1 | next << 63, toByteOffset: i * 8, as: UInt64.self)
                }
            }
        }
    }
}

struct Responder {
    /// The reorder window of selective repeat: a packet further than this beyond the gap is
    /// discarded (the requester's window is at most this).
    static let windowBits = ResponderConnection.Bitmap.bits

    /// What the responder counted, over every connection.
    struct Counters {
        var acksSent: UInt64 = 0
        var naksSent: UInt64 = 0
        var delivered: UInt64 = 0
        var duplicates: UInt64 = 0
        var outOfOrder: UInt64 = 0
        var messagesCompleted: UInt64 = 0
    }

    let parameters: ReliabilityParameters
    /// Connections by flow key, their state in an array (mutated in place: a packet costs one
    /// hash lookup, no copy of the state), and the ones with an ACK waiting for its timer.
    private var index: [UInt64: Int] = [:]
    private(set) var connections: [ResponderConnection] = []
    private var keys: [UInt64] = []
    private var waiting: [Int] = []
    private(set) var counters = Counters()

    var pending: Int { waiting.count }
    var acksSent: UInt64 { counters.acksSent }
    var naksSent: UInt64 { counters.naksSent }
    /// Packets accepted in order (delivered), duplicates of packets already delivered, and
    /// packets that came after a gap (discarded with gbn, placed with sr).
    var delivered: UInt64 { counters.delivered }
    var duplicates: UInt64 { counters.duplicates }
    var outOfOrder: UInt64 { counters.outOfOrder }
    var messagesCompleted: UInt64 { counters.messagesCompleted }

    init(parameters: ReliabilityParameters) {
        self.parameters = parameters
        waiting.reserveCapacity(64)
    }

    /// A data packet with `psn` of connection `key` arrived at `now`: `ackRequest` from its
    /// BTH, `lastOfMessage` from its opcode. Returns what to send now, if anything.
    mutating func receive(key: UInt64, psn: UInt32, ackRequest: Bool, lastOfMessage: Bool, at now: UInt64) -> Response? {
        guard parameters.mode != .none else { return nil }
        let i: Int
        if let known = index[key] { i = known } else {
            i = connections.count
            index[key] = i
            connections.append(ResponderConnection())
            keys.append(key)
        }
        let wasPending = connections[i].ackPending
        let response = Self.receive(&connections[i], &counters, parameters, psn: psn, ackRequest: ackRequest, lastOfMessage: lastOfMessage, at: now)
        let isPending = connections[i].ackPending
        if isPending && !wasPending { waiting.append(i) } else if wasPending && !isPending { waiting.removeAll { $0 == i } }
        return response
    }

    /// The ACKs whose coalescing time is up at `now`, one per connection, each passed to `send`
    /// with its connection's key.
    mutating func flush(at now: UInt64, _ send: (UInt64, Response) -> Void) {
        var k = 0
        while k < waiting.count {
            let i = waiting[k]
            if now &- connections[i].pendingSince >= parameters.ackDelayNanoseconds {
                send(keys[i], Self.acknowledge(&connections[i], &counters))
                waiting.remove(at: k)
            } else {
                k += 1
            }
        }
    }

    static func receive(_ c: inout ResponderConnection, _ n: inout Counters, _ p: ReliabilityParameters,
                        psn: UInt32, ackRequest: Bool, lastOfMessage: Bool, at now: UInt64) -> Response? {
        guard let d = PSN.ahead(psn, of: c.expected) else {
            // A duplicate (a resend of something delivered): re-ACK, coalesced like any ACK
            // (a go-back-N resend of a whole window must not get an ACK per packet).
            n.duplicates += 1
            c.unacknowledged += 1
            if c.pendingSince == 0 { c.pendingSince = now }
            return c.unacknowledged >= p.ackEveryPackets ? acknowledge(&c, &n) : nil
        }
        if d == 0 {
            accept(&c, &n, lastOfMessage: lastOfMessage)
            if p.mode == .sr {
                while c.placed[1] {
                    c.placed.shiftDown()
                    c.lasts.shiftDown()
                    c.placedCount -= 1
                    accept(&c, &n, lastOfMessage: c.lasts[0])
                }
                c.placed.shiftDown()
                c.lasts.shiftDown()
                // Still a gap with enough placed beyond it: NAK the new hole (once).
                if c.placedCount >= p.reorderTolerance && c.nakedAt != c.expected { return nak(&c, &n) }
            }
            c.unacknowledged += 1
            if c.pendingSince == 0 { c.pendingSince = now }
            if ackRequest || c.unacknowledged >= p.ackEveryPackets { return acknowledge(&c, &n) }
            return nil
        }
        n.outOfOrder += 1
        if p.mode == .sr && Int(d) < windowBits {
            if c.placed[Int(d)] { n.duplicates += 1 } else {
                c.placed[Int(d)] = true
                c.lasts[Int(d)] = lastOfMessage
                c.placedCount += 1
            }
            // Selective repeat tolerates reordering: a hole is NAK'd once `reorderTolerance`
            // packets were placed beyond it (a reordered packet fills it before that).
            if c.placedCount < p.reorderTolerance { return nil }
        }
        return c.nakedAt == c.expected ? nil : nak(&c, &n)
    }

    private static func accept(_ c: inout ResponderConnection, _ n: inout Counters, lastOfMessage: Bool) {
        c.expected = (c.expected + 1) & PSN.mask
        n.delivered += 1
        if lastOfMessage {
            c.msn = (c.msn + 1) & PSN.mask
            n.messagesCompleted += 1
        }
    }

    private static func acknowledge(_ c: inout ResponderConnection, _ n: inout Counters) -> Response {
        c.unacknowledged = 0
        c.pendingSince = 0
        n.acksSent += 1
        return .ack(psn: (c.expected &- 1) & PSN.mask, msn: c.msn)
    }

    private static func nak(_ c: inout ResponderConnection, _ n: inout Counters) -> Response {
        c.nakedAt = c.expected
        // The NAK acknowledges everything before the expected PSN too.
        c.unacknowledged = 0
        c.pendingSince = 0
        n.naksSent += 1
        return .nak(psn: c.expected, msn: c.msn)
    }
}
