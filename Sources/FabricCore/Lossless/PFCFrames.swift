import FabricPacket
import FabricSystem

/// The PFC frames the switch sends for `IngressAdmission`'s decisions.
extension Datapath {
    /// Where an XOFF carries the time its PG crossed the threshold: past the frame's 60 bytes,
    /// in the unused rest of its frame, so the transmit side can measure the PFC reaction time.
    @usableFromInline static let pfcStampOffset = 64

    /// Builds an 802.1Qbb frame for `priorities` and puts it on `port`'s control queue; counted
    /// per priority once it is queued. It takes its frame from the pool's reserve if need be;
    /// if it still cannot be queued (the pool empty, the control queue full) the failure is
    /// counted (`pfcTxFailures`) and an XOFF is repeated at the next refresh.
    @usableFromInline @inline(never) mutating func sendPFC(port: Int, priorities requested: UInt8, quanta: UInt16, now: UInt64) {
        // With several workers an XON goes out only for priorities no other worker holds.
        let priorities = links == nil ? requested : shareXoff(port: port, priorities: requested, quanta: quanta)
        guard priorities != 0, service[port] else { return }
        guard let fresh = pool.allocateReserved() else {
            pfcNotSent(port: port, priorities: priorities, quanta: quanta)
            return
        }
        let f = frames + Int(fresh)
        let n = PFCBuilder.write(into: f, source: router.host.mac(port: port), priorities: priorities, quanta: quanta)
        f.storeBytes(of: quanta > 0 ? now : 0, toByteOffset: Self.pfcStampOffset, as: UInt64.self)
        guard egress[port].control.enqueue(addr: fresh, len: UInt32(n), tag: .pfc) else {
            pool.release(fresh)
            pfcNotSent(port: port, priorities: priorities, quanta: quanta)
            return
        }
        for p in 0..<8 where priorities & (1 << UInt8(p)) != 0 { counters[port].pfcTx[p] &+= 1 }
    }

    @inline(never) mutating func pfcNotSent(port: Int, priorities: UInt8, quanta: UInt16) {
        counters[port].pfcTxFailures &+= 1
        if quanta > 0 { admission.xoffNotSent(port: port, priorities: priorities) }
    }

    /// An XOFF leaves for the wire: its reaction time is from the PG's threshold crossing (the
    /// batch's receive time) to now, on a fresh clock read (rare: once per XOFF).
    @usableFromInline @inline(never) mutating func pfcSent(port: Int, addr: UInt64) {
        let stamp = (frames + Int(addr)).load(fromByteOffset: Self.pfcStampOffset, as: UInt64.self)
        guard stamp != 0 else { return }
        let t = monotonicNanoseconds()
        let reaction = t > stamp ? t - stamp : 0
        counters[port].pfcReactions &+= 1
        counters[port].pfcReactionTotalNanoseconds &+= reaction
        if reaction > counters[port].pfcReactionMaxNanoseconds { counters[port].pfcReactionMaxNanoseconds = reaction }
    }
}
