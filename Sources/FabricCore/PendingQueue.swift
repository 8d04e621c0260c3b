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
    @usableFromInline let since: UnsafeMutablePointer<UInt64>
    public var count = 0

    public init(capacity: Int = 256, timeout: UInt64 = 1_000_000_000) {
        self.capacity = capacity
        self.timeout = timeout
        addr = .allocate(capacity: capacity)
        len = .allocate(capacity: capacity)
        port = .allocate(capacity: capacity)
        nextHop = .allocate(capacity: capacity)
        since = .allocate(capacity: capacity)
    }

    deinit {
        addr.deallocate()
        len.deallocate()
        port.deallocate()
        nextHop.deallocate()
        since.deallocate()
    }

    /// Parks a frame; false when full.
    @inlinable public mutating func add(addr a: UInt64, len l: UInt32, port p: UInt16, nextHop n: UInt32, now: UInt64) -> Bool {
        guard count < capacity else { return false }
        addr[count] = a
        len[count] = l
        port[count] = p
        nextHop[count] = n
        since[count] = now
        count += 1
        return true
    }

    /// Removes (in order) every entry for which `take` returns true; keeps the rest in order.
    public mutating func remove(where take: (_ addr: UInt64, _ len: UInt32, _ port: Int, _ nextHop: UInt32, _ since: UInt64) -> Bool) {
        var kept = 0
        for i in 0..<count {
            if !take(addr[i], len[i], Int(port[i]), nextHop[i], since[i]) {
                addr[kept] = addr[i]
                len[kept] = len[i]
                port[kept] = port[i]
                nextHop[kept] = nextHop[i]
                since[kept] = since[i]
                kept += 1
            }
        }
        count = kept
    }
}
