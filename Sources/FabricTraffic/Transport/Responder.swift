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

    let parameters: ReliabilityParameters
    private(set) var connections: [UInt64: ResponderConnection] = [:]
    /// Connections with an ACK waiting for its coalescing timer.
    private(set) var pending = 0

    private(set) var acksSent: UInt64 = 0
    private(set) var naksSent: UInt64 = 0
    /// Packets accepted in order (delivered), duplicates of packets already delivered, and
    /// packets that came after a gap (discarded with gbn, placed with sr).
    private(set) var delivered: UInt64 = 0
    private(set) var duplicates: UInt64 = 0
    private(set) var outOfOrder: UInt64 = 0
    private(set) var messagesCompleted: UInt64 = 0

    init(parameters: ReliabilityParameters) { self.parameters = parameters }

    /// A data packet with `psn` of connection `key` arrived at `now`: `ackRequest` from its
    /// BTH, `lastOfMessage` from its opcode. Returns what to send now, if anything.
    mutating func receive(key: UInt64, psn: UInt32, ackRequest: Bool, lastOfMessage: Bool, at now: UInt64) -> Response? {
        guard parameters.mode != .none else { return nil }
        var c = connections[key] ?? ResponderConnection()
        let wasPending = c.ackPending
        defer {
            connections[key] = c
            pending += (c.ackPending ? 1 : 0) - (wasPending ? 1 : 0)
        }
        guard let d = PSN.ahead(psn, of: c.expected) else {
            // A duplicate (a resend of something delivered): re-ACK, coalesced like any ACK
            // (a go-back-N resend of a whole window must not get an ACK per packet).
            duplicates += 1
            c.unacknowledged += 1
            if c.pendingSince == 0 { c.pendingSince = now }
            return c.unacknowledged >= parameters.ackEveryPackets ? acknowledge(&c) : nil
        }
        if d == 0 {
            accept(&c, lastOfMessage: lastOfMessage)
            if parameters.mode == .sr {
                while c.placed[1] {
                    c.placed.shiftDown()
                    c.lasts.shiftDown()
                    accept(&c, lastOfMessage: c.lasts[0])
                }
                c.placed.shiftDown()
                c.lasts.shiftDown()
                // Still a gap with packets placed beyond it: NAK the new hole (once).
                if !c.placed.isEmpty && c.nakedAt != c.expected { return nak(&c) }
            }
            c.unacknowledged += 1
            if c.pendingSince == 0 { c.pendingSince = now }
            if ackRequest || c.unacknowledged >= parameters.ackEveryPackets { return acknowledge(&c) }
            return nil
        }
        outOfOrder += 1
        if parameters.mode == .sr && Int(d) < Self.windowBits {
            if c.placed[Int(d)] { duplicates += 1 } else {
                c.placed[Int(d)] = true
                c.lasts[Int(d)] = lastOfMessage
            }
        }
        return c.nakedAt == c.expected ? nil : nak(&c)
    }

    /// The ACKs whose coalescing time is up at `now`, one per connection, each passed to `send`.
    mutating func flush(at now: UInt64, _ send: (UInt64, Response) -> Void) {
        guard pending > 0 else { return }
        for (key, var c) in connections where c.ackPending && now &- c.pendingSince >= parameters.ackDelayNanoseconds {
            send(key, acknowledge(&c))
            connections[key] = c
            pending -= 1
        }
    }

    private mutating func accept(_ c: inout ResponderConnection, lastOfMessage: Bool) {
        c.expected = (c.expected + 1) & PSN.mask
        delivered += 1
        if lastOfMessage {
            c.msn = (c.msn + 1) & PSN.mask
            messagesCompleted += 1
        }
    }

    private mutating func acknowledge(_ c: inout ResponderConnection) -> Response {
        c.unacknowledged = 0
        c.pendingSince = 0
        acksSent += 1
        return .ack(psn: (c.expected &- 1) & PSN.mask, msn: c.msn)
    }

    private mutating func nak(_ c: inout ResponderConnection) -> Response {
        c.nakedAt = c.expected
        // The NAK acknowledges everything before the expected PSN too.
        c.unacknowledged = 0
        c.pendingSince = 0
        naksSent += 1
        return .nak(psn: c.expected, msn: c.msn)
    }
}
