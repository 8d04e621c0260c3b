#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Flooding: a frame for every in-service port but the one it came in on.
extension Datapath {
    /// Copies for all targets but the last, which takes the original frame (so a flood to one
    /// port copies nothing). Each copy is admitted and charged to the ingress PG like the
    /// original (a lossless frame flooded to N ports holds N frames' worth of its PG until the
    /// last leaves), and ECN decides on each by the depth of its own egress queue: copies are
    /// taken before the original is queued, so one port's mark never reaches another's copy.
    @usableFromInline mutating func flood(addr: UInt64, len: UInt32, queue: Int, tag: ChargeTag, stamp: UInt64, wait: UInt32 = 0, ip: IPLocation = .none) {
        let ingress = tag.ingress
        var last = -1
        for p in 0..<portCount where p != ingress && service[p] && load.up[p] {
            if last >= 0 { copy(addr: addr, len: len, to: last, queue: queue, tag: tag, stamp: stamp, wait: wait, ip: ip) }
            last = p
        }
        if last >= 0 {
            enqueue(addr: addr, len: len, port: last, queue: queue, tag: tag, stamp: stamp, wait: wait, ip: ip)
        } else {
            _ = drop(addr, .noEgress, countedOn: ingress)
        }
    }

    @inline(__always) mutating func copy(addr: UInt64, len: UInt32, to port: Int, queue: Int, tag: ChargeTag, stamp: UInt64, wait: UInt32, ip: IPLocation) {
        guard let fresh = pool.allocate() else {
            counters[port].drops[.noBuffer] &+= 1
            return
        }
        // Keep the offset inside the frame (headroom) so the copy looks like the original.
        let target = fresh + (addr & (UInt64(pool.frameSize) &- 1))
        if pool.isChained(addr) {
            guard copyChain(from: addr, to: target) else {
                counters[port].drops[.noBuffer] &+= 1
                return
            }
        } else {
            memcpy(frames + Int(target), frames + Int(addr), Int(len))
        }
        counters[port].floodCopies &+= 1
        enqueue(addr: target, len: len, port: port, queue: queue, tag: tag, stamp: stamp, wait: wait, ip: ip)
    }

    /// Copies a jumbo frame's chain into `target` (a frame already taken) and as many more
    /// frames as it needs, at the same offsets; false (everything taken released) when the
    /// pool runs out part way.
    mutating func copyChain(from addr: UInt64, to target: UInt64) -> Bool {
        var src = addr, dst = target
        while true {
            let bytes = pool.segmentLength(src)
            memcpy(frames + Int(dst), frames + Int(src), Int(bytes))
            guard let nextSrc = pool.next(after: src) else {
                pool.link(dst, length: bytes, to: nil)
                return true
            }
            guard let fresh = pool.allocate() else {
                pool.link(dst, length: bytes, to: nil)
                pool.release(target)
                return false
            }
            let nextDst = fresh + (nextSrc & (UInt64(pool.frameSize) &- 1))
            pool.link(dst, length: bytes, to: nextDst)
            src = nextSrc
            dst = nextDst
        }
    }
}
