// RoCEv2 workload: a sender that behaves like an RC queue-pair NIC (messages split into
// MTU-sized FIRST/MIDDLE/LAST packets, per-QP PSN, UDP source port from the QP pair, DSCP 26 +
// ECT(0), honours 802.1Qbb PFC for its priority, DCQCN on CNPs) and a receiver that measures
// what fabric users care about (goodput, loss as PSN gaps that never fill, reordering, CE marks,
// ICRC failures, one-way latency) and answers CE marks with CNPs. Frames are built and parsed
// by FabricPacket.
//
// Sender/ holds the sender: `RoCESender` runs the loop, `Pacer` keeps the schedule,
// `PFCPauseState` honours PFC, `ControlFrameReader` reads PFC and CNP frames, `PacketWriter`
// builds the packets, `FrameTransmitter` puts them on the wire. Receiver/ holds the receiver:
// `RoCEReceiver` runs the loop, `TrafficMeter` measures each frame, `FlowTracker` keeps the
// per-flow PSN accounting, `NotificationPoint` sends CNPs. The parts take the time as an
// argument, so they are tested without sockets or sleeps.
import FabricPacket

/// How an endpoint moves frames; the sender's `--backend` and the receiver's.
public enum TrafficBackend: String, Sendable, CaseIterable {
    /// AF_XDP: a transmit-only socket sending from UMEM frames, one kick per batch, or a
    /// receive socket that bpf/roce_rx steers RoCEv2 data into.
    case afxdp
    /// A raw AF_PACKET socket: one send() or recv() per frame. Works everywhere.
    case afpacket
}

/// The sender's name for `TrafficBackend`, kept for the callers that use it.
public typealias SendBackend = TrafficBackend

/// The first 24 bytes of every packet's payload: send time, message number, magic, the
/// sender's QPN (so a receiver can address ACKs and CNPs to it, as an RC responder knows its
/// peer QP), and whether the packet is a resend (so loss and reordering are counted on first
/// transmissions only).
public enum TrafficPayload {
    public static let length = 24
    public static let magic: UInt32 = 0x5346_5243  // "SFRC"

    /// What the payload header says.
    struct Header: Equatable {
        /// CLOCK_MONOTONIC at sending, shared by every namespace on the machine: one-way latency
        /// is the receiver's clock minus this.
        var sentAt: UInt64
        var message: UInt32
        var senderQP: UInt32
        var resend = false
    }

    /// Writes `header` at `payload` (big-endian: sentAt 0-7, message 8-11, magic 12-15,
    /// sender QP 16-19, flags 20-23: bit 0 resend).
    static func write(_ header: Header, at payload: UnsafeMutableRawPointer) {
        payload.storeBytes(of: header.sentAt.bigEndian, as: UInt64.self)
        payload.storeBytes(of: header.message.bigEndian, toByteOffset: 8, as: UInt32.self)
        payload.storeBytes(of: magic.bigEndian, toByteOffset: 12, as: UInt32.self)
        payload.storeBytes(of: header.senderQP.bigEndian, toByteOffset: 16, as: UInt32.self)
        payload.storeBytes(of: UInt32(header.resend ? 1 : 0).bigEndian, toByteOffset: 20, as: UInt32.self)
    }

    /// The header of the parsed RoCEv2 packet `frame`, nil when the payload is too short or
    /// does not carry the magic (not sent by this generator).
    static func read(_ frame: UnsafeRawPointer, length: Int, info: PacketInfo) -> Header? {
        guard let extended = RoCEOpcode.extendedHeaderLength(info.roceOpcode) else { return nil }
        let offset = Int(info.bthOffset) + BTHView.length + extended
        guard info.bthOffset > 0, offset + Self.length <= length,
              UInt32(bigEndian: frame.loadUnaligned(fromByteOffset: offset + 12, as: UInt32.self)) == magic else { return nil }
        return Header(sentAt: UInt64(bigEndian: frame.loadUnaligned(fromByteOffset: offset, as: UInt64.self)),
                      message: UInt32(bigEndian: frame.loadUnaligned(fromByteOffset: offset + 8, as: UInt32.self)),
                      senderQP: UInt32(bigEndian: frame.loadUnaligned(fromByteOffset: offset + 16, as: UInt32.self)),
                      resend: UInt32(bigEndian: frame.loadUnaligned(fromByteOffset: offset + 20, as: UInt32.self)) & 1 != 0)
    }
}
