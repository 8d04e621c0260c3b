// The rx-ring wait (`--ring-wait on`): the XDP stamp in front of each received frame, read on
// the per-batch path.
import FabricCore
import FabricSystem

extension FabricSwitch where IO: ~Copyable {
    /// The XDP stamps of a received batch (`--ring-wait on`): each frame's wait in the rx ring,
    /// from its stamp to `now`, the pass's clock (the batch's receive time for the whole
    /// pipeline: the data path's timers compare it with the ticks' clock, so it must not be
    /// later than the next tick's), into the batch for its residence time and into the port's
    /// ring-wait histogram. A frame that reached XDP after `now` was read waited less than this
    /// pass: 0. Each stamp is cleared once read, so a frame without one (an XDP program that did
    /// not stamp) cannot show a stale one; a value outside the last four seconds is none.
    @inline(__always) mutating func readStamps(_ p: Int, count n: Int, now: UInt64) {
        let headroom = UInt64(dp.pool.frameSize &- 1)
        for i in 0..<n {
            let addr = batch.addr[i]
            var wait: UInt64 = 0
            if addr & headroom >= 8 {
                let at = dp.frames + Int(addr &- 8)
                let stamp = at.loadUnaligned(as: UInt64.self)
                at.storeBytes(of: 0, as: UInt64.self)
                if stamp != 0 && (stamp <= now ? now &- stamp < Self.stampHorizon : stamp &- now < Self.stampHorizon) {
                    if stamp < now { wait = now &- stamp }
                    dp.ringWait.record(p, nanoseconds: wait, ring: wait)
                }
            }
            batch.ringWait[i] = UInt32(truncatingIfNeeded: wait)
        }
    }

    /// An XDP stamp older than this is not one (a UInt32 of nanoseconds holds the wait).
    static var stampHorizon: UInt64 { 4_000_000_000 }
}
