import FabricPacket

/// Routed frames waiting for their next hop's MAC (ARP in flight): a small bounded array.
/// Released in arrival order when the neighbour is learned; dropped (counted as
/// `neighbourUnresolved`) after `timeout`. Scanned only on ARP events and housekeeping ticks.
public struct PendingQueue: ~Copyable {
    public let capacity: Int
    public let timeout: UInt64
    @usableFromInline let addr: UnsafeMutablePointer<UInt64>
    @usableFromInline let len: UnsafeMutablePointer<UInt32>
    @usableFromInline let port: UnsafeMutablePointer<UInt16>
    @usableFromInline let nextHop: UnsafeMutablePointer<UInt32>
    @usableFromInline let nextHop6: UnsafeMutablePointer<IPv6Address>
    @usableFromInline let isV6: UnsafeMutablePointer<Bool>
    @usableFromInline let since: UnsafeMutablePointer<UInt64>
    /// The frame's class, so it leaves as it would have: ingress port << 8 | PG << 4 | queue
    /// (without it, frames released after ARP all went out of queue 0, uncharged).
    @usableFromInline let meta: UnsafeMutablePointer<UInt32>
    public var count = 0

    public init(capacity: Int = 256, timeout: UInt64 = 1_000_000_000) {
        self.capacity = capacity
        self.timeout = timeout
        addr = .allocate(capacity: capacity)
        len = .allocate(capacity: capacity)
        port = .allocate(capacity: capacity)
        nextHop = .allocate(capacity: capacity)
        nextHop6 = .allocate(capacity: capacity)
        isV6 = .allocate(capacity: capacity)
        since = .allocate(capacity: capacity)
        meta = .allocate(capacity: capacity)
    }

    deinit {
        addr.deallocate()
        len.deallocate()
        port.deallocate()
        nextHop.deallocate()
        nextHop6.deallocate()
        isV6.deallocate()
        since.deallocate()
        meta.deallocate()
    }

    /// Parks a frame; false when full.
    @inlinable public mutating func add(addr a: UInt64, len l: UInt32, port p: UInt16, nextHop n: UInt32,
                                        nextHop6 n6: IPv6Address = IPv6Address(high: 0, low: 0), isV6 v6: Bool = false,
                                        queue: Int = 0, ingress: Int = -1, pg: Int = 0, now: UInt64) -> Bool {
        guard count < capacity else { return false }
        addr[count] = a
        len[count] = l
        port[count] = p
        nextHop[count] = n
        nextHop6[count] = n6
        isV6[count] = v6
        since[count] = now
        meta[count] = UInt32(truncatingIfNeeded: (ingress + 1) & 0xFFFF) << 8 | UInt32(pg & 7) << 4 | UInt32(queue & 7)
        count += 1
        return true
    }

    public struct Entry {
        public var addr: UInt64
        public var len: UInt32
        public var port: Int
        public var nextHop: UInt32
        public var nextHop6: IPv6Address
        public var isV6: Bool
        public var since: UInt64
        public var queue: Int
        /// -1: a frame the switch made.
        public var ingress: Int
        public var pg: Int
    }

    /// Removes (in order) every entry for which `take` returns true; keeps the rest in order.
    public mutating func remove(where take: (_ entry: Entry) -> Bool) {
        var kept = 0
        for i in 0..<count {
            let m = meta[i]
            let e = Entry(addr: addr[i], len: len[i], port: Int(port[i]), nextHop: nextHop[i], nextHop6: nextHop6[i], isV6: isV6[i], since: since[i],
                          queue: Int(m & 7), ingress: Int(m >> 8) - 1, pg: Int(m >> 4 & 7))
            if !take(e) {
                addr[kept] = addr[i]
                len[kept] = len[i]
                port[kept] = port[i]
                nextHop[kept] = nextHop[i]
                nextHop6[kept] = nextHop6[i]
                isV6[kept] = isV6[i]
                since[kept] = since[i]
                meta[kept] = meta[i]
                kept += 1
            }
        }
        count = kept
    }
}
