// AF_XDP socket rings of one switch port.
//
// All ports of a switch share one UMEM (xsk_socket__create_shared): a frame received on one
// port is transmitted on another by handing its address to that port's TX ring, never by
// copying bytes. With a shared UMEM every socket still has its own fill and completion ring.
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
import Glibc

public struct XSKRings {
    public let rx: UnsafeMutablePointer<xsk_ring_cons>
    public let tx: UnsafeMutablePointer<xsk_ring_prod>
    public let fill: UnsafeMutablePointer<xsk_ring_prod>
    public let comp: UnsafeMutablePointer<xsk_ring_cons>
    public var socket: OpaquePointer? = nil
    public var fd: Int32 = -1
    public var fillOutstanding = 0
    public var txOutstanding = 0
    /// The most frames seen waiting in the rx ring at one receive (sampled when a full batch
    /// comes out, so below a batch it reads 0).
    public var rxPeak = 0

    init() {
        rx = .allocate(capacity: 1)
        rx.initialize(to: xsk_ring_cons())
        tx = .allocate(capacity: 1)
        tx.initialize(to: xsk_ring_prod())
        fill = .allocate(capacity: 1)
        fill.initialize(to: xsk_ring_prod())
        comp = .allocate(capacity: 1)
        comp.initialize(to: xsk_ring_cons())
    }

    func deallocate() {
        rx.deallocate()
        tx.deallocate()
        fill.deallocate()
        comp.deallocate()
    }

    /// Entries the kernel has not consumed yet on a producer ring, or we have not consumed on a
    /// consumer ring, read from the shared ring indices (diagnostics and the ledger).
    static func pending(_ r: UnsafeMutablePointer<xsk_ring_prod>) -> Int {
        guard let p = r.pointee.producer, let c = r.pointee.consumer else { return 0 }
        return Int(p.pointee &- c.pointee)
    }

    static func pending(_ r: UnsafeMutablePointer<xsk_ring_cons>) -> Int {
        guard let p = r.pointee.producer, let c = r.pointee.consumer else { return 0 }
        return Int(p.pointee &- c.pointee)
    }
}

/// The frame accounting of a whole switch at one moment.
public struct FrameLedger: Sendable, Codable, CustomStringConvertible {
    public var total = 0
    public var free = 0
    public var queued = 0
    /// Routed frames parked while ARP resolves their next hop.
    public var pending = 0
    public var fillOutstanding = 0
    public var txOutstanding = 0
    /// What the kernel's ring indices say is sitting in fill+rx and tx+completion rings.
    public var inFillAndRxRings = 0
    public var inTxAndCompletionRings = 0

    /// free + in rings + queued == UMEM frames.
    public var balances: Bool { free + queued + pending + fillOutstanding + txOutstanding == total }
    /// Frames the kernel holds outside any ring (copy-mode skbs still in flight). Zero at rest.
    public var inKernelFlight: Int {
        (fillOutstanding - inFillAndRxRings) + (txOutstanding - inTxAndCompletionRings)
    }

    public var description: String {
        "frames: \(total) total = \(free) free + \(queued) queued + \(pending) awaiting ARP + \(fillOutstanding) fill/rx + \(txOutstanding) tx/completion"
            + (balances ? " (balanced)" : " (UNBALANCED)")
            + (inKernelFlight == 0 ? "" : "; \(inKernelFlight) in kernel flight")
    }
}
