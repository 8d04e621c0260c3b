// The rings of one AF_XDP socket (a switch port, the generator's sender or receiver).
//
// All ports of a switch share one UMEM (`UMEM.openSocket`): a frame received on one port is
// transmitted on another by handing its address to that port's TX ring, never by copying
// bytes. With a shared UMEM every socket still has its own fill and completion ring.
//
// The four ring structs live in memory we allocate once and never move: libxdp keeps pointers
// to them, and reaching them through an UnsafeMutablePointer costs no exclusivity checks
// (a class property would, ~8% of forwarding CPU in a probe).
//
// Frame ownership, per port:
//   fillOutstanding  frames we put on the fill ring that have not come back on the rx ring
//   txOutstanding    frames we put on the tx ring that have not come back on the completion ring
// Together with the pool and the egress queues they account for every UMEM frame.
import CXDP
import FabricSystem
import Glibc

/// How an AF_XDP socket uses its UMEM: `auto` lets the kernel pick (zero-copy where the driver
/// supports it, else copy), `on` insists on zero-copy (the socket fails where the driver cannot),
/// `off` copies.
public enum ZeroCopy: String, CaseIterable, Sendable {
    case auto, on, off
}

public struct XSKRings {
    public let rx: UnsafeMutablePointer<xsk_ring_cons>
    public let tx: UnsafeMutablePointer<xsk_ring_prod>
    public let fill: UnsafeMutablePointer<xsk_ring_prod>
    public let comp: UnsafeMutablePointer<xsk_ring_cons>
    public var socket: OpaquePointer? = nil
    public var fd: Int32 = -1
    public var fillOutstanding = 0
    public var txOutstanding = 0
    /// Entries of the rx ring (and the most frames kept on fill + rx), 0 before `openSocket`.
    public var rxSize = 0
    /// The most frames seen waiting in the rx ring (sampled once per pass of the run loop).
    public var rxPeak = 0
    /// Bound with XDP_USE_SG: frames longer than one UMEM frame arrive (and may be sent) as
    /// chains of descriptors, each but the last flagged `packetContinues`.
    public var multiBuffer = false
    /// The kernel copies frames into and out of the UMEM (copy mode) or the driver uses it
    /// directly (zero-copy), as bound (`ZeroCopy`; read back with XDP_OPTIONS).
    public var zeroCopy = false
    /// Packets received as chains longer than the switch carries, dropped (`FramePool.largestPacket`).
    public var oversize: UInt64 = 0

    /// XDP_USE_SG (bind flag) and XDP_PKT_CONTD (descriptor option), from linux/if_xdp.h 6.6+;
    /// the system's header may be older than the kernel.
    public static let useSG: UInt16 = 1 << 4
    public static let packetContinues: UInt32 = 1
    /// Bind flags XDP_COPY and XDP_ZEROCOPY; getsockopt XDP_OPTIONS and its zero-copy flag.
    public static let bindCopy: UInt16 = 1 << 1
    public static let bindZeroCopy: UInt16 = 1 << 2
    static let optionsSocketOption: Int32 = 8
    static let optionsZeroCopy: UInt32 = 1

    /// Preferred busy polling on the socket (SO_PREFER_BUSY_POLL, SO_BUSY_POLL,
    /// SO_BUSY_POLL_BUDGET; Linux 5.11+): the application's recvfrom/sendto run the device's
    /// NAPI for up to `microseconds`, `budget` frames at a time. Throws naming what failed.
    public func setBusyPoll(microseconds: Int, budget: Int, interface: String) throws {
        for (option, value, name) in [(Int32(69), Int32(1), "SO_PREFER_BUSY_POLL"), (Int32(46), Int32(microseconds), "SO_BUSY_POLL"),
                                      (Int32(70), Int32(budget), "SO_BUSY_POLL_BUDGET")] {
            var v = value
            guard setsockopt(fd, SOL_SOCKET, option, &v, socklen_t(MemoryLayout<Int32>.size)) == 0 else {
                throw SystemError("port \(interface): cannot set \(name) on its AF_XDP socket", errno: errno)
            }
        }
    }

    /// The NAPI instance a busy poll on this socket drives (SO_INCOMING_NAPI_ID; 0: none).
    /// Linux 6.13+ sets it at bind, for zero-copy sockets only ("xsk: Bring back busy polling
    /// support"); before, at the first frame received.
    public func napiID() -> UInt32 {
        var id: UInt32 = 0
        var len = socklen_t(MemoryLayout<UInt32>.size)
        guard fd >= 0, getsockopt(fd, SOL_SOCKET, 56, &id, &len) == 0 else { return 0 }
        return id
    }

    /// Whether the socket runs zero-copy (false when closed or unknown).
    func readZeroCopy() -> Bool {
        var flags: UInt32 = 0
        var len = socklen_t(MemoryLayout<UInt32>.size)
        guard fd >= 0, getsockopt(fd, SOL_XDP, Self.optionsSocketOption, &flags, &len) == 0 else { return false }
        return flags & Self.optionsZeroCopy != 0
    }

    public init() {
        rx = .allocate(capacity: 1)
        rx.initialize(to: xsk_ring_cons())
        tx = .allocate(capacity: 1)
        tx.initialize(to: xsk_ring_prod())
        fill = .allocate(capacity: 1)
        fill.initialize(to: xsk_ring_prod())
        comp = .allocate(capacity: 1)
        comp.initialize(to: xsk_ring_cons())
    }

    /// Frees the ring structs (after the socket is closed).
    public func deallocate() {
        rx.deallocate()
        tx.deallocate()
        fill.deallocate()
        comp.deallocate()
    }

    /// Entries the kernel has not consumed yet on a producer ring, or we have not consumed on a
    /// consumer ring, read from the shared ring indices (diagnostics and the ledger).
    public static func pending(_ r: UnsafeMutablePointer<xsk_ring_prod>) -> Int {
        guard let p = r.pointee.producer, let c = r.pointee.consumer else { return 0 }
        return Int(p.pointee &- c.pointee)
    }

    public static func pending(_ r: UnsafeMutablePointer<xsk_ring_cons>) -> Int {
        guard let p = r.pointee.producer, let c = r.pointee.consumer else { return 0 }
        return Int(p.pointee &- c.pointee)
    }

    /// Closes the socket (its rings stay allocated until `deallocate`). Idempotent.
    public mutating func closeSocket() {
        if let s = socket { xsk_socket__delete(s) }
        socket = nil
        fd = -1
    }

    /// The kernel's drop counters of the socket (XDP_STATISTICS; one getsockopt, off the data
    /// path), nil once closed.
    public func statistics() -> xdp_statistics? {
        var st = xdp_statistics()
        var len = socklen_t(MemoryLayout<xdp_statistics>.size)
        guard fd >= 0, getsockopt(fd, SOL_XDP, XDP_STATISTICS, &st, &len) == 0 else { return nil }
        return st
    }

    /// Asks the kernel to transmit what the TX ring holds (copy mode sends at most 32 frames
    /// per call). False only for errors other than busy or a device going away.
    @inline(__always) public func kickTransmit() -> Bool {
        guard sendto(fd, nil, 0, Int32(MSG_DONTWAIT), nil, 0) < 0 else { return true }
        switch errno {
        case EAGAIN, EBUSY, ENOBUFS, EINTR, ENETDOWN, ENXIO: return true
        default: return false
        }
    }

    /// Asks the kernel to look at the fill ring again (needs-wakeup mode).
    @inline(__always) public func kickFill() {
        _ = recvfrom(fd, nil, 0, Int32(MSG_DONTWAIT), nil, nil)
    }
}
