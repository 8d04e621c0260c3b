import FabricPacket
import FabricTestSupport
@testable import FabricCore

/// What only tests do: look at queues directly, past the scheduler, the line rate and the
/// buffer credit.
extension EmbeddedDatapath {
    /// Frames queued on `port`, as bytes, in scheduler order ignoring pauses and the line rate;
    /// the frames go back to the pool (their buffer charge stays: use `transmit` to credit).
    func drain(_ port: Int) -> [[UInt8]] {
        var out: [[UInt8]] = []
        while let f = dp.egress[port].dequeue() {
            out.append(bytes(at: f.addr, length: f.len))
            dp.pool.release(f.addr)
        }
        return out
    }

    /// The switch's own PFC frames waiting on `port`.
    func drainControl(_ port: Int) -> [[UInt8]] {
        var out: [[UInt8]] = []
        while let f = dp.egress[port].control.dequeue() {
            out.append(bytes(at: f.addr, length: f.len))
            dp.pool.release(f.addr)
        }
        return out
    }
}

func mac(_ b: [UInt8], _ off: Int) -> UInt64 { Frames.mac(b, off) }
func ipv4HeaderValid(_ b: [UInt8], l3: Int = 14) -> Bool { Frames.ipv4HeaderValid(b, l3: l3) }
