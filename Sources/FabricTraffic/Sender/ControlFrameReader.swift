// The frames that control a sender, read from its AF_PACKET socket between packets (a NIC's
// MAC handles them in hardware): 802.1Qbb PFC naming the sender's priority, RoCEv2 CNPs and
// RC ACKs/NAKs addressed to its queue pairs. Everything else on the socket is skipped.
//
// Polling: at most every `pollInterval` (25 us) while sending, not per packet: a recv() per
// packet would halve the send rate, and 25 us is well inside the reaction time a pause needs
// (one quantum at 100G is 5 ns, but a pause lasts thousands of them). While waiting (paced or
// paused) the sender polls on every turn.
import CFabricShims  // MSG_DONTWAIT (sys/socket.h)
import FabricPacket
import Glibc

/// A control frame for this sender.
enum ControlFrame: Equatable {
    /// PFC for our priority: pause for `quanta` x 512 bit times; 0 resumes (XON).
    case pause(quanta: UInt16)
    /// A CNP with a valid ICRC for queue pair `queuePair` (0-based).
    case congestionNotification(queuePair: Int)
    /// An RC ACK (everything up to `psn` arrived) or NAK (PSN sequence error: `psn` expected)
    /// with a valid ICRC for queue pair `queuePair` (0-based).
    case acknowledge(queuePair: Int, psn: UInt32, nak: Bool)
}

struct ControlFrameReader: ~Copyable {
    /// Control frames are short (PFC 60 bytes, a CNP over IPv6 94): a longer frame is read
    /// truncated and skipped.
    static let bufferBytes = 2048
    static let pollInterval: UInt64 = 25_000

    let fd: Int32
    let priority: Int
    let queuePairs: Range<UInt32>
    private let buffer: UnsafeMutableRawPointer
    private var lastPoll: UInt64 = 0

    /// `fd`: the sender's AF_PACKET socket; `queuePairs`: its local QPNs.
    init(fd: Int32, priority: Int, queuePairs: Range<UInt32>) {
        self.fd = fd
        self.priority = priority
        self.queuePairs = queuePairs
        buffer = .allocate(byteCount: Self.bufferBytes, alignment: 64)
    }

    deinit { buffer.deallocate() }

    /// Whether a poll is due at `now` while sending (every `pollInterval`); records it.
    mutating func pollIsDue(at now: UInt64) -> Bool {
        guard now &- lastPoll >= Self.pollInterval else { return false }
        lastPoll = now
        return true
    }

    /// Waits up to `milliseconds` for a frame on the socket (the sender has nothing to send).
    func waitReadable(milliseconds: Int32) {
        var pfd = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
        _ = poll(&pfd, 1, milliseconds)
    }

    /// The next control frame for this sender waiting on the socket; nil when none is left.
    func next() -> ControlFrame? {
        while true {
            let n = recv(fd, buffer, Self.bufferBytes, Int32(MSG_DONTWAIT))
            if n <= 0 { return nil }
            if let frame = classify(UnsafeRawPointer(buffer), length: n) { return frame }
        }
    }

    /// What the frame at `frame` means to this sender, nil when nothing.
    func classify(_ frame: UnsafeRawPointer, length: Int) -> ControlFrame? {
        let info = FrameParser.parse(frame, length: length)
        let l3 = frame + Int(info.l3Offset)
        if info.kind == .cnp || (info.kind == .rocev2 && info.roceOpcode == RoCEOpcode.rcAcknowledge) {
            guard info.error == nil, queuePairs.contains(info.destinationQP),
                  ICRC.isValid(ip: l3, l3Length: Int(info.l3Length), ipVersion: info.etherType == EtherType.ipv6 ? 6 : 4) else { return nil }
            let qp = Int(info.destinationQP - queuePairs.lowerBound)
            guard info.kind == .rocev2 else { return .congestionNotification(queuePair: qp) }
            let aethOffset = Int(info.bthOffset) + BTHView.length
            guard aethOffset + AETHView.length <= length, let aeth = AETHView(frame + aethOffset, available: length - aethOffset) else { return nil }
            if AETHView.isACK(aeth.syndrome) { return .acknowledge(queuePair: qp, psn: info.psn, nak: false) }
            if aeth.syndrome == AETHView.nakSequenceError { return .acknowledge(queuePair: qp, psn: info.psn, nak: true) }
            return nil
        }
        guard info.kind == .pfc, let control = MACControlView(l3, available: length - Int(info.l3Offset)),
              control.classEnableVector & (1 << UInt8(priority)) != 0 else { return nil }
        return .pause(quanta: control.pauseTime(priority: priority))
    }
}
