// The AF_XDP backend off the per-batch path: sleeping until work, a vanished port, the
// ledger and counters, teardown.
import CXDP
import FabricCore
import FabricSystem
import FabricTelemetry
import FabricXDP
import Glibc

extension XSKBackend {
    public mutating func sleepUntilWork(inService: UnsafePointer<Bool>, wakeAfter: UInt64?, loop: inout LoopCounters) {
        // Frames the kernel still holds for TX come back on the completion ring, which poll()
        // does not report: wake soon to collect them if the fill ring runs low.
        let r = rings
        pollPorts(pollFDs, count: portCount, inService: inService, fd: { r[$0].fd }, short: { r[$0].txOutstanding > 0 }, wakeAfter: wakeAfter, loop: &loop)
    }

    public func transmitPending(_ p: Int) -> Bool { XSKRings.pending(rings[p].tx) > 0 }

    /// Recovers every frame port p held: what sat in its four rings when the kernel unbound
    /// the socket.
    public mutating func vanish(_ p: Int, pool: inout FramePool) -> Int {
        if !secondary { resources.programs[p].interfaceVanished() }
        let r = rings[p]
        var idx: UInt32 = 0
        // Received but not yet processed.
        let rx = Int(xsk_ring_cons__peek(r.rx, UInt32(r.rxSize), &idx))
        for i in 0..<rx { pool.release(xsk_ring_cons__rx_desc(r.rx, idx &+ UInt32(i))!.pointee.addr) }
        xsk_ring_cons__release(r.rx, UInt32(rx))
        // Given to the fill ring, never consumed by the kernel.
        var fill = 0
        if let cons = r.fill.pointee.consumer {
            let consumed = cons.pointee
            fill = Int(r.fill.pointee.cached_prod &- consumed)
            for i in 0..<fill { pool.release(xsk_ring_prod__fill_addr(r.fill, consumed &+ UInt32(i)).pointee) }
        }
        rings[p].fillOutstanding -= rx + fill
        // Sent and completed, or never sent.
        let comp = Int(xsk_ring_cons__peek(r.comp, UInt32(ringSize), &idx))
        for i in 0..<comp { pool.release(xsk_ring_cons__comp_addr(r.comp, idx &+ UInt32(i)).pointee) }
        xsk_ring_cons__release(r.comp, UInt32(comp))
        var tx = 0
        if let cons = r.tx.pointee.consumer {
            let consumed = cons.pointee
            tx = Int(r.tx.pointee.cached_prod &- consumed)
            for i in 0..<tx { pool.release(xsk_ring_prod__tx_desc(r.tx, consumed &+ UInt32(i))!.pointee.addr) }
        }
        rings[p].txOutstanding -= comp + tx
        return rx + fill + comp + tx
    }

    public func ledger(_ l: inout FrameLedger, inService: UnsafePointer<Bool>) {
        for p in 0..<portCount {
            l.fillOutstanding += rings[p].fillOutstanding
            l.txOutstanding += rings[p].txOutstanding
            if inService[p] && rings[p].socket != nil {   // a closed socket's rings are unmapped
                l.inFillAndRxRings += XSKRings.pending(rings[p].fill) + XSKRings.pending(rings[p].rx)
                l.inTxAndCompletionRings += XSKRings.pending(rings[p].tx) + XSKRings.pending(rings[p].comp)
            }
        }
    }

    public func steeringCounters(_ p: Int) -> (redirected: UInt64, passed: UInt64) {
        // The program is the port's, not the queue's: its counters are the primary's to report.
        guard !secondary else { return (0, 0) }
        let c = resources.programs[p].counters()
        return (c.redirected, c.passed)
    }

    public var fastPathMaps: FastPathMaps? { resources.fastPath }

    public func fastPathPunts(_ p: Int) -> [UInt64] {
        guard !secondary, resources.fastPath != nil else { return [] }
        return FastPathMaps.punts(of: resources.programs[p])
    }

    /// XDP_STATISTICS of port p's socket (one getsockopt; off the data path).
    public mutating func socketDrops(_ p: Int) -> SocketDrops {
        var d = SocketDrops()
        guard let st = rings[p].statistics() else { return d }
        d.rxRingFull = st.rx_ring_full
        d.rxDropped = st.rx_dropped
        d.fillRingEmpty = st.rx_fill_ring_empty_descs
        d.rxInvalid = st.rx_invalid_descs &+ rings[p].oversize
        d.txInvalid = st.tx_invalid_descs
        d.unservedQueue = secondary ? 0 : resources.programs[p].counters().unserved
        d.rxRingPeak = UInt64(rings[p].rxPeak)
        d.rxRingSize = UInt64(rings[p].rxSize)
        return d
    }

    /// Stops steering frames to the sockets: the primary detaches the programs; a secondary
    /// takes its sockets out of the programs' xsks_map, and its queue's frames go to the
    /// kernel (as they all do once the primary has detached).
    public mutating func detach() {
        guard secondary else { return resources.detachPrograms() }
        for prog in resources.mapPrograms { prog.stopServing(queue: queue) }
    }
    public mutating func close() { resources.closeSockets() }
}
